//! The inbox as a work queue for [`crate::processing`]: the types both
//! stores use to hand out work ([`Claimed`] runs) and take back what became
//! of it ([`RunOutcome`]), and the [`Inbox`] methods the processor calls.
//!
//! The rules of the `heads` table are in the [module docs](super#the-work-queue).

use std::sync::Arc;
use std::time::Duration;

use super::handoff::Handoff;
use super::{EventKind, Inbox, InboxError, Origin, State, StoredEvent};

/// The lease key of an event: its object key (see [`super::keys`]), or
/// (without one) its own id.
pub(crate) fn head_key(object_key: Option<&str>, id: i64) -> String {
    match object_key {
        Some(object) => format!("o:{object}"),
        None => format!("e:{id}"),
    }
}

/// The run to claim from an object's active events (`id, state, origin`,
/// oldest first, starting at the head): the head, then the following
/// events that are plain `received`. A trigger is a run of its own; a
/// `retrying` event ends a run. So does a `processing` one (left by an
/// owner that died): an event whose claim was interrupted is a run of its
/// own, so that if the process dies again while it is handled, it alone
/// is blamed (see [`Claimed::interrupted`]).
pub(crate) fn run_of(head: i64, candidates: &[(i64, String, String)]) -> Vec<i64> {
    let Some((first, first_state, first_origin)) = candidates.first() else {
        return Vec::new();
    };
    if *first != head {
        return Vec::new();
    }
    let mut ids = vec![*first];
    if first_origin == Origin::Trigger.as_str() || first_state == State::Processing.as_str() {
        return ids;
    }
    for (id, state, origin) in &candidates[1..] {
        if state != State::Received.as_str() || origin == Origin::Trigger.as_str() {
            break;
        }
        ids.push(*id);
    }
    ids
}

/// The `attempts` a claim gives an event, in SQL (both stores; evaluated
/// against the row before the claim's update): one more, but for an event
/// found `processing`, whose earlier claim was interrupted (the process
/// died, or its lease ran out) or released at a clean stop as interrupted
/// (`Finish::ReleaseInterrupted`). That claim counts as an attempt only
/// if the processor had recorded that it handed the event on alone
/// ([`Inbox::mark_handling`]: an `interrupted` attempt row with
/// [`INTERRUPTED_ERROR`], or that row as a claim rewrote it,
/// [`LEASE_RAN_OUT_ERROR`] / [`LEASE_RAN_OUT_HERE_ERROR`], started at that
/// claim); otherwise it is taken back, as a release takes it back, and
/// this claim counts in its place.
/// So `attempts` is the number of attempts recorded for the event since it
/// was last queued, plus the one being made.
pub(crate) fn claimed_attempts_sql() -> String {
    format!(
        "attempts + CASE WHEN state <> 'processing' THEN 1 \
         WHEN {} THEN 1 ELSE 0 END",
        counted_interruption_sql()
    )
}

/// Whether the claim that left an `events` row `processing` (started at its
/// `updated_at`) counts as an attempt, in SQL (both stores): the processor
/// recorded that it handed the event on alone (see
/// [`claimed_attempts_sql`]). When it does not, the row's `attempts`
/// includes that claim only until the next claim (or a `mark_dead`) takes
/// it back.
pub(crate) fn counted_interruption_sql() -> String {
    format!(
        "EXISTS (SELECT 1 FROM event_attempts a WHERE a.event_id = events.id \
         AND a.outcome = 'interrupted' AND a.error IN ('{INTERRUPTED_ERROR}', '{LEASE_RAN_OUT_ERROR}', \
         '{LEASE_RAN_OUT_HERE_ERROR}') AND a.started_at = events.updated_at)"
    )
}

