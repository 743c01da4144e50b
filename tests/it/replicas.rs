//! Three `liaisond` processes on one PostgreSQL database, hammered at once: afterwards the audit
//! chain is intact and gap-free, and every call — allowed, denied or failed — has exactly one entry.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use liaison_server::config::Config;
use liaison_server::model::Role;
use liaison_server::pb;
use tokio::sync::Mutex;
use tonic::transport::Channel;

use crate::common::{Backend, Bearer, PASSWORD};

pub(crate) struct Replica {
    pub child: Child,
    pub channel: Channel,
}

/// A test that fails part-way must not leave its servers running (they hold its output pipes).
impl Drop for Replica {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub(crate) fn start_replica(
    database_url: &str,
    key_dir: &std::path::Path,
    data_dir: &std::path::Path,
) -> Replica {
    let mut child = Command::new(env!("CARGO_BIN_EXE_liaisond"))
        .env("LIAISON_DATABASE_URL", database_url)
        .env("LIAISON_KEY_DIR", key_dir)
        .env("LIAISON_DATA_DIR", data_dir)
        .env("LIAISON_LISTEN", "127.0.0.1:0")
        .env("LIAISON_LOG_FORMAT", "json")
        .env("LIAISON_LOG", "warn,liaison=info")
        .env("LIAISON_DATABASE_MAX_CONNECTIONS", "6")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("replica exited before serving")
            .unwrap();
        let json: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if json["fields"]["message"] == "liaisond serving" {
            break json["fields"]["addr"].as_str().unwrap().to_string();
        }
    };
    // Keep draining the logs so the replica never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy();
    Replica { child, channel }
}

fn cases(
    channel: &Channel,
    token: &str,
) -> pb::case_service_client::CaseServiceClient<
    tonic::service::interceptor::InterceptedService<Channel, Bearer>,
> {
    pb::case_service_client::CaseServiceClient::with_interceptor(
        channel.clone(),
        Bearer::token(token),
    )
}

