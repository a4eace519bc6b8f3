//! Document download (order/*/receive/download-document.md,
//! shipment/buyer/receive/download-document.md).
//!
//! A document has an `objectId` (GET its metadata for a presigned
//! `downloadUrl` that lives about a minute, then GET that URL), or its own
//! `url` (GET it), or neither (no file). The file streams to a temporary
//! file next to its destination, is flushed to disk and then renamed into
//! place: a reader never sees half a file under the final name, and a
//! failed or cancelled download leaves nothing behind.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::Instant;

use futures_util::StreamExt as _;
use reqwest::header::{HeaderMap, CONTENT_DISPOSITION, CONTENT_TYPE};
use reqwest::StatusCode;
use tokio::io::{AsyncWriteExt as _, BufWriter};

use super::retry::{is_retryable_status, is_transient_error, retry_after};
use super::{Client, ClientError};
use crate::api::common::types::{Document, ShipmentDocument};

/// Fresh presigned URLs fetched for one download before giving up.
const MAX_URL_RENEWALS: u32 = 3;
/// Size of the write buffer between the network and the file.
const WRITE_BUFFER: usize = 256 * 1024;

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

/// Progress of a download, reported after every chunk written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadProgress {
    /// Bytes written so far. Starts again at 0 when a broken-off download
    /// is retried.
    pub bytes: u64,
    /// The file size, when the server said it.
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
    /// Its file name (sanitised: no directories, no `..`).
    pub filename: String,
}

/// The result of [`Client::download`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum DownloadOutcome {
    /// The file was downloaded.
    Downloaded(Downloaded),
    /// The document has no file (neither `objectId` nor `url`).
    NoFile,
}

/// Where to put the file.
#[derive(Debug)]
enum Destination {
    /// Into this directory, under the document's own file name.
    Directory(PathBuf),
    /// Exactly this path.
    File(PathBuf),
}

impl Destination {
    fn resolve(dest: &Path) -> Result<Self, ClientError> {
        let text = dest.as_os_str().to_string_lossy();
        let names_directory = text.ends_with('/') || text.ends_with(std::path::MAIN_SEPARATOR);
        if dest.is_dir() {
            return Ok(Destination::Directory(dest.to_path_buf()));
        }
        if names_directory || dest.as_os_str().is_empty() {
            return Err(ClientError::Io {
                action: "save into",
                path: dest.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such directory; create it first",
                ),
            });
        }
        let parent = match dest.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        if !parent.is_dir() {
            return Err(ClientError::Io {
                action: "save into",
                path: parent.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such directory; create it first",
                ),
            });
        }
        Ok(Destination::File(dest.to_path_buf()))
    }

    fn path_for(&self, filename: &str) -> PathBuf {
        match self {
            Destination::Directory(dir) => dir.join(filename),
            Destination::File(path) => path.clone(),
        }
    }
}

/// What is known about the file before the GET.
struct FileHint {
    filename: Option<String>,
    content_type: Option<String>,
    fallback_name: String,
}

/// A presigned URL: when it was received and how long it lives.
#[derive(Debug, Clone, Copy)]
struct Presigned {
    issued: Instant,
    lifetime: Option<Duration>,
}

/// Why one GET failed.
enum FetchError {
    /// The presigned URL has expired: the storage answered 400/401/403, or
    /// (`None`) its lifetime had passed before the GET.
    Expired(Option<StatusCode>),
    /// Worth another try: `5xx`, `429`, a broken connection or short body.
    Transient {
        status: Option<StatusCode>,
        delay: Option<Duration>,
        reason: String,
    },
    /// Final.
    Fatal(ClientError),
}

