//! Users: created and managed by their agency's admins (or the operator command), never seen across
//! agencies by admins.

use crate::authz::{AgencyAdmin, Operator};
use crate::domain::call::{Call, Work};
use crate::error::{AppError, AppResult};

use crate::model::{AgencyId, Role, Roles, User, UserId};
use crate::repo::{self, Tx};
use crate::state::AppState;

const USER_NOT_FOUND: AppError = AppError::NotFound("user not found");

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub roles: Roles,
    pub password: String,
}

#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub display_name: Option<String>,
    pub roles: Option<Roles>,
    pub disabled: Option<bool>,
}

/// Which agency a new user joins.
#[derive(Debug, Clone, Copy)]
enum AgencyRef<'a> {
    Id(&'a AgencyId),
    Code(&'a str),
}

/// Creates a user of the agency with the code `agency_code`: the operator's first users.
pub async fn create_by_operator(
    state: &AppState,
    call: &Call,
    _operator: &Operator,
    agency_code: &str,
    new: NewUser,
) -> AppResult<User> {
    create_in(state, call, AgencyRef::Code(agency_code), new).await
}

/// Creates a user of `agency`. The password is hashed before the transaction opens.
async fn create_in(
    state: &AppState,
    call: &Call,
    agency: AgencyRef<'_>,
    new: NewUser,
) -> AppResult<User> {
    let hash = state.passwords.hash(new.password).await?;
    let work = Work::begin(state, call).await?;
    let agency = match agency {
        AgencyRef::Id(id) => repo::agencies::find(work.tx(), id)
            .await?
            .ok_or(AppError::NotFound("agency not found"))?,
        AgencyRef::Code(code) => repo::agencies::find_by_code(work.tx(), code)
            .await?
            .ok_or_else(|| AppError::invalid("agency", format!("no agency has the code {code}")))?,
    };
    let now = state.clock.now();
    let user = User {
        id: UserId::generate(),
        username: new.username,
        display_name: new.display_name,
        agency_id: agency.id,
        roles: new.roles,
        disabled: false,
        must_change_password: false,
        created_at: now,
        updated_at: now,
    };
    call.concerns("user", user.id.as_str());
    repo::users::insert(work.tx(), &user, &hash).await?;
    work.commit().await?;
    Ok(user)
}

/// A user the admin manages: one of their agency's; any other is answered as missing.
async fn managed(tx: &Tx, admin: &AgencyAdmin, id: &UserId) -> AppResult<User> {
    repo::users::find_managed(tx, admin, id)
        .await?
        .ok_or(USER_NOT_FOUND)
}

pub async fn create(
    state: &AppState,
    call: &Call,
    admin: &AgencyAdmin,
    new: NewUser,
) -> AppResult<User> {
    create_in(state, call, AgencyRef::Id(admin.agency_id()), new).await
}

pub async fn update(
    state: &AppState,
    call: &Call,
    admin: &AgencyAdmin,
    id: &UserId,
    changes: UserChanges,
) -> AppResult<User> {
    call.concerns("user", id);
    admin.may_change_self(
        id,
        changes.disabled == Some(true),
        changes.roles.is_some_and(|r| !r.contains(Role::Admin)),
    )?;
    let work = Work::begin(state, call).await?;
    let mut user = managed(work.tx(), admin, id).await?;
    if let Some(name) = changes.display_name {
        user.display_name = name;
    }
    if let Some(roles) = changes.roles {
        user.roles = roles;
    }
    if let Some(disabled) = changes.disabled {
        user.disabled = disabled;
    }
    user.updated_at = state.clock.now();
    repo::users::update(work.tx(), &user).await?;
    if user.disabled {
        repo::sessions::revoke_all_of(work.tx(), &user.id, user.updated_at, "user-disabled")
            .await?;
    }
    work.commit().await?;
    Ok(user)
}

pub async fn list(
    state: &AppState,
    call: &Call,
    admin: &AgencyAdmin,
    include_disabled: bool,
) -> AppResult<Vec<User>> {
    let work = Work::begin(state, call).await?;
    let users = repo::users::list_managed(work.tx(), admin, include_disabled).await?;
    work.commit().await?;
    Ok(users)
}

pub async fn reset_password(
    state: &AppState,
    call: &Call,
    admin: &AgencyAdmin,
    id: &UserId,
    new_password: String,
) -> AppResult<()> {
    call.concerns("user", id);
    let hash = state.passwords.hash(new_password).await?;
    let work = Work::begin(state, call).await?;
    managed(work.tx(), admin, id).await?;
    let now = state.clock.now();
    // A temporary password: until its owner changes it, only ChangePassword works.
    repo::users::set_password_hash(work.tx(), id, &hash, true, now).await?;
    repo::sessions::revoke_all_of(work.tx(), id, now, "password-reset").await?;
    work.commit().await
}

/// Ends every session of a user of the admin's agency; how many were live.
pub async fn revoke_sessions(
    state: &AppState,
    call: &Call,
    admin: &AgencyAdmin,
    id: &UserId,
) -> AppResult<u64> {
    call.concerns("user", id);
    let work = Work::begin(state, call).await?;
    managed(work.tx(), admin, id).await?;
    let revoked =
        repo::sessions::revoke_all_of(work.tx(), id, state.clock.now(), "revoked-by-admin").await?;
    work.commit().await?;
    Ok(revoked)
}
