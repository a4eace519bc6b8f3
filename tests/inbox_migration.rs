//! Opening an inbox database of schema version 1 (bodies inside `events`)
//! or 3 (ids in the indexes) migrates it to the current version (bodies in
//! `event_bodies`, the queue's `heads`, keys in the indexes,
//! `trace_parent`) without losing or changing anything.
#![cfg(feature = "receiver")]

use crate::inbox_cases;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tradecloud::inbox::{
    EventKind, Inbox, InboxOptions, ListFilter, NewEvent, NewState, Origin, State, Stored,
};
use tradecloud::processing::{Processor, ProcessorConfig};

/// The schema of version 1, as `src/inbox/db.rs` created it (fixture: do not
/// change it along with the code).
const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL,
    event_name      TEXT,
    object_id       TEXT,
    message_id      TEXT,
    content_type    TEXT    NOT NULL,
    body            BLOB    NOT NULL,
    state           TEXT    NOT NULL,
    error           TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    received_at     INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    next_attempt_at INTEGER,
    source          TEXT,
    origin          TEXT    NOT NULL DEFAULT 'webhook'
);
CREATE UNIQUE INDEX IF NOT EXISTS events_message_id ON events (message_id);
CREATE INDEX IF NOT EXISTS events_state ON events (state, id);
CREATE INDEX IF NOT EXISTS events_pending ON events (id)
    WHERE state IN ('received', 'trigger', 'retrying');
CREATE INDEX IF NOT EXISTS events_active_object ON events (object_id, id)
    WHERE state IN ('received', 'trigger', 'processing', 'retrying');
CREATE TABLE IF NOT EXISTS inbox_health (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL
);
INSERT OR IGNORE INTO inbox_health (id, checked_at) VALUES (1, 0);
";

fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// The single number a `SELECT count(*) ...` answers.
fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Whether the file's schema has a table or index of this name.
fn schema_has(conn: &rusqlite::Connection, name: &str) -> bool {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE name = ?1",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .unwrap()
        > 0
}

/// The schema version a file says it has (`PRAGMA user_version`).
fn user_version(conn: &rusqlite::Connection) -> i64 {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

fn order_body(order_id: &str, message_id: &str, padding: usize) -> Vec<u8> {
    format!(
        r#"{{"eventName":"OrderIssuedByBuyer","meta":{{"messageId":"{message_id}"}},"orderEvent":{{"orderId":"{order_id}","lines":[{{"id":"l1"}}]}},"padding":"{}"}}"#,
        "x".repeat(padding)
    )
    .into_bytes()
}

/// One row of the version-1 fixture.
#[derive(Debug, Clone)]
struct V1Row {
    id: i64,
    kind: &'static str,
    object_id: Option<&'static str>,
    message_id: Option<&'static str>,
    body: Vec<u8>,
    state: &'static str,
    error: Option<&'static str>,
    attempts: i64,
    received_at: i64,
    updated_at: i64,
    next_attempt_at: Option<i64>,
    origin: &'static str,
}

fn fixture_rows(now: i64) -> Vec<V1Row> {
    let old = now - 86_400_000;
    // Bytes that are not UTF-8 (a quarantined body is kept as it came).
    let mut binary: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    binary.extend_from_slice(b"\xff\xfe\x00not json");
    let row = |id, object_id, message_id, body, state, error, attempts, origin| V1Row {
        id,
        kind: "order",
        object_id,
        message_id,
        body,
        state,
        error,
        attempts,
        received_at: old + id,
        updated_at: old + id + 1,
        next_attempt_at: None,
        origin,
    };
    let mut retrying = row(
        4,
        Some("o-4"),
        Some("m-4"),
        order_body("o-4", "m-4", 100),
        "retrying",
        Some("ERP down"),
        2,
        "webhook",
    );
    retrying.next_attempt_at = Some(old);
    let mut trigger = row(
        6,
        Some("o-6"),
        None,
        Vec::new(),
        "dead",
        Some("fetch failed"),
        10,
        "trigger",
    );
    trigger.kind = "shipment";
    vec![
        row(
            1,
            Some("o-1"),
            Some("m-1"),
            order_body("o-1", "m-1", 14_000),
            "done",
            None,
            1,
            "webhook",
        ),
        // A body over many overflow pages.
        row(
            2,
            Some("o-1"),
            Some("m-2"),
            order_body("o-1", "m-2", 300_000),
            "received",
            None,
            0,
            "webhook",
        ),
        // Left `processing` by a crash: goes back to the queue.
        row(
            3,
            Some("o-3"),
            Some("m-3"),
            order_body("o-3", "m-3", 10),
            "processing",
            None,
            1,
            "webhook",
        ),
        retrying,
        row(
            5,
            None,
            Some("m-5"),
            binary,
            "rejected",
            Some("not JSON"),
            0,
            "webhook",
        ),
        trigger,
        row(
            7,
            Some("o-7"),
            None,
            order_body("o-7", "m-7", 10),
            "dead",
            Some("ERP said no"),
            10,
            "fetched",
        ),
        // id 8 was purged: the AUTOINCREMENT counter is at 9.
        row(
            9,
            Some("o-9"),
            Some("m-9"),
            order_body("o-9", "m-9", 20),
            "done",
            None,
            1,
            "webhook",
        ),
    ]
}

/// A version-1 database file as the previous release left it.
fn create_v1(path: &Path, rows: &[V1Row]) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    conn.execute_batch(&format!(
        "BEGIN; {SCHEMA_V1} PRAGMA user_version = 1; COMMIT;"
    ))
    .unwrap();
    let mut insert = conn
        .prepare(
            "INSERT INTO events (id, kind, event_name, object_id, message_id, content_type, body, state, \
             error, attempts, received_at, updated_at, next_attempt_at, source, origin) \
             VALUES (?1, ?2, 'OrderIssuedByBuyer', ?3, ?4, 'application/json', ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
             'POST /tradecloud/order', ?12)",
        )
        .unwrap();
    for r in rows {
        insert
            .execute(rusqlite::params![
                r.id,
                r.kind,
                r.object_id,
                r.message_id,
                r.body,
                r.state,
                r.error,
                r.attempts,
                r.received_at,
                r.updated_at,
                r.next_attempt_at,
                r.origin
            ])
            .unwrap();
    }
    // Event 10 was stored and purged: the counter is past every id.
    conn.execute(
        "UPDATE sqlite_sequence SET seq = 10 WHERE name = 'events'",
        [],
    )
    .unwrap();
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

