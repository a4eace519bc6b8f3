//! Shape emitter: a static description of every object schema (property
//! name → kind), which the runtime's tXML decoder uses to turn Tradecloud's
//! XML into the same types as the JSON. tXML is "a one-to-one mapping of the
//! JSON" except that an array is written as repeated elements with the
//! singular name (`lines` → `<line>`), which only the schema can tell.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;

use crate::model::SpecModel;
use crate::Settings;

/// Object schema names of every module, to tell shared objects from shared enums.
pub type ObjectIndex = BTreeMap<String, BTreeSet<String>>;

struct Ctx<'a> {
    model: &'a SpecModel,
    settings: &'a Settings,
    objects: &'a ObjectIndex,
}

fn kind(schema: &Value, ctx: &Ctx<'_>, depth: usize) -> TokenStream {
    let (model, settings) = (ctx.model, ctx.settings);
    let rt = settings.runtime_path();
    if depth > 16 {
        return quote!(#rt::txml::Kind::Any);
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let Some(name) = r.strip_prefix("#/components/schemas/") else {
            return quote!(#rt::txml::Kind::Any);
        };
        let target = model
            .normalized
            .document
            .pointer(&format!("/components/schemas/{name}"))
            .cloned()
            .unwrap_or(Value::Null);
        // Shared types live in their own module's shapes.
        if let Some(module) = model.externals.get(name) {
            let shared_object = ctx.objects.get(module).is_some_and(|o| o.contains(name));
            if !shared_object {
                return quote!(#rt::txml::Kind::String);
            }
            let root = settings.api_root_path();
            let m = format_ident!("{}", module);
            let n = format_ident!("{}", name);
            return quote!(#rt::txml::Kind::Object(&#root::#m::types::txml_shapes::#n));
        }
        if is_object(&target) {
            let n = format_ident!("{}", name);
            return quote!(#rt::txml::Kind::Object(&#n));
        }
        return kind(&target, ctx, depth + 1);
    }
    if schema.get("enum").is_some() {
        return quote!(#rt::txml::Kind::String);
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => quote!(#rt::txml::Kind::String),
        Some("number") => quote!(#rt::txml::Kind::Number),
        Some("integer") => quote!(#rt::txml::Kind::Integer),
        Some("boolean") => quote!(#rt::txml::Kind::Boolean),
        Some("array") => {
            let item = schema
                .get("items")
                .map(|i| kind(i, ctx, depth + 1))
                .unwrap_or_else(|| quote!(#rt::txml::Kind::Any));
            quote!(#rt::txml::Kind::Array(&#item))
        }
        _ if is_object(schema) => {
            let props = properties(schema, ctx, depth + 1);
            quote!(#rt::txml::Kind::Object(&#rt::txml::Shape { name: "", properties: &[#(#props),*] }))
        }
        _ => quote!(#rt::txml::Kind::Any),
    }
}

pub(crate) fn is_object(schema: &Value) -> bool {
    schema.get("properties").is_some_and(Value::is_object)
        && matches!(
            schema.get("type").and_then(Value::as_str),
            Some("object") | None
        )
}

fn properties(schema: &Value, ctx: &Ctx<'_>, depth: usize) -> Vec<TokenStream> {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    props
        .iter()
        .map(|(name, prop)| {
            let k = kind(prop, ctx, depth);
            quote!((#name, #k))
        })
        .collect()
}

/// Emit `pub mod txml_shapes` for the object schemas of a spec.
pub fn emit(model: &SpecModel, settings: &Settings, objects: &ObjectIndex) -> TokenStream {
    let rt = settings.runtime_path();
    let ctx = Ctx {
        model,
        settings,
        objects,
    };
    let Some(schemas) = model
        .normalized
        .document
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    else {
        return quote!();
    };
    let statics = schemas
        .iter()
        .filter(|(name, s)| is_object(s) && !model.externals.contains_key(*name))
        .map(|(name, s)| {
            let ident = format_ident!("{}", name);
            let props = properties(s, &ctx, 0);
            let doc = format!(" tXML shape of [`super::{name}`].");
            quote! {
                #[doc = #doc]
                pub static #ident: #rt::txml::Shape = #rt::txml::Shape {
                    name: #name,
                    properties: &[#(#props),*],
                };
            }
        });
    quote! {
        /// Property kinds of every object schema, used to decode tXML
        /// (`application/xml`) bodies into the same types as JSON.
        #[allow(non_upper_case_globals)]
        pub mod txml_shapes {
            #(#statics)*
        }
    }
}

/// Object schema names of every model.
pub fn object_index(models: &[SpecModel]) -> ObjectIndex {
    models
        .iter()
        .map(|m| {
            let names = m
                .normalized
                .document
                .pointer("/components/schemas")
                .and_then(Value::as_object)
                .map(|schemas| {
                    schemas
                        .iter()
                        .filter(|(n, s)| is_object(s) && !m.externals.contains_key(*n))
                        .map(|(n, _)| n.clone())
                        .collect()
                })
                .unwrap_or_default();
            (m.module.clone(), names)
        })
        .collect()
}
