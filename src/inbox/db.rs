//! SQLite: opening, schema, and the statements behind the inbox operations.

use std::path::Path;

use bytes::Bytes;
use rusqlite::types::{Type, Value};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};

use super::{
    from_ms, EventSummary, InboxError, InboxOptions, ListFilter, NewEvent, NewState, Origin,
    Purged, State, Stored, StoredEvent, Target,
};

/// Version of the schema below, kept in `PRAGMA user_version`.
///
/// 1: bodies in `events.body` (in the middle of the row).
/// 2: bodies in `event_bodies`, `events.body_len` (see [`migrate_v1_to_v2`]).
pub(crate) const SCHEMA_VERSION: i64 = 2;

/// The `events` table of version 2, created as `{name}`.
fn events_table(name: &str) -> String {
    format!(
        "CREATE TABLE {name} (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL,
    event_name      TEXT,
    object_id       TEXT,
    message_id      TEXT,
    content_type    TEXT    NOT NULL,
    body_len        INTEGER NOT NULL,
    state           TEXT    NOT NULL,
    error           TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    received_at     INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    next_attempt_at INTEGER,
    source          TEXT,
    origin          TEXT    NOT NULL DEFAULT 'webhook'
);"
    )
}

/// The indexes on `events` (the same in versions 1 and 2).
const EVENTS_INDEXES: &str = "
CREATE UNIQUE INDEX IF NOT EXISTS events_message_id ON events (message_id);
CREATE INDEX IF NOT EXISTS events_state ON events (state, id);
CREATE INDEX IF NOT EXISTS events_pending ON events (id)
    WHERE state IN ('received', 'trigger', 'retrying');
CREATE INDEX IF NOT EXISTS events_active_object ON events (object_id, id)
    WHERE state IN ('received', 'trigger', 'processing', 'retrying');
";

/// The body of every event, byte for byte, keyed by `events.id`: kept out of
/// the `events` rows so that reading or changing an event's state does not
/// walk or rewrite the body's overflow pages.
const BODIES_TABLE: &str = "
CREATE TABLE event_bodies (
    event_id INTEGER PRIMARY KEY,
    body     BLOB    NOT NULL
);
";

const HEALTH_TABLE: &str = "
CREATE TABLE IF NOT EXISTS inbox_health (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL
);
INSERT OR IGNORE INTO inbox_health (id, checked_at) VALUES (1, 0);
";

/// `events` (as `e`) joined with their bodies (as `b`): select
/// [`SUMMARY_COLUMNS`]`, b.body` from it for [`stored_event`].
pub(crate) const WITH_BODY: &str = "events e JOIN event_bodies b ON b.event_id = e.id";

/// The columns of an [`EventSummary`], in the order [`summary`] reads them
/// (none of them reads a body).
pub(crate) const SUMMARY_COLUMNS: &str =
    "id, kind, event_name, object_id, message_id, content_type, state, \
     error, attempts, received_at, updated_at, next_attempt_at, source, origin, body_len";

/// Identity of the database file: a file replaced or removed under a running
/// inbox is noticed (and not written to through a stale handle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileId(u64, u64);

#[cfg(unix)]
pub(crate) fn file_id(path: &Path) -> std::io::Result<FileId> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)?;
    Ok(FileId(meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
pub(crate) fn file_id(path: &Path) -> std::io::Result<FileId> {
    std::fs::metadata(path).map(|_| FileId(0, 0))
}

pub(crate) fn unavailable(err: rusqlite::Error) -> InboxError {
    InboxError::Unavailable(err.to_string())
}

/// Open the write connection, creating the file and schema if allowed.
pub(crate) fn open_writer(
    target: &Target,
    options: &InboxOptions,
) -> Result<Connection, InboxError> {
    match target {
        Target::Memory => {
            let conn = Connection::open_in_memory()?;
            setup_writer(&conn, options, false)?;
            Ok(conn)
        }
        Target::File(path) => {
            let existed = path.exists();
            if !existed && !options.create {
                return Err(InboxError::Invalid(format!(
                    "no inbox database at {}",
                    path.display()
                )));
            }
            let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            if options.create {
                flags |= OpenFlags::SQLITE_OPEN_CREATE;
            }
            let conn = Connection::open_with_flags(path, flags).map_err(|e| {
                InboxError::Unavailable(format!(
                    "cannot open inbox database {}: {e}",
                    path.display()
                ))
            })?;
            setup_writer(&conn, options, true)?;
            if !existed {
                // Make the new file's directory entry durable too.
                sync_parent_dir(path);
            }
            Ok(conn)
        }
    }
}

/// Reopen the write connection to an existing file (never creating one: a
/// file that vanished is `Unavailable` until it is back).
pub(crate) fn open_existing_writer(
    path: &Path,
    options: &InboxOptions,
) -> Result<Connection, InboxError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| {
        InboxError::Unavailable(format!(
            "cannot open inbox database {}: {e}",
            path.display()
        ))
    })?;
    setup_writer(&conn, options, true)?;
    Ok(conn)
}

