//! The link's durable local state in sled: the outbox of messages not yet acknowledged, and
//! the resume cursor. Kept behind this small interface so sled can be replaced if it
//! misbehaves (its last stable release is from 2021).

use std::path::Path;

use chinwag_proto::EventId;

use crate::{LinkError, Result};

pub use chinwag_proto::node::Pending;

/// Outbox and cursor, on disk.
#[derive(Clone)]
pub struct LocalState {
    db: sled::Db,
    outbox: sled::Tree,
}

const CURSOR: &[u8] = b"cursor";

impl LocalState {
    /// Opens (creating) the state in `dir`.
    pub fn open(dir: &Path) -> Result<LocalState> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(8 * 1024 * 1024)
            .open()
            .map_err(LinkError::from)?;
        Self::from_db(db)
    }

    /// State that lives only in memory (tools and benchmarks that need no durability).
    pub fn temporary() -> Result<LocalState> {
        Self::from_db(sled::Config::new().temporary(true).open()?)
    }

    /// The state kept in trees of a sled database the caller also uses for other things.
    pub fn in_db(db: &sled::Db) -> Result<LocalState> {
        Self::from_db(db.clone())
    }

    fn from_db(db: sled::Db) -> Result<LocalState> {
        let outbox = db.open_tree("outbox")?;
        Ok(LocalState { db, outbox })
    }

    /// Queues a message and returns once it is on disk; a `client_id` already queued is
    /// not queued again (returns false).
    pub async fn push(&self, pending: &Pending) -> Result<bool> {
        if self.find(&pending.client_id)?.is_some() {
            return Ok(false);
        }
        let key = self.db.generate_id()?.to_be_bytes();
        self.outbox.insert(key, serde_json::to_vec(pending)?)?;
        self.outbox.flush_async().await?;
        Ok(true)
    }

    fn find(&self, client_id: &str) -> Result<Option<sled::IVec>> {
        for item in self.outbox.iter() {
            let (key, value) = item?;
            let matches = serde_json::from_slice::<Pending>(&value)
                .map(|p| p.client_id == client_id)
                .unwrap_or(false);
            if matches {
                return Ok(Some(key));
            }
        }
        Ok(None)
    }

    /// Forgets everything: outbox and cursor (signing out, or another user signing in).
    pub fn clear(&self) -> Result<()> {
        self.outbox.clear()?;
        self.db.remove(CURSOR)?;
        Ok(())
    }

    /// Every queued message, oldest first.
    pub fn pending(&self) -> Result<Vec<Pending>> {
        let mut out = Vec::new();
        for item in self.outbox.iter() {
            let (_, value) = item?;
            match serde_json::from_slice(&value) {
                Ok(pending) => out.push(pending),
                Err(err) => tracing::warn!("skipping an unreadable outbox entry: {err}"),
            }
        }
        Ok(out)
    }

    /// Drops a message from the outbox; true when it was there.
    pub fn remove(&self, client_id: &str) -> Result<bool> {
        match self.find(client_id)? {
            Some(key) => {
                self.outbox.remove(key)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The id of the last event processed, if any.
    pub fn cursor(&self) -> Result<Option<EventId>> {
        Ok(self.db.get(CURSOR)?.and_then(|v| {
            let bytes: [u8; 8] = v.as_ref().try_into().ok()?;
            Some(EventId(i64::from_be_bytes(bytes)))
        }))
    }

    /// Moves the cursor. Not flushed at once: losing the last few updates in a crash only
    /// means those events are replayed, and consumers apply events idempotently.
    pub fn set_cursor(&self, id: EventId) -> Result<()> {
        self.db.insert(CURSOR, &id.get().to_be_bytes())?;
        Ok(())
    }

    pub async fn flush(&self) -> Result<()> {
        self.db.flush_async().await?;
        Ok(())
    }
}
