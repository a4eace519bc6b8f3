//! Errors of the generator. Every error names the spec file, the JSON
//! pointer inside it and the construct that could not be handled, so that a
//! failing `cargo build` tells the user exactly where to look.

use std::fmt;
use std::path::PathBuf;

/// A spec the generator cannot handle, or an I/O problem while reading one.
#[derive(Debug, thiserror::Error)]
pub struct Error {
    /// The spec file (as given to the generator).
    pub file: PathBuf,
    /// JSON pointer (RFC 6901) of the offending construct, `""` for the whole file.
    pub pointer: String,
    /// Short name of the construct, e.g. `"request body media type"`.
    pub construct: String,
    /// What went wrong and what to do about it.
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: at `#{}`: {}: {}",
            self.file.display(),
            self.pointer,
            self.construct,
            self.message
        )
    }
}

impl Error {
    pub(crate) fn clone_without_location(&self) -> Self {
        Error {
            file: self.file.clone(),
            pointer: self.pointer.clone(),
            construct: self.construct.clone(),
            message: self.message.clone(),
        }
    }

    pub(crate) fn new(
        file: impl Into<PathBuf>,
        pointer: impl Into<String>,
        construct: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error {
            file: file.into(),
            pointer: pointer.into(),
            construct: construct.into(),
            message: message.into(),
        }
    }
}

/// Result type of the generator.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Escape one JSON pointer token (RFC 6901).
pub(crate) fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Build a JSON pointer from tokens.
pub(crate) fn pointer<I, S>(tokens: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out = String::new();
    for t in tokens {
        out.push('/');
        out.push_str(&escape_token(t.as_ref()));
    }
    out
}
