//! The tune_cache target: the check in `checks::tune_cache` on every input libFuzzer makes.
#![no_main]

// Each target uses one of the shared checks.
#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::tune_cache(data));