impl Client {
    /// Downloads a document's file into `dest`: a directory (the file keeps
    /// its own name) or a file path.
    ///
    /// * `objectId`: fetches the metadata for a presigned `downloadUrl` and
    ///   GETs it without an `Authorization` header; when the URL has expired
    ///   (its `X-Amz-Expires` lifetime passed before the GET, or the storage
    ///   answers 400/401/403) it fetches fresh metadata and tries again, up
    ///   to three times.
    /// * `url`: GETs the URL.
    /// * neither: returns [`DownloadOutcome::NoFile`].
    ///
    /// The file streams through a small buffer into a temporary file in the
    /// destination directory (constant memory, whatever the size), is
    /// flushed and `fsync`ed and then renamed into place, replacing an
    /// existing file of that name. On error or cancellation the temporary
    /// file is removed and nothing appears under the final name. Broken-off
    /// transfers and `5xx`/`429` answers are retried per the client's
    /// [`RetryPolicy`](super::RetryPolicy). `progress` is called after every
    /// chunk.
    ///
    /// ```no_run
    /// use tradecloud::client::{DocumentSource, DownloadOutcome};
    ///
    /// # async fn run(client: tradecloud::client::Client) -> Result<(), tradecloud::client::ClientError> {
    /// let outcome = client
    ///     .download(DocumentSource::parse("67aa8ece-5d41-496f-a94c-483e360b833b"), "downloads/", |p| {
    ///         eprint!("\r{} of {:?} bytes", p.bytes, p.total);
    ///     })
    ///     .await?;
    /// if let DownloadOutcome::Downloaded(file) = outcome {
    ///     println!("{} ({:?}, {} bytes)", file.path.display(), file.content_type, file.bytes);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn download<F>(
        &self,
        source: impl Into<DocumentSource>,
        dest: impl AsRef<Path>,
        mut progress: F,
    ) -> Result<DownloadOutcome, ClientError>
    where
        F: FnMut(DownloadProgress) + Send,
    {
        let source = source.into();
        let dest = Destination::resolve(dest.as_ref())?;
        let downloaded = match source {
            DocumentSource::NoFile => return Ok(DownloadOutcome::NoFile),
            DocumentSource::ObjectId(object_id) => {
                self.download_object(&object_id, &dest, &mut progress)
                    .await?
            }
            DocumentSource::Url(url) => self.download_url(&url, &dest, &mut progress).await?,
        };
        Ok(DownloadOutcome::Downloaded(downloaded))
    }

    async fn download_object<F>(
        &self,
        object_id: &str,
        dest: &Destination,
        progress: &mut F,
    ) -> Result<Downloaded, ClientError>
    where
        F: FnMut(DownloadProgress) + Send,
    {
        let what = format!("document {object_id}");
        let policy = self.inner.shared.retry;
        let mut renewals = 0u32;
        let mut retries = 0u32;
        let mut attempts = 0u32;
        loop {
            let metadata = self.document_metadata(object_id).await?;
            let Some(url) = metadata.download_url.filter(|u| !u.trim().is_empty()) else {
                return Err(ClientError::NoDownloadUrl {
                    object_id: object_id.to_owned(),
                });
            };
            let hint = FileHint {
                filename: metadata.filename,
                content_type: metadata.content_type,
                fallback_name: object_id.to_owned(),
            };
            attempts += 1;
            let presigned = Presigned {
                issued: Instant::now(),
                lifetime: presigned_lifetime(&url),
            };
            match self
                .fetch(&url, &what, dest, &hint, Some(presigned), progress)
                .await
            {
                Ok(downloaded) => return Ok(downloaded),
                Err(FetchError::Expired(status)) => {
                    renewals += 1;
                    tracing::debug!(
                        object_id,
                        status = status.map(|s| s.as_u16()),
                        renewals,
                        "download URL expired; renewing"
                    );
                    if renewals > MAX_URL_RENEWALS {
                        return Err(ClientError::DownloadUrlExpired {
                            object_id: object_id.to_owned(),
                            renewals: renewals - 1,
                            status: status.map(|s| s.as_u16()),
                        });
                    }
                }
                Err(FetchError::Transient {
                    status,
                    delay,
                    reason,
                }) => {
                    if retries >= policy.get_max_retries() {
                        return Err(give_up(what, attempts, status, reason));
                    }
                    let delay = delay.unwrap_or_else(|| policy.backoff(retries));
                    retries += 1;
                    tracing::warn!(
                        object_id,
                        retry = retries,
                        delay_ms = delay.as_millis() as u64,
                        "download failed ({reason}); retrying with a fresh URL"
                    );
                    tokio::time::sleep(delay).await;
                }
                Err(FetchError::Fatal(error)) => return Err(error),
            }
        }
    }

    async fn download_url<F>(
        &self,
        url: &str,
        dest: &Destination,
        progress: &mut F,
    ) -> Result<Downloaded, ClientError>
    where
        F: FnMut(DownloadProgress) + Send,
    {
        let what = redact_url(url);
        let policy = self.inner.shared.retry;
        let hint = FileHint {
            filename: None,
            content_type: None,
            fallback_name: filename_from_url(url).unwrap_or_else(|| "document".to_owned()),
        };
        let mut retries = 0u32;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            match self.fetch(url, &what, dest, &hint, None, progress).await {
                Ok(downloaded) => return Ok(downloaded),
                Err(FetchError::Expired(status)) => {
                    // Not renewable: a plain URL has no fresh version.
                    return Err(ClientError::DownloadFailed {
                        what,
                        status: status.map_or(403, |s| s.as_u16()),
                        attempts,
                        message: None,
                    });
                }
                Err(FetchError::Transient {
                    status,
                    delay,
                    reason,
                }) => {
                    if retries >= policy.get_max_retries() {
                        return Err(give_up(what, attempts, status, reason));
                    }
                    let delay = delay.unwrap_or_else(|| policy.backoff(retries));
                    retries += 1;
                    tracing::warn!(url = %what, retry = retries, delay_ms = delay.as_millis() as u64, "download failed ({reason}); retrying");
                    tokio::time::sleep(delay).await;
                }
                Err(FetchError::Fatal(error)) => return Err(error),
            }
        }
    }

    /// One GET of `url` into a temporary file, renamed into place on success.
    async fn fetch<F>(
        &self,
        url: &str,
        what: &str,
        dest: &Destination,
        hint: &FileHint,
        presigned: Option<Presigned>,
        progress: &mut F,
    ) -> Result<Downloaded, FetchError>
    where
        F: FnMut(DownloadProgress) + Send,
    {
        if let Some(limiter) = &self.inner.shared.limiter {
            limiter.acquire().await;
        }
        // Expired before the GET (e.g. after waiting for the rate limit)?
        // Measured on the local monotonic clock from when the URL arrived,
        // so a wrong wall clock cannot make every URL look expired.
        if let Some(Presigned {
            issued,
            lifetime: Some(lifetime),
        }) = presigned
        {
            if issued.elapsed() >= lifetime {
                return Err(FetchError::Expired(None));
            }
        }
        let presigned = presigned.is_some();
        // No Authorization header: a presigned URL carries its own
        // signature, and a content server is not Tradecloud.
        let response = match self.inner.download_http.get(url).send().await {
            Ok(response) => response,
            Err(error) if is_transient_error(&error) => {
                return Err(FetchError::Transient {
                    status: None,
                    delay: None,
                    reason: describe(&error),
                })
            }
            Err(error) => {
                return Err(FetchError::Fatal(ClientError::DownloadInterrupted {
                    what: what.to_owned(),
                    attempts: 1,
                    reason: describe(&error),
                }))
            }
        };
        let status = response.status();
        if !status.is_success() {
            let delay = retry_after(response.headers());
            let message = error_text(response).await;
            return Err(match status {
                StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
                    if presigned =>
                {
                    FetchError::Expired(Some(status))
                }
                _ if is_retryable_status(status) => FetchError::Transient {
                    status: Some(status),
                    delay,
                    reason: format!("the server answered {status}"),
                },
                _ => FetchError::Fatal(ClientError::DownloadFailed {
                    what: what.to_owned(),
                    status: status.as_u16(),
                    attempts: 1,
                    message,
                }),
            });
        }

        let content_type = hint
            .content_type
            .clone()
            .or_else(|| header_text(response.headers(), CONTENT_TYPE));
        let filename = hint
            .filename
            .as_deref()
            .and_then(sanitize_filename)
            .or_else(|| {
                filename_from_disposition(response.headers())
                    .as_deref()
                    .and_then(sanitize_filename)
            })
            .or_else(|| {
                (!presigned)
                    .then(|| filename_from_url(url))
                    .flatten()
                    .as_deref()
                    .and_then(sanitize_filename)
            })
            .or_else(|| sanitize_filename(&hint.fallback_name))
            .unwrap_or_else(|| "document".to_owned());
        let final_path = dest.path_for(&filename);
        let directory = match final_path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let total = response.content_length();

        let io_error = |action: &'static str, path: &Path, source: std::io::Error| {
            FetchError::Fatal(ClientError::Io {
                action,
                path: path.to_path_buf(),
                source,
            })
        };
        // Dropping `temp_path` (on error or cancellation) removes the file.
        let temp = tempfile::Builder::new()
            .prefix(".tradecloud-download-")
            .suffix(".part")
            .tempfile_in(&directory)
            .map_err(|e| io_error("create a temporary file in", &directory, e))?;
        let (file, temp_path) = temp.into_parts();
        let mut writer = BufWriter::with_capacity(WRITE_BUFFER, tokio::fs::File::from_std(file));
        let mut stream = response.bytes_stream();
        let mut bytes = 0u64;
        progress(DownloadProgress { bytes, total });
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|error| FetchError::Transient {
                status: None,
                delay: None,
                reason: format!(
                    "the transfer broke off after {bytes} bytes: {}",
                    describe(&error)
                ),
            })?;
            writer
                .write_all(&chunk)
                .await
                .map_err(|e| io_error("write", &temp_path, e))?;
            bytes += chunk.len() as u64;
            progress(DownloadProgress { bytes, total });
        }
        if let Some(total) = total {
            if bytes != total {
                return Err(FetchError::Transient {
                    status: None,
                    delay: None,
                    reason: format!("the transfer ended after {bytes} of {total} bytes"),
                });
            }
        }
        writer
            .flush()
            .await
            .map_err(|e| io_error("write", &temp_path, e))?;
        let file = writer.into_inner();
        file.sync_all()
            .await
            .map_err(|e| io_error("flush to disk", &temp_path, e))?;
        drop(file);
        temp_path
            .persist(&final_path)
            .map_err(|e| io_error("move the download into place as", &final_path, e.error))?;
        sync_directory(&directory).await;
        tracing::debug!(path = %final_path.display(), bytes, "download complete");
        Ok(Downloaded {
            path: final_path,
            bytes,
            content_type,
            filename,
        })
    }
}

