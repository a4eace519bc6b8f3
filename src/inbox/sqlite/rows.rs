//! SQLite statements on events: reading rows, inserting, listing, replay,
//! purge, and the export and import of `tradecloud inbox migrate`.

use crate::inbox::Derived;
use bytes::Bytes;
use rusqlite::types::{Type, Value};
use rusqlite::{Connection, OptionalExtension, Row};

use super::codec::{self, Packed, BODY_AS_RECEIVED};
use super::db::{unavailable, BODY_COLUMNS, SUMMARY_COLUMNS, WITH_BODY};
use super::queue::ensure_head;
use crate::inbox::event::{headers_from_json, headers_to_json};
use crate::inbox::keys::{message_key, object_key, po_key};
use crate::inbox::migrate::{import_mark_value, IMPORT_MARK};
use crate::inbox::queue::{
    cannot_mark_dead, counted_interruption_sql, head_key, uncounted_marks_sql,
};
use crate::inbox::{
    from_ms, EventSummary, Exported, Fingerprint, InboxError, ListFilter, NewEvent, Origin, Purged,
    State, Stored, StoredEvent,
};

fn conversion_error(index: usize, err: InboxError) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(err))
}

/// Read an [`EventSummary`] from the first 16 columns ([`SUMMARY_COLUMNS`]).
pub(crate) fn summary(row: &Row<'_>) -> rusqlite::Result<EventSummary> {
    let kind: String = row.get(1)?;
    let state: String = row.get(6)?;
    let origin: String = row.get(13)?;
    let attempts: i64 = row.get(8)?;
    let body_len: i64 = row.get(14)?;
    Ok(EventSummary {
        id: row.get(0)?,
        kind: kind.parse().map_err(|e| conversion_error(1, e))?,
        event_name: row.get(2)?,
        object_id: row.get(3)?,
        message_id: row.get(4)?,
        content_type: row.get(5)?,
        state: state.parse().map_err(|e| conversion_error(6, e))?,
        error: row.get(7)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        received_at: from_ms(row.get(9)?),
        updated_at: from_ms(row.get(10)?),
        next_attempt_at: row.get::<_, Option<i64>>(11)?.map(from_ms),
        source: row.get(12)?,
        origin: Origin::parse_str(&origin).map_err(|e| conversion_error(13, e))?,
        body_len: u64::try_from(body_len).unwrap_or(0),
        trace_parent: row.get(15)?,
    })
}

/// Read a [`StoredEvent`]: [`SUMMARY_COLUMNS`] followed by
/// [`BODY_COLUMNS`] (see [`WITH_BODY`]); a compressed body is given back as
/// received ([`codec::unpack`]).
pub(crate) fn stored_event(row: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    let summary = summary(row)?;
    let stored: Vec<u8> = row.get(16)?;
    let headers: Option<String> = row.get(17)?;
    let codec: Option<String> = row.get(18)?;
    let body = codec::unpack(stored, codec.as_deref(), summary.body_len)
        .map_err(|e| conversion_error(16, e))?;
    Ok(StoredEvent {
        summary,
        body: Bytes::from(body),
        headers: headers_from_json(headers.as_deref()),
    })
}

fn read_error(err: rusqlite::Error) -> InboxError {
    match err {
        rusqlite::Error::FromSqlConversionFailure(_, _, inner) => {
            match inner.downcast::<InboxError>() {
                Ok(e) => *e,
                Err(other) => InboxError::Invalid(other.to_string()),
            }
        }
        other => unavailable(other),
    }
}

