//! Testing a receiver service in-process (features `mock` and `receiver`):
//! a [`TestBed`] starts a [mock of Tradecloud](crate::mock) and a real
//! [`Receiver`] over HTTPS (a self-signed certificate that only the test
//! bed's client trusts) with your [`Handler`], delivers [`Sample`] webhook
//! bodies the way Tradecloud does, and records what your handler did.
//!
//! The receiver's `[tradecloud]` client points at the mock, so a handler
//! that downloads documents with [`HandlerContext::client`] downloads them
//! from the mock (the samples reference documents the mock's
//! [demo data](crate::mock::MockData::demo) holds).
//!
//! ```
//! use tradecloud::processing::{Event, Handler, HandlerContext, HandlerError};
//! use tradecloud::testing::{Sample, TestBed};
//!
//! struct Erp;
//!
//! impl Handler for Erp {
//!     async fn handle(&self, event: Event, _ctx: &HandlerContext) -> Result<(), HandlerError> {
//!         match event {
//!             Event::Order { .. } => Ok(()),
//!             _ => Err(HandlerError::Permanent("only orders, please".into())),
//!         }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tradecloud::testing::TestBedError> {
//! let bed = TestBed::start(Erp).await?;
//! bed.deliver(&Sample::order_event("OrderIssuedByBuyer")).await?; // answered 2xx
//! bed.deliver(&Sample::shipment_event("ShipmentIssuedBySupplier")).await?;
//!
//! let handled = bed.wait_handled(2).await?; // in arrival order
//! assert_eq!(handled[0].event_name(), Some("OrderIssuedByBuyer"));
//! assert!(handled[0].result.is_ok());
//! assert!(matches!(handled[1].result, Err(HandlerError::Permanent(_))));
//! bed.shutdown().await?;
//! # Ok(())
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::inbox::{EventKind, Inbox};
use crate::mock::{MockConfig, MockError, MockServer};
use crate::processing::{EventMeta, Handler, HandlerContext, HandlerError, ProcessorConfig};
use crate::receiver::{Config, Receiver, ReceiverError};

/// The Basic-auth user name the test bed's receiver expects.
pub const WEBHOOK_USERNAME: &str = "tradecloud";

/// How long [`TestBed::wait_handled`] waits.
const WAIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// Samples
// ---------------------------------------------------------------------------

/// Which webhook a [`Sample`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleKind {
    /// An order webhook body with an `orderEvent` (the portal's Delivery
    /// Schedule Mode "Multiple Deliveries").
    OrderEvent,
    /// An order webhook body with a `singleDeliveryOrderEvent` (Delivery
    /// Schedule Mode "Single Delivery").
    SingleDeliveryOrderEvent,
    /// An order webhook body with an `orderDocumentsEvent`.
    OrderDocumentsEvent,
    /// A shipment webhook body.
    ShipmentEvent,
}

impl SampleKind {
    /// Whether it is delivered to the shipment webhook (else the order webhook).
    pub fn is_shipment(self) -> bool {
        self == SampleKind::ShipmentEvent
    }
}

/// A realistic webhook body, written from Tradecloud's documentation, with
/// the event name of your choice and a fresh `meta.messageId`.
///
/// Every sample is small but complete enough for a handler to exercise the
/// usual work: two lines, a changed and (for shipments) an unchanged one,
/// documents with an `objectId` that the mock's demo data can serve, and a
/// document without a file.
///
/// | sample | lines (changed) | documents (changed, with a file) |
/// |---|---|---|
/// | [`order_event`](Self::order_event) | 2 (2) | 3 (3, 2) |
/// | [`single_delivery_order_event`](Self::single_delivery_order_event) | 2 (2) | 3 (3, 2) |
/// | [`order_documents_event`](Self::order_documents_event) | 1 (1) | 2 (2, 2) |
/// | [`shipment_event`](Self::shipment_event) | 2 (1) | 3 (2, 1) |
///
/// ```
/// use tradecloud::api::order_webhook_connector::types::OrderWebhookBody;
/// use tradecloud::testing::{Sample, SampleKind};
///
/// let sample = Sample::order_event("OrderLinesConfirmedBySupplier");
/// assert_eq!(sample.kind(), SampleKind::OrderEvent);
/// let body: OrderWebhookBody = serde_json::from_str(sample.body())?;
/// assert_eq!(body.event_name.as_str(), "OrderLinesConfirmedBySupplier");
/// assert_eq!(body.order_event.map(|e| e.lines.len()), Some(2));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    kind: SampleKind,
    event_name: String,
    message_id: String,
    body: String,
}

