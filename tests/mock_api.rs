//! The mock of Tradecloud (`tradecloud::mock`), tested over real HTTP with
//! reqwest: authentication, orders and shipments, polling, documents,
//! and fault injection (the `tradecloud mock` command: cli/tests/mock_cli.rs).

#![cfg(feature = "mock")]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tradecloud::api::authentication::operations::{LOGIN, REFRESH};
use tradecloud::api::common::types::{Order, Shipment};
use tradecloud::api::order::operations::GET_ORDER_BY_ID_ROUTE;
use tradecloud::mock::{
    generated_byte, operation, FaultConfig, FaultTrigger, MockConfig, MockData, MockDocument,
    MockServer, DEFAULT_PASSWORD, DEFAULT_USERNAME,
};

const ORDER_ID: &str = "4fd2a3c0-6b1e-4e8b-9c2a-1d3e5f7a9b0c";
const SHIPMENT_ID: &str = "9a7b5c3d-1e2f-4a6b-8c0d-2e4f6a8b0c1d";
const MANUAL_OBJECT_ID: &str = "67aa8ece-5d41-496f-a94c-483e360b833b";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

async fn start(config: MockConfig) -> MockServer {
    MockServer::start(config).await.expect("the mock starts")
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Log in with the default user; the access and refresh tokens.
async fn login(client: &reqwest::Client, server: &MockServer) -> (String, String) {
    let credentials = server.credentials();
    let response = client
        .get(format!("{}/authentication/login", server.base_url()))
        .basic_auth(&credentials.username, Some(&credentials.password))
        .send()
        .await
        .expect("login is answered");
    assert_eq!(response.status(), StatusCode::OK);
    let access = header(&response, "Set-Authorization").expect("Set-Authorization");
    let refresh = header(&response, "Set-Refresh-Token").expect("Set-Refresh-Token");
    (access, refresh)
}

async fn refresh(
    client: &reqwest::Client,
    server: &MockServer,
    refresh_token: &str,
) -> reqwest::Response {
    client
        .get(format!("{}/authentication/refresh", server.base_url()))
        .header("Refresh-Token", refresh_token)
        .send()
        .await
        .expect("refresh is answered")
}

async fn get_order(
    client: &reqwest::Client,
    server: &MockServer,
    access: &str,
    id: &str,
) -> reqwest::Response {
    client
        .get(format!("{}/order/{id}", server.base_url()))
        .bearer_auth(access)
        .send()
        .await
        .expect("GET order is answered")
}

async fn poll(
    client: &reqwest::Client,
    server: &MockServer,
    path: &str,
    access: &str,
    body: Value,
) -> reqwest::Response {
    client
        .post(format!("{}{path}", server.base_url()))
        .bearer_auth(access)
        .json(&body)
        .send()
        .await
        .expect("poll is answered")
}

fn order(id: &str, process_status: &str) -> Order {
    serde_json::from_value(json!({
        "id": id,
        "buyerOrder": {"purchaseOrderNumber": format!("PO-{id}")},
        "lines": [{"id": format!("{id}-1"), "buyerLine": {"position": "0001"}}],
        "status": {"processStatus": process_status, "logisticsStatus": "Open"}
    }))
    .expect("a valid order")
}

// ----- authentication ----------------------------------------------------------

#[tokio::test]
async fn login_refresh_and_logout_follow_the_documented_token_flow() {
    let server = start(MockConfig::new().demo_data()).await;
    let client = http();

    let (access, refresh_token) = login(&client, &server).await;
    assert_ne!(access, refresh_token);
    assert_eq!(access.split('.').count(), 3, "a JWT-shaped token");
    assert_eq!(
        get_order(&client, &server, &access, ORDER_ID)
            .await
            .status(),
        StatusCode::OK
    );

    // Refresh with only the Refresh-Token header: a new pair.
    let response = refresh(&client, &server, &refresh_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let access2 = header(&response, "Set-Authorization").expect("a new access token");
    let refresh2 = header(&response, "Set-Refresh-Token").expect("a new refresh token");
    assert_ne!(access2, access);
    assert_ne!(refresh2, refresh_token);
    assert_eq!(
        get_order(&client, &server, &access2, ORDER_ID)
            .await
            .status(),
        StatusCode::OK
    );

    // The replaced refresh token cannot be used any more.
    assert_eq!(
        refresh(&client, &server, &refresh_token).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Logout invalidates the refresh token; the access token lives on.
    let response = client
        .post(format!("{}/authentication/logout", server.base_url()))
        .header("Refresh-Token", &refresh2)
        .send()
        .await
        .expect("logout is answered");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        refresh(&client, &server, &refresh2).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get_order(&client, &server, &access2, ORDER_ID)
            .await
            .status(),
        StatusCode::OK
    );

    let stats = server.stats();
    assert_eq!((stats.logins, stats.refreshes, stats.logouts), (1, 1, 1));
    assert_eq!(stats.failed_refreshes, 2);
    assert_eq!(stats.unauthorized, 2);
    assert_eq!(stats.requests_for(REFRESH.id), 3);
    assert_eq!(stats.requests_for(GET_ORDER_BY_ID_ROUTE.id), 3);
    assert_eq!(stats.bearer_requests, 3);
}

#[tokio::test]
async fn refresh_and_logout_refuse_an_authorization_header() {
    let server = start(MockConfig::new()).await;
    let client = http();
    let (access, refresh_token) = login(&client, &server).await;

    let response = client
        .get(format!("{}/authentication/refresh", server.base_url()))
        .header("Refresh-Token", &refresh_token)
        .bearer_auth(&access)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("a JSON error");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("Authorization")),
        "{body}"
    );

    // The refused call did not consume the refresh token.
    assert_eq!(
        refresh(&client, &server, &refresh_token).await.status(),
        StatusCode::OK
    );

    // Logout with an Authorization header, and refresh with Basic auth only.
    let response = client
        .post(format!("{}/authentication/logout", server.base_url()))
        .header("Refresh-Token", "whatever")
        .bearer_auth(&access)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let credentials = server.credentials();
    let response = client
        .get(format!("{}/authentication/refresh", server.base_url()))
        .basic_auth(&credentials.username, Some(&credentials.password))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // No Refresh-Token at all: 401, log in again.
    let response = client
        .get(format!("{}/authentication/refresh", server.base_url()))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    assert_eq!(server.stats().refreshes_with_authorization_header, 3);
}

