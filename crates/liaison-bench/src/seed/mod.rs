//! `liaison-bench seed`: a realistic world at scale, made fast, for load tests and query plans.
//!
//! Synthetic data only. Every seeded user gets the same password, hashed once: the same argon2 PHC
//! string (one salt) is stored for all of them, which a real deployment must never do. The world,
//! the cases and the audit records are drawn from `--random-seed` (and the clock), so the same seed
//! makes the same data. Cases are written by a generator thread and a database writer working side
//! by side, thousands of rows per round trip; the audit entries are chained and checkpointed in
//! memory exactly as live appends would make them, and appended a chunk per transaction, at the
//! same time as the cases.

mod audit;
mod cases;
mod rng;
mod text;
mod world;

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use liaison_server::chain::{ChainLinker, Checkpoint};
use liaison_server::domain::call::{Call, Work};
use liaison_server::error::{AppError, AppResult};
use liaison_server::model::Timestamp;
use liaison_server::repo;
use liaison_server::repo::seed::{AuditBatch, CaseBatch};
use liaison_server::state::AppState;
use liaison_server::validate::Violations;

pub use world::Staffing;

/// `liaison-bench seed`'s command line: what to seed, and the server's own configuration.
#[derive(clap::Args)]
pub struct SeedArgs {
    #[command(flatten)]
    config: liaison_server::config::Config,
    /// Cases to file, spread over the past 400 days.
    #[arg(long, default_value_t = 0)]
    cases: u64,
    /// Audit entries to append, after whatever the log holds.
    #[arg(long, default_value_t = 0)]
    audit_entries: u64,
    /// Officers per agency.
    #[arg(long, default_value_t = 8)]
    officers: usize,
    /// Supervisors per agency.
    #[arg(long, default_value_t = 2)]
    supervisors: usize,
    /// Auditors per agency.
    #[arg(long, default_value_t = 1)]
    auditors: usize,
    /// Seed of the random choices: the same seed makes the same data (default: random).
    #[arg(long)]
    random_seed: Option<u64>,
}

/// Seeds the configured database and prints the summary as JSON.
pub async fn command(args: SeedArgs) -> crate::BenchResult<()> {
    let password = liaison_server::ops::read_password()?;
    let clock = std::sync::Arc::new(liaison_server::clock::SystemClock);
    let state = liaison_server::open(&args.config, clock)
        .await
        .map_err(|e| e.to_string())?;
    let options = SeedOptions {
        cases: args.cases,
        audit_entries: args.audit_entries,
        staffing: Staffing {
            officers: args.officers,
            supervisors: args.supervisors,
            auditors: args.auditors,
        },
        random_seed: args.random_seed,
    };
    let summary = seed(&state, options, &password)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::to_string(&summary).map_err(|e| e.to_string())?
    );
    Ok(())
}

/// Seeds an empty database with a synthetic world; every seeded user gets `password`. Audited as
/// the operator command `liaisond/seed`, like the other commands that work on the database.
pub async fn seed(state: &AppState, options: SeedOptions, password: &str) -> AppResult<Summary> {
    use liaison_server::{ops, validate};
    let call = ops::operator_call("seed");
    let result = async {
        let password = validate::field("password", validate::password(password, &[]))?;
        run(state, &call, options, password).await
    }
    .await;
    ops::audited(state, &call, result).await
}

/// What to seed.
#[derive(Debug, Clone, Copy)]
pub struct SeedOptions {
    pub cases: u64,
    pub audit_entries: u64,
    pub staffing: Staffing,
    /// `None`: a seed drawn at random (and printed on standard error).
    pub random_seed: Option<u64>,
}

/// What was seeded: the JSON document `liaison-bench seed` prints, which load generators parse.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub agencies: Vec<AgencySummary>,
    pub channels: Vec<ChannelSummary>,
    pub users: Vec<UserSummary>,
    pub cases: u64,
    pub case_events: u64,
    pub notes: u64,
    /// The entries the seed appended to the audit log (its own entry as an operator command not
    /// counted).
    pub audit_entries: u64,
    pub seconds: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AgencySummary {
    pub id: String,
    pub code: String,
    pub country: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ChannelSummary {
    pub id: String,
    pub agency_codes: Vec<String>,
    pub categories: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct UserSummary {
    pub id: String,
    pub username: String,
    pub agency_code: String,
    pub role: String,
}

/// Cases written per transaction (with their events and notes: about six rows each).
const CASES_PER_BATCH: usize = 5_000;
/// Audit entries appended per transaction.
const ENTRIES_PER_BATCH: u64 = 20_000;
/// Batches made ahead of the writer.
const BATCHES_AHEAD: usize = 2;

const MAX_OFFICERS: usize = 1_000;
const MAX_SUPERVISORS: usize = 100;
const MAX_AUDITORS: usize = 100;

fn check(options: &SeedOptions) -> AppResult<()> {
    let mut v = Violations::new();
    let s = options.staffing;
    if !(1..=MAX_OFFICERS).contains(&s.officers) {
        v.add(
            "officers",
            format!("must be 1 to {MAX_OFFICERS}: cases need filers and assignees"),
        );
    }
    if !(1..=MAX_SUPERVISORS).contains(&s.supervisors) {
        v.add(
            "supervisors",
            format!("must be 1 to {MAX_SUPERVISORS}: cases need acknowledging"),
        );
    }
    if s.auditors > MAX_AUDITORS {
        v.add("auditors", format!("must be at most {MAX_AUDITORS}"));
    }
    v.finish()
}

fn populated() -> AppError {
    AppError::FailedPrecondition(
        "the database already has agencies: seed only an empty database".into(),
    )
}

/// Refuses early, before the plan is drawn; checked again where the world is written.
async fn refuse_populated(state: &AppState) -> AppResult<()> {
    let tx = state.db.begin().await?;
    let populated_already = repo::seed::has_agencies(&tx).await?;
    tx.commit().await?;
    if populated_already {
        Err(populated())
    } else {
        Ok(())
    }
}

fn random_seed() -> AppResult<u64> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| AppError::internal(format!("no randomness for a seed: {e}")))?;
    Ok(u64::from_le_bytes(bytes))
}

