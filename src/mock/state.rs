//! The state shared by every route of the mock: data, presigned URLs and
//! counters here; tokens in [`super::tokens`], fault rules in
//! [`super::faults`].

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::response::Response;
use chrono::{DurationRound as _, Utc};

use super::config::{MockCompany, MockConfig, MockUser};
use super::data::{MockData, MockDocument};
use super::error::MockError;
use super::faults::Faults;
use super::record::Record;
use super::stats::{operation, MockStats, RequestRecord};
use super::tokens::Tokens;
use crate::api::common::types::{ErrorResponse, Order, Shipment, SingleDeliveryOrder};
use crate::types::{DateTime, Party};

/// Lock a mutex, recovering the data if another thread panicked while
/// holding it (the state stays usable; every update is a single step).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An error body with a message.
pub(crate) fn error_body(message: impl Into<String>) -> ErrorResponse {
    ErrorResponse {
        detail: None,
        message: Some(message.into()),
        status: None,
        title: None,
        type_: None,
        extra: Default::default(),
    }
}

/// The body of a `404` for an order id the mock does not hold (GET order
/// and the order actions say the same).
pub(crate) fn order_not_found(order_id: &str) -> ErrorResponse {
    error_body(format!("order {order_id} not found"))
}

/// Why a request does not reach its operation.
pub(crate) enum Denied {
    /// Answer `401` with this body.
    Unauthorized(ErrorResponse),
    /// Answer `403` with this body: the other company's action.
    Forbidden(ErrorResponse),
    /// Answer this response (an injected fault).
    Response(Response),
}

struct Presigned {
    object_id: String,
    expires_at: Instant,
}

/// Outcome of checking a presigned URL.
pub(crate) enum PresignedCheck {
    Valid,
    Expired,
    Unknown,
}

#[derive(Default)]
pub(crate) struct Objects {
    pub(super) orders: BTreeMap<String, Order>,
    pub(super) single_delivery_orders: BTreeMap<String, SingleDeliveryOrder>,
    pub(super) shipments: BTreeMap<String, Shipment>,
    documents: BTreeMap<String, MockDocument>,
    /// The ids of the orders the process created (the only ones it changes).
    pub(super) process_orders: std::collections::BTreeSet<String>,
    /// The shipment id of each despatch advice number the supplier sent.
    pub(super) despatch_advices: BTreeMap<String, String>,
    /// The shipment header each despatch advice number last sent (the
    /// shipment as that advice made it, without lines; its
    /// `meta.lastUpdatedAt` says when), for the shipment an advice leaves.
    pub(super) advice_headers: BTreeMap<String, Shipment>,
    /// The forecasts the buyer sent, oldest first (appended, never updated).
    pub(super) forecasts: Vec<super::forecast::MockForecast>,
    /// The last `lastUpdatedAt` handed out (or the latest in the data).
    clock: Option<chrono::DateTime<Utc>>,
}

impl Objects {
    fn observe(&mut self, time: Option<&DateTime>) {
        if let Some(time) = time {
            let utc = time.to_utc();
            if self.clock.is_none_or(|c| utc > c) {
                self.clock = Some(utc);
            }
        }
    }

    /// A new `lastUpdatedAt`: now, in milliseconds, but always later than
    /// every one handed out before and every one in the data, so that a poll
    /// with the previous watermark always sees the change.
    pub(crate) fn stamp(&mut self) -> DateTime {
        let now = Utc::now();
        let now = now
            .duration_trunc(chrono::TimeDelta::milliseconds(1))
            .unwrap_or(now);
        let next = match self.clock {
            Some(last) if now <= last => last + chrono::TimeDelta::milliseconds(1),
            _ => now,
        };
        self.clock = Some(next);
        DateTime::from(next)
    }
}

#[derive(Default)]
struct Counters {
    stats: MockStats,
    log: Vec<RequestRecord>,
}

/// Everything the routes share.
pub(crate) struct MockState {
    pub(super) users: Vec<MockUser>,
    /// The buyer company of the process.
    pub(super) buyer: MockCompany,
    /// The supplier company of the process.
    pub(super) supplier: MockCompany,
    pub(super) access_lifetime: Duration,
    pub(super) refresh_lifetime: Duration,
    download_lifetime: Duration,
    pub(crate) local_addr: SocketAddr,
    store: Mutex<Objects>,
    pub(super) tokens: Mutex<Tokens>,
    presigned: Mutex<HashMap<String, Presigned>>,
    pub(super) faults: Mutex<Faults>,
    counters: Mutex<Counters>,
    /// The webhooks, their queues and the delivery log.
    pub(crate) webhooks: Arc<super::webhooks::WebhookHub>,
}

