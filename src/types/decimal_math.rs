//! Exact arithmetic on [`Decimal`]: `+`, `-`, `*`, [`Sum`], negation, and
//! division and rounding to an explicit scale with an explicit
//! [`Rounding`].
//!
//! A value is taken apart into a big-integer mantissa and a scale
//! (`value = mantissa × 10^-scale`, read off the text: `12.50` is `1250`
//! and 2, `1.5e3` is `15` and -2), computed on with `num-bigint`, and
//! written back as text. Nothing goes through a float or a fixed-width
//! integer, so the result is exact for any number of digits. As with SQL's
//! `NUMERIC` and Java's `BigDecimal`, a sum keeps the larger scale of its
//! operands (`1.50 + 2 = 3.50`) and a product the sum of their scales
//! (`1.5 × 2.25 = 3.375`, `10.00 × 3 = 30.00`).
//!
//! The one limit: adding numbers whose scales lie more than a million
//! digits apart (`1e1000000 + 1`) would need that many digits written out.
//! The `checked_*` methods return `None` there; the operators panic with a
//! message, like integer overflow. No value Tradecloud sends comes near it.

use std::cmp::Ordering;
use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use num_bigint::{BigInt, BigUint, Sign};

use super::decimal::Decimal;

/// How far apart (in digits) the scales of two operands may lie, or how
/// many zeros a division or rounding may append: a million digits, about
/// a megabyte of text.
const MAX_PADDING: u64 = 1_000_000;

/// Scales up to this far from zero are written out in full (`0.000001`,
/// `2000`); beyond it the text uses an exponent (`1e-40`, `2e40`).
pub(super) const PLAIN_ZEROS: u64 = 32;

/// How to round a result that has more digits than its scale allows (the
/// modes of Java's `RoundingMode` and IEEE 754).
///
/// | value | `Down` | `Up` | `Floor` | `Ceiling` | `HalfUp` | `HalfDown` | `HalfEven` |
/// | --- | --- | --- | --- | --- | --- | --- | --- |
/// | `2.5` | 2 | 3 | 2 | 3 | 3 | 2 | 2 |
/// | `3.5` | 3 | 4 | 3 | 4 | 4 | 3 | 4 |
/// | `-2.5` | -2 | -3 | -3 | -2 | -3 | -2 | -2 |
/// | `2.6` | 2 | 3 | 2 | 3 | 3 | 3 | 3 |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// Toward zero (truncate).
    Down,
    /// Away from zero.
    Up,
    /// Toward negative infinity.
    Floor,
    /// Toward positive infinity.
    Ceiling,
    /// To the nearest; a tie away from zero (commercial rounding).
    HalfUp,
    /// To the nearest; a tie toward zero.
    HalfDown,
    /// To the nearest; a tie to the even neighbour (banker's rounding).
    HalfEven,
}

/// `value = mantissa × 10^-scale`, as written.
pub(super) struct Parts {
    mantissa: BigInt,
    scale: i128,
}

impl Parts {
    /// `mantissa × 10^-scale` (see [`Decimal::new`]).
    pub(super) fn new(mantissa: i64, scale: u32) -> Parts {
        Parts {
            mantissa: BigInt::from(mantissa),
            scale: i128::from(scale),
        }
    }

    /// Reads the parts off a decimal's validated text.
    fn of(value: &Decimal) -> Parts {
        let text = value.as_str();
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (number, exponent) = match unsigned.split_once(['e', 'E']) {
            Some((number, exponent)) => (number, exponent),
            None => (unsigned, "0"),
        };
        let (integer, fraction) = number.split_once('.').unwrap_or((number, ""));
        // The grammar guarantees digits and an exponent that fits an i64.
        let exponent: i128 = exponent.parse::<i64>().map_or(0, i128::from);
        let digits: Vec<u8> = integer.bytes().chain(fraction.bytes()).collect();
        let magnitude = BigUint::parse_bytes(&digits, 10).unwrap_or_default();
        let sign = if negative { Sign::Minus } else { Sign::Plus };
        Parts {
            mantissa: BigInt::from_biguint(sign, magnitude),
            scale: fraction.len() as i128 - exponent,
        }
    }

