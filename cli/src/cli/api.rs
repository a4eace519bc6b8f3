//! `tradecloud order|shipment|poll|document ...`: calls to Tradecloud's API
//! with the typed client ([`tradecloud::client::Client`]).
//!
//! Credentials come from `TRADECLOUD_USERNAME` and `TRADECLOUD_PASSWORD`,
//! else from the `[tradecloud]` section of the configuration file
//! (`--config PATH`, or `tradecloud.toml` in the current directory):
//!
//! ```toml
//! [tradecloud]
//! environment = "acceptance"   # or production, or base_url = "http://127.0.0.1:8080/v2"
//! username = "integration@example.com"
//! password_file = "/run/secrets/tradecloud-password"   # or password = "..."
//! ```
//!
//! The environment comes from `--base-url` (or `TRADECLOUD_BASE_URL`), else
//! `TRADECLOUD_ENV`, else the configuration file, else production.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use futures_util::{Stream, StreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tradecloud::client::{
    Client, ClientBuilder, DocumentSource, DownloadOutcome, Environment, PollBatch, PollError,
    PollStream, Polled, ENV_BASE_URL, ENV_ENVIRONMENT, ENV_PASSWORD, ENV_USERNAME,
};
use tradecloud::types::DateTime;

use super::{write, GlobalArgs};

/// The configuration file read when `--config` is not given, if it exists.
const DEFAULT_CONFIG_FILE: &str = "tradecloud.toml";

/// The exit-status line of a sending command's `--help`.
macro_rules! exit_line {
    () => {
        "Exit status: 0 sent, 1 not sent (file, rule, credentials), 3 refused by Tradecloud, \
         4 unavailable (send again later), 5 may have arrived (check first); see `tradecloud order --help`"
    };
}

/// `tradecloud order ...`
#[derive(Debug, Subcommand)]
pub enum OrderCommand {
    /// Fetch a whole order (all lines) and print it as JSON.
    Get {
        /// The Tradecloud order id (`orderId` of an order event, `id` of an order).
        id: String,
    },
    /// Send a new or updated purchase order as the buyer (JSON or tXML).
    #[command(after_help = concat!(
        "Example:\n  tradecloud order send PO123.json\n  tradecloud order send --single-delivery PO123.xml\n  \
         tradecloud order send --dry-run PO123.json > body.json\n\n",
        exit_line!()
    ))]
    Send {
        #[command(flatten)]
        message: write::MessageArgs,
        /// The order has a single delivery per line (POST /api-connector/order/single-delivery).
        #[arg(long)]
        single_delivery: bool,
    },
    /// Answer a purchase order as the supplier: accept, reject or propose (JSON or tXML).
    #[command(after_help = concat!(
        "Example:\n  tradecloud order respond response-PO123.json\n  tradecloud order respond --format txml response.tx\n\n",
        exit_line!()
    ))]
    Respond(write::MessageArgs),
    /// Send order and line indicators (cancelled, completed, delivered, ...) as the buyer (JSON).
    #[command(after_help = concat!(
        "Example:\n  tradecloud order indicators cancel-PO123.json\n  tradecloud order indicators --dry-run cancel-PO123.json\n\n",
        exit_line!()
    ))]
    Indicators(write::MessageArgs),
    /// Attach documents (an uploaded objectId, a URL or meta data) to an order or its lines (JSON).
    #[command(after_help = concat!(
        "Example:\n  id=$(tradecloud document upload drawing.pdf)\n  tradecloud order attach-documents documents-PO123.json\n\n",
        exit_line!()
    ))]
    AttachDocuments(write::MessageArgs),
    /// Append received goods to the delivery history of order lines (JSON; not resent after a doubtful failure).
    #[command(after_help = concat!(
        "Example:\n  tradecloud order deliveries goods-received-PO123.json\n\n",
        exit_line!()
    ))]
    Deliveries(write::MessageArgs),
    /// Replace the delivery history of order lines (JSON).
    #[command(after_help = concat!(
        "Example:\n  tradecloud order delivery-history history-PO123.json\n\n",
        exit_line!()
    ))]
    DeliveryHistory(write::MessageArgs),
    /// Order actions on the order service: approve or reject requests, complete, deliver, revert, resend, ...
    #[command(
        subcommand,
        after_help = concat!(
            "Example:\n  tradecloud order action approve-requests 7e1f5b2c-... approve.json\n  \
             tradecloud order action reject-reschedule 7e1f5b2c-... 0001 reject.json\n  \
             echo '{}' | tradecloud order action resend 7e1f5b2c-... -\n\n",
            exit_line!()
        )
    )]
    Action(write::ActionCommand),
}

