//! `lastUpdatedAt` change filtering: which lines and documents of an order or
//! shipment message changed.
//!
//! Tradecloud sends two kinds of message:
//!
//! * **Order events** (`orderEvent`, `singleDeliveryOrderEvent` /
//!   `simpleOrderEvent`, `orderDocumentsEvent`) carry *only the affected
//!   lines*: every line in an event changed.
//! * **Whole orders and shipments** (a fetched or polled order, a shipment
//!   webhook body, a fetched or polled shipment) carry *all* lines and
//!   documents. `lastUpdatedAt` tells what changed: a line changed in this
//!   message when its `lastUpdatedAt` equals the order's `lastUpdatedAt`; a
//!   shipment line or document changed when its `meta.lastUpdatedAt` equals
//!   the shipment's `meta.lastUpdatedAt`.
//!
//! The [`ChangeSet`] trait gives all of them the same API, so a handler need
//! not special-case events:
//!
//! ```
//! use tradecloud::api::common::types::Order;
//! use tradecloud::changes::{self, ChangeSet};
//!
//! let order: Order = serde_json::from_str(r#"{
//!     "id": "o1",
//!     "lastUpdatedAt": "2025-04-23T10:01:53.812Z",
//!     "lines": [
//!         { "id": "l1", "lastUpdatedAt": "2025-04-23T12:01:53.812+02:00" },
//!         { "id": "l2", "lastUpdatedAt": "2025-04-20T08:15:00Z" }
//!     ]
//! }"#)?;
//!
//! // Changed in this message: the same instant as the order's (not the same text).
//! let ids: Vec<_> = changes::changed_lines(&order).iter().map(|l| l.id.as_deref()).collect();
//! assert_eq!(ids, [Some("l1")]);
//!
//! // Changed after a watermark (strictly after).
//! let since = "2025-04-20T08:15:00Z".parse()?;
//! assert_eq!(order.lines_changed_after(&since).len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The rules
//!
//! Every timestamp is read from `lastUpdatedAt`, falling back to the older
//! name `lastChangedAt` (see [`LastUpdated`]). Timestamps are compared as
//! *instants* with [`DateTime`] (a zone-less value is UTC), never as strings.
//! "Changed after `since`" means strictly after.
//!
//! | message | line changed in this message | line changed after `since` |
//! | --- | --- | --- |
//! | order event | always | its timestamp, else the event's, is after `since`; with neither, yes |
//! | whole order | its timestamp equals the order's | its timestamp is after `since` |
//! | shipment | its `meta` timestamp equals the shipment's | its `meta` timestamp is after `since` |
//!
//! A line or shipment document *without* a timestamp never counts as changed
//! in a whole order or a shipment (nothing says it changed), but always counts
//! in an event (the event carries only what it affects).
//!
//! **Order documents** (on `buyerOrder`, `supplierOrder`, `buyerLine`,
//! `supplierLine`) carry no timestamp of their own. A line document counts as
//! changed when its line does. An order-level document counts as changed in an
//! event (when the event's timestamp is after `since`, or it has none), and
//! never in a whole order, whose header has no timestamp of its own.
//! **Shipment documents** carry `meta.lastUpdatedAt` and follow the shipment
//! line rule.
//!
//! # Parsing any message
//!
//! [`Message`] reads any file `tradecloud inspect` understands by looking at
//! its shape: order and shipment webhook bodies, whole orders, single-delivery
//! orders, shipments and poll responses.
//!
//! ```
//! use tradecloud::changes::{Kind, Message};
//!
//! let message: Message = r#"{
//!     "eventName": "ShipmentIssuedBySupplier",
//!     "shipment": { "id": "s1", "meta": { "lastUpdatedAt": "2025-04-23T10:01:53.812Z" } }
//! }"#.parse()?;
//! assert_eq!(message.kind(), Kind::ShipmentEvent);
//! assert_eq!(message.event_name(), Some("ShipmentIssuedBySupplier"));
//! assert_eq!(message.id(), Some("s1"));
//! # Ok::<(), tradecloud::changes::MessageError>(())
//! ```

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use serde_json::Value;

