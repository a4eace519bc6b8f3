//! Any message `tradecloud inspect` understands, recognised by its shape:
//! order and shipment webhook bodies (JSON or tXML), whole orders,
//! single-delivery orders, shipments and poll responses.
//!
//! ```
//! use tradecloud::webhook::{Message, Webhook};
//!
//! let message: Message = r#"{
//!     "eventName": "ShipmentIssuedBySupplier",
//!     "shipment": { "id": "s1", "meta": { "lastUpdatedAt": "2025-04-23T10:01:53.812Z" } }
//! }"#.parse()?;
//! assert!(matches!(message, Message::Webhook(Webhook::Shipment(_))));
//! assert_eq!(message.kind(), "shipmentEvent");
//! assert_eq!(message.event_name(), Some("ShipmentIssuedBySupplier"));
//! assert_eq!(message.id(), Some("s1"));
//! # Ok::<(), tradecloud::webhook::MessageError>(())
//! ```

use std::str::FromStr;

use serde_json::Value;

use super::{DecodeError, Endpoint, Format, OrderWebhookEvent, Webhook, ORDER_PAYLOAD_MEMBERS};
use crate::api::common::types::{Order, Shipment, SingleDeliveryOrder};
use crate::api::order_search::types::{OrderPollResponse, SingleDeliveryOrderPollResponse};
use crate::api::shipment::types::ShipmentPollResponse;
use crate::changes::{describe_changed_lines, LastUpdated, LineChange};
use crate::types::DateTime;

/// Any Tradecloud message `tradecloud inspect` understands, recognised by its
/// shape (see [`Message::from_json`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// An order or shipment webhook body, decoded by [`super::decode`](fn@super::decode) as the
    /// receiver decodes it (the same rules, the same errors). Never
    /// [`Webhook::Unknown`]: a body without any event is
    /// [`MessageError::NoEvent`].
    Webhook(Webhook),
    /// A whole order (delivery schedule).
    Order(Box<Order>),
    /// A whole single-delivery order.
    SingleDeliveryOrder(Box<SingleDeliveryOrder>),
    /// A shipment.
    Shipment(Box<Shipment>),
    /// An order poll response.
    OrderPoll(OrderPollResponse),
    /// A single-delivery order poll response.
    SingleDeliveryOrderPoll(SingleDeliveryOrderPollResponse),
    /// A shipment poll response.
    ShipmentPoll(ShipmentPollResponse),
}

/// Why text could not be read as a [`Message`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The bytes are not UTF-8 text.
    #[error("not UTF-8 text: {0}")]
    NotUtf8(std::str::Utf8Error),
    /// The text is not JSON at all.
    #[error("not valid JSON: {0}")]
    NotJson(serde_json::Error),
    /// The JSON is not an object.
    #[error("not a Tradecloud message: expected a JSON object, found {0}")]
    NotAnObject(&'static str),
    /// The JSON object has none of the shapes [`Message`] knows.
    #[error(
        "not a Tradecloud message: expected an order webhook body (orderEvent, singleDeliveryOrderEvent, \
         simpleOrderEvent or orderDocumentsEvent), a shipment webhook body (shipment), a whole order \
         (lines with id or buyerOrder), a shipment (loadCarriers, supplierShipment, buyerShipment or \
         identifiers) or a poll response (data); found {}",
        describe_keys(.keys)
    )]
    Unrecognised {
        /// The top-level keys of the object.
        keys: Vec<String>,
    },
    /// An order webhook body whose event members are all `null`.
    #[error("order webhook body carries no event: orderEvent, singleDeliveryOrderEvent, simpleOrderEvent and orderDocumentsEvent are all null")]
    NoEvent,
    /// tXML that is not a webhook body: none of the event elements.
    #[error(
        "not a Tradecloud tXML webhook body: expected an <orderEvent>, <singleDeliveryOrderEvent>, \
         <simpleOrderEvent>, <orderDocumentsEvent> or <shipment> element; found {}",
        describe_elements(.elements)
    )]
    NotTxmlWebhook {
        /// The child elements of the root.
        elements: Vec<String>,
    },
    /// A webhook body (JSON or tXML) that does not decode as the receiver
    /// decodes it ([`super::decode`](fn@super::decode)): the receiver would reject it with
    /// this error.
    #[error("looks like {what} but the receiver would reject it: {error}")]
    Webhook {
        /// What it was taken for, e.g. `"an order webhook body"`.
        what: &'static str,
        /// The decoder's error.
        error: DecodeError,
    },
    /// The shape was recognised but the content does not fit the type.
    #[error("looks like {what} but does not match it: {error}")]
    Invalid {
        /// What it was taken for, e.g. `"an order webhook body"`.
        what: &'static str,
        /// The deserialisation error, with line and column.
        error: serde_json::Error,
    },
}

