//! The write operations: the messages of `specs/api-connector.yaml`, the
//! order actions of `specs/order.yaml` and the document upload of
//! `specs/object-storage.yaml`.
//!
//! Every request has passed the [gate](MockState::gate) (counted, faults,
//! authentication by the operation's security schemes) and the generated
//! stub (its body decoded as JSON, or as tXML where the spec takes
//! `application/xml`, and checked by [`Validate`](crate::types::Validate):
//! a body that breaks a documented rule is a `400` naming the member)
//! before it gets here. [`refusal`] checks what the types cannot: a defined
//! member sent as `null`, and the numeric bounds and lengths of the
//! operation table (a `400` naming the member). What is left is the
//! documented answer:
//!
//! * api-connector messages: `200` with `{"ok": true}`, as Tradecloud's
//!   published examples show;
//! * order actions: `200` with `{}` (Tradecloud documents no members);
//! * upload: the file's bytes are kept as a document under a new
//!   `objectId`, served by the metadata and download routes like every
//!   other document, and answered as `200` with `{"id": objectId}`; a file
//!   name with an extension that security/documents.md blocks is a `400`.
//!
//! An accepted order, order response, indicators message, attach-documents
//! message, goods receipt, despatch advice and the buyer's approval or
//! rejection of requests then run the process ([`super::process`]) on the
//! store: the `process_*` methods here find the order or shipment (by the
//! caller's company and the message's identifiers), store the result and
//! queue the webhook events (order events, order-documents events,
//! shipment events); a message for an order the mock does not know
//! changes nothing. A forecast is appended to the forecasts the mock keeps
//! ([`super::forecast`]). The other messages and actions change nothing yet.

use std::collections::HashSet;
use std::sync::OnceLock;

use http::StatusCode;
use serde::Serialize;
use serde_json::Value;

use super::config::MockCompany;
use super::data::{content_type_for, MockDocument};
use super::portal::Refused;
use super::process::{self, Parties};
use super::state::{error_body, order_not_found, MockState, Objects};
use super::webhooks::{self, HistoryWrite, WebhookKind};
use crate::api::common::types::ErrorResponse;
use crate::api::common::types::{
    BuyerOrder, DeliveryHistoryLine, Order, Shipment, ShipmentLine, ShipmentProcessStatus,
    SupplierOrder,
};
use crate::api::{api_connector, object_storage};
use crate::client::blocked_extension;
use crate::operation::Operation;
use crate::server::{MultipartBody, RawRequest};
use crate::types::validate::{is_blank, trim_text};
use crate::types::{DateTime, Party};
use crate::webhook::txml::{Kind, Shape};

/// What the generated stub does not check of a decoded body: a member the
/// spec defines sent as `null` where the spec does not make it `nullable`
/// ([`null_member`]), the documented rules of the type
/// ([`Validate`](crate::types::Validate), text lengths included) and the
/// numeric bounds of the operation table ([`Operation::check_bounds`]). `Some` is the `400` body.
pub(super) fn refusal<B: Serialize>(
    operation: &Operation,
    raw: &RawRequest,
    body: &B,
    shape: &'static Shape,
) -> Option<ErrorResponse> {
    if let Ok(sent) = serde_json::from_slice::<Value>(&raw.body) {
        if let Some(member) = null_member(&sent, shape, String::new()) {
            return Some(error_body(format!(
                "`{member}` is null; leave the member out or give it a value"
            )));
        }
    }
    let typed = serde_json::to_value(body).ok()?;
    let broken = crate::types::Violations::from_vec(operation.check_bounds(&typed))?;
    Some(error_body(broken.to_string()))
}

/// The first member of `sent` (a message of `shape`) that is `null` where
/// the spec does not allow it. The specs make a member `nullable` exactly
/// when its schema can occur in a webhook body (`scripts/check_specs.py`,
/// the null rule: the receiver reads `null` as absent); the members of the
/// other schemas, which only requests use, refuse it, as lists and
/// required members do everywhere. Unknown members may be anything.
fn null_member(sent: &Value, shape: &'static Shape, path: String) -> Option<String> {
    let Value::Object(members) = sent else {
        return None;
    };
    let nullable = webhook_shapes().contains(&(shape as *const Shape as usize));
    shape.properties.iter().find_map(|(name, kind)| {
        let value = members.get(*name)?;
        let at = if path.is_empty() {
            (*name).to_owned()
        } else {
            format!("{path}.{name}")
        };
        null_in(value, kind, nullable, at)
    })
}

fn null_in(value: &Value, kind: &'static Kind, nullable: bool, at: String) -> Option<String> {
    match (value, kind) {
        (Value::Null, Kind::Array(_)) => Some(at),
        (Value::Null, _) => (!nullable).then_some(at),
        (Value::Object(_), Kind::Object(inner)) => null_member(value, inner, at),
        (Value::Array(items), Kind::Array(item)) => {
            items.iter().enumerate().find_map(|(i, v)| match v {
                // A list item is never optional.
                Value::Null => Some(format!("{at}[{i}]")),
                v => null_in(v, item, true, format!("{at}[{i}]")),
            })
        }
        _ => None,
    }
}

/// The addresses of the shapes of every schema a webhook body can contain.
fn webhook_shapes() -> &'static HashSet<usize> {
    static SHAPES: OnceLock<HashSet<usize>> = OnceLock::new();
    SHAPES.get_or_init(|| {
        fn walk(shape: &'static Shape, seen: &mut HashSet<usize>) {
            if seen.insert(shape as *const Shape as usize) {
                for (_, kind) in shape.properties {
                    walk_kind(kind, seen);
                }
            }
        }
        fn walk_kind(kind: &'static Kind, seen: &mut HashSet<usize>) {
            match kind {
                Kind::Object(shape) => walk(shape, seen),
                Kind::Array(item) => walk_kind(item, seen),
                _ => {}
            }
        }
        let mut seen = HashSet::new();
        walk(
            &crate::api::order_webhook_connector::types::txml_shapes::OrderWebhookBody,
            &mut seen,
        );
        walk(
            &crate::api::shipment_webhook_connector::types::txml_shapes::ShipmentWebhookBody,
            &mut seen,
        );
        seen
    })
}

/// The answer of an accepted api-connector message.
fn ok() -> api_connector::types::OkResponse {
    api_connector::types::OkResponse {
        ok: Some(true),
        extra: Default::default(),
    }
}

impl api_connector::server::Api for MockState {
    async fn send_order_by_buyer_route(
        &self,
        request: api_connector::server::SendOrderByBuyerRouteRequest,
    ) -> api_connector::server::SendOrderByBuyerRouteResponse {
        use api_connector::server::SendOrderByBuyerRouteResponse as Answer;
        match refusal(
            &api_connector::operations::SEND_ORDER_BY_BUYER_ROUTE,
            &request.raw,
            &request.body,
            &api_connector::types::txml_shapes::SendOrderByBuyer,
        ) {
            Some(body) => Answer::BadRequest { body },
            None => match self.process_order(&request.body) {
                Ok(()) => Answer::Ok { body: ok() },
                Err(refused) => Answer::BadRequest {
                    body: error_body(refused),
                },
            },
        }
    }

    async fn send_single_delivery_order_by_buyer_route(
        &self,
        request: api_connector::server::SendSingleDeliveryOrderByBuyerRouteRequest,
    ) -> api_connector::server::SendSingleDeliveryOrderByBuyerRouteResponse {
        use api_connector::server::SendSingleDeliveryOrderByBuyerRouteResponse as Answer;
        match refusal(
            &api_connector::operations::SEND_SINGLE_DELIVERY_ORDER_BY_BUYER_ROUTE,
            &request.raw,
            &request.body,
            &api_connector::types::txml_shapes::SendSingleDeliveryOrderByBuyer,
        ) {
            Some(body) => Answer::BadRequest { body },
            None => match self.process_single_delivery_order(&request.body) {
                Ok(()) => Answer::Ok { body: ok() },
                Err(refused) => Answer::BadRequest {
                    body: error_body(refused),
                },
            },
        }
    }

    async fn send_order_indicators_by_buyer_route(
        &self,
        request: api_connector::server::SendOrderIndicatorsByBuyerRouteRequest,
    ) -> api_connector::server::SendOrderIndicatorsByBuyerRouteResponse {
        use api_connector::server::SendOrderIndicatorsByBuyerRouteResponse as Answer;
        match refusal(
            &api_connector::operations::SEND_ORDER_INDICATORS_BY_BUYER_ROUTE,
            &request.raw,
            &request.body,
            &api_connector::types::txml_shapes::SendOrderIndicatorsByBuyer,
        ) {
            Some(body) => Answer::BadRequest { body },
            None => {
                self.process_indicators(&request.body);
                Answer::Ok { body: ok() }
            }
        }
    }

    async fn attach_order_documents_by_buyer_route(
        &self,
        request: api_connector::server::AttachOrderDocumentsByBuyerRouteRequest,
    ) -> api_connector::server::AttachOrderDocumentsByBuyerRouteResponse {
        use api_connector::server::AttachOrderDocumentsByBuyerRouteResponse as Answer;
        match refusal(
            &api_connector::operations::ATTACH_ORDER_DOCUMENTS_BY_BUYER_ROUTE,
            &request.raw,
            &request.body,
            &api_connector::types::txml_shapes::AttachOrderDocumentsByBuyer,
        ) {
            Some(body) => Answer::BadRequest { body },
            None => match self.process_documents(&request.body) {
                Ok(()) => Answer::Ok { body: ok() },
                Err(refused) => Answer::BadRequest {
                    body: error_body(refused),
                },
            },
        }
    }

