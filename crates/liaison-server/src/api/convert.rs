//! Conversions between prost messages and domain values.

use crate::chain::AuditEntry;
use crate::domain::channels::ChannelView;
use crate::domain::markings::MarkingsRequest;
use crate::domain::moves::MoveView;
use crate::limits::MAX_REASON_CHARS;
use crate::model::{
    Agency, Case, CaseEvent, Category, CategoryCode, ChannelTerm, DeadlineClock, Decided,
    ExtensionReason, Handling, InformationAccuracy, Markings, Note, PreservationOrder,
    RefusalGround, RequestItem, Resolution, ResponseClock, RoleChange, Roles, SourceReliability,
    Timestamp, User,
};
use crate::pb;
use crate::validate::{self, Violations};

pub fn timestamp(t: Timestamp) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

pub fn optional_timestamp(t: Option<Timestamp>) -> Option<prost_types::Timestamp> {
    t.map(timestamp)
}

pub fn duration(d: chrono::Duration) -> prost_types::Duration {
    let micros = d.num_microseconds().unwrap_or(i64::MAX);
    prost_types::Duration {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32,
    }
}

/// A span from a request between `min` and `max`; `None` when unset.
pub fn from_duration(
    v: &mut Violations,
    field: &str,
    d: Option<prost_types::Duration>,
    min: chrono::Duration,
    max: chrono::Duration,
) -> Option<chrono::Duration> {
    let d = d?;
    let valid = (-999_999_999..=999_999_999).contains(&d.nanos)
        && (d.seconds >= 0 && d.nanos >= 0 || d.seconds <= 0 && d.nanos <= 0);
    let parsed = valid
        .then(|| chrono::Duration::try_seconds(d.seconds))
        .flatten()
        .and_then(|s| s.checked_add(&chrono::Duration::nanoseconds(d.nanos.into())));
    match parsed {
        Some(span) if span >= min && span <= max => Some(span),
        _ => {
            v.add(
                field,
                format!("must be between {} and {}", words(min), words(max)),
            );
            None
        }
    }
}

/// A span in the largest whole unit that states it exactly: "1 minute", "366 days".
fn words(d: chrono::Duration) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    let seconds = d.num_seconds();
    match seconds {
        s if s % 86_400 == 0 => plural(s / 86_400, "day"),
        s if s % 3_600 == 0 => plural(s / 3_600, "hour"),
        s if s % 60 == 0 => plural(s / 60, "minute"),
        s => plural(s, "second"),
    }
}

/// A time from a request; `None` when unset.
pub fn from_timestamp(
    v: &mut Violations,
    field: &str,
    t: Option<prost_types::Timestamp>,
) -> Option<Timestamp> {
    let t = t?;
    let parsed = (0..1_000_000_000)
        .contains(&t.nanos)
        .then(|| chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32))
        .flatten();
    if parsed.is_none() {
        v.add(field, "is not a valid timestamp");
    }
    parsed
}

/// Required free text that goes into the timeline or a decision (reasons, questions, answers).
pub fn reason(v: &mut Violations, field: &str, value: &str) -> String {
    v.check(field, validate::text(value, 1, MAX_REASON_CHARS, true))
}

/// The same, optional: empty means none.
pub fn optional_reason(v: &mut Violations, field: &str, value: &str) -> Option<String> {
    (!value.is_empty()).then(|| reason(v, field, value))
}

/// A category named by its founding enum value (`category`) or its code (`code_field`), or by
/// both if they agree; `None` with nothing given (the caller says whether that is allowed).
pub fn category(
    v: &mut Violations,
    field: &str,
    value: i32,
    code_field: &str,
    code: &str,
) -> Option<CategoryCode> {
    let by_enum = optional_enum(v, field, value, Category::from_code).map(CategoryCode::from);
    let by_code = match code {
        "" => None,
        code => {
            let parsed = CategoryCode::parse(code);
            if parsed.is_none() {
                v.add(
                    code_field,
                    "must be a category's code: 2 to 32 of A-Z and '_' (like ORGANISED_CRIME)",
                );
            }
            parsed
        }
    };
    match (by_enum, by_code) {
        (Some(a), Some(b)) if a != b => {
            v.add(
                code_field,
                format!("names {b}, but {field} names {a}: give one"),
            );
            None
        }
        (a, b) => b.or(a),
    }
}

