//! `tradecloud doctor`: check a deployed webhook endpoint from the outside,
//! as Tradecloud (and SSL Labs, which Tradecloud's set-up pages point to)
//! would, and say what to fix. It works against any receiver.
//!
//! The checks, in order (a failed step skips those that need it):
//!
//! | id | what | passes when |
//! |---|---|---|
//! | `url` | the URL | `https://` (Tradecloud calls nothing else) |
//! | `dns` | the host name | it resolves |
//! | `tcp` | the port | one of its addresses accepts a connection |
//! | `tls.modern` | TLS 1.2 and 1.3 (rustls handshakes; a port that answers plain HTTP, also without a status line (asked again in plain HTTP), or nothing, is named so and ends the run) | at least one is offered |
//! | `tls.legacy` | TLS 1.1, 1.0, SSL 3.0 (hand-built ClientHellos; skipped when no TLS version at all is accepted) | none is accepted |
//! | `cert.trust` | the chain against Mozilla's roots (and `--ca-file`), apart from the leaf's dates (an expired intermediate fails here) | trusted |
//! | `cert.self_signed` | the leaf | not self-signed |
//! | `cert.chain` | each certificate issued by the next | complete; a missing intermediate is named |
//! | `cert.name` | subject alternative names | the URL's host is one |
//! | `cert.expiry` | notBefore, notAfter | valid now, more than 7 days left (a warning under 30) |
//! | `cert.key` | the public key | RSA ≥ 2048 bits or ECDSA P-256/384/521 |
//! | `auth.missing`, `auth.wrong` | POST without / with wrong credentials | `401` (any other answer is named: `5xx` not ready or failing, `3xx` a redirect, `404`/`405` a wrong URL, `2xx`/`4xx` credentials not required) |
//! | `auth.given` | POST with the given credentials | `2xx` or a `4xx` but `401`/`403`/`404` (skipped on `3xx`, `404`, `5xx`, and on `405` without a `401` before: they say nothing about the credentials) |
//! | `route.post` | the answer to an empty body | `400`/`415`/`422`: the route exists, nothing delivered (`405`: the URL to configure instead is named when its parent path takes POSTs) |
//! | `auth.get`, `route.get` | the same for GET (`--get`) | as for POST |
//! | `ready` | `GET /readyz` at the URL's origin, where `tradecloud serve` says whether an event can be stored now (the probes above are answered before a receiver needs its store) | `200` ready; a warning it carries (a nearly full disk, refused `[tradecloud]` credentials) warns; its `503` problem document fails with the reason given (every event would be answered `503`); anything else (`404`, another product's answer, no answer) skips |
//! | `event.delivered` | a test event (`--send-test-event`) | `2xx` |
//!
//! The endpoint is acceptable when no check fails; warnings do not count.
//!
//! Every step is bounded by [`Options::timeout`], and the TLS probes run at
//! the same time: a port that accepts connections and never answers ends
//! the run after about one timeout (at most three), and after an HTTP
//! request that timed out the remaining HTTP checks are skipped. The
//! authenticated probes store nothing in `tradecloud serve`'s inbox (see
//! the `Content-Encoding` of the probe in `http.rs`). The probes without
//! the given credentials (`auth.missing`, `auth.wrong`, `auth.get`) carry
//! a `tradecloud-doctor-proof` header: an HMAC of a fresh nonce and the
//! time, keyed with the SHA-256 of the given Basic password or Bearer token,
//! so that `tradecloud serve` counts them as `doctor_probe`, not as failed
//! logins (`reason="unauthorized"`, the alert). Only the holder of the
//! secret can make one, each counts once and only within 5 minutes of the
//! receiver's clock; nothing of the secret is sent. An OAuth (Entra)
//! receiver shares no secret with the doctor: with a Bearer token that is a
//! JWT (the one fetched with `Credentials::Entra`, or given) the doctor
//! sends its probe with the token first, and `tradecloud serve` takes
//! proofs keyed with an access token it accepted in the last five minutes.
//! Any other token cannot be an access token: it is sent once, for
//! `auth.given`.
//!
//! ```no_run
//! # async fn demo() {
//! use tradecloud::doctor::{Credentials, Options};
//!
//! let mut options = Options::new("https://webhooks.example.com/tradecloud/order");
//! options.credentials = Credentials::Basic { username: "tradecloud".into(), password: "secret".into() };
//! let report = tradecloud::doctor::run(&options).await;
//! print!("{}", report.render_text());
//! std::process::exit(if report.accepted { 0 } else { 1 });
//! # }
//! ```

