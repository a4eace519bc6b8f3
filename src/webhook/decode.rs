//! The one decoder of webhook bodies: [`decode`].

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;

use super::json::{self, JsonError};
use super::{one_of, Endpoint, UnknownEvent, Webhook};
use crate::api::order_webhook_connector::types::{txml_shapes as order_shapes, OrderWebhookBody};
use crate::api::shipment_webhook_connector::types::{
    txml_shapes as shipment_shapes, ShipmentWebhookBody,
};
use crate::webhook::txml::{self, Shape, TxmlError};

/// How a body is encoded, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// JSON: `application/json`, any `…+json`, or no content type at all.
    Json,
    /// tXML, Tradecloud's XML encoding ([`crate::webhook::txml`]): `application/xml`,
    /// `text/xml` or any `…+xml`.
    Txml,
}

impl Format {
    /// The format of a `Content-Type` header value (parameters and case
    /// ignored); `None` for any other media type.
    ///
    /// ```
    /// use tradecloud::webhook::Format;
    ///
    /// assert_eq!(Format::of("application/json; charset=utf-8"), Some(Format::Json));
    /// assert_eq!(Format::of(""), Some(Format::Json));
    /// assert_eq!(Format::of("Text/XML"), Some(Format::Txml));
    /// assert_eq!(Format::of("text/plain"), None);
    /// ```
    pub fn of(content_type: &str) -> Option<Format> {
        let media = media_type(content_type);
        if media.is_empty() || is_json_media(&media) {
            Some(Format::Json)
        } else if is_xml_media(&media) {
            Some(Format::Txml)
        } else {
            None
        }
    }
}

/// The media type of a `Content-Type` value: without parameters, trimmed,
/// lower case.
pub(crate) fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether a media type (see [`media_type`]) is JSON.
pub(crate) fn is_json_media(media: &str) -> bool {
    media == "application/json" || media.ends_with("+json")
}

/// Whether a media type (see [`media_type`]) is XML.
pub(crate) fn is_xml_media(media: &str) -> bool {
    media == "application/xml" || media == "text/xml" || media.ends_with("+xml")
}

/// Why a webhook body was not accepted. Every variant is the sender's
/// fault: answer 4xx (415 for [`DecodeError::UnsupportedMediaType`], else
/// 400) and keep the bytes in quarantine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Neither JSON nor XML.
    #[error(
        "content type `{content_type}` is not supported: send application/json or application/xml"
    )]
    UnsupportedMediaType {
        /// The `Content-Type` received.
        content_type: String,
    },
    /// Not JSON, or JSON that does not fit the body type.
    #[error("invalid JSON body: {0}")]
    Json(JsonError),
    /// Not tXML, or tXML that does not fit the body type.
    #[error("invalid tXML body: {0}")]
    Txml(TxmlError),
    /// A known event name without any of its payload members.
    #[error(
        "the {endpoint} event `{event_name}` carries no payload: expected {} as an object",
        one_of(endpoint.payload_members())
    )]
    MissingPayload {
        /// Where it was sent.
        endpoint: Endpoint,
        /// Its `eventName`.
        event_name: String,
    },
    /// An event whose payload lacks the id its handler needs (`orderId`
    /// of the order event, `id` of the shipment), or has it empty or blank.
    #[error(
        "the {endpoint} event `{event_name}` carries no {} id: `{member}` is missing, empty or blank",
        endpoint
    )]
    MissingId {
        /// Whose event it is.
        endpoint: Endpoint,
        /// Its `eventName`.
        event_name: String,
        /// Where the id belongs, e.g. `orderEvent.orderId`.
        member: &'static str,
    },
    /// A body sent to one webhook that is the other webhook's event (see
    /// [`super`]), and does not decode as that event either.
    #[error(
        "a {belongs_to} event was sent to the {sent_to} webhook URL (are the order and shipment \
         webhook URLs swapped in the Tradecloud portal?), and it is not a valid {belongs_to} event: {error}"
    )]
    WrongEndpoint {
        /// The webhook it was sent to.
        sent_to: Endpoint,
        /// The webhook whose event it is.
        belongs_to: Endpoint,
        /// Why it is not a valid event of that webhook.
        error: Box<DecodeError>,
    },
}

