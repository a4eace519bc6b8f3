//! Document download (order/*/receive/download-document.md,
//! shipment/buyer/receive/download-document.md).
//!
//! A document has an `objectId` (GET its metadata for a presigned
//! `downloadUrl` that lives about a minute, then GET that URL), or its own
//! `url` (GET it), or neither (no file). The file streams to a temporary
//! file next to its destination, is flushed to disk and then renamed into
//! place: a reader never sees half a file under the final name, and a
//! failed or cancelled download leaves nothing behind.
//!
//! Failures are retried through the client's
//! [`RetryPolicy`](super::RetryPolicy), the same loop as API calls, when
//! retrying can help (see [`Documents::download`](super::Documents::download)
//! for which are). An expired presigned URL is not a failure but a renewal:
//! fresh metadata, a fresh URL, up to three times per attempt.
//!
//! The file-name policy: [`Download`](super::Download#file-names).

mod fetch;
mod names;

use std::future::{Future, IntoFuture};
use std::path::PathBuf;
use std::pin::Pin;

use tokio::time::Instant;

use super::answer::redact_url;
use super::retry::Attempt;
use super::{Client, ClientError};
use crate::api::common::types::{Document, ShipmentDocument};
use fetch::{presigned_lifetime, Destination, FetchError, FileHint, Presigned};
pub use names::safe_file_name;

/// Fresh presigned URLs fetched in one attempt before giving up.
const MAX_URL_RENEWALS: u32 = 3;

/// Where a document's file comes from.
///
/// ```
/// use tradecloud::api::common::types::Document;
/// use tradecloud::client::DocumentSource;
///
/// let document: Document = serde_json::from_str(r#"{"code": "1", "objectId": "67aa8ece"}"#).unwrap();
/// assert_eq!(DocumentSource::from(&document), DocumentSource::ObjectId("67aa8ece".into()));
/// assert_eq!(DocumentSource::parse("https://buyer.com/manual.pdf"), DocumentSource::Url("https://buyer.com/manual.pdf".into()));
/// let no_file: Document = serde_json::from_str(r#"{"code": "2"}"#).unwrap();
/// assert_eq!(DocumentSource::from(&no_file), DocumentSource::NoFile);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentSource {
    /// A file in Tradecloud's object storage, by `objectId`.
    ObjectId(String),
    /// A file on the buyer's or supplier's own content server.
    Url(String),
    /// The document has neither: no file is available.
    NoFile,
}

impl DocumentSource {
    /// `http://` or `https://` text is a URL, empty text is
    /// [`NoFile`](Self::NoFile), anything else an `objectId`.
    pub fn parse(text: &str) -> Self {
        let text = text.trim();
        if text.is_empty() {
            DocumentSource::NoFile
        } else if text.starts_with("http://") || text.starts_with("https://") {
            DocumentSource::Url(text.to_owned())
        } else {
            DocumentSource::ObjectId(text.to_owned())
        }
    }

    fn from_fields(object_id: Option<&String>, url: Option<&String>) -> Self {
        let present = |v: Option<&String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        match (present(object_id), present(url)) {
            (Some(id), _) => DocumentSource::ObjectId(id),
            (None, Some(url)) => DocumentSource::Url(url),
            (None, None) => DocumentSource::NoFile,
        }
    }
}

impl From<&Document> for DocumentSource {
    /// The `objectId` when present, else the `url`, else no file.
    fn from(document: &Document) -> Self {
        Self::from_fields(document.object_id.as_ref(), document.url.as_ref())
    }
}

impl From<&ShipmentDocument> for DocumentSource {
    /// The `objectId` when present, else the `url`, else no file.
    fn from(document: &ShipmentDocument) -> Self {
        Self::from_fields(document.object_id.as_ref(), document.url.as_ref())
    }
}

impl From<&str> for DocumentSource {
    /// See [`DocumentSource::parse`].
    fn from(text: &str) -> Self {
        Self::parse(text)
    }
}

