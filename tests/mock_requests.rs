//! The mock's answers to requests, end to end over HTTP with both
//! companies' order webhooks: a reconfirmation keeps the agreed values
//! (order/status.md, "reconfirm the same schedule & prices") or becomes a
//! supplier reopen request; the supplier approves or rejects a buyer's
//! reopen request (order/buyer/reopen.md, order-events.md); a reopen
//! request approved by `autoConfirm` is `OrderLinesConfirmedBySupplier`,
//! a `proposeWhenAccepted` line accepted under it `OrderLinesAcceptedBySupplier`; an
//! order response leaves an open shipment reschedule request to the buyer;
//! the buyer's bulk answers follow `specs/order.yaml`
//! (`ApproveRequestsAsBuyer`: 404 for a position the order does not have,
//! 400 for a line without an open request, shipment reschedule requests
//! included); goods received up to the full quantity are the history's
//! event.

#![cfg(feature = "mock")]

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tradecloud::api::api_connector::types as connector;
use tradecloud::api::common::types::{Order, OrderLine};
use tradecloud::client::Client;
use tradecloud::mock::{CompanyWebhooks, MockConfig, MockParty, MockServer, WebhookSettings};

use crate::client_support::start;
use crate::mock_support::{client_of, token, Receiver};

impl Receiver {
    /// The events (name, line positions) that came after the first
    /// `seen`, once `count` more have come (at most 10 s).
    async fn events_after(&self, seen: usize, count: usize) -> Vec<(String, Vec<String>)> {
        self.wait_for_bodies(seen + count).await[seen..]
            .iter()
            .map(event)
            .collect()
    }
}

fn event(body: &Value) -> (String, Vec<String>) {
    let positions = body["orderEvent"]["lines"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .filter_map(|l| l["buyerLine"]["position"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    (
        body["eventName"].as_str().unwrap_or_default().to_owned(),
        positions,
    )
}

fn decode<T: DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("decodes: {e}"))
}

/// Both companies, their order webhooks on receivers, and their clients.
struct Trade {
    server: MockServer,
    buyer: MockParty,
    supplier: MockParty,
    buyer_client: Client,
    supplier_client: Client,
    buyer_rx: Receiver,
    supplier_rx: Receiver,
}

impl Trade {
    async fn start() -> Trade {
        let (buyer_rx, supplier_rx) = (Receiver::start().await, Receiver::start().await);
        let hooks = |rx: &Receiver| CompanyWebhooks {
            order_events: Some(WebhookSettings::new(format!("{}/orders", rx.url))),
            ..CompanyWebhooks::default()
        };
        let server = start(
            MockConfig::new()
                .buyer_webhooks(hooks(&buyer_rx))
                .supplier_webhooks(hooks(&supplier_rx))
                .delivery_backoff(Duration::from_millis(20)),
        )
        .await;
        let (buyer, supplier) = (server.buyer(), server.supplier());
        Trade {
            buyer_client: client_of(&server, &buyer),
            supplier_client: client_of(&server, &supplier),
            server,
            buyer,
            supplier,
            buyer_rx,
            supplier_rx,
        }
    }

    /// Store order `id` as it is, with line 0001 (10 on 2026-03-01), its
    /// buyer and supplier parts naming `companies` (`buyerOrder`'s,
    /// `supplierOrder`'s; `None`: the part is left out), as orders of other
    /// companies come to be in the mock.
    fn store(&self, id: &str, companies: (&str, Option<&str>)) {
        let mut order = json!({"id": id, "buyerOrder": {"companyId": companies.0},
            "lines": [{"buyerLine": {"position": "0001", "deliverySchedule":
                [{"position": "1", "date": "2026-03-01", "quantity": 10}]}}]});
        if let Some(supplier) = companies.1 {
            order["supplierOrder"] = json!({"companyId": supplier});
        }
        self.server.insert_order(decode(order)).expect("stored");
    }

    /// The buyer sends order `number`: 0001 (10 on 2026-03-01) and 0002
    /// (4 on 2026-03-08), with `indicators` on the order. Returns its id.
    async fn issue(&self, number: &str, indicators: Value) -> String {
        self.issue_with(number, indicators, Value::Null).await
    }

    /// [`Self::issue`], with `line_indicators` on line 0001.
    async fn issue_with(&self, number: &str, indicators: Value, line_indicators: Value) -> String {
        let seen = self.supplier_rx.count();
        let order: connector::SendOrderByBuyer = decode(json!({
            "order": {"supplierAccountNumber": self.buyer.partner_account_number,
                      "purchaseOrderNumber": number, "indicators": indicators},
            "lines": [
                {"position": "0001", "item": {"number": "A-1"}, "indicators": line_indicators,
                 "deliverySchedule": [{"position": "1", "date": "2026-03-01", "quantity": 10}],
                 "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 5, "currencyIso": "EUR"}},
                            "priceUnitQuantity": 1}},
                {"position": "0002", "item": {"number": "B-2"},
                 "deliverySchedule": [{"position": "1", "date": "2026-03-08", "quantity": 4}],
                 "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 7, "currencyIso": "EUR"}},
                            "priceUnitQuantity": 1}}
            ]
        }));
        self.buyer_client.orders().send(&order).await.expect("sent");
        self.supplier_rx.events_after(seen, 1).await;
        let bodies = self.supplier_rx.bodies();
        bodies[seen]["orderEvent"]["orderId"]
            .as_str()
            .expect("the event names the order")
            .to_owned()
    }

    /// The supplier responds to order `number` with `lines`; the buyer's
    /// events that follow (`count` of them).
    async fn respond(
        &self,
        number: &str,
        lines: Value,
        count: usize,
    ) -> Vec<(String, Vec<String>)> {
        let seen = self.buyer_rx.count();
        let response: connector::SendOrderResponseBySupplier = decode(json!({
            "order": {"buyerAccountNumber": self.supplier.partner_account_number,
                      "purchaseOrderNumber": number},
            "lines": lines
        }));
        self.supplier_client
            .orders()
            .respond(&response)
            .await
            .expect("responded");
        self.buyer_rx.events_after(seen, count).await
    }

    /// A buyer's order action by raw HTTP: its status and JSON body.
    async fn buyer_action(&self, path: &str, body: Value) -> (u16, Value) {
        self.action(&self.buyer, path, body).await
    }

    /// A supplier's order action by raw HTTP: its status and JSON body.
    async fn supplier_action(&self, path: &str, body: Value) -> (u16, Value) {
        self.action(&self.supplier, path, body).await
    }

    /// `party`'s order action by raw HTTP: its status and JSON body.
    async fn action(&self, party: &MockParty, path: &str, body: Value) -> (u16, Value) {
        let token = token(&self.server, party).await;
        let response = reqwest::Client::new()
            .post(format!("{}/{path}", self.server.base_url()))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn order(&self, id: &str) -> Order {
        self.buyer_client.orders().get(id).await.expect("the order")
    }
}

