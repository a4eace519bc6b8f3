//! [`Decimal`]: an exact decimal number that keeps the text it was given.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, Serializer};

use super::decimal_math::Parts;
use super::ShownInput;

/// Name under which `serde_json` (with its `arbitrary_precision` feature)
/// passes a number through serde's data model: a one-entry map/struct whose
/// key is this token and whose value is the number's text.
const JSON_NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// An exact decimal number that keeps the text it was given.
///
/// Tradecloud sends quantities and prices as decimals "with any number of
/// digits". `Decimal` stores the digits exactly as received and never goes
/// through a floating-point type, so a value read from Tradecloud is written
/// back unchanged.
///
/// # Accepted text
///
/// `-?DIGITS[.DIGITS][(e|E)[+|-]DIGITS]`, i.e. the JSON number grammar, except
/// that leading zeros in the integer part (`"0012.50"`) are tolerated because
/// they occur in XML bodies and quoted numbers. A leading `+`, surrounding
/// whitespace, `.5`, `5.`, `NaN` and `Infinity` are rejected. The exponent must
/// fit in an `i64`.
///
/// # Text versus value
///
/// [`Display`](fmt::Display), [`as_str`](Decimal::as_str) and serialisation
/// give back the verbatim text (see [`Serialize`](#impl-Serialize-for-Decimal)
/// for the one exception). Equality, ordering and hashing are by *numeric
/// value*, computed exactly on the digits: `1.50 == 1.5`, `1e2 == 100`,
/// `-0 == 0`.
///
/// # Arithmetic
///
/// `+`, `-`, `*`, `+=` and friends, unary `-` and [`Sum`](std::iter::Sum)
/// are exact for any number of digits: a value is taken apart into a
/// big-integer mantissa and a scale (`12.50` is 1250 and 2, `1.5e3` is 15
/// and -2), computed on, and written back as text; nothing goes through a
/// float or a fixed-width integer. As with SQL's `NUMERIC` and Java's
/// `BigDecimal`, a sum keeps the larger scale of its operands (`1.50 + 2 =
/// 3.50`) and a product the sum of their scales (`10.00 × 3 = 30.00`).
/// Division ([`div_rounded`](Decimal::div_rounded)) and
/// [`round`](Decimal::round) take an explicit scale and
/// [`Rounding`](super::Rounding).
///
/// The one limit: adding numbers whose scales lie more than a million
/// digits apart (`1e1000000 + 1`) would need that many digits written out;
/// [`checked_add`](Decimal::checked_add) and friends return `None` there,
/// the operators panic with a message (like integer overflow). No value
/// Tradecloud sends comes near it.
///
/// ```
/// use tradecloud::types::{Decimal, Rounding};
///
/// let quantities: Vec<Decimal> = vec!["0.1".parse()?, "0.2".parse()?, "12345678901234567890.7".parse()?];
/// let total: Decimal = quantities.iter().sum();
/// assert_eq!(total.as_str(), "12345678901234567891.0");
/// let price: Decimal = "3.99".parse()?;
/// assert_eq!((&total * &price).as_str(), "49259258815925925885.090");
/// let per_unit = price.div_rounded(&"3".parse()?, 4, Rounding::HalfEven).expect("not zero");
/// assert_eq!(per_unit.as_str(), "1.3300");
/// # Ok::<(), tradecloud::types::DecimalError>(())
/// ```
///
/// # Serde
///
/// * Deserialises from a JSON number with every digit preserved (this needs
///   `serde_json`'s `arbitrary_precision` feature, which this crate enables),
///   from a string containing a decimal (XML bodies, quoted numbers), and from
///   plain integers and floats of other formats.
/// * Serialises as a JSON number carrying the exact text.
///
/// # Example
///
/// ```
/// use tradecloud::types::Decimal;
///
/// let price: Decimal = "12345678901234.567890123".parse()?;
/// assert_eq!(price.as_str(), "12345678901234.567890123");
/// assert_eq!(price, "12345678901234.5678901230".parse()?);
/// assert!(price > Decimal::from(12_345_678_901_234_i64));
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Line {
///     quantity: Decimal,
/// }
///
/// let json = r#"{"quantity":12345678901234.567890123456789}"#;
/// let line: Line = serde_json::from_str(json)?;
/// assert_eq!(line.quantity.as_str(), "12345678901234.567890123456789");
/// assert_eq!(serde_json::to_string(&line)?, json);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Decimal {
    /// The text exactly as received (validated). The numeric value that
    /// equality, ordering and hashing use is read from it when needed
    /// ([`Decimal::normal`]), so a decimal is one allocation and as small as
    /// a `String`: the generated types hold decimals inline, and serde moves
    /// those by value while decoding.
    text: String,
}

