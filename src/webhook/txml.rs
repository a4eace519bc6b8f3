//! tXML, Tradecloud's XML encoding of its JSON messages (`application/xml`).
//!
//! Tradecloud documents tXML as "a one-to-one mapping of the JSON": an
//! object is an element with one child element per field, a scalar is the
//! element's text, and an array is written as repeated elements that carry
//! the *singular* name of the field (`lines` → `<line>`, `names` →
//! `<name>`, `documents` → `<document>`; `deliverySchedule` is seen both as
//! repeated `<deliverySchedule>` and `<deliveryScheduleLine>`). Only the
//! schema tells which fields are arrays, so the generator emits a [`Shape`]
//! for every object schema (`types::txml_shapes`), and [`from_slice_with`]
//! uses it to build the JSON value that the generated types then decode —
//! the same types, the same rules (exact decimals, open enums, unknown
//! fields kept), whether a body came as JSON or as tXML.
//!
//! ```
//! use tradecloud::api::order_webhook_connector::types::{txml_shapes, OrderWebhookBody};
//!
//! let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
//! <webhookBody>
//!   <eventName>OrderLinesConfirmedBySupplier</eventName>
//!   <orderEvent>
//!     <orderId>o-1</orderId>
//!     <line><id>l-1</id><deliverySchedule><quantity>12345678901234.567890</quantity></deliverySchedule></line>
//!     <line><id>l-2</id></line>
//!   </orderEvent>
//! </webhookBody>"#;
//! let body: OrderWebhookBody =
//!     tradecloud::webhook::txml::from_slice_with(xml, &txml_shapes::OrderWebhookBody)?;
//! let event = body.order_event.expect("order event");
//! assert_eq!(event.lines.len(), 2);
//! let quantity = event.lines[0].delivery_schedule[0].quantity.as_ref().expect("quantity");
//! assert_eq!(quantity.as_str(), "12345678901234.567890");
//! # Ok::<(), tradecloud::webhook::txml::TxmlError>(())
//! ```
//!
//! [`to_vec_with`] writes a message the same way, for the requests that
//! Tradecloud also takes as tXML (send order, send single delivery order,
//! send order response): the root element is the message's
//! ([`Shape::element`], `SendOrderByBuyer`), a list member is written as
//! repeated elements with the singular name (`lines` → `<line>`,
//! `deliverySchedule` → `<deliveryScheduleLine>`), and what the shape does
//! not know is written as it would be read back.
//!
//! ```
//! use tradecloud::api::api_connector::types::{txml_shapes, SendOrderResponseBySupplier};
//!
//! let json = r#"{"order": {"buyerAccountNumber": "340760", "purchaseOrderNumber": "PO1"},
//!                "lines": [{"purchaseOrderLinePosition": "0001",
//!                           "deliverySchedule": [{"date": "2025-05-01", "quantity": 78.90}]}]}"#;
//! let response: SendOrderResponseBySupplier = serde_json::from_str(json)?;
//! let xml = tradecloud::webhook::txml::to_vec_with(&response, &txml_shapes::SendOrderResponseBySupplier)?;
//! let text = String::from_utf8(xml)?;
//! assert!(text.contains("<SendOrderResponseBySupplier>"));
//! assert!(text.contains("<deliveryScheduleLine>"));
//! assert!(text.contains("<quantity>78.90</quantity>"));
//! let back: SendOrderResponseBySupplier =
//!     tradecloud::webhook::txml::from_slice_with(text.as_bytes(), &txml_shapes::SendOrderResponseBySupplier)?;
//! assert_eq!(back, response);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::str::FromStr;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Number, Value};

/// The fields of an object schema and their kinds.
#[derive(Debug)]
pub struct Shape {
    /// Schema name (`""` for an inline object).
    pub name: &'static str,
    /// The element name of a message of this shape: the schema's `xml.name`
    /// (`SendOrderByBuyer`, also for the single delivery variant), else its
    /// name. Reading does not look at it; writing uses it for the root.
    pub element: &'static str,
    /// `(JSON field name, kind)` for every documented field.
    pub properties: &'static [(&'static str, Kind)],
}

