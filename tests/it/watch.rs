//! Live queues: `CaseService/WatchCases` delivers the events a caller may see as they commit,
//! resumes without missing any, drops a watcher that stops reading, ends when the caller's access
//! does, and reaches watchers on another `liaisond` process through PostgreSQL.

use std::process::Command;
use std::time::Duration;

use liaison_server::pb;
use tonic::{Code, Streaming};

use crate::common::{assert_code, Backend, Bearer, Client, World};
use crate::on_both_databases;

on_both_databases!(
    watchers_see_what_they_may_as_it_happens,
    a_resumed_watcher_misses_nothing,
    a_watcher_that_stops_reading_is_dropped,
    a_stream_ends_with_the_callers_access,
    escalations_reach_watchers,
    bad_watch_requests_are_refused,
    one_user_cannot_hold_more_than_their_share_of_streams,
    a_stopping_server_sends_its_watchers_elsewhere,
);

/// How long a test waits for a message it expects.
const PATIENCE: Duration = Duration::from_secs(10);

fn watch_request(view: pb::CaseView) -> pb::WatchCasesRequest {
    pb::WatchCasesRequest {
        view: view as i32,
        ..Default::default()
    }
}

/// Opens a watch and reads its first message, the heartbeat that says it is live.
/// A server stopping gracefully ends its streams with UNAVAILABLE and says why (the client resumes
/// on another server); it is not a failure of the database.
async fn a_stopping_server_sends_its_watchers_elsewhere(backend: Backend) {
    let w = World::new(backend).await;
    let (mut stream, _) = watch(&w.sup_ca, pb::WatchCasesRequest::default()).await;
    let stopping = tokio::spawn(w.stop());
    let ended = loop {
        match tokio::time::timeout(PATIENCE, stream.message()).await {
            Ok(Ok(Some(_heartbeat))) => continue,
            Ok(Err(status)) => break status,
            other => panic!("the stream ended without saying why: {other:?}"),
        }
    };
    assert_eq!(ended.code(), tonic::Code::Unavailable);
    assert!(
        ended.message().contains("shutting down"),
        "{}",
        ended.message()
    );
    stopping.await.unwrap();
}

async fn watch(
    who: &Client,
    request: pb::WatchCasesRequest,
) -> (Streaming<pb::WatchCasesResponse>, String) {
    let mut stream = who
        .cases()
        .watch_cases(request)
        .await
        .expect("open watch")
        .into_inner();
    let first = next(&mut stream).await;
    assert!(first.event.is_none(), "the first message is a heartbeat");
    assert!(!first.resume_token.is_empty());
    (stream, first.resume_token)
}

/// The next message, heartbeats included.
async fn next(stream: &mut Streaming<pb::WatchCasesResponse>) -> pb::WatchCasesResponse {
    tokio::time::timeout(PATIENCE, stream.message())
        .await
        .expect("a message in time")
        .expect("the stream is healthy")
        .expect("the stream is open")
}

/// The next event, skipping heartbeats.
async fn next_event(stream: &mut Streaming<pb::WatchCasesResponse>) -> pb::WatchCasesResponse {
    loop {
        let message = next(stream).await;
        if message.event.is_some() {
            return message;
        }
    }
}

/// Asserts no event arrives within `wait` (heartbeats may).
async fn assert_quiet(stream: &mut Streaming<pb::WatchCasesResponse>, wait: Duration) {
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(message) = tokio::time::timeout_at(deadline, stream.message()).await {
        let message = message.expect("healthy").expect("open");
        assert!(message.event.is_none(), "unexpected event: {message:?}");
    }
}

fn kind(message: &pb::WatchCasesResponse) -> pb::CaseEventKind {
    message.event.as_ref().expect("an event").kind()
}

fn case_id(message: &pb::WatchCasesResponse) -> &str {
    &message.event.as_ref().expect("an event").case_id
}

