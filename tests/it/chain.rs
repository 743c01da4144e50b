//! The tamper-evident audit chain: the database refuses to rewrite history, verification finds and
//! locates every kind of rewrite even with the triggers dropped, signed checkpoints prove an old
//! head is still part of the chain, and exports stream the log.

use liaison_server::chain::{chain_hash, AuditRecord};
use liaison_server::model::{Outcome, Roles};
use liaison_server::pb;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};
use tokio_stream::StreamExt;
use tonic::Code;

use crate::common::{assert_code, Backend, World};
use crate::on_both_databases;

on_both_databases!(
    the_database_refuses_to_rewrite_history,
    an_edited_entry_is_found_and_located,
    a_deleted_entry_is_found_and_located,
    reordered_entries_are_found_and_located,
    an_inserted_entry_is_found,
    a_consistently_rewritten_chain_is_caught_by_checkpoints,
    every_seal_signs_its_batch,
    deleting_the_newest_entries_with_their_checkpoints_is_found,
    a_record_put_into_the_intake_with_database_access_is_refused,
    exports_stream_the_auditors_scope_oldest_first,
    an_entry_appended_with_database_access_alone_never_verifies,
    a_log_from_before_entry_macs_keeps_verifying,
    a_checkpoints_note_of_its_batch_is_checked,
);

/// What a seal notes of its batch (the oldest entry's time, and whether it was late) is what time
/// ranges find the batch by: rewritten, so that a range would pass over the batch, it is a
/// finding.
async fn a_checkpoints_note_of_its_batch_is_checked(backend: Backend) {
    let w = World::new(backend).await;
    traffic(&w).await;
    let before = verify(&w).await;
    assert!(before.ok, "{}", before.problem);
    let raw = w.server.raw_db().await;
    drop_triggers(&raw).await;
    raw.execute_unprepared(
        "UPDATE audit_checkpoints SET oldest_at = oldest_at + 60000000 WHERE seq = \
         (SELECT MAX(seq) FROM audit_checkpoints WHERE oldest_at IS NOT NULL)",
    )
    .await
    .unwrap();
    let after = verify(&w).await;
    assert!(!after.ok);
    assert!(
        after.problem.contains("note of its batch's times"),
        "{}",
        after.problem
    );
    w.stop().await;
}

/// A well-formed record of a read that never happened, as a forger would write it.
fn forged_record(at: chrono::DateTime<chrono::Utc>) -> AuditRecord {
    AuditRecord {
        handling: None,
        at,
        actor_id: None,
        actor_username: Some("sup.ca".into()),
        actor_agency_id: None,
        actor_roles: Roles::empty(),
        method: "liaison.v1.CaseService/GetCase".into(),
        target_type: None,
        target_id: None,
        case_id: None,
        case_originating_agency_id: None,
        case_receiving_agency_id: None,
        outcome: Outcome::Allowed,
        status_code: 0,
        request_id: "forged".into(),
        peer: Some("10.9.9.9:4444".into()),
        event: None,
        refusals: None,
    }
}

/// Appends a well-formed, correctly chained entry after `(head, head_hash)` straight to the entries,
/// with `mac` as its MAC: what someone holding the service's database credentials, but not its
/// keys, can write. Answers the forged entry's sequence number.
pub(crate) async fn append_forged(
    db: &impl ConnectionTrait,
    (head, head_hash): (i64, String),
    at: chrono::DateTime<chrono::Utc>,
    mac: Option<&str>,
) -> i64 {
    let forged = forged_record(at);
    let seq = head + 1;
    let hash = chain_hash(seq, &forged, &head_hash);
    // Without a MAC the column is left out, so this also writes logs of the schema before MACs.
    let (mac_column, mac_value) = mac.map_or((String::new(), String::new()), |m| {
        (", mac".to_string(), format!(", '{m}'"))
    });
    db.execute_unprepared(&format!(
        "INSERT INTO audit_entries (seq, at, actor_username, actor_roles, method, outcome, status_code, \
         request_id, peer, prev_hash, hash{mac_column}) VALUES ({seq}, {}, 'sup.ca', 0, \
         'liaison.v1.CaseService/GetCase', 1, 0, 'forged', '10.9.9.9:4444', '{head_hash}', '{hash}'{mac_value})",
        at.timestamp_micros()
    ))
    .await
    .unwrap();
    seq
}

