//! SQLite: opening, schema, and the statements behind the inbox operations.

use std::path::Path;

use percent_encoding::{percent_encode, AsciiSet, CONTROLS};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::queue::rebuild_heads;
use crate::inbox::keys;
use crate::inbox::options::Target;
use crate::inbox::{InboxError, InboxOptions};

/// Version of the schema below, kept in `PRAGMA user_version`.
///
/// 1: bodies in `events.body` (in the middle of the row).
/// 2: bodies in `event_bodies`, `events.body_len` (see [`migrate_v1_to_v2`]).
/// 3: the `heads` table of the work queue (see [`crate::inbox::queue`]).
/// 4: the indexes hold keys, not ids (`events.message_key`, unique per
///    kind of event, and `events.object_key`, see [`crate::inbox::keys`]);
///    `heads.object_key`; `inbox_meta` (see [`migrate_v3_to_v4`]).
/// 5: `events.trace_parent` (see [`migrate_v4_to_v5`]).
/// 6: `events_object`, every event by object key and id (see [`migrate_v5_to_v6`]).
/// 7: `event_attempts`, every processing attempt (see [`migrate_v6_to_v7`]).
/// 8: `event_bodies.headers`, the request's headers (see [`migrate_v7_to_v8`]).
/// 9: `event_bodies.codec`, bodies stored compressed (see [`migrate_v8_to_v9`]).
/// 10: `heads.active_from` instead of the partial index `events_active_object`
///     (see [`migrate_v9_to_v10`]).
/// 11: `po_objects` instead of the index `events_po` (see [`migrate_v10_to_v11`]).
pub(crate) const SCHEMA_VERSION: i64 = 11;

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

/// The indexes on `events` of version 3 (versions 1 and 2 also had
/// `events_pending`; version 4 replaces the first and the last, see
/// [`migrate_v3_to_v4`]).
const EVENTS_INDEXES: &str = "
CREATE UNIQUE INDEX IF NOT EXISTS events_message_id ON events (message_id);
CREATE INDEX IF NOT EXISTS events_state ON events (state, id);
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

/// The head of each object's queue (see [`crate::inbox::queue`]), version 3.
const HEADS_TABLE_V3: &str = "
CREATE TABLE heads (
    key       TEXT    PRIMARY KEY,
    object_id TEXT,
    event_id  INTEGER NOT NULL,
    due_at    INTEGER NOT NULL,
    owner     TEXT
) WITHOUT ROWID;
CREATE INDEX heads_due ON heads (due_at);
";

/// Version 4: keys in the indexes, `heads` keyed by object key, and
/// `inbox_meta` (today only the mark of an unfinished `inbox migrate`
/// into this inbox, see [`crate::inbox::Inbox::copy_to`]).
const V4: &str = "
DROP INDEX IF EXISTS events_message_id;
DROP INDEX IF EXISTS events_active_object;
CREATE UNIQUE INDEX events_message_key ON events (message_key);
CREATE INDEX events_active_object ON events (object_key, id)
    WHERE state IN ('received', 'trigger', 'processing', 'retrying');
DROP TABLE heads;
CREATE TABLE heads (
    key        TEXT    PRIMARY KEY,
    object_key TEXT,
    event_id   INTEGER NOT NULL,
    due_at     INTEGER NOT NULL,
    owner      TEXT
) WITHOUT ROWID;
CREATE INDEX heads_due ON heads (due_at);
CREATE TABLE inbox_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";

/// Kept for files of earlier versions; nothing writes it any more.
const HEALTH_TABLE: &str = "
CREATE TABLE IF NOT EXISTS inbox_health (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL
);
INSERT OR IGNORE INTO inbox_health (id, checked_at) VALUES (1, 0);
";

/// `events` (as `e`) joined with their bodies (as `b`): select
/// [`SUMMARY_COLUMNS`]`, `[`BODY_COLUMNS`] from it for
/// [`stored_event`](super::rows::stored_event).
pub(crate) const WITH_BODY: &str = "events e JOIN event_bodies b ON b.event_id = e.id";

