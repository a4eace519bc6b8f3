//! Document download of `tradecloud::client::Client` against the mock of
//! Tradecloud over real HTTP: objectId → metadata → presigned URL, a plain
//! URL, no file, an expired presigned URL renewed transparently, and
//! interrupted or cancelled downloads that leave nothing under the final
//! name. (The 200 MB constant-memory download is in
//! `client_download_memory.rs`, alone in its process.)

#![cfg(feature = "mock")]

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tradecloud::api::common::types::{Document, ShipmentDocument};
use tradecloud::api::object_storage::operations::GET_DOCUMENT_METADATA;
use tradecloud::client::{
    Client, ClientError, DocumentSource, DownloadOutcome, Progress, RetryPolicy,
};
use tradecloud::mock::{
    generated_byte, operation, FaultConfig, FaultTrigger, MockConfig, MockDocument, MockServer,
};

use crate::client_support as support;
use support::{builder, client, start, MANUAL_OBJECT_ID};

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("the directory")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

fn downloaded(outcome: DownloadOutcome) -> tradecloud::client::Downloaded {
    match outcome {
        DownloadOutcome::Downloaded(file) => file,
        DownloadOutcome::NoFile => panic!("expected a file"),
    }
}

#[tokio::test]
async fn downloads_a_document_by_object_id_with_its_name_and_type() {
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 256) as u8).collect();
    let server = start(MockConfig::new().document(
        "doc-1",
        MockDocument::from_bytes("Delivery note 7.pdf", "application/pdf", bytes.clone()),
    ))
    .await;
    let client = client(&server);
    let dir = tempfile::tempdir().expect("a directory");
    let mut reports: Vec<Progress> = Vec::new();
    let document: Document =
        serde_json::from_str(r#"{"code": "DN-7", "objectId": "doc-1"}"#).expect("a document");
    let outcome = client
        .documents()
        .download(&document, dir.path())
        .progress(|p| reports.push(p))
        .await
        .expect("the download succeeds");
    let file = downloaded(outcome);
    assert_eq!(file.file_name, "Delivery note 7.pdf");
    assert_eq!(file.path, dir.path().join("Delivery note 7.pdf"));
    assert_eq!(file.content_type.as_deref(), Some("application/pdf"));
    assert_eq!(file.bytes, 300_000);
    assert_eq!(std::fs::read(&file.path).expect("the file"), bytes);
    assert_eq!(
        entries(dir.path()),
        vec!["Delivery note 7.pdf".to_string()],
        "no temporary file left"
    );
    assert_eq!(
        reports.first(),
        Some(&Progress {
            bytes: 0,
            total: Some(300_000)
        })
    );
    assert_eq!(
        reports.last(),
        Some(&Progress {
            bytes: 300_000,
            total: Some(300_000)
        })
    );
    assert!(reports.windows(2).all(|w| w[0].bytes <= w[1].bytes));
    let stats = server.stats();
    assert_eq!(stats.requests_for(GET_DOCUMENT_METADATA.id), 1);
    assert_eq!(stats.requests_for(operation::MOCK_S3_DOWNLOAD), 1);
}

#[tokio::test]
async fn downloads_to_a_given_file_path_replacing_an_old_file() {
    let server = start(MockConfig::new().demo_data()).await;
    let client = client(&server);
    let dir = tempfile::tempdir().expect("a directory");
    let target = dir.path().join("manual.pdf");
    std::fs::write(&target, b"old content").expect("an old file");
    let file = downloaded(
        client
            .documents()
            .download(MANUAL_OBJECT_ID, &target)
            .await
            .expect("the download succeeds"),
    );
    assert_eq!(file.path, target);
    assert_eq!(file.file_name, "Tradecloud API Manual.pdf");
    let content = std::fs::read(&target).expect("the file");
    assert!(
        content.starts_with(b"%PDF"),
        "the new content replaced the old"
    );
    assert_eq!(entries(dir.path()), vec!["manual.pdf".to_string()]);
}

