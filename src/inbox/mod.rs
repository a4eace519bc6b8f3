//! The durable inbox of the webhook receiver: every event Tradecloud sends is
//! committed to a database **before** the receiver answers, and handed to the
//! user's handler from there by [`crate::processing`]. Two stores behind one
//! interface ([`Inbox`]): an embedded SQLite database (the default, compiled
//! in, no server to run) and PostgreSQL (`postgres://...`, the `postgres`
//! feature, part of `cli`), for several receivers on one database.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tradecloud::inbox::InboxError> {
//! use tradecloud::inbox::{EventKind, Inbox, NewEvent, NewState, Stored};
//!
//! // Or "postgres://tradecloud@db.example:5432/tradecloud".
//! let inbox = Inbox::connect("sqlite://tradecloud-inbox.db").await?;
//! let stored = inbox
//!     .store(NewEvent {
//!         kind: EventKind::Order,
//!         event_name: Some("OrderIssuedByBuyer".into()),
//!         object_id: Some("7e1f5b2c".into()),
//!         message_id: Some("a3c0f2d4".into()),
//!         content_type: "application/json".into(),
//!         body: bytes::Bytes::from_static(br#"{"eventName":"OrderIssuedByBuyer"}"#),
//!         state: NewState::Received,
//!         source: Some("POST /tradecloud/order".into()),
//!         headers: vec![("user-agent".into(), "Tradecloud".into())],
//!     })
//!     .await?;
//! match stored {
//!     Stored::New(id) => println!("stored as event {id}"),
//!     Stored::Duplicate(id) => println!("already stored as event {id}"),
//! }
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! The event types ([`NewEvent`], [`EventSummary`], [`State`], ...) and
//! [`InboxOptions`] are shared; `Store` is the one trait both stores
//! implement (`sqlite/`, `postgres/`); [`Inbox`] is the handle everyone
//! holds (the receiver, the processor, the CLI), which does not know which
//! store runs; `queue` is the processor's side of it. `keys.rs` computes
//! the keys both stores index (see "Keys"), `deferred.rs` is the store of
//! [`Inbox::connect_retrying`] until the real one opens, and `migrate.rs`
//! is [`Inbox::copy_to`].
//!
//! # Durability and throughput
//!
//! [`Inbox::store`] returns only after the event is committed. SQLite: with
//! `synchronous=FULL` in WAL mode, i.e. after the write-ahead log was
//! fsync'd. One writer thread owns the write connection. It drains a bounded
//! queue and commits everything it finds there in **one transaction**
//! (group commit), then answers each caller: many concurrent requests share
//! one fsync, so durability does not cap throughput. The processor's claims
//! and outcomes go through the same queue, so they share those commits too.
//! When the queue is full (more than [`InboxOptions::queue_capacity`] events
//! or [`InboxOptions::queue_bytes`] bytes waiting), `store` fails at once
//! with [`InboxError::Overloaded`], which a receiver answers with 503.
//! PostgreSQL works the same way with a writer task and a connection pool
//! (`synchronous_commit` as the server is configured, but never `off`: a
//! session that starts with it `off` turns it `on`, with a warning, since an
//! event committed that way is lost if the server crashes).
//!
//! Reads (`list`, `get`, `dead`) use separate connections (SQLite: a small
//! pool on blocking threads), so they never wait for a commit and never
//! block the async runtime.
//!
//! A SQLite inbox has **one receiving process**: its writer's rescue of a
//! lost write-ahead log, the full-disk note, the processor's handoff and
//! claims live in that process. A receiver ([`crate::receiver::Receiver`],
//! `tradecloud serve`) locks `PATH-receiver-lock` exclusively, and a second
//! one on the same file is refused at start, naming the first one's process
//! id; `inbox` commands beside it only share `PATH-lock` (which `inbox
//! migrate` needs to itself). A clean stop (SIGTERM, Ctrl-C) removes
//! `PATH-receiver-lock`; one left by a killed receiver is no longer locked
//! (the lock is `flock`'s, which ends with its process) and the next
//! receiver takes it over. Several receivers share a PostgreSQL inbox.
//!
//! # Failures
//!
//! Every failure of the database (locked by another process past the busy
//! timeout, disk full, I/O error, the file removed or replaced, PostgreSQL
//! down or restarting) is [`InboxError::Unavailable`]: a receiver answers
//! 503, Tradecloud retries, and the next batch tries again (reopening the
//! file if it was replaced, reconnecting to PostgreSQL). Nothing
//! half-written is acknowledged: a batch that fails is rolled back and every
//! caller in it gets the error. A store that cannot be opened at all yet
//! is no reason for a receiver not to start: see [`Inbox::connect_retrying`].
//!
//! # States
//!
//! ```text
//!  store(Received) ──► received ──► processing ──► done
//!  store(Trigger)  ──► trigger  ──┘     │  ▲
//!                                       │  └── retrying (transient error, until next_attempt_at)
//!                                       ├────► dead      (permanent error, or attempts exhausted)
//!                                       ├────► rejected  (stored body cannot be parsed)
//!                                       └────► unhandled (unknown event, see below)
//!  store(Rejected{error}) ──► rejected  (quarantine: never handed to the handler)
//!  store(Unhandled{reason}) ──► unhandled (an unknown event without a known payload)
//!
//!  replay(id): rejected | dead | done | unhandled ──► received (trigger for a GET-webhook trigger)
//! ```
//!
//! An `unhandled` event has an event name this version does not know and
//! none of the payload members it knows ([`crate::webhook::Webhook::Unknown`]):
//! Tradecloud adds event kinds without notice, so it is acknowledged and
//! kept, but never handed to the handler; replay it after an upgrade. It has
//! no head in the work queue (see below), so it never holds up the later
//! events of its order or shipment.
//!
//! A `processing` event is one a handler is working on. The claim of its
//! order (shipment) is a lease (see "The work queue" below): when the process dies, the
//! next processor takes the event over and hands it to the handler again
//! (at-least-once delivery); on SQLite at once when the processor starts
//! again, on PostgreSQL when the lease has run out.
//!
//! # Retention
//!
//! Nothing is deleted unless asked: [`Inbox::purge`] (`tradecloud inbox
//! purge --older-than DAYS`, or `[store] retention_days` in the receiver)
//! deletes `done` events finished before a cutoff, and never an event that
//! is still to be handled, `dead`, `rejected` or `unhandled`. A purged event's message id
//! is forgotten with it: a redelivery of it after the purge is stored and
//! handled again, so keep events longer than Tradecloud may redeliver them.
//!
//! # The work queue
//!
//! Every order or shipment with events still to handle has one row in the
//! `heads` table: its oldest active event (`event_id`), when it may be
//! handled (`due_at`, milliseconds since the epoch) and who holds it
//! (`owner`, while claimed). An event without an order or shipment id is its
//! own head. The rules that keep the table right, in every store:
//!
//! * storing a `received` or `trigger` event inserts the head of its object
//!   unless there is one (the new event then waits behind it);
//! * claiming takes heads with `due_at <= now` (the `heads_due` index, so
//!   the cost does not depend on how many events are queued behind them),
//!   sets `owner` and moves `due_at` to the end of the lease;
//! * finishing a run moves the head to the object's oldest event that is
//!   still active, or deletes it; a retry keeps it, due at
//!   `next_attempt_at`. PostgreSQL seeks the partial index of active
//!   events (`events_active_object`); SQLite walks the index of every event
//!   by object (`events_object`) from the head's `active_from` on, an id
//!   below which the object has no active event (replaying an older event
//!   moves it down), so neither reads an object's done history.
//!
//! A claim takes the head and up to `run_limit - 1` further `received`
//! events of the same object (a *run*): one commit claims them and one
//! commit finishes them, which is what lets a burst for one order be
//! handled at more than a thousand events per second.
//!
//! # Several receivers on one PostgreSQL database
//!
//! With `[store] url = "postgres://user@host:5432/db"` (or
//! `TRADECLOUD_STORE_URL`) any number of `tradecloud serve` processes share
//! one inbox:
//!
//! * **Receiving.** Each process group-commits the events it receives in
//!   transactions of its own. The message key (see "Keys" below) has a unique index: a redelivery
//!   stored by another instance waits for that commit, is found and is
//!   answered `200` as a duplicate. Before a batch draws its event ids it
//!   takes a transaction-scoped advisory lock per order (shipment) of the
//!   batch, in sorted order (so two batches cannot deadlock): the events of
//!   one order get their ids in commit order, whichever instance stored
//!   them, so inbox id order is the stored order.
//! * **Processing.** Work is handed out per order (shipment) through the
//!   `heads` table (see "The work queue" below): one row per object with events to handle.
//!   An instance claims ready heads with `FOR UPDATE SKIP LOCKED`, so
//!   instances neither wait for each other nor claim the same head, and the
//!   work spreads over them. A claim is a lease (`[processing] lease_secs`,
//!   default 30 s) that the instance renews while its handler runs; only the
//!   lease holder can record outcomes and move the head on. So an order's
//!   events are handled one at a time, in id order, across all instances.
//! * **A killed instance.** Its leases run out; another instance then claims
//!   the heads and hands the unfinished events to its handler again
//!   (at-least-once). Nothing is lost, and no event is handled by two
//!   instances at once while its lease holder is alive.
//! * **PostgreSQL down.** `store` fails with [`InboxError::Unavailable`] (the
//!   receiver answers `503` + `Retry-After`, Tradecloud retries), `/readyz`
//!   answers `503`, and the pool reconnects by itself when the server is
//!   back. Nothing acknowledged is lost: a `2xx` follows the commit. Down
//!   (or refusing the password) when a receiver starts: the receiver starts
//!   anyway and connects in the background ([`Inbox::connect_retrying`]).
//! * **PostgreSQL read-only** (`default_transaction_read_only`, a standby
//!   after a failover): every `store` fails, and so does [`Inbox::ready`],
//!   which tries a write and rolls it back.
//! * **Schema.** Versioned migrations (table `tradecloud_schema`) run at
//!   start under a session advisory lock, so instances starting together
//!   apply them once, one after the other.
//! * **Clocks.** Times in the database (`received_at`, leases, retries) come
//!   from the database server's clock, so the instances' clocks need not
//!   agree.
//!
//! `tradecloud inbox migrate --from sqlite://... --to postgres://...` copies
//! an inbox from one store to another (ids, states, errors, processing
//! attempts, times and bodies byte for byte; see [`Inbox::copy_to`]). Until the copy is complete, the
//! target is marked as an unfinished copy and no receiver opens it; running
//! the migrate again starts it over.
//!
//! # Keys
//!
//! An event is a redelivery of a stored one when both have the same kind
//! (`order`, `orderDocuments`, `shipment`) and the same message id; the
//! events of one order (shipment) id are handled one at a time. The stores
//! index *keys* of these ids, not the ids (`keys.rs`): the id itself when
//! it has at most 200 bytes and no NUL, else its SHA-256. So an id may hold
//! any character (PostgreSQL text cannot hold NUL) and have any length (no
//! index takes a 300 kB order id), and two different ids never meet. The
//! ids are kept beside the keys exactly as received, on both stores
//! (PostgreSQL: NUL written as an escape and read back, see
//! `postgres/mod.rs`), and an id longer than 200 bytes is no error.
//!
//! # Schema versions
//!
//! The SQLite database records its schema version (`PRAGMA user_version`). Version 2
//! keeps bodies in a table of their own (`event_bodies`), so that a state
//! change does not rewrite the body and reading an event's state does not walk
//! it. Opening a version-1 file (any [`Inbox::open`], also the `tradecloud
//! inbox` commands) migrates it in one transaction: the file is at version 1
//! or 2, never in between. The migration copies every body once, so it needs
//! about the database's size again in free disk space (WAL) and takes a while
//! for a large inbox; stop every process of the older version first (it
//! cannot read version 2). Version 3 adds the `heads` table (see "The work queue" below),
//! built from the events still to handle when an older file is opened.
//! Version 4 indexes keys instead of ids (see "Keys"; the keys of the
//! stored events are computed when an older file is opened, in the same one
//! transaction). Version 5 adds `events.trace_parent`, the W3C
//! `traceparent` of the span that stored the event ([`crate::telemetry`]; a
//! column without a default, added in place at once at any size). Version 6
//! indexes every event by object key and id (`events_object`: one order's
//! events without walking the others; built when an older file is opened,
//! seconds for a million events). Version 7 adds
//! `event_attempts`, one row per processing attempt of an event
//! ([`Attempt`], read with [`Inbox::attempts`]; written in the same
//! transaction as the outcome, one multi-row insert per batch; at most
//! [`ATTEMPTS_KEPT`] per event, errors cut to [`ERROR_MAX_BYTES`]; deleted
//! with their event by a purge, copied by `inbox migrate`). Version 8
//! adds `event_bodies.headers`, the request's headers beside the body
//! ([`NewEvent::with_headers`], credentials redacted; NULL for older
//! events; a nullable column, instant). Version 9 adds
//! `event_bodies.codec`: bodies stored from then on are LZ4-compressed when
//! that saves space (about 3× for an order event; NULL, as received, for
//! older and small bodies; a nullable column, instant), so each event
//! writes fewer pages to the WAL and the checkpoint (`sqlite/codec.rs`);
//! every read gives the body back as received, and the body search looks
//! into the decompressed bytes. Version 10 adds `heads.active_from` (see
//! "The work queue") and drops the partial index of active events, so each
//! event writes one index page less when stored and one less when done
//! (each head's value read from that index when an older file is opened,
//! instant). Version 11 finds events by purchase order number through
//! `po_objects`, a pair of object key and purchase order number key per
//! order, written for an order's first event that names the number,
//! instead of an index entry per event (`events_po`; events without an
//! object key keep a partial index, `events_po_alone`; the pairs are made
//! from the events when an older file is opened, one read of the table).
//! A file of
//! a newer version than this build knows is refused. PostgreSQL keeps its
//! version in `tradecloud_schema` (see above); its version 2 is SQLite's
//! version 4 (on rows stored before it, a NUL already was U+FFFD), its
//! version 3 SQLite's version 5, its version 4 SQLite's version 6, its version 5 SQLite's
//! version 7 and its version 6 SQLite's version 8. Stop every receiver of an older version
//! before starting one of this version on the same database: an older one
//! does not know the new columns.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::webhook::Webhook;

