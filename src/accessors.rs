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
//! * What every integration computes from a line comes computed, exactly
//!   ([`Decimal`] arithmetic, no float): its ordered quantity, its net
//!   price, the net price per unit and the net amount (the
//!   `priceUnitQuantity` rule); see [`OrderLine::ordered_quantity`] and
//!   [`Prices`].
//! * What an integration compares in the proposal and request flow: a
//!   line's [`in_progress_status`](OrderLine::in_progress_status), the
//!   supplier's [proposal](OrderLine::supplier_proposal) or the
//!   [request still open](OrderLine::open_supplier_request), with its
//!   quantity, net price and dates ([`Request`]), and the values including
//!   open requests ([`OrderLine::quantity_including_requests`],
//!   [`SingleDeliveryOrderLine::scheduled_delivery_including_requests`]).
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
    BuyerLine, BuyerOrder, CurrentScheduledDelivery, Document, Item, LineInProgressStatus,
    LineLogisticsStatus, LineProcessStatus, LineStatus, MonetaryAmount, Order, OrderDocumentsEvent,
    OrderEvent, OrderLine, OrderLogisticsStatus, OrderProcessStatus, OrderStatus, Price, Prices,
    Request, RequestStatus, Shipment, ShipmentDocument, ShipmentLine, ShipmentProcessStatus,
    SingleDeliveryOrder, SingleDeliveryOrderEvent, SingleDeliveryOrderLine, SupplierLine,
};
use crate::types::{Date, Decimal, Rounding};

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

            /// The item the buyer orders on this line (`buyerLine.item`:
            /// its `number`, `name`, `supplierItemNumber`, ...;
            /// order/supplier/receive "Item"), so that its number is
            /// `line.item().and_then(|i| i.number.as_deref())`. `None` for
            /// a body without it.
            pub fn item(&self) -> Option<&Item> {
                self.buyer_line.as_ref()?.item.as_ref()
            }

            /// The line's process status (`status.processStatus`).
            pub fn process_status(&self) -> Option<&LineProcessStatus> {
                self.status.as_ref().and_then(|s: &LineStatus| s.process_status.as_ref())
            }

            /// The line's logistics status (`status.logisticsStatus`).
            pub fn logistics_status(&self) -> Option<&LineLogisticsStatus> {
                self.status.as_ref().and_then(|s: &LineStatus| s.logistics_status.as_ref())
            }

            /// The finer status of a line whose process status is
            /// `InProgress` (`status.inProgressStatus`, order/status.md "Line
            /// in Progress status"): `OpenSupplierProposal`,
            /// `OpenBuyerReopenRequest`, ...
            pub fn in_progress_status(&self) -> Option<&LineInProgressStatus> {
                self.status.as_ref().and_then(|s: &LineStatus| s.in_progress_status.as_ref())
            }

            /// The supplier's proposal (`supplierLine.requests.proposal`): a
            /// delivery schedule and prices other than the issued ones, in
            /// any [`Request::status`](Request); see
            /// [`open_supplier_request`](Self::open_supplier_request) for the
            /// one the buyer has to answer.
            pub fn supplier_proposal(&self) -> Option<&Request> {
                supplier_requests(&self.supplier_line)?.proposal.as_ref()
            }

            /// The supplier's request to reopen the confirmed line
            /// (`supplierLine.requests.reopenRequest`): a delivery schedule
            /// and prices other than the confirmed ones, in any status.
            pub fn supplier_reopen_request(&self) -> Option<&Request> {
                supplier_requests(&self.supplier_line)?.reopen_request.as_ref()
            }

            /// The buyer's request to reopen the confirmed line
            /// (`buyerLine.requests.reopenRequest`), in any status.
            pub fn buyer_reopen_request(&self) -> Option<&Request> {
                self.buyer_line.as_ref()?.requests.as_ref()?.reopen_request.as_ref()
            }

            /// The supplier's request the buyer has to answer (approve or
            /// reject): the [proposal](Self::supplier_proposal), else the
            /// [reopen request](Self::supplier_reopen_request), whichever is
            /// [open](Request::is_open).
            pub fn open_supplier_request(&self) -> Option<&Request> {
                self.supplier_proposal()
                    .filter(|r| r.is_open())
                    .or_else(|| self.supplier_reopen_request().filter(|r| r.is_open()))
            }
        }
    )*};
}

