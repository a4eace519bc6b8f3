//! tXML (`application/xml`) bodies decode into the same types as JSON.

use tradecloud::api::order_webhook_connector::types::{txml_shapes, OrderWebhookBody};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/order-webhook/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

#[test]
fn txml_fixture_decodes_to_the_same_message_as_its_json_twin() {
    let from_json: OrderWebhookBody =
        serde_json::from_slice(&fixture("order-event.json")).expect("JSON fixture parses");
    let from_xml: OrderWebhookBody = tradecloud::webhook::txml::from_slice_with(
        &fixture("order-event.xml"),
        &txml_shapes::OrderWebhookBody,
    )
    .expect("tXML fixture parses");
    let mut json = serde_json::to_value(&from_json).expect("serialises");
    let mut xml = serde_json::to_value(&from_xml).expect("serialises");
    // Unknown fields are kept in both, but XML cannot say that `1` is a
    // number when no schema knows the field: it stays text there.
    assert_eq!(
        xml["orderEvent"]["someFutureField"],
        serde_json::json!({ "x": "1" })
    );
    strip(&mut json, "someFutureField");
    strip(&mut xml, "someFutureField");
    if json != xml {
        let a = serde_json::to_string_pretty(&json).unwrap_or_default();
        let b = serde_json::to_string_pretty(&xml).unwrap_or_default();
        let first = a
            .lines()
            .zip(b.lines())
            .enumerate()
            .find(|(_, (x, y))| x != y);
        panic!("JSON and tXML differ; first difference: {first:?}");
    }
}

fn strip(value: &mut serde_json::Value, key: &str) {
    match value {
        serde_json::Value::Object(map) => {
            map.remove(key);
            map.values_mut().for_each(|v| strip(v, key));
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| strip(v, key)),
        _ => {}
    }
}

#[test]
fn repeated_elements_become_arrays_even_when_single() {
    let xml = br#"<webhookBody><eventName>OrderIssuedByBuyer</eventName>
        <orderEvent><orderId>o</orderId>
          <buyerOrder><destination><name>Warehouse</name></destination><note>one note</note></buyerOrder>
          <line><id>only</id><deliveryScheduleLine><position>1</position><quantity>5</quantity></deliveryScheduleLine></line>
          <futureElement><x>1</x></futureElement>
        </orderEvent></webhookBody>"#;
    let body: OrderWebhookBody =
        tradecloud::webhook::txml::from_slice_with(xml, &txml_shapes::OrderWebhookBody)
            .expect("parses");
    let event = body.order_event.expect("order event");
    assert_eq!(event.lines.len(), 1);
    assert_eq!(event.lines[0].delivery_schedule.len(), 1);
    let buyer = event.buyer_order.expect("buyer order");
    assert_eq!(buyer.notes, vec!["one note".to_string()]);
    assert!(
        event.extra.contains_key("futureElement"),
        "unknown elements are kept"
    );
}

#[test]
fn invalid_txml_is_an_error_not_a_panic() {
    for bad in [
        &b"<webhookBody><eventName>X</eventName>"[..],
        b"not xml at all <",
        b"<a></b>",
        &[0xc3, 0x28],
    ] {
        let r: Result<OrderWebhookBody, _> =
            tradecloud::webhook::txml::from_slice_with(bad, &txml_shapes::OrderWebhookBody);
        assert!(
            r.is_err(),
            "{:?} must be refused",
            String::from_utf8_lossy(bad)
        );
    }
}

/// tXML is a 1-on-1 translation of the JSON message: members written
/// directly under the root that belong inside an element the root lacks
/// (as api/requests.md's abbreviated example writes an order's) are an
/// error that says where they go, for every message type.
#[test]
fn members_that_belong_in_a_missing_element_are_told_where_they_go() {
    use tradecloud::api::api_connector::types::{
        txml_shapes as connector, SendDespatchAdviceBySupplier, SendOrderByBuyer,
        SendOrderResponseBySupplier,
    };
    use tradecloud::api::shipment_webhook_connector::types::{
        txml_shapes as shipment, ShipmentWebhookBody,
    };
    use tradecloud::webhook::txml::{from_slice_with, TxmlError};

    fn error<T: serde::de::DeserializeOwned + std::fmt::Debug>(
        xml: &str,
        shape: &tradecloud::webhook::txml::Shape,
    ) -> String {
        match from_slice_with::<T>(xml.as_bytes(), shape) {
            Err(e @ TxmlError::Mismatch(_)) => e.to_string(),
            other => panic!("a mismatch expected for {xml}: {other:?}"),
        }
    }

    let response = error::<SendOrderResponseBySupplier>(
        "<SendOrderResponseBySupplier><buyerAccountNumber>1</buyerAccountNumber>\
         <purchaseOrderNumber>PO1</purchaseOrderNumber>\
         <line><purchaseOrderLinePosition>1</purchaseOrderLinePosition></line>\
         </SendOrderResponseBySupplier>",
        &connector::SendOrderResponseBySupplier,
    );
    for part in [
        "missing field `order`",
        "<buyerAccountNumber>, <purchaseOrderNumber> directly under the root element \
         <SendOrderResponseBySupplier> belong inside <order>",
        "1-on-1",
        "<SendOrderResponseBySupplier><order><buyerAccountNumber>…</buyerAccountNumber>",
    ] {
        assert!(response.contains(part), "{response:?} lacks {part:?}");
    }

    let advice = error::<SendDespatchAdviceBySupplier>(
        "<SendDespatchAdviceBySupplier><buyerAccountNumber>1</buyerAccountNumber>\
         <despatchAdviceNumber>DA1</despatchAdviceNumber></SendDespatchAdviceBySupplier>",
        &connector::SendDespatchAdviceBySupplier,
    );
    assert!(advice.contains("belong inside <header>"), "{advice}");

    let event = error::<ShipmentWebhookBody>(
        "<webhookBody><eventName>ShipmentIssuedBySupplier</eventName><id>s1</id></webhookBody>",
        &shipment::ShipmentWebhookBody,
    );
    assert!(
        event.contains(
            "<id> directly under the root element <webhookBody> belong inside <shipment>"
        ),
        "{event}"
    );

    // Root elements that belong nowhere, or a missing element with nothing
    // of it under the root: the decoder's error alone.
    for xml in [
        "<SendOrderByBuyer><somethingElse>1</somethingElse></SendOrderByBuyer>",
        "<SendOrderByBuyer><line><position>1</position></line></SendOrderByBuyer>",
    ] {
        let plain = error::<SendOrderByBuyer>(xml, &connector::SendOrderByBuyer);
        assert!(plain.contains("missing field `order`"), "{plain}");
        assert!(!plain.contains("belong inside"), "{plain}");
    }
    // Nested as the JSON message is, it decodes.
    let nested: SendOrderByBuyer = from_slice_with(
        b"<SendOrderByBuyer><order><supplierAccountNumber>1</supplierAccountNumber>\
          <purchaseOrderNumber>PO1</purchaseOrderNumber></order></SendOrderByBuyer>",
        &connector::SendOrderByBuyer,
    )
    .expect("decodes");
    assert_eq!(nested.order.purchase_order_number, "PO1");
}
