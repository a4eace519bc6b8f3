//! Generates `api` (types, clients, server stubs) from `specs/` into
//! `OUT_DIR`. All the work is in the `tradecloud-codegen` library; see
//! `generated/` for a readable copy of the output.

fn main() {
    tradecloud_codegen::build(
        std::path::Path::new("specs"),
        &tradecloud_codegen::Settings::tradecloud(),
    );
}
