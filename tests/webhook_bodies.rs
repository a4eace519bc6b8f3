//! Webhook bodies and API responses from `tests/fixtures/` through the
//! generated types.
//!
//! * Every JSON fixture deserialises into its type.
//! * Re-serialising the typed value gives back JSON equal to the original,
//!   compared as `serde_json::Value` parsed with `arbitrary_precision` (which
//!   this crate enables), so numbers compare by their text: every decimal
//!   digit, every unknown field and every unknown enum value survives.
//! * Specific values: the 20-digit quantity, unknown enum values and event
//!   names, the 2023 `simpleOrderEvent` key, zone-less versus zoned
//!   timestamps.
//! * Hand-written bodies that must parse (forward compatibility) and bodies
//!   that must not (the receiver answers them with a 400).

use std::fmt::Debug;
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use tradecloud::api::common::types::{
    DeliveryLineLogisticsStatus, LineLogisticsStatus, LineProcessStatus, LineType, Order,
    OrderEvent, OrderEventName, OrderLogisticsStatus, ShipmentEventName,
};
use tradecloud::api::object_storage::types::DocumentMetadata;
use tradecloud::api::order_search::types::{OrderPollResponse, SingleDeliveryOrderPollResponse};
use tradecloud::api::order_webhook_connector::types::OrderWebhookBody;
use tradecloud::api::shipment::types::ShipmentPollResponse;
use tradecloud::api::shipment_webhook_connector::types::ShipmentWebhookBody;
use tradecloud::types::{DateTime, Decimal, OpenEnum};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The decimal literal several fixtures carry: 20 significant digits,
/// trailing zero included.
const TWENTY_DIGITS: &str = "12345678901234.567890";

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn fixture_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

fn fixture(relative: &str) -> String {
    let path = fixture_path(relative);
    match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => panic!("cannot read fixture {}: {e}", path.display()),
    }
}

/// Parses a fixture into `T`, failing with the path of the offending field.
fn parse<T: DeserializeOwned>(relative: &str) -> T {
    let text = fixture(relative);
    match serde_json::from_str::<T>(&text) {
        Ok(value) => value,
        Err(e) => panic!(
            "{relative} does not deserialise into {}: {e}",
            std::any::type_name::<T>()
        ),
    }
}

/// Parses JSON text into an untyped `Value`. With `arbitrary_precision` a
/// number keeps its text, so `1.50` and `1.5` are different values here:
/// exactly what a byte-preserving round trip needs.
fn untyped(text: &str) -> Value {
    match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => panic!("not JSON: {e}"),
    }
}

/// Collects every difference between `expected` and `actual`, with its
/// JSON path, so that a failing round trip says *what* was lost.
fn differences(expected: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, e_value) in e {
                let child = format!("{path}.{key}");
                match a.get(key) {
                    Some(a_value) => differences(e_value, a_value, &child, out),
                    None => out.push(format!("{child}: missing after round trip (was {e_value})")),
                }
            }
            for (key, a_value) in a {
                if !e.contains_key(key) {
                    out.push(format!("{path}.{key}: added by round trip ({a_value})"));
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (e_item, a_item)) in e.iter().zip(a).enumerate() {
                differences(e_item, a_item, &format!("{path}[{i}]"), out);
            }
        }
        _ if expected == actual => {}
        _ => out.push(format!("{path}: {expected} became {actual}")),
    }
}

/// Asserts that `typed`, serialised to JSON text, equals `original_text`
/// as a `Value` (numbers compared by text).
///
/// No normalisation is applied. The typed model omits empty optional arrays
/// (`skip_serializing_if = "Vec::is_empty"`), which would turn `"notes": []`
/// into an absent key, but no fixture contains an empty array
/// (`no_fixture_contains_an_empty_array` guards that), so the comparison is
/// strict. `empty_arrays_are_omitted_on_reserialisation` documents the one
/// known lossy spot.
fn assert_round_trip<T: Serialize>(name: &str, original_text: &str, typed: &T) {
    let written = match serde_json::to_string(typed) {
        Ok(text) => text,
        Err(e) => panic!("{name}: cannot serialise the typed value: {e}"),
    };
    let expected = untyped(original_text);
    let actual = untyped(&written);
    let mut diffs = Vec::new();
    differences(&expected, &actual, "$", &mut diffs);
    assert!(
        diffs.is_empty(),
        "{name}: the typed round trip changed the JSON:\n  {}",
        diffs.join("\n  ")
    );
    // `differences` must agree with `Value`'s own equality.
    assert_eq!(expected, actual, "{name}: round trip differs");
}

/// Parses a fixture into `T`, checks the round trip and returns the value.
fn parse_and_round_trip<T: DeserializeOwned + Serialize>(relative: &str) -> T {
    let typed: T = parse(relative);
    assert_round_trip(relative, &fixture(relative), &typed);
    typed
}

fn dt(text: &str) -> DateTime {
    match text.parse() {
        Ok(value) => value,
        Err(e) => panic!("{text:?} should parse as a date-time: {e}"),
    }
}

fn some<'a, T: Debug>(value: &'a Option<T>, what: &str) -> &'a T {
    match value {
        Some(inner) => inner,
        None => panic!("expected {what} to be present"),
    }
}

fn order_event(body: &OrderWebhookBody) -> &OrderEvent {
    some(&body.order_event, "orderEvent")
}

/// Follows a JSON pointer, failing with the pointer when it is absent.
fn at<'a>(value: &'a Value, pointer: &str) -> &'a Value {
    match value.pointer(pointer) {
        Some(found) => found,
        None => panic!("{pointer} is absent in {value}"),
    }
}

// ---------------------------------------------------------------------------
// Every fixture: deserialise and round trip
// ---------------------------------------------------------------------------

const ORDER_WEBHOOK_FIXTURES: &[&str] = &[
    "order-webhook/order-event.json",
    "order-webhook/single-delivery-order-event.json",
    "order-webhook/simple-order-event.json",
    "order-webhook/order-documents-event.json",
    "order-webhook/unknown-event.json",
];

