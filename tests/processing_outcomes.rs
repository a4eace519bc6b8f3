//! Processing outcomes: retries, dead letters, quarantine and replay, restart
//! after a crash, GET-webhook triggers.
#![cfg(feature = "receiver")]

use crate::processing_support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use processing_support::crash_mid_handler;
use tradecloud::inbox::{EventKind, Inbox, ListFilter, NewEvent, NewState, Origin, State};
use tradecloud::processing::{
    handler_fn, BoxFuture, Event, Fetcher, Handler, HandlerContext, HandlerError, LogHandler,
    Outcome, OutcomeReport, Processor, ProcessorConfig,
};

fn order_body(order_id: &str, message_id: &str) -> Bytes {
    Bytes::from(format!(
        r#"{{"eventName":"OrderIssuedByBuyer","meta":{{"messageId":"{message_id}"}},"orderEvent":{{"orderId":"{order_id}","lines":[{{"id":"l1"}}],"brandNewField":{{"x":1}}}}}}"#
    ))
}

fn order_event(order_id: &str, message_id: &str) -> NewEvent {
    NewEvent {
        kind: EventKind::Order,
        event_name: Some("OrderIssuedByBuyer".into()),
        object_id: Some(order_id.into()),
        message_id: Some(message_id.into()),
        content_type: "application/json".into(),
        body: order_body(order_id, message_id),
        state: NewState::Received,
        source: Some("POST /tradecloud/order".into()),
        headers: Vec::new(),
    }
}

fn config() -> ProcessorConfig {
    ProcessorConfig {
        concurrency: 4,
        max_attempts: 3,
        backoff_base: Duration::from_millis(40),
        backoff_max: Duration::from_millis(80),
        poll_interval: Duration::from_millis(50),
        ..ProcessorConfig::default()
    }
}

fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Runs a processor until dropped or `stop`ped.
struct Running {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start<H: Handler>(processor: Processor<H>) -> Running {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(processor.run(async {
            let _ = stopped.await;
        }));
        Running {
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("processor stops")
            .unwrap();
    }
}

async fn wait_for_state(inbox: &Inbox, id: i64, state: State) -> tradecloud::inbox::EventSummary {
    let start = Instant::now();
    loop {
        let event = inbox.get(id).await.unwrap().expect("event").summary;
        if event.state == state {
            return event;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "event {id} stuck in {} (wanted {state}): {event:?}",
            event.state
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

type Reports = Arc<Mutex<Vec<OutcomeReport>>>;

fn recorder() -> (Reports, impl Fn(&OutcomeReport) + Send + Sync + 'static) {
    let reports: Reports = Arc::default();
    let r = reports.clone();
    (reports, move |report: &OutcomeReport| {
        r.lock().unwrap().push(report.clone())
    })
}

#[tokio::test]
async fn a_transient_error_is_retried_until_it_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = Inbox::open(&url(&dir.path().join("inbox.db"))).unwrap();
    let id = inbox.store(order_event("o-1", "m-1")).await.unwrap().id();
    let attempts: Arc<Mutex<Vec<(u32, Instant)>>> = Arc::default();
    let handler = {
        let attempts = attempts.clone();
        handler_fn(move |event, _ctx| {
            let attempts = attempts.clone();
            async move {
                let attempt = event.meta().attempt;
                attempts.lock().unwrap().push((attempt, Instant::now()));
                if attempt < 3 {
                    Err(HandlerError::Transient(format!("ERP timeout {attempt}")))
                } else {
                    Ok(())
                }
            }
        })
    };
    let (reports, observe) = recorder();
    let running =
        Running::start(Processor::new(inbox.clone(), handler, config()).on_outcome(observe));
    let event = wait_for_state(&inbox, id, State::Done).await;
    running.stop().await;

    assert_eq!(event.attempts, 3);
    assert_eq!(event.error, None);
    let attempts = attempts.lock().unwrap().clone();
    assert_eq!(
        attempts.iter().map(|a| a.0).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    // Backoff: at least half of base * 2^(n-1) between attempts.
    assert!(attempts[1].1 - attempts[0].1 >= Duration::from_millis(20));
    assert!(attempts[2].1 - attempts[1].1 >= Duration::from_millis(40));
    let labels: Vec<_> = reports
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.outcome.label())
        .collect();
    assert_eq!(labels, vec!["retrying", "retrying", "done"]);
}

#[tokio::test]
async fn transient_errors_end_in_the_dead_letters_after_max_attempts() {
    let inbox = Inbox::open("sqlite::memory:").unwrap();
    let id = inbox.store(order_event("o-1", "m-1")).await.unwrap().id();
    let handler =
        handler_fn(|_event, _ctx| async { Err(HandlerError::Transient("ERP down".into())) });
    let running = Running::start(Processor::new(inbox.clone(), handler, config()));
    let event = wait_for_state(&inbox, id, State::Dead).await;
    running.stop().await;
    assert_eq!(event.attempts, 3);
    assert_eq!(
        event.error.as_deref(),
        Some("ERP down (gave up after 3 attempts)")
    );
    let dead = inbox.dead().await.unwrap();
    assert_eq!(dead.iter().map(|e| e.id).collect::<Vec<_>>(), vec![id]);
}

#[tokio::test]
async fn a_permanent_error_is_dead_at_once_and_can_be_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = Inbox::open(&url(&dir.path().join("inbox.db"))).unwrap();
    let id = inbox.store(order_event("o-1", "m-1")).await.unwrap().id();
    let fixed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let handler = {
        let fixed = fixed.clone();
        handler_fn(move |_event, _ctx| {
            let fixed = fixed.load(std::sync::atomic::Ordering::SeqCst);
            async move {
                if fixed {
                    Ok(())
                } else {
                    Err(HandlerError::Permanent(
                        "item 4711 unknown in the ERP".into(),
                    ))
                }
            }
        })
    };
    let (reports, observe) = recorder();
    let running =
        Running::start(Processor::new(inbox.clone(), handler, config()).on_outcome(observe));
    let event = wait_for_state(&inbox, id, State::Dead).await;
    assert_eq!(event.attempts, 1);
    assert_eq!(event.error.as_deref(), Some("item 4711 unknown in the ERP"));
    // The observer hears of it right after the state is recorded.
    let start = Instant::now();
    while reports.lock().unwrap().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no outcome reported"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        matches!(&reports.lock().unwrap()[0].outcome, Outcome::Dead { error } if error.contains("4711"))
    );

    // The cause is fixed; the operator replays it.
    fixed.store(true, std::sync::atomic::Ordering::SeqCst);
    inbox.replay(id).await.unwrap();
    let event = wait_for_state(&inbox, id, State::Done).await;
    running.stop().await;
    assert_eq!(event.attempts, 1, "a replay starts counting again");
}

#[tokio::test]
async fn rejected_events_never_reach_the_handler_until_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = Inbox::open(&url(&dir.path().join("inbox.db"))).unwrap();
    // Quarantined by the receiver: one valid body (rejected by a since-fixed
    // bug), one that is not JSON at all.
    let valid = order_body("o-1", "m-1");
    let valid_id = inbox
        .store(NewEvent::rejected(
            EventKind::Order,
            "application/json",
            valid.clone(),
            "old parser bug",
        ))
        .await
        .unwrap()
        .id();
    let garbage = Bytes::from_static(b"\xff\xfe not json");
    let garbage_id = inbox
        .store(NewEvent::rejected(
            EventKind::Order,
            "application/json",
            garbage.clone(),
            "invalid JSON",
        ))
        .await
        .unwrap()
        .id();
    let normal_id = inbox.store(order_event("o-2", "m-2")).await.unwrap().id();

