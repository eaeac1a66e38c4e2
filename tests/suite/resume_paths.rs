//! `--resume` writes where the user points: the run directory named (or `-o`), never the
//! output stored in the checkpoint, which may be another run by now; a pending interrupted
//! run is never overwritten by another; wgtrain's own lock files do not make a directory
//! foreign.

use crate::common;

use std::path::Path;

use common::cli::{tempdir, text, wgtrain};

fn digits(out: &Path, seed: &str, epochs: &str) -> Vec<String> {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/data");
    [
        "train",
        "--dataset",
        "digits",
        "--layers",
        "16",
        "--device",
        "cpu",
        "--data-dir",
        data,
        "--epochs",
        epochs,
        "--seed",
        seed,
        "-o",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([out.to_str().unwrap().to_string()])
    .collect()
}

fn resume(path: &Path, extra: &[&str]) -> std::process::Output {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/data");
    let mut args = vec!["train", "--resume", path.to_str().unwrap(), "--device", "cpu", "--data-dir", data];
    args.extend(extra);
    wgtrain(&args)
}

fn epochs(run: &Path) -> usize {
    let h: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("history.json")).unwrap()).unwrap();
    h["epochs"].as_array().unwrap().len()
}

fn ok(out: std::process::Output) {
    assert!(out.status.success(), "{}", text(&out).1);
}

#[test]
fn a_moved_or_copied_run_continues_where_it_is_now() {
    let dir = tempdir("resume-moved");
    let (latest, a, copy) = (dir.join("r/latest"), dir.join("r/a"), dir.join("r/copy"));
    ok(wgtrain(&digits(&latest, "1", "2")));
    std::fs::rename(&latest, &a).unwrap();
    ok(wgtrain(&digits(&latest, "2", "2")));
    let b = std::fs::read(latest.join("model.safetensors")).unwrap();
    // Run A was saved as r/latest; continued from r/a it writes r/a, and run B is untouched.
    ok(resume(&a, &["--epochs", "3"]));
    assert_eq!(epochs(&a), 3);
    assert_eq!(std::fs::read(latest.join("model.safetensors")).unwrap(), b, "resuming r/a replaced r/latest");
    // A copy continues as the copy; the original stays.
    copy_dir(&a, &copy);
    ok(resume(&copy.join("model.safetensors"), &["--epochs", "4"]));
    assert_eq!((epochs(&a), epochs(&copy)), (3, 4));
}

#[test]
fn a_pending_interrupted_run_is_not_overwritten_by_another_resume() {
    let dir = tempdir("resume-pending");
    let rs = dir.join("rs");
    ok(wgtrain(&digits(&rs.join("b"), "1", "2")));
    // Two resume directories as interrupted runs leave them (the finished run's model is a
    // checkpoint a run continues from).
    for name in ["a.resume", "b.resume"] {
        std::fs::create_dir_all(rs.join(name)).unwrap();
        std::fs::copy(rs.join("b/model.safetensors"), rs.join(name).join("checkpoint.safetensors")).unwrap();
    }
    let pending = std::fs::read(rs.join("a.resume/checkpoint.safetensors")).unwrap();
    let refused = resume(&rs.join("b.resume"), &["-o", rs.join("a").to_str().unwrap(), "--epochs", "3"]);
    assert!(
        !refused.status.success() && text(&refused).1.contains("a.resume holds an interrupted run on this output"),
        "{}",
        text(&refused).1
    );
    assert_eq!(std::fs::read(rs.join("a.resume/checkpoint.safetensors")).unwrap(), pending);
    assert!(!rs.join("a").exists());
    // Continuing it by name is what it is for.
    ok(resume(&rs.join("a.resume"), &["--epochs", "3"]));
    assert_eq!(epochs(&rs.join("a")), 3);
    assert!(!rs.join("a.resume").exists());
}

#[test]
fn a_refused_output_leaves_no_lock_and_a_killed_runs_lock_does_not_make_a_run_foreign() {
    let dir = tempdir("resume-lock");
    let run = dir.join("keep");
    ok(wgtrain(&digits(&run, "1", "1")));
    assert!(!dir.join(".keep.lock").exists(), "a finished run left its lock file");
    // An output inside the run directory is refused (it exists and is not a directory), and
    // takes its lock file with it...
    let refused = wgtrain(&digits(&run.join("history.csv"), "1", "1"));
    assert!(!refused.status.success(), "{}", text(&refused).1);
    assert!(!run.join(".history.csv.lock").exists(), "the refused run left its lock file");
    // ...and a lock file a killed run left (none runs to remove it) is wgtrain's own: the run
    // directory can still be written over.
    std::fs::write(run.join(".history.csv.lock"), "").unwrap();
    ok(wgtrain(&digits(&run, "2", "1")));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn fewer_epochs_than_a_resumed_run_has_trained_are_refused_not_ignored() {
    let dir = tempdir("resume-fewer");
    let run = dir.join("run");
    ok(wgtrain(&digits(&run, "1", "3")));
    let before = std::fs::read(run.join("model.safetensors")).unwrap();
    let fewer = resume(&run, &["--epochs", "2"]);
    let stderr = text(&fewer).1;
    assert!(!fewer.status.success() && stderr.contains("has trained 3 epochs already"), "{stderr}");
    assert_eq!(std::fs::read(run.join("model.safetensors")).unwrap(), before, "the run was rewritten");
    // As many as it has: nothing to train, its outputs written again.
    ok(resume(&run, &["--epochs", "3"]));
    assert_eq!(epochs(&run), 3);
}
