//! The event types of the inbox: what is stored ([`NewEvent`]), what comes
//! back ([`EventSummary`], [`StoredEvent`]), the states and errors.

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::ser::SerializeMap;

use crate::api::order_webhook_connector::types::OrderWebhookBody;
use crate::api::shipment_webhook_connector::types::ShipmentWebhookBody;
use crate::webhook::{Endpoint, Webhook};

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

    /// The webhook events of this kind arrive at: order events and order
    /// documents events at the order webhook, shipment events at the
    /// shipment webhook.
    ///
    /// ```
    /// use tradecloud::inbox::EventKind;
    /// use tradecloud::webhook::Endpoint;
    ///
    /// assert_eq!(EventKind::OrderDocuments.endpoint(), Endpoint::Order);
    /// assert_eq!(EventKind::from(Endpoint::Order), EventKind::Order);
    /// ```
    pub fn endpoint(self) -> Endpoint {
        match self {
            EventKind::Order | EventKind::OrderDocuments => Endpoint::Order,
            EventKind::Shipment => Endpoint::Shipment,
        }
    }
}

/// The kind of a body of this webhook when its event is not known (an
/// unknown event, a quarantined body): [`EventKind::Order`] or
/// [`EventKind::Shipment`]. [`EventKind::endpoint`] is the way back.
impl From<Endpoint> for EventKind {
    fn from(endpoint: Endpoint) -> Self {
        match endpoint {
            Endpoint::Order => EventKind::Order,
            Endpoint::Shipment => EventKind::Shipment,
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
    /// Claimed: a handler is working on it, or was when the claim was
    /// interrupted (the process died, the lease ran out, or a clean stop
    /// put back an event that had been interrupted before, keeping that
    /// standing); the next claim hands it on again (see the Guarantees of
    /// `tradecloud::processing`).
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

    /// Whether [`Inbox::replay`](super::Inbox::replay) accepts an event in this state.
    pub fn is_replayable(&self) -> bool {
        matches!(
            self,
            State::Done | State::Dead | State::Rejected | State::Unhandled
        )
    }

    /// The state event `id` (in this state, from `origin`, as stored) goes
    /// back to when replayed: `trigger` for a GET-webhook trigger, else
    /// `received`; `Invalid` when it cannot be replayed.
    pub(crate) fn replayed(id: i64, state: &str, origin: &str) -> Result<State, InboxError> {
        let state: State = state.parse()?;
        if !state.is_replayable() {
            return Err(InboxError::Invalid(format!(
                "event {id} is {state}: only rejected, dead or done events (and unhandled ones) can be replayed"
            )));
        }
        Ok(if Origin::parse_str(origin)? == Origin::Trigger {
            State::Trigger
        } else {
            State::Received
        })
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

    pub(crate) fn parse_str(s: &str) -> Result<Self, InboxError> {
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

impl NewState {
    /// The state, error (the parse error, or why it is not handled) and
    /// origin a new event is stored with.
    pub(crate) fn stored_as(&self) -> (State, Option<&str>, Origin) {
        match self {
            NewState::Received => (State::Received, None, Origin::Webhook),
            NewState::Rejected { error } => {
                (State::Rejected, Some(error.as_str()), Origin::Webhook)
            }
            NewState::Trigger => (State::Trigger, None, Origin::Trigger),
            NewState::Unhandled { reason } => {
                (State::Unhandled, Some(reason.as_str()), Origin::Webhook)
            }
        }
    }
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
    /// `meta.messageId` of the body, or of the event inside it: with `kind`,
    /// the dedupe key. Any content and length.
    pub message_id: Option<String>,
    /// The request's `Content-Type`.
    pub content_type: String,
    /// The exact bytes received.
    pub body: Bytes,
    /// To process, quarantined, or a GET-webhook trigger.
    pub state: NewState,
    /// Where it came from, e.g. `POST /tradecloud/order`.
    pub source: Option<String>,
    /// The request's headers as received, in order, credentials redacted
    /// (see [`NewEvent::with_headers`]); empty when not known.
    pub headers: Vec<(String, String)>,
}

impl NewEvent {
    /// A decoded webhook body (see
    /// [`crate::webhook::decode`](fn@crate::webhook::decode)): its kind
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
                EventKind::from(unknown.endpoint),
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
            headers: Vec::new(),
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
        match Webhook::from_shipment(parsed.clone()) {
            Ok(webhook) => Self::from_webhook(&webhook, content_type, body),
            Err(error) => {
                Self::rejected(EventKind::Shipment, content_type, body, error.to_string())
            }
        }
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
            headers: Vec::new(),
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
            headers: Vec::new(),
        }
    }

    /// The same event with `source` set (e.g. `POST /tradecloud/order`).
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The same event with the request's headers, kept for the operator
    /// (the console's event page, `tradecloud inbox show`). The values of
    /// `Authorization`, `Proxy-Authorization`, `Cookie` and of headers whose
    /// name says they may carry a secret (`*auth*`, `*key*`, `*token*`,
    /// `*secret*`, `*passw*`, `*credential*`, `*signature*`, `*session*`,
    /// `*cookie*`: a proxy's `X-Forwarded-Authorization` too) are replaced by
    /// `[redacted]` (an `*Authorization` keeps its scheme: `Basic
    /// [redacted]`). At most
    /// [`HEADERS_KEPT`] headers of at most [`HEADER_VALUE_MAX_BYTES`] each.
    ///
    /// ```
    /// use tradecloud::inbox::{EventKind, NewEvent};
    ///
    /// let event = NewEvent::trigger(EventKind::Order, "4fd2a3c0").with_headers([
    ///     ("user-agent", "Tradecloud"),
    ///     ("authorization", "Basic dHJhZGVjbG91ZDpzZWNyZXQ="),
    ///     ("x-api-key", "s3cret"),
    ///     ("x-forwarded-authorization", "Bearer eyJ0eXAi"),
    ///     ("x-passwd", "hunter2"),
    /// ]);
    /// assert_eq!(event.headers[0], ("user-agent".into(), "Tradecloud".into()));
    /// assert_eq!(event.headers[1].1, "Basic [redacted]");
    /// assert_eq!(event.headers[2].1, "[redacted]");
    /// assert_eq!(event.headers[3].1, "Bearer [redacted]");
    /// assert_eq!(event.headers[4].1, "[redacted]");
    /// ```
    pub fn with_headers<N, V>(mut self, headers: impl IntoIterator<Item = (N, V)>) -> Self
    where
        N: AsRef<str>,
        V: AsRef<str>,
    {
        self.headers = headers
            .into_iter()
            .take(HEADERS_KEPT)
            .map(|(name, value)| {
                let name = name.as_ref().to_ascii_lowercase();
                let value = redacted(&name, value.as_ref());
                (name, value)
            })
            .collect();
        self
    }
}

/// How many request headers an event keeps ([`NewEvent::with_headers`]).
pub const HEADERS_KEPT: usize = 64;

/// The longest header value an event keeps, in bytes; longer ones end in `…`.
pub const HEADER_VALUE_MAX_BYTES: usize = 1024;

/// A header value as kept: secrets redacted, long values cut at a character
/// boundary.
fn redacted(name: &str, value: &str) -> String {
    const SECRET_WORDS: [&str; 9] = [
        "auth",
        "key",
        "token",
        "secret",
        "passw",
        "credential",
        "signature",
        "session",
        "cookie",
    ];
    if name == "authorization" || name.ends_with("-authorization") {
        match value.split_once(' ') {
            Some((scheme, _)) if !scheme.is_empty() => format!("{scheme} [redacted]"),
            _ => "[redacted]".to_owned(),
        }
    } else if SECRET_WORDS.iter().any(|word| name.contains(word)) {
        "[redacted]".to_owned()
    } else if value.len() > HEADER_VALUE_MAX_BYTES {
        let mut end = HEADER_VALUE_MAX_BYTES;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &value[..end])
    } else {
        value.to_owned()
    }
}

/// Headers as the stores keep them: a JSON array of `[name, value]` pairs,
/// `None` when there are none (events stored before headers were kept).
pub(crate) fn headers_to_json(headers: &[(String, String)]) -> Option<String> {
    if headers.is_empty() {
        return None;
    }
    serde_json::to_string(headers).ok()
}

/// The headers a store kept ([`headers_to_json`]); none when unreadable.
pub(crate) fn headers_from_json(json: Option<&str>) -> Vec<(String, String)> {
    json.and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_default()
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

/// The outcome of [`Inbox::store`](super::Inbox::store); both mean "durably stored, answer 2xx".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Committed as a new event with this id.
    New(i64),
    /// An event of the same kind with the same message id was stored
    /// before, as this id; the new copy was not stored.
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

/// Which events [`Inbox::list`](super::Inbox::list) returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Only events in this state.
    pub state: Option<State>,
    /// Only events of this kind.
    pub kind: Option<EventKind>,
    /// Only events of this order or shipment.
    pub object_id: Option<String>,
    /// Only events with this event name (`orderEvent`, ...).
    pub event_name: Option<String>,
    /// Only events naming this purchase order number (an order event's
    /// `buyerOrder.purchaseOrderNumber`, a shipment's first line's), found
    /// by an index. On PostgreSQL, events stored before inbox schema 4 have
    /// none: `body_contains` finds them.
    pub purchase_order_number: Option<String>,
    /// Only events whose body holds these bytes (a purchase order number,
    /// any text). Walks the bodies newest first until `limit` match: bound
    /// it with `after_id` and `before_id` (a window of ids, as the
    /// operator's console does) or a time range on a large inbox.
    pub body_contains: Option<String>,
    /// Only events received at or after this time.
    pub received_from: Option<DateTime<Utc>>,
    /// Only events received before this time.
    pub received_until: Option<DateTime<Utc>>,
    /// Only events with a smaller id (paging backwards).
    pub before_id: Option<i64>,
    /// Only events with a larger id: with `before_id`, a window of ids
    /// that bounds how many events (and bodies) a query reads.
    pub after_id: Option<i64>,
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
    /// The W3C `traceparent` of the span that stored it (with OpenTelemetry
    /// traces on, see [`crate::telemetry`]): handling it joins that trace.
    pub trace_parent: Option<String>,
}

fn rfc3339(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// JSON as printed by `tradecloud inbox list --json`: `id`, `kind`,
/// `eventName`, `orderId` or `shipmentId`, `messageId`, `receivedAt`
/// (RFC 3339, UTC), `state`, `error` (when set), `attempts`, `updatedAt`,
/// `nextAttemptAt` (when set), `contentType`, `bodyBytes`, `source`, `origin`,
/// `traceParent` (when set).
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
        if let Some(trace_parent) = &self.trace_parent {
            map.serialize_entry("traceParent", trace_parent)?;
        }
        map.end()
    }
}

/// What [`Inbox::purge`](super::Inbox::purge) deleted (or, for a dry run, would delete).
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
    /// The request's headers, credentials redacted
    /// ([`NewEvent::with_headers`]); empty for an event stored without them.
    pub headers: Vec<(String, String)>,
}