    async fn send_order_deliveries_by_buyer(
        &self,
        request: api_connector::server::SendOrderDeliveriesByBuyerRequest,
    ) -> api_connector::server::SendOrderDeliveriesByBuyerResponse {
        use api_connector::server::SendOrderDeliveriesByBuyerResponse as Answer;
        match refusal(
            &api_connector::operations::SEND_ORDER_DELIVERIES_BY_BUYER,
            &request.raw,
            &request.body,
            &api_connector::types::txml_shapes::SendOrderDeliveriesByBuyer,
        ) {
            Some(body) => Answer::BadRequest { body },
            None => match self.process_goods_receipt(
                &request.body.order,
                request.body.lines.iter().flatten().map(|l| {
                    (
                        l.position.as_str(),
                        l.deliveries.as_deref().unwrap_or_default(),
                    )
                }),
                false,
            ) {
                Ok(()) => Answer::Ok { body: ok() },
                Err(refused) => Answer::BadRequest {
                    body: error_body(refused),
                },
            },
        }
    }

    async fn send_order_delivery_history_by_buyer(
        &self,
        request: api_connector::server::SendOrderDeliveryHistoryByBuyerRequest,
    ) -> api_connector::server::SendOrderDeliveryHistoryByBuyerResponse {
        use api_connector::server::SendOrderDeliveryHistoryByBuyerResponse as Answer;
        match refusal(
            &api_connector::operations::SEND_ORDER_DELIVERY_HISTORY_BY_BUYER,
            &request.raw,
            &request.body,
            &api_connector::types::txml_shapes::SendOrderDeliveryHistoryByBuyer,
        ) {
            Some(body) => Answer::BadRequest { body },
            None => match self.process_goods_receipt(
                &request.body.order,
                request
                    .body
                    .lines
                    .iter()
                    .flatten()
                    .map(|l| (l.position.as_str(), l.delivery_history.as_slice())),
                true,
            ) {
                Ok(()) => Answer::Ok { body: ok() },
                Err(refused) => Answer::BadRequest {
                    body: error_body(refused),
                },
            },
        }
    }

    async fn send_forecast_by_buyer_route(
        &self,
        request: api_connector::server::SendForecastByBuyerRouteRequest,
    ) -> api_connector::server::SendForecastByBuyerRouteResponse {
        use api_connector::server::SendForecastByBuyerRouteResponse as Answer;
        match refusal(
            &api_connector::operations::SEND_FORECAST_BY_BUYER_ROUTE,
            &request.raw,
            &request.body,
            &api_connector::types::txml_shapes::SendForecastByBuyer,
        ) {
            Some(body) => Answer::BadRequest { body },
            None => {
                self.process_forecast(
                    super::forecast::ForecastKind::Forecast,
                    &request.body.header,
                    &request.body,
                );
                Answer::Ok { body: ok() }
            }
        }
    }

    async fn send_slimstock_forecast_by_buyer_route(
        &self,
        request: api_connector::server::SendSlimstockForecastByBuyerRouteRequest,
    ) -> api_connector::server::SendSlimstockForecastByBuyerRouteResponse {
        use api_connector::server::SendSlimstockForecastByBuyerRouteResponse as Answer;
        match refusal(
            &api_connector::operations::SEND_SLIMSTOCK_FORECAST_BY_BUYER_ROUTE,
            &request.raw,
            &request.body,
            &api_connector::types::txml_shapes::SendSlimstockForecastByBuyer,
        ) {
            Some(body) => Answer::BadRequest { body },
            None => {
                self.process_forecast(
                    super::forecast::ForecastKind::Slimstock,
                    &request.body.header,
                    &request.body,
                );
                Answer::Ok { body: ok() }
            }
        }
    }

    async fn send_order_response_by_supplier_route(
        &self,
        request: api_connector::server::SendOrderResponseBySupplierRouteRequest,
    ) -> api_connector::server::SendOrderResponseBySupplierRouteResponse {
        use api_connector::server::SendOrderResponseBySupplierRouteResponse as Answer;
        match refusal(
            &api_connector::operations::SEND_ORDER_RESPONSE_BY_SUPPLIER_ROUTE,
            &request.raw,
            &request.body,
            &api_connector::types::txml_shapes::SendOrderResponseBySupplier,
        ) {
            Some(body) => Answer::BadRequest { body },
            None => match self.process_order_response(&request.body) {
                Ok(()) => Answer::Ok { body: ok() },
                Err(refused) => Answer::BadRequest {
                    body: error_body(refused),
                },
            },
        }
    }

    async fn send_despatch_advice_by_supplier_route(
        &self,
        request: api_connector::server::SendDespatchAdviceBySupplierRouteRequest,
    ) -> api_connector::server::SendDespatchAdviceBySupplierRouteResponse {
        use api_connector::server::SendDespatchAdviceBySupplierRouteResponse as Answer;
        match refusal(
            &api_connector::operations::SEND_DESPATCH_ADVICE_BY_SUPPLIER_ROUTE,
            &request.raw,
            &request.body,
            &api_connector::types::txml_shapes::SendDespatchAdviceBySupplier,
        ) {
            Some(body) => Answer::BadRequest { body },
            None => match self.process_despatch_advice(&request.body) {
                Ok(()) => Answer::Ok { body: ok() },
                Err(refused) => Answer::BadRequest {
                    body: error_body(refused),
                },
            },
        }
    }

    super::api::admit!();
}

/// The checks every order action of the order service passes first, in a
/// handler whose `Answer` has `BadRequest` and `NotFound`: an order id the
/// mock does not know, or an order of another company than the one the
/// caller acts for in this operation ([`MockState::actors_order`]),
/// returns `404` whatever the body (specs/order.yaml: "no order with this
/// id (for this user)"; a body the generated code cannot decode gets the
/// same `404` from the mock's `reject`), then a body the operation
/// refuses ([`refusal`]) `400`. The other side's user was refused `403`
/// before (the gate, by the operation's `x-party`).
macro_rules! order_action_gate {
    ($state:ident, $request:ident, $operation:ident, $shape:ident) => {
        if let Err(body) = $state.actors_order(
            &$request.raw.headers,
            &$request.order_id,
            $crate::api::order::operations::$operation.party,
        ) {
            return Answer::NotFound { body: *body };
        }
        if let Some(body) = $crate::mock::write::refusal(
            &$crate::api::order::operations::$operation,
            &$request.raw,
            &$request.body,
            &$crate::api::order::types::txml_shapes::$shape,
        ) {
            return Answer::BadRequest { body };
        }
    };
}
pub(super) use order_action_gate;

/// The methods of `order::server::Api` for the buyer's order actions on
/// named lines (complete, deliver, revert; used inside that trait's
/// implementation, in `api.rs`): each refuses a body as [`refusal`] does
/// (`400`) and an order id the mock does not know (`404`,
/// [`MockState::actors_order`]), then takes the action on the buyer's
/// order `orderId` ([`MockState::process_order_action`],
/// [`process::order_action`]): a position the order does not have `404`,
/// a stale `version` `409`, no line named that can take the action `400`
/// ([`action_refusal`] says which and why), all changing nothing; else
/// `200` with [`order_action_answer`].
macro_rules! buyer_order_actions {
    ($($method:ident($request:ident) -> $response:ident = $operation:ident, $shape:ident,
        |$body:ident| ($action:expr, $version:expr $(,)?);)*) => {
        $(
            async fn $method(
                &self,
                request: $crate::api::order::server::$request,
            ) -> $crate::api::order::server::$response {
                use $crate::api::order::server::$response as Answer;
                use $crate::mock::process::ActionRefused;
                $crate::mock::write::order_action_gate!(self, request, $operation, $shape);
                let $body = &*request.body;
                let action: $crate::mock::process::LineAction = $action;
                let version: Option<i64> = $version;
                match self.process_order_action(
                    &request.order_id,
                    &$body.line_positions,
                    action,
                    version,
                ) {
                    Ok(()) => Answer::Ok {
                        body: $crate::mock::write::order_action_answer(),
                    },
                    Err(refused) => {
                        let body = $crate::mock::write::action_refusal(&request.order_id, &refused);
                        match refused {
                            ActionRefused::NoSuchLines(_) => Answer::NotFound { body },
                            ActionRefused::Stale { .. } => Answer::Conflict { body },
                            ActionRefused::NotApplicable(_) => Answer::BadRequest { body },
                        }
                    }
                }
            }
        )*
    };
}
pub(super) use buyer_order_actions;

