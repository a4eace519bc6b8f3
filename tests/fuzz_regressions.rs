//! The fuzz targets' checks (`fuzz/checks/`) under `cargo test`: every
//! input that once crashed or hung a target (`tests/fuzz-regressions/`),
//! and the test fixtures the fuzzers are seeded with. The fuzzers
//! themselves run with `scripts/fuzz.sh` (nightly, cargo-fuzz).
#![cfg(feature = "receiver")]

#[path = "../fuzz/checks/mod.rs"]
mod checks;

use std::path::{Path, PathBuf};

/// A target's checks.
type Check = fn(&[u8]);

const TARGETS: [(&str, Check); 6] = [
    ("webhook_json", checks::webhook_json),
    ("webhook_txml", checks::webhook_txml),
    ("decimal", checks::decimal),
    ("datetime", checks::datetime),
    ("config", checks::config),
    ("receiver_body", checks::receiver_body),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn every_kept_fuzz_input_passes_its_target() {
    let mut ran = 0;
    for (target, check) in TARGETS {
        for file in files(&root().join("tests/fuzz-regressions").join(target)) {
            let input = std::fs::read(&file).unwrap();
            eprintln!("{target}: {}", file.display());
            check(&input);
            ran += 1;
        }
    }
    eprintln!("{ran} kept inputs");
}

/// The fixtures the fuzzers start from pass the checks (the checks are
/// right about valid input).
#[test]
fn the_seeds_pass_the_checks() {
    let fixtures = root().join("tests/fixtures");
    for (dir, selector) in [("order-webhook", 0u8), ("shipment-webhook", 1)] {
        for file in files(&fixtures.join(dir)) {
            let mut input = vec![selector];
            input.extend(std::fs::read(&file).unwrap());
            match file.extension().and_then(|e| e.to_str()) {
                Some("json") => checks::webhook_json(&input),
                Some("xml") => checks::webhook_txml(&input),
                _ => {}
            }
        }
    }
    checks::decimal(b"12345678901234.567890\n1.2345678901234567890e13");
    checks::decimal(b"-0.000\n0");
    checks::datetime(b"2025-04-23T12:01:53.812+02:00\n2025-04-23T10:01:53.812Z");
    checks::datetime(b"2019-12-31T10:11:12\n2019-12-31");
    checks::config(&std::fs::read(root().join("tradecloud.example.toml")).unwrap());
    let body = std::fs::read(fixtures.join("order-webhook/order-event.json")).unwrap();
    let mut request = vec![0u8];
    request.extend(
        format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .bytes(),
    );
    request.extend(&body);
    assert_eq!(checks::receiver::check(&request), vec![202]);
    // Chunked, in two chunks, with an extension and a trailer.
    let (a, b) = body.split_at(body.len() / 2);
    let mut request = vec![0u8];
    request.extend(b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    request.extend(format!("{:x};ext=1\r\n", a.len()).bytes());
    request.extend(a);
    request.extend(format!("\r\n{:x}\r\n", b.len()).bytes());
    request.extend(b);
    request.extend(b"\r\n0\r\nX-Trailer: t\r\n\r\n");
    // The same message id: a duplicate, answered 200.
    assert_eq!(checks::receiver::check(&request), vec![200]);
    // Broken framing: 400, nothing stored.
    let mut request = vec![0u8];
    request.extend(b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n");
    assert_eq!(checks::receiver::check(&request), vec![400]);
}