    let seen: Arc<Mutex<Vec<(i64, Bytes)>>> = Arc::default();
    let handler = {
        let seen = seen.clone();
        handler_fn(move |event, _ctx| {
            let seen = seen.clone();
            async move {
                let Event::Order { body, meta } = event else {
                    panic!("order event expected")
                };
                assert_eq!(body.extra.len(), 0);
                let order = body.order_event.expect("order event");
                assert!(
                    order.extra.contains_key("brandNewField"),
                    "unknown fields are kept"
                );
                seen.lock().unwrap().push((
                    meta.inbox_id,
                    Bytes::from(serde_json::to_vec(&order.order_id).unwrap()),
                ));
                Ok(())
            }
        })
    };
    let running = Running::start(Processor::new(inbox.clone(), handler, config()));
    wait_for_state(&inbox, normal_id, State::Done).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        seen.lock().unwrap().iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![normal_id]
    );
    assert_eq!(
        inbox.get(valid_id).await.unwrap().unwrap().summary.state,
        State::Rejected
    );

    inbox.replay(valid_id).await.unwrap();
    wait_for_state(&inbox, valid_id, State::Done).await;
    assert_eq!(
        inbox.get(valid_id).await.unwrap().unwrap().body,
        valid,
        "replay keeps the exact bytes"
    );

    inbox.replay(garbage_id).await.unwrap();
    let again = wait_for_state(&inbox, garbage_id, State::Rejected).await;
    running.stop().await;
    let error = again.error.unwrap();
    assert!(error.starts_with("invalid JSON body"), "{error}");
    assert_eq!(inbox.get(garbage_id).await.unwrap().unwrap().body, garbage);
    assert_eq!(
        seen.lock().unwrap().iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![normal_id, valid_id]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_interrupted_by_a_crash_is_handled_again_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let first = Inbox::open(&url(&path)).unwrap();
    let id = first.store(order_event("o-1", "m-1")).await.unwrap().id();

    // A handler that never finishes: the process "dies" while it runs.
    crash_mid_handler(&first, config(), Duration::from_secs(10)).await;
    let event = first.get(id).await.unwrap().unwrap().summary;
    assert_eq!((event.state, event.attempts), (State::Processing, 1));

    // The restarted service: a new inbox on the same file, a working handler.
    let second = Inbox::open(&url(&path)).unwrap();
    let seen: Arc<Mutex<Vec<(i64, u32)>>> = Arc::default();
    let handler = {
        let seen = seen.clone();
        handler_fn(move |event, _ctx| {
            let seen = seen.clone();
            async move {
                seen.lock()
                    .unwrap()
                    .push((event.meta().inbox_id, event.meta().attempt));
                Ok(())
            }
        })
    };
    let running = Running::start(Processor::new(second.clone(), handler, config()));
    let event = wait_for_state(&second, id, State::Done).await;
    running.stop().await;
    // The interrupted claim recorded no outcome: it is not counted (the
    // handler may have run, hence idempotent handlers), and the count is
    // the attempts recorded.
    assert_eq!(*seen.lock().unwrap(), vec![(id, 1)]);
    assert_eq!(event.attempts, 1);
    assert_eq!(second.attempts(id).await.unwrap().len(), 1);
}

/// A crash mid-run leaves every event of the run claimed; those the
/// handler never reached, or that were not handed on alone, gain no
/// attempt from it (they showed `attempts 2` with one attempt recorded,
/// and a few crashes dead-lettered them early).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_run_adds_no_attempt_to_its_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let first = Inbox::open(&url(&path)).unwrap();
    let mut ids = Vec::new();
    for m in ["m-1", "m-2", "m-3"] {
        ids.push(first.store(order_event("o-1", m)).await.unwrap().id());
    }
    crash_mid_handler(&first, config(), Duration::from_secs(10)).await;
    for id in &ids {
        let event = first.get(*id).await.unwrap().unwrap().summary;
        assert_eq!(event.state, State::Processing, "claimed in one run");
    }

    // The restarted service: the last attempt fails once, transiently, as
    // an ERP that is briefly down does.
    let second = Inbox::open(&url(&path)).unwrap();
    let seen: Arc<Mutex<Vec<(i64, u32)>>> = Arc::default();
    let last = ids[2];
    let handler = {
        let seen = seen.clone();
        handler_fn(move |event, _ctx| {
            let seen = seen.clone();
            async move {
                let meta = event.meta();
                seen.lock().unwrap().push((meta.inbox_id, meta.attempt));
                if meta.inbox_id == last && meta.attempt == 1 {
                    return Err(HandlerError::Transient("ERP busy".into()));
                }
                Ok(())
            }
        })
    };
    let running = Running::start(Processor::new(second.clone(), handler, config()));
    for id in &ids {
        wait_for_state(&second, *id, State::Done).await;
    }
    running.stop().await;
    assert_eq!(
        *seen.lock().unwrap(),
        vec![(ids[0], 1), (ids[1], 1), (ids[2], 1), (ids[2], 2)]
    );
    for id in &ids {
        let event = second.get(*id).await.unwrap().unwrap().summary;
        let recorded = second.attempts(*id).await.unwrap();
        assert_eq!(
            event.attempts as usize,
            recorded.len(),
            "event {id}: the count is the attempts recorded: {recorded:?}"
        );
    }
}

