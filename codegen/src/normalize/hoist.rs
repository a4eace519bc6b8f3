//! Inline schemas that become named components: the request and response
//! bodies of operations (`<OperationId>Body`, `<OperationId>Response<Status>`)
//! and string enums written inside other schemas.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::{child_schemas, is_string_enum, schemas, schemas_mut, LOCAL_SCHEMA_PREFIX};
use crate::error::{pointer, Error, Result};
use crate::load::SpecSource;
use crate::model::HttpMethod;
use crate::names;

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

pub(super) fn hoist_operation_schemas(source: &SpecSource, doc: &mut Value) -> Result<()> {
    let mut hoisted: Vec<(String, Value)> = Vec::new();
    let existing: BTreeSet<String> = schemas(doc)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path_key, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for method in HttpMethod::ALL {
                let method = method.key();
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
                let op_ptr = vec!["paths".to_string(), path_key.clone(), method.to_string()];
                if let Some(content) = op
                    .get_mut("requestBody")
                    .and_then(|b| b.get_mut("content"))
                    .and_then(Value::as_object_mut)
                {
                    let mut ptr = op_ptr.clone();
                    ptr.push("requestBody".into());
                    hoist_content(content, &format!("{base}Body"), &ptr, &mut take)?;
                }
                if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                    for (status, response) in responses.iter_mut() {
                        let Some(content) =
                            response.get_mut("content").and_then(Value::as_object_mut)
                        else {
                            continue;
                        };
                        let mut ptr = op_ptr.clone();
                        ptr.extend(["responses".to_string(), status.clone()]);
                        let name = format!("{base}Response{}", status_suffix(status));
                        hoist_content(content, &name, &ptr, &mut take)?;
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

/// Name the inline schema of one `content` map (of a request body or a
/// response at `ptr`) `name`: every media type of it shares that one type.
fn hoist_content(
    content: &mut Map<String, Value>,
    name: &str,
    ptr: &[String],
    take: &mut impl FnMut(&mut Value, String, Vec<String>) -> Result<()>,
) -> Result<()> {
    let mut first: Option<&str> = None;
    for (mt, media) in content.iter_mut() {
        let Some(schema) = media.get_mut("schema") else {
            continue;
        };
        if let Some(name) = first {
            if needs_name(schema) {
                *schema = json!({ "$ref": format!("{LOCAL_SCHEMA_PREFIX}{name}") });
            }
            continue;
        }
        let mut at = ptr.to_vec();
        at.extend(["content".to_string(), mt.clone(), "schema".to_string()]);
        let was_inline = needs_name(schema);
        take(schema, name.to_string(), at)?;
        if was_inline {
            first = Some(name);
        }
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

pub(super) fn hoist_inline_enums(doc: &mut Value) -> Result<()> {
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
