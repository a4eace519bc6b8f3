//! Webhook bodies: what Tradecloud posts to the order and shipment webhooks,
//! decoded once, the same way everywhere.
//!
//! This module is the one place that knows
//!
//! * how a body is decoded: [`decode`](fn@decode) reads JSON (a UTF-8 byte
//!   order mark skipped) or tXML by the `Content-Type`, fast path first, and
//!   names the failing field only when decoding fails;
//! * which event a body carries: [`OrderWebhookEvent::of`] (`orderEvent`,
//!   else `singleDeliveryOrderEvent`, else the older `simpleOrderEvent`,
//!   else `orderDocumentsEvent`) and the [`Webhook`] variants;
//! * its ids: [`Webhook::object_id`] (order or shipment id) and
//!   [`Webhook::message_id`], the deduplication key (`meta.messageId` of the
//!   body, else of the event; an empty or blank one is no key);
//! * the payload rule: a **known** event name must come with its payload
//!   (else [`DecodeError::MissingPayload`], a 400 and quarantine); an
//!   **unknown** event name without any known payload is
//!   [`Webhook::Unknown`]: kept (2xx) but never handed to a handler as a
//!   known event, because Tradecloud adds event kinds without notice;
//! * the id rule: an event's payload must carry the id its handler works
//!   on (`orderId` of the order event, `id` of the shipment), not empty and
//!   not only blanks (else [`DecodeError::MissingId`], a 400 and
//!   quarantine), whatever the event name;
//! * the other webhook's events: a body sent to the order webhook that is a
//!   shipment event (it carries `shipment`, or a shipment event name and no
//!   order payload), or the other way round, is decoded as what it is
//!   ([`Webhook::endpoint`] then differs from the endpoint it was sent to:
//!   the two URLs are swapped in the Tradecloud portal). The receiver stores
//!   it for the handler as that event, answers 2xx and logs the swap (see
//!   `crate::receiver`); when it does not decode as that event either, the
//!   error is [`DecodeError::WrongEndpoint`];
//! * null: `"member": null` is read as a member that is not there (the
//!   specs mark every optional non-list member `nullable`), so it never costs
//!   an event; a list given as `null` is refused, and in tXML, which has no
//!   null, text inside an element that stands for an object is refused too.
//!
//! The receiver's edge (`crate::receiver`), the processor
//! (`crate::processing`), the inbox, [`crate::changes`] and `tradecloud
//! inspect` ([`Message`]) all use it.
//!
//! # Which type is what
//!
//! A message meets these types on its way; each converts to the next in one
//! place:
//!
//! | type | what it says | made by |
//! | --- | --- | --- |
//! | [`Endpoint`] | which webhook URL a body came to; it decides the body's type | the receiver's routes |
//! | [`Webhook`] | a decoded webhook body (order, shipment, or an unknown event kept as is) | [`decode`](fn@decode) |
//! | [`OrderWebhookEvent`] | which event an order body carries, borrowed from it | [`OrderWebhookEvent::of`] |
//! | [`Message`] | anything `tradecloud inspect` reads: a [`Webhook`], or an order, a shipment or a poll response | [`Message::from_bytes`] (webhooks through [`decode`](fn@decode)) |
// The inbox exists with the `receiver` feature only: links to it there,
// plain names without it (a link would not resolve).
#![cfg_attr(
    feature = "receiver",
    doc = "| [`EventKind`](crate::inbox::EventKind) | what a stored event is: `order`, `orderDocuments` or `shipment` | [`NewEvent::from_webhook`](crate::inbox::NewEvent::from_webhook); [`EventKind::endpoint`](crate::inbox::EventKind::endpoint) and `From<Endpoint>` convert |",
    doc = "| [`Origin`](crate::inbox::Origin) | where a stored body came from: a webhook, a GET-webhook trigger, or a fetch | the inbox |"
)]
#![cfg_attr(
    not(feature = "receiver"),
    doc = "| `inbox::EventKind` (feature `receiver`) | what a stored event is: `order`, `orderDocuments` or `shipment` | `inbox::NewEvent::from_webhook`; `EventKind::endpoint` and `From<Endpoint>` convert |",
    doc = "| `inbox::Origin` (feature `receiver`) | where a stored body came from: a webhook, a GET-webhook trigger, or a fetch | the inbox |"
)]
//! | `processing::Event` | what the handler gets: a webhook body or a fetched order or shipment, with inbox metadata | the processor, from the [`Webhook`] the receiver decoded or from the stored bytes |
//!
//! ```
//! use tradecloud::webhook::{self, Endpoint, OrderWebhookEvent, Webhook};
//!
//! let body = br#"{
//!     "eventName": "OrderIssuedByBuyer",
//!     "singleDeliveryOrderEvent": { "orderId": "o1", "lines": [] },
//!     "meta": { "messageId": "m1" }
//! }"#;
//! let webhook = webhook::decode(Endpoint::Order, "application/json", body)?;
//! assert_eq!(webhook.event_name(), "OrderIssuedByBuyer");
//! assert_eq!(webhook.object_id(), Some("o1"));
//! assert_eq!(webhook.message_id(), Some("m1"));
//! let Webhook::Order(order) = &webhook else { panic!("an order body") };
//! assert!(matches!(order.event(), Some(OrderWebhookEvent::SingleDelivery(_))));
//!
//! // An event this version does not know, without a payload it knows: kept, not handled.
//! let new = br#"{ "eventName": "OrderTeleportedByBuyer", "teleportEvent": {} }"#;
//! assert!(webhook::decode(Endpoint::Order, "application/json", new)?.is_unknown());
//!
//! // A known event without its payload is an error that names what is missing.
//! let empty = br#"{ "eventName": "OrderIssuedByBuyer", "orderEvent": null }"#;
//! let error = webhook::decode(Endpoint::Order, "application/json", empty).unwrap_err();
//! assert!(error.to_string().contains("orderEvent"), "{error}");
//! # Ok::<(), tradecloud::webhook::DecodeError>(())
//! ```