/// After a crash, the events it interrupted that were only claimed ahead
/// of the handlers (most of them: up to `8 × concurrency` runs are claimed
/// ahead) are handed on side by side, not one at a time: only an event
/// that was in a handler when the process died again runs alone. Each
/// one alone cost its handler's time plus two commits, with every other
/// handler of the process waiting (about 35 s for 1,280 interrupted events
/// at 20 ms each, where 8 side by side take 3 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_a_crash_interrupted_are_handed_on_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let first = Inbox::open(&url(&path)).unwrap();
    let mut ids = Vec::new();
    for o in 0..8 {
        ids.push(
            first
                .store(order_event(&format!("o-{o}"), &format!("m-{o}")))
                .await
                .unwrap()
                .id(),
        );
    }
    let one = ProcessorConfig {
        concurrency: 1,
        ..config()
    };
    crash_mid_handler(&first, one, Duration::from_secs(10)).await;
    for id in &ids {
        let event = first.get(*id).await.unwrap().unwrap().summary;
        assert_eq!(event.state, State::Processing, "claimed (ahead)");
    }

    // The restarted service: each handler call waits (a while at most)
    // for a second one to run beside it.
    let second = Inbox::open(&url(&path)).unwrap();
    let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let handler = {
        let (running, most) = (running.clone(), most.clone());
        handler_fn(move |_event, _ctx| {
            let (running, most) = (running.clone(), most.clone());
            async move {
                use std::sync::atomic::Ordering::SeqCst;
                let now = running.fetch_add(1, SeqCst) + 1;
                most.fetch_max(now, SeqCst);
                let start = Instant::now();
                while most.load(SeqCst) < 2 && start.elapsed() < Duration::from_secs(2) {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                running.fetch_sub(1, SeqCst);
                Ok(())
            }
        })
    };
    let running_processor = Running::start(Processor::new(second.clone(), handler, config()));
    for id in &ids {
        wait_for_state(&second, *id, State::Done).await;
    }
    running_processor.stop().await;
    assert!(
        most.load(std::sync::atomic::Ordering::SeqCst) >= 2,
        "the interrupted events were handed on one at a time"
    );
    // None of them blamed: the interrupted claim is not counted.
    for id in &ids {
        let event = second.get(*id).await.unwrap().unwrap().summary;
        let recorded: Vec<_> = second
            .attempts(*id)
            .await
            .unwrap()
            .iter()
            .map(|a| a.outcome.as_str())
            .collect();
        assert_eq!((event.attempts, recorded), (1, vec!["done"]), "event {id}");
    }
}

/// Serves fetched orders and shipments from memory; fails the first call.
#[derive(Default)]
struct FakeApi {
    calls: Mutex<Vec<String>>,
}

impl Fetcher for FakeApi {
    fn fetch_order<'a>(&'a self, order_id: &'a str) -> BoxFuture<'a, Result<Bytes, HandlerError>> {
        Box::pin(async move {
            let n = {
                let mut calls = self.calls.lock().unwrap();
                calls.push(format!("order {order_id}"));
                calls.len()
            };
            if n == 1 {
                return Err(HandlerError::Transient("503 from Tradecloud".into()));
            }
            if order_id == "missing" {
                return Err(HandlerError::Permanent("404 order not found".into()));
            }
            Ok(Bytes::from(format!(
                r#"{{"id":"{order_id}","lastUpdatedAt":"2025-04-23T10:01:53.812Z","lines":[{{"id":"l1"}},{{"id":"l2"}}]}}"#
            )))
        })
    }

    fn fetch_shipment<'a>(
        &'a self,
        shipment_id: &'a str,
    ) -> BoxFuture<'a, Result<Bytes, HandlerError>> {
        Box::pin(async move {
            self.calls
                .lock()
                .unwrap()
                .push(format!("shipment {shipment_id}"));
            Ok(Bytes::from(format!(
                r#"{{"id":"{shipment_id}","lines":[]}}"#
            )))
        })
    }
}

