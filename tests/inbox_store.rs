//! The durable inbox against real SQLite files in a temporary directory.
#![cfg(feature = "receiver")]

use crate::inbox_cases;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tradecloud::inbox::{
    EventKind, Inbox, InboxError, InboxOptions, ListFilter, NewEvent, NewState, Origin, State,
    Stored,
};

fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("inbox.db");
    (dir, path)
}

/// An order webhook body of about `size` bytes.
fn order_body(order_id: &str, message_id: &str, size: usize) -> Bytes {
    let head = format!(
        r#"{{"eventName":"OrderLinesConfirmedBySupplier","meta":{{"messageId":"{message_id}"}},"orderEvent":{{"orderId":"{order_id}","lines":[{{"id":"l1","deliverySchedule":[{{"quantity":12345678901234.567890}}]}}]}},"padding":""#
    );
    let pad = size.saturating_sub(head.len() + 2);
    Bytes::from(format!("{head}{}\"}}", "x".repeat(pad)))
}

fn order_event(order_id: &str, message_id: Option<&str>, body: Bytes) -> NewEvent {
    NewEvent {
        kind: EventKind::Order,
        event_name: Some("OrderLinesConfirmedBySupplier".into()),
        object_id: Some(order_id.into()),
        message_id: message_id.map(Into::into),
        content_type: "application/json".into(),
        body,
        state: NewState::Received,
        source: Some("POST /tradecloud/order".into()),
        headers: Vec::new(),
    }
}

fn count_rows(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).expect("open db");
    conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .expect("count")
}

#[tokio::test]
async fn store_and_get_return_the_exact_bytes() {
    let (_dir, path) = temp_db();
    let inbox = Inbox::open(&url(&path)).unwrap();

    let json = order_body("o-1", "m-1", 3000);
    let before = chrono::Utc::now();
    let stored = inbox
        .store(order_event("o-1", Some("m-1"), json.clone()))
        .await
        .unwrap();
    let Stored::New(id) = stored else {
        panic!("expected a new event, got {stored:?}")
    };

    // Not UTF-8, a NUL, CR LF, a BOM: bytes, not text.
    let binary = Bytes::from_static(b"\xef\xbb\xbf<order>\r\n\x00\xff\xfe</order>");
    let mut quarantined = NewEvent::rejected(
        EventKind::Order,
        "application/xml",
        binary.clone(),
        "not XML we know",
    );
    quarantined.source = Some("PUT /tradecloud/order".into());
    let rejected_id = inbox.store(quarantined).await.unwrap().id();
    assert!(rejected_id > id);

    let event = inbox.get(id).await.unwrap().expect("stored event");
    assert_eq!(event.body, json, "body must come back byte for byte");
    let s = &event.summary;
    assert_eq!(s.id, id);
    assert_eq!(s.kind, EventKind::Order);
    assert_eq!(
        s.event_name.as_deref(),
        Some("OrderLinesConfirmedBySupplier")
    );
    assert_eq!(s.object_id.as_deref(), Some("o-1"));
    assert_eq!(s.message_id.as_deref(), Some("m-1"));
    assert_eq!(s.content_type, "application/json");
    assert_eq!(s.state, State::Received);
    assert_eq!(s.origin, Origin::Webhook);
    assert_eq!(s.attempts, 0);
    assert_eq!(s.body_len, json.len() as u64);
    assert_eq!(s.source.as_deref(), Some("POST /tradecloud/order"));
    let after = chrono::Utc::now();
    assert!(s.received_at >= before - chrono::Duration::milliseconds(1) && s.received_at <= after);

    let rejected = inbox
        .get(rejected_id)
        .await
        .unwrap()
        .expect("rejected event");
    assert_eq!(rejected.body, binary);
    assert_eq!(rejected.summary.state, State::Rejected);
    assert_eq!(rejected.summary.error.as_deref(), Some("not XML we know"));
    assert_eq!(rejected.summary.content_type, "application/xml");

    assert_eq!(inbox.get(rejected_id + 100).await.unwrap(), None);

    // The same bytes from the file after a reopen (SQLite holds them
    // compressed when that saves space: `event_bodies.codec`).
    drop(inbox);
    let reopened = Inbox::open(&url(&path)).unwrap();
    let body = reopened.get(id).await.unwrap().expect("stored event").body;
    assert_eq!(body, json);
    drop(reopened);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn a_message_id_is_stored_once() {
    let (_dir, path) = temp_db();
    let inbox = Inbox::open(&url(&path)).unwrap();
    let body = order_body("o-1", "m-dup", 500);

    let first = inbox
        .store(order_event("o-1", Some("m-dup"), body.clone()))
        .await
        .unwrap();
    let second = inbox
        .store(order_event("o-1", Some("m-dup"), body.clone()))
        .await
        .unwrap();
    assert!(matches!(first, Stored::New(_)), "{first:?}");
    assert_eq!(second, Stored::Duplicate(first.id()));
    assert!(second.is_duplicate());

    // Events without a message id are never duplicates of each other.
    let a = inbox
        .store(order_event("o-1", None, body.clone()))
        .await
        .unwrap();
    let b = inbox
        .store(order_event("o-1", None, body.clone()))
        .await
        .unwrap();
    assert!(matches!((a, b), (Stored::New(x), Stored::New(y)) if x != y));

    // Fifty concurrent redeliveries of one new message: one row.
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let inbox = inbox.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            inbox.store(order_event("o-2", Some("m-race"), body)).await
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap().unwrap());
    }
    let new: Vec<_> = results.iter().filter(|r| !r.is_duplicate()).collect();
    assert_eq!(new.len(), 1, "exactly one copy is new: {results:?}");
    assert!(results.iter().all(|r| r.id() == new[0].id()));

    drop(inbox);
    assert_eq!(count_rows(&path), 4);
}

