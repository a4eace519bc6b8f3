//! Ordered, at-least-once processing of the events in the [`Inbox`]: the
//! [`Processor`] hands each stored event, parsed into an [`Event`], to the
//! user's [`Handler`].
//!
//! ```no_run
//! use tradecloud::inbox::Inbox;
//! use tradecloud::processing::{Event, Handler, HandlerContext, HandlerError, Processor, ProcessorConfig};
//!
//! struct Erp;
//!
//! impl Handler for Erp {
//!     async fn handle(&self, event: Event, ctx: &HandlerContext) -> Result<(), HandlerError> {
//!         match event {
//!             Event::Order { body, meta } => {
//!                 println!("event {} of order {:?}: {}", meta.inbox_id, meta.object_id, body.event_name.as_str());
//!                 // Write to the ERP here; Err(HandlerError::Transient(..)) when it is down.
//!                 Ok(())
//!             }
//!             other => {
//!                 println!("not interested in event {}", ctx.inbox_id());
//!                 let _ = other;
//!                 Ok(())
//!             }
//!         }
//!     }
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let inbox = Inbox::open("sqlite://tradecloud-inbox.db")?;
//! Processor::new(inbox, Erp, ProcessorConfig::default())
//!     .run(async { let _ = tokio::signal::ctrl_c().await; })
//!     .await;
//! # Ok(()) }
//! ```
//!
//! # Guarantees
//!
//! * **At least once.** An event is marked `done` only after the handler
//!   returned `Ok`. An event being handled is `processing` in the database;
//!   if the process dies, the event is handed to the handler again: on
//!   SQLite when [`Processor::run`] starts again, on PostgreSQL by any
//!   instance once the lease of the dead one has run out
//!   ([`ProcessorConfig::lease`]). Outcomes are recorded in batches (one
//!   commit for all the events handled since the last one, see below), so a
//!   crash can also hand the handler events it has already handled but whose
//!   `done` was not yet committed: up to [`ProcessorConfig::batch`] events
//!   per order. Handlers must therefore be idempotent: deduplicate with
//!   [`EventMeta::kind`] and [`EventMeta::message_id`] (Tradecloud's
//!   `meta.messageId`, unique per event of a kind: the inbox's own
//!   deduplication key) or [`EventMeta::inbox_id`] (unique per stored event), and the
//!   order's `lastUpdatedAt`; [`EventMeta::attempt`] > 1 says an earlier
//!   attempt was recorded (a retry), but `1` does not say that the handler
//!   never saw the event (see the next point).
//! * **Attempts counted.** An attempt is counted when its outcome is
//!   recorded (`done`, `retry`, `dead`, ... in `tradecloud inbox show`),
//!   and the event's `attempts` (and [`EventMeta::attempt`], which is it
//!   plus the attempt being made) is the number recorded since it was last
//!   queued. A claim interrupted by a crash records no outcome, and is not
//!   counted: a crash interrupts every event claimed with the one being
//!   handled (up to [`ProcessorConfig::batch`] per order, for each order in
//!   hand), and counting them all dead-lettered events that never reached
//!   the handler. So after a crash the handler may be handed an event again
//!   with the same attempt number. The exception is the next point.
//! * **A handler that kills the process.** An event whose claim was
//!   interrupted (the process was killed, crashed, aborted, or was
//!   OOM-killed; on PostgreSQL also: its lease ran out) is claimed as a run
//!   of its own and handed on again after the processor has committed an
//!   `interrupted` attempt for it, which its outcome replaces (only while
//!   the instance still holds the event: one whose lease ran out and
//!   passed to another instance meanwhile leaves the event to that one).
//!   Most events a crash interrupts never reached a handler (up to
//!   `8 × concurrency` runs are claimed ahead of the handlers), so the
//!   first time they are handed on side by side as usual, with an
//!   uncounted mark each. If the process dies again meanwhile, the marks
//!   tell which of them were in a handler: those, and only those, are then
//!   handed on **alone**, with no other handler of the process running. If
//!   the process dies while one runs alone, that event was the only one
//!   running: its `interrupted` attempt stays and counts. Once it has used
//!   up [`ProcessorConfig::max_attempts`] attempts so (with any ordinary
//!   failures before), it is `dead`, with an error that says what
//!   interrupted it as far as can be known, how many times, and what to
//!   do: on SQLite the process died (only a dead process leaves claims
//!   that the next start frees); on PostgreSQL its lease ran out (the
//!   instance died, or stalled or lost its database connection for longer
//!   than the lease: another instance cannot tell which), or, claimed again
//!   by the instance that held it, that instance ran on but did not renew
//!   in time. Then `tradecloud inbox replay ID` once the cause is fixed;
//!   the events after it are then handled. So an event that kills the process on every try costs
//!   `max_attempts + 2` crashes (the first, which blames no one, one that
//!   finds the events that were in a handler, then one per attempt), not a
//!   crash loop, and no other event is blamed. The cost: after a crash, one
//!   more commit per interrupted event; after a crash among interrupted
//!   events, at most `concurrency` events handed on one at a time. (Any
//!   kill while an event runs alone counts against it, whatever its cause;
//!   a clean stop never does, see the next point.)
//! * **A clean stop.** When [`Processor::run`]'s `shutdown` completes
//!   (SIGTERM for `tradecloud serve`), events claimed but not handed on go
//!   back to the queue at once, and running handlers get
//!   [`ProcessorConfig::shutdown_grace`] (default 20 s) to finish their
//!   event; those still running then are cancelled and their events go
//!   back too, logged at `warn` with each id. Neither counts an attempt:
//!   the stop is not the event's fault, and only an event whose handler
//!   returned is recorded (`done` only after `Ok`). An interrupted event
//!   that goes back so keeps what its interruption told: one that was to
//!   run alone runs alone next time (also if the process is killed while
//!   it waits for its turn), so a stop does not cost another crash to find
//!   it again. Keep the grace below what the service manager waits before
//!   it kills the process (`TimeoutStopSec=45s` in the systemd unit of
//!   `deploy/`): a kill is a crash, whose interrupted events may count.
//!   With [`Processor::run_with_stop_now`] (`tradecloud serve`: a second
//!   SIGTERM or Ctrl-C), the grace can be ended early: the running handlers
//!   are cancelled at once, as when it runs out. Lease renewals during the
//!   grace are bounded by the time left in it.
//!   A GET-webhook trigger's fetch runs none of the handler's code and is
//!   never blamed.
//! * **Per-object order.** Events with the same object id (order id or
//!   shipment id; an order's document events share its order id) are handled
//!   one at a time, in stored (inbox id) order, also across several
//!   processes on one PostgreSQL inbox. Events of different objects run in
//!   parallel, up to [`ProcessorConfig::concurrency`] (per process). An event
//!   waiting for a retry holds back the later events of its object, not
//!   others. Dead, rejected and unhandled events do not hold anything back.
//! * **Retries.** [`HandlerError::Transient`] is retried with exponential
//!   backoff and jitter, up to [`ProcessorConfig::max_attempts`] attempts in
//!   all; then the event is `dead`. The delays are the crate's one retry
//!   policy, [`crate::client::RetryPolicy`] ([`ProcessorConfig::retry_policy`]),
//!   but not its in-process loop: the time of the next attempt is stored
//!   with the event (`next_attempt_at`), so a retry survives a restart and
//!   holds no handler slot while it waits. [`HandlerError::Permanent`] makes it
//!   `dead` at once. `tradecloud inbox dead` lists them; `inbox replay ID`
//!   queues one again.
//! * **Bounded handlers.** A call of the handler that runs longer than
//!   [`ProcessorConfig::handler_timeout`] (default 10 min) is cancelled (its
//!   future dropped, see there for what that means for a handler) and the
//!   attempt is a transient failure, retried and dead-lettered like any
//!   other: a hung ERP call cannot hold its order or a handler slot for good.
//! * **Quarantine.** A stored body that does not parse (a replayed rejected
//!   event whose cause is not fixed) becomes `rejected` with the parse error;
//!   the handler never sees it. A replayed `unhandled` event that this
//!   version still does not know stays `unhandled`.
//! * **GET webhooks.** A `trigger` event (only an id) is handled by fetching
//!   the whole order or shipment with the [`Fetcher`], storing it as a new
//!   `received` event, and marking the trigger `done`; the handler then gets
//!   [`Event::FetchedOrder`] / [`Event::FetchedShipment`]. A fetch that fails
//!   transiently (API down, 5xx, 429) is retried with the same backoff for as
//!   long as Tradecloud itself would retry a webhook
//!   ([`ProcessorConfig::fetch_retry_for`], default 24 hours), however many
//!   attempts that takes; then the trigger is `dead` (logged at `error`,
//!   counted as `outcome="trigger_dead"` in the receiver's metrics).
//!
//! # How it keeps up with ingest
//!
//! The inbox keeps the head of every order's (shipment's) queue (see
//! [the inbox docs](crate::inbox#the-work-queue)), so finding work never walks a backlog. One
//! commit claims the ready heads of many objects, each with up to
//! [`ProcessorConfig::batch`] consecutive events of that object (a run),
//! ahead of the handlers; handler tasks work through their runs; one commit
//! records the outcomes of all runs that ended meanwhile (group commit,
//! sharing the receiver's commits on SQLite). See `BENCHMARKS.md`.
//!

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::api::common::types::{Order, Shipment};
use crate::api::order_webhook_connector::types::OrderWebhookBody;
use crate::api::shipment_webhook_connector::types::ShipmentWebhookBody;
use crate::client::RetryPolicy;
use crate::inbox::{EventKind, Inbox, Origin, StoredEvent};
use crate::webhook::{self, Endpoint, Webhook};

