//! The processor's spans of one event (see [`crate::telemetry`]): a claim
//! (from the claim's commit until a handler takes the event) and each
//! handling attempt, both children of the span that stored the event
//! (its stored `traceparent`). At `DEBUG` level: disabled, and free,
//! unless traces are exported.

use tracing::field::Empty;
use tracing::Span;

use super::Outcome;
use crate::inbox::{now_ms, EventKind, StoredEvent};

/// `tradecloud.claim` of `event`, one of `batch` claimed in `claim_ms`.
pub(super) fn claim(event: &StoredEvent, batch: usize, claim_ms: f64) -> Span {
    let s = &event.summary;
    let span = tracing::debug_span!(
        "tradecloud.claim",
        tradecloud.inbox.id = s.id,
        tradecloud.claim.events = batch,
        tradecloud.claim.duration_ms = claim_ms,
        tradecloud.queued_ms = now_ms().saturating_sub(s.received_at.timestamp_millis()),
    );
    crate::telemetry::set_parent(&span, s.trace_parent.as_deref());
    span
}

/// `tradecloud.handle` of attempt `attempt` of `event`.
pub(super) fn handle(event: &StoredEvent, attempt: u32) -> Span {
    let s = &event.summary;
    let object = s.object_id.as_deref();
    let (order_id, shipment_id) = match s.kind {
        EventKind::Shipment => (None, object),
        EventKind::Order | EventKind::OrderDocuments => (object, None),
    };
    let span = tracing::debug_span!(
        "tradecloud.handle",
        otel.status_code = Empty,
        tradecloud.inbox.id = s.id,
        tradecloud.event.kind = s.kind.as_str(),
        tradecloud.event.name = s.event_name.as_deref(),
        tradecloud.order_id = order_id,
        tradecloud.shipment_id = shipment_id,
        tradecloud.message_id = s.message_id.as_deref(),
        tradecloud.origin = s.origin.as_str(),
        tradecloud.attempt = attempt,
        tradecloud.outcome = Empty,
        error.message = Empty,
    );
    crate::telemetry::set_parent(&span, s.trace_parent.as_deref());
    span
}

/// Record how an attempt ended on its `tradecloud.handle` span.
pub(super) fn outcome(span: &Span, outcome: &Outcome) {
    span.record("tradecloud.outcome", outcome.label());
    let error = match outcome {
        Outcome::Done | Outcome::Fetched { .. } => None,
        Outcome::Retrying { error, .. } | Outcome::Dead { error } | Outcome::Rejected { error } => {
            Some(error.as_str())
        }
        Outcome::Unhandled { reason } => Some(reason.as_str()),
    };
    if let Some(error) = error {
        span.record("otel.status_code", "ERROR");
        span.record("error.message", error);
    }
}
