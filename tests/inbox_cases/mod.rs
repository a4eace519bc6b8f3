//! Cases every inbox store must pass the same way, run against SQLite
//! (`tests/inbox_store.rs`) and PostgreSQL (`tests/inbox_postgres.rs`).

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tradecloud::inbox::{EventKind, Inbox, ListFilter, NewEvent, NewState, State, Stored};
use tradecloud::processing::{handler_fn, Event, Handler, Processor, ProcessorConfig};
use tradecloud::webhook::{decode, Endpoint};

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

/// [`event_with`] and the headers a receiver keeps (so that every shared
/// case stores and copies headers too).
pub fn event(kind: EventKind, object: &str, message: &str) -> NewEvent {
    event_with(kind, object, message)
        .with_headers([("user-agent", "Tradecloud"), ("x-request-id", message)])
}

/// An event of `kind` without headers.
pub fn event_with(kind: EventKind, object: &str, message: &str) -> NewEvent {
    NewEvent {
        kind,
        event_name: Some("OrderIssuedByBuyer".into()),
        object_id: Some(object.into()),
        message_id: Some(message.into()),
        content_type: "application/json".into(),
        body: body(kind, object, message),
        state: NewState::Received,
        source: Some("POST /tradecloud/test".into()),
        headers: Vec::new(),
    }
}

/// Issue 21: the request's headers are kept beside the body, in order,
/// with duplicates, any Unicode and a NUL, credentials redacted
/// (`Authorization` keeps its scheme), long values cut; an event stored
/// without headers has none. A duplicate keeps the first copy's headers.
pub async fn request_headers_are_kept_with_credentials_redacted(inbox: &Inbox) {
    let long = "é".repeat(2_000);
    let first = event(EventKind::Order, "o-headers", "m-headers").with_headers([
        ("Host", "erp.example.com"),
        ("User-Agent", "Tradecloud webhook"),
        ("Authorization", "Basic dHJhZGVjbG91ZDpzM2NyZXQ="),
        ("X-Api-Key", "s3cret"),
        ("Cookie", "session=abc"),
        ("X-Forwarded-For", "10.0.0.1"),
        ("X-Forwarded-For", "10.0.0.2"),
        ("X-Note", "\u{10FFFF} and a NUL \0 kept"),
        ("X-Long", long.as_str()),
    ]);
    let id = inbox.store(first).await.unwrap().id();
    let stored = inbox.get(id).await.unwrap().unwrap();
    let pairs: Vec<(&str, &str)> = stored
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        &pairs[..8],
        &[
            ("host", "erp.example.com"),
            ("user-agent", "Tradecloud webhook"),
            ("authorization", "Basic [redacted]"),
            ("x-api-key", "[redacted]"),
            ("cookie", "[redacted]"),
            ("x-forwarded-for", "10.0.0.1"),
            ("x-forwarded-for", "10.0.0.2"),
            ("x-note", "\u{10FFFF} and a NUL \0 kept"),
        ]
    );
    let (name, value) = pairs[8];
    assert_eq!(name, "x-long");
    assert!(value.len() <= tradecloud::inbox::HEADER_VALUE_MAX_BYTES + '…'.len_utf8());
    assert!(value.ends_with('…') && long.starts_with(value.trim_end_matches('…')));
    let text = format!("{:?}", stored.headers);
    assert!(!text.contains("dHJhZGVjbG91ZDpzM2NyZXQ=") && !text.contains("s3cret"));

    // A second copy of the message is a duplicate: the first one's headers stay.
    let again = event_with(EventKind::Order, "o-headers", "m-headers")
        .with_headers([("user-agent", "someone else")]);
    assert_eq!(inbox.store(again).await.unwrap(), Stored::Duplicate(id));
    assert_eq!(
        inbox.get(id).await.unwrap().unwrap().headers,
        stored.headers
    );

    // Without headers: none, and a trigger (GET webhook) may carry them too.
    let mut bare = event(EventKind::Order, "o-headers", "m-bare");
    bare.headers.clear();
    let bare = inbox.store(bare).await.unwrap().id();
    assert!(inbox.get(bare).await.unwrap().unwrap().headers.is_empty());
    let trigger = NewEvent::trigger(EventKind::Shipment, "s-headers")
        .with_headers([("user-agent", "Tradecloud")]);
    let trigger = inbox.store(trigger).await.unwrap().id();
    assert_eq!(
        inbox.get(trigger).await.unwrap().unwrap().headers,
        vec![("user-agent".to_owned(), "Tradecloud".to_owned())]
    );
}

