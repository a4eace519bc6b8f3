//! The paging engine behind [`PollStream`](super::PollStream) and the
//! batch helpers: one poll, page by page with `offset` and `limit`, each
//! changed item handed out once, and watermarks that are safe to persist.
//!
//! # Shifts while paging
//!
//! When the result shifts while paging (an item changes and moves to the
//! end, or `total` changes), offset paging may skip an item. The engine
//! notices (an id twice in one pass, or another `total`) and pages through
//! again, up to three passes, handing out only items it has not handed out
//! yet or that are newer now. It remembers the ids and timestamps it handed
//! out, not the items.
//!
//! # Watermarks
//!
//! * **At the end** of a stable pass: the server's `lastUpdatedAt` (only
//!   when it sent none, the newest item's; never the local clock), or the
//!   watermark passed in when nothing changed (api/polling: "reuse the
//!   current lastUpdatedAfter value").
//! * **After a page in the middle**, only while the items come sorted by
//!   their change time (as the mock and Tradecloud's examples do): the
//!   newest change time *before* the page's last one. Items sharing the
//!   page's last change time may continue on the next page, and the next
//!   poll asks for changes *strictly after* its watermark, so persisting
//!   that time could skip them; one time earlier cannot. After a crash the
//!   next poll fetches those items again: at least once, never lost.
//! * When no pass was stable, nothing further is handed out: the next poll
//!   starts from the last safe watermark and fetches the changes again.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;

use super::{PollError, Polled, POLL_PAGE_SIZE};
use crate::api::common::types::{Order, Shipment, SingleDeliveryOrder};
use crate::changes::LastUpdated;
use crate::client::ClientError;
use crate::types::DateTime;

/// Full passes over the pages before giving up on a stable result.
const MAX_PASSES: u32 = 3;

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
/// Fetches the page at an offset.
pub(super) type Fetch<T> = Box<dyn FnMut(u64) -> BoxFuture<Result<Page<T>, ClientError>> + Send>;

/// One page as the server sent it.
pub(crate) struct Page<T> {
    pub(super) items: Vec<T>,
    pub(super) last_updated_at: Option<DateTime>,
    pub(super) total: Option<i64>,
}

/// An item of a poll: its identity and change time. Implemented by
/// [`Order`], [`SingleDeliveryOrder`] and [`Shipment`]; not nameable
/// outside the crate.
pub trait PollItem {
    /// The item's `id`.
    fn key(&self) -> Option<&str>;
    /// The item's change time ([`LastUpdated`]: `lastUpdatedAt`, else
    /// `lastChangedAt`).
    fn updated(&self) -> Option<&DateTime>;
}

/// Orders and shipments: `id`, and their [`LastUpdated`] time.
macro_rules! poll_item {
    ($($ty:ty),*) => {$(
        impl PollItem for $ty {
            fn key(&self) -> Option<&str> {
                self.id.as_deref()
            }
            fn updated(&self) -> Option<&DateTime> {
                self.last_updated()
            }
        }
    )*};
}

poll_item!(Order, SingleDeliveryOrder, Shipment);

fn later(a: Option<DateTime>, b: Option<&DateTime>) -> Option<DateTime> {
    match (a, b) {
        (Some(a), Some(b)) if *b > a => Some(b.clone()),
        (Some(a), _) => Some(a),
        (None, b) => b.cloned(),
    }
}

/// The state of one poll between pages.
pub(super) struct Pager<T> {
    fetch: Fetch<T>,
    /// The watermark passed in.
    start: Option<DateTime>,
    /// The last watermark handed out (or `start`).
    emitted: Option<DateTime>,
    /// Ids handed out, with the change time of the version handed out.
    handed_out: HashMap<String, Option<DateTime>>,
    handed_out_any: bool,
    server_watermark: Option<DateTime>,
    item_watermark: Option<DateTime>,
    pub(super) pages: u32,
    pub(super) done: bool,
    pass: Pass,
}

/// The state of one pass over the pages.
#[derive(Default)]
struct Pass {
    number: u32,
    offset: u64,
    first_total: Option<i64>,
    stable: bool,
    seen: HashSet<String>,
    /// Whether the items came sorted by change time so far.
    sorted: bool,
    /// The change time of the last item.
    last: Option<DateTime>,
    /// The newest change time before `last`.
    before_last: Option<DateTime>,
}

impl Pass {
    fn new(number: u32) -> Self {
        Pass {
            number,
            stable: true,
            sorted: true,
            ..Pass::default()
        }
    }

    /// Follows the change times; `updated` of each item in order.
    fn track(&mut self, updated: Option<&DateTime>) {
        match (updated, &self.last) {
            (None, _) => self.sorted = false,
            (Some(time), Some(last)) if time < last => self.sorted = false,
            (Some(time), Some(last)) if time > last => {
                self.before_last = self.last.replace(time.clone());
            }
            (Some(_), Some(_)) => {}
            (Some(time), None) => self.last = Some(time.clone()),
        }
    }
}

