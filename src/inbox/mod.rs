//! The durable inbox of the webhook receiver: every event Tradecloud sends is
//! committed to an embedded SQLite database (compiled in, no server to
//! install) **before** the receiver answers, and handed to the user's handler
//! from there by [`crate::processing`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), tradecloud::inbox::InboxError> {
//! use tradecloud::inbox::{EventKind, Inbox, NewEvent, NewState, Stored};
//!
//! let inbox = Inbox::open("sqlite://tradecloud-inbox.db")?;
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
//!     })
//!     .await?;
//! match stored {
//!     Stored::New(id) => println!("stored as event {id}"),
//!     Stored::Duplicate(id) => println!("already stored as event {id}"),
//! }
//! # Ok(()) }
//! ```
//!
//! # Durability and throughput
//!
//! [`Inbox::store`] returns only after the row is committed with
//! `synchronous=FULL` in WAL mode, i.e. after the write-ahead log was
//! fsync'd. One writer thread owns the write connection. It drains a bounded
//! queue and commits everything it finds there in **one transaction**
//! (group commit), then answers each caller: many concurrent requests share
//! one fsync, so durability does not cap throughput. When the queue is full
//! (more than [`InboxOptions::queue_capacity`] events or
//! [`InboxOptions::queue_bytes`] bytes waiting), `store` fails at once with
//! [`InboxError::Overloaded`], which a receiver answers with 503.
//!
//! Reads (`list`, `get`, `dead`, the processor's queue) use a small pool of
//! separate connections on blocking threads, so they never wait for a commit
//! and never block the async runtime.
//!
//! # Failures
//!
//! Every failure of the database (locked by another process past the busy
//! timeout, disk full, I/O error, the file removed or replaced) is
//! [`InboxError::Unavailable`]: a receiver answers 503, Tradecloud retries,
//! and the next batch tries again (reopening the file if it was replaced).
//! Nothing half-written is acknowledged: a batch that fails is rolled back and
//! every caller in it gets the error.
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
//! kept, but never handed to the handler; replay it after an upgrade.
//!
//! A `processing` event is one a handler was working on; [`crate::processing`]
//! resets those to `received` when it starts, so an event interrupted by a
//! crash is handled again (at-least-once delivery).
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
//! # Schema versions
//!
//! The database records its schema version (`PRAGMA user_version`). Version 2
//! keeps bodies in a table of their own (`event_bodies`), so that a state
//! change does not rewrite the body and reading an event's state does not walk
//! it. Opening a version-1 file (any [`Inbox::open`], also the `tradecloud
//! inbox` commands) migrates it in one transaction: the file is at version 1
//! or 2, never in between. The migration copies every body once, so it needs
//! about the database's size again in free disk space (WAL) and takes a while
//! for a large inbox; stop every process of the older version first (it
//! cannot read version 2). A file of a newer version than this build knows is
//! refused.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::ser::SerializeMap;
use tokio::sync::{mpsc, Notify};

use crate::api::order_webhook_connector::types::OrderWebhookBody;
use crate::api::shipment_webhook_connector::types::ShipmentWebhookBody;
use crate::webhook::Webhook;

mod db;
pub(crate) mod queue;
mod writer;

use writer::{FnOp, WriteOp};

/// The store URL used when none is configured.
pub const DEFAULT_STORE_URL: &str = "sqlite://tradecloud-inbox.db";

/// What kind of webhook an event came from. Serialised as `order`,
/// `orderDocuments` and `shipment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EventKind {
    /// An order webhook body with an `orderEvent` or `singleDeliveryOrderEvent`
    /// (or an order fetched for a GET webhook).
    Order,
    /// An order webhook body with an `orderDocumentsEvent`.
    OrderDocuments,
    /// A shipment webhook body (or a shipment fetched for a GET webhook).
    Shipment,
}

