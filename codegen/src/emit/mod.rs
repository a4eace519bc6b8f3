//! Emitters: each prints one view of the analysed [`SpecModel`].

pub mod client;
pub mod enums;
pub mod server;
pub mod types;

use std::panic::{catch_unwind, AssertUnwindSafe};

use progenitor_impl::{CrateVers, GenerationSettings, Generator, TypeImpl};
use proc_macro2::TokenStream;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::SpecModel;
use crate::normalize::RUNTIME_CRATE;
use crate::Settings;

/// Settings for progenitor/typify that implement Tradecloud's type rules.
pub(crate) fn progenitor_settings(model: &SpecModel, settings: &Settings, client: bool) -> GenerationSettings {
    let mut s = GenerationSettings::new();
    let root = &settings.api_root;
    s.with_crate(RUNTIME_CRATE, CrateVers::Any, Some(&settings.runtime_crate))
        .with_map_type("::serde_json::Map")
        .with_derive("PartialEq");
    for e in &model.enums {
        s.with_replacement(
            &e.name,
            format!("{root}::{}::types::{}", model.module, e.name),
            [TypeImpl::FromStr, TypeImpl::Display].into_iter(),
        );
    }
    for (name, module) in &model.externals {
        s.with_replacement(name, format!("{root}::{module}::types::{name}"), std::iter::empty());
    }
    if client {
        for name in &model.components {
            if model.externals.contains_key(name) || model.enums.iter().any(|e| &e.name == name) {
                continue;
            }
            s.with_replacement(name, format!("{root}::{}::types::{name}", model.module), std::iter::empty());
        }
        if let Some(inner) = &settings.client_inner_type {
            if let Ok(tokens) = inner.parse::<TokenStream>() {
                s.with_inner_type(tokens);
            }
        }
    }
    s
}

/// Run progenitor, turning both its errors and its panics into [`Error`]s
/// that name the spec file.
pub(crate) fn run_progenitor(model: &SpecModel, doc: &Value, settings: &GenerationSettings, what: &str) -> Result<TokenStream> {
    let path = &model.normalized.source.path;
    let api: openapiv3::OpenAPI = serde_json::from_value(doc.clone())
        .map_err(|e| Error::new(path, "", "OpenAPI structure", e.to_string()))?;
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut generator = Generator::new(settings);
        generator.generate_tokens(&api)
    }));
    std::panic::set_hook(previous);
    match result {
        Ok(Ok(tokens)) => {
            // typify writes `x-rust-type` paths with a leading `::`; the
            // runtime crate is `crate` inside the generated code.
            let text = tokens.to_string().replace(":: crate ::", "crate ::");
            text.parse::<TokenStream>().map_err(|e| {
                Error::new(path, "", format!("{what} generation"), format!("re-parsing progenitor output failed: {e}"))
            })
        }
        Ok(Err(e)) => Err(Error::new(
            path,
            "",
            format!("{what} generation"),
            format!("progenitor/typify cannot handle this spec: {e}"),
        )),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(Error::new(
                path,
                "",
                format!("{what} generation"),
                format!("progenitor/typify failed on a construct it does not support: {msg}"),
            ))
        }
    }
}
