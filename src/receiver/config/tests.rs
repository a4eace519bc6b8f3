use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_without_a_file() {
    let c = Config::from_parts(None, "-", env(&[])).unwrap();
    assert_eq!(c.server.order_path, "/tradecloud/order");
    assert_eq!(c.server.shipment_path, "/tradecloud/shipment");
    assert_eq!(c.server.max_body_bytes, 33554432);
    assert_eq!(c.store.url, "sqlite://tradecloud-inbox.db");
    assert!(c.validate_for_serving().is_err(), "auth is required");
}

#[test]
fn file_then_environment() {
    let text = r#"
        [server]
        listen = "127.0.0.1:9443"
        max_body_bytes = 1000
        [auth]
        method = "basic"
        username = "tradecloud"
        password = "from-file"
        [store]
        url = "sqlite://x.db?busy_timeout_ms=5"
        [tradecloud]
        environment = "acceptance"
        [processing]
        workers = 4
    "#;
    let c = Config::from_parts(
        Some(text),
        "t.toml",
        env(&[
            ("TRADECLOUD_AUTH_PASSWORD", "from-the-environment"),
            ("TRADECLOUD_SERVER_MAX_BODY_BYTES", "2000"),
            ("TRADECLOUD_USERNAME", "alias"),
            ("TRADECLOUD_PASSWORD", "alias-pw"),
            ("TRADECLOUD_TRADECLOUD_USERNAME", "prefixed"),
            ("TRADECLOUD_SERVER_METRICS", "false"),
            ("TRADECLOUD_CONFIG", "ignored"),
            ("TRADECLOUD_AUTH_ALLOWED_CLIENT_IDS", "a, b"),
        ]),
    )
    .unwrap();
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:9443");
    assert_eq!(c.server.max_body_bytes, 2000);
    assert!(!c.server.metrics);
    assert_eq!(
        c.auth.password.as_ref().unwrap().expose(),
        "from-the-environment"
    );
    assert_eq!(c.tradecloud.username.as_deref(), Some("prefixed"));
    assert_eq!(c.tradecloud.password.as_ref().unwrap().expose(), "alias-pw");
    assert_eq!(c.auth.allowed_client_ids, vec!["a", "b"]);
    assert_eq!(c.store.url, "sqlite://x.db?busy_timeout_ms=5");
    assert_eq!(c.processing.concurrency, 4, "`workers` is an alias");
    c.validate_for_serving().unwrap();
    assert!(
        !format!("{c:?}").contains("from-the-environment"),
        "secrets are not printed"
    );
}

