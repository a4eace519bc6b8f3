//! The processor: a claim loop, handler tasks and a finisher.
//!
//! * The **claim loop** keeps up to `concurrency` runs (see
//!   [`crate::inbox::queue`]) claimed ahead of the handlers, claiming many
//!   heads in one commit, and renews the leases of everything it holds every
//!   third of the lease.
//! * A **handler task** per run hands its events to the handler one at a
//!   time, in order, and passes the outcomes on; it stops at the first event
//!   that must be retried (later events of that object wait for it) and
//!   gives the rest back.
//! * The **finisher** records the outcomes of every run that ended since its
//!   last commit in one transaction, then frees the runs' objects for the
//!   next claim. So no commit waits inside a handler slot, and a run of many
//!   events costs two commits.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;
use tracing::Instrument as _;

use super::{
    Decoded, Fetcher, Handler, HandlerContext, HandlerError, Outcome, OutcomeReport,
    ProcessorConfig,
};
use crate::inbox::queue::{
    ClaimRequest, Claimed, Fetched, Finish, RunOutcome, INTERRUPTED_PENDING_ERROR,
    INTERRUPTED_TOGETHER_ERROR, LEASE_RAN_OUT_ERROR, LEASE_RAN_OUT_HERE_ERROR,
};
use crate::inbox::{now_ms, AttemptOutcome, EventKind, Inbox, Origin, StoredEvent};

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
    /// This processor's claims: the key of every run claimed and not yet
    /// finished (committed).
    held: Mutex<HashSet<String>>,
    /// Who claims: random per run of the processor.
    owner: String,
    /// Notified when the finisher committed (objects freed).
    finished: Notify,
    /// Taken for reading around every event handed on, for writing around
    /// one whose earlier claim was interrupted: that one runs alone, so if
    /// the process dies meanwhile, it is the one that was running.
    alone: tokio::sync::RwLock<()>,
    /// Set once the shutdown grace has passed: running handlers (and
    /// fetches) are cancelled and their events released uncounted.
    cancel: tokio::sync::watch::Sender<bool>,
}

impl<H> Shared<H> {
    /// Completes once running handlers are to be cancelled (see `cancel`).
    async fn cancelled(&self) {
        let mut cancel = self.cancel.subscribe();
        let _ = cancel.wait_for(|cancel| *cancel).await;
    }
}

/// What a claim asked for, what it got, and (when it got less) how long
/// until the next head is due.
type ClaimResult = (
    usize,
    Result<Vec<Run>, crate::inbox::InboxError>,
    Option<Duration>,
);

/// A claimed run with the `tradecloud.claim` span of each of its events
/// (ended when a handler takes the event).
struct Run {
    claimed: Claimed,
    spans: Vec<tracing::Span>,
}

/// A run whose handling ended, on its way to the finisher.
struct RunDone {
    outcome: RunOutcome,
    reports: Vec<OutcomeReport>,
    /// Told once the outcome is committed (or given up on).
    committed: Option<tokio::sync::oneshot::Sender<()>>,
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

    /// Call `observer` after every attempt whose outcome is committed (for
    /// metrics: outcome and latency).
    pub fn on_outcome(mut self, observer: impl Fn(&OutcomeReport) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Process events until `shutdown` completes, then let the running
    /// handlers finish their current event, for up to
    /// [`ProcessorConfig::shutdown_grace`], and record the outcomes. Events
    /// not handed on yet go back to the queue; handlers still running after
    /// the grace are cancelled (logged at `warn` with each event's id) and
    /// their events go back too, no attempt counted: the next start (SQLite)
    /// or any instance (PostgreSQL) hands them on again. An event that was
    /// to run alone after an interruption keeps that standing.
    ///
    /// On start (SQLite), claims left by a crash are released. While the
    /// store is unavailable the processor waits and tries again.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        self.run_with_stop_now(shutdown, std::future::pending())
            .await
    }

