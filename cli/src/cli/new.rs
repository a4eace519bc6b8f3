//! `tradecloud new`: create a new receiver service crate from the templates
//! in `templates/new/` (embedded in the binary).
//!
//! Templates use `{{name}}` placeholders and whole-line conditionals
//! (`{{#if flag}}`, `{{else}}`, `{{/if}}`, usually written as Rust or TOML
//! comments); see `template.rs`.

mod template;

pub use template::project_files;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use clap::{Args, ValueEnum};

/// Create a new Tradecloud webhook receiver service: a cargo project with a
/// handler function per event kind (where the ERP code goes), a main that
/// runs the receiver from tradecloud.toml, tests against a mock of
/// Tradecloud, sample events and a README (local run, certificate, portal
/// set-up).
#[derive(Debug, Args)]
pub struct NewArgs {
    /// Directory to create the project in (created when missing; it must be
    /// empty unless --force).
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// Package name (default: the directory's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Your side of the order. buyer (the default): receives the supplier's
    /// responses, approves or rejects proposals (`decide_proposal`) and
    /// shipment reschedule requests (`decide_reschedule`) through the API
    /// and records despatch advices. supplier: receives
    /// new and changed orders and answers them through the API (accept,
    /// propose or reject per line in `decide_line`, the order confirmation
    /// attached). With --delivery single the order handler only logs.
    #[arg(long, value_enum, default_value_t = Role::Buyer)]
    pub role: Role,
    /// The webhook events to handle, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "orders,documents,shipments"
    )]
    pub events: Vec<EventKind>,
    /// The portal's Delivery Schedule Mode for order events: multiple
    /// (Multiple Deliveries, `orderEvent`) or single (Single Delivery,
    /// `singleDeliveryOrderEvent`).
    #[arg(long, value_enum, default_value_t = Delivery::Multiple)]
    pub delivery: Delivery,
    /// Depend on the tradecloud crate at this path (default: the checkout
    /// this tool was built from, when it still exists; else crates.io).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["tradecloud_git", "tradecloud_version"])]
    pub tradecloud_path: Option<PathBuf>,
    /// Depend on the tradecloud crate from this git repository.
    #[arg(long, value_name = "URL", conflicts_with = "tradecloud_version")]
    pub tradecloud_git: Option<String>,
    /// With --tradecloud-git: this branch (default: the default branch).
    #[arg(long, value_name = "BRANCH", requires = "tradecloud_git")]
    pub tradecloud_branch: Option<String>,
    /// Depend on this version of the tradecloud crate from crates.io.
    #[arg(long, value_name = "VERSION")]
    pub tradecloud_version: Option<String>,
    /// Write into a directory that is not empty (files of the same name are replaced).
    #[arg(long)]
    pub force: bool,
}

/// Which side of the order the service is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Receives the supplier's order responses, documents and shipments.
    Buyer,
    /// Receives the buyer's orders, documents and answers to shipments.
    Supplier,
}

/// A kind of webhook event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum EventKind {
    /// Order events (`orderEvent` or `singleDeliveryOrderEvent`).
    Orders,
    /// Order documents events (`orderDocumentsEvent`).
    Documents,
    /// Shipment events.
    Shipments,
}

/// The portal's Delivery Schedule Mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Delivery {
    /// Multiple Deliveries: `orderEvent` with a delivery schedule per line.
    Multiple,
    /// Single Delivery: `singleDeliveryOrderEvent`, one delivery per line.
    Single,
}

/// Where the generated project gets the tradecloud crate from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A local checkout.
    Path(PathBuf),
    /// A git repository (optionally a branch).
    Git {
        /// The repository URL.
        url: String,
        /// The branch.
        branch: Option<String>,
    },
    /// crates.io.
    Version(String),
}

