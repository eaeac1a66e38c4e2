//! The `wgtrain` binary, driven as a user drives it: train → eval → predict on digits, and
//! every bad input refused with a message naming the problem, a non-zero exit, and an
//! untouched output directory.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::cli::{tempdir, text, wgtrain, wgtrain_command};

fn data_dir() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/data").to_string()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A digits model trained once for the whole file: (run directory, its train summary).
fn trained() -> &'static (PathBuf, serde_json::Value) {
    static RUN: OnceLock<(PathBuf, serde_json::Value)> = OnceLock::new();
    RUN.get_or_init(|| {
        let out = tempdir("trained").join("digits");
        let d = data_dir();
        let args =
            ["train", "--dataset", "digits", "--data-dir", &d, "--layers", "64", "--epochs", "8", "--batch-size", "32"];
        let run = wgtrain(&[&args[..], &["--output", out.to_str().unwrap(), "--json"]].concat());
        let (stdout, stderr) = text(&run);
        assert!(
            run.status.success(),
            "train failed:\n{stderr}\n(the CLI tests need the datasets: scripts/fetch-data.sh)"
        );
        (out, serde_json::from_str(&stdout).expect("train --json prints JSON"))
    })
}

#[test]
fn train_then_eval_then_predict_on_digits() {
    let (run, summary) = trained();
    for f in
        ["model.safetensors", "history.csv", "history.json", "loss.svg", "accuracy.svg", "lr.svg", "config.toml", "metrics.json"]
    {
        assert!(run.join(f).is_file(), "train did not write {f}");
    }
    let train_accuracy = summary["test_accuracy"].as_f64().unwrap();
    assert!(train_accuracy > 0.9, "digits test accuracy {train_accuracy}");
    let history = std::fs::read_to_string(run.join("history.csv")).unwrap();
    assert_eq!(history.lines().count(), 9, "a header and 8 epochs:\n{history}");
    assert!(std::fs::read_to_string(run.join("loss.svg")).unwrap().contains("<svg"));

    let ckpt = run.join("model.safetensors");
    let eval = wgtrain(&["eval", ckpt.to_str().unwrap(), "--json"]);
    let (stdout, stderr) = text(&eval);
    assert!(eval.status.success(), "{stderr}");
    let e: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(e["accuracy"].as_f64().unwrap(), train_accuracy, "eval recomputes the test accuracy train reported");
    let confusion = e["confusion_matrix"].as_array().unwrap();
    assert_eq!(confusion.len(), 10);
    let total: u64 = confusion.iter().flat_map(|r| r.as_array().unwrap()).map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(total, e["samples"].as_u64().unwrap());

    let rows = tempdir("rows").join("rows.csv");
    let digits = std::process::Command::new("sh")
        .arg("-c")
        .arg(concat!("zcat ", env!("CARGO_MANIFEST_DIR"), "/assets/digits.csv.gz | head -20"))
        .output()
        .unwrap();
    std::fs::write(&rows, &digits.stdout).unwrap();
    let preds = rows.with_file_name("preds.csv");
    let p = wgtrain(&[
        "predict",
        ckpt.to_str().unwrap(),
        rows.to_str().unwrap(),
        "--label-column",
        "-1",
        "-o",
        preds.to_str().unwrap(),
    ]);
    assert!(p.status.success(), "{}", text(&p).1);
    let csv = std::fs::read_to_string(&preds).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "row,class,p0,p1,p2,p3,p4,p5,p6,p7,p8,p9");
    assert_eq!(lines.len(), 21);
    let labels: Vec<String> =
        String::from_utf8_lossy(&digits.stdout).lines().map(|l| l.rsplit(',').next().unwrap().to_string()).collect();
    let right =
        lines[1..].iter().zip(&labels).filter(|(l, want)| l.split(',').nth(1).unwrap() == want.as_str()).count();
    assert!(right >= 18, "{right} of 20 training rows predicted right");

    let mc = wgtrain(&[
        "predict",
        ckpt.to_str().unwrap(),
        rows.to_str().unwrap(),
        "--label-column",
        "-1",
        "--mc-dropout",
        "4",
    ]);
    let (stdout, _) = text(&mc);
    assert!(mc.status.success());
    assert!(stdout.lines().next().unwrap().ends_with(",std8,std9"), "MC dropout adds one std column per class");
}

