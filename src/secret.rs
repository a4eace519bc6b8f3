//! [`Secret`]: a password or token that never shows in logs.
//!
//! One type for every secret of the crate: the API client's password and
//! refresh token, and the receiver's configured passwords and tokens.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

/// A secret (password, token): never printed by `Debug`, and serialised as
/// `"***"`, so that a configuration written out or logged never carries it.
/// Read it with [`expose`](Secret::expose).
///
/// ```
/// use tradecloud::secret::Secret;
///
/// let password = Secret::new("correct horse");
/// assert_eq!(password.expose(), "correct horse");
/// assert_eq!(format!("{password:?}"), "Secret(\"***\")");
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// A secret holding `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(\"***\")")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("***")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}
