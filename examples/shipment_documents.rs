//! A buyer receiving a shipment (despatch advice) and downloading its
//! changed documents.
//!
//! Starts a mock of Tradecloud (which serves the documents) and a receiver
//! over HTTPS, delivers a shipment event as Tradecloud would, and the
//! handler: reads the lines that changed in this event (`meta.lastUpdatedAt`
//! equal to the shipment's), and downloads each changed document with the
//! API client the receiver hands it (`objectId` → metadata → presigned
//! download URL). Network trouble is a transient error (retried), an unknown
//! document a permanent one.
//!
//! ```sh
//! cargo run --example shipment_documents
//! ```

use std::path::PathBuf;

use tradecloud::api::common::types::Shipment;
use tradecloud::changes::ChangeSet;
use tradecloud::client::{safe_file_name, DownloadOutcome};
use tradecloud::processing::{Event, Handler, HandlerContext, HandlerError};
use tradecloud::testing::{Sample, TestBed};

/// The buyer's ERP: books expected receipts and keeps shipment documents.
struct Receipts {
    documents_dir: PathBuf,
}

impl Receipts {
    async fn shipment(
        &self,
        shipment: &Shipment,
        ctx: &HandlerContext,
    ) -> Result<(), HandlerError> {
        let id = shipment.id();
        if id.is_empty() {
            return Err(HandlerError::Permanent("a shipment without an id".into()));
        }
        // A shipment carries all its lines; only some changed in this event.
        let lines = shipment.changed_lines();
        println!(
            "shipment {id}: {} of {} lines changed",
            lines.len(),
            shipment.all_lines().len()
        );
        for line in lines {
            println!(
                "  {} line {}: {} despatched",
                line.purchase_order_number(),
                line.purchase_order_line_position(),
                line.despatch_quantity().map_or("?", |q| q.as_str()),
            );
        }
        let client = ctx.client().ok_or_else(|| {
            HandlerError::Permanent(
                "no Tradecloud client: configure [tradecloud] credentials".into(),
            )
        })?;
        // A directory per shipment: two shipments' documents of the same
        // name never replace each other.
        let dir = self.documents_dir.join(safe_file_name(id).ok_or_else(|| {
            HandlerError::Permanent(format!("shipment id {id:?} cannot name a directory"))
        })?);
        tokio::fs::create_dir_all(&dir).await.map_err(|e| {
            HandlerError::Transient(format!("cannot create {}: {e}", dir.display()))
        })?;
        for document in shipment.changed_documents() {
            let code = document.code().unwrap_or("(no code)");
            match client.documents().download(document.document, &dir).await {
                Ok(DownloadOutcome::Downloaded(file)) => println!(
                    "  document {code} ({}): saved {} ({} bytes, {})",
                    document.party,
                    file.path.display(),
                    file.bytes,
                    file.content_type.as_deref().unwrap_or("unknown type"),
                ),
                Ok(DownloadOutcome::NoFile) => println!("  document {code}: no file attached"),
                // 5xx, time-outs: retried later; 404, a refused certificate: dead-lettered.
                Err(e) => return Err(e.into()),
            }
        }
        let unchanged = shipment.all_documents().len() - shipment.changed_documents().len();
        println!("  {unchanged} unchanged document(s) not downloaded again");
        Ok(())
    }
}

impl Handler for Receipts {
    async fn handle(&self, event: Event, ctx: &HandlerContext) -> Result<(), HandlerError> {
        match &event {
            Event::Shipment { body, .. } => {
                println!("{}:", body.event_name);
                self.shipment(&body.shipment, ctx).await
            }
            _ => Err(HandlerError::Permanent("expected a shipment event".into())),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let documents = tempfile::tempdir()?;
    let bed = TestBed::start(Receipts {
        documents_dir: documents.path().to_owned(),
    })
    .await?;
    let status = bed
        .deliver(&Sample::shipment_event("ShipmentIssuedBySupplier"))
        .await?;
    println!("delivered ShipmentIssuedBySupplier: HTTP {status}");
    let handled = bed.wait_handled(1).await?;
    println!("handler result: {:?}", handled[0].result);
    println!(
        "documents downloaded from the mock: {} request(s) for metadata",
        bed.mock()
            .stats()
            .requests
            .get("getDocumentMetadata")
            .copied()
            .unwrap_or(0)
    );
    bed.shutdown().await?;
    Ok(())
}