/// The buyer's answers to a shipment reschedule request, `true` to approve
/// ([`MockState::process_reschedule_answer`]): a refused body `400`, an
/// unknown order or line `404`, a line without an open request `400`
/// ([`reschedule_refusal`]).
macro_rules! reschedule_answers {
    ($($method:ident($request:ident) -> $response:ident = $operation:ident, $shape:ident, $approve:expr,
        |$body:ident| $reason:expr;)*) => {
        $(
            async fn $method(
                &self,
                request: $crate::api::order::server::$request,
            ) -> $crate::api::order::server::$response {
                use $crate::api::order::server::$response as Answer;
                use $crate::mock::process::RescheduleRefused;
                $crate::mock::write::order_action_gate!(self, request, $operation, $shape);
                let $body = &*request.body;
                let reason: Option<&str> = $reason;
                match self.process_reschedule_answer(&request.order_id, &request.position, $approve, reason) {
                    Ok(()) => Answer::Ok {
                        body: $crate::mock::write::order_action_answer(),
                    },
                    Err(refused) => {
                        let body = $crate::mock::write::reschedule_refusal(
                            &request.order_id,
                            &request.position,
                            &refused,
                        );
                        match refused {
                            RescheduleRefused::NoSuchLine => Answer::NotFound { body },
                            RescheduleRefused::NothingOpen => Answer::BadRequest { body },
                        }
                    }
                }
            }
        )*
    };
}
pub(super) use reschedule_answers;

/// The body of a refused answer to a shipment reschedule request: no such
/// line (`404`) or no open request on it (`400`).
pub(super) fn reschedule_refusal(
    order_id: &str,
    position: &str,
    refused: &process::RescheduleRefused,
) -> ErrorResponse {
    match refused {
        process::RescheduleRefused::NoSuchLine => error_body(format!(
            "order {order_id} has no line at position {position}"
        )),
        process::RescheduleRefused::NothingOpen => error_body(format!(
            "line {position} of order {order_id} has no open shipment reschedule request \
             (its status.inProgressStatus is not OpenSupplierShipmentRescheduleRequest); \
             fetch the order and answer only the lines that have one"
        )),
    }
}

/// The buyer's bulk answers to the open supplier requests of some lines
/// (`POST /order/{orderId}/requests/buyer/approve` and `…/reject`), `true`
/// to approve ([`MockState::process_requests_answer`]): a refused body
/// `400`, an unknown order or a position the order does not have `404`, a
/// line without an open request `400` ([`requests_refusal`]); a refused
/// answer changes no line.
macro_rules! request_answers {
    ($($method:ident($request:ident) -> $response:ident = $operation:ident, $shape:ident,
        |$body:ident| $verdict:expr;)*) => {
        $(
            async fn $method(
                &self,
                request: $crate::api::order::server::$request,
            ) -> $crate::api::order::server::$response {
                use $crate::api::order::server::$response as Answer;
                use $crate::mock::process::RequestsRefused;
                $crate::mock::write::order_action_gate!(self, request, $operation, $shape);
                let positions = &request.body.line_positions;
                let $body = &*request.body;
                let verdict: $crate::mock::process::Verdict<'_> = $verdict;
                match self.process_requests_answer(&request.order_id, positions, verdict) {
                    Ok(()) => Answer::Ok {
                        body: $crate::mock::write::order_action_answer(),
                    },
                    Err(refused) => {
                        let body = $crate::mock::write::requests_refusal(&request.order_id, &refused);
                        match refused {
                            RequestsRefused::NoSuchLines(_) => Answer::NotFound { body },
                            RequestsRefused::NothingOpen(_) => Answer::BadRequest { body },
                        }
                    }
                }
            }
        )*
    };
}
pub(super) use request_answers;

/// The body of a refused bulk answer to requests: positions the order does
/// not have (`404`) or lines without an open supplier request (`400`).
pub(super) fn requests_refusal(
    order_id: &str,
    refused: &process::RequestsRefused,
) -> ErrorResponse {
    match refused {
        process::RequestsRefused::NoSuchLines(positions) => error_body(format!(
            "order {order_id} has no line at position {}; nothing was answered: \
             send only positions of the order's lines",
            positions.join(", ")
        )),
        process::RequestsRefused::NothingOpen(positions) => error_body(format!(
            "line {} of order {order_id} has no open supplier request (proposal, reopen \
             request or shipment reschedule request); nothing was answered: fetch the order \
             and name only the lines whose status.inProgressStatus is OpenSupplierProposal, \
             OpenSupplierReopenRequest or OpenSupplierShipmentRescheduleRequest",
            positions.join(", ")
        )),
    }
}

/// The body of a refused order action on named lines
/// ([`buyer_order_actions`]): positions the order does not have (`404`), a
/// stale `version` (`409`), or each line named and why it cannot take the
/// action (`400`).
pub(super) fn action_refusal(order_id: &str, refused: &process::ActionRefused) -> ErrorResponse {
    error_body(action_refusal_message(order_id, refused))
}

