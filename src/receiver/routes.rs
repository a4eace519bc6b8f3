//! The webhook routes: implementations of the generated order and shipment
//! webhook server stubs that store every request in the [`Inbox`] before
//! answering.
//!
//! | request | stored as | answer |
//! |---|---|---|
//! | valid body (POST/PUT) | `received`, with event name, object id, message id | `202` (`200` for a redelivered message id) |
//! | the other webhook's valid event (a shipment event at the order URL or the other way round, JSON or tXML: the URLs swapped in the portal) | `received` as what it is (kind `shipment` or `order`), and a warning naming the swap | `202` (`200` for a redelivered message id) |
//! | unknown event name without a known payload | `unhandled` (never handed to the handler) | `202` (`200` for a redelivered message id) |
//! | GET with the id in the path or the query | `trigger` | `202` |
//! | HEAD with the id in the path or the query | nothing | `200` |
//! | malformed chunked framing | nothing | `400` with a JSON problem |
//! | a method the path does not take (a POST to the GET-only `/tradecloud/order/{orderId}`), whatever its body | nothing | `405` with `Allow` |
//! | a body with a `Content-Encoding` (refused in `admit`, after the method check, before the body is read) | nothing | `415` with `Accept-Encoding: identity` |
//! | body that does not decode, known event name without its payload, event without its order or shipment id, the other webhook's event that is not valid, unsupported content type, GET without id | `rejected`, with the error and the exact bytes | `400` / `415` with a JSON problem |
//! | over-size body | not stored | `413` |
//! | body that could not be read | not stored | `503` + `Retry-After` |
//! | any of the above when the store fails | not stored | `503` + `Retry-After` |
//!
//! Bodies are decoded as [`crate::webhook`] says (the generated stubs use
//! its decoder; the payload and id rules are [`Webhook::from_order`] and
//! [`Webhook::from_shipment`] and, for a body that does not fit its type or
//! is an unknown event, [`webhook::decode`](fn@webhook::decode), which also recognises the other
//! webhook's events).
//!
//! Why the other webhook's events are stored, not refused: a `4xx` is never
//! retried by Tradecloud, so refusing would leave every event of a swapped
//! configuration in quarantine, to be replayed one by one after the fix;
//! stored as what they are, they reach the handler at once, and the warning
//! (`tradecloud_webhook_wrong_url_total` in `/metrics`) tells the operator
//! to fix the portal. The stored event keeps the URL it came to as its
//! `source`.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use http::StatusCode;

use crate::api::order_webhook_connector::server as order;
use crate::api::order_webhook_connector::types::OrderWebhookBody;
use crate::api::shipment_webhook_connector::server as shipment;
use crate::api::shipment_webhook_connector::types::ShipmentWebhookBody;
use crate::inbox::{EventKind, Inbox, InboxError, NewEvent, NewState, Stored};
use crate::server::{problem, RawRequest, Rejection, RejectionKind};
use crate::webhook::{self, DecodeError, Endpoint, Webhook};

use super::metrics::Metrics;

/// What the webhook routes share.
#[derive(Clone, Debug)]
pub(crate) struct Webhooks {
    pub inbox: Inbox,
    pub metrics: Metrics,
}

/// The request's headers for the stored event (credentials are redacted by
/// [`NewEvent::with_headers`]); a value that is not UTF-8 is kept lossily.
fn headers_of(raw: &RawRequest) -> impl Iterator<Item = (&str, std::borrow::Cow<'_, str>)> {
    raw.headers
        .iter()
        .map(|(name, value)| (name.as_str(), String::from_utf8_lossy(value.as_bytes())))
}

fn content_type_of(raw: &RawRequest) -> String {
    raw.headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn reason_of(kind: &RejectionKind) -> &'static str {
    match kind {
        RejectionKind::BodyRead(_) => "body_read",
        RejectionKind::PayloadTooLarge => "payload_too_large",
        RejectionKind::MalformedBody(_) => "malformed_body",
        RejectionKind::UnsupportedMediaType { .. } => "unsupported_media_type",
        RejectionKind::MissingBody => "missing_body",
        RejectionKind::InvalidBody(_) => "invalid_body",
        RejectionKind::InvalidPath(_) => "invalid_path",
        RejectionKind::InvalidQuery(_) => "invalid_query",
        RejectionKind::MissingHeader(_) | RejectionKind::InvalidHeader(..) => "invalid_header",
    }
}

impl Webhooks {
    /// `METHOD /full/path` of a request to a webhook.
    fn source_of(raw: &RawRequest) -> String {
        format!("{} {}", raw.method, raw.uri.path())
    }

