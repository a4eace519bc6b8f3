//! The middleware around the webhook routes, written here rather than taken
//! from tower-http because every step must answer `503` (which Tradecloud
//! retries) where the usual layers answer `408` or `500` (which it does not
//! retry). [`webhook_front`] runs them in this order, as one layer:
//!
//! * the guard ([`guard`], outermost): a concurrency limit that answers
//!   `503` at once when it is reached (no queueing that could end in a
//!   timeout), a request timeout that answers `503`, a panic catcher that
//!   answers `503`, and the response metrics;
//! * authentication ([`Auth`]): checks the `Authorization` header before the
//!   body is read, answers `401` with `WWW-Authenticate`, or `503` when the
//!   credentials cannot be checked right now;
//!
//! Then the router: a path without a webhook is `404`, a method the path
//! does not serve is `405` with `Allow` (a POST to the GET-only
//! `/tradecloud/order/{orderId}`, whatever its content type or encoding).
//! Only then, in the webhook routes' `admit` ([`refuse_encoded`]), before
//! the body is read:
//!
//! * the `Content-Encoding` check: answers `415` (with `Accept-Encoding:
//!   identity`) to a body with a `Content-Encoding`, before it is read.
//!   Tradecloud sends uncompressed bodies; a compressed one would otherwise
//!   be taken for invalid JSON (`400`). Decoding gzip would be the
//!   alternative, with a bound against zip bombs; refusing keeps the stored
//!   bytes exactly the bytes that were sent. It runs after the method
//!   check because `tradecloud doctor` takes the `415` of its probe for
//!   "this URL takes POSTs": answered before the `405`, it passed a URL
//!   whose every real event would be refused with `405`, and lost (a `4xx`
//!   is never retried).
//!
//! The operational endpoints have the guard alone, without a limit.

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};

use crate::probe_proof;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::FutureExt as _;
use http::header::{HeaderValue, ACCEPT_ENCODING, CONTENT_ENCODING, RETRY_AFTER, WWW_AUTHENTICATE};
use http::StatusCode;
use tokio::sync::Semaphore;

use super::auth::{AuthFailure, Authenticator};
use super::metrics::Metrics;
use crate::server::problem;

/// The peer address of the connection, put in the request extensions by the server.
#[derive(Debug, Clone, Copy)]
pub struct RemoteAddr(pub SocketAddr);

/// Settings of [`guard`].
#[derive(Clone, Debug)]
pub(crate) struct Guard {
    /// `None`: no limit (the operational endpoints).
    pub permits: Option<Arc<Semaphore>>,
    pub timeout: Duration,
    /// Record response metrics (webhook routes only).
    pub metrics: Option<Metrics>,
}

fn unavailable(detail: &str, retry_after: &'static str) -> Response {
    let mut response = problem(StatusCode::SERVICE_UNAVAILABLE, detail, None);
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static(retry_after));
    response
}

/// Concurrency limit, timeout, panic catcher and response metrics (the
/// operational endpoints' layer; the webhook routes run [`guarded`] inside
/// [`webhook_front`]).
pub(crate) async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    guarded(&guard, request, |request| next.run(request)).await
}

/// [`guard`] around any inner call.
async fn guarded<F, Fut>(guard: &Guard, request: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let started = Instant::now();
    let reject = |reason: &str| {
        if let Some(m) = &guard.metrics {
            m.rejected(reason);
        }
    };
    let _permit = match &guard.permits {
        None => None,
        Some(permits) => match permits.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                reject("overloaded");
                tracing::warn!("concurrency limit reached; answering 503");
                let response = unavailable("the receiver is busy; send it again later", "1");
                record(guard, &response, started);
                return response;
            }
        },
    };
    // For the log lines of a panic or a timeout; a `Uri` clone shares its
    // bytes.
    let method = request.method().clone();
    let uri = request.uri().clone();
    let response = match tokio::time::timeout(
        guard.timeout,
        AssertUnwindSafe(inner(request)).catch_unwind(),
    )
    .await
    {
        Ok(Ok(response)) => response,
        Ok(Err(panic)) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".into());
            reject("panic");
            tracing::error!(%method, path = uri.path(), panic = %message, "request handler panicked; answering 503");
            unavailable("the request could not be handled; send it again later", "5")
        }
        Err(_) => {
            reject("timeout");
            tracing::warn!(%method, path = uri.path(), timeout_secs = guard.timeout.as_secs_f64(), "request timed out; answering 503");
            unavailable("the request took too long; send it again later", "5")
        }
    };
    record(guard, &response, started);
    response
}

