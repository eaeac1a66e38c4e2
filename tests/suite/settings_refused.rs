//! Settings and environments no run can use are refused before any work, each naming the
//! value and what to give instead (not blamed on something else, not silently changed).

use crate::common;

use common::cli::{tempdir, text, wgtrain, wgtrain_command};

fn refused(out: std::process::Output, message: &str) {
    let stderr = text(&out).1;
    assert!(!out.status.success() && stderr.contains(message), "wanted {message:?}: {stderr}");
}

#[test]
fn optimizer_and_early_stopping_values_out_of_range() {
    refused(wgtrain(&["train", "--optimizer", "adam", "--eps", "0"]), "optimizer eps: 0 must be > 0");
    let dir = tempdir("refused-config");
    let config = dir.join("run.toml");
    std::fs::write(&config, "[early_stopping]\npatience = 3\nmin_delta = nan\n").unwrap();
    refused(
        wgtrain(&["train", "--config", config.to_str().unwrap()]),
        "early_stopping.min_delta NaN must be a finite number",
    );
}

#[test]
fn a_schedule_that_reaches_a_zero_rate_before_the_end_is_refused_with_the_step() {
    let dir = tempdir("refused-schedule");
    let out = dir.join("run");
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/data");
    let args = [
        "train",
        "--dataset",
        "spirals",
        "--batch-size",
        "720",
        "--epochs",
        "600",
        "--device",
        "cpu",
        "--data-dir",
        data,
        "-o",
        out.to_str().unwrap(),
    ];
    refused(wgtrain(&args), "takes the learning rate 0.05 to 0 at step 439 of the run's 600");
    assert!(!out.exists() && !dir.join("run.resume").exists());
}

#[test]
fn bad_environment_values_are_errors_naming_the_variable() {
    let mut c = wgtrain_command(&["train", "--dataset", "digits", "--epochs", "1", "-o", "/nonexistent/never"]);
    c.env("WGTRAIN_MATMUL", "bogus");
    refused(c.output().unwrap(), "WGTRAIN_MATMUL=\"bogus\" is not understood; expected register, subgroup, tiled, tiled-8x8 or tiled-32");
    let mut c = wgtrain_command(&["info"]);
    c.env("WGTRAIN_AUTOTUNE", "maybe");
    refused(c.output().unwrap(), "WGTRAIN_AUTOTUNE=\"maybe\" is not understood");
}