/// The kind of a field, as far as tXML decoding needs to know.
#[derive(Debug)]
pub enum Kind {
    /// Text.
    String,
    /// A decimal number.
    Number,
    /// An integer.
    Integer,
    /// `true` / `false`.
    Boolean,
    /// Anything: kept as text, or as an object of its child elements.
    Any,
    /// An object with a known shape.
    Object(&'static Shape),
    /// An array of the given kind (repeated elements).
    Array(&'static Kind),
}

/// Why a tXML body could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TxmlError {
    /// Not well-formed XML (or not UTF-8).
    #[error("the body is not well-formed XML: {0}")]
    Xml(String),
    /// The XML has no root element.
    #[error("the body has no XML root element")]
    Empty,
    /// The XML was read but does not fit the message type.
    #[error("the tXML body does not match the message: {0}")]
    Mismatch(String),
    /// Nested deeper than any Tradecloud message.
    #[error("the XML is nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

const MAX_DEPTH: usize = 64;

/// An XML element: its name, its child elements and its text.
#[derive(Debug, Default)]
struct Element {
    name: String,
    children: Vec<Element>,
    text: String,
}

impl Element {
    /// The element's text without the whitespace around it (indentation,
    /// `<name> x </name>`); whitespace inside is kept.
    fn value(&self) -> &str {
        crate::types::validate::trim_text(&self.text)
    }
}

fn parse_tree(bytes: &[u8]) -> Result<Element, TxmlError> {
    let bytes = crate::webhook::json::strip_bom(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| TxmlError::Xml(format!("not UTF-8: {e}")))?;
    let mut reader = Reader::from_str(text);
    // Text is trimmed once per element (`Element::value`), not per text
    // event: quick-xml splits text at every entity (`Smith &amp; Sons` is
    // three events), and trimming each would drop the spaces around it.
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| TxmlError::Xml(e.to_string()))?;
        match event {
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(TxmlError::TooDeep);
                }
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                stack.push(Element {
                    name,
                    ..Element::default()
                });
            }
            Event::Empty(start) => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                let element = Element {
                    name,
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => set_root(&mut root, element)?,
                }
            }
            Event::Text(t) => {
                let text = t.decode().map_err(|e| TxmlError::Xml(e.to_string()))?;
                match stack.last_mut() {
                    Some(current) => current.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err(outside_root()),
                }
            }
            Event::GeneralRef(r) => {
                let Some(current) = stack.last_mut() else {
                    return Err(outside_root());
                };
                if let Some(c) = r
                    .resolve_char_ref()
                    .map_err(|e| TxmlError::Xml(e.to_string()))?
                {
                    current.text.push(c);
                } else {
                    let name = r.decode().map_err(|e| TxmlError::Xml(e.to_string()))?;
                    match quick_xml::escape::resolve_xml_entity(&name) {
                        Some(value) => current.text.push_str(value),
                        None => return Err(TxmlError::Xml(format!("unknown entity `&{name};`"))),
                    }
                }
            }
            Event::CData(t) => {
                let Some(current) = stack.last_mut() else {
                    return Err(outside_root());
                };
                current
                    .text
                    .push_str(&String::from_utf8_lossy(&t.into_inner()));
            }
            Event::End(_) => {
                let Some(element) = stack.pop() else {
                    return Err(TxmlError::Xml("unbalanced end tag".into()));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => set_root(&mut root, element)?,
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(TxmlError::Xml(
            "the document ends inside an element (truncated?)".into(),
        ));
    }
    root.ok_or(TxmlError::Empty)
}

/// Keep `element` as the document's root; a second root is an error (XML
/// allows one, and taking the last would silently drop the first).
fn set_root(root: &mut Option<Element>, element: Element) -> Result<(), TxmlError> {
    match root {
        Some(first) => Err(TxmlError::Xml(format!(
            "the document has more than one root element (<{}>, then <{}>)",
            first.name, element.name
        ))),
        None => {
            *root = Some(element);
            Ok(())
        }
    }
}

fn outside_root() -> TxmlError {
    TxmlError::Xml("text outside the root element".into())
}

/// The element name a list member's items are written with: the singular
/// name (`lines` → `line`, `properties` → `property`, `addresses` →
/// `address`), or the name with `Line` for a name that is not a plural
/// (`deliverySchedule` → `deliveryScheduleLine`), as Tradecloud's tXML
/// examples write them. [`element_matches_array`] reads all of these.
fn item_element(field: &str) -> String {
    if let Some(stem) = field.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = field.strip_suffix("sses") {
        format!("{stem}ss")
    } else if let Some(stem) = field.strip_suffix('s') {
        stem.to_string()
    } else {
        format!("{field}Line")
    }
}