use std::fmt;

use crate::api::common::types::{
    MessageMeta, OrderDocumentsEvent, OrderEvent, OrderEventName, ShipmentEventName,
    SingleDeliveryOrderEvent,
};
use crate::api::order_webhook_connector::types::OrderWebhookBody;
use crate::api::shipment_webhook_connector::types::ShipmentWebhookBody;

pub(crate) mod decode;
pub(crate) mod json;
pub mod message;
pub mod txml;

pub use decode::{decode, DecodeError, Format};
pub use json::JsonError;
pub use message::{Message, MessageError};

/// Which webhook a body was sent to; it decides the body's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// The order webhook: [`OrderWebhookBody`].
    Order,
    /// The shipment webhook: [`ShipmentWebhookBody`].
    Shipment,
}

impl Endpoint {
    /// `order` or `shipment`.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Order => "order",
            Endpoint::Shipment => "shipment",
        }
    }

    /// The members of a body of this endpoint that carry its payload.
    pub fn payload_members(self) -> &'static [&'static str] {
        match self {
            Endpoint::Order => &ORDER_PAYLOAD_MEMBERS,
            Endpoint::Shipment => &["shipment"],
        }
    }

    /// Whether this version knows `event_name` for this endpoint.
    pub fn knows_event(self, event_name: &str) -> bool {
        match self {
            Endpoint::Order => !OrderEventName::from(event_name).is_unknown(),
            Endpoint::Shipment => !ShipmentEventName::from(event_name).is_unknown(),
        }
    }

    /// The other webhook: shipment for order, order for shipment.
    pub fn other(self) -> Endpoint {
        match self {
            Endpoint::Order => Endpoint::Shipment,
            Endpoint::Shipment => Endpoint::Order,
        }
    }
}

/// Whether an id is blank: empty, or only whitespace as the crate reads it
/// everywhere ([`is_blank`](crate::types::validate::is_blank): what
/// `str::trim` and the tXML reader remove, a no-break space and the other
/// Unicode spaces too). The specs' `pattern` of the GET webhook ids asks for
/// one character outside that set; any such character makes an id.
pub fn is_blank_id(id: &str) -> bool {
    crate::types::validate::is_blank(id)
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The members of an order webhook body that carry its event, in the order
/// [`OrderWebhookEvent::of`] reads them.
pub const ORDER_PAYLOAD_MEMBERS: [&str; 4] = [
    "orderEvent",
    "singleDeliveryOrderEvent",
    "simpleOrderEvent",
    "orderDocumentsEvent",
];

/// A decoded webhook body.
#[derive(Debug, Clone, PartialEq)]
pub enum Webhook {
    /// An order webhook body carrying an event ([`OrderWebhookBody::event`]
    /// is `Some` for every body [`decode`](fn@decode) returns).
    Order(Box<OrderWebhookBody>),
    /// A shipment webhook body.
    Shipment(Box<ShipmentWebhookBody>),
    /// An event name this version does not know, with none of the payload
    /// members it knows: stored, never handed to a handler as a known event.
    Unknown(UnknownEvent),
}

/// A webhook body with an event name this version does not know and no
/// payload it knows (see [`Webhook::Unknown`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEvent {
    /// Where it was sent.
    pub endpoint: Endpoint,
    /// Its `eventName`.
    pub event_name: String,
    /// `meta.messageId`, when it has a usable one (the deduplication key).
    pub message_id: Option<String>,
}