pub mod cert;
mod http;
pub mod tls;

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::CertificateDer;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// As Tradecloud needs it.
    Pass,
    /// Works, but should be improved.
    Warn,
    /// Tradecloud would not deliver (or it could not be checked).
    Fail,
    /// Not checked, because an earlier check failed or it was not asked for.
    Skip,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable identifier (`cert.chain`, ...).
    pub id: String,
    /// The outcome.
    pub status: Status,
    /// What was found.
    pub summary: String,
    /// How to fix it (for `warn` and `fail`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn new(id: &str, status: Status, summary: impl Into<String>, fix: Option<String>) -> Check {
        Check {
            id: id.to_string(),
            status,
            summary: summary.into(),
            fix,
        }
    }
    pub(crate) fn pass(id: &str, summary: impl Into<String>) -> Check {
        Check::new(id, Status::Pass, summary, None)
    }
    pub(crate) fn warn(id: &str, summary: impl Into<String>, fix: impl Into<String>) -> Check {
        Check::new(id, Status::Warn, summary, Some(fix.into()))
    }
    pub(crate) fn fail(id: &str, summary: impl Into<String>, fix: impl Into<String>) -> Check {
        Check::new(id, Status::Fail, summary, Some(fix.into()))
    }
    pub(crate) fn skip(id: &str, summary: impl Into<String>) -> Check {
        Check::new(id, Status::Skip, summary, None)
    }
}

/// How to authenticate, as configured in the Tradecloud portal.
#[derive(Clone, Default)]
pub enum Credentials {
    /// None given (the authentication checks then fail: Tradecloud always
    /// authenticates).
    #[default]
    None,
    /// HTTP Basic.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// A static Bearer token.
    Bearer(String),
    /// OAuth 2.0 client credentials from the Microsoft identity platform:
    /// a token is fetched and sent as Bearer, as Tradecloud does.
    Entra {
        /// The token endpoint (`https://login.microsoftonline.com/TENANT/oauth2/v2.0/token`).
        token_url: String,
        /// Application (client) id.
        client_id: String,
        /// Client secret.
        client_secret: String,
        /// Scope (`https://your-webhook-endpoint/.default`).
        scope: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credentials::None => "None",
            Credentials::Basic { .. } => "Basic(***)",
            Credentials::Bearer(_) => "Bearer(***)",
            Credentials::Entra { .. } => "Entra(***)",
        })
    }
}

/// What to check.
#[derive(Debug, Clone)]
pub struct Options {
    /// The webhook URL as configured in the portal.
    pub url: String,
    /// The credentials configured in the portal.
    pub credentials: Credentials,
    /// Extra trusted roots (`--ca-file`), besides Mozilla's.
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Also check GET on the URL.
    pub get: bool,
    /// Deliver this event (content type, body) at the end.
    pub test_event: Option<(String, String)>,
    /// Timeout of each connection and request.
    pub timeout: Duration,
}

impl Options {
    /// Check `url` without credentials, extra roots, GET or a test event.
    pub fn new(url: impl Into<String>) -> Options {
        Options {
            url: url.into(),
            credentials: Credentials::None,
            extra_roots: Vec::new(),
            get: false,
            test_event: None,
            timeout: Duration::from_secs(10),
        }
    }
}

/// The result of [`run`].
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The URL checked.
    pub url: String,
    /// Whether Tradecloud would accept the endpoint: no check failed.
    pub accepted: bool,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

impl Report {
    fn finish(url: &str, checks: Vec<Check>) -> Report {
        Report {
            url: url.to_string(),
            accepted: checks.iter().all(|c| c.status != Status::Fail),
            checks,
        }
    }

    /// The check with this id.
    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// A line per check, the fix under each failure or warning, and the verdict.
    pub fn render_text(&self) -> String {
        let width = self.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
        let mut out = format!("tradecloud doctor {}\n\n", self.url);
        for c in &self.checks {
            out.push_str(&format!(
                "{}  {:width$}  {}\n",
                c.status.label(),
                c.id,
                c.summary
            ));
            if let Some(fix) = &c.fix {
                out.push_str(&format!("      {:width$}  fix: {fix}\n", ""));
            }
        }
        let count = |s| self.checks.iter().filter(|c| c.status == s).count();
        out.push_str(&format!(
            "\n{} ({} passed, {} failed, {} warnings, {} skipped)\n",
            if self.accepted {
                "Tradecloud would accept this endpoint."
            } else {
                "Tradecloud would NOT accept this endpoint: fix the FAIL lines above."
            },
            count(Status::Pass),
            count(Status::Fail),
            count(Status::Warn),
            count(Status::Skip),
        ));
        out
    }
}