/// A processor of an inbox (with [`config`]) whose handler records the id
/// of each event it gets.
struct Recorder {
    handled: Arc<Mutex<Vec<i64>>>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    fn start(inbox: &Inbox) -> Self {
        let (handled, handler) = inbox_cases::recording_handler();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(Processor::new(inbox.clone(), handler, config()).run(async {
            let _ = stopped.await;
        }));
        Recorder {
            handled,
            stop,
            task,
        }
    }

    /// The ids handled so far, in the order the handler got them.
    fn handled(&self) -> Vec<i64> {
        self.handled.lock().unwrap().clone()
    }

    /// Stop the processor, wait until it has (10 s at most), and give the
    /// ids it handled.
    async fn stop(self) -> Vec<i64> {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the processor stops")
            .expect("the processor's task ends");
        let handled = self.handled.lock().unwrap().clone();
        handled
    }
}

#[tokio::test]
async fn a_version_1_database_is_migrated_on_open_and_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let now = chrono::Utc::now().timestamp_millis();
    let rows = fixture_rows(now);
    create_v1(&path, &rows);

    // Opened as the CLI opens it: never creating a file.
    let inbox = Inbox::open_with(
        &url(&path),
        InboxOptions {
            create: false,
            ..InboxOptions::default()
        },
    )
    .unwrap();

    // The file is at version 11: bodies moved, `events` without `body`, the
    // heads of the work queue built, keys in the indexes, the
    // `trace_parent` column, the index of every event by object, the
    // (empty) table of processing attempts, the bodies' `headers`
    // column (NULL: none were kept before), their `codec` column, and
    // `heads.active_from` instead of the partial index of active events,
    // `po_objects` instead of the index by purchase order number.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        assert_eq!(user_version(&conn), 11);
        let headers: i64 = count(
            &conn,
            "SELECT count(*) FROM event_bodies WHERE headers IS NOT NULL",
        );
        assert_eq!(headers, 0, "events stored before have no headers");
        let attempts: i64 = count(&conn, "SELECT count(*) FROM event_attempts");
        assert_eq!(attempts, 0, "events handled before have no attempts");
        let heads: i64 = count(&conn, "SELECT count(*) FROM heads");
        assert!(
            heads > 0,
            "the queue's heads are built from the events to handle"
        );
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        let columns: Vec<String> = conn
            .prepare("SELECT name FROM pragma_table_info('events')")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!columns.iter().any(|c| c == "body"), "{columns:?}");
        assert!(columns.iter().any(|c| c == "body_len"), "{columns:?}");
        assert!(columns.iter().any(|c| c == "trace_parent"), "{columns:?}");
        assert!(columns.iter().any(|c| c == "po_key"), "{columns:?}");
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            indexes,
            [
                "events_message_key",
                "events_object",
                "events_po_alone",
                "events_state"
            ]
        );
        let unbounded: i64 = count(
            &conn,
            "SELECT count(*) FROM heads WHERE active_from <> event_id",
        );
        assert_eq!(unbounded, 0, "each head starts at its own event");
        let bodies: i64 = count(&conn, "SELECT count(*) FROM event_bodies");
        assert_eq!(bodies, rows.len() as i64);
    }

    // Every event as it was, body byte for byte.
    for r in &rows {
        let event = inbox.get(r.id).await.unwrap().expect("migrated event");
        let s = &event.summary;
        assert_eq!(s.id, r.id);
        assert_eq!(s.kind.as_str(), r.kind, "event {}", r.id);
        assert_eq!(s.event_name.as_deref(), Some("OrderIssuedByBuyer"));
        assert_eq!(s.object_id.as_deref(), r.object_id);
        assert_eq!(s.message_id.as_deref(), r.message_id);
        assert_eq!(s.content_type, "application/json");
        assert_eq!(s.state.as_str(), r.state, "event {}", r.id);
        assert_eq!(s.error.as_deref(), r.error);
        assert_eq!(i64::from(s.attempts), r.attempts);
        assert_eq!(s.received_at.timestamp_millis(), r.received_at);
        assert_eq!(s.updated_at.timestamp_millis(), r.updated_at);
        assert_eq!(
            s.next_attempt_at.map(|t| t.timestamp_millis()),
            r.next_attempt_at
        );
        assert_eq!(s.source.as_deref(), Some("POST /tradecloud/order"));
        assert_eq!(s.origin.as_str(), r.origin);
        assert_eq!(s.body_len, r.body.len() as u64);
        assert!(event.body == r.body, "body of event {} differs", r.id);
    }
    let listed = inbox
        .list(ListFilter {
            limit: Some(100),
            ..ListFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|e| (e.id, e.body_len))
            .collect::<Vec<_>>(),
        rows.iter()
            .map(|r| (r.id, r.body.len() as u64))
            .collect::<Vec<_>>()
    );

    // Dedup still knows the migrated message ids.
    let event = |order: &str, message: &str| NewEvent {
        kind: EventKind::Order,
        event_name: Some("OrderIssuedByBuyer".into()),
        object_id: Some(order.into()),
        message_id: Some(message.into()),
        content_type: "application/json".into(),
        body: Bytes::from(order_body(order, message, 50)),
        state: NewState::Received,
        source: Some("POST /tradecloud/order".into()),
        headers: Vec::new(),
    };
    assert_eq!(
        inbox.store(event("o-1", "m-1")).await.unwrap(),
        Stored::Duplicate(1)
    );
    assert_eq!(
        inbox.store(event("o-1", "m-2")).await.unwrap(),
        Stored::Duplicate(2)
    );
    // A new event gets an id past the purged ones.
    let new_id = inbox.store(event("o-11", "m-11")).await.unwrap();
    assert_eq!(new_id, Stored::New(11));
    // A valid copy of the rejected message takes over its message id.
    let superseding = inbox.store(event("o-5", "m-5")).await.unwrap();
    assert_eq!(superseding, Stored::New(12));

    // Processing continues: the queued, crashed, retrying and new events are
    // handled, in order per object.
    let recorder = Recorder::start(&inbox);
    let start = Instant::now();
    for id in [2, 3, 4, 11, 12] {
        loop {
            let event = inbox.get(id).await.unwrap().unwrap().summary;
            if event.state == State::Done {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "event {id} stuck: {event:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let mut handled = recorder.stop().await;
    handled.sort_unstable();
    assert_eq!(handled, [2, 3, 4, 11, 12]);
    let rejected = inbox.get(5).await.unwrap().unwrap().summary;
    assert_eq!(rejected.state, State::Rejected);
    // It keeps its message id; the valid copy took over the key.
    assert_eq!(rejected.message_id.as_deref(), Some("m-5"));
    assert!(
        rejected
            .error
            .as_deref()
            .unwrap_or("")
            .contains("superseded by event 12"),
        "{rejected:?}"
    );
    assert_eq!(
        inbox.get(7).await.unwrap().unwrap().summary.origin,
        Origin::Fetched
    );

    // Purge deletes the bodies of the purged events too.
    let purged = inbox
        .purge(chrono::Utc::now() + chrono::Duration::hours(1), false)
        .await
        .unwrap();
    assert_eq!(purged.events, 7); // 1, 9 and the five just handled
    let expected_bytes: u64 = [1usize, 9]
        .iter()
        .map(|id| rows.iter().find(|r| r.id == *id as i64).unwrap().body.len() as u64)
        .sum::<u64>()
        + [2usize, 3, 4]
            .iter()
            .map(|id| rows.iter().find(|r| r.id == *id as i64).unwrap().body.len() as u64)
            .sum::<u64>()
        + (order_body("o-11", "m-11", 50).len() + order_body("o-5", "m-5", 50).len()) as u64;
    assert_eq!(purged.body_bytes, expected_bytes);
    drop(inbox);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let ids: Vec<i64> = conn
        .prepare("SELECT event_id FROM event_bodies ORDER BY event_id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ids, [5, 6, 7]);
}

#[tokio::test]
async fn reopening_a_migrated_database_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let rows = fixture_rows(chrono::Utc::now().timestamp_millis());
    create_v1(&path, &rows);
    drop(Inbox::open(&url(&path)).unwrap());
    let inbox = Inbox::open(&url(&path)).unwrap();
    for r in &rows {
        let event = inbox.get(r.id).await.unwrap().unwrap();
        assert!(event.body == r.body, "body of event {} differs", r.id);
    }
}

#[test]
fn a_newer_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    drop(Inbox::open(&url(&path)).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA user_version = 12").unwrap();
    }
    let err = Inbox::open(&url(&path)).unwrap_err().to_string();
    assert!(
        err.contains("schema version 12") && err.contains("knows up to 11"),
        "{err}"
    );
}

#[test]
fn a_failed_migration_leaves_the_version_1_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let rows = fixture_rows(chrono::Utc::now().timestamp_millis());
    create_v1(&path, &rows);
    {
        // A table in the way makes the migration fail half-way.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE events_v2 (x)").unwrap();
    }
    assert!(Inbox::open(&url(&path)).is_err());
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(user_version(&conn), 1);
    assert!(!schema_has(&conn, "event_bodies"));
    let bodies: i64 = conn
        .query_row("SELECT sum(length(body)) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        bodies,
        rows.iter().map(|r| r.body.len() as i64).sum::<i64>()
    );
}

