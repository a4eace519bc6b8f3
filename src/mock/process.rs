//! Tradecloud's order and shipment process, as the mock plays it between
//! its buyer and its supplier company: the transition rules of
//! `order/status.md`, `order/buyer/*` (issue, update, cancel, complete,
//! receive goods), `order/supplier/send-order-response/README.md`, the
//! buyer's answers to proposals (the order actions of `specs/order.yaml`)
//! and `shipment/supplier/send-despatch-advice.md`.
//!
//! The functions here are pure: they take the stored order (or shipment)
//! and a message, change the order, and say whether anything changed. The
//! caller ([`super::write`]) finds the order, hands out the timestamp and
//! stores the result. The choices made where the documentation is silent
//! are listed in the module documentation of [`super`] ("Behaviour").

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::config::MockCompany;
use crate::api::api_connector::types as connector;
use crate::api::common::types::{
    BuyerLine, BuyerOrder, BuyerRequests, BuyerShipment, ConfirmedLine,
    CurrentDeliveryScheduleLine, CurrentScheduledDelivery, DeliveryHistoryLine,
    DeliveryLineLogisticsStatus, DeliveryScheduleLine, Document, LineInProgressStatus,
    LineLogisticsStatus, LineProcessStatus, LineStatus, MergedItemDetails, Order, OrderLine,
    OrderLogisticsStatus, OrderProcessStatus, OrderStatus, Prices, Request, RequestStatus,
    Shipment, ShipmentLine, ShipmentLineMeta, ShipmentMeta, ShipmentProcessStatus, ShipmentStatus,
    SingleDeliveryOrder, SingleDeliveryOrderLine, StatusLine, SupplierLine, SupplierOrder,
    SupplierRequests, SupplierShipment,
};
use crate::types::validate::is_blank;
use crate::types::{Date, DateTime, Decimal, Party};

/// Convert between two generated types with the same JSON members (a
/// message's part and the stored order's part); members the target does
/// not define are dropped, and a value that does not fit gives the
/// target's default.
fn convert<A: Serialize, B: DeserializeOwned + Default>(value: &A, drop: &[&str]) -> B {
    let Ok(mut json) = serde_json::to_value(value) else {
        return B::default();
    };
    if let serde_json::Value::Object(members) = &mut json {
        for name in drop {
            members.remove(*name);
        }
    }
    serde_json::from_value(json).unwrap_or_default()
}

/// A new Tradecloud identifier: a random UUID (version 4).
pub(crate) fn new_id() -> String {
    let a = fastrand::u128(..);
    let hex = format!("{a:032x}");
    format!(
        "{}-{}-4{}-{:x}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        8 + (a >> 60 & 0x3),
        &hex[17..20],
        &hex[20..32]
    )
}

/// The two companies of the process.
#[derive(Clone, Copy)]
pub(crate) struct Parties<'a> {
    pub buyer: &'a MockCompany,
    pub supplier: &'a MockCompany,
}

// ----- reading an order ---------------------------------------------------

/// The line's process status (`None` when the data has none).
fn process_status(line: &OrderLine) -> Option<&LineProcessStatus> {
    line.status.as_ref()?.process_status.as_ref()
}

/// A buyer indicator of a line: the line's own value, else the order's,
/// else not set ("line indicators have precedence over (overrule) order
/// indicators", order/buyer/issue/indicators.md), each indicator on its
/// own.
fn line_else_order(line: Option<bool>, order: Option<bool>) -> bool {
    line.or(order).unwrap_or(false)
}

fn line_position(line: &OrderLine) -> Option<&str> {
    line.buyer_line.as_ref()?.position.as_deref()
}

/// What a message naming lines at `positions` finds missing in `order`:
/// the positions it does not have, said as a sentence (`None`: all there).
pub(crate) fn missing_lines<'p>(
    order: &Order,
    positions: impl IntoIterator<Item = &'p str>,
) -> Option<String> {
    let mut missing: Vec<&str> = Vec::new();
    for position in positions {
        if !order
            .lines
            .iter()
            .any(|l| line_position(l) == Some(position))
            && !missing.contains(&position)
        {
            missing.push(position);
        }
    }
    (!missing.is_empty()).then(|| {
        format!(
            "the order has no line at position {}; those lines changed nothing: send only \
             positions of the order's lines (buyerLine.position)",
            missing.join(", ")
        )
    })
}

/// The line of `order` at `position`.
fn line_at_mut<'o>(order: &'o mut Order, position: &str) -> Option<&'o mut OrderLine> {
    order
        .lines
        .iter_mut()
        .find(|l| line_position(l) == Some(position))
}

/// The order's purchase order number (from the buyer part, else the top).
pub(crate) fn purchase_order_number(order: &Order) -> Option<&str> {
    order
        .buyer_order
        .as_ref()
        .and_then(|b| b.purchase_order_number.as_deref())
        .or(order.purchase_order_number.as_deref())
}

/// Whether `order` is the buyer's order `purchase_order_number`.
pub(crate) fn is_buyer_order(order: &Order, buyer: &MockCompany, number: &str) -> bool {
    order
        .buyer_order
        .as_ref()
        .and_then(|b| b.company_id.as_deref())
        == Some(buyer.company_id.as_str())
        && purchase_order_number(order) == Some(number)
}

/// Whether `order` is the order `purchase_order_number` of the buyer the
/// supplier knows as `buyer_account_number`.
pub(crate) fn is_supplier_order(
    order: &Order,
    supplier: &MockCompany,
    buyer_account_number: &str,
    number: &str,
) -> bool {
    let Some(supplier_order) = &order.supplier_order else {
        return false;
    };
    supplier_order.company_id.as_deref() == Some(supplier.company_id.as_str())
        && supplier_order.buyer_account_number.as_deref() == Some(buyer_account_number)
        && purchase_order_number(order) == Some(number)
}

/// A delivery schedule and prices: what the parties negotiate about.
#[derive(Clone, Debug, Default, PartialEq)]
struct Terms {
    schedule: Vec<DeliveryScheduleLine>,
    prices: Option<Prices>,
}

impl Terms {
    /// Whether `self` (responded or requested values) agrees with `other`:
    /// the same number of delivery lines with the same dates and
    /// quantities in the same order (positions and other members are not
    /// compared), and the same prices (net price, gross price, discount,
    /// price unit quantity and unit; compared as decimal numbers). No
    /// prices on `self` agree with any.
    fn agrees_with(&self, other: &Terms) -> bool {
        let schedule = self.schedule.len() == other.schedule.len()
            && self
                .schedule
                .iter()
                .zip(&other.schedule)
                .all(|(a, b)| a.date == b.date && a.quantity == b.quantity);
        let prices = match (&self.prices, &other.prices) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => {
                a.net_price == b.net_price
                    && a.gross_price == b.gross_price
                    && a.discount_percentage == b.discount_percentage
                    && a.price_unit_quantity == b.price_unit_quantity
                    && a.price_unit_of_measure_iso == b.price_unit_of_measure_iso
            }
        };
        schedule && prices
    }

    fn request(&self, reason: Option<String>) -> Request {
        Request {
            delivery_schedule: self.schedule.clone(),
            prices: self.prices.clone(),
            reason,
            status: Some(RequestStatus::Open),
            ..Request::default()
        }
    }

    fn of_request(request: &Request) -> Terms {
        Terms {
            schedule: request.delivery_schedule.clone(),
            prices: request.prices.clone(),
        }
    }
}

/// The buyer's requested values of a line.
fn requested(line: &OrderLine) -> Terms {
    let buyer = line.buyer_line.as_ref();
    Terms {
        schedule: buyer
            .map(|b| b.delivery_schedule.clone())
            .unwrap_or_default(),
        prices: buyer.and_then(|b| b.prices.clone()),
    }
}

/// Whether the supplier's request at `pointer` of `line` (the line as
/// JSON, as [`super::webhooks`] compares lines) asks for the values the
/// buyer requested ([`Terms::agrees_with`]): so is the proposal a
/// `proposeWhenAccepted` line becomes when the supplier accepts it, "a
/// proposal with requested values" (order/buyer/issue/propose-when-accepted.md).
/// A line or request that does not read as one asks for none.
pub(crate) fn asks_requested_values(line: &serde_json::Value, pointer: &str) -> bool {
    let Ok(order_line) = serde_json::from_value::<OrderLine>(line.clone()) else {
        return false;
    };
    let Some(Ok(request)) = line
        .pointer(pointer)
        .map(|r| serde_json::from_value::<Request>(r.clone()))
    else {
        return false;
    };
    Terms::of_request(&request).agrees_with(&requested(&order_line))
}

/// The agreed values of a line, once it was confirmed.
fn confirmed(line: &OrderLine) -> Option<Terms> {
    let confirmed = line.confirmed_line.as_ref()?;
    Some(Terms {
        schedule: confirmed.delivery_schedule.clone(),
        prices: confirmed.prices.clone(),
    })
}

fn is_open(request: Option<&Request>) -> bool {
    request.is_some_and(|r| r.status == Some(RequestStatus::Open))
}

fn supplier_requests(line: &mut OrderLine) -> &mut SupplierRequests {
    line.supplier_line
        .get_or_insert_with(SupplierLine::default)
        .requests
        .get_or_insert_with(SupplierRequests::default)
}

fn buyer_requests(line: &mut OrderLine) -> &mut BuyerRequests {
    line.buyer_line
        .get_or_insert_with(BuyerLine::default)
        .requests
        .get_or_insert_with(BuyerRequests::default)
}

/// Set a request's status when it is open.
fn close(request: &mut Option<Request>, status: RequestStatus) {
    if let Some(request) = request
        .as_mut()
        .filter(|r| r.status == Some(RequestStatus::Open))
    {
        request.status = Some(status);
    }
}

/// Close every open request of a line (the line was answered in full).
fn close_all(line: &mut OrderLine, status: RequestStatus) {
    if let Some(requests) = line
        .supplier_line
        .as_mut()
        .and_then(|s| s.requests.as_mut())
    {
        close(&mut requests.proposal, status.clone());
        close(&mut requests.reopen_request, status.clone());
    }
    if let Some(requests) = line.buyer_line.as_mut().and_then(|b| b.requests.as_mut()) {
        close(&mut requests.reopen_request, status);
    }
}

/// The open request whose values `*IncludingRequests` shows: the
/// supplier's proposal or reopen request, else the buyer's reopen request.
fn open_request(line: &OrderLine) -> Option<&Request> {
    let supplier = line
        .supplier_line
        .as_ref()
        .and_then(|s| s.requests.as_ref());
    let buyer = line.buyer_line.as_ref().and_then(|b| b.requests.as_ref());
    [
        supplier.and_then(|r| r.proposal.as_ref()),
        supplier.and_then(|r| r.reopen_request.as_ref()),
        buyer.and_then(|r| r.reopen_request.as_ref()),
    ]
    .into_iter()
    .flatten()
    .find(|r| r.status == Some(RequestStatus::Open))
}

/// Set a line's process status and its in-progress status. The
/// in-progress status is "a more fine-grained status when an order line
/// `processStatus` is `InProgress`" (order/status.md#L50): a line in any
/// other process status has none, so `in_progress` is dropped then, and
/// every path that takes a line out of `InProgress` (through here) clears
/// it.
fn set_status(
    line: &mut OrderLine,
    process: LineProcessStatus,
    in_progress: Option<LineInProgressStatus>,
) {
    let status = line.status.get_or_insert_with(LineStatus::default);
    status.in_progress_status = in_progress.filter(|_| process == LineProcessStatus::InProgress);
    status.process_status = Some(process);
    if status.logistics_status.is_none() {
        status.logistics_status = Some(LineLogisticsStatus::Open);
    }
}

/// A current delivery schedule (`deliverySchedule` or
/// `deliveryScheduleIncludingRequests`) made of `schedule`, keeping what
/// logistics said (`etd`, `eta`, and `status` where `schedule` has none)
/// of each delivery line in `old`, the same schedule before. The same
/// delivery line is the one with the same `position`; failing that, the
/// one at the same place with the same date and quantity whose position
/// no delivery line of `schedule` has: a delivery line that just got its
/// position (the buyer's ERP "must assign a position to the split
/// delivery line", api/delivery-schedule.md#L50;
/// [`take_buyer_delivery_fields`]) or that has none is still the same
/// delivery line, and keeps its logistics `etd`/`eta`
/// (order/buyer/receive/README.md#L257-L262).
fn current_schedule(
    schedule: &[DeliveryScheduleLine],
    old: &[CurrentDeliveryScheduleLine],
) -> Vec<CurrentDeliveryScheduleLine> {
    let positioned = |o: &CurrentDeliveryScheduleLine| {
        o.position.is_some() && schedule.iter().any(|d| d.position == o.position)
    };
    schedule
        .iter()
        .enumerate()
        .map(|(index, line)| {
            let mut current: CurrentDeliveryScheduleLine = convert(line, &[]);
            // Keep what logistics said of the same delivery line.
            let same = old
                .iter()
                .find(|o| o.position.is_some() && o.position == current.position)
                .or_else(|| {
                    old.get(index).filter(|o| {
                        !positioned(o) && o.date == current.date && o.quantity == current.quantity
                    })
                });
            if let Some(before) = same {
                current.etd = before.etd.clone();
                current.eta = before.eta.clone();
                // A delivery line's logistics status only moves forward
                // here: the `status` the buyer sends, "according to the
                // buyer" (api/delivery-schedule.md), and kept in its
                // requested and confirmed schedules, takes a delivery line
                // further ([`advances`]) but does not take back what a
                // despatch advice, a goods receipt or an indicator did
                // since, as indicators only move a status forward
                // (order/buyer/issue/indicators.md: "`Open`, `Produced`,
                // `ReadyToShip` or `Shipped` will become `Delivered`"); a
                // `Delivered` line keeps all its delivery lines delivered.
                current.status = match current.status.take() {
                    Some(sent) if advances(&before.status, &sent) => Some(sent),
                    _ => before.status.clone(),
                };
            }
            current
        })
        .collect()
}

/// Recompute a line's current views after a change, and stamp it:
/// `deliverySchedule`/`prices` show the confirmed values once the line was
/// confirmed (else the buyer's requested ones), `*IncludingRequests` the
/// values of an open request, else the same; `lastUpdatedAt` and
/// `lastChangedAt` become `now`. The line's `reason` (the reason given
/// with this event, for a rejection) is cleared: a transition that has one
/// sets it after this ([`give_reason`]).
fn refresh_line(line: &mut OrderLine, now: &DateTime) {
    line.reason = None;
    let base = confirmed(line).unwrap_or_else(|| requested(line));
    let including = open_request(line)
        .map(Terms::of_request)
        .unwrap_or_else(|| base.clone());
    let including_prices = including.prices.clone().or_else(|| base.prices.clone());
    line.delivery_schedule = current_schedule(&base.schedule, &line.delivery_schedule);
    // An open shipment reschedule request has no request object: its
    // schedule is the one `deliveryScheduleIncludingRequests` shows
    // ([`ship_lines`]), kept until the buyer answers.
    if !has_open_reschedule(line) {
        line.delivery_schedule_including_requests = current_schedule(
            &including.schedule,
            &line.delivery_schedule_including_requests,
        );
    }
    line.prices = base.prices;
    line.prices_including_requests = including_prices;
    line.last_updated_at = Some(now.clone());
    line.last_changed_at = Some(now.clone());
}

/// Give a changed line the reason of its rejection, as the line's
/// `reason` ("the reason given with this event for this line, for example
/// why it was rejected", `specs/common.yaml`, from Tradecloud's own
/// webhook receiver); order events carry it to the other company. A
/// blank reason ([`is_blank`]: empty or only whitespace) is none. Call
/// after [`refresh_line`], which clears it.
fn give_reason(line: &mut OrderLine, reason: Option<&str>) {
    if let Some(reason) = reason.filter(|r| !is_blank(r)) {
        line.reason = Some(reason.to_owned());
    }
}

/// The order status: the aggregation of the lines' statuses.
///
/// Process status: the lines' common status when they all have the same;
/// cancelled lines do not count while another line is not cancelled;
/// otherwise `InProgress` while any line is `Issued`, `InProgress` or
/// `Rejected` (order/status.md: `Confirmed` is "completely agreed",
/// `Rejected` "completely rejected"; a rejected line among others is
/// neither, and waits for the buyer to reissue or cancel it), else
/// `Confirmed` when a line is `Confirmed`, else `Completed`. Logistics status: the lines' common
/// status when they all have the same (cancelled lines not counting while
/// others are not), else the lowest stage they all reached (`Open` <
/// `Produced` < `ReadyToShip` < `Shipped` < `Delivered`; order/status.md:
/// "the order full quantity is shipped"), `Open` when a line has a value
/// the spec does not document.
fn aggregate(order: &mut Order) {
    use LineProcessStatus as P;
    let statuses: Vec<P> = order
        .lines
        .iter()
        .filter_map(|l| process_status(l).cloned())
        .collect();
    let active: Vec<&P> = statuses.iter().filter(|s| **s != P::Cancelled).collect();
    let counted: Vec<&P> = if active.is_empty() {
        statuses.iter().collect()
    } else {
        active
    };
    let process = match counted.first() {
        None => None,
        Some(first) if counted.iter().all(|s| s == first) => Some(match first {
            P::Issued => OrderProcessStatus::Issued,
            P::InProgress => OrderProcessStatus::InProgress,
            P::Confirmed => OrderProcessStatus::Confirmed,
            P::Rejected => OrderProcessStatus::Rejected,
            P::Completed => OrderProcessStatus::Completed,
            P::Cancelled => OrderProcessStatus::Cancelled,
            P::Unknown(other) => OrderProcessStatus::Unknown(other.clone()),
        }),
        Some(_)
            if counted
                .iter()
                .any(|s| matches!(s, P::Issued | P::InProgress | P::Rejected)) =>
        {
            Some(OrderProcessStatus::InProgress)
        }
        Some(_) if counted.contains(&&P::Confirmed) => Some(OrderProcessStatus::Confirmed),
        Some(_) => Some(OrderProcessStatus::Completed),
    };
    use LineLogisticsStatus as L;
    let logistics: Vec<&L> = order
        .lines
        .iter()
        .filter_map(|l| l.status.as_ref()?.logistics_status.as_ref())
        .collect();
    let active: Vec<&&L> = logistics.iter().filter(|s| ***s != L::Cancelled).collect();
    let counted: Vec<&L> = if active.is_empty() {
        logistics.clone()
    } else {
        active.into_iter().copied().collect()
    };
    let logistics = match counted.first() {
        None => None,
        Some(first) if counted.iter().all(|s| s == first) => Some(match first {
            L::Open => OrderLogisticsStatus::Open,
            L::Produced => OrderLogisticsStatus::Produced,
            L::ReadyToShip => OrderLogisticsStatus::ReadyToShip,
            L::Shipped => OrderLogisticsStatus::Shipped,
            L::Delivered => OrderLogisticsStatus::Delivered,
            L::Cancelled => OrderLogisticsStatus::Cancelled,
            L::Unknown(other) => OrderLogisticsStatus::Unknown(other.clone()),
        }),
        // order/status.md#L28-L32: a stage is the order's when its "full
        // quantity" reached it, so the lowest stage every counted line
        // reached (`Open` when a line's stage is not one of those).
        Some(_) => {
            let stage = |s: &L| match s {
                L::Open => Some((0, OrderLogisticsStatus::Open)),
                L::Produced => Some((1, OrderLogisticsStatus::Produced)),
                L::ReadyToShip => Some((2, OrderLogisticsStatus::ReadyToShip)),
                L::Shipped => Some((3, OrderLogisticsStatus::Shipped)),
                L::Delivered => Some((4, OrderLogisticsStatus::Delivered)),
                L::Cancelled | L::Unknown(_) => None,
            };
            let stages: Option<Vec<(u8, OrderLogisticsStatus)>> =
                counted.iter().map(|s| stage(s)).collect();
            let lowest = stages.and_then(|stages| stages.into_iter().min_by_key(|(rank, _)| *rank));
            Some(lowest.map_or(OrderLogisticsStatus::Open, |(_, s)| s))
        }
    };
    let status = order.status.get_or_insert_with(OrderStatus::default);
    status.process_status = process;
    status.logistics_status = logistics;
}

/// Stamp the order after a change: its status aggregated again,
/// `lastUpdatedAt`/`lastChangedAt` set to `now`, `version` one up.
fn finish(order: &mut Order, now: &DateTime) {
    for line in &mut order.lines {
        merge_item_details(line);
    }
    aggregate(order);
    order.last_updated_at = Some(now.clone());
    order.last_changed_at = Some(now.clone());
    order.version = Some(order.version.unwrap_or(0) + 1);
}

/// A line's merged item details, from the buyer's `itemDetails`
/// (`buyerLine.itemDetails`) and the supplier's (`supplierLine.itemDetails`,
/// from its order response): "the original item details added by the
/// buyer merged with the changed or added item details by the supplier"
/// (order/buyer/receive/README.md#L338-339). Member by member, the
/// supplier's value wins where it gives one: a member that is `null` or
/// blank text ([`is_blank`], the crate's one reading of "not given") is
/// not given, by either side, and leaves the other side's value; any other
/// member the supplier sends (a list, a nested object) replaces the
/// buyer's whole, it is not merged inside. The result is both
/// `lines.mergedItemDetails` (the receive pages' name) and
/// `lines.itemDetails.mergedItemDetails` (the issue page's, with the
/// buyer's item details around it, order/buyer/issue/README.md#L175-181);
/// a line neither side gave item details has neither. Called for every
/// line of a changed order ([`finish`]), so it follows either side's
/// message.
fn merge_item_details(line: &mut OrderLine) {
    let buyer = line
        .buyer_line
        .as_ref()
        .and_then(|b| b.item_details.as_ref());
    let supplier = line
        .supplier_line
        .as_ref()
        .and_then(|s| s.item_details.as_ref());
    if buyer.is_none() && supplier.is_none() {
        line.merged_item_details = None;
        line.item_details = None;
        return;
    }
    let mut merged = serde_json::Map::new();
    for part in [buyer, supplier].into_iter().flatten() {
        if let Ok(serde_json::Value::Object(members)) = serde_json::to_value(part) {
            for (name, value) in members {
                // Not given: `null`, or blank text (the crate's one
                // reading of blank, [`is_blank`]): the other side's
                // value stays.
                let given = match &value {
                    serde_json::Value::Null => false,
                    serde_json::Value::String(text) => !is_blank(text),
                    _ => true,
                };
                if name != "mergedItemDetails" && given {
                    merged.insert(name, value);
                }
            }
        }
    }
    let merged: MergedItemDetails =
        serde_json::from_value(serde_json::Value::Object(merged)).unwrap_or_default();
    let mut item_details = buyer.cloned().unwrap_or_default();
    item_details.merged_item_details = Some(merged.clone());
    line.merged_item_details = Some(merged);
    line.item_details = Some(item_details);
}

// ----- the buyer issues or updates an order -------------------------------

/// A `Confirmed` line whose buyer's schedule agrees with the confirmed
/// one (date and quantity, delivery line by delivery line) takes from it
/// what is the buyer's to say of each delivery line: its `position` (the
/// buyer's ERP "must assign a position to the split delivery line",
/// api/delivery-schedule.md), its logistics `status` "according to the
/// buyer" and its `transportMode`; the ones the buyer leaves out stay.
/// [`refresh_line`] then shows them in the current schedules.
fn take_buyer_delivery_fields(line: &mut OrderLine, schedule: &[DeliveryScheduleLine]) {
    let Some(confirmed) = line.confirmed_line.as_mut() else {
        return;
    };
    for (agreed, sent) in confirmed.delivery_schedule.iter_mut().zip(schedule) {
        if sent.position.is_some() {
            agreed.position = sent.position.clone();
        }
        if sent.status.is_some() {
            agreed.status = sent.status.clone();
        }
        if sent.transport_mode.is_some() {
            agreed.transport_mode = sent.transport_mode.clone();
        }
    }
}

/// The positions of the lines of `order` an order update ignores
/// (order/buyer/update.md: "In case of any other status like `Completed`
/// or `Cancelled` the order update will be ignored"): for such a line the
/// whole update, its indicators and delivery history too, through either
/// endpoint ([`issue_order`]; a single-delivery order's `shipped` and
/// `delivered`, [`indicate_delivery_lines`], are left out by its caller).
pub(crate) fn finished_lines(order: &Order) -> Vec<String> {
    order
        .lines
        .iter()
        .filter(|l| {
            matches!(
                process_status(l),
                Some(LineProcessStatus::Completed | LineProcessStatus::Cancelled)
            )
        })
        .filter_map(|l| line_position(l).map(str::to_owned))
        .collect()
}

