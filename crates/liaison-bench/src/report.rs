//! Running workloads against a deployment and reporting them: one run (`run`), or the whole report
//! with its references and targets (`report`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use liaison_proto as pb;

use crate::population::{self, Population, Route, Seeded, Session};
use crate::server::{self, Server, Store};
use crate::workload::{self, Outcome, Plan, Target, Workload, LOGIN_BURST};
use crate::{pgbench, BenchResult, RunArgs};

/// What a filing sends on SQLite: the sign-in check, BEGIN, eleven statements, COMMIT.
const FILING_STATEMENTS_ON_SQLITE: usize = 14;

/// Connections the simulated people share.
const CONNECTIONS: usize = 4;

/// A server under load, and who loads it.
struct Deployment {
    store: Store,
    server: Server,
    target: Target,
    seeded: Option<Seeded>,
    /// Resident memory once started and everyone signed in, before any load (MiB).
    idle_rss: Option<f64>,
    data_dir: PathBuf,
}

/// A run's figures.
struct Measured {
    plan: Plan,
    outcome: Outcome,
    cpu: Option<Duration>,
    peak_rss: Option<f64>,
}

impl Measured {
    /// The server's CPU time per successful call, in milliseconds (NaN when unknown).
    fn cpu_ms_per_call(&self) -> f64 {
        let calls = self.outcome.stats.total().successes().max(1) as f64;
        self.cpu
            .map_or(f64::NAN, |c| c.as_secs_f64() * 1000.0 / calls)
    }

    fn throughput(&self, method: Option<&str>) -> f64 {
        let calls = match method {
            Some(m) => self
                .outcome
                .stats
                .methods
                .get(m)
                .map_or(0, |s| s.successes()),
            None => self.outcome.stats.total().successes(),
        };
        calls as f64 / self.outcome.measured.as_secs_f64().max(1e-9)
    }

    fn p99(&self, method: &str) -> f64 {
        self.outcome
            .stats
            .methods
            .get(method)
            .cloned()
            .map_or(f64::NAN, |mut s| s.percentile_ms(0.99))
    }
}

