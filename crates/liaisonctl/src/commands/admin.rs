//! `liaisonctl admin ...`: an agency's users and channels.

use liaison_proto as pb;
use serde_json::json;

use super::{is_uuid, not_found, read_new_password};
use crate::cli::{
    AdminChannelCommand, AdminCommand, AdminUserCommand, ChannelTarget, RoleChangeCommand,
    TermCommand,
};
use crate::commands::directory::{list_channels, show_channel, show_term};
use crate::connection::Ctl;
use crate::error::CliError;
use crate::json::{self, time};
use crate::names::{friendly, RoleArg};
use crate::output::{Cell, Style, Table};

pub async fn run(ctl: &mut Ctl, command: AdminCommand) -> Result<(), CliError> {
    match command {
        AdminCommand::User { command } => user(ctl, command).await,
        AdminCommand::Channel { command } => channel(ctl, command).await,
        AdminCommand::RoleChange { command } => role_change(ctl, command).await,
        AdminCommand::Agency {
            time_zone,
            holidays,
            no_holidays,
        } => {
            let set_holidays = no_holidays || !holidays.is_empty();
            let agency = ctl
                .call(
                    pb::UpdateAgencyRequest {
                        time_zone,
                        set_holidays,
                        holidays,
                    },
                    rpc!(admin.update_agency),
                )
                .await?;
            ctl.out.show(
                || json::agency(&agency),
                || {
                    let holidays = if agency.holidays.is_empty() {
                        "no public holidays".to_string()
                    } else {
                        format!("public holidays {}", agency.holidays.join(", "))
                    };
                    format!(
                        "{} keeps the time zone {}, {holidays}.",
                        agency.code, agency.time_zone
                    )
                },
            )
        }
    }
}

async fn role_change(ctl: &mut Ctl, command: RoleChangeCommand) -> Result<(), CliError> {
    let change = match command {
        RoleChangeCommand::List { all } => {
            let changes = ctl
                .call(
                    pb::ListRoleChangesRequest {
                        include_decided: all,
                    },
                    rpc!(admin.list_role_changes),
                )
                .await?
                .role_changes;
            return ctl.out.show(
                || json!({ "role_changes": changes.iter().map(json::role_change).collect::<Vec<_>>() }),
                || {
                    if changes.is_empty() {
                        return "No role changes waiting.".into();
                    }
                    let mut table = Table::new(&[
                        "ID", "USER", "FROM", "TO", "STATUS", "PROPOSED BY", "EXPIRES", "REASON",
                    ]);
                    for c in &changes {
                        table.row(vec![
                            c.id.as_str().into(),
                            c.user_id.as_str().into(),
                            role_names(&c.roles_before).into(),
                            Cell::styled(role_names(&c.roles_after), Some(Style::Bold)),
                            friendly::<pb::RoleChangeStatus>(c.status).into(),
                            c.requested_by.as_str().into(),
                            ctl.out.relative(time(c.expires_at.as_ref())).into(),
                            c.reason.as_str().into(),
                        ]);
                    }
                    ctl.out.table(&table)
                },
            );
        }
        RoleChangeCommand::Approve { id, reason } => {
            ctl.call(
                pb::ApproveRoleChangeRequest {
                    id,
                    reason: reason.unwrap_or_default(),
                },
                rpc!(admin.approve_role_change),
            )
            .await?
        }
        RoleChangeCommand::Reject { id, reason } => {
            ctl.call(
                pb::RejectRoleChangeRequest {
                    id,
                    reason: reason.unwrap_or_default(),
                },
                rpc!(admin.reject_role_change),
            )
            .await?
        }
    };
    show_role_change(ctl, &change)
}

fn show_role_change(ctl: &Ctl, c: &pb::RoleChange) -> Result<(), CliError> {
    ctl.out.show(
        || json::role_change(c),
        || {
            let status = friendly::<pb::RoleChangeStatus>(c.status);
            match pb::RoleChangeStatus::try_from(c.status) {
                Ok(pb::RoleChangeStatus::Pending) => format!(
                    "Proposed {}: {} -> {} for user {}; another admin approves it with `liaisonctl admin role-change approve {}` before {}.",
                    c.id,
                    role_names(&c.roles_before),
                    role_names(&c.roles_after),
                    c.user_id,
                    c.id,
                    time(c.expires_at.as_ref())
                        .map(crate::views::absolute)
                        .unwrap_or_default()
                ),
                _ => format!(
                    "Role change {} is {status}: user {} holds {}.",
                    c.id,
                    c.user_id,
                    if c.status == pb::RoleChangeStatus::Approved as i32 {
                        role_names(&c.roles_after)
                    } else {
                        role_names(&c.roles_before)
                    }
                ),
            }
        },
    )
}

fn roles(roles: &[RoleArg]) -> Vec<i32> {
    roles.iter().map(|r| r.code()).collect()
}

