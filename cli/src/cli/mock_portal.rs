//! `tradecloud mock shipment ...` and `tradecloud mock order ...`: the
//! portal actions on a shipment or an order of a running mock (`tradecloud
//! mock` in another terminal), which Tradecloud's API has no route for and
//! the mock plays on its own routes `POST /mock/shipment/{shipmentId}/...`
//! and `POST /mock/order/{orderId}/...` (see the portal actions in
//! [`tradecloud::mock`]). Each command posts one action as the acting
//! company's user and prints the shipment or order as it is afterwards.
//!
//! Where the mock is: `--mock-url`, else `--info-file` (the file `tradecloud
//! mock --info-file` writes), else `--base-url` / `TRADECLOUD_BASE_URL` (the
//! mock's `.../v2` URL, as its banner exports it), else the default
//! `http://127.0.0.1:8080`. Who acts: `--username`/`--password` (or
//! `TRADECLOUD_USERNAME`/`TRADECLOUD_PASSWORD`), else the acting company's
//! user from `--info-file`, else the mock's default user, who may act for
//! either company.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};
use tradecloud::mock::{MockInfo, DEFAULT_PASSWORD, DEFAULT_USERNAME};

use super::write::Exit;
use super::GlobalArgs;

/// Where a command finds the mock when nothing says: `tradecloud mock`'s
/// default `--listen`.
const DEFAULT_MOCK_URL: &str = "http://127.0.0.1:8080";

/// Exit status: the mock refused the action (a 4xx).
const REFUSED: u8 = 3;
/// Exit status: the mock could not be reached, or answered 5xx.
const UNAVAILABLE: u8 = 4;

/// `tradecloud mock shipment ...`
#[derive(Debug, Subcommand)]
pub enum ShipmentActionCommand {
    /// The buyer approves the shipment: processStatus Approved, event ShipmentApprovedByBuyer to the supplier.
    #[command(
        after_help = "Example:\n  tradecloud mock shipment approve --info-file mock.json 9a7b5c3d-..."
    )]
    Approve {
        #[command(flatten)]
        target: MockTarget,
        /// The shipment id (`id` of a shipment the mock holds; GET /v2/shipment/poll lists them).
        id: String,
        /// Why (becomes processStatusReason).
        #[arg(long)]
        reason: Option<String>,
    },
    /// The buyer rejects the shipment with a reason: processStatus Rejected, event ShipmentRejectedByBuyer to the supplier.
    #[command(
        after_help = "Example:\n  tradecloud mock shipment reject --reason 'wrong quantities' 9a7b5c3d-..."
    )]
    Reject {
        #[command(flatten)]
        target: MockTarget,
        /// The shipment id.
        id: String,
        /// Why (required; becomes processStatusReason).
        #[arg(long)]
        reason: String,
    },
    /// The supplier updates header fields: ShipmentHeaderUpdatedBySupplier after approval, else ShipmentReissuedBySupplier.
    #[command(
        after_help = "Example:\n  tradecloud mock shipment update-header --tracking-number TRK-1 --transport-mode 3 9a7b5c3d-..."
    )]
    UpdateHeader {
        #[command(flatten)]
        target: MockTarget,
        /// The shipment id.
        id: String,
        #[command(flatten)]
        header: HeaderArgs,
    },
    /// The buyer or supplier attaches documents: ShipmentDocumentAttachedByBuyer / ...BySupplier to the other company.
    ///
    /// A document with the code of an attached one replaces it; others are
    /// appended. Give one document with --url or --object-id (and --code,
    /// --name, --type), or a FILE of documents.
    #[command(after_help = "Example:\n  \
        id=$(tradecloud document upload packing-list.pdf)\n  \
        tradecloud mock shipment attach-documents --by supplier --object-id \"$id\" --code PL 9a7b5c3d-...\n  \
        tradecloud mock shipment attach-documents --by buyer 9a7b5c3d-... documents.json\n\n\
        FILE holds {\"documents\": [{\"code\", \"name\", \"url\" | \"objectId\", ...}]} or just the list; `-` reads standard input.")]
    AttachDocuments {
        #[command(flatten)]
        target: MockTarget,
        /// The company attaching.
        #[arg(long, value_enum)]
        by: Side,
        /// The shipment id.
        id: String,
        /// A JSON file of documents (`-`: standard input).
        #[arg(conflicts_with_all = ["url", "object_id"], required_unless_present_any = ["url", "object_id"])]
        file: Option<PathBuf>,
        /// One document at this URL.
        #[arg(long)]
        url: Option<String>,
        /// One document uploaded to the mock's object storage (`tradecloud document upload` prints its objectId).
        #[arg(long)]
        object_id: Option<String>,
        /// The document's code (one with the code of an attached document replaces it).
        #[arg(long, conflicts_with = "file")]
        code: Option<String>,
        /// The document's name.
        #[arg(long, conflicts_with = "file")]
        name: Option<String>,
        /// The document's business type (General, Invoice, Packing List, ...).
        #[arg(long = "type", conflicts_with = "file")]
        type_: Option<String>,
    },
    /// The buyer resends the shipment to its own ERP: event ShipmentResentByBuyer to the buyer; the shipment does not change.
    #[command(after_help = "Example:\n  tradecloud mock shipment resend 9a7b5c3d-...")]
    Resend {
        #[command(flatten)]
        target: MockTarget,
        /// The shipment id.
        id: String,
    },
}

