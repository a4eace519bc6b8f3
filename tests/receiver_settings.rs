//! Receiver settings that shape its behaviour under load and over time,
//! each over real TLS on loopback with a real SQLite inbox: `[processing]`
//! drives the processor; connection limits answer 503 with Retry-After (and
//! close before TLS in a flood); slow clients are disconnected; old done
//! events are purged, and nothing else; `/metrics` can require a token.

#![cfg(feature = "receiver")]

use crate::receiver_support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use receiver_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tradecloud::inbox::{EventKind, Inbox, ListFilter, NewEvent, NewState};
use tradecloud::processing::{handler_fn, Event, HandlerError};

const ORDER: &str = "/tradecloud/order";

/// `[processing]` of the configuration file is what the processor runs
/// with: two attempts 20 ms apart make the event dead within a second (the
/// defaults, ten attempts from 1 s apart, would take many minutes).
#[tokio::test]
async fn processing_section_configures_the_processor() {
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let text = format!(
        "{}\n[processing]\nconcurrency = 2\nmax_attempts = 2\nbackoff_base_ms = 20\nbackoff_max_secs = 1\npoll_interval_ms = 50\n",
        basic_config("")
    );
    let rx = start_with(&text, move |b| {
        b.handler(handler_fn(move |_event: Event, _ctx| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(HandlerError::Transient("ERP down".into()))
            }
        }))
    })
    .await;
    let response = rx
        .post(
            ORDER,
            "application/json",
            fixture("order-webhook/order-event.json"),
        )
        .await;
    assert_eq!(response.status(), 202);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let dead = loop {
        let dead = rx.inbox.dead().await.unwrap();
        if !dead.is_empty() {
            break dead;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not dead after 10 s: {} handler calls",
            calls.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 2, "max_attempts = 2");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(dead[0].error.as_deref().unwrap_or("").contains("ERP down"));
    rx.stop().await;
}

// ---- connection limits and timeouts ----------------------------------------

/// GET /healthz on `stream` (HTTP/1.1, keep-alive): the response head, or
/// `None` when the server closed the connection instead.
async fn get_healthz(stream: &mut Tls) -> Option<String> {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .ok()?;
    let text = read_response(stream, Duration::from_secs(10)).await.ok()?;
    (!text.is_empty()).then_some(text)
}

/// Whether the server closes `stream` within `within` (reads EOF or an error).
async fn closed_within(stream: &mut (impl AsyncReadExt + Unpin), within: Duration) -> bool {
    let mut buf = [0u8; 256];
    matches!(
        tokio::time::timeout(within, stream.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

/// A connection over `max_connections_per_ip` (or `max_connections`) is
/// answered 503 with Retry-After and closed, never left hanging or reset
/// before an answer; once a slot frees up, connections are served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limits_get_503_and_retry_after() {
    for limits in [
        "max_connections = 10\nmax_connections_per_ip = 2",
        "max_connections = 2\nmax_connections_per_ip = 0",
    ] {
        let rx = start(&basic_config(limits)).await;
        let mut first = tls_connect(&rx).await.unwrap();
        let mut second = tls_connect(&rx).await.unwrap();
        let head = get_healthz(&mut first).await.unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{limits}: {head}");
        assert!(get_healthz(&mut second)
            .await
            .unwrap()
            .starts_with("HTTP/1.1 200"));

        let mut third = tls_connect(&rx).await.unwrap();
        let head = get_healthz(&mut third)
            .await
            .expect("an answer, not a reset");
        assert!(head.starts_with("HTTP/1.1 503"), "{limits}: {head}");
        let lower = head.to_ascii_lowercase();
        assert!(lower.contains("retry-after: 1"), "{head}");
        assert!(lower.contains("connection: close"), "{head}");
        assert!(closed_within(&mut third, Duration::from_secs(5)).await);
        assert!(rx
            .metrics
            .encode()
            .contains("tradecloud_connections_limited_total{action=\"answered_503\"} 1"));

        // The two served connections stay usable (keep-alive).
        assert!(get_healthz(&mut first)
            .await
            .unwrap()
            .starts_with("HTTP/1.1 200"));
        // A slot frees up when a connection closes.
        drop(second);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let mut next = tls_connect(&rx).await.unwrap();
            let head = get_healthz(&mut next).await.unwrap_or_default();
            if head.starts_with("HTTP/1.1 200") {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no slot after a close: {head}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        drop(first);
        rx.stop().await;
    }
}

/// In a flood (the slots and the overflow that is answered 503 are all
/// taken), further connections are closed at once, before any TLS work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_flood_is_closed_before_tls() {
    let max = 2;
    let overflow = tradecloud::receiver::overflow_limit(max);
    let rx = start(&basic_config(&format!(
        "max_connections = {max}\nhandshake_timeout_secs = 30"
    )))
    .await;
    // Silent TCP connections hold a slot each until their handshake times out.
    let mut held = Vec::new();
    for _ in 0..max + overflow {
        held.push(TcpStream::connect(rx.addr).await.unwrap());
    }
    // Accepted in order: wait until the server has seen them all.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !rx
        .metrics
        .encode()
        .contains(&format!("tradecloud_connections_open {}", max + overflow))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}",
            rx.metrics.encode()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = std::time::Instant::now();
    let Err(err) = tls_connect(&rx).await else {
        panic!("a TLS handshake in a flood")
    };
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed at once, not after the handshake timeout ({err})"
    );
    assert!(rx
        .metrics
        .encode()
        .contains("tradecloud_connections_limited_total{action=\"closed\"} 1"));
    drop(held);
    rx.stop().await;
}

