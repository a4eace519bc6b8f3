//! The certificate being served, watched: its validity is checked at start
//! (the receiver refuses to start with a certificate that has expired or
//! is not valid yet, and warns when it ends within
//! [`EXPIRY_WARNING_DAYS`]), again every day and at every reload, and
//! exported with the TLS handshakes that failed:
//!
//! | metric | labels | meaning |
//! |---|---|---|
//! | `tradecloud_tls_certificate_expiry_timestamp_seconds` | | notAfter of the certificate being served (Unix time), read at each scrape: it follows reloads of `tls_cert` and ACME renewals |
//! | `tradecloud_tls_handshake_failures_total` | `reason` | TLS handshakes that failed: `protocol_version` (TLS 1.1 or older, or no version in common), `no_shared_cipher`, `unknown_ca`, `certificate_expired`, `bad_certificate` (the client refused the certificate with that alert; `bad_certificate` also stands for `certificate_unknown`, `unsupported_certificate`, `certificate_revoked`), `not_tls` (plain HTTP or other bytes on the HTTPS port), `timeout` (`handshake_timeout_secs`), `closed` (the client closed the connection, e.g. a TCP health check), `other` |
//!
//! The expiry is exported for certificates from `tls_cert`/`tls_key`,
//! `--dev-tls`, [`tls_pem`](super::ReceiverBuilder::tls_pem) and ACME; not
//! for a whole rustls configuration given in code
//! ([`rustls_config`](super::ReceiverBuilder::rustls_config)), whose
//! certificate the receiver does not see.
//!
//! A client that refuses the certificate (`unknown_ca`,
//! `certificate_expired`, `bad_certificate`) is also logged as a warning,
//! at most once a minute per reason (with the number of refusals since).

use std::io;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::MetricType;
use tokio_rustls::rustls;
use tokio_rustls::rustls::sign::CertifiedKey;

use super::tls::{CertResolver, TlsError};
use super::Metrics;

/// A certificate that ends within this many days is warned about (at start,
/// daily and at reloads).
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// The validity period of a certificate, in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Validity {
    pub not_before: i64,
    pub not_after: i64,
}

impl Validity {
    /// The validity of the leaf (first) certificate of `key`.
    pub(crate) fn of(key: &CertifiedKey) -> Result<Validity, String> {
        let leaf = key.cert.first().ok_or("no certificate")?;
        let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref())
            .map_err(|e| format!("the certificate does not parse: {e}"))?;
        let validity = cert.validity();
        Ok(Validity {
            not_before: validity.not_before.timestamp(),
            not_after: validity.not_after.timestamp(),
        })
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn date(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| unix.to_string())
}

/// How a certificate's validity stands at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Standing {
    Valid,
    /// Ends within [`EXPIRY_WARNING_DAYS`]: the warning.
    EndsSoon(String),
    /// Expired or not yet valid: the error.
    Invalid(String),
}

pub(crate) fn standing(validity: Validity, now: i64) -> Standing {
    if now > validity.not_after {
        Standing::Invalid(format!(
            "the certificate expired on {}: clients refuse it; renew it (or use [server.acme])",
            date(validity.not_after)
        ))
    } else if now < validity.not_before {
        Standing::Invalid(format!(
            "the certificate is not valid before {}: clients refuse it; check this machine's clock, or use the certificate from then on",
            date(validity.not_before)
        ))
    } else if validity.not_after - now < EXPIRY_WARNING_DAYS * 24 * 3600 {
        let days = (validity.not_after - now) / (24 * 3600);
        Standing::EndsSoon(format!(
            "the certificate expires on {} (in {days} days); renew it before then (clients refuse an expired certificate)",
            date(validity.not_after)
        ))
    } else {
        Standing::Valid
    }
}

