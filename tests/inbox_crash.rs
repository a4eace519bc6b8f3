//! Durability under SIGKILL: a child process (this test binary, re-run with
//! an environment variable) stores events from many tasks and prints each
//! one whose `store` returned `Ok`; it is killed mid-stream, and every
//! printed event must be in the database, intact.
#![cfg(all(feature = "receiver", unix))]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::Arc;

use bytes::Bytes;
use tradecloud::inbox::{EventKind, Inbox, NewEvent, NewState, State};

const CHILD_DB: &str = "TRADECLOUD_INBOX_CRASH_CHILD_DB";

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

#[test]
fn sigkill_mid_stream_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.db");
    let mut acknowledged: Vec<(String, i64)> = Vec::new();

    // Two crashes in a row, the second on the file the first one left.
    for (round, kill_after) in [(0, 2500usize), (1, 1500)] {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "crash_child_stores_until_killed",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
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
