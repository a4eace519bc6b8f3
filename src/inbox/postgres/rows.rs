//! PostgreSQL statements on events: the insert of a batch, reading rows,
//! listing, replay, purge, export and import.

use crate::inbox::Derived;
use std::borrow::Cow;

use bytes::Bytes;
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::{lock_key, pg_error, pg_write_error, text, untext, WriteError};
use crate::inbox::attempts::bounded;
use crate::inbox::event::{headers_from_json, headers_to_json};
use crate::inbox::keys::{message_key, object_key, po_key};
use crate::inbox::migrate::{import_mark_value, not_empty, IMPORT_MARK};
use crate::inbox::queue::{
    cannot_mark_dead, counted_interruption_sql, head_key, uncounted_marks_sql,
};
use crate::inbox::{
    from_ms, now_ms, Attempt, AttemptOutcome, EventSummary, Exported, Fingerprint, InboxError,
    ListFilter, NewEvent, Origin, Purged, State, Stored, StoredEvent,
};

/// The columns of an [`EventSummary`], in the order [`summary`] reads them.
pub(crate) const SUMMARY_COLUMNS: &str =
    "e.id, e.kind, e.event_name, e.object_id, e.message_id, e.content_type, e.state, \
     e.error, e.attempts, e.received_at, e.updated_at, e.next_attempt_at, e.source, e.origin, e.body_len, \
     e.trace_parent";

/// Insert an event, its body and (when it is to be handled and its object
/// has none) its head, in one statement; no row when the message key is
/// already stored.
const INSERT: &str = "
WITH e AS (
    INSERT INTO events (kind, event_name, object_id, message_id, content_type, body_len, state,
                        error, attempts, received_at, updated_at, source, origin, message_key, object_key,
                        trace_parent, po_key)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, tc_now_ms(), tc_now_ms(), $9, $10, $13, $14, $15, $16)
    ON CONFLICT (message_key) DO NOTHING
    RETURNING id, received_at
), b AS (
    INSERT INTO event_bodies (event_id, body, headers) SELECT id, $11, $17 FROM e
), h AS (
    INSERT INTO heads (key, object_key, event_id, due_at)
    SELECT CASE WHEN $14::text IS NULL THEN 'e:' || id ELSE 'o:' || $14::text END, $14, id, received_at
    FROM e WHERE $12
    ON CONFLICT (key) DO NOTHING
)
SELECT id FROM e";

fn invalid(index: usize, e: InboxError) -> InboxError {
    InboxError::Invalid(format!("column {index} of the inbox: {e}"))
}

/// A text column as [`super::text`] stored it.
fn text_at(row: &Row, index: usize) -> Result<Option<String>, InboxError> {
    Ok(row
        .try_get::<_, Option<String>>(index)
        .map_err(pg_error)?
        .map(untext))
}

/// Read an [`EventSummary`] from [`SUMMARY_COLUMNS`].
pub(crate) fn summary(row: &Row) -> Result<EventSummary, InboxError> {
    let kind: String = row.try_get(1).map_err(pg_error)?;
    let state: String = row.try_get(6).map_err(pg_error)?;
    let origin: String = row.try_get(13).map_err(pg_error)?;
    let attempts: i32 = row.try_get(8).map_err(pg_error)?;
    let body_len: i64 = row.try_get(14).map_err(pg_error)?;
    Ok(EventSummary {
        id: row.try_get(0).map_err(pg_error)?,
        kind: kind.parse().map_err(|e| invalid(1, e))?,
        event_name: text_at(row, 2)?,
        object_id: text_at(row, 3)?,
        message_id: text_at(row, 4)?,
        content_type: untext(row.try_get(5).map_err(pg_error)?),
        state: state.parse().map_err(|e| invalid(6, e))?,
        error: text_at(row, 7)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        received_at: from_ms(row.try_get(9).map_err(pg_error)?),
        updated_at: from_ms(row.try_get(10).map_err(pg_error)?),
        next_attempt_at: row
            .try_get::<_, Option<i64>>(11)
            .map_err(pg_error)?
            .map(from_ms),
        source: text_at(row, 12)?,
        origin: Origin::parse_str(&origin).map_err(|e| invalid(13, e))?,
        body_len: u64::try_from(body_len).unwrap_or(0),
        trace_parent: row.try_get(15).map_err(pg_error)?,
    })
}

