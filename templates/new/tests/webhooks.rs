//! The service end to end: a mock of Tradecloud and the receiver with the
//! ERP handler run in-process; sample events are delivered over HTTPS as
//! Tradecloud delivers them.

use std::path::Path;

// {{#if multiple}}
use tradecloud::api::api_connector::types::SendOrderByBuyer;
// {{/if}}
// {{#if buyer_answers}}
use tradecloud::api::api_connector::types::{
    SendDespatchAdviceBySupplier, SendOrderResponseBySupplier,
};
// {{/if}}
// {{#if supplier_answers}}
use tradecloud::api::common::types::LineInProgressStatus;
// {{/if}}
// {{#if multiple}}
use tradecloud::api::common::types::{LineProcessStatus, Order, OrderLine};
use tradecloud::client::Client;
use tradecloud::mock::MockConfig;
// {{/if}}
use tradecloud::processing::HandlerError;
use tradecloud::testing::{Sample, TestBed};
// {{#if multiple}}
use tradecloud::types::Party;
// {{/if}}

// {{#if buyer_answers}}
use {{crate_name}}::handler::ProposalDecision;
// {{/if}}
use {{crate_name}}::Erp;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Deliver `sample`, wait until the handler finished it, and return how
/// many documents it saved.
async fn handle(sample: Sample) -> Result<usize, Box<dyn std::error::Error>> {
    let documents = tempfile::tempdir()?;
    let bed = TestBed::start(Erp::new(documents.path())).await?;
    bed.deliver(&sample).await?;
    let handled = bed.wait_handled(1).await?;
    assert_eq!(handled[0].event_name(), Some(sample.event_name()));
    assert_eq!(handled[0].result, Ok(()));
    bed.shutdown().await?;
    Ok(files_in(documents.path())?)
}

/// The number of files under `dir`.
fn files_in(dir: &Path) -> std::io::Result<usize> {
    let mut count = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        count += if entry.file_type()?.is_dir() {
            files_in(&entry.path())?
        } else {
            1
        };
    }
    Ok(count)
}
// {{#if orders}}

#[tokio::test]
async fn an_order_event_is_handled_and_its_documents_saved() -> TestResult {
    let sample = Sample::{{order_sample}}("{{order_event_name}}");
    let saved = handle(sample).await?;
    // {{#if supplier_answers}}
    assert_eq!(
        saved, 3,
        "the two order documents with a file and the order confirmation sent with the answer"
    );
    // {{else}}
    assert_eq!(saved, 2, "the two order documents with a file");
    // {{/if}}
    Ok(())
}

#[tokio::test]
async fn an_order_event_without_an_order_id_is_refused_before_the_handler() -> TestResult {
    let documents = tempfile::tempdir()?;
    let bed = TestBed::start(Erp::new(documents.path())).await?;
    let body = r#"{
        "eventName": "{{order_event_name}}",
        "{{order_event_field}}": { "lines": [] }
    }"#;
    let (status, answer) = bed
        .post("/tradecloud/order", "application/json", body)
        .await?;
    // The receiver refuses it (400, kept in quarantine as `rejected`): the
    // handler never sees an order event without its order id.
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("orderId"), "{answer}");
    bed.shutdown().await?;
    Ok(())
}
// {{/if}}
// {{#if documents}}

#[tokio::test]
async fn an_order_documents_event_is_handled_and_its_documents_saved() -> TestResult {
    let sample = Sample::order_documents_event("{{documents_event_name}}");
    let saved = handle(sample).await?;
    assert_eq!(saved, 2, "the order document and the line document");
    Ok(())
}
// {{/if}}
// {{#if shipments}}

#[tokio::test]
async fn a_shipment_event_is_handled_and_its_changed_documents_saved() -> TestResult {
    let sample = Sample::shipment_event("{{shipment_event_name}}");
    let saved = handle(sample).await?;
    assert_eq!(saved, 1, "the one changed shipment document with a file");
    Ok(())
}
// {{/if}}

