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

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::webhook::Webhook;

/// Decoded webhooks kept at most (the oldest go first): a processor that
/// keeps up takes each within milliseconds; one that falls behind decodes
/// from the store, and memory stays bounded (a decoded 14 kB order event
/// is some tens of kilobytes).
pub(crate) const KEPT: usize = 128;

/// The bodies of the kept webhooks add up to at most this many bytes (a
/// decoded body takes a few times its size in memory): with large events
/// and a slow handler, fewer are kept.
pub(crate) const BODY_BYTES_KEPT: usize = 8 << 20;

/// A webhook whose body is larger than this is not kept at all: the
/// processor decodes it from the store (large events are rare, and one
/// alone would take much of [`BODY_BYTES_KEPT`]).
pub(crate) const BODY_BYTES_MAX: usize = BODY_BYTES_KEPT / 8;

/// A decoded webhook on its way into the handoff with its event: the store
/// [`put`](HandedOn::put)s it once the event is committed, before it answers
/// the caller or wakes the processor. Put later (by the receiver, after the
/// store answered), a claim that came first would see the event as not held
/// and read its body for nothing; about half of the events under load did.
#[derive(Debug)]
pub(crate) struct HandedOn {
    pub(crate) handoff: Arc<Handoff>,
    pub(crate) webhook: Webhook,
    pub(crate) body_len: usize,
}

impl HandedOn {
    /// Keep the webhook for the committed event `id`.
    pub(crate) fn put(self, id: i64) {
        self.handoff.put(id, self.webhook, self.body_len);
    }
}

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
    /// Each webhook with the length of the body it was decoded from, by
    /// event id: ids grow with arrival, so the first is the oldest.
    by_id: BTreeMap<i64, (Webhook, usize)>,
    /// The sum of the kept bodies' lengths.
    body_bytes: usize,
}

impl Kept {
    fn remove(&mut self, id: i64) -> Option<Webhook> {
        let (webhook, len) = self.by_id.remove(&id)?;
        self.body_bytes -= len;
        Some(webhook)
    }
}

impl Handoff {
    /// A processor takes from now on.
    pub(crate) fn open(&self) {
        self.taken.store(true, Ordering::Relaxed);
    }

    /// Whether [`put`](Self::put) would keep a webhook decoded from a body
    /// of `body_len` bytes.
    pub(crate) fn wants(&self, body_len: usize) -> bool {
        self.taken.load(Ordering::Relaxed) && body_len <= BODY_BYTES_MAX
    }

    /// Keep `webhook`, decoded from a body of `body_len` bytes, for event `id`.
    pub(crate) fn put(&self, id: i64, webhook: Webhook, body_len: usize) {
        if !self.wants(body_len) {
            return;
        }
        let Ok(mut kept) = self.kept.lock() else {
            return;
        };
        kept.remove(id);
        kept.by_id.insert(id, (webhook, body_len));
        kept.body_bytes += body_len;
        while kept.by_id.len() > KEPT || kept.body_bytes > BODY_BYTES_KEPT {
            let Some((_, (_, len))) = kept.by_id.pop_first() else {
                break;
            };
            kept.body_bytes -= len;
        }
    }

    /// Whether it holds the webhook of event `id` now (it may drop it
    /// before [`take`](Self::take): the oldest go first).
    pub(crate) fn holds(&self, id: i64) -> bool {
        self.kept
            .lock()
            .map(|kept| kept.by_id.contains_key(&id))
            .unwrap_or(false)
    }

    pub(crate) fn take(&self, id: i64) -> Option<Webhook> {
        self.kept.lock().ok()?.remove(id)
    }