#[test]
fn processing_section_and_its_overrides() {
    let c = Config::from_parts(None, "-", env(&[])).unwrap();
    let defaults = crate::processing::ProcessorConfig::default();
    let p = c.processing.processor_config();
    assert_eq!(p.concurrency, defaults.concurrency);
    assert_eq!(p.max_attempts, defaults.max_attempts);
    assert_eq!(p.backoff_base, defaults.backoff_base);
    assert_eq!(p.backoff_max, defaults.backoff_max);
    assert_eq!(p.poll_interval, defaults.poll_interval);
    assert_eq!(p.handler_timeout, defaults.handler_timeout);
    assert_eq!(p.shutdown_grace, defaults.shutdown_grace);

    let text = "[processing]\nconcurrency = 3\nmax_attempts = 5\nbackoff_base_ms = 250\nbackoff_max_secs = 60\n";
    let c = Config::from_parts(
        Some(text),
        "t.toml",
        env(&[
            ("TRADECLOUD_PROCESSING_MAX_ATTEMPTS", "7"),
            ("TRADECLOUD_PROCESSING_POLL_INTERVAL_MS", "50"),
            ("TRADECLOUD_PROCESSING_HANDLER_TIMEOUT_SECS", "45"),
            ("TRADECLOUD_PROCESSING_SHUTDOWN_GRACE_SECS", "7"),
        ]),
    )
    .unwrap();
    let p = c.processing.processor_config();
    assert_eq!(p.handler_timeout, std::time::Duration::from_secs(45));
    assert_eq!(p.shutdown_grace, std::time::Duration::from_secs(7));
    assert_eq!(p.concurrency, 3);
    assert_eq!(p.max_attempts, 7, "the environment wins");
    assert_eq!(p.backoff_base, std::time::Duration::from_millis(250));
    assert_eq!(p.backoff_max, std::time::Duration::from_secs(60));
    assert_eq!(p.poll_interval, std::time::Duration::from_millis(50));

    let basic = "[auth]\nmethod = \"basic\"\nusername = \"u\"\npassword = \"p\"\n";
    for (extra, expected) in [
        ("[processing]\nconcurrency = 0\n", "processing.concurrency"),
        ("[processing]\nmax_attempts = 0\n", "max_attempts"),
        (
            "[processing]\nhandler_timeout_secs = 0\n",
            "handler_timeout_secs",
        ),
        (
            "[processing]\nshutdown_grace_secs = 0\n",
            "shutdown_grace_secs",
        ),
        (
            "[processing]\nbackoff_base_ms = 120000\nbackoff_max_secs = 60\n",
            "backoff_base_ms",
        ),
        (
            "[processing]\nhandler_timeout_secs = 60\nshutdown_grace_secs = 61\n",
            "processing.shutdown_grace_secs (61 s) is longer than processing.handler_timeout_secs (60 s)",
        ),
    ] {
        let c = Config::from_parts(Some(&format!("{basic}{extra}")), "t", env(&[])).unwrap();
        let e = c.validate_for_serving().unwrap_err().to_string();
        assert!(e.contains(expected), "{e}");
    }
    let e = Config::from_parts(Some("[processing]\nthreads = 2\n"), "t.toml", env(&[]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("threads"), "{e}");
    let e = Config::from_parts(
        None,
        "t",
        env(&[("TRADECLOUD_PROCESSING_CONCURRENCY", "many")]),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("TRADECLOUD_PROCESSING_CONCURRENCY"), "{e}");
}

/// Issue 21: the console is off by default, has its own port, a long
/// password, and plain HTTP on loopback only.
#[test]
fn console_section() {
    let basic = "[server]\nlisten = \"0.0.0.0:8443\"\n[auth]\nmethod = \"basic\"\nusername = \"u\"\npassword = \"a-long-enough-password\"\n";
    let c = Config::from_parts(Some(basic), "t", env(&[])).unwrap();
    assert!(c.console.listen.is_none(), "off by default");
    c.validate_for_serving().unwrap();
    let check = |extra: &str| {
        Config::from_parts(Some(&format!("{basic}[console]\n{extra}")), "t", env(&[]))
            .and_then(|c| c.validate_for_serving())
    };
    check("listen = \"127.0.0.1:9090\"\npassword = \"operator-password-123\"\ntls = false\n")
        .unwrap();
    for (extra, expected) in [
        ("listen = \"127.0.0.1:9090\"\n", "console.password"),
        ("listen = \"127.0.0.1:8443\"\npassword = \"operator-password-123\"\n", "webhook address"),
        ("listen = \"10.0.0.1:9090\"\npassword = \"operator-password-123\"\ntls = false\n", "loopback"),
        ("listen = \"127.0.0.1:9090\"\npassword = \"short\"\n", "fewer than 16"),
        ("listen = \"127.0.0.1:9090\"\npassword = \"operator-password-123\"\nreadonly_password = \"operator-password-123\"\n", "different passwords"),
        ("lisen = \"127.0.0.1:9090\"\n", "lisen"),
    ] {
        let e = check(extra).unwrap_err().to_string();
        assert!(e.contains(expected), "{extra}: {e}");
    }
    let c = Config::from_parts(
        Some(basic),
        "t",
        env(&[
            ("TRADECLOUD_CONSOLE_LISTEN", "127.0.0.1:9091"),
            ("TRADECLOUD_CONSOLE_PASSWORD", "from-the-environment"),
        ]),
    )
    .unwrap();
    assert_eq!(c.console.listen.unwrap().port(), 9091);
    assert!(!format!("{c:?}").contains("from-the-environment"));
}

#[test]
fn secrets_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, "s3cret\n").unwrap();
    let text = format!(
        "[auth]\nmethod = \"basic\"\nusername = \"u\"\npassword_file = {:?}\n",
        file.display().to_string()
    );
    let c = Config::from_parts(Some(&text), "t", env(&[])).unwrap();
    assert_eq!(c.auth.password.unwrap().expose(), "s3cret");
    let c = Config::from_parts(
        None,
        "t",
        env(&[("TRADECLOUD_AUTH_TOKEN_FILE", file.to_str().unwrap())]),
    )
    .unwrap();
    assert_eq!(c.auth.token.unwrap().expose(), "s3cret");
}

