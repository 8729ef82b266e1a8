//! Write operations, each run by the writer thread inside a savepoint of the current batch.
//!
//! Every operation checks its own authorization against the database it is about to change,
//! so that a check and the write it guards can never race. One file per area, each an
//! `impl Tx` block; the helpers they share (events, membership checks) are here.

mod accounts;
mod conversations;
mod files;
mod maintenance;
mod messages;
mod moderation;

use std::sync::Arc;

use chinwag_proto::{
    Conversation, ConversationId, ConversationKind, Event, EventId, ImageInfo, Role, Seq, UserId,
};
use rusqlite::{params, Connection};

use crate::queries::{self, CONVERSATION_COLUMNS};
use crate::{Committed, Result, StoreError};

/// The id of the hub-wide `general` conversation, made by [`bootstrap`].
pub const GENERAL_ID: ConversationId = ConversationId(1);

/// Most files one message carries.
pub const MAX_ATTACHMENTS: usize = 10;

/// What one retention pass removed (see [`Tx::sweep`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    pub messages: usize,
    pub events: usize,
    pub files: usize,
    /// SHA-256s of content no file record names any more.
    pub unreferenced: Vec<String>,
}

/// An uploaded file's facts, as the hub records them ([`Tx::add_file`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    pub sha256: String,
    pub name: String,
    pub size: u64,
    pub mime: String,
    /// For an image the hub thumbnailed: its size and the thumbnail's media type.
    pub image: Option<(ImageInfo, String)>,
}

/// A write in progress: a connection inside a savepoint, the batch's clock, and the events
/// this job has appended so far.
pub struct Tx<'a> {
    conn: &'a Connection,
    now: i64,
    events: Vec<Committed>,
}

/// Makes the rows every hub needs: its id and `general`. Idempotent.
pub(crate) fn bootstrap(conn: &Connection) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('hub_id', lower(hex(randomblob(16))))",
        [],
    )?;
    conn.execute(
        "INSERT OR IGNORE INTO conversations (id, kind, name, created_at, last_activity_at)
         VALUES (?1, 'general', 'general', ?2, ?2)",
        params![GENERAL_ID, crate::now_millis()],
    )?;
    Ok(())
}

impl<'a> Tx<'a> {
    pub(crate) fn new(conn: &'a Connection, now: i64) -> Self {
        Tx {
            conn,
            now,
            events: Vec::new(),
        }
    }

    pub(crate) fn into_events(self) -> Vec<Committed> {
        self.events
    }

    /// The connection, for reads inside the transaction.
    pub fn conn(&self) -> &Connection {
        self.conn
    }

    /// The batch's timestamp, in milliseconds since the epoch.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Appends a durable event; it is published after the commit.
    fn emit(&mut self, event: &Event, joined: Vec<UserId>, left: Vec<UserId>) -> Result<EventId> {
        self.append(event, joined, left, None)
    }

    /// Appends a durable event only `audience` receives (live and on replay).
    fn emit_to(&mut self, event: &Event, audience: Vec<UserId>) -> Result<EventId> {
        self.append(event, vec![], vec![], Some(audience))
    }

    fn append(
        &mut self,
        event: &Event,
        joined: Vec<UserId>,
        left: Vec<UserId>,
        audience: Option<Vec<UserId>>,
    ) -> Result<EventId> {
        let payload = serde_json::to_string(event)?;
        let conversation_id = event.conversation_id();
        let message_seq = event.message_seq();
        let listed = audience.as_ref().map(serde_json::to_string).transpose()?;
        self.conn
            .prepare_cached(
                "INSERT INTO events (conversation_id, payload, created_at, message_seq, audience)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                conversation_id,
                payload,
                self.now,
                message_seq,
                listed
            ])?;
        let id = EventId(self.conn.last_insert_rowid());
        // A new message comes after everyone's joining: only edits and deletions can concern
        // a message some member may not see.
        let hidden_from = match (conversation_id, message_seq, event) {
            (_, _, Event::MessageNew { .. }) => Vec::new(),
            (Some(conversation), Some(seq), _) => self.hidden_from(conversation, seq)?,
            _ => Vec::new(),
        };
        self.events.push(Committed {
            id,
            conversation_id,
            payload: Arc::from(payload),
            joined,
            left,
            hidden_from,
            audience,
        });
        Ok(id)
    }

    /// The members who may not see message `seq` (the rule is `queries::visible`).
    fn hidden_from(&self, conversation: ConversationId, seq: Seq) -> Result<Vec<UserId>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT mb.user_id FROM members mb
             WHERE mb.conversation_id = ?1 AND mb.active = 1 AND mb.joined_seq > 0
               AND NOT {}",
            queries::visible("mb", "?2")
        ))?;
        let rows = stmt.query_map(params![conversation, seq], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    // ----- checks -----

    fn require_user(&self, user_id: UserId) -> Result<()> {
        queries::user(self.conn, user_id).map(|_| ())
    }

    /// The conversation, if `me` is an active member. Otherwise `NotFound`, so that
    /// outsiders cannot probe which conversations exist.
    fn require_member(&self, me: UserId, conversation_id: ConversationId) -> Result<Conversation> {
        if queries::membership(self.conn, conversation_id, me)?.is_none() {
            return Err(StoreError::NotFound("conversation"));
        }
        self.conn
            .prepare_cached(&format!(
                "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?1"
            ))?
            .query_row([conversation_id], queries::conversation_from_row)
            .map_err(|_| StoreError::NotFound("conversation"))
    }

    fn require_group_admin(&self, me: UserId, conversation_id: ConversationId) -> Result<()> {
        let conversation = self.require_member(me, conversation_id)?;
        if conversation.kind != ConversationKind::Group {
            return Err(StoreError::Forbidden(
                "only groups have admins and managed members",
            ));
        }
        let member = queries::membership(self.conn, conversation_id, me)?
            .ok_or(StoreError::NotFound("conversation"))?;
        if member.role != Role::Admin {
            return Err(StoreError::Forbidden(
                "only an admin of this group can do that",
            ));
        }
        Ok(())
    }
}

pub(crate) fn role_str(role: Role) -> &'static str {
    match role {
        Role::Member => "member",
        Role::Admin => "admin",
    }
}
