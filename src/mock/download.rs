//! Document downloads: streaming bodies in constant memory, presigned URLs
//! and the mock's stand-in for S3 (`GET /mock-s3/{objectId}?X-Amz-...`).

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderValue, StatusCode, Uri};
use tokio::io::AsyncReadExt as _;

use super::data::{DocumentContent, MockDocument};
use super::state::{MockState, PresignedCheck};
use super::stats::operation;
use crate::server::BinaryBody;

/// Size of the chunks a download is streamed in.
const CHUNK: usize = 64 * 1024;
/// Period of the generated content (see [`super::generated_byte`]).
const PERIOD: usize = 251;

/// `CHUNK + PERIOD` bytes of the generated pattern; every chunk of a
/// generated document is a zero-copy slice of it.
fn pattern() -> &'static Bytes {
    static PATTERN: OnceLock<Bytes> = OnceLock::new();
    PATTERN.get_or_init(|| {
        (0..CHUNK + PERIOD)
            .map(|i| super::generated_byte(i as u64))
            .collect::<Vec<u8>>()
            .into()
    })
}

enum Source {
    Bytes(Bytes),
    File(tokio::fs::File),
    Generated,
}

struct Streaming {
    source: Source,
    position: u64,
    size: u64,
    interrupt_after: Option<u64>,
}

impl Streaming {
    async fn next_chunk(&mut self) -> Option<Result<Bytes, io::Error>> {
        if self.position >= self.size {
            return None;
        }
        let mut end = self.size.min(self.position + CHUNK as u64);
        if let Some(cut) = self.interrupt_after {
            if self.position >= cut {
                // Let the server flush what was sent (headers included), then
                // end the stream with an error: hyper aborts the connection.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                self.position = self.size;
                return Some(Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "download interrupted by the Tradecloud mock",
                )));
            }
            end = end.min(cut);
        }
        let want = usize::try_from(end - self.position).unwrap_or(CHUNK);
        let chunk = match &mut self.source {
            Source::Bytes(bytes) => {
                let start = usize::try_from(self.position).unwrap_or(usize::MAX);
                match start.checked_add(want).filter(|e| *e <= bytes.len()) {
                    Some(stop) => bytes.slice(start..stop),
                    None => Bytes::new(),
                }
            }
            Source::Generated => {
                let offset = (self.position % PERIOD as u64) as usize;
                pattern().slice(offset..offset + want)
            }
            Source::File(file) => {
                let mut buffer = vec![0u8; want];
                match file.read(&mut buffer).await {
                    Ok(n) => {
                        buffer.truncate(n);
                        Bytes::from(buffer)
                    }
                    Err(e) => {
                        self.position = self.size;
                        return Some(Err(e));
                    }
                }
            }
        };
        if chunk.is_empty() {
            // The file shrank since its length was announced.
            self.position = self.size;
            return Some(Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the document file ended early",
            )));
        }
        self.position += chunk.len() as u64;
        Some(Ok(chunk))
    }
}

/// An open document: its streaming body and length.
pub(crate) struct OpenDocument {
    pub(crate) body: BinaryBody,
    pub(crate) length: u64,
    pub(crate) filename: String,
}

/// Open `document` for streaming.
pub(crate) async fn open(document: &MockDocument) -> Result<OpenDocument, io::Error> {
    let (source, size) = match &document.content {
        DocumentContent::Bytes(bytes) => (Source::Bytes(bytes.clone()), bytes.len() as u64),
        DocumentContent::Generated { size } => (Source::Generated, *size),
        DocumentContent::File(path) => {
            let file = tokio::fs::File::open(path).await?;
            let size = file.metadata().await?.len();
            (Source::File(file), size)
        }
    };
    let streaming = Streaming {
        source,
        position: 0,
        size,
        interrupt_after: document.interrupt_after,
    };
    let stream = futures_util::stream::unfold(streaming, |mut s| async move {
        let item = s.next_chunk().await?;
        Some((item, s))
    });
    Ok(OpenDocument {
        body: BinaryBody {
            content_type: Some(document.content_type.clone()),
            body: Body::from_stream(stream),
        },
        length: size,
        filename: document.filename.clone(),
    })
}

/// Add `Content-Length` and `Content-Disposition` to a download response.
pub(crate) fn add_download_headers(response: &mut Response, length: u64, filename: &str) {
    response
        .headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(length));
    if let Ok(value) = HeaderValue::from_str(&content_disposition(filename)) {
        response.headers_mut().insert(CONTENT_DISPOSITION, value);
    }
}

