//! The mock plays the portal actions on a shipment
//! (connectors/webhooks/shipment-events.md): the buyer approves, rejects
//! with a reason and resends, the supplier updates the header, either
//! attaches documents. Each changes the shipment as
//! shipment/buyer/receive/README.md says (`processStatus`,
//! `processStatusReason`, `documents` with `meta.lastUpdatedAt`), shows in
//! GET shipment and the poll, and reaches the other company's shipment
//! webhook (plain receivers on loopback) with a body that parses with the
//! generated `ShipmentWebhookBody`. Bad input is a clear 4xx.

#![cfg(feature = "mock")]

use std::time::Duration;

use tradecloud::api::api_connector::types as connector;
use tradecloud::api::common::types::{ShipmentIdentifiers, ShipmentProcessStatus};
use tradecloud::api::shipment_webhook_connector::types::ShipmentWebhookBody;
use tradecloud::mock::{
    HeaderUpdate, MockConfig, MockDocument, MockError, MockParty, MockServer, ShipmentAction,
};

use crate::client_support::start;
use crate::mock_support::{client_of, token, Received, Receiver};

const SHIPMENT_EVENTS: &str = "shipment-webhook-connector/company/{companyId}/settings";

fn shipment_body(received: &Received) -> ShipmentWebhookBody {
    if let Err(e) = tradecloud::webhook::decode(
        tradecloud::webhook::Endpoint::Shipment,
        "application/json",
        &received.body,
    ) {
        panic!(
            "a receiver refuses this shipment webhook: {e}\n{}",
            String::from_utf8_lossy(&received.body)
        );
    }
    serde_json::from_slice(&received.body).unwrap_or_else(|e| panic!("decodes: {e}"))
}

/// Point `party`'s shipment webhook at `receiver`.
async fn shipment_webhook(
    server: &MockServer,
    party: &MockParty,
    receiver: &Receiver,
    enabled: &[&str],
) {
    let url = format!(
        "{}/{}",
        server.base_url(),
        SHIPMENT_EVENTS.replace("{companyId}", &party.company_id)
    );
    let mut settings = serde_json::json!({
        "method": "POST",
        "webhookUrl": format!("{}/shipments", receiver.url),
    });
    if !enabled.is_empty() {
        settings["enabledEventNames"] = serde_json::json!(enabled);
    }
    let status = reqwest::Client::new()
        .put(url)
        .bearer_auth(token(server, party).await)
        .json(&settings)
        .send()
        .await
        .expect("settings sent")
        .status();
    assert_eq!(status, 200);
}

