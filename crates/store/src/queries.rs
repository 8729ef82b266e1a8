//! Reads. Each takes a plain connection so that it runs the same on a pooled reader
//! ([`crate::Store::read`]) and inside a write ([`crate::Tx::conn`]).

use std::sync::Arc;

use chinwag_proto::{
    rest::MessagePage, Attachment, Conversation, ConversationDetail, ConversationId,
    ConversationKind, ConversationSummary, EventId, FileId, ImageInfo, Member, Message, MessageId,
    Role, Seq, User, UserId,
};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::{Result, StoreError};

pub(crate) const USER_COLUMNS: &str =
    "id, username, display_name, status_text, is_admin, created_at, disabled_at IS NOT NULL";
pub(crate) const CONVERSATION_COLUMNS: &str =
    "id, kind, name, created_by, created_at, last_seq, last_activity_at";
pub(crate) const MESSAGE_COLUMNS: &str =
    "id, conversation_id, seq, sender_id, client_id, body, created_at, edited_at, deleted, attachments";
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
        attachments: match row.get_ref(9)?.as_str_or_null()? {
            None => Vec::new(),
            Some(json) => serde_json::from_str(json).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(9, rusqlite::types::Type::Text, e.into())
            })?,
        },
    })
}

pub(crate) const FILE_COLUMNS: &str = "id, name, size, mime, sha256, width, height, thumbnail";

/// A stored file as the hub serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub attachment: Attachment,
    /// The thumbnail's media type, when there is one.
    pub thumbnail: Option<String>,
}

pub(crate) fn file_from_row(row: &Row<'_>) -> rusqlite::Result<StoredFile> {
    let width: Option<u32> = row.get(5)?;
    let height: Option<u32> = row.get(6)?;
    let thumbnail: Option<String> = row.get(7)?;
    Ok(StoredFile {
        attachment: Attachment {
            id: row.get(0)?,
            name: row.get(1)?,
            size: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
            mime: row.get(3)?,
            sha256: row.get(4)?,
            image: match (width, height, &thumbnail) {
                (Some(width), Some(height), Some(_)) => Some(ImageInfo { width, height }),
                _ => None,
            },
        },
        thumbnail,
    })
}

/// The file `me` may download: one attached to a message that is not deleted, in a
/// conversation `me` is an active member of, or `me`'s own upload not sent yet. `None`
/// otherwise, with no difference between "missing" and "not yours" (the hub answers 404).
pub fn file_for(conn: &Connection, me: UserId, id: FileId) -> Result<Option<StoredFile>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {} FROM files f
             JOIN members mb ON mb.conversation_id = f.conversation_id
                 AND mb.user_id = ?2 AND mb.active = 1
             LEFT JOIN messages m ON m.id = f.message_id
             WHERE f.id = ?1
               AND ((m.id IS NOT NULL AND m.deleted = 0)
                    OR (f.message_id IS NULL AND f.uploader_id = ?2))",
            prefixed(FILE_COLUMNS, "f.")
        ))?
        .query_row(params![id, me], file_from_row)
        .optional()?)
}

/// `a, b` → `f.a, f.b`.
fn prefixed(columns: &str, prefix: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{prefix}{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What an earlier upload of the same bytes learned about them as an image (its size and
/// thumbnail type), so that a repeated upload need not decode them again.
pub fn image_of_file(conn: &Connection, sha256: &str) -> Result<Option<(ImageInfo, String)>> {
    Ok(conn
        .prepare_cached(
            "SELECT width, height, thumbnail FROM files
             WHERE sha256 = ?1 AND thumbnail IS NOT NULL LIMIT 1",
        )?
        .query_row([sha256], |r| {
            Ok((
                ImageInfo {
                    width: r.get(0)?,
                    height: r.get(1)?,
                },
                r.get(2)?,
            ))
        })
        .optional()?)
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
        .query_row([username.trim()], |r| Ok((user_from_row(r)?, r.get(7)?)))
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
                END,
                m.muted
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
            r.get::<_, bool>(12)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (conversation, my_role, read_seq, delivered_seq, member_count, peer_id, muted) = row?;
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
            muted,
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

/// What a search may be narrowed to.
#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    pub conversation_id: Option<ConversationId>,
    pub sender_id: Option<UserId>,
    pub limit: u32,
}

/// Matches considered for ranking: the newest this many that the user may see. Ranking every
/// match of a common word over a million messages would take seconds; people look for
/// recent things, and narrowing the words narrows the matches.
pub const SEARCH_CANDIDATES: u32 = 2_000;

/// Longest search text, in characters, and most words in it.
pub const MAX_SEARCH_CHARS: usize = 200;
pub const MAX_SEARCH_WORDS: usize = 12;

/// Where the words of `text` are, as byte ranges: runs of letters and digits, as the index
/// splits text. The one definition of a word for searching, ranking and snippets.
fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, text.len()));
    }
    spans
}

