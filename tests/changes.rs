//! `tradecloud::changes`: which lines and documents changed, over the
//! fixtures (hand-counted sets in tests/fixtures/README.md) and hand-written
//! cases.

use std::path::PathBuf;

use tradecloud::api::common::types::{
    Document, Order, OrderDocumentsEvent, OrderEvent, OrderLine, Shipment, ShipmentDocument,
    ShipmentLine, SingleDeliveryOrder, SingleDeliveryOrderEvent, SingleDeliveryOrderLine,
};
use tradecloud::api::order_webhook_connector::types::OrderWebhookBody;
use tradecloud::api::shipment_webhook_connector::types::ShipmentWebhookBody;
use tradecloud::changes::{ChangeSet, DocumentRef, LastUpdated, Place};
use tradecloud::types::DateTime;
use tradecloud::types::Party;
use tradecloud::webhook::{Message, MessageError, OrderWebhookEvent, Webhook};

const LINE_1: &str = "d2b9a8e4-5c1e-4a53-9d0b-6f1f0f6d7a01";
const LINE_2: &str = "d2b9a8e4-5c1e-4a53-9d0b-6f1f0f6d7a02";
const LINE_3: &str = "d2b9a8e4-5c1e-4a53-9d0b-6f1f0f6d7a03";

fn fixture(path: &str) -> String {
    let full: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", path]
        .iter()
        .collect();
    match std::fs::read_to_string(&full) {
        Ok(text) => text,
        Err(e) => panic!("cannot read {}: {e}", full.display()),
    }
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> T {
    match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => panic!("cannot parse {}: {e}\n{text}", std::any::type_name::<T>()),
    }
}

fn dt(text: &str) -> DateTime {
    match text.parse() {
        Ok(value) => value,
        Err(e) => panic!("{text:?} should parse as a date-time: {e}"),
    }
}

fn order_event() -> OrderEvent {
    let body: OrderWebhookBody = parse(&fixture("order-webhook/order-event.json"));
    body.order_event
        .expect("order-event.json has an orderEvent")
}

fn shipment() -> Shipment {
    let body: ShipmentWebhookBody = parse(&fixture("shipment-webhook/shipment-event.json"));
    body.shipment
}

fn whole_order() -> Order {
    parse(&fixture("api/order.json"))
}

trait Named {
    fn named(&self) -> String;
}

impl Named for OrderLine {
    fn named(&self) -> String {
        self.id.clone().unwrap_or_default()
    }
}

impl Named for SingleDeliveryOrderLine {
    fn named(&self) -> String {
        self.id.clone().unwrap_or_default()
    }
}

impl Named for ShipmentLine {
    fn named(&self) -> String {
        let s = self.supplier_line.as_ref().expect("a supplierLine");
        format!(
            "{}/{}",
            s.despatch_advice_number.as_deref().unwrap_or("?"),
            s.despatch_advice_line_position.as_deref().unwrap_or("?")
        )
    }
}

impl Named for DocumentRef<'_, Document> {
    fn named(&self) -> String {
        self.code.clone().unwrap_or_default()
    }
}

impl Named for DocumentRef<'_, ShipmentDocument> {
    fn named(&self) -> String {
        self.code.clone().unwrap_or_default()
    }
}

fn names<T: Named>(items: impl IntoIterator<Item = T>) -> Vec<String> {
    items.into_iter().map(|item| item.named()).collect()
}

fn ref_names<T: Named + ?Sized>(items: Vec<&T>) -> Vec<String> {
    items.into_iter().map(Named::named).collect()
}

// ---------------------------------------------------------------------------
// Fixtures: the hand-counted sets of tests/fixtures/README.md
// ---------------------------------------------------------------------------

