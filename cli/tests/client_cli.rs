//! `tradecloud order|shipment|poll|document` against the mock of Tradecloud:
//! the real binary, as a child process, over real HTTP.

use std::path::Path;

use tradecloud::mock::MockConfig;

use crate::client_support as support;
use support::{start, MANUAL_OBJECT_ID, ORDER_ID, SHIPMENT_ID};

use crate::cli_support;
use cli_support::{mock_env, run, text, NO_VARIABLES};

#[tokio::test]
async fn order_and_shipment_get_print_json() {
    let server = start(MockConfig::new().demo_data()).await;
    let credentials = server.credentials();
    let dir = tempfile::tempdir().expect("a directory");
    let base_url = server.base_url();
    let env = [
        ("TRADECLOUD_USERNAME", credentials.username.as_str()),
        ("TRADECLOUD_PASSWORD", credentials.password.as_str()),
    ];
    let output = run(
        dir.path(),
        &env,
        &["--base-url", &base_url, "order", "get", ORDER_ID],
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let order: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(order["id"], ORDER_ID);

    let env_with_url = [env[0], env[1], ("TRADECLOUD_BASE_URL", base_url.as_str())];
    let output = run(dir.path(), &env_with_url, &["shipment", "get", SHIPMENT_ID]).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let shipment: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(shipment["id"], SHIPMENT_ID);

    let output = run(
        dir.path(),
        &env_with_url,
        &["order", "get", "no-such-order"],
    )
    .await;
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("order no-such-order: not found at Tradecloud"),
        "{}",
        text(&output.stderr)
    );
}

