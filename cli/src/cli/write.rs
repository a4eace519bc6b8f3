//! The write side of the CLI: `tradecloud order send|respond|indicators|
//! attach-documents|deliveries|delivery-history|action ...`, `tradecloud
//! shipment send-despatch-advice`, `tradecloud forecast send` and
//! `tradecloud document upload`, each a
//! thin layer over a call of the typed client ([`tradecloud::client`]).
//!
//! Every message command goes the same way:
//!
//! 1. **Read** the file (or standard input for `-`) as JSON or tXML: by its
//!    extension (`.json`; `.xml` or `.txml`), or as `--format` says. tXML only
//!    where Tradecloud takes it (send order, send single delivery order,
//!    order response: the spec's operation table says so); anything else is
//!    an error before anything is read.
//! 2. **Check** it against Tradecloud's documented rules, with the same
//!    check the client runs before sending ([`Message::encode`]): a broken
//!    rule names the member by its JSON path and the rule, and nothing is
//!    sent.
//! 3. `--dry-run`: print the body as JSON, byte for byte as the client
//!    encodes it, followed by a newline, and stop (no credentials needed).
//!    For a tXML file this is the JSON form of the message (tXML is a
//!    one-to-one form of the JSON, api/json-vs-xml.md), checked to encode
//!    as tXML too; the real send puts it on the wire as tXML.
//! 4. Otherwise **send** it with the client of [`super::api`] (credentials
//!    and environment as every API command takes them) and print
//!    Tradecloud's answer as JSON.
//!
//! The exit status tells a script what happened: see [`ORDER_HELP`] (and
//! the README, which has the same table).

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tradecloud::client::{Client, ClientBuilder, ClientError, Message, WireFormat};
use tradecloud::operation::Operation;
use tradecloud::types::Validate;
use tradecloud::webhook::txml::{Kind, Shape};

use super::GlobalArgs;

/// The exit status table of the sending commands (a literal, for `concat!`).
macro_rules! exit_codes {
    () => {
        "\
Exit status of the sending commands (send, respond, indicators, attach-documents,
deliveries, delivery-history, action, send-despatch-advice, forecast send, upload):
  0  sent, and Tradecloud accepted it (with --dry-run: the message is valid)
  1  nothing was sent: unreadable file, not JSON/tXML, unknown extension, a
     documented rule broken (stderr names the JSON path and the rule),
     missing credentials or a bad configuration
  2  wrong command line (unknown option, missing FILE)
  3  Tradecloud refused it (400, 401, 403, 404, ...): fix the message or the
     credentials; sending it unchanged will be refused again
  4  Tradecloud could not be reached or was unavailable, also after the
     retries (network, time-out, 429, 5xx): send it again later
  5  it may have reached Tradecloud, and was not sent again because sending
     twice would apply it twice (deliveries, a forecast, an upload, a resend): check
     before sending it again"
    };
}

/// The `--help` of `tradecloud order`: how the sending commands work, and
/// their exit status.
pub const ORDER_HELP: &str = concat!(
    "Sending (send, respond, indicators, attach-documents, deliveries, delivery-history, action):\n\
     FILE is JSON or tXML by its extension (.json; .xml or .txml), or as --format json|txml says;\n\
     `-` reads standard input. tXML only for send and respond. The message is checked against\n\
     Tradecloud's documented rules first; a broken rule names the JSON path and the rule, and\n\
     nothing is sent. --dry-run prints the JSON body that would be sent (for a tXML file: its\n\
     JSON form) and sends nothing. Tradecloud's answer is printed as JSON on stdout; an order\n\
     action prints nothing (Tradecloud documents no answer; the exit status says it was taken).\n\
     Credentials: TRADECLOUD_USERNAME and TRADECLOUD_PASSWORD, or [tradecloud] username and\n\
     password_file in tradecloud.toml; the environment: --base-url or TRADECLOUD_ENV.\n\n",
    exit_codes!()
);

/// Exit status 1: nothing was sent.
const NOT_SENT: u8 = 1;
/// Exit status 3: Tradecloud refused the message.
const REFUSED: u8 = 3;
/// Exit status 4: Tradecloud unreachable or unavailable after the retries.
const UNAVAILABLE: u8 = 4;
/// Exit status 5: the message may have arrived; not sent again.
const UNKNOWN_OUTCOME: u8 = 5;

