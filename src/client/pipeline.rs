//! The request pipeline: the one place where every request of the
//! generated clients is sent. Follow one API call from top to bottom:
//!
//! 1. [`exec`] opens a `tracing` span for the call and runs the call through
//!    the client's [`RetryPolicy::run`](super::RetryPolicy::run), the one
//!    retry loop of the crate.
//! 2. Each attempt ([`send_authorized`](Call::send_authorized)) sets the `Authorization` header
//!    (a bearer token from the token store, which logs in or refreshes
//!    first when needed; or Basic credentials; or nothing for refresh and
//!    logout), waits for the rate limit and sends. A `401` renews the
//!    tokens and sends again (refresh first, then a fresh login), at most
//!    twice per call; renewals are not retries.
//! 3. The attempt's answer is classified: `5xx`, `429`, `408` and transport
//!    failures are retried (honouring `Retry-After`), everything else is
//!    final.
//! 4. The final answer goes back to the generated code with a JSON body
//!    ([`answer::finish`]); the number of attempts, and the login or refresh
//!    step when the answer is theirs, go beside it
//!    ([`report::record`]).
//!
//! progenitor lets a crate replace how a generated client executes a
//! request by implementing [`ClientHooks`] for the client type itself (the
//! generated code implements it for `&Client`, which loses to ours by
//! auto-ref). Nothing else in the client imports from this module.
//!
//! # Tracing
//!
//! Every call is one span `tradecloud.request` (level INFO, target
//! `tradecloud::client::pipeline`) with OpenTelemetry's HTTP client field
//! names: `otel.name` (`GET /order/{orderId}`), `otel.kind`,
//! `http.request.method`, `url.template` (the spec's path, never the ids),
//! `tradecloud.operation`, and when it ends `http.response.status_code`,
//! `attempts`, `http.request.resend_count`, `latency_ms` and, on failure,
//! `error.type` and `otel.status_code`. Retries are WARN events inside it.
//! No header, token, password, body or query string is ever recorded.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use progenitor_client::{ClientHooks, OperationInfo};
use reqwest::header::AUTHORIZATION;
use reqwest::{Method, Request, Response, StatusCode};
use tracing::Instrument as _;

use super::answer::{self, describe};
use super::auth::{AuthFailure, AuthTarget, Renewal};
use super::report::{self, CallReport};
use super::retry::{is_retryable_status, is_transient_error, retry_after, Attempt, RetryPolicy};
use super::{AuthMode, ClientContext, Resend, Shared};
use crate::operation::{AuthScheme, Operation};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How often one call may renew the tokens after a `401`.
const MAX_RENEWALS: u32 = 2;

macro_rules! client_hooks {
    ($($service:ident::$client:ident),* $(,)?) => {$(
        impl ClientHooks<ClientContext> for crate::api::$service::client::$client {
            async fn exec(
                &self,
                request: Request,
                info: &OperationInfo,
            ) -> reqwest::Result<Response> {
                let operation = crate::api::$service::OPERATIONS
                    .iter()
                    .find(|o| o.client_method == info.operation_id);
                exec(&self.client, &self.baseurl, &self.inner, request, info.operation_id, operation).await
            }
        }
    )*};
}

client_hooks!(
    api_connector::ApiConnectorClient,
    authentication::AuthenticationClient,
    order::OrderClient,
    order_search::OrderSearchClient,
    shipment::ShipmentClient,
    object_storage::ObjectStorageClient,
);

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

/// The authentication `operation` needs under `mode`, from the security
/// schemes its spec lists (the generated operation table): none when it
/// needs none (refresh, logout); Basic when that is all it takes (login) or
/// when it also takes Basic and `mode` sends Basic on every request
/// (security/authentication.md: the `api-connector`,
/// `object-storage/document`, `order-search/poll` and `shipment/poll` APIs;
/// the specs list `basicAuth` only on those operations); else a token.
/// An operation missing from the table (never for a generated client)
/// gets a token.
fn auth_kind(operation: Option<&Operation>, mode: AuthMode) -> AuthKind {
    let Some(operation) = operation else {
        return AuthKind::Bearer;
    };
    if !operation.needs_authentication() {
        return AuthKind::NoAuth;
    }
    let basic = operation.accepts(AuthScheme::Basic);
    let token = operation.accepts(AuthScheme::Bearer);
    match mode {
        _ if basic && !token => AuthKind::Basic,
        AuthMode::BasicEveryRequest if basic => AuthKind::Basic,
        // Other APIs take only a token, also in this mode.
        AuthMode::Token | AuthMode::BasicEveryRequest => AuthKind::Bearer,
    }
}

