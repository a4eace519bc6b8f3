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
/// they are). Return [`HandlerError::Transient`] for network errors, 5xx,
/// 429 and refused credentials (401, 403: retried until fixed, within
/// `fetch_retry_for`), [`HandlerError::Permanent`] for 404.
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
/// [`HandlerError`]s by its `From`: transient ones (5xx, 429, timeouts,
/// connection errors) are retried, and so are `401`/`403` (refused
/// credentials: a configuration fault, not the event's, that a fix of the
/// credentials ends, retried for `processing.fetch_retry_hours`); 404
/// dead-letters the trigger (replay it once fixed).
impl Fetcher for crate::client::Client {
    fn fetch_order<'a>(&'a self, order_id: &'a str) -> BoxFuture<'a, Result<Bytes, HandlerError>> {
        Box::pin(async move { fetched_bytes("order", order_id, self.orders().get(order_id).await) })
    }

    fn fetch_shipment<'a>(
        &'a self,
        shipment_id: &'a str,
    ) -> BoxFuture<'a, Result<Bytes, HandlerError>> {
        Box::pin(async move {
            fetched_bytes(
                "shipment",
                shipment_id,
                self.shipments().get(shipment_id).await,
            )
        })
    }
}

/// A fetched order or shipment (`what` with `id`) as the JSON bytes stored,
/// or the [`HandlerError`] of the client's error.
pub(crate) fn fetched_bytes<T: serde::Serialize>(
    what: &str,
    id: &str,
    fetched: Result<T, crate::client::ClientError>,
) -> Result<Bytes, HandlerError> {
    let object = fetched?;
    serde_json::to_vec(&object)
        .map(Bytes::from)
        .map_err(|e| HandlerError::Permanent(format!("cannot serialise {what} {id}: {e}")))
}
