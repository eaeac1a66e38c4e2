//! `wgtrain eval`: a checkpoint's loss, accuracy, per-class accuracy and confusion matrix.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::config::RunConfig;
use super::dataset;
use super::dataset::InputTransform;
use super::train::{INPUT_TRANSFORM_KEY, RUN_CONFIG_KEY};
use wgtrain::infer::{self, Inference};
use wgtrain::nn::Mode;
use wgtrain::train::{checkpoint, DeviceData};
use wgtrain::Backend;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    Train,
    Validation,
    Test,
}

/// The run config stored in a checkpoint by `train` (or the defaults, for checkpoints written
/// through the library), with `dataset`/`data_dir` overrides.
pub fn run_config(loaded: &checkpoint::Loaded, dataset: Option<String>, data_dir: Option<String>) -> Result<RunConfig> {
    let mut cfg = match loaded.meta.extra.get(RUN_CONFIG_KEY) {
        Some(text) => toml::from_str(text).context("the checkpoint's run config does not parse")?,
        None if dataset.is_some() => RunConfig::default(),
        None => bail!("the checkpoint holds no run config (not written by `wgtrain train`); pass --dataset"),
    };
    if let Some(d) = dataset {
        cfg.dataset = d;
    }
    if let Some(d) = data_dir {
        cfg.data_dir = d;
    }
    Ok(cfg)
}