    /// [`Processor::run`], with a second way to stop: when `now` completes
    /// (a second SIGTERM or Ctrl-C, say) after `shutdown`, the shutdown
    /// grace ends at once: handlers still running are cancelled and their
    /// events go back to the queue uncounted, as when the grace runs out.
    /// `now` completing first stops as `shutdown` and then at once.
    pub async fn run_with_stop_now(
        self,
        shutdown: impl Future<Output = ()> + Send,
        now: impl Future<Output = ()> + Send,
    ) {
        self.inbox.open_handoff();
        let shared = Arc::new(Shared {
            inbox: self.inbox,
            handler: Arc::new(self.handler),
            config: self.config,
            fetcher: self.fetcher,
            extensions: Arc::new(self.extensions),
            observer: self.observer,
            stopping: AtomicBool::new(false),
            held: Mutex::new(HashSet::new()),
            owner: format!("{:016x}", fastrand::u64(..)),
            finished: Notify::new(),
            alone: tokio::sync::RwLock::new(()),
            cancel: tokio::sync::watch::Sender::new(false),
        });
        let poll = shared.config.poll_interval.max(Duration::from_millis(1));
        tokio::pin!(shutdown);
        tokio::pin!(now);
        // Whether `now` completed (it is not polled again then).
        let mut at_once = false;

        loop {
            match shared.inbox.recover().await {
                Ok(0) => break,
                Ok(n) => {
                    tracing::info!(
                        objects = n,
                        "events interrupted by a restart are queued again"
                    );
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reset interrupted events; trying again");
                    tokio::select! {
                        _ = &mut shutdown => return,
                        _ = &mut now => return,
                        _ = tokio::time::sleep(poll) => {}
                    }
                }
            }
        }

        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let finisher = tokio::spawn(finisher(shared.clone(), done_rx));
        let mut pending: VecDeque<Run> = VecDeque::new();
        let mut tasks: JoinSet<()> = JoinSet::new();
        let concurrency = shared.config.concurrency.max(1);
        let lease = shared.config.lease.max(Duration::from_secs(1));
        let mut renew = tokio::time::interval(lease / 3);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let changed = shared.inbox.changed();

        // Runs claimed ahead of the handlers: enough that the handlers never
        // wait for a claim's commit, which runs beside them.
        let ahead = 8 * concurrency;
        let mut claiming: Option<tokio::task::JoinHandle<ClaimResult>> = None;
        // After a claim that found less than it asked for: claim again when
        // something changes, or at this time (a retry or lease coming due).
        let mut idle_until: Option<tokio::time::Instant> = None;
        loop {
            while tasks.len() < concurrency {
                let Some(run) = pending.pop_front() else {
                    break;
                };
                tasks.spawn(handle_run(shared.clone(), run, done_tx.clone()));
            }
            let wanted = ahead.saturating_sub(pending.len() + tasks.len());
            if claiming.is_none() && idle_until.is_none() && wanted >= concurrency.min(ahead / 2) {
                let shared = shared.clone();
                claiming = Some(tokio::spawn(async move {
                    let claimed = claim(&shared, wanted).await;
                    let due = match &claimed {
                        Ok(c) if c.len() < wanted => shared.inbox.next_due().await.ok().flatten(),
                        _ => None,
                    };
                    (wanted, claimed, due)
                }));
            }
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                _ = &mut now => {
                    at_once = true;
                    break;
                }
                claimed = async { claiming.as_mut().expect("a claim in flight").await }, if claiming.is_some() => {
                    claiming = None;
                    match claimed {
                        Ok((wanted, Ok(claimed), due)) => {
                            if claimed.len() < wanted {
                                let wait = due.map_or(poll, |due| due.min(poll)).max(Duration::from_millis(5));
                                idle_until = Some(tokio::time::Instant::now() + wait);
                            }
                            pending.extend(claimed);
                        }
                        Ok((_, Err(e), _)) => {
                            tracing::warn!(error = %e, "cannot claim events from the inbox; trying again");
                            idle_until = Some(tokio::time::Instant::now() + poll);
                        }
                        Err(e) => tracing::error!(error = %e, "claim task failed"),
                    }
                }
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Err(e) = done {
                        tracing::error!(error = %e, "event task failed");
                    }
                }
                _ = renew.tick() => renew_leases(&shared).await,
                _ = changed.notified() => idle_until = None,
                _ = shared.finished.notified() => idle_until = None,
                _ = tokio::time::sleep_until(idle_until.unwrap_or_else(tokio::time::Instant::now)), if idle_until.is_some() => {
                    idle_until = None;
                }
            }
        }

        // A claim still in flight: its runs go back with the others.
        if let Some(claim) = claiming.take() {
            if let Ok((_, Ok(claimed), _)) = claim.await {
                pending.extend(claimed);
            }
        }
        shared.stopping.store(true, Ordering::SeqCst);
        // Runs claimed but not started go back at once (another instance
        // need not wait for their lease).
        for Run { claimed: run, .. } in pending.drain(..) {
            let outcome = RunOutcome {
                events: run
                    .events
                    .iter()
                    .map(|e| (e.summary.id, released(&run, e)))
                    .collect(),
                key: run.key,
                marked: Vec::new(),
            };
            let _ = done_tx.send(RunDone {
                outcome,
                reports: Vec::new(),
                committed: None,
            });
        }
        let grace = shared.config.shutdown_grace;
        if !tasks.is_empty() {
            tracing::info!(
                runs = tasks.len(),
                ?grace,
                "waiting for running handlers to finish"
            );
        }
        // The leases are renewed all along: a lease that ran out during the
        // grace (lease_secs below the grace, or the last renewal long
        // before the stop) let another instance hand on an event that a
        // handler here still ran, and blame this stop on it as a lease
        // that ran out. Each renewal is bounded by the time left in the
        // grace (and raced with a stop at once): with the database
        // unreachable, it would otherwise wait out its connect timeout past
        // the grace's end.
        let deadline = tokio::time::Instant::now() + grace;
        let ended = join_renewing(
            &mut tasks,
            &mut renew,
            || tokio::time::timeout_at(deadline, renew_leases(&shared)),
            async {
                if at_once {
                    return GraceEnd::Now;
                }
                tokio::select! {
                    biased;
                    () = &mut now => GraceEnd::Now,
                    () = tokio::time::sleep_until(deadline) => GraceEnd::RanOut,
                }
            },
        )
        .await;
        match ended {
            None => {}
            Some(GraceEnd::RanOut) => tracing::warn!(
                runs = tasks.len(),
                ?grace,
                "handlers still running after the shutdown grace are cancelled; their events go back to the queue uncounted"
            ),
            Some(GraceEnd::Now) => tracing::warn!(
                runs = tasks.len(),
                "asked to stop again (a second SIGTERM or Ctrl-C): handlers still running are cancelled now; their events go back to the queue uncounted"
            ),
        }
        if ended.is_some() {
            shared.cancel.send_replace(true);
            // No more renewals: a cancelled handler ends at its next await,
            // and its events go back (or, the store unreachable, their
            // leases run out).
            while let Some(done) = tasks.join_next().await {
                if let Err(e) = done {
                    tracing::error!(error = %e, "event task failed");
                }
            }
        }
        drop(done_tx);
        let _ = finisher.await;
    }
}

