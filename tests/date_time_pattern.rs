//! The `pattern` every `local-date-time` and `iso-date-time` string of the
//! specs carries (so that tools that do not know these formats still check
//! the shape) accepts every value `tradecloud::types::DateTime` accepts: a
//! tool that follows the spec never refuses what the receiver reads. The
//! pattern is checked with regress, the ECMA-262 engine JSON Schema's
//! `pattern` is defined by.

use std::path::Path;

use tradecloud::types::DateTime;

/// `(file, pattern)` of every custom date-time format in the specs.
fn patterns() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs");
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("specs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("spec");
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim();
            if t == "format: local-date-time" || t == "format: iso-date-time" {
                let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or_default();
                let pattern = next.strip_prefix("pattern: ").unwrap_or_else(|| {
                    panic!("{}:{}: no pattern after `{t}`", path.display(), i + 1)
                });
                let pattern = pattern.trim_matches('\'').to_string();
                out.push((path.display().to_string(), pattern));
            }
        }
    }
    out
}

/// Date-time texts around every form and boundary `DateTime` knows, and
/// some it refuses.
fn candidates() -> Vec<String> {
    let dates = [
        "2019-12-31",
        "2020-02-29",
        "2021-02-29",
        "0000-01-01",
        "9999-12-31",
        "2019-13-01",
        "2019-00-10",
        "2019-12-32",
        "2019-1-01",
        "19-12-31",
        "2019/12/31",
        "２０１９-12-31",
    ];
    let separators = ["T", "t", " ", "_", ""];
    let times = [
        "10:11:12", "00:00:00", "23:59:59", "23:59:60", "24:00:00", "10:60:00", "10:11:61",
        "10:11", "1:11:12",
    ];
    let fractions = ["", ".1", ",5", ".123456789", ".1234567890", ".", ".812"];
    let zones = [
        "",
        "Z",
        "z",
        "+02:00",
        "-05:30",
        "+0200",
        "+02",
        "+23:59",
        "+24:00",
        "+02:60",
        "+2",
        "UTC",
        "+02:00:00",
    ];
    let mut out = Vec::new();
    for date in dates {
        out.push(date.to_string());
        for sep in separators {
            for time in times {
                for fraction in fractions {
                    for zone in zones {
                        out.push(format!("{date}{sep}{time}{fraction}{zone}"));
                    }
                }
            }
        }
    }
    out.extend(
        [
            "",
            " 2019-12-31",
            "2019-12-31 ",
            "2019-12-31T10:11:12\n",
            "2019-12-31T10:11:12Z ",
        ]
        .map(String::from),
    );
    out
}

/// Every string in the JSON fixtures (the examples' date-times among them).
fn fixture_strings(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("fixtures").flatten() {
        let path = entry.path();
        if path.is_dir() {
            fixture_strings(&path, out);
        } else if path.extension().is_some_and(|x| x == "json") {
            let Ok(value) =
                serde_json::from_slice::<serde_json::Value>(&std::fs::read(&path).expect("read"))
            else {
                continue;
            };
            fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
                match v {
                    serde_json::Value::String(s) => out.push(s.clone()),
                    serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                    serde_json::Value::Object(m) => m.values().for_each(|v| walk(v, out)),
                    _ => {}
                }
            }
            walk(&value, out);
        }
    }
}

#[test]
fn every_custom_date_time_format_carries_the_same_pattern() {
    let found = patterns();
    assert!(
        found.len() >= 30,
        "only {} date-time formats found",
        found.len()
    );
    let first = &found[0].1;
    for (file, pattern) in &found {
        assert_eq!(pattern, first, "{file}");
    }
    regress::Regex::new(first).expect("the pattern compiles as ECMA-262");
}

#[test]
fn the_pattern_accepts_every_value_date_time_accepts() {
    let (_, pattern) = patterns().into_iter().next().expect("a date-time pattern");
    let rx = regress::Regex::new(&pattern).expect("compiles");
    let mut values = candidates();
    fixture_strings(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
        &mut values,
    );
    let (mut accepted, mut refused_by_both) = (0, 0);
    for value in &values {
        let matches = rx.find(value).is_some();
        match value.parse::<DateTime>() {
            Ok(_) => {
                accepted += 1;
                assert!(
                    matches,
                    "DateTime reads {value:?} but the pattern refuses it"
                );
            }
            Err(_) if !matches => refused_by_both += 1,
            // A shape the pattern cannot see through (a day that the month
            // does not have): the type refuses it, with its reason.
            Err(_) => assert!(
                ["2021-02-29", "2019-02-30", "2019-04-31"]
                    .iter()
                    .any(|d| value.starts_with(d)),
                "the pattern accepts {value:?}, which DateTime refuses"
            ),
        }
    }
    assert!(accepted > 1_000, "{accepted}");
    assert!(refused_by_both > 10_000, "{refused_by_both}");
}
