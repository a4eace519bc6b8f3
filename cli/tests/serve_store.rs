//! `tradecloud serve` and `tradecloud inbox` facing a store that cannot be
//! used (issue 23): an in-memory inbox is refused for serving, a SQLite
//! file the receiver may not write leaves it running but not ready (503
//! with `Retry-After`, `/readyz` saying why) until it can, and `inbox list`
//! against a store that is down says what failed.
#![cfg(unix)]

use crate::receiver_support;

use std::path::Path;
use std::time::{Duration, Instant};

use receiver_support::*;
use tokio::process::Command;

const EXE: &str = env!("CARGO_BIN_EXE_tradecloud");

pub(crate) fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[tokio::test]
async fn an_in_memory_inbox_is_refused_for_serving() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = serve_config(dir.path(), "");
    for url in ["sqlite::memory:", "sqlite://:memory:?busy_timeout_ms=5"] {
        let serve = Command::new(EXE)
            .args(["serve", "--config"])
            .arg(&config)
            .env("TRADECLOUD_AUTH_PASSWORD", PASSWORD)
            .env("TRADECLOUD_STORE_URL", url)
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(Duration::from_secs(30), serve)
            .await
            .unwrap_or_else(|_| panic!("serve started with {url} (killed)"))
            .unwrap();
        assert!(!out.status.success(), "{url} refused");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("store.url") && stderr.contains("in memory") && stderr.contains("lost"),
            "{url}: {stderr}"
        );
    }
}

/// Issue 23, item 7 (SQLite): a database file the receiver's user may not
/// write (SQLite would open it read-only without a word). `serve` starts,
/// answers 503 + `Retry-After`, `/readyz` says the file is read-only and
/// `tradecloud_store_ready` is 0; once the file is writable, events are
/// stored. As root, the receiver runs as `nobody` (root writes any file),
/// through `setpriv`, which execs it (a kill reaches the receiver itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_sqlite_inbox_is_not_ready_until_it_can_be_written() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let db = dir.path().join("inbox.db");
    drop(tradecloud::inbox::Inbox::open(&format!("sqlite://{}", db.display())).unwrap());
    let root = is_root();
    if !root {
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
    }
    let (config, cert) = serve_config(dir.path(), "");
    let mut command = if root {
        let mut command = Command::new("setpriv");
        command.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            EXE,
        ]);
        command
    } else {
        Command::new(EXE)
    };
    command
        .args(["serve", "--receive-only", "--config"])
        .arg(&config)
        .current_dir(dir.path())
        .env("TRADECLOUD_AUTH_PASSWORD", PASSWORD)
        .env("TRADECLOUD_STORE_URL", format!("sqlite://{}", db.display()))
        .env("RUST_LOG", "info");
    let (_child, addr, log) = spawn_serve_logged(command, Duration::from_secs(60)).await;
    let client = client_for(&cert, addr);
    let base = format!("https://localhost:{}", addr.port());

    let (status, retry_after) = post(&client, &base, "m-1").await;
    assert_eq!(status, 503, "{:#?}", log.lock().unwrap());
    assert!(retry_after.is_some());
    let (status, detail) = readyz(&client, &base).await;
    assert_eq!(status, 503);
    assert!(
        detail.contains("read-only") && detail.contains("[store] url"),
        "{detail}"
    );
    assert!(metrics(&client, &base)
        .await
        .contains("tradecloud_store_ready 0"));

    make_writable(&db, root);
    wait_ready(&client, &base, &log).await;
    assert_eq!(post(&client, &base, "m-1").await.0, 202);
    assert!(metrics(&client, &base)
        .await
        .contains("tradecloud_store_ready 1"));
}

