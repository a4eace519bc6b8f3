//! The `unhandled` state in both stores (SQLite, and PostgreSQL on a
//! throwaway cluster, see `pg_support`), with a real processor: an unknown
//! event without a known payload is kept, listed, never handed to the
//! handler and never holds up the later events of its order; a redelivery
//! is a duplicate, a valid copy of a rejected message may be one; a replay
//! of a still-unknown event ends `unhandled` again, a replay of a body this
//! version knows is handled; a purge never deletes it.

#![cfg(feature = "receiver")]

#[cfg(feature = "postgres")]
use crate::pg_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tradecloud::inbox::{EventKind, Inbox, ListFilter, NewEvent, NewState, State, Stored};
use tradecloud::processing::{
    handler_fn, Event, HandlerError, Outcome, Processor, ProcessorConfig,
};
use tradecloud::webhook::{decode, Endpoint};

fn order_event(order_id: &str, message_id: &str) -> NewEvent {
    let body = format!(
        r#"{{"eventName":"OrderLinesConfirmedBySupplier","meta":{{"messageId":"{message_id}"}},"orderEvent":{{"orderId":"{order_id}","lines":[]}}}}"#
    );
    let webhook = decode(Endpoint::Order, "application/json", body.as_bytes()).unwrap();
    NewEvent::from_webhook(&webhook, "application/json", Bytes::from(body))
}

/// An event name and payload member this version does not know.
fn unknown_event(message_id: &str) -> NewEvent {
    let body = format!(
        r#"{{"eventName":"OrderTeleportedByBuyer","meta":{{"messageId":"{message_id}"}},"teleportEvent":{{"orderId":"o-1"}}}}"#
    );
    let webhook = decode(Endpoint::Order, "application/json", body.as_bytes()).unwrap();
    assert!(webhook.is_unknown());
    NewEvent::from_webhook(&webhook, "application/json", Bytes::from(body))
}

