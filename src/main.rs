//! `liaisond`: the Liaison server and its operator commands. Parses the command line, starts
//! telemetry and hands over to [`commands`].

mod commands;

use std::process::ExitCode;

use clap::Parser;
use liaison_server::config::Config;

use crate::commands::Command;

#[derive(Parser)]
#[command(name = "liaisond", version, about = "Liaison case-coordination server")]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Option<Command>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    // Operator commands print their result; only the server narrates at info level.
    let serving = command.serves();
    let telemetry = match liaison_server::telemetry::init(
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
    let result = commands::run(cli.config, command).await;
    telemetry.shutdown().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("liaisond: {e}");
            ExitCode::FAILURE
        }
    }
}
