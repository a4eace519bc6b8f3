//! The SDK surface of `tradecloud::client::Client` against the mock of
//! Tradecloud over real HTTP: the API groups, polling as a stream with
//! watermarks that are safe to persist, downloads without a progress
//! closure (files follow the umask), the builder's proxy, default headers
//! and own `reqwest::Client`, and the tracing span of every call (with no
//! secret in any span or event).

#![cfg(feature = "mock")]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use tradecloud::api::order::operations::GET_ORDER_BY_ID_ROUTE;
use tradecloud::api::order_search::operations::POLL_ORDERS_ROUTE;
use tradecloud::client::{Client, ClientError, DownloadOutcome, Environment, Polled};
use tradecloud::mock::{FaultConfig, FaultTrigger, MockConfig};
use tradecloud::types::DateTime;

use crate::client_support as support;
use support::{at, builder, client, order, start, MANUAL_OBJECT_ID, ORDER_ID, SHIPMENT_ID};

#[tokio::test]
async fn the_groups_reach_orders_shipments_and_documents() {
    let server = start(MockConfig::new().demo_data()).await;
    let client = client(&server);
    let order = client.orders().get(ORDER_ID).await.expect("the order");
    assert_eq!(order.id(), ORDER_ID);
    let shipment = client
        .shipments()
        .get(SHIPMENT_ID)
        .await
        .expect("the shipment");
    assert_eq!(shipment.id(), SHIPMENT_ID);
    let metadata = client
        .documents()
        .metadata(MANUAL_OBJECT_ID)
        .await
        .expect("the metadata");
    assert!(metadata.download_url.is_some());
    // The generated client behind a group shares the tokens.
    client
        .orders()
        .api()
        .get_order_by_id(ORDER_ID)
        .await
        .expect("the raw call");
    assert_eq!(server.stats().logins, 1);
}

/// A stream hands out every order once, a watermark after each page
/// (the mock sorts by change time) and the server's last one at the
/// end; a poll resumed from a watermark handed out mid-way loses
/// nothing.
#[tokio::test]
async fn a_stream_hands_out_items_and_safe_watermarks_page_by_page() {
    let mut config = MockConfig::new();
    for i in 0..250 {
        config = config.order(order(&format!("po-{i:03}"), &at(i / 5)));
    }
    let server = start(config).await;
    let client = client(&server);

    let mut stream = client.orders().stream_since(None);
    let mut ids = Vec::new();
    let mut watermarks: Vec<(usize, DateTime)> = Vec::new();
    while let Some(event) = stream.next().await {
        match event.expect("no error") {
            Polled::Item(order) => ids.push(order.id().to_owned()),
            Polled::Watermark(w) => watermarks.push((ids.len(), w)),
        }
    }
    assert_eq!(ids.len(), 250);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 250);
    assert_eq!(stream.pages(), 3);
    let shown: Vec<(usize, &str)> = watermarks.iter().map(|(n, w)| (*n, w.as_str())).collect();
    assert_eq!(
        shown,
        [
            (100, at(18).as_str()),
            (200, at(38).as_str()),
            (250, at(49).as_str())
        ]
    );

    // A crash after the first page: resume from its watermark. The
    // orders of second 19 come again; none is lost.
    let resumed = client
        .orders()
        .poll_since(Some(watermarks[0].1.clone()))
        .await
        .expect("the resumed poll");
    let again: BTreeSet<String> = resumed.items.iter().map(|o| o.id().to_owned()).collect();
    let after_first_page: BTreeSet<String> = (95..250).map(|i| format!("po-{i:03}")).collect();
    assert_eq!(again, after_first_page);
    assert_eq!(
        resumed.next_watermark.as_ref().map(DateTime::as_str),
        Some(at(49).as_str())
    );
}