/// Some traffic, so the chain has a few dozen entries.
async fn traffic(w: &World) {
    for i in 0..5 {
        let case = w
            .file(
                &w.officer_in,
                &format!("Traffic {i}"),
                pb::Priority::Routine,
            )
            .await;
        w.sup_ca
            .cases()
            .get_case(pb::GetCaseRequest { id: case.id })
            .await
            .unwrap();
    }
}

pub async fn drop_triggers(raw: &DatabaseConnection) {
    let statements: &[&str] = match raw.get_database_backend() {
        DbBackend::Postgres => &[
            "DROP TRIGGER audit_entries_append_only ON audit_entries",
            "DROP TRIGGER audit_entries_no_truncate ON audit_entries",
            "DROP TRIGGER audit_checkpoints_append_only ON audit_checkpoints",
        ],
        _ => &[
            "DROP TRIGGER audit_entries_no_update",
            "DROP TRIGGER audit_entries_no_delete",
            "DROP TRIGGER audit_checkpoints_no_update",
            "DROP TRIGGER audit_checkpoints_no_delete",
        ],
    };
    for statement in statements {
        raw.execute_unprepared(statement).await.unwrap();
    }
}

async fn verify(w: &World) -> pb::VerifyAuditChainResponse {
    w.auditor_in
        .audit()
        .verify_audit_chain(pb::VerifyAuditChainRequest::default())
        .await
        .unwrap()
        .into_inner()
}

/// Runs `liaisond audit verify` on the server's database: its exit status and report.
fn verify_offline(w: &World, extra: &[&str]) -> (bool, serde_json::Value) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_liaisond"))
        .args(["audit", "verify"])
        .args(extra)
        .env("LIAISON_DATA_DIR", w.server.data_dir())
        .env("LIAISON_DATABASE_URL", &w.server.database_url)
        .env("LIAISON_KEY_DIR", w.server.data_dir().join("keys"))
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    (output.status.success(), report)
}

async fn the_database_refuses_to_rewrite_history(backend: Backend) {
    let w = World::new(backend).await;
    traffic(&w).await;
    let raw = w.server.raw_db().await;
    let mut attempts = vec![
        "UPDATE audit_entries SET outcome = 2 WHERE seq = 3".to_string(),
        "DELETE FROM audit_entries WHERE seq = 3".to_string(),
        "DELETE FROM audit_entries".to_string(),
    ];
    liaison_server::audit::checkpoint_head(
        &w.server.state.db,
        &w.server.state.keys.current(),
        w.server.state.clock.now(),
    )
    .await
    .unwrap();
    attempts.push("UPDATE audit_checkpoints SET hash = 'x'".into());
    attempts.push("DELETE FROM audit_checkpoints".into());
    if raw.get_database_backend() == DbBackend::Postgres {
        attempts.push("TRUNCATE audit_entries".into());
        attempts.push("TRUNCATE audit_checkpoints".into());
    }
    for attempt in attempts {
        let refused = raw.execute_unprepared(&attempt).await.unwrap_err();
        assert!(
            refused.to_string().contains("append-only"),
            "{attempt}: {refused}"
        );
    }
    assert!(verify(&w).await.ok);
    let (ok, report) = verify_offline(&w, &[]);
    assert!(ok, "{report}");
    assert!(report["entries_checked"].as_i64().unwrap() > 10);
    w.stop().await;
}

async fn an_edited_entry_is_found_and_located(backend: Backend) {
    let w = World::new(backend).await;
    traffic(&w).await;
    let raw = w.server.raw_db().await;
    drop_triggers(&raw).await;
    raw.execute_unprepared("UPDATE audit_entries SET outcome = 2 WHERE seq = 7")
        .await
        .unwrap();
    let report = verify(&w).await;
    assert!(!report.ok);
    assert_eq!(report.first_bad_sequence, 7);
    assert!(report.problem.contains("edited"), "{}", report.problem);
    let (ok, offline) = verify_offline(&w, &[]);
    assert!(!ok);
    assert_eq!(offline["first_bad_seq"], 7);
    w.stop().await;
}

