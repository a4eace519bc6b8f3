//! The answers the pipeline hands to the generated code, and texts about
//! failures that are safe to log.
//!
//! The generated code reads an error answer as an `ErrorResponse`, so every
//! final error answer gets a JSON object body (a bare `401` often has an
//! empty one). How many attempts a call took and whether its answer comes
//! from a failed login or refresh travel beside the answer, typed
//! ([`report`](super::report)), never in made-up headers.
//!
//! This module imports nothing from the rest of the client: the pipeline,
//! authentication, errors and downloads all build on it.

use bytes::Bytes;
use futures_util::StreamExt as _;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Response, StatusCode};

/// Error bodies are read up to this size to normalise them.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Prepares the final answer for the generated code: an error answer gets a
/// JSON object body, so the generated code can always read it as an
/// `ErrorResponse` and its status is never lost to a parse error.
pub(crate) async fn finish(response: Response) -> Response {
    if response.status().is_success() || response.status().is_informational() {
        return response;
    }
    let status = response.status();
    let headers = response.headers().clone();
    let body = read_limited(response, MAX_ERROR_BODY).await;
    let is_object =
        serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&body).is_ok();
    if is_object {
        rebuild(status, headers, body)
    } else {
        let text = String::from_utf8_lossy(&body);
        let text = text.trim();
        synthetic_response(status, headers, (!text.is_empty()).then_some(text))
    }
}

/// Reads at most `limit` bytes of a body; a broken body reads as what
/// arrived.
async fn read_limited(response: Response, limit: usize) -> Bytes {
    let mut stream = response.bytes_stream();
    let mut body = Vec::new();
    while let Some(Ok(chunk)) = stream.next().await {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= limit {
            break;
        }
    }
    Bytes::from(body)
}

/// An answer with this status and headers and a JSON body
/// `{"message": message}`.
pub(crate) fn synthetic_response(
    status: StatusCode,
    headers: HeaderMap,
    message: Option<&str>,
) -> Response {
    let message = message
        .map(str::to_owned)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("no message").to_owned());
    let body = serde_json::json!({ "message": message }).to_string();
    rebuild(status, headers, Bytes::from(body))
}

fn rebuild(status: StatusCode, mut headers: HeaderMap, body: Bytes) -> Response {
    headers.remove(CONTENT_LENGTH);
    headers.remove(reqwest::header::CONTENT_ENCODING);
    headers.remove(reqwest::header::TRANSFER_ENCODING);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Response::from(response)
}

/// A reqwest error with its causes, without the URL's query and fragment (a
/// presigned URL carries its signature there).
pub(crate) fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), &redact_url(url.as_str()));
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The URL without its query and fragment.
pub(crate) fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.set_query(None);
            parsed.set_fragment(None);
            parsed.to_string()
        }
        Err(_) => url.split(['?', '#']).next().unwrap_or_default().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn error_answers_get_a_json_object_body() {
        let mut headers = HeaderMap::new();
        headers.insert("x-test", HeaderValue::from_static("1"));
        let answer = rebuild(StatusCode::UNAUTHORIZED, headers, Bytes::new());
        let answer = finish(answer).await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(answer.headers()["x-test"], "1");
        assert!(
            answer
                .headers()
                .keys()
                .all(|k| !k.as_str().starts_with("x-tradecloud")),
            "no made-up headers"
        );
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["message"], "Unauthorized");

        let answer = rebuild(
            StatusCode::BAD_REQUEST,
            HeaderMap::new(),
            Bytes::from_static(b"bad limit"),
        );
        let body: serde_json::Value = finish(answer).await.json().await.unwrap();
        assert_eq!(body["message"], "bad limit");

        let json = Bytes::from_static(br#"{"message":"kept","code":7}"#);
        let answer = rebuild(StatusCode::NOT_FOUND, HeaderMap::new(), json);
        let body: serde_json::Value = finish(answer).await.json().await.unwrap();
        assert_eq!(body["code"], 7);
    }

    #[test]
    fn urls_lose_their_query() {
        assert_eq!(
            redact_url("https://s3/k?X-Amz-Signature=secret"),
            "https://s3/k"
        );
        assert_eq!(redact_url("not a url?sig=1"), "not a url");
    }
}
