//! The business code: one function per kind of Tradecloud event. Each is
//! called with the typed event after the receiver stored it durably and
//! answered Tradecloud. Events of one order or shipment come one at a time,
//! in order. An event may come again (after a crash or a retry), so make the
//! ERP update idempotent: the order id and `lastUpdatedAt` help.
//!
//! Return `Ok(())` once the ERP has the event; `HandlerError::Transient`
//! when a retry may help (ERP down, timeout: retried with backoff); and
//! `HandlerError::Permanent` when it cannot (the event is dead-lettered:
//! `tradecloud inbox dead` lists it, `tradecloud inbox replay ID` queues it
//! again once the cause is fixed).

use std::path::PathBuf;

// {{#if documents}}
use tradecloud::api::common::types::OrderDocumentsEvent;
// {{/if}}
// {{#if multiple}}
use tradecloud::api::common::types::OrderEvent;
// {{/if}}
// {{#if order_webhook}}
use tradecloud::api::common::types::OrderEventName;
// {{/if}}
// {{#if single}}
use tradecloud::api::common::types::SingleDeliveryOrderEvent;
// {{/if}}
// {{#if shipments}}
use tradecloud::api::common::types::{Shipment, ShipmentEventName};
// {{/if}}
use tradecloud::changes::{ChangeSet, DocumentRef};
use tradecloud::client::{DocumentSource, DownloadOutcome};
use tradecloud::processing::{Event, Handler, HandlerContext, HandlerError};
// {{#if orders}}
use tradecloud::types::{Decimal, Rounding};
// {{/if}}
// {{#if order_webhook}}
use tradecloud::webhook::OrderWebhookEvent;
// {{/if}}

/// The handler. Add what the ERP code needs here: a database pool, an ERP
/// API client, ...
#[derive(Debug, Clone)]
pub struct Erp {
    documents_dir: PathBuf,
}

impl Erp {
    /// A handler that saves attached documents under `documents_dir`, one
    /// directory per order or shipment.
    pub fn new(documents_dir: impl Into<PathBuf>) -> Self {
        Erp {
            documents_dir: documents_dir.into(),
        }
    }
    // {{#if multiple}}

    // {{#if supplier}}
    /// A new or changed purchase order from the buyer (`orderEvent`, with
    /// a delivery schedule): create or update the sales order.
    // {{else}}
    /// The supplier's response to a purchase order (`orderEvent`, with a
    /// delivery schedule): update the purchase order.
    // {{/if}}
    async fn order_event(
        &self,
        name: &OrderEventName,
        order: &OrderEvent,
        ctx: &HandlerContext,
    ) -> Result<(), HandlerError> {
        let order_id = required(order.order_id.as_deref(), "orderId")?;
        // {{#if supplier}}
        match name {
            OrderEventName::OrderIssuedByBuyer
            | OrderEventName::OrderLinesIssuedByBuyer
            | OrderEventName::OrderLinesReissuedByBuyer
            | OrderEventName::OrderReissuedByBuyer
            | OrderEventName::OrderLinesUpdatedByBuyer
            | OrderEventName::OrderLinesCancelledByBuyer => {}
            other => return not_used(other.as_str(), order_id),
        }
        // An order event carries only the lines it affects: all of them changed.
        for line in order.changed_lines() {
            let Some(buyer_line) = &line.buyer_line else {
                continue;
            };
            // What the buyer asks for.
            for delivery in &buyer_line.delivery_schedule {
                tracing::info!(
                    event = %name, order_id,
                    position = line.position(),
                    date = %show(delivery.date.as_ref()),
                    quantity = %show(delivery.quantity.as_ref()),
                    "requested delivery"
                );
            }
            log_totals(
                order_id,
                line.position(),
                line.ordered_quantity(),
                line.net_amount(2, Rounding::HalfUp),
                line.currency(),
            );
        }
        // {{else}}
        match name {
            OrderEventName::OrderLinesAcceptedBySupplier
            | OrderEventName::OrderLinesConfirmedBySupplier
            | OrderEventName::OrderLinesRejectedBySupplier
            | OrderEventName::OrderChangesProposedBySupplier
            | OrderEventName::OrderLinesUpdatedBySupplier
            | OrderEventName::OrderLinesReconfirmedBySupplier => {}
            other => return not_used(other.as_str(), order_id),
        }
        // An order event carries only the lines it affects: all of them changed.
        for line in order.changed_lines() {
            // The agreed delivery schedule; a supplier proposal still open is
            // in `delivery_schedule_including_requests`.
            for delivery in &line.delivery_schedule {
                tracing::info!(
                    event = %name, order_id,
                    position = line.position(),
                    date = %show(delivery.date.as_ref()),
                    quantity = %show(delivery.quantity.as_ref()),
                    "agreed delivery"
                );
            }
            log_totals(
                order_id,
                line.position(),
                line.ordered_quantity(),
                line.net_amount(2, Rounding::HalfUp),
                line.currency(),
            );
        }
        // {{/if}}
        // Write to the ERP here. When it is unavailable, return
        // Err(HandlerError::Transient(..)): the event is tried again later.
        self.save_documents(ctx, order_id, order.changed_documents())
            .await
    }
    // {{/if}}
    // {{#if single}}

