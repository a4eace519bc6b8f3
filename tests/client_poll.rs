//! The polling helper of `tradecloud::client::Client` against the mock of
//! Tradecloud over real HTTP (api/polling/README.md): every order changed
//! after the watermark exactly once across pages, the server's
//! `lastUpdatedAt` as the next watermark, the old watermark kept when
//! nothing changed, and nothing lost when orders change while paging.

#![cfg(feature = "mock")]

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use tradecloud::api::common::types::Order;
use tradecloud::api::order_search::operations::POLL_ORDERS_ROUTE;
use tradecloud::mock::{FaultConfig, FaultTrigger, MockConfig};
use tradecloud::types::DateTime;

use crate::client_support as support;
use support::{at, client, order, start};

fn ids(orders: &[Order]) -> Vec<String> {
    orders
        .iter()
        .map(|o| o.id.clone().expect("an id"))
        .collect()
}

fn assert_unique(ids: &[String]) {
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an order came back twice");
}

#[tokio::test]
async fn every_order_changed_after_the_watermark_exactly_once() {
    let mut config = MockConfig::new();
    for i in 0..250 {
        config = config.order(order(&format!("po-{i:03}"), &at(i)));
    }
    // 120 more with one and the same timestamp: a page boundary falls
    // between orders that sort equal on lastUpdatedAt.
    for i in 0..120 {
        config = config.order(order(&format!("same-{i:03}"), &at(300)));
    }
    let server = start(config).await;
    let client = client(&server);

    let watermark: DateTime = at(49).parse().expect("a watermark");
    let batch = client
        .orders()
        .poll_since(Some(watermark))
        .await
        .expect("the poll");
    let got = ids(&batch.items);
    assert_unique(&got);
    let expected: BTreeSet<String> = (50..250)
        .map(|i| format!("po-{i:03}"))
        .chain((0..120).map(|i| format!("same-{i:03}")))
        .collect();
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), expected);
    assert_eq!(got.len(), 320);
    assert_eq!(batch.pages, 4, "320 orders in pages of 100");
    assert_eq!(server.stats().requests_for(POLL_ORDERS_ROUTE.id), 4);
    // The server's lastUpdatedAt, as the exact text it sent.
    let next = batch.next_watermark.expect("a next watermark");
    assert_eq!(next.as_str(), at(300));

    // Three orders change: the next poll returns exactly those.
    let mut last = None;
    for id in ["po-007", "po-100", "same-050"] {
        last = Some(server.update_order(order(id, &at(0))).expect("an update"));
    }
    let batch = client
        .orders()
        .poll_since(Some(next.clone()))
        .await
        .expect("the second poll");
    assert_eq!(
        ids(&batch.items).into_iter().collect::<BTreeSet<_>>(),
        ["po-007", "po-100", "same-050"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    let next = batch.next_watermark.expect("a next watermark");
    assert_eq!(next.as_str(), last.expect("a stamp").as_str());

    // Nothing changed: no items, the same watermark.
    let batch = client
        .orders()
        .poll_since(Some(next.clone()))
        .await
        .expect("the third poll");
    assert!(batch.items.is_empty());
    assert_eq!(
        batch.next_watermark.as_ref().map(DateTime::as_str),
        Some(next.as_str())
    );

    // From the beginning: everything once.
    let batch = client.orders().poll_since(None).await.expect("a full poll");
    let all = ids(&batch.items);
    assert_unique(&all);
    assert_eq!(all.len(), 370);
}

#[tokio::test]
async fn an_empty_first_poll_has_no_watermark_yet() {
    let server = start(MockConfig::new()).await;
    let client = client(&server);
    let batch = client.orders().poll_since(None).await.expect("the poll");
    assert!(batch.items.is_empty());
    assert_eq!(batch.next_watermark, None);
    assert_eq!(batch.pages, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_changing_while_paging_are_neither_lost_nor_doubled() {
    let mut config = MockConfig::new().fault(
        FaultConfig::delay(Duration::from_millis(150), FaultTrigger::Always)
            .for_operations([POLL_ORDERS_ROUTE.id]),
    );
    for i in 0..300 {
        config = config.order(order(&format!("po-{i:03}"), &at(i)));
    }
    let server = std::sync::Arc::new(start(config).await);
    let client = client(&server);
    let changer = {
        let server = server.clone();
        tokio::spawn(async move {
            // While the first pages are being fetched, early orders change
            // and move to the end of the result.
            tokio::time::sleep(Duration::from_millis(200)).await;
            for i in [3u32, 5, 8, 13, 21] {
                server
                    .update_order(order(&format!("po-{i:03}"), &at(0)))
                    .expect("an update");
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        })
    };
    let first = client
        .orders()
        .poll_since(Some(at(0).parse().expect("a watermark")))
        .await
        .expect("the poll");
    changer.await.expect("the changer");
    let first_ids = ids(&first.items);
    assert_unique(&first_ids);
    // Whatever one poll missed, the next poll from its watermark returns.
    let second = client
        .orders()
        .poll_since(first.next_watermark.clone())
        .await
        .expect("the next poll");
    let all: BTreeSet<String> = first_ids
        .iter()
        .chain(ids(&second.items).iter())
        .cloned()
        .collect();
    let expected: BTreeSet<String> = (1..300).map(|i| format!("po-{i:03}")).collect();
    assert_eq!(all, expected, "every order changed after the watermark");
}

#[tokio::test]
async fn single_delivery_orders_and_shipments_poll_too() {
    let server = start(MockConfig::new().demo_data()).await;
    let client = client(&server);
    let orders = client
        .single_delivery_orders()
        .poll_since(None)
        .await
        .expect("the poll");
    assert!(!orders.items.is_empty());
    let next = orders.next_watermark.clone().expect("a watermark");
    let again = client
        .single_delivery_orders()
        .poll_since(Some(next.clone()))
        .await
        .expect("the poll");
    assert!(again.items.is_empty());
    assert_eq!(again.next_watermark, Some(next));

    let shipments = client.shipments().poll_since(None).await.expect("the poll");
    assert_eq!(shipments.items.len(), 1);
    let next = shipments.next_watermark.clone().expect("a watermark");
    let again = client
        .shipments()
        .poll_since(Some(next.clone()))
        .await
        .expect("the poll");
    assert!(again.items.is_empty());
    assert_eq!(
        again.next_watermark.map(DateTime::into_string),
        Some(next.into_string())
    );
}

/// A server that answers every request with an empty poll page and sends
/// each request's body to the returned receiver; its base URL (`/v2`).
async fn recording_server() -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>,
) {
    let (bodies, received) = tokio::sync::mpsc::unbounded_channel();
    let url = support::recording_server(move |_, body| {
        let _ = bodies.send(serde_json::from_slice(body).unwrap_or_default());
        (200, "", "application/json", r#"{"data":[],"total":0}"#)
    })
    .await;
    (url, received)
}

/// api/polling/README.md: "The timestamp has format
/// `YYYY-MM-DDThh:mm:ss.SSSZ`". A watermark given as a date, with an
/// offset or without a zone goes out in that form, in UTC; one already in
/// it goes out unchanged. An empty poll hands the watermark back in that
/// form.
#[tokio::test]
async fn the_watermark_goes_out_in_utc_with_milliseconds() {
    let (url, mut bodies) = recording_server().await;
    let client = tradecloud::client::Client::builder()
        .base_url(url)
        .credentials("integration@example.com", "secret")
        .auth_mode(tradecloud::client::AuthMode::BasicEveryRequest)
        .build()
        .expect("a client");
    let watermark = |text: &str| Some(text.parse::<DateTime>().expect("a date-time"));
    let cases = [
        ("2025-04-23", "2025-04-23T00:00:00.000Z"),
        ("2025-04-23T12:01:53+02:00", "2025-04-23T10:01:53.000Z"),
        ("2025-01-01T00:30:00.5-01:00", "2025-01-01T01:30:00.500Z"),
        ("2025-04-23T10:01:53", "2025-04-23T10:01:53.000Z"),
        ("2025-04-23T10:01:53.812Z", "2025-04-23T10:01:53.812Z"),
        ("2025-04-23T10:01:53.812345Z", "2025-04-23T10:01:53.812345Z"),
    ];
    for (given, sent) in cases {
        let batch = client
            .orders()
            .poll_since(watermark(given))
            .await
            .expect("the poll");
        assert!(batch.items.is_empty());
        let body = bodies.recv().await.expect("a request");
        assert_eq!(
            body["filters"]["lastUpdatedAfter"],
            serde_json::json!(sent),
            "{given}: {body}"
        );
        // Nothing changed: the next watermark is the one sent, in the
        // SDK's form, not the caller's spelling of it.
        assert_eq!(
            batch.next_watermark.as_ref().map(DateTime::as_str),
            Some(sent),
            "{given}"
        );
    }
    let given = "2025-04-23T12:01:53+02:00";
    let sent = serde_json::json!("2025-04-23T10:01:53.000Z");
    client
        .single_delivery_orders()
        .poll_since(watermark(given))
        .await
        .expect("the poll");
    let body = bodies.recv().await.expect("a request");
    assert_eq!(body["filters"]["lastUpdatedAfter"], sent, "{body}");
    let batch = client
        .shipments()
        .poll_since(watermark(given))
        .await
        .expect("the poll");
    let body = bodies.recv().await.expect("a request");
    assert_eq!(body["filters"]["lastUpdatedAfter"], sent, "{body}");
    assert_eq!(
        batch.next_watermark.map(DateTime::into_string),
        Some("2025-04-23T10:01:53.000Z".to_string())
    );
}
