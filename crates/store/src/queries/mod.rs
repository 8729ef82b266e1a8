//! Reads. Each takes a plain connection so that it runs the same on a pooled reader
//! ([`crate::Store::read`]) and inside a write ([`crate::Tx::conn`]). One file per area;
//! the row mappers and column lists they share are here.

mod accounts;
mod conversations;
mod files;
mod messages;
mod moderation;
mod search;

pub use accounts::*;
pub use conversations::*;
pub use files::*;
pub use messages::*;
pub use moderation::*;
pub use search::*;

use std::sync::Arc;

use chinwag_proto::{Conversation, ConversationKind, EventId, Message, User, UserId};
use rusqlite::{params, Connection, Row};

use crate::{Result, StoreError};

pub(crate) const USER_COLUMNS: &str =
    "id, username, display_name, status_text, is_admin, created_at, disabled_at IS NOT NULL";

pub(crate) const CONVERSATION_COLUMNS: &str =
    "id, kind, name, created_by, created_at, last_seq, last_activity_at, history_visible, everyone_admins_only";

/// How many columns [`CONVERSATION_COLUMNS`] has: a query's own columns follow them.
pub(crate) const CONVERSATION_COLUMN_COUNT: usize = 9;

/// The rule for which messages a member sees, in SQL: with the member's row as `mb` and the
/// message's sequence number as `seq`, true when the member may see it. `joined_seq` is 0
/// for whoever joined while the group showed its history, and the newest message's number
/// for whoever joined while it did not. One place for history, search, files, the
/// conversation list, replay and live events.
pub(crate) fn visible(mb: &str, seq: &str) -> String {
    format!("({seq} > {mb}.joined_seq)")
}

/// A message's columns in the order `message_from_row` reads them. A literal, so that a
/// statement on a hot path can be `concat!`ed at compile time (no `format!` per call).
macro_rules! message_columns {
    () => {
        "id, conversation_id, seq, sender_id, client_id, body, created_at, edited_at, deleted, attachments, reply_to, reactions, mentions"
    };
}
pub(crate) use message_columns;

pub(crate) const MESSAGE_COLUMNS: &str = message_columns!();

/// [`MESSAGE_COLUMNS`] of the table aliased `alias`, for a query that joins another.
pub(crate) fn qualified_message_columns(alias: &str) -> String {
    MESSAGE_COLUMNS
        .split(", ")
        .map(|column| format!("{alias}.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

const MEMBER_COLUMNS: &str = "user_id, role, delivered_seq, read_seq, joined_seq";

pub(crate) fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        username: row.get(1)?,
        display_name: row.get(2)?,
        status_text: row.get(3)?,
        is_admin: row.get(4)?,
        created_at: row.get(5)?,
        disabled: row.get(6)?,
    })
}

pub(crate) fn conversation_from_row(row: &Row<'_>) -> rusqlite::Result<Conversation> {
    let kind: String = row.get(1)?;
    Ok(Conversation {
        id: row.get(0)?,
        kind: match kind.as_str() {
            "general" => ConversationKind::General,
            "direct" => ConversationKind::Direct,
            _ => ConversationKind::Group,
        },
        name: row.get(2)?,
        created_by: row.get(3)?,
        created_at: row.get(4)?,
        last_seq: row.get(5)?,
        last_activity_at: row.get(6)?,
        history_visible: row.get(7)?,
        everyone_admins_only: row.get(8)?,
    })
}

pub(crate) fn message_from_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: row.get(0)?,
        conversation_id: row.get(1)?,
        seq: row.get(2)?,
        sender_id: row.get(3)?,
        client_id: row.get(4)?,
        body: row.get(5)?,
        created_at: row.get(6)?,
        edited_at: row.get(7)?,
        deleted: row.get(8)?,
        attachments: json_column(row, 9)?,
        reply_to: row.get(10)?,
        reactions: json_column(row, 11)?,
        mentions: json_column(row, 12)?,
    })
}

