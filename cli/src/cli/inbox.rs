//! `tradecloud inbox ...`: look into the receiver's durable inbox, show the
//! exact bytes of an event, replay quarantined or dead events, and delete
//! old handled ones.
//!
//! The store is the one `tradecloud serve` uses, SQLite or PostgreSQL:
//! `--store URL`, else `TRADECLOUD_STORE_URL`, else `[store] url` of the
//! configuration file (`--config PATH`, or `tradecloud.toml` in the current
//! directory if it exists), else `sqlite://tradecloud-inbox.db`.
//! `tradecloud inbox migrate --from URL --to URL` copies a whole inbox from
//! one store to another.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use tradecloud::inbox::{
    redact, Attempt, EventSummary, Inbox, InboxError, InboxOptions, ListFilter, State,
    DEFAULT_STORE_URL,
};

use tradecloud::receiver::config::DEFAULT_CONFIG_FILE;

use super::terminal::{self, COLUMN_CHARS, FIELD_CHARS};
use super::{write_stdout, GlobalArgs};

/// `tradecloud inbox` subcommands.
#[derive(Debug, Subcommand)]
pub enum InboxCommand {
    /// List stored events: the newest N, oldest first.
    List(ListArgs),
    /// Show one event; with --raw, write its exact body bytes to stdout.
    Show(ShowArgs),
    /// Queue a rejected, unhandled, dead or done event to be processed again;
    /// with --state (and --since, --until, --kind, --error-contains), every
    /// event of that state that matches.
    Replay(ReplayArgs),
    /// List the dead-lettered events with their errors.
    Dead(DeadArgs),
    /// Delete the done events handled more than DAYS days ago (never events
    /// still to be handled, dead, rejected or unhandled ones).
    Purge(PurgeArgs),
    /// Copy a whole inbox into a new, empty one (e.g. from SQLite to
    /// PostgreSQL): ids, states, errors, times and bodies byte for byte.
    /// Stop every receiver of both first.
    Migrate(MigrateArgs),
}

/// `tradecloud inbox migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The inbox to copy, e.g. sqlite://tradecloud-inbox.db.
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// The new inbox, e.g. postgres://tradecloud@db:5432/tradecloud (created or empty).
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Which inbox to open.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Inbox store URL, e.g. sqlite://tradecloud-inbox.db (default: `[store] url` of the configuration file).
    #[arg(long, env = "TRADECLOUD_STORE_URL", value_name = "URL")]
    pub store: Option<String>,
}

/// `tradecloud inbox list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// One JSON object per line (id, kind, eventName, orderId/shipmentId, messageId, receivedAt, state, error, ...).
    #[arg(long)]
    pub json: bool,
    /// Only events in this state: received, trigger, processing, done, retrying, dead, rejected, unhandled.
    #[arg(long, value_name = "STATE", value_parser = parse_state)]
    pub state: Option<State>,
    /// At most this many events (the newest).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub limit: usize,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `tradecloud inbox show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Inbox id of the event.
    pub id: i64,
    /// Write only the body, byte for byte, to stdout.
    #[arg(long, conflicts_with = "json")]
    pub raw: bool,
    /// Print the event's metadata as one JSON object (without the body).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `tradecloud inbox replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Inbox id of the event (or --state with filters, for many).
    #[arg(required_unless_present = "state", conflicts_with = "state")]
    pub id: Option<i64>,
    #[command(flatten)]
    pub filter: super::inbox_replay::ReplayFilter,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `tradecloud inbox dead`.