impl DecodeError {
    /// The webhook whose event the body is, when it is the other one than
    /// it was sent to ([`DecodeError::WrongEndpoint`]).
    pub fn belongs_to(&self) -> Option<Endpoint> {
        match self {
            DecodeError::WrongEndpoint { belongs_to, .. } => Some(*belongs_to),
            _ => None,
        }
    }
}

/// Decode a body sent to `endpoint` with `content_type`.
///
/// * JSON (a leading UTF-8 byte order mark skipped) or tXML, by
///   [`Format::of`] the content type.
/// * Decoded without path tracking first; a body that fails is decoded
///   again to name the failing field in the error.
/// * The payload rule of the [module](super): a known event name without
///   its payload is [`DecodeError::MissingPayload`]; an unknown event name
///   without any known payload member is `Ok(`[`Webhook::Unknown`]`)`.
/// * The id rule: an event without its order or shipment id is
///   [`DecodeError::MissingId`].
/// * The other webhook's event (a body of `endpoint` without its payload
///   and with an event name it does not know, that carries the other
///   webhook's payload or event name) is decoded as that webhook's: `Ok`
///   with [`Webhook::endpoint`] the other one, or
///   [`DecodeError::WrongEndpoint`].
///
/// ```
/// use tradecloud::webhook::{self, DecodeError, Endpoint};
///
/// // A shipment event posted to the order webhook (URLs swapped in the portal).
/// let body = br#"{"eventName": "ShipmentIssuedBySupplier", "shipment": {"id": "s1"}}"#;
/// let webhook = webhook::decode(Endpoint::Order, "application/json", body)?;
/// assert_eq!(webhook.endpoint(), Endpoint::Shipment);
/// assert_eq!(webhook.object_id(), Some("s1"));
///
/// // An order event without its order id.
/// let body = br#"{"eventName": "OrderIssuedByBuyer", "orderEvent": {}}"#;
/// let error = webhook::decode(Endpoint::Order, "application/json", body).unwrap_err();
/// assert!(matches!(error, DecodeError::MissingId { .. }), "{error}");
/// # Ok::<(), DecodeError>(())
/// ```
pub fn decode(
    endpoint: Endpoint,
    content_type: &str,
    bytes: &[u8],
) -> Result<Webhook, DecodeError> {
    let format = Format::of(content_type).ok_or_else(|| DecodeError::UnsupportedMediaType {
        content_type: content_type.to_owned(),
    })?;
    decode_format(endpoint, format, bytes)
}

/// [`decode`] of a body whose format is known.
pub(crate) fn decode_format(
    endpoint: Endpoint,
    format: Format,
    bytes: &[u8],
) -> Result<Webhook, DecodeError> {
    let decoded = decode_as(endpoint, format, bytes);
    if !matches!(decoded, Ok(Webhook::Unknown(_))) {
        return decoded;
    }
    match other_webhook(endpoint, format, bytes) {
        Some(other) => {
            decode_as(other, format, bytes).map_err(|error| DecodeError::WrongEndpoint {
                sent_to: endpoint,
                belongs_to: other,
                error: Box::new(error),
            })
        }
        None => decoded,
    }
}

/// [`decode`] as a body of `endpoint` only.
fn decode_as(endpoint: Endpoint, format: Format, bytes: &[u8]) -> Result<Webhook, DecodeError> {
    let decoded = match endpoint {
        Endpoint::Order => {
            typed::<OrderWebhookBody>(format, bytes, &order_shapes::OrderWebhookBody)
                .and_then(Webhook::from_order)
        }
        Endpoint::Shipment => {
            typed::<ShipmentWebhookBody>(format, bytes, &shipment_shapes::ShipmentWebhookBody)
                .and_then(Webhook::from_shipment)
        }
    };
    match decoded {
        Err(error @ (DecodeError::Json(_) | DecodeError::Txml(_))) => {
            without_payload(endpoint, format, bytes).unwrap_or(Err(error))
        }
        other => other,
    }
}

/// Decode `bytes` in `format` into `T`, whose tXML shape is `shape`.
fn typed<T: DeserializeOwned>(
    format: Format,
    bytes: &[u8],
    shape: &'static Shape,
) -> Result<T, DecodeError> {
    match format {
        Format::Json => json::decode(bytes).map_err(DecodeError::Json),
        Format::Txml => txml::from_slice_with(bytes, shape).map_err(DecodeError::Txml),
    }
}