#[test]
fn errors_are_clear() {
    let e = Config::from_parts(Some("[server]\nlisten = 5"), "t.toml", env(&[])).unwrap_err();
    assert!(e.to_string().contains("t.toml"), "{e}");
    let e = Config::from_parts(Some("[server]\nlisen = \"x\""), "t.toml", env(&[])).unwrap_err();
    assert!(e.to_string().contains("lisen"), "{e}");
    // A misspelt store key is an error, not a silently kept default.
    let e =
        Config::from_parts(Some("[store]\nretention_day = 30"), "t.toml", env(&[])).unwrap_err();
    assert!(e.to_string().contains("retention_day"), "{e}");
    let e = Config::from_parts(
        None,
        "t",
        env(&[("TRADECLOUD_SERVER_MAX_BODY_BYTES", "big")]),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("TRADECLOUD_SERVER_MAX_BODY_BYTES"),
        "{e}"
    );
    let c = Config::from_parts(
        Some("[auth]\nmethod = \"entra\"\ntenant_id = \"t\""),
        "t",
        env(&[]),
    )
    .unwrap();
    assert!(c
        .validate_for_serving()
        .unwrap_err()
        .to_string()
        .contains("audience"));
}

fn error(text: Option<&str>, pairs: &[(&str, &str)]) -> String {
    Config::from_parts(text, "tradecloud.toml", env(pairs))
        .unwrap_err()
        .to_string()
}

/// Issue 11: every error names the file or the variable, the key, and
/// what was expected; unknown keys are refused, with the known ones.
#[test]
fn errors_name_the_source_the_key_and_the_expectation() {
    assert_eq!(
        error(Some("[server]\nlisten = 5"), &[]),
        "invalid configuration tradecloud.toml: `server.listen`: invalid type: found signed int `5`, expected socket address"
    );
    let e = error(Some("[server]\nmax_connection_per_ip = 5"), &[]);
    assert!(
        e.starts_with("invalid configuration tradecloud.toml: `server.max_connection_per_ip`: unknown key `max_connection_per_ip`; known keys: listen, "),
        "{e}"
    );
    assert!(e.contains("max_connections_per_ip"), "{e}");
    let e = error(None, &[("TRADECLOUD_SERVER_MAX_CONECTIONS", "5")]);
    assert!(
        e.starts_with("invalid configuration TRADECLOUD_SERVER_MAX_CONECTIONS (environment): `server.max_conections`: unknown key"),
        "{e}"
    );
    assert_eq!(
        error(None, &[("TRADECLOUD_SERVER_MAX_CONNECTIONS_PER_IP", "many")]),
        "invalid configuration TRADECLOUD_SERVER_MAX_CONNECTIONS_PER_IP (environment): `server.max_connections_per_ip`: invalid type: found string \"many\", expected usize"
    );
    assert_eq!(
        error(Some("[auth]\nmethod = \"digest\""), &[]),
        "invalid configuration tradecloud.toml: `auth.method`: unknown value `digest`; expected one of: basic, bearer, entra"
    );
    assert_eq!(
        error(Some("[server]\nmetrics = \"maybe\""), &[]),
        "invalid configuration tradecloud.toml: `server.metrics`: invalid type: found string \"maybe\", expected a boolean"
    );
    // A key above the first section.
    let e = error(Some("listen = \"0.0.0.0:443\"\n[server]\n"), &[]);
    assert!(
        e.contains("unknown key `listen` outside any section"),
        "{e}"
    );
    // A syntax error keeps the TOML parser's line and column.
    let e = error(Some("[server\n"), &[]);
    assert!(e.contains("line 1, column 8"), "{e}");
}

/// Variable names find their keys though keys have underscores of their
/// own; values are read as the field's type; a numeric secret stays a
/// string; a user's own sections are kept.
#[test]
fn variables_find_their_keys() {
    let c = Config::from_parts_with_sections(
        Some("[erp]\ndocuments_dir = \"docs\"\n"),
        "t",
        env(&[
            ("TRADECLOUD_SERVER_MAX_CONNECTIONS_PER_IP", "7"),
            ("TRADECLOUD_SERVER_MAX_CONNECTIONS", "70"),
            ("TRADECLOUD_SERVER_METRICS", "off"),
            ("TRADECLOUD_SERVER_METRICS_TOKEN", "12345"),
            ("TRADECLOUD_AUTH_PASSWORD", "0042"),
            ("TRADECLOUD_AUTH_ISSUER", "https://a/, https://b/"),
            ("TRADECLOUD_STORE_RETENTION_DAYS", "3"),
            ("TRADECLOUD_STORE_URL", "sqlite://elsewhere.db"),
            ("TRADECLOUD_PROCESSING_BACKOFF_BASE_MS", "250"),
            ("TRADECLOUD_ENV", "production"),
            ("TRADECLOUD_LOG", "debug"),
        ]),
        &["erp"],
    )
    .unwrap();
    assert_eq!(c.server.max_connections_per_ip, 7);
    assert_eq!(c.server.max_connections, 70);
    assert!(!c.server.metrics);
    assert_eq!(c.server.metrics_token.unwrap().expose(), "12345");
    assert_eq!(c.auth.password.unwrap().expose(), "0042");
    assert_eq!(c.auth.issuer, vec!["https://a/", "https://b/"]);
    assert_eq!(c.store.retention_days, Some(3));
    assert_eq!(c.store.url, "sqlite://elsewhere.db");
    assert_eq!(c.processing.backoff_base_ms, 250);
    assert_eq!(c.tradecloud.environment.as_deref(), Some("production"));
    assert_eq!(c.other["erp"]["documents_dir"].as_str(), Some("docs"));
}

