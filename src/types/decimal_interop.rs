//! Exact conversions between [`Decimal`] and the decimal types users
//! compute with: `rust_decimal::Decimal` (feature `rust_decimal`) and
//! `bigdecimal::BigDecimal` (feature `bigdecimal`).
//!
//! A conversion either keeps the value exactly or fails with a
//! [`DecimalRangeError`]; it never rounds.

use super::decimal::Decimal;
use super::ShownInput;

/// A [`Decimal`] that does not fit the target type exactly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "decimal {} does not fit in {target} without rounding ({reason}); use bigdecimal::BigDecimal \
     (feature `bigdecimal`) for any number of digits",
    ShownInput(.input)
)]
pub struct DecimalRangeError {
    input: String,
    target: &'static str,
    reason: &'static str,
}

/// Text written by rust_decimal or bigdecimal, whose `Display` output
/// (`-digits[.digits][E±digits]`) is a subset of the accepted grammar (the
/// conversion tests check it).
///
/// # Panics
///
/// If such a formatter ever wrote something else: a bug to report, better
/// than a silently wrong value.
#[allow(dead_code)] // unused when no conversion feature is on
fn from_plain_text(text: String) -> Decimal {
    match Decimal::from_text(text) {
        Ok(decimal) => decimal,
        Err(error) => panic!("a decimal library wrote an unexpected number: {error}"),
    }
}

impl DecimalRangeError {
    #[allow(dead_code)] // unused when no conversion feature is on
    fn new(input: &Decimal, target: &'static str, reason: &'static str) -> Self {
        DecimalRangeError {
            input: input.as_str().to_owned(),
            target,
            reason,
        }
    }

    /// The decimal's text.
    pub fn input(&self) -> &str {
        &self.input
    }
}

#[cfg(feature = "rust_decimal")]
mod rust_decimal_impl {
    use super::{from_plain_text, Decimal, DecimalRangeError};

    const TARGET: &str = "rust_decimal::Decimal";
    /// rust_decimal's limits: a 96-bit mantissa and at most 28 digits after
    /// the point.
    const MAX_MANTISSA: u128 = (1 << 96) - 1;
    const MAX_SCALE: u32 = 28;

    /// The number of digits after the point as written (`1.50` → 2,
    /// `1.5e-3` → 4, `15e1` → 0).
    fn written_scale(value: &Decimal) -> u32 {
        let text = value.as_str();
        let (mantissa, exponent) = text.split_once(['e', 'E']).unwrap_or((text, "0"));
        let fraction = mantissa.split_once('.').map_or(0, |(_, f)| f.len()) as i128;
        let exponent: i128 = exponent.parse().unwrap_or(0);
        u32::try_from((fraction - exponent).max(0)).unwrap_or(u32::MAX)
    }

    /// `value = mantissa × 10^-scale` with `scale` in `0..=28`, or why not.
    fn parts(value: &Decimal) -> Result<(u128, u32), &'static str> {
        // value = ±0.DIGITS × 10^exponent, DIGITS without leading or
        // trailing zeros (empty for zero).
        let normal = value.normal();
        let (digits, exponent) = (normal.digits(), normal.exponent);
        let too_big = "more than 96 bits";
        let mut mantissa: u128 = 0;
        for digit in digits {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(u128::from(digit - b'0')))
                .ok_or(too_big)?;
        }
        // value = 0.DIGITS × 10^exponent = DIGITS × 10^(exponent - len).
        let shift = exponent - normal.len as i128;
        let (mut mantissa, mut scale) = if shift >= 0 {
            let factor = u32::try_from(shift)
                .ok()
                .and_then(|s| 10u128.checked_pow(s))
                .ok_or(too_big)?;
            (mantissa.checked_mul(factor).ok_or(too_big)?, 0)
        } else {
            let scale = u32::try_from(-shift).map_err(|_| "more than 28 digits after the point")?;
            (mantissa, scale)
        };
        if scale > MAX_SCALE {
            return Err("more than 28 digits after the point");
        }
        if mantissa > MAX_MANTISSA {
            return Err(too_big);
        }
        // Keep the scale the text was written with (`1.50` stays 1.50)
        // when that fits too.
        let written = written_scale(value);
        if written > scale && written <= MAX_SCALE {
            let wider = 10u128
                .checked_pow(written - scale)
                .and_then(|f| mantissa.checked_mul(f))
                .filter(|m| *m <= MAX_MANTISSA);
            if let Some(wider) = wider {
                mantissa = wider;
                scale = written;
            }
        }
        Ok((mantissa, scale))
    }

    impl TryFrom<&Decimal> for rust_decimal::Decimal {
        type Error = DecimalRangeError;

        /// The same value, with the scale the text was written with when it
        /// fits; an error (never rounding) for more than 28 digits after the
        /// point or more than 96 bits.
        ///
        /// ```
        /// use tradecloud::types::Decimal;
        ///
        /// let price: Decimal = "12.50".parse()?;
        /// let exact = rust_decimal::Decimal::try_from(&price)?;
        /// assert_eq!(exact.to_string(), "12.50");
        /// let sum: rust_decimal::Decimal = [exact, exact].iter().sum();
        /// assert_eq!(Decimal::from(sum), "25.0".parse::<Decimal>()?);
        ///
        /// let too_fine: Decimal = "0.12345678901234567890123456789".parse()?;
        /// assert!(rust_decimal::Decimal::try_from(&too_fine).is_err());
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        fn try_from(value: &Decimal) -> Result<Self, Self::Error> {
            let (mantissa, scale) =
                parts(value).map_err(|reason| DecimalRangeError::new(value, TARGET, reason))?;
            let signed = i128::try_from(mantissa)
                .map_err(|_| DecimalRangeError::new(value, TARGET, "more than 96 bits"))?;
            let signed = if value.is_negative() { -signed } else { signed };
            rust_decimal::Decimal::try_from_i128_with_scale(signed, scale)
                .map_err(|_| DecimalRangeError::new(value, TARGET, "out of range"))
        }
    }

    impl TryFrom<Decimal> for rust_decimal::Decimal {
        type Error = DecimalRangeError;

        /// See `TryFrom<&Decimal>`.
        fn try_from(value: Decimal) -> Result<Self, Self::Error> {
            Self::try_from(&value)
        }
    }

    impl From<rust_decimal::Decimal> for Decimal {
        /// The same value, written as rust_decimal writes it (`12.50`).
        fn from(value: rust_decimal::Decimal) -> Self {
            from_plain_text(value.to_string())
        }
    }
}

