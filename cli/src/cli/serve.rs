//! `tradecloud serve`: run the webhook receiver ([`tradecloud::receiver`])
//! from `tradecloud.toml` and the `TRADECLOUD_*` environment variables,
//! with a handler that logs each event.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use tradecloud::receiver::{Config, LogHandler, Metrics, Receiver};

use super::GlobalArgs;

/// Run the webhook receiver: HTTPS (TLS 1.2/1.3), authentication of
/// Tradecloud's calls, a durable inbox written before every 2xx, and
/// processing of the stored events (logged by the built-in handler).
///
/// The configuration comes from --config (default ./tradecloud.toml, if
/// present) and TRADECLOUD_<SECTION>_<KEY> environment variables, e.g.
/// TRADECLOUD_AUTH_PASSWORD. Stop with SIGTERM or Ctrl-C: in-flight
/// requests are finished first, and running handlers get
/// processing.shutdown_grace_secs; a second SIGTERM or Ctrl-C cancels them
/// at once (their events go back to the queue uncounted).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve a self-signed certificate for localhost instead of
    /// server.tls_cert/tls_key. For local tests only: Tradecloud does not
    /// accept self-signed certificates.
    #[arg(long)]
    pub dev_tls: bool,
    /// With --dev-tls: write the generated certificate (PEM) here, for
    /// clients to trust (`tradecloud send --cacert PATH`, `tradecloud mock
    /// --ca-file PATH` delivering webhooks to it).
    #[arg(long, value_name = "PATH", requires = "dev_tls")]
    pub dev_cert_out: Option<PathBuf>,
    /// Listen on this address instead of server.listen.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Only receive and store; do not process the stored events.
    #[arg(long)]
    pub receive_only: bool,
    /// Log one JSON object per line (also TRADECLOUD_LOG_JSON=1).
    #[arg(long)]
    pub log_json: bool,
}

/// Run `tradecloud serve`.
pub async fn run(args: ServeArgs, global: &GlobalArgs) -> anyhow::Result<()> {
    let mut config =
        Config::load(global.config.as_deref()).context("cannot load the configuration")?;
    // Traces: `[telemetry]` and the OTEL_* variables (off without an endpoint).
    let telemetry = tradecloud::telemetry::Telemetry::from_config(&config.telemetry)?;
    super::init_logging_with(
        global.verbose,
        telemetry
            .as_ref()
            .map(|t| Box::new(t.layer()) as super::SpanLayer),
    );
    if let Some(telemetry) = &telemetry {
        tracing::info!(
            endpoint = telemetry.endpoint(),
            "exporting traces over OTLP/HTTP"
        );
    }
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    if let Some(url) = &global.base_url {
        config.tradecloud.base_url = Some(url.clone());
    }
    let mut builder = Receiver::builder().config(config);
    if let Some(telemetry) = &telemetry {
        // tradecloud_trace_export_failures_total beside the receiver's metrics.
        let metrics = Metrics::new();
        telemetry.register_metrics(&metrics);
        builder = builder.metrics(metrics);
    }
    if args.dev_tls {
        builder = builder.dev_tls();
    }
    if !args.receive_only {
        builder = builder.handler(LogHandler);
    }
    let receiver = builder.build().await.context("cannot start the receiver")?;
    // With --log-json every line on stderr is a JSON object: what is said
    // here as plain text for a person goes through the log instead.
    let json = super::log_json();
    if let Some(pem) = receiver.dev_certificate_pem() {
        // (With --log-json the builder's warning says it.)
        if !json {
            eprintln!(
                "\n  *** DEVELOPMENT TLS: self-signed certificate for localhost.\n  *** Tradecloud will NOT accept it. \
                 Configure server.tls_cert and server.tls_key with a certificate from a public CA.\n"
            );
        }
        if let Some(path) = &args.dev_cert_out {
            std::fs::write(path, pem)
                .with_context(|| format!("cannot write {}", path.display()))?;
            if json {
                tracing::info!(
                    path = %path.display(),
                    "development certificate written to {} (trust it with `tradecloud send --cacert {}`)",
                    path.display(),
                    path.display()
                );
            } else {
                eprintln!(
                    "  Certificate written to {} (trust it with `tradecloud send --cacert {}`).\n",
                    path.display(),
                    path.display()
                );
            }
        }
    }
    // (With --log-json the receiver's own log line says where the console is.)
    if let (Some(addr), false) = (receiver.console_addr(), json) {
        let scheme = if receiver.config().console.tls {
            "https"
        } else {
            "http"
        };
        eprintln!("operator console on {scheme}://{addr}");
    }
    // Handlers first, then the line a supervisor waits for: a SIGTERM sent
    // on seeing "listening" must find them in place.
    let (shutdown, again) = tradecloud::receiver::shutdown_signals();
    let addr = receiver.local_addr();
    if json {
        tracing::info!(listen = %addr, "listening on https://{addr}");
    } else {
        eprintln!("listening on https://{addr}");
    }
    // A second SIGTERM or Ctrl-C cancels the handlers still running at once.
    receiver.run_until_or_now(shutdown, again).await?;
    if let Some(telemetry) = telemetry {
        // Export what is still buffered (blocks on the exporter's thread).
        let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    }
    Ok(())
}
