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
//! | HEAD on a GET-webhook route: nothing stored | `200` |
//! | missing or wrong credentials, an Entra ID token whose key a freshly fetched JWKS lacks | `401` + `WWW-Authenticate` |
//! | body that is not a valid event (bytes kept as `rejected`) | `400` + JSON problem |
//! | malformed chunked framing (nothing stored) | `400` + JSON problem |
//! | unsupported content type (bytes kept as `rejected`) | `415` + JSON problem |
//! | a `Content-Encoding` such as gzip (nothing stored) | `415` + `Accept-Encoding: identity` |
//! | body larger than `max_body_bytes` | `413` |
//! | store unavailable (also when it could not be opened at start: the receiver starts anyway and opens it in the background), read-only, disk full, store or receiver overloaded, a request timeout, a panic, a body that broke off, a JWKS that cannot be fetched (also for a rotated key) | `503` + `Retry-After` |
//!
//! Authentication happens before the body is read: a request without valid
//! credentials is never stored. An answer given before the body is read
//! still reaches an HTTP/1.1 client that is busy sending it: the rest of
//! the body is read and discarded first (at most `max_body_bytes` within
//! `request_timeout_secs`; over HTTP/2 as well). Unknown fields,
//! enum values and event names are accepted (and kept: the inbox stores the
//! exact bytes).
//!
//! Operational endpoints, without the webhook authentication: `/healthz`
//! (the process is up), `/readyz` (an event can be committed now: see
//! [`Inbox::ready`](crate::inbox::Inbox::ready); checked at most once a
//! second, with a write that is rolled back on PostgreSQL; a `503` says
//! why) and `/metrics`
//! (Prometheus, see [`metrics`]; `server.metrics = false` turns it off, and
//! with `server.metrics_token` it requires `Authorization: Bearer TOKEN`,
//! which Prometheus sends with `authorization: { credentials: TOKEN }`).
//!
//! # Layout
//!
//! A request goes `listener.rs` (the accept loop: TLS, connection limits,
//! timeouts, the body left unread by an early answer) → `app.rs` (the axum
//! application: which layers guard which routes; also [`Receiver::run`])
//! → `spans.rs` (its `tradecloud.receive` trace span, see
//! [`crate::telemetry`]) → `layers.rs` (concurrency limit, timeout, panic catcher,
//! authentication, `Content-Encoding`) → `routes.rs` (the generated webhook
//! stubs, storing in the inbox) or `ops.rs` (the operational endpoints).
//! `builder.rs` loads and checks all of it before anything is served;
//! `glue.rs` starts the [processor](crate::processing); [`config`] (with
//! `config/load.rs`), [`auth`], [`tls`], [`metrics`], [`console`] (the
//! operator's web console on a listener of its own) and `retention.rs`
//! are what their names say.

pub mod acme;
mod api_health;
mod app;
pub mod auth;
mod builder;
mod certificate;
pub mod config;
pub mod console;
mod fetch;
mod glue;
pub(crate) mod layers;
mod listener;
pub mod metrics;
mod ops;
mod retention;
mod routes;
mod spans;
pub mod tls;

use std::net::SocketAddr;

use crate::inbox::InboxError;

pub use crate::processing::LogHandler;
pub use api_health::ApiHealth;
pub use app::{shutdown_signal, shutdown_signals, Receiver};
pub use auth::{AuthFailure, Authenticator, Principal};
pub use builder::ReceiverBuilder;
pub use certificate::EXPIRY_WARNING_DAYS;
pub use config::{AuthMethod, Config, ConfigError, ConsoleConfig, Secret};
pub use fetch::ClientFetcher;
pub use layers::RemoteAddr;
pub use listener::overflow_limit;
pub use metrics::Metrics;
pub use tls::TlsError;

/// Why the receiver could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiverError {
    /// The configuration is incomplete or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The certificate or key could not be loaded.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The inbox could not be opened.
    #[error("cannot open the inbox ([store] url, or TRADECLOUD_STORE_URL): {0}")]
    Inbox(#[from] InboxError),
    /// The inbox opened, but another receiver holds it: a SQLite inbox takes
    /// one receiving process (its `PATH-receiver-lock`). The message names
    /// the other one's process id and says to stop it or to share a
    /// PostgreSQL inbox.
    #[error(transparent)]
    InboxInUse(InboxError),
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