/// `tradecloud shipment ...`
#[derive(Debug, Subcommand)]
pub enum ShipmentCommand {
    /// Fetch a shipment (all lines and documents) and print it as JSON.
    Get {
        /// The Tradecloud shipment id.
        id: String,
    },
    /// Send a new or updated despatch advice as the supplier (JSON).
    #[command(after_help = concat!(
        "Example:\n  tradecloud shipment send-despatch-advice DA-1001.json\n  \
         tradecloud shipment send-despatch-advice --dry-run DA-1001.json\n\n",
        exit_line!()
    ))]
    SendDespatchAdvice(write::MessageArgs),
}

/// `tradecloud forecast ...`
#[derive(Debug, Subcommand)]
pub enum ForecastCommand {
    /// Send a new forecast as the buyer (JSON; appended, never updated, so not resent after a doubtful failure).
    #[command(after_help = concat!(
        "Example:\n  tradecloud forecast send forecast-2024-01.json\n  \
         tradecloud forecast send --slimstock slimstock-2024-01.json\n  \
         tradecloud forecast send --dry-run forecast-2024-01.json > body.json\n\n",
        exit_line!()
    ))]
    Send {
        #[command(flatten)]
        message: write::JsonMessageArgs,
        /// The forecast is a Slimstock forecast, M0..M35 per item (POST /api-connector/forecast/slimstock).
        #[arg(long)]
        slimstock: bool,
    },
}

/// `tradecloud poll ...`: everything changed since a watermark, over all
/// pages. The items go to stdout (JSON lines page by page as they arrive,
/// so a first sync holds one page in memory), the next watermark to stderr.
#[derive(Debug, Subcommand)]
pub enum PollCommand {
    /// Orders with a delivery schedule.
    Orders(PollArgs),
    /// Orders with a single delivery per line.
    SingleDelivery(PollArgs),
    /// Shipments.
    Shipments(PollArgs),
}

/// Options of `tradecloud poll`.
#[derive(Debug, Args)]
pub struct PollArgs {
    /// Only items changed after this timestamp: the watermark printed by the
    /// previous poll (e.g. 2025-04-23T10:01:53.812Z). Without it: everything.
    #[arg(long, value_name = "TIMESTAMP")]
    pub since: Option<String>,
    /// Output format of the items.
    #[arg(long, value_enum, default_value_t = PollFormat::JsonLines)]
    pub format: PollFormat,
}

/// How `tradecloud poll` prints the items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PollFormat {
    /// One compact JSON object per line.
    JsonLines,
    /// One pretty-printed JSON array.
    Array,
}

/// `tradecloud document ...`
#[derive(Debug, Subcommand)]
pub enum DocumentCommand {
    /// Download a document by objectId or URL, with a progress bar.
    Download {
        /// The document's `objectId` (from Tradecloud's object storage) or its `url`.
        source: String,
        /// A directory (the file keeps its own name) or a file path. Default: the current directory.
        #[arg(short, long, value_name = "PATH")]
        output: Option<PathBuf>,
    },
    /// Upload a file to Tradecloud's object storage and print its objectId (attach it as documents.objectId).
    #[command(after_help = concat!(
        "Example:\n  tradecloud document upload confirmation-PO123.pdf\n  \
         id=$(tradecloud document upload --file-name 'Drawing 4711.pdf' out/4711.pdf)\n\n",
        exit_line!()
    ))]
    Upload(write::UploadArgs),
}

