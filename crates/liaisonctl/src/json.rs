//! The JSON form of each message: field names as in the `.proto` files, enum values by their proto
//! names (`CASE_STATUS_FILED`), times as RFC 3339 in UTC (null when absent), and strings as the
//! server sent them (an empty string means "none", as in the protos). Tokens never appear.

use chrono::{DateTime, SecondsFormat, Utc};
use liaison_proto as pb;
use serde_json::{json, Value};

use crate::names::proto_name;

pub fn time(t: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    let t = t?;
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
}

pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

pub fn ts(t: Option<&prost_types::Timestamp>) -> Value {
    time(t).map_or(Value::Null, |t| Value::from(rfc3339(t)))
}

pub fn agency(a: &pb::Agency) -> Value {
    json!({
        "id": a.id,
        "code": a.code,
        "name": a.name,
        "country": a.country,
        "time_zone": a.time_zone,
        "holidays": a.holidays,
    })
}

pub fn user(u: &pb::User) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "display_name": u.display_name,
        "agency_id": u.agency_id,
        "roles": u.roles.iter().map(|r| proto_name::<pb::Role>(*r)).collect::<Vec<_>>(),
        "disabled": u.disabled,
        "created_at": ts(u.created_at.as_ref()),
        "updated_at": ts(u.updated_at.as_ref()),
    })
}

pub fn channel(c: &pb::Channel) -> Value {
    json!({
        "id": c.id,
        "proposing_agency": c.proposing_agency.as_ref().map(agency),
        "partner_agency": c.partner_agency.as_ref().map(agency),
        "categories": c.categories.iter().map(|v| proto_name::<pb::Category>(*v)).collect::<Vec<_>>(),
        "status": proto_name::<pb::ChannelStatus>(c.status),
        "proposed_by": c.proposed_by,
        "approved_by": c.approved_by,
        "created_at": ts(c.created_at.as_ref()),
        "updated_at": ts(c.updated_at.as_ref()),
        "etag": c.etag,
        "suspended_by_agency_id": c.suspended_by_agency_id,
        "category_codes": c.category_codes,
    })
}

pub fn case(c: &pb::Case) -> Value {
    json!({
        "id": c.id,
        "reference": c.reference,
        "channel_id": c.channel_id,
        "category": proto_name::<pb::Category>(c.category),
        "category_code": c.category_code,
        "priority": proto_name::<pb::Priority>(c.priority),
        "title": c.title,
        "summary": c.summary,
        "originating_agency_id": c.originating_agency_id,
        "receiving_agency_id": c.receiving_agency_id,
        "filed_by": c.filed_by,
        "filer": person(c.filer.as_ref()),
        "assignee_id": c.assignee_id,
        "assignee": person(c.assignee.as_ref()),
        "status": proto_name::<pb::CaseStatus>(c.status),
        "resolution": proto_name::<pb::Resolution>(c.resolution),
        "filed_at": ts(c.filed_at.as_ref()),
        "updated_at": ts(c.updated_at.as_ref()),
        "acknowledged_at": ts(c.acknowledged_at.as_ref()),
        "closed_at": ts(c.closed_at.as_ref()),
        "acknowledge_due_at": ts(c.acknowledge_due_at.as_ref()),
        "etag": c.etag,
        "overdue": c.overdue,
        "markings": markings(c.markings.as_ref()),
        "kind": proto_name::<pb::RequestKind>(c.kind),
        "decline_ground": proto_name::<pb::RefusalGround>(c.decline_ground),
        "preservation": c.preservation.as_ref().map(|p| json!({
            "status": proto_name::<pb::PreservationStatus>(p.status),
            "preserved_until": ts(p.preserved_until.as_ref()),
            "superseded_by": p.superseded_by,
            "order": p.order.as_ref().map(|o| json!({
                "data": o.data,
                "custodian": o.custodian,
                "offence": o.offence,
                "necessity": o.necessity,
                "formal_request": o.formal_request,
            })),
        })),
        "legal_basis_id": c.legal_basis_id,
        "response": c.response.as_ref().map(response_clock),
        "items": c.items.iter().map(|i| json!({
            "number": i.number,
            "text": i.text,
            "outcome": proto_name::<pb::ItemOutcome>(i.outcome),
            "answer": i.answer,
            "ground": proto_name::<pb::RefusalGround>(i.ground),
            "answered_by": i.answered_by,
            "answered_at": ts(i.answered_at.as_ref()),
        })).collect::<Vec<_>>(),
    })
}

