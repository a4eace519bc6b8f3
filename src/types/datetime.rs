//! [`DateTime`] and [`Date`]: ISO 8601 values that keep the text they were
//! given.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use chrono::{FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, SubsecRound, Utc};
use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

use super::ShownInput;

/// Forms listed in [`DateTimeError`] messages.
const DATE_TIME_FORMS: &str = "yyyy-MM-dd, or yyyy-MM-ddTHH:mm:ss with optional \
     fractional seconds (.f to .fffffffff), each time optionally followed by Z, \
     ±HH:mm, ±HHmm or ±HH";

/// Forms listed in [`DateError`] messages.
const DATE_FORMS: &str = "yyyy-MM-dd, or a date-time yyyy-MM-ddTHH:mm:ss[.fffffffff][Z|±HH:mm] \
     whose date part is taken";

/// An ISO 8601 date-time as Tradecloud sends it, keeping the verbatim text.
///
/// # Accepted forms
///
/// | form | example |
/// | --- | --- |
/// | local date-time (no zone) | `2019-12-31T10:11:12` |
/// | with fractional seconds (1–9 digits, `.` or `,`) | `2019-12-31T10:11:12.345` |
/// | UTC | `2025-04-23T10:01:53.812Z` |
/// | offset | `2019-12-31T10:11:12+02:00`, `+0200`, `+02` |
/// | date only, taken as local midnight | `2019-12-31` |
///
/// The year has exactly four digits. `T` may also be written `t` or a space,
/// `Z` also `z`. A seconds value of `60` is read as a leap second.
///
/// # Zone-less values are UTC
///
/// A value without an offset is *interpreted as UTC* by
/// [`to_utc`](DateTime::to_utc) and by comparison: Tradecloud documents some
/// fields as "date and time with time zone" yet its examples send them without
/// a zone, and those values are UTC. Use
/// [`with_assumed_offset`](DateTime::with_assumed_offset) to interpret a
/// zone-less value in another offset.
///
/// # Text versus value
///
/// [`Display`](fmt::Display), [`as_str`](DateTime::as_str) and serialisation
/// give back the verbatim text. Equality, ordering and hashing compare
/// *instants* (zone-less values as UTC), never strings:
///
/// ```
/// use tradecloud::types::DateTime;
///
/// let utc: DateTime = "2019-12-31T10:11:12Z".parse()?;
/// let plus_two: DateTime = "2019-12-31T12:11:12+02:00".parse()?;
/// let local: DateTime = "2019-12-31T10:11:12".parse()?;
/// assert_eq!(utc, plus_two);
/// assert_eq!(utc, local);
/// assert_eq!(plus_two.as_str(), "2019-12-31T12:11:12+02:00");
/// assert_eq!(plus_two.offset().map(|o| o.local_minus_utc()), Some(7200));
/// assert!(!local.is_zoned());
///
/// // Serde reads and writes the verbatim text.
/// let json = serde_json::to_string(&plus_two)?;
/// assert_eq!(json, r#""2019-12-31T12:11:12+02:00""#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct DateTime {
    /// The text exactly as received.
    text: String,
    /// What the text says.
    value: Parsed,
}

/// The parsed value of a [`DateTime`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Parsed {
    /// The text carried an offset (`Z`, `±HH:mm`, ...).
    Zoned(chrono::DateTime<FixedOffset>),
    /// The text carried no offset.
    Local(NaiveDateTime),
}

/// Error returned when text is not a valid [`DateTime`].
///
/// The message quotes the input, says what was wrong and lists the accepted
/// forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid date-time {}: {reason}; accepted forms: {DATE_TIME_FORMS}", ShownInput(.input))]
pub struct DateTimeError {
    input: String,
    reason: &'static str,
}