#[test]
fn every_json_fixture_is_covered() -> TestResult {
    // A fixture added later must be added to one of the tests below.
    let covered: Vec<&str> = ORDER_WEBHOOK_FIXTURES
        .iter()
        .copied()
        .chain([
            "shipment-webhook/shipment-event.json",
            "api/order.json",
            "api/order-poll-response.json",
            "api/single-delivery-order-poll-response.json",
            "api/shipment-poll-response.json",
            "api/document-metadata.json",
        ])
        .collect();
    for dir in ["order-webhook", "shipment-webhook", "api"] {
        for entry in std::fs::read_dir(fixture_path(dir))? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let name = format!(
                "{dir}/{}",
                path.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
            );
            assert!(
                covered.contains(&name.as_str()),
                "{name} is not covered by webhook_bodies.rs"
            );
        }
    }
    Ok(())
}

#[test]
fn no_fixture_contains_an_empty_array() {
    // The round-trip comparison applies no normalisation; this keeps it
    // honest (an empty array would be dropped by `skip_serializing_if`).
    fn check(value: &Value, path: &str, name: &str) {
        match value {
            Value::Array(items) => {
                assert!(!items.is_empty(), "{name}: empty array at {path}");
                for (i, item) in items.iter().enumerate() {
                    check(item, &format!("{path}[{i}]"), name);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    check(item, &format!("{path}.{key}"), name);
                }
            }
            _ => {}
        }
    }
    for name in ORDER_WEBHOOK_FIXTURES.iter().copied().chain([
        "shipment-webhook/shipment-event.json",
        "api/order.json",
        "api/order-poll-response.json",
        "api/single-delivery-order-poll-response.json",
        "api/shipment-poll-response.json",
        "api/document-metadata.json",
    ]) {
        check(&untyped(&fixture(name)), "$", name);
    }
}

