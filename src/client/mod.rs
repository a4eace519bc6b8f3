//! The typed Tradecloud API client: [`Client`].
//!
//! One `Client` is what most integrations need: it logs in, refreshes
//! tokens, retries, keeps to the rate limit, polls and downloads. Its calls
//! are grouped by service area, one way to make each:
//! [`client.orders()`](Client::orders),
//! [`client.single_delivery_orders()`](Client::single_delivery_orders),
//! [`client.shipments()`](Client::shipments) and
//! [`client.documents()`](Client::documents) (see [`Client`] for the list).
//! It wraps the generated clients of the API specs (`api::<spec>::client`,
//! reachable as `client.orders().api()` and friends) and adds what
//! Tradecloud's documentation asks of an integration:
//!
//! * **Authentication** (security/authentication.md): log in once with Basic
//!   auth, send `Authorization: Bearer`, refresh shortly before the access
//!   token expires and when a call answers `401` (with only the
//!   `Refresh-Token` header), log in again when the refresh token is gone.
//!   Concurrent first calls cause one login, concurrent `401`s one refresh.
//!   Or [`AuthMode::BasicEveryRequest`].
//! * **Retries and rate limit** (api/rules.md): `5xx`, `429` (honouring
//!   `Retry-After`), `408`, time-outs and broken connections are retried
//!   with exponential backoff and jitter ([`RetryPolicy`]); other `4xx`, a
//!   host name that does not resolve and a refused TLS certificate never
//!   ([`is_transient_error`]). At most 10 requests per second by default,
//!   across all clones.
//! * **Polling** (api/polling/README.md): [`Orders::stream_since`] and
//!   friends page through one poll as a [`PollStream`] of items and
//!   watermarks to persist; [`Orders::poll_since`] returns all pages at
//!   once. An error says from which watermark to resume ([`PollError`]).
//! * **Documents** (order/*/receive/download-document.md):
//!   [`Documents::download`] streams a document to disk atomically,
//!   renewing expired presigned URLs; [`Documents::upload`] streams a file
//!   from disk into the object storage and answers its `objectId`.
//! * **Sending** (api/requests.md, api/rules.md): orders, order responses,
//!   indicators, documents, deliveries, despatch advices and the order
//!   actions are [`Message`]s, checked against the documented rules before
//!   anything is sent ([`ClientError::InvalidMessage`], with the JSON path
//!   of each member and the rule), sent as JSON or tXML
//!   ([`WireFormat`], where the spec takes `application/xml`), and retried
//!   only where sending twice has the effect of sending once ([`Resend`];
//!   each call says which and why).
//!
//! A supplier's answer to a new order, with a document:
//!
//! ```no_run
//! use tradecloud::api::api_connector::types::{
//!     OrderResponseBySupplier, OrderResponseLineBySupplier, SendOrderResponseBySupplier,
//! };
//! use tradecloud::api::common::types::{Document, SupplierLineIndicators};
//!
//! # async fn run(client: tradecloud::client::Client) -> Result<(), tradecloud::client::ClientError> {
//! // 1. Upload the order confirmation; Tradecloud answers its objectId.
//! let pdf = client.documents().upload("out/PO123-confirmation.pdf").await?;
//! // 2. Accept line 0001 and attach the document to the response.
//! let response = SendOrderResponseBySupplier::builder()
//!     .order(
//!         OrderResponseBySupplier::builder()
//!             .buyer_account_number("340760")
//!             .purchase_order_number("PO123")
//!             .documents([Document::builder()
//!                 .code("SO-9876-confirmation")
//!                 .name(pdf.file_name.clone())
//!                 .object_id(pdf.object_id.clone())]),
//!     )
//!     .lines([OrderResponseLineBySupplier::builder()
//!         .purchase_order_line_position("0001")
//!         .indicators(SupplierLineIndicators::builder().accepted(true))])
//!     .build();
//! client.orders().respond(&response).await?;
//! # Ok(())
//! # }
//! ```
//! * **Tracing**: one `tradecloud.request` span per call with method, path
//!   template, status, attempts and latency; never a secret.
//!
//! All of this lives in the request pipeline of the generated clients, so
//! the raw generated operations (`client.orders().api()`, ...) get it too.
//! Follow one call: a group's method (`groups`) → `pipeline` (span, the
//! retry loop, authorization, `401` renewal) → `auth` (token store) →
//! `answer` (what the generated code gets back) and `report` (attempts and
//! the failed login or refresh, beside it) → [`ClientError`].
//!
//! The builder takes [`reqwest`]'s types (a proxy, a certificate, headers,
//! your own `reqwest::Client`); use them from [`tradecloud::client::reqwest`],
//! the version this crate is built with, rather than guessing which
//! `reqwest` to add to your `Cargo.toml`.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use progenitor_client::ResponseValue;

