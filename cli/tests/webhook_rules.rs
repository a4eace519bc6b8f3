//! The webhook body rules of `tradecloud::webhook`, over real HTTPS against a
//! running receiver with a recording handler:
//!
//! * an empty or blank `messageId` is no deduplication key;
//! * a known event name without its payload is answered 400 and kept in
//!   quarantine (`rejected`) with the reason;
//! * an unknown event name without a known payload is answered 2xx, stored
//!   as `unhandled`, never handed to the handler, counted in `/metrics`,
//!   listed by `tradecloud inbox list --state unhandled` and replayable;
//! * an event without its order or shipment id is answered 400 and kept in
//!   quarantine, never handed to the handler;
//! * the other webhook's event (the order and shipment URLs swapped in the
//!   portal) is stored and handled as what it is, JSON and tXML, both ways;
//! * tXML is as strict as JSON (two roots, a repeated field: 400);
//! * JSON with a UTF-8 byte order mark is accepted and handled.

use crate::receiver_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use receiver_support::*;
use tradecloud::inbox::{EventKind, Inbox, ListFilter, NewEvent, NewState, State};
use tradecloud::processing::{handler_fn, Event, HandlerError};

const ORDER: &str = "/tradecloud/order";
const SHIPMENT: &str = "/tradecloud/shipment";

type Seen = Arc<Mutex<Vec<(i64, String)>>>;

/// A receiver whose handler records (inbox id, event name) of every event.
async fn recording_receiver() -> (TestReceiver, Seen) {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let rx = start_with(&basic_config(""), move |b| {
        b.handler(handler_fn(move |event: Event, _ctx| {
            let record = record.clone();
            async move {
                let meta = event.meta();
                record
                    .lock()
                    .unwrap()
                    .push((meta.inbox_id, meta.event_name.clone().unwrap_or_default()));
                Ok::<(), HandlerError>(())
            }
        }))
    })
    .await;
    (rx, seen)
}

