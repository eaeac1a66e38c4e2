//! A finished run's directory: the checkpoint, history (CSV and JSON), curves, the config as it
//! ran and `metrics.json`, staged and put in place all or nothing.

use std::collections::BTreeMap;

use serde_json::json;

use super::config::RunConfig;
use super::observe::Outcome;
use super::output::Staging;
use crate::backend::Backend;
use crate::error::Result;
use crate::infer::Metrics;
use crate::nn::Sequential;
use crate::optim::Optimizer;
use crate::train::{checkpoint, Trainer};

/// What a run directory is written from.
pub(super) struct Parts<'a> {
    pub config: &'a RunConfig,
    pub model: &'a Sequential,
    pub opt: &'a Optimizer,
    pub trainer: &'a Trainer,
}

/// How the run ended.
pub(super) struct Ending<'a> {
    pub test: Metrics,
    pub wall_seconds: f64,
    /// The learning-rate cuts made on divergence.
    pub cuts: &'a [serde_json::Value],
    /// The epoch (and loss) whose divergence ended the run.
    pub diverged_in: Option<(usize, f32)>,
}

/// What exchanging gradients cost a data-parallel run's replica 0 (None for a run of one):
/// seconds, their share of the training time, and bytes all-reduced per step.
fn gradient_sync(trainer: &Trainer) -> Option<serde_json::Value> {
    let (seconds, bytes, steps) = trainer.gradient_sync();
    let train_seconds: f64 = trainer.history().epochs.iter().map(|r| r.seconds).sum();
    (trainer.replica().1 > 1).then(|| {
        json!({
            "seconds": seconds,
            "share_of_training": seconds / train_seconds.max(f64::MIN_POSITIVE),
            "steps": steps,
            "bytes_per_step": bytes as f64 / steps.max(1) as f64,
        })
    })
}

/// Write the run directory and put it in place (a replica that does not write gets the
/// outcome alone: `staging` None).
pub(super) fn outputs(
    b: &mut dyn Backend,
    p: Parts,
    extra: BTreeMap<String, String>,
    staging: Option<Staging>,
    end: Ending,
) -> Result<Outcome> {
    let (cfg, trainer) = (p.config, p.trainer);
    let h = trainer.history();
    let throughput = h.throughput();
    let best_epoch = trainer.state().best_epoch;
    if let Some(staging) = &staging {
        staging.writing("model.safetensors", |path| {
            checkpoint::save_with(path, b, p.model, Some(p.opt), Some(trainer), extra)
        })?;
        staging.write("history.csv", h.to_csv())?;
        staging.write("history.json", serde_json::to_string_pretty(h)?)?;
        staging.write("config.toml", cfg.to_toml())?;
        let restore = trainer.config().early_stopping.as_ref().is_some_and(|e| e.restore_best);
        let best = (restore && best_epoch > 0).then_some(best_epoch);
        staging.writing("loss.svg", |_| super::plot::history(h, staging.dir(), best))?;
    }
    let samples_per_second = throughput.map_or(0.0, |t| t.samples_per_second);
    let metrics = json!({
        "device": b.describe(),
        "dataset": cfg.dataset,
        "epochs": h.epochs.len(),
        "stopped_early": trainer.state().stopped && end.diverged_in.is_none(),
        "best_epoch": trainer.config().early_stopping.as_ref().map(|_| best_epoch),
        "diverged_in_epoch": end.diverged_in.map(|(e, _)| e),
        "lr_reductions": end.cuts,
        "test_loss": end.test.loss,
        "test_accuracy": end.test.accuracy,
        "final": h.last(),
        "wall_seconds": end.wall_seconds,
        "samples_per_second": samples_per_second,
        "throughput": throughput,
        "parameters": p.model.parameter_count(),
        "output": cfg.output,
        "replicas": trainer.replica().1,
        "gradient_sync": gradient_sync(trainer),
    });
    let output = match staging {
        Some(staging) => {
            staging.write("metrics.json", serde_json::to_string_pretty(&metrics)?)?;
            staging.commit()?
        }
        None => std::path::PathBuf::from(&cfg.output),
    };
    Ok(Outcome {
        output,
        config: cfg.clone(),
        history: h.clone(),
        test: end.test,
        early_stop: Outcome::early_stop(trainer),
        wall_seconds: end.wall_seconds,
        metrics,
    })
}