/// `tradecloud mock order ...`
#[derive(Debug, Subcommand)]
pub enum OrderActionCommand {
    /// The buyer or supplier marks lines as open again, being previously shipped or delivered: OrderLinesMarkedAsOpenByBuyer / ...BySupplier to the other company.
    #[command(after_help = "Example:\n  \
        tradecloud mock order open --by supplier --info-file mock.json 5c1e9f2a-... 0001 0002\n\n\
        Only Shipped and Delivered lines can be marked open (not Completed or Cancelled ones);\n\
        they and their shipped or delivered delivery lines become Open.",
        mut_arg("id", |id| id.help(
            "The order id (orderId of its order events, or an id in the order poll)"
        ))
    )]
    Open(OrderLines),
    /// The buyer or supplier marks lines as delivered at the buyer: OrderLinesMarkedAsDeliveredByBuyer / ...BySupplier to the other company.
    #[command(after_help = "Example:\n  \
        tradecloud mock order deliver --by buyer --info-file mock.json 5c1e9f2a-... 0001\n\n\
        Open, Produced, ReadyToShip and Shipped lines become Delivered, with their delivery lines\n\
        (as the buyer's `delivered` indicator); Completed and Cancelled lines are refused.")]
    Deliver(OrderLines),
    /// The buyer or supplier resends the order to its own ERP: OrderResentByBuyer / OrderResentBySupplier to its own order webhook; the order does not change.
    #[command(
        after_help = "Example:\n  tradecloud mock order resend --by supplier --info-file mock.json 5c1e9f2a-..."
    )]
    Resend {
        #[command(flatten)]
        target: MockTarget,
        /// The company resending.
        #[arg(long, value_enum)]
        by: Side,
        /// The order id.
        id: String,
    },
}

/// The lines of an order that one company marks (`mock order open` and
/// `deliver`).
#[derive(Debug, Clone, Args)]
pub struct OrderLines {
    #[command(flatten)]
    pub target: MockTarget,
    /// The company acting.
    #[arg(long, value_enum)]
    pub by: Side,
    /// The order id.
    // The indexes are explicit: `mock order open` changes this help, which
    // would otherwise move the id after the positions.
    #[arg(index = 1)]
    pub id: String,
    /// The lines' positions (buyerLine.position).
    #[arg(index = 2, required = true, value_name = "POSITION")]
    pub positions: Vec<String>,
}

/// The company acting (attaching documents: to buyerShipment.documents or
/// supplierShipment.documents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Side {
    /// The buyer (its documents: buyerShipment.documents).
    Buyer,
    /// The supplier (its documents: supplierShipment.documents).
    Supplier,
}

/// Where the running mock is and who acts.
#[derive(Debug, Clone, Args)]
pub struct MockTarget {
    /// The running mock's URL, as `tradecloud mock` prints it (with or without /v2).
    #[arg(long, value_name = "URL", env = "TRADECLOUD_MOCK_URL")]
    pub mock_url: Option<String>,
    /// The file `tradecloud mock --info-file` wrote: the mock's URL and the acting company's user.
    #[arg(long, value_name = "PATH")]
    pub info_file: Option<PathBuf>,
    /// The acting user (default: the acting company's user from --info-file, else the mock's default user).
    #[arg(long, env = "TRADECLOUD_USERNAME", requires = "password")]
    pub username: Option<String>,
    /// The acting user's password (with --username: alone it would be the password of no one).
    #[arg(
        long,
        env = "TRADECLOUD_PASSWORD",
        hide_env_values = true,
        requires = "username"
    )]
    pub password: Option<String>,
}