#[tokio::test]
async fn a_valid_copy_supersedes_a_rejected_one_with_the_same_message_id() {
    let (_dir, path) = temp_db();
    let inbox = Inbox::open(&url(&path)).unwrap();
    let mut bad = NewEvent::rejected(
        EventKind::Order,
        "application/json",
        Bytes::from_static(b"{\"eventName\":"),
        "EOF",
    );
    bad.message_id = Some("m-1".into());
    let bad_id = inbox.store(bad.clone()).await.unwrap().id();
    // Another bad copy is a duplicate of the first.
    assert_eq!(inbox.store(bad).await.unwrap(), Stored::Duplicate(bad_id));
    // A valid copy is stored; the rejected bytes stay.
    let good = inbox
        .store(order_event(
            "o-1",
            Some("m-1"),
            order_body("o-1", "m-1", 200),
        ))
        .await
        .unwrap();
    let Stored::New(good_id) = good else {
        panic!("{good:?}")
    };
    assert_ne!(good_id, bad_id);
    let old = inbox.get(bad_id).await.unwrap().unwrap();
    assert_eq!(old.summary.state, State::Rejected);
    assert_eq!(old.body, Bytes::from_static(b"{\"eventName\":"));
    assert!(old
        .summary
        .error
        .unwrap()
        .contains(&format!("superseded by event {good_id}")));
    // From now on the valid one is the message.
    let again = inbox
        .store(order_event(
            "o-1",
            Some("m-1"),
            order_body("o-1", "m-1", 200),
        ))
        .await
        .unwrap();
    assert_eq!(again, Stored::Duplicate(good_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_stores_are_all_durable() {
    let (_dir, path) = temp_db();
    let inbox = Inbox::open(&url(&path)).unwrap();
    const TASKS: usize = 64;
    const EACH: usize = 40;
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let inbox = inbox.clone();
        handles.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..EACH {
                let order = format!("order-{}", t % 8);
                let message = format!("msg-{t}-{i}");
                let body = order_body(&order, &message, 3 * 1024);
                let stored = inbox
                    .store(order_event(&order, Some(&message), body))
                    .await
                    .expect("store");
                assert!(!stored.is_duplicate());
                ids.push((stored.id(), message));
            }
            ids
        }));
    }
    let mut acknowledged = Vec::new();
    for h in handles {
        acknowledged.extend(h.await.unwrap());
    }
    assert_eq!(acknowledged.len(), TASKS * EACH);
    drop(inbox);

    // Reopen the file: every acknowledged event is there, intact.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let count: i64 = conn
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count as usize, TASKS * EACH);
    drop(conn);
    let reopened = Inbox::open(&url(&path)).unwrap();
    for (id, message) in &acknowledged {
        let event = reopened.get(*id).await.unwrap().expect("stored event");
        assert_eq!(event.summary.message_id.as_deref(), Some(message.as_str()));
        let order = serde_json::from_slice::<serde_json::Value>(&event.body).unwrap();
        assert_eq!(order["meta"]["messageId"], message.as_str());
    }
}

