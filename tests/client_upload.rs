//! `Documents::upload` against the mock of Tradecloud over real HTTP: the
//! file arrives byte for byte and can be downloaded again by its
//! `objectId`, progress is reported as the file goes out, and the upload is
//! sent again only when it provably did not arrive (a `429`, a `401`
//! renewing the token), never after a `5xx`.

#![cfg(feature = "mock")]

use std::sync::{Arc, Mutex};

use tradecloud::api::object_storage::operations::UPLOAD_DOCUMENT;
use tradecloud::client::{ClientError, DownloadOutcome, Progress, CHUNK};
use tradecloud::mock::{FaultConfig, FaultTrigger, MockConfig};

use crate::client_support as support;
use support::{client, start};

fn file(dir: &std::path::Path, name: &str, size: usize) -> (std::path::PathBuf, Vec<u8>) {
    let data: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
    let path = dir.join(name);
    std::fs::write(&path, &data).expect("written");
    (path, data)
}

#[tokio::test]
async fn an_uploaded_file_comes_back_by_its_object_id_with_progress() {
    let server = start(MockConfig::new()).await;
    let client = client(&server);
    let dir = tempfile::tempdir().expect("a directory");
    let (path, data) = file(dir.path(), "PO123 confirmation.pdf", 5 * CHUNK + 123);
    let reports: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let seen = reports.clone();
    let uploaded = client
        .documents()
        .upload(&path)
        .progress(move |p| seen.lock().expect("lock").push(p))
        .await
        .expect("uploaded");
    assert_eq!(uploaded.file_name, "PO123 confirmation.pdf");
    assert_eq!(uploaded.content_type, "application/pdf");
    assert_eq!(uploaded.bytes, data.len() as u64);
    assert_eq!(
        uploaded.answer.id.as_deref(),
        Some(uploaded.object_id.as_str())
    );

    let reports = reports.lock().expect("lock").clone();
    let total = Some(data.len() as u64);
    assert!(reports.iter().all(|p| p.total == total), "{reports:?}");
    assert!(
        reports.windows(2).all(|w| w[0].bytes < w[1].bytes),
        "increasing: {reports:?}"
    );
    assert_eq!(reports.last().map(|p| p.bytes), total);
    assert!(reports.len() >= 2, "{reports:?}");

    // The stored document downloads as it was sent.
    let downloads = tempfile::tempdir().expect("a directory");
    let DownloadOutcome::Downloaded(back) = client
        .documents()
        .download(uploaded.object_id.as_str(), downloads.path())
        .await
        .expect("downloaded")
    else {
        panic!("a file")
    };
    // Upload and download name the file the same way.
    assert_eq!(back.file_name, uploaded.file_name);
    assert_eq!(std::fs::read(&back.path).expect("read"), data);
    assert_eq!(server.stats().requests_for(UPLOAD_DOCUMENT.id), 1);
}

#[tokio::test]
async fn the_name_and_media_type_can_be_given() {
    let server = start(MockConfig::new()).await;
    let client = client(&server);
    let dir = tempfile::tempdir().expect("a directory");
    let (path, _) = file(dir.path(), "export.tmp", 100);
    let uploaded = client
        .documents()
        .upload(&path)
        .file_name("Drawing 4711.dwg")
        .content_type("image/vnd.dwg")
        .await
        .expect("uploaded");
    let metadata = client
        .documents()
        .metadata(&uploaded.object_id)
        .await
        .expect("metadata");
    assert_eq!(metadata.filename.as_deref(), Some("Drawing 4711.dwg"));
    assert_eq!(metadata.content_type.as_deref(), Some("image/vnd.dwg"));
    // Unknown extension, no type given: octet-stream.
    let (path, _) = file(dir.path(), "data.unknownext", 10);
    let uploaded = client.documents().upload(&path).await.expect("uploaded");
    assert_eq!(uploaded.content_type, "application/octet-stream");
}