/// A buyer's new or updated order (`POST /api-connector/order`;
/// order/buyer/issue, order/buyer/update.md): `existing` is the stored
/// order with the same buyer and purchase order number, if any. Returns
/// the order to store.
///
/// New lines become `Issued`/`Open`. A line matched on `position`: kept
/// status when `Issued` or `InProgress` (its requested values replaced;
/// an open buyer reopen request whose values now equal the confirmed ones
/// again is reverted: `Confirmed`), `Rejected` becomes `InProgress`
/// (`ReissuedRejectedLine`), `Confirmed` stays when the requested values
/// still agree with the confirmed ones (its delivery lines then take the
/// buyer's `position`, `status` and `transportMode`,
/// [`take_buyer_delivery_fields`]) and otherwise becomes `InProgress`
/// with an open buyer reopen request (`OpenBuyerReopenRequest`);
/// `Completed` and `Cancelled` lines ignore the update, its indicators and
/// delivery history included. Lines not sent are left as they are.
/// Indicators in the message apply as [`apply_indicators`] does.
pub(crate) fn issue_order(
    existing: Option<Order>,
    message: &connector::SendOrderByBuyer,
    parties: Parties<'_>,
    now: &DateTime,
) -> Order {
    let before = existing.clone();
    let mut order = existing.unwrap_or_else(|| Order {
        id: Some(new_id()),
        ..Order::default()
    });
    let mut buyer_order: BuyerOrder = convert(&message.order, &[]);
    // Documents attached before stay; the sent ones are attached to them.
    let sent_documents = std::mem::take(&mut buyer_order.documents);
    buyer_order.documents = order
        .buyer_order
        .as_ref()
        .map(|b| b.documents.clone())
        .unwrap_or_default();
    attach_documents(&mut buyer_order.documents, &sent_documents);
    buyer_order.company_id = Some(parties.buyer.company_id.clone());
    buyer_order.erp_issue_date_time = message.erp_issue_date_time.clone();
    buyer_order.erp_issued_by = message.erp_issued_by.clone();
    buyer_order.erp_last_change_date_time = message.erp_last_change_date_time.clone();
    buyer_order.erp_last_changed_by = message.erp_last_changed_by.clone();
    order.buyer_order = Some(buyer_order);
    let supplier_order = order
        .supplier_order
        .get_or_insert_with(SupplierOrder::default);
    supplier_order.company_id = Some(parties.supplier.company_id.clone());
    supplier_order.buyer_account_number = Some(parties.supplier.partner_account_number.clone());
    supplier_order.purchase_order_number = Some(message.order.purchase_order_number.clone());
    order.purchase_order_number = None;
    order.supplier_account_number = None;

    let finished = finished_lines(&order);
    let updated = |position: &str| !finished.iter().any(|f| f == position);

    for sent in message.lines.iter().flatten() {
        let mut buyer_line: BuyerLine = convert(sent, &["lineType", "chargeReasonCode"]);
        let index = order
            .lines
            .iter()
            .position(|l| line_position(l) == Some(sent.position.as_str()));
        if let Some(index) = index {
            let sent_documents = std::mem::take(&mut buyer_line.documents);
            buyer_line.documents = order.lines[index]
                .buyer_line
                .as_ref()
                .map(|b| b.documents.clone())
                .unwrap_or_default();
            attach_documents(&mut buyer_line.documents, &sent_documents);
        }
        let Some(index) = index else {
            let mut line = OrderLine {
                id: Some(new_id()),
                line_type: sent.line_type.clone(),
                charge_reason_code: sent.charge_reason_code.clone(),
                buyer_line: Some(buyer_line),
                ..OrderLine::default()
            };
            set_status(&mut line, LineProcessStatus::Issued, None);
            refresh_line(&mut line, now);
            order.lines.push(line);
            continue;
        };
        let line = &mut order.lines[index];
        let status = process_status(line).cloned();
        if matches!(
            status,
            Some(LineProcessStatus::Completed | LineProcessStatus::Cancelled)
        ) {
            continue;
        }
        // Keep the requests the line holds.
        buyer_line.requests = line.buyer_line.as_ref().and_then(|b| b.requests.clone());
        line.buyer_line = Some(buyer_line);
        if sent.line_type.is_some() {
            line.line_type = sent.line_type.clone();
        }
        let now_requested = requested(line);
        match status {
            Some(LineProcessStatus::Rejected) => set_status(
                line,
                LineProcessStatus::InProgress,
                Some(LineInProgressStatus::ReissuedRejectedLine),
            ),
            Some(LineProcessStatus::Confirmed)
                if confirmed(line).is_some_and(|c| !now_requested.agrees_with(&c)) =>
            {
                let reason = line.buyer_line.as_ref().and_then(|b| b.reason.clone());
                buyer_requests(line).reopen_request = Some(now_requested.request(reason));
                set_status(
                    line,
                    LineProcessStatus::InProgress,
                    Some(LineInProgressStatus::OpenBuyerReopenRequest),
                );
            }
            Some(LineProcessStatus::InProgress)
                if is_open(
                    line.buyer_line
                        .as_ref()
                        .and_then(|b| b.requests.as_ref())
                        .and_then(|r| r.reopen_request.as_ref()),
                ) =>
            {
                if confirmed(line).is_some_and(|c| now_requested.agrees_with(&c)) {
                    close(
                        &mut buyer_requests(line).reopen_request,
                        RequestStatus::Closed,
                    );
                    set_status(line, LineProcessStatus::Confirmed, None);
                } else {
                    buyer_requests(line).reopen_request = Some(
                        now_requested
                            .request(line.buyer_line.as_ref().and_then(|b| b.reason.clone())),
                    );
                }
            }
            Some(LineProcessStatus::Confirmed) => {
                take_buyer_delivery_fields(line, &now_requested.schedule);
            }
            None => set_status(line, LineProcessStatus::Issued, None),
            _ => {}
        }
        refresh_line(line, now);
    }
    let indicators = connector::SendOrderIndicatorsByBuyer {
        lines: Some(
            message
                .lines
                .iter()
                .flatten()
                .filter(|l| l.indicators.is_some() && updated(&l.position))
                .map(|l| connector::OrderIndicatorsLineByBuyer {
                    indicators: l.indicators.clone(),
                    position: l.position.clone(),
                    extra: Default::default(),
                })
                .collect(),
        ),
        order: connector::OrderIndicatorsOrderByBuyer {
            indicators: message.order.indicators.clone(),
            purchase_order_number: message.order.purchase_order_number.clone(),
            ..Default::default()
        },
        extra: Default::default(),
    };
    let cancel_missing = message
        .order
        .indicators
        .as_ref()
        .and_then(|i| i.cancel_line_when_missing)
        .unwrap_or(false);
    let sent: Vec<String> = message
        .lines
        .iter()
        .flatten()
        .map(|l| l.position.clone())
        .collect();
    if cancel_missing {
        cancel_missing_lines(&mut order, &sent, now);
    }
    let updated_lines: Vec<String> = sent.iter().filter(|p| updated(p)).cloned().collect();
    indicate(&mut order, &indicators, Some(&updated_lines), now);
    for line in message
        .lines
        .iter()
        .flatten()
        .filter(|l| updated(&l.position))
    {
        if let Some(history) = &line.delivery_history {
            record_deliveries(&mut order, &line.position, history, true, now);
        }
    }
    finish(&mut order, now);
    match before {
        Some(before) => only_changes(order, &before),
        None => {
            order.version = Some(1);
            order
        }
    }
}

/// The order an update made of `before`, with only what it changed
/// stamped: a line it sent unchanged keeps its `lastUpdatedAt` (and
/// `lastChangedAt`), and an update that changed nothing leaves the order
/// as it was, `version` and `lastUpdatedAt` included (so it sends no
/// event). Otherwise `version` is one up, once per message (the indicators
/// and goods receipts inside it count toward the same update).
///
/// The docs are silent on an update with nothing new, but the stamps are
/// defined by change: the order's `lastUpdatedAt` "is the latest date time
/// the order has been changed", a line's "the latest date time the order
/// line has been changed" (order/buyer/receive/README.md), and the
/// supplier uses `lines.lastUpdatedAt` "to identify which specific lines
/// have changed" (api/polling/README.md); while an update "should
/// preferable only contain order lines that are new or changed. But you
/// can also send all lines anyway" (order/buyer/update.md). So sending
/// all lines, or the same order again, changes only what is new, as an
/// order response repeating the order does ([`respond`]).
fn only_changes(mut order: Order, before: &Order) -> Order {
    for line in &mut order.lines {
        let old = before
            .lines
            .iter()
            .find(|b| b.id.is_some() && b.id == line.id);
        if let Some(old) = old.filter(|old| same_but_line_stamps(line, old)) {
            *line = old.clone();
        }
    }
    let bare = |o: &Order| Order {
        last_updated_at: None,
        last_changed_at: None,
        version: None,
        ..o.clone()
    };
    if bare(&order) == bare(before) {
        return before.clone();
    }
    order.version = Some(before.version.unwrap_or(0) + 1);
    order
}

/// A single-delivery order (`POST /api-connector/order/single-delivery`)
/// as the order with delivery schedules it stands for
/// (api/delivery-schedule.md), merged with the stored order `existing`
/// (the buyer's order of the same purchase order number, if any): Tradecloud
/// "merges their `scheduledDelivery` and `actualDelivery` ... into the
/// delivery schedule of the line with the matching position number".
///
/// * Each sent line names a delivery line of the order line at its
///   `originalPosition` (a split line), else at its own `position`; the
///   delivery line's `position` is the sent line's.
/// * The order line's requested schedule is the stored one with each sent
///   `scheduledDelivery` replacing the delivery line of its position (in
///   its place) or added at the end: an update "should preferable only
///   contain order lines that are new or changed" (order/buyer/update.md),
///   so delivery lines not sent stay. With `cancelLineWhenMissing` the
///   message is the whole order, and the schedule only what it sends.
/// * A sent `actualDelivery` replaces the delivery history line of its
///   position, or is added (the history is otherwise left as it is).
/// * A cancelled sent line (its `indicators.cancelled`, else the order's:
///   [`line_else_order`], as `completed` is decided on its own) is removed
///   from its order line's schedule ("When an individual order line is
///   cancelled; Tradecloud will remove the individual line from the
///   orginal line's delivery schedule", order/buyer/cancel.md); when that
///   leaves no delivery line, the order line itself is cancelled ("When all
///   primary and related split lines are cancelled; the primary order line
///   will become cancelled"). A line whose `cancelled` and `completed`
///   (each the line's, else the order's) are both set is completed, not
///   cancelled: "Completing has precedence over cancelling at the same
///   time" (order/buyer/issue/indicators.md#L63). The order's `cancelled`
///   indicator is used up here and not passed on.
/// * The order line's other members are those of its sent primary line,
///   else the stored line's, else (a new order line sent only as split
///   lines) the first split line's.
/// * The indicators follow the single-delivery table of
///   order/buyer/issue/indicators.md#L116-L124 (each one a sent line's,
///   else the order's where the order has it):
///   - `shipped` and `delivered` are the delivery line's, not the order
///     line's ("the corresponding delivery line will become shipped" /
///     "delivered"): the positions come back as [`DeliveryLine`]s for
///     [`indicate_delivery_lines`], and the indicators are not passed on;
///   - `confirmed` and `completed` are the order line's "when all primary
///     and related split lines" are: every delivery line left in the
///     order line's schedule must be sent in this message with it (a
///     delivery line not sent is not confirmed or completed; the mock
///     keeps no indicators per delivery line); otherwise the order line
///     gets `false`, which also keeps the order's indicator off it;
///   - `requestReconfirmation` and `proposeWhenAccepted` are the order
///     line's "when set on the primary or any related split line";
///     a stored line's `proposeWhenAccepted` stays when no sent line of
///     it says one.
pub(crate) fn single_delivery_message(
    message: &connector::SendSingleDeliveryOrderByBuyer,
    existing: Option<&Order>,
) -> (connector::SendOrderByBuyer, Vec<DeliveryLine>) {
    type Sent = connector::SingleDeliveryOrderLineByBuyer;
    let header = message.order.indicators.as_ref();
    // receive-goods.md, single delivery: "When the primary or any related
    // split lines is delivered; the corresponding delivery line will
    // become delivered" (a line's own indicator before the order's).
    let delivered = |sent: &Sent| {
        line_else_order(
            sent.indicators.as_ref().and_then(|i| i.delivered),
            header.and_then(|i| i.delivered),
        )
    };
    let shipped = |sent: &Sent| {
        line_else_order(
            sent.indicators.as_ref().and_then(|i| i.shipped),
            header.and_then(|i| i.shipped),
        )
    };
    let mut delivery_lines: Vec<DeliveryLine> = Vec::new();
    let complete = header
        .and_then(|i| i.cancel_line_when_missing)
        .unwrap_or(false);
    // indicators.md#L63: "Completing has precedence over cancelling at
    // the same time": a line (or order) with both is completed, not
    // cancelled.
    // Each flag is decided on its own, the line's before the order's
    // ([`line_else_order`], as for a line of the normal path): a line
    // that sends only `completed: false` still takes the order's
    // `cancelled`, and a line's `cancelled` yields to the order's
    // `completed`.
    let cancelled = |sent: &Sent| {
        let line = sent.indicators.as_ref();
        let completed = line_else_order(
            line.and_then(|i| i.completed),
            header.and_then(|i| i.completed),
        );
        let cancelled = line_else_order(
            line.and_then(|i| i.cancelled),
            header.and_then(|i| i.cancelled),
        );
        cancelled && !completed
    };
    // The sent lines by the order line they belong to, in the order sent.
    let mut groups: Vec<(String, Vec<&Sent>)> = Vec::new();
    for sent in message.lines.iter().flatten() {
        let target = sent
            .original_position
            .clone()
            .unwrap_or_else(|| sent.position.clone());
        match groups.iter_mut().find(|(t, _)| *t == target) {
            Some((_, lines)) => lines.push(sent),
            None => groups.push((target, vec![sent])),
        }
    }
    let lines = groups
        .into_iter()
        .map(|(target, sent)| {
            let stored = existing.and_then(|o| {
                o.lines
                    .iter()
                    .find(|l| line_position(l) == Some(target.as_str()))
            });
            let stored_buyer = stored.and_then(|l| l.buyer_line.as_ref());
            let primary = sent.iter().find(|s| s.position == target);
            let mut line: connector::OrderLineByBuyer = match (primary, stored) {
                (Some(primary), _) => convert(
                    primary,
                    &["scheduledDelivery", "actualDelivery", "originalPosition"],
                ),
                (None, Some(stored)) => {
                    let mut line: connector::OrderLineByBuyer = convert(
                        &stored_buyer.cloned().unwrap_or_default(),
                        &[
                            "scheduledDelivery",
                            "actualDelivery",
                            "originalPosition",
                            "deliverySchedule",
                            "deliveryHistory",
                            "documents",
                            "requests",
                            "indicators",
                        ],
                    );
                    line.line_type = stored.line_type.clone();
                    line.charge_reason_code = stored.charge_reason_code.clone();
                    line
                }
                (None, None) => {
                    let mut line: connector::OrderLineByBuyer = convert(
                        &sent[0],
                        &["scheduledDelivery", "actualDelivery", "originalPosition"],
                    );
                    line.indicators = None;
                    line
                }
            };
            line.position = target.clone();
            let mut schedule: Vec<DeliveryScheduleLine> = if complete {
                Vec::new()
            } else {
                stored_buyer
                    .map(|b| b.delivery_schedule.clone())
                    .unwrap_or_default()
            };
            let mut history: Vec<DeliveryHistoryLine> = stored_buyer
                .map(|b| b.delivery_history.clone())
                .unwrap_or_default();
            let mut history_sent = false;
            let mut removed: Vec<&str> = Vec::new();
            for sent in &sent {
                let position = Some(sent.position.clone());
                if let Some(scheduled) = &sent.scheduled_delivery {
                    let mut delivery: DeliveryScheduleLine = convert(scheduled, &[]);
                    delivery.position = position.clone();
                    match schedule.iter_mut().find(|d| d.position == position) {
                        Some(slot) => *slot = delivery,
                        None => schedule.push(delivery),
                    }
                }
                if let Some(actual) = &sent.actual_delivery {
                    let mut delivery: DeliveryHistoryLine = convert(actual, &[]);
                    delivery.position = position.clone();
                    match history.iter_mut().find(|d| d.position == position) {
                        Some(slot) => *slot = delivery,
                        None => history.push(delivery),
                    }
                    history_sent = true;
                }
                let stage = if cancelled(sent) {
                    removed.push(sent.position.as_str());
                    None
                } else if delivered(sent) {
                    Some(DeliveryLineLogisticsStatus::Delivered)
                } else if shipped(sent) {
                    Some(DeliveryLineLogisticsStatus::Shipped)
                } else {
                    None
                };
                if let Some(stage) = stage {
                    delivery_lines.push(DeliveryLine {
                        line: target.clone(),
                        delivery: sent.position.clone(),
                        stage,
                    });
                }
            }
            let remaining: Vec<DeliveryScheduleLine> = schedule
                .iter()
                .filter(|d| !d.position.as_deref().is_some_and(|p| removed.contains(&p)))
                .cloned()
                .collect();
            let stored_propose = stored_buyer
                .and_then(|b| b.indicators.as_ref())
                .and_then(|i| i.propose_when_accepted)
                .filter(|_| primary.is_none());
            let indicators = line.indicators.get_or_insert_with(Default::default);
            group_indicators(indicators, &sent, header, &remaining, stored_propose);
            if remaining.is_empty() && !removed.is_empty() {
                // Every delivery line cancelled: the order line is.
                indicators.cancelled = Some(true);
                indicators.completed = None;
            } else {
                schedule = remaining;
                if indicators.cancelled == Some(true) {
                    indicators.cancelled = None;
                }
            }
            if line.indicators.as_ref() == Some(&Default::default()) {
                line.indicators = None;
            }
            line.delivery_schedule = Some(schedule);
            line.delivery_history = history_sent.then_some(history);
            line
        })
        .collect();
    let mut order = message.order.clone();
    if let Some(indicators) = order.indicators.as_mut() {
        // Played per line above (or per delivery line): not passed on.
        indicators.cancelled = None;
        indicators.shipped = None;
        indicators.delivered = None;
        indicators.confirmed = None;
        indicators.completed = None;
        indicators.request_reconfirmation = None;
    }
    let message = connector::SendOrderByBuyer {
        erp_issue_date_time: message.erp_issue_date_time.clone(),
        erp_issued_by: message.erp_issued_by.clone(),
        erp_last_change_date_time: message.erp_last_change_date_time.clone(),
        erp_last_changed_by: message.erp_last_changed_by.clone(),
        lines: Some(lines),
        order,
        extra: Default::default(),
    };
    (message, delivery_lines)
}

/// The order line indicators of a single-delivery order line made of the
/// sent lines `sent` (its primary line and split lines) and the
/// `remaining` delivery lines of its schedule, by the single-delivery
/// table of order/buyer/issue/indicators.md#L116-L124 ("`confirmed`: When
/// all primary and related split lines are confirmed; the primary order
/// line will become confirmed", the same for `completed`;
/// "`requestReconfirmation`"/"`proposeWhenAccepted`: When set on the
/// primary or any related split line"). Each indicator is a sent line's,
/// else the order's (`header`); one that no sent line nor the order
/// names is left out (`stored_propose` for `proposeWhenAccepted`: the
/// stored line's when its primary line is not sent). `shipped` and
/// `delivered` are the delivery lines' ([`indicate_delivery_lines`]) and
/// left out; `cancelled` is the caller's.
fn group_indicators(
    indicators: &mut crate::api::common::types::BuyerLineIndicators,
    sent: &[&connector::SingleDeliveryOrderLineByBuyer],
    header: Option<&crate::api::common::types::BuyerOrderIndicators>,
    remaining: &[DeliveryScheduleLine],
    stored_propose: Option<bool>,
) {
    use crate::api::common::types::BuyerLineIndicators as I;
    // A sent line's value of one indicator, else the order's.
    let value =
        |line: &connector::SingleDeliveryOrderLineByBuyer,
         own: fn(&I) -> Option<bool>,
         order: Option<bool>| { line.indicators.as_ref().and_then(own).or(order) };
    let named = |own: fn(&I) -> Option<bool>, order: Option<bool>| {
        sent.iter().any(|l| value(l, own, order).is_some())
    };
    // All: every delivery line left is sent with the indicator set.
    let all = |own: fn(&I) -> Option<bool>, order: Option<bool>| {
        named(own, order).then(|| {
            let set: Vec<&str> = sent
                .iter()
                .filter(|l| value(l, own, order) == Some(true))
                .map(|l| l.position.as_str())
                .collect();
            !set.is_empty()
                && remaining
                    .iter()
                    .all(|d| d.position.as_deref().is_some_and(|p| set.contains(&p)))
        })
    };
    // Any: the primary line or a split line sets it.
    let any = |own: fn(&I) -> Option<bool>, order: Option<bool>| {
        named(own, order).then(|| sent.iter().any(|l| value(l, own, order) == Some(true)))
    };
    let order = |own: fn(&crate::api::common::types::BuyerOrderIndicators) -> Option<bool>| {
        header.and_then(own)
    };
    indicators.confirmed = all(|i| i.confirmed, order(|i| i.confirmed));
    indicators.completed = all(|i| i.completed, order(|i| i.completed));
    indicators.request_reconfirmation = any(
        |i| i.request_reconfirmation,
        order(|i| i.request_reconfirmation),
    );
    indicators.propose_when_accepted = any(|i| i.propose_when_accepted, None).or(stored_propose);
    indicators.shipped = None;
    indicators.delivered = None;
}

/// One delivery line of an order: the order line's position and the
/// delivery line's (a single-delivery line's own `position`), with the
/// logistics stage the buyer's indicator gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DeliveryLine {
    /// The order line's position (a split line's `originalPosition`).
    pub line: String,
    /// The delivery line's position.
    pub delivery: String,
    /// `Shipped` (the `shipped` indicator) or `Delivered` (`delivered`).
    pub stage: DeliveryLineLogisticsStatus,
}

/// The `shipped` and `delivered` indicators of a single-delivery order
/// (order/buyer/issue/indicators.md#L120-L121, receive-goods.md "Single
/// delivery behavior": "When the primary or any related split lines is
/// shipped; the corresponding delivery line will become shipped", the
/// same for delivered): each delivery line named gets its `stage` in the
/// order line's current schedules (`Shipped` only from `Open`,
/// `Produced` or `ReadyToShip`, indicators.md#L39; `Delivered` from any
/// other), and an order line whose delivery lines then all reached a
/// stage takes it ("the line quantity is delivered at the buyer",
/// order/status.md): `Delivered` when they all are, else `Shipped` when
/// they are all `Shipped` or `Delivered` and the line was not yet shipped.
/// Lines that are `Cancelled` are left alone. Call after [`issue_order`],
/// in the same step: the changed lines are stamped with `now`, and so is
/// the order, one `version` up, unless [`issue_order`] already stamped it
/// with `now` (one version per message; it leaves an order it did not
/// change as it was, [`only_changes`]); else the order status is only
/// aggregated again. Returns whether a line changed.
pub(crate) fn indicate_delivery_lines(
    order: &mut Order,
    named_lines: &[DeliveryLine],
    now: &DateTime,
) -> bool {
    use DeliveryLineLogisticsStatus as D;
    use LineLogisticsStatus as L;
    let mut changed = false;
    for named in named_lines {
        let Some(line) = line_at_mut(order, &named.line) else {
            continue;
        };
        let logistics = line
            .status
            .as_ref()
            .and_then(|s| s.logistics_status.clone());
        if logistics == Some(L::Cancelled) {
            continue;
        }
        let mut line_changed = advance_delivery_lines(
            line,
            Some(std::slice::from_ref(&named.delivery)),
            &named.stage,
        );
        let reached = |stages: &[D]| {
            !line.delivery_schedule.is_empty()
                && line
                    .delivery_schedule
                    .iter()
                    .all(|d| d.status.as_ref().is_some_and(|s| stages.contains(s)))
        };
        let next = if reached(&[D::Delivered]) {
            Some(L::Delivered).filter(|_| logistics != Some(L::Delivered))
        } else if reached(&[D::Shipped, D::Delivered]) {
            Some(L::Shipped).filter(|_| {
                matches!(
                    logistics,
                    None | Some(L::Open | L::Produced | L::ReadyToShip)
                )
            })
        } else {
            None
        };
        if let Some(next) = next {
            line.status
                .get_or_insert_with(LineStatus::default)
                .logistics_status = Some(next);
            line_changed = true;
        }
        if line_changed {
            line.last_updated_at = Some(now.clone());
            line.last_changed_at = Some(now.clone());
            changed = true;
        }
    }
    if changed {
        if order.last_updated_at.as_ref() == Some(now) {
            aggregate(order);
        } else {
            finish(order, now);
        }
    }
    changed
}

// ----- indicators -----------------------------------------------------------

/// The buyer's indicators (`POST /api-connector/order/indicators`, and the
/// indicators of a sent order; order/buyer/issue/indicators.md, cancel.md,
/// complete.md, receive-goods.md): order level indicators apply to every
/// line of the order, line indicators (matched on `position`) take
/// precedence.
///
/// * `completed`: `Issued`, `Rejected` and `Confirmed` lines become
///   `Completed`; an `InProgress` line cannot be completed (complete.md)
///   and is left alone (each of `completed` and `cancelled` is the
///   line's, else the order's; completing then has precedence over
///   cancelling where the line can be completed: an order `cancelled`
///   with a line `completed: false` cancels that line, an order
///   `completed` with a line `cancelled` completes it);
/// * `cancelled`: `Issued`, `InProgress`, `Rejected` and `Confirmed` lines
///   become `Cancelled` (logistics status `Cancelled` too);
/// * `confirmed`: an `Issued` line becomes `Confirmed` with its requested
///   values;
/// * `requestReconfirmation`: a `Confirmed` line becomes `InProgress`
///   (`OpenBuyerReconfirmationRequest`);
/// * `shipped`: logistics status `Open`, `Produced`, `ReadyToShip` →
///   `Shipped`; `delivered`: those and `Shipped` → `Delivered`; the
///   line's delivery lines move with it ([`advances`]).
///
/// Returns whether a line changed (the order is then stamped).
pub(crate) fn apply_indicators(
    order: &mut Order,
    message: &connector::SendOrderIndicatorsByBuyer,
    now: &DateTime,
) -> bool {
    indicate(order, message, None, now)
}

/// The order actions `POST /order/{orderId}/complete` and `/deliver`:
/// the lines at `positions` get `indicators` as if the buyer had sent them
/// with [`apply_indicators`].
pub(crate) fn indicate_lines(
    order: &mut Order,
    positions: &[String],
    indicators: &crate::api::common::types::BuyerLineIndicators,
    now: &DateTime,
) -> bool {
    let message = connector::SendOrderIndicatorsByBuyer {
        lines: Some(
            positions
                .iter()
                .map(|position| connector::OrderIndicatorsLineByBuyer {
                    indicators: Some(indicators.clone()),
                    position: position.clone(),
                    extra: Default::default(),
                })
                .collect(),
        ),
        order: connector::OrderIndicatorsOrderByBuyer::default(),
        extra: Default::default(),
    };
    apply_indicators(order, &message, now)
}

/// [`apply_indicators`]; with `only`, the order level indicators apply
/// only to the lines at those positions (an order sent with indicators:
/// "ONLY the lines provided in this order message", receive-goods.md).
fn indicate(
    order: &mut Order,
    message: &connector::SendOrderIndicatorsByBuyer,
    only: Option<&[String]>,
    now: &DateTime,
) -> bool {
    use LineLogisticsStatus as L;
    use LineProcessStatus as P;
    let mut changed = false;
    for line in &mut order.lines {
        let in_scope = only.is_none_or(|positions| {
            line_position(line).is_some_and(|p| positions.iter().any(|s| s == p))
        });
        let header = message.order.indicators.as_ref().filter(|_| in_scope);
        let sent = line_position(line).and_then(|position| {
            message
                .lines
                .iter()
                .flatten()
                .find(|l| l.position == position)
                .and_then(|l| l.indicators.as_ref())
        });
        let flag = |line_value: Option<Option<bool>>, header_value: Option<Option<bool>>| {
            line_else_order(line_value.flatten(), header_value.flatten())
        };
        // Each flag from the line, else from the order ("a `cancelled`
        // indicator on line level ... has precedence over the order level
        // `cancelled` indicator", cancel.md; complete.md the same for
        // `completed`); then completing has precedence over cancelling.
        let completed = flag(sent.map(|i| i.completed), header.map(|i| i.completed));
        let cancelled = flag(sent.map(|i| i.cancelled), header.map(|i| i.cancelled));
        let confirmed_by_buyer = flag(sent.map(|i| i.confirmed), header.map(|i| i.confirmed));
        let reconfirm = flag(
            sent.map(|i| i.request_reconfirmation),
            header.map(|i| i.request_reconfirmation),
        );
        let shipped = flag(sent.map(|i| i.shipped), header.map(|i| i.shipped));
        let delivered = flag(sent.map(|i| i.delivered), header.map(|i| i.delivered));
        let process = process_status(line).cloned();
        // complete.md: "`Issued`, `Rejected` and `Confirmed` lines will
        // become `Completed`", "`In progress` and `Cancelled` lines cannot
        // be completed"; cancel.md: `Issued`, `In Progress`, `Rejected` and
        // `Confirmed` lines can be cancelled.
        let completable = matches!(process, Some(P::Issued | P::Rejected | P::Confirmed));
        let open_line = matches!(
            process,
            Some(P::Issued | P::InProgress | P::Rejected | P::Confirmed)
        );
        let mut line_changed = false;
        if completed && completable {
            close_all(line, RequestStatus::Closed);
            set_status(line, P::Completed, None);
            line_changed = true;
        } else if cancelled && open_line {
            close_all(line, RequestStatus::Closed);
            set_status(line, P::Cancelled, None);
            if let Some(status) = line.status.as_mut() {
                status.logistics_status = Some(L::Cancelled);
            }
            line_changed = true;
        } else if confirmed_by_buyer && process == Some(P::Issued) {
            let agreed = requested(line);
            confirm(line, agreed);
            line_changed = true;
        } else if reconfirm && process == Some(P::Confirmed) {
            set_status(
                line,
                P::InProgress,
                Some(LineInProgressStatus::OpenBuyerReconfirmationRequest),
            );
            line_changed = true;
        }
        let logistics = line
            .status
            .as_ref()
            .and_then(|s| s.logistics_status.clone())
            .unwrap_or(L::Open);
        let next = if delivered
            && matches!(
                logistics,
                L::Open | L::Produced | L::ReadyToShip | L::Shipped
            ) {
            Some(L::Delivered)
        } else if shipped && matches!(logistics, L::Open | L::Produced | L::ReadyToShip) {
            Some(L::Shipped)
        } else {
            None
        };
        if let Some(next) = &next {
            line.status
                .get_or_insert_with(LineStatus::default)
                .logistics_status = Some(next.clone());
            line_changed = true;
        }
        if line_changed {
            refresh_line(line, now);
            changed = true;
        }
        // "the line quantity is shipped/delivered" (order/status.md): so
        // is that of each of its delivery lines.
        match next {
            Some(L::Delivered) => {
                advance_delivery_lines(line, None, &DeliveryLineLogisticsStatus::Delivered);
            }
            Some(L::Shipped) => {
                advance_delivery_lines(line, None, &DeliveryLineLogisticsStatus::Shipped);
            }
            _ => {}
        }
    }
    if changed {
        finish(order, now);
    }
    changed
}