impl DateTimeError {
    /// The text that failed to parse.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What was wrong with it, e.g. `"month out of range"`.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

/// Error returned when text is not a valid [`Date`].
///
/// The message quotes the input, says what was wrong and lists the accepted
/// forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid date {}: {reason}; accepted forms: {DATE_FORMS}", ShownInput(.input))]
pub struct DateError {
    input: String,
    reason: &'static str,
}

impl DateError {
    /// The text that failed to parse.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What was wrong with it, e.g. `"day out of range"`.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

/// A byte cursor over ASCII-structured text.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// Consumes `byte` if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn require(&mut self, byte: u8, reason: &'static str) -> Result<(), &'static str> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(reason)
        }
    }

    /// Reads exactly `count` ASCII digits as a number.
    fn fixed_digits(&mut self, count: usize, reason: &'static str) -> Result<u32, &'static str> {
        let mut value = 0u32;
        for _ in 0..count {
            match self.peek() {
                Some(d @ b'0'..=b'9') => {
                    value = value * 10 + u32::from(d - b'0');
                    self.pos += 1;
                }
                _ => return Err(reason),
            }
        }
        Ok(value)
    }
}

/// Parses `yyyy-MM-dd`.
fn parse_date_part(cur: &mut Cursor<'_>) -> Result<NaiveDate, &'static str> {
    const SHAPE: &str = "expected a date yyyy-MM-dd";
    let year = cur.fixed_digits(4, SHAPE)?;
    cur.require(b'-', SHAPE)?;
    let month = cur.fixed_digits(2, SHAPE)?;
    cur.require(b'-', SHAPE)?;
    let day = cur.fixed_digits(2, SHAPE)?;
    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    // year < 10_000, so the cast is lossless.
    NaiveDate::from_ymd_opt(year as i32, month, day).ok_or("day out of range for the month")
}

/// Parses `HH:mm:ss[(.|,)f{1,9}]`.
fn parse_time_part(cur: &mut Cursor<'_>) -> Result<NaiveTime, &'static str> {
    const SHAPE: &str = "expected a time HH:mm:ss";
    let hour = cur.fixed_digits(2, SHAPE)?;
    cur.require(b':', SHAPE)?;
    let minute = cur.fixed_digits(2, SHAPE)?;
    cur.require(b':', SHAPE)?;
    let second = cur.fixed_digits(2, SHAPE)?;

    let mut nanos = 0u32;
    if cur.eat(b'.') || cur.eat(b',') {
        let mut count = 0u32;
        while let Some(d @ b'0'..=b'9') = cur.peek() {
            if count == 9 {
                return Err("more than 9 fractional second digits");
            }
            nanos = nanos * 10 + u32::from(d - b'0');
            count += 1;
            cur.pos += 1;
        }
        if count == 0 {
            return Err("expected digits after the decimal separator of the seconds");
        }
        nanos *= 10u32.pow(9 - count);
    }

    if hour > 23 {
        return Err("hour out of range");
    }
    if minute > 59 {
        return Err("minute out of range");
    }
    match second {
        0..=59 => NaiveTime::from_hms_nano_opt(hour, minute, second, nanos),
        // chrono represents a leap second as second 59 with nanos >= 1e9.
        60 => NaiveTime::from_hms_nano_opt(hour, minute, 59, 1_000_000_000 + nanos),
        _ => None,
    }
    .ok_or("second out of range")
}

/// Parses `Z`, `±HH:mm`, `±HHmm` or `±HH`.
fn parse_offset(cur: &mut Cursor<'_>) -> Result<FixedOffset, &'static str> {
    const SHAPE: &str = "expected a zone offset Z, ±HH:mm, ±HHmm or ±HH";
    if cur.eat(b'Z') || cur.eat(b'z') {
        return FixedOffset::east_opt(0).ok_or(SHAPE);
    }
    let sign: i32 = if cur.eat(b'+') {
        1
    } else if cur.eat(b'-') {
        -1
    } else {
        return Err("unexpected text after the time");
    };
    let hours = cur.fixed_digits(2, SHAPE)?;
    let minutes = if cur.eat(b':') {
        cur.fixed_digits(2, SHAPE)?
    } else if cur.at_end() {
        0
    } else {
        cur.fixed_digits(2, SHAPE)?
    };
    if hours > 23 || minutes > 59 {
        return Err("zone offset out of range");
    }
    // At most 23 * 3600 + 59 * 60, so the cast is lossless.
    let seconds = (hours * 3600 + minutes * 60) as i32;
    FixedOffset::east_opt(sign * seconds).ok_or("zone offset out of range")
}

/// Parses every accepted date-time form.
fn parse_date_time(text: &str) -> Result<Parsed, &'static str> {
    let mut cur = Cursor {
        bytes: text.as_bytes(),
        pos: 0,
    };
    if cur.at_end() {
        return Err("the text is empty");
    }
    let date = parse_date_part(&mut cur)?;
    if cur.at_end() {
        return Ok(Parsed::Local(date.and_time(NaiveTime::MIN)));
    }
    if !(cur.eat(b'T') || cur.eat(b't') || cur.eat(b' ')) {
        return Err("expected 'T' between the date and the time");
    }
    let local = date.and_time(parse_time_part(&mut cur)?);
    if cur.at_end() {
        return Ok(Parsed::Local(local));
    }
    let offset = parse_offset(&mut cur)?;
    if !cur.at_end() {
        return Err("unexpected text after the zone offset");
    }
    let zoned = local
        .and_local_timezone(offset)
        .single()
        .ok_or("date-time out of range")?;
    Ok(Parsed::Zoned(zoned))
}

// ---------------------------------------------------------------------------
// DateTime
// ---------------------------------------------------------------------------

impl DateTime {
    /// The current instant in UTC, with millisecond precision, written as
    /// `yyyy-MM-ddTHH:mm:ss.SSSZ`.
    pub fn now_utc() -> Self {
        Self::from(chrono::DateTime::<Utc>::from(std::time::SystemTime::now()))
    }

    /// The text exactly as it was received.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Consumes the value, returning its verbatim text.
    pub fn into_string(self) -> String {
        self.text
    }

    /// The zone offset written in the text, or `None` for a zone-less value.
    pub fn offset(&self) -> Option<FixedOffset> {
        match self.value {
            Parsed::Zoned(dt) => Some(*dt.offset()),
            Parsed::Local(_) => None,
        }
    }

    /// Whether the text carried a zone offset (`Z`, `±HH:mm`, ...).
    pub fn is_zoned(&self) -> bool {
        matches!(self.value, Parsed::Zoned(_))
    }

    /// The date and wall-clock time as written, ignoring any offset.
    pub fn naive_local(&self) -> NaiveDateTime {
        match self.value {
            Parsed::Zoned(dt) => dt.naive_local(),
            Parsed::Local(naive) => naive,
        }
    }

    /// The instant in UTC. A zone-less value is interpreted as UTC (see the
    /// [type documentation](DateTime#zone-less-values-are-utc)).
    pub fn to_utc(&self) -> chrono::DateTime<Utc> {
        match self.value {
            Parsed::Zoned(dt) => dt.with_timezone(&Utc),
            Parsed::Local(naive) => naive.and_utc(),
        }
    }

    /// The value with an offset: a zoned value keeps its own offset, a
    /// zone-less value is interpreted as wall-clock time at `offset`.
    pub fn with_assumed_offset(&self, offset: FixedOffset) -> chrono::DateTime<FixedOffset> {
        match self.value {
            Parsed::Zoned(dt) => dt,
            // Zone-less values come only from parsing, with years 0000–9999,
            // so shifting by less than a day always stays within chrono's
            // range and `single()` always succeeds. The fallback is never
            // used; it just avoids a panic path.
            Parsed::Local(naive) => naive
                .and_local_timezone(offset)
                .single()
                .unwrap_or_else(|| naive.and_utc().with_timezone(&offset)),
        }
    }
}

impl FromStr for DateTime {
    type Err = DateTimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match parse_date_time(s) {
            Ok(value) => Ok(DateTime {
                text: s.to_owned(),
                value,
            }),
            Err(reason) => Err(DateTimeError {
                input: s.to_owned(),
                reason,
            }),
        }
    }
}

impl TryFrom<&str> for DateTime {
    type Error = DateTimeError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// Writes the instant as `yyyy-MM-ddTHH:mm:ss.SSSZ`.
///
/// Sub-millisecond precision is truncated so that the value always equals
/// what its text says. Years outside 0000–9999 are written with a sign and
/// more digits, which [`FromStr`] does not accept back.
impl From<chrono::DateTime<Utc>> for DateTime {
    fn from(instant: chrono::DateTime<Utc>) -> Self {
        let instant = instant.trunc_subsecs(3);
        DateTime {
            text: instant.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            value: Parsed::Zoned(instant.fixed_offset()),
        }
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DateTime")
            .field(&format_args!("{}", self.text))
            .finish()
    }
}

impl PartialEq for DateTime {
    fn eq(&self, other: &Self) -> bool {
        self.to_utc() == other.to_utc()
    }
}

impl Eq for DateTime {}

impl PartialOrd for DateTime {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DateTime {
    fn cmp(&self, other: &Self) -> Ordering {
        self.to_utc().cmp(&other.to_utc())
    }
}

impl Hash for DateTime {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Consistent with `Eq`: hash the UTC instant.
        self.to_utc().hash(state);
    }
}

impl Serialize for DateTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for DateTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DateTimeVisitor;

        impl Visitor<'_> for DateTimeVisitor {
            type Value = DateTime;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an ISO 8601 date-time string")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<DateTime, E> {
                v.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_str(DateTimeVisitor)
    }
}

