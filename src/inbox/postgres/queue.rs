//! The work queue on PostgreSQL (see [`crate::inbox::queue`] for the rules
//! and [`crate::inbox`] for how several instances share it). Each function
//! is one transaction of a handful of statements, whatever the number of
//! runs in it.

use crate::inbox::Derived;
use std::collections::HashMap;
use std::time::Duration;

use deadpool_postgres::{GenericClient, Transaction};

use super::pg_error;
use super::rows::{insert_event, lock_keys, stored_event, SUMMARY_COLUMNS};
use crate::inbox::attempts::of_finish;
use crate::inbox::queue::{
    claimed_attempts_sql, lease_ran_out_error, run_of, uncounted_marks_sql, ClaimRequest, Claimed,
    Finish, FinishReport, RunOutcome, INTERRUPTED_ERROR, INTERRUPTED_PENDING_ERROR,
    INTERRUPTED_TOGETHER_ERROR, LEASE_RAN_OUT_ERROR, LEASE_RAN_OUT_HERE_ERROR,
};
use crate::inbox::{
    from_ms, Attempt, AttemptOutcome, InboxError, NewEvent, NewState, State, Stored, StoredEvent,
    ATTEMPTS_KEPT,
};

const ACTIVE: &str = "('received', 'trigger', 'processing', 'retrying')";

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

