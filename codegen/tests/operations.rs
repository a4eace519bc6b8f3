//! The operation table (`<spec>/operations.rs`): what the runtime reads
//! instead of hand-written lists. Snapshots of a small spec that uses every
//! construct the table prints (several security schemes, none, multipart
//! and XML bodies, limits behind `$ref`s into a sibling spec), and the check
//! that adding an operation to one of the real specs adds it to the table
//! with its facts.

use std::path::{Path, PathBuf};

use serde_json::json;
use tradecloud_codegen::{generate, load, operation_tables, Settings};

fn source(name: &str, text: &str) -> load::SpecSource {
    let path = PathBuf::from(format!("specs/{name}"));
    load::SpecSource::from_text(&path, text).expect("test spec parses")
}

/// The operation tables of `files` (the clients of the small spec below
/// are not generated: progenitor does not take a multipart-only body).
fn tables(files: &[(&str, &str)]) -> tradecloud_codegen::Output {
    let sources = files.iter().map(|(n, t)| source(n, t)).collect();
    operation_tables(sources, &Settings::tradecloud()).expect("generates")
}

/// Whether `text` contains `needle`, ignoring whitespace (prettyplease
/// breaks long lines).
fn has(text: &str, needle: &str) -> bool {
    let squash = |s: &str| {
        s.split_whitespace()
            .collect::<String>()
            .replace(",}", "}")
            .replace(",]", "]")
    };
    squash(text).contains(&squash(needle))
}

/// The text of one operation's constant in a table.
fn constant<'a>(table: &'a str, name: &str) -> &'a str {
    let start = table
        .find(&format!("pub const {name}: op::Operation"))
        .unwrap_or_else(|| panic!("no constant {name} in\n{table}"));
    let end = table[start..]
        .find("};")
        .map_or(table.len(), |e| start + e + 2);
    &table[start..end]
}

const COMMON: &str = r#"
openapi: 3.0.3
info: {title: Common, version: "1"}
paths: {}
components:
  schemas:
    Order:
      type: object
      properties:
        purchaseOrderNumber: {type: string, pattern: '^\S+$', maxLength: 50}
        lines:
          type: array
          maxItems: 1000
          items: {$ref: '#/components/schemas/Line'}
        documents:
          type: array
          maxItems: 25
          items: {$ref: '#/components/schemas/Document'}
    Line:
      type: object
      properties:
        quantity: {type: number, minimum: 0, exclusiveMinimum: true}
        documents:
          type: array
          maxItems: 10
          items: {$ref: '#/components/schemas/Document'}
        parent: {$ref: '#/components/schemas/Line'}
    Document:
      type: object
      properties:
        name: {type: string, minLength: 1}
"#;

const SHOP: &str = r#"
openapi: 3.0.3
info: {title: Shop, version: "1"}
security:
  - bearer: []
  - basic: []
paths:
  /order:
    post:
      operationId: sendOrderRoute
      x-party: buyer
      summary: Send an order
      requestBody:
        required: true
        content:
          application/json: {schema: {$ref: 'common.yaml#/components/schemas/Order'}}
          application/xml: {schema: {$ref: 'common.yaml#/components/schemas/Order'}}
      responses:
        '200': {description: OK}
        '400':
          description: Bad
          content:
            application/json: {schema: {type: object, properties: {message: {type: string}}}}
            application/problem+json: {schema: {type: object, properties: {message: {type: string}}}}
  /order/{orderId}:
    get:
      operationId: getOrder
      security:
        - bearer: []
      parameters:
        - {name: orderId, in: path, required: true, schema: {type: string, minLength: 1}}
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 100, exclusiveMaximum: true}}
        - {name: X-Key, in: header, schema: {type: string, maxLength: 64}}
      responses:
        '200': {description: OK, content: {text/csv: {schema: {type: string}}}}
        4XX: {description: Client error}
        default: {description: Other}
  /upload:
    post:
      operationId: upload
      security:
        - key: []
          basic: []
        - oauth: [write]
        - oidc: []
        - digest: []
        - {}
      requestBody:
        content:
          multipart/form-data:
            schema:
              type: object
              properties:
                file: {type: string, format: binary}
                ratio: {type: number, maximum: 0.5}
      responses:
        '201': {description: Created, content: {application/json: {schema: {type: object, properties: {objectId: {type: string}}}}}}
  /login:
    get:
      operationId: login
      security:
        - basic: []
      responses:
        '200': {description: OK}
  /refresh:
    get:
      operationId: refresh
      security: []
      responses:
        '200': {description: OK}