mod admission;
mod attempts;
mod backlog;
mod deferred;
mod event;
mod handoff;
pub(crate) mod keys;
pub(crate) mod migrate;
mod options;
#[cfg(feature = "postgres")]
mod postgres;
pub(crate) mod queue;
mod sqlite;

pub use attempts::{Attempt, AttemptOutcome, ATTEMPTS_KEPT, ERROR_MAX_BYTES};
pub use backlog::Backlog;
#[allow(deprecated)]
pub use event::{order_id_of, order_message_id_of};
pub use event::{
    EventKind, EventSummary, InboxError, ListFilter, NewEvent, NewState, Origin, Purged, State,
    Stored, StoredEvent, HEADERS_KEPT, HEADER_VALUE_MAX_BYTES,
};
pub use migrate::Copied;
pub(crate) use options::{from_ms, now_ms};
pub use options::{is_memory_url, redact, InboxOptions, DEFAULT_STORE_URL};
use options::{parse_url, StoreUrl};
use queue::{ClaimRequest, Claimed, FinishReport, RunOutcome};

/// Events deleted per write by [`Inbox::purge`].
pub const PURGE_BATCH: usize = 500;

/// A boxed future: the [`Store`] trait is object safe.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
type Result<T, E = InboxError> = std::result::Result<T, E>;