pub(crate) async fn claim(
    tx: &Transaction<'_>,
    request: &ClaimRequest,
) -> Result<Vec<Claimed>, InboxError> {
    let limit = i64::try_from(request.heads).unwrap_or(i64::MAX);
    let run_limit = i64::try_from(request.run_limit.max(1)).unwrap_or(i64::MAX);
    // Ready heads that no other transaction is claiming right now.
    let heads = tx
        .query(
            "WITH picked AS (SELECT key, owner FROM heads WHERE due_at <= tc_now_ms() \
                             ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED) \
             UPDATE heads h SET owner = $2, due_at = tc_now_ms() + $3 FROM picked \
             WHERE h.key = picked.key RETURNING h.key, h.object_key, h.event_id, picked.owner",
            &[&limit, &request.owner, &millis(request.lease)],
        )
        .await
        .map_err(pg_error)?;
    if heads.is_empty() {
        return Ok(Vec::new());
    }
    let mut keyed: (Vec<String>, Vec<String>, Vec<i64>) = Default::default();
    let mut single: (Vec<String>, Vec<i64>) = Default::default();
    for row in &heads {
        let (key, object, head): (String, Option<String>, i64) =
            (row.get(0), row.get(1), row.get(2));
        match object {
            Some(object) => {
                keyed.0.push(key);
                keyed.1.push(object);
                keyed.2.push(head);
            }
            None => {
                single.0.push(key);
                single.1.push(head);
            }
        }
    }
    // Each head's candidates: its object's active events from the head on.
    let mut candidates: HashMap<String, Vec<(i64, String, String)>> = HashMap::new();
    let mut found = Vec::new();
    if !keyed.0.is_empty() {
        let rows = tx
            .query(
                &format!(
                    "SELECT h.key, c.id, c.state, c.origin \
                     FROM unnest($1::text[], $2::text[], $3::bigint[]) AS h(key, object_key, head) \
                     CROSS JOIN LATERAL (SELECT id, state, origin FROM events \
                         WHERE object_key = h.object_key AND id >= h.head AND state IN {ACTIVE} \
                         ORDER BY id LIMIT $4) c ORDER BY h.key, c.id"
                ),
                &[&keyed.0, &keyed.1, &keyed.2, &run_limit],
            )
            .await
            .map_err(pg_error)?;
        found.extend(rows);
    }
    if !single.0.is_empty() {
        let rows = tx
            .query(
                &format!(
                    "SELECT h.key, e.id, e.state, e.origin FROM unnest($1::text[], $2::bigint[]) AS h(key, head) \
                     JOIN events e ON e.id = h.head WHERE e.state IN {ACTIVE}"
                ),
                &[&single.0, &single.1],
            )
            .await
            .map_err(pg_error)?;
        found.extend(rows);
    }
    for row in found {
        candidates
            .entry(row.get(0))
            .or_default()
            .push((row.get(1), row.get(2), row.get(3)));
    }
    let mut runs: Vec<(String, Vec<i64>)> = Vec::with_capacity(heads.len());
    let mut interrupted: HashMap<String, Vec<i64>> = HashMap::new();
    // Interrupted events whose head's lease had run out (it had an owner),
    // by the error their counted `interrupted` row gets.
    let mut lease_ran_out: (Vec<i64>, Vec<i64>) = Default::default();
    let mut stale: Vec<(String, Option<String>, i64)> = Vec::new();
    for row in &heads {
        let (key, object, head): (String, Option<String>, i64) =
            (row.get(0), row.get(1), row.get(2));
        let of_head = candidates.get(&key).map_or(&[][..], |c| c);
        let ids = run_of(head, of_head);
        if ids.is_empty() {
            stale.push((key, object, head));
        } else {
            let left: Vec<i64> = of_head
                .iter()
                .filter(|(id, state, _)| ids.contains(id) && state == State::Processing.as_str())
                .map(|(id, _, _)| *id)
                .collect();
            if !left.is_empty() {
                let previous: Option<String> = row.get(3);
                match lease_ran_out_error(previous.as_deref(), &request.owner) {
                    Some(LEASE_RAN_OUT_HERE_ERROR) => lease_ran_out.1.extend(&left),
                    Some(_) => lease_ran_out.0.extend(&left),
                    None => {}
                }
                interrupted.insert(key.clone(), left);
            }
            runs.push((key, ids));
        }
    }
    if !stale.is_empty() {
        // Heads out of step with their events: put them right.
        refresh_heads(tx, &stale).await?;
    }
    let ids: Vec<i64> = runs
        .iter()
        .flat_map(|(_, ids)| ids.iter().copied())
        .collect();
    // Interrupted events the handler was running (marked by that claim):
    // read before the claim moves `updated_at` on; the rows of those
    // handed on together go (they were never counted).
    let left: Vec<i64> = interrupted.values().flatten().copied().collect();
    let mut suspects: Vec<i64> = Vec::new();
    if !left.is_empty() {
        let rows = tx
            .query(
                "SELECT DISTINCT a.event_id FROM event_attempts a JOIN events e ON e.id = a.event_id \
                 WHERE a.event_id = ANY($1) AND a.outcome = 'interrupted' AND a.started_at = e.updated_at",
                &[&left],
            )
            .await
            .map_err(pg_error)?;
        suspects = rows.iter().map(|r| r.get(0)).collect();
        tx.execute(
            &format!(
                "DELETE FROM event_attempts WHERE event_id = ANY($1) AND {}",
                uncounted_marks_sql()
            ),
            &[&left],
        )
        .await
        .map_err(pg_error)?;
        // A counted row of a lease that ran out says so (see
        // `lease_ran_out_error`).
        for (ids, error) in [
            (&lease_ran_out.0, LEASE_RAN_OUT_ERROR),
            (&lease_ran_out.1, LEASE_RAN_OUT_HERE_ERROR),
        ] {
            if !ids.is_empty() {
                tx.execute(
                    "UPDATE event_attempts a SET error = $2 FROM events e WHERE e.id = a.event_id \
                     AND a.event_id = ANY($1) AND a.outcome = 'interrupted' AND a.error = $3 \
                     AND a.started_at = e.updated_at",
                    &[ids, &error, &INTERRUPTED_ERROR],
                )
                .await
                .map_err(pg_error)?;
            }
        }
    }
    // The body (and headers) of an event whose decoded webhook this process
    // holds are not read: the processor takes the webhook, and reads the
    // body itself if the handoff dropped it meanwhile (as on SQLite). The
    // `CASE` leaves the TOASTed body where it is.
    let held: Vec<i64> = match &request.held {
        Some(handoff) => ids
            .iter()
            .copied()
            .filter(|id| handoff.holds(*id))
            .collect(),
        None => Vec::new(),
    };
    let rows = tx
        .query(
            &format!(
                "WITH m AS (UPDATE events SET state = 'processing', attempts = {}, \
                 updated_at = tc_now_ms() WHERE id = ANY($1) RETURNING *) \
                 SELECT {SUMMARY_COLUMNS}, \
                 CASE WHEN e.id = ANY($2) THEN ''::bytea ELSE b.body END, \
                 CASE WHEN e.id = ANY($2) THEN NULL ELSE b.headers END \
                 FROM m e JOIN event_bodies b ON b.event_id = e.id",
                claimed_attempts_sql()
            ),
            &[&ids, &held],
        )
        .await
        .map_err(pg_error)?;
    if !suspects.is_empty() {
        pending_marks(tx, &request.owner, &suspects).await?;
    }
    let mut by_id: HashMap<i64, StoredEvent> = HashMap::with_capacity(rows.len());
    for row in &rows {
        let event = stored_event(row)?;
        by_id.insert(event.summary.id, event);
    }
    Ok(runs
        .into_iter()
        .map(|(key, ids)| {
            let interrupted = interrupted.remove(&key).unwrap_or_default();
            Claimed {
                suspects: interrupted
                    .iter()
                    .copied()
                    .filter(|id| suspects.contains(id))
                    .collect(),
                interrupted,
                key,
                events: ids.iter().filter_map(|id| by_id.remove(id)).collect(),
            }
        })
        .filter(|c| !c.events.is_empty())
        .collect())
}