/// `tradecloud order get ID`, and the sending commands of [`write`].
pub async fn run_order(cmd: OrderCommand, global: &GlobalArgs) -> Result<()> {
    match cmd {
        OrderCommand::Get { id } => {
            let order = client(global)?.orders().get(&id).await?;
            print_pretty(&order)
        }
        OrderCommand::Send {
            message,
            single_delivery,
        } => write::order_send(&message, single_delivery, global).await,
        OrderCommand::Respond(message) => write::order_respond(&message, global).await,
        OrderCommand::Indicators(message) => write::order_indicators(&message, global).await,
        OrderCommand::AttachDocuments(message) => {
            write::order_attach_documents(&message, global).await
        }
        OrderCommand::Deliveries(message) => write::order_deliveries(&message, global).await,
        OrderCommand::DeliveryHistory(message) => {
            write::order_delivery_history(&message, global).await
        }
        OrderCommand::Action(action) => write::order_action(&action, global).await,
    }
}

/// `tradecloud shipment get ID`, `tradecloud shipment send-despatch-advice FILE`
pub async fn run_shipment(cmd: ShipmentCommand, global: &GlobalArgs) -> Result<()> {
    match cmd {
        ShipmentCommand::Get { id } => {
            let shipment = client(global)?.shipments().get(&id).await?;
            print_pretty(&shipment)
        }
        ShipmentCommand::SendDespatchAdvice(message) => {
            write::shipment_send_despatch_advice(&message, global).await
        }
    }
}

/// `tradecloud forecast send FILE [--slimstock]`
pub async fn run_forecast(cmd: ForecastCommand, global: &GlobalArgs) -> Result<()> {
    match cmd {
        ForecastCommand::Send { message, slimstock } => {
            write::forecast_send(&message, slimstock, global).await
        }
    }
}

/// `tradecloud poll orders|single-delivery|shipments [--since TIMESTAMP]`
pub async fn run_poll(cmd: PollCommand, global: &GlobalArgs) -> Result<()> {
    let client = client(global)?;
    // JSON lines are printed page by page from the stream (a first sync
    // holds one page in memory); the array needs every item first.
    let format = cmd_args(&cmd).format;
    match (cmd, format) {
        (PollCommand::Orders(args), PollFormat::JsonLines) => {
            let start = since(&args)?;
            print_lines(client.orders().stream_since(start.clone()), start, "orders").await
        }
        (PollCommand::SingleDelivery(args), PollFormat::JsonLines) => {
            let start = since(&args)?;
            let poll = client.single_delivery_orders().stream_since(start.clone());
            print_lines(poll, start, "single-delivery orders").await
        }
        (PollCommand::Shipments(args), PollFormat::JsonLines) => {
            let start = since(&args)?;
            print_lines(
                client.shipments().stream_since(start.clone()),
                start,
                "shipments",
            )
            .await
        }
        (PollCommand::Orders(args), PollFormat::Array) => {
            let batch = client.orders().poll_since(since(&args)?).await?;
            print_array(batch, "orders")
        }
        (PollCommand::SingleDelivery(args), PollFormat::Array) => {
            let batch = client
                .single_delivery_orders()
                .poll_since(since(&args)?)
                .await?;
            print_array(batch, "single-delivery orders")
        }
        (PollCommand::Shipments(args), PollFormat::Array) => {
            let batch = client.shipments().poll_since(since(&args)?).await?;
            print_array(batch, "shipments")
        }
    }
}

