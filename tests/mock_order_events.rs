//! The mock's order events over real HTTP where Tradecloud's documentation
//! says more than the mock did: new lines sent `confirmed`
//! (connectors/webhooks/order-events.md "Confirmed by buyer"), line
//! indicators that take precedence per flag (order/buyer/cancel.md,
//! order/buyer/complete.md) and changes to the order header only
//! (order-events.md `OrderLinesUpdatedByBuyer` / `...BySupplier`: "Order
//! and line fields ..."), and the buyer's delivery line position, status
//! and transport mode on a confirmed line (api/delivery-schedule.md; only
//! `status` is a logistics field of those).

#![cfg(feature = "mock")]

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tradecloud::mock::{MockParty, MockServer};

use crate::mock_support::{self, get, mock_with_receivers, order_event_lines, Receiver};

/// `POST` `body` to `path` as `party` (Basic credentials): the status.
async fn post(server: &MockServer, party: &MockParty, path: &str, body: Value) -> StatusCode {
    mock_support::post(server, party, path, body).await.0
}

/// An order message: `lines` as given.
fn order_message(number: &str, order: Value, lines: Value) -> Value {
    let mut header =
        json!({"supplierAccountNumber": "SUPPLIER12345", "purchaseOrderNumber": number});
    if let (Value::Object(header), Value::Object(more)) = (&mut header, order) {
        header.extend(more);
    }
    json!({"order": header, "lines": lines})
}

fn order_line(position: &str, indicators: Value) -> Value {
    json!({"position": position, "item": {"number": "A-1", "name": "Bolt"},
           "deliverySchedule": [{"position": "1", "date": "2026-03-01", "quantity": 1000}],
           "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 2, "currencyIso": "EUR"}}},
           "indicators": indicators})
}

/// Each event's name with the positions of the lines it carries, sorted.
fn events(bodies: &[Value]) -> Vec<(String, Vec<String>)> {
    let mut events: Vec<(String, Vec<String>)> = bodies.iter().map(order_event_lines).collect();
    events.sort();
    events
}

/// The process order `id` as the buyer fetches it.
async fn order(server: &MockServer, body: &Value) -> Value {
    let id = body["orderEvent"]["orderId"].as_str().expect("an order id");
    get(server, &server.buyer(), &format!("/order/{id}")).await
}

fn process_status<'v>(order: &'v Value, position: &str) -> &'v Value {
    order["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["buyerLine"]["position"] == position)
        .map(|l| &l["status"]["processStatus"])
        .unwrap_or_else(|| panic!("no line {position} in {order:#}"))
}