pub(crate) mod fetch;
mod outcome;
mod processor;
mod spans;

pub use fetch::{BoxFuture, Fetcher};
pub use outcome::{Outcome, OutcomeReport};
pub use processor::Processor;

/// A typed event for the handler.
///
/// Each variant holds its body in a `Box`: an order webhook body is about
/// 10 KB inline (every optional part has its room), and an event is moved
/// several times on its way to the handler (into the handler's future,
/// through each `await`); boxed, each move copies a pointer. Fields and
/// methods of the body are reached through the box as usual
/// (`body.event_name`, `body.event()`); `*body` gives the body itself.
#[derive(Debug, Clone)]
pub enum Event {
    /// An order webhook body (order events, single-delivery order events and
    /// order documents events; see `meta.kind`).
    Order {
        /// The body as Tradecloud sent it.
        body: Box<OrderWebhookBody>,
        /// Inbox metadata.
        meta: EventMeta,
    },
    /// A shipment webhook body.
    Shipment {
        /// The body as Tradecloud sent it.
        body: Box<ShipmentWebhookBody>,
        /// Inbox metadata.
        meta: EventMeta,
    },
    /// The whole order, fetched for an order GET webhook.
    FetchedOrder {
        /// The order as the API returned it.
        order: Box<Order>,
        /// Inbox metadata.
        meta: EventMeta,
    },
    /// The whole shipment, fetched for a shipment GET webhook.
    FetchedShipment {
        /// The shipment as the API returned it.
        shipment: Box<Shipment>,
        /// Inbox metadata.
        meta: EventMeta,
    },
}

