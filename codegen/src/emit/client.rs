//! Client emitter: progenitor over a copy of the spec adapted from the
//! model, then two renames. The adaptation works around progenitor's limits
//! without touching the spec itself:
//!
//! * a request body with several media types keeps only the one the model
//!   chose for clients (JSON; progenitor refuses `application/xml` and
//!   multiple media types), a response only its chosen one;
//! * success responses with different bodies keep those typed like the
//!   first (progenitor panics on several success types); error responses
//!   with different bodies lose their bodies;
//! * response headers are not typed by progenitor: they are reachable via
//!   `ResponseValue::headers()` and read by the hand-written glue;
//! * a `default` response next to 2xx responses becomes `4XX` and `5XX`
//!   (progenitor would count it as a success);
//! * every named schema is replaced by the type of the `types` module, so
//!   clients and server stubs share one set of types;
//! * each operation id becomes the model's client method name, so that
//!   `getOrderByIdRoute` is called `get_order_by_id`;
//! * a `multipart/form-data` body (which progenitor does not support) is
//!   left out of the copy, and the method progenitor prints gets it back
//!   afterwards: a `body: reqwest::multipart::Form` argument, sent with
//!   `RequestBuilder::multipart` (whose parts may stream a file).
//!
//! progenitor calls every client `Client`; it is renamed after the spec
//! (`OrderClient`), so that it does not clash with
//! `tradecloud::client::Client`. Each operation has one method under one
//! name: no aliases under the operation id or progenitor's `Client`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::{Map, Value};
use syn::visit_mut::VisitMut;

use crate::emit::{progenitor_settings, run_progenitor};
use crate::error::{Error, Result};
use crate::model::{Operation, ResponseModel, SpecModel, Status, TypeRef};
use crate::names;
use crate::Settings;

/// The name of a spec's client type (`order_search` → `OrderSearchClient`).
pub(crate) fn client_type_name(model: &SpecModel) -> String {
    format!("{}Client", names::type_name(&model.module))
}

/// The response key of `status` in a `responses` map (ranges may be
/// written `4xx` or `4XX`).
fn response_key(responses: &Map<String, Value>, status: Status) -> Option<String> {
    let key = status.key();
    responses
        .keys()
        .find(|k| k.eq_ignore_ascii_case(&key))
        .cloned()
}

/// Keep only `media_type` in a `content` map.
fn keep_media_type(content: Option<&mut Value>, media_type: Option<&str>) {
    if let (Some(content), Some(keep)) = (content.and_then(Value::as_object_mut), media_type) {
        content.retain(|k, _| k == keep);
    }
}

/// Adapt the responses of one operation (see the module docs).
fn adapt_responses(op: &Operation, responses: &mut Map<String, Value>) {
    let body_ty = |r: &ResponseModel| r.body.as_ref().map(|b| b.ty.clone());
    for r in &op.responses {
        if let Some(key) = response_key(responses, r.status) {
            let media_type = r.body.as_ref().map(|b| b.media_type.as_str());
            keep_media_type(
                responses.get_mut(&key).and_then(|v| v.get_mut("content")),
                media_type,
            );
        }
    }
    let successes: Vec<&ResponseModel> = op
        .responses
        .iter()
        .filter(|r| r.status.is_success())
        .collect();
    if let Some(first) = successes.first() {
        let first: Option<TypeRef> = body_ty(first);
        for r in &successes {
            if body_ty(r) != first {
                if let Some(key) = response_key(responses, r.status) {
                    responses.remove(&key);
                }
            }
        }
        // progenitor counts `default` among the success responses; next to
        // documented 2xx responses it really means errors.
        if let Some(key) = response_key(responses, Status::Default) {
            if let Some(default) = responses.remove(&key) {
                for range in [Status::Range(4), Status::Range(5)] {
                    if response_key(responses, range).is_none() {
                        responses.insert(range.key(), default.clone());
                    }
                }
            }
        }
    }
    // Errors: one body type for all of them, or none at all.
    let errors: Vec<Option<TypeRef>> = op
        .responses
        .iter()
        .filter(|r| !r.status.is_success())
        .map(body_ty)
        .collect();
    if errors.windows(2).any(|w| w[0] != w[1]) {
        for (key, r) in responses.iter_mut() {
            if !key.starts_with('2') {
                if let Some(r) = r.as_object_mut() {
                    r.remove("content");
                }
            }
        }
    }
}

