//! The keys both stores index, computed here once so that SQLite and
//! PostgreSQL agree on them byte for byte.
//!
//! An id from a webhook body (`meta.messageId`, `orderId`, `shipment.id`)
//! is whatever Tradecloud (or anyone holding the credentials) sent: it may
//! hold NUL, which PostgreSQL text cannot, and it may be megabytes long,
//! which no B-tree index takes (PostgreSQL refuses index rows above about
//! 2.7 kB). So the indexed columns hold a *key* of the id, never the id:
//!
//! * `=` followed by the id, when the id has at most [`MAX_PLAIN_ID_BYTES`]
//!   bytes and no NUL (every id Tradecloud sends: they are UUIDs);
//! * else `#` followed by the SHA-256 of the id's UTF-8 bytes in lower-case
//!   hex (64 characters).
//!
//! The two forms cannot meet (they start with different characters), each
//! is one-to-one (up to a SHA-256 collision), every key is NUL-free text of
//! at most 201 bytes, and ids stay readable in the database for the
//! common case. The message key is prefixed with the event's kind
//! (`order:`, `orderDocuments:`, `shipment:`): a message id is unique per
//! kind of event, not across kinds, so a shipment event that happens to
//! carry an order event's message id is not taken for its redelivery.
//!
//! The ids themselves are kept beside the keys, unchanged (PostgreSQL:
//! with U+FFFD in place of a NUL, shown by `inbox list` only; the body is
//! kept byte for byte on both stores).

use aws_lc_rs::digest::{digest, SHA256};

/// Ids up to this many bytes (and without NUL) are kept as they are in
/// their key; longer ones are hashed.
pub const MAX_PLAIN_ID_BYTES: usize = 200;

/// The key of an id (see the [module docs](self)).
pub(crate) fn id_key(id: &str) -> String {
    if id.len() <= MAX_PLAIN_ID_BYTES && !id.contains('\0') {
        let mut key = String::with_capacity(id.len() + 1);
        key.push('=');
        key.push_str(id);
        return key;
    }
    let hash = digest(&SHA256, id.as_bytes());
    let mut key = String::with_capacity(65);
    key.push('#');
    for byte in hash.as_ref() {
        key.push(char::from(HEX[usize::from(byte >> 4)]));
        key.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    key
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The deduplication key of a message id of an event of `kind`
/// (`order`, `orderDocuments`, `shipment`).
pub(crate) fn message_key(kind: &str, message_id: &str) -> String {
    format!("{kind}:{}", id_key(message_id))
}

/// The ordering key of an order or shipment id.
pub(crate) fn object_key(object_id: &str) -> String {
    id_key(object_id)
}

/// The purchase order number a webhook body names, for the indexed search
/// of the operator's console (`po_key`, holding its [`object_key`]): the
/// order event's `buyerOrder.purchaseOrderNumber`, else the first shipment
/// line's `purchaseOrderNumber`. JSON bodies only; `None` for anything else
/// (tXML, no number, only blanks): such events are found by a body scan.
///
/// For events stored without their decoded webhook (`Inbox::store`,
/// fetched orders, imports); the receiver's events take the number from
/// the decode instead (`Webhook::purchase_order_number`, which gives the
/// same answer on JSON and also reads tXML; see `Inbox::store_webhook`).
/// It reads only the members it needs
/// and skips the rest without building it ([`probe::Body`]); a body of an
/// unexpected shape (a member of another type, a repeated key) is read once
/// more as a `serde_json::Value`, which gives the same answer for any JSON.
pub(crate) fn purchase_order_number(body: &[u8]) -> Option<String> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    if body.get(start) != Some(&b'{') {
        return None;
    }
    match serde_json::from_slice::<probe::Body>(body) {
        Ok(probe) => probe.purchase_order_number(),
        Err(_) => purchase_order_number_of_value(body),
    }
}

fn purchase_order_number_of_value(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    [
        "/orderEvent/buyerOrder/purchaseOrderNumber",
        "/singleDeliveryOrderEvent/buyerOrder/purchaseOrderNumber",
        "/simpleOrderEvent/buyerOrder/purchaseOrderNumber",
        "/orderDocumentsEvent/buyerOrder/purchaseOrderNumber",
        "/shipment/lines/0/purchaseOrderNumber",
        "/shipment/loadCarriers/0/lines/0/purchaseOrderNumber",
    ]
    .iter()
    .filter_map(|p| value.pointer(p).and_then(serde_json::Value::as_str))
    .map(str::trim)
    .find(|n| !n.is_empty())
    .map(str::to_owned)
}

/// The members of a webhook body that name its purchase order number, and
/// nothing else (serde skips every other member without allocating).
mod probe {
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::{Deserialize, Deserializer, IgnoredAny, SeqAccess, Visitor};

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Body {
        order_event: Option<OrderEvent>,
        single_delivery_order_event: Option<OrderEvent>,
        simple_order_event: Option<OrderEvent>,
        order_documents_event: Option<OrderEvent>,
        shipment: Option<Shipment>,
    }

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct OrderEvent {
        buyer_order: Option<Numbered>,
    }

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Numbered {
        purchase_order_number: Option<String>,
    }

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Shipment {
        lines: Option<First<Numbered>>,
        load_carriers: Option<First<Carrier>>,
    }

    #[derive(serde::Deserialize)]
    struct Carrier {
        lines: Option<First<Numbered>>,
    }

    /// The first element of an array; the others are skipped.
    struct First<T>(Option<T>);

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for First<T> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct FirstVisitor<T>(PhantomData<T>);
            impl<'de, T: Deserialize<'de>> Visitor<'de> for FirstVisitor<T> {
                type Value = First<T>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an array")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<First<T>, A::Error> {
                    let first = seq.next_element::<T>()?;
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(First(first))
                }
            }
            deserializer.deserialize_seq(FirstVisitor(PhantomData))
        }
    }

    fn number(numbered: Option<&Numbered>) -> Option<&str> {
        numbered?.purchase_order_number.as_deref()
    }

    impl Body {
        /// The same order of preference as the JSON pointers of
        /// [`super::purchase_order_number_of_value`].
        pub(super) fn purchase_order_number(&self) -> Option<String> {
            let orders = [
                &self.order_event,
                &self.single_delivery_order_event,
                &self.simple_order_event,
                &self.order_documents_event,
            ]
            .into_iter()
            .map(|event| number(event.as_ref().and_then(|e| e.buyer_order.as_ref())));
            let shipment = self.shipment.as_ref();
            let line = shipment
                .and_then(|s| s.lines.as_ref())
                .and_then(|l| number(l.0.as_ref()));
            let carrier_line = shipment
                .and_then(|s| s.load_carriers.as_ref())
                .and_then(|c| c.0.as_ref())
                .and_then(|c| c.lines.as_ref())
                .and_then(|l| number(l.0.as_ref()));
            orders
                .chain([line, carrier_line])
                .flatten()
                .map(str::trim)
                .find(|n| !n.is_empty())
                .map(str::to_owned)
        }
    }
}

