//! Users and their password hashes. The hash only leaves this module in [`Credentials`].

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::entities::{agency, user};
use super::{Tx, UniqueExt};
use crate::authz::AgencyAdmin;
use crate::clock::{from_micros, to_micros};
use crate::error::{AppError, AppResult};
use crate::model::{AgencyId, Person, Roles, Timestamp, User, UserId};

impl From<user::Model> for User {
    fn from(row: user::Model) -> Self {
        User {
            id: row.id.into(),
            username: row.username,
            display_name: row.display_name,
            agency_id: row.agency_id.into(),
            roles: Roles::from_bits(row.roles),
            disabled: row.disabled,
            must_change_password: row.must_change_password,
            created_at: from_micros(row.created_at),
            updated_at: from_micros(row.updated_at),
        }
    }
}

/// A user with the stored password hash, for signing in.
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

pub async fn insert(tx: &Tx, user: &User, password_hash: &str) -> AppResult<()> {
    user::ActiveModel {
        id: Set(user.id.to_string()),
        username: Set(user.username.clone()),
        display_name: Set(user.display_name.clone()),
        agency_id: Set(user.agency_id.to_string()),
        roles: Set(user.roles.bits()),
        disabled: Set(user.disabled),
        password_hash: Set(password_hash.to_string()),
        must_change_password: Set(user.must_change_password),
        created_at: Set(to_micros(user.created_at)),
        updated_at: Set(to_micros(user.updated_at)),
    }
    .insert(&tx.txn)
    .await
    .on_unique(|| AppError::AlreadyExists(format!("username {} is taken", user.username)))?;
    Ok(())
}

pub async fn find(tx: &Tx, id: &UserId) -> AppResult<Option<User>> {
    Ok(user::Entity::find_by_id(id.as_str())
        .one(&tx.txn)
        .await?
        .map(User::from))
}

pub async fn find_by_username(tx: &Tx, username: &str) -> AppResult<Option<User>> {
    Ok(user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(&tx.txn)
        .await?
        .map(User::from))
}

pub async fn credentials(tx: &Tx, username: &str) -> AppResult<Option<Credentials>> {
    Ok(user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(&tx.txn)
        .await?
        .map(|row| {
            let password_hash = row.password_hash.clone();
            Credentials {
                user: User::from(row),
                password_hash,
            }
        }))
}

/// A user of the admin's agency; `None` for any other, as for a missing one.
pub async fn find_managed(tx: &Tx, admin: &AgencyAdmin, id: &UserId) -> AppResult<Option<User>> {
    Ok(user::Entity::find_by_id(id.as_str())
        .filter(user::Column::AgencyId.eq(admin.agency_id().as_str()))
        .one(&tx.txn)
        .await?
        .map(User::from))
}

/// The people with these ids, with their agencies' codes; ids of no user are left out.
pub async fn people(tx: &Tx, ids: &[UserId]) -> AppResult<Vec<Person>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(ids.iter().map(UserId::as_str)))
        .all(&tx.txn)
        .await?;
    let agencies: std::collections::HashMap<String, String> = agency::Entity::find()
        .filter(agency::Column::Id.is_in(users.iter().map(|u| u.agency_id.as_str())))
        .all(&tx.txn)
        .await?
        .into_iter()
        .map(|a| (a.id, a.code))
        .collect();
    Ok(users
        .into_iter()
        .map(|u| Person {
            agency_code: agencies.get(&u.agency_id).cloned().unwrap_or_default(),
            id: u.id.into(),
            agency_id: u.agency_id.into(),
            username: u.username,
            display_name: u.display_name,
        })
        .collect())
}

/// Whether any user exists, in any agency (the first run has none).
pub async fn any(tx: &Tx) -> AppResult<bool> {
    Ok(user::Entity::find().one(&tx.txn).await?.is_some())
}

/// The users of the admin's agency, by username.
pub async fn list_managed(
    tx: &Tx,
    admin: &AgencyAdmin,
    include_disabled: bool,
) -> AppResult<Vec<User>> {
    let mut query =
        user::Entity::find().filter(user::Column::AgencyId.eq(admin.agency_id().as_str()));
    if !include_disabled {
        query = query.filter(user::Column::Disabled.eq(false));
    }
    Ok(query
        .order_by_asc(user::Column::Username)
        .all(&tx.txn)
        .await?
        .into_iter()
        .map(User::from)
        .collect())
}

/// The enabled users of an agency, by username, at most `limit`.
pub async fn list_enabled(tx: &Tx, agency_id: &AgencyId, limit: u64) -> AppResult<Vec<User>> {
    Ok(user::Entity::find()
        .filter(user::Column::AgencyId.eq(agency_id.as_str()))
        .filter(user::Column::Disabled.eq(false))
        .order_by_asc(user::Column::Username)
        .limit(limit)
        .all(&tx.txn)
        .await?
        .into_iter()
        .map(User::from)
        .collect())
}

/// Writes the user's display name, roles and disabled flag.
pub async fn update(tx: &Tx, user: &User) -> AppResult<()> {
    user::Entity::update_many()
        .col_expr(
            user::Column::DisplayName,
            Expr::value(user.display_name.clone()),
        )
        .col_expr(user::Column::Roles, Expr::value(user.roles.bits()))
        .col_expr(user::Column::Disabled, Expr::value(user.disabled))
        .col_expr(
            user::Column::UpdatedAt,
            Expr::value(to_micros(user.updated_at)),
        )
        .filter(user::Column::Id.eq(user.id.as_str()))
        .exec(&tx.txn)
        .await?;
    Ok(())
}

/// Sets the user's roles if they are still `before`; false when they changed meanwhile.
pub async fn set_roles_if(
    tx: &Tx,
    id: &UserId,
    before: Roles,
    after: Roles,
    now: Timestamp,
) -> AppResult<bool> {
    let result = user::Entity::update_many()
        .col_expr(user::Column::Roles, Expr::value(after.bits()))
        .col_expr(user::Column::UpdatedAt, Expr::value(to_micros(now)))
        .filter(user::Column::Id.eq(id.as_str()))
        .filter(user::Column::Roles.eq(before.bits()))
        .exec(&tx.txn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Replaces the password hash only if it is still `old_hash`; false when it changed meanwhile.
pub async fn replace_password_hash(
    tx: &Tx,
    id: &str,
    old_hash: &str,
    new_hash: &str,
    now: Timestamp,
) -> AppResult<bool> {
    let result = user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(new_hash))
        .col_expr(user::Column::MustChangePassword, Expr::value(false))
        .col_expr(user::Column::UpdatedAt, Expr::value(to_micros(now)))
        .filter(user::Column::Id.eq(id))
        .filter(user::Column::PasswordHash.eq(old_hash))
        .exec(&tx.txn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Replaces the password hash; `must_change` marks it temporary (an admin's reset).
pub async fn set_password_hash(
    tx: &Tx,
    id: &str,
    hash: &str,
    must_change: bool,
    now: Timestamp,
) -> AppResult<()> {
    user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(hash))
        .col_expr(user::Column::MustChangePassword, Expr::value(must_change))
        .col_expr(user::Column::UpdatedAt, Expr::value(to_micros(now)))
        .filter(user::Column::Id.eq(id))
        .exec(&tx.txn)
        .await?;
    Ok(())
}
