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
//! * objects that do not forbid additional properties get
//!   `additionalProperties: {}` so that typify keeps unknown fields.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::error::{pointer, Error, Result};
use crate::load::SpecSource;
use crate::names;

/// Name of the crate that the generated code is compiled into, as written in
/// `x-rust-type` extensions (rewritten to `crate` through typify's settings).
pub const RUNTIME_CRATE: &str = "tradecloud";

/// A string enum found in a spec, emitted as an open enum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumDef {
    /// Rust type name.
    pub name: String,
    /// Documentation (schema description).
    pub description: Option<String>,
    /// Documented values in spec order.
    pub values: Vec<String>,
    /// JSON pointer of the definition (for messages).
    pub pointer: String,
}

/// A spec after normalisation.
#[derive(Debug, Clone)]
pub struct Normalized {
    /// The source it came from (path, module name).
    pub source: SpecSource,
    /// The normalised document.
    pub document: Value,
    /// Open enums defined by this spec.
    pub enums: Vec<EnumDef>,
    /// Components that are defined in a sibling spec: type name → module.
    pub externals: BTreeMap<String, String>,
}

/// Normalise every spec of a set. External references are resolved against
/// the other members of the set.
pub fn normalize_all(sources: &[SpecSource]) -> Result<Vec<Normalized>> {
    // Pass 1: rename components in every file, so that external references
    // can be rewritten with the final names.
    let mut renamed = Vec::with_capacity(sources.len());
    for source in sources {
        let mut doc = source.document.clone();
        check_version(source, &doc)?;
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

fn rename_components(source: &SpecSource, doc: &mut Value) -> Result<()> {
    let Some(existing) = schemas(doc) else {
        return Ok(());
    };
    let mut renames = BTreeMap::new();
    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    for name in existing.keys() {
        let new = names::type_name(name);
        if let Some(other) = taken.insert(new.clone(), name.clone()) {
            return Err(Error::new(
                &source.path,
                pointer(["components", "schemas", name.as_str()]),
                "schema name",
                format!(
                    "`{name}` and `{other}` both become the Rust type `{new}`; rename one of them"
                ),
            ));
        }
        if &new != name {
            renames.insert(name.clone(), new);
        }
    }
    if renames.is_empty() {
        return Ok(());
    }
    let map = schemas_mut(doc);
    let old = std::mem::take(map);
    for (k, v) in old {
        let key = renames.get(&k).cloned().unwrap_or(k);
        map.insert(key, v);
    }
    for_each_ref(doc, &mut Vec::new(), &mut |r, _| {
        if let Some(name) = r.strip_prefix(LOCAL_SCHEMA_PREFIX) {
            let name = unescape(name);
            if let Some(new) = renames.get(&name) {
                *r = format!("{LOCAL_SCHEMA_PREFIX}{new}");
            }
        }
        Ok(())
    })
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn resolve_external_refs(
    source: &SpecSource,
    doc: &mut Value,
    by_file: &BTreeMap<&str, usize>,
    sources: &[SpecSource],
    renamed: &[Value],
) -> Result<BTreeMap<String, String>> {
    let mut externals: BTreeMap<String, String> = BTreeMap::new();
    let local: BTreeSet<String> = schemas(doc)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    for_each_ref(doc, &mut Vec::new(), &mut |r, path| {
        if r.starts_with('#') {
            if r.starts_with("#/") {
                return Ok(());
            }
            return Err(Error::new(
                &source.path,
                pointer(path),
                "$ref",
                format!("`{r}` is not a JSON pointer reference"),
            ));
        }
        let (file, frag) = r.split_once('#').unwrap_or((r.as_str(), ""));
        let file = file.trim_start_matches("./");
        let Some(&index) = by_file.get(file) else {
            return Err(Error::new(
                &source.path,
                pointer(path),
                "external $ref",
                format!("`{r}` points at `{file}`, which is not a spec file in the same directory; put it beside this file or inline the schema"),
            ));
        };
        let Some(name) = frag.strip_prefix("/components/schemas/") else {
            return Err(Error::new(
                &source.path,
                pointer(path),
                "external $ref",
                format!("`{r}`: only schemas (`{file}#/components/schemas/Name`) can be shared between files"),
            ));
        };
        let name = names::type_name(&unescape(name));
        let target_exists = schemas(&renamed[index]).is_some_and(|m| m.contains_key(&name));
        if !target_exists {
            return Err(Error::new(
                &source.path,
                pointer(path),
                "external $ref",
                format!("`{r}`: `{file}` has no schema named `{name}`"),
            ));
        }
        if local.contains(&name) {
            return Err(Error::new(
                &source.path,
                pointer(path),
                "external $ref",
                format!("`{r}` has the same name as this file's own schema `{name}`; rename one of them"),
            ));
        }
        externals.insert(name.clone(), sources[index].module.clone());
        *r = format!("{LOCAL_SCHEMA_PREFIX}{name}");
        Ok(())
    })?;
    // Placeholders, replaced by the sibling module's type in the emitters.
    let map = schemas_mut(doc);
    for (name, module) in &externals {
        map.insert(
            name.clone(),
            json!({ "description": format!("Defined in the `{module}` spec."), "x-tradecloud-external": module }),
        );
    }
    Ok(externals)
}

/// Replace `$ref`s to `components/parameters`, `requestBodies`,
/// `responses` and `headers` inside paths by the referenced objects, so that
/// every later step (and progenitor) sees plain operations.
fn inline_operation_refs(source: &SpecSource, doc: &mut Value) -> Result<()> {
    let components = doc.get("components").cloned().unwrap_or(Value::Null);
    let Some(paths) = doc.get_mut("paths") else {
        return Ok(());
    };
    fn resolve(
        value: &mut Value,
        components: &Value,
        source: &SpecSource,
        path: &mut Vec<String>,
        depth: usize,
    ) -> Result<()> {
        if depth > 32 {
            return Err(Error::new(
                &source.path,
                pointer(path.iter()),
                "$ref",
                "reference chain too deep (a cycle?)",
            ));
        }
        if let Some(r) = value
            .get("$ref")
            .and_then(Value::as_str)
            .map(str::to_string)
        {
            for kind in ["parameters", "requestBodies", "responses", "headers"] {
                let prefix = format!("#/components/{kind}/");
                if let Some(name) = r.strip_prefix(&prefix) {
                    let target = components
                        .get(kind)
                        .and_then(|m| m.get(unescape(name)))
                        .cloned();
                    let Some(target) = target else {
                        return Err(Error::new(
                            &source.path,
                            pointer(path.iter()),
                            "$ref",
                            format!("`{r}` does not exist"),
                        ));
                    };
                    *value = target;
                    return resolve(value, components, source, path, depth + 1);
                }
            }
            return Ok(());
        }
        match value {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if k == "schema" || k == "schemas" {
                        continue;
                    }
                    path.push(k.clone());
                    resolve(v, components, source, path, depth)?;
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter_mut().enumerate() {
                    path.push(i.to_string());
                    resolve(v, components, source, path, depth)?;
                    path.pop();
                }
            }
            _ => {}
        }
        Ok(())
    }
    let mut path = vec!["paths".to_string()];
    resolve(paths, &components, source, &mut path, 0)
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn is_ref(v: &Value) -> bool {
    v.get("$ref").is_some()
}

/// A schema that deserves its own named type: objects, arrays of objects,
/// enums and compositions. Plain scalars stay inline.
fn needs_name(schema: &Value) -> bool {
    if is_ref(schema) {
        return false;
    }
    let ty = schema.get("type").and_then(Value::as_str);
    if schema.get("enum").is_some() {
        return true;
    }
    match ty {
        Some("object") => true,
        Some("array") => schema
            .get("items")
            .is_some_and(|i| !is_ref(i) && needs_name(i)),
        None => {
            schema.get("properties").is_some()
                || schema.get("allOf").is_some()
                || schema.get("oneOf").is_some()
                || schema.get("anyOf").is_some()
        }
        _ => false,
    }
}

fn hoist_operation_schemas(source: &SpecSource, doc: &mut Value) -> Result<()> {
    let mut hoisted: Vec<(String, Value)> = Vec::new();
    let existing: BTreeSet<String> = schemas(doc)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path_key, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for method in METHODS {
                let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) else {
                    continue;
                };
                let op_id = op
                    .get("operationId")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{method}-{path_key}"));
                let base = names::type_name(&op_id);
                let mut take = |schema: &mut Value, name: String, ptr: Vec<String>| -> Result<()> {
                    if !needs_name(schema) {
                        return Ok(());
                    }
                    if existing.contains(&name) || hoisted.iter().any(|(n, _)| n == &name) {
                        return Err(Error::new(
                            &source.path,
                            pointer(ptr),
                            "inline schema",
                            format!("would be named `{name}`, which is already a schema name; move the inline schema to components"),
                        ));
                    }
                    let inline = std::mem::replace(
                        schema,
                        json!({ "$ref": format!("{LOCAL_SCHEMA_PREFIX}{name}") }),
                    );
                    hoisted.push((name, inline));
                    Ok(())
                };
                if let Some(content) = op
                    .get_mut("requestBody")
                    .and_then(|b| b.get_mut("content"))
                    .and_then(Value::as_object_mut)
                {
                    // All media types of one body share one type.
                    let mut first: Option<String> = None;
                    for (mt, media) in content.iter_mut() {
                        if let Some(schema) = media.get_mut("schema") {
                            let ptr = vec![
                                "paths".into(),
                                path_key.clone(),
                                method.into(),
                                "requestBody".into(),
                                "content".into(),
                                mt.clone(),
                                "schema".into(),
                            ];
                            if let Some(name) = &first {
                                if needs_name(schema) {
                                    *schema =
                                        json!({ "$ref": format!("{LOCAL_SCHEMA_PREFIX}{name}") });
                                }
                                continue;
                            }
                            let name = format!("{base}Body");
                            let was_inline = needs_name(schema);
                            take(schema, name.clone(), ptr)?;
                            if was_inline {
                                first = Some(name);
                            }
                        }
                    }
                }
                if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                    for (status, response) in responses.iter_mut() {
                        let Some(content) =
                            response.get_mut("content").and_then(Value::as_object_mut)
                        else {
                            continue;
                        };
                        let mut first: Option<String> = None;
                        for (mt, media) in content.iter_mut() {
                            if let Some(schema) = media.get_mut("schema") {
                                let ptr = vec![
                                    "paths".into(),
                                    path_key.clone(),
                                    method.into(),
                                    "responses".into(),
                                    status.clone(),
                                    "content".into(),
                                    mt.clone(),
                                    "schema".into(),
                                ];
                                if let Some(name) = &first {
                                    if needs_name(schema) {
                                        *schema = json!({ "$ref": format!("{LOCAL_SCHEMA_PREFIX}{name}") });
                                    }
                                    continue;
                                }
                                let name = format!("{base}Response{}", status_suffix(status));
                                let was_inline = needs_name(schema);
                                take(schema, name.clone(), ptr)?;
                                if was_inline {
                                    first = Some(name);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    let map = schemas_mut(doc);
    for (name, schema) in hoisted {
        map.insert(name, schema);
    }
    Ok(())
}

fn status_suffix(status: &str) -> String {
    if status.eq_ignore_ascii_case("default") {
        "Default".into()
    } else {
        status.to_ascii_uppercase()
    }
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

fn hoist_inline_enums(doc: &mut Value) -> Result<()> {
    let mut taken: BTreeSet<String> = schemas(doc)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let mut hoisted = Vec::new();
    fn walk(
        schema: &mut Value,
        name_hint: &str,
        ptr: &mut Vec<String>,
        taken: &mut BTreeSet<String>,
        hoisted: &mut Vec<(String, Value)>,
    ) -> Result<()> {
        let Some(map) = schema.as_object_mut() else {
            return Ok(());
        };
        for (keys, child) in child_schemas(map) {
            let hint = match keys.first().map(String::as_str) {
                Some("properties") => format!("{name_hint}{}", names::type_name(&keys[1])),
                Some("items") => format!("{name_hint}Item"),
                Some("additionalProperties") => format!("{name_hint}Value"),
                _ => format!(
                    "{name_hint}Variant{}",
                    keys.get(1).cloned().unwrap_or_default()
                ),
            };
            let depth = keys.len();
            ptr.extend(keys);
            if is_string_enum(child) && !is_ref(child) {
                let mut name = hint.clone();
                let mut n = 2;
                while taken.contains(&name) {
                    name = format!("{hint}{n}");
                    n += 1;
                }
                taken.insert(name.clone());
                let mut inline = std::mem::replace(
                    child,
                    json!({ "$ref": format!("{LOCAL_SCHEMA_PREFIX}{name}") }),
                );
                if let Some(m) = inline.as_object_mut() {
                    m.entry("type").or_insert_with(|| json!("string"));
                }
                hoisted.push((name, inline));
            } else {
                walk(child, &hint, ptr, taken, hoisted)?;
            }
            ptr.truncate(ptr.len() - depth);
        }
        Ok(())
    }
    let names: Vec<String> = schemas(doc)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let map = schemas_mut(doc);
    for name in names {
        if let Some(schema) = map.get_mut(&name) {
            let mut ptr = vec![
                "components".to_string(),
                "schemas".to_string(),
                name.clone(),
            ];
            walk(schema, &name, &mut ptr, &mut taken, &mut hoisted)?;
        }
    }
    for (name, schema) in hoisted {
        map.insert(name, schema);
    }
    Ok(())
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
            pointer: pointer(["components", "schemas", name.as_str()]),
        })
        .collect()
}

/// Formats of date-times: RFC 3339 `date-time`, and the custom formats
/// Tradecloud's data needs, `local-date-time` (no zone) and `iso-date-time`
/// (ISO 8601: a zone or none). `DateTime` parses all of them.
fn is_date_time_format(format: &str) -> bool {
    matches!(format, "date-time" | "local-date-time" | "iso-date-time")
}

/// Read `x-extensible-enum: [values]` on a string schema without `enum`
/// (an open enum: other tools see a plain string) as `enum: [values]`, so
/// that it becomes an open Rust enum like every other string enum.
fn read_extensible_enums(value: &mut Value) {
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
fn annotate_schemas(doc: &mut Value) {
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
                map.insert("x-rust-type".into(), rust_type_ext("types::Decimal"));
            }
            (Some("string"), Some(f)) if is_date_time_format(f) && !map.contains_key("enum") => {
                map.insert("x-rust-type".into(), rust_type_ext("types::DateTime"));
            }
            (Some("string"), Some("date")) if !map.contains_key("enum") => {
                map.insert("x-rust-type".into(), rust_type_ext("types::Date"));
            }
            // Identifiers stay text (typify would use the `uuid` crate).
            (Some("string"), Some("uuid")) if !map.contains_key("enum") => {
                map.insert("x-rust-type".into(), rust_type_ext("types::Id"));
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
            for method in METHODS {
                let Some(op) = item.get_mut(method) else {
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