#[tokio::test]
async fn poll_prints_items_and_the_next_watermark() {
    let server = start(MockConfig::new().demo_data()).await;
    let dir = tempfile::tempdir().expect("a directory");
    let env = mock_env(&server);
    let output = run(dir.path(), &env, &["poll", "orders"]).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lines: Vec<serde_json::Value> = text(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), server.data_summary().orders);
    let stderr = text(&output.stderr);
    let watermark = stderr
        .lines()
        .find_map(|l| l.strip_prefix("next watermark: "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the watermark on stderr")
        .to_owned();

    let output = run(
        dir.path(),
        &env,
        &["poll", "orders", "--since", &watermark, "--format", "array"],
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let items: Vec<serde_json::Value> =
        serde_json::from_slice(&output.stdout).expect("a JSON array");
    assert!(items.is_empty());
    assert!(text(&output.stderr).contains(&format!("next watermark: {watermark}")));

    let output = run(
        dir.path(),
        &env,
        &["poll", "shipments", "--since", "yesterday"],
    )
    .await;
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("is not a timestamp"),
        "{}",
        text(&output.stderr)
    );
}

#[tokio::test]
async fn poll_prints_page_by_page_and_says_where_to_resume_after_a_failure() {
    use tradecloud::api::common::types::Order;
    use tradecloud::api::order_search::operations::POLL_ORDERS_ROUTE;
    use tradecloud::mock::{FaultConfig, FaultTrigger};
    // 150 orders: two pages of at most 100; the second page is refused
    // (403 is not retried).
    let mut config = MockConfig::new().fault(
        FaultConfig::status(403, FaultTrigger::EveryNth(2)).for_operations([POLL_ORDERS_ROUTE.id]),
    );
    for i in 0..150 {
        let at = format!("2026-01-01T00:{:02}:{:02}.000Z", i / 60, i % 60);
        config = config.order(Order {
            id: Some(format!("po-{i:03}")),
            last_updated_at: Some(at.parse().expect("a timestamp")),
            ..Default::default()
        });
    }
    let server = start(config).await;
    let dir = tempfile::tempdir().expect("a directory");
    let env = mock_env(&server);
    let output = run(dir.path(), &env, &["poll", "orders"]).await;
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    // The first page was printed before the second one failed.
    let lines = text(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("one JSON object per line"))
        .collect::<Vec<_>>();
    assert_eq!(lines.len(), 100, "{stderr}");
    assert!(
        stderr.contains("the poll stopped after 100 orders"),
        "{stderr}"
    );
    assert!(stderr.contains("poll again with"), "{stderr}");
}

#[tokio::test]
async fn document_download_saves_the_file() {
    let server = start(MockConfig::new().demo_data()).await;
    let credentials = server.credentials();
    let dir = tempfile::tempdir().expect("a directory");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("a directory");
    let base_url = server.base_url();
    // Credentials from the configuration file this time.
    std::fs::write(
        dir.path().join("password.txt"),
        format!("{}\n", credentials.password),
    )
    .expect("a file");
    std::fs::write(
            dir.path().join("tradecloud.toml"),
            format!(
                "[tradecloud]\nbase_url = \"{base_url}\"\nusername = \"{}\"\npassword_file = \"password.txt\"\n",
                credentials.username
            ),
        )
        .expect("a configuration file");
    let output = run(
        dir.path(),
        &NO_VARIABLES,
        &["document", "download", MANUAL_OBJECT_ID, "-o", "out"],
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let path = text(&output.stdout).trim().to_owned();
    assert_eq!(
        Path::new(&path),
        Path::new("out").join("Tradecloud API Manual.pdf")
    );
    let content = std::fs::read(dir.path().join(&path)).expect("the downloaded file");
    assert!(content.starts_with(b"%PDF"));
}

#[tokio::test]
async fn errors_say_what_to_do() {
    let server = start(MockConfig::new().demo_data()).await;
    let dir = tempfile::tempdir().expect("a directory");
    let base_url = server.base_url();
    let output = run(
        dir.path(),
        &NO_VARIABLES,
        &["--base-url", &base_url, "order", "get", ORDER_ID],
    )
    .await;
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("set TRADECLOUD_USERNAME and TRADECLOUD_PASSWORD"),
        "{}",
        text(&output.stderr)
    );

    let env = [
        ("TRADECLOUD_USERNAME", "integration@example.com"),
        ("TRADECLOUD_PASSWORD", "wrong"),
    ];
    let output = run(
        dir.path(),
        &env,
        &["--base-url", &base_url, "order", "get", ORDER_ID],
    )
    .await;
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("rejected the credentials of integration@example.com"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong"), "{stderr}");

    let env = [
        ("TRADECLOUD_USERNAME", "integration@example.com"),
        ("TRADECLOUD_PASSWORD", "x"),
        ("TRADECLOUD_ENV", "staging"),
    ];
    let output = run(dir.path(), &env, &["order", "get", ORDER_ID]).await;
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("use production or acceptance"),
        "{}",
        text(&output.stderr)
    );
}

/// Log lines on a pipe (a log file, the journal) are plain text; on a
/// terminal they are coloured unless `NO_COLOR` is set. The mock answers
/// the order's first GET with 503, so the client logs a retry (WARN).
#[tokio::test]
async fn log_lines_are_coloured_only_on_a_terminal() {
    use tradecloud::api::order::operations::GET_ORDER_BY_ID_ROUTE;
    use tradecloud::mock::{FaultConfig, FaultTrigger};

    let server = start(MockConfig::new().demo_data()).await;
    let one_503 = || {
        server
            .set_faults(vec![FaultConfig::service_unavailable(
                FaultTrigger::FirstN(1),
            )
            .for_operations([GET_ORDER_BY_ID_ROUTE.id])])
            .expect("a fault");
    };
    let dir = tempfile::tempdir().expect("a directory");
    one_503();
    let output = run(dir.path(), &mock_env(&server), &["order", "get", ORDER_ID]).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("retrying"), "a log line: {stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no escape codes on a pipe: {stderr:?}"
    );

    // On a terminal (script(1) gives the command one), when installed.
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("script(1) is not installed: the terminal half is not checked");
        return;
    }
    let command = format!(
        "'{}' order get {ORDER_ID} >/dev/null",
        env!("CARGO_BIN_EXE_tradecloud")
    );
    let on_terminal = |no_color: Option<&str>| {
        one_503();
        let mut script = tokio::process::Command::new("script");
        script
            .args(["-qec", &command, "/dev/null"])
            .current_dir(dir.path())
            .envs(mock_env(&server))
            .env_remove("NO_COLOR")
            .env_remove("RUST_LOG");
        if let Some(value) = no_color {
            script.env("NO_COLOR", value);
        }
        script.output()
    };
    let output = on_terminal(None).await.expect("script runs");
    let shown = text(&output.stdout);
    assert!(shown.contains("retrying"), "{shown:?}");
    assert!(
        shown.contains("\u{1b}["),
        "colours on a terminal: {shown:?}"
    );
    let output = on_terminal(Some("1")).await.expect("script runs");
    let shown = text(&output.stdout);
    assert!(shown.contains("retrying"), "{shown:?}");
    assert!(!shown.contains('\u{1b}'), "NO_COLOR: {shown:?}");
}
