//! The operational endpoints, without the webhook authentication:
//! `/healthz` (the process is up), `/readyz` (an event can be committed
//! now, see [`Inbox::ready`]; checked at most once a second, committing
//! nothing; and, with Entra ID, a token can be checked: see
//! [`Authenticator::readiness`]; a `503` says why) and
//! `/metrics` (Prometheus; optional, optionally behind a Bearer token).
//! The same check runs every [`WATCH_EVERY`] while serving, so that
//! `tradecloud_store_ready` is current without probes.

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
    /// The webhooks' authentication: with Entra ID, a part of readiness.
    auth: Authenticator,
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

/// How often the store is checked while serving.
pub(super) const WATCH_EVERY: Duration = Duration::from_secs(5);

/// Whether the store accepts writes now (cached for a second: any number
/// of probes costs one check a second), recorded in
/// `tradecloud_store_ready`; `Err` says why not.
async fn check(inbox: &Inbox, metrics: &Metrics) -> Result<(), String> {
    let check = inbox.ready_cached(Duration::from_secs(1));
    let result = match tokio::time::timeout(Duration::from_secs(5), check).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!(
            "the inbox store does not accept writes ([store] url): {e}"
        )),
        Err(_) => Err(format!(
            "the inbox store {} does not answer within 5 s ([store] url)",
            inbox.describe()
        )),
    };
    metrics.store_ready(result.is_ok());
    result
}

async fn readyz(State(ops): State<Ops>) -> Response {
    let ready = match check(&ops.inbox, &ops.metrics).await {
        Ok(()) => ops.auth.readiness().await,
        Err(why) => Err(why),
    };
    match ready {
        Ok(auth_warning) => {
            let warnings: Vec<String> = ops
                .inbox
                .low_space()
                .into_iter()
                .chain(auth_warning)
                .collect();
            (
                StatusCode::OK,
                [(CONTENT_TYPE, "application/json")],
                ready_body(
                    ops.api.as_ref(),
                    (!warnings.is_empty()).then(|| warnings.join("; ")),
                ),
            )
                .into_response()
        }
        Err(why) => {
            tracing::warn!(error = %why, "not ready");
            crate::server::problem(StatusCode::SERVICE_UNAVAILABLE, &why, None)
        }
    }
}

/// Check the store every [`WATCH_EVERY`] (for `tradecloud_store_ready`),
/// logging when it stops or starts accepting writes.
pub(super) async fn watch_store(inbox: Inbox, metrics: Metrics) {
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut was_ready = None;
    let mut was_low = false;
    loop {
        tick.tick().await;
        let low = inbox.low_space();
        match (&low, was_low) {
            (Some(warning), false) => tracing::warn!("{warning}"),
            (None, true) => {
                tracing::info!(store = %inbox.describe(), "the disk of the inbox has room again")
            }
            _ => {}
        }
        was_low = low.is_some();
        metrics.store_low_space(was_low);
        let result = check(&inbox, &metrics).await;
        let ready = result.is_ok();
        if was_ready != Some(ready) {
            match result {
                Ok(()) => {
                    tracing::info!(store = %inbox.describe(), "the inbox store accepts writes")
                }
                Err(why) => {
                    tracing::warn!(error = %why, "the inbox store does not accept writes: webhooks are answered 503 until it does")
                }
            }
            was_ready = Some(ready);
        }
    }
}

/// `{"status":"ready"}`, with `"tradecloudApi"` when the receiver fetches
/// from Tradecloud: refused credentials do not stop receiving (so `/readyz`
/// stays `200`), but they are said here; likewise `"warning"` while the
/// inbox's disk is nearly full ([`Inbox::low_space`]) or Entra ID's signing
/// keys cannot be fetched again (the cached ones are in use).
fn ready_body(api: Option<&super::ApiHealth>, warning: Option<String>) -> String {
    let mut body = serde_json::json!({ "status": "ready" });
    if let Some(api) = api {
        body["tradecloudApi"] = api.detail();
    }
    if let Some(warning) = warning {
        body["warning"] = warning.into();
    }
    body.to_string()
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
    ops.metrics
        .refresh_backlog(&ops.inbox, Duration::from_secs(2))
        .await;
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
    auth: Authenticator,
    metrics_auth: Option<Authenticator>,
    serve_metrics: bool,
    api: Option<super::ApiHealth>,
) -> axum::Router {
    let state = Ops {
        inbox,
        metrics,
        auth,
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

#[cfg(test)]
mod tests {
    use super::ready_body;

    #[test]
    fn a_ready_answer_carries_the_low_space_warning() {
        assert_eq!(ready_body(None, None), r#"{"status":"ready"}"#);
        let body: serde_json::Value =
            serde_json::from_str(&ready_body(None, Some("only 5 bytes free".into()))).unwrap();
        assert_eq!(body["status"], "ready");
        assert_eq!(body["warning"], "only 5 bytes free");
    }
}
