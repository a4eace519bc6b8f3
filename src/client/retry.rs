//! The one retry policy and the one retry loop of the crate: API calls,
//! document downloads and `tradecloud send` all retry through
//! [`RetryPolicy::run`] (api/rules.md: retry 5xx, 429 and time-outs with
//! exponential backoff).
//!
//! The loop knows nothing about HTTP: each attempt says whether it is
//! [`Done`](Attempt::Done), failed for good ([`Fail`](Attempt::Fail)) or is
//! worth another try ([`Retry`](Attempt::Retry), optionally after the delay
//! the server asked for). What counts as transient is the caller's business;
//! [`is_retryable_status`] and [`is_transient_error`] are the client's rules.

use std::future::Future;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;

/// The longest `Retry-After` the client honours; a longer one is cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// How often and how patiently failed requests are retried.
///
/// Tradecloud's rules (api/rules.md) ask clients to retry `5xx` answers,
/// `429 Too Many Requests` and time-outs with an exponential backoff, and
/// never to retry other `4xx` answers. Retry `n` (counting from 0) waits a
/// random time between half and all of `min(base_delay * 2^n, max_delay)`
/// ("equal jitter"), or what a `Retry-After` header asks for (up to five
/// minutes).
///
/// ```
/// use std::time::Duration;
/// use tradecloud::client::RetryPolicy;
///
/// let policy = RetryPolicy::default()
///     .max_retries(8)
///     .base_delay(Duration::from_millis(200))
///     .max_delay(Duration::from_secs(10));
/// assert_eq!(policy.get_max_retries(), 8);
/// assert!(policy.backoff(20) <= Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    base_delay: Duration,
    max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 retries, starting at 500 ms, at most 30 s apart.
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries at all: every failure is reported at once.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Retry a failed request at most this many times (0 disables retries).
    /// The client takes the whole policy, with
    /// [`ClientBuilder::retry_policy`](super::ClientBuilder::retry_policy).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The delay before the first retry; it doubles with each further retry.
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// The longest delay between two attempts (before jitter).
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The configured number of retries.
    pub fn get_max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The delay before retry `retry` (0 = the first retry), with jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        let ceiling = self.base_delay.saturating_mul(factor).min(self.max_delay);
        let half = ceiling / 2;
        let jitter_nanos = fastrand::u64(0..=u64::try_from(half.as_nanos()).unwrap_or(u64::MAX));
        half + Duration::from_nanos(jitter_nanos)
    }

    /// Runs `attempt` until it is done, fails for good, or the retries run
    /// out; sleeps between attempts ([`backoff`](Self::backoff), or the
    /// delay an attempt asked for, capped at five minutes) and tells
    /// `on_retry` before each sleep.
    ///
    /// `attempt` gets the attempt number, counting from 1. The result says
    /// how many attempts were made; when the retries ran out it is the last
    /// attempt's error.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tradecloud::client::{Attempt, RetryPolicy};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let policy = RetryPolicy::default().base_delay(Duration::from_millis(1));
    /// let finished = policy
    ///     .run(
    ///         |attempt| async move {
    ///             if attempt < 3 {
    ///                 Attempt::Retry { error: "busy", after: None }
    ///             } else {
    ///                 Attempt::Done(attempt)
    ///             }
    ///         },
    ///         |retry| eprintln!("{}; retry {} in {:?}", retry.error, retry.retry, retry.delay),
    ///     )
    ///     .await;
    /// assert_eq!(finished.result, Ok(3));
    /// assert_eq!(finished.attempts, 3);
    /// # });
    /// ```
    pub async fn run<T, E, F, Fut>(
        &self,
        mut attempt: F,
        mut on_retry: impl FnMut(Retrying<'_, E>),
    ) -> Finished<T, E>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Attempt<T, E>>,
    {
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let (error, after) = match attempt(attempts).await {
                Attempt::Done(value) => return Finished::new(Ok(value), attempts),
                Attempt::Fail(error) => return Finished::new(Err(error), attempts),
                Attempt::Retry { error, after } => (error, after),
            };
            let retry = attempts - 1;
            if retry >= self.max_retries {
                return Finished::new(Err(error), attempts);
            }
            let delay = after
                .map(|after| after.min(MAX_RETRY_AFTER))
                .unwrap_or_else(|| self.backoff(retry));
            on_retry(Retrying {
                error: &error,
                retry: retry + 1,
                max_retries: self.max_retries,
                delay,
            });
            drop(error);
            tokio::time::sleep(delay).await;
        }
    }
}

/// What one attempt of [`RetryPolicy::run`] came to.
#[derive(Debug)]
pub enum Attempt<T, E> {
    /// Finished with this value.
    Done(T),
    /// Failed in a way another attempt cannot fix.
    Fail(E),
    /// Failed in a way another attempt may fix.
    Retry {
        /// What went wrong (returned when the retries run out).
        error: E,
        /// How long the server asked to wait (`Retry-After`), if it did.
        after: Option<Duration>,
    },
}

/// A retry about to happen, as told to the `on_retry` callback of
/// [`RetryPolicy::run`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Retrying<'a, E> {
    /// The failure that is retried.
    pub error: &'a E,
    /// Which retry this is, counting from 1.
    pub retry: u32,
    /// The policy's limit.
    pub max_retries: u32,
    /// How long the loop sleeps before it.
    pub delay: Duration,
}

/// The outcome of [`RetryPolicy::run`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finished<T, E> {
    /// The value, or the error of the last attempt.
    pub result: Result<T, E>,
    /// Attempts made, counting from 1.
    pub attempts: u32,
}