/// The columns of a body after the [`SUMMARY_COLUMNS`], in the order
/// [`stored_event`](super::rows::stored_event) reads them: the stored bytes, the request's headers,
/// how the bytes are stored ([`super::codec`]).
pub(crate) const BODY_COLUMNS: &str = "b.body, b.headers, b.codec";

/// The columns of an [`EventSummary`](crate::inbox::EventSummary), in the
/// order [`summary`](super::rows::summary) reads them
/// (none of them reads a body).
pub(crate) const SUMMARY_COLUMNS: &str =
    "id, kind, event_name, object_id, message_id, content_type, state, \
     error, attempts, received_at, updated_at, next_attempt_at, source, origin, body_len, trace_parent";

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

/// Why the database file of an open inbox cannot be reached ([`file_id`]
/// failed with `error`), and what to do: a file deleted or moved while the
/// receiver runs is not created again (that would answer 2xx into a new,
/// empty inbox while the old one's events are missing), so the operator
/// puts it back or restarts.
pub(crate) fn not_accessible(path: &Path, error: &std::io::Error) -> InboxError {
    if error.kind() == std::io::ErrorKind::NotFound {
        InboxError::Unavailable(format!(
            "the inbox database {} is gone (deleted or moved while in use): webhooks are \
             answered 503 until it is back; put the file back where it was (it is used again at \
             once), or restart the receiver to start a new, empty inbox there",
            path.display()
        ))
    } else {
        InboxError::Unavailable(format!(
            "the inbox database {} cannot be reached ({error}): webhooks are answered 503 until \
             it can; let the user running tradecloud read and write it and its directory",
            path.display()
        ))
    }
}

/// The write-ahead log next to the database file (`PATH-wal`).
pub(crate) fn wal_path(path: &Path) -> std::path::PathBuf {
    beside(path, "-wal")
}

/// The file SQLite keeps beside the database `path`, named with `suffix`
/// (`-wal`, `-shm`).
fn beside(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// Identity of the write-ahead log next to `path`, `None` while there is
/// none.
pub(crate) fn wal_id(path: &Path) -> Option<FileId> {
    file_id(&wal_path(path)).ok()
}

/// Copy every committed frame of the connection's write-ahead log into the
/// database file and sync it (`wal_checkpoint(TRUNCATE)`, waiting for
/// readers as long as the busy timeout): afterwards the database file holds
/// everything committed, whatever becomes of the log.
pub(crate) fn checkpoint_all(conn: &Connection) -> Result<(), InboxError> {
    let (busy, log, copied): (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .map_err(unavailable)?;
    if busy != 0 || log != copied {
        return Err(InboxError::Unavailable(format!(
            "the write-ahead log could not be copied into the database file ({copied} of {log} \
             frames; readers kept it busy)"
        )));
    }
    Ok(())
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
                return Err(no_inbox_at(path));
            }
            let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            if options.create {
                flags |= OpenFlags::SQLITE_OPEN_CREATE;
            }
            let conn = Connection::open_with_flags(path, flags).map_err(|e| {
                // A new file on a read-only mount: SQLite says only "unable
                // to open database file".
                if let Some(read_only) = read_only_file_system(path) {
                    return InboxError::Unavailable(read_only);
                }
                InboxError::Unavailable(format!(
                    "cannot open inbox database {}: {e}",
                    path.display()
                ))
            })?;
            setup_writer(&conn, options, true).map_err(|e| directory_hint(path, e))?;
            if !existed {
                // Make the new file's directory entry durable too.
                sync_parent_dir(path);
            }
            Ok(conn)
        }
    }
}

/// There is no database file at `path`, and none is to be created.
pub(crate) fn no_inbox_at(path: &Path) -> InboxError {
    InboxError::Invalid(format!("no inbox database at {}", path.display()))
}

/// Reopen the write connection to an existing file (never creating one: a
/// file that vanished is `Unavailable` until it is back).
pub(crate) fn open_existing_writer(
    path: &Path,
    options: &InboxOptions,
) -> Result<Connection, InboxError> {
    let conn = open_existing(path)?;
    setup_writer(&conn, options, true).map_err(|e| directory_hint(path, e))?;
    Ok(conn)
}

