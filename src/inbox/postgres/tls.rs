//! TLS to PostgreSQL: libpq's `sslmode` and `sslrootcert` in the store URL,
//! through rustls (tokio-postgres itself knows neither `verify-ca`,
//! `verify-full` nor `sslrootcert`, so they are taken out of the URL here).
//!
//! | `sslmode` | TLS | the server's certificate |
//! |---|---|---|
//! | `disable` | never | - |
//! | `prefer` (default, as libpq) | if the server offers it, else plain TCP | not checked, unless `sslrootcert` is given (then as `verify-ca`) |
//! | `require` | always (a server without TLS is refused) | not checked, unless `sslrootcert` is given (then as `verify-ca`) |
//! | `verify-ca` | always | signed by a CA in `sslrootcert` (a file; required) |
//! | `verify-full` | always | signed by a CA in `sslrootcert`, or the system's roots without it; valid for the host name of the URL |
//!
//! `sslrootcert=PATH` is a PEM file of CA certificates; `sslrootcert=system`
//! the operating system's trusted roots (as libpq 16; `verify-full` only).
//! Unlike libpq, `~/.postgresql/root.crt` is never read (a service often has
//! no home directory), and `verify-full` without `sslrootcert` uses the
//! system's roots instead of failing. Client certificates (`sslcert`,
//! `sslkey`) are not supported: they are refused, not ignored.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use percent_encoding::percent_decode_str;
use tokio_postgres::config::SslMode as DriverMode;
use tokio_postgres_rustls::MakeRustlsConnect;
use tokio_rustls::rustls;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{aws_lc_rs, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, Error, OtherError, RootCertStore};