#[test]
fn order_event_fixture_every_line_and_document_changed() {
    let event = order_event();
    assert_eq!(ref_names(event.all_lines()), [LINE_1, LINE_2]);
    // Line 2 has a zone-less 2019 timestamp: still changed, it is in the event.
    assert_eq!(ref_names(event.changed_lines()), [LINE_1, LINE_2]);
    assert_eq!(
        names(event.changed_documents()),
        [
            "123456789",
            "SO-CONFIRMATION-1",
            "DRAWING-12345",
            "CERT-0001",
            "SPEC-0002"
        ]
    );
}

#[test]
fn order_event_fixture_documents_know_where_they_sit() {
    let event = order_event();
    let docs = event.all_documents();
    let places: Vec<_> = docs
        .iter()
        .map(|d| (d.code.as_deref(), d.party, d.place))
        .collect();
    assert_eq!(
        places,
        [
            (Some("123456789"), Party::Buyer, Place::Header),
            (Some("SO-CONFIRMATION-1"), Party::Supplier, Place::Header),
            (
                Some("DRAWING-12345"),
                Party::Buyer,
                Place::Line {
                    index: 0,
                    id: Some(LINE_1)
                }
            ),
            (
                Some("CERT-0001"),
                Party::Supplier,
                Place::Line {
                    index: 0,
                    id: Some(LINE_1)
                }
            ),
            (
                Some("SPEC-0002"),
                Party::Buyer,
                Place::Line {
                    index: 1,
                    id: Some(LINE_2)
                }
            ),
        ]
    );
    // The three ways a document's file is available.
    assert!(docs[0].object_id.is_some());
    assert!(docs[1].url.is_some());
    assert!(docs[4].object_id.is_none() && docs[4].url.is_none());
}

#[test]
fn order_event_fixture_since_filters_on_line_timestamps() {
    let event = order_event();
    // Line 2 was last updated 2019-12-31T10:11:12 (zone-less, UTC).
    let since = dt("2020-01-01T00:00:00Z");
    assert_eq!(ref_names(event.lines_changed_after(&since)), [LINE_1]);
    // Header documents follow the event (2025), line documents their line.
    assert_eq!(
        names(event.documents_changed_after(&since)),
        [
            "123456789",
            "SO-CONFIRMATION-1",
            "DRAWING-12345",
            "CERT-0001"
        ]
    );
    // Strictly after: at line 2's own instant, written with an offset, it is out.
    let at_line_2 = dt("2019-12-31T11:11:12+01:00");
    assert_eq!(ref_names(event.lines_changed_after(&at_line_2)), [LINE_1]);
    let just_before = dt("2019-12-31T10:11:11.999Z");
    assert_eq!(
        ref_names(event.lines_changed_after(&just_before)),
        [LINE_1, LINE_2]
    );
}

#[test]
fn shipment_fixture_changed_lines_and_documents() {
    let shipment = shipment();
    assert_eq!(
        shipment.last_updated(),
        Some(&dt("2025-04-23T10:01:53.812Z"))
    );
    // Load-carrier lines first, then the loose lines.
    assert_eq!(
        ref_names(shipment.all_lines()),
        ["DA-0001/1", "DA-0001/2", "DA-0001/3", "DA-0001/4"]
    );
    // 1: equal; 2: older; 3: same instant at +02:00; 4: only lastChangedAt, equal.
    assert_eq!(
        ref_names(shipment.changed_lines()),
        ["DA-0001/1", "DA-0001/3", "DA-0001/4"]
    );
    assert_eq!(
        names(shipment.all_documents()),
        [
            "PACKING-LIST-001",
            "INVOICE-2025-0001",
            "BUYER-INSTRUCTIONS-01",
            "BUYER-NOTE-02"
        ]
    );
    let changed = shipment.changed_documents();
    assert_eq!(names(changed.iter().copied()), ["PACKING-LIST-001"]);
    assert_eq!(
        (changed[0].party, changed[0].place),
        (Party::Supplier, Place::Header)
    );
}

