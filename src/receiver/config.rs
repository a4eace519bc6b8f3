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
//! handler_timeout_secs = 600 # a handler call running longer is cancelled and retried
//! shutdown_grace_secs = 20   # a stop cancels handlers still running after this (uncounted)
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

mod auth;
mod console;
mod load;
mod processing;
mod server;
mod store;
#[cfg(test)]
mod tests;
mod tradecloud;

pub(crate) use auth::check_jwks_url;
pub use auth::{AuthConfig, AuthMethod, MIN_SECRET_CHARS};
pub use console::ConsoleConfig;
pub use processing::ProcessingConfig;
pub use server::ServerConfig;
pub use store::StoreConfig;
pub use tradecloud::TradecloudConfig;

use std::collections::BTreeMap;
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
#[non_exhaustive]
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