use crate::api::common::types::{
    BuyerLine, Document, Order, OrderDocumentsEvent, OrderEvent, OrderLine, Shipment,
    ShipmentDocument, ShipmentDocumentMeta, ShipmentLine, ShipmentLineMeta, ShipmentMeta,
    SingleDeliveryOrder, SingleDeliveryOrderEvent, SingleDeliveryOrderLine, SupplierLine,
};
use crate::api::order_search::types::{OrderPollResponse, SingleDeliveryOrderPollResponse};
use crate::api::order_webhook_connector::types::OrderWebhookBody;
use crate::api::shipment::types::ShipmentPollResponse;
use crate::api::shipment_webhook_connector::types::ShipmentWebhookBody;
use crate::types::DateTime;

// ---------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------

/// Something with a "last updated" timestamp: `lastUpdatedAt`, or the older
/// (2022–23 docs) name `lastChangedAt` when `lastUpdatedAt` is missing.
///
/// Shipments, shipment lines and shipment documents keep it in their `meta`.
///
/// ```
/// use tradecloud::api::common::types::ShipmentLine;
/// use tradecloud::changes::LastUpdated;
///
/// let line: ShipmentLine = serde_json::from_str(
///     r#"{ "meta": { "lastChangedAt": "2023-01-15T09:00:00" } }"#,
/// )?;
/// assert_eq!(line.last_updated().map(|t| t.as_str()), Some("2023-01-15T09:00:00"));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub trait LastUpdated {
    /// `lastUpdatedAt`, else `lastChangedAt`, else `None`.
    fn last_updated(&self) -> Option<&DateTime>;
}

impl<T: LastUpdated + ?Sized> LastUpdated for &T {
    fn last_updated(&self) -> Option<&DateTime> {
        (**self).last_updated()
    }
}

impl<T: LastUpdated> LastUpdated for Option<T> {
    fn last_updated(&self) -> Option<&DateTime> {
        self.as_ref().and_then(LastUpdated::last_updated)
    }
}

/// Implements [`LastUpdated`] for types with `last_updated_at` and
/// `last_changed_at` fields.
macro_rules! impl_last_updated_fields {
    ($($ty:ty),* $(,)?) => {$(
        impl LastUpdated for $ty {
            fn last_updated(&self) -> Option<&DateTime> {
                self.last_updated_at.as_ref().or(self.last_changed_at.as_ref())
            }
        }
    )*};
}

impl_last_updated_fields!(
    Order,
    OrderEvent,
    OrderLine,
    SingleDeliveryOrder,
    SingleDeliveryOrderEvent,
    SingleDeliveryOrderLine,
    ShipmentMeta,
    ShipmentLineMeta,
    ShipmentDocumentMeta,
);

/// Implements [`LastUpdated`] for types with only a `last_updated_at` field.
macro_rules! impl_last_updated_only {
    ($($ty:ty),* $(,)?) => {$(
        impl LastUpdated for $ty {
            fn last_updated(&self) -> Option<&DateTime> {
                self.last_updated_at.as_ref()
            }
        }
    )*};
}

impl_last_updated_only!(
    OrderDocumentsEvent,
    OrderPollResponse,
    SingleDeliveryOrderPollResponse,
    ShipmentPollResponse,
);

/// Implements [`LastUpdated`] for types that keep it in `meta`.
macro_rules! impl_last_updated_meta {
    ($($ty:ty),* $(,)?) => {$(
        impl LastUpdated for $ty {
            fn last_updated(&self) -> Option<&DateTime> {
                self.meta.last_updated()
            }
        }
    )*};
}

impl_last_updated_meta!(Shipment, ShipmentLine, ShipmentDocument);

