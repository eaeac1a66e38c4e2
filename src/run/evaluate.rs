//! A trained run's model on data, as the run prepared its inputs: evaluation on one of its
//! splits (loss, accuracy, confusion matrix, classification report) and predictions for new
//! rows (class probabilities, optionally Monte Carlo dropout's mean and spread).

use std::path::Path;
use std::time::Instant;

use super::config::RunConfig;
use super::dataset::{self, class_names, prediction_inputs, InputTransform};
use super::summary::Summary;
use crate::backend::Backend;
use crate::data::locate::Fetching;
use crate::data::DeviceData;
use crate::error::{Context, Result};
use crate::fail;
use crate::infer::report::{confusion, Report};
use crate::infer::{Inference, Metrics, DEFAULT_BATCH};
use crate::nn::{LayerSpec, Mode};
use crate::train::checkpoint;

/// One split of a run's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    Train,
    Validation,
    Test,
}

/// A model's evaluation on one split.
pub struct Evaluation {
    pub dataset: String,
    pub samples: usize,
    pub metrics: Metrics,
    /// Prediction throughput over the split (one pass).
    pub samples_per_second: f64,
    /// Rows: the true class; columns: the predicted one.
    pub confusion: Vec<Vec<u64>>,
    pub report: Report,
    pub summary: Summary,
}

/// Evaluate the model in `path` on `split` of its run's dataset, or of `dataset` (same
/// features) when given. The inputs are prepared with the transform the checkpoint stored,
/// never one refitted on the data being evaluated.
pub fn evaluate(
    b: &mut dyn Backend,
    path: &Path,
    dataset: Option<String>,
    data_dir: Option<String>,
    split: Split,
    fetch: &mut dyn FnMut(Fetching),
) -> Result<Evaluation> {
    let loaded = checkpoint::load(path)?;
    // A dataset named inside the checkpoint is a path someone else may have chosen: it is
    // used only when the caller names none, and errors say where it came from.
    let source = if dataset.is_some() { "--dataset" } else { "the checkpoint's run config" };
    let cfg = RunConfig::from_checkpoint(&loaded, dataset, data_dir)?;
    let (train, val, test) =
        dataset::load_raw(&cfg, fetch).with_context(|| format!("dataset {} (named by {source})", cfg.dataset))?;
    let mut data = match split {
        Split::Train => train,
        Split::Test => test,
        Split::Validation => val.context("the run had no validation split")?,
    };
    let spec = &loaded.meta.model;
    if data.cols != spec.inputs {
        fail!("{} has {} features per sample but the model takes {}", cfg.dataset, data.cols, spec.inputs);
    }
    let classes = spec.outputs();
    if data.classes > classes {
        fail!("{} has {} classes but the model has {classes} outputs", cfg.dataset, data.classes);
    }
    InputTransform::from_checkpoint(&loaded)?.apply(&mut data)?;
    let mut model = loaded.build_model(b)?;
    let mut inference = Inference::new(b, DEFAULT_BATCH)?;
    let device_data = DeviceData::upload(b, &data)?;
    let metrics = inference.evaluate(b, &mut model, &device_data)?;
    if !metrics.loss.is_finite() {
        fail!(
            "the model gives a {} loss on {} (its outputs overflow: the weights are not ones training leaves); \
             retrain it, or evaluate another checkpoint",
            metrics.loss,
            cfg.dataset
        );
    }
    let start = Instant::now();
    let probs = inference.predict(b, &mut model, &device_data, Mode::Eval, 0)?;
    let samples_per_second = data.rows as f64 / start.elapsed().as_secs_f64();
    let confusion = confusion(&probs, &data.labels, classes);
    let report = Report::new(&confusion, &class_names(&cfg.dataset, classes));
    let summary = Summary::of(&loaded);
    Ok(Evaluation { dataset: cfg.dataset, samples: data.rows, metrics, samples_per_second, confusion, report, summary })
}

/// Class probabilities for every row of an input file.
pub struct Predictions {
    pub rows: usize,
    pub classes: usize,
    /// (rows, classes): softmax probabilities, or for one sigmoid output p(class 1).
    pub probs: Vec<f32>,
    /// With Monte Carlo dropout: each probability's standard deviation over the passes.
    pub std: Option<Vec<f32>>,
    /// Monte Carlo passes over a model without dropout layers: every pass is the same.
    pub passes_identical: bool,
}

impl Predictions {
    /// Row `r`'s probabilities.
    pub fn row(&self, r: usize) -> &[f32] {
        &self.probs[r * self.classes..(r + 1) * self.classes]
    }

    /// Row `r`'s standard deviations (Monte Carlo dropout).
    pub fn row_std(&self, r: usize) -> Option<&[f32]> {
        self.std.as_ref().map(|s| &s[r * self.classes..(r + 1) * self.classes])
    }

    /// Row `r`'s class: the most probable, or for one sigmoid output, 1 when p > 0.5.
    pub fn class_of(&self, r: usize) -> usize {
        match self.row(r) {
            [single] => (*single > 0.5) as usize,
            p => (0..p.len()).fold(0, |best, c| if p[c] > p[best] { c } else { best }),
        }
    }
}

/// Predict the rows of `input` (IDX images, or CSV features with `label_column` dropped)
/// with the model in `path`; with `mc_passes`, the mean of that many passes with dropout on.
pub fn predict(
    b: &mut dyn Backend,
    path: &Path,
    input: &Path,
    label_column: Option<isize>,
    mc_passes: Option<u32>,
) -> Result<Predictions> {
    if let Some(n) = mc_passes {
        crate::limits::check_mc_passes(n)?;
    }
    let loaded = checkpoint::load(path)?;
    let mut data = prediction_inputs(input, label_column)?;
    let inputs = loaded.meta.model.inputs;
    if data.cols != inputs {
        fail!("{} has {} features per row but the model takes {inputs}", input.display(), data.cols);
    }
    let dropout = loaded
        .meta
        .model
        .layers
        .iter()
        .any(|l| matches!(l, LayerSpec::Dropout { .. } | LayerSpec::AlphaDropout { .. }));
    InputTransform::from_checkpoint(&loaded)?.apply(&mut data)?;
    let mut model = loaded.build_model(b)?;
    let device_data = DeviceData::upload(b, &data)?;
    let mut inference = Inference::new(b, DEFAULT_BATCH)?;
    let (probs, std) = match mc_passes {
        Some(n) => {
            let (mean, std) = inference.predict_mc(b, &mut model, &device_data, n)?;
            (mean, Some(std))
        }
        None => (inference.predict(b, &mut model, &device_data, Mode::Eval, 0)?, None),
    };
    let classes = loaded.meta.model.outputs();
    Ok(Predictions { rows: data.rows, classes, probs, std, passes_identical: mc_passes.is_some() && !dropout })
}