#[derive(Debug, Args)]
pub struct DeadArgs {
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `tradecloud inbox purge`.
#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Delete the done events whose handling finished more than this many days ago.
    #[arg(long, value_name = "DAYS")]
    pub older_than: u64,
    /// Only count what would be deleted.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

fn parse_state(s: &str) -> Result<State, String> {
    s.parse::<State>().map_err(|e| e.to_string())
}

/// Run a `tradecloud inbox` subcommand.
pub async fn run(cmd: InboxCommand, global: &GlobalArgs) -> Result<()> {
    match cmd {
        InboxCommand::Migrate(args) => {
            let from = open_url(&args.from, "--from").await?;
            let options = InboxOptions {
                create: true,
                ..InboxOptions::default()
            };
            let to = Inbox::connect_migration_target(&args.to, options)
                .await
                .map_err(|e| open_error(&args.to, "--to", e))?;
            let copied = from.copy_to(&to).await.with_context(|| {
                format!("cannot copy {} to {}", redact(&args.from), redact(&args.to))
            })?;
            let out = if args.json {
                format!("{}\n", serde_json::to_string(&copied)?)
            } else {
                format!(
                    "copied {} events ({} body bytes) from {} to {}\n",
                    copied.events,
                    copied.body_bytes,
                    redact(&args.from),
                    redact(&args.to)
                )
            };
            write_stdout(out.as_bytes())
        }
        InboxCommand::List(args) => {
            let inbox = open_reading(&args.store, global).await?;
            let filter = ListFilter {
                state: args.state,
                limit: Some(args.limit),
                ..ListFilter::default()
            };
            let events = inbox.list(filter).await?;
            print_events(&events, args.json)
        }
        InboxCommand::Show(args) => {
            let inbox = open_reading(&args.store, global).await?;
            let event = inbox
                .get(args.id)
                .await?
                .with_context(|| format!("no event {} in the inbox", args.id))?;
            if args.raw {
                return write_stdout(&event.body);
            }
            let attempts = inbox.attempts(args.id).await?;
            // Whether a `processing` event is being handled now: a claim left
            // by a receiver that stopped or crashed is not (`Inbox::held`).
            let held = match event.summary.state {
                State::Processing => Some(inbox.held(args.id).await?),
                _ => None,
            };
            if args.json {
                let mut value = serde_json::to_value(&event.summary)?;
                if let Some(object) = value.as_object_mut() {
                    if let Some(held) = held {
                        object.insert("held".into(), held.into());
                    }
                    object.insert(
                        "processingAttempts".into(),
                        serde_json::to_value(&attempts)?,
                    );
                    object.insert("headers".into(), serde_json::to_value(&event.headers)?);
                }
                let mut line = serde_json::to_string(&value)?;
                line.push('\n');
                return write_stdout(line.as_bytes());
            }
            let mut out = describe(&event.summary);
            if let Some(held) = held {
                out.push_str(describe_held(held));
            }
            out.push_str(&describe_headers(&event.headers));
            out.push_str(&describe_attempts(&attempts));
            out.push('\n');
            match std::str::from_utf8(&event.body) {
                Ok(text) => {
                    let text = terminal::text(text);
                    out.push_str(&text);
                    if !text.ends_with('\n') {
                        out.push('\n');
                    }
                }
                Err(_) => {
                    let _ = writeln!(
                        out,
                        "(a body of {} bytes that is not UTF-8: use --raw)",
                        event.body.len()
                    );
                }
            }
            write_stdout(out.as_bytes())
        }
        InboxCommand::Replay(args) => {
            let inbox = open(&args.store, global).await?;
            let Some(id) = args.id else {
                let out = super::inbox_replay::run(&inbox, &args.filter).await?;
                return write_stdout(out.as_bytes());
            };
            let before = inbox
                .get(id)
                .await?
                .with_context(|| format!("no event {id} in the inbox"))?;
            inbox.replay(id).await?;
            let after = inbox.get(id).await?.map(|e| e.summary.state);
            let after = after.map_or_else(|| "?".to_string(), |s| s.to_string());
            let line = format!(
                "event {id} ({}) queued again as {after}\n",
                before.summary.state
            );
            write_stdout(line.as_bytes())
        }
        InboxCommand::Purge(args) => {
            let inbox = open(&args.store, global).await?;
            let cutoff = i64::try_from(args.older_than)
                .ok()
                .and_then(chrono::Duration::try_days)
                .and_then(|days| chrono::Utc::now().checked_sub_signed(days))
                .with_context(|| format!("--older-than {} is too large", args.older_than))?;
            let purged = inbox.purge(cutoff, args.dry_run).await?;
            let cutoff = cutoff.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let out = if args.json {
                let mut value = serde_json::to_value(purged)?;
                value["dryRun"] = args.dry_run.into();
                value["before"] = cutoff.into();
                format!("{value}\n")
            } else {
                format!(
                    "{} {} done events ({} body bytes) handled before {cutoff}\n",
                    if args.dry_run {
                        "would delete"
                    } else {
                        "deleted"
                    },
                    purged.events,
                    purged.body_bytes,
                )
            };
            write_stdout(out.as_bytes())
        }
        InboxCommand::Dead(args) => {
            let inbox = open_reading(&args.store, global).await?;
            let events = inbox.dead().await?;
            if args.json {
                return print_events(&events, true);
            }
            let mut out = String::new();
            if events.is_empty() {
                out.push_str("no dead events\n");
            }
            for event in &events {
                let _ = writeln!(
                    out,
                    "{} {} {} {} {}={} attempts={} received={}\n    {}",
                    event.id,
                    event.state,
                    event.kind,
                    shown(&event.event_name, FIELD_CHARS),
                    event.kind.object_id_name(),
                    shown(&event.object_id, FIELD_CHARS),
                    event.attempts,
                    received(event),
                    terminal::field(event.error.as_deref().unwrap_or(""), FIELD_CHARS)
                );
            }
            write_stdout(out.as_bytes())
        }
    }
}

/// The store URL: `--store` / `TRADECLOUD_STORE_URL`, else the
/// configuration file's `[store] url`, else the default; and where it came
/// from (for error messages).
fn locate(store: &StoreArgs, global: &GlobalArgs) -> Result<(String, String)> {
    if let Some(url) = &store.store {
        return Ok((url.clone(), "--store or TRADECLOUD_STORE_URL".into()));
    }
    let path = match &global.config {
        Some(path) => Some(path.as_path()),
        None => Some(Path::new(DEFAULT_CONFIG_FILE)).filter(|p| p.is_file()),
    };
    if let Some(path) = path {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let table: toml::Table = text
            .parse()
            .with_context(|| format!("{} is not valid TOML", path.display()))?;
        if let Some(store) = table.get("store") {
            match store.get("url") {
                Some(toml::Value::String(url)) => {
                    return Ok((url.clone(), format!("[store] url in {}", path.display())))
                }
                Some(_) => bail!("{}: [store] url must be a string", path.display()),
                None => {}
            }
        }
    }
    Ok((DEFAULT_STORE_URL.to_string(), DEFAULT_ORIGIN.into()))
}

/// Where the default store URL "comes from".
const DEFAULT_ORIGIN: &str = "the default: no --store, TRADECLOUD_STORE_URL or [store] url";

async fn open(store: &StoreArgs, global: &GlobalArgs) -> Result<Inbox> {
    let (url, origin) = locate(store, global)?;
    open_url(&url, &origin).await
}

/// Open an existing inbox (a SQLite file is never created); `origin` says
/// where `url` came from.
async fn open_url(url: &str, origin: &str) -> Result<Inbox> {
    Inbox::connect_with(url, existing())
        .await
        .map_err(|e| open_error(url, origin, e))
}

/// [`open`] for a command that only reads (`list`, `show`, `dead`): a
/// SQLite inbox is opened read-only, so that one on a read-only file system
/// can be read.
async fn open_reading(store: &StoreArgs, global: &GlobalArgs) -> Result<Inbox> {
    let (url, origin) = locate(store, global)?;
    Inbox::connect_reading(&url, existing())
        .await
        .map_err(|e| open_error(&url, &origin, e))
}

/// The options of the `inbox` commands: an inbox that is not there is not
/// created.
fn existing() -> InboxOptions {
    InboxOptions {
        create: false,
        ..InboxOptions::default()
    }
}

/// What failed when opening `url` (from `origin`): the store could not be
/// reached (down, refused, the password refused: the cause says which), or
/// it is not an inbox this command can use. Only a missing default inbox
/// suggests choosing another one.
fn open_error(url: &str, origin: &str, error: InboxError) -> anyhow::Error {
    let shown = redact(url);
    match error {
        InboxError::Unavailable(cause) => {
            let cause = cause
                .strip_prefix(&format!("{shown}: "))
                .unwrap_or(&cause)
                .to_string();
            anyhow::anyhow!("cannot reach the inbox store {shown} (from {origin}): {cause}")
        }
        other => {
            let mut hint = relative_sqlite_hint(url).unwrap_or_default();
            if origin == DEFAULT_ORIGIN {
                hint.push_str(
                    "; choose the inbox with --store, TRADECLOUD_STORE_URL or [store] url in --config",
                );
            }
            anyhow::anyhow!("cannot open the inbox {shown} (from {origin}): {other}{hint}")
        }
    }
}

/// For a SQLite URL with a relative path that is not there: where it was
/// looked for. `tradecloud serve` resolves it from its working directory
/// (the systemd unit's is its state directory), an `inbox` command from
/// the shell's, so the same configuration file finds no inbox elsewhere.
fn relative_sqlite_hint(url: &str) -> Option<String> {
    let rest = url
        .trim()
        .strip_prefix("sqlite://")
        .or_else(|| url.trim().strip_prefix("sqlite:"))?;
    let path = Path::new(rest.split_once('?').map_or(rest, |(path, _)| path));
    if rest.starts_with(":memory:") || path.is_absolute() || path.exists() {
        return None;
    }
    let cwd = std::env::current_dir().ok()?;
    Some(format!(
        "; a relative path is taken from the current directory ({}): run the command in the \
         directory `tradecloud serve` runs in (the systemd unit's: /var/lib/tradecloud), or name \
         the file with --store sqlite:///ABSOLUTE/PATH",
        cwd.display()
    ))
}

fn received(event: &EventSummary) -> String {
    event
        .received_at
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn print_events(events: &[EventSummary], json: bool) -> Result<()> {
    let mut out = String::new();
    if json {
        for event in events {
            out.push_str(&serde_json::to_string(event)?);
            out.push('\n');
        }
        return write_stdout(out.as_bytes());
    }
    let _ = writeln!(
        out,
        "{:>8}  {:<10}  {:<14}  {:<36}  {:<36}  {:<24}  {:>3}  ERROR",
        "ID", "STATE", "KIND", "EVENT", "ORDER/SHIPMENT ID", "RECEIVED", "TRY"
    );
    for e in events {
        let error = terminal::field(e.error.as_deref().unwrap_or(""), 80);
        let _ = writeln!(
            out,
            "{:>8}  {:<10}  {:<14}  {:<36}  {:<36}  {:<24}  {:>3}  {}",
            e.id,
            e.state.as_str(),
            e.kind.as_str(),
            shown(&e.event_name, COLUMN_CHARS),
            shown(&e.object_id, COLUMN_CHARS),
            received(e),
            e.attempts,
            error
        );
    }
    write_stdout(out.as_bytes())
}

/// An optional value from the outside, for a terminal (`-` when absent).
fn shown(value: &Option<String>, max: usize) -> String {
    value
        .as_deref()
        .map_or_else(|| "-".into(), |v| terminal::field(v, max))
}

/// The request's headers as stored (credentials redacted), one line each,
/// for `inbox show`.
fn describe_headers(headers: &[(String, String)]) -> String {
    let mut out = String::new();
    if headers.is_empty() {
        out.push_str("request headers: none kept\n");
        return out;
    }
    let _ = writeln!(out, "request headers ({}):", headers.len());
    for (name, value) in headers {
        let _ = writeln!(
            out,
            "  {}: {}",
            terminal::field(name, FIELD_CHARS),
            terminal::field(value, FIELD_CHARS)
        );
    }
    out
}

/// The `claim:` line of `inbox show` for a `processing` event: whether a
/// claim holds it ([`Inbox::held`]; counted while any process has the inbox
/// open to use it, a claim left by a crash too).
fn describe_held(held: bool) -> &'static str {
    if held {
        "claim:         held: being handled (a receiver or processor has the inbox open)\n"
    } else {
        "claim:         none live: interrupted, its receiver stopped or crashed; handled \
         again when a receiver next claims it\n"
    }
}

/// The processing attempts, one line each (oldest first), for `inbox show`.
fn describe_attempts(attempts: &[Attempt]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "processing attempts ({}):", attempts.len());
    for a in attempts {
        let _ = writeln!(
            out,
            "  {}  {:>9.3} s  {:<9}  {}  {}",
            a.started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            a.duration().as_secs_f64(),
            a.outcome.as_str(),
            shown(&a.instance, 40),
            a.error
                .as_deref()
                .map_or_else(String::new, |e| terminal::field(e, FIELD_CHARS)),
        );
    }
    out
}