/// A database file this user may write in a directory it may not: SQLite
/// says only "attempt to write a readonly database" (it cannot create the
/// `-wal` and `-shm` files), so say which directory and what to do.
fn directory_hint(path: &Path, err: InboxError) -> InboxError {
    let InboxError::Unavailable(message) = err else {
        return err;
    };
    let dir = directory_of(path);
    // `access` fails on a read-only mount too, whoever the user is: the
    // message already says that (see [`check_writable`]).
    #[cfg(unix)]
    if read_only_file_system(path).is_none()
        && rustix::fs::access(dir, rustix::fs::Access::WRITE_OK).is_err()
    {
        return InboxError::Unavailable(format!(
            "{message}: the directory {} is not writable by this user, and SQLite keeps the \
             inbox's -wal and -shm files next to the database: let the user running tradecloud \
             write that directory",
            dir.display()
        ));
    }
    InboxError::Unavailable(message)
}

/// Open an existing database file for reading and writing.
fn open_existing(path: &Path) -> Result<Connection, InboxError> {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| {
        InboxError::Unavailable(format!(
            "cannot open inbox database {}: {e}",
            path.display()
        ))
    })
}

/// Open an existing inbox for reading only (`inbox list`, `show`, `dead`):
/// nothing is created or written, so it works where the file cannot be
/// written. A WAL database opened read-only needs its `-shm` file, which
/// SQLite cannot create on a read-only file system: there, an inbox whose
/// `-wal` holds nothing (the receiver stopped cleanly, or checkpointed) is
/// read as `immutable` (nothing can change it meanwhile); one whose `-wal`
/// holds events but has no `-shm` cannot be read, and the error says so.
pub(crate) fn open_read_only(path: &Path) -> Result<Connection, InboxError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let wal_len = std::fs::metadata(wal_path(path)).map_or(0, |m| m.len());
    let read_only_fs = read_only_file_system(path).is_some();
    if read_only_fs && wal_len > 0 && !beside(path, "-shm").exists() {
        return Err(InboxError::Unavailable(format!(
            "the inbox database {} is on a read-only file system and its write-ahead log ({}, \
             {wal_len} bytes) holds changes not yet in the database file, but its -shm file is \
             missing, which SQLite needs to read them and cannot create there: remount the file \
             system read-write once (`mount -o remount,rw`) and run the command again, or copy \
             the database with its -wal file to a writable disk and give that copy (--store)",
            path.display(),
            wal_path(path).display()
        )));
    }
    let immutable = if read_only_fs && wal_len == 0 {
        "?immutable=1"
    } else {
        ""
    };
    let uri = format!("{}{immutable}", file_uri(path));
    Connection::open_with_flags(&uri, flags).map_err(|e| {
        InboxError::Unavailable(format!(
            "cannot open inbox database {} for reading: {e}",
            path.display()
        ))
    })
}

/// What the path of a `file:` URI escapes (SQLite's URI filenames,
/// <https://www.sqlite.org/uri.html>): `%`, which starts an escape (`%HH`),
/// `?`, which starts the query, `#`, which starts the fragment, and control
/// characters. `percent_encode` escapes every byte outside ASCII too, which
/// SQLite decodes back into the same bytes; everything else (a space, `&`,
/// `=`) means itself in the path.
const URI_PATH: &AsciiSet = &CONTROLS.add(b'%').add(b'?').add(b'#');

/// `path` as a `file:` URI naming exactly that file, byte for byte. An
/// absolute path gets the empty authority (`file:///...`): after a bare
/// `file:`, a path starting with `//` would be read as an authority.
fn file_uri(path: &Path) -> String {
    #[cfg(unix)]
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str());
    #[cfg(not(unix))]
    let lossy = path.to_string_lossy();
    #[cfg(not(unix))]
    let bytes = lossy.as_bytes();
    let escaped = percent_encode(bytes, URI_PATH);
    if bytes.first() == Some(&b'/') {
        format!("file://{escaped}")
    } else {
        format!("file:{escaped}")
    }
}

