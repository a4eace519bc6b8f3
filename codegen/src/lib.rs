//! # tradecloud-codegen
//!
//! The build-time generator behind the `tradecloud` crate. It reads a
//! directory of OpenAPI 3.0.x documents and produces, per document, a Rust
//! module with
//!
//! * `types`: a type for every schema (typify, through progenitor), with
//!   exact decimals, flexible date-times, open enums and unknown fields kept
//!   (in `extra`, a `#[serde(flatten)]` map), `Default` and builders;
//! * `client`: a typed async client (progenitor + reqwest), named after the
//!   spec (`OrderClient`);
//! * `server`: axum server stubs (ours): a trait with one async method per
//!   operation, typed requests and responses, and a `router()`;
//! * `operations`: the operation table (`OPERATIONS`, one constant per
//!   operation): method, path template, security schemes, media types and
//!   the limits the spec states, as data the runtime reads (its client
//!   pipeline, its mock) instead of lists written by hand.
//!
//! The pipeline is: [`load`] (read files) → `normalize` (one canonical
//! shape) → `model` (analyse once: operations, schemas, enums) → `emit`
//! (independent emitters print the model: types, client, server stubs,
//! operation table) →
//! formatted files ([`Output`]). Only [`load`], [`error`] and the entry
//! points here are public; the stages are internal.
//!
//! ```no_run
//! let output = tradecloud_codegen::generate_dir(
//!     std::path::Path::new("specs"),
//!     &tradecloud_codegen::Settings::default(),
//! )?;
//! output.write_to(std::path::Path::new("generated"))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod emit;
pub mod error;
pub mod load;
mod model;
mod names;
mod normalize;
mod runtime;

use std::path::Path;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

pub use error::{Error, Result};

/// Settings of a generation run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Path of the module that holds one submodule per spec (`crate::api`).
    pub api_root: String,
    /// Path of the runtime crate inside generated code (`crate`).
    pub runtime_crate: String,
    /// Cargo feature that enables the clients (`None`: always compiled).
    pub client_feature: Option<String>,
    /// Cargo feature that enables the server stubs (`None`: always compiled).
    pub server_feature: Option<String>,
    /// Type stored in every generated client for request hooks.
    pub client_inner_type: Option<String>,
    /// Whether `mod.rs` includes the per-spec files from `OUT_DIR`
    /// (`include!(concat!(env!("OUT_DIR"), ...))`) or by relative path.
    pub include_from_out_dir: bool,
    /// Folder below `OUT_DIR` that the files are written to (`""`: `OUT_DIR` itself).
    pub out_subdir: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            api_root: "crate::api".into(),
            runtime_crate: "crate".into(),
            client_feature: Some("client".into()),
            server_feature: Some("server".into()),
            client_inner_type: None,
            include_from_out_dir: true,
            out_subdir: String::new(),
        }
    }
}

impl Settings {
    /// The settings the `tradecloud` crate builds with (used by its
    /// `build.rs` and by the `tradecloud-codegen` command, so that the
    /// committed `generated/` copy matches the build output).
    pub fn tradecloud() -> Self {
        Settings {
            client_inner_type: Some("crate::client::ClientContext".into()),
            ..Settings::default()
        }
    }

    pub(crate) fn runtime_path(&self) -> TokenStream {
        self.runtime_crate.parse().unwrap_or_else(|_| quote!(crate))
    }
    pub(crate) fn api_root_path(&self) -> TokenStream {
        self.api_root.parse().unwrap_or_else(|_| quote!(crate::api))
    }
}

/// One generated file: a path relative to the output directory and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Relative path, `/`-separated (`order/types.rs`).
    pub path: String,
    /// Formatted Rust source.
    pub contents: String,
}

/// Everything generated from one specs directory.
#[derive(Debug, Clone, Default)]
pub struct Output {
    /// The files, sorted by path.
    pub files: Vec<GeneratedFile>,
    /// The spec files that were read (for `cargo:rerun-if-changed`).
    pub inputs: Vec<std::path::PathBuf>,
}

impl Output {
    /// Write every file below `dir`, creating folders, and remove what
    /// earlier runs wrote that this one does not: `.rs` files, and folders
    /// of specs that no longer exist (other files are left alone).
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        self.remove_stale(dir, "")?;
        for f in &self.files {
            let target = dir.join(&f.path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            // Only touch files whose text changed, so that cargo does not
            // rebuild for nothing.
            if std::fs::read_to_string(&target).ok().as_deref() != Some(f.contents.as_str()) {
                std::fs::write(&target, &f.contents)?;
            }
        }
        Ok(())
    }