/// Read a [`StoredEvent`]: [`SUMMARY_COLUMNS`] followed by the body and the
/// headers (`b.body, b.headers`).
pub(crate) fn stored_event(row: &Row) -> Result<StoredEvent, InboxError> {
    let summary = summary(row)?;
    let body: Vec<u8> = row.try_get(16).map_err(pg_error)?;
    let headers: Option<String> = row.try_get(17).map_err(pg_error)?;
    Ok(StoredEvent {
        summary,
        body: Bytes::from(body),
        headers: headers_from_json(headers.as_deref()),
    })
}

/// The advisory lock keys of a batch's objects (by object key), sorted,
/// without repeats.
pub(crate) fn lock_keys<'a>(object_keys: impl Iterator<Item = Option<&'a str>>) -> Vec<i64> {
    let mut keys: Vec<i64> = object_keys.flatten().map(lock_key).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Insert one event (inside the batch's transaction); see [`crate::inbox::Inbox::store`].
pub(crate) async fn insert_event(
    client: &impl GenericClient,
    event: &NewEvent,
    derived: &Derived,
) -> Result<Stored, WriteError> {
    let (state, error, origin) = event.state.stored_as();
    let stored_as = (state, error, origin);
    if let Some(id) = insert_row(client, event, stored_as, derived).await? {
        return Ok(Stored::New(id));
    }
    // A message id stored before (by this instance or another one).
    let key = event
        .message_id
        .as_deref()
        .map(|m| message_key(event.kind.as_str(), m));
    let row = client
        .query_opt(
            "SELECT id, state FROM events WHERE message_key = $1",
            &[&key],
        )
        .await
        .map_err(pg_write_error)?
        .ok_or_else(|| {
            InboxError::Unavailable("an event was neither stored nor found as a duplicate".into())
        })?;
    let (old, old_state): (i64, String) = (row.get(0), row.get(1));
    if old_state != State::Rejected.as_str() || state == State::Rejected {
        return Ok(Stored::Duplicate(old));
    }
    // A valid copy of a message whose first copy was quarantined: store it,
    // keep the rejected bytes, hand over the message id.
    // The rejected event keeps its message id, not the key.
    client
        .execute(
            "UPDATE events SET message_key = NULL WHERE id = $1",
            &[&old],
        )
        .await
        .map_err(pg_write_error)?;
    let id = insert_row(client, event, stored_as, derived)
        .await?
        .ok_or_else(|| InboxError::Unavailable("the superseding event was not stored".into()))?;
    client
        .execute(
            "UPDATE events SET error = coalesce(error, '') || ' (superseded by event ' || $2::bigint || ')', \
             updated_at = tc_now_ms() WHERE id = $1",
            &[&old, &id],
        )
        .await
        .map_err(pg_write_error)?;
    Ok(Stored::New(id))
}

async fn insert_row(
    client: &impl GenericClient,
    event: &NewEvent,
    (state, error, origin): (State, Option<&str>, Origin),
    derived: &Derived,
) -> Result<Option<i64>, WriteError> {
    let body_len = i64::try_from(event.body.len())
        .map_err(|_| InboxError::Invalid("body too large".into()))?;
    let queued = matches!(state, State::Received | State::Trigger);
    let keys = (
        event
            .message_id
            .as_deref()
            .map(|m| message_key(event.kind.as_str(), m)),
        event.object_id.as_deref().map(object_key),
    );
    let headers = headers_to_json(&event.headers);
    let params: [&(dyn ToSql + Sync); 17] = [
        &event.kind.as_str(),
        &event.event_name.as_deref().map(text),
        &event.object_id.as_deref().map(text),
        &event.message_id.as_deref().map(text),
        &text(&event.content_type),
        &body_len,
        &state.as_str(),
        &error.map(text),
        &event.source.as_deref().map(text),
        &origin.as_str(),
        &&event.body[..],
        &queued,
        &keys.0,
        &keys.1,
        &derived.trace_parent.as_deref().map(text),
        &derived.po_key,
        &headers,
    ];
    let statement = client
        .prepare_cached(INSERT)
        .await
        .map_err(pg_write_error)?;
    let row = client
        .query_opt(&statement, &params)
        .await
        .map_err(pg_write_error)?;
    Ok(row.map(|r| r.get(0)))
}

pub(crate) async fn list(
    client: &impl GenericClient,
    filter: &ListFilter,
) -> Result<Vec<EventSummary>, InboxError> {
    let state = filter.state.map(|s| s.as_str());
    let kind = filter.kind.map(|k| k.as_str());
    let limit = i64::try_from(filter.limit.unwrap_or(100)).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM events e WHERE ($1::text IS NULL OR e.state = $1) \
         AND ($2::text IS NULL OR e.kind = $2) AND ($3::text IS NULL OR e.object_key = $3) \
         AND ($4::bigint IS NULL OR e.id < $4) AND ($6::text IS NULL OR e.event_name = $6) \
         AND ($7::bigint IS NULL OR e.received_at >= $7) AND ($8::bigint IS NULL OR e.received_at < $8) \
         AND ($9::bytea IS NULL OR EXISTS (SELECT 1 FROM event_bodies b WHERE b.event_id = e.id \
              AND position($9::bytea IN b.body) > 0)) \
         AND ($10::text IS NULL OR e.po_key = $10) AND ($11::bigint IS NULL OR e.id > $11) \
         ORDER BY e.id DESC LIMIT $5"
    );
    let rows = client
        .query(
            &sql,
            &[
                &state,
                &kind,
                &filter.object_id.as_deref().map(object_key),
                &filter.before_id,
                &limit,
                // Stored through `text` (NUL escaped): compared the same way.
                &filter.event_name.as_deref().map(text),
                &filter.received_from.map(|t| t.timestamp_millis()),
                &filter.received_until.map(|t| t.timestamp_millis()),
                &filter.body_contains.as_deref().map(str::as_bytes),
                &filter
                    .purchase_order_number
                    .as_deref()
                    .map(|n| object_key(n.trim())),
                &filter.after_id,
            ],
        )
        .await
        .map_err(pg_error)?;
    let mut events = rows.iter().map(summary).collect::<Result<Vec<_>, _>>()?;
    events.reverse();
    Ok(events)
}

pub(crate) async fn get(
    client: &impl GenericClient,
    id: i64,
) -> Result<Option<StoredEvent>, InboxError> {
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS}, b.body, b.headers FROM events e JOIN event_bodies b ON b.event_id = e.id WHERE e.id = $1"
    );
    let row = client.query_opt(&sql, &[&id]).await.map_err(pg_error)?;
    row.as_ref().map(stored_event).transpose()
}

