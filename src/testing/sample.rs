//! Sample webhook bodies, as Tradecloud sends them.

/// Which webhook a [`Sample`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleKind {
    /// An order webhook body with an `orderEvent` (the portal's Delivery
    /// Schedule Mode "Multiple Deliveries").
    OrderEvent,
    /// An order webhook body with a `singleDeliveryOrderEvent` (Delivery
    /// Schedule Mode "Single Delivery").
    SingleDeliveryOrderEvent,
    /// An order webhook body with an `orderDocumentsEvent`.
    OrderDocumentsEvent,
    /// A shipment webhook body.
    ShipmentEvent,
}

impl SampleKind {
    /// Whether it is delivered to the shipment webhook (else the order webhook).
    pub fn is_shipment(self) -> bool {
        self == SampleKind::ShipmentEvent
    }
}

/// A realistic webhook body, written from Tradecloud's documentation, with
/// the event name of your choice and a fresh `meta.messageId`.
///
/// Every sample is small but complete enough for a handler to exercise the
/// usual work: two lines, a changed and (for shipments) an unchanged one,
/// documents with an `objectId` that the mock's demo data can serve, and a
/// document without a file.
///
/// | sample | lines (changed) | documents (changed, with a file) |
/// |---|---|---|
/// | [`order_event`](Self::order_event) | 2 (2) | 3 (3, 2) |
/// | [`single_delivery_order_event`](Self::single_delivery_order_event) | 2 (2) | 3 (3, 2) |
/// | [`order_documents_event`](Self::order_documents_event) | 1 (1) | 2 (2, 2) |
/// | [`shipment_event`](Self::shipment_event) | 2 (1) | 3 (2, 1) |
///
/// ```
/// use tradecloud::api::order_webhook_connector::types::OrderWebhookBody;
/// use tradecloud::testing::{Sample, SampleKind};
///
/// let sample = Sample::order_event("OrderLinesConfirmedBySupplier");
/// assert_eq!(sample.kind(), SampleKind::OrderEvent);
/// let body: OrderWebhookBody = serde_json::from_str(sample.body())?;
/// assert_eq!(body.event_name.as_str(), "OrderLinesConfirmedBySupplier");
/// assert_eq!(body.order_event.map(|e| e.lines.len()), Some(2));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    kind: SampleKind,
    event_name: String,
    message_id: String,
    body: String,
}

impl Sample {
    /// An order event in delivery-schedule form (`orderEvent`), e.g.
    /// `OrderIssuedByBuyer` for a supplier or `OrderLinesConfirmedBySupplier`
    /// for a buyer.
    pub fn order_event(event_name: &str) -> Sample {
        Sample::new(SampleKind::OrderEvent, event_name, ORDER_EVENT)
    }

    /// An order event in single-delivery form (`singleDeliveryOrderEvent`).
    pub fn single_delivery_order_event(event_name: &str) -> Sample {
        Sample::new(
            SampleKind::SingleDeliveryOrderEvent,
            event_name,
            SINGLE_DELIVERY_ORDER_EVENT,
        )
    }

    /// An order documents event (`orderDocumentsEvent`), e.g.
    /// `OrderDocumentsAttachedByBuyer` or `OrderDocumentsAttachedBySupplier`.
    pub fn order_documents_event(event_name: &str) -> Sample {
        Sample::new(
            SampleKind::OrderDocumentsEvent,
            event_name,
            ORDER_DOCUMENTS_EVENT,
        )
    }

    /// A shipment event, e.g. `ShipmentIssuedBySupplier` for a buyer or
    /// `ShipmentApprovedByBuyer` for a supplier.
    pub fn shipment_event(event_name: &str) -> Sample {
        Sample::new(SampleKind::ShipmentEvent, event_name, SHIPMENT_EVENT)
    }

