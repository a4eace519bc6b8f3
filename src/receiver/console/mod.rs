//! The operator's web console (`[console]` in `tradecloud.toml`): see,
//! search and replay the inbox's events in a browser, on a listener of its
//! own (never the webhook port), behind its own login.
//!
//! ```toml
//! [console]
//! listen = "127.0.0.1:9090"
//! password_file = "/run/secrets/console-operator"        # replay, purge
//! readonly_password_file = "/run/secrets/console-viewer" # optional: look only
//! # tls = false  # plain HTTP, accepted on a loopback address only
//! ```
//!
//! # Pages
//!
//! | path | what |
//! |---|---|
//! | `GET /` | the login form, or (logged in) the overview: counts per state, readiness, the handler's mean run time in this process, the events per minute of the last 3 hours, the last errors |
//! | `GET /events` | the events, newest first, 50 a page (keyset paging on the id: `before=`), filtered by `state`, `name` (event name), `object` (order or shipment id), `from`/`until` (received, UTC) and `q` (an event id, an order or shipment id, an event name, else any text of the bodies such as a purchase order number) |
//! | `GET /events/{id}` | one event: its metadata, every processing attempt (time, instance, outcome, duration, error) and the last error, the decoded body and the raw body (their first 512 KiB) |
//! | `GET /events/{id}/body` | its body, the exact bytes, as a download (`application/octet-stream`, an attachment); the event's page shows at most the first 512 KiB of it |
//! | `GET /objects/{id}` | the timeline of one order or shipment: all its events, oldest first |
//! | `POST /replay` | replay one or many events (`id=..&id=..`), after a confirmation page |
//! | `POST /dead` | give up on an event still to be handled ([`Inbox::mark_dead`], with a reason), after a confirmation page |
//! | `POST /purge` | delete `done` events handled more than `days` days ago ([`Inbox::purge`]), after a confirmation page showing how many |
//! | `POST /login`, `POST /logout` | |
//!
//! Every page is server-rendered HTML with one style sheet (`/style.css`),
//! no JavaScript and nothing from another site (the content security
//! policy allows only this origin's style sheet). Forms have labels, every
//! action is a button reachable by keyboard, and the colours keep WCAG AA
//! contrast.
//!
//! Every page reads the inbox through the operations the CLI uses
//! (`Inbox::list`, `get`, `replay`, `counts`, `purge`, `ready_cached`), so
//! it works the same on SQLite and PostgreSQL, and any of several receivers
//! on one PostgreSQL inbox can serve it.
//!
//! # Templates: maud
//!
//! The HTML is written with [maud](https://maud.lambda.xyz): templates are
//! Rust expressions checked by the compiler (a misspelt field is a compile
//! error, not a blank on a page), every value is HTML-escaped unless
//! explicitly marked (so an event body holding `<script>` is shown as
//! text), and there are no template files to ship beside the binary. It is
//! one small proc-macro crate with no run-time dependencies; askama would
//! do as well, with templates in separate files, minijinja checks its
//! templates only at run time.
//!
//! # Security
//!
//! See [`security`]: hashed passwords, two roles (operator, read-only),
//! sessions in `HttpOnly`, `SameSite=Strict` (and, over HTTPS, `Secure`,
//! `__Host-`) cookies issued anew at every login, a CSRF token on every
//! `POST`, and a login rate limit. Every replay, mark-dead and purge is an audit record
//! with who (the name given at login, the role, the client address), when
//! and what: a log line with target `tradecloud::console::audit`, and a JSON
//! line appended to `console.audit_file` when set (checked at start; a
//! failed write is said on the page of the action).

pub mod security;

mod pages;

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::{NaiveDateTime, Utc};
use maud::Markup;

use self::security::{Admission, LoginLimiter, Passwords, Role, Session, Sessions};
use super::config::ConsoleConfig;
use super::layers::RemoteAddr;
use crate::inbox::{Inbox, InboxError, ListFilter, State};

/// `Sec-Fetch-Site` (Fetch Metadata), which `http` has no constant for.
const SEC_FETCH_SITE: header::HeaderName = header::HeaderName::from_static("sec-fetch-site");

