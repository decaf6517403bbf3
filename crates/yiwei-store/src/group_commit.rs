//! Group commit (成组提交) of short write transactions on SQLite ([`Store::write`]).
//!
//! SQLite lets one connection write at a time, so concurrent write transactions queue for
//! the writer anyway. Each of them used to pay for its own `BEGIN IMMEDIATE … COMMIT`:
//! the hand-over of the writer connection from task to task, and at the commit the WAL
//! append of every page it touched (the slot, the booking and outbox tables and their
//! indexes, the audit log and its head), even when the next transaction touches the same
//! pages a moment later. Here one task takes every write that is waiting (up to
//! [`MAX_GROUP`]) and runs them in one transaction:
//!
//! - each write runs in its own `SAVEPOINT`; one that fails (a refused booking, a broken
//!   constraint) is rolled back to its savepoint alone and the others go on;
//! - every caller is answered only after the `COMMIT` returned: a caller told "done" holds
//!   a committed change, and a crash or failed commit loses the whole group, none of which
//!   was answered as done (a failed commit answers every member with the error);
//! - the writes run one after another in arrival order, each seeing the ones before it,
//!   exactly as separate transactions would; the audit chain is appended in that order.
//!
//! What it does not do: run anything on PostgreSQL (there, [`Store::write`] is a plain
//! transaction per call: the server takes row locks and several processes write at once),
//! or reorder writes. Transactions started with [`Store::begin`] still work and take their
//! turn on the same writer connection between groups.
//!
//! [`Store::write`]: crate::Store::write
//! [`Store::begin`]: crate::Store::begin

use std::future::Future;
use std::pin::Pin;

use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use crate::{StoreError, Tx};

/// A boxed future borrowing the transaction, as [`crate::Store::write`] takes it.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// At most this many writes share one transaction: a bound on how long the group holds the
/// write lock (a booking takes ≈ 0.3 ms, so ≈ 20 ms) and on what one failed commit can
/// take with it.
pub const MAX_GROUP: usize = 64;

/// Answers the caller once the group's fate is known: `None` when the commit succeeded,
/// else the commit's error.
type Deliver = Box<dyn FnOnce(Option<String>) + Send>;

/// One queued write: runs inside the group's transaction and says whether it succeeded
/// (to keep or roll back its savepoint) and how to answer its caller.
type Job = Box<dyn for<'a> FnOnce(&'a mut Tx<'static>) -> BoxFuture<'a, (bool, Deliver)> + Send>;

fn job<F>(f: F) -> Job
where
    F: for<'a> FnOnce(&'a mut Tx<'static>) -> BoxFuture<'a, (bool, Deliver)> + Send + 'static,
{
    Box::new(f)
}

/// The queue of pending writes of one SQLite store. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Committer {
    queue: mpsc::UnboundedSender<Job>,
}

impl Committer {
    /// Start the committing task on `writer` (the store's one writer connection).
    pub(crate) fn start(writer: SqlitePool) -> Committer {
        let (queue, jobs) = mpsc::unbounded_channel();
        tokio::spawn(run(writer, jobs));
        Committer { queue }
    }

    /// Queue `f` and wait for the group it joins to commit. `Err(f)` hands the write back
    /// when the committing task has stopped, for the caller to run on its own.
    pub(crate) async fn submit<T, E, F>(&self, f: F) -> Result<Result<T, E>, F>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'a> FnOnce(&'a mut Tx<'static>) -> BoxFuture<'a, Result<T, E>> + Send + 'static,
    {
        if self.queue.is_closed() {
            return Err(f);
        }
        let (answer, answered) = oneshot::channel::<Result<T, E>>();
        let queued = self.queue.send(job(move |tx| {
            Box::pin(async move {
                let out = f(tx).await;
                let ok = out.is_ok();
                let deliver: Deliver = Box::new(move |commit_error| {
                    let out = match (commit_error, out) {
                        (Some(e), Ok(_)) => Err(E::from(StoreError::Unavailable(e))),
                        (_, out) => out,
                    };
                    let _ = answer.send(out);
                });
                (ok, deliver)
            })
        }));
        if queued.is_err() {
            // The task stopped between the check and the send; the job (and `f`) is gone
            // with the error, so report it rather than run twice.
            return Ok(Err(E::from(StoreError::Unavailable(
                "the write queue has stopped".into(),
            ))));
        }
        Ok(answered.await.unwrap_or_else(|_| {
            Err(E::from(StoreError::Unavailable(
                "the write was dropped before its commit (see the server log)".into(),
            )))
        }))
    }
}

async fn exec(tx: &mut Tx<'static>, sql: &'static str) -> Result<(), sqlx::Error> {
    if let Tx::Sqlite(t) = tx {
        sqlx::query(sql).execute(&mut **t).await?;
    }
    Ok(())
}

/// The committing task: take what is waiting, run it as one transaction, answer.
async fn run(writer: SqlitePool, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let mut group: Vec<Job> = Vec::with_capacity(MAX_GROUP);
    while jobs.recv_many(&mut group, MAX_GROUP).await > 0 {
        let mut tx = match writer.begin_with("BEGIN IMMEDIATE").await {
            Ok(t) => Tx::Sqlite(t),
            Err(e) => {
                // Dropping the jobs answers their callers with an error.
                tracing::error!(error = %e, writes = group.len(), "group commit cannot begin");
                group.clear();
                continue;
            }
        };
        let mut answers: Vec<Deliver> = Vec::with_capacity(group.len());
        let mut broken = None;
        for job in group.drain(..) {
            if let Err(e) = exec(&mut tx, "SAVEPOINT yiwei_write").await {
                broken = Some(e.to_string());
                break;
            }
            let (ok, deliver) = job(&mut tx).await;
            answers.push(deliver);
            let end = if ok {
                exec(&mut tx, "RELEASE yiwei_write").await
            } else {
                match exec(&mut tx, "ROLLBACK TO yiwei_write").await {
                    Ok(()) => exec(&mut tx, "RELEASE yiwei_write").await,
                    Err(e) => Err(e),
                }
            };
            if let Err(e) = end {
                broken = Some(e.to_string());
                break;
            }
        }
        // Jobs not reached when the group broke are dropped: their callers get an error.
        group.clear();
        let outcome = match broken {
            Some(e) => Some(e),
            None => tx.commit().await.err().map(|e| e.to_string()),
        };
        if let Some(e) = &outcome {
            tracing::error!(error = %e, writes = answers.len(), "group commit failed");
        }
        for deliver in answers {
            deliver(outcome.clone());
        }
    }
}
