//! Shape emitter: a static description of every object schema (property
//! name → kind), which the runtime's tXML decoder uses to turn Tradecloud's
//! XML into the same types as the JSON. tXML is "a one-to-one mapping of the
//! JSON" except that an array is written as repeated elements with the
//! singular name (`lines` → `<line>`), which only the schema can tell.
//!
//! The kinds come from the model ([`ValueKind`]); this module only prints them.
//! The element name of a message is the schema's `xml.name` when the spec
//! gives one (`SendOrderByBuyer` for both order variants), else its name.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::model::schemas::Property;
use crate::model::{SpecModel, ValueKind};
use crate::Settings;

fn kind(value: &ValueKind, settings: &Settings) -> TokenStream {
    let rt = settings.runtime_path();
    match value {
        ValueKind::String => quote!(#rt::webhook::txml::Kind::String),
        ValueKind::Number => quote!(#rt::webhook::txml::Kind::Number),
        ValueKind::Integer => quote!(#rt::webhook::txml::Kind::Integer),
        ValueKind::Boolean => quote!(#rt::webhook::txml::Kind::Boolean),
        ValueKind::Any => quote!(#rt::webhook::txml::Kind::Any),
        ValueKind::Array(item) => {
            let item = kind(item, settings);
            quote!(#rt::webhook::txml::Kind::Array(&#item))
        }
        ValueKind::Named { name, module } => {
            let n = format_ident!("{}", name);
            match module {
                None => quote!(#rt::webhook::txml::Kind::Object(&#n)),
                Some(module) => {
                    let root = settings.api_root_path();
                    let m = format_ident!("{}", module);
                    quote!(#rt::webhook::txml::Kind::Object(&#root::#m::types::txml_shapes::#n))
                }
            }
        }
        ValueKind::Inline(props) => {
            let props = properties(props, settings);
            quote!(#rt::webhook::txml::Kind::Object(&#rt::webhook::txml::Shape { name: "", element: "", properties: &[#(#props),*] }))
        }
    }
}

fn properties(props: &[Property], settings: &Settings) -> Vec<TokenStream> {
    props
        .iter()
        .map(|p| {
            let name = &p.wire;
            let k = kind(&p.kind, settings);
            quote!((#name, #k))
        })
        .collect()
}

/// Emit `pub mod txml_shapes` for the object schemas of a spec.
pub(crate) fn emit(model: &SpecModel, settings: &Settings) -> TokenStream {
    if model.objects.is_empty() {
        return quote!();
    }
    let rt = settings.runtime_path();
    let statics = model.objects.iter().map(|(name, object)| {
        let ident = format_ident!("{}", name);
        let element = object.xml_name.as_deref().unwrap_or(name);
        let props = properties(&object.properties, settings);
        let doc = format!(" tXML shape of [`super::{name}`].");
        quote! {
            #[doc = #doc]
            pub static #ident: #rt::webhook::txml::Shape = #rt::webhook::txml::Shape {
                name: #name,
                element: #element,
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
