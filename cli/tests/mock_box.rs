//! The mock as "Tradecloud in a box": a buyer and a supplier company,
//! each with its own integration user, trading through the SDK client
//! over real HTTP (issue 22 items 1 and 2): the buyer sends an order, the
//! supplier confirms one line and proposes another, the buyer approves the
//! proposal, the supplier sends a despatch advice; GET order, the
//! single-delivery view, the polls and GET shipment show each step. And
//! `tradecloud mock --info-file` writes what a script needs to log in.

use std::time::Duration;

use serde::de::DeserializeOwned;
use tradecloud::api::api_connector::types as connector;
use tradecloud::api::common::types::{
    Document, LineInProgressStatus, LineProcessStatus, Order, OrderLine, OrderProcessStatus,
    RequestStatus,
};
use tradecloud::api::order::types::ApproveRequestsAsBuyer;
use tradecloud::client::Client;
use tradecloud::mock::{MockConfig, MockInfo, MockParty, MockServer};

use crate::client_support as support;
use support::{builder, start};

fn decode<T: DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("decodes: {e}"))
}

/// A client of `server` logging in as `party`'s integration user.
fn client_of(server: &MockServer, party: &MockParty) -> Client {
    builder(server)
        .credentials(
            party.credentials.username.clone(),
            party.credentials.password.clone(),
        )
        .build()
        .expect("a client")
}

fn line<'o>(order: &'o Order, position: &str) -> &'o OrderLine {
    order
        .lines
        .iter()
        .find(|l| l.position() == position)
        .unwrap_or_else(|| panic!("the order has no line {position}"))
}

fn process(line: &OrderLine) -> Option<LineProcessStatus> {
    line.process_status().cloned()
}

fn first_date(schedule_dates: Vec<String>) -> String {
    schedule_dates.into_iter().next().unwrap_or_default()
}

/// The dates of a line's current delivery schedule.
fn dates(line: &OrderLine) -> Vec<String> {
    line.delivery_schedule
        .iter()
        .filter_map(|d| d.date.as_ref().map(|d| d.to_string()))
        .collect()
}

fn dates_including_requests(line: &OrderLine) -> Vec<String> {
    line.delivery_schedule_including_requests
        .iter()
        .filter_map(|d| d.date.as_ref().map(|d| d.to_string()))
        .collect()
}

