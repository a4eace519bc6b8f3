//! `tradecloud inspect FILE [--since TIMESTAMP] [--json]`: what a webhook
//! body, order, shipment or poll response file contains and what changed in
//! it.
//!
//! The file is recognised by its shape ([`Message`], in
//! [`tradecloud::webhook`]; tXML is decoded by its one decoder). "Changed" follows the
//! rules of [`tradecloud::changes`]: without `--since`, changed in this
//! message (every line of an order event; the lines and documents of a whole
//! order or shipment whose `lastUpdatedAt` equals the order's or shipment's);
//! with `--since T`, changed strictly after `T`.
//!
//! Lines are named by their `id` (order lines) or
//! `despatchAdviceNumber/despatchAdviceLinePosition` (shipment lines),
//! documents by their `code`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use tradecloud::api::common::types::{Document, ShipmentDocument};
use tradecloud::changes::{describe_changed_lines, ChangeSet, DescribeLine, DocumentRef, Place};
use tradecloud::types::DateTime;
use tradecloud::webhook::{Message, OrderWebhookEvent, Webhook};

/// Arguments of `tradecloud inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The file to inspect, or `-` for standard input: an order or shipment
    /// webhook body (JSON or tXML), a whole order, a shipment or a poll
    /// response (JSON).
    pub file: PathBuf,
    /// Report what changed strictly after this instant (e.g.
    /// 2025-04-23T10:01:53.812Z; without a zone it is UTC) instead of what
    /// changed in this message.
    #[arg(long, value_name = "TIMESTAMP")]
    pub since: Option<DateTime>,
    /// Print exactly one JSON object: kind, eventName, id, lines,
    /// changedLines and changedDocuments (poll responses add items).
    #[arg(long)]
    pub json: bool,
}

/// Runs `tradecloud inspect`.
pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let (name, bytes) = read_input(&args.file)?;
    let message = parse(&name, &bytes)?;
    let report = Report::of(&message, args.since.as_ref());
    if args.json {
        let mut text = serde_json::to_string_pretty(&report.to_json())?;
        text.push('\n');
        super::write_stdout(text.as_bytes())
    } else {
        super::write_stdout(report.to_text(args.since.as_ref()).as_bytes())
    }
}

/// Reads the file, or standard input for `-`. Returns a display name too.
fn read_input(path: &Path) -> anyhow::Result<(String, Vec<u8>)> {
    let (name, bytes) = super::read_file_or_stdin(
        path,
        "Tradecloud's webhook bodies and API answers are far smaller: check that it is the file \
         to inspect",
    )?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        anyhow::bail!("{name} is empty: expected a Tradecloud message (JSON)");
    }
    Ok((name, bytes))
}

/// Recognises the message: tXML (XML) or JSON.
fn parse(name: &str, bytes: &[u8]) -> anyhow::Result<Message> {
    let what = if Message::looks_like_txml(bytes) {
        "looks like tXML (XML)"
    } else {
        "cannot be inspected"
    };
    Message::from_bytes(bytes).with_context(|| format!("{name} {what}"))
}

// ---------------------------------------------------------------------------
// Naming lines and documents
// ---------------------------------------------------------------------------

/// The fields of a document used for naming it.
trait DocumentFields {
    fn code(&self) -> Option<&str>;
    fn object_id(&self) -> Option<&str>;
    fn url(&self) -> Option<&str>;
    fn name(&self) -> Option<&str>;
}

macro_rules! impl_document_fields {
    ($($ty:ty),*) => {$(
        impl DocumentFields for $ty {
            fn code(&self) -> Option<&str> {
                self.code.as_deref()
            }
            fn object_id(&self) -> Option<&str> {
                self.object_id.as_deref()
            }
            fn url(&self) -> Option<&str> {
                self.url.as_deref()
            }
            fn name(&self) -> Option<&str> {
                self.name.as_deref()
            }
        }
    )*};
}

impl_document_fields!(Document, ShipmentDocument);

/// Documents are named by `code`; without one, by `objectId`, `url` or `name`.
fn document_name<D: DocumentFields>(doc: &D, index: usize) -> String {
    doc.code()
        .or_else(|| doc.object_id())
        .or_else(|| doc.url())
        .or_else(|| doc.name())
        .map_or_else(|| format!("document #{}", index + 1), str::to_owned)
}

