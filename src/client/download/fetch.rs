//! One GET of a document's file into a temporary file beside its
//! destination, flushed to disk and renamed into place.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt as _;
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::StatusCode;
use tokio::io::{AsyncWriteExt as _, BufWriter};
use tokio::time::Instant;

use super::super::answer::describe;
use super::super::retry::{is_retryable_status, is_transient_error, retry_after};
use super::super::{Client, ClientError};
use super::{names, Downloaded, Progress};

/// Size of the write buffer between the network and the file.
const WRITE_BUFFER: usize = 256 * 1024;

/// Where to put the file.
#[derive(Debug)]
pub(super) enum Destination {
    /// Into this directory, under the document's own file name.
    Directory(PathBuf),
    /// Exactly this path.
    File(PathBuf),
}

impl Destination {
    pub(super) fn resolve(dest: &Path) -> Result<Self, ClientError> {
        let text = dest.as_os_str().to_string_lossy();
        let names_directory = text.ends_with('/') || text.ends_with(std::path::MAIN_SEPARATOR);
        if dest.is_dir() {
            return Ok(Destination::Directory(dest.to_path_buf()));
        }
        let missing = |path: &Path| ClientError::Io {
            action: "save into",
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such directory; create it first",
            ),
        };
        if names_directory || dest.as_os_str().is_empty() {
            return Err(missing(dest));
        }
        let parent = match dest.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        if !parent.is_dir() {
            return Err(missing(parent));
        }
        Ok(Destination::File(dest.to_path_buf()))
    }

    fn path_for(&self, file_name: &str) -> PathBuf {
        match self {
            Destination::Directory(dir) => dir.join(file_name),
            Destination::File(path) => path.clone(),
        }
    }
}

/// What is known about the file before the GET.
pub(super) struct FileHint {
    pub(super) file_name: Option<String>,
    pub(super) content_type: Option<String>,
    pub(super) fallback_name: String,
}

/// A presigned URL: when it was received and how long it lives.
#[derive(Debug, Clone, Copy)]
pub(super) struct Presigned {
    pub(super) issued: Instant,
    pub(super) lifetime: Option<Duration>,
}

/// Why one GET failed.
pub(super) enum FetchError {
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
    /// One GET of `url` into a temporary file, renamed into place on success.
    pub(super) async fn fetch_file<F>(
        &self,
        url: &str,
        what: &str,
        dest: &Destination,
        hint: &FileHint,
        presigned: Option<Presigned>,
        progress: &mut F,
    ) -> Result<Downloaded, FetchError>
    where
        F: FnMut(Progress) + Send,
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
            // A host that does not resolve, a refused certificate, a bad
            // URL: the same on every try.
            Err(error) => {
                return Err(FetchError::Fatal(ClientError::DownloadUnreachable {
                    what: what.to_owned(),
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
        let from_disposition = names::from_disposition(response.headers());
        // A presigned URL's path is a storage key, not a name.
        let from_url = (!presigned).then(|| names::from_url(url)).flatten();
        let file_name = names::choose(&[
            hint.file_name.as_deref(),
            from_disposition.as_deref(),
            from_url.as_deref(),
            Some(hint.fallback_name.as_str()),
        ]);
        let final_path = dest.path_for(&file_name);
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
        let temp = temp_file_builder()
            .tempfile_in(&directory)
            .map_err(|e| io_error("create a temporary file in", &directory, e))?;
        let (file, temp_path) = temp.into_parts();
        let mut writer = BufWriter::with_capacity(WRITE_BUFFER, tokio::fs::File::from_std(file));
        let mut stream = response.bytes_stream();
        let mut bytes = 0u64;
        progress(Progress { bytes, total });
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
            progress(Progress { bytes, total });
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
            file_name,
        })
    }
}

/// The temporary file: hidden, beside the destination, and (on Unix)
/// created with mode `0666` minus the process umask, like any file the
/// process writes, rather than `tempfile`'s private `0600`.
fn temp_file_builder() -> tempfile::Builder<'static, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".tradecloud-download-").suffix(".part");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder
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
pub(super) fn presigned_lifetime(url: &str) -> Option<Duration> {
    let parsed = url::Url::parse(url).ok()?;
    let seconds = parsed
        .query_pairs()
        .find(|(key, _)| key.eq_ignore_ascii_case("x-amz-expires"))
        .and_then(|(_, value)| value.parse::<u64>().ok())?;
    Some(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presigned_lifetime_is_read_from_the_url() {
        let s3 = "https://b.s3.amazonaws.com/k?X-Amz-Date=20250423T100100Z&X-Amz-Expires=60&X-Amz-Signature=x";
        assert_eq!(presigned_lifetime(s3), Some(Duration::from_secs(60)));
        assert_eq!(presigned_lifetime("http://h/d?Expires=1745402000"), None);
        assert_eq!(presigned_lifetime("not a url"), None);
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

    #[cfg(unix)]
    #[test]
    fn temporary_files_follow_the_umask() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        // What the umask makes of 0666, as for any file this process creates.
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"x").unwrap();
        let expected = std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777;
        let temp = temp_file_builder().tempfile_in(dir.path()).unwrap();
        let mode = temp.as_file().metadata().unwrap().permissions().mode() & 0o777;
        // With the usual umask 022 that is 0644, not tempfile's 0600.
        assert_eq!(mode, expected);
    }
}
