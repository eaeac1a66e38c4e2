//! What a run tells its caller as it goes (`Event`, heard by an `Observer`, which also gets
//! the trainer's per-batch and per-epoch hooks), and what it hands back (`Outcome`).

use std::path::PathBuf;

use super::config::RunConfig;
use crate::data::locate::Fetching;
use crate::infer::Metrics;
use crate::nn::ModelSpec;
use crate::train::{Callback, History};

/// The sizes of the data a run trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSummary {
    pub train: usize,
    pub validation: usize,
    pub test: usize,
    pub features: usize,
    pub classes: usize,
}

/// A step of a run worth showing a person.
pub enum Event<'a> {
    /// A dataset is being fetched on first use.
    Fetching(Fetching<'a>),
    /// The config as resolved against the data (the one the run saves), and the data.
    Resolved { config: &'a RunConfig, data: DataSummary },
    /// Continuing a checkpoint taken after `epoch` of the run's `epochs`.
    Resuming { epoch: usize, epochs: usize },
    /// The model about to train.
    Model(&'a ModelSpec),
    /// Epoch `epoch` starts with a fraction `zeros` of the weights pruned (towards `target`).
    Pruned { epoch: usize, zeros: f64, target: f64 },
    /// Epoch `epoch` diverged with `loss`: the run went back to the epoch before it and cut
    /// every learning rate by ten.
    LrCut { epoch: usize, loss: f32 },
}

/// Hears a run's events and, as a `Callback`, the trainer's hooks (progress, stop requests).
pub trait Observer: Callback {
    fn event(&mut self, _event: Event) {}
}

/// An observer that hears nothing and never asks to stop.
pub struct Quiet;

impl Callback for Quiet {}
impl Observer for Quiet {}

/// How early stopping ended a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EarlyStop {
    pub patience: usize,
    pub best_epoch: usize,
    pub best_val_loss: f32,
    /// The last epoch run.
    pub epoch: usize,
    /// Whether the weights of `best_epoch` were put back.
    pub restored: bool,
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The run directory, in place.
    pub output: PathBuf,
    /// The config as it ran (defaults that depend on the data or the optimizer written out).
    pub config: RunConfig,
    pub history: History,
    pub test: Metrics,
    pub early_stop: Option<EarlyStop>,
    pub wall_seconds: f64,
    /// What `metrics.json` holds.
    pub metrics: serde_json::Value,
}

/// The files a run directory holds.
pub const OUTPUT_FILES: &str =
    "model.safetensors, history.csv, history.json, loss.svg, accuracy.svg, lr.svg, config.toml, metrics.json";