fn sync_parent_dir(path: &Path) {
    if let Ok(dir) = std::fs::File::open(directory_of(path)) {
        let _ = dir.sync_all();
    }
}

/// The directory holding the database file `path` (`.` for a bare name).
pub(crate) fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Why the inbox at `path` cannot be written when the file system holding
/// it is read-only, `None` otherwise: mounted read-only by an operator
/// (`statvfs` says so), or made read-only by the kernel after an I/O error
/// (ext4's `errors=remount-ro`: the mount still reads `rw`, but opening the
/// file for writing fails with `EROFS`). SQLite says only "unable to open
/// database file" or opens the file read-only, and the user's permissions
/// are not what to change then.
pub(crate) fn read_only_file_system(path: &Path) -> Option<String> {
    let dir = directory_of(path);
    #[cfg(unix)]
    {
        let mounted = rustix::fs::statvfs(dir)
            .is_ok_and(|stat| stat.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY));
        // Opened for writing, never created or truncated: nothing changes.
        let refused = || {
            std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .is_err_and(|e| e.raw_os_error() == Some(rustix::io::Errno::ROFS.raw_os_error()))
        };
        if mounted || refused() {
            return Some(format!(
                "the inbox database {} is on a read-only file system ({} cannot be written: \
                 mounted read-only, or made so by the kernel after an I/O error, see `dmesg`): \
                 remount it read-write (`mount -o remount,rw`; after an I/O error, check the \
                 disk and its file system first) or give an inbox on a writable disk \
                 ([store] url)",
                path.display(),
                dir.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    None
}

/// `Unavailable` when `conn` cannot write its database: SQLite opens a file
/// this process may not write (its mode, its owner, a read-only mount)
/// read-only without a word, and every write then fails.
pub(crate) fn check_writable(conn: &Connection) -> Result<(), InboxError> {
    if conn.is_readonly(rusqlite::MAIN_DB)? {
        let path = conn.path().unwrap_or("(in memory)");
        if let Some(read_only) = read_only_file_system(Path::new(path)) {
            return Err(InboxError::Unavailable(read_only));
        }
        return Err(InboxError::Unavailable(format!(
            "the inbox database {path} is read-only for this process (the file's mode or owner, or a \
             read-only file system): let the user running tradecloud write the file and its directory"
        )));
    }
    Ok(())
}

fn setup_writer(conn: &Connection, options: &InboxOptions, file: bool) -> Result<(), InboxError> {
    check_writable(conn)?;
    conn.busy_timeout(options.busy_timeout)?;
    if file {
        // Before anything is written (WAL mode writes the file's header).
        refuse_foreign(conn, options.create)?;
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
    super::codec::register(conn)?;
    ensure_schema(conn)
}

/// A file without the inbox's schema: another program's SQLite database is
/// never given the inbox's tables, and an empty file only by the receiver
/// (`create`), not by a command that reads an inbox (`inbox list` on a wrong
/// path would otherwise answer "empty" and leave tables behind).
fn refuse_foreign(conn: &Connection, create: bool) -> Result<(), InboxError> {
    if schema_version(conn)? != 0 {
        return Ok(());
    }
    let path = conn.path().unwrap_or("(in memory)").to_string();
    let mut names = conn.prepare(
        "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite%' ORDER BY name LIMIT 4",
    )?;
    let names: Vec<String> = names
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    if !names.is_empty() {
        return Err(InboxError::Invalid(format!(
            "{path} is not a tradecloud inbox: it is a SQLite database with other tables ({}{}) and \
             no inbox schema; give the path of the receiver's inbox (its [store] url)",
            names.iter().take(3).cloned().collect::<Vec<_>>().join(", "),
            if names.len() > 3 { ", ..." } else { "" }
        )));
    }
    if !create {
        return Err(InboxError::Invalid(format!(
            "{path} is not a tradecloud inbox: the file is empty (the receiver creates its inbox at \
             its first start); give the path of the receiver's inbox (its [store] url)"
        )));
    }
    Ok(())
}

/// What opening for writing checks of an inbox, for one opened read-only
/// ([`open_read_only`]): an inbox, with a schema this build reads as it is
/// (an older one is upgraded only by opening it for writing).
pub(crate) fn check_readable(conn: &Connection) -> Result<(), InboxError> {
    refuse_foreign(conn, false)?;
    let version = schema_version(conn)?;
    check_known(version)?;
    if version < SCHEMA_VERSION {
        return Err(InboxError::Invalid(format!(
            "the inbox database {} has schema version {version}, older than this build's \
             ({SCHEMA_VERSION}), and a command that only reads does not upgrade it: start \
             `tradecloud serve` on it once where it can be written (which upgrades it), or use \
             the tradecloud that wrote it",
            conn.path().unwrap_or("(in memory)")
        )));
    }
    Ok(())
}

pub(super) fn ensure_schema(conn: &Connection) -> Result<(), InboxError> {
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
    // A new file starts at version 3, then takes the same steps as an
    // existing one: a new file and a migrated one have the same schema.
    let first_step = match version {
        0 => {
            conn.execute_batch(&events_table("events"))?;
            conn.execute_batch(EVENTS_INDEXES)?;
            conn.execute_batch(BODIES_TABLE)?;
            conn.execute_batch(HEALTH_TABLE)?;
            conn.execute_batch(HEADS_TABLE_V3)?;
            3
        }
        v if v >= SCHEMA_VERSION => return Ok(()),
        v => v,
    };
    let first = usize::try_from(first_step - 1).unwrap_or(0);
    for step in MIGRATIONS.get(first..).unwrap_or_default() {
        step(conn)?;
    }
    conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    Ok(())
}

/// One step of [`MIGRATIONS`], run in the caller's transaction.
type Migration = fn(&Connection) -> Result<(), InboxError>;

/// The migrations in order: entry `n - 1` takes version `n` to `n + 1`.
const MIGRATIONS: [Migration; (SCHEMA_VERSION - 1) as usize] = [
    migrate_v1_to_v2,
    migrate_v2_to_v3,
    migrate_v3_to_v4,
    migrate_v4_to_v5,
    migrate_v5_to_v6,
    migrate_v6_to_v7,
    migrate_v7_to_v8,
    migrate_v8_to_v9,
    migrate_v9_to_v10,
    migrate_v10_to_v11,
];

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

/// Version 2 to 3: the `heads` table, built from the events still to
/// handle (the oldest per object; a claim left by a crash is dropped, so
/// its event is claimed again). Runs in the caller's transaction.
fn migrate_v2_to_v3(conn: &Connection) -> Result<(), InboxError> {
    // The queue is found through `heads` now; the index of pending events
    // only cost a write per state change.
    conn.execute_batch("DROP INDEX IF EXISTS events_pending;")?;
    conn.execute_batch(HEADS_TABLE_V3)?;
    // Built with the keys of version 4, which always follows.
    Ok(())
}

/// Version 3 to 4: the keys of [`crate::inbox::keys`] beside the ids, in
/// the indexes instead of them (an id with NUL, or megabytes long, is kept
/// apart from every other and fits an index), the message key unique per
/// kind of event; `heads` rebuilt on object keys (a claim left by a crash
/// is dropped, so its event is claimed again); `inbox_meta`. Every row is
/// kept; the keys are computed here, in Rust, exactly as new events get
/// them. Runs in the caller's transaction.
fn migrate_v3_to_v4(conn: &Connection) -> Result<(), InboxError> {
    conn.execute_batch(
        "ALTER TABLE events ADD COLUMN message_key TEXT; ALTER TABLE events ADD COLUMN object_key TEXT;",
    )?;
    let mut after = 0i64;
    loop {
        let rows: Vec<(i64, String, Option<String>, Option<String>)> = conn
            .prepare_cached(
                "SELECT id, kind, message_id, object_id FROM events WHERE id > ?1 \
                 AND (message_id IS NOT NULL OR object_id IS NOT NULL) ORDER BY id LIMIT 1000",
            )?
            .query_map([after], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })?
            .collect::<Result<_, _>>()?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        let mut update = conn
            .prepare_cached("UPDATE events SET message_key = ?2, object_key = ?3 WHERE id = ?1")?;
        for (id, kind, message_id, object_id) in &rows {
            update.execute((
                id,
                message_id.as_deref().map(|m| keys::message_key(kind, m)),
                object_id.as_deref().map(keys::object_key),
            ))?;
        }
    }
    conn.execute_batch(V4)?;
    rebuild_heads(conn)
}

/// Version 4 to 5: the W3C `traceparent` of the span that stored an event
/// (NULL for older events and without traces), so that handling it joins
/// the receiving trace ([`crate::telemetry`]). Adding a column without a
/// default rewrites nothing: instant at any size. Runs in the caller's
/// transaction.
fn migrate_v4_to_v5(conn: &Connection) -> Result<(), InboxError> {
    conn.execute_batch("ALTER TABLE events ADD COLUMN trace_parent TEXT;")?;
    Ok(())
}

/// Version 5 to 6: an index of every event by object key and id, so that
/// the events of one order or shipment are found (and paged, newest first)
/// without walking the others: the operator's console (`/events?object=`,
/// a search, an order's timeline) and `tradecloud inbox list --object`. The
/// partial `events_active_object` covers only events still to be handled.
/// Building it reads the table once (seconds for a million events), in the
/// caller's transaction.
///
/// Also `po_key`, the key of the purchase order number a body names
/// ([`keys::po_key`]), stored at insert and indexed (`events_po`) so that
/// the console's search finds a purchase order's events without reading
/// bodies; filled here for the events already stored (reading every body
/// once).
fn migrate_v5_to_v6(conn: &Connection) -> Result<(), InboxError> {
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS events_object ON events (object_key, id); \
         ALTER TABLE events ADD COLUMN po_key TEXT;",
    )?;
    {
        let mut read = conn.prepare("SELECT event_id, body FROM event_bodies")?;
        let mut write = conn.prepare("UPDATE events SET po_key = ?2 WHERE id = ?1")?;
        let mut rows = read.query([])?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let body: Vec<u8> = row.get(1)?;
            if let Some(key) = keys::po_key(&body) {
                write.execute(rusqlite::params![id, key])?;
            }
        }
    }
    conn.execute_batch("CREATE INDEX IF NOT EXISTS events_po ON events (po_key, id);")?;
    Ok(())
}

/// Version 6 to 7: `event_attempts`, one row per processing attempt of
/// an event (see [`crate::inbox::Attempt`]): when it was claimed and
/// finished (milliseconds), the processor, the outcome and the error. Events
/// handled before have none. A new table: instant at any size. Runs in the
/// caller's transaction.
fn migrate_v6_to_v7(conn: &Connection) -> Result<(), InboxError> {
    conn.execute_batch(
        "CREATE TABLE event_attempts (
    id          INTEGER PRIMARY KEY,
    event_id    INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    instance    TEXT,
    outcome     TEXT    NOT NULL,
    error       TEXT
);
CREATE INDEX event_attempts_event ON event_attempts (event_id, id);",
    )?;
    Ok(())
}

