//! The `tradecloud.receive` span of a webhook request (see
//! [`crate::telemetry`]): the server span of one trace per webhook, with
//! what the routes learn about the event recorded on it. At `DEBUG`
//! level: disabled, and free, unless traces are exported.

use std::future::Future;

use axum::extract::Request;
use axum::response::Response;
use tracing::field::Empty;
use tracing::Instrument as _;

use crate::inbox::EventKind;

/// Wrap a webhook request in its `tradecloud.receive` span (a child of an
/// incoming `traceparent`, e.g. from a proxy in front).
pub(crate) async fn receive<F, Fut>(request: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let span = tracing::debug_span!(
        "tradecloud.receive",
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = %request.method(),
        url.path = request.uri().path(),
        http.response.status_code = Empty,
        tradecloud.event.kind = Empty,
        tradecloud.event.name = Empty,
        tradecloud.order_id = Empty,
        tradecloud.shipment_id = Empty,
        tradecloud.message_id = Empty,
        tradecloud.inbox.id = Empty,
        tradecloud.outcome = Empty,
    );
    if span.is_disabled() {
        return inner(request).await;
    }
    crate::telemetry::set_parent(
        &span,
        crate::telemetry::traceparent_header(request.headers()),
    );
    let response = inner(request).instrument(span.clone()).await;
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    response
}

/// Record what a route read from a webhook on the current (receive) span.
pub(crate) fn record_event(
    kind: EventKind,
    event_name: Option<&str>,
    object_id: Option<&str>,
    message_id: Option<&str>,
) {
    let span = tracing::Span::current();
    if span.is_disabled() {
        return;
    }
    span.record("tradecloud.event.kind", kind.as_str());
    if let Some(name) = event_name {
        span.record("tradecloud.event.name", name);
    }
    if let Some(id) = object_id {
        let field = match kind {
            EventKind::Shipment => "tradecloud.shipment_id",
            EventKind::Order | EventKind::OrderDocuments => "tradecloud.order_id",
        };
        span.record(field, id);
    }
    if let Some(id) = message_id {
        span.record("tradecloud.message_id", id);
    }
}

/// Record what became of the request (`stored`, `duplicate`, `rejected`,
/// `unhandled`, `trigger`, `unavailable`) and the inbox id, if stored.
pub(crate) fn record_outcome(outcome: &str, inbox_id: Option<i64>) {
    let span = tracing::Span::current();
    span.record("tradecloud.outcome", outcome);
    if let Some(id) = inbox_id {
        span.record("tradecloud.inbox.id", id);
    }
}