#[test]
fn round_trip_comparison_catches_lost_digits_and_fields() {
    // The comparison itself must be able to fail: a float-rounded number, a
    // dropped trailing zero, a lost unknown field and a renamed enum value
    // are all reported.
    let original =
        untyped(r#"{"q": 12345678901234.567890, "p": 1.50, "x": {"y": 1}, "s": "OnHold"}"#);
    let damaged = untyped(r#"{"q": 12345678901234.568, "p": 1.5, "x": {}, "s": "onHold"}"#);
    let mut diffs = Vec::new();
    differences(&original, &damaged, "$", &mut diffs);
    assert_eq!(diffs.len(), 4, "{diffs:?}");
    assert_ne!(original, damaged);
}

#[test]
fn order_webhook_fixtures_round_trip() {
    for name in ORDER_WEBHOOK_FIXTURES {
        parse_and_round_trip::<OrderWebhookBody>(name);
    }
}

#[test]
fn shipment_webhook_fixture_round_trips() {
    let body: ShipmentWebhookBody = parse_and_round_trip("shipment-webhook/shipment-event.json");
    assert_eq!(body.event_name, ShipmentEventName::ShipmentIssuedBySupplier);
    assert_eq!(body.shipment.lines.len(), 2);
    assert_eq!(body.shipment.load_carriers.len(), 1);
    assert_eq!(body.shipment.load_carriers[0].lines.len(), 2);
}

#[test]
fn fetched_order_round_trips() {
    let order: Order = parse_and_round_trip("api/order.json");
    assert_eq!(order.lines.len(), 3);
    assert_eq!(order.version, Some(12));
    let types: Vec<_> = order.lines.iter().map(|l| l.line_type.clone()).collect();
    assert_eq!(
        types,
        [
            Some(LineType::Item),
            Some(LineType::Service),
            Some(LineType::Charge)
        ]
    );
    assert_eq!(order.lines[2].charge_reason_code.as_deref(), Some("FC"));
}

#[test]
fn order_poll_response_round_trips() {
    let poll: OrderPollResponse = parse_and_round_trip("api/order-poll-response.json");
    assert_eq!(poll.total, Some(2));
    assert_eq!(poll.data.len(), 2);
    assert_eq!(poll.data[1].version, Some(12));
    // The echo case: the open proposal differs from the current schedule.
    let line = &poll.data[0].lines[0];
    assert_ne!(
        line.delivery_schedule[0].date,
        line.delivery_schedule_including_requests[0].date
    );
}

#[test]
fn single_delivery_order_poll_response_round_trips() {
    let poll: SingleDeliveryOrderPollResponse =
        parse_and_round_trip("api/single-delivery-order-poll-response.json");
    assert_eq!(poll.total, Some(1));
    let split = &poll.data[0].lines[1];
    let buyer_line = some(&split.buyer_line, "buyerLine");
    assert_eq!(buyer_line.original_position.as_deref(), Some("0001"));
    assert_eq!(buyer_line.position, None);
}

#[test]
fn shipment_poll_response_round_trips() {
    let poll: ShipmentPollResponse = parse_and_round_trip("api/shipment-poll-response.json");
    assert_eq!(poll.total, Some(1));
    assert_eq!(poll.data.len(), 1);
}

#[test]
fn document_metadata_round_trips() {
    let meta: DocumentMetadata = parse_and_round_trip("api/document-metadata.json");
    assert_eq!(meta.filename.as_deref(), Some("test.pdf"));
    let url = some(&meta.download_url, "downloadUrl");
    assert!(url.contains("X-Amz-Expires=60"), "{url}");
}

// ---------------------------------------------------------------------------
// order-event.json: specific values
// ---------------------------------------------------------------------------

#[test]
fn twenty_digit_quantity_keeps_every_digit() -> TestResult {
    let text = fixture("order-webhook/order-event.json");
    let body: OrderWebhookBody = serde_json::from_str(&text)?;
    let line = &order_event(&body).lines[0];

    let buyer_schedule = &some(&line.buyer_line, "buyerLine").delivery_schedule;
    let confirmed_schedule = &some(&line.confirmed_line, "confirmedLine").delivery_schedule;
    let quantities = [
        &buyer_schedule[1].quantity,
        &confirmed_schedule[1].quantity,
        &line.delivery_schedule[1].quantity,
        &line.delivery_schedule_including_requests[1].quantity,
    ];
    for quantity in quantities {
        let quantity = some(quantity, "quantity");
        assert_eq!(quantity.as_str(), TWENTY_DIGITS);
        // An f64 cannot hold 20 digits: the value compares exactly.
        let rounded = Decimal::from_f64(quantity.to_f64())?;
        assert_ne!(*quantity, rounded, "{quantity} vs {rounded}");
        assert_eq!(*quantity, "12345678901234.56789".parse::<Decimal>()?);
    }

    // The literal is written back byte for byte, trailing zero included.
    let written = serde_json::to_string(&body)?;
    assert_eq!(written.matches(TWENTY_DIGITS).count(), 4, "{written}");
    assert_eq!(
        text.matches(TWENTY_DIGITS).count(),
        written.matches(TWENTY_DIGITS).count()
    );
    Ok(())
}

#[test]
fn unknown_process_status_is_kept() -> TestResult {
    let body: OrderWebhookBody = parse("order-webhook/order-event.json");
    let status = some(&order_event(&body).lines[1].status, "lines[1].status");
    let process = some(&status.process_status, "processStatus");
    assert_eq!(*process, LineProcessStatus::Unknown("OnHold".to_owned()));
    assert!(process.is_unknown());
    assert_eq!(process.as_str(), "OnHold");
    // Documented neighbours in the same object are still typed.
    assert_eq!(status.logistics_status, Some(LineLogisticsStatus::Open));
    assert!(!some(&status.in_progress_status, "inProgressStatus").is_unknown());

    assert_eq!(serde_json::to_string(process)?, r#""OnHold""#);
    let written = serde_json::to_value(&body)?;
    assert_eq!(
        at(&written, "/orderEvent/lines/1/status/processStatus"),
        &json!("OnHold")
    );
    Ok(())
}

#[test]
fn unknown_fields_are_kept_at_every_level() {
    let body: OrderWebhookBody = parse("order-webhook/order-event.json");
    let event = order_event(&body);
    let line = &event.lines[0];
    let item = some(&some(&line.buyer_line, "buyerLine").item, "item");
    let future = json!({"x": 1});
    for (level, extra) in [
        ("body", &body.extra),
        ("orderEvent", &event.extra),
        ("lines[0]", &line.extra),
        ("lines[0].buyerLine.item", &item.extra),
    ] {
        assert_eq!(extra.get("someFutureField"), Some(&future), "{level}");
        assert_eq!(extra.len(), 1, "{level}: only the unknown field: {extra:?}");
    }
    // Known fields never leak into `extra`.
    assert!(
        event.lines[1].extra.is_empty(),
        "{:?}",
        event.lines[1].extra
    );
}

#[test]
fn older_and_newer_field_names_are_both_typed() {
    let body: OrderWebhookBody = parse("order-webhook/order-event.json");
    let event = order_event(&body);
    let line1 = some(&event.lines[0].supplier_line, "supplierLine");
    let line2 = some(&event.lines[1].supplier_line, "supplierLine");
    assert_eq!(line1.sales_order_position.as_deref(), Some("10"));
    assert_eq!(line2.sales_order_line_position.as_deref(), Some("20"));

    let line = &event.lines[0];
    assert!(line.merged_item_details.is_some());
    let item_details = some(&line.item_details, "itemDetails");
    let nested = some(
        &item_details.merged_item_details,
        "itemDetails.mergedItemDetails",
    );
    assert_eq!(nested.country_of_origin_code_iso2.as_deref(), Some("CN"));
}

#[test]
fn net_price_in_two_currencies_is_exact() -> TestResult {
    let body: OrderWebhookBody = parse("order-webhook/order-event.json");
    let prices = some(&order_event(&body).lines[0].prices, "prices");
    let net = some(&prices.net_price, "netPrice");
    let transaction = some(&net.price_in_transaction_currency, "transaction");
    let base = some(&net.price_in_base_currency, "base");
    assert_eq!(transaction.currency_iso.as_deref(), Some("CNY"));
    assert_eq!(some(&transaction.value, "value").as_str(), "1234.56");
    assert_eq!(base.currency_iso.as_deref(), Some("EUR"));
    assert_eq!(some(&base.value, "value").as_str(), "158.27");
    assert_eq!(
        some(&prices.price_unit_quantity, "priceUnitQuantity"),
        &"100".parse::<Decimal>()?
    );
    Ok(())
}

#[test]
fn zone_less_and_zoned_timestamps_compare_as_instants() {
    let body: OrderWebhookBody = parse("order-webhook/order-event.json");
    let event = order_event(&body);

    // Zone-less `2019-12-31T10:11:12` is UTC: equal to the same instant at +02:00.
    let erp_issued = some(
        &some(&event.buyer_order, "buyerOrder").erp_issue_date_time,
        "erpIssueDateTime",
    );
    assert_eq!(erp_issued.as_str(), "2019-12-31T10:11:12");
    assert!(!erp_issued.is_zoned());
    assert_eq!(*erp_issued, dt("2019-12-31T12:11:12+02:00"));
    assert_eq!(*erp_issued, dt("2019-12-31T10:11:12Z"));
    assert!(*erp_issued < dt("2019-12-31T12:11:12+01:00"));

    // Line 1 (`+02:00`) and the event (`Z`) are the same instant, written differently.
    let event_updated = some(&event.last_updated_at, "orderEvent.lastUpdatedAt");
    let line1_updated = some(&event.lines[0].last_updated_at, "lines[0].lastUpdatedAt");
    assert_eq!(event_updated.as_str(), "2025-04-23T10:01:53.812Z");
    assert_eq!(line1_updated.as_str(), "2025-04-23T12:01:53.812+02:00");
    assert_eq!(event_updated, line1_updated);

    // Line 2 is zone-less and older.
    let line2_updated = some(&event.lines[1].last_updated_at, "lines[1].lastUpdatedAt");
    assert_eq!(line2_updated, erp_issued);
    assert!(line2_updated < event_updated);

    // A short fraction at +02:00 equals three fraction digits in UTC.
    let top = some(
        &some(&body.meta, "meta").created_date_time,
        "meta.createdDateTime",
    );
    let inner = some(
        &some(&event.meta, "orderEvent.meta").created_date_time,
        "orderEvent.meta.createdDateTime",
    );
    assert_eq!(top.as_str(), "2025-04-23T12:01:53.9+02:00");
    assert_eq!(inner.as_str(), "2025-04-23T10:01:53.900Z");
    assert_eq!(top, inner);
}

#[test]
fn shipment_timestamps_compare_as_instants() {
    let body: ShipmentWebhookBody = parse("shipment-webhook/shipment-event.json");
    let shipment = &body.shipment;
    let updated = some(
        &some(&shipment.meta, "shipment.meta").last_updated_at,
        "shipment.meta.lastUpdatedAt",
    );
    let carrier = &shipment.load_carriers[0].lines;
    let line_meta =
        |line: &tradecloud::api::common::types::ShipmentLine| some(&line.meta, "line meta").clone();

    // DA-0001/1: equal text, equal instant.
    assert_eq!(
        line_meta(&carrier[0]).last_updated_at.as_ref(),
        Some(updated)
    );
    // DA-0001/2: older.
    let older = line_meta(&carrier[1]).last_updated_at;
    assert!(some(&older, "DA-0001/2").lt(updated));
    // DA-0001/3: same instant at +02:00, different text.
    let offset = line_meta(&shipment.lines[0]).last_updated_at;
    let offset = some(&offset, "DA-0001/3");
    assert_ne!(offset.as_str(), updated.as_str());
    assert_eq!(offset, updated);
    // DA-0001/4: only the older key `lastChangedAt`.
    let legacy = line_meta(&shipment.lines[1]);
    assert_eq!(legacy.last_updated_at, None);
    assert_eq!(legacy.last_changed_at.as_ref(), Some(updated));

    // A zone-less document timestamp (2023) is older than a zoned one (2025).
    let buyer_docs = &some(&shipment.buyer_shipment, "buyerShipment").documents;
    let doc_meta = some(&buyer_docs[0].meta, "document meta");
    let changed = some(&doc_meta.last_changed_at, "lastChangedAt");
    assert!(!changed.is_zoned());
    assert!(changed < updated);

    // The 20-digit despatch quantity survives too.
    let supplier_line = some(&carrier[1].supplier_line, "supplierLine");
    assert_eq!(
        some(&supplier_line.despatch_quantity, "despatchQuantity").as_str(),
        TWENTY_DIGITS
    );
}

#[test]
fn fetched_order_line_timestamps_compare_as_instants() {
    let order: Order = parse("api/order.json");
    let updated = some(&order.last_updated_at, "lastUpdatedAt");
    let changed: Vec<_> = order
        .lines
        .iter()
        .filter(|line| line.last_updated_at.as_ref() == Some(updated))
        .filter_map(|line| line.id.as_deref())
        .collect();
    assert_eq!(changed, ["d2b9a8e4-5c1e-4a53-9d0b-6f1f0f6d7a01"]);
    // `2025-03-01T12:00:00+01:00` is 11:00 UTC, before `2025-03-01T11:30:00Z`.
    let line3 = some(&order.lines[2].last_updated_at, "lines[2].lastUpdatedAt");
    assert!(*line3 < dt("2025-03-01T11:30:00Z"));
    assert!(*line3 > dt("2025-03-01T10:30:00"));
}

// ---------------------------------------------------------------------------
// Other order webhook fixtures
// ---------------------------------------------------------------------------

#[test]
fn unknown_event_name_is_kept() -> TestResult {
    let body: OrderWebhookBody = parse("order-webhook/unknown-event.json");
    assert_eq!(
        body.event_name,
        OrderEventName::Unknown("OrderLinesTeleportedBySupplier".to_owned())
    );
    assert!(body.event_name.is_unknown());
    assert!(!OrderEventName::DOCUMENTED.contains(&body.event_name.as_str()));

    let event = order_event(&body);
    let line = &event.lines[0];
    let line_status = some(&line.status, "lines[0].status");
    assert_eq!(
        line_status.logistics_status,
        Some(LineLogisticsStatus::Unknown("Teleported".to_owned()))
    );
    assert_eq!(
        some(&event.status, "status").logistics_status,
        Some(OrderLogisticsStatus::Unknown("Teleported".to_owned()))
    );
    let Some(teleportation) = line.extra.get("teleportation") else {
        panic!(
            "the unknown line member teleportation was dropped: {:?}",
            line.extra
        );
    };
    assert_eq!(at(teleportation, "/energy").to_string(), "1.21");

    let written = serde_json::to_value(&body)?;
    assert_eq!(
        at(&written, "/eventName"),
        &json!("OrderLinesTeleportedBySupplier")
    );
    Ok(())
}

#[test]
fn known_event_names_are_not_unknown() {
    let body: OrderWebhookBody = parse("order-webhook/order-event.json");
    assert_eq!(
        body.event_name,
        OrderEventName::OrderLinesConfirmedBySupplier
    );
    assert!(!body.event_name.is_unknown());
}

#[test]
fn simple_order_event_lands_in_its_own_field() {
    let simple: OrderWebhookBody = parse("order-webhook/simple-order-event.json");
    let single: OrderWebhookBody = parse("order-webhook/single-delivery-order-event.json");

    assert!(simple.single_delivery_order_event.is_none());
    assert!(simple.order_event.is_none());
    assert!(!simple.extra.contains_key("simpleOrderEvent"));
    let from_simple = some(&simple.simple_order_event, "simpleOrderEvent");

    assert!(single.simple_order_event.is_none());
    let from_single = some(
        &single.single_delivery_order_event,
        "singleDeliveryOrderEvent",
    );

    // Byte for byte the same event under the older key.
    assert_eq!(from_simple, from_single);
    assert_eq!(from_simple.lines.len(), 2);
    let status_line = some(&from_simple.lines[0].status_line, "statusLine");
    let delivery = some(&status_line.scheduled_delivery, "scheduledDelivery");
    assert_eq!(delivery.status, Some(DeliveryLineLogisticsStatus::Open));
    assert_eq!(some(&delivery.quantity, "quantity").as_str(), "5");
}

#[test]
fn order_documents_event_lands_in_its_own_field() {
    let body: OrderWebhookBody = parse("order-webhook/order-documents-event.json");
    assert_eq!(
        body.event_name,
        OrderEventName::OrderDocumentsAttachedBySupplier
    );
    assert!(body.order_event.is_none());
    let event = some(&body.order_documents_event, "orderDocumentsEvent");
    let supplier_docs = &some(&event.supplier_order, "supplierOrder").documents;
    assert_eq!(
        supplier_docs[0].object_id.as_deref(),
        Some("0b9c8d7e-6f5a-4b3c-2d1e-0f9a8b7c6d5e")
    );
    let line_docs = &some(&event.lines[0].supplier_line, "supplierLine").documents;
    assert!(line_docs[0].url.is_some());
    assert!(line_docs[1].url.is_none() && line_docs[1].object_id.is_none());
}

// ---------------------------------------------------------------------------
// Hand-written bodies
// ---------------------------------------------------------------------------

const THIRTY_DIGITS: &str = "123456789012345678.901234567890";

fn forward_compatible_body() -> String {
    format!(
        r#"{{
  "eventName": "SomethingNew",
  "orderEvent": {{
    "orderId": "7e1f5b2c",
    "buyerOrder": {{"purchaseOrderNumber": "PO1", "newHeaderThing": [1, 2, 3]}},
    "lines": [
      {{
        "id": "l1",
        "buyerLine": {{"position": "0001", "item": {{"number": "A", "colour": "blue"}}}},
        "deliverySchedule": [
          {{"position": "0001", "date": "2026-01-31", "quantity": "7.50", "status": "Beamed"}},
          {{"position": "0002", "date": "2026-02-28", "quantity": {THIRTY_DIGITS}}}
        ],
        "prices": {{"netPrice": {{"priceInTransactionCurrency": {{"value": 0.000000000000000000000000000001, "currencyIso": "EUR"}}}}}},
        "lineFlavour": {{"sweet": true}}
      }}
    ],
    "lastUpdatedAt": "2019-12-31T10:11:12"
  }},
  "tenantRegion": "eu-west-1"
}}"#
    )
}

#[test]
fn forward_compatible_body_parses() -> TestResult {
    let text = forward_compatible_body();
    let body: OrderWebhookBody = serde_json::from_str(&text)?;

    assert_eq!(
        body.event_name,
        OrderEventName::Unknown("SomethingNew".to_owned())
    );
    assert!(body.event_name.is_unknown());
    assert_eq!(body.extra.get("tenantRegion"), Some(&json!("eu-west-1")));

    let event = order_event(&body);
    let buyer_order = some(&event.buyer_order, "buyerOrder");
    assert_eq!(
        buyer_order.extra.get("newHeaderThing"),
        Some(&json!([1, 2, 3]))
    );

    let line = &event.lines[0];
    assert_eq!(line.extra.get("lineFlavour"), Some(&json!({"sweet": true})));
    let item = some(&some(&line.buyer_line, "buyerLine").item, "item");
    assert_eq!(item.extra.get("colour"), Some(&json!("blue")));

    // A quantity sent as a JSON string is read exactly.
    let quoted = some(&line.delivery_schedule[0].quantity, "quantity");
    assert_eq!(quoted.as_str(), "7.50");
    assert_eq!(*quoted, "7.5".parse::<Decimal>()?);
    assert_eq!(
        line.delivery_schedule[0].status,
        Some(DeliveryLineLogisticsStatus::Unknown("Beamed".to_owned()))
    );

    // 30 significant digits survive, and so does a tiny value.
    let long = some(&line.delivery_schedule[1].quantity, "quantity");
    assert_eq!(long.as_str(), THIRTY_DIGITS);
    let price = some(&line.prices, "prices");
    let tiny = some(
        &some(
            &some(&price.net_price, "netPrice").price_in_transaction_currency,
            "priceInTransactionCurrency",
        )
        .value,
        "value",
    );
    assert_eq!(tiny.as_str(), "0.000000000000000000000000000001");
    assert!(tiny.is_positive());

    // Round trip: equal to the input, except that the quoted quantity is
    // written as a JSON number (Decimal always serialises as a number).
    let mut expected = untyped(&text);
    if let Some(quantity) = expected.pointer_mut("/orderEvent/lines/0/deliverySchedule/0/quantity")
    {
        *quantity = Value::Number(serde_json::Number::from_string_unchecked("7.50".to_owned()));
    }
    let written = untyped(&serde_json::to_string(&body)?);
    let mut diffs = Vec::new();
    differences(&expected, &written, "$", &mut diffs);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert_eq!(
        at(&written, "/orderEvent/lines/0/deliverySchedule/1/quantity").to_string(),
        THIRTY_DIGITS
    );
    Ok(())
}

#[test]
fn body_without_event_name_is_rejected() {
    let text = r#"{"orderEvent": {"orderId": "7e1f5b2c", "lines": []}, "meta": {}}"#;
    let err = match serde_json::from_str::<OrderWebhookBody>(text) {
        Ok(body) => panic!("a body without eventName must not parse: {body:?}"),
        Err(e) => e,
    };
    assert!(err.is_data(), "{err}");
    assert!(err.to_string().contains("eventName"), "{err}");
}

#[test]
fn body_with_order_event_as_string_is_rejected() {
    let text = r#"{"eventName": "OrderIssuedByBuyer", "orderEvent": "not an object"}"#;
    let err = match serde_json::from_str::<OrderWebhookBody>(text) {
        Ok(body) => panic!("orderEvent as a string must not parse: {body:?}"),
        Err(e) => e,
    };
    assert!(err.is_data(), "{err}");
}

#[test]
fn body_with_event_name_as_number_is_rejected() {
    let text = r#"{"eventName": 42, "orderEvent": {}}"#;
    let err = match serde_json::from_str::<OrderWebhookBody>(text) {
        Ok(body) => panic!("a numeric eventName must not parse: {body:?}"),
        Err(e) => e,
    };
    assert!(err.is_data(), "{err}");
}

#[test]
fn body_with_a_bad_decimal_is_rejected() {
    let text = r#"{"eventName": "OrderIssuedByBuyer",
        "orderEvent": {"lines": [{"deliverySchedule": [{"quantity": "12,5"}]}]}}"#;
    let err = match serde_json::from_str::<OrderWebhookBody>(text) {
        Ok(body) => panic!("quantity \"12,5\" must not parse: {body:?}"),
        Err(e) => e,
    };
    assert!(err.is_data(), "{err}");
    assert!(err.to_string().contains("12,5"), "{err}");
}

