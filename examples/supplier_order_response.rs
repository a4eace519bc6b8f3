//! A supplier answering a new order: accept what the factory can make,
//! propose a new delivery schedule for the rest, attach the order
//! confirmation as a PDF.
//!
//! Starts a mock of Tradecloud and a receiver over HTTPS, delivers
//! `OrderIssuedByBuyer` as Tradecloud would, and lets the handler answer it
//! through the SDK, as the documentation's order process describes
//! (order/supplier/send-order-response): a line whose requested deliveries
//! the factory can make is **accepted** by indicator (it becomes
//! `Confirmed`); a line with a delivery above the factory's daily capacity
//! gets a **proposal** (the capacity per day, on consecutive days), which
//! the buyer then approves or rejects (the line is `InProgress` until
//! then). The order confirmation is uploaded to Tradecloud's object storage
//! first and attached to the response by its `objectId`.
//!
//! ```sh
//! cargo run --example supplier_order_response
//! ```

use chrono::Days;
use tradecloud::api::api_connector::types::{
    OrderResponseBySupplier, OrderResponseLineBySupplier, SendOrderResponseBySupplier,
};
use tradecloud::api::common::types::{BuyerLine, DeliveryScheduleLine};
use tradecloud::api::common::types::{
    Document, OrderEvent, OrderEventName, SupplierLineIndicators,
};
use tradecloud::client::Client;
use tradecloud::processing::{Event, Handler, HandlerContext, HandlerError};
use tradecloud::testing::{Sample, TestBed};
use tradecloud::types::{Date, Decimal};
use tradecloud::webhook::OrderWebhookEvent;

/// The supplier's ERP: plans production and answers the buyer.
struct SalesOrders {
    /// What the factory makes per day, of any item.
    daily_capacity: Decimal,
    /// Where the ERP keeps the order confirmations it prints.
    confirmations: std::path::PathBuf,
}

/// What the ERP decided for one line.
enum Decision {
    /// Every requested delivery can be made as asked.
    Accept,
    /// A schedule the factory can make instead.
    Propose(Vec<DeliveryScheduleLine>),
}

impl SalesOrders {
    /// Feasible when no requested delivery exceeds a day's capacity; else
    /// each delivery is split into days of at most the capacity, from its
    /// requested date on.
    fn decide(&self, requested: &BuyerLine) -> Result<Decision, HandlerError> {
        let feasible = requested.delivery_schedule.iter().all(|d| {
            d.quantity
                .as_ref()
                .is_none_or(|q| *q <= self.daily_capacity)
        });
        if feasible {
            return Ok(Decision::Accept);
        }
        let mut proposal = Vec::new();
        for delivery in &requested.delivery_schedule {
            let (Some(date), Some(quantity)) = (&delivery.date, &delivery.quantity) else {
                return Err(HandlerError::Permanent(
                    "a requested delivery without a date or quantity".into(),
                ));
            };
            let mut left = quantity.clone();
            let mut day = date.date();
            while left > Decimal::from(0) {
                let part = if left > self.daily_capacity {
                    self.daily_capacity.clone()
                } else {
                    left.clone()
                };
                left -= &part;
                let mut part = DeliveryScheduleLine::builder()
                    .date(Date::from(day))
                    .quantity(part)
                    .build();
                // The buyer's position for the first part; a split part has
                // none (the buyer's ERP assigns one).
                if day == date.date() {
                    part.position = delivery.position.clone();
                }
                proposal.push(part);
                day = day
                    .checked_add_days(Days::new(1))
                    .ok_or_else(|| HandlerError::Permanent("a date beyond the calendar".into()))?;
            }
        }
        Ok(Decision::Propose(proposal))
    }

