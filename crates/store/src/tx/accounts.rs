//! Accounts and sessions: registration, sign-in sessions, profiles, and what hub admins change.

use chinwag_proto::{Event, Role, User, UserId};
use rusqlite::params;

use super::*;
use crate::queries::{self};
use crate::{validate, Result, StoreError};

impl Tx<'_> {
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
        self.refuse_look_alikes(None, Some(&username), Some(&display_name))?;
        let first: bool =
            self.conn
                .query_row("SELECT NOT EXISTS (SELECT 1 FROM users)", [], |r| r.get(0))?;
        self.conn.execute(
            "INSERT INTO users (username, display_name, password_hash, is_admin, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![username, display_name, password_hash, first, self.now],
        )?;
        let user_id = UserId(self.conn.last_insert_rowid());
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

    pub(super) fn keep_an_admin(&self, user_id: UserId, what: &str) -> Result<()> {
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

    pub(super) fn user_changed(&mut self, user_id: UserId) -> Result<User> {
        let user = queries::user(self.conn, user_id)?;
        self.emit(&Event::UserUpdated { user: user.clone() }, vec![], vec![])?;
        Ok(user)
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
        if display_name
            .as_ref()
            .is_some_and(|name| *name != before.display_name)
        {
            self.refuse_look_alikes(Some(user_id), None, display_name.as_deref())?;
        }
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

    /// Refuses a username or display name that looks like someone else's, by Unicode's
    /// confusable skeleton (`validate::look_alike_keys`): nobody passes for a colleague with
    /// a Cyrillic letter, a capital I or a zero. Usernames are compared with usernames,
    /// display names with display names; `me` is left out (keeping one's own name is fine).
    fn refuse_look_alikes(
        &self,
        me: Option<UserId>,
        username: Option<&str>,
        display_name: Option<&str>,
    ) -> Result<()> {
        use validate::{look_alike, look_alike_keys, Invalid};
        let username = username.map(look_alike_keys);
        let display_name = display_name.map(look_alike_keys);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, username, display_name FROM users")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let id: UserId = row.get(0)?;
            if Some(id) == me {
                continue;
            }
            let (theirs, their_name): (String, String) = (row.get(1)?, row.get(2)?);
            if username
                .as_ref()
                .is_some_and(|keys| look_alike(keys, &look_alike_keys(&theirs)))
            {
                return Err(Invalid::new(
                    "username",
                    format!("looks the same as the existing username {theirs}; choose another"),
                )
                .into());
            }
            if display_name
                .as_ref()
                .is_some_and(|keys| look_alike(keys, &look_alike_keys(&their_name)))
            {
                return Err(Invalid::new(
                    "display_name",
                    format!(
                        "looks the same as {their_name} (@{theirs}); add something that tells \
                         you apart, such as an initial or a team"
                    ),
                )
                .into());
            }
        }
        Ok(())
    }
}

impl Tx<'_> {
    /// Changes my notification settings (every field given, or none: a bad one changes
    /// nothing) and returns them.
    pub fn set_notify(
        &mut self,
        me: UserId,
        change: chinwag_proto::notify::NotifyChange,
    ) -> Result<chinwag_proto::notify::NotifySettings> {
        let mut settings = queries::notify_settings(self.conn, me)?;
        settings
            .apply(change, self.now)
            .map_err(|err| StoreError::invalid("notifications", err.message))?;
        self.conn
            .prepare_cached("UPDATE users SET notify = ?2 WHERE id = ?1")?
            .execute(params![me, serde_json::to_string(&settings)?])?;
        Ok(settings)
    }
}
