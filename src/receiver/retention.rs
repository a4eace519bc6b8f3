//! `[store] retention_days`: a task that deletes the `done` events older
//! than the retention period, at start and then every hour (see
//! [`Inbox::purge`]: nothing still to be handled, dead, rejected or unhandled is ever
//! deleted).

use std::time::Duration;

use crate::inbox::Inbox;

use super::metrics::Metrics;

/// Time between purges.
pub(crate) const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Purge now and every [`PURGE_EVERY`], until aborted.
pub(crate) async fn run(inbox: Inbox, metrics: Metrics, days: u64) {
    let mut interval = tokio::time::interval(PURGE_EVERY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let Some(cutoff) = cutoff(days) else {
            continue; // nothing can be that old
        };
        match inbox.purge(cutoff, false).await {
            Ok(purged) if purged.events > 0 => {
                metrics.purged(purged.events);
                tracing::info!(
                    events = purged.events,
                    body_bytes = purged.body_bytes,
                    retention_days = days,
                    "deleted done events past the retention period"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(
                error = %e,
                "cannot delete done events past the retention period; trying again in an hour"
            ),
        }
    }
}

/// Now minus `days`, or `None` when that is before any representable time.
pub(crate) fn cutoff(days: u64) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::Duration::try_days(i64::try_from(days).ok()?)
        .and_then(|retention| chrono::Utc::now().checked_sub_signed(retention))
}