/// What the claim of an interrupted event knows of an `interrupted`
/// attempt that counts (written as [`INTERRUPTED_ERROR`] by the instance
/// that ran the event alone): `None` when the head was free (SQLite after
/// a restart, whose recovery frees every claim: the process died), else
/// the error that says the lease ran out: held by `claimer` itself (it is
/// alive: it stalled, or could not renew), or by another instance (which
/// died, or stalled or lost its database connection: nothing here tells).
pub(crate) fn lease_ran_out_error(
    previous_owner: Option<&str>,
    claimer: &str,
) -> Option<&'static str> {
    match previous_owner {
        None => None,
        Some(owner) if owner == claimer => Some(LEASE_RAN_OUT_HERE_ERROR),
        Some(_) => Some(LEASE_RAN_OUT_ERROR),
    }
}

/// The error of an attempt that the process did not live to finish while
/// the handler ran the event alone (the row [`Inbox::mark_handling`]
/// writes, replaced by the real outcome when there is one). Counted.
pub(crate) const INTERRUPTED_ERROR: &str =
    "the process stopped while the handler ran this event alone \
     (killed, crashed, aborted or out of memory); the outcome was never recorded";

/// [`INTERRUPTED_ERROR`] as the next claim rewrites it when the event's
/// lease had run out (PostgreSQL; SQLite frees every claim at a restart):
/// the instance may have died, or stalled or lost its database connection.
/// Counted.
pub(crate) const LEASE_RAN_OUT_ERROR: &str =
    "the lease ran out while the handler ran this event alone, before an outcome was recorded: \
     the instance holding it died (killed, crashed, aborted, out of memory), or stalled or lost \
     its database connection for longer than the lease";

/// [`LEASE_RAN_OUT_ERROR`] when the instance that claims the event again is
/// the one whose lease ran out: it is alive. Counted.
pub(crate) const LEASE_RAN_OUT_HERE_ERROR: &str =
    "the lease ran out while the handler ran this event alone, before an outcome was recorded: \
     the instance, still running, did not renew it in time (stalled, or its database unavailable \
     for longer than the lease)";

/// The row a claim writes for an event it hands on alone
/// ([`Claimed::suspects`]), until the handler gets it (then
/// [`Inbox::mark_handling`] adds [`INTERRUPTED_ERROR`]; the outcome replaces
/// both). Not counted: should the process stop before the event's turn
/// (killed while it waits for the other handlers, or a clean stop, which
/// keeps the row), the next claim still finds the event was in a handler
/// at an earlier interruption and hands it on alone.
pub(crate) const INTERRUPTED_PENDING_ERROR: &str =
    "to be handed on alone (it was in a handler when the process stopped earlier); \
     not handed on yet, as the process stopped or was stopped before its turn";

/// The error of the row [`Inbox::mark_handling`] writes for an event
/// handed on with others after an interruption (not alone). Not counted,
/// and deleted by the next claim, which learns from it that the event was
/// in a handler when the process stopped (see [`Claimed::suspects`]).
pub(crate) const INTERRUPTED_TOGETHER_ERROR: &str =
    "the process stopped while the handler ran this event, with others, after an earlier interruption; \
     handed on alone next";

/// The uncounted marks of a claim, in SQL (both stores): `interrupted`
/// rows ([`INTERRUPTED_TOGETHER_ERROR`], [`INTERRUPTED_PENDING_ERROR`]) that
/// only tell the next claim how to hand an event on, never attempts. A
/// claim that reads them, or a `mark_dead`, deletes them.
pub(crate) fn uncounted_marks_sql() -> String {
    format!(
        "outcome = 'interrupted' AND error IN ('{INTERRUPTED_TOGETHER_ERROR}', '{INTERRUPTED_PENDING_ERROR}')"
    )
}

/// Why `mark_dead` refuses event `id` in `state` (both stores): a
/// `processing` one only while a live claim holds it.
pub(crate) fn cannot_mark_dead(id: i64, state: &str) -> InboxError {
    InboxError::Invalid(format!(
        "event {id} is {state}: only an event still to be handled (received, trigger, retrying) \
         can be marked dead{}",
        if state == State::Processing.as_str() {
            "; it is being handled now, try again when it is finished"
        } else {
            ""
        }
    ))
}

