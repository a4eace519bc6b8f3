//! Timestamps: `lastUpdatedAt` (else the older `lastChangedAt`) of every
//! type that has one, compared as instants.

use crate::api::common::types::{
    Order, OrderDocumentsEvent, OrderEvent, OrderLine, Shipment, ShipmentDocument,
    ShipmentDocumentMeta, ShipmentLine, ShipmentLineMeta, ShipmentMeta, SingleDeliveryOrder,
    SingleDeliveryOrderEvent, SingleDeliveryOrderLine,
};
use crate::api::order_search::types::{OrderPollResponse, SingleDeliveryOrderPollResponse};
use crate::api::shipment::types::ShipmentPollResponse;
use crate::types::DateTime;

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
pub(super) fn after(item: Option<&DateTime>, since: &DateTime) -> Option<bool> {
    item.map(|t| t > since)
}

/// Whether `item` has a timestamp and it is the same instant as `reference`.
pub(super) fn same_instant(item: Option<&DateTime>, reference: Option<&DateTime>) -> bool {
    matches!((item, reference), (Some(a), Some(b)) if a == b)
}
