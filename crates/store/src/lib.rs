//! Chinwag's store: the hub's source of truth, in SQLite.
//!
//! What it owns: the schema and its migrations ([`schema`]), the single writer thread that
//! commits jobs in groups ([`Store::write`]), a pool of read connections that never wait
//! behind the writer ([`Store::read`]), the domain's write operations ([`Tx`]) and queries
//! ([`queries`]). Every write that others must hear about appends a durable event to the
//! `events` table inside the same transaction; after the commit the writer hands the events,
//! in id order, to the publisher the hub installed.
//!
//! What it must not do: speak HTTP or WebSocket, hash passwords, or hold state beyond the
//! database. Rules that need no I/O (validation of names, bodies) live in `chinwag_proto::validate`;
//! every store failure becomes the client's [`ApiError`] through one `From` here.

pub mod admin;
mod checkpoint;
pub mod queries;
pub mod schema;
mod tx;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chinwag_proto::validate;
use chinwag_proto::validate::Invalid;
use chinwag_proto::{ApiError, ConversationId, EventId, UserId};
use rusqlite::OpenFlags;

pub use rusqlite::Connection;
pub use tx::{NewFile, Swept, Tx, MAX_ATTACHMENTS};
pub use writer::WriteTicket;

/// Receipts in a conversation of at most this many active members reach every member; in a
/// larger one only their author's devices and the senders of the messages they move over
/// (see `docs/protocol.md`, Receipts). Everyone's positions stay available over REST.
pub const RECEIPTS_TO_EVERYONE_UP_TO: u32 = 100;

/// Everything that can go wrong in the store, as the hub needs to tell it apart.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("username is already taken")]
    UsernameTaken,
    /// The database refused the write: disk full, read-only, I/O error.
    #[error("the store cannot write: {0}")]
    Unavailable(String),
    /// The commit itself failed (its flush to the disk, typically): the write may or may not
    /// be on the disk. A retry with the same client id is safe either way.
    #[error("the store could not confirm the commit: {0}")]
    Uncertain(String),
    /// The writer thread has stopped (shutdown).
    #[error("the store is closed")]
    Closed,
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("corrupt event payload: {0}")]
    Json(#[from] serde_json::Error),
}

impl StoreError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        StoreError::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// True when the store could not write for a reason outside the request: disk full,
    /// read-only, I/O failure, locked, or shut down. The request may succeed later.
    pub fn is_unavailable(&self) -> bool {
        use rusqlite::ErrorCode as C;
        match self {
            StoreError::Unavailable(_) | StoreError::Uncertain(_) | StoreError::Closed => true,
            StoreError::Sqlite(err) => matches!(
                err.sqlite_error_code(),
                Some(
                    C::DiskFull
                        | C::ReadOnly
                        | C::SystemIoFailure
                        | C::CannotOpen
                        | C::DatabaseBusy
                        | C::DatabaseLocked
                )
            ),
            _ => false,
        }
    }

    /// Maps SQLite's "cannot write now" failures (those [`StoreError::is_unavailable`] names)
    /// to [`StoreError::Unavailable`].
    pub(crate) fn classify(err: rusqlite::Error) -> Self {
        let err = StoreError::Sqlite(err);
        if err.is_unavailable() {
            StoreError::Unavailable(err.to_string())
        } else {
            err
        }
    }
}

impl From<Invalid> for StoreError {
    fn from(invalid: Invalid) -> Self {
        StoreError::Invalid {
            field: invalid.field,
            reason: invalid.reason,
        }
    }
}

