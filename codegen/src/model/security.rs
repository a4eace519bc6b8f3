//! Security: which schemes an operation accepts, resolved from the names in
//! its `security` (or the spec's) to what each scheme is, so that the
//! runtime decides by kind (Basic, Bearer, ...) whatever a spec calls them.

use std::path::Path;

use openapiv3::{APIKeyLocation, OpenAPI, ReferenceOr, SecurityScheme};

use crate::error::{Error, Result};

/// What a security scheme is (the runtime's `AuthScheme`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthScheme {
    Basic,
    Bearer,
    ApiKey {
        name: String,
        location: ApiKeyLocation,
    },
    OAuth2,
    OpenIdConnect,
    /// Another HTTP scheme, lower case (`digest`).
    OtherHttp(String),
}

/// Where an API key goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApiKeyLocation {
    Header,
    Query,
    Cookie,
}

/// The security alternatives of `op` (at `op_ptr`): its own `security`, else
/// the spec's; each alternative lists the schemes it needs together.
pub(crate) fn of(
    file: &Path,
    api: &OpenAPI,
    op: &openapiv3::Operation,
    op_ptr: &str,
) -> Result<Vec<Vec<AuthScheme>>> {
    let (requirements, ptr) = match &op.security {
        Some(own) => (own, format!("{op_ptr}/security")),
        None => match &api.security {
            Some(global) => (global, "/security".to_string()),
            None => return Ok(Vec::new()),
        },
    };
    requirements
        .iter()
        .enumerate()
        .map(|(i, requirement)| {
            requirement
                .keys()
                .map(|name| {
                    scheme(
                        file,
                        api,
                        name,
                        &format!("{ptr}/{i}/{}", crate::error::escape_token(name)),
                    )
                })
                .collect()
        })
        .collect()
}

/// The scheme named `name` in `components/securitySchemes`.
fn scheme(file: &Path, api: &OpenAPI, name: &str, ptr: &str) -> Result<AuthScheme> {
    let defined = api
        .components
        .as_ref()
        .and_then(|c| c.security_schemes.get(name));
    let scheme = match defined {
        Some(ReferenceOr::Item(scheme)) => scheme,
        Some(ReferenceOr::Reference { reference }) => reference
            .strip_prefix("#/components/securitySchemes/")
            .and_then(|n| api.components.as_ref()?.security_schemes.get(n))
            .and_then(ReferenceOr::as_item)
            .ok_or_else(|| {
                Error::new(
                    file,
                    ptr,
                    "security scheme $ref",
                    format!("`{reference}` does not point at a scheme in `components/securitySchemes`"),
                )
            })?,
        None => {
            return Err(Error::new(
                file,
                ptr,
                "security requirement",
                format!("the scheme `{name}` is not defined in `components/securitySchemes`; define it or correct the name"),
            ))
        }
    };
    Ok(match scheme {
        SecurityScheme::HTTP { scheme, .. } => match scheme.to_ascii_lowercase().as_str() {
            "basic" => AuthScheme::Basic,
            "bearer" => AuthScheme::Bearer,
            other => AuthScheme::OtherHttp(other.to_string()),
        },
        SecurityScheme::APIKey { location, name, .. } => AuthScheme::ApiKey {
            name: name.clone(),
            location: match location {
                APIKeyLocation::Header => ApiKeyLocation::Header,
                APIKeyLocation::Query => ApiKeyLocation::Query,
                APIKeyLocation::Cookie => ApiKeyLocation::Cookie,
            },
        },
        SecurityScheme::OAuth2 { .. } => AuthScheme::OAuth2,
        SecurityScheme::OpenIDConnect { .. } => AuthScheme::OpenIdConnect,
    })
}