/// Singular element names that an array field may be written with.
fn element_matches_array(field: &str, element: &str) -> bool {
    if element == field {
        return true;
    }
    let singular = if let Some(stem) = field.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = field.strip_suffix("sses") {
        format!("{stem}ss")
    } else if let Some(stem) = field.strip_suffix('s') {
        stem.to_string()
    } else {
        // `deliverySchedule` → `deliveryScheduleLine`, `deliveryHistory` → `deliveryHistoryLine`
        return element.strip_suffix("Line") == Some(field);
    };
    element == singular
        || element == format!("{singular}Line")
        || element.strip_suffix("Line") == Some(field)
}

fn scalar(kind: &Kind, text: &str) -> Value {
    match kind {
        Kind::Number | Kind::Integer => match Number::from_str(text.trim()) {
            Ok(n) => Value::Number(n),
            // Let the typed decoding report it with the field's path.
            Err(_) => Value::String(text.to_string()),
        },
        Kind::Boolean => match text.trim() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            other => Value::String(other.to_string()),
        },
        _ => Value::String(text.to_string()),
    }
}

fn untyped(element: &Element) -> Value {
    if element.children.is_empty() {
        return Value::String(element.value().to_string());
    }
    let mut map = Map::new();
    for child in &element.children {
        insert_untyped(&mut map, child);
    }
    Value::Object(map)
}

/// Adds `child` to `map` without a schema: once as a value, as an array when
/// the element repeats.
fn insert_untyped(map: &mut Map<String, Value>, child: &Element) {
    let value = untyped(child);
    match map.get_mut(&child.name) {
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        None => {
            map.insert(child.name.clone(), value);
        }
    }
}