async fn login(channel: &Channel, username: &str) -> String {
    pb::auth_service_client::AuthServiceClient::new(channel.clone())
        .login(pb::LoginRequest {
            username: username.into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token
}

/// A database set up by the operator (two agencies, their people, an approved channel) and
/// `count` replicas serving it.
struct Cluster {
    state: liaison_server::state::AppState,
    name: String,
    replicas: Vec<Replica>,
    channels: Vec<Channel>,
    channel: pb::Channel,
    _dir: tempfile::TempDir,
}

async fn cluster(admin_url: &str, count: usize) -> Cluster {
    let (url, name) = crate::common::fresh_postgres_database(admin_url).await;
    let dir = tempfile::tempdir().unwrap();
    let key_dir = dir.path().join("keys");

    // First setup through the library, as the operator commands do.
    let mut config = Config::for_data_dir(dir.path());
    config.database_url = Some(url.clone());
    config.key_dir = Some(key_dir.clone());
    let state = liaison_server::open(&config, Arc::new(liaison_server::clock::SystemClock))
        .await
        .unwrap();
    let ca = crate::common::seed_two_agencies(
        &state,
        &[
            ("IN-NCB", "admin.in", Role::Admin),
            ("CA-RCMP", "admin.ca", Role::Admin),
            ("IN-NCB", "officer.in", Role::Officer),
            ("CA-RCMP", "sup.ca", Role::Supervisor),
            ("CA-RCMP", "officer.ca", Role::Officer),
        ],
    )
    .await;

    let replicas: Vec<Replica> = (0..count)
        .map(|i| start_replica(&url, &key_dir, &dir.path().join(format!("r{i}"))))
        .collect();
    let channels: Vec<Channel> = replicas.iter().map(|r| r.channel.clone()).collect();

    let admin_in = login(&channels[0], "admin.in").await;
    let admin_ca = login(&channels[1], "admin.ca").await;
    let proposed = pb::admin_service_client::AdminServiceClient::with_interceptor(
        channels[0].clone(),
        Bearer::token(&admin_in),
    )
    .propose_channel(pb::ProposeChannelRequest {
        partner_agency_id: ca.id.into(),
        categories: vec![pb::Category::Drugs as i32],
    })
    .await
    .unwrap()
    .into_inner();
    let channel = pb::admin_service_client::AdminServiceClient::with_interceptor(
        channels[1].clone(),
        Bearer::token(&admin_ca),
    )
    .approve_channel(pb::ApproveChannelRequest {
        id: proposed.id,
        etag: proposed.etag,
    })
    .await
    .unwrap()
    .into_inner();
    Cluster {
        state,
        name,
        replicas,
        channels,
        channel,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(liaison_test_postgres),
    ignore = "PostgreSQL: set LIAISON_TEST_POSTGRES_URL to run it"
)]
async fn three_replicas_keep_one_gap_free_chain() {
    let Some(Backend::Postgres(admin_url)) = Backend::postgres() else {
        return;
    };
    let Cluster {
        state,
        name,
        replicas,
        channels,
        channel,
        _dir: _kept,
    } = cluster(&admin_url, 3).await;
    let officer = login(&channels[2], "officer.in").await;
    let supervisor = login(&channels[0], "sup.ca").await;
    let stranger = login(&channels[1], "officer.ca").await;

    let settle = || async {
        assert!(state
            .sealer
            .settle(&state.db, &state.keys.current(), &*state.clock)
            .await
            .unwrap());
    };
    settle().await;
    let tx = state.db.begin().await.unwrap();
    let (start_seq, _) = liaison_server::repo::audit::head(&tx).await.unwrap();
    tx.commit().await.unwrap();

    // Hammer: filings, reads, acknowledgements racing on the same cases, refused probes.
    let calls: Arc<Mutex<BTreeMap<(String, i32), u64>>> = Arc::default();
    let filed: Arc<Mutex<Vec<pb::Case>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut workers = Vec::new();
    for worker in 0..12usize {
        let (channels, calls, filed) = (channels.clone(), calls.clone(), filed.clone());
        let (officer, supervisor, stranger, channel_id) = (
            officer.clone(),
            supervisor.clone(),
            stranger.clone(),
            channel.id.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut round = 0usize;
            while Instant::now() < deadline {
                round += 1;
                let replica = &channels[(worker + round) % 3];
                let (method, result): (&str, Result<(), tonic::Status>) = match (worker + round) % 4
                {
                    0 => {
                        let request = pb::FileReferralRequest {
                            legal_basis_id: String::new(),
                            items: Vec::new(),
                            category_code: String::new(),
                            preservation: None,
                            kind: 0,
                            markings: None,
                            request_id: uuid::Uuid::new_v4().to_string(),
                            channel_id: channel_id.clone(),
                            category: pb::Category::Drugs as i32,
                            priority: pb::Priority::Urgent as i32,
                            title: format!("Hammer {worker}/{round}"),
                            summary: "Load".into(),
                        };
                        let result = cases(replica, &officer).file_referral(request).await;
                        if let Ok(case) = &result {
                            filed.lock().await.push(case.get_ref().clone());
                        }
                        ("FileReferral", result.map(|_| ()))
                    }
                    1 => {
                        let request = pb::ListCasesRequest {
                            view: pb::CaseView::Incoming as i32,
                            page_size: 20,
                            ..Default::default()
                        };
                        (
                            "ListCases",
                            cases(replica, &supervisor)
                                .list_cases(request)
                                .await
                                .map(|_| ()),
                        )
                    }
                    2 => {
                        // Several workers race to acknowledge the same case: one wins, the rest fail.
                        let target = filed.lock().await.last().cloned();
                        let Some(case) = target else { continue };
                        let request = pb::AcknowledgeCaseRequest {
                            id: case.id,
                            etag: case.etag,
                        };
                        (
                            "AcknowledgeCase",
                            cases(replica, &supervisor)
                                .acknowledge_case(request)
                                .await
                                .map(|_| ()),
                        )
                    }
                    _ => {
                        let target = filed.lock().await.first().cloned();
                        let Some(case) = target else { continue };
                        (
                            "GetCase",
                            cases(replica, &stranger)
                                .get_case(pb::GetCaseRequest { id: case.id })
                                .await
                                .map(|_| ()),
                        )
                    }
                };
                let code = result.map_or_else(|s| s.code() as i32, |()| 0);
                *calls
                    .lock()
                    .await
                    .entry((method.to_string(), code))
                    .or_default() += 1;
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }

    for mut replica in replicas {
        Command::new("kill")
            .args(["-TERM", &replica.child.id().to_string()])
            .status()
            .unwrap();
        assert!(replica.child.wait().unwrap().success());
    }

    // Every call has exactly one entry, with its status.
    settle().await;
    let tx = state.db.begin().await.unwrap();
    let entries = liaison_server::repo::audit::range(&tx, start_seq + 1, 10_000_000)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut audited: BTreeMap<(String, i32), u64> = BTreeMap::new();
    for entry in &entries {
        let method = entry.record.method.rsplit('/').next().unwrap().to_string();
        *audited
            .entry((method, entry.record.status_code))
            .or_default() += 1;
    }
    let calls = calls.lock().await.clone();
    let total: u64 = calls.values().sum();
    assert!(total > 100, "the hammer made {total} calls");
    assert!(calls.keys().any(|(m, c)| m == "AcknowledgeCase" && *c == 0));
    assert!(calls
        .keys()
        .any(|(m, c)| m == "GetCase" && *c == tonic::Code::NotFound as i32));
    assert_eq!(audited, calls, "one entry per call, by method and status");

    // Three servers filed on one channel at once: every reference is its own, in the channel's
    // form, and no server wasted more than one block of numbers.
    let filed = filed.lock().await.clone();
    let numbers: HashSet<u64> = filed
        .iter()
        .map(|case| {
            let (prefix, number) = case.reference.rsplit_once('-').unwrap();
            assert!(prefix.starts_with("IN-CA-DRUGS-"), "{}", case.reference);
            number.parse().unwrap()
        })
        .collect();
    assert_eq!(numbers.len(), filed.len(), "references are unique");
    let highest = numbers.iter().max().copied().unwrap_or(0);
    assert!(
        highest <= filed.len() as u64 + 3 * liaison_server::repo::references::MAX_BLOCK as u64,
        "{} filings reached number {highest}",
        filed.len()
    );

    // The chain is one line, dense and intact.
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
    assert_eq!(report.entries_checked, report.head_seq);
    eprintln!(
        "replicas: {total} calls, {} entries verified",
        report.entries_checked
    );

    state.db.clone().close().await;
    let admin = sea_orm::Database::connect(&admin_url).await.unwrap();
    use sea_orm::ConnectionTrait;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .unwrap();
}

/// The replica sealing is killed mid-load (any of them may hold the seal's turn, so each is killed
/// in turn): another takes over at once, nothing any replica acknowledged is lost, and the chain
/// verifies with every batch signed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(liaison_test_postgres),
    ignore = "PostgreSQL: set LIAISON_TEST_POSTGRES_URL to run it"
)]
async fn a_killed_sealer_loses_nothing_acknowledged() {
    let Some(Backend::Postgres(admin_url)) = Backend::postgres() else {
        return;
    };
    let Cluster {
        state,
        name,
        mut replicas,
        channels,
        channel,
        _dir: _kept,
    } = cluster(&admin_url, 3).await;
    let officer = login(&channels[0], "officer.in").await;

    // Filings on every replica; each acknowledged one is remembered with its case id.
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for worker in 0..6usize {
        let (channels, acknowledged, stop) = (channels.clone(), acknowledged.clone(), stop.clone());
        let (officer, channel_id) = (officer.clone(), channel.id.clone());
        workers.push(tokio::spawn(async move {
            let mut round = 0usize;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                round += 1;
                let replica = &channels[(worker + round) % channels.len()];
                let request = pb::FileReferralRequest {
                    legal_basis_id: String::new(),
                    items: Vec::new(),
                    category_code: String::new(),
                    preservation: None,
                    kind: 0,
                    markings: None,
                    request_id: uuid::Uuid::new_v4().to_string(),
                    channel_id: channel_id.clone(),
                    category: pb::Category::Drugs as i32,
                    priority: pb::Priority::Urgent as i32,
                    title: format!("Takeover {worker}/{round}"),
                    summary: "Load".into(),
                };
                if let Ok(case) = cases(replica, &officer).file_referral(request).await {
                    acknowledged.lock().await.push(case.into_inner().id);
                }
            }
        }));
    }
    // Kill -9 two of the three replicas, one after the other, while the load goes on.
    for victim in replicas.iter_mut().take(2) {
        tokio::time::sleep(Duration::from_millis(700)).await;
        victim.child.kill().unwrap();
        victim.child.wait().unwrap();
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for worker in workers {
        worker.await.unwrap();
    }

    // The survivor sealed what the killed ones had committed: the intake empties without this
    // process's help, then every acknowledged filing has its entry.
    let started = Instant::now();
    loop {
        let tx = state.db.begin_read().await.unwrap();
        let waiting = liaison_server::repo::audit::waiting(&tx, 1).await.unwrap();
        drop(tx);
        if waiting.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the surviving replica did not seal {waiting:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tx = state.db.begin().await.unwrap();
    let entries = liaison_server::repo::audit::range(&tx, 1, 10_000_000)
        .await
        .unwrap();
    drop(tx);
    let filed: std::collections::BTreeSet<&str> = entries
        .iter()
        .filter(|e| e.record.method.ends_with("/FileReferral") && e.record.status_code == 0)
        .filter_map(|e| e.record.case_id.as_deref())
        .collect();
    let acknowledged = acknowledged.lock().await.clone();
    assert!(acknowledged.len() > 20, "{} filings", acknowledged.len());
    for id in &acknowledged {
        assert!(
            filed.contains(id.as_str()),
            "filing {id} was acknowledged but has no entry"
        );
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
    assert_eq!(report.entries_checked, report.head_seq);
    eprintln!(
        "takeover: {} filings acknowledged, {} entries verified",
        acknowledged.len(),
        report.entries_checked
    );

    drop(replicas);
    state.db.clone().close().await;
    let admin = sea_orm::Database::connect(&admin_url).await.unwrap();
    use sea_orm::ConnectionTrait;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .unwrap();
}
