//! A 200 MB file uploads with bounded memory.
//!
//! What this proves, honestly: the peak resident memory (`VmHWM` of
//! `/proc/self/status`, reset through `/proc/self/clear_refs` before each
//! upload where the kernel allows it) of this whole test process — the
//! client *and* the in-process server receiving the file — grows by far
//! less than the file's size, and by about the same for 20 MB as for
//! 200 MB. The server is the test's own (axum, parsing the
//! `multipart/form-data` body as it streams with multer and checking every
//! byte), not the mock, which keeps uploads in memory. This file holds one
//! test so that no other test runs in the process at the same time. Linux
//! only.

#![cfg(all(feature = "mock", target_os = "linux"))]

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::routing::post;
use axum::Router;
use tradecloud::client::{AuthMode, Client, RetryPolicy};

/// Named after the file, so that `cargo test --tests client` selects these tests.
mod client_upload_memory {
    use super::*;

    const MB: u64 = 1024 * 1024;

    fn byte(offset: u64) -> u8 {
        (offset % 251) as u8
    }

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

    /// Writes `size` bytes of the pattern to a file, 1 MiB at a time.
    fn write_file(path: &std::path::Path, size: u64) {
        let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("a file"));
        // The pattern has a period of 251: a block one period longer than
        // 1 MiB holds every 1 MiB stretch of it, at an offset.
        let block: Vec<u8> = (0..MB + 251).map(byte).collect();
        let mut written = 0;
        while written < size {
            let n = (size - written).min(MB) as usize;
            let start = (written % 251) as usize;
            let chunk = &block[start..start + n];
            file.write_all(chunk).expect("written");
            written += n as u64;
        }
        file.flush().expect("flushed");
    }

    /// Receives an upload as it streams: the `file` part's bytes are
    /// checked against the pattern and counted, never kept.
    async fn receive(State(received): State<Arc<AtomicU64>>, request: Request) -> String {
        let boundary = request
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| multer::parse_boundary(v).ok())
            .expect("a multipart body");
        let stream = request.into_body().into_data_stream();
        let mut form = multer::Multipart::new(stream, boundary);
        let mut count = 0u64;
        while let Some(mut field) = form.next_field().await.expect("a part") {
            assert_eq!(field.name(), Some("file"));
            while let Some(chunk) = field.chunk().await.expect("a chunk") {
                for (i, b) in chunk.iter().enumerate() {
                    assert_eq!(*b, byte(count + i as u64), "byte {}", count + i as u64);
                }
                count += chunk.len() as u64;
            }
        }
        received.store(count, Ordering::SeqCst);
        r#"{"id":"67aa8ece-5d41-496f-a94c-483e360b833b"}"#.to_owned()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_200_mb_file_uploads_in_bounded_memory() {
        let received = Arc::new(AtomicU64::new(0));
        let app = Router::new()
            .route("/v2/object-storage/document", post(receive))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = Client::builder()
            .base_url(format!("http://{addr}/v2"))
            .credentials("integration@example.com", "secret")
            .auth_mode(AuthMode::BasicEveryRequest)
            .retry_policy(RetryPolicy::none())
            .build()
            .expect("a client");
        let dir = tempfile::tempdir().expect("a directory");

        // Warm up: connections, buffers and thread stacks exist after this.
        let warm_up = dir.path().join("warm-up.pdf");
        write_file(&warm_up, MB);
        client
            .documents()
            .upload(&warm_up)
            .await
            .expect("the warm-up upload");

        let mut growth = Vec::new();
        for (name, size) in [("small.pdf", 20 * MB), ("large.pdf", 200 * MB)] {
            let path = dir.path().join(name);
            write_file(&path, size);
            let resettable = reset_peak();
            let before = peak_rss();
            let started = Instant::now();
            let mut reports = 0u64;
            let uploaded = client
                .documents()
                .upload(&path)
                .progress(|_| reports += 1)
                .await
                .expect("the upload succeeds");
            let elapsed = started.elapsed();
            let after = peak_rss();
            assert_eq!(uploaded.bytes, size);
            assert_eq!(received.load(Ordering::SeqCst), size, "every byte arrived");
            assert!(reports > 1, "progress was reported");
            let grew = after.saturating_sub(before);
            eprintln!(
                "{name}: {} MB in {elapsed:.2?}; peak RSS {} -> {} MiB (+{:.1} MiB, peak reset: {resettable})",
                size / MB,
                before / MB,
                after / MB,
                grew as f64 / MB as f64,
            );
            growth.push(grew);
            std::fs::remove_file(&path).expect("clean up");
        }
        // 200 MB buffered anywhere would show as at least +200 MiB.
        assert!(
            growth[1] < 32 * MB,
            "peak memory grew by {} MiB for a 200 MB upload",
            growth[1] / MB
        );
        assert!(
            growth[1] <= growth[0] + 16 * MB,
            "memory should not depend on the size: +{} MiB for 20 MB, +{} MiB for 200 MB",
            growth[0] / MB,
            growth[1] / MB
        );
    }
}
