//! The command line's manners: every `train` flag explains itself, a saved config re-runs the
//! same run and takes another optimizer's own defaults when switched, the history's `lr` is the
//! rate the epoch used, `predict --json` prints JSON, and settings that cannot work together
//! are refused.

mod common;

use common::cli::{tempdir, text, wgtrain};

#[test]
fn every_train_flag_has_a_help_line() {
    let out = wgtrain(&["train", "--help"]);
    let (help, _) = text(&out);
    let lines: Vec<&str> = help.lines().collect();
    let is_flag = |l: &str| l.trim_start().starts_with("--") || l.trim_start().starts_with("-c, --") || l.trim_start().starts_with("-o, --");
    let mut bare = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if is_flag(l) && lines.get(i + 1).is_none_or(|n| n.trim().is_empty() || is_flag(n)) {
            bare.push(l.trim().to_string());
        }
    }
    assert!(bare.is_empty(), "flags without a help line: {bare:?}");
    for flag in ["--eps", "--decay-rate", "--boundaries", "--values", "--factor", "--min-lr", "--min-delta", "--plateau-patience"] {
        assert!(help.contains(flag), "{flag} has no flag");
    }
}

#[test]
fn a_saved_config_reruns_and_switching_optimizer_takes_its_defaults() {
    let dir = tempdir("polish-config");
    let first = dir.join("first");
    let ran = wgtrain(&["--device", "cpu", "train", "--dataset", "spirals", "--epochs", "2", "--output", first.to_str().unwrap()]);
    assert!(ran.status.success(), "{}", text(&ran).1);
    let config = first.join("config.toml");
    // The same config again gives the same weights.
    let again = dir.join("again");
    let ran = wgtrain(&["--device", "cpu", "train", "--config", config.to_str().unwrap(), "--output", again.to_str().unwrap()]);
    assert!(ran.status.success(), "{}", text(&ran).1);
    let tensors = |p: &std::path::Path| {
        let bytes = std::fs::read(p.join("model.safetensors")).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut v: Vec<(String, Vec<u8>)> = st.iter().filter(|(n, _)| n.starts_with("model.")).map(|(n, t)| (n.to_string(), t.data().to_vec())).collect();
        v.sort();
        v
    };
    assert!(tensors(&first) == tensors(&again), "re-running the saved config changed the weights");
    // Switched to Adam: Adam's β2 and ε, not zeros left over from momentum.
    let adam = dir.join("adam");
    let ran = wgtrain(&["--device", "cpu", "train", "--config", config.to_str().unwrap(), "--optimizer", "adam", "--output", adam.to_str().unwrap()]);
    assert!(ran.status.success(), "{}", text(&ran).1);
    let saved: toml::Table = std::fs::read_to_string(adam.join("config.toml")).unwrap().parse().unwrap();
    let o = saved["optimizer"].as_table().unwrap();
    assert_eq!(o["beta2"].as_float(), Some(0.999));
    assert_eq!(o["eps"].as_float(), Some(1e-8));
    assert_eq!(o["lr"].as_float().map(|v| v as f32), Some(0.001));
}

#[test]
fn the_history_lr_is_the_rate_the_epoch_used_and_predict_json_parses() {
    let dir = tempdir("polish-lr");
    let out = dir.join("run");
    // Piecewise: 0.1 for epoch 1, 0.01 for epoch 2 (boundaries are epochs).
    let args = ["--device", "cpu", "train", "--dataset", "spirals", "--epochs", "2", "--schedule", "piecewise", "--boundaries", "1", "--values", "0.1,0.01"];
    let ran = wgtrain(&[&args[..], &["--output", out.to_str().unwrap()]].concat());
    assert!(ran.status.success(), "{}", text(&ran).1);
    let history = std::fs::read_to_string(out.join("history.csv")).unwrap();
    let lrs: Vec<f32> = history.lines().skip(1).map(|l| l.split(',').nth(5).unwrap().parse().unwrap()).collect();
    assert_eq!(lrs, vec![0.1, 0.01], "{history}");
    let rows = dir.join("rows.csv");
    std::fs::write(&rows, "0.1,0.2\n-0.3,0.4\n").unwrap();
    let p = wgtrain(&["--device", "cpu", "--json", "predict", out.join("model.safetensors").to_str().unwrap(), rows.to_str().unwrap()]);
    assert!(p.status.success(), "{}", text(&p).1);
    let v: serde_json::Value = serde_json::from_slice(&p.stdout).expect("predict --json prints JSON");
    assert_eq!(v["predictions"].as_array().unwrap().len(), 2);
    let mc = wgtrain(&["--device", "cpu", "predict", out.join("model.safetensors").to_str().unwrap(), rows.to_str().unwrap(), "--mc-dropout", "3"]);
    assert!(text(&mc).1.contains("no dropout layers, so every Monte Carlo pass is the same"), "{}", text(&mc).1);
    let plateau = wgtrain(&["--device", "cpu", "train", "--dataset", "spirals", "--schedule", "plateau", "--validation-split", "0", "--output", dir.join("p").to_str().unwrap()]);
    assert!(text(&plateau).1.contains("the plateau schedule watches the validation loss"), "{}", text(&plateau).1);
}

