//! The service as a least-privilege PostgreSQL role (deploy/postgres-roles.sql): it works, and it
//! cannot rewrite audit history or drop the triggers that guard it.

use std::sync::Arc;

use liaison_server::config::Config;
use liaison_server::model::Role;
use liaison_server::pb;
use sea_orm::{ConnectionTrait, Database};
use tonic::transport::Channel;

use crate::common::{Backend, Bearer, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(liaison_test_postgres),
    ignore = "PostgreSQL: set LIAISON_TEST_POSTGRES_URL to run it"
)]
async fn the_service_runs_as_a_role_that_cannot_rewrite_history() {
    let Some(Backend::Postgres(admin_url)) = Backend::postgres() else {
        return;
    };
    let (owner_url, db) = crate::common::fresh_postgres_database(&admin_url).await;
    let dir = tempfile::tempdir().unwrap();

    // The owner migrates and does the first setup.
    let mut owner_config = Config::for_data_dir(dir.path());
    owner_config.database_url = Some(owner_url.clone());
    let owner = liaison_server::open(&owner_config, Arc::new(liaison_server::clock::SystemClock))
        .await
        .unwrap();
    let ca = crate::common::seed_two_agencies(
        &owner,
        &[
            ("IN-NCB", "admin.in", Role::Admin),
            ("CA-RCMP", "admin.ca", Role::Admin),
            ("IN-NCB", "officer.in", Role::Officer),
            ("IN-NCB", "admin2.in", Role::Admin),
        ],
    )
    .await;

    // The service role, granted exactly what deploy/postgres-roles.sql grants.
    let app = format!("liaison_app_{}", &db[db.len() - 12..]);
    let superuser = Database::connect(&owner_url).await.unwrap();
    superuser
        .execute_unprepared(&format!("CREATE ROLE {app} LOGIN"))
        .await
        .unwrap();
    let script = include_str!("../../deploy/postgres-roles.sql")
        .replace(":\"db\"", &format!("\"{db}\""))
        .replace(":\"app\"", &format!("\"{app}\""));
    for statement in script
        .lines()
        .filter(|l| !l.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
        .split(';')
    {
        if !statement.trim().is_empty() {
            superuser.execute_unprepared(statement).await.unwrap();
        }
    }
    let (base, _) = owner_url.split_once("://").unwrap();
    let host_and_db = owner_url
        .rsplit_once('@')
        .map_or(&owner_url[base.len() + 3..], |(_, rest)| rest);
    let app_url = format!("{base}://{app}@{host_and_db}");

    // Without DDL rights the service will not migrate, but it checks the schema and serves.
    let mut app_config = Config::for_data_dir(dir.path());
    app_config.database_url = Some(app_url.clone());
    app_config.skip_migrations = true;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(liaison_server::serve(app_config, listener, async {
        stopped.await.ok();
    }));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy();
    let login = |username: &'static str| {
        let channel = channel.clone();
        async move {
            for _ in 0..50 {
                let attempt = pb::auth_service_client::AuthServiceClient::new(channel.clone())
                    .login(pb::LoginRequest {
                        username: username.into(),
                        password: PASSWORD.into(),
                    })
                    .await;
                if let Ok(r) = attempt {
                    return r.into_inner().access_token;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            String::new()
        }
    };
    let admin_in = login("admin.in").await;
    if admin_in.is_empty() {
        panic!("could not sign in; server: {:?}", server.await);
    }
    let admin_ca = login("admin.ca").await;
    let officer = login("officer.in").await;
    let proposed = pb::admin_service_client::AdminServiceClient::with_interceptor(
        channel.clone(),
        Bearer::token(&admin_in),
    )
    .propose_channel(pb::ProposeChannelRequest {
        partner_agency_id: ca.id.into(),
        categories: vec![pb::Category::Fraud as i32],
    })
    .await
    .unwrap()
    .into_inner();
    let approved = pb::admin_service_client::AdminServiceClient::with_interceptor(
        channel.clone(),
        Bearer::token(&admin_ca),
    )
    .approve_channel(pb::ApproveChannelRequest {
        id: proposed.id,
        etag: proposed.etag,
    })
    .await
    .unwrap()
    .into_inner();
    let mut cases = pb::case_service_client::CaseServiceClient::with_interceptor(
        channel.clone(),
        Bearer::token(&officer),
    );
    let case = cases
        .file_referral(pb::FileReferralRequest {
            legal_basis_id: String::new(),
            items: Vec::new(),
            category_code: String::new(),
            preservation: None,
            kind: 0,
            markings: None,
            request_id: uuid::Uuid::new_v4().to_string(),
            channel_id: approved.id,
            category: pb::Category::Fraud as i32,
            priority: pb::Priority::Priority as i32,
            title: "Forged visas".into(),
            summary: "A ring producing forged visas.".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let note = cases
        .add_note(pb::AddNoteRequest {
            markings: None,
            case_id: case.id.clone(),
            body: "More to follow".into(),
            visibility: pb::NoteVisibility::Shared as i32,
        })
        .await
        .unwrap()
        .into_inner();
    // The provider changes markings as the service role: of the case, and of the note.
    let h2 = pb::Markings {
        handling: pb::Handling::H2 as i32,
        source_reliability: pb::SourceReliability::B as i32,
        information_accuracy: pb::InformationAccuracy::Corroborated as i32,
        ..Default::default()
    };
    let case = cases
        .get_case(pb::GetCaseRequest { id: case.id })
        .await
        .unwrap()
        .into_inner();
    cases
        .update_case_markings(pb::UpdateCaseMarkingsRequest {
            id: case.id.clone(),
            etag: case.etag,
            markings: Some(h2.clone()),
            reason: String::new(),
        })
        .await
        .unwrap();
    let h3 = pb::Markings {
        handling: pb::Handling::H3 as i32,
        handling_conditions: "Not for the visa section".into(),
        ..h2
    };
    cases
        .update_note_markings(pb::UpdateNoteMarkingsRequest {
            case_id: case.id,
            note_id: note.id,
            markings: Some(h3),
            reason: String::new(),
        })
        .await
        .unwrap();

    // A role change a second admin approves, as the service role.
    let admin = |token: &str| {
        pb::admin_service_client::AdminServiceClient::with_interceptor(
            channel.clone(),
            Bearer::token(token),
        )
    };
    let admin_in_id = admin(&admin_in)
        .list_users(pb::ListUsersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .users
        .into_iter()
        .find(|u| u.username == "admin.in")
        .unwrap()
        .id;
    let proposed = admin(&admin_in)
        .propose_role_change(pb::ProposeRoleChangeRequest {
            user_id: admin_in_id,
            roles: vec![pb::Role::Admin as i32, pb::Role::Supervisor as i32],
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let admin2 = login("admin2.in").await;
    let approved = admin(&admin2)
        .approve_role_change(pb::ApproveRoleChangeRequest {
            id: proposed.id,
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(approved.status, pb::RoleChangeStatus::Approved as i32);

    // As the service role, history cannot be rewritten, nor its guards removed.
    let as_app = Database::connect(&app_url).await.unwrap();
    for attempt in [
        "UPDATE audit_entries SET outcome = 2",
        "DELETE FROM audit_entries",
        "TRUNCATE audit_entries",
        "DELETE FROM audit_checkpoints",
        "DROP TRIGGER audit_entries_append_only ON audit_entries",
        "ALTER TABLE audit_entries DISABLE TRIGGER ALL",
        "DELETE FROM case_notes",
        "UPDATE case_notes SET body = 'x'",
        "UPDATE audit_mac_start SET seq = 1000000000",
        "UPDATE audit_seal_start SET seq = 1000000000",
        "UPDATE audit_head SET seq = 0",
        "UPDATE audit_intake SET method = 'x'",
        "DELETE FROM audit_intake_rejected",
        "UPDATE case_events SET reason = 'x'",
    ] {
        let refused = as_app
            .execute_unprepared(attempt)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("permission denied") || refused.contains("must be owner"),
            "{attempt}: {refused}"
        );
    }
    // What the role can do, append a well-formed entry, never verifies: the entry's MAC needs the
    // service's key, which is not in the database.
    assert!(owner
        .sealer
        .settle(&owner.db, &owner.keys.current(), &*owner.clock)
        .await
        .unwrap());
    let tx = owner.db.begin().await.unwrap();
    let head = liaison_server::repo::audit::head(&tx).await.unwrap();
    drop(tx);
    let forged = crate::chain::append_forged(&as_app, head, chrono::Utc::now(), None).await;
    let report = liaison_server::audit::verify::verify(
        &owner.db,
        &owner.keys.current(),
        owner.clock.now(),
        None,
        None,
    )
    .await
    .unwrap();
    assert!(!report.ok);
    assert_eq!(report.first_bad_seq, Some(forged));
    assert!(report.problem.unwrap_or_default().contains("MAC"));
    // Nor does a record the role puts where calls put theirs: the sealer refuses it.
    as_app
        .execute_unprepared(&format!(
            "INSERT INTO audit_intake (at, actor_username, actor_roles, method, outcome, \
             status_code, request_id, mac) VALUES ({}, 'sup.ca', 0, \
             'liaison.v1.CaseService/GetCase', 1, 0, 'forged-intake', '{}:{}')",
            chrono::Utc::now().timestamp_micros(),
            owner.keys.current_kid(),
            "ab".repeat(32)
        ))
        .await
        .unwrap();
    assert!(owner
        .sealer
        .settle(&owner.db, &owner.keys.current(), &*owner.clock)
        .await
        .unwrap());
    let count = |sql: &'static str| {
        let as_app = &as_app;
        async move {
            as_app
                .query_one(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    sql,
                ))
                .await
                .unwrap()
                .unwrap()
                .try_get_by_index::<i64>(0)
                .unwrap()
        }
    };
    assert_eq!(
        count("SELECT COUNT(*) FROM audit_entries WHERE request_id = 'forged-intake'").await,
        0
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM audit_intake_rejected WHERE request_id = 'forged-intake'")
            .await,
        1
    );
    as_app.close().await.ok();

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    owner.db.clone().close().await;
    let admin = Database::connect(&admin_url).await.unwrap();
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!("DROP ROLE IF EXISTS {app}"))
        .await
        .unwrap();
}