/// Where a document sits and how to get its file, for the text output.
fn document_detail<D: DocumentFields, L: DescribeLine>(
    doc: &DocumentRef<'_, D>,
    lines: &[&L],
    shipment: bool,
) -> String {
    let place = match doc.place {
        Place::Header if shipment => format!("{} shipment", doc.party),
        Place::Header => format!("{} order", doc.party),
        Place::Line { index, .. } => {
            let line = lines
                .get(index)
                .map_or_else(|| format!("#{}", index + 1), |l| l.name(index));
            format!("{} line {line}", doc.party)
        }
    };
    let file = if doc.object_id().is_some() {
        "objectId"
    } else if doc.url().is_some() {
        "url"
    } else {
        "no file"
    };
    format!("{place}, {file}")
}

// ---------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------

/// The `--json` output, in this key order. `items` only for poll responses.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonReport<'a> {
    kind: &'static str,
    event_name: Option<&'a str>,
    id: Option<&'a str>,
    lines: usize,
    changed_lines: Vec<&'a str>,
    changed_documents: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    items: Option<Vec<JsonReport<'a>>>,
}

fn entry_names(entries: &[Entry]) -> Vec<&str> {
    entries.iter().map(|e| e.name.as_str()).collect()
}

/// A named entry with an optional description.
#[derive(Clone)]
struct Entry {
    name: String,
    detail: Option<String>,
}

/// What `inspect` prints for one message (or one item of a poll response).
struct Report {
    kind: &'static str,
    event_name: Option<String>,
    id: Option<String>,
    last_updated: Option<String>,
    lines: usize,
    changed_lines: Vec<Entry>,
    documents: usize,
    changed_documents: Vec<Entry>,
    /// Poll responses: one report per item.
    items: Option<Vec<Report>>,
}

impl Report {
    fn of(message: &Message, since: Option<&DateTime>) -> Report {
        let kind = message.kind();
        let event_name = message.event_name().map(str::to_owned);
        let mut report = match message {
            Message::Webhook(Webhook::Order(body)) => match body.event() {
                Some(OrderWebhookEvent::Order(event)) => Report::changes(kind, event, since, false),
                Some(OrderWebhookEvent::SingleDelivery(event)) => {
                    Report::changes(kind, event, since, false)
                }
                Some(OrderWebhookEvent::Documents(event)) => {
                    Report::changes(kind, event, since, false)
                }
                // `Message` never holds an order webhook body without an event.
                None => Report::poll(kind, std::iter::empty()),
            },
            Message::Webhook(Webhook::Shipment(body)) => {
                Report::changes(kind, &body.shipment, since, true)
            }
            // `Message` never holds a body without an event.
            Message::Webhook(Webhook::Unknown(_)) => Report::poll(kind, std::iter::empty()),
            Message::Order(order) => Report::changes(kind, order.as_ref(), since, false),
            Message::SingleDeliveryOrder(order) => {
                Report::changes(kind, order.as_ref(), since, false)
            }
            Message::Shipment(shipment) => Report::changes(kind, shipment.as_ref(), since, true),
            Message::OrderPoll(poll) => Report::poll(
                kind,
                poll.data.iter().map(|o| {
                    Report::with_id(Report::changes("order", o, since, false), o.id.as_deref())
                }),
            ),
            Message::SingleDeliveryOrderPoll(poll) => Report::poll(
                kind,
                poll.data.iter().map(|o| {
                    Report::with_id(
                        Report::changes("singleDeliveryOrder", o, since, false),
                        o.id.as_deref(),
                    )
                }),
            ),
            Message::ShipmentPoll(poll) => Report::poll(
                kind,
                poll.data.iter().map(|s| {
                    Report::with_id(Report::changes("shipment", s, since, true), s.id.as_deref())
                }),
            ),
        };
        report.event_name = event_name;
        report.id = message.id().map(str::to_owned);
        report.last_updated = message.last_updated().map(|t| t.as_str().to_owned());
        report
    }

    fn with_id(mut report: Report, id: Option<&str>) -> Report {
        report.id = id.map(str::to_owned);
        report
    }

