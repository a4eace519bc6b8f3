//! Schema classification, done once for the whole spec set: which
//! components are objects and enums (in every module, so that a spec knows
//! what a shared component of a sibling is), and for every object its
//! properties with their documentation and value kind.
//!
//! The value kind is what the tXML decoder needs (tXML writes an array as
//! repeated elements, which only the schema can tell): see `emit::shapes`.
//! The constraints (`pattern` with its `x-pattern-description`, `minItems`,
//! `maxItems`, and in `x-request-rules` also `uniqueBy` of a list) and
//! `x-keep-empty` are what the generated `Validate` impls
//! check and how optional lists are typed: see `emit::validate` and
//! `emit::types`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::model::External;
use crate::normalize::Normalized;

/// How a property's value is written, as far as the tXML decoder cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ValueKind {
    String,
    Number,
    Integer,
    Boolean,
    Any,
    Array(Box<ValueKind>),
    /// A named object schema, of this spec (`module: None`) or of a sibling.
    Named {
        name: String,
        module: Option<String>,
    },
    /// An object written inline.
    Inline(Vec<Property>),
}

/// What a property's value must satisfy beyond its type, and how an
/// optional list is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Constraints {
    /// `pattern` of a plain string (not of a date-time, date or enum: their
    /// types check their shape themselves; but in `x-request-rules` of a
    /// date or date-time too, see `request_constraints`), an ECMA-262 regex.
    pub(crate) pattern: Option<String>,
    /// `x-pattern-description` beside that `pattern`: what a matching
    /// value is, in words that follow "must be" in the message of a value
    /// that does not match ("a 3-letter ISO 4217 currency code in capitals,
    /// e.g. EUR").
    pub(crate) pattern_description: Option<String>,
    /// `minItems` of a list.
    pub(crate) min_items: Option<u64>,
    /// `maxItems` of a list.
    pub(crate) max_items: Option<u64>,
    /// `minLength` of a plain string, in characters.
    pub(crate) min_length: Option<u64>,
    /// `maxLength` of a plain string, in characters.
    pub(crate) max_length: Option<u64>,
    /// `x-keep-empty: true` on an optional list: an empty list is a value of
    /// its own (sent as `[]`), not the same as an absent one.
    pub(crate) keep_empty: bool,
    /// `uniqueBy` of a list's `x-request-rules` (only there): the wire name
    /// of a text member of its items' object schema that no two items may
    /// share. Compared trimmed; absent and blank values are nobody's repeat
    /// (`types::validate::unique` in the runtime).
    pub(crate) unique_by: Option<String>,
}

impl Constraints {
    /// Whether there is anything to check.
    pub(crate) fn checks_anything(&self) -> bool {
        self.pattern.is_some()
            || self.min_items.is_some()
            || self.max_items.is_some()
            || self.min_length.is_some()
            || self.max_length.is_some()
            || self.unique_by.is_some()
    }
}

/// A property of an object schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Property {
    /// Name on the wire.
    pub(crate) wire: String,
    /// Its description (also next to a `$ref`, which OpenAPI 3.0 ignores but
    /// the specs use to document shared types where they are used).
    pub(crate) description: Option<String>,
    pub(crate) deprecated: bool,
    pub(crate) kind: ValueKind,
    /// Whether the schema lists it in `required`.
    pub(crate) required: bool,
    pub(crate) constraints: Constraints,
    /// The constraints of its `x-request-rules`: they apply only when the
    /// member is part of a message sent to Tradecloud (see
    /// [`ObjectModel::request_required`]).
    pub(crate) request: Constraints,
}

/// An object schema of a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectModel {
    /// Properties in spec order.
    pub(crate) properties: Vec<Property>,
    /// The XML element name of a message of this schema (`xml.name`), if the
    /// spec gives one.
    pub(crate) xml_name: Option<String>,
    /// `x-request-rules.required` of the schema: the members a value of it
    /// must have when it is part of a message sent to Tradecloud, although
    /// the type (shared with the received messages) leaves them optional.
    pub(crate) request_required: Vec<String>,
    /// `x-request-rules.dependentRequired` of the schema: a member given
    /// and the members it then needs, when it is sent to Tradecloud.
    pub(crate) dependent_required: Vec<(String, Vec<String>)>,
}

impl ObjectModel {
    /// Whether it states rules of its own for a message sent to Tradecloud
    /// (`x-request-rules` of the schema or of a member).
    pub(crate) fn has_request_rules(&self) -> bool {
        !self.request_required.is_empty()
            || !self.dependent_required.is_empty()
            || self.properties.iter().any(|p| p.request.checks_anything())
    }

