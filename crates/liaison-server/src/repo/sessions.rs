//! Sessions, their refresh tokens (stored only as SHA-256 hashes), and failed sign-ins.

use sea_orm::sea_query::{Alias, Asterisk, Expr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, IdenStatic,
    Iterable, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::entities::{login_failure, refresh_token, session, user};
use super::{Db, Tx};
use crate::clock::{from_micros, to_micros};
use crate::error::AppResult;
use crate::model::{SessionId, Timestamp, User, UserId};

/// A signed-in session: the family of one login's refresh tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub created_at: Timestamp,
    pub last_used_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl From<session::Model> for Session {
    fn from(row: session::Model) -> Self {
        Session {
            id: row.id,
            user_id: row.user_id,
            created_at: from_micros(row.created_at),
            last_used_at: from_micros(row.last_used_at),
            expires_at: from_micros(row.expires_at),
            revoked_at: row.revoked_at.map(from_micros),
        }
    }
}

/// A refresh token's row: which session it belongs to, and whether it was already rotated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub session_id: String,
    pub used_at: Option<Timestamp>,
}

pub async fn create(tx: &Tx, s: &Session) -> AppResult<()> {
    session::ActiveModel {
        id: Set(s.id.clone()),
        user_id: Set(s.user_id.clone()),
        created_at: Set(to_micros(s.created_at)),
        last_used_at: Set(to_micros(s.last_used_at)),
        expires_at: Set(to_micros(s.expires_at)),
        revoked_at: Set(None),
        revoked_reason: Set(None),
    }
    .insert(&tx.txn)
    .await?;
    Ok(())
}

/// The user `user_id` and their session `session_id`, read in one statement outside any
/// transaction (one round trip, one consistent read): what every signed-in call checks first.
/// Nothing when either is missing or the session is someone else's.
pub async fn signed_in(
    db: &Db,
    user_id: &UserId,
    session_id: &SessionId,
) -> AppResult<Option<(User, Session)>> {
    let mut query = Query::select();
    query
        .column((user::Entity, Asterisk))
        .from(user::Entity)
        .inner_join(
            session::Entity,
            Expr::col((session::Entity, session::Column::UserId))
                .equals((user::Entity, user::Column::Id)),
        )
        .and_where(Expr::col((user::Entity, user::Column::Id)).eq(user_id.as_str()))
        .and_where(Expr::col((session::Entity, session::Column::Id)).eq(session_id.as_str()));
    for column in session::Column::iter() {
        query.expr_as(
            Expr::col((session::Entity, column)),
            Alias::new(format!("{SESSION}{}", column.as_str())),
        );
    }
    let Some(row) = db
        .conn
        .query_one(db.conn.get_database_backend().build(&query))
        .await?
    else {
        return Ok(None);
    };
    let user = user::Model::from_query_result(&row, "")?;
    let session = session::Model::from_query_result(&row, SESSION)?;
    Ok(Some((User::from(user), Session::from(session))))
}

/// The prefix of the session's columns in [`signed_in`]'s row.
const SESSION: &str = "session_";

pub async fn find(tx: &Tx, id: &str) -> AppResult<Option<Session>> {
    Ok(session::Entity::find_by_id(id)
        .one(&tx.txn)
        .await?
        .map(Session::from))
}

pub async fn insert_refresh_token(
    tx: &Tx,
    hash: &str,
    session_id: &str,
    now: Timestamp,
) -> AppResult<()> {
    refresh_token::ActiveModel {
        token_hash: Set(hash.to_string()),
        session_id: Set(session_id.to_string()),
        issued_at: Set(to_micros(now)),
        used_at: Set(None),
    }
    .insert(&tx.txn)
    .await?;
    Ok(())
}

pub async fn find_refresh_token(tx: &Tx, hash: &str) -> AppResult<Option<RefreshToken>> {
    Ok(refresh_token::Entity::find_by_id(hash)
        .one(&tx.txn)
        .await?
        .map(|row| RefreshToken {
            session_id: row.session_id,
            used_at: row.used_at.map(from_micros),
        }))
}

