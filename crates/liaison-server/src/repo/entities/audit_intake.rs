use sea_orm::entity::prelude::*;

/// A call's audit record waiting for the sealer.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_intake")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: i64,
    pub actor_id: Option<String>,
    pub actor_username: Option<String>,
    pub actor_agency_id: Option<String>,
    pub actor_roles: i32,
    pub method: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub case_id: Option<String>,
    pub case_originating_agency_id: Option<String>,
    pub case_receiving_agency_id: Option<String>,
    pub outcome: i16,
    pub status_code: i32,
    pub request_id: String,
    pub peer: Option<String>,
    pub event: Option<String>,
    /// A refusal summary's count, and its first refusal's time.
    pub refusals: Option<i64>,
    pub first_refused_at: Option<i64>,
    /// The handling code in force on what the call read or changed.
    pub handling: Option<i16>,
    /// The service's MAC over the record (see `chain::intake_digest`).
    pub mac: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