impl Event {
    /// The inbox metadata of any variant.
    pub fn meta(&self) -> &EventMeta {
        match self {
            Event::Order { meta, .. }
            | Event::Shipment { meta, .. }
            | Event::FetchedOrder { meta, .. }
            | Event::FetchedShipment { meta, .. } => meta,
        }
    }

    /// Parse a stored event. `Err` is the parse error (the event is then
    /// `rejected`), or for an unknown event without a known payload, why it
    /// is not handled (the event is then `unhandled`). A trigger has no body
    /// to parse: `Err` too.
    pub fn from_stored(stored: &StoredEvent, attempt: u32) -> Result<Event, String> {
        match decode_stored(stored, attempt, None)? {
            Decoded::Event(event) => Ok(event),
            Decoded::Unhandled(reason) => Err(reason),
        }
    }
}

/// A stored event, decoded for the handler.
pub(crate) enum Decoded {
    /// To hand to the handler.
    Event(Event),
    /// An unknown event without a known payload: never handed to the handler.
    Unhandled(String),
}

/// Decode a stored event with
/// [`crate::webhook::decode`](fn@crate::webhook::decode) (webhook bodies) or
/// as the JSON the API returned (fetched orders and shipments). `Err` is the
/// parse error. `decoded`: the webhook the receiver decoded from the same
/// body ([`Inbox::store_webhook`]), used instead of decoding it again.
pub(crate) fn decode_stored(
    stored: &StoredEvent,
    attempt: u32,
    decoded: Option<Webhook>,
) -> Result<Decoded, String> {
    let s = &stored.summary;
    let meta = EventMeta {
        inbox_id: s.id,
        kind: s.kind,
        event_name: s.event_name.clone(),
        object_id: s.object_id.clone(),
        message_id: s.message_id.clone(),
        received_at: s.received_at,
        attempt,
        source: s.source.clone(),
    };
    let body = &stored.body;
    let endpoint = s.kind.endpoint();
    let event = match (s.origin, endpoint) {
        (Origin::Trigger, _) => return Err("a GET-webhook trigger has no body to handle".into()),
        (Origin::Webhook, _) => {
            let webhook = match decoded {
                Some(webhook) => webhook,
                None => {
                    webhook::decode(endpoint, &s.content_type, body).map_err(|e| e.to_string())?
                }
            };
            match webhook {
                Webhook::Order(body) => Event::Order { body, meta },
                Webhook::Shipment(body) => Event::Shipment { body, meta },
                Webhook::Unknown(unknown) => return Ok(Decoded::Unhandled(unknown.reason())),
            }
        }
        (Origin::Fetched, Endpoint::Order) => Event::FetchedOrder {
            order: fetched(body)?,
            meta,
        },
        (Origin::Fetched, Endpoint::Shipment) => Event::FetchedShipment {
            shipment: fetched(body)?,
            meta,
        },
    };
    Ok(Decoded::Event(event))
}