/// The header fields of `update-header` (only those given change).
#[derive(Debug, Clone, Args)]
#[group(id = "header_fields", required = true, multiple = true)]
pub struct HeaderArgs {
    /// identifiers.billOfLadingNumber.
    #[arg(long)]
    pub bill_of_lading_number: Option<String>,
    /// identifiers.billOfLadingIssueDate (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub bill_of_lading_issue_date: Option<String>,
    /// identifiers.trackingNumber.
    #[arg(long)]
    pub tracking_number: Option<String>,
    /// identifiers.carrierShipmentNumber.
    #[arg(long)]
    pub carrier_shipment_number: Option<String>,
    /// identifiers.imoNumber.
    #[arg(long)]
    pub imo_number: Option<String>,
    /// transportMode (UNECE recommendation 19, e.g. 3 for road).
    #[arg(long)]
    pub transport_mode: Option<String>,
    /// supplierShipment.shipmentNumber.
    #[arg(long)]
    pub shipment_number: Option<String>,
    /// supplierShipment.invoiceNumbers (repeatable; replaces the list).
    #[arg(long = "invoice-number", value_name = "NUMBER")]
    pub invoice_numbers: Vec<String>,
}

impl HeaderArgs {
    /// The JSON body of `POST .../supplier/header`.
    fn body(&self) -> Value {
        let mut identifiers = serde_json::Map::new();
        for (name, value) in [
            ("billOfLadingNumber", &self.bill_of_lading_number),
            ("billOfLadingIssueDate", &self.bill_of_lading_issue_date),
            ("trackingNumber", &self.tracking_number),
            ("carrierShipmentNumber", &self.carrier_shipment_number),
            ("imoNumber", &self.imo_number),
        ] {
            if let Some(value) = value {
                identifiers.insert(name.to_owned(), Value::String(value.clone()));
            }
        }
        let mut body = serde_json::Map::new();
        if !identifiers.is_empty() {
            body.insert("identifiers".to_owned(), Value::Object(identifiers));
        }
        if let Some(mode) = &self.transport_mode {
            body.insert("transportMode".to_owned(), json!(mode));
        }
        if let Some(number) = &self.shipment_number {
            body.insert("shipmentNumber".to_owned(), json!(number));
        }
        if !self.invoice_numbers.is_empty() {
            body.insert("invoiceNumbers".to_owned(), json!(self.invoice_numbers));
        }
        Value::Object(body)
    }
}

/// The company whose action a command is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Actor {
    Buyer,
    Supplier,
}

/// One action, ready to post: who, where, which route, what body.
struct Request<'a> {
    target: &'a MockTarget,
    actor: Actor,
    /// `shipment` or `order`.
    kind: &'static str,
    id: &'a str,
    /// The route after `/mock/{kind}/{id}/`.
    route: &'static str,
    body: Option<Value>,
}

/// The mock's root URL (without `/v2` and a trailing `/`).
fn root_url(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    url.strip_suffix("/v2").unwrap_or(url).to_owned()
}

fn read_info(path: &Path) -> Result<MockInfo> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the mock's info file {}; start the mock with `tradecloud mock --info-file {}`",
            path.display(),
            path.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not the info file `tradecloud mock --info-file` writes",
            path.display()
        )
    })
}

/// The mock's root URL and the acting user's credentials.
fn resolve(
    target: &MockTarget,
    actor: Actor,
    global: &GlobalArgs,
) -> Result<(String, String, String)> {
    let info = target.info_file.as_deref().map(read_info).transpose()?;
    let url = target
        .mock_url
        .clone()
        .or_else(|| info.as_ref().map(|i| i.base_url.clone()))
        .or_else(|| global.base_url.clone())
        .unwrap_or_else(|| DEFAULT_MOCK_URL.to_owned());
    let (username, password) = match (&target.username, &target.password, &info) {
        (Some(username), Some(password), _) => (username.clone(), password.clone()),
        (Some(username), None, _) => bail!(
            "--username {username} needs --password (or TRADECLOUD_PASSWORD); nothing was sent"
        ),
        (None, _, Some(info)) => match actor {
            Actor::Buyer => (info.buyer.username.clone(), info.buyer.password.clone()),
            Actor::Supplier => (
                info.supplier.username.clone(),
                info.supplier.password.clone(),
            ),
        },
        (None, _, None) => (DEFAULT_USERNAME.to_owned(), DEFAULT_PASSWORD.to_owned()),
    };
    Ok((root_url(&url), username, password))
}

