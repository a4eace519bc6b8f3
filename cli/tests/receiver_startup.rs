//! Starting the receiver (issue 23): what it refuses, what it warns about,
//! and how it says so; the certificate being served, watched (expiry at
//! start and as a metric, through reloads) and the TLS handshakes that
//! fail, counted by reason.

use crate::receiver_support;

use std::path::Path;
use std::time::Duration;

use receiver_support::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tradecloud::inbox::Inbox;
use tradecloud::receiver::Receiver;

fn exe() -> Option<&'static str> {
    let exe = option_env!("CARGO_BIN_EXE_tradecloud");
    if exe.is_none() {
        eprintln!("skipped: the tradecloud binary is not built (feature cli)");
    }
    exe
}

/// A certificate for `localhost` valid from `from` to `until` days from
/// now (negative: in the past), as PEM (certificate, key).
fn certificate(from_days: i64, until_days: i64) -> (String, String) {
    use chrono::Datelike as _;
    let day = |offset: i64| {
        let d = chrono::Utc::now().date_naive() + chrono::Duration::days(offset);
        rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8)
    };
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.not_before = day(from_days);
    params.not_after = day(until_days);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// notAfter of a PEM certificate, in Unix seconds.
fn not_after(pem: &str) -> i64 {
    use tokio_rustls::rustls::pki_types::{pem::PemObject as _, CertificateDer};
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).unwrap();
    cert.validity().not_after.timestamp()
}

/// A configuration serving `cert.pem`/`key.pem` of `dir`.
fn files_config(dir: &Path, extra_server: &str) -> String {
    basic_config(&format!(
        "tls_cert = {:?}\ntls_key = {:?}\n{extra_server}",
        dir.join("cert.pem").display().to_string(),
        dir.join("key.pem").display().to_string()
    ))
}

fn write_pair(dir: &Path, (cert, key): &(String, String)) {
    std::fs::write(dir.join("cert.pem"), cert).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();
}

/// A builder for `config_text` with an inbox in `dir`.
fn builder(config_text: &str, dir: &Path) -> tradecloud::receiver::ReceiverBuilder {
    let inbox = Inbox::open(&format!("sqlite://{}", dir.join("inbox.db").display())).unwrap();
    Receiver::builder()
        .config(config(config_text))
        .inbox(inbox)
        .listener(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
}

async fn build_error(config_text: &str, dir: &Path) -> String {
    let built = builder(config_text, dir).build().await;
    match built {
        Ok(_) => panic!("the receiver started with {config_text}"),
        Err(e) => e.to_string(),
    }
}

/// A missing certificate names its key; a key of another certificate names
/// both files; an expired or not yet valid certificate is refused.
#[tokio::test]
async fn certificate_files_are_checked_and_named_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let text = files_config(dir.path(), "");
    let e = build_error(&text, dir.path()).await;
    assert!(
        e.starts_with("server.tls_cert = ") && e.contains("cannot read it"),
        "{e}"
    );
    std::fs::write(dir.path().join("cert.pem"), certificate(-1, 60).0).unwrap();
    let e = build_error(&text, dir.path()).await;
    assert!(e.starts_with("server.tls_key = "), "{e}");

    // The key of another certificate.
    std::fs::write(dir.path().join("key.pem"), certificate(-1, 60).1).unwrap();
    let e = build_error(&text, dir.path()).await;
    let cert = dir.path().join("cert.pem").display().to_string();
    let key = dir.path().join("key.pem").display().to_string();
    assert!(
        e.contains(&format!("server.tls_key = {key:?}"))
            && e.contains(&format!("server.tls_cert = {cert:?}"))
            && e.contains("does not belong to the certificate"),
        "{e}"
    );

    write_pair(dir.path(), &certificate(-100, -10));
    let e = build_error(&text, dir.path()).await;
    assert!(
        e.contains("server.tls_cert") && e.contains("expired on"),
        "{e}"
    );
    write_pair(dir.path(), &certificate(3, 90));
    let e = build_error(&text, dir.path()).await;
    assert!(
        e.contains("server.tls_cert") && e.contains("not valid before"),
        "{e}"
    );
    write_pair(dir.path(), &certificate(-1, 60));
    builder(&text, dir.path())
        .build()
        .await
        .expect("a valid certificate starts");
}