pub(crate) async fn replay(client: &impl GenericClient, id: i64) -> Result<(), InboxError> {
    let row = client
        .query_opt(
            "SELECT state, origin, object_key FROM events WHERE id = $1",
            &[&id],
        )
        .await
        .map_err(pg_error)?
        .ok_or(InboxError::NotFound(id))?;
    let (state, origin, object_key): (String, String, Option<String>) =
        (row.get(0), row.get(1), row.get(2));
    let next = State::replayed(id, &state, &origin)?;
    let keys = lock_keys(std::iter::once(object_key.as_deref()));
    client
        .execute("SELECT tc_lock_objects($1)", &[&keys])
        .await
        .map_err(pg_error)?;
    // Only from the state read above: a purge (or another replay) may have
    // reached the row since, and a replay said to be done must not point a
    // head at an event that is gone or queue one that is being handled.
    let replayed = client
        .execute(
            "UPDATE events SET state = $2, error = NULL, attempts = 0, next_attempt_at = NULL, \
             updated_at = tc_now_ms() WHERE id = $1 AND state = $3",
            &[&id, &next.as_str(), &state],
        )
        .await
        .map_err(pg_error)?;
    if replayed == 0 {
        let now = client
            .query_opt("SELECT state FROM events WHERE id = $1", &[&id])
            .await
            .map_err(pg_error)?
            .ok_or(InboxError::NotFound(id))?;
        let now: String = now.get(0);
        return Err(InboxError::Invalid(format!(
            "event {id} changed while it was being replayed (it was {state}, it is {now} now): \
             nothing was replayed; replay it again if it still needs to be handled"
        )));
    }
    client
        .execute(
            "INSERT INTO heads (key, object_key, event_id, due_at) \
             VALUES (CASE WHEN $2::text IS NULL THEN 'e:' || $1::bigint ELSE 'o:' || $2::text END, $2, $1, tc_now_ms()) \
             ON CONFLICT (key) DO NOTHING",
            &[&id, &object_key],
        )
        .await
        .map_err(pg_error)?;
    Ok(())
}