/// Which store failures are the client's fault, and the sentence each one reads.
impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        use chinwag_proto::ErrorCode;
        match err {
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Forbidden(why) => {
                let mut sentence = why.to_owned();
                if let Some(first) = sentence.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                ApiError::new(ErrorCode::Forbidden, format!("{sentence}."))
            }
            StoreError::Invalid { field, reason } => ApiError::from(Invalid { field, reason }),
            StoreError::UsernameTaken => {
                ApiError::new(ErrorCode::UsernameTaken, "That username is already taken.")
            }
            StoreError::Unavailable(detail) => {
                tracing::warn!("store unavailable: {detail}");
                ApiError::new(
                    ErrorCode::Unavailable,
                    "The hub cannot save right now (its disk may be full or read-only); \
                     nothing was changed. Try again later.",
                )
            }
            StoreError::Uncertain(detail) => {
                tracing::warn!("store commit failed: {detail}");
                ApiError::new(
                    ErrorCode::Unavailable,
                    "The hub's disk failed while saving (it may be full or read-only); the change \
                     may or may not be stored. Retrying with the same client id is safe.",
                )
            }
            StoreError::Closed => ApiError::new(
                ErrorCode::Unavailable,
                "The hub is shutting down; nothing was changed. Try again in a moment.",
            ),
            other if other.is_unavailable() => {
                ApiError::from(StoreError::Unavailable(other.to_string()))
            }
            other => {
                tracing::error!("store error: {other}");
                ApiError::internal()
            }
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Who learns about a committed event and how the hub updates its membership cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub id: EventId,
    /// `None`: every user receives it.
    pub conversation_id: Option<ConversationId>,
    /// The event as JSON (the `event` member of an `event` frame).
    pub payload: Arc<str>,
    /// Users who became members of `conversation_id` with this event.
    pub joined: Vec<UserId>,
    /// Users who stopped being members with this event (they still receive it).
    pub left: Vec<UserId>,
    /// Members who may not see it: an edit or deletion of a message from before they joined,
    /// in a group that hides earlier history.
    pub hidden_from: Vec<UserId>,
    /// `Some`: only these users receive it (if members), e.g. a receipt in a large
    /// conversation. `None`: every member (but `hidden_from`).
    pub audience: Option<Vec<UserId>>,
}

/// Called by the writer thread after each commit with that commit's events, in id order.
/// It must not block: the hub's implementation only does `try_send` on bounded queues.
pub type Publisher = Arc<dyn Fn(&[Committed]) + Send + Sync>;

/// Tuning of the store; the defaults suit a hub for an office.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Most jobs committed in one transaction.
    pub max_batch: usize,
    /// Capacity of the writer's job queue; senders wait when it is full.
    pub queue: usize,
    /// Idle read connections kept open.
    pub max_idle_readers: usize,
    /// When a commit counts as done.
    pub durability: Durability,
}

/// How much a commit waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Every commit is flushed to the disk (fsync) before anyone is told: an acknowledged
    /// message survives a power cut.
    #[default]
    Full,
    /// Commits reach the operating system but are flushed only at checkpoints: an
    /// acknowledged message survives a crash of Chinwag, and the database stays consistent
    /// after a power cut, which may take the last moments' messages with it. For disks
    /// whose flushes are slow.
    Normal,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            max_batch: 512,
            queue: 4096,
            max_idle_readers: 8,
            durability: Durability::Full,
        }
    }
}

