//! Prometheus metrics of the receiver and of processing, served at
//! `/metrics` in the text exposition format.
//!
//! | metric | labels | meaning |
//! |---|---|---|
//! | `tradecloud_webhook_received_total` | `kind` | authenticated webhook requests that reached a route |
//! | `tradecloud_webhook_stored_total` | `kind` | events durably stored as new (answered 2xx) |
//! | `tradecloud_webhook_duplicates_total` | `kind` | redeliveries of a stored message id (answered 2xx, not stored again) |
//! | `tradecloud_webhook_unhandled_total` | `kind` | unknown events without a known payload, stored as `unhandled` (also in `stored`) |
//! | `tradecloud_webhook_wrong_url_total` | `kind` | events of the other webhook (`kind` is what they are: a `shipment` event sent to the order URL, an `order` event sent to the shipment URL): the URLs are swapped in the Tradecloud portal. Stored as what they are (also in `stored`), or quarantined when not valid |
//! | `tradecloud_webhook_rejected_total` | `reason` | requests answered with an error: `unauthorized` (failed logins), `doctor_probe` (`tradecloud doctor`'s probes: its `415` with the credentials, and its probes without them when they carry its proof of holding the configured Basic password or Bearer token, or with Entra ID an access token the receiver accepted in the last five minutes, see the doctor's module docs), `invalid_body`, `malformed_body`, `missing_body`, `invalid_path`, `invalid_query`, `invalid_header`, `unsupported_media_type`, `unsupported_content_encoding`, `payload_too_large` (4xx); `body_read`, `store_unavailable`, `store_overloaded`, `overloaded`, `timeout`, `panic`, `auth_unavailable` (503); every one but `doctor_probe` has an alert rule (`scripts/check-deploy.sh`) |
//! | `tradecloud_webhook_responses_total` | `status` | responses of the webhook routes by status code |
//! | `tradecloud_webhook_request_duration_seconds` | | time from request to response on the webhook routes |
//! | `tradecloud_handler_outcomes_total` | `kind`, `outcome` | handler (or GET-webhook fetch) attempts: `done`, `fetched`, `retrying`, `dead`, `rejected`, `unhandled`; `trigger_dead`: a GET-webhook trigger whose fetch was given up on |
//! | `tradecloud_handler_duration_seconds` | `kind` | handler run time |
//! | `tradecloud_connections_open` | | open TLS connections (served and over the limits) |
//! | `tradecloud_store_ready` | | 1 when the inbox store accepts writes, 0 when not: the last readiness check (`/readyz`, and every 5 s while serving) or the last write of a webhook, whichever came last. Alert on `tradecloud_store_ready == 0` |
//! | `tradecloud_store_low_space` | | 1 while the disk of a SQLite inbox has less than 64 MiB free (checked every 5 s while serving): events are still stored, but a full disk answers webhooks 503. Always 0 on PostgreSQL |
//! | `tradecloud_inbox_purged_total` | | `done` events deleted by `[store] retention_days` |
//! | `tradecloud_connections_limited_total` | `action` | connections over `max_connections`/`max_connections_per_ip`: `answered_503`, or `closed` before TLS in a flood |
//! | `tradecloud_inbox_queued_events` | | events still to be handled (`received`, `trigger`, `processing`, `retrying`), read from the inbox at each scrape ([`Inbox::backlog`](crate::inbox::Inbox::backlog)); on PostgreSQL every instance reports the whole inbox |
//! | `tradecloud_inbox_oldest_queued_age_seconds` | | how long the oldest of them (lowest inbox id) has waited; 0 when none |
//! | `tradecloud_inbox_backlog_refreshed_timestamp_seconds` | | Unix time of the last scrape that could read the backlog (the receiver's start before the first): while the store cannot be read (PostgreSQL unreachable), the two gauges above keep their last values and this one stays behind, so `time() - tradecloud_inbox_backlog_refreshed_timestamp_seconds` tells how old they are |
//! | `tradecloud_tls_certificate_expiry_timestamp_seconds` | | notAfter of the certificate being served, Unix time (follows reloads and ACME renewals; see `certificate.rs`) |
//! | `tradecloud_tls_handshake_failures_total` | `reason` | failed TLS handshakes: `protocol_version`, `no_shared_cipher`, `unknown_ca`, `certificate_expired`, `bad_certificate`, `not_tls`, `timeout`, `closed`, `other` |
//! | `tradecloud_api_credentials_valid` | | `0` after Tradecloud refused the `[tradecloud]` credentials (401/403), else `1`, also while the API cannot be reached at all: see `tradecloud_api_reachable` (with a processor and credentials; see [`ApiHealth`](super::ApiHealth)) |
//! | `tradecloud_api_reachable` | | `1` after a call to Tradecloud's API (the check at start, a GET-webhook fetch, a handler's call through `ctx.client()` such as a document download) was answered, with any status below 500; `0` after one that could not connect, timed out or got a 5xx, and until the first is answered. `tradecloud_api_credentials_valid` stays `1` meanwhile (nothing refused them): alert on this one for "the API works" |
//! | `tradecloud_api_last_success_timestamp_seconds` | | Unix time of the last call to Tradecloud's API answered 2xx (`0` before the first); with POST webhooks only and handlers that make no calls (`ctx.client()`), only the check at start calls the API, so `time() - ...` says how old the two gauges' news is |
//! | `tradecloud_api_auth_failures_total` | | minutes in which Tradecloud refused the `[tradecloud]` credentials (counted once per minute, however many calls) |
//! | `tradecloud_trace_export_failures_total` | | failed exports of spans over OTLP/HTTP, each a batch of spans lost (with traces on: `tradecloud serve`, or `Telemetry::register_metrics` in `tradecloud::telemetry`, feature `otel`) |
//!
//! [`Metrics`] is cheap to clone and shared by the HTTP side and the
//! processor; more metrics can be added with [`Metrics::register`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry};
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabel {
    action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    kind: String,
    outcome: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ])
}

