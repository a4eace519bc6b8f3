//! Generates `api` (types, clients, server stubs) from `specs/` into
//! `OUT_DIR`. All the work is in the `tradecloud-codegen` library; see
//! `generated/` for a readable copy of the output.

fn main() {
    println!("cargo:rerun-if-changed=specs");
    let specs = std::path::Path::new("specs");
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let settings = tradecloud_codegen::Settings::tradecloud();
    match tradecloud_codegen::generate_dir(specs, &settings) {
        Ok(output) => {
            for input in &output.inputs {
                println!("cargo:rerun-if-changed={}", input.display());
            }
            if let Err(e) = output.write_to(&out) {
                eprintln!("error: cannot write generated code to {}: {e}", out.display());
                std::process::exit(1);
            }
        }
        Err(e) => {
            // One clear line naming the file, the JSON pointer and the construct.
            eprintln!("error: {e}");
            println!("cargo::error={e}");
            std::process::exit(1);
        }
    }
}
