//! Limits: the rules a spec states on an operation's request (`minimum`,
//! `maximum`, lengths, item counts, patterns), collected from its
//! parameters and its request body, following `$ref`s into this spec's and
//! sibling specs' components. The runtime reads them from the operation
//! table (the poll page size is the `limit` member's `maximum`).

use serde_json::{Number, Value};

use crate::error::escape_token;
use crate::model::{MediaType, Operation, SchemaIndex};

/// Where a limited member is (the runtime's `Location`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitLocation {
    Body,
    Path,
    Query,
    Header,
}

/// A numeric bound as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bound {
    Integer(i128),
    /// A number with a fraction, as written.
    Decimal(String),
}

/// One JSON Schema rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rule {
    Minimum { value: Bound, exclusive: bool },
    Maximum { value: Bound, exclusive: bool },
    MinLength(u64),
    MaxLength(u64),
    Pattern(String),
    MinItems(u64),
    MaxItems(u64),
}

/// A rule for one request member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Limit {
    pub(crate) location: LimitLocation,
    /// A JSON pointer into the body (`*` for every item of an array), or
    /// the parameter's name (followed by a pointer into its value).
    pub(crate) path: String,
    pub(crate) rule: Rule,
}

/// Nesting beyond this is not searched (a guard against deep or cyclic
/// schemas that are not cycles of `$ref`s).
const MAX_DEPTH: usize = 32;

/// The limits of `op`'s parameters and request body, in spec order.
pub(crate) fn of_operation(
    index: &SchemaIndex,
    module: &str,
    document: &Value,
    op: &Operation,
) -> Vec<Limit> {
    let mut walker = Walker {
        index,
        document,
        out: Vec::new(),
        stack: Vec::new(),
    };
    let Some(item) = document.get("paths").and_then(|p| p.get(&op.path)) else {
        return Vec::new();
    };
    let operation = item.get(op.method.key());
    // Path-item parameters, overridden by the operation's own.
    let mut params: Vec<&Value> = Vec::new();
    for list in [
        item.get("parameters"),
        operation.and_then(|o| o.get("parameters")),
    ] {
        for p in list.and_then(Value::as_array).into_iter().flatten() {
            let p = walker.local(p, "parameters");
            let key = |p: &Value| (p.get("name").cloned(), p.get("in").cloned());
            params.retain(|q| key(q) != key(p));
            params.push(p);
        }
    }
    for p in params {
        let location = match p.get("in").and_then(Value::as_str) {
            Some("path") => LimitLocation::Path,
            Some("query") => LimitLocation::Query,
            Some("header") => LimitLocation::Header,
            _ => continue,
        };
        let (Some(name), Some(schema)) = (p.get("name").and_then(Value::as_str), p.get("schema"))
        else {
            continue;
        };
        walker.walk(schema, module, location, name.to_string(), 0);
    }
    if let (Some(body), Some(model_body)) = (
        operation.and_then(|o| o.get("requestBody")),
        op.body.as_ref(),
    ) {
        let body = walker.local(body, "requestBodies");
        // The media type clients send (JSON when there is one): the members
        // and their rules are the same in every media type of a body.
        let schema = model_body
            .client_media_type()
            .map(MediaType::as_str)
            .and_then(|m| body.get("content")?.get(m)?.get("schema"));
        if let Some(schema) = schema {
            walker.walk(schema, module, LimitLocation::Body, String::new(), 0);
        }
    }
    walker.out
}

struct Walker<'a> {
    index: &'a SchemaIndex,
    document: &'a Value,
    out: Vec<Limit>,
    /// The components being walked (module, name): a `$ref` back to one of
    /// them is a cycle and is not followed again.
    stack: Vec<(String, String)>,
}

impl<'a> Walker<'a> {
    /// `value`, or what its `$ref` points at in `components/<kind>` of
    /// this document.
    fn local(&self, value: &'a Value, kind: &str) -> &'a Value {
        value
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix(&format!("#/components/{kind}/")))
            .and_then(|name| self.document.get("components")?.get(kind)?.get(name))
            .unwrap_or(value)
    }

    fn push(&mut self, location: LimitLocation, path: &str, rule: Rule) {
        let limit = Limit {
            location,
            path: path.to_string(),
            rule,
        };
        if !self.out.contains(&limit) {
            self.out.push(limit);
        }
    }

    fn walk(
        &mut self,
        schema: &Value,
        module: &str,
        location: LimitLocation,
        path: String,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        if let Some(name) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
        {
            let index = self.index;
            let Some((owner, target)) = index.resolve(module, name) else {
                return;
            };
            let key = (owner.to_string(), name.to_string());
            if self.stack.contains(&key) {
                return;
            }
            self.stack.push(key);
            self.walk(target, owner, location, path, depth + 1);
            self.stack.pop();
            return;
        }
        for rule in rules(schema) {
            self.push(location, &path, rule);
        }
        for member in schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.walk(member, module, location, path.clone(), depth + 1);
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, property) in properties {
                let member = format!("{path}/{}", escape_token(name));
                self.walk(property, module, location, member, depth + 1);
            }
        }
        if let Some(items) = schema.get("items") {
            self.walk(items, module, location, format!("{path}/*"), depth + 1);
        }
    }
}

/// The rules a schema states itself (not its members').
fn rules(schema: &Value) -> Vec<Rule> {
    let mut rules = Vec::new();
    for (bound, exclusive_key, is_max) in [
        ("minimum", "exclusiveMinimum", false),
        ("maximum", "exclusiveMaximum", true),
    ] {
        // OpenAPI 3.0: a boolean beside the bound; 3.1: the bound itself.
        let (value, exclusive) = match (schema.get(bound), schema.get(exclusive_key)) {
            (_, Some(Value::Number(n))) => (Some(n), true),
            (Some(Value::Number(n)), exclusive) => {
                (Some(n), exclusive.and_then(Value::as_bool) == Some(true))
            }
            _ => (None, false),
        };
        if let Some(value) = value {
            let value = bound_of(value);
            rules.push(if is_max {
                Rule::Maximum { value, exclusive }
            } else {
                Rule::Minimum { value, exclusive }
            });
        }
    }
    let count = |key: &str| schema.get(key).and_then(Value::as_u64);
    if let Some(n) = count("minLength") {
        rules.push(Rule::MinLength(n));
    }
    if let Some(n) = count("maxLength") {
        rules.push(Rule::MaxLength(n));
    }
    if let Some(p) = schema.get("pattern").and_then(Value::as_str) {
        rules.push(Rule::Pattern(p.to_string()));
    }
    if let Some(n) = count("minItems") {
        rules.push(Rule::MinItems(n));
    }
    if let Some(n) = count("maxItems") {
        rules.push(Rule::MaxItems(n));
    }
    rules
}

fn bound_of(n: &Number) -> Bound {
    if let Some(i) = n.as_i64() {
        return Bound::Integer(i.into());
    }
    if let Some(u) = n.as_u64() {
        return Bound::Integer(u.into());
    }
    match n.as_f64() {
        // A whole number written as `1e3` or `100.0`, exactly representable.
        Some(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
            Bound::Integer(f as i128)
        }
        _ => Bound::Decimal(n.to_string()),
    }
}