/// A required enum field: must be set and known.
pub fn required_enum<T>(
    v: &mut Violations,
    field: &str,
    value: i32,
    from_code: impl Fn(i64) -> Option<T>,
) -> Option<T> {
    if value == 0 {
        v.add(field, "must be set");
        return None;
    }
    let parsed = from_code(value.into());
    if parsed.is_none() {
        v.add(field, format!("unknown value {value}"));
    }
    parsed
}

/// An optional enum filter: 0 (unspecified) means none.
pub fn optional_enum<T>(
    v: &mut Violations,
    field: &str,
    value: i32,
    from_code: impl Fn(i64) -> Option<T>,
) -> Option<T> {
    if value == 0 {
        None
    } else {
        required_enum(v, field, value, from_code)
    }
}

pub fn agency(a: Agency) -> pb::Agency {
    pb::Agency {
        id: a.id.into(),
        code: a.code,
        name: a.name,
        country: a.country,
        time_zone: a.time_zone,
        holidays: a
            .holidays
            .iter()
            .map(|d| d.format("%Y-%m-%d").to_string())
            .collect(),
    }
}

pub fn user(u: User) -> pb::User {
    pb::User {
        id: u.id.into(),
        username: u.username,
        display_name: u.display_name,
        agency_id: u.agency_id.into(),
        roles: u.roles.iter().map(|r| i32::from(r.code())).collect(),
        disabled: u.disabled,
        created_at: Some(timestamp(u.created_at)),
        updated_at: Some(timestamp(u.updated_at)),
    }
}

/// A role change as it stands at `now` (a proposal nobody answered in time reads EXPIRED).
pub fn role_change(c: RoleChange, now: Timestamp) -> pb::RoleChange {
    let roles = |r: Roles| r.iter().map(|r| i32::from(r.code())).collect();
    pb::RoleChange {
        status: c.status_at(now).code().into(),
        id: c.id,
        user_id: c.user_id.into(),
        roles_before: roles(c.roles_before),
        roles_after: roles(c.roles_after),
        reason: c.reason.unwrap_or_default(),
        requested_by: c.requested_by.into(),
        requested_at: Some(timestamp(c.requested_at)),
        expires_at: Some(timestamp(c.expires_at)),
        decided_by: c.decided_by.map(String::from).unwrap_or_default(),
        decided_at: optional_timestamp(c.decided_at),
        decision_reason: c.decision_reason.unwrap_or_default(),
    }
}

/// A colleague as ListColleagues shows them: who they are and their case roles, nothing more.
pub fn colleague(u: User) -> pb::Colleague {
    pb::Colleague {
        id: u.id.into(),
        username: u.username,
        display_name: u.display_name,
        roles: u.roles.iter().map(|r| i32::from(r.code())).collect(),
    }
}

pub fn channel(view: ChannelView) -> pb::Channel {
    let etag = view.etag();
    let c = view.channel;
    pb::Channel {
        id: c.id.into(),
        proposing_agency: Some(agency(view.proposing)),
        partner_agency: Some(agency(view.partner)),
        categories: view
            .categories
            .iter()
            .filter_map(CategoryCode::known)
            .map(|c| i32::from(c.code()))
            .collect(),
        category_codes: view.categories.iter().map(|c| c.to_string()).collect(),
        status: c.status.code().into(),
        proposed_by: c.proposed_by.into(),
        approved_by: c.approved_by.map(String::from).unwrap_or_default(),
        suspended_by_agency_id: c
            .suspended_by_agency_id
            .map(String::from)
            .unwrap_or_default(),
        created_at: Some(timestamp(c.created_at)),
        updated_at: Some(timestamp(c.updated_at)),
        etag,
    }
}

