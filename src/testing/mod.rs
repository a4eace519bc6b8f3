//! Testing a receiver service in-process (features `mock` and `receiver`):
//! a [`TestBed`] starts a [mock of Tradecloud](crate::mock) and a real
//! [`Receiver`](crate::receiver::Receiver) over HTTPS (a self-signed certificate that only the test
//! bed's client trusts) with your [`Handler`](crate::processing::Handler), delivers [`Sample`] webhook
//! bodies the way Tradecloud does, and records what your handler did.
//!
//! The receiver's `[tradecloud]` client points at the mock, so a handler
//! that downloads documents with [`HandlerContext::client`](crate::processing::HandlerContext::client) downloads them
//! from the mock (the samples reference documents the mock's
//! [demo data](crate::mock::MockData::demo) holds).
//!
//! [`TestBed::start_as`] makes the receiver one of the mock's two companies
//! ([`Party::Buyer`](crate::types::Party::Buyer) or
//! [`Party::Supplier`](crate::types::Party::Supplier)): its `[tradecloud]` client logs
//! in as that company's integration user, so a handler that answers through
//! the SDK acts for that company in the mock's order process, and
//! [`TestBed::client_as`] gives the test a client of either company to play
//! the other side.
//!
//! ```
//! use tradecloud::processing::{Event, Handler, HandlerContext, HandlerError};
//! use tradecloud::testing::{Sample, TestBed};
//!
//! struct Erp;
//!
//! impl Handler for Erp {
//!     async fn handle(&self, event: Event, _ctx: &HandlerContext) -> Result<(), HandlerError> {
//!         match event {
//!             Event::Order { .. } => Ok(()),
//!             _ => Err(HandlerError::Permanent("only orders, please".into())),
//!         }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tradecloud::testing::TestBedError> {
//! let bed = TestBed::start(Erp).await?;
//! bed.deliver(&Sample::order_event("OrderIssuedByBuyer")).await?; // answered 2xx
//! bed.deliver(&Sample::shipment_event("ShipmentIssuedBySupplier")).await?;
//!
//! let handled = bed.wait_handled(2).await?; // in arrival order
//! assert_eq!(handled[0].event_name(), Some("OrderIssuedByBuyer"));
//! assert!(handled[0].result.is_ok());
//! assert!(matches!(handled[1].result, Err(HandlerError::Permanent(_))));
//! bed.shutdown().await?;
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

mod bed;
mod sample;

pub use bed::{Handled, TestBed, TestBedError};
pub use sample::{Sample, SampleKind};

/// The Basic-auth user name the test bed's receiver expects.
pub const WEBHOOK_USERNAME: &str = "tradecloud";

/// How long [`TestBed::wait_handled`] waits.
const WAIT: Duration = Duration::from_secs(30);