impl EventKind {
    /// `order`, `orderDocuments` or `shipment`.
    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::Order => "order",
            EventKind::OrderDocuments => "orderDocuments",
            EventKind::Shipment => "shipment",
        }
    }

    /// The JSON name of the object id of this kind: `orderId` or `shipmentId`.
    pub fn object_id_name(&self) -> &'static str {
        match self {
            EventKind::Order | EventKind::OrderDocuments => "orderId",
            EventKind::Shipment => "shipmentId",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = InboxError;
    fn from_str(s: &str) -> Result<Self, InboxError> {
        match s {
            "order" => Ok(EventKind::Order),
            "orderDocuments" => Ok(EventKind::OrderDocuments),
            "shipment" => Ok(EventKind::Shipment),
            other => Err(InboxError::Invalid(format!(
                "unknown event kind {other:?} (expected order, orderDocuments or shipment)"
            ))),
        }
    }
}

/// The processing state of a stored event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum State {
    /// Stored, waiting to be handled.
    Received,
    /// A GET webhook (only an id): the processor fetches the order or shipment.
    Trigger,
    /// A handler is working on it (reset to `received` on restart).
    Processing,
    /// The handler returned `Ok`.
    Done,
    /// A transient error; handled again at `next_attempt_at`.
    Retrying,
    /// A permanent error, or the attempts ran out (`error` says why).
    Dead,
    /// The body could not be parsed (`error` says why): quarantined, never
    /// handed to the handler; replay it once the cause is fixed.
    Rejected,
    /// An event name this version does not know, without a payload it
    /// knows (`error` says which): kept, never handed to the handler;
    /// replay it after an upgrade that knows it.
    Unhandled,
}

impl State {
    /// Every state, in lifecycle order.
    pub const ALL: [State; 8] = [
        State::Received,
        State::Trigger,
        State::Processing,
        State::Done,
        State::Retrying,
        State::Dead,
        State::Rejected,
        State::Unhandled,
    ];

    /// The name stored in the database and printed by the CLI.
    pub fn as_str(&self) -> &'static str {
        match self {
            State::Received => "received",
            State::Trigger => "trigger",
            State::Processing => "processing",
            State::Done => "done",
            State::Retrying => "retrying",
            State::Dead => "dead",
            State::Rejected => "rejected",
            State::Unhandled => "unhandled",
        }
    }

    /// Whether [`Inbox::replay`] accepts an event in this state.
    pub fn is_replayable(&self) -> bool {
        matches!(
            self,
            State::Done | State::Dead | State::Rejected | State::Unhandled
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = InboxError;
    fn from_str(s: &str) -> Result<Self, InboxError> {
        State::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| {
                InboxError::Invalid(format!(
                    "unknown state {s:?} (expected one of received, trigger, processing, done, retrying, dead, rejected, unhandled)"
                ))
            })
    }
}

/// Where the body of a stored event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Origin {
    /// A webhook body as Tradecloud sent it (`OrderWebhookBody` or
    /// `ShipmentWebhookBody`, JSON or tXML).
    Webhook,
    /// A GET webhook: no body, only the object id.
    Trigger,
    /// The whole order or shipment, fetched from the API for a trigger
    /// (`Order` or `Shipment` JSON).
    Fetched,
}

impl Origin {
    /// `webhook`, `trigger` or `fetched`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Origin::Webhook => "webhook",
            Origin::Trigger => "trigger",
            Origin::Fetched => "fetched",
        }
    }

    fn parse(s: &str) -> Result<Self, InboxError> {
        match s {
            "webhook" => Ok(Origin::Webhook),
            "trigger" => Ok(Origin::Trigger),
            "fetched" => Ok(Origin::Fetched),
            other => Err(InboxError::Invalid(format!(
                "unknown origin {other:?} in the inbox"
            ))),
        }
    }
}

/// How a new event enters the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewState {
    /// A valid event, to be handled.
    Received,
    /// A body that could not be parsed: kept byte for byte (quarantine) with
    /// the parse error, never handed to the handler, replayable.
    Rejected {
        /// The parse error, as answered to the sender.
        error: String,
    },
    /// A GET webhook: only an id. The processor fetches the whole order or
    /// shipment and stores it as the event to handle.
    Trigger,
    /// An unknown event without a known payload
    /// ([`crate::webhook::Webhook::Unknown`]): kept, never handed to the
    /// handler, replayable.
    Unhandled {
        /// Why it is not handled.
        reason: String,
    },
}