struct Inner {
    registry: Mutex<Registry>,
    received: Family<KindLabel, Counter>,
    stored: Family<KindLabel, Counter>,
    duplicates: Family<KindLabel, Counter>,
    unhandled: Family<KindLabel, Counter>,
    wrong_url: Family<KindLabel, Counter>,
    rejected: Family<ReasonLabel, Counter>,
    responses: Family<StatusLabel, Counter>,
    request_duration: Histogram,
    handler_outcomes: Family<OutcomeLabels, Counter>,
    handler_duration: HistogramFamily<KindLabel>,
    connections_open: Gauge,
    store_ready: Gauge,
    store_low_space: Gauge,
    connections_limited: Family<ActionLabel, Counter>,
    purged: Counter,
    /// Queued events, the oldest one's age, and when they were last read.
    backlog: (Gauge, Gauge<f64, AtomicU64>, Gauge<f64, AtomicU64>),
    /// Handler runs and their total time in microseconds (the console's overview).
    handler_totals: (AtomicU64, AtomicU64),
}

/// An open connection in `tradecloud_connections_open`, until dropped.
#[derive(Debug)]
pub struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The metrics registry. Clones share the same counters.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with the receiver's and the processor's metrics.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tradecloud");
        let received = Family::<KindLabel, Counter>::default();
        let stored = Family::<KindLabel, Counter>::default();
        let duplicates = Family::<KindLabel, Counter>::default();
        let unhandled = Family::<KindLabel, Counter>::default();
        let wrong_url = Family::<KindLabel, Counter>::default();
        let rejected = Family::<ReasonLabel, Counter>::default();
        let responses = Family::<StatusLabel, Counter>::default();
        let request_duration = latency_histogram();
        let handler_outcomes = Family::<OutcomeLabels, Counter>::default();
        let handler_duration: HistogramFamily<KindLabel> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "webhook_received",
            "Authenticated webhook requests that reached a route",
            received.clone(),
        );
        registry.register(
            "webhook_stored",
            "Events durably stored as new and acknowledged",
            stored.clone(),
        );
        registry.register(
            "webhook_duplicates",
            "Redelivered messages acknowledged without storing them again",
            duplicates.clone(),
        );
        registry.register(
            "webhook_unhandled",
            "Unknown events without a known payload, stored as unhandled (never handed to the handler)",
            unhandled.clone(),
        );
        registry.register(
            "webhook_wrong_url",
            "Events sent to the other webhook's URL (order and shipment URLs swapped in the Tradecloud portal), by what they are",
            wrong_url.clone(),
        );
        registry.register(
            "webhook_rejected",
            "Webhook requests answered with an error, by reason",
            rejected.clone(),
        );
        registry.register(
            "webhook_responses",
            "Responses of the webhook routes, by status code",
            responses.clone(),
        );
        registry.register(
            "webhook_request_duration_seconds",
            "Time from webhook request to response",
            request_duration.clone(),
        );
        registry.register(
            "handler_outcomes",
            "Handler attempts by kind and outcome (done, fetched, retrying, dead, rejected, unhandled)",
            handler_outcomes.clone(),
        );
        registry.register(
            "handler_duration_seconds",
            "Handler run time",
            handler_duration.clone(),
        );
        let connections_open = Gauge::default();
        let connections_limited = Family::<ActionLabel, Counter>::default();
        registry.register(
            "connections_open",
            "Open TLS connections",
            connections_open.clone(),
        );
        let store_ready = Gauge::default();
        registry.register(
            "store_ready",
            "1 when the inbox store accepts writes (last readiness check or webhook write), 0 when not",
            store_ready.clone(),
        );
        let store_low_space = Gauge::default();
        registry.register(
            "store_low_space",
            "1 while the disk of a SQLite inbox has little free space (events are still stored)",
            store_low_space.clone(),
        );
        let purged = Counter::default();
        registry.register(
            "inbox_purged",
            "Done events deleted by the retention period",
            purged.clone(),
        );
        registry.register(
            "connections_limited",
            "Connections over the connection limits: answered_503, or closed before TLS",
            connections_limited.clone(),
        );
        let backlog = (
            Gauge::default(),
            Gauge::<f64, AtomicU64>::default(),
            Gauge::<f64, AtomicU64>::default(),
        );
        // Until the first read, the time the receiver started: an alert on
        // its age then says "not read since the start", not "since 1970".
        backlog.2.set(unix_now());
        registry.register(
            "inbox_queued_events",
            "Events still to be handled (received, trigger, processing, retrying), read at each scrape",
            backlog.0.clone(),
        );
        registry.register(
            "inbox_oldest_queued_age_seconds",
            "How long the oldest event still to be handled has waited (0 when none)",
            backlog.1.clone(),
        );
        registry.register(
            "inbox_backlog_refreshed_timestamp_seconds",
            "Unix time of the last successful read of the two inbox backlog gauges (the receiver's start before the first): \
             they keep their last values while the store cannot be read",
            backlog.2.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry: Mutex::new(registry),
                received,
                stored,
                duplicates,
                unhandled,
                wrong_url,
                rejected,
                responses,
                request_duration,
                handler_outcomes,
                handler_duration,
                connections_open,
                store_ready,
                store_low_space,
                connections_limited,
                purged,
                backlog,
                handler_totals: Default::default(),
            }),
        }
    }

    /// An authenticated webhook request of `kind` (`order`, `orderDocuments`, `shipment`) reached a route.
    pub fn received(&self, kind: &str) {
        self.inner
            .received
            .get_or_create(&KindLabel { kind: kind.into() })
            .inc();
    }

    /// An event of `kind` was durably stored as new.
    pub fn stored(&self, kind: &str) {
        self.inner
            .stored
            .get_or_create(&KindLabel { kind: kind.into() })
            .inc();
    }

    /// A redelivery of `kind` was acknowledged without storing it again.
    pub fn duplicate(&self, kind: &str) {
        self.inner
            .duplicates
            .get_or_create(&KindLabel { kind: kind.into() })
            .inc();
    }

    /// An unknown event of `kind` without a known payload was stored as
    /// `unhandled`.
    pub fn unhandled(&self, kind: &str) {
        self.inner
            .unhandled
            .get_or_create(&KindLabel { kind: kind.into() })
            .inc();
    }

    /// An event of `kind` (`order`, `shipment`) was sent to the other
    /// webhook's URL.
    pub fn wrong_url(&self, kind: &str) {
        self.inner
            .wrong_url
            .get_or_create(&KindLabel { kind: kind.into() })
            .inc();
    }

    /// A request was answered with an error for `reason`.
    pub fn rejected(&self, reason: &str) {
        self.inner
            .rejected
            .get_or_create(&ReasonLabel {
                reason: reason.into(),
            })
            .inc();
    }

    /// A webhook route answered `status` after `elapsed`.
    pub fn response(&self, status: u16, elapsed: Duration) {
        self.inner
            .responses
            .get_or_create(&StatusLabel { status })
            .inc();
        self.inner.request_duration.observe(elapsed.as_secs_f64());
    }

    /// The handler ran for an event of `kind` with `outcome` (`done`,
    /// `retrying`, `dead`, ...) in `elapsed`.
    pub fn handler_outcome(&self, kind: &str, outcome: &str, elapsed: Duration) {
        self.inner
            .handler_outcomes
            .get_or_create(&OutcomeLabels {
                kind: kind.into(),
                outcome: outcome.into(),
            })
            .inc();
        self.inner
            .handler_duration
            .get_or_create(&KindLabel { kind: kind.into() })
            .observe(elapsed.as_secs_f64());
        let (runs, micros) = &self.inner.handler_totals;
        runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        micros.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// The handler runs of this process since it started, and their mean
    /// time (`None` before the first).
    pub fn handler_latency(&self) -> Option<(u64, Duration)> {
        let (runs, micros) = &self.inner.handler_totals;
        let runs = runs.load(std::sync::atomic::Ordering::Relaxed);
        let micros = micros.load(std::sync::atomic::Ordering::Relaxed);
        (runs > 0).then(|| (runs, Duration::from_micros(micros / runs)))
    }

    /// Record a processor outcome: use as
    /// `processor.on_outcome(move |r| metrics.observe_outcome(r))`.
    /// Outcome labels: `done`, `fetched`, `retrying`, `dead`, `rejected`,
    /// `unhandled`, and `trigger_dead` for a GET-webhook trigger given up on
    /// (alert on it).
    pub fn observe_outcome(&self, report: &crate::processing::OutcomeReport) {
        let label = match (&report.outcome, report.origin) {
            (crate::processing::Outcome::Dead { .. }, crate::inbox::Origin::Trigger) => {
                "trigger_dead"
            }
            (outcome, _) => outcome.label(),
        };
        self.handler_outcome(report.kind.as_str(), label, report.elapsed);
    }

    /// A connection was opened; it counts as open until the guard is dropped.
    pub fn connection_opened(&self) -> OpenConnection {
        self.inner.connections_open.inc();
        OpenConnection(self.inner.connections_open.clone())
    }

    /// Whether the inbox store accepts writes, as a readiness check or a
    /// write just found (`tradecloud_store_ready`).
    pub fn store_ready(&self, ready: bool) {
        self.inner.store_ready.set(i64::from(ready));
    }

    /// Whether the inbox's disk has little free space
    /// (`tradecloud_store_low_space`, see [`Inbox::low_space`](crate::inbox::Inbox::low_space)).
    pub fn store_low_space(&self, low: bool) {
        self.inner.store_low_space.set(i64::from(low));
    }

    /// A connection over the limits was `answered_503` or `closed`.
    pub fn connection_limited(&self, action: &str) {
        self.inner
            .connections_limited
            .get_or_create(&ActionLabel {
                action: action.into(),
            })
            .inc();
    }

    /// `events` done events were deleted by the retention period.
    pub fn purged(&self, events: u64) {
        self.inner.purged.inc_by(events);
    }

    /// Read the inbox's [backlog](crate::inbox::Inbox::backlog) into
    /// `tradecloud_inbox_queued_events` and
    /// `tradecloud_inbox_oldest_queued_age_seconds` (called before each
    /// scrape is answered), and the time of this read into
    /// `tradecloud_inbox_backlog_refreshed_timestamp_seconds`. When the store
    /// cannot be read within `timeout`, the gauges keep their last values,
    /// and the timestamp stays behind to say how old they are
    /// (`tradecloud_store_ready` tells that the store is down).
    pub async fn refresh_backlog(&self, inbox: &crate::inbox::Inbox, timeout: Duration) {
        match tokio::time::timeout(timeout, inbox.backlog()).await {
            Ok(Ok(backlog)) => {
                let (queued, oldest, refreshed) = &self.inner.backlog;
                queued.set(i64::try_from(backlog.queued).unwrap_or(i64::MAX));
                oldest.set(backlog.oldest_age.map_or(0.0, |age| age.as_secs_f64()));
                refreshed.set(unix_now());
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "cannot read the inbox backlog for /metrics"),
            Err(_) => tracing::debug!("the inbox backlog for /metrics took too long"),
        }
    }

    /// Register another metric (its name gets the `tradecloud_` prefix).
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        self.inner
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .register(name, help, metric);
    }

    /// The metrics in the Prometheus/OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self
            .inner
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &registry);
        out
    }
}

