//! `receiver_body`: the receiver's reading of request bodies, from raw
//! HTTP/1.1 bytes: `Content-Length` and chunked framing (chunk sizes,
//! extensions, trailers, a body that breaks off), content types, pipelined
//! requests. The bytes go through hyper's HTTP/1.1 server (as in the
//! listener, minus TLS) into the receiver's whole application
//! ([`Receiver::router`]: authentication, limits, body reading, decoding,
//! storing in a SQLite inbox).
//!
//! Input: the first byte picks the method and route; the receiver gets
//! `METHOD PATH HTTP/1.1`, a `Host` and a valid `Authorization` header,
//! then the rest of the input as it is (more headers, the blank line, the
//! body, maybe further requests).
//!
//! Properties: every answer is well-formed HTTP; never `500` (Tradecloud
//! would not retry it: an event lost); a `2xx` with an inbox id names an
//! event that is in the inbox; the connection ends (no hang).

use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tower_service::Service as _;
use tradecloud::inbox::Inbox;
use tradecloud::receiver::{Config, Receiver, RemoteAddr};

const USER: &str = "fuzz";
const PASSWORD: &str = "fuzz-password-0123456789";
/// Small, so that `413` is in reach.
const MAX_BODY: usize = 64 * 1024;
/// Events stored before the inbox is started afresh (bounded disk use).
const FRESH_AFTER: usize = 5_000;

struct Bed {
    runtime: tokio::runtime::Runtime,
    app: axum::Router,
    inbox: Inbox,
    uses: usize,
    _dir: tempfile::TempDir,
}

fn bed() -> &'static Mutex<Option<Bed>> {
    static BED: OnceLock<Mutex<Option<Bed>>> = OnceLock::new();
    BED.get_or_init(|| Mutex::new(None))
}

fn start() -> Bed {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    // A RAM disk when there is one: the inbox commits every event.
    let dir = match std::path::Path::new("/dev/shm").is_dir() {
        true => tempfile::tempdir_in("/dev/shm"),
        false => tempfile::tempdir(),
    }
    .expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nmax_body_bytes = {MAX_BODY}\nrequest_timeout_secs = 5\n\
         [auth]\nmethod = \"basic\"\nusername = \"{USER}\"\npassword = \"{PASSWORD}\"\n"
    );
    let config = Config::from_parts(Some(&toml), "fuzz", Vec::new()).expect("the configuration");
    let (cert, key) =
        tradecloud::receiver::tls::dev_certificate(&["localhost"]).expect("a certificate");
    let (app, inbox) = runtime.block_on(async {
        let inbox = Inbox::open(&url).expect("the inbox");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let receiver = Receiver::builder()
            .config(config)
            .tls_pem(cert, key)
            .inbox(inbox.clone())
            .listener(listener)
            .build()
            .await
            .expect("the receiver");
        (receiver.router(), inbox)
    });
    Bed {
        runtime,
        app,
        inbox,
        uses: 0,
        _dir: dir,
    }
}

