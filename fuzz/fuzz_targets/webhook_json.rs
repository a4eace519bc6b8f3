//! Fuzz target `webhook_json`: see `checks::webhook_json` for what it checks.
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::webhook_json(data));
