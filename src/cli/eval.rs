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
    let probs = inference.predict(b, &mut model, &device_data, Mode::Eval, 0)?;
    let mut confusion = vec![vec![0u64; classes]; classes];
    for (row, &label) in probs.chunks(classes).zip(&data.labels) {
        let predicted = (0..classes).fold(0, |best, c| if row[c] > row[best] { c } else { best });
        confusion[label as usize][predicted] += 1;
    }
    let per_class: Vec<f64> =
        confusion.iter().enumerate().map(|(c, row)| row[c] as f64 / row.iter().sum::<u64>().max(1) as f64).collect();
    if json_out {
        let out = json!({
            "checkpoint": path.display().to_string(),
            "dataset": cfg.dataset,
            "dataset_from": source,
            "split": format!("{split:?}").to_lowercase(),
            "samples": data.rows,
            "loss": metrics.loss,
            "accuracy": metrics.accuracy,
            "per_class_accuracy": per_class,
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
    println!("loss {:.4}  accuracy {:.2}%\n", metrics.loss, 100.0 * metrics.accuracy);
    println!("{}", super::summary::Summary::of(&loaded));
    println!("per-class accuracy:");
    for (c, a) in per_class.iter().enumerate() {
        println!("  class {c:>2}: {:6.2}%", 100.0 * a);
    }
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
