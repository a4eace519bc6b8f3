//! The ACME service of one receiver: the cached certificate at start, the
//! order/renewal loop, the `503` gate before the first certificate, and
//! the hooks the receiver calls.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::header::{HeaderValue, RETRY_AFTER};
use http::StatusCode;
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::ServerConfig;

use super::cache::Cache;
use super::challenge::{self, AcmeResolver, Challenges, ACME_TLS_ALPN};
use super::config::{AcmeConfig, ChallengeKind};
use super::order::{self, Orderer};
use super::{AcmeError, Failure};
use crate::receiver::tls::{self, CertResolver, TlsError};
use crate::receiver::{Config, ReceiverError};

/// `Retry-After` (seconds) of the `503` answered before the first certificate.
pub const PENDING_RETRY_AFTER_SECS: u64 = 30;
/// First retry delay after a failed order; doubled per further failure.
const BACKOFF_BASE: Duration = Duration::from_secs(30);
/// Longest delay between failed orders.
const BACKOFF_MAX: Duration = Duration::from_secs(3600);

/// What the receiver needs to know about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertInfo {
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    /// DNS names (lower case).
    pub names: Vec<String>,
}

impl CertInfo {
    /// Read the leaf certificate (DER).
    pub(crate) fn parse(der: &[u8]) -> Result<CertInfo, String> {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| format!("not an X.509 certificate: {e}"))?;
        let time =
            |t: i64| SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(t).unwrap_or(0));
        let mut names = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                if let x509_parser::extensions::GeneralName::DNSName(n) = name {
                    names.push(n.to_ascii_lowercase());
                }
            }
        }
        Ok(CertInfo {
            not_before: time(cert.validity().not_before.timestamp()),
            not_after: time(cert.validity().not_after.timestamp()),
            names,
        })
    }

    /// Whether the certificate names every one of `domains`.
    pub(crate) fn covers(&self, domains: &[String]) -> bool {
        domains
            .iter()
            .all(|d| self.names.contains(&d.to_ascii_lowercase()))
    }

    /// When to renew: at two thirds of the lifetime, or 30 days before
    /// expiry when that is earlier but still in the second half.
    pub(crate) fn renew_at(&self) -> SystemTime {
        let lifetime = self
            .not_after
            .duration_since(self.not_before)
            .unwrap_or_default();
        let two_thirds = self.not_before + lifetime * 2 / 3;
        let month_before = self
            .not_after
            .checked_sub(Duration::from_secs(30 * 24 * 3600))
            .unwrap_or(self.not_before);
        if month_before < two_thirds && month_before >= self.not_before + lifetime / 2 {
            month_before
        } else {
            two_thirds
        }
    }
}

fn when(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%d %H:%M:%SZ")
        .to_string()
}

/// Delay before the next order after `failures` failed ones, with jitter.
pub(crate) fn backoff(failures: u32, rate_limited: bool) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    let full = BACKOFF_BASE.saturating_mul(1 << exp).min(BACKOFF_MAX);
    let full = if rate_limited { BACKOFF_MAX } else { full };
    let jitter = full.as_millis() as u64 / 10;
    full - Duration::from_millis(fastrand::u64(0..=jitter))
}

/// `[server.acme]` of a receiver: the certificate, the challenges, and the
/// order/renewal loop. Made by the receiver's builder; not used directly.
pub struct Acme {
    orderer: Arc<Orderer>,
    certificates: Arc<CertResolver>,
    challenges: Arc<Challenges>,
    ready: Arc<AtomicBool>,
    current: Option<CertInfo>,
    listen: SocketAddr,
    http_listener: Option<std::net::TcpListener>,
}

impl std::fmt::Debug for Acme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acme")
            .field("domains", &self.orderer.config.domains)
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

