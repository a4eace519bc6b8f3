//! Type emitter: progenitor's typify pass over the spec's components, with
//! the settings that make the types follow Tradecloud's rules (exact
//! decimals, flexible date-times, open enums, unknown fields kept), plus
//! the open enums and re-exports of types shared with sibling specs.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::json;

use crate::emit::{progenitor_settings, run_progenitor};
use crate::error::Result;
use crate::model::SpecModel;
use crate::Settings;

/// Emit the `types` module body of one spec.
pub fn emit(model: &SpecModel, settings: &Settings) -> Result<TokenStream> {
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
        crate::error::Error::new(&model.normalized.source.path, "", "generated types", format!("progenitor produced unparsable code: {e}"))
    })?;
    let mut body = TokenStream::new();
    for item in file.items {
        if let syn::Item::Mod(m) = &item {
            if m.ident == "types" {
                if let Some((_, items)) = &m.content {
                    for i in items {
                        body.extend(quote!(#i));
                    }
                }
            }
        }
    }
    let enums = crate::emit::enums::emit(&model.enums, settings);
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
    })
}
