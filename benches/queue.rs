//! Claim cost against the size of the backlog: a processor with a handler
//! that does nothing starts on an inbox holding 1,000, 100,000 or 1,000,000
//! queued events (spread over 1,000 orders, so every order has a backlog),
//! and the time to hand the first 10,000 of them (or all 1,000) to the
//! handler is measured: claims and outcome commits, nothing else. The aim
//! is a flat line: finding the next events must not walk the backlog.
//!
//! Run it with `scripts/queue-bench.sh` (SQLite, and PostgreSQL on a
//! throwaway cluster). Settings from the environment: `QUEUE_SIZES`
//! (default `1000,100000,1000000`), `QUEUE_PG_URLS` (comma separated, one
//! empty database per size; without it only SQLite runs), `QUEUE_INSTANCES`
//! (1 or 2 processors on PostgreSQL).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tradecloud::inbox::{EventKind, Inbox, InboxOptions, NewEvent, NewState};
use tradecloud::processing::{handler_fn, Processor, ProcessorConfig};

const ORDERS: u64 = 1000;
const MEASURED: u64 = 10_000;

fn event(n: u64) -> NewEvent {
    let order = format!("order-{:04}", n % ORDERS);
    let message = format!("bench-{n}");
    let body = format!(
        r#"{{"eventName":"OrderLinesConfirmedBySupplier","meta":{{"messageId":"{message}"}},"orderEvent":{{"orderId":"{order}","lines":[]}}}}"#
    );
    NewEvent {
        kind: EventKind::Order,
        event_name: Some("OrderLinesConfirmedBySupplier".into()),
        object_id: Some(order),
        message_id: Some(message),
        content_type: "application/json".into(),
        body: Bytes::from(body),
        state: NewState::Received,
        source: None,
        headers: Vec::new(),
    }
}

/// Store `size` events through `writers` (several handles: several writers).
async fn fill(writers: &[Inbox], size: u64) -> Duration {
    let start = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for t in 0..256 {
        let inbox = writers[t % writers.len()].clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= size {
                    break;
                }
                let mut delay = Duration::from_millis(5);
                while let Err(e) = inbox.store(event(n)).await {
                    assert!(e.is_transient(), "{e}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_millis(200));
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("a fill task");
    }
    start.elapsed()
}

/// Hand the first `target` events to a no-op handler with `processors`
/// processors; the time it took.
async fn drain(processors: &[Inbox], target: u64) -> Duration {
    let handled = Arc::new(AtomicU64::new(0));
    let mut stops = Vec::new();
    let mut running = Vec::new();
    let start = Instant::now();
    for inbox in processors {
        let counter = handled.clone();
        let handler = handler_fn(move |_event, _ctx| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        running.push(tokio::spawn(
            Processor::new(inbox.clone(), handler, ProcessorConfig::default()).run(async {
                let _ = stopped.await;
            }),
        ));
    }
    while handled.load(Ordering::Relaxed) < target {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let elapsed = start.elapsed();
    for stop in stops {
        let _ = stop.send(());
    }
    for task in running {
        let _ = task.await;
    }
    elapsed
}

async fn run(store: &str, url: &str, size: u64, instances: usize) {
    let options = InboxOptions {
        max_batch: 4096,
        queue_capacity: 16384,
        ..InboxOptions::default()
    };
    let mut writers = Vec::new();
    for _ in 0..4 {
        writers.push(
            Inbox::connect_with(url, options.clone())
                .await
                .expect("open the inbox"),
        );
        if store == "sqlite" {
            break; // one writer thread per file
        }
    }
    let filled = fill(&writers, size).await;
    let mut processors = vec![writers[0].clone()];
    for _ in 1..instances {
        processors.push(Inbox::connect(url).await.expect("open the inbox"));
    }
    let target = MEASURED.min(size);
    let took = drain(&processors, target).await;
    let per_second = target as f64 / took.as_secs_f64();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!(
        "| {store} | {instances} | {size} | {:.1} s | first {target} handled in {:.2} s | **{per_second:.0}** | {:.0} µs | {} |",
        filled.as_secs_f64(),
        took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / target as f64,
        load.join(" ")
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sizes: Vec<u64> = std::env::var("QUEUE_SIZES")
        .unwrap_or_else(|_| "1000,100000,1000000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("QUEUE_SIZES: whole numbers"))
        .collect();
    let instances: usize = std::env::var("QUEUE_INSTANCES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    println!("| store | processors | backlog (events, 1,000 orders) | fill | handed to a no-op handler | events/s | per event | load avg |");
    println!("|---|---:|---:|---:|---|---:|---:|---|");
    match std::env::var("QUEUE_PG_URLS") {
        Ok(urls) => {
            let urls: Vec<&str> = urls.split(',').collect();
            assert_eq!(urls.len(), sizes.len(), "one database per size");
            for (size, url) in sizes.iter().zip(urls) {
                run("postgres", url, *size, instances).await;
            }
        }
        Err(_) => {
            for size in sizes {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
                run("sqlite", &url, size, 1).await;
            }
        }
    }
}