pub fn run(
    path: &Path,
    dataset_name: Option<String>,
    data_dir: Option<String>,
    split: Split,
    b: &mut dyn Backend,
    json_out: bool,
) -> Result<()> {
    let loaded = checkpoint::load(path)?;
    // A dataset named inside the checkpoint is a path someone else may have chosen: it is
    // used only when the user names none, and the output says where it came from.
    let source = if dataset_name.is_some() { "--dataset" } else { "the checkpoint's run config" };
    let cfg = run_config(&loaded, dataset_name, data_dir)?;
    let (train, val, test) =
        dataset::load_raw(&cfg).with_context(|| format!("dataset {} (named by {source})", cfg.dataset))?;
    let mut data = match split {
        Split::Train => train,
        Split::Test => test,
        Split::Validation => val.context("the run had no validation split")?,
    };
    // Inputs are prepared as training prepared them: the transform stored in the checkpoint,
    // never one refitted on the data being evaluated.
    let transform: InputTransform = match loaded.meta.extra.get(INPUT_TRANSFORM_KEY) {
        Some(t) => serde_json::from_str(t).context("the checkpoint's input transform does not parse")?,
        None => InputTransform::identity(),
    };
    let spec = &loaded.meta.model;
    if data.cols != spec.inputs {
        bail!("{} has {} features per sample but the model takes {}", cfg.dataset, data.cols, spec.inputs);
    }
    let classes = spec.outputs();
    if data.classes > classes {
        bail!("{} has {} classes but the model has {classes} outputs", cfg.dataset, data.classes);
    }
    transform.apply(&mut data)?;
    let mut model = loaded.build_model(b)?;
    let mut inference = Inference::new(b, infer::DEFAULT_BATCH)?;
    let device_data = DeviceData::upload(b, &data)?;
    let metrics = inference.evaluate(b, &mut model, &device_data)?;
    let start = std::time::Instant::now();
    let probs = inference.predict(b, &mut model, &device_data, Mode::Eval, 0)?;
    let samples_per_second = data.rows as f64 / start.elapsed().as_secs_f64();
    let mut confusion = vec![vec![0u64; classes]; classes];
    for (row, &label) in probs.chunks(classes).zip(&data.labels) {
        let predicted = (0..classes).fold(0, |best, c| if row[c] > row[best] { c } else { best });
        confusion[label as usize][predicted] += 1;
    }
    let report = Report::new(&confusion, &class_names(&cfg.dataset, classes));
    if json_out {
        let out = json!({
            "checkpoint": path.display().to_string(),
            "dataset": cfg.dataset,
            "dataset_from": source,
            "split": format!("{split:?}").to_lowercase(),
            "samples": data.rows,
            "loss": metrics.loss,
            "accuracy": metrics.accuracy,
            "samples_per_second": samples_per_second,
            "classes": report.rows,
            "macro_avg": report.macro_avg,
            "weighted_avg": report.weighted_avg,
            "confusion_matrix": confusion,
            "model": super::summary::Summary::of(&loaded),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "{} on {} (from {source}; {:?} split, {} samples, {})",
        path.display(),
        cfg.dataset,
        split,
        data.rows,
        b.describe()
    );
    println!(
        "loss {:.4}  accuracy {:.2}%  ({samples_per_second:.0} samples/s)\n",
        metrics.loss,
        100.0 * metrics.accuracy
    );
    println!("{}", super::summary::Summary::of(&loaded));
    print!("{report}");
    println!("\nconfusion matrix (rows: true class, columns: predicted):");
    print!("      ");
    (0..classes).for_each(|c| print!("{c:>6}"));
    println!();
    for (c, row) in confusion.iter().enumerate() {
        print!("  {c:>2}: ");
        row.iter().for_each(|n| print!("{n:>6}"));
        println!();
    }
    Ok(())
}

/// Fashion-MNIST's and CIFAR-10's class names; the digits and MNIST are named by their number.
fn class_names(dataset: &str, classes: usize) -> Vec<String> {
    const FASHION: [&str; 10] =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
    match dataset {
        "fashion-mnist" if classes == 10 => FASHION.iter().map(|s| s.to_string()).collect(),
        "cifar10" if classes == 10 => wgtrain::data::sources::CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect(),
        _ => (0..classes).map(|c| c.to_string()).collect(),
    }
}

/// One row of a classification report.
#[derive(Debug, Clone, serde::Serialize)]
struct ClassRow {
    class: String,
    precision: f64,
    recall: f64,
    f1: f64,
    support: u64,
}

/// Precision, recall and F1 per class with macro and support-weighted averages, as
/// scikit-learn's `classification_report` computes them (0 where undefined).
struct Report {
    rows: Vec<ClassRow>,
    macro_avg: ClassRow,
    weighted_avg: ClassRow,
}

impl Report {
    fn new(confusion: &[Vec<u64>], names: &[String]) -> Self {
        let n = confusion.len();
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let rows: Vec<ClassRow> = (0..n)
            .map(|c| {
                let tp = confusion[c][c];
                let support: u64 = confusion[c].iter().sum();
                let predicted: u64 = confusion.iter().map(|row| row[c]).sum();
                let (precision, recall) = (ratio(tp, predicted), ratio(tp, support));
                let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
                ClassRow { class: names[c].clone(), precision, recall, f1, support }
            })
            .collect();
        let total: u64 = rows.iter().map(|r| r.support).sum();
        let avg = |name: &str, weight: &dyn Fn(&ClassRow) -> f64| {
            let w: f64 = rows.iter().map(weight).sum::<f64>().max(f64::MIN_POSITIVE);
            let mean = |f: fn(&ClassRow) -> f64| rows.iter().map(|r| weight(r) * f(r)).sum::<f64>() / w;
            ClassRow { class: name.into(), precision: mean(|r| r.precision), recall: mean(|r| r.recall), f1: mean(|r| r.f1), support: total }
        };
        let macro_avg = avg("macro avg", &|_| 1.0);
        let weighted_avg = avg("weighted avg", &|r| r.support as f64);
        Self { rows, macro_avg, weighted_avg }
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let width = self.rows.iter().map(|r| r.class.chars().count()).max().unwrap_or(0).max(12);
        writeln!(f, "{:>width$}  {:>9}  {:>9}  {:>9}  {:>9}", "", "precision", "recall", "f1-score", "support")?;
        for r in self.rows.iter().chain([&self.macro_avg, &self.weighted_avg]) {
            if r.class == "macro avg" {
                writeln!(f)?;
            }
            writeln!(f, "{:>width$}  {:>9.4}  {:>9.4}  {:>9.4}  {:>9}", r.class, r.precision, r.recall, r.f1, r.support)?;
        }
        Ok(())
    }
}
