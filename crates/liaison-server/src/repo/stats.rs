//! What the work plan's figures are computed from: the referrals a channel's agencies received
//! in a period, and the events of theirs that both agencies see, sealed up to a sequence number.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect};

use super::entities::{case, case_event};
use super::{decode, Tx};
use crate::clock::{from_micros, to_micros};
use crate::error::AppResult;
use crate::model::{
    CaseId, Category, CategoryCode, ChannelId, DeadlineClock, EventKind, ExtensionReason,
    RefusalGround, RequestKind, Timestamp,
};

/// What a received referral is filed under: its category and kind (fixed at filing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filed {
    pub category: CategoryCode,
    pub kind: RequestKind,
}

/// What the figures read of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    pub case_id: CaseId,
    pub kind: EventKind,
    pub at: Timestamp,
    pub clock: Option<DeadlineClock>,
    pub due_at: Option<Timestamp>,
    pub ground: Option<RefusalGround>,
    pub extension_reason: Option<ExtensionReason>,
}

/// The events that make the figures; the rest (notes, markings, moves) leave them as they are.
const COUNTED: [EventKind; 15] = [
    EventKind::Filed,
    EventKind::Released,
    EventKind::Acknowledged,
    EventKind::Declined,
    EventKind::InformationRequested,
    EventKind::InformationProvided,
    EventKind::Closed,
    EventKind::Reopened,
    EventKind::Withdrawn,
    EventKind::Escalated,
    EventKind::PreservationConfirmed,
    EventKind::DueSoon,
    EventKind::Breached,
    EventKind::DeadlineExtended,
    EventKind::ItemAnswered,
];

/// The referrals the channel's receiving agencies received in `[from, until)`, and their
/// counted events that both agencies see and that were sealed at or before `upto`, each case's
/// in the order they were sealed.
pub async fn received(
    tx: &Tx,
    channel: &ChannelId,
    from: Timestamp,
    until: Timestamp,
    upto: i64,
) -> AppResult<(HashMap<CaseId, Filed>, Vec<Counted>)> {
    let in_period = |query: sea_orm::Select<case::Entity>| {
        query
            .filter(case::Column::ChannelId.eq(channel.as_str()))
            .filter(case::Column::ReleasedAt.gte(to_micros(from)))
            .filter(case::Column::ReleasedAt.lt(to_micros(until)))
    };
    let rows: Vec<(String, i16, Option<String>, i16)> = in_period(case::Entity::find())
        .select_only()
        .column(case::Column::Id)
        .column(case::Column::Category)
        .column(case::Column::CategoryCode)
        .column(case::Column::Kind)
        .into_tuple()
        .all(&tx.txn)
        .await?;
    let mut cases = HashMap::with_capacity(rows.len());
    for (id, category, code, kind) in rows {
        let category = match code.as_deref().and_then(CategoryCode::parse) {
            Some(code) => code,
            None => decode(category.into(), Category::from_code, "category")?.into(),
        };
        let kind = decode(kind.into(), RequestKind::from_code, "request kind")?;
        cases.insert(CaseId::from(id), Filed { category, kind });
    }
    // Only the columns the figures read: the texts (questions, answers, reasons) stay behind.
    type Row = (
        String,
        i16,
        i64,
        Option<i16>,
        Option<i64>,
        Option<i16>,
        Option<i16>,
    );
    let rows: Vec<Row> = case_event::Entity::find()
        .select_only()
        .column(case_event::Column::CaseId)
        .column(case_event::Column::Kind)
        .column(case_event::Column::At)
        .column(case_event::Column::Clock)
        .column(case_event::Column::DueAt)
        .column(case_event::Column::RefusalGround)
        .column(case_event::Column::ExtensionReason)
        .join(JoinType::InnerJoin, cohort())
        .filter(case::Column::ChannelId.eq(channel.as_str()))
        .filter(case::Column::ReleasedAt.gte(to_micros(from)))
        .filter(case::Column::ReleasedAt.lt(to_micros(until)))
        .filter(case_event::Column::Seq.lte(upto))
        .filter(case_event::Column::VisibleToAgencyId.is_null())
        .filter(case_event::Column::Kind.is_in(COUNTED.map(EventKind::code)))
        .order_by_asc(case_event::Column::CaseId)
        .order_by_asc(case_event::Column::Seq)
        .order_by_asc(case_event::Column::Id)
        .into_tuple()
        .all(&tx.txn)
        .await?;
    let mut events = Vec::with_capacity(rows.len());
    let mut case_id = CaseId::from("");
    for (id, kind, at, clock, due_at, ground, extension) in rows {
        // Rows come case by case: one id a case.
        if case_id.as_str() != id {
            case_id = CaseId::from(id);
        }
        events.push(Counted {
            case_id: case_id.clone(),
            kind: decode(kind.into(), EventKind::from_code, "event kind")?,
            at: from_micros(at),
            clock: clock
                .map(|c| decode(c.into(), DeadlineClock::from_code, "deadline clock"))
                .transpose()?,
            due_at: due_at.map(from_micros),
            ground: super::cases::ground(ground)?,
            extension_reason: extension
                .map(|r| decode(r.into(), ExtensionReason::from_code, "extension reason"))
                .transpose()?,
        });
    }
    Ok((cases, events))
}

/// An event's case, for filtering events by their case's channel and receipt.
fn cohort() -> sea_orm::RelationDef {
    case_event::Entity::belongs_to(case::Entity)
        .from(case_event::Column::CaseId)
        .to(case::Column::Id)
        .into()
}
