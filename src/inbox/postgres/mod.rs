//! The PostgreSQL store (feature `postgres`): a deadpool connection pool,
//! a writer task that group-commits the events being stored, and the
//! statements of [`rows`] and [`queue`]. How several instances share one
//! database is described in the [inbox docs](crate::inbox).

mod queue;
mod rows;
mod schema;
mod tls;

use crate::inbox::Derived;
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio::sync::{mpsc, oneshot, Notify};

use super::admission::{hand_over, writer_gone, Admission, QueuedBytes};
use super::queue::{ClaimRequest, Claimed, FinishReport, RunOutcome};
use super::{
    now_ms, redact, BoxFuture, EventSummary, Exported, Fingerprint, InboxError, InboxOptions,
    ListFilter, NewEvent, Opening, Purged, State, Store, Stored, StoredEvent,
};

/// How long to wait for a connection (pool, connect) before `Unavailable`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long after an event was refused for a full disk on the database
/// server `ready` says so (see [`PgStore::disk_full_at`]).
const DISK_FULL_HOLD: Duration = Duration::from_secs(30);

/// Why an event's insert failed, typed as far as [`PgStore::ready`] needs
/// it: the writer answers with this, so that a full disk is known by its
/// SQLSTATE where the driver's error is seen, never by reading the message
/// back. Callers get the [`InboxError`] inside either way.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum WriteError {
    /// PostgreSQL's `disk_full` (SQLSTATE 53100: "could not extend file
    /// ...: No space left on device").
    #[error("{0}")]
    DiskFull(InboxError),
    /// Any other failure.
    #[error(transparent)]
    Other(#[from] InboxError),
}

impl WriteError {
    /// The inbox's error, as callers get it.
    pub(crate) fn into_inbox(self) -> InboxError {
        match self {
            WriteError::DiskFull(e) | WriteError::Other(e) => e,
        }
    }
}

/// A driver error of a write, as [`pg_error`] makes it, with `disk_full`
/// typed (see [`WriteError`]).
pub(crate) fn pg_write_error(e: tokio_postgres::Error) -> WriteError {
    let disk_full = e.code() == Some(&tokio_postgres::error::SqlState::DISK_FULL);
    let error = pg_error(e);
    if disk_full {
        WriteError::DiskFull(error)
    } else {
        WriteError::Other(error)
    }
}

/// Follow an insert's outcome in `disk_full_at` (see
/// [`PgStore::disk_full_at`]): a refusal for a full disk starts
/// [`DISK_FULL_HOLD`], a stored event ends it.
fn note_write(disk_full_at: &AtomicI64, result: &Result<Stored, WriteError>) {
    match result {
        Ok(_) => disk_full_at.store(0, Ordering::Relaxed),
        Err(WriteError::DiskFull(_)) => disk_full_at.store(now_ms(), Ordering::Relaxed),
        Err(WriteError::Other(_)) => {}
    }
}

/// A driver or pool error as the inbox's transient error, with the server's
/// own message when there is one.
pub(crate) fn pg_error(e: tokio_postgres::Error) -> InboxError {
    match e.as_db_error() {
        Some(db) => {
            if db.code() == &tokio_postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION {
                READ_ONLY_SESSIONS.store(true, Ordering::Relaxed);
            }
            InboxError::Unavailable(format!(
                "PostgreSQL: {} {}: {}",
                db.severity(),
                db.code().code(),
                db.message()
            ))
        }
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            InboxError::Unavailable(format!("PostgreSQL: {text}"))
        }
    }
}

/// Set when the server refused a write because the session is read-only
/// (SQLSTATE 25006). A session opened while the database was read-only
/// (`ALTER DATABASE ... SET default_transaction_read_only = on`) stays so
/// after the setting is reset, and the pool would hand it out for ever: so
/// the idle connections are dropped before the next checkout (see
/// [`checkout`]), and new sessions read the setting as it is now. One flag
/// for the process: at worst another pool opens its connections again.
static READ_ONLY_SESSIONS: AtomicBool = AtomicBool::new(false);

