//! Validate emitter: `impl Validate` for the structs the model marks
//! (`SpecModel::validated`): every request body and every type that holds a
//! rule. Each member with a constraint is checked (`pattern`, with the
//! words of its `x-pattern-description` for the message when the spec
//! gives them, `minLength` and `maxLength` of a string, `minItems`/
//! `maxItems` of a list), and each member whose type holds rules
//! (`SpecModel::checked`, or a sibling's `External::checked`) is checked
//! in turn, list items with their index, so that every broken rule is
//! reported with the JSON path of the member.
//!
//! The `x-request-rules` (constraints of a member, among them `uniqueBy`
//! of a list: no two items share that text member, compared trimmed, a
//! blank or absent one repeating nothing; also the `pattern` of a date or
//! date-time, checked on its text: the one form a request writes;
//! `required` and `dependentRequired` of a schema, a blank text being not
//! given) apply only to a message sent to
//! Tradecloud: `check` of a type Tradecloud sends (`SpecModel::received`)
//! leaves them out, and its `check_sent` adds them; `check` of a type that
//! is only sent has them all, and calls `check_sent` of its members.
//!
//! The field types come from typify's structs (whether a member is an
//! `Option`, a `Vec`, or both); what to check comes from the model.

use proc_macro2::TokenStream;
use quote::quote;

use crate::emit::defaults::SerdeField;
use crate::model::schemas::{Constraints, Property};
use crate::model::{ObjectModel, SpecModel, ValueKind};
use crate::Settings;

/// How a field holds its value.
struct FieldShape {
    optional: bool,
    list: bool,
    /// The value (inside the `Option`) is a `String`.
    text: bool,
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
    let inner = inner.as_ref().and_then(last_ident);
    FieldShape {
        optional,
        list: inner.as_deref() == Some("Vec"),
        text: inner.as_deref() == Some("String"),
    }
}

fn last_ident(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(tp) => tp.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// Which rules a check covers: those of every message (`Validate::check`
/// of a type Tradecloud sends), or those of a message sent to Tradecloud,
/// with the `x-request-rules` (`Validate::check_sent`, and `check` of a
/// type only ever sent).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Every,
    Sent,
}

/// Whether a value of `kind` (through lists) implements `Validate` with
/// something to check in `mode`.
fn holds_rules(kind: &ValueKind, model: &SpecModel, mode: Mode) -> bool {
    match kind {
        ValueKind::Array(item) => holds_rules(item, model, mode),
        ValueKind::Named { name, module: None } => {
            model.checked.contains(name)
                || (mode == Mode::Sent && model.sent_checked.contains(name))
        }
        ValueKind::Named {
            name,
            module: Some(_),
        } => model
            .externals
            .get(name)
            .is_some_and(|e| e.checked || (mode == Mode::Sent && e.sent_checked)),
        _ => false,
    }
}

