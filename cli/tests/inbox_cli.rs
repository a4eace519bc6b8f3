//! `tradecloud inbox ...`, run as a separate process on a real inbox file.

use std::path::Path;
use std::process::{Command, Output};

use bytes::Bytes;
use tradecloud::inbox::{EventKind, Inbox, NewEvent, NewState};

fn tradecloud(cwd: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tradecloud"));
    cmd.current_dir(cwd).args(args);
    for var in ["TRADECLOUD_STORE_URL", "TRADECLOUD_CONFIG", "RUST_LOG"] {
        cmd.env_remove(var);
    }
    cmd
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run tradecloud");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

#[tokio::test]
async fn list_show_replay_and_dead() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("events.db");
    let url = format!("sqlite://{}", db.display());
    let inbox = Inbox::open(&url).unwrap();
    let order_body = Bytes::from_static(
        br#"{"eventName":"OrderIssuedByBuyer","meta":{"messageId":"m-1"},"orderEvent":{"orderId":"o-1"}}"#,
    );
    let order = inbox
        .store(
            NewEvent {
                kind: EventKind::Order,
                event_name: Some("OrderIssuedByBuyer".into()),
                object_id: Some("o-1".into()),
                message_id: Some("m-1".into()),
                content_type: "application/json".into(),
                body: order_body.clone(),
                state: NewState::Received,
                source: Some("POST /tradecloud/order".into()),
                headers: Vec::new(),
            }
            .with_headers([
                ("User-Agent", "Tradecloud"),
                ("Authorization", "Basic dHJhZGVjbG91ZDpzM2NyZXQ="),
                ("X-Note", "a \u{1b}[31m escape"),
            ]),
        )
        .await
        .unwrap()
        .id();
    let binary = Bytes::from_static(b"\x00\x01\xffnot json\r\n\xfe");
    let rejected = inbox
        .store(NewEvent::rejected(
            EventKind::OrderDocuments,
            "application/octet-stream",
            binary.clone(),
            "unsupported content type",
        ))
        .await
        .unwrap()
        .id();
    let shipment = inbox
        .store(NewEvent::trigger(EventKind::Shipment, "s-1"))
        .await
        .unwrap()
        .id();
    drop(inbox);
    // Make the order dead, as a processor would have.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE events SET state = 'dead', error = 'ERP said no' WHERE id = ?1",
            [order],
        )
        .unwrap();
    // With the attempts a processor would have recorded.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(&format!(
            "INSERT INTO event_attempts (event_id, started_at, finished_at, instance, outcome, error) \
             VALUES ({order}, 1700000000000, 1700000001250, 'p-1', 'retry', 'ERP timed out'), \
                    ({order}, 1700000060000, 1700000060500, 'p-1', 'dead', 'ERP said no');"
        ))
        .unwrap();

    // list --json: one object per line with the documented keys.
    let out = run(
        tradecloud(dir.path(), &["inbox", "list", "--json", "--store", &url]).env("NO_COLOR", "1"),
    );
    let events = json_lines(&out);
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["id"], order);
    assert_eq!(events[0]["kind"], "order");
    assert_eq!(events[0]["eventName"], "OrderIssuedByBuyer");
    assert_eq!(events[0]["orderId"], "o-1");
    assert_eq!(events[0]["messageId"], "m-1");
    assert_eq!(events[0]["state"], "dead");
    assert_eq!(events[0]["error"], "ERP said no");
    assert!(events[0]["receivedAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(events[1]["kind"], "orderDocuments");
    assert_eq!(events[1]["state"], "rejected");
    assert_eq!(events[2]["kind"], "shipment");
    assert_eq!(events[2]["shipmentId"], "s-1");
    assert_eq!(events[2]["state"], "trigger");

    let out = run(&mut tradecloud(
        dir.path(),
        &[
            "inbox", "list", "--json", "--state", "rejected", "--store", &url,
        ],
    ));
    assert_eq!(
        json_lines(&out)
            .iter()
            .map(|e| e["id"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        vec![rejected]
    );
    let out = run(&mut tradecloud(
        dir.path(),
        &["inbox", "list", "--json", "--limit", "1", "--store", &url],
    ));
    assert_eq!(json_lines(&out)[0]["id"], shipment);
    let out = run(&mut tradecloud(
        dir.path(),
        &["inbox", "list", "--store", &url],
    ));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.starts_with("      ID  STATE"), "{table}");
    assert!(
        table.contains("OrderIssuedByBuyer") && table.contains("ERP said no"),
        "{table}"
    );

    // show --raw: the exact bytes, nothing else.
    let out = run(&mut tradecloud(
        dir.path(),
        &[
            "inbox",
            "show",
            &rejected.to_string(),
            "--raw",
            "--store",
            &url,
        ],
    ));
    assert_eq!(out.stdout, binary.to_vec());
    let out = run(&mut tradecloud(
        dir.path(),
        &[
            "inbox",
            "show",
            &order.to_string(),
            "--raw",
            "--store",
            &url,
        ],
    ));
    assert_eq!(out.stdout, order_body.to_vec());
    let out = run(&mut tradecloud(
        dir.path(),
        &["inbox", "show", &order.to_string(), "--store", &url],
    ));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("state:         dead") && text.contains("orderId:       o-1"),
        "{text}"
    );
    // The request headers, credentials redacted, control characters escaped.
    assert!(
        text.contains(
            "request headers (3):\n  user-agent: Tradecloud\n  authorization: Basic [redacted]\n"
        ),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}') && !text.contains("dHJhZGVjbG91ZDpzM2NyZXQ="),
        "{text}"
    );
    let timed_out = text
        .find("processing attempts (2):")
        .unwrap_or_else(|| panic!("{text}"));
    let first = text
        .find("1.250 s  retry      p-1  ERP timed out")
        .unwrap_or_else(|| panic!("{text}"));
    let second = text
        .find("0.500 s  dead       p-1  ERP said no")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(timed_out < first && first < second, "{text}");
    assert!(
        text.ends_with(&format!("{}\n", std::str::from_utf8(&order_body).unwrap())),
        "{text}"
    );
    let out = run(&mut tradecloud(
        dir.path(),
        &[
            "inbox",
            "show",
            &order.to_string(),
            "--json",
            "--store",
            &url,
        ],
    ));
    let shown = &json_lines(&out)[0];
    assert_eq!(shown["messageId"], "m-1");
    let attempts = shown["processingAttempts"]
        .as_array()
        .expect("the attempts");
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["outcome"], "retry");
    assert_eq!(attempts[0]["error"], "ERP timed out");
    assert_eq!(attempts[1]["instance"], "p-1");
    assert_eq!(attempts[1]["error"], "ERP said no");
    assert_eq!(
        shown["headers"][1],
        serde_json::json!(["authorization", "Basic [redacted]"])
    );
    let out = tradecloud(dir.path(), &["inbox", "show", "999", "--store", &url])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no event 999"));

    // dead
    let out = run(&mut tradecloud(
        dir.path(),
        &["inbox", "dead", "--json", "--store", &url],
    ));
    let dead = json_lines(&out);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["id"], order);
    let out = run(&mut tradecloud(
        dir.path(),
        &["inbox", "dead", "--store", &url],
    ));
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("ERP said no"));

    // replay
    let out = run(&mut tradecloud(
        dir.path(),
        &["inbox", "replay", &order.to_string(), "--store", &url],
    ));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("event {order} (dead) queued again as received\n")
    );
    let out = tradecloud(
        dir.path(),
        &["inbox", "replay", &order.to_string(), "--store", &url],
    )
    .output()
    .unwrap();
    assert!(!out.status.success(), "a received event cannot be replayed");
    assert!(String::from_utf8_lossy(&out.stderr).contains("only rejected, dead or done"));
    let out = run(&mut tradecloud(
        dir.path(),
        &["inbox", "dead", "--json", "--store", &url],
    ));
    assert!(json_lines(&out).is_empty());
}