/// The `documents` of `attach-documents`: one document from the flags, or
/// the FILE's (`{"documents": [...]}` or the list itself).
fn documents(file: Option<&Path>, one: serde_json::Map<String, Value>) -> Result<Value> {
    let Some(path) = file else {
        return Ok(json!({ "documents": [Value::Object(one)] }));
    };
    let (name, bytes) = super::read_file_or_stdin(
        path,
        "a list of documents is far smaller: check that it is the documents file",
    )?;
    let value: Value = serde_json::from_slice(&bytes).with_context(|| {
        format!("{name} is not JSON; give {{\"documents\": [{{\"code\", \"name\", \"url\" | \"objectId\"}}]}} or the list")
    })?;
    match value {
        Value::Array(list) => Ok(json!({ "documents": list })),
        Value::Object(ref members) if members.get("documents").is_some_and(Value::is_array) => {
            Ok(value)
        }
        _ => bail!(
            "{name} holds neither {{\"documents\": [...]}} nor a list of documents; nothing was sent"
        ),
    }
}

/// Run `tradecloud mock shipment ...`.
pub async fn run(cmd: ShipmentActionCommand, global: &GlobalArgs) -> Result<()> {
    let request = match &cmd {
        ShipmentActionCommand::Approve { target, id, reason } => Request {
            target,
            actor: Actor::Buyer,
            kind: "shipment",
            id,
            route: "buyer/approve",
            body: reason.as_ref().map(|reason| json!({ "reason": reason })),
        },
        ShipmentActionCommand::Reject { target, id, reason } => Request {
            target,
            actor: Actor::Buyer,
            kind: "shipment",
            id,
            route: "buyer/reject",
            body: Some(json!({ "reason": reason })),
        },
        ShipmentActionCommand::UpdateHeader { target, id, header } => Request {
            target,
            actor: Actor::Supplier,
            kind: "shipment",
            id,
            route: "supplier/header",
            body: Some(header.body()),
        },
        ShipmentActionCommand::AttachDocuments {
            target,
            by,
            id,
            file,
            url,
            object_id,
            code,
            name,
            type_,
        } => {
            let mut one = serde_json::Map::new();
            for (member, value) in [
                ("code", code),
                ("name", name),
                ("type", type_),
                ("url", url),
                ("objectId", object_id),
            ] {
                if let Some(value) = value {
                    one.insert(member.to_owned(), Value::String(value.clone()));
                }
            }
            let (actor, route) = match by {
                Side::Buyer => (Actor::Buyer, "buyer/documents"),
                Side::Supplier => (Actor::Supplier, "supplier/documents"),
            };
            Request {
                target,
                actor,
                kind: "shipment",
                id,
                route,
                body: Some(documents(file.as_deref(), one)?),
            }
        }
        ShipmentActionCommand::Resend { target, id } => Request {
            target,
            actor: Actor::Buyer,
            kind: "shipment",
            id,
            route: "buyer/resend",
            body: None,
        },
    };
    let shipment = post(&request, global).await?;
    super::write_stdout(format!("{shipment:#}\n").as_bytes())
}

/// Run `tradecloud mock order ...`.
pub async fn run_order(cmd: OrderActionCommand, global: &GlobalArgs) -> Result<()> {
    let actor = |by: &Side| match by {
        Side::Buyer => Actor::Buyer,
        Side::Supplier => Actor::Supplier,
    };
    let route = |by: &Side, buyer: &'static str, supplier: &'static str| match by {
        Side::Buyer => buyer,
        Side::Supplier => supplier,
    };
    let request = match &cmd {
        OrderActionCommand::Open(lines) => lines_request(
            lines,
            actor(&lines.by),
            route(&lines.by, "buyer/open", "supplier/open"),
        ),
        OrderActionCommand::Deliver(lines) => lines_request(
            lines,
            actor(&lines.by),
            route(&lines.by, "buyer/deliver", "supplier/deliver"),
        ),
        OrderActionCommand::Resend { target, by, id } => Request {
            target,
            actor: actor(by),
            kind: "order",
            id,
            route: route(by, "buyer/resend", "supplier/resend"),
            body: None,
        },
    };
    let order = post(&request, global).await?;
    super::write_stdout(format!("{order:#}\n").as_bytes())
}

