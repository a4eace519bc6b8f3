//! The ISO 8601 parser behind [`DateTime`](super::DateTime) and
//! [`Date`](super::Date): every form Tradecloud sends, checked byte by
//! byte, with a reason for every refusal.

use chrono::{FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};

/// Forms listed in [`DateTimeError`](super::DateTimeError) messages.
pub(super) const DATE_TIME_FORMS: &str = "yyyy-MM-dd, or yyyy-MM-ddTHH:mm:ss with optional \
     fractional seconds (.f, .fff, .fffffffff, ...), each time optionally followed by Z, \
     ±HH:mm, ±HHmm or ±HH";

/// Forms listed in [`DateError`](super::DateError) messages.
pub(super) const DATE_FORMS: &str =
    "yyyy-MM-dd, or a date-time yyyy-MM-ddTHH:mm:ss[.fff...][Z|±HH:mm] \
     whose date part is taken";

/// What a date-time text says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Parsed {
    /// The text carried an offset (`Z`, `±HH:mm`, ...).
    Zoned(chrono::DateTime<FixedOffset>),
    /// The text carried no offset.
    Local(NaiveDateTime),
}

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

/// Parses `HH:mm:ss[(.|,)f+]`. RFC 3339 and ISO 8601 put no bound on the
/// digits of the fraction: all are read, the first nine give the instant
/// (nanoseconds; the text keeps the rest).
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
        let mut digits = 0usize;
        while let Some(d @ b'0'..=b'9') = cur.peek() {
            if count < 9 {
                nanos = nanos * 10 + u32::from(d - b'0');
                count += 1;
            }
            digits += 1;
            cur.pos += 1;
        }
        if digits == 0 {
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
pub(super) fn parse_date_time(text: &str) -> Result<Parsed, &'static str> {
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