#[tokio::test]
async fn a_locked_store_is_unavailable_and_recovers() {
    let (_dir, path) = temp_db();
    let inbox = Inbox::open(&format!("{}?busy_timeout_ms=200", url(&path))).unwrap();
    inbox
        .store(order_event(
            "o-1",
            Some("m-0"),
            order_body("o-1", "m-0", 300),
        ))
        .await
        .unwrap();
    inbox.ready().await.unwrap();

    // Another process takes the write lock and keeps it.
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute_batch("BEGIN EXCLUSIVE; UPDATE inbox_health SET checked_at = 1;")
        .unwrap();

    let err = inbox
        .store(order_event(
            "o-1",
            Some("m-1"),
            order_body("o-1", "m-1", 300),
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, InboxError::Unavailable(_)), "{err:?}");
    assert!(err.is_transient());
    let err = inbox.ready().await.unwrap_err();
    assert!(matches!(err, InboxError::Unavailable(_)), "{err:?}");

    other.execute_batch("COMMIT").unwrap();
    drop(other);

    // Recovered: the retried event is stored, once.
    inbox.ready().await.unwrap();
    let stored = inbox
        .store(order_event(
            "o-1",
            Some("m-1"),
            order_body("o-1", "m-1", 300),
        ))
        .await
        .unwrap();
    assert!(matches!(stored, Stored::New(_)));
    drop(inbox);
    assert_eq!(count_rows(&path), 2);
}

