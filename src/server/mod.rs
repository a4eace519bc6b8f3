//! Runtime support for the generated axum server stubs
//! (`tradecloud::api::<spec>::server`).
//!
//! The generated handlers read the request with [`RawRequest::read`] (which
//! honours axum's `DefaultBodyLimit`), decode parameters and bodies with the
//! helpers here, and hand anything they cannot extract to the
//! implementation's `reject` method as a [`Rejection`] that still carries
//! the exact bytes received. The status codes follow Tradecloud's retry
//! rules: an unreadable body is `503` (Tradecloud retries), an undecodable
//! one `400` (it does not).

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use http::request::Parts;
use http::{Method, StatusCode, Uri};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::webhook::decode::{is_json_media as is_json, is_xml_media as is_xml};

/// A request as received: method, URI, headers and the exact body bytes.
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// HTTP method.
    pub method: Method,
    /// Request URI (path and query).
    pub uri: Uri,
    /// Request headers.
    pub headers: HeaderMap,
    /// The body, byte for byte.
    pub body: Bytes,
}

impl RawRequest {
    /// A request with the given parts and body.
    pub fn from_parts(parts: &Parts, body: Bytes) -> Self {
        RawRequest {
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            headers: parts.headers.clone(),
            body,
        }
    }

    /// Read the whole body within the router's `DefaultBodyLimit`.
    pub async fn read(parts: &Parts, body: Body) -> Result<Self, (RejectionKind, Self)> {
        let request = http::Request::from_parts(parts.clone(), body);
        match Bytes::from_request(request, &()).await {
            Ok(bytes) => Ok(Self::from_parts(parts, bytes)),
            Err(rejection) => {
                let kind = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    RejectionKind::PayloadTooLarge
                } else if let Some(framing) = malformed_framing(&rejection) {
                    RejectionKind::MalformedBody(framing)
                } else {
                    RejectionKind::BodyRead(rejection.body_text())
                };
                Err((kind, Self::from_parts(parts, Bytes::new())))
            }
        }
    }

    /// The media type of the body (`Content-Type` without parameters, lower case).
    pub fn media_type(&self) -> Option<String> {
        let value = self.headers.get(CONTENT_TYPE)?.to_str().ok()?;
        Some(crate::webhook::decode::media_type(value))
    }
}

/// The HTTP/1.1 chunked framing error behind a failed body read, if that
/// is what it was: the sender's fault (a retry sends the same bytes), unlike
/// a connection that broke off.
fn malformed_framing(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData
            )
            .then(|| io.to_string());
        }
        source = e.source();
    }
    None
}

/// A request the generated stubs could not turn into a typed request.
#[derive(Debug)]
pub struct Rejection {
    /// `operationId` of the operation that was called.
    pub operation_id: &'static str,
    /// What went wrong.
    pub kind: RejectionKind,
    /// The request as received (the body is empty if it could not be read).
    pub raw: RawRequest,
}

impl Rejection {
    /// A rejection of `operation_id`.
    pub fn new(operation_id: &'static str, kind: RejectionKind, raw: RawRequest) -> Self {
        Rejection {
            operation_id,
            kind,
            raw,
        }
    }
}

