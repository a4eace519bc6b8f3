//! Ordered processing: events of one order one at a time in arrival order,
//! different orders in parallel, a retry holding back only its own order.
#![cfg(feature = "receiver")]

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tradecloud::inbox::{Inbox, ListFilter, State};
use tradecloud::processing::{handler_fn, Event, HandlerError, Processor};

use crate::inbox_cases;

fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// What the handler saw: (order id, line id "l<seq>", inbox id).
type Seen = Arc<Mutex<Vec<(String, String, i64)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_of_one_order_are_handled_one_at_a_time_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = Inbox::open(&url(&dir.path().join("inbox.db"))).unwrap();
    const ORDERS: usize = 8;
    const EACH: usize = 25;

    let seen: Seen = Arc::default();
    let running = Arc::new(AtomicUsize::new(0));
    let max_running = Arc::new(AtomicUsize::new(0));
    let per_order: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let overlap = Arc::new(AtomicUsize::new(0));

    let handler = {
        let (seen, running, max_running, per_order, overlap) = (
            seen.clone(),
            running.clone(),
            max_running.clone(),
            per_order.clone(),
            overlap.clone(),
        );
        handler_fn(move |event, _ctx| {
            let (seen, running, max_running, per_order, overlap) = (
                seen.clone(),
                running.clone(),
                max_running.clone(),
                per_order.clone(),
                overlap.clone(),
            );
            async move {
                let Event::Order { body, meta } = event else {
                    panic!("an order event")
                };
                let order = meta.object_id.clone().unwrap();
                {
                    let mut per = per_order.lock().unwrap();
                    let n = per.entry(order.clone()).or_default();
                    *n += 1;
                    if *n > 1 {
                        overlap.fetch_add(1, Ordering::SeqCst);
                    }
                }
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                max_running.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(fastrand::u64(1..6))).await;
                let line = body.order_event.unwrap().lines[0].id.clone().unwrap();
                seen.lock()
                    .unwrap()
                    .push((order.clone(), line, meta.inbox_id));
                running.fetch_sub(1, Ordering::SeqCst);
                *per_order.lock().unwrap().get_mut(&order).unwrap() -= 1;
                Ok(())
            }
        })
    };

    // Half the events before the processor starts, each order's in a row (so
    // that the oldest waiting events all belong to one order), half while it
    // runs, interleaved across the orders.
    for o in 0..ORDERS {
        for seq in 0..EACH / 2 {
            inbox
                .store(inbox_cases::confirmed_line_event(
                    &format!("order-{o}"),
                    seq,
                ))
                .await
                .unwrap();
        }
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let processor = tokio::spawn(
        Processor::new(inbox.clone(), handler, inbox_cases::processor_config(4)).run(async {
            let _ = stopped.await;
        }),
    );
    for seq in EACH / 2..EACH {
        for o in 0..ORDERS {
            inbox
                .store(inbox_cases::confirmed_line_event(
                    &format!("order-{o}"),
                    seq,
                ))
                .await
                .unwrap();
        }
    }

    inbox_cases::wait_for("all events", Duration::from_secs(60), || {
        seen.lock().unwrap().len() == ORDERS * EACH
    })
    .await;
    stop.send(()).unwrap();
    processor.await.unwrap();

    assert_eq!(
        overlap.load(Ordering::SeqCst),
        0,
        "two events of one order were handled at the same time"
    );
    let seen = seen.lock().unwrap().clone();
    for o in 0..ORDERS {
        let order = format!("order-{o}");
        let mine: Vec<_> = seen.iter().filter(|(id, _, _)| *id == order).collect();
        let lines: Vec<String> = mine.iter().map(|(_, line, _)| line.clone()).collect();
        let expected: Vec<String> = (0..EACH).map(|seq| format!("l{seq}")).collect();
        assert_eq!(lines, expected, "events of {order} out of order");
        assert!(
            mine.windows(2).all(|w| w[0].2 < w[1].2),
            "inbox ids of {order} not increasing"
        );
    }
    assert!(
        max_running.load(Ordering::SeqCst) > 1,
        "different orders must be handled in parallel"
    );
    assert!(
        max_running.load(Ordering::SeqCst) <= 4,
        "concurrency limit exceeded"
    );
    let switches = seen.windows(2).filter(|w| w[0].0 != w[1].0).count();
    assert!(
        switches > ORDERS * 2,
        "orders should interleave, saw {switches} switches"
    );

    let done = inbox
        .list(ListFilter {
            state: Some(State::Done),
            limit: Some(1000),
            ..ListFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(done.len(), ORDERS * EACH);
    assert!(done.iter().all(|e| e.attempts == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retrying_event_holds_back_its_own_order_only() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = Inbox::open(&url(&dir.path().join("inbox.db"))).unwrap();
    let a1 = inbox
        .store(inbox_cases::confirmed_line_event("A", 1))
        .await
        .unwrap()
        .id();
    let a2 = inbox
        .store(inbox_cases::confirmed_line_event("A", 2))
        .await
        .unwrap()
        .id();
    let b1 = inbox
        .store(inbox_cases::confirmed_line_event("B", 1))
        .await
        .unwrap()
        .id();

    let log: Arc<Mutex<Vec<(i64, u32, bool)>>> = Arc::default();
    let handler = {
        let log = log.clone();
        handler_fn(move |event, _ctx| {
            let log = log.clone();
            async move {
                let meta = event.meta().clone();
                let fail = meta.inbox_id == a1 && meta.attempt < 3;
                log.lock()
                    .unwrap()
                    .push((meta.inbox_id, meta.attempt, !fail));
                if fail {
                    Err(HandlerError::Transient("ERP is down".into()))
                } else {
                    Ok(())
                }
            }
        })
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let processor = tokio::spawn(
        Processor::new(inbox.clone(), handler, inbox_cases::processor_config(4)).run(async {
            let _ = stopped.await;
        }),
    );
    inbox_cases::wait_for("A2", Duration::from_secs(20), || {
        log.lock()
            .unwrap()
            .iter()
            .any(|(id, _, ok)| *id == a2 && *ok)
    })
    .await;
    stop.send(()).unwrap();
    processor.await.unwrap();

    let log = log.lock().unwrap().clone();
    let position = |id: i64, ok: bool| log.iter().position(|e| e.0 == id && e.2 == ok).unwrap();
    let a1_ok = position(a1, true);
    assert!(
        position(b1, true) < a1_ok,
        "B must not wait for A's retries: {log:?}"
    );
    assert!(position(a2, true) > a1_ok, "A2 must wait for A1: {log:?}");
    assert_eq!(
        log.iter()
            .filter(|e| e.0 == a1)
            .map(|e| e.1)
            .collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(log.iter().filter(|e| e.0 == a2).count(), 1);

    let a1_event = inbox.get(a1).await.unwrap().unwrap().summary;
    assert_eq!(
        (a1_event.state, a1_event.attempts, a1_event.error),
        (State::Done, 3, None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_and_rejected_events_do_not_hold_back_their_order() {
    let inbox = Inbox::open("sqlite::memory:").unwrap();
    let bad = inbox
        .store(inbox_cases::confirmed_line_event("A", 1))
        .await
        .unwrap()
        .id();
    let mut unparseable = inbox_cases::confirmed_line_event("A", 2);
    unparseable.body = Bytes::from_static(b"{\"eventName\": 42}");
    let unparseable = inbox.store(unparseable).await.unwrap().id();
    let good = inbox
        .store(inbox_cases::confirmed_line_event("A", 3))
        .await
        .unwrap()
        .id();

    let seen: Arc<Mutex<Vec<i64>>> = Arc::default();
    let handler = {
        let seen = seen.clone();
        handler_fn(move |event, _ctx| {
            let seen = seen.clone();
            async move {
                let id = event.meta().inbox_id;
                seen.lock().unwrap().push(id);
                if id == bad {
                    Err(HandlerError::Permanent("unknown supplier".into()))
                } else {
                    Ok(())
                }
            }
        })
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let processor = tokio::spawn(
        Processor::new(inbox.clone(), handler, inbox_cases::processor_config(2)).run(async {
            let _ = stopped.await;
        }),
    );
    inbox_cases::wait_for("the good event", Duration::from_secs(20), || {
        seen.lock().unwrap().contains(&good)
    })
    .await;
    stop.send(()).unwrap();
    processor.await.unwrap();

    assert_eq!(
        *seen.lock().unwrap(),
        vec![bad, good],
        "the unparseable event is never handed to the handler"
    );
    assert_eq!(
        inbox.get(bad).await.unwrap().unwrap().summary.state,
        State::Dead
    );
    let rejected = inbox.get(unparseable).await.unwrap().unwrap().summary;
    assert_eq!(rejected.state, State::Rejected);
    assert!(
        rejected.error.unwrap().contains("eventName"),
        "the parse error says where"
    );
}

/// The receiver decodes each body before storing it; with
/// `Inbox::store_webhook` the processor of the same process takes that
/// value instead of decoding the stored body again (issue 24 item 14). The
/// test hands on a webhook that differs from the body on purpose (line
/// `handed` instead of `l0`) to see which one the handler got; an event
/// stored with `Inbox::store` is decoded from its body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_processor_takes_the_webhook_the_receiver_decoded() {
    use tradecloud::webhook::{decode, Endpoint};

    let dir = tempfile::tempdir().unwrap();
    let inbox = Inbox::open(&url(&dir.path().join("inbox.db"))).unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let handler = {
        let seen = seen.clone();
        handler_fn(move |event, _ctx| {
            let seen = seen.clone();
            async move {
                let Event::Order { body, .. } = event else {
                    panic!("an order event")
                };
                let line = body.order_event.unwrap().lines[0].id.clone().unwrap();
                seen.lock().unwrap().push(line);
                Ok(())
            }
        })
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let processor = tokio::spawn(
        Processor::new(inbox.clone(), handler, inbox_cases::processor_config(1)).run(async {
            let _ = stopped.await;
        }),
    );
    // Once it has handled an event it runs, and takes what is handed on.
    inbox
        .store(inbox_cases::confirmed_line_event("o-0", 9))
        .await
        .unwrap();
    inbox_cases::wait_for("the first handled", Duration::from_secs(10), || {
        seen.lock().unwrap().len() == 1
    })
    .await;
    let handed = r#"{"eventName":"OrderLinesConfirmedBySupplier","orderEvent":{"orderId":"o-1","lines":[{"id":"handed"}]}}"#;
    let webhook = decode(Endpoint::Order, "application/json", handed.as_bytes()).unwrap();
    inbox
        .store_webhook(inbox_cases::confirmed_line_event("o-1", 0), webhook)
        .await
        .unwrap();
    inbox
        .store(inbox_cases::confirmed_line_event("o-1", 1))
        .await
        .unwrap();
    inbox_cases::wait_for("all handled", Duration::from_secs(10), || {
        seen.lock().unwrap().len() == 3
    })
    .await;
    assert_eq!(*seen.lock().unwrap(), ["l9", "handed", "l1"]);
    let _ = stop.send(());
    processor.await.unwrap();
}
