//! [`Fetcher`]: how a GET-webhook trigger becomes the whole order or
//! shipment, and its one implementation on the API [`Client`](crate::client::Client).

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

use super::HandlerError;

/// A boxed future, for the object-safe [`Fetcher`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Fetches the whole order or shipment for a GET webhook, as the JSON bytes
/// the API returned (`GET /orders/{id}`, `GET /shipments/{id}`; stored as
/// they are). Return [`HandlerError::Transient`] for network errors, 5xx and
/// 429, [`HandlerError::Permanent`] for 404 and 403.
pub trait Fetcher: Send + Sync + 'static {
    /// The order with this Tradecloud order id.
    fn fetch_order<'a>(&'a self, order_id: &'a str) -> BoxFuture<'a, Result<Bytes, HandlerError>>;
    /// The shipment with this Tradecloud shipment id.
    fn fetch_shipment<'a>(
        &'a self,
        shipment_id: &'a str,
    ) -> BoxFuture<'a, Result<Bytes, HandlerError>>;
}

/// The Tradecloud API client fetches for GET webhooks: `GET /order/{id}`
/// and `GET /shipment/{id}`. The typed answer is stored re-serialised as JSON;
/// unknown fields are kept and decimals are exact, so nothing the API sent is
/// lost (the bytes are the client's, not the wire's). Errors become
/// [`HandlerError`]s by its `From` (transient ones are retried; 404, 403 and
/// refused credentials dead-letter the trigger: replay it once fixed).
impl Fetcher for crate::client::Client {
    fn fetch_order<'a>(&'a self, order_id: &'a str) -> BoxFuture<'a, Result<Bytes, HandlerError>> {
        Box::pin(async move {
            let order = self.orders().get(order_id).await?;
            serde_json::to_vec(&order).map(Bytes::from).map_err(|e| {
                HandlerError::Permanent(format!("cannot serialise order {order_id}: {e}"))
            })
        })
    }

    fn fetch_shipment<'a>(
        &'a self,
        shipment_id: &'a str,
    ) -> BoxFuture<'a, Result<Bytes, HandlerError>> {
        Box::pin(async move {
            let shipment = self.shipments().get(shipment_id).await?;
            serde_json::to_vec(&shipment).map(Bytes::from).map_err(|e| {
                HandlerError::Permanent(format!("cannot serialise shipment {shipment_id}: {e}"))
            })
        })
    }
}