/// Events per page of `/events`.
const PAGE: usize = 50;
/// How many events of a timeline have their bodies read for "what changed".
const TIMELINE_BODIES: usize = 200;
/// Hours of the overview's chart.
const CHART_HOURS: i64 = 3;
/// Newest events read for the chart.
const CHART_SAMPLE: usize = 10_000;

/// The console's state, shared by its handlers.
pub(crate) struct Console {
    inbox: Inbox,
    metrics: super::Metrics,
    passwords: Passwords,
    sessions: Sessions,
    limiter: LoginLimiter,
    secure: bool,
    audit_file: Option<PathBuf>,
    audit_lock: Mutex<()>,
    /// `console.body_search_events`: the window of one page of a body search.
    body_search_events: i64,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

impl Console {
    /// The console of `config` (whose passwords are hashed here and not
    /// kept) over `inbox`; `secure`: served over HTTPS.
    pub(crate) fn new(
        config: &ConsoleConfig,
        inbox: Inbox,
        metrics: super::Metrics,
    ) -> Result<Console, String> {
        let operator = config
            .password
            .as_ref()
            .ok_or("console.password is required")?;
        let passwords = Passwords::new(
            operator.expose(),
            config.readonly_password.as_ref().map(|p| p.expose()),
        )?;
        if let Some(path) = &config.audit_file {
            // Refused now rather than found out at the first replay.
            open_audit_file(path).map_err(|e| {
                format!(
                    "console.audit_file = {:?} cannot be opened for appending: {e}; \
                     create its directory and let the receiver's user write there, or leave audit_file out \
                     (the actions are logged with target tradecloud::console::audit in any case)",
                    path.display().to_string()
                )
            })?;
        }
        Ok(Console {
            inbox,
            metrics,
            passwords,
            sessions: Sessions::new(
                Duration::from_secs(config.idle_minutes.saturating_mul(60)),
                Duration::from_secs(config.session_hours.saturating_mul(3600)),
            ),
            limiter: LoginLimiter::default(),
            secure: config.tls,
            audit_file: config.audit_file.clone(),
            audit_lock: Mutex::new(()),
            body_search_events: i64::try_from(config.body_search_events).unwrap_or(i64::MAX),
        })
    }

    fn cookie_name(&self) -> &'static str {
        if self.secure {
            "__Host-tc_console"
        } else {
            "tc_console"
        }
    }

    /// The session of the request's cookie, if alive.
    fn session(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let name = self.cookie_name();
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(k, _)| *k == name)
            .find_map(|(_, id)| self.sessions.get(id).map(|s| (id.to_string(), s)))
    }

    /// Write an audit record: a log line, and a JSON line in the audit file.
    /// `Err` says, for the operator's page, that the audit file was not
    /// written (the action itself is done, and in the log).
    fn audit(
        &self,
        session: &Session,
        remote: SocketAddr,
        action: &str,
        detail: &str,
    ) -> Result<(), String> {
        tracing::info!(
            target: "tradecloud::console::audit",
            who = %session.name, role = session.role.as_str(), remote = %remote.ip(), action, detail,
            "console action"
        );
        if let Some(path) = &self.audit_file {
            let line = serde_json::json!({
                "at": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "who": session.name,
                "role": session.role.as_str(),
                "remote": remote.ip().to_string(),
                "action": action,
                "detail": detail,
            });
            let _guard = self.audit_lock.lock().unwrap_or_else(|e| e.into_inner());
            let written = open_audit_file(path).and_then(|mut f| writeln!(f, "{line}"));
            if let Err(error) = written {
                tracing::error!(path = %path.display(), %error, "cannot append to console.audit_file; the action is in this log only");
                return Err(format!(
                    "{AUDIT_NOT_WRITTEN} to {} ({error}): the action is in the receiver's log only. \
                     Make the file writable for the receiver's user (directory, permissions, free disk).",
                    path.display()
                ));
            }
        }
        Ok(())
    }
}

/// How a notice says that the audit file was not written (the pages show
/// it as an alert).
pub(super) const AUDIT_NOT_WRITTEN: &str = "The audit record was NOT written";