/// The exit status of a failed command, attached to its error as context
/// (it prints nothing; [`exit_code`] finds it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit(pub u8);

impl fmt::Display for Exit {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }
}

/// The exit status for `error`: the one a sending command attached, else 1.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    error.downcast_ref::<Exit>().map_or(1, |exit| exit.0)
}

/// `error` with the exit status `code`.
fn with_code(error: impl Into<anyhow::Error>, code: u8) -> anyhow::Error {
    error.into().context(Exit(code))
}

/// The exit status of a client error: see [`ORDER_HELP`].
fn client_code(error: &ClientError) -> u8 {
    match error {
        ClientError::Config(_)
        | ClientError::InvalidRequest { .. }
        | ClientError::InvalidMessage { .. }
        | ClientError::Io { .. } => NOT_SENT,
        // Sent, and Tradecloud's answer cannot tell whether it took it.
        ClientError::NotResent { .. } | ClientError::InvalidResponse { .. } => UNKNOWN_OUTCOME,
        ClientError::Timeout { .. } | ClientError::Connect { .. } | ClientError::Http { .. } => {
            UNAVAILABLE
        }
        other if other.is_transient() => UNAVAILABLE,
        _ => REFUSED,
    }
}

fn client_failure(error: ClientError) -> anyhow::Error {
    let code = client_code(&error);
    with_code(error, code)
}

/// How the file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// JSON, as in Tradecloud's API documentation.
    Json,
    /// tXML, Tradecloud's XML form of the JSON (orders and order responses only).
    Txml,
}

/// The file and options of every message command.
#[derive(Debug, Args)]
pub struct MessageArgs {
    /// The message: a `.json` or `.xml` (tXML) file, or `-` for standard input (JSON unless --format txml).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// How FILE is written; overrides its extension.
    #[arg(long, value_enum)]
    pub format: Option<InputFormat>,
    /// Check the message and print the JSON body that would be sent, without sending it (no credentials needed).
    #[arg(long)]
    pub dry_run: bool,
}

/// The file and options of a message command that takes JSON only (the
/// forecasts: Tradecloud takes tXML for orders and order responses only),
/// so it offers no `--format`.
#[derive(Debug, Args)]
pub struct JsonMessageArgs {
    /// The message: a `.json` file, or `-` for standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Check the message and print the JSON body that would be sent, without sending it (no credentials needed).
    #[arg(long)]
    pub dry_run: bool,
}

impl From<&JsonMessageArgs> for MessageArgs {
    fn from(args: &JsonMessageArgs) -> Self {
        MessageArgs {
            file: args.file.clone(),
            format: None,
            dry_run: args.dry_run,
        }
    }
}

/// The example and exit-status line of an order action's `--help`.
macro_rules! action_help {
    ($name:literal, $file:literal) => {
        concat!(
            "Example:\n  tradecloud order action ",
            $name,
            " 7e1f5b2c-... ",
            $file,
            "\n  tradecloud order action ",
            $name,
            " --dry-run 7e1f5b2c-... ",
            $file,
            "\n\nExit status: 0 sent, 1 not sent (file, rule, credentials), 3 refused, 4 unavailable, \
             5 may have arrived (see `tradecloud order --help`)"
        )
    };
}

/// [`action_help`] for an action on one line.
macro_rules! line_action_help {
    ($name:literal, $file:literal) => {
        concat!(
            "Example:\n  tradecloud order action ",
            $name,
            " 7e1f5b2c-... 0001 ",
            $file,
            "\n\nExit status: 0 sent, 1 not sent (file, rule, credentials), 3 refused, 4 unavailable, \
             5 may have arrived (see `tradecloud order --help`)"
        )
    };
}

