//! The generated `Api` traits of the read side, implemented on the mock's
//! shared state (the write operations: [`super::write`]).
//!
//! Every request passes [`MockState::gate`] first (each trait's `admit`,
//! which the generated handlers call with the operation's entry of its
//! spec's operation table): it is counted, faults are injected, and its
//! `Authorization` is checked against the security schemes the spec lists.
//! The methods here only answer.

use std::borrow::Cow;
use std::collections::BTreeMap;

use axum::response::{IntoResponse, Response};
use http::header::AUTHORIZATION;
use http::StatusCode;

use super::data::MockDocument;
use super::download;
use super::state::{error_body, Denied, MockState};
use crate::api::common::types::{Order, OrderStatus, Shipment, SingleDeliveryOrder};
use crate::api::order_search::types::OrderPollStatusFilter;
use crate::api::shipment::types::ShipmentPollStatusFilter;
use crate::api::{authentication, object_storage, order, order_search, shipment};
use crate::changes::LastUpdated;
use crate::operation::{Location, Operation};
use crate::server::{RawRequest, Rejection, RejectionKind};
use crate::types::DateTime;

/// `admit` of every `Api` impl: the [gate](MockState::gate).
macro_rules! admit {
    () => {
        async fn admit(
            &self,
            operation: &'static $crate::operation::Operation,
            head: &::http::request::Parts,
        ) -> ::std::result::Result<(), ::axum::response::Response> {
            self.gate(operation, &head.headers)
                .await
                .map_err($crate::mock::api::denied_response)
        }
    };
}
pub(super) use admit;

pub(super) fn denied_response(denied: Denied) -> Response {
    match denied {
        Denied::Unauthorized(body) => {
            crate::server::serialized_response(StatusCode::UNAUTHORIZED, "application/json", &body)
        }
        Denied::Forbidden(body) => {
            crate::server::serialized_response(StatusCode::FORBIDDEN, "application/json", &body)
        }
        Denied::Response(response) => response,
    }
}

fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    crate::server::serialized_response(status, "application/json", &error_body(message))
}

/// The body of a login or refresh, as Tradecloud's SDK examples show it.
fn authenticated(user: String) -> authentication::types::AuthenticatedUser {
    authentication::types::AuthenticatedUser {
        status: Some("authenticated".into()),
        username: Some(user),
        extra: Default::default(),
    }
}

const NO_AUTHORIZATION_HEADER: &str =
    "send ONLY the Refresh-Token header to /authentication/refresh and /authentication/logout; do NOT send the Authorization header";

impl MockState {
    fn refuse_authorization_header(&self) -> Response {
        self.count(|s| s.refreshes_with_authorization_header += 1);
        json_error(StatusCode::BAD_REQUEST, NO_AUTHORIZATION_HEADER)
    }
}

impl authentication::server::Api for MockState {
    async fn login(
        &self,
        request: authentication::server::LoginRequest,
    ) -> authentication::server::LoginResponse {
        use authentication::server::LoginResponse;
        match self.basic_user(&request.raw.headers) {
            Ok(user) => {
                let (access, refresh) = self.start_session(&user);
                self.count(|s| s.logins += 1);
                LoginResponse::Ok {
                    body: authenticated(user),
                    set_authorization: Some(access),
                    set_refresh_token: Some(refresh),
                }
            }
            Err(reason) => {
                self.count(|s| s.failed_logins += 1);
                LoginResponse::Unauthorized {
                    body: error_body(reason),
                }
            }
        }
    }

    async fn logout(
        &self,
        request: authentication::server::LogoutRequest,
    ) -> authentication::server::LogoutResponse {
        use authentication::server::LogoutResponse;
        if request.raw.headers.contains_key(AUTHORIZATION) {
            return LogoutResponse::Custom(self.refuse_authorization_header());
        }
        match self.end_session(&request.refresh_token) {
            Ok(()) => {
                self.count(|s| s.logouts += 1);
                LogoutResponse::Ok
            }
            Err(reason) => LogoutResponse::Unauthorized {
                body: error_body(reason),
            },
        }
    }

