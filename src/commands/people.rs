//! `liaisond agency` and `liaisond user`: the first agencies and users, before anyone can sign in.

use std::sync::Arc;

use clap::{Subcommand, ValueEnum};
use liaison_server::clock::SystemClock;
use liaison_server::config::Config;
use liaison_server::model::{Role, Roles};
use liaison_server::ops;

#[derive(Subcommand)]
pub enum AgencyCommand {
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
pub enum UserCommand {
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
    /// Set a temporary password (from LIAISON_PASSWORD or standard input): its owner must change
    /// it at the next sign-in, and their sessions end. For admins, whose passwords another admin
    /// may not reset.
    ResetPassword {
        #[arg(long)]
        username: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RoleArg {
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

pub async fn agency(config: &Config, command: AgencyCommand) -> Result<(), String> {
    let AgencyCommand::Add {
        code,
        name,
        country,
    } = command;
    let state = liaison_server::open(config, Arc::new(SystemClock))
        .await
        .map_err(|e| e.to_string())?;
    let agency = ops::add_agency(&state, &code, &name, &country)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "{}\t{}\t{}\t{}",
        agency.id, agency.code, agency.country, agency.name
    );
    Ok(())
}

pub async fn user(config: &Config, command: UserCommand) -> Result<(), String> {
    let (agency, username, display_name, roles) = match command {
        UserCommand::Add {
            agency,
            username,
            display_name,
            roles,
        } => (agency, username, display_name, roles),
        UserCommand::ResetPassword { username } => {
            let password = ops::read_password()?;
            let state = liaison_server::open(config, Arc::new(SystemClock))
                .await
                .map_err(|e| e.to_string())?;
            let user = ops::reset_password(&state, &username, &password)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{}\t{}\tmust change the password at the next sign-in",
                user.id, user.username
            );
            return Ok(());
        }
    };
    let password = ops::read_password()?;
    let state = liaison_server::open(config, Arc::new(SystemClock))
        .await
        .map_err(|e| e.to_string())?;
    let roles: Roles = roles.into_iter().map(Role::from).collect();
    let display_name = display_name.unwrap_or_else(|| username.clone());
    let user = ops::add_user(&state, &agency, &username, &display_name, roles, &password)
        .await
        .map_err(|e| e.to_string())?;
    println!("{}\t{}", user.id, user.username);
    Ok(())
}
