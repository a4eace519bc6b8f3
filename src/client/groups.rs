//! The API groups of a [`Client`], one per service area:
//! [`client.orders()`](Client::orders),
//! [`client.single_delivery_orders()`](Client::single_delivery_orders),
//! [`client.shipments()`](Client::shipments),
//! [`client.forecasts()`](Client::forecasts) and
//! [`client.documents()`](Client::documents). Each is a cheap view of the
//! client (same tokens, retries and rate limit) and the only way to make
//! its calls: reading, and sending (what a buyer's or supplier's ERP sends
//! about that area: an order and its indicators, documents and deliveries,
//! an order response and the order actions under `orders()`; a despatch
//! advice under `shipments()`; a forecast under `forecasts()`; an upload
//! under `documents()`).
//!
//! A new service area gets a group of its own: a struct holding `&Client`,
//! a method on [`Client`] that returns it, and its calls written with
//! `Client::call` (which turns a generated call's error into a
//! [`ClientError`]). A call that sends a body returns a [`Message`] made
//! from the operation's entry of the operation table, with its
//! [`Resend`](super::Resend) rule stated (and documented) where the call
//! is written.

use std::path::Path;

use progenitor_client::ClientInfo as _;

use super::download::Download;
use super::message::Message;
use super::poll::{order_filters, order_request, shipment_filters, shipment_request, PollError};
use super::upload::Upload;
use super::{Client, ClientError, DocumentSource, PollBatch, PollStream};
use crate::api::api_connector::types::{
    self as connector, txml_shapes as connector_shapes, OkResponse,
};
use crate::api::common::types::{Document, Order, Shipment, SingleDeliveryOrder};
use crate::api::object_storage::types::DocumentMetadata;
use crate::api::order::types::{self as actions, txml_shapes as action_shapes};
use crate::api::order_search::types::{
    OrderPollFilters, OrderPollRequest, OrderPollResponse, SingleDeliveryOrderPollResponse,
};
use crate::api::shipment::types::{ShipmentPollFilters, ShipmentPollRequest, ShipmentPollResponse};
use crate::api::{api_connector, object_storage, order, order_search, shipment};
use crate::types::DateTime;

/// Orders with a delivery schedule: `client.orders()`.
#[derive(Debug, Clone, Copy)]
pub struct Orders<'a> {
    client: &'a Client,
}

/// Orders with a single delivery per line: `client.single_delivery_orders()`.
#[derive(Debug, Clone, Copy)]
pub struct SingleDeliveryOrders<'a> {
    client: &'a Client,
}

/// Shipments (despatch advices): `client.shipments()`.
#[derive(Debug, Clone, Copy)]
pub struct Shipments<'a> {
    client: &'a Client,
}

/// Forecasts a buyer sends: `client.forecasts()`.
#[derive(Debug, Clone, Copy)]
pub struct Forecasts<'a> {
    client: &'a Client,
}

/// Documents in Tradecloud's object storage or on content servers:
/// `client.documents()`.
#[derive(Debug, Clone, Copy)]
pub struct Documents<'a> {
    client: &'a Client,
}

/// The `api-version` of the api-connector spec.
fn connector_version() -> &'static str {
    api_connector::client::ApiConnectorClient::api_version()
}

/// The `api-version` of the order spec.
fn order_version() -> &'static str {
    order::client::OrderClient::api_version()
}

/// The resend rule of a message that carries documents (`orders().send`,
/// `orders().respond`, `orders().attach_documents`,
/// `single_delivery_orders().send`): `header` is the order's documents,
/// `lines` each line's. "If a document with the same code is already
/// attached to the order or line, the document will be replaced, else it
/// will be appended" (order/buyer/issue/attach-document-api.md,
/// order/supplier/send-order-response/attach-document.md). So when every
/// document has a `code` (not blank), or there are none, sending again
/// replaces them with themselves: the message keeps its rule
/// ([`Resend::Always`](super::Resend::Always)). When one has none, sending
/// again would attach it twice (and count twice toward the 100 documents
/// per header or line): [`Resend::IfNotReceived`](super::Resend::IfNotReceived).
fn resend_by_documents<'a, 'd, B, R>(
    message: Message<'a, B, R>,
    header: &'d Option<Vec<Document>>,
    lines: impl IntoIterator<Item = &'d Option<Vec<Document>>>,
) -> Message<'a, B, R>
where
    B: serde::Serialize + crate::types::Validate,
{
    let coded = |list: &Option<Vec<Document>>| {
        list.iter()
            .flatten()
            .all(|d| d.code.as_deref().is_some_and(|c| !c.trim().is_empty()))
    };
    if coded(header) && lines.into_iter().all(coded) {
        message
    } else {
        message.resend_if_not_received(
            "a document without a code would be attached twice; give every document a `code` \
             (sending again then replaces them), or check the order's documents first",
        )
    }
}

/// What an action on one order is, for errors.
fn on_order(action: &str, order_id: &str) -> String {
    format!("{action} of order {order_id}")
}

impl Client {
    /// Orders with a delivery schedule: get, poll, stream; send orders,
    /// indicators, documents, deliveries and order responses; the order
    /// actions.
    pub fn orders(&self) -> Orders<'_> {
        Orders { client: self }
    }

    /// Orders with a single delivery per line: poll, stream, send (get them
    /// with [`orders().get`](Orders::get)).
    pub fn single_delivery_orders(&self) -> SingleDeliveryOrders<'_> {
        SingleDeliveryOrders { client: self }
    }

    /// Shipments: get, poll, stream; send despatch advices.
    pub fn shipments(&self) -> Shipments<'_> {
        Shipments { client: self }
    }

    /// Forecasts: send a forecast or a Slimstock forecast (buyer).
    pub fn forecasts(&self) -> Forecasts<'_> {
        Forecasts { client: self }
    }

    /// Documents: metadata, download and upload.
    pub fn documents(&self) -> Documents<'_> {
        Documents { client: self }
    }
}

