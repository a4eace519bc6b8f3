//! The data a mock serves: orders, single-delivery orders, shipments and
//! documents, from code, from a fixture directory or the built-in demo set.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::error::MockError;
use crate::api::common::types::{Order, Shipment, SingleDeliveryOrder};

/// Orders, single-delivery orders, shipments and documents for a mock.
///
/// Orders and shipments are keyed by their `id`; when two have the same id,
/// the later one wins.
#[derive(Debug, Clone, Default)]
pub struct MockData {
    /// Orders (delivery schedule): GET /order/{orderId} and POST /order-search/poll.
    pub orders: Vec<Order>,
    /// Single-delivery orders: POST /order-search/poll/single-delivery.
    pub single_delivery_orders: Vec<SingleDeliveryOrder>,
    /// Shipments: GET /shipment/{shipmentId} and POST /shipment/poll.
    pub shipments: Vec<Shipment>,
    /// Documents by object id: GET /object-storage/document/{objectId}/metadata
    /// and the downloads.
    pub documents: BTreeMap<String, MockDocument>,
}

impl MockData {
    /// No data.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add everything of `other` (its documents replace those with the same
    /// object id).
    pub fn extend(&mut self, other: MockData) {
        self.orders.extend(other.orders);
        self.single_delivery_orders
            .extend(other.single_delivery_orders);
        self.shipments.extend(other.shipments);
        self.documents.extend(other.documents);
    }

    /// The built-in demo data set, compiled into the crate from the
    /// documentation-based fixtures in `tests/fixtures/`: three orders, one
    /// single-delivery order, one shipment, and small documents for every
    /// `objectId` they reference.
    ///
    /// ```
    /// let demo = tradecloud::mock::MockData::demo();
    /// assert_eq!(demo.orders.len(), 3);
    /// assert!(demo.documents.contains_key("67aa8ece-5d41-496f-a94c-483e360b833b"));
    /// ```
    pub fn demo() -> Self {
        let mut data = MockData::new();
        // These files are part of the crate and tested to decode; a failure
        // here leaves that part of the demo empty instead of panicking.
        if let Ok(orders) = parse_many::<Order>(DEMO_ORDER_POLL.as_bytes(), None) {
            data.orders.extend(orders);
        }
        if let Ok(order) = serde_json::from_str::<Order>(DEMO_ORDER) {
            data.orders.push(order);
        }
        data.orders.extend(demo_extra_order());
        // `order.json` is the full version of the second polled order: keep
        // only the last order with each id.
        let mut seen = std::collections::BTreeSet::new();
        data.orders.reverse();
        data.orders.retain(|order| seen.insert(order.id.clone()));
        data.orders.reverse();
        if let Ok(orders) =
            parse_many::<SingleDeliveryOrder>(DEMO_SINGLE_DELIVERY_POLL.as_bytes(), None)
        {
            data.single_delivery_orders.extend(orders);
        }
        if let Ok(shipments) =
            parse_many::<Shipment>(DEMO_SHIPMENT_EVENT.as_bytes(), Some("shipment"))
        {
            data.shipments.extend(shipments);
        }
        for (object_id, filename, content_type) in [
            (
                "67aa8ece-5d41-496f-a94c-483e360b833b",
                "Tradecloud API Manual.pdf",
                "application/pdf",
            ),
            (
                "05d251f0-0166-4e1e-8110-8d7a507b18f4",
                "test.pdf",
                "application/octet-stream",
            ),
            (
                "4c3b2a19-0f8e-4d7c-b6a5-948372615a0b",
                "buyer-instructions.pdf",
                "application/pdf",
            ),
            (
                "0b9c8d7e-6f5a-4b3c-2d1e-0f9a8b7c6d5e",
                "order-confirmation.pdf",
                "application/pdf",
            ),
        ] {
            data.documents.insert(
                object_id.to_owned(),
                MockDocument::from_bytes(filename, content_type, demo_pdf(filename)),
            );
        }
        data
    }