async fn deploy(database: &str, cases: u64, audit_entries: u64) -> BenchResult<Deployment> {
    let store = Store::open(database, false).await?;
    let data_dir = std::env::temp_dir().join(format!("liaison-bench-{}", uuid::Uuid::new_v4()));
    let url = store.url();
    eprintln!(
        "seeding {cases} cases and {audit_entries} audit entries ({})",
        if url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    let started = Instant::now();
    let seeded = server::seed(&data_dir, url.as_deref(), cases, audit_entries)?;
    eprintln!("seeded in {:.1} s", started.elapsed().as_secs_f64());
    let server = server::start(&data_dir, url.as_deref()).await?;
    let channels = server.channels(CONNECTIONS)?;
    let population = population::sign_in(&channels[0], &seeded, server::PASSWORD).await?;
    let known_cases = known_cases(&channels[0], &population).await;
    let idle_rss = server.memory_mib().map(|(rss, _)| rss);
    let usernames = seeded
        .users
        .iter()
        .filter(|u| u.role.to_ascii_uppercase().contains("OFFICER"))
        .map(|u| u.username.clone())
        .collect();
    Ok(Deployment {
        target: Target {
            channels,
            population: Arc::new(population),
            credentials: Arc::new((usernames, server::PASSWORD.to_string())),
            known_cases: Arc::new(known_cases),
            addr: Some(server.addr),
        },
        store,
        server,
        seeded: Some(seeded),
        idle_rss,
        data_dir,
    })
}

/// Case ids a supervisor sees, for the readers and auditors to ask about.
async fn known_cases(channel: &tonic::transport::Channel, population: &Population) -> Vec<String> {
    let mut ids = Vec::new();
    for supervisor in population.supervisors.iter().take(4) {
        let mut request = tonic::Request::new(pb::ListCasesRequest {
            page_size: 100,
            ..Default::default()
        });
        request
            .metadata_mut()
            .insert("authorization", supervisor.bearer.clone());
        if let Ok(page) = pb::case_service_client::CaseServiceClient::new(channel.clone())
            .list_cases(request)
            .await
        {
            ids.extend(page.into_inner().cases.into_iter().map(|c| c.id));
        }
    }
    ids
}

/// The echo server, with a make-believe population (it checks nothing).
async fn deploy_echo() -> BenchResult<Deployment> {
    let server = server::start_echo().await?;
    let session = Session {
        agency_code: "ECHO".into(),
        bearer: "Bearer echo".parse().map_err(|_| "metadata")?,
    };
    let population = Population {
        officers: vec![session.clone()],
        supervisors: vec![session.clone()],
        auditors: vec![session],
        officer_ids: HashMap::from([("ECHO".to_string(), vec![uuid::Uuid::nil().to_string()])]),
        routes: HashMap::from([(
            "ECHO".to_string(),
            vec![Route {
                channel_id: uuid::Uuid::nil().to_string(),
                category: pb::Category::Drugs,
            }],
        )]),
    };
    Ok(Deployment {
        target: Target {
            channels: server.channels(CONNECTIONS)?,
            population: Arc::new(population),
            credentials: Arc::new((Vec::new(), String::new())),
            known_cases: Arc::new(vec![uuid::Uuid::nil().to_string()]),
            addr: None,
        },
        idle_rss: server.memory_mib().map(|(rss, _)| rss),
        store: Store::Sqlite,
        server,
        seeded: None,
        data_dir: PathBuf::new(),
    })
}

impl Deployment {
    /// Runs `plan`, sampling the server's memory as it goes.
    async fn measure(&self, plan: Plan) -> Measured {
        measure(&self.target, &[self.server.pid()], plan).await
    }

    async fn tear_down(self) -> BenchResult<()> {
        self.server.stop();
        self.store.drop_database().await?;
        if !self.data_dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
        Ok(())
    }
}

/// The CPU time of the servers `pids`, together.
fn cpu_of(pids: &[u32]) -> Option<Duration> {
    pids.iter()
        .map(|pid| crate::procfs::cpu_time(*pid))
        .sum::<Option<Duration>>()
}

/// Runs `plan` against `target`, served by the processes `pids`: their CPU time together, and
/// the first one's memory, sampled as it goes.
async fn measure(target: &Target, pids: &[u32], plan: Plan) -> Measured {
    let pid = pids[0];
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut peak = 0u64;
            while sampling.load(std::sync::atomic::Ordering::SeqCst) {
                if let Some((rss, _)) = crate::procfs::memory(pid) {
                    peak = peak.max(rss);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            peak
        })
    };
    let cpu_before = cpu_of(pids);
    let outcome = workload::run(target, plan).await;
    let cpu_after = cpu_of(pids);
    sampling.store(false, std::sync::atomic::Ordering::SeqCst);
    let peak = sampler.await.unwrap_or(0);
    Measured {
        plan,
        cpu: cpu_before.zip(cpu_after).map(|(a, b)| b.saturating_sub(a)),
        peak_rss: (peak > 0).then(|| server::mib(peak)),
        outcome,
    }
}

fn plan(workload: Workload, concurrency: usize, seconds: f64, warmup: f64) -> Plan {
    Plan {
        workload,
        concurrency,
        duration: Duration::from_secs_f64(seconds.max(0.1)),
        warmup: Duration::from_secs_f64(warmup.max(0.0)),
    }
}

/// `liaison-bench run`: one workload, printed.
pub async fn run_one(args: &RunArgs) -> BenchResult<()> {
    let deployment = if args.echo {
        deploy_echo().await?
    } else {
        deploy(&args.database, args.cases, args.audit_entries).await?
    };
    let measured = deployment
        .measure(plan(
            args.workload,
            args.concurrency,
            args.seconds,
            args.warmup,
        ))
        .await;
    let idle = deployment.idle_rss;
    deployment.tear_down().await?;
    if args.json {
        println!("{}", to_json(&measured, idle));
    } else {
        print!("{}", table(&measured, idle));
    }
    let total = measured.outcome.stats.total();
    if total.successes() == 0 {
        return Err("no call succeeded".into());
    }
    Ok(())
}