fn record(guard: &Guard, response: &Response, started: Instant) {
    if let Some(metrics) = &guard.metrics {
        metrics.response(response.status().as_u16(), started.elapsed());
    }
}

/// Settings of the authentication step of [`webhook_front`].
#[derive(Clone, Debug)]
pub(crate) struct Auth {
    pub authenticator: Authenticator,
    pub metrics: Metrics,
    /// The nonces of the doctor's proofs taken in the last
    /// [`probe_proof::MAX_SKEW`] x 2 seconds, with their times: each counts once.
    pub proofs_seen: Arc<std::sync::Mutex<std::collections::HashMap<String, u64>>>,
}

/// At most this many proofs are remembered; beyond, refused requests count
/// as `unauthorized` (the safe side) until old ones run out.
const PROOFS_KEPT: usize = 1024;

impl Auth {
    /// Whether a request refused for its credentials carries a fresh proof
    /// that it is a probe of `tradecloud doctor` run by someone holding the
    /// configured secret, or with Entra ID of an access token accepted in
    /// the last five minutes (see [`probe_proof`]): counted as `doctor_probe`,
    /// not as a failed login. Each proof counts once.
    fn doctor_probe(&self, headers: &http::HeaderMap) -> bool {
        let keys = self.authenticator.probe_keys();
        if keys.is_empty() {
            return false;
        }
        let Some(value) = headers
            .get(probe_proof::HEADER)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let Some((nonce, time)) = keys
            .iter()
            .find_map(|key| probe_proof::verify(value, key, now))
        else {
            return false;
        };
        let mut seen = self.proofs_seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.retain(|_, t| t.abs_diff(now) <= 2 * probe_proof::MAX_SKEW);
        if seen.len() >= PROOFS_KEPT || seen.contains_key(&nonce) {
            return false;
        }
        seen.insert(nonce, time);
        true
    }
}

/// Authenticate before the route reads the body: the request back, or the
/// answer (`401`, or `503` when the credentials cannot be checked now). It
/// takes the request whole, as a reference to it held across the `await`
/// would need the body to be `Sync`.
async fn admit(auth: &Auth, request: Request) -> Result<Request, Response> {
    match auth.authenticator.authenticate(request.headers()).await {
        Ok(principal) => {
            tracing::debug!(principal = %principal.0, "authenticated");
            Ok(request)
        }
        Err(AuthFailure::Denied(reason)) => {
            let remote = request
                .extensions()
                .get::<RemoteAddr>()
                .map(|r| r.0.to_string())
                .unwrap_or_default();
            if auth.doctor_probe(request.headers()) {
                auth.metrics.rejected("doctor_probe");
                tracing::info!(%remote, path = %request.uri().path(), reason, "tradecloud doctor's probe without valid credentials (proven by the holder of the configured secret); answering 401");
            } else {
                auth.metrics.rejected("unauthorized");
                tracing::warn!(%remote, path = %request.uri().path(), reason, "webhook request not authenticated; answering 401");
            }
            let mut response = problem(
                StatusCode::UNAUTHORIZED,
                "valid credentials are required",
                None,
            );
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, auth.authenticator.challenge());
            Err(response)
        }
        Err(AuthFailure::Unavailable {
            reason,
            retry_after,
        }) => {
            auth.metrics.rejected("auth_unavailable");
            // Whole seconds, rounded up: the next JWKS fetch is due then.
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            tracing::error!(error = %reason, retry_after_secs = secs.max(1), "credentials cannot be checked now; answering 503");
            let mut response = problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "the credentials cannot be checked right now; send it again later",
                None,
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs.max(1)));
            Err(response)
        }
    }
}

/// The `Content-Encoding` of `tradecloud doctor`'s authenticated probes
/// (the doctor's `PROBE_ENCODING`): refused like any other, but logged as
/// the probe it is.
pub(crate) const DOCTOR_PROBE_ENCODING: &str = "x-tradecloud-doctor-probe";

