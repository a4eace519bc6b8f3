//! A production webhook receiver for Tradecloud: HTTPS (rustls, TLS 1.2 and
//! 1.3 only), authentication of Tradecloud's calls, the generated order and
//! shipment webhook stubs, a durable [inbox](crate::inbox) written
//! before every `2xx`, and the [processor](crate::processing) that hands the
//! stored events to your handler.
//!
//! ```no_run
//! use tradecloud::receiver::{Config, Receiver};
//! # use tradecloud::receiver::LogHandler as MyHandler;
//!
//! # async fn demo() -> Result<(), tradecloud::receiver::ReceiverError> {
//! let config = Config::load(None)?; // tradecloud.toml + TRADECLOUD_* variables
//! Receiver::builder()
//!     .config(config)
//!     .handler(MyHandler::default())
//!     .run() // until SIGTERM or Ctrl-C, then drains in-flight requests
//!     .await
//! # }
//! ```
//!
//! # What a request gets
//!
//! Every layer answers so that Tradecloud's retry rules never lose an event
//! (Tradecloud retries status codes above 500, and nothing else):
//!
//! | situation | answer |
//! |---|---|
//! | event durably stored (or a redelivery of a stored message id) | `202` (`200`) |
//! | GET webhook (order or shipment id in the path or query): trigger stored | `202` |
//! | missing or wrong credentials | `401` + `WWW-Authenticate` |
//! | body that is not a valid event (bytes kept as `rejected`) | `400` + JSON problem |
//! | unsupported content type (bytes kept as `rejected`) | `415` + JSON problem |
//! | body larger than `max_body_bytes` | `413` |
//! | store unavailable, disk full, store or receiver overloaded, a request timeout, a panic, an unreadable body, a JWKS that cannot be fetched | `503` + `Retry-After` |
//!
//! Authentication happens before the body is read: a request without valid
//! credentials is never stored. Unknown fields, enum values and event names
//! are accepted (and kept: the inbox stores the exact bytes).
//!
//! Operational endpoints, without the webhook authentication: `/healthz`
//! (the process is up), `/readyz` (the store accepts writes) and `/metrics`
//! (Prometheus, see [`metrics`]; `server.metrics = false` turns it off, and
//! with `server.metrics_token` it requires `Authorization: Bearer TOKEN`,
//! which Prometheus sends with `authorization: { credentials: TOKEN }`).

pub mod auth;
pub mod config;
mod fetch;
mod layers;
pub mod metrics;
mod retention;
mod routes;
mod server;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header::CONTENT_TYPE;
use http::StatusCode;
use tokio::sync::Semaphore;
use tokio_rustls::rustls::ServerConfig;

use crate::inbox::{Inbox, InboxError};
use crate::processing::{Fetcher, Handler, Processor, ProcessorConfig};

pub use auth::{AuthFailure, Authenticator, Principal};
pub use config::{AuthMethod, Config, ConfigError, Secret};
pub use fetch::ClientFetcher;
pub use layers::RemoteAddr;
pub use metrics::Metrics;
pub use server::overflow_limit;
pub use tls::TlsError;

