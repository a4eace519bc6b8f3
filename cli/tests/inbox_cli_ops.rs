//! `tradecloud inbox` as an operator uses it (issue 23): names from the
//! outside cannot drive the terminal (escape sequences, newlines, a
//! megabyte name), and `inbox replay` takes a whole state with filters.

use std::path::Path;
use std::process::{Command, Output};

use bytes::Bytes;
use tradecloud::inbox::{EventKind, Inbox, NewEvent, NewState, State};

fn tradecloud(cwd: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tradecloud"));
    cmd.current_dir(cwd).args(args);
    for var in ["TRADECLOUD_STORE_URL", "TRADECLOUD_CONFIG", "RUST_LOG"] {
        cmd.env_remove(var);
    }
    cmd.output().expect("run tradecloud")
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn event(name: &str, object_id: &str, message_id: &str) -> NewEvent {
    NewEvent {
        kind: EventKind::Order,
        event_name: Some(name.into()),
        object_id: Some(object_id.into()),
        message_id: Some(message_id.into()),
        content_type: "application/json".into(),
        // Bytes that are not valid JSON text: a raw ESC in a string.
        body: Bytes::from_static("{\"note\":\"\u{1b}[31mred\"}".as_bytes()),
        state: NewState::Received,
        source: None,
        headers: Vec::new(),
    }
}

#[tokio::test]
async fn names_from_the_outside_cannot_drive_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let url = format!("sqlite://{}", db.display());
    let inbox = Inbox::open(&url).unwrap();
    let hostile = "Order\u{1b}]0;pwned\u{7}\u{1b}[2J\nFAKE LINE\u{202e}";
    let huge = "N".repeat(1024 * 1024);
    let a = inbox
        .store(event(hostile, "o-\u{1b}[1mbold", "m-1"))
        .await
        .unwrap()
        .id();
    let b = inbox.store(event(&huge, "o-2", "m-2")).await.unwrap().id();
    drop(inbox);
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE events SET state = 'dead', error = 'ERP said\u{1b}[8m no' WHERE id = ?1",
            [a],
        )
        .unwrap();

    for args in [
        vec!["inbox", "list", "--store", &url],
        vec!["inbox", "dead", "--store", &url],
    ] {
        let out = ok(tradecloud(dir.path(), &args));
        assert!(
            !out.contains('\u{1b}'),
            "{args:?}: ESC reaches the terminal"
        );
        assert!(!out.contains('\u{202e}'), "{args:?}: a direction override");
        assert!(!out.contains("\nFAKE LINE"), "{args:?}: a newline");
        assert!(out.contains("\\u{1b}]0;pwned"), "{args:?}: {out}");
        assert!(out.len() < 10_000, "{args:?}: {} bytes", out.len());
    }
    let list = ok(tradecloud(dir.path(), &["inbox", "list", "--store", &url]));
    assert_eq!(
        list.lines().count(),
        3,
        "a header and one line per event:\n{list}"
    );
    assert!(
        list.contains("more characters)"),
        "the long name is cut: {list}"
    );

    for id in [a, b] {
        let out = ok(tradecloud(
            dir.path(),
            &["inbox", "show", &id.to_string(), "--store", &url],
        ));
        assert!(
            !out.contains('\u{1b}'),
            "show {id}: ESC reaches the terminal"
        );
        assert!(out.len() < 10_000, "show {id}: the name in full");
    }

    // JSON keeps the exact values.
    let json = ok(tradecloud(
        dir.path(),
        &["inbox", "list", "--json", "--store", &url],
    ));
    let names: Vec<String> = json
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["eventName"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names, vec![hostile.to_string(), huge.clone()]);
    let shown = ok(tradecloud(
        dir.path(),
        &["inbox", "show", &a.to_string(), "--json", "--store", &url],
    ));
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["eventName"], hostile);
    assert_eq!(shown["error"], "ERP said\u{1b}[8m no");
    let raw = tradecloud(
        dir.path(),
        &["inbox", "show", &a.to_string(), "--raw", "--store", &url],
    );
    assert!(raw.stdout.contains(&0x1b), "--raw is byte for byte");
}

