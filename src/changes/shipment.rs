//! [`ChangeSet`] for shipments: lines and documents carry `meta.lastUpdatedAt`.

use super::order::snapshot_line_changed;
use super::{ChangeSet, DocumentRef, Place};
use crate::api::common::types::{Shipment, ShipmentDocument, ShipmentLine};
use crate::types::{DateTime, Party};

impl ChangeSet for Shipment {
    type Line = ShipmentLine;
    type Document = ShipmentDocument;

    fn all_lines(&self) -> Vec<&ShipmentLine> {
        self.load_carriers
            .iter()
            .flat_map(|carrier| carrier.lines.iter())
            .chain(self.lines.iter())
            .collect()
    }

    fn all_documents(&self) -> Vec<DocumentRef<'_, ShipmentDocument>> {
        let supplier = self
            .supplier_shipment
            .iter()
            .flat_map(|s| s.documents.iter())
            .map(|document| DocumentRef {
                document,
                party: Party::Supplier,
                place: Place::Header,
            });
        let buyer = self
            .buyer_shipment
            .iter()
            .flat_map(|b| b.documents.iter())
            .map(|document| DocumentRef {
                document,
                party: Party::Buyer,
                place: Place::Header,
            });
        supplier.chain(buyer).collect()
    }

    fn line_changed(&self, line: &ShipmentLine, since: Option<&DateTime>) -> bool {
        snapshot_line_changed(line, self, since)
    }

    fn document_changed(
        &self,
        document: &DocumentRef<'_, ShipmentDocument>,
        since: Option<&DateTime>,
    ) -> bool {
        snapshot_line_changed(document.document, self, since)
    }
}
