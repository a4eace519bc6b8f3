//! `tradecloud::testing::TestBed`: a handler gets the `[tradecloud]` client
//! pointed at the mock, sees every delivered sample, and its transient
//! failures are retried.

#![cfg(all(feature = "mock", feature = "receiver"))]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use tradecloud::client::{DocumentSource, DownloadOutcome};
use tradecloud::processing::{Event, Handler, HandlerContext, HandlerError};
use tradecloud::testing::{Sample, TestBed, TestBedError};

/// Downloads the packing list of a shipment with `ctx.client()`; fails
/// transiently on the first attempt.
struct Downloader {
    dir: std::path::PathBuf,
    attempts: Arc<AtomicU32>,
}

impl Handler for Downloader {
    async fn handle(&self, event: Event, ctx: &HandlerContext) -> Result<(), HandlerError> {
        if self.attempts.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(HandlerError::Transient("ERP down".into()));
        }
        let Event::Shipment { body, .. } = event else {
            return Err(HandlerError::Permanent("not a shipment".into()));
        };
        let client = ctx
            .client()
            .ok_or_else(|| HandlerError::Permanent("no client".into()))?;
        let document = &body.shipment.supplier_shipment.as_ref().unwrap().documents[0];
        match client
            .documents()
            .download(DocumentSource::from(document), &self.dir)
            .await
        {
            Ok(DownloadOutcome::Downloaded(_)) => Ok(()),
            other => Err(HandlerError::Permanent(format!("{other:?}"))),
        }
    }
}

#[tokio::test]
async fn handlers_download_from_the_mock_and_transient_failures_are_retried() {
    let dir = tempfile::tempdir().unwrap();
    let attempts = Arc::new(AtomicU32::new(0));
    let bed = TestBed::start(Downloader {
        dir: dir.path().to_owned(),
        attempts: attempts.clone(),
    })
    .await
    .unwrap();
    let sample = Sample::shipment_event("ShipmentIssuedBySupplier");
    assert_eq!(bed.deliver(&sample).await.unwrap(), 202);
    let handled = bed.wait_handled(2).await.unwrap();
    assert_eq!(
        handled[0].result,
        Err(HandlerError::Transient("ERP down".into()))
    );
    assert_eq!(handled[1].result, Ok(()));
    assert_eq!(handled[1].meta.attempt, 2);
    assert_eq!(handled[1].event_name(), Some("ShipmentIssuedBySupplier"));
    assert!(dir.path().join("test.pdf").is_file());
    assert!(bed.mock().stats().logins >= 1);
    bed.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_rejected_delivery_and_a_missing_event_are_errors() {
    let bed = TestBed::start(tradecloud::processing::LogHandler)
        .await
        .unwrap();
    let (status, _) = bed
        .post("/tradecloud/order", "application/json", "{ not json")
        .await
        .unwrap();
    assert_eq!(status, 400);
    let sample = Sample::order_event("OrderIssuedByBuyer");
    bed.deliver(&sample).await.unwrap();
    // A redelivery of the same message id is acknowledged too.
    bed.deliver(&sample).await.unwrap();
    let waited = bed
        .wait_handled_within(2, std::time::Duration::from_secs(2))
        .await;
    assert!(
        matches!(
            waited,
            Err(TestBedError::Timeout {
                expected: 2,
                handled: 1,
                ..
            })
        ),
        "{waited:?}"
    );
    bed.shutdown().await.unwrap();
}

/// Accepts every line of an order event as the supplier, through the
/// receiver's client.
struct AcceptAll;

impl Handler for AcceptAll {
    async fn handle(&self, event: Event, ctx: &HandlerContext) -> Result<(), HandlerError> {
        use tradecloud::api::api_connector::types::{
            OrderResponseBySupplier, OrderResponseLineBySupplier, SendOrderResponseBySupplier,
        };
        use tradecloud::api::common::types::SupplierLineIndicators;
        let Event::Order { body, .. } = event else {
            return Err(HandlerError::Permanent("not an order".into()));
        };
        let order = body
            .order_event
            .ok_or_else(|| HandlerError::Permanent("no orderEvent".into()))?;
        let buyer = order
            .supplier_order
            .as_ref()
            .and_then(|s| s.buyer_account_number.clone())
            .ok_or_else(|| HandlerError::Permanent("no buyerAccountNumber".into()))?;
        let po = order
            .purchase_order_number()
            .ok_or_else(|| HandlerError::Permanent("no purchaseOrderNumber".into()))?;
        let lines: Vec<_> = order
            .lines
            .iter()
            .map(|line| {
                OrderResponseLineBySupplier::builder()
                    .purchase_order_line_position(line.position())
                    .indicators(SupplierLineIndicators::builder().accepted(true))
            })
            .collect();
        let response = SendOrderResponseBySupplier::builder()
            .order(
                OrderResponseBySupplier::builder()
                    .buyer_account_number(buyer)
                    .purchase_order_number(po),
            )
            .lines(lines)
            .build();
        let client = ctx
            .client()
            .ok_or_else(|| HandlerError::Permanent("no client".into()))?;
        client.orders().respond(&response).await?;
        Ok(())
    }
}

/// `start_as(.., Party::Supplier)`: the handler's client is the mock's
/// supplier; `client_as(Party::Buyer)` sends the order; the order, fetched
/// and wrapped by `Sample::order_event_from`, is answered and confirmed.
#[tokio::test]
async fn a_bed_started_as_the_supplier_answers_the_buyers_order() {
    use tradecloud::api::api_connector::types::SendOrderByBuyer;
    use tradecloud::api::common::types::LineProcessStatus;
    use tradecloud::mock::MockConfig;
    use tradecloud::types::Party;

    let bed = TestBed::start_as(AcceptAll, MockConfig::new(), Party::Supplier)
        .await
        .unwrap();
    let buyer = bed.client_as(Party::Buyer).unwrap();
    let order: SendOrderByBuyer = serde_json::from_value(serde_json::json!({
        "order": {"supplierAccountNumber": bed.mock().buyer().partner_account_number,
                  "purchaseOrderNumber": "PO-BED-1"},
        "lines": [{"position": "0001", "item": {"number": "A-1"},
                   "deliverySchedule": [{"position": "1", "date": "2026-03-01", "quantity": 10}]}]
    }))
    .unwrap();
    buyer.orders().send(&order).await.unwrap();
    let order_id = buyer.orders().poll_since(None).await.unwrap().items[0]
        .id
        .clone()
        .unwrap();
    let seen = bed
        .client_as(Party::Supplier)
        .unwrap()
        .orders()
        .get(&order_id)
        .await
        .unwrap();
    let sample = Sample::order_event_from("OrderIssuedByBuyer", &seen);
    assert_eq!(sample.event_name(), "OrderIssuedByBuyer");
    bed.deliver(&sample).await.unwrap();
    let handled = bed.wait_handled(1).await.unwrap();
    assert_eq!(handled[0].result, Ok(()));
    assert_eq!(
        handled[0].meta.object_id.as_deref(),
        Some(order_id.as_str())
    );
    let order = buyer.orders().get(&order_id).await.unwrap();
    assert_eq!(
        order.lines[0].process_status(),
        Some(&LineProcessStatus::Confirmed)
    );
    bed.shutdown().await.unwrap();
}
