//! `wgtrain bench`: every field of every row in the JSON, dispatch and submit counts that
//! follow from the model's layers, compare files that round-trip and bad ones refused, and
//! bad arguments refused with nothing written. Speed itself is not asserted: it lives in
//! the benchmark's output.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::gpu;
use wgtrain::bench::report::compare;
use wgtrain::bench::{self, BenchModel, Machine, Report};

fn wgtrain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wgtrain")).args(args).output().expect("the wgtrain binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wgtrain-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A small, fast suite: one custom model, two batch sizes, one repeat.
const SMALL: &[&str] = &["bench", "--layers", "20,16,3", "--batch", "1,8", "--repeats", "1"];

const ROW_FIELDS: &[&str] = &[
    "model",
    "layers",
    "dropout",
    "path",
    "batch",
    "train",
    "infer",
    "first_step_ms",
    "step_ms",
    "encode_ms",
    "device_ms",
    "dispatches_per_step",
    "submits_per_step",
    "readback_bytes_per_step",
    "infer_dispatches",
    "latency_p50_ms",
    "latency_p99_ms",
    "train_gflops",
    "infer_gflops",
];

#[test]
fn the_json_report_has_every_field_of_every_row_and_names_the_machine() {
    let dir = tempdir("json");
    let (out_file, chart) = (dir.join("ours.json"), dir.join("speed.svg"));
    let args = [SMALL, &["--json", "-o", out_file.to_str().unwrap(), "--chart", chart.to_str().unwrap()]].concat();
    let run = wgtrain(&args);
    assert!(run.status.success(), "{}", stderr(&run));
    let printed: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_eq!(printed["rows"], written["rows"]);
    assert_eq!(printed["schema"], bench::SCHEMA);
    let machine = &printed["machine"];
    for field in ["engine", "adapter", "backend", "driver", "wgpu", "cpu", "cores"] {
        assert!(!machine[field].is_null(), "machine.{field} missing: {machine}");
    }
    let rows = printed["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "one row per batch size");
    for row in rows {
        for field in ROW_FIELDS {
            assert!(!row[field].is_null(), "{field} missing in {row}");
        }
        let (p50, p99) = (row["latency_p50_ms"].as_f64().unwrap(), row["latency_p99_ms"].as_f64().unwrap());
        assert!(0.0 < p50 && p50 <= p99, "latency percentiles: {p50} {p99}");
        for rate in ["train", "infer"] {
            let r = &row[rate];
            let (p10, median, p90) =
                (r["p10"].as_f64().unwrap(), r["median"].as_f64().unwrap(), r["p90"].as_f64().unwrap());
            assert!(0.0 < p10 && p10 <= median && median <= p90, "{rate}: {r}");
        }
    }
    // The chart draws one marker per point: 2 rows × (train, infer).
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(svg.contains("samples per second") && svg.contains("batch size"), "axes are labelled");
    assert!(svg.matches("<circle").count() >= 2 && svg.matches("<polygon").count() >= 2, "points drawn");
}

#[test]
fn dispatch_and_submit_counts_follow_from_the_layers() {
    let mut g = gpu();
    for model in [
        BenchModel::custom(&[20, 16, 3]).unwrap(),
        BenchModel::custom(&[12, 9, 7, 5, 4]).unwrap().with_dropout(0.3).unwrap(),
        BenchModel::named("deep").unwrap(),
    ] {
        let row = bench::measure(&mut g, "gpu", &model, 4, 1).unwrap();
        let what = &model.name;
        assert_eq!(row.dispatches_per_step, Some(model.train_dispatches() as f64), "{what}: dispatches per step");
        assert_eq!(row.submits_per_step, Some(1.0), "{what}: one submit per training step");
        assert_eq!(row.readback_bytes_per_step, Some(0.0), "{what}: nothing read back in the step loop");
        assert_eq!(row.infer_dispatches, Some(model.infer_dispatches() as f64), "{what}: inference dispatches");
    }
    // The formula itself, for the MLP: 3 Dense layers → 3 forward, 3 weight gradients (with
    // the bias gradients), 2 input gradients (with the activation derivatives), 2 gathers,
    // 1 loss, 1 update of all 6 parameter tensors: 3 dispatches per Dense layer besides the
    // data, loss and update. The deep model's 21 Dense layers: 21 + 21 + 20 + 3 + 1.
    assert_eq!(BenchModel::named("mlp").unwrap().train_dispatches(), 12);
    assert_eq!(BenchModel::named("deep").unwrap().train_dispatches(), 66);
    // At batch 1 the weight gradients of the matrices of 65,536 entries or more are formed in
    // their own updates: per such layer a column sum and an update instead of a product. The
    // wide net's first two, mlp's and deep's first.
    let at_one = |name| BenchModel::named(name).unwrap().train_dispatches_at(1);
    assert_eq!((at_one("mlp"), at_one("deep"), at_one("wide")), (13, 67, 14));
    for (model, batch) in [(BenchModel::custom(&[300, 256, 4]).unwrap(), 1), (BenchModel::named("mlp").unwrap(), 2)] {
        let row = bench::measure(&mut g, "gpu", &model, batch, 1).unwrap();
        assert_eq!(row.dispatches_per_step, Some(model.train_dispatches_at(batch) as f64), "{}", model.name);
        assert_eq!(model.train_dispatches_at(batch), model.train_dispatches() + 1, "{}", model.name);
    }
}

#[test]
fn a_compare_file_round_trips_and_yields_ratios() {
    let dir = tempdir("compare");
    let ours = dir.join("ours.json");
    let run = wgtrain(&[SMALL, &["-o", ours.to_str().unwrap()]].concat());
    assert!(run.status.success(), "{}", stderr(&run));
    let text = std::fs::read_to_string(&ours).unwrap();
    let report = Report::from_json(&text, "ours.json").unwrap();
    let again = Report::from_json(&serde_json::to_string(&report).unwrap(), "again").unwrap();
    assert_eq!(report, again, "a report survives a write and a read");
    // Against itself every ratio is 1.
    for c in compare(&report, &report) {
        assert_eq!((c.train_ratio, c.infer_ratio), (1.0, 1.0), "{c:?}");
    }
    // Through the command line: a ratio per (model, batch) present on both sides.
    let run = wgtrain(&[SMALL, &["--compare", ours.to_str().unwrap()]].concat());
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(stdout.contains("train ×") && stdout.matches("wgtrain 0.1.0 gpu").count() >= 4, "{stdout}");
}

#[test]
fn bad_compare_files_and_arguments_are_refused_and_nothing_is_written() {
    let dir = tempdir("bad");
    let out = dir.join("never.json");
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let not_json = write("a.json", "speed: fast");
    let other_schema = write("b.json", r#"{"schema": "someone-else/3", "rows": []}"#);
    let no_rows = write("c.json", r#"{"schema": "wgtrain-bench/1", "machine": {}}"#);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--compare", &not_json], "not JSON"),
        (vec!["--compare", &other_schema], "schema \"someone-else/3\", expected \"wgtrain-bench/1\""),
        (vec!["--compare", &no_rows], "does not fit wgtrain-bench/1"),
        (vec!["--compare", "/no/such/file.json"], "cannot read compare file /no/such/file.json"),
        (vec!["--models", "huge"], "unknown model \"huge\"; valid: mlp, wide, deep"),
        (vec!["--layers", "784"], "fewer than two widths"),
        (vec!["--layers", "784,0,10"], "width 0 at position 2"),
        (vec!["--batch", "0"], "every batch size must be at least 1"),
        (vec!["--batch", "100000000"], "is too large for model"),
        (vec!["--repeats", "0"], "--repeats 0"),
        (vec!["--dropout", "1.5"], "1.5 is not in [0, 1)"),
    ];
    for (extra, message) in cases {
        let args = [&["bench", "--models", "mlp", "--batch", "1", "-o", out.to_str().unwrap()][..], &extra].concat();
        let run = wgtrain(&args);
        assert!(!run.status.success(), "{extra:?} was accepted");
        assert!(stderr(&run).contains(message), "{extra:?}: expected {message:?} in:\n{}", stderr(&run));
        assert!(!out.exists(), "{extra:?} wrote the output file");
    }
}

#[test]
fn the_reported_wgpu_version_is_the_one_in_cargo_lock() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();
    let at = lock.find("name = \"wgpu\"\nversion = \"").expect("wgpu in Cargo.lock");
    let version = lock[at..].lines().nth(1).unwrap().trim_start_matches("version = ").trim_matches('"');
    let run = wgtrain(&[SMALL, &["--json"]].concat());
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["machine"]["wgpu"], version);
}

