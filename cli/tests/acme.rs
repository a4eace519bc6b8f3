//! `[server.acme]` of `tradecloud serve` (the binary): a certificate from
//! a real ACME server, Debian's `pebble` (Let's Encrypt's test CA, which
//! validates TLS-ALPN-01 for real against the receiver's own port), kept
//! across a restart without a new order; `503` + `Retry-After` while no
//! certificate could be had; and the configuration errors.
//!
//! pebble is installed with apt-get when missing (as root); without it the
//! pebble test is skipped, unless TRADECLOUD_REQUIRE_TOOLS=1 (set by
//! `./scripts/test.sh`), which makes it fail instead.

use crate::certs_support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use certs_support::*;
use tokio::process::{Child, Command};
use tokio_rustls::rustls;

const AUTH: &str =
    "[auth]\nmethod = \"basic\"\nusername = \"tradecloud\"\npassword = \"acme-test-password-0123\"\n";

fn config(dir: &Path, port: u16, acme: &str) -> PathBuf {
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n\n[server.acme]\n{acme}\n\n{AUTH}\n[store]\nurl = \"sqlite://{}\"\n",
        dir.join("inbox.db").display()
    );
    let path = dir.join("tradecloud.toml");
    write(&path, &text);
    path
}

/// `tradecloud serve --config CONFIG`, its log in `log`.
fn serve(config: &Path, log: &Path, extra: &[&str]) -> Child {
    let log = std::fs::File::create(log).unwrap();
    Command::new(env!("CARGO_BIN_EXE_tradecloud"))
        .arg("serve")
        .arg("--config")
        .arg(config)
        .args(["--receive-only"])
        .args(extra)
        .env("RUST_LOG", "warn,tradecloud=debug")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("tradecloud serve starts")
}

/// SIGTERM, then wait for the exit.
async fn stop(mut child: Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    let _ = child.kill().await;
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

async fn wait_for_log(log: &Path, text: &str, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if read(log).contains(text) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// `curl --cacert ROOT https://localhost:PORT/healthz`: trusting only `root`.
async fn curl_healthz(root: &Path, port: u16) -> Result<String, String> {
    let output = Command::new("curl")
        .args(["-sS", "--fail", "--max-time", "5", "--cacert"])
        .arg(root)
        .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
        .arg(format!("https://localhost:{port}/healthz"))
        .output()
        .await
        .map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).to_string())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).to_string())
    }
}

async fn wait_for_healthz(root: &Path, port: u16, log: &Path) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        match curl_healthz(root, port).await {
            Ok(body) => return body,
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!(
        "no trusted /healthz within 90 s; curl: {last}\nlog:\n{}",
        read(log)
    );
}

/// The certificate served on `port`, verified against `root` only.
async fn served_certificate(root: &Path, port: u16) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_file(root).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .expect("trusted handshake");
    stream.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

/// A running pebble: its directory URL, the `[server.acme]` lines that
/// trust its HTTPS, and the root it issues under (pebble makes a new one at
/// each start).
struct Pebble {
    _child: Child,
    acme: String,
    root: PathBuf,
}

/// `None` (after saying why) when pebble or curl cannot be had and the
/// test command does not require them.
fn tools() -> bool {
    let have = ensure_tool("pebble", "pebble") && ensure_tool("curl", "curl");
    if !have {
        assert!(
            !tools_required(),
            "pebble and curl are required but cannot be installed"
        );
        eprintln!("skipped: pebble or curl is not installed (apt-get install pebble curl)");
    }
    have
}

/// Start pebble in `d`, validating TLS-ALPN-01 on `tls_port` and HTTP-01 on
/// `http_port` of localhost.
async fn start_pebble(d: &Path, tls_port: u16, http_port: u16) -> Pebble {
    // pebble's own HTTPS (directory, management) with a certificate of our
    // test CA: the receiver trusts it through ca_file.
    let pki = Pki::new("Pebble HTTPS");
    write(&d.join("pebble-cert.pem"), &pki.full_chain());
    write(&d.join("pebble-key.pem"), &pki.leaf_key_pem);
    write(&d.join("test-ca.pem"), &pki.root_pem);
    let (pebble_port, management_port) = (free_port(), free_port());
    let pebble_config = serde_json::json!({
        "pebble": {
            "listenAddress": format!("127.0.0.1:{pebble_port}"),
            "managementListenAddress": format!("127.0.0.1:{management_port}"),
            "certificate": d.join("pebble-cert.pem"),
            "privateKey": d.join("pebble-key.pem"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false
        }
    });
    write(&d.join("pebble.json"), &pebble_config.to_string());
    let pebble_log = std::fs::File::create(d.join("pebble.log")).unwrap();
    let child = Command::new("pebble")
        .arg("-config")
        .arg(d.join("pebble.json"))
        // No artificial validation delays, no deliberately rejected nonces.
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .stdin(Stdio::null())
        .stdout(pebble_log.try_clone().unwrap())
        .stderr(pebble_log)
        .kill_on_drop(true)
        .spawn()
        .expect("pebble starts");
    assert!(
        wait_for_port(pebble_port, Duration::from_secs(30)).await
            && wait_for_port(management_port, Duration::from_secs(30)).await,
        "pebble listens:\n{}",
        read(&d.join("pebble.log"))
    );
    let management = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pki.root_pem.as_bytes()).unwrap()])
        .build()
        .unwrap();
    let pebble_root = management
        .get(format!("https://localhost:{management_port}/roots/0"))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .text()
        .await
        .unwrap();
    let root = d.join("pebble-root.pem");
    write(&root, &pebble_root);
    Pebble {
        _child: child,
        acme: format!(
            "directory_url = \"https://localhost:{pebble_port}/dir\"\nca_file = \"{}\"\ndomains = [\"localhost\"]\ncontact = [\"mailto:ops@example.org\"]\ncache_dir = \"{}\"\n",
            d.join("test-ca.pem").display(),
            d.join("acme-cache").display()
        ),
        root,
    }
}