impl<T: PollItem> Pager<T> {
    pub(super) fn new(start: Option<DateTime>, fetch: Fetch<T>) -> Self {
        Pager {
            fetch,
            emitted: start.clone(),
            start,
            handed_out: HashMap::new(),
            handed_out_any: false,
            server_watermark: None,
            item_watermark: None,
            pages: 0,
            done: false,
            pass: Pass::new(1),
        }
    }

    /// Fetches the next page: what to hand out for it, or `None` when the
    /// poll is over. An error names the last watermark handed out (or the
    /// start) to resume from.
    pub(super) async fn next_page(&mut self) -> Result<Option<Vec<Polled<T>>>, PollError> {
        if self.done {
            return Ok(None);
        }
        let page = match (self.fetch)(self.pass.offset).await {
            Ok(page) => page,
            Err(error) => {
                self.done = true;
                return Err(PollError {
                    resume_from: self.emitted.clone(),
                    pages: self.pages,
                    error,
                });
            }
        };
        self.pages += 1;
        self.server_watermark = later(self.server_watermark.take(), page.last_updated_at.as_ref());
        match (self.pass.first_total, page.total) {
            (None, total) => self.pass.first_total = total,
            (Some(first), Some(total)) if first != total => self.pass.stable = false,
            _ => {}
        }
        let count = page.items.len() as u64;
        let mut new_this_page = 0usize;
        let mut events = Vec::with_capacity(page.items.len() + 1);
        for item in page.items {
            let updated = item.updated().cloned();
            self.item_watermark = later(self.item_watermark.take(), updated.as_ref());
            self.pass.track(updated.as_ref());
            let Some(key) = item.key().map(str::to_owned) else {
                new_this_page += 1;
                self.hand_out(&mut events, item);
                continue;
            };
            if self.pass.seen.insert(key.clone()) {
                new_this_page += 1;
            } else {
                // The same item twice in one pass: the result shifted.
                self.pass.stable = false;
            }
            let newer = match self.handed_out.get(&key) {
                None => true,
                Some(old) => matches!((&updated, old), (Some(new), Some(old)) if new > old),
            };
            if newer {
                self.handed_out.insert(key, updated);
                self.hand_out(&mut events, item);
            }
        }
        self.pass.offset += count;
        let mut more = match page.total {
            Some(total) => count > 0 && self.pass.offset < u64::try_from(total).unwrap_or(0),
            None => count >= POLL_PAGE_SIZE,
        };
        if more && new_this_page == 0 {
            // A full page of repeats: the server ignores the offset.
            tracing::warn!(
                offset = self.pass.offset,
                "the poll returned only items seen before; stopping paging"
            );
            more = false;
        }
        if more {
            if self.pass.sorted {
                let safe = self.pass.before_last.clone();
                self.watermark(&mut events, safe);
            }
        } else if self.pass.stable {
            let last = if self.handed_out_any {
                later(
                    self.start.clone(),
                    self.server_watermark
                        .as_ref()
                        .or(self.item_watermark.as_ref()),
                )
            } else {
                self.start.clone()
            };
            self.watermark(&mut events, last);
            self.done = true;
        } else if self.pass.number >= MAX_PASSES {
            tracing::warn!(
                "the poll result kept changing while paging; keeping the last safe watermark so nothing is missed"
            );
            self.done = true;
        } else {
            tracing::debug!(
                pass = self.pass.number,
                "the poll result shifted while paging; paging through again"
            );
            self.pass = Pass::new(self.pass.number + 1);
        }
        Ok(Some(events))
    }

    fn hand_out(&mut self, events: &mut Vec<Polled<T>>, item: T) {
        self.handed_out_any = true;
        events.push(Polled::Item(item));
    }

    /// Hands out `watermark` when it is later than the last one.
    fn watermark(&mut self, events: &mut Vec<Polled<T>>, watermark: Option<DateTime>) {
        let Some(watermark) = watermark else {
            return;
        };
        if self
            .emitted
            .as_ref()
            .is_none_or(|emitted| watermark > *emitted)
        {
            self.emitted = Some(watermark.clone());
            events.push(Polled::Watermark(watermark));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Debug, Clone, PartialEq)]
    struct Item(String, DateTime);

    impl PollItem for Item {
        fn key(&self) -> Option<&str> {
            Some(&self.0)
        }
        fn updated(&self) -> Option<&DateTime> {
            Some(&self.1)
        }
    }

    fn at(second: u32) -> DateTime {
        format!("2025-04-23T10:00:{second:02}.000Z")
            .parse()
            .unwrap()
    }

    /// A server over `data`, in its order.
    fn serve(data: &[Item], offset: u64) -> Page<Item> {
        let items: Vec<Item> = data
            .iter()
            .skip(offset as usize)
            .take(POLL_PAGE_SIZE as usize)
            .cloned()
            .collect();
        Page {
            last_updated_at: data.iter().map(|i| i.1.clone()).max(),
            total: Some(data.len() as i64),
            items,
        }
    }