/// What the inbox derives for a [`NewEvent`] before a store writes it: in
/// the caller's task, so that the stores' writers (one at a time) only
/// write.
#[derive(Debug, Default)]
pub(crate) struct Derived {
    /// The caller's span context (W3C `traceparent`), stored with the event.
    pub(crate) trace_parent: Option<String>,
    /// The key of the event's purchase order number (`po_key`), which the
    /// console searches by.
    pub(crate) po_key: Option<String>,
    /// The body as the SQLite store writes it (compressed or not), made by
    /// that store in the caller's task; `None` elsewhere (PostgreSQL).
    pub(crate) packed: Option<sqlite::codec::Packed>,
    /// The decoded webhook for this process's processor: the store puts it
    /// into the handoff when the event is committed as new
    /// ([`handoff::HandedOn`]).
    pub(crate) handed_on: Option<handoff::HandedOn>,
}

impl Derived {
    /// For an event stored without a decoded webhook: the purchase order
    /// number is probed from the JSON body ([`keys::po_key`]).
    pub(crate) fn of_body(body: &[u8], trace_parent: Option<String>) -> Derived {
        Derived {
            trace_parent,
            po_key: keys::po_key(body),
            packed: None,
            handed_on: None,
        }
    }
}

/// The one interface of a store. [`Inbox`] holds one as `Arc<dyn Store>`;
/// the SQLite and PostgreSQL stores implement it, and nothing above this
/// module knows which one runs.
pub(crate) trait Store: Send + Sync + 'static {
    /// `sqlite:///path`, `postgres://user:***@host/db` (no password).
    fn describe(&self) -> String;
    /// The SQLite file, if this is one.
    fn path(&self) -> Option<&std::path::Path> {
        None
    }
    /// Notified after every commit that may have made an event ready.
    fn changed(&self) -> Arc<Notify>;
    /// Store an event (group commit) with the `traceparent` of the span
    /// storing it; see [`Inbox::store`].
    fn store(&self, event: NewEvent, derived: Derived) -> BoxFuture<'_, Result<Stored>>;
    /// Whether an event could be committed now, without writing one.
    fn ready(&self) -> BoxFuture<'_, Result<()>>;
    /// See [`Inbox::low_space`].
    fn low_space(&self) -> Option<String> {
        None
    }
    fn list(&self, filter: ListFilter) -> BoxFuture<'_, Result<Vec<EventSummary>>>;
    fn get(&self, id: i64) -> BoxFuture<'_, Result<Option<StoredEvent>>>;
    /// See [`Inbox::attempts`].
    fn attempts(&self, id: i64) -> BoxFuture<'_, Result<Vec<Attempt>>>;
    fn replay(&self, id: i64) -> BoxFuture<'_, Result<()>>;
    /// See [`Inbox::mark_dead`].
    fn mark_dead(&self, id: i64, reason: String) -> BoxFuture<'_, Result<()>>;
    /// See [`Inbox::held`].
    fn held(&self, id: i64) -> BoxFuture<'_, Result<bool>>;
    fn counts(&self) -> BoxFuture<'_, Result<Vec<(State, u64)>>>;
    /// See [`Inbox::backlog`].
    fn backlog(&self) -> BoxFuture<'_, Result<Backlog>>;
    /// Count (`dry_run`) or delete up to `limit` of the oldest `done` events
    /// finished before `cutoff_ms`.
    /// What a purge of `done` events last updated before `cutoff_ms` would
    /// remove (counts only).
    fn purgeable(&self, cutoff_ms: i64) -> BoxFuture<'_, Result<Purged>>;
    /// Remove up to `limit` of those events (oldest first) with their bodies.
    fn purge_batch(&self, cutoff_ms: i64, limit: usize) -> BoxFuture<'_, Result<Purged>>;
    // The processor's side, see `queue`.
    fn recover(&self) -> BoxFuture<'_, Result<u64>>;
    fn claim(&self, request: ClaimRequest) -> BoxFuture<'_, Result<Vec<Claimed>>>;
    fn renew(&self, owner: String, keys: Vec<String>, lease: Duration)
        -> BoxFuture<'_, Result<()>>;
    fn mark_handling(&self, owner: String, id: i64, alone: bool) -> BoxFuture<'_, Result<bool>>;
    fn finish(&self, owner: String, runs: Vec<RunOutcome>) -> BoxFuture<'_, Result<FinishReport>>;
    fn next_due(&self) -> BoxFuture<'_, Result<Option<Duration>>>;
    // Copying a whole inbox, see `migrate`.
    /// Up to `limit` events with ids above `after`, oldest first, with bodies.
    fn export(&self, after: i64, limit: usize) -> BoxFuture<'_, Result<Vec<Exported>>>;
    /// Write exported events as they are (ids, keys, states, times, bodies).
    fn import(&self, events: Vec<Exported>) -> BoxFuture<'_, Result<()>>;
    /// Before the first `import`, in one transaction: mark this inbox as
    /// the unfinished copy of `source` (see [`migrate`]). An inbox with
    /// events is refused, unless it is marked so already: then it is
    /// emptied (a copy that did not finish is started over) and the old
    /// mark is returned.
    fn begin_import(&self, source: String) -> BoxFuture<'_, Result<Option<String>>>;
    /// After the last `import`, in one transaction: rebuild the heads, move
    /// the id sequence on, remove the mark.
    fn finish_import(&self) -> BoxFuture<'_, Result<()>>;
    /// What changes whenever an event is stored, changes state or is
    /// deleted: how many there are, the largest id and the latest change.
    fn fingerprint(&self) -> BoxFuture<'_, Result<Fingerprint>>;
    /// Before `inbox migrate` copies this store: `Invalid` when another
    /// process has it open (a receiver that would go on writing to it).
    /// Stores that cannot tell answer `Ok` (the fingerprint taken before
    /// and after the copy still finds writes made meanwhile).
    fn claim_sole_use(&self) -> Result<()> {
        Ok(())
    }
}

