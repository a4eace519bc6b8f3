//! `Inbox::backlog` (the `tradecloud_inbox_queued_events` and
//! `tradecloud_inbox_oldest_queued_age_seconds` gauges) on both stores:
//! what counts as queued, the oldest one's age, nothing once handled; and
//! on PostgreSQL with 200 000 handled events, that reading it does not walk
//! the `events` table (the server's own scan counters); and `/metrics`
//! reading it at each scrape.

#![cfg(feature = "receiver")]

use std::time::{Duration, Instant};

use bytes::Bytes;
use tradecloud::inbox::{Backlog, EventKind, Inbox, NewEvent, NewState};
use tradecloud::processing::{handler_fn, Event, HandlerError, Processor, ProcessorConfig};

#[cfg(feature = "postgres")]
use crate::pg_support;
use crate::receiver_support;

fn order_event(order: &str, message: &str, state: NewState) -> NewEvent {
    NewEvent {
        kind: EventKind::Order,
        event_name: Some("OrderIssuedByBuyer".into()),
        object_id: Some(order.into()),
        message_id: Some(message.into()),
        content_type: "application/json".into(),
        body: Bytes::from(format!(
            r#"{{"eventName":"OrderIssuedByBuyer","meta":{{"messageId":"{message}"}},"orderEvent":{{"orderId":"{order}","lines":[]}}}}"#
        )),
        state,
        source: None,
        headers: Vec::new(),
    }
}

/// The same steps on any store.
async fn backlog_follows_the_queue(inbox: Inbox) {
    assert_eq!(inbox.backlog().await.unwrap(), Backlog::default());
    for (order, message) in [("o1", "m1"), ("o1", "m2"), ("o2", "m3")] {
        inbox
            .store(order_event(order, message, NewState::Received))
            .await
            .unwrap();
    }
    inbox
        .store(NewEvent::trigger(EventKind::Shipment, "s1"))
        .await
        .unwrap();
    // Not queued: quarantined and unknown events are never handled.
    inbox
        .store(order_event(
            "o3",
            "m4",
            NewState::Rejected {
                error: "bad".into(),
            },
        ))
        .await
        .unwrap();
    inbox
        .store(order_event(
            "o4",
            "m5",
            NewState::Unhandled {
                reason: "unknown".into(),
            },
        ))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let backlog = inbox.backlog().await.unwrap();
    assert_eq!(backlog.queued, 4, "{backlog:?}");
    let age = backlog.oldest_age.expect("an oldest event");
    assert!(
        age >= Duration::from_secs(1) && age < Duration::from_secs(60),
        "{age:?}"
    );

    // Handled (the trigger dead-letters: no fetcher): nothing queued.
    let handler = handler_fn(|_event: Event, _ctx| async { Ok::<(), HandlerError>(()) });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(
        Processor::new(
            inbox.clone(),
            handler,
            ProcessorConfig {
                poll_interval: Duration::from_millis(50),
                ..ProcessorConfig::default()
            },
        )
        .run(async {
            let _ = stopped.await;
        }),
    );
    let start = Instant::now();
    while inbox.backlog().await.unwrap().queued > 0 {
        assert!(start.elapsed() < Duration::from_secs(30), "never handled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(inbox.backlog().await.unwrap(), Backlog::default());
    let _ = stop.send(());
    running.await.unwrap();
}

#[tokio::test]
async fn sqlite_backlog_follows_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
    backlog_follows_the_queue(Inbox::open(&url).unwrap()).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backlog_follows_the_queue_and_reads_indexes_only() {
    let pg = pg_support::PgCluster::start();
    let url = pg.database("inbox");
    backlog_follows_the_queue(Inbox::connect(&url).await.unwrap()).await;

    // 200 000 handled events, two queued ones, in a database of its own.
    let big = pg.database("big");
    let gone = |app: &str| {
        let start = Instant::now();
        while pg.psql(
            "big",
            &format!("SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'"),
        ) != "0"
        {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{app} still connected"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    {
        let filler = Inbox::connect(&format!("{big}?application_name=filler"))
            .await
            .unwrap();
        for message in ["q1", "q2"] {
            filler
                .store(order_event("o9", message, NewState::Received))
                .await
                .unwrap();
        }
    }
    gone("filler");
    pg.psql(
        "big",
        "INSERT INTO events (kind, content_type, body_len, state, received_at, updated_at) \
         SELECT 'order', 'application/json', 0, 'done', g, g FROM generate_series(1, 200000) g; \
         ANALYZE events;",
    );
    let scans = || {
        pg.psql(
            "big",
            "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'events'",
        )
    };
    let before = scans();
    let inbox = Inbox::connect(&format!("{big}?application_name=backlog"))
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(inbox.backlog().await.unwrap().queued, 2);
    }
    // A backend's table statistics are written when it ends.
    drop(inbox);
    gone("backlog");
    assert_eq!(
        scans(),
        before,
        "reading the backlog walked the events table"
    );
}

/// `/metrics` reads the backlog at each scrape (a receiver without a
/// handler: stored events stay queued).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_backlog_at_each_scrape() {
    use receiver_support::*;
    let rx = start(&basic_config("")).await;
    let scrape = || async {
        rx.client
            .get(rx.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let gauge = |text: &str, name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
            .trim()
            .parse()
            .unwrap()
    };
    let text = scrape().await;
    assert_eq!(gauge(&text, "tradecloud_inbox_queued_events"), 0.0);
    assert_eq!(
        gauge(&text, "tradecloud_inbox_oldest_queued_age_seconds"),
        0.0
    );
    for message in ["a", "b"] {
        let response = rx
            .post(
                "/tradecloud/order",
                "application/json",
                order_event("o1", message, NewState::Received).body,
            )
            .await;
        assert_eq!(response.status(), 202);
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let text = scrape().await;
    assert_eq!(gauge(&text, "tradecloud_inbox_queued_events"), 2.0);
    let age = gauge(&text, "tradecloud_inbox_oldest_queued_age_seconds");
    assert!((1.0..60.0).contains(&age), "{age}");
    rx.stop().await;
}
