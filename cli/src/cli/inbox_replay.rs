//! `tradecloud inbox replay --state STATE [filters]`: queue every event of
//! a state that matches the filters again (a weekend of events dead-lettered
//! by wrong credentials, in one command).
//!
//! Filter semantics (all given filters must hold):
//!
//! * `--state STATE` (required): `dead`, `rejected`, `unhandled` or `done`
//!   (the states an event can be replayed from);
//! * `--since TIME`: received at or after TIME; `--until TIME`: received
//!   before TIME. TIME is an RFC 3339 timestamp (`2026-03-07T18:00:00Z`,
//!   `2026-03-07T19:00:00+01:00`), a date (`2026-03-07`: its start, UTC),
//!   or an age (`90m`, `36h`, `2d`: that long before now);
//! * `--kind order|orderDocuments|shipment`;
//! * `--error-contains TEXT`: the recorded error contains TEXT (ignoring
//!   case), e.g. `401`.
//!
//! Matching events are replayed oldest first (the events of one order keep
//! their order). An event whose state changed since it was listed (another
//! receiver handled it) is skipped and counted. `--dry-run` lists the
//! events without replaying them.

use std::fmt::Write as _;

use anyhow::{bail, Context as _, Result};
use chrono::{DateTime, Utc};
use clap::Args;
use tradecloud::inbox::{EventKind, EventSummary, Inbox, InboxError, ListFilter, State};

use super::terminal::{self, COLUMN_CHARS};

/// The filters of a bulk replay.
#[derive(Debug, Clone, Args)]
pub struct ReplayFilter {
    /// Replay every event in this state that matches the other filters:
    /// dead, rejected, unhandled or done.
    #[arg(long, value_name = "STATE", value_parser = parse_replayable)]
    pub state: Option<State>,
    /// Only events received at or after TIME: RFC 3339 (2026-03-07T18:00:00Z), a date (2026-03-07, UTC) or an age (36h, 2d, 90m).
    #[arg(long, value_name = "TIME", requires = "state", value_parser = parse_time)]
    pub since: Option<DateTime<Utc>>,
    /// Only events received before TIME (as for --since).
    #[arg(long, value_name = "TIME", requires = "state", value_parser = parse_time)]
    pub until: Option<DateTime<Utc>>,
    /// Only events of this kind: order, orderDocuments or shipment.
    #[arg(long, value_name = "KIND", requires = "state", value_parser = parse_kind)]
    pub kind: Option<EventKind>,
    /// Only events whose recorded error contains TEXT (ignoring case).
    #[arg(long, value_name = "TEXT", requires = "state")]
    pub error_contains: Option<String>,
    /// List what would be replayed; replay nothing.
    #[arg(long, requires = "state")]
    pub dry_run: bool,
    /// Print the result as one JSON object.
    #[arg(long, requires = "state")]
    pub json: bool,
}

fn parse_replayable(s: &str) -> Result<State, String> {
    let state = s.parse::<State>().map_err(|e| e.to_string())?;
    if !state.is_replayable() {
        return Err(format!(
            "{s} events cannot be replayed (they are still to be handled); use dead, rejected, unhandled or done"
        ));
    }
    Ok(state)
}

fn parse_kind(s: &str) -> Result<EventKind, String> {
    s.parse::<EventKind>().map_err(|e| e.to_string())
}

/// A time of `--since`/`--until` (see the module documentation), relative
/// to `now`.
pub fn parse_time_at(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    let unit_at = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(unit_at);
    let age = number.parse::<i64>().ok().and_then(|n| match unit {
        "m" | "min" => chrono::Duration::try_minutes(n),
        "h" => chrono::Duration::try_hours(n),
        "d" => chrono::Duration::try_days(n),
        _ => None,
    });
    match age.and_then(|age| now.checked_sub_signed(age)) {
        Some(t) if !number.is_empty() => Ok(t),
        _ => Err(format!(
            "{s:?} is not a time: use RFC 3339 (2026-03-07T18:00:00Z), a date (2026-03-07) or an age (36h, 2d, 90m)"
        )),
    }
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    parse_time_at(s, Utc::now())
}

