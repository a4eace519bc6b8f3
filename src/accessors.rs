//! Accessors for the deep paths of the generated models that integrations
//! read all the time, written by hand beside the generated types.
//!
//! The specs mark no field required, so every generated field is an
//! `Option` and a body that lacks a field still parses (Tradecloud adds
//! and drops fields without notice; see the crate's forward-compatibility
//! rules). The accessors remove the `Option` chains:
//!
//! * Values Tradecloud's documentation says are always there (the ids, a
//!   line's `buyerLine.position`, a shipment line's despatch advice number
//!   and quantity) come as plain values: `&str`, or `""` for a body that
//!   breaks the rule (such a body is kept, not refused).
//! * Values that may be missing (statuses, the purchase order number of a
//!   partial event) come as one `Option` instead of a chain.
//!
//! ```
//! use tradecloud::api::common::types::Order;
//! use tradecloud::api::common::types::{LineProcessStatus, OrderProcessStatus};
//!
//! let order: Order = serde_json::from_str(r#"{
//!     "id": "7e1f5b2c",
//!     "buyerOrder": { "purchaseOrderNumber": "PO-1" },
//!     "status": { "processStatus": "Confirmed" },
//!     "lines": [{ "id": "l1", "buyerLine": { "position": "0010" }, "status": { "processStatus": "Confirmed" } }]
//! }"#)?;
//! assert_eq!(order.id(), "7e1f5b2c");
//! assert_eq!(order.purchase_order_number(), Some("PO-1"));
//! assert_eq!(order.process_status(), Some(&OrderProcessStatus::Confirmed));
//! let line = &order.lines[0];
//! assert_eq!((line.id(), line.position()), ("l1", "0010"));
//! assert_eq!(line.process_status(), Some(&LineProcessStatus::Confirmed));
//! # Ok::<(), serde_json::Error>(())
//! ```

use crate::api::common::types::{
    BuyerLine, BuyerOrder, LineLogisticsStatus, LineProcessStatus, LineStatus, Order,
    OrderDocumentsEvent, OrderEvent, OrderLine, OrderLogisticsStatus, OrderProcessStatus,
    OrderStatus, Shipment, ShipmentLine, ShipmentProcessStatus, SingleDeliveryOrder,
    SingleDeliveryOrderEvent, SingleDeliveryOrderLine,
};
use crate::types::Decimal;

fn text(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or_default()
}

fn purchase_order_number(buyer_order: &Option<BuyerOrder>) -> Option<&str> {
    buyer_order.as_ref()?.purchase_order_number.as_deref()
}

fn order_process_status(status: &Option<OrderStatus>) -> Option<&OrderProcessStatus> {
    status.as_ref()?.process_status.as_ref()
}

fn order_logistics_status(status: &Option<OrderStatus>) -> Option<&OrderLogisticsStatus> {
    status.as_ref()?.logistics_status.as_ref()
}

fn position(buyer_line: &Option<BuyerLine>) -> &str {
    buyer_line
        .as_ref()
        .and_then(|b| b.position.as_deref())
        .unwrap_or_default()
}

/// Accessors of a whole order or an order event; `$id` is `id` or `orderId`.
macro_rules! order_accessors {
    ($ty:ty, $id:ident, $wire:literal) => {
        impl $ty {
            #[doc = concat!("The Tradecloud order id (`", $wire, "`). Always present per ")]
            /// order/buyer/receive ("Tradecloud order identifier"); `""`
            /// only for a body without it.
            pub fn $id(&self) -> &str {
                text(&self.$id)
            }

            /// The buyer's purchase order number
            /// (`buyerOrder.purchaseOrderNumber`): required when an order is
            /// issued, absent only from events that leave out the buyer part.
            pub fn purchase_order_number(&self) -> Option<&str> {
                purchase_order_number(&self.buyer_order)
            }
        }
    };
}

/// Status accessors of a type with an order `status`.
macro_rules! order_status_accessors {
    ($($ty:ty),*) => {$(
        impl $ty {
            /// The order's aggregated process status (`status.processStatus`).
            pub fn process_status(&self) -> Option<&OrderProcessStatus> {
                order_process_status(&self.status)
            }

            /// The order's aggregated logistics status (`status.logisticsStatus`).
            pub fn logistics_status(&self) -> Option<&OrderLogisticsStatus> {
                order_logistics_status(&self.status)
            }
        }
    )*};
}

