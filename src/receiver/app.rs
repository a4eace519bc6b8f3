//! The running [`Receiver`]: the axum application (webhook routes with
//! their layers, and the operational endpoints) served by the
//! [listener] until shutdown, beside the processor, the
//! certificate watcher and the retention task.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use tokio::sync::Semaphore;
use tokio_rustls::rustls::ServerConfig;

use super::{
    glue, layers, listener, ops, retention, routes, tls, Authenticator, Config, Metrics,
    ReceiverBuilder, ReceiverError,
};
use crate::inbox::Inbox;

type ShutdownFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A receiver with its listener bound, ready to [`run`](Receiver::run).
pub struct Receiver {
    pub(super) config: Config,
    pub(super) app: axum::Router,
    pub(super) listener: tokio::net::TcpListener,
    pub(super) local_addr: SocketAddr,
    pub(super) tls: Arc<ServerConfig>,
    pub(super) resolver: Option<Arc<tls::CertResolver>>,
    /// The certificate being served (also ACME's), checked daily.
    pub(super) served: Option<Arc<tls::CertResolver>>,
    pub(super) watch: Option<tls::CertFiles>,
    pub(super) dev_certificate: Option<String>,
    pub(super) acme: Option<crate::receiver::acme::Acme>,
    pub(super) inbox: Inbox,
    pub(super) metrics: Metrics,
    /// The `[tradecloud]` client and its credentials' standing, checked at start.
    pub(super) api_check: Option<(crate::client::Client, super::ApiHealth)>,
    pub(super) processing: Option<Box<dyn glue::Spawn>>,
    /// `[console]`: the operator's web console, if configured.
    pub(super) console: Option<ConsoleServer>,
}

/// The bound listener of the operator's console and its application.
pub(super) struct ConsoleServer {
    listener: tokio::net::TcpListener,
    local_addr: SocketAddr,
    tls: Option<Arc<ServerConfig>>,
    app: axum::Router,
}

impl ConsoleServer {
    /// Hash the passwords and bind `addr`.
    pub(super) fn bind(
        addr: SocketAddr,
        config: &super::config::ConsoleConfig,
        inbox: Inbox,
        metrics: Metrics,
        tls: Option<Arc<ServerConfig>>,
    ) -> Result<ConsoleServer, ReceiverError> {
        let console = super::console::Console::new(config, inbox, metrics)
            .map_err(|e| super::ConfigError::Setting(format!("[console]: {e}")))?;
        let bind_error = |source| ReceiverError::Bind { addr, source };
        let listener = std::net::TcpListener::bind(addr).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        Ok(ConsoleServer {
            listener,
            local_addr,
            tls,
            app: super::console::router(Arc::new(console)),
        })
    }
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// A builder: `Receiver::builder().config(c).handler(h).run().await`.
    pub fn builder() -> ReceiverBuilder {
        ReceiverBuilder::new()
    }

    /// The address the receiver listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address of the operator's console (`[console] listen`), if configured.
    pub fn console_addr(&self) -> Option<SocketAddr> {
        self.console.as_ref().map(|c| c.local_addr)
    }

    /// The inbox events are stored in.
    pub fn inbox(&self) -> &Inbox {
        &self.inbox
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// With [`ReceiverBuilder::dev_tls`]: the generated certificate (PEM),
    /// for a test client to trust.
    pub fn dev_certificate_pem(&self) -> Option<&str> {
        self.dev_certificate.as_deref()
    }

    /// The complete axum application (webhook routes with their layers and
    /// the operational endpoints), to serve it some other way. It must
    /// still be served over TLS only.
    pub fn router(&self) -> axum::Router {
        self.app.clone()
    }

    /// Serve until SIGTERM or Ctrl-C, then finish in-flight requests and stop
    /// the processor; a second SIGTERM or Ctrl-C cancels the handlers still
    /// running and closes the connections still open at once (see
    /// [`Receiver::run_until_or_now`]).
    pub async fn run(self) -> Result<(), ReceiverError> {
        let (shutdown, again) = shutdown_signals();
        self.run_until_or_now(shutdown, again).await
    }

    /// Serve until `shutdown` completes, then finish in-flight requests and
    /// stop the processor.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ReceiverError> {
        self.run_until_or_now(shutdown, std::future::pending())
            .await
    }