/// Whether `item` is strictly after `since`; `None` when `item` has no timestamp.
fn after(item: Option<&DateTime>, since: &DateTime) -> Option<bool> {
    item.map(|t| t > since)
}

/// Whether `item` has a timestamp and it is the same instant as `reference`.
fn same_instant(item: Option<&DateTime>, reference: Option<&DateTime>) -> bool {
    matches!((item, reference), (Some(a), Some(b)) if a == b)
}

// ---------------------------------------------------------------------------
// Documents and where they sit
// ---------------------------------------------------------------------------

/// The party whose part of the order or shipment holds a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// `buyerOrder`, `buyerLine` or `buyerShipment`.
    Buyer,
    /// `supplierOrder`, `supplierLine` or `supplierShipment`.
    Supplier,
}

impl Side {
    /// `"buyer"` or `"supplier"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buyer => "buyer",
            Side::Supplier => "supplier",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
/// use tradecloud::changes::{self, Place, Side};
///
/// let event: OrderEvent = serde_json::from_str(r#"{
///     "orderId": "o1",
///     "supplierOrder": { "documents": [{ "code": "SO-CONFIRMATION-1", "url": "http://example.com/c.pdf" }] },
///     "lines": [{ "id": "l1", "buyerLine": { "documents": [{ "code": "DRAWING-1", "objectId": "abc" }] } }]
/// }"#)?;
///
/// let docs = changes::documents(&event);
/// assert_eq!(docs[0].code.as_deref(), Some("SO-CONFIRMATION-1"));
/// assert_eq!((docs[0].side, docs[0].place), (Side::Supplier, Place::Header));
/// assert_eq!(docs[1].side, Side::Buyer);
/// assert_eq!(docs[1].place, Place::Line { index: 0, id: Some("l1") });
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug)]
pub struct DocumentRef<'a, D> {
    /// The document.
    pub document: &'a D,
    /// Whose part holds it.
    pub side: Side,
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

// ---------------------------------------------------------------------------
// ChangeSet
// ---------------------------------------------------------------------------

/// The lines and documents of a message, and which of them changed.
///
/// Implemented for whole orders ([`Order`], [`SingleDeliveryOrder`]), order
/// events ([`OrderEvent`], [`SingleDeliveryOrderEvent`],
/// [`OrderDocumentsEvent`]) and [`Shipment`]s, following the
/// [module rules](self#the-rules). The same calls work for all of them:
///
/// ```
/// use tradecloud::api::common::types::{OrderEvent, Shipment};
/// use tradecloud::changes::ChangeSet;
///
/// fn report<M: ChangeSet>(message: &M) -> (usize, usize) {
///     (message.all_lines().len(), message.changed_lines().len())
/// }
///
/// // An event carries only the affected lines: all of them changed.
/// let event: OrderEvent = serde_json::from_str(r#"{ "lines": [{ "id": "l1" }, { "id": "l2" }] }"#)?;
/// assert_eq!(report(&event), (2, 2));
///
/// // A shipment carries all lines: those with the shipment's timestamp changed.
/// let shipment: Shipment = serde_json::from_str(r#"{
///     "meta": { "lastUpdatedAt": "2025-04-23T10:01:53.812Z" },
///     "loadCarriers": [{ "lines": [{ "meta": { "lastUpdatedAt": "2025-04-23T10:01:53.812Z" } }] }],
///     "lines": [{ "meta": { "lastUpdatedAt": "2025-04-22T16:45:10.5Z" } }]
/// }"#)?;
/// assert_eq!(report(&shipment), (2, 1));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub trait ChangeSet {
    /// The line type.
    type Line;
    /// The document type.
    type Document;

    /// Every line the message carries. For a shipment: the lines of every
    /// load carrier in order, then the loose lines.
    fn all_lines(&self) -> Vec<&Self::Line>;

    /// Every document the message carries, with where it sits: header
    /// documents (buyer, then supplier for orders; supplier, then buyer for
    /// shipments), then each line's buyer and supplier documents.
    fn all_documents(&self) -> Vec<DocumentRef<'_, Self::Document>>;

    /// Whether `line` (one of [`all_lines`](Self::all_lines)) changed: in this
    /// message when `since` is `None`, else strictly after `since`.
    fn line_changed(&self, line: &Self::Line, since: Option<&DateTime>) -> bool;

    /// Whether `document` (one of [`all_documents`](Self::all_documents))
    /// changed: in this message when `since` is `None`, else strictly after
    /// `since`.
    fn document_changed(
        &self,
        document: &DocumentRef<'_, Self::Document>,
        since: Option<&DateTime>,
    ) -> bool;

    /// The lines changed in this message.
    fn changed_lines(&self) -> Vec<&Self::Line> {
        self.all_lines()
            .into_iter()
            .filter(|line| self.line_changed(line, None))
            .collect()
    }

    /// The lines changed strictly after `since`.
    fn lines_changed_after(&self, since: &DateTime) -> Vec<&Self::Line> {
        self.all_lines()
            .into_iter()
            .filter(|line| self.line_changed(line, Some(since)))
            .collect()
    }

    /// The documents changed in this message.
    fn changed_documents(&self) -> Vec<DocumentRef<'_, Self::Document>> {
        self.all_documents()
            .into_iter()
            .filter(|doc| self.document_changed(doc, None))
            .collect()
    }

    /// The documents changed strictly after `since`.
    fn documents_changed_after(&self, since: &DateTime) -> Vec<DocumentRef<'_, Self::Document>> {
        self.all_documents()
            .into_iter()
            .filter(|doc| self.document_changed(doc, Some(since)))
            .collect()
    }
}

