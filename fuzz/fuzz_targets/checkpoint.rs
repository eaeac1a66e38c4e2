//! Checkpoint bytes: a checked checkpoint or an error, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = wgtrain::train::checkpoint::parse(data, std::path::Path::new("fuzz.safetensors"));
});