impl<'a> Orders<'a> {
    /// The whole order with all its lines (`GET /order/{orderId}`);
    /// `order_id` is the `orderId` of an order event or the `id` of an order.
    ///
    /// ```no_run
    /// # async fn run(client: tradecloud::client::Client) -> Result<(), tradecloud::client::ClientError> {
    /// let order = client.orders().get("7e1f5b2c").await?;
    /// println!("{} has {} lines", order.id(), order.lines.len());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get(&self, order_id: &str) -> Result<Order, ClientError> {
        let api = &self.client.inner.order;
        self.client
            .call(
                || format!("order {order_id}"),
                api.get_order_by_id(order_id),
            )
            .await
    }

    /// Everything changed after `watermark` (`None`: from the beginning),
    /// page by page; see [`PollStream`]. The watermark is sent in UTC
    /// (`YYYY-MM-DDThh:mm:ss.SSSZ`): a value without a zone is read as UTC,
    /// a date only as midnight UTC
    /// ([the watermark on the wire](PollStream#the-watermark-on-the-wire)).
    pub fn stream_since(&self, watermark: Option<DateTime>) -> PollStream<Order> {
        self.stream_filtered(order_filters(watermark))
    }

    /// Like [`stream_since`](Self::stream_since), with more filters (e.g.
    /// `status.processStatus`); the watermark is `filters.last_updated_after`.
    pub fn stream_filtered(&self, filters: OrderPollFilters) -> PollStream<Order> {
        let start = filters.last_updated_after.clone();
        PollStream::from_pages(
            self.client,
            start,
            move |offset| order_request(&filters, offset),
            |client, request| Box::pin(async move { client.orders().poll_page(&request).await }),
        )
    }

    /// Everything changed after `watermark`, all pages at once.
    ///
    /// ```no_run
    /// # async fn run(client: tradecloud::client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let watermark = std::fs::read_to_string("watermark.txt").ok().map(|s| s.trim().parse()).transpose()?;
    /// let batch = client.orders().poll_since(watermark).await?;
    /// for order in &batch.items {
    ///     // process the order ...
    /// }
    /// if let Some(next) = &batch.next_watermark {
    ///     // Write durably (write a temporary file, fsync, rename) in real code.
    ///     std::fs::write("watermark.txt", next.as_str())?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn poll_since(
        &self,
        watermark: Option<DateTime>,
    ) -> Result<PollBatch<Order>, PollError> {
        self.poll_filtered(order_filters(watermark)).await
    }

    /// Like [`poll_since`](Self::poll_since), with more filters.
    pub async fn poll_filtered(
        &self,
        filters: OrderPollFilters,
    ) -> Result<PollBatch<Order>, PollError> {
        self.stream_filtered(filters).collect().await
    }

    /// One page, as you ask for it (`POST /order-search/poll`): the
    /// request goes out as given, `lastUpdatedAfter` included (the
    /// streams and polls above write it in UTC).
    pub async fn poll_page(
        &self,
        request: &OrderPollRequest,
    ) -> Result<OrderPollResponse, ClientError> {
        let api = &self.client.inner.order_search;
        self.client
            .call(|| "the order poll".into(), api.poll_orders(request))
            .await
    }

    /// Sends a new or updated purchase order with a delivery schedule per
    /// line (`POST /api-connector/order`, order/buyer/issue/README.md,
    /// order/buyer/update.md); also how lines are cancelled, completed or
    /// marked delivered with the whole order. JSON, or tXML with
    /// [`.format(WireFormat::Txml)`](Message::format). Tradecloud answers
    /// `{"ok": true}` once the order is queued.
    ///
    /// # Retries
    ///
    /// [`Resend::Always`](super::Resend::Always) when every document of
    /// the order and its lines has a `code` (or there are none): sending
    /// it again is an update with the same data, since Tradecloud updates
    /// the order by its `purchaseOrderNumber` and matches lines by
    /// `lines.position` and delivery lines by `deliverySchedule.position`
    /// and `deliveryHistory.position` (order/buyer/update.md), and a
    /// document "with the same code" is replaced. A document without a
    /// code "will be appended" (attach-document-api.md), so with one the
    /// order is [`Resend::IfNotReceived`](super::Resend::IfNotReceived):
    /// sent again only when Tradecloud provably did not take it (a refused
    /// connection, a `429`), not after a `5xx` or a time-out. Give your
    /// documents a `code` to have it retried always.
    ///
    /// ```no_run
    /// use tradecloud::api::api_connector::types::{OrderByBuyer, OrderLineByBuyer, SendOrderByBuyer};
    /// use tradecloud::api::common::types::{DeliveryScheduleLine, Item, Prices};
    /// use tradecloud::types::chrono::NaiveDate;
    ///
    /// # async fn run(client: tradecloud::client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let june_2 = NaiveDate::from_ymd_opt(2025, 6, 2).ok_or("not a date")?;
    /// let order = SendOrderByBuyer::builder()
    ///     .order(OrderByBuyer::builder().supplier_account_number("540830").purchase_order_number("PO123"))
    ///     .lines([OrderLineByBuyer::builder()
    ///         .position("0001")
    ///         .item(Item::builder().number("8711223344").name("Bearing").purchase_unit_of_measure_iso("PCE"))
    ///         .delivery_schedule([
    ///             DeliveryScheduleLine::builder().position("1").date(june_2).quantity(40),
    ///         ])])
    ///     .build();
    /// client.orders().send(&order).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn send(
        &self,
        order: &'a connector::SendOrderByBuyer,
    ) -> Message<'a, connector::SendOrderByBuyer, OkResponse> {
        let message = Message::new(
            self.client,
            &api_connector::operations::SEND_ORDER_BY_BUYER_ROUTE,
            connector_version(),
            &[],
            order,
            Some(&connector_shapes::SendOrderByBuyer),
            format!("the order {}", order.order.purchase_order_number),
        );
        resend_by_documents(
            message,
            &order.order.documents,
            order.lines.iter().flatten().map(|l| &l.documents),
        )
    }

    /// Sends order and line indicators only (`cancelled`, `completed`,
    /// `delivered`, ...) for an existing order
    /// (`POST /api-connector/order/indicators`, order/buyer/cancel.md,
    /// complete.md, receive-goods.md). An indicator on the order applies to
    /// all its lines. Not for single delivery orders. JSON only.
    ///
    /// # Retries
    ///
    /// [`Resend::Always`](super::Resend::Always): an indicator sets a state
    /// of the order or line matched by `purchaseOrderNumber` and `position`;
    /// setting it again sets the same state.
    pub fn send_indicators(
        &self,
        indicators: &'a connector::SendOrderIndicatorsByBuyer,
    ) -> Message<'a, connector::SendOrderIndicatorsByBuyer, OkResponse> {
        Message::new(
            self.client,
            &api_connector::operations::SEND_ORDER_INDICATORS_BY_BUYER_ROUTE,
            connector_version(),
            &[],
            indicators,
            Some(&connector_shapes::SendOrderIndicatorsByBuyer),
            format!(
                "the indicators of order {}",
                indicators.order.purchase_order_number
            ),
        )
    }

    /// Attaches documents to an existing order or its lines
    /// (`POST /api-connector/order/documents`,
    /// order/buyer/issue/attach-document-api.md): files uploaded with
    /// [`documents().upload`](Documents::upload) (`objectId`), on your
    /// own server (`url`), or meta data only. Creates the
    /// `OrderDocumentsAttachedByBuyer` event for the supplier. JSON only.
    /// The buyer's call: a supplier attaches documents with its order
    /// response ([`respond`](Self::respond), `documents` on the order or a
    /// line; order/supplier/send-order-response/attach-document.md).
    ///
    /// # Retries
    ///
    /// "If a document with the same code is already attached to the order
    /// or line, the document will be replaced, else it will be appended"
    /// (attach-document-api.md). So when every document has a `code`,
    /// sending again replaces them with themselves:
    /// [`Resend::Always`](super::Resend::Always). When one has none,
    /// sending again would attach it twice:
    /// [`Resend::IfNotReceived`](super::Resend::IfNotReceived): sent again
    /// only when Tradecloud provably did not take it (a refused
    /// connection, a `429`), not after a `5xx` or a time-out. Give your
    /// documents a code to have it retried always.
    pub fn attach_documents(
        &self,
        documents: &'a connector::AttachOrderDocumentsByBuyer,
    ) -> Message<'a, connector::AttachOrderDocumentsByBuyer, OkResponse> {
        let message = Message::new(
            self.client,
            &api_connector::operations::ATTACH_ORDER_DOCUMENTS_BY_BUYER_ROUTE,
            connector_version(),
            &[],
            documents,
            Some(&connector_shapes::AttachOrderDocumentsByBuyer),
            format!(
                "the documents of order {}",
                documents.order.purchase_order_number
            ),
        );
        resend_by_documents(
            message,
            &documents.order.documents,
            documents.lines.iter().flatten().map(|l| &l.documents),
        )
    }

    /// Appends deliveries (goods received) to the delivery history of
    /// existing order lines (`POST /api-connector/order/deliveries`,
    /// order/buyer/receive-goods.md). Not for single delivery orders. JSON
    /// only.
    ///
    /// # Retries
    ///
    /// [`Resend::IfNotReceived`](super::Resend::IfNotReceived): this
    /// endpoint "will append the deliveries to the order line's delivery
    /// history" (receive-goods.md), so the same message sent twice records
    /// the goods twice. When retries matter, send the whole history with
    /// [`send_delivery_history`](Self::send_delivery_history), which
    /// replaces it and is retried.
    pub fn send_deliveries(
        &self,
        deliveries: &'a connector::SendOrderDeliveriesByBuyer,
    ) -> Message<'a, connector::SendOrderDeliveriesByBuyer, OkResponse> {
        Message::new(
            self.client,
            &api_connector::operations::SEND_ORDER_DELIVERIES_BY_BUYER,
            connector_version(),
            &[],
            deliveries,
            Some(&connector_shapes::SendOrderDeliveriesByBuyer),
            format!(
                "the deliveries of order {}",
                deliveries.order.purchase_order_number
            ),
        )
        .resend_if_not_received(
            "sending the deliveries again would append them twice; check the lines' delivery history \
             (client.orders().get) first, or send the whole history with send_delivery_history, which replaces it",
        )
    }

    /// Replaces the delivery history of the order lines in the message
    /// (`POST /api-connector/order/deliveryHistory`,
    /// order/buyer/receive-goods.md); an empty `deliveryHistory` clears a
    /// line's, lines not in the message stay as they are. Not for single
    /// delivery orders. JSON only.
    ///
    /// # Retries
    ///
    /// [`Resend::Always`](super::Resend::Always): "this endpoint replaces
    /// the delivery history per order line with the deliveries in the
    /// request" (receive-goods.md); replacing it again with the same
    /// deliveries changes nothing.
    pub fn send_delivery_history(
        &self,
        history: &'a connector::SendOrderDeliveryHistoryByBuyer,
    ) -> Message<'a, connector::SendOrderDeliveryHistoryByBuyer, OkResponse> {
        Message::new(
            self.client,
            &api_connector::operations::SEND_ORDER_DELIVERY_HISTORY_BY_BUYER,
            connector_version(),
            &[],
            history,
            Some(&connector_shapes::SendOrderDeliveryHistoryByBuyer),
            format!(
                "the delivery history of order {}",
                history.order.purchase_order_number
            ),
        )
    }

    /// Answers a purchase order as the supplier: accept, reject or propose
    /// per line or for the whole order
    /// (`POST /api-connector/order-response`,
    /// order/supplier/send-order-response/README.md). JSON, or tXML with
    /// [`.format(WireFormat::Txml)`](Message::format).
    ///
    /// # Retries
    ///
    /// [`Resend::Always`](super::Resend::Always) when every document of
    /// the response and its lines has a `code` (or there are none): the
    /// response is matched to the order by `purchaseOrderNumber` and to
    /// its lines by `purchaseOrderLinePosition`; a line "stays `Confirmed`
    /// if responded values match the confirmed values"
    /// (send-order-response/README.md), and a document "with the same
    /// code" is replaced, so the same response sent again is an update
    /// with the same data. A document without a code "will be appended"
    /// (send-order-response/attach-document.md), so with one the response
    /// is [`Resend::IfNotReceived`](super::Resend::IfNotReceived): sent
    /// again only when Tradecloud provably did not take it (a refused
    /// connection, a `429`), not after a `5xx` or a time-out. Give your
    /// documents a `code` to have it retried always.
    ///
    /// ```no_run
    /// use tradecloud::api::api_connector::types::{
    ///     OrderResponseBySupplier, OrderResponseLineBySupplier, SendOrderResponseBySupplier,
    /// };
    /// use tradecloud::api::common::types::SupplierLineIndicators;
    ///
    /// # async fn run(client: tradecloud::client::Client) -> Result<(), tradecloud::client::ClientError> {
    /// let response = SendOrderResponseBySupplier::builder()
    ///     .order(OrderResponseBySupplier::builder().buyer_account_number("340760").purchase_order_number("PO123"))
    ///     .lines([OrderResponseLineBySupplier::builder()
    ///         .purchase_order_line_position("0001")
    ///         .indicators(SupplierLineIndicators::builder().accepted(true))])
    ///     .build();
    /// client.orders().respond(&response).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn respond(
        &self,
        response: &'a connector::SendOrderResponseBySupplier,
    ) -> Message<'a, connector::SendOrderResponseBySupplier, OkResponse> {
        let message = Message::new(
            self.client,
            &api_connector::operations::SEND_ORDER_RESPONSE_BY_SUPPLIER_ROUTE,
            connector_version(),
            &[],
            response,
            Some(&connector_shapes::SendOrderResponseBySupplier),
            format!(
                "the order response to {}",
                response.order.purchase_order_number
            ),
        );
        resend_by_documents(
            message,
            &response.order.documents,
            response.lines.iter().map(|l| &l.documents),
        )
    }

    /// Approves, as the buyer, the open supplier requests (proposals,
    /// reopen and reschedule requests) of the given lines
    /// (`POST /order/{orderId}/requests/buyer/approve`; Tradecloud's
    /// example BulkApproveRejectRequests). Answers `()`, as every order
    /// action: Tradecloud documents no members of the answer (its examples
    /// only print it), so a success is all there is to know; fetch the
    /// order ([`get`](Self::get)) for the lines' new state.
    ///
    /// ```no_run
    /// use tradecloud::api::order::types::ApproveRequestsAsBuyer;
    ///
    /// # async fn run(client: tradecloud::client::Client) -> Result<(), tradecloud::client::ClientError> {
    /// let approval = ApproveRequestsAsBuyer::builder().line_positions(["0001"]).build();
    /// let () = client.orders().approve_requests("7e1f5b2c", &approval).await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Retries
    ///
    /// [`Resend::Always`](super::Resend::Always), as every order action but
    /// [`resend`](Self::resend): an action moves the lines to a state, and
    /// repeating it cannot apply it twice (an approved request is no longer
    /// open). A repeat after an answer was lost may be answered `400`
    /// ([`ClientError::Rejected`]) or, with
    /// `version`, `409` ([`ClientError::Conflict`]):
    /// fetch the order to see where it stands.
    pub fn approve_requests(
        &self,
        order_id: &'a str,
        approval: &'a actions::ApproveRequestsAsBuyer,
    ) -> Message<'a, actions::ApproveRequestsAsBuyer, ()> {
        self.action(
            &order::operations::APPROVE_REQUESTS_AS_BUYER_ROUTE,
            &[("orderId", order_id)],
            approval,
            Some(&action_shapes::ApproveRequestsAsBuyer),
            on_order("the approval of requests", order_id),
        )
    }

    /// Rejects, as the buyer, the open supplier requests of the given lines,
    /// with a reason (`POST /order/{orderId}/requests/buyer/reject`).
    /// Retries as [`approve_requests`](Self::approve_requests).
    pub fn reject_requests(
        &self,
        order_id: &'a str,
        rejection: &'a actions::RejectRequestsAsBuyer,
    ) -> Message<'a, actions::RejectRequestsAsBuyer, ()> {
        self.action(
            &order::operations::REJECT_REQUESTS_AS_BUYER_ROUTE,
            &[("orderId", order_id)],
            rejection,
            Some(&action_shapes::RejectRequestsAsBuyer),
            on_order("the rejection of requests", order_id),
        )
    }

    /// Approves the supplier's shipment reschedule request of one line
    /// (`POST /order/{orderId}/line/{position}/reschedule/approve`).
    /// Retries as [`approve_requests`](Self::approve_requests).
    pub fn approve_reschedule(
        &self,
        order_id: &'a str,
        position: &'a str,
        approval: &'a actions::ApproveShipmentRescheduleRequest,
    ) -> Message<'a, actions::ApproveShipmentRescheduleRequest, ()> {
        self.action(
            &order::operations::APPROVE_SHIPMENT_RESCHEDULE_REQUEST_ROUTE,
            &[("orderId", order_id), ("position", position)],
            approval,
            Some(&action_shapes::ApproveShipmentRescheduleRequest),
            on_order(
                &format!("the reschedule approval of line {position}"),
                order_id,
            ),
        )
    }

    /// Rejects the supplier's shipment reschedule request of one line, with
    /// a reason (`POST /order/{orderId}/line/{position}/reschedule/reject`).
    /// Retries as [`approve_requests`](Self::approve_requests).
    pub fn reject_reschedule(
        &self,
        order_id: &'a str,
        position: &'a str,
        rejection: &'a actions::RejectShipmentRescheduleRequest,
    ) -> Message<'a, actions::RejectShipmentRescheduleRequest, ()> {
        self.action(
            &order::operations::REJECT_SHIPMENT_RESCHEDULE_REQUEST_ROUTE,
            &[("orderId", order_id), ("position", position)],
            rejection,
            Some(&action_shapes::RejectShipmentRescheduleRequest),
            on_order(
                &format!("the reschedule rejection of line {position}"),
                order_id,
            ),
        )
    }

    /// Completes order lines on the order service
    /// (`POST /order/{orderId}/complete`; the api-connector way is
    /// `completed` in [`send_indicators`](Self::send_indicators)).
    /// Retries as [`approve_requests`](Self::approve_requests).
    pub fn complete_lines(
        &self,
        order_id: &'a str,
        lines: &'a actions::OrderLinePositions,
    ) -> Message<'a, actions::OrderLinePositions, ()> {
        self.action(
            &order::operations::COMPLETE_ORDER_LINES,
            &[("orderId", order_id)],
            lines,
            Some(&action_shapes::OrderLinePositions),
            on_order("completing lines", order_id),
        )
    }

    /// Marks order lines delivered on the order service
    /// (`POST /order/{orderId}/deliver`). Retries as
    /// [`approve_requests`](Self::approve_requests).
    pub fn deliver_lines(
        &self,
        order_id: &'a str,
        lines: &'a actions::OrderLinePositions,
    ) -> Message<'a, actions::OrderLinePositions, ()> {
        self.action(
            &order::operations::DELIVER_ORDER_LINES,
            &[("orderId", order_id)],
            lines,
            Some(&action_shapes::OrderLinePositions),
            on_order("delivering lines", order_id),
        )
    }

    /// Reverts cancelled order lines (`POST /order/{orderId}/revertCancelled`).
    /// Retries as [`approve_requests`](Self::approve_requests).
    pub fn revert_cancelled_lines(
        &self,
        order_id: &'a str,
        lines: &'a actions::RevertOrderLines,
    ) -> Message<'a, actions::RevertOrderLines, ()> {
        self.action(
            &order::operations::REVERT_CANCELLED_ORDER_LINES,
            &[("orderId", order_id)],
            lines,
            Some(&action_shapes::RevertOrderLines),
            on_order("reverting cancelled lines", order_id),
        )
    }

    /// Reverts completed order lines (`POST /order/{orderId}/revertCompleted`).
    /// Retries as [`approve_requests`](Self::approve_requests).
    pub fn revert_completed_lines(
        &self,
        order_id: &'a str,
        lines: &'a actions::RevertOrderLines,
    ) -> Message<'a, actions::RevertOrderLines, ()> {
        self.action(
            &order::operations::REVERT_COMPLETED_ORDER_LINES,
            &[("orderId", order_id)],
            lines,
            Some(&action_shapes::RevertOrderLines),
            on_order("reverting completed lines", order_id),
        )
    }

    /// Sets the logistics status, ETD and ETA of delivery lines of one
    /// order line (`POST /order/{orderId}/line/{position}/deliverySchedule`;
    /// Tradecloud's example SetDeliverySchedule). Retries as
    /// [`approve_requests`](Self::approve_requests).
    pub fn update_delivery_schedule(
        &self,
        order_id: &'a str,
        position: &'a str,
        update: &'a actions::UpdateOrderLineDeliverySchedule,
    ) -> Message<'a, actions::UpdateOrderLineDeliverySchedule, ()> {
        self.action(
            &order::operations::UPDATE_ORDER_LINE_DELIVERY_SCHEDULE,
            &[("orderId", order_id), ("position", position)],
            update,
            Some(&action_shapes::UpdateOrderLineDeliverySchedule),
            on_order(
                &format!("the delivery schedule of line {position}"),
                order_id,
            ),
        )
    }

    /// Makes another user the buyer contact of the order
    /// (`POST /order/{orderId}/buyer/contact/reassign`). Retries as
    /// [`approve_requests`](Self::approve_requests).
    pub fn reassign_contact(
        &self,
        order_id: &'a str,
        contact: &'a actions::ReassignContact,
    ) -> Message<'a, actions::ReassignContact, ()> {
        self.action(
            &order::operations::REASSIGN_BUYER_CONTACT,
            &[("orderId", order_id)],
            contact,
            Some(&action_shapes::ReassignContact),
            on_order("reassigning the contact", order_id),
        )
    }

    /// Sends the order to the buyer's own integration again, as the
    /// portal's resend does ("manually resent the order to their ERP
    /// system", connectors/webhooks/order-events.md)
    /// (`POST /order/{orderId}/buyer/resend`, event `OrderResentByBuyer`;
    /// Tradecloud's example ResendOrders sends `{}`, as
    /// `ResendOrder::default()` does).
    ///
    /// # Retries
    ///
    /// [`Resend::IfNotReceived`](super::Resend::IfNotReceived): each call
    /// is one more delivery to the buyer's webhook.
    pub fn resend(
        &self,
        order_id: &'a str,
        body: &'a actions::ResendOrder,
    ) -> Message<'a, actions::ResendOrder, ()> {
        self.action(
            &order::operations::BUYER_RESEND_ORDER_ROUTE,
            &[("orderId", order_id)],
            body,
            Some(&action_shapes::ResendOrder),
            on_order("resending", order_id),
        )
        .resend_if_not_received(
            "each resend delivers the order to the buyer's webhook once more; check whether it \
             arrived before resending it",
        )
    }

    fn action<B: serde::Serialize + crate::types::Validate>(
        &self,
        operation: &'static crate::operation::Operation,
        params: &[(&str, &str)],
        body: &'a B,
        shape: Option<&'static crate::webhook::txml::Shape>,
        what: String,
    ) -> Message<'a, B, ()> {
        Message::new(
            self.client,
            operation,
            order_version(),
            params,
            body,
            shape,
            what,
        )
    }

    /// The generated client of the order API (same authentication, retries
    /// and rate limit), for operations without a call here.
    pub fn api(&self) -> &order::client::OrderClient {
        &self.client.inner.order
    }

    /// The generated client of the order search (polling) API, for both
    /// kinds of order.
    pub fn search_api(&self) -> &order_search::client::OrderSearchClient {
        &self.client.inner.order_search
    }
}