/// The schema of version 3, as the code of the previous release created it
/// (fixture: do not change it along with the code).
const SCHEMA_V3: &str = "
CREATE TABLE events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL,
    event_name      TEXT,
    object_id       TEXT,
    message_id      TEXT,
    content_type    TEXT    NOT NULL,
    body_len        INTEGER NOT NULL,
    state           TEXT    NOT NULL,
    error           TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    received_at     INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    next_attempt_at INTEGER,
    source          TEXT,
    origin          TEXT    NOT NULL DEFAULT 'webhook'
);
CREATE UNIQUE INDEX IF NOT EXISTS events_message_id ON events (message_id);
CREATE INDEX IF NOT EXISTS events_state ON events (state, id);
CREATE INDEX IF NOT EXISTS events_active_object ON events (object_id, id)
    WHERE state IN ('received', 'trigger', 'processing', 'retrying');
CREATE TABLE event_bodies (
    event_id INTEGER PRIMARY KEY,
    body     BLOB    NOT NULL
);
CREATE TABLE IF NOT EXISTS inbox_health (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL
);
INSERT OR IGNORE INTO inbox_health (id, checked_at) VALUES (1, 0);
CREATE TABLE heads (
    key       TEXT    PRIMARY KEY,
    object_id TEXT,
    event_id  INTEGER NOT NULL,
    due_at    INTEGER NOT NULL,
    owner     TEXT
) WITHOUT ROWID;
CREATE INDEX heads_due ON heads (due_at);
";

