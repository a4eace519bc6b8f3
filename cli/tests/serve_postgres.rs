//! Two `tradecloud serve` processes on one PostgreSQL inbox (a throwaway
//! cluster, see `pg_support`; the store URL given through
//! `TRADECLOUD_STORE_URL`), events for 50 orders streaming to both from
//! several senders; one process is SIGKILLed mid-stream and started again.
//! Every event answered 2xx is stored exactly once and ends `done` (as
//! `tradecloud inbox list --json --state done` shows), and each order's
//! events finish in the order they were stored.
#![cfg(unix)]

use crate::pg_support;
use crate::receiver_support;
use crate::serve_pg_support;

use std::time::{Duration, Instant};
use tokio::process::Command;

use pg_support::PgCluster;
use receiver_support::*;
use serve_pg_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_postgres_lose_nothing_when_one_is_killed() {
    let pg = PgCluster::start();
    two_instances_lose_nothing_when_one_is_killed(
        env!("CARGO_BIN_EXE_tradecloud"),
        &pg.database("inbox"),
    )
    .await;
}

fn cli(exe: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(exe)
        .args(args)
        .env_remove("TRADECLOUD_STORE_URL")
        .output()
        .unwrap()
}

fn stdout_of(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_commands_work_on_postgres_after_a_migrate_from_sqlite() {
    use tradecloud::inbox::{EventKind, Inbox, NewEvent, State};
    use tradecloud::processing::{handler_fn, Event, HandlerError, Processor, ProcessorConfig};
    use tradecloud::webhook::{decode, Endpoint};

    let exe = env!("CARGO_BIN_EXE_tradecloud");
    let pg = PgCluster::start();
    let pg_url = pg.database("moved");
    let dir = tempfile::tempdir().unwrap();
    let sqlite_url = format!("sqlite://{}", dir.path().join("inbox.db").display());
    let template = String::from_utf8(fixture("order-webhook/order-event.json")).unwrap();
    {
        let inbox = Inbox::open(&sqlite_url).unwrap();
        for i in 0..6 {
            let text = body(&template, &format!("m-{i}"), &format!("o{}", i % 3));
            let parsed = decode(Endpoint::Order, "application/json", text.as_bytes()).unwrap();
            inbox
                .store(NewEvent::from_webhook(
                    &parsed,
                    "application/json",
                    text.into(),
                ))
                .await
                .unwrap();
        }
        inbox
            .store(NewEvent::rejected(
                EventKind::Order,
                "application/json",
                bytes::Bytes::from_static(b"{\"not\": \"an event\"\xff"),
                "invalid JSON body",
            ))
            .await
            .unwrap();
        // Orders o0 and o1 done, o2 dead.
        let handler = handler_fn(|event: Event, _ctx| async move {
            match event.meta().object_id.as_deref() {
                Some(id) if id.starts_with("o2") => Err(HandlerError::Permanent("no".into())),
                _ => Ok(()),
            }
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(
            Processor::new(inbox.clone(), handler, ProcessorConfig::default()).run(async {
                let _ = stopped.await;
            }),
        );
        let start = Instant::now();
        loop {
            let counts = inbox.counts().await.unwrap();
            let n = |s: State| counts.iter().find(|c| c.0 == s).map_or(0, |c| c.1);
            if n(State::Done) == 4 && n(State::Dead) == 2 {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "{counts:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = stop.send(());
        running.await.unwrap();
    }

    let out = stdout_of(&cli(
        exe,
        &[
            "inbox",
            "migrate",
            "--from",
            &sqlite_url,
            "--to",
            &pg_url,
            "--json",
        ],
    ));
    let copied: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(copied["events"], 7);
    // Into a non-empty inbox: refused, with the reason.
    let again = cli(
        exe,
        &["inbox", "migrate", "--from", &sqlite_url, "--to", &pg_url],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    let list = |store: &str| -> Vec<serde_json::Value> {
        stdout_of(&cli(exe, &["inbox", "list", "--json", "--store", store]))
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    assert_eq!(list(&pg_url), list(&sqlite_url));
    for event in list(&sqlite_url) {
        let id = event["id"].to_string();
        let a = cli(
            exe,
            &["inbox", "show", &id, "--raw", "--store", &sqlite_url],
        );
        let b = cli(exe, &["inbox", "show", &id, "--raw", "--store", &pg_url]);
        assert_eq!(a.stdout, b.stdout, "event {id} byte for byte");
    }
    let dead: Vec<serde_json::Value> =
        stdout_of(&cli(exe, &["inbox", "dead", "--json", "--store", &pg_url]))
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    assert_eq!(dead.len(), 2);
    let id = dead[0]["id"].to_string();
    let replayed = stdout_of(&cli(exe, &["inbox", "replay", &id, "--store", &pg_url]));
    assert!(replayed.contains("queued again as received"), "{replayed}");
    let purge = stdout_of(&cli(
        exe,
        &[
            "inbox",
            "purge",
            "--older-than",
            "0",
            "--dry-run",
            "--json",
            "--store",
            &pg_url,
        ],
    ));
    let purge: serde_json::Value = serde_json::from_str(&purge).unwrap();
    assert_eq!(purge["events"], 4);
}

/// POST an order event; the status and the `Retry-After` header.
async fn post_order(
    client: &reqwest::Client,
    url: &str,
    message_id: &str,
) -> (u16, Option<String>) {
    let body = format!(
        r#"{{"eventName":"OrderIssuedByBuyer","meta":{{"messageId":"{message_id}"}},"orderEvent":{{"orderId":"o-1"}}}}"#
    );
    let response = client
        .post(url)
        .basic_auth(USER, Some(PASSWORD))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (response.status().as_u16(), retry_after)
}

/// `/readyz`: the status and the answer's `detail`.
async fn readyz(client: &reqwest::Client, base: &str) -> (u16, String) {
    let response = client.get(format!("{base}/readyz")).send().await.unwrap();
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    (status, body["detail"].as_str().unwrap_or("").to_string())
}

async fn wait_ready(client: &reqwest::Client, base: &str, ready: bool, within: Duration) -> String {
    let start = Instant::now();
    loop {
        let (status, detail) = readyz(client, base).await;
        if (status == 200) == ready {
            return detail;
        }
        assert!(
            start.elapsed() < within,
            "/readyz still {status} after {within:?}: {detail}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Issue 23, item 6: PostgreSQL unreachable when `serve` starts. The
/// receiver starts anyway (its port answers), every webhook gets `503` +
/// `Retry-After`, `/readyz` says why and names `[store] url`, the log names
/// the store without its password; once PostgreSQL is up, events are stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_starts_while_postgres_is_down_and_stores_once_it_is_back() {
    let exe = env!("CARGO_BIN_EXE_tradecloud");
    let pg = PgCluster::start();
    pg.database("inbox");
    let store_url = format!(
        "postgres://postgres:not-for-logs-4711@127.0.0.1:{}/inbox",
        pg.port()
    );
    pg.stop_server();
    let dir = tempfile::tempdir().unwrap();
    let (config, cert) = serve_config(dir.path(), "");
    let mut command = Command::new(exe);
    command
        .args(["serve", "--receive-only", "--config"])
        .arg(&config)
        .env("TRADECLOUD_AUTH_PASSWORD", PASSWORD)
        .env("TRADECLOUD_STORE_URL", &store_url)
        .env("RUST_LOG", "info");
    let (_child, addr, log) = spawn_serve_logged(command, Duration::from_secs(60)).await;
    let client = client_for(&cert, addr);
    let base = format!("https://localhost:{}", addr.port());
    let order_url = format!("{base}/tradecloud/order");

    let (status, retry_after) = post_order(&client, &order_url, "m-1").await;
    assert_eq!(status, 503);
    assert!(retry_after.is_some(), "503 with Retry-After");
    let (status, detail) = readyz(&client, &base).await;
    assert_eq!(status, 503);
    assert!(
        detail.contains("[store] url") && detail.contains("could not be opened yet"),
        "{detail}"
    );
    {
        let log = log.lock().unwrap();
        let shown = format!("postgres://postgres:***@127.0.0.1:{}/inbox", pg.port());
        assert!(
            log.iter()
                .any(|l| l.contains("receiving Tradecloud webhooks") && l.contains(&shown)),
            "the startup log names the store: {log:#?}"
        );
        assert!(
            log.iter()
                .any(|l| l.contains("[store] url") && l.contains("503")),
            "{log:#?}"
        );
        assert!(
            !log.iter().any(|l| l.contains("not-for-logs-4711")),
            "no password in the log: {log:#?}"
        );
    }

    pg.start_server();
    wait_ready(&client, &base, true, Duration::from_secs(60)).await;
    let (status, _) = post_order(&client, &order_url, "m-1").await;
    assert_eq!(status, 202);
    let stored = inbox_list(exe, &store_url, None);
    assert_eq!(stored.len(), 1);
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("tradecloud_store_ready 1"), "{metrics}");
}

/// A gauge named in `/metrics`, parsed.
fn gauge(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} missing in\n{metrics}"))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{name}: {e}\n{metrics}"))
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// While PostgreSQL is unreachable the backlog gauges cannot be read and
/// keep their last values: `tradecloud_inbox_backlog_refreshed_timestamp_seconds`
/// stays at the last read, so that an alert sees how old they are instead
/// of a flat line; it follows the scrapes again once the server is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backlog_gauges_say_how_old_they_are_while_postgres_is_down() {
    const REFRESHED: &str = "tradecloud_inbox_backlog_refreshed_timestamp_seconds";
    let exe = env!("CARGO_BIN_EXE_tradecloud");
    let pg = PgCluster::start();
    let store_url = pg.database("inbox");
    let dir = tempfile::tempdir().unwrap();
    let (config, cert) = serve_config(dir.path(), "");
    let mut command = Command::new(exe);
    command
        .args(["serve", "--receive-only", "--config"])
        .arg(&config)
        .env("TRADECLOUD_AUTH_PASSWORD", PASSWORD)
        .env("TRADECLOUD_STORE_URL", &store_url);
    let (_child, addr, log) = spawn_serve_logged(command, Duration::from_secs(60)).await;
    let client = client_for(&cert, addr);
    let base = format!("https://localhost:{}", addr.port());
    let scrape = || async {
        client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let order_url = format!("{base}/tradecloud/order");
    assert_eq!(
        post_order(&client, &order_url, "m-1").await.0,
        202,
        "{log:#?}"
    );

    let before = unix_now();
    let metrics = scrape().await;
    let read = gauge(&metrics, REFRESHED);
    assert!(
        (before - 1.0..=unix_now() + 1.0).contains(&read),
        "{read} is not the time of the scrape ({before}):\n{metrics}"
    );
    assert_eq!(gauge(&metrics, "tradecloud_inbox_queued_events"), 1.0);

    pg.stop_server();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let metrics = scrape().await;
    // The last values read, and when they were read.
    assert_eq!(gauge(&metrics, "tradecloud_inbox_queued_events"), 1.0);
    assert_eq!(gauge(&metrics, REFRESHED), read, "{metrics}");
    assert!(unix_now() - gauge(&metrics, REFRESHED) >= 1.5, "{metrics}");

    pg.start_server();
    let start = Instant::now();
    loop {
        let metrics = scrape().await;
        if gauge(&metrics, REFRESHED) > read + 1.0 {
            assert_eq!(gauge(&metrics, "tradecloud_inbox_queued_events"), 1.0);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not read again after PostgreSQL came back:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Issue 23, item 7: PostgreSQL turned read-only (`default_transaction_read_only`,
/// as a failover can leave it): `/readyz` fails as every write does, and
/// `tradecloud_store_ready` says 0; both recover with the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_postgres_is_not_ready() {
    use tradecloud::inbox::Inbox;

    let pg = PgCluster::start();
    let url = pg.database("inbox");
    let inbox = Inbox::connect(&url).await.unwrap();
    let rx = start_with(&basic_config(""), |b| b.inbox(inbox.clone())).await;
    let base = format!("https://localhost:{}", rx.addr.port());
    let order_url = rx.url("/tradecloud/order");
    assert_eq!(post_order(&rx.client, &order_url, "m-1").await.0, 202);
    wait_ready(&rx.client, &base, true, Duration::from_secs(10)).await;
    assert!(rx.metrics.encode().contains("tradecloud_store_ready 1"));
    // Items 1-3 over HTTP: a 9,000-character message id with a NUL, a
    // 300 kB order id: stored (202), and known again (200).
    let long = serde_json::json!({
        "eventName": "OrderIssuedByBuyer",
        "meta": {"messageId": format!("{}\u{0}", "m".repeat(9_000))},
        "orderEvent": {"orderId": "o".repeat(300_000)}
    })
    .to_string();
    for expected in [202, 200] {
        let response = rx
            .post("/tradecloud/order", "application/json", long.clone())
            .await;
        assert_eq!(response.status().as_u16(), expected);
    }

    pg.psql_each(
        "inbox",
        &[
            "ALTER SYSTEM SET default_transaction_read_only = on",
            "SELECT pg_reload_conf()",
        ],
    );
    let detail = wait_ready(&rx.client, &base, false, Duration::from_secs(20)).await;
    assert!(
        detail.contains("does not accept writes") && detail.contains("read-only"),
        "{detail}"
    );
    let (status, retry_after) = post_order(&rx.client, &order_url, "m-2").await;
    assert_eq!(status, 503);
    assert!(retry_after.is_some());
    assert!(rx.metrics.encode().contains("tradecloud_store_ready 0"));

    pg.psql_each(
        "postgres",
        &[
            "SET default_transaction_read_only = off",
            "ALTER SYSTEM RESET default_transaction_read_only",
            "SELECT pg_reload_conf()",
        ],
    );
    wait_ready(&rx.client, &base, true, Duration::from_secs(20)).await;
    assert_eq!(post_order(&rx.client, &order_url, "m-2").await.0, 202);
    assert!(rx.metrics.encode().contains("tradecloud_store_ready 1"));
    rx.stop().await;
}
