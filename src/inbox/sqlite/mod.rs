//! The SQLite store: one database file (or a private in-memory database),
//! one writer thread that group-commits every write ([`writer`]), a small
//! pool of read connections ([`db::Reader`]).

pub(crate) mod codec;
mod db;
mod queue;
mod rows;
mod writer;

use crate::inbox::Derived;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, Notify};

use super::admission::{hand_over, writer_gone, Admission};
use super::options::Target;
use super::queue::{ClaimRequest, Claimed, FinishReport, RunOutcome};
use super::{
    now_ms, BoxFuture, EventSummary, Exported, Fingerprint, InboxError, InboxOptions, ListFilter,
    NewEvent, Opening, Purged, State, Store, Stored, StoredEvent,
};
use writer::{FnOp, Settled, WriteOp};

pub(crate) struct SqliteStore {
    target: Target,
    /// Opened for reading only ([`Opening::Read`]): read connections are
    /// opened read-only and there is no writer.
    read_only: bool,
    options: InboxOptions,
    tx: mpsc::Sender<Box<dyn WriteOp>>,
    admission: Admission,
    readers: Mutex<Vec<db::Reader>>,
    changed: Arc<Notify>,
    /// The free bytes on the inbox's disk when an event last could not be
    /// stored while space was low ([`FULL_NONE`] since one was stored): the
    /// disk is taken to be full until an event is stored again or space is
    /// freed (see `ready`).
    found_full: AtomicU64,
    /// How much more free space than [`SqliteStore::found_full`] makes
    /// `ready` believe an event fits again: room for the largest event not
    /// stored since ([`room_for`]).
    found_need: AtomicU64,
    /// The process's file-size limit (`ulimit -f`) when an event last could
    /// not be stored because a file of the inbox had reached it
    /// ([`FULL_NONE`] since one was stored): not ready until an event is
    /// stored again or the limit is raised (see `ready`).
    found_limit: AtomicU64,
    /// [`free_bytes`] (replaced in tests).
    free_space: fn(&Path) -> Result<u64, InboxError>,
    /// `PATH-lock`, locked shared while this store is open, so that `inbox
    /// migrate` can tell that another process uses the inbox (see
    /// [`SqliteStore::claim_sole_use`]), and a read-only opening whether a
    /// claim it finds can be live ([`open_elsewhere`]). A lock file of its own: SQLite's
    /// locks on the database file are left alone.
    in_use: Option<std::fs::File>,
}

/// [`SqliteStore::found_full`] when no write has found the disk full.
const FULL_NONE: u64 = u64::MAX;

/// The most free space, beyond what there was when a write found the disk
/// full, that `ready` asks for before it believes an event fits again.
const FREED_ENOUGH: u64 = 1 << 20;

/// What committing one event of `body` bytes takes on the disk, at most: its
/// body, and the pages of the tables and indexes it changes (about ten 4 KiB
/// pages, each appended to the write-ahead log again by every commit),
/// capped at [`FREED_ENOUGH`]. Asking a whole [`FREED_ENOUGH`] of a small
/// disk kept `/readyz` at 503 while events were stored again (300 kB freed
/// on a 2 MiB file system), and a load balancer that follows `/readyz`
/// would then send none to clear it.
fn room_for(body: u64) -> u64 {
    body.saturating_add(64 * 1024).min(FREED_ENOUGH)
}

impl SqliteStore {
    /// Open the database (creating file and schema when allowed) and start
    /// the writer thread; commits notify `changed`. Blocks while the file is
    /// opened and migrated. To be used, an inbox with an unfinished `inbox
    /// migrate` into it is refused.
    pub(crate) fn open(
        target: Target,
        options: InboxOptions,
        changed: Arc<Notify>,
        opening: Opening,
    ) -> Result<SqliteStore, InboxError> {
        if matches!(target, Target::File(_)) {
            survive_file_size_limit();
        }
        let read_only = match (&target, opening) {
            (Target::File(path), Opening::Read) => Some(path),
            _ => None,
        };
        let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
        let in_use = match read_only {
            // Read only: no writer (the channel's other end is dropped, so
            // a write fails with "the inbox writer has stopped"); the file
            // is checked as `open_writer` would, without writing it.
            Some(path) => {
                if !path.exists() {
                    return Err(db::no_inbox_at(path));
                }
                // The first reads happen here: a failure is an opening's.
                let mark = db::Reader::checkout(None, path, &options, true)
                    .and_then(|reader| {
                        db::check_readable(&reader.conn)?;
                        rows::import_mark(&reader.conn)
                    })
                    .map_err(|e| opening_failure(&target, e))?;
                if let Some(mark) = mark {
                    return Err(crate::inbox::migrate::unfinished(&describe(&target), &mark));
                }
                drop(rx);
                None
            }
            None => {
                let conn =
                    db::open_writer(&target, &options).map_err(|e| opening_failure(&target, e))?;
                if opening != Opening::MigrationTarget {
                    if let Some(mark) = rows::import_mark(&conn)? {
                        return Err(crate::inbox::migrate::unfinished(&describe(&target), &mark));
                    }
                }
                writer::spawn(target.clone(), conn, rx, options.clone())?;
                match &target {
                    Target::File(path) => lock_shared(path),
                    Target::Memory => None,
                }
            }
        };
        Ok(SqliteStore {
            read_only: read_only.is_some(),
            in_use,
            admission: Admission::new(options.queue_bytes),
            target,
            options,
            tx,
            readers: Mutex::new(Vec::new()),
            changed,
            found_full: AtomicU64::new(FULL_NONE),
            found_need: AtomicU64::new(0),
            found_limit: AtomicU64::new(FULL_NONE),
            free_space: free_bytes,
        })
    }

