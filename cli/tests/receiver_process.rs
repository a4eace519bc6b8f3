//! `tradecloud serve` and `tradecloud send` as processes: no event answered
//! 2xx is lost when the server is killed with SIGKILL mid-stream, SIGTERM
//! finishes in-flight requests, and `send` stops on 4xx, reads at most 32
//! MiB of body and warns of an empty one.

use crate::receiver_support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use receiver_support::*;
use tokio::process::{Child, Command};
use tradecloud::inbox::Inbox;
use tradecloud::receiver::tls;

fn exe() -> Option<&'static str> {
    let exe = option_env!("CARGO_BIN_EXE_tradecloud");
    if exe.is_none() {
        eprintln!("skipped: the tradecloud binary is not built (feature cli)");
    }
    exe
}

struct Serve {
    child: Child,
    addr: std::net::SocketAddr,
    cert: String,
    cert_path: PathBuf,
    config_path: PathBuf,
    db: PathBuf,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn serve(exe: &str) -> Serve {
    serve_with(exe, "").await.0
}

/// [`serve`] with `extra` appended to its configuration file, and every
/// line it writes to stderr.
async fn serve_with(exe: &str, extra: &str) -> (Serve, Arc<Mutex<Vec<String>>>) {
    serve_with_env(exe, extra, &[]).await
}

/// [`serve_with`], with environment variables (configuration overrides) set.
async fn serve_with_env(
    exe: &str,
    extra: &str,
    env: &[(&str, &str)],
) -> (Serve, Arc<Mutex<Vec<String>>>) {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = tls::dev_certificate(&["localhost"]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();
    let db = dir.path().join("inbox.db");
    let config_path = dir.path().join("tradecloud.toml");
    std::fs::write(
        &config_path,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ntls_cert = {:?}\ntls_key = {:?}\nshutdown_timeout_secs = 20\n\
             [auth]\nmethod = \"basic\"\nusername = \"{USER}\"\n\
             [store]\nurl = \"sqlite://{}\"\n{extra}",
            cert_path.display().to_string(),
            key_path.display().to_string(),
            db.display()
        ),
    )
    .unwrap();
    let mut command = serve_command(exe, &config_path);
    command.envs(env.iter().copied());
    let (child, addr, log) = spawn_serve_logged(command, Duration::from_secs(30)).await;
    let client = client_for(&cert, addr);
    let serve = Serve {
        child,
        addr,
        cert,
        cert_path,
        config_path,
        db,
        client,
        _dir: dir,
    };
    (serve, log)
}

/// Start `tradecloud serve` with the configuration file `config_path`.
async fn start(exe: &str, config_path: &Path) -> (Child, std::net::SocketAddr) {
    spawn_serve(serve_command(exe, config_path), Duration::from_secs(30)).await
}

/// The command of `tradecloud serve` with the configuration file `config_path`.
fn serve_command(exe: &str, config_path: &Path) -> Command {
    let mut command = Command::new(exe);
    command
        .arg("serve")
        .arg("--config")
        .arg(config_path)
        // The secret comes from the environment, not the file or a flag.
        .env("TRADECLOUD_AUTH_PASSWORD", PASSWORD)
        .env("RUST_LOG", "warn,tradecloud=info");
    command
}

impl Serve {
    /// The SQLite inbox's receiver lock, `PATH-receiver-lock`.
    fn receiver_lock(&self) -> PathBuf {
        PathBuf::from(format!("{}-receiver-lock", self.db.display()))
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("running").to_string();
        assert!(std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap()
            .success());
    }
}

fn order_with_message_id(template: &str, message_id: &str, order_id: &str) -> String {
    template
        .replace("5b0c2f0e-8f4a-4d5e-9c3b-2a1d0e9f8c7b", message_id)
        .replacen("\"orderId\": \"", &format!("\"orderId\": \"{order_id}-"), 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_loses_no_acknowledged_event_on_sigkill() {
    let Some(exe) = exe() else { return };
    let mut server = serve(exe).await;
    let template = String::from_utf8(fixture("order-webhook/order-event.json")).unwrap();
    assert!(
        template.contains("\"orderId\": \""),
        "the fixture has an orderId"
    );
    let acknowledged: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
    let mut senders = Vec::new();
    for worker in 0..8 {
        let client = server.client.clone();
        let url = server.url("/tradecloud/order");
        let template = template.clone();
        let acknowledged = acknowledged.clone();
        senders.push(tokio::spawn(async move {
            for i in 0..100_000 {
                let message_id = format!("kill-{worker}-{i}");
                let body = order_with_message_id(&template, &message_id, &format!("w{worker}"));
                let sent = client
                    .post(&url)
                    .basic_auth(USER, Some(PASSWORD))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status().is_success() => {
                        let body: serde_json::Value = match response.json().await {
                            Ok(body) => body,
                            Err(_) => break,
                        };
                        acknowledged
                            .lock()
                            .unwrap()
                            .push((body["id"].as_i64().unwrap(), message_id));
                    }
                    Ok(response) => panic!("unexpected {}", response.status()),
                    Err(_) => break, // the server is gone
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(2000)).await;
    server.child.start_kill().unwrap(); // SIGKILL
    server.child.wait().await.unwrap();
    for sender in senders {
        tokio::time::timeout(Duration::from_secs(60), sender)
            .await
            .unwrap()
            .unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 50,
        "a stream of deliveries: {}",
        acknowledged.len()
    );
    let inbox = Inbox::open(&format!("sqlite://{}", server.db.display())).unwrap();
    for (id, message_id) in &acknowledged {
        let stored = inbox
            .get(*id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("event {id} answered 2xx but lost"));
        assert_eq!(
            stored.summary.message_id.as_deref(),
            Some(message_id.as_str())
        );
    }
    eprintln!(
        "{} acknowledged events, all in the inbox after SIGKILL",
        acknowledged.len()
    );
}

#[tokio::test]
async fn receiver_finishes_in_flight_requests_on_sigterm() {
    let Some(exe) = exe() else { return };
    let mut server = serve(exe).await;
    let body = fixture("order-webhook/order-event.json");
    let chunks: Vec<Vec<u8>> = body
        .chunks(body.len() / 10 + 1)
        .map(<[u8]>::to_vec)
        .collect();
    // The connection is made (TLS handshake and all) before the request
    // starts, so that its head reaches the server at once: a connection
    // still in its handshake when SIGTERM comes carries no request yet,
    // and is closed, on a busy machine 300 ms after the start.
    let warm_up = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("the receiver answers /healthz");
    assert!(warm_up.status().is_success(), "{}", warm_up.status());
    warm_up.bytes().await.expect("the /healthz body");
    // A request whose body trickles in over about a second.
    let stream = futures_util::stream::unfold(chunks.into_iter(), |mut chunks| async move {
        let chunk = chunks.next()?;
        tokio::time::sleep(Duration::from_millis(100)).await;
        Some((Ok::<_, std::io::Error>(chunk), chunks))
    });
    let request = server
        .client
        .post(server.url("/tradecloud/order"))
        .basic_auth(USER, Some(PASSWORD))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send();
    let in_flight = tokio::spawn(request);
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.signal("-TERM");
    let response = tokio::time::timeout(Duration::from_secs(20), in_flight)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 202, "the in-flight request was finished");
    let status = tokio::time::timeout(Duration::from_secs(30), server.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "serve exits cleanly: {status:?}");
    let inbox = Inbox::open(&format!("sqlite://{}", server.db.display())).unwrap();
    let stored = inbox.list(Default::default()).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        inbox
            .get(stored[0].id)
            .await
            .unwrap()
            .unwrap()
            .body
            .as_ref(),
        body.as_slice()
    );
    let _ = server.cert.len();
}

/// A loopback server that accepts connections, holds them open and never
/// answers (an API or a trace collector that hangs): its address.
async fn never_answering_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    address
}

/// A second SIGTERM during the shutdown grace stops at once: the handler
/// still running (a GET-webhook trigger's fetch from an API that accepts
/// connections and never answers) is cancelled, and its event goes back to
/// the queue with no attempt counted. The grace is 600 s: that the process
/// exits at all within this test shows it did not wait it out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_cancels_running_handlers_at_once() {
    let Some(exe) = exe() else { return };
    let api_addr = never_answering_server().await;
    let (mut server, log) = serve_with_env(
        exe,
        &format!(
            "[processing]\nshutdown_grace_secs = 600\nhandler_timeout_secs = 600\n\
             [tradecloud]\nbase_url = \"http://{api_addr}/v2\"\nusername = \"erp\"\npassword = \"secret\"\n"
        ),
        // The processor's debug line says when the handler has started: a
        // claimed event is `processing` before its run is started, and a
        // stop in between puts it back with no handler running.
        &[("RUST_LOG", "warn,tradecloud=info,tradecloud::processing=debug")],
    )
    .await;
    let inbox = Inbox::open(&format!("sqlite://{}", server.db.display())).unwrap();
    let id = inbox
        .store(tradecloud::inbox::NewEvent::trigger(
            tradecloud::inbox::EventKind::Order,
            "o-hangs",
        ))
        .await
        .unwrap()
        .id();
    let handed_on = format!("handing the event on id={id} attempt=1");
    // Generous, only so that a hang fails instead of blocking.
    tokio::time::timeout(Duration::from_secs(60), async {
        while !log.lock().unwrap().iter().any(|l| l.contains(&handed_on)) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the trigger is handed on: {:?}", log.lock().unwrap()));
    let event = inbox.get(id).await.unwrap().unwrap();
    assert_eq!(event.summary.state, tradecloud::inbox::State::Processing);

    server.signal("-TERM");
    let said =
        stop_again_once_logged(&mut server, &log, "waiting for running handlers to finish").await;
    assert!(
        said.contains("asked to stop again") && said.contains("cancelled now"),
        "one line says so: {said}"
    );
    let event = inbox.get(id).await.unwrap().unwrap();
    assert_eq!(
        (event.summary.state, event.summary.attempts),
        (tradecloud::inbox::State::Trigger, 0),
        "back in the queue, no attempt counted: {said}"
    );
}

/// Once `serve`'s log has a line with `stopping` (it is stopping after a
/// first SIGTERM), a second SIGTERM; the process then exits cleanly. The
/// log, joined. The waits are generous, only so that a hang fails instead
/// of blocking.
async fn stop_again_once_logged(
    server: &mut Serve,
    log: &Arc<Mutex<Vec<String>>>,
    stopping: &str,
) -> String {
    let logged = || log.lock().unwrap().iter().any(|l| l.contains(stopping));
    tokio::time::timeout(Duration::from_secs(60), async {
        while !logged() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{stopping:?} is logged: {:?}", log.lock().unwrap()));
    server.signal("-TERM");
    let status = tokio::time::timeout(Duration::from_secs(120), server.child.wait())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "serve stops at the second SIGTERM: {:?}",
                log.lock().unwrap()
            )
        })
        .unwrap();
    assert!(status.success(), "serve exits cleanly: {status:?}");
    log.lock().unwrap().join("\n")
}

/// A second SIGTERM while requests are still in flight closes their
/// connections at once instead of waiting out `shutdown_timeout_secs` (600
/// s here, and a request time-out as long): that the process exits at all
/// within this test shows it did not wait. The request stays unanswered, so
/// Tradecloud sends its event again; nothing was acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_closes_connections_still_in_flight() {
    let Some(exe) = exe() else { return };
    let (mut server, log) = serve_with_env(
        exe,
        "",
        &[
            ("TRADECLOUD_SERVER_SHUTDOWN_TIMEOUT_SECS", "600"),
            ("TRADECLOUD_SERVER_REQUEST_TIMEOUT_SECS", "600"),
        ],
    )
    .await;
    // A request in flight: its head read by the server (which says so with
    // `100 Continue`, so that the stop cannot find the connection idle) and
    // the start of its body sent; the rest never comes.
    use base64::Engine as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut stream = tls_connector(&server.cert)
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .expect("a TLS connection");
    let authorization =
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    let head = format!(
        "POST /tradecloud/order HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {authorization}\r\n\
         Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    let mut proceed = vec![0u8; "HTTP/1.1 100 Continue\r\n\r\n".len()];
    stream.read_exact(&mut proceed).await.unwrap();
    assert!(
        proceed.starts_with(b"HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&proceed)
    );
    stream.write_all(b"{\"eventName\"").await.unwrap();
    stream.flush().await.unwrap();
    server.signal("-TERM");
    let said = stop_again_once_logged(&mut server, &log, "finishing in-flight requests").await;
    assert!(
        said.contains("closing the remaining connections now"),
        "one line says so: {said}"
    );
    let mut rest = Vec::new();
    let answer = tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut rest))
        .await
        .expect("the request ends with the connection");
    assert!(
        answer.is_err() || rest.is_empty(),
        "no answer, so Tradecloud sends it again: {answer:?} {}",
        String::from_utf8_lossy(&rest)
    );
    let inbox = Inbox::open(&format!("sqlite://{}", server.db.display())).unwrap();
    assert!(inbox.list(Default::default()).await.unwrap().is_empty());
}

/// A second SIGTERM that comes once the receiver has stopped (no handler
/// running, no connection open: nothing to cut short), while the process
/// still exports its traces to a collector that never answers, is logged
/// as every second signal is: it left no line, and the operator could not
/// tell it had come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_with_nothing_to_cut_short_says_so() {
    let Some(exe) = exe() else { return };
    let endpoint = format!("http://{}", never_answering_server().await);
    let (mut server, log) = serve_with_env(
        exe,
        "",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            // The webhook's spans are still buffered at the stop, and
            // their export waits on the collector.
            ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "10000"),
        ],
    )
    .await;
    let template = String::from_utf8(fixture("order-webhook/order-event.json")).unwrap();
    let response = server
        .client
        .post(server.url("/tradecloud/order"))
        .basic_auth(USER, Some(PASSWORD))
        .header("content-type", "application/json")
        .body(order_with_message_id(
            &template,
            "nothing-to-cut-short",
            "o",
        ))
        .send()
        .await
        .expect("the webhook is answered");
    assert_eq!(response.status(), 202);
    server.signal("-TERM");
    let said = stop_again_once_logged(&mut server, &log, "receiver stopped").await;
    assert!(
        said.contains("SIGTERM received again") && said.contains("with none left"),
        "one line says so: {said}"
    );
}

