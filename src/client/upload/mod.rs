//! Document upload (`POST /object-storage/document`;
//! order/buyer/issue/attach-document.md,
//! order/supplier/send-order-response/attach-document.md): a
//! `multipart/form-data` body with one part `file`, streamed from disk.
//!
//! The file is never read into memory as a whole: each send of the request
//! opens it and hands it to the connection in chunks of [`CHUNK`] bytes as
//! the connection takes them (a `reqwest` body from a stream), counting them
//! for [`Upload::progress`]. When the request may be sent again (no
//! connection could be made, a `429`, a `401` renewing the token; see
//! [`Documents::upload`](super::Documents::upload)), the next send opens
//! the file again.

mod blocked;

use std::future::{Future, IntoFuture};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use progenitor_client::ClientInfo as _;
use reqwest::header::{HeaderValue, ACCEPT};
use tokio::io::AsyncReadExt as _;

use super::message::{decode, not_resent};
use super::pipeline::{self, Rebuild, Requests, Unsent};
use super::{Client, ClientError, Progress, Resend};
use crate::api::object_storage::{self, types::UploadDocumentResponse};

pub use blocked::{blocked_extension, BLOCKED_EXTENSIONS};

/// The size of the chunks the file is read and sent in.
pub const CHUNK: usize = 64 * 1024;

/// The slowest transfer an upload is given time for, in bytes per second:
/// an upload (one send of it) may take the client's time-out plus one
/// second per this many bytes before it is given up.
pub const MIN_UPLOAD_RATE: u64 = 64 * 1024;

/// What [`ClientError::NotResent`] advises after an upload that may have
/// arrived.
const ADVICE: &str = "uploading the file again (now or later) is safe but stores a second copy \
                      under a new objectId (harmless: only the objectId you attach is ever shown)";

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An uploaded document.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Uploaded {
    /// Its `objectId` in Tradecloud's object storage: attach it as
    /// `documents.objectId` of an order response, an order, a line or an
    /// attach-documents message.
    pub object_id: String,
    /// The file name it was sent with (the metadata's `filename`).
    pub file_name: String,
    /// The media type it was sent with (the metadata's `contentType`).
    pub content_type: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Tradecloud's whole answer (`id`, and whatever else it holds, in
    /// `extra`).
    pub answer: UploadDocumentResponse,
}

/// An upload to run: `.await` it, optionally after setting the file name,
/// the media type or a [`progress`](Self::progress) callback. Made by
/// [`Documents::upload`](super::Documents::upload).
///
/// ```no_run
/// # async fn run(client: tradecloud::client::Client) -> Result<(), tradecloud::client::ClientError> {
/// let uploaded = client
///     .documents()
///     .upload("out/PO123-confirmation.pdf")
///     .file_name("Order confirmation PO123.pdf") // default: the path's file name
///     .progress(|p| eprint!("\r{} of {:?} bytes", p.bytes, p.total))
///     .await?;
/// println!("objectId {}", uploaded.object_id);
/// # Ok(())
/// # }
/// ```
///
/// The media type is the one given with [`content_type`](Self::content_type),
/// else guessed from the file name's extension (`application/pdf` for
/// `.pdf`), else `application/octet-stream`.
#[must_use = "an upload does nothing until it is awaited"]
pub struct Upload<'a, P = fn(Progress)> {
    client: &'a Client,
    path: PathBuf,
    file_name: Option<String>,
    content_type: Option<String>,
    progress: P,
}

impl<P> std::fmt::Debug for Upload<'_, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("path", &self.path)
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

impl<'a> Upload<'a> {
    pub(super) fn new(client: &'a Client, path: PathBuf) -> Self {
        fn ignore(_: Progress) {}
        Upload {
            client,
            path,
            file_name: None,
            content_type: None,
            progress: ignore,
        }
    }
}

impl<'a, P> Upload<'a, P> {
    /// The file name to send (default: the path's file name).
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = Some(name.into());
        self
    }

    /// The media type to send (default: guessed from the file name).
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Calls `progress` as chunks of the file are taken by the connection
    /// (for a progress bar); `total` is the file's size.
    pub fn progress<F>(self, progress: F) -> Upload<'a, F>
    where
        F: FnMut(Progress) + Send + 'a,
    {
        Upload {
            client: self.client,
            path: self.path,
            file_name: self.file_name,
            content_type: self.content_type,
            progress,
        }
    }
}

