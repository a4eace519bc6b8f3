//! A store that could not be opened yet ([`Inbox::connect_retrying`]): it
//! keeps trying in the background, with a backoff from one second up to
//! [`MAX_DELAY`], and answers every operation with
//! [`InboxError::Unavailable`] saying why until it is open; from then on it
//! hands every operation to the store it opened.
//!
//! [`Inbox::connect_retrying`]: super::Inbox::connect_retrying

use crate::inbox::Derived;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use super::queue::{ClaimRequest, Claimed, FinishReport, RunOutcome};
use super::{
    Backlog, BoxFuture, EventSummary, Exported, Fingerprint, InboxError, ListFilter, NewEvent,
    Purged, State, Store, Stored, StoredEvent,
};

/// The longest wait between two attempts.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(30);

pub(crate) struct Deferred {
    describe: String,
    path: Option<PathBuf>,
    changed: Arc<Notify>,
    open: OnceLock<Arc<dyn Store>>,
    /// Why the last attempt failed.
    failure: Mutex<InboxError>,
}

impl Deferred {
    /// A store of `url` that failed to open with `failure`; `open` is
    /// tried again in the background until it succeeds.
    pub(crate) fn start<F, Fut>(
        describe: String,
        path: Option<PathBuf>,
        changed: Arc<Notify>,
        failure: InboxError,
        open: F,
    ) -> Arc<Deferred>
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<Arc<dyn Store>, InboxError>> + Send + 'static,
    {
        let deferred = Arc::new(Deferred {
            describe,
            path,
            changed,
            open: OnceLock::new(),
            failure: Mutex::new(failure),
        });
        tokio::spawn(retry(Arc::downgrade(&deferred), open));
        deferred
    }

    fn failure(&self) -> InboxError {
        let failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        let why = match &*failure {
            InboxError::Unavailable(message) => message.clone(),
            other => other.to_string(),
        };
        InboxError::Unavailable(format!(
            "the inbox store could not be opened yet (trying again in the background): {why}"
        ))
    }

    fn get(&self) -> Result<&Arc<dyn Store>, InboxError> {
        self.open.get().ok_or_else(|| self.failure())
    }
}

async fn retry<F, Fut>(deferred: Weak<Deferred>, open: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Arc<dyn Store>, InboxError>> + Send + 'static,
{
    let mut delay = Duration::from_secs(1);
    loop {
        tokio::time::sleep(delay).await;
        if deferred.strong_count() == 0 {
            return;
        }
        let result = open().await;
        let Some(deferred) = deferred.upgrade() else {
            return;
        };
        match result {
            Ok(store) => {
                tracing::info!(store = %store.describe(), "the inbox store is open: storing events again");
                let _ = deferred.open.set(store);
                deferred.changed.notify_one();
                return;
            }
            Err(error) => {
                tracing::warn!(
                    store = %deferred.describe, error = %error, retry_in_secs = delay.as_secs(),
                    "the inbox store still cannot be opened; webhooks are answered 503 until it can"
                );
                *deferred.failure.lock().unwrap_or_else(|e| e.into_inner()) = error;
            }
        }
        delay = (delay * 2).min(MAX_DELAY);
    }
}

/// A future that fails at once with `error`.
fn failed<'a, T: Send + 'a>(error: InboxError) -> BoxFuture<'a, Result<T, InboxError>> {
    Box::pin(std::future::ready(Err(error)))
}

macro_rules! delegate {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self.get() {
            Ok(store) => store.$method($($arg),*),
            Err(error) => failed(error),
        }
    };
}

impl Store for Deferred {
    fn describe(&self) -> String {
        match self.open.get() {
            Some(store) => store.describe(),
            None => self.describe.clone(),
        }
    }

    fn path(&self) -> Option<&Path> {
        match self.open.get() {
            Some(store) => store.path(),
            None => self.path.as_deref(),
        }
    }

    fn changed(&self) -> Arc<Notify> {
        self.changed.clone()
    }