pub fn case(c: Case, now: Timestamp) -> pb::Case {
    pb::Case {
        etag: c.etag(),
        overdue: c.is_overdue(now),
        id: c.id.into(),
        reference: c.reference,
        channel_id: c.channel_id.into(),
        category: c.category.known().map_or(0, |k| k.code()).into(),
        category_code: c.category.to_string(),
        priority: c.priority.code().into(),
        title: c.title,
        summary: c.summary,
        originating_agency_id: c.originating_agency_id.into(),
        receiving_agency_id: c.receiving_agency_id.into(),
        filed_by: c.filed_by.into(),
        assignee_id: c.assignee_id.map(String::from).unwrap_or_default(),
        status: c.status.code().into(),
        resolution: c.resolution.map(Resolution::code).unwrap_or(0).into(),
        filed_at: Some(timestamp(c.filed_at)),
        updated_at: Some(timestamp(c.updated_at)),
        acknowledged_at: optional_timestamp(c.acknowledged_at),
        closed_at: optional_timestamp(c.closed_at),
        acknowledge_due_at: Some(timestamp(c.acknowledge_due_at)),
        markings: Some(markings(c.markings)),
        kind: c.kind.code().into(),
        decline_ground: c.decline_ground.map_or(0, RefusalGround::code).into(),
        preservation: c.preservation.map(|p| pb::Preservation {
            order: Some(pb::PreservationOrder {
                data: p.order.data,
                custodian: p.order.custodian,
                offence: p.order.offence,
                necessity: p.order.necessity,
                formal_request: p.order.formal_request,
            }),
            status: p.status.code().into(),
            preserved_until: optional_timestamp(p.preserved_until),
            superseded_by: p.superseded_by.unwrap_or_default(),
        }),
        legal_basis_id: c.legal_basis_id.map(String::from).unwrap_or_default(),
        items: c.items.into_iter().map(request_item).collect(),
        response: c.response.map(|r| {
            let received = c.released_at.unwrap_or(c.filed_at);
            response_clock(r, received, c.marks.response_breached, now)
        }),
        released_at: optional_timestamp(c.released_at),
        // Named by the handler (`api::people`), for the whole response at once.
        filer: None,
        assignee: None,
    }
}

/// The answer's clock as it stands at `now`, its time counted from `received`.
/// `marked`: the service recorded the answer BREACHED (an extension since does not undo it).
fn response_clock(
    r: ResponseClock,
    received: Timestamp,
    marked: bool,
    now: Timestamp,
) -> pb::ResponseClock {
    pb::ResponseClock {
        window: Some(duration(r.window)),
        due_at: optional_timestamp(r.due_at),
        paused_since: optional_timestamp(r.paused_since.filter(|_| r.stopped_at.is_none())),
        paused: Some(duration(r.paused_for(now))),
        elapsed: Some(duration(r.elapsed(received, now))),
        stopped_at: optional_timestamp(r.stopped_at),
        breached: marked || r.is_breached(now),
        extensions: r
            .extensions
            .into_iter()
            .map(|e| pb::DeadlineExtension {
                reason: e.reason.code().into(),
                text: e.text.unwrap_or_default(),
                from_due_at: Some(timestamp(e.from)),
                to_due_at: Some(timestamp(e.to)),
                extended_by: e.by.into(),
                extended_at: Some(timestamp(e.at)),
            })
            .collect(),
    }
}

fn request_item(i: RequestItem) -> pb::RequestItem {
    let a = i.answer;
    pb::RequestItem {
        number: i.number,
        text: i.text,
        outcome: a.as_ref().map_or(0, |a| a.outcome.code()).into(),
        answer: a.as_ref().map(|a| a.text.clone()).unwrap_or_default(),
        ground: a
            .as_ref()
            .and_then(|a| a.ground)
            .map_or(0, RefusalGround::code)
            .into(),
        answered_by: a.as_ref().map(|a| a.by.to_string()).unwrap_or_default(),
        answered_at: a.map(|a| timestamp(a.at)),
    }
}