fn sync_parent_dir(path: &Path) {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(dir) = std::fs::File::open(parent) {
        let _ = dir.sync_all();
    }
}

fn setup_writer(conn: &Connection, options: &InboxOptions, file: bool) -> Result<(), InboxError> {
    conn.busy_timeout(options.busy_timeout)?;
    if file {
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(InboxError::Unavailable(format!(
                "cannot switch the inbox database to WAL mode (journal_mode is {mode})"
            )));
        }
    }
    // Every commit is fsync'd before `store` returns.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "journal_size_limit", 64i64 << 20)?;
    conn.set_prepared_statement_cache_capacity(64);
    ensure_schema(conn)
}

fn ensure_schema(conn: &Connection) -> Result<(), InboxError> {
    let version = schema_version(conn)?;
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    check_known(version)?;
    // One transaction: the file is either still at its old version or fully
    // at the new one.
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let upgraded = upgrade(conn).and_then(|()| Ok(conn.execute_batch("COMMIT")?));
    if upgraded.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    upgraded
}

fn schema_version(conn: &Connection) -> Result<i64, InboxError> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
}

fn check_known(version: i64) -> Result<(), InboxError> {
    if version > SCHEMA_VERSION {
        return Err(InboxError::Invalid(format!(
            "the inbox database has schema version {version}; this build of tradecloud knows up to {SCHEMA_VERSION}"
        )));
    }
    if version < 0 {
        return Err(InboxError::Invalid(format!(
            "the inbox database has an unknown schema version {version}"
        )));
    }
    Ok(())
}

/// Bring the schema to [`SCHEMA_VERSION`], inside the caller's transaction.
fn upgrade(conn: &Connection) -> Result<(), InboxError> {
    // Read again under the write lock: another process may have upgraded the
    // file since.
    let version = schema_version(conn)?;
    check_known(version)?;
    match version {
        0 => {
            conn.execute_batch(&events_table("events"))?;
            conn.execute_batch(EVENTS_INDEXES)?;
            conn.execute_batch(BODIES_TABLE)?;
            conn.execute_batch(HEALTH_TABLE)?;
        }
        1 => migrate_v1_to_v2(conn)?,
        _ => return Ok(()),
    }
    conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    Ok(())
}

/// Version 1 to 2: bodies move to `event_bodies`, `events` is rebuilt
/// without its `body` column (SQLite's documented way of changing a table:
/// create the new one, copy, drop the old one, rename, recreate the
/// indexes). Ids, message ids, states and every other column are copied as
/// they are, and the AUTOINCREMENT counter is kept, so ids of purged events
/// are not handed out again. Runs in the caller's transaction.
fn migrate_v1_to_v2(conn: &Connection) -> Result<(), InboxError> {
    let sequence: Option<i64> = conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'events'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    conn.execute_batch(BODIES_TABLE)?;
    conn.execute_batch("INSERT INTO event_bodies (event_id, body) SELECT id, body FROM events")?;
    conn.execute_batch(&events_table("events_v2"))?;
    conn.execute_batch(
        "INSERT INTO events_v2 (id, kind, event_name, object_id, message_id, content_type, body_len, \
         state, error, attempts, received_at, updated_at, next_attempt_at, source, origin) \
         SELECT id, kind, event_name, object_id, message_id, content_type, length(body), \
         state, error, attempts, received_at, updated_at, next_attempt_at, source, origin \
         FROM events ORDER BY id",
    )?;
    // Dropping the table drops its indexes.
    conn.execute_batch("DROP TABLE events; ALTER TABLE events_v2 RENAME TO events;")?;
    conn.execute_batch(EVENTS_INDEXES)?;
    if let Some(sequence) = sequence {
        let updated = conn.execute(
            "UPDATE sqlite_sequence SET seq = max(seq, ?1) WHERE name = 'events'",
            [sequence],
        )?;
        if updated == 0 {
            conn.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?1)",
                [sequence],
            )?;
        }
    }
    conn.execute_batch(HEALTH_TABLE)?;
    Ok(())
}

