//! Loading a [`Config`]: layers merged with [figment](https://docs.rs/figment),
//! each value keeping where it came from.
//!
//! 1. The defaults of the structs (`#[serde(default)]`).
//! 2. The TOML file, parsed with `toml` (a syntax error says line and column).
//! 3. The `TRADECLOUD_*` environment variables.
//! 4. The secret files (`password_file`, `token_file`, ...), read last.
//!
//! An error names the file or the variable, the key, and what was expected;
//! an unknown key is refused (`deny_unknown_fields` on every section) with
//! the keys that are known.
//!
//! # From variable names to keys
//!
//! Keys have underscores of their own (`max_connections_per_ip`), so
//! `TRADECLOUD_SERVER_MAX_CONNECTIONS_PER_IP` cannot be split at every `_`
//! (figment's `Env::split("_")` would make `server.max.connections.per.ip`).
//! The name is matched against the keys of `Config::default()` serialised
//! instead: first the section (`server`), then the key that the rest of the
//! name is, or else the longest table (or unset optional value) that it
//! starts with, and so on into nested tables (`[server.acme]`). No key list
//! is kept by hand: a field added to a struct is known to the environment
//! at once. A name within a known section that matches no key is kept
//! whole, so that the section refuses it as unknown, naming the variable.
//!
//! Values stay strings; where the field is a number or a boolean they are
//! read as one (figment's `extract_lossy`: `1`/`true`/`yes`/`on`), so that a
//! numeric password stays a string. A list key takes a comma separated list.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::error::Kind;
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::{split_list, Config, ConfigError, Secret, DEFAULT_CONFIG_FILE};

/// Prefix of the environment variables.
const ENV_PREFIX: &str = "TRADECLOUD_";
/// Metadata name of the file layer.
const FILE_LAYER: &str = "configuration file";
/// Metadata name of the environment layer.
const ENV_LAYER: &str = "TRADECLOUD_* environment variables";
/// The API client's variables (`TRADECLOUD_USERNAME`, ...), which also set
/// `[tradecloud]` keys (with less priority than `TRADECLOUD_TRADECLOUD_*`).
const CLIENT_VARIABLES: &[(&str, &str)] = &[
    ("username", "username"),
    ("password", "password"),
    ("password_file", "password_file"),
    ("base_url", "base_url"),
    ("env", "environment"),
];