/// `console.audit_file`, opened for appending (created when missing).
fn open_audit_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// `notice`, followed by the audit file's problem if there is one.
fn with_audit(notice: String, audited: Result<(), String>) -> String {
    match audited {
        Ok(()) => notice,
        Err(problem) => format!("{notice} {problem}"),
    }
}

type Shared = Arc<Console>;

/// The console's routes, with its security headers.
pub(crate) fn router(console: Shared) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/style.css", get(style))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/events", get(events))
        .route("/events/{id}", get(event))
        .route("/events/{id}/body", get(event_body))
        .route("/objects/{id}", get(timeline))
        .route("/replay", post(replay))
        .route("/dead", post(dead))
        .route("/purge", post(purge))
        .fallback(not_found)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(console)
}

async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn html(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}

fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

fn unauthorized() -> Response {
    html(
        StatusCode::UNAUTHORIZED,
        pages::login(Some("Please log in first (or again: your session ended).")),
    )
}

fn remote(addr: Option<Extension<RemoteAddr>>) -> SocketAddr {
    addr.map(|Extension(RemoteAddr(a))| a)
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// A form body or query string: every value of every name.
fn form(bytes: &[u8]) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(bytes) {
        map.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    map
}

fn first<'a>(form: &'a HashMap<String, Vec<String>>, name: &str) -> &'a str {
    form.get(name)
        .and_then(|v| v.first())
        .map(String::as_str)
        .unwrap_or("")
}

/// The session of a state-changing request, with its CSRF token checked:
/// `Err` is the refusal to send (401 without a session, 403 without the
/// session's token).
fn checked(
    console: &Console,
    headers: &HeaderMap,
    form: &HashMap<String, Vec<String>>,
) -> Result<(String, Session), Box<Response>> {
    let Some((id, session)) = console.session(headers) else {
        return Err(Box::new(unauthorized()));
    };
    if !security::same_token(first(form, "csrf"), &session.csrf) {
        tracing::warn!(who = %session.name, "console request without a valid CSRF token refused");
        return Err(Box::new(html(
            StatusCode::FORBIDDEN,
            pages::message(
                "Refused",
                Some(&session),
                "This request did not carry this session's form token (CSRF protection), so nothing \
                 was done. Open the page again from the console and submit its form.",
            ),
        )));
    }
    Ok((id, session))
}

fn store_problem(session: &Session, error: &InboxError) -> Response {
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        pages::message(
            "The inbox cannot be read",
            Some(session),
            &format!(
                "The inbox answered: {error}. Check /readyz and the receiver's log, then reload this page."
            ),
        ),
    )
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        pages::CSS,
    )
        .into_response()
}

async fn not_found(AxumState(console): AxumState<Shared>, headers: HeaderMap) -> Response {
    let session = console.session(&headers).map(|(_, s)| s);
    html(
        StatusCode::NOT_FOUND,
        pages::message(
            "Not found",
            session.as_ref(),
            "There is no such page in the console.",
        ),
    )
}

async fn home(AxumState(console): AxumState<Shared>, headers: HeaderMap) -> Response {
    let Some((_, session)) = console.session(&headers) else {
        return html(StatusCode::OK, pages::login(None));
    };
    overview(&console, &session, None).await
}

async fn overview(console: &Console, session: &Session, notice: Option<String>) -> Response {
    let inbox = &console.inbox;
    let counts = match inbox.counts().await {
        Ok(c) => c,
        Err(e) => return store_problem(session, &e),
    };
    let ready = inbox
        .ready_cached(Duration::from_secs(1))
        .await
        .map_err(|e| e.to_string());
    let mut last_errors = Vec::new();
    for state in [State::Dead, State::Retrying] {
        match inbox
            .list(ListFilter {
                state: Some(state),
                limit: Some(5),
                ..ListFilter::default()
            })
            .await
        {
            Ok(mut events) => last_errors.append(&mut events),
            Err(e) => return store_problem(session, &e),
        }
    }
    last_errors.sort_by_key(|e| std::cmp::Reverse(e.updated_at));
    let now = Utc::now();
    let start = now - chrono::Duration::hours(CHART_HOURS);
    let recent = match inbox
        .list(ListFilter {
            received_from: Some(start),
            limit: Some(CHART_SAMPLE),
            ..ListFilter::default()
        })
        .await
    {
        Ok(r) => r,
        Err(e) => return store_problem(session, &e),
    };
    let minutes = usize::try_from(CHART_HOURS * 60).unwrap_or(180);
    let mut per_minute = vec![0u64; minutes];
    for e in &recent {
        let age = (now - e.received_at).num_minutes();
        if let Ok(age) = usize::try_from(age) {
            if age < minutes {
                per_minute[minutes - 1 - age] += 1;
            }
        }
    }
    html(
        StatusCode::OK,
        pages::overview(
            session,
            &pages::Overview {
                counts,
                ready,
                last_errors,
                per_minute,
                sampled: recent.len(),
                latency: console.metrics.handler_latency(),
                notice,
            },
        ),
    )
}

