//! Fuzz target `receiver_body`: see `checks::receiver_body` for what it checks.
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::receiver_body(data));
