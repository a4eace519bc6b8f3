//! The certificate checks: trust (public roots or `--ca-file`), not
//! self-signed, a complete chain (a missing intermediate named as such),
//! the host name, the expiry, the key.
//!
//! Trust is decided by rustls' own verifier (webpki), the way a client
//! decides it; x509-parser reads the details that explain a failure.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_rustls::rustls;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::public_key::PublicKey;

use rustls::client::danger::ServerCertVerifier as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, RootCertStore};

use super::Check;

/// Days before expiry below which the expiry check warns.
pub const WARN_DAYS: u64 = 30;
/// Days before expiry below which the expiry check fails.
pub const FAIL_DAYS: u64 = 7;

const FIX_PUBLIC_CA: &str =
    "use a certificate from a public CA: [server.acme] in `tradecloud serve` \
    gets one from Let's Encrypt, or install your CA's certificate with its full chain";
const FIX_FULL_CHAIN: &str = "serve the full chain: the leaf certificate followed by every \
    intermediate (your CA's \"fullchain.pem\"; `tradecloud serve`: tls_cert = fullchain.pem)";

/// The trust anchors: Mozilla's roots (webpki-root-certs) and `extra`.
pub struct Trust {
    store: Arc<RootCertStore>,
    /// Raw subject names of every anchor.
    subjects: Vec<Vec<u8>>,
}

impl Trust {
    /// The public roots plus `extra` (from `--ca-file`).
    pub fn new(extra: &[CertificateDer<'static>]) -> Trust {
        let mut store = RootCertStore::empty();
        let public = webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned();
        let all: Vec<CertificateDer<'static>> = public.chain(extra.iter().cloned()).collect();
        store.add_parsable_certificates(all.iter().cloned());
        let subjects = all
            .iter()
            .filter_map(|c| x509_parser::parse_x509_certificate(c.as_ref()).ok())
            .map(|(_, c)| c.subject().as_raw().to_vec())
            .collect();
        Trust {
            store: Arc::new(store),
            subjects,
        }
    }

    fn anchors(&self, name: &[u8]) -> bool {
        self.subjects.iter().any(|s| s == name)
    }
}

fn days(d: Duration) -> u64 {
    d.as_secs() / 86_400
}

fn issuer_url(cert: &X509Certificate<'_>) -> Option<String> {
    cert.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityInfoAccess(aia) => aia
                .accessdescs
                .iter()
                .find(|d| d.access_method.to_id_string() == "1.3.6.1.5.5.7.48.2")
                .and_then(|d| match &d.access_location {
                    GeneralName::URI(uri) => Some(uri.to_string()),
                    _ => None,
                }),
            _ => None,
        })
}

