//! `liaisond`: the Liaison server and its operator commands.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use liaison::clock::SystemClock;
use liaison::config::Config;
use liaison::domain::model::{Role, Roles};

#[derive(Parser)]
#[command(name = "liaisond", version, about = "Liaison case-coordination server")]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the gRPC API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Ask a running server's gRPC health service whether it is SERVING (exit 0) or not (exit 1);
    /// for container health checks.
    Health {
        /// The server to ask; default: the configured listen address.
        #[arg(long)]
        address: Option<String>,
    },
    /// Manage agencies.
    Agency {
        #[command(subcommand)]
        command: AgencyCommand,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage the token-signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Verify and export the audit log, straight from the database.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Fill an empty database with a synthetic world for load tests: four agencies of two
    /// countries, three channels, their users, cases with timelines and notes, and a valid audit
    /// chain. Every seeded user gets the password from LIAISON_PASSWORD or standard input (one
    /// hash shared by all: synthetic data only). Prints a JSON summary on standard output and
    /// progress on standard error.
    Seed {
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
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new signing key. Running servers sign with it within 30 s; tokens signed with older
    /// keys keep working until they expire, then those keys retire.
    Rotate,
    /// List the keys: id, when made, and when they retire.
    List,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the chain and check the signed checkpoints; exit 1 when anything is wrong.
    Verify {
        /// First sequence number to verify (default: the start).
        #[arg(long)]
        from: Option<i64>,
        /// Last sequence number to verify (default: the head).
        #[arg(long)]
        to: Option<i64>,
        /// A checkpoint kept earlier (JSON, as `audit checkpoint` prints it): prove it is still part
        /// of the chain.
        #[arg(long)]
        checkpoint: Option<std::path::PathBuf>,
    },
    /// Sign the chain's head now and print the checkpoint as JSON (keep it to verify later).
    Checkpoint,
    /// Write entries as NDJSON, oldest first.
    Export {
        /// Only entries at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Only entries before this time (RFC 3339).
        #[arg(long)]
        until: Option<chrono::DateTime<chrono::Utc>>,
        #[arg(long)]
        case_id: Option<String>,
        #[arg(long)]
        actor_id: Option<String>,
        /// Write here instead of standard output.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum AgencyCommand {
    /// Register an agency.
    Add {
        /// Unique code such as IN-NCB.
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        /// ISO 3166-1 alpha-2 country code such as IN.
        #[arg(long)]
        country: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user; the password comes from LIAISON_PASSWORD or standard input, never a flag.
    Add {
        /// The agency's code.
        #[arg(long)]
        agency: String,
        #[arg(long)]
        username: String,
        /// Defaults to the username.
        #[arg(long)]
        display_name: Option<String>,
        /// A role to grant; repeat for several.
        #[arg(long = "role", value_enum, required = true)]
        roles: Vec<RoleArg>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
enum RoleArg {
    Officer,
    Supervisor,
    Auditor,
    Admin,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Officer => Role::Officer,
            RoleArg::Supervisor => Role::Supervisor,
            RoleArg::Auditor => Role::Auditor,
            RoleArg::Admin => Role::Admin,
        }
    }
}

fn read_password() -> Result<String, String> {
    if let Ok(password) = std::env::var("LIAISON_PASSWORD") {
        return Ok(password);
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("Password: ")
            .map_err(|e| format!("reading password: {e}"));
    }
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| format!("reading password from stdin: {e}"))?;
    Ok(input.trim_end_matches(['\r', '\n']).to_string())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            tracing::info!(config = ?config, "starting");
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
            liaison::serve(config, listener, shutdown_signal())
                .await
                .map_err(|e| e.to_string())
        }
        Command::Migrate => {
            let config = Config {
                skip_migrations: false,
                ..config
            };
            liaison::open(&config, Arc::new(SystemClock))
                .await
                .map_err(|e| e.to_string())?;
            println!("database is up to date");
            Ok(())
        }
        Command::Agency {
            command:
                AgencyCommand::Add {
                    code,
                    name,
                    country,
                },
        } => {
            let state = liaison::open(&config, Arc::new(SystemClock))
                .await
                .map_err(|e| e.to_string())?;
            let agency = liaison::ops::add_agency(&state, &code, &name, &country)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{}\t{}\t{}\t{}",
                agency.id, agency.code, agency.country, agency.name
            );
            Ok(())
        }
        Command::Audit { command } => audit_command(&config, command).await,
        Command::Health { address } => {
            let address = address.unwrap_or_else(|| {
                // A wildcard listen address is reached on loopback.
                let mut addr = config.listen;
                if addr.ip().is_unspecified() {
                    addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                addr.to_string()
            });
            health_check(&address).await
        }
        Command::Keys { command } => keys_command(&config, command),
        Command::Seed {
            cases,
            audit_entries,
            officers,
            supervisors,
            auditors,
            random_seed,
        } => {
            let password = read_password()?;
            let state = liaison::open(&config, Arc::new(SystemClock))
                .await
                .map_err(|e| e.to_string())?;
            let options = liaison::seed::SeedOptions {
                cases,
                audit_entries,
                staffing: liaison::seed::Staffing {
                    officers,
                    supervisors,
                    auditors,
                },
                random_seed,
            };
            let summary = liaison::ops::seed(&state, options, &password)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{}",
                serde_json::to_string(&summary).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Add {
                    agency,
                    username,
                    display_name,
                    roles,
                },
        } => {
            let password = read_password()?;
            let state = liaison::open(&config, Arc::new(SystemClock))
                .await
                .map_err(|e| e.to_string())?;
            let roles: Roles = roles.into_iter().map(Role::from).collect();
            let display_name = display_name.unwrap_or_else(|| username.clone());
            let user =
                liaison::ops::add_user(&state, &agency, &username, &display_name, roles, &password)
                    .await
                    .map_err(|e| e.to_string())?;
            println!("{}\t{}", user.id, user.username);
            Ok(())
        }
    }
}

