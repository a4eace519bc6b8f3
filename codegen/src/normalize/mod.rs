//! Normalisation: turns the documents as written into the shape the
//! analysis and the emitters expect, without changing their meaning.
//!
//! * component names become Rust type names (the same rule typify uses);
//! * `$ref`s into sibling files (`common.yaml#/components/schemas/Order`)
//!   become local placeholders that the emitters map to the sibling module;
//! * inline request and response schemas of operations become named
//!   components (`<OperationId>Body`, `<OperationId>Response<Status>`), so
//!   clients and server stubs share one set of named types;
//! * inline string enums become named components; every string enum is then
//!   emitted as an *open* enum that keeps unknown values;
//! * string schemas with `x-extensible-enum` (an open list of known values,
//!   which other tools read as a plain string) are read as enums;
//! * numbers, `date-time` and `date` strings are pointed at the exact
//!   `Decimal`, `DateTime` and `Date` types with the `x-rust-type` extension
//!   (and `format: uuid` identifiers at plain text, `Id`); the custom formats
//!   `local-date-time` (no zone) and `iso-date-time` (zone optional) are
//!   `DateTime` too, which accepts every form;
//! * `nullable: true` on optional members (null means absent, which their
//!   `Option` already reads) is removed, a nullable `allOf: [{$ref}]` is
//!   the `$ref` again ([`nulls`]);
//! * objects that do not forbid additional properties get
//!   `additionalProperties: {}` so that typify keeps unknown fields.
//!
//! The steps live in [`refs`] (names and references), [`hoist`] (inline
//! schemas that become named components) and [`annotate`] (Rust types of
//! scalars, open objects).

mod annotate;
mod hoist;
mod nulls;
mod refs;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::load::SpecSource;

use annotate::{annotate_schemas, read_extensible_enums};

pub(crate) use annotate::is_date_time_format;
use hoist::{hoist_inline_enums, hoist_operation_schemas};
use refs::{inline_operation_refs, rename_components, resolve_external_refs};

/// Name of the crate that the generated code is compiled into, as written in
/// `x-rust-type` extensions (rewritten to `crate` through typify's settings).
pub(crate) const RUNTIME_CRATE: &str = "tradecloud";

/// A string enum found in a spec, emitted as an open enum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnumDef {
    /// Rust type name.
    pub(crate) name: String,
    /// Documentation (schema description).
    pub(crate) description: Option<String>,
    /// Documented values in spec order.
    pub(crate) values: Vec<String>,
}

/// A spec after normalisation.
#[derive(Debug, Clone)]
pub(crate) struct Normalized {
    /// The source it came from (path, module name).
    pub(crate) source: SpecSource,
    /// The normalised document.
    pub(crate) document: Value,
    /// Open enums defined by this spec.
    pub(crate) enums: Vec<EnumDef>,
    /// Components that are defined in a sibling spec: type name → module.
    pub(crate) externals: BTreeMap<String, String>,
}

/// Normalise every spec of a set. External references are resolved against
/// the other members of the set.
pub(crate) fn normalize_all(sources: &[SpecSource]) -> Result<Vec<Normalized>> {
    // Pass 1: rename components in every file, so that external references
    // can be rewritten with the final names.
    let mut renamed = Vec::with_capacity(sources.len());
    for source in sources {
        let mut doc = source.document.clone();
        check_version(source, &doc)?;
        nulls::read_nullable_members(source, &mut doc)?;
        read_extensible_enums(&mut doc);
        rename_components(source, &mut doc)?;
        renamed.push(doc);
    }
    let by_file: BTreeMap<&str, usize> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| (s.file_name.as_str(), i))
        .collect();
    let mut out = Vec::with_capacity(sources.len());
    for (index, source) in sources.iter().enumerate() {
        let mut doc = renamed[index].clone();
        let externals = resolve_external_refs(source, &mut doc, &by_file, sources, &renamed)?;
        inline_operation_refs(source, &mut doc)?;
        hoist_operation_schemas(source, &mut doc)?;
        hoist_inline_enums(&mut doc)?;
        let enums = collect_enums(&doc);
        annotate_schemas(&mut doc);
        out.push(Normalized {
            source: source.clone(),
            document: doc,
            enums,
            externals,
        });
    }
    Ok(out)
}

