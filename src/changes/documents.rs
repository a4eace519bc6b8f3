//! Documents and where they sit in a message: [`Place`] and
//! [`DocumentRef`] (whose part holds one: a [`Party`]).

use std::ops::Deref;

use crate::types::Party;

/// Where in the message a document is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Place<'a> {
    /// The header: `buyerOrder`/`supplierOrder` of an order, or
    /// `buyerShipment`/`supplierShipment` of a shipment.
    Header,
    /// An order line's `buyerLine` or `supplierLine`.
    Line {
        /// The index of the line in the message's `lines`.
        index: usize,
        /// The line's Tradecloud `id`, when present.
        id: Option<&'a str>,
    },
}

/// A document of a message together with where it sits.
///
/// It dereferences to the document itself, so `doc.code` works.
///
/// ```
/// use tradecloud::api::common::types::OrderEvent;
/// use tradecloud::changes::{ChangeSet, Place};
/// use tradecloud::types::Party;
///
/// let event: OrderEvent = serde_json::from_str(r#"{
///     "orderId": "o1",
///     "supplierOrder": { "documents": [{ "code": "SO-CONFIRMATION-1", "url": "http://example.com/c.pdf" }] },
///     "lines": [{ "id": "l1", "buyerLine": { "documents": [{ "code": "DRAWING-1", "objectId": "abc" }] } }]
/// }"#)?;
///
/// let docs = event.all_documents();
/// assert_eq!(docs[0].code.as_deref(), Some("SO-CONFIRMATION-1"));
/// assert_eq!((docs[0].party, docs[0].place), (Party::Supplier, Place::Header));
/// assert_eq!(docs[1].party, Party::Buyer);
/// assert_eq!(docs[1].place, Place::Line { index: 0, id: Some("l1") });
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug)]
pub struct DocumentRef<'a, D> {
    /// The document.
    pub document: &'a D,
    /// Whose part holds it.
    pub party: Party,
    /// Header or line.
    pub place: Place<'a>,
}

// Manual impls: `derive` would require `D: Clone`.
impl<D> Clone for DocumentRef<'_, D> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<D> Copy for DocumentRef<'_, D> {}

impl<D> Deref for DocumentRef<'_, D> {
    type Target = D;

    fn deref(&self) -> &D {
        self.document
    }
}
