//! Operations: parameters, request bodies and responses, with the Rust
//! types they use and the names the emitters give them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use openapiv3::{
    OpenAPI, Parameter, ParameterSchemaOrContent, PathItem, ReferenceOr, RequestBody, Response,
    Schema, SchemaKind, StatusCode, Type,
};

use crate::error::{pointer, Error, Result};
use crate::model::{
    Body, External, HttpMethod, MediaType, ObjectModel, Operation, Param, ParamLocation, Party,
    ResponseBody, ResponseHeader, ResponseModel, ShapeRef, Status, TypeRef,
};
use crate::names;

fn operation_of(item: &PathItem, method: HttpMethod) -> Option<&openapiv3::Operation> {
    match method {
        HttpMethod::Get => item.get.as_ref(),
        HttpMethod::Put => item.put.as_ref(),
        HttpMethod::Post => item.post.as_ref(),
        HttpMethod::Delete => item.delete.as_ref(),
        HttpMethod::Options => item.options.as_ref(),
        HttpMethod::Head => item.head.as_ref(),
        HttpMethod::Patch => item.patch.as_ref(),
        HttpMethod::Trace => item.trace.as_ref(),
    }
}

/// Analyse the operations of a spec, in path order.
pub(super) fn analyse(
    path: &Path,
    openapi: &OpenAPI,
    externals: &BTreeMap<String, External>,
    objects: &BTreeMap<String, ObjectModel>,
) -> Result<Vec<Operation>> {
    let shapes = Shapes { externals, objects };
    let mut operations = Vec::new();
    let mut ids = BTreeMap::new();
    for (path_key, item) in openapi.paths.paths.iter() {
        let item_ptr = pointer(["paths", path_key.as_str()]);
        let item = match item {
            ReferenceOr::Item(item) => item,
            ReferenceOr::Reference { reference } => {
                return Err(Error::new(
                    path,
                    item_ptr,
                    "path item $ref",
                    format!(
                    "`{reference}`: referenced path items are not supported; inline the path item"
                ),
                ))
            }
        };
        for method in HttpMethod::ALL {
            let Some(op) = operation_of(item, method) else {
                continue;
            };
            let op_ptr = pointer(["paths", path_key.as_str(), method.key()]);
            let Some(id) = op.operation_id.clone() else {
                return Err(Error::new(
                    path,
                    op_ptr,
                    "operation",
                    "has no `operationId`; every operation needs a unique one (it names the Rust method)",
                ));
            };
            if let Some(other) = ids.insert(id.clone(), op_ptr.clone()) {
                return Err(Error::new(
                    path,
                    op_ptr,
                    "operationId",
                    format!("`{id}` is also used at `#{other}`; operation ids must be unique"),
                ));
            }
            let params = params(path, openapi, path_key, item, op, &op_ptr)?;
            let body = match &op.request_body {
                None => None,
                Some(b) => Some(body(
                    path,
                    openapi,
                    b,
                    &format!("{op_ptr}/requestBody"),
                    &shapes,
                )?),
            };
            let mut responses = Vec::new();
            for (status, r) in op.responses.responses.iter() {
                let status = match status {
                    StatusCode::Code(c) => Status::Code(*c),
                    StatusCode::Range(r) => Status::Range(*r),
                };
                let ptr = format!("{op_ptr}/responses/{}", status.key());
                responses.push(response(path, openapi, status, r, &ptr)?);
            }
            if let Some(r) = &op.responses.default {
                let ptr = format!("{op_ptr}/responses/default");
                responses.push(response(path, openapi, Status::Default, r, &ptr)?);
            }
            responses.sort_by_key(|r| r.status);
            let security = super::security::of(path, openapi, op, &op_ptr)?;
            let party = match op.extensions.get("x-party") {
                None => None,
                Some(serde_json::Value::String(p)) if p == "buyer" => Some(Party::Buyer),
                Some(serde_json::Value::String(p)) if p == "supplier" => Some(Party::Supplier),
                Some(other) => {
                    return Err(Error::new(
                        path,
                        op_ptr,
                        "x-party",
                        format!(
                            "is {other}; it names the company that alone takes the operation: \
                             `buyer` or `supplier` (leave it out when either may)"
                        ),
                    ))
                }
            };
            let fn_name = names::field_name(&id);
            operations.push(Operation {
                client_fn_name: fn_name.clone(),
                fn_name,
                type_prefix: names::type_name(&id),
                id,
                method,
                path: path_key.clone(),
                summary: op.summary.clone(),
                description: op.description.clone(),
                deprecated: op.deprecated,
                params,
                body,
                responses,
                security,
                // Filled in by the caller, which sees every spec's schemas.
                limits: Vec::new(),
                party,
            });
        }
    }
    name_client_methods(&mut operations);
    Ok(operations)
}

