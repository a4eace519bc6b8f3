//! Type emitter: progenitor's typify pass over the spec's components, with
//! the settings that make the types follow Tradecloud's rules (exact
//! decimals, flexible date-times, open enums, unknown fields kept), plus
//! the open enums and re-exports of types shared with sibling specs.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::{json, Value};

use crate::emit::{progenitor_settings, run_progenitor};
use crate::error::Result;
use crate::model::SpecModel;
use crate::Settings;

/// Emit the `types` module body of one spec.
pub fn emit(
    model: &SpecModel,
    settings: &Settings,
    objects: &crate::emit::shapes::ObjectIndex,
) -> Result<TokenStream> {
    // Components only: progenitor then emits exactly the named types.
    let mut doc = model.normalized.document.clone();
    if let Some(root) = doc.as_object_mut() {
        // Shared types stay as placeholders: typify replaces them with the
        // sibling module's type (see `progenitor_settings`).
        root.insert("paths".into(), json!({}));
    }
    let gen_settings = progenitor_settings(model, settings, false);
    let tokens = run_progenitor(model, &doc, &gen_settings, "types")?;
    let file: syn::File = syn::parse2(tokens).map_err(|e| {
        crate::error::Error::new(
            &model.normalized.source.path,
            "",
            "generated types",
            format!("progenitor produced unparsable code: {e}"),
        )
    })?;
    let mut items = Vec::new();
    for item in file.items {
        if let syn::Item::Mod(m) = item {
            if m.ident == "types" {
                if let Some((_, content)) = m.content {
                    for mut i in content {
                        if let syn::Item::Struct(st) = &mut i {
                            document_ref_fields(st, &model.normalized.document);
                        }
                        items.push(i);
                    }
                }
            }
        }
    }
    let items = crate::emit::deserialize::rewrite(items, settings).map_err(|e| {
        crate::error::Error::new(
            &model.normalized.source.path,
            "",
            "generated types",
            format!("the emitted `Deserialize` does not parse ({e}); this is a generator bug"),
        )
    })?;
    let body = quote!(#(#items)*);
    let enums = crate::emit::enums::emit(&model.enums, settings);
    let shapes = crate::emit::shapes::emit(model, settings, objects);
    let root = settings.api_root_path();
    let reexports = model.externals.iter().map(|(name, module)| {
        let m = format_ident!("{}", module);
        let n = format_ident!("{}", name);
        quote!(pub use #root::#m::types::#n;)
    });
    Ok(quote! {
        #(#reexports)*
        #enums
        #body
        #shapes
    })
}

/// OpenAPI 3.0 ignores the siblings of `$ref`, so typify leaves fields that
/// point at another schema undocumented. The specs still describe them
/// (`description`, `deprecated` next to the `$ref`): put that on the field.
fn document_ref_fields(st: &mut syn::ItemStruct, doc: &Value) {
    let Some(props) = doc
        .pointer(&format!("/components/schemas/{}/properties", st.ident))
        .and_then(Value::as_object)
    else {
        return;
    };
    for field in st.fields.iter_mut() {
        let has_doc = field.attrs.iter().any(|a| a.path().is_ident("doc"));
        if has_doc {
            continue;
        }
        let Some(ident) = &field.ident else { continue };
        let wire = wire_name(field).unwrap_or_else(|| ident.to_string());
        let Some(prop) = props.get(&wire) else {
            continue;
        };
        let mut text = prop
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if prop.get("deprecated").and_then(Value::as_bool) == Some(true) {
            text = if text.is_empty() {
                "**Deprecated.**".into()
            } else {
                format!("**Deprecated.** {text}")
            };
        }
        if text.is_empty() {
            continue;
        }
        let lines: Vec<String> = text.lines().map(|l| format!(" {l}")).collect();
        let attrs: Vec<syn::Attribute> = lines
            .iter()
            .map(|l| syn::parse_quote!(#[doc = #l]))
            .collect();
        let mut new_attrs = attrs;
        new_attrs.append(&mut field.attrs);
        field.attrs = new_attrs;
    }
}

/// The `rename = "..."` of a field's `#[serde(...)]` attribute.
fn wire_name(field: &syn::Field) -> Option<String> {
    for attr in &field.attrs {
        if !attr.path().is_ident("serde") {
            continue;
        }
        let mut found = None;
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let value: syn::LitStr = meta.value()?.parse()?;
                found = Some(value.value());
            } else if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            }
            Ok(())
        });
        if found.is_some() {
            return found;
        }
    }
    None
}
