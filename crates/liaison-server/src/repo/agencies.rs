//! Agencies.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::entities::agency;
use super::{Tx, UniqueExt};
use crate::clock::to_micros;
use crate::error::{AppError, AppResult};
use crate::model::{Agency, AgencyId, Timestamp};

impl From<agency::Model> for Agency {
    fn from(row: agency::Model) -> Self {
        Agency {
            id: row.id.into(),
            code: row.code,
            name: row.name,
            country: row.country,
            time_zone: row.time_zone,
            // Written only by `holidays_json`: what does not read is no holiday.
            holidays: row
                .holidays
                .and_then(|json| serde_json::from_str(&json).ok())
                .unwrap_or_default(),
        }
    }
}

pub(super) fn holidays_json(holidays: &[chrono::NaiveDate]) -> Option<String> {
    (!holidays.is_empty())
        .then(|| serde_json::to_string(holidays).ok())
        .flatten()
}

pub async fn insert(tx: &Tx, agency: &Agency, now: Timestamp) -> AppResult<()> {
    agency::ActiveModel {
        id: Set(agency.id.to_string()),
        code: Set(agency.code.clone()),
        name: Set(agency.name.clone()),
        country: Set(agency.country.clone()),
        created_at: Set(to_micros(now)),
        time_zone: Set(agency.time_zone.clone()),
        holidays: Set(holidays_json(&agency.holidays)),
    }
    .insert(&tx.txn)
    .await
    .on_unique(|| AppError::AlreadyExists(format!("agency code {} is taken", agency.code)))?;
    Ok(())
}

pub async fn find(tx: &Tx, id: &AgencyId) -> AppResult<Option<Agency>> {
    Ok(agency::Entity::find_by_id(id.as_str())
        .one(&tx.txn)
        .await?
        .map(Agency::from))
}

pub async fn find_by_code(tx: &Tx, code: &str) -> AppResult<Option<Agency>> {
    Ok(agency::Entity::find()
        .filter(agency::Column::Code.eq(code))
        .one(&tx.txn)
        .await?
        .map(Agency::from))
}

pub async fn list(tx: &Tx) -> AppResult<Vec<Agency>> {
    Ok(agency::Entity::find()
        .order_by_asc(agency::Column::Code)
        .all(&tx.txn)
        .await?
        .into_iter()
        .map(Agency::from)
        .collect())
}

/// Writes an agency's time zone and holidays.
pub async fn update_calendar(tx: &Tx, agency: &Agency) -> AppResult<()> {
    agency::Entity::update_many()
        .col_expr(
            agency::Column::TimeZone,
            Expr::value(agency.time_zone.clone()),
        )
        .col_expr(
            agency::Column::Holidays,
            Expr::value(holidays_json(&agency.holidays)),
        )
        .filter(agency::Column::Id.eq(agency.id.as_str()))
        .exec(&tx.txn)
        .await?;
    Ok(())
}
