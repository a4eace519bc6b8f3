//! What each fuzz target checks, for any input: no panic (libFuzzer turns
//! every panic into a crash, even one the receiver would catch), no hang
//! (`scripts/fuzz.sh` sets libFuzzer's `-timeout`), and the properties
//! below. Compiled by the fuzz targets (`fuzz/fuzz_targets/*.rs`) and by
//! `tests/fuzz_regressions.rs`, which replays every input kept in
//! `tests/fuzz-regressions/<target>/` under `cargo test`.
#![allow(dead_code)]

use std::cmp::Ordering;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use tradecloud::types::{Date, DateTime, Decimal};
use tradecloud::webhook::{decode, Endpoint, Webhook};

fn hash_of<T: Hash>(value: &T) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// The first byte picks the webhook (even: order, odd: shipment); the rest
/// is the body.
fn endpoint_and_body(data: &[u8]) -> Option<(Endpoint, &[u8])> {
    let (first, body) = data.split_first()?;
    let endpoint = if first % 2 == 0 {
        Endpoint::Order
    } else {
        Endpoint::Shipment
    };
    Some((endpoint, body))
}

/// The typed body of a decoded webhook, serialised again as JSON (`None`
/// for an unknown event, which is kept as bytes only).
fn reserialised(webhook: &Webhook) -> Option<Vec<u8>> {
    // `_`: a variant added later is not serialised either.
    #[allow(unreachable_patterns)]
    let json = match webhook {
        Webhook::Order(body) => serde_json::to_vec(body),
        Webhook::Shipment(body) => serde_json::to_vec(body),
        Webhook::Unknown(_) => return None,
        _ => return None,
    };
    match json {
        Ok(json) => Some(json),
        Err(e) => panic!("a decoded webhook does not serialise: {e}"),
    }
}

/// A decoded body, serialised as JSON, decodes to the same event (name,
/// object id, message id), and serialising that gives the same JSON again:
/// nothing the decoder accepted is lost or changed on re-serialisation.
fn round_trip(endpoint: Endpoint, webhook: &Webhook) {
    let Some(json) = reserialised(webhook) else {
        return;
    };
    let again = match decode(endpoint, "application/json", &json) {
        Ok(again) => again,
        Err(e) => panic!(
            "re-serialised body does not decode: {e}\n{}",
            String::from_utf8_lossy(&json)
        ),
    };
    assert_eq!(webhook.event_name(), again.event_name());
    assert_eq!(webhook.object_id(), again.object_id());
    assert_eq!(webhook.message_id(), again.message_id());
    let json_again = reserialised(&again);
    assert_eq!(
        Some(&json),
        json_again.as_ref(),
        "serialising is not stable:\n{}\n{}",
        String::from_utf8_lossy(&json),
        String::from_utf8_lossy(json_again.as_deref().unwrap_or_default())
    );
}

/// `webhook_json`: the webhook decoder on JSON bodies.
pub fn webhook_json(data: &[u8]) {
    let Some((endpoint, body)) = endpoint_and_body(data) else {
        return;
    };
    if let Ok(webhook) = decode(endpoint, "application/json", body) {
        round_trip(endpoint, &webhook);
    }
}

/// `webhook_txml`: the webhook decoder on tXML bodies.
pub fn webhook_txml(data: &[u8]) {
    let Some((endpoint, body)) = endpoint_and_body(data) else {
        return;
    };
    if let Ok(webhook) = decode(endpoint, "application/xml", body) {
        round_trip(endpoint, &webhook);
    }
}

/// Two strings from the input, split at the first newline.
fn two_strings(data: &[u8]) -> Option<(&str, &str)> {
    let text = std::str::from_utf8(data).ok()?;
    Some(text.split_once('\n').unwrap_or((text, "0")))
}

fn decimal_properties(text: &str) -> Option<Decimal> {
    let d: Decimal = text.parse().ok()?;
    assert_eq!(d.as_str(), text, "the text is kept");
    // As a JSON number and back: the same value.
    let json = match serde_json::to_string(&d) {
        Ok(json) => json,
        Err(e) => panic!("{text:?} does not serialise: {e}"),
    };
    match serde_json::from_str::<Decimal>(&json) {
        Ok(back) => assert_eq!(back, d, "{text:?} through JSON {json}"),
        Err(e) => panic!("{text:?} serialised as {json}, which does not parse: {e}"),
    }
    let number = d.to_json_number();
    assert_eq!(number.as_str().parse::<Decimal>().ok().as_ref(), Some(&d));
    assert_eq!(d.is_zero(), d.cmp(&Decimal::from(0u32)) == Ordering::Equal);
    assert_eq!(d.is_negative(), d < Decimal::from(0u32));
    assert_eq!(d.is_positive(), d > Decimal::from(0u32));
    let _ = d.to_f64();
    Some(d)
}

/// `decimal`: `Decimal`'s parser, order, equality, hash and JSON form.
pub fn decimal(data: &[u8]) {
    let Some((a, b)) = two_strings(data) else {
        return;
    };
    let (Some(x), Some(y)) = (decimal_properties(a), decimal_properties(b)) else {
        return;
    };
    assert_eq!(x.cmp(&y), y.cmp(&x).reverse(), "{a:?} vs {b:?}");
    assert_eq!(x == y, x.cmp(&y) == Ordering::Equal, "{a:?} vs {b:?}");
    if x == y {
        assert_eq!(hash_of(&x), hash_of(&y), "{a:?} == {b:?} but hashes differ");
    }
    // Where the f64 values are far apart, the exact order agrees with theirs.
    let (fx, fy) = (x.to_f64(), y.to_f64());
    if fx.is_finite() && fy.is_finite() && (fx - fy).abs() > 1e-9 * fx.abs().max(fy.abs()) {
        assert_eq!(
            x.cmp(&y),
            fx.partial_cmp(&fy).unwrap_or(Ordering::Equal),
            "{a:?} vs {b:?}"
        );
    }
}

