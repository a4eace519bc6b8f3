//! Shared set-up of the processing tests.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tradecloud::inbox::{EventKind, Inbox, NewEvent, NewState};
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