    /// [`Receiver::run_until`], and when `now` completes (a second signal,
    /// see [`shutdown_signals`]) during the processor's shutdown grace, the
    /// grace ends at once: handlers still running are cancelled and their
    /// events go back to the queue uncounted, as when the grace runs out;
    /// connections with requests still in flight are closed without waiting
    /// for `[server] shutdown_timeout_secs` (unanswered, so Tradecloud sends
    /// their events again).
    pub async fn run_until_or_now(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
        now: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ReceiverError> {
        use glue::Stop;
        let watcher = match (&self.watch, &self.resolver) {
            (Some(files), Some(resolver)) => Some(files.clone().watch(
                resolver,
                Duration::from_secs(self.config.server.tls_reload_secs.max(1)),
            )),
            _ => None,
        };
        let daily_check = self
            .served
            .clone()
            .map(super::certificate::spawn_daily_check);
        let retention = match self.config.store.retention_days {
            Some(days) if days > 0 => Some(tokio::spawn(retention::run(
                self.inbox.clone(),
                self.metrics.clone(),
                days,
            ))),
            _ => None,
        };
        let acme = self.acme.map(crate::receiver::acme::Acme::spawn);
        let store_watch = tokio::spawn(ops::watch_store(self.inbox.clone(), self.metrics.clone()));
        // Without holding up the start: a refusal is logged loudly; an
        // unreachable API is checked again until it answers.
        let api_check = self.api_check.map(|(client, health)| {
            tokio::spawn(async move { health.check_at_start(&client).await })
        });
        // The processor stops when the listener does (its shutdown grace
        // runs while requests in flight finish, not after): a stop takes
        // the longer of the two, within the service manager's timeout.
        let (stop_processing, stopped) = tokio::sync::watch::channel(Stop::Running);
        let stop_processing = std::sync::Arc::new(stop_processing);
        let stop = |level: Stop| {
            let stop_processing = stop_processing.clone();
            move || stop_processing.send_modify(|s| *s = (*s).max(level))
        };
        // `shutdown` stops, `now` (after it, or instead) stops at once.
        let asked = {
            let (stop, stop_now) = (stop(Stop::Graceful), stop(Stop::Now));
            tokio::spawn(async move {
                tokio::pin!(now);
                tokio::select! {
                    () = shutdown => stop(),
                    () = &mut now => return stop_now(),
                }
                now.await;
                stop_now();
            })
        };
        let processor = self
            .processing
            .map(|p| p.spawn(self.inbox.clone(), self.metrics.clone(), stopped));
        let console = self.console.map(|c| {
            tracing::info!(
                listen = %c.local_addr, tls = c.tls.is_some(),
                "operator console on {}://{}", if c.tls.is_some() { "https" } else { "http" }, c.local_addr
            );
            tokio::spawn(super::console::serve(c.listener, c.tls, c.app))
        });
        let s = &self.config.server;
        tracing::info!(
            listen = %self.local_addr, order_path = %s.order_path, shipment_path = %s.shipment_path,
            auth = ?self.config.auth.method, processing = processor.is_some(), store = %self.inbox.describe(),
            "receiving Tradecloud webhooks over HTTPS"
        );
        let options = listener::ServeOptions {
            handshake_timeout: Duration::from_secs(s.handshake_timeout_secs.max(1)),
            header_read_timeout: Duration::from_secs(s.header_read_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(s.idle_timeout_secs.max(1)),
            shutdown_timeout: Duration::from_secs(s.shutdown_timeout_secs),
            max_connections: s.max_connections,
            max_connections_per_ip: s.max_connections_per_ip,
            drain_max_bytes: s.max_body_bytes,
            drain_timeout: Duration::from_secs(s.request_timeout_secs.max(1)),
        };
        // The listener stops accepting at the first signal and closes the
        // connections still open at the second (their requests unanswered:
        // Tradecloud sends those events again).
        let reached = |level: Stop| -> ShutdownFuture {
            let mut stopping = stop_processing.subscribe();
            Box::pin(async move {
                if stopping.wait_for(|s| *s >= level).await.is_err() {
                    std::future::pending::<()>().await;
                }
            })
        };
        listener::serve(
            self.listener,
            self.tls,
            self.app,
            options,
            self.metrics.clone(),
            reached(Stop::Graceful),
            reached(Stop::Now),
        )
        .await;
        stop(Stop::Graceful)();
        let mut stopped_cleanly = true;
        if let Some(processor) = processor {
            // Long enough for the processor to put back the events of the
            // handlers it cancels after its shutdown grace.
            let wait = s
                .shutdown_timeout_secs
                .max(
                    self.config
                        .processing
                        .shutdown_grace_secs
                        .saturating_add(10),
                )
                .max(1);
            if tokio::time::timeout(Duration::from_secs(wait), processor)
                .await
                .is_err()
            {
                stopped_cleanly = false;
                tracing::warn!("the processor did not stop in time; unfinished events are handled again at the next start");
            }
        }
        // Every connection is closed and the processor stopped: nothing of
        // this receiver uses the inbox any more, so its SQLite receiver lock
        // goes (file and all). A processor still running keeps it, held
        // until the process ends.
        if stopped_cleanly {
            self.inbox.release_receiving();
        }
        if let Some(watcher) = watcher {
            watcher.abort();
        }
        if let Some(daily_check) = daily_check {
            daily_check.abort();
        }
        if let Some(retention) = retention {
            retention.abort();
        }
        if let Some(acme) = acme {
            acme.abort();
        }
        store_watch.abort();
        asked.abort();
        if let Some(console) = console {
            console.abort();
        }
        if let Some(api_check) = api_check {
            api_check.abort();
        }
        tracing::info!("receiver stopped");
        Ok(())
    }
}

/// Completes on SIGTERM or Ctrl-C (SIGINT): the first of
/// [`shutdown_signals`].
///
/// The signal handlers are in place when this function returns, not when
/// the future is first polled: call it before saying "listening", so that a
/// signal sent the moment a supervisor sees that line still stops the
/// receiver cleanly (its lock released, in-flight requests finished)
/// instead of killing it. Must be called inside a Tokio runtime.
///
/// ```no_run
/// # async fn run(receiver: tradecloud::receiver::Receiver) -> Result<(), tradecloud::receiver::ReceiverError> {
/// let shutdown = tradecloud::receiver::shutdown_signal();
/// eprintln!("listening on https://{}", receiver.local_addr());
/// receiver.run_until(shutdown).await
/// # }
/// ```
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    shutdown_signals().0
}

/// Two futures: the first completes on SIGTERM or Ctrl-C (SIGINT), the
/// second on the next such signal, for
/// [`Receiver::run_until_or_now`]: the operator who presses Ctrl-C twice,
/// or a service manager that signals again, does not wait out the
/// processor's shutdown grace. Once the second future has been awaited,
/// every later signal is logged (one warn line), so that the operator sees
/// it was received even when nothing is left to cut short; what it does
/// cut short (handlers, connections) is said by the lines of those.
///
/// As for [`shutdown_signal`], the signal handlers are in place when this
/// function returns. Must be called inside a Tokio runtime.
///
/// ```no_run
/// # async fn run(receiver: tradecloud::receiver::Receiver) -> Result<(), tradecloud::receiver::ReceiverError> {
/// let (shutdown, again) = tradecloud::receiver::shutdown_signals();
/// eprintln!("listening on https://{}", receiver.local_addr());
/// receiver.run_until_or_now(shutdown, again).await
/// # }
/// ```
pub fn shutdown_signals() -> (
    impl Future<Output = ()> + Send + 'static,
    impl Future<Output = ()> + Send + 'static,
) {
    // How many signals came.
    let (count, counted) = tokio::sync::watch::channel(0u32);
    // Whether the second future was awaited (by `run_until_or_now`): only
    // then does a later signal stop anything at once.
    let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let awaited = armed.clone();
    let received = move |name: &str| {
        count.send_modify(|n| *n = n.saturating_add(1));
        let signals = *count.borrow();
        if signals == 1 {
            tracing::info!("{name} received; shutting down");
        } else if armed.load(std::sync::atomic::Ordering::SeqCst) {
            tracing::warn!(
                signals,
                "{name} received again: the stop no longer waits; handlers still running and \
                 connections still open are cut short (each says so), and with none left the \
                 process ends once its last work is done (such as exporting traces)"
            );
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        // Registering here, eagerly, replaces the default action (exit) at once.
        let mut interrupt = signal(SignalKind::interrupt()).ok();
        let mut terminate = signal(SignalKind::terminate()).ok();
        tokio::spawn(async move {
            async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
                let received = match signal {
                    Some(signal) => signal.recv().await.is_some(),
                    None => false,
                };
                if !received {
                    std::future::pending::<()>().await;
                }
            }
            loop {
                tokio::select! {
                    () = next(&mut interrupt) => received("Ctrl-C"),
                    () = next(&mut terminate) => received("SIGTERM"),
                }
            }
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            received("Ctrl-C");
        }
    });
    let after = |mut counted: tokio::sync::watch::Receiver<u32>, signals: u32| async move {
        if counted.wait_for(|n| *n >= signals).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let again = after(counted.clone(), 2);
    let again = async move {
        awaited.store(true, std::sync::atomic::Ordering::SeqCst);
        again.await
    };
    (after(counted, 1), again)
}

/// The whole application: webhook routes behind authentication, the
/// concurrency limit, the timeout and the panic catcher; the operational
/// endpoints behind the timeout and the panic catcher.
pub(super) fn app(
    config: &Config,
    inbox: Inbox,
    metrics: Metrics,
    authenticator: Authenticator,
    metrics_auth: Option<Authenticator>,
    api_health: Option<super::ApiHealth>,
) -> axum::Router {
    let s = &config.server;
    let webhooks = Arc::new(routes::Webhooks {
        inbox: inbox.clone(),
        metrics: metrics.clone(),
    });
    let webhook_routes = routes::router(webhooks, &s.order_path, &s.shipment_path)
        .layer(DefaultBodyLimit::max(s.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            layers::Front {
                guard: layers::Guard {
                    permits: Some(Arc::new(Semaphore::new(s.max_concurrent_requests))),
                    timeout: Duration::from_secs(s.request_timeout_secs),
                    metrics: Some(metrics.clone()),
                },
                auth: layers::Auth {
                    authenticator: authenticator.clone(),
                    metrics: metrics.clone(),
                    proofs_seen: Arc::default(),
                },
            },
            layers::webhook_front,
        ));
    let ops = ops::router(
        inbox,
        metrics,
        authenticator,
        metrics_auth,
        s.metrics,
        api_health,
    )
    .layer(axum::middleware::from_fn_with_state(
        layers::Guard {
            permits: None,
            timeout: Duration::from_secs(10),
            metrics: None,
        },
        layers::guard,
    ));
    webhook_routes.merge(ops).fallback(ops::not_found)
}
