//! A mock of Tradecloud's API v2, for tests, local development and
//! scaffolded services (feature `mock`; also `tradecloud mock` on the
//! command line).
//!
//! The mock is built on the generated axum server stubs of the API specs:
//! one shared state implements the six generated `Api` traits
//! ([`api_connector`](crate::api::api_connector::server::Api),
//! [`authentication`](crate::api::authentication::server::Api),
//! [`order`](crate::api::order::server::Api),
//! [`order_search`](crate::api::order_search::server::Api),
//! [`shipment`](crate::api::shipment::server::Api),
//! [`object_storage`](crate::api::object_storage::server::Api)), and their
//! routers are merged under `/v2`. It listens on a real TCP port.
//!
//! ```no_run
//! use std::time::Duration;
//! use tradecloud::mock::{MockConfig, MockServer};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let server = MockServer::start(
//!     MockConfig::new()
//!         .demo_data()
//!         .access_token_lifetime(Duration::from_secs(1)),
//! )
//! .await?;
//! let base_url = server.base_url(); // e.g. http://127.0.0.1:41234/v2
//! let credentials = server.credentials();
//! // ... point the client under test at `base_url` with `credentials` ...
//! assert_eq!(server.stats().logins, 0);
//! server.shutdown().await?;
//! # let _ = (base_url, credentials);
//! # Ok(())
//! # }
//! ```
//!
//! # Behaviour
//!
//! * **Authentication.** `GET /v2/authentication/login` with valid Basic
//!   credentials answers `200` with `Set-Authorization` (access token) and
//!   `Set-Refresh-Token`; anything else `401`. Tokens are unsigned JWT-shaped
//!   strings (`alg: none`, with `sub`, `iat`, `exp`) that really expire after
//!   [`MockConfig::access_token_lifetime`] and
//!   [`MockConfig::refresh_token_lifetime`]. `GET /v2/authentication/refresh`
//!   with ONLY the `Refresh-Token` header answers a new pair and invalidates
//!   the old refresh token (`401` for an invalid, expired or replaced one);
//!   it answers **`400` when an `Authorization` header is also sent**, as
//!   Tradecloud says not to. `POST /v2/authentication/logout` (same header
//!   rules) invalidates the refresh token; the session's access tokens then
//!   live at most 10 more minutes.
//!   A successful login or refresh also has a body,
//!   `{"username": ..., "status": "authenticated"}`, as Tradecloud's SDK
//!   examples show.
//! * **Errors.** Every JSON error body under `/v2` (`400`, `401`, `403`,
//!   `404`, `409`, `413`, an injected fault) is one shape: an RFC 9457
//!   problem, `application/problem+json`, with `type`, `title`, `status`
//!   and `detail`, and `message` with the same text as `detail`
//!   (Tradecloud documents no error body, only the status codes).
//! * **Every other API route** accepts the schemes its spec lists (the
//!   generated operation tables, [`Operation::security`](crate::operation::Operation::security)):
//!   `Authorization: Bearer <access token>`, and Basic credentials on every
//!   request only where Tradecloud accepts them (security/authentication.md:
//!   the polls and `object-storage/document`; not `GET /order/{orderId}`,
//!   `GET /shipment/{shipmentId}` or `/object-storage/download/{id}`), and
//!   answers `401` otherwise (authentication is checked before the
//!   parameters and the body are read).
//! * **Orders and shipments.** `GET /v2/order/{orderId}` (a single-delivery
//!   order with that id is served too) and `GET /v2/shipment/{shipmentId}`
//!   answer the stored one or `404`.
//! * **Polling** (`POST /v2/order-search/poll`,
//!   `/v2/order-search/poll/single-delivery`, `/v2/shipment/poll`): the
//!   items whose `lastUpdatedAt` (else `lastChangedAt`; for shipments
//!   `meta.lastUpdatedAt`) is **strictly after** `filters.lastUpdatedAfter`
//!   (comparing instants; without the filter: all), matching every given
//!   `filters.status` list (`processStatus`, `logisticsStatus`), sorted by
//!   that timestamp and then id, then `offset` and `limit` applied (`limit`
//!   from 1 to the `maximum` the spec states, 100, which is also
//!   [`POLL_PAGE_SIZE`](crate::client::POLL_PAGE_SIZE); default 100; more is
//!   a `400`). `total` counts all matches
//!   regardless of paging. `lastUpdatedAt` is the latest timestamp **in the
//!   returned page** (a zone-less one in the data is answered as UTC, `...Z`,
//!   as Tradecloud answers it); when the page is empty, the request's
//!   `lastUpdatedAfter` is echoed (and left out when there was none). A
//!   defined member sent as `null` (`"offset": null`) is a `400`.
//! * **Documents.** `GET /v2/object-storage/document/{objectId}/metadata`
//!   answers [`DocumentMetadata`](crate::api::object_storage::types::DocumentMetadata)
//!   whose `downloadUrl` is an S3-shaped presigned URL on the mock itself
//!   (`http://host:port/mock-s3/{objectId}?X-Amz-...&X-Amz-Signature=...`).
//!   That URL needs no `Authorization`, works until
//!   [`MockConfig::download_url_lifetime`] has passed and then answers `403`
//!   with an S3 XML error (`AccessDenied`, `Request has expired`).
//!   `GET /v2/object-storage/document/{objectId}` and
//!   `GET /v2/object-storage/download/{id}` stream the bytes directly
//!   (authenticated). Downloads carry `Content-Type`, `Content-Length` and
//!   `Content-Disposition`, and are streamed in 64 KiB chunks, so a
//!   [generated](MockDocument::generated) 200 MB document never sits in memory.
//! * **Two companies.** Besides [`MockConfig::users`] (by default the
//!   single user [`DEFAULT_USERNAME`], as before), the mock plays a buyer
//!   and a supplier company ([`MockConfig::buyer`], [`MockConfig::supplier`],
//!   [`MockCompany`]), connected as Tradecloud connects two companies: the
//!   buyer knows the supplier by a `supplierAccountNumber` (default
//!   `SUPPLIER12345`, the number of Tradecloud's published examples), the
//!   supplier knows the buyer by a `buyerAccountNumber` (default `340760`,
//!   the number of the demo orders and of this crate's examples); the
//!   company ids are those of Tradecloud's examples. Each company has an
//!   integration user ([`DEFAULT_BUYER_USERNAME`],
//!   [`DEFAULT_SUPPLIER_USERNAME`]) that logs in like any other.
//!   [`MockServer::buyer`], [`MockServer::supplier`] and
//!   [`MockServer::info`] tell them; `tradecloud mock --info-file PATH`
//!   writes [`MockInfo`] as JSON once the port listens.
//! * **Messages and actions** (`specs/api-connector.yaml`: orders, single
//!   delivery orders, indicators, documents, deliveries, delivery history,
//!   order responses, despatch advices; the order actions of
//!   `specs/order.yaml`): the body is decoded (JSON, or tXML where the spec
//!   takes `application/xml`: the JSON message's shape, "a 1-on-1
//!   translation", so the order's members go in `<order>`; tXML with them
//!   right under the root, as api/requests.md's abbreviated example shows,
//!   is a `400` that says how to nest them, the tXML decoder's own message,
//!   [`crate::webhook::txml::from_slice_with`]) and checked against the documented rules
//!   ([`Validate`](crate::types::Validate)); a body that breaks one is a
//!   `400` naming the member, and so is a message that would take a stored
//!   order past a limit on the TOTAL number of objects (api/rules.md: 500
//!   lines per order, 100 delivery history lines per order line, 100
//!   documents per order header and per order line), which then changes
//!   nothing. An accepted message is answered `200` with
//!   `{"ok": true}` as Tradecloud does, an order action `200` with `{}`.
//!   The counters count them. Then the process below runs on it.
//! * **The process** (Tradecloud's, as documented in `order/status.md`,
//!   `order/buyer/*`, `order/supplier/send-order-response/`,
//!   `shipment/supplier/send-despatch-advice.md`):
//!   - a buyer's **order** (`POST /api-connector/order`, or
//!     `/api-connector/order/single-delivery`, whose lines become delivery
//!     lines of the line they or their `originalPosition` name: a sent
//!     line replaces the delivery line of its position or is added, the
//!     delivery lines not sent stay, its `actualDelivery` becomes the
//!     delivery history line of its position, and a cancelled one is
//!     removed from the schedule, the order line cancelled only when none
//!     is left, api/delivery-schedule.md, order/buyer/cancel.md) for the supplier
//!     the buyer is connected with creates the order (a new `id`, owned by
//!     both companies: `buyerOrder.companyId`, `supplierOrder.companyId` and
//!     `supplierOrder.buyerAccountNumber` set) or updates the buyer's order
//!     with the same `purchaseOrderNumber`. New lines are `Issued`/`Open`;
//!     a sent line matched on `position` follows order/buyer/update.md:
//!     `Issued`/`InProgress` keep their status, `Rejected` becomes
//!     `InProgress` (`ReissuedRejectedLine`), `Confirmed` with other
//!     requested values becomes `InProgress` with an open buyer reopen
//!     request (`OpenBuyerReopenRequest`, values equal to the confirmed
//!     ones again revert it; with the same values its delivery lines take
//!     the buyer's `position`, `status` and `transportMode`,
//!     api/delivery-schedule.md), `Completed`/`Cancelled` ignore the update
//!     ("the order update will be ignored"), the indicators and the
//!     `deliveryHistory` sent with them too;
//!   - a supplier's **order response** (`POST
//!     /api-connector/order-response`) finds the order by the supplier's
//!     `buyerAccountNumber` and the `purchaseOrderNumber`, its lines by
//!     `purchaseOrderLinePosition`, and moves each line per its current
//!     status as send-order-response/README.md says: `accepted` or values
//!     equal to the requested ones → `Confirmed` (the values become
//!     `confirmedLine`), `rejected` → `Rejected`, other values → `InProgress`
//!     with the proposal held in `supplierLine.requests.proposal`
//!     (`OpenSupplierProposal`); a `Confirmed` line with other values gets
//!     a supplier reopen request (`OpenSupplierReopenRequest`), and values
//!     equal to the confirmed ones revert it; `Completed`/`Cancelled` lines
//!     do not change. A line asked to reconfirm
//!     (`OpenBuyerReconfirmationRequest`) is reconfirmed by `accepted` or
//!     the confirmed values, which stay ("reconfirm the same schedule &
//!     prices", order/status.md; `OrderLinesReconfirmedBySupplier`), and
//!     other values make a supplier reopen request. A buyer reopen request
//!     (`OpenBuyerReopenRequest`) is approved by `accepted` or the requested
//!     values (request `Approved`, its values confirmed;
//!     `OrderLinesReopenRequestApprovedBySupplier`), rejected by `rejected`
//!     (request `Rejected`, the line `Confirmed` with the values agreed
//!     before; `OrderLinesReopenRequestRejectedBySupplier`), and other values
//!     answer it with a proposal (the reopen request `Closed`;
//!     order/buyer/reopen.md). A response line with neither an indicator
//!     nor a delivery schedule nor prices (notes, description, properties,
//!     item details, documents) answers nothing: it updates those fields
//!     (`OrderLinesUpdatedBySupplier`, "fields other than prices & delivery
//!     schedules"; `OrderLinesItemDetailsChanged` when only its item
//!     details changed, order-events.md "Changed"), and an `Issued` line
//!     stays `Issued`. Each line's `mergedItemDetails` (also as
//!     `itemDetails.mergedItemDetails`, the issue page's name) is the
//!     buyer's `itemDetails` merged with the supplier's, recomputed when
//!     either sends (order/buyer/receive/README.md "Item details"). A line with an
//!     open shipment reschedule request keeps it whatever the response says
//!     (the buyer answers it). Line indicators take precedence over header
//!     ones;
//!   - the buyer's **answers** `POST /order/{orderId}/requests/buyer/approve`
//!     and `.../reject` approve (the request's values become the confirmed
//!     ones: `Confirmed`, request `Approved`) or reject (request `Rejected`;
//!     a proposal leaves the line `InProgress`/`RejectedSupplierProposal`,
//!     a reopen request leaves it `Confirmed`) the open supplier request of
//!     the lines named, a shipment reschedule request included (as the
//!     per-line answers below do); as `specs/order.yaml` says, a position
//!     the order does not have is a `404` and a line without an open
//!     supplier request a `400`, each naming the positions, and then no
//!     line is answered; `POST /order/{orderId}/complete` and `/deliver`
//!     complete or deliver the lines named, as the indicators below do, and
//!     `/revertCancelled`/`/revertCompleted` revert them (below). As
//!     `specs/order.yaml` says for these four, and as the answers to
//!     requests do, each is refused and changes nothing, sending no event:
//!     a position the order does not have is a `404` naming it; a `version`
//!     sent (the revert bodies have one; `OrderLinePositions`, the body of
//!     complete and deliver, has none) that is not the order's `version` is
//!     a `409` ("the order changed since the given `version`": fetch the
//!     order and decide again); when no line named can take the action,
//!     a `400` naming each line and why (its `processStatus`, or for deliver
//!     its `logisticsStatus`, is not one the action applies to). Lines that
//!     cannot take it beside one that can are left as they are, as an
//!     indicators message leaves them. An accepted action is answered `200`
//!     `{}`: the spec's `200` has a JSON body whose members "are not
//!     documented" (its schema has none), so the SDK's calls answer `()`
//!     and its errors carry the mock's message
//!     ([`ClientError::NotFound`](crate::client::ClientError::NotFound),
//!     [`ClientError::Conflict`](crate::client::ClientError::Conflict) for
//!     the `409`, else
//!     [`ClientError::Rejected`](crate::client::ClientError::Rejected) with
//!     the status);
//!   - the buyer's **indicators** (`POST /api-connector/order/indicators`,
//!     and the indicators of a sent order; order/buyer/issue/indicators.md):
//!     `completed` → `Completed` for `Issued`, `Rejected` and `Confirmed`
//!     lines (over `cancelled`, each flag taken from the line, else the
//!     order: an order `cancelled` with a line `completed: false` cancels
//!     the line; an `InProgress` line
//!     "cannot be completed", order/buyer/complete.md, and stays as it is),
//!     `cancelled` → `Cancelled` (also the logistics status) for `Issued`,
//!     `InProgress`, `Rejected` and `Confirmed` lines;
//!     `confirmed` confirms an `Issued` line, `requestReconfirmation` makes
//!     a `Confirmed` line `InProgress` (`OpenBuyerReconfirmationRequest`),
//!     `shipped`/`delivered` move the logistics status forward, of the
//!     line and of each of its delivery lines ("the line quantity is
//!     shipped"/"delivered", order/status.md); order level
//!     indicators apply to every line, line indicators take precedence,
//!     flag by flag (cancel.md, complete.md).
//!     `cancelLineWhenMissing` on a sent order cancels the lines it leaves
//!     out, and `autoConfirm` approves a supplier proposal or reopen request
//!     at once (`OrderLinesConfirmedBySupplier`: "confirmed by the supplier
//!     with different values"; the proposal a `proposeWhenAccepted` line
//!     becomes when accepted has the requested values, so approving it is
//!     `OrderLinesAcceptedBySupplier`, "confirmed ... as requested by the
//!     buyer", order-events.md);
//!   - the buyer's **goods receipts** (`POST /api-connector/order/deliveries`
//!     appends to a line's `buyerLine.deliveryHistory`,
//!     `/api-connector/order/deliveryHistory` and a sent order's
//!     `deliveryHistory` replace it; a message that would give a line more
//!     than 100 delivery history lines, Tradecloud's limit, is a `400`
//!     and changes nothing); a line whose delivered quantity
//!     reaches its current schedule's quantity becomes `Delivered` (a
//!     choice: Tradecloud matches by date and quantity and does not say
//!     when a line counts as delivered; the event is still the history's,
//!     `OrderLinesDeliveryHistoryAppendedByBuyer`/`...SetByBuyer`, as
//!     "marked as delivered" is the `delivered` indicator's). The delivery
//!     lines become `Delivered` as the received quantity covers them
//!     (order/status.md gives delivery lines that status): the docs match
//!     the history with the schedule "by date and quantity" without saying
//!     how, so the mock fills the delivery lines in the order of their
//!     dates with the total received quantity; one filled only in part
//!     keeps its status, and a `Delivered` line has all delivery lines
//!     `Delivered`. A receipt replaced or cleared later
//!     (`/order/deliveryHistory`, a sent order's `deliveryHistory`) takes
//!     no line or delivery line back from `Delivered`: receive-goods.md
//!     says only that the new history "is matched against the planned
//!     delivery schedule by date and quantity", and Tradecloud documents
//!     the way back as an action of its own, "Open: The buyer or supplier
//!     marked order lines as open again, being previously shipped or
//!     delivered" (order-events.md, `OrderLinesMarkedAsOpenByBuyer`/
//!     `...BySupplier`), which no API message of the specs sends (a portal
//!     action: the mock's own route, [portal actions on
//!     orders](self#portal-actions-on-orders), takes a line to `Open`).
//!     Nor do the docs say what a line would
//!     return to: the mock keeps no earlier stage, nor whether `Delivered`
//!     came from the history or from the `delivered` indicator, which holds
//!     "regardless of the actual quantity". A sent
//!     order's order level indicators apply only to the lines it contains,
//!     those of
//!     `/order/indicators` to all lines (receive-goods.md);
//!   - a supplier's **despatch advice** (`POST
//!     /api-connector/shipment/despatch-advice`) for the connected buyer
//!     creates a shipment (process status `Issued`, both as the top-level
//!     `processStatus` and as `status.processStatus`) or updates one: the
//!     shipment the same `despatchAdviceNumber` went to before (its lines
//!     there replaced), else the supplier's shipment of the same
//!     `shipmentNumber` (its lines added beside the other advices'; an
//!     advice sent again with another `shipmentNumber` moves there, and
//!     the shipment it left keeps the other advices' lines, takes the
//!     header the last of them sent, and is reissued,
//!     `ShipmentReissuedBySupplier`; a shipment left with no line is gone,
//!     from `GET /v2/shipment/{id}` and the poll, with no event, as
//!     shipment-events.md has none for it (documents attached to it in the
//!     portal go with it); an advice that was its shipment's only one
//!     and names a number no shipment has renumbers its shipment, the
//!     same id; the docs do not say); the
//!     header either way (its `trackingNumber` as
//!     `identifiers.trackingNumber`, its `destination` and
//!     `finalDestination` as `locations.destinations`, in that order, with
//!     the arrival window `scheduled*` as `eta*` and the departure's
//!     `actualDate` as `atdDate`: the members of
//!     shipment/buyer/receive/README.md), visible through `GET
//!     /v2/shipment/{id}` and the shipment poll (an advice that would take
//!     its shipment past 500 lines in total, api/rules.md, is answered
//!     `400` and stores nothing); and the orders it ships
//!     hear of it (connectors/webhooks/order-events.md, "Order lines
//!     shipment reschedule"): a despatch line whose `despatchQuantity`
//!     equals its delivery line's quantity sets that delivery line
//!     `ReadyToShip` (`OrderLinesDeliveryScheduleLogisticsUpdatedBySupplier`);
//!     one that differs, or backorders, opens a shipment reschedule request
//!     on the order line (`InProgress` /
//!     `OpenSupplierShipmentRescheduleRequest`,
//!     `OrderLinesShipmentRescheduleRequestedBySupplier`), which the buyer
//!     approves or rejects per line (`POST
//!     /order/{orderId}/line/{position}/reschedule/approve` or `…/reject`:
//!     the line `Confirmed` again, without an `inProgressStatus`;
//!     `OrderLinesShipmentRescheduleApprovedByBuyer` /
//!     `…RejectedByBuyer`);
//!   - **documents** (order/buyer/issue/attach-document-api.md,
//!     order/supplier/send-order-response/attach-document.md): the
//!     `documents` of a buyer's order and its lines, of the buyer's `POST
//!     /api-connector/order/documents` (order and lines), and of a
//!     supplier's order response (order and lines) are attached to the
//!     order: `buyerOrder.documents`, `buyerLine.documents`,
//!     `supplierOrder.documents`, `supplierLine.documents`, each document
//!     as sent (`objectId`, `url`, `name`, `description`, `code`, `type`,
//!     `revision` and any other member). A document with the same `code`
//!     as an attached one replaces it in its place, others are appended
//!     (as documented; codes compared without the whitespace around them,
//!     as the tXML reader reads them, so `" PL"` replaces `"PL"`; shipment
//!     documents follow the same rule): a document without a `code` (none, or blank) is
//!     appended every time it is sent, so an order, response or documents
//!     message sent again with it attaches it again and counts again
//!     toward the limit below (give documents a `code`). Documents
//!     attached before stay when an order or a response is sent again
//!     without them. A buyer's order or documents
//!     message that would leave the order header or a line with more than
//!     100 of the buyer's documents, or a supplier's order response that
//!     would leave them with more than 100 of the supplier's (Tradecloud's
//!     limit, attach-document-api.md and
//!     send-order-response/attach-document.md), is a `400` and changes
//!     nothing. The specs have no supplier
//!     attach-documents message, so a supplier attaches through its order
//!     response.
//!
//!   Every transition sets the changed lines' and the order's
//!   `lastUpdatedAt` and `lastChangedAt` (see
//!   [timestamps](self#timestamps-of-runtime-updates)), `version` one up,
//!   the order status aggregated from the lines, `deliverySchedule`/`prices`
//!   (the confirmed values once the line was confirmed, else the requested
//!   ones) and `deliveryScheduleIncludingRequests`/`pricesIncludingRequests`
//!   (an open request's values, else the same). The single-delivery view
//!   (`GET /v2/order/{orderId}` is the same order; the single-delivery poll)
//!   shows every order of the process too.
//!
//!   A message for an order the mock does not know (another purchase order
//!   number, another account number, another `companyId`), or for line
//!   positions the order does not have, is still answered `200`
//!   `{"ok": true}`: Tradecloud's api-connector acknowledges a message and
//!   processes it asynchronously, and the mock then changes nothing (for
//!   those lines). It logs a warning that says what it did not find and
//!   counts it in [`MockStats::unmatched_messages`] and
//!   [`MockStats::unmatched`], so a test can see that its message missed. An order action on an order of the mock's data (not one the
//!   process made) is answered `200` `{}` and changes nothing; on an order
//!   id the mock does not know at all, or on another company's order (its
//!   `buyerOrder.companyId` not the mock's buyer for a buyer's action, its
//!   `supplierOrder.companyId` not the mock's supplier for the supplier's
//!   `deliverySchedule`; an order that names no company is either's),
//!   `404` (the spec's "no order with this id (for this user)"), whatever
//!   the body (also one that would be a `400`), as a portal action on
//!   another company's shipment is. One company's action from the other company's user (the
//!   supplier's user sending an order or completing lines, the buyer's user
//!   sending an order response or a despatch advice) is answered `403`
//!   naming the side, before anything is read: security/authorization.md
//!   gives a buyer company the "ByBuyer" actions and a supplier company the
//!   "BySupplier" ones (which operation is whose: the spec's `x-party`,
//!   [`Operation::party`](crate::operation::Operation::party); the
//!   status is the spec's `403`, the docs do not name one). The users of
//!   [`MockConfig::users`] (the single-user default) may act for either
//!   company.
//!
//!   **Choices where the docs are silent:**
//!   - A buyer's order sent again changes only what is new: a line sent
//!     unchanged keeps its `lastUpdatedAt`, and an order sent again
//!     unchanged keeps its `version` and `lastUpdatedAt` and sends no
//!     event. The docs define the stamps by change ("the latest date time
//!     the order has been changed", order/buyer/receive/README.md; the
//!     supplier finds "which specific lines have changed" by them,
//!     api/polling/README.md) and let an update send all lines "anyway"
//!     (order/buyer/update.md); an order response that repeats the order,
//!     and a delivery history replaced by the same one
//!     (`/order/deliveryHistory`), are treated the same way. A changed
//!     order is one `version` up per message.
//!   - The process changes only the orders it created; the demo data and
//!     fixture orders are served as they are (so existing data never
//!     changes under a test), even when they carry the same numbers.
//!   - Values agree when the delivery schedules have the same number of
//!     lines with the same dates and quantities in order (positions are not
//!     compared) and the prices the same net price, gross price, discount,
//!     price unit quantity and unit (decimals compared as numbers); what a
//!     response leaves out (no `deliverySchedule` or no `prices`) stays as
//!     it is (the confirmed values of a confirmed line, of a line asked to
//!     reconfirm and of a line with an open supplier reopen request, else
//!     the requested ones); a response with neither is no answer (above);
//!     a responded price without
//!     `priceUnitOfMeasureIso`/`priceUnitQuantity` takes the buyer's
//!     ("copied from buyer if empty").
//!   - A `rejected` response to a `Confirmed` line, and any response to a
//!     `Rejected` line, change no status (the supplier's line data is
//!     still kept). An `InProgress` line asked to reconfirm or with the
//!     supplier's own open reopen request is `Rejected` by it, as every
//!     `InProgress` line ("`Rejected` if the `rejected` indicator is set",
//!     send-order-response/README.md; `OrderLinesRejectedBySupplier`); the
//!     open request is `Closed` ("not relevant anymore", order/status.md).
//!     `accepted` while the
//!     supplier's own reopen request is open withdraws it (the confirmed
//!     values stay), as the confirmed values do.
//!   - Item details merge member by member: the supplier's value wins
//!     where it gives one (not `null`, not blank text: a blank value of
//!     either side is "not given" and leaves the other's); a list or
//!     nested object the
//!     supplier sends (members the docs do not name) replaces the buyer's
//!     whole. A response that leaves `itemDetails` out keeps the
//!     supplier's earlier ones; one that sends them replaces them. A
//!     response line whose only change is its item details is
//!     `OrderLinesItemDetailsChanged` (sent to the buyer, as every
//!     supplier event); with another change of the line in the same
//!     response (notes, a status, ...) the line has that change's event
//!     alone (one event per line), its body carrying the new merged item
//!     details.
//!   - Accepting or confirming a line closes its other open requests
//!     (`Closed`); cancelling or completing closes them too.
//!   - Where the docs disagree: order/buyer/complete.md#L10 says "`In
//!     progress` and `Cancelled` lines cannot be completed", while
//!     order/buyer/issue/indicators.md#L60 says "`Issued`, `In progress`,
//!     `Rejected` and `Confirmed` lines will become `Completed`". The mock
//!     follows complete.md, the page about completing: an `InProgress` line
//!     stays as it is, whether completed by the `completed` indicator or by
//!     `POST /order/{orderId}/complete`. That action is refused with `400`
//!     when it names only such lines.
//!   - The order process status: the lines' common status; cancelled lines
//!     do not count while another line is not cancelled; a mix is
//!     `InProgress` while a line is `Issued`, `InProgress` or `Rejected`
//!     (`Confirmed` means "completely agreed" and `Rejected` "completely
//!     rejected", order/status.md), else `Confirmed` when a line is
//!     `Confirmed`, else `Completed`. The order logistics status: the lines'
//!     common one (cancelled lines not counting while others are not), else
//!     the lowest stage all those lines reached, in the order `Open`,
//!     `Produced`, `ReadyToShip`, `Shipped`, `Delivered` (order/status.md
//!     defines each by the order's "full quantity": one line `Shipped` and
//!     one `Delivered` is a `Shipped` order), `Open` when a line has a
//!     value the spec does not document.
//!   - A buyer reopen request holds the newly requested values; the
//!     buyer's line shows them as sent.
//!   - The single-delivery view (order/buyer/receive/single-delivery-order-response.md)
//!     has a line per delivery line: the one whose position is the order
//!     line's (else the first) is the order line, each other a split line
//!     with the delivery line's position as `buyerLine.position` (none for
//!     a delivery line a supplier request added without one) and
//!     `buyerLine.originalPosition`; each has the order line's members and
//!     its own delivery line as `statusLine.scheduledDelivery` (of the
//!     current schedule) and `scheduledDeliveryInclRequests` (matched on
//!     the position), the buyer's requested one as
//!     `buyerLine.scheduledDelivery` and its delivery history line as
//!     `buyerLine.actualDelivery`. A `singleDeliveryOrderEvent` has the
//!     lines of the affected order lines, split lines included.
//!   - Single-delivery orders: an order line sent only as split lines
//!     keeps the members stored (or, when new, takes the first split
//!     line's). Indicators follow the single-delivery table of
//!     order/buyer/issue/indicators.md: `shipped` and `delivered` on the
//!     primary or a split line mark its delivery line `Shipped` or
//!     `Delivered` (and the order line once all its delivery lines are;
//!     not a `Completed` or `Cancelled` order line, which ignores the
//!     update, order/buyer/update.md);
//!     `confirmed` and `completed` act on the order line only when every
//!     delivery line left in its schedule is sent with them in the same
//!     message (the mock keeps no indicators per delivery line);
//!     `requestReconfirmation` and `proposeWhenAccepted` act when the
//!     primary or any split line sets them. With `cancelLineWhenMissing`
//!     the message is the whole order, so a delivery line not sent is
//!     dropped.
//!   - A despatch advice's `shipmentCompanyName` (the carrier; the receive
//!     page has no member for it) is kept as
//!     `supplierShipment.shipmentCompanyName`; `identifiers.trackingNumber`
//!     sent as such wins over `trackingNumber`, and `eta*` over
//!     `scheduled*`.
//!   - A despatch advice changes no order line's own logistics status
//!     (nothing documents how its delivery lines add up to it); an update
//!     replaces the shipment's lines and header (its id stays). A line's
//!     `meta.lastUpdatedAt` is the shipment's new one only when the line is
//!     added or changed (shipment/buyer/receive/README.md); a line equal to
//!     the stored line of its `despatchAdviceLinePosition` keeps its stamp.
//!     An update that changes nothing of the shipment is, as an order
//!     documents attach that changes nothing, not stamped and sends no
//!     `ShipmentReissuedBySupplier` (a choice: Tradecloud does not say);
//!     the orders it ships still compare it, and change only if their
//!     lines do.
//!   - A changed despatch advice for an `Approved` or `Rejected` shipment
//!     is a reissue ("before or after buyer approval",
//!     connectors/webhooks/shipment-events.md): the shipment is `Issued`
//!     again (its `processStatusReason` cleared) for the buyer to answer
//!     anew, `ShipmentReissuedBySupplier`; an unchanged one keeps the
//!     buyer's answer and sends nothing. The documents either company
//!     attached in the portal ([portal actions](self#portal-actions-on-shipments))
//!     stay: a despatch advice carries none.
//!   - A despatch line's item is enriched from the order line its
//!     `purchaseOrderNumber` and `purchaseOrderLinePosition` name, when the
//!     mock has that order of the supplier (send-despatch-advice.md): a
//!     member the supplier left out or sent blank is taken from the order
//!     line's `buyerLine.item` (`number`, `revision`, `name` as
//!     `buyerItem*`; `supplierItemNumber`, `purchaseUnitOfMeasureIso`);
//!     what the supplier sent wins.
//!   - A despatch advice with two lines of the same
//!     `despatchAdviceLinePosition` ("unique within the despatch advice")
//!     is refused with a `400` naming the list, the position and both
//!     lines; nothing changes. That is the spec's rule (`x-request-rules`
//!     `uniqueBy`), which the check of every request above applies, as it
//!     does to an order's line `position`, a delivery schedule's `position`
//!     within its line and an order response's `purchaseOrderLinePosition`.
//!   - Shipment reschedule requests (the docs name the statuses and events,
//!     not the values): a despatch line is matched with the delivery line
//!     at its `deliverySchedulePosition`, else with the first delivery line
//!     of the order line that neither this advice nor an earlier one
//!     shipped (not yet `ReadyToShip`, `Shipped` or `Delivered`), in the
//!     *confirmed* schedule; only `Confirmed` lines and lines with an open
//!     reschedule request are compared (a shipment of a line still under
//!     negotiation, finished or unknown changes no order). The requested
//!     schedule is the confirmed one with the shipped quantities, a
//!     `backorderQuantity` with its `backorderDate` a new delivery line;
//!     it shows in `deliveryScheduleIncludingRequests` (the shipped
//!     delivery lines `ReadyToShip`), while `deliverySchedule` keeps the
//!     confirmed values, as for any open request (api/polling/echo.md).
//!     The request has no request object (the docs define none), so
//!     `supplierLine.requests` does not change. A reissued advice compares
//!     again: a changed difference updates the request (the event again),
//!     a match withdraws it (`Confirmed`, the delivery lines
//!     `ReadyToShip`, `OrderLinesDeliveryScheduleLogisticsUpdatedBySupplier`).
//!     Approving makes the requested schedule the confirmed one; the
//!     answered line is `Confirmed` and has no `inProgressStatus`
//!     (order/status.md defines it only while a line is `InProgress`, so
//!     a line never keeps one outside `InProgress`). The
//!     reject's `reason` becomes the line's `reason` (below). An answer for a line without an open
//!     request is a `400`, for a position the order does not have a `404`.
//!     An order response does not answer the request: it changes only the
//!     line's other fields until the buyer has answered.
//!   - A rejection's reason (the `reason` of the buyer's bulk reject and
//!     of its reschedule reject; the supplier's line `reason` with a
//!     `rejected` that takes) becomes the rejected order line's `reason`,
//!     the member Tradecloud's own webhook receiver reads as "the reason
//!     given with this event for this line"; the order event carries it,
//!     and the next change of the line clears it. A reason of only
//!     whitespace passes the spec's `minLength: 1` and is accepted, but
//!     the line gets none (the docs do not say that Tradecloud refuses it).
//!   - New ids are random version 4 UUIDs.
//!   - An `objectId` the mock's object storage does not know is attached
//!     as sent, and its download answers `404` like that of any unknown
//!     object: the api-connector acknowledges a message before processing
//!     it, and security/documents.md has stored documents deleted later
//!     (an infected upload), so an attached `objectId` need not have a
//!     file behind it.
//!   - Downloads are not restricted by company: every user of the mock
//!     may fetch the metadata and bytes of every document (Tradecloud
//!     lets authenticated and authorized users download, security/documents.md),
//!     so the buyer downloads what the supplier uploaded and attached, and
//!     the other way round.
//!   - Attaching documents is no line transition: it produces no order
//!     event of its own (a response that also accepts or proposes gets
//!     those events, a sent order with documents its own), and an attach
//!     that changes nothing (the same documents again, or documents only
//!     for lines the order does not have) is not stamped and sends no
//!     order-documents event; it is answered `200` like any accepted
//!     message (Tradecloud processes messages asynchronously).
//!   - A line the buyer sent with `indicators.proposeWhenAccepted`
//!     becomes a supplier proposal with the requested values when the
//!     supplier accepts it (`InProgress`, `OpenSupplierProposal`), for the
//!     buyer to approve (order/buyer/issue/propose-when-accepted.md), by
//!     `accepted` or by responding the requested values: "accepts
//!     (confirms with requested values)".
//!   - Reverting (`POST /order/{orderId}/revertCancelled`,
//!     `/revertCompleted`, the buyer): a `Cancelled` (`Completed`) line
//!     named becomes `InProgress` with `RevertedCancelledLine`
//!     (`RevertedCompletedLine`, order/status.md), a cancelled line's
//!     logistics status `Open` again; its requested and confirmed values
//!     stay, and the supplier answers it as any line in progress. Events
//!     `CancelledOrderLinesRevertedByBuyer` /
//!     `CompletedOrderLinesRevertedByBuyer`. Lines in another status are
//!     left alone; when no line named is in that status, the action is a
//!     `400` (above).
//!   - Delivery schedule logistics (`POST
//!     /order/{orderId}/line/{position}/deliverySchedule`, either party:
//!     "Both buyer and supplier can update the logistics process",
//!     connectors/webhooks/order-events.md): the `status`, `etd` and `eta`
//!     sent for a delivery line position are set on that delivery line of
//!     the current schedules (members left out stay); event
//!     `OrderLinesDeliveryScheduleLogisticsUpdatedByBuyer` /
//!     `...BySupplier`. A `Cancelled` or `Completed` line is left alone,
//!     and the line's own logistics status is not derived from its
//!     delivery lines (nothing documents how).
//!   - The `status` the buyer sends for a delivery line (its requested
//!     schedule, "according to the buyer", api/delivery-schedule.md) moves
//!     that delivery line forward only (`Open`, `Produced`, `ReadyToShip`,
//!     `Shipped`, `Delivered`), as the `shipped` and `delivered`
//!     indicators do (order/buyer/issue/indicators.md): it does not take
//!     back the `ReadyToShip` of a despatch advice or the `Delivered` of a
//!     goods receipt, also when the line changes later and the buyer's
//!     earlier status is still in its schedule. Either party's delivery
//!     schedule logistics action (above) sets any status.
//!   - Resending (`POST /order/{orderId}/buyer/resend`): the order as it
//!     is goes to the buyer's own order-events webhook as
//!     `OrderResentByBuyer` ("manually resent the order to their ERP
//!     system"); nothing changes and the supplier gets nothing.
//!   - Not played yet: `noDeliveryExpected` (a planned feature whose only
//!     documented effect is that such lines never become `Overdue`, a
//!     status the mock does not compute) and reassigning the buyer contact
//!     (the request names a Tradecloud user id, and the mock's users have
//!     none); those are accepted and change nothing. The endpoints the
//!     docs say the single delivery feature does not support
//!     (`/api-connector/order/indicators`, `/order/deliveries`,
//!     `/order/deliveryHistory`; "Let support know when you need this
//!     endpoint", order/buyer/cancel.md, complete.md, receive-goods.md)
//!     work on every order, one sent as single-delivery too: the mock has
//!     no company setting for the feature, and the docs do not say how
//!     Tradecloud refuses them.
//! * **Upload** (`POST /v2/object-storage/document`, `multipart/form-data`
//!   with a part `file`): keeps the file (at most [`MAX_UPLOAD_BYTES`],
//!   else `413`) as a document under a new `objectId`, answered as
//!   `{"id": objectId}`; its metadata and downloads are then served like
//!   every other document's. A file name with an extension Tradecloud
//!   blocks (security/documents.md) is a `400`.
//! * **Webhooks** (the [`webhooks`] module; Tradecloud's
//!   connectors/webhooks/webhook-setup.md and `*-events.md`): each company
//!   has an order-events, an order-documents-events and a shipment-events
//!   webhook ([`WebhookSettings`]: `method` POST/PUT/GET, `webhookUrl`,
//!   `basicAuthCredentials` or `bearerToken`, `format` JSON or tXML (tXML
//!   for order webhooks only, as api/json-vs-xml.md says),
//!   `singleDeliveryPerOrderLine`, `enabledEventNames`), set in
//!   [`MockConfig::webhooks`] (`tradecloud mock --webhooks FILE`) or with
//!   `PUT`/`POST` (and read back with `GET`) on
//!   `/v2/order-webhook-connector/company/{companyId}/settings/orderEvents`,
//!   `.../settings/orderDocumentsEvents` and
//!   `/v2/shipment-webhook-connector/company/{companyId}/settings`, the
//!   paths and JSON members of Tradecloud's .NET SDK examples
//!   (`tradecloud/tradecloud-sdk-dotnet`,
//!   `order-webhook-connector/SetOrderEventsSettings/order-events-settings.json`,
//!   `.../SetOrderDocumentsEventsSettings/order-documents-events-settings.json`,
//!   `shipment-webhook-connector/SetSettings/settings.json`). These routes
//!   are plain axum routes, not generated from a spec (Tradecloud's spec of
//!   them is not available here); they take the company's integration user
//!   with `Bearer` (`401` without, `403` for the other company's user, `404`
//!   for another `companyId`, `400` for a body that is not the settings or
//!   a target that is not `https://` or `http://` on loopback), and fault
//!   injection applies to them (operation ids `setOrderEventsSettings`,
//!   `setOrderDocumentsEventsSettings`, `setShipmentWebhookSettings`).
//!
//!   Every transition of the process produces its documented event
//!   (one table: `webhooks::line_event`; the lines of one event name form
//!   one event): e.g. a new order `OrderIssuedByBuyer`, new lines
//!   `OrderLinesIssuedByBuyer` (new lines that their `confirmed`,
//!   `cancelled` or `completed` indicator closes at once are named by
//!   that status: `OrderLinesConfirmedByBuyer`,
//!   `OrderLinesCancelledByBuyer`, `OrderLinesCompletedByBuyer`, also in a
//!   new order; order-events.md "Confirmed by buyer: The buyer confirmed
//!   new order line(s) without requesting supplier confirmation"), a
//!   message that moves no line but changes the order header
//!   (`buyerOrder`/`supplierOrder`: description, notes, documents, ...) or
//!   only documents of lines `OrderLinesUpdatedByBuyer` /
//!   `OrderLinesUpdatedBySupplier` ("Order and line fields other than
//!   prices & delivery schedules are updated"; documents sent in an order
//!   or a response have no order-documents event, so this event is the
//!   other company's notice), carrying the lines whose documents changed,
//!   else all lines (a choice: the receive pages say `lines` "contains one
//!   or more order lines", and a header belongs to all of them); a message
//!   that changes nothing sends nothing, and stamps nothing (an order
//!   response that repeats what the order holds leaves every
//!   `lastUpdatedAt` as it was, so polls do not return the order again);
//!   accepted lines
//!   `OrderLinesAcceptedBySupplier`, rejected ones
//!   `OrderLinesRejectedBySupplier`, a proposal
//!   `OrderChangesProposedBySupplier`, its approval or rejection
//!   `OrderChangesProposal{Approved,Rejected}ByBuyer`, reopen requests,
//!   cancel, complete, deliveries and delivery history; a new shipment
//!   `ShipmentIssuedBySupplier`, an updated one
//!   `ShipmentReissuedBySupplier`, and the portal actions on a shipment
//!   theirs (`ShipmentApprovedByBuyer`, `ShipmentRejectedByBuyer`,
//!   `ShipmentHeaderUpdatedBySupplier`, `ShipmentDocumentAttachedByBuyer`,
//!   `ShipmentDocumentAttachedBySupplier`, `ShipmentResentByBuyer`; see
//!   [portal actions](self#portal-actions-on-shipments)). The body is Tradecloud's
//!   ([`OrderWebhookBody`](crate::api::order_webhook_connector::types::OrderWebhookBody),
//!   [`ShipmentWebhookBody`](crate::api::shipment_webhook_connector::types::ShipmentWebhookBody)):
//!   `eventName`, `orderEvent` (or `singleDeliveryOrderEvent`) with only
//!   the affected lines, or the whole `shipment`, and `meta` with a fresh
//!   `messageId`, `createdDateTime` and `source`: the `traceId` of the
//!   flow, and the `companyId` and `userId` of the company whose message
//!   triggered the event (order/buyer/receive/README.md "Message meta
//!   information": "All related messages in a flow will have the same
//!   traceId"; [`MockParty::user_id`]). In the mock a flow is one API
//!   request (a choice: Tradecloud does not say more): all events it
//!   causes share one `traceId` (e.g. a supplier's order response that
//!   accepts one line and proposes for another, or a despatch advice's
//!   shipment event and the order event of the lines it ships), and
//!   events of different requests differ. The id is the trace id of the
//!   request's W3C `traceparent` header when it has a valid one (written
//!   as a UUID, `4bf92f35-77b3-4da6-a3ce-929d0e0e4736` for trace id
//!   `4bf92f3577b34da6a3ce929d0e0e4736`), so a caller can find the events
//!   of its request; else a fresh UUID.
//!
//!   An event goes to the other company; to the acting company only
//!   when its `enabledEventNames` names the event (a choice: Tradecloud
//!   sends a company's own events where configured). Absent or empty
//!   `enabledEventNames`: every event. With `GET` no body is sent: the id
//!   fills `{orderId}`/`{shipmentId}`/`{id}` in the URL (percent-encoded
//!   as one path segment), else goes into the query, with `eventName` (a
//!   choice).
//!
//!   Delivery uses the crate's one delivery implementation
//!   ([`crate::client::delivery`], also behind `tradecloud send`): `2xx`
//!   delivered; `4xx` and `500` not retried; above `500`, and connection
//!   errors, retried until delivered or refused, as Tradecloud does
//!   ("indefinitely", api/webhook-vs-polling.md), with exponential backoff
//!   from [`MockConfig::delivery_backoff`] (`--delivery-backoff`, default
//!   1 s, doubling up to 64 times that, with jitter); the mock's log warns
//!   of an event's first failed attempt and of a refused one. The events
//!   of one order (or shipment) for one company are delivered in order: a
//!   later one waits until the earlier is delivered or refused. Targets
//!   are `https://`, trusting the system roots plus
//!   [`MockConfig::ca_file`] (`--ca-file PEM`), or `http://` on a loopback
//!   address. Every attempt is logged
//!   ([`DeliveryRecord`]: company, event, id, `messageId`, URL, attempt,
//!   status, latency, outcome) in [`MockServer::deliveries`] and
//!   `GET /mock/deliveries` (no authentication, beside `/mock-s3`).
//!   Documents attached produce the order-documents events
//!   (connectors/webhooks/order-documents-events.md), delivered to the
//!   order-documents webhook of the other company (and of the acting one
//!   when its `enabledEventNames` names the event): a buyer's `POST
//!   /api-connector/order/documents` for one of its orders
//!   `OrderDocumentsAttachedByBuyer`. The body is `{"eventName",
//!   "orderDocumentsEvent"}` as the generated
//!   [`OrderDocumentsEvent`](crate::api::common::types::OrderDocumentsEvent):
//!   `orderId` (not `id`), `lastUpdatedAt`, `buyerOrder` and
//!   `supplierOrder`, the acting party's with the documents the message
//!   attached, and only the lines it attached documents to, their
//!   `buyerLine`/`supplierLine` likewise. Documents embedded in a buyer's
//!   order produce no documents event (the events page says so), and
//!   neither do the documents of a supplier's order response
//!   (order/supplier/send-order-response/attach-document.md: "This will NOT
//!   create an `OrderDocumentsAttachedBySupplier` activity"): the buyer
//!   finds them in the response's order event (`supplierOrder.documents`,
//!   `supplierLine.documents`) and in GET order. Not produced yet: the
//!   events of the order actions the process does not play. Every
//!   documented shipment event is produced: the portal's through the
//!   mock's own routes ([portal actions](self#portal-actions-on-shipments));
//!   so are the order events of marking lines open or delivered and of
//!   resending, by either company ([portal actions on
//!   orders](self#portal-actions-on-orders)).
//! * **Webhook faults** ([`WebhookFault`], `--webhook-fault
//!   [buyer:|supplier:]KIND[:N]`): the mock pretends a company's target is
//!   `down` (a refused connection, nothing sent, retried), answered a
//!   status (`503` retried, `500` not; nothing sent) or is `slow=DURATION`
//!   (waits, then really sends), for the first N attempts or all; the
//!   delivery log marks such attempts `fault: true`.
//! * **Fault injection** ([`FaultConfig`]) answers `503`, `429` with
//!   `Retry-After`, any other error status, or delays requests, before
//!   authentication, on the `/v2` routes and the portal actions.
//! * **Counters** ([`MockServer::stats`], [`MockServer::request_log`]):
//!   logins, refreshes, logouts, requests per [`operation`], `401`s and
//!   other statuses answered, the arrival time of every request, and the
//!   accepted messages that changed nothing because they named something
//!   the mock does not know ([`MockStats::unmatched`], each also a
//!   warning in the log).
//! * **Forecasts** (`POST /v2/api-connector/forecast` and
//!   `.../forecast/slimstock`, the buyer's): checked as every message,
//!   verified by `companyId` and `supplierAccountNumber` as an order is,
//!   then appended, never updated (forecast/issue.md), and shown by
//!   [`MockServer::forecasts`] and `GET /mock/forecasts`; no webhook event
//!   (none is documented). See the `forecast` module.
//!
//! # Portal actions on shipments
//!
//! Tradecloud's buyer approves or rejects a shipment, its supplier updates
//! the header, either attaches documents and the buyer resends, in
//! Tradecloud's portal (connectors/webhooks/shipment-events.md); its API
//! (`specs/shipment.yaml`) has no route for them. So that an integration
//! can test its handling of those events, the mock plays them on routes
//! of its own, beside `/mock/deliveries` (NOT Tradecloud paths, not under
//! `/v2`), on a shipment it holds (one a despatch advice created, or one of
//! its data); `GET /` lists them:
//!
//! | Route (`POST`) | Company | Body | Event |
//! | --- | --- | --- | --- |
//! | `/mock/shipment/{shipmentId}/buyer/approve` | buyer | none, or `{"reason"}` | `ShipmentApprovedByBuyer` |
//! | `/mock/shipment/{shipmentId}/buyer/reject` | buyer | `{"reason"}` (required) | `ShipmentRejectedByBuyer` |
//! | `/mock/shipment/{shipmentId}/supplier/header` | supplier | `{"identifiers": {"billOfLadingNumber", "trackingNumber", ...}, "transportMode", "shipmentNumber", "invoiceNumbers"}` | `ShipmentHeaderUpdatedBySupplier` (after approval) or `ShipmentReissuedBySupplier` (before) |
//! | `/mock/shipment/{shipmentId}/buyer/documents` | buyer | `{"documents": [...]}` | `ShipmentDocumentAttachedByBuyer` |
//! | `/mock/shipment/{shipmentId}/supplier/documents` | supplier | `{"documents": [...]}` | `ShipmentDocumentAttachedBySupplier` |
//! | `/mock/shipment/{shipmentId}/buyer/resend` | buyer | none | `ShipmentResentByBuyer` |
//!
//! [`MockServer::shipment_action`] plays the same in-process
//! ([`ShipmentAction`]), for a Rust test that wants no raw HTTP;
//! `tradecloud mock shipment approve|reject|update-header|attach-documents|resend`
//! posts them to a running mock from the command line.
//!
//! * **Who acts.** The routes take the acting company's integration user,
//!   so the mock knows who acts, with the API's authentication (`Bearer`
//!   access token from `/v2/authentication/login`, or Basic credentials on
//!   every request for `curl`; `401` otherwise). The other company's user
//!   is a `403` naming the side; the single-user default acts for either.
//!   A shipment whose buyer (supplier) `companyId` is not the mock's buyer
//!   (supplier) is a `404` for that company, as is an unknown id, whatever
//!   the body (checked before the body is read).
//! * **What changes** (shipment/buyer/receive/README.md): approve sets
//!   `processStatus` `Approved` (with the optional reason as
//!   `processStatusReason`), reject `Rejected` with the reason (a missing
//!   or blank one is a `400`); both at the top and in `status`, as the
//!   despatch advice sets them. Approving an `Approved` or rejecting a
//!   `Rejected` shipment is a `409`; the buyer may change its mind the
//!   other way. A header update replaces the members sent (`identifiers`
//!   member by member); the events page has it "after buyer approval", so
//!   on an `Approved` shipment it is `ShipmentHeaderUpdatedBySupplier` and
//!   the status stays, and before approval (`Issued`, `Rejected`) the
//!   supplier reissues the shipment, as a changed despatch advice does
//!   (a choice): `Issued`, the reason cleared, `ShipmentReissuedBySupplier`.
//!   Documents go to `buyerShipment.documents` or
//!   `supplierShipment.documents`, each with a `url` or an `objectId` the
//!   mock holds (an upload, `POST /v2/object-storage/document`, or its
//!   data; else a `400`: a portal attaches synchronously), by the order
//!   documents' rule (one rule for both): one with the `code` of an
//!   attached one (compared without the whitespace around it) replaces it
//!   in place, one without a code (or a blank one) is appended; more than
//!   [`MAX_SHIPMENT_DOCUMENTS`] per company is a `400`. An added or
//!   changed document's `meta.lastUpdatedAt` is the shipment's new one.
//!   Every change stamps the shipment's `meta.lastUpdatedAt` (so GET
//!   shipment and the shipment poll show it; shipments have no version);
//!   an action that changes nothing (the same header or document again) is
//!   answered `200`, not stamped, and sends no event. A resend changes
//!   nothing. A refused action changes nothing.
//! * **Events.** The whole shipment, as for the despatch advice's events,
//!   to the other company's shipment webhook, and to the acting one's
//!   when its `enabledEventNames` names the event; a resend only to the
//!   buyer's own ("manual resent by the buyer" to its ERP). The events of
//!   one request share a `traceId` (its `traceparent`'s, else a fresh
//!   one).
//! * **Answers**: `200` with the shipment as it is afterwards; errors as
//!   the API's problem bodies (`400` for an empty body where one is
//!   needed, JSON that is not the shape above, or an unknown member).
//! * **Counters and faults**: the routes count as operations
//!   `mockApproveShipmentByBuyer`, `mockRejectShipmentByBuyer`,
//!   `mockUpdateShipmentHeaderBySupplier`,
//!   `mockAttachShipmentDocumentsByBuyer`,
//!   `mockAttachShipmentDocumentsBySupplier` and
//!   `mockResendShipmentByBuyer` ([`MockStats::requests`]), and fault
//!   injection applies to them as to the API routes (a rule without
//!   operations included; these ids name them).
//!
//! # Portal actions on orders
//!
//! "Both buyer and supplier can update the logistics process"
//! (connectors/webhooks/order-events.md, "Order lines logistics"): in
//! Tradecloud's portal either marks order lines as open again ("being
//! previously shipped or delivered") or as delivered at the buyer, and
//! either resends the order to its own ERP ("Maintenance"); the API has no
//! route for the supplier's, nor for marking open. The mock plays them on
//! routes of its own beside the shipment ones, on an order its process
//! holds (one the buyer sent); `GET /` lists them:
//!
//! | Route (`POST`) | Company | Body | Event |
//! | --- | --- | --- | --- |
//! | `/mock/order/{orderId}/buyer/open` | buyer | `{"linePositions": [...]}` | `OrderLinesMarkedAsOpenByBuyer` |
//! | `/mock/order/{orderId}/supplier/open` | supplier | `{"linePositions": [...]}` | `OrderLinesMarkedAsOpenBySupplier` |
//! | `/mock/order/{orderId}/buyer/deliver` | buyer | `{"linePositions": [...]}` | `OrderLinesMarkedAsDeliveredByBuyer` |
//! | `/mock/order/{orderId}/supplier/deliver` | supplier | `{"linePositions": [...]}` | `OrderLinesMarkedAsDeliveredBySupplier` |
//! | `/mock/order/{orderId}/buyer/resend` | buyer | none | `OrderResentByBuyer` |
//! | `/mock/order/{orderId}/supplier/resend` | supplier | none | `OrderResentBySupplier` |
//!
//! [`MockServer::order_action`] plays the same in-process
//! ([`OrderAction`]); `tradecloud mock order open|deliver|resend --by
//! buyer|supplier` posts them to a running mock.
//!
//! * **Who acts**, authentication, counters (operations
//!   `mockMarkOrderLinesOpenByBuyer`, `...BySupplier`,
//!   `mockMarkOrderLinesDeliveredByBuyer`, `...BySupplier`,
//!   `mockResendOrderByBuyer`, `...BySupplier`) and faults: as for the
//!   shipment actions. An order whose buyer (supplier) `companyId` is not
//!   the mock's is a `404` for that company, as is an unknown id, whatever
//!   the body.
//! * **What changes** (order/status.md): marking open takes each line
//!   named whose logistics status is `Shipped` or `Delivered` to `Open`
//!   ("no or partial quantity Produced, ReadyToShip, Shipped or
//!   Delivered"), and its `Shipped` and `Delivered` delivery lines too, in
//!   `deliverySchedule` and `deliveryScheduleIncludingRequests`. Marking
//!   delivered is the buyer's `delivered` indicator's rule
//!   (order/buyer/issue/indicators.md: `Open`, `Produced`, `ReadyToShip`
//!   or `Shipped` "will become `Delivered`", with its delivery lines).
//!   Changed lines and the order are stamped (`lastUpdatedAt`), the order
//!   one `version` up, its status aggregated again. A resend changes
//!   nothing. The mock keeps no `shipped`/`delivered` indicator on a
//!   line, so there is none to clear.
//! * **Events**: as every order change: the changed lines to the other
//!   company's order webhook, and to the acting one's when its
//!   `enabledEventNames` names the event; a resend, with all lines, only
//!   to the resending company's own ("manually resent the order to their
//!   ERP system"), as the API's buyer resend.
//! * **Refused** (nothing changes; errors as the API's problem bodies):
//!   an unknown order, another company's, or a position the order does
//!   not have `404`; no line named (`linePositions` empty) or a body not of
//!   that shape `400`; no line named that can take the action `400`, each
//!   line with why (lines that cannot, beside one that can, are left as
//!   they are, as for the API's order actions).
//!
//!   **Choices where the docs are silent:** a `Completed` or `Cancelled`
//!   line cannot be marked open or delivered (its process is over; the
//!   docs name no way back but reverting it first). Marking delivered
//!   does not need a `Confirmed` line: the only documented rule for
//!   delivered is the logistics one (indicators.md), which the API's
//!   `/order/{orderId}/deliver` follows as well. A line marked open goes
//!   to `Open`, not to the stage it had before shipping (the mock keeps
//!   none), and keeps its delivery history (goods received are a record,
//!   not a status). An order of the mock's demo or fixture data, which the
//!   mock never changes, is a `409`.
//!
//! # Fixture directory
//!
//! [`MockConfig::fixtures_dir`] (`tradecloud mock --fixtures DIR`) loads:
//!
//! ```text
//! DIR/orders/*.json                  an Order, an array of them, or a poll response ({"data": [...]})
//! DIR/single-delivery-orders/*.json  the same for single-delivery orders
//! DIR/shipments/*.json               a Shipment, an array, a poll response, or a webhook body ({"shipment": {...}})
//! DIR/documents/<objectId>.<ext>     a document's bytes (streamed from disk); filename `<objectId>.<ext>`,
//!                                    content type from the extension
//! DIR/documents/<objectId>.meta.json optional: {"filename": "...", "contentType": "...",
//!                                    "generatedSize": N, "interruptAfter": N}; with `generatedSize`
//!                                    and no content file, a generated document of N bytes
//! ```
//!
//! Every sub-directory is optional; files are read in name order and a later
//! order or shipment with the same `id` replaces an earlier one. Orders and
//! shipments need an `id`. Without fixtures, [`MockData::demo`] is a small
//! data set built into the crate.
//!
//! # Timestamps of runtime updates
//!
//! [`MockServer::update_order`] and friends set `lastUpdatedAt` to the
//! current time in milliseconds (`yyyy-MM-ddTHH:mm:ss.SSSZ`), but always at
//! least 1 ms after every timestamp handed out before or present in the
//! data, so that a poll with the previous watermark never misses an update.