/// Sign of a number; zero has no sign (`-0 == 0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Sign {
    Negative,
    Zero,
    Positive,
}

/// Normalised value of a valid text, borrowed from it: `sign × 0.DIGITS ×
/// 10^exponent`, where `DIGITS` (the `len` digits of `int` then `frac` after
/// the first `skip`) has no leading or trailing zeros. For zero, `DIGITS` is
/// empty and `exponent` is 0, so two values are equal exactly when their
/// normal forms are.
#[derive(Clone, Copy)]
pub(super) struct Normal<'a> {
    pub(super) sign: Sign,
    int: &'a [u8],
    frac: &'a [u8],
    skip: usize,
    /// How many significant digits there are.
    pub(super) len: usize,
    pub(super) exponent: i128,
}

impl<'a> Normal<'a> {
    const ZERO: Normal<'static> = Normal {
        sign: Sign::Zero,
        int: &[],
        frac: &[],
        skip: 0,
        len: 0,
        exponent: 0,
    };

    /// The significant digits, as ASCII (`b'0'..=b'9'`).
    pub(super) fn digits(&self) -> impl Iterator<Item = u8> + 'a {
        self.int
            .iter()
            .chain(self.frac.iter())
            .copied()
            .skip(self.skip)
            .take(self.len)
    }

    fn cmp_value(&self, other: &Self) -> Ordering {
        match self.sign.cmp(&other.sign) {
            Ordering::Equal => {}
            unequal => return unequal,
        }
        // Same sign. Compare magnitudes: a larger exponent means a larger
        // magnitude (digits are normalised to start with a non-zero digit);
        // with equal exponents the digit strings compare lexicographically,
        // a proper prefix being smaller (0.12 < 0.123).
        let magnitude = self
            .exponent
            .cmp(&other.exponent)
            .then_with(|| self.digits().cmp(other.digits()));
        match self.sign {
            Sign::Zero => Ordering::Equal,
            Sign::Positive => magnitude,
            Sign::Negative => magnitude.reverse(),
        }
    }
}

/// What was wrong with a decimal's text. Carried by [`DecimalError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecimalErrorKind {
    /// The text was empty.
    #[error("the text is empty")]
    Empty,
    /// The text ended where a digit was required.
    #[error("the text ends where a digit is expected")]
    MissingDigit,
    /// A character was found where it is not allowed.
    #[error("unexpected character {ch:?} at byte offset {index}")]
    UnexpectedCharacter {
        /// The offending character.
        ch: char,
        /// Its byte offset in the input.
        index: usize,
    },
    /// The exponent does not fit in an `i64`.
    #[error("the exponent is out of range")]
    ExponentOutOfRange,
    /// A floating-point input was NaN or infinite.
    #[error("the number is not finite")]
    NotFinite,
}

/// Error returned when text is not a valid [`Decimal`].
///
/// The message quotes the input and says what was wrong, e.g.
/// `invalid decimal "1.2.3": unexpected character '.' at byte offset 3
/// (expected -digits[.digits][e[+|-]digits])`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid decimal {}: {kind} (expected -digits[.digits][e[+|-]digits])",
    ShownInput(.input)
)]
pub struct DecimalError {
    input: String,
    kind: DecimalErrorKind,
}

impl DecimalError {
    fn new(input: impl Into<String>, kind: DecimalErrorKind) -> Self {
        DecimalError {
            input: input.into(),
            kind,
        }
    }