    /// Run `f` in the writer's next transaction and wait for its commit.
    async fn write<T, F>(&self, f: F, notify: bool) -> Result<T, InboxError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T, InboxError> + Send + 'static,
    {
        let (op, rx) = FnOp::new(f, notify.then(|| self.changed.clone()));
        self.tx.send(op).await.map_err(|_| writer_gone())?;
        rx.await.unwrap_or_else(|_| Err(writer_gone()))
    }

    /// Run `f` on a read connection on a blocking thread (in the writer for
    /// an in-memory inbox, which has only one connection).
    async fn read<T, F>(&self, f: F) -> Result<T, InboxError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T, InboxError> + Send + 'static,
    {
        let path = match &self.target {
            Target::Memory => return self.write(f, false).await,
            Target::File(path) => path.clone(),
        };
        let options = self.options.clone();
        let read_only = self.read_only;
        let pooled = {
            let mut pool = self.readers.lock().unwrap_or_else(|e| e.into_inner());
            pool.pop()
        };
        let (reader, result) = tokio::task::spawn_blocking(move || {
            match db::Reader::checkout(pooled, &path, &options, read_only) {
                Ok(reader) => {
                    let result = f(&reader.conn);
                    (Some(reader).filter(|_| result.is_ok()), result)
                }
                Err(e) => (None, Err(e)),
            }
        })
        .await
        .map_err(|e| InboxError::Unavailable(format!("inbox read task failed: {e}")))?;
        if let Some(reader) = reader {
            let mut pool = self.readers.lock().unwrap_or_else(|e| e.into_inner());
            if pool.len() < 4 {
                pool.push(reader);
            }
        }
        result
    }
}

/// The schema on a connection of a unit test.
#[cfg(test)]
pub(crate) fn create_schema_for_tests(conn: &rusqlite::Connection) {
    db::ensure_schema(conn).expect("the inbox schema");
}

/// Free bytes for an unprivileged writer on the file system of `path`.
#[cfg(unix)]
fn free_bytes(path: &Path) -> Result<u64, InboxError> {
    let dir = db::directory_of(path);
    let stat = rustix::fs::statvfs(dir).map_err(|e| {
        InboxError::Unavailable(format!(
            "cannot read the free space of {}: {e}",
            dir.display()
        ))
    })?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(not(unix))]
fn free_bytes(_path: &Path) -> Result<u64, InboxError> {
    Ok(u64::MAX)
}

/// A write past the process's file-size limit (`ulimit -f`, systemd
/// `LimitFSIZE=`) fails (`EFBIG`: the event is not stored and is answered
/// 503, and `ready` names the limit) instead of killing the process, which
/// is what `SIGXFSZ` does by default: a handled signal (Tokio's handler,
/// registered for good) leaves the write to fail. Without a Tokio runtime
/// the default stays.
#[cfg(unix)]
fn survive_file_size_limit() {
    if tokio::runtime::Handle::try_current().is_err() {
        return;
    }
    let xfsz = tokio::signal::unix::SignalKind::from_raw(rustix::process::Signal::XFSZ.as_raw());
    if let Err(error) = tokio::signal::unix::signal(xfsz) {
        tracing::debug!(%error, "cannot handle SIGXFSZ: a write past the file-size limit stops the process");
    }
}

#[cfg(not(unix))]
fn survive_file_size_limit() {}

/// The process's file-size limit in bytes (`ulimit -f`), if it has one.
#[cfg(unix)]
fn file_size_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Fsize).current
}

#[cfg(not(unix))]
fn file_size_limit() -> Option<u64> {
    None
}

/// The file-size limit, when the database or its write-ahead log has
/// reached it: one more page (at most 64 KiB in SQLite) does not fit.
fn at_file_size_limit(path: &Path) -> Option<u64> {
    let limit = file_size_limit()?;
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    [path.to_path_buf(), wal.into()]
        .iter()
        .filter_map(|file| std::fs::metadata(file).ok())
        .any(|meta| meta.len().saturating_add(64 * 1024) >= limit)
        .then_some(limit)
}

/// `inbox` (e.g. "the inbox PATH") cannot grow past the process's
/// file-size limit `limit`: `what` happened, and `then` is what to do.
fn file_size_limit_reached(inbox: &str, limit: u64, what: &str, then: &str) -> InboxError {
    InboxError::Unavailable(format!(
        "{inbox} cannot grow past this process's file-size limit ({limit} bytes: \
         `ulimit -f`, systemd `LimitFSIZE=`): {what}; raise or remove the limit {then}"
    ))
}