fn describe_keys(keys: &[String]) -> String {
    if keys.is_empty() {
        "an empty object".to_owned()
    } else {
        format!("the keys {}", keys.join(", "))
    }
}

fn describe_elements(elements: &[String]) -> String {
    if elements.is_empty() {
        "no child elements".to_owned()
    } else {
        format!("<{}>", elements.join(">, <"))
    }
}

fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The shapes [`Message`] recognises, before deserialising into a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    OrderWebhook,
    ShipmentWebhook,
    Order,
    SingleDeliveryOrder,
    Shipment,
    OrderPoll,
    SingleDeliveryOrderPoll,
    ShipmentPoll,
}

const SHIPMENT_KEYS: [&str; 4] = [
    "loadCarriers",
    "supplierShipment",
    "buyerShipment",
    "identifiers",
];

fn is_shipment(object: &serde_json::Map<String, Value>) -> bool {
    SHIPMENT_KEYS.iter().any(|key| object.contains_key(*key))
        || lines_of(object).any(|line| {
            line.get("supplierLine")
                .and_then(Value::as_object)
                .is_some_and(|s| s.contains_key("despatchAdviceNumber"))
        })
}

fn is_order(object: &serde_json::Map<String, Value>) -> bool {
    object.get("lines").is_some_and(Value::is_array)
        && ["id", "buyerOrder", "supplierOrder"]
            .iter()
            .any(|key| object.contains_key(*key))
}

fn is_single_delivery(object: &serde_json::Map<String, Value>) -> bool {
    lines_of(object).any(|line| line.contains_key("statusLine"))
}

fn lines_of(
    object: &serde_json::Map<String, Value>,
) -> impl Iterator<Item = &serde_json::Map<String, Value>> {
    object
        .get("lines")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

fn sniff(value: &Value) -> Result<Shape, MessageError> {
    let object = value
        .as_object()
        .ok_or_else(|| MessageError::NotAnObject(json_type_name(value)))?;
    if ORDER_PAYLOAD_MEMBERS
        .iter()
        .any(|key| object.contains_key(*key))
    {
        return Ok(Shape::OrderWebhook);
    }
    if object.get("shipment").is_some_and(Value::is_object) {
        return Ok(Shape::ShipmentWebhook);
    }
    if let Some(data) = object.get("data").and_then(Value::as_array) {
        let first = data.iter().find_map(Value::as_object);
        return Ok(match first {
            Some(item) if is_shipment(item) => Shape::ShipmentPoll,
            Some(item) if is_single_delivery(item) => Shape::SingleDeliveryOrderPoll,
            _ => Shape::OrderPoll,
        });
    }
    if is_shipment(object) {
        return Ok(Shape::Shipment);
    }
    if is_order(object) {
        return Ok(if is_single_delivery(object) {
            Shape::SingleDeliveryOrder
        } else {
            Shape::Order
        });
    }
    Err(MessageError::Unrecognised {
        keys: object.keys().cloned().collect(),
    })
}

fn typed<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &'static str,
) -> Result<T, MessageError> {
    serde_json::from_str(text).map_err(|error| MessageError::Invalid { what, error })
}

