use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cases")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub reference: String,
    pub channel_id: String,
    pub category: i16,
    pub priority: i16,
    pub title: String,
    pub summary: String,
    pub originating_agency_id: String,
    pub receiving_agency_id: String,
    pub filed_by: String,
    pub assignee_id: Option<String>,
    pub status: i16,
    pub resolution: Option<i16>,
    pub filed_at: i64,
    pub updated_at: i64,
    pub acknowledged_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub acknowledge_due_at: i64,
    pub version: i64,
    pub request_id: String,
    pub escalated_at: Option<i64>,
    pub handling: i16,
    pub handling_conditions: Option<String>,
    pub source_reliability: i16,
    pub information_accuracy: i16,
    pub kind: i16,
    pub decline_ground: Option<i16>,
    pub preservation_data: Option<String>,
    pub preservation_custodian: Option<String>,
    pub preservation_offence: Option<String>,
    pub preservation_necessity: Option<String>,
    pub preservation_formal_request: Option<String>,
    pub preservation_status: Option<i16>,
    pub preserved_until: Option<i64>,
    pub preservation_superseded_by: Option<String>,
    pub legal_basis_id: Option<String>,
    /// A request's numbered items and their answers, as JSON (see `repo::cases::ItemRow`).
    pub request_items: Option<String>,
    pub released_at: Option<i64>,
    /// The category's code; the numeric `category` keeps the founding three's (0 for others).
    pub category_code: Option<String>,
    /// The acknowledgement's window in microseconds (none before clocks: the priority's).
    pub acknowledge_within: Option<i64>,
    /// When the acknowledgement becomes DUE_SOON; and when that was recorded.
    pub acknowledge_warn_at: Option<i64>,
    pub acknowledge_due_soon_at: Option<i64>,
    pub due_soon_percent: Option<i16>,
    /// The answer's clock (see `model::ResponseClock`): its window, set for cases that run one.
    pub response_within: Option<i64>,
    pub response_due_at: Option<i64>,
    /// When the answer becomes DUE_SOON; set exactly while the clock runs.
    pub response_warn_at: Option<i64>,
    pub response_paused_since: Option<i64>,
    pub response_paused: i64,
    pub response_stopped_at: Option<i64>,
    /// The extensions, as JSON (see `repo::cases::ExtensionRow`).
    pub response_extensions: Option<String>,
    /// When DUE_SOON and BREACHED were recorded for the answer.
    pub response_due_soon_at: Option<i64>,
    pub response_breached_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
