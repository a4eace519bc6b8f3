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
//!
//! Two things typify would do differently are changed here: a `pattern`,
//! `minLength` or `maxLength` of a string member does not become a
//! validating newtype (a value that breaks a
//! rule still decodes, and [`validate`](crate::emit::validate) reports it with
//! its place; builders take plain text), and an optional list marked
//! `x-keep-empty` is an `Option<Vec<_>>`, so that an empty list is sent as
//! `[]` and an absent one is left out.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, ToTokens};
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
    strip_member_constraints(&mut doc, model);
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
                    keep_empty_lists(st, object, settings);
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
    let validate = crate::emit::validate::emit(model, settings, &items);
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
        #validate
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

/// Remove the `pattern`, `minLength` and `maxLength` of the members whose
/// rules the model keeps as constraints (`Constraints`), so that typify
/// types them `String`.
fn strip_member_constraints(doc: &mut serde_json::Value, model: &SpecModel) {
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    for (name, object) in &model.objects {
        let Some(properties) = schemas
            .get_mut(name)
            .and_then(|s| s.get_mut("properties"))
            .and_then(serde_json::Value::as_object_mut)
        else {
            continue;
        };
        for property in &object.properties {
            let c = &property.constraints;
            let Some(member) = properties
                .get_mut(&property.wire)
                .and_then(serde_json::Value::as_object_mut)
            else {
                continue;
            };
            for (key, kept) in [
                ("pattern", c.pattern.is_some()),
                ("minLength", c.min_length.is_some()),
                ("maxLength", c.max_length.is_some()),
            ] {
                if kept {
                    member.remove(key);
                }
            }
        }
    }
}

/// An optional list marked `x-keep-empty`: typify's `Vec<T>` (skipped when
/// empty) becomes `Option<Vec<T>>`, skipped when absent; `null` stays an
/// error, as for every list (`types::validate::present`).
fn keep_empty_lists(st: &mut syn::ItemStruct, object: &ObjectModel, settings: &Settings) {
    let rt = settings.runtime_path();
    let present = format!(
        "{}::types::validate::present",
        rt.to_string().replace(' ', "")
    );
    for field in st.fields.iter_mut() {
        let Some(ident) = &field.ident else { continue };
        let wire = wire_name(field).unwrap_or_else(|| ident.to_string());
        let keep = object
            .property(&wire)
            .is_some_and(|p| p.constraints.keep_empty && !p.required);
        let is_vec = matches!(&field.ty, syn::Type::Path(tp)
            if tp.path.segments.last().is_some_and(|s| s.ident == "Vec"));
        if !keep || !is_vec {
            continue;
        }
        let ty = field.ty.clone();
        field.ty = syn::parse_quote!(::std::option::Option<#ty>);
        for attr in field
            .attrs
            .iter_mut()
            .filter(|a| a.path().is_ident("serde"))
        {
            let tokens = attr.meta.to_token_stream().to_string().replace(
                "skip_serializing_if = \"::std::vec::Vec::is_empty\"",
                "skip_serializing_if = \"::std::option::Option::is_none\"",
            );
            if let Ok(meta) = syn::parse_str::<syn::Meta>(&tokens) {
                attr.meta = meta;
            }
        }
        field
            .attrs
            .push(syn::parse_quote!(#[serde(deserialize_with = #present)]));
    }
}

/// The `rename = "..."` of a field's `#[serde(...)]` attribute.
fn wire_name(field: &syn::Field) -> Option<String> {
    crate::emit::defaults::SerdeField::of(field).rename
}