/// `serve --receive-only` with its inbox at `url`, started by `sh` under
/// `ulimit -f blocks` (512 bytes a block in dash, 1024 in bash).
fn serve_under_file_size_limit(
    blocks: u32,
    dir: &std::path::Path,
    config: &std::path::Path,
    url: &str,
) -> Command {
    let mut command = Command::new("sh");
    command
        .args([
            "-c",
            &format!(r#"ulimit -f {blocks} && exec "$0" "$@""#),
            EXE,
        ])
        .args(["serve", "--receive-only", "--config"])
        .arg(config)
        .current_dir(dir)
        .env("TRADECLOUD_AUTH_PASSWORD", PASSWORD)
        .env("TRADECLOUD_STORE_URL", url);
    command
}

/// A SQLite inbox that reaches the process's file-size limit (`ulimit -f`,
/// systemd `LimitFSIZE=`): the write fails and the event is answered 503,
/// `/readyz` names the limit and `tradecloud_store_ready` is 0, and every
/// event answered 2xx is in the inbox. The limit's `SIGXFSZ` killed the
/// receiver without a word (its default action), and `/readyz` would have
/// answered 200 with plenty of disk space left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbox_at_the_file_size_limit_is_answered_503_and_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let url = format!("sqlite://{}", db.display());
    let (config, cert) = serve_config(dir.path(), "");
    // 2048 blocks: 1 MiB (dash counts 512 bytes) or 2 MiB (bash, 1024),
    // below the write-ahead log's automatic checkpoint (1000 pages).
    let command = serve_under_file_size_limit(2048, dir.path(), &config, &url);
    let (mut child, addr, log) = spawn_serve_logged(command, Duration::from_secs(60)).await;
    let client = client_for(&cert, addr);
    let base = format!("https://localhost:{}", addr.port());

    // 300 kB a body that the inbox's compression cannot shrink (hex of
    // xorshift output), until one is not stored.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut acknowledged = Vec::new();
    let mut refused = None;
    for n in 0..40 {
        let pad: String = (0..300_000 / 16)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                format!("{state:016x}")
            })
            .collect();
        let message_id = format!("m-{n}");
        // Sent again after a 503, as Tradecloud does: a first refusal may
        // pass (the connection is opened again, which copies the log into
        // the database file and starts a new one); once the database file
        // is at the limit too, the event is refused for good.
        let mut answers = Vec::new();
        for _ in 0..2 {
            let (status, retry_after) = post_padded(&client, &base, &message_id, &pad).await;
            answers.push(status);
            match status {
                202 => break,
                503 => assert!(retry_after.is_some()),
                _ => panic!("{answers:?}: {:#?}", log.lock().unwrap()),
            }
        }
        if answers.ends_with(&[202]) {
            acknowledged.push(message_id);
        } else {
            refused = Some(message_id);
            break;
        }
    }
    let refused = refused.expect("an event past the file-size limit is refused");
    assert!(!acknowledged.is_empty());
    assert_eq!(child.try_wait().unwrap(), None, "the receiver runs");
    let (status, detail) = readyz(&client, &base).await;
    assert_eq!(status, 503, "{:#?}", log.lock().unwrap());
    assert!(
        detail.contains("file-size limit") && detail.contains("ulimit -f"),
        "{detail}"
    );
    assert!(metrics(&client, &base)
        .await
        .contains("tradecloud_store_ready 0"));
    // A small event may still fit (then it clears the note); stored or
    // refused, its answer is true.
    let mut refused = vec![refused];
    match post(&client, &base, "m-small").await.0 {
        202 => acknowledged.push("m-small".into()),
        503 => refused.push("m-small".into()),
        other => panic!("{other}: {:#?}", log.lock().unwrap()),
    }

    let out = std::process::Command::new(EXE)
        .args(["inbox", "list", "--json", "--limit", "100", "--store", &url])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    for message_id in &acknowledged {
        assert!(
            listed.contains(&format!("\"{message_id}\"")),
            "{message_id} acknowledged but not stored: {listed}"
        );
    }
    for message_id in &refused {
        assert!(!listed.contains(&format!("\"{message_id}\"")), "{listed}");
    }
}

/// A new SQLite inbox that cannot be created under the process's file-size
/// limit (`ulimit -f 1`: 512 or 1024 bytes, less than SQLite's first page):
/// `serve` runs, answers 503 with `Retry-After`, and `/readyz` names the
/// limit and what to do, where it said only SQLite's "disk I/O error".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbox_that_cannot_open_under_the_file_size_limit_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let (config, cert) = serve_config(dir.path(), "");
    let url = format!("sqlite://{}", db.display());
    let command = serve_under_file_size_limit(1, dir.path(), &config, &url);
    let (mut child, addr, log) = spawn_serve_logged(command, Duration::from_secs(60)).await;
    let client = client_for(&cert, addr);
    let base = format!("https://localhost:{}", addr.port());

    let (status, retry_after) = post(&client, &base, "m-1").await;
    assert_eq!(status, 503, "{:#?}", log.lock().unwrap());
    assert!(retry_after.is_some());
    let (status, detail) = readyz(&client, &base).await;
    assert_eq!(status, 503);
    assert!(
        detail.contains("file-size limit")
            && detail.contains("ulimit -f")
            && detail.contains("raise or remove the limit"),
        "{detail}"
    );
    // The path once (after the store's URL), not again in the reason.
    let path = db.display().to_string();
    assert_eq!(detail.matches(path.as_str()).count(), 1, "{detail}");
    assert_eq!(child.try_wait().unwrap(), None, "the receiver runs");
}

