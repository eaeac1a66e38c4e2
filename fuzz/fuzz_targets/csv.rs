//! CSV text: any text gives rows of finite numbers or an error naming a line.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(rows) = wgtrain::data::csv::rows(text) {
            assert!(rows.iter().all(|(_, r)| r.iter().all(|v| v.is_finite())));
        }
    }
});