    // {{#if supplier}}
    /// A new or changed purchase order from the buyer
    /// (`singleDeliveryOrderEvent`, one delivery per line): create or update
    /// the sales order.
    // {{else}}
    /// The supplier's response to a purchase order
    /// (`singleDeliveryOrderEvent`, one delivery per line): update the
    /// purchase order.
    // {{/if}}
    async fn single_delivery_order_event(
        &self,
        name: &OrderEventName,
        order: &SingleDeliveryOrderEvent,
        ctx: &HandlerContext,
    ) -> Result<(), HandlerError> {
        let order_id = required(order.order_id.as_deref(), "orderId")?;
        // {{#if supplier}}
        match name {
            OrderEventName::OrderIssuedByBuyer
            | OrderEventName::OrderLinesIssuedByBuyer
            | OrderEventName::OrderLinesReissuedByBuyer
            | OrderEventName::OrderReissuedByBuyer
            | OrderEventName::OrderLinesUpdatedByBuyer
            | OrderEventName::OrderLinesCancelledByBuyer => {}
            other => return not_used(other.as_str(), order_id),
        }
        // An order event carries only the lines it affects: all of them changed.
        for line in order.changed_lines() {
            let Some(buyer_line) = &line.buyer_line else {
                continue;
            };
            // What the buyer asks for.
            let requested = buyer_line.scheduled_delivery.as_ref();
            tracing::info!(
                event = %name, order_id,
                position = line.position(),
                date = %show(requested.and_then(|d| d.date.as_ref())),
                quantity = %show(requested.and_then(|d| d.quantity.as_ref())),
                "requested delivery"
            );
            log_totals(
                order_id,
                line.position(),
                line.ordered_quantity(),
                line.net_amount(2, Rounding::HalfUp),
                line.currency(),
            );
        }
        // {{else}}
        match name {
            OrderEventName::OrderLinesAcceptedBySupplier
            | OrderEventName::OrderLinesConfirmedBySupplier
            | OrderEventName::OrderLinesRejectedBySupplier
            | OrderEventName::OrderChangesProposedBySupplier
            | OrderEventName::OrderLinesUpdatedBySupplier
            | OrderEventName::OrderLinesReconfirmedBySupplier => {}
            other => return not_used(other.as_str(), order_id),
        }
        // An order event carries only the lines it affects: all of them changed.
        for line in order.changed_lines() {
            // The agreed delivery (`statusLine`); an open request is in
            // `scheduled_delivery_incl_requests`.
            let agreed = line
                .status_line
                .as_ref()
                .and_then(|s| s.scheduled_delivery.as_ref());
            tracing::info!(
                event = %name, order_id,
                position = line.position(),
                date = %show(agreed.and_then(|d| d.date.as_ref())),
                quantity = %show(agreed.and_then(|d| d.quantity.as_ref())),
                "agreed delivery"
            );
            log_totals(
                order_id,
                line.position(),
                line.ordered_quantity(),
                line.net_amount(2, Rounding::HalfUp),
                line.currency(),
            );
        }
        // {{/if}}
        // Write to the ERP here. When it is unavailable, return
        // Err(HandlerError::Transient(..)): the event is tried again later.
        self.save_documents(ctx, order_id, order.changed_documents())
            .await
    }
    // {{/if}}
    // {{#if documents}}