async fn a_deleted_entry_is_found_and_located(backend: Backend) {
    let w = World::new(backend).await;
    traffic(&w).await;
    let raw = w.server.raw_db().await;
    drop_triggers(&raw).await;
    raw.execute_unprepared("DELETE FROM audit_entries WHERE seq = 9")
        .await
        .unwrap();
    let report = verify(&w).await;
    assert!(!report.ok);
    assert_eq!(report.first_bad_sequence, 9);
    assert!(report.problem.contains("missing"), "{}", report.problem);
    w.stop().await;
}

async fn reordered_entries_are_found_and_located(backend: Backend) {
    let w = World::new(backend).await;
    traffic(&w).await;
    let raw = w.server.raw_db().await;
    drop_triggers(&raw).await;
    // Swap entries 5 and 6 by renumbering them.
    for statement in [
        "UPDATE audit_entries SET seq = -5 WHERE seq = 5",
        "UPDATE audit_entries SET seq = 5 WHERE seq = 6",
        "UPDATE audit_entries SET seq = 6 WHERE seq = -5",
    ] {
        raw.execute_unprepared(statement).await.unwrap();
    }
    let report = verify(&w).await;
    assert!(!report.ok);
    assert_eq!(report.first_bad_sequence, 5);
    w.stop().await;
}

async fn an_inserted_entry_is_found(backend: Backend) {
    let w = World::new(backend).await;
    traffic(&w).await;
    let raw = w.server.raw_db().await;
    drop_triggers(&raw).await;
    // A forged entry after the last one, chained correctly, without moving the head.
    let tx = w.server.state.db.begin().await.unwrap();
    let (head, head_hash) = liaison_server::repo::audit::head(&tx).await.unwrap();
    drop(tx);
    let forged = forged_record(w.server.state.clock.now());
    let seq = head + 1;
    let hash = chain_hash(seq, &forged, &head_hash);
    raw.execute_unprepared(&format!(
        "INSERT INTO audit_entries (seq, at, actor_username, actor_roles, method, outcome, status_code, \
         request_id, peer, prev_hash, hash) VALUES ({seq}, {}, 'sup.ca', 0, \
         'liaison.v1.CaseService/GetCase', 1, 0, 'forged', '10.9.9.9:4444', '{head_hash}', '{hash}')",
        forged.at.timestamp_micros()
    ))
    .await
    .unwrap();
    let (ok, report) = verify_offline(&w, &[]);
    assert!(!ok);
    assert_eq!(report["first_bad_seq"], seq);
    assert!(
        report["problem"].as_str().unwrap().contains("MAC"),
        "{report}"
    );
    // With a MAC that looks right but is not the service's, the entry is still the newest one no
    // checkpoint covers: the sealer signs every batch it appends, and this one it never saw.
    raw.execute_unprepared(&format!(
        "UPDATE audit_entries SET mac = '{}:{}' WHERE seq = {seq}",
        w.server.state.keys.current_kid(),
        "cd".repeat(32)
    ))
    .await
    .unwrap();
    let (ok, report) = verify_offline(&w, &[]);
    assert!(!ok);
    assert_eq!(report["first_bad_seq"], seq);
    w.stop().await;
}

