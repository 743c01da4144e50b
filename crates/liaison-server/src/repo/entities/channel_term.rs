use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "channel_terms")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub channel_id: String,
    pub kind: i16,
    pub code: String,
    pub title: String,
    pub reference: Option<String>,
    pub notes: Option<String>,
    pub status: i16,
    pub proposing_agency_id: String,
    pub proposed_by: String,
    pub proposed_at: i64,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub decision_reason: Option<String>,
    pub retired_by: Option<String>,
    pub retired_at: Option<i64>,
    pub retirement_reason: Option<String>,
    /// A DEADLINE's window, in microseconds, or DUE_SOON's share of one.
    pub span_micros: Option<i64>,
    pub percent: Option<i16>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