/// A webhook body of `kind` with these ids (JSON escapes the NUL).
fn body_of(kind: &str, object: &Option<String>, message: &Option<String>) -> String {
    let body = if kind == "shipment" {
        serde_json::json!({"eventName": "ShipmentIssuedBySupplier", "meta": {"messageId": message},
                           "shipment": {"id": object}})
    } else {
        serde_json::json!({"eventName": "OrderIssuedByBuyer", "meta": {"messageId": message},
                           "orderEvent": {"orderId": object}})
    };
    body.to_string()
}

/// A version-3 inbox as the previous release left it: ids with NUL and
/// U+FFFD, a 9,000-character message id and a 300 kB order id (SQLite
/// indexed them as they were), events of every state, a queue with a head
/// claimed by a process that is gone.
#[tokio::test]
async fn a_version_3_database_is_migrated_to_keys_and_keeps_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let long_message = "m".repeat(9_000);
    let long_order = "o".repeat(300_000);
    // id, kind, object id, message id, state
    type Row<'a> = (i64, &'a str, Option<String>, Option<String>, &'a str);
    let rows: Vec<Row> = vec![
        (1, "order", Some("o-1".into()), Some("n\0".into()), "done"),
        (
            2,
            "order",
            Some("o-1".into()),
            Some("n\u{FFFD}".into()),
            "received",
        ),
        (
            3,
            "shipment",
            Some("s\0".into()),
            Some("s-3".into()),
            "processing",
        ),
        (
            4,
            "order",
            Some(long_order.clone()),
            Some(long_message.clone()),
            "received",
        ),
        (
            5,
            "order",
            Some(long_order.clone()),
            Some("m-5".into()),
            "received",
        ),
        (6, "order", None, None, "rejected"),
    ];
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; BEGIN; {SCHEMA_V3} PRAGMA user_version = 3; COMMIT;"
        ))
        .unwrap();
        for (id, kind, object, message, state) in &rows {
            let body = body_of(kind, object, message);
            conn.execute(
                "INSERT INTO events (id, kind, event_name, object_id, message_id, content_type, body_len, state, \
                 attempts, received_at, updated_at, source, origin) \
                 VALUES (?1, ?2, 'OrderIssuedByBuyer', ?3, ?4, 'application/json', ?5, ?6, 0, ?1, ?1, 'POST /x', 'webhook')",
                rusqlite::params![id, kind, object, message, body.len() as i64, state],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO event_bodies (event_id, body) VALUES (?1, ?2)",
                rusqlite::params![id, body.as_bytes()],
            )
            .unwrap();
        }
        // The heads as version 3 kept them (o:<id>), one claimed by a dead process.
        conn.execute_batch(
            "INSERT INTO heads VALUES ('o:o-1', 'o-1', 2, 0, NULL);
             INSERT INTO heads VALUES ('o:s' || char(0), 's' || char(0), 3, 99999999999999, 'gone');",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO heads VALUES (?1, ?2, 4, 0, NULL)",
            rusqlite::params![format!("o:{long_order}"), long_order],
        )
        .unwrap();
    }

    let inbox = Inbox::open(&url(&path)).unwrap();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        assert_eq!(user_version(&conn), 11);
        let longest: i64 = conn
            .query_row(
                "SELECT max(max(length(message_key)), max(length(object_key))) FROM events",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(longest <= 216, "keys are bounded: {longest}");
        let longest: i64 = conn
            .query_row("SELECT max(length(key)) FROM heads", [], |r| r.get(0))
            .unwrap();
        assert!(longest <= 203, "head keys are bounded: {longest}");
    }
    for (id, kind, object, message, state) in &rows {
        let event = inbox.get(*id).await.unwrap().expect("kept");
        assert_eq!(event.summary.kind.as_str(), *kind);
        assert_eq!(&event.summary.object_id, object, "event {id}");
        assert_eq!(&event.summary.message_id, message, "event {id}");
        assert_eq!(event.summary.state.as_str(), *state);
        assert_eq!(event.body, body_of(kind, object, message).into_bytes());
    }
    // Every stored message id is still known, each as itself.
    let event = |kind: EventKind, object: &str, message: &str| NewEvent {
        kind,
        event_name: Some("OrderIssuedByBuyer".into()),
        object_id: Some(object.into()),
        message_id: Some(message.into()),
        content_type: "application/json".into(),
        body: Bytes::from_static(b"{}"),
        state: NewState::Received,
        source: None,
        headers: Vec::new(),
    };
    for (id, kind, message) in [
        (1, EventKind::Order, "n\0"),
        (2, EventKind::Order, "n\u{FFFD}"),
        (3, EventKind::Shipment, "s-3"),
        (4, EventKind::Order, long_message.as_str()),
    ] {
        assert_eq!(
            inbox.store(event(kind, "o-x", message)).await.unwrap(),
            Stored::Duplicate(id),
            "{:?}",
            &message[..message.len().min(10)]
        );
    }
    // The same message id for another kind of event is another event.
    assert!(matches!(
        inbox
            .store(event(EventKind::Shipment, "s-9", "m-5"))
            .await
            .unwrap(),
        Stored::New(_)
    ));

    // The queue was rebuilt on keys: every event to handle is handled, in
    // order per object (the long order's 4 before 5), the dead claim dropped.
    let recorder = Recorder::start(&inbox);
    let start = Instant::now();
    loop {
        let open = inbox
            .list(ListFilter::default())
            .await
            .unwrap()
            .into_iter()
            .filter(|e| matches!(e.state, State::Received | State::Processing))
            .count();
        if open == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{open} events not handled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let handled = recorder.stop().await;
    for id in [2, 3, 4, 5] {
        assert!(handled.contains(&id), "event {id} handled: {handled:?}");
    }
    let position = |id| handled.iter().position(|h| *h == id).unwrap();
    assert!(position(4) < position(5), "{handled:?}");
    // The long order is found by its id.
    let listed = inbox
        .list(ListFilter {
            object_id: Some(long_order.clone()),
            ..ListFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.iter().map(|e| e.id).collect::<Vec<_>>(), [4, 5]);
}

/// `inbox migrate` (`Inbox::copy_to`) copies every processing attempt of
/// an event, in order, with its times, instance, outcome and error, and its
/// request headers (issue 21).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_keeps_every_processing_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let from_path = dir.path().join("from.db");
    let to_path = dir.path().join("to.db");
    let source = Inbox::open(&url(&from_path)).unwrap();
    let id = source
        .store(NewEvent {
            kind: EventKind::Order,
            event_name: Some("OrderIssuedByBuyer".into()),
            object_id: Some("o-copy".into()),
            message_id: Some("m-copy".into()),
            content_type: "application/json".into(),
            body: Bytes::from(order_body("o-copy", "m-copy", 10)),
            state: NewState::Received,
            source: None,
            headers: vec![
                ("user-agent".into(), "Tradecloud webhook".into()),
                ("x-note".into(), "\u{10FFFF} and a NUL \0 kept".into()),
            ],
        })
        .await
        .unwrap()
        .id();
    {
        let conn = rusqlite::Connection::open(&from_path).unwrap();
        for (n, (outcome, error)) in [
            ("retry", Some("first: the ERP answered 503")),
            ("retry", Some("second: \u{10FFFF} and a NUL \0 kept")),
            ("done", None),
        ]
        .into_iter()
        .enumerate()
        {
            let at = 1_700_000_000_000i64 + 1_000 * n as i64;
            conn.execute(
                "INSERT INTO event_attempts (event_id, started_at, finished_at, instance, outcome, error) \
                 VALUES (?1, ?2, ?3, 'p-1', ?4, ?5)",
                rusqlite::params![id, at, at + 250, outcome, error],
            )
            .unwrap();
        }
    }
    let want = source.attempts(id).await.unwrap();
    assert_eq!(want.len(), 3);
    let target = Inbox::connect_migration_target(&url(&to_path), InboxOptions::default())
        .await
        .unwrap();
    source.copy_to(&target).await.unwrap();
    assert_eq!(target.attempts(id).await.unwrap(), want);
    // And the request headers beside the body.
    let copied = target.get(id).await.unwrap().unwrap();
    assert_eq!(
        copied.headers,
        source.get(id).await.unwrap().unwrap().headers
    );
    assert_eq!(copied.headers.len(), 2);
}