/// The answer's clock of a case.
fn response_clock(r: &pb::ResponseClock) -> Value {
    json!({
        "window_seconds": r.window.as_ref().map(|d| d.seconds),
        "due_at": ts(r.due_at.as_ref()),
        "paused_since": ts(r.paused_since.as_ref()),
        "paused_seconds": r.paused.as_ref().map(|d| d.seconds),
        "elapsed_seconds": r.elapsed.as_ref().map(|d| d.seconds),
        "stopped_at": ts(r.stopped_at.as_ref()),
        "breached": r.breached,
        "extensions": r.extensions.iter().map(|e| json!({
            "reason": proto_name::<pb::ExtensionReason>(e.reason),
            "text": e.text,
            "from_due_at": ts(e.from_due_at.as_ref()),
            "to_due_at": ts(e.to_due_at.as_ref()),
            "extended_by": e.extended_by,
            "extended_at": ts(e.extended_at.as_ref()),
        })).collect::<Vec<_>>(),
    })
}

pub fn markings(m: Option<&pb::Markings>) -> Value {
    match m {
        None => Value::Null,
        Some(m) => json!({
            "handling": proto_name::<pb::Handling>(m.handling),
            "handling_conditions": m.handling_conditions,
            "source_reliability": proto_name::<pb::SourceReliability>(m.source_reliability),
            "information_accuracy": proto_name::<pb::InformationAccuracy>(m.information_accuracy),
        }),
    }
}

pub fn note(n: &pb::Note) -> Value {
    json!({
        "id": n.id,
        "case_id": n.case_id,
        "author_id": n.author_id,
        "author": person(n.author.as_ref()),
        "author_agency_id": n.author_agency_id,
        "visibility": proto_name::<pb::NoteVisibility>(n.visibility),
        "body": n.body,
        "created_at": ts(n.created_at.as_ref()),
        "markings": markings(n.markings.as_ref()),
    })
}

pub fn event(e: &pb::CaseEvent) -> Value {
    json!({
        "id": e.id,
        "case_id": e.case_id,
        "kind": proto_name::<pb::CaseEventKind>(e.kind),
        "actor_id": e.actor_id,
        "actor": person(e.actor.as_ref()),
        "actor_agency_id": e.actor_agency_id,
        "time": ts(e.time.as_ref()),
        "from_status": proto_name::<pb::CaseStatus>(e.from_status),
        "to_status": proto_name::<pb::CaseStatus>(e.to_status),
        "reason": e.reason,
        "assignee_id": e.assignee_id,
        "assignee": person(e.assignee.as_ref()),
        "resolution": proto_name::<pb::Resolution>(e.resolution),
        "note_id": e.note_id,
        "markings": markings(e.markings.as_ref()),
        "ground": proto_name::<pb::RefusalGround>(e.ground),
        "preserved_until": ts(e.preserved_until.as_ref()),
        "move_id": e.move_id,
        "item_number": e.item_number,
        "clock": proto_name::<pb::DeadlineClock>(e.clock),
        "due_at": ts(e.due_at.as_ref()),
        "extension_reason": proto_name::<pb::ExtensionReason>(e.extension_reason),
    })
}

pub fn channel_term(t: &pb::ChannelTerm) -> Value {
    json!({
        "id": t.id,
        "channel_id": t.channel_id,
        "kind": proto_name::<pb::TermKind>(t.kind),
        "code": t.code,
        "title": t.title,
        "reference": t.reference,
        "notes": t.notes,
        "status": proto_name::<pb::TermStatus>(t.status),
        "proposing_agency_id": t.proposing_agency_id,
        "proposed_by": t.proposed_by,
        "proposed_at": ts(t.proposed_at.as_ref()),
        "decided_by": t.decided_by,
        "decided_at": ts(t.decided_at.as_ref()),
        "decision_reason": t.decision_reason,
        "retired_by": t.retired_by,
        "retired_at": ts(t.retired_at.as_ref()),
        "retirement_reason": t.retirement_reason,
        "duration_seconds": t.duration.as_ref().map(|d| d.seconds),
        "percent": (t.percent != 0).then_some(t.percent),
    })
}

pub fn case_move(m: &pb::CaseMove) -> Value {
    json!({
        "id": m.id,
        "case_id": m.case_id,
        "case_reference": m.case_reference,
        "action": proto_name::<pb::MoveAction>(m.action),
        "agency_id": m.agency_id,
        "requested_by": m.requested_by,
        "requested_at": ts(m.requested_at.as_ref()),
        "expires_at": ts(m.expires_at.as_ref()),
        "status": proto_name::<pb::MoveStatus>(m.status),
        "reason": m.reason,
        "ground": proto_name::<pb::RefusalGround>(m.ground),
        "markings": m.markings.as_ref().map(|k| markings(Some(k))),
        "decided_by": m.decided_by,
        "decided_at": ts(m.decided_at.as_ref()),
        "decision_reason": m.decision_reason,
        "note_id": m.note_id,
    })
}

pub fn role_change(c: &pb::RoleChange) -> Value {
    let roles = |r: &[i32]| {
        r.iter()
            .map(|r| proto_name::<pb::Role>(*r))
            .collect::<Vec<_>>()
    };
    json!({
        "id": c.id,
        "user_id": c.user_id,
        "roles_before": roles(&c.roles_before),
        "roles_after": roles(&c.roles_after),
        "reason": c.reason,
        "requested_by": c.requested_by,
        "requested_at": ts(c.requested_at.as_ref()),
        "expires_at": ts(c.expires_at.as_ref()),
        "status": proto_name::<pb::RoleChangeStatus>(c.status),
        "decided_by": c.decided_by,
        "decided_at": ts(c.decided_at.as_ref()),
        "decision_reason": c.decision_reason,
    })
}

