//! OpenTelemetry traces, received by a real OTLP/HTTP endpoint inside the
//! test (a minimal collector decoding the protobuf export requests with the
//! message types of `opentelemetry-proto`):
//!
//! * `tradecloud serve` as a process, configured only by the standard
//!   `OTEL_*` variables: a webhook is one trace (receive → store, claim,
//!   handle) with its event name, order id, inbox id and outcomes; an
//!   incoming `traceparent` is honoured; a GET webhook's fetch (the client's
//!   API call) nests in the handle span, and the fetched order's handling
//!   joins the same trace.
//! * The library with a handler of its own (`TestBed`): the handler's span
//!   nests in `tradecloud.handle`, and the API call it makes nests in that.

use crate::receiver_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;
use receiver_support::*;
use tokio::process::Command;
use tradecloud::receiver::tls;

const DEMO_ORDER: &str = "4fd2a3c0-6b1e-4e8b-9c2a-1d3e5f7a9b0c";

/// One exported span, flattened.
#[derive(Debug, Clone)]
struct Span {
    service: String,
    name: String,
    kind: i32,
    trace_id: String,
    span_id: String,
    parent: String,
    /// The span's status code (0 unset, 1 ok, 2 error).
    status: i32,
    attributes: HashMap<String, String>,
}

impl Span {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(attributes: &[KeyValue]) -> HashMap<String, String> {
    attributes
        .iter()
        .filter_map(|kv| {
            let value = match kv.value.as_ref()?.value.as_ref()? {
                Value::StringValue(s) => s.clone(),
                Value::IntValue(i) => i.to_string(),
                Value::DoubleValue(d) => d.to_string(),
                Value::BoolValue(b) => b.to_string(),
                other => format!("{other:?}"),
            };
            Some((kv.key.clone(), value))
        })
        .collect()
}

/// A minimal OTLP/HTTP collector: `POST /v1/traces` with a protobuf
/// `ExportTraceServiceRequest`.
struct Collector {
    url: String,
    spans: Arc<Mutex<Vec<Span>>>,
}

async fn export(
    State(spans): State<Arc<Mutex<Vec<Span>>>>,
    headers: http::HeaderMap,
    body: bytes::Bytes,
) -> (
    http::StatusCode,
    [(http::HeaderName, &'static str); 1],
    Vec<u8>,
) {
    let protobuf = [(http::header::CONTENT_TYPE, "application/x-protobuf")];
    if headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        != Some("application/x-protobuf")
    {
        return (
            http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            protobuf,
            Vec::new(),
        );
    }
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (http::StatusCode::BAD_REQUEST, protobuf, Vec::new());
    };
    let mut received = spans.lock().unwrap();
    for resource_spans in request.resource_spans {
        let resource = resource_spans
            .resource
            .map(|r| text(&r.attributes))
            .unwrap_or_default();
        let service = resource.get("service.name").cloned().unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                received.push(Span {
                    service: service.clone(),
                    name: span.name.clone(),
                    kind: span.kind,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent: hex(&span.parent_span_id),
                    status: span.status.as_ref().map_or(0, |s| s.code),
                    attributes: text(&span.attributes),
                });
            }
        }
    }
    (
        http::StatusCode::OK,
        protobuf,
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
}

impl Collector {
    async fn start() -> Collector {
        let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
        let app = axum::Router::new()
            .route("/v1/traces", post(export))
            .with_state(spans.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Collector { url, spans }
    }

    fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap().clone()
    }