async fn watchers_see_what_they_may_as_it_happens(backend: Backend) {
    let w = World::new(backend).await;
    let (mut sup_ca, _) = watch(&w.sup_ca, watch_request(pb::CaseView::Incoming)).await;
    let (mut sup_in, _) = watch(&w.sup_in, watch_request(pb::CaseView::All)).await;
    let (mut officer_ca, _) = watch(&w.officer_ca, watch_request(pb::CaseView::All)).await;
    let mut filed_only = watch_request(pb::CaseView::Incoming);
    filed_only.statuses = vec![pb::CaseStatus::Filed as i32];
    let (mut sup_ca_filed, _) = watch(&w.sup_ca, filed_only).await;

    let case = w
        .file(&w.officer_in, "Precursor shipment", pb::Priority::Urgent)
        .await;
    let seen = next_event(&mut sup_ca).await;
    assert_eq!(kind(&seen), pb::CaseEventKind::Filed);
    assert_eq!(case_id(&seen), case.id);
    let seen_case = seen.case.as_ref().expect("the case comes along");
    assert_eq!(seen_case.reference, case.reference);
    assert_eq!(seen_case.status(), pb::CaseStatus::Filed);
    assert_eq!(
        kind(&next_event(&mut sup_ca_filed).await),
        pb::CaseEventKind::Filed
    );

    // Acknowledging takes the case out of the FILED queue: that watcher sees it leave.
    let acked = w
        .sup_ca
        .cases()
        .acknowledge_case(pb::AcknowledgeCaseRequest {
            id: case.id.clone(),
            etag: case.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        kind(&next_event(&mut sup_ca).await),
        pb::CaseEventKind::Acknowledged
    );
    let left = next_event(&mut sup_ca_filed).await;
    assert_eq!(kind(&left), pb::CaseEventKind::Acknowledged);
    assert_eq!(left.case.unwrap().status(), pb::CaseStatus::Acknowledged);

    // Canada's internal note stays in Canada.
    w.sup_ca
        .cases()
        .add_note(pb::AddNoteRequest {
            markings: None,
            case_id: case.id.clone(),
            body: "Internal: informant is reliable".into(),
            visibility: pb::NoteVisibility::Internal as i32,
        })
        .await
        .unwrap();
    assert_eq!(
        kind(&next_event(&mut sup_ca).await),
        pb::CaseEventKind::NoteAdded
    );

    // The Canadian officer sees the case from the moment it is assigned to them.
    w.sup_ca
        .cases()
        .assign_case(pb::AssignCaseRequest {
            id: case.id.clone(),
            assignee_id: w.officer_ca.user_id.clone(),
            etag: acked.etag,
        })
        .await
        .unwrap();
    let assigned = next_event(&mut officer_ca).await;
    assert_eq!(kind(&assigned), pb::CaseEventKind::Assigned);
    assert_eq!(
        assigned.case.unwrap().assignee_id,
        w.officer_ca.user_id,
        "and nothing before it"
    );
    assert_eq!(
        kind(&next_event(&mut sup_ca).await),
        pb::CaseEventKind::Assigned
    );
    for expected in [
        pb::CaseEventKind::Filed,
        pb::CaseEventKind::Acknowledged,
        pb::CaseEventKind::Assigned,
    ] {
        assert_eq!(kind(&next_event(&mut sup_in).await), expected);
    }
    assert_quiet(&mut sup_in, Duration::from_millis(300)).await;

    // Each delivery is audited as a read of the case, visible to the case's auditors.
    let entries = w
        .auditor_ca
        .audit()
        .query_audit_log(pb::QueryAuditLogRequest {
            case_id: case.id.clone(),
            method: "liaison.v1.CaseService/WatchCases".into(),
            actor_id: w.officer_ca.user_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].event, "watch-delivery");
    assert_eq!(entries[0].outcome(), pb::AuditOutcome::Allowed);
    // India's auditor does not see Canada's watcher reading Canada's internal note.
    let deliveries_seen_by = |auditor: &Client| {
        let mut audit = auditor.audit();
        let query = pb::QueryAuditLogRequest {
            case_id: case.id.clone(),
            method: "liaison.v1.CaseService/WatchCases".into(),
            ..Default::default()
        };
        async move {
            audit
                .query_audit_log(query)
                .await
                .unwrap()
                .into_inner()
                .entries
        }
    };
    let india_sees = deliveries_seen_by(&w.auditor_in).await;
    let canada_sees = deliveries_seen_by(&w.auditor_ca).await;
    assert_eq!(canada_sees.len(), india_sees.len() + 1);
    w.stop().await;
}

async fn a_resumed_watcher_misses_nothing(backend: Backend) {
    let w = World::new(backend).await;
    let (mut stream, _) = watch(&w.sup_ca, watch_request(pb::CaseView::Incoming)).await;
    let first = w.file(&w.officer_in, "first", pb::Priority::Routine).await;
    let seen = next_event(&mut stream).await;
    assert_eq!(case_id(&seen), first.id);
    drop(stream);

    // While nobody watches, more happens.
    let mut missed = Vec::new();
    for i in 0..6 {
        let case = w
            .file(&w.officer_in, &format!("missed {i}"), pb::Priority::Routine)
            .await;
        missed.push(case.id);
    }
    w.sup_ca
        .cases()
        .acknowledge_case(pb::AcknowledgeCaseRequest {
            id: first.id.clone(),
            etag: seen.case.clone().unwrap().etag,
        })
        .await
        .unwrap();
    missed.push(first.id.clone());
    missed.push(
        w.file(&w.officer_in, "missed 6", pb::Priority::Routine)
            .await
            .id,
    );

    let mut resumed = watch_request(pb::CaseView::Incoming);
    resumed.resume_token = seen.resume_token.clone();
    let mut stream = w
        .sup_ca
        .cases()
        .watch_cases(resumed)
        .await
        .unwrap()
        .into_inner();
    let mut got = Vec::new();
    let mut event_ids = Vec::new();
    while got.len() < missed.len() {
        let message = next_event(&mut stream).await;
        got.push(case_id(&message).to_string());
        event_ids.push(message.event.unwrap().id);
    }
    assert_eq!(got, missed, "every event, in commit order");
    assert!(
        !event_ids.contains(&seen.event.clone().unwrap().id),
        "nothing twice"
    );
    assert_quiet(&mut stream, Duration::from_millis(300)).await;

    // A token is the caller's own: another user cannot resume from it.
    let mut stolen = watch_request(pb::CaseView::Incoming);
    stolen.resume_token = seen.resume_token;
    assert_code(
        w.sup_in.cases().watch_cases(stolen).await,
        Code::InvalidArgument,
    );
    w.stop().await;
}

async fn a_watcher_that_stops_reading_is_dropped(backend: Backend) {
    let w = World::with_config(backend, |config| {
        config.watch_buffer = 2;
        config.watch_stall_seconds = 1;
    })
    .await;
    // A client with a small HTTP/2 window, so the server's buffer fills quickly.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", w.server.addr))
        .unwrap()
        .initial_stream_window_size(65_535)
        .initial_connection_window_size(65_535)
        .connect()
        .await
        .unwrap();
    let client = pb::case_service_client::CaseServiceClient::with_interceptor(
        channel,
        Bearer::token(&w.sup_ca.bearer_token()),
    );
    let mut stream = client
        .clone()
        .watch_cases(watch_request(pb::CaseView::Incoming))
        .await
        .unwrap()
        .into_inner();
    assert!(next(&mut stream).await.event.is_none());

    // Large summaries: a dozen events are more than the window and the buffer together hold.
    let long = "x".repeat(19_000);
    for i in 0..12 {
        let mut referral = w.referral(&format!("bulk {i}"), pb::Priority::Routine);
        referral.summary = long.clone();
        w.officer_in.cases().file_referral(referral).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    // What was buffered still arrives, then the status that says what happened and what to do.
    let mut delivered = 0;
    let status = loop {
        match tokio::time::timeout(PATIENCE, stream.message())
            .await
            .unwrap()
        {
            Ok(Some(message)) => {
                if message.event.is_some() {
                    delivered += 1;
                }
            }
            Ok(None) => panic!("the stream ended without a status"),
            Err(status) => break status,
        }
    };
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("resume_token"),
        "{}",
        status.message()
    );
    assert!(delivered < 12, "the watcher was dropped, not waited for");
    w.stop().await;
}

async fn a_stream_ends_with_the_callers_access(backend: Backend) {
    let w = World::with_config(backend, |config| config.watch_heartbeat_seconds = 1).await;
    let (mut stream, _) = watch(&w.sup_ca, watch_request(pb::CaseView::Incoming)).await;
    w.admin_ca
        .admin()
        .revoke_sessions(pb::RevokeSessionsRequest {
            user_id: w.sup_ca.user_id.clone(),
        })
        .await
        .unwrap();
    let ended = loop {
        match tokio::time::timeout(PATIENCE, stream.message())
            .await
            .unwrap()
        {
            Ok(Some(message)) => assert!(message.event.is_none()),
            Ok(None) => panic!("the stream ended without a status"),
            Err(status) => break status,
        }
    };
    assert_eq!(ended.code(), Code::Unauthenticated);

    // An expired access token ends the stream too, even while events flow.
    let (mut stream, _) = watch(&w.sup_in, watch_request(pb::CaseView::Outgoing)).await;
    w.server.clock.advance(chrono::Duration::minutes(16));
    let officer = w.server.fresh(&w.officer_in).await;
    w.file(&officer, "after expiry", pb::Priority::Routine)
        .await;
    let ended = loop {
        match tokio::time::timeout(PATIENCE, stream.message())
            .await
            .unwrap()
        {
            Ok(Some(message)) => assert!(message.event.is_none(), "no event after expiry"),
            Ok(None) => panic!("the stream ended without a status"),
            Err(status) => break status,
        }
    };
    assert_eq!(ended.code(), Code::Unauthenticated);
    w.stop().await;
}

async fn escalations_reach_watchers(backend: Backend) {
    let w = World::new(backend).await;
    let mut overdue = watch_request(pb::CaseView::Incoming);
    overdue.overdue_only = true;
    let (mut stream, _) = watch(&w.sup_ca, overdue).await;
    let urgent = w.file(&w.officer_in, "urgent", pb::Priority::Urgent).await;
    assert_quiet(&mut stream, Duration::from_millis(300)).await;

    w.server.clock.advance(chrono::Duration::hours(5));
    // Watchers must outlive their tokens' expiry in this test: sign in again and re-watch.
    let sup_ca = w.server.fresh(&w.sup_ca).await;
    let mut overdue = watch_request(pb::CaseView::Incoming);
    overdue.overdue_only = true;
    let (mut stream, _) = watch(&sup_ca, overdue).await;
    assert_eq!(
        liaison_server::domain::cases::escalate_overdue(&w.server.state)
            .await
            .unwrap(),
        1
    );
    let escalated = next_event(&mut stream).await;
    assert_eq!(kind(&escalated), pb::CaseEventKind::Escalated);
    assert_eq!(case_id(&escalated), urgent.id);
    assert!(escalated.case.unwrap().overdue);
    w.stop().await;
}

async fn bad_watch_requests_are_refused(backend: Backend) {
    let w = World::new(backend).await;
    assert_code(
        w.auditor_ca
            .cases()
            .watch_cases(watch_request(pb::CaseView::All))
            .await,
        Code::PermissionDenied,
    );
    let mut bad = watch_request(pb::CaseView::All);
    bad.view = 42;
    bad.channel_id = "not-a-uuid".into();
    bad.resume_token = "forged".into();
    let status = w.sup_ca.cases().watch_cases(bad).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().contains("view"), "{}", status.message());
    assert!(
        status.message().contains("channel_id"),
        "{}",
        status.message()
    );
    let mut forged = watch_request(pb::CaseView::All);
    forged.resume_token = "forged".into();
    let status = w.sup_ca.cases().watch_cases(forged).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("resume_token"),
        "{}",
        status.message()
    );
    assert_code(
        w.server
            .anonymous()
            .cases()
            .watch_cases(watch_request(pb::CaseView::All))
            .await,
        Code::Unauthenticated,
    );
    w.stop().await;
}

