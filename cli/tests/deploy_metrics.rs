//! Every metric the alert rules in `deploy/prometheus/tradecloud-alerts.yml`
//! use is served by a running `tradecloud serve`: the test starts one,
//! delivers an event (handled), an order event at the shipment URL, a
//! request with a wrong password and one in plain HTTP, lets the API check at start meet a refused `[tradecloud]`
//! password (the mock of Tradecloud), scrapes
//! `/metrics`, and checks each `tradecloud_*` name of the rules file, and
//! the labels its selectors match on, against the scrape. (`promtool check
//! rules` and `promtool test rules` run in `scripts/check-deploy.sh`.)

use crate::receiver_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use receiver_support::*;
use tokio::process::Command;
use tradecloud::mock::{MockConfig, MockServer};
use tradecloud::receiver::tls;

/// Target labels Prometheus adds itself.
const TARGET_LABELS: &[&str] = &["job", "instance"];

/// The sample names of a scrape (a family without samples yet would count
/// with the names its type gives them; prometheus-client leaves such
/// families out), and the label names seen per sample name.
fn scraped(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (Some(family), Some(kind)) = (parts.next(), parts.next()) else {
                continue;
            };
            let suffixes: &[&str] = match kind {
                "counter" => &["_total", "_created"],
                "histogram" => &["_bucket", "_sum", "_count", "_created"],
                "summary" => &["", "_sum", "_count", "_created"],
                _ => &[""],
            };
            for suffix in suffixes {
                names.entry(format!("{family}{suffix}")).or_default();
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            let labels = names.entry(line[..end].to_string()).or_default();
            if let Some(inner) = line[end..].strip_prefix('{') {
                let inner = &inner[..inner.find('}').unwrap_or(inner.len())];
                for pair in inner.split(',') {
                    if let Some((name, _)) = pair.split_once('=') {
                        labels.insert(name.trim().to_string());
                    }
                }
            }
        }
    }
    names
}