impl Source {
    /// The dependency's fields for Cargo.toml, e.g. `path = "/src/tradecloud"`.
    fn toml(&self) -> String {
        let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
        match self {
            Source::Path(path) => format!("path = {}", quote(&path.display().to_string())),
            Source::Git { url, branch: None } => format!("git = {}", quote(url)),
            Source::Git {
                url,
                branch: Some(branch),
            } => format!("git = {}, branch = {}", quote(url), quote(branch)),
            Source::Version(version) => format!("version = {}", quote(version)),
        }
    }

    /// How to install the `tradecloud` tool from the same place.
    fn install_command(&self) -> String {
        match self {
            Source::Path(path) => format!("cargo install --path {}", shell_word(path)),
            Source::Git { url, branch: None } => format!("cargo install --git {url} tradecloud"),
            Source::Git {
                url,
                branch: Some(branch),
            } => format!("cargo install --git {url} --branch {branch} tradecloud"),
            Source::Version(version) => format!("cargo install tradecloud --version {version}"),
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Path(path) => write!(f, "path {}", path.display()),
            Source::Git { url, .. } => write!(f, "git {url}"),
            Source::Version(version) => write!(f, "crates.io version {version}"),
        }
    }
}

fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c))
    {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The checkout this binary was built from, when it still exists: the
/// directory above this package (`cli/`), where the library's manifest is.
fn this_checkout() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()?
        .to_path_buf();
    dir.join("Cargo.toml").is_file().then_some(dir)
}

/// What to create: everything the templates depend on.
#[derive(Debug, Clone)]
pub struct Options {
    /// The package name.
    pub name: String,
    /// Buyer or supplier.
    pub role: Role,
    /// The event kinds (sorted, no duplicates).
    pub events: BTreeSet<EventKind>,
    /// The Delivery Schedule Mode.
    pub delivery: Delivery,
    /// Where tradecloud comes from.
    pub source: Source,
}

/// Run `tradecloud new`.
pub fn run(args: NewArgs) -> anyhow::Result<()> {
    let name = match &args.name {
        Some(name) => name.clone(),
        None => default_name(&args.path)?,
    };
    validate_name(&name)?;
    let source = if let Some(path) = &args.tradecloud_path {
        let path = std::path::absolute(path)
            .with_context(|| format!("cannot resolve --tradecloud-path {}", path.display()))?;
        if !path.join("Cargo.toml").is_file() {
            bail!(
                "--tradecloud-path {}: no Cargo.toml there; give the directory of a tradecloud checkout",
                path.display()
            );
        }
        Source::Path(path)
    } else if let Some(url) = &args.tradecloud_git {
        Source::Git {
            url: url.clone(),
            branch: args.tradecloud_branch.clone(),
        }
    } else if let Some(version) = &args.tradecloud_version {
        Source::Version(version.clone())
    } else {
        match this_checkout() {
            Some(dir) => Source::Path(dir),
            None => Source::Version(env!("CARGO_PKG_VERSION").to_owned()),
        }
    };
    let events: BTreeSet<EventKind> = args.events.iter().copied().collect();
    if events.is_empty() {
        bail!("--events is empty: give one or more of orders, documents, shipments");
    }
    let options = Options {
        name,
        role: args.role,
        events,
        delivery: args.delivery,
        source,
    };
    prepare_dir(&args.path, args.force)?;
    let files = project_files(&options)?;
    for (relative, text) in &files {
        let path = args.path.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create the directory {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    // A path dependency: start from the versions that checkout is tested with.
    if let Source::Path(dir) = &options.source {
        let lock = dir.join("Cargo.lock");
        if lock.is_file() {
            let to = args.path.join("Cargo.lock");
            std::fs::copy(&lock, &to)
                .with_context(|| format!("cannot copy {} to {}", lock.display(), to.display()))?;
        }
    }
    let kinds: Vec<&str> = options.events.iter().map(|e| e.flag()).collect();
    // The project is written; a closed stdout (`| head`) must not fail the command.
    let _ = writeln!(
        std::io::stdout(),
        "Created the {} receiver `{}` in {} (events: {}; tradecloud from {}).\n\n\
         Next:\n  cd {}\n  cargo test\n\n\
         Then write the ERP code in src/handler.rs. README.md tells how to run the service \
         against the mock of Tradecloud, get a certificate and configure the webhook in the \
         Tradecloud portal.",
        options.role.flag(),
        options.name,
        args.path.display(),
        kinds.join(", "),
        options.source,
        shell_word(&args.path),
    );
    Ok(())
}

impl Role {
    fn flag(self) -> &'static str {
        match self {
            Role::Buyer => "buyer",
            Role::Supplier => "supplier",
        }
    }
}

impl EventKind {
    fn flag(self) -> &'static str {
        match self {
            EventKind::Orders => "orders",
            EventKind::Documents => "documents",
            EventKind::Shipments => "shipments",
        }
    }
}

