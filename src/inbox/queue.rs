//! The inbox as a work queue for [`crate::processing`]: which events are
//! ready, claiming them, and recording the outcome.
//!
//! Ordering rule: an event is *ready* when it is `received`, `trigger` or a
//! `retrying` event whose time has come, and no earlier event (smaller id) of
//! the same object id is still active (`received`, `trigger`, `processing`,
//! `retrying`). Done, dead, rejected and unhandled events do not block later ones.

use rusqlite::Connection;

use super::db::{self, RowValues, SUMMARY_COLUMNS, WITH_BODY};
use super::{now_ms, EventKind, Inbox, InboxError, Origin, State, StoredEvent};

/// What became of a claimed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finish {
    Done,
    Retry { error: String, at_ms: i64 },
    Dead { error: String },
    Rejected { error: String },
    Unhandled { reason: String },
}

/// The whole order or shipment fetched for a trigger.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    pub(crate) kind: EventKind,
    pub(crate) event_name: Option<String>,
    pub(crate) object_id: Option<String>,
    pub(crate) body: bytes::Bytes,
    pub(crate) source: String,
}

const ACTIVE: &str = "('received', 'trigger', 'processing', 'retrying')";

impl Inbox {
    /// Put events left `processing` by a crash back in the queue.
    pub(crate) async fn reset_processing(&self) -> Result<usize, InboxError> {
        self.write(
            |conn| {
                let n = conn
                    .prepare_cached(
                        "UPDATE events SET state = CASE origin WHEN 'trigger' THEN 'trigger' ELSE 'received' END, \
                         updated_at = ?1 WHERE state = 'processing'",
                    )?
                    .execute([now_ms()])?;
                Ok(n)
            },
            true,
        )
        .await
    }

    /// Up to `limit` ready events (at most one per object id), oldest first.
    pub(crate) async fn next_ready(
        &self,
        limit: usize,
        now: i64,
    ) -> Result<Vec<StoredEvent>, InboxError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let sql = format!(
                "SELECT {SUMMARY_COLUMNS}, b.body FROM {WITH_BODY} \
                 WHERE e.state IN ('received', 'trigger', 'retrying') \
                   AND (e.state <> 'retrying' OR e.next_attempt_at <= ?1) \
                   AND (e.object_id IS NULL OR NOT EXISTS ( \
                        SELECT 1 FROM events p WHERE p.object_id = e.object_id AND p.id < e.id \
                        AND p.state IN {ACTIVE})) \
                 ORDER BY e.id LIMIT ?2"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let events = stmt
                .query_map((now, limit), db::stored_event)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(events)
        })
        .await
    }

    /// Mark `ids` as `processing` (one more attempt each) if they are still
    /// ready; returns those that were claimed.
    pub(crate) async fn claim(&self, ids: Vec<i64>) -> Result<Vec<i64>, InboxError> {
        self.write(
            move |conn| {
                let now = now_ms();
                let mut stmt = conn.prepare_cached(&format!(
                    "UPDATE events SET state = 'processing', attempts = attempts + 1, updated_at = ?2 \
                     WHERE id = ?1 AND state IN ('received', 'trigger', 'retrying') \
                       AND (object_id IS NULL OR NOT EXISTS ( \
                            SELECT 1 FROM events p WHERE p.object_id = events.object_id AND p.id < events.id \
                            AND p.state IN {ACTIVE}))"
                ))?;
                let mut claimed = Vec::with_capacity(ids.len());
                for id in ids {
                    if stmt.execute((id, now))? == 1 {
                        claimed.push(id);
                    }
                }
                Ok(claimed)
            },
            false,
        )
        .await
    }

    /// Record the outcome of a claimed event.
    pub(crate) async fn finish(&self, id: i64, finish: Finish) -> Result<(), InboxError> {
        self.write(move |conn| finish_event(conn, id, &finish, now_ms()), true)
            .await
    }

    /// Store the fetched order or shipment as a new `received` event and mark
    /// the trigger done, in one transaction. Returns the new event's id.
    pub(crate) async fn complete_trigger(
        &self,
        trigger_id: i64,
        fetched: Fetched,
    ) -> Result<i64, InboxError> {
        self.write(
            move |conn| {
                let now = now_ms();
                let id = db::insert_row(
                    conn,
                    &RowValues {
                        kind: fetched.kind.as_str(),
                        event_name: fetched.event_name.as_deref(),
                        object_id: fetched.object_id.as_deref(),
                        message_id: None,
                        content_type: "application/json",
                        body: &fetched.body,
                        state: State::Received,
                        error: None,
                        source: Some(&fetched.source),
                        origin: Origin::Fetched,
                    },
                    now,
                )?;
                finish_event(conn, trigger_id, &Finish::Done, now)?;
                Ok(id)
            },
            true,
        )
        .await
    }

    /// When the earliest `retrying` event is due (ms since the epoch).
    pub(crate) async fn next_retry_at(&self) -> Result<Option<i64>, InboxError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT min(next_attempt_at) FROM events WHERE state = 'retrying'")?
                .query_row([], |row| row.get::<_, Option<i64>>(0))?)
        })
        .await
    }
}

fn finish_event(conn: &Connection, id: i64, finish: &Finish, now: i64) -> Result<(), InboxError> {
    let (state, error, next): (State, Option<&str>, Option<i64>) = match finish {
        Finish::Done => (State::Done, None, None),
        Finish::Retry { error, at_ms } => (State::Retrying, Some(error), Some(*at_ms)),
        Finish::Dead { error } => (State::Dead, Some(error), None),
        Finish::Rejected { error } => (State::Rejected, Some(error), None),
        Finish::Unhandled { reason } => (State::Unhandled, Some(reason), None),
    };
    conn.prepare_cached(
        "UPDATE events SET state = ?2, error = ?3, next_attempt_at = ?4, updated_at = ?5 \
         WHERE id = ?1 AND state = 'processing'",
    )?
    .execute((id, state.as_str(), error, next, now))?;
    Ok(())
}
