//! Names and references: component names become Rust type names, `$ref`s
//! into sibling files become local placeholders for the sibling's type, and
//! references to parameters, request bodies, responses and headers are
//! replaced by what they point at.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::{for_each_ref, schemas, schemas_mut, unescape, LOCAL_SCHEMA_PREFIX};
use crate::error::{pointer, Error, Result};
use crate::load::SpecSource;
use crate::names;

pub(super) fn rename_components(source: &SpecSource, doc: &mut Value) -> Result<()> {
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

pub(super) fn resolve_external_refs(
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
pub(super) fn inline_operation_refs(source: &SpecSource, doc: &mut Value) -> Result<()> {
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