/// The ids `inbox.list(filter)` gives, in its order.
pub async fn listed_ids(inbox: &Inbox, filter: ListFilter) -> Vec<i64> {
    inbox
        .list(filter)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect()
}

/// Issue 21: the console's search by purchase order number, through the
/// indexed key stored at insert: an order event's `buyerOrder`, a
/// shipment's first line; a number only mentioned elsewhere in a body, a
/// blank one or a tXML body stored without its decoded webhook give no key
/// (the body scan finds those). A decoded webhook gives its number
/// (`Webhook::purchase_order_number`), also from tXML.
pub async fn events_are_found_by_purchase_order_number(inbox: &Inbox) {
    let store = |kind: EventKind, message: &str, body: serde_json::Value| {
        let mut e = event(kind, "o-po", message);
        e.body = Bytes::from(body.to_string());
        async move { inbox.store(e).await.unwrap().id() }
    };
    let order = store(
        EventKind::Order,
        "m-po-1",
        serde_json::json!({"eventName": "OrderIssuedByBuyer", "orderEvent": {"orderId": "o-po",
            "buyerOrder": {"purchaseOrderNumber": " PO-42 "}}}),
    )
    .await;
    let shipment = store(
        EventKind::Shipment,
        "m-po-2",
        serde_json::json!({"eventName": "ShipmentIssuedBySupplier", "shipment": {"id": "s-po",
            "loadCarriers": [{"lines": [{"purchaseOrderNumber": "PO-42"}]}]}}),
    )
    .await;
    let _mentioned = store(
        EventKind::Order,
        "m-po-3",
        serde_json::json!({"eventName": "OrderIssuedByBuyer", "orderEvent": {"orderId": "o-po",
            "buyerOrder": {"purchaseOrderNumber": "  ", "description": "PO-42"}}}),
    )
    .await;
    // An event without an order id (stored as it came) is found too.
    let mut alone = event(EventKind::Order, "o-po", "m-po-5");
    alone.object_id = None;
    alone.body = Bytes::from(
        serde_json::json!({"eventName": "OrderIssuedByBuyer", "orderEvent": {
            "buyerOrder": {"purchaseOrderNumber": "PO-42"}}})
        .to_string(),
    );
    let alone = inbox.store(alone).await.unwrap().id();
    let mut txml = event(EventKind::Order, "o-po", "m-po-4");
    txml.content_type = "application/xml".into();
    txml.body = Bytes::from_static(b"<purchaseOrderNumber>PO-42</purchaseOrderNumber>");
    inbox.store(txml).await.unwrap();
    let by_po = |number: &str| {
        let filter = ListFilter {
            purchase_order_number: Some(number.into()),
            ..ListFilter::default()
        };
        listed_ids(inbox, filter)
    };
    assert_eq!(by_po("PO-42").await, vec![order, shipment, alone]);
    assert_eq!(
        by_po(" PO-42").await,
        vec![order, shipment, alone],
        "trimmed"
    );
    assert!(by_po("PO-4").await.is_empty(), "the whole number");
    assert!(by_po("").await.is_empty());
    // With the other filters and paging.
    let filter = ListFilter {
        purchase_order_number: Some("PO-42".into()),
        before_id: Some(shipment),
        ..ListFilter::default()
    };
    assert_eq!(inbox.list(filter).await.unwrap().len(), 1);

    let mut decoded = Vec::new();
    for (file, content_type) in [
        ("order-event.json", "application/json"),
        ("order-event.xml", "application/xml"),
    ] {
        let path = format!(
            "{}/tests/fixtures/order-webhook/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let body = Bytes::from(std::fs::read(&path).unwrap());
        let webhook = decode(Endpoint::Order, content_type, &body).unwrap();
        let mut e = NewEvent::from_webhook(&webhook, content_type, body);
        e.message_id = Some(format!("m-po-{file}"));
        decoded.push(inbox.store_webhook(e, webhook).await.unwrap().id());
    }
    assert_eq!(by_po("PO123456789").await, decoded, "JSON and tXML");
}

/// Issue 21: the console's filters, by event name, by the time an event
/// was received and by a text of its body, alone and with the others and keyset paging.
pub async fn events_are_listed_by_name_and_time(inbox: &Inbox) {
    let mut shipment = event(EventKind::Shipment, "s-1", "m-s1");
    shipment.event_name = Some("ShipmentIssuedBySupplier".into());
    let first = inbox.store(shipment).await.unwrap().id();
    // Times are kept in milliseconds: `before` in a millisecond of its own.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let before = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let id = inbox
            .store(event(EventKind::Order, "o-1", &format!("m-{n}")))
            .await
            .unwrap()
            .id();
        ids.push(id);
    }
    let list = |filter: ListFilter| listed_ids(inbox, filter);
    assert_eq!(
        list(ListFilter {
            event_name: Some("ShipmentIssuedBySupplier".into()),
            ..ListFilter::default()
        })
        .await,
        vec![first]
    );
    assert_eq!(
        list(ListFilter {
            event_name: Some("OrderIssuedByBuyer".into()),
            before_id: Some(ids[2]),
            ..ListFilter::default()
        })
        .await,
        ids[..2]
    );
    let all = inbox.list(ListFilter::default()).await.unwrap();
    let times: Vec<_> = all.iter().map(|e| (e.id, e.received_at)).collect();
    assert_eq!(
        list(ListFilter {
            received_from: Some(before),
            ..ListFilter::default()
        })
        .await,
        ids,
        "received after {before}: {times:?}"
    );
    assert_eq!(
        list(ListFilter {
            received_until: Some(before),
            ..ListFilter::default()
        })
        .await,
        vec![first]
    );
    assert_eq!(
        list(ListFilter {
            body_contains: Some("\"m-1\"".into()),
            ..ListFilter::default()
        })
        .await,
        vec![ids[1]],
        "a text of the body"
    );
    assert!(list(ListFilter {
        body_contains: Some("not in any body".into()),
        ..ListFilter::default()
    })
    .await
    .is_empty());
    // A window of ids (after < id < before): how the console bounds a
    // search of bodies.
    assert_eq!(
        list(ListFilter {
            after_id: Some(ids[0]),
            ..ListFilter::default()
        })
        .await,
        ids[1..]
    );
    assert_eq!(
        list(ListFilter {
            body_contains: Some("OrderIssuedByBuyer".into()),
            after_id: Some(first),
            before_id: Some(ids[2]),
            ..ListFilter::default()
        })
        .await,
        ids[..2]
    );
    assert!(list(ListFilter {
        body_contains: Some("\"m-1\"".into()),
        after_id: Some(ids[1]),
        ..ListFilter::default()
    })
    .await
    .is_empty());
    assert!(list(ListFilter {
        event_name: Some("OrderIssuedByBuyer".into()),
        received_until: Some(before),
        ..ListFilter::default()
    })
    .await
    .is_empty());
}

