//! Polling (api/polling/README.md): everything changed since a watermark,
//! page by page, as a [`PollStream`] of items and watermarks, or all at
//! once as a [`PollBatch`]. How pages and watermarks work:
//! [`pager`] (private; its documentation is in the source).

mod pager;

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::{Client, ClientError};
use crate::api::common::types::{Order, Shipment, SingleDeliveryOrder};
use crate::api::order_search::types::{
    OrderPollFilters, OrderPollRequest, OrderPollResponse, SingleDeliveryOrderPollResponse,
};
use crate::api::shipment::types::{ShipmentPollFilters, ShipmentPollRequest, ShipmentPollResponse};
use crate::api::{order_search, shipment};
use crate::operation::{Location, Operation};
use crate::types::DateTime;

use pager::{BoxFuture, Fetch, Page, Pager, PollItem};

/// Page size of the polling helpers: the largest `limit` the poll
/// operations' specs allow (their `maximum`, from the generated operation
/// tables; 100 today).
pub const POLL_PAGE_SIZE: u64 = poll_page_size(&[
    &order_search::operations::POLL_ORDERS_ROUTE,
    &order_search::operations::POLL_ORDERS_SINGLE_DELIVERY_ROUTE,
    &shipment::operations::POLL_SHIPMENTS_ROUTE,
]);

/// The largest `limit` that every one of `polls` accepts. A spec without
/// a `maximum` for `limit` (or one below 1) stops the build: the helpers
/// would not know how much to ask for.
const fn poll_page_size(polls: &[&Operation]) -> u64 {
    let mut size: Option<i128> = None;
    let mut i = 0;
    while i < polls.len() {
        let max = match polls[i].integer_maximum(Location::Body, "/limit") {
            Some(max) => max,
            None => panic!("a poll operation's spec states no `maximum` for `limit`; the poll page size is that maximum"),
        };
        size = match size {
            Some(size) if size < max => Some(size),
            _ => Some(max),
        };
        i += 1;
    }
    match size {
        Some(size) if size >= 1 && size <= u64::MAX as i128 => size as u64,
        _ => panic!("the poll operations' `limit` maximum is not a page size (1 or more)"),
    }
}

/// What a [`PollStream`] hands out.
#[derive(Debug, Clone, PartialEq)]
pub enum Polled<T> {
    /// A changed order or shipment (each once, or again when it changed
    /// once more while the poll was paging).
    Item(T),
    /// A watermark to **persist durably** once every item before it is
    /// processed, and to pass to the next poll (`lastUpdatedAfter`). It is
    /// the server's time, never the local clock; the last one of a poll is
    /// the server's `lastUpdatedAt`. Persist the complete string
    /// ([`DateTime::as_str`]).
    Watermark(DateTime),
}

