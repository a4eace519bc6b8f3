//! The generator's output for `codegen/tests/specs/tapir` (a spec in the
//! style Tradecloud publishes), compiled against the `tradecloud` runtime.
//! That this crate builds is the check; the tests below also use what was
//! generated.

#![allow(missing_docs)]

include!(concat!(env!("OUT_DIR"), "/mod.rs"));

#[cfg(test)]
mod tests {
    use super::order_service::types::{
        OrderOrderView, OrderOrderViewParty, PollOrdersRouteBody, PollOrdersRouteBodyFilters,
        PollOrdersRouteBodyFiltersProcessStatusItem as ProcessStatus,
    };
    use serde_json::json;

    #[test]
    fn a_tapir_style_body_decodes_and_keeps_unknown_fields() -> Result<(), serde_json::Error> {
        let text = json!({
            "id": "o1",
            "lines": [{"position": "1", "quantity": 12.50, "status": "Backordered", "added": true}],
            "party": {"email": "a@example.com", "kind": "person"},
            "properties": {"colour": "red"},
            "total": null,
            "addedLater": {"x": 1}
        });
        let order: OrderOrderView = serde_json::from_value(text.clone())?;
        assert_eq!(order.id, "o1");
        // An untagged `oneOf` of two open objects: the first that decodes
        // wins, and nothing of the input is lost either way.
        assert!(matches!(order.party, Some(OrderOrderViewParty::Company(_))));
        assert_eq!(order.lines[0].extra.get("added"), Some(&json!(true)));
        assert_eq!(order.extra.get("addedLater"), Some(&json!({"x": 1})));
        let mut expected = text;
        if let Some(object) = expected.as_object_mut() {
            object.remove("total");
        }
        assert_eq!(serde_json::to_value(&order)?, expected);
        Ok(())
    }

    #[test]
    fn request_bodies_have_default_and_builders() -> Result<(), serde_json::Error> {
        assert_eq!(
            serde_json::to_value(PollOrdersRouteBody::default())?,
            json!({})
        );
        let body = PollOrdersRouteBody::builder()
            .filters(
                PollOrdersRouteBodyFilters::builder()
                    .process_status([ProcessStatus::Issued, "OnHold".into()])
                    .extra("addedLater", 1),
            )
            .build();
        assert_eq!(
            serde_json::to_value(&body)?,
            json!({"filters": {"processStatus": ["Issued", "OnHold"], "addedLater": 1}})
        );
        Ok(())
    }

    #[test]
    fn the_client_is_named_after_the_spec_and_its_methods_without_route() {
        let client = super::order_service::client::OrderServiceClient::new(
            "https://api.example.com/v2",
            tradecloud::client::ClientContext::default(),
        );
        // One name per operation, without the `Route` suffix. (`format:
        // uuid` ids are text; the trace header is optional.)
        let id = String::from("o1");
        let _call = client.get_order_by_id(&id, None);
    }
}
