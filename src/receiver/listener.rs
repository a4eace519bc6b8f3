//! The HTTPS listener (the accept loop; not to be confused with
//! [`crate::server`], the runtime of the generated server stubs): accepts
//! TCP connections, admits them under the connection limits, completes the
//! TLS handshake (rustls), serves HTTP/1.1 and HTTP/2 with hyper, closes
//! idle connections, and shuts down
//! gracefully: on the shutdown signal it stops accepting, lets in-flight
//! requests finish (HTTP/1.1 connections close after their current
//! response, HTTP/2 ones get a GOAWAY), and gives up after a deadline.
//!
//! # Connection limits
//!
//! `server.max_connections` in all and `server.max_connections_per_ip` per
//! client address are served normally. A connection over either limit is
//! not refused outright: Tradecloud's documentation promises a retry for
//! answers above 500, not for a refused connection. It is answered `503`
//! with `Retry-After` after the TLS handshake (cheap with the ECDSA or RSA
//! certificates in use), without reading the body, and closed. Only when
//! even those overflow connections pile up (a flood: more than
//! [`overflow_limit`] of them at once) are further connections closed
//! right after `accept`, before any TLS work.
//!
//! # Timeouts
//!
//! A connection must finish its TLS handshake within
//! `server.handshake_timeout_secs` and send its first request headers within
//! `server.header_read_timeout_secs` (hyper times the headers of later
//! requests itself), and it is closed when no request has been in flight
//! for `server.idle_timeout_secs` (HTTP/2 as well). So a slowloris client
//! cannot hold a slot for longer than those timeouts.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use http::header::{HeaderValue, CONNECTION, RETRY_AFTER};
use http::StatusCode;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tower_service::Service as _;

use super::layers::RemoteAddr;
use super::metrics::Metrics;

/// Timeouts and limits of the connection handling.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServeOptions {
    pub handshake_timeout: Duration,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub max_connections: usize,
    /// 0: no limit per address.
    pub max_connections_per_ip: usize,
}

/// Connections over the limits that are still answered `503` (after the
/// TLS handshake) at the same time; beyond this they are closed at once.
pub fn overflow_limit(max_connections: usize) -> usize {
    (max_connections / 4).max(64)
}

/// `/tradecloud/order/` is routed as `/tradecloud/order`.
fn normalize(request: &mut http::Request<Body>) {
    let path = request.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let rebuilt = match request.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        if let Ok(pq) = rebuilt.parse::<http::uri::PathAndQuery>() {
            let mut parts = request.uri().clone().into_parts();
            parts.path_and_query = Some(pq);
            if let Ok(uri) = http::Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
}

/// How a new connection is treated.
enum Admission {
    /// Within the limits: served.
    Serve(Slot),
    /// Over a limit: every request answered `503` + `Retry-After`, then closed.
    Busy(Slot),
    /// A flood: closed before TLS.
    Close,
}

#[derive(Default)]
struct Counts {
    served: usize,
    busy: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Open connections, in all and per client address.
struct Admissions {
    max: usize,
    max_per_ip: usize,
    max_busy: usize,
    counts: Mutex<Counts>,
}

impl Admissions {
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Admission {
        let ip = ip.to_canonical();
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let of_ip = counts.per_ip.get(&ip).copied().unwrap_or(0);
        if counts.served < self.max && (self.max_per_ip == 0 || of_ip < self.max_per_ip) {
            counts.served += 1;
            *counts.per_ip.entry(ip).or_insert(0) += 1;
            Admission::Serve(Slot {
                admissions: self.clone(),
                ip: Some(ip),
            })
        } else if counts.busy < self.max_busy {
            counts.busy += 1;
            Admission::Busy(Slot {
                admissions: self.clone(),
                ip: None,
            })
        } else {
            Admission::Close
        }
    }
}

/// An admitted connection; released when dropped.
struct Slot {
    admissions: Arc<Admissions>,
    /// `Some` for a served connection, `None` for a busy one.
    ip: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self
            .admissions
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match self.ip {
            Some(ip) => {
                counts.served = counts.served.saturating_sub(1);
                if let Some(n) = counts.per_ip.get_mut(&ip) {
                    *n -= 1;
                    if *n == 0 {
                        counts.per_ip.remove(&ip);
                    }
                }
            }
            None => counts.busy = counts.busy.saturating_sub(1),
        }
    }
}

/// What a connection is doing, for the idle check.
#[derive(Default)]
struct Activity {
    requests: AtomicU64,
    in_flight: AtomicUsize,
    /// Milliseconds since the connection started, at the last request start or end.
    last_ms: AtomicU64,
    /// Notified when a request ends (the idle deadline moves).
    ended: tokio::sync::Notify,
}

/// Counts a request in flight; updates the activity when dropped.
struct InFlight {
    activity: Arc<Activity>,
    started: Instant,
}

impl InFlight {
    fn new(activity: &Arc<Activity>, started: Instant) -> Self {
        activity.requests.fetch_add(1, Ordering::SeqCst);
        activity.in_flight.fetch_add(1, Ordering::SeqCst);
        activity.touch(started);
        InFlight {
            activity: activity.clone(),
            started,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.activity.touch(self.started);
        self.activity.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.activity.ended.notify_one();
    }
}

impl Activity {
    fn touch(&self, started: Instant) {
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::SeqCst);
    }

    /// When the connection counts as idle, or `None` while a request is in flight.
    fn idle_deadline(&self, started: Instant, options: &ServeOptions) -> Option<Instant> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let limit = if self.requests.load(Ordering::SeqCst) == 0 {
            options.header_read_timeout
        } else {
            options.idle_timeout
        };
        Some(started + Duration::from_millis(self.last_ms.load(Ordering::SeqCst)) + limit)
    }
}