/// `POST /mock/shipment/{id}/{action}` as `party` (Bearer), with `body`
/// (raw; `None`: no body) and optional extra header.
async fn act(
    server: &MockServer,
    party: &MockParty,
    id: &str,
    action: &str,
    body: Option<&str>,
    traceparent: Option<&str>,
) -> (u16, serde_json::Value) {
    let root = server.base_url().trim_end_matches("/v2").to_owned();
    let mut request = reqwest::Client::new()
        .post(format!("{root}/mock/shipment/{id}/{action}"))
        .bearer_auth(token(server, party).await);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    if let Some(traceparent) = traceparent {
        request = request.header("traceparent", traceparent);
    }
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

fn advice(
    supplier: &MockParty,
    number: &str,
    shipment_number: &str,
) -> connector::SendDespatchAdviceBySupplier {
    serde_json::from_value(serde_json::json!({
        "header": {"buyerAccountNumber": supplier.partner_account_number,
                   "despatchAdviceNumber": number,
                   "shipment": {"shipmentNumber": shipment_number, "transportMode": "3"}},
        "lines": [{"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO-PORTAL-1",
                   "purchaseOrderLinePosition": "0001", "despatchQuantity": 10}]
    }))
    .unwrap_or_else(|e| panic!("an advice: {e}"))
}

/// The supplier's despatch advice: the shipment's id (from the buyer's
/// `ShipmentIssuedBySupplier`, the `received`-th request there).
async fn issue(server: &MockServer, buyer_rx: &Receiver, received: usize, number: &str) -> String {
    let supplier = server.supplier();
    client_of(server, &supplier)
        .shipments()
        .send_despatch_advice(&advice(&supplier, number, "SHIP-1"))
        .await
        .expect("despatch advice sent");
    let got = buyer_rx.wait_for(received).await;
    let issued = shipment_body(&got[received - 1]);
    assert_eq!(issued.event_name.to_string(), "ShipmentIssuedBySupplier");
    issued.shipment.id.clone().expect("the shipment has an id")
}

#[tokio::test]
async fn portal_actions_change_the_shipment_and_reach_the_other_company() {
    let server = start(MockConfig::new().delivery_backoff(Duration::from_millis(20))).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let buyer_rx = Receiver::start().await;
    let supplier_rx = Receiver::start().await;
    // The buyer takes every event (its own only where named: none); the
    // supplier names the buyer's events and its own document attach.
    shipment_webhook(&server, &buyer, &buyer_rx, &[]).await;
    shipment_webhook(
        &server,
        &supplier,
        &supplier_rx,
        &[
            "ShipmentApprovedByBuyer",
            "ShipmentRejectedByBuyer",
            "ShipmentDocumentAttachedByBuyer",
            "ShipmentDocumentAttachedBySupplier",
        ],
    )
    .await;
    let id = issue(&server, &buyer_rx, 1, "DA-PORTAL-1").await;
    let buyer_client = client_of(&server, &buyer);
    let issued_at = buyer_client
        .shipments()
        .get(&id)
        .await
        .expect("the shipment")
        .meta
        .and_then(|m| m.last_updated_at)
        .expect("stamped");

    // The buyer approves, in a flow of its own trace id.
    let (status, answered) = act(
        &server,
        &buyer,
        &id,
        "buyer/approve",
        None,
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    )
    .await;
    assert_eq!(status, 200, "{answered}");
    assert_eq!(answered["processStatus"], "Approved");
    let got = supplier_rx.wait_for(1).await;
    let approved = shipment_body(&got[0]);
    assert_eq!(approved.event_name.to_string(), "ShipmentApprovedByBuyer");
    assert_eq!(approved.shipment.id.as_deref(), Some(id.as_str()));
    assert_eq!(
        approved.shipment.process_status,
        Some(ShipmentProcessStatus::Approved)
    );
    assert_eq!(approved.shipment.lines.len(), 1, "the whole shipment");
    let source = &got[0].json()["meta"]["source"];
    assert_eq!(source["traceId"], "4bf92f35-77b3-4da6-a3ce-929d0e0e4736");
    assert_eq!(source["companyId"], buyer.company_id.as_str());
    let fetched = buyer_client.shipments().get(&id).await.expect("fetched");
    assert_eq!(
        fetched.process_status,
        Some(ShipmentProcessStatus::Approved)
    );
    assert_eq!(
        fetched
            .status
            .as_ref()
            .and_then(|s| s.process_status.clone()),
        Some(ShipmentProcessStatus::Approved)
    );
    // The poll shows the change after the issue's watermark.
    let polled = buyer_client
        .shipments()
        .poll_since(Some(issued_at.clone()))
        .await
        .expect("polled");
    assert_eq!(polled.items.len(), 1);
    assert_eq!(
        polled.items[0].process_status,
        Some(ShipmentProcessStatus::Approved)
    );
    // The buyer's own action did not come back to it.
    assert_eq!(buyer_rx.count(), 1);

    // After approval, the supplier updates the header: the buyer hears it,
    // the shipment stays Approved.
    let (status, answered) = act(
        &server,
        &supplier,
        &id,
        "supplier/header",
        Some(r#"{"identifiers": {"billOfLadingNumber": "BOL-1", "trackingNumber": "TRK-9"}, "transportMode": "1"}"#),
        None,
    )
    .await;
    assert_eq!(status, 200, "{answered}");
    let got = buyer_rx.wait_for(2).await;
    let updated = shipment_body(&got[1]);
    assert_eq!(
        updated.event_name.to_string(),
        "ShipmentHeaderUpdatedBySupplier"
    );
    let identifiers = updated.shipment.identifiers.clone().expect("identifiers");
    assert_eq!(identifiers.bill_of_lading_number.as_deref(), Some("BOL-1"));
    assert_eq!(identifiers.tracking_number.as_deref(), Some("TRK-9"));
    assert_eq!(updated.shipment.transport_mode.as_deref(), Some("1"));
    assert_eq!(
        updated.shipment.process_status,
        Some(ShipmentProcessStatus::Approved)
    );
    // The same update again changes nothing: no event.
    let (status, _) = act(
        &server,
        &supplier,
        &id,
        "supplier/header",
        Some(r#"{"identifiers": {"billOfLadingNumber": "BOL-1"}}"#),
        None,
    )
    .await;
    assert_eq!(status, 200);

    // The buyer rejects with a reason.
    let (status, answered) = act(
        &server,
        &buyer,
        &id,
        "buyer/reject",
        Some(r#"{"reason": "wrong pallets"}"#),
        None,
    )
    .await;
    assert_eq!(status, 200, "{answered}");
    let got = supplier_rx.wait_for(2).await;
    let rejected = shipment_body(&got[1]);
    assert_eq!(rejected.event_name.to_string(), "ShipmentRejectedByBuyer");
    assert_eq!(
        rejected.shipment.process_status,
        Some(ShipmentProcessStatus::Rejected)
    );
    assert_eq!(
        rejected.shipment.process_status_reason.as_deref(),
        Some("wrong pallets")
    );
    let fetched = buyer_client.shipments().get(&id).await.expect("fetched");
    assert_eq!(
        fetched.process_status_reason.as_deref(),
        Some("wrong pallets")
    );

    // Before approval, a header update reissues the shipment: Issued again.
    let (status, _) = act(
        &server,
        &supplier,
        &id,
        "supplier/header",
        Some(r#"{"identifiers": {"billOfLadingNumber": "BOL-2"}}"#),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let got = buyer_rx.wait_for(3).await;
    let reissued = shipment_body(&got[2]);
    assert_eq!(
        reissued.event_name.to_string(),
        "ShipmentReissuedBySupplier"
    );
    assert_eq!(
        reissued.shipment.process_status,
        Some(ShipmentProcessStatus::Issued)
    );
    assert_eq!(reissued.shipment.process_status_reason, None);

    // The supplier attaches a packing list by URL: the buyer hears it,
    // and so does the supplier (it names its own event).
    let (status, _) = act(
        &server,
        &supplier,
        &id,
        "supplier/documents",
        Some(r#"{"documents": [{"code": "PL", "name": "Packing list", "type": "Packing List", "url": "https://example.com/pl-1.pdf"}]}"#),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let got = buyer_rx.wait_for(4).await;
    let attached = shipment_body(&got[3]);
    assert_eq!(
        attached.event_name.to_string(),
        "ShipmentDocumentAttachedBySupplier"
    );
    let documents = &attached
        .shipment
        .supplier_shipment
        .as_ref()
        .expect("the supplier header")
        .documents;
    assert_eq!(documents.len(), 1);
    // Added in this event: its stamp is the shipment's.
    let stamp = attached
        .shipment
        .meta
        .as_ref()
        .and_then(|m| m.last_updated_at.clone());
    assert!(stamp.is_some());
    assert_eq!(
        documents[0]
            .meta
            .as_ref()
            .and_then(|m| m.last_updated_at.clone()),
        stamp
    );
    let got = supplier_rx.wait_for(3).await;
    assert_eq!(
        shipment_body(&got[2]).event_name.to_string(),
        "ShipmentDocumentAttachedBySupplier"
    );

    // The same code again, now an uploaded object: it replaces the first.
    server.insert_document(
        "0d1b7a4e-9c7b-4b53-9c55-6a1f3c2b7e01",
        MockDocument::from_bytes("pl-2.pdf", "application/pdf", b"%PDF-1.4".to_vec()),
    );
    let (status, _) = act(
        &server,
        &supplier,
        &id,
        "supplier/documents",
        Some(r#"{"documents": [{"code": "PL", "name": "Packing list", "revision": "2", "objectId": "0d1b7a4e-9c7b-4b53-9c55-6a1f3c2b7e01"}]}"#),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let got = buyer_rx.wait_for(5).await;
    let replaced = shipment_body(&got[4]);
    let documents = &replaced
        .shipment
        .supplier_shipment
        .as_ref()
        .expect("the supplier header")
        .documents;
    assert_eq!(documents.len(), 1, "replaced by its code");
    assert_eq!(
        documents[0].object_id.as_deref(),
        Some("0d1b7a4e-9c7b-4b53-9c55-6a1f3c2b7e01")
    );
    assert_eq!(documents[0].revision.as_deref(), Some("2"));

    // The buyer attaches a code-less document twice: appended each time,
    // to the buyer's header; the supplier hears both.
    for _ in 0..2 {
        let (status, _) = act(
            &server,
            &buyer,
            &id,
            "buyer/documents",
            Some(r#"{"documents": [{"name": "Inspection", "url": "https://example.com/inspection.pdf"}]}"#),
            None,
        )
        .await;
        assert_eq!(status, 200);
    }
    // (The supplier's own replacement came fourth.)
    let got = supplier_rx.wait_for(6).await;
    assert_eq!(
        shipment_body(&got[4]).event_name.to_string(),
        "ShipmentDocumentAttachedByBuyer"
    );
    let by_buyer = shipment_body(&got[5]);
    assert_eq!(
        by_buyer.event_name.to_string(),
        "ShipmentDocumentAttachedByBuyer"
    );
    let buyer_documents = &by_buyer
        .shipment
        .buyer_shipment
        .as_ref()
        .expect("the buyer header")
        .documents;
    assert_eq!(buyer_documents.len(), 2);

    // The buyer resends: its own webhook gets the shipment as it is, the
    // supplier nothing.
    let before = buyer_client.shipments().get(&id).await.expect("fetched");
    let (status, _) = act(&server, &buyer, &id, "buyer/resend", None, None).await;
    assert_eq!(status, 200);
    let got = buyer_rx.wait_for(6).await;
    let resent = shipment_body(&got[5]);
    assert_eq!(resent.event_name.to_string(), "ShipmentResentByBuyer");
    assert_eq!(resent.shipment, before);
    assert_eq!(
        buyer_client.shipments().get(&id).await.expect("fetched"),
        before,
        "a resend changes nothing"
    );

    // Approved, then a changed despatch advice: Issued again, the
    // documents stay.
    let (status, _) = act(&server, &buyer, &id, "buyer/approve", None, None).await;
    assert_eq!(status, 200);
    client_of(&server, &supplier)
        .shipments()
        .send_despatch_advice(&advice(&supplier, "DA-PORTAL-1", "SHIP-2"))
        .await
        .expect("despatch advice sent");
    let got = buyer_rx.wait_for(7).await;
    let reissued = shipment_body(&got[6]);
    assert_eq!(
        reissued.event_name.to_string(),
        "ShipmentReissuedBySupplier"
    );
    assert_eq!(
        reissued.shipment.process_status,
        Some(ShipmentProcessStatus::Issued)
    );
    assert_eq!(
        reissued
            .shipment
            .supplier_shipment
            .as_ref()
            .map(|s| s.documents.len()),
        Some(1)
    );
    assert_eq!(
        reissued
            .shipment
            .buyer_shipment
            .as_ref()
            .map(|s| s.documents.len()),
        Some(2)
    );
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn an_unchanged_despatch_advice_keeps_the_approval() {
    let server = start(MockConfig::new().delivery_backoff(Duration::from_millis(20))).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let buyer_rx = Receiver::start().await;
    shipment_webhook(&server, &buyer, &buyer_rx, &[]).await;
    let id = issue(&server, &buyer_rx, 1, "DA-PORTAL-2").await;
    let (status, _) = act(&server, &buyer, &id, "buyer/approve", None, None).await;
    assert_eq!(status, 200);
    client_of(&server, &supplier)
        .shipments()
        .send_despatch_advice(&advice(&supplier, "DA-PORTAL-2", "SHIP-1"))
        .await
        .expect("despatch advice sent");
    let shipment = server.shipment(&id).expect("stored");
    assert_eq!(
        shipment.process_status,
        Some(ShipmentProcessStatus::Approved)
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(buyer_rx.count(), 1, "no reissue for the same advice");
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn bad_portal_actions_are_clear_4xx() {
    let server = start(MockConfig::new()).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let buyer_rx = Receiver::start().await;
    shipment_webhook(&server, &buyer, &buyer_rx, &[]).await;
    let id = issue(&server, &buyer_rx, 1, "DA-PORTAL-3").await;
    let message = |v: &serde_json::Value| v["detail"].as_str().unwrap_or_default().to_owned();

    let (status, body) = act(&server, &buyer, "no-such-id", "buyer/approve", None, None).await;
    assert_eq!(status, 404, "{body}");
    assert!(message(&body).contains("no-such-id"), "{body}");
    // An unknown shipment is a 404 whatever the body: bad documents, a
    // blank reason, no body, not JSON.
    for (action, body) in [
        (
            "supplier/documents",
            Some(r#"{"documents": [{"name": "x"}]}"#),
        ),
        ("buyer/documents", Some(r#"{"documents": []}"#)),
        ("buyer/reject", Some(r#"{"reason": " "}"#)),
        ("supplier/header", None),
        ("buyer/approve", Some("not json")),
    ] {
        let party = if action.starts_with("buyer") {
            &buyer
        } else {
            &supplier
        };
        let (status, answer) = act(&server, party, "no-such-id", action, body, None).await;
        assert_eq!(status, 404, "{action} {body:?}: {answer}");
        assert!(message(&answer).contains("no-such-id"), "{answer}");
    }
    // A shipment of another buyer company: not the mock's buyer's.
    let other: tradecloud::api::common::types::Shipment = serde_json::from_value(
        serde_json::json!({"id": "other-buyers", "buyerShipment": {"companyId": "someone-else"},
                           "lines": []}),
    )
    .expect("a shipment");
    server.insert_shipment(other).expect("stored");
    let (status, body) = act(&server, &buyer, "other-buyers", "buyer/approve", None, None).await;
    assert_eq!(status, 404, "{body}");
    assert!(message(&body).contains("not a shipment of"), "{body}");
    // The supplier's user may not approve: the buyer's action.
    let (status, body) = act(&server, &supplier, &id, "buyer/approve", None, None).await;
    assert_eq!(status, 403, "{body}");
    assert!(message(&body).contains("buyer"), "{body}");
    // Nor the buyer update the supplier's header.
    let (status, _) = act(
        &server,
        &buyer,
        &id,
        "supplier/header",
        Some(r#"{"transportMode": "1"}"#),
        None,
    )
    .await;
    assert_eq!(status, 403);
    // A rejection needs a reason: missing, blank, or no body at all.
    for body in [Some("{}"), Some(r#"{"reason": "  "}"#), None] {
        let (status, answer) = act(&server, &buyer, &id, "buyer/reject", body, None).await;
        assert_eq!(status, 400, "{body:?}: {answer}");
        assert!(message(&answer).contains("reason"), "{answer}");
    }
    // A header update with nothing, or with an unknown member.
    for body in [None, Some("{}"), Some(r#"{"billOfLading": "x"}"#)] {
        let (status, answer) = act(&server, &supplier, &id, "supplier/header", body, None).await;
        assert_eq!(status, 400, "{body:?}: {answer}");
    }
    // Documents: none, without url or objectId, an objectId the mock
    // does not hold, not JSON.
    for body in [
        None,
        Some(r#"{"documents": []}"#),
        Some(r#"{"documents": [{"name": "x"}]}"#),
        Some(r#"{"documents": [{"objectId": "unknown-object"}]}"#),
        Some("not json"),
    ] {
        let (status, answer) = act(&server, &supplier, &id, "supplier/documents", body, None).await;
        assert_eq!(status, 400, "{body:?}: {answer}");
        assert!(!message(&answer).is_empty(), "{answer}");
    }
    // Without credentials: 401.
    let root = server.base_url().trim_end_matches("/v2").to_owned();
    // The index page lists the routes.
    let index = reqwest::get(format!("{root}/"))
        .await
        .expect("index")
        .text()
        .await
        .expect("a page");
    for route in [
        "buyer/approve",
        "buyer/reject",
        "supplier/header",
        "buyer/documents",
        "supplier/documents",
        "buyer/resend",
    ] {
        assert!(
            index.contains(&format!("POST /mock/shipment/{{shipmentId}}/{route}")),
            "{index}"
        );
    }
    let status = reqwest::Client::new()
        .post(format!("{root}/mock/shipment/{id}/buyer/approve"))
        .send()
        .await
        .expect("sent")
        .status();
    assert_eq!(status, 401);
    // Approving twice: the second is a 409.
    let (status, _) = act(&server, &buyer, &id, "buyer/approve", None, None).await;
    assert_eq!(status, 200);
    let (status, body) = act(&server, &buyer, &id, "buyer/approve", None, None).await;
    assert_eq!(status, 409, "{body}");
    // Nothing refused changed the shipment or sent an event (the approval
    // went to the supplier, who has no webhook).
    let shipment = server.shipment(&id).expect("stored");
    assert_eq!(shipment.process_status_reason, None);
    assert!(shipment
        .supplier_shipment
        .as_ref()
        .is_none_or(|s| s.documents.is_empty()));
    assert_eq!(buyer_rx.count(), 1);
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn a_rust_test_plays_the_actions_without_http() {
    let server = start(MockConfig::new().delivery_backoff(Duration::from_millis(20))).await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    let buyer_rx = Receiver::start().await;
    let supplier_rx = Receiver::start().await;
    shipment_webhook(&server, &buyer, &buyer_rx, &[]).await;
    shipment_webhook(&server, &supplier, &supplier_rx, &[]).await;
    let id = issue(&server, &buyer_rx, 1, "DA-PORTAL-4").await;

    let rejected = server
        .shipment_action(
            &id,
            ShipmentAction::Reject {
                reason: "late".into(),
            },
        )
        .await
        .expect("rejected");
    assert_eq!(rejected.process_status_reason.as_deref(), Some("late"));
    let got = supplier_rx.wait_for(1).await;
    assert_eq!(got[0].event_name(), "ShipmentRejectedByBuyer");

    let identifiers = ShipmentIdentifiers {
        tracking_number: Some("TRK-1".into()),
        ..ShipmentIdentifiers::default()
    };
    server
        .shipment_action(
            &id,
            ShipmentAction::UpdateHeader(HeaderUpdate::identifiers(identifiers)),
        )
        .await
        .expect("updated");
    let got = buyer_rx.wait_for(2).await;
    assert_eq!(got[1].event_name(), "ShipmentReissuedBySupplier");

    match server
        .shipment_action("no-such-id", ShipmentAction::Resend)
        .await
    {
        Err(MockError::ShipmentAction { status: 404, .. }) => {}
        other => panic!("expected a 404 refusal, got {other:?}"),
    }
    // Documents the mock would refuse, on a shipment it does not hold:
    // not found first.
    match server
        .shipment_action(
            "no-such-id",
            ShipmentAction::AttachDocuments {
                by: tradecloud::types::Party::Supplier,
                documents: Vec::new(),
            },
        )
        .await
    {
        Err(MockError::ShipmentAction { status: 404, .. }) => {}
        other => panic!("expected a 404 refusal, got {other:?}"),
    }
    match server
        .shipment_action(
            &id,
            ShipmentAction::Reject {
                reason: String::new(),
            },
        )
        .await
    {
        Err(MockError::ShipmentAction {
            status: 400,
            message,
        }) => assert!(message.contains("reason"), "{message}"),
        other => panic!("expected a 400 refusal, got {other:?}"),
    }
    server.shutdown().await.expect("stops");
}

#[tokio::test]
async fn faults_and_counters_name_the_portal_actions() {
    use tradecloud::mock::{FaultConfig, FaultTrigger};
    let server = start(
        MockConfig::new().fault(
            FaultConfig::service_unavailable(FaultTrigger::FirstN(1))
                .for_operations(["mockApproveShipmentByBuyer"]),
        ),
    )
    .await;
    let (buyer, supplier) = (server.buyer(), server.supplier());
    client_of(&server, &supplier)
        .shipments()
        .send_despatch_advice(&advice(&supplier, "DA-PORTAL-5", "SHIP-1"))
        .await
        .expect("despatch advice sent");
    let polled = client_of(&server, &buyer)
        .shipments()
        .poll_since(None)
        .await
        .expect("polled");
    let id = polled
        .items
        .iter()
        .find(|s| {
            s.supplier_shipment
                .as_ref()
                .and_then(|h| h.shipment_number.as_deref())
                == Some("SHIP-1")
        })
        .and_then(|s| s.id.clone())
        .expect("the shipment");
    let (status, _) = act(&server, &buyer, &id, "buyer/approve", None, None).await;
    assert_eq!(status, 503, "the injected fault");
    let (status, _) = act(&server, &buyer, &id, "buyer/approve", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        server.stats().requests.get("mockApproveShipmentByBuyer"),
        Some(&2)
    );
    server.shutdown().await.expect("stops");
}

/// A GET webhook's `{shipmentId}` (or `{orderId}`, `{id}`) is filled with
/// the id as one percent-encoded path segment: an id holding `/`, `?`,
/// `#`, a space or `%` reached another path, a query or a fragment.
#[tokio::test]
async fn a_get_webhook_gets_the_id_as_one_path_segment() {
    let server = start(MockConfig::new()).await;
    let buyer = server.buyer();
    let receiver = Receiver::start().await;
    let url = format!(
        "{}/{}",
        server.base_url(),
        SHIPMENT_EVENTS.replace("{companyId}", &buyer.company_id)
    );
    let status = reqwest::Client::new()
        .put(url)
        .bearer_auth(token(&server, &buyer).await)
        .json(&serde_json::json!({
            "method": "GET",
            "webhookUrl": format!("{}/shipments/{{shipmentId}}/event", receiver.url),
        }))
        .send()
        .await
        .expect("settings sent")
        .status();
    assert_eq!(status, 200);
    let id = "ship/1?a=b#c d%e";
    let shipment: tradecloud::api::common::types::Shipment = serde_json::from_value(
        serde_json::json!({"id": id, "buyerShipment": {"companyId": buyer.company_id},
                           "lines": []}),
    )
    .expect("a shipment");
    server.insert_shipment(shipment).expect("stored");
    server
        .shipment_action(id, ShipmentAction::Resend)
        .await
        .expect("resent");
    let got = receiver.wait_for(1).await;
    assert_eq!(
        got[0].uri.path(),
        "/shipments/ship%2F1%3Fa=b%23c%20d%25e/event"
    );
    assert_eq!(got[0].uri.query(), Some("eventName=ShipmentResentByBuyer"));
    // The SDK's client puts such an id in its path as one segment too.
    let fetched = client_of(&server, &buyer)
        .shipments()
        .get(id)
        .await
        .expect("the shipment");
    assert_eq!(fetched.id.as_deref(), Some(id));
    server.shutdown().await.expect("stops");
}