#[tokio::test]
async fn api_routes_accept_bearer_or_basic_and_answer_401_otherwise() {
    let server = start(MockConfig::new().demo_data()).await;
    let client = http();
    // Basic on every request: only where security/authentication.md allows
    // it (api-connector, object-storage/document, order-search/poll,
    // shipment/poll), not on GET /order/{orderId}.
    let order_url = format!("{}/order/{ORDER_ID}", server.base_url());
    let response = client
        .get(&order_url)
        .basic_auth(DEFAULT_USERNAME, Some(DEFAULT_PASSWORD))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.expect("a JSON error body");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("does not accept Basic")),
        "{body}"
    );
    let url = format!(
        "{}/object-storage/document/{}/metadata",
        server.base_url(),
        "05d251f0-0166-4e1e-8110-8d7a507b18f4"
    );

    let response = client
        .get(&url)
        .basic_auth(DEFAULT_USERNAME, Some(DEFAULT_PASSWORD))
        .send()
        .await
        .expect("answered");
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "Basic auth on every request is supported"
    );
    // The user name is an e-mail address: case does not matter.
    let response = client
        .get(&url)
        .basic_auth(DEFAULT_USERNAME.to_uppercase(), Some(DEFAULT_PASSWORD))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);

    for request in [
        client.get(&url),
        client.get(&url).basic_auth(DEFAULT_USERNAME, Some("wrong")),
        client.get(&url).bearer_auth("not-a-token"),
        client.get(&url).header("Authorization", "Token abc"),
    ] {
        let response = request.send().await.expect("answered");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: Value = response.json().await.expect("a JSON error body");
        assert!(body["message"].is_string());
    }

    // Login needs Basic credentials.
    let response = client
        .get(format!("{}/authentication/login", server.base_url()))
        .basic_auth(DEFAULT_USERNAME, Some("wrong"))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = client
        .get(format!("{}/authentication/login", server.base_url()))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // Authentication comes before body decoding: a bad poll body without
    // credentials is a 401, with credentials a 400.
    let bad = |auth: bool| {
        let request = client
            .post(format!("{}/order-search/poll", server.base_url()))
            .header("Content-Type", "application/json")
            .body("{not json");
        if auth {
            request.basic_auth(DEFAULT_USERNAME, Some(DEFAULT_PASSWORD))
        } else {
            request
        }
    };
    assert_eq!(
        bad(false).send().await.expect("answered").status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        bad(true).send().await.expect("answered").status(),
        StatusCode::BAD_REQUEST
    );

    let stats = server.stats();
    assert_eq!(stats.unauthorized, 8);
    assert_eq!(stats.failed_logins, 2);
    assert_eq!(stats.basic_requests, 3);
    assert_eq!(stats.responses_with(401), 8);
}

