//! Signing in and out, who you are, and your password.

use std::io::{BufRead, IsTerminal, Write};

use chrono::Utc;
use liaison_proto as pb;
use serde_json::json;
use tonic::Code;

use super::{read_new_password, read_secret};
use crate::connection::Ctl;
use crate::error::CliError;
use crate::json::{self, rfc3339};
use crate::names::friendly;
use crate::output::Style;
use crate::session::Session;

fn ask_username() -> Result<String, CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(
            "give --username (or LIAISON_USERNAME): there is no terminal to ask on".into(),
        ));
    }
    eprint!("Username: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let username = line.trim().to_string();
    if username.is_empty() {
        return Err(CliError::Usage("no username given".into()));
    }
    Ok(username)
}

pub async fn login(ctl: &mut Ctl, username: Option<String>) -> Result<(), CliError> {
    let username = match username {
        Some(username) => username,
        None => ask_username()?,
    };
    let password = read_secret("LIAISON_PASSWORD", "Password: ")?;
    let (server, tls) = ctl.sign_in_target()?;
    let previous = ctl.store.load().ok().flatten();
    let channel = ctl.connect_to(&server, &tls).await?;
    let tokens = ctl
        .call_public(
            channel.clone(),
            pb::LoginRequest {
                username: username.clone(),
                password,
            },
            rpc!(auth.login),
        )
        .await
        .map_err(|e| e.with_hint("check the username and password"))?;

    // The session this sign-in replaces would otherwise live on, unreachable, until it idles out.
    if let Some(previous) = previous.filter(|p| p.server == server && !p.needs_refresh(Utc::now()))
    {
        if let Ok(value) = format!("Bearer {}", previous.access_token).parse() {
            let mut request = tonic::Request::new(pb::LogoutRequest {});
            request.metadata_mut().insert("authorization", value);
            let _ = crate::connection::clients::auth(channel)
                .logout(request)
                .await;
        }
    }

    let mut session = Session {
        server,
        tls,
        username,
        user_id: String::new(),
        agency_id: String::new(),
        agency_code: String::new(),
        access_token: String::new(),
        access_expires_at: Utc::now(),
        refresh_token: String::new(),
        refresh_expires_at: Utc::now(),
        must_change_password: false,
    };
    session.take_tokens(&tokens);
    ctl.save_session(session.clone())?;
    let me = if tokens.must_change_password {
        None
    } else {
        Some(ctl.call(pb::WhoAmIRequest {}, rpc!(auth.who_am_i)).await?)
    };
    if let Some(me) = &me {
        fill_identity(&mut session, me);
        ctl.save_session(session.clone())?;
    }

    let roles: Vec<String> = me
        .as_ref()
        .and_then(|m| m.user.as_ref())
        .map(|u| u.roles.iter().map(|r| friendly::<pb::Role>(*r)).collect())
        .unwrap_or_default();
    ctl.out.show(
        || {
            json!({
                "server": session.server,
                "user": me.as_ref().and_then(|m| m.user.as_ref()).map(json::user),
                "agency": me.as_ref().and_then(|m| m.agency.as_ref()).map(json::agency),
                "access_expires_at": rfc3339(session.access_expires_at),
                "refresh_expires_at": rfc3339(session.refresh_expires_at),
                "must_change_password": session.must_change_password,
                "session_file": ctl.store.path(),
            })
        },
        || {
            let mut text = if session.user_id.is_empty() {
                format!(
                    "Signed in to {} as {}.",
                    session.server,
                    ctl.out.paint(&session.username, Style::Bold)
                )
            } else {
                format!(
                    "Signed in to {} as {} ({}; {}).",
                    session.server,
                    ctl.out.paint(&session.username, Style::Bold),
                    session.agency_code,
                    roles.join(", ")
                )
            };
            text.push_str(&format!(
                " The session ends {} at the latest.",
                ctl.out.relative(Some(session.refresh_expires_at))
            ));
            if session.must_change_password {
                text.push_str(&format!(
                    "\n{} an admin reset your password: run `liaisonctl password change` before anything else.",
                    ctl.out.paint("Note:", Style::Yellow)
                ));
            }
            text
        },
    )
}