/// The statements checking one member `value` (a reference to the field's
/// value once unwrapped from its `Option`) at `path`.
fn member_checks(
    property: &Property,
    shape: &FieldShape,
    model: &SpecModel,
    mode: Mode,
    rt: &TokenStream,
) -> TokenStream {
    let constraints: Vec<&Constraints> = match mode {
        Mode::Every => vec![&property.constraints],
        Mode::Sent => vec![&property.constraints, &property.request],
    };
    let opt = |v: Option<u64>| match v {
        Some(n) => quote!(::std::option::Option::Some(#n)),
        None => quote!(::std::option::Option::None),
    };
    let method = match mode {
        Mode::Every => quote!(check),
        Mode::Sent => quote!(check_sent),
    };
    let nested = holds_rules(&property.kind, model, mode);
    if shape.list {
        let counts = constraints
            .iter()
            .filter(|c| c.min_items.is_some() || c.max_items.is_some())
            .map(|c| {
                let (min, max) = (opt(c.min_items), opt(c.max_items));
                quote!(#rt::types::validate::items(value.len(), #min, #max, &path, out);)
            });
        let unique = constraints
            .iter()
            .filter_map(|c| c.unique_by.as_deref())
            .map(|member| {
                let field = quote::format_ident!("{}", crate::names::field_name(member));
                quote! {
                    #rt::types::validate::unique(
                        value.iter().map(|item| #rt::types::validate::UniqueKey::unique_key(&item.#field)),
                        #member,
                        &path,
                        out,
                    );
                }
            });
        let items = nested.then(|| {
            quote! {
                for (index, item) in value.iter().enumerate() {
                    #rt::types::Validate::#method(item, &path.index(index), out);
                }
            }
        });
        quote!(#(#counts)* #(#unique)* #items)
    } else {
        // A pattern of a date or date-time (request rules only) is checked
        // on its text.
        let text = if shape.text {
            quote!(value)
        } else {
            quote!(value.as_str())
        };
        let own = constraints.iter().map(|c| {
            let pattern = c.pattern.as_ref().map(|p| match &c.pattern_description {
                Some(d) => {
                    quote!(#rt::types::validate::described_pattern(#text, #p, #d, &path, out);)
                }
                None => quote!(#rt::types::validate::pattern(#text, #p, &path, out);),
            });
            let length = (c.min_length.is_some() || c.max_length.is_some()).then(|| {
                let (min, max) = (opt(c.min_length), opt(c.max_length));
                quote!(#rt::types::validate::length(value, #min, #max, &path, out);)
            });
            quote!(#pattern #length)
        });
        let inner = nested.then(|| quote!(#rt::types::Validate::#method(value, &path, out);));
        quote!(#(#own)* #inner)
    }
}

/// A field of a struct with its place in the model.
struct Member<'a> {
    ident: &'a syn::Ident,
    wire: String,
    shape: FieldShape,
    property: &'a Property,
}

impl Member<'_> {
    /// The expression that tells whether the member is given: present, not
    /// an empty list, and not a blank text (`types::validate::is_blank`, the
    /// crate's one reading of blank). The tXML reader trims an element's
    /// text the same way, so a blank value reads as `""` there: blank in
    /// JSON means the same, and a rule has one meaning in both.
    fn given(&self, rt: &TokenStream) -> TokenStream {
        let ident = self.ident;
        let FieldShape {
            optional,
            list,
            text,
        } = self.shape;
        match (optional, text, list) {
            (true, true, _) => {
                quote!(self.#ident.as_ref().is_some_and(|v| !#rt::types::validate::is_blank(v)))
            }
            (true, false, true) => quote!(self.#ident.as_ref().is_some_and(|v| !v.is_empty())),
            (true, false, false) => quote!(self.#ident.is_some()),
            (false, true, _) => quote!(!#rt::types::validate::is_blank(&self.#ident)),
            (false, false, true) => quote!(!self.#ident.is_empty()),
            (false, false, false) => quote!(true),
        }
    }
}

/// The statements of one `check` body in `mode`.
fn checks(
    members: &[Member<'_>],
    object: Option<&ObjectModel>,
    model: &SpecModel,
    mode: Mode,
    rt: &TokenStream,
) -> Vec<TokenStream> {
    let mut checks = Vec::new();
    for member in members {
        let body = member_checks(member.property, &member.shape, model, mode, rt);
        if body.is_empty() {
            continue;
        }
        let (ident, wire) = (member.ident, &member.wire);
        let block = quote! {
            let path = at.field(#wire);
            #body
        };
        checks.push(if member.shape.optional {
            quote!(if let ::std::option::Option::Some(value) = &self.#ident { #block })
        } else {
            quote!({ let value = &self.#ident; #block })
        });
    }
    let Some(object) = object.filter(|_| mode == Mode::Sent) else {
        return checks;
    };
    let member = |wire: &str| members.iter().find(|m| m.wire == wire);
    for wire in &object.request_required {
        if let Some(m) = member(wire) {
            let given = m.given(rt);
            checks.push(quote!(#rt::types::validate::required(#given, &at.field(#wire), out);));
        }
    }
    for (with, needs) in &object.dependent_required {
        let Some(with_given) = member(with).map(|m| m.given(rt)) else {
            continue;
        };
        let needs = needs.iter().filter_map(|need| {
            let given = member(need)?.given(rt);
            Some(quote!(#rt::types::validate::required_with(#given, #with, &at.field(#need), out);))
        });
        checks.push(quote!(if #with_given { #(#needs)* }));
    }
    checks
}

/// `impl Validate` for one struct: `check` with the rules of every message
/// for a type Tradecloud sends (and `check_sent` with the request rules
/// when it can be sent too), with every rule for a type only ever sent.
fn struct_impl(st: &syn::ItemStruct, model: &SpecModel, settings: &Settings) -> TokenStream {
    let rt = settings.runtime_path();
    let name = &st.ident;
    let object = model.objects.get(&name.to_string());
    let members: Vec<Member<'_>> = st
        .fields
        .iter()
        .filter_map(|field| {
            let ident = field.ident.as_ref()?;
            let wire = SerdeField::of(field)
                .rename
                .unwrap_or_else(|| ident.to_string().trim_start_matches("r#").to_string());
            let property = object?.property(&wire)?;
            Some(Member {
                ident,
                wire,
                shape: shape(&field.ty),
                property,
            })
        })
        .collect();
    let received = model.received.contains(&name.to_string());
    let body = |mode: Mode| {
        let checks = checks(&members, object, model, mode, &rt);
        let unused = checks.is_empty().then(|| quote!(let _ = (at, out);));
        quote!(#unused #(#checks)*)
    };
    let check = body(if received { Mode::Every } else { Mode::Sent });
    let check_sent = (received && model.sent_checked.contains(&name.to_string())).then(|| {
        let body = body(Mode::Sent);
        quote! {
            fn check_sent(&self, at: &#rt::types::JsonPath<'_>, out: &mut ::std::vec::Vec<#rt::types::Violation>) {
                #body
            }
        }
    });
    let doc = format!(" The rules of `{name}` that its type cannot check (see `types::Validate`).");
    quote! {
        #[doc = #doc]
        impl #rt::types::Validate for #name {
            fn check(&self, at: &#rt::types::JsonPath<'_>, out: &mut ::std::vec::Vec<#rt::types::Violation>) {
                #check
            }
            #check_sent
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
