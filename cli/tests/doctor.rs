//! `tradecloud doctor` (the binary) against real servers on loopback: a
//! receiver serving a full chain from a test CA passes; a chain without
//! its intermediate, a self-signed certificate (`--dev-tls`), a server
//! offering only TLS 1.1 (`openssl s_server`) and wrong credentials fail,
//! each naming the cause.

use crate::certs_support;
use crate::receiver_support;

use std::path::Path;
use std::process::Stdio;

use certs_support::*;
use receiver_support::{basic_config, start_with, PASSWORD, USER};

struct Outcome {
    code: i32,
    stdout: String,
}

async fn doctor(url: &str, args: &[&str]) -> Outcome {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tradecloud"))
        .arg("doctor")
        .arg(url)
        .args(args)
        .env_remove("TRADECLOUD_DOCTOR_BASIC")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("tradecloud doctor runs");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    eprintln!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout,
    }
}

fn line<'a>(report: &'a str, id: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(id))
        .unwrap_or_else(|| panic!("no line for {id} in\n{report}"))
}

fn root_file(dir: &Path, pki: &Pki) -> String {
    let path = dir.join("root.pem");
    write(&path, &pki.root_pem);
    path.display().to_string()
}

#[tokio::test]
async fn doctor_passes_a_receiver_serving_its_full_chain() {
    let pki = Pki::new("Doctor Test");
    let chain = pki.full_chain();
    let key = pki.leaf_key_pem.clone();
    let rx = start_with(&basic_config(""), move |b| b.tls_pem(chain, key)).await;
    let root = root_file(rx.dir.path(), &pki);
    let url = rx.url("/tradecloud/order");
    let basic = format!("{USER}:{PASSWORD}");

    let out = doctor(&url, &["--basic", &basic, "--ca-file", &root]).await;
    assert_eq!(out.code, 0, "{}", out.stdout);
    for id in [
        "tls.modern",
        "tls.legacy",
        "cert.trust",
        "cert.self_signed",
        "cert.chain",
        "cert.name",
        "cert.expiry",
        "cert.key",
        "auth.missing",
        "auth.wrong",
        "auth.given",
        "route.post",
        "ready",
    ] {
        assert!(
            line(&out.stdout, id).starts_with("PASS"),
            "{id}:\n{}",
            out.stdout
        );
    }
    assert!(out
        .stdout
        .contains("Tradecloud would accept this endpoint."));
    assert!(line(&out.stdout, "tls.legacy").contains("TLS 1.1, TLS 1.0 and SSL 3.0 refused"));

    // The probes delivered no event and left nothing in the inbox (issue
    // 23: they used to leave `rejected` rows), also with --get.
    let out = doctor(&url, &["--basic", &basic, "--ca-file", &root, "--get"]).await;
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(line(&out.stdout, "route.get").starts_with("PASS"));
    let counts = rx.inbox.counts().await.unwrap();
    for (state, n) in counts {
        assert_eq!(n, 0, "{n} {} event(s) after the probes", state.as_str());
    }

    // The same as JSON; with --send-test-event one event is delivered.
    let out = doctor(
        &url,
        &[
            "--basic",
            &basic,
            "--ca-file",
            &root,
            "--json",
            "--send-test-event",
        ],
    )
    .await;
    assert_eq!(out.code, 0);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["accepted"], true);
    let checks = report["checks"].as_array().unwrap();
    assert!(checks
        .iter()
        .any(|c| c["id"] == "event.delivered" && c["status"] == "pass"));
    let received: u64 = rx
        .inbox
        .counts()
        .await
        .unwrap()
        .into_iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(received, 1, "exactly the test event was delivered");

    // Without --ca-file the test CA is not a public one.
    let out = doctor(&url, &["--basic", &basic]).await;
    assert_eq!(out.code, 1);
    assert!(line(&out.stdout, "cert.trust").starts_with("FAIL"));

    // Four runs, and not one failed login for the alert (each run used to
    // add two): the probes without the credentials prove that they come
    // from their holder.
    let metrics = rx.metrics.encode();
    assert!(
        !metrics.contains(r#"tradecloud_webhook_rejected_total{reason="unauthorized"}"#),
        "{metrics}"
    );
    let probes: u64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(r#"tradecloud_webhook_rejected_total{reason="doctor_probe"} "#)
        })
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(probes >= 8, "{metrics}");
    // Imitating the doctor without the secret hides nothing.
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.root_pem.as_bytes()).unwrap())
        .resolve("localhost", rx.addr)
        .build()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let forged = format!("v1 t={now},n={},mac={}", "ab".repeat(16), "cd".repeat(32));
    let answer = client
        .post(&url)
        .basic_auth(USER, Some("a guess"))
        .header("tradecloud-doctor-proof", forged)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    assert!(rx
        .metrics
        .encode()
        .contains(r#"tradecloud_webhook_rejected_total{reason="unauthorized"} 1"#));
    rx.stop().await;
}

#[tokio::test]
async fn doctor_names_a_missing_intermediate() {
    let pki = Pki::new("Doctor Test");
    let leaf_only = pki.leaf_pem.clone();
    let key = pki.leaf_key_pem.clone();
    let rx = start_with(&basic_config(""), move |b| b.tls_pem(leaf_only, key)).await;
    let root = root_file(rx.dir.path(), &pki);
    let basic = format!("{USER}:{PASSWORD}");
    let out = doctor(
        &rx.url("/tradecloud/order"),
        &["--basic", &basic, "--ca-file", &root],
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    let chain = line(&out.stdout, "cert.chain");
    assert!(chain.starts_with("FAIL"), "{chain}");
    assert!(
        chain.contains("intermediate certificate CN=Doctor Test Intermediate")
            && chain.contains("missing"),
        "{chain}"
    );
    assert!(line(&out.stdout, "cert.trust").starts_with("FAIL"));
    assert!(out.stdout.contains("fix: serve the full chain"));
    // Everything else is fine.
    assert!(line(&out.stdout, "auth.given").starts_with("PASS"));
    rx.stop().await;
}

#[tokio::test]
async fn doctor_refuses_a_self_signed_dev_certificate() {
    let rx = start_with(&basic_config(""), |b| b.dev_tls()).await;
    let pki = Pki::new("Doctor Test");
    let root = root_file(rx.dir.path(), &pki);
    let basic = format!("{USER}:{PASSWORD}");
    let out = doctor(
        &rx.url("/tradecloud/order"),
        &["--basic", &basic, "--ca-file", &root],
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(line(&out.stdout, "cert.self_signed").starts_with("FAIL"));
    assert!(line(&out.stdout, "cert.trust").contains("self-signed"));
    rx.stop().await;
}

#[tokio::test]
async fn doctor_refuses_wrong_credentials() {
    let pki = Pki::new("Doctor Test");
    let chain = pki.full_chain();
    let key = pki.leaf_key_pem.clone();
    let rx = start_with(&basic_config(""), move |b| b.tls_pem(chain, key)).await;
    let root = root_file(rx.dir.path(), &pki);
    let out = doctor(
        &rx.url("/tradecloud/order"),
        &[
            "--basic",
            &format!("{USER}:not-the-password"),
            "--ca-file",
            &root,
        ],
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    let given = line(&out.stdout, "auth.given");
    assert!(
        given.starts_with("FAIL") && given.contains("refused"),
        "{given}"
    );
    assert!(line(&out.stdout, "cert.chain").starts_with("PASS"));
    // No credentials at all: cannot be confirmed, so not accepted either.
    let out = doctor(&rx.url("/tradecloud/order"), &["--ca-file", &root]).await;
    assert_eq!(out.code, 1);
    assert!(line(&out.stdout, "auth.given").contains("no credentials given"));
    assert!(line(&out.stdout, "auth.missing").starts_with("PASS"));
    rx.stop().await;
}

#[tokio::test]
async fn doctor_fails_a_server_that_offers_only_tls_1_1() {
    if !ensure_tool("openssl", "openssl") {
        assert!(
            !tools_required(),
            "openssl is required but cannot be installed"
        );
        eprintln!("skipped: openssl is not installed");
        return;
    }
    let pki = Pki::new("Doctor Test");
    let dir = tempfile::tempdir().unwrap();
    let (cert, chain, key) = (
        dir.path().join("leaf.pem"),
        dir.path().join("chain.pem"),
        dir.path().join("key.pem"),
    );
    write(&cert, &pki.leaf_pem);
    write(&chain, &pki.intermediate_pem);
    write(&key, &pki.leaf_key_pem);
    let root = root_file(dir.path(), &pki);
    let port = free_port();
    // OpenSSL 3 allows TLS 1.1 (SHA-1 signatures) only at security level 0.
    let mut server = tokio::process::Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-www",
            "-quiet",
            "-tls1_1",
        ])
        .args(["-cipher", "DEFAULT@SECLEVEL=0"])
        .arg("-cert")
        .arg(&cert)
        .arg("-cert_chain")
        .arg(&chain)
        .arg("-key")
        .arg(&key)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("openssl s_server starts");
    assert!(
        wait_for_port(port, std::time::Duration::from_secs(20)).await,
        "s_server listens"
    );
    let out = doctor(
        &format!("https://localhost:{port}/tradecloud/order"),
        &["--basic", "u:p", "--ca-file", &root],
    )
    .await;
    let _ = server.kill().await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    let legacy = line(&out.stdout, "tls.legacy");
    assert!(
        legacy.starts_with("FAIL") && legacy.contains("TLS 1.1 accepted"),
        "{legacy}"
    );
    let modern = line(&out.stdout, "tls.modern");
    assert!(
        modern.starts_with("FAIL") && modern.contains("neither TLS 1.3 nor TLS 1.2"),
        "{modern}"
    );
}

/// Issue 23: a port that speaks plain HTTP is named as such (it used to get
/// "PASS tls.legacy ... refused"), and a port that accepts connections but
/// never answers ends the run within three times --timeout (it took five).
#[tokio::test]
async fn doctor_names_plain_http_and_gives_up_on_a_silent_port() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app =
        axum::Router::new().route("/tradecloud/order", axum::routing::post(|| async { "ok" }));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let out = doctor(
        &format!("https://127.0.0.1:{port}/tradecloud/order"),
        &["--timeout", "5"],
    )
    .await;
    assert_eq!(out.code, 1);
    let modern = line(&out.stdout, "tls.modern");
    assert!(
        modern.starts_with("FAIL") && modern.contains("plain HTTP"),
        "{}",
        out.stdout
    );
    assert!(
        !line(&out.stdout, "tls.legacy").starts_with("PASS"),
        "{}",
        out.stdout
    );
    server.abort();

    // Bound, never accepted: the kernel completes the TCP handshake, then
    // nothing answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = std::time::Instant::now();
    let out = doctor(
        &format!("https://localhost:{port}/tradecloud/order"),
        &[
            "--timeout",
            "2",
            "--basic",
            "u:p",
            "--get",
            "--send-test-event",
        ],
    )
    .await;
    let took = started.elapsed();
    assert_eq!(out.code, 1);
    assert!(
        line(&out.stdout, "tls.modern").contains("no answer"),
        "{}",
        out.stdout
    );
    assert!(
        took < std::time::Duration::from_secs(6),
        "a silent port took {took:?} with --timeout 2"
    );
    drop(silent);
}

/// A POST to `/tradecloud/order/extra` (the GET-only route of an order id)
/// is refused with 405, so every event sent there would be lost: the doctor
/// fails the URL and names the one to configure (it used to pass it, taking
/// the 415 that the receiver answered its probe before the method check for
/// "the route exists"). The same for the shipment path.
#[tokio::test]
async fn doctor_fails_a_get_only_url_and_names_the_post_url() {
    let pki = Pki::new("Doctor Test");
    let chain = pki.full_chain();
    let key = pki.leaf_key_pem.clone();
    let rx = start_with(&basic_config(""), move |b| b.tls_pem(chain, key)).await;
    let root = root_file(rx.dir.path(), &pki);
    let basic = format!("{USER}:{PASSWORD}");
    for (path, instead) in [
        ("/tradecloud/order/extra", "/tradecloud/order"),
        ("/tradecloud/shipment/extra", "/tradecloud/shipment"),
    ] {
        let out = doctor(&rx.url(path), &["--basic", &basic, "--ca-file", &root]).await;
        assert_eq!(out.code, 1, "{}", out.stdout);
        let route = line(&out.stdout, "route.post");
        assert!(
            route.starts_with("FAIL") && route.contains("405") && route.contains("Allow"),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.contains(&format!(
                "fix: configure {} in the portal instead",
                rx.url(instead)
            )),
            "{}",
            out.stdout
        );
        // The credentials are still checked first.
        assert!(line(&out.stdout, "auth.missing").starts_with("PASS"));
    }
    assert_eq!(
        rx.inbox.list(Default::default()).await.unwrap().len(),
        0,
        "the probes stored nothing"
    );
    rx.stop().await;
}

/// What a test server answers: the status line and headers for a request
/// (method, path, whether it carries the credentials `u:p`).
type Answer = fn(&str, &str, bool) -> String;

/// An HTTPS server on loopback serving `pki`'s full chain, answering every
/// request as `answer` says, then closing the connection.
async fn tls_server(pki: &Pki, answer: Answer) -> (u16, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio_rustls::rustls;
    let certs: Vec<_> = [&pki.leaf_pem, &pki.intermediate_pem]
        .iter()
        .map(|pem| {
            let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
            rustls::pki_types::CertificateDer::from(parsed.contents)
        })
        .collect();
    let (_, key) = x509_parser::pem::parse_x509_pem(pki.leaf_key_pem.as_bytes()).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.contents.into());
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&request).to_ascii_lowercase();
                let mut words = head.split_whitespace();
                let method = words.next().unwrap_or_default().to_ascii_uppercase();
                let path = words.next().unwrap_or_default().to_string();
                // The credentials the tests pass: --basic u:p.
                let authorized = head.contains("\r\nauthorization: basic dtpw\r\n");
                let response = format!(
                    "{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    answer(&method, &path, authorized)
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, task)
}