fn fill_identity(session: &mut Session, me: &pb::WhoAmIResponse) {
    if let Some(user) = &me.user {
        session.username = user.username.clone();
        session.user_id = user.id.clone();
    }
    if let Some(agency) = &me.agency {
        session.agency_id = agency.id.clone();
        session.agency_code = agency.code.clone();
    }
}

pub async fn logout(ctl: &mut Ctl) -> Result<(), CliError> {
    if ctl.store.load()?.is_none() {
        return ctl.out.show(
            || json!({ "signed_out": false }),
            || "Not signed in.".into(),
        );
    }
    let told = ctl.call(pb::LogoutRequest {}, rpc!(auth.logout)).await;
    ctl.store.delete()?;
    ctl.forget_session();
    match told {
        // Signed in no longer on the server either: nothing left to end.
        Ok(_) | Err(CliError::NotSignedIn(_)) => {}
        Err(e) if e.code() == Some(Code::Unauthenticated) => {}
        Err(e) => {
            eprintln!(
                "the session file is deleted, but the server could not be told: the session stays valid there until it idles out"
            );
            return Err(e);
        }
    }
    ctl.out
        .show(|| json!({ "signed_out": true }), || "Signed out.".into())
}

pub async fn whoami(ctl: &mut Ctl) -> Result<(), CliError> {
    let me = ctl.call(pb::WhoAmIRequest {}, rpc!(auth.who_am_i)).await?;
    let session = ctl.session()?.clone();
    let user = me.user.clone().unwrap_or_default();
    let agency = me.agency.clone().unwrap_or_default();
    ctl.out.show(
        || {
            json!({
                "user": json::user(&user),
                "agency": json::agency(&agency),
                "server": session.server,
                "access_expires_at": rfc3339(session.access_expires_at),
                "refresh_expires_at": rfc3339(session.refresh_expires_at),
            })
        },
        || {
            let roles: Vec<String> = user
                .roles
                .iter()
                .map(|r| friendly::<pb::Role>(*r))
                .collect();
            ctl.out.fields(&[
                ("Username", user.username.clone()),
                ("Name", user.display_name.clone()),
                ("User ID", user.id.clone()),
                (
                    "Agency",
                    format!("{} — {} ({})", agency.code, agency.name, agency.country),
                ),
                ("Roles", roles.join(", ")),
                ("Server", session.server.clone()),
                (
                    "Session",
                    format!(
                        "access token renews {}; the session ends {} at the latest",
                        ctl.out.relative(Some(session.access_expires_at)),
                        ctl.out.relative(Some(session.refresh_expires_at))
                    ),
                ),
            ])
        },
    )
}

pub async fn change_password(ctl: &mut Ctl) -> Result<(), CliError> {
    // Signed in first: there is no point asking for passwords otherwise.
    ctl.session()?;
    let current_password = read_secret("LIAISON_PASSWORD", "Current password: ")?;
    let new_password = read_new_password("New password (12+ characters): ")?;
    let tokens = ctl
        .call(
            pb::ChangePasswordRequest {
                current_password,
                new_password,
            },
            rpc!(auth.change_password),
        )
        .await?;
    let mut session = ctl.session()?.clone();
    session.take_tokens(&tokens);
    ctl.save_session(session.clone())?;
    if session.user_id.is_empty() {
        let me = ctl.call(pb::WhoAmIRequest {}, rpc!(auth.who_am_i)).await?;
        fill_identity(&mut session, &me);
        ctl.save_session(session)?;
    }
    ctl.out.show(
        || json!({ "changed": true }),
        || "Password changed. Your other sessions have ended; this one goes on.".into(),
    )
}