/// An event to store: what the receiver got, byte for byte, and what it
/// could read from it.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Order, order documents or shipment.
    pub kind: EventKind,
    /// `eventName` of the body, if it could be read.
    pub event_name: Option<String>,
    /// The order id or shipment id: the ordering key (events of one object are
    /// handled one at a time, in arrival order).
    pub object_id: Option<String>,
    /// `meta.messageId` of the body, or of the event inside it: the dedupe key.
    pub message_id: Option<String>,
    /// The request's `Content-Type`.
    pub content_type: String,
    /// The exact bytes received.
    pub body: Bytes,
    /// To process, quarantined, or a GET-webhook trigger.
    pub state: NewState,
    /// Where it came from, e.g. `POST /tradecloud/order`.
    pub source: Option<String>,
}

impl NewEvent {
    /// A decoded webhook body (see [`crate::webhook::decode`]): its kind
    /// (`orderDocuments` when it carries an `orderDocumentsEvent`), event
    /// name, object id and message id; `received`, or `unhandled` for an
    /// unknown event. `body` must be the bytes it was decoded from.
    pub fn from_webhook(webhook: &Webhook, content_type: impl Into<String>, body: Bytes) -> Self {
        let (kind, state) = match webhook {
            Webhook::Order(order) if order.event().is_some_and(|e| e.is_documents()) => {
                (EventKind::OrderDocuments, NewState::Received)
            }
            Webhook::Order(_) => (EventKind::Order, NewState::Received),
            Webhook::Shipment(_) => (EventKind::Shipment, NewState::Received),
            Webhook::Unknown(unknown) => (
                match unknown.endpoint {
                    crate::webhook::Endpoint::Order => EventKind::Order,
                    crate::webhook::Endpoint::Shipment => EventKind::Shipment,
                },
                NewState::Unhandled {
                    reason: unknown.reason(),
                },
            ),
        };
        NewEvent {
            kind,
            event_name: Some(webhook.event_name().to_owned()),
            object_id: webhook.object_id().map(str::to_owned),
            message_id: webhook.message_id().map(str::to_owned),
            content_type: content_type.into(),
            body,
            state,
            source: None,
        }
    }

    /// A valid order webhook body; `body` must be the bytes `parsed` came from.
    #[deprecated(
        note = "decode with `tradecloud::webhook::decode` and use `NewEvent::from_webhook`"
    )]
    pub fn from_order_body(
        parsed: &OrderWebhookBody,
        content_type: impl Into<String>,
        body: Bytes,
    ) -> Self {
        match Webhook::from_order(parsed.clone()) {
            Ok(webhook) => Self::from_webhook(&webhook, content_type, body),
            Err(error) => Self::rejected(EventKind::Order, content_type, body, error.to_string()),
        }
    }

    /// A valid shipment webhook body; `body` must be the bytes `parsed` came from.
    #[deprecated(
        note = "decode with `tradecloud::webhook::decode` and use `NewEvent::from_webhook`"
    )]
    pub fn from_shipment_body(
        parsed: &ShipmentWebhookBody,
        content_type: impl Into<String>,
        body: Bytes,
    ) -> Self {
        Self::from_webhook(&Webhook::from_shipment(parsed.clone()), content_type, body)
    }

    /// A body that could not be parsed, kept with its parse `error`.
    pub fn rejected(
        kind: EventKind,
        content_type: impl Into<String>,
        body: Bytes,
        error: impl Into<String>,
    ) -> Self {
        NewEvent {
            kind,
            event_name: None,
            object_id: None,
            message_id: None,
            content_type: content_type.into(),
            body,
            state: NewState::Rejected {
                error: error.into(),
            },
            source: None,
        }
    }

    /// A GET webhook for order or shipment `object_id`.
    pub fn trigger(kind: EventKind, object_id: impl Into<String>) -> Self {
        NewEvent {
            kind,
            event_name: None,
            object_id: Some(object_id.into()),
            message_id: None,
            content_type: String::new(),
            body: Bytes::new(),
            state: NewState::Trigger,
            source: None,
        }
    }

    /// The same event with `source` set (e.g. `POST /tradecloud/order`).
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }
}

/// The order id of an order webhook body, from whichever event it carries.
#[deprecated(note = "use `body.order_id()` (tradecloud::webhook)")]
pub fn order_id_of(body: &OrderWebhookBody) -> Option<String> {
    body.order_id().map(str::to_owned)
}