#[tokio::test]
async fn tokens_really_expire() {
    let server = start(
        MockConfig::new()
            .demo_data()
            .access_token_lifetime(Duration::from_secs(1))
            .refresh_token_lifetime(Duration::from_secs(2)),
    )
    .await;
    let client = http();
    let (access, refresh_token) = login(&client, &server).await;
    assert_eq!(
        get_order(&client, &server, &access, ORDER_ID)
            .await
            .status(),
        StatusCode::OK
    );

    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        get_order(&client, &server, &access, ORDER_ID)
            .await
            .status(),
        StatusCode::UNAUTHORIZED,
        "the access token expired after 1 s"
    );
    let response = refresh(&client, &server, &refresh_token).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the refresh token still lives"
    );
    let access2 = header(&response, "Set-Authorization").expect("a new access token");
    let refresh2 = header(&response, "Set-Refresh-Token").expect("a new refresh token");
    assert_eq!(
        get_order(&client, &server, &access2, ORDER_ID)
            .await
            .status(),
        StatusCode::OK
    );

    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(
        refresh(&client, &server, &refresh2).await.status(),
        StatusCode::UNAUTHORIZED,
        "the refresh token expired after 2 s"
    );
    // Logging in again works.
    let (access3, _) = login(&client, &server).await;
    assert_eq!(
        get_order(&client, &server, &access3, ORDER_ID)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(server.stats().logins, 2);
}

