//! Scalar types used throughout the Tradecloud API models.
//!
//! Tradecloud exchanges quantities and prices as decimals "with any number of
//! digits" and dates/times in several ISO 8601 shapes. The types here keep the
//! exact text they were given, so that a value read from Tradecloud is written
//! back byte for byte, while comparing by *value*:
//!
//! * [`Decimal`] — an exact decimal number (JSON number or string). No floating
//!   point is involved in parsing, comparing, re-serialising or computing
//!   with it: `+ - *` and `Sum` are exact for any number of digits, division
//!   and [`Decimal::round`] take an explicit scale and [`Rounding`].
//! * [`DateTime`] — an ISO 8601 date-time with or without a zone offset
//!   (a zone-less value is taken to be UTC when compared or converted).
//! * [`Date`] — an ISO 8601 calendar date.
//! * [`Party`] — the buyer or the supplier company.
//! * [`OpenEnum`] — implemented by every generated enum: documented values
//!   become variants, any other value is kept as `Unknown(String)`.
//! * [`Validate`] — implemented by the generated request types: the rules the
//!   specs state beyond the types (no whitespace in an order number, at most
//!   500 lines, ...), each broken one reported with its JSON path.
//!
//! Parsing failures are reported as [`DecimalError`], [`DateTimeError`] and
//! [`DateError`]; each message quotes the offending input.

mod date;
mod datetime;
mod decimal;
mod decimal_interop;
mod decimal_math;
mod iso8601;
mod open_enum;
mod party;
pub mod validate;

pub use date::{Date, DateError};
pub use datetime::{DateTime, DateTimeError};
pub use decimal::{Decimal, DecimalError, DecimalErrorKind};
pub use decimal_interop::DecimalRangeError;
pub use decimal_math::Rounding;
pub use open_enum::OpenEnum;
pub use party::Party;
pub use validate::{JsonPath, Rule, Validate, Violation, Violations};

/// The `chrono` crate this one is built with: a [`Date`] is made from a
/// `chrono::NaiveDate` (`Date::from(naive)`, or directly in a request
/// builder, whose dates take `impl Into<Date>`), and [`Date::date`] gives
/// one back, without a chrono version to match.
///
/// ```
/// use tradecloud::api::common::types::DeliveryScheduleLine;
/// use tradecloud::types::chrono::NaiveDate;
/// use tradecloud::types::Decimal;
///
/// let june_2 = NaiveDate::from_ymd_opt(2025, 6, 2).ok_or("not a date")?;
/// let line = DeliveryScheduleLine::builder().date(june_2).quantity(Decimal::new(125, 1)).build();
/// assert_eq!(line.date.as_ref().map(|d| d.as_str()), Some("2025-06-02"));
/// assert_eq!(line.quantity.as_ref().map(|q| q.as_str()), Some("12.5"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub use chrono;

/// The `rust_decimal` crate that [`Decimal`] converts to and from exactly
/// (feature `rust_decimal`): `rust_decimal::Decimal::try_from(&decimal)`.
#[cfg(feature = "rust_decimal")]
#[cfg_attr(docsrs, doc(cfg(feature = "rust_decimal")))]
pub use rust_decimal;

/// The `bigdecimal` crate that [`Decimal`] converts to and from exactly
/// (feature `bigdecimal`): `bigdecimal::BigDecimal::try_from(&decimal)`.
#[cfg(feature = "bigdecimal")]
#[cfg_attr(docsrs, doc(cfg(feature = "bigdecimal")))]
pub use bigdecimal;

/// An identifier that a spec marks as `format: uuid`, kept as text: ids are
/// compared and stored verbatim, and a differently shaped id from Tradecloud
/// is still accepted.
pub type Id = String;

use std::fmt;

/// Shows user input inside an error message: quoted and escaped like a Rust
/// string, and shortened when it is very long so that a huge payload does not
/// end up verbatim in logs.
struct ShownInput<'a>(&'a str);

impl fmt::Display for ShownInput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_CHARS: usize = 80;
        match self.0.char_indices().nth(MAX_CHARS) {
            None => write!(f, "{:?}", self.0),
            Some((cut, _)) => write!(f, "{:?}… ({} bytes in total)", &self.0[..cut], self.0.len()),
        }
    }
}
