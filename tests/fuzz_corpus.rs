//! Every input saved in the fuzz corpora (`fuzz/corpus/TARGET/`: the seeds, and any input a
//! fuzzing run found to fail, once fixed) through the checks its cargo-fuzz target makes, on
//! the stable toolchain: a parser that panics again on a saved input fails here. The fuzzing
//! itself (new inputs, minutes per target) is `scripts/fuzz.sh`.

#[allow(dead_code)]
#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        // Each input also cut short at a few places: truncated files are the commonest damage.
        for cut in [bytes.len(), bytes.len() / 2, bytes.len().saturating_sub(1), 16.min(bytes.len())] {
            let input = &bytes[..cut];
            if std::panic::catch_unwind(|| check(input)).is_err() {
                panic!("the {target} check fails on {} cut to {cut} bytes", path.display());
            }
        }
        count += 1;
    }
    assert!(count > 0, "no corpus in {}", dir.display());
}

#[test]
fn idx_corpus() {
    replay("idx", checks::idx);
}

#[test]
fn csv_corpus() {
    replay("csv", checks::csv);
}

#[test]
fn checkpoint_corpus() {
    replay("checkpoint", checks::checkpoint);
}

#[test]
fn config_corpus() {
    replay("config", checks::config);
}

#[test]
fn bench_compare_corpus() {
    replay("bench_compare", checks::bench_compare);
}

#[test]
fn tune_cache_corpus() {
    replay("tune_cache", checks::tune_cache);
}
