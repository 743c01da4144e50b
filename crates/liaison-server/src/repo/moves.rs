//! Moves proposed for a second supervisor's approval.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::cases::{ground, markings};
use super::entities::case_move;
use super::{decode, Tx, UniqueExt};
use crate::clock::{from_micros, to_micros};
use crate::error::{AppError, AppResult};
use crate::model::{
    AgencyId, CaseId, CaseMove, Decided, MoveAction, MoveId, MoveStatus, NoteId, RefusalGround,
    Timestamp, UserId,
};

impl TryFrom<case_move::Model> for CaseMove {
    type Error = AppError;

    fn try_from(row: case_move::Model) -> AppResult<Self> {
        Ok(CaseMove {
            action: decode(row.action.into(), MoveAction::from_code, "move action")?,
            status: decode(row.status.into(), MoveStatus::from_code, "move status")?,
            ground: ground(row.refusal_ground)?,
            markings: match (
                row.handling,
                row.source_reliability,
                row.information_accuracy,
            ) {
                (Some(handling), Some(reliability), Some(accuracy)) => Some(markings(
                    handling,
                    row.handling_conditions,
                    reliability,
                    accuracy,
                )?),
                _ => None,
            },
            decision: match (row.decided_by, row.decided_at) {
                (Some(by), Some(at)) => Some(Decided {
                    by: UserId::from(by),
                    at: from_micros(at),
                    reason: row.decision_reason,
                }),
                _ => None,
            },
            id: row.id.into(),
            case_id: row.case_id.into(),
            agency_id: row.agency_id.into(),
            requested_by: row.requested_by.into(),
            requested_at: from_micros(row.requested_at),
            expires_at: from_micros(row.expires_at),
            reason: row.reason,
            case_version: row.case_version,
            note_id: row.note_id.map(NoteId::from),
        })
    }
}

pub async fn insert(tx: &Tx, m: &CaseMove) -> AppResult<()> {
    let marks = m.markings.as_ref();
    case_move::ActiveModel {
        id: Set(m.id.to_string()),
        case_id: Set(m.case_id.to_string()),
        action: Set(m.action.code()),
        agency_id: Set(m.agency_id.to_string()),
        requested_by: Set(m.requested_by.to_string()),
        requested_at: Set(to_micros(m.requested_at)),
        expires_at: Set(to_micros(m.expires_at)),
        status: Set(m.status.code()),
        reason: Set(m.reason.clone()),
        refusal_ground: Set(m.ground.map(RefusalGround::code)),
        handling: Set(marks.map(|k| k.handling.code())),
        handling_conditions: Set(marks.and_then(|k| k.handling_conditions.clone())),
        source_reliability: Set(marks.map(|k| k.source_reliability.code())),
        information_accuracy: Set(marks.map(|k| k.information_accuracy.code())),
        decided_by: Set(None),
        decided_at: Set(None),
        decision_reason: Set(None),
        case_version: Set(m.case_version),
        note_id: Set(m.note_id.clone().map(String::from)),
    }
    .insert(&tx.txn)
    .await
    .on_unique(|| {
        AppError::FailedPrecondition(format!(
            "a {} of this case already awaits a decision: approve or reject it first",
            m.action
        ))
    })?;
    Ok(())
}

/// Marks EXPIRED the case's moves of `action` that lapsed unanswered by `now`, so that another
/// may wait in their place (of any note: a lapsed move is over, whatever it was about).
pub async fn expire_lapsed(
    tx: &Tx,
    case_id: &CaseId,
    action: MoveAction,
    now: Timestamp,
) -> AppResult<()> {
    case_move::Entity::update_many()
        .col_expr(
            case_move::Column::Status,
            Expr::value(MoveStatus::Expired.code()),
        )
        .filter(case_move::Column::CaseId.eq(case_id.as_str()))
        .filter(case_move::Column::Action.eq(action.code()))
        .filter(case_move::Column::Status.eq(MoveStatus::Pending.code()))
        .filter(case_move::Column::ExpiresAt.lte(to_micros(now)))
        .exec(&tx.txn)
        .await?;
    Ok(())
}

