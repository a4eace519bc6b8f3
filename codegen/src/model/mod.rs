//! Analysis: one pass over the normalised specs that produces the model
//! every emitter prints. Nothing after this step looks at the documents
//! again to decide anything: the emitters read
//!
//! * the operations ([`Operation`]): typed method, path, parameters, request
//!   body with its media types and tXML shape, responses with their bodies
//!   and headers, the server method name and the readable client method name;
//! * the schemas ([`schemas`]): which components are objects, their
//!   properties (wire name, documentation, value kind) and, for shared
//!   components, the sibling module they live in and whether they are objects;
//! * the open enums, from normalisation;
//! * per operation, the facts the runtime's operation table needs: its
//!   security alternatives with each scheme's kind ([`security`]), the media
//!   types of its request and responses, and the limits the spec states on
//!   its request ([`limits`]).
//!
//! The normalised document stays in the model only as the input of typify and
//! progenitor (they read OpenAPI, not our model).

pub(crate) mod limits;
mod operations;
pub(crate) mod schemas;
pub(crate) mod security;
mod validation;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use openapiv3::OpenAPI;
use serde_json::Value;

use crate::error::{pointer, Error, Result};
use crate::normalize::{EnumDef, Normalized};

pub(crate) use limits::{Bound, Limit, LimitLocation, Rule};
pub(crate) use schemas::{ObjectModel, SchemaIndex, ValueKind};
pub(crate) use security::{ApiKeyLocation, AuthScheme};

/// The Rust type of a parameter, body or response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TypeRef {
    /// A named component of this spec (or a re-exported shared one).
    Named(String),
    String,
    Integer,
    Boolean,
    /// The exact decimal type.
    Decimal,
    /// The flexible date-time type.
    DateTime,
    Date,
    /// Raw bytes (`format: binary`).
    Binary,
    /// Any JSON value.
    Any,
    Array(Box<TypeRef>),
}

/// An HTTP method of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum HttpMethod {
    Get,
    Put,
    Post,
    Delete,
    Options,
    Head,
    Patch,
    Trace,
}

impl HttpMethod {
    /// Every method, in the order of an OpenAPI path item.
    pub(crate) const ALL: [HttpMethod; 8] = [
        HttpMethod::Get,
        HttpMethod::Put,
        HttpMethod::Post,
        HttpMethod::Delete,
        HttpMethod::Options,
        HttpMethod::Head,
        HttpMethod::Patch,
        HttpMethod::Trace,
    ];

    /// The key in an OpenAPI path item, which is also the name of axum's
    /// routing function (`get`, `post`, ...).
    pub(crate) fn key(self) -> &'static str {
        match self {
            HttpMethod::Get => "get",
            HttpMethod::Put => "put",
            HttpMethod::Post => "post",
            HttpMethod::Delete => "delete",
            HttpMethod::Options => "options",
            HttpMethod::Head => "head",
            HttpMethod::Patch => "patch",
            HttpMethod::Trace => "trace",
        }
    }

    /// The method as sent on the wire (`GET`).
    pub(crate) fn wire(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Put => "PUT",
            HttpMethod::Post => "POST",
            HttpMethod::Delete => "DELETE",
            HttpMethod::Options => "OPTIONS",
            HttpMethod::Head => "HEAD",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Trace => "TRACE",
        }
    }
}

/// A media type as written in the spec (`application/json`,
/// `application/vnd.x+json; charset=utf-8`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MediaType(pub(crate) String);

impl MediaType {
    fn essence(&self) -> &str {
        self.0.split(';').next().unwrap_or("").trim()
    }

    /// `application/json` or any `+json` type.
    pub(crate) fn is_json(&self) -> bool {
        let m = self.essence();
        m == "application/json" || m.ends_with("+json")
    }

    /// `application/xml`, `text/xml` or any `+xml` type (tXML).
    pub(crate) fn is_xml(&self) -> bool {
        let m = self.essence();
        m.ends_with("/xml") || m.ends_with("+xml")
    }

    /// `multipart/*` (uploads).
    pub(crate) fn is_multipart(&self) -> bool {
        self.essence()
            .to_ascii_lowercase()
            .starts_with("multipart/")
    }