fn supplier_requests(
    supplier_line: &Option<SupplierLine>,
) -> Option<&crate::api::common::types::SupplierRequests> {
    supplier_line.as_ref()?.requests.as_ref()
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

    /// The shipment's process status (`Issued`, `Approved`, `Rejected`):
    /// the top-level `processStatus` that shipment/buyer/receive lists,
    /// else `status.processStatus`, where the specs model it after orders
    /// (and the shipment poll filters on it). Neither is the older name of
    /// the other; a body may carry either or both (the mock sends both).
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

/// The price in the transaction currency (`priceInTransactionCurrency`),
/// the one the docs require.
fn transaction(price: &Option<Price>) -> Option<&MonetaryAmount> {
    price.as_ref()?.price_in_transaction_currency.as_ref()
}

/// Prices (order/buyer/issue "Requested prices"): a price applies to
/// `priceUnitQuantity` items, and is given as `netPrice`, or as
/// `grossPrice` with `discountPercentage`. Every amount is read in the
/// transaction currency (`priceInTransactionCurrency`), the one the docs
/// require; the base-currency price stays in the fields.
///
/// ```
/// use tradecloud::api::common::types::Prices;
/// use tradecloud::types::Rounding;
///
/// // 12.50 EUR per 100 pieces.
/// let prices: Prices = serde_json::from_str(r#"{
///     "netPrice": { "priceInTransactionCurrency": { "value": 12.50, "currencyIso": "EUR" } },
///     "priceUnitQuantity": 100
/// }"#)?;
/// assert_eq!(prices.net_price().map(|p| p.to_string()).as_deref(), Some("12.50"));
/// assert_eq!(prices.currency(), Some("EUR"));
/// assert_eq!(prices.price_unit_quantity().as_str(), "100");
/// let per_piece = prices.net_price_per_unit(4, Rounding::HalfUp).expect("a net price");
/// assert_eq!(per_piece.as_str(), "0.1250");
/// let amount = prices.net_amount(&"250".parse()?, 2, Rounding::HalfUp).expect("a net price");
/// assert_eq!(amount.as_str(), "31.25");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl Prices {
    /// The net price for [`price_unit_quantity`](Self::price_unit_quantity)
    /// items: `netPrice.priceInTransactionCurrency.value`, else computed
    /// exactly from `grossPrice` and `discountPercentage`
    /// (`gross × (100 − discount) / 100`; no discount: the gross price).
    /// `None` when neither is given.
    ///
    /// ```
    /// use tradecloud::api::common::types::Prices;
    ///
    /// let prices: Prices = serde_json::from_str(r#"{
    ///     "grossPrice": { "priceInTransactionCurrency": { "value": 80.00, "currencyIso": "USD" } },
    ///     "discountPercentage": 12.5
    /// }"#)?;
    /// assert_eq!(prices.net_price().map(|p| p.to_string()).as_deref(), Some("70.00000"));
    /// assert_eq!(prices.net_price(), Some("70".parse()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn net_price(&self) -> Option<Decimal> {
        if let Some(net) = transaction(&self.net_price).and_then(|m| m.value.as_ref()) {
            return Some(net.clone());
        }
        let gross = transaction(&self.gross_price)?.value.as_ref()?;
        let Some(discount) = &self.discount_percentage else {
            return Some(gross.clone());
        };
        let hundred = Decimal::from(100);
        let percent: Decimal = "0.01".parse().ok()?;
        gross
            .checked_mul(&hundred.checked_sub(discount)?)?
            .checked_mul(&percent)
    }

    /// The ISO 4217 currency of the net price (`currencyIso` of
    /// `netPrice`, else of `grossPrice`, in the transaction currency).
    pub fn currency(&self) -> Option<&str> {
        transaction(&self.net_price)
            .and_then(|m| m.currency_iso.as_deref())
            .or_else(|| transaction(&self.gross_price)?.currency_iso.as_deref())
    }

    /// How many items the price applies to (`priceUnitQuantity`): "typically
    /// 1 (unit price) or 100"; 1 when absent.
    pub fn price_unit_quantity(&self) -> Decimal {
        self.price_unit_quantity
            .clone()
            .unwrap_or_else(|| Decimal::from(1))
    }

    /// The net price of one item, `net price ÷ priceUnitQuantity`, with
    /// `scale` digits after the point. `None` without a net price or with
    /// a `priceUnitQuantity` of zero.
    pub fn net_price_per_unit(&self, scale: u32, rounding: Rounding) -> Option<Decimal> {
        self.net_price()?
            .div_rounded(&self.price_unit_quantity(), scale, rounding)
    }

    /// The net amount of `quantity` items, `quantity × net price ÷
    /// priceUnitQuantity`, rounded once to `scale` digits after the point
    /// (the exact product first). `None` as for
    /// [`net_price_per_unit`](Self::net_price_per_unit).
    pub fn net_amount(
        &self,
        quantity: &Decimal,
        scale: u32,
        rounding: Rounding,
    ) -> Option<Decimal> {
        quantity.checked_mul(&self.net_price()?)?.div_rounded(
            &self.price_unit_quantity(),
            scale,
            rounding,
        )
    }
}

