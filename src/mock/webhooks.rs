//! Webhook delivery of the mock, like Tradecloud's: per company, the
//! settings of its order, order-document and shipment webhooks; the events
//! the process produces (`line_event`, the one table from transition to
//! event name); and their delivery through the crate's one delivery
//! implementation ([`crate::client::delivery`]) with Tradecloud's retry
//! rule, per order in order, logged attempt by attempt.
//!
//! The settings have the JSON members of Tradecloud's published examples
//! (`tradecloud/tradecloud-sdk-dotnet`:
//! `order-webhook-connector/SetOrderEventsSettings/order-events-settings.json`,
//! `order-webhook-connector/SetOrderDocumentsEventsSettings/order-documents-events-settings.json`,
//! `shipment-webhook-connector/SetSettings/settings.json`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::error::MockError;
use super::state::lock;
use crate::api::common::types::{Document, Order, Shipment};
use crate::client::delivery::{self, DeliveryAttempt, Verdict};
use crate::client::RetryPolicy;
use crate::types::Party;

/// Basic credentials a webhook is called with (`basicAuthCredentials`).
/// `Debug` leaves the password out.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicAuthCredentials {
    /// The user name.
    #[serde(default)]
    pub username: String,
    /// The password.
    #[serde(default)]
    pub password: String,
}

impl fmt::Debug for BasicAuthCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuthCredentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The settings of one webhook of a company, with the JSON members of
/// Tradecloud's settings endpoints (see the [module docs](self)).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSettings {
    /// `POST` (default), `PUT` or `GET`. With `GET` no body is sent: the
    /// order or shipment id goes into the URL's `{orderId}`/`{shipmentId}`
    /// (or `{id}`) placeholder, else into the query (`?orderId=...` or
    /// `?shipmentId=...`), with `eventName` in the query too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Where the events go: `https://`, or `http://` on a loopback address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Basic credentials sent with each event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth_credentials: Option<BasicAuthCredentials>,
    /// A static Bearer token sent with each event (instead of the Basic
    /// credentials when both are set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<String>,
    /// `JSON` (default) or `tXML`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Send `singleDeliveryOrderEvent` (one delivery per line) instead of
    /// `orderEvent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_delivery_per_order_line: Option<bool>,
    /// The event names to deliver; absent or empty: every event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled_event_names: Option<Vec<String>>,
    /// Members Tradecloud may add, kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl WebhookSettings {
    /// POST JSON to `url`, every event.
    pub fn new(url: impl Into<String>) -> Self {
        WebhookSettings {
            webhook_url: Some(url.into()),
            ..Self::default()
        }
    }

    /// Check the settings of a `kind` of webhook: a usable URL (HTTPS, or
    /// HTTP on loopback), a known method and format. tXML is offered for
    /// the order webhook only (api/json-vs-xml.md; Tradecloud's example of
    /// the shipment settings has no `format`), so shipment settings asking
    /// for it are refused rather than followed.
    pub fn validate(&self, kind: WebhookKind) -> Result<(), String> {
        if let Some(url) = &self.webhook_url {
            check_target(url)?;
        }
        if let Some(method) = &self.method {
            if !["POST", "PUT", "GET"].contains(&method.to_ascii_uppercase().as_str()) {
                return Err(format!(
                    "`method`: `{method}` is not one of POST, PUT or GET"
                ));
            }
        }
        if let Some(format) = &self.format {
            if !format.eq_ignore_ascii_case("json") && !format.eq_ignore_ascii_case("txml") {
                return Err(format!("`format`: `{format}` is not JSON or tXML"));
            }
            if self.txml() && kind == WebhookKind::ShipmentEvents {
                return Err(
                    "`format`: tXML is offered for the order webhook only (api/json-vs-xml.md); \
                     shipment webhooks are JSON: leave `format` out or set \"JSON\""
                        .to_owned(),
                );
            }
        }
        Ok(())
    }

    fn enabled(&self, event: &str) -> bool {
        self.enabled_event_names
            .as_ref()
            .is_none_or(|names| names.is_empty() || names.iter().any(|n| n == event))
    }

    fn explicitly_enabled(&self, event: &str) -> bool {
        self.enabled_event_names
            .as_ref()
            .is_some_and(|names| names.iter().any(|n| n == event))
    }

    fn txml(&self) -> bool {
        self.format
            .as_deref()
            .is_some_and(|f| f.eq_ignore_ascii_case("txml"))
    }
}

/// Whether the mock may deliver to `url`: `https://` anywhere, `http://`
/// only on a loopback address (`127.0.0.0/8`, `::1`, `localhost`).
pub fn check_target(url: &str) -> Result<(), String> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| format!("`webhookUrl` {url:?} is not a URL ({e})"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = match parsed.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
                Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
                None => false,
            };
            if loopback {
                Ok(())
            } else {
                Err(format!(
                    "`webhookUrl` {url:?}: plain http:// is allowed only on loopback addresses; use https://"
                ))
            }
        }
        other => Err(format!(
            "`webhookUrl` {url:?}: scheme {other} is not https (or http on loopback)"
        )),
    }
}

/// The three webhooks of a company. The JSON form (for `tradecloud mock
/// --webhooks FILE`) has the members `orderEvents`, `orderDocumentsEvents`
/// and `shipmentEvents`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompanyWebhooks {
    /// Order events (`/order-webhook-connector/company/{companyId}/settings/orderEvents`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_events: Option<WebhookSettings>,
    /// Order-document events (`.../settings/orderDocumentsEvents`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_documents_events: Option<WebhookSettings>,
    /// Shipment events (`/shipment-webhook-connector/company/{companyId}/settings`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment_events: Option<WebhookSettings>,
}

/// The webhooks of both companies, as read from `tradecloud mock
/// --webhooks FILE`: `{"buyer": {...}, "supplier": {...}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MockWebhooks {
    /// The buyer's webhooks.
    #[serde(default)]
    pub buyer: CompanyWebhooks,
    /// The supplier's webhooks.
    #[serde(default)]
    pub supplier: CompanyWebhooks,
}

/// Which webhook of a company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WebhookKind {
    /// Order events.
    OrderEvents,
    /// Order-document events.
    OrderDocumentsEvents,
    /// Shipment events.
    ShipmentEvents,
}

/// How a webhook target fails, as the mock sees it ([`WebhookFault`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookFaultKind {
    /// The target is down: the attempt fails as a refused connection,
    /// without sending anything (retried, as connection errors are).
    Down,
    /// The target answered this status (nothing is sent).
    Status(u16),
    /// The target is slow: the attempt waits this long, then really sends.
    Slow(Duration),
}

/// Make a webhook target fail as the mock sees it: the mock pretends the
/// target was down or answered a status (it sends nothing), or waits
/// before really sending. For the attempts of `company` (`None`: both),
/// the first `first` attempts (`None`: all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookFault {
    /// Whose webhooks fail (`None`: both companies').
    pub company: Option<String>,
    /// How they fail.
    pub kind: WebhookFaultKind,
    /// Only the first N delivery attempts (`None`: every attempt).
    pub first: Option<u64>,
}

impl WebhookFault {
    /// Parse `[buyer:|supplier:]KIND[:N]`, KIND being `down`, a status code
    /// (`503`) or `slow=DURATION` (`slow=2s`, `slow=500ms`), N the number of
    /// first attempts that fail (default: all).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts: Vec<&str> = text.split(':').collect();
        let company = match parts.first() {
            Some(&c) if c == "buyer" || c == "supplier" => {
                parts.remove(0);
                Some(c.to_owned())
            }
            _ => None,
        };
        let (kind, first) = match parts.as_slice() {
            [kind] => (*kind, None),
            [kind, n] => (
                *kind,
                Some(n.parse::<u64>().map_err(|_| {
                    format!("--webhook-fault {text:?}: `{n}` is not a number of attempts")
                })?),
            ),
            _ => {
                return Err(format!(
                    "--webhook-fault {text:?}: expected [buyer:|supplier:]KIND[:N], KIND one of down, a status code such as 503, slow=2s"
                ))
            }
        };
        let kind = if kind == "down" {
            WebhookFaultKind::Down
        } else if let Some(d) = kind.strip_prefix("slow=") {
            WebhookFaultKind::Slow(parse_short_duration(d).ok_or_else(|| {
                format!("--webhook-fault {text:?}: `{d}` is not a duration such as 2s or 500ms")
            })?)
        } else {
            match kind.parse::<u16>() {
                Ok(code) if (100..=599).contains(&code) => WebhookFaultKind::Status(code),
                _ => {
                    return Err(format!(
                        "--webhook-fault {text:?}: `{kind}` is not down, slow=DURATION or a status code (100-599)"
                    ))
                }
            }
        };
        Ok(WebhookFault {
            company,
            kind,
            first,
        })
    }
}

tokio::task_local! {
    /// The `meta.source.traceId` of the flow being handled ([`in_flow`]).
    static FLOW_TRACE_ID: String;
}

/// Handle one API request (`handle`) as one flow: every event it queues
/// gets `trace_id` as its `meta.source.traceId` ("All related messages in
/// a flow will have the same traceId", order/buyer/receive/README.md,
/// "Message meta information"; the id: [`flow_trace_id`]).
pub(super) async fn in_flow<F: std::future::Future>(trace_id: String, handle: F) -> F::Output {
    FLOW_TRACE_ID.scope(trace_id, handle).await
}

