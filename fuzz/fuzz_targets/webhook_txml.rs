//! Fuzz target `webhook_txml`: see `checks::webhook_txml` for what it checks.
#![no_main]

#[path = "../checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::webhook_txml(data));