impl<'a, P> IntoFuture for Upload<'a, P>
where
    P: FnMut(Progress) + Send + 'a,
{
    type Output = Result<Uploaded, ClientError>;
    type IntoFuture = BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Bytes handed to the connection in the current send, and a wake-up for
/// the progress reports.
#[derive(Default)]
struct Meter {
    sent: AtomicU64,
    /// Whether the whole file went to the connection in the current send.
    whole: AtomicBool,
    changed: tokio::sync::Notify,
}

impl Meter {
    /// A new send starts.
    fn restart(&self) {
        self.whole.store(false, Ordering::Relaxed);
        self.sent.store(0, Ordering::Relaxed);
        self.changed.notify_one();
    }

    fn add(&self, bytes: usize) {
        self.sent
            .fetch_add(u64::try_from(bytes).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.changed.notify_one();
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

/// Everything one send of the upload needs, to build it again.
struct Form {
    http: reqwest::Client,
    url: String,
    path: PathBuf,
    file_name: String,
    content_type: String,
    timeout: Duration,
    meter: Arc<Meter>,
}

impl Form {
    /// One send: the multipart body with a fresh stream of the file.
    fn request(&self) -> reqwest::Result<reqwest::Request> {
        self.meter.restart();
        let length = std::fs::metadata(&self.path).ok().map(|m| m.len());
        let body = reqwest::Body::wrap_stream(file_chunks(self.path.clone(), self.meter.clone()));
        let part = match length {
            Some(length) => reqwest::multipart::Part::stream_with_length(body, length),
            None => reqwest::multipart::Part::stream(body),
        }
        .file_name(self.file_name.clone())
        .mime_str(&self.content_type)?;
        let form = reqwest::multipart::Form::new().part("file", part);
        let allowance = Duration::from_secs(length.unwrap_or(0) / MIN_UPLOAD_RATE);
        self.http
            .post(&self.url)
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header(
                "api-version",
                HeaderValue::from_static(
                    object_storage::client::ObjectStorageClient::api_version(),
                ),
            )
            .multipart(form)
            .timeout(self.timeout.saturating_add(allowance))
            .build()
    }
}

/// The file at `path` in chunks of at most [`CHUNK`] bytes, opened when
/// first polled; each chunk counted by `meter`.
fn file_chunks(
    path: PathBuf,
    meter: Arc<Meter>,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + Sync + 'static {
    futures_util::stream::try_unfold(
        (None::<tokio::fs::File>, path, meter),
        |(file, path, meter)| async move {
            let mut file = match file {
                Some(file) => file,
                None => tokio::fs::File::open(&path).await?,
            };
            let mut chunk = BytesMut::with_capacity(CHUNK);
            let read = file.read_buf(&mut chunk).await?;
            if read == 0 {
                meter.whole.store(true, Ordering::Relaxed);
                return Ok(None);
            }
            meter.add(read);
            Ok(Some((chunk.freeze(), (Some(file), path, meter))))
        },
    )
}

/// The file name to send: `given`, else the last part of `path`.
fn file_name_of(path: &Path, given: Option<String>) -> Option<String> {
    given
        .or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned()))
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
}

impl<'a, P> Upload<'a, P>
where
    P: FnMut(Progress) + Send + 'a,
{
    async fn run(self) -> Result<Uploaded, ClientError> {
        let Upload {
            client,
            path,
            file_name,
            content_type,
            mut progress,
        } = self;
        let what = format!("the upload of {}", path.display());
        let invalid = |message: String| ClientError::InvalidRequest {
            what: what.clone(),
            message,
        };
        let file_name = file_name_of(&path, file_name)
            .ok_or_else(|| invalid("no file name: give one with .file_name(..)".into()))?;
        if let Some(extension) = blocked_extension(&file_name) {
            return Err(invalid(format!(
                "Tradecloud refuses files with the extension .{extension} (security/documents.md); \
                 send the document in another format or packed (.zip)"
            )));
        }
        let io = |action: &'static str| {
            let path = path.clone();
            move |source| ClientError::Io {
                action,
                path,
                source,
            }
        };
        // Fail early, with the file named, when it cannot be read.
        let metadata = tokio::fs::metadata(&path).await.map_err(io("read"))?;
        if !metadata.is_file() {
            return Err(io("upload")(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a file",
            )));
        }
        drop(tokio::fs::File::open(&path).await.map_err(io("read"))?);
        let content_type = content_type
            .filter(|t| !t.trim().is_empty())
            .or_else(|| {
                mime_guess::from_path(&file_name)
                    .first_raw()
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "application/octet-stream".to_owned());

        let inner = &client.inner;
        let operation = &object_storage::operations::UPLOAD_DOCUMENT;
        let meter = Arc::new(Meter::default());
        let form = Form {
            http: inner.upload_http.clone(),
            url: format!("{}{}", inner.base_url, operation.path),
            path: path.clone(),
            file_name: file_name.clone(),
            content_type: content_type.clone(),
            timeout: inner.timeout,
            meter: meter.clone(),
        };
        let first = form.request().map_err(|e| invalid(e.to_string()))?;
        let rebuild: Rebuild<'static> = Box::new(move || form.request());
        let watched = meter.clone();
        let unsent: Unsent<'static> = Box::new(move || !watched.whole.load(Ordering::Relaxed));
        let call = async move {
            let response = pipeline::exec_with(
                &inner.upload_http,
                &inner.base_url,
                &inner.context,
                Requests::Rebuilt(first, rebuild, unsent),
                operation.client_method,
                Some(operation),
                Resend::IfNotReceived,
            )
            .await
            .map_err(progenitor_client::Error::CommunicationError)?;
            decode::<UploadDocumentResponse>(response).await
        };
        let call = client.call(|| what.clone(), call);
        tokio::pin!(call);
        let total = Some(metadata.len());
        let mut reported = None;
        let result = loop {
            tokio::select! {
                result = &mut call => break result,
                () = meter.changed.notified() => {
                    let bytes = meter.sent();
                    if reported != Some(bytes) {
                        reported = Some(bytes);
                        progress(Progress { bytes, total });
                    }
                }
            }
        };
        // Sending the file again is safe (see ADVICE), so the caller may
        // retry: the error is transient.
        let answer =
            result.map_err(|error| not_resent(error, Resend::IfNotReceived, ADVICE, true))?;
        let bytes = meter.sent();
        if reported != Some(bytes) {
            progress(Progress { bytes, total });
        }
        let object_id = answer
            .id
            .clone()
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(|| ClientError::InvalidResponse {
                what: what.clone(),
                source: <serde_json::Error as serde::de::Error>::custom(
                    "the answer has no `id` (the document's objectId)",
                ),
            })?;
        Ok(Uploaded {
            object_id,
            file_name,
            content_type,
            bytes,
            answer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_come_from_the_path_unless_given() {
        assert_eq!(
            file_name_of(Path::new("out/PO1.pdf"), None).as_deref(),
            Some("PO1.pdf")
        );
        assert_eq!(
            file_name_of(Path::new("out/PO1.pdf"), Some(" Confirmation.pdf ".into())).as_deref(),
            Some("Confirmation.pdf")
        );
        assert_eq!(file_name_of(Path::new("/"), None), None);
        assert_eq!(file_name_of(Path::new("a"), Some("  ".into())), None);
    }

    #[tokio::test]
    async fn the_file_streams_in_chunks_and_is_counted() {
        use futures_util::TryStreamExt as _;
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("f.bin");
        let data: Vec<u8> = (0..(CHUNK * 2 + 10)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).expect("written");
        let meter = Arc::new(Meter::default());
        let chunks: Vec<Bytes> = file_chunks(path, meter.clone())
            .try_collect()
            .await
            .expect("read");
        assert!(chunks.iter().all(|c| c.len() <= CHUNK));
        assert_eq!(chunks.concat(), data);
        assert_eq!(meter.sent(), data.len() as u64);
        let missing = file_chunks(dir.path().join("missing"), meter)
            .try_collect::<Vec<Bytes>>()
            .await;
        assert!(missing.is_err());
    }
}
