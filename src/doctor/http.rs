//! The HTTP checks: authentication and routes, the way Tradecloud calls.
//!
//! To show that the given credentials pass authentication without
//! delivering an event, the probe POSTs an empty JSON body: a receiver
//! authenticates first (a request without valid credentials gets `401`
//! whatever its body) and then refuses the empty body with a `4xx`, which
//! Tradecloud never retries and nobody handles as an event. The probe with
//! the given credentials also carries `Content-Encoding:
//! x-tradecloud-doctor-probe` ([`PROBE_ENCODING`]), which `tradecloud serve`
//! refuses with `415` before reading the body: nothing is stored, so the
//! doctor leaves no `rejected` row in a live inbox. `tradecloud serve`
//! checks the method first: a URL that does not take POST (the GET-only
//! `/tradecloud/order/{orderId}`) answers the probe `405`, as it answers
//! every event, and the doctor fails it.
//!
//! An answer to the credential probes other than `401` is named for what it
//! is (`5xx`: not ready or failing; `3xx`: a redirect; `404`: a wrong path);
//! only a `2xx` or another `4xx` means that credentials are not required.
//!
//! A request that times out ends the HTTP checks: the rest are skipped, so
//! that a silent endpoint costs one timeout, not one per check.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{
    ALLOW, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE,
};
use reqwest::{Method, StatusCode};

use super::{Check, Credentials};

/// The credentials as they are sent.
#[derive(Debug, Clone)]
pub(crate) enum Sent {
    None,
    Basic(String, String),
    Bearer(String),
}

impl Sent {
    fn header(&self) -> Option<String> {
        match self {
            Sent::None => None,
            Sent::Basic(user, password) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )),
            Sent::Bearer(token) => Some(format!("Bearer {token}")),
        }
    }

    /// Credentials of the same kind that must be refused.
    fn wrong(&self) -> Sent {
        let noise: String = (0..16).map(|_| fastrand::alphanumeric()).collect();
        match self {
            Sent::Basic(user, _) => Sent::Basic(user.clone(), format!("wrong-{noise}")),
            Sent::Bearer(_) => Sent::Bearer(format!("wrong-{noise}")),
            Sent::None => Sent::Basic("tradecloud-doctor".into(), format!("wrong-{noise}")),
        }
    }
}

/// Turn the options' credentials into what is sent (Entra: fetch a token
/// with the client-credentials grant, as Tradecloud does).
pub(crate) async fn credentials(
    client: &reqwest::Client,
    given: &Credentials,
) -> Result<Sent, String> {
    Ok(match given {
        Credentials::None => Sent::None,
        Credentials::Basic { username, password } => {
            Sent::Basic(username.clone(), password.clone())
        }
        Credentials::Bearer(token) => Sent::Bearer(token.clone()),
        Credentials::Entra {
            token_url,
            client_id,
            client_secret,
            scope,
        } => {
            let form = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "client_credentials")
                .append_pair("client_id", client_id)
                .append_pair("client_secret", client_secret)
                .append_pair("scope", scope)
                .finish();
            let response = client
                .post(token_url)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await
                .map_err(|e| format!("cannot reach the token endpoint {token_url}: {e}"))?;
            let status = response.status();
            let body: serde_json::Value = response
                .json()
                .await
                .map_err(|e| format!("the token endpoint answered {status} without JSON: {e}"))?;
            match body.get("access_token").and_then(|t| t.as_str()) {
                Some(token) if status.is_success() => Sent::Bearer(token.to_string()),
                _ => {
                    return Err(format!(
                        "the token endpoint refused the client credentials ({status}): {}",
                        body.get("error_description")
                            .or_else(|| body.get("error"))
                            .and_then(|e| e.as_str())
                            .unwrap_or("no error description")
                    ))
                }
            }
        }
    })
}

