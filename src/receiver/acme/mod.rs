//! Certificates from an ACME CA (Let's Encrypt by default) for the
//! receiver: `[server.acme]` in `tradecloud.toml`.
//!
//! ```toml
//! [server]
//! listen = "0.0.0.0:443"
//!
//! [server.acme]
//! domains = ["webhooks.example.com"]
//! contact = ["mailto:it@example.com"]
//! cache_dir = "/var/lib/tradecloud/acme"
//! ```
//!
//! # What happens
//!
//! * **At start** the certificate cached in `cache_dir` for this directory
//!   and these domains is served if it is still valid: a restart places
//!   no new order. Otherwise the receiver starts at once with a
//!   self-signed placeholder and orders one; until it is there every
//!   request except `/healthz` and `/metrics` is answered `503` with
//!   `Retry-After` (Tradecloud retries those), and the log says why.
//! * **The challenge** is TLS-ALPN-01 by default, answered on the HTTPS
//!   listener itself (the CA connects to port 443 of each domain offering
//!   the `acme-tls/1` protocol; see [`challenge`](self#challenges)), or
//!   HTTP-01 on a plain-HTTP listener `http_listen` (port 80 from the
//!   internet), for receivers behind a TLS-terminating proxy.
//! * **Renewal** starts at two thirds of the certificate's lifetime (60
//!   days into a 90-day certificate), or 30 days before it expires when
//!   that is earlier and still in its second half. The new certificate is
//!   swapped into the TLS resolver: new connections get it, open ones
//!   keep theirs, nothing is dropped.
//! * **Failures** (CA unreachable, rate limit, challenge failed) are
//!   logged with what to check (DNS, port 443 or 80 reachable from the
//!   internet, a proxy in front) and retried with exponential backoff
//!   from 30 seconds up to an hour; the certificate in use stays in use.
//! * `[server.acme]` excludes `tls_cert`/`tls_key` and `--dev-tls`.
//!
//! The ACME protocol is [instant-acme](https://docs.rs/instant-acme), over
//! reqwest with the public roots plus `ca_file`; keys and certificates are
//! made with rcgen (ECDSA P-256). The cache keeps the account key and the
//! certificates in files of mode 0600, written atomically.
//!
//! # Challenges
//!
//! The rustls configuration offers ALPN `h2`, `http/1.1` and `acme-tls/1`;
//! a handshake that offers only `acme-tls/1` gets the validation
//! certificate of its SNI name (or fails when no order is open), every
//! other handshake the current certificate.

pub mod config;

pub use config::{AcmeConfig, ChallengeKind, LETS_ENCRYPT_PRODUCTION, LETS_ENCRYPT_STAGING};

#[cfg(feature = "acme")]
mod cache;
#[cfg(feature = "acme")]
mod challenge;
#[cfg(feature = "acme")]
mod order;
#[cfg(feature = "acme")]
mod service;

#[cfg(feature = "acme")]
pub use service::Acme;

#[cfg(not(feature = "acme"))]
mod disabled;
#[cfg(not(feature = "acme"))]
pub use disabled::Acme;

use std::path::PathBuf;

use crate::receiver::{ConfigError, ReceiverError, TlsError};

/// Why ACME could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AcmeError {
    /// `[server.acme]` contradicts the rest of the configuration.
    #[error("configuration: {0}")]
    Config(String),
    /// `cache_dir` or a file in it cannot be read or written.
    #[error("ACME cache {path}: {source} (check that server.acme.cache_dir is a directory this user may write)")]
    Cache {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `ca_file` cannot be used.
    #[error("server.acme.ca_file {path}: {message}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A certificate or key could not be made or loaded.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// `http_listen` could not be bound.
    #[error("cannot listen on {addr} for ACME http-01 challenges: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl From<rcgen::Error> for AcmeError {
    fn from(e: rcgen::Error) -> Self {
        AcmeError::Tls(TlsError::Generate(e.to_string()))
    }
}

impl From<AcmeError> for ReceiverError {
    fn from(e: AcmeError) -> Self {
        match e {
            AcmeError::Config(message) => ReceiverError::Config(ConfigError::Setting(message)),
            AcmeError::Tls(e) => ReceiverError::Tls(e),
            AcmeError::Bind { addr, source } => ReceiverError::Bind { addr, source },
            other => ReceiverError::Config(ConfigError::Setting(other.to_string())),
        }
    }
}

