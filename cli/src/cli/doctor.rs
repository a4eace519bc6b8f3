//! `tradecloud doctor URL`: check a deployed webhook endpoint the way
//! Tradecloud would ([`tradecloud::doctor`]).
//!
//! Exit status: 0 when Tradecloud would accept the endpoint (no check
//! failed), 1 otherwise.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::Args;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tradecloud::doctor::{self, Credentials, Options};

/// Check a deployed webhook endpoint from the outside, as Tradecloud (and
/// SSL Labs) would: DNS, TCP, TLS versions (1.2/1.3 offered, nothing
/// older), the certificate (trusted, not self-signed, complete chain, host
/// name, expiry, key), authentication (401 without and with wrong
/// credentials; the given ones pass), the routes and, for `tradecloud
/// serve`, whether its store accepts events (its /readyz). One line per check,
/// with how to fix each failure; exit status 0 only when Tradecloud would
/// accept the endpoint.
///
/// No event is delivered unless --send-test-event: the credentials are
/// tried with an empty body, which a receiver refuses after authenticating.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The webhook URL as configured in the Tradecloud portal.
    pub url: String,
    /// Basic authentication, as configured in the portal.
    #[arg(long, value_name = "USER:PASS", env = "TRADECLOUD_DOCTOR_BASIC", hide_env_values = true,
          conflicts_with_all = ["bearer", "entra_token_url"])]
    pub basic: Option<String>,
    /// Bearer token, as configured in the portal.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "TRADECLOUD_DOCTOR_BEARER",
        hide_env_values = true,
        conflicts_with = "entra_token_url"
    )]
    pub bearer: Option<String>,
    /// OAuth 2.0 (Microsoft identity platform): the portal's "Authentication URL".
    #[arg(long, value_name = "URL", requires_all = ["entra_client_id", "entra_client_secret", "entra_scope"])]
    pub entra_token_url: Option<String>,
    /// OAuth 2.0: the portal's "Client ID".
    #[arg(long, value_name = "ID", requires = "entra_token_url")]
    pub entra_client_id: Option<String>,
    /// OAuth 2.0: the portal's "Client Secret".
    #[arg(
        long,
        value_name = "SECRET",
        env = "TRADECLOUD_DOCTOR_ENTRA_CLIENT_SECRET",
        hide_env_values = true,
        requires = "entra_token_url"
    )]
    pub entra_client_secret: Option<String>,
    /// OAuth 2.0: the portal's "Scope".
    #[arg(long, value_name = "SCOPE", requires = "entra_token_url")]
    pub entra_scope: Option<String>,
    /// Also trust the root certificates in this PEM file (a test or private
    /// CA). Tradecloud itself trusts only public CAs.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Also check GET on the URL (older GET-webhook set-ups).
    #[arg(long)]
    pub get: bool,
    /// At the end, deliver one test event (an order or, for a URL with
    /// "shipment" in its path, a shipment event) and expect 2xx.
    #[arg(long)]
    pub send_test_event: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Timeout of each connection and request, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub timeout: u64,
}

fn credentials(args: &DoctorArgs) -> anyhow::Result<Credentials> {
    if let Some(basic) = &args.basic {
        let Some((username, password)) = basic.split_once(':') else {
            bail!("--basic takes USER:PASS");
        };
        return Ok(Credentials::Basic {
            username: username.into(),
            password: password.into(),
        });
    }
    if let Some(token) = &args.bearer {
        return Ok(Credentials::Bearer(token.clone()));
    }
    if let (Some(token_url), Some(client_id), Some(client_secret), Some(scope)) = (
        &args.entra_token_url,
        &args.entra_client_id,
        &args.entra_client_secret,
        &args.entra_scope,
    ) {
        return Ok(Credentials::Entra {
            token_url: token_url.clone(),
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
            scope: scope.clone(),
        });
    }
    Ok(Credentials::None)
}

fn roots(path: &PathBuf) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .with_context(|| format!("{}: invalid PEM", path.display()))?;
    if certs.is_empty() {
        bail!("{}: no CERTIFICATE found", path.display());
    }
    Ok(certs)
}

fn test_event(url: &str) -> (String, String) {
    use tradecloud::testing::Sample;
    let sample = if url.contains("shipment") {
        Sample::shipment_event("ShipmentIssuedBySupplier")
    } else {
        Sample::order_event("OrderIssuedByBuyer")
    };
    ("application/json".into(), sample.body().to_string())
}

/// Run `tradecloud doctor`; `Ok(false)` when the endpoint would not be accepted.
pub async fn run(args: DoctorArgs) -> anyhow::Result<bool> {
    let mut options = Options::new(args.url.clone());
    options.credentials = credentials(&args)?;
    if let Some(path) = &args.ca_file {
        options.extra_roots = roots(path)?;
    }
    options.get = args.get;
    options.timeout = Duration::from_secs(args.timeout.max(1));
    if args.send_test_event {
        options.test_event = Some(test_event(&args.url));
    }
    let report = doctor::run(&options).await;
    if args.json {
        let mut text = serde_json::to_string_pretty(&report)?;
        text.push('\n');
        super::write_stdout(text.as_bytes())?;
    } else {
        super::write_stdout(report.render_text().as_bytes())?;
    }
    Ok(report.accepted)
}