/// Buyer `PO-BOX-1`: line 0001 (10 on 2026-03-01 at 5 EUR), line 0002
/// (4 on 2026-03-08 at 7 EUR), for the supplier the buyer knows as
/// `supplier_account_number`.
fn order_message(supplier_account_number: &str) -> connector::SendOrderByBuyer {
    decode(serde_json::json!({
        "order": {"supplierAccountNumber": supplier_account_number,
                  "purchaseOrderNumber": "PO-BOX-1"},
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

#[tokio::test]
async fn buyer_and_supplier_trade_an_order_and_a_shipment() {
    let server = start(MockConfig::new()).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    assert_ne!(buyer.company_id, supplier.company_id);
    let buyer_client = client_of(&server, &buyer);
    let supplier_client = client_of(&server, &supplier);

    // Before anything: an empty poll, its watermark kept.
    let before = buyer_client
        .orders()
        .poll_since(None)
        .await
        .expect("the first poll");
    assert!(before.items.is_empty());

    // The buyer sends an order.
    let message = order_message(&buyer.partner_account_number);
    let ok = buyer_client.orders().send(&message).await.expect("sent");
    assert_eq!(ok.ok, Some(true));
    let polled = buyer_client
        .orders()
        .poll_since(before.next_watermark.clone())
        .await
        .expect("a poll");
    assert_eq!(polled.items.len(), 1, "the poll shows the new order");
    let order_id = polled.items[0].id.clone().expect("the order has an id");
    let order = buyer_client
        .orders()
        .get(&order_id)
        .await
        .expect("GET order");
    for position in ["0001", "0002"] {
        let line = line(&order, position);
        assert_eq!(process(line), Some(LineProcessStatus::Issued));
        assert!(line.id.is_some());
    }
    assert_eq!(
        order
            .supplier_order
            .as_ref()
            .and_then(|s| s.company_id.as_deref()),
        Some(supplier.company_id.as_str())
    );
    assert_eq!(
        order
            .supplier_order
            .as_ref()
            .and_then(|s| s.buyer_account_number.as_deref()),
        Some(supplier.partner_account_number.as_str())
    );
    let watermark = polled.next_watermark.clone();

    // The supplier sees it too, and confirms 0001 and proposes another
    // date for 0002.
    let seen = supplier_client.orders().get(&order_id).await.expect("GET");
    assert_eq!(seen.id.as_deref(), Some(order_id.as_str()));
    let response: connector::SendOrderResponseBySupplier = decode(serde_json::json!({
        "order": {"buyerAccountNumber": supplier.partner_account_number,
                  "purchaseOrderNumber": "PO-BOX-1"},
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
    let order = buyer_client.orders().get(&order_id).await.expect("GET");
    assert_eq!(
        process(line(&order, "0001")),
        Some(LineProcessStatus::Confirmed)
    );
    let proposed = line(&order, "0002");
    assert_eq!(process(proposed), Some(LineProcessStatus::InProgress));
    assert_eq!(
        proposed.in_progress_status(),
        Some(&LineInProgressStatus::OpenSupplierProposal)
    );
    assert_eq!(first_date(dates(proposed)), "2026-03-08");
    assert_eq!(first_date(dates_including_requests(proposed)), "2026-03-22");
    // The proposal itself, as the buyer's ERP reads it.
    let proposal = proposed.open_supplier_request().expect("an open proposal");
    assert_eq!(proposal.quantity(), Some(4.into()));
    assert_eq!(proposal.net_price(), Some(7.into()));
    assert_eq!(proposal.currency(), Some("EUR"));
    assert_eq!(proposal.reason.as_deref(), Some("capacity"));
    assert_eq!(proposed.quantity_including_requests(), Some(4.into()));
    assert_eq!(
        order.process_status().cloned(),
        Some(OrderProcessStatus::InProgress)
    );

    // The poll after the old watermark shows the order again, with the
    // new state.
    let polled = buyer_client
        .orders()
        .poll_since(watermark.clone())
        .await
        .expect("a poll");
    assert_eq!(polled.items.len(), 1);
    assert!(polled.items[0].last_updated_at > watermark);
    // The single-delivery view shows it as well.
    let single = buyer_client
        .single_delivery_orders()
        .poll_since(watermark.clone())
        .await
        .expect("a single-delivery poll");
    assert_eq!(single.items.len(), 1);
    assert_eq!(single.items[0].id.as_deref(), Some(order_id.as_str()));

    // The buyer approves the proposal.
    let approval = ApproveRequestsAsBuyer {
        line_positions: vec!["0002".into()],
        ..Default::default()
    };
    buyer_client
        .orders()
        .approve_requests(&order_id, &approval)
        .await
        .expect("approved");
    let order = buyer_client.orders().get(&order_id).await.expect("GET");
    let approved = line(&order, "0002");
    assert_eq!(process(approved), Some(LineProcessStatus::Confirmed));
    assert_eq!(dates(approved), vec!["2026-03-22".to_string()]);
    assert_eq!(
        approved.supplier_proposal().and_then(|p| p.status.clone()),
        Some(RequestStatus::Approved)
    );
    assert!(approved.open_supplier_request().is_none());
    assert_eq!(
        order.process_status().cloned(),
        Some(OrderProcessStatus::Confirmed)
    );

    // The supplier sends a despatch advice: a shipment.
    let shipments_before = buyer_client
        .shipments()
        .poll_since(None)
        .await
        .expect("a shipment poll");
    let advice: connector::SendDespatchAdviceBySupplier = decode(serde_json::json!({
        "header": {"buyerAccountNumber": supplier.partner_account_number,
                   "despatchAdviceNumber": "DA-BOX-1",
                   "shipment": {"shipmentNumber": "SHIP-1", "transportMode": "3"}},
        "lines": [{"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO-BOX-1",
                   "purchaseOrderLinePosition": "0001", "despatchQuantity": 10}]
    }));
    supplier_client
        .shipments()
        .send_despatch_advice(&advice)
        .await
        .expect("despatch advice sent");
    let shipments = buyer_client
        .shipments()
        .poll_since(shipments_before.next_watermark.clone())
        .await
        .expect("a shipment poll");
    assert_eq!(shipments.items.len(), 1, "the poll shows the new shipment");
    let shipment_id = shipments.items[0].id.clone().expect("a shipment id");
    let shipment = buyer_client
        .shipments()
        .get(&shipment_id)
        .await
        .expect("GET shipment");
    assert_eq!(shipment.lines.len(), 1);
    assert_eq!(
        shipment.lines[0].purchase_order_number.as_deref(),
        Some("PO-BOX-1")
    );
    assert_eq!(
        shipment
            .buyer_shipment
            .as_ref()
            .and_then(|b| b.company_id.as_deref()),
        Some(buyer.company_id.as_str())
    );
    server.shutdown().await.expect("stops");
}

/// A request body of Tradecloud's documentation (tests/fixtures/requests).
fn published<T: DeserializeOwned>(name: &str) -> T {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/requests/api-connector")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Tradecloud's published examples, as they are (their account numbers
/// and company ids are the mock's defaults): the buyer issues
/// PO123456789, the supplier accepts 0001 and rejects 0002, the buyer
/// cancels 0002 and sends a single-delivery update.
#[tokio::test]
async fn the_published_examples_trade_as_documented() {
    let server = start(MockConfig::new()).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let buyer_client = client_of(&server, &buyer);
    let supplier_client = client_of(&server, &supplier);
    let order: connector::SendOrderByBuyer = published("sendOrderByBuyerRoute.issue-page.json");
    buyer_client.orders().send(&order).await.expect("sent");
    let polled = buyer_client.orders().poll_since(None).await.expect("poll");
    assert_eq!(polled.items.len(), 1);
    let order_id = polled.items[0].id.clone().expect("an id");
    let response: connector::SendOrderResponseBySupplier =
        published("sendOrderResponseBySupplierRoute.line-acceptance.json");
    supplier_client
        .orders()
        .respond(&response)
        .await
        .expect("sent");
    let order = buyer_client.orders().get(&order_id).await.expect("GET");
    // The published order marks line 0001 `proposeWhenAccepted`: the
    // supplier's acceptance is a proposal with the requested values,
    // for the buyer to approve (order/buyer/issue/propose-when-accepted.md).
    assert_eq!(
        process(line(&order, "0001")),
        Some(LineProcessStatus::InProgress)
    );
    assert_eq!(
        line(&order, "0001").in_progress_status(),
        Some(&LineInProgressStatus::OpenSupplierProposal)
    );
    assert_eq!(
        process(line(&order, "0002")),
        Some(LineProcessStatus::Rejected)
    );
    let approve: tradecloud::api::order::types::ApproveRequestsAsBuyer =
        decode(serde_json::json!({"linePositions": ["0001"]}));
    buyer_client
        .orders()
        .approve_requests(&order_id, &approve)
        .await
        .expect("approved");
    let order = buyer_client.orders().get(&order_id).await.expect("GET");
    assert_eq!(
        process(line(&order, "0001")),
        Some(LineProcessStatus::Confirmed)
    );
    assert_eq!(
        process(line(&order, "0003")),
        Some(LineProcessStatus::Issued)
    );
    let cancel: connector::SendOrderIndicatorsByBuyer =
        published("sendOrderIndicatorsByBuyerRoute.cancel-page.json");
    buyer_client
        .orders()
        .send_indicators(&cancel)
        .await
        .expect("sent");
    let order = buyer_client.orders().get(&order_id).await.expect("GET");
    assert_eq!(
        process(line(&order, "0002")),
        Some(LineProcessStatus::Cancelled)
    );
    assert_eq!(
        process(line(&order, "0001")),
        Some(LineProcessStatus::Confirmed)
    );
    // Goods received in full, then the line is completed by an order action.
    let receipt: connector::SendOrderDeliveriesByBuyer = decode(serde_json::json!({
        "order": {"purchaseOrderNumber": "PO123456789"},
        "lines": [{"position": "0002", "deliveries": [{"date": "2026-02-01", "quantity": 8}]}]
    }));
    buyer_client
        .orders()
        .send_deliveries(&receipt)
        .await
        .expect("sent");
    let positions: tradecloud::api::order::types::OrderLinePositions =
        decode(serde_json::json!({"linePositions": ["0001"]}));
    buyer_client
        .orders()
        .complete_lines(&order_id, &positions)
        .await
        .expect("completed");
    let order = buyer_client.orders().get(&order_id).await.expect("GET");
    assert_eq!(
        process(line(&order, "0001")),
        Some(LineProcessStatus::Completed)
    );
    assert_eq!(
        line(&order, "0002")
            .buyer_line
            .as_ref()
            .map(|b| b.delivery_history.len()),
        Some(1)
    );
    // The published despatch advice makes a shipment.
    let advice: connector::SendDespatchAdviceBySupplier =
        published("sendDespatchAdviceBySupplierRoute.send-despatch-advice-page.json");
    supplier_client
        .shipments()
        .send_despatch_advice(&advice)
        .await
        .expect("sent");
    let shipments = buyer_client
        .shipments()
        .poll_since(None)
        .await
        .expect("poll");
    assert_eq!(shipments.items.len(), 1);
}

/// The documents of the buyer's part of the order (`None`: no line).
fn buyer_documents(order: &Order, position: Option<&str>) -> Vec<Document> {
    match position {
        None => order
            .buyer_order
            .as_ref()
            .map(|b| b.documents.clone())
            .unwrap_or_default(),
        Some(position) => line(order, position)
            .buyer_line
            .as_ref()
            .map(|b| b.documents.clone())
            .unwrap_or_default(),
    }
}

#[tokio::test]
async fn the_buyer_s_documents_reach_the_supplier_and_re_attaching_replaces() {
    let server = start(MockConfig::new()).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let buyer_client = client_of(&server, &buyer);
    let supplier_client = client_of(&server, &supplier);

    // The buyer sends an order with a document on its content server,
    // and a meta data only document on line 0002.
    let mut message = order_message(&buyer.partner_account_number);
    message.order.documents = Some(vec![decode(serde_json::json!({
        "code": "TERMS", "revision": "1", "name": "Terms.pdf",
        "description": "General terms", "type": "General",
        "url": "https://example.com/terms-1.pdf"
    }))]);
    if let Some(lines) = message.lines.as_mut() {
        lines[1].documents = Some(vec![decode(serde_json::json!({
            "code": "DRAWING-B2", "revision": "C", "name": "Drawing B-2"
        }))]);
    }
    buyer_client.orders().send(&message).await.expect("sent");
    let polled = supplier_client
        .orders()
        .poll_since(None)
        .await
        .expect("a poll");
    let order_id = polled.items[0].id.clone().expect("an id");
    let seen = supplier_client.orders().get(&order_id).await.expect("GET");
    let documents = buyer_documents(&seen, None);
    assert_eq!(documents.len(), 1, "{documents:?}");
    assert_eq!(
        documents[0].url.as_deref(),
        Some("https://example.com/terms-1.pdf")
    );
    assert_eq!(documents[0].description.as_deref(), Some("General terms"));
    assert_eq!(documents[0].type_.as_deref(), Some("General"));
    assert_eq!(
        buyer_documents(&seen, Some("0002"))[0].revision.as_deref(),
        Some("C")
    );
    assert!(buyer_documents(&seen, Some("0001")).is_empty());

    // Attaching a new revision with the same code replaces it; another
    // code is appended; the order is stamped again.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let attach: connector::AttachOrderDocumentsByBuyer = decode(serde_json::json!({
        "order": {"purchaseOrderNumber": "PO-BOX-1",
                  "documents": [{"code": "TERMS", "revision": "2",
                                 "url": "https://example.com/terms-2.pdf"},
                                {"code": "NDA", "url": "https://example.com/nda.pdf"}]},
        "lines": [{"position": "0002",
                   "documents": [{"code": "DRAWING-B2", "revision": "D", "name": "Drawing B-2"}]}]
    }));
    buyer_client
        .orders()
        .attach_documents(&attach)
        .await
        .expect("attached");
    let after = supplier_client.orders().get(&order_id).await.expect("GET");
    let documents = buyer_documents(&after, None);
    let codes: Vec<_> = documents.iter().filter_map(|d| d.code.as_deref()).collect();
    assert_eq!(codes, ["TERMS", "NDA"]);
    assert_eq!(documents[0].revision.as_deref(), Some("2"));
    assert_eq!(
        documents[0].url.as_deref(),
        Some("https://example.com/terms-2.pdf")
    );
    let line_documents = buyer_documents(&after, Some("0002"));
    assert_eq!(line_documents.len(), 1);
    assert_eq!(line_documents[0].revision.as_deref(), Some("D"));
    let stamp = |o: &Order| o.last_updated_at.clone().expect("lastUpdatedAt");
    assert!(stamp(&after).to_utc() > stamp(&seen).to_utc());
    assert!(after.version > seen.version);

    // The buyer updates the order without documents: they stay attached.
    buyer_client
        .orders()
        .send(&order_message(&buyer.partner_account_number))
        .await
        .expect("sent");
    let updated = supplier_client.orders().get(&order_id).await.expect("GET");
    assert_eq!(buyer_documents(&updated, None), documents);
    assert_eq!(buyer_documents(&updated, Some("0002")), line_documents);
}

#[tokio::test]
async fn messages_for_unknown_orders_or_partners_are_accepted_and_change_nothing() {
    let server = start(MockConfig::new()).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let buyer_client = client_of(&server, &buyer);
    let supplier_client = client_of(&server, &supplier);
    // An order for a supplier the buyer has no connection with.
    let ok = buyer_client
        .orders()
        .send(&order_message("NOT-CONNECTED"))
        .await
        .expect("accepted");
    assert_eq!(ok.ok, Some(true));
    // The supplier cannot send orders as the buyer: refused at once
    // (security/authorization.md), not accepted and dropped.
    let e = supplier_client
        .orders()
        .send(&order_message(&buyer.partner_account_number))
        .await
        .expect_err("the buyer's action");
    assert_eq!(e.status(), Some(403), "{e}");
    assert!(e.to_string().contains("is the buyer's action"), "{e}");
    // A response for an order nobody sent.
    let response: connector::SendOrderResponseBySupplier = decode(serde_json::json!({
        "order": {"buyerAccountNumber": supplier.partner_account_number,
                  "purchaseOrderNumber": "PO-UNKNOWN"},
        "lines": [{"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}}]
    }));
    let ok = supplier_client
        .orders()
        .respond(&response)
        .await
        .expect("accepted");
    assert_eq!(ok.ok, Some(true));
    assert_eq!(server.data_summary().orders, 0);
}

#[tokio::test]
async fn the_single_user_default_still_logs_in_and_acts_for_both() {
    let server = start(MockConfig::new()).await;
    let client = support::client(&server);
    client
        .orders()
        .send(&order_message(&server.buyer().partner_account_number))
        .await
        .expect("sent");
    assert_eq!(server.data_summary().orders, 1);
}

/// `tradecloud mock --info-file PATH`: the file appears once the port
/// listens, parses, and its credentials log in.
#[tokio::test]
async fn the_info_file_tells_scripts_how_to_log_in() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("mock.json");
    let mut child = crate::cli_support::mock_process_with_info_file(&path).await;
    let text = std::fs::read_to_string(&path).expect("the info file reads");
    let raw: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    for member in [
        "/base_url",
        "/buyer/company_id",
        "/buyer/username",
        "/buyer/password",
        "/buyer/supplier_account_number",
        "/supplier/company_id",
        "/supplier/username",
        "/supplier/password",
        "/supplier/buyer_account_number",
    ] {
        assert!(
            raw.pointer(member).is_some_and(|v| v.is_string()),
            "{member} in {text}"
        );
    }
    let info: MockInfo = serde_json::from_str(&text).expect("a MockInfo");
    for (username, password) in [
        (&info.buyer.username, &info.buyer.password),
        (&info.supplier.username, &info.supplier.password),
        (&info.username, &info.password),
    ] {
        let client = Client::builder()
            .environment(tradecloud::client::Environment::custom(
                info.base_url.clone(),
            ))
            .credentials(username.clone(), password.clone())
            .without_rate_limit()
            .build()
            .expect("a client");
        client
            .orders()
            .poll_since(None)
            .await
            .unwrap_or_else(|e| panic!("{username} logs in and polls: {e}"));
    }
    let wrong = Client::builder()
        .environment(tradecloud::client::Environment::custom(
            info.base_url.clone(),
        ))
        .credentials(info.buyer.username.clone(), "wrong".to_string())
        .without_rate_limit()
        .build()
        .expect("a client");
    assert!(wrong.orders().get("x").await.is_err());
    child.kill().await.expect("the mock stops");
}

/// README, "Both sides trading": for one receiver on this machine, the
/// certificate `tradecloud serve --dev-tls --dev-cert-out PATH` writes is
/// what `tradecloud mock --ca-file PATH` needs to deliver webhooks to it
/// over HTTPS, with no CA of one's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mock_delivers_to_a_dev_tls_receiver_trusting_its_dev_certificate() {
    use std::process::Stdio;
    let exe = env!("CARGO_BIN_EXE_tradecloud");
    let dir = tempfile::tempdir().unwrap();
    let port = crate::port_support::free_port();
    std::fs::write(
        dir.path().join("tc.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n\
             [auth]\nmethod = \"basic\"\nusername = \"tradecloud\"\npassword = \"supplier-webhook-secret\"\n\
             [store]\nurl = \"sqlite://inbox.db\"\n"
        ),
    )
    .unwrap();
    let _serve = tokio::process::Command::new(exe)
        .args([
            "serve",
            "--dev-tls",
            "--dev-cert-out",
            "dev.pem",
            "--receive-only",
        ])
        .args(["--config", "tc.toml"])
        .current_dir(dir.path())
        .env_remove("TRADECLOUD_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("serve runs");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !(dir.path().join("dev.pem").exists()
        && tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok())
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "serve did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    std::fs::write(
        dir.path().join("hooks.json"),
        serde_json::json!({"supplier": {"orderEvents": {
            "webhookUrl": format!("https://localhost:{port}/tradecloud/order"),
            "basicAuthCredentials": {"username": "tradecloud", "password": "supplier-webhook-secret"}
        }}})
        .to_string(),
    )
    .unwrap();
    let _mock = tokio::process::Command::new(exe)
        .args([
            "mock",
            "--listen",
            "127.0.0.1:0",
            "--info-file",
            "mock.json",
        ])
        .args(["--webhooks", "hooks.json", "--ca-file", "dev.pem"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the mock runs");
    while !dir.path().join("mock.json").exists() {
        assert!(tokio::time::Instant::now() < deadline, "no info file");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("mock.json")).unwrap()).unwrap();
    let base_url = info["base_url"].as_str().unwrap();
    let buyer = Client::builder()
        .base_url(base_url)
        .credentials(
            info["buyer"]["username"].as_str().unwrap(),
            info["buyer"]["password"].as_str().unwrap(),
        )
        .build()
        .unwrap();
    let order = order_message(info["buyer"]["supplier_account_number"].as_str().unwrap());
    buyer
        .orders()
        .send(&order)
        .await
        .expect("the order is taken");
    // The supplier's OrderIssuedByBuyer, as the mock's delivery log has it.
    let deliveries = format!("{}/mock/deliveries", base_url.trim_end_matches("/v2"));
    let attempt = loop {
        let log: Vec<serde_json::Value> = reqwest::get(&deliveries)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(attempt) = log
            .iter()
            .find(|a| a["eventName"] == "OrderIssuedByBuyer" && a["outcome"] != "retrying")
        {
            break attempt.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing delivered: {log:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(attempt["outcome"], "delivered", "{attempt}");
    assert_eq!(attempt["status"], 202, "{attempt}");
}

/// The order whose `buyerOrder.purchaseOrderNumber` is `number` anywhere
/// in `value` (an order poll's answer).
fn order_in(value: &serde_json::Value, number: &str) -> Option<serde_json::Value> {
    match value {
        serde_json::Value::Object(members) => {
            if value["buyerOrder"]["purchaseOrderNumber"] == number && value["id"].is_string() {
                return Some(value.clone());
            }
            members.values().find_map(|v| order_in(v, number))
        }
        serde_json::Value::Array(items) => items.iter().find_map(|v| order_in(v, number)),
        _ => None,
    }
}

/// `tradecloud mock order ...` against a real `tradecloud mock` process:
/// the supplier marks a line delivered, the buyer marks it open again and
/// resends the order, each as its user from the mock's info file, the
/// order printed as it is afterwards (the order poll shows it); a line that
/// cannot take the action is the mock's 400, exit status 3 with its
/// message.
#[tokio::test]
async fn tradecloud_mock_order_marks_lines_and_resends_on_a_running_mock() {
    use crate::cli_support::{run, text, NO_VARIABLES};

    let dir = tempfile::tempdir().expect("a temporary directory");
    let info_path = dir.path().join("mock.json");
    let mut child = crate::cli_support::mock_process_with_info_file(&info_path).await;
    let info: MockInfo =
        serde_json::from_slice(&std::fs::read(&info_path).expect("the info file")).expect("JSON");
    let info_file = info_path.to_str().expect("a UTF-8 path").to_owned();
    let http = reqwest::Client::new();
    // The buyer issues an order, line 0001 confirmed.
    let message = serde_json::json!({
        "order": {"supplierAccountNumber": info.buyer.supplier_account_number,
                  "purchaseOrderNumber": "PO-CLI-PORTAL"},
        "lines": [{"position": "0001", "item": {"number": "A-1", "name": "Bolt"},
                   "deliverySchedule": [{"position": "1", "date": "2026-03-01", "quantity": 10}],
                   "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 2, "currencyIso": "EUR"}}},
                   "indicators": {"confirmed": true}}]
    });
    let status = http
        .post(format!("{}/api-connector/order", info.base_url))
        .basic_auth(&info.buyer.username, Some(&info.buyer.password))
        .json(&message)
        .send()
        .await
        .expect("answered")
        .status();
    assert_eq!(status, 200);
    let polled = || async {
        let poll: serde_json::Value = http
            .post(format!("{}/order-search/poll", info.base_url))
            .basic_auth(&info.buyer.username, Some(&info.buyer.password))
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("answered")
            .json()
            .await
            .expect("JSON");
        order_in(&poll, "PO-CLI-PORTAL").expect("the order in the poll")
    };
    let issued = polled().await;
    let id = issued["id"].as_str().expect("an id").to_owned();
    let order = |output: &std::process::Output| -> serde_json::Value {
        assert!(
            output.status.success(),
            "{:?}: {}",
            output.status,
            text(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("the order as JSON")
    };
    let logistics =
        |order: &serde_json::Value| order["lines"][0]["status"]["logisticsStatus"].clone();
    let act = |args: &[&str]| {
        let mut all = vec!["mock", "order"];
        all.extend_from_slice(args);
        all.extend(["--info-file", &info_file]);
        all.iter().map(|a| (*a).to_owned()).collect::<Vec<String>>()
    };
    let run_act = |args: Vec<String>| {
        let dir = dir.path().to_owned();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&dir, &NO_VARIABLES, &args).await
        }
    };

    let delivered = order(&run_act(act(&["deliver", "--by", "supplier", &id, "0001"])).await);
    assert_eq!(logistics(&delivered), "Delivered", "{delivered:#}");
    let output = run_act(act(&["deliver", "--by", "buyer", &id, "0001"])).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("400") && stderr.contains("logisticsStatus is Delivered"),
        "{stderr}"
    );
    let opened = order(&run_act(act(&["open", "--by", "buyer", &id, "0001"])).await);
    assert_eq!(logistics(&opened), "Open", "{opened:#}");
    let resent = order(&run_act(act(&["resend", "--by", "buyer", &id])).await);
    assert_eq!(resent, opened);
    assert_eq!(
        polled().await,
        opened,
        "the poll shows the order as printed"
    );
    child.kill().await.expect("the mock stops");
}