impl ReplayFilter {
    fn matches(&self, event: &EventSummary) -> bool {
        self.since.is_none_or(|t| event.received_at >= t)
            && self.until.is_none_or(|t| event.received_at < t)
            && self.error_contains.as_deref().is_none_or(|text| {
                event
                    .error
                    .as_deref()
                    .is_some_and(|e| e.to_lowercase().contains(&text.to_lowercase()))
            })
    }
}

/// Events listed per page while looking for matches.
const PAGE: usize = 1000;

/// The events of `state` that match `filter`, oldest first.
async fn matching(inbox: &Inbox, state: State, filter: &ReplayFilter) -> Result<Vec<EventSummary>> {
    let mut found = Vec::new();
    let mut before_id = None;
    loop {
        let page = inbox
            .list(ListFilter {
                state: Some(state),
                kind: filter.kind,
                before_id,
                limit: Some(PAGE),
                ..ListFilter::default()
            })
            .await?;
        let Some(oldest) = page.first() else { break };
        before_id = Some(oldest.id);
        // Pages go back in time: once a page is entirely older than
        // --since, so is everything before it.
        let all_older = filter
            .since
            .is_some_and(|t| page.iter().all(|e| e.received_at < t));
        let full = page.len() == PAGE;
        found.extend(page.into_iter().filter(|e| filter.matches(e)));
        if all_older || !full {
            break;
        }
    }
    found.sort_by_key(|e| e.id);
    Ok(found)
}

/// Run a bulk replay (see the module documentation).
pub async fn run(inbox: &Inbox, filter: &ReplayFilter) -> Result<String> {
    let Some(state) = filter.state else {
        bail!("give an inbox id, or --state with filters");
    };
    let events = matching(inbox, state, filter)
        .await
        .context("cannot list the events to replay")?;
    let mut replayed = Vec::new();
    let mut skipped = Vec::new();
    if !filter.dry_run {
        for event in &events {
            match inbox.replay(event.id).await {
                Ok(()) => replayed.push(event.id),
                // Handled meanwhile (another receiver, another replay).
                Err(InboxError::Invalid(_) | InboxError::NotFound(_)) => skipped.push(event.id),
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!(
                            "replayed {} of {} events; event {} failed",
                            replayed.len(),
                            events.len(),
                            event.id
                        )
                    })
                }
            }
        }
    }
    if filter.json {
        let value = serde_json::json!({
            "state": state.as_str(),
            "matched": events.len(),
            "dryRun": filter.dry_run,
            "replayed": replayed,
            "skipped": skipped,
            "ids": events.iter().map(|e| e.id).collect::<Vec<_>>(),
        });
        return Ok(format!("{value}\n"));
    }
    let mut out = String::new();
    for e in &events {
        let _ = writeln!(
            out,
            "{:>8}  {:<14}  {:<36}  {}",
            e.id,
            e.kind.as_str(),
            terminal::field(e.event_name.as_deref().unwrap_or("-"), COLUMN_CHARS),
            e.received_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
    }
    let _ = writeln!(
        out,
        "{} {} {state} events{}",
        if filter.dry_run {
            "would replay"
        } else {
            "replayed"
        },
        if filter.dry_run {
            events.len()
        } else {
            replayed.len()
        },
        if skipped.is_empty() {
            String::new()
        } else {
            format!(
                " ({} skipped: handled meanwhile: {:?})",
                skipped.len(),
                skipped
            )
        }
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let now = DateTime::parse_from_rfc3339("2026-03-09T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |s: &str| {
            parse_time_at(s, now).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        };
        assert_eq!(
            at("2026-03-07T19:00:00+01:00").unwrap(),
            "2026-03-07T18:00:00Z"
        );
        assert_eq!(at("2026-03-07").unwrap(), "2026-03-07T00:00:00Z");
        assert_eq!(at("36h").unwrap(), "2026-03-08T00:00:00Z");
        assert_eq!(at("2d").unwrap(), "2026-03-07T12:00:00Z");
        assert_eq!(at("90m").unwrap(), "2026-03-09T10:30:00Z");
        for bad in ["", "h", "yesterday", "-2d", "2w", "99999999999999999999d"] {
            assert!(at(bad).is_err(), "{bad}");
        }
    }
}