mod api;
mod attach;
mod config;
mod data;
mod download;
mod error;
mod faults;
mod forecast;
mod portal;
mod process;
mod record;
mod state;
mod stats;
mod tokens;
pub mod webhooks;
mod write;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use base64::Engine as _;

pub use config::{
    Fault, FaultConfig, FaultTrigger, MockCompany, MockConfig, MockUser, DEFAULT_BUYER_PASSWORD,
    DEFAULT_BUYER_USERNAME, DEFAULT_PASSWORD, DEFAULT_SUPPLIER_PASSWORD, DEFAULT_SUPPLIER_USERNAME,
    DEFAULT_USERNAME,
};
pub use data::{generated_byte, DocumentContent, MockData, MockDocument};
pub use error::MockError;
pub use forecast::{ForecastKind, MockForecast};
pub use portal::{HeaderUpdate, OrderAction, ShipmentAction, MAX_SHIPMENT_DOCUMENTS};
pub use stats::{operation, MockStats, RequestRecord, MAX_UNMATCHED};
pub use webhooks::{
    check_target, BasicAuthCredentials, CompanyWebhooks, DeliveryRecord, MockWebhooks,
    WebhookFault, WebhookFaultKind, WebhookKind, WebhookSettings,
};

use crate::api::common::types::{Order, Shipment, SingleDeliveryOrder};
use crate::operation::Operation;
use crate::types::{DateTime, Party};
use state::MockState;