#[tokio::test]
async fn the_store_comes_from_flag_env_config_file_or_default() {
    let dir = tempfile::tempdir().unwrap();
    let make = |name: &str, order: &str| {
        let path = dir.path().join(name);
        let url = format!("sqlite://{}", path.display());
        let order = order.to_string();
        async move {
            let inbox = Inbox::open(&url).unwrap();
            inbox
                .store(NewEvent::trigger(EventKind::Order, order))
                .await
                .unwrap();
            url
        }
    };
    let from_file = make("from-file.db", "file").await;
    let from_env = make("from-env.db", "env").await;
    let from_flag = make("from-flag.db", "flag").await;
    make("tradecloud-inbox.db", "default").await;

    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let config = work.join("receiver.toml");
    std::fs::write(
        &config,
        format!("[server]\nlisten = \"127.0.0.1:0\"\n\n[store]\nurl = \"{from_file}\"\n\n[auth]\nmethod = \"basic\"\n"),
    )
    .unwrap();
    let order_of = |out: Output| json_lines(&out)[0]["orderId"].as_str().unwrap().to_string();
    let config_arg = config.to_str().unwrap();

    assert_eq!(
        order_of(run(&mut tradecloud(
            &work,
            &["inbox", "list", "--json", "--config", config_arg]
        ))),
        "file"
    );
    assert_eq!(
        order_of(run(tradecloud(
            &work,
            &["inbox", "list", "--json", "--config", config_arg]
        )
        .env("TRADECLOUD_STORE_URL", &from_env))),
        "env"
    );
    assert_eq!(
        order_of(run(tradecloud(
            &work,
            &["--config", config_arg, "inbox", "list", "--json", "--store", &from_flag]
        )
        .env("TRADECLOUD_STORE_URL", &from_env))),
        "flag"
    );
    // tradecloud.toml in the working directory is read when --config is not given.
    std::fs::write(
        work.join("tradecloud.toml"),
        format!("[store]\nurl = \"{from_env}\"\n"),
    )
    .unwrap();
    assert_eq!(
        order_of(run(&mut tradecloud(&work, &["inbox", "list", "--json"]))),
        "env"
    );
    // Nothing configured: sqlite://tradecloud-inbox.db in the working directory.
    assert_eq!(
        order_of(run(&mut tradecloud(
            dir.path(),
            &["inbox", "list", "--json"]
        ))),
        "default"
    );

    // A wrong path is an error, not a new empty inbox.
    let out = tradecloud(&work, &["inbox", "list", "--store", "sqlite://nope.db"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no inbox database at nope.db"));
    assert!(!work.join("nope.db").exists());
}

/// The configuration file of a service names its inbox relative to the
/// service's working directory (`sqlite://tradecloud-inbox.db`, the systemd
/// unit's /var/lib/tradecloud); an operator's `inbox list --config` from
/// another directory finds nothing there and is told where it looked and
/// what to do. An absolute path that is not there gets no such advice.
#[tokio::test]
async fn a_relative_inbox_not_found_names_the_directory_it_was_looked_for_in() {
    let dir = tempfile::tempdir().unwrap();
    let service = dir.path().join("state");
    let shell = dir.path().join("home");
    std::fs::create_dir_all(&service).unwrap();
    std::fs::create_dir_all(&shell).unwrap();
    Inbox::open(&format!(
        "sqlite://{}",
        service.join("tradecloud-inbox.db").display()
    ))
    .unwrap();
    let config = dir.path().join("tradecloud.toml");
    std::fs::write(&config, "[store]\nurl = \"sqlite://tradecloud-inbox.db\"\n").unwrap();
    let config = config.to_str().unwrap();

    run(&mut tradecloud(
        &service,
        &["inbox", "list", "--config", config],
    ));
    let out = tradecloud(&shell, &["inbox", "list", "--config", config])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let cwd = shell.canonicalize().unwrap();
    assert!(
        stderr.contains("no inbox database at tradecloud-inbox.db")
            && stderr.contains(&format!("the current directory ({})", cwd.display()))
            && stderr.contains("/var/lib/tradecloud")
            && stderr.contains("--store sqlite:///"),
        "{stderr}"
    );

    let absent = format!("sqlite://{}", shell.join("nope.db").display());
    let out = tradecloud(&shell, &["inbox", "list", "--store", &absent])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no inbox database") && !stderr.contains("current directory"),
        "{stderr}"
    );
}

#[tokio::test]
async fn purge_deletes_old_done_events_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("events.db");
    let url = format!("sqlite://{}", db.display());
    let inbox = Inbox::open(&url).unwrap();
    let mut ids = Vec::new();
    for i in 0..4 {
        let body =
            format!(r#"{{"eventName":"OrderIssuedByBuyer","meta":{{"messageId":"p-{i}"}}}}"#);
        ids.push(
            inbox
                .store(NewEvent {
                    kind: EventKind::Order,
                    event_name: Some("OrderIssuedByBuyer".into()),
                    object_id: Some(format!("o-{i}")),
                    message_id: Some(format!("p-{i}")),
                    content_type: "application/json".into(),
                    body: Bytes::from(body),
                    state: NewState::Received,
                    source: None,
                    headers: Vec::new(),
                })
                .await
                .unwrap()
                .id(),
        );
    }
    drop(inbox);
    let long_ago = chrono::Utc::now().timestamp_millis() - 45 * 86_400_000;
    let conn = rusqlite::Connection::open(&db).unwrap();
    for (id, state) in [(ids[0], "done"), (ids[1], "dead"), (ids[2], "rejected")] {
        conn.execute(
            "UPDATE events SET state = ?2, updated_at = ?3 WHERE id = ?1",
            rusqlite::params![id, state, long_ago],
        )
        .unwrap();
    }
    drop(conn);

    let out = run(&mut tradecloud(
        dir.path(),
        &[
            "inbox",
            "purge",
            "--older-than",
            "30",
            "--dry-run",
            "--json",
            "--store",
            &url,
        ],
    ));
    let result = &json_lines(&out)[0];
    assert_eq!(result["events"], 1);
    assert_eq!(result["dryRun"], true);
    let listed = |dir: &Path| {
        json_lines(&run(&mut tradecloud(
            dir,
            &["inbox", "list", "--json", "--store", &url],
        )))
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect::<Vec<_>>()
    };
    assert_eq!(listed(dir.path()), ids, "a dry run deletes nothing");

    let out = run(&mut tradecloud(
        dir.path(),
        &["inbox", "purge", "--older-than", "30", "--store", &url],
    ));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("deleted 1 done events"), "{text}");
    assert_eq!(listed(dir.path()), ids[1..].to_vec());
    // Newer than the cutoff: kept.
    let out = run(&mut tradecloud(
        dir.path(),
        &["inbox", "purge", "--older-than", "60", "--store", &url],
    ));
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .starts_with("deleted 0 "));
    // A wrong argument says what is wrong.
    let out = tradecloud(dir.path(), &["inbox", "purge", "--store", &url])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--older-than"));
}

