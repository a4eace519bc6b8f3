//! TLS probes: a rustls handshake that records what the server sends
//! (version, suite, certificate chain) without judging it, and hand-built
//! ClientHello messages for the versions rustls cannot speak (TLS 1.1,
//! TLS 1.0, SSL 3.0), to see whether the server accepts them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// What a completed handshake showed.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// The negotiated protocol version (`TLSv1_3`, ...).
    pub version: String,
    /// The negotiated cipher suite.
    pub suite: String,
    /// The certificates the server sent, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
}

/// Accepts any certificate and keeps the chain; judging it is
/// [`super::cert`]'s job, after the handshake.
#[derive(Debug)]
struct Recorder {
    chain: Mutex<Vec<CertificateDer<'static>>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        *self.chain.lock().unwrap_or_else(|e| e.into_inner()) = chain;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
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
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Handshake with `addr` offering only `version` (TLS 1.2 or 1.3).
pub async fn handshake(
    addr: SocketAddr,
    host: &str,
    version: &'static rustls::SupportedProtocolVersion,
    timeout: Duration,
) -> Result<Handshake, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let recorder = Arc::new(Recorder {
        chain: Mutex::new(Vec::new()),
        provider: provider.clone(),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
    let connect = async {
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let (_, connection) = stream.get_ref();
        Ok::<_, String>((
            connection
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_default(),
            connection
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()))
                .unwrap_or_default(),
        ))
    };
    let (version, suite) = tokio::time::timeout(timeout, connect)
        .await
        .map_err(|_| "timed out".to_string())??;
    let chain = recorder
        .chain
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    Ok(Handshake {
        version,
        suite,
        chain,
    })
}

/// Protocol versions below TLS 1.2 that are probed by hand.
pub const LEGACY_VERSIONS: &[(u16, &str)] = &[
    (0x0302, "TLS 1.1"),
    (0x0301, "TLS 1.0"),
    (0x0300, "SSL 3.0"),
];

/// Cipher suites offered in the legacy probes: what old servers accept
/// (CBC with SHA-1, static RSA, 3DES) plus the AEAD ones.
const LEGACY_SUITES: &[u16] = &[
    0xc02b, 0xc02f, 0xc02c, 0xc030, 0xc009, 0xc00a, 0xc013, 0xc014, 0xc023, 0xc027, 0x009c, 0x009d,
    0x002f, 0x0035, 0x003c, 0x0033, 0x0039, 0x000a, 0x0005, 0x00ff,
];

/// A ClientHello record for `version` with `suites`, SNI (for a host
/// name) and the extensions an ECDHE handshake needs (groups, point
/// formats, signature algorithms), without `supported_versions`.
pub fn client_hello(version: u16, suites: &[u16], host: &str) -> Vec<u8> {
    fn len16(v: usize) -> [u8; 2] {
        u16::try_from(v).unwrap_or(u16::MAX).to_be_bytes()
    }
    let mut extensions: Vec<(u16, Vec<u8>)> = Vec::new();
    if host.parse::<std::net::IpAddr>().is_err() && !host.is_empty() {
        let mut sni = Vec::new();
        sni.extend(len16(host.len() + 3));
        sni.push(0);
        sni.extend(len16(host.len()));
        sni.extend(host.as_bytes());
        extensions.push((0x0000, sni));
    }
    // x25519, secp256r1, secp384r1
    extensions.push((0x000a, vec![0, 6, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18]));
    extensions.push((0x000b, vec![1, 0]));
    // ecdsa+sha256, rsa_pss+sha256, rsa+sha256, ecdsa+sha384, rsa+sha384, rsa+sha1, ecdsa+sha1
    extensions.push((
        0x000d,
        vec![
            0, 14, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03, 0x05, 0x01, 0x02, 0x01, 0x02,
            0x03,
        ],
    ));
    let mut ext = Vec::new();
    for (kind, data) in extensions {
        ext.extend(kind.to_be_bytes());
        ext.extend(len16(data.len()));
        ext.extend(data);
    }
    let mut body = Vec::new();
    body.extend(version.to_be_bytes());
    body.extend((0..32).map(|_| fastrand::u8(..)));
    body.push(0);
    body.extend(len16(suites.len() * 2));
    for s in suites {
        body.extend(s.to_be_bytes());
    }
    body.extend([1, 0]);
    body.extend(len16(ext.len()));
    body.extend(ext);
    let mut handshake = vec![1];
    handshake.extend(&u32::try_from(body.len()).unwrap_or(0).to_be_bytes()[1..]);
    handshake.extend(body);
    let record_version = if version < 0x0301 { 0x0300u16 } else { 0x0301 };
    let mut record = vec![0x16];
    record.extend(record_version.to_be_bytes());
    record.extend(len16(handshake.len()));
    record.extend(handshake);
    record
}

/// What a port answers to a TLS 1.2 ClientHello, before any handshake is
/// judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sniffed {
    /// A TLS record (a handshake message or an alert): TLS is spoken.
    Tls,
    /// An HTTP answer (its first line, cut): plain HTTP on this port.
    PlainHttp(String),
    /// The connection was closed without an answer.
    Closed,
    /// Nothing came back within the timeout.
    Silent,
    /// Other bytes (the first few, escaped), or an error.
    Other(String),
}

