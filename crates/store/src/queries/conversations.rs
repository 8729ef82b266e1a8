//! Conversations, members and unread counts.

use chinwag_proto::{
    Conversation, ConversationDetail, ConversationId, ConversationSummary, Member, Role, Seq,
    UserId,
};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::*;
use crate::Result;

/// Unread counts stop here: counting a million unread messages helps nobody.
pub const UNREAD_CAP: u32 = 9_999;

pub(crate) fn member_from_row(row: &Row<'_>) -> rusqlite::Result<Member> {
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
        history_from: row.get(4)?,
    })
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

/// Up to which sequence number `user_id` may not see the conversation's messages (their
/// `joined_seq`: 0 when they see all of it). `None` when they are not a member.
pub fn hidden_up_to(
    conn: &Connection,
    conversation_id: ConversationId,
    user_id: UserId,
) -> Result<Option<Seq>> {
    Ok(conn
        .prepare_cached(
            "SELECT joined_seq FROM members
             WHERE conversation_id = ?1 AND user_id = ?2 AND active = 1",
        )?
        .query_row(params![conversation_id, user_id], |r| r.get(0))
        .optional()?)
}

/// Whether a conversation has more than `n` active members, reading at most `n + 1` of them
/// (a count of a 10,000-member `general` on every receipt would be the writer's hot path).
pub fn has_more_members_than(
    conn: &Connection,
    conversation_id: ConversationId,
    n: u32,
) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) > ?2 FROM (SELECT 1 FROM members
             WHERE conversation_id = ?1 AND active = 1 LIMIT ?2 + 1)",
        )?
        .query_row(params![conversation_id, n], |r| r.get(0))?)
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
                c.history_visible, c.everyone_admins_only, m.role, m.read_seq, m.delivered_seq,
                (SELECT count(*) FROM members x WHERE x.conversation_id = c.id AND x.active = 1),
                CASE WHEN c.kind = 'direct' THEN
                    (SELECT x.user_id FROM members x
                     WHERE x.conversation_id = c.id AND x.user_id != m.user_id LIMIT 1)
                END,
                m.muted, m.joined_seq, m.unread_from
         FROM members m JOIN conversations c ON c.id = m.conversation_id
         WHERE m.user_id = ?1 AND m.active = 1
         ORDER BY c.last_activity_at DESC, c.id DESC",
    )?;
    let rows = stmt.query_map([me], |r| {
        let at = CONVERSATION_COLUMN_COUNT;
        let role: String = r.get(at)?;
        Ok((
            conversation_from_row(r)?,
            if role == "admin" {
                Role::Admin
            } else {
                Role::Member
            },
            r.get::<_, Seq>(at + 1)?,
            r.get::<_, Seq>(at + 2)?,
            r.get::<_, u32>(at + 3)?,
            r.get::<_, Option<UserId>>(at + 4)?,
            r.get::<_, bool>(at + 5)?,
            r.get::<_, Seq>(at + 6)?,
            r.get::<_, Option<Seq>>(at + 7)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (
            conversation,
            my_role,
            read_seq,
            delivered_seq,
            member_count,
            peer_id,
            muted,
            joined,
            unread_from,
        ) = row?;
        let read_seq = seen_up_to(read_seq, unread_from);
        let seen = conversation.last_seq > joined;
        let last_message = if conversation.last_seq > 0 && seen {
            message_at(conn, conversation.id, conversation.last_seq)?
        } else {
            None
        };
        let (unread, mentions) = unread_from_seen(conn, conversation.id, me, read_seq, joined)?;
        out.push(ConversationSummary {
            conversation,
            member_count,
            peer_id,
            my_role,
            last_message,
            unread,
            read_seq,
            delivered_seq,
            muted,
            mentions,
        });
    }
    Ok(out)
}

/// Messages from others after `read_seq`, not deleted, capped at [`UNREAD_CAP`].
pub(crate) fn unread_count(
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

/// Of those, the ones that mention `me` (by name, `@here` or `@everyone`). Only messages
/// that mention someone are read (`messages_mentioning`, a partial index: the
/// `mentions IS NOT NULL` term must stay in the statement for SQLite to use it).
fn mention_count(
    conn: &Connection,
    conversation_id: ConversationId,
    me: UserId,
    read_seq: Seq,
) -> Result<u32> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM (SELECT 1 FROM messages INDEXED BY messages_mentioning
             WHERE conversation_id = ?1 AND seq > ?2 AND mentions IS NOT NULL
               AND sender_id != ?3 AND deleted = 0
               AND (json_extract(mentions, '$.here') OR json_extract(mentions, '$.everyone')
                    OR EXISTS (SELECT 1 FROM json_each(mentions, '$.user_ids') WHERE value = ?3))
             LIMIT ?4)",
        )?
        .query_row(params![conversation_id, read_seq, me, UNREAD_CAP], |r| {
            r.get(0)
        })?)
}

/// Where `me` is in a conversation as they see it (their `read_seq`, or just before where
/// they marked it unread), and their unread and mention counts from there.
pub fn my_unread(
    conn: &Connection,
    conversation_id: ConversationId,
    me: UserId,
) -> Result<(Seq, u32, u32)> {
    let (read_seq, joined, unread_from): (Seq, Seq, Option<Seq>) = conn
        .prepare_cached(
            "SELECT read_seq, joined_seq, unread_from FROM members
             WHERE conversation_id = ?1 AND user_id = ?2 AND active = 1",
        )?
        .query_row(params![conversation_id, me], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .map_err(|_| crate::StoreError::NotFound("conversation"))?;
    let seen = seen_up_to(read_seq, unread_from);
    let (unread, mentions) = unread_from_seen(conn, conversation_id, me, seen, joined)?;
    Ok((seen, unread, mentions))
}

/// Where a member has read up to as they see it: their `read_seq`, or just before where
/// they marked the conversation unread.
fn seen_up_to(read_seq: Seq, unread_from: Option<Seq>) -> Seq {
    unread_from.map_or(read_seq, |from| read_seq.min(from - 1))
}

/// My unread and mention counts after `seen`. What I may not see (up to `joined_seq`) is
/// not unread either; with nothing unread there is no mention to count.
fn unread_from_seen(
    conn: &Connection,
    conversation_id: ConversationId,
    me: UserId,
    seen: Seq,
    joined: Seq,
) -> Result<(u32, u32)> {
    let from = seen.max(joined);
    let unread = unread_count(conn, conversation_id, me, from)?;
    let mentions = if unread > 0 {
        mention_count(conn, conversation_id, me, from)?
    } else {
        0
    };
    Ok((unread, mentions))
}

/// Every active membership, for the hub's fan-out cache.
pub fn all_memberships(conn: &Connection) -> Result<Vec<(ConversationId, UserId)>> {
    let mut stmt = conn.prepare("SELECT conversation_id, user_id FROM members WHERE active = 1")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
