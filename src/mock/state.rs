//! The state shared by every route of the mock: data, tokens, presigned
//! URLs, fault rules and counters.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::response::Response;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chrono::{DurationRound as _, Utc};
use http::header::{AUTHORIZATION, RETRY_AFTER};
use http::{HeaderMap, HeaderValue};

use super::config::{Fault, FaultConfig, FaultTrigger, MockConfig, MockUser};
use super::data::{MockData, MockDocument};
use super::error::MockError;
use super::stats::{operation, MockStats, RequestRecord};
use crate::api::common::types::{
    ErrorResponse, Order, Shipment, ShipmentMeta, SingleDeliveryOrder,
};
use crate::types::DateTime;

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
        message: Some(message.into()),
        extra: Default::default(),
    }
}

/// Why a request does not reach its operation.
pub(crate) enum Denied {
    /// Answer `401` with this body.
    Unauthorized(ErrorResponse),
    /// Answer this response (an injected fault).
    Response(Response),
}

/// How an API request authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Credential {
    Bearer,
    Basic,
}

struct TokenEntry {
    user: String,
    session: u64,
    expires_at: Instant,
}

#[derive(Default)]
struct Tokens {
    access: HashMap<String, TokenEntry>,
    refresh: HashMap<String, TokenEntry>,
    next_session: u64,
}