/// The client for the HTTP checks: pinned to the probed address, and
/// indifferent to certificate problems (the certificate checks report
/// those; these checks still say what else is wrong).
pub(crate) fn client(
    host: &str,
    addr: SocketAddr,
    timeout: Duration,
) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .resolve(host, addr)
        .tls_danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .user_agent(concat!("tradecloud-doctor/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

struct Answer {
    status: StatusCode,
    challenge: bool,
    /// The `Allow` header of a `405`.
    allow: Option<String>,
    /// Where a redirect points, resolved against the URL.
    location: Option<String>,
}

impl Answer {
    /// `, to LOCATION` for a redirect that names its target.
    fn to_location(&self) -> String {
        self.location
            .as_ref()
            .map(|l| format!(", to {l}"))
            .unwrap_or_default()
    }
}

/// The header that makes the empty-body probes of `auth.given`,
/// `route.post` and `route.get` refusable without storing anything: a
/// `Content-Encoding` nobody implements. `tradecloud serve` checks the
/// credentials first, then the method (`405`), then refuses any encoded
/// body with `415` before reading or keeping it (so the probes leave no `rejected` row in its
/// inbox); a receiver that ignores the header refuses the empty body with
/// `400`. Either answer shows that the credentials passed and the route exists.
pub(crate) const PROBE_ENCODING: &str = "x-tradecloud-doctor-probe";

/// A request without an answer: why, and whether it timed out.
struct NoAnswer {
    text: String,
    timed_out: bool,
}

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Sends the checks' requests; after one that timed out, sends nothing more
/// (a silent endpoint would otherwise cost a timeout per check).
struct Prober<'a> {
    client: &'a reqwest::Client,
    url: &'a str,
    silent: bool,
    /// The given credentials: a request sent without them carries a proof
    /// that it is this doctor's probe ([`crate::probe_proof`]).
    given: &'a Sent,
}

impl Sent {
    /// The secret a receiver keeps a digest of: the Basic password or the
    /// Bearer token.
    fn secret(&self) -> Option<&str> {
        match self {
            Sent::None => None,
            Sent::Basic(_, password) => Some(password),
            Sent::Bearer(token) => Some(token),
        }
    }
}

impl Prober<'_> {
    async fn request(
        &mut self,
        method: Method,
        credentials: &Sent,
        body: Option<(&str, String)>,
        probe: bool,
    ) -> Result<Answer, NoAnswer> {
        let mut request = self.client.request(method, self.url);
        if let Some(header) = credentials.header() {
            request = request.header(AUTHORIZATION, header);
        }
        if probe {
            request = request.header(CONTENT_ENCODING, PROBE_ENCODING);
        }
        // Without the given credentials: prove that the refusal is this
        // probe's, so that `tradecloud serve` does not count it as a failed
        // login (its alert); nothing of the secret is sent.
        if let Some(secret) = self.given.secret() {
            if credentials.header() != self.given.header() {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                request = request.header(
                    crate::probe_proof::HEADER,
                    crate::probe_proof::make(secret.as_bytes(), now),
                );
            }
        }
        if let Some((content_type, body)) = body {
            request = request.header(CONTENT_TYPE, content_type).body(body);
        }
        let response = request.send().await.map_err(|e| {
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                let c_text = c.to_string();
                if !text.contains(&c_text) {
                    text.push_str(&format!(": {c_text}"));
                }
                cause = c.source();
            }
            if e.is_timeout() {
                self.silent = true;
            }
            NoAnswer {
                text,
                timed_out: e.is_timeout(),
            }
        })?;
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v: &reqwest::header::HeaderValue| {
                    String::from_utf8_lossy(v.as_bytes()).into_owned()
                })
        };
        let location = header(LOCATION).map(|location| {
            url::Url::parse(self.url)
                .and_then(|base| base.join(&location))
                .map(|u| u.to_string())
                .unwrap_or(location)
        });
        Ok(Answer {
            status: response.status(),
            challenge: response.headers().contains_key(WWW_AUTHENTICATE),
            allow: header(ALLOW),
            location,
        })
    }
}

const SILENT: &str = "not sent: an earlier request got no answer within the timeout";

fn empty_json() -> Option<(&'static str, String)> {
    Some(("application/json", String::new()))
}