    fn store_failed(&self, error: &InboxError, what: &str) -> Response {
        super::spans::record_outcome("unavailable", None);
        let reason = if matches!(error, InboxError::Overloaded) {
            "store_overloaded"
        } else {
            // A full queue says nothing about the store; any other failure does.
            self.metrics.store_ready(false);
            "store_unavailable"
        };
        self.metrics.rejected(reason);
        tracing::error!(error = %error, "{what} not stored; answering 503 so that Tradecloud retries");
        // Every store failure is answered 503, also one the inbox does not
        // call transient: the event is not stored, and any other answer
        // would make Tradecloud drop it for good.
        problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the event could not be stored; send it again later",
            None,
        )
    }

    /// Store `event`; `decoded`: the webhook it was made from, kept for
    /// this process's processor ([`crate::inbox::Inbox::store_webhook`]).
    async fn store(&self, event: NewEvent, decoded: Option<Webhook>) -> Response {
        let kind = event.kind;
        let unhandled = matches!(event.state, NewState::Unhandled { .. });
        let (event_name, object_id, message_id) = (
            event.event_name.clone(),
            event.object_id.clone(),
            event.message_id.clone(),
        );
        super::spans::record_event(
            kind,
            event_name.as_deref(),
            object_id.as_deref(),
            message_id.as_deref(),
        );
        let trigger = matches!(event.state, NewState::Trigger);
        let stored = match decoded {
            Some(webhook) => self.inbox.store_webhook(event, webhook).await,
            None => self.inbox.store(event).await,
        };
        if stored.is_ok() {
            self.metrics.store_ready(true);
        }
        match stored {
            Ok(Stored::New(id)) => {
                let outcome = match (unhandled, trigger) {
                    (true, _) => "unhandled",
                    (_, true) => "trigger",
                    _ => "stored",
                };
                super::spans::record_outcome(outcome, Some(id));
                self.metrics.stored(kind.as_str());
                if unhandled {
                    self.metrics.unhandled(kind.as_str());
                    tracing::warn!(
                        id, kind = %kind, event_name = event_name.as_deref().unwrap_or(""),
                        "unknown event without a known payload stored as unhandled; the handler does not get it"
                    );
                }
                tracing::info!(
                    id, kind = %kind, event_name = event_name.as_deref().unwrap_or(""),
                    object_id = object_id.as_deref().unwrap_or(""), message_id = message_id.as_deref().unwrap_or(""),
                    "event stored"
                );
                accepted(StatusCode::ACCEPTED, id, false)
            }
            Ok(Stored::Duplicate(id)) => {
                super::spans::record_outcome("duplicate", Some(id));
                self.metrics.duplicate(kind.as_str());
                tracing::info!(id, kind = %kind, message_id = message_id.as_deref().unwrap_or(""), "redelivered message acknowledged");
                accepted(StatusCode::OK, id, true)
            }
            Err(e) => self.store_failed(&e, "event"),
        }
    }

    async fn store_order(&self, body: Box<OrderWebhookBody>, raw: RawRequest) -> Response {
        self.metrics.received("order");
        // An unknown event name is decoded once, as it came (forward
        // compatibility: new events are common); only one that carries a
        // `shipment` may be a shipment event at the wrong URL, and only then
        // are the bytes decoded again, as the shipment webhook would.
        let carries_shipment = body.extra.contains_key("shipment");
        let decoded = match Webhook::from_order(body) {
            Ok(Webhook::Unknown(_)) if carries_shipment => {
                webhook::decode(Endpoint::Order, &content_type_of(&raw), &raw.body)
            }
            other => other,
        };
        self.store_decoded(Endpoint::Order, decoded, raw).await
    }

    async fn store_shipment(&self, body: Box<ShipmentWebhookBody>, raw: RawRequest) -> Response {
        self.metrics.received("shipment");
        self.store_decoded(Endpoint::Shipment, Webhook::from_shipment(body), raw)
            .await
    }

    /// Store a body sent to `sent_to` as decoded: the event, or the bytes in
    /// quarantine with the error. The other webhook's event is stored as
    /// what it is, with a warning that names the swap.
    async fn store_decoded(
        &self,
        sent_to: Endpoint,
        decoded: Result<Webhook, DecodeError>,
        raw: RawRequest,
    ) -> Response {
        let belongs_to = match &decoded {
            Ok(webhook) => webhook.endpoint(),
            Err(error) => error.belongs_to().unwrap_or(sent_to),
        };
        if belongs_to != sent_to {
            self.metrics.wrong_url(belongs_to.as_str());
            tracing::warn!(
                sent_to = %sent_to, event = %belongs_to, source = %Self::source_of(&raw),
                stored = if decoded.is_ok() { "received" } else { "rejected" },
                "a {belongs_to} event was sent to the {sent_to} webhook URL: the order and shipment \
                 webhook URLs look swapped in the Tradecloud portal (fix them there); {}",
                if decoded.is_ok() {
                    "stored as the event it is, for the handler"
                } else {
                    "it is not a valid event either: kept in quarantine"
                }
            );
        }
        match decoded {
            Ok(webhook) => {
                let event =
                    NewEvent::from_webhook(&webhook, content_type_of(&raw), raw.body.clone());
                let event = event
                    .with_source(Self::source_of(&raw))
                    .with_headers(headers_of(&raw));
                self.store(event, Some(webhook)).await
            }
            Err(error) => {
                let error = RejectionKind::InvalidBody(error.to_string());
                self.quarantine(EventKind::from(belongs_to), error, raw)
                    .await
            }
        }
    }

    async fn trigger(&self, kind: EventKind, id: Option<String>, raw: RawRequest) -> Response {
        if raw.method == http::Method::HEAD {
            // axum routes HEAD to the GET handler; a HEAD must have no side
            // effect, so it only tells that the route is there.
            return StatusCode::OK.into_response();
        }
        self.metrics.received(kind.as_str());
        // Blank as the crate reads text everywhere (`is_blank_id`: what
        // `str::trim` removes, as the specs' id `pattern` says); any other
        // character makes an id.
        match id.filter(|id| !webhook::is_blank_id(id)) {
            Some(id) => {
                let event = NewEvent::trigger(kind, id)
                    .with_source(Self::source_of(&raw))
                    .with_headers(headers_of(&raw));
                self.store(event, None).await
            }
            None => {
                let detail = format!(
                    "the `{}` query parameter or path segment is required",
                    kind.object_id_name()
                );
                self.quarantine(kind, RejectionKind::InvalidQuery(detail), raw)
                    .await
            }
        }
    }

    async fn reject(&self, kind: EventKind, rejection: Rejection) -> Response {
        self.metrics.received(kind.as_str());
        let sent_to = kind.endpoint();
        match rejection.kind {
            RejectionKind::BodyRead(_)
            | RejectionKind::PayloadTooLarge
            | RejectionKind::MalformedBody(_) => {
                // Nothing (complete) to keep: a 503 makes Tradecloud send it
                // again, a 413 needs a larger `max_body_bytes`, a 400 for
                // broken framing a fixed sender.
                self.metrics.rejected(reason_of(&rejection.kind));
                tracing::warn!(
                    operation = rejection.operation_id, source = %Self::source_of(&rejection.raw),
                    detail = %rejection.kind.detail(), "webhook request refused"
                );
                rejection.into_response()
            }
            RejectionKind::InvalidBody(detail) => {
                // The payload rule for a body that does not fit its type
                // (e.g. a shipment body without `shipment`), and the other
                // webhook's events.
                let raw = rejection.raw;
                match webhook::decode(sent_to, &content_type_of(&raw), &raw.body) {
                    decoded @ (Ok(_)
                    | Err(
                        DecodeError::MissingPayload { .. }
                        | DecodeError::MissingId { .. }
                        | DecodeError::WrongEndpoint { .. },
                    )) => self.store_decoded(sent_to, decoded, raw).await,
                    Err(_) => {
                        self.quarantine(kind, RejectionKind::InvalidBody(detail), raw)
                            .await
                    }
                }
            }
            error @ RejectionKind::UnsupportedMediaType { .. } => {
                // tXML at the shipment webhook (JSON only) may be an order
                // event at the wrong URL: stored as what it is.
                let raw = rejection.raw;
                let decoded = webhook::decode(sent_to, &content_type_of(&raw), &raw.body);
                let other = match &decoded {
                    Ok(webhook) => webhook.endpoint() != sent_to,
                    Err(error) => error.belongs_to().is_some(),
                };
                if other {
                    self.store_decoded(sent_to, decoded, raw).await
                } else {
                    self.quarantine(kind, error, raw).await
                }
            }
            kind_of_error => self.quarantine(kind, kind_of_error, rejection.raw).await,
        }
    }

    /// Keep the bytes of a request that is not a valid event (state
    /// `rejected`, as `kind`), then answer its 4xx; `503` if they cannot be
    /// kept.
    async fn quarantine(&self, kind: EventKind, error: RejectionKind, raw: RawRequest) -> Response {
        let detail = error.detail();
        let status = error.status();
        let event = NewEvent::rejected(
            kind,
            content_type_of(&raw),
            raw.body.clone(),
            detail.clone(),
        )
        .with_source(Self::source_of(&raw))
        .with_headers(headers_of(&raw));
        super::spans::record_event(kind, None, None, None);
        match self.inbox.store(event).await {
            Ok(stored) => {
                self.metrics.store_ready(true);
                super::spans::record_outcome("rejected", Some(stored.id()));
                self.metrics.rejected(reason_of(&error));
                tracing::warn!(
                    id = stored.id(), kind = %kind, source = %Self::source_of(&raw), bytes = raw.body.len(),
                    %detail, "invalid webhook request kept in quarantine (state rejected)"
                );
                problem(status, &detail, Some(("inboxId", stored.id().into())))
            }
            Err(e) => self.store_failed(&e, "rejected request"),
        }
    }
}

