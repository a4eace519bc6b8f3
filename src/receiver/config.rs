//! `tradecloud.toml`: the receiver's configuration.
//!
//! ```toml
//! [server]
//! listen = "0.0.0.0:8443"
//! tls_cert = "fullchain.pem"      # PEM chain, reloaded when the file changes
//! tls_key = "privkey.pem"
//! order_path = "/tradecloud/order"        # default
//! shipment_path = "/tradecloud/shipment"  # default
//! max_body_bytes = 33554432
//!
//! [auth]                 # how Tradecloud authenticates to us
//! method = "basic"       # basic | bearer | entra
//! username = "tradecloud"
//! password_file = "/run/secrets/webhook-password"   # or password, or TRADECLOUD_AUTH_PASSWORD
//!
//! [store]
//! url = "sqlite://tradecloud-inbox.db"    # default; or "postgres://user:pw@host:5432/db"
//!
//! [tradecloud]           # how we call Tradecloud (GET webhooks, downloads)
//! environment = "acceptance"              # or production, or base_url = "..."
//! username = "..."                        # or TRADECLOUD_USERNAME
//! password = "..."                        # or TRADECLOUD_PASSWORD
//!
//! [processing]           # handing stored events to the handler
//! concurrency = 8        # events of different orders/shipments at once
//! max_attempts = 10      # then a transiently failing event is dead
//! backoff_base_ms = 1000 # first retry delay, doubled each time
//! backoff_max_secs = 300 # longest retry delay
//! batch = 64             # events of one order claimed and recorded together
//! lease_secs = 30        # another instance takes over a dead one's events after this
//! fetch_retry_hours = 24 # GET-webhook fetches are retried this long, then dead
//!
//! [console]              # the operator's web console (off without listen)
//! listen = "127.0.0.1:9090"               # never the webhook port
//! password_file = "/run/secrets/console-operator"   # replay, mark dead, purge
//! readonly_password_file = "/run/secrets/console-viewer" # optional: look only
//! tls = true             # default: HTTPS with the receiver's certificate
//!
//! [telemetry]            # OpenTelemetry traces (off without an endpoint)
//! otlp_endpoint = "http://localhost:4318" # or OTEL_EXPORTER_OTLP_ENDPOINT
//! service_name = "tradecloud"             # or OTEL_SERVICE_NAME
//! ```
//!
//! Every key can be overridden by an environment variable
//! `TRADECLOUD_<SECTION>_<KEY>` (`TRADECLOUD_AUTH_PASSWORD`,
//! `TRADECLOUD_SERVER_MAX_BODY_BYTES`, `TRADECLOUD_SERVER_MAX_CONNECTIONS_PER_IP`,
//! ...; lists are comma separated). `TRADECLOUD_USERNAME`,
//! `TRADECLOUD_PASSWORD`, `TRADECLOUD_BASE_URL` and `TRADECLOUD_ENV` (the
//! client's variables) also set the `[tradecloud]` keys (the
//! section-prefixed names win).
//! Every secret (`password`, `token`) can instead be read from a file with
//! the `_file` key (`password_file`, `token_file`), so that it never has to
//! be written into the configuration or on a command line.
//!
//! Unknown keys are refused, with the file or variable, the key and the
//! keys that are known; so are values of the wrong type, and unknown
//! sections (a misspelt `[procesing]`). A program's own sections (`[erp]`)
//! are named with [`Config::load_with_sections`] and kept in
//! [`Config::other`].
//!
//! Secrets are checked too: a Basic password or Bearer token shorter than
//! 16 characters is refused unless `auth.allow_short_secret = true`, and
//! `auth.jwks_url` must be `https://` (`http://` only on a loopback
//! address). How the layers are merged
//! (with figment) and how variable names find their keys (without a list
//! of keys to keep in step with these structs) is described in `load.rs`.

mod load;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize};

/// The configuration file read when no path is given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "tradecloud.toml";
/// Default `[server] order_path`.
pub const DEFAULT_ORDER_PATH: &str = "/tradecloud/order";
/// Default `[server] shipment_path`.
pub const DEFAULT_SHIPMENT_PATH: &str = "/tradecloud/shipment";
/// Default `[server] max_body_bytes` (32 MiB: a 500-line order is about 1.5 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Default `[store] url` (the inbox's own default).
pub use crate::inbox::DEFAULT_STORE_URL;

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or has keys of the wrong type.
    #[error("invalid configuration {origin}: {message}")]
    Invalid {
        /// The file, or `environment` for an override.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A setting is missing or contradicts another one.
    #[error("configuration: {0}")]
    Setting(String),
}

impl ConfigError {
    fn setting(message: impl Into<String>) -> Self {
        ConfigError::Setting(message.into())
    }
}