/// A column holding JSON (a message's attachments, reactions or mentions); NULL is empty.
fn json_column<T: serde::de::DeserializeOwned + Default>(
    row: &Row<'_>,
    i: usize,
) -> rusqlite::Result<T> {
    match row.get_ref(i)?.as_str_or_null()? {
        None => Ok(T::default()),
        Some(json) => serde_json::from_str(json).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
        }),
    }
}

pub(crate) const FILE_COLUMNS: &str = "id, name, size, mime, sha256, width, height, thumbnail";

fn not_found(what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |err| match err {
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound(what),
        other => StoreError::Sqlite(other),
    }
}

/// The hub's stable id.
pub fn hub_id(conn: &Connection) -> Result<String> {
    conn.query_row("SELECT value FROM meta WHERE key = 'hub_id'", [], |r| {
        r.get(0)
    })
    .map_err(not_found("hub id"))
}

/// Whether any account exists.
pub fn any_user(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM users)", [], |r| r.get(0))?)
}

/// The newest event id (0 on an empty hub).
pub fn last_event_id(conn: &Connection) -> Result<EventId> {
    Ok(conn.query_row("SELECT coalesce(max(id), 0) FROM events", [], |r| r.get(0))?)
}

/// Up to `limit` events after `after` that `user_id` may see, in id order, as
/// `(id, event JSON)`. A user sees hub-wide events, and a conversation's events from the one
/// that added them up to the one that removed them, except those about messages they may not
/// see (an edit of a message from before they joined, in a group that hides it) and those
/// for a listed audience they are not in (a receipt in a large conversation).
pub fn events_for_user(
    conn: &Connection,
    user_id: UserId,
    after: EventId,
    limit: u32,
) -> Result<Vec<(EventId, Arc<str>)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT e.id, e.payload FROM events e
         WHERE e.id > ?1 AND (
            e.conversation_id IS NULL OR EXISTS (
                SELECT 1 FROM members m
                WHERE m.conversation_id = e.conversation_id AND m.user_id = ?2
                  AND e.id >= m.joined_event
                  AND (m.left_event IS NULL OR e.id <= m.left_event)
                  AND (e.message_seq IS NULL OR {})
                  AND (e.audience IS NULL
                       OR EXISTS (SELECT 1 FROM json_each(e.audience) WHERE value = ?2))))
         ORDER BY e.id LIMIT ?3",
        visible("m", "e.message_seq")
    ))?;
    let rows = stmt.query_map(params![after, user_id, limit], |r| {
        Ok((
            r.get::<_, EventId>(0)?,
            Arc::<str>::from(r.get::<_, String>(1)?),
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// `PRAGMA integrity_check`, for tests and the admin.
pub fn integrity_check(conn: &Connection) -> Result<String> {
    Ok(conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(parts: &[chinwag_proto::rest::SnippetPart]) -> String {
        parts
            .iter()
            .map(|p| {
                if p.hit {
                    format!("[{}]", p.text)
                } else {
                    p.text.clone()
                }
            })
            .collect()
    }

    #[test]
    fn snippets_mark_whole_words_and_cut_long_bodies() {
        let words = vec!["lunch".to_owned()];
        assert_eq!(
            render(&snippet("Lunch? lunchbox, LUNCH!", &words)),
            "[Lunch]? lunchbox, [LUNCH]!"
        );
        let long: String = (0..40).map(|i| format!("w{i} ")).collect::<String>() + "lunch é end";
        assert_eq!(
            render(&snippet(&long, &words)),
            "…w30 w31 w32 w33 w34 w35 w36 w37 w38 w39 [lunch] é end"
        );
        assert_eq!(
            search_query("NEAR(x) \"y\" OR *"),
            Some("\"near\" AND \"x\" AND \"y\" AND \"or\"".into())
        );
        assert_eq!(search_query("!!! --- ..."), None);
    }
}