/// See [`Store::fingerprint`]: (events, largest id, latest `updated_at`).
pub(crate) type Fingerprint = (i64, i64, i64);

/// Why a store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opening {
    /// To be used: refused while an `inbox migrate` into it is unfinished.
    Use,
    /// As the target of `inbox migrate`.
    MigrationTarget,
    /// To be read only (see [`Inbox::connect_reading`]): refused as `Use`
    /// is, and never written.
    Read,
}

/// An event as `inbox migrate` copies it: with its keys (see [`keys`]),
/// which are copied as they are.
#[derive(Debug, Clone)]
pub(crate) struct Exported {
    pub(crate) event: StoredEvent,
    pub(crate) message_key: Option<String>,
    pub(crate) object_key: Option<String>,
    /// Its processing attempts, oldest first.
    pub(crate) attempts: Vec<Attempt>,
}

/// Open the store a URL names, SQLite or PostgreSQL; its commits notify
/// `changed`. `Unavailable` errors name the store (without a password).
async fn open_store(
    url: &str,
    mut options: InboxOptions,
    changed: Arc<Notify>,
    opening: Opening,
) -> Result<Arc<dyn Store>> {
    let original = url.to_string();
    let opened: Result<Arc<dyn Store>> = match parse_url(url, &mut options)? {
        StoreUrl::Sqlite(target) => tokio::task::spawn_blocking(move || {
            sqlite::SqliteStore::open(target, options, changed, opening)
        })
        .await
        .map_err(|e| InboxError::Unavailable(format!("opening the inbox failed: {e}")))
        .and_then(|opened| Ok(Arc::new(opened?) as Arc<dyn Store>)),
        #[cfg(feature = "postgres")]
        StoreUrl::Postgres(url) => postgres::PgStore::connect(&url, options, changed, opening)
            .await
            .map(|store| Arc::new(store) as Arc<dyn Store>),
        #[cfg(not(feature = "postgres"))]
        StoreUrl::Postgres(_) => Err(InboxError::Invalid(format!(
            "{}: this build has no PostgreSQL support (cargo feature `postgres`)",
            redact(&original)
        ))),
    };
    opened.map_err(|e| match e {
        InboxError::Unavailable(message) => {
            InboxError::Unavailable(format!("{}: {message}", redact(&original)))
        }
        other => other,
    })
}