/// The sum of `quantities`; `None` when there are none or one is missing
/// (a total without it would be wrong).
fn total<'a>(quantities: impl IntoIterator<Item = Option<&'a Decimal>>) -> Option<Decimal> {
    let mut sum: Option<Decimal> = None;
    for quantity in quantities {
        let quantity = quantity?;
        sum = Some(match sum {
            Some(sum) => sum.checked_add(quantity)?,
            None => quantity.clone(),
        });
    }
    sum
}

/// Price accessors of an order line, reading [`current_prices`](OrderLine::current_prices).
macro_rules! line_price_accessors {
    ($($ty:ty),*) => {$(
        impl $ty {
            /// The net price of the line's [current prices](Self::current_prices)
            /// ([`Prices::net_price`]): for
            /// [`price_unit_quantity`](Self::price_unit_quantity) items.
            pub fn net_price(&self) -> Option<Decimal> {
                self.current_prices()?.net_price()
            }

            /// The currency of the net price ([`Prices::currency`]).
            pub fn currency(&self) -> Option<&str> {
                self.current_prices()?.currency()
            }

            /// How many items the price applies to (`priceUnitQuantity`, 1
            /// when absent).
            pub fn price_unit_quantity(&self) -> Decimal {
                self.current_prices()
                    .map_or_else(|| Decimal::from(1), Prices::price_unit_quantity)
            }

            /// The net price of one item ([`Prices::net_price_per_unit`]).
            pub fn net_price_per_unit(&self, scale: u32, rounding: Rounding) -> Option<Decimal> {
                self.current_prices()?.net_price_per_unit(scale, rounding)
            }

            /// The line's net amount: its
            /// [`ordered_quantity`](Self::ordered_quantity) at its
            /// [`net_price`](Self::net_price) per
            /// [`price_unit_quantity`](Self::price_unit_quantity), rounded
            /// once to `scale` digits ([`Prices::net_amount`]).
            pub fn net_amount(&self, scale: u32, rounding: Rounding) -> Option<Decimal> {
                self.current_prices()?
                    .net_amount(&self.ordered_quantity()?, scale, rounding)
            }
        }
    )*};
}

line_price_accessors!(OrderLine, SingleDeliveryOrderLine);

impl OrderLine {
    /// The ordered quantity: the sum of the line's current delivery
    /// schedule (`lines.deliverySchedule`: the issued quantities, or the
    /// confirmed ones once confirmed, without open requests; see
    /// order/buyer/receive "Delivery schedule"), else of the buyer's
    /// (`buyerLine.deliverySchedule`). `None` when there is no schedule or
    /// a delivery line has no quantity.
    ///
    /// ```
    /// use tradecloud::api::common::types::OrderLine;
    /// use tradecloud::types::Rounding;
    ///
    /// let line: OrderLine = serde_json::from_str(r#"{
    ///     "deliverySchedule": [
    ///         { "position": "1", "date": "2025-05-01", "quantity": 12345678901234.5 },
    ///         { "position": "2", "date": "2025-06-01", "quantity": 0.25 }
    ///     ],
    ///     "prices": {
    ///         "netPrice": { "priceInTransactionCurrency": { "value": 3.99, "currencyIso": "EUR" } },
    ///         "priceUnitQuantity": 10
    ///     }
    /// }"#)?;
    /// assert_eq!(line.ordered_quantity().map(|q| q.to_string()).as_deref(), Some("12345678901234.75"));
    /// assert_eq!(line.net_price(), Some("3.99".parse()?));
    /// assert_eq!(line.currency(), Some("EUR"));
    /// assert_eq!(line.net_price_per_unit(3, Rounding::HalfUp).map(|p| p.to_string()).as_deref(), Some("0.399"));
    /// let amount = line.net_amount(2, Rounding::HalfUp).expect("a quantity and a price");
    /// assert_eq!(amount.as_str(), "4925925881592.67");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ordered_quantity(&self) -> Option<Decimal> {
        if !self.delivery_schedule.is_empty() {
            return total(self.delivery_schedule.iter().map(|d| d.quantity.as_ref()));
        }
        let buyer = self.buyer_line.as_ref()?;
        total(buyer.delivery_schedule.iter().map(|d| d.quantity.as_ref()))
    }

    /// The current prices: `lines.prices` (issued, or confirmed once
    /// confirmed, without open requests), else the buyer's
    /// (`buyerLine.prices`).
    pub fn current_prices(&self) -> Option<&Prices> {
        self.prices
            .as_ref()
            .or_else(|| self.buyer_line.as_ref()?.prices.as_ref())
    }
}