#[tokio::test]
async fn refused_files_are_refused_before_sending() {
    let server = start(MockConfig::new()).await;
    let client = client(&server);
    let dir = tempfile::tempdir().expect("a directory");
    let (path, _) = file(dir.path(), "setup.exe", 10);
    let error = client.documents().upload(&path).await.expect_err("blocked");
    assert!(
        matches!(error, ClientError::InvalidRequest { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains(".exe"), "{error}");
    let error = client
        .documents()
        .upload(dir.path().join("missing.pdf"))
        .await
        .expect_err("no file");
    assert!(matches!(error, ClientError::Io { .. }), "{error:?}");
    assert!(error.to_string().contains("missing.pdf"), "{error}");
    let error = client
        .documents()
        .upload(dir.path())
        .await
        .expect_err("a directory");
    assert!(matches!(error, ClientError::Io { .. }), "{error:?}");
    assert_eq!(server.stats().api_requests(), 0);
}

#[tokio::test]
async fn a_server_error_is_not_answered_by_a_second_upload() {
    let server = start(
        MockConfig::new().fault(
            FaultConfig::service_unavailable(FaultTrigger::FirstN(1))
                .for_operations([UPLOAD_DOCUMENT.id]),
        ),
    )
    .await;
    let client = client(&server);
    let dir = tempfile::tempdir().expect("a directory");
    let (path, _) = file(dir.path(), "a.pdf", 3 * CHUNK);
    let error = client.documents().upload(&path).await.expect_err("503");
    assert!(
        matches!(
            error,
            ClientError::NotResent {
                status: Some(503),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("second copy"), "{error}");
    // Uploading again is safe, so a later try may work: transient.
    assert!(
        matches!(
            error,
            ClientError::NotResent {
                safe_to_send_again: true,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_transient(), "{error}");
    assert_eq!(server.stats().requests_for(UPLOAD_DOCUMENT.id), 1);
    assert!(server.data_summary().documents.is_empty());
}

#[tokio::test]
async fn a_429_sends_the_file_again_from_the_start() {
    let server = start(
        MockConfig::new().fault(
            FaultConfig::too_many_requests(0, FaultTrigger::FirstN(2))
                .for_operations([UPLOAD_DOCUMENT.id]),
        ),
    )
    .await;
    let client = client(&server);
    let dir = tempfile::tempdir().expect("a directory");
    let (path, data) = file(dir.path(), "b.pdf", 4 * CHUNK + 1);
    let uploaded = client.documents().upload(&path).await.expect("third time");
    assert_eq!(server.stats().requests_for(UPLOAD_DOCUMENT.id), 3);
    assert_eq!(
        server.data_summary().documents,
        vec![uploaded.object_id.clone()]
    );
    let downloads = tempfile::tempdir().expect("a directory");
    let DownloadOutcome::Downloaded(back) = client
        .documents()
        .download(uploaded.object_id.as_str(), downloads.path())
        .await
        .expect("downloaded")
    else {
        panic!("a file")
    };
    assert_eq!(std::fs::read(&back.path).expect("read"), data);
}

/// An expired token: `401`, a refresh, and the file again.
#[tokio::test]
async fn a_401_renews_the_token_and_sends_the_file_again() {
    let server = start(MockConfig::new()).await;
    let client = client(&server);
    client.login().await.expect("logged in");
    server.expire_access_tokens();
    let dir = tempfile::tempdir().expect("a directory");
    let (path, data) = file(dir.path(), "c.pdf", 2 * CHUNK + 7);
    // The client still holds the token (its `exp` lies ahead): the
    // first send is refused unread, the second goes with a fresh one.
    let uploaded = client.documents().upload(&path).await.expect("uploaded");
    let stats = server.stats();
    assert_eq!(stats.requests_for(UPLOAD_DOCUMENT.id), 2, "{stats:?}");
    assert_eq!(stats.unauthorized, 1, "{stats:?}");
    assert_eq!(stats.refreshes, 1, "{stats:?}");
    assert_eq!(
        server.data_summary().documents,
        vec![uploaded.object_id.clone()]
    );
    let downloads = tempfile::tempdir().expect("a directory");
    let DownloadOutcome::Downloaded(back) = client
        .documents()
        .download(uploaded.object_id.as_str(), downloads.path())
        .await
        .expect("downloaded")
    else {
        panic!("a file")
    };
    assert_eq!(std::fs::read(&back.path).expect("read"), data);
}

/// When the test's server closes the first connection.
#[derive(Clone, Copy, PartialEq)]
enum Close {
    /// Right after the request head, before the body.
    AfterHead,
    /// After the whole request, without an answer.
    AfterRequest,
}

/// A server of the test's own: the first connection is closed as
/// `close` says; later ones read the request and answer an objectId.
/// Returns its base URL and the number of connections.
async fn closing_server(close: Close) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("an address");
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let first = counted.fetch_add(1, Ordering::SeqCst) == 0;
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = vec![0u8; 64 * 1024];
                // The head, and how much of the body came with it.
                let (length, mut body) = loop {
                    let Ok(n) = socket.read(&mut buffer).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    head.extend_from_slice(&buffer[..n]);
                    let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let text = String::from_utf8_lossy(&head[..end]);
                    let length: usize = text
                        .lines()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    break (length, head.len() - end - 4);
                };
                if first && close == Close::AfterHead {
                    return;
                }
                while body < length {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => body += n,
                    }
                }
                if first {
                    return;
                }
                let answer = r#"{"id":"67aa8ece-5d41-496f-a94c-483e360b833b"}"#;
                let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                        answer.len()
                    );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}/v2"), connections)
}

fn basic_client(base_url: String) -> tradecloud::client::Client {
    tradecloud::client::Client::builder()
        .base_url(base_url)
        .credentials("integration@example.com", "secret")
        .auth_mode(tradecloud::client::AuthMode::BasicEveryRequest)
        .retry_policy(
            tradecloud::client::RetryPolicy::default()
                .base_delay(std::time::Duration::from_millis(1)),
        )
        .build()
        .expect("a client")
}

/// A connection closed while most of the file was still to be sent:
/// the server cannot have the whole upload, so it is sent again.
#[tokio::test]
async fn an_upload_cut_off_before_the_file_went_out_is_sent_again() {
    let (base_url, connections) = closing_server(Close::AfterHead).await;
    let client = basic_client(base_url);
    let dir = tempfile::tempdir().expect("a directory");
    let (path, _) = file(dir.path(), "big.pdf", 32 * 1024 * 1024);
    let uploaded = client.documents().upload(&path).await.expect("sent again");
    assert_eq!(uploaded.object_id, "67aa8ece-5d41-496f-a94c-483e360b833b");
    assert_eq!(uploaded.bytes, 32 * 1024 * 1024);
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(client.stats().retries, 1);
}

/// The whole file went out and no answer came: the server may have it,
/// so it is not sent again.
#[tokio::test]
async fn an_upload_that_went_out_whole_is_not_sent_again() {
    let (base_url, connections) = closing_server(Close::AfterRequest).await;
    let client = basic_client(base_url);
    let dir = tempfile::tempdir().expect("a directory");
    let (path, _) = file(dir.path(), "small.pdf", 300_000);
    let error = client.documents().upload(&path).await.expect_err("cut off");
    assert!(
        matches!(error, ClientError::NotResent { status: None, .. }),
        "{error:?}"
    );
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(client.stats().retries, 0);
}
