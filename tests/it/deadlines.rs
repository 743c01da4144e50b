//! Deadlines both sides hold each other to: the answer's clock that stands still while the case
//! awaits information, extensions with a reason, and DUE_SOON and BREACHED recorded once.

use std::sync::Arc;

use chrono::Duration;
use liaison_server::clock::Clock;
use liaison_server::pb;
use liaison_server::state::AppState;
use tonic::Code;

use crate::common::{assert_code, Backend, Client, World};
use crate::on_both_databases;

on_both_databases!(
    the_answer_clock_stands_still_while_the_case_awaits_information,
    the_receiving_side_extends_a_deadline_once_per_reason,
    due_soon_and_breached_are_recorded_once_however_many_servers_race,
    queues_filter_by_deadline,
    a_channel_agrees_its_own_windows,
    an_admin_sets_the_agencys_time_zone_and_holidays,
);

fn secs(d: &Option<prost_types::Duration>) -> i64 {
    d.as_ref().expect("duration").seconds
}

fn at(t: &Option<prost_types::Timestamp>) -> i64 {
    t.as_ref().expect("timestamp").seconds
}

async fn urgent_request(w: &World, title: &str) -> pb::Case {
    w.file(&w.officer_in, title, pb::Priority::Urgent).await
}

async fn get(who: &Client, id: &str) -> pb::Case {
    who.cases()
        .get_case(pb::GetCaseRequest { id: id.into() })
        .await
        .expect("get case")
        .into_inner()
}

async fn timeline(who: &Client, id: &str) -> Vec<pb::CaseEvent> {
    who.cases()
        .list_case_events(pb::ListCaseEventsRequest {
            case_id: id.into(),
            page_size: 500,
            ..Default::default()
        })
        .await
        .expect("timeline")
        .into_inner()
        .events
}

/// The people of the tests, signed in again: the clock moves past their tokens' lives.
struct Desk {
    officer_in: Client,
    officer_ca: Client,
    sup_ca: Client,
}

async fn desk(w: &World) -> Desk {
    Desk {
        officer_in: w.server.fresh(&w.officer_in).await,
        officer_ca: w.server.fresh(&w.officer_ca).await,
        sup_ca: w.server.fresh(&w.sup_ca).await,
    }
}

/// Acknowledges and assigns `case` to officer.ca.
async fn in_progress(w: &World, case: pb::Case) -> pb::Case {
    let sup_ca = w.server.fresh(&w.sup_ca).await;
    w.acknowledge_and_assign(&sup_ca, case).await
}