#[tokio::test]
async fn a_document_without_object_id_or_url_has_no_file() {
    let server = start(MockConfig::new()).await;
    let client = client(&server);
    let dir = tempfile::tempdir().expect("a directory");
    let document: ShipmentDocument =
        serde_json::from_str(r#"{"code": "10007563", "name": "x"}"#).expect("a document");
    let outcome = client
        .documents()
        .download(&document, dir.path())
        .await
        .expect("no error");
    assert_eq!(outcome, DownloadOutcome::NoFile);
    assert_eq!(server.stats().api_requests(), 0, "nothing was asked");
    assert!(entries(dir.path()).is_empty());
}

#[tokio::test]
async fn an_expired_download_url_is_renewed_transparently() {
    // The presigned URL lives 1 s; the first GET of it is held up 1.5 s by
    // the mock, so the mock's S3 answers 403 "Request has expired".
    let server = start(
        MockConfig::new()
            .demo_data()
            .download_url_lifetime(Duration::from_secs(1))
            .fault(
                FaultConfig::delay(Duration::from_millis(1500), FaultTrigger::FirstN(1))
                    .for_operations([operation::MOCK_S3_DOWNLOAD]),
            ),
    )
    .await;
    let client = client(&server);
    let dir = tempfile::tempdir().expect("a directory");
    let file = downloaded(
        client
            .documents()
            .download(MANUAL_OBJECT_ID, dir.path())
            .await
            .expect("renewed"),
    );
    assert!(std::fs::read(&file.path)
        .expect("the file")
        .starts_with(b"%PDF"));
    let stats = server.stats();
    assert_eq!(
        stats.requests_for(GET_DOCUMENT_METADATA.id),
        2,
        "fresh metadata: {stats:?}"
    );
    assert_eq!(stats.requests_for(operation::MOCK_S3_DOWNLOAD), 2);
    assert_eq!(stats.responses_with(403), 1);
}

#[tokio::test]
async fn a_url_that_keeps_expiring_gives_up_with_a_clear_error() {
    let server = start(
        MockConfig::new()
            .demo_data()
            .download_url_lifetime(Duration::from_millis(200))
            .fault(
                FaultConfig::delay(Duration::from_millis(400), FaultTrigger::Always)
                    .for_operations([operation::MOCK_S3_DOWNLOAD]),
            ),
    )
    .await;
    let client = client(&server);
    let dir = tempfile::tempdir().expect("a directory");
    let error = client
        .documents()
        .download(MANUAL_OBJECT_ID, dir.path())
        .await
        .expect_err("never in time");
    assert!(
        matches!(
            error,
            ClientError::DownloadUrlExpired {
                renewals: 3,
                status: Some(403),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("clock"), "{error}");
    assert!(entries(dir.path()).is_empty());
}

#[tokio::test]
async fn an_interrupted_download_leaves_no_file_under_the_final_name() {
    let server = start(MockConfig::new().document(
        "big",
        MockDocument::generated("big.bin", 5_000_000).interrupt_after(1_000_000),
    ))
    .await;
    let client = builder(&server)
        .retry_policy(
            RetryPolicy::default()
                .max_retries(2)
                .base_delay(Duration::from_millis(5)),
        )
        .build()
        .expect("a client");
    let dir = tempfile::tempdir().expect("a directory");
    let error = client
        .documents()
        .download("big", dir.path())
        .await
        .expect_err("the connection drops every time");
    assert!(
        matches!(error, ClientError::DownloadInterrupted { attempts: 3, .. }),
        "{error:?}"
    );
    assert!(
        !error.to_string().contains("X-Amz-Signature"),
        "no signature in {error}"
    );
    assert!(
        entries(dir.path()).is_empty(),
        "neither the final nor a temporary file: {:?}",
        entries(dir.path())
    );
    // Each retry fetched a fresh presigned URL.
    let stats = server.stats();
    assert_eq!(
        stats.requests_for(operation::MOCK_S3_DOWNLOAD),
        3,
        "{stats:?}"
    );
    assert_eq!(stats.requests_for(GET_DOCUMENT_METADATA.id), 3);
}

#[tokio::test]
async fn a_cancelled_download_leaves_no_file_behind() {
    let server = start(
        MockConfig::new().document("huge", MockDocument::generated("huge.bin", 2_000_000_000)),
    )
    .await;
    let client = client(&server);
    let dir = tempfile::tempdir().expect("a directory");
    let written = Arc::new(AtomicU64::new(0));
    let task = {
        let (client, written, path) = (client.clone(), written.clone(), dir.path().to_path_buf());
        tokio::spawn(async move {
            client
                .documents()
                .download("huge", &path)
                .progress(move |p| written.store(p.bytes, Ordering::Relaxed))
                .await
        })
    };
    while written.load(Ordering::Relaxed) < 5_000_000 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let names = entries(dir.path());
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(
        names[0].starts_with(".tradecloud-download-") && names[0].ends_with(".part"),
        "{names:?}"
    );
    task.abort();
    assert!(task.await.expect_err("cancelled").is_cancelled());
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

#[tokio::test]
async fn downloads_a_plain_url_without_authorization() {
    // A content server of our own that records the request headers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("the address");
    let server_task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("a connection");
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buffer).await.expect("the request");
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buffer[..n]);
        }
        let body = b"hello from the buyer's content server";
        let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
        socket.write_all(head.as_bytes()).await.expect("the answer");
        socket.write_all(body).await.expect("the body");
        socket.shutdown().await.ok();
        String::from_utf8_lossy(&request).to_ascii_lowercase()
    });
    let mock = start(MockConfig::new().demo_data()).await;
    let client = client(&mock);
    client
        .orders()
        .get(support::ORDER_ID)
        .await
        .expect("tokens are held now");
    let dir = tempfile::tempdir().expect("a directory");
    let url = format!("http://{address}/content/manual%20v2.txt");
    let document: Document =
        serde_json::from_value(serde_json::json!({"code": "1", "url": url})).expect("a document");
    assert_eq!(
        DocumentSource::from(&document),
        DocumentSource::Url(url.clone())
    );
    let file = downloaded(
        client
            .documents()
            .download(&document, dir.path())
            .await
            .expect("the download succeeds"),
    );
    assert_eq!(file.file_name, "manual v2.txt");
    assert_eq!(file.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        std::fs::read(&file.path).expect("the file"),
        b"hello from the buyer's content server"
    );
    let request = server_task.await.expect("the server task");
    assert!(
        request.starts_with("get /content/manual%20v2.txt"),
        "{request}"
    );
    assert!(
        !request.contains("authorization"),
        "no Authorization header: {request}"
    );
}

