//! [`ChangeSet`] for whole orders and order events.

use super::timestamps::{after, same_instant};
use super::{ChangeSet, DocumentRef, LastUpdated, Place};
use crate::api::common::types::{
    BuyerLine, Document, Order, OrderDocumentsEvent, OrderEvent, OrderLine, SingleDeliveryOrder,
    SingleDeliveryOrderEvent, SingleDeliveryOrderLine, SupplierLine,
};
use crate::types::{DateTime, Party};

/// The parts of an order line that hold documents. Implemented for
/// [`OrderLine`] and [`SingleDeliveryOrderLine`].
trait OrderLineParts {
    fn line_id(&self) -> Option<&str>;
    fn buyer_line(&self) -> Option<&BuyerLine>;
    fn supplier_line(&self) -> Option<&SupplierLine>;
}

macro_rules! impl_order_line_parts {
    ($($ty:ty),*) => {$(
        impl OrderLineParts for $ty {
            fn line_id(&self) -> Option<&str> {
                self.id.as_deref()
            }
            fn buyer_line(&self) -> Option<&BuyerLine> {
                self.buyer_line.as_ref()
            }
            fn supplier_line(&self) -> Option<&SupplierLine> {
                self.supplier_line.as_ref()
            }
        }
    )*};
}

impl_order_line_parts!(OrderLine, SingleDeliveryOrderLine);

/// All documents of an order or order event, in the documented order.
fn order_documents<'a, L: OrderLineParts>(
    buyer: Option<&'a [Document]>,
    supplier: Option<&'a [Document]>,
    lines: &'a [L],
) -> Vec<DocumentRef<'a, Document>> {
    let header = |docs: Option<&'a [Document]>, party| {
        docs.unwrap_or_default()
            .iter()
            .map(move |document| DocumentRef {
                document,
                party,
                place: Place::Header,
            })
    };
    let mut out: Vec<_> = header(buyer, Party::Buyer)
        .chain(header(supplier, Party::Supplier))
        .collect();
    for (index, line) in lines.iter().enumerate() {
        let place = Place::Line {
            index,
            id: line.line_id(),
        };
        let buyer_docs = line
            .buyer_line()
            .map(|b| b.documents.as_slice())
            .unwrap_or_default();
        let supplier_docs = line
            .supplier_line()
            .map(|s| s.documents.as_slice())
            .unwrap_or_default();
        out.extend(buyer_docs.iter().map(|document| DocumentRef {
            document,
            party: Party::Buyer,
            place,
        }));
        out.extend(supplier_docs.iter().map(|document| DocumentRef {
            document,
            party: Party::Supplier,
            place,
        }));
    }
    out
}

/// Whether a line of a whole order changed (see the module rules).
pub(super) fn snapshot_line_changed(
    line: &impl LastUpdated,
    order: &impl LastUpdated,
    since: Option<&DateTime>,
) -> bool {
    match since {
        None => same_instant(line.last_updated(), order.last_updated()),
        Some(since) => after(line.last_updated(), since).unwrap_or(false),
    }
}

/// Whether a line of an order event changed (see the module rules).
fn event_line_changed(
    line: &impl LastUpdated,
    event: &impl LastUpdated,
    since: Option<&DateTime>,
) -> bool {
    match since {
        None => true,
        Some(since) => after(line.last_updated().or(event.last_updated()), since).unwrap_or(true),
    }
}

/// Whether the header parts of an order event changed (see the module rules).
fn event_header_changed(event: &impl LastUpdated, since: Option<&DateTime>) -> bool {
    match since {
        None => true,
        Some(since) => after(event.last_updated(), since).unwrap_or(true),
    }
}

/// The header parts of a whole order have no timestamp of their own, so
/// their documents never count as changed (see the module rules).
fn snapshot_header_changed(_order: &impl LastUpdated, _since: Option<&DateTime>) -> bool {
    false
}

/// Implements [`ChangeSet`] for an order or order event type, given the
/// functions that decide whether a line and a header document changed.
macro_rules! impl_order_change_set {
    ($ty:ty, $line:ty, $line_changed:ident, $header_changed:ident) => {
        impl ChangeSet for $ty {
            type Line = $line;
            type Document = Document;

            fn all_lines(&self) -> Vec<&$line> {
                self.lines.iter().collect()
            }

            fn all_documents(&self) -> Vec<DocumentRef<'_, Document>> {
                order_documents(
                    self.buyer_order.as_ref().map(|b| b.documents.as_slice()),
                    self.supplier_order.as_ref().map(|s| s.documents.as_slice()),
                    &self.lines,
                )
            }

            fn line_changed(&self, line: &$line, since: Option<&DateTime>) -> bool {
                $line_changed(line, self, since)
            }

            fn document_changed(
                &self,
                document: &DocumentRef<'_, Document>,
                since: Option<&DateTime>,
            ) -> bool {
                match document.place {
                    Place::Header => $header_changed(self, since),
                    Place::Line { index, .. } => self
                        .lines
                        .get(index)
                        .is_some_and(|line| self.line_changed(line, since)),
                }
            }
        }
    };
}

impl_order_change_set!(
    Order,
    OrderLine,
    snapshot_line_changed,
    snapshot_header_changed
);
impl_order_change_set!(
    SingleDeliveryOrder,
    SingleDeliveryOrderLine,
    snapshot_line_changed,
    snapshot_header_changed
);
impl_order_change_set!(
    OrderEvent,
    OrderLine,
    event_line_changed,
    event_header_changed
);
impl_order_change_set!(
    SingleDeliveryOrderEvent,
    SingleDeliveryOrderLine,
    event_line_changed,
    event_header_changed
);
impl_order_change_set!(
    OrderDocumentsEvent,
    OrderLine,
    event_line_changed,
    event_header_changed
);
