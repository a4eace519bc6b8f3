//! Shared set-up of the processing tests.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use tradecloud::inbox::Inbox;
use tradecloud::processing::{handler_fn, Processor, ProcessorConfig};

/// A processor "dies" while its handler runs: it is started on `inbox` with
/// a handler that never finishes, and aborted once the handler has started
/// (waiting at most `wait`). Its claimed events stay `processing`.
pub async fn crash_mid_handler(inbox: &Inbox, config: ProcessorConfig, wait: Duration) {
    let started = Arc::new(tokio::sync::Notify::new());
    let hang = {
        let started = started.clone();
        handler_fn(move |_event, _ctx| {
            let started = started.clone();
            async move {
                started.notify_one();
                std::future::pending::<()>().await;
                Ok(())
            }
        })
    };
    let crashed =
        tokio::spawn(Processor::new(inbox.clone(), hang, config).run(std::future::pending()));
    tokio::time::timeout(wait, started.notified())
        .await
        .expect("handler started");
    crashed.abort();
    let _ = crashed.await;
}