/// The user name and password of the mock's (first) integration user.
/// `Debug` leaves the password out.
#[derive(Clone, PartialEq, Eq)]
pub struct MockCredentials {
    /// The e-mail address.
    pub username: String,
    /// The password.
    pub password: String,
}

impl MockCredentials {
    /// The value of an `Authorization: Basic ...` header for these credentials.
    pub fn basic_authorization(&self) -> String {
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.username, self.password));
        format!("Basic {encoded}")
    }
}

impl fmt::Debug for MockCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// One of the two companies the mock plays, as its integration sees it
/// ([`MockServer::buyer`], [`MockServer::supplier`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockParty {
    /// The Tradecloud company id.
    pub company_id: String,
    /// The company name.
    pub name: String,
    /// The company's integration user.
    pub credentials: MockCredentials,
    /// The account number this company knows its partner by: the buyer's
    /// `supplierAccountNumber`, the supplier's `buyerAccountNumber`.
    pub partner_account_number: String,
}

impl MockParty {
    /// The Tradecloud user id of the company's integration user
    /// ([`MockUser::user_id`]): with [`Self::company_id`], the
    /// `meta.source` of the webhook events this company's messages
    /// trigger.
    pub fn user_id(&self) -> String {
        MockUser::new(self.credentials.username.clone(), String::new()).user_id()
    }
}

