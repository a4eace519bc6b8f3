//! `tradecloud-codegen SPECS_DIR OUT_DIR`: regenerate the readable copy of
//! the generated code (the crate's `generated/` folder) from the specs.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 2 || args.iter().any(|a| a == "-h" || a == "--help") {
        eprintln!("usage: tradecloud-codegen SPECS_DIR OUT_DIR\n\nGenerates Rust types, clients and axum server stubs for every OpenAPI 3.0.x\nfile in SPECS_DIR and writes them to OUT_DIR (for example `specs generated`).");
        return ExitCode::from(2);
    }
    let specs = PathBuf::from(&args[0]);
    let out = PathBuf::from(&args[1]);
    let output =
        match tradecloud_codegen::generate_dir(&specs, &tradecloud_codegen::Settings::tradecloud())
        {
            Ok(o) => o,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
    if let Err(e) = output.write_to(&out) {
        eprintln!("error: cannot write {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    println!("wrote {} files to {}", output.files.len(), out.display());
    ExitCode::SUCCESS
}