    /// The text that failed to parse.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What was wrong with it.
    pub fn kind(&self) -> DecimalErrorKind {
        self.kind
    }
}

/// Scans `-?DIGITS[.DIGITS][(e|E)[+|-]DIGITS]` and returns the normalised
/// value, without allocating. Only ASCII is ever skipped, so every index used
/// is a char boundary.
fn scan(text: &str) -> Result<Normal<'_>, DecimalErrorKind> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return Err(DecimalErrorKind::Empty);
    }
    let mut pos = 0;

    let negative = bytes.first() == Some(&b'-');
    if negative {
        pos += 1;
    }

    let int_digits = scan_digits(text, &mut pos)?;

    let mut frac_digits: &[u8] = &[];
    if bytes.get(pos) == Some(&b'.') {
        pos += 1;
        frac_digits = scan_digits(text, &mut pos)?;
    }

    let mut exponent: i64 = 0;
    if matches!(bytes.get(pos), Some(b'e' | b'E')) {
        pos += 1;
        let exp_negative = match bytes.get(pos) {
            Some(b'-') => {
                pos += 1;
                true
            }
            Some(b'+') => {
                pos += 1;
                false
            }
            _ => false,
        };
        for &digit in scan_digits(text, &mut pos)? {
            exponent = exponent
                .checked_mul(10)
                .and_then(|e| e.checked_add(i64::from(digit - b'0')))
                .ok_or(DecimalErrorKind::ExponentOutOfRange)?;
        }
        if exp_negative {
            exponent = -exponent;
        }
    }

    if pos != bytes.len() {
        return Err(unexpected_at(text, pos));
    }

    // Normalise: all significant digits, without leading/trailing zeros.
    let all_digits = || int_digits.iter().chain(frac_digits.iter()).copied();
    let total = int_digits.len() + frac_digits.len();
    let leading_zeros = all_digits().take_while(|&d| d == b'0').count();
    if leading_zeros == total {
        return Ok(Normal::ZERO);
    }
    let trailing_zeros = all_digits().rev().take_while(|&d| d == b'0').count();
    // value = 0.DIGITS × 10^(int_len + exponent − leading_zeros). Lengths are
    // bounded by isize::MAX and the exponent by i64, so i128 cannot overflow.
    let exponent = int_digits.len() as i128 + i128::from(exponent) - leading_zeros as i128;
    Ok(Normal {
        sign: if negative {
            Sign::Negative
        } else {
            Sign::Positive
        },
        int: int_digits,
        frac: frac_digits,
        skip: leading_zeros,
        len: total - leading_zeros - trailing_zeros,
        exponent,
    })
}

/// Consumes one or more ASCII digits starting at `*pos`.
fn scan_digits<'a>(text: &'a str, pos: &mut usize) -> Result<&'a [u8], DecimalErrorKind> {
    let bytes = text.as_bytes();
    let start = *pos;
    while bytes.get(*pos).is_some_and(u8::is_ascii_digit) {
        *pos += 1;
    }
    if *pos == start {
        return Err(if start >= bytes.len() {
            DecimalErrorKind::MissingDigit
        } else {
            unexpected_at(text, start)
        });
    }
    Ok(bytes.get(start..*pos).unwrap_or_default())
}

fn unexpected_at(text: &str, index: usize) -> DecimalErrorKind {
    match text.get(index..).and_then(|rest| rest.chars().next()) {
        Some(ch) => DecimalErrorKind::UnexpectedCharacter { ch, index },
        None => DecimalErrorKind::MissingDigit,
    }
}