    async fn refresh(
        &self,
        request: authentication::server::RefreshRequest,
    ) -> authentication::server::RefreshResponse {
        use authentication::server::RefreshResponse;
        if request.raw.headers.contains_key(AUTHORIZATION) {
            return RefreshResponse::Custom(self.refuse_authorization_header());
        }
        match self.refresh_session(&request.refresh_token) {
            Ok((access, refresh, user)) => {
                self.count(|s| s.refreshes += 1);
                RefreshResponse::Ok {
                    body: authenticated(user),
                    set_authorization: Some(access),
                    set_refresh_token: Some(refresh),
                }
            }
            Err(reason) => {
                self.count(|s| s.failed_refreshes += 1);
                RefreshResponse::Unauthorized {
                    body: error_body(reason),
                }
            }
        }
    }

    admit!();

    async fn reject(&self, rejection: Rejection) -> Response {
        let op = rejection.operation_id;
        let (refresh, logout) = (
            authentication::operations::REFRESH.id,
            authentication::operations::LOGOUT.id,
        );
        if op == refresh || op == logout {
            if rejection.raw.headers.contains_key(AUTHORIZATION) {
                return self.refuse_authorization_header();
            }
            if rejection.kind == RejectionKind::MissingHeader("Refresh-Token") {
                if op == refresh {
                    self.count(|s| s.failed_refreshes += 1);
                }
                return json_error(
                    StatusCode::UNAUTHORIZED,
                    "the Refresh-Token header is missing",
                );
            }
        }
        rejection.into_response()
    }
}

impl order::server::Api for MockState {
    async fn get_order_by_id_route(
        &self,
        request: order::server::GetOrderByIdRouteRequest,
    ) -> order::server::GetOrderByIdRouteResponse {
        use order::server::GetOrderByIdRouteResponse;
        let found = self.get::<Order>(&request.order_id).or_else(|| {
            // A single-delivery order is the same order seen another way.
            let order = self.get::<SingleDeliveryOrder>(&request.order_id)?;
            serde_json::to_value(order)
                .and_then(serde_json::from_value)
                .ok()
        });
        let Some(body) = found else {
            return GetOrderByIdRouteResponse::NotFound {
                body: super::state::order_not_found(&request.order_id),
            };
        };
        // Another company's order is not this user's: 404, as the spec
        // says and as the order actions answer.
        match self.actors_order(&request.raw.headers, &request.order_id, None) {
            Ok(_) => GetOrderByIdRouteResponse::Ok { body },
            Err(error) => GetOrderByIdRouteResponse::NotFound { body: *error },
        }
    }

    admit!();

    /// A request the generated code refuses before its operation (a body
    /// it cannot decode or that breaks a documented rule): `400`, but an
    /// order id the mock does not know, or another company's order, is a
    /// `404` whatever the body, as in the operations themselves
    /// ([`super::write::order_action_gate`]).
    async fn reject(&self, rejection: Rejection) -> Response {
        if let Some(body) = order_id_in_path(&rejection).and_then(|(operation, order_id)| {
            self.actors_order(&rejection.raw.headers, &order_id, operation.party)
                .err()
                .map(|body| *body)
        }) {
            return crate::server::serialized_response(
                StatusCode::NOT_FOUND,
                "application/json",
                &body,
            );
        }
        rejection.into_response()
    }