async fn login(
    AxumState(console): AxumState<Shared>,
    addr: Option<Extension<RemoteAddr>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let remote = remote(addr);
    let now = Instant::now();
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let authority = text(header::HOST).or_else(|| uri.authority().map(|a| a.as_str()));
    if security::cross_site_login(text(SEC_FETCH_SITE), text(header::ORIGIN), authority) {
        tracing::warn!(remote = %remote.ip(), origin = ?text(header::ORIGIN), "console login refused: the form was sent from another site");
        return html(
            StatusCode::FORBIDDEN,
            pages::login(Some(
                "This login was sent from another site, not from this console's own page. \
                 Open the console's address yourself and log in here.",
            )),
        );
    }
    if let Admission::Wait(wait) = console.limiter.admit(remote.ip(), now) {
        tracing::warn!(remote = %remote.ip(), "console login refused: too many failed logins");
        let mut response = html(
            StatusCode::TOO_MANY_REQUESTS,
            pages::login(Some(&format!(
                "Too many failed logins. Try again in {} seconds.",
                wait.as_secs().max(1)
            ))),
        );
        if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    let form = form(&body);
    let name = first(&form, "name").trim().to_string();
    let password = first(&form, "password").to_string();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return html(
            StatusCode::BAD_REQUEST,
            pages::login(Some(
                "Enter your name (up to 64 characters): it is written to the audit log with every action.",
            )),
        );
    }
    let checker = console.clone();
    let role = tokio::task::spawn_blocking(move || checker.passwords.role_of(&password))
        .await
        .ok()
        .flatten();
    let Some(role) = role else {
        console.limiter.failed(remote.ip(), now);
        tracing::warn!(remote = %remote.ip(), name = %name, "console login failed: wrong password");
        return html(
            StatusCode::UNAUTHORIZED,
            pages::login(Some("Wrong password. Check it and try again.")),
        );
    };
    // A session planted before the login is never promoted (fixation).
    if let Some((old, _)) = console.session(&headers) {
        console.sessions.end(&old);
    }
    let id = match console.sessions.start(&name, role) {
        Ok(id) => id,
        Err(e) => {
            return html(
                StatusCode::SERVICE_UNAVAILABLE,
                pages::login(Some(&format!("Cannot start a session: {e}. Try again."))),
            )
        }
    };
    tracing::info!(target: "tradecloud::console::audit", who = %name, role = role.as_str(), remote = %remote.ip(), action = "login", "console login");
    let cookie = format!(
        "{}={id}; Path=/; HttpOnly; SameSite=Strict{}",
        console.cookie_name(),
        if console.secure { "; Secure" } else { "" }
    );
    let mut response = see_other("/");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

async fn logout(
    AxumState(console): AxumState<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (id, _) = match checked(&console, &headers, &form(&body)) {
        Ok(s) => s,
        Err(refusal) => return *refusal,
    };
    console.sessions.end(&id);
    let mut response = see_other("/");
    let cookie = format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        console.cookie_name(),
        if console.secure { "; Secure" } else { "" }
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// `2025-01-31T10:00` (an `<input type="datetime-local">`, UTC) or RFC 3339.
fn parse_time(s: &str) -> Option<chrono::DateTime<Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|t| t.and_utc())
}