    /// The property with this wire name.
    pub(crate) fn property(&self, wire: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.wire == wire)
    }
}

/// The components of one spec.
struct ModuleSchemas {
    /// Local component schemas (placeholders of shared ones left out).
    schemas: BTreeMap<String, Value>,
    enums: BTreeSet<String>,
    /// Components defined in a sibling: name → module.
    externals: BTreeMap<String, String>,
}

/// The components of every spec of the set, by module.
pub(crate) struct SchemaIndex {
    modules: BTreeMap<String, ModuleSchemas>,
}

/// An object schema: it has properties, and a type of `object` or none.
fn is_object(schema: &Value) -> bool {
    schema.get("properties").is_some_and(Value::is_object)
        && matches!(
            schema.get("type").and_then(Value::as_str),
            Some("object") | None
        )
}

/// The constraints of a property schema as the normalised document has it
/// (a date-time, date or uuid string has an `x-rust-type` by then, an enum a
/// `$ref`: their `pattern` is their type's business), read from `rules`:
/// the property itself, or its `x-request-rules`.
fn constraints(prop: &Value, rules: &Value) -> Constraints {
    let ty = prop.get("type").and_then(Value::as_str);
    let count = |key: &str| rules.get(key).and_then(Value::as_u64);
    let plain_string = ty == Some("string")
        && prop.get("x-rust-type").is_none()
        && prop.get("enum").is_none()
        && prop.get("format").is_none();
    let is_array = ty == Some("array");
    let pattern = rules
        .get("pattern")
        .and_then(Value::as_str)
        .filter(|_| plain_string)
        .map(str::to_string);
    Constraints {
        pattern_description: rules
            .get("x-pattern-description")
            .and_then(Value::as_str)
            .filter(|_| pattern.is_some())
            .map(str::to_string),
        pattern,
        min_items: count("minItems").filter(|_| is_array),
        max_items: count("maxItems").filter(|_| is_array),
        min_length: count("minLength").filter(|_| plain_string),
        max_length: count("maxLength").filter(|_| plain_string),
        keep_empty: is_array && rules.get("x-keep-empty").and_then(Value::as_bool) == Some(true),
        unique_by: None,
    }
}

/// The constraints of a property's `x-request-rules`: those [`constraints`]
/// reads; `uniqueBy` of a list (a keyword of `x-request-rules` only, so it
/// is not read from the property itself); and the `pattern` of a date or
/// date-time string too (checked on its text, `Date::as_str` or
/// `DateTime::as_str`): the type reads every form Tradecloud sends, and a
/// message sent to Tradecloud may have to use one of them (a local
/// date-time `YYYY-MM-DDThh:mm:ss`, a date `YYYY-MM-DD`).
fn request_constraints(prop: &Value, rules: &Value) -> Constraints {
    let mut request = constraints(prop, rules);
    let ty = prop.get("type").and_then(Value::as_str);
    request.unique_by = rules
        .get("uniqueBy")
        .and_then(Value::as_str)
        .filter(|_| ty == Some("array"))
        .map(str::to_string);
    let dated = ty == Some("string")
        && prop.get("x-rust-type").is_some()
        && prop.get("enum").is_none()
        && prop
            .get("format")
            .and_then(Value::as_str)
            .is_some_and(|f| f == "date" || crate::normalize::is_date_time_format(f));
    if dated && request.pattern.is_none() {
        request.pattern = rules
            .get("pattern")
            .and_then(Value::as_str)
            .map(str::to_string);
        request.pattern_description = rules
            .get("x-pattern-description")
            .and_then(Value::as_str)
            .filter(|_| request.pattern.is_some())
            .map(str::to_string);
    }
    request
}

/// `x-request-rules.required` and `.dependentRequired` of an object schema.
fn object_request_rules(schema: &Value) -> (Vec<String>, Vec<(String, Vec<String>)>) {
    let Some(rules) = schema.get("x-request-rules") else {
        return (Vec::new(), Vec::new());
    };
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let required = rules.get("required").map(names).unwrap_or_default();
    let dependent = rules
        .get("dependentRequired")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), names(v))).collect())
        .unwrap_or_default();
    (required, dependent)
}

/// Nesting beyond this is reported as `Any` (a guard against cycles of
/// non-object schemas).
const MAX_DEPTH: usize = 16;