/// The package name from the directory's name.
fn default_name(path: &Path) -> anyhow::Result<String> {
    let absolute = std::path::absolute(path)
        .with_context(|| format!("cannot resolve the path {}", path.display()))?;
    match absolute.file_name().and_then(|n| n.to_str()) {
        Some(name) => Ok(name.to_owned()),
        None => bail!(
            "cannot take a package name from {}: give one with --name",
            path.display()
        ),
    }
}

/// Cargo's rules for a new package name, plus the names that would clash
/// with the project's own dependencies.
pub fn validate_name(name: &str) -> anyhow::Result<()> {
    /// Rust keywords (including reserved ones), the standard library's crates
    /// and cargo's own directories, the generated project's dependencies,
    /// and Windows device names.
    const RESERVED: &str = "abstract as async await become box break const continue crate do dyn \
        else enum extern false final fn for gen if impl in let loop macro match mod move mut \
        override priv pub ref return self static struct super trait true try type typeof unsafe \
        unsized use virtual where while yield \
        alloc core proc_macro std test build deps examples incremental \
        tradecloud anyhow clap tokio tracing tracing_subscriber tempfile serde_json \
        con prn aux nul com1 com2 com3 com4 com5 com6 com7 com8 com9 \
        lpt1 lpt2 lpt3 lpt4 lpt5 lpt6 lpt7 lpt8 lpt9";
    let advice = "choose another with --name, e.g. --name my-erp-receiver";
    let Some(first) = name.chars().next() else {
        bail!("the package name is empty; {advice}");
    };
    if name.len() > 64 {
        bail!("the package name `{name}` is longer than 64 characters; {advice}");
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        bail!(
            "the package name `{name}` contains `{bad}`: only ASCII letters, digits, `-` and `_` are allowed; {advice}"
        );
    }
    if !first.is_ascii_alphabetic() {
        bail!("the package name `{name}` must start with a letter; {advice}");
    }
    let normalised = name.to_ascii_lowercase().replace('-', "_");
    if RESERVED.split_whitespace().any(|r| r == normalised) {
        bail!("the package name `{name}` is reserved (a Rust keyword, a standard or dependency crate, or a device name); {advice}");
    }
    Ok(())
}

/// Create `dir` when missing; refuse one that is not empty unless `force`.
fn prepare_dir(dir: &Path, force: bool) -> anyhow::Result<()> {
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => bail!(
            "{} exists and is not a directory; choose a new or empty directory",
            dir.display()
        ),
        Ok(_) => {
            let entries = std::fs::read_dir(dir)
                .with_context(|| format!("cannot read the directory {}", dir.display()))?
                .count();
            if entries > 0 && !force {
                bail!(
                    "{} is not empty ({entries} entries); choose a new or empty directory, or pass \
                     --force to write into it (files of the same name are replaced)",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the directory {}", dir.display())),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_cargo_rules() {
        for good in ["my-erp", "erp_receiver", "A1"] {
            validate_name(good).unwrap();
        }
        for bad in [
            "",
            "1erp",
            "-erp",
            "my erp",
            "my.erp",
            "café",
            "fn",
            "std",
            "tradecloud",
            "con",
            &"x".repeat(65),
        ] {
            let e = validate_name(bad).unwrap_err().to_string();
            assert!(e.contains("--name"), "{bad}: {e}");
        }
    }
}