#[test]
fn truncated_bodies_are_rejected() {
    let text = fixture("order-webhook/order-event.json");
    // Cut at several points, including inside the 20-digit literal.
    let cut_in_literal = text.find(TWENTY_DIGITS).map_or(1, |i| i + 10);
    for cut in [1, text.len() / 3, cut_in_literal, text.len() - 2] {
        let truncated = &text.as_bytes()[..cut];
        match serde_json::from_slice::<OrderWebhookBody>(truncated) {
            Ok(_) => panic!("body truncated at byte {cut} of {} parsed", text.len()),
            Err(e) => assert!(e.is_eof() || e.is_syntax(), "cut {cut}: {e}"),
        }
    }
}

#[test]
fn empty_arrays_are_omitted_on_reserialisation() -> TestResult {
    // Documents the one known difference between input and output: the typed
    // model writes an empty optional array as an absent key. The round-trip
    // tests above would have to normalise this away if a fixture had one.
    let text =
        r#"{"eventName": "OrderIssuedByBuyer", "orderEvent": {"lines": [], "orderId": "x"}}"#;
    let body: OrderWebhookBody = serde_json::from_str(text)?;
    let written = serde_json::to_value(&body)?;
    assert_eq!(
        written,
        json!({"eventName": "OrderIssuedByBuyer", "orderEvent": {"orderId": "x"}})
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Decoding: unknown fields everywhere, errors with paths, defaults
// ---------------------------------------------------------------------------

/// How a decoder saw an input: the JSON text of the typed value written
/// back, or the error with the path `serde_path_to_error` gives it (what the
/// receiver's 400 problem description shows).
fn decoded<T: DeserializeOwned + Serialize>(text: &str) -> Result<String, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(value) => serde_json::to_string(&value).map_err(|e| format!("cannot serialise: {e}")),
        Err(e) => Err(format!("at `{}`: {}", e.path(), e.inner())),
    }
}

