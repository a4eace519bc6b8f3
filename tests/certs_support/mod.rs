//! Shared by the certificate tests (doctor, ACME): a test PKI made with
//! rcgen (root -> intermediate -> leaf), free ports, and the tools the
//! tests run (openssl, pebble), installed when missing and allowed.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// A test CA with one intermediate and a leaf for `localhost` and 127.0.0.1.
pub struct Pki {
    pub root_pem: String,
    pub intermediate_pem: String,
    pub leaf_pem: String,
    pub leaf_key_pem: String,
}

impl Pki {
    pub fn new(prefix: &str) -> Pki {
        Self::for_names(prefix, &["localhost", "127.0.0.1"])
    }

    /// The same with a leaf for these names only.
    pub fn for_names(prefix: &str, names: &[&str]) -> Pki {
        Self::build(prefix, names, None)
    }

    /// [`Pki::new`] with a leaf valid from `from` to `until`, in seconds
    /// from now (negative: in the past); the CAs stay valid.
    pub fn with_leaf_validity(prefix: &str, from: i64, until: i64) -> Pki {
        Self::build(prefix, &["localhost", "127.0.0.1"], Some((from, until)))
    }

    fn build(prefix: &str, names: &[&str], validity: Option<(i64, i64)>) -> Pki {
        let ca = |name: &str| {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params
                .distinguished_name
                .push(DnType::CommonName, format!("{prefix} {name}"));
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            params
        };
        let root = CertifiedIssuer::self_signed(ca("Root"), KeyPair::generate().unwrap()).unwrap();
        let intermediate =
            CertifiedIssuer::signed_by(ca("Intermediate"), KeyPair::generate().unwrap(), &root)
                .unwrap();
        let mut leaf =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        leaf.distinguished_name.push(DnType::CommonName, names[0]);
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if let Some((from, until)) = validity {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let at = |offset: i64| {
                rcgen::date_time_ymd(1970, 1, 1)
                    + Duration::from_secs(now.checked_add_signed(offset).unwrap())
            };
            leaf.not_before = at(from);
            leaf.not_after = at(until);
        }
        let leaf_key = KeyPair::generate().unwrap();
        let leaf_cert = leaf.signed_by(&leaf_key, &intermediate).unwrap();
        Pki {
            root_pem: root.pem(),
            intermediate_pem: intermediate.pem(),
            leaf_pem: leaf_cert.pem(),
            leaf_key_pem: leaf_key.serialize_pem(),
        }
    }

    /// Leaf then intermediate.
    pub fn full_chain(&self) -> String {
        format!("{}{}", self.leaf_pem, self.intermediate_pem)
    }
}

/// A port that was free a moment ago.
pub use crate::port_support::free_port;

/// Wait until something accepts connections on `port`.
pub async fn wait_for_port(port: u16, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn found(program: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Make sure `program` (from Debian package `package`) is there: install it
/// with apt-get when missing and running as root. `false` when it cannot be had.
pub fn ensure_tool(program: &str, package: &str) -> bool {
    if found(program) {
        return true;
    }
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if root && found("apt-get") {
        eprintln!("installing {package} (apt-get) for this test");
        let _ = std::process::Command::new("sh")
            .args([
                "-c",
                &format!("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {package} >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {package} >/dev/null 2>&1)"),
            ])
            .status();
    }
    found(program)
}

/// Whether the test command requires every tool-based test to run
/// (`./scripts/test.sh` sets it): then a missing tool fails the test
/// instead of skipping it.
pub fn tools_required() -> bool {
    std::env::var_os("TRADECLOUD_REQUIRE_TOOLS").is_some_and(|v| v == "1")
}

pub fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}