    /// An order event (`orderEvent`) carrying `order` as fetched with GET
    /// order (its `id` becomes the event's `orderId`), e.g. the order the
    /// mock's buyer just sent, delivered to a supplier as
    /// `OrderIssuedByBuyer`. Tradecloud's order events carry only the lines
    /// the event affects: keep only those in `order.lines` first.
    ///
    /// ```
    /// use tradecloud::api::common::types::Order;
    /// use tradecloud::api::order_webhook_connector::types::OrderWebhookBody;
    /// use tradecloud::testing::Sample;
    ///
    /// let order: Order = serde_json::from_str(r#"{"id": "o-1", "lines": [{"id": "l-1"}]}"#)?;
    /// let sample = Sample::order_event_from("OrderIssuedByBuyer", &order);
    /// let body: OrderWebhookBody = serde_json::from_str(sample.body())?;
    /// let event = body.order_event.expect("an orderEvent");
    /// assert_eq!(event.order_id.as_deref(), Some("o-1"));
    /// assert_eq!(event.lines.len(), 1);
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn order_event_from(event_name: &str, order: &crate::api::common::types::Order) -> Sample {
        let mut event = match serde_json::to_value(order) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        if let Some(id) = event.remove("id") {
            event.insert("orderId".to_owned(), id);
        }
        let message_id = random_uuid();
        let body = serde_json::json!({
            "eventName": event_name,
            "orderEvent": event,
            "meta": {"messageId": message_id},
        });
        Sample {
            kind: SampleKind::OrderEvent,
            event_name: event_name.to_owned(),
            message_id,
            body: body.to_string(),
        }
    }

    fn new(kind: SampleKind, event_name: &str, template: &str) -> Sample {
        let message_id = random_uuid();
        // The event name is a JSON string: escape what JSON requires.
        let escaped = serde_json::to_string(event_name).unwrap_or_else(|_| "\"\"".to_owned());
        let body = template
            .replace("\"{event_name}\"", &escaped)
            .replace("{message_id}", &message_id);
        Sample {
            kind,
            event_name: event_name.to_owned(),
            message_id,
            body,
        }
    }

    /// Which webhook it is for.
    pub fn kind(&self) -> SampleKind {
        self.kind
    }

    /// Its `eventName`.
    pub fn event_name(&self) -> &str {
        &self.event_name
    }

    /// Its `meta.messageId` (a fresh UUID: the receiver treats a second
    /// delivery of the same sample as a redelivery).
    pub fn message_id(&self) -> &str {
        &self.message_id
    }

    /// The JSON body.
    pub fn body(&self) -> &str {
        &self.body
    }
}

/// A random version-4 UUID.
fn random_uuid() -> String {
    let hex = |n: usize| {
        (0..n)
            .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
            .collect::<String>()
    };
    let variant = ['8', '9', 'a', 'b'][fastrand::usize(0..4)];
    format!(
        "{}-{}-4{}-{variant}{}-{}",
        hex(8),
        hex(4),
        hex(3),
        hex(3),
        hex(12)
    )
}

// The bodies are templates in `samples/`, written from Tradecloud's
// documentation: [`Sample::new`] replaces `"{event_name}"` (with the JSON
// string of the event name) and `{message_id}` (with a fresh UUID).

/// `orderEvent`: two lines, confirmed delivery schedule and prices, a buyer
/// order document, a supplier order document and a line document without a
/// file (order/buyer/receive/README.md, order/supplier/receive/README.md).
const ORDER_EVENT: &str = include_str!("../../samples/order-event.json");

/// `singleDeliveryOrderEvent`: the same order with one scheduled delivery
/// per line (order/supplier/receive/single-delivery-order.md).
const SINGLE_DELIVERY_ORDER_EVENT: &str =
    include_str!("../../samples/single-delivery-order-event.json");

/// `orderDocumentsEvent` (members modelled on `orderEvent`): an order
/// document and a line document, both with a file.
const ORDER_DOCUMENTS_EVENT: &str = include_str!("../../samples/order-documents-event.json");