components:
  securitySchemes:
    bearer: {type: http, scheme: bearer, bearerFormat: JWT}
    basic: {type: http, scheme: Basic}
    key: {type: apiKey, in: header, name: X-Api-Key}
    oauth:
      type: oauth2
      flows: {clientCredentials: {tokenUrl: 'https://example.com/token', scopes: {write: Write}}}
    oidc: {type: openIdConnect, openIdConnectUrl: 'https://example.com/.well-known/openid-configuration'}
    digest: {type: http, scheme: digest}
"#;

#[test]
fn the_table_prints_every_fact_of_a_small_spec() {
    let out = tables(&[("common.yaml", COMMON), ("shop.yaml", SHOP)]);
    let table = out.file("shop/operations.rs").expect("a table");
    insta::assert_snapshot!("shop__operations.rs", table);
    // A spec without operations has no table.
    assert_eq!(out.files.len(), 1);
    assert!(has(table, "pub const OPERATIONS: &[op::Operation] = &[LOGIN, SEND_ORDER_ROUTE, GET_ORDER, REFRESH, UPLOAD];"), "{table}");
}

#[test]
fn security_lists_every_alternative_by_kind() {
    let out = tables(&[("common.yaml", COMMON), ("shop.yaml", SHOP)]);
    let table = out.file("shop/operations.rs").expect("a table");
    // The spec's security, when the operation has none of its own.
    assert!(has(
        constant(table, "SEND_ORDER_ROUTE"),
        "security: &[&[op::AuthScheme::Bearer], &[op::AuthScheme::Basic]],"
    ));
    // The operation's own replaces it.
    assert!(has(
        constant(table, "GET_ORDER"),
        "security: &[&[op::AuthScheme::Bearer]],"
    ));
    assert!(has(
        constant(table, "LOGIN"),
        "security: &[&[op::AuthScheme::Basic]],"
    ));
    // `security: []`: no authentication.
    assert!(has(constant(table, "REFRESH"), "security: &[],"));
    // Two schemes together, OAuth 2.0, OpenID Connect, another HTTP scheme
    // (lower case) and anonymous access.
    assert!(has(
        constant(table, "UPLOAD"),
        r#"security: &[
            &[op::AuthScheme::Basic, op::AuthScheme::ApiKey { name: "X-Api-Key", location: op::ApiKeyLocation::Header }],
            &[op::AuthScheme::OAuth2],
            &[op::AuthScheme::OpenIdConnect],
            &[op::AuthScheme::OtherHttp("digest")],
            &[],
        ],"#
    ));
}

#[test]
fn media_types_keep_their_kind() {
    let out = tables(&[("common.yaml", COMMON), ("shop.yaml", SHOP)]);
    let table = out.file("shop/operations.rs").expect("a table");
    let send = constant(table, "SEND_ORDER_ROUTE");
    assert!(has(
        send,
        r#"request: ::core::option::Option::Some(op::RequestBody {
            required: true,
            media_types: &[
                op::MediaType { name: "application/json", kind: op::MediaKind::Json },
                op::MediaType { name: "application/xml", kind: op::MediaKind::Xml },
            ],
        }),"#
    ));
    // Every media type of a response, problem+json as JSON.
    assert!(has(
        send,
        r#"op::MediaType { name: "application/problem+json", kind: op::MediaKind::Json }"#
    ));
    let upload = constant(table, "UPLOAD");
    assert!(has(
        upload,
        r#"op::RequestBody {
            required: false,
            media_types: &[op::MediaType { name: "multipart/form-data", kind: op::MediaKind::Multipart }],
        }"#
    ));
    let get = constant(table, "GET_ORDER");
    assert!(has(get, "request: ::core::option::Option::None,"));
    assert!(has(
        get,
        r#"op::MediaType { name: "text/csv", kind: op::MediaKind::Text }"#
    ));
    assert!(has(
        get,
        "op::Response { status: op::Status::Range(4), media_types: &[] }"
    ));
    assert!(has(
        get,
        "op::Response { status: op::Status::Default, media_types: &[] }"
    ));
}