impl From<String> for DocumentSource {
    /// See [`DocumentSource::parse`].
    fn from(text: String) -> Self {
        Self::parse(&text)
    }
}

/// Progress of a transfer: a download ([`Download::progress`]), reported
/// after every chunk written to disk, or an upload
/// ([`Upload::progress`](super::Upload::progress)), reported as chunks of
/// the file are taken by the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes transferred so far. Starts again at 0 when a transfer is
    /// retried.
    pub bytes: u64,
    /// The file size, when known (a download: when the server said it).
    pub total: Option<u64>,
}

/// A downloaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Downloaded {
    /// Where the file is now.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its media type, from the metadata or the server.
    pub content_type: Option<String>,
    /// Its file name (see [File names](Download#file-names)); the same
    /// name as [`Uploaded::file_name`](super::Uploaded::file_name) and
    /// [`Upload::file_name`](super::Upload::file_name), as in Rust's
    /// `Path::file_name` (the API's metadata calls it `filename`).
    pub file_name: String,
}

/// The result of a download.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum DownloadOutcome {
    /// The file was downloaded.
    Downloaded(Downloaded),
    /// The document has no file (neither `objectId` nor `url`).
    NoFile,
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A download to run: `.await` it, optionally after
/// [`progress`](Self::progress). Made by
/// [`Documents::download`](super::Documents::download).
///
/// ```no_run
/// use tradecloud::client::DownloadOutcome;
///
/// # async fn run(client: tradecloud::client::Client) -> Result<(), tradecloud::client::ClientError> {
/// // Without progress reports.
/// let outcome = client.documents().download("67aa8ece-5d41-496f-a94c-483e360b833b", "downloads/").await?;
/// // With them.
/// let outcome = client
///     .documents()
///     .download("67aa8ece-5d41-496f-a94c-483e360b833b", "downloads/")
///     .progress(|p| eprint!("\r{} of {:?} bytes", p.bytes, p.total))
///     .await?;
/// if let DownloadOutcome::Downloaded(file) = outcome {
///     println!("{} ({:?}, {} bytes)", file.path.display(), file.content_type, file.bytes);
/// }
/// # Ok(())
/// # }
/// ```
///
/// # File names
///
/// When the destination is a directory, the file is named after the first
/// of these that is usable:
///
/// 1. the `filename` of the document's metadata (documents with an
///    `objectId`);
/// 2. the server's `Content-Disposition` file name;
/// 3. the last path segment of a document's own `url` (never of a presigned
///    URL, whose path is a storage key);
/// 4. the `objectId`, else `document`.
///
/// Each is first reduced to a safe name by [`safe_file_name`]: no directory
/// parts, no hidden or reserved names, nothing a file system refuses, so a
/// file never lands outside the directory you gave. A file of the same name
/// is **replaced** (atomically): the same document downloaded again after a
/// redelivery replaces its earlier copy. Two *different* documents with the
/// same display name replace each other too, so give each its own
/// directory (per order, line or `objectId`) or pass a file path when that
/// matters. With a file path as destination, that exact path is used.
///
/// Files are created like any file the process writes: mode `0666` minus
/// the process umask (`0644` with the usual umask `022`).
#[must_use = "a download does nothing until it is awaited"]
pub struct Download<'a, P = fn(Progress)> {
    client: &'a Client,
    source: DocumentSource,
    dest: PathBuf,
    progress: P,
}

impl<P> std::fmt::Debug for Download<'_, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("source", &self.source)
            .field("dest", &self.dest)
            .finish_non_exhaustive()
    }
}

impl<'a> Download<'a> {
    pub(super) fn new(client: &'a Client, source: DocumentSource, dest: PathBuf) -> Self {
        fn ignore(_: Progress) {}
        Download {
            client,
            source,
            dest,
            progress: ignore,
        }
    }
}

