//! Server-stub emitter: for each spec, a trait `Api` with one async method
//! per operation, typed request and response types, and `router()`, which
//! mounts an implementation on an `axum::Router`.
//!
//! Extraction mechanics (reading the body within the configured limit,
//! content-type negotiation, JSON/tXML decoding, problem responses) live in
//! the runtime crate's `server` module, so the emitted code stays short and
//! readable; it only names types and wires them together.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::model::{Operation, ParamLocation, SpecModel, Status, TypeRef};
use crate::Settings;

/// Render the Rust type of a [`TypeRef`] as seen from inside the `server`
/// module.
pub(crate) fn rust_type(ty: &TypeRef, settings: &Settings) -> TokenStream {
    let rt = settings.runtime_path();
    match ty {
        TypeRef::Named(n) => {
            let ident = format_ident!("{}", n);
            quote!(super::types::#ident)
        }
        TypeRef::String => quote!(::std::string::String),
        TypeRef::Integer => quote!(i64),
        TypeRef::Boolean => quote!(bool),
        TypeRef::Decimal => quote!(#rt::types::Decimal),
        TypeRef::DateTime => quote!(#rt::types::DateTime),
        TypeRef::Date => quote!(#rt::types::Date),
        TypeRef::Binary => quote!(#rt::server::BinaryBody),
        TypeRef::Any => quote!(::serde_json::Value),
        TypeRef::Array(inner) => {
            let inner = rust_type(inner, settings);
            quote!(::std::vec::Vec<#inner>)
        }
    }
}

/// The tXML shape of a body type, for operations that accept XML.
fn txml_shape(
    model: &SpecModel,
    ty: &TypeRef,
    media: &[String],
    settings: &Settings,
) -> TokenStream {
    let accepts_xml = media.iter().any(|m| m.contains("xml"));
    let TypeRef::Named(name) = ty else {
        return quote!(::std::option::Option::None);
    };
    let is_object = model
        .normalized
        .document
        .pointer(&format!("/components/schemas/{name}/properties"))
        .is_some();
    let is_external = model.externals.contains_key(name);
    if !accepts_xml || !(is_object || is_external) {
        return quote!(::std::option::Option::None);
    }
    let n = format_ident!("{}", name);
    match model.externals.get(name) {
        Some(module) => {
            let root = settings.api_root_path();
            let m = format_ident!("{}", module);
            quote!(::std::option::Option::Some(&#root::#m::types::txml_shapes::#n))
        }
        None => quote!(::std::option::Option::Some(&super::types::txml_shapes::#n)),
    }
}

fn status_variant(status: Status) -> String {
    match status {
        Status::Code(code) => match code {
            200 => "Ok".into(),
            201 => "Created".into(),
            202 => "Accepted".into(),
            204 => "NoContent".into(),
            301 => "MovedPermanently".into(),
            302 => "Found".into(),
            304 => "NotModified".into(),
            400 => "BadRequest".into(),
            401 => "Unauthorized".into(),
            403 => "Forbidden".into(),
            404 => "NotFound".into(),
            405 => "MethodNotAllowed".into(),
            409 => "Conflict".into(),
            410 => "Gone".into(),
            413 => "PayloadTooLarge".into(),
            415 => "UnsupportedMediaType".into(),
            422 => "UnprocessableEntity".into(),
            429 => "TooManyRequests".into(),
            500 => "InternalServerError".into(),
            501 => "NotImplemented".into(),
            502 => "BadGateway".into(),
            503 => "ServiceUnavailable".into(),
            504 => "GatewayTimeout".into(),
            other => format!("Status{other}"),
        },
        Status::Range(r) => format!("Status{r}xx"),
        Status::Default => "Default".into(),
    }
}

fn doc_lines(text: &str) -> TokenStream {
    let lines = text.lines().map(|l| format!(" {l}"));
    quote!(#(#[doc = #lines])*)
}

fn op_docs(op: &Operation) -> TokenStream {
    let mut text = format!("`{} {}` (`{}`)", op.method, op.path, op.id);
    if let Some(s) = &op.summary {
        text = format!("{s}\n\n{text}");
    }
    if let Some(d) = &op.description {
        text.push_str("\n\n");
        text.push_str(d);
    }
    let docs = doc_lines(&text);
    let deprecated = op.deprecated.then(|| quote!(#[deprecated]));
    quote!(#docs #deprecated)
}

/// Emit the server module of one spec.
pub fn emit(model: &SpecModel, settings: &Settings) -> TokenStream {
    let rt = settings.runtime_path();
    let mut items = Vec::new();
    let mut trait_methods = Vec::new();
    let mut handlers = Vec::new();
    let mut routes: BTreeMap<String, Vec<TokenStream>> = BTreeMap::new();

    for op in &model.operations {
        let op_id = &op.id;
        let prefix = &op.type_prefix;
        let fn_name = format_ident!("{}", op.fn_name);
        let handler_name = format_ident!("handle_{}", op.fn_name);
        let request_ty = format_ident!("{}Request", prefix);
        let response_ty = format_ident!("{}Response", prefix);

        // --- parameter structs -------------------------------------------
        let mut request_fields = Vec::new();
        let mut field_inits = Vec::new();
        let mut extract = Vec::new();
        for loc in [ParamLocation::Path, ParamLocation::Query] {
            let params: Vec<_> = op.params.iter().filter(|p| p.location == loc).collect();
            if params.is_empty() {
                continue;
            }
            let (suffix, local) = match loc {
                ParamLocation::Path => ("PathParams", format_ident!("path")),
                _ => ("QueryParams", format_ident!("query")),
            };
            let struct_ty = format_ident!("{}{}", prefix, suffix);
            let fields = params.iter().map(|p| {
                let f = format_ident!("{}", p.field);
                let wire = &p.name;
                let ty = rust_type(&p.ty, settings);
                let ty = if p.required {
                    ty
                } else {
                    quote!(::std::option::Option<#ty>)
                };
                let doc = p.description.as_deref().map(doc_lines);
                quote! { #doc #[serde(rename = #wire)] pub #f: #ty, }
            });
            let kind = match loc {
                ParamLocation::Path => "Path",
                _ => "Query",
            };
            let sdoc = format!(" {kind} parameters of `{op_id}`.");
            items.push(quote! {
                #[doc = #sdoc]
                #[derive(Debug, Clone, ::serde::Deserialize)]
                pub struct #struct_ty { #(#fields)* }
            });
            let call = match loc {
                ParamLocation::Path => {
                    quote!(#rt::server::path_params::<#struct_ty>(&mut parts).await)
                }
                _ => quote!(#rt::server::query_params::<#struct_ty>(&parts)),
            };
            extract.push(quote! {
                let #local: #struct_ty = match #call {
                    Ok(v) => v,
                    Err(kind) => return api.reject(#rt::server::Rejection::new(#op_id, kind, #rt::server::RawRequest::from_parts(&parts, ::bytes::Bytes::new()))).await,
                };
            });
            for p in params {
                let f = format_ident!("{}", p.field);
                let ty = rust_type(&p.ty, settings);
                let ty = if p.required {
                    ty
                } else {
                    quote!(::std::option::Option<#ty>)
                };
                let doc = doc_lines(&format!(
                    "{} parameter `{}`.{}",
                    kind,
                    p.name,
                    p.description
                        .as_deref()
                        .map(|d| format!(" {d}"))
                        .unwrap_or_default()
                ));
                request_fields.push(quote! { #doc pub #f: #ty, });
                field_inits.push(quote! { #f: #local.#f, });
            }
        }
        let mut header_extract = Vec::new();
        for p in op
            .params
            .iter()
            .filter(|p| p.location == ParamLocation::Header)
        {
            let f = format_ident!("{}", p.field);
            let wire = &p.name;
            let ty = rust_type(&p.ty, settings);
            let doc = doc_lines(&format!(
                "Header `{}`.{}",
                p.name,
                p.description
                    .as_deref()
                    .map(|d| format!(" {d}"))
                    .unwrap_or_default()
            ));
            if p.required {
                request_fields.push(quote! { #doc pub #f: #ty, });
                header_extract.push(quote! {
                    let #f: #ty = match #rt::server::header_param(&raw.headers, #wire) {
                        Ok(Some(v)) => v,
                        Ok(None) => return api.reject(#rt::server::Rejection::new(#op_id, #rt::server::RejectionKind::MissingHeader(#wire), raw)).await,
                        Err(kind) => return api.reject(#rt::server::Rejection::new(#op_id, kind, raw)).await,
                    };
                });
            } else {
                request_fields.push(quote! { #doc pub #f: ::std::option::Option<#ty>, });
                header_extract.push(quote! {
                    let #f: ::std::option::Option<#ty> = match #rt::server::header_param(&raw.headers, #wire) {
                        Ok(v) => v,
                        Err(kind) => return api.reject(#rt::server::Rejection::new(#op_id, kind, raw)).await,
                    };
                });
            }
            field_inits.push(quote! { #f, });
        }

        // --- body ----------------------------------------------------------
        let mut body_extract = quote!();
        if let Some(body) = &op.body {
            let ty = rust_type(&body.ty, settings);
            let media = &body.media_types;
            let shape = txml_shape(model, &body.ty, media, settings);
            let doc = doc_lines(&format!(
                "Request body, decoded from {}.",
                media
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
            if body.required {
                request_fields.push(quote! { #doc pub body: #ty, });
                body_extract = quote! {
                    let body: #ty = match #rt::server::decode_body(&raw, &[#(#media),*], true, #shape) {
                        Ok(Some(v)) => v,
                        Ok(None) => return api.reject(#rt::server::Rejection::new(#op_id, #rt::server::RejectionKind::MissingBody, raw)).await,
                        Err(kind) => return api.reject(#rt::server::Rejection::new(#op_id, kind, raw)).await,
                    };
                };
            } else {
                request_fields.push(quote! { #doc pub body: ::std::option::Option<#ty>, });
                body_extract = quote! {
                    let body: ::std::option::Option<#ty> = match #rt::server::decode_body(&raw, &[#(#media),*], false, #shape) {
                        Ok(v) => v,
                        Err(kind) => return api.reject(#rt::server::Rejection::new(#op_id, kind, raw)).await,
                    };
                };
            }
            field_inits.push(quote! { body, });
        }

        let request_doc = format!(" Request of [`Api::{}`]: its parameters, its decoded body and the request as received.", op.fn_name);
        items.push(quote! {
            #[doc = #request_doc]
            #[derive(Debug)]
            pub struct #request_ty {
                #(#request_fields)*
                /// The request as received: method, URI, headers and the exact body bytes.
                pub raw: #rt::server::RawRequest,
            }
        });

        // --- responses -----------------------------------------------------
        let mut variants = Vec::new();
        let mut arms = Vec::new();
        for r in &op.responses {
            let v = format_ident!("{}", status_variant(r.status));
            let status_doc = match r.status {
                Status::Code(c) => format!("`{c}`"),
                Status::Range(x) => format!("`{x}XX`"),
                Status::Default => "any other status".to_string(),
            };
            let doc = doc_lines(&format!("{status_doc}: {}", r.description));
            let status_expr = match r.status {
                Status::Code(c) => quote!(#rt::server::status(#c)),
                Status::Range(_) | Status::Default => quote!(status),
            };
            let status_field = match r.status {
                Status::Code(_) => None,
                _ => Some(quote!(status: ::http::StatusCode,)),
            };
            let status_pat = status_field.as_ref().map(|_| quote!(status,));
            let mut fields = Vec::new();
            let mut pats = Vec::new();
            let mut header_sets = Vec::new();
            let body_expr = match &r.body {
                Some((media, TypeRef::Binary)) => {
                    fields.push(quote!(body: #rt::server::BinaryBody,));
                    pats.push(quote!(body,));
                    quote!(#rt::server::binary_response(#status_expr, #media, body))
                }
                Some((media, ty)) => {
                    let t = rust_type(ty, settings);
                    fields.push(quote!(body: #t,));
                    pats.push(quote!(body,));
                    quote!(#rt::server::serialized_response(#status_expr, #media, &body))
                }
                None => quote!(#rt::server::empty_response(#status_expr)),
            };
            for h in &r.headers {
                let f = format_ident!("{}", h.field);
                let wire = &h.name;
                let hdoc = doc_lines(&format!(
                    "Header `{}`.{}",
                    h.name,
                    h.description
                        .as_deref()
                        .map(|d| format!(" {d}"))
                        .unwrap_or_default()
                ));
                if h.required {
                    fields.push(quote!(#hdoc #f: ::std::string::String,));
                    header_sets
                        .push(quote!(#rt::server::set_header(&mut response, #wire, Some(&#f));));
                } else {
                    fields.push(quote!(#hdoc #f: ::std::option::Option<::std::string::String>,));
                    header_sets.push(
                        quote!(#rt::server::set_header(&mut response, #wire, #f.as_deref());),
                    );
                }
                pats.push(quote!(#f,));
            }
            if fields.is_empty() && status_field.is_none() {
                variants.push(quote!(#doc #v,));
                arms.push(quote!(Self::#v => #body_expr,));
            } else {
                variants.push(quote!(#doc #v { #status_field #(#fields)* },));
                arms.push(quote! {
                    Self::#v { #status_pat #(#pats)* } => {
                        #[allow(unused_mut)]
                        let mut response = #body_expr;
                        #(#header_sets)*
                        response
                    }
                });
            }
        }
        let response_doc = format!(
            " Responses of [`Api::{}`], one variant per documented status.",
            op.fn_name
        );
        items.push(quote! {
            #[doc = #response_doc]
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
        });

        // --- trait method + handler ---------------------------------------
        let docs = op_docs(op);
        trait_methods.push(quote! {
            #docs
            fn #fn_name(&self, request: #request_ty) -> impl ::std::future::Future<Output = #response_ty> + Send;
        });
        let needs_parts_mut = op.params.iter().any(|p| p.location == ParamLocation::Path);
        let parts_binding = if needs_parts_mut {
            quote!(mut parts)
        } else {
            quote!(parts)
        };
        handlers.push(quote! {
            async fn #handler_name<A: Api>(
                ::axum::extract::State(api): ::axum::extract::State<::std::sync::Arc<A>>,
                request: ::axum::extract::Request,
            ) -> ::axum::response::Response {
                use ::axum::response::IntoResponse as _;
                let (#parts_binding, body) = request.into_parts();
                #(#extract)*
                let raw = match #rt::server::RawRequest::read(&parts, body).await {
                    Ok(raw) => raw,
                    Err((kind, raw)) => return api.reject(#rt::server::Rejection::new(#op_id, kind, raw)).await,
                };
                #(#header_extract)*
                #body_extract
                let request = #request_ty { #(#field_inits)* raw };
                api.#fn_name(request).await.into_response()
            }
        });
        let method = format_ident!("{}", op.method.to_lowercase());
        routes
            .entry(op.path.clone())
            .or_default()
            .push(quote!(#method(#handler_name::<A>)));
    }

    let route_calls = routes.iter().map(|(path, methods)| {
        let mut chain = methods.iter();
        let first = chain.next().map(|m| quote!(::axum::routing::#m));
        let rest = chain.map(|m| quote!(.#m));
        quote!(.route(#path, #first #(#rest)*))
    });
    let title = &model.title;
    let trait_doc = doc_lines(&format!(
        "Server side of *{title}*: one method per operation.\n\nImplement it and mount it with [`router`]. Requests whose parameters or body cannot be extracted never reach these methods: they go to [`Api::reject`] with the exact bytes received."
    ));
    quote! {
        #(#items)*

        #trait_doc
        pub trait Api: Send + Sync + 'static {
            #(#trait_methods)*

            /// Called instead of an operation when its request could not be
            /// extracted (unsupported content type, undecodable body, bad
            /// parameters, unreadable or over-size body). The default answers
            /// with a problem description and the status of
            /// [`RejectionKind::status`](#rt::server::RejectionKind::status).
            fn reject(&self, rejection: #rt::server::Rejection) -> impl ::std::future::Future<Output = ::axum::response::Response> + Send {
                async move { ::axum::response::IntoResponse::into_response(rejection) }
            }
        }

        #(#handlers)*

        /// Mount `api` on a router with the spec's paths (relative to the
        /// spec's server URL). Nest or merge it where the service lives.
        pub fn router<A: Api>(api: ::std::sync::Arc<A>) -> ::axum::Router {
            ::axum::Router::new()
                #(#route_calls)*
                .with_state(api)
        }
    }
}
