//! Operation-table emitter: prints the model's operations as data the
//! runtime reads (`<runtime>::operation::Operation`, see the runtime crate's
//! `operation` module): one constant per operation, named after its id
//! (`pollOrdersRoute` → `POLL_ORDERS_ROUTE`), and `OPERATIONS`, all of them
//! in path order. Nothing here decides anything; the facts come from the
//! model (security from [`crate::model::security`], limits from
//! [`crate::model::limits`]).

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use crate::model::{
    ApiKeyLocation, AuthScheme, Bound, HttpMethod, Limit, LimitLocation, MediaKind, MediaType,
    Operation, Party, Rule, SpecModel, Status,
};
use crate::{runtime, Settings};

/// The name of the table of every operation.
const TABLE: &str = "OPERATIONS";

/// The constant of one operation (`POLL_ORDERS_ROUTE`); never `OPERATIONS`.
pub(crate) fn const_name(op: &Operation) -> String {
    let name = op.fn_name.trim_start_matches("r#").to_ascii_uppercase();
    if name == TABLE {
        format!("{name}_OPERATION")
    } else {
        name
    }
}

fn method(op: &Operation) -> TokenStream {
    let variant = match op.method {
        HttpMethod::Get => quote!(Get),
        HttpMethod::Put => quote!(Put),
        HttpMethod::Post => quote!(Post),
        HttpMethod::Delete => quote!(Delete),
        HttpMethod::Options => quote!(Options),
        HttpMethod::Head => quote!(Head),
        HttpMethod::Patch => quote!(Patch),
        HttpMethod::Trace => quote!(Trace),
    };
    quote!(op::Method::#variant)
}

fn scheme(s: &AuthScheme) -> TokenStream {
    match s {
        AuthScheme::Basic => quote!(op::AuthScheme::Basic),
        AuthScheme::Bearer => quote!(op::AuthScheme::Bearer),
        AuthScheme::ApiKey { name, location } => {
            let location = match location {
                ApiKeyLocation::Header => quote!(Header),
                ApiKeyLocation::Query => quote!(Query),
                ApiKeyLocation::Cookie => quote!(Cookie),
            };
            quote!(op::AuthScheme::ApiKey { name: #name, location: op::ApiKeyLocation::#location })
        }
        AuthScheme::OAuth2 => quote!(op::AuthScheme::OAuth2),
        AuthScheme::OpenIdConnect => quote!(op::AuthScheme::OpenIdConnect),
        AuthScheme::OtherHttp(name) => quote!(op::AuthScheme::OtherHttp(#name)),
    }
}

fn security(op: &Operation) -> TokenStream {
    let alternatives = op.security.iter().map(|alternative| {
        let schemes = alternative.iter().map(scheme);
        quote!(&[#(#schemes),*])
    });
    quote!(&[#(#alternatives),*])
}

fn media_types(types: &[MediaType]) -> TokenStream {
    let types = types.iter().map(|m| {
        let name = m.as_str();
        let kind = match m.kind() {
            MediaKind::Json => quote!(Json),
            MediaKind::Xml => quote!(Xml),
            MediaKind::Multipart => quote!(Multipart),
            MediaKind::Form => quote!(Form),
            MediaKind::Text => quote!(Text),
            MediaKind::Other => quote!(Other),
        };
        quote!(op::MediaType { name: #name, kind: op::MediaKind::#kind })
    });
    quote!(&[#(#types),*])
}

fn request(op: &Operation) -> TokenStream {
    match &op.body {
        None => quote!(::core::option::Option::None),
        Some(body) => {
            let required = body.required;
            let types = media_types(&body.media_types);
            quote!(::core::option::Option::Some(op::RequestBody { required: #required, media_types: #types }))
        }
    }
}

fn responses(op: &Operation) -> TokenStream {
    let responses = op.responses.iter().map(|r| {
        let status = match r.status {
            Status::Code(c) => {
                let c = Literal::u16_unsuffixed(c);
                quote!(op::Status::Code(#c))
            }
            Status::Range(d) => {
                let d = Literal::u16_unsuffixed(d);
                quote!(op::Status::Range(#d))
            }
            Status::Default => quote!(op::Status::Default),
        };
        let types = media_types(&r.media_types);
        quote!(op::Response { status: #status, media_types: #types })
    });
    quote!(&[#(#responses),*])
}

fn bound(b: &Bound) -> TokenStream {
    match b {
        Bound::Integer(n) => {
            let n = Literal::i128_unsuffixed(*n);
            quote!(op::Bound::Integer(#n))
        }
        Bound::Decimal(text) => quote!(op::Bound::Decimal(#text)),
    }
}

/// `op::Rule::<variant>(n)`.
fn count(variant: &str, n: u64) -> TokenStream {
    let variant = format_ident!("{variant}");
    let n = Literal::u64_unsuffixed(n);
    quote!(op::Rule::#variant(#n))
}

fn limit(l: &Limit) -> TokenStream {
    let location = match l.location {
        LimitLocation::Body => quote!(Body),
        LimitLocation::Path => quote!(Path),
        LimitLocation::Query => quote!(Query),
        LimitLocation::Header => quote!(Header),
    };
    let rule = match &l.rule {
        Rule::Minimum { value, exclusive } => {
            let value = bound(value);
            quote!(op::Rule::Minimum { value: #value, exclusive: #exclusive })
        }
        Rule::Maximum { value, exclusive } => {
            let value = bound(value);
            quote!(op::Rule::Maximum { value: #value, exclusive: #exclusive })
        }
        Rule::MinLength(n) => count("MinLength", *n),
        Rule::MaxLength(n) => count("MaxLength", *n),
        Rule::Pattern(p) => quote!(op::Rule::Pattern(#p)),
        Rule::MinItems(n) => count("MinItems", *n),
        Rule::MaxItems(n) => count("MaxItems", *n),
    };
    let path = &l.path;
    quote!(op::Limit { location: op::Location::#location, path: #path, rule: #rule })
}

/// `Some(<runtime>::types::Party::Buyer)` for an operation only the buyer
/// takes, and so on; `None` when either company may.
fn party(op: &Operation, rt: &TokenStream) -> TokenStream {
    let Some(party) = op.party else {
        return quote!(::core::option::Option::None);
    };
    let path: TokenStream = runtime::PARTY
        .parse()
        .unwrap_or_else(|_| quote!(types::Party));
    let variant = match party {
        Party::Buyer => format_ident!("Buyer"),
        Party::Supplier => format_ident!("Supplier"),
    };
    quote!(::core::option::Option::Some(#rt::#path::#variant))
}

/// The constant of one operation, documented with its method, path and summary.
fn operation(op: &Operation, rt: &TokenStream) -> TokenStream {
    let mut doc = format!("`{} {}` (`{}`)", op.method.wire(), op.path, op.id);
    if let Some(summary) = &op.summary {
        doc = format!("{summary}\n\n{doc}");
    }
    let docs = doc.lines().map(|l| format!(" {l}"));
    let name = format_ident!("{}", const_name(op));
    let id = &op.id;
    let path = &op.path;
    let client_method = &op.client_fn_name;
    let server_method = op.fn_name.trim_start_matches("r#");
    let deprecated = op.deprecated;
    let method = method(op);
    let security = security(op);
    let request = request(op);
    let responses = responses(op);
    let limits = op.limits.iter().map(limit);
    let party = party(op, rt);
    quote! {
        #(#[doc = #docs])*
        pub const #name: op::Operation = op::Operation {
            id: #id,
            method: #method,
            path: #path,
            client_method: #client_method,
            server_method: #server_method,
            deprecated: #deprecated,
            security: #security,
            request: #request,
            responses: #responses,
            limits: &[#(#limits),*],
            party: #party,
        };
    }
}

/// Emit the operation table of one spec.
pub(crate) fn emit(model: &SpecModel, settings: &Settings) -> TokenStream {
    let rt = settings.runtime_path();
    let module = format_ident!("{}", runtime::OPERATION);
    let items = model.operations.iter().map(|op| operation(op, &rt));
    let names = model
        .operations
        .iter()
        .map(|op| format_ident!("{}", const_name(op)));
    let table = format_ident!("{TABLE}");
    let doc = format!(" Every operation of *{}*, in path order.", model.title);
    quote! {
        use #rt::#module as op;

        #(#items)*

        #[doc = #doc]
        pub const #table: &[op::Operation] = &[#(#names),*];
    }
}
