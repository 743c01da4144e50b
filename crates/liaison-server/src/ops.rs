//! Operator commands for the first setup, run straight on the database (no gRPC): register an
//! agency, add a user. They are audited like calls, with no actor and the peer `local`; so is
//! `liaison-bench seed`, through [`operator_call`] and [`audited`].

use crate::domain::call::{self, Call};
use crate::domain::directory;
use crate::domain::users::{self, NewUser};
use crate::error::AppResult;
use crate::limits::MAX_NAME_CHARS;
use crate::model::{Agency, Roles, User};
use crate::state::AppState;
use crate::validate::{self, Violations};
use crate::{audit, authz};

/// What to do next on a database with no agency or no user yet, for `liaisond serve` to print at
/// start (a first `cargo run` would otherwise serve a service nobody can sign in to, silently);
/// `None` once there are both. `server` is the address it serves.
pub async fn first_steps(state: &AppState, server: &str) -> AppResult<Option<String>> {
    let tx = state.db.begin_read().await?;
    let agencies = crate::repo::agencies::list(&tx).await?;
    let users = crate::repo::users::any(&tx).await?;
    tx.commit().await?;
    if users {
        return Ok(None);
    }
    let agency = match agencies.first() {
        Some(agency) => agency.code.clone(),
        None => "IN-NCB".to_string(),
    };
    let mut steps = String::from(
        "This database has no user yet, so nobody can sign in. Add the first ones with liaisond \
         itself (no server needed; passwords come from LIAISON_PASSWORD or standard input):\n",
    );
    if agencies.is_empty() {
        steps.push_str(
            "  liaisond agency add --code IN-NCB --name \"Narcotics Control Bureau\" --country IN\n",
        );
    }
    steps.push_str(&format!(
        "  liaisond user add --agency {agency} --username admin.in --role ADMIN\n\
         then sign in and go on from there:\n\
         \x20 liaisonctl login --server http://{server} --username admin.in\n\
         (README.md, \"Walk-through\", has the whole way to a first case.)"
    ));
    Ok(Some(steps))
}

/// The call an operator command is audited as: method `liaisond/<command>`, peer `local`.
pub fn operator_call(command: &str) -> Call {
    Call::new(
        format!("liaisond/{command}"),
        uuid::Uuid::now_v7().to_string(),
        Some("local".into()),
    )
}

/// Audits an operator command that failed, as a call would be, and seals the command's record: a
/// one-shot command has no sealer running beside it (it takes turns with a running server's).
pub async fn audited<T>(state: &AppState, call: &Call, result: AppResult<T>) -> AppResult<T> {
    if let Err(err) = &result {
        call::audit_failure(state, call, err).await?;
    }
    audit::checkpoint_head(&state.db, &state.keys.current(), state.clock.now()).await?;
    result
}

pub async fn add_agency(
    state: &AppState,
    code: &str,
    name: &str,
    country: &str,
) -> AppResult<Agency> {
    let call = operator_call("agency add");
    let result = async {
        let mut v = Violations::new();
        let code = v.check("code", validate::agency_code(code));
        let name = v.check("name", validate::text(name, 1, MAX_NAME_CHARS, false));
        let country = v.check("country", validate::country(country));
        v.finish()?;
        directory::add_agency(state, &call, &authz::operator(), code, name, country).await
    }
    .await;
    audited(state, &call, result).await
}

pub async fn add_user(
    state: &AppState,
    agency_code: &str,
    username: &str,
    display_name: &str,
    roles: Roles,
    password: &str,
) -> AppResult<User> {
    let call = operator_call("user add");
    let result = async {
        let mut v = Violations::new();
        let new = NewUser {
            username: v.check("username", validate::username(username)),
            display_name: v.check(
                "display_name",
                validate::text(display_name, 1, MAX_NAME_CHARS, false),
            ),
            roles,
            password: v.check(
                "password",
                validate::password(password, &[username, display_name]),
            ),
        };
        v.finish()?;
        users::create_by_operator(state, &call, &authz::operator(), agency_code, new).await
    }
    .await;
    audited(state, &call, result).await
}

/// Sets a temporary password for the user named `username` and ends their sessions: the operator's
/// way to reset an admin's password, which no other admin may.
pub async fn reset_password(state: &AppState, username: &str, password: &str) -> AppResult<User> {
    let call = operator_call("user reset-password");
    let result = async {
        let mut v = Violations::new();
        let username = v.check("username", validate::username(username));
        let password = v.check("password", validate::password(password, &[&username]));
        v.finish()?;
        users::reset_password_by_operator(state, &call, &authz::operator(), &username, password)
            .await
    }
    .await;
    audited(state, &call, result).await
}

/// The password an operator command sets: `LIAISON_PASSWORD`, else a prompt on a terminal, else
/// standard input (its line ending dropped).
pub fn read_password() -> Result<String, String> {
    use std::io::{IsTerminal, Read};
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