/// The trace id of the flow a request starts: the 32 hex digits of the
/// trace id of its W3C `traceparent` header (Trace Context, level 1:
/// `version-traceid-parentid-flags`; version `ff` and an all-zero trace
/// id are invalid), written as a UUID the way the mock writes its own
/// ids; without a valid header, a fresh id.
pub(super) fn flow_trace_id(headers: &http::HeaderMap) -> String {
    headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(w3c_trace_id)
        .map(|hex| {
            format!(
                "{}-{}-{}-{}-{}",
                &hex[0..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..32]
            )
        })
        .unwrap_or_else(super::process::new_id)
}

/// The trace id of a valid `traceparent` value (32 lower-case hex digits).
fn w3c_trace_id(value: &str) -> Option<&str> {
    let hex = |s: &str, len: usize| {
        s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let fields: Vec<&str> = value.trim().split('-').collect();
    let [version, trace_id, parent_id, flags, rest @ ..] = fields.as_slice() else {
        return None;
    };
    let valid = hex(version, 2)
        && *version != "ff"
        // Version 00 has exactly these four fields; later ones may add more.
        && (*version != "00" || rest.is_empty())
        && hex(trace_id, 32)
        && trace_id.bytes().any(|b| b != b'0')
        && hex(parent_id, 16)
        && hex(flags, 2);
    valid.then_some(*trace_id)
}

/// The trace id of the flow the current task handles ([`in_flow`]); an
/// event queued outside one starts its own flow.
fn current_trace_id() -> String {
    FLOW_TRACE_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| super::process::new_id())
}

fn parse_short_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, factor) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number.trim().parse().ok()?;
    Duration::try_from_secs_f64(value * factor).ok()
}

/// One delivery attempt of the mock, as [`MockServer::deliveries`](crate::mock::MockServer::deliveries)
/// (super::MockServer::deliveries) and `GET /mock/deliveries` list it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DeliveryRecord {
    /// `buyer` or `supplier`: whose webhook.
    pub company: String,
    /// Which webhook.
    pub webhook: WebhookKind,
    /// The event name.
    pub event_name: String,
    /// The order or shipment id.
    pub id: String,
    /// The event's `meta.messageId`.
    pub message_id: String,
    /// The method used.
    pub method: String,
    /// The URL called.
    pub url: String,
    /// Which attempt of this event, from 1.
    pub attempt: u32,
    /// The status answered; `None` when there was no answer.
    pub status: Option<u16>,
    /// Milliseconds from sending to the whole answer.
    pub latency_ms: f64,
    /// What went wrong without an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `delivered`, `refused` (not retried) or `retrying` (an answer above
    /// 500 or none: retried until delivered or refused).
    pub outcome: String,
    /// Whether a [`WebhookFault`] made this attempt's result.
    pub fault: bool,
}

/// One event waiting for delivery.
struct Job {
    company: Party,
    webhook: WebhookKind,
    event_name: String,
    id: String,
    message_id: String,
    settings: WebhookSettings,
    body: Value,
}

struct InstalledWebhookFault {
    fault: WebhookFault,
    seen: u64,
}

/// The webhook side of the mock's state.
pub(crate) struct WebhookHub {
    settings: Mutex<HashMap<(Party, WebhookKind), WebhookSettings>>,
    log: Mutex<Vec<DeliveryRecord>>,
    queues: Mutex<HashMap<String, tokio::sync::mpsc::UnboundedSender<Job>>>,
    faults: Mutex<Vec<InstalledWebhookFault>>,
    client: reqwest::Client,
    policy: RetryPolicy,
    /// `true` once the mock is shut down: deliveries still being retried
    /// stop (they are retried until delivered or refused, see `deliver`).
    closed: tokio::sync::watch::Sender<bool>,
    /// Each company's id and its integration user's id: the
    /// `meta.source` of the events its messages trigger.
    sources: HashMap<Party, (String, String)>,
}