#[test]
fn limits_follow_refs_into_sibling_specs() {
    let out = tables(&[("common.yaml", COMMON), ("shop.yaml", SHOP)]);
    let table = out.file("shop/operations.rs").expect("a table");
    let send = constant(table, "SEND_ORDER_ROUTE");
    for limit in [
        r#"op::Limit { location: op::Location::Body, path: "/purchaseOrderNumber", rule: op::Rule::Pattern("^\\S+$") }"#,
        r#"op::Limit { location: op::Location::Body, path: "/purchaseOrderNumber", rule: op::Rule::MaxLength(50) }"#,
        r#"op::Limit { location: op::Location::Body, path: "/lines", rule: op::Rule::MaxItems(1000) }"#,
        r#"op::Limit { location: op::Location::Body, path: "/lines/*/quantity", rule: op::Rule::Minimum { value: op::Bound::Integer(0), exclusive: true } }"#,
        r#"op::Limit { location: op::Location::Body, path: "/lines/*/documents", rule: op::Rule::MaxItems(10) }"#,
        r#"op::Limit { location: op::Location::Body, path: "/lines/*/documents/*/name", rule: op::Rule::MinLength(1) }"#,
        r#"op::Limit { location: op::Location::Body, path: "/documents", rule: op::Rule::MaxItems(25) }"#,
    ] {
        assert!(has(send, limit), "{limit} in\n{send}");
    }
    // The recursive `parent` line is not followed into itself.
    assert!(!send.contains("/parent/"), "{send}");
    let get = constant(table, "GET_ORDER");
    for limit in [
        // A path parameter, a query parameter with an exclusive
        // maximum (OpenAPI 3.0 style) and a header.
        r#"op::Limit { location: op::Location::Path, path: "orderId", rule: op::Rule::MinLength(1) }"#,
        r#"op::Limit { location: op::Location::Query, path: "limit", rule: op::Rule::Maximum { value: op::Bound::Integer(100), exclusive: true } }"#,
        r#"op::Limit { location: op::Location::Header, path: "X-Key", rule: op::Rule::MaxLength(64) }"#,
    ] {
        assert!(has(get, limit), "{limit} in\n{get}");
    }
    // A multipart form field; a bound with a fraction stays as written.
    assert!(has(
        constant(table, "UPLOAD"),
        r#"op::Limit { location: op::Location::Body, path: "/ratio", rule: op::Rule::Maximum { value: op::Bound::Decimal("0.5"), exclusive: false } }"#
    ));
}

#[test]
fn an_undefined_security_scheme_is_reported_with_its_pointer() {
    let spec = SHOP.replace(
        "        - bearer: []\n      parameters:",
        "        - jwt: []\n      parameters:",
    );
    let sources = vec![source("common.yaml", COMMON), source("shop.yaml", &spec)];
    let error = operation_tables(sources, &Settings::tradecloud())
        .expect_err("refused")
        .to_string();
    assert!(
        error.contains("specs/shop.yaml: at `#/paths/~1order~1{orderId}/get/security/0/jwt`"),
        "{error}"
    );
    assert!(
        error.contains("the scheme `jwt` is not defined in `components/securitySchemes`"),
        "{error}"
    );
}

/// `x-party` names the company that alone takes an operation; left out,
/// either may; any other value is refused with its pointer.
#[test]
fn the_party_of_an_operation_is_read_and_checked() {
    let out = tables(&[("common.yaml", COMMON), ("shop.yaml", SHOP)]);
    let table = out.file("shop/operations.rs").expect("a table");
    assert!(has(
        constant(table, "SEND_ORDER_ROUTE"),
        "party: ::core::option::Option::Some(crate::types::Party::Buyer)"
    ));
    assert!(has(
        constant(table, "GET_ORDER"),
        "party: ::core::option::Option::None"
    ));
    let spec = SHOP.replace("x-party: buyer", "x-party: Buyer");
    let sources = vec![source("common.yaml", COMMON), source("shop.yaml", &spec)];
    let error = operation_tables(sources, &Settings::tradecloud())
        .expect_err("refused")
        .to_string();
    assert!(
        error.contains("specs/shop.yaml: at `#/paths/~1order/post`: x-party: is \"Buyer\""),
        "{error}"
    );
    assert!(error.contains("`buyer` or `supplier`"), "{error}");
}