/// How the shutdown grace ended before the handlers did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GraceEnd {
    /// It ran out.
    RanOut,
    /// A stop at once was asked for.
    Now,
}

/// Wait for every task in `tasks` to end, calling `renew` at every tick of
/// `renewals` meanwhile; `None` once they all ended, `Some` with `until`'s
/// output if it completed first (also while a renewal was under way).
async fn join_renewing<R: Future, T>(
    tasks: &mut JoinSet<()>,
    renewals: &mut tokio::time::Interval,
    mut renew: impl FnMut() -> R,
    until: impl Future<Output = T>,
) -> Option<T> {
    tokio::pin!(until);
    loop {
        tokio::select! {
            biased;
            done = tasks.join_next() => match done {
                None => return None,
                Some(Err(e)) => tracing::error!(error = %e, "event task failed"),
                Some(Ok(())) => {}
            },
            ended = &mut until => return Some(ended),
            _ = renewals.tick() => {
                tokio::select! {
                    biased;
                    ended = &mut until => return Some(ended),
                    _ = renew() => {}
                }
            }
        }
    }
}

async fn claim<H>(shared: &Shared<H>, heads: usize) -> Result<Vec<Run>, crate::inbox::InboxError> {
    let started = Instant::now();
    let claimed = shared
        .inbox
        .claim(ClaimRequest {
            owner: shared.owner.clone(),
            heads,
            run_limit: shared.config.batch.max(1),
            lease: shared.config.lease.max(Duration::from_secs(1)),
            held: None,
        })
        .await?;
    {
        let mut held = shared.held.lock().unwrap_or_else(|e| e.into_inner());
        held.extend(claimed.iter().map(|c| c.key.clone()));
    }
    let claim_ms = started.elapsed().as_secs_f64() * 1000.0;
    let events: usize = claimed.iter().map(|c| c.events.len()).sum();
    Ok(claimed
        .into_iter()
        .map(|claimed| Run {
            spans: claimed
                .events
                .iter()
                .map(|event| super::spans::claim(event, events, claim_ms))
                .collect(),
            claimed,
        })
        .collect())
}