/// A copy of the document that progenitor accepts (see the module docs).
fn progenitor_document(model: &SpecModel) -> Value {
    let mut doc = model.document.clone();
    for op in &model.operations {
        let Some(operation) = doc
            .get_mut("paths")
            .and_then(|p| p.get_mut(&op.path))
            .and_then(|item| item.get_mut(op.method.key()))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        operation.insert(
            "operationId".into(),
            Value::String(op.client_fn_name.clone()),
        );
        if let Some(body) = &op.body {
            if body.multipart.is_some() {
                operation.remove("requestBody");
            } else {
                keep_media_type(
                    operation
                        .get_mut("requestBody")
                        .and_then(|b| b.get_mut("content")),
                    body.client_media_type().map(|m| m.as_str()),
                );
            }
        }
        if let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        {
            adapt_responses(op, responses);
        }
    }
    doc
}

/// Emit the `client` module body of one spec.
pub(crate) fn emit(model: &SpecModel, settings: &Settings) -> Result<TokenStream> {
    let doc = progenitor_document(model);
    let gen_settings = progenitor_settings(model, settings, true);
    let tokens = run_progenitor(model, &doc, &gen_settings, "client")?;
    let mut file: syn::File = syn::parse2(tokens).map_err(|e| {
        Error::new(
            &model.path,
            "",
            "client generation",
            format!("progenitor produced unparsable code: {e}"),
        )
    })?;
    let client = format_ident!("{}", client_type_name(model));
    RenameClient { to: &client }.visit_file_mut(&mut file);
    for op in &model.operations {
        if let Some(parts) = op.body.as_ref().and_then(|b| b.multipart.as_ref()) {
            MultipartBody {
                method: &op.client_fn_name,
                parts,
            }
            .visit_file_mut(&mut file);
        }
    }
    Ok(quote!(#file))
}

/// Renames progenitor's `Client` (the struct, its impls, the prelude), not
/// `reqwest::Client`.
struct RenameClient<'a> {
    to: &'a syn::Ident,
}

impl VisitMut for RenameClient<'_> {
    fn visit_item_struct_mut(&mut self, st: &mut syn::ItemStruct) {
        if st.ident == "Client" {
            st.ident = self.to.clone();
        }
        syn::visit_mut::visit_item_struct_mut(self, st);
    }

    fn visit_path_mut(&mut self, path: &mut syn::Path) {
        if path.leading_colon.is_none() && path.segments.len() == 1 {
            if let Some(s) = path.segments.first_mut() {
                if s.ident == "Client" {
                    s.ident = self.to.clone();
                }
            }
        }
        syn::visit_mut::visit_path_mut(self, path);
    }

    fn visit_use_path_mut(&mut self, use_path: &mut syn::UsePath) {
        if use_path.ident == "super" {
            if let syn::UseTree::Name(name) = use_path.tree.as_mut() {
                if name.ident == "Client" {
                    name.ident = self.to.clone();
                }
            }
        }
        syn::visit_mut::visit_use_path_mut(self, use_path);
    }
}

/// Gives the method of a multipart operation its body back: a `body` argument
/// (a `reqwest::multipart::Form`) sent with `.multipart(body)` on the request
/// being built.
struct MultipartBody<'a> {
    method: &'a str,
    parts: &'a [String],
}

impl VisitMut for MultipartBody<'_> {
    fn visit_impl_item_fn_mut(&mut self, f: &mut syn::ImplItemFn) {
        if f.sig.ident != self.method {
            return;
        }
        f.sig
            .inputs
            .push(syn::parse_quote!(body: ::reqwest::multipart::Form));
        let parts = if self.parts.is_empty() {
            String::new()
        } else {
            let named: Vec<String> = self.parts.iter().map(|p| format!("`{p}`")).collect();
            format!(" with the part {} at least", named.join(", "))
        };
        let doc = format!(" - `body`: the `multipart/form-data` form{parts}.");
        f.attrs.push(syn::parse_quote!(#[doc = #doc]));
        AddMultipart.visit_block_mut(&mut f.block);
    }
}

/// `<request builder>.build()` → `<request builder>.multipart(body).build()`.
struct AddMultipart;

impl VisitMut for AddMultipart {
    fn visit_expr_method_call_mut(&mut self, call: &mut syn::ExprMethodCall) {
        syn::visit_mut::visit_expr_method_call_mut(self, call);
        if call.method == "build" && call.args.is_empty() {
            let receiver = call.receiver.clone();
            *call.receiver = syn::parse_quote!(#receiver.multipart(body));
        }
    }
}
