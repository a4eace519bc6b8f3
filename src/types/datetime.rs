//! [`DateTime`]: an ISO 8601 date-time that keeps the text it was given.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use chrono::{FixedOffset, NaiveDateTime, SubsecRound, Timelike, Utc};
use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

use super::iso8601::{parse_date_time, Parsed, DATE_TIME_FORMS};
use super::ShownInput;

/// An ISO 8601 date-time as Tradecloud sends it, keeping the verbatim text.
///
/// # Accepted forms
///
/// | form | example |
/// | --- | --- |
/// | local date-time (no zone) | `2019-12-31T10:11:12` |
/// | with fractional seconds (any number of digits, `.` or `,`; the first nine count) | `2019-12-31T10:11:12.345` |
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
/// # Why it is called `DateTime`, beside `chrono::DateTime`
///
/// It is the Rust face of OpenAPI's `format: date-time`, as [`Date`](super::Date)
/// is of `format: date`: every generated field and the specs' documentation
/// use that pair, and the generator maps the one to the other. It is not a
/// replacement for chrono's type but the verbatim text of one Tradecloud
/// value, with [`to_utc`](DateTime::to_utc) giving the
/// `chrono::DateTime<Utc>` to compute with. The two never meet unqualified:
/// ours has no type parameter, and the crate's own code writes chrono's as
/// `chrono::DateTime<Utc>`. If you import both, rename one:
/// `use tradecloud::types::DateTime as TcDateTime;`.
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

/// From a `chrono::DateTime<Utc>`: writes the instant as
/// `yyyy-MM-ddTHH:mm:ss.SSSZ`.
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

/// From a `chrono::NaiveDateTime`: a local date and time without a zone,
/// written `yyyy-MM-ddTHH:mm:ss`, the form Tradecloud documents for the ERP
/// times of the messages sent to it (`erpIssueDateTime`,
/// `erpLastChangeDateTime`, `erpResponseDateTime`; api/standards.md: "local
/// date/time format `YYYY-MM-DDThh:mm:ss`"), and the one form their
/// request rule accepts.
///
/// The fraction of a second is dropped (the documented form has none), a
/// leap second is written as second 59. Years outside 0000–9999 are
/// written with a sign and more digits, which [`FromStr`] does not accept
/// back. (`From<chrono::DateTime<Utc>>` writes an instant with `Z`, which
/// is not a local date-time: use this one for the ERP times.)
///
/// ```
/// use chrono::NaiveDate;
/// use tradecloud::types::DateTime;
///
/// let issued = NaiveDate::from_ymd_opt(2019, 12, 31)
///     .and_then(|d| d.and_hms_milli_opt(10, 11, 12, 345))
///     .ok_or("not a time")?;
/// let value = DateTime::from(issued);
/// assert_eq!(value.as_str(), "2019-12-31T10:11:12");
/// assert!(!value.is_zoned());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl From<NaiveDateTime> for DateTime {
    fn from(local: NaiveDateTime) -> Self {
        // Zero is always a valid nanosecond; for a leap second (a nanosecond
        // of 1_000_000_000 or more on second 59) it leaves second 59.
        let local = local.with_nanosecond(0).unwrap_or(local);
        DateTime {
            text: local.format("%Y-%m-%dT%H:%M:%S").to_string(),
            value: Parsed::Local(local),
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
