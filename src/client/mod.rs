//! The typed Tradecloud API client: [`Client`].
//!
//! One `Client` is what most integrations need: it logs in, refreshes
//! tokens, retries, keeps to the rate limit, polls and downloads. Its calls
//! are grouped by kind of object: [`client.orders()`](Client::orders),
//! [`client.single_delivery_orders()`](Client::single_delivery_orders),
//! [`client.shipments()`](Client::shipments) and
//! [`client.documents()`](Client::documents). It wraps the generated
//! clients of the API specs (`api::<spec>::client`, reachable as
//! `client.orders().api()` and friends) and adds what Tradecloud's
//! documentation asks of an integration:
//!
//! * **Authentication** (security/authentication.md): log in once with Basic
//!   auth, send `Authorization: Bearer`, refresh shortly before the access
//!   token expires and when a call answers `401` (with only the
//!   `Refresh-Token` header), log in again when the refresh token is gone.
//!   Concurrent first calls cause one login, concurrent `401`s one refresh.
//!   Or [`AuthMode::BasicEveryRequest`].
//! * **Retries and rate limit** (api/rules.md): `5xx`, `429` (honouring
//!   `Retry-After`) and time-outs are retried with exponential backoff and
//!   jitter ([`RetryPolicy`]); other `4xx` never. At most 10 requests per
//!   second by default, across all clones.
//! * **Polling** (api/polling/README.md): [`Orders::stream_since`] and
//!   friends page through one poll as a [`PollStream`] of items and
//!   watermarks to persist; [`Orders::poll_since`] returns all pages at once.
//! * **Documents** (order/*/receive/download-document.md):
//!   [`Documents::download`] streams a document to disk atomically,
//!   renewing expired presigned URLs.
//! * **Tracing**: one `tradecloud.request` span per call with method, path
//!   template, status, attempts and latency; never a secret.
//!
//! All of this lives in the request pipeline of the generated clients, so
//! the raw generated operations (`client.orders().api()`, ...) get it too.
//! Follow one call: `pipeline` (span, the retry loop, authorization,
//! `401` renewal) → `auth` (token store) → `answer` (what the generated code
//! gets back) → [`ClientError`].
//!
//! ```no_run
//! use tradecloud::client::{Client, Polled};
//!
//! # async fn run() -> Result<(), tradecloud::client::ClientError> {
//! // TRADECLOUD_USERNAME, TRADECLOUD_PASSWORD, TRADECLOUD_ENV
//! let client = Client::from_env()?;
//!
//! let mut poll = client.orders().stream_since(Some("2025-04-23T10:01:53.812Z".parse().unwrap()));
//! while let Some(event) = poll.next().await {
//!     match event? {
//!         Polled::Item(order) => {
//!             for document in order.buyer_order.iter().flat_map(|b| &b.documents) {
//!                 client.documents().download(document, "inbox/").await?;
//!             }
//!         }
//!         Polled::Watermark(next) => { /* persist next.as_str() durably */ }
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use progenitor_client::ResponseValue;

mod answer;
mod auth;
mod builder;
mod download;
mod error;
mod groups;
mod pipeline;
mod poll;
mod rate_limit;
mod retry;

pub use builder::{
    AuthMode, ClientBuilder, Environment, ACCEPTANCE_BASE_URL, ENV_BASE_URL, ENV_ENVIRONMENT,
    ENV_PASSWORD, ENV_USERNAME, PRODUCTION_BASE_URL,
};
pub use download::{
    safe_file_name, DocumentSource, Download, DownloadOutcome, DownloadProgress, Downloaded,
};
pub use error::ClientError;
pub use groups::{Documents, Orders, Shipments, SingleDeliveryOrders};
pub use poll::{PollBatch, PollStream, Polled, POLL_PAGE_SIZE};
pub use retry::{
    is_retryable_status, is_transient_error, retry_after, Attempt, Finished, RetryPolicy, Retrying,
};