/// Marks a refresh token rotated; false when it already was (a concurrent replay).
pub async fn use_refresh_token(tx: &Tx, hash: &str, now: Timestamp) -> AppResult<bool> {
    let result = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(to_micros(now)))
        .filter(refresh_token::Column::TokenHash.eq(hash))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(&tx.txn)
        .await?;
    Ok(result.rows_affected == 1)
}

pub async fn touch(tx: &Tx, id: &str, now: Timestamp) -> AppResult<()> {
    session::Entity::update_many()
        .col_expr(session::Column::LastUsedAt, Expr::value(to_micros(now)))
        .filter(session::Column::Id.eq(id))
        .exec(&tx.txn)
        .await?;
    Ok(())
}

pub async fn revoke(tx: &Tx, id: &str, now: Timestamp, reason: &str) -> AppResult<()> {
    session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(to_micros(now)))
        .col_expr(session::Column::RevokedReason, Expr::value(reason))
        .filter(session::Column::Id.eq(id))
        .filter(session::Column::RevokedAt.is_null())
        .exec(&tx.txn)
        .await?;
    Ok(())
}

/// Revokes every live session of a user; how many there were.
pub async fn revoke_all_of(
    tx: &Tx,
    user_id: &UserId,
    now: Timestamp,
    reason: &str,
) -> AppResult<u64> {
    let result = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(to_micros(now)))
        .col_expr(session::Column::RevokedReason, Expr::value(reason))
        .filter(session::Column::UserId.eq(user_id.as_str()))
        .filter(session::Column::RevokedAt.is_null())
        .exec(&tx.txn)
        .await?;
    Ok(result.rows_affected)
}

/// Records a sign-in attempt (it stays as a failure unless the attempt succeeds or is refused).
pub async fn record_login_attempt(
    tx: &Tx,
    id: &str,
    username: &str,
    peer: &str,
    now: Timestamp,
) -> AppResult<()> {
    login_failure::ActiveModel {
        id: Set(id.to_string()),
        username: Set(username.to_string()),
        peer: Set(peer.to_string()),
        at: Set(to_micros(now)),
    }
    .insert(&tx.txn)
    .await?;
    Ok(())
}

/// Failed (or in-flight) sign-ins since `since`, for a username or for a peer, other than `except`:
/// how many, and the latest.
pub async fn login_failures_since(
    tx: &Tx,
    username: Option<&str>,
    peer: Option<&str>,
    since: Timestamp,
    except: &str,
) -> AppResult<(u64, Option<Timestamp>)> {
    let mut query = login_failure::Entity::find()
        .filter(login_failure::Column::At.gte(to_micros(since)))
        .filter(login_failure::Column::Id.ne(except));
    if let Some(username) = username {
        query = query.filter(login_failure::Column::Username.eq(username));
    }
    if let Some(peer) = peer {
        query = query.filter(login_failure::Column::Peer.eq(peer));
    }
    let count = query.clone().count(&tx.txn).await?;
    let latest = query
        .select_only()
        .column(login_failure::Column::At)
        .order_by_desc(login_failure::Column::At)
        .into_tuple::<i64>()
        .one(&tx.txn)
        .await?
        .map(from_micros);
    Ok((count, latest))
}

pub async fn delete_login_attempt(tx: &Tx, id: &str) -> AppResult<()> {
    login_failure::Entity::delete_by_id(id)
        .exec(&tx.txn)
        .await?;
    Ok(())
}

/// Forgets a username's failed sign-ins after a successful one.
pub async fn clear_login_failures(tx: &Tx, username: &str) -> AppResult<()> {
    login_failure::Entity::delete_many()
        .filter(login_failure::Column::Username.eq(username))
        .exec(&tx.txn)
        .await?;
    Ok(())
}

/// Forgets failed sign-ins older than `before`: they no longer count.
pub async fn prune_login_failures(tx: &Tx, before: Timestamp) -> AppResult<u64> {
    let result = login_failure::Entity::delete_many()
        .filter(login_failure::Column::At.lt(to_micros(before)))
        .exec(&tx.txn)
        .await?;
    Ok(result.rows_affected)
}