/// Slowloris: a client that never finishes its handshake, never sends a
/// request after it, sends half a request, or idles after a request, is
/// disconnected after the configured timeouts, and its slot is freed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_disconnected_and_free_their_slot() {
    let rx = start(&basic_config(
        "max_connections = 1\nmax_connections_per_ip = 0\nhandshake_timeout_secs = 1\nheader_read_timeout_secs = 1\nidle_timeout_secs = 2",
    ))
    .await;
    let limit = Duration::from_secs(4);

    // No TLS handshake at all.
    let mut tcp = TcpStream::connect(rx.addr).await.unwrap();
    assert!(closed_within(&mut tcp, limit).await, "silent TCP");

    // Handshake, then nothing: holds the only slot until the header timeout.
    let mut silent = tls_connect(&rx).await.unwrap();
    let connected = std::time::Instant::now();
    let mut other = tls_connect(&rx).await.unwrap();
    let head = get_healthz(&mut other).await.unwrap();
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    assert!(closed_within(&mut silent, limit).await, "silent after TLS");
    assert!(connected.elapsed() >= Duration::from_millis(500));
    let mut next = tls_connect(&rx).await.unwrap();
    let head = get_healthz(&mut next).await.unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "slot freed: {head}");

    // Idle after a request.
    assert!(
        closed_within(&mut next, limit).await,
        "idle after a request"
    );

    // Half a request header.
    let mut partial = tls_connect(&rx).await.unwrap();
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: local")
        .await
        .unwrap();
    assert!(closed_within(&mut partial, limit).await, "partial header");
    rx.stop().await;
}

// ---- inbox retention -------------------------------------------------------

const DAY_MS: i64 = 86_400_000;

/// Store `n` order events with message ids `{prefix}-{i}`; their ids.
async fn store_events(inbox: &Inbox, prefix: &str, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        let body = format!(
            r#"{{"eventName":"OrderIssuedByBuyer","meta":{{"messageId":"{prefix}-{i}"}},"orderEvent":{{"orderId":"o-{i}"}}}}"#
        );
        let stored = inbox
            .store(NewEvent {
                kind: EventKind::Order,
                event_name: Some("OrderIssuedByBuyer".into()),
                object_id: Some(format!("o-{i}")),
                message_id: Some(format!("{prefix}-{i}")),
                content_type: "application/json".into(),
                body: body.into_bytes().into(),
                state: NewState::Received,
                source: None,
                headers: Vec::new(),
            })
            .await
            .unwrap();
        ids.push(stored.id());
    }
    ids
}

/// Put event `id` in `state`, last updated `days` days ago, as a processor
/// would have long ago (straight in the SQLite file).
fn age(db: &std::path::Path, id: i64, state: &str, days: i64) {
    let now = chrono::Utc::now().timestamp_millis();
    rusqlite::Connection::open(db)
        .unwrap()
        .execute(
            "UPDATE events SET state = ?2, updated_at = ?3, received_at = ?3 WHERE id = ?1",
            rusqlite::params![id, state, now - days * DAY_MS],
        )
        .unwrap();
}

async fn remaining(inbox: &Inbox) -> Vec<i64> {
    inbox
        .list(ListFilter {
            limit: Some(1000),
            ..ListFilter::default()
        })
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect()
}