#[test]
fn shipment_fixture_since_is_strict() {
    let shipment = shipment();
    // At the older line's instant (2025-04-22T16:45:10.5Z): only the newer ones.
    let at_older = dt("2025-04-22T18:45:10.500+02:00");
    assert_eq!(
        ref_names(shipment.lines_changed_after(&at_older)),
        ["DA-0001/1", "DA-0001/3", "DA-0001/4"]
    );
    assert_eq!(
        names(shipment.documents_changed_after(&at_older)),
        ["PACKING-LIST-001"]
    );
    // One millisecond earlier: the older line and invoice too.
    let before_older = dt("2025-04-22T16:45:10.499Z");
    assert_eq!(
        ref_names(shipment.lines_changed_after(&before_older)),
        ["DA-0001/1", "DA-0001/2", "DA-0001/3", "DA-0001/4"]
    );
    assert_eq!(
        names(shipment.documents_changed_after(&before_older)),
        ["PACKING-LIST-001", "INVOICE-2025-0001"]
    );
    // The buyer's 2023 document (lastChangedAt, zone-less) counts after 2022;
    // the document without meta never does.
    assert_eq!(
        names(shipment.documents_changed_after(&dt("2022-12-31"))),
        [
            "PACKING-LIST-001",
            "INVOICE-2025-0001",
            "BUYER-INSTRUCTIONS-01"
        ]
    );
    // At the shipment's own instant: nothing is after it.
    let at_shipment = dt("2025-04-23T10:01:53.812");
    assert!(shipment.lines_changed_after(&at_shipment).is_empty());
    assert!(shipment.documents_changed_after(&at_shipment).is_empty());
}

#[test]
fn whole_order_fixture_changed_lines() {
    let order = whole_order();
    assert_eq!(ref_names(order.all_lines()), [LINE_1, LINE_2, LINE_3]);
    assert_eq!(ref_names(order.changed_lines()), [LINE_1]);
    // Order documents have no timestamp: the one on the changed line counts,
    // the header ones (both coded 123456789) and SOW-77 on line 2 do not.
    assert_eq!(
        names(order.all_documents()),
        ["123456789", "123456789", "DRAWING-12345", "SOW-77"]
    );
    assert_eq!(names(order.changed_documents()), ["DRAWING-12345"]);
}

#[test]
fn whole_order_fixture_since_boundaries_are_strict() {
    let order = whole_order();
    // Line timestamps: 1 = 2025-04-23T10:01:53.812Z, 2 = 2025-04-20T08:15:00.000Z,
    // 3 = 2025-03-01T12:00:00+01:00 (11:00Z).
    let cases = [
        ("2025-04-23T10:01:53.812Z", vec![]),
        ("2025-04-23T10:01:53.811Z", vec![LINE_1]),
        ("2025-04-20T08:15:00Z", vec![LINE_1]),
        ("2025-04-20T10:15:00+02:00", vec![LINE_1]),
        ("2025-04-20T08:14:59.999", vec![LINE_1, LINE_2]),
        ("2025-03-01T11:00:00", vec![LINE_1, LINE_2]),
        ("2025-03-01T10:59:59Z", vec![LINE_1, LINE_2, LINE_3]),
        ("2025-03-01", vec![LINE_1, LINE_2, LINE_3]),
    ];
    for (since, expected) in cases {
        let lines = order.lines_changed_after(&dt(since));
        assert_eq!(ref_names(lines), expected, "lines changed after {since}");
    }
    assert_eq!(
        names(order.documents_changed_after(&dt("2025-04-20T08:14:59Z"))),
        ["DRAWING-12345", "SOW-77"]
    );
}