/// Now as Unix time in seconds (0 for a clock before 1970).
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_in_the_exposition() {
        let m = Metrics::new();
        m.received("order");
        m.stored("order");
        m.duplicate("shipment");
        m.rejected("invalid_body");
        m.response(202, Duration::from_millis(3));
        m.handler_outcome("order", "ok", Duration::from_millis(20));
        assert!(m.encode().contains("tradecloud_store_ready 0"));
        assert!(m.encode().contains("tradecloud_store_low_space 0"));
        m.store_ready(true);
        m.store_low_space(true);
        let text = m.encode();
        for needle in [
            "tradecloud_webhook_received_total{kind=\"order\"} 1",
            "tradecloud_webhook_stored_total{kind=\"order\"} 1",
            "tradecloud_webhook_duplicates_total{kind=\"shipment\"} 1",
            "tradecloud_webhook_rejected_total{reason=\"invalid_body\"} 1",
            "tradecloud_webhook_responses_total{status=\"202\"} 1",
            "tradecloud_handler_outcomes_total{kind=\"order\",outcome=\"ok\"} 1",
            "tradecloud_handler_duration_seconds_count{kind=\"order\"} 1",
            "# TYPE tradecloud_store_ready gauge",
            "tradecloud_store_ready 1",
            "tradecloud_store_low_space 1",
        ] {
            assert!(text.contains(needle), "{needle} missing in\n{text}");
        }
    }

    /// Before the backlog is first read, its timestamp is the receiver's
    /// start: an alert on its age says "since the start", not "since 1970".
    #[test]
    fn the_backlog_is_unread_since_the_start() {
        let before = unix_now();
        let text = Metrics::new().encode();
        let value = text
            .lines()
            .find_map(|line| {
                line.strip_prefix("tradecloud_inbox_backlog_refreshed_timestamp_seconds ")
            })
            .and_then(|value| value.trim().parse::<f64>().ok());
        assert!(
            value.is_some_and(|v| (before - 1.0..=unix_now() + 1.0).contains(&v)),
            "{value:?} is not the start ({before}):\n{text}"
        );
    }
}
