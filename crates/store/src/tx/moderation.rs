//! Mute, block and report, and resolving reports.

use chinwag_proto::{ConversationId, MessageId, UserId};
use rusqlite::params;

use super::*;
use crate::queries::{self};
use crate::{validate, Result, StoreError};

impl Tx<'_> {
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
}
