//! The load generator of `scripts/load-test.sh --orders N`: POSTs order
//! events to a receiver over TLS with Basic auth from many connections for a
//! fixed time, each event with its own `messageId` and one of N order ids
//! (so that the processor's per-order queues are what they are in
//! production, or, with N = 1, a burst for one order). Prints one JSON
//! object: requests sent, 2xx answered, status counts, seconds, p50/p99 ms.
//!
//! Not a criterion benchmark; run through the script, which starts the
//! receiver. Settings come from the environment: `LOAD_URL`, `LOAD_USER`,
//! `LOAD_PASSWORD`, `LOAD_CACERT` (PEM file), `LOAD_BODY` (JSON file whose
//! `"orderId"` and `"messageId"` values are replaced), `LOAD_SECS`,
//! `LOAD_CONNECTIONS`, `LOAD_ORDERS`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn number(name: &str, default: u64) -> u64 {
    env(name, &default.to_string())
        .parse()
        .unwrap_or_else(|_| panic!("{name} must be a whole number"))
}

/// The template with its order id and message id values replaced by
/// `{order}` and `{message}` markers.
fn template(body: &str) -> (String, String, String) {
    let value = |key: &str| -> String {
        let at = body
            .find(&format!("\"{key}\""))
            .unwrap_or_else(|| panic!("LOAD_BODY has no {key}"));
        let rest = &body[at + key.len() + 2..];
        let start = rest.find('"').expect("a string value") + 1;
        let end = rest[start..].find('"').expect("a closing quote") + start;
        rest[start..end].to_string()
    };
    let (order, message) = (value("orderId"), value("messageId"));
    (body.to_string(), order, message)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes --bench; there is nothing to filter.
    let Ok(url) = std::env::var("LOAD_URL") else {
        eprintln!(
            "benches/load.rs is run by scripts/load-test.sh --orders N (LOAD_URL is not set)"
        );
        return;
    };
    let user = env("LOAD_USER", "tradecloud");
    let password = env("LOAD_PASSWORD", "");
    let cert = std::fs::read(env("LOAD_CACERT", "cert.pem")).expect("LOAD_CACERT");
    let body = std::fs::read_to_string(env("LOAD_BODY", "body.json")).expect("LOAD_BODY");
    let secs = number("LOAD_SECS", 5);
    let connections = number("LOAD_CONNECTIONS", 32).max(1);
    let orders = number("LOAD_ORDERS", 1000).max(1);
    let (body, order_id, message_id) = template(&body);

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).expect("a PEM certificate"))
        .pool_max_idle_per_host(connections as usize)
        .build()
        .expect("a client");
    let statuses: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let run = fastrand::u32(..);
    let mut tasks = Vec::new();
    for connection in 0..connections {
        let (client, url, user, password) =
            (client.clone(), url.clone(), user.clone(), password.clone());
        let (body, order_id, message_id) = (body.clone(), order_id.clone(), message_id.clone());
        let (statuses, latencies) = (statuses.clone(), latencies.clone());
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            let mut i = 0u64;
            while Instant::now() < end {
                let order = format!("order-{:04}", fastrand::u64(..orders));
                let message = format!("load-{run:08x}-{connection}-{i}");
                i += 1;
                let event = body
                    .replace(&order_id, &order)
                    .replace(&message_id, &message);
                let sent = Instant::now();
                let answer = client
                    .post(&url)
                    .basic_auth(&user, Some(&password))
                    .header("content-type", "application/json")
                    .body(event)
                    .send()
                    .await;
                let status = match answer {
                    Ok(response) => {
                        let status = response.status().as_u16().to_string();
                        let _ = response.bytes().await;
                        status
                    }
                    Err(_) => "error".to_string(),
                };
                mine.push(sent.elapsed());
                *statuses.lock().unwrap().entry(status).or_default() += 1;
            }
            latencies.lock().unwrap().extend(mine);
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let statuses = statuses.lock().unwrap().clone();
    let mut latencies = latencies.lock().unwrap().clone();
    latencies.sort();
    let percentile = |p: f64| -> f64 {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let ok: u64 = statuses
        .iter()
        .filter(|(s, _)| s.starts_with('2'))
        .map(|(_, n)| n)
        .sum();
    println!(
        "{}",
        serde_json::json!({
            "sent": latencies.len(),
            "ok": ok,
            "statuses": statuses,
            "seconds": elapsed,
            "okPerSec": ok as f64 / elapsed,
            "p50Ms": percentile(0.5),
            "p99Ms": percentile(0.99),
            "orders": orders,
            "connections": connections,
        })
    );
}