    /// Load a fixture directory (see the [module documentation](super#fixture-directory)).
    /// Files are read in name order; missing sub-directories are fine.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, MockError> {
        let dir = dir.as_ref();
        let meta = std::fs::metadata(dir).map_err(|source| MockError::ReadFixture {
            path: dir.to_owned(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(MockError::InvalidFixture {
                path: dir.to_owned(),
                reason: "not a directory".into(),
            });
        }
        let mut data = MockData::new();
        for path in json_files(&dir.join("orders"))? {
            data.orders
                .extend(read_many::<Order>(&path, "order", None)?);
        }
        for path in json_files(&dir.join("single-delivery-orders"))? {
            data.single_delivery_orders
                .extend(read_many::<SingleDeliveryOrder>(
                    &path,
                    "single-delivery order",
                    None,
                )?);
        }
        for path in json_files(&dir.join("shipments"))? {
            data.shipments
                .extend(read_many::<Shipment>(&path, "shipment", Some("shipment"))?);
        }
        data.documents = read_documents(&dir.join("documents"))?;
        Ok(data)
    }
}

/// Where the bytes of a [`MockDocument`] come from.
#[derive(Clone)]
pub enum DocumentContent {
    /// Bytes in memory.
    Bytes(Bytes),
    /// A file, streamed from disk on every download (never held in memory).
    File(PathBuf),
    /// `size` bytes generated while streaming, byte `i` being
    /// [`generated_byte(i)`](generated_byte); for large-download tests.
    Generated {
        /// Number of bytes.
        size: u64,
    },
}

impl fmt::Debug for DocumentContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocumentContent::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            DocumentContent::File(p) => f.debug_tuple("File").field(p).finish(),
            DocumentContent::Generated { size } => {
                f.debug_struct("Generated").field("size", size).finish()
            }
        }
    }
}

/// A document in the mock's object storage.
///
/// ```
/// use tradecloud::mock::{generated_byte, MockDocument};
///
/// let big = MockDocument::generated("big.bin", 200 * 1024 * 1024);
/// assert_eq!(big.content_type, "application/octet-stream");
/// let note = MockDocument::from_bytes("note.txt", "text/plain", "hello");
/// // A download of `big` that stops with a connection error after 1 MiB:
/// let broken = big.clone().interrupt_after(1024 * 1024);
/// assert_eq!(broken.interrupt_after, Some(1024 * 1024));
/// assert_eq!(generated_byte(0), 0);
/// # let _ = note;
/// ```
#[derive(Debug, Clone)]
pub struct MockDocument {
    /// The `filename` of the metadata (and of `Content-Disposition`).
    pub filename: String,
    /// The `contentType` of the metadata and the `Content-Type` of downloads.
    pub content_type: String,
    /// The bytes.
    pub content: DocumentContent,
    /// When set, every download sends this many bytes and then breaks the
    /// connection (the `Content-Length` announces the full size), to test
    /// interrupted downloads.
    pub interrupt_after: Option<u64>,
}

impl MockDocument {
    /// A document held in memory.
    pub fn from_bytes(
        filename: impl Into<String>,
        content_type: impl Into<String>,
        bytes: impl Into<Bytes>,
    ) -> Self {
        MockDocument {
            filename: filename.into(),
            content_type: content_type.into(),
            content: DocumentContent::Bytes(bytes.into()),
            interrupt_after: None,
        }
    }

    /// A document streamed from a file; the file name and a content type
    /// guessed from its extension become the metadata.
    pub fn from_file(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let filename = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "document".to_owned());
        MockDocument {
            content_type: content_type_for(&filename).to_owned(),
            filename,
            content: DocumentContent::File(path),
            interrupt_after: None,
        }
    }

    /// A document of `size` generated bytes (`application/octet-stream`),
    /// streamed in constant memory.
    pub fn generated(filename: impl Into<String>, size: u64) -> Self {
        MockDocument {
            filename: filename.into(),
            content_type: "application/octet-stream".to_owned(),
            content: DocumentContent::Generated { size },
            interrupt_after: None,
        }
    }

    /// Set the content type.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = content_type.into();
        self
    }

    /// Set the file name.
    pub fn with_filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = filename.into();
        self
    }

    /// Break every download of this document after `bytes` bytes.
    pub fn interrupt_after(mut self, bytes: u64) -> Self {
        self.interrupt_after = Some(bytes);
        self
    }
}