/// An [`INTERRUPTED_PENDING_ERROR`] row for the claim of each of the
/// `processing` events `ids` (started at its `updated_at`), unless it has one.
async fn pending_marks(tx: &Transaction<'_>, owner: &str, ids: &[i64]) -> Result<(), InboxError> {
    tx.execute(
        "INSERT INTO event_attempts (event_id, started_at, finished_at, instance, outcome, error) \
         SELECT e.id, e.updated_at, tc_now_ms(), $2, 'interrupted', $3 FROM events e \
         WHERE e.id = ANY($1) AND e.state = 'processing' AND NOT EXISTS (SELECT 1 FROM event_attempts a \
         WHERE a.event_id = e.id AND a.error = $3 AND a.started_at = e.updated_at)",
        &[&ids, &super::text(owner), &INTERRUPTED_PENDING_ERROR],
    )
    .await
    .map_err(pg_error)?;
    Ok(())
}

/// Point each head at its object's oldest active event (due now, or at its
/// retry time), or delete it when there is none. `heads`: key, object id,
/// the head's event id.
async fn refresh_heads(
    tx: &Transaction<'_>,
    heads: &[(String, Option<String>, i64)],
) -> Result<(), InboxError> {
    let keys: Vec<&str> = heads.iter().map(|h| h.0.as_str()).collect();
    let objects: Vec<Option<&str>> = heads.iter().map(|h| h.1.as_deref()).collect();
    let events: Vec<i64> = heads.iter().map(|h| h.2).collect();
    tx.execute(
        &format!(
            "WITH k AS (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) AS k(key, object_key, head)), \
             nxt AS (SELECT k.key, n.id, n.state, n.next_attempt_at FROM k LEFT JOIN LATERAL ( \
                 SELECT id, state, next_attempt_at FROM events \
                 WHERE object_key = k.object_key AND state IN {ACTIVE} ORDER BY id LIMIT 1) n ON k.object_key IS NOT NULL \
               UNION ALL \
               SELECT k.key, n.id, n.state, n.next_attempt_at FROM k LEFT JOIN events n \
                 ON n.id = k.head AND n.state IN {ACTIVE} WHERE k.object_key IS NULL), \
             upd AS (UPDATE heads h SET event_id = nxt.id, owner = NULL, \
                 due_at = CASE WHEN nxt.state = 'retrying' THEN coalesce(nxt.next_attempt_at, tc_now_ms()) ELSE tc_now_ms() END \
                 FROM nxt WHERE h.key = nxt.key AND nxt.id IS NOT NULL) \
             DELETE FROM heads h USING nxt WHERE h.key = nxt.key AND nxt.id IS NULL"
        ),
        &[&keys, &objects, &events],
    )
    .await
    .map_err(pg_error)?;
    Ok(())
}