    // The buyer's order actions that move its order (process.rs).
    super::write::request_answers! {
        approve_requests_as_buyer_route(ApproveRequestsAsBuyerRouteRequest) -> ApproveRequestsAsBuyerRouteResponse
            = APPROVE_REQUESTS_AS_BUYER_ROUTE, ApproveRequestsAsBuyer,
            |_body| super::process::Verdict::Approve;
        reject_requests_as_buyer_route(RejectRequestsAsBuyerRouteRequest) -> RejectRequestsAsBuyerRouteResponse
            = REJECT_REQUESTS_AS_BUYER_ROUTE, RejectRequestsAsBuyer,
            |body| super::process::Verdict::Reject { reason: &body.reason };
    }
    super::write::buyer_order_actions! {
        complete_order_lines(CompleteOrderLinesRequest) -> CompleteOrderLinesResponse
            = COMPLETE_ORDER_LINES, OrderLinePositions,
            |body| (super::process::LineAction::Complete, None);
        deliver_order_lines(DeliverOrderLinesRequest) -> DeliverOrderLinesResponse
            = DELIVER_ORDER_LINES, OrderLinePositions,
            |body| (super::process::LineAction::Deliver, None);
        revert_cancelled_order_lines(RevertCancelledOrderLinesRequest) -> RevertCancelledOrderLinesResponse
            = REVERT_CANCELLED_ORDER_LINES, RevertOrderLines,
            |body| (
                super::process::LineAction::Revert(super::process::Finished::Cancelled),
                body.version,
            );
        revert_completed_order_lines(RevertCompletedOrderLinesRequest) -> RevertCompletedOrderLinesResponse
            = REVERT_COMPLETED_ORDER_LINES, RevertOrderLines,
            |body| (
                super::process::LineAction::Revert(super::process::Finished::Completed),
                body.version,
            );
    }

    async fn update_order_line_delivery_schedule(
        &self,
        request: order::server::UpdateOrderLineDeliveryScheduleRequest,
    ) -> order::server::UpdateOrderLineDeliveryScheduleResponse {
        use order::server::UpdateOrderLineDeliveryScheduleResponse as Answer;
        super::write::order_action_gate!(
            self,
            request,
            UPDATE_ORDER_LINE_DELIVERY_SCHEDULE,
            UpdateOrderLineDeliverySchedule
        );
        let (position, update) = (&request.position, &*request.body);
        self.process_either_party_action(&request.raw.headers, &request.order_id, |order, now| {
            super::process::update_delivery_logistics(order, position, update, now)
        });
        Answer::Ok {
            body: super::write::order_action_answer(),
        }
    }

    async fn buyer_resend_order_route(
        &self,
        request: order::server::BuyerResendOrderRouteRequest,
    ) -> order::server::BuyerResendOrderRouteResponse {
        use order::server::BuyerResendOrderRouteResponse as Answer;
        super::write::order_action_gate!(self, request, BUYER_RESEND_ORDER_ROUTE, ResendOrder);
        self.resend_order(&request.order_id);
        Answer::Ok {
            body: super::write::order_action_answer(),
        }
    }

    // The buyer's answers to a shipment reschedule request (process.rs).
    super::write::reschedule_answers! {
        approve_shipment_reschedule_request_route(ApproveShipmentRescheduleRequestRouteRequest) -> ApproveShipmentRescheduleRequestRouteResponse
            = APPROVE_SHIPMENT_RESCHEDULE_REQUEST_ROUTE, ApproveShipmentRescheduleRequest, true,
            |_body| None;
        reject_shipment_reschedule_request_route(RejectShipmentRescheduleRequestRouteRequest) -> RejectShipmentRescheduleRequestRouteResponse
            = REJECT_SHIPMENT_RESCHEDULE_REQUEST_ROUTE, RejectShipmentRescheduleRequest, false,
            |body| Some(body.reason.as_str());
    }

    // Accepted, and not played: it changes nothing (mod.rs, "Not played yet").
    async fn reassign_buyer_contact(
        &self,
        request: order::server::ReassignBuyerContactRequest,
    ) -> order::server::ReassignBuyerContactResponse {
        use order::server::ReassignBuyerContactResponse as Answer;
        super::write::order_action_gate!(self, request, REASSIGN_BUYER_CONTACT, ReassignContact);
        self.process_request_answer(&request.order_id, |_order, _now| false);
        Answer::Ok {
            body: super::write::order_action_answer(),
        }
    }
}

