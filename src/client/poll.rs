//! The polling helper (api/polling/README.md): fetch everything changed
//! since a watermark, page by page, and hand back the server's
//! `lastUpdatedAt` as the next watermark.

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroU64;

use super::{Client, ClientError};
use crate::api::common::types::{Order, Shipment, SingleDeliveryOrder};
use crate::api::order_search::types::{OrderPollFilters, OrderPollRequest};
use crate::api::shipment::types::{ShipmentPollFilters, ShipmentPollRequest};
use crate::types::DateTime;

/// Page size of the polling helper: 100, the maximum Tradecloud allows.
pub const POLL_PAGE_SIZE: u64 = 100;
/// Full passes over the pages before giving up on a stable result.
const MAX_PASSES: u32 = 3;

/// Everything one poll returned, over all its pages.
///
/// **Persist [`next_watermark`](Self::next_watermark) durably** (a database
/// or a file that survives restarts and crashes), as the complete string,
/// after processing the items, and pass it to the next poll. It is the
/// server's `lastUpdatedAt`, never the local clock; when the poll found
/// nothing it is the watermark you passed in.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PollBatch<T> {
    /// The changed orders or shipments, each exactly once (by `id`; when an
    /// item came back twice while paging, its newest version is kept at its
    /// first position).
    pub items: Vec<T>,
    /// The watermark for the next poll (`lastUpdatedAfter`).
    pub next_watermark: Option<DateTime>,
    /// Pages fetched.
    pub pages: u32,
}

/// An item of a poll: its identity and change time.
trait PollItem {
    fn key(&self) -> Option<&str>;
    fn updated(&self) -> Option<&DateTime>;
}

