//! What each fuzz target asserts about one input, shared by the cargo-fuzz targets
//! (`fuzz_targets/`) and the corpus replay in `tests/fuzz_corpus.rs`, which runs every
//! saved input through the same checks on every `cargo test`.

/// IDX headers and payloads: any bytes give an array or an error, never a panic or an
/// allocation the bytes do not back.
pub fn idx(data: &[u8]) {
    if let Ok(a) = wgtrain::data::idx::parse_idx(data) {
        assert_eq!(a.dims.iter().product::<usize>(), a.data.len());
    }
}

/// CSV text: any text gives rows of finite numbers or an error naming a line.
pub fn csv(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(rows) = wgtrain::data::csv::rows(text) {
            assert!(rows.iter().all(|(_, r)| r.iter().all(|v| v.is_finite())));
        }
    }
}

/// Checkpoint bytes: a checked checkpoint or an error, never a panic.
pub fn checkpoint(data: &[u8]) {
    let _ = wgtrain::train::checkpoint::parse(data, std::path::Path::new("fuzz.safetensors"));
}

/// `train` config files: any TOML gives a run config whose every derived setting is valid or
/// an error, never a panic.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(cfg) = toml::from_str::<wgtrain::run::RunConfig>(text) else { return };
    let _ = cfg.train_config();
    let _ = cfg.model_spec(784, 10);
    let _ = cfg.optimizer(100);
    let _ = cfg.to_toml();
}

/// `bench --compare` files: any text gives a report whose every rate is finite and above 0,
/// or an error.
pub fn bench_compare(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(report) = wgtrain::bench::Report::from_json(text, "fuzz.json") {
        assert!(report.rows.iter().all(|r| r.train.median > 0.0 && r.infer.median > 0.0));
        assert!(report.rows.iter().all(|r| r.train.median.is_finite() && r.infer.median.is_finite()));
    }
}

/// The matmul tune cache: any text gives entries or None (measured again), never a panic.
pub fn tune_cache(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = wgtrain::gpu::tune::cache_entries(text);
}
