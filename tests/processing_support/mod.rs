//! Shared set-up of the processing tests.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tradecloud::inbox::{EventKind, Inbox, NewEvent, NewState};
use tradecloud::processing::{handler_fn, Handler, Processor, ProcessorConfig};

/// A handler that never finishes, and what it notifies each time it has
/// started.
pub fn hanging_handler() -> (Arc<Notify>, impl Handler) {
    let started = Arc::new(Notify::new());
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
    (started, hang)
}

/// A processor started on `inbox` with a [`hanging_handler`] (and no stop),
/// once the handler has started (waiting at most `wait`): its task, for the
/// caller to abort.
pub async fn hang_in_handler(
    inbox: &Inbox,
    config: ProcessorConfig,
    wait: Duration,
) -> JoinHandle<()> {
    let (started, hang) = hanging_handler();
    let running =
        tokio::spawn(Processor::new(inbox.clone(), hang, config).run(std::future::pending()));
    tokio::time::timeout(wait, started.notified())
        .await
        .expect("handler started");
    running
}

/// A processor "dies" while its handler runs: it is started on `inbox` with
/// a handler that never finishes, and aborted once the handler has started
/// (waiting at most `wait`). Its claimed events stay `processing`.
pub async fn crash_mid_handler(inbox: &Inbox, config: ProcessorConfig, wait: Duration) {
    let crashed = hang_in_handler(inbox, config, wait).await;
    crashed.abort();
    let _ = crashed.await;
}

/// A stored order event (`OrderIssuedByBuyer`) of order `order_id` with
/// Tradecloud's message id `message_id`: the smallest body the processor
/// parses.
pub fn order_event(order_id: &str, message_id: &str) -> NewEvent {
    let body = format!(
        r#"{{"eventName":"OrderIssuedByBuyer","meta":{{"messageId":"{message_id}"}},"orderEvent":{{"orderId":"{order_id}","lines":[{{"id":"l1"}}]}}}}"#
    );
    NewEvent {
        kind: EventKind::Order,
        event_name: Some("OrderIssuedByBuyer".into()),
        object_id: Some(order_id.into()),
        message_id: Some(message_id.into()),
        content_type: "application/json".into(),
        body: Bytes::from(body),
        state: NewState::Received,
        source: None,
        headers: Vec::new(),
    }
}
