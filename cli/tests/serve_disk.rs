//! `tradecloud serve` with its SQLite inbox on a file system that really
//! fills up, or is really mounted read-only, where `serve_store` only
//! emulates them (a file-size limit, a file's permissions). The receiver
//! runs in a user and mount namespace of its own (`unshare -rm`: no root
//! needed) with a small tmpfs over the inbox's directory; the test reaches
//! that file system through `/proc/PID/root` and remounts it with
//! `nsenter`.
//!
//! A file system cannot be remounted read-only under a running receiver:
//! the kernel refuses ("busy") while SQLite holds the database, its `-wal`
//! and `-shm` open for writing. Only the kernel itself does that (ext4's
//! `errors=remount-ro` after an I/O error), which takes a block device and
//! real root; here the receiver starts on a read-only mount, which is what
//! it finds after such an error and a restart, and the mount is made
//! writable under it.
#![cfg(target_os = "linux")]

use crate::receiver_support;
use crate::serve_store::{post, post_padded, readyz, wait_ready};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use receiver_support::*;
use tokio::process::{Child, Command};

const EXE: &str = env!("CARGO_BIN_EXE_tradecloud");

/// A receiver with its inbox on a tmpfs of its own namespace.
struct OnTmpfs {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    client: reqwest::Client,
    base: String,
    /// The tmpfs's mount point (inside the receiver's namespace).
    mount: PathBuf,
    url: String,
    dir: tempfile::TempDir,
}

impl OnTmpfs {
    /// `tradecloud serve --receive-only` on `sqlite://MOUNT/inbox.db`, a
    /// tmpfs of `size` (`mount`'s `size=`), after the shell commands
    /// `prepare` ran in its namespace (`$M` is the mount point, `$S` a file
    /// `seed` may have written, from outside).
    async fn start(size: &str, seed: Option<&dyn Fn(&Path)>, prepare: &str) -> OnTmpfs {
        let namespaces = std::process::Command::new("unshare")
            .args(["-rm", "true"])
            .output();
        assert!(
            namespaces.as_ref().is_ok_and(|out| out.status.success()),
            "these tests run the receiver in a user and mount namespace (`unshare -rm`, from \
             util-linux), which this machine refuses: {namespaces:?}; allow unprivileged user \
             namespaces (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone)"
        );
        let dir = tempfile::tempdir().unwrap();
        let mount = dir.path().join("mnt");
        std::fs::create_dir(&mount).unwrap();
        let seeded = dir.path().join("seed.db");
        if let Some(seed) = seed {
            seed(&seeded);
        }
        let url = format!("sqlite://{}/inbox.db", mount.display());
        let (config, cert) = serve_config(dir.path(), "");
        let mut command = Command::new("unshare");
        command
            .args([
                "-rm",
                "sh",
                "-c",
                &format!(
                    r#"mount -t tmpfs -o size={size} tradecloud-test "$M" && {prepare} && exec "$0" "$@""#
                ),
                EXE,
                "serve",
                "--receive-only",
                "--config",
            ])
            .arg(&config)
            .current_dir(dir.path())
            .env("M", &mount)
            .env("S", &seeded)
            .env("TRADECLOUD_AUTH_PASSWORD", PASSWORD)
            .env("TRADECLOUD_STORE_URL", &url)
            .env("RUST_LOG", "info");
        let (child, addr, log) = spawn_serve_logged(command, Duration::from_secs(60)).await;
        OnTmpfs {
            child,
            log,
            client: client_for(&cert, addr),
            base: format!("https://localhost:{}", addr.port()),
            mount,
            url,
            dir,
        }
    }

    /// `name` on the tmpfs, as seen from outside the namespace.
    fn path(&self, name: &str) -> PathBuf {
        let pid = self.child.id().expect("the receiver runs");
        PathBuf::from(format!("/proc/{pid}/root{}/{name}", self.mount.display()))
    }

    /// `args` run in the receiver's namespaces; their output.
    fn inside(&self, args: &[&str]) -> std::process::Output {
        let pid = self.child.id().expect("the receiver runs").to_string();
        std::process::Command::new("nsenter")
            .args(["-t", &pid, "-U", "-m", "--preserve-credentials"])
            .args(args)
            .output()
            .unwrap()
    }

    fn remount(&self, how: &str) {
        let mount = self.mount.display().to_string();
        let out = self.inside(&["mount", "-o", how, &mount]);
        assert!(out.status.success(), "mount -o {how}: {out:?}");
    }