/// A fetched order or shipment: the JSON the API client returned.
fn fetched<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    webhook::json::decode(body).map_err(|e| format!("invalid JSON body: {e}"))
}

/// Inbox metadata of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMeta {
    /// Inbox id (arrival order).
    pub inbox_id: i64,
    /// Order, order documents or shipment.
    pub kind: EventKind,
    /// `eventName`, if known.
    pub event_name: Option<String>,
    /// Order id or shipment id.
    pub object_id: Option<String>,
    /// `meta.messageId`, if any.
    pub message_id: Option<String>,
    /// When it was stored.
    pub received_at: DateTime<Utc>,
    /// 1 on the first attempt, 2 on the first retry, ...: the attempts
    /// recorded for the event since it was last queued, plus this one. A
    /// claim interrupted by a crash is not recorded (unless the event was
    /// being handled alone, see the [module docs](self#guarantees)), so a
    /// handler may see the same number twice.
    pub attempt: u32,
    /// Where it came from, e.g. `POST /tradecloud/order`.
    pub source: Option<String>,
}

/// Why a handler (or a fetch) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying (ERP down, timeout, 5xx, 429): retried with backoff.
    #[error("transient: {0}")]
    Transient(String),
    /// Retrying cannot help (invalid data for the ERP, 404): dead-lettered
    /// with this error.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// An API call's or download's error, classified by