    async fn answer(&self, client: &Client, order: &OrderEvent) -> Result<(), HandlerError> {
        let Some(buyer_account_number) = order
            .supplier_order
            .as_ref()
            .and_then(|s| s.buyer_account_number.clone())
        else {
            return Err(HandlerError::Permanent(
                "the order does not say the buyer's account number at this supplier".into(),
            ));
        };
        let po = order
            .purchase_order_number()
            .ok_or_else(|| HandlerError::Permanent("an order without its number".into()))?
            .to_owned();

        let mut lines = Vec::new();
        for line in &order.lines {
            let Some(requested) = &line.buyer_line else {
                continue;
            };
            let position = line.position();
            let answer =
                OrderResponseLineBySupplier::builder().purchase_order_line_position(position);
            let answer = match self.decide(requested)? {
                Decision::Accept => {
                    println!("  line {position}: accepted as requested");
                    answer.indicators(SupplierLineIndicators::builder().accepted(true))
                }
                Decision::Propose(schedule) => {
                    for d in &schedule {
                        println!(
                            "  line {position}: propose {} on {}",
                            d.quantity.as_ref().map_or("?".into(), |q| q.to_string()),
                            d.date.as_ref().map_or("?".into(), |d| d.to_string()),
                        );
                    }
                    answer.delivery_schedule(schedule)
                }
            };
            lines.push(answer);
        }
        if lines.is_empty() {
            // An order response must hold at least one line.
            println!("  nothing to answer");
            return Ok(());
        }

        // The confirmation: uploaded first, attached by its objectId. The
        // upload is not resent after an answer was lost (it would store a
        // second copy): such an error is transient, so the whole event is
        // retried and uploads it again, which is harmless.
        let pdf = self.confirmations.join(format!("{po}.pdf"));
        std::fs::write(&pdf, confirmation_pdf(&po))
            .map_err(|e| HandlerError::Transient(format!("writing {}: {e}", pdf.display())))?;
        let uploaded = client
            .documents()
            .upload(&pdf)
            .content_type("application/pdf")
            .await?;
        println!(
            "  uploaded {} ({} bytes) as {}",
            uploaded.file_name, uploaded.bytes, uploaded.object_id
        );

        let response = SendOrderResponseBySupplier::builder()
            .order(
                OrderResponseBySupplier::builder()
                    .buyer_account_number(buyer_account_number)
                    .purchase_order_number(po.clone())
                    .documents([Document::builder()
                        .object_id(uploaded.object_id)
                        .name(format!("Order confirmation {po}"))
                        .code(format!("SO-{po}"))
                        .type_("General")]),
            )
            .lines(lines)
            .build();
        // Checked against the documented rules before it is sent; a re-sent
        // order response is an update with the same data, so the client
        // resends it on a transient failure.
        let answer = client.orders().respond(&response).await?;
        println!("  order response sent: ok = {:?}", answer.ok);
        Ok(())
    }
}

impl Handler for SalesOrders {
    async fn handle(&self, event: Event, ctx: &HandlerContext) -> Result<(), HandlerError> {
        let Event::Order { body, .. } = &event else {
            return Err(HandlerError::Permanent("expected an order event".into()));
        };
        let Some(OrderWebhookEvent::Order(order)) = body.event() else {
            return Err(HandlerError::Permanent(
                "expected an orderEvent (Delivery Schedule Mode: Multiple Deliveries)".into(),
            ));
        };
        if body.event_name != OrderEventName::OrderIssuedByBuyer {
            println!("{}: nothing to answer", body.event_name);
            return Ok(());
        }
        let client = ctx.client().ok_or_else(|| {
            HandlerError::Permanent("no [tradecloud] client configured to answer with".into())
        })?;
        println!(
            "{}: answering {} ({})",
            body.event_name,
            order.purchase_order_number().unwrap_or("?"),
            order.order_id()
        );
        self.answer(client, order).await
    }
}

/// A one-page PDF saying what was confirmed (what an ERP would print).
fn confirmation_pdf(po: &str) -> Vec<u8> {
    let text = format!("BT /F1 18 Tf 72 720 Td (Order confirmation {po}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let confirmations = tempfile::tempdir()?;
    let erp = SalesOrders {
        daily_capacity: "50".parse()?,
        confirmations: confirmations.path().to_path_buf(),
    };
    let bed = TestBed::start(erp).await?;
    let status = bed
        .deliver(&Sample::order_event("OrderIssuedByBuyer"))
        .await?;
    println!("delivered OrderIssuedByBuyer: HTTP {status}");
    let handled = bed.wait_handled(1).await?;
    let failed: Vec<_> = handled
        .iter()
        .filter_map(|h| h.result.as_ref().err())
        .collect();
    let stats = bed.mock().stats();
    let (uploads, responses) = (
        stats.requests_for("uploadDocument"),
        stats.requests_for("sendOrderResponseBySupplierRoute"),
    );
    println!("the mock received {uploads} upload(s) and {responses} order response(s)");
    bed.shutdown().await?;
    if let Some(error) = failed.first() {
        return Err(format!("the handler failed: {error}").into());
    }
    if (uploads, responses) != (1, 1) {
        return Err("expected one upload and one order response".into());
    }
    Ok(())
}