/// The issue's check, through the library: a copy of the real
/// `specs/order.yaml` with one more operation gives a table with one more
/// constant, carrying the operation's security, media types and limits,
/// and server stubs that admit it with that constant. Nothing else is
/// needed for the runtime to authenticate, route and count it: the client
/// pipeline and the mock read these tables.
#[test]
fn adding_an_operation_to_a_spec_adds_it_to_the_table() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs");
    let sources = load::read_dir(&dir).expect("the specs load");
    let before = generate(sources.clone(), &Settings::tradecloud()).expect("generates");
    let mut sources = sources;
    let order = sources
        .iter_mut()
        .find(|s| s.file_name == "order.yaml")
        .expect("specs/order.yaml");
    let paths = order.document["paths"].as_object_mut().expect("paths");
    paths.insert(
        "/order/{orderId}/dummy-documents".into(),
        json!({
            "post": {
                "operationId": "attachDummyDocumentsRoute",
                "summary": "A dummy upload, for this test",
                "parameters": [
                    {"name": "orderId", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 7}}
                ],
                "security": [{"bearerAuth": []}, {"basicAuth": []}],
                "requestBody": {
                    "required": true,
                    "content": {
                        "multipart/form-data": {"schema": {"type": "object", "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "names": {"type": "array", "maxItems": 3, "items": {"type": "string"}}
                        }}}
                    }
                },
                "responses": {"200": {"description": "OK"}}
            }
        }),
    );
    // `bearerAuth` alone is defined in specs/order.yaml today; the dummy
    // also takes Basic, so the copy defines it as the poll specs do.
    let schemes = order.document["components"]["securitySchemes"]
        .as_object_mut()
        .expect("securitySchemes");
    schemes
        .entry("basicAuth")
        .or_insert(json!({"type": "http", "scheme": "basic"}));
    let after = generate(sources, &Settings::tradecloud()).expect("generates");

    let old = before.file("order/operations.rs").expect("a table");
    let new = after.file("order/operations.rs").expect("a table");
    assert!(!old.contains("attachDummyDocumentsRoute"));
    let dummy = constant(new, "ATTACH_DUMMY_DOCUMENTS_ROUTE");
    for fact in [
        r#"id: "attachDummyDocumentsRoute","#,
        "method: op::Method::Post,",
        r#"path: "/order/{orderId}/dummy-documents","#,
        r#"client_method: "attach_dummy_documents","#,
        "security: &[&[op::AuthScheme::Bearer], &[op::AuthScheme::Basic]],",
        r#"op::MediaType { name: "multipart/form-data", kind: op::MediaKind::Multipart }"#,
        r#"op::Limit { location: op::Location::Query, path: "limit", rule: op::Rule::Maximum { value: op::Bound::Integer(7), exclusive: false } }"#,
    ] {
        assert!(has(dummy, fact), "{fact} in\n{dummy}");
    }
    // The list of all operations gains the new one and nothing else.
    let list = |table: &str| -> Vec<String> {
        let start = table.find("pub const OPERATIONS").expect("OPERATIONS");
        let body = &table[start..];
        let body = &body[body.find("= &[").expect("a list") + 4..body.find("];").expect("its end")];
        body.split(',')
            .map(|name| name.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect()
    };
    let mut expected = list(old);
    assert!(!expected.contains(&"ATTACH_DUMMY_DOCUMENTS_ROUTE".to_string()));
    let mut got = list(new);
    assert!(
        got.contains(&"ATTACH_DUMMY_DOCUMENTS_ROUTE".to_string()),
        "{new}"
    );
    expected.push("ATTACH_DUMMY_DOCUMENTS_ROUTE".into());
    expected.sort();
    got.sort();
    assert_eq!(expected, got);
    // The full output has the same table, and the module tree re-exports it.
    assert_eq!(
        operation_tables(
            load::read_dir(&dir).expect("the specs load"),
            &Settings::tradecloud()
        )
        .expect("generates")
        .file("order/operations.rs"),
        Some(old)
    );
    assert!(has(
        after.file("mod.rs").expect("mod.rs"),
        "pub use operations::OPERATIONS;"
    ));
    // The existing operation's entry is unchanged.
    assert_eq!(
        constant(old, "GET_ORDER_BY_ID_ROUTE"),
        constant(new, "GET_ORDER_BY_ID_ROUTE")
    );
    let server = after.file("order/server.rs").expect("server stubs");
    assert!(has(
        server,
        "api.admit(&super::operations::ATTACH_DUMMY_DOCUMENTS_ROUTE, &parts).await"
    ));
    // No other spec's output changed.
    for file in &before.files {
        if !file.path.starts_with("order/") {
            assert_eq!(
                after.file(&file.path),
                Some(file.contents.as_str()),
                "{}",
                file.path
            );
        }
    }
}