#[test]
fn order_documents_event_fixture() {
    let body: OrderWebhookBody = parse(&fixture("order-webhook/order-documents-event.json"));
    let Some(OrderWebhookEvent::Documents(event)) = body.event() else {
        panic!("expected an orderDocumentsEvent");
    };
    assert_eq!(ref_names(event.changed_lines()), [LINE_1]);
    assert_eq!(
        names(event.changed_documents()),
        ["PACKING-INSTRUCTIONS-7", "CERT-0002", "TEST-REPORT-3"]
    );
    // The lines carry no timestamp: they follow the event's (2025-04-24T08:30:00.100Z).
    assert_eq!(
        ref_names(event.lines_changed_after(&dt("2025-04-24T08:30:00.099Z"))),
        [LINE_1]
    );
    assert!(event
        .lines_changed_after(&dt("2025-04-24T10:30:00.100+02:00"))
        .is_empty());
    assert!(event
        .documents_changed_after(&dt("2025-04-24T08:30:00.100Z"))
        .is_empty());
}

#[test]
fn single_delivery_and_simple_order_events_are_the_same() {
    let single: OrderWebhookBody =
        parse(&fixture("order-webhook/single-delivery-order-event.json"));
    let simple: OrderWebhookBody = parse(&fixture("order-webhook/simple-order-event.json"));
    let (Some(OrderWebhookEvent::SingleDelivery(a)), Some(OrderWebhookEvent::SingleDelivery(b))) =
        (single.event(), simple.event())
    else {
        panic!("expected single-delivery events");
    };
    assert_eq!(a, b);
    let ids = [
        "e3c0b9f5-6d2f-4b64-8e1c-7a2a1a7e8b01",
        "e3c0b9f5-6d2f-4b64-8e1c-7a2a1a7e8b02",
    ];
    assert_eq!(ref_names(a.changed_lines()), ids);
    assert_eq!(ref_names(b.changed_lines()), ids);
    assert_eq!(names(a.changed_documents()), ["123456789"]);
}

#[test]
fn single_delivery_order_from_poll_fixture() {
    let Message::SingleDeliveryOrderPoll(poll) =
        Message::from_json(&fixture("api/single-delivery-order-poll-response.json"))
            .expect("a single-delivery poll response")
    else {
        panic!("expected a single-delivery order poll response");
    };
    let order: &SingleDeliveryOrder = &poll.data[0];
    assert_eq!(order.changed_lines().len(), 2);
    assert!(order
        .lines_changed_after(&dt("2025-04-23T10:01:53.812Z"))
        .is_empty());
}

// ---------------------------------------------------------------------------
// Hand-written cases
// ---------------------------------------------------------------------------

#[test]
fn zone_less_and_zoned_equal_instants_are_equal() {
    let order: Order = parse(
        r#"{
            "id": "o1",
            "lastUpdatedAt": "2025-04-23T10:01:53.812",
            "lines": [
                { "id": "zoned", "lastUpdatedAt": "2025-04-23T12:01:53.812+02:00" },
                { "id": "utc", "lastUpdatedAt": "2025-04-23T10:01:53.812Z" },
                { "id": "compact-offset", "lastUpdatedAt": "2025-04-23T05:01:53.812-0500" },
                { "id": "same-text-other-zone", "lastUpdatedAt": "2025-04-23T10:01:53.812+02:00" },
                { "id": "one-ms-later", "lastUpdatedAt": "2025-04-23T10:01:53.813Z" }
            ]
        }"#,
    );
    assert_eq!(
        ref_names(order.changed_lines()),
        ["zoned", "utc", "compact-offset"]
    );
}

