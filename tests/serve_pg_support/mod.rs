//! The scenario of several `tradecloud serve` processes on one PostgreSQL
//! inbox, shared by `serve_postgres.rs` (plain TCP) and `postgres_tls.rs`
//! (`sslmode=verify-full`): the store URL is given through
//! `TRADECLOUD_STORE_URL`, `tradecloud inbox list --json` reads the result.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};
use tradecloud::receiver::tls;

use crate::receiver_support::*;

const ORDERS: usize = 50;
const SENDERS: usize = 6;
const EVENTS_PER_SENDER: usize = 120;

pub struct Serve {
    pub child: Child,
    pub url: String,
    pub client: reqwest::Client,
}

pub async fn serve(exe: &str, config: &Path, cert: &str, store_url: &str) -> Serve {
    let mut command = Command::new(exe);
    command
        .arg("serve")
        .arg("--config")
        .arg(config)
        .env("TRADECLOUD_AUTH_PASSWORD", PASSWORD)
        .env("TRADECLOUD_STORE_URL", store_url)
        .env("RUST_LOG", "warn");
    let (child, addr) = spawn_serve(command, Duration::from_secs(60)).await;
    Serve {
        child,
        url: format!("https://localhost:{}/tradecloud/order", addr.port()),
        client: client_for(cert, addr),
    }
}

pub fn body(template: &str, message_id: &str, order: &str) -> String {
    template
        .replace("5b0c2f0e-8f4a-4d5e-9c3b-2a1d0e9f8c7b", message_id)
        .replacen("\"orderId\": \"", &format!("\"orderId\": \"{order}-"), 1)
}