    fn store(
        &self,
        event: NewEvent,
        derived: Derived,
    ) -> BoxFuture<'_, Result<Stored, InboxError>> {
        delegate!(self.store(event, derived))
    }

    fn ready(&self) -> BoxFuture<'_, Result<(), InboxError>> {
        delegate!(self.ready())
    }

    fn low_space(&self) -> Option<String> {
        self.open.get().and_then(|store| store.low_space())
    }

    fn claim_sole_use(&self) -> Result<(), InboxError> {
        self.open
            .get()
            .map_or(Ok(()), |store| store.claim_sole_use())
    }

    fn list(&self, filter: ListFilter) -> BoxFuture<'_, Result<Vec<EventSummary>, InboxError>> {
        delegate!(self.list(filter))
    }

    fn get(&self, id: i64) -> BoxFuture<'_, Result<Option<StoredEvent>, InboxError>> {
        delegate!(self.get(id))
    }

    fn attempts(&self, id: i64) -> BoxFuture<'_, Result<Vec<super::Attempt>, InboxError>> {
        delegate!(self.attempts(id))
    }

    fn replay(&self, id: i64) -> BoxFuture<'_, Result<(), InboxError>> {
        delegate!(self.replay(id))
    }

    fn mark_dead(&self, id: i64, reason: String) -> BoxFuture<'_, Result<(), InboxError>> {
        delegate!(self.mark_dead(id, reason))
    }

    fn held(&self, id: i64) -> BoxFuture<'_, Result<bool, InboxError>> {
        delegate!(self.held(id))
    }

    fn counts(&self) -> BoxFuture<'_, Result<Vec<(State, u64)>, InboxError>> {
        delegate!(self.counts())
    }

    fn backlog(&self) -> BoxFuture<'_, Result<Backlog, InboxError>> {
        delegate!(self.backlog())
    }

    fn purgeable(&self, cutoff_ms: i64) -> BoxFuture<'_, Result<Purged, InboxError>> {
        delegate!(self.purgeable(cutoff_ms))
    }

    fn purge_batch(
        &self,
        cutoff_ms: i64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Purged, InboxError>> {
        delegate!(self.purge_batch(cutoff_ms, limit))
    }

    fn recover(&self) -> BoxFuture<'_, Result<u64, InboxError>> {
        delegate!(self.recover())
    }

    fn claim(&self, request: ClaimRequest) -> BoxFuture<'_, Result<Vec<Claimed>, InboxError>> {
        delegate!(self.claim(request))
    }

    fn renew(
        &self,
        owner: String,
        keys: Vec<String>,
        lease: Duration,
    ) -> BoxFuture<'_, Result<(), InboxError>> {
        delegate!(self.renew(owner, keys, lease))
    }

    fn mark_handling(
        &self,
        owner: String,
        id: i64,
        alone: bool,
    ) -> BoxFuture<'_, Result<bool, InboxError>> {
        delegate!(self.mark_handling(owner, id, alone))
    }

    fn finish(
        &self,
        owner: String,
        runs: Vec<RunOutcome>,
    ) -> BoxFuture<'_, Result<FinishReport, InboxError>> {
        delegate!(self.finish(owner, runs))
    }

    fn next_due(&self) -> BoxFuture<'_, Result<Option<Duration>, InboxError>> {
        delegate!(self.next_due())
    }

    fn export(&self, after: i64, limit: usize) -> BoxFuture<'_, Result<Vec<Exported>, InboxError>> {
        delegate!(self.export(after, limit))
    }

    fn import(&self, events: Vec<Exported>) -> BoxFuture<'_, Result<(), InboxError>> {
        delegate!(self.import(events))
    }

    fn begin_import(&self, source: String) -> BoxFuture<'_, Result<Option<String>, InboxError>> {
        delegate!(self.begin_import(source))
    }

    fn finish_import(&self) -> BoxFuture<'_, Result<(), InboxError>> {
        delegate!(self.finish_import())
    }

    fn fingerprint(&self) -> BoxFuture<'_, Result<Fingerprint, InboxError>> {
        delegate!(self.fingerprint())
    }
}