    /// Documents the {{counterparty}} attached to an order or its lines
    /// (`orderDocumentsEvent`): save them with the order.
    async fn order_documents_event(
        &self,
        name: &OrderEventName,
        event: &OrderDocumentsEvent,
        ctx: &HandlerContext,
    ) -> Result<(), HandlerError> {
        let order_id = required(event.order_id.as_deref(), "orderId")?;
        let documents = event.changed_documents();
        tracing::info!(event = %name, order_id, documents = documents.len(), "documents attached");
        self.save_documents(ctx, order_id, documents).await
    }
    // {{/if}}
    // {{#if shipments}}

    // {{#if buyer}}
    /// A despatch advice from the supplier: book the expected receipt.
    // {{else}}
    /// The buyer's answer to a shipment: approved or rejected.
    // {{/if}}
    async fn shipment_event(
        &self,
        name: &ShipmentEventName,
        shipment: &Shipment,
        ctx: &HandlerContext,
    ) -> Result<(), HandlerError> {
        let shipment_id = required(shipment.id.as_deref(), "shipment id")?;
        match name {
            // {{#if buyer}}
            ShipmentEventName::ShipmentIssuedBySupplier
            | ShipmentEventName::ShipmentReissuedBySupplier
            | ShipmentEventName::ShipmentHeaderUpdatedBySupplier
            | ShipmentEventName::ShipmentDocumentAttachedBySupplier => {}
            // {{else}}
            ShipmentEventName::ShipmentApprovedByBuyer
            | ShipmentEventName::ShipmentRejectedByBuyer
            | ShipmentEventName::ShipmentDocumentAttachedByBuyer => {}
            // {{/if}}
            other => return not_used(other.as_str(), shipment_id),
        }
        // A shipment carries all its lines: those whose `meta.lastUpdatedAt`
        // equals the shipment's changed in this event.
        for line in shipment.changed_lines() {
            tracing::info!(
                event = %name, shipment_id,
                purchase_order = line.purchase_order_number(),
                position = line.purchase_order_line_position(),
                quantity = %show(line.despatch_quantity()),
                "changed shipment line"
            );
        }
        // Write to the ERP here. When it is unavailable, return
        // Err(HandlerError::Transient(..)): the event is tried again later.
        self.save_documents(ctx, shipment_id, shipment.changed_documents())
            .await
    }
    // {{/if}}

    /// Download the documents that have a file into `documents_dir/<id>/`.
    async fn save_documents<'a, D>(
        &self,
        ctx: &HandlerContext,
        id: &str,
        documents: Vec<DocumentRef<'a, D>>,
    ) -> Result<(), HandlerError>
    where
        &'a D: Into<DocumentSource>,
    {
        let documents: Vec<DocumentSource> = documents
            .into_iter()
            .map(|d| d.document.into())
            .filter(|d| *d != DocumentSource::NoFile)
            .collect();
        if documents.is_empty() {
            return Ok(());
        }
        let client = ctx.client().ok_or_else(|| {
            HandlerError::Permanent(
                "cannot download documents without Tradecloud credentials: set TRADECLOUD_USERNAME \
                 and TRADECLOUD_PASSWORD, restart, then `tradecloud inbox replay` this event"
                    .into(),
            )
        })?;
        let dir = self.documents_dir.join(directory_name(id)?);
        tokio::fs::create_dir_all(&dir).await.map_err(|e| {
            HandlerError::Transient(format!("cannot create {}: {e}", dir.display()))
        })?;
        for document in documents {
            // Network trouble, 5xx, 429 become HandlerError::Transient (the
            // whole event is tried again later); an unknown document, no
            // access, a host that does not resolve become Permanent.
            match client.documents().download(document, &dir).await? {
                DownloadOutcome::Downloaded(file) => {
                    tracing::info!(path = %file.path.display(), bytes = file.bytes, "document saved");
                }
                DownloadOutcome::NoFile => {}
            }
        }
        Ok(())
    }
}