impl<'a> SingleDeliveryOrders<'a> {
    /// Sends a new or updated purchase order with a single delivery per
    /// line (`POST /api-connector/order/single-delivery`,
    /// order/buyer/issue/delivery-schedule.md). JSON, or tXML with
    /// [`.format(WireFormat::Txml)`](Message::format) (root element
    /// `SendOrderByBuyer`, as the delivery schedule variant).
    ///
    /// # Retries
    ///
    /// As [`orders().send`](Orders::send):
    /// [`Resend::Always`](super::Resend::Always) when every document of
    /// the order and its lines has a `code` (or there are none), since
    /// Tradecloud updates the order by its `purchaseOrderNumber` and line
    /// positions (order/buyer/update.md) and replaces a document "with the
    /// same code"; with a document without a code, which "will be
    /// appended" (attach-document-api.md),
    /// [`Resend::IfNotReceived`](super::Resend::IfNotReceived): not sent
    /// again after a `5xx` or a time-out. Give your documents a `code` to
    /// have it retried always.
    pub fn send(
        &self,
        order: &'a connector::SendSingleDeliveryOrderByBuyer,
    ) -> Message<'a, connector::SendSingleDeliveryOrderByBuyer, OkResponse> {
        let message = Message::new(
            self.client,
            &api_connector::operations::SEND_SINGLE_DELIVERY_ORDER_BY_BUYER_ROUTE,
            connector_version(),
            &[],
            order,
            Some(&connector_shapes::SendSingleDeliveryOrderByBuyer),
            format!("the order {}", order.order.purchase_order_number),
        );
        resend_by_documents(
            message,
            &order.order.documents,
            order.lines.iter().flatten().map(|l| &l.documents),
        )
    }

    /// Everything changed after `watermark`, page by page; see [`PollStream`].
    pub fn stream_since(&self, watermark: Option<DateTime>) -> PollStream<SingleDeliveryOrder> {
        self.stream_filtered(order_filters(watermark))
    }

    /// Like [`stream_since`](Self::stream_since), with more filters.
    pub fn stream_filtered(&self, filters: OrderPollFilters) -> PollStream<SingleDeliveryOrder> {
        let start = filters.last_updated_after.clone();
        PollStream::from_pages(
            self.client,
            start,
            move |offset| order_request(&filters, offset),
            |client, request| {
                Box::pin(async move { client.single_delivery_orders().poll_page(&request).await })
            },
        )
    }

    /// Everything changed after `watermark`, all pages at once.
    pub async fn poll_since(
        &self,
        watermark: Option<DateTime>,
    ) -> Result<PollBatch<SingleDeliveryOrder>, PollError> {
        self.poll_filtered(order_filters(watermark)).await
    }

    /// Like [`poll_since`](Self::poll_since), with more filters.
    pub async fn poll_filtered(
        &self,
        filters: OrderPollFilters,
    ) -> Result<PollBatch<SingleDeliveryOrder>, PollError> {
        self.stream_filtered(filters).collect().await
    }

    /// One page (`POST /order-search/poll/single-delivery`).
    pub async fn poll_page(
        &self,
        request: &OrderPollRequest,
    ) -> Result<SingleDeliveryOrderPollResponse, ClientError> {
        let api = &self.client.inner.order_search;
        self.client
            .call(
                || "the single-delivery order poll".into(),
                api.poll_orders_single_delivery(request),
            )
            .await
    }
}

