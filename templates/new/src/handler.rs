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

// {{#if supplier_answers}}
use tradecloud::api::api_connector::types::{
    OrderResponseBySupplier, OrderResponseLineBySupplier, SendOrderResponseBySupplier,
};
// {{/if}}
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
// {{#if supplier_answers}}
use tradecloud::api::common::types::{
    BuyerLine, DeliveryScheduleLine, Document, Prices, SupplierLineIndicators,
};
// {{/if}}
// {{#if buyer_answers}}
use tradecloud::api::common::types::{LineInProgressStatus, OrderLine, Prices, Request};
// {{/if}}
// {{#if shipments}}
use tradecloud::api::common::types::{Shipment, ShipmentEventName};
// {{/if}}
// {{#if buyer_answers}}
use tradecloud::api::order::types::{
    ApproveRequestsAsBuyer, ApproveShipmentRescheduleRequest, RejectRequestsAsBuyer,
    RejectShipmentRescheduleRequest,
};
// {{/if}}
use tradecloud::changes::{ChangeSet, DocumentRef};
use tradecloud::client::{Client, DocumentSource, DownloadOutcome};
use tradecloud::processing::{Event, Handler, HandlerContext, HandlerError};
// {{#if supplier_answers}}
use tradecloud::types::Date;
// {{/if}}
// {{#if orders}}
use tradecloud::types::{Decimal, Rounding};
// {{/if}}
// {{#if order_webhook}}
use tradecloud::webhook::OrderWebhookEvent;
// {{/if}}

// {{#if supplier_answers}}
/// The largest delivery quantity [`Erp::decide_line`] accepts as requested
/// (an example rule).
pub const MAX_DELIVERY_QUANTITY: u32 = 1000;

/// What the ERP decides for one line of the buyer's order
/// ([`Erp::decide_line`]).
#[derive(Debug, Clone, PartialEq)]
pub enum LineDecision {
    /// Deliver as requested: the line becomes `Confirmed`.
    Accept,
    /// Other values: the line is `InProgress` until the buyer approves
    /// (`Confirmed` with these values) or rejects the proposal.
    Propose {
        /// The delivery schedule the supplier can make.
        delivery_schedule: Vec<DeliveryScheduleLine>,
        /// Other prices, or `None` to keep the buyer's (boxed: `Prices` is large).
        prices: Option<Box<Prices>>,
        /// Why, for the buyer.
        reason: String,
    },
    /// Cannot deliver: the line becomes `Rejected`.
    Reject {
        /// Why, for the buyer.
        reason: String,
    },
    /// No answer now (e.g. planning is still running): the line stays open.
    Later,
}

