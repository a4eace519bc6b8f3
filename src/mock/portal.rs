//! The portal actions on shipments, as the mock plays them: what a buyer or
//! supplier does in Tradecloud's portal (approve, reject, update the header,
//! attach documents, resend; connectors/webhooks/shipment-events.md), for
//! which Tradecloud's API has no route. The mock offers them on its own
//! paths under `/mock/shipment/{shipmentId}/...` (see the
//! [module docs](super#portal-actions-on-shipments)) and as
//! [`MockServer::shipment_action`](super::MockServer::shipment_action).
//!
//! The same for orders: marking lines open or delivered and resending the
//! order, by either company (connectors/webhooks/order-events.md, "Order
//! lines logistics" and "Maintenance"), under `/mock/order/{orderId}/...`
//! ([module docs](super#portal-actions-on-orders)) and as
//! [`MockServer::order_action`](super::MockServer::order_action).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::state::{error_body, MockState};
use super::webhooks::{self, WebhookKind};
use crate::api::common::types::{
    Shipment, ShipmentDocument, ShipmentDocumentMeta, ShipmentIdentifiers, ShipmentProcessStatus,
    ShipmentStatus,
};
use crate::operation::{AuthScheme, Method, Operation};
use crate::types::validate::{is_blank, trim_text};
use crate::types::{DateTime, Party};

/// The most documents of one company on a shipment (a choice: Tradecloud's
/// limit for an order header's documents, api/rules.md; it names none for
/// shipments).
pub const MAX_SHIPMENT_DOCUMENTS: usize = 100;

/// A portal action on a shipment the mock holds
/// ([`MockServer::shipment_action`](super::MockServer::shipment_action),
/// or the mock's `/mock/shipment/{shipmentId}/...` routes). Each is one
/// company's: approving, rejecting and resending the buyer's, updating the
/// header the supplier's, attaching documents either's.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ShipmentAction {
    /// The buyer approves (`ShipmentApprovedByBuyer`): `processStatus`
    /// `Approved`, `processStatusReason` the optional reason.
    Approve {
        /// Why, if the buyer says (becomes `processStatusReason`).
        reason: Option<String>,
    },
    /// The buyer rejects (`ShipmentRejectedByBuyer`): `processStatus`
    /// `Rejected` with the reason as `processStatusReason`.
    Reject {
        /// Why (required, not blank).
        reason: String,
    },
    /// The supplier updates header fields: `ShipmentHeaderUpdatedBySupplier`
    /// on an `Approved` shipment (its status stays), else
    /// `ShipmentReissuedBySupplier` (the shipment `Issued` again).
    UpdateHeader(HeaderUpdate),
    /// `by` attaches documents (`ShipmentDocumentAttachedByBuyer` /
    /// `...BySupplier`): to `buyerShipment.documents` or
    /// `supplierShipment.documents`; one with the `code` of an attached one
    /// replaces it, one without a code is appended.
    AttachDocuments {
        /// The company attaching.
        by: Party,
        /// The documents, each with a `url` or an `objectId` the mock holds.
        documents: Vec<ShipmentDocument>,
    },
    /// The buyer resends the shipment to its own ERP
    /// (`ShipmentResentByBuyer`); the shipment does not change.
    Resend,
}