/// Every certificate check of `chain` (leaf first) for `host`.
pub fn check(chain: &[CertificateDer<'static>], host: &str, trust: &Trust) -> Vec<Check> {
    let Some(leaf_der) = chain.first() else {
        return vec![Check::fail(
            "cert.trust",
            "the server sent no certificate",
            FIX_PUBLIC_CA,
        )];
    };
    let parsed: Vec<_> = chain
        .iter()
        .map(|c| x509_parser::parse_x509_certificate(c.as_ref()).map(|(_, c)| c))
        .collect();
    let Some(Ok(leaf)) = parsed.first() else {
        return vec![Check::fail(
            "cert.trust",
            "the server's certificate cannot be parsed",
            FIX_PUBLIC_CA,
        )];
    };
    let certs: Vec<&X509Certificate<'_>> = parsed.iter().filter_map(|c| c.as_ref().ok()).collect();
    let self_signed = leaf.subject().as_raw() == leaf.issuer().as_raw();
    let mut checks = Vec::new();

    // The chain: each certificate issued by the next, the last one by a root.
    let mut missing = None;
    let mut out_of_order = false;
    for pair in certs.windows(2) {
        if pair[0].issuer().as_raw() != pair[1].subject().as_raw() {
            out_of_order = true;
        }
    }
    let last = certs[certs.len() - 1];
    let last_self_issued = last.subject().as_raw() == last.issuer().as_raw();
    if !last_self_issued && !trust.anchors(last.issuer().as_raw()) {
        let sent = certs
            .iter()
            .any(|c| c.subject().as_raw() == last.issuer().as_raw());
        if !sent {
            missing = Some((
                last.issuer().to_string(),
                last.subject().to_string(),
                issuer_url(last),
            ));
        }
    }

    // Trust, decided by webpki. Time validity is not trust: a chain that
    // webpki refuses only for a date is verified again at a moment when
    // every certificate of it is valid, and the date is reported as what
    // it is (the leaf's by cert.expiry, an intermediate's here).
    let intermediates = &chain[1..];
    let verify = |at: UnixTime| -> Result<(), rustls::Error> {
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            trust.store.clone(),
            Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        )
        .build()
        .map_err(|e| rustls::Error::General(e.to_string()))?;
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        match verifier.verify_server_cert(leaf_der, intermediates, &name, &[], at) {
            Ok(_) => Ok(()),
            // The name is checked after the chain: the chain is trusted.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(()),
            Err(e) => Err(e),
        }
    };
    let mut dated = None;
    let verdict = match verify(UnixTime::now()) {
        Ok(()) => Ok(()),
        Err(rustls::Error::InvalidCertificate(
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. },
        )) => {
            dated = out_of_date(&certs);
            match common_moment(&certs) {
                Some(at) => verify(UnixTime::since_unix_epoch(Duration::from_secs(at)))
                    .map_err(|e| Some(e.to_string())),
                None => Err(None),
            }
        }
        Err(e) => Err(Some(e.to_string())),
    };
    let issuer = leaf.issuer().to_string();
    checks.push(match (&verdict, self_signed, &missing) {
        (Ok(()), _, _) => match &dated {
            Some(d) if d.index > 0 => Check::fail(
                "cert.trust",
                format!(
                    "chained to a trusted root, but the intermediate {} {}: clients refuse the chain",
                    d.subject,
                    d.what()
                ),
                if d.expired {
                    "serve your CA's current intermediate: download the full chain of your certificate again, or renew the certificate ([server.acme] in `tradecloud serve` does)".to_string()
                } else {
                    format!("check the clock of this machine; if it is right, serve an intermediate that is valid now (this one starts on {})", d.date)
                },
            ),
            Some(d) => Check::pass(
                "cert.trust",
                format!("issued by {issuer}, chained to a trusted root (the certificate itself {}: see cert.expiry)", d.what()),
            ),
            None => Check::pass(
                "cert.trust",
                format!("trusted: issued by {issuer}, chained to a trusted root"),
            ),
        },
        (Err(None), _, _) => Check::fail(
            "cert.trust",
            format!(
                "cannot be trusted at any moment: the certificates' validity periods do not overlap ({}){}",
                certs
                    .iter()
                    .map(|c| format!("{}: {} to {}", c.subject(), c.validity().not_before, c.validity().not_after))
                    .collect::<Vec<_>>()
                    .join("; "),
                dated.as_ref().map(|d| format!("; now {} {}", d.subject, d.what())).unwrap_or_default()
            ),
            "renew the certificate, so that it is issued by your CA's current intermediate, and serve its full chain \
            ([server.acme] in `tradecloud serve` does both)",
        ),
        (Err(_), true, _) => Check::fail(
            "cert.trust",
            format!("not trusted: self-signed ({}); Tradecloud refuses self-signed certificates", leaf.subject()),
            FIX_PUBLIC_CA,
        ),
        (Err(_), false, Some((missing_name, _, _))) => Check::fail(
            "cert.trust",
            format!("not trusted: the chain stops before a trusted root (intermediate {missing_name} is not sent)"),
            FIX_FULL_CHAIN,
        ),
        (Err(Some(e)), false, None) => Check::fail(
            "cert.trust",
            format!("not trusted by the public roots{}: {e} (issuer {issuer})",
                if trust.subjects.len() > webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() { " or --ca-file" } else { "" }),
            FIX_PUBLIC_CA,
        ),
    });

    checks.push(if self_signed {
        Check::fail(
            "cert.self_signed",
            "the certificate is self-signed (a development certificate such as --dev-tls)",
            FIX_PUBLIC_CA,
        )
    } else {
        Check::pass("cert.self_signed", "not self-signed")
    });

    checks.push(match (&missing, out_of_order, self_signed) {
        (_, _, true) => Check::skip("cert.chain", "no chain: the certificate is self-signed"),
        (Some((issuer, subject, url)), _, _) => Check::fail(
            "cert.chain",
            format!(
                "incomplete chain: the intermediate certificate {issuer} (issuer of {subject}) is missing{}",
                url.as_ref().map(|u| format!("; it is published at {u}")).unwrap_or_default()
            ),
            FIX_FULL_CHAIN,
        ),
        (None, true, _) => Check::warn(
            "cert.chain",
            "the chain is complete but out of order",
            "serve the leaf first, then each intermediate followed by its issuer",
        ),
        (None, false, _) => Check::pass(
            "cert.chain",
            format!("complete: {} certificate(s) sent, leaf first", chain.len()),
        ),
    });

    checks.push(name_check(leaf, host));
    checks.push(expiry_check(leaf));
    checks.push(key_check(leaf));
    checks
}

