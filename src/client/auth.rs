//! Credentials and JSON Web Tokens (security/authentication.md).
//!
//! The first request logs in with Basic auth (`GET /authentication/login`)
//! and keeps the access token (`Set-Authorization`) and the refresh token
//! (`Set-Refresh-Token`). The documented lifetimes disagree (1 hour in
//! security/authentication.md, 10 minutes in api/tools/postman.md, and
//! Tradecloud's own connector refreshes every 9 minutes), so none is
//! assumed: shortly before the token's `exp` claim, or when a call answers
//! `401`, the tokens are refreshed with only the `Refresh-Token` header; a
//! token without `exp` is renewed only on a `401`. When the refresh token
//! is gone or refused, the client logs in again.
//!
//! All of this happens behind one `tokio::sync::Mutex`, so any number of
//! concurrent first calls cause one login and concurrent `401`s one refresh:
//! the store counts token generations, and a task that saw a `401` with an
//! older generation than the current one simply retries with the new token.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::report::{self, AuthStep};
use super::ClientContext;
use crate::api::authentication::client::AuthenticationClient as AuthClient;
use crate::secret::Secret;

/// Renew at most this long before a token expires.
const MAX_RENEW_MARGIN: Duration = Duration::from_secs(60);

/// The e-mail address and password of the integration user.
#[derive(Clone)]
pub(crate) struct Credentials {
    username: String,
    password: Secret,
    basic: HeaderValue,
}

impl Credentials {
    pub(crate) fn new(
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<Self, String> {
        let username = username.into();
        let password = Secret::new(password);
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(format!("{username}:{}", password.expose()));
        let mut basic = HeaderValue::try_from(format!("Basic {encoded}")).map_err(|_| {
            "the user name contains characters that cannot be sent in a header".to_string()
        })?;
        basic.set_sensitive(true);
        Ok(Credentials {
            username,
            password,
            basic,
        })
    }

    pub(crate) fn username(&self) -> &str {
        &self.username
    }

    /// The `Authorization: Basic ...` header value (marked sensitive).
    pub(crate) fn basic_header(&self) -> HeaderValue {
        self.basic.clone()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

/// An access token handed to a request, with the generation it belongs to.
pub(crate) struct AccessToken {
    pub(crate) header: HeaderValue,
    pub(crate) generation: u64,
}

/// Why tokens could not be obtained: a transport error (returned as is) or
/// a refusal, which the call that needed the tokens reports as its own
/// answer with the step and the step's attempts beside it
/// ([`report`]).
pub(crate) enum AuthFailure {
    Transport(reqwest::Error),
    Refused(Refusal),
}

/// A login or refresh that Tradecloud refused or answered unusably.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub(crate) step: AuthStep,
    pub(crate) status: StatusCode,
    /// HTTP attempts of the step.
    pub(crate) attempts: u32,
    pub(crate) message: Option<String>,
}

/// How a renewal was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Renewal {
    /// Another task renewed the tokens in the meantime.
    AlreadyRenewed,
    Refreshed,
    LoggedIn,
}

struct Tokens {
    access: HeaderValue,
    refresh: Option<Secret>,
    /// When to stop using the access token and renew it (by its `exp`);
    /// `None`: only when a call answers 401.
    access_renew_at: Option<Instant>,
    /// When to stop using the refresh token and log in instead; `None`:
    /// only when the refresh is refused.
    refresh_renew_at: Option<Instant>,
}

#[derive(Default)]
struct State {
    tokens: Option<Tokens>,
    generation: u64,
}

/// Counters of authentication calls, for tests and benchmarks.
#[derive(Debug, Default)]
pub(crate) struct AuthCounters {
    pub(crate) logins: AtomicU64,
    pub(crate) refreshes: AtomicU64,
}

/// The token store shared by all clones of a client.
#[derive(Default)]
pub(crate) struct TokenStore {
    state: Mutex<State>,
    pub(crate) counters: AuthCounters,
}

impl fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenStore")
            .field("tokens", &"<redacted>")
            .finish()
    }
}