/// Whether `text` has the strict shape `yyyy-MM-ddTHH:mm:ss[.f+](Z|±HH:mm)`.
fn strict_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !((0..4).all(digit)
        && at(4, b'-')
        && digit(5)
        && digit(6)
        && at(7, b'-')
        && digit(8)
        && digit(9)
        && at(10, b'T')
        && digit(11)
        && digit(12)
        && at(13, b':')
        && digit(14)
        && digit(15)
        && at(16, b':')
        && digit(17)
        && digit(18))
    {
        return false;
    }
    let mut i = 19;
    if at(i, b'.') {
        i += 1;
        let start = i;
        while digit(i) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match b.get(i) {
        Some(b'Z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            digit(i + 1)
                && digit(i + 2)
                && at(i + 3, b':')
                && digit(i + 4)
                && digit(i + 5)
                && i + 6 == b.len()
        }
        _ => false,
    }
}

fn datetime_properties(text: &str) -> Option<DateTime> {
    let parsed = text.parse::<DateTime>();
    // Every timestamp that chrono reads as RFC 3339 in the strict form the
    // docs use (leap seconds aside) is read, as the same instant.
    if strict_rfc3339(text) && text.get(17..19) != Some("60") {
        if let Ok(reference) = chrono::DateTime::parse_from_rfc3339(text) {
            match &parsed {
                Ok(d) => assert_eq!(d.to_utc(), reference.to_utc(), "{text:?}"),
                Err(e) => panic!("{text:?} is RFC 3339 ({reference}) but refused: {e}"),
            }
        }
    }
    let d = parsed.ok()?;
    assert_eq!(d.as_str(), text, "the text is kept");
    assert_eq!(d.is_zoned(), d.offset().is_some());
    let utc = d.to_utc();
    assert_eq!(
        DateTime::from(utc).to_utc(),
        utc.trunc_subsecs_ms(),
        "{text:?}"
    );
    let _ = d.naive_local();
    let json = serde_json::to_string(&d).unwrap_or_default();
    match serde_json::from_str::<DateTime>(&json) {
        Ok(back) => assert_eq!(back, d, "{text:?}"),
        Err(e) => panic!("{text:?} serialised as {json}, which does not parse: {e}"),
    }
    // The date of a date-time parses as a date.
    match text.parse::<Date>() {
        Ok(date) => assert_eq!(date.date(), d.naive_local().date(), "{text:?}"),
        Err(e) => panic!("{text:?} is a date-time but not a date: {e}"),
    }
    Some(d)
}

trait TruncMs {
    fn trunc_subsecs_ms(self) -> Self;
}

impl TruncMs for chrono::DateTime<chrono::Utc> {
    fn trunc_subsecs_ms(self) -> Self {
        chrono::SubsecRound::trunc_subsecs(self, 3)
    }
}

/// `datetime`: the date and date-time parsers (`Date`, `DateTime`), their
/// order, equality and hash, against chrono's RFC 3339 parser.
pub fn datetime(data: &[u8]) {
    let Some((a, b)) = two_strings(data) else {
        return;
    };
    if let Ok(date) = a.parse::<Date>() {
        assert_eq!(date.as_str(), a);
        if a.len() == 10 {
            assert!(date.is_date_only());
            let reference = chrono::NaiveDate::parse_from_str(a, "%Y-%m-%d");
            if let Ok(reference) = reference {
                assert_eq!(date.date(), reference, "{a:?}");
            }
        }
    }
    let (Some(x), Some(y)) = (datetime_properties(a), datetime_properties(b)) else {
        return;
    };
    assert_eq!(x.cmp(&y), y.cmp(&x).reverse(), "{a:?} vs {b:?}");
    assert_eq!(x == y, x.cmp(&y) == Ordering::Equal);
    if x == y {
        assert_eq!(hash_of(&x), hash_of(&y), "{a:?} == {b:?} but hashes differ");
    }
}

/// `config`: the configuration loader. The input is a TOML file, then
/// (after a NUL byte) `NAME=value` lines taken as `TRADECLOUD_NAME`
/// environment variables. Loading and validating return an error or a
/// configuration, and every error says something.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (file, env) = text.split_once('\0').unwrap_or((text, ""));
    let env: Vec<(String, String)> = env
        .lines()
        .filter_map(|line| line.split_once('='))
        // Secret files are read from the disk: not the fuzzer's business.
        .filter(|(name, _)| !name.to_ascii_uppercase().ends_with("_FILE"))
        .map(|(name, value)| (format!("TRADECLOUD_{name}"), value.to_string()))
        .collect();
    if file.contains("_file") {
        return;
    }
    match tradecloud::receiver::Config::from_parts(Some(file), "fuzz.toml", env) {
        Ok(config) => {
            if let Err(e) = config.validate_for_serving() {
                assert!(!e.to_string().is_empty());
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

pub mod receiver;

/// `receiver_body`: see [`receiver::check`].
pub fn receiver_body(data: &[u8]) {
    receiver::check(data);
}