/// Run `train` with `extra` args against an output directory holding a sentinel file; it must
/// fail with `message` and leave the directory exactly as it was.
fn refused(extra: &[&str], message: &str) {
    let out = tempdir(&format!("refused-{}", message.len())).join("run");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("model.safetensors"), b"an earlier run").unwrap();
    let d = data_dir();
    let mut args = vec!["train", "--epochs", "1", "--output", out.to_str().unwrap()];
    for (flag, default) in [("--data-dir", d.as_str()), ("--dataset", "digits")] {
        if !extra.contains(&flag) {
            args.extend([flag, default]);
        }
    }
    args.extend(extra);
    let run = wgtrain(&args);
    let (_, stderr) = text(&run);
    assert!(!run.status.success(), "{extra:?} was accepted");
    assert!(stderr.contains(message), "{extra:?}: expected {message:?} in:\n{stderr}");
    let left: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 1, "{extra:?} changed the output directory: {left:?}");
    assert_eq!(std::fs::read(out.join("model.safetensors")).unwrap(), b"an earlier run");
    let staging: Vec<_> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("staging"))
        .collect();
    assert!(staging.is_empty(), "{extra:?} left a staging directory");
}

#[test]
fn bad_training_inputs_are_refused_by_name_and_touch_nothing() {
    refused(&["--dataset", "idx:/no/such/dir"], "IDX dataset directory not found at /no/such/dir. Give a directory holding");
    // Flag values are checked against the library's names by the parser, which lists them.
    refused(&["--activation", "swishy"], "invalid value 'swishy' for '--activation <ACTIVATION>'");
    refused(&["--activation", "swishy"], "[possible values: identity, relu, leaky_relu, prelu");
    refused(&["--optimizer", "adamax"], "[possible values: sgd, momentum, nesterov");
    refused(&["--init", "kaiming"], "[possible values: he_normal");
    refused(&["--dropout", "1"], "dropout rate 1 is not in [0, 1)");
    refused(&["--dropout=-0.1"], "dropout rate -0.1 is not in [0, 1)");
    refused(&["--momentum", "1"], "optimizer momentum: 1 must be in [0, 1)");
    refused(&["--lr", "0"], "optimizer lr: 0 must be > 0");
    refused(&["--lr=-0.5"], "optimizer lr: -0.5 must be > 0");
    refused(&["--layers", "64,0"], "layer 2 of 3: a Dense layer of 0 units");
    refused(&["--batch-size", "0"], "batch size: 0; it must be at least 1");
    refused(&["--batch-size", "100000"], "batch size: 100000 is larger than the 1294 training samples");
    refused(&["--dataset", "cifar"], "unknown dataset \"cifar\"; valid: fashion-mnist, mnist, cifar10, digits");
    refused(&["--early-stopping", "3", "--validation-split", "0"], "early stopping watches the validation loss");
    refused(&["--bias-init", "nan"], "bias_init NaN is not a finite number");
    // A learning rate this large sends the loss to infinity within the first epoch.
    refused(&["--lr", "1e6", "--activation", "relu"], "training diverged: the loss became");
}

#[test]
fn a_config_with_an_unknown_key_is_refused() {
    let dir = tempdir("config");
    let cfg = dir.join("run.toml");
    std::fs::write(&cfg, "epochs = 2\nlearning_rate = 0.1\n").unwrap();
    refused(&["--config", cfg.to_str().unwrap()], "unknown field `learning_rate`");
    std::fs::write(&cfg, "[model]\nlayers = [32]\nactivaton = \"relu\"\n").unwrap();
    refused(&["--config", cfg.to_str().unwrap()], "unknown field `activaton`");
    // The optimizer's settings are read by name from the library's one table of them.
    std::fs::write(&cfg, "[optimizer]\nname = \"adam\"\nmomentun = 0.8\n").unwrap();
    refused(&["--config", cfg.to_str().unwrap()], "no setting \"momentun\"; the settings are lr, momentum, beta2");
}

