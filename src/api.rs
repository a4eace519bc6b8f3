//! Generated from the OpenAPI specs in `specs/`: one module per spec, each
//! with `types` (always), `client` (feature `client`) and `server` (feature
//! `server`). A readable copy of this code is committed in `generated/`.
//!
//! Shared definitions (`specs/common.yaml`) live in [`common::types`] and are
//! re-exported by the modules that use them.
//!
//! Every struct keeps the fields a spec does not know in `extra`, has a
//! `Default` (optional fields absent, lists empty, the spec's defaults) and a
//! builder (`Type::builder()` returns a `builder::TypeBuilder`: one setter
//! per field, then `build()`), so a
//! request is written without spelling out `extra`:
//!
//! ```
//! use tradecloud::api::common::types::OrderProcessStatus;
//! use tradecloud::api::order_search::types::{
//!     OrderPollFilters, OrderPollRequest, OrderPollStatusFilter,
//! };
//!
//! let since: tradecloud::types::DateTime = "2025-04-23T10:01:53.812Z".parse()?;
//! let request = OrderPollRequest::builder()
//!     .filters(
//!         OrderPollFilters::builder()
//!             .last_updated_after(since)
//!             .status(OrderPollStatusFilter::builder().process_status([OrderProcessStatus::Issued])),
//!     )
//!     .build();
//! assert_eq!(
//!     serde_json::to_value(&request)?,
//!     serde_json::json!({
//!         "filters": {
//!             "lastUpdatedAfter": "2025-04-23T10:01:53.812Z",
//!             "status": {"processStatus": ["Issued"]}
//!         },
//!         "limit": 100
//!     })
//! );
//!
//! // Or as a literal, with the rest from `Default`:
//! let filters = OrderPollFilters { last_updated_after: Some("2025-04-23T10:01:53.812Z".parse()?), ..Default::default() };
//! # let _ = filters;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Each spec's client is named after it (`order::client::OrderClient`) and
//! its methods after the operations, without the `Route` suffix of
//! Tradecloud's operation ids (`get_order_by_id`). These clients send requests as they are; most programs want
//! [`crate::client::Client`] (feature `client`), which adds login, token
//! refresh, retries and downloads on top of them.

include!(concat!(env!("OUT_DIR"), "/mod.rs"));
