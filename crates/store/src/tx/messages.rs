//! Messages: sending (with files), editing, deleting, and receipts.

use chinwag_proto::rest::SendRequest;
use chinwag_proto::validate::{MAX_REACTIONS_PER_MESSAGE, MAX_REACTIONS_PER_PERSON};
use chinwag_proto::{
    Attachment, ConversationId, ConversationKind, Event, FileId, Member, Mentions, Message,
    MessageId, Reaction, Role, Seq, UserId,
};
use rusqlite::{params, OptionalExtension};

use super::*;
use crate::queries;
use crate::{validate, Result, StoreError};

impl Tx<'_> {
    /// Stores a plain message: [`Tx::send`] with only a body.
    pub fn send_message(
        &mut self,
        me: UserId,
        conversation_id: ConversationId,
        client_id: &str,
        body: &str,
        max_bytes: usize,
    ) -> Result<(Message, bool)> {
        let message = SendRequest {
            client_id: client_id.to_owned(),
            body: body.to_owned(),
            attachments: Vec::new(),
            reply_to: None,
        };
        self.send(me, conversation_id, &message, max_bytes)
    }

    /// Stores a message, or returns the one already stored under `(me, client_id)` with
    /// `true` for "duplicate". It may carry files (ids of my uploads to this conversation not
    /// sent yet, at most [`MAX_ATTACHMENTS`]; with files the body may be empty: a file
    /// already sent, someone else's, uploaded elsewhere or named twice fails the send) and
    /// answer another message (`reply_to`: one of this conversation that I can see, not
    /// deleted). Every error it returns is found before its first write, so it may be
    /// submitted with [`crate::Store::submit_checked`].
    pub fn send(
        &mut self,
        me: UserId,
        conversation_id: ConversationId,
        message: &SendRequest,
        max_bytes: usize,
    ) -> Result<(Message, bool)> {
        let SendRequest {
            client_id,
            body,
            attachments: files,
            reply_to,
        } = message;
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
            .prepare_cached(concat!(
                "SELECT ",
                queries::message_columns!(),
                " FROM messages WHERE sender_id = ?1 AND client_id = ?2"
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
        let body_ok = validate::message_body(body, max_bytes, !files.is_empty());
        let may_mention = body.contains('@');
        if body_ok.is_err() || !files.is_empty() || reply_to.is_some() || may_mention {
            // Someone who is not a member hears "not found" before anything about what they
            // sent (the common send learns it from its first write, below).
            if queries::membership(self.conn, conversation_id, me)?.is_none() {
                return Err(StoreError::NotFound("conversation"));
            }
            body_ok?;
        }
        if let Some(original) = *reply_to {
            self.answerable(me, conversation_id, original)?;
        }
        let mentions = if may_mention {
            self.mentions_in(me, conversation_id, body)?
        } else {
            Mentions::default()
        };
        let attachments = self.sendable_files(me, conversation_id, files)?;
        // The first write claims the next sequence number by moving my own receipts to it
        // (my message is read and delivered for me), and is also the check that I may write
        // here: an active member, not blocked by the other person of a direct chat. No row,
        // nothing written: only then is it worked out why.
        let seq: Seq = match self
            .conn
            .prepare_cached(concat!(
                "UPDATE members SET read_seq = conv.last_seq + 1, delivered_seq = conv.last_seq + 1
                 FROM conversations conv
                 WHERE conv.id = ?1 AND members.conversation_id = ?1 AND members.user_id = ?2
                   AND members.active = 1 AND NOT ",
                queries::blocked_in_direct_sql!(),
                " RETURNING read_seq"
            ))?
            .query_row(params![conversation_id, me], |r| r.get(0))
            .optional()?
        {
            Some(seq) => seq,
            None if queries::membership(self.conn, conversation_id, me)?.is_some() => {
                return Err(StoreError::Forbidden(
                    "this person does not accept direct messages from you",
                ))
            }
            None => return Err(StoreError::NotFound("conversation")),
        };
        self.conn
            .prepare_cached(
                "UPDATE conversations SET last_seq = ?2, last_activity_at = ?3 WHERE id = ?1",
            )?
            .execute(params![conversation_id, seq, self.now])?;
        self.conn
            .prepare_cached(
                "INSERT INTO messages (conversation_id, seq, sender_id, client_id, body, created_at,
                                       reply_to, mentions)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                conversation_id,
                seq,
                me,
                client_id,
                body,
                self.now,
                reply_to,
                json_or_null(&mentions, mentions.is_empty())?
            ])?;
        let id = MessageId(self.conn.last_insert_rowid());
        self.attach(id, files, &attachments)?;
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
            reply_to: *reply_to,
            reactions: Vec::new(),
            mentions,
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

    /// Who `body`, written by me in `conversation_id`, mentions: the members it names (not
    /// disabled accounts, not people outside the conversation: those stay text), and
    /// `@here` or `@everyone` in a group or `general` (in a direct chat they are text).
    /// Refuses `@here` and `@everyone` where I may not use them: in a group that keeps them
    /// to its admins, and in `general` unless I am a hub admin. Reads only.
    fn mentions_in(
        &self,
        me: UserId,
        conversation_id: ConversationId,
        body: &str,
    ) -> Result<Mentions> {
        let (names, here, everyone) = chinwag_proto::text::mentioned(body);
        if names.is_empty() && !here && !everyone {
            return Ok(Mentions::default());
        }
        let conversation = queries::conversation(self.conn, conversation_id)?;
        let (here, everyone) = match conversation.kind {
            ConversationKind::Direct => (false, false),
            _ => (here, everyone),
        };
        if here || everyone {
            let allowed = match conversation.kind {
                ConversationKind::General => self.is_hub_admin(me)?,
                _ if !conversation.everyone_admins_only => true,
                _ => queries::membership(self.conn, conversation_id, me)?
                    .is_some_and(|m| m.role == Role::Admin),
            };
            if !allowed {
                return Err(StoreError::Forbidden(match conversation.kind {
                    ConversationKind::General => {
                        "only hub admins may mention @here or @everyone in general"
                    }
                    _ => "only this group's admins may mention @here or @everyone",
                }));
            }
        }
        let mut user_ids = Vec::new();
        for name in &names {
            let found: Option<UserId> = self
                .conn
                .prepare_cached(
                    "SELECT u.id FROM users u
                     JOIN members m ON m.user_id = u.id AND m.conversation_id = ?1 AND m.active = 1
                     WHERE u.username = ?2 AND u.disabled_at IS NULL",
                )?
                .query_row(params![conversation_id, name], |r| r.get(0))
                .optional()?;
            if let Some(id) = found.filter(|id| !user_ids.contains(id)) {
                user_ids.push(id);
            }
        }
        Ok(Mentions {
            user_ids,
            here,
            everyone,
        })
    }

    fn is_hub_admin(&self, me: UserId) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT is_admin FROM users WHERE id = ?1")?
            .query_row([me], |r| r.get(0))
            .optional()?
            .unwrap_or(false))
    }

    /// Checks that `original` is a message I may answer in `conversation_id`: there, within
    /// the history I see, and not deleted. One refusal for "no such message", "elsewhere"
    /// and "not yours to see", so that an id reveals nothing. Reads only.
    fn answerable(
        &self,
        me: UserId,
        conversation_id: ConversationId,
        original: MessageId,
    ) -> Result<()> {
        let unknown = || {
            StoreError::invalid(
                "reply_to",
                format!("names no message of this conversation that you can see ({original})"),
            )
        };
        let message = match queries::visible_message(self.conn, me, original) {
            Ok(message) if message.conversation_id == conversation_id => message,
            Ok(_) | Err(StoreError::NotFound(_)) => return Err(unknown()),
            Err(other) => return Err(other),
        };
        if message.deleted {
            return Err(StoreError::invalid(
                "reply_to",
                "names a deleted message, which cannot be answered",
            ));
        }
        Ok(())
    }

    /// The attachments `files` make: each must be an upload of mine to this conversation,
    /// not sent yet, and named once. Reads only.
    fn sendable_files(
        &self,
        me: UserId,
        conversation_id: ConversationId,
        files: &[FileId],
    ) -> Result<Vec<Attachment>> {
        let mut attachments = Vec::with_capacity(files.len());
        for (i, file) in files.iter().enumerate() {
            if files[..i].contains(file) {
                return Err(StoreError::invalid(
                    "attachments",
                    format!("names file {file} twice"),
                ));
            }
            let stored = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {} FROM files
                     WHERE id = ?1 AND uploader_id = ?2 AND conversation_id = ?3
                       AND message_id IS NULL",
                    queries::FILE_COLUMNS
                ))?
                .query_row(params![file, me, conversation_id], queries::file_from_row)
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
        Ok(attachments)
    }

    /// Ties the checked uploads `files` to message `id`, and keeps their JSON on the message.
    fn attach(
        &mut self,
        id: MessageId,
        files: &[FileId],
        attachments: &[Attachment],
    ) -> Result<()> {
        if files.is_empty() {
            return Ok(());
        }
        for file in files {
            self.conn
                .prepare_cached("UPDATE files SET message_id = ?1 WHERE id = ?2")?
                .execute(params![id, file])?;
        }
        let json = serde_json::to_string(attachments)?;
        self.conn
            .prepare_cached("UPDATE messages SET attachments = ?2 WHERE id = ?1")?
            .execute(params![id, json])?;
        Ok(())
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
        // A block stops what I write towards the blocker, new text in an old message too.
        if queries::blocked_in_direct(self.conn, message.conversation_id, me)? {
            return Err(StoreError::Forbidden(
                "this person does not accept direct messages from you",
            ));
        }
        validate::message_body(body, max_bytes, !message.attachments.is_empty())?;
        let mentions = self.mentions_in(me, message.conversation_id, body)?;
        self.conn.execute(
            "UPDATE messages SET body = ?2, edited_at = ?3, mentions = ?4 WHERE id = ?1",
            params![
                message_id,
                body,
                self.now,
                json_or_null(&mentions, mentions.is_empty())?
            ],
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
        let message = if self.is_hub_admin(me)? {
            queries::message(self.conn, message_id)?
        } else {
            self.own_message(me, message_id)?
        };
        if message.deleted {
            return Ok(message);
        }
        self.conn.execute(
            "UPDATE messages SET body = '', deleted = 1, edited_at = ?2, attachments = NULL,
                    reactions = NULL
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

    /// Puts my reaction `emoji` on a message I can see (`on`), or takes it off. Nothing
    /// changes, and no event is made, when it already is as asked. A deleted message takes
    /// no reactions; neither does a direct chat whose other member blocked me. At most
    /// [`MAX_REACTIONS_PER_MESSAGE`] different emoji on a message, and
    /// [`MAX_REACTIONS_PER_PERSON`] of them mine. Returns the message's reactions.
    pub fn react(
        &mut self,
        me: UserId,
        message_id: MessageId,
        emoji: &str,
        on: bool,
    ) -> Result<Vec<Reaction>> {
        let emoji = validate::reaction(emoji)?;
        let message = queries::visible_message(self.conn, me, message_id)?;
        if message.deleted {
            return Err(StoreError::invalid(
                "message_id",
                "the message was deleted and takes no reactions",
            ));
        }
        if queries::blocked_in_direct(self.conn, message.conversation_id, me)? {
            return Err(StoreError::Forbidden(
                "this person does not accept direct messages from you",
            ));
        }
        let mut reactions = message.reactions;
        let at = reactions.iter().position(|r| r.emoji == emoji);
        let mine = |r: &Reaction| r.user_ids.contains(&me);
        match (at, on) {
            (Some(i), true) if mine(&reactions[i]) => return Ok(reactions),
            (None, false) => return Ok(reactions),
            (Some(i), false) if !mine(&reactions[i]) => return Ok(reactions),
            (Some(i), false) => {
                reactions[i].user_ids.retain(|&u| u != me);
                if reactions[i].user_ids.is_empty() {
                    reactions.remove(i);
                }
            }
            (at, true) => {
                if reactions.iter().filter(|r| mine(r)).count() >= MAX_REACTIONS_PER_PERSON {
                    return Err(StoreError::invalid(
                        "emoji",
                        format!(
                            "would be your {}th different reaction to this message; \
                             the limit is {MAX_REACTIONS_PER_PERSON}",
                            MAX_REACTIONS_PER_PERSON + 1
                        ),
                    ));
                }
                match at {
                    Some(i) => reactions[i].user_ids.push(me),
                    None if reactions.len() >= MAX_REACTIONS_PER_MESSAGE => {
                        return Err(StoreError::invalid(
                            "emoji",
                            format!(
                                "would be a new reaction, and this message has the most \
                                 different ones a message takes ({MAX_REACTIONS_PER_MESSAGE})"
                            ),
                        ))
                    }
                    None => reactions.push(Reaction {
                        emoji: emoji.to_owned(),
                        user_ids: vec![me],
                    }),
                }
            }
        }
        self.conn
            .prepare_cached("UPDATE messages SET reactions = ?2 WHERE id = ?1")?
            .execute(params![
                message_id,
                json_or_null(&reactions, reactions.is_empty())?
            ])?;
        self.emit(
            &Event::Reaction {
                conversation_id: message.conversation_id,
                message_id,
                message_seq: message.seq,
                user_id: me,
                emoji: emoji.to_owned(),
                on,
                reactions: reactions.clone(),
            },
            vec![],
            vec![],
        )?;
        Ok(reactions)
    }

    pub(super) fn own_message(&self, me: UserId, message_id: MessageId) -> Result<Message> {
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
        // Reading at or past where I marked the conversation unread takes the mark away.
        if let Some(read) = read {
            let cleared = self
                .conn
                .prepare_cached(
                    "UPDATE members SET unread_from = NULL
                     WHERE conversation_id = ?1 AND user_id = ?2 AND unread_from <= ?3",
                )?
                .execute(params![conversation_id, me, read])?;
            if cleared > 0 {
                self.unread_changed(me, conversation_id)?;
            }
        }
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
        let event = Event::Receipt {
            conversation_id,
            user_id: me,
            delivered_seq,
            read_seq,
        };
        if queries::has_more_members_than(
            self.conn,
            conversation_id,
            crate::RECEIPTS_TO_EVERYONE_UP_TO,
        )? {
            // Only the messages moved over change what anyone shows: their senders' ticks
            // and "Seen by". My devices follow my unread count.
            let from = before.read_seq.min(before.delivered_seq);
            let mut audience: Vec<UserId> = self
                .conn
                .prepare_cached(
                    "SELECT DISTINCT sender_id FROM messages
                     WHERE conversation_id = ?1 AND seq > ?2 AND seq <= ?3 AND sender_id <> ?4",
                )?
                .query_map(params![conversation_id, from, delivered_seq, me], |r| {
                    r.get(0)
                })?
                .collect::<rusqlite::Result<_>>()?;
            audience.push(me);
            self.emit_to(&event, audience)?;
        } else {
            self.emit(&event, vec![], vec![])?;
        }
        Ok(Member {
            delivered_seq,
            read_seq,
            ..before
        })
    }
}

impl Tx<'_> {
    /// Marks a conversation unread for me from message `seq` on (one I can see): my unread
    /// count and "New messages" start there on all my devices until I read it again. What
    /// others see of my receipts does not move back.
    pub fn mark_unread(
        &mut self,
        me: UserId,
        conversation_id: ConversationId,
        seq: Seq,
    ) -> Result<()> {
        let conversation = self.require_member(me, conversation_id)?;
        let hidden = queries::hidden_up_to(self.conn, conversation_id, me)?.unwrap_or(0);
        if seq <= hidden || seq > conversation.last_seq {
            return Err(StoreError::invalid(
                "seq",
                format!(
                    "must be a message of this conversation that you can see ({} to {})",
                    hidden + 1,
                    conversation.last_seq
                ),
            ));
        }
        self.conn
            .prepare_cached(
                "UPDATE members SET unread_from = ?3 WHERE conversation_id = ?1 AND user_id = ?2",
            )?
            .execute(params![conversation_id, me, seq])?;
        self.unread_changed(me, conversation_id)
    }

    /// Tells my devices where I am now as I see it, and my counts from there.
    fn unread_changed(&mut self, me: UserId, conversation_id: ConversationId) -> Result<()> {
        let (read_seq, unread, mentions) = queries::my_unread(self.conn, conversation_id, me)?;
        self.emit_to(
            &Event::UnreadChanged {
                conversation_id,
                user_id: me,
                read_seq,
                unread,
                mentions,
            },
            vec![me],
        )?;
        Ok(())
    }
}

/// A message's JSON column as stored (its reactions, its mentions): NULL when `empty`.
fn json_or_null<T: serde::Serialize>(value: &T, empty: bool) -> Result<Option<String>> {
    Ok((!empty).then(|| serde_json::to_string(value)).transpose()?)
}