fn line<'o>(order: &'o Order, position: &str) -> &'o OrderLine {
    order
        .lines
        .iter()
        .find(|l| l.buyer_line.as_ref().and_then(|b| b.position.as_deref()) == Some(position))
        .unwrap_or_else(|| panic!("line {position}"))
}

/// A line's process and in-progress status, as strings.
fn status(order: &Order, position: &str) -> (String, String) {
    let value = serde_json::to_value(line(order, position)).unwrap_or_default();
    (
        value["status"]["processStatus"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        value["status"]["inProgressStatus"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// `(date, quantity)` of the delivery lines of one of a line's schedules.
fn schedule(order: &Order, position: &str, member: &str) -> Vec<(String, String)> {
    let value = serde_json::to_value(line(order, position)).unwrap_or_default();
    value[member]
        .as_array()
        .map(|deliveries| {
            deliveries
                .iter()
                .map(|d| {
                    (
                        d["date"].as_str().unwrap_or_default().to_owned(),
                        d["quantity"].to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn names(events: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    events
        .iter()
        .map(|(name, positions)| {
            (
                (*name).to_owned(),
                positions.iter().map(|p| (*p).to_owned()).collect(),
            )
        })
        .collect()
}

fn confirmed() -> (String, String) {
    ("Confirmed".to_owned(), String::new())
}

#[tokio::test]
async fn a_reconfirmation_keeps_the_agreed_values_or_becomes_a_reopen_request() {
    let trade = Trade::start().await;
    let id = trade.issue("PO-RECONFIRM-1", json!({})).await;
    // Both lines agreed on 2026-04-01: the supplier's proposal, approved.
    let later = |position: &str, quantity: u32| {
        json!({"purchaseOrderLinePosition": position,
               "deliverySchedule": [{"position": "1", "date": "2026-04-01", "quantity": quantity}]})
    };
    trade
        .respond(
            "PO-RECONFIRM-1",
            json!([later("0001", 10), later("0002", 4)]),
            1,
        )
        .await;
    let (status_code, _) = trade
        .buyer_action(
            &format!("order/{id}/requests/buyer/approve"),
            json!({"linePositions": ["0001", "0002"]}),
        )
        .await;
    assert_eq!(status_code, 200);
    let reconfirm: connector::SendOrderIndicatorsByBuyer = decode(json!({
        "order": {"purchaseOrderNumber": "PO-RECONFIRM-1"},
        "lines": [{"position": "0001", "indicators": {"requestReconfirmation": true}},
                  {"position": "0002", "indicators": {"requestReconfirmation": true}}]
    }));
    let seen = trade.supplier_rx.count();
    trade
        .buyer_client
        .orders()
        .send_indicators(&reconfirm)
        .await
        .expect("sent");
    trade.supplier_rx.events_after(seen, 1).await;

    // Accepted, and answered with the agreed schedule: reconfirmed, the
    // agreed values kept.
    let events = trade
        .respond(
            "PO-RECONFIRM-1",
            json!([{"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}},
                   later("0002", 4)]),
            1,
        )
        .await;
    assert_eq!(
        events,
        names(&[("OrderLinesReconfirmedBySupplier", &["0001", "0002"])])
    );
    let order = trade.order(&id).await;
    for position in ["0001", "0002"] {
        assert_eq!(status(&order, position), confirmed());
        for member in ["deliverySchedule", "deliveryScheduleIncludingRequests"] {
            let dates: Vec<String> = schedule(&order, position, member)
                .into_iter()
                .map(|(date, _)| date)
                .collect();
            assert_eq!(dates, vec!["2026-04-01"], "{position} {member}");
        }
    }

    // Asked again, and answered with other values: a reopen request.
    let seen = trade.supplier_rx.count();
    trade
        .buyer_client
        .orders()
        .send_indicators(&reconfirm)
        .await
        .expect("sent");
    trade.supplier_rx.events_after(seen, 1).await;
    let events = trade
        .respond(
            "PO-RECONFIRM-1",
            json!([{"purchaseOrderLinePosition": "0001", "reason": "later still",
                    "deliverySchedule": [{"position": "1", "date": "2026-05-01", "quantity": 10}]}]),
            1,
        )
        .await;
    assert_eq!(
        events,
        names(&[("OrderLinesReopenRequestedBySupplier", &["0001"])])
    );
    let order = trade.order(&id).await;
    assert_eq!(
        status(&order, "0001"),
        (
            "InProgress".to_owned(),
            "OpenSupplierReopenRequest".to_owned()
        )
    );
    assert_eq!(
        schedule(&order, "0001", "deliverySchedule")[0].0,
        "2026-04-01"
    );
    assert_eq!(
        schedule(&order, "0001", "deliveryScheduleIncludingRequests")[0].0,
        "2026-05-01"
    );
    trade.server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn the_supplier_approves_or_rejects_the_buyer_s_reopen_requests() {
    let trade = Trade::start().await;
    let id = trade.issue("PO-REOPEN-1", json!({})).await;
    let accept = |position: &str| json!({"purchaseOrderLinePosition": position, "indicators": {"accepted": true}});
    trade
        .respond("PO-REOPEN-1", json!([accept("0001"), accept("0002")]), 1)
        .await;
    // The buyer reopens both lines with later dates.
    let seen = trade.supplier_rx.count();
    let update: connector::SendOrderByBuyer = decode(json!({
        "order": {"supplierAccountNumber": trade.buyer.partner_account_number,
                  "purchaseOrderNumber": "PO-REOPEN-1"},
        "lines": [
            {"position": "0001", "item": {"number": "A-1"},
             "deliverySchedule": [{"position": "1", "date": "2026-05-01", "quantity": 10}],
             "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 5, "currencyIso": "EUR"}},
                        "priceUnitQuantity": 1}},
            {"position": "0002", "item": {"number": "B-2"},
             "deliverySchedule": [{"position": "1", "date": "2026-05-08", "quantity": 4}],
             "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 7, "currencyIso": "EUR"}},
                        "priceUnitQuantity": 1}}
        ]
    }));
    trade
        .buyer_client
        .orders()
        .send(&update)
        .await
        .expect("sent");
    assert_eq!(
        trade.supplier_rx.events_after(seen, 1).await,
        names(&[("OrderLinesReopenRequestedByBuyer", &["0001", "0002"])])
    );
    // The supplier approves 0001 and rejects 0002.
    let events = trade
        .respond(
            "PO-REOPEN-1",
            json!([accept("0001"),
                   {"purchaseOrderLinePosition": "0002", "reason": "no capacity",
                    "indicators": {"rejected": true}}]),
            2,
        )
        .await;
    assert_eq!(
        events,
        names(&[
            ("OrderLinesReopenRequestApprovedBySupplier", &["0001"]),
            ("OrderLinesReopenRequestRejectedBySupplier", &["0002"]),
        ])
    );
    let order = trade.order(&id).await;
    let value = serde_json::to_value(&order).unwrap_or_default();
    for (index, position, request, date) in [
        (0, "0001", "Approved", "2026-05-01"),
        (1, "0002", "Rejected", "2026-03-08"),
    ] {
        assert_eq!(status(&order, position), confirmed());
        assert_eq!(
            value["lines"][index]["buyerLine"]["requests"]["reopenRequest"]["status"],
            request
        );
        assert_eq!(schedule(&order, position, "deliverySchedule")[0].0, date);
    }
    assert_eq!(
        value["status"]["processStatus"], "Confirmed",
        "a rejected reopen request leaves the order agreed"
    );
    trade.server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_reopen_request_auto_confirmed_is_confirmed_by_the_supplier() {
    let trade = Trade::start().await;
    let id = trade.issue("PO-AUTO-1", json!({"autoConfirm": true})).await;
    trade
        .respond(
            "PO-AUTO-1",
            json!([{"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}}]),
            1,
        )
        .await;
    let events = trade
        .respond(
            "PO-AUTO-1",
            json!([{"purchaseOrderLinePosition": "0001", "reason": "later",
                    "deliverySchedule": [{"position": "1", "date": "2026-04-01", "quantity": 10}]}]),
            1,
        )
        .await;
    assert_eq!(
        events,
        names(&[("OrderLinesConfirmedBySupplier", &["0001"])])
    );
    let order = trade.order(&id).await;
    assert_eq!(
        schedule(&order, "0001", "deliverySchedule")[0].0,
        "2026-04-01"
    );
    trade.server.shutdown().await.expect("stops");
}

/// order-events.md: "Confirmed by supplier: The supplier confirmed the
/// order line(s) with different values than requested by the buyer, and
/// the buyer has Auto Confirm enabled"; "Accepted: The supplier confirmed
/// the order line(s) as requested by the buyer". A `proposeWhenAccepted`
/// line accepted becomes "a proposal with requested values"
/// (propose-when-accepted.md), which `autoConfirm` approves at once: the
/// supplier accepted, with no other values.
#[tokio::test]
async fn a_propose_when_accepted_line_accepted_under_auto_confirm_is_accepted() {
    let trade = Trade::start().await;
    let id = trade
        .issue_with(
            "PO-AUTO-2",
            json!({"autoConfirm": true}),
            json!({"proposeWhenAccepted": true}),
        )
        .await;
    let events = trade
        .respond(
            "PO-AUTO-2",
            json!([{"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}}]),
            1,
        )
        .await;
    assert_eq!(
        events,
        names(&[("OrderLinesAcceptedBySupplier", &["0001"])])
    );
    let order = trade.order(&id).await;
    assert_eq!(status(&order, "0001"), confirmed());
    let value = serde_json::to_value(line(&order, "0001")).unwrap_or_default();
    assert_eq!(
        value["supplierLine"]["requests"]["proposal"]["status"], "Approved",
        "the proposal was made and approved at once"
    );
    trade.server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn an_order_response_leaves_a_shipment_reschedule_request_to_the_buyer() {
    let trade = Trade::start().await;
    let id = trade.issue("PO-SHIP-1", json!({})).await;
    trade
        .respond(
            "PO-SHIP-1",
            json!([{"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}}]),
            1,
        )
        .await;
    let seen = trade.buyer_rx.count();
    let advice: connector::SendDespatchAdviceBySupplier = decode(json!({
        "header": {"buyerAccountNumber": trade.supplier.partner_account_number,
                   "despatchAdviceNumber": "DA-SHIP-1"},
        "lines": [{"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO-SHIP-1",
                   "purchaseOrderLinePosition": "0001", "despatchQuantity": 6}]
    }));
    trade
        .supplier_client
        .shipments()
        .send_despatch_advice(&advice)
        .await
        .expect("sent");
    assert_eq!(
        trade.buyer_rx.events_after(seen, 1).await,
        names(&[("OrderLinesShipmentRescheduleRequestedBySupplier", &["0001"])])
    );
    let open = (
        "InProgress".to_owned(),
        "OpenSupplierShipmentRescheduleRequest".to_owned(),
    );
    // Notes only: an update; the request stays open. The issued line 0002
    // is not answered by notes either.
    let events = trade
        .respond(
            "PO-SHIP-1",
            json!([{"purchaseOrderLinePosition": "0001", "notes": ["6 now, 4 later"]},
                   {"purchaseOrderLinePosition": "0002", "notes": ["looking into it"]}]),
            1,
        )
        .await;
    assert_eq!(
        events,
        names(&[("OrderLinesUpdatedBySupplier", &["0001", "0002"])])
    );
    let order = trade.order(&id).await;
    assert_eq!(status(&order, "0001"), open);
    assert_eq!(status(&order, "0002"), ("Issued".to_owned(), String::new()));
    assert_eq!(
        schedule(&order, "0001", "deliveryScheduleIncludingRequests")[0].1,
        "6"
    );
    assert_eq!(schedule(&order, "0001", "deliverySchedule")[0].1, "10");
    // The buyer answers it.
    let (status_code, body) = trade
        .buyer_action(
            &format!("order/{id}/line/0001/reschedule/approve"),
            json!({}),
        )
        .await;
    assert_eq!(status_code, 200, "{body}");
    let order = trade.order(&id).await;
    assert_eq!(
        status(&order, "0001"),
        // order/status.md#L50: no in-progress status once Confirmed.
        ("Confirmed".to_owned(), String::new())
    );
    assert_eq!(schedule(&order, "0001", "deliverySchedule")[0].1, "6");
    trade.server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn bulk_answers_follow_the_spec() {
    let trade = Trade::start().await;
    let id = trade.issue("PO-BULK-1", json!({})).await;
    trade
        .respond(
            "PO-BULK-1",
            json!([{"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}},
                   {"purchaseOrderLinePosition": "0002",
                    "deliverySchedule": [{"position": "1", "date": "2026-04-01", "quantity": 4}]}]),
            2,
        )
        .await;
    let approve = format!("order/{id}/requests/buyer/approve");
    let reject = format!("order/{id}/requests/buyer/reject");
    // A position the order does not have: 404 naming it, nothing answered.
    let (code, body) = trade
        .buyer_action(&approve, json!({"linePositions": ["0002", "0099"]}))
        .await;
    assert_eq!(code, 404, "{body}");
    assert!(body.to_string().contains("0099"), "{body}");
    // A line with nothing open: 400 naming it, nothing answered.
    let (code, body) = trade
        .buyer_action(
            &reject,
            json!({"linePositions": ["0001", "0002"], "reason": "no"}),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    assert!(body.to_string().contains("0001"), "{body}");
    let order = trade.order(&id).await;
    assert_eq!(
        status(&order, "0002"),
        ("InProgress".to_owned(), "OpenSupplierProposal".to_owned())
    );
    // The open proposal alone: approved.
    let (code, body) = trade
        .buyer_action(&approve, json!({"linePositions": ["0002"]}))
        .await;
    assert_eq!(code, 200, "{body}");
    // A shipment reschedule request is answered by the bulk reject too.
    let advice: connector::SendDespatchAdviceBySupplier = decode(json!({
        "header": {"buyerAccountNumber": trade.supplier.partner_account_number,
                   "despatchAdviceNumber": "DA-BULK-1"},
        "lines": [{"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO-BULK-1",
                   "purchaseOrderLinePosition": "0001", "despatchQuantity": 6}]
    }));
    let seen = trade.buyer_rx.count();
    trade
        .supplier_client
        .shipments()
        .send_despatch_advice(&advice)
        .await
        .expect("sent");
    trade.buyer_rx.events_after(seen, 1).await;
    let seen = trade.supplier_rx.count();
    let (code, body) = trade
        .buyer_action(
            &reject,
            json!({"linePositions": ["0001"], "reason": "all 10"}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        trade.supplier_rx.events_after(seen, 1).await,
        names(&[("OrderLinesShipmentRescheduleRejectedByBuyer", &["0001"])])
    );
    let order = trade.order(&id).await;
    assert_eq!(
        status(&order, "0001"),
        ("Confirmed".to_owned(), String::new())
    );
    assert_eq!(schedule(&order, "0001", "deliverySchedule")[0].1, "10");
    trade.server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn goods_received_in_full_are_the_delivery_history_s_event() {
    let trade = Trade::start().await;
    let id = trade.issue("PO-GOODS-1", json!({})).await;
    trade
        .respond(
            "PO-GOODS-1",
            json!([{"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}}]),
            1,
        )
        .await;
    // 6 of 10 received, then the history replaced by all 10 in one: each
    // its history event, the second delivering the line.
    let seen = trade.supplier_rx.count();
    let six: connector::SendOrderDeliveriesByBuyer = decode(json!({
        "order": {"purchaseOrderNumber": "PO-GOODS-1"},
        "lines": [{"position": "0001",
                   "deliveries": [{"position": "1", "date": "2026-03-01", "quantity": 6}]}]
    }));
    trade
        .buyer_client
        .orders()
        .send_deliveries(&six)
        .await
        .expect("sent");
    assert_eq!(
        trade.supplier_rx.events_after(seen, 1).await,
        names(&[("OrderLinesDeliveryHistoryAppendedByBuyer", &["0001"])])
    );
    let seen = trade.supplier_rx.count();
    let history: connector::SendOrderDeliveryHistoryByBuyer = decode(json!({
        "order": {"purchaseOrderNumber": "PO-GOODS-1"},
        "lines": [{"position": "0001",
                   "deliveryHistory": [{"position": "1", "date": "2026-03-01", "quantity": 10}]}]
    }));
    trade
        .buyer_client
        .orders()
        .send_delivery_history(&history)
        .await
        .expect("sent");
    assert_eq!(
        trade.supplier_rx.events_after(seen, 1).await,
        names(&[("OrderLinesDeliveryHistorySetByBuyer", &["0001"])])
    );
    let order = trade.order(&id).await;
    let logistics = serde_json::to_value(line(&order, "0001")).unwrap_or_default()["status"]
        ["logisticsStatus"]
        .clone();
    assert_eq!(logistics, "Delivered");
    trade.server.shutdown().await.expect("stops");
}

// ----- rules an outside audit found broken -----------------------------------

/// The order's process status, as a string.
fn order_status(order: &Order) -> String {
    serde_json::to_value(order).unwrap_or_default()["status"]["processStatus"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn proposal(position: &str) -> Value {
    json!({"purchaseOrderLinePosition": position,
           "deliverySchedule": [{"position": "1", "date": "2026-06-01", "quantity": 10}]})
}

#[tokio::test]
async fn a_bulk_reject_s_reason_is_the_rejected_line_s_reason() {
    let trade = Trade::start().await;
    let id = trade.issue("PO-REASON-1", json!({})).await;
    trade
        .respond("PO-REASON-1", json!([proposal("0001")]), 1)
        .await;
    let seen = trade.supplier_rx.count();
    let (code, body) = trade
        .buyer_action(
            &format!("order/{id}/requests/buyer/reject"),
            json!({"linePositions": ["0001"], "reason": "June is too late"}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    // The supplier hears the rejection with its reason (the line's
    // `reason`: "the reason given with this event for this line").
    let bodies = trade.supplier_rx.wait_for_bodies(seen + 1).await;
    assert_eq!(
        bodies[seen]["eventName"],
        "OrderChangesProposalRejectedByBuyer"
    );
    assert_eq!(
        bodies[seen]["orderEvent"]["lines"][0]["reason"], "June is too late",
        "{:#}",
        bodies[seen]
    );
    let order = trade.order(&id).await;
    assert_eq!(
        line(&order, "0001").reason.as_deref(),
        Some("June is too late")
    );
    // The next change of the line is another event, without that reason.
    trade
        .respond("PO-REASON-1", json!([proposal("0001")]), 1)
        .await;
    let order = trade.order(&id).await;
    assert_eq!(line(&order, "0001").reason, None);
    trade.server.shutdown().await.expect("stops");
}

/// send-order-response/README.md, Status: InProgress: "`Rejected` if the
/// `rejected` indicator is set", with no exception for the supplier's own
/// reopen request, which is closed with it.
#[tokio::test]
async fn rejecting_a_line_with_the_supplier_s_own_reopen_request_rejects_it() {
    let trade = Trade::start().await;
    let id = trade.issue("PO-REOPEN-REJECT", json!({})).await;
    trade
        .respond(
            "PO-REOPEN-REJECT",
            json!([{"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}}]),
            1,
        )
        .await;
    trade
        .respond("PO-REOPEN-REJECT", json!([proposal("0001")]), 1)
        .await;
    let reopened = (
        "InProgress".to_owned(),
        "OpenSupplierReopenRequest".to_owned(),
    );
    assert_eq!(status(&trade.order(&id).await, "0001"), reopened);
    let events = trade
        .respond(
            "PO-REOPEN-REJECT",
            json!([{"purchaseOrderLinePosition": "0001", "indicators": {"rejected": true}}]),
            1,
        )
        .await;
    assert_eq!(
        events,
        names(&[("OrderLinesRejectedBySupplier", &["0001"])])
    );
    let order = trade.order(&id).await;
    assert_eq!(
        status(&order, "0001"),
        ("Rejected".to_owned(), String::new())
    );
    let reopen = serde_json::to_value(line(&order, "0001")).unwrap_or_default()["supplierLine"]
        ["requests"]["reopenRequest"]["status"]
        .clone();
    assert_eq!(reopen, "Closed");
    trade.server.shutdown().await.expect("stops");
}

/// The same for a line the buyer asked to reconfirm
/// (`requestReconfirmation` on a confirmed line).
#[tokio::test]
async fn rejecting_a_line_asked_to_reconfirm_rejects_it() {
    let trade = Trade::start().await;
    let id = trade.issue("PO-RECONFIRM-REJECT", json!({})).await;
    trade
        .respond(
            "PO-RECONFIRM-REJECT",
            json!([{"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}}]),
            1,
        )
        .await;
    let reconfirm: connector::SendOrderIndicatorsByBuyer = decode(json!({
        "order": {"purchaseOrderNumber": "PO-RECONFIRM-REJECT"},
        "lines": [{"position": "0001", "indicators": {"requestReconfirmation": true}}]
    }));
    let seen = trade.supplier_rx.count();
    trade
        .buyer_client
        .orders()
        .send_indicators(&reconfirm)
        .await
        .expect("sent");
    trade.supplier_rx.events_after(seen, 1).await;
    assert_eq!(
        status(&trade.order(&id).await, "0001"),
        (
            "InProgress".to_owned(),
            "OpenBuyerReconfirmationRequest".to_owned()
        )
    );
    let events = trade
        .respond(
            "PO-RECONFIRM-REJECT",
            json!([{"purchaseOrderLinePosition": "0001", "indicators": {"rejected": true}}]),
            1,
        )
        .await;
    assert_eq!(
        events,
        names(&[("OrderLinesRejectedBySupplier", &["0001"])])
    );
    assert_eq!(
        status(&trade.order(&id).await, "0001"),
        ("Rejected".to_owned(), String::new())
    );
    trade.server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_delivery_history_replaced_when_empty_is_set_not_appended() {
    let trade = Trade::start().await;
    let id = trade.issue("PO-HISTORY-SET", json!({})).await;
    let seen = trade.supplier_rx.count();
    let history: connector::SendOrderDeliveryHistoryByBuyer = decode(json!({
        "order": {"purchaseOrderNumber": "PO-HISTORY-SET"},
        "lines": [{"position": "0001",
                   "deliveryHistory": [{"position": "1", "date": "2026-03-01", "quantity": 4}]}]
    }));
    trade
        .buyer_client
        .orders()
        .send_delivery_history(&history)
        .await
        .expect("sent");
    // order-events.md: `...SetByBuyer` "delivery history is replaced".
    assert_eq!(
        trade.supplier_rx.events_after(seen, 1).await,
        names(&[("OrderLinesDeliveryHistorySetByBuyer", &["0001"])])
    );
    // The same history again replaces nothing: the order stays as it was
    // (its `lastUpdatedAt` "is the latest date time the order has been
    // changed", order/buyer/receive/README.md), as an order sent again
    // unchanged does.
    let set = trade.order(&id).await;
    trade
        .buyer_client
        .orders()
        .send_delivery_history(&history)
        .await
        .expect("sent");
    let again = trade.order(&id).await;
    assert_eq!(again.version, set.version);
    assert_eq!(again.last_updated_at, set.last_updated_at);
    trade.server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn an_in_progress_line_cannot_be_completed() {
    let trade = Trade::start().await;
    let id = trade.issue("PO-COMPLETE-IP", json!({})).await;
    trade
        .respond("PO-COMPLETE-IP", json!([proposal("0001")]), 1)
        .await;
    let in_progress = ("InProgress".to_owned(), "OpenSupplierProposal".to_owned());
    let (code, body) = trade
        .buyer_action(
            &format!("order/{id}/complete"),
            json!({"linePositions": ["0001", "0002"]}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    // order/buyer/complete.md: "`In progress` and `Cancelled` lines cannot
    // be completed"; the `Issued` line is.
    let order = trade.order(&id).await;
    assert_eq!(status(&order, "0001"), in_progress);
    assert_eq!(
        status(&order, "0002"),
        ("Completed".to_owned(), String::new())
    );
    // The indicator the same.
    let complete: connector::SendOrderIndicatorsByBuyer = decode(json!({
        "order": {"purchaseOrderNumber": "PO-COMPLETE-IP", "indicators": {"completed": true}}
    }));
    trade
        .buyer_client
        .orders()
        .send_indicators(&complete)
        .await
        .expect("sent");
    assert_eq!(status(&trade.order(&id).await, "0001"), in_progress);
    trade.server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_rejected_line_keeps_the_order_from_being_confirmed() {
    let trade = Trade::start().await;
    let id = trade.issue("PO-HALF-REJECTED", json!({})).await;
    trade
        .respond(
            "PO-HALF-REJECTED",
            json!([{"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}},
                   {"purchaseOrderLinePosition": "0002", "indicators": {"rejected": true},
                    "reason": "not our item"}]),
            2,
        )
        .await;
    // order/status.md: `Confirmed` is "completely agreed", `Rejected`
    // "completely rejected"; one of each is neither.
    let order = trade.order(&id).await;
    assert_eq!(
        status(&order, "0002"),
        ("Rejected".to_owned(), String::new())
    );
    assert_eq!(order_status(&order), "InProgress");
    // The supplier's own reason travels with its rejection.
    assert_eq!(line(&order, "0002").reason.as_deref(), Some("not our item"));
    trade.server.shutdown().await.expect("stops");
}

/// An order id the mock does not know is a `404` ("no order with this
/// id", specs/order.yaml) whatever the body: one the generated code cannot
/// decode, one that breaks a rule, one that is fine; the same bodies on a
/// known order are the `400`s they were.
#[tokio::test]
async fn an_unknown_order_is_not_found_whatever_the_body() {
    let trade = Trade::start().await;
    let id = trade.issue("PO-ACTIONS-UNKNOWN", json!({})).await;
    let bad_bodies = [
        json!({"linePositions": "0001"}),
        json!({"linePositions": null}),
        json!([]),
    ];
    for action in [
        "complete",
        "deliver",
        "revertCompleted",
        "requests/buyer/approve",
    ] {
        for body in bad_bodies
            .iter()
            .chain([&json!({"linePositions": ["0001"]})])
        {
            let (code, answer) = trade
                .buyer_action(&format!("order/no-such-order/{action}"), body.clone())
                .await;
            assert_eq!(code, 404, "{action} {body}: {answer}");
            assert!(answer.to_string().contains("no-such-order"), "{answer}");
        }
        for body in &bad_bodies {
            let (code, answer) = trade
                .buyer_action(&format!("order/{id}/{action}"), body.clone())
                .await;
            assert_eq!(code, 400, "{action} {body} on a known order: {answer}");
        }
    }
    trade.server.shutdown().await.expect("stops");
}

/// An order id with characters a path must percent-encode (a space, `%`)
/// is the same order whichever way it comes: read through the SDK
/// (`GET /order/{orderId}`, which encodes it) it is found, a missing one is
/// a `404`; an order action with a body the generated code refuses on a
/// missing one is the `404` of an unknown order, as with any other id (it
/// was a `400`: the still-encoded path segment was not compared), and on
/// the known one the `400` it is.
#[tokio::test]
async fn an_order_id_to_percent_encode_is_found_or_not_found_decoded() {
    use tradecloud::client::ClientError;
    let trade = Trade::start().await;
    trade.store("PO 7%1", (&trade.buyer.company_id, None));
    let read = trade.buyer_client.orders().get("PO 7%1").await;
    assert_eq!(
        read.expect("the order with a space and % in its id").id(),
        "PO 7%1"
    );
    let missing = trade.buyer_client.orders().get("PO 7%2").await;
    assert!(
        matches!(missing, Err(ClientError::NotFound { .. })),
        "{missing:?}"
    );
    let (code, answer) = trade
        .buyer_action("order/PO%207%252/complete", json!([]))
        .await;
    assert_eq!(code, 404, "{answer}");
    assert!(answer.to_string().contains("PO 7%2"), "{answer}");
    let (code, answer) = trade
        .buyer_action("order/PO%207%251/complete", json!([]))
        .await;
    assert_eq!(code, 400, "a refused body on the known order: {answer}");
    trade.server.shutdown().await.expect("stops");
}

/// specs/order.yaml, every order action: 404 "no order with this id (for
/// this user)". An order of another company is not the caller's: the
/// buyer's actions on an order of another buyer company, and the
/// supplier's `deliverySchedule` on one of another supplier company, are
/// a `404` naming the order, whatever the body, as an unknown id is; the
/// same actions on the mock's own orders are not.
#[tokio::test]
async fn another_company_s_order_is_not_found_for_its_actions() {
    let trade = Trade::start().await;
    let own = trade.issue("PO-ACTIONS-OWN", json!({})).await;
    let supplier_company = trade.supplier.company_id.clone();
    let buyer_company = trade.buyer.company_id.clone();
    // Another buyer's order with the mock's supplier, and the mock's
    // buyer's order with another supplier; one more of another buyer
    // known only as a single-delivery order.
    trade.store("other-buyers", ("someone-else", Some("someone-else-too")));
    trade.store("other-suppliers", (&buyer_company, Some("someone-else")));
    trade
        .server
        .insert_single_delivery_order(decode(json!({"id": "other-buyers-single",
            "buyerOrder": {"companyId": "someone-else"},
            "supplierOrder": {"companyId": supplier_company}, "lines": []})))
        .expect("stored");
    let positions = json!({"linePositions": ["0001"]});
    let buyer_actions = [
        ("complete", positions.clone()),
        ("deliver", positions.clone()),
        ("revertCancelled", positions.clone()),
        ("revertCompleted", positions.clone()),
        ("requests/buyer/approve", positions.clone()),
        (
            "requests/buyer/reject",
            json!({"linePositions": ["0001"], "reason": "no"}),
        ),
        ("line/0001/reschedule/approve", json!({})),
        ("line/0001/reschedule/reject", json!({"reason": "no"})),
        ("buyer/resend", json!({})),
        ("buyer/contact/reassign", json!({"userId": "someone"})),
        (
            "line/0001/deliverySchedule",
            json!({"deliverySchedule": [{"position": "1", "status": "Shipped"}]}),
        ),
    ];
    for order in ["other-buyers", "other-buyers-single"] {
        for (action, body) in &buyer_actions {
            // A fine body and one the generated code refuses alike.
            for body in [body.clone(), json!([])] {
                let (code, answer) = trade
                    .buyer_action(&format!("order/{order}/{action}"), body.clone())
                    .await;
                assert_eq!(code, 404, "{order} {action} {body}: {answer}");
                let said = answer.to_string();
                assert!(
                    said.contains(order) && said.contains("not an order of"),
                    "{answer}"
                );
            }
        }
    }
    // The supplier's side: another supplier's order is not found, an
    // order of the mock's supplier (with another buyer) is its own.
    let logistics = json!({"deliverySchedule": [{"position": "1", "status": "Shipped"}]});
    let (code, answer) = trade
        .supplier_action(
            "order/other-suppliers/line/0001/deliverySchedule",
            logistics.clone(),
        )
        .await;
    assert_eq!(code, 404, "{answer}");
    assert!(answer.to_string().contains("supplier"), "{answer}");
    // The buyer's own order (of the data, not moved by the process): 200.
    let (code, answer) = trade
        .buyer_action(
            "order/other-suppliers/line/0001/deliverySchedule",
            logistics.clone(),
        )
        .await;
    assert_eq!(code, 200, "{answer}");
    let (code, answer) = trade
        .supplier_action(
            &format!("order/{own}/line/0001/deliverySchedule"),
            logistics,
        )
        .await;
    assert_eq!(code, 200, "{answer}");
    let (code, answer) = trade
        .buyer_action(&format!("order/{own}/complete"), positions)
        .await;
    assert_eq!(code, 200, "{answer}");

    // Reading: GET /order/{orderId} shows a company its own orders only
    // (specs/order.yaml: 404 "no order with this id (or is not this
    // user's)"), through the SDK as a user meets it.
    use tradecloud::client::ClientError;
    let (buyer, supplier) = (
        client_of(&trade.server, &trade.buyer),
        client_of(&trade.server, &trade.supplier),
    );
    for (who, client, order, own_order) in [
        ("buyer", &buyer, "other-buyers", false),
        ("supplier", &supplier, "other-buyers", false),
        ("buyer", &buyer, "other-buyers-single", false),
        ("supplier", &supplier, "other-buyers-single", true),
        ("buyer", &buyer, "other-suppliers", true),
        ("supplier", &supplier, "other-suppliers", false),
        ("buyer", &buyer, own.as_str(), true),
        ("supplier", &supplier, own.as_str(), true),
    ] {
        let read = client.orders().get(order).await;
        if own_order {
            assert!(read.is_ok(), "{who} reads {order}: {read:?}");
        } else {
            match read {
                Err(ClientError::NotFound { message, .. }) => assert!(
                    message
                        .as_deref()
                        .is_some_and(|m| m.contains("not an order of")),
                    "{who} {order}: {message:?}"
                ),
                other => panic!("{who} reads another company's {order}: {other:?}"),
            }
        }
    }
    trade.server.shutdown().await.expect("stops");
}

/// specs/order.yaml, `/order/{orderId}/complete`, `/deliver`,
/// `/revertCancelled`, `/revertCompleted`: 404 "no line with this
/// position", 400 "the action does not apply to the lines", 409 "the order
/// changed since the given `version`"; a refused action changes nothing
/// and sends no event, and the SDK's typed call hands the mock's message on.
#[tokio::test]
async fn order_actions_refuse_what_the_spec_refuses() {
    use tradecloud::api::order::types::{OrderLinePositions, RevertOrderLines};
    use tradecloud::client::ClientError;

    let trade = Trade::start().await;
    let id = trade.issue("PO-ACTIONS-REFUSED", json!({})).await;
    let seen = trade.supplier_rx.count();
    let issued = ("Issued".to_owned(), String::new());

    // A position the order does not have: 404 naming it, 0001 not completed.
    let (code, body) = trade
        .buyer_action(
            &format!("order/{id}/complete"),
            json!({"linePositions": ["0001", "0099"]}),
        )
        .await;
    assert_eq!(code, 404, "{body}");
    assert!(body.to_string().contains("0099"), "{body}");
    let unknown = OrderLinePositions {
        line_positions: vec!["0099".into()],
        ..Default::default()
    };
    match trade
        .buyer_client
        .orders()
        .deliver_lines(&id, &unknown)
        .await
    {
        Err(ClientError::NotFound {
            message: Some(message),
            ..
        }) => assert!(message.contains("no line at position 0099"), "{message}"),
        other => panic!("expected NotFound with the mock's message, got {other:?}"),
    }
    // Nothing to revert on Issued lines: 400 naming each line and why.
    let (code, body) = trade
        .buyer_action(
            &format!("order/{id}/revertCompleted"),
            json!({"linePositions": ["0001", "0002"]}),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    let said = body.to_string();
    assert!(
        said.contains("line 0001: its processStatus is Issued")
            && said.contains("line 0002: its processStatus is Issued"),
        "{body}"
    );
    let order = trade.order(&id).await;
    assert_eq!(status(&order, "0001"), issued);
    assert_eq!(status(&order, "0002"), issued);

    // Completed, then reverted on a stale version: 409, still Completed.
    trade
        .buyer_client
        .orders()
        .complete_lines(
            &id,
            &OrderLinePositions {
                line_positions: vec!["0002".into()],
                ..Default::default()
            },
        )
        .await
        .expect("completed");
    // The refused actions sent nothing: the completion is the next event.
    assert_eq!(
        trade.supplier_rx.events_after(seen, 1).await,
        names(&[("OrderLinesCompletedByBuyer", &["0002"])])
    );
    let current = trade.order(&id).await.version.expect("a version");
    let revert = |version: i64| RevertOrderLines {
        line_positions: vec!["0002".into()],
        version: Some(version),
        ..Default::default()
    };
    let stale = revert(current - 1);
    match trade
        .buyer_client
        .orders()
        .revert_completed_lines(&id, &stale)
        .await
    {
        Err(
            error @ ClientError::Conflict {
                message: Some(_), ..
            },
        ) => {
            // The mock's message is kept, and the advice is the conflict's,
            // not "fix the request".
            let said = error.to_string();
            assert!(said.contains("fetch the order"), "{said}");
            assert!(
                said.contains("409 Conflict")
                    && said.contains(
                        "the order changed since you read it: fetch it again, decide, and send \
                         with the current version"
                    )
                    && !said.contains("fix the request"),
                "{said}"
            );
            assert_eq!(error.status(), Some(409));
        }
        other => panic!("expected a 409 Conflict with the mock's message, got {other:?}"),
    }
    let order = trade.order(&id).await;
    assert_eq!(order.version, Some(current));
    assert_eq!(
        status(&order, "0002"),
        ("Completed".to_owned(), String::new())
    );
    // On the current version: reverted.
    trade
        .buyer_client
        .orders()
        .revert_completed_lines(&id, &revert(current))
        .await
        .expect("reverted");
    assert_eq!(
        trade.supplier_rx.events_after(seen + 1, 1).await,
        names(&[("CompletedOrderLinesRevertedByBuyer", &["0002"])])
    );

    // Delivered once; delivering it again is refused with why.
    let first = OrderLinePositions {
        line_positions: vec!["0001".into()],
        ..Default::default()
    };
    trade
        .buyer_client
        .orders()
        .deliver_lines(&id, &first)
        .await
        .expect("delivered");
    match trade.buyer_client.orders().deliver_lines(&id, &first).await {
        Err(ClientError::Rejected {
            status: 400,
            message: Some(message),
            ..
        }) => assert!(
            message.contains("line 0001: its logisticsStatus is Delivered"),
            "{message}"
        ),
        other => panic!("expected a 400 with the mock's message, got {other:?}"),
    }
    trade.server.shutdown().await.expect("stops");
}

/// `POST /order/{orderId}/deliver` on a Completed line: refused, as the
/// portal's "mark as delivered" refuses it (order/buyer/receive-goods.md
/// and order/buyer/complete.md do not say what the API answers); beside a
/// line that can be delivered, the Completed line is left as it is.
#[tokio::test]
async fn delivering_a_completed_line_is_refused() {
    use tradecloud::api::order::types::OrderLinePositions;
    use tradecloud::client::ClientError;

    let trade = Trade::start().await;
    let id = trade.issue("PO-DELIVER-COMPLETED", json!({})).await;
    let positions = |named: &[&str]| OrderLinePositions {
        line_positions: named.iter().map(|p| (*p).to_owned()).collect(),
        ..Default::default()
    };
    let logistics = |order: &Order, position: &str| {
        serde_json::to_value(line(order, position)).unwrap_or_default()["status"]["logisticsStatus"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    trade
        .buyer_client
        .orders()
        .complete_lines(&id, &positions(&["0002"]))
        .await
        .expect("completed");
    let before = trade.order(&id).await;
    let was = logistics(&before, "0002");
    assert_ne!(was, "Delivered");

    match trade
        .buyer_client
        .orders()
        .deliver_lines(&id, &positions(&["0002"]))
        .await
    {
        Err(ClientError::Rejected {
            status: 400,
            message: Some(message),
            ..
        }) => assert!(
            message.contains("line 0002: its processStatus is Completed"),
            "{message}"
        ),
        other => panic!("expected a 400 with the mock's message, got {other:?}"),
    }
    let order = trade.order(&id).await;
    assert_eq!(order.version, before.version, "nothing changed");
    assert_eq!(logistics(&order, "0002"), was);

    trade
        .buyer_client
        .orders()
        .deliver_lines(&id, &positions(&["0001", "0002"]))
        .await
        .expect("0001 delivered");
    let order = trade.order(&id).await;
    assert_eq!(logistics(&order, "0001"), "Delivered");
    assert_eq!(logistics(&order, "0002"), was);
    assert_eq!(
        status(&order, "0002"),
        ("Completed".to_owned(), String::new())
    );
    trade.server.shutdown().await.expect("stops");
}

/// order/status.md#L28-L32: the order logistics status is the stage the
/// order's full quantity reached (`Shipped`: "the order full quantity is
/// shipped"), so the lowest stage its (not cancelled) lines reached: one
/// line shipped and one delivered is a shipped order, not an open one.
#[tokio::test]
async fn the_order_logistics_status_is_the_stage_all_lines_reached() {
    let trade = Trade::start().await;
    let id = trade.issue("PO-LOGISTICS-MIX", json!({})).await;
    let logistics = |order: &Order| {
        serde_json::to_value(order).unwrap_or_default()["status"]["logisticsStatus"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let indicators: connector::SendOrderIndicatorsByBuyer = decode(json!({
        "order": {"purchaseOrderNumber": "PO-LOGISTICS-MIX"},
        "lines": [{"position": "0001", "indicators": {"shipped": true}}]
    }));
    trade
        .buyer_client
        .orders()
        .send_indicators(&indicators)
        .await
        .expect("sent");
    // One line shipped, one open: the full quantity is not shipped.
    assert_eq!(logistics(&trade.order(&id).await), "Open");
    let indicators: connector::SendOrderIndicatorsByBuyer = decode(json!({
        "order": {"purchaseOrderNumber": "PO-LOGISTICS-MIX"},
        "lines": [{"position": "0002", "indicators": {"delivered": true}}]
    }));
    trade
        .buyer_client
        .orders()
        .send_indicators(&indicators)
        .await
        .expect("sent");
    let order = trade.order(&id).await;
    let line_logistics = |position: &str| {
        serde_json::to_value(line(&order, position)).unwrap_or_default()["status"]
            ["logisticsStatus"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        (line_logistics("0001"), line_logistics("0002")),
        ("Shipped".to_owned(), "Delivered".to_owned())
    );
    assert_eq!(logistics(&order), "Shipped");
    trade.server.shutdown().await.expect("stops");
}