/// Issue 21: an event still to be handled can be given up (`dead`, with
/// the reason as its error); the next event of its order is then handled,
/// and the dead one can be replayed. Other states are refused.
pub async fn an_event_to_be_handled_can_be_marked_dead(inbox: &Inbox) {
    let first = inbox
        .store(event(EventKind::Order, "o-dead", "m-d1"))
        .await
        .unwrap()
        .id();
    let second = inbox
        .store(event(EventKind::Order, "o-dead", "m-d2"))
        .await
        .unwrap()
        .id();
    inbox.mark_dead(first, "the ERP refuses it").await.unwrap();
    let dead = inbox.get(first).await.unwrap().unwrap().summary;
    assert_eq!(dead.state, State::Dead);
    assert_eq!(dead.error.as_deref(), Some("the ERP refuses it"));
    let again = inbox
        .mark_dead(first, "again")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        again.contains("is dead") && again.contains("still to be handled"),
        "{again}"
    );
    assert!(matches!(
        inbox.mark_dead(first + 1000, "x").await,
        Err(tradecloud::inbox::InboxError::NotFound(_))
    ));

    // The next event of the order is handled, the dead one is not.
    let (handled, handler) = recording_handler();
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
    while inbox.get(second).await.unwrap().unwrap().summary.state != State::Done {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the next event is handled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(*handled.lock().unwrap(), vec![second]);
    inbox.replay(first).await.unwrap();
    while inbox.get(first).await.unwrap().unwrap().summary.state != State::Done {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the replayed event is handled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    let done = inbox
        .mark_dead(second, "late")
        .await
        .unwrap_err()
        .to_string();
    assert!(done.contains("is done"), "{done}");
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
    let (handled, handler) = recording_handler();
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

/// A SQLite inbox at `path` with `n` order events (ids 1 to `n`).
pub async fn sqlite_with_events(path: &std::path::Path, n: usize) -> Inbox {
    let inbox = Inbox::open(&format!("sqlite://{}", path.display())).unwrap();
    for i in 0..n {
        let stored = inbox
            .store(event(
                EventKind::Order,
                &format!("o-{}", i % 7),
                &format!("m-{i}"),
            ))
            .await
            .unwrap();
        assert_eq!(stored, Stored::New(i as i64 + 1));
    }
    inbox
}

/// Issue 23, item 8: `inbox migrate` (`Inbox::copy_to`) fails half-way on
/// a row of the source that cannot be read (here event 700 of 1,200, past
/// the first chunks): the error names the row and why; the target, with
/// the chunks copied so far, is marked unfinished and refused by every
/// opening but a new copy (so no receiver starts on it); running the copy
/// again once the row is fixed starts over and completes. Then a copy
/// from a source that a receiver keeps writing to is refused.
pub async fn a_failed_copy_is_named_marked_and_started_over(
    source_dir: &std::path::Path,
    target_url: &str,
) {
    let path = source_dir.join("source.db");
    let source = sqlite_with_events(&path, 1200).await;
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("UPDATE events SET kind = 'bogus' WHERE id = 700", [])
            .unwrap();
    }
    let target = Inbox::connect_migration_target(target_url, Default::default())
        .await
        .unwrap();
    let error = source.copy_to(&target).await.unwrap_err().to_string();
    assert!(
        error.contains("event 700") && error.contains("bogus") && error.contains("unfinished"),
        "the error names the row and why: {error}"
    );
    // Half-copied, and marked: refused by everyone else.
    let error = Inbox::connect(target_url).await.unwrap_err().to_string();
    assert!(
        error.contains("unfinished copy") && error.contains("inbox migrate"),
        "{error}"
    );
    let error = Inbox::connect_retrying(target_url, Default::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("unfinished copy"), "{error}");

    // Fixed, and run again: started over, complete, usable.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("UPDATE events SET kind = 'order' WHERE id = 700", [])
            .unwrap();
    }
    drop(target);
    let target = Inbox::connect_migration_target(target_url, Default::default())
        .await
        .unwrap();
    let copied = source.copy_to(&target).await.unwrap();
    assert_eq!(copied.events, 1200);
    let target = Inbox::connect(target_url).await.unwrap();
    let all = ListFilter {
        limit: Some(10_000),
        ..ListFilter::default()
    };
    assert_eq!(
        source.list(all.clone()).await.unwrap(),
        target.list(all).await.unwrap()
    );
    // A complete inbox is no target.
    let target = Inbox::connect_migration_target(target_url, Default::default())
        .await
        .unwrap();
    let error = source.copy_to(&target).await.unwrap_err().to_string();
    assert!(error.contains("not empty"), "{error}");
}