impl SchemaIndex {
    pub(crate) fn new(specs: &[Normalized]) -> Self {
        let modules = specs
            .iter()
            .map(|n| {
                let schemas = n
                    .document
                    .pointer("/components/schemas")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .filter(|(name, _)| !n.externals.contains_key(*name))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                let enums = n.enums.iter().map(|e| e.name.clone()).collect();
                let externals = n.externals.clone();
                (
                    n.source.module.clone(),
                    ModuleSchemas {
                        schemas,
                        enums,
                        externals,
                    },
                )
            })
            .collect();
        SchemaIndex { modules }
    }

    /// Whether `module` defines an object schema `name`.
    pub(crate) fn is_object(&self, module: &str, name: &str) -> bool {
        self.modules
            .get(module)
            .and_then(|m| m.schemas.get(name))
            .is_some_and(is_object)
    }

    /// The component `name` as seen from `module`: the module that defines
    /// it (`module` itself, or the sibling it is shared from) and its schema.
    pub(crate) fn resolve<'s>(
        &'s self,
        module: &'s str,
        name: &str,
    ) -> Option<(&'s str, &'s Value)> {
        let mut module = module;
        // A shared component may be re-shared; a few hops are plenty.
        for _ in 0..4 {
            let m = self.modules.get(module)?;
            match m.externals.get(name) {
                Some(owner) => module = owner,
                None => return m.schemas.get(name).map(|s| (module, s)),
            }
        }
        None
    }

    /// Whether `module` defines an open enum `name`.
    pub(crate) fn is_enum(&self, module: &str, name: &str) -> bool {
        self.modules
            .get(module)
            .is_some_and(|m| m.enums.contains(name))
    }

    /// The object schemas `module` defines, analysed.
    pub(crate) fn objects_of(
        &self,
        module: &str,
        externals: &BTreeMap<String, External>,
    ) -> BTreeMap<String, ObjectModel> {
        let Some(own) = self.modules.get(module) else {
            return BTreeMap::new();
        };
        let ctx = KindContext {
            schemas: &own.schemas,
            externals,
        };
        own.schemas
            .iter()
            .filter(|(_, s)| is_object(s))
            .map(|(name, s)| {
                let (request_required, dependent_required) = object_request_rules(s);
                let object = ObjectModel {
                    properties: ctx.properties(s, 0),
                    request_required,
                    dependent_required,
                    xml_name: s
                        .pointer("/xml/name")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                };
                (name.clone(), object)
            })
            .collect()
    }
}

/// What resolving a schema's kind needs: the spec's own components and
/// what its shared components are.
struct KindContext<'a> {
    schemas: &'a BTreeMap<String, Value>,
    externals: &'a BTreeMap<String, External>,
}

impl KindContext<'_> {
    fn properties(&self, schema: &Value, depth: usize) -> Vec<Property> {
        let Some(props) = schema.get("properties").and_then(Value::as_object) else {
            return Vec::new();
        };
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        props
            .iter()
            .map(|(wire, prop)| Property {
                wire: wire.clone(),
                description: prop
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                deprecated: prop.get("deprecated").and_then(Value::as_bool) == Some(true),
                kind: self.kind(prop, depth),
                required: required.contains(&wire.as_str()),
                constraints: constraints(prop, prop),
                request: prop
                    .get("x-request-rules")
                    .map(|rules| request_constraints(prop, rules))
                    .unwrap_or_default(),
            })
            .collect()
    }

    fn kind(&self, schema: &Value, depth: usize) -> ValueKind {
        if depth > MAX_DEPTH {
            return ValueKind::Any;
        }
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let Some(name) = r.strip_prefix("#/components/schemas/") else {
                return ValueKind::Any;
            };
            if let Some(external) = self.externals.get(name) {
                // Shared enums and scalars are text in tXML.
                return if external.is_object {
                    ValueKind::Named {
                        name: name.to_string(),
                        module: Some(external.module.clone()),
                    }
                } else {
                    ValueKind::String
                };
            }
            return match self.schemas.get(name) {
                Some(target) if is_object(target) => ValueKind::Named {
                    name: name.to_string(),
                    module: None,
                },
                Some(target) => self.kind(target, depth + 1),
                None => ValueKind::Any,
            };
        }
        if schema.get("enum").is_some() {
            return ValueKind::String;
        }
        match schema.get("type").and_then(Value::as_str) {
            Some("string") => ValueKind::String,
            Some("number") => ValueKind::Number,
            Some("integer") => ValueKind::Integer,
            Some("boolean") => ValueKind::Boolean,
            Some("array") => ValueKind::Array(Box::new(
                schema
                    .get("items")
                    .map_or(ValueKind::Any, |i| self.kind(i, depth + 1)),
            )),
            _ if is_object(schema) => ValueKind::Inline(self.properties(schema, depth + 1)),
            _ => ValueKind::Any,
        }
    }
}