#[test]
fn a_one_epoch_run_draws_its_points_and_runs_overlay_in_one_figure() {
    let dir = tempdir("polish-plot");
    let (a, b) = (dir.join("a"), dir.join("b"));
    for (out, seed) in [(&a, "1"), (&b, "2")] {
        let ran = wgtrain(&["--device", "cpu", "train", "--dataset", "spirals", "--epochs", "1", "--seed", seed, "--output", out.to_str().unwrap()]);
        assert!(ran.status.success(), "{}", text(&ran).1);
    }
    let svg = std::fs::read_to_string(a.join("loss.svg")).unwrap();
    // One epoch: a circle for the train point, a triangle for validation, and labelled axes.
    assert_eq!(svg.matches("<circle").count(), 1, "the train point is not drawn");
    assert!(svg.matches("<polygon").count() >= 3, "the validation point is not drawn (two legend markers, one point)");
    assert!(svg.contains("cross-entropy (nats per sample)") && svg.contains("epoch"));
    assert!(a.join("lr.svg").is_file());
    let figure = dir.join("both.svg");
    let ran = wgtrain(&["plot", a.to_str().unwrap(), b.to_str().unwrap(), "--metric", "loss", "-o", figure.to_str().unwrap()]);
    assert!(ran.status.success(), "{}", text(&ran).1);
    let svg = std::fs::read_to_string(&figure).unwrap();
    assert!(svg.contains(">\na\n</text>") && svg.contains(">\nb\n</text>"), "each run is named in the legend");
    let missing = wgtrain(&["plot", dir.join("nope").to_str().unwrap(), "-o", figure.to_str().unwrap()]);
    assert!(text(&missing).1.contains("cannot read"), "{}", text(&missing).1);
}

