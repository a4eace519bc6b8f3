//! Traces of the receiver with OpenTelemetry: one trace per webhook, from
//! receiving it to the handler and the API calls the handler makes.
//!
//! Off by default. `tradecloud serve` exports spans over OTLP (HTTP with
//! protobuf) once an endpoint is configured: `[telemetry] otlp_endpoint`
//! (`TRADECLOUD_TELEMETRY_OTLP_ENDPOINT`), or the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
//! which win over the file. The other standard variables are honoured too:
//! `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`
//! and `OTEL_TRACES_SAMPLER_ARG` (default `parentbased_always_on`),
//! `OTEL_EXPORTER_OTLP_HEADERS`, `..._TIMEOUT`, the batch processor's
//! `OTEL_BSP_*`, and `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`
//! to turn it off. This build speaks `http/protobuf` only (no gRPC): an
//! `OTEL_EXPORTER_OTLP_PROTOCOL` of `grpc` is refused with what to do, and
//! so are (with an endpoint set) an `OTEL_TRACES_SAMPLER` the SDK does not
//! know, a ratio sampler's `OTEL_TRACES_SAMPLER_ARG` that is not a number
//! from 0 to 1, and an `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS` entry the
//! exporter would drop (the SDK falls back, or drops, without a word).
//!
//! # The spans of one webhook
//!
//! ```text
//! tradecloud.receive   (server: the HTTP request; event name, order id, inbox id, outcome)
//! ├── tradecloud.store     (the commit to the inbox)
//! ├── tradecloud.claim     (claimed by a processor, waiting for a handler slot)
//! └── tradecloud.handle    (the handler; attempt, outcome)
//!     ├── your handler's own spans
//!     └── GET /order/{orderId}, document downloads, ...  (the client's `tradecloud.request` spans)
//! ```
//!
//! Receiving and handling happen at different times (the inbox decouples
//! them, a retry may come hours later): the inbox stores the W3C
//! `traceparent` of the receive span with the event, and the processor
//! makes every claim and handling attempt a child of it, so they join the
//! webhook's trace (a replay too). A GET webhook's fetched order or
//! shipment inherits the trigger's trace. An incoming `traceparent` header
//! (from a proxy in front) makes the receive span its child.
//!
//! The handler runs inside `tradecloud.handle`, so its own spans
//! (`tracing::info_span!`, `#[tracing::instrument]`) nest there; a task it
//! spawns must carry the span along (`.instrument(Span::current())`).
//!
//! The receiver's spans are at `DEBUG` level: without the exporter they are
//! disabled and cost nothing, and the log output does not change. The
//! exporter's layer takes `tradecloud*` spans at `DEBUG` and above, other
//! spans at `INFO` and above, and records `WARN` and `ERROR` log events on
//! their span.
//!
//! A failed export (the collector is down, refuses the credentials, or
//! does not answer within `OTEL_EXPORTER_OTLP_TIMEOUT`) loses its spans: a
//! warning is logged at the first failure of a streak and a line when
//! exports work again, `Telemetry::register_metrics` adds
//! `tradecloud_trace_export_failures_total` to the receiver's metrics, and
//! `Telemetry::shutdown` warns when the last spans were lost.
//!
//! In your own program (feature `otel`):
//!
//! ```no_run
//! use tracing_subscriber::layer::SubscriberExt as _;
//! use tracing_subscriber::util::SubscriberInitExt as _;
//! use tradecloud::telemetry::{Telemetry, TelemetryConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = TelemetryConfig {
//!     otlp_endpoint: Some("http://localhost:4318".into()),
//!     ..TelemetryConfig::default()
//! };
//! let telemetry = Telemetry::from_config(&config)?;
//! tracing_subscriber::registry()
//!     .with(telemetry.as_ref().map(|t| t.layer()))
//!     .init();
//! // ... run the receiver ...
//! if let Some(telemetry) = telemetry {
//!     telemetry.shutdown(); // exports what is still buffered
//! }
//! # Ok(()) }
//! ```

use serde::{Deserialize, Serialize};