/// Why one attempt did not produce an answer to hand back.
enum Failure {
    /// An answer worth retrying (`5xx`, `429`, `408`).
    Answer(Box<Response>),
    /// No answer at all.
    Transport(reqwest::Error),
    /// The login or refresh this call needed failed, after that call's
    /// own retries: final, so retries do not multiply.
    Auth(AuthFailure),
}

/// Builds one more copy of a request whose body cannot be copied (a file
/// streamed from disk), for a retry or a resend after a `401`.
pub(crate) type Rebuild<'a> = Box<dyn FnMut() -> reqwest::Result<Request> + Send + 'a>;

/// Whether part of the body of the request sent last never went to the
/// connection (so the server cannot have received the whole request).
pub(crate) type Unsent<'a> = Box<dyn Fn() -> bool + Send + Sync + 'a>;

/// The requests of one call: copies of one request, or requests built
/// anew for each send.
pub(crate) enum Requests<'a> {
    /// One request, sent as copies (`try_clone`); one whose body cannot be
    /// copied is sent once, without retries.
    Once(Request),
    /// A first request, how to build the next ones, and whether the body
    /// of the last one was not sent whole.
    Rebuilt(Request, Rebuild<'a>, Unsent<'a>),
}

/// Hands out the request of each send of a call.
struct Source<'a> {
    /// The request to copy, or the next one to send.
    next: Option<Request>,
    rebuild: Option<Rebuild<'a>>,
}

impl<'a> Source<'a> {
    fn new(next: Request, rebuild: Option<Rebuild<'a>>) -> Self {
        Source {
            next: Some(next),
            rebuild,
        }
    }

    /// Whether a call can be sent more than once.
    fn repeatable(&self) -> bool {
        self.rebuild.is_some() || self.next.as_ref().and_then(Request::try_clone).is_some()
    }

    /// The request to send now; `None` when there is none left (a body
    /// that could not be copied was sent already).
    fn take(&mut self) -> Option<reqwest::Result<Request>> {
        if let Some(next) = self.next.take() {
            if self.rebuild.is_none() {
                // Keep the original to copy again.
                if let Some(copy) = next.try_clone() {
                    self.next = Some(next);
                    return Some(Ok(copy));
                }
            }
            return Some(Ok(next));
        }
        self.rebuild.as_mut().map(|rebuild| rebuild())
    }
}

/// What one call shares between its attempts.
struct Call<'a> {
    http: &'a reqwest::Client,
    shared: &'a Shared,
    target: AuthTarget<'a>,
    kind: AuthKind,
    operation: &'static str,
    renewals: AtomicU32,
    resend: Resend,
    source: std::sync::Mutex<Source<'a>>,
    unsent: Option<Unsent<'a>>,
}

/// Sends `request` for operation `operation` (the generated client's name
/// for it; `facts` its entry of the spec's operation table): with
/// authentication, retries and the rate limit when `context` is
/// configured, as is otherwise. Retried by the client's policy
/// ([`Resend::Always`]).
///
/// Boxed because a call may log in first, and the login is itself a call of
/// a generated client that comes back here.
pub(crate) fn exec<'a>(
    http: &'a reqwest::Client,
    baseurl: &'a str,
    context: &'a ClientContext,
    request: Request,
    operation: &'static str,
    facts: Option<&'static Operation>,
) -> BoxFuture<'a, reqwest::Result<Response>> {
    exec_with(
        http,
        baseurl,
        context,
        Requests::Once(request),
        operation,
        facts,
        Resend::Always,
    )
}

