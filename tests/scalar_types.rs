//! Behaviour of the scalar types `Decimal`, `DateTime` and `Date`.

use std::cmp::Ordering;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashSet};
use std::hash::{Hash, Hasher};

use chrono::{FixedOffset, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tradecloud::types::{Date, DateTime, Decimal};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn dec(s: &str) -> Decimal {
    match s.parse() {
        Ok(d) => d,
        Err(e) => panic!("{s:?} should parse as a decimal: {e}"),
    }
}

fn dt(s: &str) -> DateTime {
    match s.parse() {
        Ok(d) => d,
        Err(e) => panic!("{s:?} should parse as a date-time: {e}"),
    }
}

fn hash_of<T: Hash>(value: &T) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// `Utc::now()` needs chrono's `now` feature, which the crate does not enable.
fn system_now() -> chrono::DateTime<Utc> {
    chrono::DateTime::<Utc>::from(std::time::SystemTime::now())
}

fn offset(hours: i32, minutes: i32) -> FixedOffset {
    let seconds = hours * 3600 + hours.signum() * minutes * 60;
    FixedOffset::east_opt(seconds).expect("valid test offset")
}

// ---------------------------------------------------------------------------
// Decimal: text
// ---------------------------------------------------------------------------

#[test]
fn decimal_keeps_text_verbatim() {
    for text in [
        "0",
        "-0",
        "0.000",
        "12.50",
        "0012.50",
        "-1",
        "12345678901234.567890123",
        "123456789012345678901234567890.123456789012345678901234567890",
        "1e2",
        "1E+02",
        "-4.5e-7",
        "99999999999999999999999999999999999999999999",
    ] {
        let d = dec(text);
        assert_eq!(d.as_str(), text);
        assert_eq!(d.to_string(), text);
        assert_eq!(format!("{d:?}"), format!("Decimal({text})"));
        assert_eq!(
            Decimal::try_from(text).map(Decimal::into_string).ok(),
            Some(text.to_owned())
        );
    }
}

#[test]
fn decimal_rejects_garbage() {
    for bad in [
        "", "1.2.3", "abc", "1e", "1e+", "-", "+1", ".5", "5.", " 1", "1 ", "1,5", "0x10", "NaN",
        "inf", "1..2", "1e2.5", "--1", "1-", "１", "1_000",
    ] {
        let err = match bad.parse::<Decimal>() {
            Ok(d) => panic!("{bad:?} should be rejected, got {d:?}"),
            Err(err) => err,
        };
        assert_eq!(err.input(), bad);
        let message = err.to_string();
        assert!(
            message.contains(&format!("{bad:?}")),
            "message {message:?} should quote the input"
        );
    }
}

#[test]
fn decimal_error_messages_say_what_was_wrong() {
    let msg = |s: &str| {
        s.parse::<Decimal>()
            .map(|_| String::new())
            .unwrap_or_else(|e| e.to_string())
    };
    assert!(msg("").contains("empty"), "{}", msg(""));
    assert!(
        msg("1.2.3").contains("'.' at byte offset 3"),
        "{}",
        msg("1.2.3")
    );
    assert!(
        msg("abc").contains("'a' at byte offset 0"),
        "{}",
        msg("abc")
    );
    assert!(
        msg("1e").contains("ends where a digit is expected"),
        "{}",
        msg("1e")
    );
    assert!(msg("1e99999999999999999999").contains("exponent is out of range"));
}

#[test]
fn decimal_error_message_shortens_huge_input() {
    let huge = format!("{}x", "1".repeat(10_000));
    let err = huge.parse::<Decimal>().expect_err("must fail");
    assert_eq!(err.input(), huge);
    assert!(err.to_string().len() < 400, "{}", err);
    assert!(err.to_string().contains("10001 bytes"), "{}", err);
}

// ---------------------------------------------------------------------------
// Decimal: numeric semantics
// ---------------------------------------------------------------------------

#[test]
fn decimal_equality_is_numeric() {
    let equal_groups: &[&[&str]] = &[
        &[
            "1.5",
            "1.50",
            "1.500000000000000000000000",
            "01.5",
            "15e-1",
            "0.15E1",
            "150e-2",
        ],
        &["100", "1e2", "1E+2", "100.000", "0.001e5", "10e1", "000100"],
        &["0", "-0", "0.0", "-0.000", "0e10", "0e-10", "000"],
        &["-7.25", "-7.250", "-725e-2", "-0.0725e2"],
        &[
            "12345678901234567890.12345678901234567890",
            "12345678901234567890.1234567890123456789000",
            "1234567890123456789012345678901234567890e-20",
        ],
    ];
    for group in equal_groups {
        for a in *group {
            for b in *group {
                assert_eq!(dec(a), dec(b), "{a} == {b}");
                assert_eq!(dec(a).cmp(&dec(b)), Ordering::Equal, "{a} cmp {b}");
                assert_eq!(hash_of(&dec(a)), hash_of(&dec(b)), "hash {a} vs {b}");
            }
        }
    }
}

#[test]
fn decimal_inequality_catches_tiny_differences() {
    let pairs = [
        ("1.5", "1.51"),
        ("100", "1e3"),
        ("1", "-1"),
        ("0.1", "0.01"),
        (
            "12345678901234567890.000000000000000000001",
            "12345678901234567890",
        ),
        ("9007199254740993", "9007199254740992"), // equal as f64!
        ("0.30000000000000000001", "0.3"),
    ];
    for (a, b) in pairs {
        assert_ne!(dec(a), dec(b), "{a} != {b}");
    }
}

#[test]
fn decimal_ordering_is_numeric() {
    let ascending = [
        "-1e20",
        "-100000",
        "-99999.99999999999999999",
        "-2",
        "-1.5",
        "-1.49999999999999999999999999",
        "-0.001",
        "-1e-30",
        "0",
        "1e-30",
        "0.00099999999999999999",
        "0.001",
        "0.12",
        "0.123",
        "0.2",
        "1",
        "1.00000000000000000000001",
        "2",
        "9.999",
        "10",
        "99999999999999999999",
        "1e20",
        "100000000000000000000.5",
        "1e21",
    ];
    for (i, a) in ascending.iter().enumerate() {
        for (j, b) in ascending.iter().enumerate() {
            assert_eq!(dec(a).cmp(&dec(b)), i.cmp(&j), "{a} vs {b}");
            assert_eq!(dec(a).partial_cmp(&dec(b)), Some(i.cmp(&j)), "{a} vs {b}");
        }
    }
    let mut shuffled: Vec<Decimal> = ascending.iter().rev().map(|s| dec(s)).collect();
    shuffled.sort();
    let sorted: Vec<&str> = shuffled.iter().map(Decimal::as_str).collect();
    assert_eq!(sorted, ascending);
}

#[test]
fn decimal_sets_deduplicate_by_value() {
    let values = ["1.5", "1.50", "15e-1", "2", "2.0", "-0", "0"];
    let hashed: HashSet<Decimal> = values.iter().map(|s| dec(s)).collect();
    assert_eq!(hashed.len(), 3);
    let ordered: BTreeSet<Decimal> = values.iter().map(|s| dec(s)).collect();
    assert_eq!(ordered.len(), 3);
}

#[test]
fn decimal_sign_predicates() {
    assert!(dec("0").is_zero());
    assert!(dec("-0.000").is_zero());
    assert!(dec("0e99").is_zero());
    assert!(!dec("-0").is_negative());
    assert!(!dec("0").is_positive());
    assert!(!dec("0.0000000000000000000000001").is_zero());
    assert!(dec("0.0000000000000000000000001").is_positive());
    assert!(dec("-0.0000000000000000000000001").is_negative());
    assert!(!dec("-0.0000000000000000000000001").is_zero());
}

#[test]
fn decimal_from_integers() {
    assert_eq!(Decimal::from(42_i64).as_str(), "42");
    assert_eq!(Decimal::from(-42_i64).as_str(), "-42");
    assert_eq!(Decimal::from(u64::MAX).as_str(), "18446744073709551615");
    assert_eq!(Decimal::from(i64::MIN).as_str(), "-9223372036854775808");
    assert_eq!(Decimal::from(7).as_str(), "7");
    assert_eq!(Decimal::from(100_u64), dec("1e2"));
    assert!(Decimal::from(-1_i64).is_negative());
    assert!(Decimal::from(0_u64).is_zero());
}

#[test]
fn decimal_to_f64_is_approximate() {
    assert_eq!(dec("12.5").to_f64(), 12.5);
    assert_eq!(dec("-1e3").to_f64(), -1000.0);
    assert_eq!(dec("0012.50").to_f64(), 12.5);
    assert_eq!(dec("0.1").to_f64(), 0.1);
    // Lossy: two different decimals, one f64.
    assert_eq!(
        dec("9007199254740993").to_f64(),
        dec("9007199254740992").to_f64()
    );
    assert!(dec("1e400").to_f64().is_infinite());
}

#[test]
fn decimal_from_f64_uses_shortest_round_trip_text() -> TestResult {
    assert_eq!(Decimal::from_f64(1.5)?.as_str(), "1.5");
    assert_eq!(Decimal::from_f64(0.1)?.as_str(), "0.1");
    assert_eq!(Decimal::from_f64(1.0)?, dec("1"));
    assert_eq!(Decimal::from_f64(-2.25)?, dec("-2.25"));
    assert_eq!(Decimal::from_f64(1e300)?, dec("1e300"));
    assert!(Decimal::from_f64(f64::NAN).is_err());
    assert!(Decimal::from_f64(f64::INFINITY).is_err());
    Ok(())
}

// ---------------------------------------------------------------------------
// Decimal: serde
// ---------------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize)]
struct Line {
    q: Decimal,
}

#[test]
fn decimal_json_number_round_trip_is_byte_identical() -> TestResult {
    for number in [
        "12345678901234.567890123456789",
        "0.000000000000000000000000000001",
        "-98765432109876543210.98765432109876543210",
        "123456789012345678901234567890",
        "-123456789012345678901234567890",
        "1.50",
        "1.0",
        "-0",
        "-0.0",
        "0",
        "42",
        "-42",
        "1e+25",
        "1.2345678901234567890123e-40",
    ] {
        let json = format!(r#"{{"q":{number}}}"#);
        let line: Line = serde_json::from_str(&json)?;
        assert_eq!(line.q.as_str(), number);
        assert_eq!(serde_json::to_string(&line)?, json);
        // And as a bare value.
        let bare: Decimal = serde_json::from_str(number)?;
        assert_eq!(serde_json::to_string(&bare)?, number);
    }
    Ok(())
}

#[test]
fn decimal_json_keeps_every_digit_in_pretty_output() -> TestResult {
    let input = r#"{"q": 12345678901234.567890123456789}"#;
    let line: Line = serde_json::from_str(input)?;
    assert_eq!(
        serde_json::to_string_pretty(&line)?,
        "{\n  \"q\": 12345678901234.567890123456789\n}"
    );
    Ok(())
}

#[test]
fn decimal_json_exponent_is_normalised_by_serde_json_only_in_spelling() -> TestResult {
    // serde_json rewrites `E` as `e+` while parsing; the value is unchanged.
    let line: Line = serde_json::from_str(r#"{"q":1.5E3}"#)?;
    assert_eq!(line.q.as_str(), "1.5e+3");
    assert_eq!(line.q, dec("1500"));
    Ok(())
}

#[test]
fn decimal_from_json_string() -> TestResult {
    let line: Line = serde_json::from_str(r#"{"q":"12345678901234567890.123456789012345678"}"#)?;
    assert_eq!(line.q.as_str(), "12345678901234567890.123456789012345678");
    // Written back as a number with the same digits.
    assert_eq!(
        serde_json::to_string(&line)?,
        r#"{"q":12345678901234567890.123456789012345678}"#
    );
    let padded: Decimal = serde_json::from_str(r#""0012.50""#)?;
    assert_eq!(padded.as_str(), "0012.50");
    assert_eq!(padded, dec("12.5"));
    // JSON forbids leading zeros, so they are dropped when writing JSON.
    assert_eq!(serde_json::to_string(&padded)?, "12.50");
    assert_eq!(serde_json::to_string(&dec("-000"))?, "-0");
    assert_eq!(serde_json::to_string(&dec("00.5"))?, "0.5");
    Ok(())
}

#[test]
fn decimal_serde_rejects_garbage() {
    for json in [
        r#"{"q":"1.2.3"}"#,
        r#"{"q":"abc"}"#,
        r#"{"q":""}"#,
        r#"{"q":"1e"}"#,
        r#"{"q":true}"#,
        r#"{"q":null}"#,
        r#"{"q":[1]}"#,
        r#"{"q":{"a":"1"}}"#,
    ] {
        let result = serde_json::from_str::<Line>(json);
        assert!(result.is_err(), "{json} should be rejected: {result:?}");
    }
    let message = serde_json::from_str::<Line>(r#"{"q":"1.2.3"}"#)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(message.contains("\"1.2.3\""), "{message}");
}

#[test]
fn decimal_to_value_is_a_number_with_the_exact_text() -> TestResult {
    let d = dec("12345678901234.567890123456789");
    let value = serde_json::to_value(&d)?;
    match &value {
        Value::Number(n) => assert_eq!(n.as_str(), "12345678901234.567890123456789"),
        other => panic!("expected a number, got {other:?}"),
    }
    assert_eq!(d.to_json_number().as_str(), d.as_str());
    Ok(())
}

#[test]
fn decimal_from_value_keeps_value_and_long_digits() -> TestResult {
    let value: Value = serde_json::from_str(r#"{"q":12345678901234.567890123456789,"r":1.50}"#)?;
    let line: Line = serde_json::from_value(value.clone())?;
    assert_eq!(line.q.as_str(), "12345678901234.567890123456789");
    let r: Decimal = serde_json::from_value(value["r"].clone())?;
    assert_eq!(r.as_str(), "1.50");
    // Through `&Value` too.
    let q = Decimal::deserialize(&value["q"])?;
    assert_eq!(q.as_str(), "12345678901234.567890123456789");
    // Numbers serde_json hands over as plain integers/floats keep their value.
    for (text, expected) in [("1.0", "1.0"), ("7", "7"), ("-3", "-3"), ("0.25", "0.25")] {
        let v: Value = serde_json::from_str(text)?;
        let d: Decimal = serde_json::from_value(v)?;
        assert_eq!(d.as_str(), expected);
    }
    let v: Value = serde_json::from_str("-0")?;
    assert_eq!(serde_json::from_value::<Decimal>(v)?, dec("0"));
    Ok(())
}

#[test]
fn decimal_through_flatten_keeps_every_digit() -> TestResult {
    #[derive(Debug, Serialize, Deserialize)]
    struct Order {
        q: Decimal,
        #[serde(flatten)]
        extra: serde_json::Map<String, Value>,
    }

    // Unknown keys are listed alphabetically: without serde_json's
    // `preserve_order` feature the flattened `Map` is a `BTreeMap`, which
    // writes keys sorted. The point here is the digits.
    let json = r#"{"q":12345678901234.567890123456789,"n":[1.10,2e+30],"note":"x","unknownPrice":98765432109876543210.123456789012345678901}"#;
    let order: Order = serde_json::from_str(json)?;
    assert_eq!(order.q.as_str(), "12345678901234.567890123456789");
    match order.extra.get("unknownPrice") {
        Some(Value::Number(n)) => {
            assert_eq!(n.as_str(), "98765432109876543210.123456789012345678901")
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(serde_json::to_string(&order)?, json);
    Ok(())
}

#[test]
fn decimal_through_untagged_enum_keeps_every_digit() -> TestResult {
    #[derive(Debug, Serialize, Deserialize)]
    #[serde(untagged)]
    enum Amount {
        Exact(Decimal),
        Text(String),
    }

    let amount: Amount = serde_json::from_str("0.100000000000000000000000000001")?;
    match &amount {
        Amount::Exact(d) => assert_eq!(d.as_str(), "0.100000000000000000000000000001"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        serde_json::to_string(&amount)?,
        "0.100000000000000000000000000001"
    );
    Ok(())
}

#[test]
fn decimal_inside_json_macro_value() -> TestResult {
    let d = dec("3.14159265358979323846264338327950288");
    let value = json!({ "pi": d });
    assert_eq!(
        value.to_string(),
        r#"{"pi":3.14159265358979323846264338327950288}"#
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// DateTime: parsing
// ---------------------------------------------------------------------------

#[test]
fn date_time_parses_local_forms() {
    let plain = dt("2019-12-31T10:11:12");
    assert!(!plain.is_zoned());
    assert_eq!(plain.offset(), None);
    assert_eq!(
        plain.naive_local(),
        NaiveDate::from_ymd_opt(2019, 12, 31)
            .and_then(|d| d.and_hms_opt(10, 11, 12))
            .expect("valid")
    );
    assert_eq!(plain.as_str(), "2019-12-31T10:11:12");
    assert_eq!(plain.to_string(), "2019-12-31T10:11:12");

    let fraction = dt("2019-12-31T10:11:12.345");
    assert!(!fraction.is_zoned());
    assert_eq!(
        fraction.naive_local(),
        NaiveDate::from_ymd_opt(2019, 12, 31)
            .and_then(|d| d.and_hms_milli_opt(10, 11, 12, 345))
            .expect("valid")
    );

    let nanos = dt("2019-12-31T10:11:12.123456789");
    assert_eq!(
        nanos.naive_local(),
        NaiveDate::from_ymd_opt(2019, 12, 31)
            .and_then(|d| d.and_hms_nano_opt(10, 11, 12, 123_456_789))
            .expect("valid")
    );
    assert_eq!(
        dt("2019-12-31T10:11:12.1")
            .to_utc()
            .timestamp_subsec_millis(),
        100
    );
    assert_eq!(
        dt("2019-12-31T10:11:12,5")
            .to_utc()
            .timestamp_subsec_millis(),
        500
    );
}

#[test]
fn date_time_parses_zoned_forms() {
    let z = dt("2025-04-23T10:01:53.812Z");
    assert!(z.is_zoned());
    assert_eq!(z.offset(), Some(offset(0, 0)));
    assert_eq!(
        z.to_utc(),
        Utc.with_ymd_and_hms(2025, 4, 23, 10, 1, 53)
            .single()
            .expect("valid")
            + chrono::Duration::milliseconds(812)
    );

    for (text, expected) in [
        ("2019-12-31T10:11:12+02:00", offset(2, 0)),
        ("2019-12-31T10:11:12+0200", offset(2, 0)),
        ("2019-12-31T10:11:12+02", offset(2, 0)),
        ("2019-12-31T10:11:12-05:30", offset(-5, 30)),
        ("2019-12-31T10:11:12.5+05:45", offset(5, 45)),
        ("2019-12-31T10:11:12.123456789-0330", offset(-3, 30)),
        ("2019-12-31T10:11:12Z", offset(0, 0)),
        ("2019-12-31T10:11:12-00:00", offset(0, 0)),
    ] {
        let value = dt(text);
        assert!(value.is_zoned(), "{text}");
        assert_eq!(value.offset(), Some(expected), "{text}");
        assert_eq!(value.as_str(), text);
        assert_eq!(
            value.naive_local().format("%Y-%m-%dT%H:%M:%S").to_string(),
            "2019-12-31T10:11:12",
            "{text}"
        );
    }
}

#[test]
fn date_time_accepts_date_only_as_local_midnight() {
    let value = dt("2019-12-31");
    assert!(!value.is_zoned());
    assert_eq!(
        value.naive_local(),
        NaiveDate::from_ymd_opt(2019, 12, 31)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("valid")
    );
    assert_eq!(value, dt("2019-12-31T00:00:00Z"));
    assert_eq!(value.as_str(), "2019-12-31");
}

#[test]
fn date_time_accepts_lenient_separators_and_leap_second() {
    assert_eq!(dt("2019-12-31 10:11:12"), dt("2019-12-31T10:11:12"));
    assert_eq!(dt("2019-12-31t10:11:12z"), dt("2019-12-31T10:11:12Z"));
    // RFC 3339 puts no bound on the fraction's digits (found by fuzzing,
    // issue 23): nanoseconds count, the text keeps the rest.
    assert_eq!(
        dt("2019-12-31T10:11:12.12345678919999Z"),
        dt("2019-12-31T10:11:12.123456789Z")
    );
    assert_eq!(
        dt("2019-12-31T10:11:12.1234567891").as_str(),
        "2019-12-31T10:11:12.1234567891"
    );
    let leap = dt("2016-12-31T23:59:60Z");
    assert!(leap > dt("2016-12-31T23:59:59.999Z"));
    assert!(leap < dt("2017-01-01T00:00:00Z"));
}

#[test]
fn date_time_rejects_garbage() {
    for bad in [
        "",
        "abc",
        "2019",
        "2019-12",
        "2019-13-01",
        "2019-00-01",
        "2019-02-30",
        "2019-12-32",
        "19-12-31",
        "2019/12/31",
        "2019-12-31T",
        "2019-12-31T10",
        "2019-12-31T10:11",
        "2019-12-31T24:00:00",
        "2019-12-31T10:60:00",
        "2019-12-31T10:11:61",
        "2019-12-31T10:11:12.",
        "2019-12-31T10:11:12+2",
        "2019-12-31T10:11:12+24:00",
        "2019-12-31T10:11:12+02:60",
        "2019-12-31T10:11:12+02:00x",
        "2019-12-31T10:11:12ZZ",
        "2019-12-31T10:11:12 UTC",
        "2019-12-31X10:11:12",
        " 2019-12-31",
        "2019-12-31 ",
        "+2019-12-31",
    ] {
        let err = match bad.parse::<DateTime>() {
            Ok(v) => panic!("{bad:?} should be rejected, got {v:?}"),
            Err(err) => err,
        };
        assert_eq!(err.input(), bad);
        let message = err.to_string();
        assert!(message.contains(&format!("{bad:?}")), "{message}");
        assert!(message.contains("yyyy-MM-ddTHH:mm:ss"), "{message}");
    }
    let month = "2019-13-01".parse::<DateTime>().err().map(|e| e.reason());
    assert_eq!(month, Some("month out of range"));
}

// ---------------------------------------------------------------------------
// DateTime: comparison
// ---------------------------------------------------------------------------

#[test]
fn date_time_compares_instants_across_zones() {
    let same = [
        "2019-12-31T10:11:12Z",
        "2019-12-31T12:11:12+02:00",
        "2019-12-31T12:11:12+0200",
        "2019-12-31T05:11:12-05:00",
        "2019-12-31T10:11:12",
        "2019-12-31T10:11:12.000Z",
        "2019-12-31T10:11:12.000000000",
        "2020-01-01T00:11:12+14:00",
    ];
    for a in same {
        for b in same {
            assert_eq!(dt(a), dt(b), "{a} == {b}");
            assert_eq!(hash_of(&dt(a)), hash_of(&dt(b)), "hash {a} vs {b}");
        }
    }
    let set: HashSet<DateTime> = same.iter().map(|s| dt(s)).collect();
    assert_eq!(set.len(), 1);
    assert_ne!(dt("2019-12-31T10:11:12+02:00"), dt("2019-12-31T10:11:12Z"));
    assert_ne!(dt("2019-12-31T10:11:12.001Z"), dt("2019-12-31T10:11:12Z"));
}

#[test]
fn date_time_orders_by_instant() {
    let ascending = [
        "2019-12-31",
        "2019-12-31T09:00:00.000000001+01:00",
        "2019-12-31T08:00:00.5Z",
        "2019-12-31T10:11:12+02:00",
        "2019-12-31T08:11:12.001",
        "2019-12-31T23:59:59-01:00",
        "2020-01-01T01:00:00Z",
    ];
    for (i, a) in ascending.iter().enumerate() {
        for (j, b) in ascending.iter().enumerate() {
            assert_eq!(dt(a).cmp(&dt(b)), i.cmp(&j), "{a} vs {b}");
        }
    }
    // String order would differ from instant order here.
    assert!(dt("2019-12-31T12:00:00+05:00") < dt("2019-12-31T08:00:00Z"));
}

#[test]
fn date_time_to_utc_treats_zone_less_as_utc() {
    let local = dt("2019-12-31T10:11:12");
    assert_eq!(
        local.to_utc(),
        Utc.with_ymd_and_hms(2019, 12, 31, 10, 11, 12)
            .single()
            .expect("valid")
    );
    let zoned = dt("2019-12-31T10:11:12-03:00");
    assert_eq!(
        zoned.to_utc(),
        Utc.with_ymd_and_hms(2019, 12, 31, 13, 11, 12)
            .single()
            .expect("valid")
    );
}

#[test]
fn date_time_with_assumed_offset() {
    let cet = offset(1, 0);
    let local = dt("2019-12-31T10:11:12");
    let assumed = local.with_assumed_offset(cet);
    assert_eq!(assumed.offset(), &cet);
    assert_eq!(
        assumed.with_timezone(&Utc),
        Utc.with_ymd_and_hms(2019, 12, 31, 9, 11, 12)
            .single()
            .expect("valid")
    );
    // A zoned value keeps its own offset.
    let zoned = dt("2019-12-31T10:11:12-03:00");
    let kept = zoned.with_assumed_offset(cet);
    assert_eq!(kept.offset(), &offset(-3, 0));
    assert_eq!(kept.with_timezone(&Utc), zoned.to_utc());
}

// ---------------------------------------------------------------------------
// DateTime: conversions and serde
// ---------------------------------------------------------------------------

#[test]
fn date_time_from_chrono_utc_writes_milliseconds() {
    let instant = Utc
        .with_ymd_and_hms(2025, 4, 23, 10, 1, 53)
        .single()
        .expect("valid")
        + chrono::Duration::nanoseconds(812_345_678);
    let value = DateTime::from(instant);
    assert_eq!(value.as_str(), "2025-04-23T10:01:53.812Z");
    // The value is what the text says (sub-millisecond part truncated).
    assert_eq!(value, dt("2025-04-23T10:01:53.812Z"));
    assert_eq!(value.offset(), Some(offset(0, 0)));
}

/// A local date and time (the ERP times of what is sent) is written in the
/// one form Tradecloud documents for them, `yyyy-MM-ddTHH:mm:ss`: no zone,
/// no fraction of a second, never second 60; the value is what the text says.
#[test]
fn date_time_from_chrono_naive_writes_the_documented_local_form() {
    let documented = |text: &str| {
        text.len() == 19
            && text.as_bytes()[10] == b'T'
            && !text.contains(['.', 'Z', '+'])
            && !text.ends_with(":60")
    };
    let day = NaiveDate::from_ymd_opt(2019, 12, 31).expect("valid");
    for (time, text) in [
        (day.and_hms_opt(10, 11, 12), "2019-12-31T10:11:12"),
        (
            day.and_hms_nano_opt(10, 11, 12, 999_999_999),
            "2019-12-31T10:11:12",
        ),
        (day.and_hms_micro_opt(0, 0, 0, 1), "2019-12-31T00:00:00"),
        // A leap second (chrono: second 59 with a nanosecond of 1e9 or more).
        (
            day.and_hms_milli_opt(23, 59, 59, 1_500),
            "2019-12-31T23:59:59",
        ),
    ] {
        let value = DateTime::from(time.expect("valid"));
        assert_eq!(value.as_str(), text);
        assert!(documented(value.as_str()), "{value}");
        assert!(!value.is_zoned());
        assert_eq!(value, dt(text));
        assert_eq!(value.naive_local(), dt(text).naive_local());
    }
}

#[test]
fn date_time_now_utc_is_current_and_reparses() {
    let before = system_now() - chrono::Duration::seconds(1);
    let now = DateTime::now_utc();
    let after = system_now() + chrono::Duration::seconds(1);
    assert!(now.to_utc() > before && now.to_utc() < after);
    assert!(now.as_str().ends_with('Z'));
    assert_eq!(dt(now.as_str()), now);
}

#[test]
fn date_time_serde_round_trips_verbatim() -> TestResult {
    #[derive(Debug, Serialize, Deserialize)]
    struct Event {
        at: DateTime,
    }
    for text in [
        "2019-12-31T10:11:12",
        "2019-12-31T10:11:12.345",
        "2025-04-23T10:01:53.812Z",
        "2019-12-31T10:11:12+02:00",
        "2019-12-31T10:11:12+0200",
        "2019-12-31T10:11:12.123456789-05:00",
        "2019-12-31",
    ] {
        let json = format!(r#"{{"at":"{text}"}}"#);
        let event: Event = serde_json::from_str(&json)?;
        assert_eq!(event.at.as_str(), text);
        assert_eq!(serde_json::to_string(&event)?, json);
        assert_eq!(
            serde_json::to_value(&event.at)?,
            Value::String(text.to_owned())
        );
    }
    assert!(serde_json::from_str::<Event>(r#"{"at":"2019-12-31T25:00:00"}"#).is_err());
    assert!(serde_json::from_str::<Event>(r#"{"at":20191231}"#).is_err());
    Ok(())
}

// ---------------------------------------------------------------------------
// Date
// ---------------------------------------------------------------------------

#[test]
fn date_parses_and_compares_by_calendar_date() -> TestResult {
    let date: Date = "2019-12-31".parse()?;
    assert_eq!(
        date.date(),
        NaiveDate::from_ymd_opt(2019, 12, 31).expect("valid")
    );
    assert_eq!(date.as_str(), "2019-12-31");
    assert_eq!(date.to_string(), "2019-12-31");
    assert!(date.is_date_only());

    let lenient: Date = "2019-12-31T23:30:00-05:00".parse()?;
    assert_eq!(lenient, date, "the date as written, not converted to UTC");
    assert_eq!(lenient.as_str(), "2019-12-31T23:30:00-05:00");
    assert!(!lenient.is_date_only());
    assert_eq!(hash_of(&lenient), hash_of(&date));

    let leap_day: Date = "2020-02-29".parse()?;
    assert!(date < leap_day);
    assert_eq!(date.cmp(&date.clone()), Ordering::Equal);
    assert_eq!(
        Date::from(NaiveDate::from_ymd_opt(2020, 2, 29).expect("valid")),
        leap_day
    );
    assert_eq!(
        Date::from(NaiveDate::from_ymd_opt(2020, 2, 9).expect("valid")).as_str(),
        "2020-02-09"
    );
    Ok(())
}

#[test]
fn date_rejects_garbage() {
    for bad in [
        "",
        "abc",
        "2019-02-29",
        "2019-12-1",
        "2019-1-01",
        "31-12-2019",
        "2019-12-31T",
        "2019-12-31Z",
    ] {
        let err = match bad.parse::<Date>() {
            Ok(v) => panic!("{bad:?} should be rejected, got {v:?}"),
            Err(err) => err,
        };
        assert_eq!(err.input(), bad);
        let message = err.to_string();
        assert!(message.contains(&format!("{bad:?}")), "{message}");
        assert!(message.contains("yyyy-MM-dd"), "{message}");
    }
}

#[test]
fn date_serde_round_trips_verbatim() -> TestResult {
    #[derive(Debug, Serialize, Deserialize)]
    struct Delivery {
        date: Date,
    }
    let json = r#"{"date":"2019-12-31"}"#;
    let delivery: Delivery = serde_json::from_str(json)?;
    assert_eq!(
        delivery.date.date(),
        NaiveDate::from_ymd_opt(2019, 12, 31).expect("valid")
    );
    assert_eq!(serde_json::to_string(&delivery)?, json);
    assert!(serde_json::from_str::<Delivery>(r#"{"date":"2019-02-30"}"#).is_err());
    assert!(serde_json::from_str::<Delivery>(r#"{"date":null}"#).is_err());
    Ok(())
}