impl SingleDeliveryOrderLine {
    /// The ordered quantity: the quantity of the line's current delivery
    /// (`lines.statusLine.scheduledDelivery`: issued, or confirmed once
    /// confirmed, without open requests), else of the buyer's
    /// (`buyerLine.scheduledDelivery`).
    ///
    /// ```
    /// use tradecloud::api::common::types::SingleDeliveryOrderLine;
    /// use tradecloud::types::Rounding;
    ///
    /// let line: SingleDeliveryOrderLine = serde_json::from_str(r#"{
    ///     "statusLine": {
    ///         "scheduledDelivery": { "date": "2025-05-01", "quantity": 40 },
    ///         "prices": { "netPrice": { "priceInTransactionCurrency": { "value": 1.25, "currencyIso": "EUR" } } }
    ///     }
    /// }"#)?;
    /// assert_eq!(line.ordered_quantity(), Some("40".parse()?));
    /// assert_eq!(line.net_amount(2, Rounding::HalfEven).map(|a| a.to_string()).as_deref(), Some("50.00"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ordered_quantity(&self) -> Option<Decimal> {
        let current = self
            .status_line
            .as_ref()
            .and_then(|s| s.scheduled_delivery.as_ref());
        match current {
            Some(delivery) => delivery.quantity.clone(),
            None => self
                .buyer_line
                .as_ref()?
                .scheduled_delivery
                .as_ref()?
                .quantity
                .clone(),
        }
    }

    /// The current prices: `lines.statusLine.prices`, else the buyer's
    /// (`buyerLine.prices`).
    pub fn current_prices(&self) -> Option<&Prices> {
        self.status_line
            .as_ref()
            .and_then(|s| s.prices.as_ref())
            .or_else(|| self.buyer_line.as_ref()?.prices.as_ref())
    }
}