#[tokio::test]
async fn tokens_can_be_expired_on_demand() {
    let server = start(MockConfig::new().demo_data()).await;
    let client = http();
    let (access, refresh_token) = login(&client, &server).await;

    server.expire_access_tokens();
    assert_eq!(
        get_order(&client, &server, &access, ORDER_ID)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let response = refresh(&client, &server, &refresh_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let access2 = header(&response, "Set-Authorization").expect("a new access token");
    let refresh2 = header(&response, "Set-Refresh-Token").expect("a new refresh token");

    assert!(server.expire_token(&access2));
    assert!(!server.expire_token("unknown"));
    assert_eq!(
        get_order(&client, &server, &access2, ORDER_ID)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    server.expire_refresh_tokens();
    assert_eq!(
        refresh(&client, &server, &refresh2).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let (access3, _) = login(&client, &server).await;
    server.revoke_all_tokens();
    assert_eq!(
        get_order(&client, &server, &access3, ORDER_ID)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

// ----- orders and shipments -------------------------------------------------

#[tokio::test]
async fn orders_and_shipments_are_served_by_id() {
    let server = start(MockConfig::new().demo_data()).await;
    let client = http();
    let (access, _) = login(&client, &server).await;

    let response = get_order(&client, &server, &access, ORDER_ID).await;
    assert_eq!(response.status(), StatusCode::OK);
    let fetched: Order = response.json().await.expect("an Order");
    assert_eq!(fetched.id.as_deref(), Some(ORDER_ID));
    assert_eq!(fetched.lines.len(), 3);

    let response = get_order(&client, &server, &access, "no-such-order").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let response = client
        .get(format!("{}/shipment/{SHIPMENT_ID}", server.base_url()))
        .bearer_auth(&access)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    let shipment: Shipment = response.json().await.expect("a Shipment");
    assert_eq!(shipment.id.as_deref(), Some(SHIPMENT_ID));
    let response = client
        .get(format!("{}/shipment/nope", server.base_url()))
        .bearer_auth(&access)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn fixture_directory_is_loaded() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mock");
    let server = start(MockConfig::new().fixtures_dir(&dir)).await;
    let summary = server.data_summary();
    assert_eq!(
        (
            summary.orders,
            summary.single_delivery_orders,
            summary.shipments
        ),
        (3, 1, 1)
    );
    assert_eq!(summary.documents.len(), 2);

    let client = http();
    let (access, _) = login(&client, &server).await;
    let response = poll(
        &client,
        &server,
        "/order-search/poll",
        &access,
        json!({"limit": 100}),
    )
    .await;
    let body: Value = response.json().await.expect("JSON");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|o| o["id"].as_str())
        .collect();
    // 08:00Z, then 10:00+02:00 (= 08:00Z, same instant: id order), then zone-less 09:30 on the next day.
    assert_eq!(
        ids,
        [
            "11111111-0000-4000-8000-000000000001",
            "11111111-0000-4000-8000-000000000002",
            "11111111-0000-4000-8000-000000000003"
        ]
    );
    // The zone-less timestamp is answered as an RFC 3339 instant (UTC), as
    // Tradecloud answers the watermark.
    assert_eq!(body["lastUpdatedAt"], "2025-05-02T09:30:00.000Z");

    let response = client
        .get(format!(
            "{}/order/11111111-0000-4000-8000-000000000001",
            server.base_url()
        ))
        .bearer_auth(&access)
        .send()
        .await
        .expect("answered");
    let text = response.text().await.expect("a body");
    assert!(
        text.contains("12345678901234.567890"),
        "decimals keep every digit: {text}"
    );

    let response = client
        .get(format!(
            "{}/object-storage/document/44444444-0000-4000-8000-000000000001/metadata",
            server.base_url()
        ))
        .bearer_auth(&access)
        .send()
        .await
        .expect("answered");
    let metadata: Value = response.json().await.expect("metadata");
    assert_eq!(metadata["filename"], "packing-list.txt");
    assert_eq!(metadata["contentType"], "text/plain");
    let url = metadata["downloadUrl"].as_str().expect("a downloadUrl");
    let text = client
        .get(url)
        .send()
        .await
        .expect("answered")
        .text()
        .await
        .expect("text");
    assert!(text.starts_with("Packing list SHIP-MOCK-0001"));

    let response = client
        .get(format!(
            "{}/object-storage/download/55555555-0000-4000-8000-000000000001",
            server.base_url()
        ))
        .bearer_auth(&access)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.content_length(), Some(3 * 1024 * 1024));
    assert_eq!(
        response.bytes().await.expect("bytes").len(),
        3 * 1024 * 1024
    );
}

#[test]
fn broken_fixtures_are_reported_with_their_path() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::create_dir(dir.path().join("orders")).expect("mkdir");
    std::fs::write(dir.path().join("orders/bad.json"), "{\"id\": 5}").expect("write");
    let error = MockData::from_dir(dir.path()).expect_err("an invalid order");
    assert!(error.to_string().contains("bad.json"), "{error}");

    std::fs::write(dir.path().join("orders/bad.json"), "{\"buyerOrder\": {}}").expect("write");
    let data = MockData::from_dir(dir.path()).expect("decodes");
    assert_eq!(data.orders.len(), 1);

    assert!(MockData::from_dir(dir.path().join("missing")).is_err());
}

#[tokio::test]
async fn orders_without_id_are_refused() {
    let result = MockServer::start(
        MockConfig::new().order(serde_json::from_value(json!({})).expect("an order")),
    )
    .await;
    assert!(matches!(
        result,
        Err(tradecloud::mock::MockError::MissingId { .. })
    ));
}

// ----- polling -----------------------------------------------------------------

#[tokio::test]
async fn polling_pages_return_every_changed_order_exactly_once() {
    let server = start(MockConfig::new().demo_data()).await;
    let client = http();
    let (access, _) = login(&client, &server).await;

    // The demo orders are from 2025; the watermark is the newest of them.
    let response = poll(
        &client,
        &server,
        "/order-search/poll",
        &access,
        json!({"limit": 100}),
    )
    .await;
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["total"], 3);
    let watermark = body["lastUpdatedAt"]
        .as_str()
        .expect("a watermark")
        .to_owned();

    let mut changed = Vec::new();
    for i in 0..25 {
        let id = format!("poll-order-{i:02}");
        server.update_order(order(&id, "Issued")).expect("stored");
        changed.push(id);
    }

    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut offset = 0;
    let mut last_watermark = None;
    loop {
        let response = poll(
            &client,
            &server,
            "/order-search/poll",
            &access,
            json!({"filters": {"lastUpdatedAfter": watermark}, "limit": 10, "offset": offset}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        let page: Value = response.json().await.expect("JSON");
        assert_eq!(
            page["total"], 25,
            "total counts all matches, regardless of paging"
        );
        let data = page["data"].as_array().cloned().unwrap_or_default();
        if data.is_empty() {
            assert_eq!(
                page["lastUpdatedAt"],
                Value::String(watermark.clone()),
                "an empty page echoes the filter"
            );
            break;
        }
        let newest = data
            .iter()
            .filter_map(|o| o["lastUpdatedAt"].as_str())
            .max()
            .expect("timestamps")
            .to_owned();
        assert_eq!(
            page["lastUpdatedAt"],
            Value::String(newest.clone()),
            "the newest timestamp of the page"
        );
        for order in &data {
            *seen
                .entry(order["id"].as_str().expect("an id").to_owned())
                .or_default() += 1;
        }
        last_watermark = Some(newest);
        offset += data.len();
    }
    assert_eq!(seen.len(), 25);
    assert!(
        seen.values().all(|n| *n == 1),
        "every order exactly once: {seen:?}"
    );
    assert!(changed.iter().all(|id| seen.contains_key(id)));

    // Polling again from the last watermark: nothing, until orders change.
    let next = last_watermark.expect("a watermark");
    let response = poll(
        &client,
        &server,
        "/order-search/poll",
        &access,
        json!({"filters": {"lastUpdatedAfter": next}}),
    )
    .await;
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["total"], 0);
    assert_eq!(body["lastUpdatedAt"], Value::String(next.clone()));
    assert!(body
        .get("data")
        .is_none_or(|d| d.as_array().is_some_and(Vec::is_empty)));

    let stamp = server
        .update_order(order("poll-order-07", "Confirmed"))
        .expect("stored");
    let response = poll(
        &client,
        &server,
        "/order-search/poll",
        &access,
        json!({"filters": {"lastUpdatedAfter": next}}),
    )
    .await;
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["total"], 1);
    assert_eq!(body["data"][0]["id"], "poll-order-07");
    assert_eq!(
        body["data"][0]["lines"][0]["lastUpdatedAt"],
        Value::String(stamp.to_string())
    );
    assert_eq!(body["lastUpdatedAt"], Value::String(stamp.to_string()));
}

#[tokio::test]
async fn polling_filters_on_status_and_compares_instants() {
    let server = start(MockConfig::new().demo_data()).await;
    let client = http();
    let (access, _) = login(&client, &server).await;

    let ids = |body: &Value| -> Vec<String> {
        body["data"]
            .as_array()
            .map(|d| {
                d.iter()
                    .filter_map(|o| o["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let response = poll(
        &client,
        &server,
        "/order-search/poll",
        &access,
        json!({"filters": {"status": {"processStatus": ["Issued"]}}, "limit": 100}),
    )
    .await;
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(ids(&body), ["2b7c9e10-3d4f-4a5b-8c6d-7e8f9a0b1c2d"]);

    let response = poll(
        &client,
        &server,
        "/order-search/poll",
        &access,
        json!({"filters": {"status": {"processStatus": ["Confirmed", "InProgress"]}}}),
    )
    .await;
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["total"], 2);

    // `2025-04-23T12:01:53.812+02:00` is the instant of the newest fetched
    // order (`...10:01:53.812Z`): strictly after it, only the issued order.
    let response = poll(
        &client,
        &server,
        "/order-search/poll",
        &access,
        json!({"filters": {"lastUpdatedAfter": "2025-04-23T12:01:53.812+02:00"}}),
    )
    .await;
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(ids(&body), ["2b7c9e10-3d4f-4a5b-8c6d-7e8f9a0b1c2d"]);

    // A limit above 100 is refused; 0 is not a valid limit either.
    for limit in [101, 0] {
        let response = poll(
            &client,
            &server,
            "/order-search/poll",
            &access,
            json!({"limit": limit}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "limit {limit}");
    }

    // Single-delivery orders and shipments.
    let response = poll(
        &client,
        &server,
        "/order-search/poll/single-delivery",
        &access,
        json!({"limit": 100}),
    )
    .await;
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["total"], 1);
    assert!(body["data"][0]["lines"][0]["statusLine"].is_object());
    let response = poll(
        &client,
        &server,
        "/shipment/poll",
        &access,
        json!({"filters": {"lastUpdatedAfter": "2025-01-01T00:00:00.000Z", "status": {"processStatus": ["Issued"]}}}),
    )
    .await;
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(ids(&body), [SHIPMENT_ID]);
    assert_eq!(body["lastUpdatedAt"], "2025-04-23T10:01:53.812Z");
    let response = poll(
        &client,
        &server,
        "/shipment/poll",
        &access,
        json!({"filters": {"status": {"processStatus": ["Approved"]}}}),
    )
    .await;
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["total"], 0);
    assert!(
        body.get("lastUpdatedAt").is_none(),
        "no filter and no data: no watermark"
    );

    // A shipment changed at runtime shows up after the old watermark.
    let mut shipment = server.shipment(SHIPMENT_ID).expect("the demo shipment");
    shipment.lines.clear();
    let stamp = server.update_shipment(shipment).expect("stored");
    let response = poll(
        &client,
        &server,
        "/shipment/poll",
        &access,
        json!({"filters": {"lastUpdatedAfter": "2025-04-23T10:01:53.812Z"}}),
    )
    .await;
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(ids(&body), [SHIPMENT_ID]);
    assert_eq!(
        body["data"][0]["meta"]["lastUpdatedAt"],
        Value::String(stamp.to_string())
    );
}

// ----- documents -----------------------------------------------------------------

async fn metadata(
    client: &reqwest::Client,
    server: &MockServer,
    access: &str,
    object_id: &str,
) -> Value {
    let response = client
        .get(format!(
            "{}/object-storage/document/{object_id}/metadata",
            server.base_url()
        ))
        .bearer_auth(access)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("metadata")
}

#[tokio::test]
async fn download_urls_work_without_authorization_and_really_expire() {
    let server = start(
        MockConfig::new()
            .demo_data()
            .download_url_lifetime(Duration::from_millis(400)),
    )
    .await;
    let client = http();
    let (access, _) = login(&client, &server).await;

    let meta = metadata(&client, &server, &access, MANUAL_OBJECT_ID).await;
    assert_eq!(meta["id"], MANUAL_OBJECT_ID);
    assert_eq!(meta["filename"], "Tradecloud API Manual.pdf");
    assert_eq!(meta["contentType"], "application/pdf");
    let url = meta["downloadUrl"]
        .as_str()
        .expect("a downloadUrl")
        .to_owned();
    assert!(
        url.contains("X-Amz-Expires=1") && url.contains("X-Amz-Signature="),
        "{url}"
    );

    let response = client.get(&url).send().await.expect("answered");
    assert_eq!(response.status(), StatusCode::OK, "no Authorization needed");
    assert_eq!(
        header(&response, "content-type").as_deref(),
        Some("application/pdf")
    );
    let pdf = response.bytes().await.expect("bytes");
    assert!(pdf.starts_with(b"%PDF-"));

    tokio::time::sleep(Duration::from_millis(500)).await;
    let response = client.get(&url).send().await.expect("answered");
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "expired like an S3 presigned URL"
    );
    assert!(response
        .text()
        .await
        .expect("text")
        .contains("Request has expired"));

    // A fresh one from the metadata works again; expiring it on demand too.
    let fresh = metadata(&client, &server, &access, MANUAL_OBJECT_ID).await["downloadUrl"]
        .as_str()
        .expect("a downloadUrl")
        .to_owned();
    assert_ne!(fresh, url);
    assert_eq!(
        client.get(&fresh).send().await.expect("answered").status(),
        StatusCode::OK
    );
    server.expire_download_urls();
    assert_eq!(
        client.get(&fresh).send().await.expect("answered").status(),
        StatusCode::FORBIDDEN
    );

    // A tampered signature is refused; unknown documents are 404.
    let tampered = format!(
        "{}0",
        server.presigned_url(MANUAL_OBJECT_ID).expect("a URL")
    );
    assert_eq!(
        client
            .get(&tampered)
            .send()
            .await
            .expect("answered")
            .status(),
        StatusCode::FORBIDDEN
    );
    let response = client
        .get(format!(
            "{}/object-storage/document/nope/metadata",
            server.base_url()
        ))
        .bearer_auth(&access)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(server.stats().requests_for(operation::MOCK_S3_DOWNLOAD), 5);
}

#[tokio::test]
async fn large_generated_documents_stream_with_their_length() {
    const SIZE: u64 = 5 * 1024 * 1024 + 17;
    let server =
        start(MockConfig::new().document("big", MockDocument::generated("big.bin", SIZE))).await;
    let client = http();
    let (access, _) = login(&client, &server).await;

    for path in ["object-storage/document/big", "object-storage/download/big"] {
        let response = client
            .get(format!("{}/{path}", server.base_url()))
            .bearer_auth(&access)
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.content_length(), Some(SIZE));
        assert_eq!(
            header(&response, "content-type").as_deref(),
            Some("application/octet-stream")
        );
        assert_eq!(
            header(&response, "content-disposition").as_deref(),
            Some("attachment; filename=\"big.bin\"")
        );
        let mut stream = response.bytes_stream();
        let mut received: u64 = 0;
        let mut chunks = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.expect("a chunk");
            assert!(
                chunk
                    .iter()
                    .enumerate()
                    .all(|(i, b)| *b == generated_byte(received + i as u64)),
                "bytes follow the documented pattern"
            );
            received += chunk.len() as u64;
            chunks += 1;
        }
        assert_eq!(received, SIZE);
        assert!(chunks > 1, "streamed in chunks");
    }

    // Through the presigned URL as well.
    let url = metadata(&client, &server, &access, "big").await["downloadUrl"]
        .as_str()
        .expect("a URL")
        .to_owned();
    let response = client.get(&url).send().await.expect("answered");
    assert_eq!(response.content_length(), Some(SIZE));
    assert_eq!(response.bytes().await.expect("bytes").len() as u64, SIZE);
}

#[tokio::test]
async fn interrupted_documents_break_the_connection() {
    let server = start(MockConfig::new().document(
        "broken",
        MockDocument::generated("broken.bin", 1024 * 1024).interrupt_after(100_000),
    ))
    .await;
    let client = http();
    let response = client
        .get(format!(
            "{}/object-storage/document/broken",
            server.base_url()
        ))
        .basic_auth(DEFAULT_USERNAME, Some(DEFAULT_PASSWORD))
        .send()
        .await
        .expect("headers arrive");
    assert_eq!(response.content_length(), Some(1024 * 1024));
    assert!(
        response.bytes().await.is_err(),
        "the body ends early with an error"
    );
}

// ----- fault injection -------------------------------------------------------------

#[tokio::test]
async fn fault_injection_answers_503_and_429_and_delays() {
    let server = start(
        MockConfig::new().demo_data().fault(
            FaultConfig::service_unavailable(FaultTrigger::EveryNth(2))
                .for_operations([GET_ORDER_BY_ID_ROUTE.id]),
        ),
    )
    .await;
    let client = http();
    let (access, _) = login(&client, &server).await;

    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            get_order(&client, &server, &access, ORDER_ID)
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [200, 503, 200, 503, 200, 503]);

    // A burst of 429s with Retry-After, then normal answers.
    server
        .set_faults(vec![FaultConfig::too_many_requests(
            2,
            FaultTrigger::FirstN(3),
        )])
        .expect("valid faults");
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let response = get_order(&client, &server, &access, ORDER_ID).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(header(&response, "retry-after").as_deref(), Some("2"));
        }
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [429, 429, 429, 200, 200]);

    // Faults come before authentication and apply to login too.
    server
        .set_faults(vec![FaultConfig::service_unavailable(FaultTrigger::Always)])
        .expect("valid faults");
    let response = client
        .get(format!("{}/authentication/login", server.base_url()))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Delays.
    server
        .set_faults(vec![FaultConfig::delay(
            Duration::from_millis(300),
            FaultTrigger::Always,
        )])
        .expect("valid faults");
    let started = Instant::now();
    assert_eq!(
        get_order(&client, &server, &access, ORDER_ID)
            .await
            .status(),
        StatusCode::OK
    );
    assert!(started.elapsed() >= Duration::from_millis(300));

    server.clear_faults();
    assert_eq!(
        get_order(&client, &server, &access, ORDER_ID)
            .await
            .status(),
        StatusCode::OK
    );
    let stats = server.stats();
    assert_eq!(stats.faults_injected, 3 + 3 + 1 + 1);
    assert_eq!(stats.responses_with(503), 4);
    assert_eq!(stats.responses_with(429), 3);

    assert!(server
        .set_faults(vec![FaultConfig::service_unavailable(
            FaultTrigger::Probability(1.5)
        )])
        .is_err());
}

