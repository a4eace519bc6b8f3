//! The writer thread: owns the write connection, drains the queue and commits
//! each batch of operations in one transaction (group commit), then answers
//! every caller of the batch with the outcome of the commit.

use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot, Notify};

use super::db;
use crate::inbox::options::Target;
use crate::inbox::{InboxError, InboxOptions};

/// One operation for the writer.
pub(crate) trait WriteOp: Send {
    /// Run inside the batch transaction, within a savepoint that is rolled
    /// back when this returns an error.
    fn apply(&mut self, conn: &Connection) -> Result<(), InboxError>;
    /// Called once the batch is committed (`Ok`) or has failed (`Err`); also
    /// for an operation that was never applied because the batch could not
    /// start.
    fn finish(self: Box<Self>, batch: Result<(), InboxError>);
    /// Whether `apply` must run in a savepoint of its own (several
    /// statements that must not half-apply). A single statement is atomic
    /// by itself, and skipping the savepoint saves three statements per event.
    fn needs_savepoint(&self) -> bool {
        true
    }
}

/// What to do, on the writer thread, with an operation's successful result
/// once its batch is settled: called with whether the batch was committed,
/// before the caller hears of it or `notify` wakes anyone.
pub(crate) type Settled<T> = Box<dyn FnOnce(&T, bool) + Send>;

/// A closure run by the writer whose result is sent back after the commit.
pub(crate) struct FnOp<T, F> {
    f: Option<F>,
    savepoint: bool,
    result: Option<Result<T, InboxError>>,
    reply: oneshot::Sender<Result<T, InboxError>>,
    notify: Option<Arc<Notify>>,
    settled: Option<Settled<T>>,
}

impl<T, F> FnOp<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, InboxError> + Send + 'static,
{
    #[allow(clippy::new_ret_no_self)]
    pub(crate) fn new(
        f: F,
        notify: Option<Arc<Notify>>,
    ) -> (Box<dyn WriteOp>, oneshot::Receiver<Result<T, InboxError>>) {
        Self::then(f, notify, None)
    }

    /// [`FnOp::new`], and `settled` runs with the result of `f` (when it
    /// succeeded) once the batch is committed or has failed.
    pub(crate) fn then(
        f: F,
        notify: Option<Arc<Notify>>,
        settled: Option<Settled<T>>,
    ) -> (Box<dyn WriteOp>, oneshot::Receiver<Result<T, InboxError>>) {
        let (reply, rx) = oneshot::channel();
        (
            Box::new(FnOp {
                f: Some(f),
                savepoint: true,
                result: None,
                reply,
                notify,
                settled,
            }),
            rx,
        )
    }
}

impl<T, F> WriteOp for FnOp<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, InboxError> + Send + 'static,
{
    fn apply(&mut self, conn: &Connection) -> Result<(), InboxError> {
        let f = self.f.take().expect("a write operation is applied once");
        let result = f(conn);
        let status = match &result {
            Ok(_) => Ok(()),
            Err(e) => Err(e.clone()),
        };
        self.result = Some(result);
        status
    }

    fn finish(self: Box<Self>, batch: Result<(), InboxError>) {
        let this = *self;
        if let (Some(settled), Some(Ok(value))) = (this.settled, &this.result) {
            settled(value, batch.is_ok());
        }
        let answer = match (this.result, batch) {
            // The operation's own error (e.g. NotFound) says more than the batch's.
            (Some(Err(e)), _) => Err(e),
            (_, Err(e)) => Err(e),
            (Some(Ok(value)), Ok(())) => {
                if let Some(notify) = &this.notify {
                    notify.notify_one();
                }
                Ok(value)
            }
            (None, Ok(())) => Err(InboxError::Unavailable("the write was not applied".into())),
        };
        let _ = this.reply.send(answer);
    }

    fn needs_savepoint(&self) -> bool {
        self.savepoint
    }
}

pub(crate) fn spawn(
    target: Target,
    conn: Connection,
    rx: mpsc::Receiver<Box<dyn WriteOp>>,
    options: InboxOptions,
) -> Result<(), InboxError> {
    let file_id = match &target {
        Target::File(path) => db::file_id(path).ok(),
        Target::Memory => None,
    };
    let writer = Writer {
        target,
        conn: Some(conn),
        file_id,
        wal_id: None,
        options,
    };
    std::thread::Builder::new()
        .name("tradecloud-inbox-writer".into())
        .spawn(move || writer.run(rx))
        .map(|_| ())
        .map_err(|e| InboxError::Unavailable(format!("cannot start the inbox writer thread: {e}")))
}

