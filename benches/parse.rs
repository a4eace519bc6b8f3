//! Parsing the largest order webhook body Tradecloud allows.
//!
//! `api/rules.md` limits an order to 500 lines. The body built here is an
//! `OrderLinesIssuedByBuyer` webhook with an `orderEvent` of 500 fully
//! populated lines (buyer line with item, prices, 3 delivery schedule lines,
//! 2 documents, properties and notes; supplier line; confirmed line;
//! delivery schedule; prices with a net price in 2 currencies; documents;
//! statuses; `lastUpdatedAt`), serialised once to bytes in memory.
//!
//! Three measurements, all reported as bytes of that body per second:
//!
//! * `typed`: `serde_json::from_slice::<OrderWebhookBody>`, what a receiver
//!   does for every event (serde's derive, unknown fields kept in a
//!   `#[serde(flatten)] extra` map);
//! * `typed_unknown_fields`: the same body with one field the types do not
//!   know added to every object (what Tradecloud adding fields looks like),
//!   which `extra` keeps;
//! * `untyped`: `serde_json::from_slice::<serde_json::Value>`, the baseline
//!   cost of reading the JSON at all;
//! * `typed_serialise`: `serde_json::to_vec` of the typed body.
//!
//! `order_event_fixture`: the 14 KB order event of the load test, decoded
//! as the receiver does (`typed`), and through `serde_path_to_error`
//! (`typed_path_to_error`, what the receiver does only for a body that
//! failed, to name the field in its 400).
//!
//! Run with `cargo bench --bench parse`; it takes about a minute on 2 cores.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Number, Value};
use tradecloud::api::order_webhook_connector::types::OrderWebhookBody;

/// Order lines in the body: the maximum per order (api/rules.md).
const LINES: usize = 500;

/// A JSON number carrying exactly this decimal text (as Tradecloud sends it,
/// e.g. with trailing zeros), without going through a float.
fn decimal(text: &str) -> Value {
    Value::Number(Number::from_string_unchecked(text.to_owned()))
}

fn monetary(value: &str, currency: &str) -> Value {
    json!({"value": decimal(value), "currencyIso": currency})
}

fn prices(transaction: &str, base: &str) -> Value {
    json!({
        "netPrice": {
            "priceInTransactionCurrency": monetary(transaction, "CNY"),
            "priceInBaseCurrency": monetary(base, "EUR")
        },
        "priceUnitOfMeasureIso": "PCE",
        "priceUnitQuantity": decimal("100")
    })
}

fn schedule(line: usize, with_status: bool) -> Value {
    let lines: Vec<Value> = (1..=3)
        .map(|n| {
            let mut delivery = json!({
                "position": format!("{n:04}"),
                "date": format!("2026-{:02}-{:02}", n + 1, 1 + line % 28),
                "quantity": decimal(&format!("{}.{:03}", 10 * n + line % 90, (line * 37) % 1000)),
            });
            if with_status {
                if let Some(object) = delivery.as_object_mut() {
                    object.insert("status".into(), json!("Open"));
                    object.insert("etd".into(), json!(format!("2026-{:02}-01", n)));
                    object.insert("eta".into(), json!(format!("2026-{:02}-25", n)));
                    object.insert("transportMode".into(), json!("1"));
                }
            }
            delivery
        })
        .collect();
    Value::Array(lines)
}