/// A handle to the store. Cheap to clone; all clones share the writer and the readers.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: writer::WriterHandle,
    checkpointer: checkpoint::Checkpointer,
    // A std Mutex is right here: it guards a Vec push/pop and is never held across an await
    // or a query.
    readers: Mutex<Vec<Connection>>,
    max_idle_readers: usize,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, migrates it to the latest schema,
    /// makes sure `general` exists, and starts the writer thread.
    pub fn open(path: &Path, config: StoreConfig, publisher: Publisher) -> Result<Store> {
        let mut conn = open_connection(path, false)?;
        if config.durability == Durability::Normal {
            conn.pragma_update(None, "synchronous", "NORMAL")?;
        }
        let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = schema::migrations_count();
        if found > known {
            return Err(StoreError::Unavailable(format!(
                "{} was written by a newer Chinwag (schema {found}; this one knows up to \
                 {known}): run that version, or restore a backup made for this one",
                path.display()
            )));
        }
        if found > 0 && found < known {
            // An upgrade: keep the store as the older Chinwag left it, beside it, before
            // touching it. No copy, no migration.
            let kept = backup_before_migrating(path, found, known)?;
            tracing::info!(
                "migrating the store from schema {found} to {known}; the store as it was is kept \
                 in {} (`chinwag restore` it to go back)",
                kept.display()
            );
        }
        schema::migrations().to_latest(&mut conn)?;
        tx::bootstrap(&conn)?;
        // Checkpoints run on their own thread, so no commit waits for one.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let checkpointer = checkpoint::Checkpointer::spawn(path)?;
        let writer = writer::WriterHandle::spawn(conn, config.max_batch, config.queue, publisher)?;
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer,
                checkpointer,
                readers: Mutex::new(Vec::new()),
                max_idle_readers: config.max_idle_readers,
            }),
        })
    }

    /// Runs `f` inside the writer's next transaction and resolves once it is committed.
    ///
    /// Jobs queued together share one commit (and one fsync). Each runs in its own
    /// savepoint: a job that fails is rolled back alone and its events are never published.
    /// (A job that finds its errors before writing can spare the savepoint:
    /// [`Store::submit_checked`].)
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T> + Send + 'static,
    {
        self.submit(f).await?.wait().await
    }

    /// Queues `f` for the writer and returns once it is queued, with a ticket that resolves
    /// when it is committed. Jobs are committed in the order they were submitted, so a caller
    /// can keep several in flight and still keep their order.
    pub async fn submit<T, F>(&self, f: F) -> Result<WriteTicket<T>>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T> + Send + 'static,
    {
        self.inner.writer.submit(writer::Guard::Savepoint, f).await
    }

    /// [`Store::submit`] for a job that returns every error it can foresee before its first
    /// write, such as [`Tx::send_with_files`]: it runs without a savepoint of its own, which
    /// on the path every message takes saves SQLite copying each page it touches. Nothing
    /// rests on the promise but speed: should the job fail after changing a row (an I/O
    /// error, a bug), its whole batch is rolled back and the jobs in it are refused as
    /// unavailable (a retry with the same ids is safe), never committed in part.
    pub async fn submit_checked<T, F>(&self, f: F) -> Result<WriteTicket<T>>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T> + Send + 'static,
    {
        self.inner
            .writer
            .submit(writer::Guard::ChecksFirst, f)
            .await
    }

    /// Runs a read on a pooled connection, off the async runtime. Readers see the last
    /// committed state and never wait for the writer (WAL).
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.read_blocking(f))
            .await
            .map_err(|_| StoreError::Closed)?
    }

    /// Stops accepting writes, commits every job already queued, joins the writer thread,
    /// and checkpoints the WAL one last time.
    pub async fn close(&self) {
        self.inner.writer.close().await;
        self.inner.checkpointer.close().await;
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }
}

impl Inner {
    fn read_blocking<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let pooled = self.readers.lock().ok().and_then(|mut pool| pool.pop());
        let conn = match pooled {
            Some(conn) => conn,
            None => open_connection(&self.path, true)?,
        };
        let result = f(&conn);
        if let Ok(mut pool) = self.readers.lock() {
            if pool.len() < self.max_idle_readers {
                pool.push(conn);
            }
        }
        result
    }
}

/// Copies the database at `path` (schema `found`) to `chinwag.db.before-vKNOWN-MILLIS`
/// beside it with SQLite's backup API, verified, and returns the copy's path.
fn backup_before_migrating(path: &Path, found: i64, known: i64) -> Result<std::path::PathBuf> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".before-v{known}-{}", now_millis()));
    let dest = path.with_file_name(name);
    admin::backup(path, &dest).map_err(|e| {
        StoreError::Unavailable(format!(
            "{} (schema {found}) needs migrating to schema {known}, and a backup is made \
             first, but it failed, so nothing was changed: {e}",
            path.display()
        ))
    })?;
    Ok(dest)
}

fn open_connection(path: &Path, read_only: bool) -> Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(StoreError::classify)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    if !read_only {
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable(format!(
                "could not switch the database to WAL mode (got {mode})"
            )));
        }
        // FULL: an acknowledged message survives a power cut, not only a crash. Group commit
        // keeps the number of fsyncs low. `Durability::Normal` relaxes this for the writer.
        conn.pragma_update(None, "synchronous", "FULL")?;
    }
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