pub(crate) fn insert_event(
    conn: &Connection,
    event: &NewEvent,
    derived: &Derived,
    now: i64,
) -> Result<Stored, InboxError> {
    let (state, error, origin) = event.state.stored_as();
    if let Some(message_id) = &event.message_id {
        let key = message_key(event.kind.as_str(), message_id);
        let existing: Option<(i64, String)> = conn
            .prepare_cached("SELECT id, state FROM events WHERE message_key = ?1")?
            .query_row([key], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        if let Some((id, existing_state)) = existing {
            if existing_state == State::Rejected.as_str() && state != State::Rejected {
                // A valid copy of a message whose first copy was quarantined:
                // store it, keep the rejected bytes, hand over the message id
                // (three statements: all or nothing).
                conn.execute_batch("SAVEPOINT supersede")?;
                let result = supersede(conn, id, event, derived, now);
                let end = if result.is_ok() {
                    "RELEASE supersede"
                } else {
                    "ROLLBACK TO supersede; RELEASE supersede"
                };
                conn.execute_batch(end)?;
                return result;
            } else {
                return Ok(Stored::Duplicate(id));
            }
        }
    }
    insert_new(conn, event, (state, error, origin), derived, now).map(Stored::New)
}

fn insert_new(
    conn: &Connection,
    event: &NewEvent,
    (state, error, origin): (State, Option<&str>, Origin),
    derived: &Derived,
    now: i64,
) -> Result<i64, InboxError> {
    insert_row(
        conn,
        &RowValues {
            kind: event.kind.as_str(),
            event_name: event.event_name.as_deref(),
            object_id: event.object_id.as_deref(),
            message_id: event.message_id.as_deref(),
            content_type: &event.content_type,
            body: &event.body,
            packed: derived.packed.as_ref(),
            headers: headers_to_json(&event.headers).as_deref(),
            state,
            error,
            source: event.source.as_deref(),
            origin,
            trace_parent: derived.trace_parent.as_deref(),
            po_key: derived.po_key.as_deref(),
        },
        now,
    )
}

/// Store a valid `event` whose message id belongs to rejected event `old`.
fn supersede(
    conn: &Connection,
    old: i64,
    event: &NewEvent,
    derived: &Derived,
    now: i64,
) -> Result<Stored, InboxError> {
    // The rejected event keeps its message id, not the key.
    conn.prepare_cached("UPDATE events SET message_key = NULL WHERE id = ?1")?
        .execute([old])?;
    let id = insert_new(conn, event, event.state.stored_as(), derived, now)?;
    conn.prepare_cached(
        "UPDATE events SET error = coalesce(error, '') || ' (superseded by event ' || ?2 || ')', \
         updated_at = ?3 WHERE id = ?1",
    )?
    .execute((old, id, now))?;
    Ok(Stored::New(id))
}

pub(crate) struct RowValues<'a> {
    pub(crate) kind: &'a str,
    pub(crate) event_name: Option<&'a str>,
    pub(crate) object_id: Option<&'a str>,
    pub(crate) message_id: Option<&'a str>,
    pub(crate) content_type: &'a str,
    pub(crate) body: &'a [u8],
    /// `body` as stored, if the caller made it ([`Derived::packed`]); else
    /// [`insert_row`] does.
    pub(crate) packed: Option<&'a Packed>,
    /// [`headers_to_json`] of the request's headers.
    pub(crate) headers: Option<&'a str>,
    pub(crate) state: State,
    pub(crate) error: Option<&'a str>,
    pub(crate) source: Option<&'a str>,
    pub(crate) origin: Origin,
    pub(crate) trace_parent: Option<&'a str>,
    /// The key of the purchase order number ([`Derived::po_key`]).
    pub(crate) po_key: Option<&'a str>,
}

/// Record that the object `object_key` has an event naming the purchase
/// order `po_key` (`po_objects`, see `db::migrate_v10_to_v11`). A pair that
/// is there already writes nothing, which is every event of an order but
/// its first.
fn pair_with_po(
    conn: &Connection,
    object_key: Option<&str>,
    po_key: Option<&str>,
) -> Result<(), InboxError> {
    if let (Some(object_key), Some(po_key)) = (object_key, po_key) {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO po_objects (object_key, po_key) VALUES (?1, ?2)",
        )?
        .execute((object_key, po_key))?;
    }
    Ok(())
}

