//! Data-parallel training under `mpirun` (the `mpi` feature): two ranks sharing this machine's
//! adapter train the weights one process trains with the same global batch, up to the order
//! of the gradient sums; a run of two ranks continues as one; ranks that disagree, and a rank
//! that dies, end the job in bounded time with nothing written lost. An experiment's runs
//! spread over two ranks give rank 0 the report one process writes.
#![cfg(feature = "mpi")]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::cli::{tempdir, text, wgtrain};
use wgtrain::train::checkpoint;

/// `mpirun` for `ranks` ranks of the test binary, each with `args` (as root, oversubscribing
/// the two cores). `NODEVICE_SELECT` as for the other CLI tests.
fn mpirun(ranks: usize, args: &[&str]) -> Command {
    let mut c = Command::new("mpirun");
    c.args(["--allow-run-as-root", "--oversubscribe", "-np", &ranks.to_string()])
        .arg(env!("CARGO_BIN_EXE_wgtrain"))
        .args(args)
        .env("NODEVICE_SELECT", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Run `c` to its end, failing the test if it takes longer than `limit`.
fn bounded(mut c: Command, limit: Duration) -> Output {
    let mut child = c.spawn().expect("mpirun runs (apt-get install openmpi-bin)");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("the job ran past {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

/// digits, two small hidden layers, global batch 64, no tuning (each rank would time the
/// tilings at once on the shared adapter).
fn digits_run(out: &Path, epochs: &str) -> Vec<String> {
    let out = out.to_str().unwrap();
    ["train", "--dataset", "digits", "--layers", "64,32", "--batch-size", "64", "--epochs", epochs]
        .iter()
        .map(|s| s.to_string())
        .chain(["--seed", "5", "--no-autotune", "--output", out].iter().map(|s| s.to_string()))
        .collect()
}

fn tensors(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let loaded = checkpoint::load(&dir.join("model.safetensors")).unwrap();
    let mut names: Vec<String> = loaded.names().into_iter().filter(|n| n.starts_with("model.")).collect();
    names.sort();
    names.into_iter().map(|n| (n.clone(), loaded.tensor(&n).unwrap().1.to_vec())).collect()
}

/// Every weight within 1e-6 + 1e-5·|w| of the other run's. Measured: two ranks and one process
/// differ by at most 1.2e-7 (an ulp at |w| ≈ 0.7) after 3 epochs: the order in which the
/// per-rank gradient sums are added is the only difference.
fn assert_same_weights(a: &Path, b: &Path) {
    let (ta, tb) = (tensors(a), tensors(b));
    assert_eq!(ta.len(), tb.len());
    for ((name, x), (_, y)) in ta.iter().zip(&tb) {
        let bad = x.iter().zip(y).filter(|(x, y)| (*x - *y).abs() > 1e-6 + 1e-5 * x.abs()).count();
        let worst = x.iter().zip(y).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert_eq!(bad, 0, "{name}: {bad} of {} weights differ (max |Δ| {worst:e})", x.len());
    }
}

fn history(dir: &Path) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(dir.join("history.csv")).unwrap();
    // loss, accuracy, val_loss, val_accuracy, lr: not the timings.
    text.lines().skip(1).map(|l| l.split(',').skip(1).take(5).map(|v| v.parse().unwrap()).collect()).collect()
}

fn assert_same_history(a: &Path, b: &Path) {
    let (ha, hb) = (history(a), history(b));
    assert_eq!(ha.len(), hb.len(), "epochs");
    for (ra, rb) in ha.iter().zip(&hb) {
        for (x, y) in ra.iter().zip(rb) {
            // The metrics are sums of the same per-sample values in another order.
            assert!((x - y).abs() <= 1e-6 + 1e-5 * x.abs(), "history {ra:?} vs {rb:?}");
        }
    }
}

#[test]
fn two_ranks_train_the_weights_one_process_trains() {
    let dir = tempdir("dist-equal");
    let (one, two) = (dir.join("one"), dir.join("two"));
    let single = wgtrain(&digits_run(&one, "3"));
    assert!(single.status.success(), "{}", text(&single).1);
    let args = digits_run(&two, "3");
    let pair = bounded(mpirun(2, &args.iter().map(String::as_str).collect::<Vec<_>>()), Duration::from_secs(300));
    let (stdout, stderr) = text(&pair);
    assert!(pair.status.success(), "{stderr}");
    // Rank 0 alone prints (one summary, not two) and writes.
    assert_eq!(stdout.matches("\ntest: loss").count(), 1, "{stdout}");
    assert_same_weights(&one, &two);
    assert_same_history(&one, &two);
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(two.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["replicas"], 2);
    assert!(!dir.join("two.resume").exists(), "the resume checkpoint outlived the run");
}

#[test]
fn with_dropout_two_ranks_draw_the_masks_one_process_draws() {
    // Masks are keyed by the row in the global batch (`StepCounters::row_base`), so rank 1's
    // half of a batch drops the units one process drops in the same rows.
    let dir = tempdir("dist-dropout");
    let (one, two) = (dir.join("one"), dir.join("two"));
    let with_dropout = |out: &Path| {
        let mut args = digits_run(out, "2");
        args.extend(["--dropout".to_string(), "0.3".to_string(), "--activation".to_string(), "rrelu".to_string()]);
        args
    };
    let single = wgtrain(&with_dropout(&one));
    assert!(single.status.success(), "{}", text(&single).1);
    let args = with_dropout(&two);
    let pair = bounded(mpirun(2, &args.iter().map(String::as_str).collect::<Vec<_>>()), Duration::from_secs(300));
    assert!(pair.status.success(), "{}", text(&pair).1);
    assert_same_weights(&one, &two);
    assert_same_history(&one, &two);
}

/// The weights (and batch-norm statistics) of two runs differ somewhere beyond the bound of
/// `assert_same_weights`.
fn differ_somewhere(a: &Path, b: &Path) -> bool {
    tensors(a).iter().zip(&tensors(b)).any(|((_, x), (_, y))| x.iter().zip(y).any(|(x, y)| (x - y).abs() > 1e-6 + 1e-5 * x.abs()))
}

#[test]
fn with_sync_batch_norm_two_ranks_train_the_batch_norm_net_one_process_trains() {
    // Batch norm's moments and its gradient sums are added across the ranks inside each step,
    // so the ranks normalize by the global batch's statistics as one process does: the same
    // weights and running statistics. Batch 431 leaves a last batch of one row (1,294
    // training rows), which rank 1 has no share of: it meets rank 0's sums with zeros.
    // Without the flag each rank normalizes its own half: the weights differ (so the
    // comparison can fail).
    let dir = tempdir("dist-sync-bn");
    for (batch, epochs) in [("64", "3"), ("431", "2")] {
        let args = |out: &Path, sync: bool| {
            let mut a = digits_run(out, epochs);
            let at = a.iter().position(|s| s == "--batch-size").unwrap() + 1;
            a[at] = batch.to_string();
            a.push("--batch-norm".to_string());
            if sync {
                a.push("--sync-batch-norm".to_string());
            }
            a
        };
        let (one, two, apart) = (dir.join(format!("one-{batch}")), dir.join(format!("two-{batch}")), dir.join(format!("apart-{batch}")));
        let single = wgtrain(&args(&one, false));
        assert!(single.status.success(), "{}", text(&single).1);
        for (out, sync) in [(&two, true), (&apart, false)] {
            let a = args(out, sync);
            let pair = bounded(mpirun(2, &a.iter().map(String::as_str).collect::<Vec<_>>()), Duration::from_secs(300));
            assert!(pair.status.success(), "{}", text(&pair).1);
        }
        assert!(tensors(&one).iter().any(|(n, _)| n.ends_with("running")), "the checkpoint holds the running statistics");
        assert_same_weights(&one, &two);
        assert_same_history(&one, &two);
        assert!(differ_somewhere(&one, &apart), "batch {batch}: per-rank batch norm trained the one-process weights");
    }
}

#[test]
fn a_run_of_two_ranks_continues_as_one_process() {
    let dir = tempdir("dist-resume");
    let (straight, resumed) = (dir.join("straight"), dir.join("resumed"));
    assert!(wgtrain(&digits_run(&straight, "3")).status.success());
    let args = digits_run(&resumed, "2");
    let pair = bounded(mpirun(2, &args.iter().map(String::as_str).collect::<Vec<_>>()), Duration::from_secs(300));
    assert!(pair.status.success(), "{}", text(&pair).1);
    let more = wgtrain(&["train", "--resume", resumed.to_str().unwrap(), "--epochs", "3", "--no-autotune"]);
    assert!(more.status.success(), "{}", text(&more).1);
    assert_same_weights(&straight, &resumed);
    assert_same_history(&straight, &resumed);
}

#[test]
fn ranks_given_different_settings_are_refused_with_the_difference_named() {
    let dir = tempdir("dist-differ");
    let out = dir.join("run");
    let mut args = digits_run(&out, "2");
    args.extend(["--lr".to_string(), "0.05".to_string()]);
    let mut c = Command::new("mpirun");
    c.args(["--allow-run-as-root", "--oversubscribe", "-np", "1", env!("CARGO_BIN_EXE_wgtrain")]).args(&args);
    args.last_mut().unwrap().replace_range(.., "0.1");
    c.args([":", "-np", "1", env!("CARGO_BIN_EXE_wgtrain")]).args(&args);
    c.env("NODEVICE_SELECT", "1").stdout(Stdio::piped()).stderr(Stdio::piped());
    let out_ = bounded(c, Duration::from_secs(120));
    let stderr = text(&out_).1;
    assert!(!out_.status.success());
    // Every rank says the same sentence, so whichever ends the job first, it names the difference.
    assert!(
        stderr.contains(
            "replica 1 runs something other than replica 0: `lr = 0.1` on replica 1, `lr = 0.05` on replica 0"
        ),
        "{stderr}"
    );
    assert!(!out.exists(), "a refused job wrote its output");
}

/// The pid of rank `rank` of the job whose command line holds `job` (its unique output path:
/// other tests' jobs run the same binary at the same time).
fn rank_pid(rank: usize, job: &str) -> Option<u32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else { continue };
        let Ok(exe) = std::fs::read_link(format!("/proc/{pid}/exe")) else { continue };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let ours =
            exe == Path::new(env!("CARGO_BIN_EXE_wgtrain")) && cmdline.split(|b| *b == 0).any(|a| a == job.as_bytes());
        let wanted = format!("OMPI_COMM_WORLD_RANK={rank}");
        if ours && environ.split(|b| *b == 0).any(|v| v == wanted.as_bytes()) {
            return Some(pid);
        }
    }
    None
}

#[test]
fn a_rank_that_dies_ends_the_job_and_the_saved_epoch_resumes() {
    let dir = tempdir("dist-kill");
    let out = dir.join("run");
    let args = digits_run(&out, "40");
    let mut job = mpirun(2, &args.iter().map(String::as_str).collect::<Vec<_>>()).spawn().unwrap();
    let resume = dir.join("run.resume").join("checkpoint.safetensors");
    let start = Instant::now();
    // Wait for an epoch end past the first (the first checkpoint is taken before any step).
    let saved_after = |p: &Path| checkpoint::load(p).ok().and_then(|c| c.meta.trainer).map_or(0, |t| t.epoch);
    while saved_after(&resume) < 2 {
        assert!(start.elapsed() < Duration::from_secs(240), "no epoch ended");
        assert!(job.try_wait().unwrap().is_none(), "the job ended before the kill");
        std::thread::sleep(Duration::from_millis(50));
    }
    let job_name = out.to_str().unwrap();
    let pid = rank_pid(1, job_name).expect("rank 1 runs");
    assert!(Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap().success());
    let killed = Instant::now();
    while job.try_wait().unwrap().is_none() {
        assert!(killed.elapsed() < Duration::from_secs(60), "the job outlived its rank 1 by a minute");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!job.wait().unwrap().success());
    // mpirun may return while the ranks it ended are still going away: every rank is gone
    // (and rank 0's lock on the output released) within a bound, none hangs.
    while rank_pid(0, job_name).is_some() || rank_pid(1, job_name).is_some() {
        assert!(killed.elapsed() < Duration::from_secs(60), "a rank outlived the job by a minute");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A rank whose main thread is gone can still be ending its other threads (lavapipe's),
    // which hold its files: the output's lock is free within the same bound.
    let lock = std::fs::File::open(dir.join(".run.lock")).unwrap();
    while lock.try_lock().is_err() {
        assert!(killed.elapsed() < Duration::from_secs(60), "rank 0's lock outlived the job by a minute");
        std::thread::sleep(Duration::from_millis(100));
    }
    lock.unlock().unwrap();
    assert!(!out.exists(), "a killed job put an output in place");
    let epoch = saved_after(&resume);
    assert!(epoch >= 2, "the resume checkpoint is damaged or gone");
    let resumed =
        wgtrain(&["train", "--resume", dir.join("run.resume").to_str().unwrap(), "--epochs", "3", "--no-autotune"]);
    let stderr = text(&resumed).1;
    // The saved run may already be past 3 epochs: then it is written as it stands.
    assert!(resumed.status.success(), "{stderr}");
    assert!(out.join("model.safetensors").exists());
}

/// bias-init at a small scale (2 seeds, 1 epoch, 1000 rows: eight runs), no tuning.
fn small_experiment(out: &Path, seeds: &str) -> Vec<String> {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/data");
    ["experiment", "bias-init", "--seeds", seeds, "--epochs", "1", "--train-rows", "1000", "--data-dir", data]
        .iter()
        .map(|s| s.to_string())
        .chain(["--no-autotune", "-o", out.to_str().unwrap()].iter().map(|s| s.to_string()))
        .collect()
}

#[test]
fn two_ranks_share_an_experiments_runs_and_rank_0_writes_the_same_report() {
    let dir = tempdir("dist-experiment");
    let (one, two) = (dir.join("one"), dir.join("two"));
    let alone = wgtrain(&small_experiment(&one, "2").iter().map(String::as_str).collect::<Vec<_>>());
    assert!(alone.status.success(), "{}", text(&alone).1);
    let args = small_experiment(&two, "2");
    let job = bounded(mpirun(2, &args.iter().map(String::as_str).collect::<Vec<_>>()), Duration::from_secs(300));
    let (stdout, stderr) = text(&job);
    assert!(job.status.success(), "{stderr}");
    // Rank 0 alone prints the answer.
    assert_eq!(stdout.matches("(wrote ").count(), 1, "{stdout}");
    let results = |d: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(d.join("results.json")).unwrap()).unwrap()
    };
    let (a, b) = (results(&one), results(&two));
    assert_eq!(a["tables"], b["tables"], "the same tables, every number");
    assert_eq!(a["answer"], b["answer"]);
    assert!(std::fs::read_to_string(two.join("report.md")).unwrap().contains("runs spread over 2 MPI ranks"));
    // Every run's directory is in rank 0's output, those rank 1 trained (odd units) included,
    // with the weights the one-process run trained.
    for run in ["bias_0-s1", "bias_0-s2", "bias_0.01-s1", "bias_0.01-s2", "bias_0.1-s1", "bias_0.1-s2", "bias_random-s1", "bias_random-s2"] {
        for file in ["model.safetensors", "history.json", "metrics.json", "loss.svg"] {
            assert!(two.join("runs").join(run).join(file).is_file(), "{run}/{file} missing");
        }
        assert_eq!(tensors(&one.join("runs").join(run)), tensors(&two.join("runs").join(run)), "{run}");
    }
    // Nothing but rank 0's report in the output directory, no scratch left behind.
    let entries: Vec<_> = std::fs::read_dir(&two).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(entries.iter().all(|e| ["runs", "units", "report.md", "results.json", "accuracy.svg"].contains(&e.as_str())), "{entries:?}");
    // Resumed under two ranks with three runs' records gone: those three alone train (spread
    // over the ranks), and the tables are the same.
    let mut units: Vec<_> = std::fs::read_dir(two.join("units")).unwrap().map(|e| e.unwrap().path()).collect();
    units.retain(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).contains("seed 2"));
    for unit in &units[..3] {
        std::fs::remove_file(unit).unwrap();
    }
    let resumed = [args.clone(), vec!["--resume".to_string()]].concat();
    let job = bounded(mpirun(2, &resumed.iter().map(String::as_str).collect::<Vec<_>>()), Duration::from_secs(300));
    let (stdout, stderr) = text(&job);
    assert!(job.status.success(), "{stderr}");
    let total = std::fs::read_dir(two.join("units")).unwrap().count();
    assert!(stdout.contains(&format!("3 unit(s) measured, {} taken from the record", total - 3)), "{stdout}");
    assert_eq!(results(&two)["tables"], a["tables"]);
    // Rebuilding the report trains nothing: it is refused under mpirun, by name.
    let report = ["experiment", "report", two.to_str().unwrap()];
    let job = bounded(mpirun(2, &report), Duration::from_secs(120));
    let stderr = text(&job).1;
    assert!(!job.status.success() && stderr.contains("run it without mpirun"), "{stderr}");
}

