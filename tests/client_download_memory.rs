//! A 200 MB document downloads with bounded memory.
//!
//! What this proves, honestly: the peak resident memory (`VmHWM` of
//! `/proc/self/status`, reset through `/proc/self/clear_refs` before each
//! download where the kernel allows it) of this whole test process — the
//! client *and* the in-process mock serving the file — grows by far less
//! than the file's size, and by about the same for 20 MB as for 200 MB. It
//! does not measure the client alone. This file holds one test so that no
//! other test runs in the process at the same time. Linux only.

#![cfg(all(feature = "mock", target_os = "linux"))]

use std::io::Read as _;
use std::time::{Duration, Instant};

use tradecloud::client::{DownloadOutcome, RetryPolicy};
use tradecloud::mock::{generated_byte, MockConfig, MockDocument};

#[path = "client_support/mod.rs"]
mod support;
use support::{builder, start};

/// Named after the file, so that `cargo test --tests client` selects these tests.
mod client_download_memory {
    use super::*;

    const MB: u64 = 1024 * 1024;

    /// The peak resident set size so far, in bytes.
    fn peak_rss() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
        let line = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .expect("a VmHWM line");
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .expect("a number");
        kib * 1024
    }

    /// Resets the peak to the current resident size (Linux ≥ 4.0); false when
    /// not allowed, in which case the peak so far stays as a baseline.
    fn reset_peak() -> bool {
        std::fs::write("/proc/self/clear_refs", "5").is_ok()
    }

    /// Checks the file against the generated pattern, 1 MiB at a time.
    fn verify(path: &std::path::Path, size: u64) {
        let mut file = std::fs::File::open(path).expect("the file");
        let mut buffer = vec![0u8; MB as usize];
        let mut offset = 0u64;
        loop {
            let n = file.read(&mut buffer).expect("a read");
            if n == 0 {
                break;
            }
            for (i, byte) in buffer[..n].iter().enumerate() {
                assert_eq!(
                    *byte,
                    generated_byte(offset + i as u64),
                    "byte {}",
                    offset + i as u64
                );
            }
            offset += n as u64;
        }
        assert_eq!(offset, size);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_200_mb_document_downloads_in_bounded_memory() {
        let server = start(
            MockConfig::new()
                .document("small", MockDocument::generated("small.bin", 20 * MB))
                .document("large", MockDocument::generated("large.bin", 200 * MB))
                .document("warm-up", MockDocument::generated("warm-up.bin", MB)),
        )
        .await;
        let client = builder(&server)
            .retry_policy(RetryPolicy::none())
            .build()
            .expect("a client");
        let dir = tempfile::tempdir().expect("a directory");

        // Warm up: connections, logins, buffers and thread stacks exist after this.
        let _ = client
            .documents()
            .download("warm-up", dir.path())
            .await
            .expect("the warm-up download");

        let mut growth = Vec::new();
        for (object_id, size) in [("small", 20 * MB), ("large", 200 * MB)] {
            let resettable = reset_peak();
            let before = peak_rss();
            let started = Instant::now();
            let outcome = client
                .documents()
                .download(object_id, dir.path())
                .await
                .expect("the download succeeds");
            let elapsed = started.elapsed();
            let after = peak_rss();
            let DownloadOutcome::Downloaded(file) = outcome else {
                panic!("a file")
            };
            assert_eq!(file.bytes, size);
            let grew = after.saturating_sub(before);
            eprintln!(
                "{object_id}: {} MB in {elapsed:.2?} ({:.0} MB/s); peak RSS {} -> {} MiB (+{:.1} MiB, peak reset: {resettable})",
                size / MB,
                size as f64 / MB as f64 / elapsed.as_secs_f64().max(f64::EPSILON),
                before / MB,
                after / MB,
                grew as f64 / MB as f64,
            );
            growth.push(grew);
            verify(&file.path, size);
            std::fs::remove_file(&file.path).expect("clean up");
        }
        // 200 MB buffered anywhere would show as at least +200 MiB.
        assert!(
            growth[1] < 32 * MB,
            "peak memory grew by {} MiB for a 200 MB download",
            growth[1] / MB
        );
        assert!(
            growth[1] <= growth[0] + 16 * MB,
            "memory should not depend on the size: +{} MiB for 20 MB, +{} MiB for 200 MB",
            growth[0] / MB,
            growth[1] / MB
        );
        let _ = Duration::ZERO;
    }
}
