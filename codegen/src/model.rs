//! Analysis: one pass over a normalised spec that produces the model every
//! emitter prints: its operations (parameters, bodies, responses) with the
//! Rust types they use, its open enums and its shared types.

use std::collections::{BTreeMap, BTreeSet};

use openapiv3::{
    OpenAPI, Parameter, ParameterSchemaOrContent, ReferenceOr, RequestBody, Response, Schema,
    SchemaKind, StatusCode, Type,
};

use crate::error::{pointer, Error, Result};
use crate::names;
use crate::normalize::{EnumDef, Normalized};

/// The Rust type of a parameter, body or response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeRef {
    /// A named component of this spec (or a re-exported shared one).
    Named(String),
    /// `String`.
    String,
    /// `i64`.
    Integer,
    /// `bool`.
    Boolean,
    /// The exact decimal type.
    Decimal,
    /// The flexible date-time type.
    DateTime,
    /// The date type.
    Date,
    /// Raw bytes (`format: binary`).
    Binary,
    /// Any JSON value.
    Any,
    /// A JSON array.
    Array(Box<TypeRef>),
}

/// Where a parameter comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ParamLocation {
    /// Path segment.
    Path,
    /// Query string.
    Query,
    /// Request header.
    Header,
}

/// One parameter of an operation.
#[derive(Debug, Clone)]
pub struct Param {
    /// Name on the wire.
    pub name: String,
    /// Rust field name.
    pub field: String,
    /// Location.
    pub location: ParamLocation,
    /// Whether the parameter must be present.
    pub required: bool,
    /// Type.
    pub ty: TypeRef,
    /// Documentation.
    pub description: Option<String>,
}

/// The request body of an operation.
#[derive(Debug, Clone)]
pub struct Body {
    /// Whether a body is required.
    pub required: bool,
    /// Accepted media types, in spec order.
    pub media_types: Vec<String>,
    /// Type of the body (shared by every media type).
    pub ty: TypeRef,
}

/// Status of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// One code.
    Code(u16),
    /// A range such as `5XX`.
    Range(u16),
    /// `default`.
    Default,
}

/// A response header.
#[derive(Debug, Clone)]
pub struct ResponseHeader {
    /// Name on the wire.
    pub name: String,
    /// Rust field name.
    pub field: String,
    /// Whether the header is always sent.
    pub required: bool,
    /// Documentation.
    pub description: Option<String>,
}

/// One documented response of an operation.
#[derive(Debug, Clone)]
pub struct ResponseModel {
    /// Status.
    pub status: Status,
    /// Description from the spec.
    pub description: String,
    /// Media type and body type, when the response has a body.
    pub body: Option<(String, TypeRef)>,
    /// Documented headers.
    pub headers: Vec<ResponseHeader>,
}

/// One operation.
#[derive(Debug, Clone)]
pub struct Operation {
    /// `operationId`.
    pub id: String,
    /// Rust method name.
    pub fn_name: String,
    /// Rust type-name prefix (`WebhookPost`).
    pub type_prefix: String,
    /// HTTP method, upper case.
    pub method: String,
    /// Path template, e.g. `/order/{orderId}`.
    pub path: String,
    /// Summary.
    pub summary: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Deprecated flag.
    pub deprecated: bool,
    /// Parameters (path, then query, then header).
    pub params: Vec<Param>,
    /// Request body.
    pub body: Option<Body>,
    /// Responses ordered by status.
    pub responses: Vec<ResponseModel>,
    /// JSON pointer of the operation (for messages).
    pub pointer: String,
}