/// An event committed through one server reaches a watcher on another `liaisond` process within a
/// second (PostgreSQL NOTIFY), and a watcher resumed on a third misses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(liaison_test_postgres),
    ignore = "PostgreSQL: set LIAISON_TEST_POSTGRES_URL to run it"
)]
async fn events_reach_watchers_on_another_process() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let w = World::new(backend).await;
    let key_dir = w.server.data_dir().join("keys");
    let mut replicas: Vec<crate::replicas::Replica> = (0..2)
        .map(|i| {
            crate::replicas::start_replica(
                &w.server.database_url,
                &key_dir,
                &w.server.data_dir().join(format!("replica-{i}")),
            )
        })
        .collect();
    let on_replica = |i: usize| {
        pb::case_service_client::CaseServiceClient::with_interceptor(
            replicas[i].channel.clone(),
            Bearer::token(&w.sup_ca.bearer_token()),
        )
    };
    let mut stream = on_replica(0)
        .watch_cases(watch_request(pb::CaseView::Incoming))
        .await
        .unwrap()
        .into_inner();
    assert!(next(&mut stream).await.event.is_none());

    let mut seen = None;
    for i in 0..3 {
        let case = w
            .file(&w.officer_in, &format!("across {i}"), pb::Priority::Routine)
            .await;
        let filed_at = std::time::Instant::now();
        let message = next_event(&mut stream).await;
        let latency = filed_at.elapsed();
        assert_eq!(case_id(&message), case.id);
        assert!(latency < Duration::from_secs(1), "took {latency:?}");
        seen = Some(message);
    }
    drop(stream);

    let after = w
        .file(&w.officer_in, "while away", pb::Priority::Routine)
        .await;
    let mut resumed = watch_request(pb::CaseView::Incoming);
    resumed.resume_token = seen.unwrap().resume_token;
    let mut stream = on_replica(1)
        .watch_cases(resumed)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(case_id(&next_event(&mut stream).await), after.id);
    drop(stream);

    for replica in &mut replicas {
        Command::new("kill")
            .args(["-TERM", &replica.child.id().to_string()])
            .status()
            .unwrap();
        assert!(replica.child.wait().unwrap().success());
    }
    w.stop().await;
}

