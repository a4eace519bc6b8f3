//! The mock's process over real HTTP, where an outside audit found it
//! unlike Tradecloud's documentation: single-delivery updates, split lines
//! and their view (api/delivery-schedule.md, order/buyer/update.md,
//! order/buyer/cancel.md, order/buyer/receive/single-delivery-order-response.md),
//! the limits on the total number of delivery history lines and documents
//! (api/rules.md), documents events only for a change, and the despatch
//! advice's carrier, tracking number and final destination
//! (shipment/supplier/send-despatch-advice.md, shipment/buyer/receive).

#![cfg(feature = "mock")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tradecloud::mock::{MockConfig, MockParty, MockServer};

use crate::client_support::start;

/// A plain HTTP webhook receiver on 127.0.0.1 that keeps the JSON bodies.
#[derive(Clone)]
struct Receiver {
    bodies: Arc<Mutex<Vec<Value>>>,
    url: String,
}

async fn record(State(bodies): State<Arc<Mutex<Vec<Value>>>>, body: Bytes) -> StatusCode {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    bodies.lock().unwrap_or_else(|e| e.into_inner()).push(value);
    StatusCode::OK
}

impl Receiver {
    async fn start() -> Receiver {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .fallback(record)
            .with_state(bodies.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let addr = listener.local_addr().expect("an address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            bodies,
            url: format!("http://{addr}"),
        }
    }

    fn bodies(&self) -> Vec<Value> {
        self.bodies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Wait until `count` bodies have come (at most 10 s).
    async fn wait_for(&self, count: usize) -> Vec<Value> {
        for _ in 0..200 {
            let bodies = self.bodies();
            if bodies.len() >= count {
                return bodies;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {count} webhooks, got {:#?}", self.bodies());
    }
}

async fn token(server: &MockServer, party: &MockParty) -> String {
    let response = reqwest::Client::new()
        .get(format!("{}/authentication/login", server.base_url()))
        .basic_auth(
            &party.credentials.username,
            Some(&party.credentials.password),
        )
        .send()
        .await
        .expect("login");
    response
        .headers()
        .get("set-authorization")
        .and_then(|v| v.to_str().ok())
        .expect("an access token")
        .to_owned()
}

/// `POST` `body` to `path` as `party` (Basic credentials, which the
/// api-connector and the polls take).
async fn post(
    server: &MockServer,
    party: &MockParty,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
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

/// `GET` `path` as `party` with a token.
async fn get(server: &MockServer, party: &MockParty, path: &str) -> Value {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", server.base_url()))
        .bearer_auth(token(server, party).await)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.expect("JSON")
}

async fn webhook(server: &MockServer, party: &MockParty, path: &str, settings: Value) {
    let status = reqwest::Client::new()
        .put(format!(
            "{}/{}",
            server.base_url(),
            path.replace("{companyId}", &party.company_id)
        ))
        .bearer_auth(token(server, party).await)
        .json(&settings)
        .send()
        .await
        .expect("settings sent")
        .status();
    assert_eq!(status, 200);
}

const ORDER_DOCUMENTS_EVENTS: &str =
    "order-webhook-connector/company/{companyId}/settings/orderDocumentsEvents";

const SHIPMENT_EVENTS: &str = "shipment-webhook-connector/company/{companyId}/settings";

/// The buyer's process order of this purchase order number (by polling).
async fn order_of(server: &MockServer, number: &str) -> Value {
    let (status, page) = post(
        server,
        &server.buyer(),
        "/order-search/poll",
        json!({"filters": {}, "limit": 100}),
    )
    .await;
    assert_eq!(status, 200);
    let id = page["data"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["buyerOrder"]["purchaseOrderNumber"] == number)
        .and_then(|o| o["id"].as_str())
        .unwrap_or_else(|| panic!("no order {number}"))
        .to_owned();
    get(server, &server.buyer(), &format!("/order/{id}")).await
}

fn line<'v>(order: &'v Value, position: &str) -> &'v Value {
    order["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["buyerLine"]["position"] == position)
        .unwrap_or_else(|| panic!("no line {position} in {order:#}"))
}

fn order_message(number: &str) -> Value {
    json!({
        "order": {"supplierAccountNumber": "SUPPLIER12345", "purchaseOrderNumber": number},
        "lines": [
            {"position": "0001", "item": {"number": "A-1", "name": "Bolt"},
             "deliverySchedule": [{"position": "1", "date": "2026-03-01", "quantity": 1000}]}
        ]
    })
}

#[tokio::test]
async fn totals_above_100_are_refused_and_nothing_is_stored() {
    let server = start(MockConfig::new()).await;
    let buyer = server.buyer();
    let (status, _) = post(
        &server,
        &buyer,
        "/api-connector/order",
        order_message("PO-LIMITS-1"),
    )
    .await;
    assert_eq!(status, 200);

    let sixty_deliveries = |from: usize| {
        json!({
            "order": {"purchaseOrderNumber": "PO-LIMITS-1"},
            "lines": [{"position": "0001", "deliveries": (from..from + 60)
                .map(|i| json!({"position": i.to_string(), "date": "2026-03-01", "quantity": 1}))
                .collect::<Vec<_>>()}]
        })
    };
    let path = "/api-connector/order/deliveries";
    let (status, _) = post(&server, &buyer, path, sixty_deliveries(1)).await;
    assert_eq!(status, 200);
    let (status, body) = post(&server, &buyer, path, sixty_deliveries(61)).await;
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("line 0001") && message.contains("120") && message.contains("100"),
        "{message}"
    );
    let order = order_of(&server, "PO-LIMITS-1").await;
    assert_eq!(
        line(&order, "0001")["buyerLine"]["deliveryHistory"]
            .as_array()
            .map(Vec::len),
        Some(60)
    );

    let sixty_documents = |from: usize| {
        json!({
            "order": {"purchaseOrderNumber": "PO-LIMITS-1",
                      "documents": (from..from + 60)
                          .map(|i| json!({"code": format!("DOC-{i}"), "name": "Spec",
                                          "url": format!("https://example.com/{i}.pdf")}))
                          .collect::<Vec<_>>()}
        })
    };
    let path = "/api-connector/order/documents";
    let (status, _) = post(&server, &buyer, path, sixty_documents(1)).await;
    assert_eq!(status, 200);
    let (status, body) = post(&server, &buyer, path, sixty_documents(61)).await;
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("order header") && message.contains("120"),
        "{message}"
    );
    let order = order_of(&server, "PO-LIMITS-1").await;
    assert_eq!(
        order["buyerOrder"]["documents"].as_array().map(Vec::len),
        Some(60)
    );
    // Up to 100 in all is fine, and documents with the codes of attached
    // ones replace them, so they do not count twice.
    let (status, _) = post(&server, &buyer, path, sixty_documents(41)).await;
    assert_eq!(status, 200);
    let (status, _) = post(&server, &buyer, path, sixty_documents(1)).await;
    assert_eq!(status, 200);
    let (status, _) = post(&server, &buyer, path, sixty_documents(101)).await;
    assert_eq!(status, 400);
    let order = order_of(&server, "PO-LIMITS-1").await;
    assert_eq!(
        order["buyerOrder"]["documents"].as_array().map(Vec::len),
        Some(100)
    );
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn documents_that_change_nothing_send_no_event() {
    let server = start(MockConfig::new().delivery_backoff(Duration::from_millis(20))).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let supplier_rx = Receiver::start().await;
    webhook(
        &server,
        &supplier,
        ORDER_DOCUMENTS_EVENTS,
        json!({"webhookUrl": format!("{}/documents", supplier_rx.url)}),
    )
    .await;
    let (status, _) = post(
        &server,
        &buyer,
        "/api-connector/order",
        order_message("PO-DOCS-EMPTY"),
    )
    .await;
    assert_eq!(status, 200);
    let documents = |position: &str, code: &str| {
        json!({
            "order": {"purchaseOrderNumber": "PO-DOCS-EMPTY"},
            "lines": [{"position": position,
                       "documents": [{"code": code, "name": "Drawing",
                                      "url": "https://example.com/d.pdf"}]}]
        })
    };
    let path = "/api-connector/order/documents";
    // A line the order does not have: accepted (Tradecloud processes
    // asynchronously), nothing attached, no event.
    let (status, _) = post(&server, &buyer, path, documents("0099", "D-99")).await;
    assert_eq!(status, 200);
    let (status, _) = post(&server, &buyer, path, documents("0001", "D-1")).await;
    assert_eq!(status, 200);
    // The same document again changes nothing either.
    let (status, _) = post(&server, &buyer, path, documents("0001", "D-1")).await;
    assert_eq!(status, 200);
    let (status, _) = post(&server, &buyer, path, documents("0001", "D-2")).await;
    assert_eq!(status, 200);
    let got = supplier_rx.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got_all = supplier_rx.bodies();
    assert_eq!(got_all.len(), 2, "{got_all:#?}");
    let codes: Vec<&Value> = got
        .iter()
        .map(|b| &b["orderDocumentsEvent"]["lines"][0]["buyerLine"]["documents"][0]["code"])
        .collect();
    assert_eq!(codes, [&json!("D-1"), &json!("D-2")]);
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_despatch_advice_keeps_its_carrier_tracking_number_and_final_destination() {
    let server = start(MockConfig::new().delivery_backoff(Duration::from_millis(20))).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let buyer_rx = Receiver::start().await;
    webhook(
        &server,
        &buyer,
        SHIPMENT_EVENTS,
        json!({"webhookUrl": format!("{}/shipments", buyer_rx.url)}),
    )
    .await;
    let (status, body) = post(
        &server,
        &supplier,
        "/api-connector/shipment/despatch-advice",
        json!({
            "header": {
                "buyerAccountNumber": "BUYER340760",
                "despatchAdviceNumber": "DA-FINAL-1",
                "shipment": {
                    "shipmentNumber": "SN-1",
                    "shipmentCompanyName": "DHL",
                    "trackingNumber": "1Z662F416878787827",
                    "departure": {"location": {"id": "DEP"}, "actualDate": "2026-03-01"},
                    "destination": {"location": {"id": "PORT", "locationType": "PortOfDestination"},
                                    "scheduledStartDate": "2026-03-10"},
                    "finalDestination": {"location": {"id": "DC", "locationType": "FinalDestination"},
                                         "scheduledStartDate": "2026-03-12",
                                         "scheduledEndTime": "16:00:00"}
                }
            },
            "lines": [{"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO-X",
                       "purchaseOrderLinePosition": "0001", "despatchQuantity": 5,
                       "item": {"buyerItemNumber": "A-1"}}]
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let got = buyer_rx.wait_for(1).await;
    let from_webhook = got[0]["shipment"].clone();
    let id = from_webhook["id"]
        .as_str()
        .expect("a shipment id")
        .to_owned();
    let fetched = get(&server, &buyer, &format!("/shipment/{id}")).await;
    for shipment in [&from_webhook, &fetched] {
        assert_eq!(
            shipment["identifiers"]["trackingNumber"],
            "1Z662F416878787827"
        );
        assert_eq!(shipment["supplierShipment"]["shipmentCompanyName"], "DHL");
        let locations = &shipment["locations"];
        assert_eq!(locations["departure"]["atdDate"], "2026-03-01");
        let destinations: Vec<(&Value, &Value)> = locations["destinations"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| (&d["location"]["id"], &d["etaStartDate"]))
            .collect();
        assert_eq!(
            destinations,
            [
                (&json!("PORT"), &json!("2026-03-10")),
                (&json!("DC"), &json!("2026-03-12"))
            ]
        );
        assert_eq!(locations["destinations"][1]["etaEndTime"], "16:00:00");
    }
    server.shutdown().await.expect("stops");
}
