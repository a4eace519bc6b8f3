//! The crate's integration tests, one module per file of `tests/`, in one
//! test binary: one link instead of one per file, and about a fifteenth of
//! the disk (each binary links every dependency again: 139 MB for this one,
//! 55-95 MB for each of the 35 it replaces, which with the CLI's filled a CI
//! machine's disk). Three files stay their own binaries (`Cargo.toml`,
//! `[[test]]`): the two memory tests measure the whole process's peak memory
//! and must run alone, and `inbox_crash` re-runs its own binary as a child it
//! kills.
//!
//! Run one file's tests with a filter: `cargo test --all-features --test
//! integration mock_webhooks::`.
//!
//! The tests of one binary share one process, and run in parallel: a test
//! that installs process-wide state (a global tracing subscriber, as
//! `inbox_trace_parent` does; an environment variable) sees every other test's effects
//! too, and must read only what is its own (its own trace, its own server),
//! never "the one span" or "every event" of the process.

// Shared helpers; each says which features it needs.
#[cfg(feature = "mock")]
mod client_support;
#[cfg(feature = "receiver")]
mod inbox_cases;
#[cfg(feature = "mock")]
mod mock_support;
#[cfg(feature = "receiver")]
mod pg_support;
#[cfg(any(feature = "receiver", feature = "mock"))]
mod port_support;
#[cfg(feature = "receiver")]
mod processing_support;
#[cfg(feature = "receiver")]
mod receiver_support;
mod request_examples;

mod api_credentials;
mod changes;
mod client_auth;
mod client_bench;
mod client_download;
mod client_poll;
mod client_retry;
mod client_sdk;
mod client_upload;
mod client_write;
mod date_time_pattern;
mod fuzz_regressions;
mod generated_code;
mod inbox_backlog;
mod inbox_migration;
mod inbox_postgres;
mod inbox_store;
mod inbox_trace_parent;
mod inbox_unhandled;
mod mock_api;
mod mock_forecast;
mod mock_order_events;
mod mock_order_portal;
mod mock_process;
mod mock_requests;
mod mock_shipment_actions;
mod mock_webhooks;
mod mock_write;
mod processing_fetch;
mod processing_order;
mod processing_outcomes;
mod processing_recovery;
mod processing_stop;
mod receiver_auth;
mod receiver_early_answers;
mod receiver_settings;
mod receiver_tls;
mod request_bodies;
mod scalar_types;
mod testing_bed;
mod txml;
mod webhook_bodies;
mod webhook_null_members;