/// The words of `text`, lower case.
fn words_of(text: &str) -> Vec<String> {
    word_spans(text)
        .into_iter()
        .map(|(s, e)| text[s..e].to_lowercase())
        .collect()
}

/// The words of a search: at most [`MAX_SEARCH_WORDS`].
fn search_words(text: &str) -> Vec<String> {
    let mut words = words_of(text);
    words.truncate(MAX_SEARCH_WORDS);
    words
}

/// Turns what a person typed into an FTS5 query that cannot be a syntax error or an
/// operator: each word becomes a quoted string, and all must match. Whole words only: a
/// prefix query makes FTS5 gather every message holding any word with that prefix before it
/// returns one (700 ms for "history" over a million messages). `None` when nothing
/// searchable is left.
pub fn search_query(text: &str) -> Option<String> {
    let words = search_words(text);
    if words.is_empty() {
        return None;
    }
    let quoted: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
    Some(quoted.join(" AND "))
}

/// How well a body's words (`tokens`) match the search words: BM25's term-frequency part
/// (k1 = 1.2, b = 0.75) against the candidates' average length. FTS5's own `bm25()` counts
/// every message holding each word to weigh it, which for a word in every message takes most
/// of a second; among messages that all hold every word, that weight changes little.
fn relevance(tokens: &[String], words: &[String], average_len: f64) -> f64 {
    let len = tokens.len() as f64;
    let norm = 1.2 * (0.25 + 0.75 * len / average_len.max(1.0));
    words
        .iter()
        .map(|word| {
            let tf = tokens.iter().filter(|t| *t == word).count() as f64;
            tf / (tf + norm)
        })
        .sum()
}