/// Byte `offset` of a [generated](MockDocument::generated) document:
/// `offset % 251` (a prime period, so that a lost or repeated chunk shows).
pub fn generated_byte(offset: u64) -> u8 {
    (offset % 251) as u8
}

/// A content type for a file name, from its extension.
pub(crate) fn content_type_for(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "json" => "application/json",
        "xml" => "application/xml",
        "html" | "htm" => "text/html",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "zip" => "application/zip",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => "application/octet-stream",
    }
}

const DEMO_ORDER: &str = include_str!("../../tests/fixtures/api/order.json");
const DEMO_ORDER_POLL: &str = include_str!("../../tests/fixtures/api/order-poll-response.json");
const DEMO_SINGLE_DELIVERY_POLL: &str =
    include_str!("../../tests/fixtures/api/single-delivery-order-poll-response.json");
const DEMO_SHIPMENT_EVENT: &str =
    include_str!("../../tests/fixtures/shipment-webhook/shipment-event.json");

/// A third, issued order, so that a status filter on `Issued` finds something.
fn demo_extra_order() -> Option<Order> {
    serde_json::from_str(
        r#"{
  "id": "2b7c9e10-3d4f-4a5b-8c6d-7e8f9a0b1c2d",
  "buyerOrder": {"supplierAccountNumber": "SUPPLIER12345", "purchaseOrderNumber": "PO123456801", "orderType": "Purchase"},
  "supplierOrder": {"buyerAccountNumber": "340760"},
  "lines": [
    {
      "id": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a801",
      "buyerLine": {
        "position": "0001",
        "item": {"number": "777", "name": "Hex bolt M8", "purchaseUnitOfMeasureIso": "PCE"},
        "deliverySchedule": [{"position": "0001", "date": "2026-03-01", "quantity": 250}]
      },
      "status": {"processStatus": "Issued", "logisticsStatus": "Open"},
      "lastUpdatedAt": "2025-04-24T08:00:00.000Z"
    }
  ],
  "status": {"processStatus": "Issued", "logisticsStatus": "Open"},
  "version": 1,
  "lastUpdatedAt": "2025-04-24T08:00:00.000Z"
}"#,
    )
    .ok()
}

/// A tiny, valid one-page PDF that shows `title`.
fn demo_pdf(title: &str) -> Bytes {
    let text: String = title
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || " .-_".contains(*c))
        .collect();
    let stream = format!("BT /F1 18 Tf 72 720 Td (Tradecloud mock: {text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.push_str(&format!("{} 0 obj\n{object}\nendobj\n", i + 1));
    }
    let xref = pdf.len();
    pdf.push_str(&format!(
        "xref\n0 {}\n0000000000 65535 f \n",
        objects.len() + 1
    ));
    for offset in offsets {
        pdf.push_str(&format!("{offset:010} 00000 n \n"));
    }
    pdf.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    Bytes::from(pdf)
}

/// The `*.json` files of `dir` in name order; none when `dir` does not exist.
fn json_files(dir: &Path) -> Result<Vec<PathBuf>, MockError> {
    let mut files: Vec<PathBuf> = dir_entries(dir)?
        .into_iter()
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    Ok(files)
}