impl From<&MockCompany> for MockParty {
    fn from(company: &MockCompany) -> Self {
        MockParty {
            company_id: company.company_id.clone(),
            name: company.name.clone(),
            credentials: MockCredentials {
                username: company.user.email.clone(),
                password: company.user.password.clone(),
            },
            partner_account_number: company.partner_account_number.clone(),
        }
    }
}

/// What `tradecloud mock --info-file PATH` writes, as JSON
/// ([`MockServer::info`]):
///
/// ```json
/// {"base_url": "http://127.0.0.1:41234/v2",
///  "username": "integration@example.com", "password": "...",
///  "buyer": {"company_id": "...", "name": "...", "username": "buyer@example.com",
///            "password": "...", "supplier_account_number": "SUPPLIER12345"},
///  "supplier": {"company_id": "...", "name": "...", "username": "supplier@example.com",
///               "password": "...", "buyer_account_number": "340760"}}
/// ```
///
/// `username`/`password` at the top are the first configured user (the
/// single-user default, which may act for either company).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MockInfo {
    /// The API base URL.
    pub base_url: String,
    /// The first configured user.
    pub username: String,
    /// Its password.
    pub password: String,
    /// The buyer company.
    pub buyer: MockInfoBuyer,
    /// The supplier company.
    pub supplier: MockInfoSupplier,
}

