//! Command line interface: argument parsing and dispatch. Each subcommand
//! lives in its own module and calls the library.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub mod api;
pub mod doctor;
pub mod inbox;
pub mod inbox_replay;
pub mod inspect;
pub mod mock;
pub mod mock_portal;
pub mod new;
pub mod send;
pub mod serve;
pub mod terminal;
pub mod write;

/// Tradecloud integration kit: typed API client, webhook tools and a mock of Tradecloud.
#[derive(Debug, Parser)]
#[command(name = "tradecloud", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Tradecloud API base URL (overrides TRADECLOUD_ENV), e.g. http://127.0.0.1:8080/v2 for the mock.
    #[arg(long, global = true, env = "TRADECLOUD_BASE_URL")]
    pub base_url: Option<String>,
    /// Configuration file (tradecloud.toml).
    #[arg(long, global = true, env = "TRADECLOUD_CONFIG")]
    pub config: Option<PathBuf>,
    /// More log output (-v: debug, -vv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run
pub enum Command {
    /// Parse a webhook body, order or shipment file and show what changed.
    Inspect(inspect::InspectArgs),
    /// Run a mock of Tradecloud's API for tests and local development; `mock shipment ...`, `mock order ...`: portal actions on a running mock.
    Mock(mock::MockArgs),
    /// Orders: `tradecloud order get ID`; send orders, responses, indicators, documents, deliveries; order actions.
    #[command(subcommand, after_help = write::ORDER_HELP)]
    Order(api::OrderCommand),
    /// Shipments: `tradecloud shipment get ID`, `tradecloud shipment send-despatch-advice FILE`.
    #[command(subcommand)]
    Shipment(api::ShipmentCommand),
    /// Forecasts: `tradecloud forecast send FILE [--slimstock]` (buyer).
    #[command(subcommand, after_help = write::ORDER_HELP)]
    Forecast(api::ForecastCommand),
    /// Poll for changed orders or shipments.
    #[command(subcommand)]
    Poll(api::PollCommand),
    /// Documents: `tradecloud document download OBJECT_ID_OR_URL [-o PATH]`, `tradecloud document upload FILE`.
    #[command(subcommand)]
    Document(api::DocumentCommand),
    /// The receiver's durable inbox: `inbox list [--json]`, `inbox show ID [--raw]`, `inbox replay ID`, `inbox dead`.
    #[command(subcommand)]
    Inbox(inbox::InboxCommand),
    /// Run the webhook receiver: HTTPS, authentication, durable inbox, processing.
    Serve(serve::ServeArgs),
    /// Check a deployed webhook endpoint as Tradecloud would: TLS, certificate, authentication, routes.
    Doctor(doctor::DoctorArgs),
    /// Deliver a body to a webhook URL the way Tradecloud does (retrying status codes above 500).
    Send(send::SendArgs),
    /// Create a new receiver service: `tradecloud new PATH [--role buyer|supplier] [--events orders,documents,shipments]`.
    New(new::NewArgs),
}

/// The command line's own advice for a client error that the SDK words in
/// its terms (the base URL given to the client): where this tool takes the
/// base URL from. `None` for other errors.
pub fn command_line_hint(error: &anyhow::Error) -> Option<&'static str> {
    use tradecloud::client::ClientError;
    let client_error = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<ClientError>())?;
    let base_url_suspect = match client_error {
        ClientError::Connect { .. } => true,
        ClientError::AuthenticationFailed { status, .. } => {
            !client_error.is_transient() && !matches!(status, 401 | 403)
        }
        _ => false,
    };
    base_url_suspect.then_some(
        "this command takes the base URL from --base-url (or TRADECLOUD_BASE_URL), else \
         TRADECLOUD_ENV, else base_url or environment in tradecloud.toml (production by default)",
    )
}

/// An error and its causes on one line, `outer: cause: its cause`, each
/// said once: a message that already contains the text of its cause (many
/// errors quote their source, `cannot read x: No such file`, and also
/// return it as `source()`) is not followed by that cause again.
pub fn error_chain(error: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Write `bytes` to stdout; a closed pipe (`tradecloud ... | head`) is not
/// an error.
pub fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    finish_stdout(stdout.write_all(bytes).and_then(|()| stdout.flush()))
}

/// The result of writing to stdout: a closed pipe (`| head`) is not an error.
pub fn finish_stdout(result: std::io::Result<()>) -> anyhow::Result<()> {
    use anyhow::Context as _;
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to stdout"),
    }
}

/// The most a command reads of one input (a webhook body for `send`, a
/// message, a documents file, a file to inspect): 32 MiB, the receiver's
/// default `[server] max_body_bytes`. Tradecloud's largest bodies are far
/// smaller (a 500-line order, its limit, is about 1.5 MiB); the bound keeps
/// `/dev/zero` or a FIFO that never ends from filling the memory.
pub const MAX_INPUT_BYTES: usize = tradecloud::receiver::config::DEFAULT_MAX_BODY_BYTES;

