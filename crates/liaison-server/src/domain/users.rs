//! Users: created and managed by their agency's admins (or the operator command), never seen across
//! agencies by admins.

use crate::authz::{AgencyAdmin, Operator};
use crate::domain::call::{Call, Work};
use crate::error::{AppError, AppResult};

use crate::model::{AgencyId, Role, RoleChange, RoleChangeStatus, Roles, User, UserId};
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
    if new.roles.need_second_admin_after(Roles::empty()) {
        return Err(AppError::FailedPrecondition(
            "making someone an ADMIN needs a second admin's approval: create the user without \
             ADMIN, then propose it (ProposeRoleChange) for another admin to approve"
                .into(),
        ));
    }
    create_in(state, call, AgencyRef::Id(admin.agency_id()), new).await
}

/// How long a proposed role change waits for a second admin before it lapses.
pub const ROLE_CHANGE_EXPIRES_AFTER: chrono::Duration = chrono::Duration::hours(72);

/// The refusal of a role change one admin may not make alone.
fn needs_second_admin(before: Roles, after: Roles) -> AppError {
    let added: Vec<&str> = after
        .iter()
        .filter(|r| !before.contains(*r))
        .map(Role::as_str)
        .collect();
    let why = if after.contains(Role::Admin) && !before.contains(Role::Admin) {
        "makes someone an ADMIN"
    } else {
        "would let an ADMIN read case content"
    };
    AppError::FailedPrecondition(format!(
        "granting {} {why}: a second admin of the agency must approve it; propose it with \
         ProposeRoleChange",
        added.join(" and ")
    ))
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
        if roles.need_second_admin_after(user.roles) {
            return Err(needs_second_admin(user.roles, roles));
        }
        user.roles = roles;
    }
    if let Some(disabled) = changes.disabled {
        user.disabled = disabled;
    }
    user.updated_at = state.clock.now();
    repo::users::update(work.tx(), &user).await?;
    state.people.forget(&user.id);
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
    let user = managed(work.tx(), admin, id).await?;
    if user.roles.contains(Role::Admin) {
        // One admin who knew another's temporary password could sign in as both, and approve their
        // own role changes.
        return Err(AppError::FailedPrecondition(
            "an admin's password is reset by the operator (liaisond user reset-password), not by \
             another admin"
                .into(),
        ));
    }
    let now = state.clock.now();
    // A temporary password: until its owner changes it, only ChangePassword works.
    repo::users::set_password_hash(work.tx(), id, &hash, true, now).await?;
    repo::sessions::revoke_all_of(work.tx(), id, now, "password-reset").await?;
    work.commit().await
}

