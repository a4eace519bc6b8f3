//! Cases every inbox store must pass the same way, run against SQLite
//! (`tests/inbox_store.rs`) and PostgreSQL (`tests/inbox_postgres.rs`).

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tradecloud::inbox::{EventKind, Inbox, ListFilter, NewEvent, NewState, State, Stored};
use tradecloud::processing::{handler_fn, Processor, ProcessorConfig};

/// A webhook body of `kind` carrying these ids (serde_json escapes a NUL).
pub fn body(kind: EventKind, object: &str, message: &str) -> Bytes {
    let body = match kind {
        EventKind::Shipment => serde_json::json!({
            "eventName": "ShipmentIssuedBySupplier",
            "meta": {"messageId": message},
            "shipment": {"id": object}
        }),
        EventKind::OrderDocuments => serde_json::json!({
            "eventName": "OrderDocumentsAttachedByBuyer",
            "meta": {"messageId": message},
            "orderDocumentsEvent": {"orderId": object}
        }),
        EventKind::Order => serde_json::json!({
            "eventName": "OrderIssuedByBuyer",
            "meta": {"messageId": message},
            "orderEvent": {"orderId": object}
        }),
    };
    Bytes::from(body.to_string())
}

pub fn event(kind: EventKind, object: &str, message: &str) -> NewEvent {
    NewEvent {
        kind,
        event_name: Some("OrderIssuedByBuyer".into()),
        object_id: Some(object.into()),
        message_id: Some(message.into()),
        content_type: "application/json".into(),
        body: body(kind, object, message),
        state: NewState::Received,
        source: Some("POST /tradecloud/test".into()),
    }
}

fn short(s: &str) -> String {
    s.chars().take(12).collect()
}

/// Issue 23, items 1 to 3: ids with NUL or U+FFFD, one message id for
/// events of different kinds, a 9,000-character message id and a 300 kB
/// order id are each stored as their own event, found again as themselves
/// (a redelivery is a duplicate of its own first copy, never of another
/// event), listed by their order id, and handled in order.
pub async fn ids_of_any_content_and_length_are_kept_apart(inbox: &Inbox) {
    let long_message = "m".repeat(9_000);
    let long_order = "o".repeat(300_000);
    let cases: Vec<(EventKind, String, String)> = vec![
        (EventKind::Order, "o-nul\0".into(), "n\0".into()),
        (EventKind::Order, "o-nul\u{FFFD}".into(), "n\u{FFFD}".into()),
        (EventKind::Order, "o-shared".into(), "shared".into()),
        (EventKind::Shipment, "s-shared".into(), "shared".into()),
        (
            EventKind::OrderDocuments,
            "o-shared".into(),
            "shared".into(),
        ),
        (
            EventKind::Order,
            "o-long-message".into(),
            long_message.clone(),
        ),
        (EventKind::Order, long_order.clone(), "long-order-1".into()),
        (EventKind::Order, long_order.clone(), "long-order-2".into()),
    ];
    let mut ids = Vec::new();
    for (kind, object, message) in &cases {
        let stored = inbox
            .store(event(*kind, object, message))
            .await
            .unwrap_or_else(|e| panic!("{kind} {:?}: {e}", short(message)));
        assert!(
            matches!(stored, Stored::New(_)),
            "{kind} {:?} is a new event, not {stored:?}",
            short(message)
        );
        ids.push(stored.id());
    }
    for ((kind, object, message), id) in cases.iter().zip(&ids) {
        // A redelivery is a duplicate of its own first copy.
        assert_eq!(
            inbox.store(event(*kind, object, message)).await.unwrap(),
            Stored::Duplicate(*id),
            "{kind} {:?}",
            short(message)
        );
        // Kept byte for byte, with its ids.
        let got = inbox.get(*id).await.unwrap().expect("stored");
        assert_eq!(got.body, body(*kind, object, message));
        assert_eq!(got.summary.kind, *kind);
        assert_eq!(
            got.summary.object_id.as_ref().map(|o| o.len()),
            Some(object.len())
        );
    }
    // Found by their order ids, NUL or not, long or not.
    for (object, expected) in [
        ("o-nul\0", vec![ids[0]]),
        ("o-nul\u{FFFD}", vec![ids[1]]),
        (long_order.as_str(), vec![ids[6], ids[7]]),
    ] {
        let listed = inbox
            .list(ListFilter {
                object_id: Some(object.into()),
                ..ListFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(
            listed.iter().map(|e| e.id).collect::<Vec<_>>(),
            expected,
            "{:?}",
            short(object)
        );
    }

    // Handled, each order's events in stored order.
    let handled: Arc<Mutex<Vec<i64>>> = Arc::default();
    let handler = {
        let handled = handled.clone();
        handler_fn(move |event, _ctx| {
            let handled = handled.clone();
            async move {
                handled.lock().unwrap().push(event.meta().inbox_id);
                Ok(())
            }
        })
    };
    let config = ProcessorConfig {
        poll_interval: Duration::from_millis(50),
        lease: Duration::from_secs(3),
        ..ProcessorConfig::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(Processor::new(inbox.clone(), handler, config).run(async {
        let _ = stopped.await;
    }));
    let start = Instant::now();
    loop {
        let mut done = 0;
        for id in &ids {
            if inbox.get(*id).await.unwrap().unwrap().summary.state == State::Done {
                done += 1;
            }
        }
        if done == ids.len() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{done} of {} handled",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    let handled = handled.lock().unwrap().clone();
    let position = |id: i64| handled.iter().position(|h| *h == id).unwrap();
    assert!(position(ids[6]) < position(ids[7]), "{handled:?}");
}