fn give_up(what: String, attempts: u32, status: Option<StatusCode>, reason: String) -> ClientError {
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

/// Makes the rename durable (Unix); best effort elsewhere.
async fn sync_directory(directory: &Path) {
    #[cfg(unix)]
    {
        let directory = directory.to_path_buf();
        let result =
            tokio::task::spawn_blocking(move || std::fs::File::open(&directory)?.sync_all()).await;
        if let Ok(Err(error)) = result {
            tracing::warn!(%error, "could not flush the directory entry of the download to disk");
        }
    }
    #[cfg(not(unix))]
    let _ = directory;
}

/// A reqwest error without the URL (a presigned URL holds a signature).
fn describe(error: &reqwest::Error) -> String {
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
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.set_query(None);
            parsed.set_fragment(None);
            parsed.to_string()
        }
        Err(_) => url.split(['?', '#']).next().unwrap_or_default().to_owned(),
    }
}

async fn error_text(response: reqwest::Response) -> Option<String> {
    let body = response.bytes().await.ok()?;
    let text = String::from_utf8_lossy(&body[..body.len().min(2048)])
        .trim()
        .to_owned();
    (!text.is_empty()).then_some(text)
}

fn header_text(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)?
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The lifetime an S3 presigned URL states (`X-Amz-Expires`, seconds).
pub(crate) fn presigned_lifetime(url: &str) -> Option<Duration> {
    let parsed = url::Url::parse(url).ok()?;
    let seconds = parsed
        .query_pairs()
        .find(|(key, _)| key.eq_ignore_ascii_case("x-amz-expires"))
        .and_then(|(_, value)| value.parse::<u64>().ok())?;
    Some(Duration::from_secs(seconds))
}