async fn a_consistently_rewritten_chain_is_caught_by_checkpoints(backend: Backend) {
    let w = World::new(backend).await;
    traffic(&w).await;
    // Every seal signs its batch: the checkpoint is there as soon as the calls are.
    let kept = w
        .auditor_in
        .audit()
        .get_checkpoint(pb::GetCheckpointRequest {})
        .await
        .unwrap()
        .into_inner();
    let kept_file = w.server.data_dir().join("kept-checkpoint.json");
    let tx = w.server.state.db.begin().await.unwrap();
    let stored = liaison_server::repo::audit::checkpoint_at(&tx, kept.sequence)
        .await
        .unwrap()
        .unwrap();
    drop(tx);
    std::fs::write(&kept_file, serde_json::to_string(&stored).unwrap()).unwrap();
    traffic(&w).await;

    // Still part of the chain.
    let proof = w
        .auditor_ca
        .audit()
        .verify_audit_chain(pb::VerifyAuditChainRequest {
            checkpoint: Some(kept.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(proof.ok, "{}", proof.problem);
    assert!(proof.entries_checked > 10);
    let (ok, report) = verify_offline(&w, &["--checkpoint", kept_file.to_str().unwrap()]);
    assert!(ok, "{report}");

    // A forged checkpoint is refused.
    let mut forged = kept.clone();
    forged.hash = "ab".repeat(32);
    let refused = w
        .auditor_ca
        .audit()
        .verify_audit_chain(pb::VerifyAuditChainRequest {
            checkpoint: Some(forged),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!refused.ok);

    // Someone with write access edits an early entry and recomputes every hash after it, so the
    // chain is consistent again. The entry's MAC (which needs the service's key) catches it at the
    // edit itself, and the signed checkpoints, which an auditor may have kept, still do.
    let raw = w.server.raw_db().await;
    drop_triggers(&raw).await;
    raw.execute_unprepared("UPDATE audit_entries SET outcome = 2 WHERE seq = 4")
        .await
        .unwrap();
    let tx = w.server.state.db.begin().await.unwrap();
    let entries = liaison_server::repo::audit::range(&tx, 1, 100_000)
        .await
        .unwrap();
    drop(tx);
    let mut prev = liaison_server::chain::GENESIS_HASH.to_string();
    for entry in &entries {
        let hash = chain_hash(entry.seq, &entry.record, &prev);
        raw.execute_unprepared(&format!(
            "UPDATE audit_entries SET prev_hash = '{prev}', hash = '{hash}' WHERE seq = {}",
            entry.seq
        ))
        .await
        .unwrap();
        prev = hash;
    }

    let report = verify(&w).await;
    assert!(!report.ok);
    assert_eq!(report.first_bad_sequence, 4);
    assert!(report.problem.contains("MAC"), "{}", report.problem);
    let proof = w
        .auditor_ca
        .audit()
        .verify_audit_chain(pb::VerifyAuditChainRequest {
            checkpoint: Some(kept),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!proof.ok);
    let (ok, _) = verify_offline(&w, &["--checkpoint", kept_file.to_str().unwrap()]);
    assert!(!ok);
    w.stop().await;
}

fn test_record(i: usize, at: chrono::DateTime<chrono::Utc>) -> AuditRecord {
    AuditRecord {
        handling: None,
        at,
        actor_id: None,
        actor_username: None,
        actor_agency_id: None,
        actor_roles: Roles::empty(),
        method: "test/append".into(),
        target_type: None,
        target_id: None,
        case_id: None,
        case_originating_agency_id: None,
        case_receiving_agency_id: None,
        outcome: Outcome::Allowed,
        status_code: 0,
        request_id: format!("r{i}"),
        peer: None,
        event: None,
        refusals: None,
    }
}

async fn every_seal_signs_its_batch(backend: Backend) {
    let w = World::new(backend).await;
    let state = &w.server.state;
    // More records in one commit than one seal takes: two batches, each signed at its end.
    let tx = state.db.begin().await.unwrap();
    let records = liaison_server::audit::seal::BATCH_LIMIT as usize + 500;
    for i in 0..records {
        liaison_server::audit::append(
            &tx,
            &state.keys.current(),
            test_record(i, state.clock.now()),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    w.server.sealed().await;
    let tx = state.db.begin().await.unwrap();
    let (head, head_hash) = liaison_server::repo::audit::head(&tx).await.unwrap();
    let latest = liaison_server::repo::audit::latest_checkpoint(&tx)
        .await
        .unwrap()
        .expect("a checkpoint");
    assert_eq!((latest.seq, &latest.hash), (head, &head_hash));
    assert!(latest.signature_is_valid(&state.keys.current()));
    let signed = liaison_server::repo::audit::checkpoints_from(&tx, head - records as i64)
        .await
        .unwrap();
    assert!(signed.len() >= 2, "{signed:?}");
    drop(tx);
    let report = verify(&w).await;
    assert!(report.ok, "{}", report.problem);
    assert!(report.checkpoints_checked >= 2);

    // Deleting the newest checkpoint leaves the newest entries signed by nobody: found.
    let raw = w.server.raw_db().await;
    drop_triggers(&raw).await;
    let (ok, _) = verify_offline(&w, &[]);
    assert!(ok);
    let (head, _) = {
        let tx = state.db.begin().await.unwrap();
        liaison_server::repo::audit::head(&tx).await.unwrap()
    };
    raw.execute_unprepared(&format!("DELETE FROM audit_checkpoints WHERE seq = {head}"))
        .await
        .unwrap();
    // The running server checks the head every second; it does not sign the head it sealed
    // again, which would hide the deletion.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let metrics = state.metrics.render(&state.db);
    assert!(
        metrics.contains("audit_head_checkpoint_missing 1"),
        "{metrics}"
    );
    let (ok, report) = verify_offline(&w, &[]);
    assert!(!ok);
    assert!(
        report["problem"]
            .as_str()
            .unwrap()
            .contains("no signed checkpoint"),
        "{report}"
    );
    w.stop().await;
}

async fn deleting_the_newest_entries_with_their_checkpoints_is_found(backend: Backend) {
    let w = World::new(backend).await;
    traffic(&w).await;
    let raw = w.server.raw_db().await;
    drop_triggers(&raw).await;
    // The newest entries back to an earlier seal, and every checkpoint over them, go: what is
    // left is a shorter chain whose newest entry a checkpoint covers, as if the calls had never
    // happened.
    let tx = w.server.state.db.begin().await.unwrap();
    let signed = liaison_server::repo::audit::checkpoints_from(&tx, 1)
        .await
        .unwrap();
    drop(tx);
    assert!(signed.len() >= 3, "{signed:?}");
    let cut = signed[signed.len() - 3].seq + 1;
    raw.execute_unprepared(&format!("DELETE FROM audit_entries WHERE seq >= {cut}"))
        .await
        .unwrap();
    raw.execute_unprepared(&format!("DELETE FROM audit_checkpoints WHERE seq >= {cut}"))
        .await
        .unwrap();
    // The running server saw the longer chain: its next seal does not chain onto the shorter one,
    // and the gap stays for verification to find, online and offline.
    w.sup_ca
        .directory()
        .list_agencies(pb::ListAgenciesRequest {})
        .await
        .unwrap();
    let report = verify(&w).await;
    assert!(!report.ok);
    assert_eq!(report.first_bad_sequence, cut, "{}", report.problem);
    assert!(report.problem.contains("missing"), "{}", report.problem);
    let (ok, offline) = verify_offline(&w, &[]);
    assert!(!ok);
    assert_eq!(offline["first_bad_seq"], cut);
    w.stop().await;
}

async fn a_record_put_into_the_intake_with_database_access_is_refused(backend: Backend) {
    let w = World::new(backend).await;
    traffic(&w).await;
    let raw = w.server.raw_db().await;
    // A well-formed record with a MAC that is not the service's, where calls put theirs.
    raw.execute_unprepared(&format!(
        "INSERT INTO audit_intake (at, actor_username, actor_roles, method, outcome, status_code, \
         request_id, peer, mac) VALUES ({}, 'sup.ca', 0, 'liaison.v1.CaseService/GetCase', 1, 0, \
         'forged', '10.9.9.9:4444', '{}:{}')",
        w.server.state.clock.now().timestamp_micros(),
        w.server.state.keys.current_kid(),
        "ab".repeat(32)
    ))
    .await
    .unwrap();
    w.server.sealed().await;
    // Never chained: no entry of the log names the forged request.
    let row = raw
        .query_one(sea_orm::Statement::from_string(
            raw.get_database_backend(),
            "SELECT COUNT(*) AS n FROM audit_entries WHERE request_id = 'forged'",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 0);
    let report = verify(&w).await;
    assert!(!report.ok);
    assert!(
        report.problem.contains("refused by the sealer"),
        "{}",
        report.problem
    );
    let (ok, _) = verify_offline(&w, &[]);
    assert!(!ok);
    w.stop().await;
}

/// An exported entry's chain hash, from its own fields alone.
fn rehash(e: &pb::AuditEntry) -> String {
    use liaison_server::model::{Handling, Role};
    let text = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let time = |t: &prost_types::Timestamp| {
        chrono::DateTime::from_timestamp(t.seconds, t.nanos as u32).unwrap()
    };
    let record = AuditRecord {
        at: time(e.time.as_ref().unwrap()),
        actor_id: text(&e.actor_id),
        actor_username: text(&e.actor_username),
        actor_agency_id: text(&e.actor_agency_id),
        actor_roles: e
            .actor_roles
            .iter()
            .map(|r| Role::from_code((*r).into()).unwrap())
            .collect(),
        method: e.method.clone(),
        target_type: text(&e.target_type),
        target_id: text(&e.target_id),
        case_id: text(&e.case_id),
        case_originating_agency_id: text(&e.case_originating_agency_id),
        case_receiving_agency_id: text(&e.case_receiving_agency_id),
        outcome: Outcome::from_code(e.outcome.into()).unwrap(),
        status_code: e.status_code,
        request_id: e.request_id.clone(),
        peer: text(&e.peer),
        event: text(&e.event),
        refusals: (e.refusals > 0).then(|| liaison_server::chain::Refusals {
            count: e.refusals,
            first_at: time(e.first_refused_time.as_ref().unwrap()),
        }),
        handling: Handling::from_code(e.handling.into()),
    };
    chain_hash(e.sequence, &record, &e.prev_hash)
}

async fn exports_stream_the_auditors_scope_oldest_first(backend: Backend) {
    let w = World::new(backend).await;
    traffic(&w).await;
    w.sup_us
        .directory()
        .list_agencies(pb::ListAgenciesRequest {})
        .await
        .unwrap();
    let queried = w
        .auditor_in
        .audit()
        .query_audit_log(pb::QueryAuditLogRequest {
            page_size: 500,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let mut stream = w
        .auditor_in
        .audit()
        .export_audit_log(pb::ExportAuditLogRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut exported = Vec::new();
    while let Some(entry) = stream.next().await {
        exported.push(entry.unwrap());
    }
    // The export's own entry comes after the query's; everything the query saw is there, in order.
    let mut expected: Vec<i64> = queried.iter().map(|e| e.sequence).collect();
    expected.reverse();
    let got: Vec<i64> = exported.iter().map(|e| e.sequence).collect();
    assert_eq!(&got[..expected.len()], &expected[..]);
    // Each exported entry holds every field its hash covers: an archive is checked without the
    // service.
    for entry in &exported {
        assert_eq!(rehash(entry), entry.hash, "entry {}", entry.sequence);
    }
    assert!(exported
        .iter()
        .any(|e| e.case_receiving_agency_id == w.ca_rcmp.id && e.actor_agency_id == w.in_ncb.id));
    assert!(exported.iter().all(|e| e.actor_id != w.sup_us.user_id));

    let filtered = w
        .auditor_in
        .audit()
        .export_audit_log(pb::ExportAuditLogRequest {
            outcome: pb::AuditOutcome::Denied as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .collect::<Vec<_>>()
        .await;
    assert!(filtered
        .iter()
        .all(|e| e.as_ref().unwrap().outcome == pb::AuditOutcome::Denied as i32));
    assert_code(
        w.officer_in
            .audit()
            .export_audit_log(pb::ExportAuditLogRequest::default())
            .await,
        Code::PermissionDenied,
    );

    // The operator's NDJSON export has the whole log.
    let out = w.server.data_dir().join("audit.ndjson");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_liaisond"))
        .args(["audit", "export", "--output", out.to_str().unwrap()])
        .env("LIAISON_DATA_DIR", w.server.data_dir())
        .env("LIAISON_DATABASE_URL", &w.server.database_url)
        .env("LIAISON_KEY_DIR", w.server.data_dir().join("keys"))
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let tx = w.server.state.db.begin().await.unwrap();
    let (head, _) = liaison_server::repo::audit::head(&tx).await.unwrap();
    drop(tx);
    assert!(lines.len() as i64 >= head - 1);
    assert_eq!(lines[0]["sequence"], 1);
    assert!(lines
        .iter()
        .any(|l| l["actor_id"] == serde_json::json!(w.sup_us.user_id)));
    w.stop().await;
}

async fn an_entry_appended_with_database_access_alone_never_verifies(backend: Backend) {
    let w = World::new(backend.clone()).await;
    traffic(&w).await;
    assert!(verify(&w).await.ok);
    let raw = w.server.raw_db().await;
    let head = || async {
        w.server.sealed().await;
        let tx = w.server.state.db.begin().await.unwrap();
        liaison_server::repo::audit::head(&tx).await.unwrap()
    };
    let now = w.server.state.clock.now();
    // No MAC at all, then one made up: the triggers let an append through, verification does not.
    let unsigned = append_forged(&raw, head().await, now, None).await;
    let report = verify(&w).await;
    assert!(!report.ok);
    assert_eq!(report.first_bad_sequence, unsigned);
    assert!(report.problem.contains("MAC"), "{}", report.problem);

    let w2 = World::new(backend).await;
    traffic(&w2).await;
    let raw2 = w2.server.raw_db().await;
    w2.server.sealed().await;
    let tx = w2.server.state.db.begin().await.unwrap();
    let head2 = liaison_server::repo::audit::head(&tx).await.unwrap();
    drop(tx);
    let kid = w2.server.state.keys.current_kid();
    let made_up = format!("{kid}:{}", "ab".repeat(32));
    let forged = append_forged(&raw2, head2, now, Some(&made_up)).await;
    let (ok, report) = verify_offline(&w2, &[]);
    assert!(!ok);
    assert_eq!(report["first_bad_seq"], forged);
    // The service's next entries chain on and are genuine, but the forged one stays flagged.
    w2.file(&w2.officer_in, "after the forgery", pb::Priority::Routine)
        .await;
    let report = verify(&w2).await;
    assert_eq!(report.first_bad_sequence, forged, "{}", report.problem);
    w.stop().await;
    w2.stop().await;
}

async fn a_log_from_before_entry_macs_keeps_verifying(backend: Backend) {
    use migration::MigratorTrait;
    let dir = tempfile::tempdir().unwrap();
    let mut config = liaison_server::config::Config::for_data_dir(dir.path());
    let mut drop_after = None;
    if let Backend::Postgres(admin_url) = &backend {
        let (url, name) = crate::common::fresh_postgres_database(admin_url).await;
        config.database_url = Some(url);
        drop_after = Some((admin_url.clone(), name));
    }
    // The schema as it was before entries carried MACs, and a log written then.
    let old = sea_orm::Database::connect(config.database_url())
        .await
        .unwrap();
    migration::Migrator::up(&old, Some(7)).await.unwrap();
    let mut head = (0, liaison_server::chain::GENESIS_HASH.to_string());
    for _ in 0..3 {
        let seq = append_forged(&old, head.clone(), chrono::Utc::now(), None).await;
        let row = old
            .query_one(sea_orm::Statement::from_string(
                old.get_database_backend(),
                format!("SELECT hash FROM audit_entries WHERE seq = {seq}"),
            ))
            .await
            .unwrap()
            .unwrap();
        head = (seq, row.try_get::<String>("", "hash").unwrap());
        // The schema then kept its head in a row of its own.
        old.execute_unprepared(&format!(
            "UPDATE audit_head SET seq = {seq}, hash = '{}' WHERE id = 1",
            head.1
        ))
        .await
        .unwrap();
    }
    old.close().await.unwrap();

    // The server migrates forward: the old entries verify without MACs, new ones carry them.
    let clock = std::sync::Arc::new(liaison_server::clock::SystemClock);
    let state = liaison_server::open(&config, clock).await.unwrap();
    let verify = |state: liaison_server::state::AppState| async move {
        liaison_server::audit::verify::verify(
            &state.db,
            &state.keys.current(),
            state.clock.now(),
            None,
            None,
        )
        .await
        .unwrap()
    };
    let report = verify(state.clone()).await;
    assert!(report.ok, "{report:?}");
    liaison_server::ops::add_agency(&state, "IN-NCB", "Narcotics Control Bureau", "IN")
        .await
        .unwrap();
    let report = verify(state.clone()).await;
    assert!(report.ok, "{report:?}");
    assert_eq!(report.entries_checked, 4);
    // After the migration an entry without the service's MAC is refused, as always from now on.
    let tx = state.db.begin().await.unwrap();
    let now_head = liaison_server::repo::audit::head(&tx).await.unwrap();
    drop(tx);
    let raw = sea_orm::Database::connect(config.database_url())
        .await
        .unwrap();
    let forged = append_forged(&raw, now_head, chrono::Utc::now(), None).await;
    let report = verify(state.clone()).await;
    assert_eq!(report.first_bad_seq, Some(forged), "{report:?}");
    raw.close().await.ok();
    state.db.clone().close().await;
    if let Some((admin_url, name)) = drop_after {
        let admin = sea_orm::Database::connect(&admin_url).await.unwrap();
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .unwrap();
    }
}