/// A request that must be refused for lack of valid credentials.
fn refused(id: &str, what: &str, answer: Result<Answer, NoAnswer>) -> Check {
    match answer {
        Err(e) if e.timed_out => Check::fail(id, format!("{what}: no answer within the timeout ({e})"), "check that the receiver is running and answers HTTPS requests (a TLS proxy without a backend?)"),
        Err(e) => Check::fail(id, format!("{what}: no answer ({e})"), "check that the receiver is running and reachable"),
        Ok(a) if a.status == StatusCode::UNAUTHORIZED => Check::pass(
            id,
            format!(
                "{what}: 401{}",
                if a.challenge { " with WWW-Authenticate" } else { "" }
            ),
        ),
        Ok(a) if a.status == StatusCode::FORBIDDEN => Check::warn(
            id,
            format!("{what}: 403 (refused, but the webhook specs answer 401 to invalid credentials)"),
            "answer 401 Unauthorized to missing or wrong credentials",
        ),
        Ok(a) if a.status == StatusCode::NOT_FOUND => Check::fail(
            id,
            format!("{what}: 404, there is no webhook at this URL (wrong path)"),
            FIX_PATH,
        ),
        Ok(a) if a.status == StatusCode::METHOD_NOT_ALLOWED => Check::fail(
            id,
            format!(
                "{what}: 405, this URL does not take POST{}: Tradecloud POSTs every event, and does not retry a 4xx",
                a.allow.as_ref().map(|m| format!(" (Allow: {m})")).unwrap_or_default()
            ),
            FIX_PATH,
        ),
        Ok(a) if a.status.is_redirection() => Check::fail(
            id,
            format!("{what}: {}, a redirect{}: authentication not checked", a.status, a.to_location()),
            FIX_REDIRECT,
        ),
        Ok(a) if a.status == StatusCode::INTERNAL_SERVER_ERROR => Check::fail(
            id,
            format!("{what}: 500, the endpoint is failing: authentication not checked, and Tradecloud does not retry a 500 (an event answered so is lost)"),
            FIX_FAILING,
        ),
        Ok(a) if a.status.is_server_error() => Check::fail(
            id,
            format!("{what}: {}, the endpoint is not ready: authentication not checked (Tradecloud retries a status above 500, but delivers nothing until it is ready)", a.status),
            FIX_NOT_READY,
        ),
        Ok(a) if a.status.is_success() || a.status.is_client_error() => Check::fail(
            id,
            format!("{what}: {} instead of 401: the endpoint does not require valid credentials", a.status),
            "authenticate every webhook request before reading it (tradecloud serve: [auth]); answer 401 when the credentials are missing or wrong",
        ),
        Ok(a) => Check::fail(
            id,
            format!("{what}: unexpected {} instead of 401", a.status),
            "answer 401 to missing or wrong credentials, before anything else",
        ),
    }
}

const FIX_PATH: &str = "configure the URL of the receiver's POST webhook route \
    (tradecloud serve: order_path, /tradecloud/order, and shipment_path, /tradecloud/shipment)";
const FIX_REDIRECT: &str = "configure the final URL (where the redirect points) in the portal: \
    Tradecloud's documentation does not say that it follows redirects, and a redirected POST \
    commonly becomes a GET without its body";
const FIX_FAILING: &str = "check the receiver's log; answer 401 to missing or wrong credentials \
    before anything else, and 502/503/504 (which Tradecloud retries) to transient trouble";
const FIX_NOT_READY: &str = "check the receiver's log (store down? tradecloud serve with \
    [server.acme] still waiting for its certificate? a proxy without its backend?), then run \
    tradecloud doctor again";

/// How a route answers an empty body with valid credentials (`405`:
/// [`not_allowed`]).
fn route(id: &str, method: &str, answer: &Answer) -> Check {
    let status = answer.status;
    let code = status.as_u16();
    match code {
        400 | 415 | 422 => Check::pass(
            id,
            format!("{method} answered {status} to an empty body: the route exists, refuses an invalid event without a retry, and no event was delivered"),
        ),
        404 => Check::fail(id, format!("{method}: 404, there is no webhook at this path"), FIX_PATH),
        405 => not_allowed(id, method, answer, None),
        300..=399 => Check::fail(
            id,
            format!("{method} answered {status}, a redirect{}", answer.to_location()),
            FIX_REDIRECT,
        ),
        200..=299 => Check::warn(
            id,
            format!("{method} answered {status} to an empty body: an invalid delivery would count as delivered"),
            "answer 400 to a body that is not a webhook event",
        ),
        500 => Check::fail(
            id,
            format!("{method} answered 500 to an empty body: the endpoint is failing, or answers 500 to an invalid event; whether the credentials pass is not known (Tradecloud does not retry a 500)"),
            "check the receiver's log; answer 400 to a body that is not a webhook event, and 502/503/504 (which Tradecloud retries) to transient trouble",
        ),
        501..=599 => Check::fail(
            id,
            format!("{method} answered {status}: the endpoint is not ready (Tradecloud retries a status above 500, but delivers nothing until it is ready)"),
            FIX_NOT_READY,
        ),
        _ => Check::fail(id, format!("{method} answered {status}"), "answer 2xx to events, 4xx to invalid ones"),
    }
}