#[tokio::test]
async fn acme_certificate_from_pebble_survives_a_restart_without_a_new_order() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    // tlsPort: pebble validates TLS-ALPN-01 on the receiver's own port.
    let pebble = start_pebble(d, port, free_port()).await;
    let root = pebble.root.clone();
    let cache = d.join("acme-cache");
    let config = config(d, port, &pebble.acme);

    let first_log = d.join("serve-1.log");
    let rx = serve(&config, &first_log, &[]);
    assert_eq!(
        wait_for_healthz(&root, port, &first_log).await.trim(),
        r#"{"status":"up"}"#
    );
    let issued = served_certificate(&root, port).await;
    let log = read(&first_log);
    assert!(log.contains("certificate issued and in service"), "{log}");
    assert!(log.contains("ACME account registered"), "{log}");
    stop(rx).await;

    // The cache: account and certificate, private.
    let files: Vec<PathBuf> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for file in &files {
            let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
    }

    // A restart serves the cached certificate at once: no new order.
    let second_log = d.join("serve-2.log");
    let rx = serve(&config, &second_log, &[]);
    assert_eq!(
        wait_for_healthz(&root, port, &second_log).await.trim(),
        r#"{"status":"up"}"#
    );
    assert_eq!(
        served_certificate(&root, port).await,
        issued,
        "the same certificate after the restart"
    );
    let log = read(&second_log);
    assert!(
        log.contains("serving the cached certificate (no new order)"),
        "{log}"
    );
    assert!(!log.contains("certificate issued"), "{log}");
    assert!(!log.contains("no certificate yet"), "{log}");
    stop(rx).await;
}

#[tokio::test]
async fn acme_http_01_is_answered_on_http_listen() {
    if !tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (port, http_port) = (free_port(), free_port());
    // TLS-ALPN-01 would go to a closed port: only http-01 can succeed.
    let pebble = start_pebble(d, free_port(), http_port).await;
    let acme = format!(
        "{}challenge = \"http-01\"\nhttp_listen = \"127.0.0.1:{http_port}\"\n",
        pebble.acme
    );
    let config = config(d, port, &acme);
    let log = d.join("serve.log");
    let rx = serve(&config, &log, &[]);
    assert_eq!(
        wait_for_healthz(&pebble.root, port, &log).await.trim(),
        r#"{"status":"up"}"#
    );
    assert!(read(&log).contains("certificate issued and in service"));
    // The plain-HTTP listener answers nothing but challenges.
    let other = reqwest::get(format!("http://127.0.0.1:{http_port}/tradecloud/order"))
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    assert!(other.text().await.unwrap().contains("served over HTTPS"));
    stop(rx).await;
}

#[tokio::test]
async fn without_a_certificate_webhooks_get_503_and_the_log_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let closed = free_port();
    let config = config(
        d,
        port,
        &format!(
            "directory_url = \"https://localhost:{closed}/dir\"\ndomains = [\"localhost\"]\ncache_dir = \"{}\"\n",
            d.join("cache").display()
        ),
    );
    let log = d.join("serve.log");
    let rx = serve(&config, &log, &[]);
    assert!(
        wait_for_port(port, Duration::from_secs(60)).await,
        "{}",
        read(&log)
    );
    assert!(
        wait_for_log(&log, "ACME: order failed", Duration::from_secs(60)).await,
        "{}",
        read(&log)
    );
    let text = read(&log);
    assert!(text.contains("no certificate yet"), "{text}");
    assert!(
        text.contains(&format!(
            "check that this machine reaches https://localhost:{closed}/dir"
        )),
        "{text}"
    );

    // A placeholder certificate (not trusted): a client that ignores that
    // gets 503 + Retry-After for the webhook, 200 for /healthz.
    let client = reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let response = client
        .post(format!("https://127.0.0.1:{port}/tradecloud/order"))
        .basic_auth("tradecloud", Some("acme-test-password-0123"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "30");
    let body = response.text().await.unwrap();
    assert!(body.contains("obtaining its TLS certificate"), "{body}");
    let health = client
        .get(format!("https://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    stop(rx).await;
}

#[tokio::test]
async fn acme_excludes_certificate_files_and_dev_tls() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let acme = "domains = [\"webhooks.example.com\"]\n";
    let run = |config: PathBuf, extra: &'static [&'static str]| async move {
        let output = Command::new(env!("CARGO_BIN_EXE_tradecloud"))
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).to_string()
    };
    let e = run(config(d, free_port(), acme), &["--dev-tls"]).await;
    assert!(
        e.contains("[server.acme] and --dev-tls exclude each other"),
        "{e}"
    );
    let with_files = config(d, free_port(), acme).display().to_string();
    let text = read(Path::new(&with_files)).replace(
        "[server]\n",
        "[server]\ntls_cert = \"fullchain.pem\"\ntls_key = \"privkey.pem\"\n",
    );
    write(Path::new(&with_files), &text);
    let e = run(PathBuf::from(with_files), &[]).await;
    assert!(
        e.contains("[server.acme] and server.tls_cert/tls_key exclude each other"),
        "{e}"
    );
    let e = run(config(d, free_port(), "domains = []\n"), &[]).await;
    assert!(e.contains("server.acme.domains is empty"), "{e}");
}