    /// `multipart/form-data`.
    pub(crate) fn is_multipart_form(&self) -> bool {
        self.essence().eq_ignore_ascii_case("multipart/form-data")
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// What kind of body it stands for.
    pub(crate) fn kind(&self) -> MediaKind {
        let m = self.essence().to_ascii_lowercase();
        let m = MediaType(m);
        if m.is_json() {
            MediaKind::Json
        } else if m.is_xml() {
            MediaKind::Xml
        } else if m.is_multipart() {
            MediaKind::Multipart
        } else if m.0 == "application/x-www-form-urlencoded" {
            MediaKind::Form
        } else if m.0.starts_with("text/") {
            MediaKind::Text
        } else {
            MediaKind::Other
        }
    }

    /// The JSON one of several media types, else the first.
    pub(crate) fn preferred(types: &[MediaType]) -> Option<&MediaType> {
        types.iter().find(|m| m.is_json()).or_else(|| types.first())
    }
}

/// What kind of body a media type stands for (the runtime's `MediaKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MediaKind {
    Json,
    Xml,
    Multipart,
    Form,
    Text,
    Other,
}

/// Where a parameter comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ParamLocation {
    Path,
    Query,
    Header,
}

/// One parameter of an operation.
#[derive(Debug, Clone)]
pub(crate) struct Param {
    /// Name on the wire.
    pub(crate) name: String,
    /// Rust field name.
    pub(crate) field: String,
    pub(crate) location: ParamLocation,
    /// Path parameters are always required.
    pub(crate) required: bool,
    pub(crate) ty: TypeRef,
    pub(crate) description: Option<String>,
}

/// A named object schema that a body can be decoded into from tXML: the
/// name of its `txml_shapes` static and the sibling module it lives in
/// (`None`: this spec).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShapeRef {
    pub(crate) name: String,
    pub(crate) module: Option<String>,
}

/// The request body of an operation.
#[derive(Debug, Clone)]
pub(crate) struct Body {
    pub(crate) required: bool,
    /// Accepted media types, in spec order (they share one type).
    pub(crate) media_types: Vec<MediaType>,
    pub(crate) ty: TypeRef,
    /// The tXML shape, when an XML media type is accepted and the body is
    /// an object.
    pub(crate) xml_shape: Option<ShapeRef>,
    /// A `multipart/form-data` body (its only media type): the parts the
    /// schema requires, by name. Its type describes the parts; the stubs
    /// hand over the parts as received and the client sends a form.
    pub(crate) multipart: Option<Vec<String>>,
}

impl Body {
    /// The media type a client sends: JSON when the spec allows it.
    pub(crate) fn client_media_type(&self) -> Option<&MediaType> {
        MediaType::preferred(&self.media_types)
    }
}

/// Status of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Status {
    Code(u16),
    /// A range such as `5XX` (the hundreds digit).
    Range(u16),
    Default,
}

impl Status {
    /// The key in the spec's `responses` map.
    pub(crate) fn key(self) -> String {
        match self {
            Status::Code(c) => c.to_string(),
            Status::Range(r) => format!("{r}XX"),
            Status::Default => "default".into(),
        }
    }

    pub(crate) fn is_success(self) -> bool {
        match self {
            Status::Code(c) => (200..300).contains(&c),
            Status::Range(r) => r == 2,
            Status::Default => false,
        }
    }
}

/// A documented response header.
#[derive(Debug, Clone)]
pub(crate) struct ResponseHeader {
    /// Name on the wire.
    pub(crate) name: String,
    /// Rust field name.
    pub(crate) field: String,
    /// Whether the header is always sent.
    pub(crate) required: bool,
    pub(crate) description: Option<String>,
}

/// The body of a response: the media type it is sent as (JSON when the spec
/// allows it) and its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResponseBody {
    pub(crate) media_type: MediaType,
    pub(crate) ty: TypeRef,
}

/// One documented response of an operation.
#[derive(Debug, Clone)]
pub(crate) struct ResponseModel {
    pub(crate) status: Status,
    pub(crate) description: String,
    pub(crate) body: Option<ResponseBody>,
    /// Every media type of the body, in spec order (`body` has the chosen one).
    pub(crate) media_types: Vec<MediaType>,
    pub(crate) headers: Vec<ResponseHeader>,
}