async fn events(
    AxumState(console): AxumState<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some((_, session)) = console.session(&headers) else {
        return unauthorized();
    };
    let q = form(query.unwrap_or_default().as_bytes());
    let f = pages::Filters {
        state: first(&q, "state").trim().to_string(),
        name: first(&q, "name").trim().to_string(),
        object: first(&q, "object").trim().to_string(),
        q: first(&q, "q").trim().to_string(),
        from: first(&q, "from").trim().to_string(),
        until: first(&q, "until").trim().to_string(),
    };
    let bad = |problem: String| {
        html(
            StatusCode::BAD_REQUEST,
            pages::events(&session, &f, &[], None, Some(&problem), None),
        )
    };
    let mut filter = ListFilter {
        limit: Some(PAGE + 1),
        ..ListFilter::default()
    };
    if !f.state.is_empty() {
        match f.state.parse::<State>() {
            Ok(s) => filter.state = Some(s),
            Err(e) => return bad(format!("{e}; choose a state from the list")),
        }
    }
    if !f.name.is_empty() {
        filter.event_name = Some(f.name.clone());
    }
    if !f.object.is_empty() {
        filter.object_id = Some(f.object.clone());
    }
    for (value, slot, label) in [
        (&f.from, &mut filter.received_from, "Received from"),
        (&f.until, &mut filter.received_until, "until"),
    ] {
        if !value.is_empty() {
            match parse_time(value) {
                Some(t) => *slot = Some(t),
                None => {
                    return bad(format!(
                        "{label}: {value:?} is not a time; write it as 2025-01-31T10:00 (UTC)"
                    ))
                }
            }
        }
    }
    let before = first(&q, "before");
    if !before.is_empty() {
        match before.parse::<i64>() {
            Ok(b) => filter.before_id = Some(b),
            Err(_) => return bad(format!("before={before:?} is not an event id")),
        }
    }
    let inbox = &console.inbox;
    let mut body_window: Option<BodyWindow> = None;
    let mut found = if f.q.is_empty() {
        inbox.list(filter).await
    } else if let Ok(id) = f.q.trim_start_matches('#').parse::<i64>() {
        // An event id.
        inbox
            .get(id)
            .await
            .map(|e| e.map(|e| vec![e.summary]).unwrap_or_default())
    } else {
        // An order or shipment id, else a purchase order number (both by
        // an index), else an event name, else any text of the bodies.
        let by_object = ListFilter {
            object_id: Some(f.q.clone()),
            ..filter.clone()
        };
        let by_po = ListFilter {
            purchase_order_number: Some(f.q.clone()),
            ..filter.clone()
        };
        let by_name = ListFilter {
            event_name: Some(f.q.clone()),
            ..filter.clone()
        };
        let mut found = Ok(Vec::new());
        for by in [by_object, by_po, by_name] {
            found = inbox.list(by).await;
            if !matches!(&found, Ok(events) if events.is_empty()) {
                break;
            }
        }
        if matches!(&found, Ok(events) if events.is_empty()) {
            // Any text of a body (or a purchase order number of an event
            // stored before the index): a window of ids per page.
            found = match body_search_window(inbox, &filter, console.body_search_events).await {
                Ok(Some(window)) => {
                    let found = inbox
                        .list(ListFilter {
                            body_contains: Some(f.q.clone()),
                            after_id: Some(window.after),
                            ..filter
                        })
                        .await;
                    body_window = Some(window);
                    found
                }
                Ok(None) => Ok(Vec::new()),
                Err(e) => Err(e),
            };
        }
        found
    };
    let events = match &mut found {
        Ok(events) => {
            events.reverse(); // newest first
            events
        }
        Err(e) => return store_problem(&session, e),
    };
    let full = events.len() > PAGE;
    let next = if full {
        events.truncate(PAGE);
        events.last().map(|e| e.id)
    } else {
        // A body search goes on below its window while older events remain.
        body_window.and_then(|w| (w.after > 0).then_some(w.after + 1))
    };
    let note = body_window.map(|w| {
        // A full page stopped at its last match, short of the window's end.
        let (oldest, rest) = match (full, next) {
            (true, Some(last)) => (last, "; \u{201c}Older events\u{201d} goes on from there."),
            _ if w.after > 0 => (
                w.after + 1,
                "; \u{201c}Older events\u{201d} searches further back (or narrow it with a time range).",
            ),
            _ => (w.after + 1, ", the oldest there are."),
        };
        format!(
            "No event has this id, order or shipment id, purchase order number or event name; \
             these events hold the text in their body. A search of bodies reads at most \
             {} events per page, newest first: this page searched events #{oldest} to #{}{rest}",
            console.body_search_events,
            w.before - 1,
        )
    });
    html(
        StatusCode::OK,
        pages::events(&session, &f, events, next, None, note.as_deref()),
    )
}

