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
//!
//! # Answers before the body is read
//!
//! A request can be answered before its body is read: `401` (the
//! credentials are checked first), `413`, `415`, `404`, or `503` when the
//! receiver is busy. An HTTP/1.1 client such as Python's `http.client`
//! writes the whole body before it reads anything; had the server closed
//! the connection after answering, the client would get a broken pipe or a
//! reset instead of the answer (and Tradecloud would show a network error
//! instead of `401`). So the unread rest of the body is read and discarded
//! before the answer is sent: at most `server.max_body_bytes` more bytes
//! within `server.request_timeout_secs`; a body beyond that is cut off and
//! the connection closed (`Connection: close`). Not when the client waits
//! for `100 Continue` (it has sent no body yet). The same over HTTP/2: an
//! answer sent while the client still sends the body made curl report a
//! stream error in the framing layer instead of the `401` (issue 23), so
//! the rest of the stream's body is read first, within the same bounds; a
//! body beyond them gets the answer and then its stream is reset (the
//! connection stays).

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use http::header::{HeaderValue, CONNECTION, EXPECT, RETRY_AFTER};
use http::StatusCode;
use hyper::body::{Body as _, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::BufReader;
use tokio::net::TcpListener;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;
use tower_service::Service as _;

use super::layers::RemoteAddr;
use super::metrics::Metrics;

/// Bytes read from a connection's socket at once, below TLS: one system
/// call takes up to 16 KiB of records (a 14 KB event in one read) where
/// rustls alone reads 4 KiB per call. Held for as long as the connection is
/// open (16 MiB at the default `max_connections` of 1,024).
const SOCKET_READ_BUFFER: usize = 16 * 1024;

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
    /// At most this many bytes of a body left unread by an early answer
    /// are read and discarded (HTTP/1.x), ...
    pub drain_max_bytes: usize,
    /// ... within this time.
    pub drain_timeout: Duration,
}

/// The rest of a request body that the application dropped unread.
type Leftover = Arc<Mutex<Option<Incoming>>>;

/// A request body that, when dropped before its end, leaves itself in
/// `leftover`, so that the connection can read and discard the rest before
/// the answer goes out (see the module documentation).
struct Tracked {
    inner: Option<Incoming>,
    leftover: Leftover,
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.inner.as_mut() {
            Some(inner) => Pin::new(inner).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(body) = self.inner.take() {
            if !body.is_end_stream() {
                *self.leftover.lock().unwrap_or_else(|e| e.into_inner()) = Some(body);
            }
        }
    }
}

/// Read and discard `body` to its end: `true` if it ended within the limits.
async fn drain(mut body: Incoming, max_bytes: usize, within: Duration) -> bool {
    let read = async {
        let mut read = 0usize;
        loop {
            match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
                None => return true,
                Some(Ok(frame)) => {
                    read = read.saturating_add(frame.data_ref().map_or(0, Bytes::len));
                    if read > max_bytes {
                        return false;
                    }
                }
                Some(Err(_)) => return false,
            }
        }
    };
    tokio::time::timeout(within, read).await.unwrap_or(false)
}

/// Whether the unread rest of `request`'s body is to be drained before the
/// answer (HTTP/1.x and HTTP/2, unless the client waits for `100 Continue`).
fn drains(request: &http::Request<Incoming>) -> bool {
    let expects_continue = request
        .headers()
        .get(EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    !expects_continue && !request.body().is_end_stream()
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
    let mut response = crate::server::problem(
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
    now: impl Future<Output = ()> + Send,
) {
    let acceptor = TlsAcceptor::from(tls);
    let handshake_failures = super::certificate::HandshakeFailures::register(&metrics);
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
        let handshake_failures = handshake_failures.clone();
        connections.spawn(async move {
            let _slot = slot;
            let _open = metrics.connection_opened();
            let stream = match tokio::time::timeout(
                options.handshake_timeout,
                // rustls reads the socket 4 KiB at a time; a buffer under
                // it turns the four reads of a 14 KB event into one
                // (BENCHMARKS.md, "Kept: a 16 KiB read buffer under TLS").
                acceptor.accept(BufReader::with_capacity(SOCKET_READ_BUFFER, tcp)),
            )
            .await
            {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    handshake_failures.record(remote, Some(&e));
                    return;
                }
                Err(_) => {
                    handshake_failures.record(remote, None);
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
                    let leftover = drains(&request).then(Leftover::default);
                    let mut request = match &leftover {
                        Some(leftover) => request.map(|inner| {
                            Body::new(Tracked {
                                inner: Some(inner),
                                leftover: leftover.clone(),
                            })
                        }),
                        None => request.map(Body::new),
                    };
                    request.extensions_mut().insert(RemoteAddr(remote));
                    normalize(&mut request);
                    let mut app = app.clone();
                    async move {
                        let _in_flight = in_flight;
                        let mut response = if busy {
                            drop(request);
                            busy_response(version)
                        } else {
                            app.call(request).await?
                        };
                        let unread = leftover
                            .and_then(|l| l.lock().unwrap_or_else(|e| e.into_inner()).take());
                        if let Some(body) = unread {
                            if !drain(body, options.drain_max_bytes, options.drain_timeout).await {
                                tracing::debug!(%remote, status = response.status().as_u16(), "request body not read to its end; the answer ends the request");
                                // HTTP/2: the stream is reset after the
                                // answer; the connection stays.
                                if version < http::Version::HTTP_2 {
                                    response
                                        .headers_mut()
                                        .insert(CONNECTION, HeaderValue::from_static("close"));
                                }
                            }
                        }
                        Ok::<_, std::convert::Infallible>(response)
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
    let deadline = tokio::time::sleep(options.shutdown_timeout);
    tokio::pin!(deadline, now);
    loop {
        tokio::select! {
            biased;
            joined = connections.join_next() => {
                if joined.is_none() {
                    tracing::info!("all connections closed");
                    return;
                }
            }
            () = &mut now => {
                tracing::warn!(
                    connections = connections.len(),
                    "asked to stop again (a second SIGTERM or Ctrl-C): closing the remaining connections now; their requests stay unanswered and Tradecloud sends them again"
                );
                break;
            }
            () = &mut deadline => {
                tracing::warn!(
                    timeout_secs = options.shutdown_timeout.as_secs(),
                    "shutdown deadline reached; closing the remaining connections"
                );
                break;
            }
        }
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}
