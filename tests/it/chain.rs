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
    every_thousandth_entry_is_checkpointed_in_its_own_transaction,
    exports_stream_the_auditors_scope_oldest_first,
);

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
    let forged = AuditRecord {
        at: w.server.state.clock.now(),
        actor_id: None,
        actor_username: Some("nobody".into()),
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
        peer: None,
        event: None,
    };
    let seq = head + 1;
    let hash = chain_hash(seq, &forged, &head_hash);
    raw.execute_unprepared(&format!(
        "INSERT INTO audit_entries (seq, at, actor_username, actor_roles, method, outcome, status_code, \
         request_id, prev_hash, hash) VALUES ({seq}, {}, 'nobody', 0, 'liaison.v1.CaseService/GetCase', 1, 0, \
         'forged', '{head_hash}', '{hash}')",
        forged.at.timestamp_micros()
    ))
    .await
    .unwrap();
    let (ok, report) = verify_offline(&w, &[]);
    assert!(!ok);
    assert_eq!(report["first_bad_seq"], seq);
    assert!(
        report["problem"].as_str().unwrap().contains("inserted"),
        "{report}"
    );
    w.stop().await;
}

async fn a_consistently_rewritten_chain_is_caught_by_checkpoints(backend: Backend) {
    let w = World::new(backend).await;
    traffic(&w).await;
    assert_code(
        w.auditor_in
            .audit()
            .get_checkpoint(pb::GetCheckpointRequest {})
            .await,
        Code::NotFound,
    );
    liaison_server::audit::checkpoint_head(
        &w.server.state.db,
        &w.server.state.keys.current(),
        w.server.state.clock.now(),
    )
    .await
    .unwrap();
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
    // chain is consistent again; the signed checkpoints still catch it.
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
    raw.execute_unprepared(&format!("UPDATE audit_head SET hash = '{prev}'"))
        .await
        .unwrap();

    let report = verify(&w).await;
    assert!(!report.ok);
    assert_eq!(report.first_bad_sequence, kept.sequence);
    assert!(report.problem.contains("checkpoint"), "{}", report.problem);
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

async fn every_thousandth_entry_is_checkpointed_in_its_own_transaction(backend: Backend) {
    let w = World::new(backend).await;
    let state = &w.server.state;
    let tx = state.db.begin().await.unwrap();
    let (head, _) = liaison_server::repo::audit::head(&tx).await.unwrap();
    for i in head..1001 {
        let record = AuditRecord {
            at: w.server.state.clock.now(),
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
        };
        liaison_server::audit::append(&tx, &state.keys.current(), record)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let tx = state.db.begin().await.unwrap();
    let checkpoint = liaison_server::repo::audit::checkpoint_at(&tx, 1000)
        .await
        .unwrap()
        .expect("checkpoint at 1000");
    assert!(checkpoint.signature_is_valid(&state.keys.current()));
    assert_eq!(
        liaison_server::repo::audit::entry(&tx, 1000)
            .await
            .unwrap()
            .unwrap()
            .hash,
        checkpoint.hash
    );
    drop(tx);
    let report = verify(&w).await;
    assert!(report.ok, "{}", report.problem);
    assert!(report.checkpoints_checked >= 1);

    // Deleting that checkpoint (to hide a rewrite) is itself found.
    let raw = w.server.raw_db().await;
    drop_triggers(&raw).await;
    raw.execute_unprepared("DELETE FROM audit_checkpoints WHERE seq = 1000")
        .await
        .unwrap();
    let report = verify(&w).await;
    assert!(!report.ok);
    assert_eq!(report.first_bad_sequence, 1000);
    assert!(report.problem.contains("missing"), "{}", report.problem);
    w.stop().await;
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
