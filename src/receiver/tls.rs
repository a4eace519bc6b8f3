//! HTTPS for the receiver: a rustls server configuration with TLS 1.2 and
//! 1.3 only and AEAD cipher suites with forward secrecy only, a certificate
//! resolver that picks up renewed certificate files without a restart, and
//! a self-signed development certificate.
//!
//! The crypto provider is aws-lc-rs, the one `reqwest` already builds for
//! the client, so the receiver adds no second crypto library.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::{aws_lc_rs, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{CipherSuite, ServerConfig};
use tokio_rustls::rustls;

/// Why a certificate could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A file holds no usable PEM certificate or key.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file of the configuration (`server.tls_cert`, `server.tls_key`)
    /// is missing, unreadable or unusable.
    #[error("{key} = {path:?}: {message}")]
    File {
        /// The configuration key (`server.tls_cert`).
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong, and what to do.
        message: String,
    },
    /// rustls refused the key or the configuration.
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
    /// The development certificate could not be generated.
    #[error("cannot generate a development certificate: {0}")]
    Generate(String),
}

/// The cipher suites offered: TLS 1.3 AEAD suites, and for TLS 1.2 only
/// ECDHE key exchange with AES-GCM or ChaCha20-Poly1305. (rustls implements
/// no CBC, RC4, 3DES, static-RSA or export suite in the first place.)
pub const CIPHER_SUITES: &[CipherSuite] = &[
    CipherSuite::TLS13_AES_256_GCM_SHA384,
    CipherSuite::TLS13_AES_128_GCM_SHA256,
    CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
];

/// The aws-lc-rs provider restricted to [`CIPHER_SUITES`].
pub fn provider() -> CryptoProvider {
    let mut provider = aws_lc_rs::default_provider();
    provider
        .cipher_suites
        .retain(|s| CIPHER_SUITES.contains(&s.suite()));
    provider
}

/// The protocol versions offered: TLS 1.3 and TLS 1.2, nothing older.
pub fn protocol_versions() -> &'static [&'static rustls::SupportedProtocolVersion] {
    static VERSIONS: [&rustls::SupportedProtocolVersion; 2] =
        [&rustls::version::TLS13, &rustls::version::TLS12];
    &VERSIONS
}

/// A rustls server configuration with [`provider`], [`protocol_versions`],
/// ALPN `h2` and `http/1.1`, and certificates from `resolver`.
pub fn server_config(resolver: Arc<dyn ResolvesServerCert>) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(protocol_versions())?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    // Pick the suite by our order ([`CIPHER_SUITES`], strongest first), not the
    // client's: every suite offered is strong, but a server order is what
    // audits (testssl.sh "Has server cipher order?") expect.
    config.ignore_client_order = true;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Load a certificate chain and its private key from PEM.
pub fn certified_key_from_pem(
    chain_pem: &[u8],
    key_pem: &[u8],
    origin: &Path,
) -> Result<CertifiedKey, TlsError> {
    let pem_error = |message: String| TlsError::Pem {
        path: origin.to_path_buf(),
        message,
    };
    let chain = parse_chain(chain_pem).map_err(pem_error)?;
    if is_encrypted_key(key_pem) {
        return Err(pem_error(encrypted_key_message(origin)));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| pem_error(format!("no usable private key: {e}")))?;
    let signing_key = provider().key_provider.load_private_key(key)?;
    if let Some(position) = key_position(&chain, &signing_key) {
        return Err(pem_error(leaf_not_first_message(position, chain.len())));
    }
    let certified = CertifiedKey::new(chain, signing_key);
    certified.keys_match()?;
    Ok(certified)
}