/// The last readiness check: when, what it found, and how many events had
/// been stored, and how many stores had failed, then.
type Checked = (Instant, Result<()>, u64, u64);

/// The durable inbox. Cheap to clone (an `Arc`), `Send + Sync`: give a clone
/// to every request handler and to the processor.
#[derive(Clone)]
pub struct Inbox {
    store: Arc<dyn Store>,
    readiness: Arc<tokio::sync::Mutex<Option<Checked>>>,
    /// Events stored by this handle: a commit since a failed check proves
    /// the store is back before the cached failure runs out.
    stored: Arc<AtomicU64>,
    /// Stores by this handle that failed because the store is unavailable:
    /// one since a successful check proves that check out of date.
    failed: Arc<AtomicU64>,
    /// Webhooks decoded by this process's receiver, for its processor.
    handoff: Arc<handoff::Handoff>,
    /// The receiver lock of a SQLite file, once a receiver of this handle
    /// has claimed it ([`Inbox::claim_receiving`]); held while any clone
    /// lives, or until the receiver stops ([`Inbox::release_receiving`]).
    receiving: Arc<std::sync::Mutex<Option<sqlite::ReceiverLock>>>,
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("store", &self.store.describe())
            .finish_non_exhaustive()
    }
}

impl Inbox {
    fn from_store(store: Arc<dyn Store>) -> Inbox {
        Inbox {
            store,
            readiness: Arc::default(),
            failed: Arc::default(),
            stored: Arc::default(),
            handoff: Arc::default(),
            receiving: Arc::default(),
        }
    }

    /// Before a receiver uses this inbox: a SQLite file takes one receiving
    /// process, so `Invalid` when another receiver (another process, or
    /// another handle in this one) uses it, saying to stop it or to share a
    /// PostgreSQL inbox. Claimed once per handle (its clones share the
    /// claim), released when the last clone is dropped. PostgreSQL and
    /// in-memory inboxes have nothing to claim.
    pub(crate) fn claim_receiving(&self) -> Result<()> {
        let Some(path) = self.store.path() else {
            return Ok(());
        };
        let mut held = self.receiving.lock().unwrap_or_else(|e| e.into_inner());
        if held.is_none() {
            *held = sqlite::claim_receiving(path)?;
        }
        Ok(())
    }

    /// After the receiver of this handle stopped cleanly: release its claim
    /// ([`Inbox::claim_receiving`]) and remove `PATH-receiver-lock`, so that
    /// a clean shutdown leaves no lock file behind. Nothing when it holds no
    /// claim.
    pub(crate) fn release_receiving(&self) {
        let released = self
            .receiving
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(released);
    }

    /// Open (and create, with its schema) the SQLite inbox at `url` with
    /// default [`InboxOptions`]: `sqlite://path.db` (`sqlite:///abs/path.db`),
    /// or `sqlite::memory:` for tests; options may follow as a query, e.g.
    /// `sqlite://inbox.db?busy_timeout_ms=2000&queue_capacity=8192`.
    /// The database runs in WAL mode with `synchronous=FULL`.
    ///
    /// Blocks briefly while the file is opened; call it at start-up. For a
    /// PostgreSQL URL use [`Inbox::connect`].
    pub fn open(url: &str) -> Result<Inbox> {
        Self::open_with(url, InboxOptions::default())
    }

    /// [`Inbox::open`] with explicit options.
    /// Options given in the URL's query (`?busy_timeout_ms=2000`) override `options`.
    pub fn open_with(url: &str, mut options: InboxOptions) -> Result<Inbox> {
        match parse_url(url, &mut options)? {
            StoreUrl::Sqlite(target) => Ok(Self::from_store(Arc::new(sqlite::SqliteStore::open(
                target,
                options,
                Arc::default(),
                Opening::Use,
            )?))),
            StoreUrl::Postgres(_) => Err(InboxError::Invalid(format!(
                "{} is a PostgreSQL URL: open it with Inbox::connect",
                redact(url)
            ))),
        }
    }

