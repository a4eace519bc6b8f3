//! A request-rate limit shared by every clone of a client.
//!
//! Tradecloud asks for at most 10 requests per second (api/rules.md). The
//! limiter lets requests go one at a time, each at least `interval` after
//! the previous one *actually* went (not after it was scheduled to go, so a
//! task that wakes up late never lets the next ones bunch up). No bursts:
//! any window of one second holds at most `rate` requests of this client,
//! however many tasks share it.
//!
//! The interval is 2% longer than `1 s / rate`, so that the small
//! differences in how long requests take to reach the server cannot push a
//! one-second window at the server over the limit.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Spaces requests at least `interval` apart.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    interval: Duration,
    /// When the last request went. The lock is held while waiting, so
    /// waiting tasks queue up in order (tokio's mutex is fair).
    last: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// A limiter for `per_second` requests per second (`per_second > 0`).
    pub(crate) fn new(per_second: u32) -> Self {
        let base = Duration::from_secs(1) / per_second.max(1);
        let interval = base + (base / 50).max(Duration::from_micros(100));
        RateLimiter {
            interval,
            last: Mutex::new(None),
        }
    }

    /// Waits until the next request may go, and records that it goes now.
    /// Cancelling the wait leaves no trace.
    pub(crate) async fn acquire(&self) {
        let mut last = self.last.lock().await;
        if let Some(previous) = *last {
            tokio::time::sleep_until(previous + self.interval).await;
        }
        *last = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_go_at_least_an_interval_apart() {
        let limiter = std::sync::Arc::new(RateLimiter::new(100));
        let mut tasks = Vec::new();
        for _ in 0..25 {
            let limiter = limiter.clone();
            tasks.push(tokio::spawn(async move {
                limiter.acquire().await;
                Instant::now()
            }));
        }
        let mut times = Vec::new();
        for task in tasks {
            times.push(task.await.unwrap());
        }
        times.sort();
        for pair in times.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_millis(10), "{times:?}");
        }
    }
}