/// Full-text search for the words of `text` over the messages `me` can see (conversations
/// they are an active member of; deleted messages are never indexed), best first by
/// [`relevance`] among the newest [`SEARCH_CANDIDATES`] matches. Nothing when `text` has no
/// words.
pub fn search(
    conn: &Connection,
    me: UserId,
    text: &str,
    filter: &SearchFilter,
) -> Result<Vec<chinwag_proto::rest::SearchHit>> {
    let Some(query) = search_query(text) else {
        return Ok(Vec::new());
    };
    let query = query.as_str();
    let words = search_words(text);
    // The index stores each word's list of messages oldest first and can jump to an id, but
    // walking it backwards means reading all of it (800 ms for a word in each of a million
    // messages). So look forwards from a window of the newest ids, widened until it holds
    // enough matches or covers everything.
    let newest: MessageId =
        conn.query_row("SELECT coalesce(max(id), 0) FROM messages", [], |r| {
            r.get(0)
        })?;
    let mut stmt = conn.prepare_cached(
        "SELECT f.rowid, m.body
         FROM messages_fts AS f
         JOIN messages AS m ON m.id = f.rowid
         WHERE messages_fts MATCH ?1
           AND f.rowid >= ?2
           AND m.deleted = 0
           AND m.conversation_id IN
               (SELECT conversation_id FROM members WHERE user_id = ?3 AND active = 1)
           AND (?4 IS NULL OR m.conversation_id = ?4)
           AND (?5 IS NULL OR m.sender_id = ?5)
         ORDER BY f.rowid ASC
         LIMIT ?6",
    )?;
    let mut window: i64 = 4_000;
    let candidates: Vec<(MessageId, String)> = loop {
        let lowest = newest.saturating_sub(window);
        let found: Vec<(MessageId, String)> = stmt
            .query_map(
                params![
                    query,
                    lowest,
                    me,
                    filter.conversation_id,
                    filter.sender_id,
                    SEARCH_CANDIDATES
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .collect::<rusqlite::Result<_>>()?;
        if found.len() >= SEARCH_CANDIDATES as usize || lowest <= 0 {
            break found;
        }
        window = window.saturating_mul(8);
    };
    // Each body split into words once, for the average length and for its relevance.
    let tokenized: Vec<(MessageId, Vec<String>)> = candidates
        .iter()
        .map(|(id, body)| (*id, words_of(body)))
        .collect();
    let average_len =
        tokenized.iter().map(|(_, t)| t.len() as f64).sum::<f64>() / tokenized.len().max(1) as f64;
    let mut ranked: Vec<(MessageId, f64)> = tokenized
        .iter()
        .map(|(id, tokens)| (*id, relevance(tokens, &words, average_len)))
        .collect();
    // Best first, newest first among equals.
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
    ranked.truncate(filter.limit.max(1) as usize);
    let mut hits = Vec::with_capacity(ranked.len());
    for (id, _) in ranked {
        let message = message(conn, id)?;
        let snippet = snippet(&message.body, &words);
        hits.push(chinwag_proto::rest::SearchHit { message, snippet });
    }
    Ok(hits)
}

/// Words of context kept on each side of the first match.
const SNIPPET_CONTEXT: usize = 10;

/// The part of `body` around its first matching word, cut into plain and matching pieces
/// (the index keeps no text or positions, so this works from the body itself). A word
/// matches as the index matched it: the same letters, ignoring case.
fn snippet(body: &str, words: &[String]) -> Vec<chinwag_proto::rest::SnippetPart> {
    let spans = word_spans(body);
    let is_hit = |(s, e): (usize, usize)| words.contains(&body[s..e].to_lowercase());
    let first = spans.iter().position(|&span| is_hit(span)).unwrap_or(0);
    let from = first.saturating_sub(SNIPPET_CONTEXT);
    let to = (first + SNIPPET_CONTEXT + 1).min(spans.len());
    let (cut_start, cut_end) = match (spans.get(from), spans.get(to.saturating_sub(1))) {
        (Some(a), Some(b)) if from > 0 || to < spans.len() => (a.0, b.1),
        _ => (0, body.len()),
    };
    let mut parts = Vec::new();
    let mut push = |text: &str, hit: bool| {
        if !text.is_empty() {
            parts.push(chinwag_proto::rest::SnippetPart {
                text: text.to_owned(),
                hit,
            });
        }
    };
    if cut_start > 0 {
        push("…", false);
    }
    let mut at = cut_start;
    for &(s, e) in spans[from..to].iter().filter(|&&span| is_hit(span)) {
        push(&body[at..s], false);
        push(&body[s..e], true);
        at = e;
    }
    push(&body[at..cut_end], false);
    if cut_end < body.len() {
        push("…", false);
    }
    parts
}

/// Whether any file record names the content with this SHA-256.
pub fn content_referenced(conn: &Connection, sha256: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM files WHERE sha256 = ?1)")?
        .query_row([sha256], |r| r.get(0))?)
}

// ----- moderation and hub administration -----

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
        Ok((conversation_from_row(r)?, r.get(7)?, r.get(8)?, r.get(9)?))
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
    let columns = MESSAGE_COLUMNS
        .split(", ")
        .map(|c| format!("m.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {columns}, r.id, r.reporter_id, r.reason, r.created_at, r.resolved_by,
                r.resolved_at
         FROM reports r JOIN messages m ON m.id = r.message_id
         ORDER BY r.resolved_at IS NOT NULL, r.id DESC LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit], |r| {
        Ok((
            r.get(10)?,
            message_from_row(r)?,
            r.get(11)?,
            r.get(12)?,
            r.get(13)?,
            r.get(14)?,
            r.get(15)?,
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

/// Whether `sender` may not write in `conversation` because it is a direct chat whose other
/// member blocked them.
pub fn blocked_in_direct(
    conn: &Connection,
    conversation: ConversationId,
    sender: UserId,
) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM conversations c
                 JOIN members m ON m.conversation_id = c.id AND m.user_id != ?2
                 JOIN blocks b ON b.user_id = m.user_id AND b.blocked_id = ?2
                 WHERE c.id = ?1 AND c.kind = 'direct')",
        )?
        .query_row(params![conversation, sender], |r| r.get(0))?)
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