#[cfg(feature = "bigdecimal")]
mod bigdecimal_impl {
    use std::str::FromStr as _;

    use super::{from_plain_text, Decimal, DecimalRangeError};

    impl TryFrom<&Decimal> for bigdecimal::BigDecimal {
        type Error = DecimalRangeError;

        /// The same value, any number of digits; an error only for an
        /// exponent beyond BigDecimal's (an `i64` scale).
        ///
        /// ```
        /// use tradecloud::types::Decimal;
        ///
        /// let quantity: Decimal = "12345678901234567890.123456789012345678901".parse()?;
        /// let big = bigdecimal::BigDecimal::try_from(&quantity)?;
        /// assert_eq!(Decimal::from(&(&big + &big)), "24691357802469135780.246913578024691357802".parse::<Decimal>()?);
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        fn try_from(value: &Decimal) -> Result<Self, Self::Error> {
            bigdecimal::BigDecimal::from_str(value.as_str()).map_err(|_| {
                DecimalRangeError::new(value, "bigdecimal::BigDecimal", "exponent out of range")
            })
        }
    }

    impl From<&bigdecimal::BigDecimal> for Decimal {
        /// The same value, in scientific notation when BigDecimal writes it
        /// so (`1.5e+30`).
        fn from(value: &bigdecimal::BigDecimal) -> Self {
            from_plain_text(value.to_string())
        }
    }

    impl From<bigdecimal::BigDecimal> for Decimal {
        /// See `From<&BigDecimal>`.
        fn from(value: bigdecimal::BigDecimal) -> Self {
            Decimal::from(&value)
        }
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)]
    use super::*;

    #[cfg(feature = "rust_decimal")]
    #[test]
    fn rust_decimal_conversions_are_exact_or_refused() {
        let cases = [
            ("0", "0"),
            ("-0", "0"),
            ("12.50", "12.50"),
            ("-1.5e-3", "-0.0015"),
            ("15e1", "150"),
            ("1.5E+3", "1500"),
            (
                "79228162514264337593543950335",
                "79228162514264337593543950335",
            ),
            (
                "0.0000000000000000000000000001",
                "0.0000000000000000000000000001",
            ),
            // Trailing zeros beyond 28 places are dropped, not rounded.
            ("1.000000000000000000000000000000", "1"),
        ];
        for (text, expected) in cases {
            let decimal: Decimal = text.parse().unwrap();
            let converted = rust_decimal::Decimal::try_from(&decimal).unwrap();
            assert_eq!(converted.to_string(), expected, "{text}");
            let back = Decimal::from(converted);
            assert_eq!(back, decimal, "{text} round trip by value");
        }
        for text in [
            "79228162514264337593543950336",
            "0.00000000000000000000000000001",
            "1.23456789012345678901234567891",
            "1e40",
            "1e-9223372036854775807",
        ] {
            let decimal: Decimal = text.parse().unwrap();
            let error = rust_decimal::Decimal::try_from(&decimal).unwrap_err();
            assert_eq!(error.input(), text);
            assert!(error.to_string().contains("without rounding"), "{error}");
        }
    }

    #[cfg(feature = "bigdecimal")]
    #[test]
    fn bigdecimal_conversions_keep_every_digit() {
        for text in [
            "0",
            "-12.50",
            "1.5e-3",
            "123456789012345678901234567890.000000000000001",
            "1e300",
        ] {
            let decimal: Decimal = text.parse().unwrap();
            let big = bigdecimal::BigDecimal::try_from(&decimal).unwrap();
            assert_eq!(Decimal::from(&big), decimal, "{text}");
        }
        let huge: Decimal = "0.1e-9223372036854775807".parse().unwrap();
        assert!(bigdecimal::BigDecimal::try_from(&huge).is_err());
    }
}