/// The path of field `name` in the object at `path`, for error messages.
fn field_path(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn convert(element: &Element, kind: &Kind, path: &str) -> Result<Value, TxmlError> {
    Ok(match kind {
        Kind::Object(shape) => object(element, shape, path)?,
        Kind::Array(item) => Value::Array(vec![convert(element, item, path)?]),
        Kind::Any => untyped(element),
        scalar_kind => {
            if element.children.is_empty() {
                scalar(scalar_kind, element.value())
            } else {
                untyped(element)
            }
        }
    })
}

/// The JSON object of `element`, whose schema has `shape`; `path` is its
/// place in the message (empty for the root). A field that is not a list
/// may appear once: a repeated one is an error, as a duplicate key is in JSON.
/// Text in an object's element is an error too (`<meta>AAA</meta>`), as a
/// string where JSON expects an object is.
fn object(element: &Element, shape: &Shape, path: &str) -> Result<Value, TxmlError> {
    let text = element.value();
    if !text.is_empty() {
        let at = if path.is_empty() { "the root" } else { path };
        let shown: String = text.chars().take(40).collect();
        return Err(TxmlError::Mismatch(format!(
            "at `{at}`: the element <{}> holds the text `{shown}`, but it is an object ({}): \
             give it child elements, or leave it out",
            element.name, shape.name
        )));
    }
    let mut map = Map::new();
    for child in &element.children {
        let direct = shape
            .properties
            .iter()
            .find(|(name, _)| *name == child.name);
        let array = direct
            .filter(|(_, k)| matches!(k, Kind::Array(_)))
            .or_else(|| {
                shape.properties.iter().find(|(name, k)| {
                    matches!(k, Kind::Array(_)) && element_matches_array(name, &child.name)
                })
            });
        match (direct, array) {
            (_, Some((name, Kind::Array(item)))) => {
                let entry = map
                    .entry(name.to_string())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = entry {
                    let item_path = format!("{}[{}]", field_path(path, name), items.len());
                    items.push(convert(child, item, &item_path)?);
                }
            }
            (Some((name, kind)), _) => {
                let field = field_path(path, name);
                if map.contains_key(*name) {
                    return Err(TxmlError::Mismatch(format!(
                        "at `{field}`: the element <{name}> appears more than once, but `{name}` is not a list"
                    )));
                }
                let value = convert(child, kind, &field)?;
                map.insert(name.to_string(), value);
            }
            _ => {
                // An element this version does not know: keep it (as an
                // array when it repeats), like an unknown JSON field.
                insert_untyped(&mut map, child);
            }
        }
    }
    Ok(Value::Object(map))
}

/// Convert a tXML document into the JSON value of the message whose root
/// object has `shape` (the root element's own name is not significant).
pub fn to_json(bytes: &[u8], shape: &Shape) -> Result<Value, TxmlError> {
    let root = parse_tree(bytes)?;
    object(&root, shape, "")
}

/// Decode a tXML body into `T`, whose schema has `shape`.
///
/// Like a JSON body, the value is decoded without path tracking first; only
/// a body that does not fit `T` is decoded again to name the field. When
/// it does not fit because members sit directly under the root element that
/// belong inside an element the root lacks (`<SendOrderByBuyer><purchaseOrderNumber>`
/// where the JSON message has `order.purchaseOrderNumber`, as the
/// abbreviated tXML example of api/requests.md writes them), the error
/// also says where they go.
///
/// ```
/// use tradecloud::api::api_connector::types::{txml_shapes, SendOrderByBuyer};
///
/// let flat = br#"<SendOrderByBuyer>
///   <supplierAccountNumber>12345</supplierAccountNumber>
///   <purchaseOrderNumber>PO1</purchaseOrderNumber>
/// </SendOrderByBuyer>"#;
/// let error = tradecloud::webhook::txml::from_slice_with::<SendOrderByBuyer>(
///     flat,
///     &txml_shapes::SendOrderByBuyer,
/// )
/// .unwrap_err()
/// .to_string();
/// assert!(error.contains("missing field `order`"), "{error}");
/// assert!(error.contains("<SendOrderByBuyer><order><supplierAccountNumber>"), "{error}");
/// ```
pub fn from_slice_with<T: DeserializeOwned>(bytes: &[u8], shape: &Shape) -> Result<T, TxmlError> {
    let root = parse_tree(bytes)?;
    let value = object(&root, shape, "")?;
    // Through text, so that numbers keep every digit (arbitrary precision).
    let text = serde_json::to_string(&value).map_err(|e| TxmlError::Mismatch(e.to_string()))?;
    crate::webhook::json::decode(text.as_bytes()).map_err(|e| {
        TxmlError::Mismatch(match misplaced_members(&root, shape) {
            Some(hint) => format!("{}; {hint}", e.detail()),
            None => e.detail(),
        })
    })
}

/// Whether an element `name` is a member of `shape` (a list member also by
/// its item elements, [`element_matches_array`]).
fn is_member(shape: &Shape, name: &str) -> bool {
    shape.properties.iter().any(|(field, kind)| {
        *field == name || (matches!(kind, Kind::Array(_)) && element_matches_array(field, name))
    })
}

/// For a message that does not fit its type: when children of the root
/// element are not members of the message but of an object member the
/// root lacks (the one most of them belong to), how to nest them. tXML is
/// a 1-on-1 translation of the JSON message (api/requests.md,
/// api/json-vs-xml.md), so they go inside that member's element. Only for
/// a body that fails to decode: unknown elements are kept otherwise, as
/// unknown JSON members are.
fn misplaced_members(root: &Element, shape: &Shape) -> Option<String> {
    let mut strays: Vec<&str> = Vec::new();
    for child in &root.children {
        if !is_member(shape, &child.name) && !strays.contains(&child.name.as_str()) {
            strays.push(&child.name);
        }
    }
    let mut best: Option<(&str, Vec<&str>)> = None;
    for (field, kind) in shape.properties {
        let Kind::Object(inner) = kind else {
            continue;
        };
        if root.children.iter().any(|c| c.name == *field) {
            continue;
        }
        let belong: Vec<&str> = strays
            .iter()
            .copied()
            .filter(|name| is_member(inner, name))
            .collect();
        if !belong.is_empty() && best.as_ref().is_none_or(|(_, b)| belong.len() > b.len()) {
            best = Some((field, belong));
        }
    }
    let (field, belong) = best?;
    let listed = belong
        .iter()
        .map(|name| format!("<{name}>"))
        .collect::<Vec<_>>()
        .join(", ");
    let example: String = belong
        .iter()
        .take(3)
        .map(|name| format!("<{name}>…</{name}>"))
        .collect();
    let root_name = &root.name;
    Some(format!(
        "{listed} directly under the root element <{root_name}> belong inside <{field}>: tXML \
         is a 1-on-1 translation of the JSON message, which nests them in `{field}`, so write \
         <{root_name}><{field}>{example}…</{field}>…</{root_name}>"
    ))
}

/// Encode `value` (a message whose schema has `shape`) as a tXML document.
///
/// tXML has no `null` and no empty list: a member that is `null` and a list
/// without items are left out (which the reader reads as absent). Numbers
/// keep every digit, as in JSON.
pub fn to_vec_with<T: Serialize>(value: &T, shape: &Shape) -> Result<Vec<u8>, TxmlError> {
    let value = serde_json::to_value(value).map_err(|e| TxmlError::Mismatch(e.to_string()))?;
    to_xml(&value, shape)
}

/// Encode the JSON `value` of a message whose schema has `shape` as a tXML
/// document (see [`to_vec_with`]). The value must be an object.
pub fn to_xml(value: &Value, shape: &Shape) -> Result<Vec<u8>, TxmlError> {
    let Value::Object(map) = value else {
        return Err(TxmlError::Mismatch(format!(
            "a tXML message is an object, not {}",
            kind_name(value)
        )));
    };
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    write(
        &mut writer,
        Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)),
    )?;
    let root = if shape.element.is_empty() {
        shape.name
    } else {
        shape.element
    };
    write_object(&mut writer, root, map, Some(shape), "")?;
    let mut bytes = writer.into_inner();
    bytes.push(b'\n');
    Ok(bytes)
}

fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn write(writer: &mut Writer<Vec<u8>>, event: Event<'_>) -> Result<(), TxmlError> {
    writer
        .write_event(event)
        .map_err(|e| TxmlError::Xml(e.to_string()))
}

/// Whether `name` can be an XML element name as written (letters, digits,
/// `_`, `-`, `.`, not starting with a digit, `-` or `.`; no `:`).
fn is_element_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn write_object(
    writer: &mut Writer<Vec<u8>>,
    element: &str,
    map: &Map<String, Value>,
    shape: Option<&Shape>,
    path: &str,
) -> Result<(), TxmlError> {
    write(writer, Event::Start(BytesStart::new(element)))?;
    for (name, value) in map {
        let field = field_path(path, name);
        if !is_element_name(name) {
            return Err(TxmlError::Mismatch(format!(
                "at `{field}`: `{name}` cannot be written as an XML element name"
            )));
        }
        let kind = shape.and_then(|s| s.properties.iter().find(|(n, _)| n == name).map(|(_, k)| k));
        match (kind, value) {
            (_, Value::Null) => {}
            (Some(Kind::Array(item)), Value::Array(items)) => {
                let element = item_element(name);
                for (i, v) in items.iter().enumerate() {
                    write_value(writer, &element, v, Some(item), &format!("{field}[{i}]"))?;
                }
            }
            (None, Value::Array(items)) => {
                // Unknown: repeated elements of its own name, as read back.
                for (i, v) in items.iter().enumerate() {
                    write_value(writer, name, v, None, &format!("{field}[{i}]"))?;
                }
            }
            (kind, v) => write_value(writer, name, v, kind, &field)?,
        }
    }
    write(writer, Event::End(BytesEnd::new(element)))
}

fn write_value(
    writer: &mut Writer<Vec<u8>>,
    element: &str,
    value: &Value,
    kind: Option<&Kind>,
    path: &str,
) -> Result<(), TxmlError> {
    let text = match value {
        Value::Null => return Ok(()),
        Value::Object(map) => {
            let shape = match kind {
                Some(Kind::Object(shape)) => Some(*shape),
                _ => None,
            };
            return write_object(writer, element, map, shape, path);
        }
        Value::Array(_) => {
            return Err(TxmlError::Mismatch(format!(
                "at `{path}`: a list inside a list cannot be written in tXML"
            )))
        }
        Value::String(s) => {
            if let Some(c) = s.chars().find(|&c| !is_xml_char(c)) {
                return Err(TxmlError::Mismatch(format!(
                    "at `{path}`: the character U+{:04X} cannot be written in XML 1.0 (tXML); \
                     remove it from the text or send this message as JSON",
                    u32::from(c)
                )));
            }
            s.clone()
        }
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
    };
    write(writer, Event::Start(BytesStart::new(element)))?;
    let escaped = quick_xml::escape::escape(text.as_str());
    let text = if escaped.contains('\r') {
        // A reader turns a bare carriage return into a line feed: written
        // as a reference, it reads back as itself.
        BytesText::from_escaped(escaped.replace('\r', "&#13;"))
    } else {
        BytesText::from_escaped(escaped)
    };
    write(writer, Event::Text(text))?;
    write(writer, Event::End(BytesEnd::new(element)))
}