async fn the_answer_clock_stands_still_while_the_case_awaits_information(backend: Backend) {
    let w = World::new(backend).await;
    let filed = urgent_request(&w, "Wallet behind the precursor payments").await;
    let clock = filed
        .response
        .clone()
        .expect("a request runs an answer clock");
    let filed_at = at(&filed.filed_at);
    assert_eq!(secs(&clock.window), 8 * 3600);
    assert_eq!(at(&clock.due_at), filed_at + 8 * 3600);
    assert!(clock.paused_since.is_none() && clock.stopped_at.is_none() && !clock.breached);
    let mut spontaneous = w.referral("For your information", pb::Priority::Urgent);
    spontaneous.kind = pb::RequestKind::Spontaneous as i32;
    let spontaneous = w
        .officer_in
        .cases()
        .file_referral(spontaneous)
        .await
        .unwrap()
        .into_inner();
    assert!(spontaneous.response.is_none(), "nothing is owed an answer");

    let case = in_progress(&w, filed).await;
    w.server.clock.advance(Duration::hours(2));
    let d = desk(&w).await;
    let asked = d
        .officer_ca
        .cases()
        .request_information(pb::RequestInformationRequest {
            id: case.id.clone(),
            etag: case.etag,
            question: "Which exchange holds the wallet?".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let paused = asked.response.clone().unwrap();
    assert!(paused.paused_since.is_some(), "{paused:?}");
    // Three hours on the requester's side count for nobody.
    w.server.clock.advance(Duration::hours(3));
    let d = desk(&w).await;
    let waiting = get(&d.officer_in, &case.id).await.response.unwrap();
    assert_eq!(secs(&waiting.paused) / 60, 180);
    assert_eq!(secs(&waiting.elapsed) / 60, 120);
    let answered = d
        .officer_in
        .cases()
        .provide_information(pb::ProvideInformationRequest {
            id: case.id.clone(),
            etag: asked.etag,
            answer: "The one in Tallinn.".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let resumed = answered.response.clone().unwrap();
    assert!(resumed.paused_since.is_none());
    assert_eq!(at(&resumed.due_at) / 60, (filed_at + 11 * 3600) / 60);
    assert_eq!(secs(&resumed.paused) / 60, 180);

    w.server.clock.advance(Duration::hours(1));
    let d = desk(&w).await;
    let closed = d
        .officer_ca
        .cases()
        .close_case(pb::CloseCaseRequest {
            id: case.id.clone(),
            resolution: pb::Resolution::Actioned as i32,
            etag: answered.etag,
        })
        .await
        .unwrap()
        .into_inner();
    let stopped = closed.response.unwrap();
    assert!(stopped.stopped_at.is_some() && !stopped.breached);
    assert_eq!(secs(&stopped.elapsed) / 60, 180);
    // Time after the answer counts for nothing either.
    w.server.clock.advance(Duration::days(3));
    let d = desk(&w).await;
    let later = get(&d.officer_in, &case.id).await.response.unwrap();
    assert_eq!(secs(&later.elapsed), secs(&stopped.elapsed));
    assert!(!later.breached);

    // Each start, pause, resume and stop is in the timeline both sides read.
    let events = timeline(&d.officer_in, &case.id).await;
    let clocked: Vec<(i32, bool)> = events
        .iter()
        .filter(|e| e.clock == pb::DeadlineClock::Response as i32)
        .map(|e| (e.kind, e.due_at.is_some()))
        .collect();
    assert_eq!(
        clocked,
        vec![
            (pb::CaseEventKind::Filed as i32, true),
            (pb::CaseEventKind::InformationRequested as i32, false),
            (pb::CaseEventKind::InformationProvided as i32, true),
            (pb::CaseEventKind::Closed as i32, false),
        ]
    );
    w.stop().await;
}

fn extension(
    case: &pb::Case,
    due_at: i64,
    reason: pb::ExtensionReason,
    text: &str,
) -> pb::ExtendDeadlineRequest {
    pb::ExtendDeadlineRequest {
        id: case.id.clone(),
        etag: case.etag.clone(),
        due_at: Some(prost_types::Timestamp {
            seconds: due_at,
            nanos: 0,
        }),
        reason: reason as i32,
        text: text.into(),
    }
}

/// The fields a refusal's google.rpc.BadRequest names.
fn bad_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

async fn the_receiving_side_extends_a_deadline_once_per_reason(backend: Backend) {
    let w = World::new(backend).await;
    let case = in_progress(&w, urgent_request(&w, "Passport ring").await).await;
    let due = at(&case.response.as_ref().unwrap().due_at);
    let judicial = pb::ExtensionReason::JudicialAuthorisationPending;

    // The requesting side cannot move the other side's deadline.
    assert_code(
        w.officer_in
            .cases()
            .extend_deadline(extension(&case, due + 86_400, judicial, ""))
            .await,
        Code::PermissionDenied,
    );
    // A deadline no later than the one in force, or OTHER without words, changes nothing.
    for (request, field) in [
        (extension(&case, due - 60, judicial, ""), "due_at"),
        (
            extension(&case, due + 86_400, pb::ExtensionReason::Other, ""),
            "text",
        ),
        (
            extension(&case, due + 86_400, pb::ExtensionReason::Unspecified, ""),
            "reason",
        ),
        (extension(&case, due + 400 * 86_400, judicial, ""), "due_at"),
    ] {
        let refused = w
            .sup_ca
            .cases()
            .extend_deadline(request)
            .await
            .expect_err("refused");
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert_eq!(bad_fields(&refused), vec![field.to_string()], "{refused:?}");
    }
    assert_eq!(get(&w.sup_ca, &case.id).await.etag, case.etag);

    let extended = w
        .officer_ca
        .cases()
        .extend_deadline(extension(
            &case,
            due + 2 * 86_400,
            judicial,
            "The magistrate sits on Thursday",
        ))
        .await
        .unwrap()
        .into_inner();
    let clock = extended.response.clone().unwrap();
    assert_eq!(at(&clock.due_at), due + 2 * 86_400);
    assert_eq!(clock.extensions.len(), 1);
    assert_eq!(at(&clock.extensions[0].from_due_at), due);
    assert_eq!(clock.extensions[0].extended_by, w.officer_ca.user_id);

    // The other side sees it at once, with the reason.
    let seen = timeline(&w.officer_in, &case.id).await;
    let event = seen
        .iter()
        .find(|e| e.kind == pb::CaseEventKind::DeadlineExtended as i32)
        .expect("the filer sees the extension");
    assert_eq!(event.extension_reason, judicial as i32);
    assert_eq!(event.reason, "The magistrate sits on Thursday");
    assert_eq!(at(&event.due_at), due + 2 * 86_400);

    // Once per reason; another reason may follow.
    let again = w
        .sup_ca
        .cases()
        .extend_deadline(extension(&extended, due + 3 * 86_400, judicial, ""))
        .await
        .expect_err("a reason extends once");
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert!(again.message().contains("once"), "{}", again.message());
    let twice = w
        .sup_ca
        .cases()
        .extend_deadline(extension(
            &extended,
            due + 3 * 86_400,
            pb::ExtensionReason::Translation,
            "",
        ))
        .await
        .unwrap()
        .into_inner();

    // After the answer, nothing moves.
    let closed = w
        .sup_ca
        .cases()
        .close_case(pb::CloseCaseRequest {
            id: case.id.clone(),
            resolution: pb::Resolution::Actioned as i32,
            etag: twice.etag,
        })
        .await
        .unwrap()
        .into_inner();
    assert_code(
        w.sup_ca
            .cases()
            .extend_deadline(extension(
                &closed,
                due + 9 * 86_400,
                pb::ExtensionReason::Volume,
                "",
            ))
            .await,
        Code::FailedPrecondition,
    );

    // Every attempt is audited, refusals too.
    w.server.sealed().await;
    let entries = w
        .auditor_ca
        .audit()
        .query_audit_log(pb::QueryAuditLogRequest {
            method: "liaison.v1.CaseService/ExtendDeadline".into(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(entries.len(), 9, "{entries:#?}");
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.outcome == pb::AuditOutcome::Allowed as i32)
            .count(),
        2
    );
    w.stop().await;
}

/// Three servers' worth of the service's timer: on PostgreSQL, two more servers opened on the
/// same database (pools, sealers and all); on SQLite, whose one file one server owns, the one
/// server's timer three times at once.
async fn servers(w: &World) -> Vec<AppState> {
    let mut states = vec![w.server.state.clone()];
    for _ in 0..2 {
        if w.server.database_url.starts_with("postgres") {
            let mut config = liaison_server::config::Config::for_data_dir(w.server.data_dir());
            config.database_url = Some(w.server.database_url.clone());
            config.database_max_connections = 4;
            let clock: Arc<dyn Clock> = w.server.clock.clone();
            states.push(liaison_server::open(&config, clock).await.expect("open"));
        } else {
            states.push(w.server.state.clone());
        }
    }
    states
}

async fn race(states: &[AppState]) -> usize {
    let (a, b, c) = tokio::join!(
        liaison_server::domain::deadlines::raise_alarms(&states[0]),
        liaison_server::domain::deadlines::raise_alarms(&states[1]),
        liaison_server::domain::deadlines::raise_alarms(&states[2]),
    );
    a.unwrap() + b.unwrap() + c.unwrap()
}

async fn due_soon_and_breached_are_recorded_once_however_many_servers_race(backend: Backend) {
    let w = World::new(backend).await;
    let states = servers(&w).await;
    // Urgent: acknowledged within 4 hours, answered within 8; each due soon at 75 %.
    let case = urgent_request(&w, "Consignment at the port").await;
    assert_eq!(race(&states).await, 0);
    w.server.clock.advance(Duration::minutes(3 * 60 + 5));
    assert_eq!(race(&states).await, 1, "the acknowledgement is due soon");
    assert_eq!(race(&states).await, 0);
    let case = in_progress(&w, get(&desk(&w).await.sup_ca, &case.id).await).await;
    w.server.clock.advance(Duration::hours(3));
    assert_eq!(race(&states).await, 1, "the answer is due soon");
    w.server.clock.advance(Duration::hours(2));
    assert_eq!(race(&states).await, 1, "the answer is late");
    w.server.clock.advance(Duration::hours(2));
    assert_eq!(race(&states).await, 0, "each once");

    let d = desk(&w).await;
    let events = timeline(&d.officer_in, &case.id).await;
    let alarms: Vec<(i32, i32)> = events
        .iter()
        .filter(|e| {
            e.kind == pb::CaseEventKind::DueSoon as i32
                || e.kind == pb::CaseEventKind::Breached as i32
        })
        .map(|e| (e.kind, e.clock))
        .collect();
    assert_eq!(
        alarms,
        vec![
            (
                pb::CaseEventKind::DueSoon as i32,
                pb::DeadlineClock::Acknowledge as i32
            ),
            (
                pb::CaseEventKind::DueSoon as i32,
                pb::DeadlineClock::Response as i32
            ),
            (
                pb::CaseEventKind::Breached as i32,
                pb::DeadlineClock::Response as i32
            ),
        ]
    );
    let breach = events.last().unwrap();
    assert!(breach.actor_id.is_empty(), "the service records it");
    assert!(breach.reason.contains("overdue by"), "{}", breach.reason);
    assert!(
        get(&d.officer_in, &case.id)
            .await
            .response
            .unwrap()
            .breached
    );

    // An extension sets a new deadline, warned of again; the breach stays recorded.
    let live = get(&d.sup_ca, &case.id).await;
    let now = w.server.clock.now().timestamp();
    d.sup_ca
        .cases()
        .extend_deadline(extension(
            &live,
            now + 8 * 3600,
            pb::ExtensionReason::Volume,
            "",
        ))
        .await
        .unwrap();
    w.server.clock.advance(Duration::hours(7));
    assert_eq!(race(&states).await, 1, "the new deadline is due soon");
    w.server.clock.advance(Duration::hours(2));
    assert_eq!(race(&states).await, 0, "a case breaches once");

    // Each is the service's own audit entry, both sides' to read.
    w.server.sealed().await;
    let auditor = w.server.fresh(&w.auditor_in).await;
    for (method, count) in [("liaisond/due-soon", 3), ("liaisond/breach", 1)] {
        let entries = auditor
            .audit()
            .query_audit_log(pb::QueryAuditLogRequest {
                method: method.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .entries;
        assert_eq!(entries.len(), count, "{method}");
    }
    w.stop().await;
}

async fn references(who: &Client, request: pb::ListCasesRequest) -> Vec<String> {
    let mut refs: Vec<String> = who
        .cases()
        .list_cases(request)
        .await
        .expect("list")
        .into_inner()
        .cases
        .into_iter()
        .map(|c| c.title)
        .collect();
    refs.sort();
    refs
}

async fn queues_filter_by_deadline(backend: Backend) {
    let w = World::new(backend).await;
    // Acknowledgement due in 4 h, 24 h and 72 h; an urgent one worked, its answer due in 8 h.
    w.file(&w.officer_in, "urgent", pb::Priority::Urgent).await;
    w.file(&w.officer_in, "priority", pb::Priority::Priority)
        .await;
    w.file(&w.officer_in, "routine", pb::Priority::Routine)
        .await;
    let worked = urgent_request(&w, "worked").await;
    in_progress(&w, worked).await;

    let within = |hours: i64| pb::ListCasesRequest {
        view: pb::CaseView::Incoming as i32,
        due_within: Some(prost_types::Duration {
            seconds: hours * 3600,
            nanos: 0,
        }),
        ..Default::default()
    };
    assert_eq!(references(&w.sup_ca, within(5)).await, vec!["urgent"]);
    assert_eq!(
        references(&w.sup_ca, within(9)).await,
        vec!["urgent", "worked"]
    );
    assert_eq!(
        references(&w.sup_ca, within(25)).await,
        vec!["priority", "urgent", "worked"]
    );
    let breached = pb::ListCasesRequest {
        view: pb::CaseView::Incoming as i32,
        breached_only: true,
        ..Default::default()
    };
    assert!(references(&w.sup_ca, breached.clone()).await.is_empty());
    w.server.clock.advance(Duration::hours(9));
    let d = desk(&w).await;
    // Past due before the timer says so: the unacknowledged urgent one and the late answer.
    assert_eq!(
        references(&d.sup_ca, breached.clone()).await,
        vec!["urgent", "worked"]
    );
    assert_eq!(
        references(
            &d.officer_in,
            pb::ListCasesRequest {
                view: pb::CaseView::Outgoing as i32,
                ..breached
            }
        )
        .await,
        vec!["urgent", "worked"]
    );

    // A window outside its bounds names the field.
    let refused = d
        .sup_ca
        .cases()
        .list_cases(pb::ListCasesRequest {
            due_within: Some(prost_types::Duration {
                seconds: 0,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .expect_err("a zero window");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&refused), vec!["due_within".to_string()]);
    w.stop().await;
}

fn deadline_term(
    w: &World,
    code: &str,
    duration: Option<i64>,
    percent: i32,
) -> pb::ProposeChannelTermRequest {
    pb::ProposeChannelTermRequest {
        channel_id: w.channel.id.clone(),
        kind: pb::TermKind::Deadline as i32,
        code: code.into(),
        duration: duration.map(|seconds| prost_types::Duration { seconds, nanos: 0 }),
        percent,
        ..Default::default()
    }
}

async fn a_channel_agrees_its_own_windows(backend: Backend) {
    let w = World::new(backend).await;
    let before = urgent_request(&w, "before").await;
    let twelve = w
        .agree_term(deadline_term(
            &w,
            "ANSWER_REQUEST_URGENT",
            Some(12 * 3600),
            0,
        ))
        .await;
    assert_eq!(twelve.title, "answer a URGENT REQUEST within 12 hours");
    assert_eq!(secs(&twelve.duration), 12 * 3600);
    let after = urgent_request(&w, "after").await;
    assert_eq!(secs(&after.response.unwrap().window), 12 * 3600);
    // A referral keeps the window in force when it was filed.
    let before = get(&w.officer_in, &before.id).await;
    assert_eq!(secs(&before.response.unwrap().window), 8 * 3600);

    // A new window is proposed while the old one binds, and replaces it when agreed.
    let sixteen = w
        .agree_term(deadline_term(
            &w,
            "ANSWER_REQUEST_URGENT",
            Some(16 * 3600),
            0,
        ))
        .await;
    let in_force = w
        .officer_ca
        .directory()
        .list_channel_terms(pb::ListChannelTermsRequest {
            channel_id: w.channel.id.clone(),
            kind: pb::TermKind::Deadline as i32,
            include_inactive: true,
        })
        .await
        .unwrap()
        .into_inner()
        .terms;
    let status = |id: &str| in_force.iter().find(|t| t.id == id).map(|t| t.status);
    assert_eq!(status(&sixteen.id), Some(pb::TermStatus::Agreed as i32));
    assert_eq!(status(&twelve.id), Some(pb::TermStatus::Retired as i32));
    let retired = in_force.iter().find(|t| t.id == twelve.id).unwrap();
    assert!(retired.retirement_reason.contains(&sixteen.id));

    // The share after which a deadline is due soon, and an acknowledgement's window.
    w.agree_term(deadline_term(&w, "DUE_SOON", None, 90)).await;
    w.agree_term(deadline_term(&w, "ACKNOWLEDGE_URGENT", Some(2 * 3600), 0))
        .await;
    let case = urgent_request(&w, "strict").await;
    assert_eq!(at(&case.acknowledge_due_at), at(&case.filed_at) + 2 * 3600);
    assert_eq!(secs(&case.response.unwrap().window), 16 * 3600);
    let alarms = || liaison_server::domain::deadlines::raise_alarms(&w.server.state);
    // 85 % of the two hours: not yet; 92 %: due soon.
    w.server.clock.advance(Duration::minutes(102));
    assert_eq!(alarms().await.unwrap(), 0);
    w.server.clock.advance(Duration::minutes(9));
    assert_eq!(alarms().await.unwrap(), 1);

    // A deadline the service does not keep, or a window outside sane bounds, names the field.
    let admin = w.server.fresh(&w.admin_in).await;
    for (request, field) in [
        (deadline_term(&w, "ANSWER_URGENT", Some(3600), 0), "code"),
        (
            deadline_term(&w, "ANSWER_REQUEST_ROUTINE", Some(60), 0),
            "duration",
        ),
        (
            deadline_term(&w, "ACKNOWLEDGE_ROUTINE", Some(40 * 86_400), 0),
            "duration",
        ),
        (
            deadline_term(&w, "ANSWER_REQUEST_ROUTINE", None, 0),
            "duration",
        ),
        (deadline_term(&w, "DUE_SOON", None, 99), "percent"),
        (deadline_term(&w, "DUE_SOON", Some(3600), 80), "duration"),
        (
            pb::ProposeChannelTermRequest {
                kind: pb::TermKind::LegalBasis as i32,
                title: "A treaty".into(),
                ..deadline_term(&w, "CA-IN-MLAT", Some(3600), 0)
            },
            "duration",
        ),
    ] {
        let refused = admin
            .admin()
            .propose_channel_term(request)
            .await
            .expect_err("refused");
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert_eq!(bad_fields(&refused), vec![field.to_string()], "{refused:?}");
    }
    w.stop().await;
}

async fn an_admin_sets_the_agencys_time_zone_and_holidays(backend: Backend) {
    let w = World::new(backend).await;
    let set = |time_zone: Option<&str>, holidays: &[&str]| pb::UpdateAgencyRequest {
        time_zone: time_zone.map(String::from),
        set_holidays: !holidays.is_empty(),
        holidays: holidays.iter().map(|d| d.to_string()).collect(),
    };
    let agency = w
        .admin_in
        .admin()
        .update_agency(set(Some("Asia/Kolkata"), &["2027-08-15", "2027-01-26"]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(agency.id, w.in_ncb.id);
    assert_eq!(agency.time_zone, "Asia/Kolkata");
    assert_eq!(agency.holidays, vec!["2027-01-26", "2027-08-15"]);
    // Only the agency's admin; a zone outside the tz database or a date that is not one names
    // its field, and nothing changes.
    assert_code(
        w.sup_in.admin().update_agency(set(Some("UTC"), &[])).await,
        Code::PermissionDenied,
    );
    for (request, field) in [
        (set(Some("India Standard Time"), &[]), "time_zone"),
        (set(None, &["26/01/2027"]), "holidays"),
    ] {
        let refused = w
            .admin_in
            .admin()
            .update_agency(request)
            .await
            .expect_err("refused");
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert_eq!(bad_fields(&refused), vec![field.to_string()]);
    }
    let listed = w
        .officer_ca
        .directory()
        .list_agencies(pb::ListAgenciesRequest {})
        .await
        .unwrap()
        .into_inner()
        .agencies;
    let india = listed.iter().find(|a| a.id == w.in_ncb.id).unwrap();
    assert_eq!(india.time_zone, "Asia/Kolkata");
    assert_eq!(india.holidays.len(), 2);
    let canada = listed.iter().find(|a| a.id == w.ca_rcmp.id).unwrap();
    assert_eq!(canada.time_zone, "UTC", "until its admin sets it");

    w.server.sealed().await;
    let entries = w
        .auditor_in
        .audit()
        .query_audit_log(pb::QueryAuditLogRequest {
            method: "liaison.v1.AdminService/UpdateAgency".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(entries.len(), 4, "{entries:#?}");
    w.stop().await;
}