async fn renew_leases<H>(shared: &Shared<H>) {
    let keys: Vec<String> = {
        let held = shared.held.lock().unwrap_or_else(|e| e.into_inner());
        held.iter().cloned().collect()
    };
    if let Err(e) = shared
        .inbox
        .renew(shared.owner.clone(), keys, shared.config.lease)
        .await
    {
        tracing::warn!(error = %e, "cannot renew the leases of the events being handled");
    }
}

/// Record outcomes in batches until every sender is gone.
async fn finisher<H>(shared: Arc<Shared<H>>, mut rx: mpsc::UnboundedReceiver<RunDone>) {
    let mut batch: Vec<RunDone> = Vec::new();
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < 1024 {
            match rx.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        let runs: Vec<RunOutcome> = batch.iter().map(|d| d.outcome.clone()).collect();
        let mut delay = Duration::from_millis(50);
        let finished = loop {
            match shared
                .inbox
                .finish(shared.owner.clone(), runs.clone())
                .await
            {
                Ok(finished) => break Some(finished),
                Err(e) => {
                    if shared.stopping.load(Ordering::SeqCst) && rx.is_closed() {
                        tracing::warn!(error = %e, runs = runs.len(), "cannot record outcomes at shutdown; the events will be handled again");
                        break None;
                    }
                    tracing::warn!(error = %e, runs = runs.len(), "cannot record outcomes; trying again");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        };
        {
            let mut held = shared.held.lock().unwrap_or_else(|e| e.into_inner());
            for run in &runs {
                held.remove(&run.key);
            }
        }
        for done in &mut batch {
            if let Some(committed) = done.committed.take() {
                let _ = committed.send(());
            }
        }
        shared.finished.notify_one();
        let Some(finished) = finished else {
            batch.clear();
            continue;
        };
        for key in &finished.lost {
            tracing::warn!(
                key,
                "the lease of these events passed to another instance; their outcomes were not recorded"
            );
        }
        let fetched: HashMap<i64, i64> = finished.fetched.into_iter().collect();
        for done in batch.drain(..) {
            if finished.lost.contains(&done.outcome.key) {
                continue;
            }
            for mut report in done.reports {
                if let Outcome::Fetched { event_id } = &mut report.outcome {
                    *event_id = fetched.get(&report.inbox_id).copied().unwrap_or(0);
                    tracing::info!(
                        id = report.inbox_id,
                        event_id = *event_id,
                        "trigger fetched"
                    );
                }
                if let Some(observer) = &shared.observer {
                    observer(&report);
                }
            }
        }
    }
}

/// Hand a run's events to the handler one at a time, in order.
async fn handle_run<H: Handler>(
    shared: Arc<Shared<H>>,
    Run {
        claimed: mut run,
        spans,
    }: Run,
    done: mpsc::UnboundedSender<RunDone>,
) {
    let mut events = Vec::with_capacity(run.events.len());
    let mut reports = Vec::with_capacity(run.events.len());
    let mut marked = Vec::new();
    // Held from before an event handed on alone is marked until its
    // outcome is committed: should the process die in between, no other
    // event has run meanwhile, and none dies with a mark of its own left.
    let mut alone = None;
    let mut stop = false;
    let mut claim_spans = spans.into_iter();
    for stored in std::mem::take(&mut run.events) {
        let id = stored.summary.id;
        // The claim ends where handling starts (or the event goes back).
        drop(claim_spans.next());
        if stop || shared.stopping.load(Ordering::SeqCst) {
            events.push((id, released(&run, &stored)));
            continue;
        }
        // A trigger's fetch runs no code of the user's: never blamed.
        let interrupted = run.interrupted.contains(&id) && stored.summary.origin != Origin::Trigger;
        // Running in a handler when its claim was interrupted: alone. An
        // interrupted event that may never have reached a handler (claimed
        // ahead of the handlers, as most of a crashed process's events
        // were) runs with the others, marked, so that only the events that
        // were in a handler when the process stopped again run alone.
        let suspect = interrupted && run.suspects.contains(&id);
        let handled = if suspect {
            // The claim's pending row goes with the outcome (see
            // `INTERRUPTED_PENDING_ERROR`), whatever the outcome.
            if !marked.contains(&id) {
                marked.push(id);
            }
            // A run holds at most one such event (`run_of`); taken once
            // all the same, as a second write (or a read below) in the
            // run that holds it would wait for itself.
            if alone.is_none() {
                alone = Some(shared.alone.write().await);
            }
            if shared.stopping.load(Ordering::SeqCst) {
                events.push((id, released(&run, &stored)));
                continue;
            }
            tracing::warn!(
                id,
                attempt = stored.summary.attempts,
                "handing on alone an event that was being handled when the process died (or lost its lease); \
                 should the process die again now, this event is blamed"
            );
            match interrupted_too_often(&shared, &stored).await {
                Some(outcome) => {
                    let finish = outcome.finish();
                    Some((outcome, finish, Duration::ZERO))
                }
                None => {
                    if !mark(&shared, id, true, &mut marked).await {
                        events.push((id, Finish::Release));
                        stop = true;
                        continue;
                    }
                    handle_event(&shared, &stored).await
                }
            }
        } else {
            let _turn = match alone {
                Some(_) => None,
                None => Some(shared.alone.read().await),
            };
            if interrupted && !mark(&shared, id, false, &mut marked).await {
                events.push((id, Finish::Release));
                stop = true;
                continue;
            }
            handle_event(&shared, &stored).await
        };
        let Some((outcome, finish, elapsed)) = handled else {
            // Cancelled at the end of the shutdown grace: our stop, not the
            // event's fault.
            tracing::warn!(
                id,
                attempt = stored.summary.attempts,
                "the handler was still running when the shutdown grace ended; cancelled, the event goes back to the queue, no attempt counted"
            );
            events.push((id, released(&run, &stored)));
            stop = true;
            continue;
        };
        stop = matches!(outcome, Outcome::Retrying { .. });
        events.push((id, finish));
        let s = &stored.summary;
        reports.push(OutcomeReport {
            inbox_id: id,
            kind: s.kind,
            origin: s.origin,
            event_name: s.event_name.clone(),
            attempt: s.attempts,
            outcome,
            elapsed,
        });
    }
    let (committed, is_committed) = match alone {
        Some(_) => {
            let (tx, rx) = tokio::sync::oneshot::channel();
            (Some(tx), Some(rx))
        }
        None => (None, None),
    };
    let _ = done.send(RunDone {
        outcome: RunOutcome {
            key: run.key,
            events,
            marked,
        },
        reports,
        committed,
    });
    if let Some(mut is_committed) = is_committed {
        // At shutdown no other event starts: do not wait for a store that
        // may be down (the finisher gives up once every run has ended).
        loop {
            tokio::select! {
                _ = &mut is_committed => break,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {
                    if shared.stopping.load(Ordering::SeqCst) {
                        break;
                    }
                }
            }
        }
    }
    drop(alone);
}

/// Record that an interrupted event is handed on now
/// ([`Inbox::mark_handling`]; `alone`: the handler runs it alone), adding it
/// to `marked` when committed (the outcome replaces the mark). A mark the
/// store failed to write is logged and the event handed on all the same:
/// should the process die now, this attempt is neither counted nor a
/// reason to run the event alone next time. `false` when another instance
/// took the event over while this run waited (its lease ran out, renewals
/// failing): the event is the new owner's to hand on.
async fn mark<H>(shared: &Shared<H>, id: i64, alone: bool, marked: &mut Vec<i64>) -> bool {
    match shared
        .inbox
        .mark_handling(shared.owner.clone(), id, alone)
        .await
    {
        Ok(true) => {
            if !marked.contains(&id) {
                marked.push(id);
            }
            true
        }
        Ok(false) => {
            tracing::warn!(
                id,
                "the lease of an interrupted event passed to another instance before it was handed on; left to that instance"
            );
            false
        }
        Err(e) => {
            tracing::warn!(id, error = %e, "cannot record that an interrupted event is being handled");
            true
        }
    }
}

/// For an event whose earlier claim was interrupted and which has used up
/// its attempts (the last of them `interrupted`: the process died, or its
/// lease ran out, while the handler ran it alone): `dead`, saying which of
/// the two it was and what to do, so that the process does not die on it
/// again at every start and the events after it move on.
async fn interrupted_too_often<H>(shared: &Shared<H>, stored: &StoredEvent) -> Option<Outcome> {
    let s = &stored.summary;
    if s.attempts <= shared.config.max_attempts {
        return None;
    }
    let used = s.attempts.saturating_sub(1);
    let Ok(attempts) = shared.inbox.attempts(s.id).await else {
        // Handed on: should the process die, the next claim reads again.
        return None;
    };
    // The counted `interrupted` attempts in a row, newest first (the rows
    // that only mark an event handed on, not counted, are skipped).
    let counted: Vec<Interruption> = attempts
        .iter()
        .rev()
        .filter_map(|a| match a.outcome {
            AttemptOutcome::Interrupted => match a.error.as_deref() {
                Some(INTERRUPTED_TOGETHER_ERROR | INTERRUPTED_PENDING_ERROR) => None,
                Some(LEASE_RAN_OUT_ERROR) => Some(Some(Interruption::Lease)),
                Some(LEASE_RAN_OUT_HERE_ERROR) => Some(Some(Interruption::Stalled)),
                _ => Some(Some(Interruption::Died)),
            },
            _ => Some(None),
        })
        .map_while(|a| a)
        .collect();
    // None: its last attempt was not interrupted (max_attempts was
    // lowered since): the handler decides, as for any attempt.
    let error = interrupted_error(&counted, used, s.id)?;
    tracing::error!(id = s.id, attempts = used, %error, "event dead-lettered: interrupted while handled alone too often");
    Some(Outcome::Dead { error })
}

/// How an attempt at an event handed on alone was interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interruption {
    /// The process died (SQLite: only a dead process leaves a claim behind
    /// that the next start frees).
    Died,
    /// Its lease ran out: the instance died, or stalled or lost its
    /// database connection (PostgreSQL: nothing tells which).
    Lease,
    /// Its lease ran out while the instance that held it ran on.
    Stalled,
}

/// The error of an event set aside after the `interruptions` (newest first,
/// at least one) of its last attempts, `used` attempts in all.
fn interrupted_error(interruptions: &[Interruption], used: u32, id: i64) -> Option<String> {
    let times = |n: usize| match n {
        1 => "once".to_string(),
        n => format!("{n} times"),
    };
    let count = |kind: Interruption| interruptions.iter().filter(|i| **i == kind).count();
    let (died, lease, stalled) = (
        count(Interruption::Died),
        count(Interruption::Lease),
        count(Interruption::Stalled),
    );
    let replay = format!("then queue it again with `tradecloud inbox replay {id}`");
    let crash_advice =
        "Find out why from the process's and the system's logs (a panic with panic = \"abort\", \
         a crash in native code, the OOM killer), fix the handler";
    let lease_advice =
        "Look in the instances' logs for a crash, or for \"cannot renew the leases\" and \
         database connection errors (a database unreachable for the instance, or an instance too \
         busy to renew: raise `[processing] lease_secs`); fix the cause";
    let text = match (died, lease, stalled) {
        (0, 0, 0) => return None,
        (n, 0, 0) => format!(
            "the process died {}{} while the handler ran this event alone (killed, crashed, aborted or out of memory), \
             {used} attempts in all; set aside so that the events after it are handled. {crash_advice}, {replay}",
            times(n),
            if n > 1 { " in a row" } else { "" },
        ),
        (0, n, m) => format!(
            "the lease on this event ran out {} while the handler ran it alone, before an outcome was recorded \
             ({}the instance died, or stalled or lost its database connection for longer than the lease), \
             {used} attempts in all; set aside so that the events after it are handled. {lease_advice}, {replay}",
            times(n + m),
            if m > 0 {
                format!("{} with the instance still running, unable to renew it; otherwise ", times(m))
            } else {
                String::new()
            },
        ),
        (d, n, m) => format!(
            "the process died {} and the lease on this event ran out {} (the instance died, or stalled or lost its \
             database connection) while the handler ran it alone, {used} attempts in all; set aside so that the \
             events after it are handled. {crash_advice}; {lease_advice}; {replay}",
            times(d),
            times(n + m),
        ),
    };
    Some(text)
}

/// What a run's event goes back to the queue as when it is not handled
/// (to the end) at a stop: an interrupted event as the interruption left it
/// (see `Finish::ReleaseInterrupted`), any other as a plain release.
fn released(run: &Claimed, stored: &StoredEvent) -> Finish {
    let id = stored.summary.id;
    if run.interrupted.contains(&id) {
        Finish::ReleaseInterrupted {
            suspect: run.suspects.contains(&id) && stored.summary.origin != Origin::Trigger,
        }
    } else {
        Finish::Release
    }
}

/// One attempt at a claimed event; `None` when it was cancelled at the end
/// of the shutdown grace (no outcome: the event goes back to the queue).
async fn handle_event<H: Handler>(
    shared: &Arc<Shared<H>>,
    stored: &StoredEvent,
) -> Option<(Outcome, Finish, Duration)> {
    let span = super::spans::handle(stored, stored.summary.attempts.max(1));
    let handled = try_event(shared, stored).instrument(span.clone()).await;
    if let Some(handled) = &handled {
        super::spans::outcome(&span, &handled.0);
    }
    handled
}

/// One attempt at a claimed event, inside its `tradecloud.handle` span.
async fn try_event<H: Handler>(
    shared: &Arc<Shared<H>>,
    stored: &StoredEvent,
) -> Option<(Outcome, Finish, Duration)> {
    let start = Instant::now();
    let s = &stored.summary;
    let (id, attempt) = (s.id, s.attempts.max(1));
    tracing::debug!(id, attempt, "handing the event on");
    let (outcome, finish) = if s.origin == Origin::Trigger {
        tokio::select! {
            biased;
            fetched = fetch(shared, stored, attempt) => fetched,
            _ = shared.cancelled() => return None,
        }
    } else {
        let decoded = shared.inbox.take_decoded(id);
        let reread;
        let stored = match (&decoded, s.origin) {
            // The claim left the body out because the handoff held the
            // webhook, which was dropped since (the oldest go first when
            // more arrive): read the body now. A failed read is a store
            // fault, retried like one, never a reason to reject the event.
            (None, Origin::Webhook) if stored.body.is_empty() => match shared.inbox.get(id).await {
                Ok(Some(full)) => {
                    reread = full;
                    &reread
                }
                Ok(None) => stored,
                Err(e) => {
                    let error = HandlerError::Transient(format!(
                        "reading the stored body of event {id}: {e}"
                    ));
                    let outcome = Outcome::of_error(&shared.config, error, attempt);
                    let finish = outcome.finish();
                    return Some((outcome, finish, start.elapsed()));
                }
            },
            _ => stored,
        };
        let outcome = match super::decode_stored(stored, attempt, decoded) {
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
                // In the handle span: the handler's own spans and API calls nest there.
                let mut task = tokio::spawn(
                    async move { handler.handle(event, &ctx).await }
                        .instrument(tracing::Span::current()),
                );
                let limit = shared.config.handler_timeout;
                let ran = tokio::select! {
                    biased;
                    ran = tokio::time::timeout(limit, &mut task) => ran,
                    _ = shared.cancelled() => {
                        // Dropped at the await it waits in, as at the
                        // handler timeout; its outcome is never recorded.
                        task.abort();
                        return None;
                    }
                };
                match ran {
                    Ok(Ok(Ok(()))) => Outcome::Done,
                    Ok(Ok(Err(e))) => Outcome::of_error(&shared.config, e, attempt),
                    Ok(Err(join)) => Outcome::of_error(
                        &shared.config,
                        HandlerError::Transient(join_error_text(join)),
                        attempt,
                    ),
                    Err(_) => {
                        // Dropped at the await it waits in (see
                        // `ProcessorConfig::handler_timeout`).
                        task.abort();
                        tracing::warn!(
                            id,
                            attempt,
                            timeout = ?limit,
                            "the handler did not finish within the handler timeout; cancelled, the attempt counts as a transient failure"
                        );
                        Outcome::of_error(
                            &shared.config,
                            HandlerError::Transient(timed_out_text(limit)),
                            attempt,
                        )
                    }
                }
            }
        };
        let finish = outcome.finish();
        (outcome, finish)
    };
    let elapsed = start.elapsed();
    match &outcome {
        Outcome::Done => tracing::debug!(id, attempt, ?elapsed, "event handled"),
        Outcome::Fetched { .. } => {}
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
    Some((outcome, finish, elapsed))
}

/// Fetch the order or shipment of a trigger, to be stored as a new event.
async fn fetch<H: Handler>(
    shared: &Shared<H>,
    stored: &StoredEvent,
    attempt: u32,
) -> (Outcome, Finish) {
    let s = &stored.summary;
    let dead = |error: &str| {
        let outcome = Outcome::Dead {
            error: error.to_string(),
        };
        let finish = outcome.finish();
        (outcome, finish)
    };
    let Some(fetcher) = &shared.fetcher else {
        return dead("GET-webhook trigger: no fetcher configured to fetch the object");
    };
    let Some(object_id) = s.object_id.as_deref() else {
        return dead("GET-webhook trigger without an order or shipment id");
    };
    let (what, fetched) = match s.kind {
        EventKind::Order | EventKind::OrderDocuments => {
            ("order", fetcher.fetch_order(object_id).await)
        }
        EventKind::Shipment => ("shipment", fetcher.fetch_shipment(object_id).await),
    };
    match fetched {
        Err(HandlerError::Transient(error)) => {
            // Retried for as long as Tradecloud would retry the webhook.
            let age = Duration::from_millis(
                u64::try_from(now_ms() - s.received_at.timestamp_millis()).unwrap_or(0),
            );
            let limit = shared.config.fetch_retry_for;
            if age >= limit {
                let error = format!(
                    "{error} (gave up fetching the {what} after retrying for {} h, {attempt} {})",
                    limit.as_secs() / 3600,
                    if attempt == 1 { "attempt" } else { "attempts" }
                );
                tracing::error!(
                    id = s.id, object_id, attempts = attempt, retried_for_secs = age.as_secs(),
                    %error, "GET-webhook trigger dead-lettered: the {what} could not be fetched; replay it with `tradecloud inbox replay {}` (or all such: `tradecloud inbox replay --state dead --since TIME`)", s.id
                );
                return dead(&error);
            }
            let outcome = Outcome::retry_later(&shared.config, error, attempt);
            let finish = outcome.finish();
            (outcome, finish)
        }
        Err(error @ HandlerError::Permanent(_)) => {
            let outcome = Outcome::of_error(&shared.config, error, attempt);
            let finish = outcome.finish();
            (outcome, finish)
        }
        Ok(body) => {
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
                trace_parent: s.trace_parent.clone(),
            };
            (Outcome::Fetched { event_id: 0 }, Finish::Fetched(fetched))
        }
    }
}

