//! The work queue on SQLite: the statements behind claiming, renewing and
//! finishing runs (see [`crate::inbox::queue`] for the rules). Every
//! function here runs inside the writer's batch transaction, so claims and
//! outcomes are group-committed with the events being stored.

use std::time::Duration;

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension};

use super::db::{BODY_COLUMNS, SUMMARY_COLUMNS, WITH_BODY};
use super::rows::{insert_row, stored_event, summary, RowValues};
use crate::inbox::attempts::of_finish;
use crate::inbox::queue::{
    claimed_attempts_sql, head_key, lease_ran_out_error, run_of, uncounted_marks_sql, ClaimRequest,
    Claimed, Finish, FinishReport, RunOutcome, INTERRUPTED_ERROR, INTERRUPTED_PENDING_ERROR,
    INTERRUPTED_TOGETHER_ERROR,
};
use crate::inbox::{
    from_ms, Attempt, AttemptOutcome, InboxError, Origin, State, StoredEvent, ATTEMPTS_KEPT,
};

/// The states of events that still hold their object's queue.
const ACTIVE: &str = "('received', 'trigger', 'processing', 'retrying')";

/// `state IN` [`ACTIVE`] for a row already found by other means (by id,
/// or through `events_object`), written out: SQLite evaluates an `IN`
/// list of more than two constants by filling a temporary B-tree with them
/// every time the statement runs (`OpenEphemeral`), which cost about 20K
/// instructions per claim and per finish; comparisons cost a few.
const IS_ACTIVE: &str =
    "(state = 'received' OR state = 'trigger' OR state = 'processing' OR state = 'retrying')";

/// The events of one object from an id on, oldest first, go through
/// `events_object` (object key, id), starting at that id: without saying
/// so, SQLite's planner may walk the table by id instead. Where to start
/// is what keeps the walk short: a head's event for a claim, the head's
/// `active_from` (no active event of the object below it, see
/// [`ensure_head`]) for a finish, so an object's done history is never
/// read again. (Schema 10 dropped the partial index of active events that
/// did this before: it cost each event a page written when stored and
/// another when done.)
const OF_OBJECT: &str = "events INDEXED BY events_object";

/// An object's active events from a head on, oldest first (the run a claim
/// takes, as many as it wants of them).
fn run_candidates_sql() -> String {
    format!(
        "SELECT id, state, origin FROM {OF_OBJECT} WHERE object_key = ?1 \
         AND id >= ?2 AND {IS_ACTIVE} ORDER BY id"
    )
}

/// The heads due at `?1`, the most overdue first (a claim takes as many as
/// it has room for).
const HEADS_DUE_SQL: &str = "SELECT key, object_key, event_id, active_from, owner FROM heads \
     WHERE due_at <= ?1 ORDER BY due_at";