impl UnknownEvent {
    /// Why it is not handled, for the inbox and the logs.
    pub fn reason(&self) -> String {
        format!(
            "unknown {} event `{}` without {}: kept, not handled (replay it after an upgrade that knows it)",
            self.endpoint,
            self.event_name,
            one_of(self.endpoint.payload_members())
        )
    }
}

/// `a`, `a or b`, `a, b or c`, with each name in backticks.
pub(crate) fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

impl Webhook {
    /// An order webhook body, checked against the payload rule: with an
    /// event it is [`Webhook::Order`] (or [`DecodeError::MissingId`] when the
    /// event has no `orderId`); without one, [`Webhook::Unknown`] for an
    /// unknown event name and [`DecodeError::MissingPayload`] for a known
    /// one. Takes the body or a box of it (as the generated server stubs
    /// hand it over), and does not copy a boxed one.
    pub fn from_order(body: impl Into<Box<OrderWebhookBody>>) -> Result<Webhook, DecodeError> {
        let body: Box<OrderWebhookBody> = body.into();
        if let Some(event) = body.event() {
            if event.order_id().is_none_or(is_blank_id) {
                let member = match event {
                    OrderWebhookEvent::SingleDelivery(_)
                        if body.single_delivery_order_event.is_none() =>
                    {
                        "simpleOrderEvent.orderId"
                    }
                    event => event.order_id_path(),
                };
                return Err(DecodeError::MissingId {
                    endpoint: Endpoint::Order,
                    event_name: body.event_name.as_str().to_owned(),
                    member,
                });
            }
            return Ok(Webhook::Order(body));
        }
        let event_name = body.event_name.as_str();
        if Endpoint::Order.knows_event(event_name) {
            return Err(DecodeError::MissingPayload {
                endpoint: Endpoint::Order,
                event_name: event_name.to_owned(),
            });
        }
        Ok(Webhook::Unknown(UnknownEvent {
            endpoint: Endpoint::Order,
            event_name: event_name.to_owned(),
            message_id: body.message_id().map(str::to_owned),
        }))
    }

    /// A shipment webhook body (it always carries its `shipment`), checked
    /// against the id rule: [`DecodeError::MissingId`] when the shipment has
    /// no `id`. Takes the body or a box of it, as [`Webhook::from_order`].
    pub fn from_shipment(
        body: impl Into<Box<ShipmentWebhookBody>>,
    ) -> Result<Webhook, DecodeError> {
        let body: Box<ShipmentWebhookBody> = body.into();
        if body.shipment_id().is_none_or(is_blank_id) {
            return Err(DecodeError::MissingId {
                endpoint: Endpoint::Shipment,
                event_name: body.event_name.as_str().to_owned(),
                member: "shipment.id",
            });
        }
        Ok(Webhook::Shipment(body))
    }

    /// The webhook whose event it is: the one it was sent to, unless it is
    /// the other webhook's event (see the [module docs](self)).
    pub fn endpoint(&self) -> Endpoint {
        match self {
            Webhook::Order(_) => Endpoint::Order,
            Webhook::Shipment(_) => Endpoint::Shipment,
            Webhook::Unknown(unknown) => unknown.endpoint,
        }
    }

    /// Its `eventName`.
    pub fn event_name(&self) -> &str {
        match self {
            Webhook::Order(body) => body.event_name.as_str(),
            Webhook::Shipment(body) => body.event_name.as_str(),
            Webhook::Unknown(unknown) => &unknown.event_name,
        }
    }