/// The buyer in [`MockInfo`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MockInfoBuyer {
    /// The Tradecloud company id.
    pub company_id: String,
    /// The company name.
    pub name: String,
    /// The integration user.
    pub username: String,
    /// Its password.
    pub password: String,
    /// The account number the buyer knows the supplier by.
    pub supplier_account_number: String,
}

/// The supplier in [`MockInfo`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MockInfoSupplier {
    /// The Tradecloud company id.
    pub company_id: String,
    /// The company name.
    pub name: String,
    /// The integration user.
    pub username: String,
    /// Its password.
    pub password: String,
    /// The account number the supplier knows the buyer by.
    pub buyer_account_number: String,
}

/// A running mock of Tradecloud, listening on a TCP port.
///
/// Start it with [`MockServer::start`]; it stops on [`MockServer::shutdown`]
/// or when dropped. All methods that change data or tokens take effect for
/// the next request.
pub struct MockServer {
    state: Arc<MockState>,
    local_addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl fmt::Debug for MockServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockServer")
            .field("base_url", &self.base_url())
            .finish_non_exhaustive()
    }
}

/// The address to show for `addr`: the loopback address when listening on
/// every interface.
pub(crate) fn display_addr(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv4Addr::LOCALHOST, addr.port()))
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv6Addr::LOCALHOST, addr.port()))
        }
        _ => addr,
    }
}