fn to_json(m: &Measured, idle_rss: Option<f64>) -> serde_json::Value {
    let methods: serde_json::Map<String, serde_json::Value> = m
        .outcome
        .stats
        .methods
        .iter()
        .map(|(name, s)| {
            let mut s = s.clone();
            let secs = m.outcome.measured.as_secs_f64().max(1e-9);
            (
                name.to_string(),
                serde_json::json!({
                    "calls_per_second": s.successes() as f64 / secs,
                    "ok": s.successes(),
                    "failed": s.failures(),
                    "errors": s.errors,
                    "p50_ms": s.percentile_ms(0.5),
                    "p90_ms": s.percentile_ms(0.9),
                    "p99_ms": s.percentile_ms(0.99),
                    "p999_ms": s.percentile_ms(0.999),
                }),
            )
        })
        .collect();
    serde_json::json!({
        "workload": format!("{:?}", m.plan.workload).to_lowercase(),
        "concurrency": m.plan.concurrency,
        "seconds": m.outcome.measured.as_secs_f64(),
        "calls_per_second": m.throughput(None),
        "server_cpu_seconds": m.cpu.map(|c| c.as_secs_f64()),
        "server_idle_rss_mib": idle_rss,
        "server_peak_rss_mib": m.peak_rss,
        "login_burst_seconds": m.outcome.burst.map(|b| b.as_secs_f64()),
        "methods": methods,
    })
}

/// The figures of one run as an aligned table.
fn table(m: &Measured, idle_rss: Option<f64>) -> String {
    let mut out = String::new();
    let secs = m.outcome.measured.as_secs_f64();
    let _ = writeln!(
        out,
        "workload {:?} at {} in flight for {:.1} s: {:.0} calls/s",
        m.plan.workload,
        m.plan.concurrency,
        secs,
        m.throughput(None)
    );
    let _ = writeln!(
        out,
        "{:<36} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}  errors",
        "method", "calls/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "ok"
    );
    for (name, s) in &m.outcome.stats.methods {
        let mut s = s.clone();
        let errors: Vec<String> = s.errors.iter().map(|(c, n)| format!("{c}={n}")).collect();
        let _ = writeln!(
            out,
            "{:<36} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8}  {}",
            name,
            s.successes() as f64 / secs.max(1e-9),
            s.percentile_ms(0.5),
            s.percentile_ms(0.9),
            s.percentile_ms(0.99),
            s.percentile_ms(0.999),
            s.successes(),
            if errors.is_empty() {
                "-".to_string()
            } else {
                errors.join(" ")
            }
        );
    }
    if let Some(burst) = m.outcome.burst {
        let _ = writeln!(
            out,
            "login burst: {LOGIN_BURST} sign-ins in {:.2} s",
            burst.as_secs_f64()
        );
    }
    let _ = writeln!(
        out,
        "server: {} CPU s ({} ms per call); RSS idle {} MiB, peak under load {} MiB",
        m.cpu
            .map_or("?".into(), |c| format!("{:.2}", c.as_secs_f64())),
        if m.cpu.is_some() {
            format!("{:.2}", m.cpu_ms_per_call())
        } else {
            "?".into()
        },
        idle_rss.map_or("?".into(), |r| format!("{r:.1}")),
        m.peak_rss.map_or("?".into(), |r| format!("{r:.1}")),
    );
    out
}