/// Why an order failed, with what to check.
#[cfg(feature = "acme")]
#[derive(Debug)]
pub(crate) enum Failure {
    /// The CA could not be reached (DNS, network, TLS to the CA).
    Unreachable(String),
    /// The CA rate-limits this account or these names.
    RateLimited(String),
    /// The CA could not validate a domain.
    Challenge { domain: String, detail: String },
    /// The CA refused something else.
    Rejected(String),
    /// Something on this machine (the cache, key generation).
    Local(AcmeError),
}

#[cfg(feature = "acme")]
impl Failure {
    pub(crate) fn from_acme(error: instant_acme::Error, doing: &str) -> Failure {
        use instant_acme::Error;
        match error {
            Error::Api(problem) => {
                let kind = problem.r#type.as_deref().unwrap_or("");
                let kind = kind.rsplit(':').next().unwrap_or(kind);
                let text = format!("cannot {doing}: {problem}");
                match kind {
                    "rateLimited" => Failure::RateLimited(text),
                    "connection" | "dns" | "tls" | "incorrectResponse" | "unauthorized" | "caa"
                    | "rejectedIdentifier" => {
                        let domain = problem
                            .subproblems
                            .iter()
                            .filter_map(|s| match &s.identifier {
                                Some(instant_acme::Identifier::Dns(name)) => Some(name.clone()),
                                _ => None,
                            })
                            .next()
                            .unwrap_or_default();
                        Failure::Challenge {
                            domain,
                            detail: text,
                        }
                    }
                    _ => Failure::Rejected(text),
                }
            }
            Error::Other(source) => {
                let mut text = format!("cannot {doing}: {source}");
                let mut cause = std::error::Error::source(&*source);
                while let Some(c) = cause {
                    text.push_str(&format!(": {c}"));
                    cause = c.source();
                }
                Failure::Unreachable(text)
            }
            Error::Timeout(_) => {
                Failure::Rejected(format!("cannot {doing}: the CA did not finish in time"))
            }
            other => Failure::Rejected(format!("cannot {doing}: {other}")),
        }
    }

    /// What the operator should check.
    pub(crate) fn hint(&self, config: &AcmeConfig, listen: std::net::SocketAddr) -> String {
        match self {
            Failure::Unreachable(_) => format!(
                "check that this machine reaches {} over HTTPS (DNS, firewall, proxy), the \
                 directory_url, and for a private CA the ca_file",
                config.directory_url
            ),
            Failure::RateLimited(_) => "the CA limits how many certificates and failed \
                 validations an account and a domain may have; wait, and keep cache_dir (a new \
                 account does not lift the limit). Test with Let's Encrypt staging first"
                .to_string(),
            Failure::Challenge { domain, .. } => {
                let domain = if domain.is_empty() {
                    config.domains.join(", ")
                } else {
                    domain.clone()
                };
                match config.challenge {
                    ChallengeKind::TlsAlpn01 => format!(
                        "check that DNS (A/AAAA) of {domain} points to this machine, and that \
                         port 443 of it is reachable from the internet and forwarded to this \
                         receiver's {listen} (tls-alpn-01 is validated on port 443). A proxy or \
                         load balancer that terminates TLS in front breaks tls-alpn-01: use \
                         challenge = \"http-01\" there"
                    ),
                    ChallengeKind::Http01 => format!(
                        "check that DNS (A/AAAA) of {domain} points to this machine, and that \
                         port 80 of it is reachable from the internet and forwarded to \
                         http_listen ({}) (http-01 is validated on port 80)",
                        config
                            .http_listen
                            .map(|a| a.to_string())
                            .unwrap_or_default()
                    ),
                }
            }
            Failure::Rejected(_) => "read the CA's message above; check domains, contact \
                 and directory_url"
                .to_string(),
            Failure::Local(_) => "fix the local problem named above".to_string(),
        }
    }
}

#[cfg(feature = "acme")]
impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Unreachable(t) | Failure::RateLimited(t) | Failure::Rejected(t) => {
                f.write_str(t)
            }
            Failure::Challenge { domain, detail } if domain.is_empty() => f.write_str(detail),
            Failure::Challenge { domain, detail } => write!(f, "{domain}: {detail}"),
            Failure::Local(e) => write!(f, "{e}"),
        }
    }
}
