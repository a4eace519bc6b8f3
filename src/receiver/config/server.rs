//! `[server]`: the HTTPS listener, its routes and limits.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Secret, DEFAULT_MAX_BODY_BYTES, DEFAULT_ORDER_PATH, DEFAULT_SHIPMENT_PATH};

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