/// The object key of event `id` (`None` for an event of no object).
async fn object_key_of(client: &impl GenericClient, id: i64) -> Result<Option<String>, InboxError> {
    let row = client
        .query_opt("SELECT object_key FROM events WHERE id = $1", &[&id])
        .await
        .map_err(pg_error)?
        .ok_or(InboxError::NotFound(id))?;
    Ok(row.get(0))
}

/// See [`crate::inbox::Inbox::held`].
pub(crate) async fn held(client: &impl GenericClient, id: i64) -> Result<bool, InboxError> {
    let object_key = object_key_of(client, id).await?;
    head_held(client, object_key.as_deref(), id, "").await
}

/// Whether a live claim (its lease not run out) holds the head of event
/// `id` of `object_key`, the row locked with `lock` (`" FOR UPDATE"`) if
/// given: the one rule of [`held`] and [`mark_dead`].
async fn head_held(
    client: &impl GenericClient,
    object_key: Option<&str>,
    id: i64,
    lock: &str,
) -> Result<bool, InboxError> {
    Ok(client
        .query_opt(
            &format!(
                "SELECT owner IS NOT NULL AND due_at > tc_now_ms() FROM heads WHERE key = $1{lock}"
            ),
            &[&head_key(object_key, id)],
        )
        .await
        .map_err(pg_error)?
        .is_some_and(|row| row.get(0)))
}

/// See [`crate::inbox::Inbox::mark_dead`]; under the object's lock, like
/// a claim. A head left pointing at the event is made due now: the next
/// claim moves it on to the object's next event.
///
/// A `processing` event is held while the head of its object (its head key,
/// which the claim of its run set) has an owner whose lease has not run out
/// (`due_at`, which a claim and `renew` set to the lease's end, still
/// ahead); then it is refused. One whose head is free (an interrupted event
/// put back at a clean stop, see `Finish::ReleaseInterrupted`) or whose
/// lease ran out (its instance died; any claim may take it over) can be
/// marked dead. The head is locked first: a claim skips it, and a finish
/// of it waits, until this is committed.
pub(crate) async fn mark_dead(
    client: &impl GenericClient,
    id: i64,
    reason: &str,
) -> Result<(), InboxError> {
    let object_key = object_key_of(client, id).await?;
    let keys = lock_keys(std::iter::once(object_key.as_deref()));
    client
        .execute("SELECT tc_lock_objects($1)", &[&keys])
        .await
        .map_err(pg_error)?;
    let held = head_held(client, object_key.as_deref(), id, " FOR UPDATE").await?;
    let state: String = client
        .query_one("SELECT state FROM events WHERE id = $1", &[&id])
        .await
        .map_err(pg_error)?
        .get(0);
    let processing = state == State::Processing.as_str();
    if processing && held {
        return Err(cannot_mark_dead(id, &state));
    }
    // The claim that left an event `processing` is taken back unless it
    // counted (as the next claim would take it back): `attempts` stays
    // the attempts recorded.
    let changed = client
        .execute(
            &format!(
                "UPDATE events SET state = 'dead', error = $2, next_attempt_at = NULL, \
                 updated_at = tc_now_ms(), attempts = CASE WHEN state = 'processing' AND NOT {} \
                 THEN greatest(attempts - 1, 0) ELSE attempts END \
                 WHERE id = $1 AND state IN ('received', 'trigger', 'retrying', 'processing')",
                counted_interruption_sql()
            ),
            &[&id, &reason],
        )
        .await
        .map_err(pg_error)?;
    if changed == 0 {
        return Err(cannot_mark_dead(id, &state));
    }
    if processing {
        // The uncounted marks only tell the next claim how to hand the
        // event on, which it no longer does: not attempts.
        client
            .execute(
                &format!(
                    "DELETE FROM event_attempts WHERE event_id = $1 AND {}",
                    uncounted_marks_sql()
                ),
                &[&id],
            )
            .await
            .map_err(pg_error)?;
    }
    client
        .execute(
            "UPDATE heads SET due_at = tc_now_ms() WHERE event_id = $1 AND owner IS NULL",
            &[&id],
        )
        .await
        .map_err(pg_error)?;
    Ok(())
}