/// Tradecloud's operation ids end in `Route` (`getOrderByIdRoute`): the
/// client methods drop it (`get_order_by_id`) unless the shorter name is
/// taken by another operation or is not a usable name.
fn name_client_methods(operations: &mut [Operation]) {
    let taken: BTreeSet<String> = operations.iter().map(|o| o.fn_name.clone()).collect();
    let mut given = BTreeSet::new();
    for op in operations.iter_mut() {
        let short = op
            .fn_name
            .strip_suffix("_route")
            .filter(|s| !s.is_empty() && *s == names::field_name(s));
        if let Some(short) = short {
            if !taken.contains(short) && given.insert(short.to_string()) {
                op.client_fn_name = short.to_string();
            }
        }
    }
}

/// The parameters of an operation: those of the path item, overridden by
/// the operation's own, ordered path, query, header.
fn params(
    path: &Path,
    openapi: &OpenAPI,
    path_key: &str,
    item: &PathItem,
    op: &openapiv3::Operation,
    op_ptr: &str,
) -> Result<Vec<Param>> {
    let mut params = Vec::new();
    for (i, p) in item.parameters.iter().enumerate() {
        let ptr = pointer(["paths", path_key, "parameters", &i.to_string()]);
        params.push(param(path, openapi, p, &ptr)?);
    }
    for (i, p) in op.parameters.iter().enumerate() {
        let pp = param(path, openapi, p, &format!("{op_ptr}/parameters/{i}"))?;
        params.retain(|q: &Param| !(q.name == pp.name && q.location == pp.location));
        params.push(pp);
    }
    params.sort_by_key(|p| p.location);
    for p in params.iter().filter(|p| p.location == ParamLocation::Path) {
        if !path_key.contains(&format!("{{{}}}", p.name)) {
            return Err(Error::new(
                path,
                op_ptr,
                "path parameter",
                format!("`{}` does not appear in the path `{path_key}`", p.name),
            ));
        }
    }
    Ok(params)
}

/// Which named types have a tXML shape, and where.
struct Shapes<'a> {
    externals: &'a BTreeMap<String, External>,
    objects: &'a BTreeMap<String, ObjectModel>,
}

impl Shapes<'_> {
    fn of(&self, ty: &TypeRef) -> Option<ShapeRef> {
        let TypeRef::Named(name) = ty else {
            return None;
        };
        match self.externals.get(name) {
            Some(e) if e.is_object => Some(ShapeRef {
                name: name.clone(),
                module: Some(e.module.clone()),
            }),
            Some(_) => None,
            None => self.objects.contains_key(name).then(|| ShapeRef {
                name: name.clone(),
                module: None,
            }),
        }
    }
}

fn local_name<'a>(reference: &'a str, kind: &str) -> Option<&'a str> {
    reference
        .strip_prefix("#/components/")?
        .strip_prefix(kind)?
        .strip_prefix('/')
}

