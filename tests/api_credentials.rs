//! Issue 23: wrong `[tradecloud]` credentials are a configuration fault.
//! A GET webhook's fetch refused with 401 stays queued (it used to be dead
//! at its first try), the refusal shows in the metrics and in `/readyz`
//! (which stays 200: receiving goes on), the credentials are checked at
//! start, and once they are fixed the queued event goes through without a
//! replay. Real receiver over TLS, real mock of Tradecloud over HTTP.
#![cfg(all(feature = "receiver", feature = "mock"))]

use crate::receiver_support;

use std::time::{Duration, Instant};

use receiver_support::*;
use tradecloud::inbox::{Inbox, State};
use tradecloud::mock::{MockConfig, MockServer};
use tradecloud::receiver::LogHandler;

/// An order of the mock's demo data.
const ORDER_ID: &str = "4fd2a3c0-6b1e-4e8b-9c2a-1d3e5f7a9b0c";

fn config_with(server: &MockServer, password: &str) -> String {
    format!(
        "{}[tradecloud]\nbase_url = {:?}\nusername = {:?}\npassword = {:?}\n\
         [processing]\nbackoff_base_ms = 50\nbackoff_max_secs = 1\npoll_interval_ms = 50\n",
        basic_config(""),
        server.base_url(),
        server.credentials().username,
        password
    )
}

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !done().await {
        assert!(start.elapsed() < Duration::from_secs(30), "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_keep_get_webhook_events_queued_until_fixed() {
    let server = MockServer::start(MockConfig::new().demo_data())
        .await
        .expect("the mock starts");
    // The inbox outlives the first receiver.
    let dir = tempfile::tempdir().unwrap();
    let inbox = Inbox::open(&format!(
        "sqlite://{}",
        dir.path().join("inbox.db").display()
    ))
    .unwrap();
    let rx = start_with(&config_with(&server, "not-the-password"), |b| {
        b.handler(LogHandler).inbox(inbox.clone())
    })
    .await;

    // The check at start found out, before any event.
    wait_until("the check at start reports the refusal", async || {
        metric(&rx.metrics.encode(), "tradecloud_api_credentials_valid") == Some(0.0)
    })
    .await;

    let response = rx
        .basic(
            rx.client
                .get(rx.url(&format!("/tradecloud/order/{ORDER_ID}"))),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let id = json(response).await["id"].as_i64().unwrap();

    // Retried, never dead.
    wait_until("the trigger is retried several times", async || {
        let event = inbox.get(id).await.unwrap().unwrap().summary;
        assert_ne!(event.state, State::Dead, "dead-lettered: {event:?}");
        event.attempts >= 3
    })
    .await;
    let event = inbox.get(id).await.unwrap().unwrap().summary;
    assert!(
        matches!(
            event.state,
            State::Retrying | State::Processing | State::Trigger
        ),
        "{event:?}"
    );
    let error = event.error.unwrap_or_default();
    assert!(error.contains("credentials"), "{error}");

    // Counted once for the interval, however many fetches were refused.
    let text = rx.metrics.encode();
    assert_eq!(
        metric(&text, "tradecloud_api_auth_failures_total"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(metric(&text, "tradecloud_api_credentials_valid"), Some(0.0));

    // /readyz: still ready to receive, and says what is wrong.
    let ready = rx.client.get(rx.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready = json(ready).await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["tradecloudApi"]["credentials"], "refused", "{ready}");
    assert!(
        ready["tradecloudApi"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("rejected the credentials"),
        "{ready}"
    );
    rx.stop().await;

    // Fixed: the same inbox, the right password. The queued trigger goes
    // through by itself.
    let fixed = start_with(&config_with(&server, &server.credentials().password), |b| {
        b.handler(LogHandler).inbox(inbox.clone())
    })
    .await;
    wait_until("the queued trigger is fetched once fixed", async || {
        inbox.get(id).await.unwrap().unwrap().summary.state == State::Done
    })
    .await;
    let text = fixed.metrics.encode();
    assert_eq!(metric(&text, "tradecloud_api_credentials_valid"), Some(1.0));
    let ready = json(fixed.client.get(fixed.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(ready["tradecloudApi"]["credentials"], "accepted", "{ready}");
    fixed.stop().await;
    server.shutdown().await.unwrap();
}

/// A receiver configured (right password) for a mock that is stopped
/// before it starts: the address the mock listened on, and the receiver.
async fn receiver_with_the_api_down() -> (std::net::SocketAddr, TestReceiver) {
    let server = MockServer::start(MockConfig::new().demo_data())
        .await
        .expect("the mock starts");
    let addr = server.local_addr();
    let config = config_with(&server, &server.credentials().password);
    server.shutdown().await.unwrap();
    (addr, start_with(&config, |b| b.handler(LogHandler)).await)
}

/// `tradecloud_api_credentials_valid` means "not refused": it stays `1`
/// while Tradecloud cannot be reached at all. `tradecloud_api_reachable`
/// says whether the last call was answered, and `/readyz` says since when
/// it was not: Tradecloud (the mock) down at start, started, stopped again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_api_is_said_apart_from_the_credentials() {
    // Where Tradecloud will listen, with nothing there yet.
    let (addr, rx) = receiver_with_the_api_down().await;
    let gauges = |text: &str| {
        (
            metric(text, "tradecloud_api_reachable"),
            metric(text, "tradecloud_api_credentials_valid"),
        )
    };

    // The check at start met no Tradecloud: unreachable, but nothing refused.
    wait_until("the check at start finds the API unreachable", async || {
        let ready = json(rx.client.get(rx.url("/readyz")).send().await.unwrap()).await;
        ready["tradecloudApi"]["reachable"] == false
    })
    .await;
    let text = rx.metrics.encode();
    assert_eq!(gauges(&text), (Some(0.0), Some(1.0)), "{text}");
    assert_eq!(
        metric(&text, "tradecloud_api_last_success_timestamp_seconds"),
        Some(0.0),
        "{text}"
    );

    // Tradecloud is up: a GET webhook's fetch is answered.
    let server = MockServer::start(MockConfig::new().demo_data().listen(addr))
        .await
        .expect("the mock starts again on its address");
    let trigger = |rx: &TestReceiver| {
        rx.basic(
            rx.client
                .get(rx.url(&format!("/tradecloud/order/{ORDER_ID}"))),
        )
        .send()
    };
    assert_eq!(trigger(&rx).await.unwrap().status(), 202);
    wait_until("the fetch finds the API reachable", async || {
        gauges(&rx.metrics.encode()) == (Some(1.0), Some(1.0))
    })
    .await;
    let text = rx.metrics.encode();
    let success = metric(&text, "tradecloud_api_last_success_timestamp_seconds").unwrap();
    assert!(
        (success - chrono::Utc::now().timestamp() as f64).abs() < 600.0,
        "{text}"
    );
    let ready = json(rx.client.get(rx.url("/readyz")).send().await.unwrap()).await;
    assert!(ready["tradecloudApi"].get("reachable").is_none(), "{ready}");

    // Down again: the next fetch is not answered.
    server.shutdown().await.unwrap();
    assert_eq!(trigger(&rx).await.unwrap().status(), 202);
    wait_until("the fetch finds the API unreachable again", async || {
        gauges(&rx.metrics.encode()) == (Some(0.0), Some(1.0))
    })
    .await;
    let ready = json(rx.client.get(rx.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(ready["tradecloudApi"]["credentials"], "accepted", "{ready}");
    assert!(
        ready["tradecloudApi"]["unreachableError"]
            .as_str()
            .unwrap_or_default()
            .contains(&addr.port().to_string()),
        "{ready}"
    );
    // The check made again while unreachable (every second at first) calls
    // Tradecloud for real: with the tokens of the start held, a login
    // answered from them and said "reachable" within a second.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let text = rx.metrics.encode();
    assert_eq!(
        gauges(&text),
        (Some(0.0), Some(1.0)),
        "the API is still down: {text}"
    );
    rx.stop().await;
}

/// An API unreachable at the check at start is checked again until it
/// answers: with POST webhooks only nothing else calls it, and the gauge
/// (and `TradecloudApiUnreachable`) stayed at `0` until a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_unreachable_at_start_is_checked_again_until_it_answers() {
    let (addr, rx) = receiver_with_the_api_down().await;
    wait_until("the check at start finds the API unreachable", async || {
        metric(&rx.metrics.encode(), "tradecloud_api_reachable") == Some(0.0)
            && json(rx.client.get(rx.url("/readyz")).send().await.unwrap()).await["tradecloudApi"]
                ["reachable"]
                == false
    })
    .await;
    // Tradecloud is up; no GET webhook comes.
    let server = MockServer::start(MockConfig::new().demo_data().listen(addr))
        .await
        .expect("the mock starts again on its address");
    wait_until("the API is found reachable without a fetch", async || {
        metric(&rx.metrics.encode(), "tradecloud_api_reachable") == Some(1.0)
    })
    .await;
    let ready = json(rx.client.get(rx.url("/readyz")).send().await.unwrap()).await;
    assert!(ready["tradecloudApi"].get("reachable").is_none(), "{ready}");
    rx.stop().await;
    server.shutdown().await.unwrap();
}

/// A document download a handler makes through the receiver's client
/// (`ctx.client()`) is a call to Tradecloud's API too: its answer moves
/// `tradecloud_api_last_success_timestamp_seconds` as a fetch does. Only
/// the check at start and GET-webhook fetches did: with POST webhooks and
/// downloads only, the gauge kept the time of the start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handlers_document_download_counts_for_the_api_health() {
    let (server, rx, downloads) = start_downloading().await;
    let last_success = |rx: &TestReceiver| {
        metric(
            &rx.metrics.encode(),
            "tradecloud_api_last_success_timestamp_seconds",
        )
    };
    wait_until("the check at start succeeds", async || {
        last_success(&rx).is_some_and(|t| t > 0.0)
    })
    .await;
    let at_start = last_success(&rx).unwrap();
    // The gauge has milliseconds: the download's call comes later than that.
    tokio::time::sleep(Duration::from_millis(5)).await;

    post_order_issued(&rx).await;
    wait_until("the handler downloads the document", async || {
        std::fs::read_dir(downloads.path()).is_ok_and(|mut d| d.next().is_some())
    })
    .await;
    wait_until("the download's call moves the last success", async || {
        last_success(&rx).is_some_and(|t| t > at_start)
    })
    .await;
    rx.stop().await;
    server.shutdown().await.unwrap();
}

/// The transfer of a document's bytes from Tradecloud's object storage
/// (the presigned `downloadUrl`) is Tradecloud's service too: a storage
/// that answers 503 to every try makes the API health say unreachable.
/// Only the metadata call counted, which the storage's failure followed
/// with `tradecloud_api_reachable` still at `1`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_transfer_from_the_object_storage_counts_for_the_api_health() {
    use tradecloud::mock::{operation, FaultConfig, FaultTrigger};

    let (server, rx, _downloads) = start_downloading().await;
    let reachable = |rx: &TestReceiver| metric(&rx.metrics.encode(), "tradecloud_api_reachable");
    wait_until("the check at start finds the API reachable", async || {
        reachable(&rx) == Some(1.0)
    })
    .await;
    // The storage fails; the API (the metadata call) still answers.
    server
        .set_faults(vec![FaultConfig::service_unavailable(FaultTrigger::Always)
            .for_operations([operation::MOCK_S3_DOWNLOAD])])
        .unwrap();
    post_order_issued(&rx).await;
    // The client's retries (about 15 s) come first.
    let start = Instant::now();
    while reachable(&rx) != Some(0.0) {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "the failed transfer makes the API unreachable: {}",
            rx.metrics.encode()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ready = json(rx.client.get(rx.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(ready["tradecloudApi"]["reachable"], false, "{ready}");
    assert_eq!(ready["tradecloudApi"]["credentials"], "accepted", "{ready}");
    assert!(
        ready["tradecloudApi"]["unreachableError"]
            .as_str()
            .unwrap_or_default()
            .contains("503"),
        "{ready}"
    );
    assert!(server.stats().requests_for(operation::MOCK_S3_DOWNLOAD) > 0);
    rx.stop().await;
    server.shutdown().await.unwrap();
}

/// Posts an `OrderIssuedByBuyer` event of the demo order `o1` to `rx`
/// (its handler then downloads the order's document), accepted.
async fn post_order_issued(rx: &TestReceiver) {
    let response = rx
        .post(
            "/tradecloud/order",
            "application/json",
            r#"{"eventName":"OrderIssuedByBuyer","orderEvent":{"orderId":"o1"}}"#,
        )
        .await;
    assert_eq!(response.status(), 202);
}

/// The demo mock, and a receiver against it whose handler downloads
/// [`DOCUMENT_ID`] into the directory returned ([`downloading_handler`]).
async fn start_downloading() -> (MockServer, TestReceiver, tempfile::TempDir) {
    let server = MockServer::start(MockConfig::new().demo_data())
        .await
        .expect("the mock starts");
    let downloads = tempfile::tempdir().unwrap();
    let config = config_with(&server, &server.credentials().password);
    let rx = start_with(&config, |b| {
        b.handler(downloading_handler(downloads.path()))
    })
    .await;
    (server, rx, downloads)
}

/// A handler that downloads [`DOCUMENT_ID`] into `into` with the
/// receiver's client (`ctx.client()`).
fn downloading_handler(into: &std::path::Path) -> impl tradecloud::processing::Handler {
    use tradecloud::processing::{handler_fn, HandlerContext, HandlerError};

    let into = into.to_owned();
    handler_fn(move |_event, ctx: HandlerContext| {
        let into = into.clone();
        async move {
            let client = ctx
                .client()
                .ok_or_else(|| HandlerError::Permanent("no client".into()))?;
            client
                .documents()
                .download(DOCUMENT_ID, &into)
                .await
                .map(|_| ())
                .map_err(|e| HandlerError::Permanent(e.to_string()))
        }
    })
}

/// A document of the mock's demo data.
const DOCUMENT_ID: &str = "05d251f0-0166-4e1e-8110-8d7a507b18f4";