/// `err`, of a database file that could not be opened, naming the
/// process's file-size limit when the file is at it: SQLite says only
/// "disk I/O error" or "database or disk is full". Said to the receiver
/// and to the `inbox` commands alike (the receiver adds that webhooks are
/// answered 503 meanwhile).
fn opening_failure(target: &Target, err: InboxError) -> InboxError {
    let (Target::File(path), InboxError::Unavailable(message)) = (target, &err) else {
        return err;
    };
    match at_file_size_limit(path) {
        // Shown after the store's URL (`sqlite://PATH: ...`) while `serve`
        // retries, or after `--store`'s by the other commands: no path again.
        Some(limit) => file_size_limit_reached(
            "the database file",
            limit,
            &format!("it cannot be opened ({message})"),
            "of the process that opens it (`tradecloud serve`: then restart it; an `inbox` \
             command: run it again)",
        ),
        None => err,
    }
}

impl SqliteStore {
    /// After an event's write: an event not stored while space is low is
    /// taken as the disk being full (SQLite says "database or disk is full",
    /// or an I/O error when `fsync` finds no room); one stored clears that.
    /// A file of the inbox at the process's file-size limit is noted the
    /// same way: `ready` then names the limit. `body` is the event's size.
    fn note_disk<T>(&self, outcome: &Result<T, InboxError>, body: u64) {
        match outcome {
            Ok(_) => {
                self.found_full.store(FULL_NONE, Ordering::Relaxed);
                self.found_need.store(0, Ordering::Relaxed);
                self.found_limit.store(FULL_NONE, Ordering::Relaxed);
            }
            Err(InboxError::Unavailable(_)) => {
                if let Target::File(path) = &self.target {
                    if let Some(limit) = at_file_size_limit(path) {
                        self.found_limit.store(limit, Ordering::Relaxed);
                    } else if let Ok(free) = (self.free_space)(path) {
                        if free < self.options.min_free_bytes {
                            self.found_need.fetch_max(room_for(body), Ordering::Relaxed);
                            self.found_full.store(free, Ordering::Relaxed);
                        }
                    }
                }
            }
            Err(_) => {}
        }
    }

    /// `Unavailable` while the last event write found the disk full and no
    /// space has been freed since.
    fn still_full(&self) -> Result<(), InboxError> {
        let found = self.found_full.load(Ordering::Relaxed);
        let Target::File(path) = &self.target else {
            return Ok(());
        };
        let limit = self.found_limit.load(Ordering::Relaxed);
        if limit != FULL_NONE && file_size_limit().is_some_and(|now| now <= limit) {
            return Err(file_size_limit_reached(
                &format!("the inbox {}", path.display()),
                limit,
                "the last event could not be stored, and webhooks are answered 503 until one is",
                "and restart the receiver",
            ));
        }
        if found == FULL_NONE {
            return Ok(());
        }
        let free = (self.free_space)(path)?;
        let need = self
            .found_need
            .load(Ordering::Relaxed)
            .clamp(1, FREED_ENOUGH);
        if free >= found.saturating_add(need) {
            return Ok(());
        }
        Err(InboxError::Unavailable(format!(
            "the disk of the inbox {} is full: the last event could not be stored ({free} bytes \
             free), and webhooks are answered 503 until an event fits again; free some space",
            path.display()
        )))
    }
}

/// The lock file next to the database (`PATH-lock`).
fn lock_path(path: &Path) -> std::path::PathBuf {
    let mut lock = path.as_os_str().to_owned();
    lock.push("-lock");
    lock.into()
}

/// Open `PATH-lock` and lock it shared; `None` when that cannot be done (a
/// lock file this user may not even read, a migrate holding it
/// exclusively): the lock serves `inbox migrate`'s check and tells a
/// read-only opening whether claims can be live ([`open_elsewhere`]),
/// never the inbox itself. Found locked exclusively, it is tried again a
/// few times, 5 ms apart: a read-only opening's check holds it only for
/// as long as one `flock` call takes, and a store opening at that moment
/// must not go unseen.
fn lock_shared(path: &Path) -> Option<std::fs::File> {
    let lock = lock_path(path);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock)
        // A lock file this user may read but not write locks as well.
        .or_else(|_| std::fs::File::open(&lock))
        .ok()?;
    #[cfg(unix)]
    {
        let mut tries = 0;
        loop {
            match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockShared) {
                Ok(()) => break,
                Err(rustix::io::Errno::WOULDBLOCK) if tries < 20 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return None,
            }
        }
    }
    Some(file)
}

/// Whether a store that may claim events has the SQLite inbox at `path`
/// open, in any process (this one included): every store opened to be used
/// (a receiver, a processor, an `inbox` command that writes) holds
/// `PATH-lock` shared ([`lock_shared`]) while it is open. Told by locking
/// it exclusively without waiting and closing it at once; `true` whenever
/// that cannot be told (no lock file, no `flock` here). Only a read-only
/// opening asks: a store holding the lock itself would always find it
/// held.
fn open_elsewhere(path: &Path) -> bool {
    #[cfg(unix)]
    {
        let Ok(file) = std::fs::File::open(lock_path(path)) else {
            return true;
        };
        let free =
            rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok();
        if free {
            let _ = rustix::fs::flock(&file, rustix::fs::FlockOperation::Unlock);
        }
        !free
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        true
    }
}

/// The lock file a receiving process holds exclusively (`PATH-receiver-lock`,
/// see [`claim_receiving`]); beside `PATH-lock`, which every open store
/// holds shared.
fn receiver_lock_path(path: &Path) -> std::path::PathBuf {
    let mut lock = path.as_os_str().to_owned();
    lock.push("-receiver-lock");
    lock.into()
}

