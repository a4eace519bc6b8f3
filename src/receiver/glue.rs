//! The link to [`crate::processing`]: the processor that the builder was
//! given (a handler, or a function that makes the processor), type-erased
//! over the handler type, and started by [`Receiver::run`](super::Receiver::run).

use std::sync::Arc;

use super::Metrics;
use crate::inbox::Inbox;
use crate::processing::{Fetcher, Handler, Processor, ProcessorConfig};

/// Starts the processor (type-erased over the handler type).
pub(super) trait Spawn: Send {
    fn configure(
        &mut self,
        _config: ProcessorConfig,
        _fetcher: Option<Arc<dyn Fetcher>>,
        _client: Option<crate::client::Client>,
    ) {
    }
    fn spawn(
        self: Box<Self>,
        inbox: Inbox,
        metrics: Metrics,
        stop: tokio::sync::watch::Receiver<Stop>,
    ) -> tokio::task::JoinHandle<()>;
}

/// How far the receiver's stop has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Stop {
    Running,
    /// Stop, giving running handlers the shutdown grace.
    Graceful,
    /// Stop at once (asked again): running handlers are cancelled now.
    Now,
}

/// Completes once `stop` is at `level` or beyond (never if its sender is
/// gone first).
async fn stopped(mut stop: tokio::sync::watch::Receiver<Stop>, level: Stop) {
    if stop.wait_for(|s| *s >= level).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Run `processor` until the receiver stops.
fn run<H: Handler>(
    processor: Processor<H>,
    stop: tokio::sync::watch::Receiver<Stop>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(processor.run_with_stop_now(
        stopped(stop.clone(), Stop::Graceful),
        stopped(stop, Stop::Now),
    ))
}

type Setup = (
    ProcessorConfig,
    Option<Arc<dyn Fetcher>>,
    Option<crate::client::Client>,
);

pub(super) struct WithHandler<H> {
    pub handler: H,
    pub setup: Option<Setup>,
}

impl<H: Handler> Spawn for WithHandler<H> {
    fn configure(
        &mut self,
        config: ProcessorConfig,
        fetcher: Option<Arc<dyn Fetcher>>,
        client: Option<crate::client::Client>,
    ) {
        self.setup = Some((config, fetcher, client));
    }

    fn spawn(
        self: Box<Self>,
        inbox: Inbox,
        metrics: Metrics,
        stop: tokio::sync::watch::Receiver<Stop>,
    ) -> tokio::task::JoinHandle<()> {
        let (config, fetcher, client) = self.setup.unwrap_or_default();
        let mut processor = Processor::new(inbox, self.handler, config)
            .on_outcome(move |report| metrics.observe_outcome(report));
        if let Some(fetcher) = fetcher {
            processor = processor.with_shared_fetcher(fetcher);
        }
        if let Some(client) = client {
            processor = processor.with_extension(client);
        }
        run(processor, stop)
    }
}

pub(super) struct Custom<F>(pub F);

impl<H, F> Spawn for Custom<F>
where
    H: Handler,
    F: FnOnce(Inbox) -> Processor<H> + Send + 'static,
{
    fn spawn(
        self: Box<Self>,
        inbox: Inbox,
        _metrics: Metrics,
        stop: tokio::sync::watch::Receiver<Stop>,
    ) -> tokio::task::JoinHandle<()> {
        run((self.0)(inbox), stop)
    }
}
