//! `nullable` members: null means absent.
//!
//! The webhook specs mark every optional non-array member `nullable: true`,
//! because the receiver reads `"member": null` as a member that is not there
//! (a 400 would lose the event: Tradecloud never retries it). A `$ref`
//! member says so as `allOf: [{$ref: …}]` beside `nullable: true`, the
//! OpenAPI 3.0 form other tools understand (they ignore siblings of a
//! `$ref`).
//!
//! In Rust an optional member is an `Option` already, and serde reads
//! `null` as `None`, so this step only removes the markings: `nullable` is
//! dropped and the one-element `allOf` becomes the `$ref` again, and the
//! generated types are the same as without them. `nullable` anywhere else
//! (a required member, an array, a whole schema) is refused: the types have
//! no way to tell null from absent there.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::load::SpecSource;

/// Remove `nullable: true` from optional members (unwrapping their
/// one-`$ref` `allOf`), everywhere in `doc`; refuse it elsewhere.
pub(super) fn read_nullable_members(source: &SpecSource, doc: &mut Value) -> Result<()> {
    walk(source, doc, "")
}

fn walk(source: &SpecSource, value: &mut Value, pointer: &str) -> Result<()> {
    match value {
        Value::Object(map) => {
            if map.contains_key("nullable") {
                return Err(refused(
                    source,
                    pointer,
                    "a schema that is not an object member",
                ));
            }
            let required: Vec<String> = map
                .get("required")
                .and_then(Value::as_array)
                .map(|names| {
                    names
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            for (key, child) in map.iter_mut() {
                if key == "properties" {
                    let Value::Object(properties) = child else {
                        continue;
                    };
                    for (name, member) in properties.iter_mut() {
                        let at = format!("{pointer}/properties/{}", escape(name));
                        if let Value::Object(fields) = member {
                            if fields.contains_key("nullable") {
                                read_member(source, fields, required.contains(name), &at)?;
                            }
                        }
                        walk(source, member, &at)?;
                    }
                } else if !key.starts_with("x-")
                    && !matches!(key.as_str(), "example" | "examples" | "default" | "enum")
                {
                    walk(source, child, &format!("{pointer}/{}", escape(key)))?;
                }
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter_mut()
            .enumerate()
            .try_for_each(|(i, item)| walk(source, item, &format!("{pointer}/{i}"))),
        _ => Ok(()),
    }
}

/// One member with `nullable`: check it is an optional non-array member
/// marked `true`, then remove the marking.
fn read_member(
    source: &SpecSource,
    member: &mut Map<String, Value>,
    required: bool,
    pointer: &str,
) -> Result<()> {
    if member.get("nullable") != Some(&Value::Bool(true)) {
        return Err(Error::new(
            &source.path,
            format!("{pointer}/nullable"),
            "nullable member",
            "`nullable` must be `true` when present (leave it out for `false`)",
        ));
    }
    if required {
        return Err(refused(source, pointer, "a required member"));
    }
    if member.get("type").and_then(Value::as_str) == Some("array") {
        return Err(refused(source, pointer, "an array member"));
    }
    member.remove("nullable");
    if let Some(all_of) = member.remove("allOf") {
        let reference = match all_of.as_array().map(Vec::as_slice) {
            Some([Value::Object(only)]) if only.len() == 1 => only.get("$ref").cloned(),
            _ => None,
        };
        let Some(reference) = reference else {
            return Err(Error::new(
                &source.path,
                format!("{pointer}/allOf"),
                "nullable member",
                "beside `nullable: true` the generator reads `allOf` with exactly one `{$ref: …}` \
                 (the OpenAPI 3.0 way to make a reference nullable); merge the other schemas \
                 into a named component",
            ));
        };
        if member.contains_key("$ref") {
            return Err(Error::new(
                &source.path,
                pointer,
                "nullable member",
                "has both `$ref` and `allOf`: keep only `allOf: [{$ref: …}]`",
            ));
        }
        member.insert("$ref".into(), reference);
    }
    Ok(())
}

fn refused(source: &SpecSource, pointer: &str, what: &str) -> Error {
    Error::new(
        &source.path,
        format!("{pointer}/nullable"),
        "nullable",
        format!(
            "`nullable` on {what} is not supported: the generated types read null as absent, \
             which only an optional, non-array object member can mean; remove `nullable` here"
        ),
    )
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn source() -> SpecSource {
        match SpecSource::from_text(std::path::Path::new("test.yaml"), "openapi: 3.0.3") {
            Ok(source) => source,
            Err(e) => panic!("a one-line spec parses: {e}"),
        }
    }

    #[test]
    fn optional_members_lose_the_marking_and_refs_are_unwrapped() -> Result<()> {
        let mut doc = json!({"components": {"schemas": {"Meta": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "nullable": true},
                "source": {"allOf": [{"$ref": "#/components/schemas/Source"}],
                           "nullable": true, "description": "d"},
                "inline": {"type": "object", "nullable": true,
                           "properties": {"deep": {"type": "number", "nullable": true}}},
                "lines": {"type": "array", "items": {"type": "object",
                          "properties": {"n": {"type": "string", "nullable": true}}}}
            }
        }}}});
        read_nullable_members(&source(), &mut doc)?;
        assert_eq!(
            doc,
            json!({"components": {"schemas": {"Meta": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "source": {"$ref": "#/components/schemas/Source", "description": "d"},
                    "inline": {"type": "object", "properties": {"deep": {"type": "number"}}},
                    "lines": {"type": "array", "items": {"type": "object",
                              "properties": {"n": {"type": "string"}}}}
                }
            }}}})
        );
        Ok(())
    }

    fn refusal(doc: Value) -> String {
        let mut doc = doc;
        match read_nullable_members(&source(), &mut doc) {
            Ok(()) => String::from("accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn nullable_where_null_cannot_mean_absent_is_refused() {
        let required = refusal(json!({"type": "object", "required": ["id"],
            "properties": {"id": {"type": "string", "nullable": true}}}));
        assert!(
            required.contains("a required member") && required.contains("/properties/id/nullable"),
            "{required}"
        );
        let array = refusal(json!({"type": "object",
            "properties": {"lines": {"type": "array", "nullable": true, "items": {}}}}));
        assert!(array.contains("an array member"), "{array}");
        let whole = refusal(
            json!({"components": {"schemas": {"A": {"type": "string", "nullable": true}}}}),
        );
        assert!(
            whole.contains("not an object member") && whole.contains("/components/schemas/A"),
            "{whole}"
        );
        let two = refusal(
            json!({"type": "object", "properties": {"a": {"nullable": true,
            "allOf": [{"$ref": "#/x"}, {"$ref": "#/y"}]}}}),
        );
        assert!(two.contains("exactly one"), "{two}");
        let falsy = refusal(json!({"type": "object",
            "properties": {"a": {"type": "string", "nullable": false}}}));
        assert!(falsy.contains("must be `true`"), "{falsy}");
    }
}