/// A move of `agency_id`'s; any other agency's is answered as missing.
pub async fn find_of_agency(
    tx: &Tx,
    agency_id: &AgencyId,
    id: &MoveId,
) -> AppResult<Option<CaseMove>> {
    case_move::Entity::find_by_id(id.as_str())
        .filter(case_move::Column::AgencyId.eq(agency_id.as_str()))
        .one(&tx.txn)
        .await?
        .map(CaseMove::try_from)
        .transpose()
}

/// The case's move of `action` (on `note_id`, for a note's) still waiting for a decision at
/// `now`, if any.
pub async fn pending_for(
    tx: &Tx,
    case_id: &CaseId,
    action: MoveAction,
    note_id: Option<&NoteId>,
    now: Timestamp,
) -> AppResult<Option<CaseMove>> {
    let note = match note_id {
        Some(id) => case_move::Column::NoteId.eq(id.as_str()),
        None => case_move::Column::NoteId.is_null(),
    };
    case_move::Entity::find()
        .filter(case_move::Column::CaseId.eq(case_id.as_str()))
        .filter(case_move::Column::Action.eq(action.code()))
        .filter(note)
        .filter(case_move::Column::Status.eq(MoveStatus::Pending.code()))
        .filter(case_move::Column::ExpiresAt.gt(to_micros(now)))
        .one(&tx.txn)
        .await?
        .map(CaseMove::try_from)
        .transpose()
}

/// Which of an agency's moves a listing wants.
#[derive(Debug, Clone, Default)]
pub struct MoveQuery {
    pub case_id: Option<CaseId>,
    pub requested_by: Option<UserId>,
    /// Leave out the moves this user proposed.
    pub not_requested_by: Option<UserId>,
    /// Only those still waiting at this time.
    pub pending_at: Option<Timestamp>,
    pub limit: u64,
}

/// An agency's moves, newest first.
pub async fn list(tx: &Tx, agency_id: &AgencyId, q: &MoveQuery) -> AppResult<Vec<CaseMove>> {
    use case_move::Column;
    let mut query = case_move::Entity::find().filter(Column::AgencyId.eq(agency_id.as_str()));
    if let Some(case_id) = &q.case_id {
        query = query.filter(Column::CaseId.eq(case_id.as_str()));
    }
    if let Some(user) = &q.requested_by {
        query = query.filter(Column::RequestedBy.eq(user.as_str()));
    }
    if let Some(user) = &q.not_requested_by {
        query = query.filter(Column::RequestedBy.ne(user.as_str()));
    }
    if let Some(now) = q.pending_at {
        query = query
            .filter(Column::Status.eq(MoveStatus::Pending.code()))
            .filter(Column::ExpiresAt.gt(to_micros(now)));
    }
    query
        .order_by_desc(Column::RequestedAt)
        .order_by_desc(Column::Id)
        .limit(q.limit)
        .all(&tx.txn)
        .await?
        .into_iter()
        .map(CaseMove::try_from)
        .collect()
}

/// Records the decision on a move still PENDING; false when it was decided meanwhile.
pub async fn decide(tx: &Tx, m: &CaseMove) -> AppResult<bool> {
    let decision = m.decision.as_ref();
    let result = case_move::Entity::update_many()
        .col_expr(case_move::Column::Status, Expr::value(m.status.code()))
        .col_expr(
            case_move::Column::DecidedBy,
            Expr::value(decision.map(|d| d.by.to_string())),
        )
        .col_expr(
            case_move::Column::DecidedAt,
            Expr::value(decision.map(|d| to_micros(d.at))),
        )
        .col_expr(
            case_move::Column::DecisionReason,
            Expr::value(decision.and_then(|d| d.reason.clone())),
        )
        .filter(case_move::Column::Id.eq(m.id.as_str()))
        .filter(case_move::Column::Status.eq(MoveStatus::Pending.code()))
        .exec(&tx.txn)
        .await?;
    Ok(result.rows_affected == 1)
}
