//! Bad and hostile inputs, each refused with a message that names it, a non-zero exit (never
//! an abort), and nothing the user saved touched: sizes from outside, schedules that would
//! make the learning rate negative, damaged or edited checkpoints, non-finite data, headers
//! that wrap, and files that would overwrite their own inputs.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::cli::{tempdir, text, wgtrain};

/// Three well-separated Gaussian blobs in 4 dimensions as CSV (label last): (path, rows).
fn blobs_csv(dir: &Path) -> PathBuf {
    let data = wgtrain::data::sources::blobs(100, 3, 4, 0.5, 7);
    let mut csv = String::from("a,b,c,d,label\n");
    for r in 0..data.rows {
        let row: Vec<String> = (0..4).map(|c| data.value(r, c).to_string()).collect();
        csv += &format!("{},{}\n", row.join(","), data.labels[r]);
    }
    let path = dir.join("blobs.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

/// A model trained once on the blobs (CPU): (its run directory, the blobs file).
fn trained() -> &'static (PathBuf, PathBuf) {
    static RUN: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempdir("hostile-trained");
        let csv = blobs_csv(&dir);
        let out = dir.join("run");
        let dataset = format!("csv:{}", csv.display());
        let args = ["--device", "cpu", "train", "--dataset", &dataset, "--layers", "16", "--epochs", "5"];
        let run = wgtrain(&[&args[..], &["--output", out.to_str().unwrap()]].concat());
        assert!(run.status.success(), "{}", text(&run).1);
        (out, csv)
    })
}

/// Run `args`, expect a clean refusal (exit 1, not an abort) whose message has `message`.
fn refused(args: &[&str], message: &str) -> String {
    let out = wgtrain(args);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{args:?} did not fail cleanly:\n{stderr}");
    assert!(stderr.contains(message), "{args:?}: expected {message:?} in:\n{stderr}");
    stderr
}

fn train_args<'a>(dataset: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["--device", "cpu", "train", "--dataset", dataset, "--epochs", "1", "--output", out];
    a.extend_from_slice(extra);
    a
}

#[test]
fn sizes_from_outside_are_bounded_before_anything_is_allocated() {
    let dir = tempdir("sizes");
    let out = dir.join("run");
    let o = out.to_str().unwrap();
    for device in ["cpu", "gpu"] {
        let args = ["--device", device, "train", "--dataset", "spirals", "--layers", "100000,100000", "--output", o];
        refused(&args, "above the limit of");
    }
    let labels = dir.join("labels.csv");
    std::fs::write(&labels, "1,2,0\n3,4,1\n5,6,1000000000\n").unwrap();
    let dataset = format!("csv:{}", labels.display());
    refused(&train_args(&dataset, o, &[]), "the label on line 3");
    let (run, rows) = trained();
    let model = run.join("model.safetensors");
    refused(
        &["--device", "cpu", "predict", model.to_str().unwrap(), rows.to_str().unwrap(), "--mc-dropout", "4000000000"],
        "--mc-dropout is 4000000000, above the limit of 10000",
    );
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(&dir).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains("staging")).count(), 0);
}

#[test]
fn schedules_cannot_make_the_learning_rate_negative_or_infinite() {
    let dir = tempdir("schedules");
    let o = dir.join("run");
    let o = o.to_str().unwrap();
    refused(&train_args("spirals", o, &["--schedule", "1cycle", "--max-lr=-1"]), "1cycle needs max_lr");
    let config = dir.join("piecewise.toml");
    std::fs::write(&config, "[optimizer]\nschedule = \"piecewise\"\nboundaries = [1]\nvalues = [0.05, -0.5]\n").unwrap();
    refused(&train_args("spirals", o, &["--config", config.to_str().unwrap()]), "piecewise values are learning rates");
    // A rate that grows until it overflows is named as the schedule's fault, not divergence,
    // before training.
    let config = dir.join("exp.toml");
    std::fs::write(&config, "[optimizer]\nschedule = \"exponential\"\ndecay_rate = 1e30\ndecay_epochs = 0.01\n").unwrap();
    let stderr = refused(&train_args("spirals", o, &["--config", config.to_str().unwrap()]), "to inf at step 2");
    assert!(stderr.contains("a rate above 1 grows the learning rate"), "{stderr}");
}