/// [`exec`] with the requests of a call and its resend rule: with
/// [`Resend::IfNotReceived`] only a connection that could not be made and
/// a `429` or `408` answer (refused unread) are retried, and a `5xx`
/// answer is handed back at once.
pub(crate) fn exec_with<'a>(
    http: &'a reqwest::Client,
    baseurl: &'a str,
    context: &'a ClientContext,
    requests: Requests<'a>,
    operation: &'static str,
    facts: Option<&'static Operation>,
    resend: Resend,
) -> BoxFuture<'a, reqwest::Result<Response>> {
    let template = facts.map_or(operation, |o| o.path);
    let method = match &requests {
        Requests::Once(request) | Requests::Rebuilt(request, ..) => request.method().clone(),
    };
    let span = request_span(&method, template, operation);
    Box::pin(
        async move {
            let Some(shared) = context.shared.as_deref() else {
                let (Requests::Once(request) | Requests::Rebuilt(request, ..)) = requests;
                return http.execute(request).await;
            };
            let started = Instant::now();
            let (source, unsent) = match requests {
                Requests::Once(request) => (Source::new(request, None), None),
                Requests::Rebuilt(request, rebuild, unsent) => {
                    (Source::new(request, Some(rebuild)), Some(unsent))
                }
            };
            // A body that cannot be copied and has no way to be built again
            // is sent once, without retries. The generated clients never
            // build one.
            let policy = if source.repeatable() {
                shared.retry
            } else {
                RetryPolicy::none()
            };
            let call = Call {
                http,
                shared,
                target: AuthTarget {
                    http,
                    baseurl,
                    context,
                },
                kind: auth_kind(facts, shared.auth_mode),
                operation,
                renewals: AtomicU32::new(0),
                resend,
                source: std::sync::Mutex::new(source),
                unsent,
            };
            let finished = policy
                .run(
                    |_| call.attempt(),
                    |retry| {
                        shared.stats.retries.fetch_add(1, Ordering::Relaxed);
                        match retry.error {
                            Failure::Answer(answer) => tracing::warn!(
                                http.response.status_code = answer.status().as_u16(),
                                retry = retry.retry,
                                max_retries = retry.max_retries,
                                delay_ms = retry.delay.as_millis() as u64,
                                "Tradecloud answered {}; retrying",
                                answer.status()
                            ),
                            Failure::Transport(error) => tracing::warn!(
                                retry = retry.retry,
                                max_retries = retry.max_retries,
                                delay_ms = retry.delay.as_millis() as u64,
                                "request to Tradecloud failed ({}); retrying",
                                describe(error)
                            ),
                            // Never retried (see `Call::attempt`).
                            Failure::Auth(_) => {}
                        }
                    },
                )
                .await;
            let attempts = finished.attempts;
            let call_report = CallReport {
                attempts,
                auth_step: None,
                status: None,
            };
            let (result, call_report) = match finished.result {
                Ok(response) | Err(Failure::Answer(response)) => {
                    let call_report = CallReport {
                        status: Some(response.status()),
                        ..call_report
                    };
                    (Ok(answer::finish(*response).await), call_report)
                }
                // The failed login's or refresh's answer, with its own
                // attempts: they say more than this call's.
                Err(Failure::Auth(AuthFailure::Refused(refusal))) => {
                    // The call itself was never sent: a refusal answered
                    // 2xx (no tokens, an unreadable body) must not read as
                    // the call's success. 502 takes it the way of an
                    // error; the report keeps the real status, which the
                    // error shows.
                    let synthetic_status = if refusal.status.is_success() {
                        StatusCode::BAD_GATEWAY
                    } else {
                        refusal.status
                    };
                    let response = answer::synthetic_response(
                        synthetic_status,
                        Default::default(),
                        refusal.message.as_deref(),
                    );
                    let call_report = CallReport {
                        attempts: refusal.attempts,
                        auth_step: Some(refusal.step),
                        status: Some(refusal.status),
                    };
                    (Ok(response), call_report)
                }
                Err(Failure::Transport(error))
                | Err(Failure::Auth(AuthFailure::Transport(error))) => (Err(error), call_report),
            };
            record_outcome(&result, attempts, started);
            report::record(call_report);
            result
        }
        .instrument(span),
    )
}