async fn wait_for_state(inbox: &Inbox, id: i64, state: State) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let summary = inbox.get(id).await.unwrap().expect("stored").summary;
        if summary.state == state {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "event {id} is {} (waited for {state}): {summary:?}",
            summary.state
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// POST and return (status, JSON answer).
async fn post(
    rx: &TestReceiver,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, serde_json::Value) {
    let response = rx.post(path, content_type, body.to_vec()).await;
    let status = response.status().as_u16();
    (status, json(response).await)
}

fn order_event(order_id: &str, message_id: &str) -> Vec<u8> {
    format!(
        r#"{{"eventName":"OrderIssuedByBuyer","meta":{{"messageId":"{message_id}"}},"orderEvent":{{"orderId":"{order_id}","lines":[]}}}}"#
    )
    .into_bytes()
}

#[tokio::test]
async fn an_empty_or_blank_message_id_is_not_a_deduplication_key() {
    let (rx, seen) = recording_receiver().await;
    let mut ids = Vec::new();
    for (order_id, message_id) in [("o-1", ""), ("o-2", ""), ("o-3", "   "), ("o-4", "\\t \\n")] {
        let (status, answer) = post(
            &rx,
            ORDER,
            "application/json",
            &order_event(order_id, message_id),
        )
        .await;
        assert_eq!(status, 202, "{order_id}: {answer}");
        assert_eq!(answer["duplicate"], false, "{order_id}");
        let id = answer["id"].as_i64().unwrap();
        let summary = rx.inbox.get(id).await.unwrap().unwrap().summary;
        assert_eq!(summary.object_id.as_deref(), Some(order_id));
        assert_eq!(summary.message_id, None, "{order_id}: no key stored");
        ids.push(id);
    }
    // A blank top-level id falls back to the event's own message id.
    let nested = br#"{"eventName":"OrderIssuedByBuyer","meta":{"messageId":""},"orderEvent":{"orderId":"o-5","meta":{"messageId":"inner-5"}}}"#;
    let (status, answer) = post(&rx, ORDER, "application/json", nested).await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["id"].as_i64().unwrap();
    let summary = rx.inbox.get(id).await.unwrap().unwrap().summary;
    assert_eq!(summary.message_id.as_deref(), Some("inner-5"));
    ids.push(id);
    // Real message ids still deduplicate.
    let (status, _) = post(&rx, ORDER, "application/json", nested).await;
    assert_eq!(status, 200, "a redelivery of inner-5");

    for id in &ids {
        wait_for_state(&rx.inbox, *id, State::Done).await;
    }
    let mut handled: Vec<i64> = seen.lock().unwrap().iter().map(|s| s.0).collect();
    handled.sort_unstable();
    assert_eq!(handled, ids, "every event was stored and handled once");
    rx.stop().await;
}

#[tokio::test]
async fn a_known_event_without_its_payload_is_rejected_and_kept() {
    let (rx, seen) = recording_receiver().await;
    let cases: [(&str, &str, &[u8], &str); 5] = [
        (
            ORDER,
            "application/json",
            br#"{"eventName":"OrderIssuedByBuyer","orderEvent":null}"#,
            "`orderEvent`",
        ),
        (
            ORDER,
            "application/json",
            br#"{"eventName":"OrderIssuedByBuyer"}"#,
            "`orderDocumentsEvent`",
        ),
        (
            ORDER,
            "application/xml",
            b"<webhookBody><eventName>OrderLinesConfirmedBySupplier</eventName></webhookBody>",
            "`singleDeliveryOrderEvent`",
        ),
        (
            SHIPMENT,
            "application/json",
            br#"{"eventName":"ShipmentIssuedBySupplier","shipment":null}"#,
            "`shipment`",
        ),
        (
            SHIPMENT,
            "application/json",
            br#"{"eventName":"ShipmentApprovedByBuyer","meta":{"messageId":"s-1"}}"#,
            "`shipment`",
        ),
    ];
    let mut rejected = Vec::new();
    for (path, content_type, body, member) in cases {
        let (status, problem) = post(&rx, path, content_type, body).await;
        let name = String::from_utf8_lossy(body);
        assert_eq!(status, 400, "{name}: {problem}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("carries no payload") && detail.contains(member),
            "{name}: {detail}"
        );
        let id = problem["inboxId"].as_i64().expect("kept in quarantine");
        let kept = rx.inbox.get(id).await.unwrap().unwrap();
        assert_eq!(kept.summary.state, State::Rejected, "{name}");
        assert_eq!(kept.body.as_ref(), body, "{name}: bytes kept");
        assert!(
            kept.summary
                .error
                .as_deref()
                .is_some_and(|e| e.contains("carries no payload")),
            "{name}: the reason is kept: {:?}",
            kept.summary.error
        );
        rejected.push(id);
    }
    // A valid event afterwards is handled; the rejected ones never are.
    let (status, answer) = post(&rx, ORDER, "application/json", &order_event("o-9", "m-9")).await;
    assert_eq!(status, 202);
    let good = answer["id"].as_i64().unwrap();
    wait_for_state(&rx.inbox, good, State::Done).await;
    let handled: Vec<i64> = seen.lock().unwrap().iter().map(|s| s.0).collect();
    assert_eq!(handled, [good]);
    for id in rejected {
        assert_eq!(
            rx.inbox.get(id).await.unwrap().unwrap().summary.state,
            State::Rejected
        );
    }
    rx.stop().await;
}

#[tokio::test]
async fn an_unknown_event_without_a_known_payload_is_kept_unhandled() {
    let (rx, seen) = recording_receiver().await;
    let order_body = br#"{"eventName":"OrderTeleportedByBuyer","meta":{"messageId":"u-1"},"teleportEvent":{"orderId":"o-1"}}"#;
    let shipment_body =
        br#"{"eventName":"ShipmentTeleportedBySupplier","meta":{"messageId":"u-2"},"shipment":null}"#;
    let xml_body =
        b"<webhookBody><eventName>OrderBeamedUp</eventName><beam><id>1</id></beam></webhookBody>";
    let mut unhandled = Vec::new();
    for (path, content_type, body, kind) in [
        (ORDER, "application/json", &order_body[..], EventKind::Order),
        (
            SHIPMENT,
            "application/json",
            &shipment_body[..],
            EventKind::Shipment,
        ),
        (ORDER, "application/xml", &xml_body[..], EventKind::Order),
    ] {
        let (status, answer) = post(&rx, path, content_type, body).await;
        let name = String::from_utf8_lossy(body);
        assert_eq!(status, 202, "{name}: {answer}");
        let id = answer["id"].as_i64().unwrap();
        let stored = rx.inbox.get(id).await.unwrap().unwrap();
        assert_eq!(stored.summary.state, State::Unhandled, "{name}");
        assert_eq!(stored.summary.kind, kind, "{name}");
        assert_eq!(stored.body.as_ref(), body, "{name}: bytes kept");
        assert!(
            stored
                .summary
                .error
                .as_deref()
                .is_some_and(|e| e.contains("not handled")),
            "{name}: {:?}",
            stored.summary.error
        );
        unhandled.push(id);
    }
    // A redelivery is recognised by its message id.
    let (status, answer) = post(&rx, ORDER, "application/json", order_body).await;
    assert_eq!((status, &answer["id"]), (200, &unhandled[0].into()));

    let metrics = rx.metrics.encode();
    for needle in [
        "tradecloud_webhook_unhandled_total{kind=\"order\"} 2",
        "tradecloud_webhook_unhandled_total{kind=\"shipment\"} 1",
    ] {
        assert!(metrics.contains(needle), "{needle} in\n{metrics}");
    }

    // `tradecloud inbox list --state unhandled` lists them.
    if let Some(exe) = option_env!("CARGO_BIN_EXE_tradecloud") {
        let url = format!("sqlite://{}", rx.db.display());
        let out = std::process::Command::new(exe)
            .args([
                "inbox",
                "list",
                "--json",
                "--state",
                "unhandled",
                "--store",
                &url,
            ])
            .env_remove("TRADECLOUD_STORE_URL")
            .env_remove("TRADECLOUD_CONFIG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listed: Vec<i64> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|line| {
                let event: serde_json::Value = serde_json::from_str(line).unwrap();
                assert_eq!(event["state"], "unhandled", "{line}");
                event["id"].as_i64().unwrap()
            })
            .collect();
        assert_eq!(listed, unhandled);
    } else {
        eprintln!("`inbox list` not run: the tradecloud binary is not built (feature cli)");
    }

    // Replayed by this version, which still does not know them: unhandled again.
    rx.inbox.replay(unhandled[0]).await.unwrap();
    let again = "tradecloud_handler_outcomes_total{kind=\"order\",outcome=\"unhandled\"} 1";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !rx.metrics.encode().contains(again) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}",
            rx.metrics.encode()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_for_state(&rx.inbox, unhandled[0], State::Unhandled).await;

    // A valid event afterwards is handled; the unhandled ones never are.
    let (status, answer) = post(&rx, ORDER, "application/json", &order_event("o-2", "m-2")).await;
    assert_eq!(status, 202);
    let good = answer["id"].as_i64().unwrap();
    wait_for_state(&rx.inbox, good, State::Done).await;
    let handled: Vec<i64> = seen.lock().unwrap().iter().map(|s| s.0).collect();
    assert_eq!(handled, [good]);
    let listed = rx
        .inbox
        .list(ListFilter {
            state: Some(State::Unhandled),
            ..ListFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 3);
    rx.stop().await;
}