impl<'a, P> Download<'a, P> {
    /// Calls `progress` after every chunk written (for a progress bar).
    pub fn progress<F>(self, progress: F) -> Download<'a, F>
    where
        F: FnMut(Progress) + Send + 'a,
    {
        Download {
            client: self.client,
            source: self.source,
            dest: self.dest,
            progress,
        }
    }
}

impl<'a, P> IntoFuture for Download<'a, P>
where
    P: FnMut(Progress) + Send + 'a,
{
    type Output = Result<DownloadOutcome, ClientError>;
    type IntoFuture = BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(
            self.client
                .download_to(self.source, self.dest, self.progress),
        )
    }
}

impl Client {
    /// What [`Documents::download`](super::Documents::download) runs (its
    /// documentation says what happens).
    async fn download_to<F>(
        &self,
        source: DocumentSource,
        dest: PathBuf,
        mut progress: F,
    ) -> Result<DownloadOutcome, ClientError>
    where
        F: FnMut(Progress) + Send,
    {
        let dest = Destination::resolve(&dest)?;
        let (what, target) = match &source {
            DocumentSource::NoFile => return Ok(DownloadOutcome::NoFile),
            DocumentSource::ObjectId(id) => (format!("document {id}"), Target::Object(id)),
            DocumentSource::Url(url) => (redact_url(url), Target::Url(url)),
        };
        let what = what.as_str();
        let dest = &dest;
        // Each attempt reports through this; it is shared by the attempts.
        let progress = std::sync::Mutex::new(&mut progress);
        let progress = &progress;
        let finished = self
            .inner
            .shared
            .retry
            .run(
                |_| async move {
                    let mut report = |p: Progress| {
                        let mut progress = progress.lock().unwrap_or_else(|e| e.into_inner());
                        (*progress)(p)
                    };
                    let result = match target {
                        Target::Object(object_id) => {
                            self.download_object(object_id, dest, &mut report).await
                        }
                        Target::Url(url) => {
                            let hint = FileHint {
                                file_name: None,
                                content_type: None,
                                fallback_name: names::from_url(url)
                                    .unwrap_or_else(|| "document".to_owned()),
                            };
                            self.fetch_file(url, what, dest, &hint, None, &mut report)
                                .await
                        }
                    };
                    match result {
                        Ok(downloaded) => Attempt::Done(downloaded),
                        Err(FetchError::Transient {
                            status,
                            delay,
                            reason,
                        }) => Attempt::Retry {
                            error: Failed::Transient { status, reason },
                            after: delay,
                        },
                        // Not renewable: a plain URL has no fresh version.
                        Err(FetchError::Expired(status)) => {
                            Attempt::Fail(Failed::Final(ClientError::DownloadFailed {
                                what: what.to_owned(),
                                status: status.map_or(403, |s| s.as_u16()),
                                attempts: 1,
                                message: None,
                            }))
                        }
                        Err(FetchError::Fatal(error)) => Attempt::Fail(Failed::Final(error)),
                    }
                },
                |retry| {
                    let Failed::Transient { reason, .. } = retry.error else {
                        return;
                    };
                    tracing::warn!(
                        document = %what,
                        retry = retry.retry,
                        delay_ms = retry.delay.as_millis() as u64,
                        "download failed ({reason}); retrying"
                    );
                },
            )
            .await;
        let attempts = finished.attempts;
        let result = match finished.result {
            Ok(downloaded) => Ok(DownloadOutcome::Downloaded(downloaded)),
            Err(Failed::Final(error)) => Err(with_attempts(error, attempts)),
            Err(Failed::Transient { status, reason }) => {
                Err(give_up(what.to_owned(), attempts, status, reason))
            }
        };
        if let Target::Object(_) = target {
            self.observe_transfer(what, &result);
        }
        result
    }

