//! Settings and environments no run can use are refused before any work, each naming the
//! value and what to give instead (not blamed on something else, not silently changed).

mod common;

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
    refused(c.output().unwrap(), "WGTRAIN_MATMUL=\"bogus\" is not understood; expected register, subgroup or tiled");
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