    /// The text of the value, keeping the scale: the digits with a point
    /// `scale` places from the right (`1250`, 2 → `12.50`; `0`, 2 → `0.00`;
    /// `-5`, 3 → `-0.005`), or trailing zeros for a negative scale (`15`,
    /// -2 → `1500`); an exponent instead when that would take more than
    /// [`PLAIN_ZEROS`] zeros (`7`, 40 → `7e-40`). Zero is never negative,
    /// and zero with a negative scale is `0`.
    ///
    /// The grammar takes the text whenever the exponent, if written, fits
    /// an `i64`: always for a scale that fits one.
    pub(super) fn text(&self) -> String {
        let digits = self.mantissa.magnitude().to_str_radix(10);
        let sign = if self.mantissa.sign() == Sign::Minus {
            "-"
        } else {
            ""
        };
        let scale = self.scale;
        let len = digits.len() as i128;
        if scale <= 0 {
            if scale.unsigned_abs() <= u128::from(PLAIN_ZEROS) || digits == "0" {
                let zeros = if digits == "0" {
                    0
                } else {
                    scale.unsigned_abs() as usize
                };
                format!("{sign}{digits}{}", "0".repeat(zeros))
            } else {
                format!("{sign}{digits}e{}", scale.unsigned_abs())
            }
        } else if scale - len <= i128::from(PLAIN_ZEROS) {
            if len > scale {
                let (integer, fraction) = digits.split_at((len - scale) as usize);
                format!("{sign}{integer}.{fraction}")
            } else {
                let zeros = "0".repeat((scale - len) as usize);
                format!("{sign}0.{zeros}{digits}")
            }
        } else {
            format!("{sign}{digits}e-{scale}")
        }
    }

    /// Writes the parts as a decimal ([`text`](Self::text)); `None` when
    /// the exponent would not fit the grammar's `i64`.
    fn into_decimal(self) -> Option<Decimal> {
        Decimal::from_text(self.text()).ok()
    }
}

/// `10^n`, when `n` is within [`MAX_PADDING`].
fn pow10(n: u128) -> Option<BigInt> {
    if n > u128::from(MAX_PADDING) {
        return None;
    }
    Some(BigInt::from(10u32).pow(u32::try_from(n).ok()?))
}

/// The two operands at the larger of their scales.
fn aligned(a: &Decimal, b: &Decimal) -> Option<(BigInt, BigInt, i128)> {
    let (a, b) = (Parts::of(a), Parts::of(b));
    match a.scale.cmp(&b.scale) {
        Ordering::Equal => Some((a.mantissa, b.mantissa, a.scale)),
        Ordering::Less => {
            let factor = pow10(b.scale.abs_diff(a.scale))?;
            Some((a.mantissa * factor, b.mantissa, b.scale))
        }
        Ordering::Greater => {
            let factor = pow10(a.scale.abs_diff(b.scale))?;
            Some((a.mantissa, b.mantissa * factor, a.scale))
        }
    }
}

/// `numerator / denominator` rounded to an integer by `rounding`.
/// `denominator` is not zero.
fn divide(numerator: &BigInt, denominator: &BigInt, rounding: Rounding) -> BigInt {
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if remainder.sign() == Sign::NoSign {
        return quotient;
    }
    let negative = (numerator.sign() == Sign::Minus) != (denominator.sign() == Sign::Minus);
    let half = || (remainder.magnitude() * 2u32).cmp(denominator.magnitude());
    let away = match rounding {
        Rounding::Down => false,
        Rounding::Up => true,
        Rounding::Floor => negative,
        Rounding::Ceiling => !negative,
        Rounding::HalfUp => half() != Ordering::Less,
        Rounding::HalfDown => half() == Ordering::Greater,
        Rounding::HalfEven => match half() {
            Ordering::Less => false,
            Ordering::Greater => true,
            Ordering::Equal => quotient.magnitude().bit(0),
        },
    };
    match (away, negative) {
        (false, _) => quotient,
        (true, false) => quotient + 1u32,
        (true, true) => quotient - 1u32,
    }
}