async fn one_user_cannot_hold_more_than_their_share_of_streams(backend: Backend) {
    let w = World::with_config(backend, |config| {
        config.max_watch_streams = 5;
        config.max_watch_streams_per_user = 3;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(
            watch(&w.sup_ca, watch_request(pb::CaseView::Incoming))
                .await
                .0,
        );
    }
    let refused = w
        .sup_ca
        .cases()
        .watch_cases(watch_request(pb::CaseView::Incoming))
        .await
        .expect_err("a fourth stream of one user");
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert!(
        refused.message().contains("as many as one user may"),
        "{}",
        refused.message()
    );
    // Others still get streams, up to the server's bound.
    let (_other, _) = watch(&w.sup_in, watch_request(pb::CaseView::Incoming)).await;
    let (_third, _) = watch(&w.officer_ca, watch_request(pb::CaseView::All)).await;
    let server_full = w
        .officer_in
        .cases()
        .watch_cases(watch_request(pb::CaseView::All))
        .await
        .expect_err("the server's bound");
    assert!(
        server_full.message().contains("this server has as many"),
        "{}",
        server_full.message()
    );
    // A stream closed gives its user the place back.
    drop(held.pop());
    let mut reopened = None;
    for _ in 0..50 {
        match w
            .sup_ca
            .cases()
            .watch_cases(watch_request(pb::CaseView::Incoming))
            .await
        {
            Ok(stream) => {
                reopened = Some(stream);
                break;
            }
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    assert!(reopened.is_some(), "the closed stream's place came back");
}
