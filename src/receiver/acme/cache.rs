//! `cache_dir`: the ACME account key and the certificates, so that a
//! restart reuses both instead of ordering again (CAs rate-limit orders).
//!
//! Files are named after what they belong to, so that pointing the
//! receiver at another CA or other domains never serves a stale one:
//! `account-HASH.json` per directory URL, `certificate-HASH.pem` (chain,
//! then key) per directory URL and set of domains. Every file is written
//! to a temporary file in the same directory with mode 0600, flushed to
//! disk and renamed over the old one: a crash leaves the old file or the
//! new one, never half of either.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use instant_acme::AccountCredentials;

use super::AcmeError;

/// The files of one `[server.acme]` configuration.
#[derive(Debug, Clone)]
pub(crate) struct Cache {
    dir: PathBuf,
    account: PathBuf,
    certificate: PathBuf,
}

/// The first 8 bytes of SHA-256, in hex.
fn short_hash(text: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    crate::hex::lower(&digest.as_ref()[..8])
}

impl Cache {
    pub(crate) fn new(dir: &Path, directory_url: &str, domains: &[String]) -> Self {
        let mut sorted = domains.to_vec();
        sorted.sort();
        sorted.dedup();
        Cache {
            dir: dir.to_path_buf(),
            account: dir.join(format!("account-{}.json", short_hash(directory_url))),
            certificate: dir.join(format!(
                "certificate-{}.pem",
                short_hash(&format!("{directory_url}\n{}", sorted.join("\n")))
            )),
        }
    }

    /// The certificate file (chain, then key).
    pub(crate) fn certificate_path(&self) -> &Path {
        &self.certificate
    }

    /// Create the directory (mode 0700) if needed.
    pub(crate) fn prepare(&self) -> Result<(), AcmeError> {
        let cache_error = |source| AcmeError::Cache {
            path: self.dir.clone(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(cache_error)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&self.dir)
                .map_err(cache_error)?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(cache_error)?;
            }
        }
        Ok(())
    }

    fn read(path: &Path) -> Result<Option<Vec<u8>>, AcmeError> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(AcmeError::Cache {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// The stored account, if any.
    pub(crate) fn load_account(&self) -> Result<Option<AccountCredentials>, AcmeError> {
        let Some(bytes) = Self::read(&self.account)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| AcmeError::Cache {
                path: self.account.clone(),
                source: io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "not an ACME account file ({e}); move it away to register a new account"
                    ),
                ),
            })
    }

    pub(crate) fn save_account(&self, credentials: &AccountCredentials) -> Result<(), AcmeError> {
        let json = serde_json::to_vec_pretty(credentials).map_err(|e| AcmeError::Cache {
            path: self.account.clone(),
            source: io::Error::other(e),
        })?;
        write_atomic(&self.account, &json)
    }

    /// The stored certificate chain and key (PEM), if any.
    pub(crate) fn load_certificate(&self) -> Result<Option<Vec<u8>>, AcmeError> {
        Self::read(&self.certificate)
    }

    pub(crate) fn save_certificate(&self, chain_pem: &str, key_pem: &str) -> Result<(), AcmeError> {
        let mut both = String::with_capacity(chain_pem.len() + key_pem.len() + 1);
        both.push_str(chain_pem.trim_end());
        both.push('\n');
        both.push_str(key_pem);
        write_atomic(&self.certificate, both.as_bytes())
    }
}

/// Write `bytes` to `path` atomically, mode 0600.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AcmeError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let error = |source| AcmeError::Cache {
        path: path.to_path_buf(),
        source,
    };
    // tempfile creates the file with mode 0600 on Unix.
    let mut file = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(error)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(error)?;
    }
    file.write_all(bytes).map_err(error)?;
    file.as_file().sync_all().map_err(error)?;
    file.persist(path).map_err(|e| error(e.error))?;
    // The rename itself is durable once the directory is flushed.
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_atomic_private_and_keyed() {
        let dir = tempfile::tempdir().unwrap();
        let cache_dir = dir.path().join("acme");
        let domains = vec!["b.example.com".to_string(), "a.example.com".to_string()];
        let cache = Cache::new(&cache_dir, "https://ca/dir", &domains);
        cache.prepare().unwrap();
        assert_eq!(cache.load_certificate().unwrap(), None);
        assert!(cache.load_account().unwrap().is_none());
        cache.save_certificate("CHAIN\n", "KEY\n").unwrap();
        assert_eq!(cache.load_certificate().unwrap().unwrap(), b"CHAIN\nKEY\n");
        cache.save_certificate("CHAIN2", "KEY2\n").unwrap();
        assert_eq!(
            cache.load_certificate().unwrap().unwrap(),
            b"CHAIN2\nKEY2\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(cache.certificate_path()), 0o600);
            assert_eq!(mode(&cache_dir), 0o700);
        }
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(&cache_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        // The same domains in another order share the file; others do not.
        let reordered = vec!["a.example.com".to_string(), "b.example.com".to_string()];
        assert_eq!(
            Cache::new(&cache_dir, "https://ca/dir", &reordered).certificate,
            cache.certificate
        );
        assert_ne!(
            Cache::new(&cache_dir, "https://other/dir", &reordered).certificate,
            cache.certificate
        );
        assert_ne!(
            Cache::new(&cache_dir, "https://ca/dir", &reordered[..1]).certificate,
            cache.certificate
        );
        // A corrupt account file is an error that says what to do.
        std::fs::write(&cache.account, "{").unwrap();
        let Err(e) = cache.load_account() else {
            panic!("a corrupt account file loads")
        };
        let e = e.to_string();
        assert!(e.contains("move it away"), "{e}");
    }

    /// A new version must find the files an older one wrote: the names are
    /// the first 8 bytes of SHA-256, in lower-case hex.
    #[test]
    fn file_names_stay_the_same() {
        let domains = vec!["b.example.com".to_string(), "a.example.com".to_string()];
        let cache = Cache::new(Path::new("acme"), "https://ca/dir", &domains);
        assert_eq!(
            cache.account,
            Path::new("acme/account-44b8184131550db9.json")
        );
        assert_eq!(
            cache.certificate,
            Path::new("acme/certificate-0affd245fb3e88a7.pem")
        );
    }
}
