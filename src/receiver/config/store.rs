//! `[store]`: the durable inbox.

use serde::{Deserialize, Serialize};

use super::{ConfigError, DEFAULT_STORE_URL};

/// `[store]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// The inbox database: `sqlite://PATH` (the default), or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` for several receivers on
    /// one database (also `TRADECLOUD_STORE_URL`); tuning options in its
    /// query: `?busy_timeout_ms=2000&queue_capacity=8192&pool_size=16`, see
    /// [`crate::inbox::InboxOptions`].
    pub url: String,
    /// Delete `done` events this many days after they were handled (checked
    /// at start and every hour). Unset or 0: keep every event (the default:
    /// the inbox is the record of what Tradecloud sent). Events still to be
    /// handled, `dead`, `rejected` and `unhandled` ones are never deleted.
    pub retention_days: Option<u64>,
}

impl StoreConfig {
    /// What serving needs of `[store]`: an inbox that outlives the process.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if crate::inbox::is_memory_url(&self.url) {
            return Err(ConfigError::setting(format!(
                "store.url = {:?} keeps the inbox in memory: every event acknowledged to Tradecloud \
                 would be lost when the receiver stops. Use a file (sqlite://PATH, the default is {}) \
                 or postgres://...; an in-memory inbox is for tests only (Inbox::open(\"sqlite::memory:\") \
                 given to ReceiverBuilder::inbox)",
                self.url,
                DEFAULT_STORE_URL
            )));
        }
        Ok(())
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: DEFAULT_STORE_URL.into(),
            retention_days: None,
        }
    }
}
