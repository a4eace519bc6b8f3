//! Helpers shared by the `mock_*` tests: a plain HTTP webhook receiver that
//! records what the mock delivers (and answers scripted statuses), and the
//! two ways to act as a company (a raw login token, a typed client).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::Value;
use tradecloud::client::Client;
use tradecloud::mock::{MockConfig, MockParty, MockServer};

use crate::client_support::{builder, start};

/// One request a receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: Method,
    pub uri: Uri,
    pub authorization: Option<String>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("JSON body: {e}"))
    }

    pub fn event_name(&self) -> String {
        self.json()["eventName"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    /// Statuses to answer, in order; then 200.
    script: VecDeque<u16>,
}

/// A plain HTTP webhook receiver on 127.0.0.1 that records requests.
#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Mutex<Inner>>,
    /// `http://127.0.0.1:PORT`: every path reaches it.
    pub url: String,
}

async fn record(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut inner = inner.lock().unwrap_or_else(|e| e.into_inner());
    inner.received.push(Received {
        method,
        uri,
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: body.to_vec(),
    });
    let status = inner.script.pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}

impl Receiver {
    pub async fn start() -> Receiver {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new()
            .fallback(record)
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let addr = listener.local_addr().expect("an address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            inner,
            url: format!("http://{addr}"),
        }
    }

    /// Answer the next requests with these statuses (then 200 again).
    pub fn answer(&self, statuses: &[u16]) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .script
            .extend(statuses);
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .received
            .clone()
    }

    /// How many requests have come.
    pub fn count(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .received
            .len()
    }

    /// The JSON bodies so far (`null` for one that is not JSON).
    pub fn bodies(&self) -> Vec<Value> {
        self.received()
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
            .collect()
    }

    /// Wait until `count` requests have come (at most 10 s).
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..200 {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "expected {count} requests, got {:?}",
            self.received()
                .iter()
                .map(Received::event_name)
                .collect::<Vec<_>>()
        );
    }

    /// [`Receiver::wait_for`], as JSON bodies.
    pub async fn wait_for_bodies(&self, count: usize) -> Vec<Value> {
        self.wait_for(count).await;
        self.bodies()
    }
}

/// A typed client logged in as `party`.
pub fn client_of(server: &MockServer, party: &MockParty) -> Client {
    builder(server)
        .credentials(
            party.credentials.username.clone(),
            party.credentials.password.clone(),
        )
        .build()
        .expect("a client")
}

/// Log in as `party` with raw HTTP: the access token.
pub async fn token(server: &MockServer, party: &MockParty) -> String {
    let response = reqwest::Client::new()
        .get(format!("{}/authentication/login", server.base_url()))
        .basic_auth(
            &party.credentials.username,
            Some(&party.credentials.password),
        )
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 200);
    response
        .headers()
        .get("set-authorization")
        .and_then(|v| v.to_str().ok())
        .expect("an access token")
        .to_owned()
}

/// The first page (up to 100) of `party`'s shipment poll, without
/// filters; asserts it is answered `200`.
pub async fn shipment_poll(server: &MockServer, party: &MockParty) -> Value {
    let (status, page) = post(
        server,
        party,
        "/shipment/poll",
        serde_json::json!({"filters": {}, "limit": 100}),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    page
}

/// `POST` `body` to `path` as `party` (Basic credentials, which the
/// api-connector and the polls take): the status and the JSON answer
/// (`null` when there is none).
pub async fn post(
    server: &MockServer,
    party: &MockParty,
    path: &str,
    body: Value,
) -> (reqwest::StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.base_url()))
        .basic_auth(
            &party.credentials.username,
            Some(&party.credentials.password),
        )
        .json(&body)
        .send()
        .await
        .expect("answered");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `GET` `path` as `party` with a token: the JSON answer of a `200`.
pub async fn get(server: &MockServer, party: &MockParty, path: &str) -> Value {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", server.base_url()))
        .bearer_auth(token(server, party).await)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.expect("JSON")
}

/// Where a company's order events go (its webhook settings).
pub const ORDER_EVENTS: &str = "order-webhook-connector/company/{companyId}/settings/orderEvents";

/// A mock whose buyer's and supplier's order events go to a receiver of
/// their own: `(server, buyer's receiver, supplier's receiver)`.
pub async fn mock_with_receivers() -> (MockServer, Receiver, Receiver) {
    let server = start(MockConfig::new().delivery_backoff(Duration::from_millis(20))).await;
    let (buyer_rx, supplier_rx) = (Receiver::start().await, Receiver::start().await);
    for (party, rx) in [
        (server.buyer(), &buyer_rx),
        (server.supplier(), &supplier_rx),
    ] {
        let status = reqwest::Client::new()
            .put(format!(
                "{}/{}",
                server.base_url(),
                ORDER_EVENTS.replace("{companyId}", &party.company_id)
            ))
            .bearer_auth(token(&server, &party).await)
            .json(&serde_json::json!({"webhookUrl": format!("{}/orders", rx.url)}))
            .send()
            .await
            .expect("settings sent")
            .status();
        assert_eq!(status, 200);
    }
    (server, buyer_rx, supplier_rx)
}

/// Line `position` (buyerLine.position) of `order`; panics naming the order when none.
pub fn line<'v>(order: &'v Value, position: &str) -> &'v Value {
    order["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["buyerLine"]["position"] == position)
        .unwrap_or_else(|| panic!("no line {position} in {order:#}"))
}

/// An order event's name and the positions (buyerLine.position) of the
/// lines it carries.
pub fn order_event_lines(body: &Value) -> (String, Vec<String>) {
    let lines = body["orderEvent"]["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            l["buyerLine"]["position"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    (
        body["eventName"].as_str().unwrap_or_default().to_owned(),
        lines,
    )
}
