//! A reader that goes away, counts nobody meant, and negative values: each ends in a clear
//! message or a quiet exit, never a panic or a run of days.

use crate::common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;

use common::cli::{tempdir, text, wgtrain, wgtrain_command};

#[test]
fn train_piped_into_head_stops_quietly_and_keeps_its_epochs() {
    // `wgtrain train … | head -1`: read one line, close the pipe.
    let dir = tempdir("broken-pipe");
    let out = dir.join("run");
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/data");
    let args = [
        "train",
        "--dataset",
        "digits",
        "--epochs",
        "50",
        "--device",
        "cpu",
        "--data-dir",
        data,
        "-o",
        out.to_str().unwrap(),
    ];
    let mut child = wgtrain_command(&args).spawn().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    drop(reader);
    let done = child.wait_with_output().unwrap();
    let stderr = text(&done).1;
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
    // As a Unix tool ends: by SIGPIPE.
    assert_eq!(done.status.signal(), Some(libc::SIGPIPE), "{:?}: {stderr}", done.status);
    // It stopped after a step, as on Ctrl-C, said where its epochs are, and left nothing else.
    assert!(stderr.contains("continue it with: wgtrain train --resume"), "{stderr}");
    let left: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(left.iter().all(|n| n == "run.resume" || n == ".run.lock"), "{left:?}");
}

#[test]
fn counts_beyond_any_use_are_refused_with_the_limit() {
    for (args, message) in [
        (vec!["train", "--epochs", "1000000000"], "epochs: 1000000000; at most 100000"),
        (vec!["bench", "--repeats", "1000000000"], "--repeats 1000000000: at most 1000"),
        (
            vec!["prune", "no-such/model.safetensors", "--sparsity", "0.5", "--fine-tune-epochs", "1000000000"],
            "epochs: 1000000000; at most 100000",
        ),
    ] {
        let ran = wgtrain(&args);
        let stderr = text(&ran).1;
        assert!(!ran.status.success() && stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[test]
fn negative_values_reach_the_domain_check() {
    for (args, message) in [
        (vec!["train", "--lr", "-1"], "lr: -1 must be > 0"),
        (vec!["prune", "m.safetensors", "--sparsity", "-1"], "sparsity: -1 is not in [0, 1)"),
    ] {
        let ran = wgtrain(&args);
        let stderr = text(&ran).1;
        assert!(!ran.status.success() && stderr.contains(message), "{args:?}: {stderr}");
    }
}