impl WebhookHub {
    pub(crate) fn new(
        webhooks: &MockWebhooks,
        backoff: Duration,
        ca_file: Option<&PathBuf>,
        faults: &[WebhookFault],
        companies: [(Party, &super::MockCompany); 2],
    ) -> Result<Self, MockError> {
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .min_tls_version(reqwest::tls::Version::TLS_1_2)
            .user_agent(concat!("tradecloud-mock/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                MockError::Config(format!(
                    "cannot read the CA file {}: {e}; give a PEM file of the CA certificates that sign the webhook targets",
                    path.display()
                ))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                MockError::Config(format!(
                    "{}: not a PEM bundle of certificates ({e})",
                    path.display()
                ))
            })?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .build()
            .map_err(|e| MockError::Config(format!("cannot build the webhook HTTP client: {e}")))?;
        let mut settings = HashMap::new();
        for (side, company) in [
            (Party::Buyer, &webhooks.buyer),
            (Party::Supplier, &webhooks.supplier),
        ] {
            for (kind, webhook) in [
                (WebhookKind::OrderEvents, &company.order_events),
                (
                    WebhookKind::OrderDocumentsEvents,
                    &company.order_documents_events,
                ),
                (WebhookKind::ShipmentEvents, &company.shipment_events),
            ] {
                if let Some(webhook) = webhook {
                    webhook.validate(kind).map_err(MockError::Config)?;
                    settings.insert((side, kind), webhook.clone());
                }
            }
        }
        Ok(WebhookHub {
            settings: Mutex::new(settings),
            log: Mutex::new(Vec::new()),
            queues: Mutex::new(HashMap::new()),
            faults: Mutex::new(
                faults
                    .iter()
                    .cloned()
                    .map(|fault| InstalledWebhookFault { fault, seen: 0 })
                    .collect(),
            ),
            client,
            closed: tokio::sync::watch::Sender::new(false),
            sources: companies
                .into_iter()
                .map(|(side, company)| (side, (company.company_id.clone(), company.user.user_id())))
                .collect(),
            // Only the delays: an event is retried until it is delivered or
            // refused (`deliver`).
            policy: RetryPolicy::default()
                .base_delay(backoff)
                .max_delay(backoff.saturating_mul(64).max(Duration::from_secs(1))),
        })
    }

    /// Stop delivering: the mock is shut down. An event still being retried
    /// is dropped at its next attempt (or while waiting for it).
    pub(crate) fn close(&self) {
        self.closed.send_replace(true);
    }

    pub(crate) fn set(&self, side: Party, kind: WebhookKind, settings: WebhookSettings) {
        lock(&self.settings).insert((side, kind), settings);
    }

    pub(crate) fn get(&self, side: Party, kind: WebhookKind) -> Option<WebhookSettings> {
        lock(&self.settings).get(&(side, kind)).cloned()
    }

    pub(crate) fn deliveries(&self) -> Vec<DeliveryRecord> {
        lock(&self.log).clone()
    }

    pub(crate) fn set_faults(&self, faults: Vec<WebhookFault>) {
        *lock(&self.faults) = faults
            .into_iter()
            .map(|fault| InstalledWebhookFault { fault, seen: 0 })
            .collect();
    }

    /// The fault that makes this attempt's result, if any.
    fn fault_for(&self, company: Party) -> Option<WebhookFaultKind> {
        let name = company.as_str();
        let mut faults = lock(&self.faults);
        for installed in faults.iter_mut() {
            if installed
                .fault
                .company
                .as_deref()
                .is_some_and(|c| c != name)
            {
                continue;
            }
            installed.seen += 1;
            if installed.fault.first.is_none_or(|n| installed.seen <= n) {
                return Some(installed.fault.kind.clone());
            }
        }
        None
    }

    /// Queue an event for `company`'s `webhook`, if it has one that
    /// takes `event_name` (`acting`: the company did it itself, so only an
    /// explicitly enabled event name is sent). `actor` is the company whose
    /// message triggered it: its id and its integration user's are the
    /// event's `meta.source`, with the trace id of the request being
    /// handled ([`in_flow`]).
    pub(crate) fn emit(
        self: &Arc<Self>,
        (company, actor): (Party, Party),
        webhook: WebhookKind,
        event_name: &str,
        id: &str,
        acting: bool,
        body: impl FnOnce(&WebhookSettings) -> Option<Value>,
    ) {
        let Some(settings) = self.get(company, webhook) else {
            return;
        };
        if settings.webhook_url.is_none()
            || !(if acting {
                settings.explicitly_enabled(event_name)
            } else {
                settings.enabled(event_name)
            })
        {
            return;
        }
        let Some(mut body) = body(&settings) else {
            return;
        };
        let message_id = super::process::new_id();
        // "source": the flow (the request that caused the event) and the
        // company (and its user) that triggered it.
        let mut source = json!({"traceId": current_trace_id()});
        if let (Some((company_id, user_id)), Value::Object(members)) =
            (self.sources.get(&actor), &mut source)
        {
            members.insert("userId".into(), json!(user_id));
            members.insert("companyId".into(), json!(company_id));
        }
        if let Value::Object(map) = &mut body {
            map.insert(
                "meta".into(),
                json!({
                    "messageId": message_id,
                    "source": source,
                    "createdDateTime": crate::types::DateTime::now_utc().to_string(),
                }),
            );
        }
        let job = Job {
            company,
            webhook,
            event_name: event_name.to_owned(),
            id: id.to_owned(),
            message_id,
            settings,
            body,
        };
        // Per order (or shipment) and company, in order: one queue each.
        let key = format!("{}/{:?}/{id}", company.as_str(), webhook);
        let mut queues = lock(&self.queues);
        let sender = queues.entry(key).or_insert_with(|| {
            let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(Arc::clone(self).run_queue(receiver));
            sender
        });
        if let Err(e) = sender.send(job) {
            tracing::warn!(error = %e, "mock webhook queue closed: event dropped");
        }
    }

    async fn run_queue(self: Arc<Self>, mut receiver: tokio::sync::mpsc::UnboundedReceiver<Job>) {
        while let Some(job) = receiver.recv().await {
            self.deliver(job).await;
        }
    }

    async fn deliver(&self, job: Job) {
        let settings = &job.settings;
        let Some(url) = settings.webhook_url.as_deref() else {
            return;
        };
        let method = settings
            .method
            .as_deref()
            .unwrap_or("POST")
            .to_ascii_uppercase();
        let Ok(http_method) = reqwest::Method::from_bytes(method.as_bytes()) else {
            return;
        };
        let id_name = if job.webhook == WebhookKind::ShipmentEvents {
            "shipmentId"
        } else {
            "orderId"
        };
        let mut target = url.to_owned();
        let mut body = None;
        let mut headers = reqwest::header::HeaderMap::new();
        if http_method == reqwest::Method::GET {
            let placeholder = [format!("{{{id_name}}}"), "{id}".to_owned()]
                .into_iter()
                .find(|p| target.contains(p.as_str()));
            match placeholder {
                // One path segment, whatever the id holds (`/`, `?`,
                // `#`, space, `%`), as the SDK's client puts ids in paths.
                Some(p) => target = target.replace(&p, &progenitor_client::encode_path(&job.id)),
                None => {
                    if let Ok(mut parsed) = reqwest::Url::parse(&target) {
                        parsed.query_pairs_mut().append_pair(id_name, &job.id);
                        target = parsed.to_string();
                    }
                }
            }
            if let Ok(mut parsed) = reqwest::Url::parse(&target) {
                parsed
                    .query_pairs_mut()
                    .append_pair("eventName", &job.event_name);
                target = parsed.to_string();
            }
        } else if settings.txml() && job.webhook != WebhookKind::ShipmentEvents {
            // (Shipment settings never ask for tXML: `validate` refuses it.)
            let shape = &crate::api::order_webhook_connector::types::txml_shapes::OrderWebhookBody;
            match crate::webhook::txml::to_xml(&job.body, shape) {
                Ok(bytes) => body = Some(bytes),
                Err(e) => {
                    tracing::warn!(error = %e, "mock webhook: cannot encode the event as tXML; sending JSON");
                }
            }
            if body.is_some() {
                headers.insert(
                    reqwest::header::CONTENT_TYPE,
                    reqwest::header::HeaderValue::from_static("application/xml"),
                );
            }
        }
        if http_method != reqwest::Method::GET && body.is_none() {
            body = serde_json::to_vec(&job.body).ok();
            headers.insert(
                reqwest::header::CONTENT_TYPE,
                reqwest::header::HeaderValue::from_static("application/json"),
            );
        }
        let authorization = if let Some(token) = &settings.bearer_token {
            Some(format!("Bearer {token}"))
        } else {
            settings.basic_auth_credentials.as_ref().map(|c| {
                use base64::Engine as _;
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD
                        .encode(format!("{}:{}", c.username, c.password))
                )
            })
        };
        if let Some(value) =
            authorization.and_then(|a| reqwest::header::HeaderValue::from_str(&a).ok())
        {
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        let Ok(url) = reqwest::Url::parse(&target) else {
            return;
        };
        let record = |attempt: &DeliveryAttempt, fault: bool| DeliveryRecord {
            company: job.company.as_str().to_owned(),
            webhook: job.webhook,
            event_name: job.event_name.clone(),
            id: job.id.clone(),
            message_id: job.message_id.clone(),
            method: method.clone(),
            url: url.to_string(),
            attempt: attempt.attempt,
            status: attempt.status.map(|s| s.as_u16()),
            latency_ms: attempt.latency.as_secs_f64() * 1000.0,
            error: attempt.error.clone(),
            outcome: match (attempt.verdict, attempt.retry_in) {
                (Verdict::Delivered, _) => "delivered",
                (Verdict::Refused, _) => "refused",
                (Verdict::Retry, _) => "retrying",
            }
            .to_owned(),
            fault,
        };
        // A fault decides an attempt before it is sent: run the attempts
        // through the delivery engine, but with the fault's answer where
        // one fires.
        let mut closed = self.closed.subscribe();
        let mut attempt_no = 0u32;
        loop {
            if *closed.borrow_and_update() {
                return;
            }
            attempt_no += 1;
            let fault = self.fault_for(job.company);
            let outcome = match &fault {
                Some(WebhookFaultKind::Down) => Some(delivery::simulated(
                    attempt_no,
                    None,
                    Some("connection failed (target down: fault injected by the mock)".into()),
                )),
                Some(WebhookFaultKind::Status(code)) => Some(delivery::simulated(
                    attempt_no,
                    reqwest::StatusCode::from_u16(*code).ok(),
                    None,
                )),
                Some(WebhookFaultKind::Slow(delay)) => {
                    tokio::time::sleep(*delay).await;
                    None
                }
                None => None,
            };
            let mut outcome = match outcome {
                Some(o) => o,
                None => {
                    let single = delivery::deliver(
                        &RetryPolicy::none(),
                        &self.client,
                        &http_method,
                        &url,
                        &headers,
                        body.as_deref(),
                        |_| {},
                    )
                    .await;
                    match single.attempts.into_iter().last() {
                        Some(mut a) => {
                            a.attempt = attempt_no;
                            a
                        }
                        None => return,
                    }
                }
            };
            // "Tradecloud will indefinitely retry the request with
            // exponential back-off for other server error codes (>500)"
            // (api/webhook-vs-polling.md): so does the mock, also after no
            // answer at all, so that a target down for longer than a few
            // retries loses nothing here either.
            if outcome.verdict == Verdict::Retry {
                outcome.retry_in = Some(self.policy.backoff(attempt_no - 1));
            }
            log_attempt(&job, &outcome, url.as_str());
            lock(&self.log).push(record(&outcome, fault.is_some()));
            match outcome.retry_in {
                Some(delay) if outcome.verdict == Verdict::Retry => {
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        _ = closed.wait_for(|closed| *closed) => return,
                    }
                }
                _ => return,
            }
        }
    }
}

/// A line in the mock's log for the attempts that matter to whoever watches
/// an integration: an event not delivered at its first attempt (retried),
/// delivered after retries, or refused (not retried, so never delivered).
fn log_attempt(job: &Job, attempt: &DeliveryAttempt, url: &str) {
    let answer = match (attempt.status, &attempt.error) {
        (Some(status), _) => status.to_string(),
        (None, Some(error)) => error.clone(),
        (None, None) => "no answer".to_owned(),
    };
    let (company, event, id) = (job.company.as_str(), &job.event_name, &job.id);
    match (attempt.verdict, attempt.attempt) {
        (Verdict::Retry, 1) => tracing::warn!(
            company, %event, %id, url, %answer,
            "mock webhook: not delivered; retrying with exponential backoff until it is \
             (later events of this order or shipment wait), as Tradecloud does"
        ),
        (Verdict::Delivered, n) if n > 1 => tracing::info!(
            company, %event, %id, url, attempts = n,
            "mock webhook: delivered after retries"
        ),
        (Verdict::Refused, _) => tracing::warn!(
            company, %event, %id, url, %answer,
            "mock webhook: refused (4xx or 500): not retried, the event is not delivered"
        ),
        _ => {}
    }
}

// ----- the events of the process --------------------------------------------

/// What the process reads of a line to tell which event a change is.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LineState {
    pub process: String,
    pub in_progress: String,
    pub logistics: String,
    pub supplier_reopen: String,
    pub supplier_proposal: String,
    pub buyer_reopen: String,
    pub history: Vec<Value>,
    pub line: Value,
    /// `line` without the logistics members of its delivery lines
    /// (`status`, `etd`, `eta`): equal before and after while `line` is
    /// not, the change was one of delivery schedule logistics only.
    pub without_schedule_logistics: Value,
    /// `line` without its item details (`itemDetails`, `mergedItemDetails`,
    /// `supplierLine.itemDetails`): equal before and after while `line` is
    /// not, the change was one of item details only.
    pub without_item_details: Value,
}

fn text(value: &Value, path: &[&str]) -> String {
    let mut v = value;
    for key in path {
        match v.get(key) {
            Some(next) => v = next,
            None => return String::new(),
        }
    }
    v.as_str().unwrap_or_default().to_owned()
}