/// Issue: every answer to the credential probes that was not 401 read "the
/// endpoint does not require valid credentials", and `auth.given` passed on
/// 404, 500 and 503. Each answer is now named for what it is.
#[tokio::test]
async fn doctor_names_what_the_credential_probes_got() {
    let pki = Pki::new("Doctor Test");
    let dir = tempfile::tempdir().unwrap();
    let root = root_file(dir.path(), &pki);
    let cases: [(Answer, &[&str], &str); 5] = [
        (
            |_, _, _| "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5".into(),
            &["503", "not ready", "retries a status above 500"],
            "check the receiver's log",
        ),
        (
            |_, _, _| "HTTP/1.1 500 Internal Server Error".into(),
            &["500", "failing", "does not retry a 500"],
            "check the receiver's log; answer 401",
        ),
        (
            |_, _, _| "HTTP/1.1 301 Moved Permanently\r\nLocation: /tradecloud/order/v2".into(),
            &["301", "redirect", "/tradecloud/order/v2"],
            "configure the final URL",
        ),
        (
            |_, _, _| "HTTP/1.1 404 Not Found".into(),
            &["404", "wrong path"],
            "configure the URL of the receiver's POST webhook route",
        ),
        (
            |_, _, _| "HTTP/1.1 200 OK".into(),
            &["200", "does not require valid credentials"],
            "authenticate every webhook request",
        ),
    ];
    for (answer, says, fix) in cases {
        let (port, server) = tls_server(&pki, answer).await;
        let out = doctor(
            &format!("https://localhost:{port}/tradecloud/order"),
            &["--basic", "u:p", "--ca-file", &root, "--timeout", "5"],
        )
        .await;
        server.abort();
        assert_eq!(out.code, 1, "{}", out.stdout);
        assert!(line(&out.stdout, "cert.trust").starts_with("PASS"));
        for id in ["auth.missing", "auth.wrong"] {
            let l = line(&out.stdout, id);
            assert!(l.starts_with("FAIL"), "{}", out.stdout);
            for s in says {
                assert!(l.contains(s), "{id} does not say {s:?}:\n{}", out.stdout);
            }
        }
        assert!(
            out.stdout.contains(&format!("fix: {fix}")),
            "{}",
            out.stdout
        );
        if !says.contains(&"200") {
            assert!(
                !out.stdout.contains("does not require valid credentials"),
                "{}",
                out.stdout
            );
            let given = line(&out.stdout, "auth.given");
            assert!(!given.starts_with("PASS"), "{}", out.stdout);
            assert!(
                line(&out.stdout, "route.post").starts_with("FAIL"),
                "{}",
                out.stdout
            );
        }
    }
}

