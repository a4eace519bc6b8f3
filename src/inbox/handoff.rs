//! Webhooks the receiver decoded, handed to the processor of the same
//! process so that it does not decode the stored body a second time.
//!
//! The receiver decodes every body before storing it (a body that does not
//! decode is quarantined, never stored as an event); the processor used to
//! decode the same bytes again when it claimed the event. With
//! [`Inbox::store_webhook`](super::Inbox::store_webhook) the decoded value
//! is kept here under the event's id, and the processor takes it
//! ([`Inbox::take_decoded`](super::Inbox::take_decoded)) for the event's
//! first attempt. It is only a shortcut: an event handled by another
//! process (several receivers on one PostgreSQL inbox), after a restart, a
//! replay, a retry, or once [`KEPT`] newer events pushed it out is decoded
//! from its stored body as before, to the same value (the same bytes, media
//! type and decoder).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::webhook::Webhook;

/// Decoded webhooks kept at most (the oldest go first): a processor that
/// keeps up takes each within milliseconds; one that falls behind decodes
/// from the store, and memory stays bounded (a decoded 14 kB order event
/// is some tens of kilobytes).
pub(crate) const KEPT: usize = 128;

#[derive(Debug, Default)]
pub(crate) struct Handoff {
    /// Whether a processor of this process takes from it: without one
    /// (`serve --receive-only`, a receiver whose events another process
    /// handles) nothing is kept.
    taken: AtomicBool,
    kept: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    by_id: HashMap<i64, Webhook>,
    /// Ids in the order they were put, some already taken.
    order: VecDeque<i64>,
}

impl Handoff {
    /// A processor takes from now on.
    pub(crate) fn open(&self) {
        self.taken.store(true, Ordering::Relaxed);
    }

    pub(crate) fn put(&self, id: i64, webhook: Webhook) {
        if !self.taken.load(Ordering::Relaxed) {
            return;
        }
        let Ok(mut kept) = self.kept.lock() else {
            return;
        };
        if kept.by_id.insert(id, webhook).is_none() {
            kept.order.push_back(id);
        }
        while kept.by_id.len() > KEPT || kept.order.len() > 2 * KEPT {
            match kept.order.pop_front() {
                Some(old) => {
                    kept.by_id.remove(&old);
                }
                None => break,
            }
        }
    }

    pub(crate) fn take(&self, id: i64) -> Option<Webhook> {
        self.kept.lock().ok()?.by_id.remove(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::{Endpoint, UnknownEvent};

    fn webhook(n: i64) -> Webhook {
        Webhook::Unknown(UnknownEvent {
            endpoint: Endpoint::Order,
            event_name: format!("E{n}"),
            message_id: None,
        })
    }

    #[test]
    fn a_webhook_is_taken_once_and_the_oldest_go_first() {
        let handoff = Handoff::default();
        handoff.put(1, webhook(1));
        assert_eq!(handoff.take(1), None, "nothing kept without a processor");
        handoff.open();
        handoff.put(1, webhook(1));
        assert_eq!(handoff.take(1), Some(webhook(1)));
        assert_eq!(handoff.take(1), None, "taken once");
        for n in 0..(KEPT as i64 + 10) {
            handoff.put(100 + n, webhook(n));
        }
        assert_eq!(handoff.take(100), None, "pushed out");
        assert_eq!(handoff.take(109), None, "pushed out");
        assert_eq!(handoff.take(110), Some(webhook(10)));
        let last = 100 + KEPT as i64 + 9;
        assert_eq!(handoff.take(last), Some(webhook(KEPT as i64 + 9)));
        // Taking leaves ids in the queue: it stays bounded all the same.
        for n in 0..(10 * KEPT as i64) {
            handoff.put(10_000 + n, webhook(n));
            handoff.take(10_000 + n);
        }
        let kept = handoff.kept.lock().unwrap();
        assert!(kept.order.len() <= 2 * KEPT && kept.by_id.is_empty());
    }
}
