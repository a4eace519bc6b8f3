//! `tradecloud mock`: run a mock of Tradecloud's API v2 (see
//! [`tradecloud::mock`]) until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use tradecloud::mock::{
    Fault, FaultConfig, FaultTrigger, MockConfig, MockData, MockDocument, MockServer, MockWebhooks,
    WebhookFault, DEFAULT_PASSWORD, DEFAULT_USERNAME,
};

/// Run a mock of Tradecloud's API v2 for tests and local development.
///
/// Without --fixtures it serves a built-in demo data set. Durations take a
/// unit: 500ms, 30s, 5m, 1h (a bare number is seconds).
///
/// `tradecloud mock shipment ...` plays a portal action (approve, reject,
/// update-header, attach-documents, resend) on a shipment of a mock that
/// runs already.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MockArgs {
    /// Act on a running mock instead of starting one.
    #[command(subcommand)]
    pub action: Option<MockCommand>,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Fixture directory: orders/*.json, single-delivery-orders/*.json,
    /// shipments/*.json, documents/<objectId>.<ext> (replaces the demo data).
    #[arg(long, value_name = "DIR")]
    pub fixtures: Option<PathBuf>,
    /// User name (e-mail address) of the integration user.
    #[arg(long, default_value = DEFAULT_USERNAME)]
    pub username: String,
    /// Password of the integration user.
    #[arg(long, default_value = DEFAULT_PASSWORD)]
    pub password: String,
    /// Lifetime of access tokens.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub access_token_lifetime: Duration,
    /// Lifetime of refresh tokens.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
    pub refresh_token_lifetime: Duration,
    /// Lifetime of presigned download URLs.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub download_url_lifetime: Duration,
    /// Answer --fail-status to this share of API requests (0.0 to 1.0).
    #[arg(long, value_name = "RATE", conflicts_with = "fail_every")]
    pub fail_rate: Option<f64>,
    /// Answer --fail-status to every Nth API request.
    #[arg(long, value_name = "N")]
    pub fail_every: Option<u64>,
    /// Status code of injected failures (429 gets a Retry-After header).
    #[arg(long, value_name = "STATUS", default_value_t = 503)]
    pub fail_status: u16,
    /// Retry-After seconds sent with injected failures (default: 1 for 429
    /// and 503, none otherwise).
    #[arg(long, value_name = "SECONDS")]
    pub retry_after: Option<u64>,
    /// Delay API requests by this many milliseconds.
    #[arg(long, value_name = "MS")]
    pub delay_ms: Option<u64>,
    /// Share of API requests that get the --delay-ms delay (0.0 to 1.0).
    #[arg(long, value_name = "RATE", default_value_t = 1.0)]
    pub delay_rate: f64,
    /// Only inject faults into these operations (operation ids such as
    /// pollOrdersRoute, getDocumentMetadata, login, the webhook settings'
    /// setOrderEventsSettings, a portal action's mockApproveShipmentByBuyer;
    /// repeatable).
    #[arg(long = "fault-operation", value_name = "OPERATION_ID")]
    pub fault_operations: Vec<String>,
    /// Seed for the random fault injection (for reproducible runs).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Serve a file as a document: OBJECT_ID=PATH (repeatable).
    #[arg(long = "document", value_name = "OBJECT_ID=PATH")]
    pub documents: Vec<String>,
    /// Serve a generated document of SIZE bytes: OBJECT_ID=SIZE, e.g.
    /// big-file=200MB (repeatable; streamed, never held in memory).
    #[arg(long = "generated-document", value_name = "OBJECT_ID=SIZE")]
    pub generated_documents: Vec<String>,
    /// Once the port listens, write JSON with the base URL and both
    /// companies' ids, users, passwords and account numbers to this file
    /// (atomically): {"base_url", "buyer": {"company_id", "username",
    /// "password", "supplier_account_number"}, "supplier": {"company_id",
    /// "username", "password", "buyer_account_number"}}.
    #[arg(long, value_name = "PATH")]
    pub info_file: Option<PathBuf>,
    /// Both companies' webhooks, JSON: {"buyer": {"orderEvents": SETTINGS,
    /// "orderDocumentsEvents": SETTINGS, "shipmentEvents": SETTINGS},
    /// "supplier": {...}}, SETTINGS with the members of Tradecloud's
    /// settings endpoints (method, webhookUrl, basicAuthCredentials,
    /// bearerToken, format, singleDeliveryPerOrderLine, enabledEventNames).
    /// Also settable through those endpoints.
    #[arg(long, value_name = "FILE")]
    pub webhooks: Option<PathBuf>,
    /// First retry delay of a webhook delivery answered above 500 or not
    /// at all (doubling after it).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub delivery_backoff: Duration,
    /// PEM file of CA certificates trusted for https:// webhook targets,
    /// besides the system roots (for a local `tradecloud serve --dev-tls`,
    /// the certificate its `--dev-cert-out PATH` writes).
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Make webhook targets fail as the mock sees them:
    /// [buyer:|supplier:]KIND[:N], KIND `down`, a status code (`503`) or
    /// `slow=DURATION`, N the number of first attempts that fail (default:
    /// all). E.g. `supplier:503:2`. Repeatable.
    #[arg(long = "webhook-fault", value_name = "SPEC", value_parser = parse_webhook_fault)]
    pub webhook_faults: Vec<WebhookFault>,
}

/// `tradecloud mock ...`: what to do with a mock that runs already.
#[derive(Debug, Subcommand)]
pub enum MockCommand {
    /// The portal actions on a shipment of a running mock, as the buyer or supplier takes them in Tradecloud's portal (which Tradecloud's API has no route for).
    #[command(subcommand, after_help = SHIPMENT_HELP)]
    Shipment(super::mock_portal::ShipmentActionCommand),
    /// The portal actions on an order of a running mock (mark lines open or delivered, resend), as the buyer or supplier takes them in Tradecloud's portal (which Tradecloud's API has no route for).
    #[command(subcommand, after_help = ORDER_HELP)]
    Order(super::mock_portal::OrderActionCommand),
}

/// The `--help` of `tradecloud mock order`.
const ORDER_HELP: &str = "\
Each command POSTs to the mock's own route /mock/order/{orderId}/... (not a Tradecloud path)
as the company --by names and prints the order as it is afterwards; the mock sends the event
to the other company's order webhook (a resend: to the resending company's own). It acts on
orders the mock's process made (sent by the buyer), not on its demo or fixture data. The mock
and the acting user as for `tradecloud mock shipment`. Exit status: 0 done, 1 nothing sent
(bad arguments), 3 the mock refused it (404 unknown order or line, 400 no line named can take
the action, 409 demo or fixture data, 401/403 the user), 4 the mock could not be reached or
answered 5xx.

Examples:
  tradecloud mock --info-file mock.json &
  tradecloud mock order deliver --by supplier --info-file mock.json 5c1e9f2a-... 0001
  tradecloud mock order open --by buyer --info-file mock.json 5c1e9f2a-... 0001
  tradecloud mock order resend --by buyer --info-file mock.json 5c1e9f2a-...";

/// The `--help` of `tradecloud mock shipment`.
const SHIPMENT_HELP: &str = "\
Each command POSTs to the mock's own route /mock/shipment/{shipmentId}/... (not a Tradecloud
path) and prints the shipment as it is afterwards; the mock sends the event to the other
company's shipment webhook. The mock: --mock-url, else --info-file, else --base-url
(TRADECLOUD_BASE_URL), else http://127.0.0.1:8080. The acting user: --username/--password
(TRADECLOUD_USERNAME/TRADECLOUD_PASSWORD), else the acting company's user in --info-file, else
the mock's default user. Exit status: 0 done, 1 nothing sent (bad arguments or file), 3 the
mock refused it (404 unknown shipment, 400 bad body, 409 already so, 401/403 the user),
4 the mock could not be reached or answered 5xx.

Example:
  tradecloud mock --info-file mock.json &
  tradecloud mock shipment approve --info-file mock.json 9a7b5c3d-1e2f-4a6b-8c0d-2e4f6a8b0c1d";

fn parse_webhook_fault(text: &str) -> Result<WebhookFault, String> {
    WebhookFault::parse(text)
}

/// Parse `500ms`, `30s`, `5m`, `1h`, `1.5s` or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 500ms, 30s, 5m or 1h"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}`; use ms, s, m or h"
            ))
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{text}`: {e}"))
}

/// Parse `1234`, `64KB`, `5MB`, `2GB` (powers of 1024; `B` optional).
fn parse_size(text: &str) -> anyhow::Result<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number
        .parse()
        .with_context(|| format!("`{text}` is not a size such as 5MB"))?;
    let factor: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        other => bail!("unknown size unit `{other}`; use B, KB, MB or GB"),
    };
    value
        .checked_mul(factor)
        .with_context(|| format!("`{text}` is too large"))
}

fn split_pair<'a>(text: &'a str, flag: &str) -> anyhow::Result<(&'a str, &'a str)> {
    match text.split_once('=') {
        Some((id, value)) if !id.is_empty() && !value.is_empty() => Ok((id, value)),
        _ => bail!("{flag} expects OBJECT_ID=VALUE, got `{text}`"),
    }
}

fn rate(value: f64, flag: &str) -> anyhow::Result<f64> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        bail!("{flag} must be between 0.0 and 1.0, got {value}")
    }
}

/// Build the mock configuration from the command line.
fn config(args: &MockArgs) -> anyhow::Result<MockConfig> {
    let mut config = MockConfig::new()
        .listen(args.listen)
        .user(args.username.clone(), args.password.clone())
        .access_token_lifetime(args.access_token_lifetime)
        .refresh_token_lifetime(args.refresh_token_lifetime)
        .download_url_lifetime(args.download_url_lifetime)
        .delivery_backoff(args.delivery_backoff);
    if let Some(path) = &args.webhooks {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the webhooks file {}", path.display()))?;
        config.webhooks = serde_json::from_str::<MockWebhooks>(&text).with_context(|| {
            format!(
                "{}: not webhook settings of the form {{\"buyer\": {{\"orderEvents\": {{\"webhookUrl\": ...}}}}, \"supplier\": {{...}}}}",
                path.display()
            )
        })?;
    }
    if let Some(path) = &args.ca_file {
        config = config.ca_file(path);
    }
    for fault in &args.webhook_faults {
        config = config.webhook_fault(fault.clone());
    }
    config = match &args.fixtures {
        Some(dir) => config.data(
            MockData::from_dir(dir)
                .with_context(|| format!("cannot load the fixtures in {}", dir.display()))?,
        ),
        None => config.demo_data(),
    };
    for spec in &args.documents {
        let (id, path) = split_pair(spec, "--document")?;
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("--document {id}: {} is not a file", path.display());
        }
        config = config.document(id, MockDocument::from_file(path));
    }
    for spec in &args.generated_documents {
        let (id, size) = split_pair(spec, "--generated-document")?;
        config = config.document(
            id,
            MockDocument::generated(format!("{id}.bin"), parse_size(size)?),
        );
    }
    let trigger = match (args.fail_rate, args.fail_every) {
        (Some(r), _) => Some(FaultTrigger::Probability(rate(r, "--fail-rate")?)),
        (None, Some(n)) => Some(FaultTrigger::EveryNth(n)),
        (None, None) => None,
    };
    if let Some(trigger) = trigger {
        let retry_after = args
            .retry_after
            .or(matches!(args.fail_status, 429 | 503).then_some(1));
        config = config.fault(FaultConfig {
            fault: Fault::Status {
                status: args.fail_status,
                retry_after,
            },
            trigger,
            operations: args.fault_operations.clone(),
        });
    }
    if let Some(ms) = args.delay_ms {
        let trigger = match rate(args.delay_rate, "--delay-rate")? {
            r if r >= 1.0 => FaultTrigger::Always,
            r => FaultTrigger::Probability(r),
        };
        config = config.fault(
            FaultConfig::delay(Duration::from_millis(ms), trigger)
                .for_operations(args.fault_operations.clone()),
        );
    }
    if let Some(seed) = args.seed {
        config = config.seed(seed);
    }
    Ok(config)
}

/// Start the mock, print where it listens and how to log in, and serve
/// until Ctrl-C (or SIGTERM); or, with a subcommand, act on a running
/// mock ([`super::mock_portal`]).
pub async fn run(args: MockArgs, global: &super::GlobalArgs) -> anyhow::Result<()> {
    match args.action {
        Some(MockCommand::Shipment(cmd)) => return super::mock_portal::run(cmd, global).await,
        Some(MockCommand::Order(cmd)) => return super::mock_portal::run_order(cmd, global).await,
        None => {}
    }
    let config = config(&args)?;
    let faults = config.faults.clone();
    let server = MockServer::start(config)
        .await
        .context("cannot start the mock")?;
    let credentials = server.credentials();
    let summary = server.data_summary();
    let base_url = server.base_url();
    // Handlers before the line a script waits for (the receiver's, see there).
    let shutdown = tradecloud::receiver::shutdown_signal();
    println!("Tradecloud mock listening on {base_url}");
    println!("username: {}", credentials.username);
    println!("password: {}", credentials.password);
    println!();
    println!("export TRADECLOUD_BASE_URL={base_url}");
    println!("export TRADECLOUD_USERNAME={}", credentials.username);
    println!("export TRADECLOUD_PASSWORD={}", credentials.password);
    println!();
    for (role, party) in [("buyer", server.buyer()), ("supplier", server.supplier())] {
        println!(
            "{role} {} (company {}): {} / {}; knows its partner as account {}",
            party.name,
            party.company_id,
            party.credentials.username,
            party.credentials.password,
            party.partner_account_number
        );
    }
    if let Some(path) = &args.info_file {
        server
            .write_info_file(path)
            .context("cannot write --info-file")?;
        println!("wrote {}", path.display());
    }
    println!();
    println!(
        "serving {} orders, {} single-delivery orders, {} shipments, {} documents",
        summary.orders,
        summary.single_delivery_orders,
        summary.shipments,
        summary.documents.len()
    );
    for object_id in &summary.documents {
        println!("  document {object_id}");
    }
    println!(
        "tokens: access {:?}, refresh {:?}; download URLs live {:?}",
        args.access_token_lifetime, args.refresh_token_lifetime, args.download_url_lifetime
    );
    for fault in &faults {
        println!("fault injection: {:?} on {:?}", fault.fault, fault.trigger);
    }
    println!("press Ctrl-C to stop");
    shutdown.await;
    println!("stopping the mock");
    server
        .shutdown()
        .await
        .context("the mock did not stop cleanly")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_parse() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3d").is_err());
        assert_eq!(parse_size("200MB").ok(), Some(200 << 20));
        assert_eq!(parse_size("17").ok(), Some(17));
        assert!(parse_size("5XB").is_err());
    }
}