pub fn colleague(c: &pb::Colleague) -> Value {
    json!({
        "id": c.id,
        "username": c.username,
        "display_name": c.display_name,
        "roles": c.roles.iter().map(|r| proto_name::<pb::Role>(*r)).collect::<Vec<_>>(),
    })
}

/// A person the server named, or `null`.
fn person(p: Option<&pb::Person>) -> Value {
    p.map_or(Value::Null, |p| {
        json!({
            "id": p.id,
            "username": p.username,
            "display_name": p.display_name,
            "agency_code": p.agency_code,
        })
    })
}

pub fn audit_entry(e: &pb::AuditEntry) -> Value {
    json!({
        "sequence": e.sequence,
        "time": ts(e.time.as_ref()),
        "actor_id": e.actor_id,
        "actor_username": e.actor_username,
        "actor_agency_id": e.actor_agency_id,
        "actor_roles": e.actor_roles.iter().map(|r| proto_name::<pb::Role>(*r)).collect::<Vec<_>>(),
        "method": e.method,
        "target_type": e.target_type,
        "target_id": e.target_id,
        "case_id": e.case_id,
        "case_originating_agency_id": e.case_originating_agency_id,
        "case_receiving_agency_id": e.case_receiving_agency_id,
        "case_reference": e.case_reference,
        "target_username": e.target_username,
        "outcome": proto_name::<pb::AuditOutcome>(e.outcome),
        "status_code": e.status_code,
        "request_id": e.request_id,
        "peer": e.peer,
        "event": e.event,
        "refusals": e.refusals,
        "first_refused_time": ts(e.first_refused_time.as_ref()),
        "handling": proto_name::<pb::Handling>(e.handling),
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    })
}

pub fn checkpoint(c: &pb::Checkpoint) -> Value {
    json!({
        "sequence": c.sequence,
        "hash": c.hash,
        "time": ts(c.time.as_ref()),
        "key_id": c.key_id,
        "signature": c.signature,
    })
}

/// A checkpoint kept earlier: as `liaisonctl audit checkpoint` writes it, or as
/// `liaisond audit checkpoint` prints it (`seq`, `at`, `kid`).
#[derive(serde::Deserialize)]
struct KeptCheckpoint {
    #[serde(alias = "seq")]
    sequence: i64,
    hash: String,
    #[serde(alias = "at")]
    time: DateTime<Utc>,
    #[serde(alias = "kid")]
    key_id: String,
    signature: String,
}

pub fn parse_checkpoint(text: &str) -> Result<pb::Checkpoint, String> {
    let kept: KeptCheckpoint = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok(pb::Checkpoint {
        sequence: kept.sequence,
        hash: kept.hash,
        time: Some(timestamp(kept.time)),
        key_id: kept.key_id,
        signature: kept.signature,
    })
}

pub fn verification(v: &pb::VerifyAuditChainResponse) -> Value {
    json!({
        "ok": v.ok,
        "entries_checked": v.entries_checked,
        "checkpoints_checked": v.checkpoints_checked,
        "first_bad_sequence": v.first_bad_sequence,
        "problem": v.problem,
        "head_sequence": v.head_sequence,
    })
}

pub fn jwk(k: &pb::Jwk) -> Value {
    json!({ "kty": k.kty, "crv": k.crv, "x": k.x, "kid": k.kid, "alg": k.alg, "use": k.r#use })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_round_trip_in_both_shapes() {
        let original = pb::Checkpoint {
            sequence: 7,
            hash: "ab".into(),
            time: Some(prost_types::Timestamp {
                seconds: 1_780_000_000,
                nanos: 123_456_000,
            }),
            key_id: "k1".into(),
            signature: "cd".into(),
        };
        let text = checkpoint(&original).to_string();
        assert_eq!(parse_checkpoint(&text).unwrap(), original);
        let liaisond = r#"{"seq":7,"hash":"ab","at":"2026-05-28T20:26:40.123456Z","kid":"k1","signature":"cd"}"#;
        assert_eq!(parse_checkpoint(liaisond).unwrap(), original);
    }

    #[test]
    fn cases_use_proto_names_and_null_times() {
        let c = pb::Case {
            status: pb::CaseStatus::InProgress as i32,
            category: pb::Category::Drugs as i32,
            ..Default::default()
        };
        let v = case(&c);
        assert_eq!(v["status"], "CASE_STATUS_IN_PROGRESS");
        assert_eq!(v["category"], "CATEGORY_DRUGS");
        assert_eq!(v["resolution"], "RESOLUTION_UNSPECIFIED");
        assert!(v["closed_at"].is_null());
    }
}