/// Whether a PEM key holds an encrypted private key: PKCS#8
/// (`ENCRYPTED PRIVATE KEY`, `openssl pkey -aes256`) or a traditional
/// OpenSSL key with a `Proc-Type: 4,ENCRYPTED` header (`openssl genrsa
/// -aes256 -traditional`). The PEM parser skips the first and fails on
/// the second with nothing that says why.
fn is_encrypted_key(pem: &[u8]) -> bool {
    let contains = |needle: &[u8]| pem.windows(needle.len()).any(|w| w == needle);
    contains(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") || contains(b"Proc-Type: 4,ENCRYPTED")
}

/// What to say about an encrypted key at `path`: the receiver runs
/// unattended and cannot ask for a pass phrase.
fn encrypted_key_message(path: &Path) -> String {
    let path = path.display();
    format!(
        "the private key is encrypted (protected by a pass phrase), and the receiver cannot ask for one; \
         decrypt it once with `openssl pkey -in {path} -out {path}.plain` (it asks for the pass phrase), \
         make the result readable by the receiver's user only (chmod 600) and configure that file"
    )
}

/// The position (1-based, above 1) of the certificate of a chain that
/// `key` belongs to, when it is not the first: the chain is in the wrong
/// order (`cat intermediate.pem leaf.pem`). `None` when the key belongs to
/// the first certificate, or to none.
fn key_position(
    chain: &[CertificateDer<'static>],
    key: &Arc<dyn rustls::sign::SigningKey>,
) -> Option<usize> {
    let belongs = |cert: &CertificateDer<'static>| {
        CertifiedKey::new(vec![cert.clone()], key.clone())
            .keys_match()
            .is_ok()
    };
    if chain.first().is_none_or(belongs) {
        return None;
    }
    chain
        .iter()
        .enumerate()
        .skip(1)
        .find(|&(_, cert)| belongs(cert))
        .map(|(i, _)| i + 1)
}

/// What to say about a chain whose `position`th of `count` certificates is
/// the key's.
fn leaf_not_first_message(position: usize, count: usize) -> String {
    format!(
        "the certificates are in the wrong order: the private key belongs to certificate {position} of the {count} in this file, \
         but the server's own (leaf) certificate must come first, then its intermediates; \
         write them in that order (e.g. `cat leaf.pem intermediate.pem > fullchain.pem`, or use the CA's fullchain.pem)"
    )
}

/// The certificates of a PEM chain (at least one).
fn parse_chain(chain_pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("invalid certificate PEM: {e}"))?;
    if chain.is_empty() {
        return Err("no CERTIFICATE block found".into());
    }
    Ok(chain)
}

/// A certificate resolver that serves one certificate and can swap it
/// while the server runs.
#[derive(Debug)]
pub struct CertResolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertResolver {
    /// A resolver serving `key`.
    pub fn new(key: CertifiedKey) -> Arc<Self> {
        Arc::new(CertResolver {
            current: RwLock::new(Arc::new(key)),
        })
    }

    /// Serve `key` from now on (existing connections keep theirs).
    pub fn set(&self, key: CertifiedKey) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
    }

    /// The certificate served now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// Certificate and key files, reloaded when they change.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// PEM chain.
    pub cert: PathBuf,
    /// PEM key.
    pub key: PathBuf,
}

impl CertFiles {
    /// Read and check both files. An error names the file and its key
    /// (`server.tls_cert`, `server.tls_key`), and for a key that does not
    /// belong to the certificate, both.
    pub fn load(&self) -> Result<CertifiedKey, TlsError> {
        let file = |key: &'static str, path: &Path, message: String| TlsError::File {
            key,
            path: path.to_path_buf(),
            message,
        };
        let read = |key: &'static str, path: &Path| {
            std::fs::read(path).map_err(|e| {
                let hint = match e.kind() {
                    io::ErrorKind::NotFound => "; check the path (relative paths start from the working directory), or use [server.acme] for a certificate from Let's Encrypt",
                    io::ErrorKind::PermissionDenied => "; let the receiver's user read it",
                    _ => "",
                };
                file(key, path, format!("cannot read it: {e}{hint}"))
            })
        };
        let chain_pem = read("server.tls_cert", &self.cert)?;
        let key_pem = read("server.tls_key", &self.key)?;
        let chain = parse_chain(&chain_pem)
            .map_err(|message| file("server.tls_cert", &self.cert, message))?;
        if is_encrypted_key(&key_pem) {
            return Err(file(
                "server.tls_key",
                &self.key,
                encrypted_key_message(&self.key),
            ));
        }
        let private_key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
            file(
                "server.tls_key",
                &self.key,
                format!("no usable private key (PKCS#8, PKCS#1 or SEC1 PEM): {e}"),
            )
        })?;
        let signing_key = provider()
            .key_provider
            .load_private_key(private_key)
            .map_err(|e| {
                file(
                    "server.tls_key",
                    &self.key,
                    format!("the private key cannot be used: {e}"),
                )
            })?;
        if let Some(position) = key_position(&chain, &signing_key) {
            return Err(file(
                "server.tls_cert",
                &self.cert,
                format!(
                    "{} (the key is server.tls_key = {:?})",
                    leaf_not_first_message(position, chain.len()),
                    self.key.display().to_string()
                ),
            ));
        }
        let certified = CertifiedKey::new(chain, signing_key);
        certified.keys_match().map_err(|e| {
            file(
                "server.tls_key",
                &self.key,
                format!(
                    "this private key does not belong to the certificate in server.tls_cert = {:?} ({e}); \
                     configure the key that was issued with that certificate",
                    self.cert.display().to_string()
                ),
            )
        })?;
        Ok(certified)
    }

    fn stamp(&self) -> Option<(SystemTime, u64, SystemTime, u64)> {
        let c = std::fs::metadata(&self.cert).ok()?;
        let k = std::fs::metadata(&self.key).ok()?;
        Some((c.modified().ok()?, c.len(), k.modified().ok()?, k.len()))
    }

    /// Poll the files every `every` and install a changed certificate in
    /// `resolver`. A change that does not load (half-written files, a key
    /// that does not match) is logged and retried at the next poll; the old
    /// certificate stays in service meanwhile. Ends when `resolver` is dropped
    /// everywhere else.
    pub fn watch(
        self,
        resolver: &Arc<CertResolver>,
        every: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(resolver);
        let mut last = self.stamp();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every.max(Duration::from_millis(100)));
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval.tick().await;
            loop {
                interval.tick().await;
                let Some(resolver) = weak.upgrade() else {
                    return;
                };
                let files = self.clone();
                let Ok(stamp) = tokio::task::spawn_blocking(move || files.stamp()).await else {
                    continue;
                };
                if stamp.is_none() || stamp == last {
                    continue;
                }
                let files = self.clone();
                match tokio::task::spawn_blocking(move || files.load()).await {
                    Ok(Ok(key)) => {
                        use super::certificate::{standing, Standing, Validity};
                        let now = chrono::Utc::now().timestamp();
                        if let Some(Standing::Invalid(error)) =
                            Validity::of(&key).ok().map(|v| standing(v, now))
                        {
                            tracing::error!(cert = %self.cert.display(), "changed TLS certificate not loaded: {error}; still serving the previous certificate");
                            last = stamp;
                            continue;
                        }
                        super::certificate::log_standing(&key);
                        resolver.set(key);
                        last = stamp;
                        tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "changed TLS certificate files do not load; still serving the previous certificate")
                    }
                    Err(_) => {}
                }
            }
        })
    }
}