#[derive(Args, Clone)]
pub struct ReportArgs {
    /// The PostgreSQL server (a URL of any database on it): the report makes its own databases.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres: String,
    /// Cases seeded into the PostgreSQL database.
    #[arg(long, default_value_t = 1_000_000)]
    cases: u64,
    /// Audit entries seeded into the PostgreSQL database.
    #[arg(long, default_value_t = 10_000_000)]
    audit_entries: u64,
    /// Cases seeded into the SQLite database (its run is `file` only).
    #[arg(long, default_value_t = 10_000)]
    sqlite_cases: u64,
    /// Audit entries seeded into the SQLite database.
    #[arg(long, default_value_t = 100_000)]
    sqlite_audit_entries: u64,
    /// Measured seconds of each run.
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Write the Markdown report here too.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// One line of the report: what, the figure, the references, the target and whether it is met.
struct Row {
    what: String,
    figure: String,
    references: String,
    target: String,
    met: Option<bool>,
}

/// `liaison-bench report`: every workload, beside pgbench and the echo server, against the targets.
pub async fn report(args: &ReportArgs) -> BenchResult<()> {
    let mut rows = Vec::new();
    let mut details = String::new();
    let started = Instant::now();
    let run_plan = |w, c| plan(w, c, args.seconds, args.warmup);

    // PostgreSQL at scale.
    let pg = deploy(&args.postgres, args.cases, args.audit_entries).await?;
    let idle_rss = pg.idle_rss;
    let file32 = pg.measure(run_plan(Workload::File, 32)).await;
    let read64 = pg.measure(run_plan(Workload::Read, 64)).await;
    // The latency targets are a call's own: one in flight, nothing queued ahead of it.
    let queue = pg.measure(run_plan(Workload::Queue, 1)).await;
    let audit = pg.measure(run_plan(Workload::Audit, 1)).await;
    // And with others in flight beside it.
    let queue8 = pg.measure(run_plan(Workload::Queue, 8)).await;
    let audit8 = pg.measure(run_plan(Workload::Audit, 8)).await;
    // Seal lag: from a call's record to its signed entry, as the server's histogram saw it.
    const SEAL_LAG: &str = "liaison_audit_seal_lag_seconds";
    let lag_before = pg.server.histogram(SEAL_LAG).await?;
    let mixed = pg.measure(run_plan(Workload::Mixed, 32)).await;
    let lag_after = pg.server.histogram(SEAL_LAG).await?;
    let (lag_p99, lag_sealed) = server::quantile_between(&lag_before, &lag_after, 0.99);
    let (lag_p50, _) = server::quantile_between(&lag_before, &lag_after, 0.5);
    let login = pg.measure(run_plan(Workload::Login, 16)).await;
    // Three replicas on the one database, the load spread over them.
    let replicas = {
        let url = pg.server.database_url.clone().ok_or("PostgreSQL URL")?;
        let others = [
            server::start(&pg.data_dir, Some(&url)).await?,
            server::start(&pg.data_dir, Some(&url)).await?,
        ];
        let mut channels = pg.server.channels(2)?;
        for other in &others {
            channels.extend(other.channels(1)?);
        }
        let target = Target {
            channels,
            ..pg.target.clone()
        };
        let pids: Vec<u32> = std::iter::once(pg.server.pid())
            .chain(others.iter().map(Server::pid))
            .collect();
        let measured = measure(&target, &pids, run_plan(Workload::File, 32)).await;
        for other in others {
            other.stop();
        }
        measured
    };
    for m in [
        &file32, &read64, &queue, &audit, &queue8, &audit8, &mixed, &login,
    ] {
        details.push_str(&table(m, idle_rss));
        details.push('\n');
    }
    details.push_str("Three replicas:\n");
    details.push_str(&table(&replicas, None));
    details.push('\n');
    let url = pg.server.database_url.clone().ok_or("PostgreSQL URL")?;
    let data_dir = pg.data_dir.clone();
    let seeded = pg.seeded.clone().ok_or("seeded population")?;
    let pick = |role: &str, agency: &str| {
        seeded
            .users
            .iter()
            .find(|u| u.role.to_ascii_uppercase().contains(role) && u.agency_code == agency)
            .map(|u| u.username.clone())
    };
    let officer = pick("OFFICER", "IN-NCB").ok_or("no IN-NCB officer")?;
    let supervisor = pick("SUPERVISOR", "CA-RCMP").ok_or("no CA-RCMP supervisor")?;
    let context = pgbench::Context::load(&url, &officer, &supervisor).await?;
    // Stop the server before verifying and before pgbench (whose entries do not chain).
    let Deployment {
        server: pg_server,
        store: pg_store,
        ..
    } = pg;
    pg_server.stop();
    let (verify_time, verified) = server::verify_chain(&data_dir, Some(&url))?;
    let seconds = args.seconds.round().max(1.0) as u64;
    use pgbench::{AuditPath, Reference};
    let pg_file_run = |path, reference| {
        pgbench::run(
            &url,
            &[("file", pgbench::file_script(&context, path, reference))],
            32,
            seconds,
            &data_dir,
        )
    };
    let pg_read_run = |path| {
        pgbench::run(
            &url,
            &[
                ("get_case", pgbench::get_case_script(&context, path)),
                ("list_cases", pgbench::list_cases_script(&context, path)),
            ],
            64,
            seconds,
            &data_dir,
        )
    };
    // Today's SQL, without the counter row, and from before the sealer (the head row's lock).
    // Today's filing holds no row another call waits on (its reference comes from a block
    // reserved beside it: a sequence stands in for that); before reference blocks, it held the
    // channel's counter row until commit.
    let pg_file = pg_file_run(AuditPath::Intake, Reference::Sequence)?;
    let pg_file_counter = pg_file_run(AuditPath::Intake, Reference::Counter)?;
    let pg_read = pg_read_run(AuditPath::Intake)?;
    let pg_file_locked = pg_file_run(AuditPath::HeadLock, Reference::Counter)?;
    let pg_read_locked = pg_read_run(AuditPath::HeadLock)?;
    pg_store.drop_database().await?;
    let _ = std::fs::remove_dir_all(&data_dir);

    // The gRPC stack's limit.
    let echo = deploy_echo().await?;
    let echo_file = echo.measure(run_plan(Workload::File, 32)).await;
    let echo_read = echo.measure(run_plan(Workload::Read, 64)).await;
    echo.tear_down().await?;

    // SQLite, the default.
    let sqlite = deploy("sqlite", args.sqlite_cases, args.sqlite_audit_entries).await?;
    let sqlite_file = sqlite.measure(run_plan(Workload::File, 8)).await;
    details.push_str(&format!(
        "SQLite ({} cases, {} audit entries):\n",
        args.sqlite_cases, args.sqlite_audit_entries
    ));
    details.push_str(&table(&sqlite_file, sqlite.idle_rss));
    sqlite.tear_down().await?;
    // SQLite's floor: as many trivial statements as a filing sends, through the same driver.
    let floor = crate::sqlite_floor::measure(FILING_STATEMENTS_ON_SQLITE, 8, args.seconds).await?;

    let ratio = |a: f64, b: f64| if b > 0.0 { a / b * 100.0 } else { f64::NAN };
    let vs = |figure: f64, pg: pgbench::Measured, echo: f64| {
        format!(
            "pgbench {:.0}/s, mean {:.1} ms ({:.0} %); echo {echo:.0}/s ({:.0} %)",
            pg.tps,
            pg.latency_ms,
            ratio(figure, pg.tps),
            ratio(figure, echo)
        )
    };
    let also = |counter: Option<pgbench::Measured>, locked: pgbench::Measured| {
        let counter = counter.map_or(String::new(), |m| {
            format!(
                "; with the channel's counter row held to commit {:.0}/s",
                m.tps
            )
        });
        format!(
            "{counter}; before the sealer (head row locked) {:.0}/s",
            locked.tps
        )
    };
    let f = file32.throughput(None);
    rows.push(Row {
        what: "`file` at 32 in flight (PostgreSQL)".into(),
        figure: format!(
            "{f:.0} filings/s, p99 {:.1} ms, {:.2} ms server CPU a call",
            file32.p99("FileReferral"),
            file32.cpu_ms_per_call()
        ),
        references: vs(f, pg_file, echo_file.throughput(None))
            + &also(Some(pg_file_counter), pg_file_locked),
        target: "≥ 50 % of pgbench (no hot rows)".into(),
        met: Some(ratio(f, pg_file.tps) >= 50.0),
    });
    let r = read64.throughput(None);
    rows.push(Row {
        what: "`read` at 64 in flight (PostgreSQL)".into(),
        figure: format!(
            "{r:.0} reads/s, p99 GetCase {:.1} ms, ListCases {:.1} ms",
            read64.p99("GetCase"),
            read64.p99("ListCases")
        ),
        references: vs(r, pg_read, echo_read.throughput(None)) + &also(None, pg_read_locked),
        target: "≥ 40 % of pgbench (no hot rows left)".into(),
        met: Some(ratio(r, pg_read.tps) >= 40.0),
    });
    for method in [
        "ListCases incoming newest",
        "ListCases incoming overdue by due",
    ] {
        let p99 = queue.p99(method);
        rows.push(Row {
            what: format!("{method}, page of 50, {} cases, 1 in flight", args.cases),
            figure: format!("p99 {p99:.2} ms"),
            references: String::new(),
            target: "p99 ≤ 10 ms".into(),
            met: Some(p99 <= 10.0),
        });
    }
    for method in [
        "QueryAuditLog by case",
        "QueryAuditLog by actor",
        "QueryAuditLog by time range",
    ] {
        let p99 = audit.p99(method);
        rows.push(Row {
            what: format!("{method}, {} entries, 1 in flight", args.audit_entries),
            figure: format!("p99 {p99:.2} ms"),
            references: String::new(),
            target: "p99 ≤ 20 ms".into(),
            met: Some(p99 <= 20.0),
        });
    }
    for (measured, method, scale) in [
        (&queue8, "ListCases incoming newest", args.cases),
        (&queue8, "ListCases incoming overdue by due", args.cases),
        (&audit8, "QueryAuditLog by case", args.audit_entries),
        (&audit8, "QueryAuditLog by actor", args.audit_entries),
        (&audit8, "QueryAuditLog by time range", args.audit_entries),
    ] {
        let p99 = measured.p99(method);
        rows.push(Row {
            what: format!("{method}, {scale} rows, 8 in flight"),
            figure: format!("p99 {p99:.2} ms"),
            references: String::new(),
            target: "p99 ≤ 15 ms".into(),
            met: Some(p99 <= 15.0),
        });
    }
    rows.push(Row {
        what: "seal lag (commit to sealed and signed) under `mixed` at 32".into(),
        figure: format!(
            "p99 ≤ {:.0} ms, p50 ≤ {:.0} ms ({lag_sealed} entries sealed; the bounds of \
             `liaison_audit_seal_lag_seconds`' buckets)",
            lag_p99 * 1000.0,
            lag_p50 * 1000.0
        ),
        references: String::new(),
        target: "p99 ≤ 100 ms".into(),
        met: Some(lag_p99 <= 0.1),
    });
    let one = file32.throughput(None);
    let three = replicas.throughput(None);
    rows.push(Row {
        what: "`file` at 32 in flight over three replicas on one PostgreSQL".into(),
        figure: format!(
            "{three:.0} filings/s, p99 {:.1} ms, {:.2} ms CPU a call (all three)",
            replicas.p99("FileReferral"),
            replicas.cpu_ms_per_call()
        ),
        references: format!("one replica {one:.0}/s ({:.0} %)", ratio(three, one)),
        target: "≥ one replica's".into(),
        met: Some(three >= one),
    });
    let per_second = verified as f64 / verify_time.as_secs_f64().max(1e-9);
    rows.push(Row {
        what: format!("chain verification (`liaisond audit verify`, {verified} entries)"),
        figure: format!(
            "{per_second:.0} entries/s ({:.1} s)",
            verify_time.as_secs_f64()
        ),
        references: String::new(),
        target: "≥ 700,000 entries/s, MACs checked".into(),
        met: Some(per_second >= 700_000.0),
    });
    let unloaded = login
        .p99("GetCase (unloaded)")
        .max(login.p99("ListCases (unloaded)"));
    let burst = login
        .p99("GetCase (during login burst)")
        .max(login.p99("ListCases (during login burst)"));
    rows.push(Row {
        what: format!("`login`: {LOGIN_BURST} sign-ins at once while `read` runs at 16"),
        figure: format!(
            "read p99 {burst:.1} ms during the burst vs {unloaded:.1} ms before ({:.1}×); burst took {:.1} s",
            burst / unloaded,
            login.outcome.burst.map_or(f64::NAN, |b| b.as_secs_f64())
        ),
        references: String::new(),
        target: "≤ 3× the unloaded p99".into(),
        met: Some(burst <= 3.0 * unloaded),
    });
    rows.push(Row {
        what: "memory: idle RSS (started, population signed in)".into(),
        figure: idle_rss.map_or("?".into(), |r| format!("{r:.1} MiB")),
        references: String::new(),
        target: "≤ 30 MiB".into(),
        met: idle_rss.map(|r| r <= 30.0),
    });
    rows.push(Row {
        what: "memory: peak RSS under `mixed` at 32".into(),
        figure: mixed.peak_rss.map_or("?".into(), |r| {
            format!("{r:.1} MiB ({:.0} calls/s)", mixed.throughput(None))
        }),
        references: String::new(),
        target: "≤ 150 MiB".into(),
        met: mixed.peak_rss.map(|r| r <= 150.0),
    });
    let s = sqlite_file.throughput(None);
    rows.push(Row {
        what: format!(
            "SQLite (default), `file` at 8 in flight, {} cases",
            args.sqlite_cases
        ),
        figure: format!(
            "{s:.0} filings/s, p99 {:.1} ms",
            sqlite_file.p99("FileReferral")
        ),
        references: format!(
            "{floor:.0}/s: {FILING_STATEMENTS_ON_SQLITE} statements of `SELECT 1` in a transaction \
             through the same driver ({:.0} %)",
            ratio(s, floor)
        ),
        target: "≥ 1,500 filings/s".into(),
        met: Some(s >= 1500.0),
    });

    let mut markdown = String::new();
    let _ = writeln!(
        markdown,
        "| what | measured | references (ratio) | target | met |"
    );
    let _ = writeln!(markdown, "|---|---|---|---|---|");
    for row in &rows {
        let _ = writeln!(
            markdown,
            "| {} | {} | {} | {} | {} |",
            row.what,
            row.figure,
            if row.references.is_empty() {
                "—"
            } else {
                &row.references
            },
            row.target,
            match row.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "?",
            }
        );
    }
    let _ = writeln!(
        markdown,
        "\nReferences on the same machine in the same run: pgbench running the SQL of the call, \
         in which no statement waits for another call's commit (`file`: {:.0}/s at 32 clients, \
         with the case reference from a database sequence standing in for the server's blocks; \
         `read`: {:.0}/s at 64); the same filing holding the channel's counter row until commit, \
         as before reference blocks (`file`: {:.0}/s); the SQL from before the sealer, with the audit head \
         row locked from append to commit (`file`: {:.0}/s, `read`: {:.0}/s); and the bare tonic \
         echo server (`file`: {:.0}/s at 32, `read`: {:.0}/s at 64). The scripts leave out the \
         sealer's work, which is one transaction for many calls. The whole report took {:.0} s.",
        pg_file.tps,
        pg_read.tps,
        pg_file_counter.tps,
        pg_file_locked.tps,
        pg_read_locked.tps,
        echo_file.throughput(None),
        echo_read.throughput(None),
        started.elapsed().as_secs_f64()
    );
    let _ = writeln!(
        markdown,
        "\n<details><summary>Every run</summary>\n\n```\n{details}```\n</details>"
    );
    print!("{markdown}");
    if let Some(path) = &args.out {
        std::fs::write(path, &markdown).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
