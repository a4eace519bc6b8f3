//! The sending commands of the CLI (`tradecloud order send|respond|
//! indicators|attach-documents|deliveries|delivery-history|action`,
//! `tradecloud shipment send-despatch-advice`, `tradecloud forecast send`,
//! `tradecloud document upload`): the real binary, as a child process, against the mock of
//! Tradecloud over real HTTP, with the documentation's example bodies of
//! `tests/fixtures/requests` as input.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tradecloud::api::api_connector::operations as connector_ops;
use tradecloud::api::object_storage::operations as storage_ops;
use tradecloud::mock::{FaultConfig, FaultTrigger, MockConfig};

use crate::client_support as support;
use support::{client, start, ORDER_ID};

use crate::cli_support;
use cli_support::{mock_env, run, run_with_input, text, NO_VARIABLES};

use crate::request_examples as examples;

/// The command line that sends a fixture of `operation` (an
/// `operationId`), FILE last.
fn command(operation: &str) -> Vec<&'static str> {
    let words: &[&'static str] = match operation {
        "sendOrderByBuyerRoute" => &["order", "send"],
        "sendSingleDeliveryOrderByBuyerRoute" => &["order", "send", "--single-delivery"],
        "sendOrderResponseBySupplierRoute" => &["order", "respond"],
        "sendOrderIndicatorsByBuyerRoute" => &["order", "indicators"],
        "attachOrderDocumentsByBuyerRoute" => &["order", "attach-documents"],
        "sendOrderDeliveriesByBuyer" => &["order", "deliveries"],
        "sendOrderDeliveryHistoryByBuyer" => &["order", "delivery-history"],
        "sendDespatchAdviceBySupplierRoute" => &["shipment", "send-despatch-advice"],
        "sendForecastByBuyerRoute" => &["forecast", "send"],
        "sendSlimstockForecastByBuyerRoute" => &["forecast", "send", "--slimstock"],
        "approveRequestsAsBuyerRoute" => &["order", "action", "approve-requests", ORDER_ID],
        "rejectRequestsAsBuyerRoute" => &["order", "action", "reject-requests", ORDER_ID],
        "approveShipmentRescheduleRequestRoute" => {
            &["order", "action", "approve-reschedule", ORDER_ID, "0001"]
        }
        "rejectShipmentRescheduleRequestRoute" => {
            &["order", "action", "reject-reschedule", ORDER_ID, "0001"]
        }
        "completeOrderLines" => &["order", "action", "complete-lines", ORDER_ID],
        "deliverOrderLines" => &["order", "action", "deliver-lines", ORDER_ID],
        "revertCancelledOrderLines" => &["order", "action", "revert-cancelled", ORDER_ID],
        "revertCompletedOrderLines" => &["order", "action", "revert-completed", ORDER_ID],
        "updateOrderLineDeliverySchedule" => &[
            "order",
            "action",
            "update-delivery-schedule",
            ORDER_ID,
            "0001",
        ],
        "reassignBuyerContact" => &["order", "action", "reassign-contact", ORDER_ID],
        "buyerResendOrderRoute" => &["order", "action", "resend", ORDER_ID],
        other => panic!("no command for {other}"),
    };
    words.to_vec()
}

fn fixture(path: &str) -> PathBuf {
    examples::fixtures_dir().join(path)
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("JSON expected ({e}): {}", text(bytes)))
}

/// `args` with `extra` options after the command words and FILE last.
fn line<'a>(operation: &str, extra: &[&'a str], file: &'a str) -> Vec<&'a str> {
    let mut args = command(operation);
    args.extend_from_slice(extra);
    args.push(file);
    args
}

/// Every documentation example, JSON and tXML, sent with its command:
/// the mock's answer is printed as JSON (nothing for an order action,
/// which answers nothing documented) and the mock received it.
#[tokio::test]
async fn every_command_sends_the_documentation_examples() {
    let server = start(MockConfig::new().demo_data()).await;
    let env = mock_env(&server);
    let dir = tempfile::tempdir().expect("a directory");
    let mut sent = 0;
    for example in examples::documentation_examples() {
        let file = fixture(&example.path);
        let file = file.to_str().expect("a UTF-8 path");
        let before = server.stats().requests_for(example.operation);
        let output = run(dir.path(), &env, &line(example.operation, &[], file)).await;
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}: {}",
            example.path,
            text(&output.stderr)
        );
        if example.path.starts_with("api-connector/") {
            let answer = json(&output.stdout);
            assert_eq!(answer["ok"], true, "{}: {answer}", example.path);
        } else {
            // An order action answers nothing documented: nothing printed.
            assert!(
                output.stdout.is_empty(),
                "{}: {}",
                example.path,
                text(&output.stdout)
            );
        }
        assert_eq!(
            server.stats().requests_for(example.operation),
            before + 1,
            "{}",
            example.path
        );
        sent += 1;
    }
    assert!(sent >= 30, "only {sent} examples");
}

