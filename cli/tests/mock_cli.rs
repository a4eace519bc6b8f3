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
