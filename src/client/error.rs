//! [`ClientError`]: what went wrong talking to Tradecloud, and what to do.

use std::fmt;
use std::path::PathBuf;

use reqwest::StatusCode;

use super::report::{AuthStep, CallReport};
use crate::api::common::types::ErrorResponse;
use crate::types::Party;

/// An error of the typed Tradecloud client.
///
/// Every message says what went wrong and what to do about it. Messages
/// never contain passwords or tokens.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The client is not configured correctly (missing credentials, a bad
    /// base URL, ...).
    #[error("{0}")]
    Config(String),

    /// Tradecloud answered `401 Unauthorized` even after a fresh login.
    #[error(
        "Tradecloud rejected the credentials of {username}: check the user name and password given \
         to the client (ClientBuilder::credentials; with Client::from_env, \
         TRADECLOUD_USERNAME/TRADECLOUD_PASSWORD) and that the user has the integration role (ask \
         support@tradecloud1.com to assign it)"
    )]
    Unauthorized {
        /// The e-mail address of the integration user.
        username: String,
    },

    /// Tradecloud answered `403 Forbidden`.
    #[error(
        "Tradecloud refused {username} access to {what} (403 Forbidden){}: {}",
        OptMessage(message),
        ForbiddenAdvice(*party)
    )]
    Forbidden {
        /// What was asked for, e.g. `order 7e1f5b2c`.
        what: String,
        /// The e-mail address of the integration user.
        username: String,
        /// Tradecloud's explanation, if any.
        message: Option<String>,
        /// The company that alone takes the refused operation
        /// ([`Operation::party`](crate::operation::Operation::party)), when
        /// only one does: the likely cause is the other company's user.
        party: Option<Party>,
    },

    /// Tradecloud answered `404 Not Found`: the order, shipment or
    /// document asked for, or one that a message or an order action names
    /// (its order, a line position), does not exist for this user.
    #[error(
        "{what}: not found at Tradecloud (404 Not Found){}: check the ids it names (order or \
         shipment id, line positions) and the environment (production or acceptance)",
        OptMessage(message)
    )]
    NotFound {
        /// What was asked for, e.g. `shipment 42` or `the approval of
        /// requests of order 42`.
        what: String,
        /// Tradecloud's explanation, if any.
        message: Option<String>,
    },

    /// Tradecloud answered `409 Conflict`: the order changed since the
    /// `version` the request was based on (the order actions that take a
    /// `version`, e.g. [`revert_completed_lines`](super::Orders::revert_completed_lines)).
    /// The request itself is right, but it was decided on an order that is
    /// no longer current: fetch the order again, decide again, and send
    /// with its current `version`. Not retried, and not
    /// [transient](ClientError::is_transient): the same request would be
    /// refused again.
    #[error(
        "Tradecloud refused {what} with 409 Conflict{}: the order changed since you read it: fetch \
         it again, decide, and send with the current version",
        OptMessage(message)
    )]
    Conflict {
        /// What was asked for, e.g. `reverting completed lines of order 7e1f5b2c`.
        what: String,
        /// Tradecloud's explanation, if any.
        message: Option<String>,
    },

    /// Tradecloud refused the request with another `4xx` status (`400`,
    /// `405`, `413`, `422`, ...; `401`, `403`, `404`, `409` and `429` have
    /// their own variants); it is not retried.
    #[error("Tradecloud rejected the request for {what} with {status}{}: fix the request; it is not retried", OptMessage(message))]
    Rejected {
        /// What was asked for.
        what: String,
        /// The HTTP status code.
        status: u16,
        /// Tradecloud's explanation, if any.
        message: Option<String>,
    },

    /// Tradecloud kept answering `429 Too Many Requests`.
    #[error(
        "Tradecloud kept answering 429 Too Many Requests for {what} ({}): lower the \
         client's rate limit (default 10 requests per second) or try again later",
        Attempts(*attempts)
    )]
    RateLimited {
        /// What was asked for.
        what: String,
        /// HTTP attempts made.
        attempts: u32,
    },

    /// Tradecloud kept answering with a server error (`5xx`).
    #[error(
        "Tradecloud is unavailable: {what} answered {status} after {}{}; queue the work \
         and try again later, or allow more retries",
        Attempts(*attempts),
        OptMessage(message)
    )]
    Unavailable {
        /// What was asked for.
        what: String,
        /// The last HTTP status code.
        status: u16,
        /// HTTP attempts made.
        attempts: u32,
        /// Tradecloud's explanation, if any.
        message: Option<String>,
    },

    /// Logging in or refreshing the tokens failed with something else than
    /// `401` (which is [`ClientError::Unauthorized`]). Transient only when
    /// the answer was `5xx`, `429` or `408` (the authentication service is
    /// unavailable); another status means the base URL does not lead to
    /// Tradecloud's API (`404`: it must end in `/v2`) or the credentials
    /// are refused (`403`), which no retry fixes.
    #[error(
        "Tradecloud's {step} failed with {status} after {}{} while asking for {what}: {}",
        Attempts(*attempts),
        OptMessage(message),
        AuthAdvice { step: *step, status: *status, base_url, username }
    )]
    AuthenticationFailed {
        /// The login or the refresh.
        step: AuthStep,
        /// What was asked for when the tokens were needed.
        what: String,
        /// The base URL the client was built with.
        base_url: String,
        /// The e-mail address of the integration user.
        username: String,
        /// The HTTP status code of the login's or refresh's answer (a `2xx`
        /// when the answer came but could not be used, e.g. without a
        /// `Set-Authorization` header).
        status: u16,
        /// HTTP attempts made.
        attempts: u32,
        /// Tradecloud's explanation, if any.
        message: Option<String>,
    },

    /// The request timed out, also after the retries.
    #[error("{what}: no answer from Tradecloud at {base_url} in time ({source}); check the network or raise the timeout")]
    Timeout {
        /// What was asked for.
        what: String,
        /// The base URL in use.
        base_url: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },

    /// No connection to Tradecloud could be made, also after the retries.
    #[error(
        "{what}: cannot connect to Tradecloud at {base_url} ({source}); {}",
        ConnectAdvice(*proxied)
    )]
    Connect {
        /// What was asked for.
        what: String,
        /// The base URL in use.
        base_url: String,
        /// Whether the client was built with a proxy
        /// ([`ClientBuilder::proxy`](super::ClientBuilder::proxy)).
        proxied: bool,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },

    /// Another HTTP-level error.
    #[error("{what}: HTTP error talking to {base_url}: {source}")]
    Http {
        /// What was asked for.
        what: String,
        /// The base URL in use (or the download host).
        base_url: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },

    /// Tradecloud answered with a body that does not fit the spec.
    #[error("{what}: Tradecloud's answer does not match the spec ({source}); please report it with the answer's body")]
    InvalidResponse {
        /// What was asked for.
        what: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },

    /// The request could not be built.
    #[error("{what}: invalid request: {message}")]
    InvalidRequest {
        /// What was asked for.
        what: String,
        /// The reason.
        message: String,
    },

    /// A message breaks a rule Tradecloud documents (no whitespace in a
    /// purchase order number, at most 500 lines, ...): found before
    /// anything was sent. Each [`Violation`](crate::types::Violation) names
    /// the member by its JSON path and the rule.
    #[error("{what} was not sent: it breaks Tradecloud's rules: {violations}; fix the message")]
    InvalidMessage {
        /// What was to be sent, e.g. `order PO123`.
        what: String,
        /// Every broken rule.
        violations: crate::types::Violations,
    },

    /// A call that is not safe to repeat
    /// ([`Resend::IfNotReceived`](super::Resend::IfNotReceived): an upload,
    /// deliveries to append, ...) failed after its request may have
    /// reached Tradecloud: a `5xx` answer, no answer in time, a connection
    /// lost while sending. It was not sent again, since Tradecloud may have
    /// processed it already; `advice` says how to find out or to send it
    /// safely.
    #[error("{what}: {reason}; it was not sent again, since Tradecloud may have processed it already: {advice}")]
    NotResent {
        /// Whether sending it again is safe (an upload: a second copy is
        /// stored, and only the objectId you attach is ever used); then
        /// the error is [transient](ClientError::is_transient).
        safe_to_send_again: bool,
        /// What was sent.
        what: String,
        /// What happened, e.g. `Tradecloud answered 503 Service Unavailable`.
        reason: String,
        /// The HTTP status code, when Tradecloud answered.
        status: Option<u16>,
        /// What to do before sending it again.
        advice: &'static str,
    },

    /// An answer that the spec does not describe.
    #[error(
        "{what}: unexpected answer {status} from Tradecloud{}",
        OptMessage(message)
    )]
    UnexpectedStatus {
        /// What was asked for.
        what: String,
        /// The HTTP status code.
        status: u16,
        /// The answer's message, if any.
        message: Option<String>,
    },

    /// The metadata of a document has no `downloadUrl`.
    #[error("the metadata of document {object_id} has no downloadUrl: the document has no file in Tradecloud's object storage")]
    NoDownloadUrl {
        /// The document's `objectId`.
        object_id: String,
    },

    /// The presigned download URL kept expiring before it could be used.
    #[error(
        "the download URL of document {object_id} expired {renewals} times in a row{}: check that this \
         machine's clock is right (presigned URLs live about a minute)",
        OptStatus(*status)
    )]
    DownloadUrlExpired {
        /// The document's `objectId`.
        object_id: String,
        /// Fresh URLs tried.
        renewals: u32,
        /// The storage's last answer, if the URL was tried.
        status: Option<u16>,
    },

    /// The file server refused or failed the download.
    #[error(
        "downloading {what} failed with {status} after {}{}: {}",
        Attempts(*attempts),
        OptMessage(message),
        DownloadAdvice { status: *status, what }
    )]
    DownloadFailed {
        /// The document or URL (without its query, which may hold a signature).
        what: String,
        /// The HTTP status code.
        status: u16,
        /// HTTP attempts made.
        attempts: u32,
        /// The server's message, if any.
        message: Option<String>,
    },

    /// The document's server cannot be reached in a way no retry fixes: its
    /// host name does not resolve, or the TLS handshake failed (a
    /// certificate this client does not trust, an expired one, one for
    /// another name). Tried once.
    #[error(
        "downloading {what} failed: {reason}; retrying cannot help: check the URL's host name, \
         the DNS, the proxy and the trusted certificates (ClientBuilder::add_root_certificate)"
    )]
    DownloadUnreachable {
        /// The document or URL (without its query).
        what: String,
        /// What happened (no URL query in it).
        reason: String,
    },

    /// The download broke off (connection lost, time-out, short body), also
    /// after the retries. No file was left under the final name.
    #[error("downloading {what} broke off after {}: {reason}; nothing was written under the final name, try again", Attempts(*attempts))]
    DownloadInterrupted {
        /// The document or URL (without its query).
        what: String,
        /// HTTP attempts made.
        attempts: u32,
        /// What happened (no URL in it).
        reason: String,
    },

    /// A file system operation failed.
    #[error("cannot {action} {}: {source}: {}", path.display(), IoAdvice(source.kind()))]
    Io {
        /// What was being done, e.g. `write`.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl ClientError {
    /// The HTTP status code behind this error, if there is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Unauthorized { .. } => Some(401),
            ClientError::Forbidden { .. } => Some(403),
            ClientError::NotFound { .. } => Some(404),
            ClientError::Conflict { .. } => Some(409),
            ClientError::RateLimited { .. } => Some(429),
            ClientError::Rejected { status, .. }
            | ClientError::Unavailable { status, .. }
            | ClientError::AuthenticationFailed { status, .. }
            | ClientError::UnexpectedStatus { status, .. }
            | ClientError::DownloadFailed { status, .. } => Some(*status),
            ClientError::DownloadUrlExpired { status, .. }
            | ClientError::NotResent { status, .. } => *status,
            ClientError::Timeout { source, .. }
            | ClientError::Connect { source, .. }
            | ClientError::Http { source, .. } => source.status().map(|s| s.as_u16()),
            _ => None,
        }
    }

    /// Whether trying the same thing later may succeed (Tradecloud, the
    /// network or a file server was unavailable), as opposed to an error
    /// that needs a fix.
    ///
    /// Transient: `429`, `408` and `5xx` answers (also to the login or
    /// refresh), time-outs, refused or broken connections, an expired
    /// download URL, an upload that was not sent again but may safely be
    /// ([`NotResent`](Self::NotResent) with `safe_to_send_again`). Not
    /// transient: other `4xx` answers (`404`, `403`, `401`, a `409`
    /// [`Conflict`](Self::Conflict); a login
    /// answered `404` or `403`: a wrong base URL or refused credentials), a
    /// host name that does not resolve, a refused TLS certificate
    /// ([`DownloadUnreachable`](Self::DownloadUnreachable) and its API-call
    /// kin [`Connect`](Self::Connect)), an answer that does not fit the spec,
    /// configuration and file-system errors, a message that breaks a rule
    /// ([`InvalidMessage`](Self::InvalidMessage)), and a call that was not
    /// sent again because sending it twice could apply it twice
    /// ([`NotResent`](Self::NotResent): check before trying again). The client has already
    /// retried transient failures by its [`RetryPolicy`](super::RetryPolicy);
    /// this says whether a later try (the next poll, a redelivery) may work.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::RateLimited { .. }
            | ClientError::Unavailable { .. }
            | ClientError::Timeout { .. }
            | ClientError::DownloadUrlExpired { .. }
            | ClientError::DownloadInterrupted { .. } => true,
            ClientError::Connect { source, .. } | ClientError::Http { source, .. } => {
                super::retry::is_transient_error(source)
            }
            ClientError::DownloadFailed { status, .. }
            | ClientError::AuthenticationFailed { status, .. } => {
                StatusCode::from_u16(*status).is_ok_and(super::retry::is_retryable_status)
            }
            ClientError::NotResent {
                safe_to_send_again, ..
            } => *safe_to_send_again,
            _ => false,
        }
    }
}