#[test]
fn last_changed_at_is_the_fallback_everywhere() {
    // Order and lines with only the older name.
    let order: Order = parse(
        r#"{
            "id": "o1",
            "lastChangedAt": "2023-01-15T09:00:00Z",
            "lines": [
                { "id": "old-name", "lastChangedAt": "2023-01-15T10:00:00+01:00" },
                { "id": "new-name-wins", "lastUpdatedAt": "2022-01-01T00:00:00Z", "lastChangedAt": "2023-01-15T09:00:00Z" },
                { "id": "no-timestamp" }
            ]
        }"#,
    );
    assert_eq!(order.last_updated(), Some(&dt("2023-01-15T09:00:00Z")));
    assert_eq!(ref_names(order.changed_lines()), ["old-name"]);
    assert_eq!(
        ref_names(order.lines_changed_after(&dt("2021-12-31T23:59:59Z"))),
        ["old-name", "new-name-wins"]
    );

    // A shipment whose own meta has only lastChangedAt.
    let shipment: Shipment = parse(
        r#"{
            "id": "s1",
            "meta": { "lastChangedAt": "2023-01-15T09:00:00" },
            "lines": [
                { "supplierLine": { "despatchAdviceNumber": "DA", "despatchAdviceLinePosition": "1" },
                  "meta": { "lastChangedAt": "2023-01-15T09:00:00Z" } },
                { "supplierLine": { "despatchAdviceNumber": "DA", "despatchAdviceLinePosition": "2" },
                  "meta": { "lastUpdatedAt": "2023-01-15T09:00:00.000+00:00", "lastChangedAt": "2020-01-01T00:00:00Z" } },
                { "supplierLine": { "despatchAdviceNumber": "DA", "despatchAdviceLinePosition": "3" },
                  "meta": { "lastUpdatedAt": "2020-01-01T00:00:00Z", "lastChangedAt": "2023-01-15T09:00:00Z" } }
            ],
            "supplierShipment": { "documents": [
                { "code": "OLD", "meta": { "lastChangedAt": "2023-01-15T10:00:00+01:00" } }
            ] }
        }"#,
    );
    assert_eq!(ref_names(shipment.changed_lines()), ["DA/1", "DA/2"]);
    assert_eq!(names(shipment.changed_documents()), ["OLD"]);
}

#[test]
fn load_carrier_lines_are_included() {
    let shipment: Shipment = parse(
        r#"{
            "meta": { "lastUpdatedAt": "2025-01-01T00:00:00Z" },
            "loadCarriers": [
                { "packageSSCC": "1", "lines": [
                    { "supplierLine": { "despatchAdviceNumber": "A", "despatchAdviceLinePosition": "1" }, "meta": { "lastUpdatedAt": "2025-01-01T00:00:00Z" } },
                    { "supplierLine": { "despatchAdviceNumber": "A", "despatchAdviceLinePosition": "2" }, "meta": { "lastUpdatedAt": "2024-01-01T00:00:00Z" } }
                ] },
                { "containerNumber": "C", "lines": [] },
                { "packageSSCC": "3", "lines": [
                    { "supplierLine": { "despatchAdviceNumber": "A", "despatchAdviceLinePosition": "3" }, "meta": { "lastUpdatedAt": "2025-01-01T01:00:00+01:00" } }
                ] }
            ],
            "lines": [
                { "supplierLine": { "despatchAdviceNumber": "A", "despatchAdviceLinePosition": "4" } }
            ]
        }"#,
    );
    assert_eq!(
        ref_names(shipment.all_lines()),
        ["A/1", "A/2", "A/3", "A/4"]
    );
    assert_eq!(ref_names(shipment.changed_lines()), ["A/1", "A/3"]);
    // A line without meta never counts in a shipment.
    assert_eq!(
        ref_names(shipment.lines_changed_after(&dt("2000-01-01"))),
        ["A/1", "A/2", "A/3"]
    );
}

#[test]
fn whole_order_items_without_timestamps_do_not_count() {
    let order: Order = parse(
        r#"{
            "id": "o1",
            "buyerOrder": { "documents": [{ "code": "HEADER" }] },
            "lines": [
                { "id": "no-timestamp", "buyerLine": { "documents": [{ "code": "ON-NO-TIMESTAMP" }] } }
            ]
        }"#,
    );
    assert!(order.changed_lines().is_empty());
    assert!(order.lines_changed_after(&dt("2000-01-01")).is_empty());
    assert!(order.changed_documents().is_empty());
    assert_eq!(names(order.all_documents()), ["HEADER", "ON-NO-TIMESTAMP"]);
}