impl Config {
    /// Load the configuration: the file at `path` (which must exist), or
    /// `tradecloud.toml` in the current directory if it exists, then the
    /// `TRADECLOUD_*` environment overrides, then the secret files.
    ///
    /// A section that is not the receiver's (`[procesing]`, a typing error)
    /// is refused; a program with sections of its own names them with
    /// [`Config::load_with_sections`].
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_with_sections(path, &[])
    }

    /// [`Config::load`], keeping the sections named in `own` (`["erp"]`)
    /// in [`Config::other`] for the program; any other unknown section is
    /// refused.
    ///
    /// ```no_run
    /// use tradecloud::receiver::Config;
    ///
    /// let config = Config::load_with_sections(None, &["erp"])?;
    /// let documents = config.other.get("erp").and_then(|erp| erp.get("documents_dir"));
    /// # Ok::<(), tradecloud::receiver::ConfigError>(())
    /// ```
    pub fn load_with_sections(path: Option<&Path>, own: &[&str]) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let (text, origin) = match path {
            Some(path) => (Some(read(path)?), path.display().to_string()),
            None => {
                let default = Path::new(DEFAULT_CONFIG_FILE);
                if default.is_file() {
                    (Some(read(default)?), default.display().to_string())
                } else {
                    (None, "(defaults)".to_string())
                }
            }
        };
        Self::from_parts_with_sections(text.as_deref(), &origin, env, own)
    }

    /// Parse `text` (TOML, from `origin`), apply the overrides in `env`
    /// (pairs of environment variable name and value) and read the secret
    /// files. Unknown sections are refused (see [`Config::load`]).
    pub fn from_parts(
        text: Option<&str>,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        Self::from_parts_with_sections(text, origin, env, &[])
    }

    /// [`Config::from_parts`], keeping the sections named in `own` (see
    /// [`Config::load_with_sections`]).
    pub fn from_parts_with_sections(
        text: Option<&str>,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
        own: &[&str],
    ) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        if let Some(text) = text {
            let table: toml::Table =
                text.parse()
                    .map_err(|e: toml::de::Error| ConfigError::Invalid {
                        origin: origin.to_string(),
                        message: e.to_string(),
                    })?;
            figment = figment.merge(FileLayer(table));
        }
        let (env, names) = EnvLayer::new(env, &key_tree()?);
        figment = figment.merge(env);
        let mut config: Config = figment
            .extract_lossy()
            .map_err(|e| describe(e, origin, &names))?;
        config.refuse_unknown_sections(origin, own)?;
        config.resolve_secret_files(&figment)?;
        Ok(config)
    }

    /// Sections that are not the receiver's go to [`Config::other`]: those
    /// the program named are kept, any other is refused (a misspelt
    /// `[procesing]` would otherwise leave its keys unread without a
    /// word), and so is a plain key there (a key of `[server]` above the
    /// first section).
    fn refuse_unknown_sections(&self, origin: &str, own: &[&str]) -> Result<(), ConfigError> {
        let known = known_sections();
        let invalid = |message: String| ConfigError::Invalid {
            origin: origin.to_string(),
            message,
        };
        if let Some((key, _)) = self.other.iter().find(|(_, value)| !value.is_table()) {
            return Err(invalid(format!(
                "unknown key `{key}` outside any section: put it in its section ({})",
                known
                    .iter()
                    .map(|s| format!("[{s}]"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        match self.other.keys().find(|name| !own.contains(&name.as_str())) {
            Some(name) => Err(invalid(format!(
                "unknown section `[{name}]`; known sections: {}{}",
                known.join(", "),
                if own.is_empty() {
                    String::new()
                } else {
                    format!(" and this program's {}", own.join(", "))
                }
            ))),
            None => Ok(()),
        }
    }

    fn resolve_secret_files(&mut self, figment: &Figment) -> Result<(), ConfigError> {
        let auth = &mut self.auth;
        resolve_secret(
            figment,
            &mut auth.password,
            &auth.password_file,
            "auth.password",
        )?;
        resolve_secret(figment, &mut auth.token, &auth.token_file, "auth.token")?;
        let server = &mut self.server;
        resolve_secret(
            figment,
            &mut server.metrics_token,
            &server.metrics_token_file,
            "server.metrics_token",
        )?;
        let console = &mut self.console;
        resolve_secret(
            figment,
            &mut console.password,
            &console.password_file,
            "console.password",
        )?;
        resolve_secret(
            figment,
            &mut console.readonly_password,
            &console.readonly_password_file,
            "console.readonly_password",
        )?;
        let tradecloud = &mut self.tradecloud;
        resolve_secret(
            figment,
            &mut tradecloud.password,
            &tradecloud.password_file,
            "tradecloud.password",
        )
    }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Largest secret file read (a secret is a line; a bigger file is a
/// wrong path, such as a device or a log).
const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// The text of a secret file, or what is wrong with it.
fn read_secret_file(path: &Path) -> Result<String, String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(format!(
            "it is larger than {MAX_SECRET_FILE_BYTES} bytes, too large for a secret"
        ));
    }
    String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_string())
}

/// Read the secret `key` from the file of `key_file`, if set. Both set in
/// one layer is an error; set in different layers, the environment's wins
/// (`TRADECLOUD_AUTH_PASSWORD` replaces the file's `password_file`).
fn resolve_secret(
    figment: &Figment,
    value: &mut Option<Secret>,
    file: &Option<PathBuf>,
    key: &str,
) -> Result<(), ConfigError> {
    let Some(file) = file else { return Ok(()) };
    if value.is_some() {
        let from_env = |key: &str| {
            figment
                .find_metadata(key)
                .is_some_and(|m| m.name == ENV_LAYER)
        };
        match (from_env(key), from_env(&format!("{key}_file"))) {
            (true, false) => return Ok(()),
            (false, true) => {}
            _ => {
                return Err(ConfigError::setting(format!(
                    "{key} and {key}_file are both set; keep one"
                )))
            }
        }
    }
    let text = read_secret_file(file).map_err(|problem| {
        ConfigError::setting(format!(
            "{key}_file = {:?}: {problem}; write the secret into that file, or set {key} (or its variable) instead",
            file.display().to_string()
        ))
    })?;
    // A trailing newline is an artefact of how secret files are written.
    let secret = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    *value = Some(Secret::new(secret));
    Ok(())
}

/// The configuration file's table.
struct FileLayer(toml::Table);

impl Provider for FileLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named(FILE_LAYER)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let dict = Value::serialize(&self.0)?
            .into_dict()
            .ok_or_else(|| figment::Error::from("the configuration is not a table".to_string()))?;
        Ok(Profile::Default.collect(dict))
    }
}

/// The `TRADECLOUD_*` variables, as a table of string values.
struct EnvLayer(Dict);

impl EnvLayer {
    /// The layer, and the variable that set each key (`server.listen`).
    fn new(
        env: impl IntoIterator<Item = (String, String)>,
        tree: &Dict,
    ) -> (Self, BTreeMap<String, String>) {
        let mut client = Vec::new();
        let mut sections = Vec::new();
        for (name, value) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let rest = rest.to_ascii_lowercase();
            if let Some((_, key)) = CLIENT_VARIABLES.iter().find(|(n, _)| *n == rest) {
                client.push((vec!["tradecloud".to_string(), key.to_string()], name, value));
            } else if let Some(path) = key_path(tree, &rest) {
                sections.push((path, name, value));
            }
            // Other TRADECLOUD_* variables belong to the command line tool.
        }
        let mut dict = Dict::new();
        let mut names = BTreeMap::new();
        // The section-prefixed variables last: they win.
        for (path, name, value) in client.into_iter().chain(sections) {
            let value = match lookup(tree, &path) {
                Some(Value::Array(..)) => Value::from(split_list(&value)),
                _ => Value::from(value),
            };
            insert(&mut dict, &path, value);
            names.insert(path.join("."), name);
        }
        (EnvLayer(dict), names)
    }
}

impl Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named(ENV_LAYER)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}