/// `--dry-run` prints exactly the JSON body the client would send (the
/// example re-encoded, without losing a member), also without
/// credentials, and sends nothing; a tXML file prints the JSON form of
/// the same message.
#[tokio::test]
async fn dry_run_prints_the_body_and_sends_nothing() {
    let server = start(MockConfig::new()).await;
    let dir = tempfile::tempdir().expect("a directory");
    for example in examples::documentation_examples() {
        let file = fixture(&example.path);
        let file = file.to_str().expect("a UTF-8 path");
        let output = run(
            dir.path(),
            &NO_VARIABLES,
            &line(example.operation, &["--dry-run"], file),
        )
        .await;
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}: {}",
            example.path,
            text(&output.stderr)
        );
        // Every documented member is known.
        assert!(
            !text(&output.stderr).contains("warning"),
            "{}: {}",
            example.path,
            text(&output.stderr)
        );
        assert!(output.stdout.ends_with(b"\n"), "{}", example.path);
        let printed = json(&output.stdout);
        let expected = if example.is_xml() {
            // The JSON twin of the tXML example, but for its empty
            // lists, which tXML cannot write.
            let twin = fixture(&example.path.replace(".xml", ".json"));
            let mut twin = json(&std::fs::read(&twin).expect("the JSON twin of a tXML example"));
            drop_empty_lists(&mut twin);
            twin
        } else {
            json(&example.bytes)
        };
        assert_eq!(printed, expected, "{}", example.path);
        // Compact, as it goes on the wire (checked byte by byte, not by
        // re-encoding: the body keeps the struct's member order, which is
        // not serde_json's sorted order for `M0`..`M35`).
        assert!(
            compact(&output.stdout[..output.stdout.len() - 1]),
            "{}: {}",
            example.path,
            text(&output.stdout)
        );
    }
    // The same with credentials: still nothing sent.
    let env = mock_env(&server);
    let file = fixture("api-connector/sendOrderByBuyerRoute.guide.json");
    let output = run(
        dir.path(),
        &env,
        &["order", "send", "--dry-run", file.to_str().expect("a path")],
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stats = server.stats();
    assert_eq!(stats.api_requests(), 0, "{stats:?}");
    assert_eq!(stats.logins, 0);
}

/// Whether `json` has no whitespace outside its strings.
fn compact(json: &[u8]) -> bool {
    let (mut in_string, mut escaped) = (false, false);
    json.iter().all(|&b| {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            true
        } else {
            in_string = b == b'"';
            !b.is_ascii_whitespace()
        }
    })
}

/// `value` without the members that are empty lists.
fn drop_empty_lists(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !matches!(v, Value::Array(items) if items.is_empty()));
            map.values_mut().for_each(drop_empty_lists);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_empty_lists),
        _ => {}
    }
}

/// A fixture's JSON with `edit` applied, written to `dir/name`.
fn edited(dir: &Path, fixture_path: &str, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut value = json(&std::fs::read(fixture(fixture_path)).expect("fixture"));
    edit(&mut value);
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(&value).expect("JSON")).expect("written");
    path
}

