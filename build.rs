//! Generates `api` (types, clients, server stubs) from `specs/` into
//! `OUT_DIR`. All the work is in the `tradecloud-codegen` library; see
//! `generated/` for a readable copy of the output.

use std::path::{Path, PathBuf};

fn generate(specs: &Path, out: &Path, settings: &tradecloud_codegen::Settings) {
    println!("cargo:rerun-if-changed={}", specs.display());
    match tradecloud_codegen::generate_dir(specs, settings) {
        Ok(output) => {
            for input in &output.inputs {
                println!("cargo:rerun-if-changed={}", input.display());
            }
            if let Err(e) = output.write_to(out) {
                println!(
                    "cargo::error=cannot write generated code to {}: {e}",
                    out.display()
                );
                std::process::exit(1);
            }
        }
        Err(e) => {
            // One clear line naming the file, the JSON pointer and the construct.
            println!("cargo::error={e}");
            std::process::exit(1);
        }
    }
}

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    generate(
        Path::new("specs"),
        &out,
        &tradecloud_codegen::Settings::tradecloud(),
    );

    // A spec in the style Tradecloud publishes (tapir): generated into a
    // test-only module so that `cargo test` proves such output compiles.
    let foreign = Path::new("codegen/tests/specs/tapir");
    if foreign.is_dir() {
        let settings = tradecloud_codegen::Settings {
            api_root: "crate::foreign_spec_check".into(),
            out_subdir: "foreign".into(),
            ..tradecloud_codegen::Settings::tradecloud()
        };
        generate(foreign, &out.join("foreign"), &settings);
    }

    // The types again, with serde's derived `Deserialize` instead of the
    // generated visitor: `tests/webhook_bodies.rs` checks that both decode
    // every fixture to the same values and fail on the same inputs.
    if Path::new("tests/webhook_bodies.rs").is_file() {
        let settings = tradecloud_codegen::Settings {
            api_root: "crate::derived".into(),
            runtime_crate: "tradecloud".into(),
            out_subdir: "derived".into(),
            derive_deserialize: true,
            types_only: true,
            ..tradecloud_codegen::Settings::tradecloud()
        };
        generate(Path::new("specs"), &out.join("derived"), &settings);
    }
}