    /// How often each message id is in the inbox (`tradecloud inbox list`
    /// beside the receiver, in its namespace).
    fn stored(&self) -> HashMap<String, usize> {
        let out = self.inside(&[
            EXE, "inbox", "list", "--json", "--limit", "100000", "--store", &self.url,
        ]);
        assert!(out.status.success(), "{out:?}");
        let mut stored = HashMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            let id = event["messageId"].as_str().unwrap().to_string();
            *stored.entry(id).or_default() += 1;
        }
        stored
    }

    /// Every message id answered 2xx is stored once, every one only ever
    /// answered 503 is not, and the database is sound.
    fn check(&self, answers: &HashMap<String, Vec<u16>>) {
        let stored = self.stored();
        for (id, statuses) in answers {
            let acknowledged = statuses.iter().any(|s| (200..300).contains(s));
            let times = stored.get(id).copied().unwrap_or(0);
            if acknowledged {
                assert_eq!(times, 1, "{id} answered {statuses:?}, stored {times} times");
            } else {
                assert_eq!(times, 0, "{id} answered {statuses:?} but stored");
            }
        }
        assert_eq!(stored.len(), answers.len() - refused(answers).len());
        // Checked on a copy: SQLite resolves `/proc/PID/root` to this
        // process's root, where the tmpfs is not. Nothing is written while
        // no request is open.
        let copy = self.dir.path().join("check");
        std::fs::create_dir_all(&copy).unwrap();
        for name in ["inbox.db", "inbox.db-wal"] {
            let _ = std::fs::remove_file(copy.join(name));
            if self.path(name).exists() {
                std::fs::copy(self.path(name), copy.join(name)).unwrap();
            }
        }
        let _ = std::fs::remove_file(copy.join("inbox.db-shm"));
        let db = rusqlite::Connection::open(copy.join("inbox.db")).unwrap();
        let integrity: String = db
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(integrity, "ok");
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

/// The message ids never answered 2xx.
fn refused(answers: &HashMap<String, Vec<u16>>) -> Vec<String> {
    answers
        .iter()
        .filter(|(_, statuses)| !statuses.iter().any(|s| (200..300).contains(s)))
        .map(|(id, _)| id.clone())
        .collect()
}

/// `n` hex characters that the inbox's compression cannot shrink.
fn incompressible(n: usize, seed: u64) -> String {
    let mut state = seed | 1;
    let mut pad = String::with_capacity(n + 16);
    while pad.len() < n {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        pad.push_str(&format!("{state:016x}"));
    }
    pad.truncate(n);
    pad
}

/// A disk that fills up under 16 concurrent posters: what is answered 2xx
/// is stored (once), what is answered 503 (with `Retry-After`) is not,
/// `/readyz` says the disk is full and what to do; once space is freed the
/// receiver stores again without a restart, and `/readyz` says so. It asked
/// 1 MiB more free space than at the failure before it believed an event
/// fits, so freeing 300 kB of a 2 MiB disk (room for several events, which
/// Tradecloud's retries would store) left it at 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_and_stores_again_once_space_is_freed() {
    let disk = OnTmpfs::start("2m", None, "true").await;
    let (client, base) = (&disk.client, disk.base.as_str());
    std::fs::write(disk.path("ballast"), vec![0u8; 300_000]).unwrap();

    let mut answers: HashMap<String, Vec<u16>> = HashMap::new();
    let mut round = 0;
    while refused(&answers).len() < 16 {
        round += 1;
        assert!(round < 100, "the disk never filled: {:#?}", disk.log());
        let posts = (0..16).map(|n| {
            let id = format!("m-{round}-{n}");
            let pad = incompressible(20_000, (round * 16 + n) as u64);
            async move {
                let (status, retry_after) = post_padded(client, base, &id, &pad).await;
                (id, status, retry_after)
            }
        });
        for (id, status, retry_after) in futures_util::future::join_all(posts).await {
            match status {
                202 => {}
                503 => assert!(retry_after.is_some(), "503 without Retry-After"),
                other => panic!("{id}: {other}: {:#?}", disk.log()),
            }
            answers.entry(id).or_default().push(status);
        }
    }
    let (status, detail) = readyz(client, base).await;
    assert_eq!(status, 503, "{:#?}", disk.log());
    assert!(
        detail.contains("is full") && detail.contains("free some space"),
        "{detail}"
    );
    disk.check(&answers);

    std::fs::remove_file(disk.path("ballast")).unwrap();
    wait_ready(client, base, &disk.log).await;
    let (status, _) = post(client, base, "after").await;
    assert_eq!(status, 202, "{:#?}", disk.log());
    answers.entry("after".into()).or_default().push(status);
    // Tradecloud sends a refused event again: one of them fits too.
    let again = refused(&answers).remove(0);
    let (status, _) = post(client, base, &again).await;
    assert_eq!(status, 202, "{again}: {:#?}", disk.log());
    answers.entry(again).or_default().push(status);
    disk.check(&answers);
}

/// A receiver that starts on a read-only file system (an existing inbox,
/// and one still to be created): 503 with `Retry-After`, `/readyz` says the
/// file system is mounted read-only and to remount it (it said "unable to
/// open database file", or that this user may not write the directory,
/// which no permission change mends); remounted read-write, the inbox is
/// written without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_file_system_is_named_and_written_once_read_write() {
    let seed = |path: &Path| {
        drop(tradecloud::inbox::Inbox::open(&format!("sqlite://{}", path.display())).unwrap());
    };
    for existing in [true, false] {
        let disk = if existing {
            OnTmpfs::start(
                "4m",
                Some(&seed),
                r#"cp "$S" "$M/inbox.db" && mount -o remount,bind,ro "$M""#,
            )
            .await
        } else {
            OnTmpfs::start("4m", None, r#"mount -o remount,bind,ro "$M""#).await
        };
        let (client, base) = (&disk.client, disk.base.as_str());
        let (status, retry_after) = post(client, base, "m-1").await;
        assert_eq!(status, 503, "existing {existing}: {:#?}", disk.log());
        assert!(retry_after.is_some());
        let (status, detail) = readyz(client, base).await;
        assert_eq!(status, 503);
        assert!(
            detail.contains("mounted read-only")
                && detail.contains("remount it read-write")
                && !detail.contains("not writable by this user"),
            "existing {existing}: {detail}"
        );

        disk.remount("remount,bind,rw");
        wait_ready(client, base, &disk.log).await;
        let mut answers: HashMap<String, Vec<u16>> = HashMap::new();
        answers.insert("m-1".into(), vec![503]);
        let (status, _) = post(client, base, "m-1").await;
        assert_eq!(status, 202, "existing {existing}: {:#?}", disk.log());
        answers.get_mut("m-1").unwrap().push(status);
        disk.check(&answers);
    }
}