fn order_line(index: usize) -> Value {
    let position = format!("{:04}", index + 1);
    let price_cny = format!("{}.{:02}", 100 + index * 3, index % 100);
    let price_eur = format!("{}.{:02}", 13 + index / 2, (index * 7) % 100);
    json!({
        "id": format!("d2b9a8e4-5c1e-4a53-9d0b-{:012x}", 0x6f1f_0f6d_0000_u64 + index as u64),
        "lineType": "Item",
        "buyerLine": {
            "position": position,
            "row": format!("{}", index + 1),
            "description": "Any buyer text about this line, long enough to be realistic",
            "item": {
                "number": format!("ITEM-{:06}", 100_000 + index),
                "revision": "v2",
                "name": "Round tube 60x45, stainless steel 316L, brushed",
                "purchaseUnitOfMeasureIso": "PCE",
                "supplierItemNumber": format!("SUP-{:06}", 500_000 + index)
            },
            "deliverySchedule": schedule(index, false),
            "prices": prices(&price_cny, &price_eur),
            "terms": {"contractNumber": "CN-2025-001", "contractPosition": position},
            "projectNumber": "PROJ12345",
            "indicators": {"noDeliveryExpected": false},
            "properties": [
                {"key": "color", "value": "red"},
                {"key": "remarks", "value": "first line\nsecond line"}
            ],
            "notes": ["Deliver to dock 12", "Call before delivery"],
            "labels": ["express"],
            "documents": [
                {
                    "code": format!("DRAWING-{:05}", index),
                    "revision": "C",
                    "name": format!("drawing-{:05}.pdf", index),
                    "description": "Technical drawing",
                    "type": "Drawing",
                    "objectId": format!("05d251f0-0166-4e1e-8110-{:012x}", index)
                },
                {
                    "code": format!("SPEC-{:05}", index),
                    "revision": "1",
                    "name": "Material specification",
                    "type": "General",
                    "url": format!("https://buyer.example.com/content/spec-{index:05}.pdf")
                }
            ]
        },
        "supplierLine": {
            "salesOrderNumber": "SO-2025-0042",
            "salesOrderPosition": format!("{}", (index + 1) * 10),
            "description": "Anything about this line",
            "properties": [{"key": "plant", "value": "SH-2"}],
            "notes": ["produced in plant 2"],
            "indicators": {"accepted": true, "rejected": false}
        },
        "confirmedLine": {
            "deliverySchedule": schedule(index, false),
            "prices": prices(&price_cny, &price_eur)
        },
        "deliverySchedule": schedule(index, true),
        "deliveryScheduleIncludingRequests": schedule(index, true),
        "prices": prices(&price_cny, &price_eur),
        "pricesIncludingRequests": prices(&price_cny, &price_eur),
        "indicators": {"deliveryOverdue": false},
        "status": {"processStatus": "Issued", "logisticsStatus": "Open"},
        "eventDates": {},
        "lastUpdatedAt": "2025-04-23T10:01:53.812Z"
    })
}

fn party(name: &str, city: &str, country: &str) -> Value {
    json!({
        "id": "8712345678906",
        "idScheme": "GLN",
        "names": [name],
        "addressLines": ["Street 123", "Area 52"],
        "postalCode": "1234 AB",
        "city": city,
        "countryCodeIso2": country
    })
}

fn meta() -> Value {
    json!({
        "messageId": "5b0c2f0e-8f4a-4d5e-9c3b-2a1d0e9f8c7b",
        "source": {
            "traceId": "0c5b3f1e-0a55-4a61-9a0f-6a6b4f3c2d10",
            "userId": "7f3c1d2e-9b8a-4c6d-8e5f-1a2b3c4d5e6f",
            "companyId": "3fa85f64-5717-4562-b3fc-2c963f66afa6"
        },
        "createdDateTime": "2025-04-23T10:01:53.900Z"
    })
}

/// The largest order webhook body, as JSON bytes.
fn largest_body() -> Vec<u8> {
    let lines: Vec<Value> = (0..LINES).map(order_line).collect();
    let body = json!({
        "eventName": "OrderLinesIssuedByBuyer",
        "orderEvent": {
            "orderId": "4fd2a3c0-6b1e-4e8b-9c2a-1d3e5f7a9b0c",
            "buyerOrder": {
                "companyId": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
                "buyerParty": party("My Company B.V.", "Rotterdam", "NL"),
                "supplierAccountNumber": "SUPPLIER12345",
                "supplierParty": party("Supplier Co. Ltd.", "Shanghai", "CN"),
                "purchaseOrderNumber": "PO123456789",
                "destination": {"code": "001", "names": ["My Company Warehouse", "Dock 12"], "countryCodeIso2": "NL"},
                "contact": {"email": "buyer.contact@mycompany.com"},
                "terms": {"incotermsCode": "CIF", "incoterms": "ECT Rotterdam", "paymentTermsCode": "30D", "paymentTerms": "30 days"},
                "indicators": {"autoConfirm": false},
                "properties": [{"key": "color", "value": "red"}],
                "notes": ["one order note"],
                "documents": [{
                    "code": "123456789",
                    "revision": "B",
                    "name": "Tradecloud API Manual",
                    "objectId": "67aa8ece-5d41-496f-a94c-483e360b833b",
                    "type": "General"
                }],
                "orderType": "Purchase",
                "erpIssueDateTime": "2025-04-23T09:00:00",
                "erpIssuedBy": {"email": "purchaser@mycompany.com"}
            },
            "supplierOrder": {
                "companyId": "1f61e695-7545-5670-9384-58e8b1f263e6",
                "buyerAccountNumber": "340760"
            },
            "lines": lines,
            "indicators": {"deliveryOverdue": false},
            "status": {"processStatus": "Issued", "logisticsStatus": "Open"},
            "version": 1,
            "meta": meta(),
            "lastUpdatedAt": "2025-04-23T10:01:53.812Z"
        },
        "meta": meta()
    });
    serde_json::to_vec(&body).expect("a Value always serialises")
}

