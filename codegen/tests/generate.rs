//! Tests of the generator as a library: snapshots of what it prints for a
//! small spec set, the adaptations for progenitor, Tradecloud-style
//! (tapir-generated) specs, and the errors a user sees for specs it cannot
//! handle.

use std::path::{Path, PathBuf};

use tradecloud_codegen::{generate, generate_dir, load, Settings};

fn specs(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/specs")
        .join(name)
}

fn source(name: &str, text: &str) -> load::SpecSource {
    let path = PathBuf::from(format!("specs/{name}"));
    load::SpecSource::from_text(&path, text).expect("test spec parses")
}

fn generated(files: &[(&str, &str)]) -> tradecloud_codegen::Output {
    let sources = files.iter().map(|(n, t)| source(n, t)).collect();
    generate(sources, &Settings::tradecloud()).expect("generates")
}

fn error_of(files: &[(&str, &str)]) -> String {
    let sources = files.iter().map(|(n, t)| source(n, t)).collect();
    match generate(sources, &Settings::tradecloud()) {
        Ok(_) => panic!("expected the generator to refuse this spec"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn basic_spec_set_snapshots() {
    let out = generate_dir(&specs("basic"), &Settings::tradecloud()).expect("generates");
    let paths: Vec<&str> = out.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "common/types.rs",
            "hook/client.rs",
            "hook/operations.rs",
            "hook/server.rs",
            "hook/types.rs",
            "mod.rs"
        ]
    );
    for f in &out.files {
        insta::assert_snapshot!(format!("basic__{}", f.path.replace('/', "__")), f.contents);
    }
}

#[test]
fn request_spec_set_snapshots() {
    let out = generate_dir(&specs("requests"), &Settings::tradecloud()).expect("generates");
    for f in &out.files {
        insta::assert_snapshot!(
            format!("requests__{}", f.path.replace('/', "__")),
            f.contents
        );
    }
}

#[test]
fn request_rules_become_validate_impls_not_newtypes() {
    let out = generate_dir(&specs("requests"), &Settings::tradecloud()).expect("generates");
    let types = out.file("send/types.rs").expect("send types");
    // A `pattern` does not make a validating newtype: the member is text,
    // so that builders take a `&str` and a broken rule still decodes.
    assert!(
        has(types, "pub purchase_order_number: ::std::string::String,"),
        "{types}"
    );
    assert!(!types.contains("regress"), "{types}");
    // The rules are checked by `Validate`, with the wire name as the path.
    assert!(
        has(types, "impl crate::types::Validate for Header {"),
        "{types}"
    );
    assert!(
        has(
            types,
            r#"crate::types::validate::pattern(value, "^\\S+$", &path, out);"#
        ),
        "{types}"
    );
    assert!(has(
        types,
        "crate::types::validate::items(value.len(), ::std::option::Option::None, ::std::option::Option::Some(500u64), &path, out);"
    ), "{types}");
    // A shared type that holds a rule is checked through the member.
    assert!(
        has(types, r#"let path = at.field("reference");"#),
        "{types}"
    );
    let common = out.file("common/types.rs").expect("common types");
    assert!(
        has(common, "impl crate::types::Validate for Reference {"),
        "{common}"
    );
    assert!(
        !common.contains("impl crate::types::Validate for Document"),
        "{common}"
    );
    // A date-time's pattern is its type's business (no check here).
    assert!(!types.contains("[0-9]{4}"), "{types}");
    // `x-keep-empty`: an empty list is kept apart from an absent one.
    assert!(
        has(
            types,
            "pub notes: ::std::option::Option<::std::vec::Vec<::std::string::String>>,"
        ),
        "{types}"
    );
    assert!(has(
        types,
        r#"#[serde(deserialize_with = "crate::types::validate::present")]"#
    ));
    // ... and is set by the builder like any list.
    assert!(has(
        types,
        "pub fn notes(mut self, values: impl ::std::iter::IntoIterator<Item = impl ::std::convert::Into<::std::string::String>>) -> Self {"
    ), "{types}");
    // The tXML element of the message is its `xml.name`.
    assert!(
        has(types, r#"name: "SendOrder", element: "SendOrderByBuyer","#),
        "{types}"
    );
}

const RULES_COMMON: &str = r#"
openapi: 3.0.3
info: {title: Common, version: "1"}
paths: {}
components:
  schemas:
    Weight:
      type: object
      x-request-rules:
        dependentRequired: {net: [unit]}
      properties:
        net: {type: number}
        unit: {type: string, x-request-rules: {pattern: '^[A-Z]+$'}}
        scale: {type: string, x-request-rules: {pattern: '^[A-Z]{3}$', x-pattern-description: three capitals}}
        weighed: {type: string, format: local-date-time, pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}.*$', x-request-rules: {pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$', x-pattern-description: a local date-time}}
        packed: {type: string, format: date, x-request-rules: {pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'}}
"#;

const RULES_HOOK: &str = r#"
openapi: 3.0.3
info: {title: Hook, version: "1"}
x-webhook: true
paths:
  /:
    post:
      operationId: webhookPost
      requestBody:
        content:
          application/json: {schema: {$ref: '#/components/schemas/Event'}}
      responses:
        '200': {description: OK}
components:
  schemas:
    Event:
      type: object
      properties:
        weight: {$ref: 'common.yaml#/components/schemas/Weight'}
"#;

const RULES_SEND: &str = r#"
openapi: 3.0.3
info: {title: Send, version: "1"}
paths:
  /send:
    post:
      operationId: send
      requestBody:
        content:
          application/json: {schema: {$ref: '#/components/schemas/Message'}}
      responses:
        '200': {description: OK}
components:
  schemas:
    Message:
      type: object
      required: [number]
      properties:
        number: {type: string, minLength: 1}
        code: {type: string, pattern: '^[0-9]+$', x-pattern-description: 'digits, e.g. 042'}
        weights:
          type: array
          items: {$ref: 'common.yaml#/components/schemas/Weight'}
          x-request-rules: {uniqueBy: scale}
"#;

#[test]
fn request_rules_are_checked_only_in_what_is_sent() {
    let out = generated(&[
        ("common.yaml", RULES_COMMON),
        ("hook.yaml", RULES_HOOK),
        ("send.yaml", RULES_SEND),
    ]);
    let common = out.file("common/types.rs").expect("common types");
    // The shared type: `check` (what a webhook body's check calls) has no
    // rule, `check_sent` has its own and its members'.
    let weight = common
        .split("impl crate::types::Validate for Weight {")
        .nth(1)
        .expect("Weight implements Validate");
    let (check, sent) = weight
        .split_once("fn check_sent(")
        .expect("Weight has check_sent");
    assert!(has(check, "let _ = (at, out);"), "{weight}");
    assert!(!check.contains("pattern"), "{weight}");
    assert!(
        has(
            sent,
            r#"crate::types::validate::pattern(value, "^[A-Z]+$", &path, out);"#
        ),
        "{weight}"
    );
    // A pattern the spec describes in words says them when it is broken.
    assert!(
        has(
            sent,
            r#"crate::types::validate::described_pattern(value, "^[A-Z]{3}$", "three capitals", &path, out);"#
        ),
        "{weight}"
    );
    // Blank is "not given", read by the crate's one definition of blank.
    assert!(has(sent, "if self.net.is_some() { crate::types::validate::required_with(self.unit.as_ref().is_some_and(|v| !crate::types::validate::is_blank(v)), \"net\", &at.field(\"unit\"), out); }"), "{weight}");
    // A date-time or a date reads every form Tradecloud sends; the request
    // pattern (the one form a request writes) is checked on its text, in
    // what is sent only. The date-time's own lenient `pattern` is its type's
    // business.
    assert!(
        has(
            common,
            "pub weighed: ::std::option::Option<crate::types::DateTime>"
        ),
        "{common}"
    );
    assert!(
        has(
            sent,
            r#"crate::types::validate::described_pattern(value.as_str(), "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$", "a local date-time", &path, out);"#
        ),
        "{weight}"
    );
    assert!(
        has(
            sent,
            r#"crate::types::validate::pattern(value.as_str(), "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", &path, out);"#
        ),
        "{weight}"
    );
    assert!(
        !check.contains("weighed") && !check.contains("packed"),
        "{weight}"
    );
    // The webhook body does not look into it at all.
    let hook = out.file("hook/types.rs").expect("hook types");
    assert!(
        has(hook, "impl crate::types::Validate for Event {"),
        "{hook}"
    );
    assert!(!hook.contains("check_sent"), "{hook}");
    assert!(!hook.contains("at.field(\"weight\")"), "{hook}");
    // The request body checks its members as sent, and its own
    // `minLength` (a plain `String`, not a validating newtype).
    let send = out.file("send/types.rs").expect("send types");
    assert!(
        has(
            send,
            "crate::types::Validate::check_sent(item, &path.index(index), out);"
        ),
        "{send}"
    );
    assert!(has(send, "crate::types::validate::length(value, ::std::option::Option::Some(1u64), ::std::option::Option::None, &path, out);"), "{send}");
    assert!(has(send, "pub number: ::std::string::String,"), "{send}");
    // `uniqueBy` of a list: the items' member, read from every item.
    assert!(
        has(
            send,
            r#"crate::types::validate::unique(value.iter().map(|item| crate::types::validate::UniqueKey::unique_key(&item.scale)), "scale", &path, out);"#
        ),
        "{send}"
    );
    assert!(
        has(
            send,
            r#"crate::types::validate::described_pattern(value, "^[0-9]+$", "digits, e.g. 042", &path, out);"#
        ),
        "{send}"
    );
}

#[test]
fn unique_by_needs_a_text_member_of_the_items() {
    for (member, why) in [("scales", "no such member"), ("net", "a number")] {
        let send = RULES_SEND.replace("uniqueBy: scale", &format!("uniqueBy: {member}"));
        let e = error_of(&[("common.yaml", RULES_COMMON), ("send.yaml", &send)]);
        assert!(
            e.contains(&format!(
                "`uniqueBy: {member}` needs a list of object schemas that have a text member"
            )),
            "{why}: {e}"
        );
        assert!(
            e.contains("/components/schemas/Message/properties/weights/x-request-rules/uniqueBy"),
            "{why}: {e}"
        );
    }
    // On a list of text there is no member to read.
    let send = RULES_SEND.replace(
        "items: {$ref: 'common.yaml#/components/schemas/Weight'}",
        "items: {type: string}",
    );
    let e = error_of(&[("common.yaml", RULES_COMMON), ("send.yaml", &send)]);
    assert!(e.contains("`uniqueBy: scale` needs"), "{e}");
}

#[test]
fn request_rules_that_name_no_member_are_refused() {
    let common = RULES_COMMON.replace("{net: [unit]}", "{net: [units]}");
    let e = error_of(&[("common.yaml", &common), ("send.yaml", RULES_SEND)]);
    assert!(
        e.contains("`units`, which is not a property of `Weight`"),
        "{e}"
    );
    assert!(
        e.contains("/components/schemas/Weight/x-request-rules"),
        "{e}"
    );
}

#[test]
fn server_stubs_validate_bodies_and_hand_over_multipart_parts() {
    let out = generate_dir(&specs("requests"), &Settings::tradecloud()).expect("generates");
    let server = out.file("send/server.rs").expect("send server");
    assert!(
        has(
            server,
            "if let Err(violations) = crate::types::Validate::validate(&*body) {"
        ),
        "{server}"
    );
    // A named body type is boxed: the request and the futures holding it
    // stay small.
    assert!(
        has(server, "pub body: ::std::boxed::Box<super::types::"),
        "{server}"
    );
    assert!(has(
        server,
        "crate::server::RejectionKind::InvalidBody(violations.to_string())"
    ));
    assert!(
        has(server, "pub body: crate::server::MultipartBody,"),
        "{server}"
    );
    assert!(
        has(
            server,
            r#"crate::server::decode_multipart(&raw, &["file"], true).await"#
        ),
        "{server}"
    );
}

#[test]
fn clients_send_multipart_bodies_as_forms() {
    let out = generate_dir(&specs("requests"), &Settings::tradecloud()).expect("generates");
    let client = out.file("send/client.rs").expect("send client");
    assert!(
        has(
            client,
            "pub async fn upload_document<'a>(&'a self, body: ::reqwest::multipart::Form,)"
        ),
        "{client}"
    );
    assert!(has(client, ".multipart(body).build()?;"), "{client}");
    // JSON is what the client sends when tXML is also accepted.
    assert!(has(client, "pub async fn send_order<'a>("), "{client}");
}

#[test]
fn a_multipart_body_with_other_media_types_is_refused() {
    let spec = r#"
openapi: 3.0.3
info: {title: T, version: "1"}
paths:
  /up:
    post:
      operationId: up
      requestBody:
        content:
          multipart/form-data: {schema: {$ref: '#/components/schemas/U'}}
          application/json: {schema: {$ref: '#/components/schemas/U'}}
      responses:
        '200': {description: OK}
components:
  schemas:
    U: {type: object, properties: {file: {type: string, format: binary}}}
"#;
    let e = error_of(&[("t.yaml", spec)]);
    assert!(e.contains("multipart/form-data"), "{e}");
    assert!(e.contains("/paths/~1up/post/requestBody"), "{e}");
}

#[test]
fn real_request_types_snapshot() {
    // The request types of the write operations as the crate generates
    // them from `specs/`: their fields, documentation and rules.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs");
    let out = generate_dir(&dir, &Settings::tradecloud()).expect("generates");
    for (module, names) in [
        (
            "api_connector",
            &[
                "SendOrderByBuyer",
                "SendSingleDeliveryOrderByBuyer",
                "OrderByBuyer",
                "OrderLineByBuyer",
                "SingleDeliveryOrderLineByBuyer",
                "SendOrderIndicatorsByBuyer",
                "OrderIndicatorsOrderByBuyer",
                "OrderIndicatorsLineByBuyer",
                "AttachOrderDocumentsByBuyer",
                "OrderDocumentsOrderByBuyer",
                "OrderDocumentsLineByBuyer",
                "SendOrderDeliveriesByBuyer",
                "OrderDeliveriesOrderByBuyer",
                "OrderDeliveriesLineByBuyer",
                "SendOrderDeliveryHistoryByBuyer",
                "OrderDeliveryHistoryLineByBuyer",
                "SendOrderResponseBySupplier",
                "OrderResponseBySupplier",
                "OrderResponseLineBySupplier",
                "SendDespatchAdviceBySupplier",
                "DespatchAdviceHeader",
                "DespatchAdviceShipment",
                "DespatchAdviceDeparture",
                "DespatchAdviceDestination",
                "DespatchAdviceLocation",
                "DespatchAdviceLine",
                "OkResponse",
            ][..],
        ),
        (
            "order",
            &[
                "ApproveRequestsAsBuyer",
                "RejectRequestsAsBuyer",
                "ApproveShipmentRescheduleRequest",
                "RejectShipmentRescheduleRequest",
                "RevertOrderLines",
                "OrderLinePositions",
                "UpdateOrderLineDeliverySchedule",
                "DeliveryScheduleLogistics",
                "ReassignContact",
                "ResendOrder",
            ][..],
        ),
        (
            "object_storage",
            &["UploadDocumentRequest", "UploadDocumentResponse"][..],
        ),
    ] {
        let text = out
            .file(&format!("{module}/types.rs"))
            .unwrap_or_else(|| panic!("{module} types"));
        let file: syn::File = syn::parse_file(text).expect("parses");
        let wanted = |ident: &syn::Ident| names.iter().any(|n| ident == n);
        let items: Vec<syn::Item> = file
            .items
            .into_iter()
            .filter(|item| match item {
                syn::Item::Struct(st) => wanted(&st.ident),
                syn::Item::Impl(imp) => {
                    let validate = imp
                        .trait_
                        .as_ref()
                        .and_then(|(_, p, _)| p.segments.last())
                        .is_some_and(|s| s.ident == "Validate");
                    let self_name = match imp.self_ty.as_ref() {
                        syn::Type::Path(tp) => tp.path.segments.last().map(|s| s.ident.clone()),
                        _ => None,
                    };
                    validate && self_name.as_ref().is_some_and(wanted)
                }
                _ => false,
            })
            .collect();
        let found = items
            .iter()
            .filter(|i| matches!(i, syn::Item::Struct(_)))
            .count();
        assert_eq!(
            found,
            names.len(),
            "{module}: not every request type was generated"
        );
        let printed = prettyplease::unparse(&syn::File {
            shebang: None,
            attrs: Vec::new(),
            items,
        });
        insta::assert_snapshot!(format!("request_types__{module}"), printed);
    }
}

#[test]
fn types_follow_tradecloud_rules() {
    let out = generate_dir(&specs("basic"), &Settings::tradecloud()).expect("generates");
    let common = out.file("common/types.rs").expect("common types");
    // exact scalars instead of f64 / chrono::DateTime<Utc>
    assert!(common.contains("crate::types::Decimal"), "{common}");
    assert!(common.contains("crate::types::DateTime"));
    assert!(common.contains("crate::types::Date>"));
    assert!(!common.contains("f64"));
    assert!(!common.contains("chrono"));
    // open enums, named after the property for inline ones
    assert!(common.contains("pub enum Status {"));
    assert!(common.contains("Unknown(::std::string::String)"));
    assert!(common.contains("pub enum LineKind {"));
    // unknown fields are kept
    assert!(common.contains("#[serde(flatten)]\n    pub extra: ::serde_json::Map<"));
    // the shared type is re-exported where it is used
    let hook = out.file("hook/types.rs").expect("hook types");
    assert!(hook.contains("pub use crate::api::common::types::Order;"));
}

/// Whether `text` contains `needle`, ignoring whitespace (prettyplease
/// breaks long lines).
fn has(text: &str, needle: &str) -> bool {
    let squash = |s: &str| {
        s.split_whitespace()
            .collect::<String>()
            .replace(",)", ")")
            .replace(",>", ">")
            .replace(",}", "}")
    };
    squash(text).contains(&squash(needle))
}

#[test]
fn structs_get_default_and_a_builder() {
    let out = generate_dir(&specs("basic"), &Settings::tradecloud()).expect("generates");
    let common = out.file("common/types.rs").expect("common types");
    // serde's derive decodes, `extra` keeps unknown fields; every field
    // starts empty, so `Default` is derived.
    assert!(
        has(common, "#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq, Default)] pub struct Line {"),
        "{common}"
    );
    // The builder: `Line::builder()`, one setter per field taking what
    // converts into it (an optional field without `Some`), then `build()`.
    assert!(has(common, "pub fn builder() -> builder::LineBuilder {"));
    assert!(has(common, "pub mod builder {"));
    assert!(has(
        common,
        "///qty pub fn quantity(mut self, value: impl ::std::convert::Into<crate::types::Decimal>) -> Self {"
    ), "{common}");
    assert!(has(
        common,
        "self.value.quantity = ::std::option::Option::Some(value.into());"
    ));
    assert!(
        has(common, "/// Sets `lastUpdatedAt`. pub fn last_updated_at("),
        "{common}"
    );
    // Local types are seen from inside `mod builder` through `super::`.
    assert!(
        has(
            common,
            "values: impl ::std::iter::IntoIterator<Item = impl ::std::convert::Into<super::Line>>"
        ),
        "{common}"
    );
    assert!(has(common, "pub fn extra(mut self, key: impl ::std::convert::Into<::std::string::String>, value: impl ::std::convert::Into<::serde_json::Value>)"));
    assert!(has(common, "pub fn build(self) -> super::Line {"));
    assert!(has(
        common,
        "impl ::std::convert::From<LineBuilder> for super::Line {"
    ));
    let hook = out.file("hook/types.rs").expect("hook types");
    assert!(
        has(hook, "PartialEq, Default)] pub struct Body {"),
        "{hook}"
    );
}

#[test]
fn required_enums_start_empty_and_other_required_scalars_get_no_default() {
    let out = generated(&[(
        "svc.yaml",
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n    Event:\n      type: object\n      required: [name]\n      properties:\n        name: {type: string, enum: [Created, Changed]}\n        size: {type: integer, minimum: 1, default: 10}\n    Priced:\n      type: object\n      required: [price]\n      properties:\n        price: {type: number}\n    Holder:\n      type: object\n      required: [priced]\n      properties:\n        priced: {$ref: '#/components/schemas/Priced'}\n",
    )]);
    let types = out.file("svc/types.rs").expect("types");
    assert!(
        has(types, "impl ::std::default::Default for Event {"),
        "{types}"
    );
    assert!(
        has(
            types,
            "name: <crate::api::svc::types::EventName as crate::types::OpenEnum>::from_wire(\"\"),"
        ),
        "{types}"
    );
    assert!(
        has(types, "The required `name` is the empty value"),
        "{types}"
    );
    assert!(has(types, "size: defaults::"), "{types}");
    assert!(has(types, "pub fn builder() -> builder::EventBuilder {"));
    // A required decimal has no value to start from, and neither has what
    // requires it.
    for name in ["Priced", "Holder"] {
        assert!(!has(types, &format!("Default for {name} ")), "{types}");
        assert!(!has(types, &format!("builder::{name}Builder ")), "{types}");
        assert!(
            !has(types, &format!("PartialEq, Default)]\npub struct {name} ")),
            "{types}"
        );
    }
}

#[test]
fn clients_are_named_after_the_spec_and_drop_the_route_suffix() {
    let out = generate_dir(&specs("tapir"), &Settings::tradecloud()).expect("generates");
    let client = out.file("order_service/client.rs").expect("client");
    assert!(has(client, "pub struct OrderServiceClient {"), "{client}");
    assert!(has(client, "pub async fn get_order_by_id<'a>("), "{client}");
    assert!(has(client, "pub async fn poll_orders<'a>("));
    // One name per operation: no aliases under the operation id, and no
    // `Client` beside the spec's own name.
    assert!(!has(client, "get_order_by_id_route"), "{client}");
    assert!(!has(client, "pub type Client"), "{client}");
    assert!(!has(client, "#[deprecated"), "{client}");
    assert!(has(client, "pub use super::OrderServiceClient;"));
    // `reqwest::Client` is left alone.
    assert!(has(client, "client: reqwest::Client,"));
    // The server stubs keep the operation ids (implementors would break).
    let server = out.file("order_service/server.rs").expect("server");
    assert!(
        has(
            server,
            "fn get_order_by_id_route(&self, request: GetOrderByIdRouteRequest)"
        ),
        "{server}"
    );

    // When the short name belongs to another operation, the long one stays.
    let out = generated(&[(
        "svc.yaml",
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      operationId: poll\n      responses: {'200': {description: ok}}\n  /b:\n    get:\n      operationId: pollRoute\n      responses: {'200': {description: ok}}\n",
    )]);
    let client = out.file("svc/client.rs").expect("client");
    assert!(has(client, "pub async fn poll<'a>("), "{client}");
    assert!(has(client, "pub async fn poll_route<'a>("), "{client}");
}

#[test]
fn writing_removes_stale_generated_files_only() {
    let dir = std::env::temp_dir().join(format!("tradecloud-codegen-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = generate_dir(&specs("basic"), &Settings::tradecloud()).expect("generates");
    std::fs::create_dir_all(dir.join("gone/deeper")).expect("mkdir");
    let header = out
        .file("mod.rs")
        .expect("mod.rs")
        .lines()
        .next()
        .expect("a header");
    std::fs::write(dir.join("gone/deeper/types.rs"), format!("{header}\n")).expect("write");
    std::fs::create_dir_all(dir.join("hook")).expect("mkdir");
    std::fs::write(dir.join("hook/old.rs"), format!("{header}\n")).expect("write");
    std::fs::write(dir.join("hand-written.rs"), "fn main() {}\n").expect("write");
    std::fs::create_dir_all(dir.join("empty")).expect("mkdir");
    out.write_to(&dir).expect("writes");
    assert!(
        !dir.join("gone").exists(),
        "a folder of a spec that is gone"
    );
    assert!(
        !dir.join("hook/old.rs").exists(),
        "a file this run does not write"
    );
    assert!(dir.join("hook/types.rs").is_file());
    assert!(
        dir.join("hand-written.rs").is_file(),
        "files without the header stay"
    );
    assert!(
        dir.join("empty").is_dir(),
        "folders the generator did not empty stay"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn client_adapts_the_spec_for_progenitor() {
    let out = generate_dir(&specs("basic"), &Settings::tradecloud()).expect("generates");
    let client = out.file("hook/client.rs").expect("client");
    // the XML media type is left to the server stubs; the client posts JSON
    assert!(client.contains("pub struct HookClient {"));
    assert!(client.contains("pub async fn webhook_post"));
    assert!(!client.contains("application/xml"));
    // every named schema comes from the shared types module
    assert!(client.contains("crate::api::hook::types::Body"));
    let server = out.file("hook/server.rs").expect("server");
    assert!(server.contains("&[\"application/json\", \"application/xml\"]"));
    assert!(server.contains("pub fn router<A: Api>"));
    assert!(server.contains("set_authorization: ::std::string::String"));
}

#[test]
fn tapir_style_spec_generates() {
    let out = generate_dir(&specs("tapir"), &Settings::tradecloud())
        .expect("a tapir-style spec generates");
    let types = out.file("order_service/types.rs").expect("types");
    // `order.OrderView` becomes a Rust name, refs follow
    assert!(types.contains("pub struct OrderOrderView {"));
    // inline request/response schemas get operation-derived names
    assert!(types.contains("pub struct PollOrdersRouteBody {"));
    assert!(types.contains("pub struct PollOrdersRouteResponse200 {"));
    // oneOf stays a typed enum, maps stay maps
    assert!(types.contains("pub enum OrderOrderViewParty {"));
    let server = out.file("order_service/server.rs").expect("server");
    // path-level parameter from components/parameters and a default response
    assert!(server.contains("pub struct GetOrderByIdRoutePathParams"));
    assert!(server.contains("Default {"));
}

#[test]
fn adding_a_field_to_a_spec_adds_a_typed_field() {
    let common = std::fs::read_to_string(specs("basic").join("common.yaml")).expect("read");
    let hook = std::fs::read_to_string(specs("basic").join("hook.yaml")).expect("read");
    let before = generate(
        vec![source("common.yaml", &common), source("hook.yaml", &hook)],
        &Settings::tradecloud(),
    )
    .expect("generates");
    let changed = common.replace(
        "        id: {type: string}\n        quantity:",
        "        id: {type: string}\n        backorderQuantity: {type: number, description: Not yet shipped.}\n        quantity:",
    );
    assert_ne!(changed, common, "the test edit must apply");
    let after = generate(
        vec![source("common.yaml", &changed), source("hook.yaml", &hook)],
        &Settings::tradecloud(),
    )
    .expect("generates");
    let old = before.file("common/types.rs").expect("types");
    let new = after.file("common/types.rs").expect("types");
    assert!(!old.contains("backorder_quantity"));
    assert!(new.contains("rename = \"backorderQuantity\""));
    assert!(new.contains("pub backorder_quantity: ::std::option::Option<crate::types::Decimal>"));
    assert!(
        new.contains("///Not yet shipped."),
        "the description becomes the field doc"
    );
}

#[test]
fn unsupported_version_is_refused_with_file_and_pointer() {
    let e = error_of(&[(
        "old.yaml",
        "swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n",
    )]);
    assert!(
        e.starts_with("specs/old.yaml: at `#/openapi`: OpenAPI version:"),
        "{e}"
    );
    assert!(e.contains("Swagger 2.0"), "{e}");
    let e = error_of(&[(
        "new.yaml",
        "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n",
    )]);
    assert!(e.contains("version 3.1.0 is not supported"), "{e}");
}

#[test]
fn missing_operation_id_names_the_operation() {
    let e = error_of(&[(
        "svc.yaml",
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a/{id}:\n    get:\n      parameters: [{name: id, in: path, required: true, schema: {type: string}}]\n      responses: {'200': {description: ok}}\n",
    )]);
    assert_eq!(
        e,
        "specs/svc.yaml: at `#/paths/~1a~1{id}/get`: operation: has no `operationId`; every operation needs a unique one (it names the Rust method)"
    );
}

#[test]
fn broken_external_ref_is_reported() {
    let e = error_of(&[(
        "svc.yaml",
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n    A: {type: object, properties: {b: {$ref: 'other.yaml#/components/schemas/B'}}}\n",
    )]);
    assert!(
        e.starts_with(
            "specs/svc.yaml: at `#/components/schemas/A/properties/b/$ref`: external $ref:"
        ),
        "{e}"
    );
    assert!(
        e.contains("`other.yaml`, which is not a spec file in the same directory"),
        "{e}"
    );
}

#[test]
fn structural_errors_name_the_json_pointer() {
    // `required` must be a list; serde_path_to_error finds where.
    let e = error_of(&[(
        "svc.yaml",
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n    A: {type: object, required: yes, properties: {b: {type: string}}}\n",
    )]);
    assert!(
        e.starts_with("specs/svc.yaml: at `#/components/schemas/A"),
        "{e}"
    );
    assert!(e.contains("OpenAPI structure"), "{e}");
}

#[test]
fn cookie_parameters_are_refused_clearly() {
    let e = error_of(&[(
        "svc.yaml",
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      operationId: a\n      parameters: [{name: c, in: cookie, schema: {type: string}}]\n      responses: {'200': {description: ok}}\n",
    )]);
    assert_eq!(e, "specs/svc.yaml: at `#/paths/~1a/get/parameters/0`: cookie parameter: cookie parameters are not supported; Tradecloud does not use them");
}

#[test]
fn yaml_syntax_errors_give_a_line() {
    let e = load::parse_text(
        Path::new("specs/svc.yaml"),
        "openapi: 3.0.3\ninfo: [unclosed\n",
    )
    .expect_err("not YAML")
    .to_string();
    assert!(
        e.starts_with(
            "specs/svc.yaml: at `#`: YAML/JSON syntax: the file is not valid YAML or JSON (line"
        ),
        "{e}"
    );
}

#[test]
fn generator_panics_become_errors_naming_the_file() {
    // A request body with an encoding map makes progenitor hit a `todo!()`.
    let e = error_of(&[(
        "svc.yaml",
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    post:\n      operationId: a\n      requestBody:\n        content:\n          application/x-www-form-urlencoded:\n            schema: {type: object, properties: {x: {type: string}}}\n            encoding: {x: {contentType: text/plain}}\n      responses: {'200': {description: ok}}\n",
    )]);
    assert!(
        e.starts_with("specs/svc.yaml: at `#/paths/~1a/post`: client generation:"),
        "{e}"
    );
    assert!(e.contains("media type encoding"), "{e}");
}