pub fn channel_term(t: ChannelTerm) -> pb::ChannelTerm {
    let (decided_by, decided_at, decision_reason) = decided(t.decision);
    let (retired_by, retired_at, retirement_reason) = decided(t.retirement);
    pb::ChannelTerm {
        id: t.id.into(),
        channel_id: t.channel_id.into(),
        kind: t.kind.code().into(),
        code: t.code,
        title: t.title,
        reference: t.reference.unwrap_or_default(),
        notes: t.notes.unwrap_or_default(),
        status: t.status.code().into(),
        proposing_agency_id: t.proposing_agency_id.into(),
        proposed_by: t.proposed_by.into(),
        proposed_at: Some(timestamp(t.proposed_at)),
        decided_by,
        decided_at,
        decision_reason,
        retired_by,
        retired_at,
        retirement_reason,
        duration: t.span.map(duration),
        percent: t.percent.map_or(0, i32::from),
    }
}

/// A decision as a message's fields carry it: who, when, why; empty when nobody decided.
fn decided(d: Option<Decided>) -> (String, Option<prost_types::Timestamp>, String) {
    match d {
        Some(d) => (
            d.by.into(),
            Some(timestamp(d.at)),
            d.reason.unwrap_or_default(),
        ),
        None => Default::default(),
    }
}

/// A preservation order from a request: every field required, each at most a reason's length.
pub fn preservation_order(
    v: &mut Violations,
    field: &str,
    m: &pb::PreservationOrder,
) -> PreservationOrder {
    let mut text = |name: &str, value: &str| {
        v.check(
            &format!("{field}.{name}"),
            validate::text(value, 1, MAX_REASON_CHARS, true),
        )
    };
    PreservationOrder {
        data: text("data", &m.data),
        custodian: text("custodian", &m.custodian),
        offence: text("offence", &m.offence),
        necessity: text("necessity", &m.necessity),
        formal_request: text("formal_request", &m.formal_request),
    }
}

pub fn markings(m: Markings) -> pb::Markings {
    pb::Markings {
        handling: m.handling.code().into(),
        handling_conditions: m.handling_conditions.unwrap_or_default(),
        source_reliability: m.source_reliability.code().into(),
        information_accuracy: m.information_accuracy.code().into(),
    }
}

/// Markings from a request (under `field`), each code left unspecified taking the default of
/// what is marked. H3 must state its conditions, and only H3 may.
pub fn markings_request(
    v: &mut Violations,
    field: &str,
    m: Option<&pb::Markings>,
) -> MarkingsRequest {
    let Some(m) = m else {
        return MarkingsRequest::default();
    };
    let handling = optional_enum(
        v,
        &format!("{field}.handling"),
        m.handling,
        Handling::from_code,
    );
    let conditions_field = format!("{field}.handling_conditions");
    let handling_conditions = match handling {
        Some(Handling::H3) => Some(
            v.check(
                &conditions_field,
                validate::text(&m.handling_conditions, 1, MAX_REASON_CHARS, true)
                    .map_err(|e| format!("{e} (an H3 marking states its conditions)")),
            ),
        ),
        _ => {
            if !m.handling_conditions.is_empty() {
                v.add(
                    &conditions_field,
                    "only an H3 marking states conditions; leave it empty or mark H3",
                );
            }
            None
        }
    };
    MarkingsRequest {
        handling,
        handling_conditions,
        source_reliability: optional_enum(
            v,
            &format!("{field}.source_reliability"),
            m.source_reliability,
            SourceReliability::from_code,
        ),
        information_accuracy: optional_enum(
            v,
            &format!("{field}.information_accuracy"),
            m.information_accuracy,
            InformationAccuracy::from_code,
        ),
    }
}

/// Complete markings from a request that changes them: every code must be set, so that a change
/// never relaxes a code by leaving it out.
pub fn markings_change(
    v: &mut Violations,
    field: &str,
    m: Option<&pb::Markings>,
) -> Option<Markings> {
    let Some(given) = m else {
        v.add(field, "must be set");
        return None;
    };
    let before = v.len();
    for (name, value) in [
        ("handling", given.handling),
        ("source_reliability", given.source_reliability),
        ("information_accuracy", given.information_accuracy),
    ] {
        if value == 0 {
            v.add(&format!("{field}.{name}"), "must be set");
        }
    }
    let request = markings_request(v, field, m);
    (v.len() == before).then(|| request.or(&Markings::default()))
}

