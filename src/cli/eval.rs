//! `wgtrain eval`: a checkpoint's loss, accuracy, per-class accuracy and confusion matrix.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::json;

use wgtrain::infer::report::{confusion, Report};
use wgtrain::infer::{self, Inference};
use wgtrain::run::dataset::{self, class_names};
use wgtrain::run::{InputTransform, RunConfig, Summary};
use wgtrain::nn::Mode;
use wgtrain::train::{checkpoint, DeviceData};
use wgtrain::Backend;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    Train,
    Validation,
    Test,
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
    let cfg = RunConfig::from_checkpoint(&loaded, dataset_name, data_dir)?;
    let (train, val, test) =
        dataset::load_raw(&cfg, &mut super::data::reporter()).with_context(|| format!("dataset {} (named by {source})", cfg.dataset))?;
    let mut data = match split {
        Split::Train => train,
        Split::Test => test,
        Split::Validation => val.context("the run had no validation split")?,
    };
    // Inputs are prepared as training prepared them: the transform stored in the checkpoint,
    // never one refitted on the data being evaluated.
    let transform = InputTransform::from_checkpoint(&loaded)?;
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
    let confusion = confusion(&probs, &data.labels, classes);
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
            "model": Summary::of(&loaded),
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
    println!("{}", Summary::of(&loaded));
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