#[test]
fn event_items_without_timestamps_count() {
    let event: OrderEvent = parse(
        r#"{
            "orderId": "o1",
            "supplierOrder": { "documents": [{ "code": "HEADER" }] },
            "lines": [
                { "id": "none" },
                { "id": "old", "lastUpdatedAt": "2019-01-01T00:00:00Z", "supplierLine": { "documents": [{ "code": "OLD-DOC" }] } },
                { "id": "new", "lastUpdatedAt": "2025-01-01T00:00:00Z", "supplierLine": { "documents": [{ "code": "NEW-DOC" }] } }
            ]
        }"#,
    );
    assert_eq!(ref_names(event.changed_lines()), ["none", "old", "new"]);
    assert_eq!(
        names(event.changed_documents()),
        ["HEADER", "OLD-DOC", "NEW-DOC"]
    );
    let since = dt("2020-01-01T00:00:00Z");
    assert_eq!(
        ref_names(event.lines_changed_after(&since)),
        ["none", "new"]
    );
    assert_eq!(
        names(event.documents_changed_after(&since)),
        ["HEADER", "NEW-DOC"]
    );
}

#[test]
fn single_delivery_event_api_matches_order_event() {
    let event: SingleDeliveryOrderEvent = parse(
        r#"{ "orderId": "o1", "lastUpdatedAt": "2025-01-01T00:00:00Z",
             "lines": [{ "id": "a", "statusLine": {} }, { "id": "b", "lastUpdatedAt": "2024-01-01T00:00:00Z" }] }"#,
    );
    assert_eq!(ref_names(event.changed_lines()), ["a", "b"]);
    // "a" has no timestamp of its own: it takes the event's.
    assert_eq!(
        ref_names(event.lines_changed_after(&dt("2024-06-01T00:00:00Z"))),
        ["a"]
    );
}

#[test]
fn documents_event_api_works_on_empty_events() {
    let event: OrderDocumentsEvent = parse("{}");
    assert!(event.all_lines().is_empty());
    assert!(event.changed_documents().is_empty());
}

// ---------------------------------------------------------------------------
// Message
// ---------------------------------------------------------------------------

#[test]
fn message_recognises_every_fixture() {
    let cases = [
        (
            "order-webhook/order-event.json",
            "orderEvent",
            Some("OrderLinesConfirmedBySupplier"),
            Some("4fd2a3c0-6b1e-4e8b-9c2a-1d3e5f7a9b0c"),
        ),
        (
            "order-webhook/single-delivery-order-event.json",
            "singleDeliveryOrderEvent",
            Some("OrderIssuedByBuyer"),
            Some("8c1e2d3f-4a5b-4c6d-9e7f-0a1b2c3d4e5f"),
        ),
        (
            "order-webhook/simple-order-event.json",
            "singleDeliveryOrderEvent",
            Some("OrderIssuedByBuyer"),
            Some("8c1e2d3f-4a5b-4c6d-9e7f-0a1b2c3d4e5f"),
        ),
        (
            "order-webhook/order-documents-event.json",
            "orderDocumentsEvent",
            Some("OrderDocumentsAttachedBySupplier"),
            Some("4fd2a3c0-6b1e-4e8b-9c2a-1d3e5f7a9b0c"),
        ),
        (
            "order-webhook/unknown-event.json",
            "orderEvent",
            Some("OrderLinesTeleportedBySupplier"),
            Some("4fd2a3c0-6b1e-4e8b-9c2a-1d3e5f7a9b0c"),
        ),
        (
            "shipment-webhook/shipment-event.json",
            "shipmentEvent",
            Some("ShipmentIssuedBySupplier"),
            Some("9a7b5c3d-1e2f-4a6b-8c0d-2e4f6a8b0c1d"),
        ),
        (
            "api/order.json",
            "order",
            None,
            Some("4fd2a3c0-6b1e-4e8b-9c2a-1d3e5f7a9b0c"),
        ),
        (
            "api/order-poll-response.json",
            "orderPollResponse",
            None,
            None,
        ),
        (
            "api/single-delivery-order-poll-response.json",
            "singleDeliveryOrderPollResponse",
            None,
            None,
        ),
        (
            "api/shipment-poll-response.json",
            "shipmentPollResponse",
            None,
            None,
        ),
    ];
    for (path, kind, event_name, id) in cases {
        let message: Message = match fixture(path).parse() {
            Ok(message) => message,
            Err(e) => panic!("{path}: {e}"),
        };
        assert_eq!(message.kind(), kind, "{path}");
        assert_eq!(message.event_name(), event_name, "{path}");
        assert_eq!(message.id(), id, "{path}");
        assert!(message.last_updated().is_some(), "{path}");
    }
}

