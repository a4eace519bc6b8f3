//! Whether Tradecloud accepts the `[tradecloud]` credentials (the
//! integration user the receiver fetches GET-webhook orders and shipments
//! with).
//!
//! A `401` or `403` from Tradecloud's API is a configuration fault (a
//! mistyped or rotated password, a user without the integration role), not
//! a fault of the event: the fetch is retried with backoff for
//! `processing.fetch_retry_hours` (as for an API that is down), so that
//! fixing the credentials lets the queued events through without a replay.
//! Meanwhile:
//!
//! * the refusal is logged as an error and counted in
//!   `tradecloud_api_auth_failures_total` once per [`REPORT_INTERVAL`]
//!   (however many fetches were refused in it; the log line says how many);
//! * `tradecloud_api_credentials_valid` is `0` (`1` once a call succeeds
//!   again, or the check at start passed);
//! * `/readyz` stays `200` (the receiver still receives and stores) and says
//!   `"tradecloudApi": {"credentials": "refused", ...}`.
//!
//! The credentials are checked once at start (a call to Tradecloud's
//! authentication API, a login, in either auth mode); a refusal is
//! logged loudly and does not stop the receiver. While that check (or a
//! later call) finds Tradecloud unreachable, a call to its authentication
//! API (a token refresh, or a login) is tried again ([`RECHECK_FIRST`],
//! doubling to [`RECHECK_MAX`]) until it is answered:
//! otherwise, with POST webhooks only (no fetches), one failed check at
//! start kept `tradecloud_api_reachable` at `0`, and its alert firing,
//! until a restart.
//!
//! Valid credentials are not a working API: `credentials_valid` stays `1`
//! while Tradecloud cannot be reached at all (nothing refused them). What
//! the last call met is said apart from the credentials:
//!
//! * `tradecloud_api_reachable` is `1` after a call that Tradecloud
//!   answered (below 500: a `401` or a `404` is an answer too), `0` after
//!   one that could not connect, timed out or got a 5xx (`0` until the
//!   first call, the check at start, is answered);
//! * `tradecloud_api_last_success_timestamp_seconds` is the Unix time of
//!   the last call answered 2xx (`0` before the first): the calls are the
//!   check at start and every call of the receiver's client (GET-webhook
//!   fetches, and handlers' calls through `ctx.client()`, such as an
//!   upload or a document download's metadata call, and the download's
//!   transfer of the bytes from Tradecloud's object storage; not a
//!   document's own `url` on a third party's server),
//!   so with POST webhooks only and no such calls `time() - ...` says how
//!   old the news is;
//! * going unreachable is logged as a warning once (with the error), and
//!   the way back once; `/readyz` says `"reachable": false` meanwhile.

use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use super::Metrics;

/// At most one log line and one count of refused credentials per interval.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
struct State {
    /// Since when the credentials are refused (`None`: accepted, or not known yet).
    refused_since: Option<chrono::DateTime<chrono::Utc>>,
    /// The last refusal's error.
    error: Option<String>,
    /// When the refusal was last logged and counted.
    reported_at: Option<Instant>,
    /// Refusals since then.
    unreported: u64,
    /// Since when calls do not reach Tradecloud (`None`: they do, or not known yet).
    unreachable_since: Option<chrono::DateTime<chrono::Utc>>,
    /// The error of the call that found it unreachable.
    unreachable_error: Option<String>,
}

#[derive(Debug)]
struct Inner {
    valid: Gauge<i64, AtomicI64>,
    failures: Counter,
    reachable: Gauge<i64, AtomicI64>,
    last_success: Gauge<f64, AtomicU64>,
    state: Mutex<State>,
}

/// The standing of the `[tradecloud]` credentials; cheap to clone.
#[derive(Debug, Clone)]
pub struct ApiHealth {
    inner: Arc<Inner>,
}