/// [`ClientError::is_transient`](crate::client::ClientError::is_transient):
/// `5xx`, `429`, time-outs and broken connections are
/// [`Transient`](HandlerError::Transient) (retried with backoff), and so are
/// Tradecloud's `401`/`403` and a refused login (the `[tradecloud]`
/// credentials are wrong or rotated, or its base URL does not lead to
/// Tradecloud's API: a configuration fault, not the event's, which fixing
/// the configuration ends), although
/// [`is_transient`](crate::client::ClientError::is_transient) says a retry
/// alone cannot fix them. A `409`
/// [`Conflict`](crate::client::ClientError::Conflict) (the order changed
/// since the handler read it) is [`Transient`](HandlerError::Transient)
/// too: the same request would be refused again, but a retry runs the
/// handler again, which fetches the order again and decides on its current
/// `version` (so a handler that takes a versioned action fetches the order
/// first, rather than using a `version` kept from earlier). `404`, a host that does not
/// resolve or a refused certificate are
/// [`Permanent`](HandlerError::Permanent) (dead-lettered; replay once
/// fixed). So a handler writes `client.orders().get(id).await?`.
///
/// ```
/// use tradecloud::client::ClientError;
/// use tradecloud::processing::HandlerError;
///
/// let error = ClientError::RateLimited { what: "order 7e1f5b2c".into(), attempts: 6 };
/// assert!(matches!(HandlerError::from(error), HandlerError::Transient(_)));
/// let error = ClientError::NotFound { what: "order 7e1f5b2c".into(), message: None };
/// assert!(matches!(HandlerError::from(error), HandlerError::Permanent(_)));
/// let error = ClientError::Conflict { what: "order 7e1f5b2c".into(), message: None };
/// assert!(matches!(HandlerError::from(error), HandlerError::Transient(_)));
/// ```
impl From<crate::client::ClientError> for HandlerError {
    fn from(error: crate::client::ClientError) -> Self {
        use crate::client::ClientError;
        let configuration_fault = match &error {
            ClientError::Unauthorized { .. } | ClientError::Forbidden { .. } => true,
            // A login refused for good (credentials, a wrong base URL); a
            // `5xx` one is transient anyway.
            ClientError::AuthenticationFailed { .. } => !error.is_transient(),
            _ => false,
        };
        if configuration_fault {
            HandlerError::Transient(format!(
                "{error} (a refused login is a configuration fault: retried until it is fixed)"
            ))
        } else if matches!(error, ClientError::Conflict { .. }) {
            HandlerError::Transient(format!(
                "{error} (retried: the handler runs again and reads the order again)"
            ))
        } else if error.is_transient() {
            HandlerError::Transient(error.to_string())
        } else {
            HandlerError::Permanent(error.to_string())
        }
    }
}

/// The user's event handler.
pub trait Handler: Send + Sync + 'static {
    /// Handle one event. `Ok` marks it done; see [`HandlerError`] for errors.
    /// May be called more than once for the same event (at-least-once).
    fn handle(
        &self,
        event: Event,
        ctx: &HandlerContext,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

/// A [`Handler`] made from an async closure taking the event and an owned
/// context: `handler_fn(|event, ctx| async move { ... })`.
pub fn handler_fn<F, Fut>(f: F) -> HandlerFn<F>
where
    F: Fn(Event, HandlerContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    HandlerFn(f)
}

/// See [`handler_fn`].
#[derive(Debug, Clone)]
pub struct HandlerFn<F>(F);

impl<F, Fut> Handler for HandlerFn<F>
where
    F: Fn(Event, HandlerContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    fn handle(
        &self,
        event: Event,
        ctx: &HandlerContext,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send {
        (self.0)(event, ctx.clone())
    }
}

/// A handler that only logs each event (kind, event name, object id, message
/// id, number of lines; never the body) at `info` and accepts it: what
/// `tradecloud serve` runs when no handler of your own is plugged in, and a
/// starting point.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogHandler;

impl Handler for LogHandler {
    async fn handle(&self, event: Event, _ctx: &HandlerContext) -> Result<(), HandlerError> {
        let meta = event.meta();
        let (variant, lines) = match &event {
            Event::Order { body, .. } => (
                "order",
                body.order_event
                    .as_ref()
                    .map(|e| e.lines.len())
                    .or_else(|| {
                        body.single_delivery_order_event
                            .as_ref()
                            .map(|e| e.lines.len())
                    })
                    .or_else(|| body.simple_order_event.as_ref().map(|e| e.lines.len()))
                    .or_else(|| body.order_documents_event.as_ref().map(|e| e.lines.len()))
                    .unwrap_or(0),
            ),
            Event::Shipment { body, .. } => ("shipment", body.shipment.lines.len()),
            Event::FetchedOrder { order, .. } => ("fetched order", order.lines.len()),
            Event::FetchedShipment { shipment, .. } => ("fetched shipment", shipment.lines.len()),
        };
        tracing::info!(
            id = meta.inbox_id,
            kind = %meta.kind,
            event_name = meta.event_name.as_deref().unwrap_or(""),
            object_id = meta.object_id.as_deref().unwrap_or(""),
            message_id = meta.message_id.as_deref().unwrap_or(""),
            attempt = meta.attempt,
            lines,
            "{variant} event handled"
        );
        Ok(())
    }
}

/// What a handler gets besides the event: the inbox, the event's id, the
/// fetcher, and shared values the application registered with
/// [`Processor::with_extension`] (e.g. the Tradecloud API client for document
/// downloads). Cheap to clone.
#[derive(Clone)]
pub struct HandlerContext {
    inbox: Inbox,
    inbox_id: i64,
    fetcher: Option<Arc<dyn Fetcher>>,
    extensions: Arc<http::Extensions>,
}

impl std::fmt::Debug for HandlerContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerContext")
            .field("inbox_id", &self.inbox_id)
            .field("fetcher", &self.fetcher.is_some())
            .finish_non_exhaustive()
    }
}

