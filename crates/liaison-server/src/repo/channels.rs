//! Channels between two agencies.

use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::entities::channel;
use super::{decode, Tx, UniqueExt};
use crate::clock::{from_micros, to_micros};
use crate::error::{AppError, AppResult};
use crate::model::{AgencyId, Categories, Channel, ChannelId, ChannelStatus, UserId};

impl TryFrom<channel::Model> for Channel {
    type Error = AppError;

    fn try_from(row: channel::Model) -> AppResult<Self> {
        Ok(Channel {
            status: decode(
                row.status.into(),
                ChannelStatus::from_code,
                "channel status",
            )?,
            id: row.id.into(),
            proposing_agency_id: row.proposing_agency_id.into(),
            partner_agency_id: row.partner_agency_id.into(),
            categories: Categories::from_bits(row.categories),
            proposed_by: row.proposed_by.into(),
            approved_by: row.approved_by.map(UserId::from),
            suspended_by_agency_id: row.suspended_by_agency_id.map(AgencyId::from),
            created_at: from_micros(row.created_at),
            updated_at: from_micros(row.updated_at),
            version: row.version,
        })
    }
}

pub async fn insert(tx: &Tx, channel: &Channel) -> AppResult<()> {
    let (low, high) = if channel.proposing_agency_id < channel.partner_agency_id {
        (&channel.proposing_agency_id, &channel.partner_agency_id)
    } else {
        (&channel.partner_agency_id, &channel.proposing_agency_id)
    };
    channel::ActiveModel {
        id: Set(channel.id.to_string()),
        proposing_agency_id: Set(channel.proposing_agency_id.to_string()),
        partner_agency_id: Set(channel.partner_agency_id.to_string()),
        low_agency_id: Set(low.to_string()),
        high_agency_id: Set(high.to_string()),
        categories: Set(channel.categories.bits()),
        status: Set(channel.status.code()),
        proposed_by: Set(channel.proposed_by.to_string()),
        approved_by: Set(channel.approved_by.clone().map(String::from)),
        suspended_by_agency_id: Set(channel.suspended_by_agency_id.clone().map(String::from)),
        created_at: Set(to_micros(channel.created_at)),
        updated_at: Set(to_micros(channel.updated_at)),
        version: Set(channel.version),
    }
    .insert(&tx.txn)
    .await
    .on_unique(|| {
        AppError::AlreadyExists("a channel between these two agencies already exists".into())
    })?;
    Ok(())
}

pub async fn find(tx: &Tx, id: &ChannelId) -> AppResult<Option<Channel>> {
    channel::Entity::find_by_id(id.as_str())
        .one(&tx.txn)
        .await?
        .map(Channel::try_from)
        .transpose()
}

pub async fn list_for_agency(
    tx: &Tx,
    agency_id: &AgencyId,
    status: Option<ChannelStatus>,
) -> AppResult<Vec<Channel>> {
    let mut query = channel::Entity::find().filter(
        Condition::any()
            .add(channel::Column::ProposingAgencyId.eq(agency_id.as_str()))
            .add(channel::Column::PartnerAgencyId.eq(agency_id.as_str())),
    );
    if let Some(status) = status {
        query = query.filter(channel::Column::Status.eq(status.code()));
    }
    query
        .order_by_asc(channel::Column::CreatedAt)
        .order_by_asc(channel::Column::Id)
        .all(&tx.txn)
        .await?
        .into_iter()
        .map(Channel::try_from)
        .collect()
}

/// Writes the channel's status and approver if it is still at `expected_version`; false otherwise.
pub async fn update(tx: &Tx, channel: &Channel, expected_version: i64) -> AppResult<bool> {
    let result = channel::Entity::update_many()
        .col_expr(channel::Column::Status, Expr::value(channel.status.code()))
        .col_expr(
            channel::Column::ApprovedBy,
            Expr::value(channel.approved_by.clone().map(String::from)),
        )
        .col_expr(
            channel::Column::SuspendedByAgencyId,
            Expr::value(channel.suspended_by_agency_id.clone().map(String::from)),
        )
        .col_expr(
            channel::Column::UpdatedAt,
            Expr::value(to_micros(channel.updated_at)),
        )
        .col_expr(channel::Column::Version, Expr::value(channel.version))
        .filter(channel::Column::Id.eq(channel.id.as_str()))
        .filter(channel::Column::Version.eq(expected_version))
        .exec(&tx.txn)
        .await?;
    Ok(result.rows_affected == 1)
}
