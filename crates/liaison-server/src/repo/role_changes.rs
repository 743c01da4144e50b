//! Role changes awaiting, or past, a second admin's decision.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::entities::role_change;
use super::{decode, Tx};
use crate::authz::AgencyAdmin;
use crate::clock::{from_micros, to_micros};
use crate::error::{AppError, AppResult};
use crate::model::{RoleChange, RoleChangeStatus, Roles, Timestamp, UserId};

impl TryFrom<role_change::Model> for RoleChange {
    type Error = AppError;

    fn try_from(row: role_change::Model) -> AppResult<Self> {
        Ok(RoleChange {
            status: decode(
                row.status.into(),
                RoleChangeStatus::from_code,
                "role change status",
            )?,
            id: row.id,
            agency_id: row.agency_id.into(),
            user_id: row.user_id.into(),
            roles_before: Roles::from_bits(row.roles_before),
            roles_after: Roles::from_bits(row.roles_after),
            reason: row.reason,
            requested_by: row.requested_by.into(),
            requested_at: from_micros(row.requested_at),
            expires_at: from_micros(row.expires_at),
            decided_by: row.decided_by.map(UserId::from),
            decided_at: row.decided_at.map(from_micros),
            decision_reason: row.decision_reason,
        })
    }
}

pub async fn insert(tx: &Tx, change: &RoleChange) -> AppResult<()> {
    role_change::ActiveModel {
        id: Set(change.id.clone()),
        agency_id: Set(change.agency_id.to_string()),
        user_id: Set(change.user_id.to_string()),
        roles_before: Set(change.roles_before.bits()),
        roles_after: Set(change.roles_after.bits()),
        reason: Set(change.reason.clone()),
        requested_by: Set(change.requested_by.to_string()),
        requested_at: Set(to_micros(change.requested_at)),
        expires_at: Set(to_micros(change.expires_at)),
        status: Set(change.status.code()),
        decided_by: Set(change.decided_by.clone().map(String::from)),
        decided_at: Set(change.decided_at.map(to_micros)),
        decision_reason: Set(change.decision_reason.clone()),
    }
    .insert(&tx.txn)
    .await?;
    Ok(())
}

/// A role change of the admin's agency; any other is answered as missing.
pub async fn find_managed(tx: &Tx, admin: &AgencyAdmin, id: &str) -> AppResult<Option<RoleChange>> {
    role_change::Entity::find_by_id(id)
        .filter(role_change::Column::AgencyId.eq(admin.agency_id().as_str()))
        .one(&tx.txn)
        .await?
        .map(RoleChange::try_from)
        .transpose()
}

/// The user's role change still waiting for a decision at `now`, if any.
pub async fn pending_for(
    tx: &Tx,
    user_id: &UserId,
    now: Timestamp,
) -> AppResult<Option<RoleChange>> {
    role_change::Entity::find()
        .filter(role_change::Column::UserId.eq(user_id.as_str()))
        .filter(role_change::Column::Status.eq(RoleChangeStatus::Pending.code()))
        .filter(role_change::Column::ExpiresAt.gt(to_micros(now)))
        .one(&tx.txn)
        .await?
        .map(RoleChange::try_from)
        .transpose()
}

/// The admin's agency's role changes, newest first, at most `limit`; only those still waiting at
/// `now` unless `include_decided`.
pub async fn list_managed(
    tx: &Tx,
    admin: &AgencyAdmin,
    include_decided: bool,
    now: Timestamp,
    limit: u64,
) -> AppResult<Vec<RoleChange>> {
    let mut query = role_change::Entity::find()
        .filter(role_change::Column::AgencyId.eq(admin.agency_id().as_str()));
    if !include_decided {
        query = query
            .filter(role_change::Column::Status.eq(RoleChangeStatus::Pending.code()))
            .filter(role_change::Column::ExpiresAt.gt(to_micros(now)));
    }
    query
        .order_by_desc(role_change::Column::RequestedAt)
        .order_by_desc(role_change::Column::Id)
        .limit(limit)
        .all(&tx.txn)
        .await?
        .into_iter()
        .map(RoleChange::try_from)
        .collect()
}

/// Records the decision on a change still PENDING; false when it was decided meanwhile.
pub async fn decide(tx: &Tx, change: &RoleChange) -> AppResult<bool> {
    let result = role_change::Entity::update_many()
        .col_expr(
            role_change::Column::Status,
            Expr::value(change.status.code()),
        )
        .col_expr(
            role_change::Column::DecidedBy,
            Expr::value(change.decided_by.clone().map(String::from)),
        )
        .col_expr(
            role_change::Column::DecidedAt,
            Expr::value(change.decided_at.map(to_micros)),
        )
        .col_expr(
            role_change::Column::DecisionReason,
            Expr::value(change.decision_reason.clone()),
        )
        .filter(role_change::Column::Id.eq(change.id.as_str()))
        .filter(role_change::Column::Status.eq(RoleChangeStatus::Pending.code()))
        .exec(&tx.txn)
        .await?;
    Ok(result.rows_affected == 1)
}
