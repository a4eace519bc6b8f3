//! HTTPS only, TLS 1.2 and 1.3 only, strong cipher suites only, and
//! certificates reloaded without a restart. The refusals are proven with
//! hand-made ClientHello messages (rustls cannot offer TLS 1.1 or CBC
//! suites), checked against a well-formed TLS 1.2 hello that the server
//! accepts, and additionally with `openssl s_client` when it is installed.

#![cfg(feature = "receiver")]

use crate::receiver_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use receiver_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tradecloud::inbox::Inbox;
use tradecloud::receiver::{tls, Receiver};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

fn connector(
    cert_pem: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Connect with `versions`, GET /healthz over HTTP/1.1; the negotiated
/// version, suite and the status line.
async fn handshake(
    addr: SocketAddr,
    cert_pem: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> std::io::Result<(rustls::ProtocolVersion, rustls::CipherSuite, String)> {
    let tcp = TcpStream::connect(addr).await?;
    let mut stream = connector(cert_pem, versions)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    let (_, conn) = stream.get_ref();
    let version = conn.protocol_version().unwrap();
    let suite = conn.negotiated_cipher_suite().unwrap().suite();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.ok();
    let status = String::from_utf8_lossy(&response)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    Ok((version, suite, status))
}

#[tokio::test]
async fn receiver_speaks_tls_1_2_and_1_3() {
    let rx = start(&basic_config("")).await;
    let (version, suite, status) = handshake(rx.addr, &rx.cert_pem, &[&rustls::version::TLS12])
        .await
        .unwrap();
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_2);
    let name = format!("{suite:?}");
    assert!(
        name.starts_with("TLS_ECDHE_") && (name.contains("GCM") || name.contains("CHACHA20")),
        "{name}"
    );
    assert_eq!(status, "HTTP/1.1 200 OK");
    let (version, _, status) = handshake(rx.addr, &rx.cert_pem, &[&rustls::version::TLS13])
        .await
        .unwrap();
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_3);
    assert_eq!(status, "HTTP/1.1 200 OK");
    // The default client negotiates 1.3.
    let (version, _, _) = handshake(
        rx.addr,
        &rx.cert_pem,
        &[&rustls::version::TLS13, &rustls::version::TLS12],
    )
    .await
    .unwrap();
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_3);
    rx.stop().await;
}

/// The receiver picks the suite by its own order (strongest first), even
/// when the client prefers another one (testssl.sh: "server cipher order").
#[tokio::test]
async fn receiver_chooses_the_cipher_suite_by_its_own_order() {
    let rx = start(&basic_config("")).await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(rx.cert_pem.as_bytes()).unwrap())
        .unwrap();
    for (version, client_first) in [
        (
            &rustls::version::TLS13,
            rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        ),
        (
            &rustls::version::TLS12,
            rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
    ] {
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        provider
            .cipher_suites
            .sort_by_key(|s| s.suite() != client_first);
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        let tcp = TcpStream::connect(rx.addr).await.unwrap();
        let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        let suite = stream
            .get_ref()
            .1
            .negotiated_cipher_suite()
            .unwrap()
            .suite();
        let expected = tls::CIPHER_SUITES
            .iter()
            .copied()
            .find(|s| {
                let name = format!("{s:?}");
                match version.version {
                    rustls::ProtocolVersion::TLSv1_3 => name.starts_with("TLS13_"),
                    _ => name.starts_with("TLS_ECDHE_ECDSA_"),
                }
            })
            .unwrap();
        assert_ne!(suite, client_first, "the client's preference was followed");
        assert_eq!(suite, expected);
    }
    rx.stop().await;
}