/// Every key of the configuration, with its default value: the tables are
/// the sections, an unset optional value is [`Value::Empty`].
///
/// An optional section (`[server.acme]`) is unset by default, so its keys
/// are not in the serialised defaults; yet they must be known so that a
/// variable alone can set them (`TRADECLOUD_SERVER_ACME_DOMAINS=a,b` is
/// split as a list). They are found without naming the section here:
/// every unset optional value is tried as an empty table, and one that
/// deserialises from it is a section with defaults, whose keys are then
/// taken (and so on into its own optional sections). Built once.
fn key_tree() -> Result<Dict, ConfigError> {
    static TREE: std::sync::OnceLock<Option<Dict>> = std::sync::OnceLock::new();
    TREE.get_or_init(|| {
        let mut tree = Value::serialize(Config::default())
            .ok()
            .and_then(Value::into_dict)?;
        open_optional_sections(&mut tree);
        Some(tree)
    })
    .clone()
    .ok_or_else(|| ConfigError::setting("the configuration defaults do not serialise"))
}

/// Replace each unset optional value of `tree` that is a section (see
/// [`key_tree`]) by that section's defaults.
fn open_optional_sections(tree: &mut Dict) {
    let mut pending: Vec<Vec<String>> = Vec::new();
    collect_unset(tree, &mut Vec::new(), &mut pending);
    while let Some(path) = pending.pop() {
        let mut probe = Dict::new();
        insert(&mut probe, &path, Value::from(Dict::new()));
        let Ok(config) =
            Figment::from(figment::providers::Serialized::defaults(probe)).extract::<Config>()
        else {
            continue; // not a table: a plain optional value
        };
        let Some(section) = Value::serialize(config)
            .ok()
            .and_then(Value::into_dict)
            .and_then(|d| lookup(&d, &path).and_then(Value::as_dict).cloned())
        else {
            continue;
        };
        collect_unset(&section, &mut path.clone(), &mut pending);
        insert(tree, &path, Value::from(section));
    }
}

/// The paths of the unset optional values in `dict` (under `prefix`).
fn collect_unset(dict: &Dict, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    for (key, value) in dict {
        prefix.push(key.clone());
        match value {
            Value::Empty(..) => out.push(prefix.clone()),
            Value::Dict(_, inner) => collect_unset(inner, prefix, out),
            _ => {}
        }
        prefix.pop();
    }
}

