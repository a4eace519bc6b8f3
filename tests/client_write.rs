//! The sending calls of `tradecloud::client::Client` against the mock of
//! Tradecloud over real HTTP: every message and order action of the specs
//! with the documentation's example bodies, the checks before sending (a
//! broken rule never reaches the mock), tXML exactly where the spec takes
//! it, and each call's resend rule under the mock's fault injection.

#![cfg(feature = "mock")]

use std::collections::BTreeSet;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tradecloud::api::api_connector::operations as connector_ops;
use tradecloud::api::api_connector::types as connector;
use tradecloud::api::common::types::Document;
use tradecloud::api::order::types as actions;
use tradecloud::api::{api_connector, order};
use tradecloud::client::{ClientError, Resend, RetryPolicy, WireFormat};
use tradecloud::mock::{FaultConfig, FaultTrigger, MockConfig};
use tradecloud::types::Rule;

use crate::client_support as support;
use support::{builder, client, start, ORDER_ID};

use crate::request_examples as examples;

fn typed<T: DeserializeOwned>(example: &examples::Example) -> T {
    serde_json::from_slice(&example.bytes).unwrap_or_else(|e| panic!("{}: {e}", example.path))
}

fn fixture<T: DeserializeOwned>(spec: &str, name: &str) -> T {
    let bytes = std::fs::read(examples::fixtures_dir().join(spec).join(name)).expect("fixture");
    serde_json::from_slice(&bytes).expect("decodes")
}

/// `error` refuses a message for exactly the violations `expected`, each
/// found in the violations' text.
fn assert_violations(error: &ClientError, expected: &[&str]) {
    let ClientError::InvalidMessage { violations, .. } = error else {
        panic!("{error:?}")
    };
    let text = violations.to_string();
    assert_eq!(violations.len(), expected.len(), "{text}");
    for expected in expected {
        assert!(text.contains(expected), "{expected}\n{text}");
    }
}

fn order() -> connector::SendOrderByBuyer {
    fixture("api-connector", "sendOrderByBuyerRoute.guide.json")
}

/// Every JSON example of the documentation, sent with its call: the
/// mock answers each as Tradecloud documents, and every operation of
/// both specs' tables is covered.
#[tokio::test]
async fn every_call_sends_the_documentation_examples() {
    let server = start(MockConfig::new().demo_data()).await;
    let client = client(&server);
    let orders = client.orders();
    let mut called = BTreeSet::new();
    for example in examples::documentation_examples() {
        if example.is_xml() {
            continue;
        }
        let ok = |answer: Result<connector::OkResponse, ClientError>| {
            let answer = answer.unwrap_or_else(|e| panic!("{}: {e}", example.path));
            assert_eq!(answer.ok, Some(true), "{}", example.path);
        };
        // The order actions answer nothing documented: `()`.
        let action = |answer: Result<(), ClientError>| {
            answer.unwrap_or_else(|e| panic!("{}: {e}", example.path));
        };
        match example.operation {
            "sendOrderByBuyerRoute" => ok(orders.send(&typed(&example)).await),
            "sendSingleDeliveryOrderByBuyerRoute" => {
                ok(client.single_delivery_orders().send(&typed(&example)).await)
            }
            "sendOrderIndicatorsByBuyerRoute" => ok(orders.send_indicators(&typed(&example)).await),
            "attachOrderDocumentsByBuyerRoute" => {
                ok(orders.attach_documents(&typed(&example)).await)
            }
            "sendOrderDeliveriesByBuyer" => ok(orders.send_deliveries(&typed(&example)).await),
            "sendOrderDeliveryHistoryByBuyer" => {
                ok(orders.send_delivery_history(&typed(&example)).await)
            }
            "sendOrderResponseBySupplierRoute" => ok(orders.respond(&typed(&example)).await),
            "sendDespatchAdviceBySupplierRoute" => ok(client
                .shipments()
                .send_despatch_advice(&typed(&example))
                .await),
            "sendForecastByBuyerRoute" => ok(client.forecasts().send(&typed(&example)).await),
            "sendSlimstockForecastByBuyerRoute" => {
                ok(client.forecasts().send_slimstock(&typed(&example)).await)
            }
            "approveRequestsAsBuyerRoute" => {
                action(orders.approve_requests(ORDER_ID, &typed(&example)).await)
            }
            "rejectRequestsAsBuyerRoute" => {
                action(orders.reject_requests(ORDER_ID, &typed(&example)).await)
            }
            "approveShipmentRescheduleRequestRoute" => action(
                orders
                    .approve_reschedule(ORDER_ID, "0001", &typed(&example))
                    .await,
            ),
            "rejectShipmentRescheduleRequestRoute" => action(
                orders
                    .reject_reschedule(ORDER_ID, "0001", &typed(&example))
                    .await,
            ),
            "completeOrderLines" => action(orders.complete_lines(ORDER_ID, &typed(&example)).await),
            "deliverOrderLines" => action(orders.deliver_lines(ORDER_ID, &typed(&example)).await),
            "revertCancelledOrderLines" => action(
                orders
                    .revert_cancelled_lines(ORDER_ID, &typed(&example))
                    .await,
            ),
            "revertCompletedOrderLines" => action(
                orders
                    .revert_completed_lines(ORDER_ID, &typed(&example))
                    .await,
            ),
            "updateOrderLineDeliverySchedule" => action(
                orders
                    .update_delivery_schedule(ORDER_ID, "0001", &typed(&example))
                    .await,
            ),
            "reassignBuyerContact" => {
                action(orders.reassign_contact(ORDER_ID, &typed(&example)).await)
            }
            "buyerResendOrderRoute" => action(orders.resend(ORDER_ID, &typed(&example)).await),
            other => panic!("no call for {other}"),
        }
        called.insert(example.operation);
    }
    let stats = server.stats();
    for op in api_connector::OPERATIONS.iter().chain(
        order::OPERATIONS
            .iter()
            .filter(|o| o.id != order::operations::GET_ORDER_BY_ID_ROUTE.id),
    ) {
        assert!(called.contains(op.id), "no call sent {op}");
        assert!(stats.requests_for(op.id) >= 1, "the mock saw no {op}");
    }
    assert_eq!(stats.responses_with(400), 0);
}