#[tokio::test]
async fn a_get_webhook_trigger_fetches_and_stores_the_whole_object() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = Inbox::open(&url(&dir.path().join("inbox.db"))).unwrap();
    let order_trigger = inbox
        .store(NewEvent::trigger(EventKind::Order, "o-5").with_source("GET /tradecloud/order/o-5"))
        .await
        .unwrap()
        .id();
    let shipment_trigger = inbox
        .store(NewEvent::trigger(EventKind::Shipment, "s-5"))
        .await
        .unwrap()
        .id();
    let missing = inbox
        .store(NewEvent::trigger(EventKind::Order, "missing"))
        .await
        .unwrap()
        .id();

    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let handler = {
        let seen = seen.clone();
        handler_fn(move |event, ctx: HandlerContext| {
            let seen = seen.clone();
            async move {
                assert_eq!(ctx.extension::<&'static str>(), Some(&"erp-connection"));
                assert_eq!(ctx.inbox_id(), event.meta().inbox_id);
                assert!(ctx.fetcher().is_some());
                match event {
                    Event::FetchedOrder { order, meta } => {
                        assert_eq!(meta.kind, EventKind::Order);
                        assert_eq!(order.lines.len(), 2);
                        seen.lock()
                            .unwrap()
                            .push(format!("order {}", order.id.unwrap()));
                    }
                    Event::FetchedShipment { shipment, .. } => {
                        seen.lock()
                            .unwrap()
                            .push(format!("shipment {}", shipment.id.unwrap()));
                    }
                    other => panic!("unexpected {other:?}"),
                }
                Ok(())
            }
        })
    };
    let api = Arc::new(FakeApi::default());
    let running = Running::start(
        Processor::new(inbox.clone(), handler, config())
            .with_shared_fetcher(api.clone())
            .with_extension("erp-connection"),
    );
    let trigger = wait_for_state(&inbox, order_trigger, State::Done).await;
    wait_for_state(&inbox, shipment_trigger, State::Done).await;
    let dead = wait_for_state(&inbox, missing, State::Dead).await;
    let start = Instant::now();
    while seen.lock().unwrap().len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "fetched events not handled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    running.stop().await;

    assert!(trigger.attempts >= 1);
    assert_eq!(dead.error.as_deref(), Some("404 order not found"));
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(
        seen,
        vec!["order o-5".to_string(), "shipment s-5".to_string()]
    );

    // The fetched objects are events of their own, byte for byte as fetched.
    let fetched = inbox
        .list(ListFilter {
            object_id: Some("o-5".into()),
            ..ListFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(fetched.len(), 2);
    let stored = inbox.get(fetched[1].id).await.unwrap().unwrap();
    assert_eq!(stored.summary.origin, Origin::Fetched);
    assert_eq!(stored.summary.state, State::Done);
    assert_eq!(stored.summary.kind, EventKind::Order);
    assert_eq!(stored.summary.content_type, "application/json");
    assert!(stored
        .summary
        .source
        .unwrap()
        .contains(&format!("trigger {order_trigger}")));
    assert!(stored.body.starts_with(br#"{"id":"o-5","lastUpdatedAt""#));
    assert!(
        api.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| *c == "order o-5")
            .count()
            >= 1
    );
}

#[tokio::test]
async fn without_a_fetcher_a_trigger_is_dead_and_replayable() {
    let inbox = Inbox::open("sqlite::memory:").unwrap();
    let id = inbox
        .store(NewEvent::trigger(EventKind::Shipment, "s-1"))
        .await
        .unwrap()
        .id();
    let running = Running::start(Processor::new(inbox.clone(), LogHandler, config()));
    let event = wait_for_state(&inbox, id, State::Dead).await;
    running.stop().await;
    assert!(event.error.unwrap().contains("no fetcher configured"));

    let running = Running::start(
        Processor::new(inbox.clone(), LogHandler, config()).with_fetcher(FakeApi::default()),
    );
    inbox.replay(id).await.unwrap();
    wait_for_state(&inbox, id, State::Done).await;
    let all = inbox.list(ListFilter::default()).await.unwrap();
    let fetched = all
        .iter()
        .find(|e| e.origin == Origin::Fetched)
        .expect("fetched shipment");
    wait_for_state(&inbox, fetched.id, State::Done).await;
    running.stop().await;
}

#[tokio::test]
async fn a_panicking_handler_is_an_error_of_its_event_only() {
    let inbox = Inbox::open("sqlite::memory:").unwrap();
    let boom = inbox.store(order_event("o-1", "m-1")).await.unwrap().id();
    let fine = inbox.store(order_event("o-2", "m-2")).await.unwrap().id();
    let handler = handler_fn(move |event, _ctx| async move {
        if event.meta().inbox_id == boom {
            panic!("index out of bounds");
        }
        Ok(())
    });
    let running = Running::start(Processor::new(inbox.clone(), handler, config()));
    wait_for_state(&inbox, fine, State::Done).await;
    let dead = wait_for_state(&inbox, boom, State::Dead).await;
    running.stop().await;
    let error = dead.error.unwrap();
    assert!(
        error.contains("handler panicked: index out of bounds"),
        "{error}"
    );
    assert_eq!(dead.attempts, 3);
}

#[test]
fn backoff_grows_exponentially_with_jitter_and_a_cap() {
    let config = ProcessorConfig {
        backoff_base: Duration::from_secs(1),
        backoff_max: Duration::from_secs(60),
        ..ProcessorConfig::default()
    };
    for _ in 0..100 {
        let first = config.backoff(1);
        assert!(
            first >= Duration::from_millis(500) && first <= Duration::from_secs(1),
            "{first:?}"
        );
        let fourth = config.backoff(4);
        assert!(
            fourth >= Duration::from_secs(4) && fourth <= Duration::from_secs(8),
            "{fourth:?}"
        );
        let late = config.backoff(40);
        assert!(
            late >= Duration::from_secs(30) && late <= Duration::from_secs(60),
            "{late:?}"
        );
    }
    let samples: std::collections::HashSet<_> = (0..50).map(|_| config.backoff(3)).collect();
    assert!(samples.len() > 1, "jitter");
}

/// Counts the handler futures that were dropped (cancelled or finished).
struct DropCount(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_never_returns_is_cancelled_at_the_timeout_and_retried() {
    let inbox = Inbox::open("sqlite::memory:").unwrap();
    let hung = inbox.store(order_event("o-1", "m-1")).await.unwrap().id();
    let later = inbox.store(order_event("o-1", "m-2")).await.unwrap().id();
    let dropped = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let handler = {
        let dropped = dropped.clone();
        handler_fn(move |event, _ctx| {
            let dropped = dropped.clone();
            async move {
                if event.meta().inbox_id == hung {
                    // An ERP call without a timeout that never answers.
                    let _guard = DropCount(dropped);
                    std::future::pending::<()>().await;
                }
                Ok(())
            }
        })
    };
    let config = ProcessorConfig {
        handler_timeout: Duration::from_millis(20),
        ..config()
    };
    let (reports, observe) = recorder();
    let running =
        Running::start(Processor::new(inbox.clone(), handler, config).on_outcome(observe));
    let dead = wait_for_state(&inbox, hung, State::Dead).await;
    // The order is not held for good: its next event is handled.
    wait_for_state(&inbox, later, State::Done).await;
    running.stop().await;

    // Each timed-out attempt counts like a transient failure: retried, then
    // dead after max_attempts (3).
    assert_eq!(dead.attempts, 3);
    let error = dead.error.unwrap();
    assert!(
        error.contains("did not finish within 20ms and was cancelled")
            && error.contains("handler_timeout_secs")
            && error.ends_with("(gave up after 3 attempts)"),
        "{error}"
    );
    let outcomes: Vec<_> = inbox
        .attempts(hung)
        .await
        .unwrap()
        .iter()
        .map(|a| a.outcome.as_str())
        .collect();
    assert_eq!(outcomes, vec!["retry", "retry", "dead"]);
    let labels: Vec<_> = reports
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.inbox_id == hung)
        .map(|r| r.outcome.label())
        .collect();
    assert_eq!(labels, vec!["retrying", "retrying", "dead"]);
    // Each hung handler's future was dropped (cancelled), not left running.
    assert_eq!(
        dropped.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "each hung handler's future is dropped at its timeout"
    );
}