fn dir_entries(dir: &Path) -> Result<Vec<PathBuf>, MockError> {
    let read_err = |source| MockError::ReadFixture {
        path: dir.to_owned(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(read_err(e)),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(read_err)?;
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with('.') {
            paths.push(entry.path());
        }
    }
    paths.sort();
    Ok(paths)
}

/// Decode one `T`, an array of them, an object with a `data` array (a poll
/// response) or, with `wrapper`, an object holding one under that key (a
/// webhook body).
fn parse_many<T: DeserializeOwned>(
    bytes: &[u8],
    wrapper: Option<&str>,
) -> Result<Vec<T>, serde_json::Error> {
    let value: serde_json::Value = serde_json::from_slice(bytes)?;
    match value {
        serde_json::Value::Array(items) => items.into_iter().map(serde_json::from_value).collect(),
        serde_json::Value::Object(mut map) => {
            if let Some(serde_json::Value::Array(items)) =
                map.get_mut("data").map(serde_json::Value::take)
            {
                return items.into_iter().map(serde_json::from_value).collect();
            }
            if let Some(inner) = wrapper
                .and_then(|key| map.get_mut(key))
                .map(serde_json::Value::take)
            {
                if inner.is_object() {
                    return Ok(vec![serde_json::from_value(inner)?]);
                }
            }
            Ok(vec![serde_json::from_value(serde_json::Value::Object(
                map,
            ))?])
        }
        other => Ok(vec![serde_json::from_value(other)?]),
    }
}

fn read_many<T: DeserializeOwned>(
    path: &Path,
    expected: &'static str,
    wrapper: Option<&str>,
) -> Result<Vec<T>, MockError> {
    let bytes = std::fs::read(path).map_err(|source| MockError::ReadFixture {
        path: path.to_owned(),
        source,
    })?;
    parse_many(&bytes, wrapper).map_err(|source| MockError::ParseFixture {
        path: path.to_owned(),
        expected,
        source,
    })
}

/// The optional `documents/<objectId>.meta.json` side file.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DocumentSideFile {
    filename: Option<String>,
    content_type: Option<String>,
    generated_size: Option<u64>,
    interrupt_after: Option<u64>,
}

const META_SUFFIX: &str = ".meta.json";

fn read_documents(dir: &Path) -> Result<BTreeMap<String, MockDocument>, MockError> {
    let mut contents: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut side_files: BTreeMap<String, PathBuf> = BTreeMap::new();
    for path in dir_entries(dir)? {
        if !path.is_file() {
            continue;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(object_id) = name.strip_suffix(META_SUFFIX) {
            side_files.insert(object_id.to_owned(), path);
            continue;
        }
        let object_id = name
            .split_once('.')
            .map(|(id, _)| id)
            .unwrap_or(&name)
            .to_owned();
        if let Some(previous) = contents.insert(object_id.clone(), path.clone()) {
            return Err(MockError::InvalidFixture {
                path,
                reason: format!(
                    "object id `{object_id}` already has the content file {}; keep one file per object id",
                    previous.display()
                ),
            });
        }
    }
    let mut documents = BTreeMap::new();
    let ids: Vec<String> = contents.keys().chain(side_files.keys()).cloned().collect();
    for object_id in ids {
        if documents.contains_key(&object_id) {
            continue;
        }
        let side = match side_files.get(&object_id) {
            Some(path) => {
                let bytes = std::fs::read(path).map_err(|source| MockError::ReadFixture {
                    path: path.clone(),
                    source,
                })?;
                serde_json::from_slice::<DocumentSideFile>(&bytes).map_err(|source| {
                    MockError::ParseFixture {
                        path: path.clone(),
                        expected: "document metadata side file",
                        source,
                    }
                })?
            }
            None => DocumentSideFile::default(),
        };
        let mut document = match (contents.get(&object_id), side.generated_size) {
            (Some(path), None) => MockDocument::from_file(path.clone()),
            (None, Some(size)) => MockDocument::generated(format!("{object_id}.bin"), size),
            (Some(path), Some(_)) => {
                return Err(MockError::InvalidFixture {
                    path: path.clone(),
                    reason: format!(
                        "object id `{object_id}` has both a content file and a `generatedSize`"
                    ),
                })
            }
            (None, None) => {
                return Err(MockError::InvalidFixture {
                    path: side_files
                        .get(&object_id)
                        .cloned()
                        .unwrap_or_else(|| dir.to_owned()),
                    reason: format!(
                        "object id `{object_id}` has no content file and no `generatedSize`"
                    ),
                })
            }
        };
        if let Some(filename) = side.filename {
            document.filename = filename;
        }
        if let Some(content_type) = side.content_type {
            document.content_type = content_type;
        }
        document.interrupt_after = side.interrupt_after;
        documents.insert(object_id, document);
    }
    Ok(documents)
}
