//! Accounts and sessions.

use chinwag_proto::{validate, User, UserId};
use rusqlite::{params, Connection, OptionalExtension};

use super::*;
use crate::Result;

pub fn user(conn: &Connection, id: UserId) -> Result<User> {
    conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id], user_from_row)
        .map_err(not_found("user"))
}

/// A user and their password hash, by username (case-insensitive).
pub fn user_for_login(conn: &Connection, username: &str) -> Result<Option<(User, String)>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = ?1"
        ))?
        .query_row([validate::username_key(username)], |r| {
            Ok((user_from_row(r)?, r.get(7)?))
        })
        .optional()?)
}

/// The user a session token hash belongs to, if the session exists, was used at or after
/// `used_since` (milliseconds; pass 0 to take any age) and its account is enabled; with the
/// time it was last used.
pub fn user_for_session(
    conn: &Connection,
    token_hash: &[u8],
    used_since: i64,
) -> Result<Option<(User, i64)>> {
    Ok(conn
        .prepare_cached(
            "SELECT u.id, u.username, u.display_name, u.status_text, u.is_admin, u.created_at,
                    u.disabled_at IS NOT NULL, s.used_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ?1 AND s.used_at >= ?2 AND u.disabled_at IS NULL",
        )?
        .query_row(params![token_hash, used_since], |r| {
            Ok((user_from_row(r)?, r.get(7)?))
        })
        .optional()?)
}

/// Every account, by display name.
pub fn users(conn: &Connection) -> Result<Vec<User>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM users ORDER BY display_name COLLATE NOCASE, id"
    ))?;
    let rows = stmt.query_map([], user_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// `user`'s notification settings (the defaults until they change one).
pub fn notify_settings(
    conn: &Connection,
    user: UserId,
) -> Result<chinwag_proto::notify::NotifySettings> {
    let kept: Option<String> = conn
        .prepare_cached("SELECT notify FROM users WHERE id = ?1")?
        .query_row([user], |r| r.get(0))
        .map_err(not_found("user"))?;
    Ok(kept
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default())
}