    /// Tells the client's observer ([`Client::observe_calls`]) how the
    /// transfer of a document's bytes from Tradecloud's object storage
    /// (the presigned `downloadUrl` of an `objectId`) ended, after its
    /// retries, as an API call's outcome is told: it is Tradecloud's
    /// service too. Only that transfer: a document's own `url` is a third
    /// party's server (never told), the metadata call was told by
    /// [`Client::call`] already, and a local error (the disk) or a
    /// `downloadUrl` missing says nothing of the storage. Nor is a URL
    /// that kept expiring ([`ClientError::DownloadUrlExpired`]): the
    /// storage answered, and its `403` is no refusal of the credentials.
    fn observe_transfer(&self, what: &str, result: &Result<DownloadOutcome, ClientError>) {
        match result {
            Ok(_) => self.observe(Ok(())),
            Err(
                error @ (ClientError::DownloadFailed { .. }
                | ClientError::DownloadInterrupted { .. }
                | ClientError::DownloadUnreachable { .. }),
            ) => self.observe(Err((&format!("the transfer of {what}"), error))),
            Err(_) => {}
        }
    }

    /// One attempt for an `objectId`: metadata, then the presigned URL;
    /// an expired URL is renewed with fresh metadata, up to
    /// [`MAX_URL_RENEWALS`] times.
    async fn download_object<F>(
        &self,
        object_id: &str,
        dest: &Destination,
        progress: &mut F,
    ) -> Result<Downloaded, FetchError>
    where
        F: FnMut(Progress) + Send,
    {
        let what = format!("document {object_id}");
        let mut renewals = 0;
        loop {
            let metadata = self
                .documents()
                .metadata(object_id)
                .await
                .map_err(FetchError::Fatal)?;
            let Some(url) = metadata.download_url.filter(|u| !u.trim().is_empty()) else {
                return Err(FetchError::Fatal(ClientError::NoDownloadUrl {
                    object_id: object_id.to_owned(),
                }));
            };
            let hint = FileHint {
                file_name: metadata.filename,
                content_type: metadata.content_type,
                fallback_name: object_id.to_owned(),
            };
            let presigned = Presigned {
                issued: Instant::now(),
                lifetime: presigned_lifetime(&url),
            };
            match self
                .fetch_file(&url, &what, dest, &hint, Some(presigned), progress)
                .await
            {
                Err(FetchError::Expired(status)) => {
                    renewals += 1;
                    tracing::debug!(
                        object_id,
                        status = status.map(|s| s.as_u16()),
                        renewals,
                        "download URL expired; renewing"
                    );
                    if renewals > MAX_URL_RENEWALS {
                        return Err(FetchError::Fatal(ClientError::DownloadUrlExpired {
                            object_id: object_id.to_owned(),
                            renewals: renewals - 1,
                            status: status.map(|s| s.as_u16()),
                        }));
                    }
                }
                other => return other,
            }
        }
    }
}

/// Why a download attempt failed.
enum Failed {
    /// Worth another attempt.
    Transient {
        status: Option<reqwest::StatusCode>,
        reason: String,
    },
    /// Final.
    Final(ClientError),
}

/// What one download attempt fetches.
#[derive(Clone, Copy)]
enum Target<'a> {
    Object(&'a str),
    Url(&'a str),
}

/// Fills in the number of attempts of an error made by one GET.
fn with_attempts(error: ClientError, total: u32) -> ClientError {
    match error {
        ClientError::DownloadFailed {
            what,
            status,
            message,
            ..
        } => ClientError::DownloadFailed {
            what,
            status,
            attempts: total,
            message,
        },
        ClientError::DownloadInterrupted { what, reason, .. } => ClientError::DownloadInterrupted {
            what,
            attempts: total,
            reason,
        },
        other => other,
    }
}

fn give_up(
    what: String,
    attempts: u32,
    status: Option<reqwest::StatusCode>,
    reason: String,
) -> ClientError {
    match status {
        Some(status) => ClientError::DownloadFailed {
            what,
            status: status.as_u16(),
            attempts,
            message: Some(reason),
        },
        None => ClientError::DownloadInterrupted {
            what,
            attempts,
            reason,
        },
    }
}
