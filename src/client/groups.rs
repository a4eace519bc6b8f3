//! The API groups of a [`Client`], one per service area:
//! [`client.orders()`](Client::orders),
//! [`client.single_delivery_orders()`](Client::single_delivery_orders),
//! [`client.shipments()`](Client::shipments) and
//! [`client.documents()`](Client::documents). Each is a cheap view of the
//! client (same tokens, retries and rate limit) and the only way to make
//! its calls. A new service area gets a group of its own: a struct holding
//! `&Client`, a method on [`Client`] that returns it, and its calls written
//! with `Client::call` (which turns a generated call's error into a
//! [`ClientError`]).

use std::path::Path;

use super::download::Download;
use super::poll::{order_filters, order_request, shipment_filters, shipment_request, PollError};
use super::{Client, ClientError, DocumentSource, PollBatch, PollStream};
use crate::api::common::types::{Order, Shipment, SingleDeliveryOrder};
use crate::api::object_storage::types::DocumentMetadata;
use crate::api::order_search::types::{
    OrderPollFilters, OrderPollRequest, OrderPollResponse, SingleDeliveryOrderPollResponse,
};
use crate::api::shipment::types::{ShipmentPollFilters, ShipmentPollRequest, ShipmentPollResponse};
use crate::api::{object_storage, order, order_search, shipment};
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

/// Documents in Tradecloud's object storage or on content servers:
/// `client.documents()`.
#[derive(Debug, Clone, Copy)]
pub struct Documents<'a> {
    client: &'a Client,
}

impl Client {
    /// Orders with a delivery schedule: get, poll, stream.
    pub fn orders(&self) -> Orders<'_> {
        Orders { client: self }
    }

    /// Orders with a single delivery per line: poll, stream (get them with
    /// [`orders().get`](Orders::get)).
    pub fn single_delivery_orders(&self) -> SingleDeliveryOrders<'_> {
        SingleDeliveryOrders { client: self }
    }

    /// Shipments: get, poll, stream.
    pub fn shipments(&self) -> Shipments<'_> {
        Shipments { client: self }
    }

    /// Documents: metadata and download.
    pub fn documents(&self) -> Documents<'_> {
        Documents { client: self }
    }
}

impl Orders<'_> {
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
    /// page by page; see [`PollStream`].
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

    /// One page, as you ask for it (`POST /order-search/poll`).
    pub async fn poll_page(
        &self,
        request: &OrderPollRequest,
    ) -> Result<OrderPollResponse, ClientError> {
        let api = &self.client.inner.order_search;
        self.client
            .call(|| "the order poll".into(), api.poll_orders(request))
            .await
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

impl SingleDeliveryOrders<'_> {
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

impl Shipments<'_> {
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

    /// The generated client of the object storage API.
    pub fn api(&self) -> &object_storage::client::ObjectStorageClient {
        &self.client.inner.object_storage
    }
}