    /// Open the inbox at `url`, SQLite or PostgreSQL, with default options.
    /// `postgres://user:password@host:port/database` (also `postgresql://`)
    /// needs the `postgres` feature; the database must exist, and its tables
    /// are created or migrated. Fails with [`InboxError::Unavailable`] when
    /// the server cannot be reached.
    pub async fn connect(url: &str) -> Result<Inbox> {
        Self::connect_with(url, InboxOptions::default()).await
    }

    /// [`Inbox::connect`] with explicit options (the URL's query wins).
    pub async fn connect_with(url: &str, options: InboxOptions) -> Result<Inbox> {
        let store = open_store(url, options, Arc::default(), Opening::Use).await?;
        Ok(Self::from_store(store))
    }

    /// [`Inbox::connect_with`], except that a store that cannot be opened
    /// now ([`InboxError::Unavailable`]: PostgreSQL down or unreachable, its
    /// password refused, a SQLite file that cannot be opened or is
    /// read-only) is no error: the inbox is returned at once and opens the
    /// store in the background, trying again after 1 s, 2 s, 4 s ... up to
    /// every 30 s. Until then every operation fails with `Unavailable`
    /// saying why (a receiver answers `503` + `Retry-After`, which
    /// Tradecloud retries, and `/readyz` says why). What no retry can fix
    /// (a bad URL, a schema newer than this build, an unfinished `inbox
    /// migrate`) still fails at once. This is how `tradecloud serve` opens
    /// its inbox, so that its port is open (and answers 503) while the
    /// database is away.
    pub async fn connect_retrying(url: &str, options: InboxOptions) -> Result<Inbox> {
        let changed: Arc<Notify> = Arc::default();
        match open_store(url, options.clone(), changed.clone(), Opening::Use).await {
            Ok(store) => Ok(Self::from_store(store)),
            Err(failure @ InboxError::Unavailable(_)) => {
                let path = match parse_url(url, &mut options.clone())? {
                    StoreUrl::Sqlite(options::Target::File(path)) => Some(path),
                    _ => None,
                };
                let describe = match &path {
                    Some(path) => format!("sqlite://{}", path.display()),
                    None => redact(url),
                };
                let url = url.to_string();
                let reopen = changed.clone();
                let store =
                    deferred::Deferred::start(describe, path, changed, failure, move || {
                        let (url, options, changed) =
                            (url.clone(), options.clone(), reopen.clone());
                        async move { open_store(&url, options, changed, Opening::Use).await }
                    });
                Ok(Self::from_store(store))
            }
            Err(other) => Err(other),
        }
    }

    /// Open an inbox to copy into with [`Inbox::copy_to`]: like
    /// [`Inbox::connect_with`] for a command that only reads (lists and
    /// shows events): a SQLite file is opened read-only and never created,
    /// upgraded or written, so that an inbox on a read-only file system can
    /// be read; every write fails with [`InboxError::Unavailable`]. On a
    /// read-only file system a SQLite inbox whose `-wal` file holds changes
    /// but whose `-shm` file is missing cannot be read: the error says so.
    /// A PostgreSQL inbox is opened as [`Inbox::connect_with`] does
    /// (`create: false` keeps it from creating tables).
    pub async fn connect_reading(url: &str, options: InboxOptions) -> Result<Inbox> {
        let store = open_store(url, options, Arc::default(), Opening::Read).await?;
        Ok(Self::from_store(store))
    }

    /// [`Inbox::connect_with`], except that an inbox holding the unfinished
    /// copy of an earlier `copy_to` is opened too (every other opening
    /// refuses it), so that the copy can be run again.
    pub async fn connect_migration_target(url: &str, options: InboxOptions) -> Result<Inbox> {
        let store = open_store(url, options, Arc::default(), Opening::MigrationTarget).await?;
        Ok(Self::from_store(store))
    }

    /// The SQLite database file, or `None` (in memory, or PostgreSQL).
    pub fn path(&self) -> Option<&std::path::Path> {
        self.store.path()
    }

    /// The store's URL without its password, for logs.
    pub fn describe(&self) -> String {
        self.store.describe()
    }

    pub(crate) fn store_impl(&self) -> &dyn Store {
        &*self.store
    }

    /// Notified after every commit that may have made an event ready.
    pub(crate) fn changed(&self) -> Arc<Notify> {
        self.store.changed()
    }

    /// Store an event. Returns only after it is durably committed, together
    /// with the other events that arrived meanwhile (group commit).
    ///
    /// An event whose `message_id` is already stored for an event of the
    /// same `kind` is not stored again: [`Stored::Duplicate`] with the first
    /// one's id (see "Keys" in the [module docs](self)). (Exception: when the
    /// stored one was `rejected` and this one is valid, the valid one is
    /// stored and takes over the message id; the rejected bytes are kept.)
    ///
    /// Errors: [`InboxError::Overloaded`] at once when the write queue is full;
    /// [`InboxError::Unavailable`] when the database cannot be written. Both
    /// are transient: answer 503.
    ///
    /// With OpenTelemetry traces on ([`crate::telemetry`]), the commit is a
    /// `tradecloud.store` span, and the caller's span context (W3C
    /// `traceparent`) is stored with the event, so that handling it joins
    /// that trace.
    pub async fn store(&self, event: NewEvent) -> Result<Stored> {
        let derived = Derived::of_body(&event.body, crate::telemetry::current_traceparent());
        self.store_derived(event, derived).await
    }