impl MockState {
    pub(crate) fn new(
        config: &MockConfig,
        data: MockData,
        local_addr: SocketAddr,
    ) -> Result<Self, MockError> {
        let mut users = config.users.clone();
        for company in [&config.buyer, &config.supplier] {
            if !users
                .iter()
                .any(|u| u.email.eq_ignore_ascii_case(&company.user.email))
            {
                users.push(company.user.clone());
            }
        }
        let state = MockState {
            users,
            buyer: config.buyer.clone(),
            supplier: config.supplier.clone(),
            access_lifetime: config.access_token_lifetime,
            refresh_lifetime: config.refresh_token_lifetime,
            download_lifetime: config.download_url_lifetime,
            local_addr,
            store: Mutex::new(Objects::default()),
            tokens: Mutex::new(Tokens::default()),
            presigned: Mutex::new(HashMap::new()),
            faults: Mutex::new(Faults::new(config.seed)),
            counters: Mutex::new(Counters::default()),
            webhooks: Arc::new(super::webhooks::WebhookHub::new(
                &config.webhooks,
                config.delivery_backoff,
                config.ca_file.as_ref(),
                &config.webhook_faults,
                [
                    (Party::Buyer, &config.buyer),
                    (Party::Supplier, &config.supplier),
                ],
            )?),
        };
        state.set_faults(config.faults.clone());
        for order in data.orders {
            state.insert(order)?;
        }
        for order in data.single_delivery_orders {
            state.insert(order)?;
        }
        for shipment in data.shipments {
            state.insert(shipment)?;
        }
        for (object_id, document) in data.documents {
            state.insert_document(object_id, document);
        }
        Ok(state)
    }

    pub(crate) fn primary_user(&self) -> MockUser {
        self.users.first().cloned().unwrap_or_default()
    }

    // ----- counters ------------------------------------------------------

    /// Count a request of `operation` and log its arrival.
    pub(crate) fn record(&self, operation: &'static str) {
        let mut counters = lock(&self.counters);
        *counters
            .stats
            .requests
            .entry(operation.to_owned())
            .or_default() += 1;
        counters.log.push(RequestRecord {
            at: Instant::now(),
            operation,
        });
        tracing::debug!(operation, "mock request");
    }

    pub(crate) fn count(&self, update: impl FnOnce(&mut MockStats)) {
        update(&mut lock(&self.counters).stats);
    }

    pub(crate) fn count_status(&self, status: u16) {
        self.count(|s| {
            *s.statuses.entry(status).or_default() += 1;
            if status == 401 {
                s.unauthorized += 1;
            }
        });
    }

    /// An accepted message that changed nothing (or nothing of some of its
    /// lines) because it named something the mock does not know: `what`
    /// says what, and what to check. Logged as a warning and counted
    /// ([`MockStats::unmatched`]).
    pub(crate) fn unmatched(&self, what: String) {
        tracing::warn!(target: "tradecloud::mock", "{what}");
        self.count(|s| {
            s.unmatched_messages += 1;
            s.unmatched.push(what);
            let over = s
                .unmatched
                .len()
                .saturating_sub(super::stats::MAX_UNMATCHED);
            s.unmatched.drain(..over);
        });
    }

    pub(crate) fn stats(&self) -> MockStats {
        lock(&self.counters).stats.clone()
    }

    pub(crate) fn request_log(&self) -> Vec<RequestRecord> {
        lock(&self.counters).log.clone()
    }

    pub(crate) fn peak_requests_in(&self, window: Duration) -> usize {
        let counters = lock(&self.counters);
        super::stats::peak_in_window(&counters.log, window, |op| {
            op != operation::MOCK_S3_DOWNLOAD
        })
    }

    pub(crate) fn reset_stats(&self) {
        *lock(&self.counters) = Counters::default();
    }

    // ----- presigned download URLs ----------------------------------------

    pub(crate) fn download_lifetime(&self) -> Duration {
        self.download_lifetime
    }