/// Where and how to call the authentication API.
pub(crate) struct AuthTarget<'a> {
    pub(crate) http: &'a reqwest::Client,
    pub(crate) baseurl: &'a str,
    pub(crate) context: &'a ClientContext,
}

impl AuthTarget<'_> {
    fn client(&self) -> AuthClient {
        AuthClient::new_with_client(self.baseurl, self.http.clone(), self.context.clone())
    }
}

impl TokenStore {
    /// A valid access token, logging in or refreshing first when needed.
    pub(crate) async fn access_token(
        &self,
        target: &AuthTarget<'_>,
    ) -> Result<AccessToken, AuthFailure> {
        let mut state = self.state.lock().await;
        let fresh = state
            .tokens
            .as_ref()
            .is_some_and(|t| t.access_renew_at.is_none_or(|at| Instant::now() < at));
        if !fresh {
            self.renew_locked(&mut state, target, false).await?;
        }
        match state.tokens.as_ref() {
            Some(tokens) => Ok(AccessToken {
                header: tokens.access.clone(),
                generation: state.generation,
            }),
            // renew_locked either stores tokens or fails.
            None => Err(refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                AuthStep::Login,
                "no tokens after logging in",
            )),
        }
    }

    /// Renews the tokens after a call with generation `seen` answered 401.
    /// With `force_login`, logs in again instead of refreshing.
    pub(crate) async fn renew_after_unauthorized(
        &self,
        target: &AuthTarget<'_>,
        seen: u64,
        force_login: bool,
    ) -> Result<Renewal, AuthFailure> {
        let mut state = self.state.lock().await;
        if state.generation != seen {
            return Ok(Renewal::AlreadyRenewed);
        }
        self.renew_locked(&mut state, target, force_login).await
    }

    /// Forgets the tokens and returns the refresh token, if any, for a logout.
    pub(crate) async fn take_refresh_token(&self) -> Option<Secret> {
        let mut state = self.state.lock().await;
        let tokens = state.tokens.take()?;
        state.generation += 1;
        tokens.refresh
    }

    /// Renews the tokens now, fresh or not: a refresh, or a login when no
    /// refresh token is left (see [`crate::client::Client::renew_tokens_now`]).
    #[cfg(feature = "receiver")]
    pub(crate) async fn renew_now(&self, target: &AuthTarget<'_>) -> Result<Renewal, AuthFailure> {
        let mut state = self.state.lock().await;
        self.renew_locked(&mut state, target, false).await
    }

    /// Whether the store holds tokens at the moment.
    pub(crate) async fn has_tokens(&self) -> bool {
        self.state.lock().await.tokens.is_some()
    }

    async fn renew_locked(
        &self,
        state: &mut State,
        target: &AuthTarget<'_>,
        force_login: bool,
    ) -> Result<Renewal, AuthFailure> {
        let now = Instant::now();
        let refresh_token = state
            .tokens
            .as_ref()
            .filter(|t| t.refresh_renew_at.is_none_or(|at| now < at))
            .and_then(|t| t.refresh.clone());
        if let (false, Some(refresh_token)) = (force_login, refresh_token) {
            let client = target.client();
            let (result, call) = report::capture(client.refresh(refresh_token.expose())).await;
            match result {
                Ok(answer) => {
                    let tokens =
                        tokens_from_headers(answer.status(), answer.headers(), AuthStep::Refresh)?;
                    self.counters.refreshes.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("refreshed the Tradecloud access token");
                    state.tokens = Some(tokens);
                    state.generation += 1;
                    return Ok(Renewal::Refreshed);
                }
                Err(error) => match failure_from(error, AuthStep::Refresh, call).await {
                    // A refused or expired refresh token: log in again.
                    AuthFailure::Refused(refusal) if refusal.status.is_client_error() => {
                        tracing::debug!(
                            status = refusal.status.as_u16(),
                            "refresh refused; logging in again"
                        );
                    }
                    failure => return Err(failure),
                },
            }
        }
        let client = target.client();
        let (result, call) = report::capture(client.login()).await;
        match result {
            Ok(answer) => {
                let tokens =
                    tokens_from_headers(answer.status(), answer.headers(), AuthStep::Login)?;
                self.counters.logins.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("logged in to Tradecloud");
                state.tokens = Some(tokens);
                state.generation += 1;
                Ok(Renewal::LoggedIn)
            }
            Err(error) => {
                state.tokens = None;
                Err(failure_from(error, AuthStep::Login, call).await)
            }
        }
    }
}

