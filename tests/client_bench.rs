//! Benchmark of the typed client against the mock of Tradecloud (not run by
//! default; the figures go to `BENCHMARKS.md`, section "Client"):
//!
//! ```text
//! cargo test --release --test integration client_bench -- --ignored --nocapture --test-threads 1
//! ```
//!
//! * logins per 1,000 calls from 50 concurrent tasks (the mock's counter),
//!   with the access token living an hour and with it living 2 seconds;
//! * download throughput of a 1 GiB generated document from the mock's
//!   presigned URL: `Client::download` next to `curl` on the same URL
//!   (best of three each, both writing to a file in the same directory).

#![cfg(feature = "mock")]

use std::time::{Duration, Instant};

use tradecloud::client::{ClientError, DownloadOutcome};
use tradecloud::mock::{MockConfig, MockDocument};

use crate::client_support as support;
use support::{builder, start, ORDER_ID};

const SIZE: u64 = 1024 * 1024 * 1024;
const MIB: f64 = 1024.0 * 1024.0;

async fn thousand_calls(access_token_lifetime: Duration) -> (u64, u64, Duration) {
    let server = start(
        MockConfig::new()
            .demo_data()
            .access_token_lifetime(access_token_lifetime),
    )
    .await;
    let client = builder(&server).build().expect("a client");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..20 {
                client.orders().get(ORDER_ID).await?;
                // Spread the calls over a few seconds, so that a short-lived
                // token expires in between.
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            Ok::<_, ClientError>(())
        }));
    }
    for task in tasks {
        task.await.expect("the task").expect("the calls");
    }
    let elapsed = started.elapsed();
    let stats = server.stats();
    (stats.logins, stats.refreshes, elapsed)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
async fn client_benchmark() {
    for lifetime in [Duration::from_secs(3600), Duration::from_secs(2)] {
        let (logins, refreshes, elapsed) = thousand_calls(lifetime).await;
        println!(
                "BENCH logins per 1000 calls (50 tasks x 20, access token {lifetime:?}): {logins} login(s), \
                 {refreshes} refresh(es), {elapsed:.2?}"
            );
    }

    let server = start(
        MockConfig::new()
            .download_url_lifetime(Duration::from_secs(3600))
            .document("big", MockDocument::generated("big.bin", SIZE)),
    )
    .await;
    let client = builder(&server).build().expect("a client");
    let dir = tempfile::tempdir_in(".").expect("a directory next to the crate");

    let mut client_best = f64::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let outcome = client
            .documents()
            .download("big", dir.path())
            .await
            .expect("the download");
        let seconds = started.elapsed().as_secs_f64();
        let DownloadOutcome::Downloaded(file) = outcome else {
            panic!("a file")
        };
        assert_eq!(file.bytes, SIZE);
        std::fs::remove_file(&file.path).expect("clean up");
        client_best = client_best.min(seconds);
    }

    let mut curl_best = f64::MAX;
    let target = dir.path().join("curl.bin");
    for _ in 0..3 {
        let url = server.presigned_url("big").expect("a presigned URL");
        let output = tokio::process::Command::new("curl")
            .args(["--silent", "--show-error", "--fail", "--output"])
            .arg(&target)
            .args(["--write-out", "%{time_total} %{size_download}", &url])
            .output()
            .await
            .expect("curl runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report = String::from_utf8_lossy(&output.stdout).into_owned();
        let mut fields = report.split_whitespace();
        let seconds: f64 = fields
            .next()
            .and_then(|s| s.parse().ok())
            .expect("time_total");
        let bytes: u64 = fields
            .next()
            .and_then(|s| s.parse().ok())
            .expect("size_download");
        assert_eq!(bytes, SIZE);
        std::fs::remove_file(&target).expect("clean up");
        curl_best = curl_best.min(seconds);
    }
    println!(
        "BENCH download 1 GiB from the mock: Client::download {:.0} MiB/s ({client_best:.2} s), \
             curl {:.0} MiB/s ({curl_best:.2} s)",
        SIZE as f64 / MIB / client_best,
        SIZE as f64 / MIB / curl_best
    );
}