impl Message {
    /// Reads a message from JSON text, recognising its shape:
    ///
    /// | shape | becomes |
    /// | --- | --- |
    /// | has `orderEvent`, `singleDeliveryOrderEvent`, `simpleOrderEvent` or `orderDocumentsEvent` | [`Message::Webhook`] ([`Webhook::Order`]) |
    /// | has a `shipment` object | [`Message::Webhook`] ([`Webhook::Shipment`]) |
    /// | has a `data` array | a poll response; the kind follows its first item (orders when empty) |
    /// | has `loadCarriers`, `supplierShipment`, `buyerShipment` or `identifiers`, or lines with `supplierLine.despatchAdviceNumber` | [`Message::Shipment`] |
    /// | has `lines` and `id`, `buyerOrder` or `supplierOrder` | [`Message::SingleDeliveryOrder`] when a line has `statusLine`, else [`Message::Order`] |
    ///
    /// Webhook bodies are decoded by [`super::decode`](fn@super::decode), the receiver's
    /// decoder. Numbers are read from the text itself, so decimals keep
    /// every digit.
    pub fn from_json(text: &str) -> Result<Message, MessageError> {
        let value: Value = serde_json::from_str(text).map_err(MessageError::NotJson)?;
        Ok(match sniff(&value)? {
            Shape::OrderWebhook => webhook(Endpoint::Order, Format::Json, text.as_bytes())?,
            Shape::ShipmentWebhook => webhook(Endpoint::Shipment, Format::Json, text.as_bytes())?,
            Shape::Order => Message::Order(typed(text, "an order")?),
            Shape::SingleDeliveryOrder => {
                Message::SingleDeliveryOrder(typed(text, "a single-delivery order")?)
            }
            Shape::Shipment => Message::Shipment(typed(text, "a shipment")?),
            Shape::OrderPoll => Message::OrderPoll(typed(text, "an order poll response")?),
            Shape::SingleDeliveryOrderPoll => Message::SingleDeliveryOrderPoll(typed(
                text,
                "a single-delivery order poll response",
            )?),
            Shape::ShipmentPoll => Message::ShipmentPoll(typed(text, "a shipment poll response")?),
        })
    }

    /// Reads a message from bytes in either encoding: tXML when they
    /// [look like XML](Message::looks_like_txml) ([`Message::from_txml`]),
    /// else JSON ([`Message::from_slice`]). What `tradecloud inspect` and the
    /// receiver's console call.
    ///
    /// ```
    /// use tradecloud::webhook::Message;
    ///
    /// let json = br#"{ "eventName": "ShipmentIssuedBySupplier", "shipment": { "id": "s1" } }"#;
    /// assert_eq!(Message::from_bytes(json)?.id(), Some("s1"));
    /// let txml = b"<webhook><eventName>ShipmentIssuedBySupplier</eventName><shipment><id>s1</id></shipment></webhook>";
    /// assert_eq!(Message::from_bytes(txml)?.kind(), "shipmentEvent");
    /// # Ok::<(), tradecloud::webhook::MessageError>(())
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<Message, MessageError> {
        if Message::looks_like_txml(bytes) {
            Message::from_txml(bytes)
        } else {
            Message::from_slice(bytes)
        }
    }

    /// Reads a message from JSON bytes (a leading UTF-8 byte order mark
    /// skipped). See [`Message::from_json`].
    pub fn from_slice(bytes: &[u8]) -> Result<Message, MessageError> {
        let bytes = super::json::strip_bom(bytes);
        let text = std::str::from_utf8(bytes).map_err(MessageError::NotUtf8)?;
        Message::from_json(text)
    }

    /// Whether `bytes` look like XML (the first character after blanks and a
    /// byte order mark is `<`): read them with [`Message::from_txml`].
    pub fn looks_like_txml(bytes: &[u8]) -> bool {
        super::json::strip_bom(bytes)
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            == Some(&b'<')
    }

    /// Reads a tXML webhook body (the only tXML messages Tradecloud sends):
    /// an order webhook body when it has an order event element, a shipment
    /// webhook body when it has a `<shipment>` element, decoded by
    /// [`super::decode`](fn@super::decode).
    pub fn from_txml(bytes: &[u8]) -> Result<Message, MessageError> {
        use crate::api::order_webhook_connector::types::txml_shapes;

        let root =
            crate::webhook::txml::to_json(bytes, &txml_shapes::OrderWebhookBody).map_err(|e| {
                MessageError::Webhook {
                    what: "a tXML webhook body",
                    error: DecodeError::Txml(e),
                }
            })?;
        let has = |key: &str| root.get(key).is_some();
        let endpoint = if ORDER_PAYLOAD_MEMBERS.iter().any(|key| has(key)) {
            Endpoint::Order
        } else if has("shipment") {
            Endpoint::Shipment
        } else {
            return Err(MessageError::NotTxmlWebhook {
                elements: root
                    .as_object()
                    .map(|o| o.keys().cloned().collect())
                    .unwrap_or_default(),
            });
        };
        webhook(endpoint, Format::Txml, bytes)
    }