/// A body that breaks a documented rule, or misses a required member,
/// exits 1 with the JSON path and the rule on stderr; the mock receives
/// nothing (no login either).
#[tokio::test]
async fn broken_rules_are_named_and_nothing_is_sent() {
    let server = start(MockConfig::new()).await;
    let env = mock_env(&server);
    let dir = tempfile::tempdir().expect("a directory");
    let order = "api-connector/sendOrderByBuyerRoute.guide.json";

    let spaced = edited(dir.path(), order, "spaced.json", |v| {
        v["order"]["purchaseOrderNumber"] = "PO 123".into();
    });
    for dry_run in [false, true] {
        let mut args = vec!["order", "send"];
        if dry_run {
            args.push("--dry-run");
        }
        args.push(spaced.to_str().expect("a path"));
        let output = run(dir.path(), &env, &args).await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("`order.purchaseOrderNumber`"), "{stderr}");
        assert!(
            stderr.contains("must be a non-empty identifier without whitespace"),
            "{stderr}"
        );
        assert!(stderr.contains("PO 123"), "{stderr}");
        assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
    }

    let missing = edited(dir.path(), order, "missing.json", |v| {
        v["order"]
            .as_object_mut()
            .expect("an object")
            .remove("purchaseOrderNumber");
    });
    let output = run(
        dir.path(),
        &env,
        &["order", "send", missing.to_str().expect("a path")],
    )
    .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`order.purchaseOrderNumber` is required"),
        "{stderr}"
    );

    let wrong_type = edited(
        dir.path(),
        "api-connector/sendDespatchAdviceBySupplierRoute.send-despatch-advice-page.json",
        "wrong-type.json",
        |v| v["lines"] = "none".into(),
    );
    let output = run(
        dir.path(),
        &env,
        &[
            "shipment",
            "send-despatch-advice",
            wrong_type.to_str().expect("a path"),
        ],
    )
    .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`lines`"), "{stderr}");

    // A member the spec does not know is sent, with a warning.
    let misspelt = edited(dir.path(), order, "misspelt.json", |v| {
        v["order"]["descripton"] = "typo".into();
    });
    let output = run(
        dir.path(),
        &env,
        &[
            "order",
            "send",
            "--dry-run",
            misspelt.to_str().expect("a path"),
        ],
    )
    .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("warning: "), "{stderr}");
    assert!(
        stderr.contains("`order.descripton` is not a member"),
        "{stderr}"
    );
    assert_eq!(json(&output.stdout)["order"]["descripton"], "typo");

    // The same rule in a tXML order.
    let xml = std::fs::read_to_string(fixture("api-connector/sendOrderByBuyerRoute.guide.xml"))
        .expect("fixture")
        .replace("PO123456789", "PO 123");
    let xml_file = dir.path().join("spaced.xml");
    std::fs::write(&xml_file, xml).expect("written");
    let output = run(
        dir.path(),
        &env,
        &["order", "send", xml_file.to_str().expect("a path")],
    )
    .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`order.purchaseOrderNumber`"), "{stderr}");

    // A rule for requests on a type webhook bodies share (x-request-rules).
    let no_unit = edited(dir.path(), order, "no-unit.json", |v| {
        v["lines"][0]["itemDetails"] = serde_json::json!({"netWeight": 1.5});
    });
    let output = run(
        dir.path(),
        &env,
        &[
            "order",
            "send",
            "--dry-run",
            no_unit.to_str().expect("a path"),
        ],
    )
    .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "`lines[0].itemDetails.netWeightUnitOfMeasureIso` is required when `netWeight` is given"
        ),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));

    let stats = server.stats();
    assert_eq!(stats.api_requests(), 0, "{stats:?}");
    assert_eq!(stats.logins, 0);
}