/// The receiver lock of the SQLite inbox (`PATH-receiver-lock`) goes with a
/// clean shutdown, SIGTERM or Ctrl-C (SIGINT); one left by a killed
/// receiver does not keep the next from starting, which takes it over.
#[tokio::test]
async fn receiver_removes_its_lock_on_clean_shutdown() {
    let Some(exe) = exe() else { return };
    let mut server = serve(exe).await;
    let lock = server.receiver_lock();
    let holder = |lock: &Path| std::fs::read_to_string(lock).unwrap_or_default();
    assert_eq!(
        holder(&lock).trim(),
        server.child.id().unwrap().to_string(),
        "the receiver holds its lock"
    );

    // Killed: the file stays, harmless.
    server.child.start_kill().unwrap(); // SIGKILL
    server.child.wait().await.unwrap();
    assert!(lock.exists(), "a killed receiver cannot remove its lock");

    for signal in ["-TERM", "-INT"] {
        let (child, addr) = start(exe, &server.config_path).await;
        server.child = child;
        server.addr = addr;
        server.client = client_for(&server.cert, addr);
        // Signalled the moment it says "listening", as a supervisor may:
        // its handlers are in place before that line (they once were
        // installed only when serving began, and such a signal killed it).
        assert_eq!(
            holder(&lock).trim(),
            server.child.id().unwrap().to_string(),
            "the next receiver takes the lock over"
        );
        server.signal(signal);
        let status = tokio::time::timeout(Duration::from_secs(30), server.child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(
            status.success(),
            "serve exits cleanly on {signal}: {status:?}"
        );
        assert!(
            !lock.exists(),
            "after {signal} the lock is gone, it holds: {:?}",
            holder(&lock)
        );
    }
}

async fn send(exe: &str, args: &[&str], basic: &str, cert: &Path) -> (bool, String) {
    let output = send_output(exe, args, basic, cert).await;
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// `tradecloud send ARGS --cacert CERT` with Basic `basic`: all it said.
async fn send_output(exe: &str, args: &[&str], basic: &str, cert: &Path) -> std::process::Output {
    Command::new(exe)
        .arg("send")
        .args(args)
        .arg("--cacert")
        .arg(cert)
        .env("TRADECLOUD_SEND_BASIC", basic)
        .output()
        .await
        .unwrap()
}

/// `send` reads at most 32 MiB, the receiver's default `max_body_bytes`
/// (`-f /dev/zero` or a FIFO was read without end): a body one byte
/// larger is refused with exit 1 before anything is sent, saying the limit
/// and what to do; one of exactly 32 MiB is sent. An empty body is sent
/// (a receiver's 400 is worth testing) with a warning, as Tradecloud never
/// sends one.
#[tokio::test]
async fn send_bounds_the_body_and_warns_of_an_empty_one() {
    let Some(exe) = exe() else { return };
    let server = serve(exe).await;
    let url = server.url("/tradecloud/order");
    let basic = format!("{USER}:{PASSWORD}");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();

    let empty = server._dir.path().join("empty.json");
    std::fs::write(&empty, "").unwrap();
    let out = send_output(
        exe,
        &[&url, "--file", empty.to_str().unwrap()],
        &basic,
        &server.cert_path,
    )
    .await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        stdout.contains("attempt 1/10: 400 Bad Request"),
        "sent: {stdout}{stderr}"
    );
    assert!(
        stderr.contains("warning:")
            && stderr.contains("empty.json is empty")
            && stderr.contains("Tradecloud never sends an empty webhook body"),
        "{stderr}"
    );

    // Sparse files: no 32 MiB written to the disk.
    let limit = 32 * 1024 * 1024;
    let big = server._dir.path().join("big.json");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(limit + 1)
        .unwrap();
    let out = send_output(
        exe,
        &[&url, "--file", big.to_str().unwrap()],
        &basic,
        &server.cert_path,
    )
    .await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(!stdout.contains("attempt"), "nothing sent: {stdout}");
    assert!(
        stderr.contains("big.json is larger than 33554432 bytes (32 MiB)")
            && stderr.contains("give a smaller body"),
        "{stderr}"
    );

    // At the limit: read and sent (to a port nobody listens on, once).
    let at_limit = server._dir.path().join("at-limit.json");
    std::fs::File::create(&at_limit)
        .unwrap()
        .set_len(limit)
        .unwrap();
    let closed = crate::port_support::free_port();
    let out = send_output(
        exe,
        &[
            &format!("https://localhost:{closed}/x"),
            "--file",
            at_limit.to_str().unwrap(),
            "--max-attempts",
            "1",
        ],
        &basic,
        &server.cert_path,
    )
    .await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        stdout.contains("attempt 1/1") && !stderr.contains("larger than"),
        "{stdout}{stderr}"
    );
}

