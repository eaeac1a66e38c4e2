//! What a user saved is never lost: the run directory is replaced whole or not at all (also
//! when the process is killed, and across filesystems), a second run on the same output is
//! refused, and directories that are not run directories are never replaced.

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use common::cli::{tempdir, text, wgtrain, wgtrain_command};

/// A small CPU run on the synthetic spirals: fast, and needs no dataset files.
fn spirals(out: &Path, seed: &str, epochs: &str) -> Vec<String> {
    ["--device", "cpu", "train", "--dataset", "spirals", "--layers", "32,32", "--epochs", epochs, "--seed", seed]
        .iter()
        .map(|s| s.to_string())
        .chain(["--output".into(), out.display().to_string()])
        .collect()
}

fn run(args: &[String]) -> std::process::Output {
    wgtrain(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The seed of the run that wrote `dir`, after checking the directory is a whole run: every
/// output present, the checkpoint readable, the metrics parseable.
fn whole_run_seed(dir: &Path) -> u64 {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let mut want = vec![
        "accuracy.svg",
        "config.toml",
        "lr.svg",
        "history.csv",
        "history.json",
        "loss.svg",
        "metrics.json",
        "model.safetensors",
    ];
    want.sort();
    assert_eq!(names, want, "{} is not a whole run directory", dir.display());
    wgtrain::train::checkpoint::load(&dir.join("model.safetensors")).expect("the checkpoint reads back");
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("metrics.json")).unwrap()).unwrap();
    assert!(metrics["test_accuracy"].is_number());
    let config: toml::Table = std::fs::read_to_string(dir.join("config.toml")).unwrap().parse().unwrap();
    config["seed"].as_integer().unwrap() as u64
}

fn leftovers(parent: &Path, name: &str) -> Vec<String> {
    std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!(".{name}.")) && !n.ends_with(".lock"))
        .collect()
}

#[test]
fn a_run_killed_at_any_point_leaves_the_old_or_the_new_directory_whole() {
    let root = tempdir("kill");
    let out = root.join("run");
    assert!(run(&spirals(&out, "1", "3")).status.success());
    assert_eq!(whole_run_seed(&out), 1);
    // Time one replacing run, then kill replacing runs at points spread over that time and a
    // little past it: during training, while outputs are staged, around the swap, after it.
    let start = Instant::now();
    assert!(run(&spirals(&out, "2", "3")).status.success());
    let full = start.elapsed();
    assert_eq!(whole_run_seed(&out), 2);
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..16u32 {
        let seed = if i % 2 == 0 { "3" } else { "4" };
        let mut child = wgtrain_command(&spirals(&out, seed, "3")).spawn().unwrap();
        std::thread::sleep(full.mul_f64(0.3 + 0.05 * i as f64));
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        // A run killed after its first epoch leaves it resumable; start over instead.
        let _ = std::fs::remove_dir_all(root.join("run.resume"));
        let s = whole_run_seed(&out);
        assert!([2, 3, 4].contains(&s), "seed {s}");
        seen.insert(s);
    }
    eprintln!("seeds found after the kills: {seen:?}");
    // The next run removes what the killed ones left.
    assert!(run(&spirals(&out, "5", "1")).status.success());
    assert_eq!(whole_run_seed(&out), 5);
    assert_eq!(leftovers(&root, "run"), Vec::<String>::new());
}

#[test]
fn a_fresh_run_does_not_overwrite_an_interrupted_one() {
    let root = tempdir("pending");
    let out = root.join("run");
    let pending = root.join("run.resume");
    std::fs::create_dir_all(&pending).unwrap();
    std::fs::write(pending.join("checkpoint.safetensors"), "saved state").unwrap();
    let refused = run(&spirals(&out, "1", "1"));
    assert!(!refused.status.success());
    assert!(text(&refused).1.contains("holds an interrupted run on this output"), "{}", text(&refused).1);
    assert_eq!(std::fs::read_to_string(pending.join("checkpoint.safetensors")).unwrap(), "saved state");
}

#[test]
fn a_second_run_on_the_same_output_is_refused_while_the_first_holds_it() {
    let root = tempdir("lock");
    let out = root.join("run");
    // Hold the lock as a running `train` would.
    let lock = std::fs::File::create(root.join(".run.lock")).unwrap();
    lock.try_lock().unwrap();
    let refused = run(&spirals(&out, "1", "1"));
    let (_, stderr) = text(&refused);
    assert!(!refused.status.success());
    assert!(stderr.contains("another wgtrain run is writing to"), "{stderr}");
    assert!(!out.exists());
    drop(lock);
    assert!(run(&spirals(&out, "1", "1")).status.success());
}

#[test]
fn directories_that_are_not_run_directories_are_never_replaced() {
    let root = tempdir("foreign");
    let mine = root.join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "keep me").unwrap();
    for (out, message) in [
        (mine.clone(), "holds files wgtrain did not write (notes.txt)"),
        (PathBuf::from(""), "--output is empty"),
        (PathBuf::from("."), "cannot be replaced as a whole"),
        (mine.join("notes.txt"), "exists and is not a directory"),
    ] {
        let refused = run(&spirals(&out, "1", "1"));
        let (_, stderr) = text(&refused);
        assert!(!refused.status.success(), "{}", out.display());
        assert!(stderr.contains(message), "--output {:?}: {stderr}", out);
    }
    assert_eq!(std::fs::read_to_string(mine.join("notes.txt")).unwrap(), "keep me");
}

/// Mount a tmpfs of `size` at `path` (root only).
fn mount_tmpfs(path: &Path) -> Result<(), String> {
    mount_tmpfs_sized(path, "64m")
}

