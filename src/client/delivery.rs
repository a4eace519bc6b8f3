//! Delivering a webhook body the way Tradecloud does: the crate's one
//! delivery implementation, used by `tradecloud send` and by the mock's
//! webhook delivery (`crate::mock`, feature `mock`).
//!
//! Tradecloud's rule (connectors/webhooks/webhook-setup.md): `2xx` is
//! delivered; `4xx` and `500` are not retried; a status above `500` is
//! retried with exponential backoff. Connection errors and timeouts are
//! retried too. The retries run through [`RetryPolicy::run`].

use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode, Url};

use super::retry::{Attempt, RetryPolicy};

/// What Tradecloud makes of an answer's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// `2xx`: delivered.
    Delivered,
    /// `4xx`, `500` and anything else up to `500`: refused, not retried.
    Refused,
    /// Above `500` (or no answer at all): retried.
    Retry,
}

/// Tradecloud's rule: 2xx delivered; 4xx and 500 (and anything else up to
/// 500) not retried; above 500 retried.
pub fn verdict(status: StatusCode) -> Verdict {
    if status.is_success() {
        Verdict::Delivered
    } else if status.as_u16() > 500 {
        Verdict::Retry
    } else {
        Verdict::Refused
    }
}

/// One attempt of a delivery.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeliveryAttempt {
    /// Which attempt, counting from 1.
    pub attempt: u32,
    /// The status answered (`None`: no answer, see [`error`](Self::error)).
    pub status: Option<StatusCode>,
    /// From sending the request to the whole answer (or the error).
    pub latency: Duration,
    /// The answer's body (lossy UTF-8), empty when there was none.
    pub body: String,
    /// What went wrong when there was no answer (timeout, connection
    /// failed, ...).
    pub error: Option<String>,
    /// What the status means.
    pub verdict: Verdict,
    /// When the attempt is retried: the delay before the next one.
    pub retry_in: Option<Duration>,
}

/// The outcome of [`deliver`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Delivery {
    /// Every attempt, in order.
    pub attempts: Vec<DeliveryAttempt>,
}

impl Delivery {
    /// Whether the last attempt delivered.
    pub fn delivered(&self) -> bool {
        self.last()
            .is_some_and(|attempt| attempt.verdict == Verdict::Delivered)
    }

    /// The last attempt.
    pub fn last(&self) -> Option<&DeliveryAttempt> {
        self.attempts.last()
    }
}

/// The innermost cause of an error, for a one-line message.
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// An attempt that did not really happen: what a fault injection makes
/// of it (`status` answered, or no answer with `error`).
pub fn simulated(
    attempt: u32,
    status: Option<StatusCode>,
    error: Option<String>,
) -> DeliveryAttempt {
    DeliveryAttempt {
        attempt,
        status,
        latency: Duration::ZERO,
        body: String::new(),
        error,
        verdict: status.map_or(Verdict::Retry, verdict),
        retry_in: None,
    }
}

/// Send one request and read the whole answer.
async fn attempt_once(
    client: &reqwest::Client,
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
    body: Option<&[u8]>,
    attempt: u32,
) -> DeliveryAttempt {
    let mut request = client
        .request(method.clone(), url.clone())
        .headers(headers.clone());
    if let Some(body) = body {
        request = request.body(body.to_vec());
    }
    let sent = Instant::now();
    match request.send().await {
        Ok(response) => {
            let status = response.status();
            let text = response
                .bytes()
                .await
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            DeliveryAttempt {
                attempt,
                status: Some(status),
                latency: sent.elapsed(),
                body: text,
                error: None,
                verdict: verdict(status),
                retry_in: None,
            }
        }
        Err(e) => {
            let what = if e.is_timeout() {
                "timeout".to_string()
            } else if e.is_connect() {
                format!("connection failed ({})", root_cause(&e))
            } else {
                format!("error ({})", root_cause(&e))
            };
            DeliveryAttempt {
                attempt,
                status: None,
                latency: sent.elapsed(),
                body: String::new(),
                error: Some(what),
                verdict: Verdict::Retry,
                retry_in: None,
            }
        }
    }
}

/// Deliver `body` with `method` to `url` as Tradecloud does, retrying per
/// `policy` (answers above 500, connection errors and timeouts). `on_attempt`
/// hears of each attempt as it ends (with [`DeliveryAttempt::retry_in`] set
/// when another follows).
pub async fn deliver(
    policy: &RetryPolicy,
    client: &reqwest::Client,
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
    body: Option<&[u8]>,
    mut on_attempt: impl FnMut(&DeliveryAttempt),
) -> Delivery {
    let mut attempts = Vec::new();
    let finished = policy
        .run(
            |n| async move {
                let outcome = attempt_once(client, method, url, headers, body, n).await;
                match outcome.verdict {
                    Verdict::Delivered => Attempt::Done(outcome),
                    Verdict::Refused => Attempt::Fail(outcome),
                    Verdict::Retry => Attempt::Retry {
                        error: outcome,
                        after: None,
                    },
                }
            },
            |retry| {
                let mut outcome = retry.error.clone();
                outcome.retry_in = Some(retry.delay);
                on_attempt(&outcome);
                attempts.push(outcome);
            },
        )
        .await;
    let last = match finished.result {
        Ok(outcome) | Err(outcome) => outcome,
    };
    on_attempt(&last);
    attempts.push(last);
    Delivery { attempts }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_only_above_500() {
        assert_eq!(verdict(StatusCode::OK), Verdict::Delivered);
        assert_eq!(verdict(StatusCode::NO_CONTENT), Verdict::Delivered);
        assert_eq!(verdict(StatusCode::BAD_REQUEST), Verdict::Refused);
        assert_eq!(verdict(StatusCode::INTERNAL_SERVER_ERROR), Verdict::Refused);
        assert_eq!(verdict(StatusCode::BAD_GATEWAY), Verdict::Retry);
        assert_eq!(verdict(StatusCode::SERVICE_UNAVAILABLE), Verdict::Retry);
    }
}
