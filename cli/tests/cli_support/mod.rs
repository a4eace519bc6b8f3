//! Helpers shared by the tests that run the real `tradecloud` binary
//! against the mock of Tradecloud (`client_cli.rs`, `cli_write.rs`;
//! included with `#[path]`); as a test target of its own it holds no tests.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Output, Stdio};

use tokio::io::AsyncWriteExt as _;
use tradecloud::mock::MockServer;

/// Runs `tradecloud ARGS` in `dir` with only the given Tradecloud variables.
pub async fn run(dir: &Path, env: &[(&str, impl AsRef<OsStr>)], args: &[&str]) -> Output {
    run_with_input(dir, env, args, None).await
}

/// [`run`], with `input` on standard input (`None`: none).
pub async fn run_with_input(
    dir: &Path,
    env: &[(&str, impl AsRef<OsStr>)],
    args: &[&str],
    input: Option<&[u8]>,
) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tradecloud"));
    command.args(args).current_dir(dir);
    for (name, _) in std::env::vars() {
        if name.starts_with("TRADECLOUD_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().map(|(name, value)| (name, value)));
    command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the binary runs");
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(input).await.expect("standard input");
    }
    child.wait_with_output().await.expect("the binary runs")
}

/// No Tradecloud variables at all.
pub const NO_VARIABLES: [(&str, &str); 0] = [];

/// The mock's credentials and base URL, as the variables the binary reads.
pub fn mock_env(server: &MockServer) -> [(&'static str, String); 3] {
    let credentials = server.credentials();
    [
        ("TRADECLOUD_USERNAME", credentials.username),
        ("TRADECLOUD_PASSWORD", credentials.password),
        ("TRADECLOUD_BASE_URL", server.base_url()),
    ]
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Start `tradecloud mock --listen 127.0.0.1:0 --info-file PATH` as a
/// process (killed when dropped) and wait until its info file appears,
/// which it writes once its port listens.
pub async fn mock_process_with_info_file(path: &Path) -> tokio::process::Child {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tradecloud"))
        .args(["mock", "--listen", "127.0.0.1:0", "--info-file"])
        .arg(path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the mock runs");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while !path.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no info file after 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    child
}
