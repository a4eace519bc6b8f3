//! `[auth]`: how Tradecloud authenticates to the receiver.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{one_or_many, ConfigError, Secret};

/// `[auth] method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// HTTP Basic authentication (RFC 7617): `username` and `password`.
    Basic,
    /// A static Bearer token (RFC 6750): `token`.
    Bearer,
    /// OAuth 2.0 client-credentials access tokens issued by Microsoft Entra ID
    /// (JWT, RS256, checked against the tenant's JWKS).
    Entra,
}

/// `[auth]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// The one method Tradecloud uses to call this receiver.
    pub method: Option<AuthMethod>,
    /// Basic: the user name.
    pub username: Option<String>,
    /// Basic: the password.
    pub password: Option<Secret>,
    /// Basic: a file holding the password.
    pub password_file: Option<PathBuf>,
    /// Bearer: the static token.
    pub token: Option<Secret>,
    /// Bearer: a file holding the token.
    pub token_file: Option<PathBuf>,
    /// Entra: the directory (tenant) id.
    pub tenant_id: Option<String>,
    /// Entra: accepted `aud` values (the application id URI and/or the client id).
    #[serde(deserialize_with = "one_or_many")]
    pub audience: Vec<String>,
    /// Entra: the JWKS URL (default
    /// `https://login.microsoftonline.com/{tenant_id}/discovery/v2.0/keys`).
    pub jwks_url: Option<String>,
    /// Entra: accepted `iss` values (default the v2.0 issuer
    /// `https://login.microsoftonline.com/{tenant_id}/v2.0` and the v1.0
    /// issuer `https://sts.windows.net/{tenant_id}/`).
    #[serde(deserialize_with = "one_or_many")]
    pub issuer: Vec<String>,
    /// Entra: if not empty, the calling application (`azp` in v2.0 tokens,
    /// `appid` in v1.0 tokens) must be one of these client ids.
    #[serde(deserialize_with = "one_or_many")]
    pub allowed_client_ids: Vec<String>,
    /// Entra: clock skew allowed for `exp` and `nbf`, in seconds.
    pub leeway_secs: Option<u64>,
    /// Entra: the JWKS is fetched again for an unknown key id at most this often.
    pub jwks_min_refresh_secs: Option<u64>,
    /// Entra: the JWKS is fetched again after this many seconds in any case.
    pub jwks_max_age_secs: Option<u64>,
    /// Entra: after a failed JWKS fetch the next one waits 1 s, doubled per
    /// further failure up to this many seconds (default 60); cached keys
    /// stay in use meanwhile.
    pub jwks_backoff_max_secs: Option<u64>,
    /// `realm` in `WWW-Authenticate`.
    pub realm: Option<String>,
    /// Accept a Basic password or Bearer token shorter than
    /// [`MIN_SECRET_CHARS`] characters (default `false`: refused, since a
    /// short secret can be guessed). Only for a test, or a secret you
    /// cannot change.
    pub allow_short_secret: bool,
}

/// The shortest Basic password or Bearer token accepted (in characters)
/// without `auth.allow_short_secret = true`.
pub const MIN_SECRET_CHARS: usize = 16;

impl AuthConfig {
    /// A secret shorter than [`MIN_SECRET_CHARS`] is refused unless
    /// `allow_short_secret`.
    pub(super) fn refuse_short_secret(
        &self,
        key: &str,
        secret: Option<&Secret>,
    ) -> Result<(), ConfigError> {
        let chars = secret.map_or(0, |s| s.expose().chars().count());
        if chars < MIN_SECRET_CHARS && !self.allow_short_secret {
            return Err(ConfigError::setting(format!(
                "{key} has {chars} characters, fewer than {MIN_SECRET_CHARS}: a short secret can be guessed; \
                 use a longer one (e.g. `openssl rand -base64 24`) in the receiver and in Tradecloud's \
                 portal, or set auth.allow_short_secret = true to accept it anyway"
            )));
        }
        Ok(())
    }
}

/// `auth.jwks_url` must be `https://`: keys fetched over plain HTTP can be
/// swapped by anyone on the path, and then any token verifies. `http://` is
/// accepted for a loopback address only (a local key proxy, a test).
pub(crate) fn check_jwks_url(jwks_url: &str) -> Result<(), ConfigError> {
    let invalid = |why: &str| {
        ConfigError::setting(format!(
            "auth.jwks_url = {jwks_url:?} {why}; use the https:// URL of the tenant's keys \
             (https://login.microsoftonline.com/TENANT/discovery/v2.0/keys, the default with auth.tenant_id)"
        ))
    };
    let url = url::Url::parse(jwks_url).map_err(|e| invalid(&format!("is not a URL ({e})")))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
                None => false,
            };
            if loopback {
                Ok(())
            } else {
                Err(invalid(
                    "is plain HTTP: signing keys fetched without TLS can be swapped by anyone on the path \
                     (http:// is accepted for a loopback address only)",
                ))
            }
        }
        _ => Err(invalid("is not an https:// URL")),
    }
}
