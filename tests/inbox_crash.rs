//! Durability under SIGKILL: a child process (this test binary, re-run with
//! an environment variable) stores events from many tasks and prints each
//! one whose `store` returned `Ok`; it is killed mid-stream, and every
//! printed event must be in the database, intact.
//!
//! And processing under a handler that kills its process: a child runs a
//! processor whose handler aborts on one event, and is started again on the
//! same inbox after each crash; that event must end `dead`, and every other
//! one `done`, counted once.
#![cfg(all(feature = "receiver", unix))]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::Arc;

use bytes::Bytes;
use tradecloud::inbox::{EventKind, Inbox, NewEvent, NewState, State};
use tradecloud::processing::{handler_fn, Processor, ProcessorConfig};

// PostgreSQL clusters for the processing test (the helpers of `integration`).
#[path = "pg_support/mod.rs"]
mod pg_support;
#[path = "port_support/mod.rs"]
mod port_support;
#[path = "processing_support/mod.rs"]
mod processing_support;

use processing_support::order_event;

const CHILD_DB: &str = "TRADECLOUD_INBOX_CRASH_CHILD_DB";
const PROCESS_URL: &str = "TRADECLOUD_INBOX_CRASH_PROCESS_URL";
const HANDLER_MS: &str = "TRADECLOUD_INBOX_CRASH_HANDLER_MS";
const MAX_ATTEMPTS: &str = "TRADECLOUD_INBOX_CRASH_MAX_ATTEMPTS";