#[test]
fn ranks_asked_for_different_experiments_are_refused_with_the_difference_named() {
    let dir = tempdir("dist-experiment-differ");
    let out = dir.join("out");
    let mut c = Command::new("mpirun");
    c.args(["--allow-run-as-root", "--oversubscribe", "-np", "1", env!("CARGO_BIN_EXE_wgtrain")]).args(small_experiment(&out, "2"));
    c.args([":", "-np", "1", env!("CARGO_BIN_EXE_wgtrain")]).args(small_experiment(&out, "3"));
    c.env("NODEVICE_SELECT", "1").stdout(Stdio::piped()).stderr(Stdio::piped());
    let job = bounded(c, Duration::from_secs(120));
    let stderr = text(&job).1;
    assert!(!job.status.success());
    assert!(stderr.contains("replica 1 runs something other than replica 0") && stderr.contains("seeds: 3"), "{stderr}");
    assert!(!out.join("report.md").exists(), "a refused job wrote a report");
}

#[test]
fn bench_distributed_reports_every_ranks_step_and_exchange() {
    let args = ["bench", "--distributed", "--layers", "64,32,10", "--batch", "16", "--repeats", "1", "--no-autotune", "--json"];
    let job = bounded(mpirun(2, &args), Duration::from_secs(180));
    let (stdout, stderr) = text(&job);
    assert!(job.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("rank 0 alone prints one JSON report");
    assert_eq!(report["schema"], "wgtrain-bench-distributed/1");
    assert_eq!(report["ranks"], 2);
    let row = &report["rows"][0];
    assert_eq!(row["batch_per_rank"], 16);
    let ranks = row["per_rank"].as_array().unwrap();
    assert_eq!(ranks.len(), 2);
    // 64·32 + 32 + 32·10 + 10 = 2,410 gradients and the stop flag, 4 bytes each; the packed
    // gradient buffer starts each of its 4 parts on the adapter's storage alignment (16 bytes
    // on lavapipe, at most 256 on any adapter), so it is read back with up to 4 × 256 bytes
    // of padding.
    for (i, r) in ranks.iter().enumerate() {
        assert_eq!(r["rank"], i);
        let bytes = r["all_reduce_bytes"].as_u64().unwrap();
        assert!((4 * 2411..=4 * 2411 + 4 * 256).contains(&bytes), "{r}");
        let (step, reduce) = (r["step_ms"].as_f64().unwrap(), r["all_reduce_ms"].as_f64().unwrap());
        assert!(step > 0.0 && reduce > 0.0 && reduce < step, "{r}");
    }
    let efficiency = row["efficiency"].as_f64().unwrap();
    assert!(efficiency > 0.0 && efficiency.is_finite(), "{row}");
    // Alone it says how to run it.
    let alone = wgtrain(&["bench", "--distributed", "--layers", "64,32,10"]);
    assert!(!alone.status.success() && text(&alone).1.contains("run it under mpirun"), "{}", text(&alone).1);
}