    /// Remove the files of earlier runs that this one does not write (files
    /// that start with the generator's `@generated` header), and the folders
    /// they leave empty. Nothing else is touched, so pointing the generator
    /// at the wrong folder loses no work. Returns whether it removed a file.
    fn remove_stale(&self, dir: &Path, rel: &str) -> std::io::Result<bool> {
        let mut removed = false;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            let path = entry.path();
            let rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if entry.file_type()?.is_dir() {
                if self.remove_stale(&path, &rel)? {
                    removed = true;
                    if std::fs::read_dir(&path)?.next().is_none() {
                        std::fs::remove_dir(&path)?;
                    }
                }
            } else if name.ends_with(".rs")
                && !self.files.iter().any(|f| f.path == rel)
                && std::fs::read_to_string(&path).is_ok_and(|t| t.starts_with(GENERATED_MARK))
            {
                std::fs::remove_file(&path)?;
                removed = true;
            }
        }
        Ok(removed)
    }

    /// The text of a generated file.
    pub fn file(&self, path: &str) -> Option<&str> {
        self.files
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.contents.as_str())
    }
}

/// How every generated file starts (and how stale ones are recognised).
const GENERATED_MARK: &str = "// @generated by tradecloud-codegen";
const HEADER: &str = "// @generated by tradecloud-codegen from the OpenAPI specs in `specs/`.\n// Do not edit by hand: change the spec (or the generator) and rebuild.\n\n";

fn format(tokens: TokenStream, path: &Path, what: &str) -> Result<String> {
    let file: syn::File = syn::parse2(tokens).map_err(|e| {
        Error::new(
            path,
            "",
            what,
            format!(
                "the generator produced code that does not parse ({e}); this is a generator bug"
            ),
        )
    })?;
    Ok(format!("{HEADER}{}", prettyplease::unparse(&file)))
}

/// Everything a `build.rs` does: generate the modules for the specs in
/// `specs` into `OUT_DIR`, tell cargo to run again when a spec changes, and
/// on failure stop the build with one line naming the file, the JSON
/// pointer and the construct (`cargo::error`). Call it only from a build
/// script: it exits the process on failure.
///
/// ```no_run
/// // build.rs
/// tradecloud_codegen::build(
///     std::path::Path::new("specs"),
///     &tradecloud_codegen::Settings::tradecloud(),
/// );
/// ```
pub fn build(specs: &Path, settings: &Settings) {
    println!("cargo:rerun-if-changed={}", specs.display());
    let result = std::env::var_os("OUT_DIR")
        .ok_or_else(|| "OUT_DIR is not set; run the generator from a build script".to_string())
        .and_then(|out| {
            let output = generate_dir(specs, settings).map_err(|e| e.to_string())?;
            for input in &output.inputs {
                println!("cargo:rerun-if-changed={}", input.display());
            }
            let out = Path::new(&out);
            output
                .write_to(out)
                .map_err(|e| format!("cannot write generated code to {}: {e}", out.display()))
        });
    if let Err(e) = result {
        println!("cargo::error={e}");
        std::process::exit(1);
    }
}

/// Generate the modules for every spec in `dir`.
pub fn generate_dir(dir: &Path, settings: &Settings) -> Result<Output> {
    let sources = load::read_dir(dir)?;
    generate(sources, settings)
}

