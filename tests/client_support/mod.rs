//! Helpers shared by the `client_*` tests and the binary's (included with
//! `#[path]`; a directory, so not a test target of its own).

#![allow(dead_code)]

use std::time::Duration;

use tradecloud::api::common::types::Order;
use tradecloud::client::{Client, ClientBuilder, Environment, RetryPolicy};
use tradecloud::mock::{MockConfig, MockServer};

/// An order of the mock's demo data.
pub const ORDER_ID: &str = "4fd2a3c0-6b1e-4e8b-9c2a-1d3e5f7a9b0c";
/// A shipment of the mock's demo data.
pub const SHIPMENT_ID: &str = "9a7b5c3d-1e2f-4a6b-8c0d-2e4f6a8b0c1d";
/// A document of the mock's demo data.
pub const MANUAL_OBJECT_ID: &str = "67aa8ece-5d41-496f-a94c-483e360b833b";

pub async fn start(config: MockConfig) -> MockServer {
    MockServer::start(config).await.expect("the mock starts")
}

/// A builder for a client of `server`: its base URL and credentials, no
/// rate limit, and short retry delays so that tests stay fast.
pub fn builder(server: &MockServer) -> ClientBuilder {
    let credentials = server.credentials();
    Client::builder()
        .environment(Environment::custom(server.base_url()))
        .credentials(credentials.username, credentials.password)
        .without_rate_limit()
        .retry_policy(
            RetryPolicy::default()
                .max_retries(5)
                .base_delay(Duration::from_millis(10))
                .max_delay(Duration::from_millis(200)),
        )
}

pub fn client(server: &MockServer) -> Client {
    builder(server).build().expect("a client")
}

/// `2025-01-01T00:00:00.000Z` plus `second` seconds, as Tradecloud writes it.
pub fn at(second: u32) -> String {
    let base = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z").expect("a date");
    (base + chrono::Duration::seconds(i64::from(second)))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// An order `id` (also its purchase order number) with one line, changed at
/// `last_updated_at`.
pub fn order(id: &str, last_updated_at: &str) -> Order {
    serde_json::from_value(serde_json::json!({
        "id": id,
        "buyerOrder": { "purchaseOrderNumber": id },
        "lines": [{ "id": format!("{id}-1"), "lastUpdatedAt": last_updated_at }],
        "lastUpdatedAt": last_updated_at,
    }))
    .expect("an order")
}

/// A server that answers every request with `status`, `content_type` and
/// `body`, after reading the whole request; its base URL (`/v2`).
pub async fn fixed_server(status: u16, content_type: &'static str, body: &'static str) -> String {
    scripted_server(move |_| (status, "", content_type, body)).await
}

/// A server that answers each request, after reading it whole, with what
/// `answer` gives for its request line (`POST /v2/authentication/login
/// HTTP/1.1`): the status, more header lines (each ending in `\r\n`; `""`
/// for none), the content type and the body; its base URL (`/v2`).
pub async fn scripted_server<F>(answer: F) -> String
where
    F: Fn(&str) -> (u16, &'static str, &'static str, &'static str) + Clone + Send + 'static,
{
    recording_server(move |head, _body| answer(head.lines().next().unwrap_or_default())).await
}

/// [`scripted_server`] whose `answer` gets the whole request: its head
/// (request line and header lines, without the blank line) and its body
/// (the `Content-Length` bytes after the head), for tests that check what
/// the client sent.
pub async fn recording_server<F>(answer: F) -> String
where
    F: Fn(&str, &[u8]) -> (u16, &'static str, &'static str, &'static str) + Clone + Send + 'static,
{
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("the address");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                let (head, body) = loop {
                    if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&request[..end]).into_owned();
                        let length: usize = head
                            .lines()
                            .find_map(|l| {
                                let (name, value) = l.split_once(':')?;
                                name.eq_ignore_ascii_case("content-length")
                                    .then(|| value.trim().parse().ok())?
                            })
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break (head, &request[end + 4..end + 4 + length]);
                        }
                    }
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                };
                let (status, headers, content_type, body) = answer(&head, body);
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n{headers}Content-Length: {}\r\n\
                     Connection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{address}/v2")
}
