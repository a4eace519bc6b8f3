//! `[tradecloud]`: how the receiver calls Tradecloud.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Secret;

/// `[tradecloud]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TradecloudConfig {
    /// `acceptance` (default) or `production`.
    pub environment: Option<String>,
    /// API base URL, overriding `environment` (for example the mock).
    pub base_url: Option<String>,
    /// The integration user.
    pub username: Option<String>,
    /// Its password.
    pub password: Option<Secret>,
    /// A file holding the password.
    pub password_file: Option<PathBuf>,
}
