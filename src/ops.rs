//! Operator commands for the first setup, run straight on the database (no gRPC): register an
//! agency, add a user. They are audited like calls, with no actor and the peer `local`.

use crate::domain::call::Call;
use crate::domain::model::{Agency, Roles, User};
use crate::domain::users::NewUser;
use crate::domain::{directory, users};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::validate::{self, Violations};

fn operator_call(command: &str) -> Call {
    Call::new(
        format!("liaisond/{command}"),
        uuid::Uuid::now_v7().to_string(),
        Some("local".into()),
    )
}

pub async fn add_agency(
    state: &AppState,
    code: &str,
    name: &str,
    country: &str,
) -> AppResult<Agency> {
    let mut v = Violations::new();
    let code = v.check("code", validate::agency_code(code));
    let name = v.check("name", validate::text(name, 1, 200, false));
    let country = v.check("country", validate::country(country));
    v.finish()?;
    directory::add_agency(state, &operator_call("agency add"), code, name, country).await
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
    let mut v = Violations::new();
    let new = NewUser {
        username: v.check("username", validate::username(username)),
        display_name: v.check("display_name", validate::text(display_name, 1, 200, false)),
        roles,
        password: v.check("password", validate::password(password)),
    };
    v.finish()?;
    let agency = directory::agency_by_code(state, &call, agency_code)
        .await?
        .ok_or_else(|| {
            AppError::invalid("agency", format!("no agency has the code {agency_code}"))
        })?;
    users::create_in(state, &call, &agency.id, new).await
}