/// An object's oldest active event from an id on (its head after a finish).
fn oldest_active_sql() -> String {
    format!(
        "SELECT id, state, next_attempt_at FROM {OF_OBJECT} \
         WHERE object_key = ?1 AND id >= ?2 AND {IS_ACTIVE} ORDER BY id LIMIT 1"
    )
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

/// Make `id` the head of its object (by its object key) unless the object
/// has one; an object that has one keeps its head, and its `active_from`
/// moves down to `id` if `id` is older (an event replayed while its object
/// has a head: the finish of the head's run then finds it).
///
/// `heads.active_from` keeps this promise: no event of the head's object
/// with a smaller id is active. A new event has the largest id; an event
/// becomes active again only here (a replay) or within a claimed run (a
/// release or a retry, at or after the head's event); a head is made from
/// the oldest active event ([`refresh_head`], [`rebuild_heads`]).
pub(crate) fn ensure_head(
    conn: &Connection,
    object_key: Option<&str>,
    id: i64,
    due_at: i64,
) -> Result<(), InboxError> {
    // The update's condition is false for every new event (the largest
    // id), so storing an event whose object has a head writes no page of
    // `heads`.
    conn.prepare_cached(
        "INSERT INTO heads (key, object_key, event_id, due_at, owner, active_from) \
         VALUES (?1, ?2, ?3, ?4, NULL, ?3) \
         ON CONFLICT (key) DO UPDATE SET active_from = excluded.active_from \
         WHERE excluded.active_from < heads.active_from",
    )?
    .execute((head_key(object_key, id), object_key, id, due_at))?;
    Ok(())
}

/// Build the heads from the events (schema migration, `inbox migrate`).
pub(crate) fn rebuild_heads(conn: &Connection) -> Result<(), InboxError> {
    conn.execute_batch(&format!(
        "DELETE FROM heads;
         INSERT INTO heads (key, object_key, event_id, due_at, owner)
         SELECT CASE WHEN object_key IS NULL THEN 'e:' || id ELSE 'o:' || object_key END,
                object_key, min(id), 0, NULL
         FROM events WHERE state IN {ACTIVE}
         GROUP BY CASE WHEN object_key IS NULL THEN 'e:' || id ELSE 'o:' || object_key END;
         UPDATE heads SET due_at = coalesce((SELECT next_attempt_at FROM events
             WHERE events.id = heads.event_id AND events.state = 'retrying'), 0);"
    ))?;
    Ok(())
}

/// After [`rebuild_heads`] on a schema of version 10 or later: each head's
/// event is its object's oldest active one, so `active_from` is that id.
pub(crate) fn rebuild_active_from(conn: &Connection) -> Result<(), InboxError> {
    conn.execute_batch("UPDATE heads SET active_from = event_id;")?;
    Ok(())
}

/// Drop every claim (one processor per SQLite file: they are a dead one's).
pub(crate) fn release_all(conn: &Connection) -> Result<u64, InboxError> {
    let n = conn
        .prepare_cached("UPDATE heads SET owner = NULL, due_at = 0 WHERE owner IS NOT NULL")?
        .execute([])?;
    Ok(n as u64)
}

pub(crate) fn claim(
    conn: &Connection,
    request: &ClaimRequest,
    now: i64,
) -> Result<Vec<Claimed>, InboxError> {
    // The number of heads (and below, of events per run) is not a bound
    // `LIMIT ?`: SQLite compiles a statement again whenever the value bound
    // to its `LIMIT` changes (about 80K instructions each time, and the
    // number of free handler slots changes from claim to claim). The rows
    // come in order through the index and are read only as far as needed.
    #[allow(clippy::type_complexity)]
    let heads: Vec<(String, Option<String>, i64, i64, Option<String>)> = conn
        .prepare_cached(HEADS_DUE_SQL)?
        .query_map([now], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })?
        .take(request.heads)
        .collect::<Result<_, _>>()?;
    let lease_end = now.saturating_add(millis(request.lease));
    let mut claimed = Vec::with_capacity(heads.len());
    for (key, object_key, head, active_from, previous_owner) in heads {
        let candidates: Vec<(i64, String, String)> = match &object_key {
            Some(object) => conn
                .prepare_cached(&run_candidates_sql())?
                .query_map((object, head), |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?
                .take(request.run_limit.max(1))
                .collect::<Result<_, _>>()?,
            None => conn
                .prepare_cached(&format!(
                    "SELECT id, state, origin FROM events WHERE id = ?1 AND {IS_ACTIVE}"
                ))?
                .query_map([head], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                .collect::<Result<_, _>>()?,
        };
        let ids = run_of(head, &candidates);
        if ids.is_empty() {
            // A head out of step with its events: put it right, claim it next time.
            refresh_head(conn, &key, object_key.as_deref(), head, active_from, now)?;
            continue;
        }
        conn.prepare_cached("UPDATE heads SET owner = ?2, due_at = ?3 WHERE key = ?1")?
            .execute((&key, &request.owner, lease_end))?;
        let interrupted: Vec<i64> = candidates
            .iter()
            .filter(|(id, state, _)| ids.contains(id) && state == State::Processing.as_str())
            .map(|(id, _, _)| *id)
            .collect();
        // Interrupted events the handler was running (marked by that
        // claim): read before the claim moves `updated_at` on; the rows of
        // those handed on together, or only claimed to be handed on alone,
        // go (they were never counted). A counted row of a lease that ran
        // out says so (see `lease_ran_out_error`).
        let lease_error = lease_ran_out_error(previous_owner.as_deref(), &request.owner);
        let mut suspects = Vec::new();
        for id in &interrupted {
            if let Some(error) = lease_error {
                conn.prepare_cached(
                    "UPDATE event_attempts SET error = ?2 WHERE event_id = ?1 AND outcome = 'interrupted' \
                     AND error = ?3 AND started_at = (SELECT updated_at FROM events WHERE id = ?1)",
                )?
                .execute((id, error, INTERRUPTED_ERROR))?;
            }
            let marked: bool = conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM event_attempts a JOIN events e ON e.id = a.event_id \
                     WHERE a.event_id = ?1 AND a.outcome = 'interrupted' AND a.started_at = e.updated_at)",
                )?
                .query_row([id], |row| row.get(0))?;
            if marked {
                suspects.push(*id);
            }
            conn.prepare_cached(&format!(
                "DELETE FROM event_attempts WHERE event_id = ?1 AND {}",
                uncounted_marks_sql()
            ))?
            .execute([id])?;
        }
        let mut mark = conn.prepare_cached(&format!(
            "UPDATE events SET state = 'processing', attempts = {}, updated_at = ?2 WHERE id = ?1",
            claimed_attempts_sql()
        ))?;
        let mut read = conn.prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS}, {BODY_COLUMNS} FROM {WITH_BODY} WHERE e.id = ?1"
        ))?;
        let mut read_summary = conn.prepare_cached(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM events WHERE id = ?1"
        ))?;
        let mut events = Vec::with_capacity(ids.len());
        for id in ids {
            mark.execute((id, now))?;
            if suspects.contains(&id) {
                pending_mark(conn, &request.owner, id, now)?;
            }
            // The body of an event whose decoded webhook the process holds
            // is not read: the processor takes the webhook (and reads the
            // body itself if it was dropped meanwhile).
            let held = request.held.as_ref().is_some_and(|h| h.holds(id));
            events.push(if held {
                read_summary.query_row([id], |row| {
                    Ok(StoredEvent {
                        summary: summary(row)?,
                        body: Bytes::new(),
                        headers: Vec::new(),
                    })
                })?
            } else {
                read.query_row([id], stored_event)?
            });
        }
        claimed.push(Claimed {
            key,
            events,
            interrupted,
            suspects,
        });
    }
    Ok(claimed)
}