pub(crate) async fn counts(client: &impl GenericClient) -> Result<Vec<(State, u64)>, InboxError> {
    let rows = client
        .query("SELECT state, count(*) FROM events GROUP BY state", &[])
        .await
        .map_err(pg_error)?;
    let mut counts = Vec::new();
    for state in State::ALL {
        let n = rows
            .iter()
            .find(|r| r.get::<_, &str>(0) == state.as_str())
            .map_or(0, |r| r.get::<_, i64>(1));
        counts.push((state, u64::try_from(n).unwrap_or(0)));
    }
    Ok(counts)
}

/// What a purge of `done` events last updated before `cutoff_ms` would remove.
pub(crate) async fn purgeable(
    client: &impl GenericClient,
    cutoff_ms: i64,
) -> Result<Purged, InboxError> {
    let sql = "SELECT count(*), coalesce(sum(body_len), 0)::bigint FROM events \
               WHERE state = 'done' AND updated_at < $1";
    purged(
        client
            .query_one(sql, &[&cutoff_ms])
            .await
            .map_err(pg_error)?,
    )
}

/// Remove up to `limit` `done` events last updated before `cutoff_ms`,
/// oldest first, with their bodies.
///
/// The `DELETE` checks `state` and `updated_at` itself, not only the
/// subquery that picks the ids: an event replayed by another session (or
/// instance) while the purge waited for its row was deleted as the `done`
/// event the subquery saw (PostgreSQL rechecks only the deleted table's own
/// conditions on the row as it is now), and so was never handled.
pub(crate) async fn purge_batch(
    client: &impl GenericClient,
    cutoff_ms: i64,
    limit: usize,
) -> Result<Purged, InboxError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let sql =
        "WITH d AS (DELETE FROM events WHERE id IN (SELECT id FROM events WHERE state = 'done' \
         AND updated_at < $1 ORDER BY id LIMIT $2) AND state = 'done' AND updated_at < $1 \
         RETURNING id, body_len), \
         b AS (DELETE FROM event_bodies WHERE event_id IN (SELECT id FROM d)), \
         a AS (DELETE FROM event_attempts WHERE event_id IN (SELECT id FROM d)) \
         SELECT count(*), coalesce(sum(body_len), 0)::bigint FROM d";
    purged(
        client
            .query_one(sql, &[&cutoff_ms, &limit])
            .await
            .map_err(pg_error)?,
    )
}

/// A `(count, bytes)` row as [`Purged`].
fn purged(row: tokio_postgres::Row) -> Result<Purged, InboxError> {
    Ok(Purged {
        events: u64::try_from(row.get::<_, i64>(0)).unwrap_or(0),
        body_bytes: u64::try_from(row.get::<_, i64>(1)).unwrap_or(0),
    })
}

