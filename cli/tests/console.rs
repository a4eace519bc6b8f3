//! The operator's console (issue 21), driven like an operator drives it: a
//! real `tradecloud serve` process with `[console]` on plain HTTP on
//! loopback, a real headless Chromium (Debian's `chromium` and
//! `chromedriver`, installed by scripts/test.sh) over WebDriver, spoken
//! with the reqwest client the crate builds anyway (a dozen JSON calls; no
//! WebDriver crate to build). Then security probes with plain HTTP
//! requests: no session, no CSRF token, a planted session id, a body with
//! `<script>`, login brute force.
//!
//! Without chromium the browser part is skipped (with a message), unless
//! `TRADECLOUD_REQUIRE_TOOLS=1` (set by scripts/test.sh) makes it fail.
//! `CONSOLE_SCREENSHOT=PATH` writes a screenshot of the event
//! page there (how docs/console.png was made).
#![cfg(unix)]

use crate::pg_support;
use crate::receiver_support;

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use receiver_support::*;
use serde_json::{json, Value};
use tokio::process::Command;
use tradecloud::inbox::{Inbox, NewEvent};
use tradecloud::webhook::{decode, Endpoint};

use crate::port_support::free_port;

const EXE: &str = env!("CARGO_BIN_EXE_tradecloud");
const OPERATOR: &str = "operator password for the test";
const VIEWER: &str = "viewer password for the test";
/// The order whose events the operator looks for.
const ORDER: &str = "order-under-test";

/// An order event of `order` with message id `n`; its purchase order
/// number holds `<script>` (shown as text, never run).
fn order_event(order: &str, n: usize) -> NewEvent {
    order_event_with(order, n, "PO-<script>alert(1)</script>")
}

/// An order event of `order` with message id `n` and purchase order number
/// `po` (JSON-escaped here).
fn order_event_with(order: &str, n: usize, po: &str) -> NewEvent {
    let template = String::from_utf8(fixture("order-webhook/order-event.json")).unwrap();
    let po = serde_json::to_string(po).unwrap();
    let body = template
        .replace(
            "5b0c2f0e-8f4a-4d5e-9c3b-2a1d0e9f8c7b",
            &format!("00000000-0000-4000-8000-{n:012}"),
        )
        .replace("4fd2a3c0-6b1e-4e8b-9c2a-1d3e5f7a9b0c", order)
        .replace("\"PO123456789\"", &po);
    let webhook = decode(Endpoint::Order, "application/json", body.as_bytes()).unwrap();
    NewEvent::from_webhook(&webhook, "application/json", Bytes::from(body))
}

/// Store in the inbox at `db` an order event of [`ORDER`] with purchase
/// order number `po`, its body as `edit` changes it: the event's id.
async fn store_edited(db: &Path, po: &str, edit: impl FnOnce(String) -> String) -> i64 {
    let inbox = Inbox::open(&format!("sqlite://{}", db.display())).unwrap();
    let event = order_event_with(ORDER, 1, po);
    let body = edit(String::from_utf8(event.body.to_vec()).unwrap());
    let webhook = decode(Endpoint::Order, "application/json", body.as_bytes()).unwrap();
    let event = NewEvent::from_webhook(&webhook, "application/json", Bytes::from(body));
    inbox.store(event).await.unwrap().id()
}

/// An inbox of `others` events of other orders and three of [`ORDER`],
/// the last of which failed (`dead`, as after an ERP outage). Returns the
/// failed event's id.
async fn fill(db: &Path, others: usize) -> i64 {
    let inbox = Inbox::open(&format!("sqlite://{}", db.display())).unwrap();
    for n in 0..others {
        inbox
            .store(order_event(&format!("other-{}", n % 500), n + 10))
            .await
            .unwrap();
    }
    let mut failed = 0;
    for n in 0..3 {
        failed = inbox.store(order_event(ORDER, n + 1)).await.unwrap().id();
    }
    drop(inbox);
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute(
        "UPDATE events SET state = 'dead', attempts = 10, \
         error = 'the ERP answered 503 Service Unavailable (attempts ran out)' WHERE id = ?1",
        [failed],
    )
    .unwrap();
    failed
}

struct Console {
    _serve: tokio::process::Child,
    base: String,
}

async fn start(dir: &Path, extra: &str) -> Console {
    let store = format!("sqlite://{}", dir.join("inbox.db").display());
    start_on(dir, &store, extra).await
}

async fn start_on(dir: &Path, store: &str, extra: &str) -> Console {
    start_with(dir, store, extra, &[]).await
}