/// Insert an event and its body: two statements, so run it in a savepoint
/// (or a transaction of its own) to keep it all or nothing.
pub(crate) fn insert_row(
    conn: &Connection,
    row: &RowValues<'_>,
    now: i64,
) -> Result<i64, InboxError> {
    let body_len =
        i64::try_from(row.body.len()).map_err(|_| InboxError::Invalid("body too large".into()))?;
    let object_key = row.object_id.map(object_key);
    conn.prepare_cached(
        "INSERT INTO events (kind, event_name, object_id, message_id, content_type, body_len, state, error, \
         attempts, received_at, updated_at, next_attempt_at, source, origin, message_key, object_key, \
         trace_parent, po_key) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?9, NULL, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(rusqlite::params![
        row.kind,
        row.event_name,
        row.object_id,
        row.message_id,
        row.content_type,
        body_len,
        row.state.as_str(),
        row.error,
        now,
        row.source,
        row.origin.as_str(),
        row.message_id.map(|m| message_key(row.kind, m)),
        object_key,
        row.trace_parent,
        row.po_key,
    ])?;
    let id = conn.last_insert_rowid();
    pair_with_po(conn, object_key.as_deref(), row.po_key)?;
    let packed_here;
    let packed = match row.packed {
        Some(packed) => packed,
        None => {
            packed_here = Packed::of(row.body);
            &packed_here
        }
    };
    let (body, codec) = packed.columns(row.body);
    conn.prepare_cached(
        "INSERT INTO event_bodies (event_id, body, headers, codec) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute((id, body, row.headers, codec))?;
    if matches!(row.state, State::Received | State::Trigger) {
        ensure_head(conn, object_key.as_deref(), id, now)?;
    }
    Ok(id)
}

/// The ids of the events that name the purchase order whose key is
/// parameter `n`: the objects paired with it (`po_objects`), then their
/// events that name it (`events_object`); events without an object by
/// their own partial index.
fn po_ids_sql(n: usize) -> String {
    format!(
        "SELECT e.id FROM po_objects p JOIN events e INDEXED BY events_object \
         ON e.object_key = p.object_key WHERE p.po_key = ?{n} AND e.po_key = ?{n} \
         UNION ALL SELECT id FROM events INDEXED BY events_po_alone \
         WHERE object_key IS NULL AND po_key = ?{n}"
    )
}

/// The one object paired with the purchase order key `po` when there is
/// exactly one and no event without an object names it.
fn only_object_of_po(conn: &Connection, po: &str) -> Result<Option<String>, InboxError> {
    let objects: Vec<String> = conn
        .prepare_cached("SELECT object_key FROM po_objects WHERE po_key = ?1 LIMIT 2")?
        .query_map([po], |row| row.get(0))?
        .collect::<Result<_, _>>()
        .map_err(read_error)?;
    let alone = conn
        .prepare_cached(
            "SELECT 1 FROM events INDEXED BY events_po_alone \
             WHERE object_key IS NULL AND po_key = ?1 LIMIT 1",
        )?
        .exists([po])?;
    Ok(match <[String; 1]>::try_from(objects) {
        Ok([object]) if !alone => Some(object),
        _ => None,
    })
}