impl Decimal {
    /// `self + other`, exactly; the scale of the result is the larger of
    /// the two. `None` only when the scales lie more than a million digits
    /// apart (see [Arithmetic](Decimal#arithmetic)).
    ///
    /// ```
    /// use tradecloud::types::Decimal;
    ///
    /// let a: Decimal = "12345678901234567890.0000000001".parse()?;
    /// let b: Decimal = "0.0000000009".parse()?;
    /// assert_eq!(a.checked_add(&b).unwrap().as_str(), "12345678901234567890.0000000010");
    /// assert_eq!("1e1000001".parse::<Decimal>()?.checked_add(&"1".parse()?), None);
    /// # Ok::<(), tradecloud::types::DecimalError>(())
    /// ```
    pub fn checked_add(&self, other: &Decimal) -> Option<Decimal> {
        let (a, b, scale) = aligned(self, other)?;
        Parts {
            mantissa: a + b,
            scale,
        }
        .into_decimal()
    }

    /// `self - other`, exactly (see [`checked_add`](Self::checked_add)).
    pub fn checked_sub(&self, other: &Decimal) -> Option<Decimal> {
        let (a, b, scale) = aligned(self, other)?;
        Parts {
            mantissa: a - b,
            scale,
        }
        .into_decimal()
    }

    /// `self × other`, exactly; the scale of the result is the sum of the
    /// two. `None` only when its exponent would not fit an `i64`.
    ///
    /// ```
    /// use tradecloud::types::Decimal;
    ///
    /// let quantity: Decimal = "12345678901234.567890".parse()?;
    /// let price: Decimal = "0.10".parse()?;
    /// assert_eq!(quantity.checked_mul(&price).unwrap().as_str(), "1234567890123.45678900");
    /// # Ok::<(), tradecloud::types::DecimalError>(())
    /// ```
    pub fn checked_mul(&self, other: &Decimal) -> Option<Decimal> {
        let (a, b) = (Parts::of(self), Parts::of(other));
        Parts {
            mantissa: a.mantissa * b.mantissa,
            scale: a.scale + b.scale,
        }
        .into_decimal()
    }

    /// `self ÷ divisor` with exactly `scale` digits after the point,
    /// rounded by `rounding`: one rounding, of the exact quotient. `None`
    /// when `divisor` is zero (or, as for [`checked_add`](Self::checked_add),
    /// when the operands' scales lie more than a million digits apart).
    ///
    /// ```
    /// use tradecloud::types::{Decimal, Rounding};
    ///
    /// let price: Decimal = "10".parse()?;
    /// let per: Decimal = "3".parse()?;
    /// assert_eq!(price.div_rounded(&per, 4, Rounding::HalfEven).unwrap().as_str(), "3.3333");
    /// assert_eq!(price.div_rounded(&per, 0, Rounding::Up).unwrap().as_str(), "4");
    /// assert_eq!(price.div_rounded(&"0".parse()?, 2, Rounding::HalfUp), None);
    /// # Ok::<(), tradecloud::types::DecimalError>(())
    /// ```
    pub fn div_rounded(
        &self,
        divisor: &Decimal,
        scale: u32,
        rounding: Rounding,
    ) -> Option<Decimal> {
        if divisor.is_zero() {
            return None;
        }
        let (a, b) = (Parts::of(self), Parts::of(divisor));
        // self / divisor × 10^scale = a.m × 10^(b.s − a.s + scale) / b.m
        let shift = b.scale - a.scale + i128::from(scale);
        let (numerator, denominator) = if shift >= 0 {
            (a.mantissa * pow10(shift.unsigned_abs())?, b.mantissa)
        } else {
            (a.mantissa, b.mantissa * pow10(shift.unsigned_abs())?)
        };
        Parts {
            mantissa: divide(&numerator, &denominator, rounding),
            scale: i128::from(scale),
        }
        .into_decimal()
    }