/// What makes a file of this build's schema one of version 10 (before
/// `po_objects`): the index by purchase order number back.
const TO_VERSION_10: &str = "
DROP TABLE po_objects;
DROP INDEX events_po_alone;
CREATE INDEX events_po ON events (po_key, id);
";

/// What makes a file of this build's schema one of version 9 (before
/// `heads.active_from`): that of version 10, the partial index of active
/// events back, the column gone.
const TO_VERSION_9: &str = "
DROP TABLE po_objects;
DROP INDEX events_po_alone;
CREATE INDEX events_po ON events (po_key, id);
ALTER TABLE heads DROP COLUMN active_from;
CREATE INDEX events_active_object ON events (object_key, id)
    WHERE state IN ('received', 'trigger', 'processing', 'retrying');
";

/// Version 9 to 10: each head's `active_from` is its object's oldest active
/// event, also one older than the head's own event (replayed while the
/// object had a head), so that event is still handled; the partial index
/// is gone.
#[tokio::test]
async fn a_version_9_database_starts_each_queue_at_its_oldest_active_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let event =
        |order: &str, message: &str| inbox_cases::event_with(EventKind::Order, order, message);
    let ids = {
        let inbox = Inbox::open(&url(&path)).unwrap();
        let mut ids = Vec::new();
        for (order, message) in [
            ("o-a", "m-1"),
            ("o-a", "m-2"),
            ("o-a", "m-3"),
            ("o-b", "m-4"),
        ] {
            ids.push(inbox.store(event(order, message)).await.unwrap().id());
        }
        ids
    };
    {
        // As version 9 left it after event 1 was replayed while event 3
        // was the head of its order, and event 2 was done.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(&format!("{TO_VERSION_9} PRAGMA user_version = 9;"))
            .unwrap();
        conn.execute(
            "UPDATE heads SET event_id = ?2 WHERE event_id = ?1",
            [ids[0], ids[2]],
        )
        .unwrap();
        conn.execute("UPDATE events SET state = 'done' WHERE id = ?1", [ids[1]])
            .unwrap();
    }
    let inbox = Inbox::open(&url(&path)).unwrap();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        assert_eq!(user_version(&conn), 11);
        let heads: Vec<(i64, i64)> = conn
            .prepare("SELECT event_id, active_from FROM heads ORDER BY event_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(heads, [(ids[2], ids[0]), (ids[3], ids[3])]);
        assert!(!schema_has(&conn, "events_active_object"));
    }
    // Every active event is handled, the replayed one too.
    let recorder = Recorder::start(&inbox);
    let start = Instant::now();
    while recorder.handled().len() < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "handled: {:?}",
            recorder.handled()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut handled = recorder.stop().await;
    handled.sort_unstable();
    assert_eq!(handled, [ids[0], ids[2], ids[3]]);
}

