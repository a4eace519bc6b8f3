//! What became of an attempt at an event: [`Outcome`], and the
//! [`OutcomeReport`] observers get.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{HandlerError, ProcessorConfig};
use crate::inbox::queue::Finish;
use crate::inbox::{from_ms, now_ms, EventKind, Origin};

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
        /// When the next attempt is due (about: the store sets it on commit).
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

    /// What a handler's (or a fetch's) error at `attempt` comes to: `dead`
    /// when it is permanent or the retries of
    /// [`ProcessorConfig::retry_policy`] are used up, else `retrying` after
    /// its backoff.
    pub(crate) fn of_error(config: &ProcessorConfig, error: HandlerError, attempt: u32) -> Outcome {
        match error {
            HandlerError::Permanent(error) => Outcome::Dead { error },
            HandlerError::Transient(error) if attempt > config.retry_policy().get_max_retries() => {
                Outcome::Dead {
                    error: format!(
                        "{error} (gave up after {attempt} {})",
                        if attempt == 1 { "attempt" } else { "attempts" }
                    ),
                }
            }
            HandlerError::Transient(error) => Self::retry_later(config, error, attempt),
        }
    }

    /// `retrying` after the backoff of `attempt`.
    pub(crate) fn retry_later(config: &ProcessorConfig, error: String, attempt: u32) -> Outcome {
        let delay = config.backoff(attempt);
        let at = now_ms().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2));
        Outcome::Retrying {
            error,
            next_attempt_at: from_ms(at),
        }
    }

    /// What the store records for it (a fetched object is recorded by the
    /// fetch itself, see `Finish::Fetched`).
    pub(crate) fn finish(&self) -> Finish {
        match self {
            Outcome::Done | Outcome::Fetched { .. } => Finish::Done,
            Outcome::Retrying {
                error,
                next_attempt_at,
            } => Finish::Retry {
                error: error.clone(),
                delay: Duration::from_millis(
                    u64::try_from(next_attempt_at.timestamp_millis() - now_ms()).unwrap_or(0),
                ),
            },
            Outcome::Dead { error } => Finish::Dead {
                error: error.clone(),
            },
            Outcome::Rejected { error } => Finish::Rejected {
                error: error.clone(),
            },
            Outcome::Unhandled { reason } => Finish::Unhandled {
                reason: reason.clone(),
            },
        }
    }
}

/// One attempt at an event, for metrics ([`Processor::on_outcome`](super::Processor::on_outcome)); reported
/// once the outcome is committed.
#[derive(Debug, Clone)]
pub struct OutcomeReport {
    /// Inbox id.
    pub inbox_id: i64,
    /// Order, order documents or shipment.
    pub kind: EventKind,
    /// Webhook body, GET-webhook trigger (a fetch), or fetched object.
    pub origin: Origin,
    /// `eventName`, if known.
    pub event_name: Option<String>,
    /// Which attempt this was (1 = first).
    pub attempt: u32,
    /// What came of it.
    pub outcome: Outcome,
    /// How long the handler (or fetch) took.
    pub elapsed: Duration,
}
