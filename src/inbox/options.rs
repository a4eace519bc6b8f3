//! Store URLs and tuning: [`InboxOptions`], and which store a URL names.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::InboxError;

/// The store URL used when none is configured.
pub const DEFAULT_STORE_URL: &str = "sqlite://tradecloud-inbox.db";

/// Tuning of an [`Inbox`](super::Inbox); [`Inbox::open`](super::Inbox::open) uses the defaults.
#[derive(Debug, Clone)]
pub struct InboxOptions {
    /// Events waiting for the writer before `store` answers `Overloaded` (default 4096).
    pub queue_capacity: usize,
    /// Body bytes waiting for the writer before `store` answers `Overloaded`
    /// (default 256 MiB; one event is always accepted into an empty queue).
    pub queue_bytes: usize,
    /// Most events committed in one transaction (default 1024).
    pub max_batch: usize,
    /// How long to wait for a lock held by another process before giving up
    /// with `Unavailable` (default 5 s).
    pub busy_timeout: Duration,
    /// Create the database file if it does not exist (default true; the CLI
    /// sets false so that a wrong path is an error, not a new empty inbox).
    /// PostgreSQL: the database must exist; its tables are created.
    pub create: bool,
    /// PostgreSQL: connections in the pool (default 8).
    pub pool_size: usize,
    /// SQLite: below this much free space on the disk holding the database
    /// (default 64 MiB) the receiver warns, in its log and in `/readyz`'s
    /// answer, which stays `200` while events can be stored
    /// ([`Inbox::low_space`](crate::inbox::Inbox::low_space)).
    pub min_free_bytes: u64,
}

impl Default for InboxOptions {
    fn default() -> Self {
        InboxOptions {
            queue_capacity: 4096,
            queue_bytes: 256 << 20,
            max_batch: 1024,
            busy_timeout: Duration::from_secs(5),
            create: true,
            pool_size: 8,
            min_free_bytes: 64 << 20,
        }
    }
}

/// Where a SQLite database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Memory,
    File(PathBuf),
}

/// Which store a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreUrl {
    /// `sqlite://PATH`, `sqlite:PATH`, `sqlite::memory:`.
    Sqlite(Target),
    /// `postgres://...` or `postgresql://...`, without this crate's own
    /// options (those are taken out of the query into [`InboxOptions`]).
    Postgres(String),
}

impl StoreUrl {
    /// Whether the URL names a PostgreSQL database.
    pub(crate) fn is_postgres(url: &str) -> bool {
        let url = url.trim();
        url.starts_with("postgres://") || url.starts_with("postgresql://")
    }
}

/// The options of this crate that a store URL's query may set.
const KNOWN: &str = "busy_timeout_ms, queue_capacity, queue_bytes, max_batch, pool_size";

/// Parse a store URL: `sqlite://PATH` (relative, or `sqlite:///abs/path.db`),
/// `sqlite:PATH`, `sqlite::memory:` (a private in-memory database, for
/// tests), or `postgres://user:password@host:port/database`, optionally
/// followed by `?key=value&...` with the [`InboxOptions`]
/// `busy_timeout_ms`, `queue_capacity`, `queue_bytes`, `max_batch` and
/// `pool_size`. A PostgreSQL URL keeps its other query parameters (e.g.
/// `connect_timeout=5`, `application_name=...`) for the driver.
pub(crate) fn parse_url(url: &str, options: &mut InboxOptions) -> Result<StoreUrl, InboxError> {
    let url = url.trim();
    let postgres = StoreUrl::is_postgres(url);
    let rest = if postgres {
        url
    } else {
        url.strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                InboxError::Invalid(format!(
                    "unsupported store URL {:?}: expected sqlite://PATH (e.g. {DEFAULT_STORE_URL}), sqlite::memory: or postgres://USER@HOST:PORT/DATABASE",
                    redact(url)
                ))
            })?
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut passed_on: Vec<&str> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let number = |what: &str| {
            value.parse::<u64>().map_err(|_| {
                InboxError::Invalid(format!(
                    "store URL {:?}: {what} must be a whole number, not {value:?}",
                    redact(url)
                ))
            })
        };
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        match key {
            "busy_timeout_ms" => options.busy_timeout = Duration::from_millis(number(key)?),
            "queue_capacity" => options.queue_capacity = size(number(key)?).max(1),
            "queue_bytes" => options.queue_bytes = size(number(key)?),
            "max_batch" => options.max_batch = size(number(key)?).max(1),
            "pool_size" => options.pool_size = size(number(key)?).max(1),
            _ if postgres => passed_on.push(pair),
            other => {
                return Err(InboxError::Invalid(format!(
                    "store URL {:?}: unknown option {other:?} (known: {KNOWN})",
                    redact(url)
                )))
            }
        }
    }
    if postgres {
        let mut url = path.to_string();
        if !passed_on.is_empty() {
            url.push('?');
            url.push_str(&passed_on.join("&"));
        }
        return Ok(StoreUrl::Postgres(url));
    }
    if path == ":memory:" {
        return Ok(StoreUrl::Sqlite(Target::Memory));
    }
    if path.is_empty() {
        return Err(InboxError::Invalid(format!(
            "store URL {url:?} names no database file"
        )));
    }
    Ok(StoreUrl::Sqlite(Target::File(PathBuf::from(path))))
}

/// Whether a store URL names a private in-memory SQLite database
/// (`sqlite::memory:`, `sqlite://:memory:`, with or without options): for
/// tests only, everything in it is lost when the process ends.
pub fn is_memory_url(url: &str) -> bool {
    matches!(
        parse_url(url, &mut InboxOptions::default()),
        Ok(StoreUrl::Sqlite(Target::Memory))
    )
}

/// A store URL fit for logs and error messages: the password of a
/// `postgres://user:password@host` URL, and a `password=` (or
/// `sslpassword=`) in its query, replaced by `***`.
pub fn redact(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
                None => base.to_string(),
            },
            None => base.to_string(),
        },
        None => base.to_string(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key == "password" || key == "sslpassword" => format!("{key}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// A time in milliseconds since the epoch as a UTC date-time.
pub(crate) fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_every_password() {
        assert_eq!(
            redact("postgres://tc:s3cret@db:5432/inbox"),
            "postgres://tc:***@db:5432/inbox"
        );
        assert_eq!(
            redact("postgres://tc:p@ss@db/inbox?connect_timeout=5"),
            "postgres://tc:***@db/inbox?connect_timeout=5"
        );
        assert_eq!(
            redact("postgresql://db/inbox?user=tc&password=s3cret&sslpassword=x"),
            "postgresql://db/inbox?user=tc&password=***&sslpassword=***"
        );
        assert_eq!(redact("sqlite://inbox.db"), "sqlite://inbox.db");
    }

    #[test]
    fn memory_urls_are_recognised() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite::memory:?busy_timeout_ms=5",
            " sqlite::memory: ",
        ] {
            assert!(is_memory_url(url), "{url}");
        }
        for url in ["sqlite://inbox.db", "postgres://db/x", "nonsense"] {
            assert!(!is_memory_url(url), "{url}");
        }
    }
}
