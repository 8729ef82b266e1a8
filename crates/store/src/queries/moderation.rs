//! Moderation and hub administration: accounts, counts, reports, blocks.

use chinwag_proto::{Conversation, ConversationId, Message, User, UserId};
use rusqlite::{params, Connection};

use super::*;
use crate::Result;

/// Every account with its number of sessions, by username.
pub fn admin_users(conn: &Connection) -> Result<Vec<(User, u32)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS}, (SELECT count(*) FROM sessions s WHERE s.user_id = users.id)
         FROM users ORDER BY username"
    ))?;
    let rows = stmt.query_map([], |r| Ok((user_from_row(r)?, r.get(7)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every conversation with its active members, messages (not deleted) and files.
pub fn admin_conversations(conn: &Connection) -> Result<Vec<(Conversation, u32, i64, i64)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CONVERSATION_COLUMNS},
            (SELECT count(*) FROM members m WHERE m.conversation_id = c.id AND m.active = 1),
            (SELECT count(*) FROM messages x WHERE x.conversation_id = c.id AND x.deleted = 0),
            (SELECT count(*) FROM files f WHERE f.conversation_id = c.id
                 AND f.message_id IS NOT NULL)
         FROM conversations c ORDER BY c.id"
    ))?;
    let rows = stmt.query_map([], |r| {
        let at = CONVERSATION_COLUMN_COUNT;
        Ok((
            conversation_from_row(r)?,
            r.get(at)?,
            r.get(at + 1)?,
            r.get(at + 2)?,
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Counts for `chinwag admin stats`: users, admins, disabled users, conversations,
/// messages, files, bytes of distinct file content, open reports.
pub fn admin_counts(conn: &Connection) -> Result<[i64; 8]> {
    Ok(conn.query_row(
        "SELECT (SELECT count(*) FROM users),
                (SELECT count(*) FROM users WHERE is_admin = 1 AND disabled_at IS NULL),
                (SELECT count(*) FROM users WHERE disabled_at IS NOT NULL),
                (SELECT count(*) FROM conversations),
                (SELECT count(*) FROM messages WHERE deleted = 0),
                (SELECT count(*) FROM files),
                (SELECT coalesce(sum(size), 0) FROM
                    (SELECT max(size) AS size FROM files GROUP BY sha256)),
                (SELECT count(*) FROM reports WHERE resolved_at IS NULL)",
        [],
        |r| {
            Ok([
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ])
        },
    )?)
}

/// Reports, open ones first, newest first: (id, message, reporter, reason, created,
/// resolved by, resolved at).
#[allow(clippy::type_complexity)]
pub fn reports(
    conn: &Connection,
    limit: u32,
) -> Result<
    Vec<(
        i64,
        Message,
        UserId,
        String,
        i64,
        Option<UserId>,
        Option<i64>,
    )>,
> {
    let columns = qualified_message_columns("m");
    // The report's own columns follow the message's.
    let at = MESSAGE_COLUMNS.split(", ").count();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {columns}, r.id, r.reporter_id, r.reason, r.created_at, r.resolved_by,
                r.resolved_at
         FROM reports r JOIN messages m ON m.id = r.message_id
         ORDER BY r.resolved_at IS NOT NULL, r.id DESC LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit], |r| {
        Ok((
            r.get(at)?,
            message_from_row(r)?,
            r.get(at + 1)?,
            r.get(at + 2)?,
            r.get(at + 3)?,
            r.get(at + 4)?,
            r.get(at + 5)?,
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every (blocker, blocked) pair, for the hub's typing filter.
pub fn all_blocks(conn: &Connection) -> Result<Vec<(UserId, UserId)>> {
    let mut stmt = conn.prepare_cached("SELECT user_id, blocked_id FROM blocks")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The users I have blocked.
pub fn blocked_by(conn: &Connection, me: UserId) -> Result<Vec<UserId>> {
    let mut stmt = conn
        .prepare_cached("SELECT blocked_id FROM blocks WHERE user_id = ?1 ORDER BY blocked_id")?;
    let rows = stmt.query_map([me], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The SQL condition "`?2` may not write in conversation `?1` because it is a direct chat
/// whose other member blocked them": the one rule, for [`blocked_in_direct`] and for the
/// send's first write, which checks it in place (`Tx::send_with_files`). A literal, so that
/// a statement on the send path can be `concat!`ed at compile time.
macro_rules! blocked_in_direct_sql {
    () => {
        "EXISTS (SELECT 1 FROM conversations c
             JOIN members m ON m.conversation_id = c.id AND m.user_id != ?2
             JOIN blocks b ON b.user_id = m.user_id AND b.blocked_id = ?2
             WHERE c.id = ?1 AND c.kind = 'direct')"
    };
}
pub(crate) use blocked_in_direct_sql;

/// Whether `sender` may not write in `conversation` because it is a direct chat whose other
/// member blocked them.
pub fn blocked_in_direct(
    conn: &Connection,
    conversation: ConversationId,
    sender: UserId,
) -> Result<bool> {
    Ok(conn
        .prepare_cached(concat!("SELECT ", blocked_in_direct_sql!()))?
        .query_row(params![conversation, sender], |r| r.get(0))?)
}
