//! The receiver over real TLS on loopback: every documented webhook body is
//! stored byte for byte before the 2xx, invalid bodies are answered 4xx and
//! kept in quarantine (never handed to the handler), duplicates are stored
//! once, GET webhooks store triggers, and a store that is unavailable is
//! answered 503 until a retrying sender gets everything stored.

use crate::receiver_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use receiver_support::*;
use tradecloud::inbox::{EventKind, ListFilter, State};
use tradecloud::processing::{handler_fn, Event, HandlerError, ProcessorConfig};

const ORDER: &str = "/tradecloud/order";
const SHIPMENT: &str = "/tradecloud/shipment";

/// The stored event of a 2xx answer, checked against what was sent.
async fn assert_stored(
    rx: &TestReceiver,
    response: reqwest::Response,
    sent: &[u8],
    content_type: &str,
) -> i64 {
    let status = response.status();
    let body = json(response).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["duplicate"], false);
    let id = body["id"].as_i64().expect("id");
    let stored = rx.inbox.get(id).await.unwrap().expect("stored");
    assert_eq!(stored.body.as_ref(), sent, "stored byte for byte");
    assert_eq!(stored.summary.content_type, content_type);
    assert_eq!(stored.summary.state, State::Received);
    id
}

#[tokio::test]
async fn receiver_stores_every_fixture_byte_for_byte() {
    let cases: &[(&str, &str, EventKind, &str, &str, &str)] = &[
        (
            "order-webhook/order-event.json",
            ORDER,
            EventKind::Order,
            "OrderLinesConfirmedBySupplier",
            "5b0c2f0e-8f4a-4d5e-9c3b-2a1d0e9f8c7b",
            "application/json",
        ),
        (
            "order-webhook/single-delivery-order-event.json",
            ORDER,
            EventKind::Order,
            "OrderIssuedByBuyer",
            "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
            "application/json",
        ),
        (
            "order-webhook/simple-order-event.json",
            ORDER,
            EventKind::Order,
            "OrderIssuedByBuyer",
            "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
            "application/json; charset=utf-8",
        ),
        (
            "order-webhook/order-documents-event.json",
            ORDER,
            EventKind::OrderDocuments,
            "OrderDocumentsAttachedBySupplier",
            "c3d4e5f6-a7b8-4c9d-0e1f-2a3b4c5d6e7f",
            "application/json",
        ),
        (
            "order-webhook/unknown-event.json",
            ORDER,
            EventKind::Order,
            "OrderLinesTeleportedBySupplier",
            "e5f6a7b8-c9d0-4e1f-2a3b-4c5d6e7f8091",
            "application/json",
        ),
        (
            "shipment-webhook/shipment-event.json",
            SHIPMENT,
            EventKind::Shipment,
            "ShipmentIssuedBySupplier",
            "0f1e2d3c-4b5a-4968-8776-655443322110",
            "application/json",
        ),
    ];
    for (file, path, kind, event_name, message_id, content_type) in cases {
        // One inbox per fixture: the single-delivery and simple fixtures share a message id.
        let rx = start(&basic_config("")).await;
        let sent = fixture(file);
        let response = rx.post(path, content_type, sent.clone()).await;
        let id = assert_stored(&rx, response, &sent, content_type).await;
        let summary = rx.inbox.get(id).await.unwrap().unwrap().summary;
        assert_eq!(summary.kind, *kind, "{file}");
        assert_eq!(summary.event_name.as_deref(), Some(*event_name), "{file}");
        assert_eq!(summary.message_id.as_deref(), Some(*message_id), "{file}");
        assert!(summary.object_id.is_some(), "{file}: object id");
        assert_eq!(
            summary.source.as_deref(),
            Some(format!("POST {path}").as_str())
        );
        rx.stop().await;
    }
}

#[tokio::test]
async fn receiver_accepts_put_and_a_trailing_slash() {
    let rx = start(&basic_config("")).await;
    let sent = fixture("order-webhook/order-event.json");
    let response = rx
        .basic(rx.client.put(rx.url(ORDER)))
        .header("content-type", "application/json")
        .body(sent.clone())
        .send()
        .await
        .unwrap();
    let id = assert_stored(&rx, response, &sent, "application/json").await;
    assert_eq!(
        rx.inbox
            .get(id)
            .await
            .unwrap()
            .unwrap()
            .summary
            .source
            .as_deref(),
        Some("PUT /tradecloud/order")
    );
    let shipment = fixture("shipment-webhook/shipment-event.json");
    let response = rx
        .post(
            "/tradecloud/shipment/",
            "application/json",
            shipment.clone(),
        )
        .await;
    assert_stored(&rx, response, &shipment, "application/json").await;
    rx.stop().await;
}