/// Why a request was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectionKind {
    /// The body could not be read (connection dropped, I/O error).
    BodyRead(String),
    /// The body is larger than the configured limit.
    PayloadTooLarge,
    /// The body's transfer framing is malformed (HTTP/1.1 chunked coding):
    /// `400`, as a retry would send the same bytes.
    MalformedBody(String),
    /// The `Content-Type` is not one the operation accepts.
    UnsupportedMediaType {
        /// The media type received, if any.
        received: Option<String>,
        /// The media types the operation accepts.
        accepted: Vec<String>,
    },
    /// A required body is missing.
    MissingBody,
    /// The body does not decode into the operation's body type.
    InvalidBody(String),
    /// Path parameters could not be decoded.
    InvalidPath(String),
    /// Query parameters could not be decoded.
    InvalidQuery(String),
    /// A required header is missing.
    MissingHeader(&'static str),
    /// A header could not be decoded.
    InvalidHeader(&'static str, String),
}

impl RejectionKind {
    /// The status answered by default: `503` for a body that could not be
    /// read (so that Tradecloud retries), `413`, `415`, and `400` for
    /// everything that a retry cannot fix.
    pub fn status(&self) -> StatusCode {
        match self {
            RejectionKind::BodyRead(_) => StatusCode::SERVICE_UNAVAILABLE,
            RejectionKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            RejectionKind::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// A one-line description for logs and problem responses.
    pub fn detail(&self) -> String {
        match self {
            RejectionKind::BodyRead(e) => {
                format!("the request body could not be read ({e}); send it again")
            }
            RejectionKind::PayloadTooLarge => {
                "the request body is larger than this endpoint accepts".into()
            }
            RejectionKind::MalformedBody(e) => {
                format!("the request body is malformed: invalid chunked transfer coding ({e})")
            }
            RejectionKind::UnsupportedMediaType { received, accepted } => format!(
                "content type {} is not supported; send one of: {}",
                received
                    .as_deref()
                    .map(|r| format!("`{r}`"))
                    .unwrap_or_else(|| "(none)".into()),
                accepted.join(", ")
            ),
            RejectionKind::MissingBody => {
                "the request has no body; this operation requires one".into()
            }
            RejectionKind::InvalidBody(e) => format!("the body is not a valid message: {e}"),
            RejectionKind::InvalidPath(e) => format!("invalid path parameter: {e}"),
            RejectionKind::InvalidQuery(e) => format!("invalid query parameter: {e}"),
            RejectionKind::MissingHeader(h) => format!("the `{h}` header is required"),
            RejectionKind::InvalidHeader(h, e) => format!("the `{h}` header is invalid: {e}"),
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        problem(
            self.kind.status(),
            &self.kind.detail(),
            Some(("operationId", self.operation_id.into())),
        )
    }
}

/// `Retry-After` (seconds) that [`problem`] sends with a `503`.
pub const PROBLEM_RETRY_AFTER: &str = "5";

/// A JSON problem description (RFC 9457, `application/problem+json`) with
/// `status`, its reason as `title`, `detail`, and one `extra` member if
/// given. A `503` gets `Retry-After: 5` (callers may replace it), so that
/// Tradecloud retries.
///
/// ```
/// use http::StatusCode;
///
/// let response = tradecloud::server::problem(
///     StatusCode::BAD_REQUEST,
///     "the body is not a valid message",
///     Some(("inboxId", 7.into())),
/// );
/// assert_eq!(response.status(), StatusCode::BAD_REQUEST);
/// assert_eq!(response.headers()["content-type"], "application/problem+json");
/// ```
pub fn problem(
    status: StatusCode,
    detail: &str,
    extra: Option<(&str, serde_json::Value)>,
) -> Response {
    let mut body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    if let (Some((key, value)), Some(map)) = (extra, body.as_object_mut()) {
        map.insert(key.to_string(), value);
    }
    let mut response = (
        status,
        [(CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static(PROBLEM_RETRY_AFTER));
    }
    response
}

/// Decode the body of `raw` into `T` according to its `Content-Type`.
/// `Ok(None)` means there is no body (and none is required).
/// `txml_shape` is the tXML shape of `T` for operations that accept
/// `application/xml` (see [`crate::webhook::txml`]).
///
/// The same decoding as
/// [`crate::webhook::decode`](fn@crate::webhook::decode): JSON (a leading
/// UTF-8 byte order mark skipped) without path tracking first, and only for a
/// body that fails, again with it, so that the error names the field.
pub fn decode_body<T: DeserializeOwned>(
    raw: &RawRequest,
    accepted: &[&str],
    required: bool,
    txml_shape: Option<&'static crate::webhook::txml::Shape>,
) -> Result<Option<T>, RejectionKind> {
    if raw.body.is_empty() && !required {
        return Ok(None);
    }
    let media = raw.media_type();
    let unsupported = || RejectionKind::UnsupportedMediaType {
        received: media.clone(),
        accepted: accepted.iter().map(|s| s.to_string()).collect(),
    };
    // A missing Content-Type is read as the first accepted media type.
    let effective = media
        .clone()
        .unwrap_or_else(|| accepted.first().map(|s| s.to_string()).unwrap_or_default());
    let accepts = |pred: fn(&str) -> bool| accepted.iter().any(|a| pred(a)) && pred(&effective);
    if raw.body.is_empty() {
        return Err(RejectionKind::MissingBody);
    }
    if accepts(is_json) {
        crate::webhook::json::decode(&raw.body)
            .map(Some)
            .map_err(|e| RejectionKind::InvalidBody(e.detail()))
    } else if accepts(is_xml) {
        let Some(shape) = txml_shape else {
            return Err(unsupported());
        };
        crate::webhook::txml::from_slice_with(&raw.body, shape)
            .map(Some)
            .map_err(|e| RejectionKind::InvalidBody(e.to_string()))
    } else {
        Err(unsupported())
    }
}

/// The parts of a `multipart/form-data` request body, in the order
/// received (the body of `uploadDocument`: one part named `file`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MultipartBody {
    /// Every part.
    pub parts: Vec<FormPart>,
}

impl MultipartBody {
    /// The first part named `name`.
    pub fn part(&self, name: &str) -> Option<&FormPart> {
        self.parts.iter().find(|p| p.name == name)
    }
}

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPart {
    /// The form field name (`name` of its `Content-Disposition`).
    pub name: String,
    /// The file name, for a file part (`filename`).
    pub file_name: Option<String>,
    /// The part's `Content-Type`, if it has one.
    pub content_type: Option<String>,
    /// The part's bytes.
    pub data: Bytes,
}

/// Decode a `multipart/form-data` body into its parts, and check that the
/// parts named in `required` are there. `Ok(None)` means there is no body
/// (and none is required). The body was read within the router's limit
/// already; the parts are not limited again.
pub async fn decode_multipart(
    raw: &RawRequest,
    required: &[&str],
    body_required: bool,
) -> Result<Option<MultipartBody>, RejectionKind> {
    if raw.body.is_empty() {
        return if body_required {
            Err(RejectionKind::MissingBody)
        } else {
            Ok(None)
        };
    }
    // A missing Content-Type is read as the one accepted (as `decode_body`
    // does); it then has no boundary, which is a malformed body.
    if raw
        .media_type()
        .is_some_and(|media| media != "multipart/form-data")
    {
        return Err(RejectionKind::UnsupportedMediaType {
            received: raw.media_type(),
            accepted: vec!["multipart/form-data".to_string()],
        });
    }
    let content_type = raw
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|e| {
        RejectionKind::InvalidBody(format!(
            "the multipart/form-data body has no usable boundary in its Content-Type ({e})"
        ))
    })?;
    let bytes = raw.body.clone();
    let stream =
        futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(bytes) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    let invalid = |e: multer::Error| {
        RejectionKind::InvalidBody(format!("the multipart/form-data body is malformed: {e}"))
    };
    while let Some(field) = multipart.next_field().await.map_err(invalid)? {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(|m| m.to_string());
        let data = field.bytes().await.map_err(invalid)?;
        parts.push(FormPart {
            name,
            file_name,
            content_type,
            data,
        });
    }
    if let Some(missing) = required
        .iter()
        .find(|name| !parts.iter().any(|p| p.name == **name))
    {
        return Err(RejectionKind::InvalidBody(format!(
            "the multipart/form-data body has no `{missing}` part"
        )));
    }
    Ok(Some(MultipartBody { parts }))
}

/// Decode the path parameters of the matched route.
pub async fn path_params<T: DeserializeOwned + Send>(
    parts: &mut Parts,
) -> Result<T, RejectionKind> {
    axum::extract::Path::<T>::from_request_parts(parts, &())
        .await
        .map(|p| p.0)
        .map_err(|e| RejectionKind::InvalidPath(e.body_text()))
}

/// Decode the query string.
pub fn query_params<T: DeserializeOwned>(parts: &Parts) -> Result<T, RejectionKind> {
    axum::extract::Query::<T>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .map_err(|e| RejectionKind::InvalidQuery(e.body_text()))
}

/// Decode a header parameter.
pub fn header_param<T: std::str::FromStr>(
    headers: &HeaderMap,
    name: &'static str,
) -> Result<Option<T>, RejectionKind>
where
    T::Err: std::fmt::Display,
{
    match headers.get(name) {
        None => Ok(None),
        Some(v) => {
            let text = v
                .to_str()
                .map_err(|_| RejectionKind::InvalidHeader(name, "not visible ASCII".into()))?;
            text.parse::<T>()
                .map(Some)
                .map_err(|e| RejectionKind::InvalidHeader(name, e.to_string()))
        }
    }
}

/// The route of a spec's `path` mounted below `prefix`, as the generated
/// `router_at` uses it: the spec's `/` is the prefix itself, any other path
/// follows it; an empty prefix leaves the path as it is.
///
/// ```
/// use tradecloud::server::mount_path;
///
/// assert_eq!(mount_path("/tradecloud/order", "/"), "/tradecloud/order");
/// assert_eq!(mount_path("/tradecloud/order/", "/{orderId}"), "/tradecloud/order/{orderId}");
/// assert_eq!(mount_path("", "/{orderId}"), "/{orderId}");
/// ```
pub fn mount_path(prefix: &str, path: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    match (prefix, path) {
        ("", path) => path.to_owned(),
        (prefix, "/" | "") => prefix.to_owned(),
        (prefix, path) => format!("{prefix}{path}"),
    }
}

/// The status code `code` (`500` if `code` is not a valid status).
pub fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A response without a body.
pub fn empty_response(status: StatusCode) -> Response {
    (status, Body::empty()).into_response()
}

/// A response with a serialised body (JSON for every JSON media type).
pub fn serialized_response<T: Serialize>(
    status: StatusCode,
    media_type: &'static str,
    body: &T,
) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let content_type = if is_json(media_type) {
                media_type
            } else {
                "application/json"
            };
            (status, [(CONTENT_TYPE, content_type)], bytes).into_response()
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the response could not be serialised: {e}"),
        )
            .into_response(),
    }
}