/// Generate the modules for a set of already-read specs.
pub fn generate(sources: Vec<load::SpecSource>, settings: &Settings) -> Result<Output> {
    let inputs = sources.iter().map(|s| s.path.clone()).collect();
    let dir = sources
        .first()
        .and_then(|s| s.path.parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| "specs".into());
    let models = model::analyse_all(normalize::normalize_all(&sources)?)?;
    // Types first for every spec: whether a struct has a `Default` can
    // depend on a sibling's types.
    let typified = models
        .iter()
        .map(|m| emit::types::typify(m, settings))
        .collect::<Result<Vec<_>>>()?;
    let defaults = emit::defaults::DefaultIndex::new(&models, &typified);
    let mut files = Vec::new();
    let mut modules = Vec::new();
    for (m, items) in models.iter().zip(typified) {
        let types = emit::types::emit(m, settings, items, &defaults);
        files.push(GeneratedFile {
            path: format!("{}/types.rs", m.module),
            contents: format(types, &m.path, "types")?,
        });
        let has_ops = !m.operations.is_empty();
        if has_ops {
            let table = emit::operations::emit(m, settings);
            files.push(GeneratedFile {
                path: format!("{}/operations.rs", m.module),
                contents: format(table, &m.path, "operation table")?,
            });
            let client = emit::client::emit(m, settings)?;
            files.push(GeneratedFile {
                path: format!("{}/client.rs", m.module),
                contents: format(client, &m.path, "client")?,
            });
            let server = emit::server::emit(m, settings);
            files.push(GeneratedFile {
                path: format!("{}/server.rs", m.module),
                contents: format(server, &m.path, "server")?,
            });
        }
        modules.push(module_decl(m, settings, has_ops));
    }
    let root = quote!(#(#modules)*);
    files.push(GeneratedFile {
        path: "mod.rs".into(),
        contents: format(root, &dir, "module tree")?,
    });
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Output { files, inputs })
}

/// Only the operation tables of a set of specs: `<module>/operations.rs`
/// for every spec with operations (what [`generate`] writes there too),
/// without types, clients or server stubs. For tools and tests that need
/// the facts of the operations (method, path, security schemes, media
/// types, limits) without compiling the rest, or for specs whose bodies the
/// client generator cannot handle yet.
pub fn operation_tables(sources: Vec<load::SpecSource>, settings: &Settings) -> Result<Output> {
    let inputs = sources.iter().map(|s| s.path.clone()).collect();
    let models = model::analyse_all(normalize::normalize_all(&sources)?)?;
    let mut files = Vec::new();
    for m in models.iter().filter(|m| !m.operations.is_empty()) {
        files.push(GeneratedFile {
            path: format!("{}/operations.rs", m.module),
            contents: format(
                emit::operations::emit(m, settings),
                &m.path,
                "operation table",
            )?,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Output { files, inputs })
}

fn include(settings: &Settings, rel: &str) -> TokenStream {
    if settings.include_from_out_dir {
        let rel = if settings.out_subdir.is_empty() {
            format!("/{rel}")
        } else {
            format!("/{}/{rel}", settings.out_subdir)
        };
        quote!(include!(concat!(env!("OUT_DIR"), #rel));)
    } else {
        quote!(include!(#rel);)
    }
}

fn module_decl(m: &model::SpecModel, settings: &Settings, has_ops: bool) -> TokenStream {
    let module = format_ident!("{}", m.module);
    let mut doc = format!("{} (`specs/{}`).", m.title, m.file_name);
    if let Some(d) = &m.description {
        doc.push_str("\n\n");
        doc.push_str(d);
    }
    let doc_lines: Vec<String> = doc.lines().map(|l| format!(" {l}")).collect();
    let types_inc = include(settings, &format!("{}/types.rs", m.module));
    let cfg = |f: &Option<String>| f.as_ref().map(|f| quote!(#[cfg(feature = #f)]));
    let (operations, client, server) = if has_ops {
        let operations_inc = include(settings, &format!("{}/operations.rs", m.module));
        let client_inc = include(settings, &format!("{}/client.rs", m.module));
        let server_inc = include(settings, &format!("{}/server.rs", m.module));
        let ccfg = cfg(&settings.client_feature);
        let scfg = cfg(&settings.server_feature);
        let client_doc = format!(
            " Typed async client (progenitor): `{}`.",
            emit::client::client_type_name(m)
        );
        (
            quote! {
                /// What the spec says about each operation, as data: one
                /// constant per operation and [`OPERATIONS`], all of them.
                pub mod operations { #operations_inc }
                pub use operations::OPERATIONS;
            },
            quote! {
                #[doc = #client_doc]
                #ccfg
                #[allow(clippy::all, unused_imports, missing_docs, rustdoc::all)]
                pub mod client { #client_inc }
            },
            quote! {
                /// axum server stubs: the [`server::Api`] trait and [`server::router`].
                #scfg
                #[allow(clippy::all, missing_docs, rustdoc::all)]
                pub mod server { #server_inc }
            },
        )
    } else {
        (quote!(), quote!(), quote!())
    };
    quote! {
        #(#[doc = #doc_lines])*
        pub mod #module {
            /// Types of every schema of this spec.
            #[allow(clippy::all, missing_docs, rustdoc::all, unused_imports)]
            pub mod types { #types_inc }
            #operations
            #client
            #server
        }
    }
}