/// A `405` to `method`: every event Tradecloud sends to this URL would be
/// refused, and a `4xx` is never retried. `instead`: a URL that takes it.
fn not_allowed(id: &str, method: &str, answer: &Answer, instead: Option<&str>) -> Check {
    let allow = answer
        .allow
        .as_ref()
        .map(|m| format!(" (Allow: {m})"))
        .unwrap_or_default();
    Check::fail(
        id,
        format!("{method}: 405, this URL does not take {method}{allow}: Tradecloud would have every event refused, and does not retry a 4xx"),
        match instead {
            Some(url) => format!("configure {url} in the portal instead: it takes {method}"),
            None if method == "POST" => FIX_PATH.to_string(),
            None => format!("accept {method} on the webhook path, or leave out --get"),
        },
    )
}

/// The URL without its last path segment (`/tradecloud/order/extra` →
/// `/tradecloud/order`), when it has more than one.
fn parent(url: &str) -> Option<String> {
    let mut url = url::Url::parse(url).ok()?;
    let segments: Vec<String> = url
        .path_segments()?
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if segments.len() < 2 {
        return None;
    }
    url.set_path(&format!("/{}", segments[..segments.len() - 1].join("/")));
    url.set_query(None);
    url.set_fragment(None);
    Some(url.to_string())
}