/// What an older version stored as `unhandled` with an order id (it did not
/// know the event), with a body this version knows.
fn unhandled_with_order(order_id: &str, message_id: &str) -> NewEvent {
    NewEvent {
        state: NewState::Unhandled {
            reason: "unknown order event (an older version)".into(),
        },
        ..order_event(order_id, message_id)
    }
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn state_of(inbox: &Inbox, id: i64) -> State {
    inbox.get(id).await.unwrap().unwrap().summary.state
}

/// The same checks on any store.
async fn unhandled_events_are_kept_and_never_block(inbox: Inbox) {
    // Order o-1: an unhandled event first (of an older version, with the
    // order id), then received ones, and an unknown event (no order id)
    // between them; order o-2 after them.
    let old = inbox
        .store(unhandled_with_order("o-1", "m-2"))
        .await
        .unwrap()
        .id();
    let first = inbox.store(order_event("o-1", "m-1")).await.unwrap().id();
    let unknown = inbox.store(unknown_event("u-1")).await.unwrap();
    assert!(matches!(unknown, Stored::New(_)));
    let unknown = unknown.id();
    let later = inbox.store(order_event("o-1", "m-3")).await.unwrap().id();
    let last = inbox.store(order_event("o-1", "m-4")).await.unwrap().id();
    let other = inbox.store(order_event("o-2", "m-5")).await.unwrap().id();

    // Kept as sent, with the reason; a redelivery is a duplicate.
    let stored = inbox.get(unknown).await.unwrap().unwrap();
    assert_eq!(stored.summary.state, State::Unhandled);
    assert_eq!(stored.summary.object_id, None);
    assert_eq!(stored.body, unknown_event("u-1").body);
    assert!(
        stored
            .summary
            .error
            .as_deref()
            .is_some_and(|e| e.contains("OrderTeleportedByBuyer") && e.contains("not handled")),
        "{:?}",
        stored.summary.error
    );
    assert_eq!(
        inbox.store(unknown_event("u-1")).await.unwrap(),
        Stored::Duplicate(unknown)
    );

    // A message first quarantined, then redelivered as an unknown event:
    // the new copy is stored as unhandled and takes the message id over.
    let rejected = inbox
        .store(NewEvent::rejected(
            EventKind::Order,
            "application/json",
            Bytes::from_static(b"{\"eventName\":"),
            "invalid JSON body: EOF",
        ))
        .await
        .unwrap()
        .id();
    let quarantined = NewEvent {
        message_id: Some("u-2".into()),
        ..NewEvent::rejected(
            EventKind::Order,
            "application/json",
            Bytes::from_static(b"{\"eventName\":"),
            "invalid JSON body: EOF",
        )
    };
    let rejected_copy = inbox.store(quarantined).await.unwrap().id();
    let superseding = inbox.store(unknown_event("u-2")).await.unwrap();
    assert!(matches!(superseding, Stored::New(id) if id > rejected_copy));
    let superseding = superseding.id();
    let new_copy = inbox.get(superseding).await.unwrap().unwrap().summary;
    assert_eq!(new_copy.state, State::Unhandled);
    assert_eq!(new_copy.message_id.as_deref(), Some("u-2"));
    assert!(new_copy.error.is_some_and(|e| e.contains("not handled")));
    let old_copy = inbox.get(rejected_copy).await.unwrap().unwrap().summary;
    assert_eq!(old_copy.state, State::Rejected);
    assert!(old_copy
        .error
        .is_some_and(|e| e.ends_with(&format!("(superseded by event {superseding})"))));

    // Listed by state.
    let listed: Vec<i64> = inbox
        .list(ListFilter {
            state: Some(State::Unhandled),
            ..ListFilter::default()
        })
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(listed, [old, unknown, superseding]);

    // A processor handles every received event, o-1's in order past the
    // unhandled one, and never gets an unhandled event.
    let seen: Arc<Mutex<Vec<i64>>> = Arc::default();
    let outcomes: Arc<Mutex<Vec<(i64, Outcome)>>> = Arc::default();
    let handler = {
        let seen = seen.clone();
        handler_fn(move |event: Event, _ctx| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(event.meta().inbox_id);
                Ok::<(), HandlerError>(())
            }
        })
    };
    let observed = outcomes.clone();
    let processor = Processor::new(
        inbox.clone(),
        handler,
        ProcessorConfig {
            poll_interval: Duration::from_millis(50),
            ..ProcessorConfig::default()
        },
    )
    .on_outcome(move |report| {
        observed
            .lock()
            .unwrap()
            .push((report.inbox_id, report.outcome.clone()));
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(processor.run(async {
        let _ = stopped.await;
    }));
    wait_for("the received events handled", async || {
        seen.lock().unwrap().len() == 4
    })
    .await;
    for id in [first, later, last, other] {
        wait_for("done", async || state_of(&inbox, id).await == State::Done).await;
    }
    let handled = seen.lock().unwrap().clone();
    let o1: Vec<i64> = handled.iter().copied().filter(|id| *id != other).collect();
    assert_eq!(o1, [first, later, last], "o-1 in stored order");
    for id in [old, unknown, superseding] {
        assert_eq!(state_of(&inbox, id).await, State::Unhandled);
    }

    // Replayed while this version still does not know it: unhandled again,
    // and the handler never gets it.
    inbox.replay(unknown).await.unwrap();
    wait_for("the replay finished", async || {
        outcomes
            .lock()
            .unwrap()
            .iter()
            .any(|(id, outcome)| *id == unknown && matches!(outcome, Outcome::Unhandled { .. }))
    })
    .await;
    wait_for("unhandled again", async || {
        state_of(&inbox, unknown).await == State::Unhandled
    })
    .await;
    // Replayed after an upgrade that knows it: handled.
    inbox.replay(old).await.unwrap();
    wait_for("the old one handled", async || {
        state_of(&inbox, old).await == State::Done
    })
    .await;
    let _ = stop.send(());
    running.await.unwrap();
    let handled = seen.lock().unwrap().clone();
    assert_eq!(handled.len(), 5);
    assert_eq!(handled.last(), Some(&old));
    assert!(!handled.contains(&unknown) && !handled.contains(&superseding));

    // A purge deletes done events only.
    let future = chrono::Utc::now() + chrono::Duration::days(1);
    let purged = inbox.purge(future, false).await.unwrap();
    assert_eq!(purged.events, 5);
    for id in [unknown, superseding] {
        assert_eq!(state_of(&inbox, id).await, State::Unhandled);
    }
    assert_eq!(state_of(&inbox, rejected).await, State::Rejected);
    let counts = inbox.counts().await.unwrap();
    assert!(counts.contains(&(State::Unhandled, 2)), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_unhandled_events_and_never_blocks_on_them() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
    unhandled_events_are_kept_and_never_block(Inbox::open(&url).unwrap()).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_unhandled_events_and_never_blocks_on_them() {
    let pg = pg_support::PgCluster::start();
    let inbox = Inbox::connect(&pg.database("unhandled")).await.unwrap();
    unhandled_events_are_kept_and_never_block(inbox).await;
}