/// Turns a failed login or refresh (`call`: its attempts and the status
/// of its last answer) into an [`AuthFailure`].
async fn failure_from(
    error: progenitor_client::Error<crate::api::common::types::ErrorResponse>,
    step: AuthStep,
    call: report::CallReport,
) -> AuthFailure {
    use progenitor_client::Error;
    let attempts = call.attempts();
    let refusal = |status: StatusCode, message: Option<String>| {
        AuthFailure::Refused(Refusal {
            step,
            status,
            attempts,
            message,
        })
    };
    match error {
        Error::CommunicationError(e) | Error::ResponseBodyError(e) | Error::InvalidUpgrade(e) => {
            AuthFailure::Transport(e)
        }
        Error::ErrorResponse(answer) => {
            let status = answer.status();
            refusal(status, answer.into_inner().message)
        }
        Error::UnexpectedResponse(response) => {
            let status = response.status();
            let body = response.bytes().await.unwrap_or_default();
            let message = serde_json::from_slice::<crate::api::common::types::ErrorResponse>(&body)
                .ok()
                .and_then(|e| e.message);
            refusal(status, message)
        }
        // The answer's own status: an unreadable answer says nothing
        // about the service being down. (Only when no answer was recorded,
        // which a call through the pipeline always does, 502 stands for
        // "an unusable answer".)
        Error::InvalidResponsePayload(_, e) => refusal(
            call.status.unwrap_or(StatusCode::BAD_GATEWAY),
            Some(format!("the {step} answer could not be read: {e}")),
        ),
        Error::InvalidRequest(message) | Error::Custom(message) => {
            refusal(StatusCode::BAD_REQUEST, Some(message))
        }
    }
}

/// A refusal made up here (one attempt): the answer was there but unusable.
fn refused(status: StatusCode, step: AuthStep, message: &str) -> AuthFailure {
    AuthFailure::Refused(Refusal {
        step,
        status,
        attempts: 1,
        message: Some(message.to_owned()),
    })
}

/// Reads the tokens of a login or refresh answer with `status`; without
/// them the refusal keeps that status (the answer came, but was not
/// Tradecloud's).
fn tokens_from_headers(
    status: StatusCode,
    headers: &HeaderMap,
    step: AuthStep,
) -> Result<Tokens, AuthFailure> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let Some(access) = header("set-authorization") else {
        return Err(refused(
            status,
            step,
            &format!("the {step} answer has no Set-Authorization header"),
        ));
    };
    let access = access.strip_prefix("Bearer ").unwrap_or(access).trim();
    let mut access_header = HeaderValue::try_from(format!("Bearer {access}")).map_err(|_| {
        refused(
            status,
            step,
            &format!("the {step} answer has an access token that cannot be sent back"),
        )
    })?;
    access_header.set_sensitive(true);
    let refresh = header("set-refresh-token").map(Secret::new);
    let now_instant = Instant::now();
    let now = SystemTime::now();
    // Without an `exp` claim no renewal is planned: a 401 triggers it.
    let renew_at =
        |lifetime: Duration| now_instant + lifetime.saturating_sub(renew_margin(lifetime));
    let access_renew_at = token_lifetime(access, now).map(renew_at);
    let refresh_renew_at = refresh
        .as_ref()
        .and_then(|r| token_lifetime(r.expose(), now))
        .map(renew_at);
    Ok(Tokens {
        access: access_header,
        refresh,
        access_renew_at,
        refresh_renew_at,
    })
}