#[test]
fn message_bare_shipment_and_single_delivery_order() {
    let body: ShipmentWebhookBody = parse(&fixture("shipment-webhook/shipment-event.json"));
    let text = serde_json::to_string(&body.shipment).expect("serialisable");
    let message = Message::from_json(&text).expect("a shipment");
    assert_eq!(message.kind(), "shipment");
    let Message::Shipment(shipment) = message else {
        panic!("expected a shipment")
    };
    assert_eq!(*shipment, body.shipment);

    let message =
        Message::from_json(r#"{ "id": "o1", "lines": [{ "id": "l1", "statusLine": {} }] }"#)
            .expect("an order");
    assert_eq!(message.kind(), "singleDeliveryOrder");
}

#[test]
fn message_keeps_decimals_exact() {
    let Ok(Message::Webhook(Webhook::Shipment(body))) =
        Message::from_json(&fixture("shipment-webhook/shipment-event.json"))
    else {
        panic!("expected a shipment webhook body");
    };
    let quantity = body.shipment.load_carriers[0].lines[1]
        .supplier_line
        .as_ref()
        .and_then(|s| s.despatch_quantity.as_ref())
        .expect("a despatch quantity");
    assert_eq!(quantity.as_str(), "12345678901234.567890");
}

#[test]
fn message_errors_are_clear() {
    let err = |text: &str| match Message::from_json(text) {
        Ok(message) => panic!("{text:?} should not parse, got {:?}", message.kind()),
        Err(e) => e,
    };

    let e = err("not json");
    assert!(matches!(e, MessageError::NotJson(_)), "{e:?}");
    assert!(e.to_string().starts_with("not valid JSON"), "{e}");

    let e = err("[1, 2]");
    assert!(matches!(e, MessageError::NotAnObject("an array")), "{e:?}");

    let e = err(&fixture("api/document-metadata.json"));
    let MessageError::Unrecognised { keys } = &e else {
        panic!("{e:?}")
    };
    assert!(keys.iter().any(|k| k == "downloadUrl"), "{keys:?}");
    assert!(e.to_string().contains("not a Tradecloud message"), "{e}");
    assert!(e.to_string().contains("downloadUrl"), "{e}");

    let e = err("{}");
    assert!(e.to_string().contains("an empty object"), "{e}");

    let e = err(r#"{ "eventName": "X", "orderEvent": null }"#);
    assert!(matches!(e, MessageError::NoEvent), "{e:?}");

    // Webhook bodies fail as the receiver's decoder fails them.
    let e = err(r#"{ "orderEvent": { "lines": [] } }"#);
    assert!(
        matches!(
            e,
            MessageError::Webhook {
                what: "an order webhook body",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("eventName"), "{e}");
    let e = err(r#"{ "eventName": "OrderIssuedByBuyer", "orderEvent": { "lines": [] } }"#);
    assert!(e.to_string().contains("orderEvent.orderId"), "{e}");

    let e = err(r#"{ "id": "o1", "lines": [{ "lastUpdatedAt": "yesterday" }] }"#);
    assert!(e.to_string().contains("yesterday"), "{e}");

    let e = match Message::from_slice(b"\xff\xfe{}") {
        Ok(_) => panic!("invalid UTF-8 should not parse"),
        Err(e) => e,
    };
    assert!(e.to_string().contains("UTF-8"), "{e}");
}