impl Handler for Erp {
    async fn handle(&self, event: Event, ctx: &HandlerContext) -> Result<(), HandlerError> {
        match &event {
            // {{#if order_webhook}}
            Event::Order { body, .. } => match body.event() {
                // {{#if multiple}}
                Some(OrderWebhookEvent::Order(order)) => {
                    self.order_event(&body.event_name, order, ctx).await
                }
                // {{/if}}
                // {{#if single}}
                Some(OrderWebhookEvent::SingleDelivery(order)) => {
                    self.single_delivery_order_event(&body.event_name, order, ctx)
                        .await
                }
                // {{/if}}
                // {{#if documents}}
                Some(OrderWebhookEvent::Documents(documents)) => {
                    self.order_documents_event(&body.event_name, documents, ctx)
                        .await
                }
                // {{/if}}
                _ => not_handled(&event),
            },
            // {{/if}}
            // {{#if shipments}}
            Event::Shipment { body, .. } => {
                self.shipment_event(&body.event_name, &body.shipment, ctx)
                    .await
            }
            // {{/if}}
            _ => not_handled(&event),
        }
    }
}

/// A required field, or a permanent error naming it.
fn required<'a>(value: Option<&'a str>, field: &str) -> Result<&'a str, HandlerError> {
    value.ok_or_else(|| HandlerError::Permanent(format!("the event has no {field}")))
}
// {{#if lines}}

/// An event name this service does not act on: acknowledged and skipped.
fn not_used(event_name: &str, id: &str) -> Result<(), HandlerError> {
    tracing::info!(event_name, id, "event not used by this service");
    Ok(())
}
// {{/if}}

/// A kind of event this service was not made for, or a whole order or
/// shipment fetched for a GET webhook (older set-ups): acknowledged, logged.
fn not_handled(event: &Event) -> Result<(), HandlerError> {
    let meta = event.meta();
    tracing::warn!(
        inbox_id = meta.inbox_id,
        kind = %meta.kind,
        event_name = meta.event_name.as_deref().unwrap_or(""),
        "event kind not handled by this service; disable it in the Tradecloud portal or handle it here"
    );
    Ok(())
}

/// A Tradecloud id as a directory name: ids are UUIDs, anything else is refused.
fn directory_name(id: &str) -> Result<&str, HandlerError> {
    if !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(id)
    } else {
        Err(HandlerError::Permanent(format!(
            "id {id:?} cannot be used as a directory name"
        )))
    }
}
// {{#if lines}}

/// A value for a log line, `-` when it is missing.
fn show<T: std::fmt::Display>(value: Option<&T>) -> String {
    value.map_or_else(|| "-".to_owned(), T::to_string)
}
// {{/if}}
// {{#if orders}}

/// A line's totals, computed exactly from the event: the ordered quantity
/// (the delivery schedule summed) and the net amount (quantity × net price
/// ÷ `priceUnitQuantity`, rounded once to cents).
fn log_totals(
    order_id: &str,
    position: &str,
    quantity: Option<Decimal>,
    net_amount: Option<Decimal>,
    currency: Option<&str>,
) {
    tracing::info!(
        order_id,
        position,
        quantity = %show(quantity.as_ref()),
        net_amount = %show(net_amount.as_ref()),
        currency = currency.unwrap_or("-"),
        "line totals"
    );
}
// {{/if}}
