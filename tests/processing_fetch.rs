//! GET-webhook triggers fetched with the real API client from the mock of
//! Tradecloud over HTTP (`Processor::with_client`).
#![cfg(all(feature = "receiver", feature = "mock"))]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tradecloud::api::order::operations::GET_ORDER_BY_ID_ROUTE;
use tradecloud::client::{Client, Environment, RetryPolicy};
use tradecloud::inbox::{EventKind, Inbox, ListFilter, NewEvent, Origin, State};
use tradecloud::mock::{FaultConfig, FaultTrigger, MockConfig, MockServer};
use tradecloud::processing::{handler_fn, Event, HandlerContext, Processor, ProcessorConfig};

/// An order and a shipment of the mock's demo data.
const ORDER_ID: &str = "4fd2a3c0-6b1e-4e8b-9c2a-1d3e5f7a9b0c";
const SHIPMENT_ID: &str = "9a7b5c3d-1e2f-4a6b-8c0d-2e4f6a8b0c1d";

fn client(server: &MockServer) -> Client {
    let credentials = server.credentials();
    Client::builder()
        .environment(Environment::custom(server.base_url()))
        .credentials(credentials.username, credentials.password)
        .without_rate_limit()
        // No retries inside the client: the processor's backoff retries.
        .retry_policy(RetryPolicy::default().max_retries(0))
        .build()
        .expect("a client")
}

async fn wait_for_state(inbox: &Inbox, id: i64, state: State) -> tradecloud::inbox::EventSummary {
    let start = Instant::now();
    loop {
        let event = inbox.get(id).await.unwrap().expect("event").summary;
        if event.state == state {
            return event;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "event {id} is {} (wanted {state}): {event:?}",
            event.state
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggers_are_fetched_from_tradecloud_with_the_client() {
    // The first GET /order answers 503: a transient fetch error, retried.
    let fault = FaultConfig::service_unavailable(FaultTrigger::FirstN(1))
        .for_operations([GET_ORDER_BY_ID_ROUTE.id]);
    let server = MockServer::start(MockConfig::new().demo_data().fault(fault))
        .await
        .expect("the mock starts");
    let dir = tempfile::tempdir().unwrap();
    let inbox = Inbox::open(&format!(
        "sqlite://{}",
        dir.path().join("inbox.db").display()
    ))
    .unwrap();
    let order_trigger = inbox
        .store(NewEvent::trigger(EventKind::Order, ORDER_ID))
        .await
        .unwrap()
        .id();
    let shipment_trigger = inbox
        .store(NewEvent::trigger(EventKind::Shipment, SHIPMENT_ID))
        .await
        .unwrap()
        .id();
    let missing = inbox
        .store(NewEvent::trigger(
            EventKind::Order,
            "00000000-0000-0000-0000-000000000000",
        ))
        .await
        .unwrap()
        .id();

    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let handler = {
        let seen = seen.clone();
        handler_fn(move |event, ctx: HandlerContext| {
            let seen = seen.clone();
            async move {
                assert!(
                    ctx.client().is_some(),
                    "the client is available to handlers"
                );
                let what = match event {
                    Event::FetchedOrder { order, .. } => format!("order {}", order.id.unwrap()),
                    Event::FetchedShipment { shipment, .. } => {
                        format!("shipment {}", shipment.id.unwrap())
                    }
                    other => panic!("unexpected {other:?}"),
                };
                seen.lock().unwrap().push(what);
                Ok(())
            }
        })
    };
    let config = ProcessorConfig {
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_millis(100),
        poll_interval: Duration::from_millis(50),
        ..ProcessorConfig::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let processor = tokio::spawn(
        Processor::new(inbox.clone(), handler, config)
            .with_client(client(&server))
            .run(async {
                let _ = stopped.await;
            }),
    );

    let order = wait_for_state(&inbox, order_trigger, State::Done).await;
    wait_for_state(&inbox, shipment_trigger, State::Done).await;
    let dead = wait_for_state(&inbox, missing, State::Dead).await;
    let start = Instant::now();
    while seen.lock().unwrap().len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "fetched events not handled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(()).unwrap();
    processor.await.unwrap();
    server.shutdown().await.unwrap();

    // One of the two order fetches got the 503 and was retried.
    assert_eq!(
        order.attempts + dead.attempts,
        3,
        "the 503 was retried once: {order:?} {dead:?}"
    );
    assert!(
        dead.error.as_deref().unwrap().contains("404"),
        "a missing order is a permanent error"
    );
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            format!("order {ORDER_ID}"),
            format!("shipment {SHIPMENT_ID}")
        ]
    );

    let fetched = inbox
        .list(ListFilter {
            object_id: Some(ORDER_ID.into()),
            ..ListFilter::default()
        })
        .await
        .unwrap();
    let fetched = fetched
        .iter()
        .find(|e| e.origin == Origin::Fetched)
        .expect("the fetched order is stored");
    let stored = inbox.get(fetched.id).await.unwrap().unwrap();
    assert_eq!(stored.summary.content_type, "application/json");
    let json: serde_json::Value = serde_json::from_slice(&stored.body).unwrap();
    assert_eq!(json["id"], ORDER_ID);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trigger_outlives_max_attempts_while_the_api_is_down_then_is_dead_lettered() {
    // Every GET /order answers 503: Tradecloud's API is down.
    let fault = FaultConfig::service_unavailable(FaultTrigger::Always)
        .for_operations([GET_ORDER_BY_ID_ROUTE.id]);
    let server = MockServer::start(MockConfig::new().demo_data().fault(fault))
        .await
        .expect("the mock starts");
    let inbox = Inbox::open("sqlite::memory:").unwrap();
    let trigger = inbox
        .store(NewEvent::trigger(EventKind::Order, ORDER_ID))
        .await
        .unwrap()
        .id();
    let reports = Arc::new(Mutex::new(Vec::new()));
    let recorded = reports.clone();
    let config = ProcessorConfig {
        // A handler error would be dead after 2 attempts; a fetch is retried
        // for `fetch_retry_for` instead, however many attempts that takes.
        max_attempts: 2,
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_millis(200),
        poll_interval: Duration::from_millis(50),
        fetch_retry_for: Duration::from_secs(3),
        ..ProcessorConfig::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let processor = tokio::spawn(
        Processor::new(inbox.clone(), handler_fn(|_e, _c| async { Ok(()) }), config)
            .with_client(client(&server))
            .on_outcome(move |r| recorded.lock().unwrap().push(r.outcome.label()))
            .run(async {
                let _ = stopped.await;
            }),
    );
    let start = Instant::now();
    let dead = wait_for_state(&inbox, trigger, State::Dead).await;
    let took = start.elapsed();
    stop.send(()).unwrap();
    processor.await.unwrap();
    server.shutdown().await.unwrap();

    assert!(
        dead.attempts > 2,
        "retried past max_attempts while within fetch_retry_for: {dead:?}"
    );
    assert!(
        took >= Duration::from_secs(2),
        "dead only after about 3 s: {took:?}"
    );
    let error = dead.error.unwrap();
    assert!(error.contains("gave up fetching the order"), "{error}");
    let reports = reports.lock().unwrap().clone();
    assert_eq!(reports.last(), Some(&"dead"));
    assert!(reports.iter().filter(|r| **r == "retrying").count() >= 2);
}