/// Run every check against `options.url`.
pub async fn run(options: &Options) -> Report {
    let mut checks = Vec::new();
    let url = match url::Url::parse(&options.url) {
        Ok(url) => url,
        Err(e) => {
            checks.push(Check::fail("url", format!("not a URL: {e}"), "give the webhook URL as configured in the portal, e.g. https://webhooks.example.com/tradecloud/order"));
            return Report::finish(&options.url, checks);
        }
    };
    if url.scheme() != "https" {
        checks.push(Check::fail(
            "url",
            format!(
                "{}:// is not accepted: Tradecloud calls https:// URLs only",
                url.scheme()
            ),
            "serve the webhook over HTTPS with a certificate from a public CA",
        ));
        return Report::finish(&options.url, checks);
    }
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        checks.push(Check::fail(
            "url",
            "the URL has no host",
            "give the full webhook URL",
        ));
        return Report::finish(&options.url, checks);
    };
    let host = host.trim_matches(['[', ']']).to_string();
    checks.push(Check::pass("url", "https:// URL"));

    // DNS
    let lookup = tokio::time::timeout(
        options.timeout,
        tokio::net::lookup_host((host.as_str(), port)),
    )
    .await
    .unwrap_or_else(|_| {
        Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no answer within {} s", options.timeout.as_secs()),
        ))
    });
    let addrs: Vec<SocketAddr> = match lookup {
        Ok(addrs) => addrs.collect(),
        Err(e) => {
            checks.push(Check::fail("dns", format!("{host} does not resolve: {e}"), format!("create a DNS A/AAAA record for {host} pointing to the receiver's public address")));
            return Report::finish(&options.url, checks);
        }
    };
    if host.parse::<std::net::IpAddr>().is_ok() {
        checks.push(Check::warn(
            "dns",
            format!("{host} is an IP address"),
            "use a DNS name: public CAs issue certificates for names, and the name can move with the service",
        ));
    } else {
        let list: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
        checks.push(Check::pass(
            "dns",
            format!("{host} resolves to {}", list.join(", ")),
        ));
    }

    // TCP: every address at once (a name with several silent addresses
    // costs one timeout); the first that accepts, in DNS order.
    let attempts = futures_util::future::join_all(addrs.iter().map(|addr| async move {
        match tokio::time::timeout(options.timeout, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => Ok(*addr),
            Ok(Err(e)) => Err(format!("{addr}: {e}")),
            Err(_) => Err(format!("{addr}: timed out")),
        }
    }))
    .await;
    let reached = attempts.iter().find_map(|a| a.as_ref().ok()).copied();
    let errors: Vec<String> = attempts.into_iter().filter_map(Result::err).collect();
    let Some(addr) = reached else {
        checks.push(Check::fail(
            "tcp",
            format!("no connection to port {port}: {}", errors.join("; ")),
            format!("check that the receiver runs and listens on a public address (0.0.0.0), and that firewalls and port forwarding let port {port} through"),
        ));
        return Report::finish(&options.url, checks);
    };
    checks.push(Check::pass("tcp", format!("connected to {addr}")));

    // What the port speaks: plain HTTP and a silent port are named as such
    // (and end the run: nothing below could pass).
    let mut sniffed = tls::sniff(addr, &host, options.timeout).await;
    let mut not_tls = None;
    if let tls::Sniffed::Other(_) | tls::Sniffed::Closed = &sniffed {
        // Not TLS, or nothing: asked in plain HTTP, an HTTP server says so.
        if let Some(line) = tls::plain_http(addr, &host, options.timeout).await {
            sniffed = tls::Sniffed::PlainHttp(line);
        } else if let tls::Sniffed::Other(bytes) = &sniffed {
            not_tls = Some(bytes.clone());
        }
    }
    match sniffed {
        tls::Sniffed::PlainHttp(line) => {
            checks.push(Check::fail(
                "tls.modern",
                format!("this port speaks plain HTTP; Tradecloud requires HTTPS (it answered `{line}`, not TLS)"),
                format!("serve HTTPS on port {port} (tradecloud serve always does; behind a proxy, terminate TLS there), or correct the port in the URL"),
            ));
            checks.push(Check::skip("tls.legacy", "not a TLS port"));
            return Report::finish(&options.url, checks);
        }
        tls::Sniffed::Silent => {
            checks.push(Check::fail(
                "tls.modern",
                format!(
                    "no answer to a TLS ClientHello within {} s: the port accepts connections but sends nothing",
                    options.timeout.as_secs()
                ),
                format!("check what listens on port {port} (a firewall or load balancer that accepts and then drops?), and that the receiver runs"),
            ));
            checks.push(Check::skip("tls.legacy", "no answer"));
            return Report::finish(&options.url, checks);
        }
        tls::Sniffed::Tls | tls::Sniffed::Closed | tls::Sniffed::Other(_) => {}
    }

    // TLS versions: every probe at once, so that the run takes one timeout.
    let host_name: &str = &host;
    let legacy_probes = futures_util::future::join_all(tls::LEGACY_VERSIONS.iter().map(
        |&(version, name)| async move {
            let accepted = tls::legacy_accepted(addr, host_name, version, options.timeout).await;
            (name, matches!(accepted, Ok(true)))
        },
    ));
    let (tls13, tls12, legacy_answers) = tokio::join!(
        tls::handshake(addr, &host, &rustls::version::TLS13, options.timeout),
        tls::handshake(addr, &host, &rustls::version::TLS12, options.timeout),
        legacy_probes,
    );
    let mut offered = Vec::new();
    if tls13.is_ok() {
        offered.push("TLS 1.3");
    }
    if tls12.is_ok() {
        offered.push("TLS 1.2");
    }
    let handshake = tls13.as_ref().or(tls12.as_ref()).ok().cloned();
    match &handshake {
        Some(h) => checks.push(Check::pass(
            "tls.modern",
            format!("{} offered (negotiated {}, {})", offered.join(" and "), h.version, h.suite),
        )),
        None => checks.push(Check::fail(
            "tls.modern",
            format!(
                "{}neither TLS 1.3 nor TLS 1.2 is offered (TLS 1.3: {}; TLS 1.2: {})",
                not_tls
                    .as_ref()
                    .map(|b| format!("the port answers a TLS ClientHello with bytes that are not TLS (`{b}`): "))
                    .unwrap_or_default(),
                tls13.as_ref().err().map(String::as_str).unwrap_or(""),
                tls12.as_ref().err().map(String::as_str).unwrap_or("")
            ),
            "serve HTTPS with TLS 1.2 and/or 1.3 on this port (tradecloud serve does; for a proxy: ssl_protocols TLSv1.2 TLSv1.3)",
        )),
    }
    let legacy: Vec<&str> = legacy_answers
        .into_iter()
        .filter(|(_, accepted)| *accepted)
        .map(|(name, _)| name)
        .collect();
    checks.push(if legacy.is_empty() && handshake.is_none() {
        // Refusing the old versions says nothing about a port without TLS.
        Check::skip(
            "tls.legacy",
            "no TLS version at all was accepted on this port",
        )
    } else if legacy.is_empty() {
        Check::pass("tls.legacy", "TLS 1.1, TLS 1.0 and SSL 3.0 refused")
    } else {
        Check::fail(
            "tls.legacy",
            format!("{} accepted: Tradecloud requires TLS 1.2 or 1.3, and audits (SSL Labs) cap the grade", legacy.join(", ")),
            "disable every protocol older than TLS 1.2 (tradecloud serve never offers them; nginx: ssl_protocols TLSv1.2 TLSv1.3)",
        )
    });

    // Certificate
    let Some(handshake) = handshake else {
        for id in ["cert.trust", "auth.missing"] {
            checks.push(Check::skip(id, "no TLS 1.2/1.3 handshake"));
        }
        return Report::finish(&options.url, checks);
    };
    let trust = cert::Trust::new(&options.extra_roots);
    checks.extend(cert::check(&handshake.chain, &host, &trust));

    // Authentication and routes
    let client = match http::client(&host, addr, options.timeout) {
        Ok(client) => client,
        Err(e) => {
            checks.push(Check::fail(
                "auth.missing",
                format!("cannot make an HTTP client: {e}"),
                "report this as a bug",
            ));
            return Report::finish(&options.url, checks);
        }
    };
    let sent = match http::credentials(&client, &options.credentials).await {
        Ok(sent) => sent,
        Err(e) => {
            checks.push(Check::fail("auth.given", e, "check --entra-token-url, --entra-client-id, --entra-client-secret and --entra-scope (the portal's values)"));
            return Report::finish(&options.url, checks);
        }
    };
    checks.extend(
        http::checks(
            &client,
            url.as_str(),
            &sent,
            options.get,
            options.test_event.as_ref(),
        )
        .await,
    );
    Report::finish(&options.url, checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_http_and_garbage_fail_first() {
        let report = run(&Options::new("http://localhost/tradecloud/order")).await;
        assert!(!report.accepted);
        assert_eq!(report.checks.len(), 1);
        assert!(report.render_text().contains("https:// URLs only"));
        let report = run(&Options::new("not a url")).await;
        assert!(!report.accepted);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["checks"][0]["status"], "fail");
    }

    #[tokio::test]
    async fn a_closed_port_is_named() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let report = run(&Options::new(format!("https://127.0.0.1:{port}/x"))).await;
        assert!(!report.accepted);
        assert_eq!(report.check("dns").unwrap().status, Status::Warn);
        assert_eq!(report.check("tcp").unwrap().status, Status::Fail);
    }
}
