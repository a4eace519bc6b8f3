//! tXML, Tradecloud's XML encoding of its JSON messages ("a one-to-one
//! mapping of the JSON", `application/xml`).
//!
//! Decoding tXML into the generated types is not implemented yet: the
//! mapping of repeated elements to JSON arrays needs the schema, which the
//! generator will provide. Until then [`from_slice`] reports that clearly.

/// Why a tXML body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum TxmlError {
    /// tXML decoding is not available in this version.
    #[error("tXML (application/xml) bodies are not decoded by this version of tradecloud; configure the webhook to send JSON")]
    Unsupported,
}

/// Decode a tXML body.
pub fn from_slice<T: serde::de::DeserializeOwned>(_bytes: &[u8]) -> Result<T, TxmlError> {
    Err(TxmlError::Unsupported)
}
