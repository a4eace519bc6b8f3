//! `Default` and builders for the structs typify prints.
//!
//! typify gives a struct `Default` only when every field has one, and the
//! `extra` map that keeps unknown fields never counts, so none of ours had
//! it and a request literal needed `extra: serde_json::Map::new()`. Here
//! every struct whose fields all have a value to start from gets a
//! `Default`:
//!
//! * a field with `#[serde(default)]` or `#[serde(default = "path")]` starts
//!   as serde would fill it when the field is absent;
//! * `Option`, `Vec`, maps (`extra` too), strings, numbers and booleans start
//!   empty (`None`, `[]`, `""`, `0`, `false`);
//! * a struct of the specs starts at its own `Default`;
//! * an open enum that the spec marks required starts as the empty value
//!   (`Unknown("")`, which Tradecloud never sends), documented on the impl.
//!
//! A struct with a required field of any other type (a decimal, a
//! date-time, a `oneOf` enum without a default) gets no `Default` and no
//! builder: there is no value to start from that would not be made up.
//! Nothing here changes how a type is decoded.
//!
//! Every struct with named fields and a `Default` also gets a builder in the
//! style of typify's (`types::builder`): `OrderPollRequest::builder()`
//! returns a `builder::OrderPollRequestBuilder` (a name of its own, so that
//! the documentation never shows `fn builder() -> OrderPollRequest`), one
//! setter per field named like the field, then `build()` (or `.into()`).
//! Setters take anything that converts into the field's type; an optional
//! field is set with its value (no `Some`), a list (also an optional one
//! kept when empty, `Option<Vec<T>>`) with anything iterable, and
//! `extra(key, value)` adds one undocumented field. Building cannot fail.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::quote;
use syn::visit_mut::VisitMut;

use crate::model::SpecModel;
use crate::Settings;

/// How serde treats a field, as far as `Default` and builders care.
#[derive(Default)]
pub(crate) struct SerdeField {
    /// `rename = "..."`: the wire name.
    pub(crate) rename: Option<String>,
    /// `default` (`Some(None)`) or `default = "path"` (`Some(Some(path))`).
    default: Option<Option<syn::ExprPath>>,
    /// `flatten`.
    flatten: bool,
}

impl SerdeField {
    /// Read the `#[serde(...)]` attributes of a field.
    pub(crate) fn of(field: &syn::Field) -> Self {
        let mut out = SerdeField::default();
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
            let _ = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename") {
                    let value: syn::LitStr = meta.value()?.parse()?;
                    out.rename = Some(value.value());
                } else if meta.path.is_ident("flatten") {
                    out.flatten = true;
                } else if meta.path.is_ident("default") {
                    out.default = Some(if meta.input.peek(syn::Token![=]) {
                        let value: syn::LitStr = meta.value()?.parse()?;
                        Some(value.parse()?)
                    } else {
                        None
                    });
                } else if meta.input.peek(syn::Token![=]) {
                    let _: syn::Expr = meta.value()?.parse()?;
                }
                Ok(())
            });
        }
        out
    }
}

/// How a field starts in `Default`.
enum Init {
    /// `Default::default()`.
    Default,
    /// A `#[serde(default = "path")]` function.
    Path(syn::ExprPath),
    /// The empty value of an open enum.
    EmptyEnum,
}

/// The types of every spec (`(module, name)`) that have a `Default`.
pub(crate) struct DefaultIndex {
    types: BTreeSet<(String, String)>,
}

/// The last segment of a plain type path (`::std::option::Option<T>` →
/// `Option`), with the path's length.
fn last_segment(ty: &syn::Type) -> Option<(&syn::PathSegment, usize)> {
    match ty {
        syn::Type::Path(tp) if tp.qself.is_none() => {
            let len = tp.path.segments.len() + usize::from(tp.path.leading_colon.is_some());
            tp.path.segments.last().map(|s| (s, len))
        }
        _ => None,
    }
}