#[test]
fn eval_reports_precision_recall_and_f1_as_scikit_learn_does() {
    let dir = tempdir("polish-eval");
    let out = dir.join("run");
    let d = concat!(env!("CARGO_MANIFEST_DIR"), "/data");
    let ran = wgtrain(&["--device", "cpu", "train", "--dataset", "digits", "--data-dir", d, "--layers", "16", "--epochs", "2", "--output", out.to_str().unwrap()]);
    assert!(ran.status.success(), "{}", text(&ran).1);
    let e = wgtrain(&["--device", "cpu", "--json", "eval", out.join("model.safetensors").to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    let confusion: Vec<Vec<f64>> = serde_json::from_value(v["confusion_matrix"].clone()).unwrap();
    let (mut macro_f1, mut weighted_f1, mut total) = (0.0, 0.0, 0.0);
    for (c, row) in v["classes"].as_array().unwrap().iter().enumerate() {
        let tp = confusion[c][c];
        let support: f64 = confusion[c].iter().sum();
        let predicted: f64 = confusion.iter().map(|r| r[c]).sum();
        let (p, r) = (if predicted > 0.0 { tp / predicted } else { 0.0 }, if support > 0.0 { tp / support } else { 0.0 });
        let f1 = if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 };
        assert!((row["precision"].as_f64().unwrap() - p).abs() < 1e-12, "class {c}");
        assert!((row["recall"].as_f64().unwrap() - r).abs() < 1e-12, "class {c}");
        assert!((row["f1"].as_f64().unwrap() - f1).abs() < 1e-12, "class {c}");
        assert_eq!(row["class"], c.to_string());
        macro_f1 += f1 / 10.0;
        weighted_f1 += f1 * support;
        total += support;
    }
    assert!((v["macro_avg"]["f1"].as_f64().unwrap() - macro_f1).abs() < 1e-12);
    assert!((v["weighted_avg"]["f1"].as_f64().unwrap() - weighted_f1 / total).abs() < 1e-12);
    // The weighted recall is the accuracy.
    assert!((v["weighted_avg"]["recall"].as_f64().unwrap() - v["accuracy"].as_f64().unwrap()).abs() < 1e-6);
    assert!(v["samples_per_second"].as_f64().unwrap() > 0.0);
}

#[test]
fn train_and_info_print_the_same_model_summary() {
    let dir = tempdir("polish-summary");
    let out = dir.join("run");
    let ran = wgtrain(&["--device", "cpu", "train", "--dataset", "spirals", "--layers", "16", "--batch-norm", "--dropout", "0.1", "--epochs", "1", "--output", out.to_str().unwrap()]);
    let (stdout, stderr) = text(&ran);
    assert!(ran.status.success(), "{stderr}");
    // 2→16 Dense (48), batch norm (32), dropout (0), 16→2 Dense (34).
    for row in ["1      Dense (elu)                    16         48", "2      BatchNorm                      16         32", "4      Dense (identity)                2         34", "total: 114 parameters"] {
        assert!(stdout.contains(row), "train's summary lacks {row:?}:\n{stdout}");
    }
    let info = wgtrain(&["--json", "info", out.join("model.safetensors").to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(v["params"], 114);
    let cpu = wgtrain(&["--device", "cpu", "info"]);
    assert!(text(&cpu).0.contains("the twin uses one thread"), "{}", text(&cpu).0);
}

/// A system package's copy (here a directory standing in for /usr/share/datasets, with links
/// to the repository's files) is used when the data directory has none, and nothing is fetched.
#[test]
fn fashion_mnist_is_found_where_the_system_package_puts_it() {
    let dir = tempdir("polish-system-data");
    let (out, empty, system) = (dir.join("run"), dir.join("empty"), dir.join("system"));
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::create_dir_all(system.join("fashion-mnist")).unwrap();
    for f in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
        let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/fashion-mnist").join(f);
        std::os::unix::fs::symlink(from, system.join("fashion-mnist").join(f)).unwrap();
    }
    let args = ["train", "--dataset", "fashion-mnist", "--data-dir", empty.to_str().unwrap(), "--epochs", "1", "--layers", "8", "--batch-size", "512", "--validation-split", "0", "--output", out.to_str().unwrap()];
    let ran = common::cli::wgtrain_command(&args)
        .env("WGTRAIN_SYSTEM_DATA", &system)
        .env("WGTRAIN_MIRROR", "http://127.0.0.1:1/")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&ran);
    assert!(ran.status.success(), "{stderr}");
    assert!(stdout.contains("60000 train") && !stderr.contains("fetching"), "{stdout}\n{stderr}");
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0, "nothing was fetched into the data directory");
}

#[test]
fn a_headless_machine_sees_no_error_lines_from_the_vulkan_layers() {
    // A fresh shell on a server: no display, no runtime directory, and none of the variables
    // the other tests set to quiet Mesa.
    let dir = tempdir("headless");
    let out = dir.join("run");
    let mut c = common::cli::wgtrain_command(&["train", "--dataset", "digits", "--epochs", "1", "--layers", "16"]);
    c.args(["--no-autotune", "--device", "gpu", "--output", out.to_str().unwrap()]);
    for var in ["NODEVICE_SELECT", "DISPLAY", "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR", "MESA_VK_DEVICE_SELECT"] {
        c.env_remove(var);
    }
    let run = c.output().unwrap();
    let (_, stderr) = text(&run);
    assert!(run.status.success(), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert!(errors.is_empty(), "lines a new user reads as failures: {errors:?}");
}

#[cfg(not(feature = "mpi"))]
#[test]
fn a_build_without_mpi_started_by_a_launcher_says_how_to_build_with_it() {
    // What Open MPI's mpirun sets for rank 1 of 2.
    let mut c = common::cli::wgtrain_command(&["train", "--dataset", "digits", "--epochs", "1"]);
    c.env("OMPI_COMM_WORLD_SIZE", "2").env("OMPI_COMM_WORLD_RANK", "1");
    let run = c.output().unwrap();
    let (_, stderr) = text(&run);
    assert!(!run.status.success());
    assert!(stderr.contains("rank 1 of 2") && stderr.contains("cargo build --release --features mpi"), "{stderr}");
}
