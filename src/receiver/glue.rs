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
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()>;
}

async fn stopped(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
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
        stop: tokio::sync::watch::Receiver<bool>,
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
        tokio::spawn(processor.run(stopped(stop)))
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
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn((self.0)(inbox).run(stopped(stop)))
    }
}