/// The operation and `{orderId}` of a refused order service request: the
/// path's last segments matched against the operation's path (the mock's
/// routes sit under `/v2`), the id percent-decoded as axum's `Path`
/// extractor decodes it for the operations themselves, so `no%20such` is
/// the order `no such` here as there. `None` when the operation has no
/// order id, the path does not match, or the decoded id is empty or not
/// UTF-8 (axum's `Path` refuses that too).
fn order_id_in_path(rejection: &Rejection) -> Option<(&'static Operation, Cow<'_, str>)> {
    let operation = order::OPERATIONS
        .iter()
        .find(|o| o.id == rejection.operation_id)?;
    let template: Vec<&str> = operation.path.trim_matches('/').split('/').collect();
    let path: Vec<&str> = rejection
        .raw
        .uri
        .path()
        .trim_matches('/')
        .split('/')
        .collect();
    let tail = path.get(path.len().checked_sub(template.len())?..)?;
    let mut order_id = None;
    for (pattern, segment) in template.iter().zip(tail) {
        if *pattern == "{orderId}" {
            order_id = Some(*segment);
        } else if !(pattern.starts_with('{') || pattern == segment) {
            return None;
        }
    }
    let order_id = percent_encoding::percent_decode_str(order_id?)
        .decode_utf8()
        .ok()?;
    (!order_id.is_empty()).then_some((operation, order_id))
}

/// One page of a poll: the items updated strictly after `after` that `keep`
/// accepts, sorted by their timestamp (then id), `offset`/`limit` applied.
/// Returns the page, the number of matches, and the largest timestamp in
/// the page (or `after` when the page is empty).
fn poll_page<T: Clone + LastUpdated>(
    items: &BTreeMap<String, T>,
    after: Option<&DateTime>,
    keep: impl Fn(&T) -> bool,
    offset: u64,
    limit: u64,
) -> (Vec<T>, i64, Option<DateTime>) {
    let mut matches: Vec<&T> = items
        .values()
        .filter(|item| match after {
            Some(after) => item.last_updated().is_some_and(|u| u > after),
            None => true,
        })
        .filter(|item| keep(item))
        .collect();
    // Stable: equal timestamps keep the map's id order.
    matches.sort_by(|a, b| a.last_updated().cmp(&b.last_updated()));
    let total = i64::try_from(matches.len()).unwrap_or(i64::MAX);
    let page: Vec<T> = matches
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .cloned()
        .collect();
    let watermark = page
        .iter()
        .filter_map(LastUpdated::last_updated)
        .max()
        .cloned()
        .or_else(|| after.cloned());
    (page, total, watermark)
}

fn order_status_matches(
    status: Option<&OrderStatus>,
    filter: Option<&OrderPollStatusFilter>,
) -> bool {
    let Some(filter) = filter else { return true };
    let process = status.and_then(|s| s.process_status.as_ref());
    let logistics = status.and_then(|s| s.logistics_status.as_ref());
    (filter.process_status.is_empty() || process.is_some_and(|p| filter.process_status.contains(p)))
        && (filter.logistics_status.is_empty()
            || logistics.is_some_and(|l| filter.logistics_status.contains(l)))
}

fn shipment_status_matches(shipment: &Shipment, filter: Option<&ShipmentPollStatusFilter>) -> bool {
    let Some(filter) = filter else { return true };
    let process = shipment
        .status
        .as_ref()
        .and_then(|s| s.process_status.as_ref())
        .or(shipment.process_status.as_ref());
    filter.process_status.is_empty() || process.is_some_and(|p| filter.process_status.contains(p))
}

/// Whether `limit` is above the `maximum` the spec states for the poll
/// operation's `limit` member.
fn limit_error(limit: u64, operation: &Operation) -> Option<String> {
    let max = operation.integer_maximum(Location::Body, "/limit")?;
    (i128::from(limit) > max).then(|| format!("limit {limit} is too large: use 1 to {max}"))
}

/// The members of a poll request the specs define (unknown members are
/// allowed and ignored, whatever their value).
const POLL_MEMBERS: [&str; 10] = [
    "/filters",
    "/filters/lastUpdatedAfter",
    "/filters/companyId",
    "/filters/status",
    "/filters/status/processStatus",
    "/filters/status/logisticsStatus",
    "/filters/buyerShipment",
    "/filters/buyerShipment/companyId",
    "/offset",
    "/limit",
];