use crate::inbox::{redact, InboxError};

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Option<SslMode> {
        Some(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            // libpq's other values: `allow` tries plain TCP first.
            "allow" => SslMode::Prefer,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Where the trusted CAs come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Roots {
    /// No `sslrootcert`.
    Unset,
    /// `sslrootcert=PATH`.
    File(PathBuf),
    /// `sslrootcert=system`.
    System,
}

/// The TLS settings of a PostgreSQL store URL.
#[derive(Debug, Clone)]
pub(crate) struct PgTls {
    mode: SslMode,
    roots: Roots,
}

/// Parameters of libpq that this build does not support: refused with
/// this explanation rather than ignored (or refused by the driver as
/// "unknown option").
const UNSUPPORTED: &[(&str, &str)] = &[
    ("sslcert", "client certificates are not supported; authenticate with a password (in the URL or PGPASSWORD-style in the configuration)"),
    ("sslkey", "client certificates are not supported; authenticate with a password"),
    ("sslpassword", "client certificates are not supported; authenticate with a password"),
    ("sslcrl", "certificate revocation lists are not supported"),
    ("sslcrldir", "certificate revocation lists are not supported"),
];

impl PgTls {
    /// Take `sslmode` and `sslrootcert` out of `url`'s query: the URL for
    /// the driver, and the settings.
    pub(crate) fn from_url(url: &str) -> Result<(String, PgTls), InboxError> {
        let invalid =
            |what: String| InboxError::Invalid(format!("store URL {}: {what}", redact(url)));
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut mode = None;
        let mut roots = Roots::Unset;
        let mut kept: Vec<&str> = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode_str(raw).decode_utf8().map_err(|_| {
                invalid(format!(
                    "the value of {key} is not UTF-8 once percent-decoded"
                ))
            })?;
            match key {
                "sslmode" => {
                    mode = Some(SslMode::parse(&value).ok_or_else(|| {
                        invalid(format!(
                            "sslmode={value} is not one of disable, prefer, require, verify-ca, verify-full"
                        ))
                    })?)
                }
                "sslrootcert" if value == "system" => roots = Roots::System,
                "sslrootcert" if value.is_empty() => {
                    return Err(invalid(
                        "sslrootcert is empty: give the path of a PEM file of CA certificates, or `system`".into(),
                    ))
                }
                "sslrootcert" => roots = Roots::File(PathBuf::from(value.as_ref())),
                _ => match UNSUPPORTED.iter().find(|(name, _)| *name == key) {
                    Some((name, why)) => return Err(invalid(format!("{name}: {why}"))),
                    None => kept.push(pair),
                },
            }
        }
        let mode = mode.unwrap_or(SslMode::Prefer);
        if roots == Roots::System && mode != SslMode::VerifyFull {
            // As libpq 16: any public CA signs certificates for any name,
            // so trusting the system's roots means nothing without the
            // host name check.
            return Err(invalid(format!(
                "sslrootcert=system needs sslmode=verify-full (with sslmode={} any publicly trusted certificate would pass)",
                mode.as_str()
            )));
        }
        if mode == SslMode::VerifyCa && roots == Roots::Unset {
            return Err(invalid(
                "sslmode=verify-ca needs sslrootcert=PATH, the PEM file of the CA that issued the server's certificate \
                 (or use sslmode=verify-full, which also checks the host name and can use the system's roots)"
                    .into(),
            ));
        }
        let mut driver_url = base.to_string();
        if !kept.is_empty() {
            driver_url.push('?');
            driver_url.push_str(&kept.join("&"));
        }
        Ok((driver_url, PgTls { mode, roots }))
    }

    /// The driver's `sslmode` (`verify-*` are `require` plus our verifier).
    pub(crate) fn driver_mode(&self) -> DriverMode {
        match self.mode {
            SslMode::Disable => DriverMode::Disable,
            SslMode::Prefer => DriverMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => DriverMode::Require,
        }
    }

    /// The connector: rustls with the verifier `sslmode` and `sslrootcert` ask for.
    pub(crate) fn connector(&self) -> Result<MakeRustlsConnect, InboxError> {
        let provider = Arc::new(aws_lc_rs::default_provider());
        let check = match (&self.roots, self.mode) {
            (_, SslMode::Disable) | (Roots::Unset, SslMode::Prefer | SslMode::Require) => {
                Check::Nothing
            }
            (_, SslMode::VerifyFull) => Check::ChainAndName,
            // `require`/`prefer` with a root file: as `verify-ca` (libpq).
            _ => Check::Chain,
        };
        let (roots, source) = match &self.roots {
            Roots::File(path) => (read_roots(path)?, format!("sslrootcert={}", path.display())),
            Roots::System if check == Check::ChainAndName => (
                system_roots()?,
                "the system's trusted roots (sslrootcert=system)".to_string(),
            ),
            Roots::Unset if check == Check::ChainAndName => (
                system_roots()?,
                "the system's trusted roots (verify-full without sslrootcert uses them)"
                    .to_string(),
            ),
            _ => (RootCertStore::empty(), String::new()),
        };
        let verifier = Verifier {
            check,
            roots: Arc::new(roots),
            source,
            mode: self.mode,
            provider: provider.clone(),
        };
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| InboxError::Invalid(format!("TLS to PostgreSQL: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }

    /// Add what to do to a connection error that says what the server
    /// did not offer.
    pub(crate) fn explain(&self, error: InboxError) -> InboxError {
        let error = match error {
            // A certificate the verifier refused: its message says it all.
            InboxError::Unavailable(message) => InboxError::Unavailable(message.replace(
                "error performing TLS handshake: other error: ",
                "TLS handshake refused: ",
            )),
            other => other,
        };
        match error {
            InboxError::Unavailable(message)
                if message.contains("server does not support TLS") =>
            {
                InboxError::Unavailable(format!(
                    "{message} (sslmode={}: the server has TLS turned off; turn on `ssl` in its postgresql.conf, \
                     or connect without TLS with sslmode=prefer or disable on a private network)",
                    self.mode.as_str()
                ))
            }
            other => other,
        }
    }
}

fn read_roots(path: &Path) -> Result<RootCertStore, InboxError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| {
            InboxError::Invalid(format!(
                "sslrootcert={}: cannot read CA certificates from it: {e}; give a PEM file of the CA that issued the server's certificate",
                path.display()
            ))
        })?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(InboxError::Invalid(format!(
            "sslrootcert={}: no usable CA certificate in it (expected PEM blocks `-----BEGIN CERTIFICATE-----`)",
            path.display()
        )));
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, InboxError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(InboxError::Invalid(format!(
            "no trusted root certificates found on this system for sslmode=verify-full ({}); \
             install the ca-certificates package or give sslrootcert=PATH",
            found
                .errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    Ok(roots)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// `prefer`/`require` without `sslrootcert`: encrypted, not
    /// authenticated (libpq's behaviour).
    Nothing,
    /// `verify-ca`: a trusted CA signed it; the host name is not checked.
    Chain,
    /// `verify-full`.
    ChainAndName,
}

/// The server certificate verifier of every `sslmode`, with errors that
/// say which check failed and what to do.
#[derive(Debug)]
struct Verifier {
    check: Check,
    roots: Arc<RootCertStore>,
    /// Where the roots came from, for error messages.
    source: String,
    mode: SslMode,
    provider: Arc<CryptoProvider>,
}

/// A refused certificate, explained.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

fn refused(message: String) -> Error {
    // `Error::Other` shows its message as it is (`CertificateError::Other`
    // would show it in debug format).
    Error::Other(OtherError(Arc::new(Refused(message))))
}

/// The names a certificate presents as rustls reports them
/// (`DnsName("localhost")`), as they would be written in a URL.
fn plain_name(presented: &str) -> &str {
    presented
        .split_once('(')
        .map_or(presented, |(_, rest)| rest.trim_end_matches(')'))
        .trim_matches('"')
}

impl Verifier {
    fn chain_error(&self, error: Error) -> Error {
        let mode = self.mode.as_str();
        match error {
            Error::InvalidCertificate(CertificateError::UnknownIssuer) => refused(format!(
                "the PostgreSQL server's certificate is not signed by a CA in {} (untrusted CA, sslmode={mode}): \
                 set sslrootcert to the PEM file of the CA that issued it (managed databases publish theirs, \
                 e.g. AWS RDS's global bundle), or fix the certificate the server presents",
                self.source
            )),
            Error::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. },
            ) => refused(format!(
                "the PostgreSQL server's certificate has expired (sslmode={mode}): renew it on the server"
            )),
            Error::InvalidCertificate(
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
            ) => refused(format!(
                "the PostgreSQL server's certificate is not valid yet (sslmode={mode}): check the clocks of both machines"
            )),
            Error::InvalidCertificate(other) => refused(format!(
                "the PostgreSQL server's certificate was refused (sslmode={mode}): {other:?}"
            )),
            other => other,
        }
    }

    fn name_error(&self, error: Error, server_name: &ServerName<'_>) -> Error {
        let host = server_name.to_str();
        match error {
            Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                presented,
                ..
            }) => refused(format!(
                "the PostgreSQL server's certificate is not valid for the host name {host} of the store URL \
                 (wrong host name, sslmode=verify-full; it names {}): connect with a name the certificate names, \
                 or use sslmode=verify-ca to check only that a trusted CA signed it",
                if presented.is_empty() {
                    "no host at all".to_string()
                } else {
                    presented
                        .iter()
                        .map(|p| plain_name(p))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            )),
            Error::InvalidCertificate(CertificateError::NotValidForName) => refused(format!(
                "the PostgreSQL server's certificate is not valid for the host name {host} of the store URL \
                 (wrong host name, sslmode=verify-full): connect with a name the certificate names, \
                 or use sslmode=verify-ca to check only that a trusted CA signed it"
            )),
            other => self.chain_error(other),
        }
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        if self.check == Check::Nothing {
            return Ok(ServerCertVerified::assertion());
        }
        let cert = ParsedCertificate::try_from(end_entity).map_err(|e| self.chain_error(e))?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )
        .map_err(|e| self.chain_error(e))?;
        if self.check == Check::ChainAndName {
            rustls::client::verify_server_name(&cert, server_name)
                .map_err(|e| self.name_error(e, server_name))?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(url: &str) -> Result<(String, PgTls), String> {
        PgTls::from_url(url).map_err(|e| e.to_string())
    }

    #[test]
    fn libpq_default_is_prefer_and_ssl_parameters_leave_the_url() {
        let (url, tls) = split("postgres://u:pw@db:5432/x?application_name=a").unwrap();
        assert_eq!(url, "postgres://u:pw@db:5432/x?application_name=a");
        assert_eq!(tls.mode, SslMode::Prefer);
        assert_eq!(tls.driver_mode(), DriverMode::Prefer);

        let (url, tls) = split(
            "postgres://db/x?sslmode=verify-full&connect_timeout=3&sslrootcert=%2Fetc%2Fca%20x.pem",
        )
        .unwrap();
        assert_eq!(url, "postgres://db/x?connect_timeout=3");
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(tls.roots, Roots::File("/etc/ca x.pem".into()));
        assert_eq!(tls.driver_mode(), DriverMode::Require);

        let (_, tls) = split("postgres://db/x?sslmode=verify-full&sslrootcert=system").unwrap();
        assert_eq!(tls.roots, Roots::System);
        let (url, tls) = split("postgres://db/x?sslmode=disable").unwrap();
        assert_eq!(
            (url.as_str(), tls.driver_mode()),
            ("postgres://db/x", DriverMode::Disable)
        );
    }

    #[test]
    fn what_libpq_refuses_is_refused_with_what_to_do() {
        for (url, expected) in [
            (
                "postgres://db/x?sslmode=verify",
                "is not one of disable, prefer, require, verify-ca, verify-full",
            ),
            (
                "postgres://db/x?sslmode=verify-ca",
                "sslmode=verify-ca needs sslrootcert=PATH",
            ),
            (
                "postgres://db/x?sslmode=require&sslrootcert=system",
                "sslrootcert=system needs sslmode=verify-full",
            ),
            ("postgres://db/x?sslrootcert=", "sslrootcert is empty"),
            (
                "postgres://db/x?sslmode=require&sslcert=c.pem",
                "client certificates are not supported",
            ),
        ] {
            let e = split(url).unwrap_err();
            assert!(e.contains(expected), "{url}: {e}");
        }
        let e = split("postgres://u:secret@db/x?sslmode=nope").unwrap_err();
        assert!(!e.contains("secret"), "the password is not printed: {e}");
    }

    #[test]
    fn names_as_rustls_reports_them_read_plainly() {
        assert_eq!(plain_name("DnsName(\"db.example\")"), "db.example");
        assert_eq!(plain_name("IpAddress(10.0.0.1)"), "10.0.0.1");
        assert_eq!(plain_name("db.example"), "db.example");
    }

    #[test]
    fn a_root_file_that_is_not_pem_is_refused_when_connecting_is_prepared() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, "not a certificate").unwrap();
        let url = format!(
            "postgres://db/x?sslmode=verify-full&sslrootcert={}",
            file.display()
        );
        let (_, tls) = split(&url).unwrap();
        let e = tls.connector().err().unwrap().to_string();
        assert!(e.contains("no usable CA certificate"), "{e}");
        let (_, tls) =
            split("postgres://db/x?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem").unwrap();
        let e = tls.connector().err().unwrap().to_string();
        assert!(
            e.contains("/nonexistent/ca.pem") && e.contains("cannot read"),
            "{e}"
        );
    }
}