#[tokio::test]
async fn probabilistic_faults_hit_about_their_share() {
    let server = start(MockConfig::new().demo_data().seed(42).fault(
        FaultConfig::service_unavailable(FaultTrigger::Probability(0.3)),
    ))
    .await;
    let client = http();
    let mut failures = 0;
    for _ in 0..200 {
        let response = client
            .get(format!("{}/order/{ORDER_ID}", server.base_url()))
            .basic_auth(DEFAULT_USERNAME, Some(DEFAULT_PASSWORD))
            .send()
            .await
            .expect("answered");
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            failures += 1;
        }
    }
    assert!(
        (30..=90).contains(&failures),
        "{failures} of 200 failed at a 30% rate"
    );
}

// ----- counters ------------------------------------------------------------------

#[tokio::test]
async fn the_request_log_shows_the_request_rate() {
    let server = start(MockConfig::new().demo_data()).await;
    let client = http();
    let (access, _) = login(&client, &server).await;
    for _ in 0..5 {
        get_order(&client, &server, &access, ORDER_ID).await;
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    let log = server.request_log();
    assert_eq!(log.len(), 6);
    assert_eq!(log[0].operation, LOGIN.id);
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(log[1..]
        .iter()
        .all(|r| r.operation == GET_ORDER_BY_ID_ROUTE.id));
    // Requests 120 ms apart: at most 1 GET within 100 ms (plus the login just before it).
    assert!(server.peak_requests_in(Duration::from_millis(100)) <= 2);
    assert_eq!(server.peak_requests_in(Duration::from_secs(10)), 6);

    server.reset_stats();
    assert_eq!(server.stats().api_requests(), 0);
    assert!(server.request_log().is_empty());
    server.shutdown().await.expect("a clean shutdown");
}

/// Every operation of the specs the mock serves, straight from the
/// generated operation tables: an operation added to a spec is covered here
/// without an edit.
fn served_operations() -> impl Iterator<Item = &'static tradecloud::operation::Operation> {
    use tradecloud::api::{
        api_connector, authentication, object_storage, order, order_search, shipment,
    };
    [
        api_connector::OPERATIONS,
        authentication::OPERATIONS,
        order::OPERATIONS,
        order_search::OPERATIONS,
        shipment::OPERATIONS,
        object_storage::OPERATIONS,
    ]
    .into_iter()
    .flatten()
}