/// A user's id from their id or username (looked up among the admin's agency's users).
async fn user_id(ctl: &mut Ctl, user: &str) -> Result<String, CliError> {
    if is_uuid(user) {
        return Ok(user.to_string());
    }
    let users = ctl
        .call(
            pb::ListUsersRequest {
                include_disabled: true,
            },
            rpc!(admin.list_users),
        )
        .await?
        .users;
    users
        .into_iter()
        .find(|u| u.username == user)
        .map(|u| u.id)
        .ok_or_else(|| not_found(format!("no user named {user} in your agency")))
}

async fn update(ctl: &mut Ctl, request: pb::UpdateUserRequest) -> Result<(), CliError> {
    let updated = ctl.call(request, rpc!(admin.update_user)).await?;
    show_user(ctl, &updated)
}

async fn user(ctl: &mut Ctl, command: AdminUserCommand) -> Result<(), CliError> {
    match command {
        AdminUserCommand::List { include_disabled } => {
            let users = ctl
                .call(
                    pb::ListUsersRequest { include_disabled },
                    rpc!(admin.list_users),
                )
                .await?
                .users;
            ctl.out.show(
                || json!({ "users": users.iter().map(json::user).collect::<Vec<_>>() }),
                || {
                    let mut table =
                        Table::new(&["USERNAME", "NAME", "ROLES", "STATE", "CREATED", "ID"]);
                    for u in &users {
                        table.row(vec![
                            Cell::styled(u.username.as_str(), Some(Style::Bold)),
                            u.display_name.as_str().into(),
                            role_names(&u.roles).into(),
                            state(u),
                            ctl.out.relative(time(u.created_at.as_ref())).into(),
                            u.id.as_str().into(),
                        ]);
                    }
                    ctl.out.table(&table)
                },
            )
        }
        AdminUserCommand::Add {
            username,
            display_name,
            roles: granted,
        } => {
            let password =
                read_new_password(&format!("Password for {username} (12+ characters): "))?;
            let user = ctl
                .call(
                    pb::CreateUserRequest {
                        display_name: display_name.unwrap_or_else(|| username.clone()),
                        username,
                        roles: roles(&granted),
                        password,
                    },
                    rpc!(admin.create_user),
                )
                .await?;
            show_user(ctl, &user)
        }
        AdminUserCommand::Roles {
            user,
            roles: held,
            none: _,
            propose: true,
            reason,
        } => {
            let id = user_id(ctl, &user).await?;
            let change = ctl
                .call(
                    pb::ProposeRoleChangeRequest {
                        user_id: id,
                        roles: roles(&held),
                        reason: reason.unwrap_or_default(),
                    },
                    rpc!(admin.propose_role_change),
                )
                .await?;
            show_role_change(ctl, &change)
        }
        AdminUserCommand::Roles {
            user,
            roles: held,
            none: _,
            propose: false,
            reason: _,
        } => {
            let id = user_id(ctl, &user).await?;
            let request = pb::UpdateUserRequest {
                id,
                set_roles: true,
                roles: roles(&held),
                ..Default::default()
            };
            match ctl.call(request, rpc!(admin.update_user)).await {
                Ok(updated) => show_user(ctl, &updated),
                Err(CliError::Status { status, hint: None })
                    if status.code() == tonic::Code::FailedPrecondition
                        && status.message().contains("second admin") =>
                {
                    Err(CliError::Status {
                        status,
                        hint: Some(
                            "run it again with --propose, and ask another admin to approve it \
                             (`liaisonctl admin role-change list`)"
                                .into(),
                        ),
                    })
                }
                Err(e) => Err(e),
            }
        }
        AdminUserCommand::Rename { user, display_name } => {
            let id = user_id(ctl, &user).await?;
            update(
                ctl,
                pb::UpdateUserRequest {
                    id,
                    display_name: Some(display_name),
                    ..Default::default()
                },
            )
            .await
        }
        AdminUserCommand::Disable { user } => set_disabled(ctl, &user, true).await,
        AdminUserCommand::Enable { user } => set_disabled(ctl, &user, false).await,
        AdminUserCommand::ResetPassword { user } => {
            let id = user_id(ctl, &user).await?;
            let new_password =
                read_new_password(&format!("Temporary password for {user} (12+ characters): "))?;
            ctl.call(
                pb::ResetPasswordRequest {
                    id: id.clone(),
                    new_password,
                },
                rpc!(admin.reset_password),
            )
            .await?;
            ctl.out.show(
                || json!({ "user_id": id, "password_reset": true }),
                || {
                    format!(
                        "Reset the password of {user}: their sessions have ended, and they must \
                         change the password when they next sign in."
                    )
                },
            )
        }
        AdminUserCommand::RevokeSessions { user } => {
            let id = user_id(ctl, &user).await?;
            let revoked = ctl
                .call(
                    pb::RevokeSessionsRequest {
                        user_id: id.clone(),
                    },
                    rpc!(admin.revoke_sessions),
                )
                .await?
                .revoked;
            ctl.out.show(
                || json!({ "user_id": id, "revoked": revoked }),
                || format!("Ended {revoked} session(s) of {user}."),
            )
        }
    }
}