#[test]
fn damaged_or_mismatched_checkpoints_and_inputs_are_refused() {
    let (run, _) = trained();
    let ckpt = run.join("model.safetensors");
    let dir = tempdir("damaged");
    let bytes = std::fs::read(&ckpt).unwrap();

    let truncated = dir.join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() - 1000]).unwrap();
    let (_, err) = text(&wgtrain(&["eval", truncated.to_str().unwrap()]));
    assert!(err.contains("corrupt or truncated"), "{err}");

    let (_, err) = text(&wgtrain(&["eval", dir.join("absent.safetensors").to_str().unwrap()]));
    assert!(err.contains("not found"), "{err}");

    // A checkpoint whose tensors do not fit the architecture it declares.
    let other = dir.join("other.safetensors");
    let parsed = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap();
    let declared = meta["wgtrain"].replace("\"units\":64", "\"units\":65");
    // With its checksum made to match, so the shapes are what is checked.
    let mut sums: serde_json::Value = serde_json::from_str(&meta["wgtrain.sha256"]).unwrap();
    sums["meta"] = sha256_hex(declared.as_bytes()).into();
    meta.insert("wgtrain.sha256".into(), sums.to_string());
    meta.insert("wgtrain".into(), declared);
    let views: Vec<(String, safetensors::tensor::TensorView)> =
        parsed.iter().map(|(n, v)| (n.to_string(), v)).collect();
    std::fs::write(&other, safetensors::serialize(views, Some(meta)).unwrap()).unwrap();
    let (_, err) = text(&wgtrain(&["eval", other.to_str().unwrap()]));
    assert!(err.contains("tensor model.layers.0.w is [64, 64] but the metadata says [64, 65]"), "{err}");

    // Evaluating a 64-feature model on 784-feature images.
    let out = wgtrain(&["eval", ckpt.to_str().unwrap(), "--dataset", "fashion-mnist", "--data-dir", &data_dir()]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("784 features per sample but the model takes 64"), "{}", text(&out).1);

    let rows = dir.join("short.csv");
    std::fs::write(&rows, format!("{}\n", vec!["1"; 63].join(","))).unwrap();
    let out = wgtrain(&["predict", ckpt.to_str().unwrap(), rows.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("has 63 features per row but the model takes 64"), "{}", text(&out).1);
}

#[test]
fn every_command_explains_itself_with_examples() {
    for cmd in ["train", "eval", "predict", "info"] {
        let out = wgtrain(&[cmd, "--help"]);
        let (stdout, _) = text(&out);
        assert!(out.status.success(), "{cmd} --help");
        assert!(stdout.contains("--json") && stdout.contains("--device"), "{cmd} --help lacks the global flags");
        if cmd != "info" {
            assert!(stdout.contains("Examples:"), "{cmd} --help has no examples");
        }
    }
    let out = wgtrain(&["info", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&text(&out).0).expect("info --json prints JSON");
    assert!(v["limits"]["max_storage_buffer_binding_size"].as_u64().unwrap() >= 128 << 20);
    assert!(Path::new(env!("CARGO_BIN_EXE_wgtrain")).exists());
}

#[test]
fn train_with_no_arguments_reaches_87_percent_on_fashion_mnist() {
    // Exactly `wgtrain train`, run where `data/` holds the fetched datasets.
    let dir = tempdir("default");
    std::os::unix::fs::symlink(data_dir(), dir.join("data")).unwrap();
    let run = wgtrain_command(&["train"]).current_dir(&dir).output().unwrap();
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "{stderr}");
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("runs/latest/metrics.json")).unwrap()).unwrap();
    let accuracy = metrics["test_accuracy"].as_f64().unwrap();
    eprintln!(
        "default run: test accuracy {:.2}%, {:.1}s wall, {:.0} samples/s\n{}",
        100.0 * accuracy,
        metrics["wall_seconds"].as_f64().unwrap(),
        metrics["samples_per_second"].as_f64().unwrap(),
        stdout.lines().filter(|l| l.starts_with("epoch")).collect::<Vec<_>>().join("\n")
    );
    // The reported rate is total samples over total training time.
    let t = &metrics["throughput"];
    let rate = t["samples"].as_f64().unwrap() / t["seconds"].as_f64().unwrap();
    assert!((metrics["samples_per_second"].as_f64().unwrap() - rate).abs() <= 1e-9 * rate, "{t}");
    assert_eq!(t["samples"].as_u64().unwrap(), 10 * 54_000, "ten epochs of the 54,000 training rows");
    assert!(accuracy >= 0.87, "default run test accuracy {accuracy}");
}

#[test]
fn one_cycle_runs_for_a_single_epoch() {
    // The schedule's length is known only once the data is: a one-epoch run must not be
    // judged against a placeholder epoch length.
    let out = tempdir("onecycle").join("run");
    let d = data_dir();
    let run = wgtrain(&[
        "train",
        "--dataset",
        "digits",
        "--data-dir",
        &d,
        "--schedule",
        "1cycle",
        "--epochs",
        "1",
        "--output",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(run.status.success(), "{}", text(&run).1);
}

#[test]
fn the_cpu_twin_trains_from_the_command_line_too() {
    let out = tempdir("cpu").join("spirals");
    let run = wgtrain(&[
        "train",
        "--device",
        "cpu",
        "--dataset",
        "spirals",
        "--layers",
        "32,32",
        "--activation",
        "tanh",
        "--epochs",
        "30",
        "--batch-size",
        "32",
        "--lr",
        "0.1",
        "--output",
        out.to_str().unwrap(),
        "--json",
    ]);
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(v["device"].as_str().unwrap().starts_with("cpu"), "{v}");
    // Two interleaved spirals are not linearly separable (a linear model gets ~50%).
    assert!(v["test_accuracy"].as_f64().unwrap() > 0.8, "{v}");
}
