//! `generated/` is the committed, readable copy of what `build.rs` writes to
//! `OUT_DIR`. This test fails when it is stale; refresh it with
//!
//! ```text
//! cargo run -p tradecloud-codegen -- specs generated
//! ```

use std::path::Path;

fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                if let Ok(rel) = p.strip_prefix(dir) {
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn generated_copy_matches_the_build_output() {
    let built = Path::new(env!("OUT_DIR"));
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("generated");
    let refresh = "run `cargo run -p tradecloud-codegen -- specs generated` and commit the diff";
    let built_files = files(built);
    assert!(
        !built_files.is_empty(),
        "build.rs wrote nothing to {}",
        built.display()
    );
    assert_eq!(
        built_files,
        files(&committed),
        "generated/ has different files than the build output; {refresh}"
    );
    for f in &built_files {
        let a = std::fs::read_to_string(built.join(f)).unwrap_or_default();
        let b = std::fs::read_to_string(committed.join(f)).unwrap_or_default();
        assert!(a == b, "generated/{f} is stale; {refresh}");
    }
}