/// Days a development certificate is valid (from the day before it is made).
/// (Certificate audits flag fewer than 60 days left, and more than 398 in all.)
pub const DEV_CERTIFICATE_DAYS: u64 = 90;

/// A self-signed certificate for local testing, as PEM (certificate, key):
/// ECDSA P-256, valid from yesterday for [`DEV_CERTIFICATE_DAYS`], for TLS
/// server authentication only. Tradecloud does not accept self-signed
/// certificates.
pub fn dev_certificate(names: &[&str]) -> Result<(String, String), TlsError> {
    use chrono::Datelike as _;
    use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose};
    let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(names).map_err(generate)?;
    params.distinguished_name.push(
        DnType::CommonName,
        "tradecloud serve --dev-tls (self-signed, not trusted)",
    );
    // rcgen's default validity (1975 to 4096) is flagged by certificate
    // audits; a short one also keeps a leaked development key harmless.
    let yesterday = chrono::Utc::now().date_naive() - chrono::Days::new(1);
    let month = u8::try_from(yesterday.month()).map_err(|e| TlsError::Generate(e.to_string()))?;
    let day = u8::try_from(yesterday.day()).map_err(|e| TlsError::Generate(e.to_string()))?;
    params.not_before = rcgen::date_time_ymd(yesterday.year(), month, day);
    params.not_after = params.not_before + Duration::from_secs(DEV_CERTIFICATE_DAYS * 24 * 3600);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().map_err(generate)?;
    let cert = params.self_signed(&key).map_err(generate)?;
    Ok((cert.pem(), key.serialize_pem()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_strong_suites_and_modern_versions() {
        let p = provider();
        assert!(!p.cipher_suites.is_empty());
        for s in &p.cipher_suites {
            let name = format!("{:?}", s.suite());
            assert!(name.contains("GCM") || name.contains("CHACHA20"), "{name}");
            assert!(
                name.starts_with("TLS13_") || name.starts_with("TLS_ECDHE_"),
                "{name}"
            );
        }
        let versions: Vec<_> = protocol_versions().iter().map(|v| v.version).collect();
        assert_eq!(
            versions,
            vec![
                rustls::ProtocolVersion::TLSv1_3,
                rustls::ProtocolVersion::TLSv1_2
            ]
        );
    }

    #[test]
    fn dev_certificate_loads() {
        let (cert, key) = dev_certificate(&["localhost"]).unwrap();
        certified_key_from_pem(cert.as_bytes(), key.as_bytes(), Path::new("dev")).unwrap();
        let (_, other_key) = dev_certificate(&["localhost"]).unwrap();
        assert!(
            certified_key_from_pem(cert.as_bytes(), other_key.as_bytes(), Path::new("dev"))
                .is_err()
        );
        assert!(certified_key_from_pem(b"nothing", key.as_bytes(), Path::new("dev")).is_err());
    }
}