/// A poll that fails after a page says from which watermark to go on;
/// polling again from it delivers the rest and, at least once, the last
/// item of the last good page (with the others of its change time).
#[tokio::test]
async fn a_failed_stream_says_where_to_resume() {
    let mut config = MockConfig::new();
    for i in 0..250 {
        config = config.order(order(&format!("po-{i:03}"), &at(i / 5)));
    }
    let server = start(config).await;
    let client = client(&server);
    let start_from: DateTime = at(0).parse().expect("a watermark");

    let mut stream = client.orders().stream_since(Some(start_from.clone()));
    let mut delivered = Vec::new();
    while let Some(event) = stream.next().await {
        match event.expect("the first page") {
            Polled::Item(order) => delivered.push(order.id().to_owned()),
            // The page holds po-005 to po-104 (seconds 1 to 20): safe
            // is the time before its last one.
            Polled::Watermark(w) => {
                assert_eq!(w.as_str(), at(19));
                break;
            }
        }
    }
    // The next page fails with an answer no retry changes.
    server
        .set_faults(vec![
            FaultConfig::status(400, FaultTrigger::Always).for_operations([POLL_ORDERS_ROUTE.id])
        ])
        .expect("a fault");
    let error = match stream.next().await {
        Some(Err(error)) => error,
        other => panic!("an error, not {other:?}"),
    };
    assert_eq!(
        error.resume_from.as_ref().map(DateTime::as_str),
        Some(at(19).as_str())
    );
    assert_eq!(error.pages, 1);
    assert!(
        matches!(error.error, ClientError::Rejected { status: 400, .. }),
        "{error:?}"
    );
    assert!(!error.is_transient());
    let message = error.to_string();
    assert!(
        message.contains(&format!("poll again from watermark {}", at(19))),
        "{message}"
    );
    assert!(stream.next().await.is_none(), "an error ends the stream");

    // A batch poll that fails resumes from where it started.
    let batch_error = client
        .orders()
        .poll_since(Some(start_from.clone()))
        .await
        .expect_err("the fault is still on");
    assert_eq!(batch_error.resume_from, Some(start_from));

    server.clear_faults();
    let resumed = client
        .orders()
        .poll_since(error.resume_from)
        .await
        .expect("the resumed poll");
    let again: Vec<&str> = resumed.items.iter().map(|o| o.id()).collect();
    // Second 20's orders come again: the last item of the last good page
    // (po-104) and the others of its change time.
    let twice: Vec<&str> = again
        .iter()
        .copied()
        .filter(|id| delivered.iter().any(|d| d == id))
        .collect();
    assert_eq!(twice, ["po-100", "po-101", "po-102", "po-103", "po-104"]);
    let mut everything: BTreeSet<String> = delivered.into_iter().collect();
    everything.extend(again.iter().map(|id| id.to_string()));
    // po-000 to po-004 changed at second 0, the start: not after it.
    assert_eq!(everything.len(), 245, "nothing is lost");
}

#[tokio::test]
async fn a_download_needs_no_progress_closure_and_follows_the_umask() {
    let server = start(MockConfig::new().demo_data()).await;
    let client = client(&server);
    let dir = tempfile::tempdir().expect("a directory");
    let outcome = client
        .documents()
        .download(MANUAL_OBJECT_ID, dir.path())
        .await
        .expect("the download");
    let DownloadOutcome::Downloaded(file) = outcome else {
        panic!("a file");
    };
    assert!(file.path.starts_with(dir.path()));
    assert_eq!(
        std::fs::metadata(&file.path).expect("the file").len(),
        file.bytes
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"x").expect("a plain file");
        let mode = |p: &std::path::Path| {
            std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
        };
        assert_eq!(mode(&file.path), mode(&plain), "mode 0666 minus the umask");
    }

    let mut reports = 0;
    let outcome = client
        .documents()
        .download(MANUAL_OBJECT_ID, dir.path())
        .progress(|_| reports += 1)
        .await
        .expect("the download with progress");
    assert!(matches!(outcome, DownloadOutcome::Downloaded(_)));
    assert!(reports >= 2, "{reports}");
}

/// The base URL names a host that does not exist; the proxy (the mock,
/// which serves absolute-form requests) answers instead.
#[tokio::test]
async fn requests_go_through_the_proxy() {
    let server = start(MockConfig::new().demo_data()).await;
    let credentials = server.credentials();
    let proxy_url = server.base_url().trim_end_matches("/v2").to_owned();
    let client = Client::builder()
        .environment(Environment::custom("http://tradecloud.invalid/v2"))
        .credentials(credentials.username, credentials.password)
        .without_rate_limit()
        .proxy(reqwest::Proxy::http(&proxy_url).expect("a proxy"))
        .build()
        .expect("a client");
    let order = client.orders().get(ORDER_ID).await.expect("via the proxy");
    assert_eq!(order.id(), ORDER_ID);
    assert_eq!(server.stats().requests_for(GET_ORDER_BY_ID_ROUTE.id), 1);
}

/// A proxy that is not running: the error names the proxy given to the
/// builder, and speaks of the SDK, never of a command line flag.
#[tokio::test]
async fn a_proxy_that_is_down_is_named_in_the_error() {
    let proxy_url = format!("http://127.0.0.1:{}", crate::port_support::free_port());
    let client = Client::builder()
        .environment(Environment::custom("http://tradecloud.invalid/v2"))
        .credentials("integration@example.com", "secret")
        .without_rate_limit()
        .retry_policy(tradecloud::client::RetryPolicy::default().max_retries(0))
        .proxy(reqwest::Proxy::http(&proxy_url).expect("a proxy"))
        .build()
        .expect("a client");
    let error = client.login().await.expect_err("the proxy is down");
    assert!(
        matches!(error, ClientError::Connect { proxied: true, .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(text.contains("ClientBuilder::proxy"), "{text}");
    assert!(!text.contains("--base-url"), "{text}");
}

/// A one-request HTTP server that answers `{}` and hands back the
/// request's head.
async fn capture_one_request() -> (String, tokio::task::JoinHandle<String>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let url = format!("http://{}/v2", listener.local_addr().expect("an address"));
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("a connection");
        let mut head = Vec::new();
        let mut buffer = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buffer).await.expect("a read");
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buffer[..n]);
        }
        let body = br#"{"data":[]}"#;
        let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
        socket.write_all(answer.as_bytes()).await.expect("a write");
        socket.write_all(body).await.expect("a write");
        String::from_utf8_lossy(&head).to_lowercase()
    });
    (url, task)
}