/// What a user gets wrong is said, with what to do, and exits 1: no
/// such file, not JSON, an unknown extension, tXML where Tradecloud
/// takes JSON only, no credentials.
#[tokio::test]
async fn input_and_setup_errors_say_what_to_do() {
    let server = start(MockConfig::new()).await;
    let env = mock_env(&server);
    let dir = tempfile::tempdir().expect("a directory");
    let order = fixture("api-connector/sendOrderByBuyerRoute.guide.json");
    let order = order.to_str().expect("a path");
    let check = |output: std::process::Output, wanted: &[&str]| {
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        for part in wanted {
            assert!(stderr.contains(part), "{part:?} not in {stderr}");
        }
    };

    check(
        run(dir.path(), &env, &["order", "send", "no-such-file.json"]).await,
        &["no-such-file.json does not exist", "check the path"],
    );
    std::fs::write(dir.path().join("broken.json"), "{\"order\": ").expect("written");
    check(
        run(dir.path(), &env, &["order", "send", "broken.json"]).await,
        &["broken.json is not JSON", "--format txml"],
    );
    std::fs::copy(order, dir.path().join("order.txt")).expect("copied");
    check(
        run(dir.path(), &env, &["order", "send", "order.txt"]).await,
        &["extension `.txt`", "--format json"],
    );
    // `--format` overrides the extension.
    let output = run(
        dir.path(),
        &env,
        &[
            "order",
            "send",
            "--dry-run",
            "--format",
            "json",
            "order.txt",
        ],
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    // tXML only where Tradecloud takes it.
    std::fs::write(
        dir.path().join("indicators.xml"),
        "<SendOrderIndicatorsByBuyer/>",
    )
    .expect("written");
    check(
        run(dir.path(), &env, &["order", "indicators", "indicators.xml"]).await,
        &[
            "takes JSON only",
            "indicators.xml cannot be sent",
            "as JSON in a .json file",
        ],
    );
    // No credentials: named, with where to set them.
    check(
        run(dir.path(), &NO_VARIABLES, &["order", "send", order]).await,
        &[
            "TRADECLOUD_USERNAME",
            "TRADECLOUD_PASSWORD",
            "[tradecloud] username",
        ],
    );
    // A directory, and a file over what a command reads (32 MiB; sparse):
    // refused before anything is read whole or sent.
    std::fs::create_dir(dir.path().join("messages.json")).expect("a directory");
    check(
        run(dir.path(), &env, &["order", "send", "messages.json"]).await,
        &["messages.json is a directory", "give the message file"],
    );
    std::fs::File::create(dir.path().join("huge.json"))
        .and_then(|file| file.set_len(32 * 1024 * 1024 + 1))
        .expect("a sparse file");
    check(
        run(dir.path(), &env, &["order", "send", "huge.json"]).await,
        &[
            "huge.json is larger than 33554432 bytes (32 MiB)",
            "check that it is the message file",
        ],
    );
    check(
        run(dir.path(), &env, &["inspect", "huge.json"]).await,
        &["huge.json is larger than 33554432 bytes (32 MiB)"],
    );
    // A command line error is clap's 2.
    let output = run(dir.path(), &env, &["order", "send"]).await;
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));

    let stats = server.stats();
    assert_eq!(stats.api_requests(), 0, "{stats:?}");
}

/// Standard input, JSON unless `--format txml`.
#[tokio::test]
async fn a_message_from_standard_input() {
    // The demo data holds ORDER_ID (an unknown order id is a 404).
    let server = start(MockConfig::new().demo_data()).await;
    let env = mock_env(&server);
    let dir = tempfile::tempdir().expect("a directory");
    let xml = std::fs::read(fixture(
        "api-connector/sendOrderResponseBySupplierRoute.detailed.xml",
    ))
    .expect("fixture");
    let output = run_with_input(
        dir.path(),
        &env,
        &["order", "respond", "--format", "txml", "-"],
        Some(&xml),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(json(&output.stdout)["ok"], true);
    assert_eq!(
        server
            .stats()
            .requests_for(connector_ops::SEND_ORDER_RESPONSE_BY_SUPPLIER_ROUTE.id),
        1
    );
    let output = run_with_input(
        dir.path(),
        &env,
        &["order", "action", "resend", ORDER_ID, "-"],
        Some(b"{}"),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
}

fn fault(status: u16, op: &str) -> FaultConfig {
    FaultConfig::status(status, FaultTrigger::FirstN(1)).for_operations([op])
}

/// Tradecloud's refusals and failures have their own exit status: 3
/// refused (a 4xx), 5 may have arrived (deliveries after a 5xx are not
/// sent again), 4 unreachable.
#[tokio::test]
async fn exit_status_tells_refused_from_unknown_from_unavailable() {
    let server = start(MockConfig::new()).await;
    let env = mock_env(&server);
    let dir = tempfile::tempdir().expect("a directory");
    let order = fixture("api-connector/sendOrderByBuyerRoute.guide.json");
    let op = connector_ops::SEND_ORDER_BY_BUYER_ROUTE.id;
    server.set_faults(vec![fault(400, op)]).expect("a fault");
    let output = run(
        dir.path(),
        &env,
        &["order", "send", order.to_str().expect("a path")],
    )
    .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("400"), "{stderr}");

    let deliveries = fixture("api-connector/sendOrderDeliveriesByBuyer.receive-goods-page.json");
    let op = connector_ops::SEND_ORDER_DELIVERIES_BY_BUYER.id;
    server.set_faults(vec![fault(503, op)]).expect("a fault");
    let output = run(
        dir.path(),
        &env,
        &["order", "deliveries", deliveries.to_str().expect("a path")],
    )
    .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("not sent again"), "{stderr}");
    assert_eq!(server.stats().requests_for(op), 1);

    // Nothing listens there: a refused connection, retried, then 4.
    let closed = format!("127.0.0.1:{}", crate::port_support::free_port());
    let env = [
        ("TRADECLOUD_USERNAME", "a@b.c".to_owned()),
        ("TRADECLOUD_PASSWORD", "p".to_owned()),
        ("TRADECLOUD_BASE_URL", format!("http://{closed}/v2")),
    ];
    let output = run(
        dir.path(),
        &env,
        &["order", "send", order.to_str().expect("a path")],
    )
    .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
}

