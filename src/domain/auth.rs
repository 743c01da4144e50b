//! Signing in and finding out who you are.

use crate::authn::Principal;
use crate::domain::call::{Call, Work};
use crate::domain::model::{Agency, Timestamp, User};
use crate::error::{AppError, AppResult};
use crate::repo;
use crate::state::AppState;

const WRONG_CREDENTIALS: AppError = AppError::Unauthenticated("wrong username or password");

/// An access token and its expiry for the right username and password. An unknown user, a
/// disabled user and a wrong password all cost one argon2 verification and get the same answer.
pub async fn login(
    state: &AppState,
    call: &Call,
    username: &str,
    password: String,
) -> AppResult<(String, Timestamp)> {
    let credentials = {
        let tx = state.db.begin().await?;
        repo::users::credentials(&tx, username).await?
    };
    let (user, hash) = match credentials {
        Some(c) => (Some(c.user), Some(c.password_hash)),
        None => (None, None),
    };
    match &user {
        Some(user) => {
            call.set_user(user);
            call.concerns("user", &user.id);
        }
        None => call.set_attempted_username(username),
    }
    let matches = state.passwords.verify(password, hash).await?;
    let user = match user {
        Some(user) if matches && !user.disabled => user,
        _ => return Err(WRONG_CREDENTIALS),
    };
    let (token, expires_at) = state.keys.issue(&user.id, state.clock.now())?;
    Work::begin(state, call).await?.commit().await?;
    Ok((token, expires_at))
}

pub async fn who_am_i(state: &AppState, call: &Call, p: &Principal) -> AppResult<(User, Agency)> {
    let work = Work::begin(state, call).await?;
    let user = repo::users::find(work.tx(), &p.user_id)
        .await?
        .ok_or(AppError::Unauthenticated("invalid or expired access token"))?;
    let agency = repo::agencies::find(work.tx(), &user.agency_id)
        .await?
        .ok_or_else(|| AppError::internal("user's agency is missing"))?;
    work.commit().await?;
    Ok((user, agency))
}