/// A request of the buyer or the supplier to change a line: a supplier's
/// proposal or reopen request, a buyer's reopen request
/// (order/buyer/receive "Supplier requests", order/supplier/receive "Buyer
/// requests"). What an integration compares with the line's
/// [ordered quantity](OrderLine::ordered_quantity), [net
/// price](OrderLine::net_price) and delivery schedule before it approves or
/// rejects.
///
/// ```
/// use tradecloud::api::common::types::{LineInProgressStatus, LineProcessStatus, OrderLine};
/// use tradecloud::types::Date;
///
/// // The buyer ordered 100 at 2.50 EUR for 2025-06-02; the supplier proposes
/// // 80 at 2.75 EUR, in two deliveries.
/// let line: OrderLine = serde_json::from_str(r#"{
///     "buyerLine": { "position": "0001" },
///     "deliverySchedule": [{ "position": "1", "date": "2025-06-02", "quantity": 100 }],
///     "prices": { "netPrice": { "priceInTransactionCurrency": { "value": 2.50, "currencyIso": "EUR" } } },
///     "supplierLine": { "requests": { "proposal": {
///         "deliverySchedule": [
///             { "position": "1", "date": "2025-06-09", "quantity": 50 },
///             { "position": "2", "date": "2025-06-16", "quantity": 30 }
///         ],
///         "prices": { "netPrice": { "priceInTransactionCurrency": { "value": 2.75, "currencyIso": "EUR" } } },
///         "reason": "Capacity",
///         "status": "Open"
///     } } },
///     "status": { "processStatus": "InProgress", "inProgressStatus": "OpenSupplierProposal" }
/// }"#)?;
/// assert_eq!(line.process_status(), Some(&LineProcessStatus::InProgress));
/// assert_eq!(line.in_progress_status(), Some(&LineInProgressStatus::OpenSupplierProposal));
///
/// let proposal = line.open_supplier_request().expect("an open proposal");
/// assert_eq!(line.ordered_quantity(), Some(100.into()));
/// assert_eq!(proposal.quantity(), Some(80.into()));
/// assert_eq!(line.net_price(), Some("2.50".parse()?));
/// assert_eq!(proposal.net_price(), Some("2.75".parse()?));
/// assert_eq!(proposal.currency(), Some("EUR"));
/// assert_eq!(proposal.last_delivery_date(), Some(&"2025-06-16".parse::<Date>()?));
/// assert_eq!(proposal.reason.as_deref(), Some("Capacity"));
/// assert!(line.supplier_reopen_request().is_none() && line.buyer_reopen_request().is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl Request {
    /// Whether the other party still has to answer it (`status` is `Open`,
    /// order/status.md "Request status").
    pub fn is_open(&self) -> bool {
        self.status == Some(RequestStatus::Open)
    }

    /// The requested quantity: the sum of its `deliverySchedule`. `None`
    /// when the request has no schedule or a delivery line has no quantity.
    pub fn quantity(&self) -> Option<Decimal> {
        total(self.delivery_schedule.iter().map(|d| d.quantity.as_ref()))
    }

    /// The latest date of its `deliverySchedule` (the only one for a single
    /// delivery); `None` without dates.
    pub fn last_delivery_date(&self) -> Option<&Date> {
        self.delivery_schedule
            .iter()
            .filter_map(|d| d.date.as_ref())
            .max()
    }

    /// The requested net price ([`Prices::net_price`] of `prices`), for
    /// [`price_unit_quantity`](Self::price_unit_quantity) items. `None`
    /// when the request has no prices.
    pub fn net_price(&self) -> Option<Decimal> {
        self.prices.as_ref()?.net_price()
    }

    /// The currency of the requested net price ([`Prices::currency`]).
    pub fn currency(&self) -> Option<&str> {
        self.prices.as_ref()?.currency()
    }

    /// How many items the requested price applies to
    /// (`prices.priceUnitQuantity`, 1 when absent).
    pub fn price_unit_quantity(&self) -> Decimal {
        self.prices
            .as_ref()
            .map_or_else(|| Decimal::from(1), Prices::price_unit_quantity)
    }
}

impl OrderLine {
    /// The quantity including open requests: the sum of
    /// `deliveryScheduleIncludingRequests` (the issued, proposed, requested
    /// or confirmed values, by the line's and the request's status), else
    /// the [`ordered_quantity`](Self::ordered_quantity).
    ///
    /// ```
    /// use tradecloud::api::common::types::OrderLine;
    ///
    /// let line: OrderLine = serde_json::from_str(r#"{
    ///     "deliverySchedule": [{ "date": "2025-06-02", "quantity": 100 }],
    ///     "deliveryScheduleIncludingRequests": [{ "date": "2025-06-09", "quantity": 80 }],
    ///     "prices": { "netPrice": { "priceInTransactionCurrency": { "value": 2.50 } } },
    ///     "pricesIncludingRequests": { "netPrice": { "priceInTransactionCurrency": { "value": 2.75 } } }
    /// }"#)?;
    /// assert_eq!(line.quantity_including_requests(), Some(80.into()));
    /// assert_eq!(line.prices_including_requests().and_then(|p| p.net_price()), Some("2.75".parse()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn quantity_including_requests(&self) -> Option<Decimal> {
        if self.delivery_schedule_including_requests.is_empty() {
            return self.ordered_quantity();
        }
        total(
            self.delivery_schedule_including_requests
                .iter()
                .map(|d| d.quantity.as_ref()),
        )
    }

    /// The prices including open requests (`pricesIncludingRequests`),
    /// else the [`current_prices`](Self::current_prices).
    pub fn prices_including_requests(&self) -> Option<&Prices> {
        self.prices_including_requests
            .as_ref()
            .or_else(|| self.current_prices())
    }
}