impl ApiHealth {
    /// A new standing (valid until refused), with its metrics registered in
    /// `metrics`.
    pub fn new(metrics: &Metrics) -> Self {
        let valid = Gauge::<i64, AtomicI64>::default();
        valid.set(1);
        let failures = Counter::default();
        metrics.register(
            "api_credentials_valid",
            "1 while Tradecloud accepts the [tradecloud] credentials, 0 after it refused them (401/403); stays 1 while the API cannot be reached (see tradecloud_api_reachable)",
            valid.clone(),
        );
        metrics.register(
            "api_auth_failures",
            "Intervals (of a minute) in which Tradecloud refused the [tradecloud] credentials (401/403)",
            failures.clone(),
        );
        let reachable = Gauge::<i64, AtomicI64>::default();
        let last_success = Gauge::<f64, AtomicU64>::default();
        metrics.register(
            "api_reachable",
            "1 after a call to Tradecloud's API was answered (any status below 500), 0 after one that could not connect, timed out or got a 5xx (0 until the first call is answered)",
            reachable.clone(),
        );
        metrics.register(
            "api_last_success_timestamp_seconds",
            "Unix time of the last call to Tradecloud's API answered 2xx (0 before the first)",
            last_success.clone(),
        );
        ApiHealth {
            inner: Arc::new(Inner {
                valid,
                failures,
                reachable,
                last_success,
                state: Mutex::default(),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tradecloud refused the credentials (`401`/`403`) with `error`, while
    /// doing `what`.
    pub fn refused(&self, what: &str, error: &str) {
        self.inner.valid.set(0);
        let mut state = self.state();
        state.refused_since.get_or_insert_with(chrono::Utc::now);
        state.error = Some(error.to_string());
        state.unreported += 1;
        let due = state
            .reported_at
            .is_none_or(|at| at.elapsed() >= REPORT_INTERVAL);
        if due {
            let refusals = std::mem::take(&mut state.unreported);
            state.reported_at = Some(Instant::now());
            drop(state);
            self.inner.failures.inc();
            tracing::error!(
                refusals, %error,
                "Tradecloud refuses the [tradecloud] credentials ({what}): a configuration fault. \
                 GET-webhook events stay queued and are retried for processing.fetch_retry_hours; \
                 fix tradecloud.username/password (or TRADECLOUD_USERNAME/TRADECLOUD_PASSWORD) and restart"
            );
        }
    }

    /// A call with the credentials succeeded.
    pub fn accepted(&self) {
        self.inner.valid.set(1);
        let mut state = self.state();
        if let Some(since) = state.refused_since.take() {
            state.error = None;
            state.unreported = 0;
            state.reported_at = None;
            tracing::info!(refused_since = %since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "Tradecloud accepts the [tradecloud] credentials again");
        }
    }

    /// What a call with the credentials met, while doing `what`: a
    /// success, a refusal (`401`/`403`), no answer (unreachable), or an
    /// answer that says nothing about either (a `404`, a `409`, ...).
    pub(crate) fn observe(&self, what: &str, result: Result<(), &crate::client::ClientError>) {
        match result {
            Ok(()) => {
                self.answered();
                self.inner
                    .last_success
                    .set(chrono::Utc::now().timestamp_millis() as f64 / 1000.0);
                self.accepted();
            }
            Err(e) if is_unreachable(e) => self.unreachable(what, &e.to_string()),
            Err(e) => {
                self.answered();
                if is_refusal(e) {
                    self.refused(what, &e.to_string());
                }
            }
        }
    }

    /// [`ApiHealth::observe`] as the observer of a client's calls (see
    /// [`ClientFetcher::with_health`](super::ClientFetcher::with_health)).
    pub(crate) fn observer(&self) -> crate::client::CallObserver {
        let health = self.clone();
        std::sync::Arc::new(
            move |outcome: Result<(), (&str, &crate::client::ClientError)>| match outcome {
                Ok(()) => health.observe("a call", Ok(())),
                Err((what, error)) => health.observe(&format!("a call about {what}"), Err(error)),
            },
        )
    }

    /// Tradecloud answered a call.
    fn answered(&self) {
        self.inner.reachable.set(1);
        let mut state = self.state();
        state.unreachable_error = None;
        if let Some(since) = state.unreachable_since.take() {
            drop(state);
            tracing::info!(unreachable_since = %since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "Tradecloud's API answers again");
        }
    }

    /// A call did not reach Tradecloud (`error`), while doing `what`.
    fn unreachable(&self, what: &str, error: &str) {
        self.inner.reachable.set(0);
        let mut state = self.state();
        state.unreachable_error = Some(error.to_string());
        if state.unreachable_since.is_none() {
            state.unreachable_since = Some(chrono::Utc::now());
            drop(state);
            tracing::warn!(%error,
                "Tradecloud's API cannot be reached ({what}): GET-webhook events stay queued and are \
                 retried for processing.fetch_retry_hours; check the network, a proxy, tradecloud.base_url, \
                 and Tradecloud's status page");
        }
    }

    /// Whether the credentials are refused now.
    pub fn is_refused(&self) -> bool {
        self.state().refused_since.is_some()
    }

    /// The detail for `/readyz`: `{"credentials": "accepted"}`, or
    /// `"refused"` with `since` and `error`.
    pub fn detail(&self) -> serde_json::Value {
        let state = self.state();
        let mut detail = match &state.refused_since {
            None => serde_json::json!({ "credentials": "accepted" }),
            Some(since) => serde_json::json!({
                "credentials": "refused",
                "since": since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "error": state.error,
                "effect": "GET-webhook events are kept and retried for processing.fetch_retry_hours; fix [tradecloud] username/password",
            }),
        };
        if let Some(since) = &state.unreachable_since {
            detail["reachable"] = false.into();
            detail["unreachableSince"] = since
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                .into();
            detail["unreachableError"] = state.unreachable_error.clone().into();
        }
        detail
    }

    /// Check the credentials at start (a call to Tradecloud's
    /// authentication API with `client`), and again while Tradecloud is
    /// unreachable; never returns (aborted at the stop).
    pub(crate) async fn check_at_start(&self, client: &crate::client::Client) {
        // A real call, in either auth mode: `login` answers without one in
        // `AuthMode::BasicEveryRequest` (and with tokens held), and the
        // start said "accepted" and "reachable" without asking Tradecloud.
        self.record_check(client, client.renew_tokens_now().await);
        // Tried again while unreachable: nothing else may call (POST
        // webhooks only) to find the way back. A real call each time, for
        // the same reason.
        let mut wait = RECHECK_FIRST;
        loop {
            tokio::time::sleep(wait).await;
            if self.state().unreachable_since.is_none() {
                wait = RECHECK_FIRST;
                continue;
            }
            self.record_check(client, client.renew_tokens_now().await);
            wait = wait.saturating_mul(2).min(RECHECK_MAX);
        }
    }

    /// Records one check of the credentials: `result`, a login (or a token
    /// renewal) with `client`.
    fn record_check(
        &self,
        client: &crate::client::Client,
        result: Result<(), crate::client::ClientError>,
    ) {
        self.observe("the check at start", result.as_ref().copied());
        match result {
            Ok(()) => {
                tracing::info!(user = %client.username(), base_url = %client.base_url(), "Tradecloud accepts the [tradecloud] credentials");
            }
            Err(e) if is_refusal(&e) || is_unreachable(&e) => {}
            Err(e) => tracing::warn!(
                error = %e,
                "cannot check the [tradecloud] credentials now; GET-webhook fetches will try again"
            ),
        }
    }
}

/// The first wait before the login is tried again while Tradecloud is
/// unreachable (see the module's documentation).
const RECHECK_FIRST: Duration = Duration::from_secs(1);

/// The longest wait between those tries.
const RECHECK_MAX: Duration = Duration::from_secs(60);

/// Whether a client error is Tradecloud refusing the credentials.
pub(crate) fn is_refusal(error: &crate::client::ClientError) -> bool {
    matches!(error.status(), Some(401 | 403))
}

/// Whether a client error is a call that did not reach a working API: no
/// answer (connect, timeout, transport) or a 5xx; for the transfer of a
/// document from Tradecloud's object storage, a transfer that broke off
/// or a storage that could not be reached.
pub(crate) fn is_unreachable(error: &crate::client::ClientError) -> bool {
    use crate::client::ClientError;
    match error.status() {
        Some(status) => status >= 500,
        None => matches!(
            error,
            ClientError::Timeout { .. }
                | ClientError::Connect { .. }
                | ClientError::Http { .. }
                | ClientError::NotResent { .. }
                | ClientError::DownloadInterrupted { .. }
                | ClientError::DownloadUnreachable { .. }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_once_per_interval_and_recovers() {
        let metrics = Metrics::new();
        let health = ApiHealth::new(&metrics);
        let text = metrics.encode();
        assert!(
            text.contains("tradecloud_api_credentials_valid 1"),
            "{text}"
        );
        for _ in 0..5 {
            health.refused("fetching order o1", "401");
        }
        let text = metrics.encode();
        assert!(
            text.contains("tradecloud_api_credentials_valid 0"),
            "{text}"
        );
        assert!(
            text.contains("tradecloud_api_auth_failures_total 1"),
            "{text}"
        );
        assert_eq!(health.detail()["credentials"], "refused");
        health.accepted();
        assert!(metrics
            .encode()
            .contains("tradecloud_api_credentials_valid 1"));
        assert_eq!(health.detail()["credentials"], "accepted");
        health.refused("fetching order o1", "401");
        assert!(metrics
            .encode()
            .contains("tradecloud_api_auth_failures_total 2"));
    }

    /// The check at start asks Tradecloud in `AuthMode::BasicEveryRequest`
    /// too: `Client::login` answers without a call in that mode, and the
    /// start said wrong credentials were accepted (and the API reachable).
    #[cfg(feature = "mock")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_check_at_start_asks_tradecloud_in_basic_every_request_mode() {
        use crate::client::{AuthMode, Client, RetryPolicy};
        use crate::mock::{MockConfig, MockServer};

        let server = MockServer::start(MockConfig::new()).await.unwrap();
        let client = Client::builder()
            .base_url(server.base_url())
            .credentials(server.credentials().username, "not-the-password")
            .auth_mode(AuthMode::BasicEveryRequest)
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap();
        let metrics = Metrics::new();
        let health = ApiHealth::new(&metrics);
        let check = tokio::spawn({
            let health = health.clone();
            async move { health.check_at_start(&client).await }
        });
        let start = Instant::now();
        while health.detail()["credentials"] != "refused" {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the check at start reports the refusal: {}",
                metrics.encode()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let text = metrics.encode();
        assert!(
            text.contains("tradecloud_api_credentials_valid 0"),
            "{text}"
        );
        let last_success = text
            .lines()
            .find_map(|l| l.strip_prefix("tradecloud_api_last_success_timestamp_seconds "))
            .and_then(|v| v.trim().parse::<f64>().ok());
        assert_eq!(last_success, Some(0.0), "nothing succeeded: {text}");
        check.abort();
        server.shutdown().await.unwrap();
    }
}
