//! Authentication: who the caller is. A bearer token becomes a [`Principal`] whose roles and agency
//! are re-read from the database on every call, so a role change or a disable takes effect at once.

pub mod jwt;
pub mod password;

use tonic::metadata::MetadataMap;

use crate::domain::model::{Role, Roles};
use crate::error::{AppError, AppResult};
use crate::repo;
use crate::state::AppState;

/// An authenticated, enabled user, as the database says now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub username: String,
    pub agency_id: String,
    pub roles: Roles,
    pub session_id: String,
    /// Only ChangePassword is open to a user whose password an admin reset.
    pub must_change_password: bool,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(role)
    }
}

/// Reads the bearer token from `authorization` metadata and resolves it to a principal.
pub async fn authenticate(state: &AppState, metadata: &MetadataMap) -> AppResult<Principal> {
    let header = metadata
        .get("authorization")
        .ok_or(AppError::Unauthenticated(
            "missing authorization: Bearer <access_token> metadata",
        ))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AppError::Unauthenticated(
            "authorization metadata must be: Bearer <access_token>",
        ))?;
    let now = state.clock.now();
    let claims = state.keys.verify(token, now)?;
    let signed_in = repo::sessions::signed_in(&state.db, &claims.sub, &claims.sid).await?;
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
                session_id: claims.sid,
                must_change_password: user.must_change_password,
            })
        }
        _ => Err(AppError::Unauthenticated("invalid or expired access token")),
    }
}
