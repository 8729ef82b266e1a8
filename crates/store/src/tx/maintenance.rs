//! Work the hub does by itself: the search index, the health mark, retention.

use chinwag_proto::MessageId;
use rusqlite::{params, OptionalExtension};

use super::*;
use crate::queries::{self};
use crate::Result;

impl Tx<'_> {
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

    /// A small real write for health checks: proves the store can commit.
    pub fn touch_health(&mut self) -> Result<()> {
        self.set_meta("health_checked_at", &self.now.to_string())
    }

    pub(super) fn set_meta(&self, key: &str, value: &str) -> Result<()> {
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
}