/// `Some` answer (`415`) for a body with a `Content-Encoding` other than
/// `identity`. Called by the webhook routes' `admit`, after the router has
/// matched the path and the method (see the module documentation).
pub(crate) fn refuse_encoded(
    metrics: &Metrics,
    request: &http::request::Parts,
) -> Option<Response> {
    let encoded = request
        .headers
        .get_all(CONTENT_ENCODING)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("?").split(','))
        .map(str::trim)
        .find(|coding| !coding.is_empty() && !coding.eq_ignore_ascii_case("identity"))
        .map(str::to_owned);
    let coding = encoded?;
    if coding == DOCTOR_PROBE_ENCODING {
        // `tradecloud doctor`'s probe: the credentials passed; nothing is kept.
        metrics.rejected("doctor_probe");
        tracing::info!(path = %request.uri.path(), "tradecloud doctor probe: credentials accepted; answering 415, nothing stored");
    } else {
        metrics.rejected("unsupported_content_encoding");
        tracing::warn!(path = %request.uri.path(), content_encoding = %coding, "compressed webhook body refused; answering 415");
    }
    let mut response = problem(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        &format!(
            "Content-Encoding `{coding}` is not supported; send the body uncompressed (without Content-Encoding)"
        ),
        None,
    );
    response
        .headers_mut()
        .insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    Some(response)
}

/// Settings of [`webhook_front`].
#[derive(Clone, Debug)]
pub(crate) struct Front {
    pub guard: Guard,
    pub auth: Auth,
}

/// Everything in front of the webhook routes, in this order: the
/// `tradecloud.receive` span, [`guard`], authentication (the
/// `Content-Encoding` check comes after the router, in the routes' `admit`).
/// One middleware rather than one per step: each `from_fn` layer boxes the
/// service and the future of every request.
pub(crate) async fn webhook_front(
    State(front): State<Front>,
    request: Request,
    next: Next,
) -> Response {
    super::spans::receive(request, |request| {
        guarded(&front.guard, request, |request| async {
            let request = match admit(&front.auth, request).await {
                Ok(request) => request,
                Err(response) => return response,
            };
            next.run(request).await
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use tower_service::Service as _;

    fn app(permits: usize, timeout: Duration) -> axum::Router {
        axum::Router::new()
            .route(
                "/panic",
                get(|| async {
                    if Instant::now().elapsed() < Duration::from_secs(3600) {
                        panic!("handler bug");
                    }
                    "unreachable"
                }),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    "late"
                }),
            )
            .route("/ok", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(
                Guard {
                    permits: Some(Arc::new(Semaphore::new(permits))),
                    timeout,
                    metrics: Some(Metrics::new()),
                },
                guard,
            ))
    }

    async fn call(app: &axum::Router, path: &str) -> Response {
        let mut app = app.clone();
        app.call(http::Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_panic_is_answered_503_not_500() {
        let response = call(&app(4, Duration::from_secs(5)), "/panic").await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().contains_key(RETRY_AFTER));
    }

    #[tokio::test]
    async fn a_timeout_is_answered_503_not_408() {
        let response = call(&app(4, Duration::from_millis(200)), "/slow").await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().contains_key(RETRY_AFTER));
    }

    #[tokio::test]
    async fn over_the_concurrency_limit_is_503_at_once() {
        let app = app(1, Duration::from_secs(3600));
        let busy = tokio::spawn({
            let app = app.clone();
            async move { call(&app, "/slow").await }
        });
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let response = call(&app, "/ok").await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[RETRY_AFTER], "1");
        busy.abort();
        let _ = busy.await;
        assert_eq!(call(&app, "/ok").await.status(), StatusCode::OK);
    }

    /// A proof made with the configured password counts once, and only as
    /// long as it is fresh; one made with another secret, or a copy of a
    /// used one, is a failed login like any other.
    #[cfg(feature = "doctor")]
    #[test]
    fn a_doctor_probe_counts_once_and_only_with_the_secret() {
        use crate::receiver::config::{AuthConfig, Secret};
        use crate::receiver::AuthMethod;
        let auth = Auth {
            authenticator: Authenticator::from_config(&AuthConfig {
                method: Some(AuthMethod::Basic),
                username: Some("tradecloud".into()),
                password: Some(Secret::new("the password")),
                ..Default::default()
            })
            .unwrap(),
            metrics: Metrics::new(),
            proofs_seen: Arc::default(),
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let with = |proof: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(probe_proof::HEADER, proof.parse().unwrap());
            headers
        };
        let proof = probe_proof::make(b"the password", now);
        assert!(auth.doctor_probe(&with(&proof)));
        assert!(!auth.doctor_probe(&with(&proof)), "a proof counts once");
        assert!(!auth.doctor_probe(&with(&probe_proof::make(b"a guess", now))));
        let stale = probe_proof::make(b"the password", now - probe_proof::MAX_SKEW - 60);
        assert!(!auth.doctor_probe(&with(&stale)));
        assert!(!auth.doctor_probe(&http::HeaderMap::new()));
    }
}
