//! The audit log: one entry for every call, allowed, denied or failed; scoped queries for auditors;
//! and a change committed together with its entry or not at all.

use liaison_server::chain::{first_break, AuditEntry, GENESIS_HASH};
use liaison_server::clock::Clock;
use liaison_server::model::Outcome;
use liaison_server::pb;
use sea_orm::ConnectionTrait;
use tonic::Code;

use crate::common::{assert_code, Backend, World};
use crate::on_both_databases;

on_both_databases!(
    every_call_writes_one_entry_with_its_outcome,
    auditors_see_their_agency_and_its_cases_only,
    a_change_and_its_entry_commit_together,
    an_auditor_cannot_hold_up_the_service,
    a_flood_of_unauthenticated_calls_adds_a_handful_of_summaries,
    a_time_range_finds_exactly_its_entries_through_the_checkpoints,
    the_log_names_cases_and_users_its_reader_may_know,
);

/// Auditors read cases by reference and users by username — but only cases their agency may know:
/// an entry of their own officer's refused look at another pair's case keeps it unnamed.
async fn the_log_names_cases_and_users_its_reader_may_know(backend: Backend) {
    let w = World::new(backend).await;
    let case = w
        .file(&w.officer_in, "Named in the log", pb::Priority::Routine)
        .await;
    let get = |id: &str| pb::GetCaseRequest { id: id.to_string() };
    w.sup_ca.cases().get_case(get(&case.id)).await.unwrap();
    let refused = w.sup_us.cases().get_case(get(&case.id)).await;
    assert_eq!(refused.unwrap_err().code(), Code::NotFound);
    w.admin_in
        .admin()
        .update_user(pb::UpdateUserRequest {
            id: w.officer_in.user_id.clone(),
            display_name: Some("Asha Rao".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let auditor_us = w
        .server
        .user(
            "US-FBI",
            "auditor.us",
            &[liaison_server::model::Role::Auditor],
        )
        .await;

    for auditor in [&w.auditor_in, &w.auditor_ca] {
        let about = every_page(
            auditor,
            pb::QueryAuditLogRequest {
                case_id: case.id.clone(),
                ..Default::default()
            },
        )
        .await;
        assert!(!about.is_empty());
        assert!(about.iter().all(|e| e.case_reference == case.reference));
    }
    let looks = every_page(
        &auditor_us,
        pb::QueryAuditLogRequest {
            actor_id: w.sup_us.user_id.clone(),
            ..Default::default()
        },
    )
    .await;
    let look = looks.iter().find(|e| e.case_id == case.id).unwrap();
    assert_eq!(look.outcome, pb::AuditOutcome::Denied as i32);
    assert_eq!(
        look.case_reference, "",
        "the US may not learn the reference"
    );
    let renamed = every_page(
        &w.auditor_in,
        pb::QueryAuditLogRequest {
            method: "liaison.v1.AdminService/UpdateUser".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(renamed[0].target_username, "officer.in");
    // A US admin's refused change of an Indian user: the US auditor does not learn the username.
    let admin_us = w
        .server
        .user("US-FBI", "admin.us", &[liaison_server::model::Role::Admin])
        .await;
    let foreign = admin_us
        .admin()
        .update_user(pb::UpdateUserRequest {
            id: w.officer_in.user_id.clone(),
            display_name: Some("Someone else".into()),
            ..Default::default()
        })
        .await;
    assert_eq!(foreign.unwrap_err().code(), Code::NotFound);
    let tried = every_page(
        &auditor_us,
        pb::QueryAuditLogRequest {
            method: "liaison.v1.AdminService/UpdateUser".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(tried[0].target_id, w.officer_in.user_id);
    assert_eq!(
        tried[0].target_username, "",
        "the US may not learn the username"
    );
    w.stop().await;
}

/// Every page of an auditor's query, following the page tokens.
async fn every_page(
    who: &crate::common::Client,
    request: pb::QueryAuditLogRequest,
) -> Vec<pb::AuditEntry> {
    let mut entries = Vec::new();
    let mut token = String::new();
    loop {
        let page = who
            .audit()
            .query_audit_log(pb::QueryAuditLogRequest {
                page_token: token,
                ..request.clone()
            })
            .await
            .unwrap()
            .into_inner();
        entries.extend(page.entries);
        if page.next_page_token.is_empty() {
            return entries;
        }
        token = page.next_page_token;
    }
}

/// Periods of calls, each sealed within it, and one record of the first period sealed minutes
/// late (as after a sealer outage): each period's range answers exactly the entries recorded in it,
/// however the pages fall, by actor and by method alike; and the chain, with the late batch
/// noted on its checkpoint, verifies.
async fn a_time_range_finds_exactly_its_entries_through_the_checkpoints(backend: Backend) {
    let w = World::new(backend).await;
    let case = w
        .file(&w.officer_in, "By the hour", pb::Priority::Routine)
        .await;
    // Two minutes each (the margin a checkpoint's time is read with is ten seconds); the clock
    // stays inside the access tokens' life.
    let period = chrono::Duration::minutes(2);
    w.server.clock.advance(period);
    let mut hours = Vec::new();
    for hour in 0..3 {
        let start = w.server.clock.now();
        hours.push(start);
        for _ in 0..hour + 3 {
            w.officer_in
                .cases()
                .get_case(pb::GetCaseRequest {
                    id: case.id.clone(),
                })
                .await
                .unwrap();
            w.server.clock.advance(chrono::Duration::seconds(20));
        }
        w.server.sealed().await;
        let spent = w.server.clock.now() - start;
        w.server.clock.advance(period - spent);
    }
    w.server.clock.advance(chrono::Duration::minutes(3));
    let mut late = all_entries(&w)
        .await
        .into_iter()
        .rev()
        .find(|e| e.record.method.ends_with("/GetCase"))
        .unwrap()
        .record;
    late.at = hours[0] + chrono::Duration::seconds(110);
    late.request_id = uuid::Uuid::new_v4().to_string();
    let state = &w.server.state;
    let tx = state.db.begin().await.unwrap();
    liaison_server::audit::append(&tx, &state.keys.current(), late.clone())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    w.server.sealed().await;

    let stamp = |t: chrono::DateTime<chrono::Utc>| prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    };
    let recorded = all_entries(&w).await;
    for (hour, start) in hours.iter().enumerate() {
        let end = *start + period;
        let expected: Vec<i64> = recorded
            .iter()
            .rev()
            // Times travel in microseconds.
            .filter(|e| {
                let at = e.record.at.timestamp_micros();
                at >= start.timestamp_micros() && at < end.timestamp_micros()
            })
            .filter(|e| e.record.actor_id.as_deref() == Some(w.officer_in.user_id.as_str()))
            .map(|e| e.seq)
            .collect();
        assert_eq!(expected.len(), hour + 3 + usize::from(hour == 0));
        for narrowing in [
            pb::QueryAuditLogRequest {
                actor_id: w.officer_in.user_id.clone(),
                ..Default::default()
            },
            pb::QueryAuditLogRequest {
                method: "liaison.v1.CaseService/GetCase".into(),
                ..Default::default()
            },
        ] {
            let found = every_page(
                &w.auditor_in,
                pb::QueryAuditLogRequest {
                    since: Some(stamp(*start)),
                    until: Some(stamp(end)),
                    page_size: 2,
                    ..narrowing
                },
            )
            .await;
            let found: Vec<i64> = found.iter().map(|e| e.sequence).collect();
            assert_eq!(found, expected, "hour {hour}");
        }
    }

    let report = liaison_server::audit::verify::verify(
        &state.db,
        &state.keys.current(),
        state.clock.now(),
        None,
        None,
    )
    .await
    .unwrap();
    assert!(report.ok, "{:?}", report.problem);
    w.stop().await;
}

async fn all_entries(w: &World) -> Vec<AuditEntry> {
    w.server.sealed().await;
    let tx = w.server.state.db.begin().await.unwrap();
    liaison_server::repo::audit::range(&tx, 1, 1_000_000)
        .await
        .unwrap()
}

async fn every_call_writes_one_entry_with_its_outcome(backend: Backend) {
    let w = World::new(backend).await;
    let case = w
        .file(&w.officer_in, "Audited", pb::Priority::Routine)
        .await;
    let before = all_entries(&w).await.len();

    // Allowed read, denied read (not visible), denied call (no token), failed call (bad input),
    // failed change (stale etag), denied role, and a failed login.
    w.sup_ca
        .cases()
        .get_case(pb::GetCaseRequest {
            id: case.id.clone(),
        })
        .await
        .unwrap();
    assert_code(
        w.officer_ca2
            .cases()
            .get_case(pb::GetCaseRequest {
                id: case.id.clone(),
            })
            .await,
        Code::NotFound,
    );
    assert_code(
        w.server
            .anonymous()
            .cases()
            .get_case(pb::GetCaseRequest {
                id: case.id.clone(),
            })
            .await,
        Code::Unauthenticated,
    );
    assert_code(
        w.sup_ca
            .cases()
            .get_case(pb::GetCaseRequest { id: "nope".into() })
            .await,
        Code::InvalidArgument,
    );
    assert_code(
        w.sup_ca
            .cases()
            .acknowledge_case(pb::AcknowledgeCaseRequest {
                id: case.id.clone(),
                etag: "stale".into(),
            })
            .await,
        Code::Aborted,
    );
    assert_code(
        w.auditor_ca
            .cases()
            .get_case(pb::GetCaseRequest {
                id: case.id.clone(),
            })
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        w.server
            .anonymous()
            .auth()
            .login(pb::LoginRequest {
                username: "officer.ca".into(),
                password: "wrong password!".into(),
            })
            .await,
        Code::Unauthenticated,
    );

    // An id too long for any column is still audited, kept only as the target as given.
    let junk = "x".repeat(200);
    assert_code(
        w.sup_ca
            .cases()
            .get_case(pb::GetCaseRequest { id: junk })
            .await,
        Code::InvalidArgument,
    );
    let last = all_entries(&w)
        .await
        .into_iter()
        .rev()
        .find(|e| e.record.refusals.is_none())
        .unwrap();
    assert_eq!(last.record.case_id, None);
    assert_eq!(last.record.target_id.as_deref().map(str::len), Some(64));

    // A call abandoned at its deadline is audited as CANCELLED.
    let mut hurried = tonic::Request::new(pb::LoginRequest {
        username: "officer.ca".into(),
        password: "some password".into(),
    });
    hurried.set_timeout(std::time::Duration::from_millis(1));
    assert!(w.server.anonymous().auth().login(hurried).await.is_err());

    // Calls refused before authentication are counted into summaries, written at the next flush;
    // every other call has an entry of its own.
    let mut counted = 0;
    for _ in 0..100 {
        counted = w.server.state.refusals.pending();
        if counted >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    liaison_server::domain::call::flush_refusals(&w.server.state)
        .await
        .unwrap();
    let entries = all_entries(&w).await;
    let (summaries, new): (Vec<_>, Vec<_>) = entries[before..]
        .iter()
        .partition(|e| e.record.refusals.is_some());
    assert!(counted >= 3 || summaries.len() >= 3, "{summaries:?}");
    let counts = |method: &str, code: Code| -> i64 {
        summaries
            .iter()
            .filter(|e| e.record.method == method && e.record.status_code == code as i32)
            .map(|e| e.record.refusals.unwrap().count)
            .sum()
    };
    assert_eq!(
        counts("liaison.v1.CaseService/GetCase", Code::Unauthenticated),
        1
    );
    assert_eq!(
        counts("liaison.v1.AuthService/Login", Code::Unauthenticated),
        1
    );
    assert_eq!(counts("liaison.v1.AuthService/Login", Code::Cancelled), 1);
    let login = summaries
        .iter()
        .find(|e| {
            e.record.status_code == Code::Unauthenticated as i32
                && e.record.method.ends_with("Login")
        })
        .unwrap();
    // The user the sign-in claimed to be, so that user's agency's auditors see it; the source
    // without its port.
    assert_eq!(
        login.record.actor_id.as_deref(),
        Some(w.officer_ca.user_id.as_str())
    );
    assert_eq!(login.record.outcome, Outcome::Denied);
    assert_eq!(login.record.peer.as_deref(), Some("127.0.0.1"));
    let cancelled = summaries
        .iter()
        .find(|e| e.record.status_code == Code::Cancelled as i32)
        .unwrap();
    assert_eq!(cancelled.record.outcome, Outcome::Failed);

    let new = &new[..6];
    let summary: Vec<(&str, Outcome, i32, Option<&str>)> = new
        .iter()
        .map(|e| {
            let r = &e.record;
            (
                r.method.as_str(),
                r.outcome,
                r.status_code,
                r.actor_id.as_deref(),
            )
        })
        .collect();
    let get = "liaison.v1.CaseService/GetCase";
    assert_eq!(
        summary,
        [
            (get, Outcome::Allowed, 0, Some(w.sup_ca.user_id.as_str())),
            (
                get,
                Outcome::Denied,
                Code::NotFound as i32,
                Some(w.officer_ca2.user_id.as_str())
            ),
            (
                get,
                Outcome::Failed,
                Code::InvalidArgument as i32,
                Some(w.sup_ca.user_id.as_str())
            ),
            (
                "liaison.v1.CaseService/AcknowledgeCase",
                Outcome::Failed,
                Code::Aborted as i32,
                Some(w.sup_ca.user_id.as_str())
            ),
            (
                get,
                Outcome::Denied,
                Code::PermissionDenied as i32,
                Some(w.auditor_ca.user_id.as_str())
            ),
            (
                get,
                Outcome::Failed,
                Code::InvalidArgument as i32,
                Some(w.sup_ca.user_id.as_str())
            ),
        ]
    );
    // The probe of an unseen case is tied to the case, so both agencies' auditors see it.
    assert_eq!(new[1].record.case_id.as_deref(), Some(case.id.as_str()));
    assert_eq!(
        new[1].record.case_receiving_agency_id.as_deref(),
        Some(w.ca_rcmp.id.as_str())
    );
    assert!(new.iter().all(|e| e
        .record
        .peer
        .as_deref()
        .is_some_and(|p| p.starts_with("127.0.0.1:"))));
    assert!(new.iter().all(|e| !e.record.request_id.is_empty()));

    // Dense sequence numbers and an intact chain over the whole log.
    assert_eq!(first_break(&entries, GENESIS_HASH.to_string(), 1), None);
    assert_eq!(entries.last().unwrap().seq, entries.len() as i64);
    w.stop().await;
}

async fn auditors_see_their_agency_and_its_cases_only(backend: Backend) {
    let w = World::new(backend).await;
    let case = w
        .file(&w.officer_in, "For the auditors", pb::Priority::Routine)
        .await;
    w.sup_ca
        .cases()
        .get_case(pb::GetCaseRequest {
            id: case.id.clone(),
        })
        .await
        .unwrap();
    // A US-only action: no Indian actor, no Indian case.
    w.sup_us
        .directory()
        .list_agencies(pb::ListAgenciesRequest {})
        .await
        .unwrap();

    let query = |who: &crate::common::Client, request: pb::QueryAuditLogRequest| {
        let mut audit = who.audit();
        async move { audit.query_audit_log(request).await.map(|r| r.into_inner()) }
    };
    let everything = query(
        &w.auditor_in,
        pb::QueryAuditLogRequest {
            page_size: 500,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(!everything.entries.is_empty());
    for entry in &everything.entries {
        let ours = entry.actor_agency_id == w.in_ncb.id || entry.case_id == case.id;
        assert!(ours, "auditor.in sees a foreign entry: {entry:?}");
    }
    assert!(
        everything
            .entries
            .windows(2)
            .all(|p| p[0].sequence > p[1].sequence),
        "newest first"
    );
    // The Canadian supervisor's read of the Indian case is visible to India's auditor.
    assert!(everything
        .entries
        .iter()
        .any(|e| e.actor_id == w.sup_ca.user_id && e.case_id == case.id));
    assert!(!everything
        .entries
        .iter()
        .any(|e| e.actor_id == w.sup_us.user_id));

    let by_case = query(
        &w.auditor_ca,
        pb::QueryAuditLogRequest {
            case_id: case.id.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let methods: Vec<&str> = by_case.entries.iter().map(|e| e.method.as_str()).collect();
    assert_eq!(
        methods,
        [
            "liaison.v1.CaseService/GetCase",
            "liaison.v1.CaseService/FileReferral"
        ]
    );

    let by_actor_and_method = query(
        &w.auditor_in,
        pb::QueryAuditLogRequest {
            actor_id: w.officer_in.user_id.clone(),
            method: "liaison.v1.CaseService/FileReferral".into(),
            outcome: pb::AuditOutcome::Allowed as i32,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(by_actor_and_method.entries.len(), 1);

    // Pages walk the log without repeats, and a token is good only for its own query and caller.
    let mut token = String::new();
    let mut seen = Vec::new();
    loop {
        let page = query(
            &w.auditor_in,
            pb::QueryAuditLogRequest {
                page_size: 3,
                page_token: token.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        seen.extend(page.entries.iter().map(|e| e.sequence));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        if seen.len() == 3 {
            let other_query = query(
                &w.auditor_in,
                pb::QueryAuditLogRequest {
                    page_size: 3,
                    page_token: token.clone(),
                    case_id: case.id.clone(),
                    ..Default::default()
                },
            )
            .await;
            assert_eq!(other_query.unwrap_err().code(), Code::InvalidArgument);
            let other_caller = query(
                &w.auditor_ca,
                pb::QueryAuditLogRequest {
                    page_size: 3,
                    page_token: token.clone(),
                    ..Default::default()
                },
            )
            .await;
            assert_eq!(other_caller.unwrap_err().code(), Code::InvalidArgument);
        }
    }
    let mut sorted = seen.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len());
    assert!(seen.len() >= everything.entries.len());

    let since = prost_types::Timestamp {
        seconds: 4_000_000_000,
        nanos: 0,
    };
    let future = query(
        &w.auditor_in,
        pb::QueryAuditLogRequest {
            since: Some(since),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(future.entries.is_empty());
    let backwards = query(
        &w.auditor_in,
        pb::QueryAuditLogRequest {
            since: Some(prost_types::Timestamp {
                seconds: 10,
                nanos: 0,
            }),
            until: Some(prost_types::Timestamp {
                seconds: 5,
                nanos: 0,
            }),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(backwards.unwrap_err().code(), Code::InvalidArgument);
    w.stop().await;
}

async fn a_change_and_its_entry_commit_together(backend: Backend) {
    let w = World::new(backend).await;
    let raw = w.server.raw_db().await;
    let count = |table: &'static str| {
        let raw = &raw;
        let server = &w.server;
        async move {
            // Until the intake is renamed away below.
            if table == "audit_entries" {
                server.sealed().await;
            }
            let row = raw
                .query_one(sea_orm::Statement::from_string(
                    raw.get_database_backend(),
                    format!("SELECT COUNT(*) AS n FROM {table}"),
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<i64>("", "n").unwrap()
        }
    };

    // A refused change leaves neither a change nor an event behind, only its FAILED entry.
    let case = w.case_in_progress("Atomic").await;
    let (events, entries) = (count("case_events").await, count("audit_entries").await);
    let refused = w
        .sup_ca
        .cases()
        .assign_case(pb::AssignCaseRequest {
            id: case.id.clone(),
            assignee_id: w.sup_in.user_id.clone(),
            etag: case.etag.clone(),
        })
        .await;
    assert_code(refused, Code::InvalidArgument);
    assert_eq!(count("case_events").await, events);
    assert_eq!(count("audit_entries").await, entries + 1);
    let unchanged = w
        .sup_ca
        .cases()
        .get_case(pb::GetCaseRequest {
            id: case.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unchanged.etag, case.etag);

    // When the audit entry cannot be written, the change does not happen either.
    let cases = count("cases").await;
    raw.execute_unprepared("ALTER TABLE audit_intake RENAME TO audit_intake_gone")
        .await
        .unwrap();
    let filed = w
        .officer_in
        .cases()
        .file_referral(w.referral("Unauditable", pb::Priority::Routine))
        .await;
    assert_code(filed, Code::Internal);
    let moved = w
        .sup_ca
        .cases()
        .reopen_case(pb::ReopenCaseRequest {
            id: case.id.clone(),
            etag: case.etag.clone(),
            reason: "x".into(),
        })
        .await;
    assert!(moved.is_err());
    assert_eq!(count("cases").await, cases);
    assert_eq!(count("case_events").await, events);
    raw.close().await.ok();
    w.stop().await;
}

async fn an_auditor_cannot_hold_up_the_service(backend: Backend) {
    let w = World::with_config(backend, |config| {
        config.max_verified_per_call = 5;
        config.max_audit_scan = 4;
    })
    .await;
    // A call checks a bounded range; the whole log is the operator's command.
    let whole = w
        .auditor_ca
        .audit()
        .verify_audit_chain(pb::VerifyAuditChainRequest::default())
        .await
        .unwrap_err();
    assert_eq!(whole.code(), Code::FailedPrecondition);
    assert!(
        whole.message().contains("liaisond audit verify"),
        "{}",
        whole.message()
    );
    let part = w
        .auditor_ca
        .audit()
        .verify_audit_chain(pb::VerifyAuditChainRequest {
            from_sequence: 2,
            to_sequence: 6,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(part.ok, "{part:?}");
    assert_eq!(part.entries_checked, 5);

    // A query nothing narrows looks through a window of the log a page, and says where to go on:
    // a filter that matches nothing costs each call a window, never the whole log, and paging on
    // finds exactly what one scan would.
    let method = "liaison.v1.AuthService/Login";
    let mut found = Vec::new();
    let mut pages = 0;
    let mut request = pb::QueryAuditLogRequest {
        method: method.into(),
        page_size: 500,
        ..Default::default()
    };
    loop {
        let page = w
            .auditor_ca
            .audit()
            .query_audit_log(request.clone())
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(page.entries.len() <= 4);
        found.extend(page.entries.iter().map(|e| e.sequence));
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }
    let agency = w.ca_rcmp.id.as_str();
    let expected: Vec<i64> = all_entries(&w)
        .await
        .into_iter()
        .rev()
        .filter(|e| found.first().is_none_or(|first| e.seq <= *first))
        .filter(|e| {
            let r = &e.record;
            r.method == method
                && [
                    &r.actor_agency_id,
                    &r.case_originating_agency_id,
                    &r.case_receiving_agency_id,
                ]
                .iter()
                .any(|a| a.as_deref() == Some(agency))
        })
        .map(|e| e.seq)
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(found, expected);
    assert!(pages > 3, "{pages} pages");

    // A long read of the log, held open as a slow scan would, does not keep calls from writing.
    let reading = w.server.state.db.begin_read().await.unwrap();
    assert!(
        liaison_server::repo::audit::last_seq(&reading)
            .await
            .unwrap()
            > 0
    );
    let filed = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        w.file(
            &w.officer_in,
            "filed while an auditor reads",
            pb::Priority::Routine,
        ),
    )
    .await
    .expect("a filing beside an open audit read");
    assert!(!filed.id.is_empty());
    drop(reading);
}

/// Ten seconds of calls nobody signed in for, as fast as 16 clients can send them: a garbage token,
/// no token, and sign-ins as made-up users. Every one is counted, in a handful of summary entries
/// (one per source, method and outcome each flush interval) instead of an entry each.
async fn a_flood_of_unauthenticated_calls_adds_a_handful_of_summaries(backend: Backend) {
    let w = World::new(backend).await;
    let before = all_entries(&w).await.len();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut floods = Vec::new();
    for worker in 0..16usize {
        let (garbage, anonymous) = (w.server.with_token("garbage"), w.server.anonymous());
        floods.push(tokio::spawn(async move {
            let mut sent = 0i64;
            while std::time::Instant::now() < deadline {
                let refused = match (worker + sent as usize) % 3 {
                    0 => garbage
                        .cases()
                        .get_case(pb::GetCaseRequest {
                            id: uuid::Uuid::new_v4().to_string(),
                        })
                        .await
                        .is_err(),
                    1 => anonymous
                        .cases()
                        .list_cases(pb::ListCasesRequest::default())
                        .await
                        .is_err(),
                    _ => anonymous
                        .auth()
                        .login(pb::LoginRequest {
                            username: format!("nobody.{worker}.{sent}"),
                            password: "not a password at all".into(),
                        })
                        .await
                        .is_err(),
                };
                assert!(refused);
                sent += 1;
            }
            sent
        }));
    }
    let mut sent = 0;
    for flood in floods {
        sent += flood.await.unwrap();
    }
    liaison_server::domain::call::flush_refusals(&w.server.state)
        .await
        .unwrap();
    let entries = all_entries(&w).await;
    let added = &entries[before..];
    let counted: i64 = added
        .iter()
        .map(|e| e.record.refusals.map_or(0, |r| r.count))
        .sum();
    eprintln!("flood: {sent} calls, {} entries", added.len());
    assert!(sent > 300, "the flood sent {sent} calls");
    assert_eq!(counted, sent, "every refused call is counted");
    assert!(added.iter().all(|e| e.record.refusals.is_some()));
    // Three methods, a few outcomes (refused, throttled, busy), at most two flushes.
    assert!(added.len() <= 12, "{} entries: {added:?}", added.len());
    w.stop().await;
}