/// The mock routes every operation of its specs and authenticates each by
/// the security schemes its spec lists (the operation table), not by a list
/// of its own: without credentials every operation answers 401 (refresh and
/// logout for the missing `Refresh-Token`); with Basic credentials or a
/// Bearer token, 401 exactly where the spec does not list that scheme.
#[tokio::test]
async fn every_operation_is_authenticated_by_the_schemes_its_spec_lists() {
    use tradecloud::operation::AuthScheme;
    let server = start(MockConfig::new().demo_data()).await;
    let client = http();
    let (access, _) = login(&client, &server).await;
    server.reset_stats();
    let mut checked = 0;
    for op in served_operations() {
        // Fill the path parameters; a body the operation may not accept is
        // fine: authentication comes first.
        let path = op
            .path
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let url = format!("{}{path}", server.base_url());
        let method = reqwest::Method::from_bytes(op.method.as_str().as_bytes()).expect("a method");
        let request = || {
            let request = client.request(method.clone(), &url);
            if op.request.is_some() {
                request
                    .header("Content-Type", "application/json")
                    .body("{}")
            } else {
                request
            }
        };
        let without = request().send().await.expect("answered").status();
        assert_eq!(
            without,
            StatusCode::UNAUTHORIZED,
            "{op} without credentials"
        );
        for (scheme, authorized) in [
            (
                AuthScheme::Basic,
                request().basic_auth(DEFAULT_USERNAME, Some(DEFAULT_PASSWORD)),
            ),
            (AuthScheme::Bearer, request().bearer_auth(&access)),
        ] {
            let status = authorized.send().await.expect("answered").status();
            let refused = op.needs_authentication() && !op.accepts(scheme);
            assert_eq!(
                status == StatusCode::UNAUTHORIZED,
                refused,
                "{op} with {scheme:?} answered {status}"
            );
        }
        assert_eq!(
            server.stats().requests_for(op.id),
            3,
            "{op} is counted by its id"
        );
        checked += 1;
    }
    assert!(checked >= 11, "{checked} operations");
}

