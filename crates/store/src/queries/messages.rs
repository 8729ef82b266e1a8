//! Messages and history pages.

use chinwag_proto::{rest::MessagePage, ConversationId, Message, MessageId, Seq, UserId};
use rusqlite::{params, Connection, OptionalExtension};

use super::*;
use crate::Result;

pub(crate) fn message_at(
    conn: &Connection,
    conversation_id: ConversationId,
    seq: Seq,
) -> Result<Option<Message>> {
    Ok(conn
        .prepare_cached(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE conversation_id = ?1 AND seq = ?2"
        ))?
        .query_row(params![conversation_id, seq], message_from_row)
        .optional()?)
}

pub fn message(conn: &Connection, id: MessageId) -> Result<Message> {
    conn.prepare_cached(concat!(
        "SELECT ",
        message_columns!(),
        " FROM messages WHERE id = ?1"
    ))?
    .query_row([id], message_from_row)
    .map_err(not_found("message"))
}

/// Message `id` if `viewer` may see it: a member of its conversation now, and the message
/// within the history they see ([`visible`]). `NotFound("message")` otherwise, whether it
/// does not exist or is not theirs to see, so an id tells nobody anything.
pub fn visible_message(conn: &Connection, viewer: UserId, id: MessageId) -> Result<Message> {
    conn.prepare_cached(&format!(
        "SELECT {} FROM messages m
         JOIN members mb ON mb.conversation_id = m.conversation_id
          AND mb.user_id = ?2 AND mb.active = 1
         WHERE m.id = ?1 AND {}",
        qualified_message_columns("m"),
        visible("mb", "m.seq")
    ))?
    .query_row(params![id, viewer], message_from_row)
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

/// A page of at most `limit` messages that `viewer` may see, oldest first. `NotFound` when
/// the viewer is not a member.
pub fn history(
    conn: &Connection,
    conversation_id: ConversationId,
    viewer: UserId,
    from: PageFrom,
    limit: u32,
) -> Result<MessagePage> {
    let hidden = super::hidden_up_to(conn, conversation_id, viewer)?
        .ok_or(crate::StoreError::NotFound("conversation"))?;
    let limit = i64::from(limit.max(1));
    let (sql, bound, ascending) = match from {
        PageFrom::After(seq) => ("seq > ?2 ORDER BY seq ASC", seq, true),
        PageFrom::Before(seq) => ("seq < ?2 ORDER BY seq DESC", seq, false),
        PageFrom::Latest => ("seq < ?2 ORDER BY seq DESC", i64::MAX, false),
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages
         WHERE conversation_id = ?1 AND seq > ?4 AND {sql} LIMIT ?3"
    ))?;
    let mut messages: Vec<Message> = stmt
        .query_map(
            params![conversation_id, bound, limit + 1, hidden],
            message_from_row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    let has_more = messages.len() as i64 > limit;
    messages.truncate(limit as usize);
    if !ascending {
        messages.reverse();
    }
    Ok(MessagePage { messages, has_more })
}
