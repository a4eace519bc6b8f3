//! `tradecloud inspect`, run as the built binary on the fixtures. The
//! expected change sets are the hand-counted ones of tests/fixtures/README.md.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

const ORDER_ID: &str = "4fd2a3c0-6b1e-4e8b-9c2a-1d3e5f7a9b0c";
const LINE_1: &str = "d2b9a8e4-5c1e-4a53-9d0b-6f1f0f6d7a01";
const LINE_2: &str = "d2b9a8e4-5c1e-4a53-9d0b-6f1f0f6d7a02";

fn fixture(path: &str) -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "..", "tests", "fixtures", path]
        .iter()
        .collect()
}

fn inspect(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tradecloud"));
    command
        .arg("inspect")
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the tradecloud binary runs");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("a stdin pipe");
        pipe.write_all(input).expect("stdin accepts the input");
    }
    child
        .wait_with_output()
        .expect("the tradecloud binary finishes")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `inspect --json` on a fixture and returns the one JSON object it prints.
fn inspect_json(path: &str, extra: &[&str]) -> Value {
    let file = fixture(path);
    let file = file.to_str().expect("a UTF-8 path");
    let mut args = vec![file, "--json"];
    args.extend_from_slice(extra);
    let out = inspect(&args, None);
    assert!(
        out.status.success(),
        "inspect {path} failed: {}",
        text(&out.stderr)
    );
    match serde_json::from_slice(&out.stdout) {
        Ok(value @ Value::Object(_)) => value,
        Ok(other) => panic!("inspect {path} printed {other}, not an object"),
        Err(e) => panic!(
            "inspect {path} printed invalid JSON ({e}): {}",
            text(&out.stdout)
        ),
    }
}

fn assert_error(out: &Output, needles: &[&str]) {
    assert!(
        !out.status.success(),
        "expected a failure, got stdout {}",
        text(&out.stdout)
    );
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout on error: {}",
        text(&out.stdout)
    );
    let stderr = text(&out.stderr);
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "stderr should mention {needle:?}: {stderr}"
        );
    }
}

// ---------------------------------------------------------------------------
// The hand-counted sets
// ---------------------------------------------------------------------------

#[test]
fn order_event_json() {
    assert_eq!(
        inspect_json("order-webhook/order-event.json", &[]),
        json!({
            "kind": "orderEvent",
            "eventName": "OrderLinesConfirmedBySupplier",
            "id": ORDER_ID,
            "lines": 2,
            "changedLines": [LINE_1, LINE_2],
            "changedDocuments": ["123456789", "SO-CONFIRMATION-1", "DRAWING-12345", "CERT-0001", "SPEC-0002"],
        })
    );
}

#[test]
fn shipment_event_json() {
    assert_eq!(
        inspect_json("shipment-webhook/shipment-event.json", &[]),
        json!({
            "kind": "shipmentEvent",
            "eventName": "ShipmentIssuedBySupplier",
            "id": "9a7b5c3d-1e2f-4a6b-8c0d-2e4f6a8b0c1d",
            "lines": 4,
            "changedLines": ["DA-0001/1", "DA-0001/3", "DA-0001/4"],
            "changedDocuments": ["PACKING-LIST-001"],
        })
    );
}

#[test]
fn whole_order_json() {
    // Order documents carry no timestamp: the one on the changed line counts
    // with its line (see tradecloud::changes).
    assert_eq!(
        inspect_json("api/order.json", &[]),
        json!({
            "kind": "order",
            "eventName": null,
            "id": ORDER_ID,
            "lines": 3,
            "changedLines": [LINE_1],
            "changedDocuments": ["DRAWING-12345"],
        })
    );
}

#[test]
fn json_keys_come_in_the_documented_order() {
    let out = inspect(
        &[fixture("api/order.json").to_str().expect("UTF-8"), "--json"],
        None,
    );
    let stdout = text(&out.stdout);
    let positions: Vec<usize> = [
        "\"kind\"",
        "\"eventName\"",
        "\"id\"",
        "\"lines\"",
        "\"changedLines\"",
        "\"changedDocuments\"",
    ]
    .iter()
    .map(|key| {
        stdout
            .find(key)
            .unwrap_or_else(|| panic!("{key} missing: {stdout}"))
    })
    .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{stdout}");
}

