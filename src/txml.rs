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
//!     tradecloud::txml::from_slice_with(xml, &txml_shapes::OrderWebhookBody)?;
//! let event = body.order_event.expect("order event");
//! assert_eq!(event.lines.len(), 2);
//! let quantity = event.lines[0].delivery_schedule[0].quantity.as_ref().expect("quantity");
//! assert_eq!(quantity.as_str(), "12345678901234.567890");
//! # Ok::<(), tradecloud::txml::TxmlError>(())
//! ```

use std::str::FromStr;

use quick_xml::events::Event;
use quick_xml::Reader;
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};

/// The fields of an object schema and their kinds.
#[derive(Debug)]
pub struct Shape {
    /// Schema name (`""` for an inline object).
    pub name: &'static str,
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

fn parse_tree(bytes: &[u8]) -> Result<Element, TxmlError> {
    let text = std::str::from_utf8(bytes).map_err(|e| TxmlError::Xml(format!("not UTF-8: {e}")))?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(true);
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
                    None => root = Some(element),
                }
            }
            Event::Text(t) => {
                if let Some(current) = stack.last_mut() {
                    let text = t.decode().map_err(|e| TxmlError::Xml(e.to_string()))?;
                    current.text.push_str(&text);
                }
            }
            Event::GeneralRef(r) => {
                let Some(current) = stack.last_mut() else {
                    continue;
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
                if let Some(current) = stack.last_mut() {
                    current
                        .text
                        .push_str(&String::from_utf8_lossy(&t.into_inner()));
                }
            }
            Event::End(_) => {
                let Some(element) = stack.pop() else {
                    return Err(TxmlError::Xml("unbalanced end tag".into()));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => root = Some(element),
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
        return Value::String(element.text.clone());
    }
    let mut map = Map::new();
    for child in &element.children {
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
    Value::Object(map)
}

fn convert(element: &Element, kind: &Kind) -> Value {
    match kind {
        Kind::Object(shape) => object(element, shape),
        Kind::Array(item) => Value::Array(vec![convert(element, item)]),
        Kind::Any => untyped(element),
        scalar_kind => {
            if element.children.is_empty() {
                scalar(scalar_kind, &element.text)
            } else {
                untyped(element)
            }
        }
    }
}

fn object(element: &Element, shape: &Shape) -> Value {
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
                let value = convert(child, item);
                let entry = map
                    .entry(name.to_string())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = entry {
                    items.push(value);
                }
            }
            (Some((name, kind)), _) => {
                map.insert(name.to_string(), convert(child, kind));
            }
            _ => {
                // An element this version does not know: keep it (as an
                // array when it repeats), like an unknown JSON field.
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
        }
    }
    Value::Object(map)
}

/// Convert a tXML document into the JSON value of the message whose root
/// object has `shape` (the root element's own name is not significant).
pub fn to_json(bytes: &[u8], shape: &Shape) -> Result<Value, TxmlError> {
    let root = parse_tree(bytes)?;
    Ok(object(&root, shape))
}

/// Decode a tXML body into `T`, whose schema has `shape`.
pub fn from_slice_with<T: DeserializeOwned>(bytes: &[u8], shape: &Shape) -> Result<T, TxmlError> {
    let value = to_json(bytes, shape)?;
    // Through text, so that numbers keep every digit (arbitrary precision).
    let text = serde_json::to_string(&value).map_err(|e| TxmlError::Mismatch(e.to_string()))?;
    let mut de = serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        TxmlError::Mismatch(if path.is_empty() || path == "." {
            e.inner().to_string()
        } else {
            format!("at `{path}`: {}", e.inner())
        })
    })
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
    fn malformed_and_truncated_xml_are_errors() {
        static EMPTY: Shape = Shape {
            name: "X",
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
}