impl LineState {
    pub(crate) fn of(line: &Value) -> Self {
        LineState {
            process: text(line, &["status", "processStatus"]),
            in_progress: text(line, &["status", "inProgressStatus"]),
            logistics: text(line, &["status", "logisticsStatus"]),
            supplier_reopen: text(
                line,
                &["supplierLine", "requests", "reopenRequest", "status"],
            ),
            supplier_proposal: text(line, &["supplierLine", "requests", "proposal", "status"]),
            buyer_reopen: text(line, &["buyerLine", "requests", "reopenRequest", "status"]),
            history: line
                .pointer("/buyerLine/deliveryHistory")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            line: without_documents(&without_stamps(&without_reason(line))),
            without_schedule_logistics: without_schedule_logistics(&without_documents(
                &without_stamps(&without_reason(line)),
            )),
            without_item_details: without_item_details(&without_documents(&without_stamps(
                &without_reason(line),
            ))),
        }
    }
}

/// `line` without its own `reason`: the reason given with an event (a
/// rejection's), which the next change clears; it tells no transition.
fn without_reason(line: &Value) -> Value {
    let mut line = line.clone();
    if let Value::Object(members) = &mut line {
        members.remove("reason");
    }
    line
}

/// `line` without the logistics fields of its delivery lines: `status`,
/// `etd` and `eta` ("These additional logistics fields",
/// order/buyer/receive/README.md#L250-L262; a change of only these is
/// "Updated: The buyer or supplier updated the delivery line logistics
/// fields", connectors/webhooks/order-events.md#L134), in its current
/// delivery schedules and in the schedules they come from: the buyer's
/// requested one (its `status` "according to the buyer",
/// api/delivery-schedule.md#L46) and the confirmed one that keeps it. A
/// delivery line's `position` and `transportMode` are not logistics
/// fields: a change of them is an update of the line.
fn without_schedule_logistics(line: &Value) -> Value {
    let mut line = line.clone();
    for schedule in [
        "/deliverySchedule",
        "/deliveryScheduleIncludingRequests",
        "/buyerLine/deliverySchedule",
        "/confirmedLine/deliverySchedule",
    ] {
        if let Some(Value::Array(deliveries)) = line.pointer_mut(schedule) {
            for delivery in deliveries {
                if let Value::Object(members) = delivery {
                    for logistics in ["status", "etd", "eta"] {
                        members.remove(logistics);
                    }
                }
            }
        }
    }
    line
}

/// `line` without its item details: `itemDetails`, `mergedItemDetails`
/// and the supplier's `supplierLine.itemDetails`. A supplier line left
/// with no member that has a value counts as none (a first response that
/// sends only item details).
fn without_item_details(line: &Value) -> Value {
    let mut line = line.clone();
    if let Value::Object(members) = &mut line {
        members.remove("itemDetails");
        members.remove("mergedItemDetails");
        if let Some(Value::Object(supplier)) = members.get_mut("supplierLine") {
            supplier.remove("itemDetails");
            let empty = supplier.iter().all(|(name, v)| match v {
                _ if name == "purchaseOrderLinePosition" => true,
                Value::Null => true,
                Value::Array(items) => items.is_empty(),
                Value::Object(members) => members.is_empty(),
                _ => false,
            });
            if empty {
                members.remove("supplierLine");
            }
        }
    }
    line
}

/// `line` without the documents of its buyer and supplier parts: attaching
/// documents is not a line transition (it has the order-documents events
/// of [`documents_body`]; documents embedded in a sent order have none,
/// connectors/webhooks/order-documents-events.md).
fn without_documents(line: &Value) -> Value {
    let mut line = line.clone();
    for part in ["buyerLine", "supplierLine"] {
        if let Some(Value::Object(members)) = line.get_mut(part) {
            members.remove("documents");
        }
    }
    line
}

/// `value` without the members every transition stamps (`lastUpdatedAt`,
/// `lastChangedAt`, `version`), to tell whether a line really changed.
fn without_stamps(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "lastUpdatedAt" | "lastChangedAt" | "version")
                })
                .map(|(k, v)| (k.clone(), without_stamps(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_stamps).collect()),
        other => other.clone(),
    }
}

