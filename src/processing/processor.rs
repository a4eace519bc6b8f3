//! The processor loop: find ready events, claim them, run the handler (or the
//! fetch of a trigger) and record the outcome.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;

use super::{Decoded, Fetcher, Handler, HandlerContext, HandlerError, ProcessorConfig};
use crate::inbox::queue::{Fetched, Finish};
use crate::inbox::{from_ms, now_ms, EventKind, Inbox, InboxError, Origin, StoredEvent};

/// What became of one attempt at an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The handler returned `Ok`; the event is `done`.
    Done,
    /// A trigger: the order or shipment was fetched and stored as this event.
    Fetched {
        /// Inbox id of the stored order or shipment.
        event_id: i64,
    },
    /// A transient error; tried again at `next_attempt_at`.
    Retrying {
        /// The error.
        error: String,
        /// When the next attempt is due.
        next_attempt_at: DateTime<Utc>,
    },
    /// A permanent error or no attempts left; the event is `dead`.
    Dead {
        /// The error.
        error: String,
    },
    /// The stored body does not parse; the event is `rejected`.
    Rejected {
        /// The parse error.
        error: String,
    },
    /// An unknown event without a known payload (a replayed `unhandled`
    /// event this version still does not know); the event is `unhandled`.
    Unhandled {
        /// Why it is not handled.
        reason: String,
    },
}

impl Outcome {
    /// `done`, `fetched`, `retrying`, `dead`, `rejected` or `unhandled` (a metrics label).
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Fetched { .. } => "fetched",
            Outcome::Retrying { .. } => "retrying",
            Outcome::Dead { .. } => "dead",
            Outcome::Rejected { .. } => "rejected",
            Outcome::Unhandled { .. } => "unhandled",
        }
    }
}

/// One attempt at an event, for metrics ([`Processor::on_outcome`]).
#[derive(Debug, Clone)]
pub struct OutcomeReport {
    /// Inbox id.
    pub inbox_id: i64,
    /// Order, order documents or shipment.
    pub kind: EventKind,
    /// `eventName`, if known.
    pub event_name: Option<String>,
    /// Which attempt this was (1 = first).
    pub attempt: u32,
    /// What came of it.
    pub outcome: Outcome,
    /// How long the handler (or fetch) took.
    pub elapsed: Duration,
}

type Observer = Arc<dyn Fn(&OutcomeReport) + Send + Sync>;

/// Hands the inbox's events to a [`Handler`]; see the [module docs](super).
pub struct Processor<H> {
    inbox: Inbox,
    handler: H,
    config: ProcessorConfig,
    fetcher: Option<Arc<dyn Fetcher>>,
    extensions: http::Extensions,
    observer: Option<Observer>,
}

impl<H> std::fmt::Debug for Processor<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processor")
            .field("inbox", &self.inbox)
            .field("config", &self.config)
            .field("fetcher", &self.fetcher.is_some())
            .finish_non_exhaustive()
    }
}

struct Shared<H> {
    inbox: Inbox,
    handler: Arc<H>,
    config: ProcessorConfig,
    fetcher: Option<Arc<dyn Fetcher>>,
    extensions: Arc<http::Extensions>,
    observer: Option<Observer>,
    stopping: AtomicBool,
}

impl<H: Handler> Processor<H> {
    /// A processor of `inbox`'s events with `handler`.
    pub fn new(inbox: Inbox, handler: H, config: ProcessorConfig) -> Self {
        Processor {
            inbox,
            handler,
            config,
            fetcher: None,
            extensions: http::Extensions::new(),
            observer: None,
        }
    }

    /// Fetch the whole order or shipment for GET-webhook triggers with this.
    /// Without a fetcher, triggers are dead-lettered ("no fetcher configured")
    /// and can be replayed once one is.
    pub fn with_fetcher(self, fetcher: impl Fetcher) -> Self {
        self.with_shared_fetcher(Arc::new(fetcher))
    }

    /// [`Processor::with_fetcher`] with a shared fetcher.
    pub fn with_shared_fetcher(mut self, fetcher: Arc<dyn Fetcher>) -> Self {
        self.fetcher = Some(fetcher);
        self
    }

    /// Use `client` for GET-webhook triggers (as the [`Fetcher`]) and give it
    /// to handlers as [`HandlerContext::client`].
    pub fn with_client(self, client: crate::client::Client) -> Self {
        self.with_extension(client.clone()).with_fetcher(client)
    }

