//! Command line interface: argument parsing and dispatch. Each subcommand
//! lives in its own module and calls the library.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub mod api;
pub mod inspect;
pub mod mock;

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
pub enum Command {
    /// Parse a webhook body, order or shipment file and show what changed.
    Inspect(inspect::InspectArgs),
    /// Run a mock of Tradecloud's API for tests and local development.
    Mock(mock::MockArgs),
    /// Orders: `tradecloud order get ID`.
    #[command(subcommand)]
    Order(api::OrderCommand),
    /// Shipments: `tradecloud shipment get ID`.
    #[command(subcommand)]
    Shipment(api::ShipmentCommand),
    /// Poll for changed orders or shipments.
    #[command(subcommand)]
    Poll(api::PollCommand),
    /// Documents: `tradecloud document download OBJECT_ID_OR_URL [-o PATH]`.
    #[command(subcommand)]
    Document(api::DocumentCommand),
}

/// Set up `tracing` output on stderr.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn,tradecloud=info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Run a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Inspect(args) => inspect::run(args),
        Command::Mock(args) => mock::run(args).await,
        Command::Order(cmd) => api::run_order(cmd, &cli.global).await,
        Command::Shipment(cmd) => api::run_shipment(cmd, &cli.global).await,
        Command::Poll(cmd) => api::run_poll(cmd, &cli.global).await,
        Command::Document(cmd) => api::run_document(cmd, &cli.global).await,
    }
}