/// **The one table from a transition to its event name.** `actor` changed a
/// line from `before` (`None`: the line is new; `new_order`: so is the
/// order) to `after`; the first rule that matches names the event
/// (connectors/webhooks/order-events.md). `None`: nothing changed.
///
/// | actor | transition | event |
/// |---|---|---|
/// | buyer | a new line sent `confirmed` / `cancelled` / `completed` (now `Confirmed` / `Cancelled` / `Completed`) | `OrderLinesConfirmedByBuyer` / `OrderLinesCancelledByBuyer` / `OrderLinesCompletedByBuyer` |
/// | buyer | a new order | `OrderIssuedByBuyer` |
/// | buyer | a new line in an order | `OrderLinesIssuedByBuyer` |
/// | either | only delivery lines' `status`/`etd`/`eta` (current, requested and confirmed schedules; not `position` or `transportMode`) | `OrderLinesDeliveryScheduleLogisticsUpdatedByBuyer` / `...BySupplier` |
/// | buyer | `Cancelled` → `RevertedCancelledLine` | `CancelledOrderLinesRevertedByBuyer` |
/// | buyer | `Completed` → `RevertedCompletedLine` | `CompletedOrderLinesRevertedByBuyer` |
/// | buyer | → `Cancelled` | `OrderLinesCancelledByBuyer` |
/// | buyer | → `Completed` | `OrderLinesCompletedByBuyer` |
/// | buyer | open supplier proposal → `Confirmed` | `OrderChangesProposalApprovedByBuyer` |
/// | buyer | open supplier proposal → `RejectedSupplierProposal` | `OrderChangesProposalRejectedByBuyer` |
/// | buyer | open supplier reopen request → approved / rejected | `OrderLinesReopenRequestApprovedByBuyer` / `...RejectedByBuyer` |
/// | buyer | → `OpenBuyerReopenRequest` | `OrderLinesReopenRequestedByBuyer` |
/// | buyer | `OpenBuyerReopenRequest` → none (values reverted) | `OrderLinesReopenRequestRevertedByBuyer` |
/// | buyer | → `OpenBuyerReconfirmationRequest` | `OrderLinesReconfirmationRequestedByBuyer` |
/// | buyer | `Issued` → `Confirmed` | `OrderLinesConfirmedByBuyer` |
/// | buyer | delivery history grown / replaced (also when it delivers the line; the message decides, [`order_events`]: appended by `/order/deliveries`, replaced by `/order/deliveryHistory` and a sent order) | `OrderLinesDeliveryHistoryAppendedByBuyer` / `...SetByBuyer` |
/// | buyer | logistics → `Delivered` / `Shipped` | `OrderLinesMarkedAsDeliveredByBuyer` / `OrderLinesShippedByBuyer` |
/// | either | logistics `Shipped`/`Delivered` → `Open` (the portal's mark as open) | `OrderLinesMarkedAsOpenByBuyer` / `...BySupplier` |
/// | buyer | other change of an `Issued`/`InProgress`/`Rejected` line | `OrderLinesReissuedByBuyer` |
/// | buyer | other change | `OrderLinesUpdatedByBuyer` |
/// | supplier | a shipment opens or changes a shipment reschedule request | `OrderLinesShipmentRescheduleRequestedBySupplier` |
/// | supplier | → `Confirmed`, its new proposal or reopen request approved at once (`autoConfirm`): other values than the requested ones / the requested ones (a `proposeWhenAccepted` line accepted) | `OrderLinesConfirmedBySupplier` / `OrderLinesAcceptedBySupplier` |
/// | supplier | → `OpenSupplierProposal` | `OrderChangesProposedBySupplier` |
/// | supplier | → `OpenSupplierReopenRequest` | `OrderLinesReopenRequestedBySupplier` |
/// | supplier | → `Rejected` (also from an open reopen request or reconfirmation request) | `OrderLinesRejectedBySupplier` |
/// | supplier | `OpenSupplierReopenRequest` → none | `OrderLinesReopenRequestRevertedBySupplier` |
/// | supplier | open buyer reopen request → approved / rejected | `OrderLinesReopenRequestApprovedBySupplier` / `...RejectedBySupplier` |
/// | supplier | `OpenBuyerReconfirmationRequest` → `Confirmed` | `OrderLinesReconfirmedBySupplier` |
/// | supplier | `OpenSupplierShipmentRescheduleRequest` → none (a matching shipment) | `OrderLinesDeliveryScheduleLogisticsUpdatedBySupplier` |
/// | supplier | → `Confirmed` | `OrderLinesAcceptedBySupplier` |
/// | supplier | logistics → `Delivered` (the portal's mark as delivered) | `OrderLinesMarkedAsDeliveredBySupplier` |
/// | supplier | only item details (its `supplierLine.itemDetails`, so `mergedItemDetails`) | `OrderLinesItemDetailsChanged` |
/// | supplier | other change | `OrderLinesUpdatedBySupplier` |
///
/// A message that moves no line but changes the order header or documents
/// is `OrderLinesUpdatedBy{Buyer,Supplier}` too ([`order_events`]).
pub(crate) fn line_event(
    actor: Party,
    before: Option<&LineState>,
    after: &LineState,
    new_order: bool,
) -> Option<&'static str> {
    let Some(before) = before else {
        // A new line is named by its status after the message: one its
        // indicators confirmed, cancelled or completed at once is that
        // transition ("Confirmed by buyer: The buyer confirmed new order
        // line(s) without requesting supplier confirmation",
        // order-events.md), else it is issued.
        return Some(match (actor, after.process.as_str(), new_order) {
            (Party::Buyer, "Confirmed", _) => "OrderLinesConfirmedByBuyer",
            (Party::Buyer, "Cancelled", _) => "OrderLinesCancelledByBuyer",
            (Party::Buyer, "Completed", _) => "OrderLinesCompletedByBuyer",
            (Party::Buyer, _, true) => "OrderIssuedByBuyer",
            (Party::Buyer, _, false) => "OrderLinesIssuedByBuyer",
            (Party::Supplier, _, _) => "OrderLinesUpdatedBySupplier",
        });
    };
    if before.line == after.line {
        return None;
    }
    let became = |field: fn(&LineState) -> &String, value: &str| {
        field(after) == value && field(before) != value
    };
    let was = |field: fn(&LineState) -> &String, value: &str| field(before) == value;
    fn process(s: &LineState) -> &String {
        &s.process
    }
    fn in_progress(s: &LineState) -> &String {
        &s.in_progress
    }
    fn logistics(s: &LineState) -> &String {
        &s.logistics
    }
    if before.without_schedule_logistics == after.without_schedule_logistics {
        return Some(match actor {
            Party::Buyer => "OrderLinesDeliveryScheduleLogisticsUpdatedByBuyer",
            Party::Supplier => "OrderLinesDeliveryScheduleLogisticsUpdatedBySupplier",
        });
    }
    Some(match actor {
        Party::Buyer => {
            if was(process, "Cancelled") && became(in_progress, "RevertedCancelledLine") {
                "CancelledOrderLinesRevertedByBuyer"
            } else if was(process, "Completed") && became(in_progress, "RevertedCompletedLine") {
                "CompletedOrderLinesRevertedByBuyer"
            } else if became(process, "Cancelled") {
                "OrderLinesCancelledByBuyer"
            } else if became(process, "Completed") {
                "OrderLinesCompletedByBuyer"
            } else if was(in_progress, "OpenSupplierShipmentRescheduleRequest")
                && became(process, "Confirmed")
            {
                // The answered line is `Confirmed` without an in-progress
                // status (order/status.md#L50); approving made the
                // requested schedule the confirmed one, rejecting kept it.
                if member(before, "/confirmedLine") != member(after, "/confirmedLine") {
                    "OrderLinesShipmentRescheduleApprovedByBuyer"
                } else {
                    "OrderLinesShipmentRescheduleRejectedByBuyer"
                }
            } else if was(in_progress, "OpenSupplierProposal") && became(process, "Confirmed") {
                "OrderChangesProposalApprovedByBuyer"
            } else if was(in_progress, "OpenSupplierProposal")
                && became(in_progress, "RejectedSupplierProposal")
            {
                "OrderChangesProposalRejectedByBuyer"
            } else if was(in_progress, "OpenSupplierReopenRequest")
                && after.supplier_reopen == "Approved"
            {
                "OrderLinesReopenRequestApprovedByBuyer"
            } else if was(in_progress, "OpenSupplierReopenRequest")
                && after.supplier_reopen == "Rejected"
            {
                "OrderLinesReopenRequestRejectedByBuyer"
            } else if became(in_progress, "OpenBuyerReopenRequest") {
                "OrderLinesReopenRequestedByBuyer"
            } else if was(in_progress, "OpenBuyerReopenRequest")
                && after.in_progress != "OpenBuyerReopenRequest"
            {
                "OrderLinesReopenRequestRevertedByBuyer"
            } else if became(in_progress, "OpenBuyerReconfirmationRequest") {
                "OrderLinesReconfirmationRequestedByBuyer"
            } else if became(process, "Confirmed") {
                "OrderLinesConfirmedByBuyer"
            } else if before.history != after.history {
                // Goods received (order/buyer/receive-goods.md): the
                // history is the message, even when it reaches the full
                // quantity; "marked as delivered" is the indicator.
                if after.history.len() > before.history.len()
                    && after.history.starts_with(&before.history)
                {
                    "OrderLinesDeliveryHistoryAppendedByBuyer"
                } else {
                    "OrderLinesDeliveryHistorySetByBuyer"
                }
            } else if became(logistics, "Delivered") {
                "OrderLinesMarkedAsDeliveredByBuyer"
            } else if reopened(before, after) {
                "OrderLinesMarkedAsOpenByBuyer"
            } else if became(logistics, "Shipped") {
                "OrderLinesShippedByBuyer"
            } else if matches!(after.process.as_str(), "Issued" | "InProgress" | "Rejected") {
                "OrderLinesReissuedByBuyer"
            } else {
                "OrderLinesUpdatedByBuyer"
            }
        }
        Party::Supplier => {
            // A (re)issued shipment whose quantities differ from the
            // delivery lines opens, or changes, a reschedule request.
            if after.in_progress == "OpenSupplierShipmentRescheduleRequest"
                && (before.in_progress != after.in_progress
                    || member(before, "/deliveryScheduleIncludingRequests")
                        != member(after, "/deliveryScheduleIncludingRequests"))
            {
                "OrderLinesShipmentRescheduleRequestedBySupplier"
            } else if let Some(request) = auto_confirmed(before, after) {
                // "Confirmed by supplier: The supplier confirmed the order
                // line(s) with different values than requested by the
                // buyer, and the buyer has Auto Confirm enabled"; with the
                // requested values (a `proposeWhenAccepted` line accepted)
                // it is "Accepted: The supplier confirmed the order line(s)
                // as requested by the buyer" (order-events.md).
                if super::process::asks_requested_values(&after.line, request) {
                    "OrderLinesAcceptedBySupplier"
                } else {
                    "OrderLinesConfirmedBySupplier"
                }
            } else if became(in_progress, "OpenSupplierProposal") {
                "OrderChangesProposedBySupplier"
            } else if became(in_progress, "OpenSupplierReopenRequest") {
                "OrderLinesReopenRequestedBySupplier"
            } else if became(process, "Rejected") {
                // Before the reverted reopen request: rejecting the line
                // also closes the supplier's own request.
                "OrderLinesRejectedBySupplier"
            } else if was(in_progress, "OpenSupplierReopenRequest")
                && after.in_progress != "OpenSupplierReopenRequest"
            {
                "OrderLinesReopenRequestRevertedBySupplier"
            } else if was(in_progress, "OpenBuyerReopenRequest") && after.buyer_reopen == "Approved"
            {
                "OrderLinesReopenRequestApprovedBySupplier"
            } else if was(in_progress, "OpenBuyerReopenRequest") && after.buyer_reopen == "Rejected"
            {
                "OrderLinesReopenRequestRejectedBySupplier"
            } else if was(in_progress, "OpenBuyerReconfirmationRequest")
                && after.process == "Confirmed"
            {
                "OrderLinesReconfirmedBySupplier"
            } else if was(in_progress, "OpenSupplierShipmentRescheduleRequest")
                && after.in_progress != "OpenSupplierShipmentRescheduleRequest"
            {
                // A reissued shipment now matches: the request is
                // withdrawn, and its delivery lines are `ReadyToShip`.
                "OrderLinesDeliveryScheduleLogisticsUpdatedBySupplier"
            } else if became(process, "Confirmed") {
                "OrderLinesAcceptedBySupplier"
            } else if became(logistics, "Delivered") {
                "OrderLinesMarkedAsDeliveredBySupplier"
            } else if reopened(before, after) {
                "OrderLinesMarkedAsOpenBySupplier"
            } else if before.without_item_details == after.without_item_details
                && member(before, "/supplierLine/itemDetails")
                    != member(after, "/supplierLine/itemDetails")
            {
                // "Changed: The supplier updated item details"
                // (order-events.md): only they changed.
                "OrderLinesItemDetailsChanged"
            } else {
                "OrderLinesUpdatedBySupplier"
            }
        }
    })
}

/// Whether the line was marked as open again, "being previously shipped
/// or delivered" (order-events.md): logistics `Shipped` or `Delivered` →
/// `Open`.
fn reopened(before: &LineState, after: &LineState) -> bool {
    matches!(before.logistics.as_str(), "Shipped" | "Delivered") && after.logistics == "Open"
}

/// The member of a line at `pointer` (`Null` when absent).
fn member<'s>(state: &'s LineState, pointer: &str) -> &'s Value {
    state.line.pointer(pointer).unwrap_or(&Value::Null)
}

/// The supplier's answer approved at once because the order has
/// `autoConfirm` (order/buyer/issue/indicators.md), if there is one: the
/// line is `Confirmed` after, and its supplier proposal or reopen request
/// is a new one, `Approved`. Returns where that request is in the line.
fn auto_confirmed(before: &LineState, after: &LineState) -> Option<&'static str> {
    if after.process != "Confirmed" {
        return None;
    }
    [
        ("/supplierLine/requests/proposal", &after.supplier_proposal),
        (
            "/supplierLine/requests/reopenRequest",
            &after.supplier_reopen,
        ),
    ]
    .into_iter()
    .find(|(pointer, status)| {
        *status == "Approved" && member(before, pointer) != member(after, pointer)
    })
    .map(|(pointer, _)| pointer)
}