/// Version 10 to 11: the pairs of order and purchase order number are
/// made from the events stored before, so a search by number finds the
/// same events as before (also one without an order id); `events_po` is
/// gone. A purge that leaves an order no event drops its pairs.
#[tokio::test]
async fn a_version_10_database_finds_its_events_by_purchase_order_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let event = |order: Option<&str>, message: &str, po: &str| NewEvent {
        object_id: order.map(str::to_owned),
        body: Bytes::from(format!(
            r#"{{"eventName":"OrderIssuedByBuyer","orderEvent":{{"orderId":"{}","buyerOrder":{{"purchaseOrderNumber":"{po}"}}}}}}"#,
            order.unwrap_or("")
        )),
        ..inbox_cases::event_with(EventKind::Order, "", message)
    };
    let ids = {
        let inbox = Inbox::open(&url(&path)).unwrap();
        let mut ids = Vec::new();
        for (order, message, po) in [
            (Some("o-1"), "m-1", "PO-1"),
            (Some("o-1"), "m-2", "PO-1"),
            (Some("o-2"), "m-3", "PO-2"),
            (None, "m-4", "PO-1"),
        ] {
            ids.push(inbox.store(event(order, message, po)).await.unwrap().id());
        }
        ids
    };
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(&format!("{TO_VERSION_10} PRAGMA user_version = 10;"))
            .unwrap();
    }
    let inbox = Inbox::open(&url(&path)).unwrap();
    let pairs = || {
        let conn = rusqlite::Connection::open(&path).unwrap();
        count(&conn, "SELECT count(*) FROM po_objects")
    };
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        assert_eq!(user_version(&conn), 11);
        assert!(!schema_has(&conn, "events_po"));
    }
    assert_eq!(pairs(), 2, "o-1 with PO-1, o-2 with PO-2");
    let by_po = |number: &'static str| {
        let inbox = inbox.clone();
        async move {
            let filter = ListFilter {
                purchase_order_number: Some(number.into()),
                ..ListFilter::default()
            };
            let listed = inbox.list(filter).await.unwrap();
            listed.iter().map(|e| e.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(by_po("PO-1").await, [ids[0], ids[1], ids[3]]);
    assert_eq!(by_po("PO-2").await, [ids[2]]);
    // A new order's first event adds its pair, its next ones none.
    let mut newer = Vec::new();
    for message in ["m-5", "m-6"] {
        newer.push(
            inbox
                .store(event(Some("o-3"), message, "PO-2"))
                .await
                .unwrap()
                .id(),
        );
    }
    assert_eq!(pairs(), 3);
    assert_eq!(by_po("PO-2").await, [ids[2], newer[0], newer[1]]);
    // Purged, o-2 leaves no event and its pair goes; o-3's stays.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE events SET state = 'done', updated_at = 0 WHERE id = ?1",
            [ids[2]],
        )
        .unwrap();
    }
    let purged = inbox
        .purge(chrono::Utc::now() - chrono::Duration::days(1), false)
        .await
        .unwrap();
    assert_eq!(purged.events, 1);
    assert_eq!(pairs(), 2);
    assert_eq!(by_po("PO-2").await, newer);
}

