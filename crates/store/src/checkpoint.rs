//! WAL checkpoints on a thread of their own.
//!
//! SQLite normally checkpoints inside the commit that pushes the WAL past 1,000 pages, on the
//! writer's thread: that commit then waits for the database file to be written and flushed,
//! and every message in its batch waits with it (about 60 ms on the disk we measure on). The
//! writer's connection turns that off (`wal_autocheckpoint = 0`) and this thread runs a
//! passive checkpoint on its own connection every [`INTERVAL`] instead. A passive checkpoint
//! never blocks the writer or a reader; it copies what no reader still needs.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::{open_connection, Result, StoreError};

/// How often the WAL is copied back into the database file.
const INTERVAL: Duration = Duration::from_millis(500);

pub(crate) struct Checkpointer {
    // Dropping the sender stops the thread (after one last checkpoint). std Mutexes: only
    // taken from, never held across an await.
    stop: Mutex<Option<mpsc::SyncSender<()>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    pub(crate) fn spawn(path: &Path) -> Result<Checkpointer> {
        let conn = open_connection(path, false)?;
        let (stop, stopped) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("chinwag-checkpoint".into())
            .spawn(move || run(conn, stopped))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the checkpointer: {e}")))?;
        Ok(Checkpointer {
            stop: Mutex::new(Some(stop)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Stops the thread after a last checkpoint and waits for it.
    pub(crate) async fn close(&self) {
        if let Ok(mut stop) = self.stop.lock() {
            stop.take();
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

fn run(conn: Connection, stopped: mpsc::Receiver<()>) {
    let mut failing = false;
    loop {
        let last = match stopped.recv_timeout(INTERVAL) {
            Err(RecvTimeoutError::Timeout) | Ok(()) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            row.get::<_, i64>(0)
        });
        // A failing disk fails every checkpoint: say so when it starts and when it ends, not
        // twice a second. The writer reports the failures that lose a user's write.
        match result {
            Ok(_) if failing => {
                tracing::info!("WAL checkpoints work again");
                failing = false;
            }
            Ok(_) => {}
            Err(err) if !failing => {
                tracing::warn!("WAL checkpoint failed (will retry): {err}");
                failing = true;
            }
            Err(_) => {}
        }
        if last {
            break;
        }
    }
    tracing::debug!("checkpoint thread stopped");
}