/// An order action answers `()`: whatever body Tradecloud sends with its
/// `200` (undocumented: JSON, text or none) is not read, so none can fail
/// an action that was taken. A server of the test's own: a login with
/// tokens, then `200` with a body that is not JSON.
#[tokio::test]
async fn an_order_action_answers_unit_whatever_the_body() {
    let base_url = support::scripted_server(|request_line| {
        if request_line.contains("/authentication/login") {
            (
                200,
                "Set-Authorization: access-token\r\nSet-Refresh-Token: refresh-token\r\n",
                "application/json",
                "{}",
            )
        } else {
            (200, "", "text/plain", "OK")
        }
    })
    .await;
    let client = tradecloud::client::Client::builder()
        .base_url(base_url)
        .credentials("integration@example.com", "secret")
        .without_rate_limit()
        .build()
        .expect("a client");
    let lines = actions::OrderLinePositions::builder()
        .line_positions(["0001"])
        .build();
    // `let ()`: the answer is the unit, nothing to read.
    let () = client
        .orders()
        .complete_lines(ORDER_ID, &lines)
        .await
        .expect("taken, although the body is not JSON");
}

/// A control character that is not whitespace (NUL here) in an identifier
/// is refused before anything is sent, naming the member and the code
/// point: the identifier patterns refuse only whitespace, as api/rules.md
/// says, so it used to be sent.
#[tokio::test]
async fn a_control_character_in_an_identifier_is_refused_before_sending() {
    let server = start(MockConfig::new()).await;
    let client = client(&server);
    let mut order = order();
    order.order.purchase_order_number = "PO\u{0}123".into();
    let error = client
        .orders()
        .send(&order)
        .await
        .expect_err("a NUL is refused");
    assert_violations(
        &error,
        &["`order.purchaseOrderNumber` holds the control character U+0000"],
    );
    let mut forecast: connector::SendForecastByBuyer =
        fixture("api-connector", "sendForecastByBuyerRoute.issue-page.json");
    forecast.header.forecast_number = "F\u{0}2024".into();
    let error = client
        .forecasts()
        .send(&forecast)
        .await
        .expect_err("a NUL is refused");
    assert_violations(
        &error,
        &["`header.forecastNumber` holds the control character U+0000"],
    );
    // Not only in identifiers: an ESC in a free text cannot be carried
    // by tXML either. A C1 control (U+0096, a mis-decoded Windows-1252
    // dash) is a character XML carries, and stays allowed.
    let mut order = self::order();
    order.order.description = Some("Q1 \u{96} \u{1b}[1m".into());
    let said = client
        .orders()
        .send(&order)
        .await
        .expect_err("an ESC is refused")
        .to_string();
    assert!(
        said.contains("`order.description` holds the control character U+001B")
            && !said.contains("U+0096")
            && said.contains("was not sent"),
        "{said}"
    );
    let stats = server.stats();
    assert_eq!(stats.api_requests(), 0, "{stats:?}");
    assert_eq!(stats.logins, 0);
    assert!(server.forecasts().is_empty());
}