/// Decodes `text` as `T`; when that works, also from a `serde_json::Value`
/// (owned keys, another code path in serde) and asserts that both agree.
/// Returns the outcome.
fn decoding<T: DeserializeOwned + Serialize>(name: &str, text: &str) -> Result<String, String> {
    let from_text = decoded::<T>(text);
    if let (Ok(_), Ok(value)) = (&from_text, serde_json::from_str::<Value>(text)) {
        let from_value = match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(v) => serde_json::to_string(&v).map_err(|e| format!("cannot serialise: {e}")),
            Err(e) => Err(format!("at `{}`: {}", e.path(), e.inner())),
        };
        assert_eq!(
            from_value, from_text,
            "{name}: from a Value and from text differ"
        );
    }
    from_text
}

#[test]
fn every_fixture_keeps_unknown_fields_added_to_every_object() {
    use tradecloud::api::common::types::SingleDeliveryOrder;

    type Check = fn(&str, &str) -> Result<String, String>;
    let mut checks: Vec<(&str, Check)> = ORDER_WEBHOOK_FIXTURES
        .iter()
        .map(|&name| (name, decoding::<OrderWebhookBody> as Check))
        .collect();
    checks.extend([
        (
            "shipment-webhook/shipment-event.json",
            decoding::<ShipmentWebhookBody> as Check,
        ),
        ("api/order.json", decoding::<Order>),
        (
            "api/order-poll-response.json",
            decoding::<OrderPollResponse>,
        ),
        (
            "api/single-delivery-order-poll-response.json",
            decoding::<SingleDeliveryOrderPollResponse>,
        ),
        (
            "api/shipment-poll-response.json",
            decoding::<ShipmentPollResponse>,
        ),
        ("api/document-metadata.json", decoding::<DocumentMetadata>),
        ("mock/orders/orders.json", decoding::<Vec<Order>>),
        (
            "mock/orders/poll-response.json",
            decoding::<OrderPollResponse>,
        ),
        (
            "mock/shipments/webhook-body.json",
            decoding::<ShipmentWebhookBody>,
        ),
        (
            "mock/single-delivery-orders/order.json",
            decoding::<SingleDeliveryOrder>,
        ),
    ]);
    for (name, check) in checks {
        let text = fixture(name);
        if let Err(e) = check(name, &text) {
            panic!("{name} does not decode: {e}");
        }
        // What Tradecloud adding fields looks like: one in every object.
        let mut value = untyped(&text);
        add_unknown_fields(&mut value, 0);
        let widened = value.to_string();
        match check(name, &widened) {
            Ok(written) => assert_eq!(untyped(&written), value, "{name}: unknown fields lost"),
            Err(e) => panic!("{name} with unknown fields does not decode: {e}"),
        }
    }
}

