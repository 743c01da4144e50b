//! Cases, their notes and events, and the queue queries.

use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};

use super::entities::{case, case_event, case_note};
use super::{decode, Tx, UniqueExt};
use crate::authz::{CaseParty, CasePermit, CaseScope, Service, Unchecked};
use crate::clock::{from_micros, to_micros};
use crate::error::{AppError, AppResult};
use crate::model::{
    AgencyId, Case, CaseEvent, CaseId, CaseOrder, CaseStatus, CaseView, Category, CategoryCode,
    DeadlineClock, DeadlineExtension, DeadlineMarks, EventKind, ExtensionReason, Handling,
    InformationAccuracy, ItemAnswer, ItemOutcome, Markings, MoveId, Note, NoteId, NoteVisibility,
    Preservation, PreservationOrder, PreservationStatus, Priority, RefusalGround, RequestItem,
    RequestKind, Resolution, ResponseClock, SourceReliability, TermId, Timestamp, UserId,
    DUE_SOON_PERCENT,
};

impl TryFrom<case::Model> for Case {
    type Error = AppError;

    fn try_from(row: case::Model) -> AppResult<Self> {
        let priority = decode(row.priority.into(), Priority::from_code, "priority")?;
        let response = match row.response_within {
            None => None,
            Some(window) => Some(ResponseClock {
                window: chrono::Duration::microseconds(window),
                due_at: row.response_due_at.map(from_micros),
                paused_since: row.response_paused_since.map(from_micros),
                paused: chrono::Duration::microseconds(row.response_paused),
                stopped_at: row.response_stopped_at.map(from_micros),
                extensions: extensions_from_json(row.response_extensions.as_deref())?,
            }),
        };
        Ok(Case {
            marks: DeadlineMarks {
                escalated: row.escalated_at.is_some(),
                response_breached: row.response_breached_at.is_some(),
            },
            acknowledge_within: row.acknowledge_within.map_or(
                priority.acknowledge_within(),
                chrono::Duration::microseconds,
            ),
            due_soon_percent: row.due_soon_percent.unwrap_or(DUE_SOON_PERCENT),
            response,
            category: match row.category_code.as_deref() {
                Some(code) => CategoryCode::parse(code)
                    .ok_or_else(|| AppError::internal(format!("unknown category code {code}")))?,
                None => decode(row.category.into(), Category::from_code, "category")?.into(),
            },
            priority,
            status: decode(row.status.into(), CaseStatus::from_code, "case status")?,
            resolution: row
                .resolution
                .map(|r| decode(r.into(), Resolution::from_code, "resolution"))
                .transpose()?,
            id: row.id.into(),
            reference: row.reference,
            channel_id: row.channel_id.into(),
            title: row.title,
            summary: row.summary,
            originating_agency_id: row.originating_agency_id.into(),
            receiving_agency_id: row.receiving_agency_id.into(),
            filed_by: row.filed_by.into(),
            assignee_id: row.assignee_id.map(UserId::from),
            filed_at: from_micros(row.filed_at),
            updated_at: from_micros(row.updated_at),
            acknowledged_at: row.acknowledged_at.map(from_micros),
            closed_at: row.closed_at.map(from_micros),
            acknowledge_due_at: from_micros(row.acknowledge_due_at),
            markings: markings(
                row.handling,
                row.handling_conditions,
                row.source_reliability,
                row.information_accuracy,
            )?,
            kind: decode(row.kind.into(), RequestKind::from_code, "request kind")?,
            decline_ground: ground(row.decline_ground)?,
            preservation: match row.preservation_status {
                None => None,
                Some(status) => Some(Preservation {
                    order: PreservationOrder {
                        data: row.preservation_data.unwrap_or_default(),
                        custodian: row.preservation_custodian.unwrap_or_default(),
                        offence: row.preservation_offence.unwrap_or_default(),
                        necessity: row.preservation_necessity.unwrap_or_default(),
                        formal_request: row.preservation_formal_request.unwrap_or_default(),
                    },
                    status: decode(
                        status.into(),
                        PreservationStatus::from_code,
                        "preservation status",
                    )?,
                    preserved_until: row.preserved_until.map(from_micros),
                    superseded_by: row.preservation_superseded_by,
                }),
            },
            legal_basis_id: row.legal_basis_id.map(TermId::from),
            items: items_from_json(row.request_items.as_deref())?,
            released_at: row.released_at.map(from_micros),
            version: row.version,
        })
    }
}

/// A request item as stored in the case's `request_items` JSON array.
#[derive(serde::Serialize, serde::Deserialize)]
struct ItemRow {
    number: i32,
    text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    outcome: Option<i16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    answer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ground: Option<i16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    answered_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    answered_at: Option<i64>,
}

/// An extension of an answer's deadline as stored in the case's `response_extensions` array.
#[derive(serde::Serialize, serde::Deserialize)]
struct ExtensionRow {
    reason: i16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    from: i64,
    to: i64,
    by: String,
    at: i64,
}

fn extensions_to_json(clock: Option<&ResponseClock>) -> Option<String> {
    let clock = clock.filter(|c| !c.extensions.is_empty())?;
    let rows: Vec<ExtensionRow> = clock
        .extensions
        .iter()
        .map(|e| ExtensionRow {
            reason: e.reason.code(),
            text: e.text.clone(),
            from: to_micros(e.from),
            to: to_micros(e.to),
            by: e.by.to_string(),
            at: to_micros(e.at),
        })
        .collect();
    serde_json::to_string(&rows).ok()
}

/// The rows of a JSON array column; none when the column is empty.
fn json_rows<T: serde::de::DeserializeOwned>(json: Option<&str>, what: &str) -> AppResult<Vec<T>> {
    json.map_or(Ok(Vec::new()), |json| {
        serde_json::from_str(json)
            .map_err(|e| AppError::internal(format!("a case's {what} do not decode: {e}")))
    })
}