/// Which finishing status of a line a revert undoes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Finished {
    /// `POST /order/{orderId}/revertCancelled`.
    Cancelled,
    /// `POST /order/{orderId}/revertCompleted`.
    Completed,
}

/// The order actions `POST /order/{orderId}/revertCancelled` and
/// `/revertCompleted`: each line at `positions` whose process status is
/// `from` becomes `InProgress` with the in-progress status
/// `RevertedCancelledLine` or `RevertedCompletedLine` (order/status.md,
/// "Completed or cancelled line reversion"); a reverted cancelled line's
/// logistics status `Cancelled` becomes `Open`. Its requested and
/// confirmed values stay: the supplier answers the line again, as any
/// line in progress. Lines in any other status are left as they are.
/// Returns whether a line changed.
pub(crate) fn revert_lines(
    order: &mut Order,
    positions: &[String],
    from: Finished,
    now: &DateTime,
) -> bool {
    use LineProcessStatus as P;
    let (status, reverted) = match from {
        Finished::Cancelled => (P::Cancelled, LineInProgressStatus::RevertedCancelledLine),
        Finished::Completed => (P::Completed, LineInProgressStatus::RevertedCompletedLine),
    };
    let mut changed = false;
    for line in &mut order.lines {
        let named = line_position(line).is_some_and(|p| positions.iter().any(|s| s == p));
        if !named || process_status(line) != Some(&status) {
            continue;
        }
        set_status(line, P::InProgress, Some(reverted.clone()));
        if let Some(status) = line.status.as_mut() {
            if status.logistics_status == Some(LineLogisticsStatus::Cancelled) {
                status.logistics_status = Some(LineLogisticsStatus::Open);
            }
        }
        refresh_line(line, now);
        changed = true;
    }
    if changed {
        finish(order, now);
    }
    changed
}

/// A buyer's order action on named lines (`POST /order/{orderId}/complete`,
/// `/deliver`, `/revertCancelled`, `/revertCompleted`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LineAction {
    /// `/complete`: as the `completed` indicator ([`indicate_lines`]).
    Complete,
    /// `/deliver`: as the `delivered` indicator ([`indicate_lines`]), on
    /// the lines that are not `Completed` or `Cancelled`
    /// ([`action_obstacle`]).
    Deliver,
    /// `/revertCancelled` or `/revertCompleted` ([`revert_lines`]).
    Revert(Finished),
    /// The portal's "mark as delivered" (either party, [`super::portal`]):
    /// as `/deliver`.
    MarkDelivered,
    /// The portal's "mark as open" (either party, [`super::portal`]):
    /// [`mark_lines_open`].
    MarkOpen,
}

/// Why an order action is refused; nothing changed (`specs/order.yaml`,
/// the responses of these operations).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ActionRefused {
    /// The order has no lines at these positions (`404`).
    NoSuchLines(Vec<String>),
    /// The order's `version` is not the one the action is based on
    /// (`409`).
    Stale {
        /// The `version` sent.
        given: i64,
        /// The order's `version` now.
        current: i64,
    },
    /// No line named can take the action: each line named, with why not
    /// (`400`).
    NotApplicable(Vec<(String, String)>),
}

/// Why the line cannot take `action`, or `None` when it can; the same
/// rules [`indicate_lines`] and [`revert_lines`] apply.
fn action_obstacle(line: &OrderLine, action: LineAction) -> Option<String> {
    use LineLogisticsStatus as L;
    use LineProcessStatus as P;
    let process = process_status(line);
    let process_name = process.map_or("none", |p| p.as_str());
    match action {
        // order/buyer/complete.md: "`Issued`, `Rejected` and `Confirmed`
        // lines will become `Completed`".
        LineAction::Complete => (!matches!(process, Some(P::Issued | P::Rejected | P::Confirmed)))
            .then(|| {
                format!(
                    "its processStatus is {process_name}; only Issued, Rejected and Confirmed \
                     lines can be completed (order/buyer/complete.md)"
                )
            }),
        // A Completed or Cancelled line is finished: the portal does not
        // change its logistics status. order/buyer/receive-goods.md and
        // order/buyer/complete.md do not say what `POST /order/{orderId}/
        // deliver` answers for such a line, so the API does what the
        // portal does: refused (400 when no line named can be delivered,
        // left as it is beside one that can).
        LineAction::Deliver | LineAction::MarkDelivered | LineAction::MarkOpen
            if matches!(process, Some(P::Completed | P::Cancelled)) =>
        {
            Some(format!(
                "its processStatus is {process_name}; a Completed or Cancelled line's \
                 logistics status cannot change"
            ))
        }
        LineAction::Deliver | LineAction::MarkDelivered => {
            let logistics = line
                .status
                .as_ref()
                .and_then(|s| s.logistics_status.as_ref())
                .unwrap_or(&L::Open);
            (!matches!(
                logistics,
                L::Open | L::Produced | L::ReadyToShip | L::Shipped
            ))
            .then(|| {
                format!(
                    "its logisticsStatus is {}; only Open, Produced, ReadyToShip and Shipped \
                     lines can be delivered",
                    logistics.as_str()
                )
            })
        }
        LineAction::MarkOpen => {
            let logistics = line
                .status
                .as_ref()
                .and_then(|s| s.logistics_status.as_ref())
                .unwrap_or(&L::Open);
            (!matches!(logistics, L::Shipped | L::Delivered)).then(|| {
                format!(
                    "its logisticsStatus is {}; only Shipped and Delivered lines can be marked \
                     as open (\"marked order lines as open again, being previously shipped or \
                     delivered\", connectors/webhooks/order-events.md)",
                    logistics.as_str()
                )
            })
        }
        LineAction::Revert(from) => {
            let wanted = match from {
                Finished::Cancelled => P::Cancelled,
                Finished::Completed => P::Completed,
            };
            (process != Some(&wanted)).then(|| {
                format!(
                    "its processStatus is {process_name}, not {}: there is nothing to revert",
                    wanted.as_str()
                )
            })
        }
    }
}

/// A buyer's order action on the lines at `positions` ([`LineAction`]),
/// based on the order's `version` when given. Checked first, refused
/// changing nothing: a position the order does not have, a `version`
/// other than the order's, or no line named that can take the action
/// (lines that cannot, beside one that can, are left as they are, as an
/// indicators message leaves them). Returns whether a line changed.
pub(crate) fn order_action(
    order: &mut Order,
    positions: &[String],
    action: LineAction,
    version: Option<i64>,
    now: &DateTime,
) -> Result<bool, ActionRefused> {
    let mut missing: Vec<String> = Vec::new();
    let mut obstacles: Vec<(String, String)> = Vec::new();
    let mut any_can = false;
    for position in positions {
        match order
            .lines
            .iter()
            .find(|l| line_position(l) == Some(position.as_str()))
        {
            None if !missing.contains(position) => missing.push(position.clone()),
            None => {}
            Some(line) => match action_obstacle(line, action) {
                None => any_can = true,
                Some(why) if !obstacles.iter().any(|(p, _)| p == position) => {
                    obstacles.push((position.clone(), why));
                }
                Some(_) => {}
            },
        }
    }
    if !missing.is_empty() {
        return Err(ActionRefused::NoSuchLines(missing));
    }
    let current = order.version.unwrap_or(0);
    if let Some(given) = version.filter(|given| *given != current) {
        return Err(ActionRefused::Stale { given, current });
    }
    if !any_can {
        return Err(ActionRefused::NotApplicable(obstacles));
    }
    let indicators = |completed, delivered| crate::api::common::types::BuyerLineIndicators {
        completed,
        delivered,
        ..Default::default()
    };
    Ok(match action {
        LineAction::Complete => {
            indicate_lines(order, positions, &indicators(Some(true), None), now)
        }
        LineAction::Deliver | LineAction::MarkDelivered => {
            // Only the lines that can be delivered: a Completed line
            // beside them is left as it is (action_obstacle).
            let deliverable: Vec<String> = positions
                .iter()
                .filter(|p| {
                    order.lines.iter().any(|l| {
                        line_position(l) == Some(p.as_str()) && action_obstacle(l, action).is_none()
                    })
                })
                .cloned()
                .collect();
            indicate_lines(order, &deliverable, &indicators(None, Some(true)), now)
        }
        LineAction::MarkOpen => mark_lines_open(order, positions, now),
        LineAction::Revert(from) => revert_lines(order, positions, from, now),
    })
}

/// The portal's "mark as open" (connectors/webhooks/order-events.md,
/// "Order lines logistics": "Open: The buyer or supplier marked order
/// lines as open again, being previously shipped or delivered"): each
/// line at `positions` whose logistics status is `Shipped` or `Delivered`
/// (and whose process status is not `Completed` or `Cancelled`) becomes
/// `Open` ("no or partial quantity Produced, ReadyToShip, Shipped or
/// Delivered", order/status.md), and so do its delivery lines that are
/// `Shipped` or `Delivered`, in `deliverySchedule` and
/// `deliveryScheduleIncludingRequests` (the line's quantity is no longer
/// all shipped or delivered, and the mock keeps no earlier stage to
/// return to). The delivery history (goods received) stays: it records
/// receipts, not a status. Other lines are left alone. Returns whether a
/// line changed.
pub(crate) fn mark_lines_open(order: &mut Order, positions: &[String], now: &DateTime) -> bool {
    use DeliveryLineLogisticsStatus as D;
    let mut changed = false;
    for line in &mut order.lines {
        let named = line_position(line).is_some_and(|p| positions.iter().any(|s| s == p));
        if !named || action_obstacle(line, LineAction::MarkOpen).is_some() {
            continue;
        }
        line.status
            .get_or_insert_with(LineStatus::default)
            .logistics_status = Some(LineLogisticsStatus::Open);
        for schedule in [
            &mut line.delivery_schedule,
            &mut line.delivery_schedule_including_requests,
        ] {
            for delivery in schedule.iter_mut() {
                if matches!(delivery.status, Some(D::Shipped | D::Delivered)) {
                    delivery.status = Some(D::Open);
                }
            }
        }
        refresh_line(line, now);
        changed = true;
    }
    if changed {
        finish(order, now);
    }
    changed
}

/// The order action `POST /order/{orderId}/line/{position}/deliverySchedule`
/// (either party; connectors/webhooks/order-events.md, "Order lines
/// logistics"): each sent delivery line sets the `status`, `etd` and `eta`
/// it carries on the delivery line with the same `position` of the order
/// line `position`, in both `deliverySchedule` and
/// `deliveryScheduleIncludingRequests`; members it leaves out stay.
/// Positions the line does not have, and lines that are `Cancelled` or
/// `Completed`, are left alone; the line's own logistics status is not
/// derived from its delivery lines (nothing documents how). Returns
/// whether a delivery line changed.
pub(crate) fn update_delivery_logistics(
    order: &mut Order,
    position: &str,
    update: &crate::api::order::types::UpdateOrderLineDeliverySchedule,
    now: &DateTime,
) -> bool {
    use LineProcessStatus as P;
    let Some(line) = line_at_mut(order, position) else {
        return false;
    };
    if matches!(process_status(line), Some(P::Cancelled | P::Completed)) {
        return false;
    }
    let mut changed = false;
    for sent in &update.delivery_schedule {
        for schedule in [
            &mut line.delivery_schedule,
            &mut line.delivery_schedule_including_requests,
        ] {
            let Some(delivery) = schedule
                .iter_mut()
                .find(|d| d.position.as_deref() == Some(sent.position.as_str()))
            else {
                continue;
            };
            changed |= set_sent(&mut delivery.status, &sent.status);
            changed |= set_sent(&mut delivery.etd, &sent.etd);
            changed |= set_sent(&mut delivery.eta, &sent.eta);
        }
    }
    if changed {
        line.last_updated_at = Some(now.clone());
        line.last_changed_at = Some(now.clone());
        finish(order, now);
    }
    changed
}

/// `slot` takes the value `sent` carries, if any; whether it changed.
fn set_sent<T: Clone + PartialEq>(slot: &mut Option<T>, sent: &Option<T>) -> bool {
    match sent {
        Some(value) if slot.as_ref() != Some(value) => {
            *slot = Some(value.clone());
            true
        }
        _ => false,
    }
}

/// Goods receipts (order/buyer/receive-goods.md): `POST
/// /api-connector/order/deliveries` appends the deliveries to the line's
/// `buyerLine.deliveryHistory`, `/order/deliveryHistory` (and a sent order's
/// `deliveryHistory`) replaces it. Lines are matched on `position`.
/// Returns whether the order changed.
///
/// The same deliveries appended again are appended again, not
/// de-duplicated: receive-goods.md#L30 says only that the endpoint "will
/// append the deliveries to the order line's delivery history", and
/// neither it nor Tradecloud's `SendOrderDeliveries` example
/// (tradecloud-sdk-dotnet) says that a repeated delivery is recognised;
/// two receipts of the same date and quantity can be two real
/// deliveries. So the mock keeps both, as the SDK warns
/// (`Orders::send_deliveries` of the client is not
/// resent after a doubtful failure); an ERP that may send a receipt twice
/// replaces the whole history (`/order/deliveryHistory`) instead.
pub(crate) fn receive_goods<'m>(
    order: &mut Order,
    lines: impl IntoIterator<Item = (&'m str, &'m [DeliveryHistoryLine])>,
    replace: bool,
    now: &DateTime,
) -> bool {
    let before = order.clone();
    let mut changed = false;
    for (position, deliveries) in lines {
        changed |= record_deliveries(order, position, deliveries, replace, now);
    }
    if changed {
        finish(order, now);
        // A history replaced by the same one changes nothing, as an order
        // sent again unchanged ([`only_changes`]).
        *order = only_changes(std::mem::take(order), &before);
    }
    order.version != before.version
}

/// One line's goods receipt: the history appended or replaced; when the
/// delivered quantity reaches the quantity of the line's current delivery
/// schedule, an `Open`, `Produced`, `ReadyToShip` or `Shipped` line becomes
/// `Delivered`; the delivery lines the received quantity covers become
/// `Delivered` too ([`deliver_received`]).
fn record_deliveries(
    order: &mut Order,
    position: &str,
    deliveries: &[DeliveryHistoryLine],
    replace: bool,
    now: &DateTime,
) -> bool {
    use LineLogisticsStatus as L;
    let Some(line) = line_at_mut(order, position) else {
        return false;
    };
    let buyer = line.buyer_line.get_or_insert_with(BuyerLine::default);
    if replace {
        buyer.delivery_history = deliveries.to_vec();
    } else {
        buyer.delivery_history.extend(deliveries.iter().cloned());
    }
    let delivered = total(buyer.delivery_history.iter().map(|d| d.quantity.as_ref()));
    let planned = total(line.delivery_schedule.iter().map(|d| d.quantity.as_ref()));
    if let (Some(delivered), Some(planned)) = (delivered, planned) {
        let status = line.status.get_or_insert_with(LineStatus::default);
        let logistics = status.logistics_status.clone().unwrap_or(L::Open);
        if delivered >= planned
            && matches!(
                logistics,
                L::Open | L::Produced | L::ReadyToShip | L::Shipped
            )
        {
            status.logistics_status = Some(L::Delivered);
        }
    }
    refresh_line(line, now);
    deliver_received(line);
    true
}

/// The delivery lines of `line` its goods receipts cover become
/// `Delivered` ("the delivery line quantity is delivered at the buyer",
/// order/status.md, "Scheduled delivery logistics status"). Tradecloud
/// matches the delivery history against the planned schedule "by date and
/// quantity" (receive-goods.md) without saying how; the mock fills the
/// current schedule's delivery lines in the order of their dates (those
/// without a date last) with the total received quantity, and each
/// delivery line filled to its full quantity is delivered; a partly filled
/// one keeps its status ("`Open`: no or partial quantity ... Delivered").
/// A `Delivered` line has all its delivery lines delivered. A `Cancelled`
/// line is left alone; a delivered delivery line stays delivered.
fn deliver_received(line: &mut OrderLine) {
    use DeliveryLineLogisticsStatus as D;
    let logistics = line
        .status
        .as_ref()
        .and_then(|s| s.logistics_status.clone());
    match logistics {
        Some(LineLogisticsStatus::Cancelled) => return,
        Some(LineLogisticsStatus::Delivered) => {
            advance_delivery_lines(line, None, &D::Delivered);
            return;
        }
        _ => {}
    }
    let received = line
        .buyer_line
        .as_ref()
        .and_then(|b| total(b.delivery_history.iter().map(|d| d.quantity.as_ref())));
    let Some(mut left) = received else {
        return;
    };
    let mut by_date: Vec<&CurrentDeliveryScheduleLine> = line.delivery_schedule.iter().collect();
    by_date.sort_by_key(|d| (d.date.is_none(), d.date.clone()));
    let mut covered: Vec<String> = Vec::new();
    for delivery in by_date {
        let Some(quantity) = delivery.quantity.as_ref() else {
            continue;
        };
        match left.checked_sub(quantity) {
            Some(rest) if !rest.is_negative() => left = rest,
            _ => break,
        }
        if let Some(position) = &delivery.position {
            covered.push(position.clone());
        }
    }
    advance_delivery_lines(line, Some(&covered), &D::Delivered);
}

/// The delivery lines of `line` (all, or those at `positions`), in both
/// `deliverySchedule` and `deliveryScheduleIncludingRequests`, move
/// forward to `stage` ([`advances`]). Returns whether one moved.
fn advance_delivery_lines(
    line: &mut OrderLine,
    positions: Option<&[String]>,
    stage: &DeliveryLineLogisticsStatus,
) -> bool {
    let mut moved = false;
    for schedule in [
        &mut line.delivery_schedule,
        &mut line.delivery_schedule_including_requests,
    ] {
        for delivery in schedule.iter_mut().filter(|d| {
            positions.is_none_or(|positions| {
                d.position
                    .as_deref()
                    .is_some_and(|p| positions.iter().any(|s| s == p))
            })
        }) {
            if advances(&delivery.status, stage) {
                delivery.status = Some(stage.clone());
                moved = true;
            }
        }
    }
    moved
}

/// Whether a delivery line in logistics status `status` moves to `stage`
/// (a buyer's `shipped` or `delivered`, a goods receipt, a `status` the
/// buyer sends in its schedule): only forward, in the order `Open`,
/// `Produced`, `ReadyToShip`, `Shipped`, `Delivered` (`Shipped` only from
/// `Open`, `Produced` or `ReadyToShip`, order/buyer/issue/indicators.md#L39;
/// `Delivered` from the four before it). A delivery line without a status,
/// or with one the spec does not document, takes any other stage; a stage
/// the spec does not document is taken only by such a line.
fn advances(
    status: &Option<DeliveryLineLogisticsStatus>,
    stage: &DeliveryLineLogisticsStatus,
) -> bool {
    use DeliveryLineLogisticsStatus as D;
    let rank = |status: &D| match status {
        D::Open => Some(0),
        D::Produced => Some(1),
        D::ReadyToShip => Some(2),
        D::Shipped => Some(3),
        D::Delivered => Some(4),
        D::Unknown(_) => None,
    };
    match (status.as_ref().and_then(rank), rank(stage)) {
        (Some(from), Some(to)) => to > from,
        (Some(_), None) => false,
        (None, _) => status.as_ref() != Some(stage),
    }
}

/// Tradecloud's limit on the TOTAL number of some objects of an order
/// (api/rules.md): delivery history lines per order line
/// (order/buyer/update.md), documents per order header and per order line
/// (order/buyer/issue/attach-document-api.md).
pub(crate) const MAX_TOTAL_OBJECTS: usize = 100;

/// Why goods receipts for `order` are refused, if they are: a line whose
/// delivery history would have more than [`MAX_TOTAL_OBJECTS`] lines once
/// the deliveries are appended (or, with `replace`, once they replace it),
/// as [`receive_goods`] would store them. Lines the order does not have
/// are skipped, as there.
pub(crate) fn history_over_limit<'m>(
    order: &Order,
    lines: impl IntoIterator<Item = (&'m str, &'m [DeliveryHistoryLine])>,
    replace: bool,
) -> Option<String> {
    let mut totals: Vec<(&str, usize)> = Vec::new();
    for (position, deliveries) in lines {
        let Some(stored) = order
            .lines
            .iter()
            .find(|l| line_position(l) == Some(position))
        else {
            continue;
        };
        let index = match totals.iter().position(|(p, _)| *p == position) {
            Some(index) => index,
            None => {
                let before = stored
                    .buyer_line
                    .as_ref()
                    .map_or(0, |b| b.delivery_history.len());
                totals.push((position, before));
                totals.len() - 1
            }
        };
        let total = &mut totals[index].1;
        *total = if replace {
            deliveries.len()
        } else {
            *total + deliveries.len()
        };
    }
    let (position, total) = totals
        .into_iter()
        .find(|(_, total)| *total > MAX_TOTAL_OBJECTS)?;
    Some(format!(
        "line {position} would have {total} delivery history lines; Tradecloud allows at most \
         {MAX_TOTAL_OBJECTS} per order line (order/buyer/update.md), so nothing of this message \
         was stored: send the history as it is now, at most {MAX_TOTAL_OBJECTS} lines, with \
         /api-connector/order/deliveryHistory (which replaces it), or fewer deliveries"
    ))
}

/// The sum of some quantities (`None` when there are none or a sum does
/// not fit).
fn total<'q>(
    quantities: impl Iterator<Item = Option<&'q crate::types::Decimal>>,
) -> Option<crate::types::Decimal> {
    quantities
        .flatten()
        .try_fold(None::<crate::types::Decimal>, |sum, q| match sum {
            None => Some(Some(q.clone())),
            Some(s) => s.checked_add(q).map(Some),
        })
        .flatten()
}

/// `cancelLineWhenMissing` on a sent order (order/buyer/cancel.md): the
/// order's `Issued`, `InProgress`, `Rejected` and `Confirmed` lines whose
/// position the message does not contain become `Cancelled`.
fn cancel_missing_lines(order: &mut Order, sent: &[String], now: &DateTime) {
    for line in &mut order.lines {
        let missing = line_position(line).is_none_or(|p| !sent.iter().any(|s| s == p));
        let open_line = matches!(
            process_status(line),
            Some(
                LineProcessStatus::Issued
                    | LineProcessStatus::InProgress
                    | LineProcessStatus::Rejected
                    | LineProcessStatus::Confirmed
            )
        );
        if missing && open_line {
            close_all(line, RequestStatus::Closed);
            set_status(line, LineProcessStatus::Cancelled, None);
            if let Some(status) = line.status.as_mut() {
                status.logistics_status = Some(LineLogisticsStatus::Cancelled);
            }
            refresh_line(line, now);
        }
    }
}

/// `autoConfirm` on the order (order/buyer/issue/indicators.md): a
/// supplier proposal or reopen request is approved at once.
fn auto_confirms(order: &Order) -> bool {
    order
        .buyer_order
        .as_ref()
        .and_then(|b| b.indicators.as_ref())
        .and_then(|i| i.auto_confirm)
        .unwrap_or(false)
}

// ----- documents ------------------------------------------------------------

/// Attach `sent` to the documents `attached` to an order or a line, by the
/// mock's one attach rule ([`super::attach`]: "If a document with the same
/// code is already attached to the order or line, the document will be
/// replaced, else it will be appended", order/buyer/issue/attach-document-api.md#L29,
/// order/supplier/send-order-response/attach-document.md#L36): a document
/// with the `code` of an attached one (compared trimmed; a blank code is
/// no code) replaces it in its place, any other is appended, also when
/// sent again. Every member of a sent document is kept as sent
/// (`objectId`, `url`, `name`, `description`, `code`, `type`, `revision`
/// and members the spec does not name). An `objectId` is not checked
/// against the object storage. Returns whether `attached` changed.
pub(crate) fn attach_documents(attached: &mut Vec<Document>, sent: &[Document]) -> bool {
    super::attach::attach(attached, sent, |_| {})
}

/// Why attaching documents of `side` to `order` is refused, if it is: the
/// order header or a line (at a position; a line the order does not have
/// yet starts without documents) would have more than
/// [`MAX_TOTAL_OBJECTS`] of that side's documents (the buyer's
/// `buyerOrder`/`buyerLine.documents`, the supplier's
/// `supplierOrder`/`supplierLine.documents`) once `header` and `lines` are
/// attached as [`attach_documents`] attaches them (a document with the
/// code of an attached one replaces it and does not count twice).
pub(crate) fn documents_over_limit<'m>(
    order: Option<&Order>,
    side: Party,
    header: &[Document],
    lines: impl IntoIterator<Item = (&'m str, &'m [Document])>,
) -> Option<String> {
    let page = match side {
        Party::Buyer => "order/buyer/issue/attach-document-api.md",
        Party::Supplier => "order/supplier/send-order-response/attach-document.md",
    };
    let refusal = |what: &str, total: usize| {
        format!(
            "{what} would have {total} documents; Tradecloud allows at most {MAX_TOTAL_OBJECTS} \
             per order header and per order line ({page}), so nothing of this message was \
             stored: attach fewer, or send a document with the `code` of an attached one to \
             replace it"
        )
    };
    let mut attached = match side {
        Party::Buyer => order
            .and_then(|o| o.buyer_order.as_ref())
            .map(|b| b.documents.clone()),
        Party::Supplier => order
            .and_then(|o| o.supplier_order.as_ref())
            .map(|s| s.documents.clone()),
    }
    .unwrap_or_default();
    attach_documents(&mut attached, header);
    if attached.len() > MAX_TOTAL_OBJECTS {
        return Some(refusal("the order header", attached.len()));
    }
    let mut by_line: Vec<(&str, Vec<Document>)> = Vec::new();
    for (position, sent) in lines {
        let index = match by_line.iter().position(|(p, _)| *p == position) {
            Some(index) => index,
            None => {
                let line =
                    order.and_then(|o| o.lines.iter().find(|l| line_position(l) == Some(position)));
                let before = match side {
                    Party::Buyer => line
                        .and_then(|l| l.buyer_line.as_ref())
                        .map(|b| b.documents.clone()),
                    Party::Supplier => line
                        .and_then(|l| l.supplier_line.as_ref())
                        .map(|s| s.documents.clone()),
                }
                .unwrap_or_default();
                by_line.push((position, before));
                by_line.len() - 1
            }
        };
        let documents = &mut by_line[index].1;
        attach_documents(documents, sent);
        if documents.len() > MAX_TOTAL_OBJECTS {
            return Some(refusal(&format!("line {position}"), documents.len()));
        }
    }
    None
}