/// Version 8 to 9: bodies stored before stay as they are and read back
/// byte for byte; bodies stored after are compressed (`codec = 'lz4'`),
/// read back byte for byte too, and the body search finds text in both.
#[tokio::test]
async fn a_version_8_database_keeps_its_bodies_and_compresses_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let event = |order: &str, message: &str, padding: usize| NewEvent {
        kind: EventKind::Order,
        event_name: Some("OrderIssuedByBuyer".into()),
        object_id: Some(order.into()),
        message_id: Some(message.into()),
        content_type: "application/json".into(),
        body: Bytes::from(order_body(order, message, padding)),
        state: NewState::Received,
        source: None,
        headers: Vec::new(),
    };
    // A version-8 file: this build's schema without `codec`, a body as
    // version 8 stored it (as received).
    let old_body = order_body("o-old", "m-old", 9000);
    let old_id = {
        let inbox = Inbox::open(&url(&path)).unwrap();
        let id = inbox
            .store(event("o-old", "m-old", 9000))
            .await
            .unwrap()
            .id();
        drop(inbox);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE event_bodies SET body = ?2, codec = NULL WHERE event_id = ?1",
            (id, &old_body),
        )
        .unwrap();
        conn.execute_batch(&format!(
            "ALTER TABLE event_bodies DROP COLUMN codec; {TO_VERSION_9} PRAGMA user_version = 8;"
        ))
        .unwrap();
        id
    };
    let inbox = Inbox::open(&url(&path)).unwrap();
    let new_id = inbox
        .store(event("o-new", "m-new", 9000))
        .await
        .unwrap()
        .id();
    let small_id = inbox
        .store(event("o-small", "m-small", 0))
        .await
        .unwrap()
        .id();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        assert_eq!(user_version(&conn), 11);
        let stored = |id: i64| -> (Option<String>, i64) {
            conn.query_row(
                "SELECT codec, length(body) FROM event_bodies WHERE event_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
        };
        assert_eq!(stored(old_id), (None, old_body.len() as i64));
        let (codec, len) = stored(new_id);
        assert_eq!(codec.as_deref(), Some("lz4"));
        assert!(len * 4 < old_body.len() as i64, "{len} bytes stored");
        assert_eq!(
            stored(small_id).0,
            None,
            "a small body is stored as it came"
        );
    }
    let read = |id: i64| {
        let inbox = inbox.clone();
        async move { inbox.get(id).await.unwrap().unwrap().body.to_vec() }
    };
    assert_eq!(read(old_id).await, old_body);
    assert_eq!(read(new_id).await, order_body("o-new", "m-new", 9000));
    assert_eq!(read(small_id).await, order_body("o-small", "m-small", 0));
    for (text, expected) in [
        ("\"orderId\":\"o-old\"", vec![old_id]),
        ("\"orderId\":\"o-new\"", vec![new_id]),
        ("OrderIssuedByBuyer", vec![old_id, new_id, small_id]),
        ("no such text", vec![]),
    ] {
        let filter = ListFilter {
            body_contains: Some(text.into()),
            ..ListFilter::default()
        };
        let ids: Vec<i64> = inbox
            .list(filter)
            .await
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, expected, "{text}");
    }
}
