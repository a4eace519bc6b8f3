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
//! use tradecloud::changes::ChangeSet;
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
//! let ids: Vec<_> = order.changed_lines().iter().map(|l| l.id.as_deref()).collect();
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
//! # Layout
//!
//! [`LastUpdated`] reads timestamps (`timestamps.rs`): the one place of
//! the rule "`lastUpdatedAt`, else `lastChangedAt`", which the polling
//! helpers and the mock use too; [`DocumentRef`] and [`Place`] say where a
//! document sits, and whose part holds it (a [`Party`](crate::types::Party))
//! (`documents.rs`);
//! [`ChangeSet`] is implemented for orders and order events (`order.rs`) and
//! for shipments (`shipment.rs`). Which event an order webhook body carries,
//! and reading any file by its shape, belong to [`crate::webhook`]
//! ([`OrderWebhookBody::event`](crate::api::order_webhook_connector::types::OrderWebhookBody::event),
//! [`crate::webhook::Message`]).

#[cfg(doc)]
use crate::api::common::types::{
    Order, OrderDocumentsEvent, OrderEvent, Shipment, SingleDeliveryOrder, SingleDeliveryOrderEvent,
};
use crate::types::DateTime;

mod documents;
mod lines;
mod order;
mod shipment;
mod timestamps;

pub use documents::{DocumentRef, Place};
pub use lines::{describe_changed_lines, DescribeLine, LineChange};
pub use timestamps::LastUpdated;

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