async fn set_disabled(ctl: &mut Ctl, user: &str, disabled: bool) -> Result<(), CliError> {
    let id = user_id(ctl, user).await?;
    update(
        ctl,
        pb::UpdateUserRequest {
            id,
            disabled: Some(disabled),
            ..Default::default()
        },
    )
    .await
}

fn role_names(roles: &[i32]) -> String {
    roles
        .iter()
        .map(|r| friendly::<pb::Role>(*r))
        .collect::<Vec<_>>()
        .join(",")
}

fn state(u: &pb::User) -> Cell {
    if u.disabled {
        Cell::styled("disabled", Some(Style::Red))
    } else {
        Cell::styled("active", Some(Style::Green))
    }
}

fn show_user(ctl: &Ctl, u: &pb::User) -> Result<(), CliError> {
    ctl.out.show(
        || json::user(u),
        || {
            ctl.out.fields(&[
                ("Username", u.username.clone()),
                ("Name", u.display_name.clone()),
                ("Roles", role_names(&u.roles)),
                ("State", state(u).text),
                ("ID", u.id.clone()),
                (
                    "Updated",
                    crate::views::when(&ctl.out, time(u.updated_at.as_ref())),
                ),
            ])
        },
    )
}

async fn channel(ctl: &mut Ctl, command: AdminChannelCommand) -> Result<(), CliError> {
    match command {
        AdminChannelCommand::List { status } => list_channels(ctl, status).await,
        AdminChannelCommand::Propose {
            partner,
            categories,
        } => {
            let partner_agency_id = agency_id(ctl, &partner).await?;
            let channel = ctl
                .call(
                    pb::ProposeChannelRequest {
                        partner_agency_id,
                        categories: categories.iter().map(|c| c.code()).collect(),
                    },
                    rpc!(admin.propose_channel),
                )
                .await?;
            show_channel(ctl, &channel)
        }
        AdminChannelCommand::Approve(target) | AdminChannelCommand::Resume(target) => {
            let (id, etag) = channel_etag(ctl, target).await?;
            let channel = ctl
                .call(
                    pb::ApproveChannelRequest { id, etag },
                    rpc!(admin.approve_channel),
                )
                .await?;
            show_channel(ctl, &channel)
        }
        AdminChannelCommand::Term { command } => term(ctl, command).await,
        AdminChannelCommand::Suspend(target) => {
            let (id, etag) = channel_etag(ctl, target).await?;
            let channel = ctl
                .call(
                    pb::SuspendChannelRequest { id, etag },
                    rpc!(admin.suspend_channel),
                )
                .await?;
            show_channel(ctl, &channel)
        }
    }
}

async fn term(ctl: &mut Ctl, command: TermCommand) -> Result<(), CliError> {
    let term = match command {
        TermCommand::Propose {
            channel,
            kind,
            code,
            title,
            reference,
            notes,
            duration,
            percent,
        } => {
            ctl.call(
                pb::ProposeChannelTermRequest {
                    channel_id: channel,
                    kind: kind.code(),
                    code,
                    title: title.unwrap_or_default(),
                    reference: reference.unwrap_or_default(),
                    notes: notes.unwrap_or_default(),
                    duration: duration.map(|d| prost_types::Duration {
                        seconds: d.num_seconds(),
                        nanos: 0,
                    }),
                    percent: percent.unwrap_or_default(),
                },
                rpc!(admin.propose_channel_term),
            )
            .await?
        }
        TermCommand::Approve { id, reason } => {
            ctl.call(
                pb::ApproveChannelTermRequest {
                    id,
                    reason: reason.unwrap_or_default(),
                },
                rpc!(admin.approve_channel_term),
            )
            .await?
        }
        TermCommand::Reject { id, reason } => {
            ctl.call(
                pb::RejectChannelTermRequest {
                    id,
                    reason: reason.unwrap_or_default(),
                },
                rpc!(admin.reject_channel_term),
            )
            .await?
        }
        TermCommand::Retire { id, reason } => {
            ctl.call(
                pb::RetireChannelTermRequest { id, reason },
                rpc!(admin.retire_channel_term),
            )
            .await?
        }
    };
    show_term(ctl, &term)
}

/// An agency's id from its code (such as CA-RCMP) or id.
async fn agency_id(ctl: &mut Ctl, agency: &str) -> Result<String, CliError> {
    if is_uuid(agency) {
        return Ok(agency.to_string());
    }
    ctl.call(pb::ListAgenciesRequest {}, rpc!(directory.list_agencies))
        .await?
        .agencies
        .into_iter()
        .find(|a| a.code.eq_ignore_ascii_case(agency))
        .map(|a| a.id)
        .ok_or_else(|| not_found(format!("no agency with the code {agency}")))
}

async fn channel_etag(ctl: &mut Ctl, target: ChannelTarget) -> Result<(String, String), CliError> {
    if let Some(etag) = target.etag {
        return Ok((target.id, etag));
    }
    let channel = ctl
        .call(
            pb::GetChannelRequest {
                id: target.id.clone(),
            },
            rpc!(directory.get_channel),
        )
        .await?;
    Ok((target.id, channel.etag))
}