/// Issue: an expired or not yet valid certificate was reported as "not
/// trusted" with the advice to get one from a public CA. The chain is
/// trusted; the dates are reported by `cert.expiry`, with the date and the
/// right fix.
#[tokio::test]
async fn doctor_reports_an_expired_or_future_certificate_by_its_dates() {
    const DAY: i64 = 86_400;
    for (pki, says, fix) in [
        (
            Pki::with_leaf_validity("Doctor Test", -90 * DAY, -2 * DAY),
            "expired on",
            "fix: renew the certificate",
        ),
        (
            Pki::with_leaf_validity("Doctor Test", 10 * DAY, 100 * DAY),
            "not valid yet: valid from",
            "fix: check this machine's clock",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let root = root_file(dir.path(), &pki);
        let (port, server) = tls_server(&pki, |_, _, authorized| {
            if authorized {
                "HTTP/1.1 400 Bad Request".into()
            } else {
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic".into()
            }
        })
        .await;
        let out = doctor(
            &format!("https://localhost:{port}/tradecloud/order"),
            &["--basic", "u:p", "--ca-file", &root, "--timeout", "5"],
        )
        .await;
        server.abort();
        assert_eq!(out.code, 1, "{}", out.stdout);
        // Only the dates fail.
        for id in ["auth.missing", "auth.wrong", "auth.given", "route.post"] {
            assert!(
                line(&out.stdout, id).starts_with("PASS"),
                "{id}:\n{}",
                out.stdout
            );
        }
        let trust = line(&out.stdout, "cert.trust");
        assert!(
            trust.starts_with("PASS") && trust.contains("see cert.expiry"),
            "{}",
            out.stdout
        );
        assert!(!out.stdout.contains("public CA"), "{}", out.stdout);
        let expiry = line(&out.stdout, "cert.expiry");
        assert!(
            expiry.starts_with("FAIL") && expiry.contains(says),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains(fix), "{}", out.stdout);
    }
}

/// Issue: `python3 -m http.server` takes a ClientHello for an HTTP/0.9
/// request and answers an HTML page without a status line; the doctor said
/// "neither TLS 1.3 nor TLS 1.2 is offered (... InvalidContentType)"
/// instead of naming plain HTTP. This server answers the same way.
#[tokio::test]
async fn doctor_names_plain_http_without_a_status_line() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                // Like BaseHTTPRequestHandler: read a line; a request line
                // with a version gets a status line, anything else is
                // HTTP/0.9 and gets the page alone.
                let mut line = Vec::new();
                let mut byte = [0u8; 1];
                while !line.ends_with(b"\n") && line.len() < 65_536 {
                    match tcp.read(&mut byte).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => line.push(byte[0]),
                    }
                }
                let page = "<!DOCTYPE HTML>\n<html><body><h1>Error response</h1></body></html>\n";
                let answer = if line.starts_with(b"HEAD ") || line.starts_with(b"GET ") {
                    format!(
                        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{page}",
                        page.len()
                    )
                } else {
                    page.to_string()
                };
                let _ = tcp.write_all(answer.as_bytes()).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    let out = doctor(&format!("https://localhost:{port}/x"), &["--timeout", "5"]).await;
    server.abort();
    assert_eq!(out.code, 1);
    let modern = line(&out.stdout, "tls.modern");
    assert!(
        modern.starts_with("FAIL")
            && modern.contains("this port speaks plain HTTP; Tradecloud requires HTTPS"),
        "{}",
        out.stdout
    );
    assert!(line(&out.stdout, "tls.legacy").starts_with("SKIP"));
}

