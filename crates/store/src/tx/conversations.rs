//! Conversations and members: direct chats, groups, roles, joining and leaving.

use chinwag_proto::rest::UpdateGroupRequest;
use chinwag_proto::{
    Conversation, ConversationDetail, ConversationId, ConversationKind, Event, EventId, Member,
    Role, UserId,
};
use rusqlite::{params, OptionalExtension};

use super::*;
use crate::queries::{self};
use crate::{validate, Result, StoreError};

impl Tx<'_> {
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
        let id = ConversationId(self.conn.last_insert_rowid());
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
        let id = ConversationId(self.conn.last_insert_rowid());
        self.created(id, &members)?;
        queries::conversation_detail(self.conn, id)
    }

    pub(super) fn created(&mut self, id: ConversationId, members: &[(UserId, Role)]) -> Result<()> {
        let conversation = queries::conversation(self.conn, id)?;
        let member_list: Vec<Member> = members
            .iter()
            .map(|&(user_id, role)| Member {
                user_id,
                role,
                delivered_seq: 0,
                read_seq: 0,
                history_from: 0,
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

    /// A group admin renames the group, says whether new members see its earlier history
    /// (which changes nothing for those already in it: `joined_seq` is theirs), or whether
    /// `@here` and `@everyone` are for admins only.
    pub fn update_group(
        &mut self,
        me: UserId,
        conversation_id: ConversationId,
        change: &UpdateGroupRequest,
    ) -> Result<Conversation> {
        let UpdateGroupRequest {
            name,
            history_visible,
            everyone_admins_only,
        } = change;
        if name.is_none() && history_visible.is_none() && everyone_admins_only.is_none() {
            return Err(StoreError::invalid(
                "name",
                "history_visible or everyone_admins_only must be given: there is nothing to change",
            ));
        }
        let name = name.as_deref().map(validate::group_name).transpose()?;
        self.require_group_admin(me, conversation_id)?;
        let before = queries::conversation(self.conn, conversation_id)?;
        self.conn.execute(
            "UPDATE conversations SET name = coalesce(?2, name),
                                      history_visible = coalesce(?3, history_visible),
                                      everyone_admins_only = coalesce(?4, everyone_admins_only)
             WHERE id = ?1",
            params![conversation_id, name, history_visible, everyone_admins_only],
        )?;
        let conversation = queries::conversation(self.conn, conversation_id)?;
        if conversation == before {
            return Ok(conversation);
        }
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

    pub(super) fn write_role(
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
    pub(super) fn add_member_rows(
        &mut self,
        conversation_id: ConversationId,
        user_ids: &[UserId],
        by: Option<UserId>,
        role: Role,
    ) -> Result<()> {
        let conversation = queries::conversation(self.conn, conversation_id)?;
        let history_from = if conversation.history_visible {
            0
        } else {
            conversation.last_seq
        };
        let members: Vec<Member> = user_ids
            .iter()
            .map(|&user_id| Member {
                user_id,
                role,
                delivered_seq: 0,
                read_seq: 0,
                history_from,
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

    pub(super) fn insert_member(
        &mut self,
        conversation_id: ConversationId,
        user_id: UserId,
        role: Role,
        event_id: EventId,
    ) -> Result<()> {
        // `joined_seq`: 0 where the group shows new members its history, else its newest
        // message now (they see, and have unread, only what comes after). Receipts stay
        // where they were: a hidden message is not shown as seen by them.
        self.conn
            .prepare_cached(
                "INSERT INTO members (conversation_id, user_id, role, joined_event, joined_at,
                                      joined_seq)
                 SELECT ?1, ?2, ?3, ?4, ?5,
                        CASE WHEN c.history_visible = 1 THEN 0 ELSE c.last_seq END
                 FROM conversations c WHERE c.id = ?1
                 ON CONFLICT (conversation_id, user_id) DO UPDATE SET
                    active = 1, role = excluded.role, joined_event = excluded.joined_event,
                    left_event = NULL, joined_at = excluded.joined_at,
                    joined_seq = excluded.joined_seq",
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
}
