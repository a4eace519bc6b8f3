//! Answering the CA's challenges while an order is open.
//!
//! * **TLS-ALPN-01** (RFC 8737): the CA opens a TLS connection to port 443
//!   offering only the ALPN protocol `acme-tls/1` and the domain as SNI;
//!   [`AcmeResolver`] answers it with a self-signed certificate for the
//!   domain carrying the critical `acmeIdentifier` extension (the SHA-256
//!   of the key authorization). Every other handshake gets the receiver's
//!   certificate, so webhooks keep flowing during an order.
//! * **HTTP-01**: the CA fetches
//!   `http://DOMAIN/.well-known/acme-challenge/TOKEN` on port 80; a small
//!   plain-HTTP server on `http_listen` answers it with the key
//!   authorization, and every other request with a 404 that points to HTTPS.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;

use crate::receiver::tls::{self, CertResolver, TlsError};

/// The ALPN protocol of TLS-ALPN-01.
pub(crate) const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// The challenge answers of the open order.
#[derive(Debug, Default)]
pub(crate) struct Challenges {
    /// TLS-ALPN-01: domain (lower case) → validation certificate.
    tls_alpn: RwLock<HashMap<String, Arc<CertifiedKey>>>,
    /// HTTP-01: token → key authorization.
    http: RwLock<HashMap<String, String>>,
}

impl Challenges {
    pub(crate) fn add_tls_alpn(&self, domain: &str, key: CertifiedKey) {
        self.tls_alpn
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(domain.to_ascii_lowercase(), Arc::new(key));
    }

    pub(crate) fn add_http(&self, token: &str, key_authorization: &str) {
        self.http
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.to_string(), key_authorization.to_string());
    }

    /// Forget every answer (the order is over).
    pub(crate) fn clear(&self) {
        self.tls_alpn
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.http.write().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn tls_alpn(&self, domain: &str) -> Option<Arc<CertifiedKey>> {
        self.tls_alpn
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&domain.to_ascii_lowercase())
            .cloned()
    }

    fn http(&self, token: &str) -> Option<String> {
        self.http
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned()
    }
}

/// The receiver's certificate resolver with ACME: TLS-ALPN-01 validation
/// handshakes get the challenge certificate, all others the current one.
#[derive(Debug)]
pub(crate) struct AcmeResolver {
    pub(crate) certificates: Arc<CertResolver>,
    pub(crate) challenges: Arc<Challenges>,
}

impl ResolvesServerCert for AcmeResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let validation = hello
            .alpn()
            .map(|mut protocols| protocols.all(|p| p == ACME_TLS_ALPN))
            .unwrap_or(false);
        if validation {
            // A validation handshake gets the challenge certificate or
            // nothing (then the handshake fails, which the CA reports).
            let domain = hello.server_name()?;
            let key = self.challenges.tls_alpn(domain);
            if key.is_none() {
                tracing::debug!(domain, "acme-tls/1 handshake without an open challenge");
            }
            return key;
        }
        Some(self.certificates.current())
    }
}

fn generate_error(e: rcgen::Error) -> TlsError {
    TlsError::Generate(e.to_string())
}

/// The TLS-ALPN-01 validation certificate for `domain`: self-signed, the
/// domain as its only name, and the critical `acmeIdentifier` extension
/// holding `digest` (SHA-256 of the key authorization).
pub(crate) fn tls_alpn_certificate(domain: &str, digest: &[u8]) -> Result<CertifiedKey, TlsError> {
    let mut params =
        rcgen::CertificateParams::new(vec![domain.to_string()]).map_err(generate_error)?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let key = rcgen::KeyPair::generate().map_err(generate_error)?;
    let cert = params.self_signed(&key).map_err(generate_error)?;
    // Not `certified_key_from_pem`: its key check parses the certificate
    // with webpki, which refuses the critical acmeIdentifier extension.
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let signing_key = tls::provider().key_provider.load_private_key(der)?;
    Ok(CertifiedKey::new(vec![cert.der().clone()], signing_key))
}

/// What is served before the first ACME certificate arrives: self-signed,
/// so no client that checks certificates (Tradecloud does) gets further
/// than the handshake; those that do not see `503`.
pub(crate) fn placeholder_certificate(domains: &[String]) -> Result<CertifiedKey, TlsError> {
    let mut params = rcgen::CertificateParams::new(domains.to_vec()).map_err(generate_error)?;
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        "tradecloud serve: waiting for the ACME certificate (not trusted)",
    );
    let key = rcgen::KeyPair::generate().map_err(generate_error)?;
    let cert = params.self_signed(&key).map_err(generate_error)?;
    tls::certified_key_from_pem(
        cert.pem().as_bytes(),
        key.serialize_pem().as_bytes(),
        "(placeholder)".as_ref(),
    )
}

async fn http_challenge(
    State(challenges): State<Arc<Challenges>>,
    Path(token): Path<String>,
) -> Response {
    match challenges.http(&token) {
        Some(answer) => (
            StatusCode::OK,
            [(http::header::CONTENT_TYPE, "application/octet-stream")],
            answer,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such ACME challenge\n").into_response(),
    }
}

async fn not_here() -> Response {
    (
        StatusCode::NOT_FOUND,
        "this port only answers ACME http-01 challenges; the webhooks are served over HTTPS\n",
    )
        .into_response()
}

/// Serve HTTP-01 answers on `listener` until the task is aborted.
pub(crate) async fn serve_http01(listener: tokio::net::TcpListener, challenges: Arc<Challenges>) {
    let app = axum::Router::new()
        .route(
            "/.well-known/acme-challenge/{token}",
            axum::routing::get(http_challenge),
        )
        .fallback(not_here)
        .with_state(challenges);
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "the ACME http-01 listener stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_certificates_carry_the_digest() {
        let digest = [7u8; 32];
        let key = tls_alpn_certificate("webhooks.example.com", &digest).unwrap();
        let der = key.cert[0].as_ref();
        let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
        let ext = cert
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.31")
            .expect("acmeIdentifier");
        assert!(ext.critical);
        // An OCTET STRING of 32 bytes.
        assert_eq!(&ext.value[..2], &[0x04, 32]);
        assert_eq!(&ext.value[2..], &digest);

        let challenges = Challenges::default();
        challenges.add_tls_alpn("Webhooks.Example.com", key);
        challenges.add_http("tok", "tok.thumb");
        assert!(challenges.tls_alpn("webhooks.example.com").is_some());
        assert_eq!(challenges.http("tok").as_deref(), Some("tok.thumb"));
        challenges.clear();
        assert!(challenges.tls_alpn("webhooks.example.com").is_none());
        assert!(challenges.http("tok").is_none());
        placeholder_certificate(&["webhooks.example.com".into()]).unwrap();
    }
}