impl<'a> Shipments<'a> {
    /// Sends a new or updated despatch advice as the supplier
    /// (`POST /api-connector/shipment/despatch-advice`,
    /// shipment/supplier/send-despatch-advice.md). The buyer account number
    /// is verified; missing item details are taken from the purchase
    /// order. JSON only.
    ///
    /// # Retries
    ///
    /// [`Resend::Always`](super::Resend::Always): Tradecloud takes "either a
    /// new or updated despatch advice", identified by its unique
    /// `despatchAdviceNumber` (send-despatch-advice.md); the same advice
    /// sent again updates it with the same data.
    ///
    /// ```no_run
    /// use tradecloud::api::api_connector::types::{DespatchAdviceHeader, DespatchAdviceLine, SendDespatchAdviceBySupplier};
    ///
    /// # async fn run(client: tradecloud::client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let advice = SendDespatchAdviceBySupplier::builder()
    ///     .header(DespatchAdviceHeader::builder().buyer_account_number("340760").despatch_advice_number("DA-1001"))
    ///     .lines([DespatchAdviceLine::builder()
    ///         .despatch_advice_line_position("1")
    ///         .purchase_order_number("PO123")
    ///         .purchase_order_line_position("0001")
    ///         .despatch_quantity(tradecloud::types::Decimal::new(405, 1))]) // 40.5
    ///     .build();
    /// client.shipments().send_despatch_advice(&advice).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_despatch_advice(
        &self,
        advice: &'a connector::SendDespatchAdviceBySupplier,
    ) -> Message<'a, connector::SendDespatchAdviceBySupplier, OkResponse> {
        Message::new(
            self.client,
            &api_connector::operations::SEND_DESPATCH_ADVICE_BY_SUPPLIER_ROUTE,
            connector_version(),
            &[],
            advice,
            Some(&connector_shapes::SendDespatchAdviceBySupplier),
            format!(
                "the despatch advice {}",
                advice.header.despatch_advice_number
            ),
        )
    }

    /// A shipment with all its lines and documents
    /// (`GET /shipment/{shipmentId}`).
    pub async fn get(&self, shipment_id: &str) -> Result<Shipment, ClientError> {
        let api = &self.client.inner.shipment;
        self.client
            .call(
                || format!("shipment {shipment_id}"),
                api.get_shipment_by_id(shipment_id),
            )
            .await
    }

    /// Everything changed after `watermark`, page by page; see [`PollStream`].
    pub fn stream_since(&self, watermark: Option<DateTime>) -> PollStream<Shipment> {
        self.stream_filtered(shipment_filters(watermark))
    }

    /// Like [`stream_since`](Self::stream_since), with more filters.
    pub fn stream_filtered(&self, filters: ShipmentPollFilters) -> PollStream<Shipment> {
        let start = filters.last_updated_after.clone();
        PollStream::from_pages(
            self.client,
            start,
            move |offset| shipment_request(&filters, offset),
            |client, request| Box::pin(async move { client.shipments().poll_page(&request).await }),
        )
    }

    /// Everything changed after `watermark`, all pages at once.
    pub async fn poll_since(
        &self,
        watermark: Option<DateTime>,
    ) -> Result<PollBatch<Shipment>, PollError> {
        self.poll_filtered(shipment_filters(watermark)).await
    }

    /// Like [`poll_since`](Self::poll_since), with more filters.
    pub async fn poll_filtered(
        &self,
        filters: ShipmentPollFilters,
    ) -> Result<PollBatch<Shipment>, PollError> {
        self.stream_filtered(filters).collect().await
    }

    /// One page (`POST /shipment/poll`).
    pub async fn poll_page(
        &self,
        request: &ShipmentPollRequest,
    ) -> Result<ShipmentPollResponse, ClientError> {
        let api = &self.client.inner.shipment;
        self.client
            .call(|| "the shipment poll".into(), api.poll_shipments(request))
            .await
    }

    /// The generated client of the shipment API.
    pub fn api(&self) -> &shipment::client::ShipmentClient {
        &self.client.inner.shipment
    }
}