/// The first certificate of a chain that is not valid now.
struct OutOfDate {
    /// 0: the leaf.
    index: usize,
    subject: String,
    /// Expired (else not valid yet).
    expired: bool,
    /// notAfter when expired, notBefore when not valid yet.
    date: String,
}

impl OutOfDate {
    fn what(&self) -> String {
        if self.expired {
            format!("expired on {}", self.date)
        } else {
            format!("is not valid before {}", self.date)
        }
    }
}

fn out_of_date(certs: &[&X509Certificate<'_>]) -> Option<OutOfDate> {
    let now = unix_now();
    certs.iter().enumerate().find_map(|(index, c)| {
        let validity = c.validity();
        let (expired, date) = if validity.not_after.timestamp() < now {
            (true, validity.not_after.to_string())
        } else if validity.not_before.timestamp() > now {
            (false, validity.not_before.to_string())
        } else {
            return None;
        };
        Some(OutOfDate {
            index,
            subject: c.subject().to_string(),
            expired,
            date,
        })
    })
}

/// Seconds since the epoch at which every certificate of `certs` is valid
/// (just after the latest notBefore), if there is such a moment.
fn common_moment(certs: &[&X509Certificate<'_>]) -> Option<u64> {
    let latest_start = certs
        .iter()
        .map(|c| c.validity().not_before.timestamp())
        .max()
        .unwrap_or(0);
    let earliest_end = certs
        .iter()
        .map(|c| c.validity().not_after.timestamp())
        .min()
        .unwrap_or(0);
    (latest_start < earliest_end)
        .then(|| u64::try_from(latest_start).ok())
        .flatten()
        .map(|at| at.saturating_add(1))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn name_check(leaf: &X509Certificate<'_>, host: &str) -> Check {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let ip: Option<std::net::IpAddr> = host.trim_matches(['[', ']']).parse().ok();
    let mut names = Vec::new();
    let mut matched = false;
    if let Ok(Some(san)) = leaf.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(n) => {
                    let n = n.to_ascii_lowercase();
                    matched |= ip.is_none() && dns_matches(&n, &host);
                    names.push(n);
                }
                GeneralName::IPAddress(bytes) => {
                    let addr = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).ok().map(std::net::IpAddr::from),
                        16 => <[u8; 16]>::try_from(*bytes)
                            .ok()
                            .map(std::net::IpAddr::from),
                        _ => None,
                    };
                    if let Some(addr) = addr {
                        matched |= ip == Some(addr);
                        names.push(addr.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    if matched {
        Check::pass("cert.name", format!("valid for {host}"))
    } else if names.is_empty() {
        Check::fail(
            "cert.name",
            "the certificate has no subject alternative names (clients ignore the common name)",
            format!("get a certificate whose subjectAltName includes {host}"),
        )
    } else {
        Check::fail(
            "cert.name",
            format!("not valid for {host}: it names {}", names.join(", ")),
            format!("get a certificate for {host}, or configure the webhook URL with a name the certificate has"),
        )
    }
}

fn dns_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(rest) => host
            .split_once('.')
            .is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
        None => pattern == host,
    }
}

fn expiry_check(leaf: &X509Certificate<'_>) -> Check {
    let time = |t: i64| SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(t).unwrap_or(0));
    let not_before = time(leaf.validity().not_before.timestamp());
    let not_after = time(leaf.validity().not_after.timestamp());
    let now = SystemTime::now();
    let until = leaf.validity().not_after.to_string();
    const RENEW: &str =
        "renew the certificate (with [server.acme] `tradecloud serve` renews it itself)";
    if let Ok(ahead) = not_before.duration_since(now) {
        return Check::fail(
            "cert.expiry",
            format!(
                "not valid yet: valid from {} ({}, by this machine's clock); clients refuse it until then",
                leaf.validity().not_before,
                if days(ahead) == 0 { "later today".to_string() } else { format!("in {} day(s)", days(ahead)) }
            ),
            "check this machine's clock; if it is right, the certificate was issued with a start in the future \
            (the clock of the machine that made it?): get one that is valid now, or wait until then",
        );
    }
    match not_after.duration_since(now) {
        Err(e) => Check::fail(
            "cert.expiry",
            format!(
                "expired on {until} ({} day(s) ago): clients refuse it",
                days(e.duration())
            ),
            RENEW,
        ),
        Ok(left) if days(left) < FAIL_DAYS => Check::fail(
            "cert.expiry",
            format!("expires in {} day(s), on {until}", days(left)),
            RENEW,
        ),
        Ok(left) if days(left) < WARN_DAYS => Check::warn(
            "cert.expiry",
            format!("expires in {} days, on {until}", days(left)),
            RENEW,
        ),
        Ok(left) => Check::pass(
            "cert.expiry",
            format!("valid until {until} ({} days)", days(left)),
        ),
    }
}

fn key_check(leaf: &X509Certificate<'_>) -> Check {
    let spki = leaf.public_key();
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|oid| oid.to_id_string());
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) if rsa.key_size() >= 2048 => {
            Check::pass("cert.key", format!("RSA {} bits", rsa.key_size()))
        }
        Ok(PublicKey::RSA(rsa)) => Check::fail(
            "cert.key",
            format!("RSA {} bits: too weak", rsa.key_size()),
            "use RSA with at least 2048 bits or ECDSA P-256",
        ),
        Ok(PublicKey::EC(_)) => match curve.as_deref() {
            Some("1.2.840.10045.3.1.7") => Check::pass("cert.key", "ECDSA P-256"),
            Some("1.3.132.0.34") => Check::pass("cert.key", "ECDSA P-384"),
            Some("1.3.132.0.35") => Check::pass("cert.key", "ECDSA P-521"),
            other => Check::warn(
                "cert.key",
                format!("ECDSA on curve {}", other.unwrap_or("(unknown)")),
                "use ECDSA P-256 or P-384, or RSA 2048+",
            ),
        },
        _ => Check::warn(
            "cert.key",
            format!(
                "{} key: not accepted by every client",
                spki.algorithm.algorithm.to_id_string()
            ),
            "use ECDSA P-256 or RSA 2048+",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "receiver")] // rcgen
    #[test]
    fn expiry_warns_under_30_days_and_fails_under_7() {
        use chrono::Datelike as _;
        let status = |days_left: u64| {
            let today = chrono::Utc::now().date_naive();
            let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(
                today.year(),
                u8::try_from(today.month()).unwrap(),
                u8::try_from(today.day()).unwrap(),
            ) + Duration::from_secs(days_left * 86_400 + 3600);
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = params.self_signed(&key).unwrap();
            let (_, parsed) = x509_parser::parse_x509_certificate(cert.der()).unwrap();
            expiry_check(&parsed).status
        };
        use super::super::Status;
        assert_eq!(status(90), Status::Pass);
        assert_eq!(status(20), Status::Warn);
        assert_eq!(status(3), Status::Fail);
    }

    #[test]
    fn wildcards_match_one_label() {
        assert!(dns_matches("*.example.com", "a.example.com"));
        assert!(!dns_matches("*.example.com", "a.b.example.com"));
        assert!(!dns_matches("*.example.com", "example.com"));
        assert!(dns_matches("example.com", "example.com"));
    }

    #[cfg(feature = "receiver")] // rcgen
    #[test]
    fn a_self_signed_certificate_is_named_as_such() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let chain = vec![cert.der().clone()];
        let checks = check(&chain, "localhost", &Trust::new(&[]));
        let by_id = |id: &str| checks.iter().find(|c| c.id == id).unwrap();
        assert_eq!(by_id("cert.self_signed").status, super::super::Status::Fail);
        assert!(by_id("cert.trust").summary.contains("self-signed"));
        assert_eq!(by_id("cert.name").status, super::super::Status::Pass);
        assert_eq!(by_id("cert.key").summary, "ECDSA P-256");
        let other = check(&chain, "example.com", &Trust::new(&[]));
        assert!(other
            .iter()
            .any(|c| c.id == "cert.name" && c.summary.contains("names localhost")));
        // Trusted when given as --ca-file.
        let trusted = check(&chain, "localhost", &Trust::new(&chain));
        assert_eq!(
            trusted[0].status,
            super::super::Status::Pass,
            "{:?}",
            trusted[0]
        );
    }
}
