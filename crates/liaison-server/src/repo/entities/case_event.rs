use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "case_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub case_id: String,
    pub kind: i16,
    pub actor_id: String,
    pub actor_agency_id: String,
    pub at: i64,
    pub from_status: Option<i16>,
    pub to_status: Option<i16>,
    pub reason: Option<String>,
    pub assignee_id: Option<String>,
    pub resolution: Option<i16>,
    pub note_id: Option<String>,
    pub visible_to_agency_id: Option<String>,
    /// The audit sequence number of the call that recorded the event.
    pub seq: Option<i64>,
    /// The intake record of that call, until the sealer stamps `seq`.
    pub audit_intake_id: Option<i64>,
    /// For MARKINGS_CHANGED: the markings set.
    pub handling: Option<i16>,
    pub handling_conditions: Option<String>,
    pub source_reliability: Option<i16>,
    pub information_accuracy: Option<i16>,
    /// For DECLINED: the ground stated.
    pub refusal_ground: Option<i16>,
    /// For PRESERVATION_CONFIRMED and PRESERVATION_EXTENDED.
    pub preserved_until: Option<i64>,
    /// For the events of a move under four eyes.
    pub move_id: Option<String>,
    /// For ITEM_ANSWERED.
    pub item_number: Option<i32>,
    /// The deadline the event concerns, the deadline after it, an extension's reason.
    pub clock: Option<i16>,
    pub due_at: Option<i64>,
    pub extension_reason: Option<i16>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