/// All of `reader` (named `name` in errors) if it holds at most
/// [`MAX_INPUT_BYTES`]; reads one byte more at most. A larger input is
/// refused, naming the limit and then `fix`.
pub fn read_bounded(reader: impl std::io::Read, name: &str, fix: &str) -> anyhow::Result<Vec<u8>> {
    use anyhow::Context as _;
    use std::io::Read as _;
    let mut bytes = Vec::new();
    reader
        .take(MAX_INPUT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {name}"))?;
    if bytes.len() > MAX_INPUT_BYTES {
        anyhow::bail!(
            "{name} is larger than {MAX_INPUT_BYTES} bytes (32 MiB), the most `tradecloud` reads \
             of one input: {fix}"
        );
    }
    Ok(bytes)
}

/// [`read_bounded`] of standard input for `-`, else of the file at `path`.
/// Returns the input's name for messages too ("standard input" or the path).
pub fn read_file_or_stdin(path: &std::path::Path, fix: &str) -> anyhow::Result<(String, Vec<u8>)> {
    use anyhow::Context as _;
    if path.as_os_str() == "-" {
        let name = "standard input".to_owned();
        let bytes = read_bounded(std::io::stdin(), &name, fix)?;
        return Ok((name, bytes));
    }
    let name = path.display().to_string();
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {name}"))?;
    let bytes = read_bounded(file, &name, fix)?;
    Ok((name, bytes))
}

/// Whether log lines on standard error get ANSI colours: only on a terminal,
/// and not when `NO_COLOR` is set to anything but the empty string
/// (no-color.org). A file, a pipe or the systemd journal gets plain text.
fn colour_logs(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|value| value.is_empty())
}

/// Whether the log is one JSON object per line: `tradecloud serve
/// --log-json`, or TRADECLOUD_LOG_JSON=1. Then nothing else may be written
/// to stderr as plain text.
pub fn log_json() -> bool {
    std::env::args().any(|a| a == "--log-json")
        || std::env::var("TRADECLOUD_LOG_JSON")
            .is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "yes"))
}

/// Set up `tracing` output on stderr.
pub fn init_logging(verbose: u8) {
    init_logging_with(verbose, None);
}

/// The layer exporting spans (`tradecloud serve` with OpenTelemetry on).
pub type SpanLayer = Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>;

/// [`init_logging`] with an OpenTelemetry layer beside the log output;
/// each has a filter of its own (`RUST_LOG` is the log's, see
/// `tradecloud::telemetry` for the spans').
pub fn init_logging_with(verbose: u8, spans: Option<SpanLayer>) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;
    let default = match verbose {
        0 => "warn,tradecloud=info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let json = log_json();
    let log = tracing_subscriber::fmt::layer()
        .with_ansi(colour_logs(
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .with_writer(std::io::stderr);
    let log = if json {
        log.json().boxed()
    } else {
        log.boxed()
    };
    let _ = tracing_subscriber::registry()
        .with(spans)
        .with(log.with_filter(filter))
        .try_init();
}

/// Run a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Inspect(args) => inspect::run(args),
        Command::Mock(args) => mock::run(args, &cli.global).await,
        Command::Order(cmd) => api::run_order(cmd, &cli.global).await,
        Command::Shipment(cmd) => api::run_shipment(cmd, &cli.global).await,
        Command::Forecast(cmd) => api::run_forecast(cmd, &cli.global).await,
        Command::Poll(cmd) => api::run_poll(cmd, &cli.global).await,
        Command::Document(cmd) => api::run_document(cmd, &cli.global).await,
        Command::Inbox(cmd) => inbox::run(cmd, &cli.global).await,
        Command::Serve(args) => serve::run(args, &cli.global).await,
        Command::Send(args) => send::run(args).await,
        Command::Doctor(args) => {
            if !doctor::run(args).await? {
                // The report says why; the status tells scripts.
                std::process::exit(1);
            }
            Ok(())
        }
        Command::New(args) => new::run(args),
    }
}

#[cfg(test)]
mod tests {
    use super::{colour_logs, command_line_hint};
    use std::ffi::OsStr;

    #[test]
    fn a_login_that_points_at_the_base_url_gets_the_flag_hint() {
        use tradecloud::client::{AuthStep, ClientError};
        let login = |status| {
            anyhow::Error::new(ClientError::AuthenticationFailed {
                step: AuthStep::Login,
                what: "order 1".into(),
                base_url: "http://127.0.0.1:8080".into(),
                username: "integration@example.com".into(),
                status,
                attempts: 1,
                message: None,
            })
            .context("cannot get the order")
        };
        let hint = command_line_hint(&login(404)).expect("a hint for a 404 login");
        assert!(hint.contains("--base-url"), "{hint}");
        // Refused credentials or a service that is down: not the base URL.
        assert_eq!(command_line_hint(&login(403)), None);
        assert_eq!(command_line_hint(&login(503)), None);
        assert_eq!(command_line_hint(&anyhow::anyhow!("other")), None);
    }

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        assert!(colour_logs(true, None));
        assert!(colour_logs(true, Some(OsStr::new(""))));
        assert!(!colour_logs(true, Some(OsStr::new("1"))));
        assert!(!colour_logs(false, None));
    }
}
