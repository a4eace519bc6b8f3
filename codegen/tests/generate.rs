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
    load::SpecSource {
        document: load::parse_text(&path, text).expect("test spec parses"),
        file_name: name.to_string(),
        module: tradecloud_codegen::names::module_name(name.trim_end_matches(".yaml")),
        path,
    }
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

#[test]
fn structs_with_extra_get_a_generated_deserialize() {
    let out = generate_dir(&specs("basic"), &Settings::tradecloud()).expect("generates");
    let hook = out.file("hook/types.rs").expect("hook types");
    // Serialize stays derived (and flattens `extra`); Deserialize is a map
    // visitor that matches the wire names and fills `extra` itself.
    assert!(
        hook.contains("#[derive(::serde::Serialize, Clone, Debug, PartialEq)]\npub struct Body {"),
        "{hook}"
    );
    assert!(hook.contains("impl<'de> ::serde::Deserialize<'de> for Body {"));
    assert!(hook.contains("\"eventName\" => {"));
    assert!(hook.contains("crate::types::de::required("));
    assert!(hook.contains("order: __field_order.flatten(),"));
    assert!(hook.contains("__extra.insert(__key.into_string(), __value);"));
    assert!(!hook.contains("::serde::Deserialize,"));

    // The reference variant keeps serde's derive, and can leave out the
    // clients and server stubs.
    let settings = Settings {
        derive_deserialize: true,
        types_only: true,
        ..Settings::tradecloud()
    };
    let out = generate_dir(&specs("basic"), &settings).expect("generates");
    let paths: Vec<&str> = out.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["common/types.rs", "hook/types.rs", "mod.rs"]);
    let hook = out.file("hook/types.rs").expect("hook types");
    assert!(hook.contains("#[derive(::serde::Deserialize, ::serde::Serialize, Clone, Debug, PartialEq)]\npub struct Body {"));
    assert!(!hook.contains("impl<'de> ::serde::Deserialize<'de>"));
}

#[test]
fn structs_the_visitor_cannot_express_keep_the_derive() {
    let items: Vec<syn::Item> = vec![
        // an attribute the visitor does not know (`alias`)
        syn::parse_quote! {
            #[derive(::serde::Deserialize, ::serde::Serialize)]
            pub struct Aliased {
                #[serde(alias = "old")]
                pub new: ::std::string::String,
                #[serde(flatten)]
                pub extra: ::serde_json::Map<::std::string::String, ::serde_json::Value>,
            }
        },
        // no `extra` map
        syn::parse_quote! {
            #[derive(::serde::Deserialize, ::serde::Serialize)]
            pub struct Closed {
                pub id: ::std::string::String,
            }
        },
        // a container attribute
        syn::parse_quote! {
            #[derive(::serde::Deserialize, ::serde::Serialize)]
            #[serde(deny_unknown_fields)]
            pub struct Strict {
                #[serde(flatten)]
                pub extra: ::serde_json::Map<::std::string::String, ::serde_json::Value>,
            }
        },
        // a raw identifier and a default path are fine
        syn::parse_quote! {
            #[derive(::serde::Deserialize, ::serde::Serialize)]
            pub struct Open {
                #[serde(default = "defaults::ten")]
                pub r#type: u64,
                #[serde(flatten)]
                pub extra: ::serde_json::Map<::std::string::String, ::serde_json::Value>,
            }
        },
    ];
    let out = tradecloud_codegen::emit::deserialize::rewrite(items, &Settings::tradecloud())
        .expect("rewrites");
    let text = prettyplease::unparse(&syn::File {
        shebang: None,
        attrs: vec![],
        items: out,
    });
    assert_eq!(
        text.matches("#[derive(::serde::Deserialize, ::serde::Serialize)]")
            .count(),
        3,
        "{text}"
    );
    assert!(
        text.contains("impl<'de> ::serde::Deserialize<'de> for Open {"),
        "{text}"
    );
    assert!(text.contains("\"type\" => {"), "{text}");
    assert!(
        text.contains("r#type: __field_type.unwrap_or_else(defaults::ten),"),
        "{text}"
    );
}

#[test]
fn client_adapts_the_spec_for_progenitor() {
    let out = generate_dir(&specs("basic"), &Settings::tradecloud()).expect("generates");
    let client = out.file("hook/client.rs").expect("client");
    // the XML media type is left to the server stubs; the client posts JSON
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