/// The `po_key` of a body: the key of its purchase order number.
pub(crate) fn po_key(body: &[u8]) -> Option<String> {
    purchase_order_number(body).map(|n| object_key(&n))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The probe gives what the `Value` reading gives, on the shapes that
    /// take the fast path and on those that fall back.
    #[test]
    fn the_probe_agrees_with_the_value_reading() {
        let bodies = [
            r#"{"orderEvent":{"buyerOrder":{"purchaseOrderNumber":" PO-1 "}}}"#,
            r#"{"orderEvent":{"buyerOrder":{"purchaseOrderNumber":"  "}},"simpleOrderEvent":{"buyerOrder":{"purchaseOrderNumber":"PO-2"}}}"#,
            r#"{"singleDeliveryOrderEvent":{"buyerOrder":{"purchaseOrderNumber":"PO-3"}},"x":[1,{"y":2.50}]}"#,
            r#"{"orderDocumentsEvent":{"buyerOrder":{"purchaseOrderNumber":"PO-4"}}}"#,
            r#"{"shipment":{"lines":[{"purchaseOrderNumber":"PO-5"},{"purchaseOrderNumber":"PO-6"}]}}"#,
            r#"{"shipment":{"lines":[{"purchaseOrderNumber":""}],"loadCarriers":[{"lines":[{"purchaseOrderNumber":"PO-7"}]}]}}"#,
            r#"{"shipment":{"lines":[],"loadCarriers":[{"lines":[]},{"lines":[{"purchaseOrderNumber":"PO-8"}]}]}}"#,
            r#"{"orderEvent":{"buyerOrder":{"purchaseOrderNumber":42}},"shipment":{"lines":[{"purchaseOrderNumber":"PO-9"}]}}"#,
            r#"{"orderEvent":5,"shipment":{"lines":[{"purchaseOrderNumber":"PO-10"}]}}"#,
            r#"{"orderEvent":{"buyerOrder":{"purchaseOrderNumber":"A"}},"orderEvent":{"buyerOrder":{"purchaseOrderNumber":"B"}}}"#,
            r#"{"orderEvent":{"buyerOrder":null}}"#,
            r#"{"eventName":"OrderIssuedByBuyer"}"#,
            r#"{"orderEvent":{"buyerOrder":{"purchaseOrderNumber":"PO-\u0000\u00e9"}}}"#,
            r#"{not json"#,
        ];
        for body in bodies {
            assert_eq!(
                purchase_order_number(body.as_bytes()),
                purchase_order_number_of_value(body.as_bytes()),
                "{body}"
            );
        }
        assert_eq!(
            purchase_order_number(bodies[0].as_bytes()).as_deref(),
            Some("PO-1")
        );
        assert_eq!(purchase_order_number(bodies[6].as_bytes()), None);
        assert_eq!(
            purchase_order_number(bodies[8].as_bytes()).as_deref(),
            Some("PO-10")
        );
    }

    /// The number a decoded webhook gives (what the receiver stores) is the
    /// probe's (what a body stored without its webhook gets) on every JSON
    /// webhook fixture and on the probe's own cases that decode.
    #[test]
    fn the_decoded_webhook_gives_the_probes_number() {
        use crate::webhook::{decode, Endpoint};
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let mut checked = 0;
        for (folder, endpoint) in [
            ("order-webhook", Endpoint::Order),
            ("shipment-webhook", Endpoint::Shipment),
        ] {
            let Ok(entries) = std::fs::read_dir(format!("{dir}/{folder}")) else {
                panic!("{dir}/{folder} is missing")
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().and_then(|e| e.to_str()) != Some("json") {
                    continue;
                }
                let Ok(body) = std::fs::read(&path) else {
                    panic!("cannot read {}", path.display())
                };
                let Ok(webhook) = decode(endpoint, "application/json", &body) else {
                    panic!("{} does not decode", path.display())
                };
                assert_eq!(
                    webhook.purchase_order_number(),
                    purchase_order_number(&body).as_deref(),
                    "{}",
                    path.display()
                );
                checked += 1;
            }
        }
        let shipment = br#"{"eventName":"ShipmentIssuedBySupplier","shipment":{"id":"s1",
            "lines":[{"purchaseOrderNumber":" "}],"loadCarriers":[{"lines":[{"purchaseOrderNumber":" PO-7"}]}]}}"#;
        let order = br#"{"eventName":"OrderIssuedByBuyer","orderEvent":{"orderId":"o1",
            "buyerOrder":{"purchaseOrderNumber":"  "}},"simpleOrderEvent":{"orderId":"o1",
            "buyerOrder":{"purchaseOrderNumber":"PO-2"}}}"#;
        for (endpoint, body) in [
            (Endpoint::Shipment, &shipment[..]),
            (Endpoint::Order, &order[..]),
        ] {
            let Ok(webhook) = decode(endpoint, "application/json", body) else {
                panic!("does not decode")
            };
            assert_eq!(
                webhook.purchase_order_number(),
                purchase_order_number(body).as_deref()
            );
            assert!(webhook.purchase_order_number().is_some());
            checked += 1;
        }
        assert!(checked >= 7, "{checked} bodies checked");
    }

    #[test]
    fn keys_keep_ids_apart_and_stay_bounded() {
        assert_eq!(id_key("7e1f5b2c"), "=7e1f5b2c");
        assert_ne!(id_key("n\0"), id_key("n\u{FFFD}"));
        assert!(!id_key("n\0").contains('\0'));
        let long = "x".repeat(300_000);
        let key = id_key(&long);
        assert_eq!(key.len(), 65);
        assert_ne!(key, id_key(&"x".repeat(299_999)));
        // The plain form of a 64-hex id cannot be taken for a hash.
        let hex = "a".repeat(64);
        assert_ne!(id_key(&hex)[1..], id_key(&long)[1..]);
        assert_eq!(id_key(&"y".repeat(200)).len(), 201);
        assert!(id_key(&"y".repeat(201)).starts_with('#'));
        // SHA-256 in lower-case hex, as PostgreSQL's
        // `encode(sha256(...), 'hex')` prints it (the schema migration
        // computes the keys of existing rows that way).
        assert_eq!(
            id_key("abc\0"),
            "#dc1114cd074914bd872cc1f9a23ec910ea2203bc79779ab2e17da25782a624fc"
        );
        assert_eq!(
            id_key(&"abc".repeat(100)),
            "#d9f5aeb06abebb3be3f38adec9a2e3b94228d52193be923eb4e24c9b56ee0930"
        );
        assert_eq!(message_key("shipment", "m"), "shipment:=m");
        assert_ne!(message_key("order", "m"), message_key("shipment", "m"));
    }
}