fn lines_of(value: &Value) -> Vec<Value> {
    value
        .get("lines")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn position(line: &Value) -> String {
    text(line, &["buyerLine", "position"])
}

/// How a message wrote the delivery history of the lines it changed, which
/// names the history's event (connectors/webhooks/order-events.md:
/// `OrderLinesDeliveryHistoryAppendedByBuyer` "is appended",
/// `OrderLinesDeliveryHistorySetByBuyer` "is replaced").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HistoryWrite {
    /// `POST /api-connector/order/deliveries`: appended.
    Appended,
    /// `POST /api-connector/order/deliveryHistory` and a sent order's
    /// `deliveryHistory`: replaced, also when the history was empty.
    Replaced,
    /// Anything else (a single-delivery order's `actualDelivery`, merged
    /// per position): told by comparing the histories, as
    /// [`line_event`] does.
    Compared,
}

/// The events of an order change by `actor`, in the order of their first
/// line: event name → the positions of the affected lines. `history` says
/// how the message wrote the delivery history.
pub(crate) fn order_events(
    actor: Party,
    before: Option<&Order>,
    after: &Order,
    history: HistoryWrite,
) -> Vec<(&'static str, Vec<String>)> {
    let before_lines: BTreeMap<String, LineState> = before
        .and_then(|o| serde_json::to_value(o).ok())
        .map(|v| {
            lines_of(&v)
                .iter()
                .map(|l| (position(l), LineState::of(l)))
                .collect()
        })
        .unwrap_or_default();
    let after_value = serde_json::to_value(after).unwrap_or_default();
    let mut events: Vec<(&'static str, Vec<String>)> = Vec::new();
    for line in lines_of(&after_value) {
        let position = position(&line);
        let state = LineState::of(&line);
        if let Some(event) =
            line_event(actor, before_lines.get(&position), &state, before.is_none())
        {
            const APPENDED: &str = "OrderLinesDeliveryHistoryAppendedByBuyer";
            const SET: &str = "OrderLinesDeliveryHistorySetByBuyer";
            let event = match (event, history) {
                (APPENDED | SET, HistoryWrite::Appended) => APPENDED,
                (APPENDED | SET, HistoryWrite::Replaced) => SET,
                (event, _) => event,
            };
            match events.iter_mut().find(|(name, _)| *name == event) {
                Some((_, positions)) => positions.push(position),
                None => events.push((event, vec![position])),
            }
        }
    }
    if let (true, Some(before_value)) = (
        events.is_empty(),
        before.and_then(|o| serde_json::to_value(o).ok()),
    ) {
        if let Some(event) = fields_event(actor, &before_value, &after_value) {
            events.push(event);
        }
    }
    events
}

/// The event of a change that moves no line: the order header
/// (`buyerOrder`/`supplierOrder`, its documents included) or only the
/// documents of lines changed. connectors/webhooks/order-events.md names
/// it `OrderLinesUpdatedByBuyer` / `...BySupplier`, "Order and line fields
/// other than prices & delivery schedules are updated"; documents in an
/// order or a response have no order-documents event
/// (send-order-response/attach-document.md), so this is the other
/// company's only notice. The event carries the lines whose documents
/// changed; when only the header changed, all lines (the receive pages:
/// `lines` "contains one or more order lines", and the header is the
/// whole order's). `None`: nothing changed.
fn fields_event(
    actor: Party,
    before: &Value,
    after: &Value,
) -> Option<(&'static str, Vec<String>)> {
    let part = |order: &Value, name: &str| without_stamps(order.get(name).unwrap_or(&Value::Null));
    let header_changed = ["buyerOrder", "supplierOrder"]
        .iter()
        .any(|name| part(before, name) != part(after, name));
    let before_lines: BTreeMap<String, Value> = lines_of(before)
        .iter()
        .map(|l| (position(l), without_stamps(&without_reason(l))))
        .collect();
    let after_lines = lines_of(after);
    let documents_changed: Vec<String> = after_lines
        .iter()
        .filter(|l| {
            before_lines
                .get(&position(l))
                .is_some_and(|b| *b != without_stamps(&without_reason(l)))
        })
        .map(position)
        .collect();
    let positions = if !documents_changed.is_empty() {
        documents_changed
    } else if header_changed {
        after_lines.iter().map(position).collect()
    } else {
        return None;
    };
    let event = match actor {
        Party::Buyer => "OrderLinesUpdatedByBuyer",
        Party::Supplier => "OrderLinesUpdatedBySupplier",
    };
    Some((event, positions))
}

/// The body of an order event: `orderEvent` (or `singleDeliveryOrderEvent`)
/// is the order with only the affected lines.
pub(crate) fn order_body(
    event_name: &str,
    order: &Order,
    positions: &[String],
    single_delivery: bool,
) -> Value {
    let (member, mut value) = if single_delivery {
        (
            "singleDeliveryOrderEvent",
            serde_json::to_value(super::process::single_delivery_view(order)).unwrap_or_default(),
        )
    } else {
        (
            "orderEvent",
            serde_json::to_value(order).unwrap_or_default(),
        )
    };
    if let Some(Value::Array(lines)) = value.get_mut("lines") {
        // A split line of the single-delivery view belongs to the order
        // line at its `originalPosition`.
        lines.retain(|l| {
            positions.contains(&position(l))
                || positions.contains(&text(l, &["buyerLine", "originalPosition"]))
        });
    }
    // An event names the order `orderId`; a fetched or polled order `id`
    // (`specs/common.yaml`, `OrderEvent.orderId`).
    if let Value::Object(members) = &mut value {
        if let Some(id) = members.remove("id") {
            members.insert("orderId".into(), id);
        }
    }
    json!({ "eventName": event_name, member: value })
}

/// The documents one message attached: on the order (`documents`) and on
/// its lines (position, documents), as sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct AttachedDocuments {
    pub order: Vec<Document>,
    pub lines: Vec<(String, Vec<Document>)>,
}

/// The body of the buyer's order-documents event
/// (connectors/webhooks/order-documents-events.md; the generated
/// `OrderDocumentsEvent`; the supplier attaches through its order response,
/// which has no documents event): `orderDocumentsEvent` with the order's
/// id as `orderId`, its `lastUpdatedAt`, its buyer and supplier parts,
/// where `buyerOrder` has as `documents` those the message attached, and
/// only the lines the message attached documents to (and the order has),
/// their `buyerLine` likewise.
pub(crate) fn documents_body(
    event_name: &str,
    order: &Order,
    attached: &AttachedDocuments,
) -> Value {
    let order_value = serde_json::to_value(order).unwrap_or_default();
    let part = |name: &str| order_value.get(name).cloned().unwrap_or(json!({}));
    let (mut buyer_order, supplier_order) = (part("buyerOrder"), part("supplierOrder"));
    if let Value::Object(members) = &mut buyer_order {
        members.insert(
            "documents".into(),
            serde_json::to_value(&attached.order).unwrap_or_default(),
        );
    }
    let mut lines = Vec::new();
    for (wanted, documents) in attached.lines.iter().filter(|(_, d)| !d.is_empty()) {
        if let Some(mut line) = lines_of(&order_value)
            .into_iter()
            .find(|l| position(l) == *wanted)
        {
            if let Value::Object(members) = &mut line {
                let part = members
                    .entry("buyerLine")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(part) = part {
                    part.insert(
                        "documents".into(),
                        serde_json::to_value(documents).unwrap_or_default(),
                    );
                }
            }
            lines.push(line);
        }
    }
    json!({
        "eventName": event_name,
        "orderDocumentsEvent": {
            "orderId": order.id,
            "buyerOrder": buyer_order,
            "supplierOrder": supplier_order,
            "lines": lines,
            "lastUpdatedAt": order_value.get("lastUpdatedAt").cloned().unwrap_or(Value::Null),
        }
    })
}

/// The body of a shipment event.
pub(crate) fn shipment_body(event_name: &str, shipment: &Shipment) -> Value {
    json!({
        "eventName": event_name,
        "shipment": serde_json::to_value(shipment).unwrap_or_default(),
    })
}

// ----- the settings endpoints -------------------------------------------------

/// The settings endpoints, as plain axum routes (Tradecloud publishes no
/// spec for them here; their paths and JSON members are those of
/// Tradecloud's .NET SDK examples, see the [module docs](self)).
pub(crate) mod routes {
    use std::sync::Arc;

    use axum::body::Bytes;
    use axum::extract::{Path, State};
    use axum::response::Response;
    use axum::routing::get;
    use axum::Router;
    use http::{HeaderMap, StatusCode};

    use super::{WebhookKind, WebhookSettings};
    use crate::mock::state::{error_body, MockState};
    use crate::operation::{AuthScheme, Method, Operation};
    use crate::types::Party;