fn request_head(selector: u8) -> String {
    let (method, path) = match selector % 8 {
        0..=2 => ("POST", "/tradecloud/order"),
        3 => ("PUT", "/tradecloud/order"),
        4 | 5 => ("POST", "/tradecloud/shipment"),
        6 => (
            "GET",
            "/tradecloud/order/4fd2a3c0-6b1e-4e8b-9c2a-1d3e5f7a9b0c",
        ),
        _ => ("GET", "/tradecloud/shipment?shipmentId=9a7b5c3d"),
    };
    let credentials = base64_encode(format!("{USER}:{PASSWORD}").as_bytes());
    format!("{method} {path} HTTP/1.1\r\nHost: fuzz\r\nAuthorization: Basic {credentials}\r\n")
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One answer: status, and the inbox id of a `2xx` that names one.
#[derive(Debug)]
struct Answer {
    status: u16,
    id: Option<i64>,
}

/// The answers in `bytes`, in order. The first answer (to the request the
/// harness wrote) must be well-formed, or this panics; the answers to
/// further requests that the input pipelined are read while they parse
/// (after a `HEAD` an answer has a `Content-Length` but no body, so their
/// boundaries are not certain).
fn answers(mut bytes: &[u8]) -> Vec<Answer> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let first = out.is_empty();
        let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
            assert!(
                !first,
                "an answer without the end of its head: {:?}",
                String::from_utf8_lossy(bytes)
            );
            break;
        };
        let Ok(head) = std::str::from_utf8(&bytes[..end]) else {
            assert!(!first, "a head that is not text");
            break;
        };
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: Option<u16> = status_line
            .strip_prefix("HTTP/1.1 ")
            .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
            .and_then(|s| s.get(..3))
            .and_then(|s| s.parse().ok());
        let Some(status) = status else {
            assert!(!first, "not a status line: {status_line:?}");
            break;
        };
        let mut length = 0usize;
        for line in lines {
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().expect("a Content-Length");
            }
            assert!(
                !name.eq_ignore_ascii_case("transfer-encoding"),
                "the receiver's answers have a length"
            );
        }
        let rest = &bytes[end + 4..];
        let Some(body) = rest.get(..length) else {
            assert!(
                !first,
                "an answer shorter than its Content-Length: {head:?}"
            );
            break;
        };
        let id = (200..300)
            .contains(&status)
            .then(|| serde_json::from_slice::<serde_json::Value>(body).ok())
            .flatten()
            .and_then(|v| v.get("id").and_then(serde_json::Value::as_i64));
        out.push(Answer { status, id });
        bytes = &rest[length..];
    }
    out
}

async fn exchange(app: axum::Router, input: Vec<u8>) -> Vec<u8> {
    let (client, server) = tokio::io::duplex(16 * 1024);
    let remote = SocketAddr::from(([127, 0, 0, 1], 1));
    let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
        let mut request = request.map(axum::body::Body::new);
        request.extensions_mut().insert(RemoteAddr(remote));
        let mut app = app.clone();
        async move { app.call(request).await }
    });
    let serving = tokio::spawn(async move {
        let _ = hyper::server::conn::http1::Builder::new()
            .half_close(true)
            .serve_connection(TokioIo::new(server), service)
            .await;
    });
    let (mut read, mut write) = tokio::io::split(client);
    let writing = tokio::spawn(async move {
        // The receiver may answer and close before reading everything.
        let _ = write.write_all(&input).await;
        let _ = write.shutdown().await;
    });
    let mut output = Vec::new();
    let read_all = read.read_to_end(&mut output);
    if tokio::time::timeout(Duration::from_secs(10), read_all)
        .await
        .is_err()
    {
        panic!("the receiver did not end the exchange within 10 s");
    }
    let _ = writing.await;
    let _ = serving.await;
    output
}

/// See the module documentation; the status of each answer.
pub fn check(data: &[u8]) -> Vec<u16> {
    let Some((selector, rest)) = data.split_first() else {
        return Vec::new();
    };
    let mut input = request_head(*selector).into_bytes();
    input.extend_from_slice(rest);
    let mut guard = bed().lock().unwrap_or_else(|e| e.into_inner());
    if guard.as_ref().is_none_or(|b| b.uses >= FRESH_AFTER) {
        *guard = None;
        *guard = Some(start());
    }
    let Some(bed) = guard.as_mut() else {
        return Vec::new();
    };
    bed.uses += 1;
    let output = bed.runtime.block_on(exchange(bed.app.clone(), input));
    let answers = answers(&output);
    for answer in &answers {
        assert_ne!(
            answer.status, 500,
            "500 is never retried by Tradecloud: {answer:?}"
        );
        if let Some(id) = answer.id {
            let stored = bed.runtime.block_on(bed.inbox.get(id));
            assert!(
                matches!(stored, Ok(Some(_))),
                "answered 2xx for inbox id {id}, which is not in the inbox: {stored:?}"
            );
        }
    }
    answers.iter().map(|a| a.status).collect()
}
