//! Durable events per second of the inbox (`Inbox::store`, group commit,
//! WAL with `synchronous=FULL`: every acknowledged event is fsync'd) for
//! ~3 KB order webhook bodies from many concurrent callers, like a receiver
//! under load; plus store latency percentiles at a fixed offered rate.
//!
//! The database is a file in a temporary directory on the same disk as the
//! system's temp dir (`TMPDIR` chooses another).
//!
//! Run with `cargo bench --bench inbox` (about a minute on 2 cores).
//! Criterion reports `thrpt` in elements (durable events) per second for 1,
//! 16, 64 and 256 concurrent callers; afterwards the p50/p99/max latency of
//! `store` at 1,000 and 5,000 events/s offered is printed (after a 1 s
//! warm-up that is not counted).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput};
use tradecloud::inbox::{EventKind, Inbox, NewEvent, NewState};

/// Events stored per measured iteration.
const EVENTS: usize = 2000;
/// Body size, a typical order event with a few lines.
const BODY_BYTES: usize = 3 * 1024;

fn body(order: &str, message: &str) -> Bytes {
    let head = format!(
        r#"{{"eventName":"OrderLinesConfirmedBySupplier","meta":{{"messageId":"{message}","createdDateTime":"2025-04-23T10:01:53.812Z"}},"orderEvent":{{"orderId":"{order}","lines":[{{"id":"l1","deliverySchedule":[{{"position":1,"date":"2025-05-01","quantity":120.000}}]}}]}},"padding":""#
    );
    let pad = BODY_BYTES.saturating_sub(head.len() + 2);
    Bytes::from(format!("{head}{}\"}}", "x".repeat(pad)))
}

fn event(n: u64) -> NewEvent {
    let order = format!("order-{}", n % 500);
    let message = format!("bench-{n}-{}", fastrand::u64(..));
    NewEvent {
        kind: EventKind::Order,
        event_name: Some("OrderLinesConfirmedBySupplier".into()),
        object_id: Some(order.clone()),
        message_id: Some(message.clone()),
        content_type: "application/json".into(),
        body: body(&order, &message),
        state: NewState::Received,
        source: Some("POST /tradecloud/order".into()),
        headers: Vec::new(),
    }
}

/// Store `EVENTS` events from `callers` concurrent tasks; returns the time taken.
async fn store_batch(
    inbox: &Inbox,
    callers: usize,
    counter: &Arc<std::sync::atomic::AtomicU64>,
) -> Duration {
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(callers);
    for c in 0..callers {
        let inbox = inbox.clone();
        let counter = counter.clone();
        let share = EVENTS / callers + usize::from(c < EVENTS % callers);
        tasks.push(tokio::spawn(async move {
            for _ in 0..share {
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                inbox.store(event(n)).await.expect("store");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

fn store_throughput(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let inbox = Inbox::open(&format!(
        "sqlite://{}",
        dir.path().join("bench.db").display()
    ))
    .unwrap();
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));

    let mut group = c.benchmark_group("inbox_store_3k");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    for callers in [1usize, 16, 64, 256] {
        group.bench_with_input(
            BenchmarkId::new("callers", callers),
            &callers,
            |b, &callers| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            total += store_batch(&inbox, callers, &counter).await;
                        }
                        total
                    })
                });
            },
        );
    }
    group.finish();
}

/// Offer `rate` events/s for `seconds` (each event its own task, like one
/// request each) and print the latency percentiles of `store`.
fn latency_report(rate: u64, seconds: u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let inbox = Inbox::open(&format!(
        "sqlite://{}",
        dir.path().join("latency.db").display()
    ))
    .unwrap();
    // One second of warm-up first, not counted: the new file's first commits
    // (and the disk flushing what the throughput runs left) are not the
    // steady state.
    let warmup = rate as usize;
    let mut latencies = rt.block_on(async {
        let total = rate * (seconds + 1);
        let interval = Duration::from_secs_f64(1.0 / rate as f64);
        let start = tokio::time::Instant::now();
        let mut tasks = Vec::with_capacity(total as usize);
        for n in 0..total {
            tokio::time::sleep_until(start + interval.mul_f64(n as f64)).await;
            let inbox = inbox.clone();
            let event = event(n);
            tasks.push(tokio::spawn(async move {
                let t = Instant::now();
                inbox.store(event).await.expect("store");
                t.elapsed()
            }));
        }
        let mut latencies = Vec::with_capacity(tasks.len());
        for t in tasks {
            latencies.push(t.await.unwrap());
        }
        latencies.split_off(warmup)
    });
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let over_50ms = latencies
        .iter()
        .filter(|l| **l > Duration::from_millis(50))
        .count();
    println!(
        "inbox store latency at {rate} events/s offered for {seconds} s ({} events, 3 KB, after 1 s warm-up): \
         p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {over_50ms} over 50 ms",
        latencies.len(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
    );
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    store_throughput(&mut criterion);
    criterion.final_summary();
    // `cargo test --benches` runs benchmarks once as a smoke test: skip the report there.
    if !std::env::args().any(|a| a == "--test") {
        latency_report(1000, 5);
        latency_report(5000, 5);
    }
}