// ---------------------------------------------------------------------------
// Date
// ---------------------------------------------------------------------------

/// An ISO 8601 calendar date (`yyyy-MM-dd`), keeping the verbatim text.
///
/// Leniently, a date-time in any form [`DateTime`] accepts is also taken; its
/// date part *as written* is the value (no zone conversion), and the full text
/// is kept verbatim.
///
/// Equality, ordering and hashing are by calendar date; [`Display`],
/// [`as_str`](Date::as_str) and serialisation give back the verbatim text.
///
/// ```
/// use tradecloud::types::Date;
///
/// let date: Date = "2019-12-31".parse()?;
/// let from_date_time: Date = "2019-12-31T23:30:00-05:00".parse()?;
/// assert_eq!(date, from_date_time);
/// assert_eq!(from_date_time.as_str(), "2019-12-31T23:30:00-05:00");
/// assert_eq!(Some(date.date()), chrono::NaiveDate::from_ymd_opt(2019, 12, 31));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`Display`]: fmt::Display
#[derive(Clone)]
pub struct Date {
    /// The text exactly as received.
    text: String,
    /// The calendar date it names.
    date: NaiveDate,
}

impl Date {
    /// The text exactly as it was received.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Consumes the value, returning its verbatim text.
    pub fn into_string(self) -> String {
        self.text
    }