/// A pooled connection, after dropping the idle ones when a session was
/// found read-only since the last checkout ([`READ_ONLY_SESSIONS`]; the
/// one that failed is dropped at the next failure, once it is idle).
async fn checkout(pool: &Pool) -> Result<Object, InboxError> {
    if READ_ONLY_SESSIONS.swap(false, Ordering::Relaxed) {
        let dropped = pool.retain(|_, _| false).removed.len();
        tracing::info!(
            dropped,
            "PostgreSQL refused a write in a read-only session: idle connections are opened again"
        );
    }
    pool.get().await.map_err(pool_error)
}

/// Every new session commits durably: with `synchronous_commit = off` (a
/// database's, a user's or the server's setting, often chosen for speed)
/// PostgreSQL answers a commit before its write-ahead log is written, so a
/// crash of the server loses the events committed in the last moments
/// while the receiver has already answered them `2xx`, and Tradecloud does
/// not send them again. Such a session is switched to `on` (once per
/// session, when it is opened); the stronger settings (`local`,
/// `remote_write`, `remote_apply`) are kept. Said once per pool, at `warn`.
fn durable_commits(describe: String) -> deadpool_postgres::Hook {
    let warned = Arc::new(AtomicBool::new(false));
    deadpool_postgres::Hook::async_fn(move |client, _| {
        let (warned, describe) = (warned.clone(), describe.clone());
        Box::pin(async move {
            let switched = client
                .query_opt(
                    "SELECT set_config('synchronous_commit', 'on', false) \
                     WHERE current_setting('synchronous_commit') = 'off'",
                    &[],
                )
                .await
                .map_err(deadpool_postgres::HookError::Backend)?;
            if switched.is_some() && !warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    store = %describe,
                    "PostgreSQL's synchronous_commit is off (set for the server, the inbox's database or its \
                     user): the inbox's sessions turn it on, so that no event is answered 2xx before it is on \
                     disk; to stop this warning, reset it where it is set (postgresql.conf, ALTER DATABASE or \
                     ALTER ROLE ... RESET synchronous_commit)"
                );
            }
            Ok(())
        })
    })
}

fn pool_error(e: deadpool_postgres::PoolError) -> InboxError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg_error(e),
        other => InboxError::Unavailable(format!("PostgreSQL: {other}")),
    }
}

/// The escape of text for PostgreSQL, see [`text`]: U+10FFFF, a
/// noncharacter that no Tradecloud message carries.
const ESCAPE: char = '\u{10FFFF}';

