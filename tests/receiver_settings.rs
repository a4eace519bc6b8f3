//! Receiver settings that shape its behaviour under load and over time,
//! each over real TLS on loopback with a real SQLite inbox: `[processing]`
//! drives the processor.

mod receiver_support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use receiver_support::*;
use tradecloud::processing::{handler_fn, Event, HandlerError};

const ORDER: &str = "/tradecloud/order";

/// `[processing]` of the configuration file is what the processor runs
/// with: two attempts 20 ms apart make the event dead within a second (the
/// defaults, ten attempts from 1 s apart, would take many minutes).
#[tokio::test]
async fn processing_section_configures_the_processor() {
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let text = format!(
        "{}\n[processing]\nconcurrency = 2\nmax_attempts = 2\nbackoff_base_ms = 20\nbackoff_max_secs = 1\npoll_interval_ms = 50\n",
        basic_config("")
    );
    let rx = start_with(&text, move |b| {
        b.handler(handler_fn(move |_event: Event, _ctx| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(HandlerError::Transient("ERP down".into()))
            }
        }))
    })
    .await;
    let response = rx
        .post(
            ORDER,
            "application/json",
            fixture("order-webhook/order-event.json"),
        )
        .await;
    assert_eq!(response.status(), 202);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let dead = loop {
        let dead = rx.inbox.dead().await.unwrap();
        if !dead.is_empty() {
            break dead;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not dead after 10 s: {} handler calls",
            calls.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 2, "max_attempts = 2");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(dead[0].error.as_deref().unwrap_or("").contains("ERP down"));
    rx.stop().await;
}