/// `tradecloud inbox list --json` with the store URL from the environment.
pub fn inbox_list(exe: &str, store_url: &str, state: Option<&str>) -> Vec<serde_json::Value> {
    let mut command = std::process::Command::new(exe);
    command
        .args(["inbox", "list", "--json", "--limit", "100000"])
        .env("TRADECLOUD_STORE_URL", store_url);
    if let Some(state) = state {
        command.args(["--state", state]);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "inbox list: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Two `tradecloud serve` processes (`exe`) on the PostgreSQL inbox at
/// `store_url`, events for 50 orders streaming to both from several
/// senders; one process is SIGKILLed mid-stream and started again. Every
/// event answered 2xx is stored exactly once and ends `done`, and each
/// order's events finish in the order they were stored.
pub async fn two_instances_lose_nothing_when_one_is_killed(exe: &str, store_url: &str) {
    let store_url = store_url.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = tls::dev_certificate(&["localhost"]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    let config = dir.path().join("tradecloud.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ntls_cert = {:?}\ntls_key = {:?}\n\
             [auth]\nmethod = \"basic\"\nusername = \"{USER}\"\n\
             [processing]\nlease_secs = 3\npoll_interval_ms = 100\nbatch = 16\n",
            cert_path.display().to_string(),
            key_path.display().to_string(),
        ),
    )
    .unwrap();

    let a = serve(exe, &config, &cert, &store_url).await;
    let b = serve(exe, &config, &cert, &store_url).await;
    let targets = Arc::new(Mutex::new(vec![
        (a.url.clone(), a.client.clone()),
        (b.url.clone(), b.client.clone()),
    ]));
    let template = String::from_utf8(fixture("order-webhook/order-event.json")).unwrap();

    // message id -> (order, answers): every 2xx, from whichever instance.
    let acknowledged: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let mut senders = Vec::new();
    for sender in 0..SENDERS {
        let targets = targets.clone();
        let template = template.clone();
        let acknowledged = acknowledged.clone();
        senders.push(tokio::spawn(async move {
            let mut target = sender % 2;
            for i in 0..EVENTS_PER_SENDER {
                let message_id = format!("m-{sender}-{i}");
                let order = format!("order-{}", (i * SENDERS + sender) % ORDERS);
                let body = body(&template, &message_id, &order);
                // Like a load balancer: an instance that does not answer is
                // skipped, and the event is sent to the other one.
                let started = Instant::now();
                loop {
                    assert!(
                        started.elapsed() < Duration::from_secs(60),
                        "{message_id} never acknowledged"
                    );
                    let (url, client) = targets.lock().unwrap()[target].clone();
                    let sent = client
                        .post(&url)
                        .basic_auth(USER, Some(PASSWORD))
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                    match sent {
                        Ok(response) if response.status().is_success() => {
                            *acknowledged.lock().unwrap().entry(message_id).or_default() += 1;
                            break;
                        }
                        Ok(response) => {
                            assert!(
                                response.status().as_u16() > 500,
                                "unexpected {}",
                                response.status()
                            );
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(_) => target = 1 - target,
                    }
                }
                tokio::time::sleep(Duration::from_millis(fastrand::u64(0..10))).await;
            }
        }));
    }

    // Mid-stream: once a third of the events are acknowledged (however fast
    // the build), SIGKILL instance a, then start it again.
    let started = Instant::now();
    while acknowledged.lock().unwrap().len() < SENDERS * EVENTS_PER_SENDER / 3 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "a third of the events acknowledged within a minute"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut a = a;
    a.child.start_kill().unwrap();
    a.child.wait().await.unwrap();
    let stored_when_killed = inbox_list(exe, &store_url, None).len();
    let restarted = serve(exe, &config, &cert, &store_url).await;
    targets.lock().unwrap()[0] = (restarted.url.clone(), restarted.client.clone());
    for sender in senders {
        tokio::time::timeout(Duration::from_secs(180), sender)
            .await
            .expect("senders finish")
            .unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert_eq!(acknowledged.len(), SENDERS * EVENTS_PER_SENDER);
    assert!(
        stored_when_killed > 0 && stored_when_killed < SENDERS * EVENTS_PER_SENDER,
        "the kill was mid-stream: {stored_when_killed} stored"
    );

    // Every stored event ends done (both instances process).
    let deadline = Instant::now() + Duration::from_secs(180);
    let done = loop {
        let all = inbox_list(exe, &store_url, None);
        let done = inbox_list(exe, &store_url, Some("done"));
        if !all.is_empty() && done.len() == all.len() {
            break done;
        }
        assert!(
            Instant::now() < deadline,
            "not all done: {} of {}; states: {:?}",
            done.len(),
            all.len(),
            all.iter()
                .map(|e| e["state"].as_str().unwrap_or("?").to_string())
                .fold(BTreeMap::<String, usize>::new(), |mut m, s| {
                    *m.entry(s).or_default() += 1;
                    m
                })
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    // Stored exactly once: one row per acknowledged message id.
    let mut rows: HashMap<String, usize> = HashMap::new();
    for event in &done {
        *rows
            .entry(event["messageId"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    for message_id in acknowledged.keys() {
        assert_eq!(
            rows.get(message_id),
            Some(&1),
            "{message_id} answered 2xx: stored once"
        );
    }
    assert_eq!(
        rows.len(),
        acknowledged.len(),
        "nothing stored that was not sent"
    );

    // Each order's events finished in stored (id) order.
    let mut per_order: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for event in &done {
        per_order
            .entry(event["orderId"].as_str().unwrap().to_string())
            .or_default()
            .push((
                event["id"].as_i64().unwrap(),
                event["updatedAt"].as_str().unwrap().to_string(),
            ));
    }
    assert_eq!(per_order.len(), ORDERS);
    for (order, mut events) in per_order {
        events.sort();
        for pair in events.windows(2) {
            assert!(
                pair[0].1 <= pair[1].1,
                "order {order}: event {} finished at {} after event {} at {}",
                pair[0].0,
                pair[0].1,
                pair[1].0,
                pair[1].1
            );
        }
    }
    drop(b);
    drop(restarted);
}
