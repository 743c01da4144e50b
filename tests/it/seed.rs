//! `liaison-bench seed` as the load generator meets it: a world seeded through the binary, on the
//! server's database, that verifies, that people sign in to and work in, whose reference counters
//! go on where the seed left them, whose queues look like a service's after 400 days, and whose
//! JSON summary matches the database.

use std::collections::BTreeMap;
use std::process::{Command, Output};

use liaison_server::clock::Clock;
use liaison_server::pb;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::Value;

use crate::common::{Backend, TestServer, PASSWORD};
use crate::on_both_databases;

on_both_databases!(
    a_seeded_world_verifies_and_can_be_worked_in,
    an_edit_deep_in_a_long_seeded_chain_is_located,
);

const CASES: u64 = 300;
const ENTRIES: u64 = 5000;

fn seed(server: &TestServer, args: &[&str]) -> Output {
    Command::new(crate::common::workspace_program("liaison-bench"))
        .arg("seed")
        .args(args)
        .env("LIAISON_DATA_DIR", server.data_dir())
        .env("LIAISON_DATABASE_URL", &server.database_url)
        .env("LIAISON_KEY_DIR", server.data_dir().join("keys"))
        .env("LIAISON_PASSWORD", PASSWORD)
        .output()
        .unwrap()
}

/// `liaisond audit verify` on the server's database: its exit status and report.
fn verify_offline(server: &TestServer) -> (bool, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_liaisond"))
        .args(["audit", "verify"])
        .env("LIAISON_DATA_DIR", server.data_dir())
        .env("LIAISON_DATABASE_URL", &server.database_url)
        .env("LIAISON_KEY_DIR", server.data_dir().join("keys"))
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.success(), report)
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// Every case of a queue, following the pages.
async fn whole_queue(
    client: &crate::common::Client,
    mut request: pb::ListCasesRequest,
) -> Vec<pb::Case> {
    let mut cases = Vec::new();
    request.page_size = 500;
    loop {
        let page = client
            .cases()
            .list_cases(request.clone())
            .await
            .unwrap()
            .into_inner();
        cases.extend(page.cases);
        if page.next_page_token.is_empty() {
            return cases;
        }
        request.page_token = page.next_page_token;
    }
}