/// The resend rule of both forecast calls: a forecast "cannot be updated.
/// Issued forecasts will always be appended to the existing set of
/// forecasts" (forecast/issue.md, forecast/slimstock.md), so a forecast
/// sent twice is there twice.
const FORECAST_NOT_RESENT: &str = "sending the forecast again would append it twice (a forecast \
     is never updated); check with Tradecloud whether it arrived before sending it again";

impl<'a> Forecasts<'a> {
    /// Sends a new forecast as the buyer: per item, a schedule of periods
    /// (`startDate`, `endDate`) and their forecasted `quantity`
    /// (`POST /api-connector/forecast`, forecast/issue.md). JSON only. The
    /// supplier is found by `header.supplierAccountNumber`, which
    /// Tradecloud verifies. Send a forecast when your forecast or ERP
    /// system made a new one; never resend all forecasts periodically
    /// (api/rules.md).
    ///
    /// # Retries
    ///
    /// [`Resend::IfNotReceived`](super::Resend::IfNotReceived), as
    /// [`orders().send_deliveries`](Orders::send_deliveries): "a forecast
    /// cannot be updated. Issued forecasts will always be appended to the
    /// existing set of forecasts" (forecast/issue.md), so the same forecast
    /// sent twice is stored twice. It is sent again only when Tradecloud
    /// provably did not take it (a refused connection, a `429`), not after
    /// a `5xx` or a time-out: that failure is
    /// [`ClientError::NotResent`], and you check before sending it again.
    ///
    /// ```no_run
    /// use tradecloud::api::api_connector::types::{
    ///     ForecastHeaderByBuyer, ForecastItemByBuyer, ForecastLineByBuyer,
    ///     ForecastScheduleLineByBuyer, SendForecastByBuyer,
    /// };
    ///
    /// # async fn run(client: tradecloud::client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let forecast = SendForecastByBuyer::builder()
    ///     .header(ForecastHeaderByBuyer::builder().supplier_account_number("540830").forecast_number("F2024-01"))
    ///     .lines([ForecastLineByBuyer::builder()
    ///         .item(ForecastItemByBuyer::builder().buyer_item_number("12345").buyer_item_name("Round tube"))
    ///         .schedule([ForecastScheduleLineByBuyer::builder()
    ///             .start_date("2024-01-01".parse::<tradecloud::types::Date>()?)
    ///             .end_date("2024-01-31".parse::<tradecloud::types::Date>()?)
    ///             .quantity("1234.56".parse::<tradecloud::types::Decimal>()?)])])
    ///     .build();
    /// client.forecasts().send(&forecast).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn send(
        &self,
        forecast: &'a connector::SendForecastByBuyer,
    ) -> Message<'a, connector::SendForecastByBuyer, OkResponse> {
        Message::new(
            self.client,
            &api_connector::operations::SEND_FORECAST_BY_BUYER_ROUTE,
            connector_version(),
            &[],
            forecast,
            Some(&connector_shapes::SendForecastByBuyer),
            format!("forecast {}", forecast.header.forecast_number),
        )
        .resend_if_not_received(FORECAST_NOT_RESENT)
    }

    /// Sends a new forecast from Slimstock as the buyer: per item, up to 36
    /// months of forecasted demand, `M0` (the month of `startDate`) to
    /// `M35` (`POST /api-connector/forecast/slimstock`,
    /// forecast/slimstock.md). JSON only. The supplier is found by
    /// `header.supplierAccountNumber`, which Tradecloud verifies.
    ///
    /// # Retries
    ///
    /// [`Resend::IfNotReceived`](super::Resend::IfNotReceived), as
    /// [`send`](Self::send): a Slimstock forecast is appended too, never
    /// updated.
    ///
    /// ```no_run
    /// use tradecloud::api::api_connector::types::{
    ///     ForecastHeaderByBuyer, SendSlimstockForecastByBuyer, SlimstockForecastLineByBuyer,
    /// };
    /// use tradecloud::types::Decimal;
    ///
    /// # async fn run(client: tradecloud::client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let forecast = SendSlimstockForecastByBuyer::builder()
    ///     .header(ForecastHeaderByBuyer::builder().supplier_account_number("540830").forecast_number("F2024-01"))
    ///     .lines([SlimstockForecastLineByBuyer::builder()
    ///         .buyer_item_number("12345")
    ///         .buyer_item_name("Round tube")
    ///         .start_date("2024-01-01".parse::<tradecloud::types::Date>()?)
    ///         .m0("111.11".parse::<Decimal>()?)
    ///         .m1("222.22".parse::<Decimal>()?)])
    ///     .build();
    /// client.forecasts().send_slimstock(&forecast).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_slimstock(
        &self,
        forecast: &'a connector::SendSlimstockForecastByBuyer,
    ) -> Message<'a, connector::SendSlimstockForecastByBuyer, OkResponse> {
        Message::new(
            self.client,
            &api_connector::operations::SEND_SLIMSTOCK_FORECAST_BY_BUYER_ROUTE,
            connector_version(),
            &[],
            forecast,
            Some(&connector_shapes::SendSlimstockForecastByBuyer),
            format!("Slimstock forecast {}", forecast.header.forecast_number),
        )
        .resend_if_not_received(FORECAST_NOT_RESENT)
    }
}