#[tokio::test]
async fn a_presigned_url_as_source_uses_the_content_disposition_name() {
    let server = start(
        MockConfig::new().document("gen", MockDocument::generated("Prüfbericht 1.bin", 100_000)),
    )
    .await;
    let client = client(&server);
    let url = server.presigned_url("gen").expect("a presigned URL");
    let dir = tempfile::tempdir().expect("a directory");
    let file = downloaded(
        client
            .documents()
            .download(url.as_str(), dir.path())
            .await
            .expect("the download succeeds"),
    );
    assert_eq!(file.file_name, "Prüfbericht 1.bin");
    let content = std::fs::read(&file.path).expect("the file");
    assert!(content
        .iter()
        .enumerate()
        .all(|(i, b)| *b == generated_byte(i as u64)));
    // A presigned URL needs no login.
    assert_eq!(server.stats().logins, 0);
}

#[tokio::test]
async fn a_path_traversal_filename_stays_in_the_directory() {
    let server = start(MockConfig::new().document(
        "evil",
        MockDocument::from_bytes("../../escape.txt", "text/plain", &b"x"[..]),
    ))
    .await;
    let client = client(&server);
    let root = tempfile::tempdir().expect("a directory");
    let dir = root.path().join("a").join("b");
    std::fs::create_dir_all(&dir).expect("directories");
    let file = downloaded(
        client
            .documents()
            .download("evil", &dir)
            .await
            .expect("the download succeeds"),
    );
    assert_eq!(file.path, dir.join("escape.txt"));
    assert!(!root.path().join("escape.txt").exists());
}

