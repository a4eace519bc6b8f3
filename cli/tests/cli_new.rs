//! `tradecloud new`: the fast checks (no build of the generated project;
//! `scripts/scaffold-check.sh` builds and tests one).

use std::path::Path;
use std::process::{Command, Output};

fn exe() -> Option<&'static str> {
    let exe = option_env!("CARGO_BIN_EXE_tradecloud");
    if exe.is_none() {
        eprintln!("skipped: the tradecloud binary is not built (feature cli)");
    }
    exe
}

fn new(exe: &str, args: &[&str]) -> Output {
    Command::new(exe)
        .arg("new")
        .args(args)
        .output()
        .expect("tradecloud runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).unwrap();
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn creates_a_complete_project_with_every_placeholder_replaced() {
    let Some(exe) = exe() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("erp-receiver");
    let output = new(exe, &[dir.to_str().unwrap(), "--role", "supplier"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("cargo test"), "{stdout}");
    assert_eq!(
        files(&dir),
        [
            ".cargo/config.toml",
            ".gitignore",
            "Cargo.lock",
            "Cargo.toml",
            "README.md",
            "samples/order-documents-event.json",
            "samples/order-event.json",
            "samples/shipment-event.json",
            "src/handler.rs",
            "src/lib.rs",
            "src/main.rs",
            "tests/webhooks.rs",
            "tradecloud.toml",
        ]
    );
    for file in files(&dir) {
        let text = read(&dir, &file);
        assert!(!text.contains("{{"), "{file} has a placeholder left");
        assert!(
            !text.contains("}}") || file.ends_with(".json") || file == "Cargo.lock",
            "{file}"
        );
    }
    // The package name comes from the directory; the crate name in Rust code.
    let manifest = read(&dir, "Cargo.toml");
    assert!(manifest.contains("name = \"erp-receiver\""), "{manifest}");
    assert!(read(&dir, "src/main.rs").contains("use erp_receiver::Erp;"));
    // Only the features it needs, and the repository's fast dev profile.
    assert!(manifest.contains(r#"default-features = false, features = ["receiver"]"#));
    assert!(manifest.contains(r#"features = ["receiver", "mock"]"#));
    assert!(manifest.contains("debug = \"line-tables-only\""));
    // The repository's dev profile, all of it: a shared target directory
    // reuses the compiled dependencies, and the service's dev build receives
    // as fast as the repository's (optimised dependencies, `tradecloud` at
    // opt-level 1).
    let dev_profile = |text: &str| -> toml::Value {
        let doc: toml::Table = toml::from_str(text).expect("a TOML manifest");
        doc["profile"]["dev"].clone()
    };
    let repository =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml"))
            .expect("the repository's Cargo.toml");
    assert_eq!(dev_profile(&manifest), dev_profile(&repository));
    // And its build environment (SQLite's compile flags): with other flags a
    // shared target directory would rebuild SQLite, and everything above it,
    // each time the other project builds.
    let env = |text: &str| -> toml::Value {
        let doc: toml::Table = toml::from_str(text).expect("a TOML cargo config");
        doc["env"].clone()
    };
    let repository_config = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cargo/config.toml"),
    )
    .expect("the repository's .cargo/config.toml");
    assert_eq!(
        env(&read(&dir, ".cargo/config.toml")),
        env(&repository_config)
    );
    // From a checkout, the dependency is that checkout.
    let checkout = toml_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .and_then(Path::to_str)
            .expect("the checkout of the cli package"),
    );
    assert!(
        manifest.contains(&format!("path = {checkout}")),
        "{manifest}"
    );
    assert!(read(&dir, "tradecloud.toml").contains("sqlite://erp-receiver-inbox.db"));
    // The samples are webhook bodies the types accept.
    for sample in ["order-event", "order-documents-event"] {
        let body = read(&dir, &format!("samples/{sample}.json"));
        serde_json::from_str::<tradecloud::api::order_webhook_connector::types::OrderWebhookBody>(
            &body,
        )
        .unwrap_or_else(|e| panic!("{sample}: {e}"));
    }
    let body = read(&dir, "samples/shipment-event.json");
    serde_json::from_str::<tradecloud::api::shipment_webhook_connector::types::ShipmentWebhookBody>(&body)
        .unwrap();
}

fn toml_string(s: &str) -> String {
    // TOML basic string: the same escapes as JSON for paths.
    serde_json::to_string(s).unwrap()
}

#[test]
fn the_role_and_events_choose_the_content() {
    let Some(exe) = exe() else { return };
    let tmp = tempfile::tempdir().unwrap();

    let supplier = tmp.path().join("supplier");
    let output = new(
        exe,
        &[
            supplier.to_str().unwrap(),
            "--role",
            "supplier",
            "--events",
            "orders,shipments",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let handler = read(&supplier, "src/handler.rs");
    assert!(handler.contains("OrderEventName::OrderIssuedByBuyer"));
    assert!(handler.contains("ShipmentEventName::ShipmentApprovedByBuyer"));
    for absent in [
        "OrderEventName::OrderLinesConfirmedBySupplier",
        "ShipmentEventName::ShipmentIssuedBySupplier",
        "approve_requests",
    ] {
        assert!(
            !handler.contains(absent),
            "a supplier acts on the buyer's events: {absent}"
        );
    }
    assert!(handler.contains("async fn order_event("));
    assert!(handler.contains("async fn shipment_event("));
    assert!(!handler.contains("order_documents_event"));
    assert!(handler.contains("changed_lines()"));
    assert!(handler.contains("HandlerError::Transient"));
    assert!(handler.contains("HandlerError::Permanent"));
    assert!(handler.contains("client.documents().download("));
    assert!(handler.contains("line.net_amount(2, Rounding::HalfUp),"));
    let tests = read(&supplier, "tests/webhooks.rs");
    assert!(tests.contains(r#"Sample::order_event("OrderIssuedByBuyer")"#));
    assert!(tests.contains(r#"Sample::shipment_event("ShipmentApprovedByBuyer")"#));
    assert!(!supplier.join("samples/order-documents-event.json").exists());
    let readme = read(&supplier, "README.md");
    assert!(readme.contains("**Delivery Schedule Mode**"));
    assert!(readme.contains("**Multiple Deliveries**"));
    assert!(readme.contains("**Shipment Events Configuration**"));
    assert!(!readme.contains("**Document Events Configuration**"));
    for needle in [
        "certbot",
        "**Method**: **POST**",
        "**Basic Authentication**",
        "**Event Selection**",
        "tradecloud mock",
    ] {
        assert!(readme.contains(needle), "README lacks {needle}");
    }

    let buyer = tmp.path().join("buyer");
    let output = new(
        exe,
        &[
            buyer.to_str().unwrap(),
            "--role",
            "buyer",
            "--events",
            "orders",
            "--delivery",
            "single",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let handler = read(&buyer, "src/handler.rs");
    assert!(handler.contains("OrderEventName::OrderLinesConfirmedBySupplier"));
    assert!(!handler.contains("OrderIssuedByBuyer"));
    assert!(handler.contains("async fn single_delivery_order_event("));
    assert!(!handler.contains("async fn order_event("));
    assert!(!handler.contains("Shipment"));
    // Single Delivery: the handler only logs, it does not answer.
    assert!(!handler.contains(".approve_requests(order_id"));
    assert!(handler.contains("only logs"));
    assert!(read(&buyer, "tests/webhooks.rs")
        .contains(r#"Sample::single_delivery_order_event("OrderLinesConfirmedBySupplier")"#));
    assert_eq!(
        files(&buyer.join("samples")),
        ["single-delivery-order-event.json"]
    );
    assert!(read(&buyer, "README.md").contains("**Single Delivery** (`singleDeliveryOrderEvent`)"));
}

#[test]
fn documents_only_has_no_line_reading_code() {
    let Some(exe) = exe() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("documents");
    let output = new(exe, &[dir.to_str().unwrap(), "--events", "documents"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let handler = read(&dir, "src/handler.rs");
    assert!(handler.contains("async fn order_documents_event("));
    // Helpers only the line-reading kinds use would be dead code (clippy -D warnings).
    for absent in [
        "fn not_used(",
        "fn show<",
        "changed_lines()",
        "fn shipment_event(",
    ] {
        assert!(!handler.contains(absent), "{absent}");
    }
    assert!(
        !handler.contains("\n\n\n"),
        "no double blank lines (rustfmt)"
    );
}

#[test]
fn refuses_a_non_empty_directory_unless_forced() {
    let Some(exe) = exe() else { return };
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("notes.txt"), "mine").unwrap();
    let dir = tmp.path().to_str().unwrap();

    let output = new(exe, &[dir, "--name", "erp"]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("is not empty") && message.contains("--force"),
        "{message}"
    );
    assert!(!tmp.path().join("Cargo.toml").exists(), "nothing written");

    let output = new(exe, &[dir, "--name", "erp", "--force"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(tmp.path().join("Cargo.toml").is_file());
    assert_eq!(
        read(tmp.path(), "notes.txt"),
        "mine",
        "other files are kept"
    );

    // A file is not a directory.
    let file = tmp.path().join("notes.txt");
    let output = new(exe, &[file.to_str().unwrap(), "--name", "erp"]);
    assert!(
        stderr(&output).contains("not a directory"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn invalid_package_names_are_refused_with_advice() {
    let Some(exe) = exe() else { return };
    let tmp = tempfile::tempdir().unwrap();
    for (name, why) in [
        ("1erp", "must start with a letter"),
        ("my erp", "contains ` `"),
        ("erp.receiver", "contains `.`"),
        ("fn", "is reserved"),
        ("tradecloud", "is reserved"),
    ] {
        let dir = tmp.path().join("project");
        let output = new(exe, &[dir.to_str().unwrap(), "--name", name]);
        assert!(!output.status.success(), "{name} accepted");
        let message = stderr(&output);
        assert!(
            message.contains(why) && message.contains("--name"),
            "{name}: {message}"
        );
        assert!(!dir.exists(), "{name}: nothing created");
    }
    // The default name comes from the directory, and is checked the same way.
    let output = new(exe, &[tmp.path().join("2fast").to_str().unwrap()]);
    assert!(
        stderr(&output).contains("must start with a letter"),
        "{}",
        stderr(&output)
    );
    // An unknown event kind is a usage error naming the valid ones.
    let output = new(
        exe,
        &[
            tmp.path().join("x").to_str().unwrap(),
            "--events",
            "orders,invoices",
        ],
    );
    let message = stderr(&output);
    assert!(
        message.contains("invoices") && message.contains("shipments"),
        "{message}"
    );
}

#[test]
fn the_dependency_source_is_chosen_by_a_flag() {
    let Some(exe) = exe() else { return };
    let tmp = tempfile::tempdir().unwrap();

    let dir = tmp.path().join("by-version");
    let output = new(
        exe,
        &[dir.to_str().unwrap(), "--tradecloud-version", "0.1.0"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(read(&dir, "Cargo.toml")
        .contains(r#"tradecloud = { version = "0.1.0", default-features = false"#));
    assert!(
        !dir.join("Cargo.lock").exists(),
        "a lock file only comes with a checkout"
    );
    assert!(read(&dir, "README.md").contains("cargo install tradecloud --version 0.1.0"));

    let dir = tmp.path().join("by-git");
    let url = "https://github.com/tradecloud-rs/tradecloud";
    let output = new(
        exe,
        &[
            dir.to_str().unwrap(),
            "--tradecloud-git",
            url,
            "--tradecloud-branch",
            "main",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(read(&dir, "Cargo.toml").contains(&format!(
        r#"tradecloud = {{ git = "{url}", branch = "main""#
    )));

    let dir = tmp.path().join("by-path");
    let output = new(
        exe,
        &[
            dir.to_str().unwrap(),
            "--tradecloud-path",
            tmp.path().to_str().unwrap(),
        ],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("no Cargo.toml there"),
        "{}",
        stderr(&output)
    );

    let output = new(
        exe,
        &[
            dir.to_str().unwrap(),
            "--tradecloud-version",
            "0.1.0",
            "--tradecloud-git",
            url,
        ],
    );
    assert!(!output.status.success(), "conflicting sources are refused");
}

#[test]
fn each_role_answers_through_the_sdk_and_tests_the_story() {
    let Some(exe) = exe() else { return };
    let tmp = tempfile::tempdir().unwrap();

    // The default role is the buyer.
    let buyer = tmp.path().join("buyer");
    let output = new(exe, &[buyer.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("Created the buyer receiver"));
    let handler = read(&buyer, "src/handler.rs");
    for needle in [
        "OrderEventName::OrderChangesProposedBySupplier",
        "pub fn decide_proposal(&self, line: &OrderLine) -> ProposalDecision",
        "pub enum ProposalDecision",
        ".approve_requests(order_id, &approval)",
        ".reject_requests(order_id, &rejection)",
        "ShipmentEventName::ShipmentIssuedBySupplier",
        "record it and book the expected receipt",
    ] {
        assert!(
            handler.contains(needle),
            "the buyer's handler lacks {needle}"
        );
    }
    for absent in ["decide_line", ".respond(", "OrderIssuedByBuyer"] {
        assert!(
            !handler.contains(absent),
            "the buyer's handler has {absent}"
        );
    }
    let tests = read(&buyer, "tests/webhooks.rs");
    for needle in [
        "TestBed::start_as(Erp::new(documents.path()), MockConfig::new(), Party::Buyer)",
        "Sample::order_event_from(\n        \"OrderChangesProposedBySupplier\"",
        ".respond(&response)",
        "Some(&LineProcessStatus::Confirmed)",
    ] {
        assert!(tests.contains(needle), "the buyer's tests lack {needle}");
    }
    assert!(read(&buyer, "Cargo.toml").contains("serde_json = \"1\""));

    let supplier = tmp.path().join("supplier");
    let output = new(exe, &[supplier.to_str().unwrap(), "--role", "supplier"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let handler = read(&supplier, "src/handler.rs");
    for needle in [
        "OrderEventName::OrderIssuedByBuyer",
        "pub fn decide_line(&self, requested: &BuyerLine) -> LineDecision",
        "pub enum LineDecision",
        "pub async fn order_confirmation(",
        "client.documents().upload(&file)",
        "client.orders().respond(&response)",
        "SupplierLineIndicators::builder().accepted(true)",
        "SupplierLineIndicators::builder().rejected(true)",
        "ShipmentEventName::ShipmentApprovedByBuyer",
    ] {
        assert!(
            handler.contains(needle),
            "the supplier's handler lacks {needle}"
        );
    }
    for absent in [
        "decide_proposal",
        "approve_requests",
        "OrderChangesProposedBySupplier",
    ] {
        assert!(
            !handler.contains(absent),
            "the supplier's handler has {absent}"
        );
    }
    let tests = read(&supplier, "tests/webhooks.rs");
    for needle in [
        "Party::Supplier,",
        "let buyer = bed.client_as(Party::Buyer)?;",
        "Sample::order_event_from(\"OrderIssuedByBuyer\", &order)",
        "Some(&LineInProgressStatus::OpenSupplierProposal)",
        "requests_for(\"uploadDocument\")",
    ] {
        assert!(tests.contains(needle), "the supplier's tests lack {needle}");
    }

    // --help names the default role.
    let help = Command::new(exe)
        .args(["new", "--help"])
        .output()
        .expect("tradecloud runs");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("buyer (the default)"), "{help}");
    assert!(help.contains("[default: buyer]"), "{help}");
}