/// Why the receiver could not start.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    /// The configuration is incomplete or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The certificate or key could not be loaded.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The inbox could not be opened.
    #[error("cannot open the inbox: {0}")]
    Inbox(#[from] InboxError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Where the TLS certificate comes from.
enum TlsSource {
    /// `server.tls_cert` and `server.tls_key`, reloaded when they change.
    Config,
    /// A self-signed certificate generated at start-up.
    Dev,
    /// PEM given by the program.
    Pem { cert: Vec<u8>, key: Vec<u8> },
    /// A complete rustls configuration given by the program.
    Rustls(Arc<ServerConfig>),
}

type ShutdownFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Builds a [`Receiver`]. See [`Receiver::builder`].
pub struct ReceiverBuilder {
    config: Option<Config>,
    config_path: Option<PathBuf>,
    tls: TlsSource,
    inbox: Option<Inbox>,
    metrics: Option<Metrics>,
    listener: Option<std::net::TcpListener>,
    processing: Option<Box<dyn processing_glue::Spawn>>,
    processor_config: Option<ProcessorConfig>,
    fetcher: Option<Arc<dyn Fetcher>>,
}

impl std::fmt::Debug for ReceiverBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiverBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ReceiverBuilder {
    /// Use this configuration (default: [`Config::load`]`(None)`, i.e.
    /// `tradecloud.toml` if present and the `TRADECLOUD_*` variables).
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Load the configuration from this file (and the `TRADECLOUD_*` variables).
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_path = Some(path.into());
        self
    }

    /// Serve a self-signed certificate generated at start-up instead of
    /// `server.tls_cert`/`tls_key`. For local testing only: Tradecloud does
    /// not accept self-signed certificates.
    pub fn dev_tls(mut self) -> Self {
        self.tls = TlsSource::Dev;
        self
    }

    /// Serve this PEM certificate chain and key (not reloaded).
    pub fn tls_pem(mut self, cert_pem: impl Into<Vec<u8>>, key_pem: impl Into<Vec<u8>>) -> Self {
        self.tls = TlsSource::Pem {
            cert: cert_pem.into(),
            key: key_pem.into(),
        };
        self
    }

    /// Serve with this rustls configuration (you are responsible for its
    /// protocol versions and cipher suites; see [`tls::server_config`]).
    pub fn rustls_config(mut self, config: Arc<ServerConfig>) -> Self {
        self.tls = TlsSource::Rustls(config);
        self
    }

    /// Use this inbox (default: open `store.url`).
    pub fn inbox(mut self, inbox: Inbox) -> Self {
        self.inbox = Some(inbox);
        self
    }

    /// Use this metrics registry (default: a new one).
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Hand the stored events to `handler` with a [`Processor`] (default
    /// [`ProcessorConfig`], see [`processor_config`](Self::processor_config)),
    /// whose outcomes and latencies are counted in the metrics. With
    /// `[tradecloud]` credentials configured, the handler gets that API
    /// client as [`HandlerContext::client`](crate::processing::HandlerContext::client)
    /// (document downloads). Without a handler (or
    /// [`processor`](Self::processor)) the receiver only stores.
    pub fn handler<H: Handler>(mut self, handler: H) -> Self {
        self.processing = Some(Box::new(processing_glue::WithHandler {
            handler,
            setup: None,
        }));
        self
    }

    /// The [`ProcessorConfig`] used with [`handler`](Self::handler), instead
    /// of the configuration's `[processing]` section.
    pub fn processor_config(mut self, config: ProcessorConfig) -> Self {
        self.processor_config = Some(config);
        self
    }

    /// The [`Fetcher`] used with [`handler`](Self::handler) for GET webhooks
    /// (fetch the whole order or shipment). Default: a [`ClientFetcher`]
    /// with the `[tradecloud]` credentials, if configured. Without one,
    /// GET-webhook triggers are dead-lettered and can be replayed later.
    pub fn fetcher(mut self, fetcher: Arc<dyn Fetcher>) -> Self {
        self.fetcher = Some(fetcher);
        self
    }

    /// Full control over the processor: `make` gets the inbox and returns
    /// the [`Processor`] to run (with your config, fetcher, extensions and
    /// observer). Record its outcomes in the receiver's metrics with
    /// `.on_outcome(move |r| metrics.observe_outcome(r))` and
    /// [`metrics`](Self::metrics).
    pub fn processor<H, F>(mut self, make: F) -> Self
    where
        H: Handler,
        F: FnOnce(Inbox) -> Processor<H> + Send + 'static,
    {
        self.processing = Some(Box::new(processing_glue::Custom(make)));
        self
    }

    /// Serve on this already bound listener instead of `server.listen`.
    pub fn listener(mut self, listener: std::net::TcpListener) -> Self {
        self.listener = Some(listener);
        self
    }

    /// Load the configuration, the certificate and the inbox, and bind the
    /// listener. Nothing is served until [`Receiver::run`].
    pub async fn build(mut self) -> Result<Receiver, ReceiverError> {
        let config = match (self.config, &self.config_path) {
            (Some(config), _) => config,
            (None, path) => Config::load(path.as_deref())?,
        };
        config.validate_for_serving()?;
        // `[processing]` of the configuration, unless set in code.
        self.processor_config
            .get_or_insert_with(|| config.processing.processor_config());
        let authenticator = Authenticator::from_config(&config.auth)?;
        let metrics = self.metrics.unwrap_or_default();

        let mut dev_certificate = None;
        let mut watch = None;
        // `[server.acme]`: its own resolver; excludes the other sources.
        let acme = crate::acme::Acme::prepare(
            &config,
            match &self.tls {
                TlsSource::Config => None,
                TlsSource::Dev => Some("--dev-tls"),
                _ => Some("a certificate given in code"),
            },
        )?;
        if let Some(acme) = &acme {
            self.tls = TlsSource::Rustls(acme.server_config()?);
        }
        let (tls, resolver) = match self.tls {
            TlsSource::Rustls(tls) => (tls, None),
            source => {
                let key = match source {
                    TlsSource::Config => {
                        let (Some(cert), Some(key)) =
                            (&config.server.tls_cert, &config.server.tls_key)
                        else {
                            return Err(ConfigError::Setting(
                                "server.tls_cert and server.tls_key are required (HTTPS only); use --dev-tls for a local test".into(),
                            )
                            .into());
                        };
                        let files = tls::CertFiles {
                            cert: cert.clone(),
                            key: key.clone(),
                        };
                        let key = files.load()?;
                        watch = Some(files);
                        key
                    }
                    TlsSource::Dev => {
                        let (cert, key) = tls::dev_certificate(&["localhost", "127.0.0.1", "::1"])?;
                        let certified = tls::certified_key_from_pem(
                            cert.as_bytes(),
                            key.as_bytes(),
                            "dev".as_ref(),
                        )?;
                        tracing::warn!(
                            "DEVELOPMENT TLS: serving a self-signed certificate for localhost. \
                             Tradecloud will NOT accept it: configure server.tls_cert and server.tls_key \
                             with a certificate from a public CA before connecting Tradecloud."
                        );
                        dev_certificate = Some(cert);
                        certified
                    }
                    TlsSource::Pem { cert, key } => {
                        tls::certified_key_from_pem(&cert, &key, "(PEM)".as_ref())?
                    }
                    TlsSource::Rustls(_) => unreachable!("handled above"),
                };
                let resolver = tls::CertResolver::new(key);
                (tls::server_config(resolver.clone())?, Some(resolver))
            }
        };

        let inbox = match self.inbox {
            Some(inbox) => inbox,
            None => {
                let url = config.store.url.clone();
                tokio::task::spawn_blocking(move || Inbox::open(&url))
                    .await
                    .map_err(|e| InboxError::Unavailable(e.to_string()))??
            }
        };

        let listener = match self.listener {
            Some(listener) => listener,
            None => std::net::TcpListener::bind(config.server.listen).map_err(|source| {
                ReceiverError::Bind {
                    addr: config.server.listen,
                    source,
                }
            })?,
        };
        listener
            .set_nonblocking(true)
            .map_err(|source| ReceiverError::Bind {
                addr: config.server.listen,
                source,
            })?;
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(|source| ReceiverError::Bind {
                addr: config.server.listen,
                source,
            })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ReceiverError::Bind {
                addr: config.server.listen,
                source,
            })?;

        // The `[tradecloud]` client: the default fetcher, and `ctx.client()`
        // for handlers (document downloads).
        let configured = match self.processing {
            Some(_) => ClientFetcher::from_config(&config.tradecloud)?,
            None => None,
        };
        let client = configured.as_ref().map(|f| f.client().clone());
        let fetcher = match self.fetcher {
            Some(fetcher) => Some(fetcher),
            None => configured.map(|f| Arc::new(f) as Arc<dyn Fetcher>),
        };
        if self.processing.is_some() && fetcher.is_none() {
            tracing::warn!(
                "no [tradecloud] username/password: GET webhooks are stored but cannot be fetched \
                 (they are dead-lettered; replay them once credentials are configured)"
            );
        }

        let metrics_auth = match &config.server.metrics_token {
            Some(token) => Some(Authenticator::from_config(&config::AuthConfig {
                method: Some(AuthMethod::Bearer),
                token: Some(token.clone()),
                realm: Some("tradecloud-metrics".into()),
                ..config::AuthConfig::default()
            })?),
            None => None,
        };
        let app = app(
            &config,
            inbox.clone(),
            metrics.clone(),
            authenticator,
            metrics_auth,
        );
        let app = match &acme {
            Some(acme) => acme.gate(app),
            None => app,
        };
        Ok(Receiver {
            config,
            app,
            listener,
            local_addr,
            tls,
            resolver,
            watch,
            dev_certificate,
            acme,
            inbox,
            metrics,
            processing: self.processing.map(|mut p| {
                p.configure(self.processor_config.unwrap_or_default(), fetcher, client);
                p
            }),
        })
    }

    /// [`build`](Self::build), then [`Receiver::run`].
    pub async fn run(self) -> Result<(), ReceiverError> {
        self.build().await?.run().await
    }
}