    /// Wait until `done` holds for the spans exported so far.
    async fn wait(&self, what: &str, done: impl Fn(&[Span]) -> bool) -> Vec<Span> {
        let start = Instant::now();
        loop {
            let spans = self.spans();
            if done(&spans) {
                return spans;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "timed out waiting for {what}; spans: {:#?}",
                spans
                    .iter()
                    .map(|s| (&s.name, &s.attributes))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn find<'a>(spans: &'a [Span], name: &str, attributes: &[(&str, &str)]) -> Vec<&'a Span> {
    spans
        .iter()
        .filter(|s| s.name == name && attributes.iter().all(|(k, v)| s.attr(k) == Some(v)))
        .collect()
}

fn one<'a>(spans: &'a [Span], name: &str, attributes: &[(&str, &str)]) -> &'a Span {
    let found = find(spans, name, attributes);
    assert_eq!(
        found.len(),
        1,
        "one {name} with {attributes:?}: {:#?}",
        spans
            .iter()
            .map(|s| (&s.name, &s.attributes))
            .collect::<Vec<_>>()
    );
    found[0]
}

fn child_of(span: &Span, parent: &Span) {
    assert_eq!(
        (&span.trace_id, &span.parent),
        (&parent.trace_id, &parent.span_id),
        "{} is a child of {}",
        span.name,
        parent.name
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_exports_one_trace_per_webhook_to_the_otlp_endpoint() {
    let Some(exe) = option_env!("CARGO_BIN_EXE_tradecloud") else {
        eprintln!("skipped: the tradecloud binary is not built (feature cli)");
        return;
    };
    let collector = Collector::start().await;
    let mock = tradecloud::mock::MockServer::start(tradecloud::mock::MockConfig::new().demo_data())
        .await
        .unwrap();
    let credentials = mock.credentials();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = tls::dev_certificate(&["localhost"]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    let config = dir.path().join("tradecloud.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ntls_cert = {:?}\ntls_key = {:?}\n\
             [auth]\nmethod = \"basic\"\nusername = \"{USER}\"\n\
             [store]\nurl = \"sqlite://{}\"\n\
             [processing]\npoll_interval_ms = 50\n",
            cert_path.display().to_string(),
            key_path.display().to_string(),
            dir.path().join("inbox.db").display()
        ),
    )
    .unwrap();
    let mut command = Command::new(exe);
    command
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .env("TRADECLOUD_AUTH_PASSWORD", PASSWORD)
        .env("TRADECLOUD_BASE_URL", mock.base_url())
        .env("TRADECLOUD_USERNAME", &credentials.username)
        .env("TRADECLOUD_PASSWORD", &credentials.password)
        // Only the standard variables turn traces on.
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.url)
        .env("OTEL_SERVICE_NAME", "tradecloud-test")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("RUST_LOG", "warn");
    for name in [
        "OTEL_SDK_DISABLED",
        "OTEL_TRACES_EXPORTER",
        "OTEL_TRACES_SAMPLER",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_RESOURCE_ATTRIBUTES",
    ] {
        command.env_remove(name);
    }
    let (_child, addr) = spawn_serve(command, Duration::from_secs(30)).await;
    let client = client_for(&cert, addr);
    let url = |path: &str| format!("https://localhost:{}{path}", addr.port());
    let order_event = String::from_utf8(fixture("order-webhook/order-event.json")).unwrap();

    // 1. A POSTed event.
    let response = client
        .post(url("/tradecloud/order"))
        .basic_auth(USER, Some(PASSWORD))
        .header("content-type", "application/json")
        .body(order_event.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let id = json(response).await["id"].to_string();
    // 2. One with a `traceparent` from a proxy in front.
    let (remote_trace, remote_span) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let response = client
        .post(url("/tradecloud/order"))
        .basic_auth(USER, Some(PASSWORD))
        .header("content-type", "application/json")
        .header("traceparent", format!("00-{remote_trace}-{remote_span}-01"))
        .body(order_event.replace("5b0c2f0e-8f4a-4d5e-9c3b-2a1d0e9f8c7b", "second"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let second = json(response).await["id"].to_string();
    // 3. A GET webhook: the order is fetched from the API, then handled.
    let response = client
        .get(url(&format!("/tradecloud/order/{DEMO_ORDER}")))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let trigger = json(response).await["id"].to_string();
    // 4. A GET webhook of an order Tradecloud does not have: the fetch's
    // 404 is the handle span's error.
    let response = client
        .get(url("/tradecloud/order/no-such-order"))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let missing = json(response).await["id"].to_string();

    let spans = collector
        .wait("the handling of all five events", |spans| {
            find(
                spans,
                "tradecloud.handle",
                &[("tradecloud.outcome", "done")],
            )
            .len()
                == 3
                && find(
                    spans,
                    "tradecloud.handle",
                    &[("tradecloud.outcome", "fetched")],
                )
                .len()
                    == 1
                && find(spans, "tradecloud.claim", &[]).len() == 5
                && find(spans, "tradecloud.handle", &[("tradecloud.inbox.id", &missing)])
                    .iter()
                    .any(|s| s.attr("error.message").is_some())
                // The four requests' spans may end after their handling.
                && find(spans, "tradecloud.receive", &[]).len() >= 4
        })
        .await;
    assert!(
        spans.iter().all(|s| s.service == "tradecloud-test"),
        "OTEL_SERVICE_NAME names the service"
    );

    // 1: receive → store, claim, handle, with the event's attributes.
    let receive = one(
        &spans,
        "tradecloud.receive",
        &[("tradecloud.inbox.id", &id)],
    );
    assert_eq!(receive.kind, SpanKind::Server as i32);
    assert_eq!(receive.parent, "", "a new trace");
    // What README.md ("Traces") names: event name, order id, message id,
    // inbox id (the selector above), outcome; and the request's method,
    // path and status.
    for (key, value) in [
        ("tradecloud.event.name", "OrderLinesConfirmedBySupplier"),
        ("tradecloud.event.kind", "order"),
        ("tradecloud.order_id", DEMO_ORDER),
        (
            "tradecloud.message_id",
            "5b0c2f0e-8f4a-4d5e-9c3b-2a1d0e9f8c7b",
        ),
        ("tradecloud.outcome", "stored"),
        ("http.response.status_code", "202"),
        ("http.request.method", "POST"),
        ("url.path", "/tradecloud/order"),
    ] {
        assert_eq!(receive.attr(key), Some(value), "receive {key}");
    }
    let store = one(&spans, "tradecloud.store", &[("tradecloud.inbox.id", &id)]);
    child_of(store, receive);
    assert_eq!(store.attr("tradecloud.outcome"), Some("stored"));
    let claim = one(&spans, "tradecloud.claim", &[("tradecloud.inbox.id", &id)]);
    child_of(claim, receive);
    let handle = one(&spans, "tradecloud.handle", &[("tradecloud.inbox.id", &id)]);
    child_of(handle, receive);
    for (key, value) in [
        ("tradecloud.event.name", "OrderLinesConfirmedBySupplier"),
        ("tradecloud.event.kind", "order"),
        ("tradecloud.order_id", DEMO_ORDER),
        (
            "tradecloud.message_id",
            "5b0c2f0e-8f4a-4d5e-9c3b-2a1d0e9f8c7b",
        ),
        ("tradecloud.origin", "webhook"),
        ("tradecloud.outcome", "done"),
        ("tradecloud.attempt", "1"),
    ] {
        assert_eq!(handle.attr(key), Some(value), "handle {key}");
    }
    assert_eq!(handle.attr("error.message"), None, "{handle:?}");
    assert_ne!(handle.status, 2, "a handling that succeeded: {handle:?}");

    // 2: the incoming traceparent is the receive span's parent.
    let receive = one(
        &spans,
        "tradecloud.receive",
        &[("tradecloud.inbox.id", &second)],
    );
    assert_eq!(
        (receive.trace_id.as_str(), receive.parent.as_str()),
        (remote_trace, remote_span)
    );
    child_of(
        one(
            &spans,
            "tradecloud.handle",
            &[("tradecloud.inbox.id", &second)],
        ),
        receive,
    );

    // 3: the fetch is an API call inside the trigger's handle span; the
    // fetched order's handling joins the trigger's trace.
    let receive = one(
        &spans,
        "tradecloud.receive",
        &[("tradecloud.inbox.id", &trigger)],
    );
    assert_eq!(receive.attr("tradecloud.outcome"), Some("trigger"));
    let fetch = one(
        &spans,
        "tradecloud.handle",
        &[("tradecloud.inbox.id", &trigger)],
    );
    child_of(fetch, receive);
    assert_eq!(fetch.attr("tradecloud.outcome"), Some("fetched"));
    let call = one(
        &spans,
        "GET /order/{orderId}",
        &[("http.response.status_code", "200")],
    );
    child_of(call, fetch);
    assert_eq!(call.kind, SpanKind::Client as i32);
    // README.md: method, path template, status, attempts, latency.
    for (key, value) in [
        ("http.response.status_code", "200"),
        ("http.request.method", "GET"),
        ("url.template", "/order/{orderId}"),
        ("tradecloud.operation", "get_order_by_id"),
        ("attempts", "1"),
    ] {
        assert_eq!(call.attr(key), Some(value), "API call {key}: {call:?}");
    }
    let latency: f64 = call
        .attr("latency_ms")
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| panic!("API call latency_ms: {call:?}"));
    assert!(latency >= 0.0, "{call:?}");
    let fetched = one(
        &spans,
        "tradecloud.handle",
        &[("tradecloud.origin", "fetched")],
    );
    child_of(fetched, receive);
    assert_eq!(fetched.attr("tradecloud.outcome"), Some("done"));
    assert_eq!(fetched.attr("tradecloud.order_id"), Some(DEMO_ORDER));

    // 4: the failed attempt says why, and is an error.
    let failed = find(
        &spans,
        "tradecloud.handle",
        &[("tradecloud.inbox.id", &missing)],
    )
    .into_iter()
    .find(|s| s.attr("error.message").is_some())
    .unwrap();
    assert_eq!(failed.status, 2, "an error status: {failed:?}");
    assert_eq!(failed.attr("tradecloud.order_id"), Some("no-such-order"));
    let error = failed.attr("error.message").unwrap_or_default();
    assert!(error.contains("no-such-order"), "{failed:?}");
    let call = one(
        &spans,
        "GET /order/{orderId}",
        &[("http.response.status_code", "404")],
    );
    child_of(call, failed);
    assert_eq!(call.status, 2, "{call:?}");
}

/// A collector answering `401` (a hosted backend refusing the API key in
/// OTEL_EXPORTER_OTLP_HEADERS) until `accept` is set, then `200`.
async fn refusing_collector(accept: Arc<std::sync::atomic::AtomicBool>) -> String {
    async fn answer(
        State(accept): State<Arc<std::sync::atomic::AtomicBool>>,
    ) -> (
        http::StatusCode,
        [(http::HeaderName, &'static str); 1],
        Vec<u8>,
    ) {
        let protobuf = [(http::header::CONTENT_TYPE, "application/x-protobuf")];
        if accept.load(std::sync::atomic::Ordering::SeqCst) {
            (
                http::StatusCode::OK,
                protobuf,
                ExportTraceServiceResponse::default().encode_to_vec(),
            )
        } else {
            (http::StatusCode::UNAUTHORIZED, protobuf, Vec::new())
        }
    }
    let app = axum::Router::new()
        .route("/v1/traces", post(answer))
        .with_state(accept);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// `tradecloud serve` exporting to `endpoint`, its address, its log and its certificate.
async fn serve_exporting_to(
    dir: &std::path::Path,
    endpoint: &str,
) -> (
    tokio::process::Child,
    std::net::SocketAddr,
    Arc<Mutex<Vec<String>>>,
    String,
) {
    let Some(exe) = option_env!("CARGO_BIN_EXE_tradecloud") else {
        panic!("the tradecloud binary is not built (feature cli)");
    };
    let (config, cert) = serve_config(
        dir,
        &format!(
            "[store]\nurl = \"sqlite://{}\"\n[processing]\npoll_interval_ms = 50\n",
            dir.join("inbox.db").display()
        ),
    );
    let mut command = Command::new(exe);
    command
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .env("TRADECLOUD_AUTH_PASSWORD", PASSWORD)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("OTEL_EXPORTER_OTLP_TIMEOUT", "2000")
        .env("RUST_LOG", "warn,tradecloud=info");
    for name in [
        "OTEL_SDK_DISABLED",
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_HEADERS",
    ] {
        command.env_remove(name);
    }
    let (child, addr, log) = spawn_serve_logged(command, Duration::from_secs(30)).await;
    (child, addr, log, cert)
}

/// POST an order event (its spans are then exported).
async fn deliver(client: &reqwest::Client, addr: std::net::SocketAddr, n: usize) {
    let body = String::from_utf8(fixture("order-webhook/order-event.json"))
        .unwrap()
        .replace(
            "5b0c2f0e-8f4a-4d5e-9c3b-2a1d0e9f8c7b",
            &format!("export-{n}"),
        );
    let response = client
        .post(format!(
            "https://localhost:{}/tradecloud/order",
            addr.port()
        ))
        .basic_auth(USER, Some(PASSWORD))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
}

fn lines_with(log: &Mutex<Vec<String>>, text: &str) -> usize {
    log.lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains(text))
        .count()
}

async fn wait_for_line(log: &Mutex<Vec<String>>, text: &str) {
    let start = Instant::now();
    while lines_with(log, text) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no log line with {text:?}: {:#?}",
            log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `tradecloud_trace_export_failures_total` of a scrape.
async fn export_failures(client: &reqwest::Client, addr: std::net::SocketAddr) -> u64 {
    let text = client
        .get(format!("https://localhost:{}/metrics", addr.port()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("tradecloud_trace_export_failures_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

const NOT_REACHING: &str = "traces are not reaching the collector";

/// A collector that refuses the exports (`401`) is warned about once per
/// streak of failures, each failure is counted in
/// `tradecloud_trace_export_failures_total`, and a line says when exports
/// work again; with nothing at the endpoint the warning comes too, and the
/// stop says that traces were lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_exports_are_warned_about_once_per_streak_and_counted() {
    if option_env!("CARGO_BIN_EXE_tradecloud").is_none() {
        eprintln!("skipped: the tradecloud binary is not built (feature cli)");
        return;
    }
    // 1. 401, then accepted.
    let accept = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let url = refusing_collector(accept.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let (_child, addr, log, cert) = serve_exporting_to(dir.path(), &url).await;
    let client = client_for(&cert, addr);
    deliver(&client, addr, 1).await;
    wait_for_line(&log, NOT_REACHING).await;
    assert!(
        log.lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(NOT_REACHING) && l.contains("401") && l.contains(&url)),
        "the warning names the endpoint and the status: {:#?}",
        log.lock().unwrap()
    );
    // More failed exports: counted, not warned about again.
    let start = Instant::now();
    let mut n = 2;
    while export_failures(&client, addr).await < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "failures counted"
        );
        deliver(&client, addr, n).await;
        n += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        lines_with(&log, NOT_REACHING),
        1,
        "{:#?}",
        log.lock().unwrap()
    );
    accept.store(true, std::sync::atomic::Ordering::SeqCst);
    deliver(&client, addr, n).await;
    wait_for_line(&log, "traces reach the collector again").await;

    // 2. Nothing listening: the warning, and at the stop, the loss.
    let dir = tempfile::tempdir().unwrap();
    let nobody = format!("http://127.0.0.1:{}", crate::certs_support::free_port());
    let (mut child, addr, log, cert) = serve_exporting_to(dir.path(), &nobody).await;
    deliver(&client_for(&cert, addr), addr, 1).await;
    wait_for_line(&log, NOT_REACHING).await;
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    wait_for_line(&log, "traces were lost").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handlers_spans_and_api_calls_nest_in_the_handle_span() {
    use tracing::Instrument as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tradecloud::processing::{handler_fn, Event, HandlerContext, HandlerError};
    use tradecloud::telemetry::{Telemetry, TelemetryConfig};
    use tradecloud::testing::{Sample, TestBed};

    let collector = Collector::start().await;
    let telemetry = Telemetry::from_config(&TelemetryConfig {
        otlp_endpoint: Some(collector.url.clone()),
        service_name: Some("my-erp-bridge".into()),
    })
    .unwrap()
    .expect("an endpoint turns traces on");
    tracing_subscriber::registry()
        .with(telemetry.layer())
        .try_init()
        .expect("the only subscriber of this test binary");

    let handler = handler_fn(|event: Event, ctx: HandlerContext| async move {
        let span = tracing::info_span!("erp.write", erp.inbox_id = event.meta().inbox_id);
        async {
            let client = ctx
                .client()
                .ok_or_else(|| HandlerError::Permanent("no client".into()))?;
            client
                .orders()
                .get(DEMO_ORDER)
                .await
                .map_err(|e| HandlerError::Transient(e.to_string()))?;
            Ok(())
        }
        .instrument(span)
        .await
    });
    let bed = TestBed::start(handler).await.unwrap();
    bed.deliver(&Sample::order_event("OrderIssuedByBuyer"))
        .await
        .unwrap();
    let handled = bed.wait_handled(1).await.unwrap();
    assert!(handled[0].result.is_ok(), "{handled:?}");
    telemetry.flush();
    // The subscriber is global and the other tests of this binary run in
    // the same process, so the collector gets their spans too: look only
    // at the trace of this test's own span (`erp.write`).
    let this_trace = |spans: &[Span]| -> Vec<Span> {
        let Some(own) = find(spans, "erp.write", &[])
            .first()
            .map(|s| s.trace_id.clone())
        else {
            return Vec::new();
        };
        spans
            .iter()
            .filter(|s| s.trace_id == own)
            .cloned()
            .collect()
    };
    let spans = collector
        .wait("the request's and the handler's spans", |spans| {
            let spans = this_trace(spans);
            // The request's span ends when its answer is written, which
            // may be after the handler's spans (the processor starts on
            // the commit): wait for it too.
            !find(&spans, "tradecloud.receive", &[]).is_empty()
                && !find(&spans, "GET /order/{orderId}", &[]).is_empty()
                && !find(&spans, "tradecloud.handle", &[]).is_empty()
        })
        .await;
    let spans = this_trace(&spans);
    let receive = one(&spans, "tradecloud.receive", &[]);
    let handle = one(&spans, "tradecloud.handle", &[]);
    child_of(handle, receive);
    let own = one(&spans, "erp.write", &[]);
    child_of(own, handle);
    assert_eq!(own.attr("erp.inbox_id"), handle.attr("tradecloud.inbox.id"));
    let call = one(
        &spans,
        "GET /order/{orderId}",
        &[("http.response.status_code", "200")],
    );
    child_of(call, own);
    assert!(spans.iter().all(|s| s.service == "my-erp-bridge"));
    bed.shutdown().await.unwrap();
    telemetry.shutdown();
}