impl Tokens {
    fn prune(&mut self, now: Instant) {
        self.access.retain(|_, t| t.expires_at > now);
        self.refresh.retain(|_, t| t.expires_at > now);
    }
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

struct InstalledFault {
    config: FaultConfig,
    seen: u64,
}

struct Faults {
    rules: Vec<InstalledFault>,
    rng: fastrand::Rng,
}

#[derive(Default)]
struct Store {
    orders: BTreeMap<String, Order>,
    single_delivery_orders: BTreeMap<String, SingleDeliveryOrder>,
    shipments: BTreeMap<String, Shipment>,
    documents: BTreeMap<String, MockDocument>,
    /// The last `lastUpdatedAt` handed out (or the latest in the data).
    clock: Option<chrono::DateTime<Utc>>,
}

impl Store {
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
    fn stamp(&mut self) -> DateTime {
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
    users: Vec<MockUser>,
    access_lifetime: Duration,
    refresh_lifetime: Duration,
    download_lifetime: Duration,
    pub(crate) local_addr: SocketAddr,
    store: Mutex<Store>,
    tokens: Mutex<Tokens>,
    presigned: Mutex<HashMap<String, Presigned>>,
    faults: Mutex<Faults>,
    counters: Mutex<Counters>,
}

/// The order's timestamp: `lastUpdatedAt`, else the older `lastChangedAt`.
pub(crate) fn order_updated(order: &Order) -> Option<&DateTime> {
    order
        .last_updated_at
        .as_ref()
        .or(order.last_changed_at.as_ref())
}

pub(crate) fn single_delivery_updated(order: &SingleDeliveryOrder) -> Option<&DateTime> {
    order
        .last_updated_at
        .as_ref()
        .or(order.last_changed_at.as_ref())
}

pub(crate) fn shipment_updated(shipment: &Shipment) -> Option<&DateTime> {
    let meta = shipment.meta.as_ref()?;
    meta.last_updated_at
        .as_ref()
        .or(meta.last_changed_at.as_ref())
}

impl MockState {
    pub(crate) fn new(
        config: &MockConfig,
        data: MockData,
        local_addr: SocketAddr,
    ) -> Result<Self, MockError> {
        let state = MockState {
            users: config.users.clone(),
            access_lifetime: config.access_token_lifetime,
            refresh_lifetime: config.refresh_token_lifetime,
            download_lifetime: config.download_url_lifetime,
            local_addr,
            store: Mutex::new(Store::default()),
            tokens: Mutex::new(Tokens::default()),
            presigned: Mutex::new(HashMap::new()),
            faults: Mutex::new(Faults {
                rules: Vec::new(),
                rng: config
                    .seed
                    .map(fastrand::Rng::with_seed)
                    .unwrap_or_default(),
            }),
            counters: Mutex::new(Counters::default()),
        };
        state.set_faults(config.faults.clone());
        for order in data.orders {
            state.insert_order(order)?;
        }
        for order in data.single_delivery_orders {
            state.insert_single_delivery_order(order)?;
        }
        for shipment in data.shipments {
            state.insert_shipment(shipment)?;
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

    // ----- faults ----------------------------------------------------------

    pub(crate) fn set_faults(&self, faults: Vec<FaultConfig>) {
        lock(&self.faults).rules = faults
            .into_iter()
            .map(|config| InstalledFault { config, seen: 0 })
            .collect();
    }

    /// Which faults fire for this request: the total delay and the status
    /// to answer, if any. `explicit_only`: only rules naming `operation`.
    fn pick_faults(
        &self,
        operation: &str,
        explicit_only: bool,
    ) -> (Duration, Option<(u16, Option<u64>)>) {
        let mut delay = Duration::ZERO;
        let mut status = None;
        let mut fired = 0;
        {
            let mut faults = lock(&self.faults);
            let Faults { rules, rng } = &mut *faults;
            for rule in rules.iter_mut() {
                let applies = if rule.config.operations.is_empty() {
                    !explicit_only
                } else {
                    rule.config.operations.iter().any(|op| op == operation)
                };
                if !applies {
                    continue;
                }
                rule.seen += 1;
                let fire = match rule.config.trigger {
                    FaultTrigger::Always => true,
                    FaultTrigger::Probability(p) => rng.f64() < p,
                    FaultTrigger::EveryNth(n) => n > 0 && rule.seen % n == 0,
                    FaultTrigger::FirstN(n) => rule.seen <= n,
                };
                if !fire {
                    continue;
                }
                fired += 1;
                match rule.config.fault {
                    Fault::Delay(d) => delay += d,
                    Fault::Status {
                        status: code,
                        retry_after,
                    } => {
                        status.get_or_insert((code, retry_after));
                    }
                }
            }
        }
        if fired > 0 {
            self.count(|s| s.faults_injected += fired);
        }
        (delay, status)
    }

    /// Apply the fault rules to a request: sleep for the delays, and give
    /// the status answer if one fired.
    pub(crate) async fn apply_faults(
        &self,
        operation: &'static str,
        explicit_only: bool,
    ) -> Option<Response> {
        let (delay, status) = self.pick_faults(operation, explicit_only);
        if !delay.is_zero() {
            tracing::debug!(operation, ?delay, "mock fault: delay");
            tokio::time::sleep(delay).await;
        }
        let (code, retry_after) = status?;
        tracing::debug!(operation, code, "mock fault: status");
        let status = crate::server::status(code);
        let body = error_body(format!(
            "{} (fault injected by the Tradecloud mock)",
            status.canonical_reason().unwrap_or("error")
        ));
        let mut response = crate::server::serialized_response(status, "application/json", &body);
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        Some(response)
    }

    /// The gate of every API operation: count it, inject faults, and (when
    /// `authenticate`) check the `Authorization` header.
    pub(crate) async fn enter(
        &self,
        operation: &'static str,
        headers: &HeaderMap,
        authenticate: bool,
    ) -> Result<(), Denied> {
        self.record(operation);
        if let Some(response) = self.apply_faults(operation, false).await {
            return Err(Denied::Response(response));
        }
        if authenticate {
            match self.authorize(headers) {
                Ok(Credential::Bearer) => self.count(|s| s.bearer_requests += 1),
                Ok(Credential::Basic) => self.count(|s| s.basic_requests += 1),
                Err(reason) => {
                    tracing::debug!(operation, reason, "mock: unauthorized");
                    return Err(Denied::Unauthorized(error_body(reason)));
                }
            }
        }
        Ok(())
    }

    // ----- authentication -------------------------------------------------

    fn check_password(&self, email: &str, password: &str) -> Option<&MockUser> {
        self.users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email) && u.password == password)
    }

    /// The user of a valid `Authorization: Basic` header.
    pub(crate) fn basic_user(&self, headers: &HeaderMap) -> Result<String, &'static str> {
        let value = headers
            .get(AUTHORIZATION)
            .ok_or("the Authorization header is missing")?;
        let value = value
            .to_str()
            .map_err(|_| "the Authorization header is not ASCII")?;
        let (scheme, credentials) = value
            .trim()
            .split_once(' ')
            .ok_or("the Authorization header has no scheme")?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err("log in with Basic authentication");
        }
        let decoded = STANDARD
            .decode(credentials.trim())
            .map_err(|_| "the Basic credentials are not valid base64")?;
        let decoded =
            String::from_utf8(decoded).map_err(|_| "the Basic credentials are not UTF-8")?;
        let (email, password) = decoded
            .split_once(':')
            .ok_or("the Basic credentials have no `:`")?;
        self.check_password(email, password)
            .map(|u| u.email.clone())
            .ok_or("wrong user name or password")
    }