/// PostgreSQL text cannot hold NUL: metadata read from a body (ids, event
/// names, errors) is stored with each NUL written as U+10FFFF `0` and each
/// U+10FFFF doubled, and read back exactly by [`untext`]; so SQLite and
/// PostgreSQL show (and hand the handler) the same ids. The keys that
/// deduplicate and order events are computed from the exact ids (see
/// [`super::keys`]); the body is stored as bytes, unchanged. (Rows written
/// before schema version 2 kept U+FFFD in place of a NUL.)
pub(crate) fn text(s: &str) -> Cow<'_, str> {
    if !s.contains(['\0', ESCAPE]) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\0' => {
                out.push(ESCAPE);
                out.push('0');
            }
            ESCAPE => {
                out.push(ESCAPE);
                out.push(ESCAPE);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Text as [`text`] stored it.
pub(crate) fn untext(s: String) -> String {
    if !s.contains(ESCAPE) {
        return s;
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != ESCAPE {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => out.push('\0'),
            Some(ESCAPE) => out.push(ESCAPE),
            // Not written by `text`: kept as it is.
            Some(other) => {
                out.push(ESCAPE);
                out.push(other);
            }
            None => out.push(ESCAPE),
        }
    }
    out
}

/// The advisory lock key of an object key (64-bit FNV-1a, stable across
/// instances and builds).
pub(crate) fn lock_key(object_key: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in object_key.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

struct Insert {
    event: NewEvent,
    derived: Derived,
    reply: oneshot::Sender<Result<Stored, WriteError>>,
    _budget: QueuedBytes,
}

impl Insert {
    /// Answer the caller; an event committed as new first has its decoded
    /// webhook put into the handoff, before `changed` wakes the processor.
    fn answer(mut self, result: Result<Stored, WriteError>) {
        if let (Ok(Stored::New(id)), Some(handed_on)) = (&result, self.derived.handed_on.take()) {
            handed_on.put(*id);
        }
        let _ = self.reply.send(result);
    }
}

pub(crate) struct PgStore {
    pool: Pool,
    describe: String,
    tx: mpsc::Sender<Insert>,
    admission: Admission,
    changed: Arc<Notify>,
    /// When (ms since the epoch) an event was last refused because the
    /// database server's disk is full, 0 once one was stored since. The
    /// readiness probe's row fits in a page PostgreSQL already has and
    /// passes on a full disk, so `ready` fails for [`DISK_FULL_HOLD`]
    /// after such a refusal instead: probed on a tmpfs that filled up,
    /// `/readyz` answered 200 while every event was answered 503. (No
    /// longer than that: a load balancer that follows `/readyz` would send
    /// nothing that could find the disk freed.)
    disk_full_at: AtomicI64,
}

impl PgStore {
    /// Connect, migrate the schema (one instance at a time) and start the
    /// writer; commits notify `changed`. To be used, an inbox with an
    /// unfinished `inbox migrate` into it is refused.
    pub(crate) async fn connect(
        url: &str,
        options: InboxOptions,
        changed: Arc<Notify>,
        opening: Opening,
    ) -> Result<PgStore, InboxError> {
        // `sslmode`, `sslrootcert`: see `tls`.
        let (driver_url, tls) = tls::PgTls::from_url(url)?;
        let mut config: tokio_postgres::Config = driver_url.parse().map_err(|e| {
            InboxError::Invalid(format!("invalid PostgreSQL URL {}: {e}", redact(url)))
        })?;
        config.ssl_mode(tls.driver_mode());
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("tradecloud");
        }
        config.keepalives(true);
        let manager = Manager::from_config(
            config,
            tls.connector()?,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(2))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .post_create(durable_commits(redact(url)))
            .build()
            .map_err(|e| InboxError::Invalid(format!("PostgreSQL pool: {e}")))?;
        {
            let client = pool.get().await.map_err(|e| tls.explain(pool_error(e)))?;
            schema::migrate(&client, options.create).await?;
            if opening != Opening::MigrationTarget {
                if let Some(mark) = rows::import_mark(&client).await? {
                    return Err(super::migrate::unfinished(&redact(url), &mark));
                }
            }
        }
        let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
        tokio::spawn(writer(
            pool.clone(),
            rx,
            options.max_batch.max(1),
            changed.clone(),
        ));
        Ok(PgStore {
            admission: Admission::new(options.queue_bytes),
            pool,
            describe: redact(url),
            tx,
            changed,
            disk_full_at: AtomicI64::new(0),
        })
    }

    async fn client(&self) -> Result<Object, InboxError> {
        checkout(&self.pool).await
    }

    /// Run `f` in a transaction of its own on a pooled connection.
    async fn transaction<T, F>(&self, f: F) -> Result<T, InboxError>
    where
        F: for<'a> FnOnce(
            &'a deadpool_postgres::Transaction<'a>,
        ) -> BoxFuture<'a, Result<T, InboxError>>,
    {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        let value = f(&tx).await?;
        tx.commit().await.map_err(pg_error)?;
        Ok(value)
    }
}

