//! The command line tool's integration tests, one module per file of
//! `cli/tests/`, in one test binary: one link instead of one per file, and
//! about a fifteenth of the disk (each binary links every dependency again:
//! 99 MB for this one, 55-95 MB for each of the 20 it replaces). The
//! helpers shared with the library's tests live in `tests/`.
//!
//! Run one file's tests with a filter: `cargo test -p tradecloud-cli --test
//! integration serve_postgres::`.
//!
//! The tests of one binary share one process, and run in parallel: a test
//! that installs process-wide state (a global tracing subscriber, as
//! `telemetry` does; an environment variable) sees every other test's effects
//! too, and must read only what is its own (its own trace, its own server),
//! never "the one span" or "every event" of the process.

#[path = "../../tests/certs_support/mod.rs"]
mod certs_support;
mod cli_support;
#[path = "../../tests/client_support/mod.rs"]
mod client_support;
#[cfg(unix)]
#[path = "../../tests/pg_support/mod.rs"]
mod pg_support;
#[path = "../../tests/port_support/mod.rs"]
mod port_support;
#[path = "../../tests/processing_support/mod.rs"]
mod processing_support;
#[path = "../../tests/receiver_support/mod.rs"]
mod receiver_support;
#[path = "../../tests/request_examples.rs"]
mod request_examples;
#[cfg(unix)]
#[path = "../../tests/serve_pg_support/mod.rs"]
mod serve_pg_support;

mod acme;
mod cli_inspect;
mod cli_new;
mod cli_write;
mod client_cli;
mod console;
mod deploy_metrics;
mod doctor;
mod inbox_cli;
mod inbox_cli_ops;
mod mock_box;
mod mock_cli;
mod postgres_tls;
mod receiver_http;
mod receiver_process;
mod receiver_startup;
mod serve_disk;
mod serve_postgres;
mod serve_store;
mod telemetry;
mod webhook_rules;