    /// The order id or shipment id: the object whose events are handled
    /// one at a time, in order. `None` for an unknown event.
    pub fn object_id(&self) -> Option<&str> {
        match self {
            Webhook::Order(body) => body.order_id(),
            Webhook::Shipment(body) => body.shipment_id(),
            Webhook::Unknown(_) => None,
        }
    }

    /// The deduplication key: `meta.messageId` of the body, else of the
    /// event inside it; an empty or blank one counts as none.
    pub fn message_id(&self) -> Option<&str> {
        match self {
            Webhook::Order(body) => body.message_id(),
            Webhook::Shipment(body) => body.message_id(),
            Webhook::Unknown(unknown) => unknown.message_id.as_deref(),
        }
    }

    /// The purchase order number the event is about, trimmed: the order's
    /// (`buyerOrder.purchaseOrderNumber` of the event), or the shipment's
    /// first line's (else the first load carrier's first line's). `None`
    /// for an unknown event, or when the number is missing or blank. The
    /// inbox indexes it, so that the console finds events by it.
    ///
    /// ```
    /// use tradecloud::webhook::{self, Endpoint};
    ///
    /// let body = br#"{
    ///     "eventName": "OrderIssuedByBuyer",
    ///     "orderEvent": { "orderId": "o1", "buyerOrder": { "purchaseOrderNumber": " PO-1 " } }
    /// }"#;
    /// let webhook = webhook::decode(Endpoint::Order, "application/json", body)?;
    /// assert_eq!(webhook.purchase_order_number(), Some("PO-1"));
    /// # Ok::<(), tradecloud::webhook::DecodeError>(())
    /// ```
    pub fn purchase_order_number(&self) -> Option<&str> {
        match self {
            Webhook::Order(body) => body.purchase_order_number(),
            Webhook::Shipment(body) => body.purchase_order_number(),
            Webhook::Unknown(_) => None,
        }
    }

    /// Whether it is an unknown event ([`Webhook::Unknown`]).
    pub fn is_unknown(&self) -> bool {
        matches!(self, Webhook::Unknown(_))
    }
}

/// The event an order webhook body carries.
#[derive(Debug, Clone, Copy)]
pub enum OrderWebhookEvent<'a> {
    /// `orderEvent`: delivery schedule, affected lines only.
    Order(&'a OrderEvent),
    /// `singleDeliveryOrderEvent`, or the older name `simpleOrderEvent`.
    SingleDelivery(&'a SingleDeliveryOrderEvent),
    /// `orderDocumentsEvent`.
    Documents(&'a OrderDocumentsEvent),
}

impl<'a> OrderWebhookEvent<'a> {
    /// The event of an order webhook body: `orderEvent`, else
    /// `singleDeliveryOrderEvent`, else the older `simpleOrderEvent`, else
    /// `orderDocumentsEvent`; `None` when it carries none of them.
    ///
    /// ```
    /// use tradecloud::api::order_webhook_connector::types::OrderWebhookBody;
    /// use tradecloud::webhook::OrderWebhookEvent;
    ///
    /// let body: OrderWebhookBody = serde_json::from_str(r#"{
    ///     "eventName": "OrderIssuedByBuyer",
    ///     "simpleOrderEvent": { "orderId": "o1", "lines": [] }
    /// }"#)?;
    /// assert!(matches!(OrderWebhookEvent::of(&body), Some(OrderWebhookEvent::SingleDelivery(_))));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn of(body: &'a OrderWebhookBody) -> Option<Self> {
        if let Some(event) = &body.order_event {
            Some(OrderWebhookEvent::Order(event))
        } else if let Some(event) = body
            .single_delivery_order_event
            .as_ref()
            .or(body.simple_order_event.as_ref())
        {
            Some(OrderWebhookEvent::SingleDelivery(event))
        } else {
            body.order_documents_event
                .as_ref()
                .map(OrderWebhookEvent::Documents)
        }
    }

    /// The event's `orderId`.
    pub fn order_id(self) -> Option<&'a str> {
        match self {
            OrderWebhookEvent::Order(e) => e.order_id.as_deref(),
            OrderWebhookEvent::SingleDelivery(e) => e.order_id.as_deref(),
            OrderWebhookEvent::Documents(e) => e.order_id.as_deref(),
        }
    }

    /// Where its order id is, e.g. `orderEvent.orderId`.
    pub fn order_id_path(self) -> &'static str {
        match self {
            OrderWebhookEvent::Order(_) => "orderEvent.orderId",
            // (Or `simpleOrderEvent.orderId`: the event does not know which
            // member of the body it came from.)
            OrderWebhookEvent::SingleDelivery(_) => "singleDeliveryOrderEvent.orderId",
            OrderWebhookEvent::Documents(_) => "orderDocumentsEvent.orderId",
        }
    }

    /// The event's own `meta`.
    pub fn meta(self) -> Option<&'a MessageMeta> {
        match self {
            OrderWebhookEvent::Order(e) => e.meta.as_ref(),
            OrderWebhookEvent::SingleDelivery(e) => e.meta.as_ref(),
            OrderWebhookEvent::Documents(e) => e.meta.as_ref(),
        }
    }

    /// Whether it is an `orderDocumentsEvent`.
    pub fn is_documents(self) -> bool {
        matches!(self, OrderWebhookEvent::Documents(_))
    }
}

