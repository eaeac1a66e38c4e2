//! Interrupted runs continue exactly: Ctrl-C (SIGINT) stops after the current step and says
//! how to resume; even SIGKILL leaves the last complete epoch beside the output; and
//! `train --resume` ends with the same weights, bit for bit, as a run never interrupted.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;

use common::cli::{tempdir, text, wgtrain, wgtrain_command};

fn args(out: &Path) -> Vec<String> {
    ["train", "--dataset", "spirals", "--layers", "32,32", "--epochs", "12", "--output"]
        .iter()
        .map(|s| s.to_string())
        .chain([out.display().to_string()])
        .collect()
}

/// Every tensor of a checkpoint, by name, as bytes.
fn tensors(path: &Path) -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let parsed = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<(String, Vec<u8>)> = parsed.iter().map(|(n, v)| (n.to_string(), v.data().to_vec())).collect();
    out.sort();
    out
}

/// Start a run, wait for its epoch-2 line, send `signal`; returns (exit code, stderr).
fn interrupt_after_epoch_2(out: &Path, signal: i32) -> (Option<i32>, String) {
    let mut child = wgtrain_command(&args(out)).spawn().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    for line in stdout.lines() {
        if line.unwrap().starts_with("epoch   2/") {
            // SAFETY: sending a signal to our own child process.
            unsafe { libc::kill(child.id() as i32, signal) };
            break;
        }
    }
    let done = child.wait_with_output().unwrap();
    (done.status.code(), String::from_utf8_lossy(&done.stderr).into_owned())
}

#[test]
fn interrupted_runs_resume_to_the_same_weights_as_uninterrupted_ones() {
    let root = tempdir("resume");
    let whole = root.join("whole");
    let ran = wgtrain(&args(&whole));
    assert!(ran.status.success(), "{}", text(&ran).1);
    let want = tensors(&whole.join("model.safetensors"));

    for (signal, name) in [(libc::SIGINT, "sigint"), (libc::SIGTERM, "sigterm"), (libc::SIGKILL, "sigkill")] {
        let out = root.join(name);
        let resume_dir = root.join(format!("{name}.resume"));
        let (code, stderr) = interrupt_after_epoch_2(&out, signal);
        if signal == libc::SIGKILL {
            assert_eq!(code, None, "killed");
        } else {
            assert_eq!(code, Some(1), "{stderr}");
            let hint = format!("continue it with: wgtrain train --resume {}", resume_dir.display());
            assert!(stderr.contains(&hint), "{stderr}");
        }
        assert!(!out.exists(), "an interrupted run wrote its output");
        assert!(resume_dir.join("checkpoint.safetensors").is_file());
        let resumed = wgtrain(&["train", "--resume", resume_dir.to_str().unwrap()]);
        let (stdout, stderr) = text(&resumed);
        assert!(resumed.status.success(), "{stderr}");
        assert!(stdout.contains("# resuming after epoch"), "{stdout}");
        assert!(!resume_dir.exists(), "the resume directory outlived the committed run");
        let got = tensors(&out.join("model.safetensors"));
        assert_eq!(got.len(), want.len());
        for ((n, a), (m, b)) in got.iter().zip(&want) {
            assert_eq!(n, m);
            assert!(a == b, "{name}: tensor {n} differs from the uninterrupted run");
        }
    }
}

#[test]
fn resume_refuses_flags_that_would_change_the_run() {
    let root = tempdir("resume-flags");
    let out = root.join("run");
    assert!(wgtrain(&["--device", "cpu", "train", "--dataset", "spirals", "--epochs", "1", "--output", out.to_str().unwrap()]).status.success());
    let refused = wgtrain(&["--device", "cpu", "train", "--resume", out.to_str().unwrap(), "--lr", "0.5"]);
    assert!(!refused.status.success());
    assert!(text(&refused).1.contains("--lr would change it"), "{}", text(&refused).1);
    // A finished run trains further with more epochs.
    let more = wgtrain(&["--device", "cpu", "train", "--resume", out.to_str().unwrap(), "--epochs", "3"]);
    assert!(more.status.success(), "{}", text(&more).1);
    let history = std::fs::read_to_string(out.join("history.csv")).unwrap();
    assert_eq!(history.lines().count(), 1 + 3, "{history}");
}