/// The lines of `message` changed in this message. See [`ChangeSet::changed_lines`].
pub fn changed_lines<M: ChangeSet + ?Sized>(message: &M) -> Vec<&M::Line> {
    message.changed_lines()
}

/// The lines of `message` changed strictly after `since`. See
/// [`ChangeSet::lines_changed_after`].
pub fn lines_changed_after<'a, M: ChangeSet + ?Sized>(
    message: &'a M,
    since: &DateTime,
) -> Vec<&'a M::Line> {
    message.lines_changed_after(since)
}

/// Every document of `message` with where it sits. See [`ChangeSet::all_documents`].
pub fn documents<M: ChangeSet + ?Sized>(message: &M) -> Vec<DocumentRef<'_, M::Document>> {
    message.all_documents()
}

/// The documents of `message` changed in this message. See
/// [`ChangeSet::changed_documents`].
pub fn changed_documents<M: ChangeSet + ?Sized>(message: &M) -> Vec<DocumentRef<'_, M::Document>> {
    message.changed_documents()
}

/// The documents of `message` changed strictly after `since`. See
/// [`ChangeSet::documents_changed_after`].
pub fn documents_changed_after<'a, M: ChangeSet + ?Sized>(
    message: &'a M,
    since: &DateTime,
) -> Vec<DocumentRef<'a, M::Document>> {
    message.documents_changed_after(since)
}

// ---------------------------------------------------------------------------
// Orders
// ---------------------------------------------------------------------------

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
    let header = |docs: Option<&'a [Document]>, side| {
        docs.unwrap_or_default()
            .iter()
            .map(move |document| DocumentRef {
                document,
                side,
                place: Place::Header,
            })
    };
    let mut out: Vec<_> = header(buyer, Side::Buyer)
        .chain(header(supplier, Side::Supplier))
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
            side: Side::Buyer,
            place,
        }));
        out.extend(supplier_docs.iter().map(|document| DocumentRef {
            document,
            side: Side::Supplier,
            place,
        }));
    }
    out
}