/// The group commit: every event waiting is inserted in one transaction.
async fn writer(
    pool: Pool,
    mut rx: mpsc::Receiver<Insert>,
    max_batch: usize,
    changed: Arc<Notify>,
) {
    let mut batch: Vec<Insert> = Vec::with_capacity(max_batch);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        let events: Vec<(&NewEvent, &Derived)> =
            batch.iter().map(|i| (&i.event, &i.derived)).collect();
        let outcome = insert_batch(&pool, &events).await;
        match outcome {
            Ok(stored) => {
                for (insert, stored) in batch.drain(..).zip(stored) {
                    insert.answer(Ok(stored));
                }
                changed.notify_one();
            }
            // An error of the server about one statement (not the
            // connection): store them one by one, so that one bad event
            // does not fail the others.
            Err((e, true)) if batch.len() > 1 => {
                tracing::warn!(error = %e, events = batch.len(), "inbox batch failed; storing its events one by one");
                for insert in batch.drain(..) {
                    let one = (&insert.event, &insert.derived);
                    let result = insert_batch(&pool, &[one])
                        .await
                        .map(|mut s| s.remove(0))
                        .map_err(|(e, _)| e);
                    insert.answer(result);
                }
                changed.notify_one();
            }
            Err((e, _)) => {
                tracing::warn!(error = %e, events = batch.len(), "inbox batch not committed");
                for insert in batch.drain(..) {
                    let _ = insert.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Insert `events` in one transaction. The error says whether the server
/// refused a statement (`true`) rather than the connection failing.
async fn insert_batch(
    pool: &Pool,
    events: &[(&NewEvent, &Derived)],
) -> Result<Vec<Stored>, (WriteError, bool)> {
    let mut client = checkout(pool).await.map_err(|e| (e.into(), false))?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| (pg_write_error(e), false))?;
    let statement_error = |e: WriteError| (e, true);
    // Ids are drawn after the objects are locked: an order's events get
    // ids in commit order across instances.
    let object_keys: Vec<Option<String>> = events
        .iter()
        .map(|(e, _)| e.object_id.as_deref().map(super::keys::object_key))
        .collect();
    let locks = rows::lock_keys(object_keys.iter().map(Option::as_deref));
    if !locks.is_empty() {
        tx.execute("SELECT tc_lock_objects($1)", &[&locks])
            .await
            .map_err(|e| (pg_write_error(e), false))?;
    }
    let mut stored = Vec::with_capacity(events.len());
    for (event, derived) in events {
        stored.push(
            rows::insert_event(&tx, event, derived)
                .await
                .map_err(statement_error)?,
        );
    }
    tx.commit().await.map_err(|e| (pg_write_error(e), false))?;
    Ok(stored)
}

impl Store for PgStore {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn changed(&self) -> Arc<Notify> {
        self.changed.clone()
    }

    fn store(
        &self,
        event: NewEvent,
        derived: Derived,
    ) -> BoxFuture<'_, Result<Stored, InboxError>> {
        Box::pin(async move {
            let budget = self.admission.reserve(event.body.len())?;
            let (reply, rx) = oneshot::channel();
            hand_over(
                &self.tx,
                Insert {
                    event,
                    derived,
                    reply,
                    _budget: budget,
                },
            )?;
            let stored = rx.await.unwrap_or_else(|_| Err(writer_gone().into()));
            note_write(&self.disk_full_at, &stored);
            stored.map_err(WriteError::into_inbox)
        })
    }

    fn ready(&self) -> BoxFuture<'_, Result<(), InboxError>> {
        Box::pin(async move {
            if self.tx.capacity() == 0 {
                return Err(InboxError::Overloaded);
            }
            let full_at = self.disk_full_at.load(Ordering::Relaxed);
            let ago = now_ms().saturating_sub(full_at);
            if full_at != 0 && ago < DISK_FULL_HOLD.as_millis() as i64 {
                return Err(InboxError::Unavailable(format!(
                    "the disk of the PostgreSQL server is full: an event could not be stored \
                     {} s ago (SQLSTATE 53100, disk_full); free space on the database server (its \
                     data directory, or pg_wal's file system), then events are stored again",
                    ago / 1000
                )));
            }
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg_error)?;
            // A real write, rolled back: it fails whenever an event's insert
            // would (default_transaction_read_only, a standby after a
            // failover, a revoked privilege, a missing table). An explicit
            // negative id draws nothing from the id sequence; the row is
            // never committed, so no one else ever sees it.
            let probe = tx
                .batch_execute(
                    "SET LOCAL statement_timeout = 3000; \
                     INSERT INTO events (id, kind, content_type, body_len, state, received_at, updated_at) \
                     VALUES (-pg_backend_pid(), 'order', '', 0, 'probe', 0, 0)",
                )
                .await;
            let _ = tx.rollback().await;
            probe.map_err(|e| match e.as_db_error() {
                Some(db) if db.code() == &tokio_postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION => {
                    READ_ONLY_SESSIONS.store(true, Ordering::Relaxed);
                    InboxError::Unavailable(format!(
                        "PostgreSQL does not accept writes: {} (default_transaction_read_only is on, \
                         or the server is a standby, e.g. after a failover)",
                        db.message()
                    ))
                }
                _ => match pg_error(e) {
                    InboxError::Unavailable(m) => {
                        InboxError::Unavailable(format!("a test write failed: {m}"))
                    }
                    other => other,
                },
            })
        })
    }

    fn list(&self, filter: ListFilter) -> BoxFuture<'_, Result<Vec<EventSummary>, InboxError>> {
        Box::pin(async move { rows::list(&self.client().await?, &filter).await })
    }

    fn get(&self, id: i64) -> BoxFuture<'_, Result<Option<StoredEvent>, InboxError>> {
        Box::pin(async move { rows::get(&self.client().await?, id).await })
    }

    fn attempts(&self, id: i64) -> BoxFuture<'_, Result<Vec<super::Attempt>, InboxError>> {
        Box::pin(async move { queue::attempts(&self.client().await?, id).await })
    }

    fn mark_dead(&self, id: i64, reason: String) -> BoxFuture<'_, Result<(), InboxError>> {
        Box::pin(async move {
            self.transaction(|tx| Box::pin(async move { rows::mark_dead(tx, id, &reason).await }))
                .await?;
            self.changed.notify_one();
            Ok(())
        })
    }

    fn replay(&self, id: i64) -> BoxFuture<'_, Result<(), InboxError>> {
        Box::pin(async move {
            self.transaction(|tx| Box::pin(rows::replay(tx, id)))
                .await?;
            self.changed.notify_one();
            Ok(())
        })
    }

    fn held(&self, id: i64) -> BoxFuture<'_, Result<bool, InboxError>> {
        Box::pin(async move { rows::held(&self.client().await?, id).await })
    }

    fn counts(&self) -> BoxFuture<'_, Result<Vec<(State, u64)>, InboxError>> {
        Box::pin(async move { rows::counts(&self.client().await?).await })
    }

    fn backlog(&self) -> BoxFuture<'_, Result<super::Backlog, InboxError>> {
        Box::pin(async move {
            let client = self.client().await?;
            let statement = client
                .prepare_cached(&super::backlog::postgres_sql())
                .await
                .map_err(pg_error)?;
            let row = client.query_one(&statement, &[]).await.map_err(pg_error)?;
            let queued: i64 = row.try_get(0).map_err(pg_error)?;
            let age: Option<i64> = row.try_get(1).map_err(pg_error)?;
            Ok(super::Backlog {
                queued: u64::try_from(queued).unwrap_or(0),
                oldest_age: age.map(super::backlog::age),
            })
        })
    }

    fn purgeable(&self, cutoff_ms: i64) -> BoxFuture<'_, Result<Purged, InboxError>> {
        Box::pin(async move { rows::purgeable(&self.client().await?, cutoff_ms).await })
    }

    fn purge_batch(
        &self,
        cutoff_ms: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Purged, InboxError>> {
        Box::pin(async move {
            self.transaction(|tx| Box::pin(rows::purge_batch(tx, cutoff_ms, limit)))
                .await
        })
    }

    fn recover(&self) -> BoxFuture<'_, Result<u64, InboxError>> {
        // Other instances may be working: claims end with their lease.
        Box::pin(async { Ok(0) })
    }

    fn claim(&self, request: ClaimRequest) -> BoxFuture<'_, Result<Vec<Claimed>, InboxError>> {
        Box::pin(async move {
            self.transaction(move |tx| Box::pin(async move { queue::claim(tx, &request).await }))
                .await
        })
    }

    fn renew(
        &self,
        owner: String,
        keys: Vec<String>,
        lease: Duration,
    ) -> BoxFuture<'_, Result<(), InboxError>> {
        Box::pin(async move { queue::renew(&self.client().await?, &owner, &keys, lease).await })
    }

    fn mark_handling(
        &self,
        owner: String,
        id: i64,
        alone: bool,
    ) -> BoxFuture<'_, Result<bool, InboxError>> {
        Box::pin(
            async move { queue::mark_handling(&self.client().await?, &owner, id, alone).await },
        )
    }

    fn finish(
        &self,
        owner: String,
        runs: Vec<RunOutcome>,
    ) -> BoxFuture<'_, Result<FinishReport, InboxError>> {
        Box::pin(async move {
            let finished = self
                .transaction(move |tx| {
                    Box::pin(async move { queue::finish(tx, &owner, &runs).await })
                })
                .await?;
            self.changed.notify_one();
            Ok(finished)
        })
    }

    fn next_due(&self) -> BoxFuture<'_, Result<Option<Duration>, InboxError>> {
        Box::pin(async move { queue::next_due(&self.client().await?).await })
    }

    fn export(&self, after: i64, limit: usize) -> BoxFuture<'_, Result<Vec<Exported>, InboxError>> {
        Box::pin(async move { rows::export(&self.client().await?, after, limit).await })
    }

    fn import(&self, events: Vec<Exported>) -> BoxFuture<'_, Result<(), InboxError>> {
        Box::pin(async move {
            self.transaction(move |tx| Box::pin(async move { rows::import(tx, &events).await }))
                .await
        })
    }

    fn begin_import(&self, source: String) -> BoxFuture<'_, Result<Option<String>, InboxError>> {
        Box::pin(async move {
            let describe = self.describe.clone();
            self.transaction(move |tx| {
                Box::pin(async move { rows::begin_import(tx, &describe, &source).await })
            })
            .await
        })
    }

    fn finish_import(&self) -> BoxFuture<'_, Result<(), InboxError>> {
        Box::pin(async move {
            self.transaction(|tx| {
                Box::pin(async move {
                    queue::rebuild_heads(tx).await?;
                    rows::clear_import_mark(tx).await
                })
            })
            .await
        })
    }

    fn fingerprint(&self) -> BoxFuture<'_, Result<Fingerprint, InboxError>> {
        Box::pin(async move { rows::fingerprint(&self.client().await?).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_nul_and_reads_back_exactly() {
        for s in [
            "plain",
            "n\0",
            "n\u{FFFD}",
            "\0\0",
            "\u{10FFFF}",
            "\u{10FFFF}0",
            "a\u{10FFFF}\0b",
            "",
        ] {
            let stored = text(s);
            assert!(!stored.contains('\0'), "{s:?}");
            assert_eq!(untext(stored.into_owned()), s);
        }
        assert_ne!(text("n\0"), text("n\u{FFFD}"));
        assert!(matches!(text("plain"), Cow::Borrowed(_)));
    }

    /// `ready` holds after a refusal typed `disk_full` whatever its text
    /// says, and not after another failure whose text looks like one.
    #[test]
    fn a_full_disk_is_known_by_its_sqlstate_not_by_its_message() {
        let at = AtomicI64::new(0);
        let look_alike = InboxError::Unavailable(
            "PostgreSQL: ERROR 53100: could not extend file: No space left on device".into(),
        );
        note_write(&at, &Err(WriteError::Other(look_alike)));
        assert_eq!(at.load(Ordering::Relaxed), 0);
        let reworded = InboxError::Unavailable("the server's disk: full".into());
        note_write(&at, &Err(WriteError::DiskFull(reworded)));
        assert_ne!(at.load(Ordering::Relaxed), 0);
        note_write(&at, &Ok(Stored::New(1)));
        assert_eq!(at.load(Ordering::Relaxed), 0);
    }
}