/// `document upload` prints the objectId, which the mock knows.
#[tokio::test]
async fn upload_prints_the_object_id() {
    let server = start(MockConfig::new()).await;
    let env = mock_env(&server);
    let dir = tempfile::tempdir().expect("a directory");
    std::fs::write(dir.path().join("confirmation.pdf"), b"%PDF-1.4 a document").expect("a file");
    let output = run(
        dir.path(),
        &env,
        &["document", "upload", "confirmation.pdf"],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let object_id = stdout.trim();
    assert!(
        !object_id.is_empty() && !object_id.contains(char::is_whitespace),
        "{stdout:?}"
    );
    assert_eq!(
        server.stats().requests_for(storage_ops::UPLOAD_DOCUMENT.id),
        1
    );
    let metadata = client(&server)
        .documents()
        .metadata(object_id)
        .await
        .expect("the mock knows the objectId");
    assert_eq!(metadata.filename.as_deref(), Some("confirmation.pdf"));

    let output = run(dir.path(), &env, &["document", "upload", "missing.pdf"]).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("missing.pdf does not exist"), "{stderr}");
}

/// Each command's `--help` shows an example; `order --help` the exit
/// status table.
#[tokio::test]
async fn help_shows_examples_and_exit_codes() {
    let dir = tempfile::tempdir().expect("a directory");
    for args in [
        &["order", "send", "--help"][..],
        &["order", "respond", "--help"],
        &["order", "indicators", "--help"],
        &["order", "attach-documents", "--help"],
        &["order", "deliveries", "--help"],
        &["order", "delivery-history", "--help"],
        &["order", "action", "--help"],
        &["order", "action", "approve-requests", "--help"],
        &["order", "action", "resend", "--help"],
        &["shipment", "send-despatch-advice", "--help"],
        &["forecast", "send", "--help"],
        &["document", "upload", "--help"],
    ] {
        let output = run(dir.path(), &NO_VARIABLES, args).await;
        let stdout = text(&output.stdout);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            text(&output.stderr)
        );
        assert!(stdout.contains("Example:\n  "), "{args:?}: {stdout}");
        let example = format!("tradecloud {} {}", args[0], args[1]);
        assert!(stdout.contains(&example), "{args:?}: {stdout}");
    }
    let output = run(dir.path(), &NO_VARIABLES, &["order", "--help"]).await;
    let stdout = text(&output.stdout);
    for code in [
        "  0  sent",
        "  1  nothing was sent",
        "  3  Tradecloud refused",
        "  4  ",
        "  5  ",
    ] {
        assert!(stdout.contains(code), "{code:?} not in {stdout}");
    }
}

