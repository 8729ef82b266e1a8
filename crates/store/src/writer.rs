//! The single writer thread and its group commit.
//!
//! Jobs arrive on a bounded queue. The thread takes the first job, drains up to `max_batch`
//! more that are already waiting, runs each inside one transaction, and commits once. Only
//! after the commit does it publish the batch's events and answer the callers, so nobody is
//! ever told "sent" before the data is durable.
//!
//! A job that fails must leave nothing behind, while the rest of its batch commits. A job
//! runs in a savepoint of its own, rolled back if it fails, unless it was submitted as
//! [`Guard::ChecksFirst`]: one that finds every error it returns before its first write, as
//! a send does. Those run bare, which spares SQLite's statement journal (a copy of every
//! page the job touches, about a tenth of the writer's time on the send path). The promise is
//! checked, not trusted: if such a job fails after changing a row, the whole transaction is
//! rolled back, the jobs already run in it are told so (nothing of them was stored), and the
//! jobs not yet run go on in a fresh transaction.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;
use std::thread::JoinHandle;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use crate::tx::Tx;
use crate::{now_millis, Committed, Publisher, Result, StoreError};

type Completion = Box<dyn FnOnce(Result<()>) + Send>;

/// How a job is kept from leaving half of itself behind when it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guard {
    /// In a savepoint of its own, rolled back alone.
    Savepoint,
    /// The job returns its errors before its first write; it runs without a savepoint (see
    /// the module's documentation for what happens if it breaks that promise).
    ChecksFirst,
}