#[tokio::test]
async fn receiver_stores_txml_order_events() {
    let rx = start(&basic_config("")).await;
    let sent = fixture("order-webhook/order-event.xml");
    let response = rx.post(ORDER, "application/xml", sent.clone()).await;
    let id = assert_stored(&rx, response, &sent, "application/xml").await;
    let summary = rx.inbox.get(id).await.unwrap().unwrap().summary;
    assert_eq!(
        summary.event_name.as_deref(),
        Some("OrderLinesConfirmedBySupplier")
    );
    assert_eq!(
        summary.message_id.as_deref(),
        Some("5b0c2f0e-8f4a-4d5e-9c3b-2a1d0e9f8c7b")
    );
    rx.stop().await;
}

/// The request's headers are kept with the event (for the console and
/// `inbox show`), credentials redacted: a stored event, one kept in
/// quarantine and a GET trigger alike (issue 21).
#[tokio::test]
async fn receiver_keeps_the_request_headers_with_credentials_redacted() {
    let rx = start(&basic_config("")).await;
    let post = |body: Vec<u8>| {
        rx.basic(rx.client.post(rx.url(ORDER)))
            .header("content-type", "application/json")
            .header("user-agent", "Tradecloud webhook")
            .header("x-request-id", "r-1")
            .header("x-api-key", "s3cret")
            .body(body)
    };
    let stored = json(
        post(fixture("order-webhook/order-event.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let rejected = json(post(b"{not json".to_vec()).send().await.unwrap()).await;
    let trigger = rx
        .basic(rx.client.get(rx.url("/tradecloud/order/o-headers")))
        .header("user-agent", "Tradecloud webhook")
        .send()
        .await
        .unwrap();
    assert!(trigger.status().is_success());
    let trigger = json(trigger).await;
    for id in [&stored["id"], &rejected["inboxId"], &trigger["id"]] {
        let id = id
            .as_i64()
            .unwrap_or_else(|| panic!("an inbox id: {stored} {rejected} {trigger}"));
        let headers = rx.inbox.get(id).await.unwrap().unwrap().headers;
        let value = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("{name} in {headers:?}"))
        };
        assert_eq!(value("user-agent"), "Tradecloud webhook");
        assert_eq!(value("authorization"), "Basic [redacted]");
        if id != trigger["id"].as_i64().unwrap() {
            assert_eq!(value("x-request-id"), "r-1");
            assert_eq!(value("x-api-key"), "[redacted]");
            assert_eq!(value("content-type"), "application/json");
        }
        let all = format!("{headers:?}");
        assert!(!all.contains("s3cret") && !all.contains(PASSWORD), "{all}");
    }
    rx.stop().await;
}

#[tokio::test]
async fn receiver_stores_a_redelivered_message_once() {
    let rx = start(&basic_config("")).await;
    let sent = fixture("order-webhook/order-event.json");
    let first = json(rx.post(ORDER, "application/json", sent.clone()).await).await;
    let again = rx.post(ORDER, "application/json", sent.clone()).await;
    assert_eq!(again.status(), 200);
    let again = json(again).await;
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["id"], first["id"]);
    let all = rx.inbox.list(ListFilter::default()).await.unwrap();
    assert_eq!(all.len(), 1, "stored once: {all:?}");
    let text = rx.metrics.encode();
    assert!(
        text.contains("tradecloud_webhook_duplicates_total{kind=\"order\"} 1"),
        "{text}"
    );
    rx.stop().await;
}

#[tokio::test]
async fn receiver_stores_get_webhook_triggers() {
    let rx = start(&basic_config("")).await;
    for (path, kind, id) in [
        ("/tradecloud/order/ORD-1", EventKind::Order, "ORD-1"),
        ("/tradecloud/order?orderId=ORD-2", EventKind::Order, "ORD-2"),
        ("/tradecloud/shipment/SH-1", EventKind::Shipment, "SH-1"),
        (
            "/tradecloud/shipment?shipmentId=SH-2",
            EventKind::Shipment,
            "SH-2",
        ),
    ] {
        let response = rx.basic(rx.client.get(rx.url(path))).send().await.unwrap();
        assert_eq!(response.status(), 202, "{path}");
        let stored_id = json(response).await["id"].as_i64().unwrap();
        let summary = rx.inbox.get(stored_id).await.unwrap().unwrap().summary;
        assert_eq!(summary.state, State::Trigger, "{path}");
        assert_eq!(summary.kind, kind);
        assert_eq!(summary.object_id.as_deref(), Some(id));
    }
    // Without an id there is nothing to fetch: 400, and the request is kept.
    let response = rx.basic(rx.client.get(rx.url(ORDER))).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let problem = json(response).await;
    let kept = rx
        .inbox
        .get(problem["inboxId"].as_i64().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.summary.state, State::Rejected);
    // Blank as the crate reads text everywhere (`types::validate::is_blank`,
    // what `str::trim` and the tXML reader remove): spaces, tabs, line
    // breaks, and the Unicode spaces too (NEL, a no-break space, an
    // ideographic space). Any other character is an id (a zero-width
    // no-break space, U+FEFF, here: not whitespace to `str::trim`).
    for blank in [
        "/tradecloud/order?orderId=",
        "/tradecloud/order?orderId=%20%09%0D%0A",
        "/tradecloud/order/%20",
        "/tradecloud/shipment?shipmentId=%20",
        "/tradecloud/order?orderId=%C2%85",
        "/tradecloud/order?orderId=%C2%A0",
        "/tradecloud/shipment/%E3%80%80%20",
    ] {
        let response = rx.basic(rx.client.get(rx.url(blank))).send().await.unwrap();
        assert_eq!(response.status(), 400, "{blank}");
    }
    let response = rx
        .basic(rx.client.get(rx.url("/tradecloud/order?orderId=%EF%BB%BF")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let stored_id = json(response).await["id"].as_i64().unwrap();
    let summary = rx.inbox.get(stored_id).await.unwrap().unwrap().summary;
    assert_eq!(summary.object_id.as_deref(), Some("\u{feff}"));
    rx.stop().await;
}

fn nested(depth: usize) -> Vec<u8> {
    let mut body =
        br#"{"eventName":"OrderIssuedByBuyer","orderEvent":{"orderId":"x","deep":"#.to_vec();
    body.extend(std::iter::repeat_n(b'[', depth));
    body.extend(std::iter::repeat_n(b']', depth));
    body.extend(b"}}");
    body
}

/// Bodies that are not valid events, with the status they get.
fn invalid_bodies() -> Vec<(&'static str, &'static str, &'static str, Vec<u8>, u16)> {
    let order = fixture("order-webhook/order-event.json");
    let mut wrong_type = String::from_utf8(order.clone()).unwrap();
    wrong_type = wrong_type.replacen("\"lines\": [", "\"lines\": \"not a list\", \"x\": [", 1);
    assert_ne!(
        wrong_type.as_bytes(),
        order.as_slice(),
        "the fixture has a lines array"
    );
    vec![
        (
            "malformed",
            ORDER,
            "application/json",
            br#"{"eventName": "OrderIssuedByBuyer", "#.to_vec(),
            400,
        ),
        (
            "truncated",
            ORDER,
            "application/json",
            order[..order.len() / 2].to_vec(),
            400,
        ),
        (
            "wrong type",
            ORDER,
            "application/json",
            wrong_type.into_bytes(),
            400,
        ),
        (
            "event name a number",
            ORDER,
            "application/json",
            br#"{"eventName": 5}"#.to_vec(),
            400,
        ),
        (
            "deeply nested",
            ORDER,
            "application/json",
            nested(100_000),
            400,
        ),
        (
            "not UTF-8",
            ORDER,
            "application/json",
            b"{\"eventName\": \"Order\xff\xfeIssued\"}".to_vec(),
            400,
        ),
        (
            "trailing garbage",
            ORDER,
            "application/json",
            br#"{"eventName":"OrderIssuedByBuyer"} {}"#.to_vec(),
            400,
        ),
        ("an array", ORDER, "application/json", b"[]".to_vec(), 400),
        ("empty", ORDER, "application/json", Vec::new(), 400),
        (
            "shipment without shipment",
            SHIPMENT,
            "application/json",
            br#"{"eventName":"ShipmentIssuedBySupplier"}"#.to_vec(),
            400,
        ),
        (
            "broken XML",
            ORDER,
            "application/xml",
            b"<webhookBody><eventName>X</webhookBody>".to_vec(),
            400,
        ),
        ("text", ORDER, "text/plain", order.clone(), 415),
        (
            "form",
            SHIPMENT,
            "application/x-www-form-urlencoded",
            b"a=b".to_vec(),
            415,
        ),
    ]
}

#[tokio::test]
async fn receiver_rejects_invalid_bodies_keeps_them_and_never_handles_them() {
    let handled: Arc<Mutex<Vec<i64>>> = Arc::default();
    let seen = handled.clone();
    let rx = start_with(&basic_config(""), move |b| {
        b.handler(handler_fn(move |event: Event, _ctx| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(event.meta().inbox_id);
                Ok::<(), HandlerError>(())
            }
        }))
    })
    .await;
    let mut rejected = Vec::new();
    for (name, path, content_type, body, status) in invalid_bodies() {
        let response = rx.post(path, content_type, body.clone()).await;
        assert_eq!(response.status().as_u16(), status, "{name}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{name}"
        );
        let problem = json(response).await;
        assert_eq!(problem["status"], status, "{name}");
        assert!(
            problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{name}: {problem}"
        );
        let id = problem["inboxId"]
            .as_i64()
            .unwrap_or_else(|| panic!("{name}: kept in quarantine: {problem}"));
        let kept = rx.inbox.get(id).await.unwrap().unwrap();
        assert_eq!(kept.body.as_ref(), body.as_slice(), "{name}: bytes kept");
        assert_eq!(kept.summary.content_type, content_type, "{name}");
        assert!(kept.summary.error.is_some(), "{name}: error kept");
        rejected.push(id);
    }
    // A valid event after them: the handler gets it, and only it.
    let sent = fixture("order-webhook/order-event.json");
    let good = json(rx.post(ORDER, "application/json", sent).await).await["id"]
        .as_i64()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !handled.lock().unwrap().contains(&good) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the valid event was not handled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        *handled.lock().unwrap(),
        vec![good],
        "only the valid event reaches the handler"
    );
    for id in rejected {
        assert_eq!(
            rx.inbox.get(id).await.unwrap().unwrap().summary.state,
            State::Rejected
        );
    }
    let metrics = rx.metrics.encode();
    assert!(
        metrics.contains("tradecloud_webhook_rejected_total{reason=\"invalid_body\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tradecloud_webhook_rejected_total{reason=\"unsupported_media_type\"} 2"),
        "{metrics}"
    );
    rx.stop().await;
}