fn extensions_from_json(json: Option<&str>) -> AppResult<Vec<DeadlineExtension>> {
    json_rows::<ExtensionRow>(json, "extensions")?
        .into_iter()
        .map(|r| {
            Ok(DeadlineExtension {
                reason: decode(
                    r.reason.into(),
                    ExtensionReason::from_code,
                    "extension reason",
                )?,
                text: r.text,
                from: from_micros(r.from),
                to: from_micros(r.to),
                by: UserId::from(r.by),
                at: from_micros(r.at),
            })
        })
        .collect()
}

/// The JSON of a case's items; none for a case without.
pub(super) fn items_to_json(items: &[RequestItem]) -> Option<String> {
    if items.is_empty() {
        return None;
    }
    let rows: Vec<ItemRow> = items
        .iter()
        .map(|i| {
            let a = i.answer.as_ref();
            ItemRow {
                number: i.number,
                text: i.text.clone(),
                outcome: a.map(|a| a.outcome.code()),
                answer: a.map(|a| a.text.clone()),
                ground: a.and_then(|a| a.ground.map(RefusalGround::code)),
                answered_by: a.map(|a| a.by.to_string()),
                answered_at: a.map(|a| to_micros(a.at)),
            }
        })
        .collect();
    serde_json::to_string(&rows).ok()
}

fn items_from_json(json: Option<&str>) -> AppResult<Vec<RequestItem>> {
    json_rows::<ItemRow>(json, "request items")?
        .into_iter()
        .map(|r| {
            let answer = match (r.outcome, r.answered_by, r.answered_at) {
                (Some(outcome), Some(by), Some(at)) => Some(ItemAnswer {
                    outcome: decode(outcome.into(), ItemOutcome::from_code, "item outcome")?,
                    text: r.answer.unwrap_or_default(),
                    ground: ground(r.ground)?,
                    by: UserId::from(by),
                    at: from_micros(at),
                }),
                _ => None,
            };
            Ok(RequestItem {
                number: r.number,
                text: r.text,
                answer,
            })
        })
        .collect()
}

pub(super) fn ground(code: Option<i16>) -> AppResult<Option<RefusalGround>> {
    code.map(|g| decode(g.into(), RefusalGround::from_code, "refusal ground"))
        .transpose()
}

/// Markings from their stored codes.
pub(super) fn markings(
    handling: i16,
    handling_conditions: Option<String>,
    source_reliability: i16,
    information_accuracy: i16,
) -> AppResult<Markings> {
    Ok(Markings {
        handling: decode(handling.into(), Handling::from_code, "handling code")?,
        handling_conditions,
        source_reliability: decode(
            source_reliability.into(),
            SourceReliability::from_code,
            "source reliability",
        )?,
        information_accuracy: decode(
            information_accuracy.into(),
            InformationAccuracy::from_code,
            "information accuracy",
        )?,
    })
}

/// The row of a case (bulk loads set `escalated_at` for history; a filing has none).
pub(super) fn case_row(
    case: &Case,
    request_id: &str,
    escalated_at: Option<Timestamp>,
) -> case::ActiveModel {
    let preservation = case.preservation.as_ref();
    let order = preservation.map(|p| &p.order);
    let response = case.response.as_ref();
    case::ActiveModel {
        id: Set(case.id.to_string()),
        reference: Set(case.reference.clone()),
        channel_id: Set(case.channel_id.to_string()),
        category: Set(case.category.known().map_or(0, Category::code)),
        category_code: Set(Some(case.category.to_string())),
        priority: Set(case.priority.code()),
        title: Set(case.title.clone()),
        summary: Set(case.summary.clone()),
        originating_agency_id: Set(case.originating_agency_id.to_string()),
        receiving_agency_id: Set(case.receiving_agency_id.to_string()),
        filed_by: Set(case.filed_by.to_string()),
        assignee_id: Set(case.assignee_id.clone().map(String::from)),
        status: Set(case.status.code()),
        resolution: Set(case.resolution.map(Resolution::code)),
        filed_at: Set(to_micros(case.filed_at)),
        updated_at: Set(to_micros(case.updated_at)),
        acknowledged_at: Set(case.acknowledged_at.map(to_micros)),
        closed_at: Set(case.closed_at.map(to_micros)),
        acknowledge_due_at: Set(to_micros(case.acknowledge_due_at)),
        version: Set(case.version),
        request_id: Set(request_id.to_string()),
        escalated_at: Set(escalated_at.map(to_micros)),
        handling: Set(case.markings.handling.code()),
        handling_conditions: Set(case.markings.handling_conditions.clone()),
        source_reliability: Set(case.markings.source_reliability.code()),
        information_accuracy: Set(case.markings.information_accuracy.code()),
        kind: Set(case.kind.code()),
        decline_ground: Set(case.decline_ground.map(RefusalGround::code)),
        preservation_data: Set(order.map(|o| o.data.clone())),
        preservation_custodian: Set(order.map(|o| o.custodian.clone())),
        preservation_offence: Set(order.map(|o| o.offence.clone())),
        preservation_necessity: Set(order.map(|o| o.necessity.clone())),
        preservation_formal_request: Set(order.map(|o| o.formal_request.clone())),
        preservation_status: Set(preservation.map(|p| p.status.code())),
        preserved_until: Set(preservation.and_then(|p| p.preserved_until).map(to_micros)),
        preservation_superseded_by: Set(preservation.and_then(|p| p.superseded_by.clone())),
        legal_basis_id: Set(case.legal_basis_id.clone().map(String::from)),
        request_items: Set(items_to_json(&case.items)),
        released_at: Set(case.released_at.map(to_micros)),
        acknowledge_within: Set(Some(
            case.acknowledge_within.num_microseconds().unwrap_or(0),
        )),
        acknowledge_warn_at: Set(case.acknowledge_warn_at().map(to_micros)),
        acknowledge_due_soon_at: Set(None),
        due_soon_percent: Set(Some(case.due_soon_percent)),
        response_within: Set(response.map(|r| r.window.num_microseconds().unwrap_or(0))),
        response_due_at: Set(response.and_then(|r| r.due_at).map(to_micros)),
        response_warn_at: Set(case.response_warn_at().map(to_micros)),
        response_paused_since: Set(response.and_then(|r| r.paused_since).map(to_micros)),
        response_paused: Set(response.map_or(0, |r| r.paused.num_microseconds().unwrap_or(0))),
        response_stopped_at: Set(response.and_then(|r| r.stopped_at).map(to_micros)),
        response_extensions: Set(extensions_to_json(response)),
        response_due_soon_at: Set(None),
        response_breached_at: Set(None),
    }
}