struct Writer {
    target: Target,
    conn: Option<Connection>,
    file_id: Option<db::FileId>,
    /// The write-ahead log the connection writes, as found after its first
    /// commit (see [`Writer::keep_wal`]).
    wal_id: Option<db::FileId>,
    options: InboxOptions,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<Box<dyn WriteOp>>) {
        let max_batch = self.options.max_batch.max(1);
        let mut batch: Vec<Box<dyn WriteOp>> = Vec::with_capacity(max_batch);
        while let Some(op) = rx.blocking_recv() {
            batch.push(op);
            while batch.len() < max_batch {
                match rx.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            let outcome = self.commit(&mut batch);
            if let Err(e) = &outcome {
                tracing::warn!(error = %e, events = batch.len(), "inbox batch not committed");
            }
            for op in batch.drain(..) {
                op.finish(outcome.clone());
            }
        }
        // All senders are gone: closing the connection checkpoints the WAL.
    }

    /// The write connection, reopened when the database file was replaced or
    /// after an error that may have broken it.
    fn connection(&mut self) -> Result<&Connection, InboxError> {
        if let Target::File(path) = &self.target {
            match db::file_id(path) {
                Ok(id) if Some(id) == self.file_id && self.conn.is_some() => {}
                Ok(_) => {
                    // Replaced (or never opened): open what is there now.
                    self.conn = None;
                    self.wal_id = None;
                    let conn = db::open_existing_writer(path, &self.options)?;
                    self.file_id = db::file_id(path).ok();
                    self.conn = Some(conn);
                }
                Err(e) => {
                    self.conn = None;
                    self.file_id = None;
                    return Err(db::not_accessible(path, &e));
                }
            }
        }
        self.conn
            .as_ref()
            .ok_or_else(|| InboxError::Unavailable("no database connection".into()))
    }

    fn commit(&mut self, batch: &mut [Box<dyn WriteOp>]) -> Result<(), InboxError> {
        let result = self.try_commit(batch);
        if let Err(InboxError::Unavailable(_)) = &result {
            if let Some(conn) = &self.conn {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
            }
            // Start the next batch on a fresh connection to the file: an I/O
            // error may have left this one unusable. Not while it is the only
            // way to a log deleted under it, though: a new connection would
            // not see what that log holds. (An in-memory database lives only
            // in its connection: keep it.)
            if matches!(self.target, Target::File(_)) && !self.wal_lost() {
                self.conn = None;
            }
        }
        result?;
        // A log lost while this batch was written.
        self.keep_wal(true)
    }

    /// Whether the log this connection has committed to is no longer the file
    /// next to the database (the next batch copies it first).
    fn wal_lost(&self) -> bool {
        match (&self.target, self.wal_id) {
            (Target::File(path), Some(known)) => db::wal_id(path) != Some(known),
            _ => false,
        }
    }

    /// Whether the write-ahead log this connection writes is still the file
    /// next to the database (`committed`: a batch was just committed, so
    /// there must be one). A log deleted or replaced under the receiver (a
    /// clean-up, a copy of the database without its `-wal`) keeps taking
    /// commits through the open handle, but what it holds is gone at the next
    /// start. Then everything committed is copied into the database file and
    /// synced, and the next batch opens a new log. If that copy fails (readers
    /// kept the log busy past the busy timeout), the batch is not
    /// acknowledged (503: Tradecloud sends it again) and the connection is
    /// kept, to copy again before the next batch writes. Every batch runs
    /// this, readiness checks included (every 5 s while serving), so a log
    /// lost between two events is found within seconds.
    fn keep_wal(&mut self, committed: bool) -> Result<(), InboxError> {
        let Target::File(path) = &self.target else {
            return Ok(());
        };
        match (db::wal_id(path), self.wal_id) {
            (Some(found), Some(known)) if found == known => return Ok(()),
            (Some(found), None) => {
                self.wal_id = Some(found);
                return Ok(());
            }
            (None, None) if !committed => return Ok(()),
            _ => {}
        }
        let wal = db::wal_path(path);
        let rescued = match &self.conn {
            Some(conn) => db::checkpoint_all(conn),
            None => Err(InboxError::Unavailable("no database connection".into())),
        };
        if let Err(e) = rescued {
            return Err(InboxError::Unavailable(format!(
                "the inbox's write-ahead log {} was deleted or replaced while in use, and what it \
                 holds could not be copied into the database file yet ({e}); events are answered \
                 503 until it is",
                wal.display()
            )));
        }
        tracing::warn!(
            wal = %wal.display(),
            "the inbox's write-ahead log was deleted or replaced while in use: everything committed \
             was copied into the database file, and a new log is started (never remove the -wal and \
             -shm files of a running inbox)"
        );
        self.conn = None;
        self.file_id = None;
        self.wal_id = None;
        Ok(())
    }

    fn try_commit(&mut self, batch: &mut [Box<dyn WriteOp>]) -> Result<(), InboxError> {
        // A log lost since the last batch: what it holds is copied into the
        // database file before anything more is written into it (and the
        // connection is then opened again, on a new log).
        self.connection()?;
        self.keep_wal(false)?;
        if self.conn.is_none() {
            self.connection()?;
        }
        let conn = self
            .conn
            .as_ref()
            .ok_or_else(|| InboxError::Unavailable("no database connection".into()))?;
        // A connection SQLite opened read-only fails the batch, and is
        // opened again for the next one (the file may be writable by then).
        db::check_writable(conn)?;
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(db::unavailable)?;
        for op in batch.iter_mut() {
            let savepoint = op.needs_savepoint();
            if savepoint {
                conn.prepare_cached("SAVEPOINT op")?.execute([])?;
            }
            let applied = op.apply(conn);
            if conn.is_autocommit() {
                // SQLite rolled the whole transaction back (disk full, I/O error):
                // nothing of this batch is stored.
                let error = applied.err().unwrap_or_else(|| {
                    InboxError::Unavailable("the transaction was rolled back".into())
                });
                return Err(match error {
                    InboxError::Unavailable(e) => InboxError::Unavailable(e),
                    other => InboxError::Unavailable(other.to_string()),
                });
            }
            if savepoint {
                if applied.is_err() {
                    conn.prepare_cached("ROLLBACK TO op")?.execute([])?;
                }
                conn.prepare_cached("RELEASE op")?.execute([])?;
            }
        }
        conn.execute_batch("COMMIT").map_err(db::unavailable)?;
        Ok(())
    }
}
