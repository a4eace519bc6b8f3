//! JSON bodies, decoded fast first: `serde_json::from_slice` without path
//! tracking, and only for a body that fails, again through
//! `serde_path_to_error` to say *where* it failed.
//!
//! `serde_path_to_error` copies every key it passes into a `String`, a good
//! part of the cost of decoding a valid body (about 45 µs of a 14 KB order
//! event, see BENCHMARKS.md). Decoding is deterministic, so the second pass
//! fails at the same place with the same error, and only bad bodies (a 400)
//! pay for it.
//!
//! A UTF-8 byte order mark before the JSON is skipped (RFC 8259 lets a parser
//! ignore it; Windows tools write it). Trailing characters after the value
//! are an error.

use serde::de::DeserializeOwned;

/// The UTF-8 encoding of U+FEFF, the byte order mark.
pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// `bytes` without a leading UTF-8 byte order mark.
pub(crate) fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(BOM).unwrap_or(bytes)
}

/// Why a JSON body does not decode: where and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.detail())]
pub struct JsonError {
    /// The path of the field that failed (`orderEvent.lines[0].quantity`),
    /// `None` when the error is not inside a field (syntax, trailing data,
    /// a missing top-level field).
    pub path: Option<String>,
    /// serde_json's message, with line and column.
    pub message: String,
}

impl JsonError {
    /// `` at `path`: message ``, or the message alone without a path.
    pub fn detail(&self) -> String {
        match &self.path {
            Some(path) => format!("at `{path}`: {}", self.message),
            None => self.message.clone(),
        }
    }
}

/// Decode one JSON value of type `T` from `bytes` (a leading BOM skipped):
/// fast path first, path tracking only on failure.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    let bytes = strip_bom(bytes);
    // The whole body is checked as UTF-8 in one pass (vectorised), and then
    // read as text: `from_slice` would check every string on its own, at
    // several times the cost. Bytes that are not UTF-8 take the slow path,
    // which names where they are.
    let fast = match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text).ok(),
        Err(_) => None,
    };
    match fast {
        Some(value) => Ok(value),
        None => decode_tracked(bytes),
    }
}

/// The slow path: decode with `serde_path_to_error`.
fn decode_tracked<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        JsonError {
            path: (!path.is_empty() && path != ".").then_some(path),
            message: e.into_inner().to_string(),
        }
    })?;
    de.end().map_err(|e| JsonError {
        path: None,
        message: e.to_string(),
    })?;
    // Reached only by a `Deserialize` that is not deterministic: keep the value.
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Doc {
        a: Vec<u32>,
    }

    #[test]
    fn json_failures_name_the_field_and_a_bom_is_skipped() {
        let e = decode::<Doc>(br#"{"a": [1, "x"]}"#).unwrap_err();
        assert_eq!(e.path.as_deref(), Some("a[1]"));
        assert!(e.detail().starts_with("at `a[1]`: invalid type"), "{e}");

        let e = decode::<Doc>(br#"{"a": []} {}"#).unwrap_err();
        assert_eq!(e.path, None);
        assert!(e.message.contains("trailing characters"), "{e}");

        let e = decode::<Doc>(b"{}").unwrap_err();
        assert_eq!(e.detail(), "missing field `a` at line 1 column 2");

        assert_eq!(decode::<Doc>(b"\xEF\xBB\xBF{\"a\": [7]}").unwrap().a, [7]);
        // Only one BOM, and only at the start.
        assert!(decode::<Doc>(b"\xEF\xBB\xBF\xEF\xBB\xBF{\"a\": []}").is_err());
        assert!(decode::<Doc>(b" \xEF\xBB\xBF{\"a\": []}").is_err());
    }

    #[derive(Debug, serde::Deserialize)]
    struct Named {
        name: String,
    }

    /// The fast path reads the body as text once checked as a whole: text
    /// in any script is kept, bytes that are not UTF-8 (in a string or out
    /// of one) are refused, with where they are.
    #[test]
    fn bytes_that_are_not_utf8_are_refused_with_their_place() {
        let named = decode::<Named>("{\"name\": \"Müller \u{1F69A} \\u00e9\"}".as_bytes());
        assert_eq!(named.unwrap().name, "Müller \u{1F69A} é");

        let e = decode::<Named>(b"{\"name\": \"M\xFCller\"}").unwrap_err();
        assert_eq!(e.path.as_deref(), Some("name"), "{e}");
        assert!(e.message.contains("invalid unicode code point"), "{e}");

        let e = decode::<Named>(b"{\"name\": \"x\"}\xFF").unwrap_err();
        assert!(e.message.contains("trailing characters"), "{e}");
        let e = decode::<Named>(b"{\"na\xC3me\": \"x\"}").unwrap_err();
        assert!(e.message.contains("invalid unicode code point"), "{e}");
    }
}