/// Sets a temporary password for the user named `username`, of any agency, and ends their
/// sessions: the operator's command.
pub async fn reset_password_by_operator(
    state: &AppState,
    call: &Call,
    _operator: &Operator,
    username: &str,
    new_password: String,
) -> AppResult<User> {
    let hash = state.passwords.hash(new_password).await?;
    let work = Work::begin(state, call).await?;
    let user = repo::users::find_by_username(work.tx(), username)
        .await?
        .ok_or_else(|| AppError::invalid("username", format!("no user is named {username}")))?;
    call.concerns("user", user.id.as_str());
    let now = state.clock.now();
    repo::users::set_password_hash(work.tx(), &user.id, &hash, true, now).await?;
    repo::sessions::revoke_all_of(work.tx(), &user.id, now, "password-reset").await?;
    work.commit().await?;
    Ok(user)
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

/// Proposes a change of a user's roles that one admin may not make alone; another admin of the
/// agency approves it (or either rejects it) within [`ROLE_CHANGE_EXPIRES_AFTER`].
pub async fn propose_role_change(
    state: &AppState,
    call: &Call,
    admin: &AgencyAdmin,
    id: &UserId,
    roles: Roles,
    reason: Option<String>,
) -> AppResult<RoleChange> {
    call.concerns("user", id);
    admin.may_change_self(id, false, !roles.contains(Role::Admin))?;
    let work = Work::begin(state, call).await?;
    let user = managed(work.tx(), admin, id).await?;
    if !roles.need_second_admin_after(user.roles) {
        return Err(AppError::FailedPrecondition(
            "this change needs no second admin: make it with UpdateUser".into(),
        ));
    }
    let now = state.clock.now();
    if let Some(pending) = repo::role_changes::pending_for(work.tx(), &user.id, now).await? {
        return Err(AppError::FailedPrecondition(format!(
            "a change of this user's roles is already waiting for approval ({}): approve or \
             reject it first",
            pending.id
        )));
    }
    let change = RoleChange {
        id: uuid::Uuid::now_v7().to_string(),
        agency_id: user.agency_id.clone(),
        user_id: user.id.clone(),
        roles_before: user.roles,
        roles_after: roles,
        reason,
        requested_by: admin.principal().user_id.clone(),
        requested_at: now,
        expires_at: now + ROLE_CHANGE_EXPIRES_AFTER,
        status: RoleChangeStatus::Pending,
        decided_by: None,
        decided_at: None,
        decision_reason: None,
    };
    repo::role_changes::insert(work.tx(), &change).await?;
    work.commit().await?;
    Ok(change)
}

/// The agency's role changes waiting for a decision (or all of them, newest first).
pub async fn role_changes(
    state: &AppState,
    call: &Call,
    admin: &AgencyAdmin,
    include_decided: bool,
) -> AppResult<Vec<RoleChange>> {
    let work = Work::begin(state, call).await?;
    let now = state.clock.now();
    let changes =
        repo::role_changes::list_managed(work.tx(), admin, include_decided, now, 1000).await?;
    work.commit().await?;
    Ok(changes)
}

/// A second admin's decision on a proposed role change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

/// Approves (and applies) or rejects a role change still waiting. The approver must be another
/// admin than the one who proposed it and than the user it concerns; anyone of the agency's admins
/// may reject it, its proposer too. The roles must still be those it was proposed against.
pub async fn decide_role_change(
    state: &AppState,
    call: &Call,
    admin: &AgencyAdmin,
    id: &str,
    decision: Decision,
    reason: Option<String>,
) -> AppResult<RoleChange> {
    let work = Work::begin(state, call).await?;
    let mut change = repo::role_changes::find_managed(work.tx(), admin, id)
        .await?
        .ok_or(AppError::NotFound("role change not found"))?;
    call.concerns("user", change.user_id.as_str());
    let now = state.clock.now();
    match change.status_at(now) {
        RoleChangeStatus::Pending => {}
        status => {
            return Err(AppError::FailedPrecondition(format!(
                "the role change is {status}; only a PENDING one can be decided"
            )))
        }
    }
    if decision == Decision::Approve {
        admin.may_approve(&change)?;
        managed(work.tx(), admin, &change.user_id).await?;
        // Only onto the roles it was proposed against, checked in the write itself.
        let applied = repo::users::set_roles_if(
            work.tx(),
            &change.user_id,
            change.roles_before,
            change.roles_after,
            now,
        )
        .await?;
        if !applied {
            return Err(AppError::FailedPrecondition(
                "the user's roles changed since the change was proposed; reject it and propose \
                 it again"
                    .into(),
            ));
        }
    }
    change.status = match decision {
        Decision::Approve => RoleChangeStatus::Approved,
        Decision::Reject => RoleChangeStatus::Rejected,
    };
    change.decided_by = Some(admin.principal().user_id.clone());
    change.decided_at = Some(now);
    change.decision_reason = reason;
    if !repo::role_changes::decide(work.tx(), &change).await? {
        return Err(AppError::Aborted(
            "the role change was decided meanwhile; read it again".into(),
        ));
    }
    work.commit().await?;
    Ok(change)
}