/// A receiver with its listener bound, ready to [`run`](Receiver::run).
pub struct Receiver {
    config: Config,
    app: axum::Router,
    listener: tokio::net::TcpListener,
    local_addr: SocketAddr,
    tls: Arc<ServerConfig>,
    resolver: Option<Arc<tls::CertResolver>>,
    watch: Option<tls::CertFiles>,
    dev_certificate: Option<String>,
    acme: Option<crate::acme::Acme>,
    inbox: Inbox,
    metrics: Metrics,
    processing: Option<Box<dyn processing_glue::Spawn>>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// A builder: `Receiver::builder().config(c).handler(h).run().await`.
    pub fn builder() -> ReceiverBuilder {
        ReceiverBuilder {
            config: None,
            config_path: None,
            tls: TlsSource::Config,
            inbox: None,
            metrics: None,
            listener: None,
            processing: None,
            processor_config: None,
            fetcher: None,
        }
    }

    /// The address the receiver listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The inbox events are stored in.
    pub fn inbox(&self) -> &Inbox {
        &self.inbox
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// With [`ReceiverBuilder::dev_tls`]: the generated certificate (PEM),
    /// for a test client to trust.
    pub fn dev_certificate_pem(&self) -> Option<&str> {
        self.dev_certificate.as_deref()
    }

    /// The complete axum application (webhook routes with their layers and
    /// the operational endpoints), to serve it some other way. It must
    /// still be served over TLS only.
    pub fn router(&self) -> axum::Router {
        self.app.clone()
    }

    /// Serve until SIGTERM or Ctrl-C, then finish in-flight requests and stop
    /// the processor.
    pub async fn run(self) -> Result<(), ReceiverError> {
        self.run_until(shutdown_signal()).await
    }

    /// Serve until `shutdown` completes, then finish in-flight requests and
    /// stop the processor.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ReceiverError> {
        let watcher = match (&self.watch, &self.resolver) {
            (Some(files), Some(resolver)) => Some(files.clone().watch(
                resolver,
                Duration::from_secs(self.config.server.tls_reload_secs.max(1)),
            )),
            _ => None,
        };
        let retention = match self.config.store.retention_days {
            Some(days) if days > 0 => Some(tokio::spawn(retention::run(
                self.inbox.clone(),
                self.metrics.clone(),
                days,
            ))),
            _ => None,
        };
        let acme = self.acme.map(crate::acme::Acme::spawn);
        let (stop_processing, stopped) = tokio::sync::watch::channel(false);
        let processor = self
            .processing
            .map(|p| p.spawn(self.inbox.clone(), self.metrics.clone(), stopped));
        let s = &self.config.server;
        tracing::info!(
            listen = %self.local_addr, order_path = %s.order_path, shipment_path = %s.shipment_path,
            auth = ?self.config.auth.method, processing = processor.is_some(), "receiving Tradecloud webhooks over HTTPS"
        );
        let options = server::ServeOptions {
            handshake_timeout: Duration::from_secs(s.handshake_timeout_secs.max(1)),
            header_read_timeout: Duration::from_secs(s.header_read_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(s.idle_timeout_secs.max(1)),
            shutdown_timeout: Duration::from_secs(s.shutdown_timeout_secs),
            max_connections: s.max_connections,
            max_connections_per_ip: s.max_connections_per_ip,
        };
        let shutdown: ShutdownFuture = Box::pin(shutdown);
        server::serve(
            self.listener,
            self.tls,
            self.app,
            options,
            self.metrics.clone(),
            shutdown,
        )
        .await;
        let _ = stop_processing.send(true);
        if let Some(processor) = processor {
            if tokio::time::timeout(
                Duration::from_secs(s.shutdown_timeout_secs.max(1)),
                processor,
            )
            .await
            .is_err()
            {
                tracing::warn!("the processor did not stop in time; unfinished events are handled again at the next start");
            }
        }
        if let Some(watcher) = watcher {
            watcher.abort();
        }
        if let Some(retention) = retention {
            retention.abort();
        }
        if let Some(acme) = acme {
            acme.abort();
        }
        tracing::info!("receiver stopped");
        Ok(())
    }
}

/// A [`Handler`] that logs every event (at `info`, without the body) and
/// marks it done: what `tradecloud serve` runs when no handler is given.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogHandler;

impl Handler for LogHandler {
    async fn handle(
        &self,
        event: crate::processing::Event,
        _ctx: &crate::processing::HandlerContext,
    ) -> Result<(), crate::processing::HandlerError> {
        use crate::processing::Event;
        let meta = event.meta();
        let lines = match &event {
            Event::Order { body, .. } => body
                .order_event
                .as_ref()
                .map(|e| e.lines.len())
                .or_else(|| {
                    body.single_delivery_order_event
                        .as_ref()
                        .map(|e| e.lines.len())
                })
                .or_else(|| body.simple_order_event.as_ref().map(|e| e.lines.len()))
                .or_else(|| body.order_documents_event.as_ref().map(|e| e.lines.len()))
                .unwrap_or(0),
            Event::Shipment { body, .. } => body.shipment.lines.len(),
            Event::FetchedOrder { order, .. } => order.lines.len(),
            Event::FetchedShipment { shipment, .. } => shipment.lines.len(),
        };
        tracing::info!(
            id = meta.inbox_id, kind = %meta.kind, event_name = meta.event_name.as_deref().unwrap_or(""),
            object_id = meta.object_id.as_deref().unwrap_or(""), message_id = meta.message_id.as_deref().unwrap_or(""),
            attempt = meta.attempt, lines, "event handled"
        );
        Ok(())
    }
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received; shutting down"),
        () = terminate => tracing::info!("SIGTERM received; shutting down"),
    }
}