/// The message id of an order webhook body: `meta.messageId` of the body, or
/// else of the event inside it (an empty or blank one counts as none).
#[deprecated(note = "use `body.message_id()` (tradecloud::webhook)")]
pub fn order_message_id_of(body: &OrderWebhookBody) -> Option<String> {
    body.message_id().map(str::to_owned)
}

/// The outcome of [`Inbox::store`]; both mean "durably stored, answer 2xx".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Committed as a new event with this id.
    New(i64),
    /// An event with the same message id was stored before, as this id; the
    /// new copy was not stored.
    Duplicate(i64),
}

impl Stored {
    /// The id of the stored event.
    pub fn id(&self) -> i64 {
        match *self {
            Stored::New(id) | Stored::Duplicate(id) => id,
        }
    }

    /// Whether the event was a redelivery of a stored one.
    pub fn is_duplicate(&self) -> bool {
        matches!(self, Stored::Duplicate(_))
    }
}

/// Why an inbox operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InboxError {
    /// The store cannot be written or read right now: locked, disk full, I/O
    /// error, file missing. Transient: a receiver answers 503.
    #[error("inbox store unavailable: {0}")]
    Unavailable(String),
    /// The write queue is full. Transient: a receiver answers 503.
    #[error("inbox overloaded: the write queue is full")]
    Overloaded,
    /// No event with this id.
    #[error("no event {0} in the inbox")]
    NotFound(i64),
    /// A bad argument: store URL, state name, an event that cannot be replayed.
    #[error("{0}")]
    Invalid(String),
}

impl InboxError {
    /// Whether trying again later can succeed (`Unavailable`, `Overloaded`):
    /// answer 503 with `Retry-After`, never 500.
    pub fn is_transient(&self) -> bool {
        matches!(self, InboxError::Unavailable(_) | InboxError::Overloaded)
    }
}

impl From<rusqlite::Error> for InboxError {
    fn from(err: rusqlite::Error) -> Self {
        InboxError::Unavailable(err.to_string())
    }
}

/// Which events [`Inbox::list`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Only events in this state.
    pub state: Option<State>,
    /// Only events of this kind.
    pub kind: Option<EventKind>,
    /// Only events of this order or shipment.
    pub object_id: Option<String>,
    /// Only events with a smaller id (paging backwards).
    pub before_id: Option<i64>,
    /// At most this many (default 100): the newest ones, returned oldest first.
    pub limit: Option<usize>,
}

/// A stored event without its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSummary {
    /// Inbox id: arrival order.
    pub id: i64,
    /// Order, order documents or shipment.
    pub kind: EventKind,
    /// `eventName`, if known.
    pub event_name: Option<String>,
    /// Order id or shipment id, if known.
    pub object_id: Option<String>,
    /// `meta.messageId`, if known.
    pub message_id: Option<String>,
    /// Content type as received.
    pub content_type: String,
    /// Processing state.
    pub state: State,
    /// Parse error (rejected), handler error (retrying, dead).
    pub error: Option<String>,
    /// Handler attempts so far.
    pub attempts: u32,
    /// When it was stored (UTC, millisecond precision).
    pub received_at: DateTime<Utc>,
    /// Last change of state.
    pub updated_at: DateTime<Utc>,
    /// When a retrying event is handled again.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Where it came from, e.g. `POST /tradecloud/order`.
    pub source: Option<String>,
    /// Webhook body, GET-webhook trigger, or fetched order/shipment.
    pub origin: Origin,
    /// Size of the body in bytes.
    pub body_len: u64,
}

fn rfc3339(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// JSON as printed by `tradecloud inbox list --json`: `id`, `kind`,
/// `eventName`, `orderId` or `shipmentId`, `messageId`, `receivedAt`
/// (RFC 3339, UTC), `state`, `error` (when set), `attempts`, `updatedAt`,
/// `nextAttemptAt` (when set), `contentType`, `bodyBytes`, `source`, `origin`.
impl serde::Serialize for EventSummary {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("kind", &self.kind)?;
        map.serialize_entry("eventName", &self.event_name)?;
        map.serialize_entry(self.kind.object_id_name(), &self.object_id)?;
        map.serialize_entry("messageId", &self.message_id)?;
        map.serialize_entry("receivedAt", &rfc3339(&self.received_at))?;
        map.serialize_entry("state", &self.state)?;
        if let Some(error) = &self.error {
            map.serialize_entry("error", error)?;
        }
        map.serialize_entry("attempts", &self.attempts)?;
        map.serialize_entry("updatedAt", &rfc3339(&self.updated_at))?;
        if let Some(next) = &self.next_attempt_at {
            map.serialize_entry("nextAttemptAt", &rfc3339(next))?;
        }
        map.serialize_entry("contentType", &self.content_type)?;
        map.serialize_entry("bodyBytes", &self.body_len)?;
        map.serialize_entry("source", &self.source)?;
        map.serialize_entry("origin", &self.origin)?;
        map.end()
    }
}