/// Issue: a receiver whose inbox store is down passed every check (the
/// probes are answered before the store is needed) while every real event
/// got 503. The doctor reads `tradecloud serve`'s `/readyz` and fails with
/// the reason it gives; once the store is there, the check passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_fails_a_receiver_whose_store_is_down() {
    use std::time::Duration;
    use tradecloud::inbox::{Inbox, InboxOptions};

    let pki = Pki::new("Doctor Test");
    let chain = pki.full_chain();
    let key = pki.leaf_key_pem.clone();
    // The inbox's directory is not there yet: the store cannot be opened.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("not-yet");
    let store = format!("sqlite://{}", missing.join("inbox.db").display());
    let inbox = Inbox::connect_retrying(&store, InboxOptions::default())
        .await
        .unwrap();
    let rx = start_with(&basic_config(""), move |b| {
        b.tls_pem(chain, key).inbox(inbox)
    })
    .await;
    let root = root_file(rx.dir.path(), &pki);
    let url = rx.url("/tradecloud/order");
    let basic = format!("{USER}:{PASSWORD}");

    let out = doctor(&url, &["--basic", &basic, "--ca-file", &root]).await;
    assert_eq!(out.code, 1, "{}", out.stdout);
    let ready = line(&out.stdout, "ready");
    assert!(
        ready.starts_with("FAIL")
            && ready.contains("/readyz: 503")
            && ready.contains("not ready, every event is answered 503")
            && ready.contains("not-yet"),
        "{}",
        out.stdout
    );
    assert!(line(&out.stdout, "route.post").starts_with("PASS"));

    // The store comes: the receiver opens it, and the doctor passes.
    std::fs::create_dir(&missing).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.root_pem.as_bytes()).unwrap())
        .resolve("localhost", rx.addr)
        .build()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let status = client.get(rx.url("/readyz")).send().await.unwrap().status();
        if status == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the store never opened"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = doctor(&url, &["--basic", &basic, "--ca-file", &root]).await;
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(
        line(&out.stdout, "ready").starts_with("PASS"),
        "{}",
        out.stdout
    );
    rx.stop().await;
}

