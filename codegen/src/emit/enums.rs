//! Open-enum emitter: every string enum of a spec becomes an enum with one
//! variant per documented value plus `Unknown(String)`, so that values
//! Tradecloud adds later are accepted and re-serialised unchanged. The
//! conversions to and from the wire value are emitted here; the standard
//! trait impls (serde, `Display`, `FromStr`, `From<&str>`) come from the
//! runtime's `impl_open_enum!` macro.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::names;
use crate::normalize::EnumDef;
use crate::Settings;

/// Emit all open enums of a spec.
pub(crate) fn emit(enums: &[EnumDef], settings: &Settings) -> TokenStream {
    let rt = settings.runtime_path();
    let defs = enums.iter().map(|e| {
        let name = format_ident!("{}", e.name);
        let doc = e
            .description
            .clone()
            .unwrap_or_else(|| format!("Values of `{}`.", e.name));
        let doc_lines = doc.lines().map(|l| format!(" {l}")).collect::<Vec<_>>();
        let mut seen = std::collections::BTreeSet::new();
        let mut variants = Vec::new();
        let mut from_arms = Vec::new();
        let mut to_arms = Vec::new();
        for v in &e.values {
            let mut ident = names::variant_name(v);
            while !seen.insert(ident.clone()) {
                ident.push('_');
            }
            let ident = format_ident!("{}", ident);
            let vdoc = format!(" `{v}`");
            variants.push(quote!(#[doc = #vdoc] #ident,));
            from_arms.push(quote!(#v => Self::#ident,));
            to_arms.push(quote!(Self::#ident => #v,));
        }
        let values = &e.values;
        quote! {
            #(#[doc = #doc_lines])*
            #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
            pub enum #name {
                #(#variants)*
                /// A value this version of the spec does not document, kept verbatim.
                Unknown(::std::string::String),
            }

            impl #rt::types::OpenEnum for #name {
                const DOCUMENTED: &'static [&'static str] = &[#(#values),*];

                fn from_wire(value: &str) -> Self {
                    match value {
                        #(#from_arms)*
                        other => Self::Unknown(other.to_owned()),
                    }
                }

                fn as_wire(&self) -> &str {
                    match self {
                        #(#to_arms)*
                        Self::Unknown(value) => value,
                    }
                }
            }

            #rt::impl_open_enum!(#name);
        }
    });
    quote!(#(#defs)*)
}