fn json_of(out: String) -> serde_json::Value {
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn ids(value: &serde_json::Value, key: &str) -> Vec<i64> {
    value[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {value}"))
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn replay_takes_a_state_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let url = format!("sqlite://{}", db.display());
    let inbox = Inbox::open(&url).unwrap();
    let mut rejected = Vec::new();
    for i in 0..4 {
        let kind = if i % 2 == 0 {
            EventKind::Order
        } else {
            EventKind::Shipment
        };
        let id = inbox
            .store(NewEvent::rejected(
                kind,
                "application/json",
                Bytes::from_static(b"{"),
                "invalid JSON",
            ))
            .await
            .unwrap()
            .id();
        rejected.push(id);
    }
    let dead_auth = inbox
        .store(event("OrderIssuedByBuyer", "o-1", "m-1"))
        .await
        .unwrap()
        .id();
    let dead_other = inbox
        .store(event("OrderIssuedByBuyer", "o-2", "m-2"))
        .await
        .unwrap()
        .id();
    drop(inbox);
    let sql = rusqlite::Connection::open(&db).unwrap();
    // The first two rejected events arrived three days ago.
    let three_days_ago = chrono::Utc::now().timestamp_millis() - 3 * 24 * 3600 * 1000;
    for id in &rejected[..2] {
        sql.execute(
            "UPDATE events SET received_at = ?1 WHERE id = ?2",
            rusqlite::params![three_days_ago, id],
        )
        .unwrap();
    }
    sql.execute(
        "UPDATE events SET state = 'dead', error = 'Tradecloud rejected the credentials (401)' WHERE id = ?1",
        [dead_auth],
    )
    .unwrap();
    sql.execute(
        "UPDATE events SET state = 'dead', error = 'ERP refused the order' WHERE id = ?1",
        [dead_other],
    )
    .unwrap();
    drop(sql);
    let replay = |extra: &[&str]| {
        let mut args = vec!["inbox", "replay", "--store", url.as_str()];
        args.extend_from_slice(extra);
        tradecloud(dir.path(), &args)
    };

    // A dry run changes nothing.
    let dry = json_of(ok(replay(&[
        "--state",
        "rejected",
        "--since",
        "1d",
        "--dry-run",
        "--json",
    ])));
    assert_eq!(ids(&dry, "ids"), rejected[2..].to_vec());
    assert!(ids(&dry, "replayed").is_empty());
    let inbox = Inbox::open(&url).unwrap();
    for id in &rejected {
        assert_eq!(
            inbox.get(*id).await.unwrap().unwrap().summary.state,
            State::Rejected
        );
    }

    // --since and --kind.
    let done = json_of(ok(replay(&[
        "--state", "rejected", "--since", "1d", "--kind", "order", "--json",
    ])));
    assert_eq!(ids(&done, "replayed"), vec![rejected[2]]);
    // Everything received before a time, in the human form.
    let until = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let text = ok(replay(&["--state", "rejected", "--until", &until]));
    assert!(text.ends_with("replayed 2 rejected events\n"), "{text}");
    // --error-contains, ignoring case.
    let done = json_of(ok(replay(&[
        "--state",
        "dead",
        "--error-contains",
        "CREDENTIALS",
        "--json",
    ])));
    assert_eq!(ids(&done, "replayed"), vec![dead_auth]);

    let states: Vec<State> = futures_states(
        &inbox,
        &[rejected.clone(), vec![dead_auth, dead_other]].concat(),
    )
    .await;
    assert_eq!(
        states,
        vec![
            State::Received,
            State::Received,
            State::Received,
            State::Rejected,
            State::Received,
            State::Dead
        ]
    );

    // Refused: an id with --state, a state that cannot be replayed, a bad time.
    for args in [
        vec!["7", "--state", "dead"],
        vec!["--state", "received"],
        vec!["--state", "dead", "--since", "yesterday"],
        vec!["--since", "1d"],
    ] {
        let out = replay(&args);
        assert!(!out.status.success(), "{args:?} was accepted");
    }
}

async fn futures_states(inbox: &Inbox, ids: &[i64]) -> Vec<State> {
    let mut states = Vec::new();
    for id in ids {
        states.push(inbox.get(*id).await.unwrap().unwrap().summary.state);
    }
    states
}