/// One operation.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    /// `operationId`.
    pub(crate) id: String,
    /// Method name of the server trait (the operation id in snake case).
    pub(crate) fn_name: String,
    /// Method name of the client: `fn_name` without a trailing `_route`
    /// (Tradecloud's ids end in `Route`), unless that clashes.
    pub(crate) client_fn_name: String,
    /// Rust type-name prefix (`WebhookPost`).
    pub(crate) type_prefix: String,
    pub(crate) method: HttpMethod,
    /// Path template, e.g. `/order/{orderId}`.
    pub(crate) path: String,
    pub(crate) summary: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) deprecated: bool,
    /// Parameters (path, then query, then header).
    pub(crate) params: Vec<Param>,
    pub(crate) body: Option<Body>,
    /// Responses ordered by status.
    pub(crate) responses: Vec<ResponseModel>,
    /// Security alternatives (the operation's `security`, else the spec's):
    /// one is enough, each lists the schemes it needs together. Empty: no
    /// authentication.
    pub(crate) security: Vec<Vec<AuthScheme>>,
    /// The limits the spec states on the request (body members, parameters).
    pub(crate) limits: Vec<Limit>,
    /// The company that alone takes the operation (`x-party`), if one does.
    pub(crate) party: Option<Party>,
}

/// The company an operation is for (the runtime's `types::Party`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Party {
    Buyer,
    Supplier,
}

/// A component defined in a sibling spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct External {
    /// The module of the spec that defines it.
    pub(crate) module: String,
    /// Whether it is an object schema (it has a tXML shape there).
    pub(crate) is_object: bool,
    /// Whether it is an open enum.
    pub(crate) is_enum: bool,
    /// Whether its values have something to check (it implements
    /// `Validate` there with checks of its own or of its members).
    pub(crate) checked: bool,
    /// Whether its values have something to check when they are sent to
    /// Tradecloud (`Validate::check_sent`: the `checked` rules and the
    /// `x-request-rules` of it and its members).
    pub(crate) sent_checked: bool,
}

/// The analysed spec.
#[derive(Debug, Clone)]
pub(crate) struct SpecModel {
    /// The spec file.
    pub(crate) path: PathBuf,
    /// Its file name (`order-search.yaml`).
    pub(crate) file_name: String,
    /// Rust module name.
    pub(crate) module: String,
    /// Title from `info`.
    pub(crate) title: String,
    /// Description from `info`.
    pub(crate) description: Option<String>,
    /// The normalised document: the input of typify and progenitor only.
    pub(crate) document: Value,
    /// Operations in path order.
    pub(crate) operations: Vec<Operation>,
    /// Open enums defined here.
    pub(crate) enums: Vec<EnumDef>,
    /// Components defined in sibling specs, by name.
    pub(crate) externals: BTreeMap<String, External>,
    /// Every component name (local and placeholders of shared ones).
    pub(crate) components: BTreeSet<String>,
    /// The object schemas defined here, by name.
    pub(crate) objects: BTreeMap<String, ObjectModel>,
    /// The object schemas defined here whose values have something to check
    /// (a constraint of their own or in a member, through lists and shared
    /// types): a member of such a type is checked too.
    pub(crate) checked: BTreeSet<String>,
    /// The object schemas defined here whose values have something to
    /// check when they are sent to Tradecloud: the `checked` ones and those
    /// with `x-request-rules` of their own or in a member.
    pub(crate) sent_checked: BTreeSet<String>,
    /// The object schemas defined here that Tradecloud sends: those a
    /// webhook body (a request body of a spec marked `x-webhook: true`) or a
    /// response body can hold. Their `Validate::check` leaves the
    /// `x-request-rules` out (a receiver never refuses what Tradecloud
    /// sends); `Validate::check_sent` checks them.
    pub(crate) received: BTreeSet<String>,
    /// The object schemas defined here that implement `Validate`: the
    /// checked ones, the sent-checked ones and every request body, so that
    /// every request can be validated before it is sent or after it is
    /// received.
    pub(crate) validated: BTreeSet<String>,
    /// `x-webhook: true` of the document: its operations are called by
    /// Tradecloud (the receiver implements them), so their request bodies
    /// are received messages.
    pub(crate) webhook: bool,
}

