//! `wgtrain prune`, `factorize`, `train --prune-to` and `info CHECKPOINT` as a user runs them:
//! new run directories with summaries, inputs untouched, exact zero counts, ranks shown, and
//! every bad value refused by name.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::cli::{tempdir, text, wgtrain};

fn data_dir() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/data").to_string()
}

/// A digits model (64-64-32-10) trained once on the CPU twin.
fn trained() -> &'static PathBuf {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let out = tempdir("sparse-cli").join("digits");
        let d = data_dir();
        let args = ["--device", "cpu", "train", "--dataset", "digits", "--data-dir", &d, "--layers", "64,32", "--epochs", "6"];
        let run = wgtrain(&[&args[..], &["--output", out.to_str().unwrap()]].concat());
        assert!(run.status.success(), "{}", text(&run).1);
        out
    })
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = wgtrain(args);
    assert!(out.status.success(), "{args:?}: {}", text(&out).1);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}\n{}", text(&out).0))
}

fn model(dir: &Path) -> String {
    dir.join("model.safetensors").display().to_string()
}

#[test]
fn prune_writes_a_new_run_with_exact_zeros_and_leaves_the_input_alone() {
    let run = trained();
    let before = std::fs::read(run.join("model.safetensors")).unwrap();
    let out = run.with_file_name("pruned");
    let report = json(&["--device", "cpu", "--json", "prune", &model(run), "--sparsity", "0.9", "--fine-tune-epochs", "1", "-o", out.to_str().unwrap()]);
    assert_eq!(std::fs::read(run.join("model.safetensors")).unwrap(), before, "the input checkpoint changed");
    let weights = report["weights_after"].as_u64().unwrap();
    assert_eq!(weights, 64 * 64 + 64 * 32 + 32 * 10);
    assert_eq!(report["zero_weights_after"].as_u64().unwrap(), (0.9 * weights as f64).floor() as u64, "{report}");
    assert!(report["accuracy_after_fine_tuning"].as_f64().unwrap() > report["accuracy_after"].as_f64().unwrap() - 0.05);
    assert!(out.join("summary.json").is_file());
    // The summary reads the zeros back from the new checkpoint, with their masks.
    let info = wgtrain(&["info", &model(&out)]);
    let (stdout, _) = text(&info);
    assert!(stdout.contains("held at zero by a pruning mask") && stdout.contains("(90.0%)"), "{stdout}");
    // Per layer: every weight matrix loses the same fraction.
    let report = json(&["--device", "cpu", "--json", "prune", &model(run), "--sparsity", "0.5", "--per-layer", "-o", out.with_file_name("half").to_str().unwrap()]);
    for layer in report["layers"].as_array().unwrap() {
        let (zeros, n) = (layer["zeros"].as_u64().unwrap(), layer["weights"].as_u64().unwrap());
        assert_eq!(zeros, n / 2, "{layer}");
    }
}

#[test]
fn factorize_writes_a_smaller_model_that_evaluates_like_any_other() {
    let run = trained();
    let out = run.with_file_name("rank8");
    let report = json(&["--device", "cpu", "--json", "factorize", &model(run), "--rank", "8", "--fine-tune-epochs", "1", "-o", out.to_str().unwrap()]);
    let expected = (64 * 8 + 8 * 64 + 64) + (64 * 8 + 8 * 32 + 32) + (32 * 10 + 10);
    assert_eq!(report["params_after"].as_u64().unwrap(), expected as u64);
    assert_eq!(report["factorized"].as_array().unwrap().len(), 2);
    let eval = json(&["--device", "cpu", "--json", "eval", &model(&out)]);
    assert!(eval["accuracy"].as_f64().unwrap() > 0.5, "{eval}");
    let ranks: Vec<u64> = eval["model"]["layers"].as_array().unwrap().iter().filter_map(|l| l["rank"].as_u64()).collect();
    assert_eq!(ranks, vec![8, 8]);
    // It trains further like any run.
    let more = wgtrain(&["--device", "cpu", "train", "--resume", out.to_str().unwrap(), "--epochs", "2"]);
    assert!(more.status.success(), "{}", text(&more).1);
}

#[test]
fn pruning_during_training_ramps_up_and_the_history_records_sparsity() {
    let dir = tempdir("prune-train");
    let out = dir.join("run");
    let d = data_dir();
    let args = ["--device", "cpu", "train", "--dataset", "digits", "--data-dir", &d, "--layers", "64", "--epochs", "5"];
    let ran = wgtrain(&[&args[..], &["--prune-to", "0.8", "--prune-start", "2", "--prune-end", "4", "--output", out.to_str().unwrap()]].concat());
    let (stdout, stderr) = text(&ran);
    assert!(ran.status.success(), "{stderr}");
    assert!(stdout.contains("# epoch 4 starts pruned to 80.0% zero weights"), "{stdout}");
    let history = std::fs::read_to_string(out.join("history.csv")).unwrap();
    let sparsity: Vec<f64> = history.lines().skip(1).map(|l| l.rsplit(',').next().unwrap().parse().unwrap()).collect();
    assert!(sparsity[0] < 0.1, "epoch 1 is not pruned: {sparsity:?}");
    assert!(sparsity.windows(2).all(|w| w[1] >= w[0] - 1e-6), "{sparsity:?}");
    assert!((sparsity[4] - 0.8).abs() < 0.01, "{sparsity:?}");
}

#[test]
fn bad_compression_values_are_refused_by_name() {
    let run = trained();
    let m = model(run);
    let out = run.with_file_name("refused");
    let o = out.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["prune", &m, "--sparsity", "1", "-o", o], "sparsity: 1 is not in [0, 1)"),
        (&["prune", &m, "--sparsity=-0.1", "-o", o], "sparsity: -0.1 is not in [0, 1)"),
        (&["factorize", &m, "--rank", "0", "-o", o], "--rank 0: the rank must be at least 1"),
        (&["factorize", &m, "--rank", "40", "-o", o], "rank: 40 for layer 2 (64→32); it must be between 1 and min(IN, OUT) = 32"),
        (&["factorize", &m, "--energy", "0", "-o", o], "--energy 0 is not in (0, 1]"),
        (&["factorize", &m, "--energy", "1.5", "-o", o], "--energy 1.5 is not in (0, 1]"),
        (&["factorize", &m, "--rank", "4", "--layers", "7", "-o", o], "layer: 7 is not a Dense layer of this model; its Dense layers are 1, 2, 3"),
        (&["factorize", &m, "--rank", "4", "-o", run.to_str().unwrap()], "is the checkpoint's own directory"),
        (&["factorize", &m], "required arguments were not provided"),
        (&["train", "--dataset", "spirals", "--prune-to", "1.2", "-o", o], "sparsity: 1.2 is not in [0, 1)"),
        (&["train", "--dataset", "spirals", "--epochs", "3", "--prune-to", "0.5", "--prune-end", "5", "-o", o], "1 ≤ start ≤ end ≤ epochs (3)"),
        (&["train", "--dataset", "spirals", "--prune-start", "2", "-o", o], "need --prune-to"),
    ];
    let before = std::fs::read(run.join("model.safetensors")).unwrap();
    for (args, message) in cases {
        let ran = wgtrain(&[&["--device", "cpu"][..], args].concat());
        let (_, stderr) = text(&ran);
        assert!(!ran.status.success(), "{args:?} was accepted");
        assert!(stderr.contains(message), "{args:?}: expected {message:?} in:\n{stderr}");
    }
    assert!(!out.exists());
    assert_eq!(std::fs::read(run.join("model.safetensors")).unwrap(), before);
}