/// Whether XML 1.0 can carry `c` in text (its `Char` production: tab, line
/// feed, carriage return, and everything from U+0020 but U+FFFE and U+FFFF).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_fields_accept_singular_element_names() {
        assert!(element_matches_array("lines", "line"));
        assert!(element_matches_array("names", "name"));
        assert!(element_matches_array("addressLines", "addressLine"));
        assert!(element_matches_array("properties", "property"));
        assert!(element_matches_array(
            "deliverySchedule",
            "deliverySchedule"
        ));
        assert!(element_matches_array(
            "deliverySchedule",
            "deliveryScheduleLine"
        ));
        assert!(element_matches_array("chargeLines", "chargeLine"));
        assert!(!element_matches_array("lines", "label"));
    }

    #[test]
    fn text_xml_cannot_carry_is_refused_and_carriage_returns_survive() {
        static NOTE: Shape = Shape {
            name: "Note",
            element: "Note",
            properties: &[],
        };
        for bad in ["a\u{0}b", "a\u{1}b", "a\u{1F}b", "a\u{FFFF}b"] {
            let err = to_xml(&serde_json::json!({"description": bad}), &NOTE).unwrap_err();
            assert!(
                matches!(&err, TxmlError::Mismatch(m) if m.contains("`description`") && m.contains("XML 1.0")),
                "{err:?}"
            );
        }
        let text = "line one\r\nline two\ttab & <more> \"quoted\" \u{e9}";
        let xml = to_xml(&serde_json::json!({"description": text}), &NOTE).unwrap();
        let back = to_json(&xml, &NOTE).unwrap();
        assert_eq!(back["description"], text);
    }

    #[test]
    fn malformed_and_truncated_xml_are_errors() {
        static EMPTY: Shape = Shape {
            name: "X",
            element: "X",
            properties: &[],
        };
        assert!(matches!(
            to_json(b"<a><b></a>", &EMPTY),
            Err(TxmlError::Xml(_))
        ));
        assert!(matches!(
            to_json(b"<a><b>text</b>", &EMPTY),
            Err(TxmlError::Xml(_))
        ));
        assert!(matches!(to_json(b"", &EMPTY), Err(TxmlError::Empty)));
        assert!(matches!(
            to_json(&[0xff, 0xfe], &EMPTY),
            Err(TxmlError::Xml(_))
        ));
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(matches!(
            to_json(deep.as_bytes(), &EMPTY),
            Err(TxmlError::TooDeep)
        ));
    }

    static LEAF: Shape = Shape {
        name: "Leaf",
        element: "Leaf",
        properties: &[("id", Kind::String), ("tags", Kind::Array(&Kind::String))],
    };
    static ROOT: Shape = Shape {
        name: "Root",
        element: "Root",
        properties: &[("name", Kind::String), ("leaf", Kind::Object(&LEAF))],
    };

    #[test]
    fn a_second_root_element_is_an_error() {
        let e = to_json(b"<a><name>x</name></a><b><name>y</name></b>", &ROOT).unwrap_err();
        assert!(
            matches!(&e, TxmlError::Xml(m) if m.contains("more than one root element (<a>, then <b>)")),
            "{e}"
        );
        assert!(matches!(
            to_json(b"<a/><b/>", &ROOT),
            Err(TxmlError::Xml(_))
        ));
        assert!(matches!(
            to_json(b"<a/>text", &ROOT),
            Err(TxmlError::Xml(_))
        ));
        // Whitespace, a declaration and comments around the root are fine.
        assert!(to_json(b"<?xml version=\"1.0\"?>\n<!-- c -->\n<a/>\n", &ROOT).is_ok());
    }

    #[test]
    fn a_repeated_field_that_is_not_a_list_is_an_error() {
        let e = to_json(b"<a><name>x</name><name>y</name></a>", &ROOT).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the tXML body does not match the message: at `name`: the element <name> appears more than once, but `name` is not a list"
        );
        let e = to_json(b"<a><leaf><id>1</id><id>2</id></leaf></a>", &ROOT).unwrap_err();
        assert!(e.to_string().contains("at `leaf.id`"), "{e}");
        // Lists repeat; unknown elements that repeat are kept as a list.
        let value = to_json(
            b"<a><leaf><tag>t1</tag><tag>t2</tag><x>1</x><x>2</x></leaf></a>",
            &ROOT,
        )
        .unwrap();
        assert_eq!(
            value,
            serde_json::json!({"leaf": {"tags": ["t1", "t2"], "x": ["1", "2"]}})
        );
    }

    #[test]
    fn text_in_an_object_element_is_an_error() {
        let e = to_json(b"<a><leaf>AAA</leaf></a>", &ROOT).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the tXML body does not match the message: at `leaf`: the element <leaf> holds the text `AAA`, but it is an object (Leaf): give it child elements, or leave it out"
        );
        let e = to_json(b"<a>null</a>", &ROOT).unwrap_err();
        assert!(e.to_string().contains("at `the root`"), "{e}");
        // An empty object element, and whitespace around children, are fine.
        assert_eq!(
            to_json(b"<a>\n <leaf/>\n <name> x </name>\n</a>", &ROOT).unwrap(),
            serde_json::json!({"leaf": {}, "name": "x"})
        );
    }

    #[test]
    fn spaces_around_entities_are_kept() {
        // quick-xml reports `A &amp; B` as three events; trimming each one
        // read it as `A&B`.
        let value = to_json(
            b"<a><name>  Smith &amp; Sons &lt;NL&gt; </name><leaf><id>Lloyd&apos;s Register</id></leaf></a>",
            &ROOT,
        )
        .unwrap();
        assert_eq!(
            value,
            serde_json::json!({"name": "Smith & Sons <NL>", "leaf": {"id": "Lloyd's Register"}})
        );
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let value = to_json(b"\xEF\xBB\xBF<a><name>x</name></a>", &ROOT).unwrap();
        assert_eq!(value, serde_json::json!({"name": "x"}));
    }

    #[test]
    fn item_elements_are_the_names_the_reader_reads() {
        for (field, element) in [
            ("lines", "line"),
            ("names", "name"),
            ("addressLines", "addressLine"),
            ("properties", "property"),
            ("deliverySchedule", "deliveryScheduleLine"),
            ("deliveryHistory", "deliveryHistoryLine"),
            ("chargeLines", "chargeLine"),
            ("deliveries", "delivery"),
            ("addresses", "address"),
        ] {
            assert_eq!(item_element(field), element);
            assert!(element_matches_array(field, element), "{field}");
        }
    }

    #[test]
    fn writing_and_reading_give_the_same_value() {
        let value = serde_json::json!({
            "name": "a < b & \"c\"",
            "leaf": {"id": "1", "tags": ["t1", "t2"], "unknown": {"x": "y"}},
            "extra": ["e1", "e2"],
            "gone": null
        });
        let xml = to_xml(&value, &ROOT).unwrap();
        let text = String::from_utf8(xml.clone()).unwrap();
        assert!(
            text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Root>"),
            "{text}"
        );
        assert!(text.contains("<tag>t1</tag>"), "{text}");
        assert!(!text.contains("gone"), "{text}");
        let back = to_json(&xml, &ROOT).unwrap();
        let mut expected = value.clone();
        expected.as_object_mut().unwrap().remove("gone");
        assert_eq!(back, expected);
    }

    #[test]
    fn what_xml_cannot_hold_is_an_error() {
        assert!(to_xml(&serde_json::json!([1]), &ROOT).is_err());
        let e = to_xml(&serde_json::json!({"a b": 1}), &ROOT).unwrap_err();
        assert!(e.to_string().contains("at `a b`"), "{e}");
        let e = to_xml(&serde_json::json!({"leaf": {"tags": [["x"]]}}), &ROOT).unwrap_err();
        assert!(e.to_string().contains("at `leaf.tags[0]`"), "{e}");
    }
}