/// The authentication and route checks against `url`.
pub(crate) async fn checks(
    client: &reqwest::Client,
    url: &str,
    sent: &Sent,
    get: bool,
    test_event: Option<&(String, String)>,
) -> Vec<Check> {
    let mut prober = Prober {
        client,
        url,
        silent: false,
        given: sent,
    };
    // A Bearer token may be an OAuth (Entra ID) access token, which the
    // receiver knows only once it has accepted it: the probe with it goes
    // first, so that `tradecloud serve` can take the proofs of the probes
    // without it (keyed with that token) as this doctor's. Its answer is
    // judged below, with `auth.given`, by the same request again; a
    // timeout here is `auth.missing`'s, and ends the run as that one would.
    // Only a JWT with an `exp` can be accepted as an access token (the
    // Entra ID receiver refuses anything else), so an opaque static token,
    // which the receiver keys its proofs with from the start, goes without.
    let announced = match sent {
        Sent::Bearer(token) if crate::client::jwt_expiry(token).is_some() => prober
            .request(Method::POST, sent, empty_json(), true)
            .await
            .err()
            .filter(|e| e.timed_out),
        Sent::None | Sent::Basic(..) | Sent::Bearer(_) => None,
    };
    let mut checks = vec![match announced {
        Some(timed_out) => refused(
            "auth.missing",
            "POST with the given credentials, sent before the one without them",
            Err(timed_out),
        ),
        None => refused(
            "auth.missing",
            "POST without credentials",
            prober
                .request(Method::POST, &Sent::None, empty_json(), false)
                .await,
        ),
    }];
    if prober.silent {
        for id in ["auth.wrong", "auth.given", "route.post"] {
            checks.push(Check::skip(id, SILENT));
        }
        return checks;
    }
    checks.push(refused(
        "auth.wrong",
        "POST with wrong credentials",
        prober
            .request(Method::POST, &sent.wrong(), empty_json(), false)
            .await,
    ));
    if matches!(sent, Sent::None) {
        checks.push(Check::fail(
            "auth.given",
            "no credentials given: cannot confirm that Tradecloud's pass",
            "pass the credentials configured in the Tradecloud portal: --basic USER:PASS, --bearer TOKEN or --entra-*",
        ));
        checks.push(Check::skip("route.post", "needs the credentials"));
        return checks;
    }
    if prober.silent {
        checks.push(Check::skip("auth.given", SILENT));
        checks.push(Check::skip("route.post", SILENT));
        return checks;
    }
    let auth_enforced = checks
        .first()
        .is_some_and(|c| c.status == super::Status::Pass);
    let given = prober.request(Method::POST, sent, empty_json(), true).await;
    match given {
        Err(e) => {
            checks.push(Check::fail(
                "auth.given",
                format!("POST with the given credentials: no answer ({e})"),
                "check that the receiver is running and reachable",
            ));
            checks.push(Check::skip("route.post", "no answer"));
        }
        Ok(a) if matches!(a.status.as_u16(), 401 | 403) => {
            checks.push(Check::fail(
                "auth.given",
                format!("POST with the given credentials: {}: they are refused", a.status),
                "use the credentials of the receiver's configuration (tradecloud serve: [auth]) in the portal and here",
            ));
            checks.push(Check::skip("route.post", "the credentials are refused"));
        }
        Ok(a) if a.status == StatusCode::METHOD_NOT_ALLOWED => {
            // A 405 after a 401 without credentials: they passed; else the
            // method may have been refused before any authentication.
            checks.push(if auth_enforced {
                Check::pass(
                    "auth.given",
                    "POST with the given credentials passes authentication (405)",
                )
            } else {
                Check::skip(
                    "auth.given",
                    "not confirmed: POST with the given credentials got 405, and without credentials no 401 (see route.post)",
                )
            });
            // Name the URL to configure: the parent path, when it takes
            // the probe (`/tradecloud/order/extra` → `/tradecloud/order`).
            let mut instead = None;
            if let Some(candidate) = parent(url) {
                let mut probe = Prober {
                    client,
                    url: &candidate,
                    silent: false,
                    given: sent,
                };
                let takes_post = probe
                    .request(Method::POST, sent, empty_json(), true)
                    .await
                    .is_ok_and(|b| matches!(b.status.as_u16(), 400 | 415 | 422));
                prober.silent |= probe.silent;
                if takes_post {
                    instead = Some(candidate);
                }
            }
            checks.push(not_allowed("route.post", "POST", &a, instead.as_deref()));
        }
        Ok(a)
            if a.status.is_success()
                || (a.status.is_client_error() && a.status != StatusCode::NOT_FOUND) =>
        {
            checks.push(Check::pass(
                "auth.given",
                format!(
                    "POST with the given credentials passes authentication ({})",
                    a.status
                ),
            ));
            checks.push(route("route.post", "POST", &a));
        }
        Ok(a) => {
            // 404, 3xx, 5xx: the answer says nothing about the credentials.
            checks.push(Check::skip(
                "auth.given",
                format!(
                    "not confirmed: POST with the given credentials got {}, which says nothing about them (see route.post)",
                    a.status
                ),
            ));
            checks.push(route("route.post", "POST", &a));
        }
    }
    if get && prober.silent {
        checks.push(Check::skip("auth.get", SILENT));
        checks.push(Check::skip("route.get", SILENT));
    } else if get {
        let refused_get = refused(
            "auth.get",
            "GET without credentials",
            prober.request(Method::GET, &Sent::None, None, false).await,
        );
        checks.push(refused_get);
        checks.push(match prober.request(Method::GET, sent, None, true).await {
            Err(e) => Check::fail(
                "route.get",
                format!("GET: no answer ({e})"),
                "check the receiver",
            ),
            Ok(a) if matches!(a.status.as_u16(), 401 | 403) => Check::fail(
                "route.get",
                format!("GET with the given credentials: {}", a.status),
                "use the same credentials for GET",
            ),
            Ok(a) => route("route.get", "GET", &a),
        });
    }
    checks.push(if prober.silent {
        Check::skip("ready", SILENT)
    } else {
        ready(client, url).await
    });
    if test_event.is_some() && prober.silent {
        checks.push(Check::skip("event.delivered", SILENT));
    } else if let Some((content_type, body)) = test_event {
        let answer = prober
            .request(
                Method::POST,
                sent,
                Some((content_type.as_str(), body.clone())),
                false,
            )
            .await;
        checks.push(match answer {
            Ok(a) if a.status.is_success() => Check::pass(
                "event.delivered",
                format!("a test event was delivered ({})", a.status),
            ),
            Ok(a) => Check::fail(
                "event.delivered",
                format!("the test event was answered {}", a.status),
                if a.status.as_u16() > 500 {
                    "the receiver is unavailable now: check its log (Tradecloud would retry)"
                } else {
                    "check the receiver's log: it refused a valid event"
                },
            ),
            Err(e) => Check::fail(
                "event.delivered",
                format!("the test event: no answer ({e})"),
                "check the receiver",
            ),
        });
    }
    checks
}

