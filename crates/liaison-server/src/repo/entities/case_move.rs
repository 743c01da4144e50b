use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "case_moves")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub case_id: String,
    pub action: i16,
    pub agency_id: String,
    pub requested_by: String,
    pub requested_at: i64,
    pub expires_at: i64,
    pub status: i16,
    pub reason: Option<String>,
    pub refusal_ground: Option<i16>,
    pub handling: Option<i16>,
    pub handling_conditions: Option<String>,
    pub source_reliability: Option<i16>,
    pub information_accuracy: Option<i16>,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub decision_reason: Option<String>,
    pub case_version: Option<i64>,
    pub note_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