impl Sample {
    /// An order event in delivery-schedule form (`orderEvent`), e.g.
    /// `OrderIssuedByBuyer` for a supplier or `OrderLinesConfirmedBySupplier`
    /// for a buyer.
    pub fn order_event(event_name: &str) -> Sample {
        Sample::new(SampleKind::OrderEvent, event_name, ORDER_EVENT)
    }

    /// An order event in single-delivery form (`singleDeliveryOrderEvent`).
    pub fn single_delivery_order_event(event_name: &str) -> Sample {
        Sample::new(
            SampleKind::SingleDeliveryOrderEvent,
            event_name,
            SINGLE_DELIVERY_ORDER_EVENT,
        )
    }

    /// An order documents event (`orderDocumentsEvent`), e.g.
    /// `OrderDocumentsAttachedByBuyer` or `OrderDocumentsAttachedBySupplier`.
    pub fn order_documents_event(event_name: &str) -> Sample {
        Sample::new(
            SampleKind::OrderDocumentsEvent,
            event_name,
            ORDER_DOCUMENTS_EVENT,
        )
    }

    /// A shipment event, e.g. `ShipmentIssuedBySupplier` for a buyer or
    /// `ShipmentApprovedByBuyer` for a supplier.
    pub fn shipment_event(event_name: &str) -> Sample {
        Sample::new(SampleKind::ShipmentEvent, event_name, SHIPMENT_EVENT)
    }

    fn new(kind: SampleKind, event_name: &str, template: &str) -> Sample {
        let message_id = random_uuid();
        // The event name is a JSON string: escape what JSON requires.
        let escaped = serde_json::to_string(event_name).unwrap_or_else(|_| "\"\"".to_owned());
        let body = template
            .replace("\"{event_name}\"", &escaped)
            .replace("{message_id}", &message_id);
        Sample {
            kind,
            event_name: event_name.to_owned(),
            message_id,
            body,
        }
    }

    /// Which webhook it is for.
    pub fn kind(&self) -> SampleKind {
        self.kind
    }

    /// Its `eventName`.
    pub fn event_name(&self) -> &str {
        &self.event_name
    }

    /// Its `meta.messageId` (a fresh UUID: the receiver treats a second
    /// delivery of the same sample as a redelivery).
    pub fn message_id(&self) -> &str {
        &self.message_id
    }

    /// The JSON body.
    pub fn body(&self) -> &str {
        &self.body
    }
}

/// A random version-4 UUID.
fn random_uuid() -> String {
    let hex = |n: usize| {
        (0..n)
            .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
            .collect::<String>()
    };
    let variant = ['8', '9', 'a', 'b'][fastrand::usize(0..4)];
    format!(
        "{}-{}-4{}-{variant}{}-{}",
        hex(8),
        hex(4),
        hex(3),
        hex(3),
        hex(12)
    )
}

// The bodies are templates in `samples/`, written from Tradecloud's
// documentation: [`Sample::new`] replaces `"{event_name}"` (with the JSON
// string of the event name) and `{message_id}` (with a fresh UUID).

/// `orderEvent`: two lines, confirmed delivery schedule and prices, a buyer
/// order document, a supplier order document and a line document without a
/// file (order/buyer/receive/README.md, order/supplier/receive/README.md).
const ORDER_EVENT: &str = include_str!("../samples/order-event.json");

/// `singleDeliveryOrderEvent`: the same order with one scheduled delivery
/// per line (order/supplier/receive/single-delivery-order.md).
const SINGLE_DELIVERY_ORDER_EVENT: &str =
    include_str!("../samples/single-delivery-order-event.json");

/// `orderDocumentsEvent` (members modelled on `orderEvent`): an order
/// document and a line document, both with a file.
const ORDER_DOCUMENTS_EVENT: &str = include_str!("../samples/order-documents-event.json");

/// A shipment (all lines and documents; shipment/buyer/receive/README.md):
/// one line and one document changed in this event, one line and one
/// document older, and a document without a file.
const SHIPMENT_EVENT: &str = include_str!("../samples/shipment-event.json");

// ---------------------------------------------------------------------------
// The test bed
// ---------------------------------------------------------------------------