/// What [`action_refusal`] says.
pub(super) fn action_refusal_message(order_id: &str, refused: &process::ActionRefused) -> String {
    match refused {
        process::ActionRefused::NoSuchLines(positions) => format!(
            "order {order_id} has no line at position {}; nothing changed: send only \
             positions of the order's lines (buyerLine.position)",
            positions.join(", ")
        ),
        process::ActionRefused::Stale { given, current } => format!(
            "order {order_id} is at version {current}, not version {given} the action is based \
             on: it changed since; nothing changed: fetch the order and decide again"
        ),
        process::ActionRefused::NotApplicable(lines) => format!(
            "no line named of order {order_id} can take this action ({}); nothing changed: \
             fetch the order and name lines in a status the action applies to",
            lines
                .iter()
                .map(|(position, why)| format!("line {position}: {why}"))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

/// The body of an accepted order action.
pub(super) fn order_action_answer() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// What a message asks the process to change, to say what it did not find
/// ([`MockState::unmatched`]): `what` names the message and its order,
/// `missing` says why no order matched and what to check, and `positions`
/// are the line positions it names, checked against the order found.
struct Subject<'m> {
    what: String,
    missing: &'static str,
    positions: Vec<&'m str>,
}

impl<'m> Subject<'m> {
    fn new(what: String, missing: &'static str) -> Self {
        Subject {
            what,
            missing,
            positions: Vec::new(),
        }
    }

    fn lines(mut self, positions: impl IntoIterator<Item = &'m str>) -> Self {
        self.positions = positions.into_iter().collect();
        self
    }
}

/// Tradecloud's limit on the lines of one order, in total across the
/// messages that issue and update it (api/rules.md: "500 lines in total per
/// order"), an exception to [`process::MAX_TOTAL_OBJECTS`].
const MAX_ORDER_LINES: usize = 500;

/// Tradecloud's limit on the lines of one shipment, in total across the
/// despatch advices that add to it (api/rules.md: "500 lines in total per
/// shipment"; shipment/supplier/send-despatch-advice.md: "limited to 500
/// lines per shipment"). One advice's own limit is the spec's `maxItems`.
const MAX_SHIPMENT_LINES: usize = 500;

/// The order wanted by a buyer's message is not there.
const NO_BUYER_ORDER: &str = "the mock's buyer has no order with this purchase order number; \
    nothing changed: send the order first (POST /api-connector/order) or check the number";

/// Why a message's `companyId` keeps it from the mock's `company`, if it does.
pub(super) fn other_company(
    what: &str,
    company_id: Option<&String>,
    company: &MockCompany,
    side: &str,
) -> Option<String> {
    let id = company_id.filter(|id| **id != company.company_id)?;
    Some(format!(
        "{what}: companyId {id} is not the mock's {side} ({}); nothing changed: leave companyId \
         out or send {}",
        company.company_id, company.company_id
    ))
}

impl MockState {
    /// Why a buyer's message about `what` (an order, a forecast) is not for
    /// this mock: another `companyId`, or a `supplierAccountNumber` that is
    /// not the supplier its buyer is connected with; `None` when it is.
    pub(super) fn not_for_the_buyer(
        &self,
        what: &str,
        company_id: Option<&String>,
        supplier_account_number: &str,
    ) -> Option<String> {
        if let Some(unmatched) = other_company(what, company_id, &self.buyer, "buyer") {
            return Some(unmatched);
        }
        let connected = &self.buyer.partner_account_number;
        (supplier_account_number != connected.as_str()).then(|| {
            format!(
                "{what}: supplierAccountNumber {supplier_account_number} is not the supplier the \
                 mock's buyer is connected with ({connected}); nothing changed: send \
                 supplierAccountNumber {connected}"
            )
        })
    }

    fn parties(&self) -> Parties<'_> {
        Parties {
            buyer: &self.buyer,
            supplier: &self.supplier,
        }
    }

    /// Whether the caller of a request may act as `side`: the buyer's user
    /// only as the buyer, the supplier's only as the supplier; any other
    /// configured user (the single-user default) acts for either company.
    pub(super) fn acts_as(&self, headers: &http::HeaderMap, side: Party) -> bool {
        let Some(email) = self.caller(headers) else {
            return false;
        };
        if email.eq_ignore_ascii_case(&self.buyer.user.email) {
            side == Party::Buyer
        } else if email.eq_ignore_ascii_case(&self.supplier.user.email) {
            side == Party::Supplier
        } else {
            true
        }
    }

    /// The mock's company of `side`.
    pub(super) fn company(&self, side: Party) -> &MockCompany {
        match side {
            Party::Buyer => &self.buyer,
            Party::Supplier => &self.supplier,
        }
    }

    /// Whether an order or shipment is `side`'s by the company id its
    /// `side` part names (`named`): the mock's company of that side, or
    /// none named. The one ownership rule of the order actions and the
    /// order read ([`Self::actors_order`]) and of the shipment portal.
    pub(super) fn owns(&self, side: Party, named: Option<&str>) -> bool {
        named.is_none_or(|id| id == self.company(side).company_id)
    }

    /// Store a changed order and its single-delivery view.
    fn store_order(store: &mut Objects, order: Order) {
        let Some(id) = order.id.clone() else {
            return;
        };
        store.process_orders.insert(id.clone());
        store
            .single_delivery_orders
            .insert(id.clone(), process::single_delivery_view(&order));
        store.orders.insert(id, order);
    }

    /// A buyer's order: creates or updates the order of the buyer with that
    /// purchase order number, when it is for the supplier the buyer knows
    /// by `supplierAccountNumber` ([`process::issue_order`]). `Err` says
    /// why the order is refused (a `400`): it would break a limit on the
    /// total number of delivery history lines or documents (nothing is
    /// stored then).
    pub(super) fn process_order(
        &self,
        message: &api_connector::types::SendOrderByBuyer,
    ) -> Result<(), String> {
        self.issue(&message.order, HistoryWrite::Replaced, |_| {
            (message.clone(), Vec::new())
        })
    }

    /// A buyer's single-delivery order: the order with delivery schedules
    /// it stands for, merged with the stored order
    /// ([`process::single_delivery_message`]), is issued as
    /// [`Self::process_order`] issues an order.
    pub(super) fn process_single_delivery_order(
        &self,
        message: &api_connector::types::SendSingleDeliveryOrderByBuyer,
    ) -> Result<(), String> {
        self.issue(&message.order, HistoryWrite::Compared, |existing| {
            process::single_delivery_message(message, existing)
        })
    }

    /// Issue the order `build` makes of the buyer's stored order with the
    /// purchase order number of `order` (if any), in one step with the store;
    /// `history` says how the message writes a line's delivery history.
    fn issue(
        &self,
        order: &api_connector::types::OrderByBuyer,
        history: HistoryWrite,
        build: impl FnOnce(
            Option<&Order>,
        ) -> (
            api_connector::types::SendOrderByBuyer,
            Vec<process::DeliveryLine>,
        ),
    ) -> Result<(), String> {
        let what = format!("order {}", order.purchase_order_number);
        if let Some(unmatched) = self.not_for_the_buyer(
            &what,
            order.company_id.as_ref(),
            &order.supplier_account_number,
        ) {
            self.unmatched(unmatched);
            return Ok(());
        }
        let parties = self.parties();
        let (before, after) = self.with_store(|store| {
            let existing = Self::process_order_where(store, |o| {
                process::is_buyer_order(o, parties.buyer, &order.purchase_order_number)
            });
            let (message, mut delivery_lines) = build(existing.as_ref());
            // A completed or cancelled order line ignores the update, a
            // split line's `shipped`/`delivered` too.
            let finished = existing.as_ref().map(process::finished_lines);
            delivery_lines.retain(|d| !finished.iter().flatten().any(|f| *f == d.line));
            if let Some(refused) = Self::order_over_limit(existing.as_ref(), &message) {
                return Err(refused);
            }
            let now = store.stamp();
            let mut updated = process::issue_order(existing.clone(), &message, parties, &now);
            process::indicate_delivery_lines(&mut updated, &delivery_lines, &now);
            Self::store_order(store, updated.clone());
            Ok((existing, updated))
        })?;
        self.emit_order_events(Party::Buyer, before.as_ref(), &after, history);
        Ok(())
    }

    /// Why a buyer's order for `existing` is refused, if it is: the order
    /// would have more than [`MAX_ORDER_LINES`] lines, or a line's delivery
    /// history, or the documents of the header or a line, would pass
    /// Tradecloud's limit of [`process::MAX_TOTAL_OBJECTS`].
    fn order_over_limit(
        existing: Option<&Order>,
        message: &api_connector::types::SendOrderByBuyer,
    ) -> Option<String> {
        let lines = || message.lines.iter().flatten();
        if let Some(refused) = Self::lines_over_limit(existing, message) {
            return Some(refused);
        }
        if let Some(order) = existing {
            let histories = lines().filter_map(|l| {
                l.delivery_history
                    .as_deref()
                    .map(|h| (l.position.as_str(), h))
            });
            if let Some(refused) = process::history_over_limit(order, histories, true) {
                return Some(refused);
            }
        }
        process::documents_over_limit(
            existing,
            Party::Buyer,
            message.order.documents.as_deref().unwrap_or_default(),
            lines().map(|l| {
                (
                    l.position.as_str(),
                    l.documents.as_deref().unwrap_or_default(),
                )
            }),
        )
    }

    /// Why a buyer's order is refused for its number of lines, if it is:
    /// lines merge across messages (the lines not sent stay), so the stored
    /// lines and the new positions of `message` together would pass
    /// [`MAX_ORDER_LINES`]. A message that adds no line is never refused
    /// for it, so an order that has more lines (inserted by a test) can
    /// still be updated.
    fn lines_over_limit(
        existing: Option<&Order>,
        message: &api_connector::types::SendOrderByBuyer,
    ) -> Option<String> {
        let stored: HashSet<&str> = existing
            .into_iter()
            .flat_map(|o| &o.lines)
            .filter_map(|l| l.buyer_line.as_ref()?.position.as_deref())
            .collect();
        let new: HashSet<&str> = message
            .lines
            .iter()
            .flatten()
            .map(|l| l.position.as_str())
            .filter(|p| !stored.contains(p))
            .collect();
        let before = existing.map_or(0, |o| o.lines.len());
        let total = before + new.len();
        (!new.is_empty() && total > MAX_ORDER_LINES).then(|| {
            format!(
                "order {} would have {total} lines ({before} stored, {} new); Tradecloud \
                 allows at most {MAX_ORDER_LINES} lines in total per order (api/rules.md), so \
                 nothing of this message was stored: the order has room for {} more lines; \
                 send fewer new lines, or the others as another order",
                message.order.purchase_order_number,
                new.len(),
                MAX_ORDER_LINES.saturating_sub(before),
            )
        })
    }

    /// Queue the webhook events of an order change by `actor`
    /// ([`webhooks::order_events`]): for the other company, and for the
    /// acting one when its settings name the event.
    fn emit_order_events(
        &self,
        actor: Party,
        before: Option<&Order>,
        after: &Order,
        history: HistoryWrite,
    ) {
        for (event, positions) in webhooks::order_events(actor, before, after, history) {
            for (company, acting) in [(actor.other(), false), (actor, true)] {
                self.emit_order_event(company, actor, event, after, &positions, acting);
            }
        }
    }

    /// Queue `event` of `order`, with the lines at `positions`, for
    /// `company`'s order-events webhook ([`webhooks::WebhookHub::emit`]);
    /// `actor` triggered it.
    fn emit_order_event(
        &self,
        company: Party,
        actor: Party,
        event: &str,
        order: &Order,
        positions: &[String],
        acting: bool,
    ) {
        let Some(id) = order.id.as_deref() else {
            return;
        };
        self.webhooks.emit(
            (company, actor),
            WebhookKind::OrderEvents,
            event,
            id,
            acting,
            |settings| {
                Some(webhooks::order_body(
                    event,
                    order,
                    positions,
                    settings.single_delivery_per_order_line == Some(true),
                ))
            },
        );
    }

    /// The buyer's documents for one of its orders
    /// ([`process::attach_buyer_documents`]): attached to the stored order
    /// (stamped when that changes it), and when it changed, the supplier's
    /// order-documents webhook gets `OrderDocumentsAttachedByBuyer` with
    /// the documents sent, on the order and on the lines named. A message
    /// that changes nothing (the same documents again, or only lines the
    /// order does not have) is accepted and sends no event. `Err` says why
    /// the message is refused (a `400`): the header or a line would have
    /// more documents than Tradecloud allows
    /// ([`process::documents_over_limit`]; nothing is attached then).
    pub(super) fn process_documents(
        &self,
        message: &api_connector::types::AttachOrderDocumentsByBuyer,
    ) -> Result<(), String> {
        let number = &message.order.purchase_order_number;
        let what = format!("documents for purchase order {number}");
        if let Some(unmatched) = other_company(
            &what,
            message.order.company_id.as_ref(),
            &self.buyer,
            "buyer",
        ) {
            self.unmatched(unmatched);
            return Ok(());
        }
        let mut unmatched = None;
        let found = self.with_store(|store| {
            let Some(mut order) = Self::process_order_where(store, |o| {
                process::is_buyer_order(o, &self.buyer, number)
            }) else {
                unmatched = Some(format!("{what}: {NO_BUYER_ORDER}"));
                return Ok(None);
            };
            unmatched = process::missing_lines(
                &order,
                message.lines.iter().flatten().map(|l| l.position.as_str()),
            )
            .map(|missing| format!("{what}: {missing}"));
            if let Some(refused) = process::documents_over_limit(
                Some(&order),
                Party::Buyer,
                message.order.documents.as_deref().unwrap_or_default(),
                message.lines.iter().flatten().map(|l| {
                    (
                        l.position.as_str(),
                        l.documents.as_deref().unwrap_or_default(),
                    )
                }),
            ) {
                return Err(refused);
            }
            let now = store.stamp();
            if !process::attach_buyer_documents(&mut order, message, &now) {
                return Ok(None);
            }
            Self::store_order(store, order.clone());
            Ok(Some(order))
        });
        if let Some(unmatched) = unmatched {
            self.unmatched(unmatched);
        }
        let Some(order) = found? else {
            return Ok(());
        };
        let attached = webhooks::AttachedDocuments {
            order: message.order.documents.clone().unwrap_or_default(),
            lines: message
                .lines
                .iter()
                .flatten()
                .map(|l| (l.position.clone(), l.documents.clone().unwrap_or_default()))
                .collect(),
        };
        let Some(id) = order.id.clone() else {
            return Ok(());
        };
        // For the supplier, and for the buyer itself when its settings name
        // the event.
        let event = "OrderDocumentsAttachedByBuyer";
        for (company, acting) in [(Party::Supplier, false), (Party::Buyer, true)] {
            self.webhooks.emit(
                (company, Party::Buyer),
                WebhookKind::OrderDocumentsEvents,
                event,
                &id,
                acting,
                |_| Some(webhooks::documents_body(event, &order, &attached)),
            );
        }
        Ok(())
    }

    /// The buyer's indicators for one of its orders ([`process::apply_indicators`]).
    pub(super) fn process_indicators(
        &self,
        message: &api_connector::types::SendOrderIndicatorsByBuyer,
    ) {
        let number = &message.order.purchase_order_number;
        let what = format!("indicators for purchase order {number}");
        if let Some(unmatched) = other_company(
            &what,
            message.order.company_id.as_ref(),
            &self.buyer,
            "buyer",
        ) {
            return self.unmatched(unmatched);
        }
        let subject = Subject::new(what, NO_BUYER_ORDER)
            .lines(message.lines.iter().flatten().map(|l| l.position.as_str()));
        self.change_order(
            Party::Buyer,
            subject,
            |o| process::is_buyer_order(o, &self.buyer, number),
            |order, now| process::apply_indicators(order, message, now),
        );
    }

    /// The buyer's goods receipts for one of its orders
    /// ([`process::receive_goods`]): appended, or with `replace` replacing
    /// the delivery history of the lines sent. `Err` says why the message
    /// is refused (a `400`): a line's history would have more lines than
    /// Tradecloud allows ([`process::history_over_limit`]; nothing is
    /// stored then).
    pub(super) fn process_goods_receipt<'m>(
        &self,
        order: &api_connector::types::OrderDeliveriesOrderByBuyer,
        lines: impl IntoIterator<Item = (&'m str, &'m [DeliveryHistoryLine])> + Clone,
        replace: bool,
    ) -> Result<(), String> {
        let number = &order.purchase_order_number;
        let what = format!("goods receipts for purchase order {number}");
        if let Some(unmatched) =
            other_company(&what, order.company_id.as_ref(), &self.buyer, "buyer")
        {
            self.unmatched(unmatched);
            return Ok(());
        }
        let mut refused = None;
        let history = if replace {
            HistoryWrite::Replaced
        } else {
            HistoryWrite::Appended
        };
        let subject = Subject::new(what, NO_BUYER_ORDER)
            .lines(lines.clone().into_iter().map(|(position, _)| position));
        self.change_order_writing(
            Party::Buyer,
            history,
            subject,
            |o| process::is_buyer_order(o, &self.buyer, number),
            |stored, now| {
                refused = process::history_over_limit(stored, lines.clone(), replace);
                refused.is_none() && process::receive_goods(stored, lines, replace, now)
            },
        );
        refused.map_or(Ok(()), Err)
    }

    /// A supplier's order response for the order its buyer (known by
    /// `buyerAccountNumber`) sent with that purchase order number
    /// ([`process::respond`]). `Err` says why the response is refused (a
    /// `400`): the supplier's documents of the header or a line would pass
    /// Tradecloud's limit ([`process::documents_over_limit`], as for the
    /// buyer's; nothing is stored then).
    pub(super) fn process_order_response(
        &self,
        message: &api_connector::types::SendOrderResponseBySupplier,
    ) -> Result<(), String> {
        let order = &message.order;
        let what = format!(
            "order response for purchase order {} of buyer account {}",
            order.purchase_order_number, order.buyer_account_number
        );
        if let Some(unmatched) =
            other_company(&what, order.company_id.as_ref(), &self.supplier, "supplier")
        {
            self.unmatched(unmatched);
            return Ok(());
        }
        let mut refused = None;
        let subject = Subject::new(
            what,
            "the mock's supplier has no order with this buyer account number and purchase \
             order number; nothing changed: check both (the mock's supplier knows its buyer \
             by the account number of MockServer::supplier())",
        )
        .lines(
            message
                .lines
                .iter()
                .map(|l| l.purchase_order_line_position.as_str()),
        );
        // Documents in a response are kept on the order (process::respond)
        // and travel in the order event's `supplierOrder`/`supplierLine`;
        // they create no `OrderDocumentsAttachedBySupplier`
        // (order/supplier/send-order-response/attach-document.md: "This will
        // NOT create an `OrderDocumentsAttachedBySupplier` activity").
        self.change_order(
            Party::Supplier,
            subject,
            |o| {
                process::is_supplier_order(
                    o,
                    &self.supplier,
                    &order.buyer_account_number,
                    &order.purchase_order_number,
                )
            },
            |stored, now| {
                refused = process::documents_over_limit(
                    Some(stored),
                    Party::Supplier,
                    order.documents.as_deref().unwrap_or_default(),
                    message.lines.iter().map(|l| {
                        (
                            l.purchase_order_line_position.as_str(),
                            l.documents.as_deref().unwrap_or_default(),
                        )
                    }),
                );
                refused.is_none() && process::respond(stored, message, now)
            },
        );
        refused.map_or(Ok(()), Err)
    }

    /// A buyer's order action on its order `order_id` (the answers to
    /// requests, complete, deliver, revert: [`buyer_order_actions`]).
    pub(super) fn process_request_answer(
        &self,
        order_id: &str,
        answer: impl FnOnce(&mut Order, &DateTime) -> bool,
    ) {
        self.change_order(
            Party::Buyer,
            Self::action_subject(order_id, "buyer"),
            self.own_order(Party::Buyer, order_id),
            answer,
        );
    }

    /// An order action's [`Subject`]: an order id the mock does not know
    /// at all, or another company's order, is a `404` before this
    /// ([`Self::actors_order`]); one it knows but that is not the
    /// process's order is one of its data orders.
    fn action_subject(order_id: &str, side: &'static str) -> Subject<'static> {
        Subject::new(
            format!("order action on order {order_id} by the {side}"),
            "not an order the mock's process made (an order of the mock's data, which the \
             process does not change); nothing changed",
        )
    }

    /// The company the caller of an order action acts for on order
    /// `order_id`, or the `404` body (boxed: it is large) when the order is
    /// not the caller's
    /// (specs/order.yaml: "no order with this id (for this user)"): an
    /// order id the mock does not know at all (not in the process, not in
    /// its data; a mistyped id is an error, as at Tradecloud, not an action
    /// that silently changes nothing), or an order of another company. The
    /// order is the caller's when, for a side `party` allows (an action of
    /// one side, the spec's `x-party`; `None`: either), the caller acts as
    /// that side ([`Self::acts_as`]) and the order names that side's
    /// company as the mock's (`buyerOrder.companyId`,
    /// `supplierOrder.companyId`), or names none: the shipment portal
    /// actions' rule ([`Self::check_shipment`]). The buyer side is tried
    /// first.
    pub(super) fn actors_order(
        &self,
        headers: &http::HeaderMap,
        order_id: &str,
        party: Option<Party>,
    ) -> Result<Party, Box<ErrorResponse>> {
        let companies = self.with_store(|store| {
            let of = |buyer: Option<&BuyerOrder>, supplier: Option<&SupplierOrder>| {
                (
                    buyer.and_then(|b| b.company_id.clone()),
                    supplier.and_then(|s| s.company_id.clone()),
                )
            };
            match store.orders.get(order_id) {
                Some(o) => Some(of(o.buyer_order.as_ref(), o.supplier_order.as_ref())),
                None => store
                    .single_delivery_orders
                    .get(order_id)
                    .map(|o| of(o.buyer_order.as_ref(), o.supplier_order.as_ref())),
            }
        });
        let Some((buyer, supplier)) = companies else {
            return Err(Box::new(order_not_found(order_id)));
        };
        let sides: &[Party] = match party {
            Some(Party::Buyer) => &[Party::Buyer],
            Some(Party::Supplier) => &[Party::Supplier],
            None => &[Party::Buyer, Party::Supplier],
        };
        let named = |side: Party| match side {
            Party::Buyer => buyer.as_deref(),
            Party::Supplier => supplier.as_deref(),
        };
        let acting: Vec<Party> = sides
            .iter()
            .copied()
            .filter(|&side| self.acts_as(headers, side))
            .collect();
        if let Some(side) = acting
            .iter()
            .copied()
            .find(|&side| self.owns(side, named(side)))
        {
            return Ok(side);
        }
        let whose = acting
            .iter()
            .map(|&side| {
                format!(
                    "the mock's {side} company ({})",
                    self.company(side).company_id
                )
            })
            .collect::<Vec<_>>()
            .join(" or ");
        Err(Box::new(error_body(format!(
            "order {order_id} is not an order of {whose}: it is another company's order; \
             nothing changed: use the id of one of your company's orders (the orderId of its \
             order events, or the id in an order poll)"
        ))))
    }

    /// Whether an order is `side`'s order `order_id` (its company named in
    /// its buyer or supplier part, or not named).
    fn own_order<'s>(&'s self, side: Party, order_id: &'s str) -> impl Fn(&Order) -> bool + 's {
        move |o| {
            let named = match side {
                Party::Buyer => o.buyer_order.as_ref().and_then(|b| b.company_id.as_deref()),
                Party::Supplier => o
                    .supplier_order
                    .as_ref()
                    .and_then(|s| s.company_id.as_deref()),
            };
            o.id.as_deref() == Some(order_id) && self.owns(side, named)
        }
    }

    /// An order action either party may take on order `order_id`
    /// ([`process::update_delivery_logistics`]): the caller acts for the
    /// side whose order it is ([`Self::actors_order`]: the buyer's by its
    /// `buyerOrder.companyId`, the supplier's by its
    /// `supplierOrder.companyId`), and is the actor of the events.
    pub(super) fn process_either_party_action(
        &self,
        headers: &http::HeaderMap,
        order_id: &str,
        answer: impl FnOnce(&mut Order, &DateTime) -> bool,
    ) {
        let Ok(actor) = self.actors_order(headers, order_id, None) else {
            return;
        };
        let side = match actor {
            Party::Buyer => "buyer",
            Party::Supplier => "supplier",
        };
        self.change_order(
            actor,
            Self::action_subject(order_id, side),
            self.own_order(actor, order_id),
            answer,
        );
    }

    /// The buyer's `POST /order/{orderId}/buyer/resend`: the order as it
    /// is, with all its lines, to the buyer's own order-events webhook as
    /// `OrderResentByBuyer` ("manually resent the order to their ERP
    /// system", connectors/webhooks/order-events.md, "Maintenance"); the
    /// order does not change and the supplier gets nothing.
    pub(super) fn resend_order(&self, order_id: &str) {
        let Some(order) = self.with_store(|store| {
            Self::process_order_where(store, self.own_order(Party::Buyer, order_id))
        }) else {
            tracing::debug!("no such order in the mock: accepted, nothing resent");
            return;
        };
        self.emit_resent(Party::Buyer, &order);
    }

    /// `by` resends `order` to its own ERP: the order as it is, with all
    /// its lines, to `by`'s own order-events webhook as
    /// `OrderResentByBuyer` / `OrderResentBySupplier` ("Buyer or supplier
    /// manually resent the order to their ERP system",
    /// connectors/webhooks/order-events.md, "Maintenance"); the other
    /// company gets nothing.
    fn emit_resent(&self, by: Party, order: &Order) {
        let positions: Vec<String> = order
            .lines
            .iter()
            .filter_map(|l| l.buyer_line.as_ref()?.position.clone())
            .collect();
        let event = match by {
            Party::Buyer => "OrderResentByBuyer",
            Party::Supplier => "OrderResentBySupplier",
        };
        self.emit_order_event(by, by, event, order, &positions, false);
    }

    /// A portal action on the order `order_id` by `actor`
    /// ([`super::portal::OrderAction`]): mark the lines at `positions` as
    /// open or delivered ([`process::order_action`], its events by
    /// [`webhooks::order_events`] to the other company, and to `actor`'s
    /// when its settings name them), or resend the order
    /// ([`Self::emit_resent`]). The order as it is afterwards, or why the
    /// action is refused, changing nothing: an order id the mock does not
    /// hold or another company's order `404`, an order of the mock's data
    /// (which the process never changes) `409`, then the order action's
    /// own refusals ([`action_refusal_message`]: a position the order does
    /// not have `404`, no line named that can take the action `400`).
    pub(super) fn portal_order_action(
        &self,
        order_id: &str,
        actor: Party,
        action: Option<(process::LineAction, &[String])>,
    ) -> Result<Order, Refused> {
        let changed = self.with_store(|store| {
            let mut order = self.portal_order(store, order_id, actor)?;
            let Some((action, positions)) = action else {
                return Ok((None, order));
            };
            let before = order.clone();
            let now = store.stamp();
            match process::order_action(&mut order, positions, action, None, &now) {
                Ok(true) => {
                    Self::store_order(store, order.clone());
                    Ok((Some(before), order))
                }
                Ok(false) => Ok((None, before)),
                Err(refused) => {
                    let status = match refused {
                        process::ActionRefused::NoSuchLines(_) => StatusCode::NOT_FOUND,
                        process::ActionRefused::Stale { .. } => StatusCode::CONFLICT,
                        process::ActionRefused::NotApplicable(_) => StatusCode::BAD_REQUEST,
                    };
                    Err(Refused::new(
                        status,
                        action_refusal_message(order_id, &refused),
                    ))
                }
            }
        });
        let (before, after) = changed?;
        match (action, before) {
            (None, _) => self.emit_resent(actor, &after),
            (Some(_), Some(before)) => {
                self.emit_order_events(actor, Some(&before), &after, HistoryWrite::Compared);
            }
            (Some(_), None) => {}
        }
        Ok(after)
    }

    /// Whether `actor` may take a portal action on the order `order_id`:
    /// `Err` with the `404` or `409` of [`Self::portal_order_action`]
    /// (checked before the body is read).
    pub(super) fn check_portal_order(&self, order_id: &str, actor: Party) -> Result<(), Refused> {
        self.with_store(|store| self.portal_order(store, order_id, actor).map(drop))
    }

    /// The process's order `order_id` if it is `actor`'s, else why not
    /// ([`Self::portal_order_action`]).
    fn portal_order(
        &self,
        store: &Objects,
        order_id: &str,
        actor: Party,
    ) -> Result<Order, Refused> {
        {
            let Some(stored) = store.orders.get(order_id) else {
                return Err(Refused::new(
                    StatusCode::NOT_FOUND,
                    format!(
                        "order {order_id} not found; nothing changed: use the id of an order \
                         the mock holds (the orderId of its order events, or an id in \
                         GET /v2/order-search/poll)"
                    ),
                ));
            };
            if !self.own_order(actor, order_id)(stored) {
                return Err(Refused::new(
                    StatusCode::NOT_FOUND,
                    format!(
                        "order {order_id} is not an order of the mock's {actor} company ({}); \
                         nothing changed",
                        self.company(actor).company_id
                    ),
                ));
            }
        }
        Self::process_order_where(store, self.own_order(actor, order_id)).ok_or_else(|| {
            Refused::new(
                StatusCode::CONFLICT,
                format!(
                    "order {order_id} is the mock's demo or fixture data, which the mock \
                     serves as it is and never changes; nothing changed: issue an order as \
                     the buyer (send order) and act on that one"
                ),
            )
        })
    }

    /// The first order of the process (not of the data the mock was
    /// started with) that `find` picks.
    fn process_order_where(store: &Objects, find: impl Fn(&Order) -> bool) -> Option<Order> {
        store
            .process_orders
            .iter()
            .filter_map(|id| store.orders.get(id))
            .find(|o| find(o))
            .cloned()
    }

    /// Apply `change` to the first stored order `find` picks; stamp and
    /// store it when `change` says it changed, and queue its order events.
    /// Returns the changed order (`None`: no order, or nothing changed).
    /// No order found, or lines of `subject` the order does not have, are
    /// [unmatched](Self::unmatched).
    fn change_order(
        &self,
        actor: Party,
        subject: Subject<'_>,
        find: impl Fn(&Order) -> bool,
        change: impl FnOnce(&mut Order, &DateTime) -> bool,
    ) -> Option<Order> {
        self.change_order_writing(actor, HistoryWrite::Compared, subject, find, change)
    }

    /// [`Self::change_order`] by a message that writes the delivery history
    /// as `history` says.
    fn change_order_writing(
        &self,
        actor: Party,
        history: HistoryWrite,
        subject: Subject<'_>,
        find: impl Fn(&Order) -> bool,
        change: impl FnOnce(&mut Order, &DateTime) -> bool,
    ) -> Option<Order> {
        let mut unmatched = None;
        let changed = self.with_store(|store| {
            let Some(mut order) = Self::process_order_where(store, &find) else {
                // An order of the mock's data with these numbers is there,
                // but the process changes only the orders it created.
                let served_as_is = store.orders.values().any(&find);
                unmatched = Some(if served_as_is {
                    format!(
                        "{}: the order with these numbers is the mock's demo or fixture data, \
                         which the mock serves as it is and never changes; nothing changed: \
                         issue an order as the buyer (send order) and act on that one",
                        subject.what
                    )
                } else {
                    format!("{}: {}", subject.what, subject.missing)
                });
                return None;
            };
            unmatched = process::missing_lines(&order, subject.positions.iter().copied())
                .map(|missing| format!("{}: {missing}", subject.what));
            let before = order.clone();
            let now = store.stamp();
            if change(&mut order, &now) {
                Self::store_order(store, order.clone());
                Some((before, order))
            } else {
                None
            }
        });
        if let Some(unmatched) = unmatched {
            self.unmatched(unmatched);
        }
        let (before, after) = changed?;
        self.emit_order_events(actor, Some(&before), &after, history);
        Some(after)
    }

    /// A supplier's despatch advice, new or updated
    /// (shipment/supplier/send-despatch-advice.md), when it is for the
    /// buyer the supplier knows by `buyerAccountNumber`, its lines' items
    /// enriched from the supplier's order lines they name
    /// ([`process::despatch_advice`]). A shipment holds the lines of one or
    /// more despatch advices, each line naming its `despatchAdviceNumber`
    /// (shipment/buyer/receive/README.md), and is the supplier's
    /// `shipmentNumber` ("the shipment related to this despatch advice"):
    /// its shipment ([`shipment_of_advice`]) is the one the advice
    /// went to before (sending the same `despatchAdviceNumber` again updates
    /// that advice: its lines there are replaced by the sent ones, the
    /// header with them) unless the advice now names another
    /// `shipmentNumber` and leaves it ([`left_shipment`]: that shipment
    /// loses the advice's lines and the header it sent, and is reissued;
    /// left with no line, it is removed), else the supplier's
    /// shipment of the same `shipmentNumber` (the advice's lines are added
    /// beside the others), else a new one. The lines of the shipment's
    /// other advices stay as they are. An update that changes nothing is
    /// not stamped and sends no shipment event (the orders still hear of
    /// it, and change only if their lines do). `Err` (answered `400`, nothing stored) when the shipment
    /// would pass [`MAX_SHIPMENT_LINES`] ([`shipment_over_limit`]). Two lines with the same `despatchAdviceLinePosition` never get
    /// here: the generated stub refuses them (`400`, nothing changed) by
    /// the spec's `x-request-rules` `uniqueBy`, as it refuses every broken
    /// rule ([`Validate`](crate::types::Validate)).
    pub(super) fn process_despatch_advice(
        &self,
        message: &api_connector::types::SendDespatchAdviceBySupplier,
    ) -> Result<(), String> {
        let header = &message.header;
        let what = format!("despatch advice {}", header.despatch_advice_number);
        if let Some(unmatched) = other_company(
            &what,
            header.supplier_company_id.as_ref(),
            &self.supplier,
            "supplier",
        ) {
            self.unmatched(unmatched);
            return Ok(());
        }
        if header.buyer_account_number != self.supplier.partner_account_number {
            self.unmatched(format!(
                "{what}: buyerAccountNumber {} is not the buyer the mock's supplier is connected \
                 with ({}); nothing changed: send buyerAccountNumber {}",
                header.buyer_account_number,
                self.supplier.partner_account_number,
                self.supplier.partner_account_number
            ));
            return Ok(());
        }
        let parties = self.parties();
        let changed = self.with_store(|store| {
            let left = left_shipment(&*store, message, &self.supplier).cloned();
            let stored = shipment_of_advice(&*store, message, &self.supplier).cloned();
            let new = stored.is_none();
            if let Some(refused) = shipment_over_limit(stored.as_ref(), message) {
                return Err(refused);
            }
            // The advice's own part of it: the shipment with only this
            // advice's lines, which the advice replaces.
            let existing = stored.clone().map(|mut shipment| {
                shipment.lines.retain(|line| of_advice(line, message));
                shipment
            });
            let now = store.stamp();
            // The order a line names: the process's own first, else one of
            // the mock's data.
            let ordered = |number: &str, position: &str| {
                let is_it = |o: &&Order| {
                    process::is_supplier_order(
                        o,
                        &self.supplier,
                        &header.buyer_account_number,
                        number,
                    )
                };
                let order = store
                    .process_orders
                    .iter()
                    .filter_map(|id| store.orders.get(id))
                    .find(is_it)
                    .or_else(|| store.orders.values().find(is_it))?;
                process::ordered_item(order, position).cloned()
            };
            let Some(mut shipment) =
                process::despatch_advice(existing, message, parties, &now, ordered)
            else {
                return Ok(None);
            };
            store.advice_headers.insert(
                header.despatch_advice_number.clone(),
                Shipment {
                    lines: Vec::new(),
                    ..shipment.clone()
                },
            );
            if let Some(stored) = stored {
                shipment.lines = beside_other_advices(stored.lines, shipment.lines, message);
            }
            let Some(id) = shipment.id.clone() else {
                return Ok(None);
            };
            store
                .despatch_advices
                .insert(header.despatch_advice_number.clone(), id.clone());
            store.shipments.insert(id.clone(), shipment.clone());
            let mut changed = vec![(new, id, shipment)];
            // The shipment the advice left keeps the other advices' lines:
            // it changed, so it is reissued (`Issued` again for the buyer
            // to answer, as any changed shipment), with the header of the
            // remaining advice sent last ([`header_of_remaining`]). Left
            // with no line (the advice was its only one and joined a
            // shipment the supplier already had), it is gone: a shipment
            // is the shipment of its despatch advices (shipment/buyer/
            // receive/README.md, each line's `despatchAdviceNumber`), and
            // shipment-events.md lists no event for one that goes away, so
            // none is sent.
            if let Some(mut left) = left {
                left.lines.retain(|line| !of_advice(line, message));
                if left.lines.is_empty() {
                    if let Some(left_id) = &left.id {
                        store.shipments.remove(left_id);
                    }
                    return Ok(Some(changed));
                }
                if let Some(sent) = header_of_remaining(&*store, &left) {
                    process::take_advice_header(&mut left, sent);
                }
                let meta = left.meta.get_or_insert_with(Default::default);
                meta.last_updated_at = Some(now.clone());
                meta.last_changed_at = Some(now.clone());
                super::portal::set_status(&mut left, ShipmentProcessStatus::Issued, None);
                if let Some(left_id) = left.id.clone() {
                    store.shipments.insert(left_id.clone(), left.clone());
                    changed.push((false, left_id, left));
                }
            }
            Ok(Some(changed))
        })?;
        for (new, id, shipment) in changed.into_iter().flatten() {
            let event = if new {
                "ShipmentIssuedBySupplier"
            } else {
                "ShipmentReissuedBySupplier"
            };
            for (company, acting) in [(Party::Buyer, false), (Party::Supplier, true)] {
                self.webhooks.emit(
                    (company, Party::Supplier),
                    WebhookKind::ShipmentEvents,
                    event,
                    &id,
                    acting,
                    |_| Some(webhooks::shipment_body(event, &shipment)),
                );
            }
        }
        self.ship_order_lines(message);
        Ok(())
    }

    /// The orders hear of a stored despatch advice
    /// ([`process::ship_lines`]): each order it names, the supplier's order
    /// of that purchase order number, compares the shipped quantities with
    /// its delivery lines; the events go out as for any supplier change,
    /// after the shipment's own.
    fn ship_order_lines(&self, message: &api_connector::types::SendDespatchAdviceBySupplier) {
        let buyer_account_number = &message.header.buyer_account_number;
        let mut numbers: Vec<&str> = message
            .lines
            .iter()
            .flatten()
            .filter_map(|l| l.purchase_order_number.as_deref())
            .collect();
        numbers.sort_unstable();
        numbers.dedup();
        for number in numbers {
            let despatched = process::Despatched::of_advice(message, number);
            let subject = Subject::new(
                format!(
                    "despatch advice {} for purchase order {number}",
                    message.header.despatch_advice_number
                ),
                "the mock's supplier has no such order; the shipment is stored, but no order \
                 hears of it: check the purchase order number",
            )
            .lines(despatched.iter().map(|d| d.line_position));
            self.change_order(
                Party::Supplier,
                subject,
                |o| process::is_supplier_order(o, &self.supplier, buyer_account_number, number),
                |order, now| process::ship_lines(order, &despatched, now),
            );
        }
    }

    /// The buyer's answer to the shipment reschedule request of line
    /// `position` of its order `order_id` ([`process::answer_reschedule`]),
    /// or why it is refused ([`reschedule_refusal`] says it). An order of
    /// the mock's data, which the process does not move, is accepted and
    /// does not change.
    pub(super) fn process_reschedule_answer(
        &self,
        order_id: &str,
        position: &str,
        approve: bool,
        reason: Option<&str>,
    ) -> Result<(), process::RescheduleRefused> {
        let mut outcome = Ok(());
        self.process_request_answer(order_id, |order, now| {
            outcome = process::answer_reschedule(order, position, approve, reason, now);
            outcome.is_ok()
        });
        outcome
    }

    /// The buyer's order action on the lines at `positions` of its order
    /// `order_id` ([`process::order_action`]), or why it is refused
    /// ([`action_refusal`] says it). An order of the mock's data, which the
    /// process does not move, is accepted and does not change.
    pub(super) fn process_order_action(
        &self,
        order_id: &str,
        positions: &[String],
        action: process::LineAction,
        version: Option<i64>,
    ) -> Result<(), process::ActionRefused> {
        let mut outcome = Ok(());
        self.process_request_answer(order_id, |order, now| {
            match process::order_action(order, positions, action, version, now) {
                Ok(changed) => changed,
                Err(refused) => {
                    outcome = Err(refused);
                    false
                }
            }
        });
        outcome
    }

    /// The buyer's answer to the open supplier requests of the lines at
    /// `positions` of its order `order_id` ([`process::approve_requests`],
    /// [`process::reject_requests`]), or why it is refused
    /// ([`requests_refusal`] says it). An order of the mock's data, which
    /// the process does not move, is accepted and does not change.
    pub(super) fn process_requests_answer(
        &self,
        order_id: &str,
        positions: &[String],
        verdict: process::Verdict<'_>,
    ) -> Result<(), process::RequestsRefused> {
        let mut outcome = Ok(());
        self.process_request_answer(order_id, |order, now| {
            outcome = match verdict {
                process::Verdict::Approve => process::approve_requests(order, positions, now),
                process::Verdict::Reject { reason } => {
                    process::reject_requests(order, positions, reason, now)
                }
            };
            outcome.is_ok()
        });
        outcome
    }

    /// `POST /object-storage/document`: keeps the `file` part as a new
    /// document and answers its `objectId`.
    pub(super) fn store_upload(
        &self,
        body: &MultipartBody,
    ) -> object_storage::server::UploadDocumentResponse {
        use object_storage::server::UploadDocumentResponse;
        // The generated stub refuses a body without a `file` part.
        let Some(file) = body.part("file") else {
            return UploadDocumentResponse::BadRequest {
                body: error_body("the multipart/form-data body has no part named `file`"),
            };
        };
        let filename = file
            .file_name
            .as_deref()
            .map(trim_text)
            .filter(|name| !name.is_empty())
            .unwrap_or("document")
            .to_owned();
        if let Some(extension) = blocked_extension(&filename) {
            return UploadDocumentResponse::BadRequest {
                body: error_body(format!(
                    "`file`: files with the extension .{extension} are refused (security/documents.md)"
                )),
            };
        }
        let content_type = file
            .content_type
            .clone()
            .filter(|t| !is_blank(t))
            .unwrap_or_else(|| content_type_for(&filename).to_owned());
        let object_id = new_object_id();
        self.insert_document(
            object_id.clone(),
            MockDocument::from_bytes(filename, content_type, file.data.clone()),
        );
        UploadDocumentResponse::Ok {
            body: object_storage::types::UploadDocumentResponse {
                id: Some(object_id),
                extra: Default::default(),
            },
        }
    }
}

/// A random `objectId` shaped like Tradecloud's (a version 4 UUID).
fn new_object_id() -> String {
    let n = fastrand::u128(..);
    // Version 4, variant 10xx.
    let n = (n & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    let hex = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The stored shipment a despatch advice goes to: the one its
/// `despatchAdviceNumber` went to before (an updated advice), unless the
/// advice leaves it ([`left_shipment`]), else the supplier's shipment with
/// the advice's `header.shipment.shipmentNumber` (a further advice of that
/// shipment), else none (a new shipment). `shipmentNumber` is "the related
/// shipment number as known in the supplier's ERP system"
/// (shipment/supplier/send-despatch-advice.md): it names a shipment within
/// the supplier's company.
fn shipment_of_advice<'a>(
    store: &'a Objects,
    message: &api_connector::types::SendDespatchAdviceBySupplier,
    supplier: &MockCompany,
) -> Option<&'a Shipment> {
    if let Some(shipment) = earlier_shipment(store, message) {
        if left_shipment(store, message, supplier).is_none() {
            return Some(shipment);
        }
    }
    numbered_shipment(store, sent_shipment_number(message)?, supplier)
}

/// The shipment a despatch advice's `despatchAdviceNumber` went to
/// before, if any.
fn earlier_shipment<'a>(
    store: &'a Objects,
    message: &api_connector::types::SendDespatchAdviceBySupplier,
) -> Option<&'a Shipment> {
    store
        .despatch_advices
        .get(&message.header.despatch_advice_number)
        .and_then(|id| store.shipments.get(id))
}