#[tokio::test]
async fn an_unknown_document_is_not_found() {
    let server = start(MockConfig::new()).await;
    let client = client(&server);
    let dir = tempfile::tempdir().expect("a directory");
    let error = client
        .documents()
        .download("no-such-object", dir.path())
        .await
        .expect_err("a 404");
    assert!(matches!(error, ClientError::NotFound { .. }), "{error:?}");
    assert!(
        error.to_string().contains("document no-such-object"),
        "{error}"
    );
}

/// A content server that answers the `n`th request with `statuses[n]`
/// (the last one from then on), counting the requests.
async fn status_server(statuses: Vec<u16>) -> (String, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("the address");
    let requests = Arc::new(AtomicU64::new(0));
    let seen = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let n = seen.fetch_add(1, Ordering::SeqCst) as usize;
            let status = statuses[n.min(statuses.len() - 1)];
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let body = format!("status {status}");
                let head = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (format!("http://{address}/files/report.txt"), requests)
}

/// `404` and every other `4xx` but `408` and `429` are final: one
/// request, an error that is not transient.
#[tokio::test]
async fn a_4xx_answer_fails_at_once() {
    let mock = start(MockConfig::new()).await;
    let client = client(&mock);
    let dir = tempfile::tempdir().expect("a directory");
    for status in [400u16, 403, 404, 410] {
        let (url, requests) = status_server(vec![status]).await;
        let error = client
            .documents()
            .download(url.as_str(), dir.path())
            .await
            .expect_err("a 4xx answer");
        assert!(
            matches!(
                error,
                ClientError::DownloadFailed { status: s, attempts: 1, .. } if s == status
            ),
            "{status}: {error:?}"
        );
        assert!(!error.is_transient(), "{status}");
        let text = error.to_string();
        assert!(text.contains("after 1 attempt ("), "{text}");
        assert!(text.contains("does not help"), "{text}");
        if matches!(status, 404 | 410) {
            assert!(text.contains("the URL is wrong"), "{text}");
            assert!(text.contains("current url"), "{text}");
        }
        assert_eq!(requests.load(Ordering::SeqCst), 1, "{status}: not retried");
    }
    assert!(entries(dir.path()).is_empty());
}