impl Acme {
    /// Set up ACME if `config` has `[server.acme]`. `other_certificate`
    /// names another certificate source that was asked for (`--dev-tls`),
    /// which ACME excludes. Reads the cache; orders nothing yet.
    pub fn prepare(
        config: &Config,
        other_certificate: Option<&str>,
    ) -> Result<Option<Acme>, ReceiverError> {
        let Some(acme) = &config.server.acme else {
            return Ok(None);
        };
        if let Some(other) = other_certificate {
            return Err(AcmeError::Config(format!(
                "[server.acme] and {other} exclude each other: ACME obtains a trusted certificate, \
                 {other} serves another one; remove one of them"
            ))
            .into());
        }
        acme.validate(config.server.tls_cert.is_some() || config.server.tls_key.is_some())
            .map_err(AcmeError::Config)?;
        let cache = Cache::new(&acme.cache_dir, &acme.directory_url, &acme.domains);
        cache.prepare()?;
        let http = order::http_client(acme)?;
        let challenges = Arc::new(Challenges::default());

        let mut current = None;
        let initial = match Self::cached(&cache, acme)? {
            Some((key, info)) => {
                tracing::info!(
                    domains = ?acme.domains, valid_until = %when(info.not_after), renewal_from = %when(info.renew_at()),
                    file = %cache.certificate_path().display(),
                    "ACME: serving the cached certificate (no new order)"
                );
                current = Some(info);
                key
            }
            None => challenge::placeholder_certificate(&acme.domains)?,
        };
        let http_listener = match (acme.challenge, acme.http_listen) {
            (ChallengeKind::Http01, Some(addr)) => {
                let bind = |source| AcmeError::Bind { addr, source };
                let listener = std::net::TcpListener::bind(addr).map_err(bind)?;
                listener.set_nonblocking(true).map_err(bind)?;
                Some(listener)
            }
            _ => None,
        };
        Ok(Some(Acme {
            orderer: Arc::new(Orderer::new(acme.clone(), http, cache, challenges.clone())),
            certificates: CertResolver::new(initial),
            challenges,
            ready: Arc::new(AtomicBool::new(current.is_some())),
            current,
            listen: config.server.listen,
            http_listener,
        }))
    }

    /// The cached certificate, if it is usable: it loads, names every
    /// domain and has not expired.
    fn cached(
        cache: &Cache,
        config: &AcmeConfig,
    ) -> Result<Option<(CertifiedKey, CertInfo)>, AcmeError> {
        let Some(pem) = cache.load_certificate()? else {
            return Ok(None);
        };
        let path = cache.certificate_path();
        let key = match tls::certified_key_from_pem(&pem, &pem, path) {
            Ok(key) => key,
            Err(e) => {
                tracing::warn!(error = %e, "ACME: the cached certificate does not load; ordering a new one");
                return Ok(None);
            }
        };
        let info = match key.cert.first().map(|c| CertInfo::parse(c.as_ref())) {
            Some(Ok(info)) => info,
            _ => return Ok(None),
        };
        if !info.covers(&config.domains) {
            tracing::info!(names = ?info.names, domains = ?config.domains, "ACME: the cached certificate does not name every domain; ordering a new one");
            return Ok(None);
        }
        if info.not_after <= SystemTime::now() {
            tracing::info!(expired = %when(info.not_after), "ACME: the cached certificate has expired; ordering a new one");
            return Ok(None);
        }
        Ok(Some((key, info)))
    }