#[test]
fn the_other_order_webhook_fixtures() {
    let single = json!({
        "kind": "singleDeliveryOrderEvent",
        "eventName": "OrderIssuedByBuyer",
        "id": "8c1e2d3f-4a5b-4c6d-9e7f-0a1b2c3d4e5f",
        "lines": 2,
        "changedLines": ["e3c0b9f5-6d2f-4b64-8e1c-7a2a1a7e8b01", "e3c0b9f5-6d2f-4b64-8e1c-7a2a1a7e8b02"],
        "changedDocuments": ["123456789"],
    });
    assert_eq!(
        inspect_json("order-webhook/single-delivery-order-event.json", &[]),
        single
    );
    assert_eq!(
        inspect_json("order-webhook/simple-order-event.json", &[]),
        single
    );
    assert_eq!(
        inspect_json("order-webhook/order-documents-event.json", &[]),
        json!({
            "kind": "orderDocumentsEvent",
            "eventName": "OrderDocumentsAttachedBySupplier",
            "id": ORDER_ID,
            "lines": 1,
            "changedLines": [LINE_1],
            "changedDocuments": ["PACKING-INSTRUCTIONS-7", "CERT-0002", "TEST-REPORT-3"],
        })
    );
    assert_eq!(
        inspect_json("order-webhook/unknown-event.json", &[]),
        json!({
            "kind": "orderEvent",
            "eventName": "OrderLinesTeleportedBySupplier",
            "id": ORDER_ID,
            "lines": 1,
            "changedLines": [LINE_1],
            "changedDocuments": [],
        })
    );
}

#[test]
fn poll_responses_add_items() {
    let value = inspect_json("api/shipment-poll-response.json", &[]);
    assert_eq!(
        value,
        json!({
            "kind": "shipmentPollResponse",
            "eventName": null,
            "id": null,
            "lines": 1,
            "changedLines": ["DA-0001/1"],
            "changedDocuments": [],
            "items": [{
                "kind": "shipment",
                "eventName": null,
                "id": "9a7b5c3d-1e2f-4a6b-8c0d-2e4f6a8b0c1d",
                "lines": 1,
                "changedLines": ["DA-0001/1"],
                "changedDocuments": [],
            }],
        })
    );
    let value = inspect_json("api/order-poll-response.json", &[]);
    assert_eq!(value["kind"], "orderPollResponse");
    assert_eq!(value["lines"], 2);
    assert_eq!(value["items"][1]["id"], ORDER_ID);
    let value = inspect_json("api/single-delivery-order-poll-response.json", &[]);
    assert_eq!(value["kind"], "singleDeliveryOrderPollResponse");
    assert_eq!(value["items"][0]["kind"], "singleDeliveryOrder");
    assert_eq!(value["changedLines"].as_array().map(Vec::len), Some(2));
}

// ---------------------------------------------------------------------------
// --since
// ---------------------------------------------------------------------------

#[test]
fn since_on_a_whole_order_is_strict() {
    // Line 2 was updated at 2025-04-20T08:15:00.000Z.
    let at = inspect_json("api/order.json", &["--since", "2025-04-20T10:15:00+02:00"]);
    assert_eq!(at["changedLines"], json!([LINE_1]));
    let before = inspect_json("api/order.json", &["--since", "2025-04-20T08:14:59.999"]);
    assert_eq!(before["changedLines"], json!([LINE_1, LINE_2]));
    assert_eq!(
        before["changedDocuments"],
        json!(["DRAWING-12345", "SOW-77"])
    );
    assert_eq!(before["lines"], 3);
    let after_all = inspect_json("api/order.json", &["--since", "2025-04-23T10:01:53.812Z"]);
    assert_eq!(after_all["changedLines"], json!([]));
}

#[test]
fn since_on_a_shipment() {
    // The older line and invoice were updated at 2025-04-22T16:45:10.5Z.
    let at = inspect_json(
        "shipment-webhook/shipment-event.json",
        &["--since", "2025-04-22T16:45:10.5Z"],
    );
    assert_eq!(
        at["changedLines"],
        json!(["DA-0001/1", "DA-0001/3", "DA-0001/4"])
    );
    assert_eq!(at["changedDocuments"], json!(["PACKING-LIST-001"]));
    let before = inspect_json(
        "shipment-webhook/shipment-event.json",
        &["--since", "2025-04-22"],
    );
    assert_eq!(
        before["changedLines"],
        json!(["DA-0001/1", "DA-0001/2", "DA-0001/3", "DA-0001/4"])
    );
    assert_eq!(
        before["changedDocuments"],
        json!(["PACKING-LIST-001", "INVOICE-2025-0001"])
    );
}

