//! The one place where every request of the generated clients is sent:
//! authentication, retries and the rate limit, written once for all
//! services.
//!
//! progenitor lets a crate replace how a generated client executes a
//! request by implementing [`ClientHooks`] for the client type itself (the
//! generated code implements it for `&Client`, which loses to ours by
//! auto-ref). Our `exec` hands the request to [`exec`] below together with
//! the [`ClientContext`] the client carries.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures_util::StreamExt as _;
use progenitor_client::{ClientHooks, OperationInfo};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Request, Response, StatusCode};

use super::auth::{AuthFailure, AuthTarget, Renewal};
use super::retry::{is_retryable_status, is_transient_error, retry_after};
use super::{AuthMode, ClientContext};

/// Set on the final answer handed to the generated code: how many HTTP
/// attempts the call took (for error messages).
pub(crate) const ATTEMPTS_HEADER: &str = "x-tradecloud-sdk-attempts";
/// Set on an answer that comes from a failed login or refresh rather than
/// from the call itself; the value is `login` or `refresh`.
pub(crate) const AUTH_STEP_HEADER: &str = "x-tradecloud-sdk-auth-step";
/// Error bodies are read up to this size to normalise them.
const MAX_ERROR_BODY: usize = 64 * 1024;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How a request is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthKind {
    /// `Authorization: Bearer <access token>`, renewed on 401.
    Bearer,
    /// `Authorization: Basic <credentials>`.
    Basic,
    /// No `Authorization` header at all (refresh and logout).
    NoAuth,
}

macro_rules! client_hooks {
    ($($service:ident::$client:ident),* $(,)?) => {$(
        impl ClientHooks<ClientContext> for crate::api::$service::client::$client {
            async fn exec(
                &self,
                request: Request,
                info: &OperationInfo,
            ) -> reqwest::Result<Response> {
                exec(&self.client, &self.baseurl, &self.inner, request, info.operation_id).await
            }
        }
    )*};
}

client_hooks!(
    authentication::AuthenticationClient,
    order::OrderClient,
    order_search::OrderSearchClient,
    shipment::ShipmentClient,
    object_storage::ObjectStorageClient,
);

/// Sends `request` for operation `operation`: with authentication, retries
/// and the rate limit when `context` is configured, as is otherwise.
///
/// Boxed because a call may log in first, and the login is itself a call of
/// a generated client that comes back here.
pub(crate) fn exec<'a>(
    http: &'a reqwest::Client,
    baseurl: &'a str,
    context: &'a ClientContext,
    request: Request,
    operation: &'static str,
) -> BoxFuture<'a, reqwest::Result<Response>> {
    Box::pin(async move {
        let Some(shared) = context.shared.as_deref() else {
            return http.execute(request).await;
        };
        let kind = match operation {
            "login" => AuthKind::Basic,
            "refresh" | "logout" => AuthKind::NoAuth,
            _ => match shared.auth_mode {
                AuthMode::Token => AuthKind::Bearer,
                AuthMode::BasicEveryRequest => AuthKind::Basic,
            },
        };
        let target = AuthTarget {
            http,
            baseurl,
            context,
        };
        let policy = shared.retry;
        let method = request.method().clone();
        let path = request.url().path().to_owned();
        let mut retries = 0u32;
        let mut renewals = 0u32;
        let mut attempts = 0u32;
        loop {
            let Some(mut attempt) = request.try_clone() else {
                // A body that cannot be copied (a stream) is sent once,
                // without retries. The generated clients never build one.
                let mut request = request;
                return match authorize(shared, kind, &target, &mut request).await {
                    Ok(_) => {
                        if let Some(limiter) = &shared.limiter {
                            limiter.acquire().await;
                        }
                        shared.stats.requests.fetch_add(1, Ordering::Relaxed);
                        match http.execute(request).await {
                            Ok(response) => Ok(finish(response, 1).await),
                            Err(error) => Err(error),
                        }
                    }
                    Err(AuthFailure::Transport(error)) => Err(error),
                    Err(AuthFailure::Answer(answer)) => Ok(finish(*answer, 1).await),
                };
            };
            attempts += 1;
            let generation = match authorize(shared, kind, &target, &mut attempt).await {
                Ok(generation) => generation,
                Err(AuthFailure::Transport(error)) => return Err(error),
                Err(AuthFailure::Answer(answer)) => return Ok(finish(*answer, attempts).await),
            };
            if let Some(limiter) = &shared.limiter {
                limiter.acquire().await;
            }
            shared.stats.requests.fetch_add(1, Ordering::Relaxed);
            let result = http.execute(attempt).await;
            match result {
                Ok(response) => {
                    let status = response.status();
                    if let (StatusCode::UNAUTHORIZED, Some(seen)) = (status, generation) {
                        // First 401: refresh (or log in when the refresh
                        // token is refused). Second 401 after a refresh: log
                        // in. A 401 right after a login is final.
                        if renewals < 2 {
                            renewals += 1;
                            tracing::debug!(
                                operation,
                                "Tradecloud answered 401; renewing the tokens"
                            );
                            match shared
                                .tokens
                                .renew_after_unauthorized(&target, seen, renewals == 2)
                                .await
                            {
                                Ok(Renewal::LoggedIn) => renewals = 2,
                                Ok(Renewal::Refreshed | Renewal::AlreadyRenewed) => {}
                                Err(AuthFailure::Transport(error)) => return Err(error),
                                Err(AuthFailure::Answer(answer)) => {
                                    return Ok(finish(*answer, attempts).await)
                                }
                            }
                            continue;
                        }
                    }
                    if is_retryable_status(status) && retries < policy.get_max_retries() {
                        let delay = retry_after(response.headers())
                            .unwrap_or_else(|| policy.backoff(retries));
                        retries += 1;
                        shared.stats.retries.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            operation,
                            %method,
                            path,
                            status = status.as_u16(),
                            retry = retries,
                            max_retries = policy.get_max_retries(),
                            delay_ms = delay.as_millis() as u64,
                            "Tradecloud answered {status}; retrying"
                        );
                        drop(response);
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    return Ok(finish(response, attempts).await);
                }
                Err(error) => {
                    if is_transient_error(&error) && retries < policy.get_max_retries() {
                        let delay = policy.backoff(retries);
                        retries += 1;
                        shared.stats.retries.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            operation,
                            %method,
                            path,
                            retry = retries,
                            max_retries = policy.get_max_retries(),
                            delay_ms = delay.as_millis() as u64,
                            "request to Tradecloud failed ({}); retrying",
                            error.without_url_ref()
                        );
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    return Err(error);
                }
            }
        }
    })
}