impl PollItem for Order {
    fn key(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn updated(&self) -> Option<&DateTime> {
        self.last_updated_at
            .as_ref()
            .or(self.last_changed_at.as_ref())
    }
}

impl PollItem for SingleDeliveryOrder {
    fn key(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn updated(&self) -> Option<&DateTime> {
        self.last_updated_at
            .as_ref()
            .or(self.last_changed_at.as_ref())
    }
}

impl PollItem for Shipment {
    fn key(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn updated(&self) -> Option<&DateTime> {
        let meta = self.meta.as_ref()?;
        meta.last_updated_at
            .as_ref()
            .or(meta.last_changed_at.as_ref())
    }
}

/// One page as the server sent it.
struct Page<T> {
    items: Vec<T>,
    last_updated_at: Option<DateTime>,
    total: Option<i64>,
}

fn limit() -> NonZeroU64 {
    NonZeroU64::MIN.saturating_add(POLL_PAGE_SIZE - 1)
}

fn later(a: Option<DateTime>, b: Option<&DateTime>) -> Option<DateTime> {
    match (a, b) {
        (Some(a), Some(b)) if *b > a => Some(b.clone()),
        (Some(a), _) => Some(a),
        (None, b) => b.cloned(),
    }
}

/// Pages through one poll with `offset` and `limit`.
///
/// Items are keyed by `id`. When the result shifts while paging (an item
/// changes and moves, or `total` changes), the pass may have skipped an item;
/// the helper then pages through again (up to three passes), merging by id.
/// When no pass was stable, the previous watermark is returned, so the next
/// poll fetches the same changes again rather than losing one.
async fn page_through<T, F, Fut>(
    watermark: Option<DateTime>,
    start_offset: u64,
    mut fetch: F,
) -> Result<PollBatch<T>, ClientError>
where
    T: PollItem,
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<Page<T>, ClientError>>,
{
    let mut items: Vec<T> = Vec::new();
    let mut positions: HashMap<String, usize> = HashMap::new();
    let mut server_watermark: Option<DateTime> = None;
    let mut item_watermark: Option<DateTime> = None;
    let mut pages = 0u32;
    let mut stable = false;
    for pass in 1..=MAX_PASSES {
        stable = true;
        let mut seen_this_pass: HashMap<String, ()> = HashMap::new();
        let mut offset = start_offset;
        let mut first_total: Option<i64> = None;
        loop {
            let page = fetch(offset).await?;
            pages += 1;
            server_watermark = later(server_watermark, page.last_updated_at.as_ref());
            match (first_total, page.total) {
                (None, total) => first_total = total,
                (Some(first), Some(total)) if first != total => stable = false,
                _ => {}
            }
            let count = page.items.len() as u64;
            let mut new_this_page = 0usize;
            for item in page.items {
                item_watermark = later(item_watermark, item.updated());
                let Some(key) = item.key().map(str::to_owned) else {
                    items.push(item);
                    new_this_page += 1;
                    continue;
                };
                if seen_this_pass.insert(key.clone(), ()).is_some() {
                    // The same item twice in one pass: the result shifted.
                    stable = false;
                } else {
                    new_this_page += 1;
                }
                match positions.get(&key) {
                    Some(&at) => {
                        let newer = match (item.updated(), items[at].updated()) {
                            (Some(new), Some(old)) => new >= old,
                            _ => true,
                        };
                        if newer {
                            items[at] = item;
                        }
                    }
                    None => {
                        positions.insert(key, items.len());
                        items.push(item);
                    }
                }
            }
            offset += count;
            let more = match page.total {
                Some(total) => count > 0 && offset < u64::try_from(total).unwrap_or(0),
                None => count >= POLL_PAGE_SIZE,
            };
            if !more {
                break;
            }
            if new_this_page == 0 {
                // A full page of repeats: the server ignores the offset.
                tracing::warn!(
                    offset,
                    "the poll returned only items seen before; stopping paging"
                );
                break;
            }
        }
        if stable {
            break;
        }
        tracing::debug!(
            pass,
            "the poll result shifted while paging; paging through again"
        );
    }
    let next_watermark = if !stable {
        tracing::warn!(
            "the poll result kept changing while paging; keeping the previous watermark so nothing is missed"
        );
        watermark
    } else if items.is_empty() {
        // api/polling: "If the response contains no data, reuse the current
        // lastUpdatedAfter value."
        watermark
    } else {
        // The server's lastUpdatedAt; only when it sent none, the newest
        // item's. Never the local clock.
        later(watermark, server_watermark.or(item_watermark).as_ref())
    };
    Ok(PollBatch {
        items,
        next_watermark,
        pages,
    })
}

impl Client {
    /// All orders (delivery schedule) changed after `watermark`, over all
    /// pages, with the next watermark. `None` polls from the beginning.
    ///
    /// ```no_run
    /// # async fn run(client: tradecloud::client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// let watermark = std::fs::read_to_string("watermark.txt").ok().map(|s| s.trim().parse()).transpose()?;
    /// let batch = client.poll_orders_since(watermark).await?;
    /// for order in &batch.items {
    ///     // process the order ...
    /// }
    /// if let Some(next) = &batch.next_watermark {
    ///     // Write durably (write a temporary file, fsync, rename) in real code.
    ///     std::fs::write("watermark.txt", next.as_str())?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn poll_orders_since(
        &self,
        watermark: Option<DateTime>,
    ) -> Result<PollBatch<Order>, ClientError> {
        self.poll_orders_filtered(order_filters(watermark)).await
    }

    /// Like [`poll_orders_since`](Self::poll_orders_since), with more filters
    /// (e.g. `status.processStatus`); the watermark is
    /// `filters.last_updated_after`.
    pub async fn poll_orders_filtered(
        &self,
        filters: OrderPollFilters,
    ) -> Result<PollBatch<Order>, ClientError> {
        let watermark = filters.last_updated_after.clone();
        page_through(watermark, 0, |offset| {
            let request = order_request(&filters, offset);
            async move {
                let response = self.poll_orders(&request).await?;
                Ok(Page {
                    items: response.data,
                    last_updated_at: response.last_updated_at,
                    total: response.total,
                })
            }
        })
        .await
    }

    /// All single-delivery orders changed after `watermark`, over all pages.
    pub async fn poll_single_delivery_orders_since(
        &self,
        watermark: Option<DateTime>,
    ) -> Result<PollBatch<SingleDeliveryOrder>, ClientError> {
        self.poll_single_delivery_orders_filtered(order_filters(watermark))
            .await
    }

