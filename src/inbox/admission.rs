//! Admission to a store's writer, the same for both stores: a budget of
//! body bytes waiting to be written (beyond it a new event is answered
//! `Overloaded`, i.e. 503 + Retry-After, instead of queueing without
//! bound) and the hand-over to the writer without waiting for room.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::InboxError;

/// The byte budget of bodies waiting for the writer.
pub(crate) struct Admission {
    queued: Arc<AtomicUsize>,
    limit: usize,
}

/// Bytes reserved in an [`Admission`] budget; released when dropped (after
/// the write, or when the event is refused).
pub(crate) struct QueuedBytes {
    counter: Arc<AtomicUsize>,
    bytes: usize,
}

impl Drop for QueuedBytes {
    fn drop(&mut self) {
        self.counter.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

impl Admission {
    /// A budget of `limit` bytes.
    pub(crate) fn new(limit: usize) -> Admission {
        Admission {
            queued: Arc::new(AtomicUsize::new(0)),
            limit,
        }
    }

    /// Reserve `bytes`; `Overloaded` when other bodies already wait and this
    /// one would pass the limit (a body alone is always admitted: its size
    /// is bounded by the receiver's body limit).
    pub(crate) fn reserve(&self, bytes: usize) -> Result<QueuedBytes, InboxError> {
        let previous = self.queued.fetch_add(bytes, Ordering::AcqRel);
        let reserved = QueuedBytes {
            counter: self.queued.clone(),
            bytes,
        };
        if previous > 0 && previous + bytes > self.limit {
            return Err(InboxError::Overloaded);
        }
        Ok(reserved)
    }
}

/// Hand `item` to the writer: `Overloaded` when its queue is full,
/// `Unavailable` when the writer has stopped.
pub(crate) fn hand_over<T>(tx: &mpsc::Sender<T>, item: T) -> Result<(), InboxError> {
    tx.try_send(item).map_err(|e| match e {
        mpsc::error::TrySendError::Full(_) => InboxError::Overloaded,
        mpsc::error::TrySendError::Closed(_) => writer_gone(),
    })
}

/// The error of a writer that has stopped (its channel closed).
pub(crate) fn writer_gone() -> InboxError {
    InboxError::Unavailable("the inbox writer has stopped".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_body_is_admitted_and_the_budget_is_released() {
        let admission = Admission::new(10);
        let first = admission.reserve(50);
        assert!(first.is_ok(), "a body alone passes");
        assert!(matches!(admission.reserve(1), Err(InboxError::Overloaded)));
        drop(first);
        assert!(admission.reserve(5).is_ok());
    }

    #[tokio::test]
    async fn a_full_or_closed_writer_queue_is_refused() {
        let (tx, mut rx) = mpsc::channel(1);
        assert!(hand_over(&tx, 1).is_ok());
        assert!(matches!(hand_over(&tx, 2), Err(InboxError::Overloaded)));
        rx.close();
        assert!(matches!(hand_over(&tx, 3), Err(InboxError::Unavailable(_))));
    }
}
