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
//! The credentials are checked once at start (a login); a refusal is
//! logged loudly and does not stop the receiver.

use std::sync::atomic::AtomicI64;
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
}

#[derive(Debug)]
struct Inner {
    valid: Gauge<i64, AtomicI64>,
    failures: Counter,
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
            "1 while Tradecloud accepts the [tradecloud] credentials, 0 after it refused them (401/403)",
            valid.clone(),
        );
        metrics.register(
            "api_auth_failures",
            "Intervals (of a minute) in which Tradecloud refused the [tradecloud] credentials (401/403)",
            failures.clone(),
        );
        ApiHealth {
            inner: Arc::new(Inner {
                valid,
                failures,
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

    /// Whether the credentials are refused now.
    pub fn is_refused(&self) -> bool {
        self.state().refused_since.is_some()
    }

    /// The detail for `/readyz`: `{"credentials": "accepted"}`, or
    /// `"refused"` with `since` and `error`.
    pub fn detail(&self) -> serde_json::Value {
        let state = self.state();
        match &state.refused_since {
            None => serde_json::json!({ "credentials": "accepted" }),
            Some(since) => serde_json::json!({
                "credentials": "refused",
                "since": since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "error": state.error,
                "effect": "GET-webhook events are kept and retried for processing.fetch_retry_hours; fix [tradecloud] username/password",
            }),
        }
    }

    /// Check the credentials once (a login with `client`), at start.
    pub(crate) async fn check_at_start(&self, client: &crate::client::Client) {
        match client.login().await {
            Ok(()) => {
                self.accepted();
                tracing::info!(user = %client.username(), base_url = %client.base_url(), "Tradecloud accepts the [tradecloud] credentials");
            }
            Err(e) if matches!(e.status(), Some(401 | 403)) => {
                self.refused("the check at start", &e.to_string());
            }
            Err(e) => tracing::warn!(
                error = %e,
                "cannot check the [tradecloud] credentials now; GET-webhook fetches will try again"
            ),
        }
    }
}

/// Whether a client error is Tradecloud refusing the credentials.
pub(crate) fn is_refusal(error: &crate::client::ClientError) -> bool {
    matches!(error.status(), Some(401 | 403))
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
}