/// Another product's webhook endpoint, without `tradecloud serve`'s
/// `/readyz` (a `404`, or a `503` that is not its problem document), is
/// not failed for it: the readiness check is skipped.
#[tokio::test]
async fn doctor_skips_the_readiness_of_another_receiver() {
    let pki = Pki::new("Doctor Test");
    let dir = tempfile::tempdir().unwrap();
    let root = root_file(dir.path(), &pki);
    let cases: [Answer; 2] = [
        |_, path, authorized| match (path, authorized) {
            ("/readyz", _) => "HTTP/1.1 404 Not Found".into(),
            (_, true) => "HTTP/1.1 400 Bad Request".into(),
            (_, false) => "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic".into(),
        },
        |_, path, authorized| match (path, authorized) {
            ("/readyz", _) => "HTTP/1.1 503 Service Unavailable".into(),
            (_, true) => "HTTP/1.1 400 Bad Request".into(),
            (_, false) => "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic".into(),
        },
    ];
    for answer in cases {
        let (port, server) = tls_server(&pki, answer).await;
        let out = doctor(
            &format!("https://localhost:{port}/tradecloud/order"),
            &["--basic", "u:p", "--ca-file", &root, "--timeout", "5"],
        )
        .await;
        server.abort();
        assert_eq!(out.code, 0, "{}", out.stdout);
        let ready = line(&out.stdout, "ready");
        assert!(
            ready.starts_with("SKIP") && ready.contains("not tradecloud serve's readiness"),
            "{}",
            out.stdout
        );
    }
}