    /// Check the `Authorization` header of an API request: a valid access
    /// token (`Bearer`) or valid Basic credentials.
    pub(crate) fn authorize(&self, headers: &HeaderMap) -> Result<Credential, &'static str> {
        let value = headers
            .get(AUTHORIZATION)
            .ok_or("the Authorization header is missing")?;
        let value = value
            .to_str()
            .map_err(|_| "the Authorization header is not ASCII")?;
        let (scheme, rest) = value
            .trim()
            .split_once(' ')
            .ok_or("the Authorization header has no scheme")?;
        if scheme.eq_ignore_ascii_case("bearer") {
            let tokens = lock(&self.tokens);
            match tokens.access.get(rest.trim()) {
                Some(entry) if entry.expires_at > Instant::now() => Ok(Credential::Bearer),
                Some(_) => Err("the access token has expired; refresh it"),
                None => Err("the access token is not valid"),
            }
        } else if scheme.eq_ignore_ascii_case("basic") {
            self.basic_user(headers).map(|_| Credential::Basic)
        } else {
            Err("unsupported authorization scheme; use Bearer or Basic")
        }
    }

    fn new_token(kind: &str, user: &str, lifetime: Duration) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = serde_json::json!({
            "iss": "tradecloud-mock",
            "sub": user,
            "typ": kind,
            "iat": now.as_secs(),
            "exp": (now + lifetime).as_secs_f64().ceil() as u64,
            "jti": format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
        });
        let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
        let signature = URL_SAFE_NO_PAD.encode(fastrand::u128(..).to_be_bytes());
        format!("{header}.{payload}.{signature}")
    }

    fn issue_pair(&self, tokens: &mut Tokens, user: &str, session: u64) -> (String, String) {
        let now = Instant::now();
        let access = Self::new_token("access", user, self.access_lifetime);
        let refresh = Self::new_token("refresh", user, self.refresh_lifetime);
        tokens.access.insert(
            access.clone(),
            TokenEntry {
                user: user.to_owned(),
                session,
                expires_at: now + self.access_lifetime,
            },
        );
        tokens.refresh.insert(
            refresh.clone(),
            TokenEntry {
                user: user.to_owned(),
                session,
                expires_at: now + self.refresh_lifetime,
            },
        );
        (access, refresh)
    }

    /// Log in: a new session with an access and a refresh token.
    pub(crate) fn start_session(&self, user: &str) -> (String, String) {
        let mut tokens = lock(&self.tokens);
        tokens.prune(Instant::now());
        tokens.next_session += 1;
        let session = tokens.next_session;
        self.issue_pair(&mut tokens, user, session)
    }

    /// Refresh: replace a valid refresh token by a new pair; the old refresh
    /// token can no longer be used.
    pub(crate) fn refresh_session(
        &self,
        refresh_token: &str,
    ) -> Result<(String, String), &'static str> {
        let mut tokens = lock(&self.tokens);
        let entry = tokens
            .refresh
            .remove(refresh_token)
            .ok_or("the refresh token is not valid (or was replaced); log in again")?;
        if entry.expires_at <= Instant::now() {
            return Err("the refresh token has expired; log in again");
        }
        Ok(self.issue_pair(&mut tokens, &entry.user, entry.session))
    }

    /// Log out: invalidate the refresh token now; the session's access
    /// tokens expire within 10 minutes (as Tradecloud documents).
    pub(crate) fn end_session(&self, refresh_token: &str) -> Result<(), &'static str> {
        let mut tokens = lock(&self.tokens);
        let now = Instant::now();
        let entry = tokens
            .refresh
            .remove(refresh_token)
            .ok_or("the refresh token is not valid")?;
        if entry.expires_at <= now {
            return Err("the refresh token has expired");
        }
        let cap = now + Duration::from_secs(10 * 60);
        for access in tokens
            .access
            .values_mut()
            .filter(|t| t.session == entry.session)
        {
            access.expires_at = access.expires_at.min(cap);
        }
        Ok(())
    }

    pub(crate) fn expire_access_tokens(&self) {
        let now = Instant::now();
        lock(&self.tokens)
            .access
            .values_mut()
            .for_each(|t| t.expires_at = now);
    }

    pub(crate) fn expire_refresh_tokens(&self) {
        let now = Instant::now();
        lock(&self.tokens)
            .refresh
            .values_mut()
            .for_each(|t| t.expires_at = now);
    }

    pub(crate) fn revoke_all_tokens(&self) {
        let mut tokens = lock(&self.tokens);
        tokens.access.clear();
        tokens.refresh.clear();
    }

    pub(crate) fn expire_token(&self, token: &str) -> bool {
        let now = Instant::now();
        let mut tokens = lock(&self.tokens);
        let Tokens {
            access, refresh, ..
        } = &mut *tokens;
        match access.get_mut(token).or_else(|| refresh.get_mut(token)) {
            Some(entry) => {
                entry.expires_at = now;
                true
            }
            None => false,
        }
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

    pub(crate) fn insert_order(&self, order: Order) -> Result<(), MockError> {
        let id = order
            .id
            .clone()
            .ok_or(MockError::MissingId { kind: "order" })?;
        let mut store = lock(&self.store);
        store.observe(order_updated(&order));
        store.orders.insert(id, order);
        Ok(())
    }

    pub(crate) fn update_order(&self, mut order: Order) -> Result<DateTime, MockError> {
        let id = order
            .id
            .clone()
            .ok_or(MockError::MissingId { kind: "order" })?;
        let mut store = lock(&self.store);
        let now = store.stamp();
        for line in order.lines.iter_mut() {
            if line.last_updated_at.is_none() && line.last_changed_at.is_none() {
                line.last_updated_at = Some(now.clone());
            }
        }
        order.last_updated_at = Some(now.clone());
        store.orders.insert(id, order);
        Ok(now)
    }

    pub(crate) fn remove_order(&self, id: &str) -> Option<Order> {
        lock(&self.store).orders.remove(id)
    }

    pub(crate) fn order(&self, id: &str) -> Option<Order> {
        lock(&self.store).orders.get(id).cloned()
    }

    pub(crate) fn insert_single_delivery_order(
        &self,
        order: SingleDeliveryOrder,
    ) -> Result<(), MockError> {
        let id = order.id.clone().ok_or(MockError::MissingId {
            kind: "single-delivery order",
        })?;
        let mut store = lock(&self.store);
        store.observe(single_delivery_updated(&order));
        store.single_delivery_orders.insert(id, order);
        Ok(())
    }

    pub(crate) fn update_single_delivery_order(
        &self,
        mut order: SingleDeliveryOrder,
    ) -> Result<DateTime, MockError> {
        let id = order.id.clone().ok_or(MockError::MissingId {
            kind: "single-delivery order",
        })?;
        let mut store = lock(&self.store);
        let now = store.stamp();
        for line in order.lines.iter_mut() {
            if line.last_updated_at.is_none() && line.last_changed_at.is_none() {
                line.last_updated_at = Some(now.clone());
            }
        }
        order.last_updated_at = Some(now.clone());
        store.single_delivery_orders.insert(id, order);
        Ok(now)
    }

    pub(crate) fn remove_single_delivery_order(&self, id: &str) -> Option<SingleDeliveryOrder> {
        lock(&self.store).single_delivery_orders.remove(id)
    }

    pub(crate) fn single_delivery_order(&self, id: &str) -> Option<SingleDeliveryOrder> {
        lock(&self.store).single_delivery_orders.get(id).cloned()
    }

    pub(crate) fn insert_shipment(&self, shipment: Shipment) -> Result<(), MockError> {
        let id = shipment
            .id
            .clone()
            .ok_or(MockError::MissingId { kind: "shipment" })?;
        let mut store = lock(&self.store);
        store.observe(shipment_updated(&shipment));
        store.shipments.insert(id, shipment);
        Ok(())
    }

    pub(crate) fn update_shipment(&self, mut shipment: Shipment) -> Result<DateTime, MockError> {
        let id = shipment
            .id
            .clone()
            .ok_or(MockError::MissingId { kind: "shipment" })?;
        let mut store = lock(&self.store);
        let now = store.stamp();
        let lines = shipment.lines.iter_mut().chain(
            shipment
                .load_carriers
                .iter_mut()
                .flat_map(|c| c.lines.iter_mut()),
        );
        for line in lines {
            let meta =
                line.meta
                    .get_or_insert_with(|| crate::api::common::types::ShipmentLineMeta {
                        last_changed_at: None,
                        last_updated_at: None,
                        extra: Default::default(),
                    });
            if meta.last_updated_at.is_none() && meta.last_changed_at.is_none() {
                meta.last_updated_at = Some(now.clone());
            }
        }
        let meta = shipment.meta.get_or_insert_with(|| ShipmentMeta {
            despatch_advice_erp_issue_date_time: None,
            last_changed_at: None,
            last_updated_at: None,
            supplier_erp_meta: None,
            extra: Default::default(),
        });
        meta.last_updated_at = Some(now.clone());
        store.shipments.insert(id, shipment);
        Ok(now)
    }

    pub(crate) fn remove_shipment(&self, id: &str) -> Option<Shipment> {
        lock(&self.store).shipments.remove(id)
    }

    pub(crate) fn shipment(&self, id: &str) -> Option<Shipment> {
        lock(&self.store).shipments.get(id).cloned()
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
