//! PostgreSQL statements on events: the insert of a batch, reading rows,
//! listing, replay, purge, export and import.

use bytes::Bytes;
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::{lock_key, pg_error, text};
use crate::inbox::{
    from_ms, EventSummary, InboxError, ListFilter, NewEvent, Origin, Purged, State, Stored,
    StoredEvent,
};

/// The columns of an [`EventSummary`], in the order [`summary`] reads them.
pub(crate) const SUMMARY_COLUMNS: &str =
    "e.id, e.kind, e.event_name, e.object_id, e.message_id, e.content_type, e.state, \
     e.error, e.attempts, e.received_at, e.updated_at, e.next_attempt_at, e.source, e.origin, e.body_len, \
     e.trace_parent";

/// Insert an event, its body and (when it is to be handled and its object
/// has none) its head, in one statement; no row when the message id is
/// already stored.
const INSERT: &str = "
WITH e AS (
    INSERT INTO events (kind, event_name, object_id, message_id, content_type, body_len, state,
                        error, attempts, received_at, updated_at, source, origin, trace_parent)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, tc_now_ms(), tc_now_ms(), $9, $10, $13)
    ON CONFLICT (message_id) DO NOTHING
    RETURNING id, received_at
), b AS (
    INSERT INTO event_bodies (event_id, body) SELECT id, $11 FROM e
), h AS (
    INSERT INTO heads (key, object_id, event_id, due_at)
    SELECT CASE WHEN $3::text IS NULL THEN 'e:' || id ELSE 'o:' || $3::text END, $3, id, received_at
    FROM e WHERE $12
    ON CONFLICT (key) DO NOTHING
)
SELECT id FROM e";

fn invalid(index: usize, e: InboxError) -> InboxError {
    InboxError::Invalid(format!("column {index} of the inbox: {e}"))
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
        event_name: row.try_get(2).map_err(pg_error)?,
        object_id: row.try_get(3).map_err(pg_error)?,
        message_id: row.try_get(4).map_err(pg_error)?,
        content_type: row.try_get(5).map_err(pg_error)?,
        state: state.parse().map_err(|e| invalid(6, e))?,
        error: row.try_get(7).map_err(pg_error)?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        received_at: from_ms(row.try_get(9).map_err(pg_error)?),
        updated_at: from_ms(row.try_get(10).map_err(pg_error)?),
        next_attempt_at: row
            .try_get::<_, Option<i64>>(11)
            .map_err(pg_error)?
            .map(from_ms),
        source: row.try_get(12).map_err(pg_error)?,
        origin: Origin::parse_str(&origin).map_err(|e| invalid(13, e))?,
        body_len: u64::try_from(body_len).unwrap_or(0),
        trace_parent: row.try_get(15).map_err(pg_error)?,
    })
}

/// Read a [`StoredEvent`]: [`SUMMARY_COLUMNS`] followed by the body.
pub(crate) fn stored_event(row: &Row) -> Result<StoredEvent, InboxError> {
    let summary = summary(row)?;
    let body: Vec<u8> = row.try_get(16).map_err(pg_error)?;
    Ok(StoredEvent {
        summary,
        body: Bytes::from(body),
    })
}