/// Inserts a new case. A second filing by the same user with the same request id is refused with
/// `AlreadyExists`, which the domain answers with the first case.
pub async fn insert(tx: &Tx, case: &Case, request_id: &str) -> AppResult<()> {
    case_row(case, request_id, None)
        .insert(&tx.txn)
        .await
        .on_unique(|| AppError::AlreadyExists("request_id was already used".into()))?;
    Ok(())
}

/// A case by id, sealed until authorization opens it.
pub async fn find(tx: &Tx, id: &CaseId) -> AppResult<Option<Unchecked<Case>>> {
    case::Entity::find_by_id(id.as_str())
        .one(&tx.txn)
        .await?
        .map(|row| Case::try_from(row).map(Unchecked::new))
        .transpose()
}

/// The case with this reference, sealed until authorization opens it.
pub async fn find_by_reference(tx: &Tx, reference: &str) -> AppResult<Option<Unchecked<Case>>> {
    case::Entity::find()
        .filter(case::Column::Reference.eq(reference))
        .one(&tx.txn)
        .await?
        .map(|row| Case::try_from(row).map(Unchecked::new))
        .transpose()
}

/// The case a user filed with this request id, sealed until authorization opens it.
pub async fn find_by_request(
    tx: &Tx,
    filed_by: &UserId,
    request_id: &str,
) -> AppResult<Option<Unchecked<Case>>> {
    case::Entity::find()
        .filter(case::Column::FiledBy.eq(filed_by.as_str()))
        .filter(case::Column::RequestId.eq(request_id))
        .one(&tx.txn)
        .await?
        .map(|row| Case::try_from(row).map(Unchecked::new))
        .transpose()
}

/// The two agencies of a case, for scoping its audit entries.
pub async fn parties(tx: &Tx, id: &CaseId) -> AppResult<Option<(String, String)>> {
    Ok(case::Entity::find_by_id(id.as_str())
        .select_only()
        .column(case::Column::OriginatingAgencyId)
        .column(case::Column::ReceivingAgencyId)
        .into_tuple::<(String, String)>()
        .one(&tx.txn)
        .await?)
}