#[tokio::test]
async fn receiver_answers_413_over_the_limit_and_stores_nothing() {
    let rx = start(&basic_config("max_body_bytes = 1000")).await;
    let big = vec![b' '; 5000];
    let response = rx.post(ORDER, "application/json", big.clone()).await;
    assert_eq!(response.status(), 413);
    // The same without a Content-Length (chunked).
    let stream =
        futures_util::stream::iter((0..50).map(|_| Ok::<_, std::io::Error>(vec![b' '; 100])));
    let response = rx
        .basic(rx.client.post(rx.url(ORDER)))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(rx
        .inbox
        .list(ListFilter::default())
        .await
        .unwrap()
        .is_empty());
    // A body within the limit still works.
    let small = br#"{"eventName":"OrderIssuedByBuyer","orderEvent":{"orderId":"o1"}}"#;
    assert_eq!(
        rx.post(ORDER, "application/json", small.to_vec())
            .await
            .status(),
        202
    );
    rx.stop().await;
}

#[tokio::test]
async fn receiver_default_limit_takes_a_500_line_order() {
    let rx = start(&basic_config("")).await;
    let order: serde_json::Value =
        serde_json::from_slice(&fixture("order-webhook/order-event.json")).unwrap();
    let line = order["orderEvent"]["lines"][0].clone();
    let mut big = order.clone();
    big["orderEvent"]["lines"] = serde_json::Value::Array(vec![line; 500]);
    let body = serde_json::to_vec(&big).unwrap();
    assert!(
        body.len() > 1_000_000,
        "a 500-line order is large: {} bytes",
        body.len()
    );
    let response = rx.post(ORDER, "application/json", body.clone()).await;
    assert_stored(&rx, response, &body, "application/json").await;
    rx.stop().await;
}

