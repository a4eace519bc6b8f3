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
