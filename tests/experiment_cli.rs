//! `wgtrain experiment` from the command line: the list, a refused name, and one quick
//! experiment run twice with the same seed, which must reproduce every number of its tables.

mod common;

use common::cli::{tempdir, text, wgtrain};

const NAMES: [&str; 8] =
    ["init-symmetry", "bias-init", "elu-vs-relu", "activations", "momentum", "sparsity", "dropout-cost", "deep-net"];

#[test]
fn the_list_names_every_experiment_and_a_wrong_name_is_refused() {
    let list = wgtrain(&["experiment", "list"]);
    let (stdout, _) = text(&list);
    assert!(list.status.success());
    for n in NAMES {
        assert!(stdout.lines().any(|l| l.starts_with(n)), "{n} missing from:\n{stdout}");
    }
    let wrong = wgtrain(&["experiment", "momentumm"]);
    assert!(!wrong.status.success() && text(&wrong).1.contains("no experiment \"momentumm\""), "{}", text(&wrong).1);
}

#[test]
fn counts_out_of_range_are_refused_before_anything_runs() {
    for (flag, value, message) in [
        ("--seeds", "0", "--seeds must be at least 1, got 0"),
        ("--seeds", "1000000", "--seeds must be at most 100"),
        ("--epochs", "0", "--epochs must be from 1 to 1000, got 0"),
        ("--epochs", "18446744073709551615", "--epochs must be from 1 to 1000"),
        ("--train-rows", "10", "--train-rows must be at least 1000"),
    ] {
        let ran = wgtrain(&["experiment", "momentum", flag, value, "-o", "/nonexistent/never-written"]);
        let stderr = text(&ran).1;
        assert!(!ran.status.success() && stderr.contains(message), "{flag} {value}: {stderr}");
    }
}

#[test]
fn a_quick_experiment_writes_its_report_and_reproduces_its_numbers() {
    let dir = tempdir("experiment-cli");
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/data");
    let mut tables = Vec::new();
    for attempt in ["a", "b"] {
        let out = dir.join(attempt);
        let args = ["experiment", "init-symmetry", "--quick", "--seeds", "1", "--data-dir", data, "-o", out.to_str().unwrap()];
        let ran = wgtrain(&args);
        let (stdout, stderr) = text(&ran);
        assert!(ran.status.success(), "{stderr}");
        assert!(stdout.contains("init-symmetry") && stdout.contains("report.md"), "{stdout}");
        let report = std::fs::read_to_string(out.join("report.md")).unwrap();
        for section in ["**Question.**", "## Setup", "| He |", "| same value |", "## Answer", "distinct.svg"] {
            assert!(report.contains(section), "report.md lacks {section:?}:\n{report}");
        }
        for plot in ["distinct.svg", "val_accuracy.svg"] {
            assert!(std::fs::read_to_string(out.join(plot)).unwrap().contains("<svg"), "{plot}");
        }
        assert!(out.join("runs/He-s1/model.safetensors").is_file() && out.join("runs/He-s1/history.json").is_file());
        let results: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
        assert!(results["answer"].as_str().is_some_and(|a| a.len() > 80));
        tables.push(results["tables"].clone());
    }
    assert_eq!(tables[0], tables[1], "the same seed reproduces every number of the tables");
}