use crate::api::common::types::{Order, Shipment};
use crate::api::object_storage::types::DocumentMetadata;
use crate::api::order_search::types::{
    OrderPollRequest, OrderPollResponse, SingleDeliveryOrderPollResponse,
};
use crate::api::shipment::types::{ShipmentPollRequest, ShipmentPollResponse};
use crate::api::{authentication, object_storage, order, order_search, shipment};
use auth::{Credentials, TokenStore};
use error::ErrorContext;
use rate_limit::RateLimiter;

/// State shared by the generated clients' request pipeline.
///
/// A generated client (`tradecloud::api::<spec>::client::<Spec>Client`) carries a
/// context. The context of a [`Client`] holds its credentials, tokens,
/// retry policy and rate limit, shared by all clones; get it with
/// [`Client::context`] to build more generated clients. A default context
/// ([`ClientContext::new`]) sends requests unchanged.
///
/// ```
/// use tradecloud::api::order::client::OrderClient as OrderApi;
/// use tradecloud::client::ClientContext;
///
/// // A bare generated client: no authentication, no retries.
/// let api = OrderApi::new("http://127.0.0.1:8080/v2", ClientContext::new());
/// ```
#[derive(Clone, Default)]
pub struct ClientContext {
    shared: Option<Arc<Shared>>,
}

impl ClientContext {
    /// A context that sends requests as they are.
    pub fn new() -> Self {
        Self::default()
    }
}

impl fmt::Debug for ClientContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.shared {
            Some(shared) => f
                .debug_struct("ClientContext")
                .field(
                    "username",
                    &shared.credentials.as_ref().map(Credentials::username),
                )
                .field("auth_mode", &shared.auth_mode)
                .field("retry", &shared.retry)
                .finish_non_exhaustive(),
            None => f.write_str("ClientContext(pass-through)"),
        }
    }
}

/// What every clone of a client shares.
pub(crate) struct Shared {
    pub(crate) credentials: Option<Credentials>,
    pub(crate) auth_mode: AuthMode,
    pub(crate) retry: RetryPolicy,
    pub(crate) limiter: Option<RateLimiter>,
    pub(crate) tokens: TokenStore,
    pub(crate) stats: Stats,
}

#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) requests: AtomicU64,
    pub(crate) retries: AtomicU64,
}

/// Counters of one client (and its clones), e.g. for benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ClientStats {
    /// HTTP requests sent to the API (logins, refreshes and retries included;
    /// file downloads not).
    pub requests: u64,
    /// Retries after a `5xx`, `429` or transport error.
    pub retries: u64,
    /// Successful logins.
    pub logins: u64,
    /// Successful token refreshes.
    pub refreshes: u64,
}