/// An `inbox` command under a file-size limit its inbox is past says what
/// to do about it for the command (run it again), not what a receiver
/// does meanwhile: it said that "webhooks are answered 503". (A command
/// that writes: one that only reads, opening the inbox read-only, may read
/// it under the limit.)
#[test]
fn an_inbox_command_under_the_file_size_limit_speaks_of_itself() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
    drop(tradecloud::inbox::Inbox::open(&url).unwrap());
    let under_limit = |args: &[&str]| {
        std::process::Command::new("sh")
            .args(["-c", r#"ulimit -f 1 && exec "$0" "$@""#, EXE])
            .args(args)
            .output()
            .unwrap()
    };
    let out = under_limit(&["inbox", "purge", "--older-than", "30", "--store", &url]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("file-size limit")
            && stderr.contains("raise or remove the limit")
            && stderr.contains("run it again"),
        "{stderr}"
    );
    assert!(!stderr.contains("webhooks"), "{stderr}");
}

/// The SQLite inbox moved away (or deleted) under a running receiver: it is
/// not created again, webhooks are answered 503 with `Retry-After`, and
/// `/readyz` says the file is gone and what to do (it said only "not
/// accessible: No such file or directory"); put back, it is used again and
/// every acknowledged event is in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbox_moved_away_while_serving_is_named_and_used_again_once_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let moved = dir.path().join("moved.db");
    let url = format!("sqlite://{}", db.display());
    let (config, cert) = serve_config(dir.path(), "");
    let mut command = Command::new(EXE);
    command
        .args(["serve", "--receive-only", "--config"])
        .arg(&config)
        .current_dir(dir.path())
        .env("TRADECLOUD_AUTH_PASSWORD", PASSWORD)
        .env("TRADECLOUD_STORE_URL", &url);
    let (_child, addr, log) = spawn_serve_logged(command, Duration::from_secs(60)).await;
    let client = client_for(&cert, addr);
    let base = format!("https://localhost:{}", addr.port());
    assert_eq!(post(&client, &base, "m-1").await.0, 202, "{:#?}", log);

    std::fs::rename(&db, &moved).unwrap();
    let (status, retry_after) = post(&client, &base, "m-2").await;
    assert_eq!(status, 503, "{:#?}", log.lock().unwrap());
    assert!(retry_after.is_some());
    assert!(!db.exists(), "not created again");
    let (status, detail) = readyz(&client, &base).await;
    assert_eq!(status, 503);
    assert!(
        detail.contains(&format!("{} is gone", db.display()))
            && detail.contains("put the file back"),
        "{detail}"
    );

    std::fs::rename(&moved, &db).unwrap();
    wait_ready(&client, &base, &log).await;
    assert_eq!(post(&client, &base, "m-2").await.0, 202);
    let out = std::process::Command::new(EXE)
        .args(["inbox", "list", "--json", "--store", &url])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("\"m-1\"") && listed.contains("\"m-2\""),
        "{listed}"
    );
}

