//! Support for the `Deserialize` implementations that the generator writes
//! for every object type (not a stable API: only generated code uses it).
//!
//! The generated implementations read an object's keys one by one: a key
//! that names a field is matched against the field's wire name and its value
//! is decoded straight into that field; any other key and its value go into
//! the struct's `extra` map, so that nothing Tradecloud adds is lost. That is
//! what `#[serde(flatten)] extra` does too; serde's derive buffers each unknown
//! entry as its private `Content` and decodes it again, which this avoids
//! (measured in BENCHMARKS.md, "Parsing webhook bodies": as fast as the derive
//! on bodies without unknown fields, about 8 % faster with one in every object).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// An object key as read from the input: borrowed from the input when the
/// format allows it (a JSON key without escapes read by
/// `serde_json::from_slice`/`from_str`, a `serde_json::Value`'s own key),
/// so that matching a known field name does not allocate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKey<'de> {
    /// Borrowed from the input.
    Borrowed(&'de str),
    /// Owned: the key was unescaped, or the input cannot lend it.
    Owned(String),
}

impl<'de> FieldKey<'de> {
    /// The key's text.
    #[inline]
    pub fn as_str(&self) -> &str {
        match self {
            FieldKey::Borrowed(s) => s,
            FieldKey::Owned(s) => s,
        }
    }

    /// The key as an owned `String` (for the `extra` map).
    #[inline]
    pub fn into_string(self) -> String {
        match self {
            FieldKey::Borrowed(s) => s.to_owned(),
            FieldKey::Owned(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for FieldKey<'de> {
    #[inline]
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `deserialize_identifier`, as serde's derive asks for field names.
        deserializer.deserialize_identifier(FieldKeyVisitor)
    }
}

struct FieldKeyVisitor;

impl<'de> Visitor<'de> for FieldKeyVisitor {
    type Value = FieldKey<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    #[inline]
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(FieldKey::Borrowed(v))
    }

    #[inline]
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(FieldKey::Owned(v.to_owned()))
    }

    #[inline]
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(FieldKey::Owned(v))
    }

    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
        match std::str::from_utf8(v) {
            Ok(s) => Ok(FieldKey::Borrowed(s)),
            Err(_) => Err(E::invalid_value(de::Unexpected::Bytes(v), &self)),
        }
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        match std::str::from_utf8(v) {
            Ok(s) => Ok(FieldKey::Owned(s.to_owned())),
            Err(_) => Err(E::invalid_value(de::Unexpected::Bytes(v), &self)),
        }
    }
}

/// Decode the value of a known field into its slot; `duplicate_field` when
/// the field was already read (as serde's derive does).
#[inline]
pub fn next_field<'de, A, T>(
    map: &mut A,
    slot: &mut Option<T>,
    field: &'static str,
) -> Result<(), A::Error>
where
    A: de::MapAccess<'de>,
    T: Deserialize<'de>,
{
    if slot.is_some() {
        return Err(<A::Error as de::Error>::duplicate_field(field));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

/// The value of a required field; `missing_field` when it was not read.
#[inline]
pub fn required<T, E: de::Error>(slot: Option<T>, field: &'static str) -> Result<T, E> {
    match slot {
        Some(value) => Ok(value),
        None => Err(E::missing_field(field)),
    }
}

#[cfg(test)]
mod tests {
    use super::FieldKey;

    #[test]
    fn keys_are_borrowed_from_a_slice_and_owned_when_escaped() {
        let keys: Vec<FieldKey<'_>> =
            serde_json::from_str(r#"["orderId", "order\u0049d"]"#).expect("two strings");
        assert_eq!(keys[0], FieldKey::Borrowed("orderId"));
        assert_eq!(keys[1], FieldKey::Owned("orderId".into()));
        assert_eq!(keys[1].as_str(), "orderId");
    }

    #[test]
    fn a_key_from_an_owned_value_is_moved_not_copied() {
        let key: FieldKey<'_> =
            serde::Deserialize::deserialize(serde_json::Value::String("orderId".into()))
                .unwrap_or(FieldKey::Borrowed("not a key"));
        assert_eq!(key, FieldKey::Owned("orderId".into()));
    }
}
