//! The matmul autotune: measured once, cached on disk by adapter, driver, wgpu and kernels;
//! a damaged or unwritable cache costs a measurement, never an error; the command line says
//! when it tunes and `--no-autotune` skips it.

mod common;

use std::collections::BTreeMap;

use common::cli::{text, wgtrain_command};
use common::context;
use wgtrain::gpu::tune::{cache_key, tune_with_cache, TuneSource};
use wgtrain::gpu::MatmulTiling;

const FILE: &str = "matmul-tiling.json";

#[test]
fn a_measurement_is_cached_and_then_read_back() {
    let ctx = context();
    let dir = tempfile::tempdir().unwrap();
    let key = cache_key(&ctx);
    let first = tune_with_cache(&ctx, &key, Some(dir.path())).unwrap();
    let path = dir.path().join(FILE);
    assert_eq!(first.source, TuneSource::Measured { cache: Some(path.clone()) });
    // Every tiling the adapter runs was timed, and the fastest chosen.
    let mut expected = vec!["register", "tiled"];
    if ctx.kind() != wgtrain::gpu::DeviceKind::Cpu {
        expected.push("tiled-8x8");
        expected.push("tiled-32");
    }
    if MatmulTiling::subgroups_fit(&ctx) {
        expected.push("subgroup");
    }
    expected.sort();
    assert_eq!(first.gflops.keys().map(String::as_str).collect::<Vec<_>>(), expected);
    let fastest = first.gflops.iter().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
    assert_eq!(first.tiling.name(), fastest, "{:?}", first.gflops);
    assert!(first.gflops.values().all(|g| g.is_finite() && *g > 0.0), "{:?}", first.gflops);
    // The file names the adapter and the kernels' hash in its key.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(&ctx.adapter().name) && text.contains("kernels "), "{text}");

    let second = tune_with_cache(&ctx, &key, Some(dir.path())).unwrap();
    assert_eq!(second.source, TuneSource::Cached(path.clone()));
    assert_eq!(second.tiling, first.tiling);
    // The figures come back through JSON: equal to within its float printing.
    assert_eq!(second.gflops.keys().collect::<Vec<_>>(), first.gflops.keys().collect::<Vec<_>>());
    for (name, g) in &first.gflops {
        assert!((second.gflops[name] - g).abs() <= 1e-12 * g, "{name}: {} against {g}", second.gflops[name]);
    }
    // Another key (another driver or kernel version) measures again and keeps both entries.
    let other = tune_with_cache(&ctx, "another adapter", Some(dir.path())).unwrap();
    assert!(matches!(other.source, TuneSource::Measured { .. }));
    let file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(file["entries"].as_object().unwrap().len(), 2, "{file}");
}

#[test]
fn a_damaged_or_unwritable_cache_costs_a_measurement_not_an_error() {
    let ctx = context();
    let key = cache_key(&ctx);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE);
    let garbage: [&[u8]; 3] = [b"{ not json", b"{\"schema\": \"other/9\", \"entries\": {}}", &[0xff, 0xfe, 0x00]];
    for bytes in garbage {
        std::fs::write(&path, bytes).unwrap();
        let tuned = tune_with_cache(&ctx, &key, Some(dir.path())).unwrap();
        assert_eq!(tuned.source, TuneSource::Measured { cache: Some(path.clone()) });
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("wgtrain-tune/1"), "rewritten whole: {text}");
    }
    // An entry naming a tiling this adapter lacks is measured over.
    let entries = BTreeMap::from([(key.clone(), serde_json::json!({ "tiling": "bogus", "gflops": {} }))]);
    std::fs::write(&path, serde_json::json!({ "schema": "wgtrain-tune/1", "entries": entries }).to_string()).unwrap();
    let tuned = tune_with_cache(&ctx, &key, Some(dir.path())).unwrap();
    assert!(matches!(tuned.source, TuneSource::Measured { .. }));
    // A cache directory that is a file: measured, nothing kept, no error.
    let blocked = dir.path().join("a-file");
    std::fs::write(&blocked, b"").unwrap();
    let tuned = tune_with_cache(&ctx, &key, Some(&blocked)).unwrap();
    assert_eq!(tuned.source, TuneSource::Measured { cache: None });
    // No cache directory at all: measured.
    assert_eq!(tune_with_cache(&ctx, &key, None).unwrap().source, TuneSource::Measured { cache: None });
}

fn wgtrain_with_env(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    wgtrain_command(args).envs(env.iter().copied()).output().expect("the wgtrain binary runs")
}

fn stderr(out: &std::process::Output) -> String {
    text(out).1
}

#[test]
fn the_command_line_says_when_it_tunes_and_no_autotune_skips_it() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().to_str().unwrap();
    let env = [("WGTRAIN_CACHE_DIR", cache)];
    let info = |extra: &[&str]| {
        let run = wgtrain_with_env(&[&["info", "--json"][..], extra].concat(), &env);
        assert!(run.status.success(), "{}", stderr(&run));
        let out: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        out["matmul_tuning"]["how"].as_str().unwrap().to_string()
    };
    let skipped = info(&["--no-autotune"]);
    assert!(skipped.contains("autotune off"), "{skipped}");
    assert!(!dir.path().join(FILE).exists(), "--no-autotune measured nothing and wrote nothing");
    let measured = info(&[]);
    assert!(measured.contains("tuned just now") && measured.contains(cache), "{measured}");
    let cached = info(&[]);
    assert!(cached.contains("tuned earlier"), "{cached}");
    // A training command prints the one-time note only when it measures.
    let fresh = tempfile::tempdir().unwrap();
    let args = ["bench", "--models", "mlp", "--batch", "1", "--repeats", "1"];
    let run = wgtrain_with_env(&args, &[("WGTRAIN_CACHE_DIR", fresh.path().to_str().unwrap())]);
    assert!(stderr(&run).contains("timed the matmul tilings"), "{}", stderr(&run));
    let run = wgtrain_with_env(&args, &[("WGTRAIN_CACHE_DIR", fresh.path().to_str().unwrap())]);
    assert!(!stderr(&run).contains("timed the matmul tilings"), "{}", stderr(&run));
}