/// The request that marks `lines` as `actor`, at `route` (after
/// `/mock/order/{id}/`).
fn lines_request<'a>(lines: &'a OrderLines, actor: Actor, route: &'static str) -> Request<'a> {
    Request {
        target: &lines.target,
        actor,
        kind: "order",
        id: &lines.id,
        route,
        body: Some(json!({ "linePositions": lines.positions })),
    }
}

/// Post `request` to the mock; the shipment or order it answers, or why not (with
/// the exit status: 3 refused, 4 unreachable or 5xx).
async fn post(request: &Request<'_>, global: &GlobalArgs) -> Result<Value> {
    let (root, username, password) = resolve(request.target, request.actor, global)?;
    let url = action_url(&root, request.kind, request.id, request.route)?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .context("cannot set up an HTTP client")?;
    let mut call = client
        .post(url.clone())
        .basic_auth(&username, Some(&password));
    if let Some(body) = &request.body {
        call = call.json(body);
    }
    let response = call.send().await.map_err(|e| {
        anyhow!(
            "cannot reach the mock at {root} ({e}); start it with `tradecloud mock`, or give its \
             URL with --mock-url or --info-file"
        )
        .context(Exit(UNAVAILABLE))
    })?;
    let status = response.status();
    let text = response.text().await.map_err(|e| {
        anyhow!("the mock's answer to POST {url} could not be read ({e})")
            .context(Exit(UNAVAILABLE))
    })?;
    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if status.is_success() {
        return Ok(answer);
    }
    let detail = answer
        .get("detail")
        .or_else(|| answer.get("message"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| answer.to_string());
    let code = if status.is_server_error() {
        UNAVAILABLE
    } else {
        REFUSED
    };
    let who = match status.as_u16() {
        401 => format!(
            " (user {username}: give the mock's credentials with --username/--password or --info-file)"
        ),
        _ => String::new(),
    };
    Err(anyhow!("the mock refused POST {url}: {status}: {detail}{who}").context(Exit(code)))
}

/// `{root}/mock/{kind}/{id}/{route}`, the id one path segment
/// (percent-encoded as needed).
fn action_url(root: &str, kind: &str, id: &str, route: &str) -> Result<reqwest::Url> {
    let mut url = reqwest::Url::parse(root).with_context(|| {
        format!("`{root}` is not a URL; give the mock's URL, e.g. --mock-url {DEFAULT_MOCK_URL}")
    })?;
    url.path_segments_mut()
        .map_err(|()| {
            anyhow!("`{root}` cannot be the mock's URL; give e.g. --mock-url {DEFAULT_MOCK_URL}")
        })?
        .pop_if_empty()
        .extend(["mock", kind, id])
        .extend(route.split('/'));
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_url_drops_v2_and_slashes() {
        assert_eq!(
            root_url("http://127.0.0.1:8080/v2"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            root_url("http://127.0.0.1:8080/v2/"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(root_url("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
    }

    #[test]
    fn an_id_is_one_path_segment() {
        let url = action_url(
            "http://127.0.0.1:8080",
            "shipment",
            "a/b c",
            "buyer/approve",
        )
        .ok();
        assert_eq!(
            url.map(String::from).as_deref(),
            Some("http://127.0.0.1:8080/mock/shipment/a%2Fb%20c/buyer/approve")
        );
        assert!(action_url("not a url", "order", "a", "buyer/resend").is_err());
    }

    #[test]
    fn the_header_body_names_only_what_is_given() {
        let header = HeaderArgs {
            bill_of_lading_number: None,
            bill_of_lading_issue_date: None,
            tracking_number: Some("TRK-1".into()),
            carrier_shipment_number: None,
            imo_number: None,
            transport_mode: Some("3".into()),
            shipment_number: None,
            invoice_numbers: vec!["INV-1".into()],
        };
        assert_eq!(
            header.body(),
            json!({"identifiers": {"trackingNumber": "TRK-1"}, "transportMode": "3",
                   "invoiceNumbers": ["INV-1"]})
        );
    }
}
