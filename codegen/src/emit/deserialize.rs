//! `Deserialize` emitter for the object types typify prints.
//!
//! Every generated struct keeps unknown fields in
//! `#[serde(flatten)] extra: serde_json::Map<String, Value>`. With a
//! flattened field, serde's derive buffers every unknown entry as its private
//! `Content` and decodes it a second time into `extra`. So, for each struct
//! whose only flattened field is that `extra` map, the derive is replaced by
//! a generated implementation with the same behaviour that decodes unknown
//! entries once, straight into `serde_json::Value` (as fast as the derive on
//! a body without unknown fields, faster the more there are; BENCHMARKS.md,
//! "Parsing webhook bodies"):
//!
//! * a key equal to a field's wire name (its `rename`) is decoded straight into
//!   that field (`duplicate_field` when it occurs twice);
//! * any other key and its value go into `extra` as a `serde_json::Value`
//!   (the last of repeated unknown keys wins, as with the derive);
//! * a missing field takes its `#[serde(default)]` / `default = "path"`, an
//!   `Option` field is `None`, any other missing field is `missing_field`;
//! * the input must be a map (`deserialize_map`, as the derive asks for a
//!   struct with a flattened field), "expected struct Name" otherwise.
//!
//! Keys are read as the runtime's `types::de::FieldKey`, which borrows from the
//! input where it can, so matching a known key does not allocate.
//! `Serialize` stays derived (flattening is cheap when writing). A struct
//! with any serde attribute this emitter does not know keeps the derive.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::Settings;

/// A field as the visitor needs it.
struct Field {
    ident: syn::Ident,
    ty: syn::Type,
    wire: String,
    default: FieldDefault,
}

enum FieldDefault {
    /// No default: `missing_field` when absent (`None` for an `Option`).
    None,
    /// `#[serde(default)]`.
    Trait,
    /// `#[serde(default = "path")]`.
    Path(syn::ExprPath),
}

/// Serde attributes of one field, as far as this emitter understands them.
#[derive(Default)]
struct FieldAttrs {
    rename: Option<String>,
    default: Option<FieldDefault>,
    flatten: bool,
}

/// Parse the `#[serde(...)]` attributes of a field; `None` when one of them
/// is not understood (the struct then keeps the derive).
fn field_attrs(field: &syn::Field) -> Option<FieldAttrs> {
    let mut out = FieldAttrs::default();
    let mut understood = true;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let value: syn::LitStr = meta.value()?.parse()?;
                out.rename = Some(value.value());
            } else if meta.path.is_ident("skip_serializing_if") {
                let _: syn::LitStr = meta.value()?.parse()?;
            } else if meta.path.is_ident("flatten") {
                out.flatten = true;
            } else if meta.path.is_ident("default") {
                if meta.input.peek(syn::Token![=]) {
                    let value: syn::LitStr = meta.value()?.parse()?;
                    out.default = Some(FieldDefault::Path(value.parse()?));
                } else {
                    out.default = Some(FieldDefault::Trait);
                }
            } else {
                understood = false;
                if meta.input.peek(syn::Token![=]) {
                    let _: syn::Expr = meta.value()?.parse()?;
                }
            }
            Ok(())
        });
        if parsed.is_err() {
            return None;
        }
    }
    understood.then_some(out)
}

/// Whether a type is written as `Option<...>` (typify writes
/// `::std::option::Option<...>`).
fn is_option(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => p
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "Option" && !s.arguments.is_empty()),
        _ => false,
    }
}

/// The paths of a `#[derive(...)]` attribute.
fn derive_paths(attr: &syn::Attribute) -> Option<Vec<syn::Path>> {
    attr.parse_args_with(syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated)
        .ok()
        .map(|p| p.into_iter().collect())
}

fn is_deserialize(path: &syn::Path) -> bool {
    path.segments
        .last()
        .is_some_and(|s| s.ident == "Deserialize")
}

/// Whether a struct's derive list contains `Deserialize`.
fn derives_deserialize(st: &syn::ItemStruct) -> bool {
    st.attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .filter_map(derive_paths)
        .any(|paths| paths.iter().any(is_deserialize))
}