#[test]
fn a_compare_file_with_a_rate_of_zero_is_refused() {
    let dir = tempdir("refused-compare");
    let file = dir.join("bench.json");
    let ran = wgtrain(&[
        "bench",
        "--device",
        "cpu",
        "--layers",
        "16,8,2",
        "--batch",
        "1",
        "--repeats",
        "1",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(ran.status.success(), "{}", text(&ran).1);
    let mut report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    report["rows"][0]["train"]["median"] = serde_json::json!(0.0);
    std::fs::write(&file, report.to_string()).unwrap();
    let args = [
        "bench",
        "--device",
        "cpu",
        "--layers",
        "16,8,2",
        "--batch",
        "1",
        "--repeats",
        "1",
        "--compare",
        file.to_str().unwrap(),
    ];
    refused(wgtrain(&args), "train rate 0 is not a finite number above 0");
}

#[test]
fn csv_labels_that_are_no_class_are_named_as_written() {
    let dir = tempdir("refused-csv");
    let only_labels = dir.join("labels.csv");
    std::fs::write(&only_labels, "1\n0\n").unwrap();
    let huge = dir.join("huge.csv");
    std::fs::write(&huge, "0.5,1e20\n0.25,0\n").unwrap();
    for (file, message) in [
        (&only_labels, "line 1: one field, a label with no feature values"),
        (&huge, "line 1: label 100000000000000000000 is above the largest class number wgtrain takes (65535)"),
    ] {
        let dataset = format!("csv:{}", file.display());
        refused(wgtrain(&["train", "--dataset", &dataset, "-o", dir.join("out").to_str().unwrap()]), message);
    }
}

#[test]
fn a_checked_checkpoint_whose_weights_overflow_is_not_reported_as_an_evaluation() {
    use wgtrain::train::checkpoint;
    use wgtrain::Backend;
    let dir = tempdir("refused-nan-eval");
    let run = dir.join("run");
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/data");
    let trained = wgtrain(&[
        "train",
        "--dataset",
        "digits",
        "--layers",
        "16",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--data-dir",
        data,
        "-o",
        run.to_str().unwrap(),
    ]);
    assert!(trained.status.success(), "{}", text(&trained).1);
    // The weights scaled past f32's range in the logits, written as wgtrain writes (checksums
    // and all): the file is valid, the model is not.
    let path = run.join("model.safetensors");
    let loaded = checkpoint::load(&path).unwrap();
    let mut b = wgtrain::CpuBackend::new();
    let model = loaded.build_model(&mut b).unwrap();
    for p in model.params().iter().filter(|p| p.name.ends_with(".w")) {
        let big: Vec<f32> = b.read(p.value).unwrap().iter().map(|w| w.signum() * 1e30).collect();
        b.write(p.value, &big).unwrap();
    }
    let broken = dir.join("broken.safetensors");
    checkpoint::save_with(&broken, &mut b, &model, None, None, loaded.meta.extra.clone()).unwrap();
    let eval = wgtrain(&["eval", broken.to_str().unwrap(), "--device", "cpu", "--data-dir", data]);
    let stderr = text(&eval).1;
    assert!(
        !eval.status.success() && stderr.contains("the model gives a") && stderr.contains("loss on digits"),
        "{stderr}"
    );
}

#[test]
fn a_data_dir_that_is_a_file_and_a_mirror_that_is_no_url_are_named() {
    let dir = tempdir("refused-data-dir");
    let file = dir.join("passwd");
    std::fs::write(&file, "root:x:0:0\n").unwrap();
    let out = dir.join("out");
    let args =
        ["train", "--dataset", "fashion-mnist", "--data-dir", file.to_str().unwrap(), "-o", out.to_str().unwrap()];
    refused(wgtrain(&args), "is not a directory; give the directory datasets are kept in");
    let empty = dir.join("empty");
    let mut c = wgtrain_command(&["data", "fetch", "fashion-mnist", "--data-dir", empty.to_str().unwrap()]);
    c.env("WGTRAIN_MIRROR", "file:///srv/datasets").env("WGTRAIN_SYSTEM_DATA", dir.join("none"));
    refused(c.output().unwrap(), "only http:// and https:// mirrors are fetched from");
}

/// `data fetch NAME` with `system` as the system dataset directory and an empty data directory.
fn fetch_from_system(dir: &std::path::Path, name: &str, system: &std::path::Path) -> std::process::Output {
    let empty = dir.join("empty");
    let mut c = wgtrain_command(&["data", "fetch", name, "--data-dir", empty.to_str().unwrap()]);
    c.env("WGTRAIN_SYSTEM_DATA", system).env("WGTRAIN_MIRROR", "http://127.0.0.1:1/");
    c.output().unwrap()
}

#[test]
fn data_fetch_checks_what_a_system_directory_holds_rather_than_trusting_names() {
    let dir = tempdir("refused-system-data");
    let files = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"];
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/fashion-mnist");
    // The real files (links to the repository's copies): found there, verified, exit 0.
    let good = dir.join("good");
    std::fs::create_dir_all(good.join("fashion-mnist")).unwrap();
    for f in files {
        std::os::unix::fs::symlink(repo.join(f), good.join("fashion-mnist").join(f)).unwrap();
    }
    let ok = fetch_from_system(&dir, "fashion-mnist", &good);
    assert!(ok.status.success() && text(&ok).0.contains(good.to_str().unwrap()), "{}", text(&ok).1);
    // The same names holding garbage: refused, the file named.
    let bad = dir.join("bad");
    std::fs::create_dir_all(bad.join("fashion-mnist")).unwrap();
    for f in files {
        std::fs::write(bad.join("fashion-mnist").join(f), b"not a dataset").unwrap();
    }
    refused(fetch_from_system(&dir, "fashion-mnist", &bad), "train-images-idx3-ubyte.gz: its SHA-256 matches no pin");
    // Gunzipped MNIST copies (no content pin) must read as IDX.
    std::fs::create_dir_all(bad.join("mnist")).unwrap();
    for f in files {
        std::fs::write(bad.join("mnist").join(f.trim_end_matches(".gz")), b"garbage").unwrap();
    }
    refused(fetch_from_system(&dir, "mnist", &bad), "train-images-idx3-ubyte: it does not read as IDX");
    // CIFAR-10's unpacked batches: every one of its size.
    let batches = bad.join("cifar10/cifar-10-batches-bin");
    std::fs::create_dir_all(&batches).unwrap();
    for f in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"] {
        std::fs::write(batches.join(format!("{f}.bin")), b"x").unwrap();
    }
    refused(fetch_from_system(&dir, "cifar10", &bad), "data_batch_1.bin: 1 bytes where the archive holds 30730000");
}

#[test]
fn resuming_a_checkpoint_whose_weights_overflow_names_it_and_writes_nothing() {
    use wgtrain::train::checkpoint;
    use wgtrain::Backend;
    let dir = tempdir("refused-nan-resume");
    let (run, out) = (dir.join("run"), dir.join("out"));
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/data");
    let common = ["--dataset", "digits", "--layers", "16", "--device", "cpu", "--data-dir", data];
    let trained = wgtrain(&[&["train", "--epochs", "1", "-o", run.to_str().unwrap()][..], &common].concat());
    assert!(trained.status.success(), "{}", text(&trained).1);
    // The run's checkpoint with its weights scaled past f32's range in the logits, written
    // as wgtrain writes (checksums, optimizer and loop state): valid file, broken model.
    let path = run.join("model.safetensors");
    let loaded = checkpoint::load(&path).unwrap();
    let mut b = wgtrain::CpuBackend::new();
    let mut model = loaded.build_model(&mut b).unwrap();
    let opt = loaded.restore_optimizer(&mut b, &mut model).unwrap();
    let trainer = loaded.restore_trainer(&mut b, &model).unwrap();
    for p in model.params().iter().filter(|p| p.name.ends_with(".w")) {
        let big: Vec<f32> = b.read(p.value).unwrap().iter().map(|w| w.signum() * 1e30).collect();
        b.write(p.value, &big).unwrap();
    }
    let broken = dir.join("broken.safetensors");
    checkpoint::save_with(&broken, &mut b, &model, Some(&opt), Some(&trainer), loaded.meta.extra.clone()).unwrap();
    let resumed = wgtrain(&["train", "--resume", broken.to_str().unwrap(), "--epochs", "2", "--device", "cpu", "--data-dir", data, "-o", out.to_str().unwrap()]);
    refused(resumed, "gives a NaN loss on the first 1000 training samples before any step");
    assert!(!out.exists(), "a refused resume wrote {}", out.display());
}