/// What a body that does not fit its type says about its event: its name,
/// its message id and which payload members it has (`null` counts as none).
/// Duplicate known members are refused, as in the body types.
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "eventName")]
    event_name: String,
    #[serde(default)]
    meta: Option<ProbeMeta>,
    #[serde(rename = "orderEvent", default)]
    order_event: Option<IgnoredAny>,
    #[serde(rename = "singleDeliveryOrderEvent", default)]
    single_delivery_order_event: Option<IgnoredAny>,
    #[serde(rename = "simpleOrderEvent", default)]
    simple_order_event: Option<IgnoredAny>,
    #[serde(rename = "orderDocumentsEvent", default)]
    order_documents_event: Option<IgnoredAny>,
    #[serde(default)]
    shipment: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct ProbeMeta {
    #[serde(rename = "messageId", default)]
    message_id: Option<String>,
}

impl Probe {
    fn has_payload(&self, endpoint: Endpoint) -> bool {
        match endpoint {
            Endpoint::Order => {
                self.order_event.is_some()
                    || self.single_delivery_order_event.is_some()
                    || self.simple_order_event.is_some()
                    || self.order_documents_event.is_some()
            }
            Endpoint::Shipment => self.shipment.is_some(),
        }
    }
}

/// For a body of `endpoint` that is an unknown event: the other webhook,
/// when the body carries that webhook's payload or one of its event names.
fn other_webhook(endpoint: Endpoint, format: Format, bytes: &[u8]) -> Option<Endpoint> {
    let probe = probe(endpoint, format, bytes)?;
    let other = endpoint.other();
    (probe.has_payload(other) || other.knows_event(&probe.event_name)).then_some(other)
}

/// What [`Probe`] finds in a body of `endpoint`; `None` when it has no
/// readable `eventName`.
fn probe(endpoint: Endpoint, format: Format, bytes: &[u8]) -> Option<Probe> {
    match format {
        Format::Json => json::decode(bytes).ok(),
        Format::Txml => {
            let shape = match endpoint {
                Endpoint::Order => &order_shapes::OrderWebhookBody,
                Endpoint::Shipment => &shipment_shapes::ShipmentWebhookBody,
            };
            Probe::deserialize(txml::to_json(bytes, shape).ok()?).ok()
        }
    }
}