impl SpecModel {
    /// Whether `name` is an open enum, defined here or in a sibling.
    pub(crate) fn is_open_enum(&self, name: &str) -> bool {
        self.enums.iter().any(|e| e.name == name)
            || self.externals.get(name).is_some_and(|e| e.is_enum)
    }
}

/// Analyse every normalised spec of a set.
pub(crate) fn analyse_all(normalized: Vec<Normalized>) -> Result<Vec<SpecModel>> {
    let index = SchemaIndex::new(&normalized);
    let mut models = normalized
        .into_iter()
        .map(|n| analyse(n, &index))
        .collect::<Result<Vec<_>>>()?;
    validation::mark(&mut models);
    Ok(models)
}

/// Every member that `x-request-rules` `required` or `dependentRequired`
/// names is a property of the schema (a misspelt name would check nothing).
fn check_request_rules(
    path: &std::path::Path,
    objects: &BTreeMap<String, ObjectModel>,
) -> Result<()> {
    for (name, object) in objects {
        let named = object.request_required.iter().chain(
            object
                .dependent_required
                .iter()
                .flat_map(|(with, needs)| std::iter::once(with).chain(needs)),
        );
        for member in named {
            if object.property(member).is_none() {
                return Err(Error::new(
                    path,
                    pointer(["components", "schemas", name, "x-request-rules"]),
                    "x-request-rules",
                    format!(
                        "names `{member}`, which is not a property of `{name}`; name one of its properties"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Every list whose `x-request-rules` has `uniqueBy` holds items of an
/// object schema (of this spec or a sibling) with a text member of that
/// name: the generated check reads it from every item.
fn check_unique_by(
    path: &std::path::Path,
    module: &str,
    index: &SchemaIndex,
    objects: &BTreeMap<String, ObjectModel>,
) -> Result<()> {
    for (name, object) in objects {
        for property in &object.properties {
            let Some(member) = &property.request.unique_by else {
                continue;
            };
            let item = match &property.kind {
                ValueKind::Array(item) => match item.as_ref() {
                    ValueKind::Named { name, .. } => index.resolve(module, name),
                    _ => None,
                },
                _ => None,
            };
            let text = item
                .and_then(|(_, schema)| schema.get("properties")?.get(member))
                .is_some_and(|m| {
                    m.get("type").and_then(Value::as_str) == Some("string")
                        && m.get("enum").is_none()
                        && m.get("format").is_none()
                        && m.get("x-rust-type").is_none()
                });
            if !text {
                return Err(Error::new(
                    path,
                    pointer([
                        "components",
                        "schemas",
                        name.as_str(),
                        "properties",
                        property.wire.as_str(),
                        "x-request-rules",
                        "uniqueBy",
                    ]),
                    "x-request-rules",
                    format!(
                        "`uniqueBy: {member}` needs a list of object schemas that have a text \
                         member `{member}`; name a text member of the items of `{}`",
                        property.wire
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn analyse(normalized: Normalized, index: &SchemaIndex) -> Result<SpecModel> {
    let Normalized {
        source,
        document,
        enums,
        externals,
    } = normalized;
    let path = source.path.clone();
    let openapi: OpenAPI = serde_path_to_error::deserialize(&document).map_err(|e| {
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
    let externals: BTreeMap<String, External> = externals
        .into_iter()
        .map(|(name, module)| {
            let external = External {
                is_object: index.is_object(&module, &name),
                is_enum: index.is_enum(&module, &name),
                checked: false,
                sent_checked: false,
                module,
            };
            (name, external)
        })
        .collect();
    let objects = index.objects_of(&source.module, &externals);
    check_request_rules(&path, &objects)?;
    check_unique_by(&path, &source.module, index, &objects)?;
    let mut operations = operations::analyse(&path, &openapi, &externals, &objects)?;
    for op in &mut operations {
        op.limits = limits::of_operation(index, &source.module, &document, op);
    }
    let webhook = document.get("x-webhook").and_then(Value::as_bool) == Some(true);
    Ok(SpecModel {
        file_name: source.file_name.clone(),
        module: source.module.clone(),
        path,
        title: openapi.info.title.clone(),
        description: openapi.info.description.clone(),
        document,
        operations,
        enums,
        externals,
        components,
        objects,
        checked: BTreeSet::new(),
        sent_checked: BTreeSet::new(),
        received: BTreeSet::new(),
        validated: BTreeSet::new(),
        webhook,
    })
}