/// `[telemetry]`: where traces go. Without an endpoint (here or in
/// `OTEL_EXPORTER_OTLP_ENDPOINT`) nothing is exported.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// The collector's OTLP/HTTP base URL, e.g. `http://localhost:4318`;
    /// spans are posted to `{otlp_endpoint}/v1/traces`.
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL too) and
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full URL) win over it.
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the spans (default `tradecloud`);
    /// `OTEL_SERVICE_NAME` wins over it.
    pub service_name: Option<String>,
}

/// Why tracing could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// A setting or variable is wrong.
    #[error("telemetry: {0}")]
    Config(String),
    /// The exporter could not be built.
    #[error("telemetry: cannot start the OTLP exporter: {0}")]
    Exporter(String),
}

#[cfg(feature = "otel")]
pub use exporter::Telemetry;

#[cfg(feature = "otel")]
mod exporter {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::{SpanExporter, WithExportConfig as _};
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData};
    use opentelemetry_sdk::Resource;
    use prometheus_client::metrics::counter::Counter;
    use tracing::{Level, Subscriber};
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::registry::LookupSpan;
    use tracing_subscriber::Layer;

    use super::{TelemetryConfig, TelemetryError};

    /// The tracer of a configured OTLP exporter; [`layer`](Self::layer)
    /// feeds it the `tracing` spans. Keep it until the end, then
    /// [`shutdown`](Self::shutdown) to export what is still buffered.
    #[derive(Debug)]
    pub struct Telemetry {
        provider: SdkTracerProvider,
        endpoint: String,
        health: Arc<ExportHealth>,
    }

    /// The results of the exports so far. The SDK is built without its
    /// internal logs, and the batch processor drops a failed export's
    /// result (its shutdown even answers `Ok` after a failed last export):
    /// without this a collector that is down, refuses the credentials or
    /// never answers looks exactly like one that works.
    #[derive(Debug, Default)]
    struct ExportHealth {
        streak: Mutex<Streak>,
        /// `tradecloud_trace_export_failures_total`.
        failures: Counter,
    }

    /// The failures since the last export that worked.
    #[derive(Debug, Default)]
    struct Streak {
        exports: u64,
        spans: u64,
        last_error: String,
    }

    impl ExportHealth {
        /// Count an export of `spans` spans to `endpoint`, and log the first
        /// failure of a streak (a warning) and the first success after one:
        /// one line each, however many batches fail in between.
        fn record(&self, endpoint: &str, spans: usize, result: &OTelSdkResult) {
            let mut streak = self.streak.lock().unwrap_or_else(|e| e.into_inner());
            match result {
                Err(error) => {
                    self.failures.inc();
                    streak.exports += 1;
                    streak.spans += spans as u64;
                    streak.last_error = error.to_string();
                    if streak.exports == 1 {
                        tracing::warn!(
                            endpoint, %error, spans,
                            "traces are not reaching the collector: exporting spans over OTLP/HTTP failed and they are lost; \
                             check that the collector runs at this endpoint, answers within OTEL_EXPORTER_OTLP_TIMEOUT (10 s) \
                             and accepts the credentials in OTEL_EXPORTER_OTLP_HEADERS (said once until an export works again; tradecloud_trace_export_failures_total counts every failed export)"
                        );
                    }
                }
                Ok(()) => {
                    if streak.exports > 0 {
                        tracing::info!(
                            endpoint,
                            failed_exports = streak.exports,
                            lost_spans = streak.spans,
                            "traces reach the collector again, after {} failed exports ({} spans lost)",
                            streak.exports,
                            streak.spans
                        );
                        *streak = Streak::default();
                    }
                }
            }
        }

        /// The failures since the last export that worked, if any.
        fn failing(&self) -> Option<(u64, u64, String)> {
            let streak = self.streak.lock().unwrap_or_else(|e| e.into_inner());
            (streak.exports > 0).then(|| (streak.exports, streak.spans, streak.last_error.clone()))
        }
    }

    /// The OTLP exporter, with each export's result recorded in [`ExportHealth`].
    #[derive(Debug)]
    struct Reporting<E> {
        inner: E,
        endpoint: String,
        health: Arc<ExportHealth>,
    }

    impl<E: opentelemetry_sdk::trace::SpanExporter> opentelemetry_sdk::trace::SpanExporter
        for Reporting<E>
    {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            let spans = batch.len();
            let result = self.inner.export(batch).await;
            self.health.record(&self.endpoint, spans, &result);
            result
        }

        fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
            self.inner.shutdown_with_timeout(timeout)
        }

        fn shutdown(&self) -> OTelSdkResult {
            self.inner.shutdown()
        }

        fn force_flush(&self) -> OTelSdkResult {
            self.inner.force_flush()
        }

        fn set_resource(&mut self, resource: &Resource) {
            self.inner.set_resource(resource);
        }
    }

    impl Telemetry {
        /// The exporter `config` and the `OTEL_*` variables ask for, or
        /// `None` when no endpoint is configured or tracing is turned off
        /// (`OTEL_SDK_DISABLED=true`, `OTEL_TRACES_EXPORTER=none`).
        pub fn from_config(config: &TelemetryConfig) -> Result<Option<Telemetry>, TelemetryError> {
            Self::from_parts(config, &|name| std::env::var(name).ok())
        }

        pub(crate) fn from_parts(
            config: &TelemetryConfig,
            env: &dyn Fn(&str) -> Option<String>,
        ) -> Result<Option<Telemetry>, TelemetryError> {
            let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
            if set("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
                return Ok(None);
            }
            match set("OTEL_TRACES_EXPORTER").as_deref().map(str::trim) {
                None | Some("otlp") => {}
                Some("none") => return Ok(None),
                Some(other) => {
                    return Err(TelemetryError::Config(format!(
                        "OTEL_TRACES_EXPORTER={other} is not supported: this build exports over OTLP only (`otlp`, or `none` to turn traces off)"
                    )))
                }
            }
            for name in [
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ] {
                if let Some(protocol) = set(name) {
                    if protocol.trim() != "http/protobuf" {
                        return Err(TelemetryError::Config(format!(
                            "{name}={protocol} is not supported: this build exports OTLP over HTTP with protobuf only \
                             (`http/protobuf`; a collector takes it on port 4318, e.g. http://localhost:4318)"
                        )));
                    }
                }
            }
            // The variables win over the file; the exporter reads them itself.
            let from_env = set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                .or_else(|| set("OTEL_EXPORTER_OTLP_ENDPOINT"));
            // (`endpoint` below is what the log shows; the exporter reads
            // the variables itself.)
            let from_file = config
                .otlp_endpoint
                .as_deref()
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(traces_url);
            let mut builder = SpanExporter::builder().with_http();
            let endpoint = match (from_env, from_file) {
                (Some(endpoint), _) => match set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
                    Some(_) => endpoint,
                    None => traces_url(endpoint.trim()),
                },
                (None, Some(url)) => {
                    check_url(&url, "telemetry.otlp_endpoint")?;
                    builder = builder.with_endpoint(url.clone());
                    url
                }
                (None, None) => return Ok(None),
            };
            // The SDK and the exporter read these themselves, and fall back
            // (a sampler) or drop (a header) without a word on a bad value.
            check_sampler(env)?;
            check_headers(env)?;
            let exporter = builder
                .build()
                .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
            let mut resource = Resource::builder();
            let named_by_env = set("OTEL_SERVICE_NAME").is_some()
                || set("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|a| a.contains("service.name="));
            if !named_by_env {
                resource = resource.with_service_name(
                    config
                        .service_name
                        .clone()
                        .unwrap_or_else(|| "tradecloud".into()),
                );
            }
            let health = Arc::new(ExportHealth::default());
            let exporter = Reporting {
                inner: exporter,
                endpoint: endpoint.clone(),
                health: health.clone(),
            };
            let provider = SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(resource.build())
                .build();
            Ok(Some(Telemetry {
                provider,
                endpoint,
                health,
            }))
        }

        /// Add `tradecloud_trace_export_failures_total` (failed OTLP
        /// exports, each a batch of spans lost) to the receiver's metrics:
        /// `Receiver::builder().metrics(metrics)`.
        pub fn register_metrics(&self, metrics: &crate::receiver::Metrics) {
            metrics.register(
                "trace_export_failures",
                "Failed exports of spans over OTLP/HTTP (each a batch of spans lost): the collector is down, refuses the credentials or does not answer in time",
                self.health.failures.clone(),
            );
        }

        /// Where the spans go (for the start-up log).
        pub fn endpoint(&self) -> &str {
            &self.endpoint
        }

        /// The `tracing` layer that turns spans into OpenTelemetry spans:
        /// `tradecloud*` spans at `DEBUG` and above, other spans at `INFO`
        /// and above, and `WARN`/`ERROR` events as span events.
        pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
        where
            S: Subscriber + for<'span> LookupSpan<'span> + Send + Sync + 'static,
        {
            let tracer = self.provider.tracer("tradecloud");
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(filter_fn(|meta| {
                    if meta.is_span() {
                        let ours = meta.target().starts_with("tradecloud");
                        *meta.level() <= if ours { Level::DEBUG } else { Level::INFO }
                    } else {
                        *meta.level() <= Level::WARN
                    }
                }))
        }

        /// Export the spans ended so far (the batch processor otherwise
        /// exports every `OTEL_BSP_SCHEDULE_DELAY`, 5 s).
        pub fn flush(&self) {
            if let Err(e) = self.provider.force_flush() {
                tracing::warn!(endpoint = %self.endpoint, error = %e, "cannot export the buffered spans");
            }
        }

        /// Export what is still buffered and stop the exporter. A warning
        /// says when spans were lost: the last export failed (the batch
        /// processor answers `Ok` regardless), or the exporter did not
        /// finish in time.
        pub fn shutdown(self) {
            let stopped = self.provider.shutdown();
            if let Some((exports, spans, error)) = self.health.failing() {
                tracing::warn!(
                    endpoint = %self.endpoint, failed_exports = exports, lost_spans = spans, %error,
                    "traces were lost: the last {exports} exports over OTLP/HTTP failed ({spans} spans), the last with: {error}; \
                     check that the collector runs at this endpoint and accepts the credentials in OTEL_EXPORTER_OTLP_HEADERS"
                );
            } else if let Err(e) = stopped {
                tracing::warn!(
                    endpoint = %self.endpoint, error = %e,
                    "the last spans may be lost: the exporter did not finish at shutdown ({e}); check that the collector at this endpoint answers"
                );
            }
        }
    }

    /// `{base}/v1/traces`, as `OTEL_EXPORTER_OTLP_ENDPOINT` is read.
    fn traces_url(base: &str) -> String {
        if base.ends_with("/v1/traces") {
            base.to_string()
        } else {
            format!("{}/v1/traces", base.trim_end_matches('/'))
        }
    }

    /// The samplers `OTEL_TRACES_SAMPLER` may name in this build (the SDK
    /// takes any other value as `parentbased_always_on`).
    const SAMPLERS: [&str; 6] = [
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    ];

    /// `OTEL_TRACES_SAMPLER` names a sampler of [`SAMPLERS`], exactly as the
    /// SDK compares it, and the ratio samplers' `OTEL_TRACES_SAMPLER_ARG`,
    /// when set, is a number from 0 to 1 as the SDK parses it (unset, it
    /// is 1.0, as the specification says). Unset or empty variables are
    /// the defaults.
    fn check_sampler(env: &dyn Fn(&str) -> Option<String>) -> Result<(), TelemetryError> {
        let given = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let Some(sampler) = given("OTEL_TRACES_SAMPLER") else {
            return Ok(());
        };
        if !SAMPLERS.contains(&sampler.as_str()) {
            return Err(TelemetryError::Config(format!(
                "OTEL_TRACES_SAMPLER={sampler:?} is not a sampler this build knows: use one of {} \
                 (the default is parentbased_always_on)",
                SAMPLERS.join(", ")
            )));
        }
        if !sampler.ends_with("traceidratio") {
            return Ok(());
        }
        let Some(arg) = given("OTEL_TRACES_SAMPLER_ARG") else {
            return Ok(());
        };
        match arg.parse::<f64>() {
            Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(()),
            _ => Err(TelemetryError::Config(format!(
                "OTEL_TRACES_SAMPLER_ARG={arg:?} is not a sampling ratio for OTEL_TRACES_SAMPLER={sampler}: \
                 give a number from 0 to 1 (0.25 samples a quarter of the traces; unset samples all)"
            ))),
        }
    }

    /// The headers variable the exporter reads for traces
    /// (`OTEL_EXPORTER_OTLP_TRACES_HEADERS` when set, else
    /// `OTEL_EXPORTER_OTLP_HEADERS`) holds only entries it sends:
    /// `name=value` pairs separated by commas, each name an HTTP header name,
    /// each value (percent-decoded) an HTTP header value. The exporter drops
    /// any other entry without a word, and a collector that needs the
    /// credentials in it refuses every export. The message shows the names,
    /// never the values (they are secrets).
    fn check_headers(env: &dyn Fn(&str) -> Option<String>) -> Result<(), TelemetryError> {
        let (name, value) = match env("OTEL_EXPORTER_OTLP_TRACES_HEADERS") {
            Some(value) => ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", value),
            None => match env("OTEL_EXPORTER_OTLP_HEADERS") {
                Some(value) => ("OTEL_EXPORTER_OTLP_HEADERS", value),
                None => return Ok(()),
            },
        };
        let entries: Vec<&str> = value.split_terminator(',').map(str::trim).collect();
        let mut shown = Vec::new();
        let mut wrong = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let number = index + 1;
            if entry.is_empty() {
                // `a=b,,c=d`: nothing to send, nothing lost.
                continue;
            }
            let Some((key, raw)) = entry.split_once('=') else {
                shown.push("***".to_string());
                wrong.push(format!("entry {number} has no `=`"));
                continue;
            };
            let key = key.trim();
            if http::HeaderName::from_bytes(key.as_bytes()).is_err() {
                shown.push("***=***".to_string());
                wrong.push(format!(
                    "the name of entry {number} is not an HTTP header name"
                ));
                continue;
            }
            shown.push(format!("{key}=***"));
            let raw = raw.trim();
            match percent_decoded(raw) {
                _ if raw.is_empty() => wrong.push(format!("{key} has an empty value")),
                None => wrong.push(format!(
                    "the value of {key} is not percent-encoded correctly (a `%` not followed by two hex digits of UTF-8)"
                )),
                Some(decoded) if http::HeaderValue::from_str(&decoded).is_err() => wrong.push(format!(
                    "the value of {key} holds characters an HTTP header cannot carry (percent-encode them)"
                )),
                Some(_) => {}
            }
        }
        if wrong.is_empty() {
            return Ok(());
        }
        Err(TelemetryError::Config(format!(
            "{name}=\"{}\" (values not shown) would not be sent as given: {}. Write it as \
             name=value pairs separated by commas, values percent-encoded, e.g. \
             {name}=\"Authorization=Basic%20dXNlcjpwYXNz,x-team=erp\"",
            shown.join(","),
            wrong.join("; ")
        )))
    }

    /// `value` with its `%XX` escapes decoded (UTF-8); `None` when an escape
    /// is cut short, not hex, or makes no UTF-8.
    fn percent_decoded(value: &str) -> Option<String> {
        let bytes = value.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = value.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).ok()
    }

    fn check_url(url: &str, key: &str) -> Result<(), TelemetryError> {
        match url::Url::parse(url) {
            Ok(parsed)
                if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() =>
            {
                Ok(())
            }
            _ => Err(TelemetryError::Config(format!(
                "{key} = {url:?} is not an http(s) URL such as http://localhost:4318"
            ))),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::collections::HashMap;

        fn build(file: Option<&str>, env: &[(&str, &str)]) -> Result<Option<Telemetry>, String> {
            let env: HashMap<String, String> = env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let config = TelemetryConfig {
                otlp_endpoint: file.map(String::from),
                service_name: None,
            };
            Telemetry::from_parts(&config, &|name| env.get(name).cloned())
                .map_err(|e| e.to_string())
        }

        #[test]
        fn off_unless_an_endpoint_is_configured() {
            assert!(build(None, &[]).unwrap().is_none());
            assert!(build(None, &[("OTEL_SERVICE_NAME", "x")])
                .unwrap()
                .is_none());
            assert!(build(
                Some("http://collector:4318"),
                &[("OTEL_SDK_DISABLED", "true")]
            )
            .unwrap()
            .is_none());
            assert!(build(
                Some("http://collector:4318"),
                &[("OTEL_TRACES_EXPORTER", "none")]
            )
            .unwrap()
            .is_none());
        }

        #[tokio::test]
        async fn the_variables_win_over_the_file() {
            let t = build(Some("http://collector:4318/"), &[]).unwrap().unwrap();
            assert_eq!(t.endpoint(), "http://collector:4318/v1/traces");
            let t = build(
                Some("http://collector:4318"),
                &[(
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "http://other:4318/v1/traces",
                )],
            )
            .unwrap()
            .unwrap();
            assert_eq!(t.endpoint(), "http://other:4318/v1/traces");
            let t = build(None, &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318")])
                .unwrap()
                .unwrap();
            assert_eq!(t.endpoint(), "http://env:4318/v1/traces");
        }

        #[test]
        fn what_this_build_cannot_do_is_refused_with_what_to_do() {
            let e = build(
                Some("http://c:4317"),
                &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
            )
            .unwrap_err();
            assert!(
                e.contains("HTTP with protobuf only") && e.contains("4318"),
                "{e}"
            );
            let e =
                build(Some("http://c:4318"), &[("OTEL_TRACES_EXPORTER", "zipkin")]).unwrap_err();
            assert!(e.contains("OTEL_TRACES_EXPORTER=zipkin"), "{e}");
            let e = build(Some("collector:4318"), &[]).unwrap_err();
            assert!(e.contains("telemetry.otlp_endpoint"), "{e}");
        }

        /// Issue: a sampler or headers variable the SDK or the exporter
        /// cannot use was taken silently (the sampler falling back to
        /// sampling everything, the header dropped, so that the collector
        /// refused every export). Each is refused at start, naming the
        /// variable, its value (header values never) and what it takes.
        #[test]
        fn a_sampler_or_headers_variable_that_would_be_ignored_is_refused() {
            let url = Some("http://c:4318");
            for (sampler, arg) in [
                ("always_on", None),
                ("parentbased_traceidratio", Some("0.25")),
                ("traceidratio", Some("1")),
                ("traceidratio", None),
                ("parentbased_always_off", Some("not read")),
                ("", Some("x")),
            ] {
                let mut env = vec![("OTEL_TRACES_SAMPLER", sampler)];
                env.extend(arg.map(|a| ("OTEL_TRACES_SAMPLER_ARG", a)));
                assert!(build(url, &env).is_ok(), "{env:?}");
            }
            let e = build(url, &[("OTEL_TRACES_SAMPLER", "traceidration")]).unwrap_err();
            assert!(
                e.contains("OTEL_TRACES_SAMPLER=\"traceidration\"")
                    && e.contains("parentbased_traceidratio")
                    && e.contains("always_off"),
                "{e}"
            );
            // The SDK compares the name exactly, and cannot do X-Ray.
            for sampler in [" always_on", "xray", "jaeger_remote"] {
                assert!(
                    build(url, &[("OTEL_TRACES_SAMPLER", sampler)]).is_err(),
                    "{sampler}"
                );
            }
            for arg in ["half", "1.5", "-0.1", "NaN", " 0.5"] {
                let e = build(
                    url,
                    &[
                        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
                        ("OTEL_TRACES_SAMPLER_ARG", arg),
                    ],
                )
                .unwrap_err();
                assert!(
                    e.contains(&format!("OTEL_TRACES_SAMPLER_ARG={arg:?}"))
                        && e.contains("a number from 0 to 1"),
                    "{e}"
                );
            }
            // Without an endpoint nothing is exported, and nothing checked.
            assert!(build(None, &[("OTEL_TRACES_SAMPLER", "bogus")])
                .unwrap()
                .is_none());

            for good in [
                "Authorization=Basic%20dXNlcjpwYXNz",
                "api-key=s3cret, x-team = erp ,",
                "a=b,,c=d",
                "",
            ] {
                assert!(
                    build(url, &[("OTEL_EXPORTER_OTLP_HEADERS", good)]).is_ok(),
                    "{good}"
                );
            }
            for (bad, says) in [
                ("Authorization: Bearer s3cret", "entry 1 has no `=`"),
                ("api-key=s3cret,Bearer s3cret", "entry 2 has no `=`"),
                ("x key=s3cret", "not an HTTP header name"),
                ("api-key=", "api-key has an empty value"),
                ("api-key=s3cret%2", "not percent-encoded correctly"),
                (
                    "api-key=s3cret%0A",
                    "characters an HTTP header cannot carry",
                ),
            ] {
                let e = build(url, &[("OTEL_EXPORTER_OTLP_HEADERS", bad)]).unwrap_err();
                assert!(
                    e.contains("OTEL_EXPORTER_OTLP_HEADERS=")
                        && e.contains(says)
                        && e.contains("name=value pairs"),
                    "{bad}: {e}"
                );
                assert!(!e.contains("s3cret"), "a secret in {e}");
            }
            // The traces variable wins over the general one, as in the exporter.
            assert!(build(
                url,
                &[
                    ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "api-key=s3cret"),
                    ("OTEL_EXPORTER_OTLP_HEADERS", "broken"),
                ]
            )
            .is_ok());
            let e = build(url, &[("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "broken")]).unwrap_err();
            assert!(
                e.contains("OTEL_EXPORTER_OTLP_TRACES_HEADERS=\"***\""),
                "{e}"
            );
        }
    }
}

/// The W3C `traceparent` of the current span, when it is traced.
#[cfg(feature = "otel")]
pub(crate) fn current_traceparent() -> Option<String> {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let span = tracing::Span::current();
    if span.is_disabled() {
        return None;
    }
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            span_context.trace_id(),
            span_context.span_id(),
            span_context.trace_flags().to_u8()
        )
    })
}