pub(crate) fn list(
    conn: &Connection,
    filter: &ListFilter,
) -> Result<Vec<EventSummary>, InboxError> {
    let mut sql = format!("SELECT {SUMMARY_COLUMNS} FROM events WHERE 1 = 1");
    let mut params: Vec<Value> = Vec::new();
    if let Some(state) = filter.state {
        params.push(Value::Text(state.as_str().into()));
        sql.push_str(&format!(" AND state = ?{}", params.len()));
    }
    if let Some(kind) = filter.kind {
        params.push(Value::Text(kind.as_str().into()));
        sql.push_str(&format!(" AND kind = ?{}", params.len()));
    }
    if let Some(object_id) = &filter.object_id {
        params.push(Value::Text(object_key(object_id)));
        sql.push_str(&format!(" AND object_key = ?{}", params.len()));
    }
    if let Some(name) = &filter.event_name {
        params.push(Value::Text(name.clone()));
        sql.push_str(&format!(" AND event_name = ?{}", params.len()));
    }
    if let Some(number) = &filter.purchase_order_number {
        let po = object_key(number.trim());
        match only_object_of_po(conn, &po)? {
            // The usual case, one order: its events by `events_object`,
            // newest first, stopping at the page's end.
            Some(object) => {
                params.push(Value::Text(object));
                params.push(Value::Text(po));
                sql.push_str(&format!(
                    " AND object_key = ?{} AND po_key = ?{}",
                    params.len() - 1,
                    params.len()
                ));
            }
            // Several objects (an order and its shipments) or events
            // without one: every event of them that names the number.
            None => {
                params.push(Value::Text(po));
                sql.push_str(&format!(
                    " AND po_key = ?{n} AND id IN ({})",
                    po_ids_sql(params.len()),
                    n = params.len()
                ));
            }
        }
    }
    if let Some(text) = &filter.body_contains {
        params.push(Value::Blob(text.as_bytes().to_vec()));
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM event_bodies b WHERE b.event_id = events.id \
             AND instr({BODY_AS_RECEIVED}, ?{}) > 0)",
            params.len()
        ));
    }
    if let Some(from) = filter.received_from {
        params.push(Value::Integer(from.timestamp_millis()));
        sql.push_str(&format!(" AND received_at >= ?{}", params.len()));
    }
    if let Some(until) = filter.received_until {
        params.push(Value::Integer(until.timestamp_millis()));
        sql.push_str(&format!(" AND received_at < ?{}", params.len()));
    }
    if let Some(before) = filter.before_id {
        params.push(Value::Integer(before));
        sql.push_str(&format!(" AND id < ?{}", params.len()));
    }
    if let Some(after) = filter.after_id {
        params.push(Value::Integer(after));
        sql.push_str(&format!(" AND id > ?{}", params.len()));
    }
    let limit = i64::try_from(filter.limit.unwrap_or(100)).unwrap_or(i64::MAX);
    params.push(Value::Integer(limit));
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ?{}", params.len()));
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut events = stmt
        .query_map(rusqlite::params_from_iter(params), summary)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_error)?;
    events.reverse();
    Ok(events)
}

pub(crate) fn get(conn: &Connection, id: i64) -> Result<Option<StoredEvent>, InboxError> {
    conn.prepare_cached(&format!(
        "SELECT {SUMMARY_COLUMNS}, {BODY_COLUMNS} FROM {WITH_BODY} WHERE e.id = ?1"
    ))?
    .query_row([id], stored_event)
    .optional()
    .map_err(read_error)
}

pub(crate) fn replay(conn: &Connection, id: i64, now: i64) -> Result<(), InboxError> {
    let row: Option<(String, String)> = conn
        .prepare_cached("SELECT state, origin FROM events WHERE id = ?1")?
        .query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let (state, origin) = row.ok_or(InboxError::NotFound(id))?;
    let next = State::replayed(id, &state, &origin)?;
    let object_key: Option<String> = conn
        .prepare_cached(
            "UPDATE events SET state = ?2, error = NULL, attempts = 0, next_attempt_at = NULL, updated_at = ?3 \
             WHERE id = ?1 RETURNING object_key",
        )?
        .query_row((id, next.as_str(), now), |row| row.get(0))?;
    ensure_head(conn, object_key.as_deref(), id, now)
}

