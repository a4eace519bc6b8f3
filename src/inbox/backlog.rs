//! The handler backlog: how many events are still to be handled and how
//! long the oldest of them has waited ([`Inbox::backlog`]), for the
//! receiver's `tradecloud_inbox_queued_events` and
//! `tradecloud_inbox_oldest_queued_age_seconds` gauges.
//!
//! Both are read from indexes, never by walking the `events` table: the
//! count walks the index entries of the queued events only (an inbox of a
//! million handled events costs nothing more), and the oldest one is the
//! first entry of each queued state in the `(state, id)` index.

use std::time::Duration;

use rusqlite::OptionalExtension;

use super::{Inbox, InboxError};

/// The states of an event still to be handled.
pub(crate) const QUEUED: [&str; 4] = ["received", "trigger", "processing", "retrying"];

/// What [`Inbox::backlog`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Events still to be handled: `received`, `trigger` (a GET webhook to
    /// fetch), `processing` (a handler is on it) and `retrying` (waiting for
    /// its next attempt). Dead, rejected and unhandled events are not in it.
    pub queued: u64,
    /// How long ago the oldest of them (the lowest inbox id) was stored, in
    /// the store's clock; `None` when nothing is queued.
    pub oldest_age: Option<Duration>,
}

/// SQLite: the count, then the lowest id of each queued state (an index
/// seek each) and that event's `received_at`.
pub(crate) fn sqlite(conn: &rusqlite::Connection, now_ms: i64) -> Result<Backlog, InboxError> {
    let list = QUEUED.map(|s| format!("'{s}'")).join(", ");
    let queued: i64 = conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM events WHERE state IN ({list})"
        ))?
        .query_row([], |row| row.get(0))?;
    let oldest: Option<i64> = conn
        .prepare_cached(&oldest_sql())?
        .query_row([], |row| row.get(0))
        .optional()?;
    Ok(Backlog {
        queued: u64::try_from(queued).unwrap_or(0),
        oldest_age: oldest.map(|received| age(now_ms - received)),
    })
}

/// The `received_at` of the queued event with the lowest id: the minimum
/// of one index seek per state (a `state IN (...)` would read every
/// queued entry to find it).
fn oldest_sql() -> String {
    let firsts = QUEUED
        .map(|s| format!("SELECT (SELECT min(id) FROM events WHERE state = '{s}') AS id"))
        .join(" UNION ALL ");
    format!("SELECT received_at FROM events WHERE id = (SELECT min(id) FROM ({firsts}) AS firsts)")
}

/// PostgreSQL: the same in one statement, the age in the database's clock.
#[cfg(feature = "postgres")]
pub(crate) fn postgres_sql() -> String {
    let list = QUEUED.map(|s| format!("'{s}'")).join(", ");
    format!(
        "SELECT (SELECT count(*) FROM events WHERE state IN ({list})), \
         tc_now_ms() - ({})",
        oldest_sql()
    )
}

/// Milliseconds (negative when clocks went backwards) as a duration.
pub(crate) fn age(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl Inbox {
    /// The handler backlog: how many events are still to be handled and how
    /// long the oldest of them has waited. Cheap at any inbox size (index
    /// reads; the count grows with the queued events only). Every instance
    /// on one PostgreSQL database sees the same backlog.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), tradecloud::inbox::InboxError> {
    /// let inbox = tradecloud::inbox::Inbox::open("sqlite://tradecloud-inbox.db")?;
    /// let backlog = inbox.backlog().await?;
    /// println!("{} queued, the oldest for {:?}", backlog.queued, backlog.oldest_age);
    /// # Ok(()) }
    /// ```
    pub async fn backlog(&self) -> Result<Backlog, InboxError> {
        self.store_impl().backlog().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every step of both statements reads an index (`SEARCH`), none walks
    /// the table (`SCAN`).
    #[test]
    fn sqlite_backlog_reads_indexes_only() {
        let inbox = rusqlite::Connection::open_in_memory().unwrap();
        super::super::sqlite::create_schema_for_tests(&inbox);
        let list = QUEUED.map(|s| format!("'{s}'")).join(", ");
        for sql in [
            format!("SELECT count(*) FROM events WHERE state IN ({list})"),
            oldest_sql(),
        ] {
            let plan: Vec<String> = inbox
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map([], |row| row.get(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(
                plan.iter().all(|step| !step.starts_with("SCAN events")),
                "{sql}: {plan:?}"
            );
            assert!(
                plan.iter().any(|step| step.contains("INDEX")),
                "{sql}: {plan:?}"
            );
        }
    }
}