    /// How many webhooks it holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.kept.lock().map(|kept| kept.by_id.len()).unwrap_or(0)
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
        handoff.put(1, webhook(1), 10);
        assert_eq!(handoff.take(1), None, "nothing kept without a processor");
        handoff.open();
        handoff.put(1, webhook(1), 10);
        assert_eq!(handoff.take(1), Some(webhook(1)));
        assert_eq!(handoff.take(1), None, "taken once");
        for n in 0..(KEPT as i64 + 10) {
            handoff.put(100 + n, webhook(n), 10);
        }
        assert_eq!(handoff.take(100), None, "pushed out");
        assert_eq!(handoff.take(109), None, "pushed out");
        assert_eq!(handoff.take(110), Some(webhook(10)));
        let last = 100 + KEPT as i64 + 9;
        assert_eq!(handoff.take(last), Some(webhook(KEPT as i64 + 9)));
        // Put and taken at once: the count and the bytes stay what they were
        // (the first loop's untaken events, 111 to last - 1).
        for n in 0..(10 * KEPT as i64) {
            handoff.put(10_000 + n, webhook(n), 10);
            handoff.take(10_000 + n);
        }
        {
            let kept = handoff.kept.lock().unwrap();
            assert_eq!(kept.by_id.len(), KEPT - 2);
            assert_eq!(kept.body_bytes, 10 * (KEPT - 2));
        }
        for id in 111..last {
            assert!(handoff.take(id).is_some(), "{id}");
        }
        let kept = handoff.kept.lock().unwrap();
        assert!(kept.by_id.is_empty());
        assert_eq!(kept.body_bytes, 0);
    }

    #[test]
    fn large_bodies_are_kept_by_their_size() {
        let handoff = Handoff::default();
        handoff.open();
        handoff.put(1, webhook(1), BODY_BYTES_MAX + 1);
        assert_eq!(handoff.take(1), None, "too large to keep");
        // Bodies of the largest size kept: the oldest go once the bytes run out.
        let fit = (BODY_BYTES_KEPT / BODY_BYTES_MAX) as i64;
        for n in 0..=fit {
            handoff.put(10 + n, webhook(n), BODY_BYTES_MAX);
        }
        assert_eq!(handoff.take(10), None, "pushed out by size");
        assert_eq!(handoff.take(11), Some(webhook(1)));
        assert_eq!(handoff.take(10 + fit), Some(webhook(fit)));
        assert!(handoff.kept.lock().unwrap().body_bytes <= BODY_BYTES_KEPT);
        // Putting the same id again replaces it, counted once.
        handoff.put(99, webhook(1), 100);
        handoff.put(99, webhook(2), 50);
        let bytes = handoff.kept.lock().unwrap().body_bytes;
        assert_eq!(handoff.take(99), Some(webhook(2)));
        assert_eq!(handoff.kept.lock().unwrap().body_bytes, bytes - 50);
    }

    /// The webhook is in the handoff as soon as the writer has stored its
    /// event, not when the storing task runs again: a claim queued right
    /// behind the store (in its batch or the next) finds it held and leaves
    /// the body unread. Here the storing future is polled once (its insert
    /// queued) and not again until the claim has answered.
    #[cfg(feature = "receiver")]
    #[tokio::test]
    async fn a_claim_right_behind_the_store_finds_the_webhook_held() {
        use std::future::Future;
        use std::task::{Context, Poll, Waker};
        use std::time::Duration;

        use crate::inbox::queue::ClaimRequest;
        use crate::inbox::{Inbox, NewEvent, Stored};

        // The first poll queues the insert; on a busy machine the writer
        // thread may have answered before that poll looks for the answer,
        // and then the storing task has already run again: try afresh.
        for _ in 0..20 {
            let inbox = Inbox::open("sqlite::memory:").unwrap();
            inbox.open_handoff();
            let body = bytes::Bytes::from_static(
                br#"{"eventName": "OrderIssuedByBuyer", "orderEvent": {"orderId": "o1", "lines": []}}"#,
            );
            let decoded =
                crate::webhook::decode(Endpoint::Order, "application/json", &body).unwrap();
            let event = NewEvent::from_webhook(&decoded, "application/json", body.clone());
            let mut store = std::pin::pin!(inbox.store_webhook(event, decoded.clone()));
            let first = store.as_mut().poll(&mut Context::from_waker(Waker::noop()));
            if first.is_ready() {
                continue;
            }
            let request = ClaimRequest {
                owner: "test".into(),
                heads: 10,
                run_limit: 10,
                lease: Duration::from_secs(60),
                held: None,
            };
            let mut claimed = Vec::new();
            for _ in 0..100 {
                claimed = inbox.claim(request.clone()).await.unwrap();
                if !claimed.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let events: Vec<_> = claimed.iter().flat_map(|c| &c.events).collect();
            assert_eq!(events.len(), 1, "{claimed:?}");
            assert!(
                events[0].body.is_empty(),
                "the body was read: the webhook was not held"
            );
            let stored = match store.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(stored) => stored.unwrap(),
                Poll::Pending => panic!("the claim answered, the store of its event not yet"),
            };
            assert_eq!(stored, Stored::New(events[0].summary.id));
            assert_eq!(inbox.take_decoded(stored.id()), Some(decoded));
            return;
        }
        panic!("the writer answered within the first poll 20 times: nothing was tested");
    }
}
