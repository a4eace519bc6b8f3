//! Emitters: each prints one view of the analysed [`SpecModel`]:
//! [`types`] (typify's types with our documentation, plus [`enums`],
//! [`defaults`], [`shapes`] and [`validate`]), [`client`] (progenitor), [`server`]
//! (axum stubs) and [`operations`] (the operation table the runtime reads).
//! This module runs progenitor for the first two.

pub(crate) mod client;
pub(crate) mod defaults;
pub(crate) mod enums;
pub(crate) mod operations;
pub(crate) mod server;
pub(crate) mod shapes;
pub(crate) mod types;
pub(crate) mod validate;

use std::panic::{catch_unwind, AssertUnwindSafe};

use proc_macro2::TokenStream;
use progenitor_impl::{CrateVers, GenerationSettings, Generator, TypeImpl};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::SpecModel;
use crate::normalize::RUNTIME_CRATE;
use crate::Settings;

/// Settings for progenitor/typify that implement Tradecloud's type rules.
pub(crate) fn progenitor_settings(
    model: &SpecModel,
    settings: &Settings,
    client: bool,
) -> GenerationSettings {
    let mut s = GenerationSettings::new();
    let root = &settings.api_root;
    s.with_crate(RUNTIME_CRATE, CrateVers::Any, Some(&settings.runtime_crate))
        .with_map_type("::std::collections::BTreeMap")
        .with_derive("PartialEq");
    for e in &model.enums {
        s.with_replacement(
            &e.name,
            format!("{root}::{}::types::{}", model.module, e.name),
            [TypeImpl::FromStr, TypeImpl::Display].into_iter(),
        );
    }
    for (name, external) in &model.externals {
        s.with_replacement(
            name,
            format!("{root}::{}::types::{name}", external.module),
            std::iter::empty(),
        );
    }
    if client {
        for name in &model.components {
            if model.externals.contains_key(name) || model.enums.iter().any(|e| &e.name == name) {
                continue;
            }
            s.with_replacement(
                name,
                format!("{root}::{}::types::{name}", model.module),
                std::iter::empty(),
            );
        }
        if let Some(inner) = &settings.client_inner_type {
            if let Ok(tokens) = inner.parse::<TokenStream>() {
                s.with_inner_type(tokens);
            }
        }
    }
    s
}

/// Run progenitor; when it fails, find the schema or operation it failed
/// on, so that the error names its JSON pointer.
pub(crate) fn run_progenitor(
    model: &SpecModel,
    doc: &Value,
    settings: &GenerationSettings,
    what: &str,
) -> Result<TokenStream> {
    let error = match run_progenitor_once(model, doc, settings, what) {
        Ok(tokens) => return Ok(tokens),
        Err(e) => e,
    };
    Err(locate(model, doc, settings, what).map_or(
        error.clone_without_location(),
        |(pointer, e)| Error { pointer, ..e },
    ))
}

/// Try each operation, then each schema, alone (other schemas become
/// permissive placeholders) and return the first that fails.
fn locate(
    model: &SpecModel,
    doc: &Value,
    settings: &GenerationSettings,
    what: &str,
) -> Option<(String, Error)> {
    let mut only_components = doc.clone();
    only_components["paths"] = serde_json::json!({});
    for op in &model.operations {
        let method = op.method.key();
        let Some(operation) = doc
            .get("paths")
            .and_then(|p| p.get(&op.path))
            .and_then(|item| item.get(method))
        else {
            continue;
        };
        let mut single = only_components.clone();
        single["paths"] = serde_json::json!({ op.path.clone(): { method: operation.clone() } });
        if let Err(e) = run_progenitor_once(model, &single, settings, what) {
            return Some((
                crate::error::pointer(["paths", op.path.as_str(), method]),
                e,
            ));
        }
    }
    for name in &model.components {
        let mut single = only_components.clone();
        if let Some(map) = single
            .pointer_mut("/components/schemas")
            .and_then(Value::as_object_mut)
        {
            for (other, schema) in map.iter_mut() {
                if other != name {
                    *schema = serde_json::json!({});
                }
            }
        }
        if let Err(e) = run_progenitor_once(model, &single, settings, what) {
            return Some((
                crate::error::pointer(["components", "schemas", name.as_str()]),
                e,
            ));
        }
    }
    None
}

fn run_progenitor_once(
    model: &SpecModel,
    doc: &Value,
    settings: &GenerationSettings,
    what: &str,
) -> Result<TokenStream> {
    let path = &model.path;
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
                Error::new(
                    path,
                    "",
                    format!("{what} generation"),
                    format!("re-parsing progenitor output failed: {e}"),
                )
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
