//! Naming and describing lines: how `tradecloud inspect` and the receiver's
//! console name a changed line and show what it now says.
//!
//! Order lines are named by their `id`, else `position P` (`buyerLine.position`);
//! shipment lines by `despatchAdviceNumber/despatchAdviceLinePosition`.

use super::ChangeSet;
use crate::api::common::types::{OrderLine, ShipmentLine, SingleDeliveryOrderLine};
use crate::types::DateTime;

/// How a line is named, where it sits and what it says, for reports.
pub trait DescribeLine {
    /// The line's name: an order line's `id`, else `position P`
    /// (`buyerLine.position`); a shipment line's
    /// `despatchAdviceNumber/despatchAdviceLinePosition`.
    fn name(&self, index: usize) -> String;
    /// A short description: `position 10`, `split from position 10`,
    /// `purchase order PO1 line 2`.
    fn detail(&self) -> Option<String>;
    /// The buyer's line position (order lines) or the purchase order line
    /// position (shipment lines).
    fn position(&self) -> Option<&str>;
    /// The values worth showing next to a changed line, cheap to compute:
    /// statuses, delivery schedule and prices, as compact JSON.
    fn values(&self) -> Vec<(&'static str, String)>;
}

/// Order lines are named by `id`, else by `buyerLine.position`.
fn order_line_name(id: Option<&str>, position: Option<&str>, index: usize) -> String {
    match (id, position) {
        (Some(id), _) => id.to_owned(),
        (None, Some(position)) => format!("position {position}"),
        (None, None) => format!("line #{}", index + 1),
    }
}

/// Compact JSON of a present value, `None` for an absent or empty one.
fn compact<T: serde::Serialize>(value: &T) -> Option<String> {
    let value = serde_json::to_value(value).ok()?;
    match &value {
        serde_json::Value::Null => None,
        serde_json::Value::Array(a) if a.is_empty() => None,
        serde_json::Value::Object(o) if o.is_empty() => None,
        _ => Some(value.to_string()),
    }
}

fn push<T: serde::Serialize>(out: &mut Vec<(&'static str, String)>, label: &'static str, v: &T) {
    if let Some(text) = compact(v) {
        out.push((label, text));
    }
}

impl DescribeLine for OrderLine {
    fn name(&self, index: usize) -> String {
        order_line_name(self.id.as_deref(), DescribeLine::position(self), index)
    }
    fn detail(&self) -> Option<String> {
        order_line_detail(self.buyer_line.as_ref())
    }
    fn position(&self) -> Option<&str> {
        self.buyer_line.as_ref().and_then(|b| b.position.as_deref())
    }
    fn values(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        push(&mut out, "status", &self.status);
        push(&mut out, "delivery schedule", &self.delivery_schedule);
        push(&mut out, "prices", &self.prices);
        out
    }
}

impl DescribeLine for SingleDeliveryOrderLine {
    fn name(&self, index: usize) -> String {
        order_line_name(self.id.as_deref(), DescribeLine::position(self), index)
    }
    fn detail(&self) -> Option<String> {
        order_line_detail(self.buyer_line.as_ref())
    }
    fn position(&self) -> Option<&str> {
        self.buyer_line.as_ref().and_then(|b| b.position.as_deref())
    }
    fn values(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        push(&mut out, "status", &self.status);
        push(&mut out, "status line", &self.status_line);
        push(
            &mut out,
            "confirmed prices",
            &self.confirmed_line.as_ref().map(|c| &c.prices),
        );
        out
    }
}

fn order_line_detail(buyer: Option<&crate::api::common::types::BuyerLine>) -> Option<String> {
    let buyer = buyer?;
    match (&buyer.position, &buyer.original_position) {
        (Some(p), _) => Some(format!("position {p}")),
        (None, Some(o)) => Some(format!("split from position {o}")),
        (None, None) => None,
    }
}

impl DescribeLine for ShipmentLine {
    /// `despatchAdviceNumber/despatchAdviceLinePosition`, `?` for a missing part.
    fn name(&self, _index: usize) -> String {
        let supplier = self.supplier_line.as_ref();
        let number = supplier.and_then(|s| s.despatch_advice_number.as_deref());
        let position = supplier.and_then(|s| s.despatch_advice_line_position.as_deref());
        format!("{}/{}", number.unwrap_or("?"), position.unwrap_or("?"))
    }
    fn detail(&self) -> Option<String> {
        let number = self.purchase_order_number.as_deref()?;
        Some(match &self.purchase_order_line_position {
            Some(position) => format!("purchase order {number} line {position}"),
            None => format!("purchase order {number}"),
        })
    }
    fn position(&self) -> Option<&str> {
        self.purchase_order_line_position.as_deref()
    }
    fn values(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
}

/// One changed line, described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineChange {
    /// Its place in [`ChangeSet::all_lines`] (of its item, for a poll response).
    pub index: usize,
    /// Its name ([`DescribeLine::name`]).
    pub name: String,
    /// Its description ([`DescribeLine::detail`]).
    pub detail: Option<String>,
    /// Its position ([`DescribeLine::position`]).
    pub position: Option<String>,
    /// What it says now ([`DescribeLine::values`]).
    pub values: Vec<(&'static str, String)>,
    /// Where it sits in the message's JSON (a JSON pointer such as
    /// `/orderEvent/lines/0`), when known.
    pub pointer: Option<String>,
}

/// The lines of `message` that changed (in this message when `since` is
/// `None`, else strictly after `since`), described.
pub fn describe_changed_lines<M>(message: &M, since: Option<&DateTime>) -> Vec<LineChange>
where
    M: ChangeSet + ?Sized,
    M::Line: DescribeLine,
{
    message
        .all_lines()
        .into_iter()
        .enumerate()
        .filter(|(_, line)| message.line_changed(line, since))
        .map(|(index, line)| LineChange {
            index,
            name: line.name(index),
            detail: line.detail(),
            position: line.position().map(str::to_owned),
            values: line.values(),
            pointer: None,
        })
        .collect()
}