/// [`start_on`] with further arguments of `tradecloud serve`.
async fn start_with(dir: &Path, store: &str, extra: &str, args: &[&str]) -> Console {
    let port = free_port();
    let (config, _cert) = serve_config(
        dir,
        &format!(
            "[store]\nurl = \"{store}\"\n[processing]\npoll_interval_ms = 50\n\
             [console]\nlisten = \"127.0.0.1:{port}\"\ntls = false\n\
             password = \"{OPERATOR}\"\nreadonly_password = \"{VIEWER}\"\n\
             audit_file = {:?}\n{extra}",
            dir.join("audit.jsonl").display().to_string(),
        ),
    );
    let mut command = Command::new(EXE);
    command
        .args(["serve", "--config"])
        .arg(&config)
        .args(args)
        .env("TRADECLOUD_AUTH_PASSWORD", PASSWORD)
        .env("RUST_LOG", "warn");
    let (serve, _, _log) = spawn_serve_logged(command, Duration::from_secs(60)).await;
    Console {
        _serve: serve,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// `application/x-www-form-urlencoded` bodies (reqwest is built without its `form` feature).
trait FormPairs {
    fn form_pairs<K: AsRef<str>, V: AsRef<str>>(self, pairs: &[(K, V)]) -> Self;
}

impl FormPairs for reqwest::RequestBuilder {
    fn form_pairs<K: AsRef<str>, V: AsRef<str>>(self, pairs: &[(K, V)]) -> Self {
        let mut body = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            body.append_pair(k.as_ref(), v.as_ref());
        }
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body.finish())
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Log in with plain HTTP; the session cookie (`name=value`).
async fn login(base: &str, password: &str) -> reqwest::Response {
    http()
        .post(format!("{base}/login"))
        .form_pairs(&[("name", "probe"), ("password", password)])
        .send()
        .await
        .unwrap()
}

fn cookie_of(response: &reqwest::Response) -> String {
    let set = response
        .headers()
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_string();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    set.split(';').next().unwrap().to_string()
}

/// Log in to the console at `base` as the viewer and `GET` `path` with
/// its cookie.
async fn viewer_get(base: &str, path: &str) -> reqwest::Response {
    let cookie = cookie_of(&login(base, VIEWER).await);
    get_as(base, &cookie, path).await
}

/// `path`'s page as the user logged in with `cookie` sees it.
async fn get_as(base: &str, cookie: &str, path: &str) -> reqwest::Response {
    http()
        .get(format!("{base}{path}"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// The CSRF token in a page's forms.
fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token");
    let rest = &page[at + 19..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// The "Older events" link of an events page, as a path, if any.
fn older_link(page: &str) -> Option<String> {
    page.split("<a rel=\"next\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(|href| href.replace("&amp;", "&"))
}

async fn state_of(db: &Path, id: i64) -> String {
    let inbox = Inbox::open(&format!("sqlite://{}", db.display())).unwrap();
    inbox
        .get(id)
        .await
        .unwrap()
        .unwrap()
        .summary
        .state
        .as_str()
        .to_string()
}

/// A minimal WebDriver client (W3C protocol, JSON over HTTP).
struct Browser {
    http: reqwest::Client,
    session: String,
    _driver: tokio::process::Child,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    async fn start() -> Option<Browser> {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|p| Path::new(p).exists());
        let driver = ["/usr/bin/chromedriver"]
            .into_iter()
            .find(|p| Path::new(p).exists());
        let (Some(chromium), Some(driver)) = (chromium, driver) else {
            assert!(
                std::env::var("TRADECLOUD_REQUIRE_TOOLS").as_deref() != Ok("1"),
                "chromium and chromium-driver are required (apt-get install chromium chromium-driver)"
            );
            eprintln!("skipped: chromium or chromedriver missing (apt-get install chromium chromium-driver)");
            return None;
        };
        let port = free_port();
        let driver = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--window-size=1280,1000"]
                }
            }}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_string();
        Some(Browser {
            http,
            session: format!("{base}/session/{session}"),
            _driver: driver,
        })
    }

    async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Value> {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        if answer["value"].get("error").is_some() {
            return Err(answer);
        }
        Ok(answer["value"].clone())
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .await
            .unwrap_or_else(|answer| panic!("WebDriver {path}: {answer}"))
    }

    async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// The text of `css`, once the page showing it has loaded (a click
    /// that submits a form returns before the next page is there).
    async fn text(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self
                .try_call(
                    reqwest::Method::POST,
                    "/element",
                    Some(json!({"using": "css selector", "value": css})),
                )
                .await;
            if let Ok(v) = found {
                if let Some(e) = v[ELEMENT].as_str() {
                    let text = self
                        .try_call(reqwest::Method::GET, &format!("/element/{e}/text"), None)
                        .await;
                    if let Ok(Value::String(text)) = text {
                        return text;
                    }
                }
            }
            assert!(Instant::now() < deadline, "no element {css}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Wait until the text of `css` contains `want`.
    async fn expect_text(&self, css: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.text(css).await;
            if text.contains(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{css}: {text:?}, expected {want:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Wait until the address contains `want`.
    async fn expect_url(&self, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let url = self.url().await;
            if url.contains(want) {
                return;
            }
            assert!(Instant::now() < deadline, "at {url}, expected {want:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn screenshot(&self, path: &Path) {
        use base64::Engine as _;
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// The value of a script run in the page, with `args`.
    async fn script(&self, script: &str, args: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// The page's cookies as a `Cookie` header.
    async fn cookies(&self) -> String {
        let cookies = self.call(reqwest::Method::GET, "/cookie", None).await;
        cookies
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                format!(
                    "{}={}",
                    c["name"].as_str().unwrap(),
                    c["value"].as_str().unwrap()
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Whether the page has an element matching `css`.
    async fn has(&self, css: &str) -> bool {
        self.script(
            "return document.querySelector(arguments[0]) !== null;",
            json!([css]),
        )
        .await
            == json!(true)
    }

    /// Log in as `name` with `password`, from the login page.
    async fn log_in(&self, base: &str, name: &str, password: &str) {
        self.go(&format!("{base}/")).await;
        self.type_into("#name", name).await;
        self.type_into("#password", password).await;
        self.click("#login").await;
        self.expect_text("h1", "Overview").await;
    }

    async fn close(self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}

/// Issue 21, "how it will be checked": log in, find the events of one
/// order, open the one that failed, replay it, see it `done`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_finds_and_replays_a_failed_event_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let failed = fill(&db, 200).await;
    let console = start(dir.path(), "").await;
    let base = &console.base;
    let Some(browser) = Browser::start().await else {
        return;
    };

    browser.go(&format!("{base}/")).await;
    browser.type_into("#name", "Ann Operator").await;
    browser.type_into("#password", OPERATOR).await;
    browser.click("#login").await;
    browser.expect_text("h1", "Overview").await;

    browser.go(&format!("{base}/events")).await;
    browser.type_into("#q", ORDER).await;
    browser.click("#filter").await;
    browser.expect_url(&format!("q={ORDER}")).await;
    let listed = browser.text("main table").await;
    assert_eq!(listed.matches(ORDER).count(), 3, "{listed}");
    assert!(listed.contains("dead"), "{listed}");

    browser.click(&format!("a[href='/events/{failed}']")).await;
    browser.expect_text("h1", &format!("Event #{failed}")).await;
    assert_eq!(browser.text("#state").await, "dead");
    assert!(browser.text("#error").await.contains("503"));
    // The body's <script> is text on the page, not a script.
    assert!(browser
        .text("#raw")
        .await
        .contains("PO-<script>alert(1)</script>"));
    if let Ok(path) = std::env::var("CONSOLE_SCREENSHOT") {
        browser.screenshot(Path::new(&path)).await;
    }

    browser.click("#replay").await;
    browser.expect_text("h1", "Please confirm").await;
    browser.click("#confirm").await;
    browser
        .expect_text("main", &format!("Replayed #{failed}"))
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        browser.go(&format!("{base}/events/{failed}")).await;
        if browser.text("#state").await == "done" {
            break;
        }
        assert!(Instant::now() < deadline, "the replayed event is handled");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(browser.url().await.ends_with(&format!("/events/{failed}")));
    browser.close().await;

    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    let record: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(record["who"], "Ann Operator");
    assert_eq!(record["action"], "replay");
    assert!(record["detail"]
        .as_str()
        .unwrap()
        .contains(&format!("#{failed}")));
}

/// Odd but NUL-free Unicode in a body: a right-to-left override, a joined
/// emoji, stacked combining marks, the JavaScript line separators, a BOM,
/// letters outside the BMP, and markup that would close the `<pre>`.
const ODD: &str = "\u{202E}evil\u{202C} \u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467} e\u{301}\u{302}\u{303} \
                   a\u{2028}b\u{2029}c \u{FEFF}\u{FFFD} \u{1D518}\u{1D52B}\u{1D526} ]]> --> </pre></textarea><script>window.owned=1</script>";

/// The operator's walk in a real browser, as a viewer and as an operator,
/// against `tradecloud serve` with events in its inbox: the dead-letter
/// page (`state=dead`), an event's fields, the replay of a dead event and
/// its effect in the inbox; a viewer sees no replay button and a POST
/// forged with the viewer's session and CSRF token is refused `403`; the
/// pages of events with `<script>` in the body, odd Unicode and a 10 MB
/// body show the body whole, as text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_and_an_operator_walk_the_pages_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let failed = fill(&db, 5).await;
    let big_po = format!("PO-{}-end", "0123456789".repeat(1024 * 1024));
    let (odd, big) = {
        let inbox = Inbox::open(&format!("sqlite://{}", db.display())).unwrap();
        let odd = inbox
            .store(order_event_with("odd-order", 90, ODD))
            .await
            .unwrap()
            .id();
        let big = inbox
            .store(order_event_with("big-order", 91, &big_po))
            .await
            .unwrap()
            .id();
        (odd, big)
    };
    let console = start(dir.path(), "").await;
    let base = &console.base;
    let Some(browser) = Browser::start().await else {
        return;
    };

    // The viewer: the dead-letter page lists the dead event; its page shows
    // its fields, and no button to replay it.
    browser.log_in(base, "Vic Viewer", VIEWER).await;
    browser.go(&format!("{base}/events?state=dead")).await;
    let listed = browser.text("main table").await;
    assert!(
        listed.contains(&format!("{failed}")) && listed.contains(ORDER),
        "{listed}"
    );
    assert_eq!(
        listed.matches("dead").count(),
        1,
        "only the dead event: {listed}"
    );
    browser.click(&format!("a[href='/events/{failed}']")).await;
    browser.expect_text("h1", &format!("Event #{failed}")).await;
    assert_eq!(browser.text("#state").await, "dead");
    assert!(browser
        .text("#error")
        .await
        .contains("503 Service Unavailable"));
    let fields = browser.text("main dl").await;
    for want in [
        ORDER,
        "00000000-0000-4000-8000-000000000003",
        "OrderLinesConfirmedBySupplier",
        "application/json",
    ] {
        assert!(fields.contains(want), "{want} in {fields}");
    }
    assert!(
        !browser.has("#replay").await,
        "a viewer gets no replay button"
    );
    assert!(!browser.has("form[action='/replay']").await);
    // A replay forged with the viewer's own session and CSRF token.
    let csrf = browser
        .script(
            "return document.querySelector('input[name=csrf]').value;",
            json!([]),
        )
        .await;
    let forged = http()
        .post(format!("{base}/replay"))
        .header("cookie", browser.cookies().await)
        .form_pairs(&[
            ("csrf", csrf.as_str().unwrap()),
            ("id", &failed.to_string()),
            ("confirm", "yes"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(state_of(&db, failed).await, "dead");
    browser.click("form[action='/logout'] button").await;
    browser.expect_text("h1", "Log in").await;

    // The operator: from the dead-letter page to the event, replayed with
    // the form's CSRF token; the inbox hands it to the handler again and
    // the dead-letter page is empty.
    browser.log_in(base, "Olga Operator", OPERATOR).await;
    browser.go(&format!("{base}/events?state=dead")).await;
    browser.click(&format!("a[href='/events/{failed}']")).await;
    browser.expect_text("h1", &format!("Event #{failed}")).await;
    let token = browser
        .script(
            "return document.querySelector('form[action=\"/replay\"] input[name=csrf]').value;",
            json!([]),
        )
        .await;
    assert!(token.as_str().is_some_and(|t| t.len() >= 16), "{token}");
    browser.click("#replay").await;
    browser.expect_text("h1", "Please confirm").await;
    browser.click("#confirm").await;
    browser
        .expect_text("main", &format!("Replayed #{failed}"))
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while state_of(&db, failed).await != "done" {
        assert!(Instant::now() < deadline, "the replayed event is handled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.go(&format!("{base}/events?state=dead")).await;
    assert!(!browser.has(&format!("a[href='/events/{failed}']")).await);

    // Bodies that could break a page: each is shown as text, and nothing
    // in them runs; a 10 MB body is cut to its first 512 KiB (whole, the
    // page kept the browser busy for 22 s), and downloaded whole.
    let big_head = &big_po[..1000];
    // How the page shows the bidirectional controls of ODD.
    let shown_as = |text: &str| {
        text.replace('\u{202E}', "<U+202E>")
            .replace('\u{202C}', "<U+202C>")
    };
    for (id, po) in [
        (failed, "PO-<script>alert(1)</script>"),
        (odd, ODD),
        (big, big_head),
    ] {
        browser.go(&format!("{base}/events/{id}")).await;
        browser.expect_text("h1", &format!("Event #{id}")).await;
        let shown = browser
            .script(
                "const raw = document.getElementById('raw'), decoded = document.getElementById('decoded');
                 return {
                   raw: raw ? raw.textContent.includes(arguments[0]) : null,
                   decoded: decoded ? decoded.textContent.includes(arguments[0]) : null,
                   scripts: document.scripts.length,
                   owned: window.owned === 1,
                 };",
                json!([shown_as(serde_json::to_string(po).unwrap().trim_matches('"'))]),
            )
            .await;
        assert_eq!(
            shown["raw"],
            json!(true),
            "event {id}: the raw body, escaped as JSON has it"
        );
        assert_eq!(shown["scripts"], json!(0), "event {id}: {shown}");
        assert_eq!(shown["owned"], json!(false), "event {id}: {shown}");
        let decoded = browser
            .script(
                "return document.getElementById('decoded').textContent.includes(arguments[0]);",
                json!([shown_as(po)]),
            )
            .await;
        assert_eq!(
            decoded,
            json!(true),
            "event {id}: the decoded body holds the value as it is"
        );
        assert_eq!(browser.text("#state").await, "done", "event {id}");
        assert_eq!(browser.has("#body-cut").await, id == big, "event {id}");
        // Bidirectional controls are shown, not obeyed: none is on the page.
        assert_eq!(browser.has("#body-controls").await, id == odd, "event {id}");
        let obeyed = browser
            .script(
                "return /[\\u202a-\\u202e\\u2066-\\u2069]/.test(document.body.textContent);",
                json!([]),
            )
            .await;
        assert_eq!(obeyed, json!(false), "event {id}");
    }
    browser
        .expect_text("#body-cut", "this page shows the first 512 KiB")
        .await;
    let whole = browser
        .script(
            "return [document.getElementById('raw').textContent.length, \
                     document.getElementById('decoded').textContent.length, \
                     document.getElementById('raw').textContent.includes('-end')];",
            json!([]),
        )
        .await;
    assert!(
        whole[0].as_u64().unwrap() <= 512 * 1024 && whole[1].as_u64().unwrap() <= 512 * 1024,
        "{whole}"
    );
    assert_eq!(whole[2], json!(false), "the end is not on the page");
    // The whole body, byte for byte, as a download (never a page).
    let stored = {
        let inbox = Inbox::open(&format!("sqlite://{}", db.display())).unwrap();
        inbox.get(big).await.unwrap().unwrap().body
    };
    let download = http()
        .get(format!("{base}/events/{big}/body"))
        .header("cookie", browser.cookies().await)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(
        download.headers()["content-type"],
        "application/octet-stream"
    );
    assert!(download.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(download.bytes().await.unwrap(), stored);
    let anonymous = http()
        .get(format!("{base}/events/{big}/body"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    browser.close().await;

    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    let records: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        records
            .iter()
            .all(|r| r["who"] != "Vic Viewer" || r["action"] != "replay"),
        "{audit}"
    );
    assert!(
        records
            .iter()
            .any(|r| r["who"] == "Olga Operator" && r["action"] == "replay"),
        "{audit}"
    );
}

/// A search of bodies reads a window of `console.body_search_events`
/// events per page, newest first, says which, and "Older events" goes on
/// below it until the oldest event: each page's cost is bounded at any
/// size of inbox, and nothing older is out of reach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_of_bodies_goes_back_a_window_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    // Events 1..=5 of other orders, 6..=8 of ORDER.
    fill(&db, 5).await;
    let console = start(dir.path(), "body_search_events = 3\n").await;
    let base = &console.base;
    let cookie = cookie_of(&login(base, VIEWER).await);
    // The first event's message id: in its body only (no index knows it).
    let text = "00000000-0000-4000-8000-000000000010";
    let mut path = format!("/events?q={text}");
    let mut windows = Vec::new();
    let found = loop {
        let page = http()
            .get(format!("{base}{path}"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{path}");
        let page = page.text().await.unwrap();
        let window = page
            .split("this page searched events ")
            .nth(1)
            .and_then(|rest| rest.split([';', ',']).next())
            .unwrap_or_else(|| panic!("no window named: {page}"))
            .to_string();
        windows.push(window);
        match older_link(&page) {
            Some(next) => {
                assert!(!page.contains("href=\"/events/1\""), "{page}");
                path = next;
            }
            None => break page,
        }
    };
    assert_eq!(windows, ["#6 to #8", "#3 to #5", "#1 to #2"]);
    assert!(found.contains("the oldest there are"), "{found}");
    assert!(found.contains("href=\"/events/1\""), "{found}");
    assert!(found.contains("1 events, newest first"), "{found}");
}

/// A full page of a body search stopped at its 50th match: its note says
/// how far it searched, and "Older events" goes on from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_page_of_a_body_search_says_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    // 63 events; every message id starts with this text (bodies only).
    fill(&db, 60).await;
    let console = start(dir.path(), "").await;
    let base = &console.base;
    let cookie = cookie_of(&login(base, VIEWER).await);
    let get = |path: String| {
        let cookie = cookie.clone();
        async move { get_as(base, &cookie, &path).await.text().await.unwrap() }
    };
    let text = "00000000-0000-4000-8000-0000000000";
    let first = get(format!("/events?q={text}")).await;
    assert!(first.contains("50 events, newest first"), "{first}");
    assert!(
        first.contains("this page searched events #14 to #63; \u{201c}Older events\u{201d} goes on from there."),
        "{first}"
    );
    let older = older_link(&first).unwrap();
    assert!(older.contains("before=14"), "{older}");
    let second = get(older).await;
    assert!(second.contains("13 events, newest first"), "{second}");
    assert!(
        second.contains("this page searched events #1 to #13, the oldest there are."),
        "{second}"
    );
    assert!(!second.contains("rel=\"next\""), "{second}");
}

/// Plain HTTP probes: nothing without a session, no change without the
/// session's CSRF token, no promotion of a planted session id, the
/// read-only role cannot replay, bodies are escaped, login brute force is
/// slowed down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_refuses_what_it_must() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let failed = fill(&db, 5).await;
    let console = start(dir.path(), "").await;
    let base = &console.base;
    let client = http();

    // No session: the login form, and nothing else.
    let home = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains("name=\"password\""));
    for path in [
        "/events",
        &format!("/events/{failed}"),
        &format!("/objects/{ORDER}"),
    ] {
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        assert!(!r.text().await.unwrap().contains(ORDER), "{path}");
    }
    let r = client
        .post(format!("{base}/replay"))
        .form_pairs(&[("id", failed.to_string()), ("confirm", "yes".into())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // A session, but no (or another) CSRF token: refused, nothing replayed.
    let planted = "tc_console=0000000000000000000000000000000000000000000000000000000000000000";
    let logged_in = http()
        .post(format!("{base}/login"))
        .header("cookie", planted)
        .form_pairs(&[("name", "probe"), ("password", OPERATOR)])
        .send()
        .await
        .unwrap();
    assert_eq!(logged_in.status(), 303);
    let cookie = cookie_of(&logged_in);
    assert_ne!(cookie, planted, "a new session id at login (no fixation)");
    let page = client
        .get(format!("{base}/events/{failed}"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let page = page.text().await.unwrap();
    assert!(
        page.contains("PO-&lt;script&gt;alert(1)&lt;/script&gt;"),
        "escaped"
    );
    assert!(!page.contains("<script>"), "no script from a body");
    // A purchase order number (any text of a body) is found too.
    let found = client
        .get(format!(
            "{base}/events?q=PO-%3Cscript%3Ealert(1)%3C%2Fscript%3E"
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Found by its index, not by reading bodies.
    assert!(!found.contains("in their body"), "{found}");
    assert!(
        found.contains(&format!("href=\"/events/{failed}\"")),
        "{found}"
    );
    // Any other text of a body: the body scan.
    let found = client
        .get(format!("{base}/events?q=OpenSupplierProposal"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(found.contains("in their body"), "{found}");
    assert!(
        found.contains(&format!("href=\"/events/{failed}\"")),
        "{found}"
    );
    let csrf = csrf_of(&page);
    for token in [None, Some("0".repeat(64))] {
        let mut form = vec![("id", failed.to_string()), ("confirm", "yes".to_string())];
        if let Some(token) = token {
            form.push(("csrf", token));
        }
        let r = client
            .post(format!("{base}/replay"))
            .header("cookie", &cookie)
            .form_pairs(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    }
    assert_eq!(state_of(&db, failed).await, "dead", "nothing replayed");

    // The read-only role sees, but cannot replay.
    let viewer = cookie_of(&login(base, VIEWER).await);
    let page = client
        .get(format!("{base}/events/{failed}"))
        .header("cookie", &viewer)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("id=\"replay\""));
    let r = client
        .post(format!("{base}/replay"))
        .header("cookie", &viewer)
        .form_pairs(&[
            ("id", failed.to_string()),
            ("confirm", "yes".into()),
            ("csrf", csrf_of(&page)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // With the token: replayed.
    let r = client
        .post(format!("{base}/replay"))
        .header("cookie", &cookie)
        .form_pairs(&[
            ("id", failed.to_string()),
            ("confirm", "yes".into()),
            ("csrf", csrf.clone()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_ne!(state_of(&db, failed).await, "dead");

    // Mark dead: confirmed first; refused, saying why, for a handled event.
    let other = failed - 1;
    let deadline = Instant::now() + Duration::from_secs(30);
    while state_of(&db, other).await != "done" {
        assert!(Instant::now() < deadline, "event {other} is handled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut form = vec![
        ("id", other.to_string()),
        ("reason", "the ERP refuses it".to_string()),
        ("csrf", csrf.clone()),
    ];
    let r = client
        .post(format!("{base}/dead"))
        .header("cookie", &cookie)
        .form_pairs(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains(&format!("Mark event #{other} dead")));
    form.push(("confirm", "yes".into()));
    let r = client
        .post(format!("{base}/dead"))
        .header("cookie", &cookie)
        .form_pairs(&form)
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(
        text.contains("was not marked dead") && text.contains("is done"),
        "{text}"
    );
    assert_eq!(state_of(&db, other).await, "done");

    // Logged out: the session is gone.
    let r = client
        .post(format!("{base}/logout"))
        .header("cookie", &cookie)
        .form_pairs(&[("csrf", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let r = client
        .get(format!("{base}/events"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Brute force: after 5 wrong passwords, even the right one waits.
    for _ in 0..5 {
        assert_eq!(
            login(base, "wrong password, long enough").await.status(),
            401
        );
    }
    let r = login(base, OPERATOR).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
}

/// Issue 21, item 3: two receivers on one PostgreSQL inbox; either one's
/// console shows every event, and a replay through one is handled (by
/// either) and seen through the other.
/// An event's page lists the lines it changed (position, status, delivery
/// schedule, prices) and marks them in the decoded body; the order's
/// timeline says what changed in each event. The same rules as
/// `tradecloud inspect` (`Message::changed_lines`).
/// The login form has no CSRF token (there is no session yet): a login sent
/// by another site's form (Sec-Fetch-Site, else Origin) is refused with
/// `403` and no session, so no site can log a browser in; the console's
/// own form, and clients that send neither header, log in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_sent_by_another_site_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fill(&dir.path().join("inbox.db"), 0).await;
    let console = start(dir.path(), "").await;
    let base = &console.base;
    let own = base.trim_start_matches("http://").to_string();
    let attempt = |headers: Vec<(&'static str, String)>| {
        let mut request = http().post(format!("{base}/login"));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.form_pairs(&[("name", "probe"), ("password", OPERATOR)])
    };
    for headers in [
        vec![
            ("sec-fetch-site", "cross-site".to_string()),
            ("origin", "https://evil.example".to_string()),
        ],
        vec![("origin", "https://evil.example".to_string())],
        vec![("origin", "null".to_string())],
    ] {
        let r = attempt(headers.clone()).send().await.unwrap();
        assert_eq!(r.status(), 403, "{headers:?}");
        assert!(r.headers().get("set-cookie").is_none(), "{headers:?}");
        assert!(
            r.text().await.unwrap().contains("another site"),
            "{headers:?}"
        );
    }
    for headers in [
        vec![
            ("sec-fetch-site", "same-origin".to_string()),
            ("origin", base.clone()),
        ],
        vec![("origin", format!("http://{own}"))],
        vec![],
    ] {
        let r = attempt(headers.clone()).send().await.unwrap();
        assert_eq!(r.status(), 303, "{headers:?}");
        cookie_of(&r);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_lines_are_shown_on_the_event_and_the_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let failed = fill(&db, 0).await;
    let console = start(dir.path(), "").await;
    let base = &console.base;
    let cookie = cookie_of(&login(base, VIEWER).await);
    let get = |path: String| {
        let cookie = cookie.clone();
        async move {
            let r = http()
                .get(format!("{base}{path}"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{path}");
            r.text().await.unwrap()
        }
    };
    let page = get(format!("/events/{failed}")).await;
    let list_at = page
        .find("id=\"changed-lines\"")
        .expect("a list of changed lines");
    let decoded_at = page.find("id=\"decoded\"").expect("the decoded body");
    assert!(list_at < decoded_at, "the list comes first");
    assert!(
        page.contains("2 changed, marked in the decoded body"),
        "{page}"
    );
    for (k, id) in [
        (0, "0001 (d2b9a8e4-5c1e-4a53-9d0b-6f1f0f6d7a01)"),
        (1, "0002 (d2b9a8e4-5c1e-4a53-9d0b-6f1f0f6d7a02)"),
    ] {
        assert!(
            page.contains(&format!("href=\"#line-{k}\">position {id}</a>")),
            "{page}"
        );
        let mark = format!("<mark class=\"changed\" id=\"line-{k}\">");
        let at = page.find(&mark).expect("the changed line marked");
        assert!(at > decoded_at);
        let end = at + page[at..].find("</mark>").unwrap();
        assert!(
            page[at..end].contains("&quot;buyerLine&quot;"),
            "the whole line is marked"
        );
    }
    // Its values: statuses (and schedule and prices when the line has them).
    assert!(page.contains("<dt>status</dt><dd><code>{&quot;inProgressStatus&quot;:&quot;OpenSupplierProposal&quot;"), "{page}");
    // The body's <script> is still text, inside a marked line too.
    assert!(!page.contains("<script>"));
    // The rest of the body is there, unmarked, once.
    let raw_at = page.find("id=\"raw\"").expect("the raw body");
    assert_eq!(
        page[decoded_at..raw_at]
            .matches("&quot;eventName&quot;")
            .count(),
        1
    );

    let timeline = get(format!("/objects/{ORDER}")).await;
    assert_eq!(
        timeline
            .matches("aria-label=\"Lines changed by event")
            .count(),
        3,
        "{timeline}"
    );
    assert!(
        timeline.contains("position 0002 (d2b9a8e4-5c1e-4a53-9d0b-6f1f0f6d7a02); status <code>"),
        "{timeline}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_receivers_on_postgresql_serve_the_same_console() {
    let pg = pg_support::PgCluster::start();
    let url = pg.database("inbox");
    let inbox = Inbox::connect(&url).await.unwrap();
    let mut failed = 0;
    for n in 0..3 {
        failed = inbox.store(order_event(ORDER, n + 1)).await.unwrap().id();
    }
    drop(inbox);
    pg.psql(
        "inbox",
        &format!(
            "UPDATE events SET state = 'dead', attempts = 10, error = 'the ERP was down' WHERE id = {failed}"
        ),
    );
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start_on(dir_a.path(), &url, "").await;
    let b = start_on(dir_b.path(), &url, "").await;
    let client = http();
    let mut cookies = Vec::new();
    for console in [&a, &b] {
        let r = login(&console.base, OPERATOR).await;
        assert_eq!(r.status(), 303);
        cookies.push(cookie_of(&r));
    }
    let page = |base: String, cookie: String, path: String| {
        let client = client.clone();
        async move {
            let r = client
                .get(format!("{base}{path}"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{path}");
            r.text().await.unwrap()
        }
    };
    let listed = page(
        b.base.clone(),
        cookies[1].clone(),
        format!("/events?q={ORDER}"),
    )
    .await;
    assert_eq!(listed.matches("href=\"/events/").count(), 3, "{listed}");
    let event = page(
        b.base.clone(),
        cookies[1].clone(),
        format!("/events/{failed}"),
    )
    .await;
    assert!(event.contains("the ERP was down"));
    let r = client
        .post(format!("{}/replay", b.base))
        .header("cookie", &cookies[1])
        .form_pairs(&[
            ("id", failed.to_string()),
            ("confirm", "yes".into()),
            ("csrf", csrf_of(&event)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = page(
            a.base.clone(),
            cookies[0].clone(),
            format!("/events/{failed}"),
        )
        .await;
        if seen.contains("class=\"state done\"") {
            break;
        }
        assert!(Instant::now() < deadline, "replayed and handled: {seen}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A session of one receiver is not one of the other.
    let r = client
        .get(format!("{}/events", a.base))
        .header("cookie", &cookies[1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// By default the console is HTTPS with the receiver's certificate, and its
/// session cookie is `Secure` with the `__Host-` prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_https_with_the_receivers_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (config, cert) = serve_config(
        dir.path(),
        &format!(
            "[store]\nurl = \"sqlite://{}\"\n[console]\nlisten = \"127.0.0.1:{port}\"\npassword = \"{OPERATOR}\"\n",
            dir.path().join("inbox.db").display()
        ),
    );
    let mut command = Command::new(EXE);
    command
        .args(["serve", "--config"])
        .arg(&config)
        .env("TRADECLOUD_AUTH_PASSWORD", PASSWORD);
    let (_serve, _, log) = spawn_serve_logged(command, Duration::from_secs(60)).await;
    assert!(
        log.lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(&format!("operator console on https://127.0.0.1:{port}"))),
        "{:?}",
        log.lock().unwrap()
    );
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.as_bytes()).unwrap())
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("https://localhost:{port}");
    let home = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    let r = client
        .post(format!("{base}/login"))
        .form_pairs(&[("name", "probe"), ("password", OPERATOR)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.starts_with("__Host-tc_console=")
            && set.contains("; Secure")
            && set.contains("HttpOnly"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    let overview = client
        .get(format!("{base}/"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert!(overview.text().await.unwrap().contains("<h1>Overview</h1>"));
    // Plain HTTP on the console's port gets nothing.
    assert!(http()
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .map(|r| r.status().is_success())
        .map_or(true, |ok| !ok));
}

/// The console's port is open only when configured.
#[tokio::test]
async fn no_console_without_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = serve_config(
        dir.path(),
        &format!(
            "[store]\nurl = \"sqlite://{}\"\n",
            dir.path().join("inbox.db").display()
        ),
    );
    let mut command = Command::new(EXE);
    command
        .args(["serve", "--receive-only", "--config"])
        .arg(&config)
        .env("TRADECLOUD_AUTH_PASSWORD", PASSWORD);
    let (_serve, addr, log) = spawn_serve_logged(command, Duration::from_secs(60)).await;
    assert!(
        !log.lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("operator console")),
        "no console"
    );
    // The webhook port does not serve the console.
    let r = client_for(
        &std::fs::read_to_string(dir.path().join("cert.pem")).unwrap(),
        addr,
    )
    .get(format!("https://localhost:{}/events", addr.port()))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
}

/// Fills the inbox of `scripts/console-bench.py` (not a timed test; run by
/// the script): `CONSOLE_BENCH_DB` gets `CONSOLE_BENCH_EVENTS` handled
/// events of 20,000 orders (order-documents events, 2 kB each) and three
/// of [`ORDER`], the last of them dead. Prints the dead event's id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by scripts/console-bench.py"]
async fn fill_an_inbox_for_the_benchmark() {
    let Ok(db) = std::env::var("CONSOLE_BENCH_DB") else {
        panic!("set CONSOLE_BENCH_DB to the inbox file to fill");
    };
    let events: usize = std::env::var("CONSOLE_BENCH_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let inbox = Inbox::open(&format!("sqlite://{db}")).unwrap();
    let template = String::from_utf8(fixture("order-webhook/order-documents-event.json")).unwrap();
    let tasks = 64;
    let mut joins = Vec::new();
    for t in 0..tasks {
        let (inbox, template) = (inbox.clone(), template.clone());
        joins.push(tokio::spawn(async move {
            for n in (t..events).step_by(tasks) {
                let body = template
                    .replace(
                        "c3d4e5f6-a7b8-4c9d-0e1f-2a3b4c5d6e7f",
                        &format!("00000000-0000-4000-9000-{n:012}"),
                    )
                    .replace(
                        "4fd2a3c0-6b1e-4e8b-9c2a-1d3e5f7a9b0c",
                        &format!("bench-order-{}", n % 20_000),
                    );
                let webhook = decode(Endpoint::Order, "application/json", body.as_bytes()).unwrap();
                inbox
                    .store(NewEvent::from_webhook(
                        &webhook,
                        "application/json",
                        Bytes::from(body),
                    ))
                    .await
                    .unwrap();
            }
        }));
    }
    for join in joins {
        join.await.unwrap();
    }
    let mut failed = 0;
    for n in 0..3 {
        failed = inbox.store(order_event(ORDER, n + 1)).await.unwrap().id();
    }
    drop(inbox);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "UPDATE events SET state = 'done', updated_at = received_at WHERE state = 'received'; \
         DELETE FROM heads;",
    )
    .unwrap();
    conn.execute(
        "UPDATE events SET state = 'dead', attempts = 10, \
         error = 'the ERP answered 503 Service Unavailable (attempts ran out)' WHERE id = ?1",
        [failed],
    )
    .unwrap();
    println!("CONSOLE_BENCH_FAILED={failed}");
}

/// An event's page lists every processing attempt with its outcome and
/// error, oldest first, and the request headers; an error or a header is
/// shown as text (a `<script>` in it is not run) (issue 21).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_processing_attempt_is_shown_with_its_error_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let failed = fill(&db, 0).await;
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        for (n, (outcome, error)) in [
            (
                "retry",
                Some("the ERP answered 503 <script>alert(2)</script>"),
            ),
            ("retry", Some("connection reset by the ERP & its proxy")),
            ("dead", Some("attempts ran out")),
        ]
        .into_iter()
        .enumerate()
        {
            let at = 1_700_000_000_000i64 + 60_000 * n as i64;
            conn.execute(
                "INSERT INTO event_attempts (event_id, started_at, finished_at, instance, outcome, error) \
                 VALUES (?1, ?2, ?3, 'instance-a', ?4, ?5)",
                rusqlite::params![failed, at, at + 1_500, outcome, error],
            )
            .unwrap();
        }
        // And the request headers it came with (as the receiver keeps them).
        conn.execute(
            "UPDATE event_bodies SET headers = ?2 WHERE event_id = ?1",
            rusqlite::params![
                failed,
                r#"[["user-agent","Tradecloud <script>alert(3)</script>"],["authorization","Basic [redacted]"]]"#
            ],
        )
        .unwrap();
    }
    let console = start(dir.path(), "").await;
    let r = viewer_get(&console.base, &format!("/events/{failed}")).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    let table = page.find("id=\"attempts\"").expect("a table of attempts");
    let first = page
        .find("the ERP answered 503 &lt;script&gt;alert(2)&lt;/script&gt;")
        .expect("the first error, escaped");
    let second = page
        .find("connection reset by the ERP &amp; its proxy")
        .expect("the second error, escaped");
    assert!(table < first && first < second, "oldest first: {page}");
    assert!(!page.contains("<script>alert(2)"), "{page}");
    assert_eq!(page.matches("<td class=\"outcome\">retry</td>").count(), 2);
    assert!(page.contains("<td class=\"outcome\">dead</td>"), "{page}");
    assert!(page.contains("instance-a"));
    assert!(page.contains("1.500 s"), "{page}");
    let headers = page.find("id=\"headers\"").expect("a table of headers");
    let agent = page
        .find("Tradecloud &lt;script&gt;alert(3)&lt;/script&gt;")
        .expect("the user agent, escaped");
    assert!(
        headers < agent && !page.contains("<script>alert(3)"),
        "{page}"
    );
    assert!(page.contains("Basic [redacted]"), "{page}");
}

/// "Mark dead…" is offered for a `processing` event that no live claim
/// holds (interrupted, put back at a clean stop: what `POST /dead` accepts),
/// never for one a claim holds (being handled now). The receiver only
/// receives here, so that nothing claims or frees them meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mark_dead_is_offered_for_a_processing_event_nothing_holds() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let inbox = Inbox::open(&format!("sqlite://{}", db.display())).unwrap();
    let free = inbox
        .store(order_event("free-order", 1))
        .await
        .unwrap()
        .id();
    let held = inbox
        .store(order_event("held-order", 2))
        .await
        .unwrap()
        .id();
    drop(inbox);
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute(
            "UPDATE events SET state = 'processing', attempts = 1 WHERE id IN (?1, ?2)",
            [free, held],
        )
        .unwrap();
        let owned = conn
            .execute(
                "UPDATE heads SET owner = 'another-processor' WHERE event_id = ?1",
                [held],
            )
            .unwrap();
        assert_eq!(owned, 1, "the held event's head");
    }
    let console = start_with(
        dir.path(),
        &format!("sqlite://{}", db.display()),
        "",
        &["--receive-only"],
    )
    .await;
    let base = &console.base;
    let cookie = cookie_of(&login(base, OPERATOR).await);
    let page_of = |id: i64| {
        let cookie = cookie.clone();
        async move {
            let page = get_as(base, &cookie, &format!("/events/{id}")).await;
            page.text().await.unwrap()
        }
    };
    let page = page_of(held).await;
    assert!(
        page.contains("processing") && !page.contains("id=\"dead\""),
        "no Mark dead for an event a claim holds: {page}"
    );
    let page = page_of(free).await;
    assert!(
        page.contains("id=\"dead\""),
        "Mark dead for an event nothing holds: {page}"
    );
    let r = http()
        .post(format!("{base}/dead"))
        .header("cookie", &cookie)
        .form_pairs(&[
            ("id", free.to_string()),
            ("reason", "the ERP refuses it".to_string()),
            ("csrf", csrf_of(&page)),
            ("confirm", "yes".to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        state_of(&db, free).await,
        "dead",
        "what the page offers, POST /dead does"
    );
    assert_eq!(state_of(&db, held).await, "processing");
}

/// An audit file that cannot be opened for appending stops the start,
/// naming it and what to do; one that fails later (here: a directory in
/// its place) is said on the page of the action, not only in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_audit_file_is_refused_at_start_and_shown_after_an_action() {
    // At start: a directory that does not exist.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir").join("audit.jsonl");
    let (config, _) = serve_config(
        dir.path(),
        &format!(
            "[store]\nurl = \"sqlite://{}\"\n\
             [console]\nlisten = \"127.0.0.1:{}\"\ntls = false\npassword = \"{OPERATOR}\"\n\
             audit_file = {:?}\n",
            dir.path().join("inbox.db").display(),
            free_port(),
            missing.display().to_string(),
        ),
    );
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new(EXE)
            .args(["serve", "--config"])
            .arg(&config)
            .env("TRADECLOUD_AUTH_PASSWORD", PASSWORD)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("serve refuses to start instead of running")
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "console.audit_file = {:?} cannot be opened for appending",
            missing.display().to_string()
        )) && stderr.contains("create its directory"),
        "{stderr}"
    );

    // At action time: the replay is done, and the page says the record is not.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let failed = fill(&db, 0).await;
    let console = start(dir.path(), "").await;
    let base = &console.base;
    let cookie = cookie_of(&login(base, OPERATOR).await);
    let client = http();
    let page = client
        .get(format!("{base}/events/{failed}"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let audit = dir.path().join("audit.jsonl");
    let _ = std::fs::remove_file(&audit);
    std::fs::create_dir(&audit).unwrap();
    let r = client
        .post(format!("{base}/replay"))
        .header("cookie", &cookie)
        .form_pairs(&[
            ("id", failed.to_string()),
            ("confirm", "yes".into()),
            ("csrf", csrf_of(&page)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains(&format!("Replayed #{failed}.")), "{page}");
    assert!(
        page.contains("role=\"alert\"")
            && page.contains("The audit record was NOT written")
            && page.contains(&audit.display().to_string()),
        "{page}"
    );
    assert_ne!(state_of(&db, failed).await, "dead", "replayed all the same");
}

/// A body under 512 KiB whose decoded text is over it (indented JSON: a
/// 200 KB array of numbers prints as 1.1 MB) is cut on the page too, and
/// the page says so and links the download; it was cut without a word.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_whose_decoded_text_is_cut_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let id = store_edited(&db, "PO-padded", |body| {
        let padding = vec!["0"; 100_000].join(",");
        let body = body.replace(
            "\"PO-padded\"",
            &format!("\"PO-padded\", \"padding\": [{padding}]"),
        );
        assert!(body.len() < 512 * 1024, "{}", body.len());
        body
    })
    .await;
    let console = start(dir.path(), "").await;
    let r = viewer_get(&console.base, &format!("/events/{id}")).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("id=\"decoded\""), "a decoded body");
    assert!(
        page.contains("id=\"body-cut\""),
        "the page says the body is cut"
    );
    assert!(page.contains(&format!("href=\"/events/{id}/body\"")));
}

/// A body whose JSON writes a bidirectional control escaped (`\u202e`)
/// shows it as `<U+202E>` in the decoded body, and the page says what
/// that is, as for one written as is; the note was left out, as the raw
/// bytes hold no such character.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escaped_bidi_control_is_explained_too() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.db");
    let id = store_edited(&db, "PO-escaped", |body| {
        body.replace("\"PO-escaped\"", r#""\u202e4321-OP""#)
    })
    .await;
    let console = start(dir.path(), "").await;
    let page = viewer_get(&console.base, &format!("/events/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("&lt;U+202E&gt;4321-OP"), "shown, not obeyed");
    assert!(!page.contains('\u{202E}'), "{page}");
    assert!(page.contains("id=\"body-controls\""), "and explained");
}