/// At start: an error for a certificate (from `source`: the configuration
/// key and file) that has expired or is not valid yet; a warning when it
/// ends soon.
pub(crate) fn check_at_start(
    key: &CertifiedKey,
    config_key: &'static str,
    path: &std::path::Path,
) -> Result<(), TlsError> {
    let validity = Validity::of(key).map_err(|message| TlsError::File {
        key: config_key,
        path: path.to_path_buf(),
        message,
    })?;
    match standing(validity, now()) {
        Standing::Valid => Ok(()),
        Standing::EndsSoon(warning) => {
            tracing::warn!(cert = %path.display(), not_after = %date(validity.not_after), "{warning}");
            Ok(())
        }
        Standing::Invalid(message) => Err(TlsError::File {
            key: config_key,
            path: path.to_path_buf(),
            message,
        }),
    }
}

/// Log how the certificate being served stands (for the daily check and
/// reloads): a warning when it ends soon, an error when it is invalid.
pub(crate) fn log_standing(key: &CertifiedKey) {
    let Ok(validity) = Validity::of(key) else {
        return;
    };
    match standing(validity, now()) {
        Standing::Valid => {}
        Standing::EndsSoon(warning) => {
            tracing::warn!(not_after = %date(validity.not_after), "{warning}")
        }
        Standing::Invalid(error) => {
            tracing::error!(not_after = %date(validity.not_after), "serving an invalid certificate: {error}")
        }
    }
}

/// Check the certificate `resolver` serves once a day (see [`log_standing`]).
pub(crate) fn spawn_daily_check(resolver: Arc<CertResolver>) -> tokio::task::JoinHandle<()> {
    let weak = Arc::downgrade(&resolver);
    drop(resolver);
    tokio::spawn(async move {
        let day = Duration::from_secs(24 * 3600);
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + day, day);
        loop {
            interval.tick().await;
            let Some(resolver) = weak.upgrade() else {
                return;
            };
            log_standing(&resolver.current());
        }
    })
}

/// `tradecloud_tls_certificate_expiry_timestamp_seconds`: read from the
/// resolver at each scrape.
#[derive(Debug)]
struct ServedExpiry(Arc<CertResolver>);