/// Events deleted per write by [`Inbox::purge`].
pub const PURGE_BATCH: usize = 500;

/// What [`Inbox::purge`] deleted (or, for a dry run, would delete).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Purged {
    /// Events.
    pub events: u64,
    /// Their body bytes.
    pub body_bytes: u64,
}

/// A stored event with its exact body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Everything but the body.
    pub summary: EventSummary,
    /// The bytes received, unchanged.
    pub body: Bytes,
}

/// Tuning of an [`Inbox`]; [`Inbox::open`] uses the defaults.
#[derive(Debug, Clone)]
pub struct InboxOptions {
    /// Events waiting for the writer before `store` answers `Overloaded` (default 4096).
    pub queue_capacity: usize,
    /// Body bytes waiting for the writer before `store` answers `Overloaded`
    /// (default 256 MiB; one event is always accepted into an empty queue).
    pub queue_bytes: usize,
    /// Most events committed in one transaction (default 1024).
    pub max_batch: usize,
    /// How long to wait for a lock held by another process before giving up
    /// with `Unavailable` (default 5 s).
    pub busy_timeout: Duration,
    /// Create the database file if it does not exist (default true; the CLI
    /// sets false so that a wrong path is an error, not a new empty inbox).
    pub create: bool,
}

impl Default for InboxOptions {
    fn default() -> Self {
        InboxOptions {
            queue_capacity: 4096,
            queue_bytes: 256 << 20,
            max_batch: 1024,
            busy_timeout: Duration::from_secs(5),
            create: true,
        }
    }
}

/// Where the database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Memory,
    File(PathBuf),
}

/// Parse a store URL: `sqlite://PATH` (relative, or `sqlite:///abs/path.db`),
/// `sqlite:PATH`, or `sqlite::memory:` (a private in-memory database, for
/// tests), optionally followed by `?key=value&...` with the [`InboxOptions`]
/// `busy_timeout_ms`, `queue_capacity`, `queue_bytes` and `max_batch`.
pub(crate) fn parse_url(url: &str, options: &mut InboxOptions) -> Result<Target, InboxError> {
    let url = url.trim();
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| {
            InboxError::Invalid(format!(
                "unsupported store URL {url:?}: expected sqlite://PATH (e.g. {DEFAULT_STORE_URL}) or sqlite::memory:"
            ))
        })?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let number = |what: &str| {
            value.parse::<u64>().map_err(|_| {
                InboxError::Invalid(format!(
                    "store URL {url:?}: {what} must be a whole number, not {value:?}"
                ))
            })
        };
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        match key {
            "busy_timeout_ms" => options.busy_timeout = Duration::from_millis(number(key)?),
            "queue_capacity" => options.queue_capacity = size(number(key)?).max(1),
            "queue_bytes" => options.queue_bytes = size(number(key)?),
            "max_batch" => options.max_batch = size(number(key)?).max(1),
            other => {
                return Err(InboxError::Invalid(format!(
                    "store URL {url:?}: unknown option {other:?} (known: busy_timeout_ms, queue_capacity, queue_bytes, max_batch)"
                )))
            }
        }
    }
    if path == ":memory:" {
        return Ok(Target::Memory);
    }
    if path.is_empty() {
        return Err(InboxError::Invalid(format!(
            "store URL {url:?} names no database file"
        )));
    }
    Ok(Target::File(PathBuf::from(path)))
}

pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub(crate) fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

pub(crate) struct Inner {
    target: Target,
    options: InboxOptions,
    tx: mpsc::Sender<Box<dyn WriteOp>>,
    queued_bytes: Arc<AtomicUsize>,
    readers: Mutex<Vec<db::Reader>>,
    /// Notified after every commit that may make an event ready to process.
    pub(crate) changed: Arc<Notify>,
}