/// The analysed spec.
#[derive(Debug, Clone)]
pub struct SpecModel {
    /// The normalised spec it was built from.
    pub normalized: Normalized,
    /// The parsed document.
    pub openapi: OpenAPI,
    /// Rust module name.
    pub module: String,
    /// Title from `info`.
    pub title: String,
    /// Description from `info`.
    pub description: Option<String>,
    /// Operations in path order.
    pub operations: Vec<Operation>,
    /// Open enums defined here.
    pub enums: Vec<EnumDef>,
    /// Shared types defined in other modules: name → module.
    pub externals: BTreeMap<String, String>,
    /// Every component name.
    pub components: BTreeSet<String>,
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Analyse a normalised spec.
pub fn analyse(normalized: Normalized) -> Result<SpecModel> {
    let path = normalized.source.path.clone();
    let openapi: OpenAPI = serde_path_to_error::deserialize(&normalized.document).map_err(|e| {
        let ptr = pointer(e.path().iter().map(|s| s.to_string()).filter(|s| s != "?"));
        Error::new(
            &path,
            ptr,
            "OpenAPI structure",
            format!("not a valid OpenAPI 3.0 construct: {}", e.inner()),
        )
    })?;
    let components: BTreeSet<String> = openapi
        .components
        .as_ref()
        .map(|c| c.schemas.keys().cloned().collect())
        .unwrap_or_default();
    let mut operations = Vec::new();
    let mut ids = BTreeMap::new();
    for (path_key, item) in openapi.paths.paths.iter() {
        let item_ptr = pointer(["paths", path_key.as_str()]);
        let item = match item {
            ReferenceOr::Item(item) => item,
            ReferenceOr::Reference { reference } => {
                return Err(Error::new(
                    &path,
                    item_ptr,
                    "path item $ref",
                    format!(
                    "`{reference}`: referenced path items are not supported; inline the path item"
                ),
                ))
            }
        };
        for method in METHODS {
            let op = match method {
                "get" => &item.get,
                "put" => &item.put,
                "post" => &item.post,
                "delete" => &item.delete,
                "options" => &item.options,
                "head" => &item.head,
                "patch" => &item.patch,
                _ => &item.trace,
            };
            let Some(op) = op else { continue };
            let op_ptr = pointer(["paths", path_key.as_str(), method]);
            let Some(id) = op.operation_id.clone() else {
                return Err(Error::new(
                    &path,
                    op_ptr,
                    "operation",
                    "has no `operationId`; every operation needs a unique one (it names the Rust method)",
                ));
            };
            if let Some(other) = ids.insert(id.clone(), op_ptr.clone()) {
                return Err(Error::new(
                    &path,
                    op_ptr,
                    "operationId",
                    format!("`{id}` is also used at `#{other}`; operation ids must be unique"),
                ));
            }
            let mut params = Vec::new();
            for (i, p) in item.parameters.iter().enumerate() {
                params.push(param(
                    &path,
                    &openapi,
                    p,
                    &pointer(["paths", path_key.as_str(), "parameters", &i.to_string()]),
                )?);
            }
            for (i, p) in op.parameters.iter().enumerate() {
                let pp = param(&path, &openapi, p, &format!("{op_ptr}/parameters/{i}"))?;
                // Operation parameters override path-item ones.
                params.retain(|q: &Param| !(q.name == pp.name && q.location == pp.location));
                params.push(pp);
            }
            params.sort_by_key(|p| p.location);
            for p in params.iter().filter(|p| p.location == ParamLocation::Path) {
                if !path_key.contains(&format!("{{{}}}", p.name)) {
                    return Err(Error::new(
                        &path,
                        &op_ptr,
                        "path parameter",
                        format!("`{}` does not appear in the path `{path_key}`", p.name),
                    ));
                }
            }
            let body = match &op.request_body {
                None => None,
                Some(b) => Some(body(&path, &openapi, b, &format!("{op_ptr}/requestBody"))?),
            };
            let mut responses = Vec::new();
            for (status, r) in op.responses.responses.iter() {
                let status_m = match status {
                    StatusCode::Code(c) => Status::Code(*c),
                    StatusCode::Range(r) => Status::Range(*r),
                };
                let key = match status {
                    StatusCode::Code(c) => c.to_string(),
                    StatusCode::Range(r) => format!("{r}XX"),
                };
                responses.push(response(
                    &path,
                    &openapi,
                    status_m,
                    r,
                    &format!("{op_ptr}/responses/{key}"),
                )?);
            }
            if let Some(r) = &op.responses.default {
                responses.push(response(
                    &path,
                    &openapi,
                    Status::Default,
                    r,
                    &format!("{op_ptr}/responses/default"),
                )?);
            }
            responses.sort_by_key(|r| r.status);
            operations.push(Operation {
                fn_name: names::field_name(&id),
                type_prefix: names::type_name(&id),
                id,
                method: method.to_uppercase(),
                path: path_key.clone(),
                summary: op.summary.clone(),
                description: op.description.clone(),
                deprecated: op.deprecated,
                params,
                body,
                responses,
                pointer: op_ptr,
            });
        }
    }
    Ok(SpecModel {
        module: normalized.source.module.clone(),
        title: openapi.info.title.clone(),
        description: openapi.info.description.clone(),
        enums: normalized.enums.clone(),
        externals: normalized.externals.clone(),
        components,
        operations,
        openapi,
        normalized,
    })
}

fn local_name<'a>(reference: &'a str, kind: &str) -> Option<&'a str> {
    reference
        .strip_prefix("#/components/")?
        .strip_prefix(kind)?
        .strip_prefix('/')
}

fn param(
    file: &std::path::Path,
    api: &OpenAPI,
    p: &ReferenceOr<Parameter>,
    ptr: &str,
) -> Result<Param> {
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
    file: &std::path::Path,
    api: &OpenAPI,
    b: &ReferenceOr<RequestBody>,
    ptr: &str,
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
    Ok(Body {
        required: b.required,
        media_types: b.content.keys().cloned().collect(),
        ty,
    })
}

fn response(
    file: &std::path::Path,
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
    let mut body = None;
    for (mt, media) in r.content.iter() {
        let mptr = format!("{ptr}/content/{}", crate::error::escape_token(mt));
        let t = match &media.schema {
            Some(s) => schema_type(file, api, s, &mptr)?,
            None => TypeRef::Binary,
        };
        if body.is_none() {
            body = Some((mt.clone(), t));
        }
    }
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
        headers,
    })
}

fn schema_type(
    file: &std::path::Path,
    api: &OpenAPI,
    s: &ReferenceOr<Schema>,
    ptr: &str,
) -> Result<TypeRef> {
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