fn accepted(status: StatusCode, id: i64, duplicate: bool) -> Response {
    let body = serde_json::json!({ "id": id, "duplicate": duplicate });
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The order webhook stub implementation.
#[derive(Clone, Debug)]
pub(crate) struct OrderWebhook(pub Arc<Webhooks>);

impl order::Api for OrderWebhook {
    async fn webhook_get_by_query(
        &self,
        request: order::WebhookGetByQueryRequest,
    ) -> order::WebhookGetByQueryResponse {
        order::WebhookGetByQueryResponse::Custom(
            self.0
                .trigger(EventKind::Order, Some(request.order_id), request.raw)
                .await,
        )
    }

    async fn webhook_put(&self, request: order::WebhookPutRequest) -> order::WebhookPutResponse {
        order::WebhookPutResponse::Custom(self.0.store_order(request.body, request.raw).await)
    }

    async fn webhook_post(&self, request: order::WebhookPostRequest) -> order::WebhookPostResponse {
        order::WebhookPostResponse::Custom(self.0.store_order(request.body, request.raw).await)
    }

    async fn webhook_get(&self, request: order::WebhookGetRequest) -> order::WebhookGetResponse {
        order::WebhookGetResponse::Custom(
            self.0
                .trigger(EventKind::Order, Some(request.order_id), request.raw)
                .await,
        )
    }

    async fn reject(&self, rejection: Rejection) -> Response {
        self.0.reject(EventKind::Order, rejection).await
    }

    /// After the router matched path and method: a `Content-Encoding` is
    /// refused before the body is read ([`super::layers::refuse_encoded`]).
    async fn admit(
        &self,
        _operation: &'static crate::operation::Operation,
        head: &http::request::Parts,
    ) -> Result<(), Response> {
        match super::layers::refuse_encoded(&self.0.metrics, head) {
            Some(response) => Err(response),
            None => Ok(()),
        }
    }
}

/// The shipment webhook stub implementation.
#[derive(Clone, Debug)]
pub(crate) struct ShipmentWebhook(pub Arc<Webhooks>);

impl shipment::Api for ShipmentWebhook {
    async fn webhook_get_by_query(
        &self,
        request: shipment::WebhookGetByQueryRequest,
    ) -> shipment::WebhookGetByQueryResponse {
        shipment::WebhookGetByQueryResponse::Custom(
            self.0
                .trigger(EventKind::Shipment, Some(request.shipment_id), request.raw)
                .await,
        )
    }

    async fn webhook_post(
        &self,
        request: shipment::WebhookPostRequest,
    ) -> shipment::WebhookPostResponse {
        shipment::WebhookPostResponse::Custom(
            self.0.store_shipment(request.body, request.raw).await,
        )
    }

    async fn webhook_get(
        &self,
        request: shipment::WebhookGetRequest,
    ) -> shipment::WebhookGetResponse {
        shipment::WebhookGetResponse::Custom(
            self.0
                .trigger(EventKind::Shipment, Some(request.shipment_id), request.raw)
                .await,
        )
    }

    async fn reject(&self, rejection: Rejection) -> Response {
        self.0.reject(EventKind::Shipment, rejection).await
    }

    /// After the router matched path and method: a `Content-Encoding` is
    /// refused before the body is read ([`super::layers::refuse_encoded`]).
    async fn admit(
        &self,
        _operation: &'static crate::operation::Operation,
        head: &http::request::Parts,
    ) -> Result<(), Response> {
        match super::layers::refuse_encoded(&self.0.metrics, head) {
            Some(response) => Err(response),
            None => Ok(()),
        }
    }
}

/// The webhook routes, at the configured paths.
pub(crate) fn router(
    webhooks: Arc<Webhooks>,
    order_path: &str,
    shipment_path: &str,
) -> axum::Router {
    order::router_at(order_path, Arc::new(OrderWebhook(webhooks.clone()))).merge(
        shipment::router_at(shipment_path, Arc::new(ShipmentWebhook(webhooks))),
    )
}