/// Send a TLS 1.2 ClientHello to `addr` and look at the first bytes of the
/// answer (see [`Sniffed`]).
pub async fn sniff(addr: SocketAddr, host: &str, timeout: Duration) -> Sniffed {
    let probe = async {
        let mut tcp = match TcpStream::connect(addr).await {
            Ok(tcp) => tcp,
            Err(e) => return Sniffed::Other(e.to_string()),
        };
        if let Err(e) = tcp
            .write_all(&client_hello(0x0303, LEGACY_SUITES, host))
            .await
        {
            return Sniffed::Other(e.to_string());
        }
        let mut answer = Vec::new();
        let mut buffer = [0u8; 256];
        while answer.len() < 5 {
            match tcp.read(&mut buffer).await {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
                Err(e) if answer.is_empty() => return Sniffed::Other(e.to_string()),
                Err(_) => break,
            }
        }
        if answer.is_empty() {
            Sniffed::Closed
        } else if matches!(answer[0], 0x15 | 0x16) {
            Sniffed::Tls
        } else if answer.starts_with(b"HTTP/") {
            Sniffed::PlainHttp(first_line(&answer))
        } else {
            Sniffed::Other(
                answer
                    .iter()
                    .take(16)
                    .flat_map(|b| std::ascii::escape_default(*b))
                    .map(char::from)
                    .collect(),
            )
        }
    };
    tokio::time::timeout(timeout, probe)
        .await
        .unwrap_or(Sniffed::Silent)
}

/// Send a plain HTTP request (`HEAD /`) to `addr`: `Some` first line of
/// the answer when it is an HTTP response, so the port speaks plain HTTP.
/// For a port whose answer to a ClientHello was not TLS ([`Sniffed::Other`],
/// [`Sniffed::Closed`]): some HTTP servers answer bytes that are not TLS
/// without a status line (Python's `http.server` takes a ClientHello for an
/// HTTP/0.9 request and sends an HTML page alone), or close; asked in HTTP,
/// they answer with a status line.
pub async fn plain_http(addr: SocketAddr, host: &str, timeout: Duration) -> Option<String> {
    let probe = async {
        let mut tcp = TcpStream::connect(addr).await.ok()?;
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        tcp.write_all(
            format!("HEAD / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nUser-Agent: tradecloud-doctor\r\n\r\n")
                .as_bytes(),
        )
        .await
        .ok()?;
        let mut answer = Vec::new();
        let mut buffer = [0u8; 256];
        while answer.len() < 5
            || (answer.starts_with(b"HTTP/") && !answer.contains(&b'\n') && answer.len() < 256)
        {
            match tcp.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
        answer.starts_with(b"HTTP/").then(|| first_line(&answer))
    };
    tokio::time::timeout(timeout, probe).await.ok().flatten()
}

/// The first line of `bytes`, lossily, cut to 80 characters.
fn first_line(bytes: &[u8]) -> String {
    let line = bytes
        .split(|b| *b == b'\r' || *b == b'\n')
        .next()
        .unwrap_or_default();
    String::from_utf8_lossy(line).chars().take(80).collect()
}

/// Whether the server answers a hand-built ClientHello for `version`
/// with a ServerHello of that version (rather than an alert or a close).
pub async fn legacy_accepted(
    addr: SocketAddr,
    host: &str,
    version: u16,
    timeout: Duration,
) -> Result<bool, String> {
    let probe = async {
        let mut tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        tcp.write_all(&client_hello(version, LEGACY_SUITES, host))
            .await
            .map_err(|e| e.to_string())?;
        let mut header = [0u8; 5];
        if tcp.read_exact(&mut header).await.is_err() {
            return Ok(false); // closed without an answer: refused
        }
        if header[0] != 0x16 {
            return Ok(false); // an alert (or garbage): refused
        }
        // Handshake message: type (2 = ServerHello), length (3), version (2).
        let mut start = [0u8; 6];
        if tcp.read_exact(&mut start).await.is_err() {
            return Ok(false);
        }
        Ok(start[0] == 2 && u16::from_be_bytes([start[4], start[5]]) == version)
    };
    tokio::time::timeout(timeout, probe)
        .await
        .unwrap_or(Ok(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_hello_is_well_formed() {
        let hello = client_hello(0x0302, &[0xc013], "localhost");
        assert_eq!(&hello[..3], &[0x16, 0x03, 0x01]);
        let record_len = u16::from_be_bytes([hello[3], hello[4]]) as usize;
        assert_eq!(record_len, hello.len() - 5);
        assert_eq!(hello[5], 1, "ClientHello");
        assert_eq!(&hello[9..11], &[0x03, 0x02]);
        assert!(hello.windows(9).any(|w| w == b"localhost"));
        let ip = client_hello(0x0301, &[0xc013], "127.0.0.1");
        assert!(
            !ip.windows(9).any(|w| w == b"127.0.0.1"),
            "no SNI for an IP"
        );
    }
}