/// A shipment (all lines and documents; shipment/buyer/receive/README.md):
/// one line and one document changed in this event, one line and one
/// document older, and a document without a file.
const SHIPMENT_EVENT: &str = include_str!("../../samples/shipment-event.json");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::types::Shipment;
    use crate::api::order_webhook_connector::types::OrderWebhookBody;
    use crate::api::shipment_webhook_connector::types::ShipmentWebhookBody;
    use crate::changes::ChangeSet;
    use crate::client::DocumentSource;
    use crate::webhook::OrderWebhookEvent;

    fn counts<M: ChangeSet>(m: &M) -> [usize; 5]
    where
        M::Document: Source,
    {
        let with_file = m
            .changed_documents()
            .iter()
            .filter(|d| !matches!(document_source(d.document), DocumentSource::NoFile))
            .count();
        [
            m.all_lines().len(),
            m.changed_lines().len(),
            m.all_documents().len(),
            m.changed_documents().len(),
            with_file,
        ]
    }

    trait Source {
        fn source(&self) -> DocumentSource;
    }
    impl Source for crate::api::common::types::Document {
        fn source(&self) -> DocumentSource {
            self.into()
        }
    }
    impl Source for crate::api::common::types::ShipmentDocument {
        fn source(&self) -> DocumentSource {
            self.into()
        }
    }
    fn document_source<D: Source>(d: &D) -> DocumentSource {
        d.source()
    }

    fn order(sample: &Sample) -> OrderWebhookBody {
        serde_json::from_str(sample.body()).unwrap()
    }

    #[test]
    fn samples_parse_and_match_the_documented_counts() {
        let s = Sample::order_event("OrderIssuedByBuyer");
        let body = order(&s);
        assert_eq!(body.event_name.as_str(), "OrderIssuedByBuyer");
        assert_eq!(
            body.meta.as_ref().and_then(|m| m.message_id.as_deref()),
            Some(s.message_id())
        );
        let Some(OrderWebhookEvent::Order(e)) = body.event() else {
            panic!("orderEvent")
        };
        assert_eq!(counts(e), [2, 2, 3, 3, 2]);

        let body = order(&Sample::single_delivery_order_event("OrderIssuedByBuyer"));
        let Some(OrderWebhookEvent::SingleDelivery(e)) = body.event() else {
            panic!("singleDeliveryOrderEvent")
        };
        assert_eq!(counts(e), [2, 2, 3, 3, 2]);

        let body = order(&Sample::order_documents_event(
            "OrderDocumentsAttachedByBuyer",
        ));
        let Some(OrderWebhookEvent::Documents(e)) = body.event() else {
            panic!("orderDocumentsEvent")
        };
        assert_eq!(counts(e), [1, 1, 2, 2, 2]);

        let body: ShipmentWebhookBody =
            serde_json::from_str(Sample::shipment_event("ShipmentIssuedBySupplier").body())
                .unwrap();
        let shipment: &Shipment = &body.shipment;
        assert_eq!(counts(shipment), [2, 1, 3, 2, 1]);
    }

    #[test]
    fn every_sample_document_is_in_the_demo_data() {
        let demo = crate::mock::MockData::demo();
        for sample in [
            Sample::order_event("x"),
            Sample::single_delivery_order_event("x"),
            Sample::order_documents_event("x"),
            Sample::shipment_event("x"),
        ] {
            for part in sample.body().split("\"objectId\": \"").skip(1) {
                let id = part.split('"').next().unwrap();
                assert!(demo.documents.contains_key(id), "{id}");
            }
        }
    }

    #[test]
    fn event_names_are_escaped_and_message_ids_fresh() {
        let a = Sample::order_event("Odd \"name\"");
        let body = order(&a);
        assert_eq!(body.event_name.as_str(), "Odd \"name\"");
        assert_ne!(a.message_id(), Sample::order_event("x").message_id());
        assert_eq!(a.message_id().len(), 36);
    }
}