/// Progress on standard error, at most once a second, and a last line per phase.
struct Progress {
    what: &'static str,
    total: u64,
    done: u64,
    rows: u64,
    started: Instant,
    reported: Instant,
}

impl Progress {
    fn new(what: &'static str, total: u64) -> Self {
        let now = Instant::now();
        Progress {
            what,
            total,
            done: 0,
            rows: 0,
            started: now,
            reported: now,
        }
    }

    fn rate(&self) -> f64 {
        self.rows as f64 / self.started.elapsed().as_secs_f64().max(1e-9)
    }

    fn advance(&mut self, items: u64, rows: u64) {
        self.done += items;
        self.rows += rows;
        if self.reported.elapsed().as_secs() >= 1 {
            self.reported = Instant::now();
            eprintln!(
                "seed: {} {}/{} ({} rows, {:.0} rows/s)",
                self.what,
                self.done,
                self.total,
                self.rows,
                self.rate()
            );
        }
    }

    fn finish(&self) {
        eprintln!(
            "seed: {} done: {} ({} rows) in {:.1} s, {:.0} rows/s",
            self.what,
            self.done,
            self.rows,
            self.started.elapsed().as_secs_f64(),
            self.rate()
        );
    }
}

/// Seeds an empty database (one with no agency) as the operator call `call`.
pub async fn run(
    state: &AppState,
    call: &Call,
    options: SeedOptions,
    password: String,
) -> AppResult<Summary> {
    let started = Instant::now();
    check(&options)?;
    refuse_populated(state).await?;
    let seed = match options.random_seed {
        Some(seed) => seed,
        None => random_seed()?,
    };
    eprintln!("seed: random seed {seed}");
    let now = state.clock.now();
    let first_case = now - chrono::Duration::days(cases::HISTORY_DAYS);
    let world = Arc::new(world::World::generate(seed, first_case, options.staffing));
    let plan = cases::plan(&world, seed, now, options.cases);
    let password_hash = state.passwords.hash(password).await?;

    let work = Work::begin(state, call).await?;
    if repo::seed::has_agencies(work.tx()).await? {
        return Err(populated());
    }
    repo::seed::insert_agencies(work.tx(), &world.agencies, first_case).await?;
    let users: Vec<_> = world.users.iter().map(|u| u.user.clone()).collect();
    repo::seed::insert_users(work.tx(), &users, &password_hash).await?;
    let channels: Vec<_> = world.channels.iter().map(|c| c.channel.clone()).collect();
    repo::seed::insert_channels(work.tx(), &channels).await?;
    repo::seed::insert_reference_counters(work.tx(), &plan.counters).await?;
    work.commit().await?;

    // The two phases touch different tables: on PostgreSQL each gets a connection (and a core)
    // of its own; SQLite's one connection takes their transactions in turn.
    let planned = Arc::new(plan.cases);
    let ((events, notes), ()) = tokio::try_join!(
        write_cases(state, world.clone(), planned.clone(), seed, now),
        append_audit(
            state,
            world.clone(),
            planned,
            seed,
            now,
            options.audit_entries
        ),
    )?;
    eprintln!("seed: placing the history's events in the chain");
    repo::seed::place_history(&state.db).await?;
    // Fresh statistics: until autovacuum gets round to it, the planner would take a table of
    // millions for an empty one (and walk the audit log's primary key for a case's entries).
    eprintln!("seed: analysing the tables");
    repo::seed::analyze(&state.db).await?;

    Ok(summary(
        &world,
        options.cases,
        events,
        notes,
        options.audit_entries,
        started.elapsed().as_secs_f64(),
    ))
}