    /// The value with exactly `scale` digits after the point: rounded by
    /// `rounding` when it has more, padded with zeros when it has fewer.
    ///
    /// ```
    /// use tradecloud::types::{Decimal, Rounding};
    ///
    /// let amount: Decimal = "1234.565".parse()?;
    /// assert_eq!(amount.round(2, Rounding::HalfEven).as_str(), "1234.56");
    /// assert_eq!(amount.round(2, Rounding::HalfUp).as_str(), "1234.57");
    /// assert_eq!("7".parse::<Decimal>()?.round(2, Rounding::HalfUp).as_str(), "7.00");
    /// assert_eq!("-0.004".parse::<Decimal>()?.round(2, Rounding::Floor).as_str(), "-0.01");
    /// # Ok::<(), tradecloud::types::DecimalError>(())
    /// ```
    ///
    /// # Panics
    ///
    /// When padding would need more than a million zeros (a value written
    /// with an exponent of more than a million, such as `1e2000000`, rounded
    /// to a scale above zero).
    pub fn round(&self, scale: u32, rounding: Rounding) -> Decimal {
        let parts = Parts::of(self);
        let target = i128::from(scale);
        let mantissa = if parts.scale <= target {
            pow10(parts.scale.abs_diff(target)).map(|factor| parts.mantissa * factor)
        } else {
            let cut = parts.scale.abs_diff(target);
            // At least the number of digits of the mantissa (log10(2) < 0.31).
            let digits = u128::from(parts.mantissa.magnitude().bits()) * 31 / 100 + 1;
            if cut > digits + 1 {
                // |value| < 10^-(scale+1): the quotient is 0 and the
                // remainder less than half the divisor, as for ±1/10.
                let tiny = match parts.mantissa.sign() {
                    Sign::Minus => BigInt::from(-1),
                    Sign::NoSign => BigInt::from(0),
                    Sign::Plus => BigInt::from(1),
                };
                Some(divide(&tiny, &BigInt::from(10u32), rounding))
            } else {
                pow10(cut).map(|divisor| divide(&parts.mantissa, &divisor, rounding))
            }
        };
        mantissa
            .and_then(|mantissa| {
                Parts {
                    mantissa,
                    scale: target,
                }
                .into_decimal()
            })
            .unwrap_or_else(|| too_large("round", self, None))
    }

    /// The number of digits after the point as written (`12.50` → 2,
    /// `7` → 0, `1.5e3` → -2).
    pub fn scale(&self) -> i128 {
        Parts::of(self).scale
    }
}

/// The panic of the operators when the exact result is out of reach.
fn too_large(op: &str, a: &Decimal, b: Option<&Decimal>) -> ! {
    let b = b.map(|b| format!(" and {b}")).unwrap_or_default();
    panic!(
        "decimal {op} of {a}{b}: the exact result needs more than a million digits written \
         out; use the checked_* methods to handle it"
    )
}

macro_rules! operator {
    ($trait:ident, $method:ident, $checked:ident, $name:literal, $assign:ident, $assign_method:ident) => {
        impl $trait<&Decimal> for &Decimal {
            type Output = Decimal;

            /// Exact; see [Arithmetic](Decimal#arithmetic).
            ///
            /// # Panics
            ///
            /// When the exact result is out of reach (the `checked_` method
            /// returns `None`).
            fn $method(self, other: &Decimal) -> Decimal {
                self.$checked(other)
                    .unwrap_or_else(|| too_large($name, self, Some(other)))
            }
        }

        impl $trait<Decimal> for Decimal {
            type Output = Decimal;

            fn $method(self, other: Decimal) -> Decimal {
                (&self).$method(&other)
            }
        }

        impl $trait<&Decimal> for Decimal {
            type Output = Decimal;

            fn $method(self, other: &Decimal) -> Decimal {
                (&self).$method(other)
            }
        }

        impl $trait<Decimal> for &Decimal {
            type Output = Decimal;

            fn $method(self, other: Decimal) -> Decimal {
                self.$method(&other)
            }
        }

        impl $assign<&Decimal> for Decimal {
            fn $assign_method(&mut self, other: &Decimal) {
                *self = (&*self).$method(other);
            }
        }

        impl $assign<Decimal> for Decimal {
            fn $assign_method(&mut self, other: Decimal) {
                *self = (&*self).$method(&other);
            }
        }
    };
}