fn any_poll_request() -> tradecloud::api::order_search::types::OrderPollRequest {
    serde_json::from_str("{}").expect("an empty poll request")
}

#[tokio::test]
async fn default_headers_and_an_own_reqwest_client_are_used() {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-tenant", "acme".parse().expect("a value"));
    let (url, head) = capture_one_request().await;
    let client = Client::builder()
        .environment(Environment::custom(url))
        .credentials("a@b.c", "p")
        .auth_mode(tradecloud::client::AuthMode::BasicEveryRequest)
        .default_headers(headers.clone())
        .build()
        .expect("a client");
    // Basic on every request is accepted only by the poll, document and
    // api-connector APIs (security/authentication.md), so poll a page.
    client
        .orders()
        .poll_page(&any_poll_request())
        .await
        .expect("an answer");
    let head = head.await.expect("the request");
    assert!(head.contains("x-tenant: acme"), "{head}");
    assert!(head.contains("authorization: basic "), "{head}");

    let own = reqwest::Client::builder()
        .default_headers({
            let mut h = reqwest::header::HeaderMap::new();
            h.insert("x-mine", "1".parse().expect("a value"));
            h
        })
        .build()
        .expect("a reqwest client");
    let (url, head) = capture_one_request().await;
    let client = Client::builder()
        .environment(Environment::custom(url))
        .credentials("a@b.c", "p")
        .auth_mode(tradecloud::client::AuthMode::BasicEveryRequest)
        .http_client(own)
        .build()
        .expect("a client");
    client
        .orders()
        .poll_page(&any_poll_request())
        .await
        .expect("an answer");
    assert!(head.await.expect("the request").contains("x-mine: 1"));
}

/// What a `tracing` subscriber saw: spans with their fields, events.
#[derive(Default, Clone)]
struct Seen(Arc<Mutex<Vec<String>>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={:?}", field.name(), value));
    }
}

impl<S> tracing_subscriber::Layer<S> for Seen
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _id: &tracing::span::Id,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut line = format!("span {}", attrs.metadata().name());
        attrs.record(&mut Fields(&mut line));
        self.0.lock().expect("a lock").push(line);
    }

    fn on_record(
        &self,
        _id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut line = "record".to_owned();
        values.record(&mut Fields(&mut line));
        self.0.lock().expect("a lock").push(line);
    }

    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut line = format!("event {}", event.metadata().level());
        event.record(&mut Fields(&mut line));
        self.0.lock().expect("a lock").push(line);
    }
}

#[tokio::test]
async fn every_call_is_a_span_without_secrets() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let server = start(
        MockConfig::new().demo_data().fault(
            tradecloud::mock::FaultConfig::service_unavailable(
                tradecloud::mock::FaultTrigger::FirstN(1),
            )
            .for_operations([GET_ORDER_BY_ID_ROUTE.id]),
        ),
    )
    .await;
    let credentials = server.credentials();
    let client = builder(&server).build().expect("a client");
    let seen = Seen::default();
    let subscriber = tracing_subscriber::registry().with(seen.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    client.orders().get(ORDER_ID).await.expect("the order");
    drop(_guard);

    let lines = seen.0.lock().expect("a lock").clone();
    let all = lines.join("\n");
    let get_span = lines
        .iter()
        .find(|l| {
            l.starts_with("span tradecloud.request")
                && l.contains("url.template=\"/order/{orderId}\"")
        })
        .unwrap_or_else(|| panic!("a span for the call:\n{all}"));
    assert!(
        get_span.contains("otel.name=GET /order/{orderId}"),
        "{get_span}"
    );
    assert!(get_span.contains("http.request.method=GET"), "{get_span}");
    assert!(
        !get_span.contains(ORDER_ID),
        "no ids in the template: {get_span}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("span tradecloud.request")
                && l.contains("url.template=\"/authentication/login\"")),
        "the login is a span too:\n{all}"
    );
    assert!(all.contains("http.response.status_code=200"), "{all}");
    assert!(all.contains("attempts=2"), "{all}");
    assert!(all.contains("http.request.resend_count=1"), "{all}");
    assert!(all.contains("latency_ms="), "{all}");
    assert!(
        all.contains("event WARN") && all.contains("503"),
        "the retry:\n{all}"
    );
    assert!(!all.contains(&credentials.password), "{all}");
    assert!(!all.to_lowercase().contains("bearer"), "{all}");
    assert!(!all.contains("eyJ"), "no token in spans or events:\n{all}");
}
