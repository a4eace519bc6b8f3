//! The mock accepts the write operations (`specs/api-connector.yaml`, the
//! order actions of `specs/order.yaml`, the document upload) over real HTTP,
//! without state: the documentation's example bodies and Tradecloud's own
//! published ones get the status Tradecloud documents, a body that breaks a
//! documented rule a `400` naming the member, and an uploaded file comes
//! back from the download routes.

#![cfg(feature = "mock")]

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tradecloud::api::{api_connector, object_storage, order};
use tradecloud::mock::{MockConfig, MockServer, MAX_UPLOAD_BYTES};
use tradecloud::operation::{MediaKind, Operation};

use crate::request_examples as examples;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

async fn start() -> MockServer {
    MockServer::start(MockConfig::new().demo_data())
        .await
        .expect("the mock starts")
}

/// The operation with this id, from the operation tables.
fn operation(id: &str) -> &'static Operation {
    [api_connector::OPERATIONS, order::OPERATIONS]
        .into_iter()
        .flatten()
        .find(|o| o.id == id)
        .unwrap_or_else(|| panic!("no operation {id}"))
}

/// The demo data's order (tests/fixtures/api/order.json): an order
/// action on an id the mock does not know is a `404`.
const DEMO_ORDER_ID: &str = "4fd2a3c0-6b1e-4e8b-9c2a-1d3e5f7a9b0c";

/// The URL of `op` with its path parameters filled in.
fn url(server: &MockServer, op: &Operation) -> String {
    let path = op
        .path
        .split('/')
        .map(|s| match s {
            "{orderId}" => DEMO_ORDER_ID,
            _ if s.starts_with('{') => "0001",
            _ => s,
        })
        .collect::<Vec<_>>()
        .join("/");
    format!("{}{path}", server.base_url())
}