/// The durable inbox. Cheap to clone (an `Arc`), `Send + Sync`: give a clone
/// to every request handler and to the processor.
#[derive(Clone)]
pub struct Inbox {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("target", &self.inner.target)
            .finish_non_exhaustive()
    }
}

/// Releases a stored body's bytes from the queue budget when the write is done.
struct QueuedBytes {
    counter: Arc<AtomicUsize>,
    bytes: usize,
}

impl Drop for QueuedBytes {
    fn drop(&mut self) {
        self.counter.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

impl Inbox {
    /// Open (and create, with its schema) the inbox at `url` with default
    /// [`InboxOptions`]: `sqlite://path.db` (`sqlite:///abs/path.db`), or
    /// `sqlite::memory:` for tests; options may follow as a query, e.g.
    /// `sqlite://inbox.db?busy_timeout_ms=2000&queue_capacity=8192`.
    /// The database runs in WAL mode with `synchronous=FULL`.
    ///
    /// Blocks briefly while the file is opened; call it at start-up.
    pub fn open(url: &str) -> Result<Inbox, InboxError> {
        Self::open_with(url, InboxOptions::default())
    }

    /// [`Inbox::open`] with explicit options.
    /// Options given in the URL's query (`?busy_timeout_ms=2000`) override `options`.
    pub fn open_with(url: &str, mut options: InboxOptions) -> Result<Inbox, InboxError> {
        let target = parse_url(url, &mut options)?;
        let conn = db::open_writer(&target, &options)?;
        let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
        writer::spawn(target.clone(), conn, rx, options.clone())?;
        Ok(Inbox {
            inner: Arc::new(Inner {
                target,
                options,
                tx,
                queued_bytes: Arc::new(AtomicUsize::new(0)),
                readers: Mutex::new(Vec::new()),
                changed: Arc::new(Notify::new()),
            }),
        })
    }

    /// The database file, or `None` for an in-memory inbox.
    pub fn path(&self) -> Option<&std::path::Path> {
        match &self.inner.target {
            Target::File(path) => Some(path),
            Target::Memory => None,
        }
    }

    /// Store an event. Returns only after it is durably committed (fsync'd),
    /// together with the other events that arrived meanwhile (group commit).
    ///
    /// An event whose `message_id` is already stored is not stored again:
    /// [`Stored::Duplicate`] with the first one's id. (Exception: when the
    /// stored one was `rejected` and this one is valid, the valid one is
    /// stored and takes over the message id; the rejected bytes are kept.)
    ///
    /// Errors: [`InboxError::Overloaded`] at once when the write queue is full;
    /// [`InboxError::Unavailable`] when the database cannot be written. Both
    /// are transient: answer 503.
    pub async fn store(&self, event: NewEvent) -> Result<Stored, InboxError> {
        let bytes = event.body.len();
        let previous = self.inner.queued_bytes.fetch_add(bytes, Ordering::AcqRel);
        let guard = QueuedBytes {
            counter: self.inner.queued_bytes.clone(),
            bytes,
        };
        if previous > 0 && previous + bytes > self.inner.options.queue_bytes {
            return Err(InboxError::Overloaded);
        }
        let received_at = now_ms();
        // `insert_event` writes the event and its body (two rows): it runs in
        // a savepoint of its own within the group commit.
        let (op, rx) = FnOp::new(
            move |conn: &rusqlite::Connection| {
                let _guard = &guard;
                db::insert_event(conn, &event, received_at)
            },
            Some(self.inner.changed.clone()),
        );
        match self.inner.tx.try_send(op) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => return Err(InboxError::Overloaded),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(writer_gone()),
        }
        rx.await.unwrap_or_else(|_| Err(writer_gone()))
    }

    /// For `/readyz`: the store answers and a write can be committed. Fails
    /// with `Overloaded` when the write queue is full.
    pub async fn ready(&self) -> Result<(), InboxError> {
        let (op, rx) = FnOp::new(
            |conn: &rusqlite::Connection| {
                conn.prepare_cached("UPDATE inbox_health SET checked_at = ?1 WHERE id = 1")?
                    .execute([now_ms()])?;
                Ok(())
            },
            None,
        );
        match self.inner.tx.try_send(op) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => return Err(InboxError::Overloaded),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(writer_gone()),
        }
        rx.await.unwrap_or_else(|_| Err(writer_gone()))
    }