/// A Tradecloud API v2 client: cheap to clone, `Send + Sync`, to share by
/// all tasks of an integration. See the [module documentation](self).
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    base_url: String,
    shared: Arc<Shared>,
    context: ClientContext,
    http: reqwest::Client,
    download_http: reqwest::Client,
    authentication: authentication::client::AuthenticationClient,
    order: order::client::OrderClient,
    order_search: order_search::client::OrderSearchClient,
    shipment: shipment::client::ShipmentClient,
    object_storage: object_storage::client::ObjectStorageClient,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("context", &self.inner.context)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A [`ClientBuilder`] with the defaults.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A client configured from `TRADECLOUD_USERNAME`, `TRADECLOUD_PASSWORD`,
    /// `TRADECLOUD_ENV` and `TRADECLOUD_BASE_URL` (see
    /// [`ClientBuilder::from_env`]).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tradecloud::client::ClientError> {
    /// let client = tradecloud::client::Client::from_env()?;
    /// let shipment = client.get_shipment("2c3fa4d0").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_env() -> Result<Client, ClientError> {
        ClientBuilder::from_env()?.build()
    }

    fn assemble(
        base_url: String,
        shared: Arc<Shared>,
        http: reqwest::Client,
        download_http: reqwest::Client,
    ) -> Client {
        let context = ClientContext {
            shared: Some(shared.clone()),
        };
        let inner = ClientInner {
            authentication: authentication::client::AuthenticationClient::new_with_client(
                &base_url,
                http.clone(),
                context.clone(),
            ),
            order: order::client::OrderClient::new_with_client(
                &base_url,
                http.clone(),
                context.clone(),
            ),
            order_search: order_search::client::OrderSearchClient::new_with_client(
                &base_url,
                http.clone(),
                context.clone(),
            ),
            shipment: shipment::client::ShipmentClient::new_with_client(
                &base_url,
                http.clone(),
                context.clone(),
            ),
            object_storage: object_storage::client::ObjectStorageClient::new_with_client(
                &base_url,
                http.clone(),
                context.clone(),
            ),
            http,
            base_url,
            shared,
            context,
            download_http,
        };
        Client {
            inner: Arc::new(inner),
        }
    }

    /// The base URL in use, e.g. `https://api.tradecloud1.com/v2`.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The e-mail address of the integration user.
    pub fn username(&self) -> &str {
        self.inner
            .shared
            .credentials
            .as_ref()
            .map(Credentials::username)
            .unwrap_or("")
    }

    /// The context shared by this client's generated clients; give it to
    /// `new_with_client` of a generated client to share the tokens, retry
    /// policy and rate limit.
    pub fn context(&self) -> &ClientContext {
        &self.inner.context
    }

    /// The generated order client (same authentication, retries, rate limit).
    pub fn order_api(&self) -> &order::client::OrderClient {
        &self.inner.order
    }

    /// The generated order search (polling) client.
    pub fn order_search_api(&self) -> &order_search::client::OrderSearchClient {
        &self.inner.order_search
    }

    /// The generated shipment client.
    pub fn shipment_api(&self) -> &shipment::client::ShipmentClient {
        &self.inner.shipment
    }

    /// The generated object storage client.
    pub fn object_storage_api(&self) -> &object_storage::client::ObjectStorageClient {
        &self.inner.object_storage
    }

    /// The generated authentication client.
    pub fn authentication_api(&self) -> &authentication::client::AuthenticationClient {
        &self.inner.authentication
    }

    /// Counters of requests, retries, logins and refreshes so far.
    pub fn stats(&self) -> ClientStats {
        let shared = &self.inner.shared;
        ClientStats {
            requests: shared.stats.requests.load(Ordering::Relaxed),
            retries: shared.stats.retries.load(Ordering::Relaxed),
            logins: shared.tokens.counters.logins.load(Ordering::Relaxed),
            refreshes: shared.tokens.counters.refreshes.load(Ordering::Relaxed),
        }
    }

    fn error_context(&self, what: impl Into<String>) -> ErrorContext<'_> {
        ErrorContext {
            what: what.into(),
            username: self.username(),
            base_url: &self.inner.base_url,
        }
    }

    async fn typed<T>(
        &self,
        what: impl Into<String>,
        result: Result<
            ResponseValue<T>,
            progenitor_client::Error<crate::api::common::types::ErrorResponse>,
        >,
    ) -> Result<T, ClientError> {
        match result {
            Ok(value) => Ok(value.into_inner()),
            Err(error) => Err(self.error_context(what).convert(error).await),
        }
    }

    /// Logs in now (with [`AuthMode::Token`]) unless tokens are held
    /// already, to check the credentials early. Other calls log in by
    /// themselves when needed.
    pub async fn login(&self) -> Result<(), ClientError> {
        if self.inner.shared.auth_mode == AuthMode::BasicEveryRequest
            || self.inner.shared.tokens.has_tokens().await
        {
            return Ok(());
        }
        let target = auth::AuthTarget {
            http: &self.inner.http,
            baseurl: &self.inner.base_url,
            context: &self.inner.context,
        };
        match self.inner.shared.tokens.access_token(&target).await {
            Ok(_) => Ok(()),
            Err(auth::AuthFailure::Transport(error)) => {
                Err(self.error_context("login").transport_error(error))
            }
            Err(auth::AuthFailure::Answer(answer)) => {
                let error = progenitor_client::Error::<crate::api::common::types::ErrorResponse>::UnexpectedResponse(*answer);
                Err(self.error_context("login").convert(error).await)
            }
        }
    }

    /// Logs out: `POST /authentication/logout` with only the `Refresh-Token`
    /// header, which invalidates the refresh token at once (the access token
    /// lives on for up to 10 minutes at Tradecloud). The client forgets its
    /// tokens; a later call logs in again. Does nothing without tokens.
    pub async fn logout(&self) -> Result<(), ClientError> {
        let Some(refresh_token) = self.inner.shared.tokens.take_refresh_token().await else {
            return Ok(());
        };
        let result = self
            .inner
            .authentication
            .logout(refresh_token.expose())
            .await;
        self.typed("logout", result).await
    }

    /// Fetches a whole order, with all its lines (`GET /order/{orderId}`).
    ///
    /// `order_id` is the `orderId` of an order event or the `id` of an order.
    pub async fn get_order(&self, order_id: &str) -> Result<Order, ClientError> {
        let result = self.inner.order.get_order_by_id(order_id).await;
        self.typed(format!("order {order_id}"), result).await
    }

    /// Fetches a shipment with all its lines and documents
    /// (`GET /shipment/{shipmentId}`).
    pub async fn get_shipment(&self, shipment_id: &str) -> Result<Shipment, ClientError> {
        let result = self.inner.shipment.get_shipment_by_id(shipment_id).await;
        self.typed(format!("shipment {shipment_id}"), result).await
    }

    /// One page of orders (delivery schedule) changed after
    /// `filters.lastUpdatedAfter` (`POST /order-search/poll`). See
    /// [`poll_orders_since`](Self::poll_orders_since) for all pages at once.
    pub async fn poll_orders(
        &self,
        request: &OrderPollRequest,
    ) -> Result<OrderPollResponse, ClientError> {
        let result = self.inner.order_search.poll_orders(request).await;
        self.typed("the order poll", result).await
    }

    /// One page of single-delivery orders
    /// (`POST /order-search/poll/single-delivery`).
    pub async fn poll_single_delivery_orders(
        &self,
        request: &OrderPollRequest,
    ) -> Result<SingleDeliveryOrderPollResponse, ClientError> {
        let result = self
            .inner
            .order_search
            .poll_orders_single_delivery(request)
            .await;
        self.typed("the single-delivery order poll", result).await
    }

    /// One page of shipments (`POST /shipment/poll`).
    pub async fn poll_shipments(
        &self,
        request: &ShipmentPollRequest,
    ) -> Result<ShipmentPollResponse, ClientError> {
        let result = self.inner.shipment.poll_shipments(request).await;
        self.typed("the shipment poll", result).await
    }

    /// The metadata of a document, with a fresh presigned `downloadUrl`
    /// (`GET /object-storage/document/{objectId}/metadata`).
    pub async fn document_metadata(
        &self,
        object_id: &str,
    ) -> Result<DocumentMetadata, ClientError> {
        let result = self
            .inner
            .object_storage
            .get_document_metadata(object_id)
            .await;
        self.typed(format!("document {object_id}"), result).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}

    #[test]
    fn client_is_shareable() {
        assert_send_sync::<Client>();
        assert_send_sync::<ClientContext>();
    }

    #[allow(dead_code)]
    fn futures_are_send(client: Client) {
        use std::future::IntoFuture as _;
        fn send<T: Send>(_: T) {}
        fn spawnable<T: Send + 'static>(_: T) {}
        send(client.get_order("x"));
        send(client.poll_orders_since(None));
        send(client.download(DocumentSource::parse("x"), ".", |_| {}));
        send(client.documents().download("x", ".").into_future());
        spawnable(client.orders().stream_since(None));
        send(client.logout());
    }
}
