//! Client emitter: progenitor over an adapted copy of the spec. The
//! adaptation works around progenitor's limits without touching the spec
//! itself:
//!
//! * a request body with several media types keeps only its JSON one
//!   (progenitor refuses `application/xml` and multiple media types);
//! * success responses with different bodies keep the first body type
//!   (progenitor panics on several success types); error responses likewise;
//! * response headers are not typed by progenitor: they are reachable via
//!   `ResponseValue::headers()` and read by the hand-written glue;
//! * a `default` response next to 2xx responses becomes `4XX` and `5XX`
//!   (progenitor would count it as a success);
//! * every named schema is replaced by the type of the `types` module, so
//!   clients and server stubs share one set of types.

use proc_macro2::TokenStream;
use serde_json::Value;

use crate::emit::{progenitor_settings, run_progenitor};
use crate::error::Result;
use crate::model::SpecModel;
use crate::Settings;

fn is_json(media: &str) -> bool {
    let m = media.split(';').next().unwrap_or("").trim();
    m == "application/json" || m.ends_with("+json")
}

/// progenitor takes one media type per body: keep the JSON one, else the first.
fn keep_one_media_type(content: &mut serde_json::Map<String, Value>) {
    if content.len() > 1 {
        let keep = content
            .keys()
            .find(|k| is_json(k))
            .or_else(|| content.keys().next())
            .cloned();
        content.retain(|k, _| Some(k) == keep.as_ref());
    }
}

/// Make a copy of the document that progenitor accepts.
pub fn adapt_for_progenitor(doc: &Value) -> Value {
    let mut doc = doc.clone();
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return doc;
    };
    for (_, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (_, op) in item.iter_mut() {
            let Some(op) = op.as_object_mut() else {
                continue;
            };
            if let Some(content) = op
                .get_mut("requestBody")
                .and_then(|b| b.get_mut("content"))
                .and_then(Value::as_object_mut)
            {
                keep_one_media_type(content);
            }
            if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                // progenitor counts `default` among the success responses;
                // next to documented 2xx responses it really means errors.
                if responses.keys().any(|k| k.starts_with('2')) {
                    if let Some(default) = responses.remove("default") {
                        for range in ["4XX", "5XX"] {
                            responses
                                .entry(range.to_string())
                                .or_insert_with(|| default.clone());
                        }
                    }
                }
                for (_, response) in responses.iter_mut() {
                    if let Some(content) =
                        response.get_mut("content").and_then(Value::as_object_mut)
                    {
                        keep_one_media_type(content);
                    }
                }
                let body_of = |r: &Value| -> Value {
                    r.get("content")
                        .and_then(Value::as_object)
                        .and_then(|c| c.values().next())
                        .map(|m| m.get("schema").cloned().unwrap_or(Value::Bool(true)))
                        .unwrap_or(Value::Null)
                };
                // Success: keep the responses typed like the first one.
                let first_success = responses
                    .iter()
                    .filter(|(k, _)| k.starts_with('2'))
                    .map(|(_, r)| body_of(r))
                    .next();
                if let Some(first) = first_success {
                    responses.retain(|k, r| !k.starts_with('2') || body_of(r) == first);
                }
                // Errors: one body type for all of them, or none at all.
                let error_types: Vec<Value> = responses
                    .iter()
                    .filter(|(k, _)| !k.starts_with('2'))
                    .map(|(_, r)| body_of(r))
                    .collect();
                if error_types.windows(2).any(|w| w[0] != w[1]) {
                    for (k, r) in responses.iter_mut() {
                        if !k.starts_with('2') {
                            if let Some(r) = r.as_object_mut() {
                                r.remove("content");
                            }
                        }
                    }
                }
            }
        }
    }
    doc
}

/// Emit the `client` module body of one spec.
pub fn emit(model: &SpecModel, settings: &Settings) -> Result<TokenStream> {
    let doc = adapt_for_progenitor(&model.normalized.document);
    let gen_settings = progenitor_settings(model, settings, true);
    run_progenitor(model, &doc, &gen_settings, "client")
}