fn describe(e: &EventSummary) -> String {
    let mut out = String::new();
    let opt = |v: &Option<String>| shown(v, FIELD_CHARS);
    let _ = writeln!(out, "id:            {}", e.id);
    let _ = writeln!(out, "kind:          {}", e.kind);
    let _ = writeln!(out, "event name:    {}", opt(&e.event_name));
    let _ = writeln!(
        out,
        "{:<15}{}",
        format!("{}:", e.kind.object_id_name()),
        opt(&e.object_id)
    );
    let _ = writeln!(out, "message id:    {}", opt(&e.message_id));
    let _ = writeln!(out, "state:         {}", e.state);
    if let Some(error) = &e.error {
        let _ = writeln!(
            out,
            "error:         {}",
            terminal::field(error, FIELD_CHARS)
        );
    }
    let _ = writeln!(out, "attempts:      {}", e.attempts);
    let _ = writeln!(out, "received at:   {}", received(e));
    let _ = writeln!(
        out,
        "updated at:    {}",
        e.updated_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
    if let Some(next) = &e.next_attempt_at {
        let _ = writeln!(
            out,
            "next attempt:  {}",
            next.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
    }
    let _ = writeln!(
        out,
        "content type:  {}",
        terminal::field(&e.content_type, FIELD_CHARS)
    );
    let _ = writeln!(out, "source:        {}", opt(&e.source));
    let _ = writeln!(out, "origin:        {}", e.origin.as_str());
    let _ = writeln!(out, "body:          {} bytes", e.body_len);
    out
}