/// See [`crate::inbox::Inbox::held`].
pub(crate) fn held(conn: &Connection, id: i64) -> Result<bool, InboxError> {
    let object_key: Option<String> = conn
        .prepare_cached("SELECT object_key FROM events WHERE id = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()?
        .ok_or(InboxError::NotFound(id))?;
    head_held(conn, object_key.as_deref(), id)
}

/// Whether a claim holds the head of event `id` of `object_key` (see
/// [`held`]): the one rule of [`held`] and [`mark_dead`].
fn head_held(conn: &Connection, object_key: Option<&str>, id: i64) -> Result<bool, InboxError> {
    let held: Option<bool> = conn
        .prepare_cached("SELECT owner IS NOT NULL FROM heads WHERE key = ?1")?
        .query_row([head_key(object_key, id)], |row| row.get(0))
        .optional()?;
    Ok(held.unwrap_or(false))
}

/// See [`crate::inbox::Inbox::mark_dead`]. A head left pointing at the
/// event is made due now: the next claim moves it on to the object's next
/// event (see `queue::claim`).
///
/// A `processing` event is held while the head of its object (its head key,
/// which the claim of its run set) has an owner; then it is refused. One
/// whose head is free (an interrupted event put back at a clean stop, see
/// `Finish::ReleaseInterrupted`) runs nowhere and can be marked dead. A
/// dead process's owner stays on the head until the next start frees it
/// (`queue::release_all`), so until then its event counts as held: nothing
/// here tells that owner from a live processor of this or another process.
pub(crate) fn mark_dead(
    conn: &Connection,
    id: i64,
    reason: &str,
    now: i64,
) -> Result<(), InboxError> {
    let row: Option<(String, Option<String>)> = conn
        .prepare_cached("SELECT state, object_key FROM events WHERE id = ?1")?
        .query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let (state, object_key) = row.ok_or(InboxError::NotFound(id))?;
    let processing = state == State::Processing.as_str();
    if processing && head_held(conn, object_key.as_deref(), id)? {
        return Err(cannot_mark_dead(id, &state));
    }
    // The claim that left an event `processing` is taken back unless it
    // counted (as the next claim would take it back): `attempts` stays
    // the attempts recorded.
    let changed = conn
        .prepare_cached(&format!(
            "UPDATE events SET state = 'dead', error = ?2, next_attempt_at = NULL, updated_at = ?3, \
             attempts = CASE WHEN state = 'processing' AND NOT {} THEN max(attempts - 1, 0) \
             ELSE attempts END \
             WHERE id = ?1 AND state IN ('received', 'trigger', 'retrying', 'processing')",
            counted_interruption_sql()
        ))?
        .execute((id, reason, now))?;
    if changed == 0 {
        return Err(cannot_mark_dead(id, &state));
    }
    if processing {
        // The uncounted marks only tell the next claim how to hand the
        // event on, which it no longer does: not attempts.
        conn.prepare_cached(&format!(
            "DELETE FROM event_attempts WHERE event_id = ?1 AND {}",
            uncounted_marks_sql()
        ))?
        .execute([id])?;
    }
    conn.prepare_cached("UPDATE heads SET due_at = ?2 WHERE event_id = ?1 AND owner IS NULL")?
        .execute((id, now))?;
    Ok(())
}

/// Up to `limit` events with ids above `after`, oldest first, with bodies
/// and keys. A row that cannot be read is named in the error.
pub(crate) fn export(
    conn: &Connection,
    after: i64,
    limit: usize,
) -> Result<Vec<Exported>, InboxError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SUMMARY_COLUMNS}, {BODY_COLUMNS}, e.message_key, e.object_key FROM {WITH_BODY} \
         WHERE e.id > ?1 ORDER BY e.id LIMIT ?2"
    ))?;
    let mut rows = stmt.query((after, limit))?;
    let mut events = Vec::new();
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let read = |row: &Row<'_>| -> rusqlite::Result<Exported> {
            Ok(Exported {
                event: stored_event(row)?,
                message_key: row.get(19)?,
                object_key: row.get(20)?,
                attempts: Vec::new(),
            })
        };
        events.push(
            read(row)
                .map_err(read_error)
                .map_err(|e| InboxError::Invalid(format!("event {id} cannot be read: {e}")))?,
        );
    }
    drop(rows);
    // A local read per event (no round trip): the attempts go with it.
    for exported in &mut events {
        exported.attempts = super::queue::attempts(conn, exported.event.summary.id)?;
    }
    Ok(events)
}