/// Everything changed since a watermark, page by page: a
/// [`Stream`] of [`Polled`] items and watermarks.
/// Only one page is held in memory (and the ids seen, to hand each change
/// out once). Made by `client.orders().stream_since(..)` and friends.
///
/// Use it with `futures::StreamExt`/`TryStreamExt`, or with its own
/// [`next`](Self::next):
///
/// ```no_run
/// use tradecloud::client::Polled;
///
/// # async fn run(client: tradecloud::client::Client) -> Result<(), Box<dyn std::error::Error>> {
/// let watermark = std::fs::read_to_string("watermark.txt").ok().map(|s| s.trim().parse()).transpose()?;
/// let mut poll = client.orders().stream_since(watermark);
/// while let Some(event) = poll.next().await {
///     match event? {
///         Polled::Item(order) => println!("changed: {}", order.id()),
///         // Write durably (temporary file, fsync, rename) in real code.
///         Polled::Watermark(next) => std::fs::write("watermark.txt", next.as_str())?,
///     }
/// }
/// # Ok(())
/// # }
/// ```
///
/// # The watermark on the wire
///
/// `lastUpdatedAfter` is sent as api/polling/README.md writes the
/// timestamp, `YYYY-MM-DDThh:mm:ss.SSSZ` in UTC, whatever form of
/// [`DateTime`] you give: an offset (`2025-04-23T12:01:53+02:00`) is
/// converted to UTC (`2025-04-23T10:01:53.000Z`), a value without a zone
/// is read as UTC, and a date only (`2025-04-23`) is midnight UTC
/// (`2025-04-23T00:00:00.000Z`). A watermark Tradecloud handed out is
/// already in that form and goes back unchanged.
///
/// # Errors and resuming
///
/// An error ends the stream; the client has retried transient failures
/// already. The [`PollError`] says from which watermark to poll again
/// ([`PollError::resume_from`]): the last one the stream handed out, else
/// the one it started from, which is what a program that persists every
/// watermark has on disk anyway.
///
/// **Delivery is at least once.** A watermark handed out after a page in
/// the middle of a poll is the newest change time *before* that page's last
/// one (items sharing the last change time may continue on the next page,
/// and the next poll asks for changes strictly after its watermark). So a
/// poll resumed from it delivers again the last item of the last good page,
/// and any other items of that page with the same change time, before the
/// items that were never delivered. When the server does not sort the items
/// by change time, the stream hands out no watermark before the end, and a
/// resumed poll starts over from the watermark it started from. Make
/// processing an item twice harmless (e.g. keep the `lastUpdatedAt` you
/// processed per id); nothing is ever skipped.
#[must_use = "a stream does nothing unless polled"]
pub struct PollStream<T> {
    buffered: VecDeque<Polled<T>>,
    pager: Option<Pager<T>>,
    in_flight: Option<BoxFuture<PageDone<T>>>,
    pages: u32,
    start: Option<DateTime>,
}

// Nothing in it is pinned in place (the page in flight is boxed).
impl<T> Unpin for PollStream<T> {}

impl<T> PollStream<T> {
    /// Pages fetched so far.
    pub fn pages(&self) -> u32 {
        self.pages
    }
}

type PageDone<T> = (Pager<T>, Result<Option<Vec<Polled<T>>>, PollError>);

impl<T> std::fmt::Debug for PollStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PollStream")
            .field("pages", &self.pages)
            .field("buffered", &self.buffered.len())
            .finish_non_exhaustive()
    }
}

/// A poll that stopped part-way: what went wrong and from which watermark
/// to poll again. See [PollStream](PollStream#errors-and-resuming) for what
/// a resumed poll delivers again.
///
/// ```
/// use tradecloud::client::{ClientError, PollError};
///
/// let error = PollError::new(
///     Some("2025-04-23T10:01:53.812Z".parse()?),
///     2,
///     ClientError::Config("for the example".into()),
/// );
/// assert_eq!(error.resume_from.as_ref().map(|w| w.as_str()), Some("2025-04-23T10:01:53.812Z"));
/// assert_eq!(
///     error.to_string(),
///     "polling stopped after 2 page(s): for the example; poll again from watermark \
///      2025-04-23T10:01:53.812Z (the items up to it are complete; the last item before it comes again)"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[error("polling stopped after {pages} page(s): {error}; {}", Resume(.resume_from.as_ref()))]
#[non_exhaustive]
pub struct PollError {
    /// The watermark to poll again from: the last one handed out by the
    /// stream, else the one the poll started from (`None`: from the
    /// beginning).
    pub resume_from: Option<DateTime>,
    /// Pages fetched before the error.
    pub pages: u32,
    /// What went wrong (its message is part of this error's).
    pub error: ClientError,
}

impl PollError {
    /// A poll error; the client makes these, this is for tests and wrappers.
    pub fn new(resume_from: Option<DateTime>, pages: u32, error: ClientError) -> Self {
        PollError {
            resume_from,
            pages,
            error,
        }
    }

    /// Whether polling again later may succeed ([`ClientError::is_transient`]).
    pub fn is_transient(&self) -> bool {
        self.error.is_transient()
    }
}

