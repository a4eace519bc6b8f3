//! A buyer receiving the supplier's order responses.
//!
//! Starts a mock of Tradecloud and a receiver over HTTPS (a self-signed
//! certificate that only this program trusts), delivers three order events
//! as Tradecloud would (accepted, confirmed with other values, a proposal),
//! and prints what the handler read from each: the changed lines and their
//! agreed delivery schedule.
//!
//! ```sh
//! cargo run --example buyer_order_responses
//! ```

use tradecloud::api::common::types::{OrderEvent, OrderEventName};
use tradecloud::changes::ChangeSet;
use tradecloud::processing::{Event, Handler, HandlerContext, HandlerError};
use tradecloud::testing::{Sample, TestBed};
use tradecloud::types::Rounding;
use tradecloud::webhook::OrderWebhookEvent;

/// The buyer's ERP: updates purchase orders from the supplier's responses.
struct PurchaseOrders;

impl PurchaseOrders {
    fn order_response(
        &self,
        name: &OrderEventName,
        event: &OrderEvent,
    ) -> Result<(), HandlerError> {
        let order_id = event.order_id();
        if order_id.is_empty() {
            return Err(HandlerError::Permanent(
                "an order event without an orderId".into(),
            ));
        }
        let po = event.purchase_order_number().unwrap_or("?");
        let what = match name {
            OrderEventName::OrderLinesAcceptedBySupplier => "accepted as requested",
            OrderEventName::OrderLinesConfirmedBySupplier => "confirmed with other values",
            OrderEventName::OrderLinesRejectedBySupplier => "rejected",
            OrderEventName::OrderChangesProposedBySupplier => "a proposal to approve or reject",
            other => {
                println!("  {other}: not a response this ERP acts on");
                return Ok(());
            }
        };
        println!("{name} on purchase order {po} ({order_id}): {what}");
        // An order event carries only the affected lines: all of them changed.
        for line in event.changed_lines() {
            let position = line.position();
            // `deliverySchedule` is the agreed schedule; an open proposal is in
            // `deliveryScheduleIncludingRequests`.
            for delivery in &line.delivery_schedule {
                println!(
                    "  line {position}: {} on {}",
                    delivery.quantity.as_ref().map_or("?", |q| q.as_str()),
                    delivery.date.as_ref().map_or("?".into(), |d| d.to_string()),
                );
            }
            // Exact totals: the quantity summed over the schedule, the net
            // amount by the `priceUnitQuantity` rule, rounded once.
            if let (Some(quantity), Some(amount)) = (
                line.ordered_quantity(),
                line.net_amount(2, Rounding::HalfUp),
            ) {
                let currency = line.currency().unwrap_or("");
                println!("  line {position}: {quantity} in total, net {amount} {currency}");
            }
        }
        Ok(())
    }
}

impl Handler for PurchaseOrders {
    async fn handle(&self, event: Event, _ctx: &HandlerContext) -> Result<(), HandlerError> {
        match &event {
            Event::Order { body, .. } => match body.event() {
                Some(OrderWebhookEvent::Order(order)) => {
                    self.order_response(&body.event_name, order)
                }
                _ => Err(HandlerError::Permanent(
                    "expected an orderEvent (Delivery Schedule Mode: Multiple Deliveries)".into(),
                )),
            },
            _ => Err(HandlerError::Permanent("expected an order event".into())),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bed = TestBed::start(PurchaseOrders).await?;
    let events = [
        "OrderLinesAcceptedBySupplier",
        "OrderLinesConfirmedBySupplier",
        "OrderChangesProposedBySupplier",
    ];
    for name in events {
        let status = bed.deliver(&Sample::order_event(name)).await?;
        println!("delivered {name}: HTTP {status}");
    }
    let handled = bed.wait_handled(events.len()).await?;
    println!(
        "handled {} events: {}",
        handled.len(),
        if handled.iter().all(|h| h.result.is_ok()) {
            "all done"
        } else {
            "some failed"
        }
    );
    bed.shutdown().await?;
    Ok(())
}