impl Decimal {
    /// `mantissa × 10^-scale`, exactly and without parsing: `Decimal::new(1250,
    /// 2)` is `12.50` (the convention of `rust_decimal::Decimal::new`). For
    /// the fractional quantities and prices of a request builder, which take
    /// `impl Into<Decimal>`; an integer converts by itself (`.quantity(40)`).
    ///
    /// ```
    /// use tradecloud::types::Decimal;
    ///
    /// assert_eq!(Decimal::new(1250, 2).as_str(), "12.50");
    /// assert_eq!(Decimal::new(-5, 3).as_str(), "-0.005");
    /// assert_eq!(Decimal::new(85, 0), Decimal::from(85));
    /// assert_eq!(Decimal::new(12345, 2), "123.45".parse()?);
    /// // A scale far beyond any price is written with an exponent.
    /// assert_eq!(Decimal::new(7, 40).as_str(), "7e-40");
    /// # Ok::<(), tradecloud::types::DecimalError>(())
    /// ```
    pub fn new(mantissa: i64, scale: u32) -> Decimal {
        // Written as the arithmetic writes its results; a `u32` scale always
        // gives a text the grammar takes.
        Decimal {
            text: Parts::new(mantissa, scale).text(),
        }
    }

    /// Validates an owned text and keeps it without copying.
    pub(super) fn from_text(text: String) -> Result<Self, DecimalError> {
        match scan(&text) {
            Ok(_) => Ok(Decimal { text }),
            Err(kind) => Err(DecimalError::new(text, kind)),
        }
    }

    /// The normalised value, read from the text (validated when the decimal
    /// was made, so the fallback is never taken).
    pub(super) fn normal(&self) -> Normal<'_> {
        scan(&self.text).unwrap_or(Normal::ZERO)
    }

    /// Builds a decimal from an `f64`, using the shortest text that
    /// round-trips to the same `f64` (the rendering `serde_json` itself uses,
    /// e.g. `1.0`, `0.1`, `1e+16`). Fails for NaN and infinities.
    ///
    /// The result is exact for the `f64` given; it cannot recover digits that
    /// were lost when the `f64` was made.
    pub fn from_f64(value: f64) -> Result<Self, DecimalError> {
        match serde_json::Number::from_f64(value) {
            Some(number) => Self::from_text(number.to_string()),
            None => Err(DecimalError::new(
                value.to_string(),
                DecimalErrorKind::NotFinite,
            )),
        }
    }

    /// The text exactly as it was received.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Consumes the decimal, returning its verbatim text.
    pub fn into_string(self) -> String {
        self.text
    }

    /// Whether the value is zero (`0`, `0.000`, `-0`, `0e5`, ...).
    pub fn is_zero(&self) -> bool {
        self.normal().sign == Sign::Zero
    }

    /// Whether the value is strictly below zero (`-0` is not negative).
    pub fn is_negative(&self) -> bool {
        self.normal().sign == Sign::Negative
    }

    /// Whether the value is strictly above zero.
    pub fn is_positive(&self) -> bool {
        self.normal().sign == Sign::Positive
    }

    /// Converts to the nearest `f64`.
    ///
    /// **Lossy**: digits beyond `f64` precision are rounded away, and values
    /// outside the `f64` range become `±inf` or `±0.0`. Use it for display or
    /// rough arithmetic only, never to store or send a value.
    pub fn to_f64(&self) -> f64 {
        // The validated grammar is a subset of what `f64::from_str` accepts.
        self.text.parse().unwrap_or(f64::NAN)
    }

    /// The value as a `serde_json::Number` carrying the exact digits.
    ///
    /// Leading zeros of the integer part (accepted from strings such as
    /// `"0012.50"`, but not valid in JSON) are dropped; every other text is
    /// kept verbatim.
    pub fn to_json_number(&self) -> serde_json::Number {
        serde_json::Number::from_string_unchecked(self.json_text().into_owned())
    }

    /// The text in valid JSON number syntax: the verbatim text, minus any
    /// redundant leading zeros of the integer part.
    fn json_text(&self) -> std::borrow::Cow<'_, str> {
        let (sign, unsigned) = match self.text.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", self.text.as_str()),
        };
        let int_len = unsigned.bytes().take_while(u8::is_ascii_digit).count();
        let zeros = unsigned
            .bytes()
            .take_while(|&b| b == b'0')
            .count()
            .min(int_len.saturating_sub(1));
        if zeros == 0 {
            std::borrow::Cow::Borrowed(&self.text)
        } else {
            let rest = unsigned.get(zeros..).unwrap_or(unsigned);
            std::borrow::Cow::Owned(format!("{sign}{rest}"))
        }
    }
}