impl<'a> Documents<'a> {
    /// A document's metadata, with a fresh presigned `downloadUrl`
    /// (`GET /object-storage/document/{objectId}/metadata`).
    pub async fn metadata(&self, object_id: &str) -> Result<DocumentMetadata, ClientError> {
        let api = &self.client.inner.object_storage;
        self.client
            .call(
                || format!("document {object_id}"),
                api.get_document_metadata(object_id),
            )
            .await
    }

    /// Downloads a document's file into `dest` (a directory, where the file
    /// gets its own name as the [file-name policy](Download#file-names)
    /// says, or a file path) when awaited; add
    /// [`progress`](Download::progress) for progress reports. `source` is a
    /// document of an order or shipment, an `objectId` or a URL (see
    /// [`DocumentSource`]).
    ///
    /// * `objectId`: fetches the metadata for a presigned `downloadUrl` and
    ///   GETs it without an `Authorization` header; when the URL has expired
    ///   (its `X-Amz-Expires` lifetime passed before the GET, or the storage
    ///   answers 400/401/403) it fetches fresh metadata and tries again, up
    ///   to three times.
    /// * `url`: GETs the URL.
    /// * neither: returns [`DownloadOutcome::NoFile`](super::DownloadOutcome::NoFile).
    ///
    /// The file streams through a small buffer into a temporary file in the
    /// destination directory (constant memory, whatever the size), is
    /// flushed and `fsync`ed and then renamed into place. On error or
    /// cancellation the temporary file is removed and nothing appears under
    /// the final name.
    ///
    /// # Retries
    ///
    /// Retried by the client's [`RetryPolicy`](super::RetryPolicy), the same
    /// as API calls: `5xx`, `429` and `408` answers (honouring
    /// `Retry-After`), time-outs, refused or reset connections, transfers
    /// that broke off or ended short, a name lookup that failed for the
    /// time being. Failing at once, after one attempt: a host name that
    /// does not resolve or a TLS certificate that is refused
    /// ([`ClientError::DownloadUnreachable`]), and `404` and every other
    /// `4xx` answer ([`ClientError::DownloadFailed`]), since a retry cannot
    /// change them. [`ClientError::is_transient`] tells a handler which of
    /// the final errors may go away later.
    pub fn download(
        &self,
        source: impl Into<DocumentSource>,
        dest: impl AsRef<Path>,
    ) -> Download<'a> {
        Download::new(self.client, source.into(), dest.as_ref().to_path_buf())
    }

    /// Uploads a file to Tradecloud's object storage when awaited
    /// (`POST /object-storage/document`,
    /// order/supplier/send-order-response/attach-document.md): its
    /// [`Uploaded::object_id`](super::Uploaded::object_id) is then attached
    /// as `documents.objectId` of an order response, an order, a line or
    /// an attach-documents message. See [`Upload`] for the file name, the
    /// media type and [`progress`](Upload::progress) reports.
    ///
    /// The file streams from disk in chunks (constant memory, whatever its
    /// size). A file name with an extension Tradecloud blocks
    /// ([`blocked_extension`](super::blocked_extension), security/documents.md)
    /// fails before anything is sent.
    ///
    /// # Retries
    ///
    /// [`Resend::IfNotReceived`](super::Resend::IfNotReceived): each upload
    /// stores a new document under a new `objectId`, so the file is sent
    /// again (read from disk again) only when it provably did not arrive:
    /// no connection, refused unread (`429`, `408`, a `401` renewing the
    /// token), or a connection that broke before the whole file went out.
    /// After a `5xx` answer, a time-out, or a connection lost once the
    /// whole file was sent, the upload fails with
    /// [`ClientError::NotResent`]: uploading again is safe but stores a
    /// second copy, of which only the `objectId` you attach is ever shown,
    /// so that error is [transient](ClientError::is_transient) (its
    /// `safe_to_send_again` is set).
    ///
    /// # Time-out
    ///
    /// One send may take the client's time-out plus one second per
    /// [`MIN_UPLOAD_RATE`](super::MIN_UPLOAD_RATE) bytes of the file (30 s
    /// and 5 min 20 s for 20 MB, with the default time-out).
    pub fn upload(&self, path: impl AsRef<Path>) -> Upload<'a> {
        Upload::new(self.client, path.as_ref().to_path_buf())
    }

    /// The generated client of the object storage API.
    pub fn api(&self) -> &object_storage::client::ObjectStorageClient {
        &self.client.inner.object_storage
    }
}
