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
//! `errors=remount-ro` after an I/O error): one test does it on a loop
//! device, which takes real root (skipped without); the others start the
//! receiver on a read-only mount, which is what it finds after such an
//! error and a restart, and make the mount writable under it.
#![cfg(target_os = "linux")]

use crate::receiver_support;
use crate::serve_store::{is_root, post, post_padded, readyz, wait_ready};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use receiver_support::*;
use tokio::process::{Child, Command};

const EXE: &str = env!("CARGO_BIN_EXE_tradecloud");

/// The file system under the inbox.
enum Disk<'a> {
    /// A tmpfs of this size (`mount`'s `size=`), in a user and mount
    /// namespace: no root needed.
    Tmpfs(&'a str),
    /// A 16 MiB ext4 file system on a loop device, mounted
    /// `errors=remount-ro`, in a mount namespace: needs real root.
    Ext4,
}

/// A receiver with its inbox on a file system of its own namespace.
struct OnOwnDisk {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    client: reqwest::Client,
    base: String,
    /// The tmpfs's mount point (inside the receiver's namespace).
    mount: PathBuf,
    dir: tempfile::TempDir,
    /// Whether the receiver runs in a user namespace of its own.
    userns: bool,
}

impl OnOwnDisk {
    /// `tradecloud serve --receive-only` on `sqlite://MOUNT/inbox.db`, on
    /// `disk`, after the shell commands `prepare` ran in its namespace
    /// (`$M` is the mount point, `$S` a file `seed` may have written, from
    /// outside).
    async fn start(disk: Disk<'_>, seed: Option<&dyn Fn(&Path)>, prepare: &str) -> OnOwnDisk {
        let (unshare, mounting) = match disk {
            Disk::Tmpfs(size) => (
                "-rm",
                format!(r#"mount -t tmpfs -o size={size} tradecloud-test "$M""#),
            ),
            Disk::Ext4 => (
                "-m",
                r#"truncate -s 16M "$S.img" && mkfs.ext4 -q -F "$S.img" && mount -o loop,errors=remount-ro "$S.img" "$M""#.to_string(),
            ),
        };
        let namespaces = std::process::Command::new("unshare")
            .args([unshare, "true"])
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
                unshare,
                "sh",
                "-c",
                &format!(r#"{mounting} && {prepare} && exec "$0" "$@""#),
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
        OnOwnDisk {
            child,
            log,
            client: client_for(&cert, addr),
            base: format!("https://localhost:{}", addr.port()),
            mount,
            dir,
            userns: unshare == "-rm",
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
        let userns: &[&str] = if self.userns {
            &["-U", "--preserve-credentials"]
        } else {
            &[]
        };
        std::process::Command::new("nsenter")
            .args(["-t", &pid, "-m"])
            .args(userns)
            .args(args)
            .output()
            .unwrap()
    }

    fn remount(&self, how: &str) {
        let mount = self.mount.display().to_string();
        let out = self.inside(&["mount", "-o", how, &mount]);
        assert!(out.status.success(), "mount -o {how}: {out:?}");
    }

    /// A copy of the inbox (database and write-ahead log), opened: SQLite
    /// resolves `/proc/PID/root` to this process's root, where the mount
    /// is not, and `inbox list` cannot open an inbox on a read-only file
    /// system. Nothing is written while no request is open.
    fn copy(&self) -> rusqlite::Connection {
        let copy = self.dir.path().join("check");
        std::fs::create_dir_all(&copy).unwrap();
        for name in ["inbox.db", "inbox.db-wal", "inbox.db-shm"] {
            let _ = std::fs::remove_file(copy.join(name));
        }
        for name in ["inbox.db", "inbox.db-wal"] {
            if self.path(name).exists() {
                std::fs::copy(self.path(name), copy.join(name)).unwrap();
            }
        }
        rusqlite::Connection::open(copy.join("inbox.db")).unwrap()
    }

    /// Every message id answered 2xx is stored once, every one only ever
    /// answered 503 at most once (a commit whose sync failed may be on the
    /// disk all the same: Tradecloud's retry then finds it stored), and the
    /// database is sound.
    fn check(&self, answers: &HashMap<String, Vec<u16>>) {
        let db = self.copy();
        let mut stored: HashMap<String, usize> = HashMap::new();
        let mut ids = db.prepare("SELECT message_id FROM events").unwrap();
        for id in ids.query_map([], |row| row.get::<_, String>(0)).unwrap() {
            *stored.entry(id.unwrap()).or_default() += 1;
        }
        for (id, statuses) in answers {
            let acknowledged = statuses.iter().any(|s| (200..300).contains(s));
            let times = stored.get(id).copied().unwrap_or(0);
            if acknowledged {
                assert_eq!(times, 1, "{id} answered {statuses:?}, stored {times} times");
            } else {
                assert!(
                    times <= 1,
                    "{id} answered {statuses:?}, stored {times} times"
                );
            }
        }
        assert!(
            stored.keys().all(|id| answers.contains_key(id)),
            "{stored:?}"
        );
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
    let disk = OnOwnDisk::start(Disk::Tmpfs("2m"), None, "true").await;
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
            OnOwnDisk::start(
                Disk::Tmpfs("4m"),
                Some(&seed),
                r#"cp "$S" "$M/inbox.db" && mount -o remount,bind,ro "$M""#,
            )
            .await
        } else {
            OnOwnDisk::start(Disk::Tmpfs("4m"), None, r#"mount -o remount,bind,ro "$M""#).await
        };
        let (client, base) = (&disk.client, disk.base.as_str());
        let (status, retry_after) = post(client, base, "m-1").await;
        assert_eq!(status, 503, "existing {existing}: {:#?}", disk.log());
        assert!(retry_after.is_some());
        let (status, detail) = readyz(client, base).await;
        assert_eq!(status, 503);
        assert!(
            detail.contains("read-only file system")
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

/// The kernel makes the inbox's file system read-only under the running
/// receiver (ext4's `errors=remount-ro` after an I/O error, set off through
/// its `trigger_fs_error`; the mount still reads `rw`): every event answered
/// 2xx is stored, the others are answered 503 with `Retry-After`, and
/// `/readyz` says the file system is read-only and to look at the disk (it
/// said the file's mode or owner, and to let the user write it). Such a
/// file system is made writable again only by an unmount and `fsck`, so
/// nothing is stored again here. Needs real root (a loop device): skipped
/// without.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_system_the_kernel_makes_read_only_mid_run_is_named() {
    let tools = ["losetup", "mkfs.ext4"].iter().all(|tool| {
        std::process::Command::new(tool)
            .arg("--version")
            .output()
            .is_ok()
    });
    if !is_root() || !Path::new("/dev/loop-control").exists() || !tools {
        eprintln!("skipped: needs root, loop devices, losetup and mkfs.ext4");
        return;
    }
    let disk = OnOwnDisk::start(Disk::Ext4, None, "true").await;
    let (client, base) = (&disk.client, disk.base.as_str());
    let mut answers: HashMap<String, Vec<u16>> = HashMap::new();
    for n in 0..8 {
        let id = format!("m-{n}");
        let (status, _) = post(client, base, &id).await;
        assert_eq!(status, 202, "{:#?}", disk.log());
        answers.entry(id).or_default().push(status);
    }
    let mount = disk.mount.display().to_string();
    let source = disk.inside(&["findmnt", "-no", "SOURCE", &mount]);
    let device = String::from_utf8_lossy(&source.stdout).trim().to_string();
    let device = device.rsplit('/').next().unwrap();
    std::fs::write(format!("/sys/fs/ext4/{device}/trigger_fs_error"), "1").unwrap();

    // Whatever is in flight when the error lands, it is answered truly.
    let mut n = 8;
    loop {
        n += 1;
        assert!(n < 1000, "never refused: {:#?}", disk.log());
        let id = format!("m-{n}");
        let (status, retry_after) = post(client, base, &id).await;
        answers.entry(id).or_default().push(status);
        match status {
            202 => {}
            503 => {
                assert!(retry_after.is_some());
                break;
            }
            other => panic!("{other}: {:#?}", disk.log()),
        }
    }
    let (status, detail) = readyz(client, base).await;
    assert_eq!(status, 503, "{:#?}", disk.log());
    assert!(
        detail.contains("read-only file system")
            && detail.contains("dmesg")
            && !detail.contains("mode or owner"),
        "{detail}"
    );
    assert_eq!(post(client, base, "later").await.0, 503);
    answers.entry("later".into()).or_default().push(503);
    disk.check(&answers);
}
