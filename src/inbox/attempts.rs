//! The processing attempts of an event: one row per handling of it (table
//! `event_attempts` in both stores), written in the same transaction that
//! records the event's outcome, so the console's event page and `tradecloud
//! inbox show` list every attempt with its error, not only the last one.
//! An event handed on after an interrupted claim gets its row
//! (`interrupted`) before the handler runs; the outcome replaces it. If
//! the process dies first, it stays: counted if the event ran alone,
//! otherwise until the next claim, which then hands the event on alone (see
//! the Guarantees of [`crate::processing`]).
//!
//! Growth is bounded: at most [`ATTEMPTS_KEPT`] attempts per event are
//! kept (the oldest go), an error is cut to [`ERROR_MAX_BYTES`], and
//! purging an event removes its attempts. A replay keeps them: the
//! history of an event survives its being queued again.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::queue::Finish;
use super::InboxError;

/// The attempts kept per event: the newest ones.
pub const ATTEMPTS_KEPT: usize = 50;

/// The longest error text kept per attempt, in bytes (cut at a character
/// boundary).
pub const ERROR_MAX_BYTES: usize = 4096;

/// What became of one processing attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AttemptOutcome {
    /// The handler succeeded.
    Done,
    /// A transient error: the event is tried again later.
    Retry,
    /// A permanent error, or the attempts ran out: the event is `dead`.
    Dead,
    /// The stored body could not be parsed: the event is `rejected`.
    Rejected,
    /// An event this version does not know: `unhandled`.
    Unhandled,
    /// A GET-webhook trigger whose order or shipment was fetched.
    Fetched,
    /// The process stopped (killed, crashed, aborted, out of memory), or the
    /// lease on the event ran out, while the handler ran the event, before
    /// an outcome was recorded (the error says which, as far as is known).
    /// Recorded only for an event handed on after an earlier interruption,
    /// and counted only if it ran alone (see the Guarantees of
    /// [`crate::processing`]); the rows that only mark an event handed on
    /// (with others, or waiting to run alone) are not counted.
    Interrupted,
}

impl AttemptOutcome {
    /// Every outcome.
    pub const ALL: [AttemptOutcome; 7] = [
        AttemptOutcome::Done,
        AttemptOutcome::Retry,
        AttemptOutcome::Dead,
        AttemptOutcome::Rejected,
        AttemptOutcome::Unhandled,
        AttemptOutcome::Fetched,
        AttemptOutcome::Interrupted,
    ];

    /// The name stored in the database and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Done => "done",
            AttemptOutcome::Retry => "retry",
            AttemptOutcome::Dead => "dead",
            AttemptOutcome::Rejected => "rejected",
            AttemptOutcome::Unhandled => "unhandled",
            AttemptOutcome::Fetched => "fetched",
            AttemptOutcome::Interrupted => "interrupted",
        }
    }

    /// The outcome named `s` (as [`AttemptOutcome::as_str`] writes it).
    pub fn parse_str(s: &str) -> Result<AttemptOutcome, InboxError> {
        AttemptOutcome::ALL
            .into_iter()
            .find(|o| o.as_str() == s)
            .ok_or_else(|| InboxError::Invalid(format!("unknown attempt outcome {s:?}")))
    }
}

impl std::fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One processing attempt of an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// When the event was claimed for this attempt (the events of one run
    /// are claimed together and handled one after the other, so for a
    /// later event of a run this includes the wait for the earlier ones).
    pub started_at: DateTime<Utc>,
    /// When its outcome was recorded.
    pub finished_at: DateTime<Utc>,
    /// The processor that handled it (a random id per processor run), if known.
    pub instance: Option<String>,
    /// What became of it.
    pub outcome: AttemptOutcome,
    /// The error (or reason), at most [`ERROR_MAX_BYTES`].
    pub error: Option<String>,
}

impl Attempt {
    /// From claim to outcome.
    pub fn duration(&self) -> Duration {
        (self.finished_at - self.started_at)
            .to_std()
            .unwrap_or_default()
    }
}

/// `error` cut to [`ERROR_MAX_BYTES`] at a character boundary.
pub(crate) fn bounded(error: &str) -> &str {
    if error.len() <= ERROR_MAX_BYTES {
        return error;
    }
    let mut end = ERROR_MAX_BYTES;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    &error[..end]
}

/// The attempt a [`Finish`] records (`None` for a release: the attempt is
/// taken back, or left uncounted as the interruption left it), with its error cut by [`bounded`].
pub(crate) fn of_finish(finish: &Finish) -> Option<(AttemptOutcome, Option<&str>)> {
    Some(match finish {
        Finish::Done => (AttemptOutcome::Done, None),
        Finish::Retry { error, .. } => (AttemptOutcome::Retry, Some(bounded(error))),
        Finish::Dead { error } => (AttemptOutcome::Dead, Some(bounded(error))),
        Finish::Rejected { error } => (AttemptOutcome::Rejected, Some(bounded(error))),
        Finish::Unhandled { reason } => (AttemptOutcome::Unhandled, Some(bounded(reason))),
        Finish::Fetched(_) => (AttemptOutcome::Fetched, None),
        Finish::Release | Finish::ReleaseInterrupted { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_cuts_at_a_char_boundary() {
        let long = "é".repeat(ERROR_MAX_BYTES);
        let cut = bounded(&long);
        assert!(cut.len() <= ERROR_MAX_BYTES && cut.len() > ERROR_MAX_BYTES - 2);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(bounded("short"), "short");
    }

    #[test]
    fn outcomes_read_back() {
        for o in AttemptOutcome::ALL {
            assert_eq!(AttemptOutcome::parse_str(o.as_str()).ok(), Some(o));
        }
        assert!(AttemptOutcome::parse_str("nope").is_err());
    }
}