/// Makes the cases' rows on a thread of their own while the previous batch is written.
async fn write_cases(
    state: &AppState,
    world: Arc<world::World>,
    planned: Arc<Vec<cases::PlannedCase>>,
    seed: u64,
    now: Timestamp,
) -> AppResult<(u64, u64)> {
    let total = planned.len() as u64;
    let (sender, mut batches) = mpsc::channel::<CaseBatch>(BATCHES_AHEAD);
    let maker = tokio::task::spawn_blocking(move || {
        for (chunk, cases_in_chunk) in planned.chunks(CASES_PER_BATCH).enumerate() {
            let mut batch = CaseBatch::default();
            for (offset, case) in cases_in_chunk.iter().enumerate() {
                let index = (chunk * CASES_PER_BATCH + offset) as u64;
                cases::generate(&world, seed, now, index, case, &mut batch);
            }
            if sender.blocking_send(batch).is_err() {
                // The writer stopped on an error; it reports it.
                return;
            }
        }
    });
    let mut progress = Progress::new("cases", total);
    let (mut events, mut notes) = (0u64, 0u64);
    while let Some(batch) = batches.recv().await {
        repo::seed::insert_cases(&state.db, &batch).await?;
        events += batch.events.len() as u64;
        notes += batch.notes.len() as u64;
        progress.advance(batch.cases.len() as u64, batch.rows() as u64);
    }
    maker
        .await
        .map_err(|e| AppError::internal(format!("the case generator failed: {e}")))?;
    progress.finish();
    Ok((events, notes))
}

/// Chains and signs the audit entries on a thread of their own, from the head as it is now, while
/// the previous chunk is appended.
async fn append_audit(
    state: &AppState,
    world: Arc<world::World>,
    planned: Arc<Vec<cases::PlannedCase>>,
    seed: u64,
    now: Timestamp,
    count: u64,
) -> AppResult<()> {
    // The seed's own record (and anything else waiting) is sealed first: the load continues the
    // chain from there.
    liaison_server::audit::checkpoint_head(&state.db, &state.keys.current(), now).await?;
    let head = {
        let tx = state.db.begin().await?;
        let head = repo::audit::head(&tx).await?;
        tx.commit().await?;
        head
    };
    let keys = state.keys.current();
    let (sender, mut batches) = mpsc::channel::<AuditBatch>(BATCHES_AHEAD);
    let maker = tokio::task::spawn_blocking(move || {
        let records = audit::AuditRecords::new(&world, &planned, seed, now, count);
        let mut linker = ChainLinker::after(head.0, head.1);
        let mut index = 0;
        while index < count {
            let end = (index + ENTRIES_PER_BATCH).min(count);
            let mut batch = AuditBatch {
                after: linker.head(),
                entries: Vec::with_capacity((end - index) as usize),
                checkpoints: Vec::new(),
            };
            for i in index..end {
                let (entry, checkpoint) = linker.link(&keys, records.record(i));
                batch.entries.push(entry);
                batch.checkpoints.extend(checkpoint);
            }
            // Like every seal, every batch ends signed.
            if let Some(last) = batch.entries.last() {
                if batch.checkpoints.last().is_none_or(|c| c.seq != last.seq) {
                    batch.checkpoints.push(Checkpoint::sign(
                        &keys,
                        last.seq,
                        &last.hash,
                        last.record.at,
                    ));
                }
            }
            if sender.blocking_send(batch).is_err() {
                return;
            }
            index = end;
        }
    });
    let mut progress = Progress::new("audit entries", count);
    while let Some(batch) = batches.recv().await {
        repo::seed::append_audit(&state.db, &batch).await?;
        let rows = (batch.entries.len() + batch.checkpoints.len()) as u64;
        progress.advance(batch.entries.len() as u64, rows);
    }
    maker
        .await
        .map_err(|e| AppError::internal(format!("the audit generator failed: {e}")))?;
    progress.finish();
    Ok(())
}

fn summary(
    world: &world::World,
    cases: u64,
    case_events: u64,
    notes: u64,
    audit_entries: u64,
    seconds: f64,
) -> Summary {
    let code = |agency: usize| {
        world
            .agencies
            .get(agency)
            .map(|a| a.code.clone())
            .unwrap_or_default()
    };
    Summary {
        agencies: world
            .agencies
            .iter()
            .map(|a| AgencySummary {
                id: a.id.to_string(),
                code: a.code.clone(),
                country: a.country.clone(),
            })
            .collect(),
        channels: world
            .channels
            .iter()
            .map(|c| ChannelSummary {
                id: c.channel.id.to_string(),
                agency_codes: c.parties.iter().map(|&a| code(a)).collect(),
                categories: c
                    .categories
                    .iter()
                    .map(|c| c.as_str().to_string())
                    .collect(),
            })
            .collect(),
        users: world
            .users
            .iter()
            .map(|u| UserSummary {
                id: u.user.id.to_string(),
                username: u.user.username.clone(),
                agency_code: code(u.agency),
                role: u.role.as_str().to_string(),
            })
            .collect(),
        cases,
        case_events,
        notes,
        audit_entries,
        seconds,
    }
}