#[tokio::test]
async fn a_missing_database_file_is_unavailable_and_recovers() {
    let (dir, path) = temp_db();
    let inbox = Inbox::open(&url(&path)).unwrap();
    inbox
        .store(order_event(
            "o-1",
            Some("m-0"),
            order_body("o-1", "m-0", 300),
        ))
        .await
        .unwrap();

    // A ready answer cached for an hour (`/readyz` caches one for a second).
    let long = Duration::from_secs(3600);
    inbox.ready_cached(long).await.unwrap();

    // The file is moved away (a mistaken clean-up, an unmounted volume).
    let aside = dir.path().join("aside.db");
    std::fs::rename(&path, &aside).unwrap();
    let err = inbox
        .store(order_event(
            "o-1",
            Some("m-1"),
            order_body("o-1", "m-1", 300),
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, InboxError::Unavailable(_)), "{err:?}");
    // The failed store makes the cached answer stale.
    assert!(inbox.ready_cached(long).await.is_err());
    assert!(matches!(
        inbox.ready().await,
        Err(InboxError::Unavailable(_))
    ));
    assert!(matches!(
        inbox.list(ListFilter::default()).await,
        Err(InboxError::Unavailable(_))
    ));
    assert!(
        !path.exists(),
        "no new empty inbox may be created in its place"
    );

    std::fs::rename(&aside, &path).unwrap();
    let stored = inbox
        .store(order_event(
            "o-1",
            Some("m-1"),
            order_body("o-1", "m-1", 300),
        ))
        .await
        .unwrap();
    assert!(matches!(stored, Stored::New(_)));
    inbox.ready_cached(long).await.unwrap();
    assert_eq!(inbox.list(ListFilter::default()).await.unwrap().len(), 2);
    drop(inbox);
    assert_eq!(count_rows(&path), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_write_ahead_log_loses_nothing() {
    let (dir, path) = temp_db();
    let inbox = Inbox::open(&url(&path)).unwrap();
    for m in ["m-0", "m-1"] {
        inbox
            .store(order_event("o-1", Some(m), order_body("o-1", m, 3000)))
            .await
            .unwrap();
    }
    // A pooled reader now has the log open.
    assert_eq!(inbox.list(ListFilter::default()).await.unwrap().len(), 2);
    let wal = dir.path().join("inbox.db-wal");
    assert!(wal.exists());

    // A clean-up deletes the log of the running inbox: both events are
    // committed only there, and the receiver's handle is all that is left.
    std::fs::remove_file(&wal).unwrap();
    // The next batch (a readiness check, as every 5 s while serving) finds
    // it gone and copies what it held into the database file.
    inbox.ready().await.unwrap();
    // The database file alone, as a crash would leave it, holds both.
    let alone = dir.path().join("alone.db");
    std::fs::copy(&path, &alone).unwrap();
    assert_eq!(count_rows(&alone), 2);

    // A new log takes the next events; readers read the new one.
    inbox
        .store(order_event(
            "o-1",
            Some("m-2"),
            order_body("o-1", "m-2", 3000),
        ))
        .await
        .unwrap();
    assert!(wal.exists());
    assert_eq!(inbox.list(ListFilter::default()).await.unwrap().len(), 3);
    drop(inbox);
    assert_eq!(count_rows(&path), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_log_that_a_reader_keeps_busy_is_copied_once_the_reader_is_done() {
    let (dir, path) = temp_db();
    let inbox = Inbox::open(&format!("{}?busy_timeout_ms=200", url(&path))).unwrap();
    for m in ["m-0", "m-1"] {
        inbox
            .store(order_event("o-1", Some(m), order_body("o-1", m, 3000)))
            .await
            .unwrap();
    }
    // Another program reads the inbox (a backup, `sqlite3`) and keeps its
    // read transaction open on the log.
    let reader = rusqlite::Connection::open(&path).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let seen: i64 = reader
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert!(seen > 0);

    // The log is deleted meanwhile: it cannot be copied into the database
    // file while the reader holds it, so nothing more is acknowledged.
    let wal = dir.path().join("inbox.db-wal");
    std::fs::remove_file(&wal).unwrap();
    let err = inbox
        .store(order_event(
            "o-1",
            Some("m-2"),
            order_body("o-1", "m-2", 3000),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, InboxError::Unavailable(m) if m.contains("write-ahead log") && m.contains("503")),
        "{err:?}"
    );
    assert!(matches!(
        inbox.ready().await,
        Err(InboxError::Unavailable(_))
    ));

    // The reader finishes: the next batch copies the log first, then writes.
    reader.execute_batch("COMMIT").unwrap();
    drop(reader);
    let stored = inbox
        .store(order_event(
            "o-1",
            Some("m-2"),
            order_body("o-1", "m-2", 3000),
        ))
        .await
        .unwrap();
    assert!(matches!(stored, Stored::New(_)));
    let alone = dir.path().join("alone.db");
    std::fs::copy(&path, &alone).unwrap();
    assert!(
        count_rows(&alone) >= 2,
        "the events acknowledged before the deletion are in the database file"
    );
    assert_eq!(inbox.list(ListFilter::default()).await.unwrap().len(), 3);
    drop(inbox);
    assert_eq!(count_rows(&path), 3);
}

#[tokio::test]
async fn a_file_that_is_not_an_inbox_is_refused_and_left_alone() {
    let (dir, _) = temp_db();
    let reading = InboxOptions {
        create: false,
        ..InboxOptions::default()
    };
    // An empty file, given to a command that reads an inbox (`inbox list`).
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let err = Inbox::open_with(&url(&empty), reading.clone()).unwrap_err();
    assert!(
        matches!(&err, InboxError::Invalid(m) if m.contains("is not a tradecloud inbox") && m.contains("empty")),
        "{err:?}"
    );
    assert_eq!(
        std::fs::metadata(&empty).unwrap().len(),
        0,
        "nothing written"
    );
    // The receiver may make an empty file its inbox.
    drop(Inbox::open(&url(&empty)).unwrap());
    assert_eq!(count_rows(&empty), 0);

    // Another program's database, given to either: refused, not extended.
    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY);")
        .unwrap();
    for options in [reading, InboxOptions::default()] {
        let err = Inbox::open_with(&url(&other), options).unwrap_err();
        assert!(
            matches!(&err, InboxError::Invalid(m) if m.contains("other tables (invoices)")),
            "{err:?}"
        );
    }
    let tables: i64 = rusqlite::Connection::open(&other)
        .unwrap()
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_overloaded() {
    let (_dir, path) = temp_db();
    let options = InboxOptions {
        queue_capacity: 2,
        busy_timeout: Duration::from_millis(1500),
        ..InboxOptions::default()
    };
    let inbox = Inbox::open_with(&url(&path), options).unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute_batch("BEGIN EXCLUSIVE; UPDATE inbox_health SET checked_at = 1;")
        .unwrap();

    // The writer is stuck waiting for the lock; the queue fills up.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let inbox = inbox.clone();
        tasks.push(tokio::spawn(async move {
            let m = format!("m-{i}");
            inbox
                .store(order_event("o-1", Some(&m), order_body("o-1", &m, 300)))
                .await
        }));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    other.execute_batch("COMMIT").unwrap();
    drop(other);
    let mut overloaded = 0;
    for t in tasks {
        match t.await.unwrap() {
            Err(InboxError::Overloaded) => overloaded += 1,
            Ok(_) | Err(InboxError::Unavailable(_)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        overloaded >= 10,
        "most stores must be refused at once, got {overloaded} Overloaded"
    );
    assert!(InboxError::Overloaded.is_transient());
    inbox
        .store(order_event(
            "o-1",
            Some("after"),
            order_body("o-1", "after", 300),
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_byte_budget_limits_the_queue() {
    let (_dir, path) = temp_db();
    let options = InboxOptions {
        queue_bytes: 1000,
        busy_timeout: Duration::from_millis(800),
        ..InboxOptions::default()
    };
    let inbox = Inbox::open_with(&url(&path), options).unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute_batch("BEGIN EXCLUSIVE; UPDATE inbox_health SET checked_at = 1;")
        .unwrap();
    let first = {
        let inbox = inbox.clone();
        tokio::spawn(async move {
            inbox
                .store(order_event(
                    "o-1",
                    Some("big"),
                    order_body("o-1", "big", 900),
                ))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    // 900 bytes wait; 900 more would exceed the budget of 1000.
    let second = inbox
        .store(order_event(
            "o-1",
            Some("big2"),
            order_body("o-1", "big2", 900),
        ))
        .await;
    assert_eq!(second, Err(InboxError::Overloaded));
    other.execute_batch("COMMIT").unwrap();
    drop(other);
    let _ = first.await.unwrap();
    // The budget is released again.
    inbox
        .store(order_event(
            "o-1",
            Some("big3"),
            order_body("o-1", "big3", 900),
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn replay_accepts_only_finished_events() {
    let inbox = Inbox::open("sqlite::memory:").unwrap();
    let received = inbox
        .store(order_event(
            "o-1",
            Some("m-1"),
            order_body("o-1", "m-1", 200),
        ))
        .await
        .unwrap()
        .id();
    let rejected = inbox
        .store(NewEvent::rejected(
            EventKind::Shipment,
            "application/json",
            Bytes::from_static(b"[]"),
            "not an object",
        ))
        .await
        .unwrap()
        .id();
    let trigger = inbox
        .store(NewEvent::trigger(EventKind::Order, "o-9"))
        .await
        .unwrap()
        .id();

    let err = inbox.replay(received).await.unwrap_err();
    assert!(matches!(err, InboxError::Invalid(_)), "{err:?}");
    assert!(!err.is_transient());
    assert_eq!(
        inbox.replay(trigger).await,
        Err(InboxError::Invalid(format!(
            "event {trigger} is trigger: only rejected, dead or done events (and unhandled ones) can be replayed"
        )))
    );
    assert_eq!(
        inbox.replay(424242).await,
        Err(InboxError::NotFound(424242))
    );

    inbox.replay(rejected).await.unwrap();
    let event = inbox.get(rejected).await.unwrap().unwrap();
    assert_eq!(event.summary.state, State::Received);
    assert_eq!(event.summary.error, None);
    assert_eq!(event.body, Bytes::from_static(b"[]"));

    let trigger_event = inbox.get(trigger).await.unwrap().unwrap();
    assert_eq!(trigger_event.summary.state, State::Trigger);
    assert_eq!(trigger_event.summary.origin, Origin::Trigger);
    assert_eq!(trigger_event.summary.object_id.as_deref(), Some("o-9"));
}

#[tokio::test]
async fn list_filters_and_prints_the_documented_json() {
    let (_dir, path) = temp_db();
    let inbox = Inbox::open(&url(&path)).unwrap();
    for i in 0..5 {
        let m = format!("m-{i}");
        inbox
            .store(order_event("o-1", Some(&m), order_body("o-1", &m, 200)))
            .await
            .unwrap();
    }
    let shipment = NewEvent {
        kind: EventKind::Shipment,
        event_name: Some("ShipmentCreated".into()),
        object_id: Some("s-1".into()),
        message_id: Some("ms-1".into()),
        content_type: "application/json".into(),
        body: Bytes::from_static(b"{}"),
        state: NewState::Received,
        source: None,
        headers: Vec::new(),
    };
    let shipment_id = inbox.store(shipment).await.unwrap().id();
    let rejected_id = inbox
        .store(NewEvent::rejected(
            EventKind::OrderDocuments,
            "text/plain",
            Bytes::from_static(b"hi"),
            "unsupported content type",
        ))
        .await
        .unwrap()
        .id();

    let all = inbox.list(ListFilter::default()).await.unwrap();
    assert_eq!(all.len(), 7);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "oldest first");

    let newest = inbox
        .list(ListFilter {
            limit: Some(2),
            ..ListFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        newest.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![shipment_id, rejected_id]
    );

    let page = inbox
        .list(ListFilter {
            limit: Some(2),
            before_id: Some(shipment_id),
            ..ListFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(page.len(), 2);
    assert!(page.iter().all(|e| e.id < shipment_id));

    let rejected = inbox
        .list(ListFilter {
            state: Some(State::Rejected),
            ..ListFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(rejected.len(), 1);
    let shipments = inbox
        .list(ListFilter {
            kind: Some(EventKind::Shipment),
            ..ListFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(shipments.len(), 1);
    let of_order = inbox
        .list(ListFilter {
            object_id: Some("o-1".into()),
            ..ListFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(of_order.len(), 5);

    let json = serde_json::to_value(&all[0]).unwrap();
    for key in [
        "id",
        "kind",
        "eventName",
        "orderId",
        "messageId",
        "receivedAt",
        "state",
    ] {
        assert!(json.get(key).is_some(), "missing {key} in {json}");
    }
    assert_eq!(json["kind"], "order");
    assert_eq!(json["state"], "received");
    assert!(json.get("error").is_none());
    let at = json["receivedAt"].as_str().unwrap();
    assert!(at.ends_with('Z'), "{at}");
    chrono::DateTime::parse_from_rfc3339(at).unwrap();

    let json = serde_json::to_value(shipments[0].clone()).unwrap();
    assert_eq!(json["shipmentId"], "s-1");
    assert!(json.get("orderId").is_none());
    let json = serde_json::to_value(&rejected[0]).unwrap();
    assert_eq!(json["kind"], "orderDocuments");
    assert_eq!(json["state"], "rejected");
    assert_eq!(json["error"], "unsupported content type");

    assert!(inbox.dead().await.unwrap().is_empty());
    let counts = inbox.counts().await.unwrap();
    assert!(counts.contains(&(State::Received, 6)));
    assert!(counts.contains(&(State::Rejected, 1)));
}

#[tokio::test]
async fn store_urls() {
    assert!(matches!(
        Inbox::open("postgres://x"),
        Err(InboxError::Invalid(_))
    ));
    assert!(matches!(
        Inbox::open("sqlite://"),
        Err(InboxError::Invalid(_))
    ));
    assert!(matches!(
        Inbox::open("sqlite::memory:?flavour=strawberry"),
        Err(InboxError::Invalid(_))
    ));
    assert!(matches!(
        Inbox::open("sqlite::memory:?busy_timeout_ms=soon"),
        Err(InboxError::Invalid(_))
    ));
    let memory = Inbox::open("sqlite::memory:?busy_timeout_ms=100&queue_capacity=8").unwrap();
    assert_eq!(memory.path(), None);
    memory.ready().await.unwrap();

    let (dir, path) = temp_db();
    // sqlite:PATH and sqlite://PATH name the same file.
    let a = Inbox::open(&format!("sqlite:{}", path.display())).unwrap();
    a.store(order_event("o", Some("m"), order_body("o", "m", 100)))
        .await
        .unwrap();
    drop(a);
    let b = Inbox::open(&url(&path)).unwrap();
    assert_eq!(b.list(ListFilter::default()).await.unwrap().len(), 1);

    // Without `create`, a wrong path is an error, not a new empty inbox.
    let missing = dir.path().join("missing.db");
    let options = InboxOptions {
        create: false,
        ..InboxOptions::default()
    };
    assert!(matches!(
        Inbox::open_with(&url(&missing), options),
        Err(InboxError::Invalid(_))
    ));
    assert!(!missing.exists());
    // A directory that does not exist cannot hold an inbox.
    let err = Inbox::open(&url(&dir.path().join("no/such/dir/inbox.db"))).unwrap_err();
    assert!(matches!(err, InboxError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn helpers_read_kind_ids_and_message_id_from_bodies() {
    use tradecloud::webhook::{decode, Endpoint};

    let raw = Bytes::from_static(
        br#"{"eventName":"OrderDocumentsAttachedByBuyer","orderDocumentsEvent":{"orderId":"o-7","meta":{"messageId":"inner"}}}"#,
    );
    let body = decode(Endpoint::Order, "application/json", &raw).unwrap();
    let event =
        NewEvent::from_webhook(&body, "application/json", raw.clone()).with_source("POST /x");
    assert_eq!(event.kind, EventKind::OrderDocuments);
    assert_eq!(event.object_id.as_deref(), Some("o-7"));
    assert_eq!(
        event.message_id.as_deref(),
        Some("inner"),
        "the event's meta when the body has none"
    );
    assert_eq!(
        event.event_name.as_deref(),
        Some("OrderDocumentsAttachedByBuyer")
    );
    assert_eq!(event.source.as_deref(), Some("POST /x"));
    assert_eq!(event.body, raw);

    let raw = Bytes::from_static(
        br#"{"eventName":"SomeFutureEvent","meta":{"messageId":"outer"},"simpleOrderEvent":{"orderId":"o-8","meta":{"messageId":"inner"}}}"#,
    );
    let body = decode(Endpoint::Order, "application/json", &raw).unwrap();
    let event = NewEvent::from_webhook(&body, "application/json", raw);
    assert_eq!(event.kind, EventKind::Order);
    assert_eq!(event.object_id.as_deref(), Some("o-8"));
    assert_eq!(
        event.message_id.as_deref(),
        Some("outer"),
        "the body's meta first"
    );
    assert_eq!(event.event_name.as_deref(), Some("SomeFutureEvent"));

    let raw = Bytes::from_static(
        br#"{"eventName":"ShipmentUpdated","meta":{"messageId":"sm"},"shipment":{"id":"s-3"}}"#,
    );
    let body = decode(Endpoint::Shipment, "application/json", &raw).unwrap();
    let event = NewEvent::from_webhook(&body, "application/json", raw);
    assert_eq!(
        (
            event.kind,
            event.object_id.as_deref(),
            event.message_id.as_deref()
        ),
        (EventKind::Shipment, Some("s-3"), Some("sm"))
    );

    let inbox = Inbox::open("sqlite::memory:").unwrap();
    let id = inbox.store(event).await.unwrap().id();
    let kinds: Arc<[EventKind]> = inbox
        .list(ListFilter::default())
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(&*kinds, &[EventKind::Shipment]);
    assert_eq!(
        inbox.get(id).await.unwrap().unwrap().summary.kind,
        EventKind::Shipment
    );
}

#[tokio::test]
async fn readiness_writes_nothing_and_a_nearly_full_disk_is_a_warning() {
    let (_dir, path) = temp_db();
    let inbox = Inbox::open(&url(&path)).unwrap();
    inbox
        .store(order_event(
            "o-1",
            Some("m-0"),
            order_body("o-1", "m-0", 300),
        ))
        .await
        .unwrap();
    let wal = path.with_extension("db-wal");
    let before = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    let version = |conn: &rusqlite::Connection| -> i64 {
        conn.query_row("PRAGMA data_version", [], |r| r.get(0))
            .unwrap()
    };
    let observer = rusqlite::Connection::open(&path).unwrap();
    let seen = version(&observer);
    for _ in 0..200 {
        inbox.ready().await.unwrap();
    }
    for _ in 0..1000 {
        inbox
            .ready_cached(std::time::Duration::from_secs(1))
            .await
            .unwrap();
    }
    // No commit by anyone else: the database did not change, the WAL did not grow.
    assert_eq!(
        version(&observer),
        seen,
        "a readiness check committed a write"
    );
    assert_eq!(
        std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0),
        before
    );

    // A disk with less free space than the minimum is a warning, not "not
    // ready": events are stored as long as they fit.
    assert_eq!(inbox.low_space(), None);
    let options = InboxOptions {
        min_free_bytes: u64::MAX,
        ..InboxOptions::default()
    };
    drop(inbox);
    let nearly_full = Inbox::open_with(&url(&path), options).unwrap();
    let warning = nearly_full.low_space().expect("a warning");
    assert!(
        warning.contains("bytes free") && warning.contains("still stored"),
        "{warning}"
    );
    nearly_full.ready().await.unwrap();
    let stored = nearly_full
        .store(order_event(
            "o-9",
            Some("m-9"),
            order_body("o-9", "m-9", 300),
        ))
        .await
        .unwrap();
    assert!(matches!(stored, Stored::New(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_of_any_content_and_length_are_kept_apart() {
    let (_dir, path) = temp_db();
    let inbox = Inbox::open(&url(&path)).unwrap();
    inbox_cases::ids_of_any_content_and_length_are_kept_apart(&inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_to_be_handled_can_be_marked_dead() {
    let (_dir, path) = temp_db();
    let inbox = Inbox::open(&url(&path)).unwrap();
    inbox_cases::an_event_to_be_handled_can_be_marked_dead(&inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_event_replayed_behind_a_busy_head_is_handled_next() {
    let (_dir, path) = temp_db();
    let inbox = Inbox::open(&url(&path)).unwrap();
    inbox_cases::an_older_event_replayed_behind_a_busy_head_is_handled_next(&inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attempt_is_kept_with_its_error() {
    let (_dir, path) = temp_db();
    let inbox = Inbox::open(&url(&path)).unwrap();
    inbox_cases::every_attempt_is_kept_with_its_error(&inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_headers_are_kept_with_credentials_redacted() {
    let (_dir, path) = temp_db();
    let inbox = Inbox::open(&url(&path)).unwrap();
    inbox_cases::request_headers_are_kept_with_credentials_redacted(&inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_newest_attempts_are_kept() {
    let (_dir, path) = temp_db();
    let inbox = Inbox::open(&url(&path)).unwrap();
    inbox_cases::only_the_newest_attempts_are_kept(&inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_listed_by_name_and_time() {
    let (_dir, path) = temp_db();
    let inbox = Inbox::open(&url(&path)).unwrap();
    inbox_cases::events_are_listed_by_name_and_time(&inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_take_nul_and_control_characters() {
    let (_dir, path) = temp_db();
    let inbox = Inbox::open(&url(&path)).unwrap();
    inbox_cases::filters_take_nul_and_control_characters(&inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_found_by_purchase_order_number() {
    let (_dir, path) = temp_db();
    let inbox = Inbox::open(&url(&path)).unwrap();
    inbox_cases::events_are_found_by_purchase_order_number(&inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_copy_is_named_marked_and_started_over() {
    let (dir, path) = temp_db();
    inbox_cases::a_failed_copy_is_named_marked_and_started_over(dir.path(), &url(&path)).await;
    // A receiver does not start on a half-copied inbox either.
    let (dir, path) = temp_db();
    let source = inbox_cases::sqlite_with_events(&dir.path().join("s.db"), 10).await;
    {
        let conn = rusqlite::Connection::open(dir.path().join("s.db")).unwrap();
        conn.execute("UPDATE events SET kind = 'bogus' WHERE id = 5", [])
            .unwrap();
    }
    let target = Inbox::connect_migration_target(&url(&path), InboxOptions::default())
        .await
        .unwrap();
    assert!(source.copy_to(&target).await.is_err());
    let (cert, key) = tradecloud::receiver::tls::dev_certificate(&["localhost"]).unwrap();
    let config = tradecloud::receiver::Config::from_parts(
        Some(&format!(
            "[auth]\nmethod = \"basic\"\nusername = \"u\"\npassword = \"correct horse battery\"\n[store]\nurl = {:?}\n",
            url(&path)
        )),
        "test",
        Vec::new(),
    )
    .unwrap();
    let error = tradecloud::receiver::Receiver::builder()
        .config(config)
        .tls_pem(cert, key)
        .listener(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("[store] url") && error.contains("unfinished copy"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_from_a_source_in_use_is_refused() {
    let (dir, path) = temp_db();
    inbox_cases::a_copy_from_a_source_in_use_is_refused(dir.path(), &url(&path)).await;
}

/// A receiver that is idle while the copy runs would store its next events
/// in the old inbox: a source open elsewhere is refused before anything is
/// copied (two `Inbox`es in one process lock like two processes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_from_a_source_a_receiver_has_open_is_refused() {
    let (dir, path) = temp_db();
    let served = dir.path().join("served.db");
    let receiver = Inbox::open(&url(&served)).unwrap();
    receiver
        .store(order_event(
            "o-1",
            Some("m-0"),
            order_body("o-1", "m-0", 300),
        ))
        .await
        .unwrap();
    let reading = InboxOptions {
        create: false,
        ..InboxOptions::default()
    };
    let source = Inbox::open_with(&url(&served), reading).unwrap();
    let target = Inbox::connect_migration_target(&url(&path), InboxOptions::default())
        .await
        .unwrap();
    let err = source.copy_to(&target).await.unwrap_err();
    assert!(
        matches!(&err, InboxError::Invalid(m) if m.contains("is open in another process") && m.contains("Stop it")),
        "{err:?}"
    );
    drop(receiver);
    let copied = source.copy_to(&target).await.unwrap();
    assert_eq!(copied.events, 1);
    drop(target);
    assert_eq!(count_rows(&path), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_whose_handed_on_webhook_was_dropped_is_read_from_the_store() {
    let (_dir, path) = temp_db();
    let inbox = Inbox::open(&url(&path)).unwrap();
    inbox_cases::an_event_whose_handed_on_webhook_was_dropped_is_read_from_the_store(&inbox).await;
}