#[tokio::test]
async fn a_document_that_cannot_be_downloaded_fails_the_event() -> TestResult {
    let documents = tempfile::tempdir()?;
    let bed = TestBed::start(Erp::new(documents.path())).await?;
    // The mock no longer has the document the sample references: 404.
    let missing = "{{missing_document}}";
    bed.mock().remove_document(missing);
    let sample = Sample::{{failing_sample}}("{{failing_event_name}}");
    bed.deliver(&sample).await?;
    let handled = bed.wait_handled(1).await?;
    assert!(
        matches!(handled[0].result, Err(HandlerError::Permanent(_))),
        "{:?}",
        handled[0].result
    );
    bed.shutdown().await?;
    Ok(())
}
// {{#if multiple}}

// The story with the mock of Tradecloud playing both companies: the buyer
// sends an order, the supplier answers it, the buyer answers the proposal.

/// Purchase order `PO-STORY-1` of the mock's buyer: line 0001 (10 bolts at
/// 5 EUR on 2026-03-01), line 0002 (5000 nuts at 7 EUR on 2026-03-08).
fn story_order(supplier_account_number: &str) -> Result<SendOrderByBuyer, serde_json::Error> {
    serde_json::from_value(serde_json::json!({
        "order": {"supplierAccountNumber": supplier_account_number,
                  "purchaseOrderNumber": "PO-STORY-1"},
        "lines": [
            {"position": "0001", "item": {"number": "A-1", "name": "Bolt"},
             "deliverySchedule": [{"position": "1", "date": "2026-03-01", "quantity": 10}],
             "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 5, "currencyIso": "EUR"} },
                        "priceUnitQuantity": 1} },
            {"position": "0002", "item": {"number": "B-2", "name": "Nut"},
             "deliverySchedule": [{"position": "1", "date": "2026-03-08", "quantity": 5000}],
             "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 7, "currencyIso": "EUR"} },
                        "priceUnitQuantity": 1} }
        ]
    }))
}

/// The mock's buyer sends [`story_order`]; returns the new order's id.
async fn buyer_sends_the_order(
    bed: &TestBed,
    buyer: &Client,
) -> Result<String, Box<dyn std::error::Error>> {
    let order = story_order(&bed.mock().buyer().partner_account_number)?;
    buyer.orders().send(&order).await?;
    let polled = buyer.orders().poll_since(None).await?;
    let id = polled.items.first().and_then(|o| o.id.clone());
    Ok(id.ok_or("the buyer's poll shows no order")?)
}

fn line<'o>(order: &'o Order, position: &str) -> Result<&'o OrderLine, String> {
    order
        .lines
        .iter()
        .find(|l| l.position() == position)
        .ok_or_else(|| format!("the order has no line {position}"))
}

/// The dates of a line's delivery schedule.
fn dates(line: &OrderLine) -> Vec<String> {
    line.delivery_schedule
        .iter()
        .filter_map(|d| d.date.as_ref().map(|d| d.to_string()))
        .collect()
}
// {{/if}}
// {{#if supplier_answers}}

#[tokio::test]
async fn the_buyers_order_is_answered_as_the_erp_decides() -> TestResult {
    let documents = tempfile::tempdir()?;
    // This service is the mock's supplier: the handler answers as the supplier.
    let bed = TestBed::start_as(
        Erp::new(documents.path()),
        MockConfig::new(),
        Party::Supplier,
    )
    .await?;
    let buyer = bed.client_as(Party::Buyer)?;
    let order_id = buyer_sends_the_order(&bed, &buyer).await?;

    // Tradecloud tells the supplier: OrderIssuedByBuyer with the order.
    let order = bed
        .client_as(Party::Supplier)?
        .orders()
        .get(&order_id)
        .await?;
    bed.deliver(&Sample::order_event_from("OrderIssuedByBuyer", &order))
        .await?;
    let handled = bed.wait_handled(1).await?;
    assert_eq!(handled[0].result, Ok(()));

    // Erp::decide_line accepted 0001 and proposed 0002 a week later; the
    // order confirmation was uploaded and attached.
    let order = buyer.orders().get(&order_id).await?;
    assert_eq!(
        line(&order, "0001")?.process_status(),
        Some(&LineProcessStatus::Confirmed)
    );
    let proposed = line(&order, "0002")?;
    assert_eq!(
        proposed.process_status(),
        Some(&LineProcessStatus::InProgress)
    );
    assert_eq!(
        proposed.in_progress_status(),
        Some(&LineInProgressStatus::OpenSupplierProposal)
    );
    let proposed_dates: Vec<String> = proposed
        .delivery_schedule_including_requests
        .iter()
        .filter_map(|d| d.date.as_ref().map(|d| d.to_string()))
        .collect();
    assert_eq!(proposed_dates, ["2026-03-15"]);
    assert_eq!(dates(proposed), ["2026-03-08"], "still the requested date");
    assert_eq!(bed.mock().stats().requests_for("uploadDocument"), 1);
    bed.shutdown().await?;
    Ok(())
}
// {{/if}}
// {{#if buyer_answers}}

