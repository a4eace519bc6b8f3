//! The test bed: the mock of Tradecloud and a real receiver with your handler.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::client::{Client, ClientError, Environment};
use crate::inbox::{EventKind, Inbox};
use crate::mock::{MockConfig, MockCredentials, MockError, MockServer};
use crate::processing::{EventMeta, Handler, HandlerContext, HandlerError, ProcessorConfig};
use crate::receiver::{Config, Receiver, ReceiverError};
use crate::types::Party;

use super::{Sample, WAIT, WEBHOOK_USERNAME};

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
    /// A client of the mock could not be built.
    #[error("cannot build a client of the mock: {0}")]
    Client(#[from] ClientError),
    /// The receiver task stopped unexpectedly.
    #[error("the receiver task stopped unexpectedly: {0}")]
    Stopped(String),
}

/// The credentials of `party`'s integration user at `mock`.
fn credentials(party: Party, mock: &MockServer) -> MockCredentials {
    match party {
        Party::Buyer => mock.buyer().credentials,
        Party::Supplier => mock.supplier().credentials,
    }
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
/// on loopback; see the [module documentation](crate::testing).
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
        Self::start_inner(handler, mock, None).await
    }

    /// Start the mock with `mock` and the receiver with `handler` as
    /// `party`'s service: the receiver's `[tradecloud]` client (the
    /// handler's [`HandlerContext::client`]) logs in as that company's
    /// integration user, so what the handler sends through the SDK (an
    /// order response, an approval) moves the mock's orders for that
    /// company. Play the other side with [`client_as`](Self::client_as).
    pub async fn start_as<H: Handler>(
        handler: H,
        mock: MockConfig,
        party: Party,
    ) -> Result<TestBed, TestBedError> {
        Self::start_inner(handler, mock, Some(party)).await
    }

    async fn start_inner<H: Handler>(
        handler: H,
        mock: MockConfig,
        party: Option<Party>,
    ) -> Result<TestBed, TestBedError> {
        let mock = MockServer::start(mock).await?;
        let dir = tempfile::tempdir()?;
        let password: String = (0..24).map(|_| fastrand::alphanumeric()).collect();
        let credentials = match party {
            Some(party) => credentials(party, &mock),
            None => mock.credentials(),
        };
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

    /// A client of the mock logging in as `party`'s integration user, e.g.
    /// the buyer sending the order that a supplier's handler then answers.
    /// No rate limit, short retry delays.
    pub fn client_as(&self, party: Party) -> Result<Client, TestBedError> {
        let credentials = credentials(party, &self.mock);
        Ok(Client::builder()
            .environment(Environment::custom(self.mock.base_url()))
            .credentials(credentials.username, credentials.password)
            .without_rate_limit()
            .retry_policy(
                crate::client::RetryPolicy::default()
                    .max_retries(3)
                    .base_delay(Duration::from_millis(10))
                    .max_delay(Duration::from_millis(200)),
            )
            .build()?)
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