/// Write exported events as they are: the same ids, keys, states and
/// times. A row the database refuses is named in the error.
pub(crate) fn import(conn: &Connection, events: &[Exported]) -> Result<(), InboxError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO events (id, kind, event_name, object_id, message_id, content_type, body_len, state, error, \
         attempts, received_at, updated_at, next_attempt_at, source, origin, message_key, object_key, \
         trace_parent, po_key) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    )?;
    let mut body = conn.prepare_cached(
        "INSERT INTO event_bodies (event_id, body, headers, codec) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut attempt_insert = conn.prepare_cached(
        "INSERT INTO event_attempts (event_id, started_at, finished_at, instance, outcome, error) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for exported in events {
        let event = &exported.event;
        let s = &event.summary;
        let po = po_key(&event.body);
        insert
            .execute(rusqlite::params![
                s.id,
                s.kind.as_str(),
                s.event_name,
                s.object_id,
                s.message_id,
                s.content_type,
                i64::try_from(event.body.len()).unwrap_or(i64::MAX),
                s.state.as_str(),
                s.error,
                s.attempts,
                s.received_at.timestamp_millis(),
                s.updated_at.timestamp_millis(),
                s.next_attempt_at.map(|t| t.timestamp_millis()),
                s.source,
                s.origin.as_str(),
                exported.message_key,
                exported.object_key,
                s.trace_parent,
                po,
            ])
            .and_then(|_| {
                let packed = Packed::of(&event.body);
                let (stored, codec) = packed.columns(&event.body);
                body.execute((s.id, stored, headers_to_json(&event.headers), codec))
            })
            .map_err(|e| import_error(exported, e))?;
        pair_with_po(conn, exported.object_key.as_deref(), po.as_deref())?;
        for attempt in &exported.attempts {
            attempt_insert
                .execute(rusqlite::params![
                    s.id,
                    attempt.started_at.timestamp_millis(),
                    attempt.finished_at.timestamp_millis(),
                    attempt.instance,
                    attempt.outcome.as_str(),
                    attempt.error,
                ])
                .map_err(|e| import_error(exported, e))?;
        }
    }
    Ok(())
}

/// The error of an event that could not be imported: which event, and why.
fn import_error(exported: &Exported, err: rusqlite::Error) -> InboxError {
    let refused = matches!(
        err.sqlite_error_code(),
        Some(
            rusqlite::ErrorCode::ConstraintViolation
                | rusqlite::ErrorCode::TooBig
                | rusqlite::ErrorCode::TypeMismatch
        )
    );
    let what = crate::inbox::migrate::describe_row(&exported.event);
    if refused {
        InboxError::Invalid(format!("{what} was refused by the target: {err}"))
    } else {
        InboxError::Unavailable(format!("{what} could not be written: {err}"))
    }
}

pub(crate) fn counts(conn: &Connection) -> Result<Vec<(State, u64)>, InboxError> {
    let mut stmt = conn.prepare_cached("SELECT state, count(*) FROM events GROUP BY state")?;
    let rows = stmt
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut counts = Vec::new();
    for state in State::ALL {
        let n = rows
            .iter()
            .find(|(s, _)| s == state.as_str())
            .map_or(0, |(_, n)| *n);
        counts.push((state, u64::try_from(n).unwrap_or(0)));
    }
    Ok(counts)
}

/// The `done` events finished before `cutoff_ms`, counted.
pub(crate) fn purgeable(conn: &Connection, cutoff_ms: i64) -> Result<Purged, InboxError> {
    let (events, bytes): (i64, i64) = conn
        .prepare_cached(
            "SELECT count(*), coalesce(sum(body_len), 0) FROM events \
             WHERE state = 'done' AND updated_at < ?1",
        )?
        .query_row([cutoff_ms], |row| Ok((row.get(0)?, row.get(1)?)))
        .map_err(read_error)?;
    Ok(Purged {
        events: u64::try_from(events).unwrap_or(0),
        body_bytes: u64::try_from(bytes).unwrap_or(0),
    })
}