    /// The calendar date.
    pub fn date(&self) -> NaiveDate {
        self.date
    }

    /// Whether the text was a plain `yyyy-MM-dd` (rather than a date-time).
    pub fn is_date_only(&self) -> bool {
        self.text.len() == "yyyy-MM-dd".len()
    }
}

impl FromStr for Date {
    type Err = DateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let date = match parse_date_time(s) {
            Ok(Parsed::Local(naive)) => naive.date(),
            Ok(Parsed::Zoned(zoned)) => zoned.naive_local().date(),
            Err(reason) => {
                return Err(DateError {
                    input: s.to_owned(),
                    reason,
                })
            }
        };
        Ok(Date {
            text: s.to_owned(),
            date,
        })
    }
}

impl TryFrom<&str> for Date {
    type Error = DateError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// Writes the date as `yyyy-MM-dd`. Years outside 0000–9999 are written with
/// a sign and more digits, which [`FromStr`] does not accept back.
impl From<NaiveDate> for Date {
    fn from(date: NaiveDate) -> Self {
        Date {
            text: date.format("%Y-%m-%d").to_string(),
            date,
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Date")
            .field(&format_args!("{}", self.text))
            .finish()
    }
}

impl PartialEq for Date {
    fn eq(&self, other: &Self) -> bool {
        self.date == other.date
    }
}

impl Eq for Date {}

impl PartialOrd for Date {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Date {
    fn cmp(&self, other: &Self) -> Ordering {
        self.date.cmp(&other.date)
    }
}

impl Hash for Date {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.date.hash(state);
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DateVisitor;

        impl Visitor<'_> for DateVisitor {
            type Value = Date;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an ISO 8601 date string")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Date, E> {
                v.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_str(DateVisitor)
    }
}