/// The buyer's documents for an existing order (`POST
/// /api-connector/order/documents`; order/buyer/issue/attach-document-api.md):
/// the order's documents are attached to `buyerOrder.documents`, each
/// line's (matched on `position`; other positions are skipped) to its
/// `buyerLine.documents` ([`attach_documents`]). Changed lines and the
/// order are stamped. Returns whether the order changed.
pub(crate) fn attach_buyer_documents(
    order: &mut Order,
    message: &connector::AttachOrderDocumentsByBuyer,
    now: &DateTime,
) -> bool {
    let mut changed = attach_documents(
        &mut order
            .buyer_order
            .get_or_insert_with(BuyerOrder::default)
            .documents,
        message.order.documents.as_deref().unwrap_or_default(),
    );
    for sent in message.lines.iter().flatten() {
        let Some(line) = order
            .lines
            .iter_mut()
            .find(|l| line_position(l) == Some(sent.position.as_str()))
        else {
            continue;
        };
        let buyer_line = line.buyer_line.get_or_insert_with(BuyerLine::default);
        if attach_documents(
            &mut buyer_line.documents,
            sent.documents.as_deref().unwrap_or_default(),
        ) {
            refresh_line(line, now);
            changed = true;
        }
    }
    if changed {
        finish(order, now);
    }
    changed
}

// ----- the supplier responds -------------------------------------------------

/// What one response line says.
enum Answer {
    Accept,
    Reject,
    Values(Box<Terms>),
    /// Neither an indicator nor a delivery schedule nor prices: only the
    /// line's other fields (notes, description, properties, item details,
    /// documents) are updated.
    Update,
}

/// A supplier's order response (`POST /api-connector/order-response`;
/// order/supplier/send-order-response/README.md). Lines are matched on
/// `purchaseOrderLinePosition`; a position the order does not have is
/// skipped. Per the line's current process status:
///
/// * `Issued`: `accepted` → `Confirmed` (the requested values become the
///   confirmed ones); `rejected` → `Rejected`; responded values that agree
///   with the requested ones → `Confirmed`; other values → `InProgress`
///   with an open supplier proposal (`OpenSupplierProposal`).
/// * `InProgress`: the same, and responded values that agree with the
///   **confirmed** ones while a supplier reopen request is open revert the
///   reopen (`Confirmed`); other values replace the open proposal (or the
///   open reopen request).
/// * `Confirmed`: values that differ from the confirmed ones → `InProgress`
///   with an open supplier reopen request (`OpenSupplierReopenRequest`);
///   otherwise it stays `Confirmed` (also for `accepted`; `rejected` is
///   ignored).
/// * `Rejected`, `Completed`, `Cancelled`: the process status does not
///   change.
///
/// The open requests of an `InProgress` line come first:
///
/// * `OpenBuyerReconfirmationRequest`: `accepted` or values that agree with
///   the confirmed ones reconfirm the line (`Confirmed`, the confirmed
///   values kept: "reconfirm the same schedule & prices", order/status.md);
///   other values → an open supplier reopen request ("or alternatively
///   does a reopen request with different values", indicators.md);
///   `rejected` rejects the line (`Rejected`: "`Rejected` if the
///   `rejected` indicator is set", send-order-response/README.md, Status:
///   InProgress), the reconfirmation request ends with it.
/// * an open buyer reopen request (order/buyer/reopen.md: the supplier
///   "can approve, reject or answer with a proposal"): `accepted` or the
///   requested values approve it (`Approved`, its values confirmed);
///   `rejected` rejects it (`Rejected`, the line `Confirmed` with the values
///   agreed before); other values close it and open a supplier proposal.
/// * `OpenSupplierShipmentRescheduleRequest`: the buyer answers it; a
///   response changes only the line's other fields.
/// * an open supplier reopen request: `accepted` withdraws it, as the
///   confirmed values do; `rejected` rejects the line (`Rejected`), the
///   request `Closed` ("not relevant anymore", order/status.md).
///
/// A response line with no indicator, no delivery schedule and no prices
/// (only notes, description, properties, item details or documents) is no
/// answer: its fields are kept and no status changes.
///
/// Only a line the response really changes (any member but its stamps
/// and event `reason`) is stamped (`lastUpdatedAt`/`lastChangedAt`), and
/// the order only when a line or its `supplierOrder` changed: a line
/// "has been added or changed if the `lines.meta.lastUpdatedAt` equals
/// the `order.meta.lastUpdatedAt`" (order/buyer/receive/README.md), and
/// a poll with `lastUpdatedAfter` returns the orders that changed
/// (api/polling/README.md), so a response that repeats what the order
/// already holds leaves it as it is, with no event.
///
/// Returns whether the order changed.
pub(crate) fn respond(
    order: &mut Order,
    message: &connector::SendOrderResponseBySupplier,
    now: &DateTime,
) -> bool {
    let header = message.order.indicators.as_ref();
    let auto_confirm = auto_confirms(order);
    let mut changed = false;
    for sent in &message.lines {
        let Some(stored) = order
            .lines
            .iter_mut()
            .find(|l| line_position(l) == Some(sent.purchase_order_line_position.as_str()))
        else {
            continue;
        };
        // Answered on a copy, kept only when it changed.
        let mut answered = stored.clone();
        let line = &mut answered;
        let line_indicators = sent.indicators.as_ref();
        let accepted = line_indicators
            .and_then(|i| i.accepted)
            .or(line_indicators.and_then(|i| i.rejected).map(|_| false))
            .unwrap_or(false);
        let rejected = line_indicators
            .and_then(|i| i.rejected)
            .or(line_indicators.and_then(|i| i.accepted).map(|_| false))
            .unwrap_or(false);
        let (accepted, rejected) =
            if line_indicators.is_some_and(|i| i.accepted.is_some() || i.rejected.is_some()) {
                (accepted, rejected)
            } else {
                (
                    header.and_then(|h| h.accepted).unwrap_or(false),
                    header.and_then(|h| h.rejected).unwrap_or(false),
                )
            };
        let answer = if accepted {
            Answer::Accept
        } else if rejected {
            Answer::Reject
        } else if sent.delivery_schedule.as_ref().is_none_or(Vec::is_empty) && sent.prices.is_none()
        {
            Answer::Update
        } else {
            let requested = requested(line);
            let mut prices = sent.prices.clone();
            if let (Some(prices), Some(buyer)) = (prices.as_mut(), requested.prices.as_ref()) {
                // "Copied from buyer if empty".
                if prices.price_unit_of_measure_iso.is_none() {
                    prices.price_unit_of_measure_iso = buyer.price_unit_of_measure_iso.clone();
                }
                if prices.price_unit_quantity.is_none() {
                    prices.price_unit_quantity = buyer.price_unit_quantity.clone();
                }
            }
            Answer::Values(Box::new(Terms {
                schedule: sent.delivery_schedule.clone().unwrap_or_default(),
                prices,
            }))
        };
        // The supplier's part of the line, keeping its requests.
        let mut supplier_line: SupplierLine =
            convert(sent, &["deliverySchedule", "prices", "chargeLines"]);
        supplier_line.requests = line.supplier_line.as_ref().and_then(|s| s.requests.clone());
        // Documents attached before stay; the sent ones are attached to them.
        supplier_line.documents = line
            .supplier_line
            .as_ref()
            .map(|s| s.documents.clone())
            .unwrap_or_default();
        attach_documents(
            &mut supplier_line.documents,
            sent.documents.as_deref().unwrap_or_default(),
        );
        // Item details sent before stay when a response leaves them out;
        // sent ones replace them ([`merge_item_details`]).
        if supplier_line.item_details.is_none() {
            supplier_line.item_details = line
                .supplier_line
                .as_ref()
                .and_then(|s| s.item_details.clone());
        }
        line.supplier_line = Some(supplier_line);
        let rejecting = matches!(answer, Answer::Reject);
        let was_rejected = rejected_now(line);
        transition(line, answer, sent.reason.clone());
        if auto_confirm {
            approve_open_supplier_request(line);
        }
        refresh_line(line, now);
        // A rejection that took (the line `Rejected`, or the buyer's
        // reopen request rejected) passes its reason on.
        if rejecting && rejected_now(line) != was_rejected {
            give_reason(line, sent.reason.as_deref());
        }
        if !same_but_line_stamps(&answered, stored) {
            *stored = answered;
            changed = true;
        }
    }
    let named = message.lines.iter().any(|sent| {
        order
            .lines
            .iter()
            .any(|l| line_position(l) == Some(sent.purchase_order_line_position.as_str()))
    });
    if named {
        let before = order.supplier_order.clone();
        let supplier_order = order
            .supplier_order
            .get_or_insert_with(SupplierOrder::default);
        let sent = &message.order;
        if sent.description.is_some() {
            supplier_order.description = sent.description.clone();
        }
        if sent.contact.is_some() {
            supplier_order.contact = sent.contact.clone();
        }
        if let Some(notes) = &sent.notes {
            supplier_order.notes = notes.clone();
        }
        if let Some(properties) = &sent.properties {
            supplier_order.properties = properties.clone();
        }
        attach_documents(
            &mut supplier_order.documents,
            sent.documents.as_deref().unwrap_or_default(),
        );
        supplier_order.erp_responded_by = message.erp_responded_by.clone();
        supplier_order.erp_response_date_time = message.erp_response_date_time.clone();
        changed |= order.supplier_order != before;
    }
    if changed {
        finish(order, now);
    }
    changed
}

/// Whether two states of an order line are the same but for what each
/// change writes anew: the stamps (`lastUpdatedAt`, `lastChangedAt`) and
/// the `reason` given with an event ([`refresh_line`]).
fn same_but_line_stamps(a: &OrderLine, b: &OrderLine) -> bool {
    let bare = |line: &OrderLine| OrderLine {
        last_updated_at: None,
        last_changed_at: None,
        reason: None,
        ..line.clone()
    };
    bare(a) == bare(b)
}

/// What the supplier has rejected of a line: the line itself (`Rejected`),
/// the buyer's reopen request (`Rejected`).
fn rejected_now(line: &OrderLine) -> (bool, bool) {
    let reopen = line
        .buyer_line
        .as_ref()
        .and_then(|b| b.requests.as_ref())
        .and_then(|r| r.reopen_request.as_ref())
        .and_then(|r| r.status.as_ref());
    (
        process_status(line) == Some(&LineProcessStatus::Rejected),
        reopen == Some(&RequestStatus::Rejected),
    )
}

/// One line's transition for a supplier's answer (see [`respond`]).
fn transition(line: &mut OrderLine, answer: Answer, reason: Option<String>) {
    use LineInProgressStatus as S;
    use LineProcessStatus as P;
    let status = process_status(line).cloned().unwrap_or(P::Issued);
    let in_progress = line
        .status
        .as_ref()
        .and_then(|s| s.in_progress_status.clone());
    let supplier_reopen_open = is_open(
        line.supplier_line
            .as_ref()
            .and_then(|s| s.requests.as_ref())
            .and_then(|r| r.reopen_request.as_ref()),
    );
    let buyer_reopen_open = is_open(
        line.buyer_line
            .as_ref()
            .and_then(|b| b.requests.as_ref())
            .and_then(|r| r.reopen_request.as_ref()),
    );
    // A line whose agreement is questioned (a reconfirmation, or the
    // supplier's own reopen request) answers against its confirmed values.
    let against_confirmed = status == P::Confirmed
        || in_progress == Some(S::OpenBuyerReconfirmationRequest)
        || supplier_reopen_open;
    // What the response leaves out (no delivery schedule, no prices) stays
    // as it is: the confirmed values of a line answered against them, else
    // the requested ones.
    let answer = match answer {
        Answer::Values(mut values) => {
            let base = if against_confirmed {
                confirmed(line).unwrap_or_else(|| requested(line))
            } else {
                requested(line)
            };
            if values.schedule.is_empty() {
                values.schedule = base.schedule;
            }
            if values.prices.is_none() {
                values.prices = base.prices;
            }
            Answer::Values(values)
        }
        other => other,
    };
    match (status, answer) {
        // Only the line's other fields change.
        (_, Answer::Update) => {}
        // The buyer answers a shipment reschedule request (order-events.md,
        // "Order lines shipment reschedule"); until then a response changes
        // only the line's other fields.
        (P::InProgress, _) if in_progress == Some(S::OpenSupplierShipmentRescheduleRequest) => {}
        // A reconfirmation request: "reconfirm the same schedule & prices"
        // (order/status.md), or "submit a reopen request"
        // (order-events.md) with other values; `rejected` rejects the line,
        // as for any `InProgress` line (send-order-response/README.md).
        // The request has no object of its own: it ends with the
        // `OpenBuyerReconfirmationRequest` status.
        (P::InProgress, answer) if in_progress == Some(S::OpenBuyerReconfirmationRequest) => {
            match answer {
                Answer::Accept => set_status(line, P::Confirmed, None),
                Answer::Values(values)
                    if confirmed(line).is_some_and(|c| values.agrees_with(&c)) =>
                {
                    set_status(line, P::Confirmed, None);
                }
                Answer::Values(values) => {
                    supplier_requests(line).reopen_request = Some(values.request(reason));
                    set_status(line, P::InProgress, Some(S::OpenSupplierReopenRequest));
                }
                Answer::Reject => {
                    close_all(line, RequestStatus::Closed);
                    set_status(line, P::Rejected, None);
                }
                Answer::Update => {}
            }
        }
        // A buyer reopen request: the supplier approves it (`accepted`, or
        // the requested values), rejects it, or answers with a proposal
        // (order/buyer/reopen.md).
        (P::InProgress, answer) if buyer_reopen_open => match answer {
            Answer::Accept => approve_buyer_reopen_request(line),
            Answer::Values(values) if values.agrees_with(&requested(line)) => {
                approve_buyer_reopen_request(line);
            }
            Answer::Reject => {
                close(
                    &mut buyer_requests(line).reopen_request,
                    RequestStatus::Rejected,
                );
                set_status(line, P::Confirmed, None);
            }
            Answer::Values(values) => {
                close(
                    &mut buyer_requests(line).reopen_request,
                    RequestStatus::Closed,
                );
                supplier_requests(line).proposal = Some(values.request(reason));
                set_status(line, P::InProgress, Some(S::OpenSupplierProposal));
            }
            Answer::Update => {}
        },
        // Accepting the line as it is, while the supplier's own reopen
        // request is open, withdraws that request: the confirmed values stay.
        (P::InProgress, Answer::Accept) if supplier_reopen_open => {
            close(
                &mut supplier_requests(line).reopen_request,
                RequestStatus::Closed,
            );
            set_status(line, P::Confirmed, None);
        }
        (P::Issued | P::InProgress, Answer::Accept) => accept_requested(line, reason),
        // "`Rejected` if the `rejected` indicator is set" for an
        // `InProgress` line (send-order-response/README.md), also one with
        // the supplier's own reopen request open: that request is `Closed`
        // ("not relevant anymore", order/status.md), as the others.
        (P::Issued | P::InProgress, Answer::Reject) => {
            close_all(line, RequestStatus::Closed);
            set_status(line, P::Rejected, None);
        }
        (P::Issued | P::InProgress, Answer::Values(values)) => {
            if values.agrees_with(&requested(line)) && !supplier_reopen_open {
                // Responding the requested values accepts the line
                // ("accepts (confirms with requested values)",
                // propose-when-accepted.md), as `accepted` does.
                accept_requested(line, reason);
            } else if supplier_reopen_open {
                if confirmed(line).is_some_and(|c| values.agrees_with(&c)) {
                    close(
                        &mut supplier_requests(line).reopen_request,
                        RequestStatus::Closed,
                    );
                    set_status(line, P::Confirmed, None);
                } else {
                    supplier_requests(line).reopen_request = Some(values.request(reason));
                }
            } else {
                supplier_requests(line).proposal = Some(values.request(reason));
                set_status(line, P::InProgress, Some(S::OpenSupplierProposal));
            }
        }
        (P::Confirmed, Answer::Values(values))
            if !confirmed(line).is_some_and(|c| values.agrees_with(&c)) =>
        {
            supplier_requests(line).reopen_request = Some(values.request(reason));
            set_status(line, P::InProgress, Some(S::OpenSupplierReopenRequest));
        }
        _ => {}
    }
}

/// The supplier approves the buyer's open reopen request: `Approved`, and
/// its values (the buyer's requested ones) become the confirmed ones.
fn approve_buyer_reopen_request(line: &mut OrderLine) {
    let requests = buyer_requests(line);
    let agreed = requests.reopen_request.as_ref().map(Terms::of_request);
    close(&mut requests.reopen_request, RequestStatus::Approved);
    let agreed = agreed.unwrap_or_else(|| requested(line));
    confirm(line, agreed);
}

/// The supplier accepts the line as the buyer requested it: the
/// `accepted` indicator, or responded values that agree with the requested
/// ones (order/buyer/issue/propose-when-accepted.md: "even when the
/// supplier accepts (confirms with requested values) the order line").
/// The requested values become the confirmed ones (`Confirmed`), unless
/// the buyer set `proposeWhenAccepted` on the line: then "every `Accepted
/// by supplier` line becomes a proposal with requested values", for the
/// buyer to approve (`InProgress`, `OpenSupplierProposal`).
fn accept_requested(line: &mut OrderLine, reason: Option<String>) {
    let requested = requested(line);
    if propose_when_accepted(line) {
        supplier_requests(line).proposal = Some(requested.request(reason));
        set_status(
            line,
            LineProcessStatus::InProgress,
            Some(LineInProgressStatus::OpenSupplierProposal),
        );
    } else {
        confirm(line, requested);
    }
}

/// Whether the buyer set `indicators.proposeWhenAccepted` on the line
/// (order/buyer/issue/propose-when-accepted.md).
fn propose_when_accepted(line: &OrderLine) -> bool {
    line.buyer_line
        .as_ref()
        .and_then(|b| b.indicators.as_ref())
        .and_then(|i| i.propose_when_accepted)
        .unwrap_or(false)
}

/// Confirm a line with `agreed` as the confirmed values; open requests are
/// closed.
fn confirm(line: &mut OrderLine, agreed: Terms) {
    close_all(line, RequestStatus::Closed);
    let confirmed = line
        .confirmed_line
        .get_or_insert_with(ConfirmedLine::default);
    confirmed.delivery_schedule = agreed.schedule;
    confirmed.prices = agreed.prices;
    set_status(line, LineProcessStatus::Confirmed, None);
}

// ----- the buyer answers requests ------------------------------------------------

/// The buyer's answer to the open supplier requests of some lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict<'r> {
    /// `POST /order/{orderId}/requests/buyer/approve`.
    Approve,
    /// `POST /order/{orderId}/requests/buyer/reject`, with the reason the
    /// rejected lines carry on ([`give_reason`]).
    Reject {
        /// The body's `reason`.
        reason: &'r str,
    },
}

/// Why the buyer's answer to the requests of some lines was refused; each
/// names the positions concerned. Nothing of the order changes then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RequestsRefused {
    /// The order has no lines at these positions (`404`).
    NoSuchLines(Vec<String>),
    /// These lines have no open supplier request (`400`).
    NothingOpen(Vec<String>),
}

/// The buyer approves the open supplier requests of the lines at
/// `positions` (`POST /order/{orderId}/requests/buyer/approve`; the
/// spec's "proposals, reopen requests and shipment reschedule requests"):
/// an open proposal or supplier reopen request becomes `Approved` and its
/// values the confirmed ones (`Confirmed`); an open shipment reschedule
/// request is approved as [`answer_reschedule`] does. Refused, changing
/// nothing, when a position is not the order's or a line named has no
/// open supplier request.
pub(crate) fn approve_requests(
    order: &mut Order,
    positions: &[String],
    now: &DateTime,
) -> Result<(), RequestsRefused> {
    answer_requests(order, positions, None, now, |line| {
        if has_open_reschedule(line) {
            answer_open_reschedule(line, true);
            return Some(());
        }
        approve_open_supplier_request(line)
    })
}

/// Approve a line's open supplier proposal or reopen request: its values
/// become the confirmed ones. `None` when none is open.
fn approve_open_supplier_request(line: &mut OrderLine) -> Option<()> {
    let requests = line.supplier_line.as_mut()?.requests.as_mut()?;
    let open = if is_open(requests.proposal.as_ref()) {
        &mut requests.proposal
    } else if is_open(requests.reopen_request.as_ref()) {
        &mut requests.reopen_request
    } else {
        return None;
    };
    let agreed = Terms::of_request(open.as_ref()?);
    close(open, RequestStatus::Approved);
    confirm(line, agreed);
    Some(())
}

/// The buyer rejects the open supplier requests of the lines at
/// `positions` (`POST /order/{orderId}/requests/buyer/reject`): an open proposal
/// becomes `Rejected` and the line stays `InProgress`
/// (`RejectedSupplierProposal`); a rejected supplier reopen request leaves
/// the line `Confirmed` with its confirmed values; an open shipment
/// reschedule request is rejected as [`answer_reschedule`] does. Refused
/// as [`approve_requests`] is.
pub(crate) fn reject_requests(
    order: &mut Order,
    positions: &[String],
    reason: &str,
    now: &DateTime,
) -> Result<(), RequestsRefused> {
    answer_requests(order, positions, Some(reason), now, |line| {
        if has_open_reschedule(line) {
            answer_open_reschedule(line, false);
            return Some(());
        }
        let requests = line.supplier_line.as_mut()?.requests.as_mut()?;
        if is_open(requests.proposal.as_ref()) {
            close(&mut requests.proposal, RequestStatus::Rejected);
            set_status(
                line,
                LineProcessStatus::InProgress,
                Some(LineInProgressStatus::RejectedSupplierProposal),
            );
            Some(())
        } else if is_open(requests.reopen_request.as_ref()) {
            close(&mut requests.reopen_request, RequestStatus::Rejected);
            set_status(line, LineProcessStatus::Confirmed, None);
            Some(())
        } else {
            None
        }
    })
}

/// Whether the line has an open supplier request the buyer can answer: a
/// proposal, a reopen request or a shipment reschedule request.
fn has_open_supplier_request(line: &OrderLine) -> bool {
    let requests = line
        .supplier_line
        .as_ref()
        .and_then(|s| s.requests.as_ref());
    has_open_reschedule(line)
        || is_open(requests.and_then(|r| r.proposal.as_ref()))
        || is_open(requests.and_then(|r| r.reopen_request.as_ref()))
}

/// Check every position first (all known, each line with an open
/// supplier request), then `answer` each line named; an answered line
/// gets `reason` as its `reason` ([`give_reason`]).
fn answer_requests(
    order: &mut Order,
    positions: &[String],
    reason: Option<&str>,
    now: &DateTime,
    mut answer: impl FnMut(&mut OrderLine) -> Option<()>,
) -> Result<(), RequestsRefused> {
    let mut missing: Vec<String> = Vec::new();
    let mut nothing_open: Vec<String> = Vec::new();
    for position in positions {
        let refused = match order
            .lines
            .iter()
            .find(|l| line_position(l) == Some(position.as_str()))
        {
            None => &mut missing,
            Some(line) if !has_open_supplier_request(line) => &mut nothing_open,
            Some(_) => continue,
        };
        if !refused.contains(position) {
            refused.push(position.clone());
        }
    }
    if !missing.is_empty() {
        return Err(RequestsRefused::NoSuchLines(missing));
    }
    if !nothing_open.is_empty() {
        return Err(RequestsRefused::NothingOpen(nothing_open));
    }
    let mut changed = false;
    for line in &mut order.lines {
        if !line_position(line).is_some_and(|p| positions.iter().any(|wanted| wanted == p)) {
            continue;
        }
        if answer(line).is_some() {
            refresh_line(line, now);
            give_reason(line, reason);
            changed = true;
        }
    }
    if changed {
        finish(order, now);
    }
    Ok(())
}

// ----- shipments and reschedule requests ------------------------------------------

/// One despatch advice line, as the order it ships sees it.
#[derive(Clone, Debug)]
pub(crate) struct Despatched<'m> {
    /// `purchaseOrderLinePosition`: the order line shipped.
    pub line_position: &'m str,
    /// `deliverySchedulePosition`: the delivery line shipped, if named.
    pub delivery_position: Option<&'m str>,
    /// `despatchQuantity`.
    pub quantity: &'m Decimal,
    /// `backorderQuantity` and `backorderDate`, when both are sent.
    pub backorder: Option<(&'m Decimal, &'m Date)>,
}

impl<'m> Despatched<'m> {
    /// The lines of a despatch advice for purchase order `number`; lines
    /// without an order line position or a despatch quantity ship nothing
    /// the order can compare.
    pub(crate) fn of_advice(
        message: &'m connector::SendDespatchAdviceBySupplier,
        number: &str,
    ) -> Vec<Despatched<'m>> {
        message
            .lines
            .iter()
            .flatten()
            .filter(|l| l.purchase_order_number.as_deref() == Some(number))
            .filter_map(|l| {
                Some(Despatched {
                    line_position: l.purchase_order_line_position.as_deref()?,
                    delivery_position: l.delivery_schedule_position.as_deref(),
                    quantity: l.despatch_quantity.as_ref()?,
                    backorder: l.backorder_quantity.as_ref().zip(l.backorder_date.as_ref()),
                })
            })
            .collect()
    }
}

fn has_open_reschedule(line: &OrderLine) -> bool {
    line.status.as_ref().is_some_and(|s| {
        s.in_progress_status == Some(LineInProgressStatus::OpenSupplierShipmentRescheduleRequest)
    })
}