/// A secret set in the environment replaces the file's `_file` key for
/// it, and the other way round; both in one layer is an error.
#[test]
fn secrets_and_their_files_across_layers() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, "from-file\n").unwrap();
    let path = file.display().to_string();
    let with_file = format!("[auth]\npassword_file = {path:?}\n");
    let c = Config::from_parts(
        Some(&with_file),
        "t",
        env(&[("TRADECLOUD_AUTH_PASSWORD", "from-env")]),
    )
    .unwrap();
    assert_eq!(c.auth.password.unwrap().expose(), "from-env");
    let c = Config::from_parts(
        Some("[auth]\npassword = \"in-file\"\n"),
        "t",
        env(&[("TRADECLOUD_AUTH_PASSWORD_FILE", &path)]),
    )
    .unwrap();
    assert_eq!(c.auth.password.unwrap().expose(), "from-file");
    let e = error(Some(&format!("{with_file}password = \"x\"\n")), &[]);
    assert!(e.contains("auth.password and auth.password_file"), "{e}");
}

/// Issue 23: a section that is not the receiver's is refused like an
/// unknown key, unless the program declared it as its own.
#[test]
fn unknown_sections_are_refused_unless_declared() {
    let e = error(Some("[procesing]\nconcurrency = 4\n"), &[]);
    assert_eq!(
        e,
        "invalid configuration tradecloud.toml: unknown section `[procesing]`; known sections: auth, console, processing, server, store, telemetry, tradecloud"
    );
    let text = "[erp]\ndocuments_dir = \"docs\"\n";
    assert!(error(Some(text), &[]).contains("unknown section `[erp]`"));
    let c = Config::from_parts_with_sections(Some(text), "t", env(&[]), &["erp"]).unwrap();
    assert_eq!(c.other["erp"]["documents_dir"].as_str(), Some("docs"));
    let e = Config::from_parts_with_sections(Some("[erp]\n[epr]\n"), "t", env(&[]), &["erp"])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown section `[epr]`") && e.contains("this program's erp"),
        "{e}"
    );
    // A nested table of a known section is that section's business.
    let e = error(Some("[server.acmee]\ndomains = [\"x\"]\n"), &[]);
    assert!(e.contains("unknown key `acmee`"), "{e}");
}

fn basic(password: &str, extra: &str) -> Result<(), String> {
    let text =
        format!("[auth]\nmethod = \"basic\"\nusername = \"u\"\npassword = {password:?}\n{extra}");
    Config::from_parts(Some(&text), "t", env(&[]))
        .map_err(|e| e.to_string())?
        .validate_for_serving()
        .map_err(|e| e.to_string())
}

/// Issue 23: a one-character password or a five-character token is
/// refused unless `auth.allow_short_secret`.
#[test]
fn short_secrets_are_refused_unless_allowed() {
    let e = basic("p", "").unwrap_err();
    assert!(
        e.contains("auth.password has 1 characters, fewer than 16")
            && e.contains("auth.allow_short_secret"),
        "{e}"
    );
    assert!(basic("123456789012345", "").is_err(), "15 characters");
    basic("1234567890123456", "").unwrap();
    // Characters, not bytes.
    assert!(basic("ääääääää", "").is_err());
    basic("p", "allow_short_secret = true\n").unwrap();
    let c = Config::from_parts(
        Some("[auth]\nmethod = \"basic\"\nusername = \"u\"\npassword = \"p\"\nallow_short_secret = true\n"),
        "t",
        env(&[]),
    )
    .unwrap();
    assert!(c.warnings().iter().any(|w| w.contains("shorter than 16")));
    let bearer = |token: &str| {
        Config::from_parts(
            Some(&format!("[auth]\nmethod = \"bearer\"\ntoken = {token:?}\n")),
            "t",
            env(&[]),
        )
        .unwrap()
        .validate_for_serving()
        .map_err(|e| e.to_string())
    };
    assert!(bearer("abcde")
        .unwrap_err()
        .contains("auth.token has 5 characters"));
    bearer("kP3x-static-token-0123456789").unwrap();
}

