//! Server-stub emitter: for each spec, a trait `Api` with one async method
//! per operation, typed request and response types, and `router()`, which
//! mounts an implementation on an `axum::Router`.
//!
//! One small function per piece, as tonic-build does: [`parameters`] (the
//! path and query structs), [`headers`], [`body`], [`request_struct`],
//! [`responses`], [`handler`], [`api_trait`] and [`router`]; [`emit`] puts
//! them together. Every handler first calls `Api::admit` with the
//! operation's entry of the spec's operation table (see
//! [`operations`](super::operations)), so that an implementation can
//! authenticate by the security schemes the spec states. Extraction mechanics (reading the body within the
//! configured limit, content-type negotiation, JSON/tXML decoding, problem
//! responses) live in the runtime crate's `server` module, so the emitted
//! code stays short and readable; it only names types and wires them
//! together.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::model::{Operation, Param, ParamLocation, ResponseModel, SpecModel, Status, TypeRef};
use crate::runtime;
use crate::Settings;

/// Render the Rust type of a [`TypeRef`] as seen from inside the `server`
/// module.
fn rust_type(ty: &TypeRef, settings: &Settings) -> TokenStream {
    let rt = settings.runtime_path();
    match ty {
        TypeRef::Named(n) => {
            let ident = format_ident!("{}", n);
            quote!(super::types::#ident)
        }
        TypeRef::String => quote!(::std::string::String),
        TypeRef::Integer => quote!(i64),
        TypeRef::Boolean => quote!(bool),
        TypeRef::Decimal => runtime_type(&rt, runtime::DECIMAL),
        TypeRef::DateTime => runtime_type(&rt, runtime::DATE_TIME),
        TypeRef::Date => runtime_type(&rt, runtime::DATE),
        TypeRef::Binary => quote!(#rt::server::BinaryBody),
        TypeRef::Any => quote!(::serde_json::Value),
        TypeRef::Array(inner) => {
            let inner = rust_type(inner, settings);
            quote!(::std::vec::Vec<#inner>)
        }
    }
}

/// A type of the runtime crate (`rt`) by its path there.
fn runtime_type(rt: &TokenStream, path: &str) -> TokenStream {
    let path: TokenStream = path.parse().unwrap_or_default();
    quote!(#rt::#path)
}

/// `ty`, or `Option<ty>` when not required.
fn optional(ty: TokenStream, required: bool) -> TokenStream {
    if required {
        ty
    } else {
        quote!(::std::option::Option<#ty>)
    }
}

fn doc_lines(text: &str) -> TokenStream {
    let lines = text.lines().map(|l| format!(" {l}"));
    quote!(#(#[doc = #lines])*)
}

/// `"{what} `{name}`. {description}"` as doc attributes.
fn described(what: &str, name: &str, description: Option<&str>) -> TokenStream {
    let description = description.map(|d| format!(" {d}")).unwrap_or_default();
    doc_lines(&format!("{what} `{name}`.{description}"))
}

/// Hand a request that could not be extracted to `Api::reject`.
fn reject(op: &Operation, kind: TokenStream, raw: TokenStream, settings: &Settings) -> TokenStream {
    let rt = settings.runtime_path();
    let op_id = &op.id;
    quote!(return api.reject(#rt::server::Rejection::new(#op_id, #kind, #raw)).await)
}

/// The arms of a `match` on what an extractor returned: `Result<Option<T>>`
/// when `missing` (the rejection of `Ok(None)`) is given, else `Result<T>`.
fn extracted(op: &Operation, missing: Option<TokenStream>, settings: &Settings) -> TokenStream {
    let invalid = reject(op, quote!(kind), quote!(raw), settings);
    let present = match missing {
        Some(kind) => {
            let missing = reject(op, kind, quote!(raw), settings);
            quote! { Ok(Some(v)) => v, Ok(None) => #missing, }
        }
        None => quote! { Ok(v) => v, },
    };
    quote! { #present Err(kind) => #invalid, }
}

/// What an operation's request is made of: the items it needs (parameter
/// structs), the fields of its request struct with their initialisers, and
/// the extraction statements before and after the body is read.
#[derive(Default)]
struct RequestParts {
    items: Vec<TokenStream>,
    fields: Vec<TokenStream>,
    inits: Vec<TokenStream>,
    /// Path and query parameters, from the request head.
    from_head: Vec<TokenStream>,
    /// Headers and the body, from the request as read.
    from_raw: Vec<TokenStream>,
}

/// The path and the query parameters: a `Deserialize` struct each, extracted
/// from the request head.
fn parameters(op: &Operation, settings: &Settings, parts: &mut RequestParts) {
    let rt = settings.runtime_path();
    for loc in [ParamLocation::Path, ParamLocation::Query] {
        let params: Vec<&Param> = op.params.iter().filter(|p| p.location == loc).collect();
        if params.is_empty() {
            continue;
        }
        let (kind, local) = match loc {
            ParamLocation::Path => ("Path", format_ident!("path")),
            _ => ("Query", format_ident!("query")),
        };
        let struct_ty = format_ident!("{}{}Params", op.type_prefix, kind);
        let fields = params.iter().map(|p| {
            let f = format_ident!("{}", p.field);
            let wire = &p.name;
            let ty = optional(rust_type(&p.ty, settings), p.required);
            let doc = p.description.as_deref().map(doc_lines);
            quote! { #doc #[serde(rename = #wire)] pub #f: #ty, }
        });
        let sdoc = format!(" {kind} parameters of `{}`.", op.id);
        parts.items.push(quote! {
            #[doc = #sdoc]
            #[derive(Debug, Clone, ::serde::Deserialize)]
            pub struct #struct_ty { #(#fields)* }
        });
        let call = match loc {
            ParamLocation::Path => quote!(#rt::server::path_params::<#struct_ty>(&mut parts).await),
            _ => quote!(#rt::server::query_params::<#struct_ty>(&parts)),
        };
        let rejected = reject(
            op,
            quote!(kind),
            quote!(#rt::server::RawRequest::from_parts(&parts, ::bytes::Bytes::new())),
            settings,
        );
        parts.from_head.push(quote! {
            let #local: #struct_ty = match #call {
                Ok(v) => v,
                Err(kind) => #rejected,
            };
        });
        for p in params {
            let f = format_ident!("{}", p.field);
            let ty = optional(rust_type(&p.ty, settings), p.required);
            let doc = described(
                &format!("{kind} parameter"),
                &p.name,
                p.description.as_deref(),
            );
            parts.fields.push(quote! { #doc pub #f: #ty, });
            parts.inits.push(quote! { #f: #local.#f, });
        }
    }
}

/// The header parameters, parsed from the request as read.
fn headers(op: &Operation, settings: &Settings, parts: &mut RequestParts) {
    let rt = settings.runtime_path();
    for p in op
        .params
        .iter()
        .filter(|p| p.location == ParamLocation::Header)
    {
        let f = format_ident!("{}", p.field);
        let wire = &p.name;
        let ty = optional(rust_type(&p.ty, settings), p.required);
        let doc = described("Header", &p.name, p.description.as_deref());
        parts.fields.push(quote! { #doc pub #f: #ty, });
        let missing = p
            .required
            .then(|| quote!(#rt::server::RejectionKind::MissingHeader(#wire)));
        let arms = extracted(op, missing, settings);
        parts.from_raw.push(quote! {
            let #f: #ty = match #rt::server::header_param(&raw.headers, #wire) { #arms };
        });
        parts.inits.push(quote! { #f, });
    }
}

/// The request body, decoded from one of its media types (tXML through the
/// shape the model found for it) and, for a type that implements
/// `Validate`, checked against the spec's rules (a broken one is a
/// rejection naming the member). A `multipart/form-data` body is handed
/// over as its parts, the required ones checked present.
fn body(op: &Operation, model: &SpecModel, settings: &Settings, parts: &mut RequestParts) {
    let Some(body) = &op.body else { return };
    let rt = settings.runtime_path();
    if let Some(required_parts) = &body.multipart {
        let ty = optional(quote!(#rt::server::MultipartBody), body.required);
        let doc = doc_lines(&format!(
            "Request body, the parts of a `multipart/form-data` form{}.",
            if required_parts.is_empty() {
                String::new()
            } else {
                format!(
                    " (required: {})",
                    required_parts
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ));
        parts.fields.push(quote! { #doc pub body: #ty, });
        let required = body.required;
        let missing = required.then(|| quote!(#rt::server::RejectionKind::MissingBody));
        let arms = extracted(op, missing, settings);
        parts.from_raw.push(quote! {
            let body: #ty = match #rt::server::decode_multipart(&raw, &[#(#required_parts),*], #required).await { #arms };
        });
        parts.inits.push(quote! { body, });
        return;
    }
    // A named body type is a generated struct of up to several kilobytes
    // (an order webhook body is 10 KB): boxed, it is moved once, from the
    // decoder to the heap, and the request and every future that holds it
    // stay small. Held inline, each future wrapping the handler (axum boxes
    // one per request) copied all of it.
    let boxed = matches!(&body.ty, TypeRef::Named(_));
    let inner = rust_type(&body.ty, settings);
    let inner = if boxed {
        quote!(::std::boxed::Box<#inner>)
    } else {
        inner
    };
    let ty = optional(inner, body.required);
    let media: Vec<&str> = body.media_types.iter().map(|m| m.as_str()).collect();
    let shape = match &body.xml_shape {
        None => quote!(::std::option::Option::None),
        Some(shape) => {
            let n = format_ident!("{}", shape.name);
            match &shape.module {
                Some(module) => {
                    let root = settings.api_root_path();
                    let m = format_ident!("{}", module);
                    quote!(::std::option::Option::Some(&#root::#m::types::txml_shapes::#n))
                }
                None => quote!(::std::option::Option::Some(&super::types::txml_shapes::#n)),
            }
        }
    };
    let listed = media.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>();
    let doc = doc_lines(&format!(
        "Request body, decoded from {}.",
        listed.join(" or ")
    ));
    parts.fields.push(quote! { #doc pub body: #ty, });
    let required = body.required;
    let missing = required.then(|| quote!(#rt::server::RejectionKind::MissingBody));
    let arms = extracted(op, missing, settings);
    parts.from_raw.push(quote! {
        let body: #ty = match #rt::server::decode_body(&raw, &[#(#media),*], #required, #shape) { #arms };
    });
    let validated = matches!(&body.ty, TypeRef::Named(name) if model.validated.contains(name));
    if validated {
        let invalid = reject(
            op,
            quote!(#rt::server::RejectionKind::InvalidBody(violations.to_string())),
            quote!(raw),
            settings,
        );
        parts.from_raw.push(if required {
            quote! {
                if let Err(violations) = #rt::types::Validate::validate(&*body) {
                    #invalid;
                }
            }
        } else {
            quote! {
                if let ::std::option::Option::Some(Err(violations)) = body.as_deref().map(#rt::types::Validate::validate) {
                    #invalid;
                }
            }
        });
    }
    parts.inits.push(quote! { body, });
}

/// `<Op>Request`: the parameters, the decoded body and the raw request.
fn request_struct(op: &Operation, parts: &RequestParts, settings: &Settings) -> TokenStream {
    let rt = settings.runtime_path();
    let request_ty = format_ident!("{}Request", op.type_prefix);
    let fields = &parts.fields;
    let doc = format!(
        " Request of [`Api::{}`]: its parameters, its decoded body and the request as received.",
        op.fn_name
    );
    quote! {
        #[doc = #doc]
        #[derive(Debug)]
        pub struct #request_ty {
            #(#fields)*
            /// The request as received: method, URI, headers and the exact body bytes.
            pub raw: #rt::server::RawRequest,
        }
    }
}

fn status_variant(status: Status) -> String {
    let name = match status {
        Status::Code(200) => "Ok",
        Status::Code(201) => "Created",
        Status::Code(202) => "Accepted",
        Status::Code(204) => "NoContent",
        Status::Code(301) => "MovedPermanently",
        Status::Code(302) => "Found",
        Status::Code(304) => "NotModified",
        Status::Code(400) => "BadRequest",
        Status::Code(401) => "Unauthorized",
        Status::Code(403) => "Forbidden",
        Status::Code(404) => "NotFound",
        Status::Code(405) => "MethodNotAllowed",
        Status::Code(409) => "Conflict",
        Status::Code(410) => "Gone",
        Status::Code(413) => "PayloadTooLarge",
        Status::Code(415) => "UnsupportedMediaType",
        Status::Code(422) => "UnprocessableEntity",
        Status::Code(429) => "TooManyRequests",
        Status::Code(500) => "InternalServerError",
        Status::Code(501) => "NotImplemented",
        Status::Code(502) => "BadGateway",
        Status::Code(503) => "ServiceUnavailable",
        Status::Code(504) => "GatewayTimeout",
        Status::Code(other) => return format!("Status{other}"),
        Status::Range(r) => return format!("Status{r}xx"),
        Status::Default => "Default",
    };
    name.to_string()
}

/// One variant of the response enum and its arm of `into_response`.
fn response_variant(r: &ResponseModel, settings: &Settings) -> (TokenStream, TokenStream) {
    let rt = settings.runtime_path();
    let v = format_ident!("{}", status_variant(r.status));
    let status_doc = match r.status {
        Status::Code(c) => format!("`{c}`"),
        Status::Range(x) => format!("`{x}XX`"),
        Status::Default => "any other status".to_string(),
    };
    let doc = doc_lines(&format!("{status_doc}: {}", r.description));
    let (status_expr, status_field) = match r.status {
        Status::Code(c) => (quote!(#rt::server::status(#c)), None),
        Status::Range(_) | Status::Default => {
            (quote!(status), Some(quote!(status: ::http::StatusCode,)))
        }
    };
    let status_pat = status_field.as_ref().map(|_| quote!(status,));
    let mut fields = Vec::new();
    let mut pats = Vec::new();
    let body_expr = match &r.body {
        Some(body) => {
            let media = body.media_type.as_str();
            pats.push(quote!(body,));
            if body.ty == TypeRef::Binary {
                fields.push(quote!(body: #rt::server::BinaryBody,));
                quote!(#rt::server::binary_response(#status_expr, #media, body))
            } else {
                let t = rust_type(&body.ty, settings);
                fields.push(quote!(body: #t,));
                quote!(#rt::server::serialized_response(#status_expr, #media, &body))
            }
        }
        None => quote!(#rt::server::empty_response(#status_expr)),
    };
    let mut header_sets = Vec::new();
    for h in &r.headers {
        let f = format_ident!("{}", h.field);
        let wire = &h.name;
        let hdoc = described("Header", &h.name, h.description.as_deref());
        let ty = optional(quote!(::std::string::String), h.required);
        fields.push(quote!(#hdoc #f: #ty,));
        let value = if h.required {
            quote!(Some(&#f))
        } else {
            quote!(#f.as_deref())
        };
        header_sets.push(quote!(#rt::server::set_header(&mut response, #wire, #value);));
        pats.push(quote!(#f,));
    }
    if fields.is_empty() && status_field.is_none() {
        return (quote!(#doc #v,), quote!(Self::#v => #body_expr,));
    }
    let variant = quote!(#doc #v { #status_field #(#fields)* },);
    let arm = quote! {
        Self::#v { #status_pat #(#pats)* } => {
            #[allow(unused_mut)]
            let mut response = #body_expr;
            #(#header_sets)*
            response
        }
    };
    (variant, arm)
}

/// `<Op>Response`: one variant per documented status, and `Custom`.
fn responses(op: &Operation, settings: &Settings) -> TokenStream {
    let response_ty = format_ident!("{}Response", op.type_prefix);
    let (variants, arms): (Vec<_>, Vec<_>) = op
        .responses
        .iter()
        .map(|r| response_variant(r, settings))
        .unzip();
    let doc = format!(
        " Responses of [`Api::{}`], one variant per documented status.",
        op.fn_name
    );
    quote! {
        #[doc = #doc]
        #[derive(Debug)]
        pub enum #response_ty {
            #(#variants)*
            /// Any other response, built by hand (for example `503` with `Retry-After`).
            Custom(::axum::response::Response),
        }

        impl ::axum::response::IntoResponse for #response_ty {
            fn into_response(self) -> ::axum::response::Response {
                match self {
                    #(#arms)*
                    Self::Custom(response) => response,
                }
            }
        }
    }
}

/// The trait method of an operation, documented from the spec.
fn trait_method(op: &Operation) -> TokenStream {
    let mut text = format!("`{} {}` (`{}`)", op.method.wire(), op.path, op.id);
    if let Some(s) = &op.summary {
        text = format!("{s}\n\n{text}");
    }
    if let Some(d) = &op.description {
        text.push_str("\n\n");
        text.push_str(d);
    }
    let docs = doc_lines(&text);
    let deprecated = op.deprecated.then(|| quote!(#[deprecated]));
    let fn_name = format_ident!("{}", op.fn_name);
    let request_ty = format_ident!("{}Request", op.type_prefix);
    let response_ty = format_ident!("{}Response", op.type_prefix);
    quote! {
        #docs
        #deprecated
        fn #fn_name(&self, request: #request_ty) -> impl ::std::future::Future<Output = #response_ty> + Send;
    }
}

/// The axum handler of an operation: extract, then call the trait method.
fn handler(op: &Operation, parts: &RequestParts, settings: &Settings) -> TokenStream {
    let rt = settings.runtime_path();
    let fn_name = format_ident!("{}", op.fn_name);
    let handler_name = format_ident!("handle_{}", op.fn_name);
    let request_ty = format_ident!("{}Request", op.type_prefix);
    let needs_parts_mut = op.params.iter().any(|p| p.location == ParamLocation::Path);
    let parts_binding = if needs_parts_mut {
        quote!(mut parts)
    } else {
        quote!(parts)
    };
    let unreadable = reject(op, quote!(kind), quote!(raw), settings);
    let (from_head, from_raw, inits) = (&parts.from_head, &parts.from_raw, &parts.inits);
    let operation = format_ident!("{}", super::operations::const_name(op));
    quote! {
        async fn #handler_name<A: Api>(
            ::axum::extract::State(api): ::axum::extract::State<::std::sync::Arc<A>>,
            request: ::axum::extract::Request,
        ) -> ::axum::response::Response {
            use ::axum::response::IntoResponse as _;
            let (#parts_binding, body) = request.into_parts();
            if let Err(response) = api.admit(&super::operations::#operation, &parts).await {
                return response;
            }
            #(#from_head)*
            let raw = match #rt::server::RawRequest::read(&parts, body).await {
                Ok(raw) => raw,
                Err((kind, raw)) => #unreadable,
            };
            #(#from_raw)*
            let request = #request_ty { #(#inits)* raw };
            api.#fn_name(request).await.into_response()
        }
    }
}

/// The `Api` trait: the operations' methods and `reject`.
fn api_trait(model: &SpecModel, methods: &[TokenStream], settings: &Settings) -> TokenStream {
    let rt = settings.runtime_path();
    let operation = format_ident!("{}", runtime::OPERATION);
    let admit_doc = doc_lines(&format!(
        "Called first for every request, before its parameters and body are\nread, with the operation's entry of [`OPERATIONS`](super::OPERATIONS)\n(its security schemes, media types and limits) and the request head.\n`Err` is the answer, and the operation is not called: the place to\nauthenticate by [`Operation::security`]({}::{}::Operation::security).\nThe default admits every request.",
        settings.runtime_crate,
        runtime::OPERATION
    ));
    let status_link = format!(
        " [`RejectionKind::status`]({}::server::RejectionKind::status).",
        settings.runtime_crate
    );
    let title = &model.title;
    let doc = doc_lines(&format!(
        "Server side of *{title}*: one method per operation.\n\nImplement it and mount it with [`router`]. Requests whose parameters or body cannot be extracted never reach these methods: they go to [`Api::reject`] with the exact bytes received."
    ));
    quote! {
        #doc
        pub trait Api: Send + Sync + 'static {
            #(#methods)*

            #admit_doc
            fn admit(
                &self,
                operation: &'static #rt::#operation::Operation,
                head: &::http::request::Parts,
            ) -> impl ::std::future::Future<Output = ::std::result::Result<(), ::axum::response::Response>> + Send {
                let _ = (operation, head);
                async { ::std::result::Result::Ok(()) }
            }

            /// Called instead of an operation when its request could not be
            /// extracted (unsupported content type, undecodable body, bad
            /// parameters, unreadable or over-size body). The default answers
            /// with a problem description and the status of
            #[doc = #status_link]
            fn reject(&self, rejection: #rt::server::Rejection) -> impl ::std::future::Future<Output = ::axum::response::Response> + Send {
                async move { ::axum::response::IntoResponse::into_response(rejection) }
            }
        }
    }
}

/// `router()`: every operation's handler on its path and method.
fn router(model: &SpecModel, settings: &Settings) -> TokenStream {
    let rt = settings.runtime_path();
    let mut routes: BTreeMap<&str, Vec<TokenStream>> = BTreeMap::new();
    for op in &model.operations {
        let method = format_ident!("{}", op.method.key());
        let handler_name = format_ident!("handle_{}", op.fn_name);
        routes
            .entry(op.path.as_str())
            .or_default()
            .push(quote!(#method(#handler_name::<A>)));
    }
    let route_calls = routes.iter().map(|(path, methods)| {
        let mut chain = methods.iter();
        let first = chain.next().map(|m| quote!(::axum::routing::#m));
        let rest = chain.map(|m| quote!(.#m));
        quote!(.route(&#rt::server::mount_path(prefix, #path), #first #(#rest)*))
    });
    quote! {
        /// Mount `api` on a router with the spec's paths (relative to the
        /// spec's server URL). Nest or merge it where the service lives.
        pub fn router<A: Api>(api: ::std::sync::Arc<A>) -> ::axum::Router {
            router_at("", api)
        }

        /// [`router`] with every path below `prefix` (`/tradecloud/order`:
        /// the spec's `/` is `/tradecloud/order`, `/{orderId}` is
        /// `/tradecloud/order/{orderId}`). Unlike `nest`, the request's URI
        /// is not rewritten for every request.
        pub fn router_at<A: Api>(prefix: &str, api: ::std::sync::Arc<A>) -> ::axum::Router {
            ::axum::Router::new()
                #(#route_calls)*
                .with_state(api)
        }
    }
}

/// Emit the server module of one spec.
pub(crate) fn emit(model: &SpecModel, settings: &Settings) -> TokenStream {
    let mut items = Vec::new();
    let mut methods = Vec::new();
    let mut handlers = Vec::new();
    for op in &model.operations {
        let mut parts = RequestParts::default();
        parameters(op, settings, &mut parts);
        headers(op, settings, &mut parts);
        body(op, model, settings, &mut parts);
        items.append(&mut parts.items);
        items.push(request_struct(op, &parts, settings));
        items.push(responses(op, settings));
        methods.push(trait_method(op));
        handlers.push(handler(op, &parts, settings));
    }
    let api = api_trait(model, &methods, settings);
    let router = router(model, settings);
    quote! {
        #(#items)*
        #api
        #(#handlers)*
        #router
    }
}