/// `tradecloud order action ...`: the order actions of the order service,
/// for one order given by its Tradecloud id.
#[derive(Debug, Subcommand)]
pub enum ActionCommand {
    /// Approve, as the buyer, the open supplier requests of the lines in FILE.
    #[command(after_help = action_help!("approve-requests", "approve.json"))]
    ApproveRequests(OrderAction),
    /// Reject, as the buyer, the open supplier requests of the lines in FILE, with a reason.
    #[command(after_help = action_help!("reject-requests", "reject.json"))]
    RejectRequests(OrderAction),
    /// Approve the supplier's shipment reschedule request of one line.
    #[command(after_help = line_action_help!("approve-reschedule", "approve.json"))]
    ApproveReschedule(LineAction),
    /// Reject the supplier's shipment reschedule request of one line, with a reason.
    #[command(after_help = line_action_help!("reject-reschedule", "reject.json"))]
    RejectReschedule(LineAction),
    /// Complete the order lines in FILE.
    #[command(after_help = action_help!("complete-lines", "lines.json"))]
    CompleteLines(OrderAction),
    /// Mark the order lines in FILE delivered.
    #[command(after_help = action_help!("deliver-lines", "lines.json"))]
    DeliverLines(OrderAction),
    /// Revert the cancelled order lines in FILE.
    #[command(after_help = action_help!("revert-cancelled", "lines.json"))]
    RevertCancelled(OrderAction),
    /// Revert the completed order lines in FILE.
    #[command(after_help = action_help!("revert-completed", "lines.json"))]
    RevertCompleted(OrderAction),
    /// Set the logistics status, ETD and ETA of the delivery lines of one order line.
    #[command(after_help = line_action_help!("update-delivery-schedule", "schedule.json"))]
    UpdateDeliverySchedule(LineAction),
    /// Make another user the buyer contact of the order.
    #[command(after_help = action_help!("reassign-contact", "contact.json"))]
    ReassignContact(OrderAction),
    /// Send the order to your own (the buyer's) integration again, as the portal's resend does (FILE: `{}`).
    #[command(
        after_help = "Example:\n  echo '{}' | tradecloud order action resend 7e1f5b2c-... -\n\n\
                            Exit status: 0 sent, 1 not sent (file, rule, credentials), 3 refused, 4 unavailable, \
                            5 may have arrived (see `tradecloud order --help`)"
    )]
    Resend(OrderAction),
}

/// An order action on a whole order.
#[derive(Debug, Args)]
pub struct OrderAction {
    /// The Tradecloud order id (`orderId` of an order event, `id` of an order).
    pub order_id: String,
    #[command(flatten)]
    pub message: MessageArgs,
}

/// An order action on one order line.
#[derive(Debug, Args)]
pub struct LineAction {
    /// The Tradecloud order id (`orderId` of an order event, `id` of an order).
    pub order_id: String,
    /// The line's position (`lines.position`, e.g. 0001).
    pub position: String,
    #[command(flatten)]
    pub message: MessageArgs,
}

/// A message read from its file, and how it goes on the wire.
pub struct Input<T> {
    /// The typed message.
    pub body: T,
    /// JSON, or tXML for a tXML file.
    pub wire: WireFormat,
}

/// What to do about a message file over [`super::MAX_INPUT_BYTES`].
const MESSAGE_TOO_LARGE: &str = "a Tradecloud message is far smaller (an order of 500 lines, \
     Tradecloud's limit, is about 1.5 MiB): check that it is the message file";

/// Reads `args.file` as the message of `operation`, whose tXML form has
/// `shape`; `command` names the command in errors (`order indicators`).
pub fn read<T: DeserializeOwned + Serialize>(
    args: &MessageArgs,
    operation: &Operation,
    shape: &'static Shape,
    command: &str,
) -> Result<Input<T>> {
    read_message(args, operation, shape, command).map_err(|e| with_code(e, NOT_SENT))
}

