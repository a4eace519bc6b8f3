//! Shared set-up of the receiver tests: a real receiver on loopback over
//! real TLS (a freshly generated certificate), a SQLite inbox in a temporary
//! directory, and a reqwest client that trusts exactly that certificate.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tradecloud::inbox::{Inbox, InboxOptions};
use tradecloud::receiver::{tls, Config, Receiver, ReceiverBuilder};

pub const USER: &str = "tradecloud";
pub const PASSWORD: &str = "correct horse battery staple";

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn basic_config(extra_server: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n{extra_server}\n[auth]\nmethod = \"basic\"\nusername = \"{USER}\"\npassword = \"{PASSWORD}\"\n"
    )
}

pub fn config(text: &str) -> Config {
    Config::from_parts(Some(text), "test", Vec::new()).expect("test configuration")
}

/// A running receiver.
pub struct TestReceiver {
    pub addr: SocketAddr,
    pub inbox: Inbox,
    pub client: reqwest::Client,
    pub cert_pem: String,
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub metrics: tradecloud::receiver::Metrics,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), tradecloud::receiver::ReceiverError>>>,
}

impl TestReceiver {
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    pub fn basic(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.basic_auth(USER, Some(PASSWORD))
    }

    /// POST `body` with Basic auth to `path`.
    pub async fn post(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.basic(self.client.post(self.url(path)))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request sent")
    }

    /// Stop gracefully and wait.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("stops")
                .expect("joins")
                .expect("runs");
        }
    }
}

/// A client trusting `cert_pem`, resolving `localhost` to `addr`.
pub fn client_for(cert_pem: &str, addr: SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .resolve("localhost", addr)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

pub fn inbox_options() -> InboxOptions {
    InboxOptions {
        busy_timeout: Duration::from_millis(300),
        ..InboxOptions::default()
    }
}

/// Start a receiver with `config_text`; `customize` may add a handler etc.
pub async fn start_with(
    config_text: &str,
    customize: impl FnOnce(ReceiverBuilder) -> ReceiverBuilder,
) -> TestReceiver {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let inbox = Inbox::open_with(&format!("sqlite://{}", db.display()), inbox_options()).unwrap();
    let (cert, key) = tls::dev_certificate(&["localhost"]).unwrap();
    let metrics = tradecloud::receiver::Metrics::new();
    let builder = Receiver::builder()
        .config(config(config_text))
        .tls_pem(cert.clone(), key)
        .inbox(inbox.clone())
        .metrics(metrics.clone())
        .listener(std::net::TcpListener::bind("127.0.0.1:0").unwrap());
    let receiver = customize(builder).build().await.expect("receiver builds");
    let addr = receiver.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(receiver.run_until(async move {
        let _ = stopped.await;
    }));
    TestReceiver {
        addr,
        inbox,
        client: client_for(&cert, addr),
        cert_pem: cert,
        dir,
        db,
        metrics,
        stop: Some(stop),
        task: Some(task),
    }
}

pub async fn start(config_text: &str) -> TestReceiver {
    start_with(config_text, |b| b).await
}

/// The JSON body of a response.
pub async fn json(response: reqwest::Response) -> serde_json::Value {
    let bytes = response.bytes().await.unwrap();
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
}