impl HandlerContext {
    /// The inbox the event came from.
    pub fn inbox(&self) -> &Inbox {
        &self.inbox
    }

    /// The inbox id of the event being handled.
    pub fn inbox_id(&self) -> i64 {
        self.inbox_id
    }

    /// The fetcher, when one is configured.
    pub fn fetcher(&self) -> Option<&dyn Fetcher> {
        self.fetcher.as_deref()
    }

    /// The Tradecloud API client registered with [`Processor::with_client`]
    /// (document downloads, fetching related objects).
    pub fn client(&self) -> Option<&crate::client::Client> {
        self.extensions.get::<crate::client::Client>()
    }

    /// A value registered with [`Processor::with_extension`], e.g.
    /// `ctx.extension::<MyClient>()`.
    pub fn extension<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.extensions.get::<T>()
    }
}

/// How a [`Processor`] runs.
#[derive(Debug, Clone)]
pub struct ProcessorConfig {
    /// Events handled at the same time (of different objects). Default 8.
    pub concurrency: usize,
    /// Attempts in all before a transiently failing event is dead: failed
    /// ones, timed-out ones, and those during which the process died while
    /// the event was handled alone (see the [module docs](self#guarantees)).
    /// Default 10.
    pub max_attempts: u32,
    /// Delay before the first retry; doubled for each further one (the
    /// `base_delay` of [`ProcessorConfig::retry_policy`]). Default 1 s.
    pub backoff_base: Duration,
    /// Longest delay between attempts (its `max_delay`). Default 5 min.
    pub backoff_max: Duration,
    /// How often to look for work when nothing wakes the processor (new events
    /// stored through the same `Inbox` wake it at once; events stored by
    /// another instance on PostgreSQL are found by this poll). Default 1 s.
    pub poll_interval: Duration,
    /// Most events of one order (shipment) claimed and recorded together: a
    /// burst for one order costs two commits per this many events. A crash
    /// may hand up to this many handled events to the handler again (each
    /// alone, see the [module docs](self#guarantees)), counting no attempt
    /// for them. Default 64.
    pub batch: usize,
    /// How long a claim holds without renewal: the processor renews it every
    /// third of this while the handler runs; when a process dies, another
    /// one (PostgreSQL) takes its events over after this. Default 30 s.
    pub lease: Duration,
    /// How long GET-webhook trigger fetches are retried before the trigger is
    /// dead-lettered, counted from when the trigger was stored. Default 24 h
    /// (as long as Tradecloud retries a webhook).
    pub fetch_retry_for: Duration,
    /// Longest one call of the handler may take. A handler still running
    /// then is cancelled and the attempt is a transient failure: logged at
    /// `warn` with the event's id, retried with the usual backoff, `dead`
    /// after [`max_attempts`](ProcessorConfig::max_attempts) like any other.
    /// Without it a handler that never returns (an ERP call without a
    /// timeout of its own) would hold its order, and one of the
    /// [`concurrency`](ProcessorConfig::concurrency) slots, for good: its
    /// lease is renewed while it runs, so no other instance takes it over.
    ///
    /// Default 10 min: far longer than a handler needs that makes a few
    /// API calls with the client's own timeouts and retries (30 s per
    /// request) and writes to an ERP, so a slow but working handler is
    /// never cut off, yet a hung one frees its order within minutes.
    ///
    /// **Cancellation.** At the timeout the handler's future is dropped (its
    /// task aborted) at the `await` it is waiting in: the code after that
    /// point does not run, its local values are dropped (a transaction
    /// guard rolls back, a connection is closed), and a request it had
    /// sent may or may not have reached the ERP: the retry must be
    /// idempotent, as every attempt must be. Tasks the handler spawned
    /// itself are not cancelled, and code that blocks its thread without
    /// awaiting (a synchronous ERP client) cannot be stopped: it runs on
    /// while the event is retried; run such code in
    /// `tokio::task::spawn_blocking` with a timeout of its own.
    pub handler_timeout: Duration,
    /// How long a clean stop ([`Processor::run`]'s `shutdown`; SIGTERM for
    /// `tradecloud serve`) waits for running handlers to finish their
    /// event. Handlers still running then are cancelled (as at the
    /// [`handler_timeout`](ProcessorConfig::handler_timeout)) and their
    /// events go back to the queue with no attempt counted (the stop is not
    /// the event's fault), logged at `warn` with each event's id; they are
    /// handed on again at the next start (or by another instance). Nothing
    /// is marked done that did not finish.
    ///
    /// Default 20 s: well below what a service manager waits before it
    /// kills the process (the systemd unit of `deploy/` gives a stop 45 s),
    /// so that the stop is clean, not a kill that interrupts the events.
    pub shutdown_grace: Duration,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        ProcessorConfig {
            concurrency: 8,
            max_attempts: 10,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            poll_interval: Duration::from_secs(1),
            batch: 64,
            lease: Duration::from_secs(30),
            fetch_retry_for: Duration::from_secs(24 * 3600),
            handler_timeout: Duration::from_secs(600),
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

impl ProcessorConfig {
    /// The retry policy of transiently failing events, the crate's one
    /// [`RetryPolicy`]: `max_attempts - 1` retries, the first after
    /// `backoff_base`, doubling up to `backoff_max`, with jitter.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tradecloud::processing::ProcessorConfig;
    ///
    /// let config = ProcessorConfig::default();
    /// let policy = config.retry_policy();
    /// assert_eq!(policy.get_max_retries(), config.max_attempts - 1);
    /// assert!(policy.backoff(0) <= config.backoff_base);
    /// assert!(policy.backoff(30) <= config.backoff_max);
    /// ```
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::default()
            .max_retries(self.max_attempts.saturating_sub(1))
            .base_delay(self.backoff_base)
            .max_delay(self.backoff_max)
    }

    /// The delay before attempt `attempt + 1` after `attempt` failed:
    /// [`RetryPolicy::backoff`] of retry `attempt - 1`, a random time between
    /// half and all of `min(backoff_max, backoff_base * 2^(attempt-1))`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.retry_policy().backoff(attempt.saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event is moved several times on its way to the handler: its body
    /// stays behind a pointer (an order webhook body alone is over 10 KB).
    #[test]
    fn an_event_is_small_to_move() {
        let event = std::mem::size_of::<Event>();
        let body = std::mem::size_of::<OrderWebhookBody>();
        assert!(
            event <= std::mem::size_of::<EventMeta>() + 32,
            "Event is {event} bytes (an order webhook body is {body})"
        );
    }
}