#[tokio::test]
async fn receiver_operational_endpoints() {
    let rx = start(&basic_config("")).await;
    let get = |path: &str| rx.client.get(rx.url(path)).send();
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    assert_eq!(get("/nothing-here").await.unwrap().status(), 404);
    rx.post(
        ORDER,
        "application/json",
        fixture("order-webhook/order-event.json"),
    )
    .await;
    let metrics = get("/metrics").await.unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    for needle in [
        "tradecloud_webhook_received_total{kind=\"order\"} 1",
        "tradecloud_webhook_stored_total{kind=\"order\"} 1",
        "tradecloud_webhook_responses_total{status=\"202\"} 1",
        "tradecloud_webhook_request_duration_seconds_count 1",
    ] {
        assert!(text.contains(needle), "{needle} in\n{text}");
    }
    rx.stop().await;
}

/// Hold an exclusive lock on the database from another connection.
fn lock_database(path: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
    conn
}

#[tokio::test]
async fn receiver_answers_503_while_the_store_is_unavailable() {
    let rx = start(&basic_config("")).await;
    let lock = lock_database(&rx.db);
    let sent = fixture("order-webhook/order-event.json");
    let response = rx.post(ORDER, "application/json", sent.clone()).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    // Invalid bodies cannot be kept either: 503 too, never a 400 that would lose them.
    let response = rx.post(ORDER, "application/json", b"{".to_vec()).await;
    assert_eq!(response.status(), 503);
    assert_eq!(
        rx.client
            .get(rx.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    drop(lock);
    let response = rx.post(ORDER, "application/json", sent.clone()).await;
    assert_stored(&rx, response, &sent, "application/json").await;
    assert_eq!(
        rx.client
            .get(rx.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    rx.stop().await;
}

#[tokio::test]
async fn receiver_with_retrying_sender_stores_everything_after_recovery() {
    let Some(exe) = option_env!("CARGO_BIN_EXE_tradecloud") else {
        eprintln!("skipped: the tradecloud binary is not built (feature cli)");
        return;
    };
    let rx = start(&basic_config("")).await;
    let cert = rx.dir.path().join("cert.pem");
    std::fs::write(&cert, &rx.cert_pem).unwrap();
    let lock = lock_database(&rx.db);
    let files = [
        ("order-webhook/order-event.json", ORDER),
        ("order-webhook/order-documents-event.json", ORDER),
        ("order-webhook/unknown-event.json", ORDER),
        ("shipment-webhook/shipment-event.json", SHIPMENT),
    ];
    let mut senders = Vec::new();
    for (file, path) in files {
        let url = format!("https://127.0.0.1:{}{path}", rx.addr.port());
        // The certificate is for `localhost`; reach it as 127.0.0.1 by name.
        let url = url.replace("127.0.0.1", "localhost");
        let child = tokio::process::Command::new(exe)
            .args(["send", &url, "--file"])
            .arg(fixtures().join(file))
            .arg("--cacert")
            .arg(&cert)
            .args([
                "--backoff-ms",
                "100",
                "--max-backoff-ms",
                "400",
                "--max-attempts",
                "60",
            ])
            .env("TRADECLOUD_SEND_BASIC", format!("{USER}:{PASSWORD}"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        senders.push(child);
    }
    // Each sender's output, line by line as it prints it; the lock is
    // released once every sender has had a 503 (however slowly the senders
    // start on a loaded machine).
    let mut outputs = Vec::new();
    let mut refused = Vec::new();
    for child in &mut senders {
        let stdout = child.stdout.take().unwrap();
        let (seen_503, seen) = tokio::sync::oneshot::channel::<()>();
        refused.push(seen);
        outputs.push(tokio::spawn(async move {
            use tokio::io::AsyncBufReadExt as _;
            let mut lines = tokio::io::BufReader::new(stdout).lines();
            let mut text = String::new();
            let mut seen_503 = Some(seen_503);
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("503") {
                    if let Some(seen) = seen_503.take() {
                        let _ = seen.send(());
                    }
                }
                text.push_str(&line);
                text.push('\n');
            }
            text
        }));
    }
    for (seen, (file, _)) in refused.into_iter().zip(files) {
        tokio::time::timeout(Duration::from_secs(60), seen)
            .await
            .unwrap_or_else(|_| panic!("{file}: no 503 while the store was locked"))
            .unwrap_or_else(|_| panic!("{file}: the sender ended without a 503"));
    }
    assert!(
        rx.inbox
            .list(ListFilter::default())
            .await
            .unwrap()
            .is_empty(),
        "nothing stored while locked"
    );
    drop(lock);
    for ((child, output), (file, _)) in senders.into_iter().zip(outputs).zip(files) {
        let output_status = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let stdout = output.await.unwrap();
        assert!(
            output_status.status.success(),
            "{file}: {stdout}\n{}",
            String::from_utf8_lossy(&output_status.stderr)
        );
        assert!(
            stdout.contains("503 Service Unavailable"),
            "{file}: retried 503s:\n{stdout}"
        );
        assert!(stdout.contains("delivered"), "{file}:\n{stdout}");
    }
    let stored = rx.inbox.list(ListFilter::default()).await.unwrap();
    assert_eq!(stored.len(), files.len(), "{stored:?}");
    for (file, _) in files {
        let sent = fixture(file);
        let mut found = false;
        for summary in &stored {
            if rx
                .inbox
                .get(summary.id)
                .await
                .unwrap()
                .unwrap()
                .body
                .as_ref()
                == sent.as_slice()
            {
                found = true;
            }
        }
        assert!(found, "{file} stored byte for byte");
    }
    rx.stop().await;
}

#[tokio::test]
async fn receiver_hands_the_events_of_one_order_to_the_handler_in_order() {
    let handled: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = handled.clone();
    let rx = start_with(&basic_config(""), move |b| {
        b.processor_config(ProcessorConfig {
            concurrency: 4,
            ..ProcessorConfig::default()
        })
        .handler(handler_fn(move |event: Event, _ctx| {
            let seen = seen.clone();
            async move {
                // Uneven handler times would reorder a processor that does not serialise per order.
                tokio::time::sleep(Duration::from_millis(fastrand::u64(0..15))).await;
                seen.lock()
                    .unwrap()
                    .push(event.meta().message_id.clone().unwrap_or_default());
                Ok::<(), HandlerError>(())
            }
        }))
    })
    .await;
    let template = String::from_utf8(fixture("order-webhook/order-event.json")).unwrap();
    let mut sent = Vec::new();
    for i in 0..20 {
        let message_id = format!("msg-{i:03}");
        let body = template.replace("5b0c2f0e-8f4a-4d5e-9c3b-2a1d0e9f8c7b", &message_id);
        assert_eq!(rx.post(ORDER, "application/json", body).await.status(), 202);
        sent.push(message_id);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while handled.lock().unwrap().len() < sent.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "handled {:?}",
            handled.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(*handled.lock().unwrap(), sent);
    // The outcome is recorded right after the handler returns.
    let done = "tradecloud_handler_outcomes_total{kind=\"order\",outcome=\"done\"} 20";
    while !rx.metrics.encode().contains(done) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}",
            rx.metrics.encode()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    rx.stop().await;
}

#[tokio::test]
async fn receiver_fetches_the_whole_order_for_a_get_webhook_from_the_mock() {
    use tradecloud::mock::{MockConfig, MockServer};
    let order: tradecloud::api::common::types::Order =
        serde_json::from_slice(&fixture("api/order.json")).unwrap();
    let order_id = order.id.clone().expect("the fixture order has an id");
    let mock = MockServer::start(MockConfig::new().order(order))
        .await
        .unwrap();
    let credentials = mock.credentials();
    let text = format!(
        "{}\n[tradecloud]\nbase_url = \"{}\"\nusername = \"{}\"\npassword = \"{}\"\n",
        basic_config(""),
        mock.base_url(),
        credentials.username,
        credentials.password
    );
    let fetched: Arc<Mutex<Vec<(String, usize)>>> = Arc::default();
    let seen = fetched.clone();
    let rx = start_with(&text, move |b| {
        b.handler(handler_fn(move |event: Event, _ctx| {
            let seen = seen.clone();
            async move {
                if let Event::FetchedOrder { order, .. } = event {
                    seen.lock()
                        .unwrap()
                        .push((order.id.clone().unwrap_or_default(), order.lines.len()));
                }
                Ok::<(), HandlerError>(())
            }
        }))
    })
    .await;
    let response = rx
        .basic(rx.client.get(rx.url(&format!("{ORDER}/{order_id}"))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while fetched.lock().unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the order was not fetched and handled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(*fetched.lock().unwrap(), vec![(order_id, 3)]);
    rx.stop().await;
    mock.shutdown().await.unwrap();
}
