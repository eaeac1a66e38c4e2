//! IDX headers and payloads: any bytes give an array or an error, never a panic or an
//! allocation the bytes do not back.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(a) = wgtrain::data::idx::parse_idx(data) {
        assert_eq!(a.dims.iter().product::<usize>(), a.data.len());
    }
});
