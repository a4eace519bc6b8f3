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