/// Formats `: message` when there is a message.
struct OptMessage<'a>(&'a Option<String>);

impl fmt::Display for OptMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(message) if !message.trim().is_empty() => write!(f, " ({})", message.trim()),
            _ => Ok(()),
        }
    }
}

/// What to check after a `403`: for an action only one company takes,
/// that the user is that company's.
struct ForbiddenAdvice(Option<Party>);

impl fmt::Display for ForbiddenAdvice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(party) => write!(
                f,
                "this is the {party}'s action (security/authorization.md: a company executes only \
                 its own side's actions); call it with the {party} company's integration user"
            ),
            None => f.write_str(
                "only an integration user of a company that is party to it may read it, and only \
                 the buyer's user may take the buyer's actions, the supplier's user the supplier's",
            ),
        }
    }
}

/// `1 attempt`, `3 attempts`.
struct Attempts(u32);

impl fmt::Display for Attempts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("1 attempt"),
            n => write!(f, "{n} attempts"),
        }
    }
}

/// What to do after a failed login or refresh, by its answer's status.
struct AuthAdvice<'a> {
    step: AuthStep,
    status: u16,
    base_url: &'a str,
    username: &'a str,
}

impl fmt::Display for AuthAdvice<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let AuthAdvice {
            step,
            status,
            base_url,
            username,
        } = *self;
        let path = format!("{}/authentication/{step}", base_url.trim_end_matches('/'));
        match status {
            408 | 429 | 500..=599 => f.write_str(
                "the authentication service may be down; try again later",
            ),
            404 | 405 => write!(
                f,
                "{path} is not Tradecloud's {step}, so the base URL {base_url} given to the client \
                 is probably wrong: it must be Tradecloud's API root, ending in /v2 (e.g. \
                 https://api.tradecloud1.com/v2, or Environment::Acceptance); retrying does not help"
            ),
            401 | 403 => write!(
                f,
                "Tradecloud refused the credentials of {username}: check the user name and password \
                 given to the client and that the user has the integration role (ask \
                 support@tradecloud1.com to assign it); retrying does not help"
            ),
            200..=299 => write!(
                f,
                "the answer is not one of Tradecloud's, so the base URL {base_url} given to the \
                 client probably does not lead to Tradecloud's API (it must end in /v2); retrying \
                 does not help"
            ),
            _ => write!(
                f,
                "{path} refused the {step}; check the base URL {base_url} and the credentials given \
                 to the client; retrying does not help"
            ),
        }
    }
}

