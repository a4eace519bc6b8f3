//! The console's HTML, written with maud: every value is escaped unless
//! wrapped in `PreEscaped` (never done here), so an event body
//! holding `<script>` is shown as text.

use chrono::{DateTime, SecondsFormat, Utc};
use maud::{html, Markup, DOCTYPE};

use super::security::{Role, Session};
use crate::changes::LineChange;
use crate::inbox::{Attempt, EventSummary, State, StoredEvent};
use crate::webhook::Message;

/// The style sheet, served at `/style.css` (the content security policy
/// allows no inline styles). Colours meet WCAG AA contrast on white.
pub(super) const CSS: &str = r#"
body{font-family:system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fff;line-height:1.4}
header{background:#0b3d63;color:#fff;padding:.5rem 1rem;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
header a{color:#fff}
header form{margin-left:auto}
main{padding:1rem;max-width:80rem}
a{color:#0645ad}
a:focus,button:focus,input:focus,select:focus{outline:3px solid #d47500;outline-offset:2px}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
pre{background:#f4f4f4;padding:.5rem;overflow:auto;white-space:pre-wrap;word-break:break-all}
.state{font-weight:bold}
.dead,.rejected{color:#a00000}.retrying,.unhandled{color:#8a4b00}.done{color:#1b6b1b}
.counts{display:flex;gap:1rem;flex-wrap:wrap;padding:0;list-style:none}
.counts li{border:1px solid #ccc;padding:.5rem 1rem;min-width:7rem}
.counts strong{display:block;font-size:1.5rem}
.filters{display:flex;gap:.5rem;flex-wrap:wrap;align-items:flex-end}
.filters label{display:flex;flex-direction:column;font-size:.9rem}
.error{color:#a00000;font-weight:bold}
.notice{background:#e8f3e8;border:1px solid #1b6b1b;padding:.5rem}
button{padding:.3rem .8rem}
svg rect{fill:#0b3d63}
mark.changed{background:#fff3b0;color:#1a1a1a;display:inline-block;border-left:4px solid #d47500}
dl.values{margin:.2rem 0 .5rem 1rem}dl.values dt{font-size:.9rem}dl.values dd{margin-left:1rem}
.skip{position:absolute;left:-100rem}
.skip:focus{left:1rem;top:1rem;background:#fff;color:#0645ad;padding:.5rem;z-index:1}
"#;

/// The notice after an action; a failed audit record in it
/// ([`super::AUDIT_NOT_WRITTEN`]) is shown apart, as an alert.
fn notice_block(text: &str) -> Markup {
    match text.find(super::AUDIT_NOT_WRITTEN) {
        Some(at) => html! {
            p.notice role="status" { (text[..at].trim_end()) }
            p.error role="alert" { (&text[at..]) }
        },
        None => html! { p.notice role="status" { (text) } },
    }
}

fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A page with the header (navigation and logout) of a session.
pub(super) fn page(title: &str, session: Option<&Session>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Tradecloud receiver" }
                link rel="stylesheet" href="/style.css";
            }
            body {
                a.skip href="#main" { "Skip to the content" }
                header {
                    strong { "Tradecloud receiver" }
                    @if let Some(s) = session {
                        nav aria-label="Main" {
                            a href="/" { "Overview" } " · "
                            a href="/events" { "Events" }
                        }
                        span { (s.name) " (" (s.role.as_str()) ")" }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The login form, with what went wrong (if anything).
pub(super) fn login(problem: Option<&str>) -> Markup {
    page(
        "Log in",
        None,
        html! {
            @if let Some(problem) = problem {
                p.error role="alert" { (problem) }
            }
            form method="post" action="/login" {
                p {
                    label for="name" { "Your name (for the audit log)" } br;
                    input id="name" name="name" type="text" required autocomplete="username" maxlength="64" autofocus;
                }
                p {
                    label for="password" { "Password" } br;
                    input id="password" name="password" type="password" required autocomplete="current-password";
                }
                button id="login" type="submit" { "Log in" }
            }
        },
    )
}

/// A short page saying what went wrong and what to do.
pub(super) fn message(title: &str, session: Option<&Session>, text: &str) -> Markup {
    page(
        title,
        session,
        html! {
            p role="alert" { (text) }
            p { a href="/" { "Back to the start" } }
        },
    )
}

fn state_cell(state: State) -> Markup {
    html! { span class={"state " (state.as_str())} { (state.as_str()) } }
}

/// What the overview shows.
pub(super) struct Overview {
    pub counts: Vec<(State, u64)>,
    pub ready: Result<(), String>,
    pub last_errors: Vec<EventSummary>,
    /// Events received per minute, oldest minute first.
    pub per_minute: Vec<u64>,
    /// How many of the newest events the chart was drawn from.
    pub sampled: usize,
    /// Handler runs of this process and their mean time.
    pub latency: Option<(u64, std::time::Duration)>,
    pub notice: Option<String>,
}

pub(super) fn overview(session: &Session, o: &Overview) -> Markup {
    let count = |states: &[State]| -> u64 {
        o.counts
            .iter()
            .filter(|(s, _)| states.contains(s))
            .map(|(_, n)| n)
            .sum()
    };
    let received: u64 = o.counts.iter().map(|(_, n)| n).sum();
    page(
        "Overview",
        Some(session),
        html! {
            @if let Some(notice) = &o.notice { (notice_block(notice)) }
            p {
                "Readiness: "
                @match &o.ready {
                    Ok(()) => { strong.done { "ready" } " (an event can be stored now)" }
                    Err(why) => { strong.dead { "not ready" } ": " (why) }
                }
            }
            p {
                "Handler: "
                @match o.latency {
                    Some((runs, mean)) => { (format!("{:.1} ms", mean.as_secs_f64() * 1000.0)) " on average over " (runs) " runs by this receiver since it started" }
                    None => { "no event handled by this receiver since it started" }
                }
                " (per kind and as a histogram: tradecloud_handler_duration_seconds in /metrics)."
            }
            ul.counts aria-label="Events per state" {
                li { strong { (received) } "received in all" }
                li { strong { (count(&[State::Done])) } a href="/events?state=done" { "handled" } }
                li { strong { (count(&[State::Received, State::Trigger, State::Processing, State::Retrying])) } "to be handled" }
                li { strong { (count(&[State::Retrying])) } a href="/events?state=retrying" { "retrying" } }
                li { strong { (count(&[State::Unhandled])) } a href="/events?state=unhandled" { "unhandled" } }
                li { strong { (count(&[State::Rejected])) } a href="/events?state=rejected" { "rejected" } }
                li { strong { (count(&[State::Dead])) } a href="/events?state=dead" { "dead" } }
            }
            h2 { "Events per minute, last " (o.per_minute.len() / 60) " hours" }
            (chart(&o.per_minute, o.sampled))
            h2 { "Last errors" }
            @if o.last_errors.is_empty() {
                p { "No dead or retrying events." }
            } @else {
                (event_table(&o.last_errors, None))
            }
            @if session.role == Role::Operator {
                h2 { "Purge handled events" }
                form method="post" action="/purge" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    label for="days" { "Delete done events handled more than this many days ago " }
                    input id="days" name="days" type="number" min="1" value="30" required;
                    " "
                    button type="submit" { "Purge…" }
                }
            }
        },
    )
}

/// Bars of events per minute as inline SVG (no script, no external file).
fn chart(per_minute: &[u64], sampled: usize) -> Markup {
    let max = per_minute.iter().copied().max().unwrap_or(0).max(1);
    let width = per_minute.len().max(1);
    let total: u64 = per_minute.iter().sum();
    let label = format!(
        "{total} events in the last {} minutes, at most {max} in one minute",
        per_minute.len()
    );
    html! {
        figure {
            svg width="100%" height="120" viewBox={"0 0 " (width) " 100"} preserveAspectRatio="none" role="img" aria-label=(label) {
                @for (i, n) in per_minute.iter().enumerate() {
                    @if *n > 0 {
                        @let h = (*n as f64 / max as f64 * 100.0).max(1.0);
                        rect x=(i) y=(format!("{:.1}", 100.0 - h)) width="1" height=(format!("{h:.1}")) {}
                    }
                }
            }
            figcaption { (label) " (from the newest " (sampled) " events)." }
        }
    }
}

/// A table of events; with `select` (the CSRF token), a check box per
/// replayable event and a "Replay selected" button.
pub(super) fn event_table(events: &[EventSummary], select: Option<&str>) -> Markup {
    let rows = html! {
        table {
            thead { tr {
                @if select.is_some() { th scope="col" { span { "Select" } } }
                th scope="col" { "Id" } th scope="col" { "Received" } th scope="col" { "Event" }
                th scope="col" { "Order / shipment" } th scope="col" { "State" } th scope="col" { "Attempts" }
                th scope="col" { "Last error" }
            } }
            tbody {
                @for e in events {
                    tr {
                        @if select.is_some() {
                            td { @if e.state.is_replayable() {
                                input type="checkbox" name="id" value=(e.id) id={"select-" (e.id)} aria-label={"Select event " (e.id)};
                            } }
                        }
                        td { a href={"/events/" (e.id)} { "#" (e.id) } }
                        td { (time(&e.received_at)) }
                        td { (e.kind.as_str()) @if let Some(n) = &e.event_name { " " (n) } }
                        td { @if let Some(o) = &e.object_id { a href={"/objects/" (encode(o))} { (o) } } }
                        td { (state_cell(e.state)) }
                        td { (e.attempts) }
                        td { (e.error.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    };
    match select {
        Some(csrf) => html! {
            form method="post" action="/replay" {
                input type="hidden" name="csrf" value=(csrf);
                (rows)
                p { button type="submit" { "Replay selected…" } }
            }
        },
        None => rows,
    }
}

/// Percent-encode one path segment or query value.
pub(super) fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The filters of the event list, as given.
#[derive(Debug, Default, Clone)]
pub(super) struct Filters {
    pub state: String,
    pub name: String,
    pub object: String,
    pub q: String,
    pub from: String,
    pub until: String,
}

impl Filters {
    /// The query string of these filters (and `before`).
    pub fn query(&self, before: Option<i64>) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("state", &self.state),
            ("name", &self.name),
            ("object", &self.object),
            ("q", &self.q),
            ("from", &self.from),
            ("until", &self.until),
        ] {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        if let Some(before) = before {
            s.append_pair("before", &before.to_string());
        }
        s.finish()
    }
}

pub(super) fn events(
    session: &Session,
    f: &Filters,
    events: &[EventSummary],
    next: Option<i64>,
    problem: Option<&str>,
    note: Option<&str>,
) -> Markup {
    let csrf = (session.role == Role::Operator).then_some(session.csrf.as_str());
    page(
        "Events",
        Some(session),
        html! {
            form.filters method="get" action="/events" role="search" {
                label for="q" { "Search (id, order or shipment id, event name, purchase order number, any text)" input id="q" name="q" type="search" value=(f.q); }
                label for="state" { "State"
                    select id="state" name="state" {
                        option value="" { "any" }
                        @for s in State::ALL {
                            option value=(s.as_str()) selected[f.state == s.as_str()] { (s.as_str()) }
                        }
                    }
                }
                label for="name" { "Event name" input id="name" name="name" type="text" value=(f.name); }
                label for="object" { "Order / shipment id" input id="object" name="object" type="text" value=(f.object); }
                label for="from" { "Received from (UTC)" input id="from" name="from" type="datetime-local" value=(f.from); }
                label for="until" { "until" input id="until" name="until" type="datetime-local" value=(f.until); }
                button id="filter" type="submit" { "Filter" }
            }
            @if let Some(problem) = problem { p.error role="alert" { (problem) } }
            @if let Some(note) = note { (notice_block(note)) }
            p { (events.len()) " events, newest first." }
            (event_table(events, csrf))
            @if let Some(next) = next {
                p { a rel="next" href={"/events?" (f.query(Some(next)))} { "Older events" } }
            }
        },
    )
}

/// The lines a body changed, by [`Message::changed_lines`] (the same rules
/// as `tradecloud inspect`); `None` when the body is not a message.
pub(super) fn changed_lines(body: &[u8]) -> Option<Vec<LineChange>> {
    Some(Message::from_bytes(body).ok()?.changed_lines(None))
}

/// How a changed line is called on a page: `position 10 (l1)`.
fn line_label(line: &LineChange) -> String {
    match &line.position {
        Some(p) if line.name != format!("position {p}") => format!("position {p} ({})", line.name),
        Some(p) => format!("position {p}"),
        None => line.name.clone(),
    }
}

/// How much of a body an event's page shows, decoded and raw. A browser
/// lays out `<pre>` text at about a second a megabyte (a 10 MB body, shown
/// decoded and raw, kept Chromium busy for 22 s), so a larger body is cut
/// here and downloaded whole from `/events/{id}/body`.
pub(super) const BODY_SHOWN: usize = 512 * 1024;

/// The first `max` bytes of `text`, cut at a character boundary, and
/// whether anything was cut.
fn head(text: &str, max: usize) -> (&str, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

/// Unicode's bidirectional controls (embeddings, overrides, isolates,
/// marks): each reorders the text after it, so a body could show a value
/// other than the one it holds.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// `text` with each bidirectional control shown as `<U+202E>` (escaped
/// as HTML like any text), so that the page shows the characters in the
/// order they are stored.
fn visible_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(is_bidi_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 32);
    for c in text.chars() {
        if is_bidi_control(c) {
            shown.push_str(&format!("<U+{:04X}>", u32::from(c)));
        } else {
            shown.push(c);
        }
    }
    std::borrow::Cow::Owned(shown)
}

/// The pieces of a decoded body up to `max` bytes of text, and whether
/// anything was cut.
fn head_pieces(pieces: Vec<Piece>, max: usize) -> (Vec<Piece>, bool) {
    let mut left = max;
    let mut kept = Vec::new();
    for piece in pieces {
        let text = match &piece {
            Piece::Text(t) | Piece::Changed(_, t) => t,
        };
        if text.len() <= left {
            left -= text.len();
            kept.push(piece);
            continue;
        }
        let (part, _) = head(text, left);
        let part = part.to_owned();
        kept.push(match piece {
            Piece::Text(_) => Piece::Text(part),
            Piece::Changed(k, _) => Piece::Changed(k, part),
        });
        return (kept, true);
    }
    (kept, false)
}

/// A piece of the decoded body: plain text, or a changed line (its index
/// in the changed lines).
enum Piece {
    Text(String),
    Changed(usize, String),
}

/// The body as indented JSON cut into pieces, the changed lines apart so
/// they can be marked; `None` when it is not JSON.
fn pretty(body: &[u8], changed: &[LineChange]) -> Option<Vec<Piece>> {
    let mut value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let plain = |value: &serde_json::Value| {
        serde_json::to_string_pretty(value)
            .ok()
            .map(|t| vec![Piece::Text(t)])
    };
    // Each changed line is swapped for a placeholder string, the rest is
    // printed, and the placeholders are replaced by the lines printed alone.
    let mut taken = Vec::new();
    let original = value.clone();
    for (k, line) in changed.iter().enumerate() {
        let Some(slot) = line.pointer.as_deref().and_then(|p| value.pointer_mut(p)) else {
            continue;
        };
        let line_value = std::mem::replace(
            slot,
            serde_json::Value::String(format!("\u{1}tc-changed-{k}\u{1}")),
        );
        taken.push((k, line_value));
    }
    if taken.is_empty() {
        return plain(&original);
    }
    let mut rest = serde_json::to_string_pretty(&value).ok()?;
    let mut pieces = Vec::new();
    for (k, line_value) in taken {
        let placeholder = format!("\"\\u0001tc-changed-{k}\\u0001\"");
        // A body holding the placeholder itself is shown unmarked.
        if rest.matches(&placeholder).count() != 1 {
            return plain(&original);
        }
        let Some((before, after)) = rest.split_once(&placeholder) else {
            return plain(&original);
        };
        let indent = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
        let text = serde_json::to_string_pretty(&line_value)
            .ok()?
            .replace('\n', &format!("\n{indent}"));
        pieces.push(Piece::Text(before.to_owned()));
        pieces.push(Piece::Changed(k, text));
        rest = after.to_owned();
    }
    pieces.push(Piece::Text(rest));
    Some(pieces)
}

/// One event: metadata, every processing attempt (`attempts`, oldest
/// first), the last error, the changed lines, the decoded and the raw body,
/// and the request's headers as stored (credentials redacted by
/// `NewEvent::with_headers`; none for events stored before schema 8/6).
pub(super) fn event(
    session: &Session,
    e: &StoredEvent,
    attempts: &[Attempt],
    can_mark_dead: bool,
    notice: Option<&str>,
) -> Markup {
    let s = &e.summary;
    let title = format!("Event #{}", s.id);
    let changed = changed_lines(&e.body);
    // Either text can pass BODY_SHOWN with a smaller body: the decoded one
    // is indented (a 200 KB array of numbers prints as 1.1 MB), the raw one
    // shows each invalid UTF-8 byte as a 3-byte U+FFFD.
    let (decoded, decoded_cut) = match pretty(&e.body, changed.as_deref().unwrap_or_default()) {
        Some(pieces) => {
            let (pieces, cut) = head_pieces(pieces, BODY_SHOWN);
            (Some(pieces), cut)
        }
        None => (None, false),
    };
    let raw = String::from_utf8_lossy(&e.body);
    let (raw_shown, raw_cut) = head(&raw, BODY_SHOWN);
    let cut = e.body.len() > BODY_SHOWN || decoded_cut || raw_cut;
    // In the raw body, or only in the decoded one: JSON may write them
    // escaped (`\u202e`), which the decoded body shows as `<U+202E>` too.
    let count = |text: &str| text.chars().filter(|&c| is_bidi_control(c)).count();
    let controls = count(&raw).max(decoded.as_deref().map_or(0, |pieces| {
        pieces
            .iter()
            .map(|piece| match piece {
                Piece::Text(t) | Piece::Changed(_, t) => count(t),
            })
            .sum()
    }));
    page(
        &title,
        Some(session),
        html! {
            @if let Some(notice) = notice { (notice_block(notice)) }
            dl {
                dt { "State" } dd id="state" { (state_cell(s.state)) }
                dt { "Kind and event name" } dd { (s.kind.as_str()) " " (s.event_name.as_deref().unwrap_or("")) }
                dt { "Order / shipment id" } dd {
                    @if let Some(o) = &s.object_id { a href={"/objects/" (encode(o))} { (o) " (timeline)" } } @else { "none" }
                }
                dt { "Message id" } dd { (s.message_id.as_deref().unwrap_or("none")) }
                dt { "Received" } dd { (time(&s.received_at)) " from " (s.source.as_deref().unwrap_or("unknown")) " (" (s.origin.as_str()) ")" }
                dt { "Content-Type" } dd { (s.content_type) }
                dt { "Trace parent" } dd { (s.trace_parent.as_deref().unwrap_or("none")) }
                dt { "Last change" } dd { (time(&s.updated_at)) }
                @if let Some(next) = &s.next_attempt_at { dt { "Next attempt" } dd { (time(next)) } }
            }
            h2 { "Request headers" }
            @if e.headers.is_empty() {
                p { "No headers were kept for this event (stored before they were, or not received over HTTP)." }
            } @else {
                table id="headers" {
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Value" } } }
                    tbody {
                        @for (name, value) in &e.headers {
                            tr { td { code { (name) } } td { code { (value) } } }
                        }
                    }
                }
            }
            h2 { "Processing attempts" }
            p { (s.attempts) " attempts." }
            @if !attempts.is_empty() {
                table id="attempts" {
                    thead { tr { th { "Started" } th { "Finished" } th { "Instance" } th { "Outcome" } th { "Duration" } th { "Error" } } }
                    tbody {
                        @for a in attempts {
                            tr {
                                td { (time(&a.started_at)) }
                                td { (time(&a.finished_at)) }
                                td { code { (a.instance.as_deref().unwrap_or("unknown")) } }
                                td.outcome { (a.outcome.as_str()) }
                                td { (format!("{:.3} s", a.duration().as_secs_f64())) }
                                td { @if let Some(error) = &a.error { pre.attempt-error { (error) } } }
                            }
                        }
                    }
                }
            }
            @if let Some(error) = &s.error {
                p { "Last error:" }
                pre id="error" { (error) }
            }
            @if session.role == Role::Operator && s.state.is_replayable() {
                form method="post" action="/replay" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    input type="hidden" name="id" value=(s.id);
                    button id="replay" type="submit" { "Replay…" }
                }
            }
            @if session.role == Role::Operator && can_mark_dead {
                form method="post" action="/dead" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    input type="hidden" name="id" value=(s.id);
                    label for="reason" { "Give up on it, because " }
                    input id="reason" name="reason" type="text" required maxlength="500" placeholder="the ERP will never accept it";
                    " "
                    button id="dead" type="submit" { "Mark dead…" }
                }
            }
            h2 { "Changed lines" }
            @match &changed {
                None => { p { "The body is not a Tradecloud message: no lines to compare." } }
                Some(lines) if lines.is_empty() => { p { "No line changed in this event." } }
                Some(lines) => {
                    p { (lines.len()) " changed, marked in the decoded body:" }
                    ul id="changed-lines" {
                        @for (k, line) in lines.iter().enumerate() {
                            li {
                                a href={"#line-" (k)} { (line_label(line)) }
                                @if let Some(detail) = &line.detail { " (" (detail) ")" }
                                @if !line.values.is_empty() {
                                    dl.values {
                                        @for (label, value) in &line.values { dt { (label) } dd { code { (value) } } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if cut {
                p id="body-cut" role="note" {
                    "The body has " (e.body.len()) " bytes"
                    @if e.body.len() <= BODY_SHOWN { " (more as text: decoded JSON is indented, an invalid UTF-8 byte shows as three)" }
                    ": this page shows the first "
                    (BODY_SHOWN / 1024) " KiB of it, decoded and raw. "
                    a href={"/events/" (s.id) "/body"} { "Download the whole body" }
                    ", or run " code { "tradecloud inbox show " (s.id) " --raw" } "."
                }
            }
            @if controls > 0 {
                p id="body-controls" role="note" {
                    "The body holds " (controls) " bidirectional control character(s), which would reorder the text after them "
                    "(a right-to-left override shows PO-1234 as 4321-OP): they are shown as "
                    code { "<U+202E>" } " and the like. The download has the exact bytes."
                }
            }
            h2 { "Decoded body" }
            @match decoded {
                Some(pieces) => { pre id="decoded" {
                    @for piece in &pieces {
                        @match piece {
                            Piece::Text(text) => { (visible_controls(text)) }
                            Piece::Changed(k, text) => { mark.changed id={"line-" (k)} { (visible_controls(text)) } }
                        }
                    }
                } }
                None => { p { "The body is not JSON; see the raw body." } }
            }
            h2 { "Raw body (" (e.body.len()) " bytes)" }
            p { a id="download" href={"/events/" (s.id) "/body"} { "Download the raw body" } " (the exact bytes)." }
            pre id="raw" { (visible_controls(raw_shown)) }
        },
    )
}

/// The timeline's "what changed": the changed lines of each event whose body
/// was read (`None`: not read or not a message).
pub(super) fn timeline(
    session: &Session,
    object_id: &str,
    events: &[EventSummary],
    changes: &[Option<Vec<LineChange>>],
) -> Markup {
    page(
        &format!("Timeline of {object_id}"),
        Some(session),
        html! {
            p { (events.len()) " events, oldest first. "
                a href={"/events?object=" (encode(object_id))} { "As a list with actions" } }
            ol {
                @for (i, e) in events.iter().enumerate() {
                    li {
                        a href={"/events/" (e.id)} { "#" (e.id) } " "
                        (time(&e.received_at)) " " (e.event_name.as_deref().unwrap_or(e.kind.as_str())) " "
                        (state_cell(e.state))
                        @if let Some(error) = &e.error { ": " (error) }
                        @if let Some(Some(lines)) = changes.get(i) {
                            @if !lines.is_empty() {
                                ul.changes aria-label={"Lines changed by event " (e.id)} {
                                    @for line in lines {
                                        li {
                                            (line_label(line))
                                            @for (label, value) in &line.values { "; " (label) " " code { (value) } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// "Are you sure?": the same form again with `confirm=yes`.
pub(super) fn confirm(
    session: &Session,
    action: &str,
    what: &str,
    fields: &[(&str, String)],
) -> Markup {
    page(
        "Please confirm",
        Some(session),
        html! {
            p { (what) }
            form method="post" action=(action) {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="confirm" value="yes";
                @for (name, value) in fields {
                    input type="hidden" name=(name) value=(value);
                }
                button id="confirm" type="submit" { "Yes, do it" }
                " "
                a href="/" { "Cancel" }
            }
        },
    )
}