impl<T, E> Finished<T, E> {
    fn new(result: Result<T, E>, attempts: u32) -> Self {
        Finished { result, attempts }
    }
}

/// Whether an answer of Tradecloud's API with this status is worth
/// retrying: every `5xx`, `429 Too Many Requests` and `408 Request Timeout`.
///
/// (Webhook deliveries follow Tradecloud's own, stricter rule: only
/// statuses above 500; see `tradecloud send`.)
pub fn is_retryable_status(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}

/// Whether a transport error is worth retrying.
///
/// | worth retrying | not worth retrying (fails at once) |
/// | --- | --- |
/// | time-outs (connecting, sending, reading) | a host name that does not resolve (`NXDOMAIN`, "Name or service not known") |
/// | a refused or reset connection (a server restarting) | a TLS certificate or handshake this client refuses (untrusted, expired, wrong host name) |
/// | a request or body that broke off | an invalid URL, too many redirects |
/// | a resolver that says "temporary failure", "try again" or timed out | |
///
/// A name that does not resolve or a refused certificate stays so for
/// seconds as for hours: retrying only delays the error (six attempts of up
/// to ten seconds each by default) that needs a fix of the URL, the proxy,
/// the DNS or the trusted roots.
pub fn is_transient_error(error: &reqwest::Error) -> bool {
    if error.is_builder() || error.is_redirect() {
        return false;
    }
    if error.is_timeout() {
        return true;
    }
    if error.is_dns() {
        return resolver_says_try_again(error);
    }
    if error.is_connect() && is_tls_refusal(error) {
        return false;
    }
    error.is_connect() || error.is_request() || error.is_body()
}

/// Whether a failed name lookup says it may work later (`EAI_AGAIN`:
/// glibc "Temporary failure in name resolution", musl "Name could not be
/// resolved at this time", Windows `WSATRY_AGAIN` "...temporary error...",
/// or a time-out), rather than that the name does not exist.
fn resolver_says_try_again(error: &reqwest::Error) -> bool {
    const MARKERS: [&str; 4] = ["temporary", "try again", "timed out", "at this time"];
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        let text = cause.to_string().to_ascii_lowercase();
        if MARKERS.iter().any(|marker| text.contains(marker)) {
            return true;
        }
        source = cause.source();
    }
    false
}

/// Whether a connection failed because this client refuses the server's
/// TLS certificate or cannot agree on TLS with it: the handshake's
/// `rustls::Error` is a certificate error (untrusted issuer, expired, for
/// another name, revoked), no certificate at all, or no protocol version
/// or cipher suite in common. Retrying meets the same certificate.
pub(crate) fn is_tls_refusal(error: &reqwest::Error) -> bool {
    /// The `rustls::Error` of `cause`, also inside (nested) `io::Error`s,
    /// whose `source()` skips the error they wrap.
    fn tls_error<'a>(cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        let inner = cause.downcast_ref::<std::io::Error>()?.get_ref()?;
        tls_error(inner)
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(tls) = tls_error(cause) {
            return matches!(
                tls,
                rustls::Error::InvalidCertificate(_)
                    | rustls::Error::NoCertificatesPresented
                    | rustls::Error::UnsupportedNameType
                    | rustls::Error::PeerIncompatible(_)
            );
        }
        source = cause.source();
    }
    false
}

/// The delay a `Retry-After` header asks for (seconds or an HTTP date),
/// capped at five minutes.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let delay = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        let when = SystemTime::from(when.with_timezone(&chrono::Utc));
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let policy = RetryPolicy::default()
            .base_delay(Duration::from_millis(100))
            .max_delay(Duration::from_secs(1));
        for _ in 0..100 {
            let first = policy.backoff(0);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = policy.backoff(2);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let late = policy.backoff(40);
            assert!(late >= Duration::from_millis(500) && late <= Duration::from_secs(1));
        }
    }

    fn block<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn the_loop_retries_until_the_limit_and_reports_each_retry() {
        let policy = RetryPolicy::default()
            .max_retries(2)
            .base_delay(Duration::from_millis(1));
        let mut told = Vec::new();
        let finished = block(policy.run(
            |attempt| async move {
                Attempt::<(), _>::Retry {
                    error: format!("failure {attempt}"),
                    after: (attempt == 2).then_some(Duration::from_millis(3)),
                }
            },
            |retry| told.push((retry.error.clone(), retry.retry, retry.delay)),
        ));
        assert_eq!(finished.result, Err("failure 3".to_owned()));
        assert_eq!(finished.attempts, 3);
        assert_eq!(told.len(), 2);
        assert_eq!((told[0].0.as_str(), told[0].1), ("failure 1", 1));
        assert_eq!(
            told[1],
            ("failure 2".to_owned(), 2, Duration::from_millis(3))
        );
    }

    #[test]
    fn the_loop_stops_at_done_and_fail() {
        let policy = RetryPolicy::none();
        let done = block(policy.run(|_| async { Attempt::<u8, ()>::Done(7) }, |_| {}));
        assert_eq!((done.result, done.attempts), (Ok(7), 1));
        let mut calls = 0;
        let failed = block(RetryPolicy::default().run(
            |_| {
                calls += 1;
                async { Attempt::<(), _>::Fail("bad request") }
            },
            |_| panic!("a final failure is not retried"),
        ));
        assert_eq!(
            (failed.result, failed.attempts, calls),
            (Err("bad request"), 1, 1)
        );
    }

    #[test]
    fn retryable_statuses_follow_the_rules() {
        for code in [500, 502, 503, 504, 429, 408] {
            assert!(
                is_retryable_status(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
        for code in [400, 401, 403, 404, 409, 422] {
            assert!(
                !is_retryable_status(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("999999"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(300)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }
}