/// The child's side: store until killed. Does nothing in a normal test run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child_stores_until_killed() {
    let Ok(path) = std::env::var(CHILD_DB) else {
        return;
    };
    let inbox = Inbox::open(&format!("sqlite://{path}")).expect("open inbox");
    let out = Arc::new(std::sync::Mutex::new(()));
    let mut tasks = Vec::new();
    for task in 0..48 {
        let inbox = inbox.clone();
        let out = out.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0u64.. {
                let message_id = format!("m-{}-{task}-{i}", std::process::id());
                let order_id = format!("o-{}", task % 10);
                let body = format!(
                    r#"{{"eventName":"OrderLinesConfirmedBySupplier","meta":{{"messageId":"{message_id}"}},"orderEvent":{{"orderId":"{order_id}"}},"padding":"{}"}}"#,
                    "p".repeat(2900)
                );
                let event = NewEvent {
                    kind: EventKind::Order,
                    event_name: Some("OrderLinesConfirmedBySupplier".into()),
                    object_id: Some(order_id),
                    message_id: Some(message_id.clone()),
                    content_type: "application/json".into(),
                    body: Bytes::from(body),
                    state: NewState::Received,
                    source: None,
                    headers: Vec::new(),
                };
                match inbox.store(event).await {
                    Ok(stored) => {
                        assert!(!stored.is_duplicate());
                        let _guard = out.lock().unwrap();
                        let mut stdout = std::io::stdout().lock();
                        writeln!(stdout, "STORED {message_id} {}", stored.id()).unwrap();
                        stdout.flush().unwrap();
                    }
                    Err(e) => eprintln!("store failed: {e}"),
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// This test binary run as a child process that runs only the test `name`
/// (one of the `crash_child_*` ones, which do nothing in a normal run).
fn child(name: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args([name, "--exact", "--nocapture", "--test-threads=1"]);
    command
}

#[test]
fn sigkill_mid_stream_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let mut acknowledged: Vec<(String, i64)> = Vec::new();

    // Two crashes in a row, the second on the file the first one left.
    for (round, kill_after) in [(0, 2500usize), (1, 1500)] {
        let mut child = child("crash_child_stores_until_killed")
            .env(CHILD_DB, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the child");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut this_round = 0;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("STORED ") {
                let (message, id) = rest.split_once(' ').unwrap();
                acknowledged.push((message.to_string(), id.parse().unwrap()));
                this_round += 1;
                if this_round == kill_after {
                    child.kill().unwrap(); // SIGKILL
                    break;
                }
            }
        }
        // Lines the child wrote before it died were acknowledged too.
        for line in lines {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("STORED ") {
                let (message, id) = rest.split_once(' ').unwrap();
                acknowledged.push((message.to_string(), id.parse().unwrap()));
            }
        }
        let status = child.wait().unwrap();
        assert_eq!(
            status.signal(),
            Some(9),
            "round {round}: the child must die by SIGKILL, not exit: {status:?}"
        );
    }

    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    // Each acknowledged event read back through the store (which gives a
    // body stored compressed back as received).
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let inbox = Inbox::open(&format!("sqlite://{}", path.display())).expect("reopen the inbox");
    let mut missing = Vec::new();
    for (message, id) in &acknowledged {
        match runtime.block_on(inbox.get(*id)).expect("a readable event") {
            Some(event) => {
                assert_eq!(
                    event.summary.message_id.as_deref(),
                    Some(message.as_str()),
                    "event {id}"
                );
                assert_eq!(event.summary.state, State::Received);
                assert_eq!(event.summary.body_len, event.body.len() as u64);
                let json: serde_json::Value =
                    serde_json::from_slice(&event.body).expect("an intact body");
                assert_eq!(json["meta"]["messageId"], message.as_str());
            }
            None => missing.push((message.clone(), *id)),
        }
    }
    assert!(
        missing.is_empty(),
        "{} acknowledged events lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(acknowledged.len() >= 4000);
    let count: i64 = conn
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert!(count as usize >= acknowledged.len());
}

/// The processing child: hands the inbox's events on, aborting the process
/// on the event with message id `poison`; exits once nothing is left to
/// do. Does nothing in a normal test run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child_processes_until_settled() {
    let Ok(url) = std::env::var(PROCESS_URL) else {
        return;
    };
    let inbox = Inbox::connect(&url).await.expect("open inbox");
    // Set by the kill -9 test: a handler that takes a while, and room for
    // events that happen to be handed on alone when a kill comes.
    let setting = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let delay = setting(HANDLER_MS).unwrap_or(0);
    let handler = handler_fn(move |event, _ctx| async move {
        if delay > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        }
        if event.meta().message_id.as_deref() == Some("poison") {
            // A handler that kills the process: a panic with
            // panic = "abort", a crash in native code, the OOM killer.
            std::process::abort();
        }
        Ok(())
    });
    let config = ProcessorConfig {
        concurrency: 4,
        max_attempts: setting(MAX_ATTEMPTS).map_or(2, |n| n as u32),
        backoff_base: std::time::Duration::from_millis(10),
        backoff_max: std::time::Duration::from_millis(20),
        poll_interval: std::time::Duration::from_millis(20),
        lease: std::time::Duration::from_secs(1),
        ..ProcessorConfig::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(Processor::new(inbox.clone(), handler, config).run(async {
        let _ = stopped.await;
    }));
    loop {
        let counts = inbox.counts().await.expect("counts");
        let open: u64 = counts
            .iter()
            .filter(|(state, _)| {
                matches!(state, State::Received | State::Processing | State::Retrying)
            })
            .map(|(_, n)| n)
            .sum();
        if open == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    running.await.expect("processor stops");
}

/// Runs the processing child on `url` until it exits by itself; returns
/// how many times it died by SIGABRT first.
fn process_until_settled(url: &str) -> usize {
    let mut crashes = 0;
    for _ in 0..8 {
        let status = child("crash_child_processes_until_settled")
            .env(PROCESS_URL, url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run the child");
        if status.success() {
            return crashes;
        }
        assert_eq!(
            status.signal(),
            Some(6),
            "the child either finishes or aborts in the handler: {status:?}"
        );
        crashes += 1;
    }
    panic!("the process died on the same event at every start ({crashes} times): it was never set aside");
}

/// Stores a poison event between others of its order (claimed in one run
/// with them) and events of another order, runs the child until it
/// finishes, and checks the outcome; the poison event's error says
/// `expected` (what the store can tell of the interruptions).
fn a_handler_that_kills_the_process_is_isolated_on(url: &str, expected: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let inbox = runtime.block_on(Inbox::connect(url)).expect("open inbox");
    let mut ids = Vec::new();
    for (order, message) in [
        ("o-1", "a-1"),
        ("o-1", "poison"),
        ("o-1", "a-3"),
        ("o-2", "b-1"),
        ("o-2", "b-2"),
        ("o-3", "c-1"),
    ] {
        let stored = runtime
            .block_on(inbox.store(order_event(order, message)))
            .unwrap();
        ids.push((message, stored.id()));
    }

    let crashes = process_until_settled(url);
    // Once where nothing was recorded (the run's claim is not blamed on
    // any of its events), once handed on with the others it interrupted
    // (which tells which of them were in a handler, none blamed), then
    // max_attempts (2) times handed on alone.
    assert_eq!(crashes, 4);

    for (message, id) in ids {
        let event = runtime.block_on(inbox.get(id)).unwrap().unwrap().summary;
        let attempts: Vec<&str> = runtime
            .block_on(inbox.attempts(id))
            .unwrap()
            .iter()
            .map(|a| a.outcome.as_str())
            .collect();
        if message == "poison" {
            assert_eq!(event.state, State::Dead, "{event:?}");
            let error = event.error.unwrap_or_default();
            assert!(
                error.contains(expected)
                    && error.contains(&format!("tradecloud inbox replay {id}")),
                "{error}"
            );
            assert_eq!(attempts, vec!["interrupted", "interrupted", "dead"]);
            assert_eq!(event.attempts, 3);
        } else {
            assert_eq!(event.state, State::Done, "{message}: {event:?}");
            assert_eq!(
                (event.attempts, attempts),
                (1, vec!["done"]),
                "{message}: counted once"
            );
        }
    }
}

#[test]
fn a_handler_that_kills_the_process_is_isolated_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
    a_handler_that_kills_the_process_is_isolated_on(
        &url,
        "the process died 2 times in a row while the handler ran this event alone",
    );
}

/// A claim left on a SQLite file by a process that died in a handler:
/// `held` from a read-only opening (`tradecloud inbox show`) says not held
/// while no store that may claim has the file open, and held while one has
/// (here the test's own, opened after the crash: its processor would free
/// the claim first).
#[test]
fn a_claim_left_by_a_crash_is_held_only_while_a_store_has_the_file_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let inbox = runtime.block_on(Inbox::connect(&url)).expect("open inbox");
    let id = runtime
        .block_on(inbox.store(order_event("o-1", "poison")))
        .unwrap()
        .id();
    drop(inbox);
    let status = child("crash_child_processes_until_settled")
        .env(PROCESS_URL, &url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run the child");
    assert_eq!(status.signal(), Some(6), "died in the handler: {status:?}");

    let reading = runtime
        .block_on(Inbox::connect_reading(&url, Default::default()))
        .expect("open inbox for reading");
    let event = runtime.block_on(reading.get(id)).unwrap().unwrap().summary;
    assert_eq!(event.state, State::Processing);
    assert!(
        !runtime.block_on(reading.held(id)).unwrap(),
        "left by a process that died"
    );

    let again = runtime.block_on(Inbox::connect(&url)).expect("open inbox");
    assert!(runtime.block_on(reading.held(id)).unwrap());
    assert!(runtime.block_on(again.held(id)).unwrap());
    drop(again);
    assert!(!runtime.block_on(reading.held(id)).unwrap());
}

/// On PostgreSQL the restarted child takes the events over once the dead
/// one's lease (1 s) has run out; all it can tell is that the lease ran
/// out (the instance died, or stalled or lost its database connection).
#[test]
fn a_handler_that_kills_the_process_is_isolated_postgres() {
    let pg = pg_support::PgCluster::start();
    let url = pg.database("inbox");
    a_handler_that_kills_the_process_is_isolated_on(
        &url,
        "the lease on this event ran out 2 times while the handler ran it alone",
    );
}

/// `processes` processes on one inbox under load, one of them killed with
/// SIGKILL `kills` times in a row (mid-batch, mid-takeover, mid-recovery, while
/// interrupted events are handed on alone) and started again: every event
/// ends `done`, its attempts the attempts recorded, and the processes
/// settle by themselves (none stops making progress).
fn kill_9_in_a_row_loses_and_blames_nothing_on(url: &str, processes: usize, kills: usize) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let inbox = runtime.block_on(Inbox::connect(url)).expect("open inbox");
    let mut ids = Vec::new();
    for i in 0..15 {
        for o in 0..200 {
            let stored = runtime
                .block_on(inbox.store(order_event(&format!("o-{o}"), &format!("m-{o}-{i}"))))
                .unwrap();
            ids.push(stored.id());
        }
    }
    let spawn = || {
        child("crash_child_processes_until_settled")
            .env(PROCESS_URL, url)
            .env(HANDLER_MS, "10")
            .env(MAX_ATTEMPTS, "10")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run the child")
    };
    let mut children: Vec<_> = (0..processes).map(|_| spawn()).collect();
    for round in 0..kills {
        std::thread::sleep(std::time::Duration::from_millis(
            300 + 150 * (round as u64 % 4),
        ));
        let victim = round % processes;
        let _ = children[victim].kill();
        let _ = children[victim].wait();
        children[victim] = spawn();
    }
    // A generous bound, only so that a hang fails instead of blocking.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    for mut child in children {
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "a child failed: {status:?}");
                break;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let counts = runtime.block_on(inbox.counts()).unwrap();
                panic!("the processes stopped making progress: {counts:?}");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    let mut wrong = Vec::new();
    for id in ids {
        let event = runtime.block_on(inbox.get(id)).unwrap().unwrap().summary;
        let attempts = runtime.block_on(inbox.attempts(id)).unwrap();
        if event.state != State::Done || event.attempts as usize != attempts.len() {
            let outcomes: Vec<&str> = attempts.iter().map(|a| a.outcome.as_str()).collect();
            wrong.push(format!(
                "{id}: {} attempts {} {outcomes:?}",
                event.state, event.attempts
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} events wrong, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
}

#[test]
fn kill_9_in_a_row_loses_and_blames_nothing_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
    kill_9_in_a_row_loses_and_blames_nothing_on(&url, 1, 6);
}

/// One of three processes on one PostgreSQL inbox killed at a time.
#[test]
fn kill_9_in_a_row_of_one_of_three_processes_loses_and_blames_nothing_postgres() {
    let pg = pg_support::PgCluster::start();
    let url = pg.database("inbox");
    kill_9_in_a_row_loses_and_blames_nothing_on(&url, 3, 12);
}