#[tokio::test]
async fn the_suppliers_proposal_is_approved_as_the_erp_decides() -> TestResult {
    let documents = tempfile::tempdir()?;
    // This service is the mock's buyer: the handler answers as the buyer.
    let bed =
        TestBed::start_as(Erp::new(documents.path()), MockConfig::new(), Party::Buyer).await?;
    let buyer = bed.client_as(Party::Buyer)?;
    let order_id = buyer_sends_the_order(&bed, &buyer).await?;

    // The supplier accepts 0001 and proposes another date for 0002.
    let response: SendOrderResponseBySupplier = serde_json::from_value(serde_json::json!({
        "order": {"buyerAccountNumber": bed.mock().supplier().partner_account_number,
                  "purchaseOrderNumber": "PO-STORY-1"},
        "lines": [
            {"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true} },
            {"purchaseOrderLinePosition": "0002", "reason": "capacity",
             "deliverySchedule": [{"position": "1", "date": "2026-03-22", "quantity": 5000}]}
        ]
    }))?;
    bed.client_as(Party::Supplier)?
        .orders()
        .respond(&response)
        .await?;

    // Tradecloud tells the buyer: OrderChangesProposedBySupplier with the
    // line it affects.
    let mut order = buyer.orders().get(&order_id).await?;
    order.lines.retain(|l| l.position() == "0002");
    bed.deliver(&Sample::order_event_from(
        "OrderChangesProposedBySupplier",
        &order,
    ))
    .await?;
    let handled = bed.wait_handled(1).await?;
    assert_eq!(handled[0].result, Ok(()));

    // Erp::decide_proposal approved it: confirmed with the proposed date.
    let order = buyer.orders().get(&order_id).await?;
    let approved = line(&order, "0002")?;
    assert_eq!(
        approved.process_status(),
        Some(&LineProcessStatus::Confirmed)
    );
    assert_eq!(dates(approved), ["2026-03-22"]);
    assert_eq!(
        line(&order, "0001")?.process_status(),
        Some(&LineProcessStatus::Confirmed)
    );
    bed.shutdown().await?;
    Ok(())
}
#[tokio::test]
async fn the_suppliers_shipment_reschedule_requests_are_answered_as_the_erp_decides() -> TestResult
{
    let documents = tempfile::tempdir()?;
    let bed =
        TestBed::start_as(Erp::new(documents.path()), MockConfig::new(), Party::Buyer).await?;
    let buyer = bed.client_as(Party::Buyer)?;
    let supplier = bed.client_as(Party::Supplier)?;
    let order_id = buyer_sends_the_order(&bed, &buyer).await?;
    let buyer_account_number = &bed.mock().supplier().partner_account_number;
    let accept: SendOrderResponseBySupplier = serde_json::from_value(serde_json::json!({
        "order": {"buyerAccountNumber": buyer_account_number, "purchaseOrderNumber": "PO-STORY-1"},
        "lines": [
            {"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true} },
            {"purchaseOrderLinePosition": "0002", "indicators": {"accepted": true} }
        ]
    }))?;
    supplier.orders().respond(&accept).await?;

    // The supplier ships 6 of line 0001's 10 bolts and backorders the other
    // 4, and 4,000 of line 0002's 5,000 nuts: each a reschedule request.
    let advice: SendDespatchAdviceBySupplier = serde_json::from_value(serde_json::json!({
        "header": {"buyerAccountNumber": buyer_account_number, "despatchAdviceNumber": "DA-STORY-1"},
        "lines": [
            {"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO-STORY-1",
             "purchaseOrderLinePosition": "0001", "despatchQuantity": 6,
             "backorderQuantity": 4, "backorderDate": "2026-03-15"},
            {"despatchAdviceLinePosition": "2", "purchaseOrderNumber": "PO-STORY-1",
             "purchaseOrderLinePosition": "0002", "despatchQuantity": 4000}
        ]
    }))?;
    supplier.shipments().send_despatch_advice(&advice).await?;

    // Tradecloud tells the buyer: OrderLinesShipmentRescheduleRequestedBySupplier.
    let order = buyer.orders().get(&order_id).await?;
    bed.deliver(&Sample::order_event_from(
        "OrderLinesShipmentRescheduleRequestedBySupplier",
        &order,
    ))
    .await?;
    let handled = bed.wait_handled(1).await?;
    assert_eq!(handled[0].result, Ok(()));

    // Erp::decide_reschedule approved the backorder (all 10 still come) and
    // rejected the short delivery.
    let order = buyer.orders().get(&order_id).await?;
    let split = line(&order, "0001")?;
    // Confirmed again, so no in-progress status (order/status.md).
    assert_eq!(split.process_status(), Some(&LineProcessStatus::Confirmed));
    assert_eq!(split.in_progress_status(), None);
    assert_eq!(dates(split), ["2026-03-01", "2026-03-15"]);
    let short = line(&order, "0002")?;
    assert_eq!(short.process_status(), Some(&LineProcessStatus::Confirmed));
    assert_eq!(short.in_progress_status(), None);
    assert_eq!(dates(short), ["2026-03-08"]);
    bed.shutdown().await?;
    Ok(())
}

/// A line of the buyer's order (0001: 10 at 5 EUR), in progress with the
/// supplier's `proposal`.
fn proposed_line(proposal: serde_json::Value) -> Result<OrderLine, serde_json::Error> {
    serde_json::from_value(serde_json::json!({
        "buyerLine": {"position": "0001",
                      "deliverySchedule": [{"position": "1", "date": "2026-03-01", "quantity": 10}],
                      "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 5, "currencyIso": "EUR"}}}},
        "deliverySchedule": [{"position": "1", "date": "2026-03-01", "quantity": 10}],
        "supplierLine": {"requests": {"proposal": proposal}},
        "status": {"processStatus": "InProgress", "inProgressStatus": "OpenSupplierProposal"}
    }))
}

#[test]
fn a_proposal_above_the_ordered_price_is_rejected() -> TestResult {
    let erp = Erp::new("documents");
    let dearer = proposed_line(serde_json::json!({
        "deliverySchedule": [{"position": "1", "date": "2026-03-08", "quantity": 10}],
        "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 5.50, "currencyIso": "EUR"}}},
        "status": "Open"
    }))?;
    assert!(matches!(
        erp.decide_proposal(&dearer),
        ProposalDecision::Reject { .. }
    ));
    let cheaper = proposed_line(serde_json::json!({
        "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 4.75, "currencyIso": "EUR"}}},
        "status": "Open"
    }))?;
    assert_eq!(erp.decide_proposal(&cheaper), ProposalDecision::Approve);
    // Another date only: the price ordered stands.
    let later = proposed_line(serde_json::json!({
        "deliverySchedule": [{"position": "1", "date": "2026-03-08", "quantity": 10}],
        "status": "Open"
    }))?;
    assert_eq!(erp.decide_proposal(&later), ProposalDecision::Approve);
    Ok(())
}
// {{/if}}