fn read_message<T: DeserializeOwned + Serialize>(
    args: &MessageArgs,
    operation: &Operation,
    shape: &'static Shape,
    command: &str,
) -> Result<Input<T>> {
    let shown = args.file.display();
    let stdin = args.file.as_os_str() == "-";
    let format = match args.format {
        Some(format) => format,
        None if stdin => InputFormat::Json,
        None => format_of(&args.file)?,
    };
    if format == InputFormat::Txml && !WireFormat::Txml.accepted_by(operation) {
        let fix = match args.format {
            Some(_) => "leave out --format txml and give the message as JSON",
            None => "write the message as JSON in a .json file",
        };
        return Err(anyhow!(
            "`tradecloud {command}` takes JSON only: Tradecloud accepts tXML only for orders \
             (order send) and order responses (order respond), and {operation} takes JSON, \
             so {shown} cannot be sent: {fix}"
        ));
    }
    let bytes = if stdin {
        super::read_bounded(std::io::stdin(), "standard input", MESSAGE_TOO_LARGE)?
    } else if args.file.is_dir() {
        return Err(anyhow!("{shown} is a directory: give the message file"));
    } else {
        let file = std::fs::File::open(&args.file).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                anyhow!("{shown} does not exist: check the path of the message file")
            }
            _ => anyhow!("cannot read {shown}: {e}"),
        })?;
        super::read_bounded(file, &shown.to_string(), MESSAGE_TOO_LARGE)?
    };
    let name = if stdin {
        "standard input".to_owned()
    } else {
        shown.to_string()
    };
    let body = match format {
        InputFormat::Json => decode_json(&bytes, &name, WireFormat::Txml.accepted_by(operation))?,
        InputFormat::Txml => {
            tradecloud::webhook::txml::from_slice_with(&bytes, shape).map_err(|e| {
                anyhow!(
                    "{name} is not a valid tXML {} message: {e}; fix it",
                    shape.element
                )
            })?
        }
    };
    let wire = match format {
        InputFormat::Json => WireFormat::Json,
        InputFormat::Txml => WireFormat::Txml,
    };
    // Members the spec does not know are kept and sent (Tradecloud adds
    // fields without notice), but a misspelt one is likely a mistake.
    if let Ok(value) = serde_json::to_value(&body) {
        let mut unknown = Vec::new();
        unknown_members(&value, shape, "", &mut unknown);
        for path in unknown {
            eprintln!(
                "warning: {name}: `{path}` is not a member Tradecloud documents for this message; \
                 it is sent as it is: check its spelling"
            );
        }
    }
    Ok(Input { body, wire })
}

/// The JSON paths of the members of `value` that `shape` does not list.
fn unknown_members(value: &serde_json::Value, shape: &Shape, path: &str, out: &mut Vec<String>) {
    let serde_json::Value::Object(map) = value else {
        return;
    };
    for (name, member) in map {
        let member_path = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        match shape.properties.iter().find(|(known, _)| known == name) {
            Some((_, kind)) => unknown_in(member, kind, &member_path, out),
            None => out.push(member_path),
        }
    }
}

