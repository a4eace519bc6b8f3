//! Which object schemas have something to check, across the whole spec set.
//!
//! * A schema is *checked* when one of its properties has a constraint
//!   (`pattern`, `minItems`, `maxItems`, `minLength`, `maxLength`) or holds
//!   (through lists) a checked schema of this spec or of a sibling.
//! * It is *sent-checked* when a request body sent to Tradecloud can hold
//!   it (a request body of a spec not marked `x-webhook: true`) and it has
//!   a constraint, states `x-request-rules` (of its own or of a property)
//!   or holds a sent-checked schema: it has something to check when it is
//!   part of a message sent to Tradecloud.
//! * It is *received* when Tradecloud sends it: a webhook body (a request
//!   body of a spec marked `x-webhook: true`) or a response body holds it.
//!   Its `Validate::check` leaves the `x-request-rules` out, so that a
//!   receiver never refuses an event because of a rule for requests; its
//!   `Validate::check_sent` checks them.
//!
//! Every checked or sent-checked schema and every request body schema (but
//! a multipart one: its parts are not decoded) implements `Validate`
//! (`emit::validate`).

use std::collections::BTreeSet;

use crate::model::{SpecModel, TypeRef, ValueKind};

/// A schema of the spec set: (module, name).
type Key = (String, String);

/// The named object schema a value of `kind` holds, through lists:
/// `(module, name)`, the module `None` for this spec's own.
fn held(kind: &ValueKind) -> Option<(Option<&str>, &str)> {
    match kind {
        ValueKind::Array(item) => held(item),
        ValueKind::Named { name, module } => Some((module.as_deref(), name.as_str())),
        _ => None,
    }
}

/// The schemas `model`'s schema `name` holds directly, as keys.
fn members<'m>(model: &'m SpecModel, name: &str) -> impl Iterator<Item = Key> + 'm {
    model
        .objects
        .get(name)
        .into_iter()
        .flat_map(|object| object.properties.iter())
        .filter_map(|p| held(&p.kind))
        .map(|(module, held)| {
            (
                module.unwrap_or(&model.module).to_string(),
                held.to_string(),
            )
        })
}

/// The key of a body or response type of `model`, if it is a named schema.
fn key_of(model: &SpecModel, ty: &TypeRef) -> Option<Key> {
    match ty {
        TypeRef::Array(item) => key_of(model, item),
        TypeRef::Named(name) => Some(match model.externals.get(name) {
            Some(external) => (external.module.clone(), name.clone()),
            None => (model.module.clone(), name.clone()),
        }),
        _ => None,
    }
}

/// The schemas for which `own` holds, and every schema that holds one of
/// them (through lists and shared types).
fn closure_up(models: &[SpecModel], own: impl Fn(&SpecModel, &str) -> bool) -> BTreeSet<Key> {
    let mut found: BTreeSet<Key> = BTreeSet::new();
    loop {
        let mut added = Vec::new();
        for model in models {
            for name in model.objects.keys() {
                let key = (model.module.clone(), name.clone());
                if found.contains(&key) {
                    continue;
                }
                if own(model, name) || members(model, name).any(|m| found.contains(&m)) {
                    added.push(key);
                }
            }
        }
        if added.is_empty() {
            return found;
        }
        found.extend(added);
    }
}

/// The schemas Tradecloud sends (webhook bodies, response bodies) or that
/// are sent to Tradecloud (the request bodies of the other specs), with
/// everything they hold: `(received, sent)`.
fn reached(models: &[SpecModel]) -> (BTreeSet<Key>, BTreeSet<Key>) {
    let mut received = Vec::new();
    let mut sent = Vec::new();
    for model in models {
        for op in &model.operations {
            let body = op.body.as_ref().and_then(|b| key_of(model, &b.ty));
            if model.webhook {
                received.extend(body);
            } else {
                sent.extend(body);
            }
            for response in &op.responses {
                received.extend(response.body.as_ref().and_then(|b| key_of(model, &b.ty)));
            }
        }
    }
    (reach(models, received), reach(models, sent))
}

/// `roots` and every schema they hold.
fn reach(models: &[SpecModel], mut todo: Vec<Key>) -> BTreeSet<Key> {
    let mut found = BTreeSet::new();
    while let Some(key) = todo.pop() {
        if !found.insert(key.clone()) {
            continue;
        }
        if let Some(model) = models.iter().find(|m| m.module == key.0) {
            todo.extend(members(model, &key.1).filter(|m| !found.contains(m)));
        }
    }
    found
}

/// Fill `checked`, `sent_checked`, `received` and `validated` of every
/// model and `checked` and `sent_checked` of their externals.
pub(super) fn mark(models: &mut [SpecModel]) {
    let own_constraints = |model: &SpecModel, name: &str| {
        model
            .objects
            .get(name)
            .is_some_and(|o| o.properties.iter().any(|p| p.constraints.checks_anything()))
    };
    let checked = closure_up(models, own_constraints);
    let (received, sent) = reached(models);
    // Only what is sent needs `check_sent` (a webhook body that holds a
    // shared type with request rules does not).
    let sent_checked: BTreeSet<Key> = closure_up(models, |model, name| {
        own_constraints(model, name)
            || model
                .objects
                .get(name)
                .is_some_and(|o| o.has_request_rules())
    })
    .intersection(&sent)
    .cloned()
    .collect();
    let of = |set: &BTreeSet<Key>, module: &str| -> BTreeSet<String> {
        set.iter()
            .filter(|(m, _)| m == module)
            .map(|(_, n)| n.clone())
            .collect()
    };
    for model in models.iter_mut() {
        let module = model.module.clone();
        model.checked = of(&checked, &module);
        model.sent_checked = of(&sent_checked, &module);
        model.received = of(&received, &module);
        for (name, external) in model.externals.iter_mut() {
            let key = (external.module.clone(), name.clone());
            external.checked = checked.contains(&key);
            external.sent_checked = sent_checked.contains(&key);
        }
        let bodies: Vec<String> = model
            .operations
            .iter()
            .filter_map(|op| op.body.as_ref())
            .filter(|body| body.multipart.is_none())
            .filter_map(|body| match &body.ty {
                TypeRef::Named(name) if model.objects.contains_key(name) => Some(name.clone()),
                _ => None,
            })
            .collect();
        model.validated = model
            .checked
            .iter()
            .chain(&model.sent_checked)
            .cloned()
            .chain(bodies)
            .collect();
    }
}
