//! What schemas mean in Rust: numbers, date-time (`date-time`,
//! `local-date-time`, `iso-date-time`), `date` and `uuid` strings get an
//! `x-rust-type` extension naming the runtime's exact types, objects that do
//! not forbid additional properties get `additionalProperties: {}`, so that
//! typify keeps unknown fields, and `x-extensible-enum` lists are read as
//! enums.

use serde_json::{json, Value};

use super::{child_schemas, RUNTIME_CRATE};
use crate::model::HttpMethod;
use crate::runtime;

/// Formats of date-times: RFC 3339 `date-time`, and the custom formats
/// Tradecloud's data needs, `local-date-time` (no zone) and `iso-date-time`
/// (ISO 8601: a zone or none). `DateTime` parses all of them.
pub(crate) fn is_date_time_format(format: &str) -> bool {
    matches!(format, "date-time" | "local-date-time" | "iso-date-time")
}

/// Read `x-extensible-enum: [values]` on a string schema without `enum`
/// (an open enum: other tools see a plain string) as `enum: [values]`, so
/// that it becomes an open Rust enum like every other string enum.
pub(super) fn read_extensible_enums(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if !map.contains_key("enum") {
                if let Some(values) = map.get("x-extensible-enum").filter(|v| v.is_array()) {
                    let values = values.clone();
                    map.insert("enum".into(), values);
                }
            }
            for (_, child) in map.iter_mut() {
                read_extensible_enums(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(read_extensible_enums),
        _ => {}
    }
}

fn rust_type_ext(path: &str) -> Value {
    json!({ "crate": RUNTIME_CRATE, "version": "*", "path": format!("{RUNTIME_CRATE}::{path}") })
}

/// Add `x-rust-type` to scalar schemas and `additionalProperties: {}` to
/// open objects, everywhere a schema can occur.
pub(super) fn annotate_schemas(doc: &mut Value) {
    fn annotate(schema: &mut Value) {
        let Some(map) = schema.as_object_mut() else {
            return;
        };
        if map.contains_key("$ref") {
            return;
        }
        let ty = map.get("type").and_then(Value::as_str).map(str::to_string);
        let format = map
            .get("format")
            .and_then(Value::as_str)
            .map(str::to_string);
        match (ty.as_deref(), format.as_deref()) {
            (Some("number"), _) => {
                map.insert("x-rust-type".into(), rust_type_ext(runtime::DECIMAL));
            }
            (Some("string"), Some(f)) if is_date_time_format(f) && !map.contains_key("enum") => {
                map.insert("x-rust-type".into(), rust_type_ext(runtime::DATE_TIME));
            }
            (Some("string"), Some("date")) if !map.contains_key("enum") => {
                map.insert("x-rust-type".into(), rust_type_ext(runtime::DATE));
            }
            // Identifiers stay text (typify would use the `uuid` crate).
            (Some("string"), Some("uuid")) if !map.contains_key("enum") => {
                map.insert("x-rust-type".into(), rust_type_ext(runtime::ID));
            }
            _ => {}
        }
        let is_object =
            ty.as_deref() == Some("object") || (ty.is_none() && map.contains_key("properties"));
        if is_object && map.contains_key("properties") {
            let open = matches!(
                map.get("additionalProperties"),
                None | Some(Value::Bool(true))
            );
            if open {
                map.insert("additionalProperties".into(), json!({}));
            }
        }
        for (_, child) in child_schemas(map) {
            annotate(child);
        }
    }
    fn annotate_media(content: Option<&mut Value>) {
        if let Some(content) = content.and_then(Value::as_object_mut) {
            for (_, media) in content.iter_mut() {
                if let Some(schema) = media.get_mut("schema") {
                    annotate(schema);
                }
            }
        }
    }
    fn annotate_params(params: Option<&mut Value>) {
        if let Some(params) = params.and_then(Value::as_array_mut) {
            for p in params {
                if let Some(schema) = p.get_mut("schema") {
                    annotate(schema);
                }
            }
        }
    }
    if let Some(components) = doc.get_mut("components").and_then(Value::as_object_mut) {
        if let Some(schemas) = components.get_mut("schemas").and_then(Value::as_object_mut) {
            for (_, s) in schemas.iter_mut() {
                annotate(s);
            }
        }
        if let Some(params) = components
            .get_mut("parameters")
            .and_then(Value::as_object_mut)
        {
            for (_, p) in params.iter_mut() {
                if let Some(schema) = p.get_mut("schema") {
                    annotate(schema);
                }
            }
        }
        if let Some(bodies) = components
            .get_mut("requestBodies")
            .and_then(Value::as_object_mut)
        {
            for (_, b) in bodies.iter_mut() {
                annotate_media(b.get_mut("content"));
            }
        }
        if let Some(responses) = components
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        {
            for (_, r) in responses.iter_mut() {
                annotate_media(r.get_mut("content"));
            }
        }
    }
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (_, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            annotate_params(item.get_mut("parameters"));
            for method in HttpMethod::ALL {
                let Some(op) = item.get_mut(method.key()) else {
                    continue;
                };
                annotate_params(op.get_mut("parameters"));
                annotate_media(op.get_mut("requestBody").and_then(|b| b.get_mut("content")));
                if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                    for (_, r) in responses.iter_mut() {
                        annotate_media(r.get_mut("content"));
                    }
                }
            }
        }
    }
}