/// `checkpoint`'s bytes with `edit` applied to (metadata map, tensors), re-serialized;
/// checksums recomputed when `fix_sums`.
fn edited(checkpoint: &Path, fix_sums: bool, edit: impl Fn(&mut std::collections::HashMap<String, String>, &mut Vec<(String, Vec<usize>, Vec<u8>)>)) -> Vec<u8> {
    let bytes = std::fs::read(checkpoint).unwrap();
    let parsed = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap();
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> =
        parsed.iter().map(|(n, v)| (n.to_string(), v.shape().to_vec(), v.data().to_vec())).collect();
    edit(&mut meta, &mut tensors);
    if fix_sums {
        let hex = |b: &[u8]| -> String {
            use sha2::Digest;
            sha2::Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
        };
        let sums = serde_json::json!({
            "meta": hex(meta["wgtrain"].as_bytes()),
            "tensors": tensors.iter().map(|(n, _, d)| (n.clone(), hex(d))).collect::<std::collections::BTreeMap<_, _>>(),
        });
        meta.insert("wgtrain.sha256".into(), sums.to_string());
    }
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, s, d)| (n.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), d).unwrap()))
        .collect();
    safetensors::serialize(views, Some(meta)).unwrap()
}

#[test]
fn damaged_or_edited_checkpoints_are_refused() {
    let (run, rows) = trained();
    let model = run.join("model.safetensors");
    let dir = tempdir("checkpoints");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("one flipped byte in the weights", {
            let mut b = std::fs::read(&model).unwrap();
            let n = b.len();
            b[n - 100] ^= 0x10;
            b
        }, "does not match its checksum: the file is damaged"),
        ("a changed digit in the metadata", edited(&model, false, |m, _| {
            let v = m["wgtrain"].replacen("\"seed\":", "\"seed\":1", 1);
            m.insert("wgtrain".into(), v);
        }), "the metadata does not match its checksum"),
        ("a NaN weight, checksums made to match", edited(&model, true, |_, t| {
            let w = t.iter_mut().find(|(n, _, _)| n == "model.layers.0.w").unwrap();
            w.2[0..4].copy_from_slice(&f32::NAN.to_le_bytes());
        }), "holds NaN at index 0"),
        ("four billion units in the metadata, checksums made to match", edited(&model, true, |m, _| {
            let v = m["wgtrain"].replacen("\"units\":16", "\"units\":4000000000", 1);
            m.insert("wgtrain".into(), v);
        }), "but the metadata says [4, 4000000000]"),
    ];
    for (what, bytes, message) in cases {
        let path = dir.join("edited.safetensors");
        std::fs::write(&path, bytes).unwrap();
        let stderr = refused(&["--device", "cpu", "predict", path.to_str().unwrap(), rows.to_str().unwrap()], message);
        eprintln!("{what}: {}", stderr.trim());
    }
}