/// `tradecloud forecast send [--slimstock] FILE`: from standard input,
/// appended at the mock; the rules checked first (nothing sent); a `5xx`
/// after the request went out is exit 5, not sent again (a forecast is
/// appended, so a second copy would be kept).
#[tokio::test]
async fn a_forecast_is_sent_checked_and_not_repeated() {
    let server = start(MockConfig::new()).await;
    let env = mock_env(&server);
    let dir = tempfile::tempdir().expect("a directory");
    let slimstock = std::fs::read(fixture(
        "api-connector/sendSlimstockForecastByBuyerRoute.slimstock-page.json",
    ))
    .expect("fixture");
    let output = run_with_input(
        dir.path(),
        &env,
        &["forecast", "send", "--slimstock", "-"],
        Some(&slimstock),
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(json(&output.stdout)["ok"], true);
    let kept = server.forecasts();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].message, json(&slimstock));

    let broken = edited(
        dir.path(),
        "api-connector/sendForecastByBuyerRoute.issue-page.json",
        "broken.json",
        |f| f["header"]["forecastNumber"] = "FC 1".into(),
    );
    let output = run(
        dir.path(),
        &env,
        &["forecast", "send", broken.to_str().expect("a path")],
    )
    .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("header.forecastNumber"), "{stderr}");
    let op = connector_ops::SEND_FORECAST_BY_BUYER_ROUTE.id;
    assert_eq!(server.stats().requests_for(op), 0);

    let forecast = fixture("api-connector/sendForecastByBuyerRoute.issue-page.json");
    server.set_faults(vec![fault(503, op)]).expect("a fault");
    let output = run(
        dir.path(),
        &env,
        &["forecast", "send", forecast.to_str().expect("a path")],
    )
    .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("append it twice"), "{stderr}");
    assert_eq!(server.stats().requests_for(op), 1);
    assert_eq!(server.forecasts().len(), 1);
}

/// Forecasts are JSON only (Tradecloud takes tXML for orders and order
/// responses only): `forecast send` offers no `--format`, and clap refuses
/// one before anything is read or sent.
#[tokio::test]
async fn a_forecast_offers_no_format() {
    let server = start(MockConfig::new()).await;
    let env = mock_env(&server);
    let dir = tempfile::tempdir().expect("a directory");
    let output = run(dir.path(), &NO_VARIABLES, &["forecast", "send", "--help"]).await;
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(!stdout.contains("--format"), "{stdout}");
    assert!(!stdout.contains("txml"), "{stdout}");
    assert!(stdout.contains("--dry-run"), "{stdout}");

    let forecast = fixture("api-connector/sendForecastByBuyerRoute.issue-page.json");
    let forecast = forecast.to_str().expect("a path");
    for args in [
        &["forecast", "send", "--format", "txml", forecast][..],
        &[
            "forecast",
            "send",
            "--slimstock",
            "--format",
            "json",
            forecast,
        ],
    ] {
        let output = run(dir.path(), &env, args).await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("--format"), "{args:?}: {stderr}");
    }
    let op = connector_ops::SEND_FORECAST_BY_BUYER_ROUTE.id;
    assert_eq!(server.stats().requests_for(op), 0);
    assert!(server.forecasts().is_empty());
}

/// `tradecloud forecast send FILE` at the limits of FILE: empty, only
/// whitespace, a NUL byte, 50 MB (sparse), a directory, a missing file.
/// Each is exit 1 with what went wrong and what to do, nothing sent; the
/// advice never points to tXML, which forecasts are not sent as.
#[tokio::test]
async fn a_forecast_file_at_its_limits_is_refused_and_nothing_is_sent() {
    let server = start(MockConfig::new()).await;
    let env = mock_env(&server);
    let dir = tempfile::tempdir().expect("a directory");
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(dir.path().join(name), bytes).expect("written");
    };
    write("empty.json", b"");
    write("blank.json", b" \n\t\r\n");
    write("nul.json", b"{\"header\": \0}");
    std::fs::File::create(dir.path().join("big.json"))
        .and_then(|file| file.set_len(50 * 1000 * 1000))
        .expect("a sparse file");
    std::fs::create_dir(dir.path().join("dir.json")).expect("a directory");
    for (file, wanted) in [
        ("empty.json", &["empty.json is empty", "give the file"][..]),
        ("blank.json", &["blank.json is empty (only whitespace)"]),
        ("nul.json", &["nul.json is not JSON", "fix the syntax"]),
        ("big.json", &["big.json is larger than", "message file"]),
        ("dir.json", &["dir.json is a directory"]),
        ("missing.json", &["missing.json does not exist"]),
    ] {
        for slimstock in [false, true] {
            let mut args = vec!["forecast", "send"];
            if slimstock {
                args.push("--slimstock");
            }
            args.push(file);
            let output = run(dir.path(), &env, &args).await;
            let stderr = text(&output.stderr);
            assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
            for part in wanted {
                assert!(stderr.contains(part), "{part:?} not in {stderr}");
            }
            assert!(!stderr.contains("txml"), "{args:?}: {stderr}");
        }
    }
    let stats = server.stats();
    assert_eq!(stats.api_requests(), 0, "{stats:?}");
    assert!(server.forecasts().is_empty());
}
