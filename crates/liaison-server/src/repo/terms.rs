//! The terms of channels' registers.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::entities::channel_term;
use super::{decode, Tx, UniqueExt};
use crate::clock::{from_micros, to_micros};
use crate::error::{AppError, AppResult};
use crate::model::{ChannelId, ChannelTerm, Decided, TermId, TermKind, TermStatus, UserId};

fn decided(by: Option<String>, at: Option<i64>, reason: Option<String>) -> Option<Decided> {
    Some(Decided {
        by: UserId::from(by?),
        at: from_micros(at?),
        reason,
    })
}

impl TryFrom<channel_term::Model> for ChannelTerm {
    type Error = AppError;

    fn try_from(row: channel_term::Model) -> AppResult<Self> {
        Ok(ChannelTerm {
            kind: decode(row.kind.into(), TermKind::from_code, "term kind")?,
            status: decode(row.status.into(), TermStatus::from_code, "term status")?,
            id: row.id.into(),
            channel_id: row.channel_id.into(),
            code: row.code,
            title: row.title,
            reference: row.reference,
            notes: row.notes,
            proposing_agency_id: row.proposing_agency_id.into(),
            proposed_by: row.proposed_by.into(),
            proposed_at: from_micros(row.proposed_at),
            decision: decided(row.decided_by, row.decided_at, row.decision_reason),
            retirement: decided(row.retired_by, row.retired_at, row.retirement_reason),
            span: row.span_micros.map(chrono::Duration::microseconds),
            percent: row.percent,
        })
    }
}

/// Inserts a proposed term; `AlreadyExists` when the channel has a live term of its kind and code.
pub async fn insert(tx: &Tx, term: &ChannelTerm) -> AppResult<()> {
    let decision = term.decision.as_ref();
    let retirement = term.retirement.as_ref();
    channel_term::ActiveModel {
        id: Set(term.id.to_string()),
        channel_id: Set(term.channel_id.to_string()),
        kind: Set(term.kind.code()),
        code: Set(term.code.clone()),
        title: Set(term.title.clone()),
        reference: Set(term.reference.clone()),
        notes: Set(term.notes.clone()),
        status: Set(term.status.code()),
        proposing_agency_id: Set(term.proposing_agency_id.to_string()),
        proposed_by: Set(term.proposed_by.to_string()),
        proposed_at: Set(to_micros(term.proposed_at)),
        decided_by: Set(decision.map(|d| d.by.to_string())),
        decided_at: Set(decision.map(|d| to_micros(d.at))),
        decision_reason: Set(decision.and_then(|d| d.reason.clone())),
        retired_by: Set(retirement.map(|d| d.by.to_string())),
        retired_at: Set(retirement.map(|d| to_micros(d.at))),
        retirement_reason: Set(retirement.and_then(|d| d.reason.clone())),
        span_micros: Set(term.span.and_then(|s| s.num_microseconds())),
        percent: Set(term.percent),
    }
    .insert(&tx.txn)
    .await
    .on_unique(|| {
        AppError::AlreadyExists(format!(
            "the channel already has a proposed {} with the code {}",
            term.kind, term.code
        ))
    })?;
    Ok(())
}

pub async fn find(tx: &Tx, id: &TermId) -> AppResult<Option<ChannelTerm>> {
    channel_term::Entity::find_by_id(id.as_str())
        .one(&tx.txn)
        .await?
        .map(ChannelTerm::try_from)
        .transpose()
}

/// The channel's term of `kind` and `code` in `status`, if it has one (a code has at most one
/// proposed and one agreed).
pub async fn find_live(
    tx: &Tx,
    channel_id: &ChannelId,
    kind: TermKind,
    code: &str,
    status: TermStatus,
) -> AppResult<Option<ChannelTerm>> {
    channel_term::Entity::find()
        .filter(channel_term::Column::ChannelId.eq(channel_id.as_str()))
        .filter(channel_term::Column::Kind.eq(kind.code()))
        .filter(channel_term::Column::Code.eq(code))
        .filter(channel_term::Column::Status.eq(status.code()))
        .one(&tx.txn)
        .await?
        .map(ChannelTerm::try_from)
        .transpose()
}

/// A channel's terms, oldest first (those of one moment by code): of one kind or all, in force
/// or all.
pub async fn list(
    tx: &Tx,
    channel_id: &ChannelId,
    kind: Option<TermKind>,
    in_force_only: bool,
) -> AppResult<Vec<ChannelTerm>> {
    let mut query = channel_term::Entity::find()
        .filter(channel_term::Column::ChannelId.eq(channel_id.as_str()));
    if let Some(kind) = kind {
        query = query.filter(channel_term::Column::Kind.eq(kind.code()));
    }
    if in_force_only {
        query = query.filter(channel_term::Column::Status.eq(TermStatus::Agreed.code()));
    }
    query
        .order_by_asc(channel_term::Column::ProposedAt)
        .order_by_asc(channel_term::Column::Code)
        .order_by_asc(channel_term::Column::Id)
        .all(&tx.txn)
        .await?
        .into_iter()
        .map(ChannelTerm::try_from)
        .collect()
}

/// Writes a term's new status with its decision and retirement, if it is still in `from`; false
/// when someone moved it meanwhile.
pub async fn update_status(tx: &Tx, term: &ChannelTerm, from: TermStatus) -> AppResult<bool> {
    let decision = term.decision.as_ref();
    let retirement = term.retirement.as_ref();
    let result = channel_term::Entity::update_many()
        .col_expr(
            channel_term::Column::Status,
            Expr::value(term.status.code()),
        )
        .col_expr(
            channel_term::Column::DecidedBy,
            Expr::value(decision.map(|d| d.by.to_string())),
        )
        .col_expr(
            channel_term::Column::DecidedAt,
            Expr::value(decision.map(|d| to_micros(d.at))),
        )
        .col_expr(
            channel_term::Column::DecisionReason,
            Expr::value(decision.and_then(|d| d.reason.clone())),
        )
        .col_expr(
            channel_term::Column::RetiredBy,
            Expr::value(retirement.map(|d| d.by.to_string())),
        )
        .col_expr(
            channel_term::Column::RetiredAt,
            Expr::value(retirement.map(|d| to_micros(d.at))),
        )
        .col_expr(
            channel_term::Column::RetirementReason,
            Expr::value(retirement.and_then(|d| d.reason.clone())),
        )
        .filter(channel_term::Column::Id.eq(term.id.as_str()))
        .filter(channel_term::Column::Status.eq(from.code()))
        .exec(&tx.txn)
        .await?;
    Ok(result.rows_affected == 1)
}
