//! # tradecloud
//!
//! Typed Rust SDK and webhook receiver kit for [Tradecloud](https://tradecloud1.com)'s
//! API v2, generated at build time from the OpenAPI specs in `specs/`.
//!
//! * [`api`]: one module per spec with its types, a typed client and axum
//!   server stubs.
//! * [`types`]: the exact scalar types every generated type uses: [`types::Decimal`]
//!   (no float rounding), [`types::DateTime`] (with or without a zone) and
//!   [`types::Date`], and open enums that keep unknown values.
//! * [`webhook`]: decoding webhook bodies (JSON or tXML) and which event,
//!   order or shipment id and message id they carry.
//! * [`changes`]: which lines and documents of a message changed.
//! * [`operation`]: what the specs say about each operation (method, path,
//!   security schemes, media types, limits), as the tables
//!   `api::<spec>::OPERATIONS` that the client and the mock read.
//!
//! ```
//! use tradecloud::api::order_webhook_connector::types::OrderWebhookBody;
//!
//! let body: OrderWebhookBody = serde_json::from_str(r#"{
//!     "eventName": "OrderLinesConfirmedBySupplier",
//!     "orderEvent": {
//!         "orderId": "7e1f5b2c",
//!         "lines": [{ "id": "l1", "deliverySchedule": [{ "quantity": 12345678901234.567890 }] }],
//!         "someFutureField": true
//!     }
//! }"#)?;
//! let event = body.order_event.as_ref().expect("an order event");
//! let quantity = event.lines[0].delivery_schedule[0].quantity.as_ref().expect("a quantity");
//! assert_eq!(quantity.as_str(), "12345678901234.567890");
//! assert!(event.extra.contains_key("someFutureField"));
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! * [`client`] (feature `client`): [`client::Client`], the one API client
//!   most integrations need: login and token refresh, retries, rate limit,
//!   polling as a stream, document download.
//!
//! ## Features
//!
//! * `client` (default): [`client`] and the generated per-spec clients (reqwest).
//! * `server`: the axum server stubs.
#![cfg_attr(
    feature = "mock",
    doc = "* `mock`: [`mock`], a mock of Tradecloud's API for tests."
)]
#![cfg_attr(
    not(feature = "mock"),
    doc = "* `mock`: `tradecloud::mock`, a mock of Tradecloud's API for tests."
)]
//! * `receiver`: the webhook receiver (`receiver`, `inbox`, `processing`);
//!   `postgres`, `acme`, `otel` add PostgreSQL, ACME certificates and traces.
//! * `doctor`: the outside check of a webhook endpoint.
//! * `rust_decimal`, `bigdecimal`: exact conversions of [`types::Decimal`].
//!
//! The plain dependency `tradecloud = "0.1"` is the SDK (no clap, axum,
//! SQLite or mimalloc); the types alone need `default-features = false`.
//! The `tradecloud` command line tool is the package `tradecloud-cli`. On
//! docs.rs each item says which feature it needs.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate self as tradecloud;

mod accessors;
pub mod api;
pub mod changes;
pub mod operation;
pub mod types;

#[cfg(feature = "client")]
pub mod client;
pub mod secret;
#[cfg(feature = "server")]
pub mod server;
pub mod webhook;

/// The README's Rust snippets, compiled and run as doc tests (they use
/// the mock, the receiver and the doctor: with fewer features, as in
/// `cargo test -p tradecloud`, they are left out rather than failing).
#[doc = include_str!("../README.md")]
#[cfg(all(doctest, feature = "mock", feature = "receiver", feature = "doctor"))]
pub struct ReadmeDoctests;

#[cfg(feature = "doctor")]
pub mod doctor;
#[cfg(any(feature = "doctor", feature = "receiver"))]
mod hex;
#[cfg(feature = "receiver")]
pub mod inbox;
#[cfg(any(feature = "doctor", feature = "receiver"))]
mod probe_proof;
#[cfg(feature = "receiver")]
pub mod processing;
#[cfg(feature = "receiver")]
pub mod receiver;
#[cfg(feature = "receiver")]
pub mod telemetry;

#[cfg(feature = "mock")]
pub mod mock;
#[cfg(all(feature = "mock", feature = "receiver"))]
pub mod testing;
