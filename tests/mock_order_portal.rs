//! The mock plays the portal actions on an order's lines
//! (connectors/webhooks/order-events.md, "Order lines logistics" and
//! "Maintenance"): either company marks lines open again ("being
//! previously shipped or delivered") or delivered, and resends the order
//! to its own ERP. Each changes the order as order/status.md says (line
//! and delivery line logistics status, `lastUpdatedAt`, `version`), shows
//! in GET order, and reaches the right company's order webhook (plain
//! receivers on loopback) as the ...ByBuyer or ...BySupplier event. What
//! is not allowed is a clear 4xx that changes nothing.

#![cfg(feature = "mock")]

use serde_json::{json, Value};
use tradecloud::mock::{MockError, MockParty, MockServer, OrderAction};
use tradecloud::types::Party;

use crate::mock_support::{
    self, get, line, mock_with_receivers, order_event_lines, token, Receiver,
};

fn order_line(position: &str, indicators: Value) -> Value {
    json!({"position": position, "item": {"number": "A-1", "name": "Bolt"},
           "deliverySchedule": [{"position": "1", "date": "2026-03-01", "quantity": 600},
                                {"position": "2", "date": "2026-04-01", "quantity": 400}],
           "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 2, "currencyIso": "EUR"}}},
           "indicators": indicators})
}

/// The buyer issues an order with line 0001 `Confirmed` and line 0002
/// `Completed`; its id (from the supplier's two events).
async fn issue(server: &MockServer, supplier_rx: &Receiver) -> String {
    let message = json!({
        "order": {"supplierAccountNumber": "SUPPLIER12345", "purchaseOrderNumber": "PO-PORTAL-1"},
        "lines": [order_line("0001", json!({"confirmed": true})),
                  order_line("0002", json!({"completed": true}))]
    });
    let (status, _) =
        mock_support::post(server, &server.buyer(), "/api-connector/order", message).await;
    assert_eq!(status, 200);
    let got = supplier_rx.wait_for_bodies(2).await;
    got[0]["orderEvent"]["orderId"]
        .as_str()
        .expect("an order id")
        .to_owned()
}

