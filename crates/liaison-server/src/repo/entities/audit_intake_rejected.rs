use sea_orm::entity::prelude::*;

/// An intake record the sealer refused (its MAC did not check), with why.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_intake_rejected")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub intake_id: i64,
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
    pub refusals: Option<i64>,
    pub first_refused_at: Option<i64>,
    /// The handling code in force on what the call read or changed.
    pub handling: Option<i16>,
    pub mac: String,
    pub reason: String,
    pub rejected_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
