//! `[processing]`: how stored events are handed to the handler.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// `[processing]`: the [`ProcessorConfig`](crate::processing::ProcessorConfig)
/// of the receiver's handler (a
/// [`ReceiverBuilder::processor_config`](crate::receiver::ReceiverBuilder::processor_config)
/// given in code wins over this section).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessingConfig {
    /// Events handled at the same time (of different orders or shipments;
    /// the events of one are always handled one at a time, in order).
    #[serde(alias = "workers")]
    pub concurrency: usize,
    /// Attempts in all before a transiently failing event is `dead`.
    pub max_attempts: u32,
    /// Delay before the first retry, in milliseconds; doubled for each further one.
    pub backoff_base_ms: u64,
    /// Longest delay between attempts, in seconds.
    pub backoff_max_secs: u64,
    /// How often to look for work that nothing announced (events stored by
    /// another process, retries that came due), in milliseconds.
    pub poll_interval_ms: u64,
    /// Most events of one order (shipment) claimed and recorded together.
    pub batch: usize,
    /// Seconds a claim holds without renewal; another instance takes over
    /// the events of one that died after this.
    pub lease_secs: u64,
    /// Hours GET-webhook fetches are retried (API down) before the trigger
    /// is dead-lettered; Tradecloud retries a webhook for 24 hours.
    pub fetch_retry_hours: u64,
    /// Seconds one call of the handler may take; then it is cancelled and
    /// the attempt is retried like a transient error (see
    /// [`ProcessorConfig::handler_timeout`](crate::processing::ProcessorConfig::handler_timeout)).
    pub handler_timeout_secs: u64,
    /// Seconds a clean stop (SIGTERM) waits for running handlers; then they
    /// are cancelled and their events go back to the queue uncounted (see
    /// [`ProcessorConfig::shutdown_grace`](crate::processing::ProcessorConfig::shutdown_grace)).
    /// At most `handler_timeout_secs` (a longer grace is refused: the
    /// handler's timeout cancels it first). Keep it well below the service
    /// manager's stop timeout (systemd's `TimeoutStopSec`, 45 s in
    /// `deploy/`): raising the grace needs raising that too. A second
    /// SIGTERM or Ctrl-C ends the grace at once.
    pub shutdown_grace_secs: u64,
}

impl Default for ProcessingConfig {
    fn default() -> Self {
        ProcessingConfig::from(&crate::processing::ProcessorConfig::default())
    }
}

impl From<&crate::processing::ProcessorConfig> for ProcessingConfig {
    fn from(c: &crate::processing::ProcessorConfig) -> Self {
        let millis = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        ProcessingConfig {
            concurrency: c.concurrency,
            max_attempts: c.max_attempts,
            backoff_base_ms: millis(c.backoff_base),
            backoff_max_secs: c.backoff_max.as_secs(),
            poll_interval_ms: millis(c.poll_interval),
            batch: c.batch,
            lease_secs: c.lease.as_secs(),
            fetch_retry_hours: c.fetch_retry_for.as_secs() / 3600,
            handler_timeout_secs: c.handler_timeout.as_secs(),
            shutdown_grace_secs: c.shutdown_grace.as_secs(),
        }
    }
}

impl ProcessingConfig {
    /// The processor settings of this section.
    pub fn processor_config(&self) -> crate::processing::ProcessorConfig {
        use std::time::Duration;
        crate::processing::ProcessorConfig {
            concurrency: self.concurrency,
            max_attempts: self.max_attempts,
            backoff_base: Duration::from_millis(self.backoff_base_ms),
            backoff_max: Duration::from_secs(self.backoff_max_secs),
            poll_interval: Duration::from_millis(self.poll_interval_ms),
            batch: self.batch,
            lease: Duration::from_secs(self.lease_secs),
            fetch_retry_for: Duration::from_secs(self.fetch_retry_hours.saturating_mul(3600)),
            handler_timeout: Duration::from_secs(self.handler_timeout_secs),
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
        }
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.concurrency == 0
            || self.max_attempts == 0
            || self.poll_interval_ms == 0
            || self.batch == 0
            || self.lease_secs < 3
            || self.handler_timeout_secs == 0
            || self.shutdown_grace_secs == 0
        {
            return Err(ConfigError::setting(
                "processing.concurrency, max_attempts, poll_interval_ms, batch, handler_timeout_secs and shutdown_grace_secs must be at least 1, lease_secs at least 3",
            ));
        }

        if self.shutdown_grace_secs > self.handler_timeout_secs {
            return Err(ConfigError::setting(format!(
                "processing.shutdown_grace_secs ({} s) is longer than processing.handler_timeout_secs ({} s): \
                 a running handler is cancelled by its timeout first, so the longer grace only holds up a stop; \
                 lower shutdown_grace_secs to at most handler_timeout_secs (and keep it below the service manager's \
                 stop timeout, systemd's TimeoutStopSec)",
                self.shutdown_grace_secs, self.handler_timeout_secs
            )));
        }

        if u128::from(self.backoff_base_ms) > u128::from(self.backoff_max_secs) * 1000 {
            return Err(ConfigError::setting(format!(
                "processing.backoff_base_ms ({} ms) is longer than processing.backoff_max_secs ({} s); lower the first or raise the second",
                self.backoff_base_ms, self.backoff_max_secs
            )));
        }
        Ok(())
    }
}
