//! Operator commands for the first setup, run straight on the database (no gRPC): register an
//! agency, add a user, seed a synthetic world. They are audited like calls, with no actor and the
//! peer `local`.

use crate::domain::call::{self, Call};
use crate::domain::directory;
use crate::domain::model::{Agency, Roles, User};
use crate::domain::users::{self, AgencyRef, NewUser};
use crate::error::AppResult;
use crate::seed::{SeedOptions, Summary};
use crate::state::AppState;
use crate::validate::{self, Violations};

fn operator_call(command: &str) -> Call {
    Call::new(
        format!("liaisond/{command}"),
        uuid::Uuid::now_v7().to_string(),
        Some("local".into()),
    )
}

/// Audits an operator command that failed, as a call would be.
async fn audited<T>(state: &AppState, call: &Call, result: AppResult<T>) -> AppResult<T> {
    if let Err(err) = &result {
        call::audit_failure(state, call, err).await?;
    }
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
        let name = v.check("name", validate::text(name, 1, 200, false));
        let country = v.check("country", validate::country(country));
        v.finish()?;
        directory::add_agency(state, &call, code, name, country).await
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
            display_name: v.check("display_name", validate::text(display_name, 1, 200, false)),
            roles,
            password: v.check("password", validate::password(password)),
        };
        v.finish()?;
        users::create_in(state, &call, AgencyRef::Code(agency_code), new).await
    }
    .await;
    audited(state, &call, result).await
}

/// Seeds an empty database with a synthetic world (see [`crate::seed`]); every seeded user gets
/// `password`.
pub async fn seed(state: &AppState, options: SeedOptions, password: &str) -> AppResult<Summary> {
    let call = operator_call("seed");
    let result = async {
        let password = validate::field("password", validate::password(password))?;
        crate::seed::run(state, &call, options, password).await
    }
    .await;
    audited(state, &call, result).await
}