/// Point the head `key` at its object's oldest active event (due now, or
/// at its retry time), looked for from `active_from` on, or delete it when
/// there is none.
fn refresh_head(
    conn: &Connection,
    key: &str,
    object_key: Option<&str>,
    event_id: i64,
    active_from: i64,
    now: i64,
) -> Result<(), InboxError> {
    let next: Option<(i64, String, Option<i64>)> = match object_key {
        Some(object) => conn
            .prepare_cached(&oldest_active_sql())?
            .query_row((object, active_from), |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()?,
        None => conn
            .prepare_cached(&format!(
                "SELECT id, state, next_attempt_at FROM events WHERE id = ?1 AND {IS_ACTIVE}"
            ))?
            .query_row([event_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()?,
    };
    match next {
        Some((id, state, next_attempt_at)) => {
            let due = if state == State::Retrying.as_str() {
                next_attempt_at.unwrap_or(now)
            } else {
                now
            };
            // Nothing below the oldest active event is active.
            conn.prepare_cached(
                "UPDATE heads SET event_id = ?2, due_at = ?3, owner = NULL, active_from = ?2 \
                 WHERE key = ?1",
            )?
            .execute((key, id, due))?;
        }
        None => {
            conn.prepare_cached("DELETE FROM heads WHERE key = ?1")?
                .execute([key])?;
        }
    }
    Ok(())
}

pub(crate) fn renew(
    conn: &Connection,
    owner: &str,
    keys: &[String],
    lease: Duration,
    now: i64,
) -> Result<(), InboxError> {
    let mut stmt =
        conn.prepare_cached("UPDATE heads SET due_at = ?3 WHERE key = ?1 AND owner = ?2")?;
    let until = now.saturating_add(millis(lease));
    for key in keys {
        stmt.execute((key, owner, until))?;
    }
    Ok(())
}

/// See [`crate::inbox::Inbox::mark_handling`].
pub(crate) fn mark_handling(
    conn: &Connection,
    owner: &str,
    id: i64,
    alone: bool,
    now: i64,
) -> Result<bool, InboxError> {
    let error = if alone {
        INTERRUPTED_ERROR
    } else {
        INTERRUPTED_TOGETHER_ERROR
    };
    let n = conn
        .prepare_cached(
            "INSERT INTO event_attempts (event_id, started_at, finished_at, instance, outcome, error) \
             SELECT id, updated_at, ?2, ?3, 'interrupted', ?4 FROM events WHERE id = ?1 AND state = 'processing' \
             AND EXISTS (SELECT 1 FROM heads WHERE event_id = ?1 AND owner = ?3)",
        )?
        .execute((id, now, owner, error))?;
    Ok(n > 0)
}

/// An [`INTERRUPTED_PENDING_ERROR`] row for the claim of the `processing`
/// event `id` (started at its `updated_at`), unless it has one.
fn pending_mark(conn: &Connection, owner: &str, id: i64, now: i64) -> Result<(), InboxError> {
    conn.prepare_cached(
        "INSERT INTO event_attempts (event_id, started_at, finished_at, instance, outcome, error) \
         SELECT id, updated_at, ?2, ?3, 'interrupted', ?4 FROM events e WHERE id = ?1 AND state = 'processing' \
         AND NOT EXISTS (SELECT 1 FROM event_attempts a WHERE a.event_id = ?1 AND a.error = ?4 \
         AND a.started_at = e.updated_at)",
    )?
    .execute((id, now, owner, INTERRUPTED_PENDING_ERROR))?;
    Ok(())
}

pub(crate) fn finish(
    conn: &Connection,
    owner: &str,
    runs: &[RunOutcome],
    now: i64,
) -> Result<FinishReport, InboxError> {
    let mut finished = FinishReport::default();
    let mut owned = Vec::with_capacity(runs.len());
    for run in runs {
        let head: Option<(Option<String>, i64, i64)> = conn
            .prepare_cached(
                "SELECT object_key, event_id, active_from FROM heads WHERE key = ?1 AND owner = ?2",
            )?
            .query_row((&run.key, owner), |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()?;
        match head {
            Some(head) => owned.push((run, head)),
            None => finished.lost.push(run.key.clone()),
        }
    }
    // Before the outcomes: an attempt started when its event was claimed
    // (`updated_at` of a `processing` event).
    let attempts: Vec<(i64, AttemptOutcome, Option<&str>)> = owned
        .iter()
        .flat_map(|(run, _)| run.events.iter())
        .filter_map(|(id, outcome)| of_finish(outcome).map(|(o, e)| (*id, o, e)))
        .collect();
    // This claim's rows (started at the event's `updated_at`): the marks,
    // replaced by the outcome (an interrupted event released at a stop gets
    // its pending row back below).
    let mut unmark = conn.prepare_cached(
        "DELETE FROM event_attempts WHERE event_id = ?1 AND instance = ?2 AND outcome = 'interrupted' \
         AND started_at = (SELECT updated_at FROM events WHERE id = ?1)",
    )?;
    for id in owned.iter().flat_map(|(run, _)| run.marked.iter()) {
        unmark.execute((id, owner))?;
    }
    record_attempts(conn, owner, &attempts, now)?;
    for (run, (object_key, event_id, active_from)) in owned {
        for (id, outcome) in &run.events {
            if let Finish::ReleaseInterrupted { suspect } = outcome {
                // As the interruption left it; only the head is freed.
                if *suspect {
                    pending_mark(conn, owner, *id, now)?;
                }
                continue;
            }
            if let Some(new_id) = finish_event(conn, *id, outcome, now)? {
                finished.fetched.push((*id, new_id));
            }
        }
        refresh_head(
            conn,
            &run.key,
            object_key.as_deref(),
            event_id,
            active_from,
            now,
        )?;
    }
    Ok(finished)
}

/// Record the attempts of a batch, one row per event still `processing`
/// (as only those get their outcome recorded), then trim each of those
/// events to its newest [`ATTEMPTS_KEPT`] attempts.
///
/// Two fixed statements, prepared once per connection: a statement whose
/// text depended on the batch's size would be compiled again for most
/// batches and push the others out of the statement cache. The trim's
/// subquery names one event and stops at the `ATTEMPTS_KEPT + 1`-th
/// newest attempt, through the `(event_id, id)` index: for the usual event
/// with a few attempts it finds none and deletes nothing.
fn record_attempts(
    conn: &Connection,
    owner: &str,
    attempts: &[(i64, AttemptOutcome, Option<&str>)],
    now: i64,
) -> Result<(), InboxError> {
    if attempts.is_empty() {
        return Ok(());
    }
    let mut insert = conn.prepare_cached(
        "INSERT INTO event_attempts (event_id, started_at, finished_at, instance, outcome, error) \
         SELECT id, updated_at, ?2, ?3, ?4, ?5 FROM events WHERE id = ?1 AND state = 'processing'",
    )?;
    let mut trim = conn.prepare_cached(
        "DELETE FROM event_attempts WHERE event_id = ?1 AND id <= \
         (SELECT id FROM event_attempts WHERE event_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
    )?;
    let keep = i64::try_from(ATTEMPTS_KEPT).unwrap_or(i64::MAX);
    for (id, outcome, error) in attempts {
        if insert.execute((id, now, owner, outcome.as_str(), error))? > 0 {
            trim.execute((id, keep))?;
        }
    }
    Ok(())
}

/// The attempts of event `id`, oldest first.
pub(crate) fn attempts(conn: &Connection, id: i64) -> Result<Vec<Attempt>, InboxError> {
    let mut stmt = conn.prepare_cached(
        "SELECT started_at, finished_at, instance, outcome, error FROM event_attempts \
         WHERE event_id = ?1 ORDER BY id",
    )?;
    let rows = stmt
        .query_map([id], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, Option<String>>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(started, finished, instance, outcome, error)| {
            Ok(Attempt {
                started_at: from_ms(started),
                finished_at: from_ms(finished),
                instance,
                outcome: AttemptOutcome::parse_str(&outcome)?,
                error,
            })
        })
        .collect()
}

/// Record one outcome; returns the id of a fetched order or shipment.
fn finish_event(
    conn: &Connection,
    id: i64,
    outcome: &Finish,
    now: i64,
) -> Result<Option<i64>, InboxError> {
    let set = |state: State, error: Option<&str>, next: Option<i64>| -> Result<(), InboxError> {
        conn.prepare_cached(
            "UPDATE events SET state = ?2, error = ?3, next_attempt_at = ?4, updated_at = ?5 \
             WHERE id = ?1 AND state = 'processing'",
        )?
        .execute((id, state.as_str(), error, next, now))?;
        Ok(())
    };
    match outcome {
        Finish::Done => set(State::Done, None, None)?,
        Finish::Retry { error, delay } => set(
            State::Retrying,
            Some(error),
            Some(now.saturating_add(millis(*delay))),
        )?,
        Finish::Dead { error } => set(State::Dead, Some(error), None)?,
        Finish::Rejected { error } => set(State::Rejected, Some(error), None)?,
        Finish::Unhandled { reason } => set(State::Unhandled, Some(reason), None)?,
        Finish::ReleaseInterrupted { .. } => {}
        Finish::Release => {
            conn.prepare_cached(
                "UPDATE events SET state = CASE origin WHEN 'trigger' THEN 'trigger' ELSE 'received' END, \
                 attempts = max(attempts - 1, 0), updated_at = ?2 WHERE id = ?1 AND state = 'processing'",
            )?
            .execute((id, now))?;
        }
        Finish::Fetched(fetched) => {
            let po_key = crate::inbox::keys::po_key(&fetched.body);
            let new_id = insert_row(
                conn,
                &RowValues {
                    kind: fetched.kind.as_str(),
                    event_name: fetched.event_name.as_deref(),
                    object_id: fetched.object_id.as_deref(),
                    message_id: None,
                    content_type: "application/json",
                    body: &fetched.body,
                    packed: None,
                    headers: None,
                    state: State::Received,
                    error: None,
                    source: Some(&fetched.source),
                    origin: Origin::Fetched,
                    trace_parent: fetched.trace_parent.as_deref(),
                    po_key: po_key.as_deref(),
                },
                now,
            )?;
            set(State::Done, None, None)?;
            return Ok(Some(new_id));
        }
    }
    Ok(None)
}

/// How long until the earliest head is due.
pub(crate) fn next_due(conn: &Connection, now: i64) -> Result<Option<Duration>, InboxError> {
    let due: Option<i64> = conn
        .prepare_cached("SELECT min(due_at) FROM heads")?
        .query_row([], |row| row.get(0))?;
    Ok(due.map(|at| Duration::from_millis(u64::try_from(at - now).unwrap_or(0))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Vec<String> {
        conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map(params, |row| row.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// The statements a claim and a finish run for every event build no
    /// temporary B-tree (`OpenEphemeral`, what an `IN` list of constants
    /// costs each run) and are not compiled again when other values are
    /// bound (as a bound `LIMIT ?` is), and [`IS_ACTIVE`] names the states
    /// of [`ACTIVE`].
    #[test]
    fn per_event_queue_statements_build_no_temporary_tree() {
        let conn = Connection::open_in_memory().unwrap();
        super::super::db::ensure_schema(&conn).unwrap();
        for sql in [
            HEADS_DUE_SQL.to_string(),
            run_candidates_sql(),
            oldest_active_sql(),
            format!("SELECT id, state, origin FROM events WHERE id = ?1 AND {IS_ACTIVE}"),
        ] {
            let mut stmt = conn.prepare(&sql).unwrap();
            for n in 1..5i64 {
                let values = (0..stmt.parameter_count()).map(|i| match i {
                    0 if sql.contains("object_key = ?1") => {
                        rusqlite::types::Value::Text(format!("o:{n}"))
                    }
                    _ => rusqlite::types::Value::Integer(n),
                });
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(values), |_| Ok(()))
                    .unwrap()
                    .count();
                assert_eq!(rows, 0);
            }
            let compiled_again = stmt.get_status(rusqlite::StatementStatus::RePrepare);
            assert_eq!(compiled_again, 0, "{sql}");
            let mut explain = conn.prepare(&format!("EXPLAIN {sql}")).unwrap();
            let unbound = vec![rusqlite::types::Value::Null; explain.parameter_count()];
            let opcodes: Vec<String> = explain
                .query_map(rusqlite::params_from_iter(unbound), |row| row.get(1))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(!opcodes.iter().any(|op| op == "OpenEphemeral"), "{sql}");
        }
        let states = |text: &str| {
            let mut names: Vec<String> = text
                .split('\'')
                .skip(1)
                .step_by(2)
                .map(String::from)
                .collect();
            names.sort();
            names
        };
        assert_eq!(states(IS_ACTIVE), states(ACTIVE));
        assert_eq!(states(ACTIVE).len(), 4);
    }

    /// The queue's per-object lookups seek into `events_object` at the
    /// object and the id they start from, not a walk of the table by id.
    #[test]
    fn queue_lookups_seek_the_object_index_from_an_id() {
        let conn = Connection::open_in_memory().unwrap();
        super::super::db::ensure_schema(&conn).unwrap();
        let heads = plan(&conn, HEADS_DUE_SQL, [1]);
        assert!(
            heads
                .iter()
                .any(|step| step.contains("USING INDEX heads_due (due_at<?)")),
            "{heads:?}"
        );
        let plans = [
            plan(&conn, &run_candidates_sql(), ("o:1", 1)),
            plan(&conn, &oldest_active_sql(), ("o:1", 1)),
        ];
        for plan in plans {
            assert!(
                plan.iter()
                    .any(|step| step.contains("USING INDEX events_object (object_key=? AND id>?)")),
                "{plan:?}"
            );
        }
    }
}