/// Each `tradecloud_*` name in the rules file with the label names its
/// selectors (`name{label="..."}`) match on, wherever it appears.
fn used_by_rules(rules: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut rest = rules;
    while let Some(start) = rest.find("tradecloud_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let labels = used.entry(tail[..end].to_string()).or_default();
        if let Some(selector) = tail[end..].strip_prefix('{') {
            let selector = &selector[..selector.find('}').unwrap_or(0)];
            for matcher in selector.split(',') {
                let name: String = matcher
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    labels.insert(name);
                }
            }
        }
        rest = &tail[end..];
    }
    used
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_of_the_alert_rules_is_served() {
    let Some(exe) = option_env!("CARGO_BIN_EXE_tradecloud") else {
        eprintln!("skipped: the tradecloud binary is not built (feature cli)");
        return;
    };
    let rules_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/prometheus/tradecloud-alerts.yml");
    let rules = std::fs::read_to_string(&rules_path).unwrap();
    let used = used_by_rules(&rules);
    assert!(
        used.contains_key("tradecloud_inbox_queued_events") && used.len() >= 10,
        "the rules file names its metrics: {used:?}"
    );

    // Tradecloud (the mock), which refuses the receiver's `[tradecloud]`
    // password: the check at start counts the refusal.
    let tradecloud = MockServer::start(MockConfig::new()).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = tls::dev_certificate(&["localhost"]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    let config = dir.path().join("tradecloud.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ntls_cert = {:?}\ntls_key = {:?}\n\
             [auth]\nmethod = \"basic\"\nusername = \"{USER}\"\n\
             [store]\nurl = \"sqlite://{}\"\n\
             [processing]\npoll_interval_ms = 50\n\
             [tradecloud]\nbase_url = {:?}\nusername = {:?}\npassword = \"not-the-password\"\n",
            cert_path.display().to_string(),
            key_path.display().to_string(),
            dir.path().join("inbox.db").display(),
            tradecloud.base_url(),
            tradecloud.credentials().username,
        ),
    )
    .unwrap();
    let mut command = Command::new(exe);
    command
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .env("TRADECLOUD_AUTH_PASSWORD", PASSWORD)
        .env("RUST_LOG", "warn");
    let (_child, addr) = spawn_serve(command, Duration::from_secs(30)).await;
    let client = client_for(&cert, addr);
    let url = |path: &str| format!("https://localhost:{}{path}", addr.port());

    // An event (handled: outcome labels), an event name this version does
    // not know (unhandled), a wrong password (reason labels): counters show
    // once they count something.
    for body in [
        fixture("order-webhook/order-event.json"),
        br#"{"eventName":"OrderTeleportedByBuyer","meta":{"messageId":"new-1"}}"#.to_vec(),
    ] {
        let sent = client
            .post(url("/tradecloud/order"))
            .basic_auth(USER, Some(PASSWORD))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 202);
    }
    // An order event at the shipment URL (the portal's URLs swapped):
    // stored as the order event it is, and counted.
    let swapped = String::from_utf8(fixture("order-webhook/order-event.json"))
        .unwrap()
        .replace(
            "5b0c2f0e-8f4a-4d5e-9c3b-2a1d0e9f8c7b",
            "5b0c2f0e-8f4a-4d5e-9c3b-00000000000a",
        );
    let sent = client
        .post(url("/tradecloud/shipment"))
        .basic_auth(USER, Some(PASSWORD))
        .header("content-type", "application/json")
        .body(swapped)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);
    let refused = client
        .post(url("/tradecloud/order"))
        .basic_auth(USER, Some("wrong"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    // Plain HTTP to the TLS port: a failed handshake (`not_tls`).
    {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
        plain
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), plain.read_to_end(&mut answer)).await;
    }
    let start = Instant::now();
    let text = loop {
        let text = client
            .get(url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        // The outcome is counted before the run's state is committed: wait
        // for both, so the backlog read at this scrape is the final one.
        if text.contains("tradecloud_handler_outcomes_total{kind=\"order\",outcome=\"done\"} 2")
            && text.contains("tradecloud_inbox_queued_events 0")
            && text.contains("tradecloud_api_credentials_valid 0")
            && text.contains("tradecloud_tls_handshake_failures_total{")
        {
            break text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the event was not handled:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let served = scraped(&text);
    assert!(
        text.contains("tradecloud_inbox_queued_events 0")
            && text.contains("tradecloud_inbox_oldest_queued_age_seconds 0"),
        "the backlog gauges are read at the scrape:\n{text}"
    );

    let mut problems = Vec::new();
    for (name, labels) in &used {
        match served.get(name) {
            None => problems.push(format!("{name} is not served at /metrics")),
            Some(seen) => {
                for label in labels {
                    if !TARGET_LABELS.contains(&label.as_str()) && !seen.contains(label) {
                        problems.push(format!(
                            "the rules match {name} on label `{label}`, which its samples do not have ({seen:?})"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{}:\n{}\n\nscrape:\n{text}",
        rules_path.display(),
        problems.join("\n")
    );
}

#[test]
fn the_rule_and_scrape_readers_read_what_they_should() {
    let used = used_by_rules(
        "expr: sum(rate(tradecloud_a_total{job=\"x\", reason=~\"u|v\"}[5m])) > tradecloud_b\n",
    );
    assert_eq!(
        used["tradecloud_a_total"],
        BTreeSet::from(["job".into(), "reason".into()])
    );
    assert!(used["tradecloud_b"].is_empty());
    let served = scraped(
        "# TYPE tradecloud_c counter\n# TYPE tradecloud_d gauge\ntradecloud_d{kind=\"order\"} 1\n# EOF\n",
    );
    assert!(served.contains_key("tradecloud_c_total"));
    assert_eq!(served["tradecloud_d"], BTreeSet::from(["kind".into()]));
}