    /// [`Inbox::store`] with what the inbox derives already known.
    async fn store_derived(&self, event: NewEvent, derived: Derived) -> Result<Stored> {
        use tracing::Instrument as _;
        let span = tracing::debug_span!(
            "tradecloud.store",
            tradecloud.inbox.id = tracing::field::Empty,
            tradecloud.outcome = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        let stored = self
            .store
            .store(event, derived)
            .instrument(span.clone())
            .await;
        match &stored {
            Ok(s) => {
                self.stored.fetch_add(1, Ordering::Relaxed);
                span.record("tradecloud.inbox.id", s.id());
                span.record(
                    "tradecloud.outcome",
                    if s.is_duplicate() {
                        "duplicate"
                    } else {
                        "stored"
                    },
                );
            }
            Err(e) => {
                if matches!(e, InboxError::Unavailable(_)) {
                    self.failed.fetch_add(1, Ordering::Relaxed);
                }
                span.record(
                    "tradecloud.outcome",
                    if e.is_transient() {
                        "unavailable"
                    } else {
                        "error"
                    },
                );
                span.record("otel.status_code", "ERROR");
            }
        }
        stored
    }

    /// [`store`](Self::store) an event made from `webhook`
    /// ([`NewEvent::from_webhook`]) and keep the decoded `webhook` for this
    /// process's [`Processor`](crate::processing::Processor), which then
    /// need not decode the stored body again for the event's first attempt.
    /// A shortcut only: when the processor does not find it (another
    /// process, a retry, a replay, a backlog of more than 128 events or 8 MiB
    /// of bodies, a body over 1 MiB) it decodes the stored body, to the same
    /// value.
    ///
    /// ```
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// use bytes::Bytes;
    /// use tradecloud::inbox::{Inbox, NewEvent};
    /// use tradecloud::webhook::{decode, Endpoint};
    ///
    /// let inbox = Inbox::open("sqlite::memory:")?;
    /// let body = Bytes::from_static(
    ///     br#"{"eventName": "OrderIssuedByBuyer", "orderEvent": {"orderId": "o1", "lines": []}}"#,
    /// );
    /// let webhook = decode(Endpoint::Order, "application/json", &body)?;
    /// let event = NewEvent::from_webhook(&webhook, "application/json", body.clone());
    /// let stored = inbox.store_webhook(event, webhook).await?;
    /// assert!(!stored.is_duplicate());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn store_webhook(&self, event: NewEvent, webhook: Webhook) -> Result<Stored> {
        let body_len = event.body.len();
        // The purchase order number comes from the decoded webhook, not
        // from another pass over the body.
        let po_key = webhook.purchase_order_number().map(keys::object_key);
        // A webhook no processor will take is freed here, on the thread
        // that decoded it: after the await below the task may go on on
        // another worker thread, where freeing its hundreds of allocations
        // costs more (5 % of the CPU per event with `--receive-only`).
        let handed_on = if matches!(event.state, NewState::Received) && self.handoff.wants(body_len)
        {
            Some(handoff::HandedOn {
                handoff: self.handoff.clone(),
                webhook,
                body_len,
            })
        } else {
            drop(webhook);
            None
        };
        let derived = Derived {
            trace_parent: crate::telemetry::current_traceparent(),
            po_key,
            packed: None,
            handed_on,
        };
        // The store puts the webhook into the handoff when it commits the
        // event as new.
        self.store_derived(event, derived).await
    }

    /// The webhook [`store_webhook`](Self::store_webhook) kept for event
    /// `id`, once.
    pub(crate) fn take_decoded(&self, id: i64) -> Option<Webhook> {
        self.handoff.take(id)
    }

    /// A processor of this process handles this inbox's events: keep what
    /// [`store_webhook`](Self::store_webhook) decoded for it.
    pub(crate) fn open_handoff(&self) {
        self.handoff.open();
    }

    /// Whether an event can be committed now, without committing one:
    /// SQLite takes the write lock through the writer's queue (a full queue
    /// is `Overloaded`; a lock held by another process past the busy
    /// timeout, a missing file or a file this process may not write is
    /// `Unavailable`; a disk with little free space is not, as long as
    /// events can be stored: see [`Inbox::low_space`]); PostgreSQL inserts
    /// a row on a pooled connection and rolls it back, so it fails whenever storing an event would
    /// (`default_transaction_read_only`, a standby after a failover, a
    /// revoked privilege, the server down). A store that could not be
    /// opened yet ([`Inbox::connect_retrying`]) says why.
    pub async fn ready(&self) -> Result<()> {
        self.store.ready().await
    }

    /// A warning while the disk holding a SQLite inbox has less free space
    /// than [`InboxOptions::min_free_bytes`]: events are still stored (each
    /// one stored is one Tradecloud need not send again), but the disk is
    /// filling up; once it is full, webhooks are answered 503. `None` when
    /// there is room, and for PostgreSQL.
    pub fn low_space(&self) -> Option<String> {
        self.store.low_space()
    }

    /// [`Inbox::ready`], answered from the last check while it is younger
    /// than `max_age`: what `/readyz` calls, so that any number of probes
    /// costs at most one check per `max_age`. (A failed check is not reused
    /// once an event has been stored since: the store is back; nor a
    /// successful one once storing an event failed since because the store
    /// was unavailable.)
    pub async fn ready_cached(&self, max_age: Duration) -> Result<()> {
        let mut cached = self.readiness.lock().await;
        let stored = self.stored.load(Ordering::Relaxed);
        let failed = self.failed.load(Ordering::Relaxed);
        if let Some((at, result, stored_then, failed_then)) = &*cached {
            let stale_failure = result.is_err() && *stored_then != stored;
            let stale_success = result.is_ok() && *failed_then != failed;
            if at.elapsed() < max_age && !stale_failure && !stale_success {
                return result.clone();
            }
        }
        let result = self.store.ready().await;
        *cached = Some((Instant::now(), result.clone(), stored, failed));
        result
    }