/// ` poll again from ...`, for [`PollError`]'s message.
struct Resume<'a>(Option<&'a DateTime>);

impl std::fmt::Display for Resume<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(watermark) => write!(
                f,
                "poll again from watermark {watermark} (the items up to it are complete; the last item before it comes again)"
            ),
            None => f.write_str("poll again from the beginning (no watermark was handed out)"),
        }
    }
}

impl<T: PollItem + Send + 'static> PollStream<T> {
    /// A stream from `start` whose pages are `call(client, request(offset))`.
    /// `start` is kept in the form it is sent in ([`utc_watermark`]), so
    /// that a watermark that comes back from it (an empty poll's
    /// [`PollBatch::next_watermark`], [`PollError::resume_from`]) is the
    /// one the server was asked with, not the caller's spelling.
    pub(super) fn from_pages<Request, Response>(
        client: &Client,
        start: Option<DateTime>,
        request: impl Fn(u64) -> Request + Send + 'static,
        call: fn(Client, Request) -> BoxFuture<Result<Response, ClientError>>,
    ) -> Self
    where
        Request: 'static,
        Response: Into<Page<T>> + 'static,
    {
        let start = start.as_ref().map(utc_watermark);
        let client = client.clone();
        let fetch: Fetch<T> = Box::new(move |offset| {
            let response = call(client.clone(), request(offset));
            Box::pin(async move { response.await.map(Into::into) })
        });
        PollStream {
            buffered: VecDeque::new(),
            pager: Some(Pager::new(start.clone(), fetch)),
            in_flight: None,
            pages: 0,
            start,
        }
    }

    /// The next item or watermark; `None` when the poll is over.
    pub async fn next(&mut self) -> Option<Result<Polled<T>, PollError>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Runs the poll to its end and collects it into a [`PollBatch`]: each
    /// item once (its newest version, at its first position), and the last
    /// watermark (or the start when there was none). On an error nothing
    /// was delivered, so the error says to resume from the start.
    pub(super) async fn collect(mut self) -> Result<PollBatch<T>, PollError> {
        let start = self.start.clone();
        let mut items: Vec<T> = Vec::new();
        let mut positions: HashMap<String, usize> = HashMap::new();
        let mut next_watermark = start.clone();
        while let Some(event) = self.next().await {
            match event {
                Ok(Polled::Item(item)) => match item.key().map(str::to_owned) {
                    Some(key) => match positions.get(&key) {
                        Some(&at) => items[at] = item,
                        None => {
                            positions.insert(key, items.len());
                            items.push(item);
                        }
                    },
                    None => items.push(item),
                },
                Ok(Polled::Watermark(watermark)) => next_watermark = Some(watermark),
                Err(error) => {
                    return Err(PollError {
                        resume_from: start,
                        ..error
                    })
                }
            }
        }
        Ok(PollBatch {
            items,
            next_watermark,
            pages: self.pages,
        })
    }
}

impl<T: PollItem + Send + 'static> Stream for PollStream<T> {
    type Item = Result<Polled<T>, PollError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(event) = this.buffered.pop_front() {
                return Poll::Ready(Some(Ok(event)));
            }
            if this.in_flight.is_none() {
                let Some(mut pager) = this.pager.take() else {
                    return Poll::Ready(None);
                };
                if pager.done {
                    return Poll::Ready(None);
                }
                this.in_flight = Some(Box::pin(async move {
                    let result = pager.next_page().await;
                    (pager, result)
                }));
            }
            let Some(in_flight) = this.in_flight.as_mut() else {
                return Poll::Ready(None);
            };
            let (pager, result) = match in_flight.as_mut().poll(cx) {
                Poll::Ready(done) => done,
                Poll::Pending => return Poll::Pending,
            };
            this.in_flight = None;
            this.pages = pager.pages;
            this.pager = Some(pager);
            match result {
                Ok(Some(events)) => this.buffered.extend(events),
                Ok(None) => return Poll::Ready(None),
                Err(error) => return Poll::Ready(Some(Err(error))),
            }
        }
    }
}