    fn run(
        start: Option<DateTime>,
        mut serve_page: impl FnMut(u64) -> Page<Item> + Send + 'static,
    ) -> (Vec<Polled<Item>>, u32) {
        let fetch: Fetch<Item> = Box::new(move |offset| {
            let page = serve_page(offset);
            Box::pin(async move { Ok(page) })
        });
        let mut pager = Pager::new(start, fetch);
        let mut events = Vec::new();
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(async {
                while let Some(page) = pager.next_page().await.unwrap() {
                    events.extend(page);
                }
            });
        (events, pager.pages)
    }

    fn watermarks(events: &[Polled<Item>]) -> Vec<&DateTime> {
        events
            .iter()
            .filter_map(|e| match e {
                Polled::Watermark(w) => Some(w),
                Polled::Item(_) => None,
            })
            .collect()
    }

    fn items(events: &[Polled<Item>]) -> Vec<&Item> {
        events
            .iter()
            .filter_map(|e| match e {
                Polled::Item(i) => Some(i),
                Polled::Watermark(_) => None,
            })
            .collect()
    }

    #[test]
    fn unsorted_results_get_only_the_final_watermark() {
        let data: Vec<Item> = (0..250)
            .map(|i| Item(format!("o{i}"), at(i % 60)))
            .collect();
        let served = data.clone();
        let (events, pages) = run(Some(at(0)), move |offset| serve(&served, offset));
        assert_eq!(items(&events), data.iter().collect::<Vec<_>>());
        assert_eq!(pages, 3);
        assert_eq!(watermarks(&events), [&at(59)]);
        assert!(matches!(events.last(), Some(Polled::Watermark(_))));
    }

    #[test]
    fn sorted_results_get_a_safe_watermark_after_each_page() {
        // 250 items, five per second (seconds 0 to 49).
        let data: Vec<Item> = (0..250)
            .map(|i| Item(format!("o{i:03}"), at(i / 5)))
            .collect();
        let served = data.clone();
        let (events, _) = run(None, move |offset| serve(&served, offset));
        // Page 1 ends with second 19; without looking ahead, only the time
        // before the last one is safe: second 18.
        assert_eq!(watermarks(&events), [&at(18), &at(38), &at(49)]);
        // Each watermark comes after the items it covers.
        let position = |w: &DateTime| {
            events
                .iter()
                .position(|e| matches!(e, Polled::Watermark(x) if x == w))
                .unwrap()
        };
        assert_eq!(position(&at(18)), 100);
        assert_eq!(items(&events).len(), 250);
    }

    #[test]
    fn an_error_names_the_last_watermark_handed_out() {
        // 250 items, five per second; the second page fails.
        let data: Vec<Item> = (0..250)
            .map(|i| Item(format!("o{i:03}"), at(i / 5)))
            .collect();
        let fetch: Fetch<Item> = Box::new(move |offset| {
            let page = serve(&data, offset);
            Box::pin(async move {
                if offset == 0 {
                    Ok(page)
                } else {
                    Err(ClientError::Config("the second page fails".into()))
                }
            })
        });
        let mut pager = Pager::new(Some(at(0)), fetch);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let first = runtime.block_on(pager.next_page()).unwrap().unwrap();
        assert_eq!(watermarks(&first), [&at(18)]);
        let error = runtime.block_on(pager.next_page()).unwrap_err();
        assert_eq!(error.resume_from, Some(at(18)));
        assert_eq!(error.pages, 1);
        assert!(pager.done);
        // An error before any watermark: resume from the start.
        let fetch: Fetch<Item> =
            Box::new(|_| Box::pin(async { Err(ClientError::Config("down".into())) }));
        let mut pager = Pager::new(Some(at(5)), fetch);
        let error = runtime.block_on(pager.next_page()).unwrap_err();
        assert_eq!((error.resume_from, error.pages), (Some(at(5)), 0));
    }

    #[test]
    fn an_empty_poll_keeps_the_watermark() {
        let (events, pages) = run(Some(at(5)), |_| Page {
            items: Vec::new(),
            last_updated_at: None,
            total: Some(0),
        });
        assert!(events.is_empty());
        assert_eq!(pages, 1);
    }

    #[test]
    fn a_shift_while_paging_is_repaired() {
        // 150 items; after the first page, item o10 changes and moves to the
        // end, which shifts every later item one place to the front.
        let data = Arc::new(Mutex::new(
            (0..150)
                .map(|i| Item(format!("o{i}"), at(1)))
                .collect::<Vec<_>>(),
        ));
        let mut calls = 0;
        let (events, _) = run(None, move |offset| {
            calls += 1;
            let mut data = data.lock().unwrap();
            if calls == 2 {
                let moved = data.remove(10);
                data.push(Item(moved.0, at(2)));
            }
            serve(&data, offset)
        });
        let handed_out = items(&events);
        let mut ids: Vec<&str> = handed_out.iter().map(|i| i.0.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 150, "every item at least once");
        assert_eq!(
            handed_out.len(),
            151,
            "o10 twice: its old and its new version"
        );
        assert_eq!(watermarks(&events).last(), Some(&&at(2)));
    }
}