async fn health_check(address: &str) -> Result<(), String> {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .map_err(|e| format!("bad address {address}: {e}"))?
        .connect_timeout(std::time::Duration::from_secs(3))
        .timeout(std::time::Duration::from_secs(3));
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| format!("cannot reach {address}: {e}"))?;
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map_err(|e| format!("health check failed: {}", e.message()))?
        .into_inner()
        .status;
    if status == ServingStatus::Serving as i32 {
        println!("SERVING");
        Ok(())
    } else {
        Err(format!("not serving (status {status})"))
    }
}

fn keys_command(config: &Config, command: KeysCommand) -> Result<(), String> {
    let dir = config.key_directory();
    let now = chrono::Utc::now();
    if let KeysCommand::Rotate = command {
        let kid = liaison::authn::jwt::add_key(&dir, now).map_err(|e| e.to_string())?;
        println!("added signing key {kid} in {}", dir.display());
    }
    let keys = liaison::authn::jwt::load_keys(&dir).map_err(|e| e.to_string())?;
    if keys.is_empty() {
        return Err(format!(
            "no keys in {} yet: start the server or run `keys rotate`",
            dir.display()
        ));
    }
    let set = liaison::authn::jwt::TokenKeys::with_keys(
        keys,
        config.token_issuer.clone(),
        config.token_audience.clone(),
        config.token_ttl(),
    )
    .map_err(|e| e.to_string())?;
    for key in set.all_keys() {
        let state = match key.retires {
            None => "signing".to_string(),
            Some(at) if at > now => format!("verifying until {}", at.to_rfc3339()),
            Some(at) => format!(
                "retired at {} (still checks old checkpoints)",
                at.to_rfc3339()
            ),
        };
        println!("{}\t{}\t{state}", key.kid, key.created.to_rfc3339());
    }
    Ok(())
}

async fn audit_command(config: &Config, command: AuditCommand) -> Result<(), String> {
    let state = liaison::open(config, Arc::new(SystemClock))
        .await
        .map_err(|e| e.to_string())?;
    match command {
        AuditCommand::Verify {
            from,
            to,
            checkpoint,
        } => {
            let report = match checkpoint {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| format!("reading {}: {e}", path.display()))?;
                    let checkpoint: liaison::audit::Checkpoint = serde_json::from_str(&text)
                        .map_err(|e| format!("{} is not a checkpoint: {e}", path.display()))?;
                    liaison::audit::verify::verify_checkpoint(
                        &state.db,
                        &state.keys.current(),
                        &checkpoint,
                    )
                    .await
                }
                None => {
                    liaison::audit::verify::verify(&state.db, &state.keys.current(), from, to).await
                }
            }
            .map_err(|e| e.to_string())?;
            println!(
                "{}",
                serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
            );
            if report.ok {
                Ok(())
            } else {
                Err(format!(
                    "the audit chain is broken at {}: {}",
                    report.first_bad_seq.unwrap_or_default(),
                    report.problem.unwrap_or_default()
                ))
            }
        }
        AuditCommand::Checkpoint => {
            let now = chrono::Utc::now();
            liaison::audit::checkpoint_head(&state.db, &state.keys.current(), now)
                .await
                .map_err(|e| e.to_string())?;
            let tx = state.db.begin().await.map_err(|e| e.to_string())?;
            let latest = liaison::repo::audit::latest_checkpoint(&tx)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("the audit log is empty: nothing to sign")?;
            println!(
                "{}",
                serde_json::to_string_pretty(&latest).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        AuditCommand::Export {
            since,
            until,
            case_id,
            actor_id,
            output,
        } => {
            use std::io::Write;
            let filter = liaison::domain::audit_log::AuditFilter {
                since,
                until,
                case_id,
                actor_id,
                ..Default::default()
            };
            let mut out: Box<dyn Write> = match &output {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .map_err(|e| format!("creating {}: {e}", path.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let mut entries = liaison::domain::audit_log::export_all(&state.db, filter);
            let mut count = 0u64;
            while let Some(entry) = entries.recv().await {
                let entry = entry.map_err(|e| e.to_string())?;
                serde_json::to_writer(&mut out, &entry.to_json()).map_err(|e| e.to_string())?;
                out.write_all(b"\n").map_err(|e| e.to_string())?;
                count += 1;
            }
            out.flush().map_err(|e| e.to_string())?;
            eprintln!("exported {count} entries");
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Operator commands print their result; only the server narrates at info level.
    let serving = matches!(cli.command, None | Some(Command::Serve));
    let telemetry = match liaison::telemetry::init(
        &cli.config.log_format,
        if serving { "info" } else { "warn" },
        cli.config.otlp_endpoint.as_deref().filter(|_| serving),
    ) {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("liaisond: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = run(cli).await;
    telemetry.shutdown().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("liaisond: {e}");
            ExitCode::FAILURE
        }
    }
}