/// Delete up to `limit` of the oldest `done` events finished before
/// `cutoff_ms`, and their bodies (several statements: run it in a savepoint).
pub(crate) fn purge_batch(
    conn: &Connection,
    cutoff_ms: i64,
    limit: usize,
) -> Result<Purged, InboxError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let deleted = conn
        .prepare_cached(
            "DELETE FROM events WHERE id IN \
             (SELECT id FROM events WHERE state = 'done' AND updated_at < ?1 ORDER BY id LIMIT ?2) \
             RETURNING id, body_len, object_key",
        )?
        .query_map([cutoff_ms, limit], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, Option<String>>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut delete_body = conn.prepare_cached("DELETE FROM event_bodies WHERE event_id = ?1")?;
    let mut delete_attempts =
        conn.prepare_cached("DELETE FROM event_attempts WHERE event_id = ?1")?;
    for (id, _, _) in &deleted {
        delete_body.execute([id])?;
        delete_attempts.execute([id])?;
    }
    // The purchase order numbers of an object none of whose events is left.
    let mut objects: Vec<&str> = deleted
        .iter()
        .filter_map(|(_, _, o)| o.as_deref())
        .collect();
    objects.sort_unstable();
    objects.dedup();
    let mut unpair = conn.prepare_cached(
        "DELETE FROM po_objects WHERE object_key = ?1 AND NOT EXISTS \
         (SELECT 1 FROM events INDEXED BY events_object WHERE object_key = ?1)",
    )?;
    for object in objects {
        unpair.execute([object])?;
    }
    Ok(Purged {
        events: deleted.len() as u64,
        body_bytes: deleted
            .iter()
            .map(|(_, n, _)| u64::try_from(*n).unwrap_or(0))
            .sum(),
    })
}

/// The mark of an unfinished `inbox migrate` into this inbox, if any.
pub(crate) fn import_mark(conn: &Connection) -> Result<Option<String>, InboxError> {
    Ok(conn
        .prepare_cached("SELECT value FROM inbox_meta WHERE key = ?1")?
        .query_row([IMPORT_MARK], |row| row.get(0))
        .optional()?)
}

/// See `Store::begin_import`.
pub(crate) fn begin_import(
    conn: &Connection,
    describe: &str,
    source: &str,
    now: i64,
) -> Result<Option<String>, InboxError> {
    let previous = import_mark(conn)?;
    if previous.is_some() {
        conn.execute_batch(
            "DELETE FROM events; DELETE FROM event_bodies; DELETE FROM event_attempts; DELETE FROM heads; \
             DELETE FROM po_objects;",
        )?;
    } else {
        let any: Option<i64> = conn
            .prepare_cached("SELECT id FROM events LIMIT 1")?
            .query_row([], |row| row.get(0))
            .optional()?;
        if any.is_some() {
            return Err(crate::inbox::migrate::not_empty(describe));
        }
    }
    conn.prepare_cached("INSERT OR REPLACE INTO inbox_meta (key, value) VALUES (?1, ?2)")?
        .execute([IMPORT_MARK, &import_mark_value(source, now)])?;
    Ok(previous)
}

/// Remove the mark of `begin_import`.
pub(crate) fn clear_import_mark(conn: &Connection) -> Result<(), InboxError> {
    conn.prepare_cached("DELETE FROM inbox_meta WHERE key = ?1")?
        .execute([IMPORT_MARK])?;
    Ok(())
}

/// See `Store::fingerprint`.
pub(crate) fn fingerprint(conn: &Connection) -> Result<Fingerprint, InboxError> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*), coalesce(max(id), 0), coalesce(max(updated_at), 0) FROM events",
        )?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A search by purchase order number seeks the pairs by number and each
    /// paired object's events by key: it reads no other order's events.
    #[test]
    fn the_purchase_order_search_seeks_pairs_then_objects() {
        let conn = Connection::open_in_memory().unwrap();
        super::super::db::ensure_schema(&conn).unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", po_ids_sql(1)))
            .unwrap()
            .query_map(["=PO-1"], |row| row.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for step in [
            "SEARCH p USING COVERING INDEX po_objects_po (po_key=?)",
            "SEARCH e USING INDEX events_object (object_key=?)",
            "SEARCH events USING INDEX events_po_alone (po_key=?)",
        ] {
            assert!(plan.iter().any(|s| s == step), "{step} in {plan:?}");
        }
    }
}
