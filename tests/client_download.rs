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
    ClientError, DocumentSource, DownloadOutcome, DownloadProgress, RetryPolicy,
};
use tradecloud::mock::{
    generated_byte, operation, FaultConfig, FaultTrigger, MockConfig, MockDocument,
};

#[path = "client_support.rs"]
mod support;
use support::{builder, client, start, MANUAL_OBJECT_ID};

/// Named after the file, so that `cargo test --tests client` selects these tests.
mod client_download {
    use super::*;

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
        let mut reports: Vec<DownloadProgress> = Vec::new();
        let document: Document =
            serde_json::from_str(r#"{"code": "DN-7", "objectId": "doc-1"}"#).expect("a document");
        let outcome = client
            .documents()
            .download(&document, dir.path())
            .progress(|p| reports.push(p))
            .await
            .expect("the download succeeds");
        let file = downloaded(outcome);
        assert_eq!(file.filename, "Delivery note 7.pdf");
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
            Some(&DownloadProgress {
                bytes: 0,
                total: Some(300_000)
            })
        );
        assert_eq!(
            reports.last(),
            Some(&DownloadProgress {
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
        assert_eq!(file.filename, "Tradecloud API Manual.pdf");
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
            let (client, written, path) =
                (client.clone(), written.clone(), dir.path().to_path_buf());
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
            serde_json::from_value(serde_json::json!({"code": "1", "url": url}))
                .expect("a document");
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
        assert_eq!(file.filename, "manual v2.txt");
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
            MockConfig::new()
                .document("gen", MockDocument::generated("Prüfbericht 1.bin", 100_000)),
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
        assert_eq!(file.filename, "Prüfbericht 1.bin");
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
}