/// Accessors of an order line (delivery schedule or single delivery).
macro_rules! line_accessors {
    ($($ty:ty),*) => {$(
        impl $ty {
            /// The Tradecloud line id (`id`). Always present per
            /// order/buyer/receive; `""` only for a body without it.
            pub fn id(&self) -> &str {
                text(&self.id)
            }

            /// The line's position in the purchase order
            /// (`buyerLine.position`), "the required line position
            /// identifier" (order/buyer/issue); `""` only for a body without it.
            pub fn position(&self) -> &str {
                position(&self.buyer_line)
            }

            /// The line's process status (`status.processStatus`).
            pub fn process_status(&self) -> Option<&LineProcessStatus> {
                self.status.as_ref().and_then(|s: &LineStatus| s.process_status.as_ref())
            }

            /// The line's logistics status (`status.logisticsStatus`).
            pub fn logistics_status(&self) -> Option<&LineLogisticsStatus> {
                self.status.as_ref().and_then(|s: &LineStatus| s.logistics_status.as_ref())
            }
        }
    )*};
}

order_accessors!(Order, id, "id");
order_accessors!(SingleDeliveryOrder, id, "id");
order_accessors!(OrderEvent, order_id, "orderId");
order_accessors!(SingleDeliveryOrderEvent, order_id, "orderId");
order_accessors!(OrderDocumentsEvent, order_id, "orderId");
order_status_accessors!(
    Order,
    SingleDeliveryOrder,
    OrderEvent,
    SingleDeliveryOrderEvent
);
line_accessors!(OrderLine, SingleDeliveryOrderLine);

impl Shipment {
    /// The Tradecloud shipment id (`id`). Always present per
    /// shipment/buyer/receive ("The Tradecloud shipment identifier"); `""`
    /// only for a body without it.
    pub fn id(&self) -> &str {
        text(&self.id)
    }

    /// The shipment's process status: `processStatus`, else the older
    /// `status.processStatus`.
    pub fn process_status(&self) -> Option<&ShipmentProcessStatus> {
        self.process_status
            .as_ref()
            .or_else(|| self.status.as_ref()?.process_status.as_ref())
    }
}

impl ShipmentLine {
    /// The despatch advice number (`supplierLine.despatchAdviceNumber`),
    /// "mandatory" per shipment/buyer/receive; `""` only for a body without it.
    pub fn despatch_advice_number(&self) -> &str {
        self.supplier_line
            .as_ref()
            .and_then(|s| s.despatch_advice_number.as_deref())
            .unwrap_or_default()
    }

    /// The despatched quantity (`supplierLine.despatchQuantity`),
    /// "mandatory" per shipment/buyer/receive; `None` only for a body
    /// without it (a quantity has no neutral default).
    pub fn despatch_quantity(&self) -> Option<&Decimal> {
        self.supplier_line.as_ref()?.despatch_quantity.as_ref()
    }

    /// The purchase order number this line delivers on
    /// (`purchaseOrderNumber`, "mandatory"); `""` only for a body without it.
    pub fn purchase_order_number(&self) -> &str {
        text(&self.purchase_order_number)
    }

    /// The purchase order line position this line delivers on
    /// (`purchaseOrderLinePosition`, "mandatory"); `""` only for a body
    /// without it.
    pub fn purchase_order_line_position(&self) -> &str {
        text(&self.purchase_order_line_position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_values_read_as_empty_or_none() {
        let order: Order = serde_json::from_str("{}").unwrap();
        assert_eq!(order.id(), "");
        assert_eq!(order.purchase_order_number(), None);
        assert_eq!(order.process_status(), None);
        let event: OrderDocumentsEvent = serde_json::from_str(r#"{"orderId": "o1"}"#).unwrap();
        assert_eq!(event.order_id(), "o1");
        let line: SingleDeliveryOrderLine = serde_json::from_str("{}").unwrap();
        assert_eq!((line.id(), line.position()), ("", ""));
        assert_eq!(line.logistics_status(), None);
    }

    #[test]
    fn shipments_read_their_status_and_lines() {
        let shipment: Shipment = serde_json::from_str(
            r#"{"id": "s1", "status": {"processStatus": "Approved"},
                "lines": [{"purchaseOrderNumber": "PO-1", "purchaseOrderLinePosition": "0010",
                           "supplierLine": {"despatchAdviceNumber": "DA-7", "despatchQuantity": 12.500}}]}"#,
        )
        .unwrap();
        assert_eq!(shipment.id(), "s1");
        assert_eq!(
            shipment.process_status(),
            Some(&ShipmentProcessStatus::Approved)
        );
        let line = &shipment.lines[0];
        assert_eq!(
            (
                line.purchase_order_number(),
                line.purchase_order_line_position(),
                line.despatch_advice_number()
            ),
            ("PO-1", "0010", "DA-7")
        );
        assert_eq!(
            line.despatch_quantity().map(Decimal::as_str),
            Some("12.500")
        );
        let empty: ShipmentLine = serde_json::from_str("{}").unwrap();
        assert_eq!(empty.despatch_advice_number(), "");
        assert_eq!(empty.despatch_quantity(), None);
    }
}
