//! Shared set-up of the receiver tests: a real receiver on loopback over
//! real TLS (a freshly generated certificate), a SQLite inbox in a temporary
//! directory, and a reqwest client that trusts exactly that certificate.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use tradecloud::inbox::{Inbox, InboxOptions};
use tradecloud::receiver::{tls, Config, Receiver, ReceiverBuilder};

pub const USER: &str = "tradecloud";
pub const PASSWORD: &str = "correct horse battery staple";

/// `tests/fixtures` of the checkout: this module is included by the
/// library's tests and by the binary's (cli/tests), so it looks for the
/// workspace root (the directory with `Cargo.lock`) above the package.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .unwrap_or(Path::new(env!("CARGO_MANIFEST_DIR")))
        .join("tests/fixtures")
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

/// A TLS client trusting the receiver's certificate (HTTP/1.1 by hand).
pub fn tls_connector(cert_pem: &str) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

pub type Tls = tokio_rustls::client::TlsStream<TcpStream>;

pub async fn tls_connect(rx: &TestReceiver) -> std::io::Result<Tls> {
    let tcp = TcpStream::connect(rx.addr).await?;
    tls_connector(&rx.cert_pem)
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
}

/// Send `head` and then all of `body` on `stream`, as Python's http.client
/// does (it reads nothing before the whole body is written), then read one
/// response (its head and `Content-Length` bytes of body). An error if the
/// server broke the connection before that.
pub async fn send_all_then_read(
    stream: &mut (impl AsyncReadExt + AsyncWriteExt + Unpin),
    head: &str,
    body: &[u8],
) -> std::io::Result<String> {
    stream.write_all(head.as_bytes()).await?;
    stream.flush().await?;
    // In TLS-record-sized pieces, as a client that sends from a file or a
    // socket buffer does: the server sees the head before the body is sent.
    for piece in body.chunks(16 * 1024) {
        stream.write_all(piece).await?;
        stream.flush().await?;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let response = read_response(stream, Duration::from_secs(30)).await?;
    if response.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed without a response",
        ));
    }
    Ok(response)
}

/// Read one HTTP/1.1 response (its head and `Content-Length` bytes of
/// body) from `stream`; what was read when the server closed or reset the
/// connection, or when nothing came for `wait`.
pub async fn read_response(
    stream: &mut (impl AsyncReadExt + Unpin),
    wait: Duration,
) -> std::io::Result<String> {
    let mut response = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        let n = match tokio::time::timeout(wait, stream.read(&mut buf)).await {
            Ok(Ok(n)) => n,
            // A reset after the response: keep what came.
            Ok(Err(e)) if response.is_empty() => return Err(e),
            Ok(Err(_)) | Err(_) => 0,
        };
        if n == 0 {
            break;
        }
        response.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&response);
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if response.len() >= head_end + 4 + length {
                break;
            }
        }
    }
    Ok(String::from_utf8_lossy(&response).into_owned())
}

/// Spawns `command` (a `tradecloud serve ...` process, killed when dropped)
/// and waits up to `timeout` until it logs `listening on https://ADDR`;
/// its stderr keeps being drained so that it never blocks on a full pipe.
pub async fn spawn_serve(
    mut command: tokio::process::Command,
    timeout: Duration,
) -> (tokio::process::Child, SocketAddr) {
    use tokio::io::AsyncBufReadExt;
    let mut child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = tokio::time::timeout(timeout, async {
        loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("serve exited before listening");
            if let Some(addr) = line.strip_prefix("listening on https://") {
                return addr.trim().parse::<SocketAddr>().unwrap();
            }
        }
    })
    .await
    .expect("serve starts");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr)
}

/// [`spawn_serve`], keeping every line `tradecloud serve` writes to stderr
/// (its log) in the returned buffer.
pub async fn spawn_serve_logged(
    mut command: tokio::process::Command,
    timeout: Duration,
) -> (
    tokio::process::Child,
    SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    use tokio::io::AsyncBufReadExt;
    let mut child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let log: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let kept = log.clone();
    let addr = tokio::time::timeout(timeout, async {
        loop {
            let line = lines.next_line().await.unwrap().unwrap_or_else(|| {
                panic!("serve exited before listening: {:?}", kept.lock().unwrap())
            });
            kept.lock().unwrap().push(line.clone());
            if let Some(addr) = line.strip_prefix("listening on https://") {
                return addr.trim().parse::<SocketAddr>().unwrap();
            }
        }
    })
    .await
    .expect("serve starts");
    let kept = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            kept.lock().unwrap().push(line);
        }
    });
    (child, addr, log)
}

/// A `tradecloud.toml` for `tradecloud serve` in `dir` (Basic auth as
/// [`USER`], the password from `TRADECLOUD_AUTH_PASSWORD`, a fresh
/// certificate, `extra` appended), and the certificate's PEM.
pub fn serve_config(dir: &Path, extra: &str) -> (PathBuf, String) {
    let (cert, key) = tls::dev_certificate(&["localhost"]).unwrap();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    let config = dir.join("tradecloud.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ntls_cert = {:?}\ntls_key = {:?}\n\
             [auth]\nmethod = \"basic\"\nusername = \"{USER}\"\n{extra}",
            cert_path.display().to_string(),
            key_path.display().to_string(),
        ),
    )
    .unwrap();
    (config, cert)
}
