//! The service end to end: a mock of Tradecloud and the receiver with the
//! ERP handler run in-process; sample events are delivered over HTTPS as
//! Tradecloud delivers them.

use std::path::Path;

use tradecloud::processing::HandlerError;
use tradecloud::testing::{Sample, TestBed};

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
    assert_eq!(saved, 2, "the two order documents with a file");
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
