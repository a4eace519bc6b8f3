//! Validate emitter: `impl Validate` for the structs the model marks
//! (`SpecModel::validated`): every request body and every type that holds a
//! rule. Each member with a constraint is checked (`pattern` of a string,
//! `minItems`/`maxItems` of a list), and each member whose type holds rules
//! (`SpecModel::checked`, or a sibling's `External::checked`) is checked in
//! turn, list items with their index, so that every broken rule is reported
//! with the JSON path of the member.
//!
//! The field types come from typify's structs (whether a member is an
//! `Option`, a `Vec`, or both); what to check comes from the model.

use proc_macro2::TokenStream;
use quote::quote;

use crate::emit::defaults::SerdeField;
use crate::model::schemas::Property;
use crate::model::{SpecModel, ValueKind};
use crate::Settings;

/// How a field holds its value.
struct FieldShape {
    optional: bool,
    list: bool,
}

fn shape(ty: &syn::Type) -> FieldShape {
    let outer = last_ident(ty);
    let (optional, inner) = match (&outer, ty) {
        (Some(name), syn::Type::Path(tp)) if name == "Option" => {
            let inner = tp.path.segments.last().and_then(|s| match &s.arguments {
                syn::PathArguments::AngleBracketed(args) => {
                    args.args.iter().find_map(|a| match a {
                        syn::GenericArgument::Type(t) => Some(t.clone()),
                        _ => None,
                    })
                }
                _ => None,
            });
            (true, inner)
        }
        _ => (false, Some(ty.clone())),
    };
    let list = inner
        .as_ref()
        .and_then(last_ident)
        .is_some_and(|name| name == "Vec");
    FieldShape { optional, list }
}

fn last_ident(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(tp) => tp.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// Whether a value of `kind` (through lists) holds rules to check.
fn holds_rules(kind: &ValueKind, model: &SpecModel) -> bool {
    match kind {
        ValueKind::Array(item) => holds_rules(item, model),
        ValueKind::Named { name, module: None } => model.checked.contains(name),
        ValueKind::Named {
            name,
            module: Some(_),
        } => model.externals.get(name).is_some_and(|e| e.checked),
        _ => false,
    }
}

/// The statements checking one member `value` (a reference to the field's
/// value once unwrapped from its `Option`) at `path`.
fn member_checks(
    property: &Property,
    shape: &FieldShape,
    model: &SpecModel,
    rt: &TokenStream,
) -> TokenStream {
    let c = &property.constraints;
    let opt = |v: Option<u64>| match v {
        Some(n) => quote!(::std::option::Option::Some(#n)),
        None => quote!(::std::option::Option::None),
    };
    let nested = holds_rules(&property.kind, model);
    if shape.list {
        let count = (c.min_items.is_some() || c.max_items.is_some()).then(|| {
            let (min, max) = (opt(c.min_items), opt(c.max_items));
            quote!(#rt::types::validate::items(value.len(), #min, #max, &path, out);)
        });
        let items = nested.then(|| {
            quote! {
                for (index, item) in value.iter().enumerate() {
                    #rt::types::Validate::check(item, &path.index(index), out);
                }
            }
        });
        quote!(#count #items)
    } else {
        let pattern = c
            .pattern
            .as_ref()
            .map(|p| quote!(#rt::types::validate::pattern(value, #p, &path, out);));
        let inner = nested.then(|| quote!(#rt::types::Validate::check(value, &path, out);));
        quote!(#pattern #inner)
    }
}

/// `impl Validate` for one struct.
fn struct_impl(st: &syn::ItemStruct, model: &SpecModel, settings: &Settings) -> TokenStream {
    let rt = settings.runtime_path();
    let name = &st.ident;
    let object = model.objects.get(&name.to_string());
    let mut checks = Vec::new();
    for field in &st.fields {
        let Some(ident) = &field.ident else { continue };
        let wire = SerdeField::of(field)
            .rename
            .unwrap_or_else(|| ident.to_string().trim_start_matches("r#").to_string());
        let Some(property) = object.and_then(|o| o.property(&wire)) else {
            continue;
        };
        let shape = shape(&field.ty);
        let body = member_checks(property, &shape, model, &rt);
        if body.is_empty() {
            continue;
        }
        let binding = if shape.optional {
            quote!(if let ::std::option::Option::Some(value) = &self.#ident)
        } else {
            quote!(let value = &self.#ident;)
        };
        let block = quote! {
            let path = at.field(#wire);
            #body
        };
        checks.push(if shape.optional {
            quote!(#binding { #block })
        } else {
            quote!({ #binding #block })
        });
    }
    let unused = checks.is_empty().then(|| quote!(let _ = (at, out);));
    let doc = format!(" The rules of `{name}` that its type cannot check (see `types::Validate`).");
    quote! {
        #[doc = #doc]
        impl #rt::types::Validate for #name {
            fn check(&self, at: &#rt::types::JsonPath<'_>, out: &mut ::std::vec::Vec<#rt::types::Violation>) {
                #unused
                #(#checks)*
            }
        }
    }
}

/// `impl Validate` for the structs of `items` the model marks.
pub(crate) fn emit(model: &SpecModel, settings: &Settings, items: &[syn::Item]) -> TokenStream {
    let impls = items.iter().filter_map(|item| match item {
        syn::Item::Struct(st) if model.validated.contains(&st.ident.to_string()) => {
            Some(struct_impl(st, model, settings))
        }
        _ => None,
    });
    quote!(#(#impls)*)
}