/// What to check when no connection could be made.
struct ConnectAdvice(bool);

impl fmt::Display for ConnectAdvice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 {
            f.write_str(
                "check that the proxy given to the client (ClientBuilder::proxy) is running and \
                 reachable, then the network and the base URL given to the client",
            )
        } else {
            f.write_str(
                "check the network (and a proxy from HTTPS_PROXY/HTTP_PROXY, if one is set) and \
                 the base URL given to the client (ClientBuilder::base_url or environment; with \
                 Client::from_env, TRADECLOUD_BASE_URL or TRADECLOUD_ENV)",
            )
        }
    }
}

/// What to do after a file system operation failed, by its kind.
struct IoAdvice(std::io::ErrorKind);

impl fmt::Display for IoAdvice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use std::io::ErrorKind as K;
        f.write_str(match self.0 {
            K::NotFound => "check the path (relative paths start at the working directory)",
            K::PermissionDenied => "check the permissions of the file and its directory",
            K::StorageFull | K::QuotaExceeded => "free some disk space and try again",
            _ => "check the path, its permissions and the free disk space",
        })
    }
}

/// What to do after a download the file server refused or failed.
struct DownloadAdvice<'a> {
    status: u16,
    what: &'a str,
}

impl fmt::Display for DownloadAdvice<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An objectId's download is named `document <objectId>`, a plain
        // URL's by the URL.
        let object = self.what.starts_with("document ");
        match (self.status, object) {
            (404 | 410, true) => f.write_str(
                "the file is gone from Tradecloud's object storage or the objectId is wrong: fetch \
                 the order or shipment again and download the objectId its documents name now \
                 (a replaced document has a new one); retrying the same objectId does not help",
            ),
            (404 | 410, false) => f.write_str(
                "the file is gone from that server or the URL is wrong: fetch the order or shipment \
                 again for the document's current url, or ask the company that attached it; \
                 retrying the same URL does not help",
            ),
            (401 | 403, false) => f.write_str(
                "that server refuses this client: the document's url is on the buyer's or \
                 supplier's own server, which needs its own access; ask the company that attached it \
                 (retrying does not help)",
            ),
            (408 | 429 | 500..=599, _) => f.write_str("the file server is unavailable; try again later"),
            _ => f.write_str("the file server refused the request; retrying does not help"),
        }
    }
}