/// Sets the `Authorization` header of one attempt; returns the token
/// generation used for a bearer token.
async fn authorize(
    shared: &super::Shared,
    kind: AuthKind,
    target: &AuthTarget<'_>,
    request: &mut Request,
) -> Result<Option<u64>, AuthFailure> {
    match kind {
        AuthKind::Bearer => {
            let token = shared.tokens.access_token(target).await?;
            request.headers_mut().insert(AUTHORIZATION, token.header);
            Ok(Some(token.generation))
        }
        AuthKind::Basic => {
            if let Some(credentials) = &shared.credentials {
                request
                    .headers_mut()
                    .insert(AUTHORIZATION, credentials.basic_header());
            }
            Ok(None)
        }
        AuthKind::NoAuth => {
            request.headers_mut().remove(AUTHORIZATION);
            Ok(None)
        }
    }
}

/// Shows a reqwest error without its URL (it may carry a presigned
/// signature).
trait WithoutUrlRef {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrlRef for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let mut text = self.to_string();
        if let Some(url) = self.url() {
            text = text.replace(url.as_str(), "<url>");
        }
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}

/// Prepares the final answer for the generated code: records the number of
/// attempts and makes sure an error answer has a JSON object body, so the
/// generated code can always read it as an `ErrorResponse` and its status
/// is never lost to a parse error (a bare `401` often has an empty body).
async fn finish(mut response: Response, attempts: u32) -> Response {
    let attempts_value = HeaderValue::from(attempts);
    if response.status().is_success() || response.status().is_informational() {
        response
            .headers_mut()
            .insert(ATTEMPTS_HEADER, attempts_value);
        return response;
    }
    let status = response.status();
    let mut headers = response.headers().clone();
    headers.insert(ATTEMPTS_HEADER, attempts_value);
    let body = read_limited(response, MAX_ERROR_BODY).await;
    let is_object =
        serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&body).is_ok();
    if is_object {
        rebuild(status, headers, body)
    } else {
        let text = String::from_utf8_lossy(&body);
        let text = text.trim();
        synthetic_response(status, headers, (!text.is_empty()).then_some(text))
    }
}

/// Reads at most `limit` bytes of a body; a broken body reads as what
/// arrived.
async fn read_limited(response: Response, limit: usize) -> Bytes {
    let mut stream = response.bytes_stream();
    let mut body = Vec::new();
    while let Some(Ok(chunk)) = stream.next().await {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    Bytes::from(body)
}

/// An answer with this status and headers and a JSON body
/// `{"message": message}`.
pub(crate) fn synthetic_response(
    status: StatusCode,
    headers: HeaderMap,
    message: Option<&str>,
) -> Response {
    let message = message
        .map(str::to_owned)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("no message").to_owned());
    let body = serde_json::json!({ "message": message }).to_string();
    rebuild(status, headers, Bytes::from(body))
}

fn rebuild(status: StatusCode, mut headers: HeaderMap, body: Bytes) -> Response {
    headers.remove(CONTENT_LENGTH);
    headers.remove(reqwest::header::CONTENT_ENCODING);
    headers.remove(reqwest::header::TRANSFER_ENCODING);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Response::from(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn error_answers_get_a_json_object_body() {
        let mut headers = HeaderMap::new();
        headers.insert("x-test", HeaderValue::from_static("1"));
        let answer = rebuild(StatusCode::UNAUTHORIZED, headers, Bytes::new());
        let answer = finish(answer, 3).await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(answer.headers()[ATTEMPTS_HEADER], "3");
        assert_eq!(answer.headers()["x-test"], "1");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["message"], "Unauthorized");

        let answer = rebuild(
            StatusCode::BAD_REQUEST,
            HeaderMap::new(),
            Bytes::from_static(b"bad limit"),
        );
        let body: serde_json::Value = finish(answer, 1).await.json().await.unwrap();
        assert_eq!(body["message"], "bad limit");

        let json = Bytes::from_static(br#"{"message":"kept","code":7}"#);
        let answer = rebuild(StatusCode::NOT_FOUND, HeaderMap::new(), json);
        let body: serde_json::Value = finish(answer, 1).await.json().await.unwrap();
        assert_eq!(body["code"], 7);
    }
}