pub fn note(n: Note) -> pb::Note {
    pb::Note {
        id: n.id.into(),
        case_id: n.case_id.into(),
        author_id: n.author_id.into(),
        author_agency_id: n.author_agency_id.into(),
        visibility: n.visibility.code().into(),
        body: n.body,
        created_at: Some(timestamp(n.created_at)),
        markings: Some(markings(n.markings)),
        author: None,
    }
}

pub fn event(e: CaseEvent) -> pb::CaseEvent {
    pb::CaseEvent {
        id: e.id.into(),
        case_id: e.case_id.into(),
        kind: e.kind.code().into(),
        actor_id: e.actor_id,
        actor_agency_id: e.actor_agency_id,
        time: Some(timestamp(e.at)),
        from_status: e.from_status.map(|s| s.code()).unwrap_or(0).into(),
        to_status: e.to_status.map(|s| s.code()).unwrap_or(0).into(),
        reason: e.reason.unwrap_or_default(),
        assignee_id: e.assignee_id.map(String::from).unwrap_or_default(),
        resolution: e.resolution.map(Resolution::code).unwrap_or(0).into(),
        note_id: e.note_id.map(String::from).unwrap_or_default(),
        markings: e.markings.map(markings),
        ground: e.ground.map_or(0, RefusalGround::code).into(),
        preserved_until: optional_timestamp(e.preserved_until),
        move_id: e.move_id.map(String::from).unwrap_or_default(),
        item_number: e.item_number.unwrap_or_default(),
        clock: e.clock.map_or(0, DeadlineClock::code).into(),
        due_at: optional_timestamp(e.due_at),
        extension_reason: e.extension_reason.map_or(0, ExtensionReason::code).into(),
        actor: None,
        assignee: None,
    }
}

pub fn case_move(view: MoveView, now: Timestamp) -> pb::CaseMove {
    let m = view.case_move;
    let (decided_by, decided_at, decision_reason) = decided(m.decision.clone());
    pb::CaseMove {
        status: m.status_at(now).code().into(),
        id: m.id.into(),
        case_id: m.case_id.into(),
        case_reference: view.case_reference,
        action: m.action.code().into(),
        agency_id: m.agency_id.into(),
        requested_by: m.requested_by.into(),
        requested_at: Some(timestamp(m.requested_at)),
        expires_at: Some(timestamp(m.expires_at)),
        reason: m.reason.unwrap_or_default(),
        ground: m.ground.map_or(0, RefusalGround::code).into(),
        markings: m.markings.map(markings),
        decided_by,
        decided_at,
        decision_reason,
        note_id: m.note_id.map(String::from).unwrap_or_default(),
    }
}