#[derive(Clone)]
struct Ops {
    inbox: Inbox,
    metrics: Metrics,
    /// `server.metrics_token`: the Bearer token `/metrics` requires.
    metrics_auth: Option<Authenticator>,
}

async fn healthz() -> Response {
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "application/json")],
        r#"{"status":"up"}"#,
    )
        .into_response()
}

async fn readyz(State(ops): State<Ops>) -> Response {
    match tokio::time::timeout(Duration::from_secs(5), ops.inbox.ready()).await {
        Ok(Ok(())) => (
            StatusCode::OK,
            [(CONTENT_TYPE, "application/json")],
            r#"{"status":"ready"}"#,
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready");
            routes::problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "the inbox store does not accept writes",
                None,
            )
        }
        Err(_) => routes::problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the inbox store does not answer",
            None,
        ),
    }
}

async fn metrics_text(State(ops): State<Ops>, headers: http::HeaderMap) -> Response {
    if let Some(auth) = &ops.metrics_auth {
        if let Err(failure) = auth.authenticate(&headers).await {
            tracing::debug!(?failure, "/metrics request not authenticated");
            let mut response = routes::problem(
                StatusCode::UNAUTHORIZED,
                "/metrics requires the metrics token (server.metrics_token) as a Bearer token",
                None,
            );
            response
                .headers_mut()
                .insert(http::header::WWW_AUTHENTICATE, auth.challenge());
            return response;
        }
    }
    (
        StatusCode::OK,
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        ops.metrics.encode(),
    )
        .into_response()
}