impl EncodeMetric for ServedExpiry {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        match Validity::of(&self.0.current()) {
            Ok(validity) => encoder.encode_gauge(&validity.not_after),
            Err(_) => Ok(()),
        }
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

/// Export the expiry of the certificate `resolver` serves.
pub(crate) fn register_expiry(metrics: &Metrics, resolver: Arc<CertResolver>) {
    metrics.register(
        "tls_certificate_expiry_timestamp_seconds",
        "notAfter of the TLS certificate being served, in Unix time",
        ServedExpiry(resolver),
    );
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// The reasons of [`HandshakeFailures`], in the order of the module's table.
const REASONS: [&str; 9] = [
    "protocol_version",
    "no_shared_cipher",
    "unknown_ca",
    "certificate_expired",
    "bad_certificate",
    "not_tls",
    "timeout",
    "closed",
    "other",
];

/// `tradecloud_tls_handshake_failures_total`, and the warnings about
/// clients that refuse the certificate.
#[derive(Clone, Debug)]
pub(crate) struct HandshakeFailures {
    counts: Family<ReasonLabel, Counter>,
    /// Per reason: when it was last logged (Unix seconds), and the refusals since.
    logged: Arc<[(AtomicI64, AtomicU64); REASONS.len()]>,
}

impl HandshakeFailures {
    pub(crate) fn register(metrics: &Metrics) -> Self {
        let counts = Family::<ReasonLabel, Counter>::default();
        metrics.register(
            "tls_handshake_failures",
            "TLS handshakes that failed, by reason",
            counts.clone(),
        );
        HandshakeFailures {
            counts,
            logged: Arc::new(std::array::from_fn(|_| {
                (AtomicI64::new(i64::MIN), AtomicU64::new(0))
            })),
        }
    }

    /// A handshake with `remote` failed with `error` (`None`: timed out).
    pub(crate) fn record(&self, remote: std::net::SocketAddr, error: Option<&io::Error>) {
        let reason = error.map_or("timeout", reason);
        self.counts.get_or_create(&ReasonLabel { reason }).inc();
        let refused_certificate = matches!(
            reason,
            "unknown_ca" | "certificate_expired" | "bad_certificate"
        );
        let detail = error.map(ToString::to_string).unwrap_or_default();
        if !refused_certificate {
            tracing::debug!(%remote, reason, error = %detail, "TLS handshake failed");
            return;
        }
        let index = REASONS.iter().position(|r| *r == reason).unwrap_or(0);
        let (last, since) = &self.logged[index];
        since.fetch_add(1, Ordering::Relaxed);
        let now = now();
        let previous = last.load(Ordering::Relaxed);
        if now.saturating_sub(previous) >= 60
            && last
                .compare_exchange(previous, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let count = since.swap(0, Ordering::Relaxed);
            tracing::warn!(
                %remote, reason, refusals = count, error = %detail,
                "a client refused this receiver's TLS certificate ({reason}): check that server.tls_cert holds the whole chain from a public CA, for the name Tradecloud calls, and not expired (tradecloud doctor URL shows which)"
            );
        }
    }
}

/// The reason label of a failed handshake.
pub(crate) fn reason(error: &io::Error) -> &'static str {
    use rustls::{AlertDescription as A, Error as E, PeerIncompatible as P};
    match error.get_ref().and_then(|e| e.downcast_ref::<E>()) {
        Some(E::PeerIncompatible(
            P::NoCipherSuitesInCommon
            | P::NoKxGroupsInCommon
            | P::NoSignatureSchemesInCommon
            | P::NoEcPointFormatsInCommon,
        )) => "no_shared_cipher",
        Some(E::PeerIncompatible(_)) => "protocol_version",
        Some(E::AlertReceived(A::UnknownCA)) => "unknown_ca",
        Some(E::AlertReceived(A::CertificateExpired)) => "certificate_expired",
        Some(E::AlertReceived(
            A::BadCertificate
            | A::CertificateUnknown
            | A::UnsupportedCertificate
            | A::CertificateRevoked,
        )) => "bad_certificate",
        Some(E::AlertReceived(A::ProtocolVersion)) => "protocol_version",
        Some(E::AlertReceived(A::HandshakeFailure | A::InsufficientSecurity)) => "no_shared_cipher",
        Some(E::InvalidMessage(_) | E::InappropriateHandshakeMessage { .. }) => "not_tls",
        Some(E::InappropriateMessage { .. }) => "not_tls",
        Some(_) => "other",
        None => match error.kind() {
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => "closed",
            _ => "other",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standing_at_the_edges() {
        let day = 24 * 3600;
        let v = Validity {
            not_before: 1_000 * day,
            not_after: 1_100 * day,
        };
        assert_eq!(standing(v, 1_050 * day), Standing::Valid);
        assert!(
            matches!(standing(v, 1_090 * day), Standing::EndsSoon(w) if w.contains("in 10 days"))
        );
        assert!(
            matches!(standing(v, 1_100 * day + 1), Standing::Invalid(e) if e.contains("expired"))
        );
        assert!(
            matches!(standing(v, 999 * day), Standing::Invalid(e) if e.contains("not valid before"))
        );
    }

    #[test]
    fn reasons_of_rustls_errors() {
        use rustls::{AlertDescription as A, Error as E, PeerIncompatible as P};
        let io = |e: E| io::Error::new(io::ErrorKind::InvalidData, e);
        assert_eq!(
            reason(&io(E::PeerIncompatible(P::Tls12NotOffered))),
            "protocol_version"
        );
        assert_eq!(
            reason(&io(E::PeerIncompatible(P::NoCipherSuitesInCommon))),
            "no_shared_cipher"
        );
        assert_eq!(reason(&io(E::AlertReceived(A::UnknownCA))), "unknown_ca");
        assert_eq!(
            reason(&io(E::AlertReceived(A::CertificateUnknown))),
            "bad_certificate"
        );
        assert_eq!(
            reason(&io::Error::from(io::ErrorKind::UnexpectedEof)),
            "closed"
        );
        assert_eq!(reason(&io(E::General("x".into()))), "other");
    }
}
