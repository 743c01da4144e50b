//! `liaisond`'s commands: serving, and the operator commands that work straight on the database.

mod audit;
mod health;
mod keys;
mod people;
mod serve;

use clap::Subcommand;
use liaison_server::config::Config;

pub use self::audit::AuditCommand;
pub use self::keys::KeysCommand;
pub use self::people::{AgencyCommand, UserCommand};

#[derive(Subcommand)]
pub enum Command {
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
}

impl Command {
    /// Whether this command runs the server (which narrates at info level; the others print their
    /// result and log only warnings).
    pub fn serves(&self) -> bool {
        matches!(self, Command::Serve)
    }
}

/// Runs `command` (serving when none is given).
pub async fn run(config: Config, command: Command) -> Result<(), String> {
    match command {
        Command::Serve => serve::serve(config).await,
        Command::Migrate => serve::migrate(config).await,
        Command::Health { address } => health::check(&config, address).await,
        Command::Agency { command } => people::agency(&config, command).await,
        Command::User { command } => people::user(&config, command).await,
        Command::Keys { command } => keys::run(&config, command),
        Command::Audit { command } => audit::run(&config, command).await,
    }
}
