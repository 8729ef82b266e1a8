//! Offline and online operations an admin runs on a data directory from the command line:
//! a consistent copy of a live store ([`backup`]), checking and installing a copy
//! ([`restore`]), and one user's data as JSON ([`export_user`]).
//!
//! All of them open their own connections; a hub may be running on the same database
//! (WAL lets a reader copy it while the hub writes), except for [`restore`], which replaces
//! the file and so needs the hub stopped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;
use serde::Serialize;

use crate::{now_millis, queries, Result, StoreError};

/// What a backup or a restore reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub users: i64,
    pub conversations: i64,
    pub messages: i64,
    pub schema_version: i64,
}

fn summary(conn: &Connection) -> Result<Summary> {
    let count = |table: &str| -> Result<i64> {
        Ok(conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?)
    };
    Ok(Summary {
        users: count("users")?,
        conversations: count("conversations")?,
        messages: count("messages")?,
        schema_version: conn.query_row("PRAGMA user_version", [], |r| r.get(0))?,
    })
}

fn open_read_only(path: &Path) -> Result<Connection> {
    if !path.is_file() {
        return Err(StoreError::invalid(
            "database",
            format!("{} does not exist", path.display()),
        ));
    }
    crate::open_connection(path, true)
}

/// Checks that `path` is a sound Chinwag database: SQLite's integrity check passes and it
/// has Chinwag's schema at a version this build knows.
pub fn verify(path: &Path) -> Result<Summary> {
    let conn = open_read_only(path)?;
    let not_chinwag = |why: String| StoreError::invalid("database", why);
    let check = queries::integrity_check(&conn).map_err(|e| {
        not_chinwag(format!(
            "{} is not a readable SQLite database ({e})",
            path.display()
        ))
    })?;
    if check != "ok" {
        return Err(not_chinwag(format!(
            "{} fails SQLite's integrity check: {check}",
            path.display()
        )));
    }
    let has_schema: bool = conn.query_row(
        "SELECT count(*) = 4 FROM sqlite_master WHERE type = 'table'
           AND name IN ('users', 'conversations', 'messages', 'events')",
        [],
        |r| r.get(0),
    )?;
    if !has_schema {
        return Err(not_chinwag(format!(
            "{} is not a Chinwag database",
            path.display()
        )));
    }
    let summary = summary(&conn)?;
    let known = crate::schema::migrations_count();
    if summary.schema_version > known {
        return Err(not_chinwag(format!(
            "{} was written by a newer Chinwag (schema {}; this one knows up to {known})",
            path.display(),
            summary.schema_version
        )));
    }
    Ok(summary)
}

/// Copies the live database at `db` to `dest` with SQLite's online backup API: a
/// consistent snapshot even while a hub writes to it. `dest` must not exist. The copy is
/// verified before this returns.
pub fn backup(db: &Path, dest: &Path) -> Result<Summary> {
    if dest.exists() {
        return Err(StoreError::invalid(
            "destination",
            format!("{} already exists; choose a new file", dest.display()),
        ));
    }
    let source = open_read_only(db)?;
    let partial = partial_path(dest);
    let result = (|| {
        let mut target = Connection::open(&partial)?;
        {
            let backup = rusqlite::backup::Backup::new(&source, &mut target)?;
            // Copy in steps so the hub's writer is never held up for long.
            backup.run_to_completion(256, Duration::from_millis(5), None)?;
        }
        target.pragma_update(None, "journal_mode", "DELETE")?;
        drop(target);
        let summary = verify(&partial)?;
        std::fs::rename(&partial, dest).map_err(|e| {
            StoreError::Unavailable(format!("cannot write {}: {e}", dest.display()))
        })?;
        Ok(summary)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    dest.with_file_name(name)
}

/// Replaces the database at `db` with the backup at `from`, after verifying it. The
/// database it replaces (if any) is kept beside it as `chinwag.db.before-restore-MILLIS`
/// and its path returned. The hub must be stopped.
pub fn restore(from: &Path, db: &Path) -> Result<(Summary, Option<PathBuf>)> {
    let summary = verify(from)?;
    let io = |what: &str, e: std::io::Error| StoreError::Unavailable(format!("{what}: {e}"));
    let mut kept = None;
    if db.exists() {
        // Fold the WAL into the old file first so the kept copy is whole on its own.
        if let Ok(conn) = Connection::open(db) {
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
        let mut name = db.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".before-restore-{}", now_millis()));
        let aside = db.with_file_name(name);
        std::fs::rename(db, &aside).map_err(|e| io("cannot move the current database aside", e))?;
        kept = Some(aside);
    }
    for suffix in ["-wal", "-shm"] {
        let mut name = db.as_os_str().to_os_string();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
    let partial = partial_path(db);
    std::fs::copy(from, &partial).map_err(|e| io("cannot copy the backup", e))?;
    std::fs::rename(&partial, db).map_err(|e| io("cannot install the backup", e))?;
    Ok((summary, kept))
}

/// One user's data, for a data export request: their account, every conversation they are
/// in with its members and full history, and every message they ever sent (including in
/// conversations they have left).
#[derive(Debug, Serialize)]
pub struct Export {
    pub exported_at: i64,
    pub hub_id: String,
    pub user: chinwag_proto::User,
    pub conversations: Vec<ExportedConversation>,
    /// Messages they sent in conversations they are no longer in.
    pub sent_elsewhere: Vec<chinwag_proto::Message>,
}

#[derive(Debug, Serialize)]
pub struct ExportedConversation {
    pub conversation: chinwag_proto::Conversation,
    /// Usernames, so the export reads on its own.
    pub members: Vec<String>,
    pub messages: Vec<chinwag_proto::Message>,
}

/// Exports `username`'s data from the database at `db` (a hub may be running on it).
pub fn export_user(db: &Path, username: &str) -> Result<Export> {
    let conn = open_read_only(db)?;
    let (user, _) =
        queries::user_for_login(&conn, username)?.ok_or(StoreError::NotFound("user"))?;
    let conversation_ids: Vec<chinwag_proto::ConversationId> = conn
        .prepare(
            "SELECT conversation_id FROM members WHERE user_id = ?1 AND active = 1
             ORDER BY conversation_id",
        )?
        .query_map([user.id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let messages_where =
        |sql: &str, params: &[&dyn rusqlite::ToSql]| -> Result<Vec<chinwag_proto::Message>> {
            let mut stmt = conn.prepare(&format!(
                "SELECT {} FROM messages WHERE {sql} ORDER BY conversation_id, seq",
                queries::MESSAGE_COLUMNS
            ))?;
            let rows = stmt.query_map(params, queries::message_from_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        };
    let mut conversations = Vec::new();
    for id in &conversation_ids {
        let conversation = queries::conversation(&conn, *id)?;
        let members: Vec<String> = conn
            .prepare(
                "SELECT u.username FROM members m JOIN users u ON u.id = m.user_id
                 WHERE m.conversation_id = ?1 AND m.active = 1 ORDER BY u.username",
            )?
            .query_map([id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let messages = messages_where("conversation_id = ?1", &[id])?;
        conversations.push(ExportedConversation {
            conversation,
            members,
            messages,
        });
    }
    let sent_elsewhere = messages_where(
        "sender_id = ?1 AND conversation_id NOT IN
           (SELECT conversation_id FROM members WHERE user_id = ?1 AND active = 1)",
        &[&user.id],
    )?;
    Ok(Export {
        exported_at: now_millis(),
        hub_id: queries::hub_id(&conn)?,
        user,
        conversations,
        sent_elsewhere,
    })
}