/// POSTs `body` to `op` with Basic credentials where the spec takes
/// them, else a token.
async fn post(
    client: &reqwest::Client,
    server: &MockServer,
    op: &Operation,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let credentials = server.credentials();
    let mut request = client
        .post(url(server, op))
        .header("Content-Type", content_type)
        .body(body);
    request = if op.accepts(tradecloud::operation::AuthScheme::Basic) {
        request.basic_auth(&credentials.username, Some(&credentials.password))
    } else {
        request.bearer_auth(token(client, server).await)
    };
    let response = request.send().await.expect("answered");
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

async fn token(client: &reqwest::Client, server: &MockServer) -> String {
    let credentials = server.credentials();
    let response = client
        .get(format!("{}/authentication/login", server.base_url()))
        .basic_auth(&credentials.username, Some(&credentials.password))
        .send()
        .await
        .expect("login is answered");
    response
        .headers()
        .get("Set-Authorization")
        .and_then(|v| v.to_str().ok())
        .expect("a token")
        .to_owned()
}

fn expected_answer(op: &Operation) -> Value {
    if op.path.starts_with("/api-connector") {
        serde_json::json!({"ok": true})
    } else {
        serde_json::json!({})
    }
}

#[tokio::test]
async fn every_documentation_example_is_accepted_with_the_documented_answer() {
    let server = start().await;
    let client = http();
    let mut checked = 0;
    for example in examples::documentation_examples() {
        let op = operation(example.operation);
        let media = if example.is_xml() {
            "application/xml"
        } else {
            "application/json"
        };
        let (status, body) = post(&client, &server, op, media, example.bytes).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", example.path);
        assert_eq!(body, expected_answer(op), "{}", example.path);
        checked += 1;
    }
    assert!(checked >= 30, "{checked}");
    let stats = server.stats();
    assert_eq!(stats.requests_for("sendOrderByBuyerRoute"), 5);
    assert_eq!(stats.requests_for("reassignBuyerContact"), 1);
}

#[tokio::test]
async fn tradecloud_published_examples_are_accepted() {
    let Some(examples) = examples::tradecloud_examples() else {
        return;
    };
    let server = start().await;
    let client = http();
    let mut accepted = 0;
    for example in examples {
        let op = operation(example.operation);
        let media = if example.is_xml() {
            "application/xml"
        } else {
            "application/json"
        };
        let (status, body) = post(&client, &server, op, media, example.bytes).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", example.path);
        accepted += 1;
    }
    assert!(accepted >= 25, "only {accepted}");
}

#[tokio::test]
async fn a_broken_rule_is_a_400_naming_the_member() {
    let server = start().await;
    let client = http();
    let op = &api_connector::operations::SEND_ORDER_BY_BUYER_ROUTE;
    let body = serde_json::json!({
        "order": {"supplierAccountNumber": "S1", "purchaseOrderNumber": "PO 1"},
        "lines": [{"position": "1"}]
    });
    let (status, answer) = post(
        &client,
        &server,
        op,
        "application/json",
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer.to_string().contains("order.purchaseOrderNumber"),
        "{answer}"
    );
    // A required member missing: the decoder names it.
    let (status, answer) = post(
        &client,
        &server,
        op,
        "application/json",
        br#"{"order": {"supplierAccountNumber": "S1"}, "lines": []}"#.to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer.to_string().contains("purchaseOrderNumber"),
        "{answer}"
    );
    // An order response needs a line.
    let (status, answer) = post(
        &client,
        &server,
        &api_connector::operations::SEND_ORDER_RESPONSE_BY_SUPPLIER_ROUTE,
        "application/json",
        br#"{"order": {"buyerAccountNumber": "B1", "purchaseOrderNumber": "PO1"}, "lines": []}"#
            .to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer.to_string().contains("`lines`"), "{answer}");
    // A bound of the operation table (`version` is at least 0).
    let (status, answer) = post(
        &client,
        &server,
        &order::operations::REASSIGN_BUYER_CONTACT,
        "application/json",
        br#"{"userId": "u1", "version": -1}"#.to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer.to_string().contains("`version` must be at least 0"),
        "{answer}"
    );
}

/// An identifier "must not contain whitespace" (api/rules.md,
/// send-despatch-advice.md): a next line (U+0085), whitespace to
/// `str::trim` but not to ECMA's `\s`, and a byte order mark (U+FEFF),
/// the other way round, are refused with a `400` naming the member, in a
/// despatch advice and in an order; the same without them is accepted.
#[tokio::test]
async fn an_identifier_with_a_next_line_or_a_byte_order_mark_is_a_400() {
    let server = start().await;
    let client = http();
    let advice = |number: &str| {
        serde_json::json!({
            "header": {"buyerAccountNumber": "340760", "despatchAdviceNumber": number},
            "lines": [{"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO1",
                       "purchaseOrderLinePosition": "0001", "despatchQuantity": 1}]
        })
    };
    let order = |number: &str| {
        serde_json::json!({
            "order": {"supplierAccountNumber": "S1", "purchaseOrderNumber": number},
            "lines": [{"position": "0001"}]
        })
    };
    let cases = [
        (
            &api_connector::operations::SEND_DESPATCH_ADVICE_BY_SUPPLIER_ROUTE,
            &advice as &dyn Fn(&str) -> Value,
            "header.despatchAdviceNumber",
        ),
        (
            &api_connector::operations::SEND_ORDER_BY_BUYER_ROUTE,
            &order,
            "order.purchaseOrderNumber",
        ),
    ];
    for (op, body, member) in cases {
        for spaced in ["S-1\u{85}", "S\u{feff}-1"] {
            let (status, answer) = post(
                &client,
                &server,
                op,
                "application/json",
                body(spaced).to_string().into_bytes(),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{spaced:?}: {answer}");
            assert!(
                answer.to_string().contains(member)
                    && answer.to_string().contains("without whitespace"),
                "{spaced:?}: {answer}"
            );
        }
        let (status, answer) = post(
            &client,
            &server,
            op,
            "application/json",
            body("S-1").to_string().into_bytes(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
}

/// `null` is refused for the members of request-only schemas (the specs
/// make no such member `nullable`) and read as absent in the shared
/// schemas a webhook body can contain (where the specs say `nullable`).
#[tokio::test]
async fn null_is_refused_where_the_spec_does_not_allow_it() {
    let server = start().await;
    let client = http();
    let op = &api_connector::operations::SEND_ORDER_BY_BUYER_ROUTE;
    let send = |body: Value| {
        post(
            &client,
            &server,
            op,
            "application/json",
            body.to_string().into_bytes(),
        )
    };
    let order = |extra: Value| {
        let mut body = serde_json::json!({
            "order": {"supplierAccountNumber": "S1", "purchaseOrderNumber": "PO1",
                      "contact": {"email": null, "userName": "jdoe"}},
            "lines": [{"position": "1"}]
        });
        if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
            body.extend(extra);
        }
        body
    };
    let (status, answer) = send(order(serde_json::json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = send(order(serde_json::json!({"erpLastChangedBy": null}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer.to_string().contains("`erpLastChangedBy` is null"),
        "{answer}"
    );
    // An unknown member may be null.
    let (status, answer) = send(order(serde_json::json!({"somethingNew": null}))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // A list item never.
    let mut body = order(serde_json::json!({}));
    body["lines"][0]["documents"] = serde_json::json!([null]);
    let (status, _) = send(body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// api/rules.md: identifiers are unique; order/buyer/issue/README.md: a
/// line's `position` "should be unique within the order". The generated
/// rule (`x-request-rules` `uniqueBy`) refuses a repeat with the same `400`
/// whether the order comes as JSON or as tXML (whose reader trims the
/// text, so ` 0001 ` repeats `0001` there).
#[tokio::test]
async fn a_repeated_line_position_is_a_400_in_json_and_in_txml() {
    let server = start().await;
    let client = http();
    let op = &api_connector::operations::SEND_ORDER_BY_BUYER_ROUTE;
    let expected = r#"`lines` holds `position` "0001" more than once (items [0] and [2]); it must be unique within the list: give each item its own `position`"#;
    let json = serde_json::json!({
        "order": {"supplierAccountNumber": "S1", "purchaseOrderNumber": "PO-TWICE-1"},
        "lines": [{"position": "0001"}, {"position": "0002"}, {"position": "0001"}]
    });
    let (status, answer) = post(
        &client,
        &server,
        op,
        "application/json",
        json.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(message.contains(expected), "{answer}");
    let xml = br#"<SendOrderByBuyer><order><supplierAccountNumber>S1</supplierAccountNumber><purchaseOrderNumber>PO-TWICE-1</purchaseOrderNumber></order><line><position>0001</position></line><line><position>0002</position></line><line><position> 0001 </position></line></SendOrderByBuyer>"#;
    let (status, answer) = post(&client, &server, op, "application/xml", xml.to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(message.contains(expected), "{answer}");
    // Each position once: taken.
    let xml = String::from_utf8_lossy(xml).replace("> 0001 <", ">0003<");
    let (status, answer) = post(&client, &server, op, "application/xml", xml.into_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// tXML where the spec takes `application/xml` (read from the operation
/// table), `415` elsewhere.
#[tokio::test]
async fn txml_is_taken_exactly_where_the_spec_says() {
    let server = start().await;
    let client = http();
    let xml = br#"<SendOrderIndicatorsByBuyer><order><purchaseOrderNumber>PO1</purchaseOrderNumber></order></SendOrderIndicatorsByBuyer>"#;
    let mut with_xml = 0;
    for op in api_connector::OPERATIONS {
        let (status, _) = post(&client, &server, op, "application/xml", xml.to_vec()).await;
        if op.accepts_request(MediaKind::Xml) {
            // Accepted as XML; this body is not the operation's message.
            assert_ne!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{op}");
            with_xml += 1;
        } else {
            assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{op}");
        }
    }
    assert_eq!(with_xml, 3);
}

fn form(name: &str, content_type: &str, bytes: Vec<u8>) -> reqwest::multipart::Form {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(content_type)
        .expect("a media type");
    reqwest::multipart::Form::new().part("file", part)
}

#[tokio::test]
async fn an_uploaded_document_is_served_back() {
    let server = start().await;
    let client = http();
    let credentials = server.credentials();
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let response = client
        .post(format!("{}/object-storage/document", server.base_url()))
        .basic_auth(&credentials.username, Some(&credentials.password))
        .multipart(form("confirmation.pdf", "application/pdf", bytes.clone()))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    let answer: object_storage::types::UploadDocumentResponse =
        response.json().await.expect("the documented answer");
    let object_id = answer.id.expect("an objectId");
    assert!(server.data_summary().documents.contains(&object_id));

    let metadata: object_storage::types::DocumentMetadata = client
        .get(format!(
            "{}/object-storage/document/{object_id}/metadata",
            server.base_url()
        ))
        .basic_auth(&credentials.username, Some(&credentials.password))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("metadata");
    assert_eq!(metadata.filename.as_deref(), Some("confirmation.pdf"));
    assert_eq!(metadata.content_type.as_deref(), Some("application/pdf"));
    let url = metadata.download_url.expect("a download URL");
    let downloaded = client.get(url).send().await.expect("answered");
    assert_eq!(downloaded.status(), StatusCode::OK);
    assert_eq!(downloaded.bytes().await.expect("the file").as_ref(), bytes);
    assert_eq!(server.stats().requests_for("uploadDocument"), 1);
}

#[tokio::test]
async fn uploads_that_tradecloud_refuses_are_refused() {
    let server = start().await;
    let client = http();
    let credentials = server.credentials();
    let upload = |form: reqwest::multipart::Form| {
        client
            .post(format!("{}/object-storage/document", server.base_url()))
            .basic_auth(&credentials.username, Some(&credentials.password))
            .multipart(form)
            .send()
    };
    // A blocked extension (security/documents.md).
    let response = upload(form("setup.exe", "application/octet-stream", vec![1, 2]))
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let text = response.text().await.expect("a body");
    assert!(text.contains(".exe"), "{text}");
    // No `file` part.
    let response = upload(reqwest::multipart::Form::new().text("other", "x"))
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // Larger than the mock keeps.
    let response = upload(form(
        "big.pdf",
        "application/pdf",
        vec![0; MAX_UPLOAD_BYTES + 1],
    ))
    .await
    .expect("answered");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(server.data_summary().documents.len(), 4, "nothing stored");
}

/// api/requests.md shows tXML with the order's members right under the
/// root (`<SendOrderByBuyer><companyId>…`), but calls tXML "a 1-on-1
/// translation" of the JSON message, whose example beside it has them in
/// `order`: the example is abbreviated. The mock keeps the JSON shape, and
/// its 400 says how to nest the members.
#[tokio::test]
async fn flat_txml_as_in_the_abbreviated_example_is_told_the_expected_shape() {
    let server = start().await;
    let client = http();
    let op = &api_connector::operations::SEND_ORDER_BY_BUYER_ROUTE;
    let flat = br#"<?xml version="1.0" encoding="UTF-8"?>
<SendOrderByBuyer>
    <companyId>00f03b98-2511-489f-9695-13791b3f66b6</companyId>
    <supplierAccountNumber>12345</supplierAccountNumber>
    <purchaseOrderNumber>PO123456789</purchaseOrderNumber>
</SendOrderByBuyer>"#;
    let (status, answer) = post(&client, &server, op, "application/xml", flat.to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let detail = answer["detail"].as_str().unwrap_or_default();
    for part in [
        "missing field `order`",
        "1-on-1",
        "<SendOrderByBuyer><order>",
    ] {
        assert!(detail.contains(part), "{detail:?} lacks {part:?}");
    }
    // Nested, as the JSON message is, the same members are accepted.
    let nested = br#"<?xml version="1.0" encoding="UTF-8"?>
<SendOrderByBuyer>
    <order>
        <companyId>00f03b98-2511-489f-9695-13791b3f66b6</companyId>
        <supplierAccountNumber>12345</supplierAccountNumber>
        <purchaseOrderNumber>PO123456789</purchaseOrderNumber>
    </order>
</SendOrderByBuyer>"#;
    let (status, answer) = post(&client, &server, op, "application/xml", nested.to_vec()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // The same mistake in JSON keeps the stub's answer.
    let flat_json = br#"{"supplierAccountNumber": "12345", "purchaseOrderNumber": "PO1"}"#;
    let (status, answer) = post(&client, &server, op, "application/json", flat_json.to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!answer["detail"]
        .as_str()
        .unwrap_or_default()
        .contains("1-on-1"));
}

/// The mock holds a request to the rules for requests on the types webhook
/// bodies share (`x-request-rules`), as Tradecloud would: whitespace in an
/// item number and a price without its transaction currency are a 400
/// naming the members.
#[tokio::test]
async fn a_broken_request_rule_of_a_shared_type_is_a_400() {
    let server = start().await;
    let client = http();
    let body = serde_json::json!({
        "order": {"supplierAccountNumber": "S1", "purchaseOrderNumber": "PO1"},
        "lines": [{"position": "1", "item": {"number": "12 345"},
                   "prices": {"netPrice": {"priceInBaseCurrency": {"value": 1, "currencyIso": "EUR"}}}}]
    });
    let (status, answer) = post(
        &client,
        &server,
        &api_connector::operations::SEND_ORDER_BY_BUYER_ROUTE,
        "application/json",
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let answer = answer.to_string();
    assert!(answer.contains("lines[0].item.number"), "{answer}");
    assert!(
        answer.contains("lines[0].prices.netPrice.priceInTransactionCurrency"),
        "{answer}"
    );
}

/// api/rules.md: "500 lines in total per order". The lines of an order
/// merge across messages (the lines not sent stay), so a message whose
/// new lines would take the stored order past 500 is a `400` naming the
/// limit and the count, and nothing of it is stored; lines the order has
/// are updated as before.
#[tokio::test]
async fn an_order_is_limited_to_500_lines_in_total() {
    let server = start().await;
    let client = http();
    let op = &api_connector::operations::SEND_ORDER_BY_BUYER_ROUTE;
    let send = |positions: std::ops::RangeInclusive<usize>| {
        let body = serde_json::json!({
            "order": {"supplierAccountNumber": server.buyer().partner_account_number,
                      "purchaseOrderNumber": "PO-500-LINES"},
            "lines": positions
                .map(|i| serde_json::json!({"position": format!("{i:04}")}))
                .collect::<Vec<_>>()
        });
        post(
            &client,
            &server,
            op,
            "application/json",
            body.to_string().into_bytes(),
        )
    };
    let (status, answer) = send(1..=400).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // 100 lines it has and 100 new: 500 in all.
    let (status, answer) = send(301..=500).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // Ten lines it has and one new: 501.
    let (status, answer) = send(491..=501).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("PO-500-LINES")
            && message.contains("501 lines")
            && message.contains("at most 500 lines in total per order"),
        "{message}"
    );
    // Nothing of it was stored: line 0501 is still new.
    let (status, _) = send(501..=501).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The lines it has can still be updated.
    let (status, answer) = send(1..=500).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// POSTs `body` to `op` as JSON and as the same message in tXML: the two
/// answers.
async fn as_json_and_txml(
    client: &reqwest::Client,
    server: &MockServer,
    op: &Operation,
    shape: &'static tradecloud::webhook::txml::Shape,
    body: &Value,
) -> [(StatusCode, Value); 2] {
    let xml = tradecloud::webhook::txml::to_xml(body, shape).expect("the message as tXML");
    [
        post(
            client,
            server,
            op,
            "application/json",
            body.to_string().into_bytes(),
        )
        .await,
        post(client, server, op, "application/xml", xml).await,
    ]
}

/// A blank text is as empty in JSON as tXML reads it (the tXML reader trims
/// an element's text): a despatch advice location `id` of `" "`, or of a
/// no-break space, breaks `minLength` like an empty one; padding does not
/// count. (The despatch advice is JSON only; `request_bodies` reads the
/// same message as tXML.)
#[tokio::test]
async fn a_blank_text_breaks_min_length() {
    let server = start().await;
    let client = http();
    let op = &api_connector::operations::SEND_DESPATCH_ADVICE_BY_SUPPLIER_ROUTE;
    let advice = |id: &str| {
        serde_json::json!({
            "header": {"buyerAccountNumber": "B1", "despatchAdviceNumber": "DA1",
                       "shipment": {"departure": {"location": {"id": id}}}},
            "lines": [{"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO1",
                       "purchaseOrderLinePosition": "0001", "despatchQuantity": 1}]
        })
        .to_string()
        .into_bytes()
    };
    for blank in [" ", "\t\n", "\u{a0}", "\u{3000}"] {
        let (status, answer) = post(&client, &server, op, "application/json", advice(blank)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{blank:?}: {answer}");
        assert!(
            answer.to_string().contains(
                "`header.shipment.departure.location.id` needs at least 1 character (it has 0)"
            ),
            "{blank:?}: {answer}"
        );
    }
    for id in ["L1", " L1 ", "\u{a0}L\u{a0}"] {
        let (status, answer) = post(&client, &server, op, "application/json", advice(id)).await;
        assert_eq!(status, StatusCode::OK, "{id:?}: {answer}");
    }
}

/// What is sent uses the documented form of a date and time
/// (api/standards.md): a local date-time `YYYY-MM-DDThh:mm:ss` (no zone, no
/// fraction of a second) and a date `YYYY-MM-DD`, as JSON and as tXML;
/// every other form `DateTime` and `Date` read is a `400` naming the member
/// and the form.
#[tokio::test]
async fn sent_dates_and_times_use_the_documented_form() {
    let server = start().await;
    let client = http();
    let op = &api_connector::operations::SEND_ORDER_BY_BUYER_ROUTE;
    let shape = &api_connector::types::txml_shapes::SendOrderByBuyer;
    let order = |issued: &str, date: &str| {
        serde_json::json!({
            "order": {"supplierAccountNumber": "S1", "purchaseOrderNumber": "PO-DATES"},
            "lines": [{"position": "1", "deliverySchedule": [{"position": "1", "date": date, "quantity": 1}]}],
            "erpIssueDateTime": issued
        })
    };
    for issued in [
        "2019-12-31T10:11:12Z",
        "2019-12-31T10:11:12+02:00",
        "2019-12-31T10:11:12.345",
        "2019-12-31 10:11:12",
        "2019-12-31",
    ] {
        let body = order(issued, "2020-01-31");
        for ((status, answer), how) in as_json_and_txml(&client, &server, op, shape, &body)
            .await
            .iter()
            .zip(["JSON", "tXML"])
        {
            assert_eq!(*status, StatusCode::BAD_REQUEST, "{how} {issued}: {answer}");
            let expected = format!(
                "`erpIssueDateTime` must be a local date and time YYYY-MM-DDThh:mm:ss without zone \
                 or fraction of a second, e.g. 2019-12-31T10:11:12 (it is \\\"{issued}\\\")"
            );
            assert!(answer.to_string().contains(&expected), "{how}: {answer}");
        }
    }
    let body = order("2019-12-31T10:11:12", "2020-01-31T00:00:00");
    for ((status, answer), how) in as_json_and_txml(&client, &server, op, shape, &body)
        .await
        .iter()
        .zip(["JSON", "tXML"])
    {
        assert_eq!(*status, StatusCode::BAD_REQUEST, "{how}: {answer}");
        assert!(
            answer.to_string().contains(
                "`lines[0].deliverySchedule[0].date` must be a date YYYY-MM-DD without time or zone"
            ),
            "{how}: {answer}"
        );
    }
    let body = order("2019-12-31T10:11:12", "2020-01-31");
    for ((status, answer), how) in as_json_and_txml(&client, &server, op, shape, &body)
        .await
        .iter()
        .zip(["JSON", "tXML"])
    {
        assert_eq!(*status, StatusCode::OK, "{how}: {answer}");
    }
}

/// The dates of a despatch advice whose pages give no format take the form
/// api/standards.md gives every date (`YYYY-MM-DD`): a zoned departure
/// date-time, a date-time in a destination's date and in `backorderDate`
/// are each a `400` naming the member and the form; plain dates are
/// accepted. (The despatch advice is JSON only.)
#[tokio::test]
async fn despatch_advice_dates_use_the_documented_form() {
    let server = start().await;
    let client = http();
    let op = &api_connector::operations::SEND_DESPATCH_ADVICE_BY_SUPPLIER_ROUTE;
    let advice = |departed: &str, arriving: &str, backorder: &str| {
        serde_json::json!({
            "header": {"buyerAccountNumber": "B1", "despatchAdviceNumber": "DA1",
                       "shipment": {"departure": {"actualDate": departed},
                                    "destination": {"scheduledStartDate": arriving}}},
            "lines": [{"despatchAdviceLinePosition": "1", "purchaseOrderNumber": "PO1",
                       "purchaseOrderLinePosition": "0001", "despatchQuantity": 1,
                       "backorderDate": backorder}]
        })
        .to_string()
        .into_bytes()
    };
    let form = "must be a date YYYY-MM-DD without time or zone, e.g. 2019-12-31";
    for (body, member, value) in [
        (
            advice("2026-02-03T07:45:00Z", "2026-02-10", "2026-04-01"),
            "header.shipment.departure.actualDate",
            "2026-02-03T07:45:00Z",
        ),
        (
            advice("2026-02-03", "2026-02-10T08:00:00+01:00", "2026-04-01"),
            "header.shipment.destination.scheduledStartDate",
            "2026-02-10T08:00:00+01:00",
        ),
        (
            advice("2026-02-03", "2026-02-10", "2026-04-01T00:00:00"),
            "lines[0].backorderDate",
            "2026-04-01T00:00:00",
        ),
    ] {
        let (status, answer) = post(&client, &server, op, "application/json", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{member}: {answer}");
        let expected = format!("`{member}` {form} (it is \\\"{value}\\\")");
        assert!(
            answer.to_string().contains(&expected),
            "{expected}\n{answer}"
        );
    }
    let body = advice("2026-02-03", "2026-02-10", "2026-04-01");
    let (status, answer) = post(&client, &server, op, "application/json", body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}