/// Issue 23, item 8: a copy from a source a receiver still writes to is
/// refused, and the target stays marked unfinished.
pub async fn a_copy_from_a_source_in_use_is_refused(
    source_dir: &std::path::Path,
    target_url: &str,
) {
    let path = source_dir.join("busy.db");
    let source = sqlite_with_events(&path, 3000).await;
    let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let writer = {
        let (source, writing) = (source.clone(), writing.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while writing.load(std::sync::atomic::Ordering::Relaxed) {
                source
                    .store(event(EventKind::Order, "o-busy", &format!("busy-{i}")))
                    .await
                    .unwrap();
                i += 1;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            i
        })
    };
    // Writing before the copy starts, and all through it.
    while source
        .list(ListFilter {
            object_id: Some("o-busy".into()),
            ..ListFilter::default()
        })
        .await
        .unwrap()
        .is_empty()
    {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let target = Inbox::connect_migration_target(target_url, Default::default())
        .await
        .unwrap();
    let result = source.copy_to(&target).await;
    writing.store(false, std::sync::atomic::Ordering::Relaxed);
    writer.await.unwrap();
    let error = result.unwrap_err().to_string();
    assert!(
        error.contains("changed while it was copied")
            && error.contains("Stop every `tradecloud serve`"),
        "{error}"
    );
    assert!(
        Inbox::connect(target_url).await.is_err(),
        "marked unfinished"
    );
    // Once nothing writes to it: copied.
    let copied = source.copy_to(&target).await.unwrap();
    assert!(copied.events > 3000);
    assert!(Inbox::connect(target_url).await.is_ok());
}

/// Issue 21: every processing attempt is kept with its error. An event
/// failing twice transiently, then succeeding, has three attempts in
/// order: the two errors (one with a NUL and markup, one longer than
/// [`ERROR_MAX_BYTES`], cut at a character boundary) and then `done`.
/// Purging the event removes its attempts.
pub async fn every_attempt_is_kept_with_its_error(inbox: &Inbox) {
    use tradecloud::inbox::{AttemptOutcome, ERROR_MAX_BYTES};
    use tradecloud::processing::HandlerError;

    let id = inbox
        .store(event(EventKind::Order, "o-attempts", "m-attempts"))
        .await
        .unwrap()
        .id();
    assert!(inbox.attempts(id).await.unwrap().is_empty());
    let long = format!("second {}", "é".repeat(ERROR_MAX_BYTES));
    let handler = {
        let long = long.clone();
        handler_fn(move |event, _ctx| {
            let long = long.clone();
            async move {
                match event.meta().attempt {
                    1 => Err(HandlerError::Transient(
                        "first <script>alert(1)</script> \0 nul".into(),
                    )),
                    2 => Err(HandlerError::Transient(long)),
                    _ => Ok(()),
                }
            }
        })
    };
    let config = ProcessorConfig {
        poll_interval: Duration::from_millis(50),
        lease: Duration::from_secs(3),
        max_attempts: 5,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(40),
        ..ProcessorConfig::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(Processor::new(inbox.clone(), handler, config).run(async {
        let _ = stopped.await;
    }));
    let start = Instant::now();
    while inbox.get(id).await.unwrap().unwrap().summary.state != State::Done {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the event is handled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;

    let attempts = inbox.attempts(id).await.unwrap();
    let outcomes: Vec<_> = attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            AttemptOutcome::Retry,
            AttemptOutcome::Retry,
            AttemptOutcome::Done
        ]
    );
    let first = attempts[0].error.as_deref().unwrap();
    assert!(
        first.contains("first <script>alert(1)</script> \0 nul"),
        "{first:?}"
    );
    let second = attempts[1].error.as_deref().unwrap();
    assert!(second.contains("second é"), "{second:?}");
    assert!(second.len() <= ERROR_MAX_BYTES && second.len() > ERROR_MAX_BYTES - 64);
    assert_eq!(attempts[2].error, None);
    for (a, b) in attempts.iter().zip(attempts.iter().skip(1)) {
        assert!(a.finished_at <= b.finished_at);
    }
    for a in &attempts {
        assert!(a.started_at <= a.finished_at);
        assert!(a.instance.as_deref().is_some_and(|i| !i.is_empty()));
    }
    assert_eq!(attempts[0].instance, attempts[2].instance);

    let purged = inbox
        .purge(chrono::Utc::now() + chrono::Duration::seconds(5), false)
        .await
        .unwrap();
    assert!(purged.events >= 1);
    assert!(inbox.get(id).await.unwrap().is_none());
    assert!(inbox.attempts(id).await.unwrap().is_empty());
}

/// Issue 21: the attempts of an event are bounded: handled (and replayed)
/// more than [`ATTEMPTS_KEPT`] times, it keeps the newest ones, in order.
pub async fn only_the_newest_attempts_are_kept(inbox: &Inbox) {
    use tradecloud::inbox::{AttemptOutcome, ATTEMPTS_KEPT};

    let id = inbox
        .store(event(EventKind::Order, "o-many", "m-many"))
        .await
        .unwrap()
        .id();
    let handler = handler_fn(|_event, _ctx| async { Ok(()) });
    let config = ProcessorConfig {
        poll_interval: Duration::from_millis(20),
        lease: Duration::from_secs(3),
        ..ProcessorConfig::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(Processor::new(inbox.clone(), handler, config).run(async {
        let _ = stopped.await;
    }));
    let start = Instant::now();
    let handlings = ATTEMPTS_KEPT + 3;
    let mut finished = Vec::new();
    for n in 0..handlings {
        if n > 0 {
            inbox.replay(id).await.unwrap();
        }
        loop {
            let s = inbox.get(id).await.unwrap().unwrap().summary;
            if s.state == State::Done {
                finished.push(s.updated_at);
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "handling {n}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;

    let attempts = inbox.attempts(id).await.unwrap();
    assert_eq!(attempts.len(), ATTEMPTS_KEPT);
    assert!(attempts.iter().all(|a| a.outcome == AttemptOutcome::Done));
    // The newest: the last one finished when the event last became done,
    // and the first is not older than the handling 3 after the first.
    assert_eq!(
        attempts.last().map(|a| a.finished_at),
        finished.last().copied()
    );
    assert!(attempts[0].finished_at >= finished[handlings - ATTEMPTS_KEPT]);
    for (a, b) in attempts.iter().zip(attempts.iter().skip(1)) {
        assert!(a.finished_at <= b.finished_at);
    }
}

/// The console's search terms reach every filter as typed: NUL, control
/// characters and U+10FFFF in a name, an order id, a purchase order number
/// or a text of the bodies find the event that holds them (or nothing),
/// never a store error (PostgreSQL's `text` refuses NUL as such).
pub async fn filters_take_nul_and_control_characters(inbox: &Inbox) {
    let odd = "x\u{0}\u{1}\u{7f}\u{10ffff}";
    let mut stored = event(EventKind::Order, &format!("o-{odd}"), "m-odd");
    stored.event_name = Some(format!("Name{odd}"));
    stored.body = Bytes::from(format!("raw {odd} body"));
    let id = inbox.store(stored).await.unwrap().id();
    let by = |filter: ListFilter| listed_ids(inbox, filter);
    for filter in [
        ListFilter {
            event_name: Some(format!("Name{odd}")),
            ..ListFilter::default()
        },
        ListFilter {
            object_id: Some(format!("o-{odd}")),
            ..ListFilter::default()
        },
        ListFilter {
            body_contains: Some(odd.into()),
            ..ListFilter::default()
        },
        ListFilter {
            body_contains: Some("\u{0}".into()),
            after_id: Some(id - 1),
            ..ListFilter::default()
        },
    ] {
        assert_eq!(by(filter.clone()).await, vec![id], "{filter:?}");
    }
    for filter in [
        ListFilter {
            event_name: Some("\u{0}".into()),
            ..ListFilter::default()
        },
        ListFilter {
            object_id: Some("\u{0}".into()),
            ..ListFilter::default()
        },
        ListFilter {
            purchase_order_number: Some(format!("PO{odd}")),
            ..ListFilter::default()
        },
    ] {
        assert!(by(filter.clone()).await.is_empty(), "{filter:?}");
    }
}

/// An order event confirming line `l<seq>` of `order_id` (message id
/// `<order_id>-<seq>`).
pub fn confirmed_line_event(order_id: &str, seq: usize) -> NewEvent {
    let message_id = format!("{order_id}-{seq}");
    let body = format!(
        r#"{{"eventName":"OrderLinesConfirmedBySupplier","meta":{{"messageId":"{message_id}"}},"orderEvent":{{"orderId":"{order_id}","lines":[{{"id":"l{seq}"}}]}}}}"#
    );
    NewEvent {
        kind: EventKind::Order,
        event_name: Some("OrderLinesConfirmedBySupplier".into()),
        object_id: Some(order_id.into()),
        message_id: Some(message_id),
        content_type: "application/json".into(),
        body: Bytes::from(body),
        state: NewState::Received,
        source: None,
        headers: Vec::new(),
    }
}

/// A handler that records the inbox id of each event it gets, in the order
/// it gets them, and the list it records into.
pub fn recording_handler() -> (Arc<Mutex<Vec<i64>>>, impl Handler) {
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
    (handled, handler)
}

/// A processor with `concurrency` handler slots that polls often and
/// retries soon.
pub fn processor_config(concurrency: usize) -> ProcessorConfig {
    ProcessorConfig {
        concurrency,
        max_attempts: 5,
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_millis(200),
        poll_interval: Duration::from_millis(50),
        ..ProcessorConfig::default()
    }
}

/// Wait until `done`, failing the test after `timeout`.
pub async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A claim leaves out the body of an event whose decoded webhook the
/// process holds (issue 24 item 14); when the handoff drops that webhook
/// before the event's turn (it keeps at most 128: the oldest go first), the
/// processor reads the body then, and the handler still gets the event as
/// stored, never a rejection for an empty body.
pub async fn an_event_whose_handed_on_webhook_was_dropped_is_read_from_the_store(inbox: &Inbox) {
    let inbox = inbox.clone();
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let seen: Arc<Mutex<Vec<(String, String, i64)>>> = Arc::default();
    let handler = {
        let (gate, seen) = (gate.clone(), seen.clone());
        handler_fn(move |event, _ctx| {
            let (gate, seen) = (gate.clone(), seen.clone());
            async move {
                let Event::Order { body, meta } = event else {
                    panic!("an order event")
                };
                let order = body.order_event.unwrap();
                let line = order.lines[0].id.clone().unwrap();
                let order_id = order.order_id.unwrap();
                seen.lock()
                    .unwrap()
                    .push((order_id.clone(), line, meta.inbox_id));
                if order_id == "o-block" {
                    // Hold the one handler slot until the test lets go.
                    let _permit = gate.acquire().await.unwrap();
                }
                Ok(())
            }
        })
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let processor = tokio::spawn(
        Processor::new(inbox.clone(), handler, processor_config(1)).run(async {
            let _ = stopped.await;
        }),
    );
    let store = |order: String, seq: usize| {
        let inbox = inbox.clone();
        async move {
            let event = confirmed_line_event(&order, seq);
            let webhook = decode(Endpoint::Order, "application/json", &event.body).unwrap();
            inbox.store_webhook(event, webhook).await.unwrap().id()
        }
    };
    // Wait for the processor to run (it keeps webhooks from then on) and
    // to block in the handler.
    inbox
        .store(confirmed_line_event("o-warm", 0))
        .await
        .unwrap();
    wait_for("the warm-up event", Duration::from_secs(10), || {
        seen.lock().unwrap().len() == 1
    })
    .await;
    store("o-block".into(), 0).await;
    wait_for("the blocking handler", Duration::from_secs(10), || {
        seen.lock().unwrap().len() == 2
    })
    .await;
    // Claimed ahead while the handler is busy, its webhooks held: their
    // bodies are not read.
    let first = store("o-a".into(), 0).await;
    for seq in 1..4 {
        store("o-a".into(), seq).await;
    }
    let processing = || ListFilter {
        state: Some(State::Processing),
        ..ListFilter::default()
    };
    let start = Instant::now();
    while !listed_ids(&inbox, processing()).await.contains(&first) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "o-a was not claimed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // More webhooks than the handoff keeps: those of o-a are dropped.
    for n in 0..150 {
        store(format!("o-flood-{n}"), 0).await;
    }
    gate.add_permits(1);
    wait_for("every event handled", Duration::from_secs(30), || {
        seen.lock().unwrap().len() == 2 + 4 + 150
    })
    .await;
    let lines: Vec<String> = (seen.lock().unwrap().iter())
        .filter(|(order, _, _)| order == "o-a")
        .map(|(_, line, _)| line.clone())
        .collect();
    assert_eq!(lines, ["l0", "l1", "l2", "l3"]);
    for state in [State::Rejected, State::Dead, State::Retrying] {
        let filter = ListFilter {
            state: Some(state),
            ..ListFilter::default()
        };
        assert!(inbox.list(filter).await.unwrap().is_empty(), "{state:?}");
    }
    let _ = stop.send(());
    processor.await.unwrap();
}

/// An older event replayed while its order's head is being handled is
/// handled right after that head, before the order's newer events: the
/// queue looks for an order's next event from the oldest one that may be
/// active, not from the head (SQLite keeps that id in `heads.active_from`
/// since schema 10; PostgreSQL seeks its partial index of active events).
pub async fn an_older_event_replayed_behind_a_busy_head_is_handled_next(inbox: &Inbox) {
    let store = |message: &'static str| {
        let inbox = inbox.clone();
        async move {
            inbox
                .store(event(EventKind::Order, "o-replay", message))
                .await
                .unwrap()
                .id()
        }
    };
    let state = |id: i64| {
        let inbox = inbox.clone();
        async move { inbox.get(id).await.unwrap().unwrap().summary.state }
    };
    let handled: Arc<Mutex<Vec<i64>>> = Arc::default();
    // The handler holds every event of the order until `gate` opens.
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let handler = {
        let (handled, gate) = (handled.clone(), gate.clone());
        handler_fn(move |event, _ctx| {
            let (handled, gate) = (handled.clone(), gate.clone());
            async move {
                handled.lock().unwrap().push(event.meta().inbox_id);
                if let Ok(permit) = gate.acquire().await {
                    permit.forget();
                }
                Ok(())
            }
        })
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(
        Processor::new(inbox.clone(), handler, processor_config(2)).run(async {
            let _ = stopped.await;
        }),
    );
    let seen = |n: usize| {
        let handled = handled.clone();
        move || handled.lock().unwrap().len() >= n
    };
    let first = store("m-r1").await;
    gate.add_permits(1);
    wait_for("the first event", Duration::from_secs(30), seen(1)).await;
    let start = Instant::now();
    while state(first).await != State::Done {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the first event is done"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The second event is the order's head and is being handled ...
    let second = store("m-r2").await;
    wait_for("the second event", Duration::from_secs(30), seen(2)).await;
    // ... when the first is replayed and a third arrives.
    inbox.replay(first).await.unwrap();
    let third = store("m-r3").await;
    gate.add_permits(3);
    let start = Instant::now();
    while state(third).await != State::Done || state(first).await != State::Done {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the replayed and the third event are handled; handled so far: {:?}",
            handled.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    assert_eq!(*handled.lock().unwrap(), vec![first, second, first, third]);
}