/// Why the test bed could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestBedError {
    /// The mock of Tradecloud did not start or stop.
    #[error("the mock of Tradecloud failed: {0}")]
    Mock(#[from] MockError),
    /// The receiver did not start or failed while running.
    #[error("the receiver failed: {0}")]
    Receiver(#[from] ReceiverError),
    /// A file or directory of the test bed could not be created.
    #[error("cannot create the test bed's temporary directory: {0}")]
    Io(#[from] std::io::Error),
    /// The HTTPS request to the receiver failed.
    #[error("cannot deliver to the receiver: {0}")]
    Http(#[from] reqwest::Error),
    /// The receiver answered a delivery with a status other than 2xx.
    #[error("the receiver answered {status} to {event_name}: {body}")]
    Rejected {
        /// The status code.
        status: u16,
        /// The event name delivered.
        event_name: String,
        /// The response body (a JSON problem).
        body: String,
    },
    /// The handler did not finish the expected number of events in time.
    #[error(
        "the handler finished {handled} of the {expected} expected events within {waited:?}; \
         check that each delivery was answered 2xx and that the handler returns"
    )]
    Timeout {
        /// How many handler calls were expected.
        expected: usize,
        /// How many finished.
        handled: usize,
        /// How long it waited.
        waited: Duration,
    },
    /// The receiver task stopped unexpectedly.
    #[error("the receiver task stopped unexpectedly: {0}")]
    Stopped(String),
}

/// One finished handler call, recorded by the [`TestBed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    /// The event's inbox metadata (kind, event name, object id, attempt, ...).
    pub meta: EventMeta,
    /// What the handler returned.
    pub result: Result<(), HandlerError>,
}

impl Handled {
    /// The event's `eventName`.
    pub fn event_name(&self) -> Option<&str> {
        self.meta.event_name.as_deref()
    }

    /// Order, order documents or shipment.
    pub fn kind(&self) -> EventKind {
        self.meta.kind
    }
}

#[derive(Default)]
struct Log {
    handled: Mutex<Vec<Handled>>,
    changed: tokio::sync::Notify,
}

impl Log {
    fn snapshot(&self) -> Vec<Handled> {
        match self.handled.lock() {
            Ok(handled) => handled.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// Runs the user's handler and records each call.
struct Recording<H> {
    inner: H,
    log: Arc<Log>,
}

impl<H: Handler> Handler for Recording<H> {
    async fn handle(
        &self,
        event: crate::processing::Event,
        ctx: &HandlerContext,
    ) -> Result<(), HandlerError> {
        let meta = event.meta().clone();
        let result = self.inner.handle(event, ctx).await;
        let record = Handled {
            meta,
            result: result.clone(),
        };
        match self.log.handled.lock() {
            Ok(mut handled) => handled.push(record),
            Err(poisoned) => poisoned.into_inner().push(record),
        }
        self.log.changed.notify_waiters();
        result
    }
}

/// A mock of Tradecloud and a receiver with your handler, both in-process
/// on loopback; see the [module documentation](self).
///
/// The receiver is configured as a scaffolded service's `tradecloud.toml`:
/// webhooks at `/tradecloud/order` and `/tradecloud/shipment`, Basic
/// authentication ([`WEBHOOK_USERNAME`] and a random password), an SQLite
/// inbox in a temporary directory, and `[tradecloud]` pointing at the mock
/// with its credentials. Failed events are retried after 50 to 200 ms, at
/// most 3 attempts, so a test sees retries quickly.
pub struct TestBed {
    mock: MockServer,
    addr: SocketAddr,
    http: reqwest::Client,
    password: String,
    config: Config,
    inbox: Inbox,
    log: Arc<Log>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), ReceiverError>>>,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for TestBed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestBed")
            .field("receiver", &self.addr)
            .field("mock", &self.mock.base_url())
            .finish_non_exhaustive()
    }
}

impl TestBed {
    /// Start the mock with its [demo data](crate::mock::MockData::demo)
    /// and the receiver with `handler`.
    pub async fn start<H: Handler>(handler: H) -> Result<TestBed, TestBedError> {
        Self::start_with(handler, MockConfig::new().demo_data()).await
    }