/// Writes the mutable fields of `case` if it is still at `expected_version`; false otherwise.
pub async fn update(tx: &Tx, case: &Case, expected_version: i64) -> AppResult<bool> {
    let response = case.response.as_ref();
    let result = case::Entity::update_many()
        // Moved by a release, a pause and its end, an answer, an extension.
        .col_expr(
            case::Column::AcknowledgeWarnAt,
            Expr::value(case.acknowledge_warn_at().map(to_micros)),
        )
        .col_expr(
            case::Column::ResponseDueAt,
            Expr::value(response.and_then(|r| r.due_at).map(to_micros)),
        )
        .col_expr(
            case::Column::ResponseWarnAt,
            Expr::value(case.response_warn_at().map(to_micros)),
        )
        .col_expr(
            case::Column::ResponsePausedSince,
            Expr::value(response.and_then(|r| r.paused_since).map(to_micros)),
        )
        .col_expr(
            case::Column::ResponsePaused,
            Expr::value(response.map_or(0, |r| r.paused.num_microseconds().unwrap_or(0))),
        )
        .col_expr(
            case::Column::ResponseStoppedAt,
            Expr::value(response.and_then(|r| r.stopped_at).map(to_micros)),
        )
        .col_expr(
            case::Column::ResponseExtensions,
            Expr::value(extensions_to_json(response)),
        )
        .col_expr(
            case::Column::AssigneeId,
            Expr::value(case.assignee_id.clone().map(String::from)),
        )
        .col_expr(case::Column::Status, Expr::value(case.status.code()))
        .col_expr(
            case::Column::Resolution,
            Expr::value(case.resolution.map(Resolution::code)),
        )
        .col_expr(
            case::Column::UpdatedAt,
            Expr::value(to_micros(case.updated_at)),
        )
        .col_expr(
            case::Column::AcknowledgedAt,
            Expr::value(case.acknowledged_at.map(to_micros)),
        )
        .col_expr(
            case::Column::ClosedAt,
            Expr::value(case.closed_at.map(to_micros)),
        )
        // Moved by a release: the clock runs from when the receiver can see the referral.
        .col_expr(
            case::Column::AcknowledgeDueAt,
            Expr::value(to_micros(case.acknowledge_due_at)),
        )
        .col_expr(
            case::Column::RequestItems,
            Expr::value(items_to_json(&case.items)),
        )
        .col_expr(
            case::Column::ReleasedAt,
            Expr::value(case.released_at.map(to_micros)),
        )
        .col_expr(case::Column::Version, Expr::value(case.version))
        .col_expr(
            case::Column::Handling,
            Expr::value(case.markings.handling.code()),
        )
        .col_expr(
            case::Column::HandlingConditions,
            Expr::value(case.markings.handling_conditions.clone()),
        )
        .col_expr(
            case::Column::SourceReliability,
            Expr::value(case.markings.source_reliability.code()),
        )
        .col_expr(
            case::Column::InformationAccuracy,
            Expr::value(case.markings.information_accuracy.code()),
        )
        .col_expr(
            case::Column::DeclineGround,
            Expr::value(case.decline_ground.map(RefusalGround::code)),
        )
        .col_expr(
            case::Column::PreservationStatus,
            Expr::value(case.preservation.as_ref().map(|p| p.status.code())),
        )
        .col_expr(
            case::Column::PreservedUntil,
            Expr::value(
                case.preservation
                    .as_ref()
                    .and_then(|p| p.preserved_until)
                    .map(to_micros),
            ),
        )
        .col_expr(
            case::Column::PreservationSupersededBy,
            Expr::value(
                case.preservation
                    .as_ref()
                    .and_then(|p| p.superseded_by.clone()),
            ),
        )
        .filter(case::Column::Id.eq(case.id.as_str()))
        .filter(case::Column::Version.eq(expected_version))
        .exec(&tx.txn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Cases still FILED past their acknowledge deadline at `now` and not yet escalated, oldest due
/// first, at most `limit`: for the service's own escalation timer.
pub async fn due_for_escalation(
    tx: &Tx,
    _service: &Service,
    now: Timestamp,
    limit: u64,
) -> AppResult<Vec<Case>> {
    case::Entity::find()
        .filter(case::Column::Status.eq(CaseStatus::Filed.code()))
        .filter(case::Column::AcknowledgeDueAt.lt(to_micros(now)))
        .filter(case::Column::EscalatedAt.is_null())
        .order_by_asc(case::Column::AcknowledgeDueAt)
        .limit(limit)
        .all(&tx.txn)
        .await?
        .into_iter()
        .map(Case::try_from)
        .collect()
}

/// Marks a case escalated unless it already was (or is no longer FILED); whether this call did.
pub async fn mark_escalated(tx: &Tx, id: &CaseId, now: Timestamp) -> AppResult<bool> {
    let result = case::Entity::update_many()
        .col_expr(case::Column::EscalatedAt, Expr::value(to_micros(now)))
        .filter(case::Column::Id.eq(id.as_str()))
        .filter(case::Column::EscalatedAt.is_null())
        .filter(case::Column::Status.eq(CaseStatus::Filed.code()))
        .exec(&tx.txn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// The service's deadline alarms. Each fires once per case: its mark, set by the one server whose
/// conditional update wins, says it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alarm {
    /// Most of the acknowledgement's window has gone, the case still FILED.
    AcknowledgeDueSoon,
    /// Most of the answer's window has gone, its clock running.
    ResponseDueSoon,
    /// The answer's deadline passed, its clock running.
    ResponseBreached,
}

impl Alarm {
    /// The method of the service's audit entry for each alarm it raises.
    pub fn method(self) -> &'static str {
        match self {
            Alarm::AcknowledgeDueSoon | Alarm::ResponseDueSoon => "liaisond/due-soon",
            Alarm::ResponseBreached => "liaisond/breach",
        }
    }

    fn mark(self) -> case::Column {
        match self {
            Alarm::AcknowledgeDueSoon => case::Column::AcknowledgeDueSoonAt,
            Alarm::ResponseDueSoon => case::Column::ResponseDueSoonAt,
            Alarm::ResponseBreached => case::Column::ResponseBreachedAt,
        }
    }

    /// The time it fires at, in the order the timer takes them.
    fn time(self) -> case::Column {
        match self {
            Alarm::AcknowledgeDueSoon => case::Column::AcknowledgeWarnAt,
            Alarm::ResponseDueSoon => case::Column::ResponseWarnAt,
            Alarm::ResponseBreached => case::Column::ResponseDueAt,
        }
    }

    /// The cases it should fire on at `now` and has not (a running clock has a warning time).
    fn due(self, now: Timestamp) -> Condition {
        let now = to_micros(now);
        let unmarked = Condition::all().add(self.mark().is_null());
        match self {
            Alarm::AcknowledgeDueSoon => unmarked
                .add(case::Column::Status.eq(CaseStatus::Filed.code()))
                .add(case::Column::AcknowledgeWarnAt.lte(now))
                .add(case::Column::AcknowledgeDueAt.gt(now)),
            Alarm::ResponseDueSoon => unmarked
                .add(case::Column::ResponseWarnAt.lte(now))
                .add(case::Column::ResponseDueAt.gt(now)),
            Alarm::ResponseBreached => unmarked
                .add(case::Column::ResponseWarnAt.is_not_null())
                .add(case::Column::ResponseDueAt.lt(now)),
        }
    }
}

/// The cases `alarm` should fire on at `now`, earliest first, at most `limit`: for the service's
/// own deadline timer.
pub async fn due_for_alarm(
    tx: &Tx,
    _service: &Service,
    alarm: Alarm,
    now: Timestamp,
    limit: u64,
) -> AppResult<Vec<Case>> {
    case::Entity::find()
        .filter(alarm.due(now))
        .order_by_asc(alarm.time())
        .limit(limit)
        .all(&tx.txn)
        .await?
        .into_iter()
        .map(Case::try_from)
        .collect()
}

/// Marks `alarm` fired on the case unless it was, or the case moved out of its reach meanwhile;
/// whether this call did.
pub async fn raise(tx: &Tx, case: &Case, alarm: Alarm, now: Timestamp) -> AppResult<bool> {
    let result = case::Entity::update_many()
        .col_expr(alarm.mark(), Expr::value(to_micros(now)))
        .filter(case::Column::Id.eq(case.id.as_str()))
        .filter(alarm.due(now))
        .exec(&tx.txn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Lets `alarm` fire again on the case: its deadline moved.
pub async fn rearm(tx: &Tx, id: &CaseId, alarm: Alarm) -> AppResult<()> {
    case::Entity::update_many()
        .col_expr(alarm.mark(), Expr::value(Option::<i64>::None))
        .filter(case::Column::Id.eq(id.as_str()))
        .exec(&tx.txn)
        .await?;
    Ok(())
}

/// Preservations still PRESERVED or EXTENDED past their date at `now`, earliest first, at most
/// `limit`: for the service's own timer that marks them LAPSED.
pub async fn due_to_lapse(
    tx: &Tx,
    _service: &Service,
    now: Timestamp,
    limit: u64,
) -> AppResult<Vec<Case>> {
    let kept = [
        PreservationStatus::Preserved.code(),
        PreservationStatus::Extended.code(),
    ];
    case::Entity::find()
        .filter(case::Column::PreservationStatus.is_in(kept))
        .filter(case::Column::PreservedUntil.lt(to_micros(now)))
        .order_by_asc(case::Column::PreservedUntil)
        .limit(limit)
        .all(&tx.txn)
        .await?
        .into_iter()
        .map(Case::try_from)
        .collect()
}

/// Marks a preservation LAPSED unless it was superseded, extended or lapsed meanwhile; whether
/// this call did.
pub async fn mark_lapsed(tx: &Tx, case: &Case, now: Timestamp) -> AppResult<bool> {
    let Some(until) = case.preservation.as_ref().and_then(|p| p.preserved_until) else {
        return Ok(false);
    };
    let kept = [
        PreservationStatus::Preserved.code(),
        PreservationStatus::Extended.code(),
    ];
    let result = case::Entity::update_many()
        .col_expr(
            case::Column::PreservationStatus,
            Expr::value(PreservationStatus::Lapsed.code()),
        )
        .col_expr(
            case::Column::Version,
            Expr::col(case::Column::Version).add(1),
        )
        .col_expr(case::Column::UpdatedAt, Expr::value(to_micros(now)))
        .filter(case::Column::Id.eq(case.id.as_str()))
        .filter(case::Column::PreservationStatus.is_in(kept))
        .filter(case::Column::PreservedUntil.eq(to_micros(until)))
        .filter(case::Column::PreservedUntil.lt(to_micros(now)))
        .exec(&tx.txn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Marks the case modified (a new version) without changing its fields.
pub async fn touch(tx: &Tx, id: &CaseId, now: Timestamp) -> AppResult<()> {
    case::Entity::update_many()
        .col_expr(
            case::Column::Version,
            Expr::col(case::Column::Version).add(1),
        )
        .col_expr(case::Column::UpdatedAt, Expr::value(to_micros(now)))
        .filter(case::Column::Id.eq(id.as_str()))
        .exec(&tx.txn)
        .await?;
    Ok(())
}

/// Where a page of a queue starts: after the case with this sort key and id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CaseCursor {
    pub key: i64,
    pub id: String,
}

impl CaseCursor {
    pub fn after(case: &Case, order: CaseOrder) -> Self {
        let key = match order {
            CaseOrder::NewestFirst => to_micros(case.filed_at),
            CaseOrder::DueFirst => to_micros(case.acknowledge_due_at),
        };
        CaseCursor {
            key,
            id: case.id.to_string(),
        }
    }
}

/// A queue query, already scoped to what the caller may see.
#[derive(Debug, Clone)]
pub struct CaseQuery {
    pub scope: CaseScope,
    pub view: CaseView,
    pub statuses: Vec<CaseStatus>,
    pub category: Option<CategoryCode>,
    pub kinds: Vec<RequestKind>,
    pub priority: Option<Priority>,
    pub channel_id: Option<String>,
    pub assignee_id: Option<String>,
    /// Only FILED cases whose acknowledge deadline is before this time.
    pub overdue_at: Option<Timestamp>,
    /// Only cases with a running deadline between these times (now, and now plus the window).
    pub due_between: Option<(Timestamp, Timestamp)>,
    /// Only cases that missed a deadline, seen at this time.
    pub breached_at: Option<Timestamp>,
    pub order: CaseOrder,
    pub after: Option<CaseCursor>,
    pub limit: u64,
}

/// The cases a caller may see in a view, as the scope describes them: a union of parts that each
/// follow one index in the queue's order (an agency's incoming or outgoing cases, an officer's
/// filed or assigned ones). A single `OR` across two columns would leave the database to fetch and
/// sort every match.
fn scope_parts(q: &CaseQuery) -> Vec<Condition> {
    q.scope
        .parts(q.view)
        .iter()
        .map(|part| {
            let all = if part.released_only() {
                Condition::all().add(case::Column::ReleasedAt.is_not_null())
            } else {
                Condition::all()
            };
            part.tests().iter().fold(all, |all, (party, value)| {
                let column = match party {
                    CaseParty::OriginatingAgency => case::Column::OriginatingAgencyId,
                    CaseParty::ReceivingAgency => case::Column::ReceivingAgencyId,
                    CaseParty::FiledBy => case::Column::FiledBy,
                    CaseParty::Assignee => case::Column::AssigneeId,
                };
                all.add(column.eq(value.as_str()))
            })
        })
        .collect()
}

/// Cases with a deadline running out between `from` and `until`: a FILED case's acknowledgement,
/// or an answer whose clock runs.
fn due_between(from: Timestamp, until: Timestamp) -> Condition {
    let (from, until) = (to_micros(from), to_micros(until));
    Condition::any()
        .add(
            Condition::all()
                .add(case::Column::Status.eq(CaseStatus::Filed.code()))
                .add(case::Column::ReleasedAt.is_not_null())
                .add(case::Column::AcknowledgeDueAt.gt(from))
                .add(case::Column::AcknowledgeDueAt.lte(until)),
        )
        .add(
            Condition::all()
                .add(case::Column::ResponseWarnAt.is_not_null())
                .add(case::Column::ResponseDueAt.gt(from))
                .add(case::Column::ResponseDueAt.lte(until)),
        )
}

/// Cases that missed a deadline: escalated or breached (the service's marks), or past a running
/// deadline at `now` that the timer has yet to mark, or answered (or paused) after the deadline.
fn breached(now: Timestamp) -> Condition {
    let now = to_micros(now);
    Condition::any()
        .add(case::Column::EscalatedAt.is_not_null())
        .add(case::Column::ResponseBreachedAt.is_not_null())
        .add(
            Condition::all()
                .add(case::Column::Status.eq(CaseStatus::Filed.code()))
                .add(case::Column::ReleasedAt.is_not_null())
                .add(case::Column::AcknowledgeDueAt.lt(now)),
        )
        .add(
            Condition::all()
                .add(case::Column::ResponseWarnAt.is_not_null())
                .add(case::Column::ResponseDueAt.lt(now)),
        )
        .add(Expr::col(case::Column::AcknowledgedAt).gt(Expr::col(case::Column::AcknowledgeDueAt)))
        .add(Expr::col(case::Column::ResponseStoppedAt).gt(Expr::col(case::Column::ResponseDueAt)))
        .add(
            Expr::col(case::Column::ResponsePausedSince).gt(Expr::col(case::Column::ResponseDueAt)),
        )
}

/// A queue's page: each part of the caller's scope read in the queue's order up to the page's
/// length, then merged. Ordered by the sort key and then the id; the keyset cursor compares the
/// pair as a row, which an index on (.., key, id) answers by seeking.
pub async fn list(tx: &Tx, q: &CaseQuery) -> AppResult<Vec<Case>> {
    let (key_col, descending) = match q.order {
        CaseOrder::NewestFirst => (case::Column::FiledAt, true),
        CaseOrder::DueFirst => (case::Column::AcknowledgeDueAt, false),
    };
    let parts = scope_parts(q);
    let several = parts.len() > 1;
    let mut cases = Vec::new();
    for part in parts {
        let mut query = case::Entity::find().filter(part);
        if !q.statuses.is_empty() {
            query = query.filter(case::Column::Status.is_in(q.statuses.iter().map(|s| s.code())));
        }
        if let Some(category) = &q.category {
            query = query.filter(case::Column::CategoryCode.eq(category.as_str()));
        }
        if !q.kinds.is_empty() {
            query = query.filter(case::Column::Kind.is_in(q.kinds.iter().map(|k| k.code())));
        }
        if let Some(priority) = q.priority {
            query = query.filter(case::Column::Priority.eq(priority.code()));
        }
        if let Some(channel_id) = &q.channel_id {
            query = query.filter(case::Column::ChannelId.eq(channel_id.as_str()));
        }
        if let Some(assignee_id) = &q.assignee_id {
            query = query.filter(case::Column::AssigneeId.eq(assignee_id.as_str()));
        }
        if let Some(now) = q.overdue_at {
            query = query
                .filter(case::Column::Status.eq(CaseStatus::Filed.code()))
                .filter(case::Column::AcknowledgeDueAt.lt(to_micros(now)));
        }
        if let Some((from, until)) = q.due_between {
            query = query.filter(due_between(from, until));
        }
        if let Some(now) = q.breached_at {
            query = query.filter(breached(now));
        }
        if let Some(after) = &q.after {
            let position = Expr::tuple([
                Expr::col(key_col).into(),
                Expr::col(case::Column::Id).into(),
            ]);
            let cursor = Expr::tuple([after.key.into(), after.id.as_str().into()]);
            query = query.filter(if descending {
                position.lt(cursor)
            } else {
                position.gt(cursor)
            });
        }
        query = if descending {
            query.order_by_desc(key_col).order_by_desc(case::Column::Id)
        } else {
            query.order_by_asc(key_col).order_by_asc(case::Column::Id)
        };
        for row in query.limit(q.limit).all(&tx.txn).await? {
            cases.push(Case::try_from(row)?);
        }
    }
    if several {
        let key = |c: &Case| match q.order {
            CaseOrder::NewestFirst => to_micros(c.filed_at),
            CaseOrder::DueFirst => to_micros(c.acknowledge_due_at),
        };
        cases.sort_by(|a, b| {
            let order = key(a).cmp(&key(b)).then_with(|| a.id.cmp(&b.id));
            if descending {
                order.reverse()
            } else {
                order
            }
        });
        // A case in two parts (filed and assigned by one user) is listed once.
        cases.dedup_by(|a, b| a.id == b.id);
        cases.truncate(usize::try_from(q.limit).unwrap_or(usize::MAX));
    }
    Ok(cases)
}

impl TryFrom<case_note::Model> for Note {
    type Error = AppError;

    fn try_from(row: case_note::Model) -> AppResult<Self> {
        Ok(Note {
            visibility: decode(
                row.visibility.into(),
                NoteVisibility::from_code,
                "visibility",
            )?,
            id: row.id.into(),
            case_id: row.case_id.into(),
            author_id: row.author_id.into(),
            author_agency_id: row.author_agency_id.into(),
            body: row.body,
            markings: markings(
                row.handling,
                row.handling_conditions,
                row.source_reliability,
                row.information_accuracy,
            )?,
            created_at: from_micros(row.created_at),
        })
    }
}

pub(super) fn note_row(note: &Note) -> case_note::ActiveModel {
    case_note::ActiveModel {
        id: Set(note.id.to_string()),
        case_id: Set(note.case_id.to_string()),
        author_id: Set(note.author_id.to_string()),
        author_agency_id: Set(note.author_agency_id.to_string()),
        visibility: Set(note.visibility.code()),
        body: Set(note.body.clone()),
        created_at: Set(to_micros(note.created_at)),
        handling: Set(note.markings.handling.code()),
        handling_conditions: Set(note.markings.handling_conditions.clone()),
        source_reliability: Set(note.markings.source_reliability.code()),
        information_accuracy: Set(note.markings.information_accuracy.code()),
    }
}

pub async fn insert_note(tx: &Tx, note: &Note) -> AppResult<()> {
    note_row(note).insert(&tx.txn).await?;
    Ok(())
}

/// A note of the permitted case that its holder may read (shared, or of their agency), with its
/// own markings.
pub async fn find_note(tx: &Tx, permit: &CasePermit, id: &NoteId) -> AppResult<Option<Note>> {
    use case_note::Column;
    case_note::Entity::find_by_id(id.as_str())
        .filter(Column::CaseId.eq(permit.case_id()))
        .filter(
            Condition::any()
                .add(Column::Visibility.eq(NoteVisibility::Shared.code()))
                .add(Column::AuthorAgencyId.eq(permit.reader_agency_id())),
        )
        .one(&tx.txn)
        .await?
        .map(Note::try_from)
        .transpose()
}

/// Writes a note's new markings if they are still `old`; false when they changed meanwhile.
pub async fn update_note_markings(
    tx: &Tx,
    id: &NoteId,
    old: &Markings,
    markings: &Markings,
) -> AppResult<bool> {
    use case_note::Column;
    let conditions_were = match &old.handling_conditions {
        Some(text) => Column::HandlingConditions.eq(text.as_str()),
        None => Column::HandlingConditions.is_null(),
    };
    let result = case_note::Entity::update_many()
        .col_expr(Column::Handling, Expr::value(markings.handling.code()))
        .col_expr(
            Column::HandlingConditions,
            Expr::value(markings.handling_conditions.clone()),
        )
        .col_expr(
            Column::SourceReliability,
            Expr::value(markings.source_reliability.code()),
        )
        .col_expr(
            Column::InformationAccuracy,
            Expr::value(markings.information_accuracy.code()),
        )
        .filter(Column::Id.eq(id.as_str()))
        .filter(Column::Handling.eq(old.handling.code()))
        .filter(conditions_were)
        .filter(Column::SourceReliability.eq(old.source_reliability.code()))
        .filter(Column::InformationAccuracy.eq(old.information_accuracy.code()))
        .exec(&tx.txn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Whether the provider ever changed the case's own markings (a MARKINGS_CHANGED event that is not
/// a note's).
pub async fn markings_changed(tx: &Tx, case_id: &CaseId) -> AppResult<bool> {
    use case_event::Column;
    Ok(case_event::Entity::find()
        .filter(Column::CaseId.eq(case_id.as_str()))
        .filter(Column::Kind.eq(EventKind::MarkingsChanged.code()))
        .filter(Column::NoteId.is_null())
        .one(&tx.txn)
        .await?
        .is_some())
}

/// Where a page of a case's notes or events starts: after the item with this time and id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TimelineCursor {
    pub at: i64,
    pub id: String,
}

/// Timeline rows after `after` in (time, id) order.
fn after_in_timeline(
    at: impl ColumnTrait,
    id: impl ColumnTrait,
    after: Option<&TimelineCursor>,
) -> Condition {
    match after {
        None => Condition::all(),
        Some(after) => Condition::any().add(at.gt(after.at)).add(
            Condition::all()
                .add(at.eq(after.at))
                .add(id.gt(after.id.as_str())),
        ),
    }
}

/// The notes of the permitted case its holder may read: shared ones and their agency's internal
/// ones, oldest first, after `after`, at most `limit`.
pub async fn notes(
    tx: &Tx,
    permit: &CasePermit,
    after: Option<&TimelineCursor>,
    limit: u64,
) -> AppResult<Vec<Note>> {
    use case_note::Column;
    case_note::Entity::find()
        .filter(after_in_timeline(Column::CreatedAt, Column::Id, after))
        .filter(Column::CaseId.eq(permit.case_id()))
        .filter(
            Condition::any()
                .add(Column::Visibility.eq(NoteVisibility::Shared.code()))
                .add(Column::AuthorAgencyId.eq(permit.reader_agency_id())),
        )
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(&tx.txn)
        .await?
        .into_iter()
        .map(Note::try_from)
        .collect()
}

impl TryFrom<case_event::Model> for CaseEvent {
    type Error = AppError;

    fn try_from(row: case_event::Model) -> AppResult<Self> {
        let status = |code: Option<i16>| {
            code.map(|c| decode(c.into(), CaseStatus::from_code, "case status"))
                .transpose()
        };
        Ok(CaseEvent {
            kind: decode(row.kind.into(), EventKind::from_code, "event kind")?,
            from_status: status(row.from_status)?,
            to_status: status(row.to_status)?,
            resolution: row
                .resolution
                .map(|r| decode(r.into(), Resolution::from_code, "resolution"))
                .transpose()?,
            id: row.id.into(),
            case_id: row.case_id.into(),
            actor_id: row.actor_id,
            actor_agency_id: row.actor_agency_id,
            at: from_micros(row.at),
            reason: row.reason,
            assignee_id: row.assignee_id.map(UserId::from),
            note_id: row.note_id.map(NoteId::from),
            markings: match (
                row.handling,
                row.source_reliability,
                row.information_accuracy,
            ) {
                (Some(handling), Some(reliability), Some(accuracy)) => Some(markings(
                    handling,
                    row.handling_conditions,
                    reliability,
                    accuracy,
                )?),
                _ => None,
            },
            ground: ground(row.refusal_ground)?,
            preserved_until: row.preserved_until.map(from_micros),
            visible_to_agency_id: row.visible_to_agency_id.map(AgencyId::from),
            move_id: row.move_id.map(MoveId::from),
            item_number: row.item_number,
            clock: row
                .clock
                .map(|c| decode(c.into(), DeadlineClock::from_code, "deadline clock"))
                .transpose()?,
            due_at: row.due_at.map(from_micros),
            extension_reason: row
                .extension_reason
                .map(|r| decode(r.into(), ExtensionReason::from_code, "extension reason"))
                .transpose()?,
        })
    }
}

/// The row of an event, recorded by the call whose audit record is intake `audit_intake_id`
/// (bulk loads write history with none).
pub(super) fn event_row(
    event: &CaseEvent,
    audit_intake_id: Option<i64>,
) -> case_event::ActiveModel {
    case_event::ActiveModel {
        id: Set(event.id.to_string()),
        case_id: Set(event.case_id.to_string()),
        kind: Set(event.kind.code()),
        actor_id: Set(event.actor_id.clone()),
        actor_agency_id: Set(event.actor_agency_id.clone()),
        at: Set(to_micros(event.at)),
        from_status: Set(event.from_status.map(CaseStatus::code)),
        to_status: Set(event.to_status.map(CaseStatus::code)),
        reason: Set(event.reason.clone()),
        assignee_id: Set(event.assignee_id.clone().map(String::from)),
        resolution: Set(event.resolution.map(Resolution::code)),
        note_id: Set(event.note_id.clone().map(String::from)),
        visible_to_agency_id: Set(event.visible_to_agency_id.clone().map(String::from)),
        seq: Set(None),
        audit_intake_id: Set(audit_intake_id),
        handling: Set(event.markings.as_ref().map(|m| m.handling.code())),
        handling_conditions: Set(event
            .markings
            .as_ref()
            .and_then(|m| m.handling_conditions.clone())),
        source_reliability: Set(event.markings.as_ref().map(|m| m.source_reliability.code())),
        information_accuracy: Set(event
            .markings
            .as_ref()
            .map(|m| m.information_accuracy.code())),
        refusal_ground: Set(event.ground.map(RefusalGround::code)),
        preserved_until: Set(event.preserved_until.map(to_micros)),
        move_id: Set(event.move_id.clone().map(String::from)),
        item_number: Set(event.item_number),
        clock: Set(event.clock.map(DeadlineClock::code)),
        due_at: Set(event.due_at.map(to_micros)),
        extension_reason: Set(event.extension_reason.map(ExtensionReason::code)),
    }
}

/// Stores an event recorded by the call whose audit record is intake `audit_intake_id`. It has no
/// sequence number until the sealer seals that record (see [`super::audit::seal`]), and no
/// watcher sees it before.
pub async fn insert_event(tx: &Tx, event: &CaseEvent, audit_intake_id: i64) -> AppResult<()> {
    event_row(event, Some(audit_intake_id))
        .insert(&tx.txn)
        .await?;
    Ok(())
}

/// The timeline of the permitted case as its holder may see it (events about the other agency's
/// internal notes left out), oldest first, after `after`, at most `limit`.
pub async fn events(
    tx: &Tx,
    permit: &CasePermit,
    after: Option<&TimelineCursor>,
    limit: u64,
) -> AppResult<Vec<CaseEvent>> {
    use case_event::Column;
    case_event::Entity::find()
        .filter(after_in_timeline(Column::At, Column::Id, after))
        .filter(Column::CaseId.eq(permit.case_id()))
        .filter(
            Condition::any()
                .add(Column::VisibleToAgencyId.is_null())
                .add(Column::VisibleToAgencyId.eq(permit.reader_agency_id())),
        )
        .order_by_asc(Column::At)
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(&tx.txn)
        .await?
        .into_iter()
        .map(CaseEvent::try_from)
        .collect()
}

/// The PostgreSQL channel that carries the sequence number of every commit that recorded events.
pub const EVENTS_CHANNEL: &str = "liaison_case_events";

/// Tells every server listening on PostgreSQL that events up to `seq` commit with this
/// transaction (the notification is delivered at commit, and not at all on rollback). SQLite has
/// one process; its watchers are told in process.
pub async fn announce_events(tx: &Tx, seq: i64) -> AppResult<()> {
    if tx.backend() == DbBackend::Postgres {
        tx.txn
            .execute(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [EVENTS_CHANNEL.into(), seq.to_string().into()],
            ))
            .await?;
    }
    Ok(())
}

/// Where a watcher is in the stream of events: after the event with this sequence number and id.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EventCursor {
    pub seq: i64,
    pub id: String,
}

/// The cursor just past the newest committed event.
pub async fn newest_event_cursor(tx: &Tx) -> AppResult<EventCursor> {
    let newest = case_event::Entity::find()
        .filter(case_event::Column::Seq.is_not_null())
        .order_by_desc(case_event::Column::Seq)
        .order_by_desc(case_event::Column::Id)
        .one(&tx.txn)
        .await?;
    Ok(newest
        .and_then(|row| {
            Some(EventCursor {
                seq: row.seq?,
                id: row.id,
            })
        })
        .unwrap_or_default())
}

/// Committed events of every case after `after`, in commit order, sealed until authorization
/// opens each. A later commit always has a higher sequence number, so nothing can appear behind a
/// cursor once an event past it was read.
pub async fn events_after(
    tx: &Tx,
    after: &EventCursor,
    limit: u64,
) -> AppResult<Vec<(EventCursor, Unchecked<CaseEvent>)>> {
    case_event::Entity::find()
        .filter(
            Condition::any()
                .add(case_event::Column::Seq.gt(after.seq))
                .add(
                    Condition::all()
                        .add(case_event::Column::Seq.eq(after.seq))
                        .add(case_event::Column::Id.gt(after.id.as_str())),
                ),
        )
        .order_by_asc(case_event::Column::Seq)
        .order_by_asc(case_event::Column::Id)
        .limit(limit)
        .all(&tx.txn)
        .await?
        .into_iter()
        .map(|row| {
            let cursor = EventCursor {
                seq: row.seq.unwrap_or_default(),
                id: row.id.clone(),
            };
            Ok((cursor, Unchecked::new(CaseEvent::try_from(row)?)))
        })
        .collect()
}

/// A case's reference with what decides who may read it: its parties and whether it was
/// released to the receiving one.
#[derive(Debug, Clone)]
pub struct NamedCase {
    pub reference: String,
    pub originating_agency_id: String,
    pub receiving_agency_id: String,
    pub released: bool,
}

/// The references of the cases with these ids (those that exist), by id: for naming cases in
/// what an auditor reads, where the case itself is not theirs to open.
pub async fn references(
    tx: &Tx,
    ids: &[String],
) -> AppResult<std::collections::HashMap<String, NamedCase>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(case::Entity::find()
        .select_only()
        .column(case::Column::Id)
        .column(case::Column::Reference)
        .column(case::Column::OriginatingAgencyId)
        .column(case::Column::ReceivingAgencyId)
        .column(case::Column::ReleasedAt)
        .filter(case::Column::Id.is_in(ids.iter().map(String::as_str)))
        .into_tuple::<(String, String, String, String, Option<i64>)>()
        .all(&tx.txn)
        .await?
        .into_iter()
        .map(|(id, reference, originating, receiving, released_at)| {
            (
                id,
                NamedCase {
                    reference,
                    originating_agency_id: originating,
                    receiving_agency_id: receiving,
                    released: released_at.is_some(),
                },
            )
        })
        .collect())
}

/// The cases with these ids (those that exist), sealed until authorization opens them.
pub async fn find_many(tx: &Tx, ids: &[String]) -> AppResult<Vec<Unchecked<Case>>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    case::Entity::find()
        .filter(case::Column::Id.is_in(ids.iter().map(String::as_str)))
        .all(&tx.txn)
        .await?
        .into_iter()
        .map(|row| Case::try_from(row).map(Unchecked::new))
        .collect()
}
