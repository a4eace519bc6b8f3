//! What the mock counted: logins, refreshes, requests per operation, status
//! codes answered, and a timed log of every request.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How [`MockStats::requests`], [`RequestRecord::operation`] and
/// [`FaultConfig::operations`](super::FaultConfig::operations) name what
/// was called: the API operations by their `operationId`, as the specs'
/// operation tables have them
/// ([`crate::api::order_search::operations::POLL_ORDERS_ROUTE`]`.id` is
/// `"pollOrdersRoute"`; every operation of a spec:
/// [`crate::api::order_search::OPERATIONS`]), the webhook settings
/// endpoints by `setOrderEventsSettings`, `setOrderDocumentsEventsSettings`
/// and `setShipmentWebhookSettings` (a `GET` of the settings counts as the
/// same operation), the portal actions on shipments by their ids
/// (`mockApproveShipmentByBuyer`, ...; see the
/// [module docs](super#portal-actions-on-shipments)), and the mock's own
/// presigned download route by [`MOCK_S3_DOWNLOAD`](operation::MOCK_S3_DOWNLOAD).
pub mod operation {
    /// `GET /mock-s3/{objectId}?X-Amz-...`: the presigned `downloadUrl`
    /// (not part of Tradecloud's API and of no spec; no `Authorization` needed).
    pub const MOCK_S3_DOWNLOAD: &str = "mockS3Download";
}

/// Counters of a running mock (a snapshot; see
/// [`MockServer::stats`](super::MockServer::stats)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MockStats {
    /// Successful logins (`200` from `/authentication/login`).
    pub logins: u64,
    /// Refused logins (`401`).
    pub failed_logins: u64,
    /// Successful refreshes (`200` from `/authentication/refresh`).
    pub refreshes: u64,
    /// Refreshes refused for an invalid, expired or replaced refresh token (`401`).
    pub failed_refreshes: u64,
    /// Refresh or logout calls refused with `400` because they carried an
    /// `Authorization` header (Tradecloud: "Do NOT use the Authorization header").
    pub refreshes_with_authorization_header: u64,
    /// Successful logouts.
    pub logouts: u64,
    /// `401 Unauthorized` answers, on any route.
    pub unauthorized: u64,
    /// Fault-injection rules that fired (delays and status answers).
    pub faults_injected: u64,
    /// API requests accepted with a valid `Authorization: Bearer` access token.
    pub bearer_requests: u64,
    /// API requests accepted with Basic authentication.
    pub basic_requests: u64,
    /// Requests received per operation id (see [`operation`]), including
    /// those answered with a fault or `401`.
    pub requests: BTreeMap<String, u64>,
    /// Responses per status code, on every route.
    pub statuses: BTreeMap<u16, u64>,
    /// Accepted messages and order actions that changed nothing because
    /// they named something the mock does not know or does not move: a
    /// purchase order number, an account number, a `companyId`, a line
    /// position, an order of the mock's data. Tradecloud acknowledges a
    /// message before it processes it, so the mock still answers `200`;
    /// each is also logged as a warning (target `tradecloud::mock`).
    pub unmatched_messages: u64,
    /// What each of the latest (at most [`MAX_UNMATCHED`]) unmatched
    /// messages named that was not found, in the order they came, as the
    /// warning says it.
    pub unmatched: Vec<String>,
}

/// How many unmatched messages [`MockStats::unmatched`] keeps.
pub const MAX_UNMATCHED: usize = 100;

impl MockStats {
    /// Requests received for `operation`.
    pub fn requests_for(&self, operation: &str) -> u64 {
        self.requests.get(operation).copied().unwrap_or(0)
    }

    /// Requests received for every Tradecloud API operation (all but the
    /// mock's presigned download route).
    pub fn api_requests(&self) -> u64 {
        self.requests
            .iter()
            .filter(|(op, _)| op.as_str() != operation::MOCK_S3_DOWNLOAD)
            .map(|(_, n)| n)
            .sum()
    }

    /// Responses answered with `status`.
    pub fn responses_with(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }
}

/// One request received by the mock, in arrival order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestRecord {
    /// When it arrived.
    pub at: Instant,
    /// Its operation id (see [`operation`]).
    pub operation: &'static str,
}

/// The largest number of records (of operations accepted by `include`) that
/// fall within any time window of length `window` (both ends included).
pub(crate) fn peak_in_window(
    log: &[RequestRecord],
    window: Duration,
    include: impl Fn(&str) -> bool,
) -> usize {
    let times: Vec<Instant> = log
        .iter()
        .filter(|r| include(r.operation))
        .map(|r| r.at)
        .collect();
    let mut peak = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end].saturating_duration_since(times[start]) > window {
            start += 1;
        }
        peak = peak.max(end + 1 - start);
    }
    peak
}