async fn count_status(
    State(state): State<Arc<MockState>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    state.count_status(response.status().as_u16());
    response
}

async fn index() -> String {
    let mut page = String::from(
        "Tradecloud mock: the API v2 is under /v2 (see `tradecloud mock --help`).\n\n\
         The mock's own routes (not Tradecloud's):\n\
         GET /mock/deliveries: the webhook delivery log (no authentication)\n\
         GET /mock/forecasts: the forecasts the buyer sent, oldest first (no authentication)\n\
         GET /mock-s3/{objectId}?X-Amz-...: a presigned downloadUrl\n\n\
         Portal actions on a shipment (JSON bodies; the acting company's user, \
         Bearer or Basic):\n",
    );
    for (operation, body) in portal::ROUTES {
        let side = operation.party.map(Party::as_str).unwrap_or_default();
        page.push_str(&format!("POST {} ({side}; body {body})\n", operation.path));
    }
    page.push_str("\nPortal actions on an order of the mock's process (the same):\n");
    for (operation, body) in portal::ORDER_ROUTES {
        let side = operation.party.map(Party::as_str).unwrap_or_default();
        page.push_str(&format!("POST {} ({side}; body {body})\n", operation.path));
    }
    page
}

/// The operation tables of the specs the mock serves: the specs whose
/// routers [`router`] merges.
fn served_operations() -> impl Iterator<Item = &'static Operation> {
    use crate::api::{
        api_connector, authentication, object_storage, order, order_search, shipment,
    };
    [
        api_connector::OPERATIONS,
        authentication::OPERATIONS,
        order::OPERATIONS,
        order_search::OPERATIONS,
        shipment::OPERATIONS,
        object_storage::OPERATIONS,
    ]
    .into_iter()
    .flatten()
}

