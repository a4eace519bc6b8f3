//! Errors of the mock.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the mock could not be configured, started or changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MockError {
    /// The listen address could not be bound.
    #[error("the mock cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The error of the operating system.
        #[source]
        source: std::io::Error,
    },
    /// A fixture file or directory could not be read.
    #[error("cannot read the fixture {}: {source}", path.display())]
    ReadFixture {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A fixture file is not valid JSON of the expected shape.
    #[error("the fixture {} is not a valid {expected}: {source}", path.display())]
    ParseFixture {
        /// The file.
        path: PathBuf,
        /// What the file should contain.
        expected: &'static str,
        /// The decoding error (with line and column).
        #[source]
        source: serde_json::Error,
    },
    /// A fixture file or directory is readable but cannot be used.
    #[error("the fixture {} cannot be used: {reason}", path.display())]
    InvalidFixture {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An order or shipment given to the mock has no `id`, so it could not
    /// be fetched by id.
    #[error("the {kind} has no `id`; the mock needs one to serve it")]
    MissingId {
        /// `order`, `single-delivery order` or `shipment`.
        kind: &'static str,
    },
    /// A configuration value is out of range.
    #[error("invalid mock configuration: {0}")]
    Config(String),
    /// The info file could not be written.
    #[error("cannot write the mock's info file {}: {source}", path.display())]
    InfoFile {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// A portal action on a shipment was refused
    /// ([`MockServer::shipment_action`](super::MockServer::shipment_action));
    /// nothing changed.
    #[error("the shipment action was refused ({status}): {message}")]
    ShipmentAction {
        /// The HTTP status the mock's route answers for it (`400`, `404`, `409`).
        status: u16,
        /// What was wrong and what to do.
        message: String,
    },
    /// A portal action on an order was refused
    /// ([`MockServer::order_action`](super::MockServer::order_action));
    /// nothing changed.
    #[error("the order action was refused ({status}): {message}")]
    OrderAction {
        /// The HTTP status the mock's route answers for it (`400`, `404`, `409`).
        status: u16,
        /// What was wrong and what to do.
        message: String,
    },
    /// The HTTP server stopped with an error.
    #[error("the mock server failed: {0}")]
    Serve(#[source] std::io::Error),
}