pub(crate) async fn renew(
    client: &impl GenericClient,
    owner: &str,
    keys: &[String],
    lease: Duration,
) -> Result<(), InboxError> {
    client
        .execute(
            "UPDATE heads SET due_at = tc_now_ms() + $3 WHERE owner = $1 AND key = ANY($2)",
            &[&owner, &keys, &millis(lease)],
        )
        .await
        .map_err(pg_error)?;
    Ok(())
}

/// See [`crate::inbox::Inbox::mark_handling`]. The head (an interrupted
/// event is the head of its run of one) is locked, so that a claim by
/// another instance either comes first (and the owner check fails) or
/// waits for this row (and counts it).
pub(crate) async fn mark_handling(
    client: &impl GenericClient,
    owner: &str,
    id: i64,
    alone: bool,
) -> Result<bool, InboxError> {
    let error = if alone {
        INTERRUPTED_ERROR
    } else {
        INTERRUPTED_TOGETHER_ERROR
    };
    let n = client
        .execute(
            "WITH h AS (SELECT event_id FROM heads WHERE event_id = $1 AND owner = $2 FOR UPDATE) \
             INSERT INTO event_attempts (event_id, started_at, finished_at, instance, outcome, error) \
             SELECT e.id, e.updated_at, tc_now_ms(), $2, 'interrupted', $3 FROM events e \
             JOIN h ON h.event_id = e.id WHERE e.state = 'processing'",
            &[&id, &owner, &error],
        )
        .await
        .map_err(pg_error)?;
    Ok(n > 0)
}