/// Whether `operation` is an operation id the mock answers (an operation
/// of its specs, its presigned download route, a webhook settings
/// endpoint, or a portal action on a shipment): the ids a
/// [`FaultConfig`] may name.
fn serves(operation: &str) -> bool {
    operation == stats::operation::MOCK_S3_DOWNLOAD
        || served_operations().any(|o| o.id == operation)
        || webhooks::routes::OPERATIONS
            .iter()
            .any(|o| o.id == operation)
        || portal::ROUTES
            .iter()
            .chain(portal::ORDER_ROUTES)
            .any(|(o, _)| o.id == operation)
}

/// The largest document the mock takes in one upload (it keeps uploads in
/// memory); a larger one is answered `413`. Tradecloud documents no limit.
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

fn router(state: Arc<MockState>) -> Router {
    use crate::api::{
        api_connector, authentication, object_storage, order, order_search, shipment,
    };
    let api = Router::new()
        .merge(api_connector::server::router(state.clone()))
        .merge(authentication::server::router(state.clone()))
        .merge(order::server::router(state.clone()))
        .merge(order_search::server::router(state.clone()))
        .merge(shipment::server::router(state.clone()))
        .merge(
            object_storage::server::router(state.clone())
                .layer(axum::extract::DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        );
    let api = api.merge(webhooks::routes::router(state.clone()));
    let s3 = Router::new()
        .route("/mock-s3/{objectId}", get(download::mock_s3))
        .route("/mock/deliveries", get(webhooks::routes::deliveries))
        .route("/mock/forecasts", get(forecast::route))
        .with_state(state.clone());
    // The portal actions: authenticated, one flow each, errors as the
    // API's (problem bodies).
    let portal = portal::router(state.clone())
        .layer(axum::middleware::from_fn(read_body_first))
        .layer(axum::middleware::from_fn(problem_bodies))
        .layer(axum::middleware::from_fn(one_flow));
    Router::new()
        .nest(
            "/v2",
            api.layer(axum::middleware::from_fn(read_body_first))
                .layer(axum::middleware::from_fn(problem_bodies))
                .layer(axum::middleware::from_fn(one_flow)),
        )
        .merge(s3)
        .merge(portal)
        .route("/", get(index))
        .layer(axum::middleware::from_fn_with_state(state, count_status))
}

/// The largest error body [`problem_bodies`] rewrites (the mock's own are
/// a few hundred bytes).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Every JSON error body of the API routes in one shape: an RFC 9457
/// problem (`application/problem+json`) with `type`, `title` (the status'
/// reason phrase), `status` and `detail`, and `message` with the same text,
/// the member clients show. The generated stubs answer a refused request
/// as a problem, the mock's own answers (`401`, `403`, `404`, a refused
/// message's `400`, an injected fault) as `{"message": ...}`; Tradecloud
/// documents no error body (api/, security/authentication.md give only
/// the status codes), so one shape with both spellings serves either
/// reading. Other bodies (the S3 XML error of an expired `downloadUrl`)
/// pass unchanged.
async fn problem_bodies(request: Request, next: Next) -> Response {
    use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
    let response = next.run(request).await;
    let status = response.status();
    let json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.starts_with("application/json") || v.starts_with("application/problem+json")
        });
    if !(status.is_client_error() || status.is_server_error()) || !json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_ERROR_BODY).await {
        Ok(bytes) => bytes,
        Err(e) => {
            return crate::server::problem(
                status,
                &format!("the mock could not read its own error body: {e}"),
                None,
            )
        }
    };
    let Ok(serde_json::Value::Object(mut members)) = serde_json::from_slice(&bytes) else {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    };
    let text = members
        .get("message")
        .or_else(|| members.get("detail"))
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("Error").to_owned());
    members
        .entry("type")
        .or_insert_with(|| "about:blank".into());
    members
        .entry("title")
        .or_insert_with(|| status.canonical_reason().unwrap_or("Error").into());
    members
        .entry("status")
        .or_insert_with(|| status.as_u16().into());
    members
        .entry("detail")
        .or_insert_with(|| text.clone().into());
    members.entry("message").or_insert_with(|| text.into());
    let body = serde_json::Value::Object(members).to_string();
    parts.headers.insert(
        CONTENT_TYPE,
        http::HeaderValue::from_static("application/problem+json"),
    );
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// Handles an API request as one flow: the webhook events it causes share
/// one `meta.source.traceId` ([`webhooks::in_flow`]).
async fn one_flow(request: Request, next: Next) -> Response {
    let trace_id = webhooks::flow_trace_id(request.headers());
    webhooks::in_flow(trace_id, next.run(request)).await
}

/// Reads a request's whole body (at most [`MAX_UPLOAD_BYTES`]; the routes
/// apply their own limits to it) before the route answers, as servers that
/// close lingeringly do: an answer given before the body is needed (a `401`,
/// an injected `503` or `429`) then reaches a client that is still sending a
/// large body, instead of the connection being reset under it.
async fn read_body_first(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, MAX_UPLOAD_BYTES).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        Err(error) => {
            use axum::response::IntoResponse as _;
            let too_large = std::error::Error::source(&error)
                .is_some_and(|e| e.is::<http_body_util::LengthLimitError>());
            let status = if too_large {
                http::StatusCode::PAYLOAD_TOO_LARGE
            } else {
                http::StatusCode::BAD_REQUEST
            };
            (
                status,
                format!("the request body could not be read: {error}"),
            )
                .into_response()
        }
    }
}