/// A file name that is safe to join to a directory: the last path
/// component, without control characters, characters Windows forbids,
/// leading dots or trailing dots and spaces, at most 200 bytes.
pub(crate) fn sanitize_filename(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = last
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned
        .trim()
        .trim_start_matches('.')
        .trim_end_matches(['.', ' '])
        .trim();
    if trimmed.is_empty() {
        return None;
    }
    let mut result = trimmed.to_owned();
    let stem = result
        .split('.')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    const RESERVED: [&str; 22] = [
        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
        "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    ];
    if RESERVED.contains(&stem.as_str()) {
        result.insert(0, '_');
    }
    if result.len() > 200 {
        let extension = match result.rfind('.') {
            Some(dot) if result.len() - dot <= 16 => result[dot..].to_owned(),
            _ => String::new(),
        };
        let mut cut = 200 - extension.len();
        while !result.is_char_boundary(cut) {
            cut -= 1;
        }
        result.truncate(cut);
        result.push_str(&extension);
    }
    Some(result)
}

/// The file name of a `Content-Disposition` header (`filename*=UTF-8''...`
/// wins over `filename="..."`).
fn filename_from_disposition(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_DISPOSITION)?.to_str().ok()?;
    let mut plain = None;
    for part in value.split(';').map(str::trim) {
        let Some((key, raw)) = part.split_once('=') else {
            continue;
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "filename*" => {
                let encoded = raw.trim().splitn(3, '\'').nth(2)?;
                return Some(percent_decode(encoded));
            }
            "filename" => plain = Some(raw.trim().trim_matches('"').to_owned()),
            _ => {}
        }
    }
    plain
}