/// The ids one page of a body search reads: `after < id < before`.
#[derive(Debug, Clone, Copy)]
struct BodyWindow {
    after: i64,
    before: i64,
}

/// The window of `size` ids from the newest event that passes the other
/// filters (below `filter.before_id`) down, `None` when no event passes
/// them. A body search cannot use an index; reading bodies goes at about
/// 0.5 GB/s on a small machine, so a window (`console.body_search_events`)
/// bounds each page's time at any size of inbox.
async fn body_search_window(
    inbox: &Inbox,
    filter: &ListFilter,
    size: i64,
) -> Result<Option<BodyWindow>, InboxError> {
    let newest = inbox
        .list(ListFilter {
            limit: Some(1),
            ..filter.clone()
        })
        .await?;
    Ok(newest.last().map(|e| {
        let before = e.id.saturating_add(1);
        BodyWindow {
            after: e.id.saturating_sub(size).max(0),
            before,
        }
    }))
}

async fn event(
    AxumState(console): AxumState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some((_, session)) = console.session(&headers) else {
        return unauthorized();
    };
    show_event(&console, &session, &id, None).await
}

/// The page for an event id that is not in the inbox.
fn no_such_event(session: &Session, id: &str) -> Response {
    html(
        StatusCode::NOT_FOUND,
        pages::message(
            "No such event",
            Some(session),
            &format!("There is no event {id:?} in the inbox; search for it on the Events page."),
        ),
    )
}

/// An event's body, the exact bytes, as a download: never shown as a page
/// (`application/octet-stream`, an attachment, `nosniff`), whatever it holds.
async fn event_body(
    AxumState(console): AxumState<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some((_, session)) = console.session(&headers) else {
        return unauthorized();
    };
    let Ok(number) = id.parse::<i64>() else {
        return no_such_event(&session, &id);
    };
    match console.inbox.get(number).await {
        Ok(Some(e)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"event-{number}.body\""),
                ),
            ],
            e.body,
        )
            .into_response(),
        Ok(None) => no_such_event(&session, &id),
        Err(e) => store_problem(&session, &e),
    }
}

async fn show_event(
    console: &Console,
    session: &Session,
    id: &str,
    notice: Option<&str>,
) -> Response {
    let missing = || no_such_event(session, id);
    let Ok(id) = id.parse::<i64>() else {
        return missing();
    };
    match console.inbox.get(id).await {
        Ok(Some(e)) => match console.inbox.attempts(id).await {
            Ok(attempts) => {
                // What `POST /dead` accepts: an event still to be handled,
                // or a `processing` one no live claim holds (interrupted).
                let can_mark_dead = match e.summary.state {
                    State::Received | State::Trigger | State::Retrying => true,
                    State::Processing => match console.inbox.held(id).await {
                        Ok(held) => !held,
                        Err(e) => return store_problem(session, &e),
                    },
                    _ => false,
                };
                html(
                    StatusCode::OK,
                    pages::event(session, &e, &attempts, can_mark_dead, notice),
                )
            }
            Err(e) => store_problem(session, &e),
        },
        Ok(None) => missing(),
        Err(e) => store_problem(session, &e),
    }
}

async fn timeline(
    AxumState(console): AxumState<Shared>,
    headers: HeaderMap,
    Path(object_id): Path<String>,
) -> Response {
    let Some((_, session)) = console.session(&headers) else {
        return unauthorized();
    };
    match console
        .inbox
        .list(ListFilter {
            object_id: Some(object_id.clone()),
            limit: Some(1000),
            ..ListFilter::default()
        })
        .await
    {
        Ok(events) => {
            // What changed in each: the first events' bodies are read.
            let mut changes = Vec::with_capacity(events.len().min(TIMELINE_BODIES));
            for e in events.iter().take(TIMELINE_BODIES) {
                changes.push(match console.inbox.get(e.id).await {
                    Ok(Some(stored)) => pages::changed_lines(&stored.body),
                    Ok(None) => None,
                    Err(e) => return store_problem(&session, &e),
                });
            }
            html(
                StatusCode::OK,
                pages::timeline(&session, &object_id, &events, &changes),
            )
        }
        Err(e) => store_problem(&session, &e),
    }
}