/// A queued write, type-erased so that one queue carries jobs of every result type.
trait Job: Send {
    fn guard(&self) -> Guard;
    /// Runs the job. `Some` when it succeeded and waits for the commit; `None` when it failed
    /// (the caller has already been told) and its savepoint must be rolled back.
    fn run(self: Box<Self>, tx: &mut Tx<'_>) -> Option<Completion>;
    /// Tells the caller the job never ran.
    fn fail(self: Box<Self>, err: StoreError);
}

struct TypedJob<F, T> {
    f: F,
    guard: Guard,
    reply: oneshot::Sender<Result<T>>,
}

impl<F, T> Job for TypedJob<F, T>
where
    T: Send + 'static,
    F: FnOnce(&mut Tx<'_>) -> Result<T> + Send + 'static,
{
    fn guard(&self) -> Guard {
        self.guard
    }

    fn run(self: Box<Self>, tx: &mut Tx<'_>) -> Option<Completion> {
        let TypedJob { f, reply, .. } = *self;
        match f(tx) {
            Ok(value) => Some(Box::new(move |commit: Result<()>| {
                let _ = reply.send(commit.map(|()| value));
            })),
            Err(err) => {
                let _ = reply.send(Err(err));
                None
            }
        }
    }

    fn fail(self: Box<Self>, err: StoreError) {
        let _ = self.reply.send(Err(err));
    }
}

/// Resolves when a submitted job has been committed (or failed).
pub struct WriteTicket<T> {
    rx: oneshot::Receiver<Result<T>>,
}

impl<T> WriteTicket<T> {
    pub async fn wait(self) -> Result<T> {
        self.rx.await.map_err(|_| StoreError::Closed)?
    }
}

pub(crate) struct WriterHandle {
    // std Mutex: only cloned out of or taken, never held across an await.
    sender: Mutex<Option<mpsc::Sender<Box<dyn Job>>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl WriterHandle {
    pub(crate) fn spawn(
        conn: Connection,
        max_batch: usize,
        queue: usize,
        publisher: Publisher,
    ) -> Result<WriterHandle> {
        let (tx, rx) = mpsc::channel::<Box<dyn Job>>(queue.max(1));
        let thread = std::thread::Builder::new()
            .name("chinwag-writer".into())
            .spawn(move || run(conn, rx, max_batch.max(1), publisher))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer: {e}")))?;
        Ok(WriterHandle {
            sender: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    pub(crate) async fn submit<T, F>(&self, guard: Guard, f: F) -> Result<WriteTicket<T>>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T> + Send + 'static,
    {
        let sender = self
            .sender
            .lock()
            .map_err(|_| StoreError::Closed)?
            .clone()
            .ok_or(StoreError::Closed)?;
        let (reply, rx) = oneshot::channel();
        sender
            .send(Box::new(TypedJob { f, guard, reply }))
            .await
            .map_err(|_| StoreError::Closed)?;
        Ok(WriteTicket { rx })
    }

    pub(crate) async fn close(&self) {
        if let Ok(mut sender) = self.sender.lock() {
            sender.take();
        }
        let thread = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(thread) = thread {
            // The thread ends once every queued job is committed and all senders are gone.
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

fn run(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Box<dyn Job>>,
    max_batch: usize,
    publisher: Publisher,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(max_batch);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&mut conn, &mut batch, &publisher);
    }
    tracing::debug!("writer thread stopped");
}

fn commit_batch(conn: &mut Connection, batch: &mut Vec<Box<dyn Job>>, publisher: &Publisher) {
    let now = now_millis();
    let mut completions: Vec<Completion> = Vec::with_capacity(batch.len());
    let mut events: Vec<Committed> = Vec::new();

    let txn = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(txn) => txn,
        Err(err) => {
            let message = err.to_string();
            tracing::error!("cannot begin a transaction: {message}");
            for job in batch.drain(..) {
                fail_unstarted(job, &message);
            }
            return;
        }
    };
    let mut jobs = batch.drain(..);
    while let Some(job) = jobs.next() {
        if txn.is_autocommit() {
            // SQLite rolled the whole transaction back by itself (it may on a full disk or
            // an I/O error). Nothing of this batch is written: say so to everyone, rather
            // than let the remaining jobs commit one by one outside it.
            let message = "the database rolled the transaction back (disk full or I/O error)";
            tracing::error!(
                "{message}; {} writes refused",
                completions.len() + 1 + jobs.len()
            );
            for done in completions {
                done(Err(StoreError::Unavailable(message.to_owned())));
            }
            fail_unstarted(job, message);
            for job in jobs {
                fail_unstarted(job, message);
            }
            return;
        }
        let guard = job.guard();
        // Each guarded job in a savepoint of its own, through cached statements: rusqlite's
        // `Savepoint` parses its SQL anew for every job.
        if guard == Guard::Savepoint {
            if let Err(err) = savepoint(&txn, "SAVEPOINT job") {
                fail_unstarted(job, &err.to_string());
                continue;
            }
        }
        let changes_before = txn.total_changes();
        let outcome = {
            let mut tx = Tx::new(&txn, now);
            let ran = catch_unwind(AssertUnwindSafe(|| job.run(&mut tx)));
            match ran {
                Ok(Some(done)) => Some((done, tx.into_events())),
                Ok(None) => None,
                Err(_) => {
                    // The caller's reply channel was dropped by the unwind: it sees `Closed`.
                    tracing::error!("a write job panicked; rolled back");
                    None
                }
            }
        };
        match (guard, outcome) {
            (Guard::Savepoint, Some((done, job_events))) => match savepoint(&txn, "RELEASE job") {
                Ok(()) => {
                    completions.push(done);
                    events.extend(job_events);
                }
                Err(err) => {
                    roll_back_job(&txn);
                    done(Err(StoreError::classify(err)));
                }
            },
            (Guard::Savepoint, None) => roll_back_job(&txn),
            (Guard::ChecksFirst, Some((done, job_events))) => {
                completions.push(done);
                events.extend(job_events);
            }
            (Guard::ChecksFirst, None) if txn.total_changes() == changes_before => {}
            (Guard::ChecksFirst, None) => {
                // It failed after a write, and only the whole transaction can undo that.
                let message = "a write failed halfway and the batch it was in was rolled back; \
                               nothing of it was stored";
                tracing::error!("{message}: {} writes refused", completions.len());
                let mut rest: Vec<Box<dyn Job>> = jobs.collect();
                let _ = txn.rollback();
                for done in completions {
                    done(Err(StoreError::Unavailable(message.to_owned())));
                }
                if !rest.is_empty() {
                    commit_batch(conn, &mut rest, publisher);
                }
                return;
            }
        }
    }

    match txn.commit() {
        Ok(()) => {
            if !events.is_empty() {
                publisher(&events);
            }
            for done in completions {
                done(Ok(()));
            }
        }
        Err(err) => {
            let message = err.to_string();
            tracing::error!(
                "commit failed, {} writes refused: {message}",
                completions.len()
            );
            // The outcome is unknown: a failed flush may still have reached the disk.
            for done in completions {
                done(Err(StoreError::Uncertain(message.clone())));
            }
        }
    }
}

/// Runs one of the savepoint statements (`SAVEPOINT job`, `RELEASE job`, `ROLLBACK TO job`).
fn savepoint(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Undoes a job's writes and ends its savepoint; the batch goes on without it.
fn roll_back_job(conn: &Connection) {
    let _ = savepoint(conn, "ROLLBACK TO job");
    let _ = savepoint(conn, "RELEASE job");
}

fn fail_unstarted(job: Box<dyn Job>, message: &str) {
    tracing::error!("a write was refused before it started: {message}");
    job.fail(StoreError::Unavailable(message.to_owned()));
}