#[tokio::test]
async fn a_fault_for_an_operation_the_mock_does_not_serve_is_refused() {
    let fault =
        FaultConfig::service_unavailable(FaultTrigger::Always).for_operations(["pollOrders"]);
    let error = MockServer::start(MockConfig::new().fault(fault.clone()))
        .await
        .expect_err("refused");
    assert!(
        error
            .to_string()
            .contains("`pollOrders` is not an operation of the mock"),
        "{error}"
    );
    let server = start(MockConfig::new()).await;
    assert!(server.set_faults(vec![fault]).is_err());
    let served = FaultConfig::service_unavailable(FaultTrigger::Always)
        .for_operations([GET_ORDER_BY_ID_ROUTE.id, operation::MOCK_S3_DOWNLOAD]);
    assert!(server.set_faults(vec![served]).is_ok());
}

#[tokio::test]
async fn every_error_body_is_one_problem_shape() {
    let server = start(MockConfig::new().demo_data()).await;
    let client = http();
    let (access, _) = login(&client, &server).await;
    let base = server.base_url();
    let supplier = server.supplier();
    let order = json!({"order": {"supplierAccountNumber": "SUPPLIER12345",
                                 "purchaseOrderNumber": "PO-ERRORS"},
                       "lines": []});
    let answers = [
        // 400: a body that breaks the spec (the generated stub's refusal).
        client
            .post(format!("{base}/api-connector/order"))
            .bearer_auth(&access)
            .json(&json!({"lines": []})),
        // 401: no credentials.
        client.get(format!("{base}/order/{ORDER_ID}")),
        // 403: the supplier's user sending the buyer's message.
        client
            .post(format!("{base}/api-connector/order"))
            .basic_auth(
                &supplier.credentials.username,
                Some(&supplier.credentials.password),
            )
            .json(&order),
        // 404: an order the mock does not know.
        client
            .get(format!("{base}/order/no-such-order"))
            .bearer_auth(&access),
    ];
    let mut seen = Vec::new();
    for request in answers {
        let response = request.send().await.expect("answered");
        let status = response.status().as_u16();
        let content_type = header(&response, "content-type").unwrap_or_default();
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(content_type, "application/problem+json", "{status}: {body}");
        assert_eq!(body["status"], status, "{body}");
        assert_eq!(body["type"], "about:blank", "{body}");
        assert!(body["title"].is_string(), "{body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(!detail.is_empty(), "{body}");
        assert_eq!(body["message"], detail, "{body}");
        seen.push(status);
    }
    assert_eq!(seen, [400, 401, 403, 404]);
    server.shutdown().await.expect("stops");
}