/// The answer on a connection over the limits.
fn busy_response(version: http::Version) -> http::Response<Body> {
    let mut response = super::routes::problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "the receiver has too many connections; send it again later",
        None,
    );
    let headers = response.headers_mut();
    headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
    if version < http::Version::HTTP_2 {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Serve `app` over TLS on `listener` until `shutdown` completes, then
/// drain the connections.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: axum::Router,
    options: ServeOptions,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send,
) {
    let acceptor = TlsAcceptor::from(tls);
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256);
    let builder = Arc::new(builder);
    let admissions = Arc::new(Admissions {
        max: options.max_connections.max(1),
        max_per_ip: options.max_connections_per_ip,
        max_busy: overflow_limit(options.max_connections),
        counts: Mutex::default(),
    });
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        while connections.try_join_next().is_some() {}
        let (slot, busy) = match admissions.admit(remote.ip()) {
            Admission::Serve(slot) => (slot, false),
            Admission::Busy(slot) => {
                metrics.connection_limited("answered_503");
                tracing::warn!(%remote, "connection limit reached; answering 503 on this connection");
                (slot, true)
            }
            Admission::Close => {
                metrics.connection_limited("closed");
                tracing::warn!(%remote, "connection limit reached and overflow full; closing before TLS");
                drop(tcp);
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        let builder = builder.clone();
        let mut stopping = stopping.clone();
        let metrics = metrics.clone();
        connections.spawn(async move {
            let _slot = slot;
            let _open = metrics.connection_opened();
            let stream = match tokio::time::timeout(
                options.handshake_timeout,
                acceptor.accept(tcp),
            )
            .await
            {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(%remote, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%remote, "TLS handshake timed out");
                    return;
                }
            };
            let started = Instant::now();
            let activity = Arc::new(Activity::default());
            let service = {
                let activity = activity.clone();
                hyper::service::service_fn(move |request: http::Request<Incoming>| {
                    let in_flight = InFlight::new(&activity, started);
                    let version = request.version();
                    let mut request = request.map(Body::new);
                    request.extensions_mut().insert(RemoteAddr(remote));
                    normalize(&mut request);
                    let mut app = app.clone();
                    async move {
                        let _in_flight = in_flight;
                        if busy {
                            Ok(busy_response(version))
                        } else {
                            app.call(request).await
                        }
                    }
                })
            };
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            tokio::pin!(connection);
            let mut closing = false;
            loop {
                // A busy connection closes as soon as its request is answered.
                let idle_at = if busy && activity.requests.load(Ordering::SeqCst) > 0 {
                    activity.idle_deadline(started, &options).map(|_| Instant::now())
                } else {
                    activity.idle_deadline(started, &options)
                };
                let check_at = idle_at.unwrap_or_else(|| Instant::now() + options.idle_timeout);
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(%remote, error = %e, "connection ended with an error");
                        }
                        return;
                    }
                    _ = stopping.wait_for(|s| *s), if !closing => {
                        closing = true;
                        connection.as_mut().graceful_shutdown();
                    }
                    () = activity.ended.notified(), if !closing => {}
                    () = tokio::time::sleep_until(check_at.into()), if !closing => {
                        if idle_at.is_some_and(|t| t <= Instant::now())
                            && activity.in_flight.load(Ordering::SeqCst) == 0
                        {
                            tracing::debug!(%remote, requests = activity.requests.load(Ordering::SeqCst), "closing an idle connection");
                            closing = true;
                            connection.as_mut().graceful_shutdown();
                        }
                    }
                }
            }
        });
    }
    drop(listener);
    tracing::info!("no longer accepting connections; finishing in-flight requests");
    let _ = stop.send(true);
    let drained = tokio::time::timeout(options.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    match drained {
        Ok(()) => tracing::info!("all connections closed"),
        Err(_) => {
            tracing::warn!(
                timeout_secs = options.shutdown_timeout.as_secs(),
                "shutdown deadline reached; closing the remaining connections"
            );
            connections.abort_all();
            while connections.join_next().await.is_some() {}
        }
    }
}