/// `tradecloud document download OBJECT_ID_OR_URL [-o PATH]`, `tradecloud document upload FILE`
pub async fn run_document(cmd: DocumentCommand, global: &GlobalArgs) -> Result<()> {
    let (source, output) = match cmd {
        DocumentCommand::Download { source, output } => (source, output),
        DocumentCommand::Upload(args) => return write::document_upload(&args, global).await,
    };
    let source = DocumentSource::parse(&source);
    if source == DocumentSource::NoFile {
        bail!("nothing to download: give a document objectId or URL");
    }
    let client = client(global)?;
    let dest = output.unwrap_or_else(|| PathBuf::from("."));
    let bar = ProgressBar::new_spinner();
    bar.set_style(spinner_style());
    bar.enable_steady_tick(Duration::from_millis(120));
    let progress_bar = bar.clone();
    let mut length_known = false;
    let outcome = client
        .documents()
        .download(source, &dest)
        .progress(move |progress| {
            match (progress.total, length_known) {
                (Some(total), false) => {
                    progress_bar.set_length(total);
                    progress_bar.set_style(bar_style());
                    length_known = true;
                }
                (None, true) => {
                    // A retry without a known size.
                    progress_bar.set_style(spinner_style());
                    length_known = false;
                }
                _ => {}
            }
            progress_bar.set_position(progress.bytes);
        })
        .await;
    bar.finish_and_clear();
    match outcome? {
        DownloadOutcome::Downloaded(file) => {
            eprintln!(
                "downloaded {} ({} bytes{})",
                file.file_name,
                file.bytes,
                file.content_type
                    .as_deref()
                    .map(|t| format!(", {t}"))
                    .unwrap_or_default()
            );
            super::write_stdout(format!("{}\n", file.path.display()).as_bytes())
        }
        DownloadOutcome::NoFile => bail!("the document has no file attached"),
    }
}

pub(super) fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{bar:40.cyan/blue} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {bytes} {bytes_per_sec}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn since(args: &PollArgs) -> Result<Option<DateTime>> {
    args.since
        .as_deref()
        .map(|text| {
            text.trim().parse::<DateTime>().map_err(|e| {
                anyhow::anyhow!(
                    "--since {text:?} is not a timestamp ({e}): use the watermark printed by the previous poll, \
                     e.g. 2025-04-23T10:01:53.812Z"
                )
            })
        })
        .transpose()
}

fn cmd_args(cmd: &PollCommand) -> &PollArgs {
    match cmd {
        PollCommand::Orders(args)
        | PollCommand::SingleDelivery(args)
        | PollCommand::Shipments(args) => args,
    }
}

/// One JSON object per line as the pages arrive; an item that changed again
/// while the poll was paging comes again (the later line is newer). When the
/// poll fails half-way, stderr says from which watermark to go on (the
/// error's [`PollError::resume_from`]).
async fn print_lines<T: Serialize>(
    mut poll: PollStream<T>,
    start: Option<DateTime>,
    kind: &str,
) -> Result<()>
where
    PollStream<T>: Stream<Item = Result<Polled<T>, PollError>>,
{
    let mut out = BufWriter::new(std::io::stdout());
    let mut items = 0u64;
    let mut watermark = start;
    while let Some(event) = poll.next().await {
        match event {
            Ok(Polled::Item(item)) => {
                let written = serde_json::to_writer(&mut out, &item)
                    .map_err(std::io::Error::from)
                    .and_then(|()| out.write_all(b"\n"));
                super::finish_stdout(written)?;
                items += 1;
            }
            // Everything before a watermark is out before it is reported.
            Ok(Polled::Watermark(next)) => {
                super::finish_stdout(out.flush())?;
                watermark = Some(next);
            }
            Err(error) => {
                super::finish_stdout(out.flush())?;
                let resume = match &error.resume_from {
                    Some(w) => format!("poll again with --since {w}"),
                    None => "poll again without --since".to_string(),
                };
                return Err(anyhow::Error::new(error.error).context(format!(
                    "the poll stopped after {items} {kind} in {} page(s): {resume} (the items printed up to that watermark are complete; the last one before it comes again)",
                    poll.pages()
                )));
            }
        }
    }
    super::finish_stdout(out.flush())?;
    eprintln!("{items} {kind} in {} page(s)", poll.pages());
    print_watermark(watermark.as_ref());
    Ok(())
}

