use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "case_notes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub case_id: String,
    pub author_id: String,
    pub author_agency_id: String,
    pub visibility: i16,
    pub body: String,
    pub created_at: i64,
    pub handling: i16,
    pub handling_conditions: Option<String>,
    pub source_reliability: i16,
    pub information_accuracy: i16,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