/// A portal action on an order the mock's process holds
/// ([`MockServer::order_action`](super::MockServer::order_action), or the
/// mock's `/mock/order/{orderId}/...` routes); each is `by`'s, buyer or
/// supplier ("Both buyer and supplier can update the logistics process",
/// connectors/webhooks/order-events.md).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OrderAction {
    /// Mark the lines at `positions` as open again
    /// (`OrderLinesMarkedAsOpenByBuyer` / `...BySupplier`): a `Shipped` or
    /// `Delivered` line becomes `Open`, and so do its `Shipped` and
    /// `Delivered` delivery lines.
    MarkOpen {
        /// The company acting.
        by: Party,
        /// The lines (`buyerLine.position`).
        positions: Vec<String>,
    },
    /// Mark the lines at `positions` as delivered at the buyer
    /// (`OrderLinesMarkedAsDeliveredByBuyer` / `...BySupplier`): an
    /// `Open`, `Produced`, `ReadyToShip` or `Shipped` line becomes
    /// `Delivered`, and so do its delivery lines, as with the buyer's
    /// `delivered` indicator (order/buyer/issue/indicators.md).
    MarkDelivered {
        /// The company acting.
        by: Party,
        /// The lines (`buyerLine.position`).
        positions: Vec<String>,
    },
    /// `by` resends the order to its own ERP (`OrderResentByBuyer` /
    /// `OrderResentBySupplier`, to `by`'s webhook only); the order does
    /// not change.
    Resend {
        /// The company resending.
        by: Party,
    },
}

impl OrderAction {
    /// The company whose action it is.
    pub fn actor(&self) -> Party {
        match self {
            OrderAction::MarkOpen { by, .. }
            | OrderAction::MarkDelivered { by, .. }
            | OrderAction::Resend { by } => *by,
        }
    }
}

/// The header fields a supplier may update
/// ([`ShipmentAction::UpdateHeader`]; the JSON body of `POST
/// /mock/shipment/{shipmentId}/supplier/header`). A member left out stays
/// as it is; in `identifiers`, each member sent replaces the stored one.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct HeaderUpdate {
    /// `billOfLadingNumber`, `trackingNumber`, `carrierShipmentNumber`,
    /// `imoNumber`, `billOfLadingIssueDate` (and any other member).
    pub identifiers: Option<ShipmentIdentifiers>,
    /// The mode of transport (UNECE recommendation 19).
    pub transport_mode: Option<String>,
    /// `supplierShipment.shipmentNumber`.
    pub shipment_number: Option<String>,
    /// `supplierShipment.invoiceNumbers` (replaces the stored list).
    pub invoice_numbers: Option<Vec<String>>,
}

impl HeaderUpdate {
    /// An update of these identifiers.
    pub fn identifiers(identifiers: ShipmentIdentifiers) -> Self {
        HeaderUpdate {
            identifiers: Some(identifiers),
            ..HeaderUpdate::default()
        }
    }

    /// This update, also setting the transport mode.
    pub fn transport_mode(mut self, mode: impl Into<String>) -> Self {
        self.transport_mode = Some(mode.into());
        self
    }

    fn is_empty(&self) -> bool {
        self.identifiers.is_none()
            && self.transport_mode.is_none()
            && self.shipment_number.is_none()
            && self.invoice_numbers.is_none()
    }
}

impl ShipmentAction {
    /// The company whose action it is.
    pub fn actor(&self) -> Party {
        match self {
            ShipmentAction::Approve { .. } | ShipmentAction::Reject { .. } => Party::Buyer,
            ShipmentAction::Resend => Party::Buyer,
            ShipmentAction::UpdateHeader(_) => Party::Supplier,
            ShipmentAction::AttachDocuments { by, .. } => *by,
        }
    }
}

/// Why an action was refused: the status to answer and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl Refused {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Refused {
            status,
            message: message.into(),
        }
    }
}

fn process_status(shipment: &Shipment) -> Option<&ShipmentProcessStatus> {
    shipment
        .process_status
        .as_ref()
        .or_else(|| shipment.status.as_ref()?.process_status.as_ref())
}

/// Set the process status and its reason, at the top (as the receive page
/// lists them) and in `status` (as the spec models it).
pub(super) fn set_status(
    shipment: &mut Shipment,
    status: ShipmentProcessStatus,
    reason: Option<String>,
) {
    shipment.process_status = Some(status.clone());
    shipment.process_status_reason.clone_from(&reason);
    let nested = shipment.status.get_or_insert_with(ShipmentStatus::default);
    nested.process_status = Some(status);
    nested.process_status_reason = reason;
}