/// Remove `Deserialize` from a struct's derive list.
fn drop_derive_deserialize(st: &mut syn::ItemStruct) {
    for attr in st.attrs.iter_mut().filter(|a| a.path().is_ident("derive")) {
        let Some(paths) = derive_paths(attr) else {
            continue;
        };
        let kept = paths.iter().filter(|p| !is_deserialize(p));
        *attr = syn::parse_quote!(#[derive(#(#kept),*)]);
    }
}

/// The fields of a struct the visitor can decode, with its `extra` field;
/// `None` when the struct keeps the derive.
fn plan(st: &syn::ItemStruct) -> Option<(Vec<Field>, syn::Ident)> {
    if !st.generics.params.is_empty() || !derives_deserialize(st) {
        return None;
    }
    if st.attrs.iter().any(|a| a.path().is_ident("serde")) {
        return None;
    }
    let syn::Fields::Named(named) = &st.fields else {
        return None;
    };
    let mut fields = Vec::new();
    let mut extra = None;
    for field in &named.named {
        let ident = field.ident.clone()?;
        let attrs = field_attrs(field)?;
        if attrs.flatten {
            // Only the one `extra` map; anything else flattened keeps the derive.
            if extra.is_some() || attrs.rename.is_some() || attrs.default.is_some() {
                return None;
            }
            if !is_json_map(&field.ty) {
                return None;
            }
            extra = Some(ident);
            continue;
        }
        let wire = attrs
            .rename
            .unwrap_or_else(|| ident.to_string().trim_start_matches("r#").to_string());
        fields.push(Field {
            ident,
            ty: field.ty.clone(),
            wire,
            default: attrs.default.unwrap_or(FieldDefault::None),
        });
    }
    Some((fields, extra?))
}

/// `serde_json::Map<String, Value>` (however the path is spelled).
fn is_json_map(ty: &syn::Type) -> bool {
    let syn::Type::Path(p) = ty else { return false };
    let names: Vec<String> = p
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    names.ends_with(&["serde_json".to_string(), "Map".to_string()])
}

/// The hand-written `Deserialize` of one struct (see the module docs).
fn emit_impl(
    name: &syn::Ident,
    fields: &[Field],
    extra: &syn::Ident,
    settings: &Settings,
) -> TokenStream {
    let rt = settings.runtime_path();
    let expecting = format!("struct {name}");
    let slot = |f: &Field| format_ident!("__field_{}", f.ident);
    let slots = fields.iter().map(|f| {
        let (s, ty) = (slot(f), &f.ty);
        quote!(let mut #s: ::std::option::Option<#ty> = ::std::option::Option::None;)
    });
    let arms = fields.iter().map(|f| {
        let (s, wire) = (slot(f), &f.wire);
        quote!(#wire => #rt::types::de::next_field(&mut __map, &mut #s, #wire)?,)
    });
    let inits = fields.iter().map(|f| {
        let (s, ident, wire) = (slot(f), &f.ident, &f.wire);
        let value = match &f.default {
            FieldDefault::Trait => quote!(#s.unwrap_or_default()),
            FieldDefault::Path(path) => quote!(#s.unwrap_or_else(#path)),
            FieldDefault::None if is_option(&f.ty) => quote!(#s.flatten()),
            FieldDefault::None => quote!(#rt::types::de::required(#s, #wire)?),
        };
        quote!(#ident: #value,)
    });
    let doc = format!(
        " Reads the known fields of `{name}` by their wire names and keeps every other field in `{extra}`."
    );
    quote! {
        #[doc = #doc]
        impl<'de> ::serde::Deserialize<'de> for #name {
            fn deserialize<__D>(__deserializer: __D) -> ::std::result::Result<Self, __D::Error>
            where
                __D: ::serde::Deserializer<'de>,
            {
                struct __Visitor;
                impl<'de> ::serde::de::Visitor<'de> for __Visitor {
                    type Value = #name;
                    fn expecting(&self, __f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        __f.write_str(#expecting)
                    }
                    fn visit_map<__A>(self, mut __map: __A) -> ::std::result::Result<#name, __A::Error>
                    where
                        __A: ::serde::de::MapAccess<'de>,
                    {
                        #(#slots)*
                        let mut __extra = ::serde_json::Map::new();
                        while let ::std::option::Option::Some(__key) =
                            __map.next_key::<#rt::types::de::FieldKey<'de>>()?
                        {
                            match __key.as_str() {
                                #(#arms)*
                                _ => {
                                    let __value: ::serde_json::Value = __map.next_value()?;
                                    __extra.insert(__key.into_string(), __value);
                                }
                            }
                        }
                        ::std::result::Result::Ok(#name {
                            #(#inits)*
                            #extra: __extra,
                        })
                    }
                }
                __deserializer.deserialize_map(__Visitor)
            }
        }
    }
}

/// Replace the derived `Deserialize` of every struct with an `extra` map by
/// the hand-written one (placed right after the struct). With
/// `settings.derive_deserialize` the items are left as typify printed them.
/// An error is a generator bug: the emitted implementation does not parse.
pub fn rewrite(items: Vec<syn::Item>, settings: &Settings) -> Result<Vec<syn::Item>, syn::Error> {
    if settings.derive_deserialize {
        return Ok(items);
    }
    let mut out = Vec::with_capacity(items.len());
    for mut item in items {
        let extra_impl = match &mut item {
            syn::Item::Struct(st) => plan(st).map(|(fields, extra)| {
                drop_derive_deserialize(st);
                emit_impl(&st.ident, &fields, &extra, settings)
            }),
            _ => None,
        };
        out.push(item);
        if let Some(tokens) = extra_impl {
            out.push(syn::Item::Impl(syn::parse2(tokens)?));
        }
    }
    Ok(out)
}
