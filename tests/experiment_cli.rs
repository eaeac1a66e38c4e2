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
        ("--seeds", "0", "--seeds must be from 1 to 100 (every seed is a full run of every variant), got 0"),
        ("--seeds", "1000000", "--seeds must be from 1 to 100"),
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
        // A small scale: what is checked is the report and its reproducibility, not the answer.
        let args = ["experiment", "init-symmetry", "--seeds", "1", "--epochs", "1", "--train-rows", "2000", "--data-dir", data, "-o", out.to_str().unwrap()];
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
        // One seed: every cell says n=1 and none claims a spread; the answer concludes nothing.
        let rows = results["tables"][0]["rows"].as_array().unwrap();
        for cell in rows.iter().flat_map(|r| r.as_array().unwrap()[1..].to_vec()) {
            let cell = cell.as_str().unwrap();
            assert!(cell.ends_with("(n=1)") && !cell.contains('±'), "{cell}");
        }
        let answer = results["answer"].as_str().unwrap();
        assert!(answer.starts_with("Inconclusive at this scale") || answer.starts_with("Contradicted"), "{answer}");
        tables.push(results["tables"].clone());
    }
    assert_eq!(tables[0], tables[1], "the same seed reproduces every number of the tables");

    // The report rebuilt from the recorded units: nothing trained, the same tables.
    let a = dir.join("a");
    let rebuilt = wgtrain(&["experiment", "report", a.to_str().unwrap(), "--data-dir", data]);
    let (stdout, stderr) = text(&rebuilt);
    assert!(rebuilt.status.success(), "{stderr}");
    assert!(stdout.contains("0 unit(s) measured"), "{stdout}");
    let results = |d: &std::path::Path| -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(d.join("results.json")).unwrap()).unwrap() };
    assert_eq!(results(&a)["tables"], tables[0]);
    assert_eq!(results(&a)["run"]["command"], "wgtrain experiment init-symmetry --seeds 1 --epochs 1 --train-rows 2000");
    // A missing unit: the rebuild is refused, names it, and leaves the output as it was.
    // (A unit's file holds its description, which names the variant.)
    let unit = std::fs::read_dir(a.join("units")).unwrap().flatten().map(|e| e.path()).find(|p| {
        String::from_utf8_lossy(&std::fs::read(p).unwrap()).contains("name: \"same value + dropout\"")
    });
    std::fs::remove_file(unit.expect("the dropout variant's unit")).unwrap();
    let report_before = std::fs::read_to_string(a.join("report.md")).unwrap();
    let refused = wgtrain(&["experiment", "report", a.to_str().unwrap(), "--data-dir", data]);
    let stderr = text(&refused).1;
    assert!(!refused.status.success() && stderr.contains("\"same value + dropout seed 1\"") && stderr.contains("--resume"), "{stderr}");
    assert_eq!(std::fs::read_to_string(a.join("report.md")).unwrap(), report_before);
    // --resume measures that unit alone; its numbers are the same.
    let args = ["experiment", "init-symmetry", "--seeds", "1", "--epochs", "1", "--train-rows", "2000", "--data-dir", data, "-o", a.to_str().unwrap(), "--resume"];
    let resumed = wgtrain(&args);
    let (stdout, stderr) = text(&resumed);
    assert!(resumed.status.success(), "{stderr}");
    let total = std::fs::read_dir(a.join("units")).unwrap().count();
    assert!(stdout.contains(&format!("1 unit(s) measured, {} taken from the record", total - 1)), "{stdout}");
    assert_eq!(results(&a)["tables"], tables[0]);
}

#[test]
fn an_experiment_output_holding_the_users_files_is_refused_and_left_as_it_was() {
    let dir = tempdir("experiment-foreign");
    let out = dir.join("exp");
    std::fs::create_dir_all(out.join("runs/x")).unwrap();
    for (file, text) in [("report.md", "my notes"), ("results.json", "{}"), ("runs/x/notes.txt", "keep me")] {
        std::fs::write(out.join(file), text).unwrap();
    }
    let ran = wgtrain(&["experiment", "momentum", "--epochs", "1", "--train-rows", "1000", "-o", out.to_str().unwrap()]);
    let stderr = text(&ran).1;
    assert!(!ran.status.success() && stderr.contains("holds files wgtrain did not write (runs/x/notes.txt)"), "{stderr}");
    assert_eq!(std::fs::read_to_string(out.join("runs/x/notes.txt")).unwrap(), "keep me");
    assert_eq!(std::fs::read_to_string(out.join("report.md")).unwrap(), "my notes");
    // `.` cannot be replaced whole.
    let here = common::cli::wgtrain_command(&["experiment", "momentum", "-o", "."]).current_dir(&dir).output().unwrap();
    assert!(!here.status.success() && text(&here).1.contains("cannot be replaced as a whole"), "{}", text(&here).1);
}

#[test]
fn an_interrupted_experiment_keeps_its_finished_runs_and_resume_continues() {
    let dir = tempdir("experiment-interrupt");
    let out = dir.join("exp");
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/data");
    let args = ["experiment", "momentum", "--epochs", "2", "--train-rows", "5000", "--seeds", "1", "--data-dir", data, "-o", out.to_str().unwrap()];
    let child = common::cli::wgtrain_command(&args).spawn().unwrap();
    // Wait for two recorded units (five β values, one seed each), then Ctrl-C.
    let partial = dir.join(".exp.partial");
    // Recorded units only: a unit being written is a temporary file beside them until its rename.
    let cbor = |dir: &std::path::Path| {
        std::fs::read_dir(dir).map_or(0, |d| d.filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "cbor"))).count())
    };
    let units = || cbor(&partial.join("units"));
    let start = std::time::Instant::now();
    while units() < 2 {
        assert!(start.elapsed() < std::time::Duration::from_secs(180), "no unit was recorded");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let done = child.wait_with_output().unwrap();
    let stderr = text(&done).1;
    assert_eq!(done.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("the runs it finished are kept: the same command with --resume continues"), "{stderr}");
    assert!(!out.exists(), "the output appeared before the experiment finished");
    let kept = units();
    assert!(kept >= 2, "{kept} units kept");
    // Without --resume the kept work is not thrown away: the run is refused, naming what to do.
    let fresh = wgtrain(&args);
    let stderr = text(&fresh).1;
    assert!(!fresh.status.success() && stderr.contains("--resume continues it"), "{stderr}");
    assert_eq!(units(), kept);
    let resumed = wgtrain(&[&args[..], &["--resume"]].concat());
    let (stdout, stderr) = text(&resumed);
    assert!(resumed.status.success(), "{stderr}");
    // Every recorded result (five traces, the adapter's and the machine's description) is
    // either kept from the interrupted run or measured now, never both.
    assert!(out.join("report.md").is_file() && !partial.exists());
    let total = cbor(&out.join("units"));
    assert!(total >= 5, "{total} units");
    assert!(stdout.contains(&format!("{} unit(s) measured, {kept} taken from the record", total - kept)), "{stdout}");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("command: `wgtrain experiment momentum --seeds 1 --epochs 2 --train-rows 5000`"), "{report}");
}