/// Whether a line of a whole order changed (see the module rules).
fn snapshot_line_changed(
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

// ---------------------------------------------------------------------------
// Shipments
// ---------------------------------------------------------------------------

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
                side: Side::Supplier,
                place: Place::Header,
            });
        let buyer = self
            .buyer_shipment
            .iter()
            .flat_map(|b| b.documents.iter())
            .map(|document| DocumentRef {
                document,
                side: Side::Buyer,
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

// ---------------------------------------------------------------------------
// Order webhook bodies
// ---------------------------------------------------------------------------

/// The event an order webhook body carries.
#[derive(Debug, Clone, Copy)]
pub enum OrderWebhookEvent<'a> {
    /// `orderEvent`: delivery schedule, affected lines only.
    Order(&'a OrderEvent),
    /// `singleDeliveryOrderEvent`, or the older name `simpleOrderEvent`.
    SingleDelivery(&'a SingleDeliveryOrderEvent),
    /// `orderDocumentsEvent`.
    Documents(&'a OrderDocumentsEvent),
}

/// The event of an order webhook body: `orderEvent`, else
/// `singleDeliveryOrderEvent`, else the older `simpleOrderEvent`, else
/// `orderDocumentsEvent`; `None` when it carries none of them.
///
/// ```
/// use tradecloud::api::order_webhook_connector::types::OrderWebhookBody;
/// use tradecloud::changes::{order_webhook_event, OrderWebhookEvent};
///
/// let body: OrderWebhookBody = serde_json::from_str(r#"{
///     "eventName": "OrderIssuedByBuyer",
///     "simpleOrderEvent": { "orderId": "o1", "lines": [] }
/// }"#)?;
/// assert!(matches!(order_webhook_event(&body), Some(OrderWebhookEvent::SingleDelivery(_))));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn order_webhook_event(body: &OrderWebhookBody) -> Option<OrderWebhookEvent<'_>> {
    if let Some(event) = &body.order_event {
        Some(OrderWebhookEvent::Order(event))
    } else if let Some(event) = body
        .single_delivery_order_event
        .as_ref()
        .or(body.simple_order_event.as_ref())
    {
        Some(OrderWebhookEvent::SingleDelivery(event))
    } else {
        body.order_documents_event
            .as_ref()
            .map(OrderWebhookEvent::Documents)
    }
}

// ---------------------------------------------------------------------------
// Message: any inspectable file
// ---------------------------------------------------------------------------

/// What a [`Message`] is. [`Kind::as_str`] gives the camelCase name used by
/// `tradecloud inspect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An order webhook body with an `orderEvent`.
    OrderEvent,
    /// An order webhook body with a `singleDeliveryOrderEvent` (or `simpleOrderEvent`).
    SingleDeliveryOrderEvent,
    /// An order webhook body with an `orderDocumentsEvent`.
    OrderDocumentsEvent,
    /// A whole order (delivery schedule), as fetched or polled.
    Order,
    /// A whole single-delivery order, as polled.
    SingleDeliveryOrder,
    /// A shipment webhook body.
    ShipmentEvent,
    /// A shipment, as fetched or polled.
    Shipment,
    /// An order poll response (`data` with orders).
    OrderPollResponse,
    /// A single-delivery order poll response.
    SingleDeliveryOrderPollResponse,
    /// A shipment poll response.
    ShipmentPollResponse,
}

impl Kind {
    /// `orderEvent`, `singleDeliveryOrderEvent`, `orderDocumentsEvent`,
    /// `order`, `singleDeliveryOrder`, `shipmentEvent`, `shipment`,
    /// `orderPollResponse`, `singleDeliveryOrderPollResponse` or
    /// `shipmentPollResponse`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::OrderEvent => "orderEvent",
            Kind::SingleDeliveryOrderEvent => "singleDeliveryOrderEvent",
            Kind::OrderDocumentsEvent => "orderDocumentsEvent",
            Kind::Order => "order",
            Kind::SingleDeliveryOrder => "singleDeliveryOrder",
            Kind::ShipmentEvent => "shipmentEvent",
            Kind::Shipment => "shipment",
            Kind::OrderPollResponse => "orderPollResponse",
            Kind::SingleDeliveryOrderPollResponse => "singleDeliveryOrderPollResponse",
            Kind::ShipmentPollResponse => "shipmentPollResponse",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Any Tradecloud message `tradecloud inspect` understands, recognised by its
/// shape (see [`Message::from_json`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// An order webhook body carrying an event ([`order_webhook_event`] is `Some`).
    OrderWebhook(Box<OrderWebhookBody>),
    /// A shipment webhook body.
    ShipmentWebhook(Box<ShipmentWebhookBody>),
    /// A whole order (delivery schedule).
    Order(Box<Order>),
    /// A whole single-delivery order.
    SingleDeliveryOrder(Box<SingleDeliveryOrder>),
    /// A shipment.
    Shipment(Box<Shipment>),
    /// An order poll response.
    OrderPoll(OrderPollResponse),
    /// A single-delivery order poll response.
    SingleDeliveryOrderPoll(SingleDeliveryOrderPollResponse),
    /// A shipment poll response.
    ShipmentPoll(ShipmentPollResponse),
}

/// Why text could not be read as a [`Message`].
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// The bytes are not UTF-8 text.
    #[error("not UTF-8 text: {0}")]
    NotUtf8(std::str::Utf8Error),
    /// The text is not JSON at all.
    #[error("not valid JSON: {0}")]
    NotJson(serde_json::Error),
    /// The JSON is not an object.
    #[error("not a Tradecloud message: expected a JSON object, found {0}")]
    NotAnObject(&'static str),
    /// The JSON object has none of the shapes [`Message`] knows.
    #[error(
        "not a Tradecloud message: expected an order webhook body (orderEvent, singleDeliveryOrderEvent, \
         simpleOrderEvent or orderDocumentsEvent), a shipment webhook body (shipment), a whole order \
         (lines with id or buyerOrder), a shipment (loadCarriers, supplierShipment, buyerShipment or \
         identifiers) or a poll response (data); found {}",
        describe_keys(.keys)
    )]
    Unrecognised {
        /// The top-level keys of the object.
        keys: Vec<String>,
    },
    /// An order webhook body whose event members are all `null`.
    #[error("order webhook body carries no event: orderEvent, singleDeliveryOrderEvent, simpleOrderEvent and orderDocumentsEvent are all null")]
    NoEvent,
    /// The shape was recognised but the content does not fit the type.
    #[error("looks like {what} but does not match it: {error}")]
    Invalid {
        /// What it was taken for, e.g. `"an order webhook body"`.
        what: &'static str,
        /// The deserialisation error, with line and column.
        error: serde_json::Error,
    },
}