/// `attachment; filename="..."` with an RFC 6266 `filename*` for names
/// that are not plain ASCII.
fn content_disposition(filename: &str) -> String {
    let plain: String = filename
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if plain == filename {
        format!("attachment; filename=\"{plain}\"")
    } else {
        format!(
            "attachment; filename=\"{plain}\"; filename*=UTF-8''{}",
            percent_encode(filename)
        )
    }
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The origin (`http://host:port`) under which the client reached us: the
/// request's authority or `Host` header, else the listening address.
pub(crate) fn origin_of(uri: &Uri, headers: &HeaderMap, state: &MockState) -> String {
    let host = uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            headers
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .filter(|h| url::Url::parse(&format!("http://{h}/")).is_ok());
    match host {
        Some(host) => format!("http://{host}"),
        None => format!("http://{}", super::display_addr(state.local_addr)),
    }
}

/// A presigned URL for `object_id`, shaped like an S3 presigned URL.
pub(crate) fn presigned_url(state: &MockState, origin: &str, object_id: &str) -> Option<String> {
    let signature = state.presign(object_id);
    let lifetime = state.download_lifetime();
    let expires = lifetime.as_secs() + u64::from(lifetime.subsec_nanos() > 0);
    let now = chrono::Utc::now();
    let mut url = url::Url::parse(origin).ok()?;
    url.path_segments_mut()
        .ok()?
        .clear()
        .push("mock-s3")
        .push(object_id);
    url.query_pairs_mut()
        .append_pair("X-Amz-Algorithm", "AWS4-HMAC-SHA256")
        .append_pair(
            "X-Amz-Credential",
            &format!("MOCK/{}/eu-west-1/s3/aws4_request", now.format("%Y%m%d")),
        )
        .append_pair("X-Amz-Date", &now.format("%Y%m%dT%H%M%SZ").to_string())
        .append_pair("X-Amz-Expires", &expires.to_string())
        .append_pair("X-Amz-SignedHeaders", "host")
        .append_pair("X-Amz-Signature", &signature);
    Some(url.into())
}

/// An S3-style XML error.
fn s3_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>\n"
    );
    (status, [(CONTENT_TYPE, "application/xml")], body).into_response()
}

/// `GET /mock-s3/{objectId}?X-Amz-...`: the presigned download URL. Needs
/// no `Authorization`; answers `403` once the URL has expired, like S3.
pub(crate) async fn mock_s3(
    State(state): State<Arc<MockState>>,
    Path(object_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    state.record(operation::MOCK_S3_DOWNLOAD);
    if let Some(response) = state.apply_faults(operation::MOCK_S3_DOWNLOAD, true).await {
        return response;
    }
    let Some(signature) = query.get("X-Amz-Signature") else {
        return s3_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Query-string authentication requires the X-Amz-Signature parameter",
        );
    };
    match state.check_presigned(&object_id, signature) {
        PresignedCheck::Valid => {}
        PresignedCheck::Expired => {
            return s3_error(StatusCode::FORBIDDEN, "AccessDenied", "Request has expired")
        }
        PresignedCheck::Unknown => {
            return s3_error(
                StatusCode::FORBIDDEN,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        }
    }
    let Some(document) = state.document(&object_id) else {
        return s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        );
    };
    match open(&document).await {
        Ok(open) => {
            let mut response = crate::server::binary_response(
                StatusCode::OK,
                "application/octet-stream",
                open.body,
            );
            add_download_headers(&mut response, open.length, &open.filename);
            response
        }
        Err(e) => s3_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            &format!("cannot read the document: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_disposition_quotes_plain_names_and_encodes_others() {
        assert_eq!(
            content_disposition("test.pdf"),
            "attachment; filename=\"test.pdf\""
        );
        assert_eq!(
            content_disposition("Prüf \"1\".pdf"),
            "attachment; filename=\"Pr_f _1_.pdf\"; filename*=UTF-8''Pr%C3%BCf%20%221%22.pdf"
        );
    }

    #[tokio::test]
    async fn generated_stream_follows_the_pattern_and_can_be_interrupted() {
        let mut s = Streaming {
            source: Source::Generated,
            position: 0,
            size: 200_000,
            interrupt_after: None,
        };
        let mut all = Vec::new();
        while let Some(chunk) = s.next_chunk().await {
            all.extend_from_slice(&chunk.expect("no error"));
        }
        assert_eq!(all.len(), 200_000);
        assert!(all
            .iter()
            .enumerate()
            .all(|(i, b)| *b == super::super::generated_byte(i as u64)));

        let mut s = Streaming {
            source: Source::Generated,
            position: 0,
            size: 200_000,
            interrupt_after: Some(70_000),
        };
        let mut sent = 0;
        let mut failed = false;
        while let Some(chunk) = s.next_chunk().await {
            match chunk {
                Ok(c) => sent += c.len(),
                Err(_) => failed = true,
            }
        }
        assert_eq!((sent, failed), (70_000, true));
    }
}