#[tokio::test]
async fn a_new_line_sent_confirmed_is_confirmed_by_buyer() {
    let (server, _buyer_rx, supplier_rx) = mock_with_receivers().await;
    let message = order_message(
        "PO-EV-CONFIRMED",
        json!({}),
        json!([
            order_line("0001", json!({"confirmed": true})),
            order_line("0002", json!({}))
        ]),
    );
    let status = post(&server, &server.buyer(), "/api-connector/order", message).await;
    assert_eq!(status, 200);
    let got = supplier_rx.wait_for_bodies(2).await;
    assert_eq!(
        events(&got),
        [
            ("OrderIssuedByBuyer".to_owned(), vec!["0002".to_owned()]),
            (
                "OrderLinesConfirmedByBuyer".to_owned(),
                vec!["0001".to_owned()]
            ),
        ]
    );
    let fetched = order(&server, &got[0]).await;
    assert_eq!(process_status(&fetched, "0001"), "Confirmed");
    // A line added later, sent confirmed, is confirmed as well.
    let message = order_message(
        "PO-EV-CONFIRMED",
        json!({}),
        json!([order_line("0003", json!({"confirmed": true}))]),
    );
    let status = post(&server, &server.buyer(), "/api-connector/order", message).await;
    assert_eq!(status, 200);
    let got = supplier_rx.wait_for_bodies(3).await;
    assert_eq!(
        events(&got[2..]),
        [(
            "OrderLinesConfirmedByBuyer".to_owned(),
            vec!["0003".to_owned()]
        )]
    );
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_line_indicator_overrules_only_the_same_order_indicator() {
    let (server, _buyer_rx, supplier_rx) = mock_with_receivers().await;
    let lines = json!([order_line("0001", json!({})), order_line("0002", json!({}))]);
    let message = order_message("PO-EV-PRECEDENCE", json!({}), lines);
    let status = post(&server, &server.buyer(), "/api-connector/order", message).await;
    assert_eq!(status, 200);
    supplier_rx.wait_for_bodies(1).await;
    // The order is cancelled; line 0001 says it is not completed, which
    // says nothing about cancelling: the order's `cancelled` holds for it.
    let indicators = json!({
        "order": {"purchaseOrderNumber": "PO-EV-PRECEDENCE", "indicators": {"cancelled": true}},
        "lines": [{"position": "0001", "indicators": {"completed": false}},
                  {"position": "0002", "indicators": {"cancelled": false}}]
    });
    let status = post(
        &server,
        &server.buyer(),
        "/api-connector/order/indicators",
        indicators,
    )
    .await;
    assert_eq!(status, 200);
    let got = supplier_rx.wait_for_bodies(2).await;
    assert_eq!(
        events(&got[1..]),
        [(
            "OrderLinesCancelledByBuyer".to_owned(),
            vec!["0001".to_owned()]
        )]
    );
    let fetched = order(&server, &got[1]).await;
    assert_eq!(process_status(&fetched, "0001"), "Cancelled");
    // The line's own `cancelled: false` overrules the order's.
    assert_eq!(process_status(&fetched, "0002"), "Issued");
    server.shutdown().await.expect("stops");
}

/// The bodies `rx` got of events that `suffix` (`BySupplier`, `ByBuyer`)
/// names, after a moment for late ones.
async fn settled(rx: &Receiver, suffix: &str) -> Vec<Value> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    rx.bodies()
        .into_iter()
        .filter(|b| b["eventName"].as_str().is_some_and(|n| n.ends_with(suffix)))
        .collect()
}

#[tokio::test]
async fn a_change_of_the_order_header_only_is_an_updated_event() {
    let (server, buyer_rx, supplier_rx) = mock_with_receivers().await;
    let lines = json!([order_line("0001", json!({})), order_line("0002", json!({}))]);
    let issue = |description: &str| {
        order_message(
            "PO-EV-HEADER",
            json!({"description": description}),
            lines.clone(),
        )
    };
    let buyer = server.buyer();
    assert_eq!(
        post(&server, &buyer, "/api-connector/order", issue("Bolts")).await,
        200
    );
    assert_eq!(settled(&supplier_rx, "ByBuyer").await.len(), 1);

    // A response line that answers nothing updates the supplier's line.
    let mut response = json!({
        "order": {"buyerAccountNumber": "340760", "purchaseOrderNumber": "PO-EV-HEADER"},
        "lines": [{"purchaseOrderLinePosition": "0001"}]
    });
    let supplier = server.supplier();
    let path = "/api-connector/order-response";
    assert_eq!(post(&server, &supplier, path, response.clone()).await, 200);
    assert_eq!(settled(&buyer_rx, "BySupplier").await.len(), 1);
    // The same response with a document on the order: only the header
    // changes (send-order-response/attach-document.md: no
    // OrderDocumentsAttachedBySupplier, so the order event is the notice).
    response["order"]["documents"] = json!([{"code": "S-DOC", "name": "Certificate",
                                             "url": "https://example.com/s.pdf"}]);
    assert_eq!(post(&server, &supplier, path, response.clone()).await, 200);
    let got = settled(&buyer_rx, "BySupplier").await;
    assert_eq!(
        events(&got[1..]),
        [(
            "OrderLinesUpdatedBySupplier".to_owned(),
            vec!["0001".to_owned(), "0002".to_owned()]
        )]
    );
    assert_eq!(
        got[1]["orderEvent"]["supplierOrder"]["documents"][0]["code"],
        "S-DOC"
    );
    // The same response again changes nothing: no event.
    assert_eq!(post(&server, &supplier, path, response).await, 200);
    assert_eq!(settled(&buyer_rx, "BySupplier").await.len(), 2);

    // The buyer changes only the order's description.
    assert_eq!(
        post(&server, &buyer, "/api-connector/order", issue("Nuts")).await,
        200
    );
    let got = settled(&supplier_rx, "ByBuyer").await;
    assert_eq!(
        events(&got[1..]),
        [(
            "OrderLinesUpdatedByBuyer".to_owned(),
            vec!["0001".to_owned(), "0002".to_owned()]
        )]
    );
    assert_eq!(got[1]["orderEvent"]["buyerOrder"]["description"], "Nuts");
    // An identical re-send sends nothing.
    assert_eq!(
        post(&server, &buyer, "/api-connector/order", issue("Nuts")).await,
        200
    );
    assert_eq!(settled(&supplier_rx, "ByBuyer").await.len(), 2);
    server.shutdown().await.expect("stops");
}