/// Adds `"x-unknown-<depth>"` (an object with a number of 30 digits, an array
/// and a nested object) to every object in `value`.
fn add_unknown_fields(value: &mut Value, depth: usize) {
    match value {
        Value::Object(map) => {
            for child in map.values_mut() {
                add_unknown_fields(child, depth + 1);
            }
            map.insert(
                format!("x-unknown-{depth}"),
                json!({
                    "n": Value::Number(serde_json::Number::from_string_unchecked(THIRTY_DIGITS.to_owned())),
                    "list": [1, "two", {"three": [null, true]}],
                    "nested": {"deeper": {"deepest": "x"}}
                }),
            );
        }
        Value::Array(items) => {
            for item in items {
                add_unknown_fields(item, depth + 1);
            }
        }
        _ => {}
    }
}

#[test]
fn unknown_fields_at_every_nesting_level_survive_parse_and_serialise() -> TestResult {
    // Unknown keys next to known ones at the body, the event, a line, a
    // line's buyer line, its item, a delivery schedule entry and a price;
    // among them the Rust names of known fields (`event_name`, `order_id`),
    // which are *not* their wire names, and a key with an escape.
    let text = r#"{
        "event_name": "not the eventName field",
        "eventName": "OrderIssuedByBuyer",
        "orderEvent": {
            "order_id": 1,
            "orderId": "o1",
            "lines": [{
                "id": "l1",
                "buyerLine": {
                    "position": "0001",
                    "item": {"number": "A", "colour": {"rgb": [1, 2, 3]}},
                    "note\u0073Extra": "escaped key"
                },
                "deliverySchedule": [{"position": "1", "quantity": 1.50, "pallet": {"height": 1.200}}],
                "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 2.0, "currencyIso": "EUR", "rate": 0.10}}},
                "lineFlavour": null
            }],
            "eventVersion": 2
        },
        "tenant": {"region": "eu-west-1", "shards": [{"id": 1}, {"id": 2}]}
    }"#;
    let body: OrderWebhookBody = serde_json::from_str(text)?;
    assert_eq!(body.extra.len(), 2, "{:?}", body.extra);
    assert_eq!(
        body.extra.get("event_name"),
        Some(&json!("not the eventName field"))
    );
    assert_eq!(body.event_name, OrderEventName::OrderIssuedByBuyer);
    let event = order_event(&body);
    assert_eq!(event.order_id.as_deref(), Some("o1"));
    assert_eq!(event.extra.get("order_id"), Some(&json!(1)));
    let line = &event.lines[0];
    assert_eq!(line.extra.get("lineFlavour"), Some(&Value::Null));
    let buyer_line = some(&line.buyer_line, "buyerLine");
    assert_eq!(
        buyer_line.extra.get("notesExtra"),
        Some(&json!("escaped key"))
    );
    let item = some(&buyer_line.item, "item");
    assert_eq!(item.extra.get("colour"), Some(&json!({"rgb": [1, 2, 3]})));
    let delivery = &line.delivery_schedule[0];
    assert_eq!(
        at(&Value::Object(delivery.extra.clone()), "/pallet/height").to_string(),
        "1.200"
    );
    // Written back, the body is the input: every unknown field, every digit.
    assert_round_trip("nested unknown fields", text, &body);
    decoding::<OrderWebhookBody>("nested unknown fields", text)?;
    Ok(())
}

