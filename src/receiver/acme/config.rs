//! `[server.acme]`: what the ACME client is told.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Let's Encrypt's production directory, the default `directory_url`.
pub const LETS_ENCRYPT_PRODUCTION: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Let's Encrypt's staging directory (untrusted certificates, generous rate limits).
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";
/// Default `cache_dir`.
pub const DEFAULT_CACHE_DIR: &str = "tradecloud-acme";

/// How the CA checks that this receiver answers for a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum ChallengeKind {
    /// TLS-ALPN-01 (RFC 8737): answered on the HTTPS port itself, so no
    /// second port is needed. The CA connects to port 443 of the domain.
    #[default]
    #[serde(rename = "tls-alpn-01")]
    TlsAlpn01,
    /// HTTP-01: answered by a plain-HTTP listener on `http_listen`, which
    /// the CA reaches on port 80 of the domain. For a receiver behind a
    /// proxy or load balancer that terminates TLS on 443 itself.
    #[serde(rename = "http-01")]
    Http01,
}

impl ChallengeKind {
    /// The name used by ACME and in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeKind::TlsAlpn01 => "tls-alpn-01",
            ChallengeKind::Http01 => "http-01",
        }
    }
}

/// `[server.acme]`: obtain and renew the receiver's certificate from an
/// ACME CA (Let's Encrypt by default). Configuring it agrees to the CA's
/// terms of service.
///
/// ```toml
/// [server.acme]
/// domains = ["webhooks.example.com"]
/// contact = "it@example.com"             # or a list: ["mailto:it@example.com", "ops@example.com"]
/// cache_dir = "/var/lib/tradecloud/acme"   # account key and certificates (mode 0600)
/// # directory_url = "https://acme-staging-v02.api.letsencrypt.org/directory"
/// # challenge = "http-01"                  # default "tls-alpn-01", on the HTTPS port itself
/// # http_listen = "0.0.0.0:80"             # with http-01
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AcmeConfig {
    /// The CA's ACME directory (default Let's Encrypt production).
    pub directory_url: String,
    /// The names the certificate is for (DNS names pointing at this receiver).
    pub domains: Vec<String>,
    /// Contact addresses for the CA's expiry and incident mails: one
    /// address or a list, as Caddy and Traefik take them (`mailto:` is
    /// added to a bare address).
    #[serde(deserialize_with = "one_or_many")]
    pub contact: Vec<String>,
    /// Where the account key and the certificates are kept (files written
    /// atomically, mode 0600; the directory mode 0700).
    pub cache_dir: PathBuf,
    /// Extra PEM root certificates trusted for the directory's own HTTPS
    /// (a private or test CA such as pebble), on top of the public roots.
    pub ca_file: Option<PathBuf>,
    /// `tls-alpn-01` (default) or `http-01`.
    pub challenge: ChallengeKind,
    /// With `http-01`: the plain-HTTP address that answers the challenge
    /// (`0.0.0.0:80`, or what port 80 is forwarded to).
    pub http_listen: Option<SocketAddr>,
}

impl Default for AcmeConfig {
    fn default() -> Self {
        AcmeConfig {
            directory_url: LETS_ENCRYPT_PRODUCTION.into(),
            domains: Vec::new(),
            contact: Vec::new(),
            cache_dir: PathBuf::from(DEFAULT_CACHE_DIR),
            ca_file: None,
            challenge: ChallengeKind::default(),
            http_listen: None,
        }
    }
}

/// A string or a list of strings.
fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    struct OneOrMany;

    impl<'de> serde::de::Visitor<'de> for OneOrMany {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an e-mail address or a list of them")
        }

        fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Self::Value, E> {
            Ok(vec![value.to_owned()])
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut values = Vec::new();
            while let Some(value) = seq.next_element::<String>()? {
                values.push(value);
            }
            Ok(values)
        }
    }

    deserializer.deserialize_any(OneOrMany)
}

impl AcmeConfig {
    /// The contact URIs sent to the CA (`mailto:` added to bare addresses).
    pub fn contact_uris(&self) -> Vec<String> {
        self.contact
            .iter()
            .map(|c| {
                if c.contains(':') {
                    c.clone()
                } else {
                    format!("mailto:{c}")
                }
            })
            .collect()
    }