fn describe_keys(keys: &[String]) -> String {
    if keys.is_empty() {
        "an empty object".to_owned()
    } else {
        format!("the keys {}", keys.join(", "))
    }
}

fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The shapes [`Message`] recognises, before deserialising into a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    OrderWebhook,
    ShipmentWebhook,
    Order,
    SingleDeliveryOrder,
    Shipment,
    OrderPoll,
    SingleDeliveryOrderPoll,
    ShipmentPoll,
}

const ORDER_EVENT_KEYS: [&str; 4] = [
    "orderEvent",
    "singleDeliveryOrderEvent",
    "simpleOrderEvent",
    "orderDocumentsEvent",
];
const SHIPMENT_KEYS: [&str; 4] = [
    "loadCarriers",
    "supplierShipment",
    "buyerShipment",
    "identifiers",
];

fn is_shipment(object: &serde_json::Map<String, Value>) -> bool {
    SHIPMENT_KEYS.iter().any(|key| object.contains_key(*key))
        || lines_of(object).any(|line| {
            line.get("supplierLine")
                .and_then(Value::as_object)
                .is_some_and(|s| s.contains_key("despatchAdviceNumber"))
        })
}

fn is_order(object: &serde_json::Map<String, Value>) -> bool {
    object.get("lines").is_some_and(Value::is_array)
        && ["id", "buyerOrder", "supplierOrder"]
            .iter()
            .any(|key| object.contains_key(*key))
}