/// `Inbox::purge` deletes only `done` events handled before the cutoff, in
/// batches; never events to be handled, dead or rejected ones, however old.
#[tokio::test]
async fn purge_deletes_only_old_done_events() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let inbox = Inbox::open(&format!("sqlite://{}", db.display())).unwrap();
    let ids = store_events(&inbox, "m", 7).await;
    // ids[0]: received, untouched.
    age(&db, ids[1], "done", 40);
    age(&db, ids[2], "done", 10); // within the retention
    age(&db, ids[3], "dead", 400);
    age(&db, ids[4], "rejected", 400);
    age(&db, ids[5], "retrying", 400);
    age(&db, ids[6], "trigger", 400);
    // More old done events than one batch.
    let many = store_events(&inbox, "bulk", tradecloud::inbox::PURGE_BATCH + 3).await;
    for id in &many {
        age(&db, *id, "done", 31);
    }

    let cutoff = chrono::Utc::now() - chrono::Duration::days(30);
    let dry = inbox.purge(cutoff, true).await.unwrap();
    assert_eq!(dry.events, 1 + many.len() as u64);
    assert!(dry.body_bytes > 0);
    assert_eq!(
        remaining(&inbox).await.len(),
        7 + many.len(),
        "a dry run deletes nothing"
    );

    let purged = inbox.purge(cutoff, false).await.unwrap();
    assert_eq!(purged, dry);
    let mut expected: Vec<i64> = ids.clone();
    expected.remove(1);
    assert_eq!(remaining(&inbox).await, expected);
    assert_eq!(inbox.purge(cutoff, false).await.unwrap().events, 0);
    // A redelivery of a purged message id is a new event (documented).
    let again = store_events(&inbox, "m", 2).await;
    assert_ne!(again[1], ids[1]);
    assert_eq!(again[0], ids[0], "a kept message id still dedupes");
}

/// With `[store] retention_days`, the receiver purges at start (and hourly).
#[tokio::test]
async fn receiver_purges_done_events_past_the_retention() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let inbox = Inbox::open(&format!("sqlite://{}", db.display())).unwrap();
    let ids = store_events(&inbox, "r", 3).await;
    age(&db, ids[0], "done", 8);
    age(&db, ids[1], "done", 2);
    age(&db, ids[2], "dead", 8);
    let text = format!("{}\n[store]\nretention_days = 7\n", basic_config(""));
    let own = inbox.clone();
    let rx = start_with(&text, move |b| b.inbox(own)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while remaining(&inbox).await.len() == 3 {
        assert!(tokio::time::Instant::now() < deadline, "not purged");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(remaining(&inbox).await, vec![ids[1], ids[2]]);
    assert!(rx
        .metrics
        .encode()
        .contains("tradecloud_inbox_purged_total 1"));
    rx.stop().await;

    // TRADECLOUD_STORE_RETENTION_DAYS overrides the file.
    let c = tradecloud::receiver::Config::from_parts(
        Some(&text),
        "t",
        vec![("TRADECLOUD_STORE_RETENTION_DAYS".into(), "0".into())],
    )
    .unwrap();
    assert_eq!(c.store.retention_days, Some(0), "0 keeps everything");
}

// ---- /metrics --------------------------------------------------------------

/// With `server.metrics_token`, /metrics needs that Bearer token (not the
/// webhook credentials); without it /metrics stays open; `metrics = false`
/// removes it.
#[tokio::test]
async fn metrics_token_protects_metrics() {
    let rx = start(&basic_config("metrics_token = \"scrape-me\"")).await;
    let get = |auth: Option<&str>| {
        let mut request = rx.client.get(rx.url("/metrics"));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        async move { request.send().await.unwrap() }
    };
    for (auth, case) in [
        (None, "no token"),
        (Some("Bearer scrape-m"), "wrong token"),
        (Some("Bearer scrape-me2"), "longer token"),
        (
            Some("Basic dHJhZGVjbG91ZDpjb3JyZWN0IGhvcnNlIGJhdHRlcnkgc3RhcGxl"),
            "webhook credentials",
        ),
    ] {
        let response = get(auth).await;
        assert_eq!(response.status(), 401, "{case}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"tradecloud-metrics\"",
            "{case}"
        );
    }
    let response = get(Some("Bearer scrape-me")).await;
    assert_eq!(response.status(), 200);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("tradecloud_connections_open"));
    // The other operational endpoints stay open (load balancer probes).
    let health = rx.client.get(rx.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    rx.stop().await;

    let rx = start(&basic_config("")).await;
    let response = rx.client.get(rx.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200, "open without a token");
    rx.stop().await;
    let rx = start(&basic_config("metrics = false")).await;
    let response = rx.client.get(rx.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    rx.stop().await;

    // From the environment or a file, like every secret.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("metrics-token");
    std::fs::write(&file, "from-file\n").unwrap();
    let c = tradecloud::receiver::Config::from_parts(
        Some(&format!(
            "[server]\nmetrics_token_file = {:?}\n",
            file.display().to_string()
        )),
        "t",
        Vec::new(),
    )
    .unwrap();
    assert_eq!(c.server.metrics_token.unwrap().expose(), "from-file");
    let c = tradecloud::receiver::Config::from_parts(
        Some(&format!(
            "[server]\nmetrics_token_file = {:?}\n",
            file.display().to_string()
        )),
        "t",
        vec![("TRADECLOUD_SERVER_METRICS_TOKEN".into(), "from-env".into())],
    )
    .unwrap();
    assert_eq!(c.server.metrics_token.unwrap().expose(), "from-env");
}