/// A supplier's (re)issued shipment as the order sees it
/// (connectors/webhooks/order-events.md, "Order lines shipment
/// reschedule"): for each order line shipped, each despatch line is
/// compared with its delivery line (the one at `deliverySchedulePosition`,
/// else the first delivery line neither this advice nor an earlier one
/// shipped) of the confirmed schedule. When every quantity matches and nothing is
/// backordered, the shipped delivery lines become `ReadyToShip` (and an
/// open reschedule request of the line is withdrawn). Otherwise the line
/// gets a shipment reschedule request: `InProgress` /
/// `OpenSupplierShipmentRescheduleRequest`, with the confirmed schedule
/// changed to the shipped quantities (a backorder a new delivery line at
/// its date) in `deliveryScheduleIncludingRequests`, its shipped delivery
/// lines `ReadyToShip` there; `deliverySchedule` keeps the confirmed
/// values until the buyer answers. Only `Confirmed` lines, and lines with
/// an open shipment reschedule request, are compared: a shipment of a line
/// still under negotiation, finished or unknown changes nothing. Returns
/// whether the order changed.
pub(crate) fn ship_lines(order: &mut Order, despatched: &[Despatched<'_>], now: &DateTime) -> bool {
    let mut changed = false;
    let mut positions: Vec<&str> = despatched.iter().map(|d| d.line_position).collect();
    positions.sort_unstable();
    positions.dedup();
    for position in positions {
        let Some(line) = line_at_mut(order, position) else {
            continue;
        };
        let reschedule_open = has_open_reschedule(line);
        if !(reschedule_open || process_status(line) == Some(&LineProcessStatus::Confirmed)) {
            continue;
        }
        let Some(agreed) = confirmed(line) else {
            continue;
        };
        let mut schedule = agreed.schedule.clone();
        let mut shipped: Vec<usize> = Vec::new();
        let mut differs = false;
        for sent in despatched.iter().filter(|d| d.line_position == position) {
            let at = match sent.delivery_position {
                Some(wanted) => schedule
                    .iter()
                    .position(|d| d.position.as_deref() == Some(wanted)),
                None => {
                    let open = |i: &usize| {
                        !shipped.contains(i) && !on_its_way(&line.delivery_schedule, &schedule[*i])
                    };
                    (0..schedule.len())
                        .find(open)
                        .or_else(|| (0..schedule.len()).find(|i| !shipped.contains(i)))
                }
            };
            let Some(at) = at else {
                continue;
            };
            if schedule[at].quantity.as_ref() != Some(sent.quantity) {
                schedule[at].quantity = Some(sent.quantity.clone());
                differs = true;
            }
            if let Some((quantity, date)) = sent.backorder {
                schedule.push(DeliveryScheduleLine {
                    position: Some(next_delivery_position(&schedule)),
                    date: Some(date.clone()),
                    quantity: Some(quantity.clone()),
                    ..DeliveryScheduleLine::default()
                });
                differs = true;
            }
            shipped.push(at);
        }
        if shipped.is_empty() {
            continue;
        }
        let shipped_positions: Vec<Option<String>> = shipped
            .iter()
            .map(|&i| schedule[i].position.clone())
            .collect();
        let before = line.clone();
        if differs {
            set_status(
                line,
                LineProcessStatus::InProgress,
                Some(LineInProgressStatus::OpenSupplierShipmentRescheduleRequest),
            );
            line.delivery_schedule_including_requests =
                current_schedule(&schedule, &line.delivery_schedule_including_requests);
            ready_to_ship(
                &mut line.delivery_schedule_including_requests,
                &shipped_positions,
            );
        } else {
            if reschedule_open {
                set_status(line, LineProcessStatus::Confirmed, None);
                line.delivery_schedule_including_requests = line.delivery_schedule.clone();
            }
            ready_to_ship(&mut line.delivery_schedule, &shipped_positions);
            ready_to_ship(
                &mut line.delivery_schedule_including_requests,
                &shipped_positions,
            );
        }
        if *line != before {
            refresh_line(line, now);
            changed = true;
        }
    }
    if changed {
        finish(order, now);
    }
    changed
}

/// A position for a new delivery line: one above the largest numeric
/// position of `schedule`, as wide as the widest (`"0003"` after `"0002"`).
/// Positions that are not numbers (or above `u128`) are passed over.
fn next_delivery_position(schedule: &[DeliveryScheduleLine]) -> String {
    let positions = schedule.iter().filter_map(|d| d.position.as_deref());
    let width = positions.clone().map(str::len).max().unwrap_or(1);
    let next = positions
        .filter_map(|p| p.parse::<u128>().ok())
        .max()
        .unwrap_or(0)
        .saturating_add(1);
    format!("{next:0width$}")
}

/// Whether the delivery line `delivery` is, in the line's current
/// schedule, already `ReadyToShip`, `Shipped` or `Delivered` (an earlier
/// despatch advice shipped it).
fn on_its_way(current: &[CurrentDeliveryScheduleLine], delivery: &DeliveryScheduleLine) -> bool {
    use DeliveryLineLogisticsStatus as S;
    current
        .iter()
        .find(|c| c.position.is_some() && c.position == delivery.position)
        .and_then(|c| c.status.as_ref())
        .is_some_and(|s| matches!(s, S::ReadyToShip | S::Shipped | S::Delivered))
}

/// Set the delivery lines at `positions` to `ReadyToShip`.
fn ready_to_ship(schedule: &mut [CurrentDeliveryScheduleLine], positions: &[Option<String>]) {
    for delivery in schedule
        .iter_mut()
        .filter(|d| positions.contains(&d.position))
    {
        delivery.status = Some(DeliveryLineLogisticsStatus::ReadyToShip);
    }
}

/// Why the buyer's answer to a shipment reschedule request was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RescheduleRefused {
    /// The order has no line at this position (`404`).
    NoSuchLine,
    /// The line has no open shipment reschedule request (`400`).
    NothingOpen,
}

/// The buyer's answer to the shipment reschedule request of the line at
/// `position` (`POST /order/{orderId}/line/{position}/reschedule/approve`
/// or `…/reject`). Approved: the requested schedule (the line's
/// `deliveryScheduleIncludingRequests`, statuses included) becomes the
/// confirmed one, the line `Confirmed`. Rejected: the confirmed schedule
/// stays, the line `Confirmed`. Either way the line has no
/// `inProgressStatus` any more: order/status.md#L50 defines it only "when
/// an order line `processStatus` is `InProgress`", so the
/// `ApprovedDeliverySchedule` / `RejectedDeliverySchedule` it lists are
/// not shown on the agreed line (the events say which answer it was).
pub(crate) fn answer_reschedule(
    order: &mut Order,
    position: &str,
    approve: bool,
    reason: Option<&str>,
    now: &DateTime,
) -> Result<(), RescheduleRefused> {
    let line = line_at_mut(order, position).ok_or(RescheduleRefused::NoSuchLine)?;
    if !has_open_reschedule(line) {
        return Err(RescheduleRefused::NothingOpen);
    }
    answer_open_reschedule(line, approve);
    refresh_line(line, now);
    give_reason(line, reason);
    finish(order, now);
    Ok(())
}

/// Answer a line's open shipment reschedule request (see
/// [`answer_reschedule`]).
fn answer_open_reschedule(line: &mut OrderLine, approve: bool) {
    if approve {
        let prices = confirmed(line).and_then(|c| c.prices);
        let schedule = line
            .delivery_schedule_including_requests
            .iter()
            .map(|d| convert(d, &["etd", "eta"]))
            .collect();
        confirm(line, Terms { schedule, prices });
    } else {
        // The rejected request's view goes, its delivery line statuses too.
        line.delivery_schedule_including_requests = line.delivery_schedule.clone();
    }
    set_status(line, LineProcessStatus::Confirmed, None);
}

// ----- the single-delivery view ----------------------------------------------------

/// The same order seen with a single delivery per line (the single-delivery
/// view, its poll and `singleDeliveryOrderEvent`;
/// order/buyer/receive/single-delivery-order-response.md): every delivery
/// line of an order line is a line of its own. The delivery line whose
/// `position` is the order line's (else the first) is the order line
/// itself; each other one is a split line, whose `buyerLine.position` is
/// the delivery line's position (none for a delivery line the supplier
/// added without one: "Position is empty in case of a newly split line")
/// and whose `buyerLine.originalPosition` is the order line's. Each line
/// has the order line's members, `statusLine.scheduledDelivery` its
/// delivery line of `deliverySchedule`,
/// `statusLine.scheduledDeliveryInclRequests` the one of
/// `deliveryScheduleIncludingRequests` (matched on the delivery line
/// position), `statusLine.prices[InclRequests]` the order line's prices,
/// and `buyerLine.scheduledDelivery`/`actualDelivery` the requested
/// delivery and the delivery history line of that position (the buyer's
/// echo; `buyerLine.deliverySchedule` and `deliveryHistory` are left out).
pub(crate) fn single_delivery_view(order: &Order) -> SingleDeliveryOrder {
    let mut view: SingleDeliveryOrder = convert(order, &["lines"]);
    view.lines = order.lines.iter().flat_map(single_delivery_lines).collect();
    view
}

/// The lines of the single-delivery view of one order line
/// ([`single_delivery_view`]).
fn single_delivery_lines(line: &OrderLine) -> Vec<SingleDeliveryOrderLine> {
    let base: SingleDeliveryOrderLine = convert(
        line,
        &[
            "deliverySchedule",
            "deliveryScheduleIncludingRequests",
            "prices",
            "pricesIncludingRequests",
        ],
    );
    let position = line_position(line);
    let pairs = delivery_pairs(
        &line.delivery_schedule,
        &line.delivery_schedule_including_requests,
    );
    let primary = pairs
        .iter()
        .position(|(current, including)| {
            current.or(*including).and_then(|d| d.position.as_deref()) == position
        })
        .unwrap_or(0);
    let requested = line
        .buyer_line
        .as_ref()
        .map(|b| b.delivery_schedule.as_slice())
        .unwrap_or_default();
    let history = line
        .buyer_line
        .as_ref()
        .map(|b| b.delivery_history.as_slice())
        .unwrap_or_default();
    let status_line =
        |current: Option<&CurrentDeliveryScheduleLine>,
         including: Option<&CurrentDeliveryScheduleLine>| StatusLine {
            prices: line.prices.clone(),
            prices_incl_requests: line.prices_including_requests.clone(),
            scheduled_delivery: current
                .map(|d| convert::<_, CurrentScheduledDelivery>(d, &["position"])),
            scheduled_delivery_incl_requests: including.map(|d| convert(d, &["position"])),
            extra: Default::default(),
        };
    if pairs.is_empty() {
        let mut single = base;
        single.status_line = Some(status_line(None, None));
        return vec![single];
    }
    pairs
        .iter()
        .enumerate()
        .map(|(index, (current, including))| {
            let mut single = base.clone();
            let delivery_position = current.or(*including).and_then(|d| d.position.clone());
            let buyer = single.buyer_line.get_or_insert_with(BuyerLine::default);
            if index != primary {
                buyer.original_position = position.map(str::to_owned);
                buyer.position = delivery_position.clone();
            }
            let own = |p: &Option<String>| p.is_some() && *p == delivery_position;
            buyer.scheduled_delivery = requested
                .iter()
                .find(|d| own(&d.position))
                .map(|d| convert(d, &["position"]));
            buyer.actual_delivery = history
                .iter()
                .rev()
                .find(|d| own(&d.position))
                .map(|d| convert(d, &["position"]));
            buyer.delivery_schedule.clear();
            buyer.delivery_history.clear();
            single.status_line = Some(status_line(*current, *including));
            single
        })
        .collect()
}

/// The delivery lines of `current` with their counterparts in `including`
/// (the same `position`; without positions, the one at the same index
/// without a position either), then the delivery lines of `including`
/// that have none (a delivery line a supplier request adds).
#[allow(clippy::type_complexity)]
fn delivery_pairs<'a>(
    current: &'a [CurrentDeliveryScheduleLine],
    including: &'a [CurrentDeliveryScheduleLine],
) -> Vec<(
    Option<&'a CurrentDeliveryScheduleLine>,
    Option<&'a CurrentDeliveryScheduleLine>,
)> {
    let mut used = vec![false; including.len()];
    let mut pairs = Vec::new();
    for (index, delivery) in current.iter().enumerate() {
        let found = match &delivery.position {
            Some(position) => including
                .iter()
                .position(|d| d.position.as_ref() == Some(position)),
            None => including
                .get(index)
                .filter(|d| d.position.is_none())
                .map(|_| index),
        }
        .filter(|&j| !used[j]);
        if let Some(j) = found {
            used[j] = true;
        }
        pairs.push((Some(delivery), found.map(|j| &including[j])));
    }
    for (j, delivery) in including.iter().enumerate() {
        if !used[j] {
            pairs.push((None, Some(delivery)));
        }
    }
    pairs
}

// ----- the supplier's despatch advice ---------------------------------------------

/// Rename the members of a JSON object from the despatch advice page's
/// name to the receive page's (`from` → `to`), where the object does not
/// have the receive page's already.
fn rename_absent(value: &mut serde_json::Value, names: &[(&str, &str)]) {
    let serde_json::Value::Object(members) = value else {
        return;
    };
    for (from, to) in names {
        if !members.contains_key(*to) {
            if let Some(moved) = members.remove(*from) {
                members.insert((*to).to_owned(), moved);
            }
        }
    }
}

/// The item of a despatch line, enriched from the order line it names
/// (send-despatch-advice.md: "When a purchase order number is provided, but
/// the item is not or partly provided, the item in the despatch advice will
/// be enriched if Tradecloud can find the purchase order"): each member the
/// supplier left out (or sent blank) is taken from the order line's
/// `buyerLine.item`, where it has one: `number` → `buyerItemNumber`,
/// `revision` → `buyerItemRevision`, `name` → `buyerItemName`,
/// `supplierItemNumber`, `purchaseUnitOfMeasureIso`. The order item has no
/// supplier item name or revision. Members the supplier sent win.
fn enriched_item(
    sent: Option<&crate::api::common::types::ShipmentItem>,
    ordered: Option<&crate::api::common::types::Item>,
) -> Option<crate::api::common::types::ShipmentItem> {
    let Some(ordered) = ordered else {
        return sent.cloned();
    };
    fn fill(member: &mut Option<String>, from: &Option<String>) {
        if member.as_deref().is_none_or(is_blank) {
            if let Some(from) = from.as_deref().filter(|f| !is_blank(f)) {
                *member = Some(from.to_owned());
            }
        }
    }
    let mut item = sent.cloned().unwrap_or_default();
    fill(&mut item.buyer_item_number, &ordered.number);
    fill(&mut item.buyer_item_revision, &ordered.revision);
    fill(&mut item.buyer_item_name, &ordered.name);
    fill(
        &mut item.supplier_item_number,
        &ordered.supplier_item_number,
    );
    fill(
        &mut item.purchase_unit_of_measure_iso,
        &ordered.purchase_unit_of_measure_iso,
    );
    (sent.is_some() || item != Default::default()).then_some(item)
}

/// The item of the line at `position` of `order` (`buyerLine.item`).
pub(crate) fn ordered_item<'o>(
    order: &'o Order,
    position: &str,
) -> Option<&'o crate::api::common::types::Item> {
    order
        .lines
        .iter()
        .find(|l| line_position(l) == Some(position))?
        .buyer_line
        .as_ref()?
        .item
        .as_ref()
}

/// The despatch advice line position of a shipment line
/// (`supplierLine.despatchAdviceLinePosition`).
fn despatch_line_position(line: &ShipmentLine) -> Option<&str> {
    line.supplier_line
        .as_ref()?
        .despatch_advice_line_position
        .as_deref()
}

/// A supplier's new or updated despatch advice (`POST
/// /api-connector/shipment/despatch-advice`;
/// shipment/supplier/send-despatch-advice.md): `existing` is the stored
/// shipment the advice goes to, if any, with only this advice's lines (its
/// id is kept; the caller puts the other advices' lines back); the
/// result replaces it with the sent header, locations and lines (the
/// process status `Issued`, at the top as the receive page lists it and in
/// `status.processStatus` as the spec models it after orders) and
/// `meta.lastUpdatedAt` set to `now`. A line's `meta.lastUpdatedAt` is `now`
/// when the line is new or changed; a line equal (apart from its meta) to
/// the stored line of the same `despatchAdviceLinePosition` keeps the
/// stored meta, so that "a line has been added or changed if the
/// `lines.meta.lastUpdatedAt` equals the `shipment.meta.lastUpdatedAt`"
/// (shipment/buyer/receive/README.md) holds. `None`: an update that changes
/// nothing of the stored shipment (nothing is stamped). A line's item is
/// enriched from the order line it names ([`enriched_item`]), which
/// `ordered(purchaseOrderNumber, purchaseOrderLinePosition)` finds, if the
/// order is there. The sent shipment's members take the
/// names of shipment/buyer/receive/README.md: `trackingNumber` →
/// `identifiers.trackingNumber`, `destination` and `finalDestination` →
/// `locations.destinations` (after any sent `destinations`; "place, port,
/// or final destination"), `scheduled*` → `eta*`, the departure's
/// `actualDate` → `atdDate`; `shipmentCompanyName` has no member there and
/// is kept as `supplierShipment.shipmentCompanyName`.
pub(crate) fn despatch_advice(
    existing: Option<Shipment>,
    message: &connector::SendDespatchAdviceBySupplier,
    parties: Parties<'_>,
    now: &DateTime,
    ordered: impl Fn(&str, &str) -> Option<crate::api::common::types::Item>,
) -> Option<Shipment> {
    let header = &message.header;
    let sent = header.shipment.as_ref();
    let id = existing
        .as_ref()
        .and_then(|s| s.id.clone())
        .unwrap_or_else(new_id);
    let mut supplier_shipment = SupplierShipment {
        buyer_account_number: Some(header.buyer_account_number.clone()),
        company_id: Some(parties.supplier.company_id.clone()),
        shipment_number: sent.and_then(|s| s.shipment_number.clone()),
        ..SupplierShipment::default()
    };
    // The receive pages have no member for the carrier's name: it is kept
    // under the despatch advice's name in the supplier's header.
    if let Some(name) = sent.and_then(|s| s.shipment_company_name.clone()) {
        supplier_shipment
            .extra
            .insert("shipmentCompanyName".into(), name.into());
    }
    let mut identifiers = sent.and_then(|s| s.identifiers.clone());
    if let Some(tracking) = sent.and_then(|s| s.tracking_number.clone()) {
        let identifiers = identifiers.get_or_insert_with(Default::default);
        if identifiers.tracking_number.is_none() {
            identifiers.tracking_number = Some(tracking);
        }
    }
    let locations = sent.map(|s| {
        let mut locations = serde_json::Map::new();
        if let Some(departure) = &s.departure {
            let mut departure = serde_json::to_value(departure).unwrap_or_default();
            rename_absent(&mut departure, &[("actualDate", "atdDate")]);
            locations.insert("departure".into(), departure);
        }
        // The next destination, then the final one: the receive page's
        // destinations are "place, port, or final destination".
        let destinations: Vec<_> = s
            .destinations
            .iter()
            .flatten()
            .chain(s.destination.iter())
            .chain(s.final_destination.iter())
            .filter_map(|d| serde_json::to_value(d).ok())
            .map(|mut d| {
                rename_absent(
                    &mut d,
                    &[
                        ("scheduledStartDate", "etaStartDate"),
                        ("scheduledStartTime", "etaStartTime"),
                        ("scheduledEndDate", "etaEndDate"),
                        ("scheduledEndTime", "etaEndTime"),
                    ],
                );
                d
            })
            .collect();
        if !destinations.is_empty() {
            locations.insert(
                "destinations".into(),
                serde_json::Value::Array(destinations),
            );
        }
        serde_json::from_value(serde_json::Value::Object(locations)).unwrap_or_default()
    });
    let stored_lines = existing.as_ref().map(|s| s.lines.as_slice());
    let lines = message
        .lines
        .iter()
        .flatten()
        .map(|line| ShipmentLine {
            delivery_schedule_position: line.delivery_schedule_position.clone(),
            item: enriched_item(
                line.item.as_ref(),
                line.purchase_order_number
                    .as_deref()
                    .zip(line.purchase_order_line_position.as_deref())
                    .and_then(|(number, position)| ordered(number, position))
                    .as_ref(),
            ),
            meta: None,
            purchase_order_line_position: line.purchase_order_line_position.clone(),
            purchase_order_number: line.purchase_order_number.clone(),
            supplier_line: Some(crate::api::common::types::SupplierShipmentLine {
                backorder_date: line.backorder_date.clone(),
                backorder_quantity: line.backorder_quantity.clone(),
                despatch_advice_line_position: Some(line.despatch_advice_line_position.clone()),
                despatch_advice_number: Some(header.despatch_advice_number.clone()),
                despatch_quantity: line.despatch_quantity.clone(),
                extra: Default::default(),
            }),
            extra: Default::default(),
        })
        .map(|mut line| {
            // The stored line of the same position, when nothing of it
            // changed, keeps its meta (and so its lastUpdatedAt).
            let unchanged = stored_lines
                .into_iter()
                .flatten()
                .find(|stored| despatch_line_position(stored) == despatch_line_position(&line))
                .filter(|stored| {
                    ShipmentLine {
                        meta: None,
                        ..(*stored).clone()
                    } == line
                });
            line.meta = match unchanged {
                Some(stored) => stored.meta.clone(),
                None => Some(ShipmentLineMeta {
                    last_changed_at: Some(now.clone()),
                    last_updated_at: Some(now.clone()),
                    extra: Default::default(),
                }),
            };
            line
        })
        .collect();
    let shipment = Shipment {
        id: Some(id),
        buyer_shipment: Some(BuyerShipment {
            company_id: Some(parties.buyer.company_id.clone()),
            supplier_account_number: Some(parties.buyer.partner_account_number.clone()),
            ..BuyerShipment::default()
        }),
        supplier_shipment: Some(supplier_shipment),
        identifiers,
        transport_mode: sent.and_then(|s| s.transport_mode.clone()),
        locations,
        lines,
        meta: Some(ShipmentMeta {
            despatch_advice_erp_issue_date_time: message.erp_issue_date_time.clone(),
            last_changed_at: Some(now.clone()),
            last_updated_at: Some(now.clone()),
            ..ShipmentMeta::default()
        }),
        process_status: Some(ShipmentProcessStatus::Issued),
        status: Some(ShipmentStatus {
            process_status: Some(ShipmentProcessStatus::Issued),
            ..ShipmentStatus::default()
        }),
        ..Shipment::default()
    };
    let Some(existing) = existing else {
        return Some(shipment);
    };
    // What the portal added stays: the documents both companies attached
    // (a despatch advice carries none), and, when nothing else changed,
    // the buyer's approval or rejection.
    let mut shipment = shipment;
    if let (Some(new), Some(old)) = (
        shipment.buyer_shipment.as_mut(),
        existing.buyer_shipment.as_ref(),
    ) {
        new.documents.clone_from(&old.documents);
    }
    if let (Some(new), Some(old)) = (
        shipment.supplier_shipment.as_mut(),
        existing.supplier_shipment.as_ref(),
    ) {
        new.documents.clone_from(&old.documents);
    }
    let unchanged = Shipment {
        process_status: existing.process_status.clone(),
        process_status_reason: existing.process_status_reason.clone(),
        status: existing.status.clone(),
        ..shipment.clone()
    };
    // A changed advice is a reissue: an `Approved` or `Rejected` shipment
    // is `Issued` again, for the buyer to answer anew.
    (!same_but_stamps(&unchanged, &existing)).then_some(shipment)
}

/// `shipment` with the shipment header a despatch advice sent, `sent`
/// (the shipment [`despatch_advice`] made of that advice): the members
/// that advice's `header.shipment` gives (`supplierShipment` but its
/// documents, `identifiers`, `transportMode`, `locations`, the advice's
/// `erpIssueDateTime`). Documents attached in the portal, the lines and
/// the status stay.
pub(crate) fn take_advice_header(shipment: &mut Shipment, sent: &Shipment) {
    let documents = shipment
        .supplier_shipment
        .as_ref()
        .map(|s| s.documents.clone())
        .unwrap_or_default();
    shipment.supplier_shipment = sent.supplier_shipment.clone().map(|mut s| {
        s.documents = documents;
        s
    });
    shipment.identifiers.clone_from(&sent.identifiers);
    shipment.transport_mode.clone_from(&sent.transport_mode);
    shipment.locations.clone_from(&sent.locations);
    let sent_time = sent
        .meta
        .as_ref()
        .and_then(|m| m.despatch_advice_erp_issue_date_time.clone());
    shipment
        .meta
        .get_or_insert_with(ShipmentMeta::default)
        .despatch_advice_erp_issue_date_time = sent_time;
}

