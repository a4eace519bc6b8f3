//! The mock delivers each company's webhooks like Tradecloud (issue 22
//! items 3 and 5): two plain HTTP receivers on 127.0.0.1, configured
//! through Tradecloud's settings endpoints, get the documented events of
//! the buyer's and the supplier's actions, with bodies that parse with the
//! generated types; answers above 500 are retried, 4xx and 500 are not;
//! events of one order arrive in order; the delivery log lists every
//! attempt; a webhook fault makes a target fail as the mock sees it.

#![cfg(feature = "mock")]

use std::time::Duration;

use axum::http::Method;
use serde::de::DeserializeOwned;
use tradecloud::api::api_connector::types as connector;
use tradecloud::api::order::types::ApproveRequestsAsBuyer;
use tradecloud::api::order_webhook_connector::types::OrderWebhookBody;
use tradecloud::api::shipment_webhook_connector::types::ShipmentWebhookBody;
use tradecloud::client::DownloadOutcome;
use tradecloud::mock::{DeliveryRecord, MockConfig, MockParty, MockServer, WebhookFault};

use crate::client_support as support;
use crate::mock_support::{client_of, token, Received, Receiver};
use support::start;

impl Received {
    /// The body as `T`, after the receiver's own check of a webhook
    /// (`tradecloud::webhook::decode`: the event name, the payload and
    /// its id), so a body a receiver would quarantine fails the test.
    fn decode<T: DeserializeOwned>(&self) -> T {
        let endpoint = if self.uri.path().contains("shipment") {
            tradecloud::webhook::Endpoint::Shipment
        } else {
            tradecloud::webhook::Endpoint::Order
        };
        if let Err(e) = tradecloud::webhook::decode(endpoint, "application/json", &self.body) {
            panic!(
                "a receiver refuses this {endpoint:?} webhook: {e}\n{}",
                String::from_utf8_lossy(&self.body)
            );
        }
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("decodes: {e}"))
    }

    /// An order event's name and the positions of its lines.
    fn order_event(&self) -> (String, Vec<String>) {
        let body: OrderWebhookBody = self.decode();
        (body.event_name.to_string(), positions(&body))
    }
}

fn decode<T: DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("decodes: {e}"))
}

/// `PUT` settings to one of Tradecloud's settings endpoints.
async fn put_settings(
    server: &MockServer,
    party: &MockParty,
    path: &str,
    settings: serde_json::Value,
) -> reqwest::StatusCode {
    let url = format!(
        "{}/{}",
        server.base_url(),
        path.replace("{companyId}", &party.company_id)
    );
    reqwest::Client::new()
        .put(url)
        .bearer_auth(token(server, party).await)
        .json(&settings)
        .send()
        .await
        .expect("settings sent")
        .status()
}

const ORDER_EVENTS: &str = "order-webhook-connector/company/{companyId}/settings/orderEvents";
const ORDER_DOCUMENTS_EVENTS: &str =
    "order-webhook-connector/company/{companyId}/settings/orderDocumentsEvents";
const SHIPMENT_EVENTS: &str = "shipment-webhook-connector/company/{companyId}/settings";

/// A receiver registered as `party`'s order-events webhook.
async fn order_webhook(server: &MockServer, party: &MockParty) -> Receiver {
    let receiver = Receiver::start().await;
    let url = serde_json::json!({"webhookUrl": receiver.url});
    assert_eq!(put_settings(server, party, ORDER_EVENTS, url).await, 200);
    receiver
}

fn order_message(supplier_account_number: &str, number: &str) -> connector::SendOrderByBuyer {
    decode(serde_json::json!({
        "order": {"supplierAccountNumber": supplier_account_number,
                  "purchaseOrderNumber": number},
        "lines": [
            {"position": "0001", "item": {"number": "A-1", "name": "Bolt"},
             "deliverySchedule": [{"position": "1", "date": "2026-03-01", "quantity": 10}],
             "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 5, "currencyIso": "EUR"}},
                        "priceUnitQuantity": 1}},
            {"position": "0002", "item": {"number": "B-2", "name": "Nut"},
             "deliverySchedule": [{"position": "1", "date": "2026-03-08", "quantity": 4}],
             "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 7, "currencyIso": "EUR"}},
                        "priceUnitQuantity": 1}}
        ]
    }))
}

fn positions(body: &OrderWebhookBody) -> Vec<String> {
    body.order_event
        .as_ref()
        .map(|e| {
            e.lines
                .iter()
                .filter_map(|l| l.buyer_line.as_ref().and_then(|b| b.position.clone()))
                .collect()
        })
        .unwrap_or_default()
}