fn param(file: &Path, api: &OpenAPI, p: &ReferenceOr<Parameter>, ptr: &str) -> Result<Param> {
    let p = match p {
        ReferenceOr::Item(p) => p,
        ReferenceOr::Reference { reference } => {
            let found = local_name(reference, "parameters")
                .and_then(|n| api.components.as_ref()?.parameters.get(n))
                .and_then(|p| p.as_item());
            found.ok_or_else(|| {
                Error::new(
                    file,
                    ptr,
                    "parameter $ref",
                    format!(
                        "`{reference}` does not point at a parameter in `components/parameters`"
                    ),
                )
            })?
        }
    };
    let (location, data) = match p {
        Parameter::Path { parameter_data, .. } => (ParamLocation::Path, parameter_data),
        Parameter::Query { parameter_data, .. } => (ParamLocation::Query, parameter_data),
        Parameter::Header { parameter_data, .. } => (ParamLocation::Header, parameter_data),
        Parameter::Cookie { .. } => {
            return Err(Error::new(
                file,
                ptr,
                "cookie parameter",
                "cookie parameters are not supported; Tradecloud does not use them",
            ))
        }
    };
    let ty = match &data.format {
        ParameterSchemaOrContent::Schema(s) => schema_type(file, api, s, ptr)?,
        ParameterSchemaOrContent::Content(_) => {
            return Err(Error::new(
                file,
                ptr,
                "parameter content",
                "parameters with `content` instead of `schema` are not supported",
            ))
        }
    };
    if matches!(ty, TypeRef::Named(_) | TypeRef::Any | TypeRef::Binary)
        && location != ParamLocation::Query
    {
        return Err(Error::new(
            file,
            ptr,
            "parameter schema",
            "path and header parameters must be scalars (string, integer, number, boolean, date)",
        ));
    }
    Ok(Param {
        field: names::field_name(&data.name),
        name: data.name.clone(),
        location,
        required: data.required || location == ParamLocation::Path,
        ty,
        description: data.description.clone(),
    })
}

fn body(
    file: &Path,
    api: &OpenAPI,
    b: &ReferenceOr<RequestBody>,
    ptr: &str,
    shapes: &Shapes<'_>,
) -> Result<Body> {
    let b = match b {
        ReferenceOr::Item(b) => b,
        ReferenceOr::Reference { reference } => local_name(reference, "requestBodies")
            .and_then(|n| api.components.as_ref()?.request_bodies.get(n))
            .and_then(|b| b.as_item())
            .ok_or_else(|| {
                Error::new(
                    file,
                    ptr,
                    "requestBody $ref",
                    format!("`{reference}` does not point at `components/requestBodies`"),
                )
            })?,
    };
    let mut ty: Option<TypeRef> = None;
    for (mt, media) in b.content.iter() {
        let mptr = format!("{ptr}/content/{}", crate::error::escape_token(mt));
        let t = match &media.schema {
            Some(s) => schema_type(file, api, s, &mptr)?,
            None => TypeRef::Binary,
        };
        match &ty {
            None => ty = Some(t),
            Some(prev) if *prev == t => {}
            Some(prev) => {
                return Err(Error::new(
                    file,
                    mptr,
                    "request body media types",
                    format!("media types of one body must share a schema ({prev:?} vs {t:?})"),
                ))
            }
        }
    }
    let ty = ty.ok_or_else(|| Error::new(file, ptr, "request body", "has no `content`"))?;
    let media_types: Vec<MediaType> = b.content.keys().cloned().map(MediaType).collect();
    let xml_shape = if media_types.iter().any(MediaType::is_xml) {
        shapes.of(&ty)
    } else {
        None
    };
    let multipart = if media_types.iter().any(MediaType::is_multipart_form) {
        if media_types.len() > 1 {
            return Err(Error::new(
                file,
                ptr,
                "request body media types",
                "a `multipart/form-data` body must be the body's only media type (its parts cannot be sent as JSON or XML)",
            ));
        }
        let parts = match &ty {
            TypeRef::Named(name) => shapes.objects.get(name).map(|o| {
                o.properties
                    .iter()
                    .filter(|p| p.required)
                    .map(|p| p.wire.clone())
                    .collect()
            }),
            _ => None,
        };
        Some(parts.ok_or_else(|| {
            Error::new(
                file,
                ptr,
                "multipart/form-data body",
                "the schema of a multipart body must be an object schema of this spec (`$ref` to `components/schemas`), one property per part",
            )
        })?)
    } else {
        None
    };
    Ok(Body {
        required: b.required,
        media_types,
        ty,
        xml_shape,
        multipart,
    })
}

