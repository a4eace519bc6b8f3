//! Which object schemas have something to check, across the whole spec set:
//! a schema is *checked* when one of its properties has a constraint
//! (`pattern`, `minItems`, `maxItems`) or holds (through lists) a checked
//! schema of this spec or of a sibling. Every checked schema and every
//! request body schema (but a multipart one: its parts are not decoded)
//! implements `Validate` (`emit::validate`).

use std::collections::BTreeSet;

use crate::model::{SpecModel, TypeRef, ValueKind};

/// The named object schema a value of `kind` holds, through lists:
/// `(module, name)`, the module `None` for this spec's own.
fn held(kind: &ValueKind) -> Option<(Option<&str>, &str)> {
    match kind {
        ValueKind::Array(item) => held(item),
        ValueKind::Named { name, module } => Some((module.as_deref(), name.as_str())),
        _ => None,
    }
}

/// Fill `checked` and `validated` of every model and `checked` of their
/// externals.
pub(super) fn mark(models: &mut [SpecModel]) {
    let mut checked: BTreeSet<(String, String)> = BTreeSet::new();
    loop {
        let mut added = Vec::new();
        for model in models.iter() {
            for (name, object) in &model.objects {
                let key = (model.module.clone(), name.clone());
                if checked.contains(&key) {
                    continue;
                }
                let needs = object.properties.iter().any(|p| {
                    p.constraints.checks_anything()
                        || held(&p.kind).is_some_and(|(module, held)| {
                            let module = module.unwrap_or(&model.module);
                            checked.contains(&(module.to_string(), held.to_string()))
                        })
                });
                if needs {
                    added.push(key);
                }
            }
        }
        if added.is_empty() {
            break;
        }
        checked.extend(added);
    }
    for model in models.iter_mut() {
        let module = model.module.clone();
        model.checked = checked
            .iter()
            .filter(|(m, _)| *m == module)
            .map(|(_, n)| n.clone())
            .collect();
        for (name, external) in model.externals.iter_mut() {
            external.checked = checked.contains(&(external.module.clone(), name.clone()));
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
        model.validated = model.checked.iter().cloned().chain(bodies).collect();
    }
}