fn is_single_delivery(object: &serde_json::Map<String, Value>) -> bool {
    lines_of(object).any(|line| line.contains_key("statusLine"))
}

fn lines_of(
    object: &serde_json::Map<String, Value>,
) -> impl Iterator<Item = &serde_json::Map<String, Value>> {
    object
        .get("lines")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

fn sniff(value: &Value) -> Result<Shape, MessageError> {
    let object = value
        .as_object()
        .ok_or_else(|| MessageError::NotAnObject(json_type_name(value)))?;
    if ORDER_EVENT_KEYS.iter().any(|key| object.contains_key(*key)) {
        return Ok(Shape::OrderWebhook);
    }
    if object.get("shipment").is_some_and(Value::is_object) {
        return Ok(Shape::ShipmentWebhook);
    }
    if let Some(data) = object.get("data").and_then(Value::as_array) {
        let first = data.iter().find_map(Value::as_object);
        return Ok(match first {
            Some(item) if is_shipment(item) => Shape::ShipmentPoll,
            Some(item) if is_single_delivery(item) => Shape::SingleDeliveryOrderPoll,
            _ => Shape::OrderPoll,
        });
    }
    if is_shipment(object) {
        return Ok(Shape::Shipment);
    }
    if is_order(object) {
        return Ok(if is_single_delivery(object) {
            Shape::SingleDeliveryOrder
        } else {
            Shape::Order
        });
    }
    Err(MessageError::Unrecognised {
        keys: object.keys().cloned().collect(),
    })
}

fn typed<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &'static str,
) -> Result<T, MessageError> {
    serde_json::from_str(text).map_err(|error| MessageError::Invalid { what, error })
}

impl Message {
    /// Reads a message from JSON text, recognising its shape:
    ///
    /// | shape | becomes |
    /// | --- | --- |
    /// | has `orderEvent`, `singleDeliveryOrderEvent`, `simpleOrderEvent` or `orderDocumentsEvent` | [`Message::OrderWebhook`] |
    /// | has a `shipment` object | [`Message::ShipmentWebhook`] |
    /// | has a `data` array | a poll response; the kind follows its first item (orders when empty) |
    /// | has `loadCarriers`, `supplierShipment`, `buyerShipment` or `identifiers`, or lines with `supplierLine.despatchAdviceNumber` | [`Message::Shipment`] |
    /// | has `lines` and `id`, `buyerOrder` or `supplierOrder` | [`Message::SingleDeliveryOrder`] when a line has `statusLine`, else [`Message::Order`] |
    ///
    /// Numbers are read from the text itself, so decimals keep every digit.
    pub fn from_json(text: &str) -> Result<Message, MessageError> {
        let value: Value = serde_json::from_str(text).map_err(MessageError::NotJson)?;
        let message = match sniff(&value)? {
            Shape::OrderWebhook => Message::OrderWebhook(typed(text, "an order webhook body")?),
            Shape::ShipmentWebhook => {
                Message::ShipmentWebhook(typed(text, "a shipment webhook body")?)
            }
            Shape::Order => Message::Order(typed(text, "an order")?),
            Shape::SingleDeliveryOrder => {
                Message::SingleDeliveryOrder(typed(text, "a single-delivery order")?)
            }
            Shape::Shipment => Message::Shipment(typed(text, "a shipment")?),
            Shape::OrderPoll => Message::OrderPoll(typed(text, "an order poll response")?),
            Shape::SingleDeliveryOrderPoll => Message::SingleDeliveryOrderPoll(typed(
                text,
                "a single-delivery order poll response",
            )?),
            Shape::ShipmentPoll => Message::ShipmentPoll(typed(text, "a shipment poll response")?),
        };
        if let Message::OrderWebhook(body) = &message {
            if order_webhook_event(body).is_none() {
                return Err(MessageError::NoEvent);
            }
        }
        Ok(message)
    }