/// A pooled read connection with the identity of the file it was opened on.
pub(crate) struct Reader {
    pub(crate) conn: Connection,
    file: FileId,
}

impl Reader {
    /// Reuse `pooled` if it still reads the current file, else open a new one.
    pub(crate) fn checkout(
        pooled: Option<Reader>,
        path: &Path,
        options: &InboxOptions,
    ) -> Result<Reader, InboxError> {
        let current = file_id(path).map_err(|e| {
            InboxError::Unavailable(format!(
                "database file {} is not accessible: {e}",
                path.display()
            ))
        })?;
        if let Some(reader) = pooled {
            if reader.file == current {
                return Ok(reader);
            }
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| {
            InboxError::Unavailable(format!(
                "cannot open inbox database {}: {e}",
                path.display()
            ))
        })?;
        conn.busy_timeout(options.busy_timeout)?;
        conn.pragma_update(None, "query_only", true)?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(Reader {
            conn,
            file: current,
        })
    }
}

fn conversion_error(index: usize, err: InboxError) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(err))
}

/// Read an [`EventSummary`] from the first 15 columns ([`SUMMARY_COLUMNS`]).
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
        origin: Origin::parse(&origin).map_err(|e| conversion_error(13, e))?,
        body_len: u64::try_from(body_len).unwrap_or(0),
    })
}