/// The supplier's shipment with the shipment number `number`.
fn numbered_shipment<'a>(
    store: &'a Objects,
    number: &str,
    supplier: &MockCompany,
) -> Option<&'a Shipment> {
    store.shipments.values().find(|shipment| {
        shipment.supplier_shipment.as_ref().is_some_and(|s| {
            s.shipment_number.as_deref() == Some(number)
                && s.company_id.as_deref() == Some(supplier.company_id.as_str())
        })
    })
}

/// The `header.shipment.shipmentNumber` of a despatch advice.
fn sent_shipment_number(
    message: &api_connector::types::SendDespatchAdviceBySupplier,
) -> Option<&str> {
    message.header.shipment.as_ref()?.shipment_number.as_deref()
}

/// The shipment a despatch advice sent again leaves: the one it went to
/// before, when the advice now names another `shipmentNumber` and that
/// shipment holds lines of other despatch advices or the supplier already
/// has a shipment of the new number. The advice then moves to the
/// shipment of its new number ([`shipment_of_advice`]) and its lines
/// leave this one, which keeps the other advices' lines. An advice that is
/// its shipment's only one, renumbered to a number no other shipment has,
/// renumbers its shipment (the same id) instead. The docs do not say
/// (the advice names "the shipment related to this despatch advice"): an
/// advice that took the whole shipment with it renamed the other
/// advices' shipment too.
fn left_shipment<'a>(
    store: &'a Objects,
    message: &api_connector::types::SendDespatchAdviceBySupplier,
    supplier: &MockCompany,
) -> Option<&'a Shipment> {
    let number = sent_shipment_number(message)?;
    let earlier = earlier_shipment(store, message)?;
    let before = earlier
        .supplier_shipment
        .as_ref()?
        .shipment_number
        .as_deref()?;
    if before == number {
        return None;
    }
    let others = earlier.lines.iter().any(|l| !of_advice(l, message));
    let taken = numbered_shipment(store, number, supplier).is_some();
    (others || taken).then_some(earlier)
}

