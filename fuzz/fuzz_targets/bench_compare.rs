//! The bench_compare target: the check in `checks::bench_compare` on every input libFuzzer makes.
#![no_main]

// Each target uses one of the shared checks.
#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::bench_compare(data));