fn mount_tmpfs_sized(path: &Path, size: &str) -> Result<(), String> {
    std::fs::create_dir_all(path).unwrap();
    let out = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(path)
        .output()
        .map_err(|e| format!("mount did not run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

#[test]
fn outputs_on_another_filesystem_are_written_or_refused_before_training() {
    let root = tempdir("xdev");
    let mnt = root.join("mnt");
    if let Err(why) = mount_tmpfs(&mnt) {
        eprintln!("SKIPPED: the cross-filesystem test needs to mount a tmpfs (run as root): {why}");
        return;
    }
    let outcome = std::panic::catch_unwind(|| {
        // A directory inside the mount: staged beside it, on the same filesystem.
        let inside = mnt.join("run");
        assert!(run(&spirals(&inside, "1", "1")).status.success());
        assert!(run(&spirals(&inside, "2", "1")).status.success());
        assert_eq!(whole_run_seed(&inside), 2);
        // A symlink on this filesystem to a run directory on the other: the directory it points
        // to is replaced, and the link stays a link.
        let link = root.join("link");
        std::os::unix::fs::symlink(&inside, &link).unwrap();
        let linked = run(&spirals(&link, "3", "1"));
        assert!(linked.status.success(), "{}", text(&linked).1);
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(whole_run_seed(&inside), 3);
        // The mount point itself cannot be swapped: refused at once, before training.
        let refused = run(&spirals(&mnt, "4", "500"));
        let (stdout, stderr) = text(&refused);
        assert!(!refused.status.success());
        assert!(stderr.contains("is a mount point") && stderr.contains("give a directory inside it"), "{stderr}");
        assert!(!stdout.contains("epoch"), "it trained before refusing:\n{stdout}");
        assert_eq!(whole_run_seed(&inside), 3);
    });
    let _ = std::process::Command::new("umount").arg(&mnt).status();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn a_diverging_run_keeps_its_last_good_epoch_or_cuts_the_rate_and_carries_on() {
    let root = tempdir("diverge");
    let out = root.join("run");
    let args = |layers: &str, lr: &str, policy: &str| -> Vec<String> {
        let mut a: Vec<String> = ["--device", "cpu", "train", "--dataset", "spirals", "--epochs", "4", "--layers", layers]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend(["--lr", lr, "--on-divergence", policy, "--output"].iter().map(|s| s.to_string()));
        a.push(out.display().to_string());
        a
    };
    // Learning rate 5 on the 300-100 net blows up in the first epoch: nothing of this run is
    // worth keeping.
    let first = run(&args("300,100", "5", "stop"));
    let (_, stderr) = text(&first);
    assert_eq!(first.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("in epoch 1, before any epoch completed; nothing was written"), "{stderr}");
    assert!(!out.exists());
    // 2.5 on the 32-32 net: the first epoch is finite, the second is not; the first is kept.
    let stopped = run(&args("32,32", "2.5", "stop"));
    let (_, stderr) = text(&stopped);
    assert_eq!(stopped.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("in epoch 2; the model of epoch 1 (the last good one) is in"), "{stderr}");
    assert_eq!(whole_run_seed(&out), 42);
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["diverged_in_epoch"], 2);
    let history = std::fs::read_to_string(out.join("history.csv")).unwrap();
    assert_eq!(history.lines().count(), 1 + 2, "the diverged epoch stays in the history:\n{history}");
    // With reduce-lr the first run goes back to its start at a tenth of the rate and finishes.
    let recovered = run(&args("300,100", "5", "reduce-lr"));
    let (stdout, stderr) = text(&recovered);
    assert!(recovered.status.success(), "{stderr}");
    assert!(stdout.contains("# epoch 1 diverged (loss NaN); back to epoch 0, learning rates ÷10"), "{stdout}");
    let metrics: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["lr_reductions"].as_array().unwrap().len(), 1, "{metrics}");
    assert_eq!(metrics["lr_reductions"][0]["lr_after"], 0.5);
    assert_eq!(metrics["epochs"], 4);
    assert!(metrics["test_loss"].as_f64().unwrap().is_finite());
    assert!(!root.join("run.resume").exists());
}

#[test]
fn a_full_disk_names_the_output_and_keeps_the_trained_run() {
    let root = tempdir("enospc");
    let mnt = root.join("full");
    if let Err(why) = mount_tmpfs_sized(&mnt, "40k") {
        eprintln!("SKIPPED: the full-disk test needs to mount a tmpfs (run as root): {why}");
        return;
    }
    let outcome = std::panic::catch_unwind(|| {
        let out = mnt.join("run");
        let failed = run(&spirals(&out, "1", "2"));
        let (_, stderr) = text(&failed);
        assert_eq!(failed.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(&format!("cannot write {}/", out.display())), "{stderr}");
        assert!(stderr.contains("No space left on device") && !stderr.contains("staging"), "{stderr}");
        assert!(stderr.contains("writes the outputs without training again"), "{stderr}");
        assert!(!out.exists());
        // Room made, the kept run writes its outputs.
        let grown = std::process::Command::new("mount").args(["-o", "remount,size=8m"]).arg(&mnt).status().unwrap();
        assert!(grown.success());
        let resumed = wgtrain(&["train", "--resume", mnt.join("run.resume").to_str().unwrap()]);
        assert!(resumed.status.success(), "{}", text(&resumed).1);
        assert_eq!(whole_run_seed(&out), 1);
    });
    let _ = std::process::Command::new("umount").arg(&mnt).status();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e);
    }
}