operator!(Add, add, checked_add, "sum", AddAssign, add_assign);
operator!(Sub, sub, checked_sub, "difference", SubAssign, sub_assign);
operator!(Mul, mul, checked_mul, "product", MulAssign, mul_assign);

impl Neg for &Decimal {
    type Output = Decimal;

    /// The same digits with the other sign (zero stays zero).
    fn neg(self) -> Decimal {
        let text = match self.as_str().strip_prefix('-') {
            Some(positive) => positive.to_owned(),
            None if self.is_zero() => self.as_str().to_owned(),
            None => format!("-{}", self.as_str()),
        };
        // Adding or removing a leading `-` keeps the grammar.
        Decimal::from_text(text).unwrap_or_else(|_| self.clone())
    }
}

impl Neg for Decimal {
    type Output = Decimal;

    fn neg(self) -> Decimal {
        -&self
    }
}

impl<'a> Sum<&'a Decimal> for Decimal {
    /// The exact sum (`0` for none), with the largest scale of the terms.
    ///
    /// ```
    /// use tradecloud::types::Decimal;
    ///
    /// let quantities: Vec<Decimal> = ["0.1", "0.2", "99999999999999999999.700"]
    ///     .iter()
    ///     .map(|q| q.parse())
    ///     .collect::<Result<_, _>>()?;
    /// let total: Decimal = quantities.iter().sum();
    /// assert_eq!(total.as_str(), "100000000000000000000.000");
    /// # Ok::<(), tradecloud::types::DecimalError>(())
    /// ```
    fn sum<I: Iterator<Item = &'a Decimal>>(iter: I) -> Decimal {
        iter.fold(Decimal::from(0), |total, term| total + term)
    }
}

impl Sum<Decimal> for Decimal {
    /// The exact sum (`0` for none).
    fn sum<I: Iterator<Item = Decimal>>(iter: I) -> Decimal {
        iter.fold(Decimal::from(0), |total, term| total + term)
    }
}

