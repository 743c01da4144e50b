use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "channels")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub proposing_agency_id: String,
    pub partner_agency_id: String,
    pub low_agency_id: String,
    pub high_agency_id: String,
    pub categories: i32,
    pub status: i16,
    pub proposed_by: String,
    pub approved_by: Option<String>,
    pub suspended_by_agency_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