async fn not_found() -> Response {
    routes::problem(StatusCode::NOT_FOUND, "no such endpoint", None)
}

/// The whole application: webhook routes behind authentication, the
/// concurrency limit, the timeout and the panic catcher; the operational
/// endpoints behind the timeout and the panic catcher.
fn app(
    config: &Config,
    inbox: Inbox,
    metrics: Metrics,
    authenticator: Authenticator,
    metrics_auth: Option<Authenticator>,
) -> axum::Router {
    let s = &config.server;
    let webhooks = Arc::new(routes::Webhooks {
        inbox: inbox.clone(),
        metrics: metrics.clone(),
        order_path: s.order_path.clone(),
        shipment_path: s.shipment_path.clone(),
    });
    let webhook_routes = routes::router(webhooks, &s.order_path, &s.shipment_path)
        .layer(DefaultBodyLimit::max(s.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            layers::Auth {
                authenticator,
                metrics: metrics.clone(),
            },
            layers::authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            layers::Guard {
                permits: Some(Arc::new(Semaphore::new(s.max_concurrent_requests))),
                timeout: Duration::from_secs(s.request_timeout_secs),
                metrics: Some(metrics.clone()),
            },
            layers::guard,
        ));
    let ops_state = Ops {
        inbox,
        metrics,
        metrics_auth,
    };
    let mut ops = axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if s.metrics {
        ops = ops.route("/metrics", get(metrics_text));
    }
    let ops = ops
        .with_state(ops_state)
        .layer(axum::middleware::from_fn_with_state(
            layers::Guard {
                permits: None,
                timeout: Duration::from_secs(10),
                metrics: None,
            },
            layers::guard,
        ));
    webhook_routes.merge(ops).fallback(not_found)
}