/// Whether `new` is `stored` apart from the shipment's own
/// `meta.lastUpdatedAt` (and its older name `lastChangedAt`).
fn same_but_stamps(new: &Shipment, stored: &Shipment) -> bool {
    let unstamped = |shipment: &Shipment| {
        let mut shipment = shipment.clone();
        if let Some(meta) = shipment.meta.as_mut() {
            meta.last_updated_at = None;
            meta.last_changed_at = None;
        }
        shipment
    };
    unstamped(new) == unstamped(stored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::order::types::ApproveRequestsAsBuyer;

    fn parties() -> (MockCompany, MockCompany) {
        (
            MockCompany::default_buyer(),
            MockCompany::default_supplier(),
        )
    }

    fn at(second: u32) -> DateTime {
        DateTime::try_from(format!("2026-01-01T00:00:{second:02}.000Z").as_str())
            .unwrap_or_else(|e| panic!("a date-time: {e}"))
    }

    fn from_json<T: DeserializeOwned>(value: serde_json::Value) -> T {
        serde_json::from_value(value).unwrap_or_else(|e| panic!("decodes: {e}"))
    }

    /// An order of two lines: 0001 (10 on 2026-03-01 at 5 EUR), 0002 (4 on
    /// 2026-03-08 at 7 EUR).
    fn order_message() -> connector::SendOrderByBuyer {
        from_json(serde_json::json!({
            "order": {"supplierAccountNumber": "SUPPLIER12345", "purchaseOrderNumber": "PO-1"},
            "lines": [
                {"position": "0001", "item": {"number": "A"},
                 "deliverySchedule": [{"position": "1", "date": "2026-03-01", "quantity": 10}],
                 "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 5, "currencyIso": "EUR"}},
                            "priceUnitQuantity": 1}},
                {"position": "0002", "item": {"number": "B"},
                 "deliverySchedule": [{"position": "1", "date": "2026-03-08", "quantity": 4}],
                 "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 7, "currencyIso": "EUR"}},
                            "priceUnitQuantity": 1}}
            ]
        }))
    }

    fn issued() -> Order {
        issue_new(&order_message())
    }

    /// The demo order issued with `proposeWhenAccepted` on its line 0001.
    fn issued_propose_when_accepted() -> Order {
        let mut json = serde_json::to_value(order_message()).expect("a message");
        json["lines"][0]["indicators"] = serde_json::json!({"proposeWhenAccepted": true});
        let message: connector::SendOrderByBuyer = from_json(json);
        issue_new(&message)
    }

    /// `proposed` holds an open supplier proposal of the buyer's requested
    /// delivery schedule (propose-when-accepted.md).
    fn assert_open_proposal_of_requested_values(proposed: &OrderLine) {
        let proposal = proposed
            .supplier_line
            .as_ref()
            .and_then(|s| s.requests.as_ref())
            .and_then(|r| r.proposal.as_ref())
            .expect("an open proposal");
        assert_eq!(proposal.status, Some(RequestStatus::Open));
        assert_eq!(
            proposal.delivery_schedule,
            proposed
                .buyer_line
                .as_ref()
                .expect("buyerLine")
                .delivery_schedule
        );
    }

    /// A new order of `message`, issued by the buyer at `at(1)`.
    fn issue_new(message: &connector::SendOrderByBuyer) -> Order {
        let (buyer, supplier) = parties();
        issue_order(
            None,
            message,
            Parties {
                buyer: &buyer,
                supplier: &supplier,
            },
            &at(1),
        )
    }

    fn response(lines: serde_json::Value) -> connector::SendOrderResponseBySupplier {
        from_json(serde_json::json!({
            "order": {"buyerAccountNumber": "340760", "purchaseOrderNumber": "PO-1"},
            "lines": lines
        }))
    }

    fn status(order: &Order, position: &str) -> (LineProcessStatus, Option<LineInProgressStatus>) {
        let line = order
            .lines
            .iter()
            .find(|l| line_position(l) == Some(position))
            .unwrap_or_else(|| panic!("line {position}"));
        let status = line.status.clone().unwrap_or_default();
        (
            status
                .process_status
                .unwrap_or(LineProcessStatus::Unknown("none".into())),
            status.in_progress_status,
        )
    }

    fn line<'o>(order: &'o Order, position: &str) -> &'o OrderLine {
        order
            .lines
            .iter()
            .find(|l| line_position(l) == Some(position))
            .unwrap_or_else(|| panic!("line {position}"))
    }

    fn order_process(order: &Order) -> Option<OrderProcessStatus> {
        order.status.as_ref()?.process_status.clone()
    }

    #[test]
    fn a_new_order_is_issued_and_open_and_owned_by_both_companies() {
        let order = issued();
        let (buyer, supplier) = parties();
        assert!(order.id.is_some());
        assert!(is_buyer_order(&order, &buyer, "PO-1"));
        assert!(is_supplier_order(&order, &supplier, "340760", "PO-1"));
        assert!(!is_supplier_order(&order, &supplier, "OTHER", "PO-1"));
        assert_eq!(status(&order, "0001"), (LineProcessStatus::Issued, None));
        assert_eq!(order_process(&order), Some(OrderProcessStatus::Issued));
        let status = order.status.clone().unwrap_or_default();
        assert_eq!(status.logistics_status, Some(OrderLogisticsStatus::Open));
        let first = line(&order, "0001");
        assert_eq!(first.delivery_schedule.len(), 1);
        assert_eq!(
            first.delivery_schedule,
            first.delivery_schedule_including_requests
        );
        assert_eq!(first.prices, first.prices_including_requests);
        assert_eq!(first.last_updated_at, Some(at(1)));
        assert_eq!(order.last_updated_at, Some(at(1)));
        assert_eq!(order.last_changed_at, Some(at(1)));
        assert_eq!(order.version, Some(1));
    }

    #[test]
    fn an_accepted_line_the_buyer_marked_propose_when_accepted_becomes_a_proposal() {
        let mut order = issued_propose_when_accepted();
        assert!(respond(
            &mut order,
            &response(serde_json::json!([
                {"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}},
                {"purchaseOrderLinePosition": "0002", "indicators": {"accepted": true}}
            ])),
            &at(2),
        ));
        assert_eq!(
            status(&order, "0001"),
            (
                LineProcessStatus::InProgress,
                Some(LineInProgressStatus::OpenSupplierProposal)
            )
        );
        assert_eq!(status(&order, "0002"), (LineProcessStatus::Confirmed, None));
        // The proposal holds the requested values, for the buyer to approve.
        let proposed = line(&order, "0001");
        assert_open_proposal_of_requested_values(proposed);
    }

    /// propose-when-accepted.md: the supplier "accepts (confirms with
    /// requested values)" a line by responding the requested values too,
    /// and such a line of the buyer's `proposeWhenAccepted` becomes a
    /// proposal as one sent `accepted` does.
    #[test]
    fn requested_values_responded_to_a_propose_when_accepted_line_are_a_proposal() {
        let mut order = issued_propose_when_accepted();
        assert!(respond(
            &mut order,
            &response(serde_json::json!([
                {"purchaseOrderLinePosition": "0001",
                 "deliverySchedule": [{"position": "1", "date": "2026-03-01", "quantity": 10}],
                 "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 5, "currencyIso": "EUR"}}}},
                {"purchaseOrderLinePosition": "0002",
                 "deliverySchedule": [{"position": "1", "date": "2026-03-08", "quantity": 4}]}
            ])),
            &at(2),
        ));
        assert_eq!(
            status(&order, "0001"),
            (
                LineProcessStatus::InProgress,
                Some(LineInProgressStatus::OpenSupplierProposal)
            )
        );
        let proposed = line(&order, "0001");
        assert!(proposed.confirmed_line.is_none(), "not confirmed yet");
        assert_open_proposal_of_requested_values(proposed);
        // Without the indicator the same answer confirms.
        assert_eq!(status(&order, "0002"), (LineProcessStatus::Confirmed, None));
    }

    #[test]
    fn matching_values_confirm_and_different_values_propose() {
        let mut order = issued();
        let changed = respond(
            &mut order,
            &response(serde_json::json!([
                {"purchaseOrderLinePosition": "0001",
                 "deliverySchedule": [{"position": "1", "date": "2026-03-01", "quantity": 10.0}],
                 "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 5.00, "currencyIso": "EUR"}}}},
                {"purchaseOrderLinePosition": "0002", "reason": "later",
                 "deliverySchedule": [{"position": "1", "date": "2026-03-15", "quantity": 4}]},
                {"purchaseOrderLinePosition": "0099", "indicators": {"accepted": true}}
            ])),
            &at(2),
        );
        assert!(changed);
        assert_eq!(status(&order, "0001"), (LineProcessStatus::Confirmed, None));
        assert_eq!(
            status(&order, "0002"),
            (
                LineProcessStatus::InProgress,
                Some(LineInProgressStatus::OpenSupplierProposal)
            )
        );
        assert_eq!(order_process(&order), Some(OrderProcessStatus::InProgress));
        let proposed = line(&order, "0002");
        // The current schedule is still the requested one; including
        // requests shows the proposal.
        assert_eq!(
            proposed.delivery_schedule[0]
                .date
                .as_ref()
                .map(|d| d.to_string())
                .as_deref(),
            Some("2026-03-08")
        );
        assert_eq!(
            proposed.delivery_schedule_including_requests[0]
                .date
                .as_ref()
                .map(|d| d.to_string())
                .as_deref(),
            Some("2026-03-15")
        );
        let proposal = proposed
            .supplier_line
            .as_ref()
            .and_then(|s| s.requests.as_ref())
            .and_then(|r| r.proposal.as_ref())
            .cloned()
            .unwrap_or_default();
        assert_eq!(proposal.status, Some(RequestStatus::Open));
        assert_eq!(proposal.reason.as_deref(), Some("later"));
        assert_eq!(proposed.last_updated_at, Some(at(2)));
        assert_eq!(order.last_updated_at, Some(at(2)));

        // The buyer approves: confirmed with the proposed values.
        let approval = ApproveRequestsAsBuyer {
            line_positions: vec!["0002".into()],
            ..Default::default()
        };
        assert_eq!(
            approve_requests(&mut order, &approval.line_positions, &at(3)),
            Ok(())
        );
        assert_eq!(status(&order, "0002"), (LineProcessStatus::Confirmed, None));
        assert_eq!(order_process(&order), Some(OrderProcessStatus::Confirmed));
        let approved = line(&order, "0002");
        assert_eq!(
            approved.delivery_schedule[0]
                .date
                .as_ref()
                .map(|d| d.to_string())
                .as_deref(),
            Some("2026-03-15")
        );
        assert_eq!(
            approved.delivery_schedule,
            approved.delivery_schedule_including_requests
        );
        // The proposal left out prices: the confirmed prices are none of it.
        let request = approved
            .supplier_line
            .as_ref()
            .and_then(|s| s.requests.as_ref())
            .and_then(|r| r.proposal.as_ref())
            .and_then(|p| p.status.clone());
        assert_eq!(request, Some(RequestStatus::Approved));
        // Nothing more to approve: refused, and nothing changes.
        let before = order.clone();
        assert_eq!(
            approve_requests(&mut order, &approval.line_positions, &at(4)),
            Err(RequestsRefused::NothingOpen(vec!["0002".into()]))
        );
        assert_eq!(order, before);
    }

    #[test]
    fn indicators_accept_and_reject_with_line_over_header() {
        let mut order = issued();
        let mut message = response(serde_json::json!([
            {"purchaseOrderLinePosition": "0001"},
            {"purchaseOrderLinePosition": "0002", "indicators": {"rejected": true}}
        ]));
        message.order.indicators = Some(crate::api::common::types::SupplierOrderIndicators {
            accepted: Some(true),
            ..Default::default()
        });
        assert!(respond(&mut order, &message, &at(2)));
        assert_eq!(status(&order, "0001"), (LineProcessStatus::Confirmed, None));
        assert_eq!(status(&order, "0002"), (LineProcessStatus::Rejected, None));
        // Confirmed and rejected lines: neither "completely agreed" nor
        // "completely rejected" (order/status.md), so in progress.
        assert_eq!(order_process(&order), Some(OrderProcessStatus::InProgress));
        // The confirmed line holds the requested values.
        let confirmed_line = line(&order, "0001");
        assert_eq!(
            confirmed_line
                .confirmed_line
                .as_ref()
                .map(|c| c.delivery_schedule.clone()),
            confirmed_line
                .buyer_line
                .as_ref()
                .map(|b| b.delivery_schedule.clone())
        );
    }

    #[test]
    fn a_confirmed_line_reopens_on_other_values_and_reverts_on_the_confirmed_ones() {
        let mut order = issued();
        let accept = response(serde_json::json!([
            {"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}}
        ]));
        assert!(respond(&mut order, &accept, &at(2)));
        let other = response(serde_json::json!([
            {"purchaseOrderLinePosition": "0001",
             "deliverySchedule": [{"date": "2026-04-01", "quantity": 10}]}
        ]));
        assert!(respond(&mut order, &other, &at(3)));
        assert_eq!(
            status(&order, "0001"),
            (
                LineProcessStatus::InProgress,
                Some(LineInProgressStatus::OpenSupplierReopenRequest)
            )
        );
        // The same values as confirmed: the reopen request is reverted.
        let same = response(serde_json::json!([
            {"purchaseOrderLinePosition": "0001",
             "deliverySchedule": [{"date": "2026-03-01", "quantity": 10}]}
        ]));
        assert!(respond(&mut order, &same, &at(4)));
        assert_eq!(status(&order, "0001"), (LineProcessStatus::Confirmed, None));
    }

    #[test]
    fn a_rejected_proposal_keeps_the_line_in_progress() {
        let mut order = issued();
        let propose = response(serde_json::json!([
            {"purchaseOrderLinePosition": "0001",
             "deliverySchedule": [{"date": "2026-04-01", "quantity": 10}]}
        ]));
        assert!(respond(&mut order, &propose, &at(2)));
        assert_eq!(
            reject_requests(&mut order, &["0001".into()], "too late", &at(3)),
            Ok(())
        );
        assert_eq!(
            status(&order, "0001"),
            (
                LineProcessStatus::InProgress,
                Some(LineInProgressStatus::RejectedSupplierProposal)
            )
        );
    }

    #[test]
    fn updates_follow_the_update_rules() {
        let (buyer, supplier) = parties();
        let parties = Parties {
            buyer: &buyer,
            supplier: &supplier,
        };
        let mut order = issued();
        let answer = response(serde_json::json!([
            {"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}},
            {"purchaseOrderLinePosition": "0002", "indicators": {"rejected": true}}
        ]));
        assert!(respond(&mut order, &answer, &at(2)));
        // The buyer sends line 0001 with another date and reissues 0002.
        let mut update = order_message();
        if let Some(lines) = update.lines.as_mut() {
            lines[0].delivery_schedule = Some(vec![from_json(
                serde_json::json!({"position": "1", "date": "2026-05-01", "quantity": 10}),
            )]);
        }
        let order = issue_order(Some(order), &update, parties, &at(3));
        assert_eq!(
            status(&order, "0001"),
            (
                LineProcessStatus::InProgress,
                Some(LineInProgressStatus::OpenBuyerReopenRequest)
            )
        );
        assert_eq!(
            status(&order, "0002"),
            (
                LineProcessStatus::InProgress,
                Some(LineInProgressStatus::ReissuedRejectedLine)
            )
        );
        assert_eq!(order.version, Some(3));
        // Back to the confirmed values: the reopen request is reverted.
        let order = issue_order(Some(order), &order_message(), parties, &at(4));
        assert_eq!(status(&order, "0001"), (LineProcessStatus::Confirmed, None));
    }

    #[test]
    fn cancel_and_complete_by_indicators_and_final_lines_stay() {
        let mut order = issued();
        let message: connector::SendOrderIndicatorsByBuyer = from_json(serde_json::json!({
            "order": {"purchaseOrderNumber": "PO-1", "indicators": {"completed": true}},
            "lines": [{"position": "0002", "indicators": {"cancelled": true, "completed": false}}]
        }));
        assert!(apply_indicators(&mut order, &message, &at(2)));
        assert_eq!(status(&order, "0001"), (LineProcessStatus::Completed, None));
        assert_eq!(status(&order, "0002"), (LineProcessStatus::Cancelled, None));
        assert_eq!(order_process(&order), Some(OrderProcessStatus::Completed));
        // Completed or cancelled: an order response changes nothing.
        let accept = response(serde_json::json!([
            {"purchaseOrderLinePosition": "0001", "indicators": {"rejected": true}}
        ]));
        respond(&mut order, &accept, &at(3));
        assert_eq!(status(&order, "0001"), (LineProcessStatus::Completed, None));
        // And indicators again change nothing.
        assert!(!apply_indicators(&mut order, &message, &at(4)));
    }

    #[test]
    fn reverting_undoes_only_the_status_it_names() {
        let mut order = issued();
        let message: connector::SendOrderIndicatorsByBuyer = from_json(serde_json::json!({
            "order": {"purchaseOrderNumber": "PO-1"},
            "lines": [{"position": "0001", "indicators": {"completed": true}},
                      {"position": "0002", "indicators": {"cancelled": true}}]
        }));
        assert!(apply_indicators(&mut order, &message, &at(2)));
        let both = ["0001".to_string(), "0002".to_string()];
        assert!(revert_lines(&mut order, &both, Finished::Cancelled, &at(3)));
        assert_eq!(
            status(&order, "0002"),
            (
                LineProcessStatus::InProgress,
                Some(LineInProgressStatus::RevertedCancelledLine)
            )
        );
        assert_eq!(
            line(&order, "0002")
                .status
                .as_ref()
                .and_then(|s| s.logistics_status.clone()),
            Some(LineLogisticsStatus::Open)
        );
        assert_eq!(status(&order, "0001"), (LineProcessStatus::Completed, None));
        assert_eq!(order.last_updated_at, Some(at(3)));
        // Nothing cancelled any more: no change, no stamp.
        assert!(!revert_lines(
            &mut order,
            &both,
            Finished::Cancelled,
            &at(4)
        ));
        assert_eq!(order.last_updated_at, Some(at(3)));
        assert!(revert_lines(&mut order, &both, Finished::Completed, &at(5)));
        assert_eq!(
            status(&order, "0001"),
            (
                LineProcessStatus::InProgress,
                Some(LineInProgressStatus::RevertedCompletedLine)
            )
        );
        assert_eq!(order_process(&order), Some(OrderProcessStatus::InProgress));
    }

    #[test]
    fn delivery_logistics_set_what_is_sent_on_open_lines_only() {
        let mut order = issued();
        let update = |value: serde_json::Value| -> crate::api::order::types::UpdateOrderLineDeliverySchedule {
            from_json(serde_json::json!({ "deliverySchedule": value }))
        };
        let delivery = |order: &Order| line(order, "0001").delivery_schedule[0].clone();
        assert!(update_delivery_logistics(
            &mut order,
            "0001",
            &update(
                serde_json::json!([{"position": "1", "status": "Produced", "etd": "2026-02-20"}])
            ),
            &at(2)
        ));
        assert_eq!(
            delivery(&order).etd,
            Some("2026-02-20".parse().unwrap_or_else(|e| panic!("{e:?}")))
        );
        // Left out stays; the same values again change nothing.
        assert!(update_delivery_logistics(
            &mut order,
            "0001",
            &update(serde_json::json!([{"position": "1", "eta": "2026-02-27"}])),
            &at(3)
        ));
        let now = delivery(&order);
        assert_eq!(
            now.status.map(|s| s.to_string()),
            Some("Produced".to_string())
        );
        assert!(now.etd.is_some() && now.eta.is_some());
        assert!(!update_delivery_logistics(
            &mut order,
            "0001",
            &update(serde_json::json!([{"position": "1", "eta": "2026-02-27"}])),
            &at(4)
        ));
        // An unknown delivery line or order line, a cancelled line: nothing.
        let produced = update(serde_json::json!([{"position": "9", "status": "Shipped"}]));
        assert!(!update_delivery_logistics(
            &mut order,
            "0001",
            &produced,
            &at(5)
        ));
        assert!(!update_delivery_logistics(
            &mut order,
            "0009",
            &produced,
            &at(5)
        ));
        let cancel: connector::SendOrderIndicatorsByBuyer = from_json(serde_json::json!({
            "order": {"purchaseOrderNumber": "PO-1"},
            "lines": [{"position": "0002", "indicators": {"cancelled": true}}]
        }));
        assert!(apply_indicators(&mut order, &cancel, &at(6)));
        let shipped = update(serde_json::json!([{"position": "1", "status": "Shipped"}]));
        assert!(!update_delivery_logistics(
            &mut order,
            "0002",
            &shipped,
            &at(7)
        ));
        assert_eq!(order.last_updated_at, Some(at(6)));
    }

    #[test]
    fn the_single_delivery_view_has_a_line_per_delivery_line() {
        let mut message = order_message();
        if let Some(lines) = message.lines.as_mut() {
            lines[0].delivery_schedule = Some(vec![
                from_json(
                    serde_json::json!({"position": "1", "date": "2026-03-01", "quantity": 10}),
                ),
                from_json(
                    serde_json::json!({"position": "2", "date": "2026-03-09", "quantity": 2.5}),
                ),
            ]);
        }
        let order = issue_new(&message);
        let view = single_delivery_view(&order);
        assert_eq!(view.id, order.id);
        let seen: Vec<_> = view
            .lines
            .iter()
            .map(|line| {
                let buyer = line.buyer_line.clone().unwrap_or_default();
                let delivery = line
                    .status_line
                    .as_ref()
                    .and_then(|s| s.scheduled_delivery.clone())
                    .unwrap_or_default();
                (
                    buyer.position,
                    buyer.original_position,
                    delivery.date.map(|d| d.to_string()),
                    delivery.quantity.map(|q| q.to_string()),
                )
            })
            .collect();
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            seen,
            [
                (some("0001"), None, some("2026-03-01"), some("10")),
                (some("2"), some("0001"), some("2026-03-09"), some("2.5")),
                (some("0002"), None, some("2026-03-08"), some("4")),
            ]
        );
    }

    #[test]
    fn a_single_delivery_update_merges_into_the_stored_schedule() {
        let (buyer, supplier) = parties();
        let parties = Parties {
            buyer: &buyer,
            supplier: &supplier,
        };
        let sent = |lines: serde_json::Value| -> connector::SendSingleDeliveryOrderByBuyer {
            from_json(serde_json::json!({
                "order": {"supplierAccountNumber": "SUPPLIER12345", "purchaseOrderNumber": "PO-3"},
                "lines": lines
            }))
        };
        let first = sent(serde_json::json!([
            {"position": "0001", "scheduledDelivery": {"date": "2026-03-01", "quantity": 10}},
            {"position": "0002", "originalPosition": "0001",
             "scheduledDelivery": {"date": "2026-04-01", "quantity": 5}}
        ]));
        let order = issue_order(
            None,
            &single_delivery_message(&first, None).0,
            parties,
            &at(1),
        );
        let update = sent(serde_json::json!([
            {"position": "0002", "originalPosition": "0001",
             "scheduledDelivery": {"date": "2026-04-01", "quantity": 6},
             "actualDelivery": {"date": "2026-04-02", "quantity": 6}}
        ]));
        let merged = single_delivery_message(&update, Some(&order)).0;
        let line = &merged.lines.unwrap_or_default()[0];
        let schedule: Vec<_> = line
            .delivery_schedule
            .iter()
            .flatten()
            .map(|d| {
                (
                    d.position.clone(),
                    d.quantity.as_ref().map(|q| q.to_string()),
                )
            })
            .collect();
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            schedule,
            [(some("0001"), some("10")), (some("0002"), some("6"))]
        );
        let history = line.delivery_history.clone().unwrap_or_default();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].position.as_deref(), Some("0002"));

        let cancel = sent(serde_json::json!([
            {"position": "0002", "originalPosition": "0001", "indicators": {"cancelled": true}}
        ]));
        let merged = single_delivery_message(&cancel, Some(&order)).0;
        let line = &merged.lines.unwrap_or_default()[0];
        assert_eq!(line.delivery_schedule.as_ref().map(Vec::len), Some(1));
        assert!(line.indicators.is_none());
    }

    /// A single-delivery order PO-4 sent as `lines` on `existing`, issued
    /// with its delivery line indicators played, as the mock's write does.
    fn single_delivery(existing: Option<Order>, lines: serde_json::Value, second: u32) -> Order {
        let (buyer, supplier) = parties();
        let message: connector::SendSingleDeliveryOrderByBuyer = from_json(serde_json::json!({
            "order": {"supplierAccountNumber": "SUPPLIER12345", "purchaseOrderNumber": "PO-4"},
            "lines": lines
        }));
        let (message, delivery_lines) = single_delivery_message(&message, existing.as_ref());
        let parties = Parties {
            buyer: &buyer,
            supplier: &supplier,
        };
        let mut order = issue_order(existing, &message, parties, &at(second));
        indicate_delivery_lines(&mut order, &delivery_lines, &at(second));
        order
    }

    /// Order line 0001 of a single-delivery order, split into delivery
    /// lines 0001 and 0002 (`originalPosition` 0001), each with `indicators`.
    fn split(primary: serde_json::Value, split: serde_json::Value) -> serde_json::Value {
        serde_json::json!([
            {"position": "0001", "indicators": primary,
             "scheduledDelivery": {"date": "2026-03-01", "quantity": 6}},
            {"position": "0002", "originalPosition": "0001", "indicators": split,
             "scheduledDelivery": {"date": "2026-03-20", "quantity": 4}}
        ])
    }

    fn logistics(order: &Order, position: &str) -> Option<LineLogisticsStatus> {
        line(order, position)
            .status
            .as_ref()?
            .logistics_status
            .clone()
    }

    // order/buyer/issue/indicators.md#L118, #L122: `confirmed` and
    // `completed` act "when all primary and related split lines" are.
    #[test]
    fn single_delivery_confirmed_and_completed_need_every_split_line() {
        let yes = serde_json::json!({"completed": true});
        let none = serde_json::json!({});
        let order = single_delivery(None, split(yes.clone(), none.clone()), 1);
        assert_eq!(status(&order, "0001").0, LineProcessStatus::Issued);
        let order = single_delivery(None, split(none.clone(), yes.clone()), 1);
        assert_eq!(status(&order, "0001").0, LineProcessStatus::Issued);
        let order = single_delivery(None, split(yes.clone(), yes.clone()), 1);
        assert_eq!(status(&order, "0001").0, LineProcessStatus::Completed);

        let confirm = serde_json::json!({"confirmed": true});
        let order = single_delivery(None, split(confirm.clone(), none.clone()), 1);
        assert_eq!(status(&order, "0001").0, LineProcessStatus::Issued);
        let order = single_delivery(None, split(confirm.clone(), confirm.clone()), 1);
        assert_eq!(status(&order, "0001").0, LineProcessStatus::Confirmed);
        // A stored split line not sent again is not confirmed.
        let issued = single_delivery(None, split(none.clone(), none.clone()), 1);
        let primary_only =
            serde_json::json!([{"position": "0001", "indicators": {"confirmed": true}}]);
        let order = single_delivery(Some(issued), primary_only, 2);
        assert_eq!(status(&order, "0001").0, LineProcessStatus::Issued);
        // The order's indicator counts for every line sent.
        let message: connector::SendSingleDeliveryOrderByBuyer = from_json(serde_json::json!({
            "order": {"supplierAccountNumber": "SUPPLIER12345", "purchaseOrderNumber": "PO-4",
                      "indicators": {"completed": true}},
            "lines": split(none.clone(), serde_json::json!({"completed": false}))
        }));
        let lines = single_delivery_message(&message, None)
            .0
            .lines
            .unwrap_or_default();
        let indicators = lines[0].indicators.clone().unwrap_or_default();
        assert_eq!(indicators.completed, Some(false));
    }

    // order/buyer/issue/indicators.md#L63: "Completing has precedence
    // over cancelling at the same time": a split line sent with both is
    // completed, not cancelled (removed from the schedule), on the line
    // as on the order.
    #[test]
    fn a_split_line_both_completed_and_cancelled_is_completed() {
        let both = serde_json::json!({"completed": true, "cancelled": true});
        let order = single_delivery(
            None,
            split(serde_json::json!({"completed": true}), both.clone()),
            1,
        );
        assert_eq!(status(&order, "0001").0, LineProcessStatus::Completed);
        let schedule: Vec<_> = order.lines[0]
            .buyer_line
            .as_ref()
            .map(|b| b.delivery_schedule.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|d| d.position)
            .collect();
        assert_eq!(schedule, [Some("0001".into()), Some("0002".into())]);
        // The order's indicators, both set: the same.
        let message: connector::SendSingleDeliveryOrderByBuyer = from_json(serde_json::json!({
            "order": {"supplierAccountNumber": "SUPPLIER12345", "purchaseOrderNumber": "PO-4",
                      "indicators": both},
            "lines": split(serde_json::json!({}), serde_json::json!({}))
        }));
        let lines = single_delivery_message(&message, None)
            .0
            .lines
            .unwrap_or_default();
        assert_eq!(lines[0].delivery_schedule.as_ref().map(Vec::len), Some(2));
        let indicators = lines[0].indicators.clone().unwrap_or_default();
        assert_eq!(
            (indicators.completed, indicators.cancelled),
            (Some(true), None)
        );
    }

    // order/buyer/issue/indicators.md: line indicators overrule the
    // order's, each on its own (as on the normal path): a split line that
    // sends only `completed: false` still takes the order's `cancelled`
    // (it leaves the schedule), and a split line's `cancelled` yields to
    // the order's `completed` ("Completing has precedence over cancelling
    // at the same time").
    #[test]
    fn single_delivery_cancelled_and_completed_are_each_the_line_s_else_the_order_s() {
        let schedule = |order: serde_json::Value, primary, split_line| {
            let message: connector::SendSingleDeliveryOrderByBuyer = from_json(serde_json::json!({
                "order": {"supplierAccountNumber": "SUPPLIER12345",
                          "purchaseOrderNumber": "PO-4", "indicators": order},
                "lines": split(primary, split_line)
            }));
            let lines = single_delivery_message(&message, None)
                .0
                .lines
                .unwrap_or_default();
            lines[0]
                .delivery_schedule
                .iter()
                .flatten()
                .map(|d| d.position.clone().unwrap_or_default())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            schedule(
                serde_json::json!({"cancelled": true}),
                serde_json::json!({"cancelled": false}),
                serde_json::json!({"completed": false}),
            ),
            ["0001"],
            "the order's cancelled, not overruled by the line's completed: false"
        );
        assert_eq!(
            schedule(
                serde_json::json!({"completed": true}),
                serde_json::json!({}),
                serde_json::json!({"cancelled": true}),
            ),
            ["0001", "0002"],
            "the order's completed wins over the line's cancelled"
        );
    }

    /// A reason of only whitespace is no reason (`is_blank`, the crate's
    /// one definition): the line keeps none, as for an empty one.
    #[test]
    fn a_blank_reason_is_not_given_to_the_line() {
        for blank in ["", " ", "\t\n", "\u{a0}\u{3000}"] {
            let mut line = OrderLine::default();
            give_reason(&mut line, Some(blank));
            assert_eq!(line.reason, None, "{blank:?}");
        }
        let mut line = OrderLine::default();
        give_reason(&mut line, Some("too late"));
        assert_eq!(line.reason.as_deref(), Some("too late"));
    }

    // indicators.md#L119, #L124: `requestReconfirmation` and
    // `proposeWhenAccepted` act "when set on the primary or any related
    // split line".
    #[test]
    fn single_delivery_reconfirmation_and_propose_follow_any_split_line() {
        let confirm = serde_json::json!({"confirmed": true});
        let confirmed = single_delivery(None, split(confirm.clone(), confirm), 1);
        assert_eq!(status(&confirmed, "0001").0, LineProcessStatus::Confirmed);
        let order = single_delivery(
            Some(confirmed),
            split(
                serde_json::json!({}),
                serde_json::json!({"requestReconfirmation": true}),
            ),
            2,
        );
        assert_eq!(
            status(&order, "0001"),
            (
                LineProcessStatus::InProgress,
                Some(LineInProgressStatus::OpenBuyerReconfirmationRequest)
            )
        );

        let order = single_delivery(
            None,
            split(
                serde_json::json!({}),
                serde_json::json!({"proposeWhenAccepted": true}),
            ),
            1,
        );
        assert!(propose_when_accepted(line(&order, "0001")));
        // A later message of the split line alone keeps it.
        let only_split = serde_json::json!([{"position": "0002", "originalPosition": "0001",
            "scheduledDelivery": {"date": "2026-03-21", "quantity": 4}}]);
        let order = single_delivery(Some(order), only_split, 2);
        assert!(propose_when_accepted(line(&order, "0001")));
    }

    // indicators.md#L120: "When the primary or any related split lines is
    // shipped; the corresponding delivery line will become shipped".
    #[test]
    fn single_delivery_shipped_marks_the_delivery_line() {
        let shipped = serde_json::json!({"shipped": true});
        let none = serde_json::json!({});
        let order = single_delivery(None, split(shipped.clone(), none.clone()), 1);
        let stages: Vec<_> = line(&order, "0001")
            .delivery_schedule
            .iter()
            .map(|d| d.status.clone())
            .collect();
        assert_eq!(stages, [Some(DeliveryLineLogisticsStatus::Shipped), None]);
        assert_eq!(logistics(&order, "0001"), Some(LineLogisticsStatus::Open));
        let order = single_delivery(Some(order), split(none, shipped), 2);
        assert_eq!(
            logistics(&order, "0001"),
            Some(LineLogisticsStatus::Shipped)
        );
    }

    #[test]
    fn a_despatch_advice_makes_a_shipment() {
        let (buyer, supplier) = parties();
        let message: connector::SendDespatchAdviceBySupplier = from_json(serde_json::json!({
            "header": {"buyerAccountNumber": "340760", "despatchAdviceNumber": "DA-1",
                       "shipment": {"shipmentNumber": "S-1", "transportMode": "3"}},
            "lines": [{"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO-1",
                       "purchaseOrderLinePosition": "0001", "despatchQuantity": 5}]
        }));
        let parties = Parties {
            buyer: &buyer,
            supplier: &supplier,
        };
        let no_order = |_: &str, _: &str| None;
        let shipment = despatch_advice(None, &message, parties, &at(5), no_order)
            .unwrap_or_else(|| panic!("a new shipment"));
        let meta = shipment.meta.clone().unwrap_or_default();
        assert_eq!(meta.last_updated_at, Some(at(5)));
        assert_eq!(shipment.lines.len(), 1);
        assert_eq!(
            shipment.lines[0]
                .meta
                .as_ref()
                .and_then(|m| m.last_updated_at.clone()),
            Some(at(5))
        );
        assert_eq!(shipment.process_status, Some(ShipmentProcessStatus::Issued));
        assert_eq!(
            shipment
                .status
                .as_ref()
                .and_then(|s| s.process_status.clone()),
            Some(ShipmentProcessStatus::Issued)
        );
        // The same advice again changes nothing: not stamped.
        let again = despatch_advice(Some(shipment.clone()), &message, parties, &at(6), no_order);
        assert_eq!(again, None);
        let mut changed = message.clone();
        if let Some(header) = changed.header.shipment.as_mut() {
            header.transport_mode = Some("1".into());
        }
        let again = despatch_advice(Some(shipment.clone()), &changed, parties, &at(6), no_order)
            .unwrap_or_else(|| panic!("a changed shipment"));
        assert_eq!(again.id, shipment.id);
        // Only the header changed: the line keeps its stamp.
        let stamps = |s: &Shipment| {
            (
                s.meta.as_ref().and_then(|m| m.last_updated_at.clone()),
                s.lines[0]
                    .meta
                    .as_ref()
                    .and_then(|m| m.last_updated_at.clone()),
            )
        };
        assert_eq!(stamps(&again), (Some(at(6)), Some(at(5))));
    }

    #[test]
    fn a_despatch_line_s_item_is_enriched_from_the_order_line() {
        use crate::api::common::types::{Item, ShipmentItem};
        let ordered = Item {
            number: Some("A".into()),
            revision: Some("2".into()),
            name: Some("Bolt".into()),
            supplier_item_number: Some("S-A".into()),
            purchase_unit_of_measure_iso: Some("PCE".into()),
            ..Item::default()
        };
        let sent = ShipmentItem {
            buyer_item_name: Some("Bolt M8".into()),
            supplier_item_name: Some("Bout".into()),
            buyer_item_number: Some(" ".into()),
            ..ShipmentItem::default()
        };
        let item = enriched_item(Some(&sent), Some(&ordered));
        assert_eq!(
            item,
            Some(ShipmentItem {
                buyer_item_number: Some("A".into()),
                buyer_item_revision: Some("2".into()),
                buyer_item_name: Some("Bolt M8".into()),
                supplier_item_number: Some("S-A".into()),
                supplier_item_name: Some("Bout".into()),
                purchase_unit_of_measure_iso: Some("PCE".into()),
                ..ShipmentItem::default()
            })
        );
        assert_eq!(enriched_item(None, None), None);
        assert_eq!(enriched_item(None, Some(&Item::default())), None);
        assert_eq!(
            enriched_item(Some(&sent), None).as_ref(),
            Some(&sent),
            "no order: as sent"
        );
    }

    /// The lines of a despatch advice for PO-1, as `ship_lines` reads them.
    fn despatch(lines: serde_json::Value) -> connector::SendDespatchAdviceBySupplier {
        from_json(serde_json::json!({
            "header": {"buyerAccountNumber": "340760", "despatchAdviceNumber": "DA-1"},
            "lines": lines
        }))
    }

    fn quantities(schedule: &[CurrentDeliveryScheduleLine]) -> Vec<String> {
        schedule
            .iter()
            .map(|d| {
                d.quantity
                    .as_ref()
                    .map(|q| q.to_string())
                    .unwrap_or_default()
            })
            .collect()
    }

    #[test]
    fn a_shipment_is_compared_with_confirmed_lines_only() {
        use LineProcessStatus as P;
        let ships_two = despatch(serde_json::json!([
            {"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO-1",
             "purchaseOrderLinePosition": "0001", "despatchQuantity": 2}
        ]));
        // An issued line (still to be agreed) does not hear of it.
        let mut order = issued();
        let before = order.clone();
        assert!(!ship_lines(
            &mut order,
            &Despatched::of_advice(&ships_two, "PO-1"),
            &at(2)
        ));
        assert_eq!(order, before);
        // Another purchase order's lines, an unknown line or delivery
        // position, a line without a quantity: nothing to compare.
        let mut order = issued();
        assert!(respond(
            &mut order,
            &response(serde_json::json!([
                {"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}},
                {"purchaseOrderLinePosition": "0002", "indicators": {"accepted": true}}
            ])),
            &at(2)
        ));
        assert!(Despatched::of_advice(&ships_two, "PO-2").is_empty());
        let nothing = despatch(serde_json::json!([
            {"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO-1",
             "purchaseOrderLinePosition": "0009", "despatchQuantity": 2},
            {"despatchAdviceLinePosition": "2", "purchaseOrderNumber": "PO-1",
             "purchaseOrderLinePosition": "0001", "deliverySchedulePosition": "7",
             "despatchQuantity": 2},
            {"despatchAdviceLinePosition": "3", "purchaseOrderNumber": "PO-1",
             "purchaseOrderLinePosition": "0002"}
        ]));
        let confirmed = order.clone();
        assert!(!ship_lines(
            &mut order,
            &Despatched::of_advice(&nothing, "PO-1"),
            &at(3)
        ));
        assert_eq!(order, confirmed);
        // 2 of 10, no position named: the first delivery line, a request.
        assert!(ship_lines(
            &mut order,
            &Despatched::of_advice(&ships_two, "PO-1"),
            &at(4)
        ));
        assert_eq!(
            status(&order, "0001"),
            (
                P::InProgress,
                Some(LineInProgressStatus::OpenSupplierShipmentRescheduleRequest)
            )
        );
        assert_eq!(
            quantities(&line(&order, "0001").delivery_schedule),
            vec!["10"]
        );
        assert_eq!(
            quantities(&line(&order, "0001").delivery_schedule_including_requests),
            vec!["2"]
        );
        assert_eq!(order_process(&order), Some(OrderProcessStatus::InProgress));
        // The request survives the buyer sending the order again (the
        // line's values refreshed), and approving requests with a position
        // the order does not have answers nothing.
        let before = order.clone();
        assert_eq!(
            approve_requests(&mut order, &["0001".into(), "0009".into()], &at(5)),
            Err(RequestsRefused::NoSuchLines(vec!["0009".into()]))
        );
        assert_eq!(order, before);
        let (buyer, supplier) = parties();
        let parties = Parties {
            buyer: &buyer,
            supplier: &supplier,
        };
        order = issue_order(Some(order), &order_message(), parties, &at(5));
        assert_eq!(
            status(&order, "0001"),
            (
                P::InProgress,
                Some(LineInProgressStatus::OpenSupplierShipmentRescheduleRequest)
            )
        );
        assert_eq!(
            quantities(&line(&order, "0001").delivery_schedule_including_requests),
            vec!["2"]
        );
        // The advice reissued with all 10: the request is withdrawn and
        // the delivery line is ready to ship.
        let ships_all = despatch(serde_json::json!([
            {"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO-1",
             "purchaseOrderLinePosition": "0001", "despatchQuantity": "10.0"}
        ]));
        assert!(ship_lines(
            &mut order,
            &Despatched::of_advice(&ships_all, "PO-1"),
            &at(6)
        ));
        assert_eq!(status(&order, "0001"), (P::Confirmed, None));
        let first = line(&order, "0001");
        assert_eq!(
            quantities(&first.delivery_schedule_including_requests),
            vec!["10"]
        );
        assert_eq!(
            first.delivery_schedule[0].status,
            Some(DeliveryLineLogisticsStatus::ReadyToShip)
        );
        assert_eq!(first.last_updated_at, Some(at(6)));
        assert_eq!(order_process(&order), Some(OrderProcessStatus::Confirmed));
        // The same again changes nothing.
        assert!(!ship_lines(
            &mut order,
            &Despatched::of_advice(&ships_all, "PO-1"),
            &at(7)
        ));
        // Answering a line without an open request, or no line at all.
        assert_eq!(
            answer_reschedule(&mut order, "0001", true, None, &at(8)),
            Err(RescheduleRefused::NothingOpen)
        );
        assert_eq!(
            answer_reschedule(&mut order, "0009", false, Some("no"), &at(8)),
            Err(RescheduleRefused::NoSuchLine)
        );
    }

    #[test]
    fn new_delivery_lines_number_on_from_the_largest() {
        let schedule = |positions: &[&str]| -> Vec<DeliveryScheduleLine> {
            positions
                .iter()
                .map(|p| DeliveryScheduleLine {
                    position: Some((*p).to_owned()),
                    ..DeliveryScheduleLine::default()
                })
                .collect()
        };
        assert_eq!(next_delivery_position(&schedule(&["1"])), "2");
        assert_eq!(next_delivery_position(&schedule(&["0001", "0003"])), "0004");
        assert_eq!(next_delivery_position(&schedule(&["A", "9"])), "10");
        assert_eq!(next_delivery_position(&[]), "1");
        assert_eq!(
            next_delivery_position(&schedule(&[&u64::MAX.to_string()])),
            (u128::from(u64::MAX) + 1).to_string()
        );
    }

    #[test]
    fn a_single_delivery_order_merges_split_lines() {
        let message: connector::SendSingleDeliveryOrderByBuyer = from_json(serde_json::json!({
            "order": {"supplierAccountNumber": "SUPPLIER12345", "purchaseOrderNumber": "PO-2"},
            "lines": [
                {"position": "0001", "item": {"number": "A"},
                 "scheduledDelivery": {"date": "2026-03-01", "quantity": 6}},
                {"position": "0002", "originalPosition": "0001", "item": {"number": "A"},
                 "scheduledDelivery": {"date": "2026-03-20", "quantity": 4}}
            ]
        }));
        let order = single_delivery_message(&message, None).0;
        let lines = order.lines.unwrap_or_default();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].position, "0001");
        let schedule = lines[0].delivery_schedule.clone().unwrap_or_default();
        assert_eq!(schedule.len(), 2);
        assert_eq!(schedule[1].position.as_deref(), Some("0002"));
    }

    #[test]
    fn completing_wins_over_cancelling_and_missing_lines_are_cancelled() {
        let (buyer, supplier) = parties();
        let parties = Parties {
            buyer: &buyer,
            supplier: &supplier,
        };
        let mut order = issued();
        let both: connector::SendOrderIndicatorsByBuyer = from_json(serde_json::json!({
            "order": {"purchaseOrderNumber": "PO-1", "indicators": {"cancelled": true}},
            "lines": [{"position": "0001", "indicators": {"completed": true}}]
        }));
        assert!(apply_indicators(&mut order, &both, &at(2)));
        assert_eq!(status(&order, "0001"), (LineProcessStatus::Completed, None));
        assert_eq!(status(&order, "0002"), (LineProcessStatus::Cancelled, None));

        let mut order = issued();
        let mut update = order_message();
        update.order.indicators = Some(crate::api::common::types::BuyerOrderIndicators {
            cancel_line_when_missing: Some(true),
            ..Default::default()
        });
        if let Some(lines) = update.lines.as_mut() {
            lines.truncate(1);
        }
        order = issue_order(Some(order), &update, parties, &at(3));
        assert_eq!(status(&order, "0001"), (LineProcessStatus::Issued, None));
        assert_eq!(status(&order, "0002"), (LineProcessStatus::Cancelled, None));
        assert_eq!(order_process(&order), Some(OrderProcessStatus::Issued));
    }

    #[test]
    fn buyer_confirmation_reconfirmation_and_logistics_indicators() {
        let mut order = issued();
        let message: connector::SendOrderIndicatorsByBuyer = from_json(serde_json::json!({
            "order": {"purchaseOrderNumber": "PO-1", "indicators": {"confirmed": true}},
            "lines": [{"position": "0002", "indicators": {"shipped": true}}]
        }));
        assert!(apply_indicators(&mut order, &message, &at(2)));
        assert_eq!(status(&order, "0001"), (LineProcessStatus::Confirmed, None));
        let logistics = |order: &Order, position: &str| {
            line(order, position)
                .status
                .as_ref()
                .and_then(|s| s.logistics_status.clone())
        };
        assert_eq!(
            logistics(&order, "0002"),
            Some(LineLogisticsStatus::Shipped)
        );
        let reconfirm: connector::SendOrderIndicatorsByBuyer = from_json(serde_json::json!({
            "order": {"purchaseOrderNumber": "PO-1"},
            "lines": [{"position": "0001", "indicators": {"requestReconfirmation": true, "delivered": true}}]
        }));
        assert!(apply_indicators(&mut order, &reconfirm, &at(3)));
        assert_eq!(
            status(&order, "0001"),
            (
                LineProcessStatus::InProgress,
                Some(LineInProgressStatus::OpenBuyerReconfirmationRequest)
            )
        );
        assert_eq!(
            logistics(&order, "0001"),
            Some(LineLogisticsStatus::Delivered)
        );
    }

    #[test]
    fn auto_confirm_approves_a_proposal_at_once() {
        let mut message = order_message();
        message.order.indicators = Some(crate::api::common::types::BuyerOrderIndicators {
            auto_confirm: Some(true),
            ..Default::default()
        });
        let mut order = issue_new(&message);
        let propose = response(serde_json::json!([
            {"purchaseOrderLinePosition": "0001",
             "deliverySchedule": [{"date": "2026-04-01", "quantity": 10}]}
        ]));
        assert!(respond(&mut order, &propose, &at(2)));
        assert_eq!(status(&order, "0001"), (LineProcessStatus::Confirmed, None));
        let first = line(&order, "0001");
        assert_eq!(
            first.delivery_schedule[0]
                .date
                .as_ref()
                .map(|d| d.to_string())
                .as_deref(),
            Some("2026-04-01")
        );
    }

    #[test]
    fn goods_receipts_append_or_replace_and_deliver_the_full_quantity() {
        let mut order = issued();
        let six: Vec<DeliveryHistoryLine> =
            from_json(serde_json::json!([{"position": "1", "date": "2026-03-01", "quantity": 6}]));
        assert!(receive_goods(
            &mut order,
            [("0001", six.as_slice())],
            false,
            &at(2)
        ));
        let logistics = |order: &Order| {
            line(order, "0001")
                .status
                .as_ref()
                .and_then(|s| s.logistics_status.clone())
        };
        assert_eq!(logistics(&order), Some(LineLogisticsStatus::Open));
        let four: Vec<DeliveryHistoryLine> =
            from_json(serde_json::json!([{"position": "2", "date": "2026-03-02", "quantity": 4}]));
        assert!(receive_goods(
            &mut order,
            [("0001", four.as_slice())],
            false,
            &at(3)
        ));
        assert_eq!(logistics(&order), Some(LineLogisticsStatus::Delivered));
        let history = |order: &Order| {
            line(order, "0001")
                .buyer_line
                .as_ref()
                .map(|b| b.delivery_history.len())
        };
        assert_eq!(history(&order), Some(2));
        assert!(receive_goods(&mut order, [("0001", &[][..])], true, &at(4)));
        assert_eq!(history(&order), Some(0));
        assert!(!receive_goods(
            &mut order,
            [("0099", &[][..])],
            true,
            &at(5)
        ));
    }

    /// The logistics status of each delivery line of line `position`, in
    /// `deliverySchedule` and (the same expected) in
    /// `deliveryScheduleIncludingRequests`.
    fn delivery_statuses(
        order: &Order,
        position: &str,
    ) -> Vec<(Option<String>, Option<DeliveryLineLogisticsStatus>)> {
        let line = line(order, position);
        let of = |schedule: &[CurrentDeliveryScheduleLine]| {
            schedule
                .iter()
                .map(|d| (d.position.clone(), d.status.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            of(&line.delivery_schedule),
            of(&line.delivery_schedule_including_requests)
        );
        of(&line.delivery_schedule)
    }

    /// A delivery line the goods receipt delivered stays `Delivered` when
    /// the buyer sends its order again with an older `status` for it, on a
    /// line in negotiation and on a confirmed one (whose delivery lines
    /// take the buyer's `status`).
    #[test]
    fn a_sent_schedule_status_does_not_take_a_delivered_delivery_line_back() {
        use DeliveryLineLogisticsStatus as D;
        let (buyer, supplier) = parties();
        let parties = Parties {
            buyer: &buyer,
            supplier: &supplier,
        };
        let mut order = issue_order(None, &order_message(), parties, &at(1));
        assert!(respond(
            &mut order,
            &response(serde_json::json!([
                {"purchaseOrderLinePosition": "0002", "indicators": {"accepted": true}}
            ])),
            &at(2)
        ));
        let received: Vec<DeliveryHistoryLine> = from_json(serde_json::json!([
            {"position": "1", "date": "2026-03-01", "quantity": 10}
        ]));
        let received_b: Vec<DeliveryHistoryLine> = from_json(serde_json::json!([
            {"position": "1", "date": "2026-03-08", "quantity": 4}
        ]));
        assert!(receive_goods(
            &mut order,
            [
                ("0001", received.as_slice()),
                ("0002", received_b.as_slice())
            ],
            false,
            &at(3)
        ));
        let delivered = vec![(Some("1".to_string()), Some(D::Delivered))];
        assert_eq!(delivery_statuses(&order, "0001"), delivered);
        assert_eq!(delivery_statuses(&order, "0002"), delivered);
        let mut again = serde_json::to_value(order_message()).expect("a message");
        for index in 0..2 {
            again["lines"][index]["deliverySchedule"][0]["status"] = "ReadyToShip".into();
            again["lines"][index]["description"] = "changed".into();
        }
        let again: connector::SendOrderByBuyer = from_json(again);
        let order = issue_order(Some(order), &again, parties, &at(4));
        assert_eq!(status(&order, "0002"), (LineProcessStatus::Confirmed, None));
        for position in ["0001", "0002"] {
            assert_eq!(delivery_statuses(&order, position), delivered, "{position}");
            let including: Vec<_> = line(&order, position)
                .delivery_schedule_including_requests
                .iter()
                .map(|d| d.status.clone())
                .collect();
            assert_eq!(including, vec![Some(D::Delivered)], "{position}");
        }
    }

    /// The `status` the buyer sent once stays in its schedules, and every
    /// later change of the line recomputes the current ones: it must not
    /// take back the `ReadyToShip` of a despatch advice sent since.
    #[test]
    fn a_buyer_s_earlier_schedule_status_does_not_undo_a_despatch_advice() {
        use DeliveryLineLogisticsStatus as D;
        let (buyer, supplier) = parties();
        let parties = Parties {
            buyer: &buyer,
            supplier: &supplier,
        };
        let mut message = serde_json::to_value(order_message()).expect("a message");
        message["lines"][0]["deliverySchedule"][0]["status"] = "Open".into();
        let message: connector::SendOrderByBuyer = from_json(message);
        let mut order = issue_order(None, &message, parties, &at(1));
        assert!(respond(
            &mut order,
            &response(serde_json::json!([
                {"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}}
            ])),
            &at(2)
        ));
        let advice = despatch(serde_json::json!([
            {"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO-1",
             "purchaseOrderLinePosition": "0001", "deliverySchedulePosition": "1", "despatchQuantity": 10}
        ]));
        assert!(ship_lines(
            &mut order,
            &Despatched::of_advice(&advice, "PO-1"),
            &at(3)
        ));
        let ready = vec![(Some("1".to_string()), Some(D::ReadyToShip))];
        assert_eq!(delivery_statuses(&order, "0001"), ready);
        // A later change of the line (the supplier's notes) keeps it.
        assert!(respond(
            &mut order,
            &response(serde_json::json!([
                {"purchaseOrderLinePosition": "0001", "notes": ["packed"]}
            ])),
            &at(4)
        ));
        assert_eq!(delivery_statuses(&order, "0001"), ready);
        // The buyer's own status still takes it further.
        let mut shipped = serde_json::to_value(order_message()).expect("a message");
        shipped["lines"][0]["deliverySchedule"][0]["status"] = "Shipped".into();
        let shipped: connector::SendOrderByBuyer = from_json(shipped);
        let order = issue_order(Some(order), &shipped, parties, &at(5));
        assert_eq!(
            delivery_statuses(&order, "0001"),
            vec![(Some("1".to_string()), Some(D::Shipped))]
        );
    }

    /// order/buyer/update.md: "In case of any other status like
    /// `Completed` or `Cancelled` the order update will be ignored": the
    /// `delivered` indicator and the delivery history sent with such a
    /// line do not change it either.
    #[test]
    fn an_update_of_a_completed_or_cancelled_line_is_ignored_whole() {
        let (buyer, supplier) = parties();
        let parties = Parties {
            buyer: &buyer,
            supplier: &supplier,
        };
        let mut order = issue_order(None, &order_message(), parties, &at(1));
        let finish: connector::SendOrderIndicatorsByBuyer = from_json(serde_json::json!({
            "order": {"purchaseOrderNumber": "PO-1"},
            "lines": [{"position": "0001", "indicators": {"completed": true}},
                      {"position": "0002", "indicators": {"cancelled": true}}]
        }));
        assert!(apply_indicators(&mut order, &finish, &at(2)));
        let before = order.clone();
        let mut again = serde_json::to_value(order_message()).expect("a message");
        for index in 0..2 {
            again["lines"][index]["indicators"] = serde_json::json!({"delivered": true});
            again["lines"][index]["deliveryHistory"] =
                serde_json::json!([{"position": "1", "date": "2026-03-01", "quantity": 10}]);
        }
        let again: connector::SendOrderByBuyer = from_json(again);
        let order = issue_order(Some(order), &again, parties, &at(3));
        for position in ["0001", "0002"] {
            assert_eq!(
                line(&order, position),
                line(&before, position),
                "{position} unchanged"
            );
        }
    }

    #[test]
    fn goods_receipts_deliver_the_delivery_lines_they_cover_earliest_first() {
        use DeliveryLineLogisticsStatus as D;
        let (buyer, supplier) = parties();
        let message: connector::SendOrderByBuyer = from_json(serde_json::json!({
            "order": {"supplierAccountNumber": "SUPPLIER12345", "purchaseOrderNumber": "PO-1"},
            "lines": [
                {"position": "0001", "item": {"number": "A"},
                 "deliverySchedule": [{"position": "2", "date": "2026-03-15", "quantity": 4},
                                      {"position": "1", "date": "2026-03-01", "quantity": 6}],
                 "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 5, "currencyIso": "EUR"}},
                            "priceUnitQuantity": 1}}
            ]
        }));
        let parties = Parties {
            buyer: &buyer,
            supplier: &supplier,
        };
        let mut order = issue_order(None, &message, parties, &at(1));
        assert!(respond(
            &mut order,
            &response(serde_json::json!([
                {"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}}
            ])),
            &at(2)
        ));
        let ships_all = despatch(serde_json::json!([
            {"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO-1",
             "purchaseOrderLinePosition": "0001", "deliverySchedulePosition": "1", "despatchQuantity": 6},
            {"despatchAdviceLinePosition": "2", "purchaseOrderNumber": "PO-1",
             "purchaseOrderLinePosition": "0001", "deliverySchedulePosition": "2", "despatchQuantity": 4}
        ]));
        assert!(ship_lines(
            &mut order,
            &Despatched::of_advice(&ships_all, "PO-1"),
            &at(3)
        ));
        let ready = vec![
            (Some("2".to_string()), Some(D::ReadyToShip)),
            (Some("1".to_string()), Some(D::ReadyToShip)),
        ];
        assert_eq!(delivery_statuses(&order, "0001"), ready);
        let receipt = |quantity: u32, day: u32| -> Vec<DeliveryHistoryLine> {
            from_json(serde_json::json!([
                {"position": day.to_string(), "date": format!("2026-03-{day:02}"), "quantity": quantity}
            ]))
        };
        let logistics = |order: &Order| {
            line(order, "0001")
                .status
                .as_ref()
                .and_then(|s| s.logistics_status.clone())
        };
        // 5 of the first (earliest) delivery line's 6: none delivered yet.
        let five = receipt(5, 1);
        assert!(receive_goods(
            &mut order,
            [("0001", five.as_slice())],
            false,
            &at(4)
        ));
        assert_eq!(delivery_statuses(&order, "0001"), ready);
        // 8: the earliest delivery line (position 1, 6) is delivered, the
        // later one (2 of its 4) not yet, nor the order line.
        let three = receipt(3, 2);
        assert!(receive_goods(
            &mut order,
            [("0001", three.as_slice())],
            false,
            &at(5)
        ));
        assert_eq!(
            delivery_statuses(&order, "0001"),
            vec![
                (Some("2".to_string()), Some(D::ReadyToShip)),
                (Some("1".to_string()), Some(D::Delivered)),
            ]
        );
        assert_ne!(logistics(&order), Some(LineLogisticsStatus::Delivered));
        // All 10: every delivery line and the order line are delivered.
        let two = receipt(2, 3);
        assert!(receive_goods(
            &mut order,
            [("0001", two.as_slice())],
            false,
            &at(6)
        ));
        assert_eq!(
            delivery_statuses(&order, "0001"),
            vec![
                (Some("2".to_string()), Some(D::Delivered)),
                (Some("1".to_string()), Some(D::Delivered)),
            ]
        );
        assert_eq!(logistics(&order), Some(LineLogisticsStatus::Delivered));
        assert_eq!(
            order
                .status
                .as_ref()
                .and_then(|s| s.logistics_status.clone()),
            Some(OrderLogisticsStatus::Delivered)
        );
    }

    #[test]
    fn shipped_and_delivered_indicators_move_the_delivery_lines_too() {
        use DeliveryLineLogisticsStatus as D;
        let mut order = issued();
        let shipped: connector::SendOrderIndicatorsByBuyer = from_json(serde_json::json!({
            "order": {"purchaseOrderNumber": "PO-1"},
            "lines": [{"position": "0001", "indicators": {"shipped": true}}]
        }));
        assert!(apply_indicators(&mut order, &shipped, &at(2)));
        assert_eq!(
            delivery_statuses(&order, "0001"),
            vec![(Some("1".to_string()), Some(D::Shipped))]
        );
        assert_eq!(
            delivery_statuses(&order, "0002"),
            vec![(Some("1".to_string()), None)]
        );
        let delivered: connector::SendOrderIndicatorsByBuyer = from_json(serde_json::json!({
            "order": {"purchaseOrderNumber": "PO-1", "indicators": {"delivered": true}}
        }));
        assert!(apply_indicators(&mut order, &delivered, &at(3)));
        for position in ["0001", "0002"] {
            assert_eq!(
                delivery_statuses(&order, position),
                vec![(Some("1".to_string()), Some(D::Delivered))]
            );
        }
    }

    #[test]
    fn order_level_indicators_of_a_sent_order_touch_only_its_lines() {
        let (buyer, supplier) = parties();
        let parties = Parties {
            buyer: &buyer,
            supplier: &supplier,
        };
        let order = issued();
        let mut update = order_message();
        update.order.indicators = Some(crate::api::common::types::BuyerOrderIndicators {
            delivered: Some(true),
            ..Default::default()
        });
        if let Some(lines) = update.lines.as_mut() {
            lines.truncate(1);
        }
        let order = issue_order(Some(order), &update, parties, &at(2));
        let logistics = |position: &str| {
            line(&order, position)
                .status
                .as_ref()
                .and_then(|s| s.logistics_status.clone())
        };
        assert_eq!(logistics("0001"), Some(LineLogisticsStatus::Delivered));
        assert_eq!(logistics("0002"), Some(LineLogisticsStatus::Open));
    }

    #[test]
    fn a_response_without_a_schedule_keeps_the_requested_one() {
        let mut order = issued();
        let cheaper = response(serde_json::json!([
            {"purchaseOrderLinePosition": "0001",
             "prices": {"netPrice": {"priceInTransactionCurrency": {"value": 4, "currencyIso": "EUR"}}}},
            {"purchaseOrderLinePosition": "0002", "notes": ["ok"]}
        ]));
        assert!(respond(&mut order, &cheaper, &at(2)));
        assert_eq!(
            status(&order, "0001"),
            (
                LineProcessStatus::InProgress,
                Some(LineInProgressStatus::OpenSupplierProposal)
            )
        );
        let first = line(&order, "0001");
        assert_eq!(first.delivery_schedule_including_requests.len(), 1);
        assert_ne!(first.prices, first.prices_including_requests);
        // Nothing but notes: an update of the line's other fields, no
        // answer (it stays `Issued`).
        assert_eq!(status(&order, "0002"), (LineProcessStatus::Issued, None));
        assert_eq!(
            line(&order, "0002")
                .supplier_line
                .as_ref()
                .map(|s| s.notes.clone()),
            Some(vec!["ok".to_string()])
        );
    }

    fn dates(schedule: &[CurrentDeliveryScheduleLine]) -> Vec<String> {
        schedule
            .iter()
            .map(|d| d.date.as_ref().map(|d| d.to_string()).unwrap_or_default())
            .collect()
    }

    fn buyer_reopen_status(order: &Order, position: &str) -> Option<RequestStatus> {
        line(order, position)
            .buyer_line
            .as_ref()
            .and_then(|b| b.requests.as_ref())
            .and_then(|r| r.reopen_request.as_ref())
            .and_then(|r| r.status.clone())
    }

    /// Both lines confirmed on a later date than requested (2026-04-01,
    /// a proposal the buyer approved), then asked to reconfirm.
    fn confirmed_later_and_asked_to_reconfirm() -> Order {
        let mut order = issued();
        let propose = response(serde_json::json!([
            {"purchaseOrderLinePosition": "0001",
             "deliverySchedule": [{"position": "1", "date": "2026-04-01", "quantity": 10}]},
            {"purchaseOrderLinePosition": "0002",
             "deliverySchedule": [{"position": "1", "date": "2026-04-01", "quantity": 4}]}
        ]));
        assert!(respond(&mut order, &propose, &at(2)));
        let both = ["0001".to_string(), "0002".to_string()];
        assert_eq!(approve_requests(&mut order, &both, &at(3)), Ok(()));
        let reconfirm: connector::SendOrderIndicatorsByBuyer = from_json(serde_json::json!({
            "order": {"purchaseOrderNumber": "PO-1"},
            "lines": [{"position": "0001", "indicators": {"requestReconfirmation": true}},
                      {"position": "0002", "indicators": {"requestReconfirmation": true}}]
        }));
        assert!(apply_indicators(&mut order, &reconfirm, &at(4)));
        order
    }

    #[test]
    fn a_reconfirmation_keeps_the_confirmed_values() {
        let mut order = confirmed_later_and_asked_to_reconfirm();
        let answer = response(serde_json::json!([
            {"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}},
            {"purchaseOrderLinePosition": "0002",
             "deliverySchedule": [{"position": "1", "date": "2026-04-01", "quantity": 4}]}
        ]));
        assert!(respond(&mut order, &answer, &at(5)));
        for position in ["0001", "0002"] {
            assert_eq!(
                status(&order, position),
                (LineProcessStatus::Confirmed, None)
            );
            let reconfirmed = line(&order, position);
            assert_eq!(dates(&reconfirmed.delivery_schedule), vec!["2026-04-01"]);
            assert_eq!(
                dates(&reconfirmed.delivery_schedule_including_requests),
                vec!["2026-04-01"]
            );
        }
        assert_eq!(order_process(&order), Some(OrderProcessStatus::Confirmed));
    }

    #[test]
    fn a_reconfirmation_answered_with_other_values_is_a_reopen_request() {
        let mut order = confirmed_later_and_asked_to_reconfirm();
        let answer = response(serde_json::json!([
            {"purchaseOrderLinePosition": "0001", "reason": "later still",
             "deliverySchedule": [{"position": "1", "date": "2026-05-01", "quantity": 10}]},
            // The buyer's originally requested date is not the agreed one.
            {"purchaseOrderLinePosition": "0002",
             "deliverySchedule": [{"position": "1", "date": "2026-03-08", "quantity": 4}]}
        ]));
        assert!(respond(&mut order, &answer, &at(5)));
        for (position, date) in [("0001", "2026-05-01"), ("0002", "2026-03-08")] {
            assert_eq!(
                status(&order, position),
                (
                    LineProcessStatus::InProgress,
                    Some(LineInProgressStatus::OpenSupplierReopenRequest)
                )
            );
            let reopened = line(&order, position);
            assert_eq!(dates(&reopened.delivery_schedule), vec!["2026-04-01"]);
            assert_eq!(
                dates(&reopened.delivery_schedule_including_requests),
                vec![date]
            );
        }
    }

    /// Line 0001 accepted, then reopened by the buyer (2026-05-01).
    fn reopened_by_the_buyer() -> Order {
        let (buyer, supplier) = parties();
        let parties = Parties {
            buyer: &buyer,
            supplier: &supplier,
        };
        let mut order = issued();
        let accept = response(serde_json::json!([
            {"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}}
        ]));
        assert!(respond(&mut order, &accept, &at(2)));
        let mut update = order_message();
        if let Some(lines) = update.lines.as_mut() {
            lines.truncate(1);
            lines[0].delivery_schedule = Some(from_json(serde_json::json!(
                [{"position": "1", "date": "2026-05-01", "quantity": 10}]
            )));
        }
        let order = issue_order(Some(order), &update, parties, &at(3));
        assert_eq!(
            status(&order, "0001"),
            (
                LineProcessStatus::InProgress,
                Some(LineInProgressStatus::OpenBuyerReopenRequest)
            )
        );
        order
    }

    #[test]
    fn the_supplier_approves_or_rejects_a_buyer_reopen_request() {
        // Approved (accepted, or answered with the requested values): the
        // new values are the confirmed ones.
        for approval in [
            serde_json::json!({"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}}),
            serde_json::json!({"purchaseOrderLinePosition": "0001",
             "deliverySchedule": [{"position": "1", "date": "2026-05-01", "quantity": 10}]}),
        ] {
            let mut order = reopened_by_the_buyer();
            assert!(respond(
                &mut order,
                &response(serde_json::json!([approval])),
                &at(4)
            ));
            assert_eq!(status(&order, "0001"), (LineProcessStatus::Confirmed, None));
            assert_eq!(
                buyer_reopen_status(&order, "0001"),
                Some(RequestStatus::Approved)
            );
            assert_eq!(
                dates(&line(&order, "0001").delivery_schedule),
                vec!["2026-05-01"]
            );
        }
        // Rejected: the line stays confirmed with the values agreed before.
        let mut order = reopened_by_the_buyer();
        let reject = response(serde_json::json!([
            {"purchaseOrderLinePosition": "0001", "indicators": {"rejected": true}}
        ]));
        assert!(respond(&mut order, &reject, &at(4)));
        assert_eq!(status(&order, "0001"), (LineProcessStatus::Confirmed, None));
        assert_eq!(
            buyer_reopen_status(&order, "0001"),
            Some(RequestStatus::Rejected)
        );
        let kept = line(&order, "0001");
        assert_eq!(dates(&kept.delivery_schedule), vec!["2026-03-01"]);
        assert_eq!(
            dates(&kept.delivery_schedule_including_requests),
            vec!["2026-03-01"]
        );
        // Other values: a proposal, the reopen request closed.
        let mut order = reopened_by_the_buyer();
        let propose = response(serde_json::json!([
            {"purchaseOrderLinePosition": "0001",
             "deliverySchedule": [{"position": "1", "date": "2026-04-15", "quantity": 10}]}
        ]));
        assert!(respond(&mut order, &propose, &at(4)));
        assert_eq!(
            status(&order, "0001"),
            (
                LineProcessStatus::InProgress,
                Some(LineInProgressStatus::OpenSupplierProposal)
            )
        );
        assert_eq!(
            buyer_reopen_status(&order, "0001"),
            Some(RequestStatus::Closed)
        );
        let proposed = line(&order, "0001");
        assert_eq!(dates(&proposed.delivery_schedule), vec!["2026-03-01"]);
        assert_eq!(
            dates(&proposed.delivery_schedule_including_requests),
            vec!["2026-04-15"]
        );
    }

    #[test]
    fn a_response_keeps_an_open_shipment_reschedule_request() {
        use LineProcessStatus as P;
        let mut order = issued();
        let accept = response(serde_json::json!([
            {"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}}
        ]));
        assert!(respond(&mut order, &accept, &at(2)));
        let six = despatch(serde_json::json!([
            {"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO-1",
             "purchaseOrderLinePosition": "0001", "despatchQuantity": 6}
        ]));
        assert!(ship_lines(
            &mut order,
            &Despatched::of_advice(&six, "PO-1"),
            &at(3)
        ));
        let open = (
            P::InProgress,
            Some(LineInProgressStatus::OpenSupplierShipmentRescheduleRequest),
        );
        assert_eq!(status(&order, "0001"), open);
        // Notes only, then values and an acceptance: the request stays
        // for the buyer to answer.
        for (second, answer) in [
            serde_json::json!({"purchaseOrderLinePosition": "0001", "notes": ["on its way"]}),
            serde_json::json!({"purchaseOrderLinePosition": "0001",
             "deliverySchedule": [{"position": "1", "date": "2026-03-01", "quantity": 10}]}),
            serde_json::json!({"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true}}),
        ]
        .into_iter()
        .enumerate()
        {
            let second = 4 + u32::try_from(second).unwrap_or(0);
            assert!(respond(&mut order, &response(serde_json::json!([answer])), &at(second)));
            assert_eq!(status(&order, "0001"), open);
            let line = line(&order, "0001");
            assert_eq!(quantities(&line.delivery_schedule), vec!["10"]);
            assert_eq!(quantities(&line.delivery_schedule_including_requests), vec!["6"]);
        }
        // The buyer approves it with the bulk answer.
        assert_eq!(
            approve_requests(&mut order, &["0001".into()], &at(9)),
            Ok(())
        );
        // order/status.md#L50: no in-progress status once Confirmed.
        assert_eq!(status(&order, "0001"), (P::Confirmed, None));
        assert_eq!(
            quantities(&line(&order, "0001").delivery_schedule),
            vec!["6"]
        );
    }

    // A response that repeats what the order holds stamps nothing: no
    // line's and not the order's lastUpdatedAt (polls with
    // lastUpdatedAfter would return the order again, with no event).
    #[test]
    fn a_response_stamps_only_what_it_changes() {
        let mut order = issued();
        let answer = response(serde_json::json!([
            {"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true},
             "notes": ["ok"]},
            {"purchaseOrderLinePosition": "0002", "notes": ["later"]}
        ]));
        assert!(respond(&mut order, &answer, &at(2)));
        assert_eq!(order.last_updated_at, Some(at(2)));
        let before = order.clone();
        assert!(!respond(&mut order, &answer, &at(3)));
        assert_eq!(order, before);
        // One line changes: only it and the order are stamped.
        let answer = response(serde_json::json!([
            {"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true},
             "notes": ["ok"]},
            {"purchaseOrderLinePosition": "0002", "notes": ["next week"]}
        ]));
        assert!(respond(&mut order, &answer, &at(4)));
        assert_eq!(order.last_updated_at, Some(at(4)));
        assert_eq!(line(&order, "0001").last_updated_at, Some(at(2)));
        assert_eq!(line(&order, "0002").last_updated_at, Some(at(4)));
        // The order header alone changes: the order is stamped, no line.
        let mut header_only = answer.clone();
        header_only.order.description = Some("as agreed".into());
        assert!(respond(&mut order, &header_only, &at(5)));
        assert_eq!(order.last_updated_at, Some(at(5)));
        assert_eq!(line(&order, "0002").last_updated_at, Some(at(4)));
    }

    // api/delivery-schedule.md#L50: the buyer assigns a position to a
    // split delivery line; it stays the same delivery line, with the etd
    // and eta logistics gave it.
    #[test]
    fn a_split_delivery_line_keeps_etd_and_eta_when_the_buyer_numbers_it() {
        let (buyer, supplier) = parties();
        let parties = Parties {
            buyer: &buyer,
            supplier: &supplier,
        };
        let mut order = issued();
        let split = response(serde_json::json!([
            {"purchaseOrderLinePosition": "0001", "deliverySchedule": [
                {"position": "1", "date": "2026-03-01", "quantity": 6},
                {"position": "2", "date": "2026-03-20", "quantity": 4}]}
        ]));
        assert!(respond(&mut order, &split, &at(2)));
        assert_eq!(
            approve_requests(&mut order, &["0001".into()], &at(3)),
            Ok(())
        );
        let logistics: crate::api::order::types::UpdateOrderLineDeliverySchedule =
            from_json(serde_json::json!({"deliverySchedule": [
                {"position": "2", "etd": "2026-03-15", "eta": "2026-03-19"}]}));
        assert!(update_delivery_logistics(
            &mut order,
            "0001",
            &logistics,
            &at(4)
        ));
        let mut update = order_message();
        if let Some(lines) = update.lines.as_mut() {
            lines.truncate(1);
            lines[0].delivery_schedule = Some(from_json(serde_json::json!([
                {"position": "1", "date": "2026-03-01", "quantity": 6},
                {"position": "0002", "date": "2026-03-20", "quantity": 4}])));
        }
        let order = issue_order(Some(order), &update, parties, &at(5));
        assert_eq!(status(&order, "0001"), (LineProcessStatus::Confirmed, None));
        for schedule in [
            &line(&order, "0001").delivery_schedule,
            &line(&order, "0001").delivery_schedule_including_requests,
        ] {
            let split = &schedule[1];
            assert_eq!(split.position.as_deref(), Some("0002"));
            let dates = (
                split.etd.as_ref().map(ToString::to_string),
                split.eta.as_ref().map(ToString::to_string),
            );
            assert_eq!(
                dates,
                (Some("2026-03-15".into()), Some("2026-03-19".into()))
            );
            assert_eq!(schedule[0].etd, None);
        }
    }

    // order/buyer/receive/README.md#L338-339: the supplier's "changed or
    // added" item details win; a blank text is not given, as `null` is.
    #[test]
    fn blank_item_details_do_not_replace_the_other_side_s() {
        let (buyer, supplier) = parties();
        let parties = Parties {
            buyer: &buyer,
            supplier: &supplier,
        };
        let mut message = order_message();
        if let Some(lines) = message.lines.as_mut() {
            lines[0].item_details = Some(from_json(serde_json::json!({
                "countryOfOriginCodeIso2": "NL", "batchNumber": "B1", "serialNumber": " "
            })));
        }
        let mut order = issue_order(None, &message, parties, &at(1));
        let answer = response(serde_json::json!([
            {"purchaseOrderLinePosition": "0001", "itemDetails": {
                "countryOfOriginCodeIso2": "\u{a0} ", "batchNumber": "B2", "serialNumber": ""}}
        ]));
        assert!(respond(&mut order, &answer, &at(2)));
        let merged = line(&order, "0001")
            .merged_item_details
            .clone()
            .unwrap_or_default();
        assert_eq!(merged.country_of_origin_code_iso2.as_deref(), Some("NL"));
        assert_eq!(merged.batch_number.as_deref(), Some("B2"));
        assert_eq!(merged.serial_number, None);
    }

    #[test]
    fn a_bulk_answer_names_lines_with_an_open_request_only() {
        let mut order = issued();
        let propose = response(serde_json::json!([
            {"purchaseOrderLinePosition": "0001",
             "deliverySchedule": [{"date": "2026-04-01", "quantity": 10}]}
        ]));
        assert!(respond(&mut order, &propose, &at(2)));
        let before = order.clone();
        assert_eq!(
            reject_requests(&mut order, &["0001".into(), "0002".into()], "no", &at(3)),
            Err(RequestsRefused::NothingOpen(vec!["0002".into()]))
        );
        assert_eq!(
            approve_requests(&mut order, &["0001".into(), "0007".into()], &at(3)),
            Err(RequestsRefused::NoSuchLines(vec!["0007".into()]))
        );
        assert_eq!(order, before);
    }

    #[test]
    fn new_ids_look_like_uuids() {
        let id = new_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
        assert_ne!(id, new_id());
    }

    fn document(value: serde_json::Value) -> Document {
        from_json(value)
    }

    #[test]
    fn only_a_document_with_the_same_code_replaces() {
        let mut attached = vec![
            document(
                serde_json::json!({"code": "SPEC", "revision": "1", "url": "https://e.com/1"}),
            ),
            document(serde_json::json!({"objectId": "obj-1", "name": "a.pdf"})),
            document(serde_json::json!({"url": "https://e.com/d.pdf", "name": "Drawing"})),
            document(serde_json::json!({"code": " ", "name": "blank"})),
        ];
        let sent = [
            // Same code: replaces, whatever else changed.
            document(
                serde_json::json!({"code": "SPEC", "revision": "2", "url": "https://e.com/2",
                                        "metadata": {"k": "v"}}),
            ),
            // No code, same objectId: appended ("else it will be appended").
            document(serde_json::json!({"objectId": "obj-1", "name": "b.pdf"})),
            // No code, equal in every member: appended all the same.
            document(serde_json::json!({"url": "https://e.com/d.pdf", "name": "Drawing"})),
            // A blank code is no code: appended.
            document(serde_json::json!({"code": " ", "name": "blank"})),
            // A code where the attached one has none: appended.
            document(serde_json::json!({"code": "X", "objectId": "obj-1"})),
        ];
        assert!(attach_documents(&mut attached, &sent));
        assert_eq!(attached.len(), 8);
        assert_eq!(attached[0].revision.as_deref(), Some("2"));
        assert_eq!(attached[0].url.as_deref(), Some("https://e.com/2"));
        assert_eq!(
            attached[0].extra.get("metadata"),
            Some(&serde_json::json!({"k": "v"}))
        );
        assert_eq!(attached[1].name.as_deref(), Some("a.pdf"));
        assert_eq!(attached[2].name.as_deref(), Some("Drawing"));
        assert_eq!(attached[4].name.as_deref(), Some("b.pdf"));
        assert_eq!(attached[5].name.as_deref(), Some("Drawing"));
        assert_eq!(attached[7].code.as_deref(), Some("X"));
        // Attaching the same again replaces the coded ones with themselves
        // and appends the three without a code once more.
        assert!(attach_documents(&mut attached, &sent));
        assert_eq!(attached.len(), 11);
        let coded = [document(
            serde_json::json!({"code": "SPEC", "revision": "2", "url": "https://e.com/2",
                                    "metadata": {"k": "v"}}),
        )];
        assert!(!attach_documents(&mut attached, &coded));
        assert_eq!(attached.len(), 11);
    }

    #[test]
    fn documents_are_kept_on_the_order_and_re_attaching_replaces() {
        let (buyer, supplier) = parties();
        let parties = Parties {
            buyer: &buyer,
            supplier: &supplier,
        };
        let mut message = order_message();
        message.order.documents = Some(vec![document(
            serde_json::json!({"code": "TERMS", "url": "https://e.com/terms.pdf", "name": "Terms"}),
        )]);
        let order = issue_order(None, &message, parties, &at(1));
        // The buyer attaches more to the order and to line 0002.
        let attach: connector::AttachOrderDocumentsByBuyer = from_json(serde_json::json!({
            "order": {"purchaseOrderNumber": "PO-1",
                      "documents": [{"code": "TERMS", "revision": "B", "url": "https://e.com/terms-b.pdf"}]},
            "lines": [{"position": "0002", "documents": [{"objectId": "obj-2", "name": "d.pdf"}]},
                      {"position": "0009", "documents": [{"objectId": "obj-9"}]}]
        }));
        let mut attached = order.clone();
        assert!(attach_buyer_documents(&mut attached, &attach, &at(2)));
        assert_eq!(attached.last_updated_at, Some(at(2)));
        assert_eq!(attached.version, Some(2));
        let documents = &attached.buyer_order.as_ref().expect("buyerOrder").documents;
        assert_eq!(documents.len(), 1, "{documents:?}");
        assert_eq!(documents[0].revision.as_deref(), Some("B"));
        let line_documents = |order: &Order, position: &str| {
            line(order, position)
                .buyer_line
                .as_ref()
                .map(|b| b.documents.clone())
                .unwrap_or_default()
        };
        assert_eq!(line_documents(&attached, "0002").len(), 1);
        assert_eq!(line(&attached, "0002").last_updated_at, Some(at(2)));
        assert_eq!(line(&attached, "0001").last_updated_at, Some(at(1)));
        // The same again replaces the coded header document with itself
        // and appends the line documents without a code once more
        // ("else it will be appended"), stamped as a change.
        let mut again = attached.clone();
        assert!(attach_buyer_documents(&mut again, &attach, &at(3)));
        assert_eq!(
            again.buyer_order.as_ref().expect("buyerOrder").documents,
            *documents
        );
        assert_eq!(line_documents(&again, "0002").len(), 2);
        assert_eq!(line(&again, "0002").last_updated_at, Some(at(3)));
        // Only coded documents sent again change nothing, and are not
        // stamped.
        let coded: connector::AttachOrderDocumentsByBuyer = from_json(serde_json::json!({
            "order": {"purchaseOrderNumber": "PO-1",
                      "documents": [{"code": "TERMS", "revision": "B", "url": "https://e.com/terms-b.pdf"}]}
        }));
        let mut unchanged = attached.clone();
        assert!(!attach_buyer_documents(&mut unchanged, &coded, &at(3)));
        assert_eq!(unchanged, attached);
        // An update of the order without documents keeps the attached ones.
        let updated = issue_order(Some(attached.clone()), &order_message(), parties, &at(4));
        assert_eq!(
            updated.buyer_order.as_ref().expect("buyerOrder").documents,
            *documents
        );
        assert_eq!(line_documents(&updated, "0002").len(), 1);

        // The supplier answers with documents on the order and a line;
        // answering again with the same code replaces.
        let mut responded = updated;
        let mut answer = response(serde_json::json!([
            {"purchaseOrderLinePosition": "0001", "indicators": {"accepted": true},
             "documents": [{"code": "CERT", "objectId": "obj-c", "name": "cert.pdf"}]}
        ]));
        answer.order.documents = Some(vec![document(
            serde_json::json!({"code": "OC", "objectId": "obj-oc", "name": "confirmation.pdf"}),
        )]);
        assert!(respond(&mut responded, &answer, &at(5)));
        answer.order.documents = Some(vec![document(
            serde_json::json!({"code": "OC", "objectId": "obj-oc2", "name": "confirmation-2.pdf"}),
        )]);
        assert!(respond(&mut responded, &answer, &at(6)));
        let supplier_documents = &responded
            .supplier_order
            .as_ref()
            .expect("supplierOrder")
            .documents;
        assert_eq!(supplier_documents.len(), 1);
        assert_eq!(supplier_documents[0].object_id.as_deref(), Some("obj-oc2"));
        let supplier_line = line(&responded, "0001")
            .supplier_line
            .as_ref()
            .expect("supplierLine");
        assert_eq!(supplier_line.documents.len(), 1);
        assert_eq!(responded.last_updated_at, Some(at(6)));
        // The buyer's documents are untouched by the supplier's.
        assert_eq!(
            responded
                .buyer_order
                .as_ref()
                .expect("buyerOrder")
                .documents
                .len(),
            1
        );
    }
}