    /// Start the mock with `mock` and the receiver with `handler`.
    pub async fn start_with<H: Handler>(
        handler: H,
        mock: MockConfig,
    ) -> Result<TestBed, TestBedError> {
        let mock = MockServer::start(mock).await?;
        let dir = tempfile::tempdir()?;
        let password: String = (0..24).map(|_| fastrand::alphanumeric()).collect();
        let credentials = mock.credentials();
        let toml_string = |s: &str| toml::Value::String(s.to_owned()).to_string();
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n\
             [auth]\nmethod = \"basic\"\nusername = \"{WEBHOOK_USERNAME}\"\npassword = {}\n\
             [store]\nurl = {}\n\
             [tradecloud]\nbase_url = {}\nusername = {}\npassword = {}\n",
            toml_string(&password),
            toml_string(&format!(
                "sqlite://{}",
                dir.path().join("inbox.db").display()
            )),
            toml_string(&mock.base_url()),
            toml_string(&credentials.username),
            toml_string(&credentials.password),
        );
        // Only this text: the developer's TRADECLOUD_* variables must not
        // change a test.
        let config = Config::from_parts(Some(&text), "the test bed", Vec::new())
            .map_err(ReceiverError::from)?;
        let log = Arc::new(Log::default());
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let receiver = Receiver::builder()
            .config(config.clone())
            .dev_tls()
            .listener(listener)
            .handler(Recording {
                inner: handler,
                log: log.clone(),
            })
            .processor_config(ProcessorConfig {
                concurrency: 4,
                max_attempts: 3,
                backoff_base: Duration::from_millis(100),
                backoff_max: Duration::from_millis(200),
                poll_interval: Duration::from_millis(50),
                ..ProcessorConfig::default()
            })
            .build()
            .await?;
        let addr = receiver.local_addr();
        let inbox = receiver.inbox().clone();
        let certificate = receiver.dev_certificate_pem().unwrap_or_default();
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(certificate.as_bytes())?)
            .resolve("localhost", addr)
            .timeout(Duration::from_secs(30))
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(receiver.run_until(async move {
            let _ = stopped.await;
        }));
        Ok(TestBed {
            mock,
            addr,
            http,
            password,
            config,
            inbox,
            log,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        })
    }

    /// The mock of Tradecloud (its data, counters and fault injection).
    pub fn mock(&self) -> &MockServer {
        &self.mock
    }

    /// The receiver's inbox.
    pub fn inbox(&self) -> &Inbox {
        &self.inbox
    }

    /// The receiver's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The receiver's URL for `path`, e.g. `https://localhost:41234/tradecloud/order`.
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    /// POST `sample` to the order or shipment webhook over HTTPS with Basic
    /// authentication, as Tradecloud does. `Ok` with the status when the
    /// receiver answered 2xx (the event is stored), else
    /// [`TestBedError::Rejected`].
    pub async fn deliver(&self, sample: &Sample) -> Result<u16, TestBedError> {
        let server = &self.config.server;
        let path = if sample.kind().is_shipment() {
            &server.shipment_path
        } else {
            &server.order_path
        };
        let (status, body) = self
            .post(path, "application/json", sample.body().to_owned())
            .await?;
        if (200..300).contains(&status) {
            Ok(status)
        } else {
            Err(TestBedError::Rejected {
                status,
                event_name: sample.event_name().to_owned(),
                body,
            })
        }
    }

    /// POST any `body` to `path` with Basic authentication; returns the
    /// status and the response body, whatever the status.
    pub async fn post(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Result<(u16, String), TestBedError> {
        let response = self
            .http
            .post(self.url(path))
            .basic_auth(WEBHOOK_USERNAME, Some(&self.password))
            .header(http::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    /// Every handler call finished so far, in the order they finished.
    pub fn handled(&self) -> Vec<Handled> {
        self.log.snapshot()
    }

    /// Wait (at most 30 seconds) until the handler has finished at least
    /// `count` calls, retries included; returns them all in the order they
    /// finished.
    pub async fn wait_handled(&self, count: usize) -> Result<Vec<Handled>, TestBedError> {
        self.wait_handled_within(count, WAIT).await
    }

    /// [`wait_handled`](Self::wait_handled), waiting at most `limit`.
    pub async fn wait_handled_within(
        &self,
        count: usize,
        limit: Duration,
    ) -> Result<Vec<Handled>, TestBedError> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let changed = self.log.changed.notified();
            let handled = self.log.snapshot();
            if handled.len() >= count {
                return Ok(handled);
            }
            if let Some(task) = &self.task {
                if task.is_finished() {
                    return Err(TestBedError::Stopped(
                        "the receiver stopped before the events were handled".into(),
                    ));
                }
            }
            // Woken by every finished call; the timeout also covers a missed wake-up.
            let wait = Duration::from_millis(200)
                .min(deadline.saturating_duration_since(tokio::time::Instant::now()));
            if wait.is_zero() {
                return Err(TestBedError::Timeout {
                    expected: count,
                    handled: handled.len(),
                    waited: limit,
                });
            }
            let _ = tokio::time::timeout(wait, changed).await;
        }
    }

    /// Stop the receiver (finishing in-flight requests and handlers) and
    /// the mock. Dropping the test bed stops both too, without waiting.
    pub async fn shutdown(mut self) -> Result<(), TestBedError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(result) => result?,
                Err(e) => return Err(TestBedError::Stopped(e.to_string())),
            }
        }
        self.mock.shutdown().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::types::Shipment;
    use crate::api::order_webhook_connector::types::OrderWebhookBody;
    use crate::api::shipment_webhook_connector::types::ShipmentWebhookBody;
    use crate::changes::ChangeSet;
    use crate::client::DocumentSource;
    use crate::webhook::OrderWebhookEvent;

    fn counts<M: ChangeSet>(m: &M) -> [usize; 5]
    where
        M::Document: Source,
    {
        let with_file = m
            .changed_documents()
            .iter()
            .filter(|d| !matches!(document_source(d.document), DocumentSource::NoFile))
            .count();
        [
            m.all_lines().len(),
            m.changed_lines().len(),
            m.all_documents().len(),
            m.changed_documents().len(),
            with_file,
        ]
    }

    trait Source {
        fn source(&self) -> DocumentSource;
    }
    impl Source for crate::api::common::types::Document {
        fn source(&self) -> DocumentSource {
            self.into()
        }
    }
    impl Source for crate::api::common::types::ShipmentDocument {
        fn source(&self) -> DocumentSource {
            self.into()
        }
    }
    fn document_source<D: Source>(d: &D) -> DocumentSource {
        d.source()
    }

    fn order(sample: &Sample) -> OrderWebhookBody {
        serde_json::from_str(sample.body()).unwrap()
    }

    #[test]
    fn samples_parse_and_match_the_documented_counts() {
        let s = Sample::order_event("OrderIssuedByBuyer");
        let body = order(&s);
        assert_eq!(body.event_name.as_str(), "OrderIssuedByBuyer");
        assert_eq!(
            body.meta.as_ref().and_then(|m| m.message_id.as_deref()),
            Some(s.message_id())
        );
        let Some(OrderWebhookEvent::Order(e)) = body.event() else {
            panic!("orderEvent")
        };
        assert_eq!(counts(e), [2, 2, 3, 3, 2]);

        let body = order(&Sample::single_delivery_order_event("OrderIssuedByBuyer"));
        let Some(OrderWebhookEvent::SingleDelivery(e)) = body.event() else {
            panic!("singleDeliveryOrderEvent")
        };
        assert_eq!(counts(e), [2, 2, 3, 3, 2]);

        let body = order(&Sample::order_documents_event(
            "OrderDocumentsAttachedByBuyer",
        ));
        let Some(OrderWebhookEvent::Documents(e)) = body.event() else {
            panic!("orderDocumentsEvent")
        };
        assert_eq!(counts(e), [1, 1, 2, 2, 2]);

        let body: ShipmentWebhookBody =
            serde_json::from_str(Sample::shipment_event("ShipmentIssuedBySupplier").body())
                .unwrap();
        let shipment: &Shipment = &body.shipment;
        assert_eq!(counts(shipment), [2, 1, 3, 2, 1]);
    }

    #[test]
    fn every_sample_document_is_in_the_demo_data() {
        let demo = crate::mock::MockData::demo();
        for sample in [
            Sample::order_event("x"),
            Sample::single_delivery_order_event("x"),
            Sample::order_documents_event("x"),
            Sample::shipment_event("x"),
        ] {
            for part in sample.body().split("\"objectId\": \"").skip(1) {
                let id = part.split('"').next().unwrap();
                assert!(demo.documents.contains_key(id), "{id}");
            }
        }
    }

    #[test]
    fn event_names_are_escaped_and_message_ids_fresh() {
        let a = Sample::order_event("Odd \"name\"");
        let body = order(&a);
        assert_eq!(body.event_name.as_str(), "Odd \"name\"");
        assert_ne!(a.message_id(), Sample::order_event("x").message_id());
        assert_eq!(a.message_id().len(), 36);
    }
}