#[test]
fn the_host_description_names_a_cpu_and_its_cores() {
    let m = Machine::host("test");
    assert!(!m.cpu.is_empty() && m.cores >= 1, "{m:?}");
}

#[test]
fn the_profile_accounts_for_every_dispatch_and_then_switches_itself_off() {
    let mut g = gpu();
    let model = BenchModel::custom(&[20, 16, 8, 3]).unwrap();
    let p = bench::profile(&mut g, &model, 4, 2).unwrap();
    let calls = |k: &[bench::KernelShare]| k.iter().map(|k| k.calls).sum::<usize>() as u64;
    assert_eq!(calls(&p.train), model.train_dispatches(), "{p:?}");
    assert_eq!(calls(&p.infer), model.infer_dispatches(), "{p:?}");
    for kernels in [&p.train, &p.infer] {
        let total: f64 = kernels.iter().map(|k| k.share).sum();
        assert!((total - 1.0).abs() < 1e-9 && kernels.iter().all(|k| k.ms >= 0.0), "{kernels:?}");
    }
    assert!(p.method.contains("timestamp") || p.method.contains("own submission"), "{}", p.method);
    // Wall time is taken with profiling off, for a step and a batch alike.
    assert!(p.train_wall_ms > 0.0 && p.infer_wall_ms > 0.0 && p.train_wall_ms.is_finite(), "{p:?}");
    assert!(p.train_wall_over_device > 0.0 && p.infer_wall_over_device.is_finite(), "{p:?}");
    // The update against a copy kernel over the model's 499 parameters: momentum reads θ, g,
    // v and writes θ, v (20 bytes a parameter); the ratio is of the two rates.
    let m = p.memory.as_ref().expect("the GPU profile measures the update against a copy kernel");
    assert_eq!((m.floats, m.update_bytes_per_param), (499, 20.0), "{m:?}");
    assert!(m.update_kernel.starts_with("optim::momentum_update"), "{m:?}");
    assert!(m.copy_gb_per_s > 0.0 && m.update_gb_per_s > 0.0 && m.copy_gb_per_s.is_finite(), "{m:?}");
    assert!((m.of_copy - m.update_gb_per_s / m.copy_gb_per_s).abs() < 1e-9, "{m:?}");
    // At batch 1 the 300×256 matrix's update forms its gradient: 16 bytes for those 76,800
    // parameters, 20 for the other 1,284, in two update kernels.
    let wide = BenchModel::custom(&[300, 256, 4]).unwrap();
    let m = bench::profile(&mut g, &wide, 1, 2).unwrap().memory.expect("the update against a copy kernel");
    assert_eq!(m.floats, 78_084, "{m:?}");
    assert!((m.update_bytes_per_param - (16.0 * 76_800.0 + 20.0 * 1_284.0) / 78_084.0).abs() < 1e-9, "{m:?}");
    assert_eq!(m.update_kernel.matches("optim::momentum_update").count(), 2, "{m:?}");
    // Profiling ends with the profile: steps are one submission again.
    let row = bench::measure(&mut g, "gpu", &model, 4, 1).unwrap();
    assert_eq!(row.submits_per_step, Some(1.0));
}

