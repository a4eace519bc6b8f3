//! What the pipeline learns about a call that its answer cannot carry: how
//! many HTTP attempts it took and whether its error comes from the login or
//! refresh it needed. [`ClientError`](super::ClientError) names both.
//!
//! The generated code turns an answer into a `ResponseValue` or a
//! `progenitor_client::Error`, keeping only status, headers and body; so the
//! pipeline hands these facts over beside the answer, typed: a typed call
//! runs inside [`capture`], and the pipeline [`record`]s into it. A call
//! outside `capture` (a bare generated client) records nothing. A login or
//! refresh made for a call is captured on its own (the token store does
//! that), so it never overwrites the report of the call that needed it.

use std::cell::Cell;
use std::fmt;
use std::future::Future;

/// The login or refresh that failed while a call needed tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthStep {
    /// `GET /authentication/login` (Basic auth).
    Login,
    /// `GET /authentication/refresh` (the `Refresh-Token` header).
    Refresh,
}

impl AuthStep {
    /// `login` or `refresh`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthStep::Login => "login",
            AuthStep::Refresh => "refresh",
        }
    }
}

impl fmt::Display for AuthStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one call went, beyond its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct CallReport {
    /// HTTP attempts (0 when nothing was recorded).
    pub(crate) attempts: u32,
    /// Set when the answer is the failed login's or refresh's, not the call's.
    pub(crate) auth_step: Option<AuthStep>,
    /// The status of the last answer, when one came (also when its body
    /// could not be read).
    pub(crate) status: Option<reqwest::StatusCode>,
}

impl CallReport {
    /// The attempts, counting a call that recorded nothing as one.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts.max(1)
    }
}

tokio::task_local! {
    static REPORT: Cell<CallReport>;
}

/// Runs `call` and returns its output with what the pipeline recorded
/// about it (the last call's report when `call` made several).
pub(crate) async fn capture<F: Future>(call: F) -> (F::Output, CallReport) {
    REPORT
        .scope(Cell::new(CallReport::default()), async move {
            let output = call.await;
            let report = REPORT.try_with(Cell::get).unwrap_or_default();
            (output, report)
        })
        .await
}

/// Records how the current call went, when it runs inside [`capture`].
pub(crate) fn record(report: CallReport) {
    let _ = REPORT.try_with(|cell| cell.set(report));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_report_reaches_its_own_capture_only() {
        let (inner, outer) = capture(async {
            record(CallReport {
                attempts: 3,
                auth_step: None,
                status: None,
            });
            let ((), inner) = capture(async {
                record(CallReport {
                    attempts: 2,
                    auth_step: Some(AuthStep::Login),
                    status: None,
                })
            })
            .await;
            inner
        })
        .await;
        assert_eq!(inner.auth_step, Some(AuthStep::Login));
        assert_eq!(inner.attempts, 2);
        assert_eq!(
            outer,
            CallReport {
                attempts: 3,
                auth_step: None,
                status: None,
            }
        );
        // Outside any capture, recording is a no-op.
        record(CallReport::default());
        assert_eq!(CallReport::default().attempts(), 1);
    }
}