fn check_version(source: &SpecSource, doc: &Value) -> Result<()> {
    match doc.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.0.") => Ok(()),
        Some(v) => Err(Error::new(
            &source.path,
            "/openapi",
            "OpenAPI version",
            format!("version {v} is not supported; the generator reads OpenAPI 3.0.x documents (convert Swagger 2.0 or 3.1 files to 3.0.3 first)"),
        )),
        None => Err(Error::new(
            &source.path,
            "/openapi",
            "OpenAPI version",
            if doc.get("swagger").is_some() {
                "this is a Swagger 2.0 document; convert it to OpenAPI 3.0.3 first".to_string()
            } else {
                "the `openapi: 3.0.x` field is missing; is this an OpenAPI document?".to_string()
            },
        )),
    }
}

fn schemas(doc: &Value) -> Option<&Map<String, Value>> {
    doc.get("components")?.get("schemas")?.as_object()
}

fn schemas_mut(doc: &mut Value) -> &mut Map<String, Value> {
    let root = doc.as_object_mut().expect("checked: document is an object");
    let components = root
        .entry("components")
        .or_insert_with(|| Value::Object(Map::new()));
    if !components.is_object() {
        *components = Value::Object(Map::new());
    }
    let components = components.as_object_mut().expect("just made an object");
    let schemas = components
        .entry("schemas")
        .or_insert_with(|| Value::Object(Map::new()));
    if !schemas.is_object() {
        *schemas = Value::Object(Map::new());
    }
    schemas.as_object_mut().expect("just made an object")
}

const LOCAL_SCHEMA_PREFIX: &str = "#/components/schemas/";

/// Apply `f` to every `$ref` string in the document.
fn for_each_ref(
    value: &mut Value,
    path: &mut Vec<String>,
    f: &mut dyn FnMut(&mut String, &[String]) -> Result<()>,
) -> Result<()> {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                path.push(k.clone());
                if k == "$ref" {
                    if let Value::String(s) = v {
                        f(s, path)?;
                    }
                } else {
                    for_each_ref(v, path, f)?;
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                path.push(i.to_string());
                for_each_ref(v, path, f)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn is_string_enum(schema: &Value) -> bool {
    schema
        .get("enum")
        .and_then(Value::as_array)
        .is_some_and(|values| {
            !values.is_empty() && values.iter().all(|v| v.is_string() || v.is_null())
        })
        && matches!(
            schema.get("type").and_then(Value::as_str),
            Some("string") | None
        )
}

/// Children of a schema object that are themselves schemas, as
/// (key path, schema) pairs; used for recursive walks.
fn child_schemas(schema: &mut Map<String, Value>) -> Vec<(Vec<String>, &mut Value)> {
    let mut out = Vec::new();
    for (key, value) in schema.iter_mut() {
        match key.as_str() {
            "properties" => {
                if let Some(props) = value.as_object_mut() {
                    for (name, prop) in props.iter_mut() {
                        out.push((vec!["properties".into(), name.clone()], prop));
                    }
                }
            }
            "items" | "not" => out.push((vec![key.clone()], value)),
            "additionalProperties" if value.is_object() => out.push((vec![key.clone()], value)),
            "allOf" | "oneOf" | "anyOf" => {
                if let Some(items) = value.as_array_mut() {
                    for (i, item) in items.iter_mut().enumerate() {
                        out.push((vec![key.clone(), i.to_string()], item));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn collect_enums(doc: &Value) -> Vec<EnumDef> {
    let Some(map) = schemas(doc) else {
        return Vec::new();
    };
    map.iter()
        .filter(|(_, s)| is_string_enum(s))
        .map(|(name, s)| EnumDef {
            name: name.clone(),
            description: s
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string),
            values: s
                .get("enum")
                .and_then(Value::as_array)
                .map(|vs| {
                    vs.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}