#[test]
fn eval_prepares_inputs_with_the_checkpoint_transform_and_names_where_the_data_came_from() {
    let (run, csv) = trained();
    let model = run.join("model.safetensors");
    let eval = |dataset: &str| -> serde_json::Value {
        let out = wgtrain(&["--device", "cpu", "--json", "eval", model.to_str().unwrap(), "--dataset", dataset]);
        assert!(out.status.success(), "{}", text(&out).1);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let same = eval(&format!("csv:{}", csv.display()));
    assert!(same["accuracy"].as_f64().unwrap() > 0.9, "{same}");
    assert_eq!(same["dataset_from"], "--dataset");
    // The same rows with every feature ×3+50: a refitted standardization would hide the change.
    let dir = tempdir("eval-transform");
    let shifted = dir.join("shifted.csv");
    let text_in = std::fs::read_to_string(csv).unwrap();
    let mut lines = text_in.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for line in lines {
        let f: Vec<f32> = line.split(',').map(|x| x.parse().unwrap()).collect();
        let x: Vec<String> = f[..4].iter().map(|v| (v * 3.0 + 50.0).to_string()).collect();
        out += &format!("{},{}\n", x.join(","), f[4]);
    }
    std::fs::write(&shifted, out).unwrap();
    let moved = eval(&format!("csv:{}", shifted.display()));
    let (a, b) = (same["accuracy"].as_f64().unwrap(), moved["accuracy"].as_f64().unwrap());
    assert!(b < a - 0.2, "eval refitted the preprocessing: {a} on the data, {b} on it ×3+50");
    // With no --dataset the checkpoint's own is used, and the output says so.
    let out = wgtrain(&["--device", "cpu", "eval", model.to_str().unwrap()]);
    assert!(text(&out).0.contains("from the checkpoint's run config"), "{}", text(&out).0);
}

#[test]
fn a_path_planted_in_a_checkpoint_is_named_as_its_source() {
    let (run, rows) = trained();
    let model = run.join("model.safetensors");
    let dir = tempdir("planted");
    let secret = dir.join("secret.txt");
    std::fs::write(&secret, "name,value\nroot:x:0:0:root:/root:/bin/bash,1\n").unwrap();
    let planted = dir.join("planted.safetensors");
    std::fs::write(&planted, edited(&model, true, |m, _| {
        let v = m["wgtrain"].replace(&rows.display().to_string(), &secret.display().to_string());
        m.insert("wgtrain".into(), v);
    }))
    .unwrap();
    let stderr = refused(&["--device", "cpu", "eval", planted.to_str().unwrap()], "named by the checkpoint's run config");
    assert!(!stderr.contains("/bin/bash"), "the file's content is shown:\n{stderr}");
}

#[test]
fn non_finite_and_malformed_data_are_refused_by_line_and_field() {
    let dir = tempdir("nonfinite");
    let o = dir.join("run");
    let o = o.to_str().unwrap();
    for (content, message) in [
        ("1,2,0\nnan,4,1\n5,6,1\n", "line 2, field 1: \"nan\" is not a finite number"),
        ("1,2,0\n3,inf,1\n5,6,1\n", "line 2, field 2: \"inf\" is not a finite number"),
        ("1,2,x\n3,4,1\n5,6,1\n", "line 1, field 3: \"x\" is not a number"),
    ] {
        let path = dir.join("data.csv");
        std::fs::write(&path, content).unwrap();
        refused(&train_args(&format!("csv:{}", path.display()), o, &[]), message);
    }
    let (run, _) = trained();
    let rows = dir.join("rows.csv");
    std::fs::write(&rows, "1,2,3,4\n1,2,-inf,4\n").unwrap();
    let model = run.join("model.safetensors");
    refused(&["--device", "cpu", "predict", model.to_str().unwrap(), rows.to_str().unwrap()], "is not a finite number");
    refused(&train_args("spirals", o, &["--validation-split", "0.0001"]), "holds out 0");
}

#[test]
fn idx_dimensions_that_wrap_are_refused() {
    // Four dimensions of 65,536 multiply to 2⁶⁴, which wraps to 0 and matched an empty payload.
    let mut bytes = vec![0, 0, 0x08, 4];
    (0..4).for_each(|_| bytes.extend_from_slice(&65536u32.to_be_bytes()));
    let err = wgtrain::data::idx::parse_idx(&bytes).unwrap_err();
    assert!(err.contains("multiply past any file size"), "{err}");
}

/// IDX bytes: `count` items of `shape`, every byte `fill`.
fn idx(count: u32, shape: &[u32], fill: u8) -> Vec<u8> {
    let mut b = vec![0, 0, 0x08, 1 + shape.len() as u8];
    b.extend_from_slice(&count.to_be_bytes());
    shape.iter().for_each(|d| b.extend_from_slice(&d.to_be_bytes()));
    b.extend(std::iter::repeat_n(fill, count as usize * shape.iter().product::<u32>() as usize));
    b
}

#[test]
fn a_test_set_of_another_width_is_refused_before_training() {
    let dir = tempdir("widths");
    std::fs::write(dir.join("train-images-idx3-ubyte"), idx(20, &[4, 4], 1)).unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte"), idx(20, &[], 1)).unwrap();
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), idx(5, &[3, 3], 1)).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), idx(5, &[], 1)).unwrap();
    let o = dir.join("run");
    let stderr = refused(
        &train_args(&format!("idx:{}", dir.display()), o.to_str().unwrap(), &[]),
        "the test set has 9 features per sample but the training set has 16",
    );
    assert!(!stderr.contains("epoch"));
}

#[test]
fn files_are_never_written_over_their_own_inputs_or_through_planted_links() {
    let (run, rows) = trained();
    let model = run.join("model.safetensors");
    let before = std::fs::read(&model).unwrap();
    let m = model.to_str().unwrap();
    refused(&["--device", "cpu", "predict", m, rows.to_str().unwrap(), "-o", m], "is the checkpoint itself");
    assert_eq!(std::fs::read(&model).unwrap(), before);
    // The temporary name the writer used to take (`.NAME.tmp.PID`), planted as a link to
    // another file: the file must stay as it was.
    let dir = tempdir("links");
    let victim = dir.join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    std::os::unix::fs::symlink(&victim, dir.join(format!(".preds.csv.tmp.{}", std::process::id()))).unwrap();
    wgtrain::train::checkpoint::write_atomically(&dir.join("preds.csv"), b"row,class\n").unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert_eq!(std::fs::read_to_string(dir.join("preds.csv")).unwrap(), "row,class\n");
}