/// The sections `[server]`, `[auth]`, ...: the tables of [`key_tree`].
pub(super) fn known_sections() -> Vec<String> {
    key_tree()
        .map(|tree| {
            tree.iter()
                .filter(|(_, v)| v.as_dict().is_some())
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The key path of a variable name (without `TRADECLOUD_`, lower case):
/// `None` unless it starts with a section.
fn key_path(tree: &Dict, name: &str) -> Option<Vec<String>> {
    let (section, table, rest) = tree
        .iter()
        .filter_map(|(key, value)| {
            let rest = name.strip_prefix(key.as_str())?.strip_prefix('_')?;
            Some((key, value.as_dict()?, rest)).filter(|_| !rest.is_empty())
        })
        .max_by_key(|(key, _, _)| key.len())?;
    let mut path = vec![section.clone()];
    keys_within(Some(table), rest, &mut path);
    Some(path)
}

/// The keys that `name` stands for within `table` (`None`: a table whose
/// keys are not known, such as an unset optional section).
fn keys_within(table: Option<&Dict>, name: &str, path: &mut Vec<String>) {
    let Some(table) = table else {
        path.push(name.to_string());
        return;
    };
    if table.contains_key(name) {
        path.push(name.to_string());
        return;
    }
    let nested = table
        .iter()
        .filter(|(_, value)| matches!(value, Value::Dict(..) | Value::Empty(..)))
        .filter_map(|(key, value)| {
            let rest = name.strip_prefix(key.as_str())?.strip_prefix('_')?;
            Some((key, value, rest)).filter(|_| !rest.is_empty())
        })
        .max_by_key(|(key, _, _)| key.len());
    match nested {
        Some((key, value, rest)) => {
            path.push(key.clone());
            keys_within(value.as_dict(), rest, path);
        }
        // Unknown: the section refuses it, naming the variable.
        None => path.push(name.to_string()),
    }
}

fn lookup<'a>(tree: &'a Dict, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let value = tree.get(first)?;
    match rest {
        [] => Some(value),
        _ => lookup(value.as_dict()?, rest),
    }
}

fn insert(dict: &mut Dict, path: &[String], value: Value) {
    match path {
        [] => {}
        [key] => {
            dict.insert(key.clone(), value);
        }
        [key, rest @ ..] => {
            let entry = dict
                .entry(key.clone())
                .or_insert_with(|| Value::from(Dict::new()));
            if entry.as_dict().is_none() {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}

/// A figment error as a [`ConfigError::Invalid`]: where (the file or the
/// variable), which key, what is wrong.
fn describe(error: figment::Error, file: &str, names: &BTreeMap<String, String>) -> ConfigError {
    let mut origin = None;
    let mut messages = Vec::new();
    for e in error {
        let key = e.path.join(".");
        let from_env = e.metadata.as_ref().is_some_and(|m| m.name == ENV_LAYER);
        let here = if from_env {
            // The variable of the key, or of the table the key is in.
            let name = (0..=e.path.len())
                .rev()
                .find_map(|n| names.get(&e.path[..n].join(".")));
            match name {
                Some(name) => format!("{name} (environment)"),
                None => "TRADECLOUD_* environment".to_string(),
            }
        } else {
            file.to_string()
        };
        let what = match &e.kind {
            Kind::UnknownField(found, known) => {
                format!("unknown key `{found}`; known keys: {}", known.join(", "))
            }
            Kind::UnknownVariant(found, known) => {
                format!(
                    "unknown value `{found}`; expected one of: {}",
                    known.join(", ")
                )
            }
            // std's `SocketAddr` parser says only this.
            Kind::Message(m) if m == "invalid socket address syntax" => {
                "not an IP:PORT address: write e.g. `0.0.0.0:8443`, `127.0.0.1:8443` or \
                 `[::]:8443` (a host name such as `localhost` is not taken)"
                    .to_string()
            }
            kind => kind.to_string(),
        };
        messages.push(if key.is_empty() {
            what
        } else {
            format!("`{key}`: {what}")
        });
        origin.get_or_insert(here);
    }
    ConfigError::Invalid {
        origin: origin.unwrap_or_else(|| file.to_string()),
        message: messages.join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Dict {
        let mut acme = Dict::new();
        acme.insert("cache_dir".into(), Value::from("x"));
        acme.insert("domains".into(), Value::from(Vec::<String>::new()));
        let mut server = Dict::new();
        for key in ["max_connections", "max_connections_per_ip", "metrics"] {
            server.insert(key.into(), Value::from(1));
        }
        server.insert("tls_cert".into(), Value::from(figment::value::Empty::None));
        server.insert("acme".into(), Value::from(acme));
        server.insert("proxy".into(), Value::from(figment::value::Empty::None));
        let mut tree = Dict::new();
        tree.insert("server".into(), Value::from(server));
        tree.insert("store".into(), Value::from(Dict::new()));
        tree
    }

    fn path(name: &str) -> Option<String> {
        key_path(&tree(), name).map(|p| p.join("."))
    }

    #[test]
    fn names_find_keys_with_underscores_and_nested_tables() {
        let cases = [
            ("server_max_connections", "server.max_connections"),
            (
                "server_max_connections_per_ip",
                "server.max_connections_per_ip",
            ),
            ("server_metrics", "server.metrics"),
            ("server_tls_cert", "server.tls_cert"),
            // A nested table, and its key with an underscore.
            ("server_acme_cache_dir", "server.acme.cache_dir"),
            ("server_acme_domains", "server.acme.domains"),
            // An unset optional table: the rest is one key.
            ("server_proxy_no_proxy", "server.proxy.no_proxy"),
            // Unknown keys are kept whole, for the section to refuse.
            ("server_max_conections", "server.max_conections"),
            ("store_url", "store.url"),
        ];
        for (name, expected) in cases {
            assert_eq!(path(name).as_deref(), Some(expected), "{name}");
        }
        // Not a section: a variable of the command line tool.
        assert_eq!(path("config"), None);
        assert_eq!(path("server"), None);
        assert_eq!(path("log_level"), None);
    }

    #[test]
    fn list_keys_take_comma_separated_values() {
        let (layer, names) = EnvLayer::new(
            [(
                "TRADECLOUD_SERVER_ACME_DOMAINS".to_string(),
                "a.example, b.example".to_string(),
            )],
            &tree(),
        );
        let domains = lookup(
            &layer.0,
            &["server".into(), "acme".into(), "domains".into()],
        );
        assert_eq!(
            domains.and_then(Value::as_array).map(|a| a.len()),
            Some(2),
            "{domains:?}"
        );
        assert_eq!(
            names["server.acme.domains"],
            "TRADECLOUD_SERVER_ACME_DOMAINS"
        );
    }

    #[test]
    fn an_acme_section_from_the_environment_alone() {
        let env = [
            ("TRADECLOUD_SERVER_ACME_DOMAINS", "a.example, b.example"),
            ("TRADECLOUD_SERVER_ACME_CONTACT", "ops@example.com"),
            (
                "TRADECLOUD_SERVER_ACME_CACHE_DIR",
                "/var/lib/tradecloud/acme",
            ),
            ("TRADECLOUD_SERVER_ACME_CHALLENGE", "http-01"),
            ("TRADECLOUD_SERVER_ACME_HTTP_LISTEN", "0.0.0.0:80"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let config = Config::from_parts(None, "t", env).map_err(|e| e.to_string());
        let acme = match config {
            Ok(c) => c.server.acme,
            Err(e) => panic!("the ACME variables load without a file: {e}"),
        };
        let Some(acme) = acme else {
            panic!("[server.acme] is set by the variables");
        };
        assert_eq!(acme.domains, ["a.example", "b.example"]);
        assert_eq!(acme.contact, ["ops@example.com"]);
        assert_eq!(acme.cache_dir, Path::new("/var/lib/tradecloud/acme"));
        assert_eq!(acme.challenge, crate::receiver::acme::ChallengeKind::Http01);
        assert_eq!(acme.http_listen, "0.0.0.0:80".parse().ok());
        // Keys not set keep their defaults.
        assert_eq!(
            acme.directory_url,
            crate::receiver::acme::LETS_ENCRYPT_PRODUCTION
        );
    }

    #[test]
    fn a_listen_address_with_a_host_name_says_what_to_write() {
        let err = Config::from_parts(
            Some("[server]\nlisten = \"localhost:8443\"\n"),
            "t",
            Vec::new(),
        )
        .map(|_| ())
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`server.listen`: not an IP:PORT address") && err.contains("0.0.0.0:8443"),
            "{err}"
        );
    }

    #[test]
    fn no_acme_section_without_acme_variables() {
        let config = Config::from_parts(None, "t", Vec::new()).map_err(|e| e.to_string());
        assert!(matches!(config, Ok(c) if c.server.acme.is_none()));
    }
}