/// `tradecloud ARGS` run where `$M` is a tmpfs holding `files` (name,
/// source) and mounted read-only, in a user and mount namespace of its own
/// (`unshare -rm`, as `serve_disk` does: no root needed); `None`, with
/// "skipped" printed, where this machine refuses such namespaces.
#[cfg(target_os = "linux")]
fn on_read_only_tmpfs(mount: &Path, files: &[(&str, &Path)], args: &[&str]) -> Option<Output> {
    let namespaces = Command::new("unshare").args(["-rm", "true"]).output();
    if !namespaces.is_ok_and(|out| out.status.success()) {
        println!("skipped: this machine refuses user and mount namespaces (`unshare -rm`)");
        return None;
    }
    let mut script = r#"mount -t tmpfs -o size=4m tradecloud-test "$M""#.to_string();
    for (i, (name, _)) in files.iter().enumerate() {
        script.push_str(&format!(r#" && cp "$F{i}" "$M/{name}""#));
    }
    script.push_str(r#" && mount -o remount,bind,ro "$M" && exec "$0" "$@""#);
    let mut unshare = Command::new("unshare");
    unshare
        .args(["-rm", "sh", "-c", &script, env!("CARGO_BIN_EXE_tradecloud")])
        .args(args)
        .current_dir(mount.parent().unwrap())
        .env("M", mount);
    for var in ["TRADECLOUD_STORE_URL", "TRADECLOUD_CONFIG", "RUST_LOG"] {
        unshare.env_remove(var);
    }
    for (i, (_, source)) in files.iter().enumerate() {
        unshare.env(format!("F{i}"), source);
    }
    Some(unshare.output().expect("run unshare"))
}

/// The commands that only read (`list`, `show`, `dead`) read an inbox on a
/// read-only file system: they opened it for writing and failed ("on a
/// read-only file system ... remount it read-write"), where an operator
/// looks first after the kernel made the disk read-only. An inbox whose
/// write-ahead log holds events but has no `-shm` file cannot be read
/// there: the error says so and what to do.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn read_commands_read_an_inbox_on_a_read_only_file_system() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.db");
    let inbox = Inbox::open(&format!("sqlite://{}", seed.display())).unwrap();
    let id = inbox
        .store(NewEvent::trigger(EventKind::Shipment, "s-1"))
        .await
        .unwrap()
        .id();
    // The log of the open inbox, with the event in it, as a receiver that
    // died would leave it (copied while the inbox is open).
    let wal = dir.path().join("seed.db-wal");
    let copied_wal = dir.path().join("copied.db-wal");
    let copied_db = dir.path().join("copied.db");
    std::fs::copy(&seed, &copied_db).unwrap();
    std::fs::copy(&wal, &copied_wal).unwrap();
    assert!(std::fs::metadata(&copied_wal).unwrap().len() > 0);
    drop(inbox);
    // Everything in the database file, as a receiver that stopped leaves it.
    rusqlite::Connection::open(&seed)
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();

    let mount = dir.path().join("mnt");
    std::fs::create_dir(&mount).unwrap();
    let url = format!("sqlite://{}/inbox.db", mount.display());
    let id_text = id.to_string();
    for args in [
        &["inbox", "list", "--json", "--store", &url][..],
        &["inbox", "show", &id_text, "--json", "--store", &url],
        &["inbox", "dead", "--store", &url],
    ] {
        let Some(out) = on_read_only_tmpfs(&mount, &[("inbox.db", &seed)], args) else {
            return;
        };
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{args:?}: {stderr}\n{stdout}");
        match args[1] {
            "dead" => assert_eq!(stdout, "no dead events\n"),
            _ => assert!(
                stdout.contains(r#""shipmentId":"s-1""#),
                "{args:?}: {stdout}"
            ),
        }
    }

    let out = on_read_only_tmpfs(
        &mount,
        &[("inbox.db", &copied_db), ("inbox.db-wal", &copied_wal)],
        &["inbox", "list", "--store", &url],
    )
    .expect("namespaces worked above");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("read-only file system")
            && stderr.contains("-shm file is missing")
            && stderr.contains("remount"),
        "{stderr}"
    );
}

/// `inbox show` of a `processing` event says whether a claim holds it: a
/// claim left by a receiver that died (here its runtime dropped mid-handler,
/// every task gone without releasing anything) holds nothing once no process
/// has the inbox open, and counts while one has (held by this test).
#[test]
fn show_tells_a_claim_left_by_a_crash_from_a_live_one() {
    use crate::processing_support::{hang_in_handler, order_event};
    use tradecloud::processing::ProcessorConfig;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("events.db").display());
    let id = {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let inbox = Inbox::open(&url).unwrap();
            let id = inbox.store(order_event("o-1", "m-1")).await.unwrap().id();
            hang_in_handler(
                &inbox,
                ProcessorConfig::default(),
                std::time::Duration::from_secs(60),
            )
            .await;
            id
        })
        // The runtime goes here, its tasks with it: the "crash".
    };
    let show = |json: bool| {
        let id = id.to_string();
        let mut args = vec!["inbox", "show", "--store", url.as_str(), id.as_str()];
        if json {
            args.push("--json");
        }
        run(&mut tradecloud(dir.path(), &args))
    };
    let text = String::from_utf8(show(false).stdout).unwrap();
    assert!(text.contains("state:         processing"), "{text}");
    assert!(
        text.contains("claim:         none live: interrupted, its receiver stopped or crashed"),
        "{text}"
    );
    assert_eq!(json_lines(&show(true))[0]["held"], false);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let open = runtime.block_on(Inbox::connect(&url)).unwrap();
    let text = String::from_utf8(show(false).stdout).unwrap();
    assert!(
        text.contains("claim:         held: being handled (a receiver or processor"),
        "{text}"
    );
    assert_eq!(json_lines(&show(true))[0]["held"], true);
    drop(open);
}
