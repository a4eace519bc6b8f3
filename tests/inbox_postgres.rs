//! The PostgreSQL store against a real PostgreSQL (a throwaway cluster, see
//! `pg_support`): the same operations as SQLite, two processors on one
//! database handling every order in stored order, a dead processor's lease
//! taken over, the server going away and coming back, and an inbox copied
//! from SQLite.
#![cfg(feature = "postgres")]

use crate::inbox_cases;
use crate::pg_support;
use crate::processing_support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use pg_support::PgCluster;
use processing_support::crash_mid_handler;
use tradecloud::inbox::{
    EventKind, Inbox, InboxError, InboxOptions, ListFilter, NewEvent, NewState, State, Stored,
};
use tradecloud::processing::{handler_fn, Event, HandlerError, Processor, ProcessorConfig};

fn order_event(order_id: &str, message_id: &str) -> NewEvent {
    let body = format!(
        r#"{{"eventName":"OrderLinesConfirmedBySupplier","meta":{{"messageId":"{message_id}"}},"orderEvent":{{"orderId":"{order_id}","lines":[]}}}}"#
    );
    NewEvent {
        kind: EventKind::Order,
        event_name: Some("OrderLinesConfirmedBySupplier".into()),
        object_id: Some(order_id.into()),
        message_id: Some(message_id.into()),
        content_type: "application/json".into(),
        body: Bytes::from(body),
        state: NewState::Received,
        source: Some("POST /tradecloud/order".into()),
        // Copied from SQLite to PostgreSQL with the rest (`copy_to` below).
        headers: vec![
            ("user-agent".into(), "Tradecloud".into()),
            ("x-request-id".into(), format!("{message_id}\0\u{10FFFF}")),
        ],
    }
}

fn config() -> ProcessorConfig {
    ProcessorConfig {
        concurrency: 4,
        max_attempts: 3,
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_millis(200),
        poll_interval: Duration::from_millis(50),
        batch: 8,
        lease: Duration::from_secs(3),
        ..ProcessorConfig::default()
    }
}