/// Everything one poll returned, over all its pages.
///
/// **Persist [`next_watermark`](Self::next_watermark) durably** (a database
/// or a file that survives restarts and crashes), as the complete string,
/// after processing the items, and pass it to the next poll. It is the
/// server's `lastUpdatedAt`, never the local clock; when the poll found
/// nothing it is the watermark you passed in, as it was sent
/// (`YYYY-MM-DDThh:mm:ss.SSSZ` in UTC, see
/// [the watermark on the wire](PollStream#the-watermark-on-the-wire)). For large polls (a first
/// sync) prefer the [`PollStream`], which holds one page at a time.
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

fn limit() -> std::num::NonZeroU64 {
    std::num::NonZeroU64::MIN.saturating_add(POLL_PAGE_SIZE - 1)
}

/// `watermark` as api/polling/README.md writes the poll timestamp:
/// "The timestamp has format `YYYY-MM-DDThh:mm:ss.SSSZ`", in UTC. A
/// [`DateTime`] also reads other forms: an offset is converted to UTC, a
/// value without a zone is read as UTC (as [`DateTime::to_utc`] does), a
/// date only is midnight UTC. Milliseconds are always written; finer
/// digits, when the value has them, are kept (cutting them off would ask
/// for a slightly earlier instant). A value already in that form (what
/// Tradecloud answers as `lastUpdatedAt`) is sent back unchanged.
pub(crate) fn utc_watermark(watermark: &DateTime) -> DateTime {
    let utc = watermark.to_utc();
    let fraction = if utc.timestamp_subsec_nanos().is_multiple_of(1_000_000) {
        "%.3f"
    } else {
        "%.f"
    };
    let text = utc
        .format(&format!("%Y-%m-%dT%H:%M:%S{fraction}Z"))
        .to_string();
    // Only a year outside 0000-9999 after the conversion does not read
    // back; it is sent as given.
    text.parse().unwrap_or_else(|_| watermark.clone())
}

/// The request of the order poll page at `offset`, its watermark in UTC
/// ([`utc_watermark`]).
pub(super) fn order_request(filters: &OrderPollFilters, offset: u64) -> OrderPollRequest {
    let mut filters = filters.clone();
    filters.last_updated_after = filters.last_updated_after.as_ref().map(utc_watermark);
    OrderPollRequest {
        filters: Some(filters),
        limit: limit(),
        offset: Some(offset),
        extra: Default::default(),
    }
}

/// The request of the shipment poll page at `offset`, its watermark in
/// UTC ([`utc_watermark`]).
pub(super) fn shipment_request(filters: &ShipmentPollFilters, offset: u64) -> ShipmentPollRequest {
    let mut filters = filters.clone();
    filters.last_updated_after = filters.last_updated_after.as_ref().map(utc_watermark);
    ShipmentPollRequest {
        filters: Some(filters),
        limit: limit(),
        offset: Some(offset),
        extra: Default::default(),
    }
}

pub(super) fn order_filters(watermark: Option<DateTime>) -> OrderPollFilters {
    OrderPollFilters {
        last_updated_after: watermark,
        ..Default::default()
    }
}

pub(super) fn shipment_filters(watermark: Option<DateTime>) -> ShipmentPollFilters {
    ShipmentPollFilters {
        last_updated_after: watermark,
        ..Default::default()
    }
}

/// A poll response as a [`Page`].
macro_rules! page_from {
    ($($response:ty => $item:ty),* $(,)?) => {$(
        impl From<$response> for Page<$item> {
            fn from(response: $response) -> Self {
                Page {
                    items: response.data,
                    last_updated_at: response.last_updated_at,
                    total: response.total,
                }
            }
        }
    )*};
}

page_from!(
    OrderPollResponse => Order,
    SingleDeliveryOrderPollResponse => SingleDeliveryOrder,
    ShipmentPollResponse => Shipment,
);
