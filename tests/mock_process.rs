//! The mock's process over real HTTP, where an outside audit found it
//! unlike Tradecloud's documentation: single-delivery updates, split lines
//! and their view (api/delivery-schedule.md, order/buyer/update.md,
//! order/buyer/cancel.md, order/buyer/receive/single-delivery-order-response.md),
//! the limits on the total number of delivery history lines and documents
//! (api/rules.md), documents events only for a change, and the despatch
//! advice's carrier, tracking number and final destination, process status,
//! line stamps, item enrichment and unique line positions
//! (shipment/supplier/send-despatch-advice.md, shipment/buyer/receive).

#![cfg(feature = "mock")]

use std::time::Duration;

use serde_json::{json, Value};
use tradecloud::mock::{MockConfig, MockParty, MockServer};

use crate::client_support::start;
use crate::mock_support::{get, line, post, shipment_poll, token, Receiver};

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

/// A receiver of `party`'s webhooks from `server`: registered in the
/// webhook settings at `path`, with the receiver's `route` as the URL.
async fn listening(server: &MockServer, party: &MockParty, path: &str, route: &str) -> Receiver {
    let receiver = Receiver::start().await;
    webhook(
        server,
        party,
        path,
        json!({"webhookUrl": format!("{}/{route}", receiver.url)}),
    )
    .await;
    receiver
}

const ORDER_EVENTS: &str = "order-webhook-connector/company/{companyId}/settings/orderEvents";

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

/// The single-delivery view of the order `id` (by polling).
async fn single_delivery_view(server: &MockServer, id: &str) -> Value {
    let (status, page) = post(
        server,
        &server.buyer(),
        "/order-search/poll/single-delivery",
        json!({"filters": {}, "limit": 100}),
    )
    .await;
    assert_eq!(status, 200);
    page["data"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no single-delivery order {id}"))
}

/// `(position, date, quantity)` of each delivery line.
fn deliveries(schedule: &Value) -> Vec<(String, String, f64)> {
    schedule
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            (
                d["position"].as_str().unwrap_or_default().to_owned(),
                d["date"].as_str().unwrap_or_default().to_owned(),
                d["quantity"].as_f64().unwrap_or_default(),
            )
        })
        .collect()
}

fn delivery(position: &str, date: &str, quantity: f64) -> (String, String, f64) {
    (position.to_owned(), date.to_owned(), quantity)
}

/// `(position, originalPosition, date, quantity)` of each line of a
/// single-delivery view, from `statusLine.scheduledDelivery`.
fn single_lines(view: &Value) -> Vec<(String, String, String, f64)> {
    view["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            let scheduled = &l["statusLine"]["scheduledDelivery"];
            (
                l["buyerLine"]["position"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                l["buyerLine"]["originalPosition"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                scheduled["date"].as_str().unwrap_or_default().to_owned(),
                scheduled["quantity"].as_f64().unwrap_or_default(),
            )
        })
        .collect()
}

fn single(
    position: &str,
    original: &str,
    date: &str,
    quantity: f64,
) -> (String, String, String, f64) {
    (
        position.to_owned(),
        original.to_owned(),
        date.to_owned(),
        quantity,
    )
}

fn single_delivery_order(number: &str, lines: Value) -> Value {
    json!({
        "order": {"supplierAccountNumber": "SUPPLIER12345", "purchaseOrderNumber": number},
        "lines": lines
    })
}

fn sd_line(position: &str, original: Option<&str>, date: &str, quantity: u32) -> Value {
    let mut line = json!({
        "position": position,
        "item": {"number": "A-1", "name": "Bolt"},
        "scheduledDelivery": {"date": date, "quantity": quantity},
        "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 5, "currencyIso": "EUR"}},
                   "priceUnitQuantity": 1}
    });
    if let Some(original) = original {
        line["originalPosition"] = json!(original);
    }
    line
}

/// A mock whose supplier gets order events with a single delivery per
/// line, the buyer's order `number` sent with line 0001 (10 on 2026-03-01)
/// and its split line 0002 (5 on 2026-04-01), and the supplier's receiver
/// after the first event.
async fn split_order(number: &str) -> (MockServer, Receiver) {
    let server = start(MockConfig::new().delivery_backoff(Duration::from_millis(20))).await;
    let supplier_rx = Receiver::start().await;
    webhook(
        &server,
        &server.supplier(),
        ORDER_EVENTS,
        json!({"webhookUrl": format!("{}/orders", supplier_rx.url),
               "singleDeliveryPerOrderLine": true}),
    )
    .await;
    let (status, _) = post(
        &server,
        &server.buyer(),
        SINGLE_DELIVERY,
        single_delivery_order(
            number,
            json!([
                sd_line("0001", None, "2026-03-01", 10),
                sd_line("0002", Some("0001"), "2026-04-01", 5)
            ]),
        ),
    )
    .await;
    assert_eq!(status, 200);
    supplier_rx.wait_for_bodies(1).await;
    (server, supplier_rx)
}

const SINGLE_DELIVERY: &str = "/api-connector/order/single-delivery";