impl SingleDeliveryOrderLine {
    /// The current delivery (`statusLine.scheduledDelivery`: issued, or
    /// confirmed once confirmed, without open requests); the buyer's own is
    /// `buyerLine.scheduledDelivery`.
    pub fn scheduled_delivery(&self) -> Option<&CurrentScheduledDelivery> {
        self.status_line
            .as_ref()
            .and_then(|s| s.scheduled_delivery.as_ref())
    }

    /// The delivery including open requests
    /// (`statusLine.scheduledDeliveryInclRequests`: the issued, proposed,
    /// requested or confirmed values), else the
    /// [current one](Self::scheduled_delivery).
    ///
    /// ```
    /// use tradecloud::api::common::types::SingleDeliveryOrderLine;
    ///
    /// let line: SingleDeliveryOrderLine = serde_json::from_str(r#"{
    ///     "statusLine": {
    ///         "scheduledDelivery": { "date": "2025-06-02", "quantity": 100 },
    ///         "scheduledDeliveryInclRequests": { "date": "2025-06-09", "quantity": 80 },
    ///         "prices": { "netPrice": { "priceInTransactionCurrency": { "value": 2.50 } } },
    ///         "pricesInclRequests": { "netPrice": { "priceInTransactionCurrency": { "value": 2.75 } } }
    ///     }
    /// }"#)?;
    /// let ordered = line.scheduled_delivery().expect("a delivery");
    /// let requested = line.scheduled_delivery_including_requests().expect("a delivery");
    /// assert_eq!(ordered.date.as_ref().map(|d| d.as_str()), Some("2025-06-02"));
    /// assert_eq!(requested.date.as_ref().map(|d| d.as_str()), Some("2025-06-09"));
    /// assert_eq!(line.quantity_including_requests(), Some(80.into()));
    /// assert_eq!(line.prices_including_requests().and_then(|p| p.net_price()), Some("2.75".parse()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn scheduled_delivery_including_requests(&self) -> Option<&CurrentScheduledDelivery> {
        self.status_line
            .as_ref()
            .and_then(|s| s.scheduled_delivery_incl_requests.as_ref())
            .or_else(|| self.scheduled_delivery())
    }

    /// The quantity of the
    /// [delivery including open requests](Self::scheduled_delivery_including_requests).
    pub fn quantity_including_requests(&self) -> Option<Decimal> {
        self.scheduled_delivery_including_requests()?
            .quantity
            .clone()
    }

    /// The prices including open requests (`statusLine.pricesInclRequests`),
    /// else the [`current_prices`](Self::current_prices).
    pub fn prices_including_requests(&self) -> Option<&Prices> {
        self.status_line
            .as_ref()
            .and_then(|s| s.prices_incl_requests.as_ref())
            .or_else(|| self.current_prices())
    }
}

/// The code accessor of a document type.
macro_rules! document_code {
    ($($ty:ty),*) => {$(
        impl $ty {
            /// The document's code or number (`code`): unique within the
            /// company; optional, so `None` when absent or blank.
            ///
            /// ```
            #[doc = concat!("let document: tradecloud::api::common::types::", stringify!($ty), " = serde_json::from_str(r#\"{\"code\": \"DRAWING-1\", \"objectId\": \"67aa8ece\"}\"#)?;")]
            /// assert_eq!(document.code(), Some("DRAWING-1"));
            /// # Ok::<(), serde_json::Error>(())
            /// ```
            pub fn code(&self) -> Option<&str> {
                self.code.as_deref().filter(|code| !code.trim().is_empty())
            }
        }
    )*};
}