/// How long before expiry a token is renewed: a tenth of its lifetime, at
/// most a minute (an hour-long token is renewed after 59 minutes, a
/// two-second test token after 1.8 seconds).
fn renew_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).min(MAX_RENEW_MARGIN)
}

/// The remaining lifetime of a JWT, from its `exp` claim; `None` when the
/// token is not a JWT or has no `exp`.
pub(crate) fn token_lifetime(token: &str, now: SystemTime) -> Option<Duration> {
    let exp = jwt_expiry(token)?;
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
    Some(Duration::try_from_secs_f64((exp - now).max(0.0)).unwrap_or(Duration::ZERO))
}

/// The `exp` claim (seconds since the epoch) of a JWT, without verifying it.
pub(crate) fn jwt_expiry(token: &str) -> Option<f64> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?;
    exp.as_f64().or_else(|| exp.as_i64().map(|v| v as f64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn jwt(claims: &str) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    #[test]
    fn reads_exp_from_a_jwt() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let token = jwt(r#"{"sub":"x","exp":1700003600}"#);
        assert_eq!(token_lifetime(&token, now), Some(Duration::from_secs(3600)));
        let expired = jwt(r#"{"exp":1600000000}"#);
        assert_eq!(token_lifetime(&expired, now), Some(Duration::ZERO));
        assert_eq!(token_lifetime(&jwt(r#"{"sub":"x"}"#), now), None);
        assert_eq!(token_lifetime("opaque-token", now), None);
        assert_eq!(token_lifetime("a.b.c.d", now), None);
    }

    #[test]
    fn renews_a_tenth_before_expiry_at_most_a_minute() {
        assert_eq!(
            renew_margin(Duration::from_secs(3600)),
            Duration::from_secs(60)
        );
        assert_eq!(
            renew_margin(Duration::from_secs(2)),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn debug_output_hides_secrets() {
        let credentials = Credentials::new("integration@example.com", "hunter2").unwrap();
        let shown = format!("{credentials:?}");
        assert!(shown.contains("integration@example.com"));
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains(
            &base64::engine::general_purpose::STANDARD.encode("integration@example.com:hunter2")
        ));
        assert!(credentials.basic_header().is_sensitive());
    }

    #[test]
    fn renewal_follows_the_exp_claim() {
        let exp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 9 * 60;
        let token = jwt(&format!(r#"{{"exp":{exp}}}"#));
        let mut headers = HeaderMap::new();
        headers.insert("set-authorization", HeaderValue::from_str(&token).unwrap());
        let tokens = tokens_from_headers(StatusCode::OK, &headers, AuthStep::Login)
            .ok()
            .unwrap();
        let renew_at = tokens.access_renew_at.expect("a JWT with exp");
        // A 9-minute token is renewed before its 9 minutes, not after an hour.
        assert!(renew_at < Instant::now() + Duration::from_secs(9 * 60));
        assert!(renew_at > Instant::now() + Duration::from_secs(7 * 60));
    }

    #[test]
    fn tokens_come_from_the_set_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("set-authorization", HeaderValue::from_static("abc"));
        headers.insert("set-refresh-token", HeaderValue::from_static("def"));
        let tokens = tokens_from_headers(StatusCode::OK, &headers, AuthStep::Login)
            .ok()
            .unwrap();
        assert_eq!(tokens.access.to_str().unwrap(), "Bearer abc");
        assert!(tokens.access.is_sensitive());
        assert_eq!(tokens.refresh.unwrap().expose(), "def");
        // Not a JWT: no lifetime is assumed, only a 401 renews it.
        assert_eq!(tokens.access_renew_at, None);
        assert_eq!(tokens.refresh_renew_at, None);

        headers.insert("set-authorization", HeaderValue::from_static("Bearer xyz"));
        let tokens = tokens_from_headers(StatusCode::OK, &headers, AuthStep::Login)
            .ok()
            .unwrap();
        assert_eq!(tokens.access.to_str().unwrap(), "Bearer xyz");

        headers.remove("set-authorization");
        assert!(tokens_from_headers(StatusCode::OK, &headers, AuthStep::Login).is_err());
    }
}