// {{/if}}
// {{#if buyer_answers}}
/// What the ERP decides on a supplier's proposal for one line
/// ([`Erp::decide_proposal`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProposalDecision {
    /// Agree: the line becomes `Confirmed` with the proposed values.
    Approve,
    /// Disagree: the supplier is told why and answers again.
    Reject {
        /// Why, for the supplier.
        reason: String,
    },
    /// No answer now (a purchaser decides in the portal).
    Later,
}

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
    /// a delivery schedule): create or update the sales order, then answer
    /// the new and changed lines through Tradecloud's API
    /// ([`answer_order`](Self::answer_order)).
    // {{else}}
    /// The supplier's response to a purchase order (`orderEvent`, with a
    /// delivery schedule): update the purchase order, and answer the
    /// supplier's proposals ([`answer_proposals`](Self::answer_proposals)).
    // {{/if}}
    async fn order_event(
        &self,
        name: &OrderEventName,
        order: &OrderEvent,
        ctx: &HandlerContext,
    ) -> Result<(), HandlerError> {
        let order_id = required(order.order_id.as_deref(), "orderId")?;
        // {{#if supplier}}
        // Lines issued or changed by the buyer are answered; cancelled ones
        // only recorded.
        let answer = match name {
            OrderEventName::OrderIssuedByBuyer
            | OrderEventName::OrderLinesIssuedByBuyer
            | OrderEventName::OrderLinesReissuedByBuyer
            | OrderEventName::OrderReissuedByBuyer
            | OrderEventName::OrderLinesUpdatedByBuyer => true,
            OrderEventName::OrderLinesCancelledByBuyer => false,
            other => return not_used(other.as_str(), order_id),
        };
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
        // Write to the ERP here. When it is unavailable, return
        // Err(HandlerError::Transient(..)): the event is tried again later.
        self.save_documents(ctx, order_id, order.changed_documents())
            .await?;
        if answer {
            self.answer_order(ctx, order_id, order).await?;
        }
        Ok(())
        // {{else}}
        // Proposals, reopen requests and shipment reschedule requests wait
        // for the buyer's answer; the other responses are only recorded.
        let answer = match name {
            OrderEventName::OrderChangesProposedBySupplier
            | OrderEventName::OrderLinesReopenRequestedBySupplier
            | OrderEventName::OrderLinesShipmentRescheduleRequestedBySupplier => true,
            OrderEventName::OrderLinesAcceptedBySupplier
            | OrderEventName::OrderLinesConfirmedBySupplier
            | OrderEventName::OrderLinesRejectedBySupplier
            | OrderEventName::OrderLinesUpdatedBySupplier
            | OrderEventName::OrderLinesReconfirmedBySupplier
            | OrderEventName::OrderLinesDeliveryScheduleLogisticsUpdatedBySupplier => false,
            other => return not_used(other.as_str(), order_id),
        };
        // An order event carries only the lines it affects: all of them changed.
        for line in order.changed_lines() {
            tracing::info!(
                event = %name, order_id,
                position = line.position(),
                status = %show(line.process_status()),
                "line status"
            );
            // The agreed delivery schedule; a supplier request still open is
            // `line.open_supplier_request()`.
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
        // Write to the ERP here. When it is unavailable, return
        // Err(HandlerError::Transient(..)): the event is tried again later.
        self.save_documents(ctx, order_id, order.changed_documents())
            .await?;
        if answer {
            self.answer_proposals(ctx, order_id, order).await?;
        }
        Ok(())
        // {{/if}}
    }
    // {{#if supplier}}

    /// **The ERP's decision for one line** of the buyer's order: fill in
    /// your planning here. This example accepts a line whose deliveries are
    /// each at most [`MAX_DELIVERY_QUANTITY`], and proposes the same
    /// deliveries a week later for a larger one.
    pub fn decide_line(&self, requested: &BuyerLine) -> LineDecision {
        let limit = Decimal::from(MAX_DELIVERY_QUANTITY);
        let large = requested
            .delivery_schedule
            .iter()
            .any(|d| d.quantity.as_ref().is_some_and(|q| *q > limit));
        if !large {
            return LineDecision::Accept;
        }
        let delivery_schedule = requested
            .delivery_schedule
            .iter()
            .map(|delivery| {
                let mut later = delivery.clone();
                later.date = delivery
                    .date
                    .as_ref()
                    .and_then(|date| (0..7).try_fold(date.date(), |day, _| day.succ_opt()))
                    .map(Date::from);
                later
            })
            .collect();
        LineDecision::Propose {
            delivery_schedule,
            prices: None,
            reason: "a large quantity takes a week longer to make".to_owned(),
        }
    }

    /// The order confirmation to attach to the answer, or `None` to answer
    /// without a document. This example writes a short text file next to
    /// the order's documents; attach your ERP's printed confirmation instead.
    pub async fn order_confirmation(
        &self,
        order_id: &str,
        purchase_order_number: &str,
    ) -> Result<Option<PathBuf>, HandlerError> {
        let dir = self.documents_dir.join(directory_name(order_id)?);
        tokio::fs::create_dir_all(&dir).await.map_err(|e| {
            HandlerError::Transient(format!("cannot create {}: {e}", dir.display()))
        })?;
        let file = dir.join("order-confirmation.txt");
        let text = format!("Order confirmation of purchase order {purchase_order_number}\n");
        tokio::fs::write(&file, text).await.map_err(|e| {
            HandlerError::Transient(format!("cannot write {}: {e}", file.display()))
        })?;
        Ok(Some(file))
    }

    /// Answer the buyer through Tradecloud's API with an order response
    /// (order/supplier/send-order-response): each line of the event as
    /// [`decide_line`](Self::decide_line) says, with the
    /// [order confirmation](Self::order_confirmation) uploaded and attached.
    /// An accepted line becomes `Confirmed`, a proposal `InProgress` until
    /// the buyer answers it, a rejected line `Rejected`.
    async fn answer_order(
        &self,
        ctx: &HandlerContext,
        order_id: &str,
        order: &OrderEvent,
    ) -> Result<(), HandlerError> {
        let buyer_account_number = order
            .supplier_order
            .as_ref()
            .and_then(|s| s.buyer_account_number.clone())
            .ok_or_else(|| {
                HandlerError::Permanent("the order has no supplierOrder.buyerAccountNumber".into())
            })?;
        let po = required(order.purchase_order_number(), "purchaseOrderNumber")?.to_owned();
        let mut lines = Vec::new();
        for line in order.changed_lines() {
            let Some(requested) = &line.buyer_line else {
                continue;
            };
            let position = line.position();
            let answer =
                OrderResponseLineBySupplier::builder().purchase_order_line_position(position);
            let decision = self.decide_line(requested);
            tracing::info!(order_id, position, ?decision, "answering line");
            lines.push(match decision {
                LineDecision::Accept => {
                    answer.indicators(SupplierLineIndicators::builder().accepted(true))
                }
                LineDecision::Propose {
                    delivery_schedule,
                    prices,
                    reason,
                } => {
                    let answer = answer.delivery_schedule(delivery_schedule).reason(reason);
                    match prices {
                        Some(prices) => answer.prices(*prices),
                        None => answer,
                    }
                }
                LineDecision::Reject { reason } => answer
                    .indicators(SupplierLineIndicators::builder().rejected(true))
                    .reason(reason),
                LineDecision::Later => continue,
            });
        }
        if lines.is_empty() {
            // An order response holds at least one line.
            return Ok(());
        }
        let client = tradecloud_client(ctx)?;
        let mut header = OrderResponseBySupplier::builder()
            .buyer_account_number(buyer_account_number)
            .purchase_order_number(po.clone());
        if let Some(file) = self.order_confirmation(order_id, &po).await? {
            // Uploaded to Tradecloud's object storage first, then attached by
            // its objectId. A failed upload is transient: the whole event is
            // tried again.
            let uploaded = client.documents().upload(&file).await?;
            header = header.documents([Document::builder()
                .object_id(uploaded.object_id)
                .name(format!("Order confirmation {po}"))
                .code(format!("OC-{po}"))
                .type_("General")]);
        }
        let response = SendOrderResponseBySupplier::builder()
            .order(header)
            .lines(lines)
            .build();
        // Checked against the documented rules before it is sent; resent on
        // a transient failure (a repeated response changes nothing).
        client.orders().respond(&response).await?;
        tracing::info!(order_id, "order response sent");
        Ok(())
    }
    // {{else}}

    /// **The ERP's decision on the supplier's proposal** (or reopen
    /// request) for one line: fill in your rules here. The proposed values
    /// are `line.open_supplier_request()` (its `delivery_schedule`,
    /// `quantity()`, `net_price()`, `reason`, ...). This example approves
    /// unless the proposed net price is above the one ordered.
    pub fn decide_proposal(&self, line: &OrderLine) -> ProposalDecision {
        let ordered = line
            .buyer_line
            .as_ref()
            .and_then(|b| b.prices.as_ref())
            .and_then(Prices::net_price);
        let proposed = line.open_supplier_request().and_then(Request::net_price);
        match (ordered, proposed) {
            (Some(ordered), Some(proposed)) if proposed > ordered => ProposalDecision::Reject {
                reason: format!("the proposed price {proposed} is above the {ordered} ordered"),
            },
            _ => ProposalDecision::Approve,
        }
    }

    /// **The ERP's decision on a shipment reschedule request** for one
    /// line: the supplier shipped another quantity than a delivery line
    /// holds (connectors/webhooks/order-events.md, "Order lines shipment
    /// reschedule"). The schedule the shipment asks for is
    /// `line.delivery_schedule_including_requests` (its total
    /// `line.quantity_including_requests()`), the agreed one
    /// `line.delivery_schedule` (`line.ordered_quantity()`). This example
    /// approves when the requested schedule still delivers the whole agreed
    /// quantity (the rest backordered) and rejects a short delivery.
    pub fn decide_reschedule(&self, line: &OrderLine) -> ProposalDecision {
        match (line.ordered_quantity(), line.quantity_including_requests()) {
            (Some(agreed), Some(requested)) if requested < agreed => ProposalDecision::Reject {
                reason: format!("{requested} delivered in all is less than the {agreed} agreed"),
            },
            _ => ProposalDecision::Approve,
        }
    }

    /// Answer the supplier's open requests through Tradecloud's API:
    /// proposals and reopen requests as
    /// [`decide_proposal`](Self::decide_proposal) says (an approved line
    /// becomes `Confirmed` with the proposed values, a rejected proposal
    /// leaves it `InProgress` for the supplier to answer), shipment
    /// reschedule requests as [`decide_reschedule`](Self::decide_reschedule)
    /// says (answered line by line; the line is `Confirmed` again either
    /// way, with the requested schedule when approved).
    async fn answer_proposals(
        &self,
        ctx: &HandlerContext,
        order_id: &str,
        order: &OrderEvent,
    ) -> Result<(), HandlerError> {
        let mut approve = Vec::new();
        let mut reject = Vec::new();
        let mut reschedules = Vec::new();
        for line in order.changed_lines() {
            let open = line.in_progress_status();
            if open == Some(&LineInProgressStatus::OpenSupplierShipmentRescheduleRequest) {
                let decision = self.decide_reschedule(line);
                tracing::info!(
                    order_id,
                    position = line.position(),
                    ?decision,
                    "answering shipment reschedule request"
                );
                reschedules.push((line.position().to_owned(), decision));
                continue;
            }
            if !matches!(
                open,
                Some(
                    LineInProgressStatus::OpenSupplierProposal
                        | LineInProgressStatus::OpenSupplierReopenRequest
                )
            ) {
                continue;
            }
            let decision = self.decide_proposal(line);
            tracing::info!(
                order_id,
                position = line.position(),
                ?decision,
                "answering proposal"
            );
            match decision {
                ProposalDecision::Approve => approve.push(line.position().to_owned()),
                ProposalDecision::Reject { reason } => {
                    reject.push((line.position().to_owned(), reason));
                }
                ProposalDecision::Later => {}
            }
        }
        let answers = reschedules
            .iter()
            .filter(|(_, d)| *d != ProposalDecision::Later);
        if approve.is_empty() && reject.is_empty() && answers.clone().next().is_none() {
            return Ok(());
        }
        let client = tradecloud_client(ctx)?;
        // The event may be delivered again, or be older than the order by
        // now: answer only what is still open (Tradecloud refuses to answer
        // a request twice with a 400, which would dead-letter the event).
        let current = client.orders().get(order_id).await?;
        let open_now = |position: &str| {
            current
                .lines
                .iter()
                .find(|line| line.position() == position)
                .and_then(|line| line.in_progress_status())
        };
        let proposal_open = |position: &String| {
            matches!(
                open_now(position),
                Some(
                    LineInProgressStatus::OpenSupplierProposal
                        | LineInProgressStatus::OpenSupplierReopenRequest
                )
            )
        };
        approve.retain(proposal_open);
        reject.retain(|(position, _)| proposal_open(position));
        let answers = answers.filter(|(position, _)| {
            open_now(position) == Some(&LineInProgressStatus::OpenSupplierShipmentRescheduleRequest)
        });
        for (position, decision) in answers {
            match decision {
                ProposalDecision::Approve => {
                    let approval = ApproveShipmentRescheduleRequest::default();
                    client
                        .orders()
                        .approve_reschedule(order_id, position, &approval)
                        .await?;
                }
                ProposalDecision::Reject { reason } => {
                    let rejection = RejectShipmentRescheduleRequest::builder()
                        .reason(reason.clone())
                        .build();
                    client
                        .orders()
                        .reject_reschedule(order_id, position, &rejection)
                        .await?;
                }
                ProposalDecision::Later => {}
            }
        }
        if !approve.is_empty() {
            let approval = ApproveRequestsAsBuyer::builder()
                .line_positions(approve)
                .build();
            client
                .orders()
                .approve_requests(order_id, &approval)
                .await?;
        }
        // One rejection per line: each has its own reason.
        for (position, reason) in reject {
            let rejection = RejectRequestsAsBuyer::builder()
                .line_positions(vec![position])
                .reason(reason)
                .build();
            client
                .orders()
                .reject_requests(order_id, &rejection)
                .await?;
        }
        Ok(())
    }
    // {{/if}}
    // {{/if}}
    // {{#if single}}

    // {{#if supplier}}
    /// A new or changed purchase order from the buyer
    /// (`singleDeliveryOrderEvent`, one delivery per line): create or update
    /// the sales order. This handler only logs and saves the documents: it
    /// does not answer the order. `tradecloud new --role supplier` (Multiple
    /// Deliveries) shows how to answer through the SDK
    /// (`client.orders().respond(..)`).
    // {{else}}
    /// The supplier's response to a purchase order
    /// (`singleDeliveryOrderEvent`, one delivery per line): update the
    /// purchase order. This handler only logs and saves the documents: it
    /// does not answer proposals. `tradecloud new --role buyer` (Multiple
    /// Deliveries) shows how to answer them through the SDK
    /// (`client.orders().approve_requests(..)`).
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
            // The agreed delivery; with an open request included it is
            // `line.scheduled_delivery_including_requests()`.
            let agreed = line.scheduled_delivery();
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
    /// A despatch advice from the supplier (a new or updated shipment):
    /// record it and book the expected receipt in the ERP.
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
        let client = tradecloud_client(ctx)?;
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

/// The client of Tradecloud's API (`[tradecloud]` in tradecloud.toml), to
/// download documents and answer.
fn tradecloud_client(ctx: &HandlerContext) -> Result<&Client, HandlerError> {
    ctx.client().ok_or_else(|| {
        HandlerError::Permanent(
            "cannot call Tradecloud without credentials: set TRADECLOUD_USERNAME and \
             TRADECLOUD_PASSWORD, restart, then `tradecloud inbox replay` this event"
                .into(),
        )
    })
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