/// A ClientHello record: `version` in the hello, the given suites, and the
/// extensions an ECDHE handshake needs (SNI, groups, point formats,
/// signature algorithms), but no `supported_versions` (so no TLS 1.3).
fn client_hello(version: u16, suites: &[u16]) -> Vec<u8> {
    fn u16b(v: usize) -> [u8; 2] {
        (v as u16).to_be_bytes()
    }
    let mut ext = Vec::new();
    let host = b"localhost";
    let mut sni = Vec::new();
    sni.extend(u16b(host.len() + 3));
    sni.push(0);
    sni.extend(u16b(host.len()));
    sni.extend(host);
    for (kind, data) in [
        (0x0000u16, sni),
        (0x000a, vec![0, 4, 0x00, 0x1d, 0x00, 0x17]),
        (0x000b, vec![1, 0]),
        (
            0x000d,
            vec![0, 8, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03],
        ),
    ] {
        ext.extend(kind.to_be_bytes());
        ext.extend(u16b(data.len()));
        ext.extend(data);
    }
    let mut body = Vec::new();
    body.extend(version.to_be_bytes());
    body.extend([7u8; 32]);
    body.push(0);
    body.extend(u16b(suites.len() * 2));
    for s in suites {
        body.extend(s.to_be_bytes());
    }
    body.extend([1, 0]);
    body.extend(u16b(ext.len()));
    body.extend(ext);
    let mut handshake = vec![1];
    handshake.extend(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend(body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend(u16b(handshake.len()));
    record.extend(handshake);
    record
}

/// Send `bytes`; the first record's content type and first two payload bytes.
async fn first_record(addr: SocketAddr, bytes: &[u8]) -> Option<(u8, [u8; 2])> {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(bytes).await.unwrap();
    let mut header = [0u8; 7];
    match tokio::time::timeout(Duration::from_secs(5), tcp.read_exact(&mut header)).await {
        Ok(Ok(_)) => Some((header[0], [header[5], header[6]])),
        _ => None,
    }
}

const GCM_SUITES: &[u16] = &[0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8];
const CBC_AND_LEGACY_SUITES: &[u16] = &[
    0xc009, 0xc00a, 0xc013, 0xc014, 0xc023, 0xc027, 0x002f, 0x0035, 0x003c, 0x000a, 0x0005,
];

#[tokio::test]
async fn receiver_refuses_old_protocols_weak_suites_and_plain_http() {
    let rx = start(&basic_config("")).await;
    // Control: a hand-made TLS 1.2 hello with strong suites gets a ServerHello.
    let (kind, _) = first_record(rx.addr, &client_hello(0x0303, GCM_SUITES))
        .await
        .expect("an answer");
    assert_eq!(
        kind, 0x16,
        "handshake record (ServerHello) for a TLS 1.2 hello"
    );
    // TLS 1.1 and 1.0 with the same suites: a fatal protocol_version alert.
    for version in [0x0302u16, 0x0301] {
        let (kind, alert) = first_record(rx.addr, &client_hello(version, GCM_SUITES))
            .await
            .expect("an answer");
        assert_eq!(kind, 0x15, "an alert for version {version:#06x}");
        assert_eq!(alert, [2, 70], "fatal protocol_version for {version:#06x}");
    }
    // TLS 1.2 with only CBC, RSA key exchange, 3DES and RC4 suites: fatal handshake_failure.
    let (kind, alert) = first_record(rx.addr, &client_hello(0x0303, CBC_AND_LEGACY_SUITES))
        .await
        .expect("an answer");
    assert_eq!((kind, alert), (0x15, [2, 40]), "handshake_failure alert");
    // Plain HTTP to the TLS port gets no HTTP answer.
    let mut tcp = TcpStream::connect(rx.addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
    assert!(
        !answer.starts_with(b"HTTP/"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/healthz", rx.addr.port()))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    rx.stop().await;
}

fn openssl_available() -> bool {
    std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn s_client(addr: SocketAddr, args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &addr.to_string(),
            "-servername",
            "localhost",
        ])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let connected = text.contains("Cipher is ") && !text.contains("Cipher is (NONE)");
    (connected, text)
}

#[tokio::test]
async fn receiver_refuses_tls_1_1_to_openssl() {
    if !openssl_available() {
        eprintln!("skipped: openssl is not installed");
        return;
    }
    let rx = start(&basic_config("")).await;
    let addr = rx.addr;
    let results = tokio::task::spawn_blocking(move || {
        [
            ("1.2", s_client(addr, &["-tls1_2"])),
            ("1.3", s_client(addr, &["-tls1_3"])),
            ("1.1", s_client(addr, &["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"])),
            ("1.0", s_client(addr, &["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"])),
            ("1.2 CBC", s_client(addr, &["-tls1_2", "-cipher", "AES128-SHA:AES256-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA:DES-CBC3-SHA:@SECLEVEL=0"])),
            ("1.2 RSA key exchange", s_client(addr, &["-tls1_2", "-cipher", "AES128-GCM-SHA256:AES256-GCM-SHA384"])),
        ]
    })
    .await
    .unwrap();
    for (case, (connected, text)) in results {
        let expected = matches!(case, "1.2" | "1.3");
        let protocol = text
            .lines()
            .find(|l| l.trim_start().starts_with("Protocol"))
            .unwrap_or("")
            .trim()
            .to_string();
        eprintln!("openssl s_client TLS {case}: connected={connected} {protocol}");
        assert_eq!(connected, expected, "openssl s_client TLS {case}:\n{text}");
    }
    rx.stop().await;
}

#[tokio::test]
async fn receiver_reloads_a_renewed_certificate_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_a, key_a) = tls::dev_certificate(&["localhost"]).unwrap();
    let (cert_b, key_b) = tls::dev_certificate(&["localhost"]).unwrap();
    let cert_path = dir.path().join("fullchain.pem");
    let key_path = dir.path().join("privkey.pem");
    std::fs::write(&cert_path, &cert_a).unwrap();
    std::fs::write(&key_path, &key_a).unwrap();
    let text = basic_config(&format!(
        "tls_cert = {:?}\ntls_key = {:?}\ntls_reload_secs = 1",
        cert_path.display().to_string(),
        key_path.display().to_string()
    ));
    let inbox = Inbox::open("sqlite::memory:").unwrap();
    let receiver = Receiver::builder()
        .config(config(&text))
        .inbox(inbox)
        .build()
        .await
        .unwrap();
    let addr = receiver.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(receiver.run_until(async move {
        let _ = stopped.await;
    }));
    let v13 = [&rustls::version::TLS13];
    assert!(handshake(addr, &cert_a, &v13).await.is_ok());
    assert!(handshake(addr, &cert_b, &v13).await.is_err());
    // A half-written renewal (new key, old certificate) does not take the old one out of service.
    std::fs::write(&key_path, &key_b).unwrap();
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert!(
        handshake(addr, &cert_a, &v13).await.is_ok(),
        "still the old certificate"
    );
    std::fs::write(&cert_path, &cert_b).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while handshake(addr, &cert_b, &v13).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the renewed certificate was not picked up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        handshake(addr, &cert_a, &v13).await.is_err(),
        "the old certificate is no longer served"
    );
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn receiver_refuses_to_start_without_a_certificate() {
    let inbox = Inbox::open("sqlite::memory:").unwrap();
    let error = Receiver::builder()
        .config(config(&basic_config("")))
        .inbox(inbox)
        .build()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("tls_cert"), "{error}");
}
