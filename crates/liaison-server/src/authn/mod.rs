//! Authentication: who the caller is. A bearer token becomes a [`Principal`] whose roles and agency
//! are re-read from the database on every call, so a role change or a disable takes effect at once.

pub mod jwt;
pub mod password;

use crate::authn::jwt::{Claims, Keyring};
use crate::error::{AppError, AppResult};
use crate::model::{Principal, SessionId, Timestamp, UserId};
use crate::repo::{self, Db};

/// Resolves a bearer token (the text after `Bearer `) to the principal it stands for now: the
/// token must verify against `keys` at `now`, and its session and user must still be live.
pub async fn authenticate(
    db: &Db,
    keys: &Keyring,
    now: Timestamp,
    token: &str,
) -> AppResult<Principal> {
    let claims = verify_token(keys, now, token)?;
    signed_in(db, now, &claims).await
}

/// Checks a token's signature and claims, without the database: cheap enough to refuse a forged
/// or expired token before it takes a place among the signed-in calls.
pub fn verify_token(keys: &Keyring, now: Timestamp, token: &str) -> AppResult<Claims> {
    keys.verify(token, now)
}

/// Who a verified token stands for now: its session and user must still be live.
pub async fn signed_in(db: &Db, now: Timestamp, claims: &Claims) -> AppResult<Principal> {
    let signed_in = repo::sessions::signed_in(
        db,
        &UserId::from(claims.sub.as_str()),
        &SessionId::from(claims.sid.as_str()),
    )
    .await?;
    match signed_in {
        Some((user, session))
            if !user.disabled
                && session.user_id == claims.sub
                && session.revoked_at.is_none()
                && session.expires_at > now =>
        {
            Ok(Principal {
                user_id: user.id,
                username: user.username,
                agency_id: user.agency_id,
                roles: user.roles,
                session_id: claims.sid.as_str().into(),
                must_change_password: user.must_change_password,
            })
        }
        _ => Err(AppError::Unauthenticated("invalid or expired access token")),
    }
}