impl MockServer {
    /// Load the data (and [`MockConfig::fixtures_dir`]), bind
    /// [`MockConfig::listen`] and serve in a background task of the current
    /// tokio runtime.
    pub async fn start(config: MockConfig) -> Result<MockServer, MockError> {
        config.validate()?;
        let mut data = config.data.clone();
        if let Some(dir) = &config.fixtures_dir {
            data.extend(MockData::from_dir(dir)?);
        }
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| MockError::Bind {
                addr: config.listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| MockError::Bind {
            addr: config.listen,
            source,
        })?;
        let state = Arc::new(MockState::new(&config, data, local_addr)?);
        let app = router(state.clone());
        let (shutdown, signal) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = signal.await;
                })
                .await
        });
        tracing::info!(base_url = %format!("http://{}/v2", display_addr(local_addr)), "Tradecloud mock started");
        Ok(MockServer {
            state,
            local_addr,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    /// The forecasts the buyer sent so far, oldest first (also
    /// `GET /mock/forecasts`): appended, never updated (see the module
    /// docs' forecasts).
    pub fn forecasts(&self) -> Vec<MockForecast> {
        self.state.forecasts()
    }

    /// Every webhook delivery attempt so far, in the order they ended (also
    /// `GET /mock/deliveries`).
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.state.webhooks.deliveries()
    }

    /// Set `company`'s webhook of `kind`, as the settings endpoints do.
    pub fn set_webhook(
        &self,
        company: Party,
        kind: WebhookKind,
        settings: WebhookSettings,
    ) -> Result<(), MockError> {
        settings.validate(kind).map_err(MockError::Config)?;
        self.state.webhooks.set(company, kind, settings);
        Ok(())
    }

    /// Replace the webhook faults.
    pub fn set_webhook_faults(&self, faults: Vec<WebhookFault>) {
        self.state.webhooks.set_faults(faults);
    }

    /// The API base URL, e.g. `http://127.0.0.1:41234/v2` (the loopback
    /// address when listening on every interface).
    pub fn base_url(&self) -> String {
        format!("http://{}/v2", display_addr(self.local_addr))
    }

    /// The address the mock listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The credentials of the first configured user.
    pub fn credentials(&self) -> MockCredentials {
        let user = self.state.primary_user();
        MockCredentials {
            username: user.email,
            password: user.password,
        }
    }

    /// The buyer company: its id, integration user and the account number
    /// it knows the supplier by.
    pub fn buyer(&self) -> MockParty {
        MockParty::from(&self.state.buyer)
    }

    /// The supplier company: its id, integration user and the account
    /// number it knows the buyer by.
    pub fn supplier(&self) -> MockParty {
        MockParty::from(&self.state.supplier)
    }

    /// Where the mock listens and how both companies log in (what
    /// [`write_info_file`](Self::write_info_file) writes).
    pub fn info(&self) -> MockInfo {
        let (user, buyer, supplier) = (self.credentials(), self.buyer(), self.supplier());
        MockInfo {
            base_url: self.base_url(),
            username: user.username,
            password: user.password,
            buyer: MockInfoBuyer {
                company_id: buyer.company_id,
                name: buyer.name,
                username: buyer.credentials.username,
                password: buyer.credentials.password,
                supplier_account_number: buyer.partner_account_number,
            },
            supplier: MockInfoSupplier {
                company_id: supplier.company_id,
                name: supplier.name,
                username: supplier.credentials.username,
                password: supplier.credentials.password,
                buyer_account_number: supplier.partner_account_number,
            },
        }
    }

    /// Write [`info`](Self::info) as JSON to `path`, atomically: to a
    /// temporary file beside it, then renamed, so a reader never sees a
    /// partial file.
    pub fn write_info_file(&self, path: &std::path::Path) -> Result<(), MockError> {
        let failed = |source: std::io::Error| MockError::InfoFile {
            path: path.to_path_buf(),
            source,
        };
        let json = serde_json::to_vec_pretty(&self.info()).map_err(|e| failed(e.into()))?;
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => std::path::Path::new("."),
        };
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(failed)?;
        std::io::Write::write_all(&mut file, &json).map_err(failed)?;
        file.persist(path).map_err(|e| failed(e.error))?;
        Ok(())
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> MockStats {
        self.state.stats()
    }

    /// Every request received so far, in arrival order.
    pub fn request_log(&self) -> Vec<RequestRecord> {
        self.state.request_log()
    }

    /// The largest number of API requests (all but the presigned download
    /// route) received within any time window of length `window`; e.g.
    /// `peak_requests_in(Duration::from_secs(1)) <= 10` checks Tradecloud's
    /// rate limit.
    pub fn peak_requests_in(&self, window: Duration) -> usize {
        self.state.peak_requests_in(window)
    }

    /// Reset the counters and the request log.
    pub fn reset_stats(&self) {
        self.state.reset_stats();
    }

    /// Replace the fault-injection rules (their counters start again).
    pub fn set_faults(&self, faults: Vec<FaultConfig>) -> Result<(), MockError> {
        faults.iter().try_for_each(FaultConfig::validate)?;
        self.state.set_faults(faults);
        Ok(())
    }

    /// Remove every fault-injection rule.
    pub fn clear_faults(&self) {
        self.state.set_faults(Vec::new());
    }

    /// Let every access token issued so far expire now.
    pub fn expire_access_tokens(&self) {
        self.state.expire_access_tokens();
    }

    /// Let every refresh token issued so far expire now.
    pub fn expire_refresh_tokens(&self) {
        self.state.expire_refresh_tokens();
    }

    /// Forget every token: the next call with any of them gets a `401`.
    pub fn revoke_all_tokens(&self) {
        self.state.revoke_all_tokens();
    }

    /// Let one access or refresh token expire now; `false` if unknown.
    pub fn expire_token(&self, token: &str) -> bool {
        self.state.expire_token(token)
    }

    /// Let every presigned download URL handed out so far expire now.
    pub fn expire_download_urls(&self) {
        self.state.expire_download_urls();
    }

    /// A fresh presigned download URL for a stored document (as in its
    /// metadata), or `None` for an unknown object id.
    pub fn presigned_url(&self, object_id: &str) -> Option<String> {
        self.state.document(object_id)?;
        let origin = format!("http://{}", display_addr(self.local_addr));
        download::presigned_url(&self.state, &origin, object_id)
    }

    /// Store an order as it is (its `lastUpdatedAt` untouched); it needs an `id`.
    pub fn insert_order(&self, order: Order) -> Result<(), MockError> {
        self.state.insert(order)
    }

    /// Store a new or changed order with `lastUpdatedAt` set to now (see
    /// [timestamps](self#timestamps-of-runtime-updates)); lines without a
    /// timestamp get the same one. Returns that timestamp.
    pub fn update_order(&self, order: Order) -> Result<DateTime, MockError> {
        self.state.update(order)
    }

    /// Remove an order.
    pub fn remove_order(&self, id: &str) -> Option<Order> {
        self.state.remove(id)
    }

    /// The stored order with this id.
    pub fn order(&self, id: &str) -> Option<Order> {
        self.state.get(id)
    }

    /// Store a single-delivery order as it is; it needs an `id`.
    pub fn insert_single_delivery_order(
        &self,
        order: SingleDeliveryOrder,
    ) -> Result<(), MockError> {
        self.state.insert(order)
    }

    /// Store a new or changed single-delivery order with `lastUpdatedAt` set
    /// to now (as [`update_order`](Self::update_order)).
    pub fn update_single_delivery_order(
        &self,
        order: SingleDeliveryOrder,
    ) -> Result<DateTime, MockError> {
        self.state.update(order)
    }

    /// Remove a single-delivery order.
    pub fn remove_single_delivery_order(&self, id: &str) -> Option<SingleDeliveryOrder> {
        self.state.remove(id)
    }

    /// The stored single-delivery order with this id.
    pub fn single_delivery_order(&self, id: &str) -> Option<SingleDeliveryOrder> {
        self.state.get(id)
    }

    /// Store a shipment as it is; it needs an `id`.
    pub fn insert_shipment(&self, shipment: Shipment) -> Result<(), MockError> {
        self.state.insert(shipment)
    }

    /// Store a new or changed shipment with `meta.lastUpdatedAt` set to now
    /// (as [`update_order`](Self::update_order)); lines without a
    /// `meta.lastUpdatedAt` get the same one. Returns that timestamp.
    pub fn update_shipment(&self, shipment: Shipment) -> Result<DateTime, MockError> {
        self.state.update(shipment)
    }

    /// Remove a shipment.
    pub fn remove_shipment(&self, id: &str) -> Option<Shipment> {
        self.state.remove(id)
    }

    /// The stored shipment with this id.
    pub fn shipment(&self, id: &str) -> Option<Shipment> {
        self.state.get(id)
    }

    /// Play a portal action on the stored shipment `shipment_id`, as its
    /// company's integration user would through the mock's `POST
    /// /mock/shipment/{shipmentId}/...` routes (see
    /// [portal actions](self#portal-actions-on-shipments)): the shipment
    /// changes and its event goes to the webhooks, all in one flow (one
    /// `traceId`). Returns the shipment as it is afterwards.
    ///
    /// ```no_run
    /// # async fn demo(server: &tradecloud::mock::MockServer, id: &str) -> Result<(), tradecloud::mock::MockError> {
    /// use tradecloud::mock::ShipmentAction;
    /// let rejected = server
    ///     .shipment_action(id, ShipmentAction::Reject { reason: "wrong pallets".into() })
    ///     .await?;
    /// assert_eq!(rejected.process_status_reason.as_deref(), Some("wrong pallets"));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`MockError::ShipmentAction`] with the status the route would
    /// answer: no such shipment, or not the acting company's (`404`); a
    /// reject without a reason, an empty header update or documents
    /// without `url`/`objectId` (`400`); approving an `Approved` or
    /// rejecting a `Rejected` shipment (`409`).
    pub async fn shipment_action(
        &self,
        shipment_id: &str,
        action: ShipmentAction,
    ) -> Result<Shipment, MockError> {
        let state = self.state.clone();
        webhooks::in_flow(process::new_id(), async move {
            state.shipment_action(shipment_id, &action)
        })
        .await
        .map_err(|refused| MockError::ShipmentAction {
            status: refused.status.as_u16(),
            message: refused.message,
        })
    }

    /// Play a portal action on an order of the mock's process, as the
    /// route `POST /mock/order/{orderId}/...` would
    /// ([portal actions on orders](self#portal-actions-on-orders)): mark
    /// lines open or delivered, or resend the order; its events are
    /// queued as the route's. Returns the order as it is afterwards.
    ///
    /// ```no_run
    /// # async fn demo(server: &tradecloud::mock::MockServer, id: &str) -> Result<(), tradecloud::mock::MockError> {
    /// use tradecloud::mock::OrderAction;
    /// use tradecloud::types::Party;
    /// let order = server
    ///     .order_action(id, OrderAction::MarkOpen { by: Party::Supplier, positions: vec!["1".into()] })
    ///     .await?;
    /// # let _ = order;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`MockError::OrderAction`] with the status the route would answer:
    /// no such order, another company's, or a position the order does
    /// not have (`404`); an order of the mock's data, which it never
    /// changes (`409`); no line named, or none that can take the action
    /// (`400`: marking open needs a `Shipped` or `Delivered` line,
    /// marking delivered an `Open`, `Produced`, `ReadyToShip` or
    /// `Shipped` one; neither a `Completed` or `Cancelled` line).
    pub async fn order_action(
        &self,
        order_id: &str,
        action: OrderAction,
    ) -> Result<Order, MockError> {
        let state = self.state.clone();
        webhooks::in_flow(process::new_id(), async move {
            state.order_action(order_id, &action)
        })
        .await
        .map_err(|refused| MockError::OrderAction {
            status: refused.status.as_u16(),
            message: refused.message,
        })
    }

    /// Store (or replace) a document.
    pub fn insert_document(&self, object_id: impl Into<String>, document: MockDocument) {
        self.state.insert_document(object_id, document);
    }

    /// Remove a document.
    pub fn remove_document(&self, object_id: &str) -> Option<MockDocument> {
        self.state.remove_document(object_id)
    }

    /// How many orders, single-delivery orders and shipments are stored, and
    /// the object ids of the documents.
    pub fn data_summary(&self) -> DataSummary {
        let (orders, single_delivery_orders, shipments, documents) = self.state.counts();
        DataSummary {
            orders,
            single_delivery_orders,
            shipments,
            documents,
        }
    }

    /// Stop accepting connections, let running requests finish (at most 5
    /// seconds), and stop; webhook events still being retried are dropped
    /// (so they are when the server is dropped).
    pub async fn shutdown(mut self) -> Result<(), MockError> {
        self.state.webhooks.close();
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let Some(mut task) = self.task.take() else {
            return Ok(());
        };
        match tokio::time::timeout(Duration::from_secs(5), &mut task).await {
            Ok(Ok(result)) => result.map_err(MockError::Serve),
            Ok(Err(join)) => Err(MockError::Serve(std::io::Error::other(join.to_string()))),
            Err(_) => {
                task.abort();
                Ok(())
            }
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.state.webhooks.close();
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// What a mock serves (see [`MockServer::data_summary`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSummary {
    /// Number of orders.
    pub orders: usize,
    /// Number of single-delivery orders.
    pub single_delivery_orders: usize,
    /// Number of shipments.
    pub shipments: usize,
    /// Object ids of the documents.
    pub documents: Vec<String>,
}