/// The receiver lock of a SQLite inbox, held exclusively (`flock`) by this
/// process's receiver (see [`claim_receiving`]). Dropping it removes
/// `PATH-receiver-lock` from the disk, while still holding the lock and only
/// when that path still names the file this holder locked, so a clean
/// shutdown leaves nothing behind and another process's lock is never
/// removed. A holder that dies without dropping it (SIGKILL, a crash) leaves
/// the file, but the kernel has released its `flock`: the next receiver
/// locks that file again and writes its own process id into it.
#[derive(Debug)]
pub(crate) struct ReceiverLock {
    file: std::fs::File,
    path: std::path::PathBuf,
}

impl Drop for ReceiverLock {
    fn drop(&mut self) {
        #[cfg(unix)]
        if names_file(&self.path, &self.file) {
            if let Err(error) = std::fs::remove_file(&self.path) {
                tracing::debug!(
                    lock = %self.path.display(), %error,
                    "cannot remove the receiver lock of the SQLite inbox; the next receiver \
                     takes it over"
                );
            }
        }
    }
}

/// Whether `path` names the very file `file` has open (same device and
/// inode): false once it was removed, or removed and created again, by a
/// holder that released it.
#[cfg(unix)]
fn names_file(path: &Path, file: &std::fs::File) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(named), Ok(open)) => named.dev() == open.dev() && named.ino() == open.ino(),
        _ => false,
    }
}

/// What locking an opened receiver lock file found.
#[cfg(unix)]
#[derive(Debug)]
enum Locking {
    /// Locked, and the path still names the file: this process holds it.
    Held,
    /// Another process holds it.
    Busy,
    /// Locked, but a holder that stopped removed the path after this file
    /// was opened: the lock of an unlinked file refuses no one, so open the
    /// path again.
    Gone,
    /// `flock` does not work here.
    Failed(rustix::io::Errno),
}

/// Lock the opened receiver lock `file` of `path` exclusively, without
/// waiting.
#[cfg(unix)]
fn lock_opened(file: &std::fs::File, path: &Path) -> Locking {
    match rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) if names_file(path, file) => Locking::Held,
        Ok(()) => Locking::Gone,
        Err(rustix::io::Errno::WOULDBLOCK) => Locking::Busy,
        Err(error) => Locking::Failed(error),
    }
}

/// Lock `PATH-receiver-lock` exclusively for the receiver about to use the
/// SQLite inbox at `path`, and write this process's id into it: a SQLite
/// inbox has one receiving process (its writer's rescue of a lost
/// write-ahead log, the full-disk note, the processor's claims and the
/// handoff live in that process). `Invalid` naming the holder's process id
/// when another receiver (another process, or another inbox handle of this
/// one) holds it; `inbox` commands do not take this lock and work beside a
/// receiver. `None` when the lock file cannot be opened or locked at all
/// (a directory this user may not write, a file system without `flock`):
/// a warning then, since such an inbox cannot be written either and the
/// receiver must still start and answer 503 until it can. The file is
/// removed again when the returned lock is dropped ([`ReceiverLock`]).
pub(crate) fn claim_receiving(path: &Path) -> Result<Option<ReceiverLock>, InboxError> {
    let lock = receiver_lock_path(path);
    // A holder that stops removes the file: one opened just before that
    // is opened again (a few times at most: each round needs another
    // receiver to start and stop in between).
    let mut attempts = 0;
    let file = loop {
        attempts += 1;
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock)
            // A lock file this user may read but not write locks as well;
            // when there is none, why it could not be created is the news
            // (a read-only file system, not "no such file").
            .or_else(|created| std::fs::File::open(&lock).map_err(|_| created));
        let file = match opened {
            Ok(file) => file,
            Err(error) => {
                tracing::warn!(
                    lock = %lock.display(), %error,
                    "cannot open the receiver lock of the SQLite inbox: a second receiver on this \
                     inbox would not be refused"
                );
                return Ok(None);
            }
        };
        #[cfg(not(unix))]
        break file;
        #[cfg(unix)]
        match lock_opened(&file, &lock) {
            Locking::Held => break file,
            Locking::Gone if attempts < 5 => continue,
            Locking::Busy | Locking::Gone => {
                let holder = std::fs::read_to_string(&lock)
                    .ok()
                    .and_then(|text| text.trim().parse::<u32>().ok())
                    .map(|pid| format!("another receiver, process {pid},"))
                    .unwrap_or_else(|| "another receiver".into());
                return Err(InboxError::Invalid(format!(
                    "{holder} holds the SQLite inbox {} (its lock {}): a SQLite inbox takes one \
                     receiving process. Stop the other `tradecloud serve` first, or, to run \
                     several receivers on one inbox, give them all one PostgreSQL database \
                     ([store] url = \"postgres://...\", see `tradecloud inbox migrate`). \
                     `tradecloud inbox` commands work beside a running receiver",
                    path.display(),
                    lock.display()
                )));
            }
            Locking::Failed(error) => {
                tracing::warn!(
                    lock = %lock.display(), %error,
                    "cannot lock the receiver lock of the SQLite inbox: a second receiver on this \
                     inbox would not be refused"
                );
                return Ok(None);
            }
        }
    };
    // Who holds it, for the message of the next one (best effort).
    {
        use std::io::Write as _;
        let _ = file.set_len(0);
        let _ = (&file).write_all(format!("{}\n", std::process::id()).as_bytes());
    }
    Ok(Some(ReceiverLock { file, path: lock }))
}

