//! The two spec conventions the Tradecloud specs use for other tools' sake:
//! open enums written as `x-extensible-enum` (a plain string to other tools)
//! and zone-less date-times written as `format: local-date-time` /
//! `iso-date-time` (RFC 3339's `date-time` demands a zone). Both must give
//! the same Rust types as `enum` and `format: date-time`.

use std::path::PathBuf;

use tradecloud_codegen::{generate, load, Settings};

const SPEC: &str = r#"
openapi: 3.0.3
info: {title: Rules, version: "1"}
paths: {}
components:
  schemas:
    EventName:
      type: string
      description: Known event names; others are accepted.
      x-extensible-enum: [OrderIssuedByBuyer, OrderSynced]
    Event:
      type: object
      description: An event.
      properties:
        eventName: {$ref: '#/components/schemas/EventName'}
        erpIssueDateTime: {type: string, format: local-date-time, description: Local ERP time.}
        lastUpdatedAt: {type: string, format: iso-date-time, description: Zone optional.}
        createdDateTime: {type: string, format: date-time, description: Zoned.}
"#;

fn types() -> String {
    let path = PathBuf::from("specs/rules.yaml");
    let source = load::SpecSource {
        document: load::parse_text(&path, SPEC).expect("the test spec parses"),
        file_name: "rules.yaml".into(),
        module: "rules".into(),
        path,
    };
    let out = generate(vec![source], &Settings::tradecloud()).expect("generates");
    out.file("rules/types.rs").expect("types").to_string()
}

#[test]
fn extensible_enums_become_open_enums() {
    let types = types();
    assert!(types.contains("pub enum EventName"), "{types}");
    assert!(types.contains("OrderSynced"));
    assert!(types.contains("Unknown("), "unknown names are kept");
}

#[test]
fn zone_less_date_time_formats_are_date_times() {
    let types = types();
    for field in [
        "erp_issue_date_time",
        "last_updated_at",
        "created_date_time",
    ] {
        assert!(
            types.contains(&format!(
                "pub {field}: ::std::option::Option<crate::types::DateTime>"
            )),
            "{field} is a DateTime:\n{types}"
        );
    }
}