/// What is wrong with a request to the poll `operation` beyond what its
/// type checks: a defined member given as `null` (the specs make none
/// nullable; `"offset": null` is not an integer) or a `limit` above the
/// maximum.
fn poll_request_error(raw: &RawRequest, limit: u64, operation: &Operation) -> Option<String> {
    let body: Option<serde_json::Value> = serde_json::from_slice(&raw.body).ok();
    if let Some(body) = body {
        if let Some(member) = POLL_MEMBERS
            .iter()
            .find(|m| body.pointer(m).is_some_and(serde_json::Value::is_null))
        {
            return Some(format!(
                "`{}` is null; leave the member out or give it a value",
                member.trim_start_matches('/').replace('/', ".")
            ));
        }
    }
    limit_error(limit, operation)
}

/// The poll answer's `lastUpdatedAt`: the page's latest timestamp as an
/// RFC 3339 instant in UTC (`...Z`), as Tradecloud answers it, also when the
/// data holds a zone-less timestamp.
fn watermark(latest: Option<DateTime>) -> Option<DateTime> {
    latest.map(|t| {
        if t.is_zoned() {
            t
        } else {
            DateTime::from(t.to_utc())
        }
    })
}

impl order_search::server::Api for MockState {
    async fn poll_orders_route(
        &self,
        request: order_search::server::PollOrdersRouteRequest,
    ) -> order_search::server::PollOrdersRouteResponse {
        use order_search::server::PollOrdersRouteResponse;
        let body = request.body;
        let limit = body.limit.get();
        if let Some(message) = poll_request_error(
            &request.raw,
            limit,
            &order_search::operations::POLL_ORDERS_ROUTE,
        ) {
            return PollOrdersRouteResponse::BadRequest {
                body: error_body(message),
            };
        }
        let filters = body.filters.as_ref();
        let after = filters.and_then(|f| f.last_updated_after.as_ref());
        let status = filters.and_then(|f| f.status.as_ref());
        let (data, total, last_updated_at) = self.with_orders(|orders| {
            poll_page(
                orders,
                after,
                |o| order_status_matches(o.status.as_ref(), status),
                body.offset.unwrap_or(0),
                limit,
            )
        });
        PollOrdersRouteResponse::Ok {
            body: order_search::types::OrderPollResponse {
                data,
                last_updated_at: watermark(last_updated_at),
                total: Some(total),
                extra: Default::default(),
            },
        }
    }

    async fn poll_orders_single_delivery_route(
        &self,
        request: order_search::server::PollOrdersSingleDeliveryRouteRequest,
    ) -> order_search::server::PollOrdersSingleDeliveryRouteResponse {
        use order_search::server::PollOrdersSingleDeliveryRouteResponse;
        let body = request.body;
        let limit = body.limit.get();
        if let Some(message) = poll_request_error(
            &request.raw,
            limit,
            &order_search::operations::POLL_ORDERS_SINGLE_DELIVERY_ROUTE,
        ) {
            return PollOrdersSingleDeliveryRouteResponse::BadRequest {
                body: error_body(message),
            };
        }
        let filters = body.filters.as_ref();
        let after = filters.and_then(|f| f.last_updated_after.as_ref());
        let status = filters.and_then(|f| f.status.as_ref());
        let (data, total, last_updated_at) = self.with_single_delivery_orders(|orders| {
            poll_page(
                orders,
                after,
                |o| order_status_matches(o.status.as_ref(), status),
                body.offset.unwrap_or(0),
                limit,
            )
        });
        PollOrdersSingleDeliveryRouteResponse::Ok {
            body: order_search::types::SingleDeliveryOrderPollResponse {
                data,
                last_updated_at: watermark(last_updated_at),
                total: Some(total),
                extra: Default::default(),
            },
        }
    }

    admit!();
}