document_code!(Document, ShipmentDocument);

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
        assert_eq!(line.item(), None);
    }

    #[test]
    fn a_line_s_item_is_the_buyer_s() {
        let line: OrderLine = serde_json::from_str(
            r#"{"buyerLine": {"position": "0001", "item": {"number": "A-1", "name": "Bolt",
                                                          "supplierItemNumber": "S-9"}}}"#,
        )
        .unwrap();
        let item = line.item().expect("the buyer's item");
        assert_eq!(item.number.as_deref(), Some("A-1"));
        assert_eq!(item.supplier_item_number.as_deref(), Some("S-9"));
        let single: SingleDeliveryOrderLine =
            serde_json::from_str(r#"{"buyerLine": {"item": {"number": "B-2"}}}"#).unwrap();
        assert_eq!(single.item().and_then(|i| i.number.as_deref()), Some("B-2"));
    }

    #[test]
    fn quantities_and_prices_need_every_part() {
        // A delivery line without a quantity: no total rather than a wrong one.
        let line: OrderLine = serde_json::from_str(
            r#"{"deliverySchedule": [{"quantity": 5}, {"date": "2025-05-01"}]}"#,
        )
        .unwrap();
        assert_eq!(line.ordered_quantity(), None);
        // The buyer's schedule and prices when the aggregates are absent.
        let line: OrderLine = serde_json::from_str(
            r#"{"buyerLine": {"deliverySchedule": [{"quantity": 5}, {"quantity": 7.5}],
                              "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 2}},
                                         "priceUnitQuantity": 0}}}"#,
        )
        .unwrap();
        assert_eq!(
            line.ordered_quantity().map(|q| q.to_string()),
            Some("12.5".into())
        );
        assert_eq!(line.net_price(), Some(Decimal::from(2)));
        // A priceUnitQuantity of zero divides nothing.
        assert_eq!(line.net_amount(2, Rounding::HalfUp), None);
        let empty: OrderLine = serde_json::from_str("{}").unwrap();
        assert_eq!(
            (
                empty.ordered_quantity(),
                empty.net_price(),
                empty.currency()
            ),
            (None, None, None)
        );
        assert_eq!(empty.price_unit_quantity(), Decimal::from(1));
        let single: SingleDeliveryOrderLine =
            serde_json::from_str(r#"{"buyerLine": {"scheduledDelivery": {"quantity": 3}}}"#)
                .unwrap();
        assert_eq!(single.ordered_quantity(), Some(Decimal::from(3)));
        let blank: Document = serde_json::from_str(r#"{"code": " "}"#).unwrap();
        assert_eq!(blank.code(), None);
    }

    #[test]
    fn requests_are_found_where_each_party_puts_them() {
        // A proposal already rejected and a reopen request still open: the
        // open one is the one to answer.
        let line: SingleDeliveryOrderLine = serde_json::from_str(
            r#"{"supplierLine": {"requests": {
                    "proposal": {"deliverySchedule": [{"quantity": 5}], "status": "Rejected"},
                    "reopenRequest": {"deliverySchedule": [{"date": "2025-07-01", "quantity": 4},
                                                           {"date": "2025-06-01", "quantity": 1.5}],
                                      "status": "Open"}}},
                "buyerLine": {"requests": {"reopenRequest": {"status": "Closed"}}},
                "status": {"processStatus": "InProgress", "inProgressStatus": "OpenSupplierReopenRequest"}}"#,
        )
        .unwrap();
        assert_eq!(
            line.in_progress_status(),
            Some(&LineInProgressStatus::OpenSupplierReopenRequest)
        );
        assert!(!line.supplier_proposal().unwrap().is_open());
        let open = line.open_supplier_request().unwrap();
        assert_eq!(open.quantity().map(|q| q.to_string()), Some("5.5".into()));
        assert_eq!(
            open.last_delivery_date().map(Date::as_str),
            Some("2025-07-01")
        );
        // No prices requested: no price, and the neutral unit quantity.
        assert_eq!((open.net_price(), open.currency()), (None, None));
        assert_eq!(open.price_unit_quantity(), Decimal::from(1));
        let buyer = line.buyer_reopen_request().unwrap();
        assert!(!buyer.is_open());
        assert_eq!((buyer.quantity(), buyer.last_delivery_date()), (None, None));
        // Nothing open, nothing to answer; no status, no in-progress status.
        let empty: OrderLine = serde_json::from_str("{}").unwrap();
        assert_eq!(empty.open_supplier_request(), None);
        assert_eq!(empty.in_progress_status(), None);
        assert_eq!(empty.quantity_including_requests(), None);
        // Without the including-requests members, the current values.
        let line: OrderLine = serde_json::from_str(
            r#"{"deliverySchedule": [{"quantity": 3}],
                "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 7}}}}"#,
        )
        .unwrap();
        assert_eq!(line.quantity_including_requests(), Some(Decimal::from(3)));
        assert_eq!(
            line.prices_including_requests().and_then(Prices::net_price),
            Some(Decimal::from(7))
        );
        let single: SingleDeliveryOrderLine =
            serde_json::from_str(r#"{"statusLine": {"scheduledDelivery": {"quantity": 2}}}"#)
                .unwrap();
        assert_eq!(single.quantity_including_requests(), Some(Decimal::from(2)));
        assert_eq!(single.prices_including_requests(), None);
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
