//! Example request bodies of the write operations, shared by the tests
//! that decode them (`request_bodies.rs`) and send them to the mock
//! (`mock_write.rs`); included with `#[path]`.
//!
//! * `documentation_examples()`: the files
//!   `tests/fixtures/requests/<spec>/<operationId>.<variant>.{json,xml}`,
//!   the documentation's example bodies and bodies written from the fields
//!   each page lists (see `tests/fixtures/README.md`);
//! * `tradecloud_examples()`: Tradecloud's own published examples
//!   (tradecloud-sdk-dotnet), read from
//!   `$TRADECLOUD_MIRRORS/tradecloud+tradecloud-sdk-dotnet/repo` with
//!   `git show` when that is set (`None`, with a note, otherwise).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// One example body.
pub struct Example {
    /// Where it comes from (a fixture's or the mirror's path).
    pub path: String,
    /// Its file name; `.xml` for tXML.
    pub name: String,
    /// The `operationId` it is a body of.
    pub operation: &'static str,
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl Example {
    /// Whether the body is tXML.
    pub fn is_xml(&self) -> bool {
        self.name.ends_with(".xml")
    }
}

pub fn fixtures_dir() -> PathBuf {
    // Included by cli/tests/cli_write.rs too: the workspace root (the
    // directory with Cargo.lock) holds the fixtures.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .unwrap_or(Path::new(env!("CARGO_MANIFEST_DIR")))
        .join("tests/fixtures/requests")
}

/// Every fixture file, by spec directory and name.
pub fn documentation_examples() -> Vec<Example> {
    let mut out = Vec::new();
    for spec in ["api-connector", "order"] {
        let dir = fixtures_dir().join(spec);
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("file name")
                .to_string();
            let op = name.split('.').next().expect("operation id").to_string();
            let bytes = std::fs::read(&path).expect("fixture");
            out.push(Example {
                path: format!("{spec}/{name}"),
                name,
                operation: Box::leak(op.into_boxed_str()),
                bytes,
            });
        }
    }
    out
}

/// Tradecloud's example directories and the operation each one's bodies
/// are for (templates with unquoted placeholders are not JSON and not
/// listed).
pub const DOTNET_EXAMPLES: &[(&str, &str)] = &[
    ("api-connector/SendOrder/", "sendOrderByBuyerRoute"),
    ("api-connector/SendOrderBatch/", "sendOrderByBuyerRoute"),
    (
        "api-connector/SendOrderSingleDelivery/",
        "sendSingleDeliveryOrderByBuyerRoute",
    ),
    (
        "api-connector/SendOrderIndicators/",
        "sendOrderIndicatorsByBuyerRoute",
    ),
    (
        "api-connector/SendOrderIndicatorsCsvBatch/",
        "sendOrderIndicatorsByBuyerRoute",
    ),
    (
        "api-connector/SendOrderIndicatorsSearchBatch/",
        "sendOrderIndicatorsByBuyerRoute",
    ),
    (
        "api-connector/SendOrderLinesIndicatorsCsvBatch/",
        "sendOrderIndicatorsByBuyerRoute",
    ),
    (
        "api-connector/SendOrderLinesIndicatorsSearchBatch/",
        "sendOrderIndicatorsByBuyerRoute",
    ),
    (
        "api-connector/AttachOrderDocuments/",
        "attachOrderDocumentsByBuyerRoute",
    ),
    (
        "api-connector/SendOrderDeliveries/",
        "sendOrderDeliveriesByBuyer",
    ),
    (
        "api-connector/SendOrderResponse/",
        "sendOrderResponseBySupplierRoute",
    ),
    (
        "api-connector/SendOrderResponseAcceptCvsBatch/",
        "sendOrderResponseBySupplierRoute",
    ),
    (
        "api-connector/SendDespatchAdvice/",
        "sendDespatchAdviceBySupplierRoute",
    ),
    ("api-connector/SendForecast/", "sendForecastByBuyerRoute"),
    (
        "api-connector/SendSlimstockForecast/",
        "sendSlimstockForecastByBuyerRoute",
    ),
    (
        "order/ApproveOrRejectRescheduleRequest/approve-request.json",
        "approveShipmentRescheduleRequestRoute",
    ),
    (
        "order/ApproveOrRejectRescheduleRequest/reject-request.json",
        "rejectShipmentRescheduleRequestRoute",
    ),
    (
        "order/BulkApproveRejectRequests/bulk-approve-request.json",
        "approveRequestsAsBuyerRoute",
    ),
    (
        "order/BulkApproveRejectRequests/bulk-reject-request.json",
        "rejectRequestsAsBuyerRoute",
    ),
    (
        "order/RevertCancelledOrderLine/",
        "revertCancelledOrderLines",
    ),
    (
        "order/RevertCancelledOrderLinesCvsBatch/",
        "revertCancelledOrderLines",
    ),
    (
        "order/RevertCompletedOrderLine/",
        "revertCompletedOrderLines",
    ),
    (
        "order/RevertCompletedOrderLinesCvsBatch/",
        "revertCompletedOrderLines",
    ),
    (
        "order/SetDeliverySchedule/",
        "updateOrderLineDeliverySchedule",
    ),
    (
        "order/SetDeliveryScheduleStatusBatch/",
        "updateOrderLineDeliverySchedule",
    ),
];

fn git(repo: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Tradecloud's published example bodies of the write operations, or
/// `None` (with a note on stderr) when `TRADECLOUD_MIRRORS` does not hold
/// the mirror.
pub fn tradecloud_examples() -> Option<Vec<Example>> {
    let Some(mirrors) = std::env::var_os("TRADECLOUD_MIRRORS") else {
        eprintln!(
            "skipped: set TRADECLOUD_MIRRORS to the directory holding \
             tradecloud+tradecloud-sdk-dotnet/repo to check Tradecloud's own examples"
        );
        return None;
    };
    let repo = Path::new(&mirrors).join("tradecloud+tradecloud-sdk-dotnet/repo");
    if !repo.is_dir() {
        eprintln!("skipped: {} does not exist", repo.display());
        return None;
    }
    let listing = String::from_utf8(git(&repo, &["ls-tree", "-r", "--name-only", "HEAD"]))
        .expect("file names are UTF-8");
    let mut out = Vec::new();
    for path in listing.lines() {
        if !(path.ends_with(".json") || path.ends_with(".xml")) {
            continue;
        }
        let Some((_, op)) = DOTNET_EXAMPLES.iter().find(|(prefix, _)| {
            path == *prefix || (prefix.ends_with('/') && path.starts_with(prefix))
        }) else {
            continue;
        };
        let bytes = git(&repo, &["show", &format!("HEAD:{path}")]);
        let name = path.rsplit('/').next().unwrap_or(path).to_string();
        out.push(Example {
            path: path.to_string(),
            name,
            operation: op,
            bytes,
        });
    }
    Some(out)
}