#[tokio::test]
async fn an_unhandled_event_is_handled_after_an_upgrade_and_a_replay() {
    // What an older version stored as unhandled: it did not know the event
    // name, and its payload member was new to it. This version knows both.
    let (rx, seen) = recording_receiver().await;
    let body = Bytes::from_static(
        br#"{"eventName":"OrderIssuedByBuyer","orderEvent":{"orderId":"o-1","lines":[]}}"#,
    );
    let id = rx
        .inbox
        .store(NewEvent {
            kind: EventKind::Order,
            event_name: Some("OrderIssuedByBuyer".into()),
            object_id: None,
            message_id: None,
            content_type: "application/json".into(),
            body,
            state: NewState::Unhandled {
                reason: "unknown order event `OrderIssuedByBuyer` (an older version)".into(),
            },
            source: Some("POST /tradecloud/order".into()),
            headers: Vec::new(),
        })
        .await
        .unwrap()
        .id();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        seen.lock().unwrap().is_empty(),
        "not handled while unhandled"
    );
    rx.inbox.replay(id).await.unwrap();
    wait_for_state(&rx.inbox, id, State::Done).await;
    assert_eq!(
        *seen.lock().unwrap(),
        [(id, "OrderIssuedByBuyer".to_owned())]
    );
    rx.stop().await;
}