impl shipment::server::Api for MockState {
    async fn poll_shipments_route(
        &self,
        request: shipment::server::PollShipmentsRouteRequest,
    ) -> shipment::server::PollShipmentsRouteResponse {
        use shipment::server::PollShipmentsRouteResponse;
        let body = request.body;
        let limit = body.limit.get();
        if let Some(message) = poll_request_error(
            &request.raw,
            limit,
            &shipment::operations::POLL_SHIPMENTS_ROUTE,
        ) {
            return PollShipmentsRouteResponse::BadRequest {
                body: error_body(message),
            };
        }
        let filters = body.filters.as_ref();
        let after = filters.and_then(|f| f.last_updated_after.as_ref());
        let status = filters.and_then(|f| f.status.as_ref());
        let (data, total, last_updated_at) = self.with_shipments(|shipments| {
            poll_page(
                shipments,
                after,
                |s| shipment_status_matches(s, status),
                body.offset.unwrap_or(0),
                limit,
            )
        });
        PollShipmentsRouteResponse::Ok {
            body: shipment::types::ShipmentPollResponse {
                data,
                last_updated_at: watermark(last_updated_at),
                total: Some(total),
                extra: Default::default(),
            },
        }
    }

    async fn get_shipment_by_id_route(
        &self,
        request: shipment::server::GetShipmentByIdRouteRequest,
    ) -> shipment::server::GetShipmentByIdRouteResponse {
        use shipment::server::GetShipmentByIdRouteResponse;
        match self.get::<Shipment>(&request.shipment_id) {
            Some(body) => GetShipmentByIdRouteResponse::Ok { body },
            None => GetShipmentByIdRouteResponse::NotFound {
                body: error_body(format!("shipment {} not found", request.shipment_id)),
            },
        }
    }

    admit!();
}

/// Stream `document` as the `Ok` variant of a download operation (built by
/// `ok`), completed with `Content-Length` and `Content-Disposition`.
async fn stream_document<R: IntoResponse>(
    document: &MockDocument,
    object_id: &str,
    ok: impl FnOnce(crate::server::BinaryBody) -> R,
) -> Response {
    match download::open(document).await {
        Ok(open) => {
            let mut response = ok(open.body).into_response();
            download::add_download_headers(&mut response, open.length, &open.filename);
            response
        }
        Err(e) => json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the mock cannot read document {object_id}: {e}"),
        ),
    }
}

fn document_not_found(object_id: &str) -> crate::api::common::types::ErrorResponse {
    error_body(format!("document {object_id} not found"))
}

impl object_storage::server::Api for MockState {
    async fn upload_document(
        &self,
        request: object_storage::server::UploadDocumentRequest,
    ) -> object_storage::server::UploadDocumentResponse {
        // Stored without further state (write.rs).
        self.store_upload(&request.body)
    }

    async fn download_document(
        &self,
        request: object_storage::server::DownloadDocumentRequest,
    ) -> object_storage::server::DownloadDocumentResponse {
        use object_storage::server::DownloadDocumentResponse;
        let Some(document) = self.document(&request.object_id) else {
            return DownloadDocumentResponse::NotFound {
                body: document_not_found(&request.object_id),
            };
        };
        DownloadDocumentResponse::Custom(
            stream_document(&document, &request.object_id, |body| {
                DownloadDocumentResponse::Ok { body }
            })
            .await,
        )
    }

    async fn get_document_metadata(
        &self,
        request: object_storage::server::GetDocumentMetadataRequest,
    ) -> object_storage::server::GetDocumentMetadataResponse {
        use object_storage::server::GetDocumentMetadataResponse;
        let Some(document) = self.document(&request.object_id) else {
            return GetDocumentMetadataResponse::NotFound {
                body: document_not_found(&request.object_id),
            };
        };
        let origin = download::origin_of(&request.raw.uri, &request.raw.headers, self);
        GetDocumentMetadataResponse::Ok {
            body: object_storage::types::DocumentMetadata {
                content_type: Some(document.content_type),
                download_url: download::presigned_url(self, &origin, &request.object_id),
                filename: Some(document.filename),
                id: Some(request.object_id),
                extra: Default::default(),
            },
        }
    }

    async fn download(
        &self,
        request: object_storage::server::DownloadRequest,
    ) -> object_storage::server::DownloadResponse {
        use object_storage::server::DownloadResponse;
        let Some(document) = self.document(&request.id) else {
            return DownloadResponse::NotFound {
                body: document_not_found(&request.id),
            };
        };
        DownloadResponse::Custom(
            stream_document(&document, &request.id, |body| DownloadResponse::Ok { body }).await,
        )
    }

    admit!();
}
