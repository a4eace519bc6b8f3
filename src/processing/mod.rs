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
//!   returned `Ok`. An event being handled is `processing` in the database; if
//!   the process dies, [`Processor::run`] puts it back in the queue when it
//!   starts again, and the handler sees it again. Handlers must therefore be
//!   idempotent (the message id and the order's `lastUpdatedAt` help).
//! * **Per-object order.** Events with the same object id (order id or
//!   shipment id; an order's document events share its order id) are handled
//!   one at a time, in arrival (inbox id) order. Events of different objects
//!   run in parallel, up to [`ProcessorConfig::concurrency`]. An event waiting
//!   for a retry holds back the later events of its object, not others. Dead
//!   and rejected events do not hold anything back.
//! * **Retries.** [`HandlerError::Transient`] is retried with exponential
//!   backoff and jitter, up to [`ProcessorConfig::max_attempts`] attempts in
//!   all; then the event is `dead`. [`HandlerError::Permanent`] makes it
//!   `dead` at once. `tradecloud inbox dead` lists them; `inbox replay ID`
//!   queues one again.
//! * **Quarantine.** A stored body that does not parse (a replayed rejected
//!   event whose cause is not fixed) becomes `rejected` with the parse error;
//!   the handler never sees it. A replayed `unhandled` event that this
//!   version still does not know stays `unhandled`.
//! * **GET webhooks.** A `trigger` event (only an id) is handled by fetching
//!   the whole order or shipment with the [`Fetcher`], storing it as a new
//!   `received` event, and marking the trigger `done`; the handler then gets
//!   [`Event::FetchedOrder`] / [`Event::FetchedShipment`]. Fetch errors are
//!   retried like handler errors.
//!
//! One processor per inbox: it is the only one that claims events.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::api::common::types::{Order, Shipment};
use crate::api::order_webhook_connector::types::OrderWebhookBody;
use crate::api::shipment_webhook_connector::types::ShipmentWebhookBody;
use crate::inbox::{EventKind, Inbox, Origin, StoredEvent};
use crate::webhook::{self, Endpoint, Webhook};

mod processor;

pub use processor::{Outcome, OutcomeReport, Processor};

/// A typed event for the handler.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// An order webhook body (order events, single-delivery order events and
    /// order documents events; see `meta.kind`).
    Order {
        /// The body as Tradecloud sent it.
        body: OrderWebhookBody,
        /// Inbox metadata.
        meta: EventMeta,
    },
    /// A shipment webhook body.
    Shipment {
        /// The body as Tradecloud sent it.
        body: ShipmentWebhookBody,
        /// Inbox metadata.
        meta: EventMeta,
    },
    /// The whole order, fetched for an order GET webhook.
    FetchedOrder {
        /// The order as the API returned it.
        order: Order,
        /// Inbox metadata.
        meta: EventMeta,
    },
    /// The whole shipment, fetched for a shipment GET webhook.
    FetchedShipment {
        /// The shipment as the API returned it.
        shipment: Shipment,
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
        match decode_stored(stored, attempt)? {
            Decoded::Event(event) => Ok(event),
            Decoded::Unhandled(reason) => Err(reason),
        }
    }
}

/// A stored event, decoded for the handler.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Decoded {
    /// To hand to the handler.
    Event(Event),
    /// An unknown event without a known payload: never handed to the handler.
    Unhandled(String),
}