#[tokio::test]
async fn receiver_and_send_agree_on_retries() {
    let Some(exe) = exe() else { return };
    let server = serve(exe).await;
    let file = fixtures().join("order-webhook/order-event.json");
    let file = file.to_str().unwrap();
    let url = server.url("/tradecloud/order");
    // Delivered: exit 0 after one attempt.
    let (ok, out) = send(
        exe,
        &[&url, "--file", file],
        &format!("{USER}:{PASSWORD}"),
        &server.cert_path,
    )
    .await;
    assert!(ok, "{out}");
    assert!(
        out.contains("attempt 1/10: 202 Accepted") && out.contains("delivered"),
        "{out}"
    );
    // Redelivered: still 2xx.
    let (ok, out) = send(
        exe,
        &[&url, "--file", file],
        &format!("{USER}:{PASSWORD}"),
        &server.cert_path,
    )
    .await;
    assert!(ok && out.contains("200 OK"), "{out}");
    // 401: not retried, exit non-zero.
    let (ok, out) = send(
        exe,
        &[&url, "--file", file],
        &format!("{USER}:wrong"),
        &server.cert_path,
    )
    .await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("attempt 1/10: 401 Unauthorized") && !out.contains("attempt 2/"),
        "{out}"
    );
    // 400: not retried either.
    let bad = server._dir.path().join("bad.json");
    std::fs::write(&bad, "{").unwrap();
    let (ok, out) = send(
        exe,
        &[&url, "--file", bad.to_str().unwrap()],
        &format!("{USER}:{PASSWORD}"),
        &server.cert_path,
    )
    .await;
    assert!(
        !ok && out.contains("400 Bad Request") && !out.contains("attempt 2/"),
        "{out}"
    );
    // Nobody listening: retried, then given up.
    let closed = crate::port_support::free_port();
    let (ok, out) = send(
        exe,
        &[
            &format!("https://localhost:{closed}/x"),
            "--max-attempts",
            "3",
            "--backoff-ms",
            "10",
        ],
        "a:b",
        &server.cert_path,
    )
    .await;
    assert!(!ok && out.contains("attempt 3/3"), "{out}");
}