/// `sqlite:///path` or `sqlite::memory:`.
fn describe(target: &Target) -> String {
    match target {
        Target::Memory => "sqlite::memory:".into(),
        Target::File(path) => format!("sqlite://{}", path.display()),
    }
}

impl Store for SqliteStore {
    fn describe(&self) -> String {
        describe(&self.target)
    }

    fn path(&self) -> Option<&Path> {
        match &self.target {
            Target::File(path) => Some(path),
            Target::Memory => None,
        }
    }

    fn changed(&self) -> Arc<Notify> {
        self.changed.clone()
    }

    fn store(
        &self,
        event: NewEvent,
        mut derived: Derived,
    ) -> BoxFuture<'_, Result<Stored, InboxError>> {
        Box::pin(async move {
            let guard = self.admission.reserve(event.body.len())?;
            let body = event.body.len() as u64;
            // Compressed here, in the caller's task: the writer only writes.
            derived.packed = Some(codec::Packed::of(&event.body));
            // The decoded webhook goes into the handoff on the writer thread
            // as soon as the event has its id, so that every claim after it
            // (claims run on the writer too, some in the same batch) finds it
            // held; taken out again if the batch is not committed (SQLite may
            // give the id to another event then).
            let handed_on = derived.handed_on.take();
            let handoff = handed_on.as_ref().map(|h| h.handoff.clone());
            let settled = handoff.map(|handoff| -> Settled<Stored> {
                Box::new(move |stored: &Stored, committed: bool| {
                    if let (Stored::New(id), false) = (stored, committed) {
                        handoff.take(*id);
                    }
                })
            });
            // `insert_event` writes the event, its body and maybe its head: it
            // runs in a savepoint of its own within the group commit.
            let (op, rx) = FnOp::then(
                move |conn: &rusqlite::Connection| {
                    let _guard = &guard;
                    let stored = rows::insert_event(conn, &event, &derived, now_ms())?;
                    if let (Stored::New(id), Some(handed_on)) = (stored, handed_on) {
                        handed_on.put(id);
                    }
                    Ok(stored)
                },
                Some(self.changed.clone()),
                settled,
            );
            hand_over(&self.tx, op)?;
            let stored = rx.await.unwrap_or_else(|_| Err(writer_gone()));
            self.note_disk(&stored, body);
            stored
        })
    }

    fn low_space(&self) -> Option<String> {
        let Target::File(path) = &self.target else {
            return None;
        };
        // A free space that cannot be read is for `ready` to find, if it matters.
        let free = (self.free_space)(path).ok()?;
        (free < self.options.min_free_bytes).then(|| {
            format!(
                "only {free} bytes free on the disk of the inbox {} (fewer than {}): events are \
                 still stored, but once the disk is full webhooks are answered 503; free some space",
                path.display(),
                self.options.min_free_bytes
            )
        })
    }

    fn ready(&self) -> BoxFuture<'_, Result<(), InboxError>> {
        Box::pin(async move {
            // An operation that writes nothing: the batch it joins still takes
            // the write lock (BEGIN IMMEDIATE) and reopens a replaced file
            // (a file that became read-only is found then); a batch of
            // nothing but this commits without an fsync.
            let (op, rx) = FnOp::new(db::check_writable, None);
            hand_over(&self.tx, op)?;
            rx.await.unwrap_or_else(|_| Err(writer_gone()))?;
            // That writes nothing, so it passes on a full disk: a write that
            // found the disk full says more, until space is freed.
            self.still_full()
        })
    }

    fn list(&self, filter: ListFilter) -> BoxFuture<'_, Result<Vec<EventSummary>, InboxError>> {
        Box::pin(self.read(move |conn| rows::list(conn, &filter)))
    }

    fn get(&self, id: i64) -> BoxFuture<'_, Result<Option<StoredEvent>, InboxError>> {
        Box::pin(self.read(move |conn| rows::get(conn, id)))
    }

    fn attempts(&self, id: i64) -> BoxFuture<'_, Result<Vec<super::Attempt>, InboxError>> {
        Box::pin(self.read(move |conn| queue::attempts(conn, id)))
    }

    fn replay(&self, id: i64) -> BoxFuture<'_, Result<(), InboxError>> {
        Box::pin(self.write(move |conn| rows::replay(conn, id, now_ms()), true))
    }

    fn mark_dead(&self, id: i64, reason: String) -> BoxFuture<'_, Result<(), InboxError>> {
        Box::pin(self.write(
            move |conn| rows::mark_dead(conn, id, &reason, now_ms()),
            true,
        ))
    }

    fn held(&self, id: i64) -> BoxFuture<'_, Result<bool, InboxError>> {
        // Opened read-only, this store claims nothing: a claim it finds is
        // live only while a store that may claim has the file open. Asked
        // after the claim was read: the store that made it had the file
        // open then, so none open now means that one is gone too.
        let read_only = match &self.target {
            Target::File(path) if self.read_only => Some(path.clone()),
            _ => None,
        };
        Box::pin(self.read(move |conn| {
            let held = rows::held(conn, id)?;
            Ok(held && read_only.is_none_or(|path| open_elsewhere(&path)))
        }))
    }

    fn counts(&self) -> BoxFuture<'_, Result<Vec<(State, u64)>, InboxError>> {
        Box::pin(self.read(rows::counts))
    }

    fn backlog(&self) -> BoxFuture<'_, Result<super::Backlog, InboxError>> {
        Box::pin(self.read(|conn| super::backlog::sqlite(conn, now_ms())))
    }

    fn purgeable(&self, cutoff_ms: i64) -> BoxFuture<'_, Result<Purged, InboxError>> {
        Box::pin(self.read(move |conn| rows::purgeable(conn, cutoff_ms)))
    }

    fn purge_batch(
        &self,
        cutoff_ms: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Purged, InboxError>> {
        Box::pin(self.write(move |conn| rows::purge_batch(conn, cutoff_ms, limit), false))
    }

    fn recover(&self) -> BoxFuture<'_, Result<u64, InboxError>> {
        Box::pin(self.write(queue::release_all, true))
    }

    fn claim(&self, request: ClaimRequest) -> BoxFuture<'_, Result<Vec<Claimed>, InboxError>> {
        Box::pin(self.write(move |conn| queue::claim(conn, &request, now_ms()), false))
    }

    fn renew(
        &self,
        owner: String,
        keys: Vec<String>,
        lease: Duration,
    ) -> BoxFuture<'_, Result<(), InboxError>> {
        Box::pin(self.write(
            move |conn| queue::renew(conn, &owner, &keys, lease, now_ms()),
            false,
        ))
    }

    fn mark_handling(
        &self,
        owner: String,
        id: i64,
        alone: bool,
    ) -> BoxFuture<'_, Result<bool, InboxError>> {
        Box::pin(self.write(
            move |conn| queue::mark_handling(conn, &owner, id, alone, now_ms()),
            false,
        ))
    }

    fn finish(
        &self,
        owner: String,
        runs: Vec<RunOutcome>,
    ) -> BoxFuture<'_, Result<FinishReport, InboxError>> {
        Box::pin(self.write(
            move |conn| queue::finish(conn, &owner, &runs, now_ms()),
            true,
        ))
    }

    fn next_due(&self) -> BoxFuture<'_, Result<Option<Duration>, InboxError>> {
        Box::pin(self.read(|conn| queue::next_due(conn, now_ms())))
    }

    fn export(&self, after: i64, limit: usize) -> BoxFuture<'_, Result<Vec<Exported>, InboxError>> {
        Box::pin(self.read(move |conn| rows::export(conn, after, limit)))
    }

    fn import(&self, events: Vec<Exported>) -> BoxFuture<'_, Result<(), InboxError>> {
        Box::pin(self.write(move |conn| rows::import(conn, &events), false))
    }

    fn begin_import(&self, source: String) -> BoxFuture<'_, Result<Option<String>, InboxError>> {
        let describe = self.describe();
        Box::pin(self.write(
            move |conn| rows::begin_import(conn, &describe, &source, now_ms()),
            false,
        ))
    }

    fn finish_import(&self) -> BoxFuture<'_, Result<(), InboxError>> {
        Box::pin(self.write(
            |conn| {
                queue::rebuild_heads(conn)?;
                queue::rebuild_active_from(conn)?;
                rows::clear_import_mark(conn)
            },
            true,
        ))
    }

    fn claim_sole_use(&self) -> Result<(), InboxError> {
        let Target::File(path) = &self.target else {
            return Ok(());
        };
        let in_use = || {
            InboxError::Invalid(format!(
                "the inbox {} is open in another process (a running `tradecloud serve`, or an \
                 `inbox` command): events it stores after the copy would stay behind. Stop it, \
                 then run the migrate again",
                path.display()
            ))
        };
        match &self.in_use {
            // Shared by this store: made exclusive when nobody else holds it.
            #[cfg(unix)]
            Some(file) => {
                match rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
                {
                    Ok(()) => Ok(()),
                    Err(rustix::io::Errno::WOULDBLOCK) => Err(in_use()),
                    Err(e) => Err(InboxError::Unavailable(format!(
                        "cannot lock {}: {e}",
                        lock_path(path).display()
                    ))),
                }
            }
            #[cfg(not(unix))]
            Some(_) => Ok(()),
            // Not even shared: someone holds it exclusively (another migrate).
            None if lock_path(path).exists() => Err(in_use()),
            None => Ok(()),
        }
    }

    fn fingerprint(&self) -> BoxFuture<'_, Result<Fingerprint, InboxError>> {
        Box::pin(self.read(rows::fingerprint))
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::task::{Context, Waker};

    use super::*;
    use crate::inbox::handoff::{HandedOn, Handoff};
    use crate::inbox::{NewEvent, Opening};
    use crate::webhook::Endpoint;

    /// A webhook put into the handoff when its event was inserted is taken
    /// out again when the batch then fails to commit: SQLite may give the
    /// same id to another event, which must not be handled with this
    /// webhook. The batch fails on a deferred foreign key, checked only at
    /// `COMMIT`, of an operation queued behind the store in the same batch.
    #[tokio::test]
    async fn a_batch_that_does_not_commit_leaves_nothing_in_the_handoff() {
        let store = SqliteStore::open(
            Target::Memory,
            InboxOptions::default(),
            Arc::new(Notify::new()),
            Opening::Use,
        )
        .unwrap();
        store
            .write(
                |conn| {
                    conn.execute_batch(
                        "CREATE TABLE parent (id INTEGER PRIMARY KEY);
                         CREATE TABLE child (parent INTEGER REFERENCES parent (id)
                             DEFERRABLE INITIALLY DEFERRED);",
                    )?;
                    Ok(())
                },
                false,
            )
            .await
            .unwrap();
        // Hold the writer in a batch of its own while the next one is
        // queued: the writer fixes a batch before it runs it, so once this
        // operation runs, what is queued after it goes into the next batch.
        // (Queued before the writer took this one, all three would share a
        // batch and all fail.)
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (running, started) = std::sync::mpsc::channel::<()>();
        let (op, blocked) = FnOp::new(
            move |_: &rusqlite::Connection| {
                let _ = running.send(());
                let _ = held.recv();
                Ok(())
            },
            None,
        );
        store.tx.send(op).await.unwrap();
        started.recv().unwrap();
        let handoff = Arc::new(Handoff::default());
        handoff.open();
        let body = bytes::Bytes::from_static(
            br#"{"eventName": "OrderIssuedByBuyer", "orderEvent": {"orderId": "o1", "lines": []}}"#,
        );
        let webhook = crate::webhook::decode(Endpoint::Order, "application/json", &body).unwrap();
        let event = NewEvent::from_webhook(&webhook, "application/json", body.clone());
        let derived = Derived {
            handed_on: Some(HandedOn {
                handoff: handoff.clone(),
                webhook,
                body_len: body.len(),
            }),
            ..Derived::default()
        };
        let mut stored = std::pin::pin!(store.store(event, derived));
        assert!(stored
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending());
        let (op, orphan) = FnOp::new(
            |conn: &rusqlite::Connection| {
                conn.execute("INSERT INTO child VALUES (42)", [])?;
                Ok(())
            },
            None,
        );
        store.tx.send(op).await.unwrap();
        release.send(()).unwrap();
        blocked.await.unwrap().unwrap();
        assert!(
            orphan.await.unwrap().is_err(),
            "the foreign key fails the commit"
        );
        assert!(stored.await.is_err(), "the event is not stored");
        assert_eq!(handoff.len(), 0, "the webhook left the handoff");
    }

    static FREE: AtomicU64 = AtomicU64::new(0);

    fn fake_free(_: &Path) -> Result<u64, InboxError> {
        Ok(FREE.load(Ordering::Relaxed))
    }

    fn order_event(message_id: &str) -> NewEvent {
        let body = bytes::Bytes::from(format!(
            r#"{{"eventName": "OrderIssuedByBuyer", "orderEvent": {{"orderId": "o1", "lines": []}}, "messageId": "{message_id}"}}"#
        ));
        let webhook = crate::webhook::decode(Endpoint::Order, "application/json", &body).unwrap();
        NewEvent::from_webhook(&webhook, "application/json", body)
    }

    /// On a full disk the readiness check (which writes nothing) would pass
    /// while every event gets 503: an event not stored while space is low
    /// makes the inbox not ready until space is freed or an event fits.
    #[tokio::test]
    async fn a_write_that_found_the_disk_full_makes_it_not_ready_until_space_is_freed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inbox.db");
        let options = InboxOptions {
            busy_timeout: Duration::from_millis(100),
            ..InboxOptions::default()
        };
        let low = options.min_free_bytes / 2;
        let mut store = SqliteStore::open(
            Target::File(path.clone()),
            options,
            Arc::new(Notify::new()),
            Opening::Use,
        )
        .unwrap();
        store.free_space = fake_free;
        FREE.store(low, Ordering::Relaxed);
        store
            .store(order_event("m-0"), Derived::default())
            .await
            .unwrap();
        store.ready().await.unwrap();

        // The next event cannot be written (here because another program
        // holds the write lock; on a full disk because there is no room).
        let other = rusqlite::Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let failed = store.store(order_event("m-1"), Derived::default()).await;
        assert!(
            matches!(failed, Err(InboxError::Unavailable(_))),
            "{failed:?}"
        );
        other.execute_batch("ROLLBACK").unwrap();
        let err = store.ready().await.unwrap_err();
        assert!(
            matches!(&err, InboxError::Unavailable(m) if m.contains("is full") && m.contains("free some space")),
            "{err:?}"
        );
        // Room freed for the event that was not stored is enough: a small
        // disk may never free a whole FREED_ENOUGH.
        let room = room_for(order_event("m-1").body.len() as u64);
        assert!(room < FREED_ENOUGH);
        FREE.store(low + room - 1, Ordering::Relaxed);
        assert!(store.ready().await.is_err());
        FREE.store(low + room, Ordering::Relaxed);
        store.ready().await.unwrap();
        // Space freed: ready again; filled again before any event: not.
        FREE.store(low + FREED_ENOUGH, Ordering::Relaxed);
        store.ready().await.unwrap();
        FREE.store(low, Ordering::Relaxed);
        assert!(store.ready().await.is_err());
        // An event that fits clears it.
        store
            .store(order_event("m-1"), Derived::default())
            .await
            .unwrap();
        store.ready().await.unwrap();

        // With room on the disk, a failed write says nothing about it.
        FREE.store(u64::MAX / 2, Ordering::Relaxed);
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        assert!(store
            .store(order_event("m-2"), Derived::default())
            .await
            .is_err());
        other.execute_batch("ROLLBACK").unwrap();
        store.ready().await.unwrap();
    }

    /// The read-only opening (`inbox list`, `show`, `dead`) names the file
    /// in a `file:` URI: every name opens that very file, whatever it holds
    /// that a URI gives a meaning to (`%41` is not `A`, `?` and `#` do not
    /// end the path, `//` at the start is no authority), and its events are
    /// listed.
    #[tokio::test]
    async fn the_read_only_opening_reads_files_with_awkward_names() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths: Vec<std::path::PathBuf> = [
            "per%41cent.db",
            "per%cent.db",
            "ques?mode=rwc.db",
            "hash#tag.db",
            "with space.db",
            "and&amp.db",
            "eq=ual.db",
            "niño-ünï-日本.db",
        ]
        .iter()
        .map(|name| dir.path().join(name))
        .collect();
        // Also an absolute path written with `//` (the same directory).
        paths.push(Path::new(&format!("/{}", dir.path().display())).join("slashes.db"));
        #[cfg(unix)]
        paths.push(dir.path().join(
            <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"not-utf8-\xff.db"),
        ));
        for (n, path) in paths.into_iter().enumerate() {
            let target = Target::File(path.clone());
            let writing = SqliteStore::open(
                target.clone(),
                InboxOptions::default(),
                Arc::new(Notify::new()),
                Opening::Use,
            )
            .unwrap();
            // An order of its own per file: the events listed are this file's.
            let order = format!("o-{n}");
            let body = bytes::Bytes::from(format!(
                r#"{{"eventName": "OrderIssuedByBuyer", "orderEvent": {{"orderId": "{order}", "lines": []}}}}"#
            ));
            let webhook =
                crate::webhook::decode(Endpoint::Order, "application/json", &body).unwrap();
            writing
                .store(
                    NewEvent::from_webhook(&webhook, "application/json", body),
                    Derived::default(),
                )
                .await
                .unwrap();
            drop(writing);
            let reading = SqliteStore::open(
                target,
                InboxOptions::default(),
                Arc::new(Notify::new()),
                Opening::Read,
            )
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let events = reading
                .list(crate::inbox::ListFilter::default())
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(
                events
                    .iter()
                    .map(|e| e.object_id.as_deref())
                    .collect::<Vec<_>>(),
                [Some(order.as_str())],
                "{}",
                path.display()
            );
        }
    }

    /// A SQLite file takes one receiver: a second handle (in another
    /// process, or this one) is refused naming the holder, clones of the
    /// claiming handle share its claim, and the claim ends with the last
    /// clone. Opening the store (`inbox` commands) does not conflict.
    #[test]
    fn a_sqlite_inbox_takes_one_receiver() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
        let first = crate::inbox::Inbox::open(&url).unwrap();
        first.claim_receiving().unwrap();
        first.clone().claim_receiving().unwrap();
        let second = crate::inbox::Inbox::open(&url).unwrap();
        let refused = second.claim_receiving().unwrap_err().to_string();
        assert!(
            refused.starts_with(&format!(
                "another receiver, process {}, holds the SQLite inbox {}",
                std::process::id(),
                dir.path().join("inbox.db").display()
            )) && refused.contains("PostgreSQL"),
            "{refused}"
        );
        drop(first);
        second.claim_receiving().unwrap();
    }

    /// The receiver lock file goes with its holder, and only its own: a
    /// holder whose path was taken over by another (removed and locked
    /// again) leaves the other's file; a file opened before its holder
    /// removed it is not taken for the lock.
    #[cfg(unix)]
    #[test]
    fn the_receiver_lock_file_goes_with_its_holder_only() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("inbox.db");
        let lock = receiver_lock_path(&db);

        let first = claim_receiving(&db).unwrap().unwrap();
        assert!(lock.exists());
        drop(first);
        assert!(!lock.exists(), "a released lock leaves no file");

        // A stale file (its holder crashed) locks again.
        std::fs::write(&lock, "4000000\n").unwrap();
        let second = claim_receiving(&db).unwrap().unwrap();
        assert_eq!(
            std::fs::read_to_string(&lock).unwrap(),
            format!("{}\n", std::process::id())
        );
        // Its path taken over by another holder: dropping it keeps theirs.
        std::fs::remove_file(&lock).unwrap();
        let third = claim_receiving(&db).unwrap().unwrap();
        drop(second);
        assert!(lock.exists(), "another holder's lock file stays");

        // Opened while the holder still had it, locked after it removed
        // the file: not the lock any more.
        let early = std::fs::File::open(&lock).unwrap();
        assert!(matches!(lock_opened(&early, &lock), Locking::Busy));
        drop(third);
        assert!(matches!(lock_opened(&early, &lock), Locking::Gone));
        let fourth = claim_receiving(&db).unwrap().unwrap();
        assert!(names_file(&lock, &fourth.file));
    }
}
