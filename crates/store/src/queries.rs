//! Reads. Each takes a plain connection so that it runs the same on a pooled reader
//! ([`crate::Store::read`]) and inside a write ([`crate::Tx::conn`]).

use std::sync::Arc;

use chinwag_proto::{
    rest::MessagePage, Conversation, ConversationDetail, ConversationId, ConversationKind,
    ConversationSummary, EventId, Member, Message, MessageId, Role, Seq, User, UserId,
};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::{Result, StoreError};

pub(crate) const USER_COLUMNS: &str =
    "id, username, display_name, status_text, is_admin, created_at";
pub(crate) const CONVERSATION_COLUMNS: &str =
    "id, kind, name, created_by, created_at, last_seq, last_activity_at";
pub(crate) const MESSAGE_COLUMNS: &str =
    "id, conversation_id, seq, sender_id, client_id, body, created_at, edited_at, deleted";
const MEMBER_COLUMNS: &str = "user_id, role, delivered_seq, read_seq";

/// Unread counts stop here: counting a million unread messages helps nobody.
pub const UNREAD_CAP: u32 = 9_999;

pub(crate) fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        username: row.get(1)?,
        display_name: row.get(2)?,
        status_text: row.get(3)?,
        is_admin: row.get(4)?,
        created_at: row.get(5)?,
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
    })
}

fn member_from_row(row: &Row<'_>) -> rusqlite::Result<Member> {
    let role: String = row.get(1)?;
    Ok(Member {
        user_id: row.get(0)?,
        role: if role == "admin" {
            Role::Admin
        } else {
            Role::Member
        },
        delivered_seq: row.get(2)?,
        read_seq: row.get(3)?,
    })
}

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
        .query_row([username.trim()], |r| Ok((user_from_row(r)?, r.get(6)?)))
        .optional()?)
}

/// The user a session token hash belongs to, if the session exists.
pub fn user_for_session(conn: &Connection, token_hash: &[u8]) -> Result<Option<User>> {
    Ok(conn
        .prepare_cached(
            "SELECT u.id, u.username, u.display_name, u.status_text, u.is_admin, u.created_at
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1",
        )?
        .query_row([token_hash], user_from_row)
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

pub fn conversation(conn: &Connection, id: ConversationId) -> Result<Conversation> {
    conn.prepare_cached(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?1"
    ))?
    .query_row([id], conversation_from_row)
    .map_err(not_found("conversation"))
}

pub fn conversation_detail(conn: &Connection, id: ConversationId) -> Result<ConversationDetail> {
    let conversation = conversation(conn, id)?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE conversation_id = ?1 AND active = 1
         ORDER BY user_id"
    ))?;
    let members = stmt
        .query_map([id], member_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ConversationDetail {
        conversation,
        members,
    })
}

/// `user_id`'s membership of a conversation, if active.
pub fn membership(
    conn: &Connection,
    conversation_id: ConversationId,
    user_id: UserId,
) -> Result<Option<Member>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {MEMBER_COLUMNS} FROM members
             WHERE conversation_id = ?1 AND user_id = ?2 AND active = 1"
        ))?
        .query_row(params![conversation_id, user_id], member_from_row)
        .optional()?)
}

pub fn member_count(conn: &Connection, conversation_id: ConversationId) -> Result<u32> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM members WHERE conversation_id = ?1 AND active = 1")?
        .query_row([conversation_id], |r| r.get(0))?)
}