pub use crate::secret::Secret;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Config {
    /// `[server]`: the HTTPS listener and routes.
    pub server: ServerConfig,
    /// `[auth]`: how Tradecloud authenticates to this receiver.
    pub auth: AuthConfig,
    /// `[store]`: the durable inbox.
    pub store: StoreConfig,
    /// `[tradecloud]`: how this receiver calls Tradecloud.
    pub tradecloud: TradecloudConfig,
    /// `[processing]`: how stored events are handed to the handler.
    pub processing: ProcessingConfig,
    /// `[telemetry]`: OpenTelemetry traces (see [`crate::telemetry`]).
    pub telemetry: crate::telemetry::TelemetryConfig,
    /// `[console]`: the operator's web console (off unless `listen` is set).
    pub console: ConsoleConfig,
    /// Other sections, kept for their owners.
    #[serde(flatten)]
    pub other: BTreeMap<String, toml::Value>,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on (`0.0.0.0:8443`).
    pub listen: SocketAddr,
    /// PEM certificate chain (leaf first). Reloaded when the file changes.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1). Reloaded when the file changes.
    pub tls_key: Option<PathBuf>,
    /// Seconds between checks of the certificate files for changes.
    pub tls_reload_secs: u64,
    /// Path of the order webhook (POST, PUT, GET `/{orderId}` and `?orderId=`).
    pub order_path: String,
    /// Path of the shipment webhook (POST, GET `/{shipmentId}` and `?shipmentId=`).
    pub shipment_path: String,
    /// Largest accepted body; larger ones get `413`.
    pub max_body_bytes: usize,
    /// Webhook requests handled at once; more get `503` with `Retry-After`.
    pub max_concurrent_requests: usize,
    /// A webhook request that takes longer gets `503` (never `408`).
    pub request_timeout_secs: u64,
    /// Time for a client to finish the TLS handshake.
    pub handshake_timeout_secs: u64,
    /// Time for a client to send the headers of a request (the first one
    /// from the end of the handshake); a slower one is disconnected.
    pub header_read_timeout_secs: u64,
    /// A connection without a request in flight for this long is closed
    /// (HTTP/2; an HTTP/1.1 connection already closes when its next request
    /// headers take longer than `header_read_timeout_secs`).
    pub idle_timeout_secs: u64,
    /// Connections served at once; more are answered `503` with
    /// `Retry-After` and closed (in a flood, closed before TLS).
    pub max_connections: usize,
    /// Connections served at once per client IP address (0: no limit);
    /// more are answered like those over `max_connections`.
    pub max_connections_per_ip: usize,
    /// On shutdown, time given to in-flight requests before connections are closed.
    pub shutdown_timeout_secs: u64,
    /// Serve Prometheus metrics at `/metrics`.
    pub metrics: bool,
    /// If set, `/metrics` requires `Authorization: Bearer` with this token.
    pub metrics_token: Option<Secret>,
    /// A file holding the metrics token.
    pub metrics_token_file: Option<PathBuf>,
    /// `[server.acme]`: obtain and renew the certificate from an ACME CA
    /// instead of `tls_cert`/`tls_key` (see [`crate::receiver::acme`]).
    pub acme: Option<crate::receiver::acme::AcmeConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 8443)),
            tls_cert: None,
            tls_key: None,
            tls_reload_secs: 5,
            order_path: DEFAULT_ORDER_PATH.into(),
            shipment_path: DEFAULT_SHIPMENT_PATH.into(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_concurrent_requests: 1024,
            request_timeout_secs: 30,
            handshake_timeout_secs: 10,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 1024,
            max_connections_per_ip: 256,
            shutdown_timeout_secs: 30,
            metrics: true,
            metrics_token: None,
            metrics_token_file: None,
            acme: None,
        }
    }
}

/// `[auth] method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// HTTP Basic authentication (RFC 7617): `username` and `password`.
    Basic,
    /// A static Bearer token (RFC 6750): `token`.
    Bearer,
    /// OAuth 2.0 client-credentials access tokens issued by Microsoft Entra ID
    /// (JWT, RS256, checked against the tenant's JWKS).
    Entra,
}

/// `[auth]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// The one method Tradecloud uses to call this receiver.
    pub method: Option<AuthMethod>,
    /// Basic: the user name.
    pub username: Option<String>,
    /// Basic: the password.
    pub password: Option<Secret>,
    /// Basic: a file holding the password.
    pub password_file: Option<PathBuf>,
    /// Bearer: the static token.
    pub token: Option<Secret>,
    /// Bearer: a file holding the token.
    pub token_file: Option<PathBuf>,
    /// Entra: the directory (tenant) id.
    pub tenant_id: Option<String>,
    /// Entra: accepted `aud` values (the application id URI and/or the client id).
    #[serde(deserialize_with = "one_or_many")]
    pub audience: Vec<String>,
    /// Entra: the JWKS URL (default
    /// `https://login.microsoftonline.com/{tenant_id}/discovery/v2.0/keys`).
    pub jwks_url: Option<String>,
    /// Entra: accepted `iss` values (default the v2.0 issuer
    /// `https://login.microsoftonline.com/{tenant_id}/v2.0` and the v1.0
    /// issuer `https://sts.windows.net/{tenant_id}/`).
    #[serde(deserialize_with = "one_or_many")]
    pub issuer: Vec<String>,
    /// Entra: if not empty, the calling application (`azp` in v2.0 tokens,
    /// `appid` in v1.0 tokens) must be one of these client ids.
    #[serde(deserialize_with = "one_or_many")]
    pub allowed_client_ids: Vec<String>,
    /// Entra: clock skew allowed for `exp` and `nbf`, in seconds.
    pub leeway_secs: Option<u64>,
    /// Entra: the JWKS is fetched again for an unknown key id at most this often.
    pub jwks_min_refresh_secs: Option<u64>,
    /// Entra: the JWKS is fetched again after this many seconds in any case.
    pub jwks_max_age_secs: Option<u64>,
    /// Entra: after a failed JWKS fetch the next one waits 1 s, doubled per
    /// further failure up to this many seconds (default 60); cached keys
    /// stay in use meanwhile.
    pub jwks_backoff_max_secs: Option<u64>,
    /// `realm` in `WWW-Authenticate`.
    pub realm: Option<String>,
    /// Accept a Basic password or Bearer token shorter than
    /// [`MIN_SECRET_CHARS`] characters (default `false`: refused, since a
    /// short secret can be guessed). Only for a test, or a secret you
    /// cannot change.
    pub allow_short_secret: bool,
}

/// The shortest Basic password or Bearer token accepted (in characters)
/// without `auth.allow_short_secret = true`.
pub const MIN_SECRET_CHARS: usize = 16;