/// A chain with the intermediate first says the order is wrong (not that
/// the key belongs to another certificate); an encrypted key says it is
/// encrypted and how to decrypt it (not "no items found").
#[tokio::test]
async fn a_chain_in_the_wrong_order_and_an_encrypted_key_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let text = files_config(dir.path(), "");
    let pki = crate::certs_support::Pki::new("order");
    let cert = dir.path().join("cert.pem").display().to_string();
    let key = dir.path().join("key.pem").display().to_string();
    std::fs::write(
        dir.path().join("cert.pem"),
        format!("{}{}", pki.intermediate_pem, pki.leaf_pem),
    )
    .unwrap();
    std::fs::write(dir.path().join("key.pem"), &pki.leaf_key_pem).unwrap();
    let e = build_error(&text, dir.path()).await;
    assert!(
        e.starts_with(&format!("server.tls_cert = {cert:?}"))
            && e.contains("wrong order")
            && e.contains("certificate 2 of the 2")
            && e.contains("leaf")
            && !e.contains("does not belong"),
        "{e}"
    );
    std::fs::write(dir.path().join("cert.pem"), pki.full_chain()).unwrap();
    builder(&text, dir.path())
        .build()
        .await
        .expect("leaf first starts");

    // Encrypted keys: PKCS#8 (`openssl pkey -aes256`) and the traditional
    // form with a Proc-Type header (`openssl genrsa -aes256 -traditional`).
    let openssl = |args: &[&str]| {
        std::process::Command::new("openssl")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let plain = dir.path().join("plain.pem");
    std::fs::write(&plain, &pki.leaf_key_pem).unwrap();
    let plain = plain.display().to_string();
    let pkcs8 = openssl(&["pkey", "-in", &plain, "-aes256", "-passout", "pass:secret"])
        .unwrap_or_else(|| {
            eprintln!("openssl is not installed: an encrypted PKCS#8 key made by hand");
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n".into()
        });
    let traditional = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
                       DEK-Info: AES-256-CBC,E05F8B4F593AA0855D88109A2C10C12B\n\n\
                       MIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END RSA PRIVATE KEY-----\n";
    for encrypted in [pkcs8.as_str(), traditional] {
        std::fs::write(dir.path().join("key.pem"), encrypted).unwrap();
        let e = build_error(&text, dir.path()).await;
        assert!(
            e.starts_with(&format!("server.tls_key = {key:?}"))
                && e.contains("is encrypted")
                && e.contains(&format!("openssl pkey -in {key} -out {key}.plain"))
                && !e.contains("no items found"),
            "{e}"
        );
    }
}

/// The served certificate's notAfter as a metric, following a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_metric_follows_the_served_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let first = certificate(-1, 60);
    write_pair(dir.path(), &first);
    let receiver = builder(
        &files_config(dir.path(), "tls_reload_secs = 1\n"),
        dir.path(),
    )
    .build()
    .await
    .unwrap();
    let metrics = receiver.metrics().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(receiver.run_until(async move {
        let _ = stopped.await;
    }));
    let gauge = |text: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix("tradecloud_tls_certificate_expiry_timestamp_seconds "))
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    let text = metrics.encode();
    assert!(
        text.contains("# TYPE tradecloud_tls_certificate_expiry_timestamp_seconds gauge"),
        "{text}"
    );
    assert_eq!(gauge(&text), Some(not_after(&first.0)));

    let second = certificate(-1, 80);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    write_pair(dir.path(), &second);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while gauge(&metrics.encode()) != Some(not_after(&second.0)) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the metric did not follow the reload: {}",
            metrics.encode()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // An expired certificate is not loaded: the valid one stays in service.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    write_pair(dir.path(), &certificate(-100, -1));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(gauge(&metrics.encode()), Some(not_after(&second.0)));
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

