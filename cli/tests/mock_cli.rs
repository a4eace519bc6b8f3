//! The `tradecloud mock` command as a user starts it: the banner with the
//! URL and credentials, and the mock it runs (demo data, generated
//! documents). The mock's API itself: tests/mock_api.rs.

use std::time::Duration;

use reqwest::StatusCode;
use tradecloud::mock::{DEFAULT_PASSWORD, DEFAULT_USERNAME};

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client")
}

#[tokio::test]
async fn tradecloud_mock_stops_cleanly_on_a_signal_sent_as_it_says_listening() {
    use tokio::io::{AsyncBufReadExt as _, BufReader};

    for signal in ["-TERM", "-INT"] {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tradecloud"))
            .args(["mock", "--listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the banner in time")
            .expect("a line")
            .unwrap_or_default();
        assert!(
            first.starts_with("Tradecloud mock listening on "),
            "{first}"
        );
        // At once, as a script that waited for that line would.
        let pid = child.id().expect("running").to_string();
        let killed = std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        let mut rest = Vec::new();
        let read = async {
            while let Ok(Some(line)) = lines.next_line().await {
                rest.push(line);
            }
        };
        tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .expect("the mock ends its output");
        let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .expect("the mock stops in time")
            .expect("its status");
        assert!(status.success(), "{signal}: {status:?}");
        assert!(
            rest.iter().any(|line| line == "stopping the mock"),
            "{signal}: the mock stops by its own hand: {rest:?}"
        );
    }
}

#[tokio::test]
async fn tradecloud_mock_prints_its_url_and_credentials_and_serves() {
    use tokio::io::{AsyncBufReadExt as _, BufReader};

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tradecloud"))
        .args([
            "mock",
            "--listen",
            "127.0.0.1:0",
            "--generated-document",
            "big=1MB",
            "--fail-every",
            "1000",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = Vec::new();
    let read = async {
        while let Some(line) = lines.next_line().await.expect("a line") {
            let done = line.starts_with("export TRADECLOUD_PASSWORD=");
            printed.push(line);
            if done {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("the banner in time");
    let base_url = printed[0]
        .strip_prefix("Tradecloud mock listening on ")
        .expect("the banner")
        .to_owned();
    assert!(
        base_url.starts_with("http://127.0.0.1:") && base_url.ends_with("/v2"),
        "{base_url}"
    );
    assert!(printed.contains(&format!("username: {DEFAULT_USERNAME}")));
    assert!(printed.contains(&format!("password: {DEFAULT_PASSWORD}")));
    assert!(printed.contains(&format!("export TRADECLOUD_BASE_URL={base_url}")));

    let client = http();
    let response = client
        .post(format!("{base_url}/order-search/poll"))
        .basic_auth(DEFAULT_USERNAME, Some(DEFAULT_PASSWORD))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK, "the demo data is served");
    let response = client
        .get(format!("{base_url}/object-storage/document/big"))
        .basic_auth(DEFAULT_USERNAME, Some(DEFAULT_PASSWORD))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.content_length(), Some(1024 * 1024));
    child.kill().await.expect("the mock stops");
}

/// The demo shipment `tradecloud mock` serves (its buyer and supplier are
/// the mock's own companies).
fn demo_shipment_id() -> String {
    let event: serde_json::Value = serde_json::from_str(include_str!(
        "../../tests/fixtures/shipment-webhook/shipment-event.json"
    ))
    .expect("the demo shipment event is JSON");
    event["shipment"]["id"]
        .as_str()
        .expect("the demo shipment has an id")
        .to_owned()
}

/// `tradecloud mock shipment ...` against a real `tradecloud mock`
/// process: each portal action as the acting company's user from the
/// mock's info file, the shipment printed as it is afterwards (and stored:
/// GET shipment shows it), the mock's refusals as exit status 3 with its
/// message, an unreachable mock as exit status 4.
#[tokio::test]
async fn tradecloud_mock_shipment_plays_the_portal_actions_on_a_running_mock() {
    use crate::cli_support::{run, run_with_input, text, NO_VARIABLES};

    let dir = tempfile::tempdir().expect("a temporary directory");
    let info_path = dir.path().join("mock.json");
    let mut child = crate::cli_support::mock_process_with_info_file(&info_path).await;
    let info = info_path.to_str().expect("a UTF-8 path").to_owned();
    let id = demo_shipment_id();
    fn act(args: Vec<&str>) -> Vec<&str> {
        let mut all = vec!["mock", "shipment"];
        all.extend(args);
        all
    }
    // A refusal: exit status `code`, and standard error saying each of `says`.
    let fails = |output: &std::process::Output, code: i32, says: &[&str]| {
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{stderr}");
        assert!(
            says.iter().all(|s| stderr.contains(s)),
            "{says:?}: {stderr}"
        );
    };
    let shipment = |output: &std::process::Output| -> serde_json::Value {
        assert!(
            output.status.success(),
            "{:?}: {}",
            output.status,
            text(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("the shipment as JSON")
    };

    // The buyer approves, with a reason.
    let output = run(
        dir.path(),
        &NO_VARIABLES,
        &act(vec![
            "approve",
            "--info-file",
            &info,
            "--reason",
            "on time",
            &id,
        ]),
    )
    .await;
    let approved = shipment(&output);
    assert_eq!(approved["processStatus"], "Approved", "{approved}");
    assert_eq!(approved["processStatusReason"], "on time");
    // Approving again: the mock's 409, exit status 3, its message.
    let output = run(
        dir.path(),
        &NO_VARIABLES,
        &act(vec!["approve", "--info-file", &info, &id]),
    )
    .await;
    fails(&output, 3, &["409", "already Approved"]);

    // The supplier updates the header (its user, from the info file).
    let output = run(
        dir.path(),
        &NO_VARIABLES,
        &act(vec![
            "update-header",
            "--info-file",
            &info,
            "--tracking-number",
            "TRK-CLI-1",
            "--invoice-number",
            "INV-1",
            &id,
        ]),
    )
    .await;
    let updated = shipment(&output);
    assert_eq!(updated["identifiers"]["trackingNumber"], "TRK-CLI-1");
    assert_eq!(
        updated["supplierShipment"]["invoiceNumbers"],
        serde_json::json!(["INV-1"])
    );

    // The supplier attaches one document from flags, then replaces it by
    // its code from standard input.
    let output = run(
        dir.path(),
        &NO_VARIABLES,
        &act(vec![
            "attach-documents",
            "--info-file",
            &info,
            "--by",
            "supplier",
            "--url",
            "https://example.com/pl-1.pdf",
            "--code",
            "PL",
            "--name",
            "Packing list",
            &id,
        ]),
    )
    .await;
    let count = |shipment: &serde_json::Value| {
        shipment["supplierShipment"]["documents"]
            .as_array()
            .map_or(0, Vec::len)
    };
    let pl = |shipment: &serde_json::Value| {
        shipment["supplierShipment"]["documents"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["code"] == "PL")
            .cloned()
            .collect::<Vec<_>>()
    };
    let before = count(&updated);
    let attached = shipment(&output);
    assert_eq!(count(&attached), before + 1, "{attached}");
    assert_eq!(pl(&attached).len(), 1, "{attached}");
    let output = run_with_input(
        dir.path(),
        &NO_VARIABLES,
        &act(vec![
            "attach-documents",
            "--info-file",
            &info,
            "--by",
            "supplier",
            &id,
            "-",
        ]),
        Some(
            br#"[{"code": "PL", "name": "Packing list 2", "url": "https://example.com/pl-2.pdf"}]"#,
        ),
    )
    .await;
    let replaced = shipment(&output);
    assert_eq!(
        count(&replaced),
        before + 1,
        "replaced, not appended: {replaced}"
    );
    assert_eq!(pl(&replaced)[0]["name"], "Packing list 2");

    // The buyer rejects (a reason is required by the command line) and resends.
    let output = run(
        dir.path(),
        &NO_VARIABLES,
        &act(vec!["reject", "--info-file", &info, &id]),
    )
    .await;
    assert_eq!(output.status.code(), Some(2), "--reason is required");
    let output = run(
        dir.path(),
        &NO_VARIABLES,
        &act(vec![
            "reject",
            "--info-file",
            &info,
            "--reason",
            "damaged",
            &id,
        ]),
    )
    .await;
    assert_eq!(shipment(&output)["processStatus"], "Rejected");
    let output = run(
        dir.path(),
        &NO_VARIABLES,
        &act(vec!["resend", "--info-file", &info, &id]),
    )
    .await;
    assert_eq!(shipment(&output)["processStatus"], "Rejected");

    // What the commands did is stored: `tradecloud shipment get` shows it.
    let info_json: tradecloud::mock::MockInfo =
        serde_json::from_str(&std::fs::read_to_string(&info_path).expect("the info file"))
            .expect("a MockInfo");
    let output = run(
        dir.path(),
        &[
            ("TRADECLOUD_BASE_URL", info_json.base_url.as_str()),
            ("TRADECLOUD_USERNAME", info_json.buyer.username.as_str()),
            ("TRADECLOUD_PASSWORD", info_json.buyer.password.as_str()),
        ],
        &["shipment", "get", &id],
    )
    .await;
    let stored = shipment(&output);
    assert_eq!(stored["processStatusReason"], "damaged", "{stored}");
    assert_eq!(stored["identifiers"]["trackingNumber"], "TRK-CLI-1");

    // An unknown shipment: the mock's 404, whatever the body.
    let output = run(
        dir.path(),
        &NO_VARIABLES,
        &act(vec![
            "attach-documents",
            "--mock-url",
            &info_json.base_url,
            "--by",
            "buyer",
            "--name",
            "no url",
            "--url",
            " ",
            "no-such-shipment",
        ]),
    )
    .await;
    fails(&output, 3, &["404", "no-such-shipment"]);
    // No mock there: exit status 4, saying how to point at one.
    let output = run(
        dir.path(),
        &NO_VARIABLES,
        &act(vec!["resend", "--mock-url", "http://127.0.0.1:1", &id]),
    )
    .await;
    fails(&output, 4, &["--mock-url"]);
    child.kill().await.expect("the mock stops");
}

/// `tradecloud mock shipment ... --password` without `--username` is
/// refused by the command line (exit status 2, naming the missing flag)
/// rather than sending as the info file's or the default user with the
/// password left unused; `--username` without `--password` likewise.
#[tokio::test]
async fn tradecloud_mock_shipment_refuses_half_of_the_credentials() {
    use crate::cli_support::{run, text, NO_VARIABLES};

    let dir = tempfile::tempdir().expect("a temporary directory");
    for (given, missing) in [
        (["--password", "secret"], "--username"),
        (["--username", "someone@example.com"], "--password"),
    ] {
        let mut args = vec![
            "mock",
            "shipment",
            "approve",
            "--mock-url",
            "http://127.0.0.1:9",
        ];
        args.extend(given);
        args.push("some-shipment-id");
        let output = run(dir.path(), &NO_VARIABLES, &args).await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{given:?}: {stderr}");
        assert!(
            stderr.contains("required") && stderr.contains(missing),
            "{given:?}: {stderr}"
        );
    }
}