/// Decode a stored event with [`crate::webhook::decode`] (webhook bodies) or
/// as the JSON the API returned (fetched orders and shipments). `Err` is the
/// parse error.
pub(crate) fn decode_stored(stored: &StoredEvent, attempt: u32) -> Result<Decoded, String> {
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
    let endpoint = match s.kind {
        EventKind::Order | EventKind::OrderDocuments => Endpoint::Order,
        EventKind::Shipment => Endpoint::Shipment,
    };
    let event = match (s.origin, endpoint) {
        (Origin::Trigger, _) => return Err("a GET-webhook trigger has no body to handle".into()),
        (Origin::Webhook, _) => {
            match webhook::decode(endpoint, &s.content_type, body).map_err(|e| e.to_string())? {
                Webhook::Order(body) => Event::Order { body: *body, meta },
                Webhook::Shipment(body) => Event::Shipment { body: *body, meta },
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
    /// 1 on the first attempt, 2 on the first retry, ...
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
/// id; never the body) at `info` and accepts it: the default of `tradecloud
/// serve` when no handler of your own is plugged in, and a starting point.
#[derive(Debug, Clone, Default)]
pub struct LogHandler {
    _private: (),
}

impl Handler for LogHandler {
    async fn handle(&self, event: Event, _ctx: &HandlerContext) -> Result<(), HandlerError> {
        let meta = event.meta();
        let variant = match &event {
            Event::Order { .. } => "order",
            Event::Shipment { .. } => "shipment",
            Event::FetchedOrder { .. } => "fetched order",
            Event::FetchedShipment { .. } => "fetched shipment",
        };
        tracing::info!(
            id = meta.inbox_id,
            kind = %meta.kind,
            event_name = meta.event_name.as_deref().unwrap_or(""),
            object_id = meta.object_id.as_deref().unwrap_or(""),
            message_id = meta.message_id.as_deref().unwrap_or(""),
            attempt = meta.attempt,
            "{variant} event handled by the log handler"
        );
        Ok(())
    }
}

/// A boxed future, for the object-safe [`Fetcher`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Fetches the whole order or shipment for a GET webhook, as the JSON bytes
/// the API returned (`GET /orders/{id}`, `GET /shipments/{id}`; stored as
/// they are). Return [`HandlerError::Transient`] for network errors, 5xx and
/// 429, [`HandlerError::Permanent`] for 404 and 403.
pub trait Fetcher: Send + Sync + 'static {
    /// The order with this Tradecloud order id.
    fn fetch_order<'a>(&'a self, order_id: &'a str) -> BoxFuture<'a, Result<Bytes, HandlerError>>;
    /// The shipment with this Tradecloud shipment id.
    fn fetch_shipment<'a>(
        &'a self,
        shipment_id: &'a str,
    ) -> BoxFuture<'a, Result<Bytes, HandlerError>>;
}

/// The Tradecloud API client fetches for GET webhooks: `GET /order/{id}`
/// and `GET /shipment/{id}`. The typed answer is stored re-serialised as JSON;
/// unknown fields are kept and decimals are exact, so nothing the API sent is
/// lost (the bytes are the client's, not the wire's). Errors the client calls
/// transient (5xx, 429, timeouts, connection errors) are retried; 404, 403
/// and refused credentials dead-letter the trigger (replay it once fixed).
impl Fetcher for crate::client::Client {
    fn fetch_order<'a>(&'a self, order_id: &'a str) -> BoxFuture<'a, Result<Bytes, HandlerError>> {
        Box::pin(async move {
            let order = self.get_order(order_id).await.map_err(client_error)?;
            serde_json::to_vec(&order).map(Bytes::from).map_err(|e| {
                HandlerError::Permanent(format!("cannot serialise order {order_id}: {e}"))
            })
        })
    }

    fn fetch_shipment<'a>(
        &'a self,
        shipment_id: &'a str,
    ) -> BoxFuture<'a, Result<Bytes, HandlerError>> {
        Box::pin(async move {
            let shipment = self.get_shipment(shipment_id).await.map_err(client_error)?;
            serde_json::to_vec(&shipment).map(Bytes::from).map_err(|e| {
                HandlerError::Permanent(format!("cannot serialise shipment {shipment_id}: {e}"))
            })
        })
    }
}

fn client_error(error: crate::client::ClientError) -> HandlerError {
    if error.is_transient() {
        HandlerError::Transient(error.to_string())
    } else {
        HandlerError::Permanent(error.to_string())
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
    /// Attempts in all before a transiently failing event is dead. Default 10.
    pub max_attempts: u32,
    /// Delay before the first retry; doubled for each further one. Default 1 s.
    pub backoff_base: Duration,
    /// Longest delay between attempts. Default 5 min.
    pub backoff_max: Duration,
    /// How often to look for work when nothing wakes the processor (new events
    /// stored through the same `Inbox` wake it at once). Default 1 s.
    pub poll_interval: Duration,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        ProcessorConfig {
            concurrency: 8,
            max_attempts: 10,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            poll_interval: Duration::from_secs(1),
        }
    }
}

impl ProcessorConfig {
    /// The delay before attempt `attempt + 1` after `attempt` failed:
    /// `min(backoff_max, backoff_base * 2^(attempt-1))`, of which a random
    /// half is taken off (jitter), so never less than half of it.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let full = self
            .backoff_base
            .saturating_mul(1u32 << exp)
            .min(self.backoff_max);
        let half = full / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(fastrand::u64(0..=jitter_ms))
    }
}