    /// Like [`poll_single_delivery_orders_since`](Self::poll_single_delivery_orders_since),
    /// with more filters.
    pub async fn poll_single_delivery_orders_filtered(
        &self,
        filters: OrderPollFilters,
    ) -> Result<PollBatch<SingleDeliveryOrder>, ClientError> {
        let watermark = filters.last_updated_after.clone();
        page_through(watermark, 0, |offset| {
            let request = order_request(&filters, offset);
            async move {
                let response = self.poll_single_delivery_orders(&request).await?;
                Ok(Page {
                    items: response.data,
                    last_updated_at: response.last_updated_at,
                    total: response.total,
                })
            }
        })
        .await
    }

    /// All shipments changed after `watermark`, over all pages.
    pub async fn poll_shipments_since(
        &self,
        watermark: Option<DateTime>,
    ) -> Result<PollBatch<Shipment>, ClientError> {
        self.poll_shipments_filtered(ShipmentPollFilters {
            buyer_shipment: None,
            last_updated_after: watermark,
            status: None,
            extra: Default::default(),
        })
        .await
    }

    /// Like [`poll_shipments_since`](Self::poll_shipments_since), with more
    /// filters.
    pub async fn poll_shipments_filtered(
        &self,
        filters: ShipmentPollFilters,
    ) -> Result<PollBatch<Shipment>, ClientError> {
        let watermark = filters.last_updated_after.clone();
        page_through(watermark, 0, |offset| {
            let request = ShipmentPollRequest {
                filters: Some(filters.clone()),
                limit: limit(),
                offset: Some(offset),
                extra: Default::default(),
            };
            async move {
                let response = self.poll_shipments(&request).await?;
                Ok(Page {
                    items: response.data,
                    last_updated_at: response.last_updated_at,
                    total: response.total,
                })
            }
        })
        .await
    }
}

fn order_filters(watermark: Option<DateTime>) -> OrderPollFilters {
    OrderPollFilters {
        company_id: None,
        last_updated_after: watermark,
        status: None,
        extra: Default::default(),
    }
}

fn order_request(filters: &OrderPollFilters, offset: u64) -> OrderPollRequest {
    OrderPollRequest {
        filters: Some(filters.clone()),
        limit: limit(),
        offset: Some(offset),
        extra: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

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

    /// A server over `data` sorted by change time.
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

    fn block<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn pages_through_everything_once() {
        let data: Vec<Item> = (0..250)
            .map(|i| Item(format!("o{i}"), at(i % 60)))
            .collect();
        let batch = block(page_through(Some(at(0)), 0, |offset| {
            let page = serve(&data, offset);
            async move { Ok(page) }
        }))
        .unwrap();
        assert_eq!(batch.items, data);
        assert_eq!(batch.pages, 3);
        assert_eq!(batch.next_watermark.unwrap().as_str(), at(59).as_str());
    }

    #[test]
    fn keeps_the_watermark_when_empty() {
        let batch = block(page_through::<Item, _, _>(Some(at(5)), 0, |_| async {
            Ok(Page {
                items: Vec::new(),
                last_updated_at: None,
                total: Some(0),
            })
        }))
        .unwrap();
        assert!(batch.items.is_empty());
        assert_eq!(batch.next_watermark.unwrap().as_str(), at(5).as_str());
    }

    #[test]
    fn a_shift_while_paging_is_repaired() {
        // 150 items; after the first page, item o10 changes and moves to the
        // end, which shifts every later item one place to the front.
        let data = RefCell::new(
            (0..150)
                .map(|i| Item(format!("o{i}"), at(1)))
                .collect::<Vec<_>>(),
        );
        let calls = RefCell::new(0);
        let batch = block(page_through(None, 0, |offset| {
            *calls.borrow_mut() += 1;
            if *calls.borrow() == 2 {
                let mut data = data.borrow_mut();
                let moved = data.remove(10);
                data.push(Item(moved.0, at(2)));
            }
            let page = serve(&data.borrow(), offset);
            async move { Ok(page) }
        }))
        .unwrap();
        let mut ids: Vec<&str> = batch.items.iter().map(|i| i.0.as_str()).collect();
        assert_eq!(ids.len(), 150);
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 150, "every item exactly once");
        let o10 = batch.items.iter().find(|i| i.0 == "o10").unwrap();
        assert_eq!(o10.1, at(2), "the newest version is kept");
        assert_eq!(batch.next_watermark.unwrap(), at(2));
    }
}