#[tokio::test]
async fn updating_only_a_split_line_keeps_the_original_delivery() {
    let (server, supplier_rx) = split_order("PO-SD-UPDATE").await;
    // Only the split line, changed (order/buyer/update.md: an update
    // "should preferable only contain order lines that are new or changed").
    let (status, _) = post(
        &server,
        &server.buyer(),
        SINGLE_DELIVERY,
        single_delivery_order(
            "PO-SD-UPDATE",
            json!([sd_line("0002", Some("0001"), "2026-04-01", 6)]),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let order = order_of(&server, "PO-SD-UPDATE").await;
    assert_eq!(order["lines"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        deliveries(&line(&order, "0001")["buyerLine"]["deliverySchedule"]),
        [
            delivery("0001", "2026-03-01", 10.0),
            delivery("0002", "2026-04-01", 6.0)
        ]
    );
    let got = supplier_rx.wait_for_bodies(2).await;
    assert_eq!(got[1]["eventName"], "OrderLinesReissuedByBuyer");
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_split_line_s_actual_delivery_joins_the_original_line_s_history() {
    let (server, supplier_rx) = split_order("PO-SD-RECEIVED").await;
    let buyer = server.buyer();
    // The split line's actual delivery joins the original line's history
    // (api/delivery-schedule.md: `actualDelivery` is merged too).
    let mut received = sd_line("0002", Some("0001"), "2026-04-01", 5);
    received["actualDelivery"] = json!({"date": "2026-04-02", "quantity": 5});
    let both = |split: Value| json!([sd_line("0001", None, "2026-03-01", 10), split]);
    let (status, _) = post(
        &server,
        &buyer,
        SINGLE_DELIVERY,
        single_delivery_order("PO-SD-RECEIVED", both(received)),
    )
    .await;
    assert_eq!(status, 200);
    let order = order_of(&server, "PO-SD-RECEIVED").await;
    let id = order["id"].as_str().expect("an id").to_owned();
    assert_eq!(
        deliveries(&line(&order, "0001")["buyerLine"]["deliveryHistory"]),
        [delivery("0002", "2026-04-02", 5.0)]
    );
    let got = supplier_rx.wait_for_bodies(2).await;
    assert_eq!(
        got[1]["eventName"],
        "OrderLinesDeliveryHistoryAppendedByBuyer"
    );
    let view = single_delivery_view(&server, &id).await;
    assert_eq!(
        line(&view, "0002")["buyerLine"]["actualDelivery"],
        json!({"date": "2026-04-02", "quantity": 5})
    );
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn cancelling_a_split_line_removes_its_delivery_line() {
    let (server, supplier_rx) = split_order("PO-SD-CANCEL").await;
    let buyer = server.buyer();
    let both = |split: Value| json!([sd_line("0001", None, "2026-03-01", 10), split]);
    // Cancelling the split line removes its delivery line
    // (order/buyer/cancel.md); the order line lives on.
    let mut cancelled = sd_line("0002", Some("0001"), "2026-04-01", 5);
    cancelled["indicators"] = json!({"cancelled": true});
    let (status, _) = post(
        &server,
        &buyer,
        SINGLE_DELIVERY,
        single_delivery_order("PO-SD-CANCEL", both(cancelled)),
    )
    .await;
    assert_eq!(status, 200);
    let order = order_of(&server, "PO-SD-CANCEL").await;
    let original = line(&order, "0001");
    assert_eq!(
        deliveries(&original["buyerLine"]["deliverySchedule"]),
        [delivery("0001", "2026-03-01", 10.0)]
    );
    assert_eq!(original["status"]["processStatus"], "Issued");
    let got = supplier_rx.wait_for_bodies(2).await;
    assert_eq!(got[1]["eventName"], "OrderLinesReissuedByBuyer");
    assert_eq!(
        single_lines(&got[1]["singleDeliveryOrderEvent"]),
        [single("0001", "", "2026-03-01", 10.0)]
    );

    // Cancelling the last one cancels the order line ("When all primary
    // and related split lines are cancelled").
    let mut cancelled = sd_line("0001", None, "2026-03-01", 10);
    cancelled["indicators"] = json!({"cancelled": true});
    let (status, _) = post(
        &server,
        &buyer,
        SINGLE_DELIVERY,
        single_delivery_order("PO-SD-CANCEL", json!([cancelled])),
    )
    .await;
    assert_eq!(status, 200);
    let order = order_of(&server, "PO-SD-CANCEL").await;
    assert_eq!(line(&order, "0001")["status"]["processStatus"], "Cancelled");
    let got = supplier_rx.wait_for_bodies(3).await;
    assert_eq!(got[2]["eventName"], "OrderLinesCancelledByBuyer");
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn the_single_delivery_view_keeps_split_lines_and_their_dates() {
    let (server, supplier_rx) = split_order("PO-SD-VIEW").await;
    let expected = [
        single("0001", "", "2026-03-01", 10.0),
        single("0002", "0001", "2026-04-01", 5.0),
    ];
    let order = order_of(&server, "PO-SD-VIEW").await;
    let id = order["id"].as_str().expect("an id");
    let view = single_delivery_view(&server, id).await;
    assert_eq!(single_lines(&view), expected);
    assert_eq!(
        line(&view, "0002")["buyerLine"]["scheduledDelivery"],
        json!({"date": "2026-04-01", "quantity": 5})
    );
    let got = supplier_rx.wait_for_bodies(1).await;
    assert_eq!(got[0]["eventName"], "OrderIssuedByBuyer");
    assert_eq!(single_lines(&got[0]["singleDeliveryOrderEvent"]), expected);
    server.shutdown().await.expect("stops");
}

/// The buyer issues `order_message(number)`, which the mock takes (200).
async fn issue_order(server: &MockServer, number: &str) {
    let (status, body) = post(
        server,
        &server.buyer(),
        "/api-connector/order",
        order_message(number),
    )
    .await;
    assert_eq!(status, 200, "the buyer issues {number}: {body}");
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
    issue_order(&server, "PO-LIMITS-1").await;

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

/// A document without a `code` is appended each time it is sent
/// (attach-document-api.md: "else it will be appended"), so the same
/// message sent again counts again toward the 100 documents per order
/// header and line, as in production.
#[tokio::test]
async fn documents_without_a_code_are_appended_again_up_to_the_limit() {
    let server = start(MockConfig::new()).await;
    let buyer = server.buyer();
    issue_order(&server, "PO-NO-CODE").await;
    let fifty = json!({
        "order": {"purchaseOrderNumber": "PO-NO-CODE",
                  "documents": (0..50)
                      .map(|i| json!({"name": "Spec", "url": format!("https://example.com/{i}.pdf")}))
                      .collect::<Vec<_>>()},
        "lines": [{"position": "0001",
                   "documents": [{"name": "Drawing", "url": "https://example.com/d.pdf"}]}]
    });
    let path = "/api-connector/order/documents";
    for _ in 0..2 {
        let (status, body) = post(&server, &buyer, path, fifty.clone()).await;
        assert_eq!(status, 200, "{body}");
    }
    let order = order_of(&server, "PO-NO-CODE").await;
    assert_eq!(
        order["buyerOrder"]["documents"].as_array().map(Vec::len),
        Some(100)
    );
    assert_eq!(
        line(&order, "0001")["buyerLine"]["documents"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let (status, body) = post(&server, &buyer, path, fifty).await;
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("order header") && message.contains("150"),
        "{message}"
    );
    server.shutdown().await.expect("stops");
}

/// A document whose `code` differs from an attached one's only by the
/// whitespace around it is the same document: it replaces the attached
/// one ("If a document with the same code is already attached to the
/// order or line, the document will be replaced",
/// order/buyer/issue/attach-document-api.md#L77), as on a shipment; the
/// tXML reader trims the text of a code, so its JSON form means the same.
#[tokio::test]
async fn a_code_padded_with_whitespace_replaces_the_attached_document() {
    let server = start(MockConfig::new()).await;
    let buyer = server.buyer();
    issue_order(&server, "PO-PADDED-CODE").await;
    let path = "/api-connector/order/documents";
    for (code, name) in [("PL", "Packing list 1"), (" PL\t", "Packing list 2")] {
        let message = json!({
            "order": {"purchaseOrderNumber": "PO-PADDED-CODE",
                      "documents": [{"code": code, "name": name,
                                     "url": "https://example.com/pl.pdf"}]},
            "lines": [{"position": "0001",
                       "documents": [{"code": code, "name": name,
                                      "url": "https://example.com/pl.pdf"}]}]
        });
        let (status, body) = post(&server, &buyer, path, message).await;
        assert_eq!(status, 200, "{body}");
    }
    let order = order_of(&server, "PO-PADDED-CODE").await;
    for documents in [
        &order["buyerOrder"]["documents"],
        &line(&order, "0001")["buyerLine"]["documents"],
    ] {
        let names: Vec<&Value> = documents
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| &d["name"])
            .collect();
        assert_eq!(names, [&json!("Packing list 2")], "{documents}");
    }
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn documents_that_change_nothing_send_no_event() {
    let server = start(MockConfig::new().delivery_backoff(Duration::from_millis(20))).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let supplier_rx = listening(&server, &supplier, ORDER_DOCUMENTS_EVENTS, "documents").await;
    issue_order(&server, "PO-DOCS-EMPTY").await;
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
    let got = supplier_rx.wait_for_bodies(2).await;
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
    let buyer_rx = listening(&server, &buyer, SHIPMENT_EVENTS, "shipments").await;
    let (status, body) = post(
        &server,
        &supplier,
        "/api-connector/shipment/despatch-advice",
        json!({
            "header": {
                "buyerAccountNumber": "340760",
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
    let got = buyer_rx.wait_for_bodies(1).await;
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

/// A despatch advice for `number` with `lines`.
fn despatch_advice(number: &str, lines: Value) -> Value {
    json!({
        "header": {"buyerAccountNumber": "340760", "despatchAdviceNumber": number,
                   "shipment": {"shipmentNumber": "SN-1"}},
        "lines": lines
    })
}

const DESPATCH_ADVICE: &str = "/api-connector/shipment/despatch-advice";

/// shipment/buyer/receive/README.md lists the process status at the top of
/// the shipment, and "a line has been added or changed if the
/// `lines.meta.lastUpdatedAt` equals the `shipment.meta.lastUpdatedAt`";
/// send-despatch-advice.md enriches a missing or partial item from the
/// purchase order.
#[tokio::test]
async fn a_resent_despatch_advice_stamps_only_changed_lines_and_items_are_enriched() {
    let server = start(MockConfig::new().delivery_backoff(Duration::from_millis(20))).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let buyer_rx = listening(&server, &buyer, SHIPMENT_EVENTS, "shipments").await;
    let (status, body) = post(
        &server,
        &buyer,
        "/api-connector/order",
        json!({
            "order": {"supplierAccountNumber": "SUPPLIER12345", "purchaseOrderNumber": "PO-ENRICH-1"},
            "lines": [{"position": "0001",
                       "item": {"number": "A-1", "revision": "B", "name": "Bolt",
                                "supplierItemNumber": "S-A-1", "purchaseUnitOfMeasureIso": "PCE"},
                       "deliverySchedule": [{"position": "1", "date": "2026-03-01", "quantity": 10}]}]
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let lines = |second_quantity: u32| {
        json!([
            {"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO-ENRICH-1",
             "purchaseOrderLinePosition": "0001", "despatchQuantity": 4,
             "item": {"buyerItemName": "Bolt M8"}},
            {"despatchAdviceLinePosition": "2", "purchaseOrderNumber": "PO-ENRICH-1",
             "purchaseOrderLinePosition": "0001", "despatchQuantity": second_quantity},
            {"despatchAdviceLinePosition": "3", "purchaseOrderNumber": "PO-UNKNOWN",
             "purchaseOrderLinePosition": "0001", "despatchQuantity": 1}
        ])
    };
    let (status, body) = post(
        &server,
        &supplier,
        DESPATCH_ADVICE,
        despatch_advice("DA-STAMPS-1", lines(5)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let first = buyer_rx.wait_for_bodies(1).await[0]["shipment"].clone();
    assert_eq!(first["processStatus"], "Issued", "{first:#}");
    assert_eq!(first["status"]["processStatus"], "Issued");
    let item = &first["lines"][0]["item"];
    assert_eq!(
        *item,
        json!({"buyerItemNumber": "A-1", "buyerItemRevision": "B", "buyerItemName": "Bolt M8",
               "supplierItemNumber": "S-A-1", "purchaseUnitOfMeasureIso": "PCE"})
    );
    assert_eq!(first["lines"][1]["item"]["buyerItemName"], "Bolt");
    assert!(first["lines"][2].get("item").is_none(), "no order, no item");

    // Line 2 changes: only it gets the shipment's new stamp.
    let (status, _) = post(
        &server,
        &supplier,
        DESPATCH_ADVICE,
        despatch_advice("DA-STAMPS-1", lines(6)),
    )
    .await;
    assert_eq!(status, 200);
    let got = buyer_rx.wait_for_bodies(2).await;
    assert_eq!(got[1]["eventName"], "ShipmentReissuedBySupplier");
    let second = &got[1]["shipment"];
    let stamp = |shipment: &Value, line: Option<usize>| {
        match line {
            Some(i) => &shipment["lines"][i]["meta"]["lastUpdatedAt"],
            None => &shipment["meta"]["lastUpdatedAt"],
        }
        .as_str()
        .unwrap_or_else(|| panic!("a lastUpdatedAt in {shipment:#}"))
        .to_owned()
    };
    assert_ne!(stamp(second, None), stamp(&first, None));
    assert_eq!(stamp(second, Some(1)), stamp(second, None));
    for unchanged in [0, 2] {
        assert_eq!(
            stamp(second, Some(unchanged)),
            stamp(&first, Some(unchanged))
        );
        assert_ne!(stamp(second, Some(unchanged)), stamp(second, None));
    }

    // The same advice again changes nothing: no event, nothing stamped.
    let (status, _) = post(
        &server,
        &supplier,
        DESPATCH_ADVICE,
        despatch_advice("DA-STAMPS-1", lines(6)),
    )
    .await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(buyer_rx.bodies().len(), 2);
    let id = second["id"].as_str().expect("a shipment id");
    let fetched = get(&server, &buyer, &format!("/shipment/{id}")).await;
    assert_eq!(stamp(&fetched, None), stamp(second, None));
    server.shutdown().await.expect("stops");
}

/// shipment/buyer/receive/README.md: a shipment's lines each name their
/// `despatchAdviceNumber`, and send-despatch-advice.md's header names "the
/// shipment related to this despatch advice" by the supplier's
/// `shipmentNumber`: a second advice of that shipment adds its lines to
/// it (`ShipmentReissuedBySupplier`, one shipment), and sending an advice
/// again ("a new or updated despatch advice") replaces its own lines only;
/// the other advice's lines keep their `lastUpdatedAt`.
#[tokio::test]
async fn despatch_advices_of_one_shipment_number_make_one_shipment() {
    let server = start(MockConfig::new().delivery_backoff(Duration::from_millis(20))).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let buyer_rx = listening(&server, &buyer, SHIPMENT_EVENTS, "shipments").await;
    let line = |position: &str, quantity: u32| {
        json!({"despatchAdviceLinePosition": position, "purchaseOrderNumber": "PO-SN-1",
               "purchaseOrderLinePosition": "0001", "despatchQuantity": quantity})
    };
    let send = |number: &'static str, lines: Value| {
        let (server, supplier) = (&server, &supplier);
        async move {
            let (status, body) = post(
                server,
                supplier,
                DESPATCH_ADVICE,
                despatch_advice(number, lines),
            )
            .await;
            assert_eq!(status, 200, "{body}");
        }
    };
    // The lines of a shipment: (advice, position, quantity, lastUpdatedAt).
    let lines = |shipment: &Value| -> Vec<(String, String, String, String)> {
        shipment["lines"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| {
                let text = |v: &Value| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (
                    text(&l["supplierLine"]["despatchAdviceNumber"]),
                    text(&l["supplierLine"]["despatchAdviceLinePosition"]),
                    text(&l["supplierLine"]["despatchQuantity"]),
                    text(&l["meta"]["lastUpdatedAt"]),
                )
            })
            .collect()
    };

    send("DA-SN-A", json!([line("1", 1), line("2", 2)])).await;
    let first = buyer_rx.wait_for_bodies(1).await[0].clone();
    assert_eq!(first["eventName"], "ShipmentIssuedBySupplier");
    let id = first["shipment"]["id"].as_str().expect("an id").to_owned();

    // A second advice of SN-1: added to the same shipment.
    send("DA-SN-B", json!([line("1", 3)])).await;
    let second = buyer_rx.wait_for_bodies(2).await[1].clone();
    assert_eq!(second["eventName"], "ShipmentReissuedBySupplier");
    assert_eq!(second["shipment"]["id"], id.as_str());
    let stamp = second["shipment"]["meta"]["lastUpdatedAt"]
        .as_str()
        .expect("a stamp")
        .to_owned();
    let a = lines(&first["shipment"]);
    let got = lines(&second["shipment"]);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(
        got[..2],
        a[..],
        "the first advice's lines are kept as they were"
    );
    assert_eq!(
        got[2],
        ("DA-SN-B".into(), "1".into(), "3".into(), stamp.clone())
    );

    // The first advice again, with one line: its own lines are replaced,
    // the second advice's line is untouched.
    send("DA-SN-A", json!([line("1", 5)])).await;
    let third = buyer_rx.wait_for_bodies(3).await[2].clone();
    assert_eq!(third["eventName"], "ShipmentReissuedBySupplier");
    assert_eq!(third["shipment"]["id"], id.as_str());
    let restamp = third["shipment"]["meta"]["lastUpdatedAt"]
        .as_str()
        .expect("a stamp")
        .to_owned();
    assert_eq!(
        lines(&third["shipment"]),
        vec![
            ("DA-SN-A".into(), "1".into(), "5".into(), restamp),
            ("DA-SN-B".into(), "1".into(), "3".into(), stamp),
        ]
    );

    // One shipment of SN-1 in the poll.
    let page = shipment_poll(&server, &buyer).await;
    let ids: Vec<&Value> = page["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["supplierShipment"]["shipmentNumber"] == "SN-1")
        .map(|s| &s["id"])
        .collect();
    assert_eq!(ids, vec![&json!(id)], "{page:#}");
    server.shutdown().await.expect("stops");
}

/// A despatch advice sent again with another `shipmentNumber` (the docs
/// do not say; the mock's choice): it moves to the shipment of that
/// number, and the shipment it left keeps the other advices' lines
/// (reissued); an advice alone in its shipment renumbers it (same id).
#[tokio::test]
async fn a_despatch_advice_sent_with_another_shipment_number_moves_to_that_shipment() {
    let server = start(MockConfig::new().delivery_backoff(Duration::from_millis(20))).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let buyer_rx = listening(&server, &buyer, SHIPMENT_EVENTS, "shipments").await;
    let send = |advice: &'static str, shipment: &'static str| {
        let (server, supplier) = (&server, &supplier);
        async move {
            let message = json!({
                "header": {"buyerAccountNumber": "340760", "despatchAdviceNumber": advice,
                           "shipment": {"shipmentNumber": shipment}},
                "lines": [{"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO-MV-1",
                           "purchaseOrderLinePosition": "0001", "despatchQuantity": 1}]
            });
            let (status, body) = post(server, supplier, DESPATCH_ADVICE, message).await;
            assert_eq!(status, 200, "{body}");
        }
    };
    // Each shipment of the poll: (shipment number, its lines' advices).
    let shipments = || async {
        let page = shipment_poll(&server, &buyer).await;
        let mut got: Vec<(String, String, Vec<String>)> = page["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| {
                s["supplierShipment"]["shipmentNumber"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("SN-MV-"))
            })
            .map(|s| {
                let advices = s["lines"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|l| l["supplierLine"]["despatchAdviceNumber"].to_string())
                    .collect();
                (
                    s["supplierShipment"]["shipmentNumber"].to_string(),
                    s["id"].to_string(),
                    advices,
                )
            })
            .collect();
        got.sort();
        got
    };
    send("DA-MV-A", "SN-MV-1").await;
    send("DA-MV-B", "SN-MV-1").await;
    let before = shipments().await;
    assert_eq!(before.len(), 1, "{before:?}");
    let first_id = before[0].1.clone();
    buyer_rx.wait_for_bodies(2).await;

    // A moves to SN-MV-2; SN-MV-1 keeps B's line, reissued.
    send("DA-MV-A", "SN-MV-2").await;
    let after = shipments().await;
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(
        (&after[0].0, &after[0].1, &after[0].2),
        (
            &"\"SN-MV-1\"".to_owned(),
            &first_id,
            &vec!["\"DA-MV-B\"".to_owned()]
        )
    );
    assert_eq!(after[1].0, "\"SN-MV-2\"");
    assert_ne!(after[1].1, first_id);
    assert_eq!(after[1].2, vec!["\"DA-MV-A\"".to_owned()]);
    let events: Vec<(String, String)> = buyer_rx.wait_for_bodies(4).await[2..]
        .iter()
        .map(|b| {
            (
                b["eventName"].as_str().unwrap_or_default().to_owned(),
                b["shipment"]["supplierShipment"]["shipmentNumber"].to_string(),
            )
        })
        .collect();
    assert!(
        events.contains(&("ShipmentIssuedBySupplier".into(), "\"SN-MV-2\"".into()))
            && events.contains(&("ShipmentReissuedBySupplier".into(), "\"SN-MV-1\"".into())),
        "{events:?}"
    );

    // B, alone in SN-MV-1 now, renumbers it: the same shipment.
    send("DA-MV-B", "SN-MV-3").await;
    let renumbered = shipments().await;
    assert_eq!(renumbered.len(), 2, "{renumbered:?}");
    assert_eq!(renumbered[1].0, "\"SN-MV-3\"");
    assert_eq!(renumbered[1].1, first_id);
    server.shutdown().await.expect("stops");
}

/// A shipment is the shipment of its despatch advices (each line names
/// its `despatchAdviceNumber`, shipment/buyer/receive/README.md); the docs
/// do not say what an advice that moves to another `shipmentNumber` leaves
/// behind (the mock's choice): the shipment it left takes the header of
/// the remaining advice sent last, not the moved advice's, and a
/// shipment left with no line is gone (shipment-events.md has no event
/// for it; none is sent).
#[tokio::test]
async fn a_shipment_an_advice_left_keeps_only_what_its_own_advices_sent() {
    let server = start(MockConfig::new().delivery_backoff(Duration::from_millis(20))).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let buyer_rx = listening(&server, &buyer, SHIPMENT_EVENTS, "shipments").await;
    let send = |advice: &'static str, shipment: &'static str, tracking: &'static str| {
        let (server, supplier) = (&server, &supplier);
        async move {
            let message = json!({
                "header": {"buyerAccountNumber": "340760", "despatchAdviceNumber": advice,
                           "shipment": {"shipmentNumber": shipment, "trackingNumber": tracking}},
                "lines": [{"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO-HD-1",
                           "purchaseOrderLinePosition": "0001", "despatchQuantity": 1}]
            });
            let (status, body) = post(server, supplier, DESPATCH_ADVICE, message).await;
            assert_eq!(status, 200, "{body}");
        }
    };
    // Each shipment of the poll: shipment number → (id, tracking number).
    let shipments = || async {
        let page = shipment_poll(&server, &buyer).await;
        let mut got: Vec<(String, String, String)> = page["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| {
                s["supplierShipment"]["shipmentNumber"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("SN-HD-"))
            })
            .map(|s| {
                let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
                (
                    text(&s["supplierShipment"]["shipmentNumber"]),
                    text(&s["id"]),
                    text(&s["identifiers"]["trackingNumber"]),
                )
            })
            .collect();
        got.sort();
        got
    };
    send("DA-HD-B", "SN-HD-1", "T-B").await;
    send("DA-HD-A", "SN-HD-1", "T-A").await;
    assert_eq!(shipments().await[0].2, "T-A", "the header last sent");

    // A leaves for SN-HD-2: SN-HD-1 keeps B's line and B's header.
    send("DA-HD-A", "SN-HD-2", "T-A").await;
    let after = shipments().await;
    let numbers: Vec<(&str, &str)> = after
        .iter()
        .map(|(n, _, t)| (n.as_str(), t.as_str()))
        .collect();
    assert_eq!(numbers, [("SN-HD-1", "T-B"), ("SN-HD-2", "T-A")]);
    let reissued = buyer_rx.wait_for_bodies(4).await;
    let left = reissued[2..]
        .iter()
        .find(|b| b["shipment"]["supplierShipment"]["shipmentNumber"] == "SN-HD-1")
        .expect("the shipment A left is reissued");
    assert_eq!(left["eventName"], "ShipmentReissuedBySupplier");
    assert_eq!(left["shipment"]["identifiers"]["trackingNumber"], "T-B");

    // C, alone in SN-HD-3, joins SN-HD-2: SN-HD-3 has no line left and is gone.
    send("DA-HD-C", "SN-HD-3", "T-C").await;
    let gone_id = shipments()
        .await
        .into_iter()
        .find(|(n, _, _)| n == "SN-HD-3")
        .map(|(_, id, _)| id)
        .expect("SN-HD-3 made");
    // Served while it has C's line (`get` asserts the `200`).
    get(&server, &buyer, &format!("/shipment/{gone_id}")).await;
    let seen = buyer_rx.wait_for_bodies(5).await.len();
    send("DA-HD-C", "SN-HD-2", "T-C").await;
    let after = shipments().await;
    let numbers: Vec<(&str, &str)> = after
        .iter()
        .map(|(n, _, t)| (n.as_str(), t.as_str()))
        .collect();
    assert_eq!(numbers, [("SN-HD-1", "T-B"), ("SN-HD-2", "T-C")]);
    let status = reqwest::Client::new()
        .get(format!("{}/shipment/{gone_id}", server.base_url()))
        .bearer_auth(token(&server, &buyer).await)
        .send()
        .await
        .expect("answered")
        .status();
    assert_eq!(status, 404, "an empty shipment is not served");
    let events = buyer_rx.wait_for_bodies(seen + 1).await;
    assert!(
        events[seen..]
            .iter()
            .all(|b| b["shipment"]["supplierShipment"]["shipmentNumber"] == "SN-HD-2"),
        "{events:?}"
    );
    server.shutdown().await.expect("stops");
}

/// api/rules.md: "500 lines in total per shipment", also when several
/// despatch advices add to one shipment: an advice that would take the
/// shipment past 500 lines is refused (`400`, saying how many fit) and
/// changes nothing; one that fills it to 500, or that replaces its own
/// lines without adding, passes.
#[tokio::test]
async fn a_shipment_takes_500_lines_across_its_despatch_advices() {
    let server = start(MockConfig::new()).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let lines = |count: usize| {
        Value::Array(
            (1..=count)
                .map(|i| {
                    json!({"despatchAdviceLinePosition": i.to_string(),
                           "purchaseOrderNumber": "PO-LIMIT-1",
                           "purchaseOrderLinePosition": "0001", "despatchQuantity": 1})
                })
                .collect(),
        )
    };
    let send = |number: &'static str, count: usize| {
        let (server, supplier) = (&server, &supplier);
        async move {
            post(
                server,
                supplier,
                DESPATCH_ADVICE,
                despatch_advice(number, lines(count)),
            )
            .await
        }
    };
    let shipment_lines = || async {
        let page = shipment_poll(&server, &buyer).await;
        let shipments: Vec<usize> = page["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["supplierShipment"]["shipmentNumber"] == "SN-1")
            .map(|s| s["lines"].as_array().map_or(0, Vec::len))
            .collect();
        assert_eq!(shipments.len(), 1, "one shipment SN-1: {shipments:?}");
        shipments[0]
    };

    let (status, body) = send("DA-LIMIT-A", 300).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = send("DA-LIMIT-B", 201).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["message"],
        "despatch advice DA-LIMIT-B: shipment SN-1 would have 501 lines (300 of its other \
         despatch advices, 201 of this one); Tradecloud allows at most 500 lines in total per \
         shipment (api/rules.md), so nothing of this despatch advice was stored: the shipment \
         has room for 200 lines of it; send fewer lines, or the others with another \
         shipmentNumber",
        "{body}"
    );
    assert_eq!(shipment_lines().await, 300, "nothing of the refused advice");

    let (status, body) = send("DA-LIMIT-B", 200).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(shipment_lines().await, 500);
    // Sent again at its size: replaces, adds nothing.
    let (status, body) = send("DA-LIMIT-A", 300).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = send("DA-LIMIT-A", 301).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(shipment_lines().await, 500);
    server.shutdown().await.expect("stops");
}

/// send-despatch-advice.md: `despatchAdviceLinePosition` is "unique within
/// the despatch advice": the spec's `x-request-rules` `uniqueBy`, which
/// the generated stub checks (`Validate`), refuses a repeat before the
/// mock's process sees it.
#[tokio::test]
async fn a_despatch_advice_with_a_line_position_twice_is_refused() {
    let server = start(MockConfig::new()).await;
    let supplier = server.supplier();
    let line = |quantity: u32| {
        json!({"despatchAdviceLinePosition": "7", "purchaseOrderNumber": "PO-X",
               "purchaseOrderLinePosition": "0001", "despatchQuantity": quantity})
    };
    let (status, body) = post(
        &server,
        &supplier,
        DESPATCH_ADVICE,
        despatch_advice("DA-TWICE-1", json!([line(1), line(2)])),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(
            r#"`lines` holds `despatchAdviceLinePosition` "7" more than once (items [0] and [1]); it must be unique within the list: give each item its own `despatchAdviceLinePosition`"#
        ),
        "{message}"
    );
    assert_eq!(body["detail"], body["message"]);
    let page = shipment_poll(&server, &server.buyer()).await;
    assert!(
        page["data"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|s| s["supplierShipment"]["shipmentNumber"] != "SN-1"),
        "nothing stored: {page:#}"
    );
    server.shutdown().await.expect("stops");
}

/// order/buyer/update.md, for both endpoints: for a `Completed` line "the
/// order update will be ignored"; a split line's `delivered` and
/// `actualDelivery` sent after the order line was completed change nothing.
#[tokio::test]
async fn a_single_delivery_update_of_a_completed_line_is_ignored() {
    let (server, _supplier_rx) = split_order("PO-SD-DONE").await;
    let completed = |mut line: Value| {
        line["indicators"] = json!({"completed": true});
        line
    };
    let (status, _) = post(
        &server,
        &server.buyer(),
        SINGLE_DELIVERY,
        single_delivery_order(
            "PO-SD-DONE",
            json!([
                completed(sd_line("0001", None, "2026-03-01", 10)),
                completed(sd_line("0002", Some("0001"), "2026-04-01", 5))
            ]),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let before = order_of(&server, "PO-SD-DONE").await;
    assert_eq!(
        line(&before, "0001")["status"]["processStatus"],
        "Completed"
    );
    let mut late = sd_line("0002", Some("0001"), "2026-04-01", 5);
    late["indicators"] = json!({"delivered": true});
    late["actualDelivery"] = json!({"date": "2026-04-02", "quantity": 5});
    let (status, _) = post(
        &server,
        &server.buyer(),
        SINGLE_DELIVERY,
        single_delivery_order("PO-SD-DONE", json!([late])),
    )
    .await;
    assert_eq!(status, 200);
    let after = order_of(&server, "PO-SD-DONE").await;
    assert_eq!(line(&after, "0001"), line(&before, "0001"));
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_split_line_s_delivered_marks_its_delivery_line_delivered() {
    let (server, supplier_rx) = split_order("PO-SD-DELIVERED").await;
    let issued = order_of(&server, "PO-SD-DELIVERED").await;
    let mut delivered = sd_line("0002", Some("0001"), "2026-04-01", 5);
    delivered["indicators"] = json!({"delivered": true});
    let (status, _) = post(
        &server,
        &server.buyer(),
        SINGLE_DELIVERY,
        single_delivery_order(
            "PO-SD-DELIVERED",
            json!([sd_line("0001", None, "2026-03-01", 10), delivered]),
        ),
    )
    .await;
    assert_eq!(status, 200);
    // receive-goods.md, single delivery: "When the primary or any related
    // split lines is delivered; the corresponding delivery line will
    // become delivered".
    let order = order_of(&server, "PO-SD-DELIVERED").await;
    let id = order["id"].as_str().expect("an id").to_owned();
    let original = line(&order, "0001");
    let status_of = |position: &str| {
        original["deliverySchedule"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|d| d["position"] == position)
            .map(|d| d["status"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(status_of("0002"), "Delivered", "{original:#}");
    assert_ne!(status_of("0001"), "Delivered");
    // The order line is not all delivered yet.
    assert_eq!(original["status"]["logisticsStatus"], "Open");
    // The message changed only a delivery line's status, and still the
    // order: stamped with its line ("the latest date time the order has
    // been changed", order/buyer/receive/README.md), one version up.
    assert_eq!(
        order["version"].as_i64(),
        issued["version"].as_i64().map(|v| v + 1)
    );
    assert_ne!(order["lastUpdatedAt"], issued["lastUpdatedAt"]);
    assert_eq!(original["lastUpdatedAt"], order["lastUpdatedAt"]);
    let view = single_delivery_view(&server, &id).await;
    assert_eq!(
        line(&view, "0002")["statusLine"]["scheduledDelivery"]["status"],
        "Delivered"
    );
    let got = supplier_rx.wait_for_bodies(2).await;
    assert_eq!(
        got[1]["eventName"],
        "OrderLinesDeliveryScheduleLogisticsUpdatedByBuyer"
    );

    // The primary delivered too: the whole line is.
    let mut primary = sd_line("0001", None, "2026-03-01", 10);
    primary["indicators"] = json!({"delivered": true});
    let (status, _) = post(
        &server,
        &server.buyer(),
        SINGLE_DELIVERY,
        single_delivery_order("PO-SD-DELIVERED", json!([primary])),
    )
    .await;
    assert_eq!(status, 200);
    let order = order_of(&server, "PO-SD-DELIVERED").await;
    assert_eq!(
        line(&order, "0001")["status"]["logisticsStatus"],
        "Delivered"
    );
    let got = supplier_rx.wait_for_bodies(3).await;
    assert_eq!(got[2]["eventName"], "OrderLinesMarkedAsDeliveredByBuyer");
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_supplier_s_documents_are_limited_to_100_as_the_buyer_s() {
    let server = start(MockConfig::new()).await;
    issue_order(&server, "PO-LIMITS-SUPPLIER").await;
    let documents = |from: usize| {
        (from..from + 60)
            .map(|i| {
                json!({"code": format!("S-{i}"), "name": "Certificate",
                       "url": format!("https://example.com/s{i}.pdf")})
            })
            .collect::<Vec<_>>()
    };
    let response = |header: Vec<Value>, line: Vec<Value>| {
        json!({
            "order": {"buyerAccountNumber": "340760",
                      "purchaseOrderNumber": "PO-LIMITS-SUPPLIER", "documents": header},
            "lines": [{"purchaseOrderLinePosition": "0001",
                       "indicators": {"accepted": true}, "documents": line}]
        })
    };
    let supplier = server.supplier();
    let path = "/api-connector/order-response";
    // send-order-response/attach-document.md: "limited to 100 documents per
    // order header and per order line".
    let (status, body) = post(&server, &supplier, path, response(documents(1), vec![])).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post(&server, &supplier, path, response(documents(61), vec![])).await;
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("order header") && message.contains("120"),
        "{message}"
    );
    let (status, _) = post(&server, &supplier, path, response(vec![], documents(1))).await;
    assert_eq!(status, 200);
    let (status, body) = post(&server, &supplier, path, response(vec![], documents(61))).await;
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("line 0001") && message.contains("120"),
        "{message}"
    );
    let order = order_of(&server, "PO-LIMITS-SUPPLIER").await;
    assert_eq!(
        order["supplierOrder"]["documents"].as_array().map(Vec::len),
        Some(60)
    );
    assert_eq!(
        line(&order, "0001")["supplierLine"]["documents"]
            .as_array()
            .map(Vec::len),
        Some(60)
    );
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn messages_that_name_what_the_mock_does_not_know_are_told() {
    let server = start(MockConfig::new()).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    issue_order(&server, "PO-KNOWN").await;
    assert_eq!(server.stats().unmatched_messages, 0);
    // Tradecloud acknowledges before it processes: each is a 200 that
    // changes nothing, and the mock says what it did not find.
    let indicators = |number: &str, position: &str| {
        json!({"order": {"purchaseOrderNumber": number},
               "lines": [{"position": position, "indicators": {"delivered": true}}]})
    };
    let path = "/api-connector/order/indicators";
    let (status, _) = post(&server, &buyer, path, indicators("PO-UNKNOWN", "0001")).await;
    assert_eq!(status, 200);
    let (status, _) = post(&server, &buyer, path, indicators("PO-KNOWN", "0009")).await;
    assert_eq!(status, 200);
    let mut other_supplier = order_message("PO-ELSEWHERE");
    other_supplier["order"]["supplierAccountNumber"] = json!("SOMEONE-ELSE");
    let (status, _) = post(&server, &buyer, "/api-connector/order", other_supplier).await;
    assert_eq!(status, 200);
    let response = json!({
        "order": {"buyerAccountNumber": "NOT-MY-BUYER", "purchaseOrderNumber": "PO-KNOWN"},
        "lines": [{"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}}]
    });
    let (status, _) = post(
        &server,
        &supplier,
        "/api-connector/order-response",
        response,
    )
    .await;
    assert_eq!(status, 200);

    let stats = server.stats();
    assert_eq!(stats.unmatched_messages, 4, "{:#?}", stats.unmatched);
    let said = |index: usize, parts: &[&str]| {
        let warning = &stats.unmatched[index];
        for part in parts {
            assert!(warning.contains(part), "{warning:?} lacks {part:?}");
        }
    };
    said(0, &["PO-UNKNOWN", "no order"]);
    said(1, &["PO-KNOWN", "no line at position 0009"]);
    said(2, &["SOMEONE-ELSE", "SUPPLIER12345"]);
    said(3, &["NOT-MY-BUYER", "no order"]);
    // Nothing changed: the known order's line is not delivered.
    let order = order_of(&server, "PO-KNOWN").await;
    assert_eq!(line(&order, "0001")["status"]["logisticsStatus"], "Open");

    // An order of the mock's data (demo or inserted) is served as it is:
    // a message finding it by its numbers is told so, not "no order".
    let fixture = json!({
        "id": "fixture-order-1",
        "buyerOrder": {"companyId": buyer.company_id, "purchaseOrderNumber": "PO-FIXTURE",
                       "supplierAccountNumber": "SUPPLIER12345"},
        "lines": [{"buyerLine": {"position": "0001"}}]
    });
    server
        .insert_order(serde_json::from_value(fixture).expect("an order"))
        .expect("inserted");
    let (status, _) = post(&server, &buyer, path, indicators("PO-FIXTURE", "0001")).await;
    assert_eq!(status, 200);
    let stats = server.stats();
    assert_eq!(stats.unmatched_messages, 5, "{:#?}", stats.unmatched);
    let warning = &stats.unmatched[4];
    for part in [
        "PO-FIXTURE",
        "demo or fixture data",
        "issue an order as the buyer",
    ] {
        assert!(warning.contains(part), "{warning:?} lacks {part:?}");
    }
    server.shutdown().await.expect("stops");
}