/// Read a [`StoredEvent`]: [`SUMMARY_COLUMNS`] followed by the body
/// (`event_bodies.body`, see [`WITH_BODY`]).
pub(crate) fn stored_event(row: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    let summary = summary(row)?;
    let body: Vec<u8> = row.get(15)?;
    Ok(StoredEvent {
        summary,
        body: Bytes::from(body),
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
    now: i64,
) -> Result<Stored, InboxError> {
    let (state, error, origin) = match &event.state {
        NewState::Received => (State::Received, None, Origin::Webhook),
        NewState::Rejected { error } => (State::Rejected, Some(error.as_str()), Origin::Webhook),
        NewState::Trigger => (State::Trigger, None, Origin::Trigger),
        NewState::Unhandled { reason } => {
            (State::Unhandled, Some(reason.as_str()), Origin::Webhook)
        }
    };
    if let Some(message_id) = &event.message_id {
        let existing: Option<(i64, String)> = conn
            .prepare_cached("SELECT id, state FROM events WHERE message_id = ?1")?
            .query_row([message_id], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        if let Some((id, existing_state)) = existing {
            if existing_state == State::Rejected.as_str() && state != State::Rejected {
                // A valid copy of a message whose first copy was quarantined:
                // store it, keep the rejected bytes, hand over the message id
                // (three statements: all or nothing).
                conn.execute_batch("SAVEPOINT supersede")?;
                let result = supersede(conn, id, event, state, now);
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
    insert_new(conn, event, state, error, origin, now).map(Stored::New)
}

fn insert_new(
    conn: &Connection,
    event: &NewEvent,
    state: State,
    error: Option<&str>,
    origin: Origin,
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
            state,
            error,
            source: event.source.as_deref(),
            origin,
        },
        now,
    )
}

/// Store a valid `event` whose message id belongs to rejected event `old`.
fn supersede(
    conn: &Connection,
    old: i64,
    event: &NewEvent,
    state: State,
    now: i64,
) -> Result<Stored, InboxError> {
    conn.prepare_cached("UPDATE events SET message_id = NULL WHERE id = ?1")?
        .execute([old])?;
    let origin = if state == State::Trigger {
        Origin::Trigger
    } else {
        Origin::Webhook
    };
    let note = match &event.state {
        NewState::Unhandled { reason } => Some(reason.as_str()),
        _ => None,
    };
    let id = insert_new(conn, event, state, note, origin, now)?;
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
    pub(crate) state: State,
    pub(crate) error: Option<&'a str>,
    pub(crate) source: Option<&'a str>,
    pub(crate) origin: Origin,
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
    conn.prepare_cached(
        "INSERT INTO events (kind, event_name, object_id, message_id, content_type, body_len, state, error, \
         attempts, received_at, updated_at, next_attempt_at, source, origin) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?9, NULL, ?10, ?11)",
    )?
    .execute((
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
    ))?;
    let id = conn.last_insert_rowid();
    conn.prepare_cached("INSERT INTO event_bodies (event_id, body) VALUES (?1, ?2)")?
        .execute((id, row.body))?;
    Ok(id)
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
        params.push(Value::Text(object_id.clone()));
        sql.push_str(&format!(" AND object_id = ?{}", params.len()));
    }
    if let Some(before) = filter.before_id {
        params.push(Value::Integer(before));
        sql.push_str(&format!(" AND id < ?{}", params.len()));
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
        "SELECT {SUMMARY_COLUMNS}, b.body FROM {WITH_BODY} WHERE e.id = ?1"
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
    let state: State = state.parse()?;
    if !state.is_replayable() {
        return Err(InboxError::Invalid(format!(
            "event {id} is {state}: only rejected, dead or done events (and unhandled ones) can be replayed"
        )));
    }
    let next = if Origin::parse(&origin)? == Origin::Trigger {
        State::Trigger
    } else {
        State::Received
    };
    conn.prepare_cached(
        "UPDATE events SET state = ?2, error = NULL, attempts = 0, next_attempt_at = NULL, updated_at = ?3 \
         WHERE id = ?1",
    )?
    .execute((id, next.as_str(), now))?;
    Ok(())
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
             RETURNING id, body_len",
        )?
        .query_map([cutoff_ms, limit], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut delete_body = conn.prepare_cached("DELETE FROM event_bodies WHERE event_id = ?1")?;
    for (id, _) in &deleted {
        delete_body.execute([id])?;
    }
    Ok(Purged {
        events: deleted.len() as u64,
        body_bytes: deleted
            .iter()
            .map(|(_, n)| u64::try_from(*n).unwrap_or(0))
            .sum(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(conn: &Connection) -> Vec<String> {
        let mut shape: Vec<String> = conn
            .prepare(
                "SELECT m.name || ': ' || group_concat(c.name || ' ' || c.type || ' ' || c.\"notnull\" \
                 || ' ' || coalesce(c.dflt_value, '-') || ' ' || c.pk, ', ') \
                 FROM sqlite_master m, pragma_table_info(m.name) c WHERE m.type = 'table' \
                 GROUP BY m.name ORDER BY m.name",
            )
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let indexes: Vec<String> = conn
            .prepare(
                "SELECT name || ' ' || tbl_name || ' ' || replace(sql, 'IF NOT EXISTS ', '') \
                 FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
            )
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        shape.extend(indexes);
        shape
    }

    #[test]
    fn inbox_schema_migrated_from_version_1_is_the_fresh_schema() {
        let fresh = Connection::open_in_memory().unwrap();
        ensure_schema(&fresh).unwrap();

        let migrated = Connection::open_in_memory().unwrap();
        let v1 = format!(
            "{} {EVENTS_INDEXES} {HEALTH_TABLE} PRAGMA user_version = 1;",
            events_table("events").replace(
                "body_len        INTEGER NOT NULL,",
                "body            BLOB    NOT NULL,"
            )
        );
        migrated.execute_batch(&v1).unwrap();
        migrated
            .execute(
                "INSERT INTO events (kind, content_type, body, state, received_at, updated_at) \
                 VALUES ('order', 'application/json', x'00ff', 'received', 1, 1)",
                [],
            )
            .unwrap();
        ensure_schema(&migrated).unwrap();

        assert_eq!(shape(&fresh), shape(&migrated));
        let version: i64 = schema_version(&migrated).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let (len, body): (i64, Vec<u8>) = migrated
            .query_row(
                "SELECT body_len, body FROM events JOIN event_bodies ON event_id = id",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!((len, body), (2, vec![0, 0xff]));
    }

    #[test]
    fn inbox_ready_query_reads_bodies_by_key() {
        let conn = Connection::open_in_memory().unwrap();
        ensure_schema(&conn).unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!(
                "EXPLAIN QUERY PLAN SELECT {SUMMARY_COLUMNS}, b.body FROM {WITH_BODY} \
                 WHERE e.state IN ('received', 'trigger', 'retrying') ORDER BY e.id LIMIT 10"
            ))
            .unwrap()
            .query_map([], |row| row.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|step| step.contains("SEARCH b USING INTEGER PRIMARY KEY")),
            "{plan:?}"
        );
    }
}