/// All items as one pretty JSON array, each once.
fn print_array<T: Serialize>(batch: PollBatch<T>, kind: &str) -> Result<()> {
    let mut out = BufWriter::new(std::io::stdout());
    let written = serde_json::to_writer_pretty(&mut out, &batch.items)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    super::finish_stdout(written)?;
    eprintln!("{} {kind} in {} page(s)", batch.items.len(), batch.pages);
    print_watermark(batch.next_watermark.as_ref());
    Ok(())
}

fn print_watermark(watermark: Option<&DateTime>) {
    match watermark {
        Some(watermark) => {
            eprintln!("next watermark: {watermark}  (pass it as --since to the next poll)")
        }
        None => {
            eprintln!("next watermark: none (nothing has changed yet; poll again without --since)")
        }
    }
}

fn print_pretty<T: Serialize>(value: &T) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    super::finish_stdout(written)
}

/// The `[tradecloud]` section of the configuration file.
#[derive(Debug, Default)]
struct FileSettings {
    environment: Option<String>,
    base_url: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

fn file_settings(global: &GlobalArgs) -> Result<FileSettings> {
    let path = match &global.config {
        Some(path) => path.clone(),
        None => {
            let default = PathBuf::from(DEFAULT_CONFIG_FILE);
            if !default.is_file() {
                return Ok(FileSettings::default());
            }
            default
        }
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))?;
    let Some(section) = table.get("tradecloud") else {
        return Ok(FileSettings::default());
    };
    let text_of = |key: &str| -> Result<Option<String>> {
        match section.get(key) {
            None => Ok(None),
            Some(toml::Value::String(value)) => Ok(Some(value.clone())),
            Some(_) => bail!("{}: [tradecloud] {key} must be a string", path.display()),
        }
    };
    let mut password = text_of("password")?;
    if let Some(file) = text_of("password_file")? {
        let file = resolve(&path, Path::new(&file));
        let secret = std::fs::read_to_string(&file).with_context(|| {
            format!(
                "cannot read the password file {} ([tradecloud] password_file)",
                file.display()
            )
        })?;
        password = Some(secret.trim_end_matches(['\r', '\n']).to_owned());
    }
    Ok(FileSettings {
        environment: text_of("environment")?,
        base_url: text_of("base_url")?,
        username: text_of("username")?,
        password,
    })
}

/// A path from the configuration file, relative to the file's directory.
fn resolve(config: &Path, path: &Path) -> PathBuf {
    match config.parent() {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    }
}

/// The client: environment variables first, then the configuration file.
pub(super) fn client(global: &GlobalArgs) -> Result<Client> {
    let mut builder = ClientBuilder::from_env()?;
    let settings = file_settings(global)?;
    let env_set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    if let Some(url) = &global.base_url {
        builder = builder.environment(Environment::custom(url.trim()));
    } else if !env_set(ENV_BASE_URL) && !env_set(ENV_ENVIRONMENT) {
        if let Some(url) = &settings.base_url {
            builder = builder.environment(Environment::custom(url.trim()));
        } else if let Some(name) = &settings.environment {
            builder = builder.environment(name.parse()?);
        }
    }
    if !builder.has_credentials() {
        match (settings.username, settings.password) {
            (Some(user), Some(password)) => builder = builder.credentials(user, password),
            (Some(_), None) => bail!(
                "[tradecloud] username is set in the configuration file but no password: set {ENV_PASSWORD} \
                 or [tradecloud] password_file"
            ),
            _ => bail!(
                "no Tradecloud credentials: set {ENV_USERNAME} and {ENV_PASSWORD} to the integration user's \
                 e-mail address and password (or [tradecloud] username and password_file in tradecloud.toml)"
            ),
        }
    }
    Ok(builder.build()?)
}