/// `GET /readyz` at the URL's origin: where `tradecloud serve` says
/// whether an event can be stored now. Its `503` (a problem document with
/// the reason) fails, since every event Tradecloud sends is then answered
/// `503` and nothing is delivered until the store is back; its `200` passes
/// (a warning when it carries one, or says the `[tradecloud]` credentials
/// are refused). Anything else (`404`, a redirect, another product's
/// answer, no answer) is not a `tradecloud serve` readiness endpoint and
/// skips the check: the webhook checks above judge such a receiver.
async fn ready(client: &reqwest::Client, url: &str) -> Check {
    const ID: &str = "ready";
    let Some(readyz) = url::Url::parse(url)
        .and_then(|u| u.join("/readyz"))
        .ok()
        .map(String::from)
    else {
        return Check::skip(ID, "no origin to ask /readyz at");
    };
    let answer = match client.get(&readyz).send().await {
        Ok(answer) => answer,
        Err(e) => return Check::skip(ID, format!("GET {readyz}: no answer ({e}): not checked")),
    };
    let status = answer.status();
    let problem = answer
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"));
    // A receiver's readiness answer is small; anything large is not ours.
    let body: Option<serde_json::Value> = match answer.bytes().await {
        Ok(bytes) if bytes.len() <= 64 * 1024 => serde_json::from_slice(&bytes).ok(),
        _ => None,
    };
    let text = |key: &str| {
        body.as_ref()
            .and_then(|b| b.get(key))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let not_ours = || {
        Check::skip(
            ID,
            format!(
                "GET {readyz} answered {status}, not tradecloud serve's readiness: not checked"
            ),
        )
    };
    match status.as_u16() {
        200 if text("status").as_deref() == Some("ready") => {
            let refused = body
                .as_ref()
                .and_then(|b| b.pointer("/tradecloudApi/credentials"))
                .and_then(|v| v.as_str())
                == Some("refused");
            if let Some(warning) = text("warning") {
                Check::warn(
                    ID,
                    format!("{readyz}: ready, with a warning: {warning}"),
                    "see the receiver's log: free space on the inbox's disk (tradecloud_store_low_space), or let the receiver reach [auth] jwks_url (Entra ID's signing keys)",
                )
            } else if refused {
                Check::warn(
                    ID,
                    format!("{readyz}: ready, but Tradecloud refuses the receiver's [tradecloud] credentials: GET-webhook events cannot be fetched"),
                    "fix [tradecloud] username/password of the receiver (see /readyz's tradecloudApi)",
                )
            } else {
                Check::pass(ID, format!("{readyz}: ready, an event can be stored now"))
            }
        }
        500..=599 if problem => match text("detail") {
            Some(detail) => Check::fail(
                ID,
                format!("{readyz}: {status}, not ready, every event is answered 503: {detail}"),
                "Tradecloud retries, but nothing is delivered until then: fix what the receiver names (its inbox store, or with Entra ID its [auth] jwks_url; its log says more), then run tradecloud doctor again",
            ),
            None => not_ours(),
        },
        _ => not_ours(),
    }
}

#[cfg(all(test, feature = "receiver"))]
mod tests {
    #[test]
    fn the_receiver_knows_the_probe() {
        assert_eq!(
            super::PROBE_ENCODING,
            crate::receiver::layers::DOCTOR_PROBE_ENCODING
        );
    }
}