/// What a claim asks for.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRequest {
    /// Who claims (a random id per processor run).
    pub(crate) owner: String,
    /// At most this many heads (objects).
    pub(crate) heads: usize,
    /// At most this many events per object.
    pub(crate) run_limit: usize,
    /// How long the claim holds unless renewed.
    pub(crate) lease: Duration,
    /// Events whose decoded webhook this process holds
    /// ([`Inbox::store_webhook`]): a store may leave their bodies out (an
    /// empty `body`), the processor takes the webhook instead. Set by
    /// [`Inbox::claim`].
    pub(crate) held: Option<Arc<Handoff>>,
}

/// A run: consecutive events of one object, claimed together, to be handled
/// one at a time in this order.
#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    /// The head key (see [`head_key`]).
    pub(crate) key: String,
    /// The events, oldest first; already `processing`, attempts counted.
    pub(crate) events: Vec<StoredEvent>,
    /// Those of `events` that were `processing` when claimed: a claim of
    /// them was interrupted (always a run of one, see [`run_of`]).
    pub(crate) interrupted: Vec<i64>,
    /// Those of `interrupted` that the handler was running, marked, when
    /// that claim was interrupted (an `interrupted` row of that claim,
    /// alone or together): handed on alone. The others may never have
    /// reached a handler (claimed ahead): handed on with others, marked.
    pub(crate) suspects: Vec<i64>,
}

/// The whole order or shipment fetched for a trigger.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    pub(crate) kind: EventKind,
    pub(crate) event_name: Option<String>,
    pub(crate) object_id: Option<String>,
    pub(crate) body: bytes::Bytes,
    pub(crate) source: String,
    /// The trigger's `traceparent`: the fetched event joins its trace.
    pub(crate) trace_parent: Option<String>,
}

/// What became of one claimed event.
#[derive(Debug, Clone)]
pub(crate) enum Finish {
    Done,
    /// Handled again after `delay` (counted from the commit, in the store's clock).
    Retry {
        error: String,
        delay: Duration,
    },
    Dead {
        error: String,
    },
    Rejected {
        error: String,
    },
    /// An unknown event without a known payload (a replayed `unhandled`
    /// event this version still does not know): `unhandled` again.
    Unhandled {
        reason: String,
    },
    /// A trigger whose order or shipment was fetched: store it as a new
    /// event of the same object and mark the trigger `done`.
    Fetched(Fetched),
    /// Not handled (an earlier event of the run failed, or shutdown): back
    /// to the queue with the attempt it was claimed with taken back.
    Release,
    /// An interrupted event ([`Claimed::interrupted`]) not handled to the
    /// end at a clean stop: back to the queue as the interruption left it
    /// (`processing`, its attempts as the claim found them, which the next
    /// claim takes as they are), so the next claim sees it interrupted
    /// again; a `suspect` keeps (or gets) an [`INTERRUPTED_PENDING_ERROR`]
    /// row, so it is handed on alone again. Only the head is freed.
    ReleaseInterrupted {
        suspect: bool,
    },
}

/// What became of a claimed run.
#[derive(Debug, Clone)]
pub(crate) struct RunOutcome {
    /// The head key of the run.
    pub(crate) key: String,
    /// Each event's outcome, in the run's order (every claimed event once).
    pub(crate) events: Vec<(i64, Finish)>,
    /// Events whose handing on was recorded ([`Inbox::mark_handling`]):
    /// their `interrupted` attempt row is replaced by the outcome.
    pub(crate) marked: Vec<i64>,
}