/// `body` with a field unknown to the types (`"addedLater": "..."`) in
/// every object.
fn with_unknown_fields(body: &[u8]) -> Vec<u8> {
    fn add(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.values_mut().for_each(add);
                map.insert("addedLater".into(), json!("a field the spec does not have"));
            }
            Value::Array(items) => items.iter_mut().for_each(add),
            _ => {}
        }
    }
    let mut value: Value = serde_json::from_slice(body).expect("JSON");
    add(&mut value);
    serde_json::to_vec(&value).expect("a Value always serialises")
}

fn bench_parse(c: &mut Criterion) {
    let body = largest_body();
    let widened = with_unknown_fields(&body);

    // Check once that the benchmark measures what it claims: the body is a
    // valid OrderWebhookBody of 500 lines, and the typed round trip is
    // lossless.
    let typed: OrderWebhookBody = serde_json::from_slice(&body).expect("the body is valid");
    assert_eq!(
        typed.order_event.as_ref().map(|e| e.lines.len()),
        Some(LINES)
    );
    let written = serde_json::to_vec(&typed).expect("the typed body serialises");
    let original: Value = serde_json::from_slice(&body).expect("JSON");
    let again: Value = serde_json::from_slice(&written).expect("JSON");
    assert_eq!(original, again, "typed round trip changed the body");

    println!(
        "order webhook body: {LINES} lines, {} bytes ({:.2} MiB)",
        body.len(),
        body.len() as f64 / (1024.0 * 1024.0)
    );

    let mut group = c.benchmark_group("order_webhook_500_lines");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));

    group.bench_function("typed", |b| {
        b.iter(|| {
            serde_json::from_slice::<OrderWebhookBody>(black_box(&body)).expect("valid body")
        });
    });
    group.finish();

    let typed_widened: OrderWebhookBody =
        serde_json::from_slice(&widened).expect("the body is valid");
    assert_eq!(
        serde_json::from_slice::<Value>(&serde_json::to_vec(&typed_widened).expect("serialises"))
            .expect("JSON"),
        serde_json::from_slice::<Value>(&widened).expect("JSON"),
        "the unknown fields were not kept"
    );
    println!(
        "with an unknown field in every object: {} bytes",
        widened.len()
    );
    let mut group = c.benchmark_group("order_webhook_500_lines");
    group.throughput(Throughput::Bytes(widened.len() as u64));
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("typed_unknown_fields", |b| {
        b.iter(|| {
            serde_json::from_slice::<OrderWebhookBody>(black_box(&widened)).expect("valid body")
        });
    });
    group.finish();

    let mut group = c.benchmark_group("order_webhook_500_lines");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("untyped", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(&body)).expect("valid JSON"));
    });
    group.bench_function("typed_serialise", |b| {
        b.iter(|| serde_json::to_vec(black_box(&typed)).expect("serialises"));
    });
    group.finish();
}

/// The typical order event of `scripts/load-test.sh` (14 KB, 2 lines), as the
/// receiver decodes it: `serde_json::from_slice`, and the same through
/// `serde_path_to_error` (which the receiver now uses only to describe a body
/// that failed).
fn bench_typical_event(c: &mut Criterion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/order-webhook/order-event.json"
    );
    let body = std::fs::read(path).expect("the order event fixture");
    let mut group = c.benchmark_group("order_event_fixture");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.sample_size(50);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("typed", |b| {
        b.iter(|| {
            serde_json::from_slice::<OrderWebhookBody>(black_box(&body)).expect("valid body")
        });
    });
    group.bench_function("typed_path_to_error", |b| {
        b.iter(|| {
            let mut de = serde_json::Deserializer::from_slice(black_box(&body));
            let body: OrderWebhookBody =
                serde_path_to_error::deserialize(&mut de).expect("valid body");
            de.end().expect("nothing after the body");
            body
        });
    });
    group.finish();
}

criterion_group!(benches, bench_parse, bench_typical_event);
criterion_main!(benches);