fn filename_from_url(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let segment = parsed.path_segments()?.rev().find(|s| !s.is_empty())?;
    Some(percent_decode(segment))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(byte) = hex {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn filenames_cannot_escape_the_directory() {
        assert_eq!(sanitize_filename("test.pdf").as_deref(), Some("test.pdf"));
        assert_eq!(
            sanitize_filename("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            sanitize_filename("..\\..\\boot.ini").as_deref(),
            Some("boot.ini")
        );
        assert_eq!(sanitize_filename("..").as_deref(), None);
        assert_eq!(sanitize_filename("/").as_deref(), None);
        assert_eq!(sanitize_filename(".hidden").as_deref(), Some("hidden"));
        assert_eq!(
            sanitize_filename("a\u{0}b:c?.pdf").as_deref(),
            Some("a_b_c_.pdf")
        );
        assert_eq!(sanitize_filename("CON.txt").as_deref(), Some("_CON.txt"));
        assert_eq!(sanitize_filename("report. ").as_deref(), Some("report"));
        let long = format!("{}.pdf", "é".repeat(300));
        let short = sanitize_filename(&long).unwrap();
        assert!(short.len() <= 200 && short.ends_with(".pdf"));
    }

    #[test]
    fn presigned_lifetime_is_read_from_the_url() {
        let s3 = "https://b.s3.amazonaws.com/k?X-Amz-Date=20250423T100100Z&X-Amz-Expires=60&X-Amz-Signature=x";
        assert_eq!(presigned_lifetime(s3), Some(Duration::from_secs(60)));
        assert_eq!(presigned_lifetime("http://h/d?Expires=1745402000"), None);
        assert_eq!(presigned_lifetime("not a url"), None);
    }

    #[test]
    fn names_from_headers_and_urls() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"a b.pdf\""),
        );
        assert_eq!(
            filename_from_disposition(&headers).as_deref(),
            Some("a b.pdf")
        );
        headers.insert(
            CONTENT_DISPOSITION,
            HeaderValue::from_static(
                "attachment; filename=\"x.pdf\"; filename*=UTF-8''%E2%82%AC%20rates.pdf",
            ),
        );
        assert_eq!(
            filename_from_disposition(&headers).as_deref(),
            Some("€ rates.pdf")
        );
        assert_eq!(
            filename_from_url("http://buyer.com/content/manual%201.pdf?x=1").as_deref(),
            Some("manual 1.pdf")
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(
            redact_url("https://s3/k?X-Amz-Signature=secret"),
            "https://s3/k"
        );
    }

    #[test]
    fn destinations() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Destination::resolve(dir.path()).unwrap(),
            Destination::Directory(_)
        ));
        let file = dir.path().join("x.pdf");
        assert!(matches!(
            Destination::resolve(&file).unwrap(),
            Destination::File(_)
        ));
        assert!(Destination::resolve(&dir.path().join("missing/x.pdf")).is_err());
        assert!(Destination::resolve(Path::new("missing-dir/")).is_err());
    }
}