fn entra(extra: &str) -> Config {
    Config::from_parts(
        Some(&format!(
            "[auth]\nmethod = \"entra\"\ntenant_id = \"t\"\naudience = \"api://a\"\n{extra}"
        )),
        "t",
        env(&[]),
    )
    .unwrap()
}

/// Issue 23: a JWKS over plain HTTP is refused except on loopback; Entra
/// without allowed client ids is warned about.
#[test]
fn jwks_url_must_be_https_except_on_loopback() {
    for url in [
        "http://keys.example.com/keys",
        "http://10.0.0.1/keys",
        "ftp://keys.example.com/keys",
        "keys",
    ] {
        let e = entra(&format!("jwks_url = {url:?}\n"))
            .validate_for_serving()
            .unwrap_err()
            .to_string();
        assert!(e.contains("auth.jwks_url"), "{url}: {e}");
        let e =
            super::super::Authenticator::from_config(&entra(&format!("jwks_url = {url:?}\n")).auth)
                .unwrap_err()
                .to_string();
        assert!(e.contains("auth.jwks_url"), "{url}: {e}");
    }
    assert!(entra("jwks_url = \"http://keys.example.com/keys\"\n")
        .validate_for_serving()
        .unwrap_err()
        .to_string()
        .contains("plain HTTP"));
    for url in [
        "https://login.microsoftonline.com/t/discovery/v2.0/keys",
        "http://127.0.0.1:8080/keys",
        "http://[::1]:8080/keys",
        "http://localhost/keys",
    ] {
        entra(&format!("jwks_url = {url:?}\n"))
            .validate_for_serving()
            .unwrap_or_else(|e| panic!("{url}: {e}"));
    }
    let warnings = entra("").warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("auth.allowed_client_ids is empty")),
        "{warnings:?}"
    );
    assert!(entra("allowed_client_ids = [\"c\"]\n")
        .warnings()
        .is_empty());
}

/// Issue 23: a secret file that cannot be read names its key.
#[test]
fn a_missing_secret_file_names_its_key() {
    let e = error(Some("[auth]\npassword_file = \"/nonexistent/pw\"\n"), &[]);
    assert!(
        e.contains("auth.password_file = \"/nonexistent/pw\": cannot open it"),
        "{e}"
    );
    let e = error(
        None,
        &[("TRADECLOUD_TRADECLOUD_PASSWORD_FILE", "/nonexistent/tc")],
    );
    assert!(e.contains("tradecloud.password_file"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    std::fs::write(&big, vec![b'x'; 70_000]).unwrap();
    let e = error(
        Some(&format!(
            "[auth]\ntoken_file = {:?}\n",
            big.display().to_string()
        )),
        &[],
    );
    assert!(
        e.contains("auth.token_file") && e.contains("too large"),
        "{e}"
    );
}

/// The systemd unit of `deploy/` waits long enough at a stop for the
/// defaults: the HTTP drain (`server.shutdown_timeout_secs`) and the
/// handlers' grace (`processing.shutdown_grace_secs`) run side by side, so a
/// stop takes the longer of the two, then up to 10 s for the cancelled
/// handlers' events to go back (what the receiver allows the processor).
/// A SIGKILL before that interrupts the events being handled.
#[test]
fn the_shipped_unit_outwaits_a_default_stop() {
    let unit = include_str!("../../../deploy/systemd/tradecloud.service");
    let timeout: u64 = unit
        .lines()
        .find_map(|l| l.strip_prefix("TimeoutStopSec="))
        .and_then(|v| v.trim().strip_suffix('s'))
        .and_then(|v| v.parse().ok())
        .expect("TimeoutStopSec=Ns in deploy/systemd/tradecloud.service");
    let c = Config::default();
    let stop = c
        .server
        .shutdown_timeout_secs
        .max(c.processing.shutdown_grace_secs + 10);
    assert!(
        timeout > stop,
        "TimeoutStopSec={timeout}s does not exceed the longer of server.shutdown_timeout_secs ({}) and \
         processing.shutdown_grace_secs ({}) + 10: raise TimeoutStopSec with the defaults",
        c.server.shutdown_timeout_secs,
        c.processing.shutdown_grace_secs
    );
}