    /// Make `value` available to handlers as `ctx.extension::<T>()` (e.g. the
    /// API client for document downloads).
    pub fn with_extension<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.extensions.insert(value);
        self
    }

    /// Call `observer` after every attempt (for metrics: outcome and latency).
    pub fn on_outcome(mut self, observer: impl Fn(&OutcomeReport) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Process events until `shutdown` completes, then wait for the handlers
    /// that are running to finish (events they do not finish stay
    /// `processing` and are handled again on the next start).
    ///
    /// On start, events left `processing` by a crash are queued again. While
    /// the store is unavailable the processor waits and tries again.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let shared = Arc::new(Shared {
            inbox: self.inbox,
            handler: Arc::new(self.handler),
            config: self.config,
            fetcher: self.fetcher,
            extensions: Arc::new(self.extensions),
            observer: self.observer,
            stopping: AtomicBool::new(false),
        });
        let poll = shared.config.poll_interval.max(Duration::from_millis(1));
        let concurrency = shared.config.concurrency.max(1);
        tokio::pin!(shutdown);

        loop {
            match shared.inbox.reset_processing().await {
                Ok(0) => break,
                Ok(n) => {
                    tracing::info!(
                        events = n,
                        "events interrupted by a restart are queued again"
                    );
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reset interrupted events; trying again");
                    tokio::select! {
                        _ = &mut shutdown => return,
                        _ = tokio::time::sleep(poll) => {}
                    }
                }
            }
        }

        let mut tasks: JoinSet<()> = JoinSet::new();
        loop {
            let mut wait = poll;
            let free = concurrency - tasks.len();
            if free > 0 {
                match schedule(&shared, free, &mut tasks).await {
                    Ok(started) if started == free => wait = Duration::ZERO,
                    Ok(_) => {
                        if let Ok(Some(at)) = shared.inbox.next_retry_at().await {
                            let due =
                                Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0));
                            wait = wait.min(due).max(Duration::from_millis(10));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the inbox queue; trying again")
                    }
                }
            }
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Err(e) = done {
                        tracing::error!(error = %e, "event task failed");
                    }
                }
                _ = shared.inbox.inner.changed.notified() => {}
                _ = tokio::time::sleep(wait), if !wait.is_zero() => {}
            }
        }

        shared.stopping.store(true, Ordering::SeqCst);
        if !tasks.is_empty() {
            tracing::info!(
                events = tasks.len(),
                "waiting for running handlers to finish"
            );
        }
        while let Some(done) = tasks.join_next().await {
            if let Err(e) = done {
                tracing::error!(error = %e, "event task failed");
            }
        }
    }
}

/// Start up to `free` ready events; returns how many were started.
async fn schedule<H: Handler>(
    shared: &Arc<Shared<H>>,
    free: usize,
    tasks: &mut JoinSet<()>,
) -> Result<usize, InboxError> {
    let ready = shared.inbox.next_ready(free, now_ms()).await?;
    if ready.is_empty() {
        return Ok(0);
    }
    let claimed = shared
        .inbox
        .claim(ready.iter().map(|e| e.summary.id).collect())
        .await?;
    let mut started = 0;
    for event in ready {
        if claimed.contains(&event.summary.id) {
            let attempt = event.summary.attempts.saturating_add(1);
            tasks.spawn(process(shared.clone(), event, attempt));
            started += 1;
        }
    }
    Ok(started)
}