/// The type arguments of a path segment (`Option<T>` → `[T]`).
fn type_args(segment: &syn::PathSegment) -> Vec<&syn::Type> {
    match &segment.arguments {
        syn::PathArguments::AngleBracketed(args) => args
            .args
            .iter()
            .filter_map(|a| match a {
                syn::GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

const PRIMITIVES: [&str; 15] = [
    "bool", "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize",
    "f32", "f64",
];
const EMPTY_CONTAINERS: [&str; 7] = [
    "Option", "Vec", "String", "BTreeMap", "HashMap", "Map", "Value",
];

/// How a field of type `ty` in `model` starts, given the types known to
/// have a `Default`; `None` when it has no value to start from.
fn type_init(ty: &syn::Type, model: &SpecModel, has: &BTreeSet<(String, String)>) -> Option<Init> {
    let (segment, len) = last_segment(ty)?;
    let name = segment.ident.to_string();
    if len == 1 && PRIMITIVES.contains(&name.as_str()) {
        return Some(Init::Default);
    }
    let own = len == 1 || {
        // `crate::api::<module>::types::<Name>`, as typify writes local enums.
        let path: Vec<String> = match ty {
            syn::Type::Path(tp) => tp
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect(),
            _ => Vec::new(),
        };
        path.len() >= 3 && path[path.len() - 2] == "types" && path[path.len() - 3] == model.module
    };
    let module = if own {
        model.module.clone()
    } else if let Some(external) = model.externals.get(&name) {
        external.module.clone()
    } else if EMPTY_CONTAINERS.contains(&name.as_str()) {
        return Some(Init::Default);
    } else if name == "Box" {
        let inner = type_args(segment).into_iter().next()?;
        return type_init(inner, model, has).map(|_| Init::Default);
    } else {
        return None;
    };
    if model.is_open_enum(&name) {
        Some(Init::EmptyEnum)
    } else if has.contains(&(module, name)) {
        Some(Init::Default)
    } else {
        None
    }
}

fn field_init(
    field: &syn::Field,
    model: &SpecModel,
    has: &BTreeSet<(String, String)>,
) -> Option<Init> {
    match SerdeField::of(field).default {
        Some(Some(path)) => Some(Init::Path(path)),
        Some(None) => Some(Init::Default),
        None => type_init(&field.ty, model, has),
    }
}

/// Whether typify already gave `name` a `Default` (derived or implemented).
fn typify_default(name: &syn::Ident, attrs: &[syn::Attribute], items: &[syn::Item]) -> bool {
    let derived = attrs
        .iter()
        .filter(|a| a.path().is_ident("derive"))
        .filter_map(|a| {
            a.parse_args_with(
                syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
            )
            .ok()
        })
        .any(|paths| paths.iter().any(|p| p.is_ident("Default")));
    derived
        || items.iter().any(|item| {
            let syn::Item::Impl(imp) = item else {
                return false;
            };
            let is_default = imp
                .trait_
                .as_ref()
                .and_then(|(_, p, _)| p.segments.last())
                .is_some_and(|s| s.ident == "Default");
            is_default && last_segment(&imp.self_ty).is_some_and(|(s, _)| s.ident == *name)
        })
}

impl DefaultIndex {
    /// Which structs of all specs get a `Default`: those typify gave one,
    /// then, until nothing changes, every struct whose fields all start
    /// from something (see the module docs).
    pub(crate) fn new(models: &[SpecModel], items: &[Vec<syn::Item>]) -> Self {
        let mut types = BTreeSet::new();
        for (model, items) in models.iter().zip(items) {
            for item in items {
                let (ident, attrs) = match item {
                    syn::Item::Struct(st) => (&st.ident, &st.attrs),
                    syn::Item::Enum(en) => (&en.ident, &en.attrs),
                    _ => continue,
                };
                if typify_default(ident, attrs, items) {
                    types.insert((model.module.clone(), ident.to_string()));
                }
            }
        }
        loop {
            let mut added = Vec::new();
            for (model, items) in models.iter().zip(items) {
                for item in items {
                    let syn::Item::Struct(st) = item else {
                        continue;
                    };
                    let key = (model.module.clone(), st.ident.to_string());
                    if types.contains(&key) {
                        continue;
                    }
                    if st
                        .fields
                        .iter()
                        .all(|f| field_init(f, model, &types).is_some())
                    {
                        added.push(key);
                    }
                }
            }
            if added.is_empty() {
                break;
            }
            types.extend(added);
        }
        DefaultIndex { types }
    }

    fn has(&self, module: &str, name: &str) -> bool {
        self.types.contains(&(module.to_string(), name.to_string()))
    }
}

/// Add `Default` to the structs of `items` that the index lists (after
/// each struct), and return the items with the `builder` module.
pub(crate) fn add(
    model: &SpecModel,
    settings: &Settings,
    items: Vec<syn::Item>,
    index: &DefaultIndex,
) -> (Vec<syn::Item>, TokenStream) {
    let locals: BTreeSet<String> = model
        .components
        .iter()
        .cloned()
        .chain(items.iter().filter_map(|i| match i {
            syn::Item::Struct(s) => Some(s.ident.to_string()),
            syn::Item::Enum(e) => Some(e.ident.to_string()),
            syn::Item::Type(t) => Some(t.ident.to_string()),
            _ => None,
        }))
        .collect();
    let typified: Vec<syn::Item> = items.clone();
    let mut out = Vec::with_capacity(items.len());
    let mut builders = Vec::new();
    for mut item in items {
        let mut extra = None;
        if let syn::Item::Struct(st) = &mut item {
            if index.has(&model.module, &st.ident.to_string()) {
                if !typify_default(&st.ident, &st.attrs, &typified) {
                    extra = default_impl(st, model, settings, &index.types);
                }
                if let syn::Fields::Named(_) = st.fields {
                    let builder = builder(st, &locals);
                    let name = &st.ident;
                    let builder_name = builder_name(name);
                    let doc = format!(" A [`builder::{builder_name}`] of `{name}`, starting from its `Default`: set the fields you need, then `build()`.");
                    let method = quote! {
                        impl #name {
                            #[doc = #doc]
                            pub fn builder() -> builder::#builder_name {
                                ::std::default::Default::default()
                            }
                        }
                    };
                    extra = Some(quote!(#extra #method));
                    builders.push(builder);
                }
            }
        }
        out.push(item);
        if let Some(tokens) = extra {
            let file: syn::File = syn::parse_quote!(#tokens);
            out.extend(file.items);
        }
    }
    let builders = if builders.is_empty() {
        quote!()
    } else {
        quote! {
            /// Builders of the structs above: `Type::builder()`, one setter
            /// per field, then `build()`. Building cannot fail.
            pub mod builder {
                #(#builders)*
            }
        }
    };
    (out, builders)
}

/// Make `st` implement `Default`: derived when every field starts at its
/// type's `Default`, otherwise an impl (returned, to follow the struct).
fn default_impl(
    st: &mut syn::ItemStruct,
    model: &SpecModel,
    settings: &Settings,
    has: &BTreeSet<(String, String)>,
) -> Option<TokenStream> {
    let inits: Vec<Init> = st
        .fields
        .iter()
        .map(|f| field_init(f, model, has))
        .collect::<Option<_>>()?;
    if inits.iter().all(|i| matches!(i, Init::Default)) {
        derive_default(st);
        return None;
    }
    let rt = settings.runtime_path();
    let mut placeholders = Vec::new();
    let values: Vec<TokenStream> = st
        .fields
        .iter()
        .zip(inits)
        .map(|(field, init)| match init {
            Init::Default => quote!(::std::default::Default::default()),
            Init::Path(path) => quote!(#path()),
            Init::EmptyEnum => {
                let ty = &field.ty;
                if let Some(ident) = &field.ident {
                    placeholders.push(format!("`{ident}`"));
                }
                quote!(<#ty as #rt::types::OpenEnum>::from_wire(""))
            }
        })
        .collect();
    let name = &st.ident;
    let mut doc = String::from(
        " Every optional field absent, every list and map empty, defaults as the spec gives them.",
    );
    if !placeholders.is_empty() {
        doc.push_str(&format!(
            " The required {} is the empty value (`Unknown(\"\")`) until you set it.",
            placeholders.join(", ")
        ));
    }
    let body = match &st.fields {
        syn::Fields::Named(_) => {
            let idents = st.fields.iter().map(|f| &f.ident);
            quote!(Self { #(#idents: #values,)* })
        }
        _ => quote!(Self(#(#values),*)),
    };
    Some(quote! {
        impl ::std::default::Default for #name {
            #[doc = #doc]
            fn default() -> Self {
                #body
            }
        }
    })
}

/// Add `Default` to the struct's first `#[derive(...)]` (or a new one).
fn derive_default(st: &mut syn::ItemStruct) {
    for attr in st.attrs.iter_mut().filter(|a| a.path().is_ident("derive")) {
        let Ok(mut paths) = attr.parse_args_with(
            syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
        ) else {
            continue;
        };
        paths.push(syn::parse_quote!(Default));
        *attr = syn::parse_quote!(#[derive(#paths)]);
        return;
    }
    st.attrs.push(syn::parse_quote!(#[derive(Default)]));
}

/// The name of the builder of `name` (`Order` → `OrderBuilder`).
fn builder_name(name: &syn::Ident) -> syn::Ident {
    quote::format_ident!("{}Builder", name)
}

/// Prefixes the types of the spec's own module with `super::`, for use
/// inside `mod builder`, which holds only the builders.
struct InSuper<'a> {
    locals: &'a BTreeSet<String>,
}

impl VisitMut for InSuper<'_> {
    fn visit_type_path_mut(&mut self, tp: &mut syn::TypePath) {
        let local = tp.qself.is_none()
            && tp.path.leading_colon.is_none()
            && tp
                .path
                .segments
                .first()
                .is_some_and(|s| self.locals.contains(&s.ident.to_string()));
        if local {
            tp.path.segments.insert(0, syn::parse_quote!(super));
        }
        syn::visit_mut::visit_type_path_mut(self, tp);
    }
}

/// The item type of a `Vec<T>`.
fn list_item(ty: &syn::Type) -> Option<syn::Type> {
    let (segment, _) = last_segment(ty)?;
    if segment.ident != "Vec" {
        return None;
    }
    type_args(segment).into_iter().next().cloned()
}

/// The builder of one struct (`XBuilder` in `mod builder`).
fn builder(st: &syn::ItemStruct, locals: &BTreeSet<String>) -> TokenStream {
    let name = &st.ident;
    let builder = builder_name(name);
    let scoped = |ty: &syn::Type| {
        let mut ty = ty.clone();
        InSuper { locals }.visit_type_mut(&mut ty);
        ty
    };
    let mut has_build_field = false;
    let setters = st.fields.iter().filter_map(|field| {
        let ident = field.ident.as_ref()?;
        has_build_field |= ident == "build";
        let mut docs: Vec<syn::Attribute> = field
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .cloned()
            .collect();
        if docs.is_empty() {
            let wire = SerdeField::of(field)
                .rename
                .unwrap_or_else(|| ident.to_string().trim_start_matches("r#").to_string());
            let doc = format!(" Sets `{wire}`.");
            docs.push(syn::parse_quote!(#[doc = #doc]));
        }
        let (segment, _) = last_segment(&field.ty)?;
        let args: Vec<syn::Type> = type_args(segment).into_iter().map(scoped).collect();
        let kind = segment.ident.to_string();
        let tokens = match (kind.as_str(), args.as_slice()) {
            (_, [key, value]) if SerdeField::of(field).flatten => quote! {
                /// Adds a field the spec does not document; it is sent as given.
                pub fn #ident(mut self, key: impl ::std::convert::Into<#key>, value: impl ::std::convert::Into<#value>) -> Self {
                    self.value.#ident.insert(key.into(), value.into());
                    self
                }
            },
            ("Option", [inner]) => match list_item(inner) {
                // An optional list kept when empty (`x-keep-empty`): set
                // like any list, to `Some` of what is given.
                Some(item) => quote! {
                    #(#docs)*
                    pub fn #ident(mut self, values: impl ::std::iter::IntoIterator<Item = impl ::std::convert::Into<#item>>) -> Self {
                        self.value.#ident = ::std::option::Option::Some(values.into_iter().map(::std::convert::Into::into).collect());
                        self
                    }
                },
                None => quote! {
                    #(#docs)*
                    pub fn #ident(mut self, value: impl ::std::convert::Into<#inner>) -> Self {
                        self.value.#ident = ::std::option::Option::Some(value.into());
                        self
                    }
                },
            },
            ("Vec", [inner]) => quote! {
                #(#docs)*
                pub fn #ident(mut self, values: impl ::std::iter::IntoIterator<Item = impl ::std::convert::Into<#inner>>) -> Self {
                    self.value.#ident = values.into_iter().map(::std::convert::Into::into).collect();
                    self
                }
            },
            _ => {
                let ty = scoped(&field.ty);
                quote! {
                    #(#docs)*
                    pub fn #ident(mut self, value: impl ::std::convert::Into<#ty>) -> Self {
                        self.value.#ident = value.into();
                        self
                    }
                }
            }
        };
        Some(tokens)
    });
    let setters: Vec<TokenStream> = setters.collect();
    let build = (!has_build_field).then(|| {
        quote! {
            /// The value built.
            pub fn build(self) -> super::#name {
                self.value
            }
        }
    });
    let doc = format!(" Builder of [`super::{name}`] (see [`super::{name}::builder`]).");
    quote! {
        #[doc = #doc]
        #[derive(Clone, Debug, Default)]
        pub struct #builder {
            value: super::#name,
        }

        impl #builder {
            #(#setters)*
            #build
        }

        impl ::std::convert::From<#builder> for super::#name {
            fn from(builder: #builder) -> Self {
                builder.value
            }
        }

        impl ::std::convert::From<super::#name> for #builder {
            fn from(value: super::#name) -> Self {
                Self { value }
            }
        }
    }
}