impl FromStr for Decimal {
    type Err = DecimalError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match scan(s) {
            Ok(_) => Ok(Decimal { text: s.to_owned() }),
            Err(kind) => Err(DecimalError::new(s, kind)),
        }
    }
}

impl TryFrom<&str> for Decimal {
    type Error = DecimalError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl TryFrom<String> for Decimal {
    type Error = DecimalError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::from_text(s)
    }
}

macro_rules! decimal_from_integer {
    ($($int:ty),*) => {$(
        impl From<$int> for Decimal {
            fn from(value: $int) -> Self {
                // An integer's decimal rendering always matches the grammar.
                Decimal { text: value.to_string() }
            }
        }
    )*};
}

decimal_from_integer!(i32, u32, i64, u64, i128, u128);

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Decimal")
            .field(&format_args!("{}", self.text))
            .finish()
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Decimal {}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        self.normal().cmp_value(&other.normal())
    }
}

impl Hash for Decimal {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Consistent with `Eq`: the normal forms are equal exactly when the
        // numeric values are.
        let normal = self.normal();
        normal.sign.hash(state);
        normal.exponent.hash(state);
        normal.len.hash(state);
        for digit in normal.digits() {
            digit.hash(state);
        }
    }
}

/// Serialises as a JSON number carrying the exact text.
///
/// With `serde_json` this writes the digits verbatim (`serde_json::to_string`)
/// or produces a `Value::Number` whose `as_str()` is the text
/// (`serde_json::to_value`). The only change ever made is that redundant
/// leading zeros of the integer part (`"0012.50"`, accepted from strings) are
/// dropped, because JSON does not allow them.
///
/// Other serializers see `serde_json::Number`'s representation, a one-field
/// struct named `$serde_json::private::Number`.
impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json_number().serialize(serializer)
    }
}

/// Deserialises from a number (all digits preserved with `serde_json`) or from
/// a string containing a decimal.
///
/// Note: `serde_json` rewrites an exponent marker as `e+`/`e-` when it parses
/// a document (`1E5` arrives as `1e+5`). When reading from an in-memory
/// `serde_json::Value`, `serde_json` passes integers and numbers whose text is
/// the shortest `f64` rendering as plain integers/floats, so a few spellings
/// come back in an equivalent form (`-0` as `0`, `0.0000001` as `1e-7`); the
/// numeric value is always exact. Reading a JSON document directly, or through
/// `#[serde(flatten)]` / untagged enums, keeps the text byte for byte.
impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DecimalVisitor)
    }
}

struct DecimalVisitor;

impl<'de> Visitor<'de> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal number, or a string containing one")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Decimal, E> {
        Decimal::try_from(v).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        Decimal::from_f64(v).map_err(E::custom)
    }

    /// `serde_json` with `arbitrary_precision` hands a number over as a
    /// one-entry map `{"$serde_json::private::Number": "<text>"}`; so does a
    /// buffered copy of it (`#[serde(flatten)]`, untagged enums).
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Decimal, A::Error> {
        if map.next_key::<JsonNumberToken>()?.is_none() {
            return Err(de::Error::invalid_type(de::Unexpected::Map, &self));
        }
        let text: String = map.next_value()?;
        if map.next_key::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_type(de::Unexpected::Map, &self));
        }
        Decimal::try_from(text).map_err(de::Error::custom)
    }
}

/// The key of `serde_json`'s private number map; any other key is an error.
struct JsonNumberToken;

impl<'de> Deserialize<'de> for JsonNumberToken {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TokenVisitor;

        impl Visitor<'_> for TokenVisitor {
            type Value = JsonNumberToken;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "the key {JSON_NUMBER_TOKEN:?}")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<JsonNumberToken, E> {
                if v == JSON_NUMBER_TOKEN {
                    Ok(JsonNumberToken)
                } else {
                    Err(E::custom(format_args!(
                        "expected a decimal number, found a map with key {}",
                        ShownInput(v)
                    )))
                }
            }
        }

        deserializer.deserialize_identifier(TokenVisitor)
    }
}