/// `[console]`: the operator's web console (see
/// [`crate::receiver::console`]). Off unless `listen` is set.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Address of the console's own listener (`127.0.0.1:9090`); never the
    /// webhook address. Unset: no console, no port.
    pub listen: Option<SocketAddr>,
    /// HTTPS with the receiver's certificate (default). `false` serves plain
    /// HTTP, which is accepted on a loopback address only (behind an SSH
    /// tunnel or a local reverse proxy that terminates TLS).
    pub tls: bool,
    /// The operator password: look, replay, mark dead, purge.
    pub password: Option<Secret>,
    /// A file holding the operator password.
    pub password_file: Option<PathBuf>,
    /// The read-only password (optional): look only.
    pub readonly_password: Option<Secret>,
    /// A file holding the read-only password.
    pub readonly_password_file: Option<PathBuf>,
    /// A session ends after this many minutes without a request.
    pub idle_minutes: u64,
    /// A session ends this many hours after the login in any case.
    pub session_hours: u64,
    /// Append every replay, mark-dead and purge (who, when, what) to this
    /// file, one JSON object per line, besides the log line
    /// (`tradecloud::console::audit`) always written.
    pub audit_file: Option<PathBuf>,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            listen: None,
            tls: true,
            password: None,
            password_file: None,
            readonly_password: None,
            readonly_password_file: None,
            idle_minutes: 30,
            session_hours: 12,
            audit_file: None,
        }
    }
}

impl ConsoleConfig {
    /// The console needs a password, its own port, and TLS unless it
    /// listens on loopback only.
    fn validate(&self, webhook: SocketAddr) -> Result<(), ConfigError> {
        let Some(listen) = self.listen else {
            return Ok(());
        };
        let same_port = listen.port() == webhook.port()
            && (listen.ip() == webhook.ip()
                || listen.ip().is_unspecified()
                || webhook.ip().is_unspecified());
        if same_port {
            return Err(ConfigError::setting(format!(
                "console.listen = {listen} is the webhook address (server.listen = {webhook}): the console \
                 has its own port, never Tradecloud's; use another port such as 127.0.0.1:9090"
            )));
        }
        if !self.tls && !listen.ip().is_loopback() {
            return Err(ConfigError::setting(format!(
                "console.tls = false serves plain HTTP, which is accepted on a loopback address only \
                 (console.listen = {listen}); listen on 127.0.0.1 (reach it through an SSH tunnel) \
                 or keep console.tls = true (HTTPS with the receiver's certificate)"
            )));
        }
        let operator = match &self.password {
            Some(p) if !p.expose().is_empty() => p,
            _ => {
                return Err(ConfigError::setting(
                    "console.listen is set but console.password is not: the console needs a login; \
                     set console.password_file (or console.password, or TRADECLOUD_CONSOLE_PASSWORD)",
                ))
            }
        };
        for (key, secret) in [
            ("console.password", Some(operator)),
            ("console.readonly_password", self.readonly_password.as_ref()),
        ] {
            let Some(secret) = secret else { continue };
            let chars = secret.expose().chars().count();
            if chars < MIN_SECRET_CHARS {
                return Err(ConfigError::setting(format!(
                    "{key} has {chars} characters, fewer than {MIN_SECRET_CHARS}: a short password can be \
                     guessed; use a longer one (e.g. `openssl rand -base64 24`)"
                )));
            }
        }
        if self
            .readonly_password
            .as_ref()
            .is_some_and(|r| r.expose() == operator.expose())
        {
            return Err(ConfigError::setting(
                "console.readonly_password is the operator password (console.password): the roles need \
                 different passwords",
            ));
        }
        if self.idle_minutes == 0 || self.session_hours == 0 {
            return Err(ConfigError::setting(
                "console.idle_minutes and console.session_hours must be at least 1",
            ));
        }
        Ok(())
    }
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// The inbox database: `sqlite://PATH` (the default), or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` for several receivers on
    /// one database (also `TRADECLOUD_STORE_URL`); tuning options in its
    /// query: `?busy_timeout_ms=2000&queue_capacity=8192&pool_size=16`, see
    /// [`crate::inbox::InboxOptions`].
    pub url: String,
    /// Delete `done` events this many days after they were handled (checked
    /// at start and every hour). Unset or 0: keep every event (the default:
    /// the inbox is the record of what Tradecloud sent). Events still to be
    /// handled, `dead`, `rejected` and `unhandled` ones are never deleted.
    pub retention_days: Option<u64>,
}

impl StoreConfig {
    /// What serving needs of `[store]`: an inbox that outlives the process.
    fn validate(&self) -> Result<(), ConfigError> {
        if crate::inbox::is_memory_url(&self.url) {
            return Err(ConfigError::setting(format!(
                "store.url = {:?} keeps the inbox in memory: every event acknowledged to Tradecloud \
                 would be lost when the receiver stops. Use a file (sqlite://PATH, the default is {}) \
                 or postgres://...; an in-memory inbox is for tests only (Inbox::open(\"sqlite::memory:\") \
                 given to ReceiverBuilder::inbox)",
                self.url,
                DEFAULT_STORE_URL
            )));
        }
        Ok(())
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: DEFAULT_STORE_URL.into(),
            retention_days: None,
        }
    }
}

/// `[tradecloud]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TradecloudConfig {
    /// `acceptance` (default) or `production`.
    pub environment: Option<String>,
    /// API base URL, overriding `environment` (for example the mock).
    pub base_url: Option<String>,
    /// The integration user.
    pub username: Option<String>,
    /// Its password.
    pub password: Option<Secret>,
    /// A file holding the password.
    pub password_file: Option<PathBuf>,
}

/// `[processing]`: the [`ProcessorConfig`](crate::processing::ProcessorConfig)
/// of the receiver's handler (a
/// [`ReceiverBuilder::processor_config`](super::ReceiverBuilder::processor_config)
/// given in code wins over this section).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessingConfig {
    /// Events handled at the same time (of different orders or shipments;
    /// the events of one are always handled one at a time, in order).
    #[serde(alias = "workers")]
    pub concurrency: usize,
    /// Attempts in all before a transiently failing event is `dead`.
    pub max_attempts: u32,
    /// Delay before the first retry, in milliseconds; doubled for each further one.
    pub backoff_base_ms: u64,
    /// Longest delay between attempts, in seconds.
    pub backoff_max_secs: u64,
    /// How often to look for work that nothing announced (events stored by
    /// another process, retries that came due), in milliseconds.
    pub poll_interval_ms: u64,
    /// Most events of one order (shipment) claimed and recorded together.
    pub batch: usize,
    /// Seconds a claim holds without renewal; another instance takes over
    /// the events of one that died after this.
    pub lease_secs: u64,
    /// Hours GET-webhook fetches are retried (API down) before the trigger
    /// is dead-lettered; Tradecloud retries a webhook for 24 hours.
    pub fetch_retry_hours: u64,
}

