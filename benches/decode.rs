//! The one webhook body decoder, `tradecloud::webhook::decode`, on the 14 KB
//! order event of the load test (`tests/fixtures/order-webhook/order-event.json`)
//! and its tXML twin (`order-event.xml`, 24 KB), against the way the
//! processor decoded stored bodies before it (every body through
//! `serde_path_to_error`).
//!
//! * `json`: `webhook::decode` of the JSON body (fast path: plain
//!   `serde_json`, then the event, ids and payload rule);
//! * `json_bom`: the same body after a UTF-8 byte order mark;
//! * `json_from_slice`: plain `serde_json::from_slice::<OrderWebhookBody>`,
//!   what the receiver's edge did before (the floor for `json`);
//! * `json_path_to_error`: the processor's former decoding of that body;
//! * `txml`: `webhook::decode` of the tXML body;
//! * `txml_path_to_error`: the former tXML decoding (the JSON value of the
//!   tXML, as text, through `serde_path_to_error`).
//!
//! Run with `cargo bench --bench decode` (about 40 s).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tradecloud::api::order_webhook_connector::types::{txml_shapes, OrderWebhookBody};
use tradecloud::webhook::{self, Endpoint};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/order-webhook/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The processor's decoding before `webhook::decode`: always tracked.
fn path_to_error(bytes: &[u8]) -> OrderWebhookBody {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let body = serde_path_to_error::deserialize(&mut de).expect("the fixture decodes");
    de.end().expect("one value");
    body
}

fn bench_decode(c: &mut Criterion) {
    let json = fixture("order-event.json");
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(&json);
    let xml = fixture("order-event.xml");

    let mut group = c.benchmark_group("webhook_decode");
    group.sample_size(50);
    group.warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Bytes(json.len() as u64));
    group.bench_function("json", |b| {
        b.iter(|| webhook::decode(Endpoint::Order, "application/json", black_box(&json)))
    });
    group.bench_function("json_bom", |b| {
        b.iter(|| webhook::decode(Endpoint::Order, "application/json", black_box(&bom)))
    });
    group.bench_function("json_from_slice", |b| {
        b.iter(|| {
            serde_json::from_slice::<OrderWebhookBody>(black_box(&json))
                .expect("the fixture decodes")
        })
    });
    group.bench_function("json_path_to_error", |b| {
        b.iter(|| path_to_error(black_box(&json)))
    });
    group.throughput(Throughput::Bytes(xml.len() as u64));
    group.bench_function("txml", |b| {
        b.iter(|| webhook::decode(Endpoint::Order, "application/xml", black_box(&xml)))
    });
    group.bench_function("txml_path_to_error", |b| {
        b.iter(|| {
            let value =
                tradecloud::webhook::txml::to_json(black_box(&xml), &txml_shapes::OrderWebhookBody)
                    .expect("the fixture is tXML");
            path_to_error(serde_json::to_string(&value).expect("text").as_bytes())
        })
    });
    group.finish();
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