async fn a_seeded_world_verifies_and_can_be_worked_in(backend: Backend) {
    let server = TestServer::start(&backend).await;
    let seeded = seed(
        &server,
        &[
            "--cases",
            &CASES.to_string(),
            "--audit-entries",
            &ENTRIES.to_string(),
            "--random-seed",
            "42",
        ],
    );
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    assert!(String::from_utf8_lossy(&seeded.stderr).contains("rows/s"));

    // One JSON document on standard output, matching the database.
    let summary: Value = serde_json::from_slice(&seeded.stdout).unwrap();
    let codes: Vec<&str> = summary["agencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["IN-NCB", "IN-CBI", "CA-RCMP", "CA-CBSA"]);
    let channels = summary["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 3);
    assert_eq!(
        channels[0]["agency_codes"],
        serde_json::json!(["IN-NCB", "CA-RCMP"])
    );
    assert_eq!(
        channels[0]["categories"],
        serde_json::json!(["DRUGS", "FRAUD", "CYBER"])
    );
    assert_eq!(
        channels[2]["agency_codes"],
        serde_json::json!(["IN-NCB", "CA-CBSA"])
    );
    let users = summary["users"].as_array().unwrap();
    assert_eq!(users.len(), 4 * (8 + 2 + 1 + 1));
    let user_id = |username: &str| {
        users
            .iter()
            .find(|u| u["username"] == username)
            .map(|u| u["id"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert!(users
        .iter()
        .any(|u| u["username"] == "in-ncb.officer.0" && u["role"] == "OFFICER"));
    assert!(users
        .iter()
        .any(|u| u["username"] == "ca-cbsa.admin" && u["agency_code"] == "CA-CBSA"));
    assert_eq!(summary["cases"], CASES);
    assert_eq!(summary["audit_entries"], ENTRIES);
    assert!(summary["seconds"].as_f64().unwrap() > 0.0);

    let raw = server.raw_db().await;
    assert_eq!(
        count(&raw, "SELECT COUNT(*) FROM cases").await,
        CASES as i64
    );
    assert_eq!(
        count(&raw, "SELECT COUNT(*) FROM case_events").await,
        summary["case_events"].as_i64().unwrap()
    );
    assert_eq!(
        count(&raw, "SELECT COUNT(*) FROM case_notes").await,
        summary["notes"].as_i64().unwrap()
    );
    assert!(summary["case_events"].as_i64().unwrap() > 3 * CASES as i64);
    // The seed's own entry as an operator command, then the seeded ones.
    assert_eq!(
        count(&raw, "SELECT COUNT(*) FROM audit_entries").await,
        ENTRIES as i64 + 1
    );
    // The history sits at the newest signed checkpoint, before anything that follows.
    assert_eq!(
        count(
            &raw,
            "SELECT COUNT(*) FROM case_events WHERE seq IS NULL \
             OR seq <> (SELECT MAX(seq) FROM audit_checkpoints)"
        )
        .await,
        0
    );

    // The chain verifies, offline and for a seeded auditor.
    let (ok, report) = verify_offline(&server);
    assert!(ok, "{report}");
    assert_eq!(report["entries_checked"], ENTRIES + 1);
    // Every 1,000th entry, and each loaded batch's last.
    assert!(report["checkpoints_checked"].as_i64().unwrap() >= ENTRIES as i64 / 1000);
    let auditor = server.sign_in("ca-rcmp.auditor.0", PASSWORD).await;
    let online = auditor
        .audit()
        .verify_audit_chain(pb::VerifyAuditChainRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(online.ok, "{online:?}");
    let scoped = auditor
        .audit()
        .query_audit_log(pb::QueryAuditLogRequest {
            page_size: 20,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(scoped.entries.len(), 20);

    // An auditor's time ranges page through exactly the entries a scan of the whole log finds:
    // a span in the past, one reaching to now, one before the log began.
    let now = server.clock.now();
    let day = chrono::Duration::days(1);
    let ca_rcmp_id = summary["agencies"][2]["id"].as_str().unwrap().to_string();
    for (since, until) in [
        (Some(now - day * 30), Some(now - day * 20)),
        (Some(now - day * 3), None),
        (None, Some(now - day * 390)),
        (Some(now - day * 900), Some(now - day * 800)),
    ] {
        let stamp = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map(|t| prost_types::Timestamp {
                seconds: t.timestamp(),
                nanos: t.timestamp_subsec_nanos() as i32,
            })
        };
        // The queries are audited too: compare with the log as it was before them.
        server.sealed().await;
        let head = count(&raw, "SELECT MAX(seq) FROM audit_entries").await;
        let mut paged = Vec::new();
        let mut request = pb::QueryAuditLogRequest {
            since: stamp(since),
            until: stamp(until),
            page_size: 20,
            ..Default::default()
        };
        loop {
            let page = auditor
                .audit()
                .query_audit_log(request.clone())
                .await
                .unwrap()
                .into_inner();
            paged.extend(page.entries.iter().map(|e| e.sequence));
            if page.next_page_token.is_empty() {
                break;
            }
            request.page_token = page.next_page_token;
        }
        let mut range = String::new();
        if let Some(since) = since {
            range += &format!(" AND at >= {}", since.timestamp_micros());
        }
        if let Some(until) = until {
            range += &format!(" AND at < {}", until.timestamp_micros());
        }
        let expected: Vec<i64> = raw
            .query_all(Statement::from_string(
                raw.get_database_backend(),
                format!(
                    "SELECT seq FROM audit_entries WHERE (actor_agency_id = '{ca_rcmp_id}' \
                     OR case_originating_agency_id = '{ca_rcmp_id}' \
                     OR case_receiving_agency_id = '{ca_rcmp_id}'){range} AND seq <= {head} \
                     ORDER BY seq DESC"
                ),
            ))
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get_by_index::<i64>(0).unwrap())
            .collect();
        assert_eq!(paged, expected, "{since:?}..{until:?}");
    }

    // A seeded officer signs in and works their own cases.
    let officer = server.sign_in("in-ncb.officer.0", PASSWORD).await;
    let mine = whole_queue(&officer, pb::ListCasesRequest::default()).await;
    assert!(!mine.is_empty());
    for case in &mine {
        assert!(case.filed_by == officer.user_id || case.assignee_id == officer.user_id);
    }
    let case = officer
        .cases()
        .get_case(pb::GetCaseRequest {
            id: mine[0].id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(case.etag, mine[0].etag);
    let events = officer
        .cases()
        .list_case_events(pb::ListCaseEventsRequest {
            case_id: case.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(
        events.first().map(|e| e.kind),
        Some(pb::CaseEventKind::Filed as i32)
    );
    let last_move = events
        .iter()
        .rev()
        .find(|e| e.to_status != pb::CaseStatus::Unspecified as i32)
        .unwrap();
    assert_eq!(last_move.to_status, case.status);

    // A new referral gets the number after the seeded ones on its channel and year.
    let channel_id = channels[0]["id"].as_str().unwrap();
    let year = chrono::Datelike::year(&server.clock.now());
    let last = count(
        &raw,
        &format!(
            "SELECT last_seq FROM case_counters WHERE channel_id = '{channel_id}' AND year = {year}"
        ),
    )
    .await;
    let seeded_this_year = count(
        &raw,
        &format!(
            "SELECT COUNT(*) FROM cases WHERE channel_id = '{channel_id}' AND reference LIKE '%-{year}-%'"
        ),
    )
    .await;
    assert_eq!(last, seeded_this_year);
    assert!(last > 1);
    let filed = officer
        .cases()
        .file_referral(pb::FileReferralRequest {
            legal_basis_id: String::new(),
            items: Vec::new(),
            category_code: String::new(),
            preservation: None,
            kind: 0,
            markings: None,
            request_id: uuid::Uuid::new_v4().to_string(),
            channel_id: channel_id.to_string(),
            category: pb::Category::Drugs as i32,
            priority: pb::Priority::Urgent as i32,
            title: "Precursor shipment after seeding".into(),
            summary: "Filed on a seeded channel.".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        filed.reference,
        format!("IN-CA-DRUGS-{year}-{:06}", last + 1)
    );

    // A supervisor's incoming queue looks like a service's after 400 days, and the API counts
    // what the database holds.
    let supervisor = server.sign_in("ca-rcmp.supervisor.0", PASSWORD).await;
    let incoming = whole_queue(
        &supervisor,
        pb::ListCasesRequest {
            view: pb::CaseView::Incoming as i32,
            ..Default::default()
        },
    )
    .await;
    let ca_rcmp = summary["agencies"][2]["id"].as_str().unwrap();
    assert_eq!(
        incoming.len() as i64,
        count(
            &raw,
            &format!("SELECT COUNT(*) FROM cases WHERE receiving_agency_id = '{ca_rcmp}'")
        )
        .await
    );
    let mut by_status: BTreeMap<i32, usize> = BTreeMap::new();
    for case in &incoming {
        *by_status.entry(case.status).or_default() += 1;
    }
    let share = |status: pb::CaseStatus| {
        by_status.get(&(status as i32)).copied().unwrap_or_default() as f64 / incoming.len() as f64
    };
    let ended = share(pb::CaseStatus::Closed)
        + share(pb::CaseStatus::Declined)
        + share(pb::CaseStatus::Withdrawn);
    assert!(share(pb::CaseStatus::Closed) > 0.5, "{by_status:?}");
    assert!((0.7..0.97).contains(&ended), "{by_status:?}");
    assert!(
        share(pb::CaseStatus::InProgress) + share(pb::CaseStatus::AwaitingInfo) > 0.03,
        "{by_status:?}"
    );
    let routine = incoming
        .iter()
        .filter(|c| c.priority == pb::Priority::Routine as i32)
        .count() as f64
        / incoming.len() as f64;
    assert!((0.55..0.85).contains(&routine), "{routine}");

    // The overdue queue holds only cases still FILED past their deadline.
    let overdue = whole_queue(
        &supervisor,
        pb::ListCasesRequest {
            view: pb::CaseView::Incoming as i32,
            overdue_only: true,
            order: pb::CaseOrder::DueFirst as i32,
            ..Default::default()
        },
    )
    .await;
    assert!(overdue
        .iter()
        .all(|c| c.overdue && c.status == pb::CaseStatus::Filed as i32));

    // Versions and etags are what the service would have left: a seeded case moves on.
    let open = incoming
        .iter()
        .find(|c| c.status == pb::CaseStatus::InProgress as i32)
        .unwrap();
    let closed = supervisor
        .cases()
        .close_case(pb::CloseCaseRequest {
            id: open.id.clone(),
            etag: open.etag.clone(),
            resolution: pb::Resolution::Actioned as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.status, pb::CaseStatus::Closed as i32);
    assert_ne!(closed.etag, open.etag);
    assert_eq!(
        user_id("in-ncb.officer.0"),
        officer.user_id,
        "the summary names the users as the database knows them"
    );

    // A queue of two parts (a supervisor's agency filed and received cases; an officer filed and
    // is assigned cases) pages through their union in order, as one query over both would.
    let in_ncb = summary["agencies"][0]["id"].as_str().unwrap();
    let supervisor_in = server.sign_in("in-ncb.supervisor.1", PASSWORD).await;
    let officer_id = officer.user_id.clone();
    let orders = [
        (pb::CaseOrder::NewestFirst, "filed_at DESC, id DESC"),
        (pb::CaseOrder::DueFirst, "acknowledge_due_at ASC, id ASC"),
    ];
    for (client, scope) in [
        (
            &supervisor_in,
            format!("(originating_agency_id = '{in_ncb}' OR receiving_agency_id = '{in_ncb}')"),
        ),
        (
            &officer,
            format!("(filed_by = '{officer_id}' OR assignee_id = '{officer_id}')"),
        ),
    ] {
        for (order, order_sql) in orders {
            for (statuses, status_sql) in [
                (vec![], String::new()),
                (
                    vec![
                        pb::CaseStatus::InProgress as i32,
                        pb::CaseStatus::Closed as i32,
                    ],
                    " AND status IN (4, 6)".to_string(),
                ),
            ] {
                let mut paged = Vec::new();
                let mut request = pb::ListCasesRequest {
                    view: pb::CaseView::All as i32,
                    order: order as i32,
                    statuses,
                    page_size: 7,
                    ..Default::default()
                };
                loop {
                    let page = client
                        .cases()
                        .list_cases(request.clone())
                        .await
                        .unwrap()
                        .into_inner();
                    paged.extend(page.cases.into_iter().map(|c| c.id));
                    if page.next_page_token.is_empty() {
                        break;
                    }
                    request.page_token = page.next_page_token;
                }
                let expected: Vec<String> = raw
                    .query_all(Statement::from_string(
                        raw.get_database_backend(),
                        format!(
                            "SELECT id FROM cases WHERE {scope}{status_sql} ORDER BY {order_sql}"
                        ),
                    ))
                    .await
                    .unwrap()
                    .iter()
                    .map(|row| row.try_get_by_index::<String>(0).unwrap())
                    .collect();
                assert!(expected.len() > 14, "{scope}{status_sql}");
                assert_eq!(paged, expected, "{scope}{status_sql} {order_sql}");
            }
        }
    }

    // A database with agencies is refused.
    let again = seed(&server, &["--cases", "1"]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already has agencies"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(
        count(&raw, "SELECT COUNT(*) FROM cases").await,
        CASES as i64 + 1
    );
    server.stop().await;
}

/// Verification streams the log in windows: a chain longer than a few of them verifies whole, and
/// an edit far into it is located.
async fn an_edit_deep_in_a_long_seeded_chain_is_located(backend: Backend) {
    let server = TestServer::start(&backend).await;
    let seeded = seed(
        &server,
        &["--audit-entries", "120000", "--random-seed", "5"],
    );
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let (ok, report) = verify_offline(&server);
    assert!(ok, "{report}");
    assert_eq!(report["entries_checked"], 120_001);
    assert!(report["checkpoints_checked"].as_i64().unwrap() >= 120);

    // A time range holding more entries than are worth narrowing gives the same first page.
    let raw = server.raw_db().await;
    let auditor = server.sign_in("in-cbi.auditor.0", PASSWORD).await;
    server.sealed().await;
    let head = count(&raw, "SELECT MAX(seq) FROM audit_entries").await;
    let since = server.clock.now() - chrono::Duration::days(401);
    let until = server.clock.now() + chrono::Duration::days(1);
    let page = auditor
        .audit()
        .query_audit_log(pb::QueryAuditLogRequest {
            since: Some(prost_types::Timestamp {
                seconds: since.timestamp(),
                nanos: 0,
            }),
            until: Some(prost_types::Timestamp {
                seconds: until.timestamp(),
                nanos: 0,
            }),
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let in_cbi: String = raw
        .query_one(Statement::from_string(
            raw.get_database_backend(),
            "SELECT id FROM agencies WHERE code = 'IN-CBI'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    let expected: Vec<i64> = raw
        .query_all(Statement::from_string(
            raw.get_database_backend(),
            format!(
                "SELECT seq FROM audit_entries WHERE (actor_agency_id = '{in_cbi}' \
                 OR case_originating_agency_id = '{in_cbi}' OR case_receiving_agency_id = '{in_cbi}') \
                 AND at >= {} AND at < {} AND seq <= {head} ORDER BY seq DESC LIMIT 100",
                since.timestamp() * 1_000_000,
                until.timestamp() * 1_000_000
            ),
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index::<i64>(0).unwrap())
        .collect();
    assert_eq!(
        page.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        expected
    );

    crate::chain::drop_triggers(&raw).await;
    raw.execute_unprepared("UPDATE audit_entries SET status_code = 13 WHERE seq = 105007")
        .await
        .unwrap();
    let (ok, report) = verify_offline(&server);
    assert!(!ok);
    assert_eq!(report["first_bad_seq"], 105_007);
    assert!(report["problem"].as_str().unwrap().contains("edited"));
    // The batch holding the edit is checked to its end, and no further.
    assert_eq!(report["entries_checked"], 110_000);
    server.stop().await;
}