#[tokio::test]
async fn txml_is_as_strict_as_json() {
    let (rx, seen) = recording_receiver().await;
    let cases: [(&[u8], &str); 3] = [
        (
            b"<webhookBody><eventName>OrderIssuedByBuyer</eventName><orderEvent><orderId>o-1</orderId></orderEvent></webhookBody>\
              <webhookBody><eventName>OrderIssuedByBuyer</eventName><orderEvent><orderId>o-2</orderId></orderEvent></webhookBody>",
            "more than one root element",
        ),
        (
            b"<webhookBody><eventName>OrderIssuedByBuyer</eventName><orderEvent><orderId>o-1</orderId><orderId>o-2</orderId></orderEvent></webhookBody>",
            "at `orderEvent.orderId`: the element <orderId> appears more than once",
        ),
        (
            b"<webhookBody><eventName>OrderIssuedByBuyer</eventName><eventName>OrderResentByBuyer</eventName><orderEvent><orderId>o-1</orderId></orderEvent></webhookBody>",
            "<eventName> appears more than once",
        ),
    ];
    for (body, reason) in cases {
        let (status, problem) = post(&rx, ORDER, "application/xml", body).await;
        assert_eq!(status, 400, "{problem}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(reason), "{detail}");
        let kept = rx
            .inbox
            .get(problem["inboxId"].as_i64().expect("quarantined"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(kept.summary.state, State::Rejected);
        assert_eq!(kept.body.as_ref(), body);
    }
    // The same document once: accepted and handled.
    let one = b"<webhookBody><eventName>OrderIssuedByBuyer</eventName><orderEvent><orderId>o-1</orderId></orderEvent></webhookBody>";
    let (status, answer) = post(&rx, ORDER, "application/xml", one).await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["id"].as_i64().unwrap();
    wait_for_state(&rx.inbox, id, State::Done).await;
    assert_eq!(seen.lock().unwrap().len(), 1);
    rx.stop().await;
}

#[tokio::test]
async fn json_with_a_byte_order_mark_is_accepted_and_handled() {
    let (rx, seen) = recording_receiver().await;
    for (path, file) in [
        (ORDER, "order-webhook/order-event.json"),
        (SHIPMENT, "shipment-webhook/shipment-event.json"),
    ] {
        let mut body = b"\xEF\xBB\xBF".to_vec();
        body.extend(fixture(file));
        let (status, answer) = post(&rx, path, "application/json", &body).await;
        assert_eq!(status, 202, "{file}: {answer}");
        let id = answer["id"].as_i64().unwrap();
        let stored = rx.inbox.get(id).await.unwrap().unwrap();
        assert_eq!(
            stored.body.as_ref(),
            body.as_slice(),
            "stored byte for byte"
        );
        assert!(stored.summary.message_id.is_some(), "{file}: ids read");
        assert!(stored.summary.object_id.is_some(), "{file}: ids read");
        wait_for_state(&rx.inbox, id, State::Done).await;
    }
    assert_eq!(seen.lock().unwrap().len(), 2);
    rx.stop().await;
}

#[tokio::test]
async fn an_event_without_its_id_is_rejected_and_kept() {
    let (rx, seen) = recording_receiver().await;
    let cases: [(&str, &str, &[u8], &str); 7] = [
        (
            ORDER,
            "application/json",
            br#"{"eventName":"OrderIssuedByBuyer","meta":{"messageId":"e-1"},"orderEvent":{}}"#,
            "`orderEvent.orderId`",
        ),
        (
            ORDER,
            "application/json",
            br#"{"eventName":"OrderIssuedByBuyer","singleDeliveryOrderEvent":{"orderId":""}}"#,
            "`singleDeliveryOrderEvent.orderId`",
        ),
        (
            ORDER,
            "application/json",
            br#"{"eventName":"OrderIssuedByBuyer","simpleOrderEvent":{"orderId":" "}}"#,
            "`simpleOrderEvent.orderId`",
        ),
        (
            ORDER,
            "application/json",
            br#"{"eventName":"OrderDocumentsAttachedByBuyer","orderDocumentsEvent":{"lines":[]}}"#,
            "`orderDocumentsEvent.orderId`",
        ),
        (
            ORDER,
            "application/xml",
            b"<webhookBody><eventName>OrderIssuedByBuyer</eventName><orderEvent><orderId></orderId></orderEvent></webhookBody>",
            "`orderEvent.orderId`",
        ),
        (
            SHIPMENT,
            "application/json",
            br#"{"eventName":"ShipmentIssuedBySupplier","shipment":{}}"#,
            "`shipment.id`",
        ),
        // (tXML to the shipment webhook: an order event at the wrong URL.)
        (
            SHIPMENT,
            "application/xml",
            b"<webhookBody><eventName>OrderIssuedByBuyer</eventName><orderEvent><orderId>\t</orderId></orderEvent></webhookBody>",
            "`orderEvent.orderId`",
        ),
    ];
    for (path, content_type, body, member) in cases {
        let (status, problem) = post(&rx, path, content_type, body).await;
        let name = String::from_utf8_lossy(body);
        assert_eq!(status, 400, "{name}: {problem}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(&format!("{member} is missing, empty or blank")),
            "{name}: {detail}"
        );
        assert_eq!(
            detail.contains("swapped"),
            path == SHIPMENT && content_type == "application/xml",
            "{detail}"
        );
        let id = problem["inboxId"].as_i64().expect("kept in quarantine");
        let kept = rx.inbox.get(id).await.unwrap().unwrap();
        assert_eq!(kept.summary.state, State::Rejected, "{name}");
        assert_eq!(kept.body.as_ref(), body, "{name}: bytes kept");
    }
    // A valid event afterwards is handled; the rejected ones never are.
    let (status, answer) = post(&rx, ORDER, "application/json", &order_event("o-9", "m-9")).await;
    assert_eq!(status, 202);
    let good = answer["id"].as_i64().unwrap();
    wait_for_state(&rx.inbox, good, State::Done).await;
    let handled: Vec<i64> = seen.lock().unwrap().iter().map(|s| s.0).collect();
    assert_eq!(handled, [good]);
    rx.stop().await;
}

#[tokio::test]
async fn an_event_sent_to_the_other_webhooks_url_is_stored_and_handled_as_what_it_is() {
    let (rx, seen) = recording_receiver().await;
    let shipment_json = br#"{"eventName":"ShipmentIssuedBySupplier","meta":{"messageId":"w-1"},"shipment":{"id":"s-1"}}"#;
    let shipment_xml = b"<webhookBody><eventName>ShipmentApprovedByBuyer</eventName><meta><messageId>w-2</messageId></meta><shipment><id>s-2</id></shipment></webhookBody>";
    let order_json = br#"{"eventName":"OrderIssuedByBuyer","meta":{"messageId":"w-3"},"orderEvent":{"orderId":"o-3"}}"#;
    let order_xml = b"<webhookBody><eventName>OrderLinesConfirmedBySupplier</eventName><meta><messageId>w-4</messageId></meta><singleDeliveryOrderEvent><orderId>o-4</orderId></singleDeliveryOrderEvent></webhookBody>";
    let documents_json = br#"{"eventName":"OrderDocumentsAttachedByBuyer","meta":{"messageId":"w-5"},"orderDocumentsEvent":{"orderId":"o-5"}}"#;
    let mut stored = Vec::new();
    for (path, content_type, body, kind, object) in [
        (
            ORDER,
            "application/json",
            &shipment_json[..],
            EventKind::Shipment,
            "s-1",
        ),
        (
            ORDER,
            "application/xml",
            &shipment_xml[..],
            EventKind::Shipment,
            "s-2",
        ),
        (
            SHIPMENT,
            "application/json",
            &order_json[..],
            EventKind::Order,
            "o-3",
        ),
        (
            SHIPMENT,
            "text/xml",
            &order_xml[..],
            EventKind::Order,
            "o-4",
        ),
        (
            SHIPMENT,
            "application/json",
            &documents_json[..],
            EventKind::OrderDocuments,
            "o-5",
        ),
    ] {
        let (status, answer) = post(&rx, path, content_type, body).await;
        let name = String::from_utf8_lossy(body);
        assert_eq!(status, 202, "{name}: {answer}");
        let id = answer["id"].as_i64().unwrap();
        let event = rx.inbox.get(id).await.unwrap().unwrap();
        assert_eq!(event.summary.kind, kind, "{name}");
        assert_eq!(event.summary.object_id.as_deref(), Some(object), "{name}");
        assert_eq!(event.body.as_ref(), body, "{name}: bytes kept");
        // Where it came from is kept.
        assert_eq!(
            event.summary.source.as_deref(),
            Some(format!("POST {path}").as_str()),
            "{name}"
        );
        stored.push(id);
    }
    for id in &stored {
        wait_for_state(&rx.inbox, *id, State::Done).await;
    }
    let mut handled: Vec<i64> = seen.lock().unwrap().iter().map(|s| s.0).collect();
    handled.sort_unstable();
    assert_eq!(handled, stored, "each handled once, as what it is");

    // Sent again to the right URL: the same event (kind and message id).
    let (status, answer) = post(&rx, SHIPMENT, "application/json", shipment_json).await;
    assert_eq!((status, &answer["id"]), (200, &stored[0].into()));

    // The other webhook's event that is not valid: 400, kept, the swap named.
    for (path, body, kind) in [
        (
            ORDER,
            &br#"{"eventName":"ShipmentIssuedBySupplier","shipment":{}}"#[..],
            EventKind::Shipment,
        ),
        (
            SHIPMENT,
            &br#"{"eventName":"OrderIssuedByBuyer"}"#[..],
            EventKind::Order,
        ),
    ] {
        let (status, problem) = post(&rx, path, "application/json", body).await;
        assert_eq!(status, 400, "{problem}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("swapped in the Tradecloud portal"),
            "{detail}"
        );
        let id = problem["inboxId"].as_i64().expect("kept in quarantine");
        let kept = rx.inbox.get(id).await.unwrap().unwrap().summary;
        assert_eq!((kept.state, kept.kind), (State::Rejected, kind));
    }
    let metrics = rx.metrics.encode();
    for needle in [
        "tradecloud_webhook_wrong_url_total{kind=\"shipment\"} 3",
        "tradecloud_webhook_wrong_url_total{kind=\"order\"} 4",
    ] {
        assert!(metrics.contains(needle), "{needle} in\n{metrics}");
    }
    rx.stop().await;
}