/// The advisory lock keys of a batch's objects, sorted, without repeats.
pub(crate) fn lock_keys<'a>(object_ids: impl Iterator<Item = Option<&'a str>>) -> Vec<i64> {
    let mut keys: Vec<i64> = object_ids.flatten().map(lock_key).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Insert one event (inside the batch's transaction); see [`crate::inbox::Inbox::store`].
pub(crate) async fn insert_event(
    client: &impl GenericClient,
    event: &NewEvent,
    trace_parent: Option<&str>,
) -> Result<Stored, InboxError> {
    let (state, error, origin) = event.state.stored_as();
    let stored_as = (state, error, origin);
    if let Some(id) = insert_row(client, event, stored_as, trace_parent).await? {
        return Ok(Stored::New(id));
    }
    // A message id stored before (by this instance or another one).
    let message_id = event.message_id.as_deref().map(text);
    let row = client
        .query_opt(
            "SELECT id, state FROM events WHERE message_id = $1",
            &[&message_id],
        )
        .await
        .map_err(pg_error)?
        .ok_or_else(|| {
            InboxError::Unavailable("an event was neither stored nor found as a duplicate".into())
        })?;
    let (old, old_state): (i64, String) = (row.get(0), row.get(1));
    if old_state != State::Rejected.as_str() || state == State::Rejected {
        return Ok(Stored::Duplicate(old));
    }
    // A valid copy of a message whose first copy was quarantined: store it,
    // keep the rejected bytes, hand over the message id.
    client
        .execute("UPDATE events SET message_id = NULL WHERE id = $1", &[&old])
        .await
        .map_err(pg_error)?;
    let id = insert_row(client, event, stored_as, trace_parent)
        .await?
        .ok_or_else(|| InboxError::Unavailable("the superseding event was not stored".into()))?;
    client
        .execute(
            "UPDATE events SET error = coalesce(error, '') || ' (superseded by event ' || $2::bigint || ')', \
             updated_at = tc_now_ms() WHERE id = $1",
            &[&old, &id],
        )
        .await
        .map_err(pg_error)?;
    Ok(Stored::New(id))
}

async fn insert_row(
    client: &impl GenericClient,
    event: &NewEvent,
    (state, error, origin): (State, Option<&str>, Origin),
    trace_parent: Option<&str>,
) -> Result<Option<i64>, InboxError> {
    let body_len = i64::try_from(event.body.len())
        .map_err(|_| InboxError::Invalid("body too large".into()))?;
    let queued = matches!(state, State::Received | State::Trigger);
    let params: [&(dyn ToSql + Sync); 13] = [
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
        &trace_parent.map(text),
    ];
    let statement = client.prepare_cached(INSERT).await.map_err(pg_error)?;
    let row = client
        .query_opt(&statement, &params)
        .await
        .map_err(pg_error)?;
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
         AND ($2::text IS NULL OR e.kind = $2) AND ($3::text IS NULL OR e.object_id = $3) \
         AND ($4::bigint IS NULL OR e.id < $4) ORDER BY e.id DESC LIMIT $5"
    );
    let rows = client
        .query(
            &sql,
            &[&state, &kind, &filter.object_id, &filter.before_id, &limit],
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
        "SELECT {SUMMARY_COLUMNS}, b.body FROM events e JOIN event_bodies b ON b.event_id = e.id WHERE e.id = $1"
    );
    let row = client.query_opt(&sql, &[&id]).await.map_err(pg_error)?;
    row.as_ref().map(stored_event).transpose()
}

pub(crate) async fn replay(client: &impl GenericClient, id: i64) -> Result<(), InboxError> {
    let row = client
        .query_opt(
            "SELECT state, origin, object_id FROM events WHERE id = $1",
            &[&id],
        )
        .await
        .map_err(pg_error)?
        .ok_or(InboxError::NotFound(id))?;
    let (state, origin, object_id): (String, String, Option<String>) =
        (row.get(0), row.get(1), row.get(2));
    let next = State::replayed(id, &state, &origin)?;
    let keys = lock_keys(std::iter::once(object_id.as_deref()));
    client
        .execute("SELECT tc_lock_objects($1)", &[&keys])
        .await
        .map_err(pg_error)?;
    client
        .execute(
            "UPDATE events SET state = $2, error = NULL, attempts = 0, next_attempt_at = NULL, \
             updated_at = tc_now_ms() WHERE id = $1",
            &[&id, &next.as_str()],
        )
        .await
        .map_err(pg_error)?;
    client
        .execute(
            "INSERT INTO heads (key, object_id, event_id, due_at) \
             VALUES (CASE WHEN $2::text IS NULL THEN 'e:' || $1::bigint ELSE 'o:' || $2::text END, $2, $1, tc_now_ms()) \
             ON CONFLICT (key) DO NOTHING",
            &[&id, &object_id],
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
pub(crate) async fn purge_batch(
    client: &impl GenericClient,
    cutoff_ms: i64,
    limit: usize,
) -> Result<Purged, InboxError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let sql =
        "WITH d AS (DELETE FROM events WHERE id IN (SELECT id FROM events WHERE state = 'done' \
         AND updated_at < $1 ORDER BY id LIMIT $2) RETURNING id, body_len), \
         b AS (DELETE FROM event_bodies WHERE event_id IN (SELECT id FROM d)) \
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

pub(crate) async fn export(
    client: &impl GenericClient,
    after: i64,
    limit: usize,
) -> Result<Vec<StoredEvent>, InboxError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS}, b.body FROM events e JOIN event_bodies b ON b.event_id = e.id \
         WHERE e.id > $1 ORDER BY e.id LIMIT $2"
    );
    let rows = client
        .query(&sql, &[&after, &limit])
        .await
        .map_err(pg_error)?;
    rows.iter().map(stored_event).collect()
}

pub(crate) async fn import(
    client: &impl GenericClient,
    events: &[StoredEvent],
) -> Result<(), InboxError> {
    let insert = client
        .prepare_cached(
            "INSERT INTO events (id, kind, event_name, object_id, message_id, content_type, body_len, state, error, \
             attempts, received_at, updated_at, next_attempt_at, source, origin, trace_parent) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .await
        .map_err(pg_error)?;
    let body = client
        .prepare_cached("INSERT INTO event_bodies (event_id, body) VALUES ($1, $2)")
        .await
        .map_err(pg_error)?;
    for event in events {
        let s = &event.summary;
        let attempts = i32::try_from(s.attempts).unwrap_or(i32::MAX);
        let body_len = i64::try_from(event.body.len()).unwrap_or(i64::MAX);
        let next = s.next_attempt_at.map(|t| t.timestamp_millis());
        client
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
                    &s.trace_parent.as_deref().map(text),
                ],
            )
            .await
            .map_err(pg_error)?;
        client
            .execute(&body, &[&s.id, &&event.body[..]])
            .await
            .map_err(pg_error)?;
    }
    Ok(())
}
