//! Write operations, each run by the writer thread inside a savepoint of the current batch.
//!
//! Every operation checks its own authorization against the database it is about to change,
//! so that a check and the write it guards can never race.

use std::sync::Arc;

use chinwag_proto::{
    Attachment, Conversation, ConversationDetail, ConversationId, ConversationKind, Event, EventId,
    FileId, ImageInfo, Member, Message, MessageId, Role, Seq, User, UserId,
};
use rusqlite::{params, Connection, OptionalExtension};

use crate::queries::{self, StoredFile, CONVERSATION_COLUMNS, MESSAGE_COLUMNS};
use crate::{validate, Committed, Result, StoreError};

/// The id of the hub-wide `general` conversation, made by [`bootstrap`].
pub const GENERAL_ID: ConversationId = 1;

/// A write in progress: a connection inside a savepoint, the batch's clock, and the events
/// this job has appended so far.
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
        let payload = serde_json::to_string(event)?;
        let conversation_id = event.conversation_id();
        self.conn
            .prepare_cached(
                "INSERT INTO events (conversation_id, payload, created_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![conversation_id, payload, self.now])?;
        let id = self.conn.last_insert_rowid();
        self.events.push(Committed {
            id,
            conversation_id,
            payload: Arc::from(payload),
            joined,
            left,
        });
        Ok(id)
    }

    // ----- accounts -----

    /// Creates an account and adds it to `general`. The first account is a hub admin.
    pub fn register(
        &mut self,
        username: &str,
        display_name: &str,
        password_hash: &str,
    ) -> Result<User> {
        let username = validate::username(username)?;
        let display_name = validate::display_name(display_name)?;
        let taken: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM users WHERE username = ?1)",
            [&username],
            |r| r.get(0),
        )?;
        if taken {
            return Err(StoreError::UsernameTaken);
        }
        let first: bool =
            self.conn
                .query_row("SELECT NOT EXISTS (SELECT 1 FROM users)", [], |r| r.get(0))?;
        self.conn.execute(
            "INSERT INTO users (username, display_name, password_hash, is_admin, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![username, display_name, password_hash, first, self.now],
        )?;
        let user_id = self.conn.last_insert_rowid();
        let user = queries::user(self.conn, user_id)?;
        self.emit(&Event::UserJoined { user: user.clone() }, vec![], vec![])?;
        self.add_member_rows(GENERAL_ID, &[user_id], None, Role::Member)?;
        Ok(user)
    }

    pub fn create_session(&mut self, user_id: UserId, token_hash: &[u8]) -> Result<()> {
        self.conn.execute(
            "INSERT INTO sessions (token_hash, user_id, created_at, used_at)
             VALUES (?1, ?2, ?3, ?3)",
            params![token_hash, user_id, self.now],
        )?;
        Ok(())
    }

    /// Records that these sessions were used now. Unknown ones are skipped.
    pub fn touch_sessions(&mut self, token_hashes: &[Vec<u8>]) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "UPDATE sessions SET used_at = max(used_at, ?2) WHERE token_hash = ?1",
        )?;
        for hash in token_hashes {
            stmt.execute(params![hash, self.now])?;
        }
        Ok(())
    }

    /// Deletes the sessions last used before `before` (milliseconds); returns how many.
    pub fn expire_sessions(&mut self, before: i64) -> Result<usize> {
        Ok(self
            .conn
            .execute("DELETE FROM sessions WHERE used_at < ?1", [before])?)
    }

    /// Revokes a session. Revoking an unknown token is not an error: the result is the same.
    pub fn delete_session(&mut self, token_hash: &[u8]) -> Result<()> {
        self.conn
            .execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
        Ok(())
    }

    /// Disables or enables an account (a hub admin's decision). Disabling deletes every
    /// session at once, so the account's tokens stop working; the caller closes its live
    /// connections. The hub keeps at least one enabled admin.
    pub fn set_disabled(&mut self, user_id: UserId, disabled: bool) -> Result<User> {
        let user = queries::user(self.conn, user_id)?;
        if user.disabled == disabled {
            return Ok(user);
        }
        if disabled && user.is_admin {
            self.keep_an_admin(user_id, "disable")?;
        }
        let at = disabled.then_some(self.now);
        self.conn.execute(
            "UPDATE users SET disabled_at = ?2 WHERE id = ?1",
            params![user_id, at],
        )?;
        if disabled {
            self.conn
                .execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])?;
        }
        self.user_changed(user_id)
    }

    /// Makes an account a hub admin, or not. The hub keeps at least one enabled admin.
    pub fn set_hub_admin(&mut self, user_id: UserId, admin: bool) -> Result<User> {
        let user = queries::user(self.conn, user_id)?;
        if user.is_admin == admin {
            return Ok(user);
        }
        if !admin {
            self.keep_an_admin(user_id, "demote")?;
        }
        self.conn.execute(
            "UPDATE users SET is_admin = ?2 WHERE id = ?1",
            params![user_id, admin],
        )?;
        self.user_changed(user_id)
    }

    /// Sets a new password hash and signs the account out everywhere.
    pub fn set_password(&mut self, user_id: UserId, password_hash: &str) -> Result<User> {
        let changed = self.conn.execute(
            "UPDATE users SET password_hash = ?2 WHERE id = ?1",
            params![user_id, password_hash],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound("user"));
        }
        self.conn
            .execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])?;
        queries::user(self.conn, user_id)
    }

    fn keep_an_admin(&self, user_id: UserId, what: &str) -> Result<()> {
        let others: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM users
                 WHERE is_admin = 1 AND disabled_at IS NULL AND id != ?1)",
            [user_id],
            |r| r.get(0),
        )?;
        if others {
            Ok(())
        } else {
            Err(StoreError::invalid(
                "user",
                format!("cannot {what} the hub's last admin; make someone else an admin first"),
            ))
        }
    }

    fn user_changed(&mut self, user_id: UserId) -> Result<User> {
        let user = queries::user(self.conn, user_id)?;
        self.emit(&Event::UserUpdated { user: user.clone() }, vec![], vec![])?;
        Ok(user)
    }

    /// Mutes or unmutes a conversation for me: no notifications, a quiet unread badge.
    pub fn set_muted(
        &mut self,
        me: UserId,
        conversation_id: ConversationId,
        muted: bool,
    ) -> Result<()> {
        let changed = self.conn.execute(
            "UPDATE members SET muted = ?3
             WHERE conversation_id = ?1 AND user_id = ?2 AND active = 1",
            params![conversation_id, me, muted],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound("conversation"));
        }
        Ok(())
    }

    /// Blocks another user, or unblocks them: they cannot send me direct messages, and
    /// their typing is hidden from me.
    pub fn set_blocked(&mut self, me: UserId, other: UserId, blocked: bool) -> Result<()> {
        if me == other {
            return Err(StoreError::invalid("user_id", "you cannot block yourself"));
        }
        queries::user(self.conn, other)?;
        if blocked {
            self.conn.execute(
                "INSERT OR IGNORE INTO blocks (user_id, blocked_id, created_at) VALUES (?1, ?2, ?3)",
                params![me, other, self.now],
            )?;
        } else {
            self.conn.execute(
                "DELETE FROM blocks WHERE user_id = ?1 AND blocked_id = ?2",
                params![me, other],
            )?;
        }
        Ok(())
    }

    /// Reports a message I can see to the hub's admins. Reporting it again updates the
    /// reason; returns the report's id.
    pub fn report(&mut self, me: UserId, message_id: MessageId, reason: &str) -> Result<i64> {
        let message = queries::message(self.conn, message_id)?;
        if queries::membership(self.conn, message.conversation_id, me)?.is_none() {
            return Err(StoreError::NotFound("message"));
        }
        let reason = validate::report_reason(reason)?;
        Ok(self
            .conn
            .prepare_cached(
                "INSERT INTO reports (message_id, reporter_id, reason, created_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (message_id, reporter_id) DO UPDATE
                     SET reason = excluded.reason, created_at = excluded.created_at,
                         resolved_by = NULL, resolved_at = NULL
                 RETURNING id",
            )?
            .query_row(params![message_id, me, reason, self.now], |r| r.get(0))?)
    }

    /// Marks a report handled (by a hub admin).
    pub fn resolve_report(&mut self, admin: Option<UserId>, report_id: i64) -> Result<()> {
        let changed = self.conn.execute(
            "UPDATE reports SET resolved_by = ?2, resolved_at = ?3 WHERE id = ?1",
            params![report_id, admin, self.now],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound("report"));
        }
        Ok(())
    }

    pub fn update_profile(
        &mut self,
        user_id: UserId,
        display_name: Option<&str>,
        status_text: Option<&str>,
    ) -> Result<User> {
        let display_name = display_name.map(validate::display_name).transpose()?;
        let status_text = status_text.map(validate::status_text).transpose()?;
        let before = queries::user(self.conn, user_id)?;
        self.conn.execute(
            "UPDATE users SET display_name = coalesce(?2, display_name),
                              status_text = coalesce(?3, status_text)
             WHERE id = ?1",
            params![user_id, display_name, status_text],
        )?;
        let user = queries::user(self.conn, user_id)?;
        if user != before {
            self.emit(&Event::UserUpdated { user: user.clone() }, vec![], vec![])?;
        }
        Ok(user)
    }

    // ----- conversations -----

    /// The direct conversation between `me` and `other`, made on first use. The flag says
    /// whether it was just created.
    pub fn open_direct(&mut self, me: UserId, other: UserId) -> Result<(ConversationDetail, bool)> {
        if me == other {
            return Err(StoreError::invalid(
                "user_id",
                "a direct conversation needs another user",
            ));
        }
        queries::user(self.conn, other)?;
        let key = format!("{}:{}", me.min(other), me.max(other));
        let existing: Option<ConversationId> = self
            .conn
            .query_row(
                "SELECT id FROM conversations WHERE direct_key = ?1",
                [&key],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = existing {
            return Ok((queries::conversation_detail(self.conn, id)?, false));
        }
        self.conn.execute(
            "INSERT INTO conversations (kind, direct_key, created_by, created_at, last_activity_at)
             VALUES ('direct', ?1, ?2, ?3, ?3)",
            params![key, me, self.now],
        )?;
        let id = self.conn.last_insert_rowid();
        self.created(id, &[(me, Role::Member), (other, Role::Member)])?;
        Ok((queries::conversation_detail(self.conn, id)?, true))
    }

    /// A named group; `me` is its admin and the others its members.
    pub fn create_group(
        &mut self,
        me: UserId,
        name: &str,
        member_ids: &[UserId],
    ) -> Result<ConversationDetail> {
        let name = validate::group_name(name)?;
        let mut members = vec![(me, Role::Admin)];
        for &id in member_ids {
            if id != me && !members.iter().any(|(m, _)| *m == id) {
                members.push((id, Role::Member));
            }
        }
        if members.len() > validate::GROUP_MEMBERS_MAX {
            return Err(StoreError::invalid(
                "member_ids",
                format!(
                    "a group has at most {} members",
                    validate::GROUP_MEMBERS_MAX
                ),
            ));
        }
        for (id, _) in &members {
            self.require_user(*id)?;
        }
        self.conn.execute(
            "INSERT INTO conversations (kind, name, created_by, created_at, last_activity_at)
             VALUES ('group', ?1, ?2, ?3, ?3)",
            params![name, me, self.now],
        )?;
        let id = self.conn.last_insert_rowid();
        self.created(id, &members)?;
        queries::conversation_detail(self.conn, id)
    }

    fn created(&mut self, id: ConversationId, members: &[(UserId, Role)]) -> Result<()> {
        let conversation = queries::conversation(self.conn, id)?;
        let member_list: Vec<Member> = members
            .iter()
            .map(|&(user_id, role)| Member {
                user_id,
                role,
                delivered_seq: 0,
                read_seq: 0,
            })
            .collect();
        let joined = members.iter().map(|(u, _)| *u).collect();
        let event_id = self.emit(
            &Event::ConversationCreated {
                conversation,
                members: member_list,
            },
            joined,
            vec![],
        )?;
        for &(user_id, role) in members {
            self.insert_member(id, user_id, role, event_id)?;
        }
        Ok(())
    }

    pub fn rename_group(
        &mut self,
        me: UserId,
        conversation_id: ConversationId,
        name: &str,
    ) -> Result<Conversation> {
        let name = validate::group_name(name)?;
        self.require_group_admin(me, conversation_id)?;
        self.conn.execute(
            "UPDATE conversations SET name = ?2 WHERE id = ?1",
            params![conversation_id, name],
        )?;
        let conversation = queries::conversation(self.conn, conversation_id)?;
        self.emit(
            &Event::ConversationUpdated {
                conversation: conversation.clone(),
            },
            vec![],
            vec![],
        )?;
        Ok(conversation)
    }

    pub fn add_members(
        &mut self,
        me: UserId,
        conversation_id: ConversationId,
        user_ids: &[UserId],
    ) -> Result<ConversationDetail> {
        self.require_group_admin(me, conversation_id)?;
        let mut new = Vec::new();
        for &id in user_ids {
            self.require_user(id)?;
            if queries::membership(self.conn, conversation_id, id)?.is_none() && !new.contains(&id)
            {
                new.push(id);
            }
        }
        let count = queries::member_count(self.conn, conversation_id)? as usize;
        if count + new.len() > validate::GROUP_MEMBERS_MAX {
            return Err(StoreError::invalid(
                "user_ids",
                format!(
                    "a group has at most {} members",
                    validate::GROUP_MEMBERS_MAX
                ),
            ));
        }
        if !new.is_empty() {
            self.add_member_rows(conversation_id, &new, Some(me), Role::Member)?;
        }
        queries::conversation_detail(self.conn, conversation_id)
    }

    /// Removes `user_id` from a group: leaving when it is `me`, otherwise `me` must be one of
    /// the group's admins. A group left without an admin gets its oldest member as admin.
    pub fn remove_member(
        &mut self,
        me: UserId,
        conversation_id: ConversationId,
        user_id: UserId,
    ) -> Result<()> {
        let conversation = self.require_member(me, conversation_id)?;
        if conversation.kind != ConversationKind::Group {
            return Err(StoreError::Forbidden(
                "only groups can be left or have members removed",
            ));
        }
        if me != user_id {
            self.require_group_admin(me, conversation_id)?;
        }
        let Some(member) = queries::membership(self.conn, conversation_id, user_id)? else {
            return Err(StoreError::NotFound("member"));
        };
        let event_id = self.emit(
            &Event::MemberRemoved {
                conversation_id,
                user_id,
                by: me,
            },
            vec![],
            vec![user_id],
        )?;
        self.conn.execute(
            "UPDATE members SET active = 0, left_event = ?3
             WHERE conversation_id = ?1 AND user_id = ?2",
            params![conversation_id, user_id, event_id],
        )?;
        if member.role == Role::Admin {
            let admins: i64 = self.conn.query_row(
                "SELECT count(*) FROM members
                 WHERE conversation_id = ?1 AND active = 1 AND role = 'admin'",
                [conversation_id],
                |r| r.get(0),
            )?;
            if admins == 0 {
                let heir: Option<UserId> = self
                    .conn
                    .query_row(
                        "SELECT user_id FROM members WHERE conversation_id = ?1 AND active = 1
                         ORDER BY joined_at, user_id LIMIT 1",
                        [conversation_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(heir) = heir {
                    self.write_role(conversation_id, heir, Role::Admin)?;
                }
            }
        }
        Ok(())
    }

    pub fn set_role(
        &mut self,
        me: UserId,
        conversation_id: ConversationId,
        user_id: UserId,
        role: Role,
    ) -> Result<Member> {
        self.require_group_admin(me, conversation_id)?;
        if queries::membership(self.conn, conversation_id, user_id)?.is_none() {
            return Err(StoreError::NotFound("member"));
        }
        if me == user_id && role == Role::Member {
            let admins: i64 = self.conn.query_row(
                "SELECT count(*) FROM members
                 WHERE conversation_id = ?1 AND active = 1 AND role = 'admin'",
                [conversation_id],
                |r| r.get(0),
            )?;
            if admins <= 1 {
                return Err(StoreError::invalid(
                    "role",
                    "a group needs an admin: make someone else admin first",
                ));
            }
        }
        self.write_role(conversation_id, user_id, role)
    }

    fn write_role(
        &mut self,
        conversation_id: ConversationId,
        user_id: UserId,
        role: Role,
    ) -> Result<Member> {
        self.conn.execute(
            "UPDATE members SET role = ?3 WHERE conversation_id = ?1 AND user_id = ?2",
            params![conversation_id, user_id, role_str(role)],
        )?;
        let member = queries::membership(self.conn, conversation_id, user_id)?
            .ok_or(StoreError::NotFound("member"))?;
        self.emit(
            &Event::MemberUpdated {
                conversation_id,
                member: member.clone(),
            },
            vec![],
            vec![],
        )?;
        Ok(member)
    }

    /// Adds users (not yet active members) with one `members_added` event. A former member
    /// who is added again keeps their receipt positions.
    fn add_member_rows(
        &mut self,
        conversation_id: ConversationId,
        user_ids: &[UserId],
        by: Option<UserId>,
        role: Role,
    ) -> Result<()> {
        let conversation = queries::conversation(self.conn, conversation_id)?;
        let members: Vec<Member> = user_ids
            .iter()
            .map(|&user_id| Member {
                user_id,
                role,
                delivered_seq: 0,
                read_seq: 0,
            })
            .collect();
        let event_id = self.emit(
            &Event::MembersAdded {
                conversation,
                members,
                by,
            },
            user_ids.to_vec(),
            vec![],
        )?;
        for &user_id in user_ids {
            self.insert_member(conversation_id, user_id, role, event_id)?;
        }
        Ok(())
    }

    fn insert_member(
        &mut self,
        conversation_id: ConversationId,
        user_id: UserId,
        role: Role,
        event_id: EventId,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO members (conversation_id, user_id, role, joined_event, joined_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (conversation_id, user_id) DO UPDATE SET
                    active = 1, role = excluded.role, joined_event = excluded.joined_event,
                    left_event = NULL, joined_at = excluded.joined_at",
            )?
            .execute(params![
                conversation_id,
                user_id,
                role_str(role),
                event_id,
                self.now
            ])?;
        Ok(())
    }

    // ----- messages -----

    /// Brings the search index up to date for at most `max` messages: first edits and
    /// deletions of indexed messages, then new messages in id order. Returns how many it
    /// took; fewer than `max` means it is up to date.
    pub fn index_pending(&mut self, max: usize) -> Result<usize> {
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let up_to: i64 = self
            .conn
            .query_row(
                "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'search_indexed_up_to'",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        // Changed after they were indexed: drop the old entry, add the text as it is now.
        let changed: Vec<MessageId> = self
            .conn
            .prepare_cached(
                "SELECT message_id FROM search_pending WHERE message_id <= ?1
                 ORDER BY message_id LIMIT ?2",
            )?
            .query_map([up_to, limit], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for id in &changed {
            self.conn
                .prepare_cached("DELETE FROM messages_fts WHERE rowid = ?1")?
                .execute([id])?;
            self.conn
                .prepare_cached(
                    "INSERT INTO messages_fts(rowid, body)
                     SELECT id, body FROM messages WHERE id = ?1 AND deleted = 0",
                )?
                .execute([id])?;
            self.conn
                .prepare_cached("DELETE FROM search_pending WHERE message_id = ?1")?
                .execute([id])?;
        }
        // New since the mark: indexed as they are now, in one statement.
        let room = limit - changed.len() as i64;
        let (count, next): (i64, Option<i64>) = self.conn.query_row(
            "SELECT count(*), max(id) FROM
                 (SELECT id FROM messages WHERE id > ?1 ORDER BY id LIMIT ?2)",
            [up_to, room],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if let Some(next) = next {
            self.conn
                .prepare_cached(
                    "INSERT INTO messages_fts(rowid, body)
                     SELECT id, body FROM messages WHERE id > ?1 AND id <= ?2 AND deleted = 0",
                )?
                .execute([up_to, next])?;
            self.conn
                .prepare_cached(
                    "DELETE FROM search_pending WHERE message_id > ?1 AND message_id <= ?2",
                )?
                .execute([up_to, next])?;
            self.set_meta("search_indexed_up_to", &next.to_string())?;
        }
        Ok(changed.len() + count as usize)
    }

    /// Stores a message, or returns the one already stored under `(me, client_id)` with
    /// `true` for "duplicate". An error may leave a partial write behind: the job must fail
    /// with it (return it), so that the writer rolls the job's savepoint back.
    pub fn send_message(
        &mut self,
        me: UserId,
        conversation_id: ConversationId,
        client_id: &str,
        body: &str,
        max_bytes: usize,
    ) -> Result<(Message, bool)> {
        self.send_with_files(me, conversation_id, client_id, body, &[], max_bytes)
    }

    /// [`Tx::send_message`] carrying files: `files` are ids of my uploads to this
    /// conversation not sent yet (at most [`MAX_ATTACHMENTS`]); with files, the body may be
    /// empty. A file already sent, someone else's, or uploaded elsewhere fails the send.
    pub fn send_with_files(
        &mut self,
        me: UserId,
        conversation_id: ConversationId,
        client_id: &str,
        body: &str,
        files: &[FileId],
        max_bytes: usize,
    ) -> Result<(Message, bool)> {
        validate::client_id(client_id)?;
        if files.len() > MAX_ATTACHMENTS {
            return Err(StoreError::invalid(
                "attachments",
                format!(
                    "has {} files; a message carries at most {MAX_ATTACHMENTS}",
                    files.len()
                ),
            ));
        }
        let existing = self
            .conn
            .prepare_cached(&format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE sender_id = ?1 AND client_id = ?2"
            ))?
            .query_row(params![me, client_id], queries::message_from_row)
            .optional()?;
        if let Some(message) = existing {
            if message.conversation_id != conversation_id {
                return Err(StoreError::invalid(
                    "client_id",
                    "was already used for a message in another conversation",
                ));
            }
            return Ok((message, true));
        }
        // The membership check is the update of my own receipts (my message is read and
        // delivered for me): no row, no membership, and the job fails, which rolls its
        // savepoint back, sequence number included. Two statements fewer than a separate
        // check, on the path every message takes.
        let seq: Seq = self
            .conn
            .prepare_cached(
                "UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = ?2
                 WHERE id = ?1 RETURNING last_seq",
            )?
            .query_row(params![conversation_id, self.now], |r| r.get(0))
            .optional()?
            .ok_or(StoreError::NotFound("conversation"))?;
        let member = self
            .conn
            .prepare_cached(
                "UPDATE members SET read_seq = ?3, delivered_seq = ?3
                 WHERE conversation_id = ?1 AND user_id = ?2 AND active = 1",
            )?
            .execute(params![conversation_id, me, seq])?;
        if member == 0 {
            return Err(StoreError::NotFound("conversation"));
        }
        if queries::blocked_in_direct(self.conn, conversation_id, me)? {
            return Err(StoreError::Forbidden(
                "this person does not accept direct messages from you",
            ));
        }
        validate::message_body(body, max_bytes, !files.is_empty())?;
        self.conn
            .prepare_cached(
                "INSERT INTO messages (conversation_id, seq, sender_id, client_id, body, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![conversation_id, seq, me, client_id, body, self.now])?;
        let id = self.conn.last_insert_rowid();
        let attachments = self.attach(me, conversation_id, id, files)?;
        let message = Message {
            id,
            conversation_id,
            seq,
            sender_id: me,
            client_id: client_id.to_owned(),
            body: body.to_owned(),
            created_at: self.now,
            edited_at: None,
            deleted: false,
            attachments,
        };
        self.emit(
            &Event::MessageNew {
                message: message.clone(),
            },
            vec![],
            vec![],
        )?;
        Ok((message, false))
    }

    /// Ties my unsent uploads `files` to message `id`, and keeps their JSON on the message.
    fn attach(
        &mut self,
        me: UserId,
        conversation_id: ConversationId,
        id: MessageId,
        files: &[FileId],
    ) -> Result<Vec<Attachment>> {
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let mut attachments = Vec::with_capacity(files.len());
        for file in files {
            let stored = self
                .conn
                .prepare_cached(&format!(
                    "UPDATE files SET message_id = ?1
                     WHERE id = ?2 AND uploader_id = ?3 AND conversation_id = ?4
                       AND message_id IS NULL
                     RETURNING {}",
                    queries::FILE_COLUMNS
                ))?
                .query_row(
                    params![id, file, me, conversation_id],
                    queries::file_from_row,
                )
                .optional()?
                .ok_or_else(|| {
                    StoreError::invalid(
                        "attachments",
                        format!(
                            "file {file} is not an upload of yours to this conversation \
                             waiting to be sent"
                        ),
                    )
                })?;
            attachments.push(stored.attachment);
        }
        let json = serde_json::to_string(&attachments)?;
        self.conn
            .prepare_cached("UPDATE messages SET attachments = ?2 WHERE id = ?1")?
            .execute(params![id, json])?;
        Ok(attachments)
    }

    /// A small real write for health checks: proves the store can commit.
    pub fn touch_health(&mut self) -> Result<()> {
        self.set_meta("health_checked_at", &self.now.to_string())
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )?
            .execute([key, value])?;
        Ok(())
    }

    /// One bounded pass of retention, at most `batch` rows of each kind: deletes the messages
    /// created before `messages_before` (milliseconds; `None` keeps every message) with their
    /// file records and the events that carry their text, and the uploads created before
    /// `unsent_before` that were never sent. Returns the counts and the content hashes that
    /// no file record names any more, for the caller to remove from disk.
    pub fn sweep(
        &mut self,
        messages_before: Option<i64>,
        unsent_before: i64,
        batch: usize,
    ) -> Result<Swept> {
        let batch = i64::try_from(batch).unwrap_or(i64::MAX);
        let mut swept = Swept::default();
        let mut hashes = Vec::new();
        let mut take_hashes = |rows: rusqlite::Rows<'_>| -> Result<usize> {
            let found: Vec<String> = rows
                .mapped(|r| r.get::<_, String>(0))
                .collect::<rusqlite::Result<_>>()?;
            let n = found.len();
            hashes.extend(found);
            Ok(n)
        };
        if let Some(before) = messages_before {
            let ids: Vec<i64> = self
                .conn
                .prepare_cached(
                    "SELECT id FROM messages WHERE created_at < ?1 ORDER BY id LIMIT ?2",
                )?
                .query_map(params![before, batch], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for id in &ids {
                let mut files = self
                    .conn
                    .prepare_cached("DELETE FROM files WHERE message_id = ?1 RETURNING sha256")?;
                swept.files += take_hashes(files.query([id])?)?;
                self.conn
                    .prepare_cached("DELETE FROM messages WHERE id = ?1")?
                    .execute([id])?;
            }
            swept.messages = ids.len();
            swept.events = self
                .conn
                .prepare_cached(
                    "DELETE FROM events WHERE id IN (
                        SELECT id FROM events
                        WHERE created_at < ?1
                          AND json_extract(payload, '$.kind')
                              IN ('message_new', 'message_edited', 'message_deleted')
                        ORDER BY id LIMIT ?2)",
                )?
                .execute(params![before, batch])?;
        }
        let mut unsent = self.conn.prepare_cached(
            "DELETE FROM files WHERE id IN (
                SELECT id FROM files WHERE message_id IS NULL AND created_at < ?1
                ORDER BY id LIMIT ?2)
             RETURNING sha256",
        )?;
        swept.files += take_hashes(unsent.query(params![unsent_before, batch])?)?;
        drop(unsent);
        hashes.sort();
        hashes.dedup();
        for hash in hashes {
            if !queries::content_referenced(self.conn, &hash)? {
                swept.unreferenced.push(hash);
            }
        }
        Ok(swept)
    }

    /// Records a file uploaded to a conversation I am in; a send attaches it later.
    pub fn add_file(
        &mut self,
        me: UserId,
        conversation_id: ConversationId,
        file: &NewFile,
    ) -> Result<StoredFile> {
        if queries::membership(self.conn, conversation_id, me)?.is_none() {
            return Err(StoreError::NotFound("conversation"));
        }
        let (width, height, thumbnail) = match &file.image {
            Some((info, mime)) => (Some(info.width), Some(info.height), Some(mime.as_str())),
            None => (None, None, None),
        };
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO files (conversation_id, uploader_id, sha256, name, size, mime,
                                    width, height, thumbnail, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 RETURNING {}",
                queries::FILE_COLUMNS
            ))?
            .query_row(
                params![
                    conversation_id,
                    me,
                    file.sha256,
                    file.name,
                    i64::try_from(file.size).unwrap_or(i64::MAX),
                    file.mime,
                    width,
                    height,
                    thumbnail,
                    self.now
                ],
                queries::file_from_row,
            )
            .map_err(StoreError::from)
    }

    pub fn edit_message(
        &mut self,
        me: UserId,
        message_id: MessageId,
        body: &str,
        max_bytes: usize,
    ) -> Result<Message> {
        let message = self.own_message(me, message_id)?;
        if message.deleted {
            return Err(StoreError::invalid(
                "message_id",
                "the message was deleted and cannot be edited",
            ));
        }
        validate::message_body(body, max_bytes, !message.attachments.is_empty())?;
        self.conn.execute(
            "UPDATE messages SET body = ?2, edited_at = ?3 WHERE id = ?1",
            params![message_id, body, self.now],
        )?;
        let message = queries::message(self.conn, message_id)?;
        self.emit(
            &Event::MessageEdited {
                message: message.clone(),
            },
            vec![],
            vec![],
        )?;
        Ok(message)
    }

    /// Replaces my message with a tombstone. Deleting twice returns the same tombstone. A hub
    /// admin may delete anyone's message (moderation), in any conversation.
    pub fn delete_message(&mut self, me: UserId, message_id: MessageId) -> Result<Message> {
        let hub_admin: bool = self
            .conn
            .prepare_cached("SELECT is_admin FROM users WHERE id = ?1")?
            .query_row([me], |r| r.get(0))
            .optional()?
            .unwrap_or(false);
        let message = if hub_admin {
            queries::message(self.conn, message_id)?
        } else {
            self.own_message(me, message_id)?
        };
        if message.deleted {
            return Ok(message);
        }
        self.conn.execute(
            "UPDATE messages SET body = '', deleted = 1, edited_at = ?2, attachments = NULL
             WHERE id = ?1",
            params![message_id, self.now],
        )?;
        let message = queries::message(self.conn, message_id)?;
        self.emit(
            &Event::MessageDeleted {
                message: message.clone(),
            },
            vec![],
            vec![],
        )?;
        Ok(message)
    }

    fn own_message(&self, me: UserId, message_id: MessageId) -> Result<Message> {
        let message = queries::message(self.conn, message_id)?;
        // A non-member must not learn that the message exists.
        if queries::membership(self.conn, message.conversation_id, me)?.is_none() {
            return Err(StoreError::NotFound("message"));
        }
        if message.sender_id != me {
            return Err(StoreError::Forbidden(
                "only the author can change a message",
            ));
        }
        Ok(message)
    }

    /// Moves my delivered and/or read position forward (never back). Read implies delivered.
    pub fn receipt(
        &mut self,
        me: UserId,
        conversation_id: ConversationId,
        delivered: Option<Seq>,
        read: Option<Seq>,
    ) -> Result<Member> {
        let conversation = self.require_member(me, conversation_id)?;
        for (field, seq) in [("delivered_seq", delivered), ("read_seq", read)] {
            if let Some(seq) = seq {
                if seq < 0 || seq > conversation.last_seq {
                    return Err(StoreError::invalid(
                        field,
                        format!(
                            "must be between 0 and the latest message ({})",
                            conversation.last_seq
                        ),
                    ));
                }
            }
        }
        let before = queries::membership(self.conn, conversation_id, me)?
            .ok_or(StoreError::NotFound("conversation"))?;
        let read_seq = before.read_seq.max(read.unwrap_or(0));
        let delivered_seq = before
            .delivered_seq
            .max(delivered.unwrap_or(0))
            .max(read_seq);
        if read_seq == before.read_seq && delivered_seq == before.delivered_seq {
            return Ok(before);
        }
        self.conn
            .prepare_cached(
                "UPDATE members SET delivered_seq = ?3, read_seq = ?4
                 WHERE conversation_id = ?1 AND user_id = ?2",
            )?
            .execute(params![conversation_id, me, delivered_seq, read_seq])?;
        self.emit(
            &Event::Receipt {
                conversation_id,
                user_id: me,
                delivered_seq,
                read_seq,
            },
            vec![],
            vec![],
        )?;
        Ok(Member {
            delivered_seq,
            read_seq,
            ..before
        })
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