impl Call<'_> {
    /// The request of the next send, or why there is none.
    fn next_request(&self) -> Result<Request, Failure> {
        let next = self
            .source
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        match next {
            Some(Ok(request)) => Ok(request),
            Some(Err(error)) => Err(Failure::Transport(error)),
            // Never for a generated client.
            None => Err(Failure::Answer(Box::new(answer::synthetic_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                Default::default(),
                Some("the request body could not be sent again"),
            )))),
        }
    }

    /// One attempt, classified by the call's resend rule.
    async fn attempt(&self) -> Attempt<Box<Response>, Failure> {
        let request = match self.next_request() {
            Ok(request) => request,
            Err(failure) => return Attempt::Fail(failure),
        };
        match self.send_authorized(request).await {
            Ok(response) if self.retries_status(response.status()) => Attempt::Retry {
                after: retry_after(response.headers()),
                error: Failure::Answer(Box::new(response)),
            },
            Ok(response) => Attempt::Done(Box::new(response)),
            Err(Failure::Transport(error)) if self.retries_error(&error) => Attempt::Retry {
                error: Failure::Transport(error),
                after: None,
            },
            Err(failure) => Attempt::Fail(failure),
        }
    }

    /// Whether an answer with `status` is sent again under the call's rule.
    fn retries_status(&self, status: StatusCode) -> bool {
        match self.resend {
            Resend::Always => is_retryable_status(status),
            // Refused before it was read: sending again cannot repeat it.
            Resend::IfNotReceived => {
                status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::REQUEST_TIMEOUT
            }
        }
    }

    /// Whether a transport failure is sent again under the call's rule.
    fn retries_error(&self, error: &reqwest::Error) -> bool {
        match self.resend {
            Resend::Always => is_transient_error(error),
            // No connection, so no request either; or a body that never
            // went out whole (a server answering early and closing while
            // a file is still being sent), so no whole request.
            Resend::IfNotReceived => {
                is_transient_error(error)
                    && (error.is_connect() || self.unsent.as_ref().is_some_and(|unsent| unsent()))
            }
        }
    }

    /// Authorizes and sends one request; a `401` to a bearer token renews
    /// the tokens and sends a fresh copy, at most [`MAX_RENEWALS`] times
    /// per call. A failed login or refresh comes back as
    /// [`Failure::Auth`].
    async fn send_authorized(&self, request: Request) -> Result<Response, Failure> {
        let mut request = request;
        loop {
            let generation = self.authorize(&mut request).await.map_err(Failure::Auth)?;
            if let Some(limiter) = &self.shared.limiter {
                limiter.acquire().await;
            }
            self.shared.stats.requests.fetch_add(1, Ordering::Relaxed);
            let response = self
                .http
                .execute(request)
                .await
                .map_err(Failure::Transport)?;
            let Some(seen) = generation else {
                return Ok(response);
            };
            if response.status() != StatusCode::UNAUTHORIZED {
                return Ok(response);
            }
            // First 401: refresh (or log in when the refresh token is
            // refused). Second 401 after a refresh: log in. A 401 right
            // after a login is final.
            let renewal = self.renewals.fetch_add(1, Ordering::Relaxed) + 1;
            if renewal > MAX_RENEWALS {
                return Ok(response);
            }
            // A 401 was refused unread: the request goes again, also under
            // `Resend::IfNotReceived`, when there is a copy to send.
            let Some(spare) = self
                .source
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take()
            else {
                return Ok(response);
            };
            let spare = spare.map_err(Failure::Transport)?;
            tracing::debug!(
                operation = self.operation,
                "Tradecloud answered 401; renewing the tokens"
            );
            match self
                .shared
                .tokens
                .renew_after_unauthorized(&self.target, seen, renewal == MAX_RENEWALS)
                .await
            {
                Ok(Renewal::LoggedIn) => {
                    self.renewals.store(MAX_RENEWALS, Ordering::Relaxed);
                }
                Ok(Renewal::Refreshed | Renewal::AlreadyRenewed) => {}
                Err(failure) => return Err(Failure::Auth(failure)),
            }
            request = spare;
        }
    }

    /// Sets the `Authorization` header of one attempt; returns the token
    /// generation used for a bearer token.
    async fn authorize(&self, request: &mut Request) -> Result<Option<u64>, AuthFailure> {
        match self.kind {
            AuthKind::Bearer => {
                let token = self.shared.tokens.access_token(&self.target).await?;
                request.headers_mut().insert(AUTHORIZATION, token.header);
                Ok(Some(token.generation))
            }
            AuthKind::Basic => {
                if let Some(credentials) = &self.shared.credentials {
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
}

/// The span of one call; see the [module documentation](self#tracing).
/// `template` is the spec's path of the operation.
fn request_span(method: &Method, template: &str, operation: &str) -> tracing::Span {
    tracing::info_span!(
        "tradecloud.request",
        otel.name = %format_args!("{method} {template}"),
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        http.request.method = %method,
        url.template = template,
        tradecloud.operation = operation,
        http.response.status_code = tracing::field::Empty,
        attempts = tracing::field::Empty,
        http.request.resend_count = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
        error.type = tracing::field::Empty,
    )
}

/// Records how a call ended on the current span.
fn record_outcome(result: &reqwest::Result<Response>, attempts: u32, started: Instant) {
    let span = tracing::Span::current();
    span.record("attempts", attempts);
    if attempts > 1 {
        span.record("http.request.resend_count", attempts - 1);
    }
    span.record("latency_ms", started.elapsed().as_secs_f64() * 1000.0);
    match result {
        Ok(response) => {
            let status = response.status();
            span.record("http.response.status_code", status.as_u16());
            if !status.is_success() {
                span.record("error.type", status.as_str());
                span.record("otel.status_code", "ERROR");
            }
        }
        Err(error) => {
            let kind = if error.is_timeout() {
                "timeout"
            } else if error.is_connect() {
                "connect"
            } else {
                "transport"
            };
            span.record("error.type", kind);
            span.record("otel.status_code", "ERROR");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{authentication, object_storage, order, order_search, shipment};

    /// The tables of the five API specs the client calls.
    const TABLES: [&[Operation]; 5] = [
        authentication::OPERATIONS,
        order::OPERATIONS,
        order_search::OPERATIONS,
        shipment::OPERATIONS,
        object_storage::OPERATIONS,
    ];

    #[test]
    fn operations_get_their_authentication_from_the_specs() {
        use AuthKind::{Basic, Bearer, NoAuth};
        let kind = |op: &Operation| {
            (
                auth_kind(Some(op), AuthMode::Token),
                auth_kind(Some(op), AuthMode::BasicEveryRequest),
            )
        };
        assert_eq!(kind(&authentication::operations::LOGIN), (Basic, Basic));
        assert_eq!(kind(&authentication::operations::REFRESH), (NoAuth, NoAuth));
        assert_eq!(kind(&authentication::operations::LOGOUT), (NoAuth, NoAuth));
        assert_eq!(
            kind(&order::operations::GET_ORDER_BY_ID_ROUTE),
            (Bearer, Bearer)
        );
        assert_eq!(
            kind(&order_search::operations::POLL_ORDERS_ROUTE),
            (Bearer, Basic)
        );
        assert_eq!(auth_kind(None, AuthMode::BasicEveryRequest), Bearer);
        // security/authentication.md: Basic on every request only for
        // api-connector, object-storage/document, order-search/poll and
        // shipment/poll; everything else takes a token.
        for op in TABLES.into_iter().flatten() {
            let basic_everywhere = auth_kind(Some(op), AuthMode::BasicEveryRequest) == Basic;
            let documented = op.path.starts_with("/api-connector")
                || op.path.starts_with("/object-storage/document")
                || op.path.starts_with("/order-search/poll")
                || op.path.starts_with("/shipment/poll")
                || op.id == authentication::operations::LOGIN.id;
            assert_eq!(basic_everywhere, documented, "{op}");
        }
    }

    /// The generated clients report their method names, and each hook
    /// looks them up in its own spec's table: within a spec they are unique.
    #[test]
    fn client_methods_name_one_operation_of_their_spec() {
        for table in TABLES {
            for op in table {
                let same = table.iter().filter(|o| o.client_method == op.client_method);
                assert_eq!(same.count(), 1, "{op}");
            }
        }
        assert_eq!(
            order::OPERATIONS
                .iter()
                .find(|o| o.client_method == "get_order_by_id")
                .map(|o| o.path),
            Some("/order/{orderId}")
        );
    }
}