/// What a store did with a batch of [`RunOutcome`]s.
#[derive(Debug, Clone, Default)]
pub(crate) struct FinishReport {
    /// For each `Finish::Fetched`: the trigger's id and the new event's id.
    pub(crate) fetched: Vec<(i64, i64)>,
    /// Runs whose lease had passed to another owner: nothing was recorded.
    pub(crate) lost: Vec<String>,
}

impl Inbox {
    /// Make claims of an earlier run of this store claimable again (SQLite:
    /// one processor per file, so every claim left in it is from a process
    /// that is gone). Returns how many heads were released. PostgreSQL:
    /// nothing to do; claims of a killed instance end with their lease.
    pub(crate) async fn recover(&self) -> Result<u64, InboxError> {
        self.store_impl().recover().await
    }

    /// Claim up to `request.heads` ready runs.
    pub(crate) async fn claim(
        &self,
        mut request: ClaimRequest,
    ) -> Result<Vec<Claimed>, InboxError> {
        request.held = Some(self.handoff.clone());
        self.store_impl().claim(request).await
    }

    /// Extend the lease of these heads held by `owner`.
    pub(crate) async fn renew(
        &self,
        owner: String,
        keys: Vec<String>,
        lease: Duration,
    ) -> Result<(), InboxError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.store_impl().renew(owner, keys, lease).await
    }

    /// Record, and wait for the commit, that `owner` hands the claimed
    /// event `id` to the handler now: an `interrupted` attempt row with
    /// [`INTERRUPTED_ERROR`] (`alone`) or [`INTERRUPTED_TOGETHER_ERROR`],
    /// which the outcome replaces (see [`RunOutcome::marked`]). If the
    /// process dies first, the row stays: alone, the attempt counts, and
    /// says what happened; together, the next claim hands the event on
    /// alone.
    ///
    /// Only while `owner` still holds the event's head: `false` (nothing
    /// written) once its lease passed to another instance, which claimed
    /// the event since (an owner whose renewals failed, still running,
    /// wrote its row onto the new owner's claim, where it counted as that
    /// claim's attempt and was never replaced). The caller then leaves the
    /// event to its new owner.
    pub(crate) async fn mark_handling(
        &self,
        owner: String,
        id: i64,
        alone: bool,
    ) -> Result<bool, InboxError> {
        self.store_impl().mark_handling(owner, id, alone).await
    }

    /// Record what became of claimed runs, in one transaction.
    pub(crate) async fn finish(
        &self,
        owner: String,
        runs: Vec<RunOutcome>,
    ) -> Result<FinishReport, InboxError> {
        self.store_impl().finish(owner, runs).await
    }

    /// How long until the earliest head is due (zero when one is due now),
    /// or `None` when nothing is queued.
    pub(crate) async fn next_due(&self) -> Result<Option<Duration>, InboxError> {
        self.store_impl().next_due().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(rows: &[(i64, &str, &str)]) -> Vec<(i64, String, String)> {
        rows.iter()
            .map(|(id, state, origin)| (*id, state.to_string(), origin.to_string()))
            .collect()
    }

    /// An event left `processing` by a claim that was interrupted is a run
    /// of its own, and ends a run that reaches it: if the process dies
    /// while it is handled, it alone was running.
    #[test]
    fn an_interrupted_event_is_a_run_of_its_own() {
        let fresh = rows(&[(1, "received", "webhook"), (2, "received", "webhook")]);
        assert_eq!(run_of(1, &fresh), vec![1, 2]);
        let interrupted = rows(&[
            (1, "processing", "webhook"),
            (2, "processing", "webhook"),
            (3, "received", "webhook"),
        ]);
        assert_eq!(run_of(1, &interrupted), vec![1]);
        let reaching = rows(&[(1, "received", "webhook"), (2, "processing", "webhook")]);
        assert_eq!(run_of(1, &reaching), vec![1]);
        let retrying = rows(&[(1, "received", "webhook"), (2, "retrying", "webhook")]);
        assert_eq!(run_of(1, &retrying), vec![1]);
    }
}