/// The shipment header the remaining despatch advices of `shipment` sent
/// last ([`Objects::advice_headers`]): a shipment's header is the one its
/// advices last sent, so once an advice has left, its header goes with it.
/// `None` when none of them was sent to the mock (a shipment of the
/// mock's data), which keeps its header.
fn header_of_remaining<'a>(store: &'a Objects, shipment: &Shipment) -> Option<&'a Shipment> {
    shipment
        .lines
        .iter()
        .filter_map(|l| l.supplier_line.as_ref()?.despatch_advice_number.as_deref())
        .filter_map(|number| store.advice_headers.get(number))
        .max_by_key(|sent| sent.meta.as_ref().and_then(|m| m.last_updated_at.clone()))
}

/// Why a despatch advice is refused for the number of lines of its
/// shipment `stored` (see [`shipment_of_advice`]), if it is: the lines of
/// the shipment's other advices and the advice's sent lines (which
/// replace its own) together would pass [`MAX_SHIPMENT_LINES`]. An advice
/// that does not make the shipment longer is never refused for it, so a
/// shipment that has more lines (from the mock's data) can still be
/// updated.
fn shipment_over_limit(
    stored: Option<&Shipment>,
    message: &api_connector::types::SendDespatchAdviceBySupplier,
) -> Option<String> {
    let before = stored.map_or(0, |s| s.lines.len());
    let others = stored.map_or(0, |s| {
        s.lines.iter().filter(|l| !of_advice(l, message)).count()
    });
    let sent = message.lines.iter().flatten().count();
    let total = others + sent;
    (total > MAX_SHIPMENT_LINES && total > before).then(|| {
        let shipment = message
            .header
            .shipment
            .as_ref()
            .and_then(|s| s.shipment_number.as_deref())
            .map_or_else(|| "its shipment".to_owned(), |n| format!("shipment {n}"));
        format!(
            "despatch advice {}: {shipment} would have {total} lines ({others} of its other \
             despatch advices, {sent} of this one); Tradecloud allows at most \
             {MAX_SHIPMENT_LINES} lines in total per shipment (api/rules.md), so nothing of this \
             despatch advice was stored: the shipment has room for {} lines of it; send fewer \
             lines, or the others with another shipmentNumber",
            message.header.despatch_advice_number,
            MAX_SHIPMENT_LINES.saturating_sub(others),
        )
    })
}

/// Whether a shipment line came with this despatch advice (its
/// `supplierLine.despatchAdviceNumber`).
fn of_advice(
    line: &ShipmentLine,
    message: &api_connector::types::SendDespatchAdviceBySupplier,
) -> bool {
    line.supplier_line
        .as_ref()
        .and_then(|s| s.despatch_advice_number.as_deref())
        == Some(message.header.despatch_advice_number.as_str())
}

/// The lines of a shipment after a despatch advice: the stored lines of
/// the other advices as they were, this advice's `sent` lines where its
/// stored ones were (after the others when it had none there).
fn beside_other_advices(
    stored: Vec<ShipmentLine>,
    sent: Vec<ShipmentLine>,
    message: &api_connector::types::SendDespatchAdviceBySupplier,
) -> Vec<ShipmentLine> {
    let mut sent = Some(sent);
    let mut lines = Vec::with_capacity(stored.len());
    for line in stored {
        if of_advice(&line, message) {
            lines.extend(sent.take().into_iter().flatten());
        } else {
            lines.push(line);
        }
    }
    lines.extend(sent.into_iter().flatten());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_look_like_uuids() {
        let id = new_object_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert_ne!(new_object_id(), id);
    }
}
