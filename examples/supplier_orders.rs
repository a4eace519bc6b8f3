//! A supplier receiving new orders in single-delivery form
//! (`singleDeliveryOrderEvent`: the portal's Delivery Schedule Mode
//! "Single Delivery").
//!
//! Starts a mock of Tradecloud and a receiver over HTTPS, delivers a new
//! order and a cancellation as Tradecloud would, and prints the sales order
//! lines the handler would create. A body it cannot use fails permanently
//! (dead-lettered, replayable) instead of being retried.
//!
//! ```sh
//! cargo run --example supplier_orders
//! ```

use tradecloud::api::common::types::{OrderEventName, SingleDeliveryOrderEvent};
use tradecloud::changes::ChangeSet;
use tradecloud::processing::{Event, Handler, HandlerContext, HandlerError};
use tradecloud::testing::{Sample, TestBed};
use tradecloud::types::Rounding;
use tradecloud::webhook::OrderWebhookEvent;

/// The supplier's ERP: creates and updates sales orders.
struct SalesOrders;

impl SalesOrders {
    fn order(
        &self,
        name: &OrderEventName,
        order: &SingleDeliveryOrderEvent,
    ) -> Result<(), HandlerError> {
        let order_id = order.order_id();
        if order_id.is_empty() {
            return Err(HandlerError::Permanent(
                "an order event without an orderId".into(),
            ));
        }
        let po = order.purchase_order_number().unwrap_or("?");
        let action = match name {
            OrderEventName::OrderIssuedByBuyer | OrderEventName::OrderLinesIssuedByBuyer => {
                "add these lines to"
            }
            OrderEventName::OrderLinesReissuedByBuyer
            | OrderEventName::OrderLinesUpdatedByBuyer => "update these lines of",
            OrderEventName::OrderLinesCancelledByBuyer => "cancel these lines of",
            other => {
                println!("{other}: nothing to do for the sales order");
                return Ok(());
            }
        };
        println!("{name}: {action} the sales order for {po} ({order_id})");
        for line in order.changed_lines() {
            let Some(buyer_line) = &line.buyer_line else {
                continue;
            };
            let item = buyer_line.item.as_ref();
            // One requested delivery per line in single-delivery form.
            let requested = buyer_line.scheduled_delivery.as_ref();
            println!(
                "  line {}: item {} ({}), {} {} on {}",
                line.position(),
                item.and_then(|i| i.number.as_deref()).unwrap_or("?"),
                item.and_then(|i| i.name.as_deref()).unwrap_or("?"),
                line.ordered_quantity()
                    .map_or_else(|| "?".to_owned(), |q| q.to_string()),
                item.and_then(|i| i.purchase_unit_of_measure_iso.as_deref())
                    .unwrap_or(""),
                requested
                    .and_then(|d| d.date.as_ref())
                    .map_or("?".into(), |d| d.to_string()),
            );
            // The price applies to `priceUnitQuantity` items: the net amount
            // is computed exactly and rounded once.
            if let Some(amount) = line.net_amount(2, Rounding::HalfUp) {
                println!(
                    "    net {} {} per {} = {amount}",
                    line.net_price().map_or_else(String::new, |p| p.to_string()),
                    line.currency().unwrap_or(""),
                    line.price_unit_quantity(),
                );
            }
        }
        Ok(())
    }
}

impl Handler for SalesOrders {
    async fn handle(&self, event: Event, _ctx: &HandlerContext) -> Result<(), HandlerError> {
        match &event {
            Event::Order { body, .. } => match body.event() {
                Some(OrderWebhookEvent::SingleDelivery(order)) => self.order(&body.event_name, order),
                _ => Err(HandlerError::Permanent(
                    "expected a singleDeliveryOrderEvent: set the webhook's Delivery Schedule Mode to Single Delivery"
                        .into(),
                )),
            },
            _ => Err(HandlerError::Permanent("expected an order event".into())),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bed = TestBed::start(SalesOrders).await?;
    for sample in [
        Sample::single_delivery_order_event("OrderIssuedByBuyer"),
        Sample::single_delivery_order_event("OrderLinesCancelledByBuyer"),
        // A delivery-schedule event: this ERP was set up for single delivery.
        Sample::order_event("OrderIssuedByBuyer"),
    ] {
        let status = bed.deliver(&sample).await?;
        println!(
            "delivered {} ({:?}): HTTP {status}",
            sample.event_name(),
            sample.kind()
        );
    }
    for handled in bed.wait_handled(3).await? {
        match &handled.result {
            Ok(()) => println!("event {}: done", handled.meta.inbox_id),
            Err(e) => println!("event {}: {e}", handled.meta.inbox_id),
        }
    }
    bed.shutdown().await?;
    Ok(())
}