/// The order's `lastUpdatedAt` "is the latest date time the order has been
/// changed", a line's "the latest date time the order line has been
/// changed" (order/buyer/receive/README.md); an update may send all lines
/// "anyway" (order/buyer/update.md). So an order sent again unchanged
/// keeps `version` and the stamps (and sends no event), and one that
/// changes a line stamps that line only, `version` one up.
#[tokio::test]
async fn an_order_sent_again_changes_only_what_is_new() {
    let (server, _buyer_rx, supplier_rx) = mock_with_receivers().await;
    let issue = |quantity: u32| {
        let mut second = order_line("0002", json!({}));
        second["deliverySchedule"][0]["quantity"] = json!(quantity);
        order_message(
            "PO-EV-AGAIN",
            json!({}),
            json!([order_line("0001", json!({})), second]),
        )
    };
    let buyer = server.buyer();
    let path = "/api-connector/order";
    assert_eq!(post(&server, &buyer, path, issue(5)).await, 200);
    let got = settled(&supplier_rx, "ByBuyer").await;
    assert_eq!(got.len(), 1);
    let first = order(&server, &got[0]).await;
    let line_stamp = |order: &Value, position: &str| {
        order["lines"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["buyerLine"]["position"] == position)
            .map(|l| l["lastUpdatedAt"].clone())
            .unwrap_or_else(|| panic!("no line {position} in {order:#}"))
    };

    // The same order again: nothing changed, nothing stamped, no event.
    assert_eq!(post(&server, &buyer, path, issue(5)).await, 200);
    assert_eq!(settled(&supplier_rx, "ByBuyer").await.len(), 1);
    let again = order(&server, &got[0]).await;
    assert_eq!(again["version"], first["version"]);
    assert_eq!(again["lastUpdatedAt"], first["lastUpdatedAt"]);
    assert_eq!(again, first, "an unchanged order stays as it was");

    // All lines again, 0002 changed: only 0002 is stamped.
    assert_eq!(post(&server, &buyer, path, issue(6)).await, 200);
    let got = settled(&supplier_rx, "ByBuyer").await;
    assert_eq!(
        events(&got[1..]),
        [(
            "OrderLinesReissuedByBuyer".to_owned(),
            vec!["0002".to_owned()]
        )]
    );
    let changed = order(&server, &got[0]).await;
    assert_eq!(
        changed["version"].as_i64(),
        first["version"].as_i64().map(|v| v + 1)
    );
    assert_ne!(changed["lastUpdatedAt"], first["lastUpdatedAt"]);
    assert_eq!(line_stamp(&changed, "0002"), changed["lastUpdatedAt"]);
    assert_eq!(
        line_stamp(&changed, "0001"),
        line_stamp(&first, "0001"),
        "a line sent unchanged keeps its lastUpdatedAt"
    );
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_confirmed_line_takes_the_buyer_s_delivery_line_status_and_position() {
    let (server, buyer_rx, supplier_rx) = mock_with_receivers().await;
    // A delivery line without a position, as after a supplier's split.
    let schedule = |more: Value| {
        let mut delivery = json!({"date": "2026-03-01", "quantity": 1000});
        if let (Value::Object(delivery), Value::Object(more)) = (&mut delivery, more) {
            delivery.extend(more);
        }
        let mut line = order_line("0001", json!({}));
        line["deliverySchedule"] = json!([delivery]);
        order_message("PO-EV-LOGISTICS", json!({}), json!([line]))
    };
    let buyer = server.buyer();
    assert_eq!(
        post(&server, &buyer, "/api-connector/order", schedule(json!({}))).await,
        200
    );
    supplier_rx.wait_for_bodies(1).await;
    let accept = json!({
        "order": {"buyerAccountNumber": "340760", "purchaseOrderNumber": "PO-EV-LOGISTICS"},
        "lines": [{"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}}]
    });
    let path = "/api-connector/order-response";
    assert_eq!(post(&server, &server.supplier(), path, accept).await, 200);
    let got = buyer_rx.wait_for_bodies(1).await;
    // Only the delivery line's status, a logistics field
    // (order/buyer/receive/README.md#L250-L262): the logistics event.
    let update = schedule(json!({"status": "ReadyToShip"}));
    assert_eq!(
        post(&server, &buyer, "/api-connector/order", update).await,
        200
    );
    let events = supplier_rx.wait_for_bodies(2).await;
    assert_eq!(
        events[1]["eventName"],
        "OrderLinesDeliveryScheduleLogisticsUpdatedByBuyer"
    );
    // The same date and quantity, now with the buyer's position, status
    // and transport mode (api/delivery-schedule.md).
    let update = schedule(json!({"position": "1", "status": "Shipped", "transportMode": "3"}));
    assert_eq!(
        post(&server, &buyer, "/api-connector/order", update).await,
        200
    );
    let events = supplier_rx.wait_for_bodies(3).await;
    // Position and transport mode are more than logistics fields.
    assert_eq!(events[2]["eventName"], "OrderLinesUpdatedByBuyer");
    // Transport mode alone is not a logistics field either.
    let update = schedule(json!({"position": "1", "status": "Shipped", "transportMode": "4"}));
    assert_eq!(
        post(&server, &buyer, "/api-connector/order", update).await,
        200
    );
    let events = supplier_rx.wait_for_bodies(4).await;
    assert_eq!(events[3]["eventName"], "OrderLinesUpdatedByBuyer");
    let fetched = order(&server, &got[0]).await;
    let line = &fetched["lines"][0];
    assert_eq!(line["status"]["processStatus"], "Confirmed");
    for schedule in ["deliverySchedule", "deliveryScheduleIncludingRequests"] {
        let delivery = &line[schedule][0];
        assert_eq!(
            (&delivery["position"], &delivery["status"]),
            (&json!("1"), &json!("Shipped")),
            "{schedule}: {line:#}"
        );
    }
    let agreed = &line["confirmedLine"]["deliverySchedule"][0];
    assert_eq!(
        (
            &agreed["position"],
            &agreed["status"],
            &agreed["transportMode"]
        ),
        (&json!("1"), &json!("Shipped"), &json!("4"))
    );
    server.shutdown().await.expect("stops");
}

/// order/buyer/receive/README.md#L338-339: "`lines.mergedItemDetails` will
/// contain the original item details added by the buyer merged with the
/// changed or added item details by the supplier"; order-events.md: the
/// supplier's change of item details only is `OrderLinesItemDetailsChanged`.
#[tokio::test]
async fn the_supplier_s_item_details_are_merged_with_the_buyer_s() {
    let (server, buyer_rx, supplier_rx) = mock_with_receivers().await;
    let mut line = order_line("0001", json!({}));
    line["itemDetails"] = json!({"netWeight": 2.5, "netWeightUnitOfMeasureIso": "KGM",
                                 "countryOfOriginCodeIso2": "DE"});
    let message = order_message("PO-EV-ITEM", json!({}), json!([line]));
    let buyer = server.buyer();
    assert_eq!(
        post(&server, &buyer, "/api-connector/order", message).await,
        200
    );
    let issued = settled(&supplier_rx, "ByBuyer").await;
    assert_eq!(issued.len(), 1);
    let merged = &issued[0]["orderEvent"]["lines"][0]["mergedItemDetails"];
    assert_eq!(merged["netWeight"], 2.5, "{merged:#}");
    assert_eq!(merged["countryOfOriginCodeIso2"], "DE");

    let response = json!({
        "order": {"buyerAccountNumber": "340760", "purchaseOrderNumber": "PO-EV-ITEM"},
        "lines": [{"purchaseOrderLinePosition": "0001",
                   "itemDetails": {"countryOfOriginCodeIso2": "NL"}}]
    });
    let supplier = server.supplier();
    let path = "/api-connector/order-response";
    assert_eq!(post(&server, &supplier, path, response.clone()).await, 200);
    let got = settled(&buyer_rx, "").await;
    assert_eq!(
        events(&got),
        [(
            "OrderLinesItemDetailsChanged".to_owned(),
            vec!["0001".to_owned()]
        )]
    );
    let fetched = order(&server, &issued[0]).await;
    let line = &fetched["lines"][0];
    for merged in [
        &line["mergedItemDetails"],
        &line["itemDetails"]["mergedItemDetails"],
    ] {
        assert_eq!(merged["netWeight"], 2.5, "{line:#}");
        assert_eq!(merged["netWeightUnitOfMeasureIso"], "KGM");
        assert_eq!(merged["countryOfOriginCodeIso2"], "NL");
    }
    assert_eq!(
        line["buyerLine"]["itemDetails"]["countryOfOriginCodeIso2"],
        "DE"
    );
    assert_eq!(
        got[0]["orderEvent"]["lines"][0]["mergedItemDetails"]["countryOfOriginCodeIso2"],
        "NL"
    );

    // A response that leaves item details out keeps the supplier's, and
    // one that changes more than item details is an update.
    let notes = json!({
        "order": {"buyerAccountNumber": "340760", "purchaseOrderNumber": "PO-EV-ITEM"},
        "lines": [{"purchaseOrderLinePosition": "0001", "notes": ["Packed per 10"]}]
    });
    assert_eq!(post(&server, &supplier, path, notes).await, 200);
    let got = settled(&buyer_rx, "").await;
    assert_eq!(
        events(&got[1..]),
        [(
            "OrderLinesUpdatedBySupplier".to_owned(),
            vec!["0001".to_owned()]
        )]
    );
    let fetched = order(&server, &issued[0]).await;
    assert_eq!(
        fetched["lines"][0]["mergedItemDetails"]["countryOfOriginCodeIso2"],
        "NL"
    );
    server.shutdown().await.expect("stops");
}

/// The docs' own order messages (the issue and update pages, the guide:
/// header fields, parties, contacts, terms, indicators, properties, notes,
/// labels, documents, delivery schedules, prices, delivery history), each
/// sent twice: the second changes nothing, so the order keeps its
/// `version` and stamps and no event goes out (order/buyer/update.md:
/// all lines may be sent "anyway").
#[tokio::test]
async fn the_docs_order_messages_sent_again_change_nothing() {
    for name in [
        "sendOrderByBuyerRoute.issue-page.json",
        "sendOrderByBuyerRoute.update-page.json",
        "sendOrderByBuyerRoute.guide.json",
    ] {
        let (server, _buyer_rx, supplier_rx) = mock_with_receivers().await;
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/requests/api-connector")
            .join(name);
        let mut message: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        message["order"]["supplierAccountNumber"] = json!("SUPPLIER12345");
        let buyer = server.buyer();
        assert_eq!(
            post(&server, &buyer, "/api-connector/order", message.clone()).await,
            200,
            "{name}"
        );
        let got = settled(&supplier_rx, "ByBuyer").await;
        assert!(!got.is_empty(), "{name}: an event for the new order");
        let first = order(&server, &got[0]).await;
        assert_eq!(
            post(&server, &buyer, "/api-connector/order", message).await,
            200,
            "{name}"
        );
        let again = settled(&supplier_rx, "ByBuyer").await;
        assert_eq!(
            events(&again[got.len()..]),
            Vec::<(String, Vec<String>)>::new(),
            "{name}: no event for an order sent again unchanged"
        );
        assert_eq!(
            order(&server, &got[0]).await,
            first,
            "{name}: an unchanged order stays as it was"
        );
        server.shutdown().await.expect("stops");
    }
}