#[test]
fn duplicate_and_missing_fields_are_errors_with_paths() {
    let error = |name: &str, text: &str| match decoding::<OrderWebhookBody>(name, text) {
        Ok(written) => panic!("{name} must not decode, gave {written}"),
        Err(e) => e,
    };
    let cases = [
        (
            "duplicate eventName",
            r#"{"eventName": "OrderIssuedByBuyer", "eventName": "OrderIssuedByBuyer"}"#,
            "duplicate field `eventName`",
            "at `.`",
        ),
        (
            "duplicate nested field",
            r#"{"eventName": "X", "orderEvent": {"lines": [{"id": "a"}, {"id": "b", "id": "c"}]}}"#,
            "duplicate field `id`",
            "at `orderEvent.lines[1]`",
        ),
        (
            "duplicate via an escaped key",
            r#"{"eventName": "X", "event\u004eame": "Y"}"#,
            "duplicate field `eventName`",
            "at `.`",
        ),
        (
            "missing eventName",
            r#"{"orderEvent": {"orderId": "o"}}"#,
            "missing field `eventName`",
            "at `.`",
        ),
        (
            "bad decimal deep down",
            r#"{"eventName": "X", "orderEvent": {"lines": [{"deliverySchedule": [{"quantity": "12,5"}]}]}}"#,
            "12,5",
            "at `orderEvent.lines[0].deliverySchedule[0].quantity`",
        ),
        (
            "object expected",
            r#"{"eventName": "X", "orderEvent": "not an object"}"#,
            "expected struct OrderEvent",
            "at `orderEvent`",
        ),
        (
            "array instead of a body",
            r#"[1, 2]"#,
            "expected struct OrderWebhookBody",
            "at `.`",
        ),
        (
            "null lines",
            r#"{"eventName": "X", "orderEvent": {"lines": null}}"#,
            "invalid type: null",
            "at `orderEvent.lines`",
        ),
    ];
    for (name, text, message, path) in cases {
        let e = error(name, text);
        assert!(e.contains(message), "{name}: {e}");
        assert!(e.starts_with(path), "{name}: {e}");
    }
    // A required nested object (`shipment`) and its required fields.
    for (text, message) in [
        (
            r#"{"eventName": "ShipmentIssuedBySupplier"}"#,
            "missing field `shipment`",
        ),
        (r#"{"shipment": {}}"#, "missing field `eventName`"),
    ] {
        match decoding::<ShipmentWebhookBody>(text, text) {
            Ok(written) => panic!("{text} must not decode, gave {written}"),
            Err(e) => assert!(e.contains(message), "{text}: {e}"),
        }
    }
    // Repeated unknown keys: the last one wins.
    match decoding::<OrderWebhookBody>("repeated unknown", r#"{"eventName": "X", "x": 1, "x": 2}"#)
    {
        Ok(written) => assert_eq!(untyped(&written), json!({"eventName": "X", "x": 2})),
        Err(e) => panic!("repeated unknown keys must decode: {e}"),
    }
}

#[test]
fn defaults_apply_when_fields_are_absent() -> TestResult {
    // `limit` has `default = 100` in the spec; optional fields are `None`,
    // optional arrays empty.
    use tradecloud::api::order_search::types::OrderPollRequest;
    let text = r#"{"filters": {}}"#;
    let request: OrderPollRequest = serde_json::from_str(text)?;
    assert_eq!(request.limit.get(), 100);
    assert_eq!(request.offset, None);
    decoding::<OrderPollRequest>("poll request", text)?;
    decoding::<OrderPollRequest>("poll request with limit 0", r#"{"limit": 0}"#)
        .err()
        .ok_or("limit 0 must not decode")?;
    Ok(())
}

#[cfg(feature = "server")]
#[test]
fn the_receivers_decoder_names_the_field_of_an_invalid_body() {
    // `decode_body` decodes without path tracking and, only for a body that
    // fails, again with it: the 400 problem description still names the field.
    use tradecloud::server::{decode_body, RawRequest, RejectionKind};
    let raw = |body: &str| RawRequest {
        method: http::Method::POST,
        uri: http::Uri::from_static("/tradecloud/order"),
        headers: http::HeaderMap::new(),
        body: bytes::Bytes::from(body.to_owned()),
    };
    let decode =
        |body: &str| decode_body::<OrderWebhookBody>(&raw(body), &["application/json"], true, None);
    let bad_decimal = r#"{"eventName": "X", "orderEvent": {"lines": [{"deliverySchedule": [{"quantity": "12,5"}]}]}}"#;
    match decode(bad_decimal) {
        Err(RejectionKind::InvalidBody(detail)) => assert!(
            detail.starts_with("at `orderEvent.lines[0].deliverySchedule[0].quantity`: ")
                && detail.contains("12,5"),
            "{detail}"
        ),
        other => panic!("a bad decimal must be an invalid body: {other:?}"),
    }
    match decode(r#"{"orderEvent": {}}"#) {
        Err(RejectionKind::InvalidBody(detail)) => {
            assert!(detail.contains("missing field `eventName`"), "{detail}")
        }
        other => panic!("a body without eventName must be invalid: {other:?}"),
    }
    match decode(r#"{"eventName": "OrderIssuedByBuyer"} {}"#) {
        Err(RejectionKind::InvalidBody(detail)) => {
            assert!(detail.contains("trailing characters"), "{detail}")
        }
        other => panic!("trailing characters must be invalid: {other:?}"),
    }
    let text = fixture("order-webhook/order-event.json");
    match decode(&text) {
        Ok(Some(body)) => assert_round_trip("decode_body", &text, &body),
        other => panic!("the fixture must decode: {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Building bodies: `Default` and builders
// ---------------------------------------------------------------------------

#[test]
fn request_bodies_are_built_without_an_extra_literal() -> TestResult {
    use tradecloud::api::common::types::OrderProcessStatus;
    use tradecloud::api::order_search::types::{
        OrderPollFilters, OrderPollRequest, OrderPollStatusFilter,
    };

    // `Default`: absent fields, the spec's `limit` default.
    assert_eq!(
        serde_json::to_value(OrderPollRequest::default())?,
        json!({"limit": 100})
    );
    // A struct literal needs no `extra` either.
    let literal = OrderPollFilters {
        last_updated_after: Some(dt("2025-04-23T10:01:53.812Z")),
        ..Default::default()
    };
    // Builders: optional fields set by value, lists from anything iterable,
    // nested builders accepted where their type is, unknown fields by name.
    let request = OrderPollRequest::builder()
        .filters(
            OrderPollFilters::builder()
                .last_updated_after(dt("2025-04-23T10:01:53.812Z"))
                .status(
                    OrderPollStatusFilter::builder()
                        .process_status([OrderProcessStatus::Confirmed, "OnHold".into()]),
                ),
        )
        .offset(200u64)
        .extra("addedLater", json!({"x": 1}))
        .build();
    assert_eq!(
        serde_json::to_value(&request)?,
        json!({
            "filters": {
                "lastUpdatedAfter": "2025-04-23T10:01:53.812Z",
                "status": {"processStatus": ["Confirmed", "OnHold"]}
            },
            "limit": 100,
            "offset": 200,
            "addedLater": {"x": 1}
        })
    );
    assert_eq!(
        request
            .filters
            .as_ref()
            .and_then(|f| f.last_updated_after.as_ref()),
        literal.last_updated_after.as_ref()
    );
    // A value goes back into a builder and comes out unchanged.
    let again: OrderPollRequest =
        tradecloud::api::order_search::types::builder::OrderPollRequestBuilder::from(
            request.clone(),
        )
        .into();
    assert_eq!(again, request);
    Ok(())
}

#[test]
fn defaults_make_nothing_required_on_the_wire() -> TestResult {
    use tradecloud::api::order_search::types::OrderPollRequest;
    use tradecloud::api::shipment::types::ShipmentPollRequest;

    // Every struct has a `Default`; what it writes still parses, and an
    // empty object parses as before (only the spec's `required` fields are).
    let body = OrderWebhookBody {
        event_name: OrderEventName::OrderIssuedByBuyer,
        ..Default::default()
    };
    let text = serde_json::to_string(&body)?;
    assert_eq!(text, r#"{"eventName":"OrderIssuedByBuyer"}"#);
    assert_eq!(serde_json::from_str::<OrderWebhookBody>(&text)?, body);
    // A required open enum starts as the empty value until set.
    assert_eq!(
        OrderWebhookBody::default().event_name,
        OrderEventName::Unknown(String::new())
    );
    for text in ["{}", r#"{"filters": {}}"#, r#"{"filters": {"status": {}}}"#] {
        serde_json::from_str::<OrderPollRequest>(text)?;
        serde_json::from_str::<ShipmentPollRequest>(text)?;
    }
    serde_json::from_str::<Order>("{}")?;
    serde_json::from_str::<OrderEvent>("{}")?;
    Ok(())
}