/// Version 7 to 8: `event_bodies.headers`, the request's headers as a JSON
/// array of `[name, value]` pairs, credentials redacted
/// ([`crate::inbox::NewEvent::with_headers`]); NULL for events stored
/// before. Adding a nullable column rewrites nothing: instant at any size.
/// Runs in the caller's transaction.
fn migrate_v7_to_v8(conn: &Connection) -> Result<(), InboxError> {
    conn.execute_batch("ALTER TABLE event_bodies ADD COLUMN headers TEXT;")?;
    Ok(())
}

/// Version 8 to 9: `event_bodies.codec`, how `body` is stored: NULL as
/// received (every body stored before), `'lz4'` compressed (see
/// [`super::codec`]). Adding a nullable column rewrites nothing: instant at
/// any size; the bodies already stored stay as they are. Runs in the
/// caller's transaction. Versions before this one refuse a file at version
/// 9, so no older build reads a compressed body as if it were the body.
fn migrate_v8_to_v9(conn: &Connection) -> Result<(), InboxError> {
    conn.execute_batch("ALTER TABLE event_bodies ADD COLUMN codec TEXT;")?;
    Ok(())
}

/// Version 9 to 10: `heads.active_from`, an id below which the head's
/// object has no active event, replaces the partial index
/// `events_active_object`. The queue finds an object's oldest active event
/// by walking `events_object` (object key, id) from `active_from` on, which
/// in the usual case starts at that event; the partial index cost every
/// event a leaf page written when it was stored and another when it was
/// done (9 % of the receiver's CPU per event with `--receive-only`,
/// BENCHMARKS.md). The column is filled here from the partial index, before
/// it is dropped: the oldest active event of each object (an event replayed
/// while its object had a head can be older than the head's event). Runs in
/// the caller's transaction; reads each head's object once.
fn migrate_v9_to_v10(conn: &Connection) -> Result<(), InboxError> {
    conn.execute_batch(
        "ALTER TABLE heads ADD COLUMN active_from INTEGER NOT NULL DEFAULT 0;
         UPDATE heads SET active_from = CASE WHEN object_key IS NULL THEN event_id ELSE
             coalesce((SELECT min(id) FROM events INDEXED BY events_active_object
                 WHERE events.object_key = heads.object_key
                 AND state IN ('received', 'trigger', 'processing', 'retrying')), event_id)
             END;
         DROP INDEX events_active_object;",
    )?;
    Ok(())
}