#[cfg(not(feature = "otel"))]
pub(crate) fn current_traceparent() -> Option<String> {
    None
}

/// Make `span` (not entered yet) a child of the span a `traceparent` names.
#[cfg(feature = "otel")]
pub(crate) fn set_parent(span: &tracing::Span, traceparent: Option<&str>) {
    use opentelemetry::propagation::TextMapPropagator as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let Some(traceparent) = traceparent else {
        return;
    };
    if span.is_disabled() {
        return;
    }
    let carrier =
        std::collections::HashMap::from([("traceparent".to_string(), traceparent.to_string())]);
    let parent = opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&carrier);
    let _ = span.set_parent(parent);
}

#[cfg(not(feature = "otel"))]
pub(crate) fn set_parent(_span: &tracing::Span, _traceparent: Option<&str>) {}

/// A `traceparent` header of a request (from a proxy in front), if any.
pub(crate) fn traceparent_header(headers: &http::HeaderMap) -> Option<&str> {
    headers.get("traceparent").and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use crate::receiver::Config;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, String> {
        Config::from_parts(
            Some(text),
            "tradecloud.toml",
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn the_telemetry_section_with_its_variables() {
        let c = load("", &[]).unwrap();
        assert_eq!(c.telemetry, super::TelemetryConfig::default());
        let c = load(
            "[telemetry]\notlp_endpoint = \"http://collector:4318\"\n",
            &[("TRADECLOUD_TELEMETRY_SERVICE_NAME", "erp-bridge")],
        )
        .unwrap();
        assert_eq!(
            c.telemetry.otlp_endpoint.as_deref(),
            Some("http://collector:4318")
        );
        assert_eq!(c.telemetry.service_name.as_deref(), Some("erp-bridge"));
        let c = load(
            "",
            &[("TRADECLOUD_TELEMETRY_OTLP_ENDPOINT", "http://env:4318")],
        )
        .unwrap();
        assert_eq!(
            c.telemetry.otlp_endpoint.as_deref(),
            Some("http://env:4318")
        );
        let e = load("[telemetry]\nendpoint = \"x\"\n", &[]).unwrap_err();
        assert!(
            e.contains("`telemetry.endpoint`: unknown key") && e.contains("otlp_endpoint"),
            "{e}"
        );
    }
}
