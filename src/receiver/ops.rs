//! The operational endpoints, without the webhook authentication:
//! `/healthz` (the process is up), `/readyz` (an event can be committed
//! now, see [`Inbox::ready`]; checked at most once a second, writing
//! nothing) and
//! `/metrics` (Prometheus; optional, optionally behind a Bearer token).

use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header::CONTENT_TYPE;
use http::StatusCode;

use super::{Authenticator, Metrics};
use crate::inbox::Inbox;

#[derive(Clone)]
struct Ops {
    inbox: Inbox,
    metrics: Metrics,
    /// `server.metrics_token`: the Bearer token `/metrics` requires.
    metrics_auth: Option<Authenticator>,
    /// The `[tradecloud]` credentials' standing, a detail of `/readyz`.
    api: Option<super::ApiHealth>,
}

async fn healthz() -> Response {
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "application/json")],
        r#"{"status":"up"}"#,
    )
        .into_response()
}

async fn readyz(State(ops): State<Ops>) -> Response {
    // Cached for a second: any number of probes costs one check a second,
    // and a check writes nothing.
    let check = ops.inbox.ready_cached(Duration::from_secs(1));
    match tokio::time::timeout(Duration::from_secs(5), check).await {
        Ok(Ok(())) => (
            StatusCode::OK,
            [(CONTENT_TYPE, "application/json")],
            ready_body(ops.api.as_ref()),
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready");
            crate::server::problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "the inbox store does not accept writes",
                None,
            )
        }
        Err(_) => crate::server::problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the inbox store does not answer",
            None,
        ),
    }
}

/// `{"status":"ready"}`, with `"tradecloudApi"` when the receiver fetches
/// from Tradecloud: refused credentials do not stop receiving (so `/readyz`
/// stays `200`), but they are said here.
fn ready_body(api: Option<&super::ApiHealth>) -> String {
    match api {
        None => r#"{"status":"ready"}"#.to_string(),
        Some(api) => {
            serde_json::json!({ "status": "ready", "tradecloudApi": api.detail() }).to_string()
        }
    }
}

async fn metrics_text(State(ops): State<Ops>, headers: http::HeaderMap) -> Response {
    if let Some(auth) = &ops.metrics_auth {
        if let Err(failure) = auth.authenticate(&headers).await {
            tracing::debug!(?failure, "/metrics request not authenticated");
            let mut response = crate::server::problem(
                StatusCode::UNAUTHORIZED,
                "/metrics requires the metrics token (server.metrics_token) as a Bearer token",
                None,
            );
            response
                .headers_mut()
                .insert(http::header::WWW_AUTHENTICATE, auth.challenge());
            return response;
        }
    }
    (
        StatusCode::OK,
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        ops.metrics.encode(),
    )
        .into_response()
}

pub(super) async fn not_found() -> Response {
    crate::server::problem(StatusCode::NOT_FOUND, "no such endpoint", None)
}

/// The operational routes (`/metrics` only if `metrics` is on).
pub(super) fn router(
    inbox: Inbox,
    metrics: Metrics,
    metrics_auth: Option<Authenticator>,
    serve_metrics: bool,
    api: Option<super::ApiHealth>,
) -> axum::Router {
    let state = Ops {
        inbox,
        metrics,
        metrics_auth,
        api,
    };
    let mut ops = axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if serve_metrics {
        ops = ops.route("/metrics", get(metrics_text));
    }
    ops.with_state(state)
}
