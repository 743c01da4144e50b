//! Signing in and out: sessions with rotating refresh tokens, password changes, and throttling of
//! failed sign-ins (kept in the database, so every replica shares it).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::domain::call::{Call, Work};
use crate::error::{AppError, AppResult};
use crate::model::Principal;
use crate::model::{Agency, Timestamp, User, UserId};
use crate::repo::sessions::Session;
use crate::repo::{self, Tx};
use crate::state::AppState;

const WRONG_CREDENTIALS: AppError = AppError::Unauthenticated("wrong username or password");
const BAD_REFRESH: AppError = AppError::Unauthenticated("invalid or expired refresh token");

/// Failed sign-ins that count, per username and per peer address, and over how long.
const MAX_FAILURES_PER_USERNAME: u64 = 5;
const MAX_FAILURES_PER_PEER: u64 = 20;
const FAILURE_WINDOW_MINUTES: i64 = 15;
/// The longest a throttled caller is asked to wait.
const MAX_RETRY_SECONDS: u64 = 15 * 60;
/// The first wait once a limit is reached.
const FIRST_RETRY_SECONDS: u64 = 15;

/// What a sign-in, a refresh or a password change hands out.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub expires_at: Timestamp,
    /// Opaque; stored only as a hash.
    pub refresh_token: String,
    /// When the session ends at the latest.
    pub refresh_expires_at: Timestamp,
    pub must_change_password: bool,
}

fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_refresh_token() -> AppResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| AppError::internal(format!("no randomness for a refresh token: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Issues an access token and a fresh refresh token in `session`.
async fn issue(state: &AppState, tx: &Tx, user: &User, session: &Session) -> AppResult<Tokens> {
    let now = state.clock.now();
    let (access_token, expires_at) = state.keys.issue(user.id.as_str(), &session.id, now)?;
    let refresh_token = new_refresh_token()?;
    repo::sessions::insert_refresh_token(tx, &hash_refresh_token(&refresh_token), &session.id, now)
        .await?;
    Ok(Tokens {
        access_token,
        expires_at,
        refresh_token,
        refresh_expires_at: session.expires_at,
        must_change_password: user.must_change_password,
    })
}

/// Starts a session for `user`.
async fn start_session(state: &AppState, tx: &Tx, user: &User) -> AppResult<Tokens> {
    let now = state.clock.now();
    let session = Session {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user.id.to_string(),
        created_at: now,
        last_used_at: now,
        expires_at: now + state.sessions.lifetime,
        revoked_at: None,
    };
    repo::sessions::create(tx, &session).await?;
    issue(state, tx, user, &session).await
}

/// The network the peer's address belongs to: throttling counts per /24 of IPv4 and per /64 of
/// IPv6 (what one site or one customer line usually holds), so cycling through the addresses of
/// one network buys a guesser nothing.
fn peer_network(call: &Call) -> String {
    use std::net::{IpAddr, SocketAddr};
    let peer = call.peer.as_deref().unwrap_or("unknown");
    let Ok(addr) = peer.parse::<SocketAddr>() else {
        return peer.to_string();
    };
    let ip = match addr.ip() {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// Records this sign-in attempt before the password is checked, then refuses it while the username
/// or the peer has failed too often lately. Recording first means concurrent attempts see each
/// other: of any number sent at once, at most the limit get their password checked. The wait starts
/// at [`FIRST_RETRY_SECONDS`], doubles with each failure past the limit and is never longer than
/// [`MAX_RETRY_SECONDS`]; failures older than the window stop counting, so nobody is locked out for
/// good. The attempt's id comes back: the row stays as a failure unless the attempt succeeds.
async fn reserve_attempt(state: &AppState, username: &str, peer: &str) -> AppResult<String> {
    let now = state.clock.now();
    let since = now - chrono::Duration::minutes(FAILURE_WINDOW_MINUTES);
    let id = uuid::Uuid::now_v7().to_string();
    let tx = state.db.begin().await?;
    repo::sessions::record_login_attempt(&tx, &id, username, peer, now).await?;
    tx.commit().await?;
    let tx = state.db.begin().await?;
    let by_user =
        repo::sessions::login_failures_since(&tx, Some(username), None, since, &id).await?;
    let by_peer = repo::sessions::login_failures_since(&tx, None, Some(peer), since, &id).await?;
    for ((count, latest), limit) in [
        (by_user, MAX_FAILURES_PER_USERNAME),
        (by_peer, MAX_FAILURES_PER_PEER),
    ] {
        let (Some(latest), true) = (latest, count >= limit) else {
            continue;
        };
        let excess = (count - limit).min(10) as u32;
        let wait = (FIRST_RETRY_SECONDS << excess).min(MAX_RETRY_SECONDS);
        let free_at = latest + chrono::Duration::seconds(wait as i64);
        if now < free_at {
            // A refused attempt does not count as a failure (it would only prolong the wait).
            repo::sessions::delete_login_attempt(&tx, &id).await?;
            tx.commit().await?;
            // Rounded up: retrying after the advertised delay must succeed.
            let wait_ms = (free_at - now).num_milliseconds().max(1) as u64;
            let retry_after_secs = wait_ms.div_ceil(1000);
            return Err(AppError::TooManyAttempts { retry_after_secs });
        }
    }
    tx.commit().await?;
    Ok(id)
}

/// Tokens for the right username and password. An unknown user, a disabled user and a wrong
/// password all cost one argon2 verification and get the same answer.
pub async fn login(
    state: &AppState,
    call: &Call,
    username: &str,
    password: String,
) -> AppResult<Tokens> {
    if !state.sign_ins.try_take() {
        return Err(AppError::Exhausted(
            "the server is taking as many sign-ins as it may; retry in a second".into(),
        ));
    }
    let peer = peer_network(call);
    let credentials = {
        let tx = state.db.begin().await?;
        let found = repo::users::credentials(&tx, username).await?;
        tx.commit().await?;
        found
    };
    let (user, hash) = match credentials {
        Some(c) => (Some(c.user), Some(c.password_hash)),
        None => (None, None),
    };
    match &user {
        Some(user) => {
            call.set_user(user);
            call.concerns("user", user.id.as_str());
        }
        None => call.set_attempted_username(username),
    }
    reserve_attempt(state, username, &peer).await?;
    let matches = state.passwords.verify(password, hash).await?;
    let user = match user {
        Some(user) if matches && !user.disabled => user,
        // The reserved attempt stays behind as the failure.
        _ => return Err(WRONG_CREDENTIALS),
    };
    let work = Work::begin(state, call).await?;
    repo::sessions::clear_login_failures(work.tx(), username).await?;
    let tokens = start_session(state, work.tx(), &user).await?;
    work.commit().await?;
    Ok(tokens)
}

/// Rotates a refresh token: a new pair comes back and the old refresh token dies. A refresh token
/// presented a second time means it was copied: the whole session is revoked, and the entry says so.
pub async fn refresh(state: &AppState, call: &Call, refresh_token: &str) -> AppResult<Tokens> {
    let now = state.clock.now();
    let hash = hash_refresh_token(refresh_token);
    let work = Work::begin(state, call).await?;
    let tx = work.tx();
    let token = repo::sessions::find_refresh_token(tx, &hash)
        .await?
        .ok_or(BAD_REFRESH)?;
    let session = repo::sessions::find(tx, &token.session_id)
        .await?
        .ok_or(BAD_REFRESH)?;
    call.concerns("session", &session.id);
    let user = repo::users::find(tx, &UserId::from(session.user_id.as_str()))
        .await?
        .ok_or(BAD_REFRESH)?;
    call.set_user(&user);
    if session.revoked_at.is_some() || now >= session.expires_at || user.disabled {
        return Err(BAD_REFRESH);
    }
    let first_use =
        token.used_at.is_none() && repo::sessions::use_refresh_token(tx, &hash, now).await?;
    if !first_use {
        repo::sessions::revoke(tx, &session.id, now, "refresh-token-reuse").await?;
        call.set_event("refresh-token-reuse");
        tracing::warn!(session_id = %session.id, user_id = %user.id, "a rotated refresh token was presented again: session revoked");
        work.commit_refused(&BAD_REFRESH).await?;
        return Err(BAD_REFRESH);
    }
    if now - session.last_used_at >= state.sessions.idle {
        return Err(BAD_REFRESH);
    }
    repo::sessions::touch(tx, &session.id, now).await?;
    let tokens = issue(state, tx, &user, &session).await?;
    work.commit().await?;
    Ok(tokens)
}

/// Ends the caller's session: its refresh token and access tokens stop working.
pub async fn logout(state: &AppState, call: &Call, p: &Principal) -> AppResult<()> {
    call.concerns("session", p.session_id.as_str());
    let work = Work::begin(state, call).await?;
    repo::sessions::revoke(
        work.tx(),
        p.session_id.as_str(),
        state.clock.now(),
        "logout",
    )
    .await?;
    work.commit().await
}

/// Changes the caller's own password. Every session of theirs ends; a new one starts.
pub async fn change_password(
    state: &AppState,
    call: &Call,
    p: &Principal,
    current: String,
    new: String,
) -> AppResult<Tokens> {
    call.concerns("user", p.user_id.as_str());
    // The current password is a password guess like any other: throttled and counted.
    reserve_attempt(state, &p.username, &peer_network(call)).await?;
    let hash = {
        let tx = state.db.begin().await?;
        let found = repo::users::credentials(&tx, &p.username).await?;
        tx.commit().await?;
        found.map(|c| c.password_hash)
    };
    if !state
        .passwords
        .verify(current.clone(), hash.clone())
        .await?
    {
        return Err(AppError::invalid(
            "current_password",
            "is not the current password",
        ));
    }
    if new == current {
        return Err(AppError::invalid(
            "new_password",
            "must differ from the current password",
        ));
    }
    let old_hash = hash.ok_or(AppError::Unauthenticated("invalid or expired access token"))?;
    let new_hash = state.passwords.hash(new).await?;
    let now = state.clock.now();
    let work = Work::begin(state, call).await?;
    let tx = work.tx();
    // The session may have been revoked (an admin's reset) while the hashes were computed.
    let live = repo::sessions::find(tx, p.session_id.as_str())
        .await?
        .is_some_and(|s| s.revoked_at.is_none());
    if !live {
        return Err(AppError::Unauthenticated("invalid or expired access token"));
    }
    if !repo::users::replace_password_hash(tx, p.user_id.as_str(), &old_hash, &new_hash, now)
        .await?
    {
        return Err(AppError::Aborted(
            "the password changed meanwhile; sign in again".into(),
        ));
    }
    repo::sessions::clear_login_failures(tx, &p.username).await?;
    repo::sessions::revoke_all_of(tx, &p.user_id, now, "password-changed").await?;
    let user = repo::users::find(tx, &p.user_id)
        .await?
        .ok_or(AppError::Unauthenticated("invalid or expired access token"))?;
    let tokens = start_session(state, tx, &user).await?;
    work.commit().await?;
    Ok(tokens)
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

/// The public keys that verify access tokens now.
pub async fn public_keys(state: &AppState, call: &Call) -> AppResult<Vec<crate::authn::jwt::Jwk>> {
    let keys = state.keys.current().public_keys(state.clock.now());
    Work::begin(state, call).await?.commit().await?;
    Ok(keys)
}

/// Deletes failed sign-ins that no longer count, so the table stays as small as the window.
pub async fn prune_login_failures(state: &AppState) -> AppResult<u64> {
    let before = state.clock.now() - chrono::Duration::minutes(FAILURE_WINDOW_MINUTES);
    let tx = state.db.begin().await?;
    let pruned = repo::sessions::prune_login_failures(&tx, before).await?;
    tx.commit().await?;
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network_of(peer: Option<&str>) -> String {
        peer_network(&Call::new("m", "r".into(), peer.map(str::to_string)))
    }

    #[test]
    fn throttling_counts_per_network() {
        assert_eq!(network_of(Some("192.0.2.7:5000")), "192.0.2.0/24");
        assert_eq!(network_of(Some("192.0.2.250:1")), "192.0.2.0/24");
        assert_ne!(network_of(Some("192.0.3.7:5000")), "192.0.2.0/24");
        assert_eq!(
            network_of(Some("[2001:db8:1:2:aaaa::1]:443")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            network_of(Some("[2001:db8:1:2:ffff::9]:443")),
            network_of(Some("[2001:db8:1:2::1]:80"))
        );
        // An IPv4 peer seen through an IPv6 socket is still its IPv4 network.
        assert_eq!(network_of(Some("[::ffff:192.0.2.9]:80")), "192.0.2.0/24");
        assert_eq!(network_of(Some("local")), "local");
        assert_eq!(network_of(None), "unknown");
    }
}