/// `5xx`, `429` and `408` are retried, and the download then succeeds.
#[tokio::test]
async fn a_5xx_429_or_408_answer_is_retried() {
    let mock = start(MockConfig::new()).await;
    let client = client(&mock);
    let dir = tempfile::tempdir().expect("a directory");
    for status in [500u16, 503, 429, 408] {
        let (url, requests) = status_server(vec![status, status, 200]).await;
        let file = downloaded(
            client
                .documents()
                .download(url.as_str(), dir.path())
                .await
                .unwrap_or_else(|e| panic!("{status}, then 200: {e}")),
        );
        assert_eq!(std::fs::read(&file.path).expect("the file"), b"status 200");
        assert_eq!(requests.load(Ordering::SeqCst), 3, "{status}");
    }
    // Still failing after the retries: transient, so a later try may work.
    let (url, requests) = status_server(vec![503]).await;
    let error = client
        .documents()
        .download(url.as_str(), dir.path())
        .await
        .expect_err("503 forever");
    assert!(
        matches!(
            error,
            ClientError::DownloadFailed {
                status: 503,
                attempts: 6,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_transient());
    assert_eq!(requests.load(Ordering::SeqCst), 6);
}

/// A resolver that fails every name with `message`, counting lookups
/// (the system resolver's answer depends on the machine's network).
struct FailingResolver {
    message: &'static str,
    lookups: Arc<AtomicU64>,
}

impl tradecloud::client::reqwest::dns::Resolve for FailingResolver {
    fn resolve(
        &self,
        _name: tradecloud::client::reqwest::dns::Name,
    ) -> tradecloud::client::reqwest::dns::Resolving {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let message = self.message;
        Box::pin(async move { Err(std::io::Error::other(message).into()) })
    }
}

/// A client of `mock` whose HTTP client resolves names with `message`'s
/// failure, and the lookup counter.
fn client_with_resolver(mock: &MockServer, message: &'static str) -> (Client, Arc<AtomicU64>) {
    let lookups = Arc::new(AtomicU64::new(0));
    let http = tradecloud::client::reqwest::Client::builder()
        .dns_resolver(FailingResolver {
            message,
            lookups: lookups.clone(),
        })
        .build()
        .expect("an HTTP client");
    let client = builder(mock).http_client(http).build().expect("a client");
    (client, lookups)
}

/// A host name that does not exist fails at once, for a download and an
/// API call; a resolver that says "try again" is retried.
#[tokio::test]
async fn a_host_that_does_not_resolve_fails_at_once() {
    let mock = start(MockConfig::new()).await;
    let dir = tempfile::tempdir().expect("a directory");
    let url = "https://files.example.invalid/report.pdf";

    // glibc's text for EAI_NONAME.
    let (client, lookups) = client_with_resolver(
        &mock,
        "failed to lookup address information: Name or service not known",
    );
    let error = client
        .documents()
        .download(url, dir.path())
        .await
        .expect_err("no such host");
    assert!(
        matches!(error, ClientError::DownloadUnreachable { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("retrying cannot help"),
        "{error}"
    );
    assert!(!error.is_transient());
    assert_eq!(
        lookups.load(Ordering::SeqCst),
        1,
        "looked up once, not retried"
    );

    // The same for an API call to a base URL that does not resolve.
    let api = Client::builder()
        .base_url("http://tradecloud.example.invalid/v2")
        .credentials("integration@example.com", "secret")
        .retry_policy(RetryPolicy::default().base_delay(Duration::from_millis(1)))
        .http_client(
            tradecloud::client::reqwest::Client::builder()
                .dns_resolver(FailingResolver {
                    message: "failed to lookup address information: Name or service not known",
                    lookups: lookups.clone(),
                })
                .build()
                .expect("an HTTP client"),
        )
        .build()
        .expect("a client");
    lookups.store(0, Ordering::SeqCst);
    let error = api.orders().get("o1").await.expect_err("no such host");
    assert!(matches!(error, ClientError::Connect { .. }), "{error:?}");
    assert!(!error.is_transient());
    assert_eq!(lookups.load(Ordering::SeqCst), 1);

    // glibc's text for EAI_AGAIN: the resolver may answer later.
    let (client, lookups) = client_with_resolver(
        &mock,
        "failed to lookup address information: Temporary failure in name resolution",
    );
    let error = client
        .documents()
        .download(url, dir.path())
        .await
        .expect_err("the resolver stays down");
    assert!(
        matches!(error, ClientError::DownloadInterrupted { attempts: 6, .. }),
        "{error:?}"
    );
    assert!(error.is_transient());
    assert_eq!(lookups.load(Ordering::SeqCst), 6);
    assert!(entries(dir.path()).is_empty());
}

/// A server whose certificate the client does not trust: one TLS
/// handshake, no retries.
#[cfg(feature = "receiver")]
#[tokio::test]
async fn a_refused_certificate_fails_at_once() {
    use tokio_rustls::rustls;

    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
        .expect("a self-signed certificate");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .expect("a TLS configuration");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("the address");
    let connections = Arc::new(AtomicU64::new(0));
    let seen = connections.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // The client aborts the handshake.
                let _ = acceptor.accept(socket).await;
            });
        }
    });

    let mock = start(MockConfig::new()).await;
    let client = client(&mock);
    let dir = tempfile::tempdir().expect("a directory");
    let url = format!("https://{address}/report.pdf");
    let error = client
        .documents()
        .download(url.as_str(), dir.path())
        .await
        .expect_err("an untrusted certificate");
    assert!(
        matches!(error, ClientError::DownloadUnreachable { .. }),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "one handshake, no retries"
    );
    assert!(entries(dir.path()).is_empty());
}