/// A body that breaks a documented rule is refused with every broken
/// rule, by JSON path, before anything is sent: no login, no request.
#[tokio::test]
async fn a_broken_rule_is_a_typed_error_and_nothing_is_sent() {
    let server = start(MockConfig::new()).await;
    let client = client(&server);
    let mut order = order();
    order.order.purchase_order_number = "PO 123".into();
    order.lines.as_mut().expect("lines")[0].documents = Some(vec![Document::default(); 101]);
    let error = client
        .orders()
        .send(&order)
        .await
        .expect_err("the rules are broken");
    let ClientError::InvalidMessage { violations, .. } = &error else {
        panic!("{error:?}")
    };
    let found: Vec<(String, String)> = violations
        .iter()
        .map(|v| (v.path.clone(), v.rule.to_string()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "lines[0].documents".to_owned(),
                "holds at most 100 items (it has 101)".to_owned()
            ),
            (
                "order.purchaseOrderNumber".to_owned(),
                r#"must be a non-empty identifier without whitespace (it is "PO 123")"#.to_owned()
            ),
        ],
        "{error}"
    );
    assert!(
        error.to_string().contains("was not sent"),
        "the message says nothing was sent: {error}"
    );
    // The table's bounds: `version` is at least 0.
    let contact = actions::ReassignContact::builder()
        .user_id("u1")
        .version(-1)
        .build();
    let error = client
        .orders()
        .reassign_contact(ORDER_ID, &contact)
        .await
        .expect_err("a bound is broken");
    let ClientError::InvalidMessage { violations, .. } = &error else {
        panic!("{error:?}")
    };
    let broken = violations.iter().next().expect("one");
    assert_eq!(broken.path, "version");
    assert!(matches!(broken.rule, Rule::Minimum { .. }), "{broken}");
    // An order response needs a line.
    let empty = connector::SendOrderResponseBySupplier::default();
    assert!(matches!(
        client.orders().respond(&empty).await,
        Err(ClientError::InvalidMessage { .. })
    ));
    let stats = server.stats();
    assert_eq!(stats.api_requests(), 0, "{stats:?}");
    assert_eq!(stats.logins, 0);
    // `encode` checks the same.
    assert!(client.orders().send(&order).encode().is_err());
}

/// Identifiers are unique within their list (api/rules.md; the spec's
/// `x-request-rules` `uniqueBy`): an order with a line position twice, a
/// delivery schedule with a position twice, an order response answering a
/// line twice and a despatch advice with a line position twice are
/// refused before anything is sent, naming the list, the member, the value
/// and both items.
#[tokio::test]
async fn a_repeated_position_is_refused_before_sending() {
    let server = start(MockConfig::new().demo_data()).await;
    let client = client(&server);
    let refused = |error: ClientError| -> Vec<(String, Rule)> {
        let ClientError::InvalidMessage { violations, .. } = &error else {
            panic!("{error:?}")
        };
        violations
            .iter()
            .map(|v| (v.path.clone(), v.rule.clone()))
            .collect()
    };
    let unique = |member: &'static str, value: &str, first: usize, index: usize| Rule::Unique {
        member,
        value: value.into(),
        first,
        index,
    };

    let mut twice = order();
    let lines = twice.lines.as_mut().expect("lines");
    let line = lines[0].clone();
    lines.push(line);
    let error = client
        .orders()
        .send(&twice)
        .await
        .expect_err("a position twice");
    assert!(
        error.to_string().contains(
            r#"`lines` holds `position` "0001" more than once (items [0] and [1]); it must be unique within the list: give each item its own `position`"#
        ),
        "{error}"
    );
    assert_eq!(
        refused(error),
        [("lines".to_owned(), unique("position", "0001", 0, 1))]
    );

    let mut schedule = order();
    let line = &mut schedule.lines.as_mut().expect("lines")[0];
    let delivery: connector::SendOrderByBuyer = serde_json::from_value(serde_json::json!({
        "order": {"supplierAccountNumber": "S1", "purchaseOrderNumber": "PO1"},
        "lines": [{"position": "1", "deliverySchedule": [
            {"position": "1", "quantity": 1}, {"quantity": 2}, {"quantity": 3},
            {"position": ""}, {"position": "1", "quantity": 4}
        ]}]
    }))
    .expect("decodes");
    line.delivery_schedule = delivery.lines.expect("lines")[0].delivery_schedule.clone();
    assert_eq!(
        refused(client.orders().send(&schedule).await.expect_err("twice")),
        [(
            "lines[0].deliverySchedule".to_owned(),
            unique("position", "1", 0, 4)
        )],
        "absent and blank positions repeat nothing"
    );

    let mut response: connector::SendOrderResponseBySupplier = fixture(
        "api-connector",
        "sendOrderResponseBySupplierRoute.line-acceptance.json",
    );
    let line = response.lines[0].clone();
    let position = line.purchase_order_line_position.clone();
    response.lines.push(line);
    let last = response.lines.len() - 1;
    let found = refused(client.orders().respond(&response).await.expect_err("twice"));
    assert!(
        found.contains(&(
            "lines".to_owned(),
            unique("purchaseOrderLinePosition", &position, 0, last)
        )),
        "{found:?}"
    );

    let mut advice: connector::SendDespatchAdviceBySupplier = fixture(
        "api-connector",
        "sendDespatchAdviceBySupplierRoute.send-despatch-advice-page.json",
    );
    let lines = advice.lines.as_mut().expect("lines");
    let mut line = lines[0].clone();
    let position = line.despatch_advice_line_position.clone();
    // Compared trimmed, as tXML reads it.
    line.despatch_advice_line_position = format!("{position} ");
    lines.push(line);
    let last = lines.len() - 1;
    let found = refused(
        client
            .shipments()
            .send_despatch_advice(&advice)
            .await
            .expect_err("twice"),
    );
    assert!(
        found.contains(&(
            "lines".to_owned(),
            unique("despatchAdviceLinePosition", &position, 0, last)
        )),
        "{found:?}"
    );

    let stats = server.stats();
    assert_eq!(stats.api_requests(), 0, "nothing was sent: {stats:?}");
    assert_eq!(stats.logins, 0);
}