/// The error of an attempt whose handler ran past `limit`.
fn timed_out_text(limit: Duration) -> String {
    format!(
        "the handler did not finish within {limit:?} and was cancelled (a call without a timeout of its own that hangs, or a slow ERP?); \
         retried like a transient error. Give the handler's calls timeouts, or raise `[processing] handler_timeout_secs` \
         (ProcessorConfig::handler_timeout) if it needs longer"
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A renewal that hangs (PostgreSQL unreachable at a stop) does not hold
    /// up the end of the grace: the wait ends when `until` does, renewal or
    /// not.
    #[tokio::test]
    async fn a_hanging_renewal_does_not_outlast_the_grace() {
        let mut tasks = JoinSet::new();
        tasks.spawn(std::future::pending::<()>());
        let mut renewals = tokio::time::interval(Duration::from_millis(1));
        let renewing = Arc::new(Notify::new());
        let renew = {
            let renewing = renewing.clone();
            move || {
                renewing.notify_one();
                std::future::pending::<()>()
            }
        };
        // The grace ends while the renewal hangs.
        let until = async { renewing.notified().await };
        // Generous, only so that a hang fails instead of blocking.
        let ended = tokio::time::timeout(
            Duration::from_secs(60),
            join_renewing(&mut tasks, &mut renewals, renew, until),
        )
        .await;
        assert_eq!(ended.ok(), Some(Some(())), "the wait ended with the grace");
        tasks.abort_all();
    }
}
