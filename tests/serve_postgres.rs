//! Two `tradecloud serve` processes on one PostgreSQL inbox (a throwaway
//! cluster, see `pg_support`; the store URL given through
//! `TRADECLOUD_STORE_URL`), events for 50 orders streaming to both from
//! several senders; one process is SIGKILLed mid-stream and started again.
//! Every event answered 2xx is stored exactly once and ends `done` (as
//! `tradecloud inbox list --json --state done` shows), and each order's
//! events finish in the order they were stored.
#![cfg(all(feature = "postgres", unix))]

mod pg_support;
mod receiver_support;
mod serve_pg_support;

use std::time::{Duration, Instant};

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