/// The `reqwest` this crate is built with: [`ClientBuilder::proxy`] takes its
/// [`Proxy`](reqwest::Proxy), [`ClientBuilder::add_root_certificate`] its
/// [`Certificate`](reqwest::Certificate), [`ClientBuilder::default_headers`]
/// its [`HeaderMap`](reqwest::header::HeaderMap) and
/// [`ClientBuilder::http_client`] a [`reqwest::Client`].
pub use reqwest;

mod answer;
mod auth;
mod builder;
pub mod delivery;
mod download;
mod error;
mod groups;
mod message;
mod pipeline;
mod poll;
mod rate_limit;
mod report;
mod retry;
mod upload;

pub use builder::{
    AuthMode, ClientBuilder, Environment, ACCEPTANCE_BASE_URL, ENV_BASE_URL, ENV_ENVIRONMENT,
    ENV_PASSWORD, ENV_USERNAME, PRODUCTION_BASE_URL,
};
pub use download::{
    safe_file_name, DocumentSource, Download, DownloadOutcome, Downloaded, Progress,
};
pub use error::ClientError;
pub use groups::{Documents, Forecasts, Orders, Shipments, SingleDeliveryOrders};
pub use message::{Answer, EncodedMessage, Message, Resend, WireFormat};
pub use poll::{PollBatch, PollError, PollStream, Polled, POLL_PAGE_SIZE};
pub use report::AuthStep;
pub use retry::{
    is_retryable_status, is_transient_error, retry_after, Attempt, Finished, RetryPolicy, Retrying,
};
pub use upload::{blocked_extension, Upload, Uploaded, BLOCKED_EXTENSIONS, CHUNK, MIN_UPLOAD_RATE};

use crate::api::common::types::ErrorResponse;
use crate::api::{authentication, object_storage, order, order_search, shipment};
#[cfg(feature = "doctor")]
pub(crate) use auth::jwt_expiry;
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
    /// Told the outcome of every call ([`Client::observe_calls`]).
    pub(crate) observer: std::sync::OnceLock<CallObserver>,
}

/// What a client tells its observer after each API call: `Ok(())`, or the
/// call's error with what it was about (see [`Client::observe_calls`]).
pub(crate) type CallObserver = Arc<dyn Fn(Result<(), (&str, &ClientError)>) + Send + Sync>;

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

/// The HTTP clients of a [`Client`]: API calls (a time-out for the whole
/// answer), downloads (a time-out between two reads) and uploads (a
/// time-out per upload, growing with the file).
pub(crate) struct Transports {
    pub(crate) api: reqwest::Client,
    pub(crate) download: reqwest::Client,
    pub(crate) upload: reqwest::Client,
    /// Whether they go through a proxy given to the builder.
    pub(crate) proxied: bool,
}