    /// What this message is, by the camelCase name `tradecloud inspect`
    /// prints: `orderEvent`, `singleDeliveryOrderEvent`,
    /// `orderDocumentsEvent`, `shipmentEvent`, `order`,
    /// `singleDeliveryOrder`, `shipment`, `orderPollResponse`,
    /// `singleDeliveryOrderPollResponse` or `shipmentPollResponse`.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Webhook(Webhook::Order(body)) => match body.event() {
                Some(OrderWebhookEvent::SingleDelivery(_)) => "singleDeliveryOrderEvent",
                Some(OrderWebhookEvent::Documents(_)) => "orderDocumentsEvent",
                Some(OrderWebhookEvent::Order(_)) | None => "orderEvent",
            },
            Message::Webhook(Webhook::Shipment(_)) => "shipmentEvent",
            // Never built by this module (see `Message::Webhook`).
            Message::Webhook(Webhook::Unknown(_)) => "unknownEvent",
            Message::Order(_) => "order",
            Message::SingleDeliveryOrder(_) => "singleDeliveryOrder",
            Message::Shipment(_) => "shipment",
            Message::OrderPoll(_) => "orderPollResponse",
            Message::SingleDeliveryOrderPoll(_) => "singleDeliveryOrderPollResponse",
            Message::ShipmentPoll(_) => "shipmentPollResponse",
        }
    }

    /// The webhook's `eventName`; `None` for orders, shipments and poll responses.
    pub fn event_name(&self) -> Option<&str> {
        match self {
            Message::Webhook(webhook) => Some(webhook.event_name()),
            _ => None,
        }
    }

    /// The order id (`orderId` of an event, `id` of an order) or shipment
    /// id; `None` for poll responses or when missing.
    pub fn id(&self) -> Option<&str> {
        match self {
            Message::Webhook(webhook) => webhook.object_id(),
            Message::Order(order) => order.id.as_deref(),
            Message::SingleDeliveryOrder(order) => order.id.as_deref(),
            Message::Shipment(shipment) => shipment.id.as_deref(),
            Message::OrderPoll(_)
            | Message::SingleDeliveryOrderPoll(_)
            | Message::ShipmentPoll(_) => None,
        }
    }

    /// The message's own `lastUpdatedAt` (else `lastChangedAt`): the event's,
    /// order's or shipment's, or the poll response's watermark.
    pub fn last_updated(&self) -> Option<&DateTime> {
        match self {
            Message::Webhook(Webhook::Order(body)) => match body.event()? {
                OrderWebhookEvent::Order(e) => e.last_updated(),
                OrderWebhookEvent::SingleDelivery(e) => e.last_updated(),
                OrderWebhookEvent::Documents(e) => e.last_updated(),
            },
            Message::Webhook(Webhook::Shipment(body)) => body.shipment.last_updated(),
            Message::Webhook(Webhook::Unknown(_)) => None,
            Message::Order(order) => order.last_updated(),
            Message::SingleDeliveryOrder(order) => order.last_updated(),
            Message::Shipment(shipment) => shipment.last_updated(),
            Message::OrderPoll(poll) => poll.last_updated(),
            Message::SingleDeliveryOrderPoll(poll) => poll.last_updated(),
            Message::ShipmentPoll(poll) => poll.last_updated(),
        }
    }

    /// The lines that changed (in this message when `since` is `None`, else
    /// strictly after `since`), described by the rules of
    /// [`crate::changes`], each with where it sits in the JSON body
    /// ([`LineChange::pointer`]). A poll response gives its items' lines in
    /// turn. `tradecloud inspect` and the receiver's console both use it.
    ///
    /// ```
    /// use tradecloud::webhook::Message;
    ///
    /// let message = Message::from_json(r#"{
    ///     "eventName": "OrderLinesConfirmedBySupplier",
    ///     "orderEvent": { "orderId": "o1", "lines": [
    ///         { "id": "l1", "buyerLine": { "position": "10" } }
    ///     ] }
    /// }"#)?;
    /// let lines = message.changed_lines(None);
    /// assert_eq!(lines[0].position.as_deref(), Some("10"));
    /// assert_eq!(lines[0].pointer.as_deref(), Some("/orderEvent/lines/0"));
    /// # Ok::<(), tradecloud::webhook::MessageError>(())
    /// ```
    pub fn changed_lines(&self, since: Option<&DateTime>) -> Vec<LineChange> {
        fn at(mut lines: Vec<LineChange>, pointers: &[String]) -> Vec<LineChange> {
            for line in &mut lines {
                line.pointer = pointers.get(line.index).cloned();
            }
            lines
        }
        fn numbered(prefix: &str, n: usize) -> Vec<String> {
            (0..n).map(|i| format!("{prefix}/{i}")).collect()
        }
        fn shipment_pointers(prefix: &str, shipment: &Shipment) -> Vec<String> {
            let mut out = Vec::new();
            for (c, carrier) in shipment.load_carriers.iter().enumerate() {
                out.extend(numbered(
                    &format!("{prefix}/loadCarriers/{c}/lines"),
                    carrier.lines.len(),
                ));
            }
            out.extend(numbered(&format!("{prefix}/lines"), shipment.lines.len()));
            out
        }
        match self {
            Message::Webhook(Webhook::Order(body)) => match body.event() {
                Some(OrderWebhookEvent::Order(e)) => at(
                    describe_changed_lines(e, since),
                    &numbered("/orderEvent/lines", e.lines.len()),
                ),
                Some(OrderWebhookEvent::SingleDelivery(e)) => {
                    let member = if body.single_delivery_order_event.is_some() {
                        "/singleDeliveryOrderEvent/lines"
                    } else {
                        "/simpleOrderEvent/lines"
                    };
                    at(
                        describe_changed_lines(e, since),
                        &numbered(member, e.lines.len()),
                    )
                }
                Some(OrderWebhookEvent::Documents(e)) => at(
                    describe_changed_lines(e, since),
                    &numbered("/orderDocumentsEvent/lines", e.lines.len()),
                ),
                None => Vec::new(),
            },
            Message::Webhook(Webhook::Shipment(body)) => at(
                describe_changed_lines(&body.shipment, since),
                &shipment_pointers("/shipment", &body.shipment),
            ),
            Message::Webhook(Webhook::Unknown(_)) => Vec::new(),
            Message::Order(o) => at(
                describe_changed_lines(o.as_ref(), since),
                &numbered("/lines", o.lines.len()),
            ),
            Message::SingleDeliveryOrder(o) => at(
                describe_changed_lines(o.as_ref(), since),
                &numbered("/lines", o.lines.len()),
            ),
            Message::Shipment(s) => at(
                describe_changed_lines(s.as_ref(), since),
                &shipment_pointers("", s),
            ),
            Message::OrderPoll(poll) => (poll.data.iter().enumerate())
                .flat_map(|(i, o)| {
                    at(
                        describe_changed_lines(o, since),
                        &numbered(&format!("/data/{i}/lines"), o.lines.len()),
                    )
                })
                .collect(),
            Message::SingleDeliveryOrderPoll(poll) => (poll.data.iter().enumerate())
                .flat_map(|(i, o)| {
                    at(
                        describe_changed_lines(o, since),
                        &numbered(&format!("/data/{i}/lines"), o.lines.len()),
                    )
                })
                .collect(),
            Message::ShipmentPoll(poll) => (poll.data.iter().enumerate())
                .flat_map(|(i, s)| {
                    at(
                        describe_changed_lines(s, since),
                        &shipment_pointers(&format!("/data/{i}"), s),
                    )
                })
                .collect(),
        }
    }
}

/// A webhook body decoded by [`super::decode`](fn@super::decode), as a [`Message`]: a body
/// without any event is [`MessageError::NoEvent`].
fn webhook(endpoint: Endpoint, format: Format, bytes: &[u8]) -> Result<Message, MessageError> {
    let what = match (format, endpoint) {
        (Format::Json, Endpoint::Order) => "an order webhook body",
        (Format::Json, Endpoint::Shipment) => "a shipment webhook body",
        (Format::Txml, Endpoint::Order) => "a tXML order webhook body",
        (Format::Txml, Endpoint::Shipment) => "a tXML shipment webhook body",
    };
    match super::decode::decode_format(endpoint, format, bytes) {
        Ok(Webhook::Unknown(_)) | Err(DecodeError::MissingPayload { .. }) => {
            Err(MessageError::NoEvent)
        }
        Ok(webhook) => Ok(Message::Webhook(webhook)),
        Err(error) => Err(MessageError::Webhook { what, error }),
    }
}

impl FromStr for Message {
    type Err = MessageError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Message::from_json(text)
    }
}