#[test]
fn since_on_an_order_event_filters_its_lines() {
    // Line 2's lastUpdatedAt is the zone-less 2019-12-31T10:11:12.
    let value = inspect_json(
        "order-webhook/order-event.json",
        &["--since", "2020-01-01T00:00:00Z"],
    );
    assert_eq!(value["changedLines"], json!([LINE_1]));
    assert_eq!(
        value["changedDocuments"],
        json!([
            "123456789",
            "SO-CONFIRMATION-1",
            "DRAWING-12345",
            "CERT-0001"
        ])
    );
    let value = inspect_json(
        "order-webhook/order-event.json",
        &["--since", "2019-12-31T10:11:11Z"],
    );
    assert_eq!(value["changedLines"], json!([LINE_1, LINE_2]));
}

// ---------------------------------------------------------------------------
// Input and output forms
// ---------------------------------------------------------------------------

#[test]
fn reads_standard_input() {
    let body = std::fs::read(fixture("shipment-webhook/shipment-event.json")).expect("fixture");
    let out = inspect(&["-", "--json"], Some(&body));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let value: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        value["changedLines"],
        json!(["DA-0001/1", "DA-0001/3", "DA-0001/4"])
    );
}

#[test]
fn human_output_is_a_short_summary() {
    let out = inspect(
        &[fixture("shipment-webhook/shipment-event.json")
            .to_str()
            .expect("UTF-8")],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for needle in [
        "shipmentEvent",
        "ShipmentIssuedBySupplier",
        "9a7b5c3d-1e2f-4a6b-8c0d-2e4f6a8b0c1d",
        "4, 3 changed in this message",
        "DA-0001/1",
        "DA-0001/3",
        "DA-0001/4",
        "4, 1 changed in this message",
        "PACKING-LIST-001",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?}:\n{stdout}");
    }
    assert!(
        !stdout.contains("DA-0001/2"),
        "unchanged line listed:\n{stdout}"
    );
    assert!(
        !stdout.contains("INVOICE-2025-0001"),
        "unchanged document listed:\n{stdout}"
    );

    let out = inspect(
        &[
            fixture("api/order.json").to_str().expect("UTF-8"),
            "--since",
            "2025-04-20T08:14:59Z",
        ],
        None,
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("3, 2 changed after 2025-04-20T08:14:59Z"),
        "{stdout}"
    );
}

#[test]
fn txml_order_event_gives_the_same_answer_as_json() {
    let xml = fixture("order-webhook/order-event.xml");
    let out = inspect(&[xml.to_str().expect("UTF-8"), "--json"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let value: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(value, inspect_json("order-webhook/order-event.json", &[]));
}

#[test]
fn txml_that_is_not_a_webhook_body() {
    let out = inspect(
        &["-"],
        Some(b"<?xml version=\"1.0\"?><order><id>1</id></order>"),
    );
    assert_error(
        &out,
        &["tXML", "not a Tradecloud tXML webhook body", "<id>"],
    );
    let out = inspect(&["-"], Some(b"<webhookBody><eventName>X</webhookBody>"));
    assert_error(&out, &["tXML", "not well-formed XML"]);
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

#[test]
fn missing_file() {
    let out = inspect(&["/nonexistent/dir/body.json"], None);
    assert_error(&out, &["cannot read", "/nonexistent/dir/body.json"]);
}

#[test]
fn not_json() {
    let out = inspect(&["-"], Some(b"this is not json"));
    assert_error(&out, &["standard input", "not valid JSON"]);
    let out = inspect(&["-"], Some(b"  \n"));
    assert_error(&out, &["standard input is empty"]);
}

#[test]
fn not_a_tradecloud_message() {
    let out = inspect(
        &[fixture("api/document-metadata.json")
            .to_str()
            .expect("UTF-8")],
        None,
    );
    assert_error(
        &out,
        &[
            "document-metadata.json",
            "not a Tradecloud message",
            "downloadUrl",
        ],
    );
    let out = inspect(&["-", "--json"], Some(b"[1, 2, 3]"));
    assert_error(&out, &["not a Tradecloud message", "an array"]);
    let out = inspect(
        &["-"],
        Some(br#"{"eventName": "OrderIssuedByBuyer", "orderEvent": {"lines": 3}}"#),
    );
    assert_error(&out, &["order webhook body", "line 1 column"]);
}

#[test]
fn bad_since() {
    let file = fixture("api/order.json");
    let out = inspect(
        &[file.to_str().expect("UTF-8"), "--since", "yesterday"],
        None,
    );
    assert_error(&out, &["--since", "yesterday"]);
    let out = inspect(
        &[
            file.to_str().expect("UTF-8"),
            "--since",
            "2025-13-01T00:00:00Z",
        ],
        None,
    );
    assert_error(&out, &["--since", "month out of range"]);
}