/// A decoded `application/x-www-form-urlencoded` body: every value of each name.
type Form = HashMap<String, Vec<String>>;

/// A state-changing form of an operator: the session, its CSRF token and
/// the operator role checked in that order (the one gate of replay, mark
/// dead and purge), or the refusal to answer.
fn operator_form(
    console: &Console,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Form, Session), Box<Response>> {
    let form = form(body);
    let (_, session) = checked(console, headers, &form)?;
    if let Some(refusal) = operator_only(&session) {
        return Err(Box::new(refusal));
    }
    Ok((form, session))
}

fn operator_only(session: &Session) -> Option<Response> {
    (session.role != Role::Operator).then(|| {
        html(
            StatusCode::FORBIDDEN,
            pages::message(
                "Not allowed",
                Some(session),
                "This login is read-only: replaying, marking dead and purging need the operator password.",
            ),
        )
    })
}

async fn replay(
    AxumState(console): AxumState<Shared>,
    addr: Option<Extension<RemoteAddr>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, session) = match operator_form(&console, &headers, &body) {
        Ok(checked) => checked,
        Err(refusal) => return *refusal,
    };
    let mut ids = Vec::new();
    for raw in form.get("id").into_iter().flatten() {
        match raw.parse::<i64>() {
            Ok(id) => ids.push(id),
            Err(_) => {
                return html(
                    StatusCode::BAD_REQUEST,
                    pages::message(
                        "Nothing replayed",
                        Some(&session),
                        &format!("{raw:?} is not an event id."),
                    ),
                )
            }
        }
    }
    if ids.is_empty() {
        return html(
            StatusCode::BAD_REQUEST,
            pages::message(
                "Nothing replayed",
                Some(&session),
                "No event was selected; tick the events to replay on the Events page.",
            ),
        );
    }
    if first(&form, "confirm") != "yes" {
        let list = ids
            .iter()
            .map(|id| format!("#{id}"))
            .collect::<Vec<_>>()
            .join(", ");
        let fields: Vec<(&str, String)> = ids.iter().map(|id| ("id", id.to_string())).collect();
        return html(
            StatusCode::OK,
            pages::confirm(
                &session,
                "/replay",
                &format!(
                    "Replay {} event(s): {list}? Each is handed to the handler again.",
                    ids.len()
                ),
                &fields,
            ),
        );
    }
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for id in &ids {
        match console.inbox.replay(*id).await {
            Ok(()) => done.push(format!("#{id}")),
            Err(e) => failed.push(format!("#{id}: {e}")),
        }
    }
    let remote = remote(addr);
    let audited = console.audit(
        &session,
        remote,
        "replay",
        &format!(
            "replayed [{}]; failed [{}]",
            done.join(", "),
            failed.join("; ")
        ),
    );
    let notice = if failed.is_empty() {
        format!("Replayed {}.", done.join(", "))
    } else {
        format!(
            "Replayed {}. Not replayed: {}.",
            if done.is_empty() {
                "none".to_string()
            } else {
                done.join(", ")
            },
            failed.join("; ")
        )
    };
    let notice = with_audit(notice, audited);
    if let [id] = ids.as_slice() {
        return show_event(&console, &session, &id.to_string(), Some(&notice)).await;
    }
    overview(&console, &session, Some(notice)).await
}