pub(crate) async fn finish(
    tx: &Transaction<'_>,
    owner: &str,
    runs: &[RunOutcome],
) -> Result<FinishReport, InboxError> {
    let mut finished = FinishReport::default();
    let keys: Vec<&str> = runs.iter().map(|r| r.key.as_str()).collect();
    let rows = tx
        .query(
            // Locked, so that no other instance claims a head (its lease
            // run out) between this check and the head moving on.
            "SELECT key, object_key, event_id FROM heads WHERE key = ANY($1) AND owner = $2 \
             ORDER BY key FOR UPDATE",
            &[&keys, &owner],
        )
        .await
        .map_err(pg_error)?;
    let owned: HashMap<String, (Option<String>, i64)> = rows
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    // The same object locks as a batch of new events takes, so that an
    // event stored meanwhile is seen when the head moves on.
    let locks = lock_keys(owned.values().map(|(object, _)| object.as_deref()));
    tx.execute("SELECT tc_lock_objects($1)", &[&locks])
        .await
        .map_err(pg_error)?;

    let (mut ids, mut states, mut errors, mut delays) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut released = Vec::new();
    let mut pending = Vec::new();
    let mut fetched = Vec::new();
    let mut heads = Vec::new();
    for run in runs {
        let Some((object, head)) = owned.get(&run.key) else {
            finished.lost.push(run.key.clone());
            continue;
        };
        heads.push((run.key.clone(), object.clone(), *head));
        for (id, outcome) in &run.events {
            let (state, error, delay): (State, Option<&str>, Option<i64>) = match outcome {
                Finish::Done => (State::Done, None, None),
                Finish::Retry { error, delay } => {
                    (State::Retrying, Some(error), Some(millis(*delay)))
                }
                Finish::Dead { error } => (State::Dead, Some(error), None),
                Finish::Rejected { error } => (State::Rejected, Some(error), None),
                Finish::Unhandled { reason } => (State::Unhandled, Some(reason), None),
                Finish::Release => {
                    released.push(*id);
                    continue;
                }
                // As the interruption left it; only the head is freed.
                Finish::ReleaseInterrupted { suspect } => {
                    if *suspect {
                        pending.push(*id);
                    }
                    continue;
                }
                Finish::Fetched(f) => {
                    fetched.push((*id, f));
                    (State::Done, None, None)
                }
            };
            ids.push(*id);
            states.push(state.as_str());
            errors.push(error.map(super::text));
            delays.push(delay);
        }
    }
    for (trigger, f) in fetched {
        let event = NewEvent {
            kind: f.kind,
            event_name: f.event_name.clone(),
            object_id: f.object_id.clone(),
            message_id: None,
            content_type: "application/json".into(),
            body: f.body.clone(),
            state: NewState::Received,
            source: Some(f.source.clone()),
            headers: Vec::new(),
        };
        let derived = Derived::of_body(&f.body, f.trace_parent.clone());
        let Stored::New(new_id) = insert_event(tx, &event, &derived)
            .await
            .map_err(super::WriteError::into_inbox)?
        else {
            return Err(InboxError::Unavailable(
                "the fetched object was not stored".into(),
            ));
        };
        tx.execute(
            "UPDATE events SET origin = 'fetched' WHERE id = $1",
            &[&new_id],
        )
        .await
        .map_err(pg_error)?;
        finished.fetched.push((trigger, new_id));
    }
    // One time for the whole batch: the events of a run finish together.
    let now: i64 = tx
        .query_one("SELECT tc_now_ms()", &[])
        .await
        .map_err(pg_error)?
        .get(0);
    // Before the outcomes: an attempt started when its event was claimed
    // (`updated_at` of a `processing` event).
    let marked: Vec<i64> = runs
        .iter()
        .filter(|r| owned.contains_key(&r.key))
        .flat_map(|r| r.marked.iter().copied())
        .collect();
    if !marked.is_empty() {
        // This claim's rows (started at the event's `updated_at`).
        tx.execute(
            "DELETE FROM event_attempts a USING events e WHERE e.id = a.event_id \
             AND a.event_id = ANY($1) AND a.instance = $2 \
             AND a.outcome = 'interrupted' AND a.started_at = e.updated_at",
            &[&marked, &owner],
        )
        .await
        .map_err(pg_error)?;
    }
    if !pending.is_empty() {
        pending_marks(tx, owner, &pending).await?;
    }
    record_attempts(tx, owner, runs, &owned, now).await?;
    if !ids.is_empty() {
        tx.execute(
            "UPDATE events e SET state = x.state, error = x.error, updated_at = $5, \
             next_attempt_at = CASE WHEN x.delay IS NULL THEN NULL ELSE $5 + x.delay END \
             FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) AS x(id, state, error, delay) \
             WHERE e.id = x.id AND e.state = 'processing'",
            &[&ids, &states, &errors, &delays, &now],
        )
        .await
        .map_err(pg_error)?;
    }
    if !released.is_empty() {
        tx.execute(
            "UPDATE events SET state = CASE origin WHEN 'trigger' THEN 'trigger' ELSE 'received' END, \
             attempts = greatest(attempts - 1, 0), updated_at = $2 \
             WHERE id = ANY($1) AND state = 'processing'",
            &[&released, &now],
        )
        .await
        .map_err(pg_error)?;
    }
    if !heads.is_empty() {
        refresh_heads(tx, &heads).await?;
    }
    Ok(finished)
}