    /// Events matching `filter`: the newest `limit` (default 100), oldest first.
    pub async fn list(&self, filter: ListFilter) -> Result<Vec<EventSummary>, InboxError> {
        self.read(move |conn| db::list(conn, &filter)).await
    }

    /// One event with its exact body bytes.
    pub async fn get(&self, id: i64) -> Result<Option<StoredEvent>, InboxError> {
        self.read(move |conn| db::get(conn, id)).await
    }

    /// Queue a `rejected`, `dead` or `done` event to be processed again: it
    /// becomes `received` (a GET-webhook trigger becomes `trigger`) with its
    /// attempts and error cleared; the processor parses the stored body again.
    /// `NotFound` for an unknown id, `Invalid` for an event in another state.
    pub async fn replay(&self, id: i64) -> Result<(), InboxError> {
        self.write(move |conn| db::replay(conn, id, now_ms()), true)
            .await
    }

    /// All dead-lettered events, oldest first.
    pub async fn dead(&self) -> Result<Vec<EventSummary>, InboxError> {
        self.read(|conn| {
            db::list(
                conn,
                &ListFilter {
                    state: Some(State::Dead),
                    limit: Some(usize::MAX >> 2),
                    ..ListFilter::default()
                },
            )
        })
        .await
    }

    /// Counts of events per state.
    pub async fn counts(&self) -> Result<Vec<(State, u64)>, InboxError> {
        self.read(db::counts).await
    }

    /// Delete the `done` events whose handling finished (`updated_at`)
    /// before `cutoff`; with `dry_run`, only count them. Events in any other
    /// state (to be handled, `dead`, `rejected`, `unhandled`) are never deleted. Deletes
    /// in batches of [`PURGE_BATCH`] events, each its own write, so that
    /// incoming events are not held up by a long purge. SQLite reuses the
    /// freed pages; the file does not shrink (run `VACUUM` offline for that).
    pub async fn purge(&self, cutoff: DateTime<Utc>, dry_run: bool) -> Result<Purged, InboxError> {
        let cutoff_ms = cutoff.timestamp_millis();
        if dry_run {
            return self.read(move |conn| db::purgeable(conn, cutoff_ms)).await;
        }
        let mut total = Purged::default();
        loop {
            let batch = self
                .write(
                    move |conn| db::purge_batch(conn, cutoff_ms, PURGE_BATCH),
                    false,
                )
                .await?;
            total.events += batch.events;
            total.body_bytes += batch.body_bytes;
            if batch.events < PURGE_BATCH as u64 {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }

    /// Run `f` in the writer's next transaction and wait for its commit.
    pub(crate) async fn write<T, F>(&self, f: F, notify: bool) -> Result<T, InboxError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T, InboxError> + Send + 'static,
    {
        let (op, rx) = FnOp::new(f, notify.then(|| self.inner.changed.clone()));
        self.inner.tx.send(op).await.map_err(|_| writer_gone())?;
        rx.await.unwrap_or_else(|_| Err(writer_gone()))
    }

    /// Run `f` on a read connection on a blocking thread (in the writer for
    /// an in-memory inbox, which has only one connection).
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, InboxError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T, InboxError> + Send + 'static,
    {
        let path = match &self.inner.target {
            Target::Memory => return self.write(f, false).await,
            Target::File(path) => path.clone(),
        };
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let reader = {
                let mut pool = inner.readers.lock().unwrap_or_else(|e| e.into_inner());
                pool.pop()
            };
            let reader = db::Reader::checkout(reader, &path, &inner.options)?;
            let result = f(&reader.conn);
            if result.is_ok() {
                let mut pool = inner.readers.lock().unwrap_or_else(|e| e.into_inner());
                if pool.len() < 4 {
                    pool.push(reader);
                }
            }
            result
        })
        .await
        .map_err(|e| InboxError::Unavailable(format!("inbox read task failed: {e}")))?
    }
}

fn writer_gone() -> InboxError {
    InboxError::Unavailable("the inbox writer has stopped".into())
}