    macro_rules! settings_operation {
        ($name:ident, $id:literal, $path:literal) => {
            /// A settings endpoint (for authentication and fault injection).
            pub(crate) static $name: Operation = Operation {
                id: $id,
                method: Method::Put,
                path: $path,
                client_method: $id,
                server_method: $id,
                deprecated: false,
                security: &[&[AuthScheme::Bearer]],
                request: None,
                responses: &[],
                limits: &[],
                party: None,
            };
        };
    }
    settings_operation!(
        ORDER_EVENTS,
        "setOrderEventsSettings",
        "/order-webhook-connector/company/{companyId}/settings/orderEvents"
    );
    settings_operation!(
        ORDER_DOCUMENTS_EVENTS,
        "setOrderDocumentsEventsSettings",
        "/order-webhook-connector/company/{companyId}/settings/orderDocumentsEvents"
    );
    settings_operation!(
        SHIPMENT_EVENTS,
        "setShipmentWebhookSettings",
        "/shipment-webhook-connector/company/{companyId}/settings"
    );

    /// Every settings endpoint, as fault injection and the counters name
    /// it ([`FaultConfig::operations`](crate::mock::FaultConfig::operations)
    /// may name these ids; `GET` counts as the same operation as `PUT`).
    pub(crate) static OPERATIONS: &[&Operation] =
        &[&ORDER_EVENTS, &ORDER_DOCUMENTS_EVENTS, &SHIPMENT_EVENTS];

    fn json(status: StatusCode, body: &impl serde::Serialize) -> Response {
        crate::server::serialized_response(status, "application/json", body)
    }

    fn error(status: StatusCode, message: impl Into<String>) -> Response {
        json(status, &error_body(message))
    }

    /// Gate, find the company, check the caller may act for it.
    async fn admit(
        state: &MockState,
        operation: &'static Operation,
        headers: &HeaderMap,
        company_id: &str,
    ) -> Result<Party, Response> {
        state
            .gate(operation, headers)
            .await
            .map_err(crate::mock::api::denied_response)?;
        let side = if company_id == state.buyer.company_id {
            Party::Buyer
        } else if company_id == state.supplier.company_id {
            Party::Supplier
        } else {
            return Err(error(
                StatusCode::NOT_FOUND,
                format!(
                    "no company {company_id} in the mock; use the buyer's ({}) or the supplier's ({}) companyId",
                    state.buyer.company_id, state.supplier.company_id
                ),
            ));
        };
        if !state.acts_as(headers, side) {
            return Err(error(
                StatusCode::FORBIDDEN,
                format!("only the integration user of company {company_id} may change its webhook settings"),
            ));
        }
        Ok(side)
    }

