//! Type emitter: progenitor's typify pass over the spec's components, with
//! the settings that make the types follow Tradecloud's rules (exact
//! decimals, flexible date-times, open enums, unknown fields kept in
//! `extra` by serde's derive with `#[serde(flatten)]`), then what typify does
//! not do: field documentation for `$ref` properties, `Default` and builders
//! ([`defaults`](crate::emit::defaults)), the open enums, the tXML shapes and
//! re-exports of types shared with sibling specs.
//!
//! It runs in two steps, because whether a struct can have a `Default`
//! depends on the types of sibling specs too: [`typify`] for every spec,
//! then [`emit`] with the [`DefaultIndex`] of all of them.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::json;

use crate::emit::defaults::DefaultIndex;
use crate::emit::{progenitor_settings, run_progenitor};
use crate::error::{Error, Result};
use crate::model::{ObjectModel, SpecModel};
use crate::Settings;

/// typify's items for the components of one spec, with the documentation
/// of `$ref` fields added.
pub(crate) fn typify(model: &SpecModel, settings: &Settings) -> Result<Vec<syn::Item>> {
    // Components only: progenitor then emits exactly the named types.
    // Shared types stay as placeholders: typify replaces them with the
    // sibling module's type (see `progenitor_settings`).
    let mut doc = model.document.clone();
    if let Some(root) = doc.as_object_mut() {
        root.insert("paths".into(), json!({}));
    }
    let gen_settings = progenitor_settings(model, settings, false);
    let tokens = run_progenitor(model, &doc, &gen_settings, "types")?;
    let file: syn::File = syn::parse2(tokens).map_err(|e| {
        Error::new(
            &model.path,
            "",
            "generated types",
            format!("progenitor produced unparsable code: {e}"),
        )
    })?;
    let mut items = Vec::new();
    for item in file.items {
        let syn::Item::Mod(m) = item else { continue };
        if m.ident != "types" {
            continue;
        }
        for mut i in m.content.map(|(_, c)| c).unwrap_or_default() {
            if let syn::Item::Struct(st) = &mut i {
                if let Some(object) = model.objects.get(&st.ident.to_string()) {
                    document_ref_fields(st, object);
                }
            }
            items.push(i);
        }
    }
    Ok(items)
}

/// Emit the `types` module body of one spec from its typify items.
pub(crate) fn emit(
    model: &SpecModel,
    settings: &Settings,
    items: Vec<syn::Item>,
    defaults: &DefaultIndex,
) -> TokenStream {
    let (items, builders) = crate::emit::defaults::add(model, settings, items, defaults);
    let enums = crate::emit::enums::emit(&model.enums, settings);
    let shapes = crate::emit::shapes::emit(model, settings);
    let root = settings.api_root_path();
    let reexports = model.externals.iter().map(|(name, external)| {
        let m = format_ident!("{}", external.module);
        let n = format_ident!("{}", name);
        quote!(pub use #root::#m::types::#n;)
    });
    quote! {
        #(#reexports)*
        #enums
        #(#items)*
        #builders
        #shapes
    }
}

/// OpenAPI 3.0 ignores the siblings of `$ref`, so typify leaves fields that
/// point at another schema undocumented. The specs still describe them
/// (`description`, `deprecated` next to the `$ref`): put that on the field.
fn document_ref_fields(st: &mut syn::ItemStruct, object: &ObjectModel) {
    for field in st.fields.iter_mut() {
        let has_doc = field.attrs.iter().any(|a| a.path().is_ident("doc"));
        if has_doc {
            continue;
        }
        let Some(ident) = &field.ident else { continue };
        let wire = wire_name(field).unwrap_or_else(|| ident.to_string());
        let Some(prop) = object.property(&wire) else {
            continue;
        };
        let mut text = prop.description.clone().unwrap_or_default();
        if prop.deprecated {
            text = if text.is_empty() {
                "**Deprecated.**".into()
            } else {
                format!("**Deprecated.** {text}")
            };
        }
        if text.is_empty() {
            continue;
        }
        let mut attrs: Vec<syn::Attribute> = text
            .lines()
            .map(|l| format!(" {l}"))
            .map(|l| syn::parse_quote!(#[doc = #l]))
            .collect();
        attrs.append(&mut field.attrs);
        field.attrs = attrs;
    }
}

/// The `rename = "..."` of a field's `#[serde(...)]` attribute.
fn wire_name(field: &syn::Field) -> Option<String> {
    crate::emit::defaults::SerdeField::of(field).rename
}