    /// The rustls configuration: the receiver's ([`tls::server_config`]) with
    /// the ACME resolver and ALPN `acme-tls/1` added for TLS-ALPN-01.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let resolver = Arc::new(AcmeResolver {
            certificates: self.certificates.clone(),
            challenges: self.challenges.clone(),
        });
        let mut config = tls::server_config(resolver)?;
        if self.orderer.config.challenge == ChallengeKind::TlsAlpn01 {
            Arc::make_mut(&mut config)
                .alpn_protocols
                .push(ACME_TLS_ALPN.to_vec());
        }
        Ok(config)
    }

    /// `app` answering `503` with `Retry-After` to everything but
    /// `/healthz` and `/metrics` until the first certificate is in place.
    pub fn gate(&self, app: axum::Router) -> axum::Router {
        app.layer(axum::middleware::from_fn_with_state(
            self.ready.clone(),
            pending_gate,
        ))
    }

    /// The resolver of the certificate being served (for its expiry metric).
    pub(crate) fn certificates(&self) -> Arc<CertResolver> {
        self.certificates.clone()
    }

    /// Whether a certificate from the CA is being served.
    pub fn has_certificate(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Run the order/renewal loop (and the http-01 listener) until aborted.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run())
    }

    async fn run(mut self) {
        let http01 = match self.http_listener.take() {
            Some(listener) => match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => Some(tokio::spawn(challenge::serve_http01(
                    listener,
                    self.challenges.clone(),
                ))),
                Err(e) => {
                    tracing::error!(error = %e, "ACME: cannot serve the http-01 listener");
                    None
                }
            },
            None => None,
        };
        let _http01 = AbortOnDrop(http01);
        let config = self.orderer.config.clone();
        if self.current.is_none() {
            tracing::warn!(
                domains = ?config.domains, directory = %config.directory_url, challenge = config.challenge.as_str(),
                "ACME: no certificate yet; ordering one. Until it is issued, webhooks are answered 503 with Retry-After"
            );
        }
        if config.challenge == ChallengeKind::TlsAlpn01 && self.listen.port() != 443 {
            tracing::info!(
                listen = %self.listen,
                "ACME tls-alpn-01: the CA connects to port 443 of each domain; make sure that port reaches this listener"
            );
        }
        let mut failures = 0u32;
        loop {
            if let Some(info) = &self.current {
                let now = SystemTime::now();
                let renew_at = info.renew_at();
                if renew_at > now {
                    // Sleep in steps, so a changed clock or a suspended
                    // machine does not push the renewal out.
                    let wait = renew_at.duration_since(now).unwrap_or_default();
                    tokio::time::sleep(wait.min(Duration::from_secs(3600))).await;
                    continue;
                }
                tracing::info!(valid_until = %when(info.not_after), "ACME: renewing the certificate");
            }
            match self.order_and_install().await {
                Ok(info) => {
                    failures = 0;
                    tracing::info!(
                        domains = ?config.domains, valid_until = %when(info.not_after), renewal_from = %when(info.renew_at()),
                        "ACME: certificate issued and in service"
                    );
                    self.current = Some(info);
                }
                Err(failure) => {
                    failures += 1;
                    let delay = backoff(failures, matches!(failure, Failure::RateLimited(_)));
                    let serving = match &self.current {
                        Some(info) if info.not_after > SystemTime::now() => format!(
                            "still serving the current certificate (valid until {})",
                            when(info.not_after)
                        ),
                        Some(_) => {
                            "the current certificate has EXPIRED: Tradecloud cannot deliver".into()
                        }
                        None => "no certificate yet: webhooks are answered 503".into(),
                    };
                    tracing::error!(
                        attempt = failures,
                        retry_in_secs = delay.as_secs(),
                        "ACME: order failed: {failure}. What to check: {}. {serving}",
                        failure.hint(&config, self.listen)
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn order_and_install(&self) -> Result<CertInfo, Failure> {
        let issued = self.orderer.order().await?;
        let origin = self.orderer.cache.certificate_path().to_path_buf();
        let key = tls::certified_key_from_pem(
            issued.chain_pem.as_bytes(),
            issued.key_pem.as_bytes(),
            &origin,
        )
        .map_err(|e| Failure::Local(e.into()))?;
        let info = key
            .cert
            .first()
            .ok_or_else(|| "the CA sent no certificate".to_string())
            .and_then(|c| CertInfo::parse(c.as_ref()))
            .map_err(|e| Failure::Rejected(format!("the issued certificate is unusable: {e}")))?;
        if !info.covers(&self.orderer.config.domains) {
            return Err(Failure::Rejected(format!(
                "the issued certificate names {:?}, not every one of {:?}",
                info.names, self.orderer.config.domains
            )));
        }
        if let Err(e) = self
            .orderer
            .cache
            .save_certificate(&issued.chain_pem, &issued.key_pem)
        {
            // Serve it anyway; only a restart would have to order again.
            tracing::error!(error = %e, "ACME: cannot cache the new certificate; a restart will order a new one");
        }
        self.certificates.set(key);
        self.ready.store(true, Ordering::SeqCst);
        Ok(info)
    }
}

struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = &self.0 {
            task.abort();
        }
    }
}

async fn pending_gate(
    State(ready): State<Arc<AtomicBool>>,
    request: Request,
    next: Next,
) -> Response {
    if ready.load(Ordering::SeqCst) || matches!(request.uri().path(), "/healthz" | "/metrics") {
        return next.run(request).await;
    }
    tracing::debug!(path = %request.uri().path(), "answering 503: no ACME certificate yet");
    let mut response = crate::server::problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "the receiver is still obtaining its TLS certificate from the ACME CA; send it again later",
        None,
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(PENDING_RETRY_AFTER_SECS));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(days: u64) -> CertInfo {
        let not_before = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        CertInfo {
            not_before,
            not_after: not_before + Duration::from_secs(days * 24 * 3600),
            names: vec!["a.example.com".into()],
        }
    }

    #[test]
    fn renewal_times() {
        let day = |n: u64| Duration::from_secs(n * 24 * 3600);
        // Let's Encrypt's 90 days: day 60 both ways.
        let c = info(90);
        assert_eq!(c.renew_at(), c.not_before + day(60));
        // A year: 30 days before expiry comes after two thirds; two thirds wins.
        let c = info(365);
        assert_eq!(
            c.renew_at(),
            c.not_before + Duration::from_secs(365 * 24 * 3600 * 2 / 3)
        );
        // Six days (short-lived certificates): two thirds, never "30 days before".
        let c = info(6);
        assert_eq!(c.renew_at(), c.not_before + day(4));
        // 80 days: 30 days before expiry (day 50) is earlier than day 53 and in the second half.
        let c = info(80);
        assert_eq!(c.renew_at(), c.not_before + day(50));
        assert!(c.covers(&["A.example.com".into()]));
        assert!(!c.covers(&["a.example.com".into(), "b.example.com".into()]));
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let secs = |n| backoff(n, false).as_secs();
        assert!((27..=30).contains(&secs(1)), "{}", secs(1));
        assert!((54..=60).contains(&secs(2)));
        assert!((3240..=3600).contains(&secs(20)));
        assert!(backoff(1, true).as_secs() >= 3240);
    }
}