async fn deliveries_until(
    server: &MockServer,
    done: impl Fn(&[DeliveryRecord]) -> bool,
) -> Vec<DeliveryRecord> {
    for _ in 0..200 {
        let log = server.deliveries();
        if done(&log) {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the delivery log never got there: {:#?}",
        server.deliveries()
    );
}

#[tokio::test]
async fn both_companies_receive_the_documented_events() {
    let server = start(MockConfig::new().delivery_backoff(Duration::from_millis(20))).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let buyer_rx = Receiver::start().await;
    let supplier_rx = Receiver::start().await;
    assert_eq!(
        put_settings(
            &server,
            &supplier,
            ORDER_EVENTS,
            serde_json::json!({
                "method": "POST",
                "webhookUrl": format!("{}/orders", supplier_rx.url),
                "basicAuthCredentials": {"username": "supplier-erp", "password": "s3cret"},
                "format": "JSON",
                "singleDeliveryPerOrderLine": false,
                "enabledEventNames": ["OrderIssuedByBuyer", "OrderLinesIssuedByBuyer",
                                      "OrderChangesProposalApprovedByBuyer"]
            })
        )
        .await,
        200
    );
    assert_eq!(
        put_settings(
            &server,
            &buyer,
            ORDER_EVENTS,
            serde_json::json!({
                "method": "POST",
                "webhookUrl": format!("{}/orders", buyer_rx.url),
                "bearerToken": "buyer-token",
                "format": "JSON"
            })
        )
        .await,
        200
    );
    assert_eq!(
        put_settings(
            &server,
            &buyer,
            SHIPMENT_EVENTS,
            serde_json::json!({
                "method": "POST",
                "webhookUrl": format!("{}/shipments", buyer_rx.url),
                "enabledEventNames": ["ShipmentIssuedBySupplier", "ShipmentReissuedBySupplier"]
            })
        )
        .await,
        200
    );
    let buyer_client = client_of(&server, &buyer);
    let supplier_client = client_of(&server, &supplier);

    // The buyer issues an order: the supplier's receiver gets it.
    buyer_client
        .orders()
        .send(&order_message(&buyer.partner_account_number, "PO-HOOK-1"))
        .await
        .expect("sent");
    let got = supplier_rx.wait_for(1).await;
    assert_eq!(got[0].method, Method::POST);
    assert_eq!(got[0].uri.path(), "/orders");
    assert!(got[0]
        .authorization
        .as_deref()
        .is_some_and(|a| a.starts_with("Basic ")));
    let issued: OrderWebhookBody = got[0].decode();
    assert_eq!(issued.event_name.to_string(), "OrderIssuedByBuyer");
    assert_eq!(positions(&issued), vec!["0001", "0002"]);
    assert!(issued
        .meta
        .as_ref()
        .and_then(|m| m.message_id.as_ref())
        .is_some());
    // `meta.source` names who triggered it (order/buyer/receive/README.md,
    // "Message meta information": traceId, userId, companyId).
    let source = &got[0].json()["meta"]["source"];
    assert!(source["traceId"].is_string(), "{source}");
    assert_eq!(source["companyId"], buyer.company_id.as_str(), "{source}");
    assert_eq!(source["userId"], buyer.user_id().as_str(), "{source}");
    assert_ne!(buyer.user_id(), supplier.user_id());
    // An event names the order `orderId` (a fetched order `id`): the
    // receiver refuses an order event without it.
    assert!(got[0].json()["orderEvent"].get("id").is_none());
    let order_id = issued
        .order_event
        .as_ref()
        .and_then(|e| e.order_id.clone())
        .expect("the event has the order id");
    // The buyer's own receiver did not get its own action (not enabled
    // explicitly).
    assert!(buyer_rx.received().is_empty());

    // The supplier accepts 0001 and proposes another date for 0002.
    let response: connector::SendOrderResponseBySupplier = decode(serde_json::json!({
        "order": {"buyerAccountNumber": supplier.partner_account_number,
                  "purchaseOrderNumber": "PO-HOOK-1"},
        "lines": [
            {"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}},
            {"purchaseOrderLinePosition": "0002", "reason": "capacity",
             "deliverySchedule": [{"position": "1", "date": "2026-03-22", "quantity": 4}],
             "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 7, "currencyIso": "EUR"}}}}
        ]
    }));
    supplier_client
        .orders()
        .respond(&response)
        .await
        .expect("responded");
    let got = buyer_rx.wait_for(2).await;
    let events: Vec<(String, Vec<String>)> = got.iter().map(Received::order_event).collect();
    assert_eq!(
        events,
        vec![
            (
                "OrderLinesAcceptedBySupplier".to_string(),
                vec!["0001".to_string()]
            ),
            (
                "OrderChangesProposedBySupplier".to_string(),
                vec!["0002".to_string()]
            ),
        ]
    );
    assert_eq!(got[0].authorization.as_deref(), Some("Bearer buyer-token"));
    // The supplier triggered these.
    assert_eq!(
        got[0].json()["meta"]["source"]["companyId"],
        supplier.company_id.as_str()
    );
    assert_eq!(
        got[0].json()["meta"]["source"]["userId"],
        supplier.user_id().as_str()
    );
    // One request, one flow: both events of the response share its
    // traceId ("All related messages in a flow will have the same
    // traceId", order/buyer/receive/README.md); the order's flow differs.
    let trace = |r: &Received| r.json()["meta"]["source"]["traceId"].clone();
    assert!(trace(&got[0]).is_string());
    assert_eq!(trace(&got[0]), trace(&got[1]));
    assert_ne!(trace(&got[0]), source["traceId"]);

    // The buyer approves: the supplier hears of it.
    buyer_client
        .orders()
        .approve_requests(
            &order_id,
            &ApproveRequestsAsBuyer {
                line_positions: vec!["0002".into()],
                ..Default::default()
            },
        )
        .await
        .expect("approved");
    let got = supplier_rx.wait_for(2).await;
    assert_eq!(got[1].event_name(), "OrderChangesProposalApprovedByBuyer");

    // The supplier sends a despatch advice: the buyer's shipment webhook.
    let advice: connector::SendDespatchAdviceBySupplier = decode(serde_json::json!({
        "header": {"buyerAccountNumber": supplier.partner_account_number,
                   "despatchAdviceNumber": "DA-HOOK-1",
                   "shipment": {"shipmentNumber": "SHIP-1", "transportMode": "3"}},
        "lines": [{"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO-HOOK-1",
                   "purchaseOrderLinePosition": "0001", "despatchQuantity": 10}]
    }));
    supplier_client
        .shipments()
        .send_despatch_advice(&advice)
        .await
        .expect("despatch advice sent");
    // It ships the whole delivery line: the order's webhook hears that
    // the delivery line is ready to ship (the two webhooks deliver
    // independently, in either order).
    let got = buyer_rx.wait_for(4).await;
    let (shipments, orders): (Vec<_>, Vec<_>) =
        got[2..].iter().partition(|r| r.uri.path() == "/shipments");
    let shipment: ShipmentWebhookBody = shipments[0].decode();
    assert_eq!(shipment.event_name.to_string(), "ShipmentIssuedBySupplier");
    assert_eq!(shipment.shipment.lines.len(), 1);
    assert_eq!(
        shipments[0].json()["meta"]["source"]["userId"],
        supplier.user_id().as_str()
    );
    assert_eq!(
        orders[0].event_name(),
        "OrderLinesDeliveryScheduleLogisticsUpdatedBySupplier"
    );
    // The despatch advice's two events, on two webhooks, are one flow.
    assert_eq!(trace(shipments[0]), trace(orders[0]));
    assert_ne!(trace(shipments[0]), trace(&got[0]));

    // The delivery log: every attempt delivered with 200, and the
    // endpoint shows the same.
    let log = deliveries_until(&server, |log| log.len() >= 6).await;
    assert_eq!(log.len(), 6, "{log:#?}");
    assert!(log
        .iter()
        .all(|d| d.status == Some(200) && d.outcome == "delivered" && d.attempt == 1));
    let listed: Vec<DeliveryRecord> =
        reqwest::get(format!("http://{}/mock/deliveries", server.local_addr()))
            .await
            .expect("the delivery log")
            .json()
            .await
            .expect("JSON");
    assert_eq!(listed.len(), 6);
    server.shutdown().await.expect("stops");
}

/// The buyer cancels and completes a line each and reverts both, the
/// supplier sets a delivery line's logistics, the buyer resends the
/// order: each moves the order as documented and sends its event to
/// the party that hears of it (issue 22 item 2: the order actions
/// beyond the answers to requests).
#[tokio::test]
async fn reverts_logistics_and_a_resend_move_the_order_and_send_their_events() {
    use tradecloud::api::order::types::{
        DeliveryScheduleLogistics, OrderLinePositions, ResendOrder, RevertOrderLines,
        UpdateOrderLineDeliverySchedule,
    };
    let server = start(MockConfig::new().delivery_backoff(Duration::from_millis(20))).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let buyer_rx = Receiver::start().await;
    let supplier_rx = Receiver::start().await;
    let hook = |rx: &Receiver, names: serde_json::Value| {
        let mut settings = serde_json::json!({
            "method": "POST",
            "webhookUrl": format!("{}/orders", rx.url),
            "format": "JSON"
        });
        if !names.is_null() {
            settings["enabledEventNames"] = names;
        }
        settings
    };
    assert_eq!(
        put_settings(
            &server,
            &supplier,
            ORDER_EVENTS,
            hook(&supplier_rx, serde_json::Value::Null)
        )
        .await,
        200
    );
    assert_eq!(
        put_settings(
            &server,
            &buyer,
            ORDER_EVENTS,
            hook(
                &buyer_rx,
                serde_json::json!([
                    "OrderResentByBuyer",
                    "OrderLinesDeliveryScheduleLogisticsUpdatedBySupplier"
                ])
            )
        )
        .await,
        200
    );
    let buyer_client = client_of(&server, &buyer);
    let supplier_client = client_of(&server, &supplier);
    buyer_client
        .orders()
        .send(&order_message(&buyer.partner_account_number, "PO-REVERT-1"))
        .await
        .expect("sent");
    let issued: OrderWebhookBody = supplier_rx.wait_for(1).await[0].decode();
    let order_id = issued
        .order_event
        .as_ref()
        .and_then(|e| e.order_id.clone())
        .expect("the event has the order id");

    // 0001 cancelled through the api-connector, 0002 completed on the
    // order service.
    let cancel: connector::SendOrderIndicatorsByBuyer = decode(serde_json::json!({
        "order": {"supplierAccountNumber": buyer.partner_account_number,
                  "purchaseOrderNumber": "PO-REVERT-1"},
        "lines": [{"position": "0001", "indicators": {"cancelled": true}}]
    }));
    buyer_client
        .orders()
        .send_indicators(&cancel)
        .await
        .expect("cancelled");
    let complete = OrderLinePositions {
        line_positions: vec!["0002".into()],
        ..Default::default()
    };
    buyer_client
        .orders()
        .complete_lines(&order_id, &complete)
        .await
        .expect("completed");
    supplier_rx.wait_for(3).await;

    // Reverting names both lines; only the one in that status moves.
    let both = RevertOrderLines {
        line_positions: vec!["0001".into(), "0002".into()],
        reason: Some("entered by mistake".into()),
        ..Default::default()
    };
    buyer_client
        .orders()
        .revert_cancelled_lines(&order_id, &both)
        .await
        .expect("reverted");
    buyer_client
        .orders()
        .revert_completed_lines(&order_id, &both)
        .await
        .expect("reverted");
    // Nothing left to revert: refused (400, specs/order.yaml), no event.
    let refused = buyer_client
        .orders()
        .revert_cancelled_lines(&order_id, &both)
        .await;
    assert!(
        matches!(
            refused,
            Err(tradecloud::client::ClientError::Rejected { status: 400, .. })
        ),
        "{refused:?}"
    );
    let got = supplier_rx.wait_for(5).await;
    let events: Vec<(String, Vec<String>)> = got.iter().map(Received::order_event).collect();
    let event = |name: &str, position: &str| (name.to_string(), vec![position.to_string()]);
    assert_eq!(
        events[1..],
        [
            event("OrderLinesCancelledByBuyer", "0001"),
            event("OrderLinesCompletedByBuyer", "0002"),
            event("CancelledOrderLinesRevertedByBuyer", "0001"),
            event("CompletedOrderLinesRevertedByBuyer", "0002"),
        ]
    );
    let order = buyer_client
        .orders()
        .get(&order_id)
        .await
        .expect("the order");
    let status = |position: &str| {
        let line = order
            .lines
            .iter()
            .find(|l| l.position() == position)
            .expect("the line");
        let status = line.status.clone().unwrap_or_default();
        (
            status.process_status.map(|s| s.to_string()),
            status.in_progress_status.map(|s| s.to_string()),
            status.logistics_status.map(|s| s.to_string()),
        )
    };
    let some = |s: &str| Some(s.to_string());
    assert_eq!(
        status("0001"),
        (
            some("InProgress"),
            some("RevertedCancelledLine"),
            some("Open")
        )
    );
    assert_eq!(
        status("0002"),
        (
            some("InProgress"),
            some("RevertedCompletedLine"),
            some("Open")
        )
    );
    assert_eq!(
        order.process_status().map(|s| s.to_string()),
        some("InProgress")
    );

    // A reverted line is answered as any line in progress.
    let accept: connector::SendOrderResponseBySupplier = decode(serde_json::json!({
        "order": {"buyerAccountNumber": supplier.partner_account_number,
                  "purchaseOrderNumber": "PO-REVERT-1"},
        "lines": [{"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}}]
    }));
    supplier_client
        .orders()
        .respond(&accept)
        .await
        .expect("responded");

    // The supplier's logistics of delivery line 1 of 0001 reach the buyer.
    let logistics = UpdateOrderLineDeliverySchedule {
        delivery_schedule: vec![DeliveryScheduleLogistics {
            position: "1".into(),
            status: Some("Produced".parse().expect("a status")),
            etd: Some("2026-02-25".parse().expect("a date")),
            ..Default::default()
        }],
        ..Default::default()
    };
    supplier_client
        .orders()
        .update_delivery_schedule(&order_id, "0001", &logistics)
        .await
        .expect("logistics updated");
    let got = buyer_rx.wait_for(1).await;
    assert_eq!(
        got[0].event_name(),
        "OrderLinesDeliveryScheduleLogisticsUpdatedBySupplier"
    );
    let updated: OrderWebhookBody = got[0].decode();
    assert_eq!(positions(&updated), vec!["0001"]);
    let delivery = &got[0].json()["orderEvent"]["lines"][0]["deliverySchedule"][0];
    assert_eq!(delivery["status"], "Produced");
    assert_eq!(delivery["etd"], "2026-02-25");
    assert_eq!(delivery["date"], "2026-03-01", "the date stays");
    let order = buyer_client
        .orders()
        .get(&order_id)
        .await
        .expect("the order");
    let version = order.version;
    let line = order
        .lines
        .iter()
        .find(|l| l.position() == "0001")
        .expect("0001");
    assert_eq!(
        line.process_status().map(|s| s.to_string()),
        some("Confirmed"),
        "the supplier accepted the reverted line"
    );
    assert_eq!(
        line.delivery_schedule[0]
            .status
            .as_ref()
            .map(|s| s.to_string()),
        some("Produced")
    );

    // The buyer resends: its own webhook gets the order, with all its
    // lines; the order does not change.
    buyer_client
        .orders()
        .resend(&order_id, &ResendOrder::default())
        .await
        .expect("resent");
    let got = buyer_rx.wait_for(2).await;
    assert_eq!(got[1].event_name(), "OrderResentByBuyer");
    assert_eq!(positions(&got[1].decode()), vec!["0001", "0002"]);
    let order = buyer_client
        .orders()
        .get(&order_id)
        .await
        .expect("the order");
    assert_eq!(order.version, version, "a resend changes nothing");

    // Seven deliveries in all: the supplier heard of no resend, of no
    // revert that changed nothing, and of its own actions.
    deliveries_until(&server, |log| log.len() >= 7).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.deliveries().len(), 7, "{:#?}", server.deliveries());
    assert_eq!(supplier_rx.received().len(), 5);
    assert_eq!(buyer_rx.received().len(), 2);
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn retries_only_above_500_and_keeps_each_order_in_order() {
    let server = start(MockConfig::new().delivery_backoff(Duration::from_millis(30))).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let supplier_rx = order_webhook(&server, &supplier).await;
    let buyer_client = client_of(&server, &buyer);

    // 503 then 200: retried; the update of the same order waits for it.
    supplier_rx.answer(&[503]);
    buyer_client
        .orders()
        .send(&order_message(&buyer.partner_account_number, "PO-RETRY"))
        .await
        .expect("sent");
    let mut update = order_message(&buyer.partner_account_number, "PO-RETRY");
    let lines = update.lines.as_mut().expect("lines");
    let mut third = lines[1].clone();
    third.position = "0003".into();
    lines.push(third);
    buyer_client.orders().send(&update).await.expect("sent");
    let got = supplier_rx.wait_for(3).await;
    let names: Vec<String> = got.iter().map(Received::event_name).collect();
    assert_eq!(
        names,
        vec![
            "OrderIssuedByBuyer",
            "OrderIssuedByBuyer",
            "OrderLinesIssuedByBuyer"
        ]
    );
    assert_eq!(
        got[0].json()["meta"]["messageId"],
        got[1].json()["meta"]["messageId"],
        "a retry is the same message"
    );
    let log = deliveries_until(&server, |log| log.len() >= 3).await;
    let attempts: Vec<(u32, Option<u16>, &str)> = log
        .iter()
        .map(|d| (d.attempt, d.status, d.outcome.as_str()))
        .collect();
    assert_eq!(
        attempts,
        vec![
            (1, Some(503), "retrying"),
            (2, Some(200), "delivered"),
            (1, Some(200), "delivered")
        ]
    );

    // 400 and 500: not retried.
    supplier_rx.answer(&[400, 500]);
    for number in ["PO-400", "PO-500"] {
        buyer_client
            .orders()
            .send(&order_message(&buyer.partner_account_number, number))
            .await
            .expect("sent");
    }
    let log = deliveries_until(&server, |log| log.len() >= 5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(supplier_rx.received().len(), 5, "no retry of 400 or 500");
    let refused: Vec<Option<u16>> = log[3..]
        .iter()
        .filter(|d| d.outcome == "refused")
        .map(|d| d.status)
        .collect();
    assert_eq!(refused.len(), 2, "{log:#?}");
    assert!(refused.contains(&Some(400)) && refused.contains(&Some(500)));
    assert!(log.iter().all(|d| d.latency_ms >= 0.0));
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_webhook_fault_makes_the_target_fail_as_the_mock_sees_it() {
    let fault = WebhookFault::parse("supplier:503:2").expect("a fault");
    let server = start(
        MockConfig::new()
            .delivery_backoff(Duration::from_millis(20))
            .webhook_fault(fault),
    )
    .await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let supplier_rx = order_webhook(&server, &supplier).await;
    client_of(&server, &buyer)
        .orders()
        .send(&order_message(&buyer.partner_account_number, "PO-FAULT"))
        .await
        .expect("sent");
    let got = supplier_rx.wait_for(1).await;
    assert_eq!(got.len(), 1, "the faked attempts send nothing");
    let log = deliveries_until(&server, |log| log.len() >= 3).await;
    let attempts: Vec<(u32, Option<u16>, bool)> =
        log.iter().map(|d| (d.attempt, d.status, d.fault)).collect();
    assert_eq!(
        attempts,
        vec![
            (1, Some(503), true),
            (2, Some(503), true),
            (3, Some(200), false)
        ]
    );
    server.shutdown().await.expect("stops");
}

/// "Tradecloud will indefinitely retry the request with exponential
/// back-off for other server error codes (>500)" (api/webhook-vs-polling.md):
/// a target that answers 503 twelve times gets the event at the 13th
/// attempt. The mock gave up after 9 attempts (about three minutes with the
/// default backoff), so a receiver down for longer lost the event here.
#[tokio::test]
async fn an_event_is_retried_until_the_target_takes_it() {
    let server = start(MockConfig::new().delivery_backoff(Duration::from_millis(1))).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let supplier_rx = order_webhook(&server, &supplier).await;
    supplier_rx.answer(&[503; 12]);
    client_of(&server, &buyer)
        .orders()
        .send(&order_message(&buyer.partner_account_number, "PO-RETRIED"))
        .await
        .expect("sent");
    let got = supplier_rx.wait_for(13).await;
    assert_eq!(got.len(), 13);
    assert!(got.iter().all(|r| r.event_name() == "OrderIssuedByBuyer"));
    let log = deliveries_until(&server, |log| log.len() >= 13).await;
    let outcomes: Vec<&str> = log.iter().map(|d| d.outcome.as_str()).collect();
    assert_eq!(outcomes[..12], ["retrying"; 12], "{log:#?}");
    assert_eq!(outcomes[12], "delivered", "{log:#?}");
    server.shutdown().await.expect("stops");
}

/// Retried until delivered, but not after the mock is shut down: an event
/// whose target never takes it stops being sent then.
#[tokio::test]
async fn a_shut_down_mock_stops_retrying() {
    let server = start(MockConfig::new().delivery_backoff(Duration::from_millis(1))).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let supplier_rx = order_webhook(&server, &supplier).await;
    supplier_rx.answer(&[503; 1000]);
    client_of(&server, &buyer)
        .orders()
        .send(&order_message(&buyer.partner_account_number, "PO-STUCK"))
        .await
        .expect("sent");
    supplier_rx.wait_for(3).await;
    server.shutdown().await.expect("stops");
    let after_shutdown = supplier_rx.count();
    // Longer than the longest delay between attempts (1 s here).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        supplier_rx.count() <= after_shutdown + 1,
        "{} attempts after the shutdown",
        supplier_rx.count() - after_shutdown
    );
}

#[tokio::test]
async fn attached_documents_reach_the_supplier_s_documents_webhook() {
    let server = start(MockConfig::new()).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let supplier_rx = Receiver::start().await;
    assert_eq!(
        put_settings(
            &server,
            &supplier,
            "order-webhook-connector/company/{companyId}/settings/orderDocumentsEvents",
            serde_json::json!({"webhookUrl": format!("{}/documents", supplier_rx.url),
                                   "enabledEventNames": ["OrderDocumentsAttachedByBuyer"]})
        )
        .await,
        200
    );
    let buyer_client = client_of(&server, &buyer);
    buyer_client
        .orders()
        .send(&order_message(&buyer.partner_account_number, "PO-DOCS"))
        .await
        .expect("sent");
    let documents: connector::AttachOrderDocumentsByBuyer = decode(serde_json::json!({
        "order": {"purchaseOrderNumber": "PO-DOCS",
                  "documents": [{"code": "SPEC-1", "name": "Specification",
                                 "url": "https://example.com/spec.pdf", "type": "General"}]},
        "lines": [{"position": "0002",
                   "documents": [{"code": "DRAWING-2", "name": "Drawing",
                                  "url": "https://example.com/d2.pdf", "type": "Drawing"}]}]
    }));
    buyer_client
        .orders()
        .attach_documents(&documents)
        .await
        .expect("attached");
    let got = supplier_rx.wait_for(1).await;
    assert_eq!(got[0].uri.path(), "/documents");
    let body: OrderWebhookBody = got[0].decode();
    assert_eq!(body.event_name.to_string(), "OrderDocumentsAttachedByBuyer");
    let event = body.order_documents_event.expect("orderDocumentsEvent");
    assert!(event.order_id.is_some());
    assert_eq!(event.lines.len(), 1);
    assert_eq!(
        got[0].json()["orderDocumentsEvent"]["buyerOrder"]["documents"][0]["code"],
        "SPEC-1"
    );
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_supplier_s_uploaded_document_reaches_the_buyer() {
    let server = start(MockConfig::new()).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let buyer_rx = Receiver::start().await;
    for (path, target) in [
        (ORDER_DOCUMENTS_EVENTS, "documents"),
        (ORDER_EVENTS, "orders"),
    ] {
        assert_eq!(
            put_settings(
                &server,
                &buyer,
                path,
                serde_json::json!({"webhookUrl": format!("{}/{target}", buyer_rx.url)})
            )
            .await,
            200
        );
    }
    let buyer_client = client_of(&server, &buyer);
    let supplier_client = client_of(&server, &supplier);
    buyer_client
        .orders()
        .send(&order_message(&buyer.partner_account_number, "PO-PDF"))
        .await
        .expect("sent");

    // The supplier uploads a PDF and answers with it attached to the
    // order, and a certificate on its content server on line 0001.
    let dir = tempfile::tempdir().expect("a directory");
    let pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec();
    let path = dir.path().join("confirmation.pdf");
    std::fs::write(&path, &pdf).expect("written");
    let uploaded = supplier_client
        .documents()
        .upload(&path)
        .await
        .expect("uploaded");
    let respond = |name: &str| -> connector::SendOrderResponseBySupplier {
        decode(serde_json::json!({
            "order": {"buyerAccountNumber": supplier.partner_account_number,
                      "purchaseOrderNumber": "PO-PDF",
                      "documents": [{"code": "OC-PDF", "objectId": uploaded.object_id,
                                     "name": name, "type": "OrderConfirmation"}]},
            "lines": [{"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true},
                       "documents": [{"code": "CERT-1", "revision": "A", "name": "Certificate",
                                      "url": "https://example.com/cert.pdf"}]}]
        }))
    };
    supplier_client
        .orders()
        .respond(&respond("confirmation.pdf"))
        .await
        .expect("responded");

    // The buyer gets the order event, which carries the documents; a
    // response's documents create no OrderDocumentsAttachedBySupplier
    // (order/supplier/send-order-response/attach-document.md).
    let got = buyer_rx.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got_all = buyer_rx.received();
    assert_eq!(got_all.len(), 1, "{got_all:?}");
    assert_eq!(got[0].uri.path(), "/orders");
    assert_eq!(got[0].event_name(), "OrderLinesAcceptedBySupplier");
    let body: OrderWebhookBody = got[0].decode();
    let event = body.order_event.expect("orderEvent");
    let order_id = event.order_id.clone().expect("orderId");
    let attached = &event
        .supplier_order
        .as_ref()
        .expect("supplierOrder")
        .documents;
    assert_eq!(attached.len(), 1);
    assert_eq!(
        attached[0].object_id.as_deref(),
        Some(uploaded.object_id.as_str())
    );
    assert_eq!(event.lines.len(), 1);
    let line = &event.lines[0];
    assert_eq!(
        line.buyer_line.as_ref().and_then(|b| b.position.as_deref()),
        Some("0001")
    );
    assert_eq!(
        line.supplier_line.as_ref().expect("supplierLine").documents[0]
            .code
            .as_deref(),
        Some("CERT-1")
    );

    // GET order shows them in the supplier's part, stamped as the event.
    let order = buyer_client.orders().get(&order_id).await.expect("GET");
    assert_eq!(order.last_updated_at, event.last_updated_at);
    let stored = &order
        .supplier_order
        .as_ref()
        .expect("supplierOrder")
        .documents;
    assert_eq!(stored, attached);
    let stored_line = order
        .lines
        .iter()
        .find(|l| l.buyer_line.as_ref().and_then(|b| b.position.as_deref()) == Some("0001"))
        .and_then(|l| l.supplier_line.as_ref())
        .expect("line 0001's supplierLine");
    assert_eq!(
        stored_line.documents[0].url.as_deref(),
        Some("https://example.com/cert.pdf")
    );

    // The buyer downloads the supplier's upload with its own credentials.
    let downloads = tempfile::tempdir().expect("a directory");
    let DownloadOutcome::Downloaded(back) = buyer_client
        .documents()
        .download(&stored[0], downloads.path())
        .await
        .expect("downloaded")
    else {
        panic!("a file")
    };
    assert_eq!(std::fs::read(&back.path).expect("read"), pdf);

    // Answering again with the same code replaces the document.
    supplier_client
        .orders()
        .respond(&respond("confirmation-2.pdf"))
        .await
        .expect("responded");
    let order = buyer_client.orders().get(&order_id).await.expect("GET");
    let stored = &order
        .supplier_order
        .as_ref()
        .expect("supplierOrder")
        .documents;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].name.as_deref(), Some("confirmation-2.pdf"));
    server.shutdown().await.expect("stops");
}

/// A request's W3C `traceparent` names the flow: the events it causes
/// carry its trace id as `meta.source.traceId`.
#[tokio::test]
async fn the_events_of_a_request_carry_the_trace_id_of_its_traceparent() {
    let server = start(MockConfig::new()).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let supplier_rx = order_webhook(&server, &supplier).await;
    let status = reqwest::Client::new()
        .post(format!("{}/api-connector/order", server.base_url()))
        .bearer_auth(token(&server, &buyer).await)
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .json(&order_message(&buyer.partner_account_number, "PO-TRACE"))
        .send()
        .await
        .expect("sent")
        .status();
    assert_eq!(status, 200);
    let got = supplier_rx.wait_for(1).await;
    assert_eq!(
        got[0].json()["meta"]["source"]["traceId"],
        "4bf92f35-77b3-4da6-a3ce-929d0e0e4736"
    );
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn txml_and_get_targets() {
    let server = start(MockConfig::new()).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let buyer_rx = Receiver::start().await;
    let supplier_rx = Receiver::start().await;
    assert_eq!(
        put_settings(
            &server,
            &supplier,
            ORDER_EVENTS,
            serde_json::json!({"webhookUrl": supplier_rx.url, "format": "tXML"})
        )
        .await,
        200
    );
    // tXML is offered for the order webhook only (api/json-vs-xml.md).
    assert_eq!(
        put_settings(
            &server,
            &supplier,
            SHIPMENT_EVENTS,
            serde_json::json!({"webhookUrl": supplier_rx.url, "format": "tXML"})
        )
        .await,
        400
    );
    assert_eq!(
        put_settings(
            &server,
            &buyer,
            ORDER_EVENTS,
            serde_json::json!({"method": "GET",
                                   "webhookUrl": format!("{}/orders/{{orderId}}", buyer_rx.url)})
        )
        .await,
        200
    );
    let buyer_client = client_of(&server, &buyer);
    buyer_client
        .orders()
        .send(&order_message(&buyer.partner_account_number, "PO-TXML"))
        .await
        .expect("sent");
    let got = supplier_rx.wait_for(1).await;
    let body: OrderWebhookBody = tradecloud::webhook::txml::from_slice_with(
        &got[0].body,
        &tradecloud::api::order_webhook_connector::types::txml_shapes::OrderWebhookBody,
    )
    .unwrap_or_else(|e| panic!("a tXML body: {e}"));
    assert_eq!(body.event_name.to_string(), "OrderIssuedByBuyer");
    assert_eq!(positions(&body), vec!["0001", "0002"]);

    let response: connector::SendOrderResponseBySupplier = decode(serde_json::json!({
        "order": {"buyerAccountNumber": supplier.partner_account_number,
                  "purchaseOrderNumber": "PO-TXML", "indicators": {"accepted": true}},
        "lines": [{"purchaseOrderLinePosition": "0001"}, {"purchaseOrderLinePosition": "0002"}]
    }));
    client_of(&server, &supplier)
        .orders()
        .respond(&response)
        .await
        .expect("responded");
    let got = buyer_rx.wait_for(1).await;
    assert_eq!(got[0].method, Method::GET);
    assert!(got[0].body.is_empty());
    let log = deliveries_until(&server, |log| log.len() >= 2).await;
    let order_id = &log[1].id;
    assert_eq!(got[0].uri.path(), format!("/orders/{order_id}"));
    assert_eq!(
        got[0].uri.query(),
        Some("eventName=OrderLinesAcceptedBySupplier")
    );
    server.shutdown().await.expect("stops");
}

/// Fault injection can name the settings endpoints by their operation
/// ids, as it names the API operations and the portal actions: a client
/// that sets its webhook at start-up can be tested against a `503`.
#[tokio::test]
async fn faults_can_target_the_settings_endpoints() {
    use tradecloud::mock::{FaultConfig, FaultTrigger};
    let ids = [
        "setOrderEventsSettings",
        "setOrderDocumentsEventsSettings",
        "setShipmentWebhookSettings",
    ];
    let server = start(
        MockConfig::new()
            .fault(FaultConfig::service_unavailable(FaultTrigger::FirstN(3)).for_operations(ids)),
    )
    .await;
    let buyer = server.buyer();
    let settings = serde_json::json!({"webhookUrl": "https://example.com/hook"});
    for path in [ORDER_EVENTS, ORDER_DOCUMENTS_EVENTS, SHIPMENT_EVENTS] {
        let status = put_settings(&server, &buyer, path, settings.clone()).await;
        assert_eq!(status, 503, "{path}: the injected fault");
    }
    for path in [ORDER_EVENTS, ORDER_DOCUMENTS_EVENTS, SHIPMENT_EVENTS] {
        let status = put_settings(&server, &buyer, path, settings.clone()).await;
        assert_eq!(status, 200, "{path}: after the burst");
    }
    let stats = server.stats();
    for id in ids {
        assert_eq!(stats.requests.get(id), Some(&2), "{id}: {stats:?}");
    }
    // Installed at run time too; an id the mock does not serve is refused.
    server
        .set_faults(vec![FaultConfig::service_unavailable(FaultTrigger::Always)
            .for_operations(["setShipmentWebhookSettings"])])
        .expect("a settings endpoint is an operation of the mock");
    let status = put_settings(&server, &buyer, SHIPMENT_EVENTS, settings.clone()).await;
    assert_eq!(status, 503);
    let status = put_settings(&server, &buyer, ORDER_EVENTS, settings).await;
    assert_eq!(status, 200, "only the named endpoint");
    let refused = server.set_faults(vec![FaultConfig::service_unavailable(FaultTrigger::Always)
        .for_operations(["setWebhookSettings"])]);
    let message = refused.expect_err("an unknown id").to_string();
    assert!(message.contains("setShipmentWebhookSettings"), "{message}");
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn the_settings_endpoints_check_who_and_what() {
    let server = start(MockConfig::new()).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let url = format!(
        "{}/{}",
        server.base_url(),
        ORDER_EVENTS.replace("{companyId}", &buyer.company_id)
    );
    let http = reqwest::Client::new();
    // No token: 401.
    let status = http
        .put(&url)
        .json(&serde_json::json!({"webhookUrl": "https://example.com"}))
        .send()
        .await
        .expect("sent")
        .status();
    assert_eq!(status, 401);
    // The supplier's user cannot set the buyer's webhook.
    let status = http
        .put(&url)
        .bearer_auth(token(&server, &supplier).await)
        .json(&serde_json::json!({"webhookUrl": "https://example.com"}))
        .send()
        .await
        .expect("sent")
        .status();
    assert_eq!(status, 403);
    // Plain http:// off loopback is refused.
    assert_eq!(
        put_settings(
            &server,
            &buyer,
            ORDER_EVENTS,
            serde_json::json!({"webhookUrl": "http://example.com/hook"})
        )
        .await,
        400
    );
    // Tradecloud's published example is taken, and read back.
    let example = serde_json::json!({
        "method": "POST",
        "webhookUrl": "https://orderwebhook.mycompany.com",
        "basicAuthCredentials": {"username": "MyCompany", "password": "ReallyStrongPassword123"},
        "bearerToken": "REALLY-LONG-TOKEN-ABCDEFGHIJKLMOPQRSTUVW",
        "format": "JSON",
        "enabledEventNames": ["OrderDocumentsAttachedByBuyer", "OrderDocumentsAttachedBySupplier"]
    });
    assert_eq!(
        put_settings(
            &server,
            &buyer,
            "order-webhook-connector/company/{companyId}/settings/orderDocumentsEvents",
            example.clone()
        )
        .await,
        200
    );
    let back: serde_json::Value = http
        .get(format!(
            "{}/order-webhook-connector/company/{}/settings/orderDocumentsEvents",
            server.base_url(),
            buyer.company_id
        ))
        .bearer_auth(token(&server, &buyer).await)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    assert_eq!(back, example);
    // Unknown company: 404.
    assert_eq!(
        put_settings(
            &server,
            &MockParty {
                company_id: "00000000-0000-0000-0000-000000000000".into(),
                ..buyer.clone()
            },
            ORDER_EVENTS,
            serde_json::json!({"webhookUrl": "https://example.com"})
        )
        .await,
        404
    );
    server.shutdown().await.expect("stops");
}

/// security/authorization.md: a buyer company executes the "ByBuyer"
/// actions, a supplier company the "BySupplier" ones. The other
/// company's user gets `403` naming the side, and the order does not
/// move; the same call from the right user then works. An order id
/// the mock does not know is a `404`.
#[tokio::test]
async fn the_other_company_s_actions_are_forbidden() {
    use tradecloud::api::order::types::OrderLinePositions;
    use tradecloud::client::ClientError;
    fn refused<T: std::fmt::Debug>(answer: Result<T, ClientError>, operation: &str, side: &str) {
        let e = answer.expect_err("the other company's action");
        assert_eq!(e.status(), Some(403), "{e}");
        // The mock's message, then the SDK's advice from the spec's x-party.
        let says = format!("({operation}) is the {side}'s action");
        assert!(e.to_string().contains(&says), "{e}");
        let advice = format!("call it with the {side} company's integration user");
        assert!(e.to_string().ends_with(&advice), "{e}");
    }
    let server = start(MockConfig::new()).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let supplier_rx = Receiver::start().await;
    let settings = serde_json::json!({
        "method": "POST", "webhookUrl": format!("{}/orders", supplier_rx.url), "format": "JSON"
    });
    assert_eq!(
        put_settings(&server, &supplier, ORDER_EVENTS, settings).await,
        200
    );
    let buyer_client = client_of(&server, &buyer);
    let supplier_client = client_of(&server, &supplier);

    let order = order_message(&buyer.partner_account_number, "PO-SIDES-1");
    refused(
        supplier_client.orders().send(&order).await,
        "sendOrderByBuyerRoute",
        "buyer",
    );
    buyer_client.orders().send(&order).await.expect("sent");
    let issued: OrderWebhookBody = supplier_rx.wait_for(1).await[0].decode();
    let order_id = issued
        .order_event
        .and_then(|e| e.order_id)
        .expect("the order id");

    let complete = OrderLinePositions {
        line_positions: vec!["0001".into()],
        ..Default::default()
    };
    let completed = supplier_client
        .orders()
        .complete_lines(&order_id, &complete)
        .await;
    refused(completed, "completeOrderLines", "buyer");
    let accept: connector::SendOrderResponseBySupplier = decode(serde_json::json!({
        "order": {"buyerAccountNumber": supplier.partner_account_number,
                  "purchaseOrderNumber": "PO-SIDES-1"},
        "lines": [{"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}}]
    }));
    let responded = buyer_client.orders().respond(&accept).await;
    refused(responded, "sendOrderResponseBySupplierRoute", "supplier");

    // Nothing moved; then each side's own call moves the line.
    let line_status = |order: &tradecloud::api::common::types::Order| {
        let line = order.lines.iter().find(|l| l.position() == "0001");
        let status = line.and_then(|l| l.status.as_ref()?.process_status.as_ref());
        status.map(|s| s.to_string())
    };
    let order = buyer_client
        .orders()
        .get(&order_id)
        .await
        .expect("the order");
    assert_eq!(line_status(&order).as_deref(), Some("Issued"));
    supplier_client
        .orders()
        .respond(&accept)
        .await
        .expect("responded");
    let completed = buyer_client
        .orders()
        .complete_lines(&order_id, &complete)
        .await;
    completed.expect("completed");
    let order = buyer_client
        .orders()
        .get(&order_id)
        .await
        .expect("the order");
    assert_eq!(line_status(&order).as_deref(), Some("Completed"));

    // An order id the mock does not know is a 404, not a silent no-op.
    let unknown = buyer_client
        .orders()
        .complete_lines("no-such-order", &complete)
        .await;
    assert_eq!(unknown.expect_err("no such order").status(), Some(404));
    server.shutdown().await.expect("stops");
}

/// A despatch advice is compared with the order it ships
/// (connectors/webhooks/order-events.md, "Order lines shipment
/// reschedule"): a matching quantity makes the delivery line
/// `ReadyToShip`, a different one (with a backorder) opens a shipment
/// reschedule request that the buyer approves or rejects per line.
#[tokio::test]
async fn a_shipment_that_differs_asks_the_buyer_to_reschedule() {
    use tradecloud::api::common::types::{Order, OrderLine};
    use tradecloud::api::order::types::{
        ApproveShipmentRescheduleRequest, RejectShipmentRescheduleRequest,
    };
    let server = start(MockConfig::new().delivery_backoff(Duration::from_millis(20))).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let buyer_rx = Receiver::start().await;
    let supplier_rx = Receiver::start().await;
    for (party, rx) in [(&buyer, &buyer_rx), (&supplier, &supplier_rx)] {
        let settings = serde_json::json!({"webhookUrl": format!("{}/orders", rx.url)});
        assert_eq!(
            put_settings(&server, party, ORDER_EVENTS, settings).await,
            200
        );
    }
    let buyer_client = client_of(&server, &buyer);
    let supplier_client = client_of(&server, &supplier);
    buyer_client
        .orders()
        .send(&order_message(
            &buyer.partner_account_number,
            "PO-RESCHEDULE-1",
        ))
        .await
        .expect("sent");
    let issued: OrderWebhookBody = supplier_rx.wait_for(1).await[0].decode();
    let order_id = issued
        .order_event
        .as_ref()
        .and_then(|e| e.order_id.clone())
        .expect("the event has the order id");
    let accept: connector::SendOrderResponseBySupplier = decode(serde_json::json!({
        "order": {"buyerAccountNumber": supplier.partner_account_number,
                  "purchaseOrderNumber": "PO-RESCHEDULE-1"},
        "lines": [
            {"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}},
            {"purchaseOrderLinePosition": "0002", "indicators": {"accepted": true}}
        ]
    }));
    supplier_client
        .orders()
        .respond(&accept)
        .await
        .expect("accepted");
    buyer_rx.wait_for(1).await;

    let ship =
        |number: &str, lines: serde_json::Value| -> connector::SendDespatchAdviceBySupplier {
            decode(serde_json::json!({
                "header": {"buyerAccountNumber": supplier.partner_account_number,
                           "despatchAdviceNumber": number},
                "lines": lines
            }))
        };
    let get = || async {
        buyer_client
            .orders()
            .get(&order_id)
            .await
            .expect("the order")
    };
    let line = |order: &Order, position: &str| -> OrderLine {
        order
            .lines
            .iter()
            .find(|l| l.buyer_line.as_ref().and_then(|b| b.position.as_deref()) == Some(position))
            .cloned()
            .unwrap_or_else(|| panic!("line {position}"))
    };
    let statuses = |line: &OrderLine| {
        let status = line.status.clone().unwrap_or_default();
        (
            status.process_status.map(|s| s.to_string()),
            status.in_progress_status.map(|s| s.to_string()),
        )
    };
    let schedule =
        |deliveries: &[tradecloud::api::common::types::CurrentDeliveryScheduleLine]| {
            deliveries
                .iter()
                .map(|d| {
                    (
                        d.quantity
                            .as_ref()
                            .map(|q| q.to_string())
                            .unwrap_or_default(),
                        d.status.as_ref().map(|s| s.to_string()).unwrap_or_default(),
                    )
                })
                .collect::<Vec<_>>()
        };
    let pair = |quantity: &str, status: &str| (quantity.to_owned(), status.to_owned());

    // 0001 ships its 10: ready to ship. 0002 ships 3 of 4 and
    // backorders 1: a reschedule request.
    let advice = ship(
        "DA-RESCHEDULE-1",
        serde_json::json!([
            {"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO-RESCHEDULE-1",
             "purchaseOrderLinePosition": "0001", "despatchQuantity": 10},
            {"despatchAdviceLinePosition": "2", "purchaseOrderNumber": "PO-RESCHEDULE-1",
             "purchaseOrderLinePosition": "0002", "deliverySchedulePosition": "1",
             "despatchQuantity": 3, "backorderQuantity": 1, "backorderDate": "2026-04-01"}
        ]),
    );
    supplier_client
        .shipments()
        .send_despatch_advice(&advice)
        .await
        .expect("sent");
    let got = buyer_rx.wait_for(3).await;
    let events: Vec<(String, Vec<String>)> = got[1..].iter().map(Received::order_event).collect();
    assert_eq!(
        events,
        vec![
            (
                "OrderLinesDeliveryScheduleLogisticsUpdatedBySupplier".to_owned(),
                vec!["0001".to_owned()]
            ),
            (
                "OrderLinesShipmentRescheduleRequestedBySupplier".to_owned(),
                vec!["0002".to_owned()]
            ),
        ]
    );
    let order = get().await;
    let (first, second) = (line(&order, "0001"), line(&order, "0002"));
    assert_eq!(statuses(&first), (Some("Confirmed".into()), None));
    assert_eq!(
        schedule(&first.delivery_schedule),
        vec![pair("10", "ReadyToShip")]
    );
    assert_eq!(
        statuses(&second),
        (
            Some("InProgress".into()),
            Some("OpenSupplierShipmentRescheduleRequest".into())
        )
    );
    // The confirmed schedule stays until the buyer answers; the request
    // shows in the schedule including requests.
    assert_eq!(schedule(&second.delivery_schedule), vec![pair("4", "")]);
    assert_eq!(
        schedule(&second.delivery_schedule_including_requests),
        vec![pair("3", "ReadyToShip"), pair("1", "")]
    );
    assert_eq!(
        second.delivery_schedule_including_requests[1]
            .date
            .as_ref()
            .map(|d| d.to_string()),
        Some("2026-04-01".to_owned())
    );

    // A line without an open request, a position the order does not
    // have: refused, nothing changes.
    let approval = ApproveShipmentRescheduleRequest::default();
    let e = buyer_client
        .orders()
        .approve_reschedule(&order_id, "0001", &approval)
        .await
        .expect_err("0001 has no open request");
    assert_eq!(e.status(), Some(400), "{e}");
    let e = buyer_client
        .orders()
        .approve_reschedule(&order_id, "0009", &approval)
        .await
        .expect_err("no line 0009");
    assert_eq!(e.status(), Some(404), "{e}");
    assert_eq!(get().await.version, order.version);

    // The buyer approves: the requested schedule is the confirmed one.
    buyer_client
        .orders()
        .approve_reschedule(&order_id, "0002", &approval)
        .await
        .expect("approved");
    let got = supplier_rx.wait_for(2).await;
    assert_eq!(
        got[1].order_event(),
        (
            "OrderLinesShipmentRescheduleApprovedByBuyer".to_owned(),
            vec!["0002".to_owned()]
        )
    );
    let second = line(&get().await, "0002");
    assert_eq!(
        statuses(&second),
        // order/status.md#L50: no in-progress status once Confirmed.
        (Some("Confirmed".into()), None)
    );
    assert_eq!(
        schedule(&second.delivery_schedule),
        vec![pair("3", "ReadyToShip"), pair("1", "")]
    );

    // The backorder ships 2 instead of 1: another request, which the
    // buyer rejects; the confirmed schedule stays.
    let advice = ship(
        "DA-RESCHEDULE-2",
        serde_json::json!([
            {"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO-RESCHEDULE-1",
             "purchaseOrderLinePosition": "0002", "deliverySchedulePosition": "2",
             "despatchQuantity": 2}
        ]),
    );
    supplier_client
        .shipments()
        .send_despatch_advice(&advice)
        .await
        .expect("sent");
    let got = buyer_rx.wait_for(4).await;
    assert_eq!(
        got[3].event_name(),
        "OrderLinesShipmentRescheduleRequestedBySupplier"
    );
    let rejection = RejectShipmentRescheduleRequest {
        reason: "only 1 needed".into(),
        ..Default::default()
    };
    buyer_client
        .orders()
        .reject_reschedule(&order_id, "0002", &rejection)
        .await
        .expect("rejected");
    let got = supplier_rx.wait_for(3).await;
    assert_eq!(
        got[2].event_name(),
        "OrderLinesShipmentRescheduleRejectedByBuyer"
    );
    let second = line(&get().await, "0002");
    assert_eq!(statuses(&second), (Some("Confirmed".into()), None));
    assert_eq!(
        schedule(&second.delivery_schedule_including_requests),
        vec![pair("3", "ReadyToShip"), pair("1", "")]
    );

    // The backorder's 1 shipped without naming its delivery line: the
    // first one not shipped yet, which it matches.
    let advice = ship(
        "DA-RESCHEDULE-3",
        serde_json::json!([
            {"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO-RESCHEDULE-1",
             "purchaseOrderLinePosition": "0002", "despatchQuantity": 1}
        ]),
    );
    supplier_client
        .shipments()
        .send_despatch_advice(&advice)
        .await
        .expect("sent");
    let got = buyer_rx.wait_for(5).await;
    assert_eq!(
        got[4].event_name(),
        "OrderLinesDeliveryScheduleLogisticsUpdatedBySupplier"
    );
    let second = line(&get().await, "0002");
    assert_eq!(
        schedule(&second.delivery_schedule),
        vec![pair("3", "ReadyToShip"), pair("1", "ReadyToShip")]
    );
    server.shutdown().await.expect("stops");
}