async fn process<H: Handler>(shared: Arc<Shared<H>>, stored: StoredEvent, attempt: u32) {
    let start = Instant::now();
    let id = stored.summary.id;
    let outcome = if stored.summary.origin == Origin::Trigger {
        fetch(&shared, &stored, attempt).await
    } else {
        match super::decode_stored(&stored, attempt) {
            Err(error) => Outcome::Rejected { error },
            Ok(Decoded::Unhandled(reason)) => Outcome::Unhandled { reason },
            Ok(Decoded::Event(event)) => {
                let ctx = HandlerContext {
                    inbox: shared.inbox.clone(),
                    inbox_id: id,
                    fetcher: shared.fetcher.clone(),
                    extensions: shared.extensions.clone(),
                };
                let handler = shared.handler.clone();
                // A task of its own, so that a panicking handler is an error
                // for this event, not the end of the processor.
                let result = tokio::spawn(async move { handler.handle(event, &ctx).await }).await;
                match result {
                    Ok(Ok(())) => Outcome::Done,
                    Ok(Err(e)) => failure(&shared.config, e, attempt),
                    Err(join) => failure(
                        &shared.config,
                        HandlerError::Transient(join_error_text(join)),
                        attempt,
                    ),
                }
            }
        }
    };
    let elapsed = start.elapsed();
    let finish = match &outcome {
        Outcome::Done => Some(Finish::Done),
        Outcome::Fetched { .. } => None,
        Outcome::Retrying {
            error,
            next_attempt_at,
        } => Some(Finish::Retry {
            error: error.clone(),
            at_ms: next_attempt_at.timestamp_millis(),
        }),
        Outcome::Dead { error } => Some(Finish::Dead {
            error: error.clone(),
        }),
        Outcome::Rejected { error } => Some(Finish::Rejected {
            error: error.clone(),
        }),
        Outcome::Unhandled { reason } => Some(Finish::Unhandled {
            reason: reason.clone(),
        }),
    };
    if let Some(finish) = finish {
        record(&shared, id, finish).await;
    }
    let s = &stored.summary;
    match &outcome {
        Outcome::Done => tracing::debug!(id, attempt, ?elapsed, "event handled"),
        Outcome::Fetched { event_id } => tracing::info!(id, attempt, event_id, "trigger fetched"),
        Outcome::Retrying {
            error,
            next_attempt_at,
        } => {
            tracing::warn!(id, attempt, %error, next_attempt_at = %next_attempt_at, "event will be retried")
        }
        Outcome::Dead { error } => tracing::error!(id, attempt, %error, "event dead-lettered"),
        Outcome::Rejected { error } => {
            tracing::error!(id, %error, "stored event does not parse; rejected")
        }
        Outcome::Unhandled { reason } => {
            tracing::warn!(id, %reason, "stored event is still unknown; unhandled")
        }
    }
    if let Some(observer) = &shared.observer {
        observer(&OutcomeReport {
            inbox_id: id,
            kind: s.kind,
            event_name: s.event_name.clone(),
            attempt,
            outcome,
            elapsed,
        });
    }
}

/// Fetch the order or shipment of a trigger and store it as a new event.
async fn fetch<H: Handler>(shared: &Shared<H>, stored: &StoredEvent, attempt: u32) -> Outcome {
    let s = &stored.summary;
    let Some(fetcher) = &shared.fetcher else {
        return Outcome::Dead {
            error: "GET-webhook trigger: no fetcher configured to fetch the object".into(),
        };
    };
    let Some(object_id) = s.object_id.as_deref() else {
        return Outcome::Dead {
            error: "GET-webhook trigger without an order or shipment id".into(),
        };
    };
    let fetched = match s.kind {
        EventKind::Order | EventKind::OrderDocuments => fetcher.fetch_order(object_id).await,
        EventKind::Shipment => fetcher.fetch_shipment(object_id).await,
    };
    match fetched {
        Err(e) => failure(&shared.config, e, attempt),
        Ok(body) => {
            let what = match s.kind {
                EventKind::Shipment => "shipment",
                _ => "order",
            };
            let fetched = Fetched {
                kind: if s.kind == EventKind::Shipment {
                    EventKind::Shipment
                } else {
                    EventKind::Order
                },
                event_name: s.event_name.clone(),
                object_id: Some(object_id.to_string()),
                body,
                source: format!("fetched {what} for trigger {}", s.id),
            };
            match shared.inbox.complete_trigger(s.id, fetched).await {
                Ok(event_id) => Outcome::Fetched { event_id },
                Err(e) => failure(
                    &shared.config,
                    HandlerError::Transient(format!("storing the fetched {what}: {e}")),
                    attempt,
                ),
            }
        }
    }
}

fn failure(config: &ProcessorConfig, error: HandlerError, attempt: u32) -> Outcome {
    match error {
        HandlerError::Permanent(error) => Outcome::Dead { error },
        HandlerError::Transient(error) if attempt >= config.max_attempts.max(1) => Outcome::Dead {
            error: format!("{error} (gave up after {attempt} attempts)"),
        },
        HandlerError::Transient(error) => {
            let delay = config.backoff(attempt);
            let at =
                now_ms().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2));
            Outcome::Retrying {
                error,
                next_attempt_at: from_ms(at),
            }
        }
    }
}

fn join_error_text(join: tokio::task::JoinError) -> String {
    if join.is_panic() {
        let panic = join.into_panic();
        let text = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into());
        format!("handler panicked: {text}")
    } else {
        "handler task was cancelled".into()
    }
}

/// Record an outcome, retrying while the store is unavailable. At shutdown
/// it gives up: the event stays `processing` and is handled again after the
/// restart (at-least-once).
async fn record<H>(shared: &Shared<H>, id: i64, finish: Finish) {
    let mut delay = Duration::from_millis(50);
    loop {
        match shared.inbox.finish(id, finish.clone()).await {
            Ok(()) => return,
            Err(e) => {
                if shared.stopping.load(Ordering::SeqCst) {
                    tracing::warn!(id, error = %e, "cannot record the outcome at shutdown; the event will be handled again");
                    return;
                }
                tracing::warn!(id, error = %e, "cannot record the outcome; trying again");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