impl fmt::Display for Rounding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn new_writes_text_the_grammar_takes_back_at_every_scale() {
        for mantissa in [0, 1, -1, 7, 1250, -12345, i64::MAX, i64::MIN] {
            for scale in [0, 1, 2, 5, 19, 20, 32, 51, 52, 53, 400, u32::MAX] {
                let made = Decimal::new(mantissa, scale);
                let back = d(made.as_str());
                assert_eq!(back, made, "{mantissa} {scale}: {made}");
                // The value: mantissa × 10^-scale.
                let expected = Parts {
                    mantissa: BigInt::from(mantissa),
                    scale: i128::from(scale),
                }
                .into_decimal()
                .unwrap();
                assert_eq!(made, expected, "{mantissa} {scale}");
            }
        }
        assert_eq!(Decimal::new(0, 2).as_str(), "0.00");
        assert_eq!(Decimal::new(i64::MIN, 2).as_str(), "-92233720368547758.08");
    }

    #[test]
    fn new_keeps_the_written_scale() {
        let zeros = "0".repeat(32);
        let cases = [
            (0, 0, "0".to_owned()),
            (0, 2, "0.00".to_owned()),
            (0, 33, format!("0.{zeros}0")),
            (0, 34, "0e-34".to_owned()),
            (-5, 3, "-0.005".to_owned()),
            (-1250, 2, "-12.50".to_owned()),
            (-1, 0, "-1".to_owned()),
            (7, 33, format!("0.{zeros}7")),
            (12, 34, format!("0.{zeros}12")),
            (7, 34, "7e-34".to_owned()),
            (-7, 40, "-7e-40".to_owned()),
            (1, u32::MAX, "1e-4294967295".to_owned()),
            (i64::MAX, 19, "0.9223372036854775807".to_owned()),
            (i64::MIN, 0, "-9223372036854775808".to_owned()),
        ];
        for (mantissa, scale, text) in cases {
            let made = Decimal::new(mantissa, scale);
            assert_eq!(made.as_str(), text, "{mantissa} {scale}");
            assert_eq!(made.scale(), i128::from(scale), "{mantissa} {scale}");
            assert_eq!(
                Parts::new(mantissa, scale).into_decimal().as_ref(),
                Some(&made)
            );
        }
    }

    #[test]
    fn into_decimal_refuses_only_an_exponent_beyond_i64() {
        let parts = |mantissa: i64, scale: i128| Parts {
            mantissa: BigInt::from(mantissa),
            scale,
        };
        let max = i128::from(i64::MAX);
        assert_eq!(parts(1, max).into_decimal().map(|d| d.scale()), Some(max));
        assert_eq!(
            parts(-3, -max).into_decimal().map(|d| d.scale()),
            Some(-max)
        );
        assert_eq!(parts(1, max + 2).into_decimal(), None);
        assert_eq!(parts(1, -max - 1).into_decimal(), None);
        // Zero needs no exponent for a negative scale.
        assert_eq!(parts(0, -max - 1).into_decimal().unwrap().as_str(), "0");
    }

    #[test]
    fn sums_keep_every_digit_and_the_larger_scale() {
        assert_eq!((d("1.50") + d("2")).as_str(), "3.50");
        assert_eq!((d("0.1") + d("0.2")).as_str(), "0.3");
        assert_eq!((d("-1.25") + d("1.25")).as_str(), "0.00");
        assert_eq!((d("1e3") + d("1")).as_str(), "1001");
        assert_eq!((d("1.5e-3") - d("0.0015")).as_str(), "0.0000");
        let big = "9".repeat(200);
        assert_eq!((d(&big) + d("1")).as_str(), format!("1{}", "0".repeat(200)));
        assert_eq!((d("-0.5") - d("0.25")).as_str(), "-0.75");
        assert_eq!(d("1e1000001").checked_add(&d("1")), None);
        assert!(d("1e99999").checked_add(&d("1")).is_some());
    }

    #[test]
    fn products_add_their_scales() {
        assert_eq!((d("10.00") * d("3")).as_str(), "30.00");
        assert_eq!((d("-1.5") * d("2.25")).as_str(), "-3.375");
        assert_eq!((d("1e3") * d("2")).as_str(), "2000");
        assert_eq!((d("1e40") * d("2")).as_str(), "2e40");
        assert_eq!((d("1e-40") * d("3")).as_str(), "3e-40");
        assert_eq!((d("0") * d("-5")).as_str(), "0");
        assert_eq!(
            d("1e9000000000000000000").checked_mul(&d("1e9000000000000000000")),
            None
        );
        let product = d("123456789012345678901234567890") * d("987654321098765432109876543210");
        assert_eq!(
            product.as_str(),
            "121932631137021795226185032733622923332237463801111263526900"
        );
    }

    #[test]
    fn division_rounds_once_by_the_mode() {
        let modes = [
            Rounding::Down,
            Rounding::Up,
            Rounding::Floor,
            Rounding::Ceiling,
            Rounding::HalfUp,
            Rounding::HalfDown,
            Rounding::HalfEven,
        ];
        // The table of `Rounding`'s documentation.
        let table = [
            ("2.5", ["2", "3", "2", "3", "3", "2", "2"]),
            ("3.5", ["3", "4", "3", "4", "4", "3", "4"]),
            ("-2.5", ["-2", "-3", "-3", "-2", "-3", "-2", "-2"]),
            ("2.6", ["2", "3", "2", "3", "3", "3", "3"]),
        ];
        for (value, expected) in table {
            for (mode, expected) in modes.iter().zip(expected) {
                assert_eq!(
                    d(value).round(0, *mode).as_str(),
                    expected,
                    "{value} {mode}"
                );
                assert_eq!(
                    d(value).div_rounded(&d("1"), 0, *mode).unwrap().as_str(),
                    expected,
                    "{value} / 1 {mode}"
                );
            }
        }
        assert_eq!(
            d("10")
                .div_rounded(&d("3"), 4, Rounding::HalfEven)
                .unwrap()
                .as_str(),
            "3.3333"
        );
        assert_eq!(
            d("-10")
                .div_rounded(&d("3"), 2, Rounding::Floor)
                .unwrap()
                .as_str(),
            "-3.34"
        );
        assert_eq!(
            d("1")
                .div_rounded(&d("-8"), 3, Rounding::Down)
                .unwrap()
                .as_str(),
            "-0.125"
        );
        assert_eq!(
            d("12.50")
                .div_rounded(&d("100"), 4, Rounding::HalfUp)
                .unwrap()
                .as_str(),
            "0.1250"
        );
        assert_eq!(
            d("1e-3")
                .div_rounded(&d("2e2"), 6, Rounding::HalfUp)
                .unwrap()
                .as_str(),
            "0.000005"
        );
        assert_eq!(d("1").div_rounded(&d("0.000"), 2, Rounding::HalfUp), None);
    }

    #[test]
    fn rounding_far_below_the_scale_needs_no_big_numbers() {
        assert_eq!(d("1e-2000000").round(2, Rounding::Up).as_str(), "0.01");
        assert_eq!(d("-1e-2000000").round(2, Rounding::Floor).as_str(), "-0.01");
        assert_eq!(d("1e-2000000").round(2, Rounding::HalfUp).as_str(), "0.00");
        assert_eq!(d("-1e-2000000").round(0, Rounding::Ceiling).as_str(), "0");
        assert_eq!(d("123.456").round(5, Rounding::Down).as_str(), "123.45600");
    }

    #[test]
    fn negation_and_sums() {
        assert_eq!((-d("1.50")).as_str(), "-1.50");
        assert_eq!((-d("-2")).as_str(), "2");
        assert_eq!((-d("0.0")).as_str(), "0.0");
        let none: Vec<Decimal> = Vec::new();
        assert_eq!(none.iter().sum::<Decimal>().as_str(), "0");
        let total: Decimal = ["1.1", "2.22", "-0.333"].iter().map(|t| d(t)).sum();
        assert_eq!(total.as_str(), "2.987");
        let mut running = d("1");
        running += d("0.5");
        running -= &d("0.25");
        running *= d("4");
        assert_eq!(running.as_str(), "5.00");
        assert_eq!(d("1.5e3").scale(), -2);
        assert_eq!(d("12.50").scale(), 2);
    }

    /// Against i128 arithmetic on random values that fit it.
    #[test]
    fn agrees_with_integer_arithmetic() {
        let mut rng = fastrand_free::Rng(0x5eed);
        for _ in 0..2000 {
            let (a, sa) = (rng.int(), rng.scale());
            let (b, sb) = (rng.int(), rng.scale());
            let text = |m: i128, s: u32| {
                Parts {
                    mantissa: BigInt::from(m),
                    scale: i128::from(s),
                }
                .into_decimal()
                .unwrap()
            };
            let (x, y) = (text(a, sa), text(b, sb));
            let scale = sa.max(sb);
            let align = |m: i128, s: u32| m * 10i128.pow(scale - s);
            assert_eq!(
                x.clone() + &y,
                text(align(a, sa) + align(b, sb), scale),
                "{x} + {y}"
            );
            assert_eq!(
                x.clone() - &y,
                text(align(a, sa) - align(b, sb), scale),
                "{x} - {y}"
            );
            assert_eq!(&x * &y, text(a * b, sa + sb), "{x} * {y}");
        }
    }

    /// A tiny deterministic generator, so the test needs no dependency.
    mod fastrand_free {
        pub struct Rng(pub u64);

        impl Rng {
            fn next(&mut self) -> u64 {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                self.0
            }

            pub fn int(&mut self) -> i128 {
                let magnitude = i128::from(self.next() % 1_000_000_000_000);
                if self.next() & 1 == 0 {
                    magnitude
                } else {
                    -magnitude
                }
            }

            pub fn scale(&mut self) -> u32 {
                (self.next() % 8) as u32
            }
        }
    }
}