    /// Events matching `filter`: the newest `limit` (default 100), oldest first.
    pub async fn list(&self, filter: ListFilter) -> Result<Vec<EventSummary>> {
        self.store.list(filter).await
    }

    /// One event with its exact body bytes.
    pub async fn get(&self, id: i64) -> Result<Option<StoredEvent>> {
        self.store.get(id).await
    }

    /// The processing attempts of event `id` (the newest [`ATTEMPTS_KEPT`]),
    /// oldest first: when each started and finished, which processor ran
    /// it, what became of it and its error. Empty for an unknown id.
    pub async fn attempts(&self, id: i64) -> Result<Vec<Attempt>> {
        self.store.attempts(id).await
    }

    /// Queue a `rejected`, `dead`, `done` or `unhandled` event to be processed again: it
    /// becomes `received` (a GET-webhook trigger becomes `trigger`) with its
    /// attempts and error cleared; the processor parses the stored body again.
    /// `NotFound` for an unknown id, `Invalid` for an event in another state.
    pub async fn replay(&self, id: i64) -> Result<()> {
        self.store.replay(id).await
    }

    /// Give up on an event still to be handled (`received`, `trigger` or
    /// `retrying`, e.g. one the ERP will never accept), or on one left
    /// `processing` that no live claim holds (interrupted, then put back at
    /// a clean stop; on PostgreSQL also one whose lease ran out): it becomes
    /// `dead` with `reason` as its error, and the next event of its order or
    /// shipment is handled. `NotFound` for an unknown id, `Invalid` for an
    /// event in another state or held by a claim (one being handled right
    /// now: try again when it is finished; on SQLite, a claim left by a
    /// process that died counts until the next start frees it). It can be
    /// replayed like any dead event.
    pub async fn mark_dead(&self, id: i64, reason: &str) -> Result<()> {
        self.store.mark_dead(id, reason.to_string()).await
    }

    /// Whether a live claim holds event `id` (its order or shipment): a
    /// `processing` event so held is being handled now, one not held was
    /// interrupted and can be marked dead. The rule [`Inbox::mark_dead`]
    /// applies (on SQLite, a claim left by a process that died counts until
    /// the next start frees it), except that a SQLite inbox opened for
    /// reading ([`Inbox::connect_reading`], `tradecloud inbox show`) counts
    /// such a claim only while some process has the file open to use it (a
    /// receiver, a processor, an `inbox` command that writes, each holding
    /// `PATH-lock` shared): with none, the claim was left by one that
    /// stopped or crashed, and is not held. `NotFound` for an unknown id.
    pub async fn held(&self, id: i64) -> Result<bool> {
        self.store.held(id).await
    }

    /// All dead-lettered events, oldest first.
    pub async fn dead(&self) -> Result<Vec<EventSummary>> {
        self.store
            .list(ListFilter {
                state: Some(State::Dead),
                limit: Some(usize::MAX >> 2),
                ..ListFilter::default()
            })
            .await
    }

    /// Counts of events per state.
    pub async fn counts(&self) -> Result<Vec<(State, u64)>> {
        self.store.counts().await
    }

    /// Delete the `done` events whose handling finished (`updated_at`)
    /// before `cutoff`; with `dry_run`, only count them. Events in any other
    /// state (to be handled, `dead`, `rejected`, `unhandled`) are never deleted. Deletes
    /// in batches of [`PURGE_BATCH`] events, each its own write, so that
    /// incoming events are not held up by a long purge. SQLite reuses the
    /// freed pages; the file does not shrink (run `VACUUM` offline for that).
    pub async fn purge(&self, cutoff: DateTime<Utc>, dry_run: bool) -> Result<Purged> {
        let cutoff_ms = cutoff.timestamp_millis();
        if dry_run {
            return self.store.purgeable(cutoff_ms).await;
        }
        let mut total = Purged::default();
        loop {
            let batch = self.store.purge_batch(cutoff_ms, PURGE_BATCH).await?;
            total.events += batch.events;
            total.body_bytes += batch.body_bytes;
            if batch.events < PURGE_BATCH as u64 {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }

    /// Copy every event of this inbox into `to`, which must be empty: ids,
    /// states, errors, attempts, times, sources and bodies byte for byte, in
    /// id order; then build `to`'s queue. Stop the receivers of both first.
    ///
    /// Until the copy is complete, `to` is marked as an unfinished copy
    /// (in the same transaction that starts it), and every opening but
    /// [`Inbox::connect_migration_target`] refuses it, so that no receiver
    /// serves half an inbox. Running the copy again starts it over (`to` is
    /// emptied first). A row that cannot be read or written is named in the
    /// error (id, kind, message id, order or shipment id, size, and the
    /// database's reason). A SQLite source that another process (or another
    /// `Inbox` here) has open is refused before anything is copied: a
    /// receiver, even an idle one, would store its next events there. When
    /// the source changed while it was copied (a receiver still uses it),
    /// the copy is refused and `to` stays marked.
    pub async fn copy_to(&self, to: &Inbox) -> Result<Copied> {
        migrate::copy(self, to).await
    }
}