async fn dead(
    AxumState(console): AxumState<Shared>,
    addr: Option<Extension<RemoteAddr>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, session) = match operator_form(&console, &headers, &body) {
        Ok(checked) => checked,
        Err(refusal) => return *refusal,
    };
    let refuse = |problem: String| {
        html(
            StatusCode::BAD_REQUEST,
            pages::message("Nothing marked dead", Some(&session), &problem),
        )
    };
    let raw = first(&form, "id");
    let Ok(id) = raw.parse::<i64>() else {
        return refuse(format!("{raw:?} is not an event id."));
    };
    let reason = first(&form, "reason").trim().to_string();
    if reason.is_empty() || reason.chars().count() > 500 {
        return refuse(
            "Say why the event is given up (up to 500 characters): it becomes its error.".into(),
        );
    }
    if first(&form, "confirm") != "yes" {
        return html(
            StatusCode::OK,
            pages::confirm(
                &session,
                "/dead",
                &format!(
                    "Mark event #{id} dead ({reason})? It is not handled again unless replayed; \
                     the next event of its order or shipment is handled."
                ),
                &[("id", id.to_string()), ("reason", reason.clone())],
            ),
        );
    }
    let notice = match console
        .inbox
        .mark_dead(id, &format!("marked dead by {}: {reason}", session.name))
        .await
    {
        Ok(()) => {
            let audited = console.audit(
                &session,
                remote(addr),
                "dead",
                &format!("marked #{id} dead: {reason}"),
            );
            with_audit(format!("Marked #{id} dead."), audited)
        }
        Err(e) => format!("#{id} was not marked dead: {e}"),
    };
    show_event(&console, &session, &id.to_string(), Some(&notice)).await
}

async fn purge(
    AxumState(console): AxumState<Shared>,
    addr: Option<Extension<RemoteAddr>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, session) = match operator_form(&console, &headers, &body) {
        Ok(checked) => checked,
        Err(refusal) => return *refusal,
    };
    let days =
        match first(&form, "days").parse::<u32>() {
            Ok(d) if d >= 1 => d,
            _ => return html(
                StatusCode::BAD_REQUEST,
                pages::message(
                    "Nothing purged",
                    Some(&session),
                    "Give the number of days (at least 1) after which handled events are deleted.",
                ),
            ),
        };
    let cutoff = Utc::now() - chrono::Duration::days(i64::from(days));
    if first(&form, "confirm") != "yes" {
        let count = match console.inbox.purge(cutoff, true).await {
            Ok(p) => p,
            Err(e) => return store_problem(&session, &e),
        };
        return html(
            StatusCode::OK,
            pages::confirm(
                &session,
                "/purge",
                &format!(
                    "Delete {} done events ({} bytes of bodies) handled more than {days} days ago? \
                     This cannot be undone; events in any other state are kept.",
                    count.events, count.body_bytes
                ),
                &[("days", days.to_string())],
            ),
        );
    }
    match console.inbox.purge(cutoff, false).await {
        Ok(p) => {
            let audited = console.audit(
                &session,
                remote(addr),
                "purge",
                &format!(
                    "deleted {} done events handled more than {days} days ago",
                    p.events
                ),
            );
            overview(
                &console,
                &session,
                Some(with_audit(
                    format!("Deleted {} done events.", p.events),
                    audited,
                )),
            )
            .await
        }
        Err(e) => store_problem(&session, &e),
    }
}

/// Connections the console serves at once; more are closed at once.
const MAX_CONNECTIONS: usize = 64;
/// Time for a client to finish the TLS handshake, and to send a request's headers.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serve the console on `listener` (TLS with `tls`, else plain HTTP) until
/// the task is aborted. Each connection gets the client's address; at most
/// [`MAX_CONNECTIONS`] at once, each with [`HANDSHAKE_TIMEOUT`] for its
/// handshake and for each request's headers (no slow client holds the
/// console).
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    app: Router,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower_service::Service as _;
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::debug!(%error, "console: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(%remote, "console: {MAX_CONNECTIONS} connections open already; closing this one");
            continue;
        };
        let app = app.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(
                move |mut request: http::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(RemoteAddr(remote));
                    let mut app = app.clone();
                    async move { app.call(request.map(axum::body::Body::new)).await }
                },
            );
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(HANDSHAKE_TIMEOUT);
            let served = match acceptor {
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => builder.serve_connection(TokioIo::new(tls), service).await,
                        _ => return,
                    }
                }
                None => {
                    builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                }
            };
            if let Err(error) = served {
                tracing::debug!(%remote, %error, "console connection ended with an error");
            }
        });
    }
}