/// A Tradecloud API v2 client: cheap to clone, `Send + Sync`, to share by
/// all tasks of an integration.
///
/// Its calls are grouped by service area; each call exists once:
///
/// | group | read | send |
/// | --- | --- | --- |
/// | [`client.orders()`](Client::orders) | [`get`](Orders::get), [`stream_since`](Orders::stream_since), [`stream_filtered`](Orders::stream_filtered), [`poll_since`](Orders::poll_since), [`poll_filtered`](Orders::poll_filtered), [`poll_page`](Orders::poll_page), [`api`](Orders::api), [`search_api`](Orders::search_api) | buyer: [`send`](Orders::send), [`send_indicators`](Orders::send_indicators), [`attach_documents`](Orders::attach_documents), [`send_deliveries`](Orders::send_deliveries), [`send_delivery_history`](Orders::send_delivery_history); supplier: [`respond`](Orders::respond); order actions: [`approve_requests`](Orders::approve_requests), [`reject_requests`](Orders::reject_requests), [`approve_reschedule`](Orders::approve_reschedule), [`reject_reschedule`](Orders::reject_reschedule), [`complete_lines`](Orders::complete_lines), [`deliver_lines`](Orders::deliver_lines), [`revert_cancelled_lines`](Orders::revert_cancelled_lines), [`revert_completed_lines`](Orders::revert_completed_lines), [`update_delivery_schedule`](Orders::update_delivery_schedule), [`reassign_contact`](Orders::reassign_contact), [`resend`](Orders::resend) |
/// | [`client.single_delivery_orders()`](Client::single_delivery_orders) | [`stream_since`](SingleDeliveryOrders::stream_since), [`stream_filtered`](SingleDeliveryOrders::stream_filtered), [`poll_since`](SingleDeliveryOrders::poll_since), [`poll_filtered`](SingleDeliveryOrders::poll_filtered), [`poll_page`](SingleDeliveryOrders::poll_page) | buyer: [`send`](SingleDeliveryOrders::send) |
/// | [`client.shipments()`](Client::shipments) | [`get`](Shipments::get), [`stream_since`](Shipments::stream_since), [`stream_filtered`](Shipments::stream_filtered), [`poll_since`](Shipments::poll_since), [`poll_filtered`](Shipments::poll_filtered), [`poll_page`](Shipments::poll_page), [`api`](Shipments::api) | supplier: [`send_despatch_advice`](Shipments::send_despatch_advice) |
/// | [`client.documents()`](Client::documents) | [`metadata`](Documents::metadata), [`download`](Documents::download), [`api`](Documents::api) | [`upload`](Documents::upload) |
///
/// A call that sends a body returns a [`Message`]: awaiting it checks the
/// documented rules first ([`ClientError::InvalidMessage`] names the
/// member and the rule; nothing is sent), sends JSON, or tXML after
/// [`.format(WireFormat::Txml)`](Message::format) where the spec takes it,
/// and retries by the call's [`Resend`] rule, which its documentation states
/// with the reason.
///
/// and on the client itself: [`login`](Client::login) (to check the
/// credentials early), [`logout`](Client::logout), [`stats`](Client::stats).
///
/// ```no_run
/// use tradecloud::client::{safe_file_name, Client, Polled};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = Client::builder()
///     .base_url("https://api.accp.tradecloud1.com/v2") // the default is production
///     .credentials("integration@example.com", "secret")
///     .build()?;
///
/// let order = client.orders().get("7e1f5b2c").await?;
/// let shipment = client.shipments().get("2c3fa4d0").await?;
///
/// let mut poll = client.orders().stream_since(Some("2025-04-23T10:01:53.812Z".parse()?));
/// while let Some(event) = poll.next().await {
///     match event? {
///         Polled::Item(order) => {
///             // A directory per order: names need only be unique within it.
///             let dir = std::path::Path::new("inbox").join(safe_file_name(order.id()).ok_or("no id")?);
///             std::fs::create_dir_all(&dir)?;
///             for document in order.buyer_order.iter().flat_map(|b| &b.documents) {
///                 client.documents().download(document, &dir).await?;
///             }
///         }
///         Polled::Watermark(next) => { /* persist next.as_str() durably */ }
///     }
/// }
/// # Ok(())
/// # }
/// ```
///
/// [`Client::from_env`] reads the credentials and the environment from
/// `TRADECLOUD_*` variables instead; [`Client::builder`] sets time-outs,
/// retries, the rate limit, a proxy and more.
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
    /// Uploads: no time-out of its own (each upload sets one that grows
    /// with the file's size).
    upload_http: reqwest::Client,
    /// The builder's time-out.
    timeout: std::time::Duration,
    /// Whether requests go through a proxy given to the builder.
    proxied: bool,
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
    /// let shipment = client.shipments().get("2c3fa4d0").await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_env() -> Result<Client, ClientError> {
        ClientBuilder::from_env()?.build()
    }

    fn assemble(
        base_url: String,
        shared: Arc<Shared>,
        http: Transports,
        timeout: std::time::Duration,
    ) -> Client {
        let Transports {
            api: http,
            download: download_http,
            upload: upload_http,
            proxied,
        } = http;
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
            upload_http,
            timeout,
            proxied,
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
            proxied: self.inner.proxied,
        }
    }

    /// Runs one call of a generated client; its error becomes a
    /// [`ClientError`] about `what` (made only on error), with the attempts
    /// and the failed login or refresh the pipeline reported.
    pub(crate) async fn call<T>(
        &self,
        what: impl FnOnce() -> String,
        call: impl std::future::Future<
            Output = Result<ResponseValue<T>, progenitor_client::Error<ErrorResponse>>,
        >,
    ) -> Result<T, ClientError> {
        let (result, report) = report::capture(call).await;
        match result {
            Ok(value) => {
                self.observe(Ok(()));
                Ok(value.into_inner())
            }
            Err(error) => {
                let what = what();
                let error = self
                    .error_context(what.clone())
                    .convert(error, report)
                    .await;
                self.observe(Err((&what, &error)));
                Err(error)
            }
        }
    }

    /// Tells the observer ([`Client::observe_calls`]), if any, the outcome
    /// of one exchange with Tradecloud: an API call ([`Client::call`]) or
    /// the transfer of a document's bytes from Tradecloud's object storage.
    pub(crate) fn observe(&self, outcome: Result<(), (&str, &ClientError)>) {
        if let Some(observer) = self.inner.shared.observer.get() {
            observer(outcome);
        }
    }

    /// Have `observer` told the outcome of every later API call of this
    /// client and its clones (all of them go through [`Client::call`]: the
    /// groups' calls, an upload (`POST /object-storage/document`), and the
    /// metadata call of each document download), and of each download's
    /// transfer from Tradecloud's object storage (the presigned
    /// `downloadUrl` of an `objectId`; not a document's own `url`, which is
    /// a third party's server, not Tradecloud). The first observer set
    /// stays. The receiver's `ApiHealth` follows its client this way.
    #[cfg(feature = "receiver")]
    pub(crate) fn observe_calls(&self, observer: CallObserver) {
        if self.inner.shared.observer.set(observer).is_err() {
            tracing::debug!("the client has an observer already; the first one stays");
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
        let result = self
            .inner
            .shared
            .tokens
            .access_token(&self.auth_target())
            .await;
        result.map(|_| ()).map_err(|f| self.auth_error(f))
    }

    /// Calls Tradecloud's authentication API now, whatever tokens are held
    /// and in either [`AuthMode`]: a refresh, or a login when no refresh
    /// token is left. [`Client::login`] answers from the tokens it holds
    /// without a call; this says whether Tradecloud answers (and accepts
    /// the credentials) at this moment. The receiver's API health uses it
    /// for its check at start and to find its way back to an API it saw
    /// unreachable.
    #[cfg(feature = "receiver")]
    pub(crate) async fn renew_tokens_now(&self) -> Result<(), ClientError> {
        let result = self
            .inner
            .shared
            .tokens
            .renew_now(&self.auth_target())
            .await;
        result.map(|_| ()).map_err(|f| self.auth_error(f))
    }

    /// Where the token store calls the authentication API.
    fn auth_target(&self) -> auth::AuthTarget<'_> {
        auth::AuthTarget {
            http: &self.inner.http,
            baseurl: &self.inner.base_url,
            context: &self.inner.context,
        }
    }

    /// A failed login or refresh as the error a caller sees.
    fn auth_error(&self, failure: auth::AuthFailure) -> ClientError {
        match failure {
            auth::AuthFailure::Transport(error) => {
                self.error_context("login").transport_error(error)
            }
            auth::AuthFailure::Refused(refusal) => {
                let call = report::CallReport {
                    attempts: refusal.attempts,
                    auth_step: Some(refusal.step),
                    status: Some(refusal.status),
                };
                self.error_context("login")
                    .status_error(refusal.status, call, refusal.message)
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
        let api = &self.inner.authentication;
        self.call(|| "logout".into(), api.logout(refresh_token.expose()))
            .await
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
        send(client.orders().get("x"));
        send(client.orders().poll_since(None));
        send(client.shipments().poll_page(&Default::default()));
        send(client.documents().download("x", ".").into_future());
        send(
            client
                .documents()
                .download("x", ".")
                .progress(|_| {})
                .into_future(),
        );
        spawnable(client.orders().stream_since(None));
        send(client.logout());
        let order = crate::api::api_connector::types::SendOrderByBuyer::default();
        send(client.orders().send(&order).into_future());
        let resend = crate::api::order::types::ResendOrder::default();
        send(client.orders().resend("x", &resend).into_future());
        send(
            client
                .documents()
                .upload("x")
                .progress(|_| {})
                .into_future(),
        );
    }
}