/// Version 10 to 11: `po_objects`, each pair of an order or shipment (its
/// object key) and a purchase order number (its key) that one of its
/// events names, replaces the index `events_po` (po_key, id); events
/// without an object key keep a partial index of their own
/// (`events_po_alone`). An order's events name the same purchase order
/// number, so storing an event writes a pair only for an order's first
/// event: `events_po` cost every event a leaf page of its own. A search
/// by purchase order number finds the pairs, then the events of those
/// objects by `events_object` (see `rows::list`). Filled from the events
/// here, in the caller's transaction (one read of the table).
fn migrate_v10_to_v11(conn: &Connection) -> Result<(), InboxError> {
    conn.execute_batch(PO_OBJECTS)?;
    conn.execute_batch(
        "INSERT OR IGNORE INTO po_objects (object_key, po_key)
             SELECT object_key, po_key FROM events
             WHERE object_key IS NOT NULL AND po_key IS NOT NULL;
         DROP INDEX events_po;",
    )?;
    Ok(())
}

/// The table and indexes of version 11 that find events by purchase order
/// number (see [`migrate_v10_to_v11`]).
const PO_OBJECTS: &str = "
CREATE TABLE po_objects (
    object_key TEXT NOT NULL,
    po_key     TEXT NOT NULL,
    PRIMARY KEY (object_key, po_key)
) WITHOUT ROWID;
CREATE INDEX po_objects_po ON po_objects (po_key, object_key);
CREATE INDEX events_po_alone ON events (po_key, id)
    WHERE object_key IS NULL AND po_key IS NOT NULL;
";

/// A pooled read connection with the identity of the files it was opened
/// on: the database file and its write-ahead log (a connection that reads a
/// log deleted or replaced under it reads frames nobody writes any more).
pub(crate) struct Reader {
    pub(crate) conn: Connection,
    file: FileId,
    wal: Option<FileId>,
}

impl Reader {
    /// Reuse `pooled` if it still reads the current file, else open a new one.
    pub(crate) fn checkout(
        pooled: Option<Reader>,
        path: &Path,
        options: &InboxOptions,
        read_only: bool,
    ) -> Result<Reader, InboxError> {
        let current = file_id(path).map_err(|e| not_accessible(path, &e))?;
        let wal = wal_id(path);
        if let Some(reader) = pooled {
            if reader.file == current && reader.wal == wal {
                return Ok(reader);
            }
        }
        let conn = if read_only {
            open_read_only(path)?
        } else {
            open_existing(path)?
        };
        conn.busy_timeout(options.busy_timeout)?;
        conn.pragma_update(None, "query_only", true)?;
        conn.set_prepared_statement_cache_capacity(32);
        super::codec::register(&conn)?;
        Ok(Reader {
            conn,
            file: current,
            wal,
        })
    }
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
