//! `liaisond`: the Liaison server and its operator commands.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use liaison::clock::SystemClock;
use liaison::config::Config;
use liaison::domain::model::{Role, Roles};
use tracing_subscriber::EnvFilter;

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

fn init_logging(format: &str, default_filter: &str) {
    let filter =
        EnvFilter::try_from_env("LIAISON_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
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

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Operator commands print their result; only the server narrates at info level.
    let serving = matches!(cli.command, None | Some(Command::Serve));
    init_logging(
        &cli.config.log_format,
        if serving { "info" } else { "warn" },
    );
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("liaisond: {e}");
            ExitCode::FAILURE
        }
    }
}