/// The ERP times go out in the documented local form
/// (`yyyy-MM-ddTHH:mm:ss`): one built from a `chrono::NaiveDateTime` is
/// sent and accepted, as JSON and as tXML; an instant with a zone (what
/// `From<chrono::DateTime<Utc>>` writes) is refused before anything is
/// sent, saying the form.
#[tokio::test]
async fn erp_times_are_sent_in_the_documented_local_form() {
    use chrono::{NaiveDate, TimeZone as _, Utc};
    use tradecloud::types::DateTime;
    let server = start(MockConfig::new()).await;
    let client = client(&server);
    let issued = NaiveDate::from_ymd_opt(2026, 1, 20)
        .and_then(|d| d.and_hms_milli_opt(9, 15, 0, 250))
        .expect("a time");
    let mut order = order();
    order.erp_issue_date_time = Some(DateTime::from(issued));
    order.erp_last_change_date_time = Some(DateTime::from(issued));
    for format in [WireFormat::Json, WireFormat::Txml] {
        let answer = client
            .orders()
            .send(&order)
            .format(format)
            .await
            .unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!(answer.ok, Some(true));
    }
    let encoded = client.orders().send(&order).encode().expect("encodes");
    let text = String::from_utf8(encoded.body).expect("UTF-8");
    assert!(
        text.contains(r#""erpIssueDateTime":"2026-01-20T09:15:00""#),
        "{text}"
    );
    let sent = server.stats().api_requests();

    let instant = Utc
        .with_ymd_and_hms(2026, 1, 20, 9, 15, 0)
        .single()
        .expect("a time");
    order.erp_issue_date_time = Some(DateTime::from(instant));
    let error = client.orders().send(&order).await.expect_err("zoned");
    let ClientError::InvalidMessage { violations, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(
        violations.to_string(),
        "`erpIssueDateTime` must be a local date and time YYYY-MM-DDThh:mm:ss without zone or \
         fraction of a second, e.g. 2019-12-31T10:11:12 (it is \"2026-01-20T09:15:00.000Z\")"
    );
    assert_eq!(server.stats().api_requests(), sent, "nothing more was sent");
}

/// The dates of a despatch advice whose pages give no format go out as
/// api/standards.md says (`YYYY-MM-DD`): a zoned departure date-time and a
/// date-time in `backorderDate` (both read by `Date`, as Tradecloud may
/// send them) are refused before anything is sent, each saying the form;
/// the same advice with plain dates is sent and accepted.
#[tokio::test]
async fn despatch_advice_dates_are_sent_in_the_documented_form() {
    use tradecloud::types::Date;
    let server = start(MockConfig::new()).await;
    let client = client(&server);
    let good: connector::SendDespatchAdviceBySupplier = fixture(
        "api-connector",
        "sendDespatchAdviceBySupplierRoute.send-despatch-advice-page.json",
    );
    let mut advice = good.clone();
    let departure = advice
        .header
        .shipment
        .as_mut()
        .and_then(|s| s.departure.as_mut())
        .expect("a departure");
    departure.actual_date = Some(
        "2026-02-03T07:45:00+01:00"
            .parse::<Date>()
            .expect("a date-time"),
    );
    let lines = advice.lines.as_mut().expect("lines");
    lines[0].backorder_date = Some("2026-04-01T00:00:00".parse::<Date>().expect("a date-time"));
    let error = client
        .shipments()
        .send_despatch_advice(&advice)
        .await
        .expect_err("date-times in date members");
    assert_violations(
        &error,
        &[
            "`header.shipment.departure.actualDate` must be a date YYYY-MM-DD without time or \
             zone, e.g. 2019-12-31 (it is \"2026-02-03T07:45:00+01:00\")",
            "`lines[0].backorderDate` must be a date YYYY-MM-DD without time or zone, e.g. \
             2019-12-31 (it is \"2026-04-01T00:00:00\")",
        ],
    );
    assert_eq!(server.stats().api_requests(), 0, "nothing was sent");

    let answer = client
        .shipments()
        .send_despatch_advice(&good)
        .await
        .expect("plain dates are sent");
    assert_eq!(answer.ok, Some(true));
}

/// The order API's delivery schedule logistics go out with `etd` and `eta`
/// in the documented form (`YYYY-MM-DD`, api/standards.md; their request
/// rule in specs/order.yaml): a zoned date-time in `etd` and a local one in
/// `eta` (both read by `Date`, as Tradecloud may send them) are refused
/// before anything is sent, each saying the form; plain dates are sent.
#[tokio::test]
async fn delivery_schedule_etd_and_eta_are_sent_in_the_documented_form() {
    use tradecloud::types::Date;
    let server = start(MockConfig::new().demo_data()).await;
    let client = client(&server);
    let logistics = |etd: &str, eta: &str| actions::UpdateOrderLineDeliverySchedule {
        delivery_schedule: vec![actions::DeliveryScheduleLogistics {
            position: "0001".into(),
            etd: Some(etd.parse::<Date>().expect("a date")),
            eta: Some(eta.parse::<Date>().expect("a date")),
            ..Default::default()
        }],
        ..Default::default()
    };
    let dated = logistics("2026-02-03T07:45:00+01:00", "2026-04-01T00:00:00");
    let error = client
        .orders()
        .update_delivery_schedule(ORDER_ID, "0001", &dated)
        .await
        .expect_err("date-times in date members");
    assert_violations(
        &error,
        &[
            "`deliverySchedule[0].etd` must be a date YYYY-MM-DD without time or zone, e.g. \
             2019-12-31 (it is \"2026-02-03T07:45:00+01:00\")",
            "`deliverySchedule[0].eta` must be a date YYYY-MM-DD without time or zone, e.g. \
             2019-12-31 (it is \"2026-04-01T00:00:00\")",
        ],
    );
    assert_eq!(server.stats().api_requests(), 0, "nothing was sent");

    let () = client
        .orders()
        .update_delivery_schedule(ORDER_ID, "0001", &logistics("2026-02-03", "2026-04-01"))
        .await
        .expect("plain dates are sent");
    assert_eq!(
        server
            .stats()
            .requests_for(order::operations::UPDATE_ORDER_LINE_DELIVERY_SCHEDULE.id),
        1
    );
}

/// tXML where the operation table says the spec takes
/// `application/xml`, an error before sending everywhere else.
#[tokio::test]
async fn txml_only_where_the_spec_takes_it() {
    let server = start(MockConfig::new()).await;
    let client = client(&server);
    let order = order();
    let message = client.orders().send(&order).format(WireFormat::Txml);
    let encoded = message.encode().expect("encodes");
    assert_eq!(encoded.content_type, "application/xml");
    let text = String::from_utf8(encoded.body).expect("UTF-8");
    assert!(text.contains("<SendOrderByBuyer>"), "{text}");
    assert!(text.contains("<purchaseOrderNumber>"), "{text}");
    let answer = message.await.expect("the mock reads the tXML");
    assert_eq!(answer.ok, Some(true));
    let response: connector::SendOrderResponseBySupplier = fixture(
        "api-connector",
        "sendOrderResponseBySupplierRoute.detailed.json",
    );
    client
        .orders()
        .respond(&response)
        .format(WireFormat::Txml)
        .await
        .expect("accepted as tXML");
    let stats = server.stats();
    assert_eq!(
        stats.requests_for(connector_ops::SEND_ORDER_BY_BUYER_ROUTE.id),
        1
    );
    assert_eq!(stats.responses_with(400) + stats.responses_with(415), 0);

    // Indicators are JSON only: refused before sending.
    let indicators: connector::SendOrderIndicatorsByBuyer = fixture(
        "api-connector",
        "sendOrderIndicatorsByBuyerRoute.cancel-page.json",
    );
    let error = client
        .orders()
        .send_indicators(&indicators)
        .format(WireFormat::Txml)
        .await
        .expect_err("JSON only");
    assert!(
        matches!(error, ClientError::InvalidRequest { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("application/json"), "{error}");
    assert_eq!(
        server
            .stats()
            .requests_for(connector_ops::SEND_ORDER_INDICATORS_BY_BUYER_ROUTE.id),
        0
    );
}

/// tXML on the wire: what reaches the server is the tXML the message
/// encodes to, with its media type (a server of the test's own, which
/// keeps what it receives).
#[tokio::test]
async fn the_txml_body_is_what_goes_on_the_wire() {
    let (requests, mut received) = tokio::sync::mpsc::unbounded_channel();
    let url = support::recording_server(move |head, body| {
        let _ = requests.send((head.to_owned(), body.to_vec()));
        (200, "", "application/json", r#"{"ok":true}"#)
    })
    .await;
    let client = tradecloud::client::Client::builder()
        .base_url(url)
        .credentials("integration@example.com", "secret")
        .auth_mode(tradecloud::client::AuthMode::BasicEveryRequest)
        .build()
        .expect("a client");
    let order = order();
    let expected = client
        .orders()
        .send(&order)
        .format(WireFormat::Txml)
        .encode()
        .expect("encodes")
        .body;
    client
        .orders()
        .send(&order)
        .format(WireFormat::Txml)
        .await
        .expect("answered");
    let (head, body) = received.recv().await.expect("the request");
    assert!(
        head.starts_with("POST /v2/api-connector/order HTTP/1.1"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/xml"),
        "{head}"
    );
    assert!(head.to_ascii_lowercase().contains("authorization: basic "));
    assert_eq!(body, expected);
}

fn fault(status: u16, first: u64, op: &str) -> FaultConfig {
    FaultConfig::status(status, FaultTrigger::FirstN(first)).for_operations([op])
}

/// Orders, responses, indicators, delivery history and despatch advices
/// are updates with the same data when sent again: retried on `5xx`.
#[tokio::test]
async fn updates_are_retried_on_server_errors() {
    let server = start(MockConfig::new()).await;
    let client = client(&server);
    let order = order();
    let message = client.orders().send(&order);
    assert_eq!(message.resend(), Resend::Always);
    server
        .set_faults(vec![fault(
            503,
            2,
            connector_ops::SEND_ORDER_BY_BUYER_ROUTE.id,
        )])
        .expect("a fault");
    message.await.expect("the third attempt succeeds");
    assert_eq!(
        server
            .stats()
            .requests_for(connector_ops::SEND_ORDER_BY_BUYER_ROUTE.id),
        3
    );
    let advice: connector::SendDespatchAdviceBySupplier = fixture(
        "api-connector",
        "sendDespatchAdviceBySupplierRoute.send-despatch-advice-page.json",
    );
    let op = connector_ops::SEND_DESPATCH_ADVICE_BY_SUPPLIER_ROUTE.id;
    server.set_faults(vec![fault(502, 1, op)]).expect("a fault");
    client
        .shipments()
        .send_despatch_advice(&advice)
        .await
        .expect("retried");
    assert_eq!(server.stats().requests_for(op), 2);
}

/// Deliveries are appended: a `5xx` after the request went out is not
/// retried, and the error says why and what to do; a `429` (refused
/// unread) is.
#[tokio::test]
async fn appending_deliveries_is_not_repeated_after_the_request_went_out() {
    let server = start(MockConfig::new()).await;
    let client = client(&server);
    let deliveries: connector::SendOrderDeliveriesByBuyer = fixture(
        "api-connector",
        "sendOrderDeliveriesByBuyer.receive-goods-page.json",
    );
    let op = connector_ops::SEND_ORDER_DELIVERIES_BY_BUYER.id;
    let message = client.orders().send_deliveries(&deliveries);
    assert_eq!(message.resend(), Resend::IfNotReceived);
    server.set_faults(vec![fault(503, 1, op)]).expect("a fault");
    let error = message.await.expect_err("not sent again");
    assert!(
        matches!(
            error,
            ClientError::NotResent {
                status: Some(503),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.is_transient());
    let text = error.to_string();
    assert!(text.contains("not sent again"), "{text}");
    assert!(text.contains("send_delivery_history"), "{text}");
    assert_eq!(server.stats().requests_for(op), 1);

    server
        .set_faults(vec![FaultConfig::too_many_requests(
            0,
            FaultTrigger::FirstN(2),
        )
        .for_operations([op])])
        .expect("a fault");
    client
        .orders()
        .send_deliveries(&deliveries)
        .await
        .expect("a 429 is retried");
    assert_eq!(server.stats().requests_for(op), 4);
}

/// No answer in time: an update is sent again, an append is not.
#[tokio::test]
async fn time_outs_follow_the_resend_rule() {
    let server = start(MockConfig::new()).await;
    let client = builder(&server)
        .timeout(Duration::from_millis(500))
        .build()
        .expect("a client");
    client.login().await.expect("logged in");
    let history: connector::SendOrderDeliveryHistoryByBuyer = fixture(
        "api-connector",
        "sendOrderDeliveryHistoryByBuyer.receive-goods-page.json",
    );
    let deliveries: connector::SendOrderDeliveriesByBuyer = fixture(
        "api-connector",
        "sendOrderDeliveriesByBuyer.receive-goods-page.json",
    );
    let slow = |op: &str| {
        FaultConfig::delay(Duration::from_secs(2), FaultTrigger::FirstN(1)).for_operations([op])
    };
    let history_op = connector_ops::SEND_ORDER_DELIVERY_HISTORY_BY_BUYER.id;
    server.set_faults(vec![slow(history_op)]).expect("a fault");
    client
        .orders()
        .send_delivery_history(&history)
        .await
        .expect("sent again after the time-out");
    assert_eq!(server.stats().requests_for(history_op), 2);

    let deliveries_op = connector_ops::SEND_ORDER_DELIVERIES_BY_BUYER.id;
    server
        .set_faults(vec![slow(deliveries_op)])
        .expect("a fault");
    let error = client
        .orders()
        .send_deliveries(&deliveries)
        .await
        .expect_err("not sent again");
    assert!(
        matches!(error, ClientError::NotResent { status: None, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("no answer in time"), "{error}");
    assert_eq!(server.stats().requests_for(deliveries_op), 1);
}

/// Documents with a code replace themselves when sent again
/// (attach-document-api.md); without one they would be appended.
#[tokio::test]
async fn attaching_documents_is_retried_only_when_every_document_has_a_code() {
    let server = start(MockConfig::new()).await;
    let client = client(&server);
    let mut documents: connector::AttachOrderDocumentsByBuyer = fixture(
        "api-connector",
        "attachOrderDocumentsByBuyerRoute.attach-document-api-page.json",
    );
    let op = connector_ops::ATTACH_ORDER_DOCUMENTS_BY_BUYER_ROUTE.id;
    assert_eq!(
        client.orders().attach_documents(&documents).resend(),
        Resend::Always
    );
    server.set_faults(vec![fault(503, 1, op)]).expect("a fault");
    client
        .orders()
        .attach_documents(&documents)
        .await
        .expect("retried");
    assert_eq!(server.stats().requests_for(op), 2);

    documents.order.documents = Some(vec![Document::builder().name("no code").build()]);
    let message = client.orders().attach_documents(&documents);
    assert_eq!(message.resend(), Resend::IfNotReceived);
    server.set_faults(vec![fault(503, 1, op)]).expect("a fault");
    let error = message.await.expect_err("not sent again");
    assert!(error.to_string().contains("`code`"), "{error}");
    assert_eq!(server.stats().requests_for(op), 3);
}

/// An order, a single delivery order and an order response carry
/// documents too, and a document without a code "will be appended"
/// (attach-document-api.md, send-order-response/attach-document.md): with
/// one in the header or a line, a `5xx` or a time-out after the message
/// went out is not sent again; with codes on all, it is.
#[tokio::test]
async fn messages_with_documents_without_a_code_are_not_sent_again() {
    let server = start(MockConfig::new()).await;
    let client = builder(&server)
        .timeout(Duration::from_millis(500))
        .build()
        .expect("a client");
    client.login().await.expect("logged in");
    let coded = |code: &str| Document::builder().code(code).name("spec.pdf").build();
    let code_less = || Document::builder().name("spec.pdf").build();
    let slow = |op: &str| {
        FaultConfig::delay(Duration::from_secs(2), FaultTrigger::FirstN(1)).for_operations([op])
    };

    // The order: a code-less document on a line.
    let op = connector_ops::SEND_ORDER_BY_BUYER_ROUTE.id;
    let mut order = order();
    order.order.documents = Some(vec![coded("TERMS")]);
    let lines = order.lines.as_mut().expect("lines");
    lines[0].documents = Some(vec![code_less()]);
    let message = client.orders().send(&order);
    assert_eq!(message.resend(), Resend::IfNotReceived);
    server.set_faults(vec![fault(503, 1, op)]).expect("a fault");
    let error = message.await.expect_err("not sent again");
    assert!(
        matches!(
            error,
            ClientError::NotResent {
                status: Some(503),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("`code`"), "{error}");
    assert_eq!(server.stats().requests_for(op), 1);
    server.set_faults(vec![slow(op)]).expect("a fault");
    let error = client
        .orders()
        .send(&order)
        .await
        .expect_err("not sent again");
    assert!(
        matches!(error, ClientError::NotResent { status: None, .. }),
        "{error:?}"
    );
    assert_eq!(server.stats().requests_for(op), 2);
    // With a code, the same order is retried after either.
    let lines = order.lines.as_mut().expect("lines");
    lines[0].documents = Some(vec![coded("DRAWING")]);
    assert_eq!(client.orders().send(&order).resend(), Resend::Always);
    server.set_faults(vec![fault(503, 1, op)]).expect("a fault");
    client.orders().send(&order).await.expect("retried");
    assert_eq!(server.stats().requests_for(op), 4);
    server.set_faults(vec![slow(op)]).expect("a fault");
    client.orders().send(&order).await.expect("retried");
    assert_eq!(server.stats().requests_for(op), 6);

    // A single delivery order: a code-less document on the header.
    let op = connector_ops::SEND_SINGLE_DELIVERY_ORDER_BY_BUYER_ROUTE.id;
    let mut single: connector::SendSingleDeliveryOrderByBuyer = fixture(
        "api-connector",
        "sendSingleDeliveryOrderByBuyerRoute.guide.json",
    );
    assert_eq!(
        client.single_delivery_orders().send(&single).resend(),
        Resend::Always
    );
    single.order.documents = Some(vec![code_less()]);
    server.set_faults(vec![fault(502, 1, op)]).expect("a fault");
    let error = client
        .single_delivery_orders()
        .send(&single)
        .await
        .expect_err("not sent again");
    assert!(
        matches!(
            error,
            ClientError::NotResent {
                status: Some(502),
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(server.stats().requests_for(op), 1);
    single.order.documents = Some(vec![coded("TERMS")]);
    server.set_faults(vec![fault(502, 1, op)]).expect("a fault");
    client
        .single_delivery_orders()
        .send(&single)
        .await
        .expect("retried");
    assert_eq!(server.stats().requests_for(op), 3);

    // An order response: a blank code is no code.
    let op = connector_ops::SEND_ORDER_RESPONSE_BY_SUPPLIER_ROUTE.id;
    let mut response: connector::SendOrderResponseBySupplier = fixture(
        "api-connector",
        "sendOrderResponseBySupplierRoute.detailed.json",
    );
    assert_eq!(client.orders().respond(&response).resend(), Resend::Always);
    server.set_faults(vec![fault(503, 1, op)]).expect("a fault");
    client.orders().respond(&response).await.expect("retried");
    assert_eq!(server.stats().requests_for(op), 2);
    response.lines[0].documents = Some(vec![coded(" ")]);
    server.set_faults(vec![fault(503, 1, op)]).expect("a fault");
    let error = client
        .orders()
        .respond(&response)
        .await
        .expect_err("not sent again");
    assert!(
        matches!(
            error,
            ClientError::NotResent {
                status: Some(503),
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(server.stats().requests_for(op), 3);
}

/// A connection that cannot be made is retried also for a call that is
/// not repeated otherwise: nothing reached Tradecloud.
#[tokio::test]
async fn a_refused_connection_is_retried_for_every_call() {
    // Nothing listens there, and no other test's bind(0) can take it.
    let addr = format!("127.0.0.1:{}", crate::port_support::free_port());
    let client = tradecloud::client::Client::builder()
        .base_url(format!("http://{addr}/v2"))
        .credentials("integration@example.com", "secret")
        .auth_mode(tradecloud::client::AuthMode::BasicEveryRequest)
        .retry_policy(
            RetryPolicy::default()
                .max_retries(2)
                .base_delay(Duration::from_millis(1)),
        )
        .build()
        .expect("a client");
    let deliveries: connector::SendOrderDeliveriesByBuyer = fixture(
        "api-connector",
        "sendOrderDeliveriesByBuyer.receive-goods-page.json",
    );
    let error = client
        .orders()
        .send_deliveries(&deliveries)
        .await
        .expect_err("nothing listens");
    assert!(
        matches!(error, ClientError::Connect { proxied: false, .. }),
        "{error:?}"
    );
    // The SDK's advice, not the command line's.
    let text = error.to_string();
    assert!(text.contains("base URL given to the client"), "{text}");
    assert!(!text.contains("--base-url"), "{text}");
    assert_eq!(client.stats().retries, 2);
}

/// A forecast is appended, never updated (forecast/issue.md,
/// forecast/slimstock.md): both forecast calls are sent again only when
/// the mock provably did not take them (a `429`), never after a `5xx`
/// once the request went out, and the error says why.
#[tokio::test]
async fn a_forecast_is_not_sent_again_after_the_request_went_out() {
    let server = start(MockConfig::new()).await;
    let client = client(&server);
    let forecast: connector::SendForecastByBuyer =
        fixture("api-connector", "sendForecastByBuyerRoute.issue-page.json");
    let slimstock: connector::SendSlimstockForecastByBuyer = fixture(
        "api-connector",
        "sendSlimstockForecastByBuyerRoute.slimstock-page.json",
    );
    let plain = connector_ops::SEND_FORECAST_BY_BUYER_ROUTE.id;
    let slim = connector_ops::SEND_SLIMSTOCK_FORECAST_BY_BUYER_ROUTE.id;
    assert_eq!(
        client.forecasts().send(&forecast).resend(),
        Resend::IfNotReceived
    );
    assert_eq!(
        client.forecasts().send_slimstock(&slimstock).resend(),
        Resend::IfNotReceived
    );
    server
        .set_faults(vec![fault(503, 1, plain), fault(502, 1, slim)])
        .expect("faults");
    for error in [
        client
            .forecasts()
            .send(&forecast)
            .await
            .expect_err("not sent again"),
        client
            .forecasts()
            .send_slimstock(&slimstock)
            .await
            .expect_err("not sent again"),
    ] {
        assert!(
            matches!(
                error,
                ClientError::NotResent {
                    status: Some(502 | 503),
                    ..
                }
            ),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(text.contains("append it twice"), "{text}");
    }
    assert_eq!(server.stats().requests_for(plain), 1);
    assert_eq!(server.stats().requests_for(slim), 1);
    assert!(server.forecasts().is_empty());

    server
        .set_faults(vec![FaultConfig::too_many_requests(
            0,
            FaultTrigger::FirstN(1),
        )
        .for_operations([plain])])
        .expect("a fault");
    client
        .forecasts()
        .send(&forecast)
        .await
        .expect("a 429 is retried");
    assert_eq!(server.forecasts().len(), 1);
}

/// The forecast rules are checked before sending: the forecast number
/// without whitespace, at most 500 lines, the mandatory item members,
/// dates as `YYYY-MM-DD` and `YYYY-MM-DDThh:mm:ss`; nothing reaches the
/// mock.
#[tokio::test]
async fn a_forecast_breaking_a_documented_rule_is_not_sent() {
    let server = start(MockConfig::new()).await;
    let client = client(&server);
    let mut forecast: connector::SendForecastByBuyer =
        fixture("api-connector", "sendForecastByBuyerRoute.issue-page.json");
    forecast.header.forecast_number = "FC 1".into();
    forecast.lines[0].item.buyer_item_name = String::new();
    forecast.issue_date_time = Some("2023-12-20T08:30:00Z".parse().expect("a date-time"));
    let schedule = forecast.lines[0].schedule.as_mut().expect("a schedule");
    schedule[0].start_date = Some(
        "2024-01-01T00:00:00"
            .parse::<tradecloud::types::Date>()
            .expect("a date"),
    );
    let error = client
        .forecasts()
        .send(&forecast)
        .await
        .expect_err("refused");
    assert_violations(
        &error,
        &[
            "header.forecastNumber",
            "lines[0].item.buyerItemName",
            "lines[0].schedule[0].startDate",
            "issueDateTime",
        ],
    );

    let mut slimstock: connector::SendSlimstockForecastByBuyer = fixture(
        "api-connector",
        "sendSlimstockForecastByBuyerRoute.slimstock-page.json",
    );
    let line = slimstock.lines[0].clone();
    slimstock.lines = vec![line; 501];
    let error = client
        .forecasts()
        .send_slimstock(&slimstock)
        .await
        .expect_err("refused");
    assert_violations(&error, &["lines"]);
    assert_eq!(
        server
            .stats()
            .requests_for(connector_ops::SEND_FORECAST_BY_BUYER_ROUTE.id),
        0
    );
    assert_eq!(
        server
            .stats()
            .requests_for(connector_ops::SEND_SLIMSTOCK_FORECAST_BY_BUYER_ROUTE.id),
        0
    );
}