fn count(text: &str, reason: &str) -> u64 {
    let prefix = format!("tradecloud_tls_handshake_failures_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Failed handshakes counted by reason: a client that does not trust the
/// certificate, plain HTTP, TLS 1.1, a client that just closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_handshakes_are_counted_by_reason() {
    let rx = start(&basic_config("handshake_timeout_secs = 1\n")).await;

    // A client without the receiver's certificate in its roots: unknown_ca.
    let untrusting = reqwest::Client::builder()
        .resolve("localhost", rx.addr)
        .build()
        .unwrap();
    assert!(untrusting.get(rx.url("/healthz")).send().await.is_err());

    // Plain HTTP on the HTTPS port.
    let mut tcp = tokio::net::TcpStream::connect(rx.addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer).await;

    // A TLS 1.1 ClientHello.
    let mut tcp = tokio::net::TcpStream::connect(rx.addr).await.unwrap();
    tcp.write_all(&tradecloud::doctor::tls::client_hello(
        0x0302,
        &[0xc013, 0x002f],
        "localhost",
    ))
    .await
    .unwrap();
    let _ = tcp.read_to_end(&mut answer).await;

    // Connected, then closed without a word.
    drop(tokio::net::TcpStream::connect(rx.addr).await.unwrap());
    // Connected, then silent: the handshake times out.
    let silent = tokio::net::TcpStream::connect(rx.addr).await.unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let text = rx.metrics.encode();
        let counts: Vec<u64> = [
            "unknown_ca",
            "not_tls",
            "protocol_version",
            "closed",
            "timeout",
        ]
        .iter()
        .map(|r| count(&text, r))
        .collect();
        if counts.iter().all(|c| *c >= 1) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{counts:?} (unknown_ca, not_tls, protocol_version, closed, timeout)\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(silent);
    rx.stop().await;
}

/// `tradecloud serve`'s own output: an error says each cause once; warnings
/// at start for a certificate that ends soon and for Entra ID without
/// allowed client ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_says_each_cause_once_and_warns_at_start() {
    let Some(exe) = exe() else { return };
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(exe)
            .args(args)
            .current_dir(dir.path())
            .env_remove("TRADECLOUD_CONFIG")
            .output()
            .unwrap()
    };
    let out = run(&["serve", "--config", "missing.toml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "the cause once: {stderr}"
    );
    assert!(stderr.contains("missing.toml"), "{stderr}");

    std::fs::write(
        dir.path().join("typo.toml"),
        "[procesing]\nconcurrency = 2\n",
    )
    .unwrap();
    let out = run(&["serve", "--config", "typo.toml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("unknown section `[procesing]`"), "{stderr}");

    // A certificate that ends in 5 days, and Entra ID for any application.
    write_pair(dir.path(), &certificate(-1, 5));
    std::fs::write(
        dir.path().join("entra.toml"),
        "[server]\nlisten = \"127.0.0.1:0\"\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n\
         [auth]\nmethod = \"entra\"\ntenant_id = \"tenant\"\naudience = \"api://webhook\"\n\
         [store]\nurl = \"sqlite://inbox.db\"\n",
    )
    .unwrap();
    let seen = start_output(
        exe,
        dir.path(),
        &["--receive-only", "--config", "entra.toml"],
    )
    .await;
    assert!(
        seen.contains("the certificate expires on")
            && (seen.contains("(in 4 days)") || seen.contains("(in 5 days)")),
        "{seen}"
    );
    assert!(seen.contains("auth.allowed_client_ids is empty"), "{seen}");

    // Half of the `[tradecloud]` credentials (a unit that sets only the
    // password file): the warning names the half that is missing.
    std::fs::write(
        dir.path().join("half.toml"),
        "[server]\nlisten = \"127.0.0.1:0\"\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n\
         [auth]\nmethod = \"basic\"\nusername = \"u\"\npassword = \"a-long-enough-password\"\n\
         [store]\nurl = \"sqlite://half.db\"\n[tradecloud]\npassword = \"api-password\"\n",
    )
    .unwrap();
    let seen = start_output(exe, dir.path(), &["--config", "half.toml"]).await;
    assert!(
        seen.contains("[tradecloud] password is set but username is not")
            && seen.contains("tradecloud.username"),
        "{seen}"
    );
}

/// What `tradecloud serve ARGS` in `dir` writes to standard error until it
/// listens (then it is stopped).
async fn start_output(exe: &str, dir: &Path, args: &[&str]) -> String {
    let mut command = tokio::process::Command::new(exe);
    command
        .arg("serve")
        .args(args)
        .current_dir(dir)
        .env_remove("TRADECLOUD_CONFIG")
        .env("RUST_LOG", "warn,tradecloud=info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stderr));
    let mut seen = String::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push_str(&line);
            seen.push('\n');
            if line.starts_with("listening on https://") {
                break;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("serve did not start: {seen}"));
    let _ = child.kill().await;
    seen
}

/// `serve --log-json` writes one JSON object per line and nothing else,
/// the address it listens on included (and the development-certificate
/// notice, and the console's address).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_log_json_writes_only_json_lines() {
    let Some(exe) = exe() else { return };
    let dir = tempfile::tempdir().unwrap();
    let console_port = crate::port_support::free_port();
    std::fs::write(
        dir.path().join("tc.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n\
             [auth]\nmethod = \"basic\"\nusername = \"tradecloud\"\npassword = \"change-me-to-a-long-secret\"\n\
             [store]\nurl = \"sqlite://inbox.db\"\n\
             [console]\nlisten = \"127.0.0.1:{console_port}\"\ntls = false\npassword = \"a console password for the test\"\n"
        ),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(exe)
        .args([
            "serve",
            "--log-json",
            "--dev-tls",
            "--dev-cert-out",
            "dev.pem",
            "--config",
            "tc.toml",
        ])
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .env_remove("TRADECLOUD_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stderr));
    let mut seen = Vec::new();
    // Up to the receiver's own line after its addresses.
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            let last = line.contains("receiving Tradecloud webhooks");
            seen.push(line);
            if last {
                break;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("serve did not start: {seen:#?}"));
    let _ = child.start_kill();
    let status = child.wait().await;
    assert!(
        seen.iter()
            .any(|l| l.contains("receiving Tradecloud webhooks")),
        "serve ended ({status:?}) with: {seen:#?}"
    );
    let objects: Vec<serde_json::Value> = seen
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .filter(serde_json::Value::is_object)
                .unwrap_or_else(|| panic!("not a JSON object: {l:?} in {seen:#?}"))
        })
        .collect();
    assert!(
        seen.iter().all(|l| !l.trim().is_empty()),
        "no blank lines: {seen:#?}"
    );
    let message = |o: &serde_json::Value| o["fields"]["message"].as_str().unwrap_or("").to_string();
    let listening = objects
        .iter()
        .find(|o| message(o).starts_with("listening on https://127.0.0.1:"))
        .unwrap_or_else(|| panic!("{seen:#?}"));
    assert!(listening["fields"]["listen"].is_string(), "{listening}");
    assert!(
        objects
            .iter()
            .any(|o| message(o).contains("Tradecloud will NOT accept it")),
        "{seen:#?}"
    );
    assert!(
        objects.iter().any(|o| message(o).contains(&format!(
            "operator console on http://127.0.0.1:{console_port}"
        ))),
        "{seen:#?}"
    );
}

/// The README's quick start (`tradecloud.example.toml` with the password
/// from the environment) passes the checks, and so does the scaffold's
/// file with its own `[erp]` section.
#[test]
fn the_shipped_configurations_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let example = std::fs::read_to_string(root.join("tradecloud.example.toml")).unwrap();
    let env = vec![(
        "TRADECLOUD_AUTH_PASSWORD".to_string(),
        "change-me-to-a-long-secret".to_string(),
    )];
    tradecloud::receiver::Config::from_parts(
        Some(&example),
        "tradecloud.example.toml",
        env.clone(),
    )
    .unwrap()
    .validate_for_serving()
    .unwrap();
    let scaffold = std::fs::read_to_string(root.join("templates/new/tradecloud.toml")).unwrap();
    let e = tradecloud::receiver::Config::from_parts(Some(&scaffold), "t", env.clone())
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown section `[erp]`"), "{e}");
    tradecloud::receiver::Config::from_parts_with_sections(Some(&scaffold), "t", env, &["erp"])
        .unwrap()
        .validate_for_serving()
        .unwrap();
}