/// Merge `sent` documents into `attached` by the mock's one attach rule
/// ([`super::attach`]: a document with the `code` of an attached one,
/// compared trimmed, replaces it in place, others are appended), stamping
/// each added or changed one with `now` as its `meta.lastUpdatedAt`
/// (shipment/buyer/receive/README.md#L152). Whether anything changed.
fn attach(attached: &mut Vec<ShipmentDocument>, sent: &[ShipmentDocument], now: &DateTime) -> bool {
    super::attach::attach(attached, sent, |document| {
        document.meta = Some(ShipmentDocumentMeta {
            last_updated_at: Some(now.clone()),
            last_changed_at: Some(now.clone()),
            ..ShipmentDocumentMeta::default()
        });
    })
}

/// Check the documents of an attach: some, each with a `url` or an
/// `objectId` (`known` says whether the mock holds that object).
fn check_documents(
    documents: &[ShipmentDocument],
    known: impl Fn(&str) -> bool,
) -> Result<(), Refused> {
    if documents.is_empty() {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "`documents` is empty; send at least one document with a `url` or an `objectId`",
        ));
    }
    for (i, document) in documents.iter().enumerate() {
        let filled = |v: &Option<String>| v.as_deref().is_some_and(|v| !is_blank(v));
        match (&document.object_id, filled(&document.url)) {
            (Some(id), _) if !is_blank(id) => {
                if !known(id) {
                    return Err(Refused::new(
                        StatusCode::BAD_REQUEST,
                        format!(
                            "documents[{i}]: objectId {id} is not a document the mock holds; \
                             nothing changed: upload it first (POST /v2/object-storage/document) \
                             and send the id it answers, or send a `url`"
                        ),
                    ));
                }
            }
            (_, true) => {}
            _ => {
                return Err(Refused::new(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "documents[{i}] has neither a `url` nor an `objectId`; nothing changed: \
                         give each document one of them"
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// Play `action` on `shipment` at `now`: `Ok(Some(event))` when it
/// changed the shipment (stamped `now`) or is a resend, `Ok(None)` when it
/// changed nothing, `Err` when it is refused (nothing changed).
pub(crate) fn play(
    shipment: &mut Shipment,
    action: &ShipmentAction,
    now: &DateTime,
) -> Result<Option<&'static str>, Refused> {
    let id = shipment.id.clone().unwrap_or_default();
    let status = process_status(shipment).cloned();
    let before = shipment.clone();
    let event = match action {
        ShipmentAction::Approve { reason } => {
            if status == Some(ShipmentProcessStatus::Approved) {
                return Err(Refused::new(
                    StatusCode::CONFLICT,
                    format!("shipment {id} is already Approved; nothing changed"),
                ));
            }
            let reason = reason
                .as_deref()
                .filter(|r| !is_blank(r))
                .map(|r| trim_text(r).to_owned());
            set_status(shipment, ShipmentProcessStatus::Approved, reason);
            "ShipmentApprovedByBuyer"
        }
        ShipmentAction::Reject { reason } => {
            if is_blank(reason) {
                return Err(Refused::new(
                    StatusCode::BAD_REQUEST,
                    "a rejection needs a reason (it becomes processStatusReason); nothing \
                     changed: send {\"reason\": \"...\"}",
                ));
            }
            if status == Some(ShipmentProcessStatus::Rejected) {
                return Err(Refused::new(
                    StatusCode::CONFLICT,
                    format!("shipment {id} is already Rejected; nothing changed"),
                ));
            }
            set_status(
                shipment,
                ShipmentProcessStatus::Rejected,
                Some(trim_text(reason).to_owned()),
            );
            "ShipmentRejectedByBuyer"
        }
        ShipmentAction::UpdateHeader(update) => {
            if update.is_empty() {
                return Err(Refused::new(
                    StatusCode::BAD_REQUEST,
                    "the header update names no field; nothing changed: send one or more of \
                     `identifiers` (billOfLadingNumber, trackingNumber, ...), `transportMode`, \
                     `shipmentNumber`, `invoiceNumbers`",
                ));
            }
            if let Some(sent) = &update.identifiers {
                let identifiers = shipment.identifiers.get_or_insert_with(Default::default);
                macro_rules! take {
                    ($($field:ident),*) => {$(
                        if let Some(value) = &sent.$field {
                            identifiers.$field = Some(value.clone());
                        }
                    )*};
                }
                take!(
                    bill_of_lading_number,
                    bill_of_lading_issue_date,
                    carrier_shipment_number,
                    imo_number,
                    tracking_number
                );
                identifiers
                    .extra
                    .extend(sent.extra.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            if let Some(mode) = &update.transport_mode {
                shipment.transport_mode = Some(mode.clone());
            }
            let supplier = shipment
                .supplier_shipment
                .get_or_insert_with(Default::default);
            if let Some(number) = &update.shipment_number {
                supplier.shipment_number = Some(number.clone());
            }
            if let Some(numbers) = &update.invoice_numbers {
                supplier.invoice_numbers.clone_from(numbers);
            }
            if *shipment == before {
                return Ok(None);
            }
            // After approval a header update; before it (Issued or
            // Rejected) the supplier reissues the shipment, as a changed
            // despatch advice does.
            if status == Some(ShipmentProcessStatus::Approved) {
                "ShipmentHeaderUpdatedBySupplier"
            } else {
                set_status(shipment, ShipmentProcessStatus::Issued, None);
                "ShipmentReissuedBySupplier"
            }
        }
        ShipmentAction::AttachDocuments { by, documents } => {
            let attached = match by {
                Party::Buyer => {
                    &mut shipment
                        .buyer_shipment
                        .get_or_insert_with(Default::default)
                        .documents
                }
                Party::Supplier => {
                    &mut shipment
                        .supplier_shipment
                        .get_or_insert_with(Default::default)
                        .documents
                }
            };
            let mut merged = attached.clone();
            if !attach(&mut merged, documents, now) {
                return Ok(None);
            }
            if merged.len() > MAX_SHIPMENT_DOCUMENTS {
                return Err(Refused::new(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "the {by}'s documents of shipment {id} would number {}, more than \
                         {MAX_SHIPMENT_DOCUMENTS}; nothing changed: replace documents by their \
                         `code` instead of adding more",
                        merged.len()
                    ),
                ));
            }
            *attached = merged;
            match by {
                Party::Buyer => "ShipmentDocumentAttachedByBuyer",
                Party::Supplier => "ShipmentDocumentAttachedBySupplier",
            }
        }
        ShipmentAction::Resend => return Ok(Some("ShipmentResentByBuyer")),
    };
    let meta = shipment.meta.get_or_insert_with(Default::default);
    meta.last_updated_at = Some(now.clone());
    meta.last_changed_at = Some(now.clone());
    Ok(Some(event))
}

impl MockState {
    /// Whether `shipment` is `side`'s: its company named in its buyer or
    /// supplier header is the mock's (or not named).
    fn owns_shipment(&self, side: Party, shipment: &Shipment) -> bool {
        let named = match side {
            Party::Buyer => shipment
                .buyer_shipment
                .as_ref()
                .and_then(|b| b.company_id.as_deref()),
            Party::Supplier => shipment
                .supplier_shipment
                .as_ref()
                .and_then(|s| s.company_id.as_deref()),
        };
        self.owns(side, named)
    }

    /// The stored shipment `shipment_id` if it is `actor`'s; else the
    /// `404` to answer, whatever the action's body: an unknown shipment is
    /// not found, also when the body would be refused (`400`).
    fn actors_shipment(
        &self,
        store: &super::state::Objects,
        shipment_id: &str,
        actor: Party,
    ) -> Result<Shipment, Refused> {
        let Some(stored) = store.shipments.get(shipment_id) else {
            return Err(Refused::new(
                StatusCode::NOT_FOUND,
                format!(
                    "shipment {shipment_id} not found; nothing changed: use the id of a shipment \
                     the mock holds (GET /v2/shipment/poll lists them)"
                ),
            ));
        };
        if !self.owns_shipment(actor, stored) {
            return Err(Refused::new(
                StatusCode::NOT_FOUND,
                format!(
                    "shipment {shipment_id} is not a shipment of the mock's {actor} company \
                     ({}); nothing changed",
                    self.company(actor).company_id
                ),
            ));
        }
        Ok(stored.clone())
    }

    /// Whether `actor` may act on the shipment `shipment_id`: `Err` with
    /// the `404` when it is unknown or another company's (checked before
    /// the body is read).
    pub(crate) fn check_shipment(&self, shipment_id: &str, actor: Party) -> Result<(), Refused> {
        self.with_store(|store| self.actors_shipment(store, shipment_id, actor).map(drop))
    }

    /// Play `action` on the stored shipment `shipment_id` and queue its
    /// event: for the other company, and for the acting one when its
    /// `enabledEventNames` names the event (a resend: for the buyer only).
    /// The shipment as it is afterwards, or why the action is refused: an
    /// unknown shipment (or another company's) is a `404` before anything
    /// of the action is checked.
    pub(crate) fn shipment_action(
        &self,
        shipment_id: &str,
        action: &ShipmentAction,
    ) -> Result<Shipment, Refused> {
        let actor = action.actor();
        self.check_shipment(shipment_id, actor)?;
        if let ShipmentAction::AttachDocuments { documents, .. } = action {
            check_documents(documents, |id| self.document(id).is_some())?;
        }
        let (shipment, event) = self.with_store(|store| {
            let stored = self.actors_shipment(store, shipment_id, actor)?;
            let mut shipment = stored.clone();
            let now = store.stamp();
            let event = play(&mut shipment, action, &now)?;
            if event.is_some() && shipment != stored {
                store
                    .shipments
                    .insert(shipment_id.to_owned(), shipment.clone());
            }
            Ok((shipment, event))
        })?;
        let Some(event) = event else {
            return Ok(shipment);
        };
        let targets: &[(Party, bool)] = if *action == ShipmentAction::Resend {
            // "manually resent ... to their ERP": the buyer's own webhook.
            &[(Party::Buyer, false)]
        } else {
            &[(actor.other(), false), (actor, true)]
        };
        for &(company, acting) in targets {
            self.webhooks.emit(
                (company, actor),
                WebhookKind::ShipmentEvents,
                event,
                shipment_id,
                acting,
                |_| Some(webhooks::shipment_body(event, &shipment)),
            );
        }
        Ok(shipment)
    }
}

// ----- the routes -------------------------------------------------------------

macro_rules! portal_operation {
    ($name:ident, $id:literal, $path:literal, $party:expr) => {
        /// A portal action route (for authentication and the counters).
        pub(crate) static $name: Operation = Operation {
            id: $id,
            method: Method::Post,
            path: $path,
            client_method: $id,
            server_method: $id,
            deprecated: false,
            security: &[&[AuthScheme::Bearer], &[AuthScheme::Basic]],
            request: None,
            responses: &[],
            limits: &[],
            party: Some($party),
        };
    };
}
portal_operation!(
    APPROVE,
    "mockApproveShipmentByBuyer",
    "/mock/shipment/{shipmentId}/buyer/approve",
    Party::Buyer
);
portal_operation!(
    REJECT,
    "mockRejectShipmentByBuyer",
    "/mock/shipment/{shipmentId}/buyer/reject",
    Party::Buyer
);
portal_operation!(
    RESEND,
    "mockResendShipmentByBuyer",
    "/mock/shipment/{shipmentId}/buyer/resend",
    Party::Buyer
);
portal_operation!(
    BUYER_DOCUMENTS,
    "mockAttachShipmentDocumentsByBuyer",
    "/mock/shipment/{shipmentId}/buyer/documents",
    Party::Buyer
);
portal_operation!(
    UPDATE_HEADER,
    "mockUpdateShipmentHeaderBySupplier",
    "/mock/shipment/{shipmentId}/supplier/header",
    Party::Supplier
);
portal_operation!(
    SUPPLIER_DOCUMENTS,
    "mockAttachShipmentDocumentsBySupplier",
    "/mock/shipment/{shipmentId}/supplier/documents",
    Party::Supplier
);

portal_operation!(
    ORDER_OPEN_BY_BUYER,
    "mockMarkOrderLinesOpenByBuyer",
    "/mock/order/{orderId}/buyer/open",
    Party::Buyer
);
portal_operation!(
    ORDER_OPEN_BY_SUPPLIER,
    "mockMarkOrderLinesOpenBySupplier",
    "/mock/order/{orderId}/supplier/open",
    Party::Supplier
);
portal_operation!(
    ORDER_DELIVERED_BY_BUYER,
    "mockMarkOrderLinesDeliveredByBuyer",
    "/mock/order/{orderId}/buyer/deliver",
    Party::Buyer
);
portal_operation!(
    ORDER_DELIVERED_BY_SUPPLIER,
    "mockMarkOrderLinesDeliveredBySupplier",
    "/mock/order/{orderId}/supplier/deliver",
    Party::Supplier
);
portal_operation!(
    ORDER_RESEND_BY_BUYER,
    "mockResendOrderByBuyer",
    "/mock/order/{orderId}/buyer/resend",
    Party::Buyer
);
portal_operation!(
    ORDER_RESEND_BY_SUPPLIER,
    "mockResendOrderBySupplier",
    "/mock/order/{orderId}/supplier/resend",
    Party::Supplier
);

/// Every portal action route on orders, as `(operation, example body)`:
/// the index page lists them.
pub(crate) const ORDER_ROUTES: &[(&Operation, &str)] = &[
    (&ORDER_OPEN_BY_BUYER, "{\"linePositions\": [\"1\", ...]}"),
    (&ORDER_OPEN_BY_SUPPLIER, "{\"linePositions\": [...]}"),
    (&ORDER_DELIVERED_BY_BUYER, "{\"linePositions\": [...]}"),
    (&ORDER_DELIVERED_BY_SUPPLIER, "{\"linePositions\": [...]}"),
    (&ORDER_RESEND_BY_BUYER, "none"),
    (&ORDER_RESEND_BY_SUPPLIER, "none"),
];

/// Every portal action route on shipments, as `(operation, example
/// body)`: the index page lists them.
pub(crate) const ROUTES: &[(&Operation, &str)] = &[
    (&APPROVE, "optional {\"reason\"}"),
    (&REJECT, "{\"reason\"}"),
    (
        &UPDATE_HEADER,
        "{\"identifiers\": {\"billOfLadingNumber\", \"trackingNumber\", ...}, \"transportMode\", \"shipmentNumber\", \"invoiceNumbers\"}",
    ),
    (&BUYER_DOCUMENTS, "{\"documents\": [{\"code\", \"name\", \"url\" | \"objectId\", ...}]}"),
    (&SUPPLIER_DOCUMENTS, "{\"documents\": [...]}"),
    (&RESEND, "none"),
];

fn json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    crate::server::serialized_response(status, "application/json", body)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    json(status, &error_body(message))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DocumentsBody {
    documents: Vec<ShipmentDocument>,
}

/// The JSON body of `operation`; `None` when it may be empty and is.
/// `Err`: why it is refused (a `400`).
fn body<T: serde::de::DeserializeOwned>(
    operation: &Operation,
    bytes: &[u8],
    expected: &str,
    optional: bool,
) -> Result<Option<T>, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return if optional {
            Ok(None)
        } else {
            Err(format!(
                "{operation}: the body is empty; send a JSON object {expected}"
            ))
        };
    }
    serde_json::from_slice(bytes).map(Some).map_err(|e| {
        format!("{operation}: the body is not the JSON object {expected} ({e}); nothing changed")
    })
}

/// One portal action request: authenticate (the acting company's user;
/// the other company's is a `403`), read the body, play it.
async fn handle(
    state: Arc<MockState>,
    operation: &'static Operation,
    headers: HeaderMap,
    shipment_id: String,
    bytes: Bytes,
) -> Response {
    if let Err(denied) = state.gate(operation, &headers).await {
        return super::api::denied_response(denied);
    }
    // An unknown shipment is a 404 whatever the body, as an unknown order
    // is for the order actions.
    if let Some(actor) = operation.party {
        if let Err(refused) = state.check_shipment(&shipment_id, actor) {
            return error(refused.status, refused.message);
        }
    }
    let action = match operation.id {
        id if id == APPROVE.id => {
            match body::<ReasonBody>(operation, &bytes, "{\"reason\": \"...\"} (optional)", true) {
                Ok(sent) => ShipmentAction::Approve {
                    reason: sent.and_then(|b| b.reason),
                },
                Err(message) => return error(StatusCode::BAD_REQUEST, message),
            }
        }
        id if id == REJECT.id => {
            match body::<ReasonBody>(operation, &bytes, "{\"reason\": \"...\"}", false) {
                Ok(sent) => ShipmentAction::Reject {
                    reason: sent.and_then(|b| b.reason).unwrap_or_default(),
                },
                Err(message) => return error(StatusCode::BAD_REQUEST, message),
            }
        }
        id if id == UPDATE_HEADER.id => match body::<HeaderUpdate>(
            operation,
            &bytes,
            "{\"identifiers\": {...}, \"transportMode\", \"shipmentNumber\", \"invoiceNumbers\"}",
            false,
        ) {
            Ok(update) => ShipmentAction::UpdateHeader(update.unwrap_or_default()),
            Err(message) => return error(StatusCode::BAD_REQUEST, message),
        },
        id if id == BUYER_DOCUMENTS.id || id == SUPPLIER_DOCUMENTS.id => {
            match body::<DocumentsBody>(operation, &bytes, "{\"documents\": [...]}", false) {
                Ok(sent) => ShipmentAction::AttachDocuments {
                    by: operation.party.unwrap_or(Party::Buyer),
                    documents: sent.map(|b| b.documents).unwrap_or_default(),
                },
                Err(message) => return error(StatusCode::BAD_REQUEST, message),
            }
        }
        _ => ShipmentAction::Resend,
    };
    match state.shipment_action(&shipment_id, &action) {
        Ok(shipment) => json(StatusCode::OK, &shipment),
        Err(refused) => error(refused.status, refused.message),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PositionsBody {
    line_positions: Vec<String>,
}

impl MockState {
    /// Play `action` on the order `order_id` the mock's process holds
    /// ([`MockState::portal_order_action`]): the order as it is
    /// afterwards, or why it is refused (nothing changed). No lines named
    /// is a `400`.
    pub(crate) fn order_action(
        &self,
        order_id: &str,
        action: &OrderAction,
    ) -> Result<crate::api::common::types::Order, Refused> {
        use super::process::LineAction;
        let (line_action, positions) = match action {
            OrderAction::MarkOpen { positions, .. } => (Some(LineAction::MarkOpen), positions),
            OrderAction::MarkDelivered { positions, .. } => {
                (Some(LineAction::MarkDelivered), positions)
            }
            OrderAction::Resend { .. } => (None, &Vec::new()),
        };
        if line_action.is_some() && positions.iter().all(|p| is_blank(p)) {
            // An unknown order is a 404 whatever the body.
            self.check_portal_order(order_id, action.actor())?;
            return Err(Refused::new(
                StatusCode::BAD_REQUEST,
                "`linePositions` names no line; nothing changed: send \
                 {\"linePositions\": [\"1\", ...]}, the buyerLine.position of each line",
            ));
        }
        self.portal_order_action(
            order_id,
            action.actor(),
            line_action.map(|a| (a, positions.as_slice())),
        )
    }
}

/// One portal action request on an order: authenticate (the acting
/// company's user; the other company's is a `403`), read the body, play
/// it.
async fn handle_order(
    state: Arc<MockState>,
    operation: &'static Operation,
    headers: HeaderMap,
    order_id: String,
    bytes: Bytes,
) -> Response {
    if let Err(denied) = state.gate(operation, &headers).await {
        return super::api::denied_response(denied);
    }
    let by = operation.party.unwrap_or(Party::Buyer);
    // An unknown order (or another company's, or one of the mock's data)
    // is refused whatever the body, as for the shipment actions.
    if let Err(refused) = state.check_portal_order(&order_id, by) {
        return error(refused.status, refused.message);
    }
    let expected = "{\"linePositions\": [\"1\", ...]}";
    let positions = || match body::<PositionsBody>(operation, &bytes, expected, false) {
        Ok(sent) => Ok(sent.map(|b| b.line_positions).unwrap_or_default()),
        Err(message) => Err(message),
    };
    let action = if operation.id == ORDER_RESEND_BY_BUYER.id
        || operation.id == ORDER_RESEND_BY_SUPPLIER.id
    {
        OrderAction::Resend { by }
    } else {
        match positions() {
            Ok(positions)
                if operation.id == ORDER_OPEN_BY_BUYER.id
                    || operation.id == ORDER_OPEN_BY_SUPPLIER.id =>
            {
                OrderAction::MarkOpen { by, positions }
            }
            Ok(positions) => OrderAction::MarkDelivered { by, positions },
            Err(message) => return error(StatusCode::BAD_REQUEST, message),
        }
    };
    match state.order_action(&order_id, &action) {
        Ok(order) => json(StatusCode::OK, &order),
        Err(refused) => error(refused.status, refused.message),
    }
}

macro_rules! order_route {
    ($router:expr, $operation:ident) => {
        $router.route(
            $operation.path,
            post(
                |State(state): State<Arc<MockState>>,
                 Path(order_id): Path<String>,
                 headers: HeaderMap,
                 bytes: Bytes| async move {
                    handle_order(state, &$operation, headers, order_id, bytes).await
                },
            ),
        )
    };
}

macro_rules! portal_route {
    ($router:expr, $operation:ident) => {
        $router.route(
            $operation.path,
            post(
                |State(state): State<Arc<MockState>>,
                 Path(shipment_id): Path<String>,
                 headers: HeaderMap,
                 bytes: Bytes| async move {
                    handle(state, &$operation, headers, shipment_id, bytes).await
                },
            ),
        )
    };
}

/// The portal action routes (at the root, beside `/mock/deliveries`).
pub(crate) fn router(state: Arc<MockState>) -> Router {
    let router = Router::new();
    let router = portal_route!(router, APPROVE);
    let router = portal_route!(router, REJECT);
    let router = portal_route!(router, RESEND);
    let router = portal_route!(router, BUYER_DOCUMENTS);
    let router = portal_route!(router, UPDATE_HEADER);
    let router = portal_route!(router, SUPPLIER_DOCUMENTS);
    let router = order_route!(router, ORDER_OPEN_BY_BUYER);
    let router = order_route!(router, ORDER_OPEN_BY_SUPPLIER);
    let router = order_route!(router, ORDER_DELIVERED_BY_BUYER);
    let router = order_route!(router, ORDER_DELIVERED_BY_SUPPLIER);
    let router = order_route!(router, ORDER_RESEND_BY_BUYER);
    let router = order_route!(router, ORDER_RESEND_BY_SUPPLIER);
    router.with_state(state)
}