    /// Register a presigned signature for `object_id`.
    pub(crate) fn presign(&self, object_id: &str) -> String {
        let now = Instant::now();
        let signature = format!("{:032x}{:032x}", fastrand::u128(..), fastrand::u128(..));
        let mut presigned = lock(&self.presigned);
        // Forget signatures that expired more than an hour ago.
        presigned
            .retain(|_, p| now.saturating_duration_since(p.expires_at) < Duration::from_secs(3600));
        presigned.insert(
            signature.clone(),
            Presigned {
                object_id: object_id.to_owned(),
                expires_at: now + self.download_lifetime,
            },
        );
        signature
    }

    pub(crate) fn check_presigned(&self, object_id: &str, signature: &str) -> PresignedCheck {
        match lock(&self.presigned).get(signature) {
            Some(p) if p.object_id != object_id => PresignedCheck::Unknown,
            Some(p) if p.expires_at <= Instant::now() => PresignedCheck::Expired,
            Some(_) => PresignedCheck::Valid,
            None => PresignedCheck::Unknown,
        }
    }

    pub(crate) fn expire_download_urls(&self) {
        let now = Instant::now();
        lock(&self.presigned)
            .values_mut()
            .for_each(|p| p.expires_at = now);
    }

    // ----- data --------------------------------------------------------------

    /// Store an object as it is (its timestamps untouched); it needs an id.
    pub(crate) fn insert<R: Record>(&self, record: R) -> Result<(), MockError> {
        let id = record
            .record_id()
            .ok_or(MockError::MissingId { kind: R::KIND })?;
        let mut store = lock(&self.store);
        store.observe(record.last_updated());
        R::map(&mut store).insert(id, record);
        Ok(())
    }

    /// Store a new or changed object stamped with a new `lastUpdatedAt`
    /// (see [`Objects::stamp`]); returns that timestamp.
    pub(crate) fn update<R: Record>(&self, mut record: R) -> Result<DateTime, MockError> {
        let id = record
            .record_id()
            .ok_or(MockError::MissingId { kind: R::KIND })?;
        let mut store = lock(&self.store);
        let now = store.stamp();
        record.stamp(&now);
        R::map(&mut store).insert(id, record);
        Ok(now)
    }

    /// Run `f` on the whole store under its lock, with a function handing
    /// out new `lastUpdatedAt` timestamps (see [`Objects::stamp`]).
    pub(crate) fn with_store<T>(&self, f: impl FnOnce(&mut Objects) -> T) -> T {
        f(&mut lock(&self.store))
    }

    /// Remove the object of kind `R` with this id.
    pub(crate) fn remove<R: Record>(&self, id: &str) -> Option<R> {
        R::map(&mut lock(&self.store)).remove(id)
    }

    /// The stored object of kind `R` with this id.
    pub(crate) fn get<R: Record>(&self, id: &str) -> Option<R> {
        R::map(&mut lock(&self.store)).get(id).cloned()
    }

    pub(crate) fn insert_document(&self, object_id: impl Into<String>, document: MockDocument) {
        lock(&self.store)
            .documents
            .insert(object_id.into(), document);
    }

    pub(crate) fn remove_document(&self, object_id: &str) -> Option<MockDocument> {
        lock(&self.store).documents.remove(object_id)
    }

    pub(crate) fn document(&self, object_id: &str) -> Option<MockDocument> {
        lock(&self.store).documents.get(object_id).cloned()
    }

    pub(crate) fn counts(&self) -> (usize, usize, usize, Vec<String>) {
        let store = lock(&self.store);
        (
            store.orders.len(),
            store.single_delivery_orders.len(),
            store.shipments.len(),
            store.documents.keys().cloned().collect(),
        )
    }

    /// Run `f` on the orders (for polling).
    pub(crate) fn with_orders<R>(&self, f: impl FnOnce(&BTreeMap<String, Order>) -> R) -> R {
        f(&lock(&self.store).orders)
    }

    pub(crate) fn with_single_delivery_orders<R>(
        &self,
        f: impl FnOnce(&BTreeMap<String, SingleDeliveryOrder>) -> R,
    ) -> R {
        f(&lock(&self.store).single_delivery_orders)
    }

    pub(crate) fn with_shipments<R>(&self, f: impl FnOnce(&BTreeMap<String, Shipment>) -> R) -> R {
        f(&lock(&self.store).shipments)
    }
}