/// `meta.messageId` when it is a usable key: not empty, not only blanks.
pub(crate) fn usable_message_id(meta: Option<&MessageMeta>) -> Option<&str> {
    meta.and_then(|m| m.message_id.as_deref())
        .filter(|id| !id.trim().is_empty())
}

impl OrderWebhookBody {
    /// The event it carries; see [`OrderWebhookEvent::of`].
    pub fn event(&self) -> Option<OrderWebhookEvent<'_>> {
        OrderWebhookEvent::of(self)
    }

    /// The `orderId` of the event it carries.
    pub fn order_id(&self) -> Option<&str> {
        self.event().and_then(OrderWebhookEvent::order_id)
    }

    /// The deduplication key: `meta.messageId` of the body, else of the
    /// event; an empty or blank one counts as none.
    ///
    /// ```
    /// use tradecloud::api::order_webhook_connector::types::OrderWebhookBody;
    ///
    /// let body: OrderWebhookBody = serde_json::from_str(r#"{
    ///     "eventName": "OrderIssuedByBuyer",
    ///     "meta": { "messageId": " " },
    ///     "orderEvent": { "orderId": "o1", "meta": { "messageId": "m1" } }
    /// }"#)?;
    /// assert_eq!(body.message_id(), Some("m1"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn message_id(&self) -> Option<&str> {
        usable_message_id(self.meta.as_ref())
            .or_else(|| usable_message_id(self.event().and_then(OrderWebhookEvent::meta)))
    }

    /// The first purchase order number that is not blank, trimmed, of
    /// `orderEvent`, `singleDeliveryOrderEvent`, `simpleOrderEvent` and
    /// `orderDocumentsEvent` (`buyerOrder.purchaseOrderNumber`), in that
    /// order.
    pub fn purchase_order_number(&self) -> Option<&str> {
        [
            self.order_event
                .as_ref()
                .and_then(|e| e.buyer_order.as_ref()),
            (self.single_delivery_order_event.as_ref()).and_then(|e| e.buyer_order.as_ref()),
            (self.simple_order_event.as_ref()).and_then(|e| e.buyer_order.as_ref()),
            (self.order_documents_event.as_ref()).and_then(|e| e.buyer_order.as_ref()),
        ]
        .into_iter()
        .flatten()
        .filter_map(|order| order.purchase_order_number.as_deref())
        .map(str::trim)
        .find(|n| !n.is_empty())
    }
}

impl ShipmentWebhookBody {
    /// The shipment's `id`.
    pub fn shipment_id(&self) -> Option<&str> {
        self.shipment.id.as_deref()
    }

    /// The deduplication key: `meta.messageId`; an empty or blank one
    /// counts as none.
    pub fn message_id(&self) -> Option<&str> {
        usable_message_id(self.meta.as_ref())
    }

    /// The purchase order number of the shipment's first line, else of its
    /// first load carrier's first line, trimmed; `None` when blank.
    pub fn purchase_order_number(&self) -> Option<&str> {
        let first_line = self.shipment.lines.first();
        let carrier_line = (self.shipment.load_carriers.first()).and_then(|c| c.lines.first());
        [first_line, carrier_line]
            .into_iter()
            .flatten()
            .filter_map(|line| line.purchase_order_number.as_deref())
            .map(str::trim)
            .find(|n| !n.is_empty())
    }
}
