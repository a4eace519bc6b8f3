//! Reading spec files: YAML or JSON into `serde_json::Value`, one per file,
//! keyed by the Rust module name derived from the file name.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::names;

/// One spec file as read from disk, before any analysis.
#[derive(Debug, Clone)]
pub struct SpecSource {
    /// Path of the file, as found in the specs directory.
    pub path: PathBuf,
    /// File name (`order-search.yaml`), used to resolve external `$ref`s.
    pub file_name: String,
    /// Rust module name (`order_search`).
    pub module: String,
    /// The document.
    pub document: Value,
}

/// Read every `*.yaml`, `*.yml` and `*.json` file of `dir`, sorted by name.
pub fn read_dir(dir: &Path) -> Result<Vec<SpecSource>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Error::new(
            dir,
            "",
            "specs directory",
            format!("cannot read the directory: {e}; create it or point the generator at the folder holding the OpenAPI files"),
        )
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::new(dir, "", "specs directory", e.to_string()))?;
        let path = entry.path();
        let is_spec = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        );
        if is_spec && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    let mut specs = Vec::with_capacity(paths.len());
    for path in paths {
        specs.push(read_file(&path)?);
    }
    let mut seen = std::collections::BTreeMap::new();
    for spec in &specs {
        if let Some(other) = seen.insert(spec.module.clone(), spec.path.clone()) {
            return Err(Error::new(
                &spec.path,
                "",
                "file name",
                format!(
                    "maps to the Rust module `{}` like {}; rename one of the files",
                    spec.module,
                    other.display()
                ),
            ));
        }
    }
    Ok(specs)
}

/// Read one spec file.
pub fn read_file(path: &Path) -> Result<SpecSource> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::new(path, "", "spec file", format!("cannot read: {e}")))?;
    SpecSource::from_text(path, &text)
}

impl SpecSource {
    /// A spec from its text, as if read from `path` (which names the module).
    pub fn from_text(path: &Path, text: &str) -> Result<SpecSource> {
        let document = parse_text(path, text)?;
        Ok(SpecSource::new(path, document))
    }

    fn new(path: &Path, document: Value) -> SpecSource {
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let stem = path
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        SpecSource {
            path: path.to_path_buf(),
            file_name,
            module: names::module_name(stem),
            document,
        }
    }
}

/// Parse YAML (a superset of JSON) into a JSON value.
pub fn parse_text(path: &Path, text: &str) -> Result<Value> {
    let value: Value = serde_yaml::from_str(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
            .unwrap_or_default();
        Error::new(
            path,
            "",
            "YAML/JSON syntax",
            format!("the file is not valid YAML or JSON{at}: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(Error::new(
            path,
            "",
            "document",
            "an OpenAPI document must be a mapping at the top level",
        ));
    }
    Ok(value)
}