/// `POST /mock/order/{id}/{action}` as `party` (Bearer), with `body`.
async fn act(
    server: &MockServer,
    party: &MockParty,
    id: &str,
    action: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let root = server.base_url().trim_end_matches("/v2").to_owned();
    let mut request = reqwest::Client::new()
        .post(format!("{root}/mock/order/{id}/{action}"))
        .bearer_auth(token(server, party).await);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The logistics status of line `position` and of its delivery lines
/// (`deliverySchedule`, then `deliveryScheduleIncludingRequests`).
fn logistics(order: &Value, position: &str) -> (String, Vec<String>) {
    let line = line(order, position);
    let delivery = ["deliverySchedule", "deliveryScheduleIncludingRequests"]
        .iter()
        .flat_map(|schedule| line[schedule].as_array().cloned().unwrap_or_default())
        .map(|d| d["status"].as_str().unwrap_or("none").to_owned())
        .collect();
    (
        line["status"]["logisticsStatus"]
            .as_str()
            .unwrap_or("none")
            .to_owned(),
        delivery,
    )
}

fn named(name: &str, positions: &[&str]) -> (String, Vec<String>) {
    (
        name.to_owned(),
        positions.iter().map(|p| (*p).to_owned()).collect(),
    )
}

#[tokio::test]
async fn either_company_marks_lines_delivered_and_open_again_and_resends() {
    let (server, buyer_rx, supplier_rx) = mock_with_receivers().await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let id = issue(&server, &supplier_rx).await;
    let issued = get(&server, &buyer, &format!("/order/{id}")).await;
    assert_eq!(logistics(&issued, "0001").0, "Open");

    // The supplier marks line 0001 delivered (the route): the line and
    // its delivery lines are Delivered, the order stamped one version up,
    // and the buyer hears OrderLinesMarkedAsDeliveredBySupplier.
    let (status, answered) = act(
        &server,
        &supplier,
        &id,
        "supplier/deliver",
        Some(json!({"linePositions": ["0001"]})),
    )
    .await;
    assert_eq!(status, 200, "{answered:#}");
    let delivered = get(&server, &buyer, &format!("/order/{id}")).await;
    assert_eq!(answered, delivered);
    assert_eq!(
        logistics(&delivered, "0001"),
        ("Delivered".to_owned(), vec!["Delivered".to_owned(); 4])
    );
    assert_eq!(
        delivered["version"].as_i64(),
        issued["version"].as_i64().map(|v| v + 1)
    );
    assert_ne!(delivered["lastUpdatedAt"], issued["lastUpdatedAt"]);
    assert_eq!(
        line(&delivered, "0001")["lastUpdatedAt"],
        delivered["lastUpdatedAt"]
    );
    let got = buyer_rx.wait_for_bodies(1).await;
    assert_eq!(
        order_event_lines(&got[0]),
        named("OrderLinesMarkedAsDeliveredBySupplier", &["0001"])
    );

    // The buyer marks it open again (in-process): Open, its delivery lines
    // too; the supplier hears OrderLinesMarkedAsOpenByBuyer.
    let opened = server
        .order_action(
            &id,
            OrderAction::MarkOpen {
                by: Party::Buyer,
                positions: vec!["0001".into()],
            },
        )
        .await
        .expect("marked open");
    let opened = serde_json::to_value(&opened).expect("JSON");
    assert_eq!(
        logistics(&opened, "0001"),
        ("Open".to_owned(), vec!["Open".to_owned(); 4])
    );
    assert_eq!(
        opened["version"].as_i64(),
        delivered["version"].as_i64().map(|v| v + 1)
    );
    let got = supplier_rx.wait_for_bodies(3).await;
    assert_eq!(
        order_event_lines(&got[2]),
        named("OrderLinesMarkedAsOpenByBuyer", &["0001"])
    );

    // The buyer marks it delivered, the supplier open again.
    let (status, _) = act(
        &server,
        &buyer,
        &id,
        "buyer/deliver",
        Some(json!({"linePositions": ["0001"]})),
    )
    .await;
    assert_eq!(status, 200);
    let got = supplier_rx.wait_for_bodies(4).await;
    assert_eq!(
        order_event_lines(&got[3]),
        named("OrderLinesMarkedAsDeliveredByBuyer", &["0001"])
    );
    let (status, reopened) = act(
        &server,
        &supplier,
        &id,
        "supplier/open",
        Some(json!({"linePositions": ["0001"]})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(logistics(&reopened, "0001").0, "Open");
    let got = buyer_rx.wait_for_bodies(2).await;
    assert_eq!(
        order_event_lines(&got[1]),
        named("OrderLinesMarkedAsOpenBySupplier", &["0001"])
    );

    // Resending changes nothing and goes only to the resending company's
    // own webhook, with all lines.
    let (status, resent) = act(&server, &supplier, &id, "supplier/resend", None).await;
    assert_eq!(status, 200);
    assert_eq!(resent, reopened);
    let got = supplier_rx.wait_for_bodies(5).await;
    assert_eq!(
        order_event_lines(&got[4]),
        named("OrderResentBySupplier", &["0001", "0002"])
    );
    let resent = server
        .order_action(&id, OrderAction::Resend { by: Party::Buyer })
        .await
        .expect("resent");
    assert_eq!(serde_json::to_value(&resent).expect("JSON"), reopened);
    let got = buyer_rx.wait_for_bodies(3).await;
    assert_eq!(
        order_event_lines(&got[2]),
        named("OrderResentByBuyer", &["0001", "0002"])
    );
    assert_eq!(
        get(&server, &buyer, &format!("/order/{id}")).await,
        reopened
    );
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn actions_that_are_not_allowed_are_refused_and_change_nothing() {
    let (server, _buyer_rx, supplier_rx) = mock_with_receivers().await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let id = issue(&server, &supplier_rx).await;
    let before = get(&server, &buyer, &format!("/order/{id}")).await;
    let positions = |p: &[&str]| Some(json!({ "linePositions": p }));
    let message = |answer: &Value| answer["message"].as_str().unwrap_or_default().to_owned();

    // An unknown order: 404, whatever the body.
    let (status, answer) = act(&server, &buyer, "no-such-order", "buyer/deliver", None).await;
    assert_eq!(status, 404);
    assert!(message(&answer).contains("not found"), "{answer:#}");
    // A position the order does not have: 404.
    let (status, answer) = act(&server, &buyer, &id, "buyer/deliver", positions(&["9"])).await;
    assert_eq!(status, 404);
    assert!(
        message(&answer).contains("no line at position 9"),
        "{answer:#}"
    );
    // A Completed line cannot be marked delivered (or open).
    let (status, answer) = act(
        &server,
        &supplier,
        &id,
        "supplier/deliver",
        positions(&["0002"]),
    )
    .await;
    assert_eq!(status, 400);
    assert!(message(&answer).contains("Completed"), "{answer:#}");
    // An Open line cannot be marked open.
    let (status, answer) = act(&server, &buyer, &id, "buyer/open", positions(&["0001"])).await;
    assert_eq!(status, 400);
    assert!(
        message(&answer).contains("only Shipped and Delivered lines"),
        "{answer:#}"
    );
    // No lines named; a body that is not the shape.
    let (status, answer) = act(&server, &buyer, &id, "buyer/open", positions(&[])).await;
    assert_eq!(status, 400);
    assert!(message(&answer).contains("linePositions"), "{answer:#}");
    let (status, _) = act(
        &server,
        &buyer,
        &id,
        "buyer/open",
        Some(json!({"lines": ["1"]})),
    )
    .await;
    assert_eq!(status, 400);
    // The other company's user on a buyer's route: 403.
    let (status, _) = act(&server, &supplier, &id, "buyer/resend", None).await;
    assert_eq!(status, 403);
    // The same refusal in-process.
    let refused = server
        .order_action(
            &id,
            OrderAction::MarkDelivered {
                by: Party::Supplier,
                positions: vec!["0002".into()],
            },
        )
        .await;
    assert!(
        matches!(refused, Err(MockError::OrderAction { status: 400, .. })),
        "{refused:?}"
    );
    assert_eq!(get(&server, &buyer, &format!("/order/{id}")).await, before);
    server.shutdown().await.expect("stops");
}