impl Default for ProcessingConfig {
    fn default() -> Self {
        ProcessingConfig::from(&crate::processing::ProcessorConfig::default())
    }
}

impl From<&crate::processing::ProcessorConfig> for ProcessingConfig {
    fn from(c: &crate::processing::ProcessorConfig) -> Self {
        let millis = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        ProcessingConfig {
            concurrency: c.concurrency,
            max_attempts: c.max_attempts,
            backoff_base_ms: millis(c.backoff_base),
            backoff_max_secs: c.backoff_max.as_secs(),
            poll_interval_ms: millis(c.poll_interval),
            batch: c.batch,
            lease_secs: c.lease.as_secs(),
            fetch_retry_hours: c.fetch_retry_for.as_secs() / 3600,
        }
    }
}

impl ProcessingConfig {
    /// The processor settings of this section.
    pub fn processor_config(&self) -> crate::processing::ProcessorConfig {
        use std::time::Duration;
        crate::processing::ProcessorConfig {
            concurrency: self.concurrency,
            max_attempts: self.max_attempts,
            backoff_base: Duration::from_millis(self.backoff_base_ms),
            backoff_max: Duration::from_secs(self.backoff_max_secs),
            poll_interval: Duration::from_millis(self.poll_interval_ms),
            batch: self.batch,
            lease: Duration::from_secs(self.lease_secs),
            fetch_retry_for: Duration::from_secs(self.fetch_retry_hours.saturating_mul(3600)),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.concurrency == 0
            || self.max_attempts == 0
            || self.poll_interval_ms == 0
            || self.batch == 0
            || self.lease_secs < 3
        {
            return Err(ConfigError::setting(
                "processing.concurrency, max_attempts, poll_interval_ms and batch must be at least 1, lease_secs at least 3",
            ));
        }
        if u128::from(self.backoff_base_ms) > u128::from(self.backoff_max_secs) * 1000 {
            return Err(ConfigError::setting(format!(
                "processing.backoff_base_ms ({} ms) is longer than processing.backoff_max_secs ({} s); lower the first or raise the second",
                self.backoff_base_ms, self.backoff_max_secs
            )));
        }
        Ok(())
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => split_list(&s),
        OneOrMany::Many(v) => v,
    })
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

impl Config {
    /// Check what the receiver needs: an authentication method with its
    /// settings, distinct absolute webhook paths, sane limits.
    pub fn validate_for_serving(&self) -> Result<(), ConfigError> {
        let s = &self.server;
        for (name, path) in [
            ("order_path", &s.order_path),
            ("shipment_path", &s.shipment_path),
        ] {
            if !path.starts_with('/') || path.len() < 2 || path.ends_with('/') || path.contains("{")
            {
                return Err(ConfigError::setting(format!(
                    "server.{name} must be an absolute path such as /tradecloud/order, without a trailing slash (got `{path}`)"
                )));
            }
        }
        if s.order_path == s.shipment_path {
            return Err(ConfigError::setting(
                "server.order_path and server.shipment_path must differ",
            ));
        }
        for reserved in ["/healthz", "/readyz", "/metrics"] {
            if s.order_path == reserved || s.shipment_path == reserved {
                return Err(ConfigError::setting(format!("{reserved} is reserved")));
            }
        }
        if s.max_body_bytes == 0 || s.max_concurrent_requests == 0 || s.request_timeout_secs == 0 {
            return Err(ConfigError::setting(
                "server.max_body_bytes, max_concurrent_requests and request_timeout_secs must be positive",
            ));
        }
        if s.max_connections == 0
            || s.handshake_timeout_secs == 0
            || s.header_read_timeout_secs == 0
            || s.idle_timeout_secs == 0
        {
            return Err(ConfigError::setting(
                "server.max_connections, handshake_timeout_secs, header_read_timeout_secs and idle_timeout_secs must be positive (max_connections_per_ip = 0 means no limit per address)",
            ));
        }
        if s.metrics_token
            .as_ref()
            .is_some_and(|t| t.expose().trim().is_empty())
        {
            return Err(ConfigError::setting(
                "server.metrics_token is empty; set a token or remove the key",
            ));
        }
        if let Some(acme) = &s.acme {
            acme.validate(s.tls_cert.is_some() || s.tls_key.is_some())
                .map_err(ConfigError::Setting)?;
        }
        if s.tls_cert.is_some() != s.tls_key.is_some() {
            return Err(ConfigError::setting(
                "server.tls_cert and server.tls_key go together",
            ));
        }
        self.processing.validate()?;
        self.store.validate()?;
        self.console.validate(s.listen)?;
        let a = &self.auth;
        match a.method {
            None => {
                return Err(ConfigError::setting(
                    "auth.method is required (basic, bearer or entra): Tradecloud always authenticates its webhook calls",
                ))
            }
            Some(AuthMethod::Basic) => {
                if a.username.as_deref().unwrap_or("").is_empty() || a.password.as_ref().is_none_or(|p| p.expose().is_empty()) {
                    return Err(ConfigError::setting(
                        "auth.method = \"basic\" needs auth.username and auth.password (or password_file, or TRADECLOUD_AUTH_PASSWORD)",
                    ));
                }
                if a.username.as_deref().is_some_and(|u| u.contains(':')) {
                    return Err(ConfigError::setting("auth.username cannot contain `:` (RFC 7617)"));
                }
                a.refuse_short_secret("auth.password", a.password.as_ref())?;
            }
            Some(AuthMethod::Bearer) => {
                if a.token.as_ref().is_none_or(|t| t.expose().is_empty()) {
                    return Err(ConfigError::setting(
                        "auth.method = \"bearer\" needs auth.token (or token_file, or TRADECLOUD_AUTH_TOKEN)",
                    ));
                }
                a.refuse_short_secret("auth.token", a.token.as_ref())?;
            }
            Some(AuthMethod::Entra) => {
                if a.tenant_id.as_deref().unwrap_or("").is_empty() && (a.jwks_url.is_none() || a.issuer.is_empty()) {
                    return Err(ConfigError::setting(
                        "auth.method = \"entra\" needs auth.tenant_id (or both auth.jwks_url and auth.issuer)",
                    ));
                }
                if a.audience.is_empty() {
                    return Err(ConfigError::setting(
                        "auth.method = \"entra\" needs auth.audience (the application id URI or client id of this webhook's app registration)",
                    ));
                }
                if let Some(url) = &a.jwks_url {
                    check_jwks_url(url)?;
                }
            }
        }
        Ok(())
    }