/// For a body that does not fit its type: the payload rule's verdict when
/// the body has none of its endpoint's payload members (`None` when it has
/// one, or has no readable `eventName`: then the type's error stands).
fn without_payload(
    endpoint: Endpoint,
    format: Format,
    bytes: &[u8],
) -> Option<Result<Webhook, DecodeError>> {
    let probe = probe(endpoint, format, bytes)?;
    if probe.has_payload(endpoint) {
        return None;
    }
    Some(if endpoint.knows_event(&probe.event_name) {
        Err(DecodeError::MissingPayload {
            endpoint,
            event_name: probe.event_name,
        })
    } else {
        Ok(Webhook::Unknown(UnknownEvent {
            endpoint,
            event_name: probe.event_name,
            message_id: probe
                .meta
                .and_then(|m| m.message_id)
                .filter(|id| !id.trim().is_empty()),
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(body: &str) -> Result<Webhook, DecodeError> {
        decode(Endpoint::Order, "application/json", body.as_bytes())
    }

    fn shipment(body: &str) -> Result<Webhook, DecodeError> {
        decode(Endpoint::Shipment, "application/json", body.as_bytes())
    }

    #[test]
    fn a_known_event_without_its_payload_is_an_error() {
        for body in [
            r#"{"eventName":"OrderIssuedByBuyer"}"#,
            r#"{"eventName":"OrderIssuedByBuyer","orderEvent":null}"#,
            r#"{"eventName":"OrderIssuedByBuyer","orderEvent":null,"simpleOrderEvent":null,"somethingElse":{}}"#,
        ] {
            let error = order(body).unwrap_err();
            assert!(
                matches!(&error, DecodeError::MissingPayload { endpoint: Endpoint::Order, event_name } if event_name == "OrderIssuedByBuyer"),
                "{body}: {error:?}"
            );
            assert_eq!(
                error.to_string(),
                "the order event `OrderIssuedByBuyer` carries no payload: expected `orderEvent`, \
                 `singleDeliveryOrderEvent`, `simpleOrderEvent` or `orderDocumentsEvent` as an object"
            );
        }
        for body in [
            r#"{"eventName":"ShipmentIssuedBySupplier"}"#,
            r#"{"eventName":"ShipmentIssuedBySupplier","shipment":null}"#,
        ] {
            let error = shipment(body).unwrap_err();
            assert!(
                matches!(
                    &error,
                    DecodeError::MissingPayload {
                        endpoint: Endpoint::Shipment,
                        ..
                    }
                ),
                "{body}: {error:?}"
            );
            assert!(
                error
                    .to_string()
                    .contains("expected `shipment` as an object"),
                "{error}"
            );
        }
    }

    #[test]
    fn an_unknown_event_without_a_known_payload_is_kept_as_unknown() {
        let unknown = order(
            r#"{"eventName":"OrderTeleportedByBuyer","teleportEvent":{"x":1},"orderEvent":null,"meta":{"messageId":"m1"}}"#,
        )
        .unwrap();
        assert_eq!(
            unknown,
            Webhook::Unknown(UnknownEvent {
                endpoint: Endpoint::Order,
                event_name: "OrderTeleportedByBuyer".into(),
                message_id: Some("m1".into()),
            })
        );
        assert_eq!(unknown.object_id(), None);
        let unknown =
            shipment(r#"{"eventName":"ShipmentTeleported","meta":{"messageId":""}}"#).unwrap();
        assert!(unknown.is_unknown());
        assert_eq!(unknown.message_id(), None, "an empty message id is no key");
        assert_eq!(unknown.endpoint(), Endpoint::Shipment);

        // An order event name at the shipment webhook is an order event
        // (without its payload), and the other way round.
        let error = shipment(r#"{"eventName":"OrderIssuedByBuyer"}"#).unwrap_err();
        assert!(
            matches!(&error, DecodeError::WrongEndpoint { sent_to: Endpoint::Shipment, belongs_to: Endpoint::Order, error }
                if matches!(**error, DecodeError::MissingPayload { .. })),
            "{error:?}"
        );
        assert_eq!(error.belongs_to(), Some(Endpoint::Order));
        let error = order(r#"{"eventName":"ShipmentIssuedBySupplier"}"#).unwrap_err();
        assert!(
            error.to_string().starts_with(
                "a shipment event was sent to the order webhook URL (are the order and shipment webhook URLs swapped"
            ),
            "{error}"
        );
    }

    #[test]
    fn the_other_webhooks_events_are_decoded_as_what_they_are() {
        let webhook = order(
            r#"{"eventName":"ShipmentIssuedBySupplier","meta":{"messageId":"m1"},"shipment":{"id":"s1"}}"#,
        )
        .unwrap();
        assert!(matches!(webhook, Webhook::Shipment(_)));
        assert_eq!(webhook.endpoint(), Endpoint::Shipment);
        assert_eq!(
            (webhook.object_id(), webhook.message_id()),
            (Some("s1"), Some("m1"))
        );
        // By its payload, whatever its name.
        let webhook =
            order(r#"{"eventName":"ShipmentTeleported","shipment":{"id":"s1"}}"#).unwrap();
        assert_eq!(webhook.endpoint(), Endpoint::Shipment);
        for member in [
            "orderEvent",
            "singleDeliveryOrderEvent",
            "simpleOrderEvent",
            "orderDocumentsEvent",
        ] {
            let body =
                format!(r#"{{"eventName":"OrderIssuedByBuyer","{member}":{{"orderId":"o1"}}}}"#);
            let webhook = shipment(&body).unwrap();
            assert!(matches!(webhook, Webhook::Order(_)), "{member}");
            assert_eq!(webhook.object_id(), Some("o1"));
        }
        // As that webhook's event, it must be valid.
        let error = order(r#"{"eventName":"ShipmentIssuedBySupplier","shipment":{}}"#).unwrap_err();
        assert!(
            matches!(&error, DecodeError::WrongEndpoint { error, .. } if matches!(**error, DecodeError::MissingId { .. })),
            "{error:?}"
        );
        let error = shipment(r#"{"eventName":"OrderIssuedByBuyer","orderEvent":{"orderId":5}}"#)
            .unwrap_err();
        assert_eq!(error.belongs_to(), Some(Endpoint::Order), "{error:?}");
        // A body with its own payload stays its own, another member aside.
        let webhook =
            order(r#"{"eventName":"X","orderEvent":{"orderId":"o1"},"shipment":{"id":"s1"}}"#)
                .unwrap();
        assert_eq!(webhook.endpoint(), Endpoint::Order);
        // An unknown event with neither payload stays unknown where it was sent.
        assert!(order(r#"{"eventName":"Teleported"}"#).unwrap().is_unknown());
        // tXML the same way, both directions.
        let xml = |body: &str, endpoint| decode(endpoint, "application/xml", body.as_bytes());
        let webhook = xml(
            "<webhookBody><eventName>ShipmentIssuedBySupplier</eventName><shipment><id>s1</id></shipment></webhookBody>",
            Endpoint::Order,
        )
        .unwrap();
        assert_eq!(
            (webhook.endpoint(), webhook.object_id()),
            (Endpoint::Shipment, Some("s1"))
        );
        let webhook = xml(
            "<webhookBody><eventName>OrderIssuedByBuyer</eventName><orderEvent><orderId>o1</orderId></orderEvent></webhookBody>",
            Endpoint::Shipment,
        )
        .unwrap();
        assert_eq!(
            (webhook.endpoint(), webhook.object_id()),
            (Endpoint::Order, Some("o1"))
        );
    }

    #[test]
    fn an_event_without_its_id_is_an_error() {
        for (body, member) in [
            (
                r#"{"eventName":"OrderIssuedByBuyer","orderEvent":{}}"#,
                "orderEvent.orderId",
            ),
            (
                r#"{"eventName":"OrderIssuedByBuyer","orderEvent":{"orderId":""}}"#,
                "orderEvent.orderId",
            ),
            (
                r#"{"eventName":"OrderIssuedByBuyer","orderEvent":{"orderId":" \t\r\n"}}"#,
                "orderEvent.orderId",
            ),
            (
                r#"{"eventName":"OrderIssuedByBuyer","orderEvent":{"orderId":null}}"#,
                "orderEvent.orderId",
            ),
            (
                r#"{"eventName":"OrderIssuedByBuyer","singleDeliveryOrderEvent":{}}"#,
                "singleDeliveryOrderEvent.orderId",
            ),
            (
                r#"{"eventName":"OrderIssuedByBuyer","simpleOrderEvent":{}}"#,
                "simpleOrderEvent.orderId",
            ),
            (
                r#"{"eventName":"OrderDocumentsAttachedByBuyer","orderDocumentsEvent":{}}"#,
                "orderDocumentsEvent.orderId",
            ),
            // An unknown event name with a known payload is handled: it needs its id too.
            (
                r#"{"eventName":"OrderTeleported","orderEvent":{"lines":[]}}"#,
                "orderEvent.orderId",
            ),
        ] {
            let error = order(body).unwrap_err();
            assert!(
                matches!(&error, DecodeError::MissingId { endpoint: Endpoint::Order, member: m, .. } if *m == member),
                "{body}: {error:?}"
            );
        }
        let error = order(r#"{"eventName":"OrderIssuedByBuyer","orderEvent":{}}"#).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the order event `OrderIssuedByBuyer` carries no order id: `orderEvent.orderId` is missing, empty or blank"
        );
        for body in [
            r#"{"eventName":"ShipmentIssuedBySupplier","shipment":{}}"#,
            r#"{"eventName":"ShipmentIssuedBySupplier","shipment":{"id":" "}}"#,
        ] {
            let error = shipment(body).unwrap_err();
            assert!(
                matches!(
                    &error,
                    DecodeError::MissingId {
                        endpoint: Endpoint::Shipment,
                        member: "shipment.id",
                        ..
                    }
                ),
                "{body}: {error:?}"
            );
        }
        // Blank is what `str::trim` removes, as the tXML reader trims: a
        // no-break space or an ideographic space is no id, in JSON and in
        // tXML alike.
        for blank in ["\u{a0}", "\u{3000} ", "\u{85}"] {
            let json = serde_json::json!({"eventName": "OrderIssuedByBuyer",
                                          "orderEvent": {"orderId": blank}})
            .to_string();
            let error = order(&json).unwrap_err();
            assert!(
                matches!(error, DecodeError::MissingId { .. }),
                "JSON {blank:?}: {error:?}"
            );
            let xml = format!(
                "<webhookBody><eventName>OrderIssuedByBuyer</eventName>\
                 <orderEvent><orderId>{blank}</orderId></orderEvent></webhookBody>"
            );
            let error = decode(Endpoint::Order, "application/xml", xml.as_bytes()).unwrap_err();
            assert!(
                matches!(error, DecodeError::MissingId { .. }),
                "tXML {blank:?}: {error:?}"
            );
            assert!(crate::webhook::is_blank_id(blank));
        }
        // Any other character makes an id (a zero-width no-break space is
        // not whitespace to `str::trim`), in both forms.
        assert!(
            order(r#"{"eventName":"OrderIssuedByBuyer","orderEvent":{"orderId":"\ufeff"}}"#)
                .is_ok()
        );
        let xml = "<webhookBody><eventName>OrderIssuedByBuyer</eventName>\
                   <orderEvent><orderId>\u{feff}</orderId></orderEvent></webhookBody>";
        let webhook = decode(Endpoint::Order, "application/xml", xml.as_bytes()).unwrap();
        assert_eq!(webhook.object_id(), Some("\u{feff}"));
        let xml = decode(
            Endpoint::Order,
            "application/xml",
            b"<webhookBody><eventName>OrderIssuedByBuyer</eventName><orderEvent><lines/></orderEvent></webhookBody>",
        )
        .unwrap_err();
        assert!(matches!(xml, DecodeError::MissingId { .. }), "{xml:?}");
    }

    #[test]
    fn an_unknown_event_with_a_known_payload_is_decoded_as_usual() {
        let webhook =
            order(r#"{"eventName":"OrderTeleportedByBuyer","orderEvent":{"orderId":"o1"}}"#)
                .unwrap();
        assert_eq!(webhook.object_id(), Some("o1"));
        assert!(matches!(webhook, Webhook::Order(_)));
        // A known member of the wrong type is still the type's error, with its path.
        let error = order(r#"{"eventName":"OrderTeleportedByBuyer","orderEvent":5}"#).unwrap_err();
        assert!(
            matches!(&error, DecodeError::Json(e) if e.path.as_deref() == Some("orderEvent")),
            "{error:?}"
        );
        let error = shipment(r#"{"eventName":"Whatever","shipment":[]}"#).unwrap_err();
        assert!(matches!(error, DecodeError::Json(_)), "{error:?}");
    }

    #[test]
    fn bodies_that_are_not_events_keep_their_error() {
        for body in [
            "",
            "[]",
            r#"{"eventName":5}"#,
            r#"{"orderEvent":{}}"#,
            r#"{"eventName":"New"} {}"#,
            r#"{"eventName":"New","eventName":"Newer"}"#,
        ] {
            assert!(
                matches!(order(body), Err(DecodeError::Json(_))),
                "{body}: {:?}",
                order(body)
            );
            assert!(
                matches!(shipment(body), Err(DecodeError::Json(_))),
                "{body}"
            );
        }
        assert!(matches!(
            decode(Endpoint::Order, "text/plain", b"{}"),
            Err(DecodeError::UnsupportedMediaType { .. })
        ));
    }

    #[test]
    fn txml_follows_the_same_rules() {
        let xml = |body: &str, endpoint| decode(endpoint, "application/xml", body.as_bytes());
        let error = xml(
            "<webhookBody><eventName>OrderIssuedByBuyer</eventName></webhookBody>",
            Endpoint::Order,
        )
        .unwrap_err();
        assert!(
            matches!(error, DecodeError::MissingPayload { .. }),
            "{error:?}"
        );
        let unknown = xml(
            "<webhookBody><eventName>ShipmentTeleported</eventName><meta><messageId>m</messageId></meta></webhookBody>",
            Endpoint::Shipment,
        )
        .unwrap();
        assert_eq!(unknown.message_id(), Some("m"));
        let error = xml(
            "<webhookBody><eventName>X</eventName><orderEvent><orderId>1</orderId><orderId>2</orderId></orderEvent></webhookBody>",
            Endpoint::Order,
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("at `orderEvent.orderId`: the element <orderId> appears more than once"),
            "{error}"
        );
        let error = xml(
            "<a><eventName>New</eventName></a><b><eventName>New</eventName></b>",
            Endpoint::Order,
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("more than one root element"),
            "{error}"
        );
    }

    #[test]
    fn json_with_a_byte_order_mark_decodes() {
        let body = b"\xEF\xBB\xBF{\"eventName\":\"OrderIssuedByBuyer\",\"orderEvent\":{\"orderId\":\"o1\"}}";
        let webhook = decode(Endpoint::Order, "application/json", body).unwrap();
        assert_eq!(webhook.object_id(), Some("o1"));
    }
}
