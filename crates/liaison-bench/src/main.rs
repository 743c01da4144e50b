//! `liaison-bench`: the load generator. It seeds a database with `liaison-bench seed`, starts `liaisond`
//! on it, signs a realistic population in (officers, supervisors and auditors of four agencies on
//! three channels), runs a named workload at a given concurrency for a given time, and prints
//! throughput, latency percentiles and errors per method with the server's CPU time and memory.
//! `report` runs every workload beside its references — `pgbench` running the same SQL one call
//! makes, and a bare tonic echo server — and writes the Markdown table of BENCHMARKS.md.
//!
//! Build it in release mode: `cargo build --release --workspace --bins`.

mod echo;
mod pgbench;
mod population;
mod procfs;
mod report;
mod seed;
mod server;
mod sqlite_floor;
mod stats;
mod workload;

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::workload::Workload;

pub type BenchResult<T> = Result<T, String>;

#[derive(Parser)]
#[command(
    name = "liaison-bench",
    version,
    about = "Load generator and benchmarks for liaisond"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs one workload against a freshly seeded liaisond (or the echo server) and prints the
    /// figures.
    Run(RunArgs),
    /// Runs every workload beside its references and writes the report (BENCHMARKS.md's table).
    Report(report::ReportArgs),
    /// SQLite's floor for a call: transactions of trivial statements through liaisond's driver and
    /// settings, as many as a call sends (14 for a filing).
    SqliteFloor {
        #[arg(long, default_value_t = 14)]
        statements: usize,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
    /// Fills an empty database with a synthetic world for load tests: four agencies of two
    /// countries, three channels, their users, cases with timelines and notes, and a valid audit
    /// chain. Every seeded user gets the password from LIAISON_PASSWORD or standard input (one
    /// hash shared by all: synthetic data only). Takes liaisond's configuration (the database, the
    /// key directory). Prints a JSON summary on standard output and progress on standard error.
    Seed(Box<seed::SeedArgs>),
    /// Serves the bare tonic echo server: the gRPC stack's limit on this machine.
    EchoServer {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
}

#[derive(Args, Clone)]
pub struct RunArgs {
    #[arg(long, value_enum)]
    workload: Workload,
    /// Calls in flight: one simulated person each, in a closed loop.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// `sqlite`, or a PostgreSQL URL: its server gets a fresh database for the run, dropped after.
    #[arg(long, default_value = "sqlite")]
    database: String,
    /// Cases seeded before the run (with their events and notes).
    #[arg(long, default_value_t = 1_000)]
    cases: u64,
    /// Audit entries seeded before the run (a valid chain).
    #[arg(long, default_value_t = 10_000)]
    audit_entries: u64,
    /// Drive the bare echo server instead of liaisond.
    #[arg(long)]
    echo: bool,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => report::run_one(&args).await,
        Command::Report(args) => report::report(&args).await,
        Command::SqliteFloor {
            statements,
            concurrency,
            seconds,
        } => sqlite_floor::measure(statements, concurrency, seconds)
            .await
            .map(|rate| println!("{rate:.0} transactions/s of {statements} statements at {concurrency} in flight")),
        Command::EchoServer { listen } => echo::serve(listen).await,
        Command::Seed(args) => seed::command(*args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("liaison-bench: {message}");
            ExitCode::FAILURE
        }
    }
}