/// Record the attempts of a batch (the owned runs' events, but for
/// releases): one multi-row insert, then one delete of what is beyond
/// [`ATTEMPTS_KEPT`] for those events. Only events still `processing` get
/// one (as only those get their outcome recorded).
async fn record_attempts(
    tx: &Transaction<'_>,
    owner: &str,
    runs: &[RunOutcome],
    owned: &HashMap<String, (Option<String>, i64)>,
    now: i64,
) -> Result<(), InboxError> {
    let (mut ids, mut outcomes, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for run in runs.iter().filter(|r| owned.contains_key(&r.key)) {
        for (id, finish) in &run.events {
            if let Some((outcome, error)) = of_finish(finish) {
                ids.push(*id);
                outcomes.push(outcome.as_str());
                errors.push(error.map(super::text));
            }
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    let keep = i64::try_from(ATTEMPTS_KEPT.saturating_sub(1)).unwrap_or(0);
    tx.execute(
        "INSERT INTO event_attempts (event_id, started_at, finished_at, instance, outcome, error) \
         SELECT e.id, e.updated_at, $4, $5, x.outcome, x.error \
         FROM unnest($1::bigint[], $2::text[], $3::text[]) WITH ORDINALITY AS x(id, outcome, error, n) \
         JOIN events e ON e.id = x.id WHERE e.state = 'processing' ORDER BY x.n",
        &[&ids, &outcomes, &errors, &now, &super::text(owner)],
    )
    .await
    .map_err(pg_error)?;
    tx.execute(
        "DELETE FROM event_attempts a WHERE a.event_id = ANY($1) AND a.id < \
         (SELECT b.id FROM event_attempts b WHERE b.event_id = a.event_id \
          ORDER BY b.id DESC LIMIT 1 OFFSET $2)",
        &[&ids, &keep],
    )
    .await
    .map_err(pg_error)?;
    Ok(())
}

/// The attempts of event `id`, oldest first.
pub(crate) async fn attempts(
    client: &impl GenericClient,
    id: i64,
) -> Result<Vec<Attempt>, InboxError> {
    let rows = client
        .query(
            "SELECT started_at, finished_at, instance, outcome, error FROM event_attempts \
             WHERE event_id = $1 ORDER BY id",
            &[&id],
        )
        .await
        .map_err(pg_error)?;
    rows.iter()
        .map(|row| {
            let outcome: String = row.try_get(3).map_err(pg_error)?;
            Ok(Attempt {
                started_at: from_ms(row.try_get(0).map_err(pg_error)?),
                finished_at: from_ms(row.try_get(1).map_err(pg_error)?),
                instance: row
                    .try_get::<_, Option<String>>(2)
                    .map_err(pg_error)?
                    .map(super::untext),
                outcome: AttemptOutcome::parse_str(&outcome)?,
                error: row
                    .try_get::<_, Option<String>>(4)
                    .map_err(pg_error)?
                    .map(super::untext),
            })
        })
        .collect()
}

pub(crate) async fn next_due(client: &impl GenericClient) -> Result<Option<Duration>, InboxError> {
    let row = client
        .query_one("SELECT min(due_at) - tc_now_ms() FROM heads", &[])
        .await
        .map_err(pg_error)?;
    let due: Option<i64> = row.get(0);
    Ok(due.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0))))
}

/// Build the heads from the events (after `inbox migrate`), and move the id
/// sequence past the copied ids.
pub(crate) async fn rebuild_heads(tx: &Transaction<'_>) -> Result<(), InboxError> {
    tx.batch_execute(&format!(
        "DELETE FROM heads;
         INSERT INTO heads (key, object_key, event_id, due_at, owner)
         SELECT CASE WHEN object_key IS NULL THEN 'e:' || id ELSE 'o:' || object_key END,
                object_key, min(id), 0, NULL
         FROM events WHERE state IN {ACTIVE}
         GROUP BY CASE WHEN object_key IS NULL THEN 'e:' || id ELSE 'o:' || object_key END, object_key;
         UPDATE heads h SET due_at = coalesce(e.next_attempt_at, 0) FROM events e
         WHERE e.id = h.event_id AND e.state = 'retrying';
         SELECT setval(pg_get_serial_sequence('events', 'id'), greatest((SELECT max(id) FROM events), 1));"
    ))
    .await
    .map_err(pg_error)
}
