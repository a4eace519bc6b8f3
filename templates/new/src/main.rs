//! Runs the Tradecloud webhook receiver with the ERP handler, configured by
//! `tradecloud.toml` and `TRADECLOUD_<SECTION>_<KEY>` environment variables.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use tradecloud::receiver::{Config, Receiver};

use {{crate_name}}::Erp;

/// Receive Tradecloud webhooks over HTTPS, store them durably and hand them
/// to the ERP handler. Stop with Ctrl-C or SIGTERM (in-flight requests are
/// finished first).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Configuration file; every key can be overridden by
    /// TRADECLOUD_<SECTION>_<KEY>, e.g. TRADECLOUD_AUTH_PASSWORD.
    #[arg(long, env = "TRADECLOUD_CONFIG", default_value = "tradecloud.toml")]
    config: PathBuf,
    /// Serve a self-signed certificate for localhost instead of
    /// server.tls_cert/tls_key. For local tests only: Tradecloud does not
    /// accept self-signed certificates.
    #[arg(long)]
    dev_tls: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal and without NO_COLOR: a log file, a pipe or
    // the systemd journal gets plain text.
    let colour = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .init();
    let args = Args::parse();

    // `[erp]` is this service's own section; any other unknown section is
    // refused as a typing error.
    let config = Config::load_with_sections(Some(&args.config), &["erp"])
        .with_context(|| format!("cannot load the configuration {}", args.config.display()))?;
    let documents_dir = config
        .other
        .get("erp")
        .and_then(|erp| erp.get("documents_dir"))
        .and_then(|dir| dir.as_str())
        .unwrap_or("documents")
        .to_owned();

    let mut builder = Receiver::builder()
        .config(config)
        .handler(Erp::new(documents_dir));
    if args.dev_tls {
        builder = builder.dev_tls();
    }
    let receiver = builder.build().await.context("cannot start the receiver")?;
    tracing::info!("listening on https://{}", receiver.local_addr());
    receiver
        .run()
        .await
        .context("the receiver stopped with an error")?;
    Ok(())
}