    /// Check the section on its own and against the rest of `[server]`:
    /// `has_certificate_files` is whether `tls_cert` or `tls_key` is set.
    pub fn validate(&self, has_certificate_files: bool) -> Result<(), String> {
        if has_certificate_files {
            return Err(
                "[server.acme] and server.tls_cert/tls_key exclude each other: ACME obtains the \
                 certificate itself; remove tls_cert and tls_key, or remove [server.acme] to serve \
                 your own files"
                    .into(),
            );
        }
        if !self.directory_url.starts_with("https://") {
            return Err(format!(
                "server.acme.directory_url must be an https:// URL (got `{}`); Let's Encrypt: {LETS_ENCRYPT_PRODUCTION}",
                self.directory_url
            ));
        }
        if self.domains.is_empty() {
            return Err(
                "server.acme.domains is empty: name the DNS name(s) Tradecloud calls, e.g. domains = [\"webhooks.example.com\"]"
                    .into(),
            );
        }
        for domain in &self.domains {
            if domain.starts_with("*.") {
                return Err(format!(
                    "server.acme.domains: `{domain}` is a wildcard, which needs the dns-01 challenge; name the host itself"
                ));
            }
            let valid = !domain.is_empty()
                && domain.len() <= 253
                && domain.parse::<std::net::IpAddr>().is_err()
                && domain.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            if !valid {
                return Err(format!(
                    "server.acme.domains: `{domain}` is not a DNS name (ACME certificates name hosts, not IP addresses or URLs)"
                ));
            }
        }
        for contact in self.contact_uris() {
            if contact.starts_with("mailto:") && !contact[7..].contains('@') {
                return Err(format!(
                    "server.acme.contact: `{contact}` is not a mail address"
                ));
            }
        }
        match (self.challenge, self.http_listen) {
            (ChallengeKind::Http01, None) => Err(
                "server.acme.challenge = \"http-01\" needs server.acme.http_listen (e.g. \"0.0.0.0:80\"): the CA fetches the answer from port 80"
                    .into(),
            ),
            (ChallengeKind::TlsAlpn01, Some(_)) => Err(
                "server.acme.http_listen is only used with challenge = \"http-01\"; tls-alpn-01 is answered on the HTTPS port"
                    .into(),
            ),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> AcmeConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_and_keys() {
        let c = parse("domains = [\"webhooks.example.com\"]\ncontact = [\"it@example.com\"]\n");
        assert_eq!(c.directory_url, LETS_ENCRYPT_PRODUCTION);
        assert_eq!(c.challenge, ChallengeKind::TlsAlpn01);
        assert_eq!(c.cache_dir, PathBuf::from(DEFAULT_CACHE_DIR));
        assert_eq!(c.contact_uris(), vec!["mailto:it@example.com"]);
        c.validate(false).unwrap();
        let e = c.validate(true).unwrap_err();
        assert!(e.contains("tls_cert"), "{e}");

        let c = parse("domains = [\"a.example.com\", \"b.example.com\"]\nchallenge = \"http-01\"\nhttp_listen = \"0.0.0.0:80\"\n");
        assert_eq!(c.domains, vec!["a.example.com", "b.example.com"]);
        c.validate(false).unwrap();
        assert!(toml::from_str::<AcmeConfig>("domain = \"x\"").is_err());
        assert!(toml::from_str::<AcmeConfig>("contact = 7").is_err());
        assert!(toml::from_str::<AcmeConfig>("challenge = \"dns-01\"").is_err());
    }

    /// Caddy (`email`) and Traefik (`email`) take one address as a string;
    /// so does `contact`, beside a list.
    #[test]
    fn contact_is_one_address_or_a_list() {
        let one = parse("domains = [\"x.example.com\"]\ncontact = \"it@example.com\"\n");
        assert_eq!(one.contact, ["it@example.com"]);
        assert_eq!(one.contact_uris(), ["mailto:it@example.com"]);
        one.validate(false).unwrap();
        let many = parse("contact = [\"mailto:it@example.com\", \"ops@example.com\"]");
        assert_eq!(
            many.contact_uris(),
            ["mailto:it@example.com", "mailto:ops@example.com"]
        );
        assert!(parse("").contact.is_empty());
        let wrong = parse("domains = [\"x.example.com\"]\ncontact = \"nobody\"").validate(false);
        assert!(wrong.is_err_and(|e| e.contains("not a mail address")));
        let config = crate::receiver::Config::from_parts(
            Some("[server.acme]\ndomains = [\"x.example.com\"]\ncontact = \"it@example.com\"\n"),
            "t",
            Vec::new(),
        )
        .map_err(|e| e.to_string());
        let acme = config.ok().and_then(|c| c.server.acme);
        assert_eq!(
            acme.map(|a| a.contact_uris()),
            Some(vec!["mailto:it@example.com".to_owned()])
        );
    }

    #[test]
    fn in_the_receiver_configuration() {
        let text = "[server]\ntls_cert = \"a.pem\"\ntls_key = \"b.pem\"\n[server.acme]\ndomains = [\"x.example.com\"]\n\
                    [auth]\nmethod = \"basic\"\nusername = \"u\"\npassword = \"p\"\n";
        let c = crate::receiver::Config::from_parts(Some(text), "t", Vec::new()).unwrap();
        assert_eq!(
            c.server.acme.as_ref().unwrap().domains,
            vec!["x.example.com"]
        );
        let e = c.validate_for_serving().unwrap_err().to_string();
        assert!(e.contains("exclude each other"), "{e}");
        let e = crate::receiver::Config::from_parts(
            Some("[server.acme]\ndomian = \"x\""),
            "t",
            Vec::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("domian"), "{e}");
    }

    #[test]
    fn clear_errors() {
        for (text, expected) in [
            ("", "domains is empty"),
            ("domains = [\"*.example.com\"]", "wildcard"),
            ("domains = [\"127.0.0.1\"]", "not a DNS name"),
            ("domains = [\"https://x.example.com/\"]", "not a DNS name"),
            (
                "domains = [\"x.com\"]\ndirectory_url = \"http://ca\"",
                "https://",
            ),
            (
                "domains = [\"x.com\"]\nchallenge = \"http-01\"",
                "http_listen",
            ),
            (
                "domains = [\"x.com\"]\nhttp_listen = \"0.0.0.0:80\"",
                "only used",
            ),
            (
                "domains = [\"x.com\"]\ncontact = [\"mailto:nobody\"]",
                "mail address",
            ),
        ] {
            let e = parse(text).validate(false).unwrap_err();
            assert!(e.contains(expected), "{text}: {e}");
        }
    }
}