    async fn put(
        state: Arc<MockState>,
        operation: &'static Operation,
        kind: WebhookKind,
        headers: HeaderMap,
        company_id: String,
        body: Bytes,
    ) -> Response {
        let side = match admit(&state, operation, &headers, &company_id).await {
            Ok(side) => side,
            Err(response) => return response,
        };
        let settings: WebhookSettings = match serde_json::from_slice(&body) {
            Ok(settings) => settings,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("the settings are not valid JSON of the documented shape ({e}); send {{\"method\", \"webhookUrl\", \"basicAuthCredentials\", \"bearerToken\", \"format\", \"enabledEventNames\", ...}}"),
                )
            }
        };
        if let Err(message) = settings.validate(kind) {
            return error(StatusCode::BAD_REQUEST, message);
        }
        state.webhooks.set(side, kind, settings.clone());
        json(StatusCode::OK, &settings)
    }

    async fn read(
        state: Arc<MockState>,
        operation: &'static Operation,
        kind: WebhookKind,
        headers: HeaderMap,
        company_id: String,
    ) -> Response {
        let side = match admit(&state, operation, &headers, &company_id).await {
            Ok(side) => side,
            Err(response) => return response,
        };
        match state.webhooks.get(side, kind) {
            Some(settings) => json(StatusCode::OK, &settings),
            None => error(StatusCode::NOT_FOUND, "no settings yet for this webhook"),
        }
    }

    macro_rules! settings_route {
        ($router:expr, $operation:ident, $kind:expr) => {{
            let set = |State(state): State<Arc<MockState>>,
                       Path(company_id): Path<String>,
                       headers: HeaderMap,
                       body: Bytes| async move {
                put(state, &$operation, $kind, headers, company_id, body).await
            };
            $router.route(
                $operation.path,
                get(
                    |State(state): State<Arc<MockState>>,
                     Path(company_id): Path<String>,
                     headers: HeaderMap| async move {
                        read(state, &$operation, $kind, headers, company_id).await
                    },
                )
                .put(set)
                .post(set),
            )
        }};
    }

    /// The settings routes (nested under `/v2`).
    pub(crate) fn router(state: Arc<MockState>) -> Router {
        let router = Router::new();
        let router = settings_route!(router, ORDER_EVENTS, WebhookKind::OrderEvents);
        let router = settings_route!(
            router,
            ORDER_DOCUMENTS_EVENTS,
            WebhookKind::OrderDocumentsEvents
        );
        let router = settings_route!(router, SHIPMENT_EVENTS, WebhookKind::ShipmentEvents);
        router.with_state(state)
    }

    /// `GET /mock/deliveries`: the delivery log as JSON.
    pub(crate) async fn deliveries(State(state): State<Arc<MockState>>) -> Response {
        json(StatusCode::OK, &state.webhooks.deliveries())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(process: &str, in_progress: &str) -> LineState {
        let line = json!({"status": {"processStatus": process, "inProgressStatus": in_progress}});
        LineState::of(&line)
    }

    #[test]
    fn a_flow_takes_the_trace_id_of_a_valid_traceparent() {
        let with = |value: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(
                "traceparent",
                http::HeaderValue::from_str(value).expect("a header value"),
            );
            flow_trace_id(&headers)
        };
        assert_eq!(
            with("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            "4bf92f35-77b3-4da6-a3ce-929d0e0e4736"
        );
        // A later version may add fields.
        assert_eq!(
            with("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more"),
            "4bf92f35-77b3-4da6-a3ce-929d0e0e4736"
        );
        for invalid in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more",
            "00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736",
            "",
        ] {
            let fresh = with(invalid);
            assert_eq!(fresh.len(), 36, "{invalid}: {fresh}");
            assert_ne!(fresh, with(invalid), "{invalid}: a fresh id each time");
        }
        assert_ne!(
            flow_trace_id(&http::HeaderMap::new()),
            flow_trace_id(&http::HeaderMap::new())
        );
    }

    #[tokio::test]
    async fn events_queued_in_one_flow_share_its_trace_id() {
        let headers = http::HeaderMap::new();
        let (a, b) = in_flow(flow_trace_id(&headers), async {
            (current_trace_id(), current_trace_id())
        })
        .await;
        assert_eq!(a, b);
        let c = in_flow(flow_trace_id(&headers), async { current_trace_id() }).await;
        assert_ne!(a, c);
        // Outside a flow, every event starts its own.
        assert_ne!(current_trace_id(), current_trace_id());
    }

    #[test]
    fn the_table_names_the_documented_events() {
        let issued = state("Issued", "");
        assert_eq!(
            line_event(Party::Buyer, None, &issued, true),
            Some("OrderIssuedByBuyer")
        );
        assert_eq!(
            line_event(Party::Buyer, None, &issued, false),
            Some("OrderLinesIssuedByBuyer")
        );
        assert_eq!(
            line_event(Party::Buyer, Some(&issued), &issued, false),
            None
        );
        let confirmed = state("Confirmed", "");
        assert_eq!(
            line_event(Party::Supplier, Some(&issued), &confirmed, false),
            Some("OrderLinesAcceptedBySupplier")
        );
        assert_eq!(
            line_event(
                Party::Supplier,
                Some(&issued),
                &state("Rejected", ""),
                false
            ),
            Some("OrderLinesRejectedBySupplier")
        );
        let proposed = state("InProgress", "OpenSupplierProposal");
        assert_eq!(
            line_event(Party::Supplier, Some(&issued), &proposed, false),
            Some("OrderChangesProposedBySupplier")
        );
        assert_eq!(
            line_event(Party::Buyer, Some(&proposed), &confirmed, false),
            Some("OrderChangesProposalApprovedByBuyer")
        );
        assert_eq!(
            line_event(
                Party::Buyer,
                Some(&proposed),
                &state("InProgress", "RejectedSupplierProposal"),
                false
            ),
            Some("OrderChangesProposalRejectedByBuyer")
        );
        assert_eq!(
            line_event(
                Party::Buyer,
                Some(&confirmed),
                &state("Cancelled", ""),
                false
            ),
            Some("OrderLinesCancelledByBuyer")
        );
        assert_eq!(
            line_event(
                Party::Buyer,
                Some(&confirmed),
                &state("Completed", ""),
                false
            ),
            Some("OrderLinesCompletedByBuyer")
        );
        assert_eq!(
            line_event(
                Party::Buyer,
                Some(&confirmed),
                &state("InProgress", "OpenBuyerReopenRequest"),
                false
            ),
            Some("OrderLinesReopenRequestedByBuyer")
        );
        assert_eq!(
            line_event(
                Party::Supplier,
                Some(&confirmed),
                &state("Confirmed", "OpenSupplierReopenRequest"),
                false
            ),
            Some("OrderLinesReopenRequestedBySupplier")
        );
        assert_eq!(
            line_event(Party::Buyer, Some(&issued), &confirmed, false),
            Some("OrderLinesConfirmedByBuyer")
        );
        assert_eq!(
            line_event(
                Party::Buyer,
                Some(&state("Cancelled", "")),
                &state("InProgress", "RevertedCancelledLine"),
                false
            ),
            Some("CancelledOrderLinesRevertedByBuyer")
        );
        assert_eq!(
            line_event(
                Party::Buyer,
                Some(&state("Completed", "")),
                &state("InProgress", "RevertedCompletedLine"),
                false
            ),
            Some("CompletedOrderLinesRevertedByBuyer")
        );
    }

    #[test]
    fn delivery_line_logistics_alone_is_its_own_event() {
        let line = |status: &str, etd: Option<&str>, date: &str| {
            let mut delivery = json!({"position": "1", "date": date, "quantity": 10});
            if !status.is_empty() {
                delivery["status"] = json!(status);
            }
            if let Some(etd) = etd {
                delivery["etd"] = json!(etd);
            }
            LineState::of(&json!({
                "status": {"processStatus": "Confirmed"},
                "deliverySchedule": [delivery.clone()],
                "deliveryScheduleIncludingRequests": [delivery],
            }))
        };
        let before = line("", None, "2026-03-01");
        for (actor, event) in [
            (
                Party::Buyer,
                "OrderLinesDeliveryScheduleLogisticsUpdatedByBuyer",
            ),
            (
                Party::Supplier,
                "OrderLinesDeliveryScheduleLogisticsUpdatedBySupplier",
            ),
        ] {
            assert_eq!(
                line_event(
                    actor,
                    Some(&before),
                    &line("Produced", None, "2026-03-01"),
                    false
                ),
                Some(event)
            );
            assert_eq!(
                line_event(
                    actor,
                    Some(&before),
                    &line("", Some("2026-02-20"), "2026-03-01"),
                    false
                ),
                Some(event)
            );
        }
        // Another date is a change of the schedule, not of its logistics.
        assert_eq!(
            line_event(
                Party::Supplier,
                Some(&before),
                &line("Produced", None, "2026-03-09"),
                false
            ),
            Some("OrderLinesUpdatedBySupplier")
        );
        assert_eq!(
            line_event(Party::Buyer, Some(&before), &before, false),
            None
        );
    }

    #[test]
    fn answers_to_requests_name_their_own_events() {
        let of = |value: Value| LineState::of(&value);
        let confirmed = of(json!({"status": {"processStatus": "Confirmed"}}));
        // A reopen request approved at once (`autoConfirm`): confirmed by
        // the supplier with other values, not an update.
        let reopen_approved = of(json!({
            "status": {"processStatus": "Confirmed"},
            "supplierLine": {"requests": {"reopenRequest": {"status": "Approved",
                "deliverySchedule": [{"date": "2026-04-01", "quantity": 10}]}}}
        }));
        assert_eq!(
            line_event(Party::Supplier, Some(&confirmed), &reopen_approved, false),
            Some("OrderLinesConfirmedBySupplier")
        );
        // A proposal with the requested values (a `proposeWhenAccepted`
        // line accepted) approved at once: accepted as requested, not
        // "confirmed ... with different values" (order-events.md).
        let schedule = json!([{"date": "2026-03-01", "quantity": 10}]);
        let issued = of(json!({"status": {"processStatus": "Issued"},
                               "buyerLine": {"deliverySchedule": schedule}}));
        let approved_as_requested = of(json!({
            "status": {"processStatus": "Confirmed"},
            "buyerLine": {"deliverySchedule": schedule},
            "supplierLine": {"requests": {"proposal": {"status": "Approved",
                "deliverySchedule": schedule}}}
        }));
        assert_eq!(
            line_event(
                Party::Supplier,
                Some(&issued),
                &approved_as_requested,
                false
            ),
            Some("OrderLinesAcceptedBySupplier")
        );
        // The same approved request, notes added later: an update.
        let mut noted = reopen_approved.line.clone();
        noted["supplierLine"]["notes"] = json!(["on time"]);
        assert_eq!(
            line_event(Party::Supplier, Some(&reopen_approved), &of(noted), false),
            Some("OrderLinesUpdatedBySupplier")
        );
        // A response with notes only, while a shipment reschedule request
        // is open: an update, the request still open.
        let rescheduling = |notes: &[&str]| {
            of(json!({
                "status": {"processStatus": "InProgress",
                           "inProgressStatus": "OpenSupplierShipmentRescheduleRequest"},
                "deliveryScheduleIncludingRequests": [{"quantity": 6}],
                "supplierLine": {"notes": notes}
            }))
        };
        assert_eq!(
            line_event(
                Party::Supplier,
                Some(&rescheduling(&[])),
                &rescheduling(&["later"]),
                false
            ),
            Some("OrderLinesUpdatedBySupplier")
        );
        assert_eq!(
            line_event(Party::Supplier, Some(&confirmed), &rescheduling(&[]), false),
            Some("OrderLinesShipmentRescheduleRequestedBySupplier")
        );
        // The supplier answers a buyer reopen request.
        let reopened = of(json!({
            "status": {"processStatus": "InProgress", "inProgressStatus": "OpenBuyerReopenRequest"},
            "buyerLine": {"requests": {"reopenRequest": {"status": "Open"}}}
        }));
        for (answer, event) in [
            ("Approved", "OrderLinesReopenRequestApprovedBySupplier"),
            ("Rejected", "OrderLinesReopenRequestRejectedBySupplier"),
        ] {
            let answered = of(json!({
                "status": {"processStatus": "Confirmed"},
                "buyerLine": {"requests": {"reopenRequest": {"status": answer}}}
            }));
            assert_eq!(
                line_event(Party::Supplier, Some(&reopened), &answered, false),
                Some(event)
            );
        }
        // Goods received up to the full quantity: the history's event.
        let received = |history: Value, logistics: &str| {
            of(json!({
                "status": {"processStatus": "Confirmed", "logisticsStatus": logistics},
                "buyerLine": {"deliveryHistory": history}
            }))
        };
        let six = json!([{"date": "2026-03-01", "quantity": 6}]);
        let ten =
            json!([{"date": "2026-03-01", "quantity": 6}, {"date": "2026-03-02", "quantity": 4}]);
        assert_eq!(
            line_event(
                Party::Buyer,
                Some(&received(six.clone(), "Open")),
                &received(ten, "Delivered"),
                false
            ),
            Some("OrderLinesDeliveryHistoryAppendedByBuyer")
        );
        assert_eq!(
            line_event(
                Party::Buyer,
                Some(&received(six.clone(), "Open")),
                &received(json!([{"date": "2026-03-01", "quantity": 10}]), "Delivered"),
                false
            ),
            Some("OrderLinesDeliveryHistorySetByBuyer")
        );
        assert_eq!(
            line_event(
                Party::Buyer,
                Some(&received(six.clone(), "Open")),
                &received(six, "Delivered"),
                false
            ),
            Some("OrderLinesMarkedAsDeliveredByBuyer")
        );
    }

    #[test]
    fn targets_are_https_or_loopback_http() {
        assert!(check_target("https://example.com/hook").is_ok());
        assert!(check_target("http://127.0.0.1:8080/hook").is_ok());
        assert!(check_target("http://[::1]:8080/hook").is_ok());
        assert!(check_target("http://localhost/hook").is_ok());
        assert!(check_target("http://example.com/hook").is_err());
        assert!(check_target("ftp://127.0.0.1/").is_err());
    }

    #[test]
    fn webhook_faults_parse() {
        assert_eq!(
            WebhookFault::parse("supplier:503:2"),
            Ok(WebhookFault {
                company: Some("supplier".into()),
                kind: WebhookFaultKind::Status(503),
                first: Some(2)
            })
        );
        assert_eq!(
            WebhookFault::parse("down").map(|f| f.kind),
            Ok(WebhookFaultKind::Down)
        );
        assert_eq!(
            WebhookFault::parse("slow=500ms").map(|f| f.kind),
            Ok(WebhookFaultKind::Slow(Duration::from_millis(500)))
        );
        assert!(WebhookFault::parse("sometimes").is_err());
    }

    #[test]
    fn settings_read_tradecloud_s_example() {
        let example = r#"{
          "method": "POST",
          "webhookUrl": "https://orderwebhook.mycompany.com",
          "basicAuthCredentials": {"username": "MyCompany", "password": "ReallyStrongPassword123"},
          "bearerToken": "REALLY-LONG-TOKEN-ABCDEFGHIJKLMOPQRSTUVW",
          "format": "JSON",
          "singleDeliveryPerOrderLine": false,
          "enabledEventNames": ["OrderIssuedByBuyer", "OrderLinesAcceptedBySupplier"]
        }"#;
        let settings: WebhookSettings = serde_json::from_str(example).unwrap();
        assert!(settings.validate(WebhookKind::OrderEvents).is_ok());
        let txml = WebhookSettings {
            format: Some("tXML".into()),
            ..settings.clone()
        };
        assert!(txml.validate(WebhookKind::OrderDocumentsEvents).is_ok());
        let refused = txml.validate(WebhookKind::ShipmentEvents).unwrap_err();
        assert!(refused.contains("order webhook only"), "{refused}");
        assert!(settings.enabled("OrderIssuedByBuyer"));
        assert!(!settings.enabled("OrderLinesRejectedBySupplier"));
        assert!(!format!("{settings:?}").contains("ReallyStrongPassword123"));
    }
}