/// The link to [`crate::processing`].
mod processing_glue {
    use super::*;

    /// Starts the processor (type-erased over the handler type).
    pub(super) trait Spawn: Send {
        fn configure(
            &mut self,
            _config: ProcessorConfig,
            _fetcher: Option<Arc<dyn Fetcher>>,
            _client: Option<crate::client::Client>,
        ) {
        }
        fn spawn(
            self: Box<Self>,
            inbox: Inbox,
            metrics: Metrics,
            stop: tokio::sync::watch::Receiver<bool>,
        ) -> tokio::task::JoinHandle<()>;
    }

    async fn stopped(mut stop: tokio::sync::watch::Receiver<bool>) {
        let _ = stop.wait_for(|s| *s).await;
    }

    type Setup = (
        ProcessorConfig,
        Option<Arc<dyn Fetcher>>,
        Option<crate::client::Client>,
    );

    pub(super) struct WithHandler<H> {
        pub handler: H,
        pub setup: Option<Setup>,
    }

    impl<H: Handler> Spawn for WithHandler<H> {
        fn configure(
            &mut self,
            config: ProcessorConfig,
            fetcher: Option<Arc<dyn Fetcher>>,
            client: Option<crate::client::Client>,
        ) {
            self.setup = Some((config, fetcher, client));
        }

        fn spawn(
            self: Box<Self>,
            inbox: Inbox,
            metrics: Metrics,
            stop: tokio::sync::watch::Receiver<bool>,
        ) -> tokio::task::JoinHandle<()> {
            let (config, fetcher, client) = self.setup.unwrap_or_default();
            let mut processor = Processor::new(inbox, self.handler, config)
                .on_outcome(move |report| metrics.observe_outcome(report));
            if let Some(fetcher) = fetcher {
                processor = processor.with_shared_fetcher(fetcher);
            }
            if let Some(client) = client {
                processor = processor.with_extension(client);
            }
            tokio::spawn(processor.run(stopped(stop)))
        }
    }

    pub(super) struct Custom<F>(pub F);

    impl<H, F> Spawn for Custom<F>
    where
        H: Handler,
        F: FnOnce(Inbox) -> Processor<H> + Send + 'static,
    {
        fn spawn(
            self: Box<Self>,
            inbox: Inbox,
            _metrics: Metrics,
            stop: tokio::sync::watch::Receiver<bool>,
        ) -> tokio::task::JoinHandle<()> {
            tokio::spawn((self.0)(inbox).run(stopped(stop)))
        }
    }
}