fn unknown_in(value: &serde_json::Value, kind: &Kind, path: &str, out: &mut Vec<String>) {
    match (kind, value) {
        (Kind::Object(shape), _) => unknown_members(value, shape, path, out),
        (Kind::Array(item), serde_json::Value::Array(items)) => {
            for (i, value) in items.iter().enumerate() {
                unknown_in(value, item, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The format a file's extension says.
fn format_of(path: &Path) -> Result<InputFormat> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("json") => Ok(InputFormat::Json),
        Some("xml" | "txml") => Ok(InputFormat::Txml),
        Some(other) => Err(anyhow!(
            "cannot tell how {} is written from its extension `.{other}`: name it .json (JSON) or \
             .xml (tXML), or give --format json or --format txml",
            path.display()
        )),
        None => Err(anyhow!(
            "cannot tell how {} is written: it has no extension; name it .json (JSON) or .xml \
             (tXML), or give --format json or --format txml",
            path.display()
        )),
    }
}

/// Decodes a JSON message; an error says where and what. `txml_taken`:
/// the operation takes tXML too, so a file that is not JSON may be tXML
/// given without `--format txml`.
fn decode_json<T: DeserializeOwned>(bytes: &[u8], name: &str, txml_taken: bool) -> Result<T> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(anyhow!(
            "{name} is empty{}: give the file that holds the message",
            if bytes.is_empty() {
                ""
            } else {
                " (only whitespace)"
            }
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let decoded: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    let value = match decoded {
        Ok(value) => value,
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                let fix = if txml_taken {
                    "fix the syntax, or give --format txml if it is tXML"
                } else {
                    "fix the syntax (this message is sent as JSON only)"
                };
                return Err(anyhow!("{name} is not JSON ({inner}): {fix}"));
            }
            let path = if path == "." { String::new() } else { path };
            let text = inner.to_string();
            // `missing field `x`` is reported at the object holding it.
            if let Some(field) = text
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next())
            {
                let member = if path.is_empty() {
                    field.to_owned()
                } else {
                    format!("{path}.{field}")
                };
                return Err(anyhow!(
                    "{name}: `{member}` is required but missing ({text}): add it"
                ));
            }
            return Err(if path.is_empty() {
                anyhow!("{name} does not fit the message: {text}; fix it")
            } else {
                anyhow!("{name}: `{path}` {text}; fix it")
            });
        }
    };
    de.end().map_err(|e| {
        anyhow!("{name} holds more than one JSON value ({e}): keep one message per file")
    })?;
    Ok(value)
}

/// A client that only checks and encodes messages for `--dry-run` and the
/// check before sending: it is never awaited, so it needs no real
/// credentials and makes no connection.
fn encoder() -> Result<Client> {
    ClientBuilder::new()
        .credentials("dry-run@localhost", "unused")
        .build()
        .map_err(|e| with_code(e, NOT_SENT))
}

/// The client that sends: the one every API command uses.
fn sender(global: &GlobalArgs) -> Result<Client> {
    super::api::client(global).map_err(|e| with_code(e, NOT_SENT))
}

/// Checks `message` (in JSON and, for a tXML file, in tXML too) and returns
/// its JSON body as the client sends it.
fn check<B, R>(message: Message<'_, B, R>, wire: WireFormat) -> Result<Vec<u8>>
where
    B: Serialize + Validate,
{
    let json = message.encode().map_err(client_failure)?;
    if wire == WireFormat::Txml {
        message.format(wire).encode().map_err(client_failure)?;
    }
    Ok(json.body)
}

/// Prints the body of `--dry-run`: the JSON bytes and a newline.
fn print_body(mut body: Vec<u8>) -> Result<()> {
    body.push(b'\n');
    super::write_stdout(&body)
}

/// Prints Tradecloud's answer, pretty JSON; nothing for an answer without
/// content (`()`, the order actions').
fn print_answer<R: Serialize>(answer: Result<R, ClientError>) -> Result<()> {
    let answer = serde_json::to_value(answer.map_err(client_failure)?)?;
    if answer.is_null() {
        return Ok(());
    }
    let mut text = serde_json::to_string_pretty(&answer)?;
    text.push('\n');
    super::write_stdout(text.as_bytes())
}

/// Reads, checks and (without `--dry-run`) sends one message:
/// `deliver!(args, global, command, Type, OPERATION, SHAPE, |client, body| call)`,
/// where `call` makes the client's [`Message`] from `client` and `body`.
macro_rules! deliver {
    ($args:expr, $global:expr, $command:expr, $ty:ty, $operation:expr, $shape:expr,
     |$client:ident, $body:ident| $call:expr) => {{
        let args: &MessageArgs = $args;
        let input: Input<$ty> = read(args, &$operation, &$shape, $command)?;
        let $body = &input.body;
        let encoder = encoder()?;
        let json = {
            let $client = &encoder;
            check($call, input.wire)?
        };
        if args.dry_run {
            return print_body(json);
        }
        let sender = sender($global)?;
        let $client = &sender;
        print_answer($call.format(input.wire).await)
    }};
}

/// The operations and shapes of the api-connector and order specs.
mod specs {
    pub use tradecloud::api::api_connector::operations as connector_ops;
    pub use tradecloud::api::api_connector::types as connector;
    pub use tradecloud::api::api_connector::types::txml_shapes as connector_shapes;
    pub use tradecloud::api::order::operations as order_ops;
    pub use tradecloud::api::order::types as actions;
    pub use tradecloud::api::order::types::txml_shapes as action_shapes;
}
use specs::*;

/// `tradecloud order send FILE [--single-delivery]`
pub async fn order_send(
    args: &MessageArgs,
    single_delivery: bool,
    global: &GlobalArgs,
) -> Result<()> {
    if single_delivery {
        deliver!(
            args,
            global,
            "order send --single-delivery",
            connector::SendSingleDeliveryOrderByBuyer,
            connector_ops::SEND_SINGLE_DELIVERY_ORDER_BY_BUYER_ROUTE,
            connector_shapes::SendSingleDeliveryOrderByBuyer,
            |client, body| client.single_delivery_orders().send(body)
        )
    } else {
        deliver!(
            args,
            global,
            "order send",
            connector::SendOrderByBuyer,
            connector_ops::SEND_ORDER_BY_BUYER_ROUTE,
            connector_shapes::SendOrderByBuyer,
            |client, body| client.orders().send(body)
        )
    }
}

/// `tradecloud order respond FILE`
pub async fn order_respond(args: &MessageArgs, global: &GlobalArgs) -> Result<()> {
    deliver!(
        args,
        global,
        "order respond",
        connector::SendOrderResponseBySupplier,
        connector_ops::SEND_ORDER_RESPONSE_BY_SUPPLIER_ROUTE,
        connector_shapes::SendOrderResponseBySupplier,
        |client, body| client.orders().respond(body)
    )
}

/// `tradecloud order indicators FILE`
pub async fn order_indicators(args: &MessageArgs, global: &GlobalArgs) -> Result<()> {
    deliver!(
        args,
        global,
        "order indicators",
        connector::SendOrderIndicatorsByBuyer,
        connector_ops::SEND_ORDER_INDICATORS_BY_BUYER_ROUTE,
        connector_shapes::SendOrderIndicatorsByBuyer,
        |client, body| client.orders().send_indicators(body)
    )
}

/// `tradecloud order attach-documents FILE`
pub async fn order_attach_documents(args: &MessageArgs, global: &GlobalArgs) -> Result<()> {
    deliver!(
        args,
        global,
        "order attach-documents",
        connector::AttachOrderDocumentsByBuyer,
        connector_ops::ATTACH_ORDER_DOCUMENTS_BY_BUYER_ROUTE,
        connector_shapes::AttachOrderDocumentsByBuyer,
        |client, body| client.orders().attach_documents(body)
    )
}

/// `tradecloud order deliveries FILE`
pub async fn order_deliveries(args: &MessageArgs, global: &GlobalArgs) -> Result<()> {
    deliver!(
        args,
        global,
        "order deliveries",
        connector::SendOrderDeliveriesByBuyer,
        connector_ops::SEND_ORDER_DELIVERIES_BY_BUYER,
        connector_shapes::SendOrderDeliveriesByBuyer,
        |client, body| client.orders().send_deliveries(body)
    )
}

/// `tradecloud order delivery-history FILE`
pub async fn order_delivery_history(args: &MessageArgs, global: &GlobalArgs) -> Result<()> {
    deliver!(
        args,
        global,
        "order delivery-history",
        connector::SendOrderDeliveryHistoryByBuyer,
        connector_ops::SEND_ORDER_DELIVERY_HISTORY_BY_BUYER,
        connector_shapes::SendOrderDeliveryHistoryByBuyer,
        |client, body| client.orders().send_delivery_history(body)
    )
}

/// `tradecloud shipment send-despatch-advice FILE`
pub async fn shipment_send_despatch_advice(args: &MessageArgs, global: &GlobalArgs) -> Result<()> {
    deliver!(
        args,
        global,
        "shipment send-despatch-advice",
        connector::SendDespatchAdviceBySupplier,
        connector_ops::SEND_DESPATCH_ADVICE_BY_SUPPLIER_ROUTE,
        connector_shapes::SendDespatchAdviceBySupplier,
        |client, body| client.shipments().send_despatch_advice(body)
    )
}

/// `tradecloud forecast send FILE [--slimstock]`
pub async fn forecast_send(
    args: &JsonMessageArgs,
    slimstock: bool,
    global: &GlobalArgs,
) -> Result<()> {
    let args = &MessageArgs::from(args);
    if slimstock {
        deliver!(
            args,
            global,
            "forecast send --slimstock",
            connector::SendSlimstockForecastByBuyer,
            connector_ops::SEND_SLIMSTOCK_FORECAST_BY_BUYER_ROUTE,
            connector_shapes::SendSlimstockForecastByBuyer,
            |client, body| client.forecasts().send_slimstock(body)
        )
    } else {
        deliver!(
            args,
            global,
            "forecast send",
            connector::SendForecastByBuyer,
            connector_ops::SEND_FORECAST_BY_BUYER_ROUTE,
            connector_shapes::SendForecastByBuyer,
            |client, body| client.forecasts().send(body)
        )
    }
}

/// `tradecloud order action ...`
pub async fn order_action(cmd: &ActionCommand, global: &GlobalArgs) -> Result<()> {
    match cmd {
        ActionCommand::ApproveRequests(a) => deliver!(
            &a.message,
            global,
            "order action approve-requests",
            actions::ApproveRequestsAsBuyer,
            order_ops::APPROVE_REQUESTS_AS_BUYER_ROUTE,
            action_shapes::ApproveRequestsAsBuyer,
            |client, body| client.orders().approve_requests(&a.order_id, body)
        ),
        ActionCommand::RejectRequests(a) => deliver!(
            &a.message,
            global,
            "order action reject-requests",
            actions::RejectRequestsAsBuyer,
            order_ops::REJECT_REQUESTS_AS_BUYER_ROUTE,
            action_shapes::RejectRequestsAsBuyer,
            |client, body| client.orders().reject_requests(&a.order_id, body)
        ),
        ActionCommand::ApproveReschedule(a) => deliver!(
            &a.message,
            global,
            "order action approve-reschedule",
            actions::ApproveShipmentRescheduleRequest,
            order_ops::APPROVE_SHIPMENT_RESCHEDULE_REQUEST_ROUTE,
            action_shapes::ApproveShipmentRescheduleRequest,
            |client, body| client
                .orders()
                .approve_reschedule(&a.order_id, &a.position, body)
        ),
        ActionCommand::RejectReschedule(a) => deliver!(
            &a.message,
            global,
            "order action reject-reschedule",
            actions::RejectShipmentRescheduleRequest,
            order_ops::REJECT_SHIPMENT_RESCHEDULE_REQUEST_ROUTE,
            action_shapes::RejectShipmentRescheduleRequest,
            |client, body| client
                .orders()
                .reject_reschedule(&a.order_id, &a.position, body)
        ),
        ActionCommand::CompleteLines(a) => deliver!(
            &a.message,
            global,
            "order action complete-lines",
            actions::OrderLinePositions,
            order_ops::COMPLETE_ORDER_LINES,
            action_shapes::OrderLinePositions,
            |client, body| client.orders().complete_lines(&a.order_id, body)
        ),
        ActionCommand::DeliverLines(a) => deliver!(
            &a.message,
            global,
            "order action deliver-lines",
            actions::OrderLinePositions,
            order_ops::DELIVER_ORDER_LINES,
            action_shapes::OrderLinePositions,
            |client, body| client.orders().deliver_lines(&a.order_id, body)
        ),
        ActionCommand::RevertCancelled(a) => deliver!(
            &a.message,
            global,
            "order action revert-cancelled",
            actions::RevertOrderLines,
            order_ops::REVERT_CANCELLED_ORDER_LINES,
            action_shapes::RevertOrderLines,
            |client, body| client.orders().revert_cancelled_lines(&a.order_id, body)
        ),
        ActionCommand::RevertCompleted(a) => deliver!(
            &a.message,
            global,
            "order action revert-completed",
            actions::RevertOrderLines,
            order_ops::REVERT_COMPLETED_ORDER_LINES,
            action_shapes::RevertOrderLines,
            |client, body| client.orders().revert_completed_lines(&a.order_id, body)
        ),
        ActionCommand::UpdateDeliverySchedule(a) => deliver!(
            &a.message,
            global,
            "order action update-delivery-schedule",
            actions::UpdateOrderLineDeliverySchedule,
            order_ops::UPDATE_ORDER_LINE_DELIVERY_SCHEDULE,
            action_shapes::UpdateOrderLineDeliverySchedule,
            |client, body| client
                .orders()
                .update_delivery_schedule(&a.order_id, &a.position, body)
        ),
        ActionCommand::ReassignContact(a) => deliver!(
            &a.message,
            global,
            "order action reassign-contact",
            actions::ReassignContact,
            order_ops::REASSIGN_BUYER_CONTACT,
            action_shapes::ReassignContact,
            |client, body| client.orders().reassign_contact(&a.order_id, body)
        ),
        ActionCommand::Resend(a) => deliver!(
            &a.message,
            global,
            "order action resend",
            actions::ResendOrder,
            order_ops::BUYER_RESEND_ORDER_ROUTE,
            action_shapes::ResendOrder,
            |client, body| client.orders().resend(&a.order_id, body)
        ),
    }
}

/// Options of `tradecloud document upload`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The file to upload (streamed from disk, whatever its size).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The file name Tradecloud shows (default: FILE's own name).
    #[arg(long, value_name = "NAME")]
    pub file_name: Option<String>,
    /// The media type (default: guessed from the file name, e.g. application/pdf).
    #[arg(long, value_name = "TYPE")]
    pub content_type: Option<String>,
}

/// `tradecloud document upload FILE`: prints the `objectId` on stdout.
pub async fn document_upload(args: &UploadArgs, global: &GlobalArgs) -> Result<()> {
    let shown = args.file.display();
    match std::fs::metadata(&args.file) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => {
            return Err(with_code(
                anyhow!("{shown} is not a file: give the document's file"),
                NOT_SENT,
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(with_code(
                anyhow!("{shown} does not exist: check the path of the document"),
                NOT_SENT,
            ))
        }
        Err(e) => return Err(with_code(anyhow!("cannot read {shown}: {e}"), NOT_SENT)),
    }
    let client = sender(global)?;
    // A progress bar on stderr, as `document download` has (drawn only on a terminal).
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(super::api::bar_style());
    let progress_bar = bar.clone();
    let mut upload = client
        .documents()
        .upload(&args.file)
        .progress(move |progress| {
            if let Some(total) = progress.total {
                progress_bar.set_length(total);
            }
            progress_bar.set_position(progress.bytes);
        });
    if let Some(name) = &args.file_name {
        upload = upload.file_name(name);
    }
    if let Some(content_type) = &args.content_type {
        upload = upload.content_type(content_type);
    }
    let uploaded = upload.await;
    bar.finish_and_clear();
    let uploaded = uploaded.map_err(client_failure)?;
    eprintln!(
        "uploaded {} ({} bytes, {}) as objectId {}: attach it as documents.objectId",
        uploaded.file_name, uploaded.bytes, uploaded.content_type, uploaded.object_id
    );
    super::write_stdout(format!("{}\n", uploaded.object_id).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_the_extension() {
        assert_eq!(
            format_of(Path::new("a/PO1.json")).ok(),
            Some(InputFormat::Json)
        );
        assert_eq!(
            format_of(Path::new("PO1.XML")).ok(),
            Some(InputFormat::Txml)
        );
        let error = format_of(Path::new("PO1.txt")).map(|_| ()).unwrap_err();
        assert!(error.to_string().contains("--format"), "{error}");
        assert!(format_of(Path::new("PO1")).is_err());
    }

    #[test]
    fn a_missing_member_is_named_by_its_path() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            number: String,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            order: Inner,
        }
        let error = decode_json::<Outer>(br#"{"order": {}}"#, "f.json", true).unwrap_err();
        assert!(
            error.to_string().contains("`order.number` is required"),
            "{error}"
        );
        let error = decode_json::<Outer>(b"{", "f.json", true).unwrap_err();
        assert!(error.to_string().contains("is not JSON"), "{error}");
        let error =
            decode_json::<Outer>(br#"{"order": {"number": 1}}"#, "f.json", true).unwrap_err();
        assert!(error.to_string().contains("`order.number`"), "{error}");
    }

    #[test]
    fn client_errors_map_to_the_documented_codes() {
        assert_eq!(client_code(&ClientError::Config("x".into())), NOT_SENT);
        assert_eq!(
            client_code(&ClientError::Rejected {
                what: "x".into(),
                status: 400,
                message: None
            }),
            REFUSED
        );
        assert_eq!(
            client_code(&ClientError::Unavailable {
                what: "x".into(),
                status: 503,
                attempts: 4,
                message: None
            }),
            UNAVAILABLE
        );
        assert_eq!(
            client_code(&ClientError::NotResent {
                safe_to_send_again: false,
                what: "x".into(),
                reason: "r".into(),
                status: Some(503),
                advice: "a"
            }),
            UNKNOWN_OUTCOME
        );
        let error = with_code(anyhow!("x"), REFUSED);
        assert_eq!(exit_code(&error), REFUSED);
        assert_eq!(exit_code(&anyhow!("y")), 1);
        assert_eq!(super::super::error_chain(&error), "x");
    }
}
