//! [`Date`]: an ISO 8601 calendar date that keeps the text it was given.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use chrono::NaiveDate;
use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

use super::iso8601::{parse_date_time, Parsed, DATE_FORMS};
use super::ShownInput;

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

/// An ISO 8601 calendar date (`yyyy-MM-dd`), keeping the verbatim text.
///
/// Leniently, a date-time in any form [`DateTime`](super::DateTime) accepts is also taken; its
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