fn make_writable(db: &Path, root: bool) {
    use std::os::unix::fs::PermissionsExt;
    if root {
        std::os::unix::fs::chown(db, Some(65534), Some(65534)).unwrap();
    } else {
        std::fs::set_permissions(db, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
}

pub(crate) async fn post(
    client: &reqwest::Client,
    base: &str,
    message_id: &str,
) -> (u16, Option<String>) {
    post_padded(client, base, message_id, "").await
}

/// [`post`] with a `pad` member of `pad` in the body.
pub(crate) async fn post_padded(
    client: &reqwest::Client,
    base: &str,
    message_id: &str,
    pad: &str,
) -> (u16, Option<String>) {
    let body = format!(
        r#"{{"eventName":"OrderIssuedByBuyer","meta":{{"messageId":"{message_id}"}},"orderEvent":{{"orderId":"o-1"}},"pad":"{pad}"}}"#
    );
    let response = client
        .post(format!("{base}/tradecloud/order"))
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

/// Until `/readyz` answers 200 (at most 60 s; then the serve log is shown).
pub(crate) async fn wait_ready(
    client: &reqwest::Client,
    base: &str,
    log: &std::sync::Mutex<Vec<String>>,
) {
    let start = Instant::now();
    while readyz(client, base).await.0 != 200 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not ready: {:#?}",
            log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(crate) async fn readyz(client: &reqwest::Client, base: &str) -> (u16, String) {
    let response = client.get(format!("{base}/readyz")).send().await.unwrap();
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    (status, body["detail"].as_str().unwrap_or("").to_string())
}

async fn metrics(client: &reqwest::Client, base: &str) -> String {
    client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// `tradecloud inbox list --store URL` with the store down says what failed
/// (not reachable, and the driver's reason), names the URL without its
/// password, and does not send the operator to choose another inbox.
#[test]
fn inbox_list_against_a_store_that_is_down_says_what_failed() {
    let port = crate::port_support::free_port();
    let url = format!("postgres://tc:pw-not-shown@127.0.0.1:{port}/inbox");
    let out = std::process::Command::new(EXE)
        .args(["inbox", "list", "--store", &url])
        .env_remove("TRADECLOUD_STORE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot reach the inbox store postgres://tc:***@127.0.0.1:{port}/inbox (from --store or TRADECLOUD_STORE_URL)"
        )) && stderr.to_lowercase().contains("connection refused"),
        "{stderr}"
    );
    assert!(!stderr.contains("pw-not-shown"), "{stderr}");
    assert!(!stderr.contains("choose the inbox"), "{stderr}");

    // A default inbox that is not there: choosing one is the advice.
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(EXE)
        .args(["inbox", "list"])
        .current_dir(dir.path())
        .env_remove("TRADECLOUD_STORE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no inbox database") && stderr.contains("choose the inbox with --store"),
        "{stderr}"
    );
}

/// A second `tradecloud serve` on the SQLite inbox of a running one is
/// refused before it listens: the message names the file, the first
/// receiver's process id, and the ways out (stop it, or share a PostgreSQL
/// inbox). Beside the running receiver, `inbox list` works and `inbox
/// migrate` still refuses to copy the inbox away from under it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_serve_on_one_sqlite_inbox_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let url = format!("sqlite://{}", db.display());
    let (config, cert) = serve_config(dir.path(), "");
    let serve = |command: &mut Command| {
        command
            .args(["serve", "--receive-only", "--config"])
            .arg(&config)
            .current_dir(dir.path())
            .env("TRADECLOUD_AUTH_PASSWORD", PASSWORD)
            .env("TRADECLOUD_STORE_URL", &url);
    };
    let mut first = Command::new(EXE);
    serve(&mut first);
    let (child, addr, log) = spawn_serve_logged(first, Duration::from_secs(60)).await;
    let client = client_for(&cert, addr);
    let base = format!("https://localhost:{}", addr.port());
    assert_eq!(post(&client, &base, "m-1").await.0, 202, "{:#?}", log);

    let mut second = Command::new(EXE);
    serve(&mut second);
    let out = tokio::time::timeout(Duration::from_secs(60), second.kill_on_drop(true).output())
        .await
        .expect("the second serve stops (killed)")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the second serve runs: {stderr}");
    let first_pid = child.id().unwrap();
    // Says what is true: the inbox opened, and the first receiver holds it.
    assert!(
        stderr.contains(&format!(
            "error: cannot start the receiver: another receiver, process {first_pid}, holds the \
             SQLite inbox {} (its lock {}-receiver-lock)",
            db.display(),
            db.display()
        )) && stderr.contains("Stop the other `tradecloud serve`")
            && stderr.contains("give them all one PostgreSQL database"),
        "{stderr}"
    );
    assert!(!stderr.contains("cannot open"), "{stderr}");
    assert!(!stderr.contains("listening on"), "{stderr}");

    // The inbox commands beside the running receiver.
    let out = std::process::Command::new(EXE)
        .args(["inbox", "list", "--json", "--store", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("m-1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let to = format!("sqlite://{}", dir.path().join("copy.db").display());
    let out = std::process::Command::new(EXE)
        .args(["inbox", "migrate", "--from", &url, "--to", &to])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("open in another process"),
        "{stderr}"
    );
    // The first one still receives.
    assert_eq!(post(&client, &base, "m-2").await.0, 202, "{:#?}", log);
}