    /// Reads a message from JSON bytes. See [`Message::from_json`].
    pub fn from_slice(bytes: &[u8]) -> Result<Message, MessageError> {
        let text = std::str::from_utf8(bytes).map_err(MessageError::NotUtf8)?;
        Message::from_json(text)
    }

    /// What this message is.
    pub fn kind(&self) -> Kind {
        match self {
            Message::OrderWebhook(body) => match order_webhook_event(body) {
                Some(OrderWebhookEvent::SingleDelivery(_)) => Kind::SingleDeliveryOrderEvent,
                Some(OrderWebhookEvent::Documents(_)) => Kind::OrderDocumentsEvent,
                // `from_json` never builds a body without an event.
                Some(OrderWebhookEvent::Order(_)) | None => Kind::OrderEvent,
            },
            Message::ShipmentWebhook(_) => Kind::ShipmentEvent,
            Message::Order(_) => Kind::Order,
            Message::SingleDeliveryOrder(_) => Kind::SingleDeliveryOrder,
            Message::Shipment(_) => Kind::Shipment,
            Message::OrderPoll(_) => Kind::OrderPollResponse,
            Message::SingleDeliveryOrderPoll(_) => Kind::SingleDeliveryOrderPollResponse,
            Message::ShipmentPoll(_) => Kind::ShipmentPollResponse,
        }
    }

    /// The webhook's `eventName`; `None` for orders, shipments and poll responses.
    pub fn event_name(&self) -> Option<&str> {
        match self {
            Message::OrderWebhook(body) => Some(body.event_name.as_str()),
            Message::ShipmentWebhook(body) => Some(body.event_name.as_str()),
            _ => None,
        }
    }

    /// The order id (`orderId` of an event, `id` of an order) or shipment
    /// id; `None` for poll responses or when missing.
    pub fn id(&self) -> Option<&str> {
        match self {
            Message::OrderWebhook(body) => match order_webhook_event(body)? {
                OrderWebhookEvent::Order(e) => e.order_id.as_deref(),
                OrderWebhookEvent::SingleDelivery(e) => e.order_id.as_deref(),
                OrderWebhookEvent::Documents(e) => e.order_id.as_deref(),
            },
            Message::ShipmentWebhook(body) => body.shipment.id.as_deref(),
            Message::Order(order) => order.id.as_deref(),
            Message::SingleDeliveryOrder(order) => order.id.as_deref(),
            Message::Shipment(shipment) => shipment.id.as_deref(),
            Message::OrderPoll(_)
            | Message::SingleDeliveryOrderPoll(_)
            | Message::ShipmentPoll(_) => None,
        }
    }

    /// The message's own `lastUpdatedAt` (else `lastChangedAt`): the event's,
    /// order's or shipment's, or the poll response's watermark.
    pub fn last_updated(&self) -> Option<&DateTime> {
        match self {
            Message::OrderWebhook(body) => match order_webhook_event(body)? {
                OrderWebhookEvent::Order(e) => e.last_updated(),
                OrderWebhookEvent::SingleDelivery(e) => e.last_updated(),
                OrderWebhookEvent::Documents(e) => e.last_updated(),
            },
            Message::ShipmentWebhook(body) => body.shipment.last_updated(),
            Message::Order(order) => order.last_updated(),
            Message::SingleDeliveryOrder(order) => order.last_updated(),
            Message::Shipment(shipment) => shipment.last_updated(),
            Message::OrderPoll(poll) => poll.last_updated(),
            Message::SingleDeliveryOrderPoll(poll) => poll.last_updated(),
            Message::ShipmentPoll(poll) => poll.last_updated(),
        }
    }
}

impl FromStr for Message {
    type Err = MessageError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Message::from_json(text)
    }
}
