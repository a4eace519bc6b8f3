//! The API groups of a [`Client`]: [`client.orders()`](Client::orders),
//! [`client.single_delivery_orders()`](Client::single_delivery_orders),
//! [`client.shipments()`](Client::shipments) and
//! [`client.documents()`](Client::documents). Each is a cheap view of the
//! client (same tokens, retries and rate limit) with the calls of one kind
//! of object.

use std::path::Path;

use super::download::Download;
use super::poll::{order_filters, shipment_filters};
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
    pub async fn get(&self, order_id: &str) -> Result<Order, ClientError> {
        self.client.get_order(order_id).await
    }

    /// Everything changed after `watermark` (`None`: from the beginning),
    /// page by page; see [`PollStream`].
    pub fn stream_since(&self, watermark: Option<DateTime>) -> PollStream<Order> {
        self.client.stream_orders(order_filters(watermark))
    }

    /// Like [`stream_since`](Self::stream_since), with more filters (e.g.
    /// `status.processStatus`); the watermark is `filters.last_updated_after`.
    pub fn stream_filtered(&self, filters: OrderPollFilters) -> PollStream<Order> {
        self.client.stream_orders(filters)
    }

    /// Everything changed after `watermark`, all pages at once.
    pub async fn poll_since(
        &self,
        watermark: Option<DateTime>,
    ) -> Result<PollBatch<Order>, ClientError> {
        self.client.poll_orders_since(watermark).await
    }

    /// One page, as you ask for it (`POST /order-search/poll`).
    pub async fn poll_page(
        &self,
        request: &OrderPollRequest,
    ) -> Result<OrderPollResponse, ClientError> {
        self.client.poll_orders(request).await
    }

    /// The generated client of the order API (same authentication, retries
    /// and rate limit).
    pub fn api(&self) -> &order::client::OrderClient {
        self.client.order_api()
    }

    /// The generated client of the order search (polling) API.
    pub fn search_api(&self) -> &order_search::client::OrderSearchClient {
        self.client.order_search_api()
    }
}

impl SingleDeliveryOrders<'_> {
    /// Everything changed after `watermark`, page by page; see [`PollStream`].
    pub fn stream_since(&self, watermark: Option<DateTime>) -> PollStream<SingleDeliveryOrder> {
        self.client
            .stream_single_delivery_orders(order_filters(watermark))
    }

    /// Like [`stream_since`](Self::stream_since), with more filters.
    pub fn stream_filtered(&self, filters: OrderPollFilters) -> PollStream<SingleDeliveryOrder> {
        self.client.stream_single_delivery_orders(filters)
    }

    /// Everything changed after `watermark`, all pages at once.
    pub async fn poll_since(
        &self,
        watermark: Option<DateTime>,
    ) -> Result<PollBatch<SingleDeliveryOrder>, ClientError> {
        self.client
            .poll_single_delivery_orders_since(watermark)
            .await
    }

    /// One page (`POST /order-search/poll/single-delivery`).
    pub async fn poll_page(
        &self,
        request: &OrderPollRequest,
    ) -> Result<SingleDeliveryOrderPollResponse, ClientError> {
        self.client.poll_single_delivery_orders(request).await
    }
}

impl Shipments<'_> {
    /// A shipment with all its lines and documents
    /// (`GET /shipment/{shipmentId}`).
    pub async fn get(&self, shipment_id: &str) -> Result<Shipment, ClientError> {
        self.client.get_shipment(shipment_id).await
    }

    /// Everything changed after `watermark`, page by page; see [`PollStream`].
    pub fn stream_since(&self, watermark: Option<DateTime>) -> PollStream<Shipment> {
        self.client.stream_shipments(shipment_filters(watermark))
    }

    /// Like [`stream_since`](Self::stream_since), with more filters.
    pub fn stream_filtered(&self, filters: ShipmentPollFilters) -> PollStream<Shipment> {
        self.client.stream_shipments(filters)
    }

    /// Everything changed after `watermark`, all pages at once.
    pub async fn poll_since(
        &self,
        watermark: Option<DateTime>,
    ) -> Result<PollBatch<Shipment>, ClientError> {
        self.client.poll_shipments_since(watermark).await
    }

    /// One page (`POST /shipment/poll`).
    pub async fn poll_page(
        &self,
        request: &ShipmentPollRequest,
    ) -> Result<ShipmentPollResponse, ClientError> {
        self.client.poll_shipments(request).await
    }

    /// The generated client of the shipment API.
    pub fn api(&self) -> &shipment::client::ShipmentClient {
        self.client.shipment_api()
    }
}

impl<'a> Documents<'a> {
    /// A document's metadata, with a fresh presigned `downloadUrl`
    /// (`GET /object-storage/document/{objectId}/metadata`).
    pub async fn metadata(&self, object_id: &str) -> Result<DocumentMetadata, ClientError> {
        self.client.document_metadata(object_id).await
    }

    /// Downloads a document's file into `dest` (a directory or a file
    /// path) when awaited; add [`progress`](Download::progress) for progress
    /// reports. See [`Client::download`] for what happens and the
    /// [file-name policy](Download#file-names) for the file
    /// name.
    pub fn download(
        &self,
        source: impl Into<DocumentSource>,
        dest: impl AsRef<Path>,
    ) -> Download<'a> {
        Download::new(self.client, source.into(), dest.as_ref().to_path_buf())
    }

    /// The generated client of the object storage API.
    pub fn api(&self) -> &object_storage::client::ObjectStorageClient {
        self.client.object_storage_api()
    }
}