pub fn audit_entry(e: AuditEntry) -> pb::AuditEntry {
    let r = e.record;
    pb::AuditEntry {
        sequence: e.seq,
        time: Some(timestamp(r.at)),
        actor_id: r.actor_id.unwrap_or_default(),
        actor_username: r.actor_username.unwrap_or_default(),
        actor_agency_id: r.actor_agency_id.unwrap_or_default(),
        actor_roles: r.actor_roles.iter().map(|r| i32::from(r.code())).collect(),
        method: r.method,
        target_type: r.target_type.unwrap_or_default(),
        target_id: r.target_id.unwrap_or_default(),
        case_id: r.case_id.unwrap_or_default(),
        outcome: r.outcome.code().into(),
        status_code: r.status_code,
        request_id: r.request_id,
        peer: r.peer.unwrap_or_default(),
        event: r.event.unwrap_or_default(),
        refusals: r.refusals.map_or(0, |c| c.count),
        first_refused_time: r.refusals.map(|c| timestamp(c.first_at)),
        handling: r.handling.map_or(0, Handling::code).into(),
        case_originating_agency_id: r.case_originating_agency_id.unwrap_or_default(),
        case_receiving_agency_id: r.case_receiving_agency_id.unwrap_or_default(),
        // Named by QueryAuditLog's handler, for the whole page at once.
        case_reference: String::new(),
        target_username: String::new(),
        prev_hash: e.prev_hash,
        hash: e.hash,
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{
        CaseStatus, Category, ChannelStatus, EventKind, Handling, InformationAccuracy,
        NoteVisibility, Outcome, PreservationStatus, Priority, RefusalGround, RequestKind,
        Resolution, Role, RoleChangeStatus, SourceReliability,
    };
    use crate::pb;

    /// The wire numbers of a proto enum are the domain's codes (which the database stores too),
    /// both ways: every domain value has the proto value of the same name and number, and every
    /// proto value but UNSPECIFIED is a domain value.
    fn pinned<T: Copy + std::fmt::Debug>(
        all: &[T],
        prefix: &str,
        code: impl Fn(T) -> i16,
        name: impl Fn(T) -> &'static str,
        proto_number: impl Fn(&str) -> Option<i32>,
        proto_name: impl Fn(i32) -> Option<&'static str>,
    ) {
        for &value in all {
            let wire = format!("{prefix}{}", name(value));
            assert_eq!(
                proto_number(&wire),
                Some(i32::from(code(value))),
                "{value:?}"
            );
        }
        let named: Vec<i32> = (1..=64).filter(|n| proto_name(*n).is_some()).collect();
        let codes: Vec<i32> = all.iter().map(|v| i32::from(code(*v))).collect();
        assert_eq!(
            named, codes,
            "{prefix}*: proto values without a domain value"
        );
    }

    macro_rules! pin {
        ($domain:ident, $proto:ident, $prefix:literal) => {
            pinned(
                $domain::ALL,
                $prefix,
                $domain::code,
                $domain::as_str,
                |n| pb::$proto::from_str_name(n).map(|v| v as i32),
                |n| pb::$proto::try_from(n).ok().map(|v| v.as_str_name()),
            )
        };
    }

    #[test]
    fn proto_enum_numbers_are_the_domain_codes() {
        pin!(Role, Role, "ROLE_");
        pin!(Category, Category, "CATEGORY_");
        pin!(Priority, Priority, "PRIORITY_");
        pin!(CaseStatus, CaseStatus, "CASE_STATUS_");
        pin!(Resolution, Resolution, "RESOLUTION_");
        pin!(ChannelStatus, ChannelStatus, "CHANNEL_STATUS_");
        pin!(NoteVisibility, NoteVisibility, "NOTE_VISIBILITY_");
        pin!(Outcome, AuditOutcome, "AUDIT_OUTCOME_");
        pin!(EventKind, CaseEventKind, "CASE_EVENT_KIND_");
        pin!(Handling, Handling, "HANDLING_");
        pin!(RequestKind, RequestKind, "REQUEST_KIND_");
        pin!(RefusalGround, RefusalGround, "REFUSAL_GROUND_");
        pin!(
            PreservationStatus,
            PreservationStatus,
            "PRESERVATION_STATUS_"
        );
        pin!(RoleChangeStatus, RoleChangeStatus, "ROLE_CHANGE_STATUS_");
        pin!(SourceReliability, SourceReliability, "SOURCE_RELIABILITY_");
        // Shown as its number; named on the wire.
        pinned(
            InformationAccuracy::ALL,
            "INFORMATION_ACCURACY_",
            InformationAccuracy::code,
            |a| match a {
                InformationAccuracy::KnownTrue => "KNOWN_TRUE",
                InformationAccuracy::KnownToSource => "KNOWN_TO_SOURCE",
                InformationAccuracy::Corroborated => "CORROBORATED",
                InformationAccuracy::CannotBeJudged => "CANNOT_BE_JUDGED",
            },
            |n| pb::InformationAccuracy::from_str_name(n).map(|v| v as i32),
            |n| {
                pb::InformationAccuracy::try_from(n)
                    .ok()
                    .map(|v| v.as_str_name())
            },
        );
    }
}