    /// What is allowed but probably not meant, one sentence each (the
    /// receiver logs them as warnings at start): Entra ID without
    /// `auth.allowed_client_ids` accepts a token of any application of the
    /// tenant that may call this audience; a short secret allowed by
    /// `auth.allow_short_secret`.
    pub fn warnings(&self) -> Vec<String> {
        let a = &self.auth;
        let mut warnings = Vec::new();
        if a.method == Some(AuthMethod::Entra) && a.allowed_client_ids.is_empty() {
            warnings.push(
                "auth.allowed_client_ids is empty: any application of the tenant that can get a token \
                 for this audience is accepted; set it to the client id Tradecloud uses (the portal's \
                 \"Client ID\")"
                    .to_string(),
            );
        }
        if a.allow_short_secret {
            let short = |s: &Option<Secret>| {
                s.as_ref()
                    .is_some_and(|s| s.expose().chars().count() < MIN_SECRET_CHARS)
            };
            if (a.method == Some(AuthMethod::Basic) && short(&a.password))
                || (a.method == Some(AuthMethod::Bearer) && short(&a.token))
            {
                warnings.push(format!(
                    "auth.allow_short_secret = true: the webhook secret is shorter than {MIN_SECRET_CHARS} characters and can be guessed"
                ));
            }
        }
        warnings
    }
}

impl AuthConfig {
    /// A secret shorter than [`MIN_SECRET_CHARS`] is refused unless
    /// `allow_short_secret`.
    fn refuse_short_secret(&self, key: &str, secret: Option<&Secret>) -> Result<(), ConfigError> {
        let chars = secret.map_or(0, |s| s.expose().chars().count());
        if chars < MIN_SECRET_CHARS && !self.allow_short_secret {
            return Err(ConfigError::setting(format!(
                "{key} has {chars} characters, fewer than {MIN_SECRET_CHARS}: a short secret can be guessed; \
                 use a longer one (e.g. `openssl rand -base64 24`) in the receiver and in Tradecloud's \
                 portal, or set auth.allow_short_secret = true to accept it anyway"
            )));
        }
        Ok(())
    }
}

/// `auth.jwks_url` must be `https://`: keys fetched over plain HTTP can be
/// swapped by anyone on the path, and then any token verifies. `http://` is
/// accepted for a loopback address only (a local key proxy, a test).
pub(crate) fn check_jwks_url(jwks_url: &str) -> Result<(), ConfigError> {
    let invalid = |why: &str| {
        ConfigError::setting(format!(
            "auth.jwks_url = {jwks_url:?} {why}; use the https:// URL of the tenant's keys \
             (https://login.microsoftonline.com/TENANT/discovery/v2.0/keys, the default with auth.tenant_id)"
        ))
    };
    let url = url::Url::parse(jwks_url).map_err(|e| invalid(&format!("is not a URL ({e})")))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
                None => false,
            };
            if loopback {
                Ok(())
            } else {
                Err(invalid(
                    "is plain HTTP: signing keys fetched without TLS can be swapped by anyone on the path \
                     (http:// is accepted for a loopback address only)",
                ))
            }
        }
        _ => Err(invalid("is not an https:// URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_without_a_file() {
        let c = Config::from_parts(None, "-", env(&[])).unwrap();
        assert_eq!(c.server.order_path, "/tradecloud/order");
        assert_eq!(c.server.shipment_path, "/tradecloud/shipment");
        assert_eq!(c.server.max_body_bytes, 33554432);
        assert_eq!(c.store.url, "sqlite://tradecloud-inbox.db");
        assert!(c.validate_for_serving().is_err(), "auth is required");
    }

    #[test]
    fn file_then_environment() {
        let text = r#"
            [server]
            listen = "127.0.0.1:9443"
            max_body_bytes = 1000
            [auth]
            method = "basic"
            username = "tradecloud"
            password = "from-file"
            [store]
            url = "sqlite://x.db?busy_timeout_ms=5"
            [tradecloud]
            environment = "acceptance"
            [processing]
            workers = 4
        "#;
        let c = Config::from_parts(
            Some(text),
            "t.toml",
            env(&[
                ("TRADECLOUD_AUTH_PASSWORD", "from-the-environment"),
                ("TRADECLOUD_SERVER_MAX_BODY_BYTES", "2000"),
                ("TRADECLOUD_USERNAME", "alias"),
                ("TRADECLOUD_PASSWORD", "alias-pw"),
                ("TRADECLOUD_TRADECLOUD_USERNAME", "prefixed"),
                ("TRADECLOUD_SERVER_METRICS", "false"),
                ("TRADECLOUD_CONFIG", "ignored"),
                ("TRADECLOUD_AUTH_ALLOWED_CLIENT_IDS", "a, b"),
            ]),
        )
        .unwrap();
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:9443");
        assert_eq!(c.server.max_body_bytes, 2000);
        assert!(!c.server.metrics);
        assert_eq!(
            c.auth.password.as_ref().unwrap().expose(),
            "from-the-environment"
        );
        assert_eq!(c.tradecloud.username.as_deref(), Some("prefixed"));
        assert_eq!(c.tradecloud.password.as_ref().unwrap().expose(), "alias-pw");
        assert_eq!(c.auth.allowed_client_ids, vec!["a", "b"]);
        assert_eq!(c.store.url, "sqlite://x.db?busy_timeout_ms=5");
        assert_eq!(c.processing.concurrency, 4, "`workers` is an alias");
        c.validate_for_serving().unwrap();
        assert!(
            !format!("{c:?}").contains("from-the-environment"),
            "secrets are not printed"
        );
    }

    #[test]
    fn processing_section_and_its_overrides() {
        let c = Config::from_parts(None, "-", env(&[])).unwrap();
        let defaults = crate::processing::ProcessorConfig::default();
        let p = c.processing.processor_config();
        assert_eq!(p.concurrency, defaults.concurrency);
        assert_eq!(p.max_attempts, defaults.max_attempts);
        assert_eq!(p.backoff_base, defaults.backoff_base);
        assert_eq!(p.backoff_max, defaults.backoff_max);
        assert_eq!(p.poll_interval, defaults.poll_interval);

        let text = "[processing]\nconcurrency = 3\nmax_attempts = 5\nbackoff_base_ms = 250\nbackoff_max_secs = 60\n";
        let c = Config::from_parts(
            Some(text),
            "t.toml",
            env(&[
                ("TRADECLOUD_PROCESSING_MAX_ATTEMPTS", "7"),
                ("TRADECLOUD_PROCESSING_POLL_INTERVAL_MS", "50"),
            ]),
        )
        .unwrap();
        let p = c.processing.processor_config();
        assert_eq!(p.concurrency, 3);
        assert_eq!(p.max_attempts, 7, "the environment wins");
        assert_eq!(p.backoff_base, std::time::Duration::from_millis(250));
        assert_eq!(p.backoff_max, std::time::Duration::from_secs(60));
        assert_eq!(p.poll_interval, std::time::Duration::from_millis(50));

        let basic = "[auth]\nmethod = \"basic\"\nusername = \"u\"\npassword = \"p\"\n";
        for (extra, expected) in [
            ("[processing]\nconcurrency = 0\n", "processing.concurrency"),
            ("[processing]\nmax_attempts = 0\n", "max_attempts"),
            (
                "[processing]\nbackoff_base_ms = 120000\nbackoff_max_secs = 60\n",
                "backoff_base_ms",
            ),
        ] {
            let c = Config::from_parts(Some(&format!("{basic}{extra}")), "t", env(&[])).unwrap();
            let e = c.validate_for_serving().unwrap_err().to_string();
            assert!(e.contains(expected), "{e}");
        }
        let e = Config::from_parts(Some("[processing]\nthreads = 2\n"), "t.toml", env(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("threads"), "{e}");
        let e = Config::from_parts(
            None,
            "t",
            env(&[("TRADECLOUD_PROCESSING_CONCURRENCY", "many")]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("TRADECLOUD_PROCESSING_CONCURRENCY"), "{e}");
    }

    /// Issue 21: the console is off by default, has its own port, a long
    /// password, and plain HTTP on loopback only.
    #[test]
    fn console_section() {
        let basic = "[server]\nlisten = \"0.0.0.0:8443\"\n[auth]\nmethod = \"basic\"\nusername = \"u\"\npassword = \"a-long-enough-password\"\n";
        let c = Config::from_parts(Some(basic), "t", env(&[])).unwrap();
        assert!(c.console.listen.is_none(), "off by default");
        c.validate_for_serving().unwrap();
        let check = |extra: &str| {
            Config::from_parts(Some(&format!("{basic}[console]\n{extra}")), "t", env(&[]))
                .and_then(|c| c.validate_for_serving())
        };
        check("listen = \"127.0.0.1:9090\"\npassword = \"operator-password-123\"\ntls = false\n")
            .unwrap();
        for (extra, expected) in [
            ("listen = \"127.0.0.1:9090\"\n", "console.password"),
            ("listen = \"127.0.0.1:8443\"\npassword = \"operator-password-123\"\n", "webhook address"),
            ("listen = \"10.0.0.1:9090\"\npassword = \"operator-password-123\"\ntls = false\n", "loopback"),
            ("listen = \"127.0.0.1:9090\"\npassword = \"short\"\n", "fewer than 16"),
            ("listen = \"127.0.0.1:9090\"\npassword = \"operator-password-123\"\nreadonly_password = \"operator-password-123\"\n", "different passwords"),
            ("lisen = \"127.0.0.1:9090\"\n", "lisen"),
        ] {
            let e = check(extra).unwrap_err().to_string();
            assert!(e.contains(expected), "{extra}: {e}");
        }
        let c = Config::from_parts(
            Some(basic),
            "t",
            env(&[
                ("TRADECLOUD_CONSOLE_LISTEN", "127.0.0.1:9091"),
                ("TRADECLOUD_CONSOLE_PASSWORD", "from-the-environment"),
            ]),
        )
        .unwrap();
        assert_eq!(c.console.listen.unwrap().port(), 9091);
        assert!(!format!("{c:?}").contains("from-the-environment"));
    }

    #[test]
    fn secrets_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\n").unwrap();
        let text = format!(
            "[auth]\nmethod = \"basic\"\nusername = \"u\"\npassword_file = {:?}\n",
            file.display().to_string()
        );
        let c = Config::from_parts(Some(&text), "t", env(&[])).unwrap();
        assert_eq!(c.auth.password.unwrap().expose(), "s3cret");
        let c = Config::from_parts(
            None,
            "t",
            env(&[("TRADECLOUD_AUTH_TOKEN_FILE", file.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(c.auth.token.unwrap().expose(), "s3cret");
    }

    #[test]
    fn errors_are_clear() {
        let e = Config::from_parts(Some("[server]\nlisten = 5"), "t.toml", env(&[])).unwrap_err();
        assert!(e.to_string().contains("t.toml"), "{e}");
        let e =
            Config::from_parts(Some("[server]\nlisen = \"x\""), "t.toml", env(&[])).unwrap_err();
        assert!(e.to_string().contains("lisen"), "{e}");
        // A misspelt store key is an error, not a silently kept default.
        let e = Config::from_parts(Some("[store]\nretention_day = 30"), "t.toml", env(&[]))
            .unwrap_err();
        assert!(e.to_string().contains("retention_day"), "{e}");
        let e = Config::from_parts(
            None,
            "t",
            env(&[("TRADECLOUD_SERVER_MAX_BODY_BYTES", "big")]),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("TRADECLOUD_SERVER_MAX_BODY_BYTES"),
            "{e}"
        );
        let c = Config::from_parts(
            Some("[auth]\nmethod = \"entra\"\ntenant_id = \"t\""),
            "t",
            env(&[]),
        )
        .unwrap();
        assert!(c
            .validate_for_serving()
            .unwrap_err()
            .to_string()
            .contains("audience"));
    }

    fn error(text: Option<&str>, pairs: &[(&str, &str)]) -> String {
        Config::from_parts(text, "tradecloud.toml", env(pairs))
            .unwrap_err()
            .to_string()
    }

    /// Issue 11: every error names the file or the variable, the key, and
    /// what was expected; unknown keys are refused, with the known ones.
    #[test]
    fn errors_name_the_source_the_key_and_the_expectation() {
        assert_eq!(
            error(Some("[server]\nlisten = 5"), &[]),
            "invalid configuration tradecloud.toml: `server.listen`: invalid type: found signed int `5`, expected socket address"
        );
        let e = error(Some("[server]\nmax_connection_per_ip = 5"), &[]);
        assert!(
            e.starts_with("invalid configuration tradecloud.toml: `server.max_connection_per_ip`: unknown key `max_connection_per_ip`; known keys: listen, "),
            "{e}"
        );
        assert!(e.contains("max_connections_per_ip"), "{e}");
        let e = error(None, &[("TRADECLOUD_SERVER_MAX_CONECTIONS", "5")]);
        assert!(
            e.starts_with("invalid configuration TRADECLOUD_SERVER_MAX_CONECTIONS (environment): `server.max_conections`: unknown key"),
            "{e}"
        );
        assert_eq!(
            error(None, &[("TRADECLOUD_SERVER_MAX_CONNECTIONS_PER_IP", "many")]),
            "invalid configuration TRADECLOUD_SERVER_MAX_CONNECTIONS_PER_IP (environment): `server.max_connections_per_ip`: invalid type: found string \"many\", expected usize"
        );
        assert_eq!(
            error(Some("[auth]\nmethod = \"digest\""), &[]),
            "invalid configuration tradecloud.toml: `auth.method`: unknown value `digest`; expected one of: basic, bearer, entra"
        );
        assert_eq!(
            error(Some("[server]\nmetrics = \"maybe\""), &[]),
            "invalid configuration tradecloud.toml: `server.metrics`: invalid type: found string \"maybe\", expected a boolean"
        );
        // A key above the first section.
        let e = error(Some("listen = \"0.0.0.0:443\"\n[server]\n"), &[]);
        assert!(
            e.contains("unknown key `listen` outside any section"),
            "{e}"
        );
        // A syntax error keeps the TOML parser's line and column.
        let e = error(Some("[server\n"), &[]);
        assert!(e.contains("line 1, column 8"), "{e}");
    }

    /// Variable names find their keys though keys have underscores of their
    /// own; values are read as the field's type; a numeric secret stays a
    /// string; a user's own sections are kept.
    #[test]
    fn variables_find_their_keys() {
        let c = Config::from_parts_with_sections(
            Some("[erp]\ndocuments_dir = \"docs\"\n"),
            "t",
            env(&[
                ("TRADECLOUD_SERVER_MAX_CONNECTIONS_PER_IP", "7"),
                ("TRADECLOUD_SERVER_MAX_CONNECTIONS", "70"),
                ("TRADECLOUD_SERVER_METRICS", "off"),
                ("TRADECLOUD_SERVER_METRICS_TOKEN", "12345"),
                ("TRADECLOUD_AUTH_PASSWORD", "0042"),
                ("TRADECLOUD_AUTH_ISSUER", "https://a/, https://b/"),
                ("TRADECLOUD_STORE_RETENTION_DAYS", "3"),
                ("TRADECLOUD_STORE_URL", "sqlite://elsewhere.db"),
                ("TRADECLOUD_PROCESSING_BACKOFF_BASE_MS", "250"),
                ("TRADECLOUD_ENV", "production"),
                ("TRADECLOUD_LOG", "debug"),
            ]),
            &["erp"],
        )
        .unwrap();
        assert_eq!(c.server.max_connections_per_ip, 7);
        assert_eq!(c.server.max_connections, 70);
        assert!(!c.server.metrics);
        assert_eq!(c.server.metrics_token.unwrap().expose(), "12345");
        assert_eq!(c.auth.password.unwrap().expose(), "0042");
        assert_eq!(c.auth.issuer, vec!["https://a/", "https://b/"]);
        assert_eq!(c.store.retention_days, Some(3));
        assert_eq!(c.store.url, "sqlite://elsewhere.db");
        assert_eq!(c.processing.backoff_base_ms, 250);
        assert_eq!(c.tradecloud.environment.as_deref(), Some("production"));
        assert_eq!(c.other["erp"]["documents_dir"].as_str(), Some("docs"));
    }

    /// A secret set in the environment replaces the file's `_file` key for
    /// it, and the other way round; both in one layer is an error.
    #[test]
    fn secrets_and_their_files_across_layers() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "from-file\n").unwrap();
        let path = file.display().to_string();
        let with_file = format!("[auth]\npassword_file = {path:?}\n");
        let c = Config::from_parts(
            Some(&with_file),
            "t",
            env(&[("TRADECLOUD_AUTH_PASSWORD", "from-env")]),
        )
        .unwrap();
        assert_eq!(c.auth.password.unwrap().expose(), "from-env");
        let c = Config::from_parts(
            Some("[auth]\npassword = \"in-file\"\n"),
            "t",
            env(&[("TRADECLOUD_AUTH_PASSWORD_FILE", &path)]),
        )
        .unwrap();
        assert_eq!(c.auth.password.unwrap().expose(), "from-file");
        let e = error(Some(&format!("{with_file}password = \"x\"\n")), &[]);
        assert!(e.contains("auth.password and auth.password_file"), "{e}");
    }

    /// Issue 23: a section that is not the receiver's is refused like an
    /// unknown key, unless the program declared it as its own.
    #[test]
    fn unknown_sections_are_refused_unless_declared() {
        let e = error(Some("[procesing]\nconcurrency = 4\n"), &[]);
        assert_eq!(
            e,
            "invalid configuration tradecloud.toml: unknown section `[procesing]`; known sections: auth, console, processing, server, store, telemetry, tradecloud"
        );
        let text = "[erp]\ndocuments_dir = \"docs\"\n";
        assert!(error(Some(text), &[]).contains("unknown section `[erp]`"));
        let c = Config::from_parts_with_sections(Some(text), "t", env(&[]), &["erp"]).unwrap();
        assert_eq!(c.other["erp"]["documents_dir"].as_str(), Some("docs"));
        let e = Config::from_parts_with_sections(Some("[erp]\n[epr]\n"), "t", env(&[]), &["erp"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown section `[epr]`") && e.contains("this program's erp"),
            "{e}"
        );
        // A nested table of a known section is that section's business.
        let e = error(Some("[server.acmee]\ndomains = [\"x\"]\n"), &[]);
        assert!(e.contains("unknown key `acmee`"), "{e}");
    }

    fn basic(password: &str, extra: &str) -> Result<(), String> {
        let text = format!(
            "[auth]\nmethod = \"basic\"\nusername = \"u\"\npassword = {password:?}\n{extra}"
        );
        Config::from_parts(Some(&text), "t", env(&[]))
            .map_err(|e| e.to_string())?
            .validate_for_serving()
            .map_err(|e| e.to_string())
    }

    /// Issue 23: a one-character password or a five-character token is
    /// refused unless `auth.allow_short_secret`.
    #[test]
    fn short_secrets_are_refused_unless_allowed() {
        let e = basic("p", "").unwrap_err();
        assert!(
            e.contains("auth.password has 1 characters, fewer than 16")
                && e.contains("auth.allow_short_secret"),
            "{e}"
        );
        assert!(basic("123456789012345", "").is_err(), "15 characters");
        basic("1234567890123456", "").unwrap();
        // Characters, not bytes.
        assert!(basic("ääääääää", "").is_err());
        basic("p", "allow_short_secret = true\n").unwrap();
        let c = Config::from_parts(
            Some("[auth]\nmethod = \"basic\"\nusername = \"u\"\npassword = \"p\"\nallow_short_secret = true\n"),
            "t",
            env(&[]),
        )
        .unwrap();
        assert!(c.warnings().iter().any(|w| w.contains("shorter than 16")));
        let bearer = |token: &str| {
            Config::from_parts(
                Some(&format!("[auth]\nmethod = \"bearer\"\ntoken = {token:?}\n")),
                "t",
                env(&[]),
            )
            .unwrap()
            .validate_for_serving()
            .map_err(|e| e.to_string())
        };
        assert!(bearer("abcde")
            .unwrap_err()
            .contains("auth.token has 5 characters"));
        bearer("kP3x-static-token-0123456789").unwrap();
    }

    fn entra(extra: &str) -> Config {
        Config::from_parts(
            Some(&format!(
                "[auth]\nmethod = \"entra\"\ntenant_id = \"t\"\naudience = \"api://a\"\n{extra}"
            )),
            "t",
            env(&[]),
        )
        .unwrap()
    }

    /// Issue 23: a JWKS over plain HTTP is refused except on loopback; Entra
    /// without allowed client ids is warned about.
    #[test]
    fn jwks_url_must_be_https_except_on_loopback() {
        for url in [
            "http://keys.example.com/keys",
            "http://10.0.0.1/keys",
            "ftp://keys.example.com/keys",
            "keys",
        ] {
            let e = entra(&format!("jwks_url = {url:?}\n"))
                .validate_for_serving()
                .unwrap_err()
                .to_string();
            assert!(e.contains("auth.jwks_url"), "{url}: {e}");
            let e = super::super::Authenticator::from_config(
                &entra(&format!("jwks_url = {url:?}\n")).auth,
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains("auth.jwks_url"), "{url}: {e}");
        }
        assert!(entra("jwks_url = \"http://keys.example.com/keys\"\n")
            .validate_for_serving()
            .unwrap_err()
            .to_string()
            .contains("plain HTTP"));
        for url in [
            "https://login.microsoftonline.com/t/discovery/v2.0/keys",
            "http://127.0.0.1:8080/keys",
            "http://[::1]:8080/keys",
            "http://localhost/keys",
        ] {
            entra(&format!("jwks_url = {url:?}\n"))
                .validate_for_serving()
                .unwrap_or_else(|e| panic!("{url}: {e}"));
        }
        let warnings = entra("").warnings();
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("auth.allowed_client_ids is empty")),
            "{warnings:?}"
        );
        assert!(entra("allowed_client_ids = [\"c\"]\n")
            .warnings()
            .is_empty());
    }

    /// Issue 23: a secret file that cannot be read names its key.
    #[test]
    fn a_missing_secret_file_names_its_key() {
        let e = error(Some("[auth]\npassword_file = \"/nonexistent/pw\"\n"), &[]);
        assert!(
            e.contains("auth.password_file = \"/nonexistent/pw\": cannot open it"),
            "{e}"
        );
        let e = error(
            None,
            &[("TRADECLOUD_TRADECLOUD_PASSWORD_FILE", "/nonexistent/tc")],
        );
        assert!(e.contains("tradecloud.password_file"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; 70_000]).unwrap();
        let e = error(
            Some(&format!(
                "[auth]\ntoken_file = {:?}\n",
                big.display().to_string()
            )),
            &[],
        );
        assert!(
            e.contains("auth.token_file") && e.contains("too large"),
            "{e}"
        );
    }
}