    /// The report of one order, event or shipment.
    fn changes<M>(
        kind: &'static str,
        message: &M,
        since: Option<&DateTime>,
        shipment: bool,
    ) -> Report
    where
        M: ChangeSet + tradecloud::changes::LastUpdated,
        M::Line: DescribeLine,
        M::Document: DocumentFields,
    {
        let lines = message.all_lines();
        let changed_lines = describe_changed_lines(message, since)
            .into_iter()
            .map(|line| Entry {
                name: line.name,
                detail: line.detail,
            })
            .collect();
        let documents = message.all_documents();
        let changed_documents = documents
            .iter()
            .enumerate()
            .filter(|(_, doc)| message.document_changed(doc, since))
            .map(|(index, doc)| Entry {
                name: document_name(doc.document, index),
                detail: Some(document_detail(doc, &lines, shipment)),
            })
            .collect();
        Report {
            kind,
            event_name: None,
            id: None,
            last_updated: message.last_updated().map(|t| t.as_str().to_owned()),
            lines: lines.len(),
            changed_lines,
            documents: documents.len(),
            changed_documents,
            items: None,
        }
    }

    /// The report of a poll response: the totals and one report per item.
    fn poll(kind: &'static str, items: impl Iterator<Item = Report>) -> Report {
        let items: Vec<Report> = items.collect();
        let mut report = Report {
            kind,
            event_name: None,
            id: None,
            last_updated: None,
            lines: items.iter().map(|i| i.lines).sum(),
            changed_lines: Vec::new(),
            documents: items.iter().map(|i| i.documents).sum(),
            changed_documents: Vec::new(),
            items: None,
        };
        for item in &items {
            report
                .changed_lines
                .extend(item.changed_lines.iter().cloned());
            report
                .changed_documents
                .extend(item.changed_documents.iter().cloned());
        }
        report.items = Some(items);
        report
    }

    fn to_json(&self) -> JsonReport<'_> {
        JsonReport {
            kind: self.kind,
            event_name: self.event_name.as_deref(),
            id: self.id.as_deref(),
            lines: self.lines,
            changed_lines: entry_names(&self.changed_lines),
            changed_documents: entry_names(&self.changed_documents),
            items: self
                .items
                .as_ref()
                .map(|items| items.iter().map(Report::to_json).collect()),
        }
    }

    fn to_text(&self, since: Option<&DateTime>) -> String {
        let mut out = String::new();
        self.write_text(&mut out, since, "");
        out
    }

    fn write_text(&self, out: &mut String, since: Option<&DateTime>, indent: &str) {
        use std::fmt::Write as _;

        let changed = match since {
            None => "changed in this message".to_owned(),
            Some(since) => format!("changed after {since}"),
        };
        let field = |out: &mut String, label: &str, value: &str| {
            let _ = writeln!(out, "{indent}{:<15}{value}", format!("{label}:"));
        };
        field(out, "kind", self.kind);
        if let Some(event_name) = &self.event_name {
            field(out, "event name", event_name);
        }
        if self.items.is_none() || self.id.is_some() {
            field(out, "id", self.id.as_deref().unwrap_or("(none)"));
        }
        if let Some(last_updated) = &self.last_updated {
            field(out, "lastUpdatedAt", last_updated);
        }
        let entries = |out: &mut String, entries: &[Entry]| {
            for entry in entries {
                match &entry.detail {
                    Some(detail) => writeln!(out, "{indent}  - {} ({detail})", entry.name),
                    None => writeln!(out, "{indent}  - {}", entry.name),
                }
                .ok();
            }
        };
        field(
            out,
            "lines",
            &format!("{}, {} {changed}", self.lines, self.changed_lines.len()),
        );
        entries(out, &self.changed_lines);
        field(
            out,
            "documents",
            &format!(
                "{}, {} {changed}",
                self.documents,
                self.changed_documents.len()
            ),
        );
        entries(out, &self.changed_documents);
        if let Some(items) = &self.items {
            field(out, "items", &items.len().to_string());
            let nested = format!("{indent}    ");
            for (index, item) in items.iter().enumerate() {
                let _ = writeln!(out, "{indent}  item {}:", index + 1);
                item.write_text(out, since, &nested);
            }
        }
    }
}