async fn wait_for(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn count(inbox: &Inbox, state: State) -> u64 {
    inbox
        .counts()
        .await
        .unwrap()
        .into_iter()
        .find(|(s, _)| *s == state)
        .map_or(0, |(_, n)| n)
}

/// A processor running until dropped.
struct Running(
    Option<tokio::sync::oneshot::Sender<()>>,
    tokio::task::JoinHandle<()>,
);

impl Running {
    fn start<H: tradecloud::processing::Handler>(processor: Processor<H>) -> Running {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(processor.run(async {
            let _ = stopped.await;
        }));
        Running(Some(stop), task)
    }

    async fn stop(mut self) {
        if let Some(stop) = self.0.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.1).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_keeps_events_dedupes_replays_and_purges() {
    let pg = PgCluster::start();
    let url = pg.database("inbox");
    let inbox = Inbox::connect(&url).await.unwrap();
    // A second connection (another instance) migrates nothing again.
    let other = Inbox::connect(&url).await.unwrap();

    let first = inbox.store(order_event("o-1", "m-1")).await.unwrap();
    assert!(matches!(first, Stored::New(_)));
    // The same message through another instance: a duplicate of the first.
    assert_eq!(
        other.store(order_event("o-1", "m-1")).await.unwrap(),
        Stored::Duplicate(first.id())
    );
    // Bytes as sent, NUL and all; metadata with a NUL is still stored.
    let raw = Bytes::from_static(b"{\"eventName\":\"x\0\xff\"}");
    let rejected = inbox
        .store(NewEvent {
            message_id: Some("m-2".into()),
            object_id: Some("o-\0-2".into()),
            body: raw.clone(),
            state: NewState::Rejected {
                error: "invalid JSON body".into(),
            },
            ..order_event("o-2", "m-2")
        })
        .await
        .unwrap();
    let got = inbox.get(rejected.id()).await.unwrap().unwrap();
    assert_eq!(got.body, raw);
    assert_eq!(got.summary.state, State::Rejected);
    // A valid copy of the rejected message is stored and handled.
    let valid = other.store(order_event("o-2", "m-2")).await.unwrap();
    assert!(matches!(valid, Stored::New(id) if id > rejected.id()));

    let listed = inbox.list(ListFilter::default()).await.unwrap();
    assert_eq!(
        listed.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![first.id(), rejected.id(), valid.id()]
    );
    assert_eq!(count(&inbox, State::Received).await, 2);

    // Handled by a processor, then replayed and handled again, then purged.
    let seen: Arc<Mutex<Vec<i64>>> = Arc::default();
    let handler = {
        let seen = seen.clone();
        handler_fn(move |event: Event, _ctx| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(event.meta().inbox_id);
                Ok(())
            }
        })
    };
    let running = Running::start(Processor::new(inbox.clone(), handler, config()));
    wait_for("both handled", Duration::from_secs(30), async || {
        count(&inbox, State::Done).await == 2
    })
    .await;
    other.replay(first.id()).await.unwrap();
    wait_for("the replay handled", Duration::from_secs(30), async || {
        seen.lock().unwrap().len() == 3
    })
    .await;
    wait_for("done again", Duration::from_secs(30), async || {
        count(&inbox, State::Done).await == 2
    })
    .await;
    running.stop().await;
    // Two orders, handled in parallel; then the replay.
    let seen = seen.lock().unwrap().clone();
    let mut both = seen[..2].to_vec();
    both.sort();
    assert_eq!(both, vec![first.id(), valid.id()]);
    assert_eq!(seen[2], first.id());
    let err = inbox.replay(rejected.id() + 1000).await.unwrap_err();
    assert!(matches!(err, InboxError::NotFound(_)), "{err:?}");

    let future = chrono::Utc::now() + chrono::Duration::days(1);
    let dry = inbox.purge(future, true).await.unwrap();
    assert_eq!(dry.events, 2);
    let purged = inbox.purge(future, false).await.unwrap();
    assert_eq!(purged, dry);
    assert_eq!(inbox.list(ListFilter::default()).await.unwrap().len(), 1);
    inbox.ready().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processors_on_one_database_handle_every_order_in_stored_order() {
    let pg = PgCluster::start();
    let url = pg.database("inbox");
    let a = Inbox::connect(&url).await.unwrap();
    let b = Inbox::connect(&url).await.unwrap();

    // (processor, order, inbox id, message id) in handling order.
    type Seen = Arc<Mutex<Vec<(char, String, i64, String)>>>;
    let seen: Seen = Arc::default();
    let busy: Arc<Mutex<HashSet<String>>> = Arc::default();
    let handler = |name: char| {
        let seen = seen.clone();
        let busy = busy.clone();
        handler_fn(move |event: Event, _ctx| {
            let seen = seen.clone();
            let busy = busy.clone();
            async move {
                let meta = event.meta().clone();
                let order = meta.object_id.clone().unwrap_or_default();
                // Never two handlers on one order at once, in any process
                // (a panic here would only fail the attempt: record it).
                if !busy.lock().unwrap().insert(order.clone()) {
                    seen.lock()
                        .unwrap()
                        .push(('!', order.clone(), 0, String::new()));
                }
                tokio::time::sleep(Duration::from_millis(fastrand::u64(0..4))).await;
                busy.lock().unwrap().remove(&order);
                seen.lock().unwrap().push((
                    name,
                    order,
                    meta.inbox_id,
                    meta.message_id.unwrap_or_default(),
                ));
                if fastrand::u8(..) < 8 {
                    return Err(HandlerError::Transient("ERP busy".into()));
                }
                Ok(())
            }
        })
    };
    let config = ProcessorConfig {
        max_attempts: 50,
        ..config()
    };
    let run_a = Running::start(Processor::new(a.clone(), handler('a'), config.clone()));
    let run_b = Running::start(Processor::new(b.clone(), handler('b'), config));

    // Both instances receive events for the same 20 orders at once.
    let mut senders = Vec::new();
    for (s, inbox) in [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .enumerate()
    {
        senders.push(tokio::spawn(async move {
            for i in 0..100 {
                let order = format!("order-{}", (i * 7 + s) % 20);
                inbox
                    .store(order_event(&order, &format!("m-{s}-{i}")))
                    .await
                    .unwrap();
            }
        }));
    }
    for sender in senders {
        sender.await.unwrap();
    }
    wait_for(
        "all 400 events done",
        Duration::from_secs(120),
        async || count(&a, State::Done).await == 400,
    )
    .await;
    run_a.stop().await;
    run_b.stop().await;

    let seen = seen.lock().unwrap().clone();
    assert!(
        !seen.iter().any(|s| s.0 == '!'),
        "an order was handled twice at once: {:?}",
        seen.iter().filter(|s| s.0 == '!').collect::<Vec<_>>()
    );
    // The last successful attempt of each event: handled in id order per order.
    let mut last_per_order: HashMap<String, i64> = HashMap::new();
    let mut done_ids = HashSet::new();
    for (_, order, id, _) in &seen {
        let previous = last_per_order.insert(order.clone(), *id).unwrap_or(0);
        assert!(
            *id >= previous,
            "order {order}: event {id} handled after event {previous}"
        );
        done_ids.insert(*id);
    }
    assert_eq!(done_ids.len(), 400);
    let by_a = seen.iter().filter(|s| s.0 == 'a').count();
    let by_b = seen.iter().filter(|s| s.0 == 'b').count();
    assert!(
        by_a > 0 && by_b > 0,
        "work spread over both: a {by_a}, b {by_b}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_processors_events_are_taken_over_after_its_lease() {
    let pg = PgCluster::start();
    let url = pg.database("inbox");
    let first = Inbox::connect(&url).await.unwrap();
    let id = first.store(order_event("o-1", "m-1")).await.unwrap().id();
    let later = first.store(order_event("o-1", "m-2")).await.unwrap().id();

    crash_mid_handler(&first, config(), Duration::from_secs(30)).await;
    let event = first.get(id).await.unwrap().unwrap().summary;
    assert_eq!((event.state, event.attempts), (State::Processing, 1));

    // Another instance: it waits for the lease (3 s), then handles both, in order.
    let second = Inbox::connect(&url).await.unwrap();
    let seen: Arc<Mutex<Vec<(i64, u32)>>> = Arc::default();
    let handler = {
        let seen = seen.clone();
        handler_fn(move |event: Event, _ctx| {
            let seen = seen.clone();
            async move {
                seen.lock()
                    .unwrap()
                    .push((event.meta().inbox_id, event.meta().attempt));
                Ok(())
            }
        })
    };
    let taken_over = Instant::now();
    let running = Running::start(Processor::new(second.clone(), handler, config()));
    wait_for("both done", Duration::from_secs(60), async || {
        count(&second, State::Done).await == 2
    })
    .await;
    running.stop().await;
    assert!(taken_over.elapsed() >= Duration::from_secs(1));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen[0],
        (id, 1),
        "the interrupted event again; its interrupted claim, never recorded, is not counted"
    );
    assert_eq!(seen.last().map(|s| s.0), Some(later));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_is_unavailable_and_the_store_reconnects() {
    let pg = PgCluster::start();
    let url = pg.database("inbox");
    let inbox = Inbox::connect(&url).await.unwrap();
    inbox.store(order_event("o-1", "m-1")).await.unwrap();
    inbox.ready().await.unwrap();

    pg.stop_server();
    let err = inbox.store(order_event("o-1", "m-2")).await.unwrap_err();
    assert!(matches!(err, InboxError::Unavailable(_)), "{err:?}");
    assert!(err.is_transient());
    assert!(matches!(
        inbox.ready().await,
        Err(InboxError::Unavailable(_))
    ));

    pg.start_server();
    wait_for("reconnected", Duration::from_secs(30), async || {
        inbox.ready().await.is_ok()
    })
    .await;
    let stored = inbox.store(order_event("o-1", "m-2")).await.unwrap();
    assert!(matches!(stored, Stored::New(_)));
    assert_eq!(inbox.list(ListFilter::default()).await.unwrap().len(), 2);
}

/// A full disk on the database server: PostgreSQL refuses the insert
/// ("could not extend file ...", SQLSTATE 53100) but not the readiness
/// probe, whose row fits a page it already has, so `/readyz` said 200
/// while every event was answered 503 (probed with the data directory on
/// a tmpfs that filled up). An event refused so makes the inbox not ready,
/// saying why and what to do, until one is stored. The full disk is
/// played by a trigger raising `disk_full` (a real one needs root to mount
/// the cluster's file system).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_refused_for_a_full_disk_makes_the_inbox_not_ready() {
    let pg = PgCluster::start();
    let url = pg.database("inbox");
    let inbox = Inbox::connect(&url).await.unwrap();
    inbox.store(order_event("o-1", "m-1")).await.unwrap();
    inbox.ready().await.unwrap();
    pg.psql(
        "inbox",
        "CREATE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         RAISE EXCEPTION 'could not extend file \"base/1/2\": No space left on device' \
         USING ERRCODE = 'disk_full'; END $$; \
         CREATE TRIGGER full_disk BEFORE INSERT ON event_bodies \
         FOR EACH ROW EXECUTE FUNCTION full_disk()",
    );
    let refused = inbox.store(order_event("o-1", "m-2")).await;
    assert!(
        matches!(&refused, Err(InboxError::Unavailable(m)) if m.contains("53100")),
        "{refused:?}"
    );
    let err = inbox.ready().await.unwrap_err();
    assert!(
        matches!(&err, InboxError::Unavailable(m)
            if m.contains("disk of the PostgreSQL server is full") && m.contains("free space")),
        "{err:?}"
    );

    pg.psql("inbox", "DROP TRIGGER full_disk ON event_bodies");
    inbox.store(order_event("o-1", "m-2")).await.unwrap();
    inbox.ready().await.unwrap();
}

/// Sessions opened while the database was read-only (`ALTER DATABASE ...
/// SET default_transaction_read_only`) stay read-only after the setting is
/// reset: the pool must not keep handing them out. An inbox that is only
/// read opens on a read-only database; a database without an inbox is not
/// given one by a command that reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_read_only_for_a_while_is_written_again_without_a_restart() {
    let pg = PgCluster::start();
    let url = pg.database("inbox");
    let inbox = Inbox::connect(&url).await.unwrap();
    inbox.store(order_event("o-1", "m-1")).await.unwrap();
    let reading = InboxOptions {
        create: false,
        ..InboxOptions::default()
    };

    pg.psql_each(
        "postgres",
        &[
            "ALTER DATABASE inbox SET default_transaction_read_only = on",
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = 'inbox' AND pid <> pg_backend_pid()",
        ],
    );
    wait_for("a read-only refusal", Duration::from_secs(30), async || {
        matches!(
            inbox.store(order_event("o-1", "m-2")).await,
            Err(InboxError::Unavailable(m)) if m.contains("read-only")
        )
    })
    .await;
    assert!(inbox.ready().await.is_err());
    // `inbox list` on the read-only database.
    let reader = Inbox::connect_with(&url, reading.clone()).await.unwrap();
    assert_eq!(reader.list(ListFilter::default()).await.unwrap().len(), 1);

    pg.psql(
        "postgres",
        "ALTER DATABASE inbox RESET default_transaction_read_only",
    );
    wait_for("writable again", Duration::from_secs(30), async || {
        inbox.ready().await.is_ok()
    })
    .await;
    let stored = inbox.store(order_event("o-1", "m-2")).await.unwrap();
    assert!(matches!(stored, Stored::New(_)));

    // A database that holds no inbox, opened as `inbox list` opens one.
    let other = pg.database("not_an_inbox");
    let err = Inbox::connect_with(&other, reading).await.unwrap_err();
    assert!(
        matches!(&err, InboxError::Invalid(m) if m.contains("holds no tradecloud inbox")),
        "{err:?}"
    );
    assert_eq!(
        pg.psql(
            "not_an_inbox",
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ),
        "0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbox_copied_from_sqlite_keeps_ids_states_and_bytes() {
    let pg = PgCluster::start();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Inbox::open(&format!(
        "sqlite://{}",
        dir.path().join("inbox.db").display()
    ))
    .unwrap();
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(
            sqlite
                .store(order_event(&format!("o-{}", i % 4), &format!("m-{i}")))
                .await
                .unwrap()
                .id(),
        );
    }
    sqlite
        .store(NewEvent::rejected(
            EventKind::Order,
            "application/json",
            Bytes::from_static(b"\xff\x00not json"),
            "invalid JSON body",
        ))
        .await
        .unwrap();
    sqlite
        .store(NewEvent::trigger(EventKind::Shipment, "s-1"))
        .await
        .unwrap();
    // Some done, so that states differ.
    let handler = handler_fn(|event: Event, _ctx| async move {
        if event.meta().object_id.as_deref() == Some("o-3") {
            Err(HandlerError::Permanent("not for us".into()))
        } else {
            Ok(())
        }
    });
    let running = Running::start(Processor::new(sqlite.clone(), handler, config()));
    wait_for("handled", Duration::from_secs(30), async || {
        count(&sqlite, State::Done).await + count(&sqlite, State::Dead).await >= 31
    })
    .await;
    running.stop().await;

    let url = pg.database("copy");
    let pg_inbox = Inbox::connect(&url).await.unwrap();
    let copied = sqlite.copy_to(&pg_inbox).await.unwrap();
    assert_eq!(copied.events, 32);
    let all = ListFilter {
        limit: Some(1000),
        ..ListFilter::default()
    };
    let before = sqlite.list(all.clone()).await.unwrap();
    let after = pg_inbox.list(all.clone()).await.unwrap();
    assert_eq!(before, after);
    for event in &before {
        let a = sqlite.get(event.id).await.unwrap().unwrap();
        let b = pg_inbox.get(event.id).await.unwrap().unwrap();
        assert_eq!(a, b);
    }
    // Copying into a non-empty inbox is refused.
    assert!(matches!(
        sqlite.copy_to(&pg_inbox).await,
        Err(InboxError::Invalid(_))
    ));
    // New events get new ids; the copied queue (the dead order 3 aside) is handled.
    let next = pg_inbox
        .store(order_event("o-9", "m-new"))
        .await
        .unwrap()
        .id();
    assert!(next > *ids.iter().max().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_of_any_content_and_length_are_kept_apart() {
    let pg = PgCluster::start();
    let url = pg.database("inbox");
    let inbox = Inbox::connect(&url).await.unwrap();
    inbox_cases::ids_of_any_content_and_length_are_kept_apart(&inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_to_be_handled_can_be_marked_dead() {
    let pg = PgCluster::start();
    let url = pg.database("inbox");
    let inbox = Inbox::connect(&url).await.unwrap();
    inbox_cases::an_event_to_be_handled_can_be_marked_dead(&inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_event_replayed_behind_a_busy_head_is_handled_next() {
    let pg = PgCluster::start();
    let url = pg.database("inbox");
    let inbox = Inbox::connect(&url).await.unwrap();
    inbox_cases::an_older_event_replayed_behind_a_busy_head_is_handled_next(&inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attempt_is_kept_with_its_error() {
    let pg = PgCluster::start();
    let url = pg.database("inbox");
    let inbox = Inbox::connect(&url).await.unwrap();
    inbox_cases::every_attempt_is_kept_with_its_error(&inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_headers_are_kept_with_credentials_redacted() {
    let pg = PgCluster::start();
    let url = pg.database("inbox");
    let inbox = Inbox::connect(&url).await.unwrap();
    inbox_cases::request_headers_are_kept_with_credentials_redacted(&inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_newest_attempts_are_kept() {
    let pg = PgCluster::start();
    let url = pg.database("inbox");
    let inbox = Inbox::connect(&url).await.unwrap();
    inbox_cases::only_the_newest_attempts_are_kept(&inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_listed_by_name_and_time() {
    let pg = PgCluster::start();
    let url = pg.database("inbox");
    let inbox = Inbox::connect(&url).await.unwrap();
    inbox_cases::events_are_listed_by_name_and_time(&inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_take_nul_and_control_characters() {
    let pg = PgCluster::start();
    let url = pg.database("inbox");
    let inbox = Inbox::connect(&url).await.unwrap();
    inbox_cases::filters_take_nul_and_control_characters(&inbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_found_by_purchase_order_number() {
    let pg = PgCluster::start();
    let url = pg.database("inbox");
    let inbox = Inbox::connect(&url).await.unwrap();
    inbox_cases::events_are_found_by_purchase_order_number(&inbox).await;
}

/// The PostgreSQL schema of version 1, as the previous release created it
/// (fixture: do not change it along with the code).
const PG_SCHEMA_V1: &str = "
CREATE TABLE tradecloud_schema (version bigint NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
CREATE FUNCTION tc_now_ms() RETURNS bigint LANGUAGE sql VOLATILE AS
  $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;
CREATE FUNCTION tc_lock_objects(keys bigint[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE k bigint;
BEGIN
  FOREACH k IN ARRAY keys LOOP
    PERFORM pg_advisory_xact_lock(k);
  END LOOP;
END $$;
CREATE TABLE events (
    id              bigint  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    kind            text    NOT NULL,
    event_name      text,
    object_id       text,
    message_id      text,
    content_type    text    NOT NULL,
    body_len        bigint  NOT NULL,
    state           text    NOT NULL,
    error           text,
    attempts        integer NOT NULL DEFAULT 0,
    received_at     bigint  NOT NULL,
    updated_at      bigint  NOT NULL,
    next_attempt_at bigint,
    source          text,
    origin          text    NOT NULL DEFAULT 'webhook'
);
CREATE UNIQUE INDEX events_message_id ON events (message_id);
CREATE INDEX events_state ON events (state, id);
CREATE INDEX events_active_object ON events (object_id, id)
    WHERE state IN ('received', 'trigger', 'processing', 'retrying');
CREATE TABLE event_bodies (
    event_id bigint PRIMARY KEY,
    body     bytea  NOT NULL
);
CREATE TABLE heads (
    key       text   PRIMARY KEY,
    object_id text,
    event_id  bigint NOT NULL,
    due_at    bigint NOT NULL,
    owner     text
);
CREATE INDEX heads_due ON heads (due_at);
INSERT INTO tradecloud_schema (version) VALUES (1);
";

/// A database of schema version 1 (ids in the indexes, NUL stored as
/// U+FFFD) is upgraded in place at connect: every row kept, the keys of the
/// stored message ids computed in SQL exactly as Rust computes new ones (a
/// redelivery is still a duplicate, a 300-byte id too, which is hashed),
/// the queue rebuilt and handled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_is_upgraded_in_place_and_keeps_every_event() {
    let pg = PgCluster::start();
    let url = pg.database("old");
    let long = format!("{}é", "m".repeat(300));
    let mut sql = String::from(PG_SCHEMA_V1);
    // id, kind, object id, message id, state
    let rows = [
        (1, "order", "o-1", "n\u{FFFD}", "done"),
        (2, "order", "o-1", "m-2", "received"),
        (3, "shipment", "s-3", "m-3", "processing"),
        (4, "order", "o-4", long.as_str(), "retrying"),
    ];
    for (id, kind, object, message, state) in rows {
        let body =
            String::from_utf8(inbox_cases::body(kind.parse().unwrap(), object, message).to_vec())
                .unwrap();
        sql.push_str(&format!(
            "INSERT INTO events (id, kind, event_name, object_id, message_id, content_type, body_len, state, \
             received_at, updated_at, next_attempt_at, origin) VALUES ({id}, '{kind}', 'OrderIssuedByBuyer', \
             '{object}', '{message}', 'application/json', {}, '{state}', {id}, {id}, 0, 'webhook');
             INSERT INTO event_bodies VALUES ({id}, convert_to('{}', 'UTF8'));",
            body.len(),
            body.replace('\'', "''"),
        ));
    }
    sql.push_str(
        "SELECT setval(pg_get_serial_sequence('events', 'id'), 4);
         INSERT INTO heads VALUES ('o:o-1', 'o-1', 2, 0, NULL), ('o:s-3', 's-3', 3, 9999999999999, 'gone'),
                                  ('o:o-4', 'o-4', 4, 0, NULL);",
    );
    pg.psql("old", &sql);

    let inbox = Inbox::connect(&url).await.unwrap();
    assert_eq!(
        pg.psql("old", "SELECT max(version) FROM tradecloud_schema")
            .trim(),
        "6"
    );
    // Events stored before version 6 have no headers.
    assert_eq!(
        pg.psql(
            "old",
            "SELECT count(*) FROM event_bodies WHERE headers IS NOT NULL"
        )
        .trim(),
        "0"
    );
    // The SQL key function is the Rust one.
    assert_eq!(
        pg.psql("old", "SELECT message_key FROM events WHERE id = 4")
            .trim(),
        format!("order:#{}", {
            let hash = pg.psql(
                "old",
                &format!("SELECT encode(sha256(convert_to('{long}', 'UTF8')), 'hex')"),
            );
            hash.trim().to_string()
        })
    );
    for (id, kind, object, message, state) in rows {
        let event = inbox.get(id).await.unwrap().expect("kept");
        assert_eq!(event.summary.kind.as_str(), kind);
        assert_eq!(event.summary.object_id.as_deref(), Some(object));
        assert_eq!(event.summary.message_id.as_deref(), Some(message));
        assert_eq!(event.summary.state.as_str(), state);
        assert_eq!(
            event.body,
            inbox_cases::body(kind.parse().unwrap(), object, message)
        );
        // Still known: a redelivery is a duplicate of it.
        assert_eq!(
            inbox
                .store(inbox_cases::event(kind.parse().unwrap(), object, message))
                .await
                .unwrap(),
            Stored::Duplicate(id),
            "event {id}"
        );
    }
    // New events get new ids; the queue (2, the dead claim's 3, the retry 4) is handled.
    let new = inbox
        .store(inbox_cases::event(EventKind::Order, "o-1", "m-5"))
        .await
        .unwrap();
    // (A redelivery draws an id from the sequence too: ids have gaps.)
    assert!(matches!(new, Stored::New(id) if id > 4), "{new:?}");
    let running = Running::start(Processor::new(
        inbox.clone(),
        handler_fn(|_event: Event, _ctx| async { Ok(()) }),
        config(),
    ));
    wait_for("handled", Duration::from_secs(30), async || {
        count(&inbox, State::Done).await == 5
    })
    .await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_copy_is_named_marked_and_started_over() {
    let pg = PgCluster::start();
    let url = pg.database("target");
    let dir = tempfile::tempdir().unwrap();
    inbox_cases::a_failed_copy_is_named_marked_and_started_over(dir.path(), &url).await;
    let url = pg.database("busy");
    inbox_cases::a_copy_from_a_source_in_use_is_refused(dir.path(), &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_whose_handed_on_webhook_was_dropped_is_read_from_the_store() {
    let pg = PgCluster::start();
    let url = pg.database("inbox");
    let inbox = Inbox::connect(&url).await.unwrap();
    inbox_cases::an_event_whose_handed_on_webhook_was_dropped_is_read_from_the_store(&inbox).await;
}

/// A database with `synchronous_commit = off` (here the database's own
/// setting; a DBA may choose it, or the server's, for speed) answers a
/// commit before its write-ahead log is written: a crash of the server lost
/// the last events the inbox had stored, which the receiver had answered
/// `2xx`, so Tradecloud would not send them again. The inbox's sessions
/// commit durably, and every stored event is there after the crash. (The
/// WAL writer waits 10 s between rounds, so that only the commits
/// themselves write the log's last page in time.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stored_event_survives_a_crash_of_postgres_with_synchronous_commit_off() {
    let pg = PgCluster::start();
    let url = pg.database("inbox");
    pg.psql_each(
        "postgres",
        &[
            "ALTER DATABASE inbox SET synchronous_commit = off",
            "ALTER SYSTEM SET wal_writer_delay = '10s'",
            "ALTER SYSTEM SET wal_writer_flush_after = '1GB'",
            "SELECT pg_reload_conf()",
        ],
    );
    let inbox = Inbox::connect(&url).await.unwrap();
    let mut stored = Vec::new();
    for i in 0..50 {
        let event = order_event(&format!("o-{}", i % 5), &format!("m-{i}"));
        stored.push(inbox.store(event).await.unwrap().id());
    }

    pg.crash_and_restart();
    let reopened = Inbox::connect(&url).await.unwrap();
    let listed: Vec<i64> = reopened
        .list(ListFilter::default())
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(
        listed, stored,
        "events stored (answered 2xx) before the crash are gone"
    );
}

/// Retention (`inbox purge`, `[store] retention_days`) deletes `done`
/// events only. An event replayed by another session (`inbox replay`,
/// another instance's console) while the purge waited for its row was
/// deleted all the same, as the `done` event the purge had picked: queued
/// again, then gone without being handled. Here a session holds the
/// replay's statements uncommitted until the purge waits for that row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_keeps_an_event_replayed_while_it_waited_for_it() {
    use std::io::Write as _;

    let pg = PgCluster::start();
    let url = pg.database("inbox");
    let inbox = Inbox::connect(&url).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        let event = order_event(&format!("o-{i}"), &format!("m-{i}"));
        ids.push(inbox.store(event).await.unwrap().id());
    }
    let handled: Arc<Mutex<Vec<i64>>> = Arc::default();
    let handler = {
        let handled = handled.clone();
        move || {
            let handled = handled.clone();
            handler_fn(move |event: Event, _ctx| {
                let handled = handled.clone();
                async move {
                    handled.lock().unwrap().push(event.meta().inbox_id);
                    Ok(())
                }
            })
        }
    };
    let running = Running::start(Processor::new(inbox.clone(), handler(), config()));
    wait_for("handled", Duration::from_secs(30), async || {
        count(&inbox, State::Done).await == 3
    })
    .await;
    running.stop().await;

    // What `replay` writes, in a transaction left open.
    let replayed = ids[0];
    let mut session = pg.psql_session("inbox");
    let mut stdin = session.stdin.take().unwrap();
    writeln!(
        stdin,
        "BEGIN;\n\
         UPDATE events SET state = 'received', error = NULL, attempts = 0, next_attempt_at = NULL, \
         updated_at = tc_now_ms() WHERE id = {replayed};\n\
         INSERT INTO heads (key, object_key, event_id, due_at) SELECT 'o:' || object_key, object_key, id, \
         tc_now_ms() FROM events WHERE id = {replayed} ON CONFLICT (key) DO NOTHING;"
    )
    .unwrap();
    stdin.flush().unwrap();
    wait_for("the replay's update", Duration::from_secs(30), async || {
        sessions(&pg, "state = 'idle in transaction'") == "1"
    })
    .await;
    let purge = tokio::spawn({
        let inbox = inbox.clone();
        async move {
            let cutoff = chrono::Utc::now() + chrono::Duration::days(1);
            inbox.purge(cutoff, false).await
        }
    });
    wait_for(
        "the purge waiting for the replayed row",
        Duration::from_secs(30),
        async || sessions(&pg, PURGE_WAITING) == "1",
    )
    .await;
    writeln!(stdin, "COMMIT;").unwrap();
    drop(stdin);
    assert!(session.wait().unwrap().success());

    let purged = purge.await.unwrap().unwrap();
    assert_eq!(purged.events, 2, "the two events still done");
    let event = inbox
        .get(replayed)
        .await
        .unwrap()
        .expect("the replayed event was deleted by the purge");
    assert_eq!(event.summary.state, State::Received);
    let running = Running::start(Processor::new(inbox.clone(), handler(), config()));
    wait_for(
        "the replayed event handled",
        Duration::from_secs(30),
        async || count(&inbox, State::Done).await == 1,
    )
    .await;
    running.stop().await;
    assert_eq!(
        handled
            .lock()
            .unwrap()
            .iter()
            .filter(|id| **id == replayed)
            .count(),
        2
    );
}

/// How many sessions on database `inbox` meet `condition` (on
/// `pg_stat_activity`).
fn sessions(pg: &PgCluster, condition: &str) -> String {
    pg.psql(
        "postgres",
        &format!("SELECT count(*) FROM pg_stat_activity WHERE datname = 'inbox' AND {condition}"),
    )
}

/// A purge's statement waiting for a row lock.
const PURGE_WAITING: &str = "wait_event_type = 'Lock' AND query LIKE '%DELETE FROM events%'";

/// A replay that reaches its event after a purge deleted it says the event
/// is not there; it answered that it had queued it again (with a head
/// pointing at nothing), so the operator believed a purged event would be
/// handled. Here a session holds the event's row until the purge, then the
/// replay, wait for it; the purge gets it first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_of_an_event_purged_meanwhile_says_it_is_gone() {
    use std::io::Write as _;

    let pg = PgCluster::start();
    let url = pg.database("inbox");
    let inbox = Inbox::connect(&url).await.unwrap();
    let id = inbox.store(order_event("o-1", "m-1")).await.unwrap().id();
    let running = Running::start(Processor::new(
        inbox.clone(),
        handler_fn(|_event: Event, _ctx| async { Ok(()) }),
        config(),
    ));
    wait_for("handled", Duration::from_secs(30), async || {
        count(&inbox, State::Done).await == 1
    })
    .await;
    running.stop().await;

    let mut session = pg.psql_session("inbox");
    let mut stdin = session.stdin.take().unwrap();
    writeln!(
        stdin,
        "BEGIN;\nSELECT id FROM events WHERE id = {id} FOR UPDATE;"
    )
    .unwrap();
    stdin.flush().unwrap();
    wait_for("the row held", Duration::from_secs(30), async || {
        sessions(&pg, "state = 'idle in transaction'") == "1"
    })
    .await;
    let purge = tokio::spawn({
        let inbox = inbox.clone();
        async move {
            let cutoff = chrono::Utc::now() + chrono::Duration::days(1);
            inbox.purge(cutoff, false).await
        }
    });
    wait_for("the purge waiting", Duration::from_secs(30), async || {
        sessions(&pg, PURGE_WAITING) == "1"
    })
    .await;
    let replay = tokio::spawn({
        let inbox = inbox.clone();
        async move { inbox.replay(id).await }
    });
    wait_for("the replay waiting", Duration::from_secs(30), async || {
        sessions(
            &pg,
            "wait_event_type = 'Lock' AND query LIKE 'UPDATE events%'",
        ) == "1"
    })
    .await;
    writeln!(stdin, "COMMIT;").unwrap();
    drop(stdin);
    assert!(session.wait().unwrap().success());

    assert_eq!(purge.await.unwrap().unwrap().events, 1);
    let err = replay
        .await
        .unwrap()
        .expect_err("a replay of a purged event said it was queued");
    assert!(matches!(err, InboxError::NotFound(n) if n == id), "{err:?}");
    assert!(inbox.get(id).await.unwrap().is_none());
    assert_eq!(
        pg.psql("inbox", "SELECT count(*) FROM heads"),
        "0",
        "a head of the purged event"
    );
}