/// A binary response body (a file download).
#[derive(Debug)]
pub struct BinaryBody {
    /// Content type of the file; the operation's media type when `None`.
    pub content_type: Option<String>,
    /// The bytes, possibly streamed.
    pub body: Body,
}

impl BinaryBody {
    /// A body from bytes in memory.
    pub fn from_bytes(content_type: Option<String>, bytes: impl Into<Bytes>) -> Self {
        BinaryBody {
            content_type,
            body: Body::from(bytes.into()),
        }
    }
}

/// A response with a binary body.
pub fn binary_response(status: StatusCode, media_type: &'static str, body: BinaryBody) -> Response {
    let content_type = body
        .content_type
        .as_deref()
        .and_then(|c| HeaderValue::from_str(c).ok())
        .unwrap_or_else(|| HeaderValue::from_static(media_type));
    let mut response = (status, body.body).into_response();
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}

/// Set a response header; invalid values are left out.
pub fn set_header(response: &mut Response, name: &'static str, value: Option<&str>) {
    if let (Some(value), Ok(name)) = (value, HeaderName::from_bytes(name.as_bytes())) {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(content_type: Option<&str>, body: &'static [u8]) -> RawRequest {
        let mut builder = http::Request::builder()
            .method("POST")
            .uri("/object-storage/document");
        if let Some(ct) = content_type {
            builder = builder.header(CONTENT_TYPE, ct);
        }
        let (parts, ()) = builder.body(()).expect("request").into_parts();
        RawRequest::from_parts(&parts, Bytes::from_static(body))
    }

    const FORM: &[u8] = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a b.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\r\n\r\n--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--XyZ--\r\n";

    #[tokio::test]
    async fn multipart_bodies_are_handed_over_as_their_parts() {
        let raw = request(Some("multipart/form-data; boundary=XyZ"), FORM);
        let body = decode_multipart(&raw, &["file"], true)
            .await
            .expect("decodes")
            .expect("a body");
        let file = body.part("file").expect("file part");
        assert_eq!(file.file_name.as_deref(), Some("a b.pdf"));
        assert_eq!(file.content_type.as_deref(), Some("application/pdf"));
        assert_eq!(&file.data[..], b"%PDF-1.7\r\n");
        assert_eq!(body.part("note").map(|p| &p.data[..]), Some(&b"hello"[..]));
    }

    #[tokio::test]
    async fn multipart_bodies_that_cannot_be_read_are_refused_with_a_reason() {
        // No body: 400 when one is required, nothing when it is not.
        let empty = request(Some("multipart/form-data; boundary=XyZ"), b"");
        assert_eq!(
            decode_multipart(&empty, &["file"], true).await,
            Err(RejectionKind::MissingBody)
        );
        assert_eq!(decode_multipart(&empty, &["file"], false).await, Ok(None));
        // Another media type: 415.
        let json = request(Some("application/json"), b"{}");
        assert!(matches!(
            decode_multipart(&json, &["file"], true).await,
            Err(RejectionKind::UnsupportedMediaType { .. })
        ));
        // No Content-Type (so no boundary), a missing required part, a
        // broken form: 400 naming the problem.
        for (raw, expected) in [
            (request(None, FORM), "no usable boundary"),
            (
                request(Some("multipart/form-data; boundary=XyZ"), FORM),
                "no `document` part",
            ),
            (
                request(
                    Some("multipart/form-data; boundary=XyZ"),
                    b"--XyZ\r\nbroken",
                ),
                "malformed",
            ),
        ] {
            match decode_multipart(&raw, &["document"], true).await {
                Err(RejectionKind::InvalidBody(detail)) => {
                    assert!(detail.contains(expected), "{detail}")
                }
                other => panic!("expected a 400 for {expected}, got {other:?}"),
            }
        }
    }
}
