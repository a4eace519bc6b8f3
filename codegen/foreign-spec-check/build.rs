//! Generates the modules for `../tests/specs/tapir` into `OUT_DIR`, with the
//! `tradecloud` crate as the runtime.

fn main() {
    let settings = tradecloud_codegen::Settings {
        api_root: "crate".into(),
        runtime_crate: "tradecloud".into(),
        client_inner_type: Some("tradecloud::client::ClientContext".into()),
        client_feature: None,
        server_feature: None,
        ..tradecloud_codegen::Settings::default()
    };
    tradecloud_codegen::build(std::path::Path::new("../tests/specs/tapir"), &settings);
}