fn response(
    file: &Path,
    api: &OpenAPI,
    status: Status,
    r: &ReferenceOr<Response>,
    ptr: &str,
) -> Result<ResponseModel> {
    let r = match r {
        ReferenceOr::Item(r) => r,
        ReferenceOr::Reference { reference } => local_name(reference, "responses")
            .and_then(|n| api.components.as_ref()?.responses.get(n))
            .and_then(|r| r.as_item())
            .ok_or_else(|| {
                Error::new(
                    file,
                    ptr,
                    "response $ref",
                    format!("`{reference}` does not point at `components/responses`"),
                )
            })?,
    };
    let media_types: Vec<MediaType> = r.content.keys().cloned().map(MediaType).collect();
    let body = match MediaType::preferred(&media_types) {
        None => None,
        Some(media_type) => {
            let mptr = format!(
                "{ptr}/content/{}",
                crate::error::escape_token(media_type.as_str())
            );
            let ty = match r
                .content
                .get(media_type.as_str())
                .and_then(|m| m.schema.as_ref())
            {
                Some(s) => schema_type(file, api, s, &mptr)?,
                None => TypeRef::Binary,
            };
            Some(ResponseBody {
                media_type: media_type.clone(),
                ty,
            })
        }
    };
    let headers = r
        .headers
        .iter()
        .map(|(name, h)| {
            let (required, description) = match h {
                ReferenceOr::Item(h) => (h.required, h.description.clone()),
                ReferenceOr::Reference { .. } => (false, None),
            };
            ResponseHeader {
                field: names::field_name(name),
                name: name.clone(),
                required,
                description,
            }
        })
        .collect();
    Ok(ResponseModel {
        status,
        description: r.description.clone(),
        body,
        media_types,
        headers,
    })
}

fn schema_type(file: &Path, api: &OpenAPI, s: &ReferenceOr<Schema>, ptr: &str) -> Result<TypeRef> {
    match s {
        ReferenceOr::Reference { reference } => {
            let name = local_name(reference, "schemas").ok_or_else(|| {
                Error::new(
                    file,
                    ptr,
                    "schema $ref",
                    format!("`{reference}` does not point at `components/schemas`"),
                )
            })?;
            if !api
                .components
                .as_ref()
                .is_some_and(|c| c.schemas.contains_key(name))
            {
                return Err(Error::new(
                    file,
                    ptr,
                    "schema $ref",
                    format!("`{reference}`: no such schema"),
                ));
            }
            Ok(TypeRef::Named(name.to_string()))
        }
        ReferenceOr::Item(schema) => Ok(match &schema.schema_kind {
            SchemaKind::Type(Type::String(s)) => match &s.format {
                openapiv3::VariantOrUnknownOrEmpty::Item(openapiv3::StringFormat::DateTime) => {
                    TypeRef::DateTime
                }
                openapiv3::VariantOrUnknownOrEmpty::Item(openapiv3::StringFormat::Date) => {
                    TypeRef::Date
                }
                openapiv3::VariantOrUnknownOrEmpty::Item(openapiv3::StringFormat::Binary) => {
                    TypeRef::Binary
                }
                openapiv3::VariantOrUnknownOrEmpty::Unknown(f)
                    if crate::normalize::is_date_time_format(f) =>
                {
                    TypeRef::DateTime
                }
                _ => TypeRef::String,
            },
            SchemaKind::Type(Type::Integer(_)) => TypeRef::Integer,
            SchemaKind::Type(Type::Number(_)) => TypeRef::Decimal,
            SchemaKind::Type(Type::Boolean(_)) => TypeRef::Boolean,
            SchemaKind::Type(Type::Array(a)) => match &a.items {
                Some(items) => TypeRef::Array(Box::new(match items {
                    ReferenceOr::Reference { reference } => schema_type(
                        file,
                        api,
                        &ReferenceOr::Reference {
                            reference: reference.clone(),
                        },
                        ptr,
                    )?,
                    ReferenceOr::Item(b) => schema_type(
                        file,
                        api,
                        &ReferenceOr::Item((**b).clone()),
                        &format!("{ptr}/items"),
                    )?,
                })),
                None => TypeRef::Array(Box::new(TypeRef::Any)),
            },
            _ => TypeRef::Any,
        }),
    }
}
