//! `liaisonctl`: the command-line client of Liaison. Parses the command line, runs one command
//! through the generated gRPC clients, and exits with a code that says what happened (see
//! [`error::EXIT_CODES`]).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

#[macro_use]
mod connection;
mod cli;
mod commands;
mod error;
mod examples;
mod json;
mod names;
mod output;
mod session;
mod views;

use cli::{Cli, Command, PasswordCommand};
use connection::{ConnectOptions, Ctl};
use error::CliError;
use output::{Format, Output, Style};
use session::{Store, TlsFiles};

async fn run(cli: Cli, format: Format) -> Result<(), CliError> {
    if let Command::Completions { shell } = cli.command {
        let mut command = Cli::command();
        let mut stdout = std::io::stdout();
        clap_complete::generate(shell, &mut command, "liaisonctl", &mut stdout);
        return Ok(());
    }
    let global = cli.global;
    let options = ConnectOptions {
        server: global.server,
        tls: TlsFiles {
            ca_cert: global.ca_cert,
            client_cert: global.client_cert,
            client_key: global.client_key,
            server_name: global.tls_server_name,
        },
    };
    let store = Store::new(session::config_dir()?);
    let mut ctl = Ctl::new(Output::new(format), store, options);
    match cli.command {
        Command::Login { username } => commands::auth::login(&mut ctl, username).await,
        Command::Logout => commands::auth::logout(&mut ctl).await,
        Command::Whoami => commands::auth::whoami(&mut ctl).await,
        Command::Password {
            command: PasswordCommand::Change,
        } => commands::auth::change_password(&mut ctl).await,
        Command::Case { command } => commands::cases::run(&mut ctl, command).await,
        Command::Queue { command } => commands::queue::run(&mut ctl, command).await,
        Command::Directory { command } => commands::directory::run(&mut ctl, command).await,
        Command::Admin { command } => commands::admin::run(&mut ctl, command).await,
        Command::Audit { command } => commands::audit::run(&mut ctl, command).await,
        Command::Stats {
            channel,
            from,
            to,
            csv,
            at_checkpoint,
        } => {
            let period = commands::stats::Period {
                from,
                to,
                at_checkpoint,
            };
            commands::stats::run(&mut ctl, channel, period, csv).await
        }
        Command::Completions { .. } => Ok(()),
    }
}

fn report(error: &CliError, format: Format) {
    if matches!(error, CliError::BrokenPipe) {
        return;
    }
    if format == Format::Json {
        eprintln!("{}", error.to_json());
    } else {
        let colour = output::colour_for(std::io::stderr().is_terminal());
        let text = error.render_text(|s| output::paint(colour, s, Style::Red));
        eprintln!("liaisonctl: {text}");
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // Every command's help ends with examples of it.
    let matches = examples::attach(Cli::command()).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let format = cli.global.output;
    match run(cli, format).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report(&error, format);
            ExitCode::from(error.exit_code())
        }
    }
}