/// Up to `limit` events with ids above `after`, oldest first, with bodies
/// and keys. A row that cannot be read is named in the error.
pub(crate) async fn export(
    client: &impl GenericClient,
    after: i64,
    limit: usize,
) -> Result<Vec<Exported>, InboxError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS}, b.body, b.headers, e.message_key, e.object_key \
         FROM events e JOIN event_bodies b ON b.event_id = e.id \
         WHERE e.id > $1 ORDER BY e.id LIMIT $2"
    );
    let rows = client
        .query(&sql, &[&after, &limit])
        .await
        .map_err(pg_error)?;
    rows.iter()
        .map(|row| {
            let read = || -> Result<Exported, InboxError> {
                Ok(Exported {
                    event: stored_event(row)?,
                    message_key: row.try_get(18).map_err(pg_error)?,
                    object_key: row.try_get(19).map_err(pg_error)?,
                    attempts: Vec::new(),
                })
            };
            read().map_err(|e| {
                let id: i64 = row.try_get(0).unwrap_or_default();
                InboxError::Invalid(format!("event {id} cannot be read: {e}"))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|events| attach_attempts(client, events))?
        .await
}

/// Fill in the attempts of exported events: one query for the batch.
async fn attach_attempts(
    client: &impl GenericClient,
    mut events: Vec<Exported>,
) -> Result<Vec<Exported>, InboxError> {
    let ids: Vec<i64> = events.iter().map(|e| e.event.summary.id).collect();
    let rows = client
        .query(
            "SELECT event_id, started_at, finished_at, instance, outcome, error FROM event_attempts \
             WHERE event_id = ANY($1) ORDER BY event_id, id",
            &[&ids],
        )
        .await
        .map_err(pg_error)?;
    let mut by_id: std::collections::HashMap<i64, Vec<Attempt>> = std::collections::HashMap::new();
    for row in &rows {
        let outcome: String = row.try_get(4).map_err(pg_error)?;
        by_id
            .entry(row.try_get(0).map_err(pg_error)?)
            .or_default()
            .push(Attempt {
                started_at: from_ms(row.try_get(1).map_err(pg_error)?),
                finished_at: from_ms(row.try_get(2).map_err(pg_error)?),
                instance: row
                    .try_get::<_, Option<String>>(3)
                    .map_err(pg_error)?
                    .map(untext),
                outcome: AttemptOutcome::parse_str(&outcome)?,
                error: row
                    .try_get::<_, Option<String>>(5)
                    .map_err(pg_error)?
                    .map(untext),
            });
    }
    for exported in &mut events {
        exported.attempts = by_id.remove(&exported.event.summary.id).unwrap_or_default();
    }
    Ok(events)
}

/// Write exported events as they are: the same ids, keys, states and
/// times. A row the database refuses is named in the error.
pub(crate) async fn import(
    client: &impl GenericClient,
    events: &[Exported],
) -> Result<(), InboxError> {
    let insert = client
        .prepare_cached(
            "INSERT INTO events (id, kind, event_name, object_id, message_id, content_type, body_len, state, error, \
             attempts, received_at, updated_at, next_attempt_at, source, origin, message_key, object_key, \
             trace_parent, po_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
        )
        .await
        .map_err(pg_error)?;
    let body = client
        .prepare_cached("INSERT INTO event_bodies (event_id, body, headers) VALUES ($1, $2, $3)")
        .await
        .map_err(pg_error)?;
    for exported in events {
        let event = &exported.event;
        let s = &event.summary;
        let attempts = i32::try_from(s.attempts).unwrap_or(i32::MAX);
        let body_len = i64::try_from(event.body.len()).unwrap_or(i64::MAX);
        let next = s.next_attempt_at.map(|t| t.timestamp_millis());
        let po_key = po_key(&event.body);
        let written = client
            .execute(
                &insert,
                &[
                    &s.id,
                    &s.kind.as_str(),
                    &s.event_name.as_deref().map(text),
                    &s.object_id.as_deref().map(text),
                    &s.message_id.as_deref().map(text),
                    &text(&s.content_type),
                    &body_len,
                    &s.state.as_str(),
                    &s.error.as_deref().map(text),
                    &attempts,
                    &s.received_at.timestamp_millis(),
                    &s.updated_at.timestamp_millis(),
                    &next,
                    &s.source.as_deref().map(text),
                    &s.origin.as_str(),
                    &exported.message_key,
                    &exported.object_key,
                    &s.trace_parent.as_deref().map(text),
                    &po_key,
                ],
            )
            .await;
        let written = match written {
            Ok(_) => {
                let headers = headers_to_json(&event.headers);
                client
                    .execute(&body, &[&s.id, &&event.body[..], &headers])
                    .await
            }
            Err(e) => Err(e),
        };
        written.map_err(|e| import_error(exported, e))?;
        if !exported.attempts.is_empty() {
            import_attempts(client, exported)
                .await
                .map_err(|e| import_error(exported, e))?;
        }
    }
    Ok(())
}

/// Write the attempts of an imported event: one multi-row insert.
async fn import_attempts(
    client: &impl GenericClient,
    exported: &Exported,
) -> Result<u64, tokio_postgres::Error> {
    let attempts = &exported.attempts;
    let started: Vec<i64> = attempts
        .iter()
        .map(|a| a.started_at.timestamp_millis())
        .collect();
    let finished: Vec<i64> = attempts
        .iter()
        .map(|a| a.finished_at.timestamp_millis())
        .collect();
    let instances: Vec<Option<Cow<'_, str>>> = attempts
        .iter()
        .map(|a| a.instance.as_deref().map(text))
        .collect();
    let outcomes: Vec<&str> = attempts.iter().map(|a| a.outcome.as_str()).collect();
    let errors: Vec<Option<Cow<'_, str>>> = attempts
        .iter()
        .map(|a| a.error.as_deref().map(|e| text(bounded(e))))
        .collect();
    client
        .execute(
            "INSERT INTO event_attempts (event_id, started_at, finished_at, instance, outcome, error) \
             SELECT $1, x.s, x.f, x.i, x.o, x.e \
             FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[]) \
             WITH ORDINALITY AS x(s, f, i, o, e, n) ORDER BY x.n",
            &[
                &exported.event.summary.id,
                &started,
                &finished,
                &instances,
                &outcomes,
                &errors,
            ],
        )
        .await
}

/// The error of an event that could not be imported: which event, and why
/// (`Invalid` when the server refused the data: SQLSTATE classes 22 data
/// exception, 23 integrity constraint, 54 program limit).
fn import_error(exported: &Exported, err: tokio_postgres::Error) -> InboxError {
    let what = crate::inbox::migrate::describe_row(&exported.event);
    let refused = err
        .as_db_error()
        .is_some_and(|db| matches!(&db.code().code()[..2], "22" | "23" | "54"));
    match pg_error(err) {
        InboxError::Unavailable(message) if refused => {
            InboxError::Invalid(format!("{what} was refused by the target: {message}"))
        }
        InboxError::Unavailable(message) => {
            InboxError::Unavailable(format!("{what} could not be written: {message}"))
        }
        other => other,
    }
}

/// The mark of an unfinished `inbox migrate` into this inbox, if any.
pub(crate) async fn import_mark(client: &impl GenericClient) -> Result<Option<String>, InboxError> {
    let row = client
        .query_opt(
            "SELECT value FROM tradecloud_meta WHERE key = $1",
            &[&IMPORT_MARK],
        )
        .await
        .map_err(pg_error)?;
    Ok(row.map(|r| r.get(0)))
}

/// See `Store::begin_import` (inside a transaction).
pub(crate) async fn begin_import(
    client: &impl GenericClient,
    describe: &str,
    source: &str,
) -> Result<Option<String>, InboxError> {
    // Serialise with another migrate into the same database.
    client
        .batch_execute("LOCK TABLE tradecloud_meta IN EXCLUSIVE MODE")
        .await
        .map_err(pg_error)?;
    let previous = import_mark(client).await?;
    if previous.is_some() {
        client
            .batch_execute("DELETE FROM events; DELETE FROM event_bodies; DELETE FROM event_attempts; DELETE FROM heads;",)
            .await
            .map_err(pg_error)?;
    } else if client
        .query_opt("SELECT id FROM events LIMIT 1", &[])
        .await
        .map_err(pg_error)?
        .is_some()
    {
        return Err(not_empty(describe));
    }
    client
        .execute(
            "INSERT INTO tradecloud_meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&IMPORT_MARK, &import_mark_value(source, now_ms())],
        )
        .await
        .map_err(pg_error)?;
    Ok(previous)
}

/// Remove the mark of `begin_import`.
pub(crate) async fn clear_import_mark(client: &impl GenericClient) -> Result<(), InboxError> {
    client
        .execute(
            "DELETE FROM tradecloud_meta WHERE key = $1",
            &[&IMPORT_MARK],
        )
        .await
        .map_err(pg_error)?;
    Ok(())
}

/// See `Store::fingerprint`.
pub(crate) async fn fingerprint(client: &impl GenericClient) -> Result<Fingerprint, InboxError> {
    let row = client
        .query_one(
            "SELECT count(*), coalesce(max(id), 0)::bigint, coalesce(max(updated_at), 0)::bigint FROM events",
            &[],
        )
        .await
        .map_err(pg_error)?;
    Ok((row.get(0), row.get(1), row.get(2)))
}