/// My conversations, most recently active first, each with its last message and my unread
/// count.
pub fn conversation_summaries(conn: &Connection, me: UserId) -> Result<Vec<ConversationSummary>> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.id, c.kind, c.name, c.created_by, c.created_at, c.last_seq, c.last_activity_at,
                m.role, m.read_seq, m.delivered_seq,
                (SELECT count(*) FROM members x WHERE x.conversation_id = c.id AND x.active = 1),
                CASE WHEN c.kind = 'direct' THEN
                    (SELECT x.user_id FROM members x
                     WHERE x.conversation_id = c.id AND x.user_id != m.user_id LIMIT 1)
                END
         FROM members m JOIN conversations c ON c.id = m.conversation_id
         WHERE m.user_id = ?1 AND m.active = 1
         ORDER BY c.last_activity_at DESC, c.id DESC",
    )?;
    let rows = stmt.query_map([me], |r| {
        let role: String = r.get(7)?;
        Ok((
            conversation_from_row(r)?,
            if role == "admin" {
                Role::Admin
            } else {
                Role::Member
            },
            r.get::<_, Seq>(8)?,
            r.get::<_, Seq>(9)?,
            r.get::<_, u32>(10)?,
            r.get::<_, Option<UserId>>(11)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (conversation, my_role, read_seq, delivered_seq, member_count, peer_id) = row?;
        let last_message = if conversation.last_seq > 0 {
            message_at(conn, conversation.id, conversation.last_seq)?
        } else {
            None
        };
        let unread = unread_count(conn, conversation.id, me, read_seq)?;
        out.push(ConversationSummary {
            conversation,
            member_count,
            peer_id,
            my_role,
            last_message,
            unread,
            read_seq,
            delivered_seq,
        });
    }
    Ok(out)
}

fn unread_count(
    conn: &Connection,
    conversation_id: ConversationId,
    me: UserId,
    read_seq: Seq,
) -> Result<u32> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM (SELECT 1 FROM messages
             WHERE conversation_id = ?1 AND seq > ?2 AND sender_id != ?3 AND deleted = 0
             LIMIT ?4)",
        )?
        .query_row(params![conversation_id, read_seq, me, UNREAD_CAP], |r| {
            r.get(0)
        })?)
}

fn message_at(
    conn: &Connection,
    conversation_id: ConversationId,
    seq: Seq,
) -> Result<Option<Message>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND seq = ?2"
        ))?
        .query_row(params![conversation_id, seq], message_from_row)
        .optional()?)
}

pub fn message(conn: &Connection, id: MessageId) -> Result<Message> {
    conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1"
    ))?
    .query_row([id], message_from_row)
    .map_err(not_found("message"))
}

/// Where a history page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageFrom {
    /// The newest messages.
    Latest,
    /// Messages with a sequence below this one.
    Before(Seq),
    /// Messages with a sequence above this one.
    After(Seq),
}

/// A page of at most `limit` messages, oldest first.
pub fn history(
    conn: &Connection,
    conversation_id: ConversationId,
    from: PageFrom,
    limit: u32,
) -> Result<MessagePage> {
    let limit = i64::from(limit.max(1));
    let (sql, bound, ascending) = match from {
        PageFrom::After(seq) => ("seq > ?2 ORDER BY seq ASC", seq, true),
        PageFrom::Before(seq) => ("seq < ?2 ORDER BY seq DESC", seq, false),
        PageFrom::Latest => ("seq < ?2 ORDER BY seq DESC", i64::MAX, false),
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND {sql} LIMIT ?3"
    ))?;
    let mut messages: Vec<Message> = stmt
        .query_map(params![conversation_id, bound, limit + 1], message_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    let has_more = messages.len() as i64 > limit;
    messages.truncate(limit as usize);
    if !ascending {
        messages.reverse();
    }
    Ok(MessagePage { messages, has_more })
}

/// The newest event id (0 on an empty hub).
pub fn last_event_id(conn: &Connection) -> Result<EventId> {
    Ok(conn.query_row("SELECT coalesce(max(id), 0) FROM events", [], |r| r.get(0))?)
}

/// Up to `limit` events after `after` that `user_id` may see, in id order, as
/// `(id, event JSON)`. A user sees hub-wide events, and a conversation's events from the one
/// that added them up to the one that removed them.
pub fn events_for_user(
    conn: &Connection,
    user_id: UserId,
    after: EventId,
    limit: u32,
) -> Result<Vec<(EventId, Arc<str>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.id, e.payload FROM events e
         WHERE e.id > ?1 AND (
            e.conversation_id IS NULL OR EXISTS (
                SELECT 1 FROM members m
                WHERE m.conversation_id = e.conversation_id AND m.user_id = ?2
                  AND e.id >= m.joined_event
                  AND (m.left_event IS NULL OR e.id <= m.left_event)))
         ORDER BY e.id LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![after, user_id, limit], |r| {
        Ok((
            r.get::<_, EventId>(0)?,
            Arc::<str>::from(r.get::<_, String>(1)?),
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every active membership, for the hub's fan-out cache.
pub fn all_memberships(conn: &Connection) -> Result<Vec<(ConversationId, UserId)>> {
    let mut stmt = conn.prepare("SELECT conversation_id, user_id FROM members WHERE active = 1")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// `PRAGMA integrity_check`, for tests and the admin.
pub fn integrity_check(conn: &Connection) -> Result<String> {
    Ok(conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
}