#[test]
fn the_pytorch_script_writes_a_report_bench_can_compare_against() {
    // PyTorch is not installed here: a stand-in module (tests/fixtures/fake_torch) answers
    // the script's few torch calls, so this checks the script's plumbing and schema, not speed.
    let dir = tempdir("torch");
    let out = dir.join("torch.json");
    let root = env!("CARGO_MANIFEST_DIR");
    let run = Command::new("python3")
        .args([&format!("{root}/scripts/bench-pytorch.py"), "--models", "mlp", "--batch", "1,8", "--repeats", "2"])
        .args(["-o", out.to_str().unwrap()])
        .env("PYTHONPATH", format!("{root}/tests/fixtures/fake_torch"))
        .output()
        .expect("python3 runs");
    assert!(run.status.success(), "{}", stderr(&run));
    let report = Report::from_json(&std::fs::read_to_string(&out).unwrap(), "torch.json").unwrap();
    assert_eq!(report.machine.engine, "pytorch 0.0-stub");
    let keys: Vec<(String, usize)> = report.rows.iter().map(|r| (r.path.clone(), r.batch)).collect();
    assert_eq!(keys, [("torch-cpu".to_string(), 1), ("torch-cpu".to_string(), 8)]);
    let run =
        wgtrain(&["bench", "--models", "mlp", "--batch", "1,8", "--repeats", "1", "--compare", out.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(stdout.matches("pytorch 0.0-stub torch-cpu").count(), 2, "{stdout}");
}