struct OptStatus(Option<u16>);

impl fmt::Display for OptStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(status) => write!(f, " (the storage answered {status})"),
            None => Ok(()),
        }
    }
}

/// Context for turning a generated client's error into a [`ClientError`].
pub(crate) struct ErrorContext<'a> {
    pub(crate) what: String,
    pub(crate) username: &'a str,
    pub(crate) base_url: &'a str,
    /// Whether the client was built with a proxy.
    pub(crate) proxied: bool,
}

impl ErrorContext<'_> {
    /// Converts an error of a generated client, with what the pipeline
    /// reported about the call.
    pub(crate) async fn convert(
        &self,
        error: progenitor_client::Error<ErrorResponse>,
        report: CallReport,
    ) -> ClientError {
        use progenitor_client::Error;
        // A failed login or refresh: its own status, which the pipeline
        // keeps in the report (its answer stands in with 502 when that
        // status was a success).
        let status_of = |answered: StatusCode| match (report.auth_step, report.status) {
            (Some(_), Some(status)) => status,
            _ => answered,
        };
        match error {
            Error::ErrorResponse(answer) => {
                let status = status_of(answer.status());
                self.status_error(status, report, answer.into_inner().message)
            }
            Error::UnexpectedResponse(response) => {
                let status = status_of(response.status());
                let body = response.bytes().await.unwrap_or_default();
                let message = serde_json::from_slice::<ErrorResponse>(&body)
                    .ok()
                    .and_then(|e| e.message)
                    .or_else(|| {
                        let text = String::from_utf8_lossy(&body).trim().to_owned();
                        (!text.is_empty()).then_some(text)
                    });
                self.status_error(status, report, message)
            }
            Error::CommunicationError(source)
            | Error::ResponseBodyError(source)
            | Error::InvalidUpgrade(source) => self.transport_error(source),
            Error::InvalidResponsePayload(_, source) => ClientError::InvalidResponse {
                what: self.what.clone(),
                source,
            },
            Error::InvalidRequest(message) | Error::Custom(message) => {
                ClientError::InvalidRequest {
                    what: self.what.clone(),
                    message,
                }
            }
        }
    }

    pub(crate) fn transport_error(&self, source: reqwest::Error) -> ClientError {
        let what = self.what.clone();
        let base_url = self.base_url.to_owned();
        if source.is_timeout() {
            ClientError::Timeout {
                what,
                base_url,
                source,
            }
        } else if source.is_connect() {
            ClientError::Connect {
                what,
                base_url,
                proxied: self.proxied,
                source,
            }
        } else {
            ClientError::Http {
                what,
                base_url,
                source,
            }
        }
    }

    pub(crate) fn status_error(
        &self,
        status: StatusCode,
        report: CallReport,
        message: Option<String>,
    ) -> ClientError {
        let what = self.what.clone();
        let attempts = report.attempts();
        let code = status.as_u16();
        match (report.auth_step, code) {
            (_, 401) => ClientError::Unauthorized {
                username: self.username.to_owned(),
            },
            (Some(step), _) => ClientError::AuthenticationFailed {
                step,
                what,
                base_url: self.base_url.to_owned(),
                username: self.username.to_owned(),
                status: code,
                attempts,
                message,
            },
            (None, 403) => ClientError::Forbidden {
                what,
                username: self.username.to_owned(),
                message,
                party: None,
            },
            (None, 404) => ClientError::NotFound { what, message },
            (None, 409) => ClientError::Conflict { what, message },
            (None, 429) => ClientError::RateLimited { what, attempts },
            (None, 500..=599) => ClientError::Unavailable {
                what,
                status: code,
                attempts,
                message,
            },
            (None, 400..=499) => ClientError::Rejected {
                what,
                status: code,
                message,
            },
            (None, _) => ClientError::UnexpectedStatus {
                what,
                status: code,
                message,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> ErrorContext<'static> {
        ErrorContext {
            what: "order 42".into(),
            username: "integration@example.com",
            base_url: "http://x/v2",
            proxied: false,
        }
    }

    #[test]
    fn messages_say_what_to_do() {
        let once = CallReport::default();
        let error = context().status_error(StatusCode::UNAUTHORIZED, once, None);
        assert_eq!(
            error.to_string(),
            "Tradecloud rejected the credentials of integration@example.com: check the user name \
             and password given to the client (ClientBuilder::credentials; with Client::from_env, \
             TRADECLOUD_USERNAME/TRADECLOUD_PASSWORD) and that the user has the integration role \
             (ask support@tradecloud1.com to assign it)"
        );
        let six = CallReport {
            attempts: 6,
            auth_step: None,
            status: None,
        };
        let error =
            context().status_error(StatusCode::SERVICE_UNAVAILABLE, six, Some("down".into()));
        assert!(matches!(
            error,
            ClientError::Unavailable {
                attempts: 6,
                status: 503,
                ..
            }
        ));
        assert!(
            error
                .to_string()
                .contains("after 6 attempts (down); queue the work"),
            "{error}"
        );
        assert!(error.is_transient());
        let error = context().status_error(StatusCode::BAD_REQUEST, once, Some("limit".into()));
        assert!(matches!(error, ClientError::Rejected { status: 400, .. }));
        assert!(!error.is_transient());
        let error = context().status_error(StatusCode::NOT_FOUND, once, None);
        assert_eq!(error.status(), Some(404));
        assert!(
            error
                .to_string()
                .starts_with("order 42: not found at Tradecloud"),
            "{error}"
        );
        let login = CallReport {
            attempts: 2,
            auth_step: Some(AuthStep::Login),
            status: None,
        };
        let error = context().status_error(StatusCode::INTERNAL_SERVER_ERROR, login, None);
        assert!(
            matches!(
                error,
                ClientError::AuthenticationFailed {
                    step: AuthStep::Login,
                    attempts: 2,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with("Tradecloud's login failed with 500 after 2 attempts"),
            "{error}"
        );
        assert!(error.is_transient());
    }

    #[test]
    fn a_404_of_an_order_action_names_the_ids_to_check_not_the_action_as_missing() {
        // An order action answered 404 for a line the order does not have:
        // the action is not what "does not exist", the line is.
        let context = ErrorContext {
            what: "the approval of requests of order 42".into(),
            ..context()
        };
        let error = context.status_error(
            StatusCode::NOT_FOUND,
            CallReport::default(),
            Some("order 42 has no line at position 0009".into()),
        );
        assert!(matches!(error, ClientError::NotFound { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            "the approval of requests of order 42: not found at Tradecloud (404 Not Found) \
             (order 42 has no line at position 0009): check the ids it names (order or shipment \
             id, line positions) and the environment (production or acceptance)"
        );
    }

    #[test]
    fn a_conflict_says_to_fetch_the_order_again() {
        let once = CallReport::default();
        let error = context().status_error(
            StatusCode::CONFLICT,
            once,
            Some("order 42 is at version 3, not version 2".into()),
        );
        assert!(
            matches!(&error, ClientError::Conflict { message: Some(m), .. } if m.contains("version 3")),
            "{error:?}"
        );
        assert_eq!(error.status(), Some(409));
        assert!(!error.is_transient());
        assert_eq!(
            error.to_string(),
            "Tradecloud refused order 42 with 409 Conflict (order 42 is at version 3, not version \
             2): the order changed since you read it: fetch it again, decide, and send with the \
             current version"
        );
        // The other 4xx answers are still the request's fault.
        let error = context().status_error(StatusCode::UNPROCESSABLE_ENTITY, once, None);
        assert!(matches!(error, ClientError::Rejected { status: 422, .. }));
        assert!(error.to_string().contains("fix the request"), "{error}");
    }

    #[test]
    fn one_attempt_is_singular() {
        let error = ClientError::DownloadInterrupted {
            what: "document 1".into(),
            attempts: 1,
            reason: "reset".into(),
        };
        assert!(
            error.to_string().contains("after 1 attempt: reset"),
            "{error}"
        );
        let error = ClientError::RateLimited {
            what: "order 42".into(),
            attempts: 1,
        };
        assert!(error.to_string().contains("(1 attempt)"), "{error}");
    }

    #[test]
    fn a_login_refused_for_good_is_not_transient() {
        let once = CallReport {
            attempts: 1,
            auth_step: Some(AuthStep::Login),
            status: None,
        };
        for status in [
            StatusCode::NOT_FOUND,
            StatusCode::FORBIDDEN,
            StatusCode::BAD_REQUEST,
        ] {
            let error = context().status_error(status, once, None);
            assert!(!error.is_transient(), "{error}");
            assert!(error.to_string().contains("does not help"), "{error}");
        }
        let error = context().status_error(StatusCode::NOT_FOUND, once, None);
        assert!(
            error.to_string().contains(
                "http://x/v2/authentication/login is not Tradecloud's login, so the base URL \
                 http://x/v2 given to the client is probably wrong"
            ),
            "{error}"
        );
        for status in [StatusCode::BAD_GATEWAY, StatusCode::TOO_MANY_REQUESTS] {
            assert!(context().status_error(status, once, None).is_transient());
        }
    }

    #[test]
    fn a_missing_document_says_what_to_do() {
        let gone = |what: &str, status| ClientError::DownloadFailed {
            what: what.into(),
            status,
            attempts: 1,
            message: None,
        };
        let error = gone("document 67aa8ece", 404);
        assert!(
            error
                .to_string()
                .contains("the objectId is wrong: fetch the order or shipment again"),
            "{error}"
        );
        assert!(!error.is_transient());
        let error = gone("https://buyer.example/manual.pdf", 410);
        assert!(error.to_string().contains("the URL is wrong"), "{error}");
        let error = gone("https://buyer.example/manual.pdf", 503);
        assert!(error.to_string().contains("try again later"), "{error}");
        assert!(error.is_transient());
    }

    #[test]
    fn a_file_error_says_what_to_do() {
        let io = |kind: std::io::ErrorKind| ClientError::Io {
            action: "read",
            path: "/nonexistent/file.pdf".into(),
            source: kind.into(),
        };
        let error = io(std::io::ErrorKind::NotFound);
        assert!(
            error
                .to_string()
                .starts_with("cannot read /nonexistent/file.pdf: entity not found: check the path"),
            "{error}"
        );
        let error = io(std::io::ErrorKind::PermissionDenied);
        assert!(
            error
                .to_string()
                .ends_with(": check the permissions of the file and its directory"),
            "{error}"
        );
    }

    #[test]
    fn a_not_resent_error_is_transient_when_sending_again_is_safe() {
        let error = |safe_to_send_again| ClientError::NotResent {
            safe_to_send_again,
            what: "a.pdf".into(),
            reason: "Tradecloud answered 503".into(),
            status: Some(503),
            advice: "uploading the file again is safe",
        };
        assert!(error(true).is_transient());
        assert!(!error(false).is_transient());
    }
}
