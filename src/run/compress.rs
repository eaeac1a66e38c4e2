//! Making a trained run smaller: prune by magnitude or factorize Dense layers (truncated SVD),
//! measure accuracy and inference speed before and after (and after fine-tuning), and write
//! it as a new run directory — never over the input.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;

use super::config::RunConfig;
use super::dataset::{self, InputTransform};
use super::observe::{Event, Observer};
use super::output::Staging;
use super::summary::Summary;
use crate::backend::Backend;
use crate::data::{Dataset, DeviceData};
use crate::error::{Context, Result};
use crate::fail;
use crate::infer::{Inference, Metrics};
use crate::nn::{Mode, Sequential};
use crate::optim::{Optimizer, Schedule};
use crate::sparse::{self, Factorized, Rank, Scope};
use crate::train::{checkpoint, Trainer};

/// The compression to apply.
pub enum Change {
    Prune { sparsity: f64, scope: Scope },
    Factorize { rank: Rank, layers: Vec<usize> },
}

impl Change {
    /// A name for what was done, used for the default output directory.
    pub fn tag(&self) -> String {
        match self {
            Change::Prune { sparsity, .. } => format!("pruned-{sparsity}"),
            Change::Factorize { rank: Rank::Fixed(r), .. } => format!("rank-{r}"),
            Change::Factorize { rank: Rank::Energy(e), .. } => format!("energy-{e}"),
        }
    }

    /// Check the values before anything is loaded.
    fn check(&self) -> Result<()> {
        match *self {
            Change::Prune { sparsity, .. } => sparse::prune::check_sparsity(sparsity)?,
            Change::Factorize { rank: Rank::Fixed(0), .. } => fail!("--rank 0: the rank must be at least 1"),
            Change::Factorize { rank: Rank::Energy(e), .. } if !(e > 0.0 && e <= 1.0) => {
                fail!("--energy {e} is not in (0, 1]: it is the fraction of Σσ² to keep, e.g. 0.95")
            }
            Change::Factorize { .. } => {}
        }
        Ok(())
    }
}

/// A compression of the run that wrote `checkpoint`.
pub struct Compression {
    pub checkpoint: PathBuf,
    pub change: Change,
    /// Fine-tune this many epochs afterwards (pruned weights stay zero).
    pub fine_tune_epochs: usize,
    /// The fine-tuning rate (constant); None: the rate the run ended with.
    pub fine_tune_lr: Option<f32>,
    /// The new run directory; None: beside the checkpoint's, named for the change.
    pub output: Option<PathBuf>,
}

/// What a compression did.
pub struct Compressed {
    pub output: PathBuf,
    /// The new model's summary, read back from what was written.
    pub summary: Summary,
    pub factorized: Vec<Factorized>,
    pub params_before: usize,
    pub params_after: usize,
    /// Test accuracy before, after, and after fine-tuning.
    pub accuracy: (f32, f32, Option<f32>),
    /// Inference samples/s before, and after (fine-tuned where it was).
    pub samples_per_second: (f64, f64),
    /// What `summary.json` holds.
    pub report: serde_json::Value,
}

/// Accuracy on `data` and inference samples/s (median of three passes over it).
fn measure(
    b: &mut dyn Backend,
    model: &mut Sequential,
    inference: &mut Inference,
    data: &DeviceData,
) -> Result<(Metrics, f64)> {
    let metrics = inference.evaluate(b, model, data)?;
    let mut times: Vec<f64> = (0..3)
        .map(|_| {
            let start = Instant::now();
            inference.predict(b, model, data, Mode::Eval, 0).map(|_| start.elapsed().as_secs_f64())
        })
        .collect::<Result<_>>()?;
    times.sort_by(f64::total_cmp);
    Ok((metrics, data.rows as f64 / times[1]))
}

impl Compression {
    /// The output directory, refused where it is the checkpoint's own.
    fn output(&self) -> Result<PathBuf> {
        let run_dir = self.checkpoint.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let run_dir = run_dir.canonicalize().with_context(|| format!("cannot read {}", run_dir.display()))?;
        let output = match &self.output {
            Some(o) => o.clone(),
            None => {
                let name = run_dir.file_name().map_or("run".into(), |n| n.to_string_lossy().into_owned());
                run_dir.with_file_name(format!("{name}-{}", self.change.tag()))
            }
        };
        if output.canonicalize().ok().as_ref() == Some(&run_dir) {
            fail!("--output {} is the checkpoint's own directory; write the new model elsewhere", output.display());
        }
        Ok(output)
    }

    pub fn run(self, b: &mut dyn Backend, observer: &mut dyn Observer) -> Result<Compressed> {
        self.change.check()?;
        // The fine-tuning's epoch count is checked with the other settings, before any work.
        crate::train::TrainConfig { epochs: self.fine_tune_epochs, ..Default::default() }.validate()?;
        let loaded = checkpoint::load(&self.checkpoint)?;
        let staging = Staging::new(&self.output()?)?;
        let cfg = RunConfig::from_checkpoint(&loaded, None, None)?;
        let transform = InputTransform::from_checkpoint(&loaded)?;
        let (train, val, test) = dataset::load_raw(&cfg, &mut |f| observer.event(Event::Fetching(f)))
            .with_context(|| format!("dataset {} (named by the checkpoint's run config)", cfg.dataset))?;
        let prepare = |mut d: Dataset| -> Result<Dataset> {
            transform.apply(&mut d)?;
            Ok(d)
        };
        let (train, val, test) = (prepare(train)?, val.map(prepare).transpose()?, prepare(test)?);
        let mut model = loaded.build_model(b)?;
        let mut inference = Inference::new(b, crate::infer::DEFAULT_BATCH)?;
        let test_data = DeviceData::upload(b, &test)?;
        let (before, speed_before) = measure(b, &mut model, &mut inference, &test_data)?;
        let params_before = model.parameter_count();
        // Fine-tuning continues where training ended: the same rule at the rate the run
        // finished with, held constant (restarting the schedule at its peak undoes what
        // pruning kept).
        let mut opt_config =
            loaded.meta.optimizer.clone().context("the checkpoint holds no optimizer settings to fine-tune with")?;
        let end_lr = Optimizer::scheduled_lr(&opt_config, loaded.meta.optimizer_state.as_ref());
        opt_config.lr = self.fine_tune_lr.unwrap_or(end_lr);
        opt_config.schedule = Schedule::Constant;
        opt_config.validate()?;
        let (mut model, mut opt, factorized) = match &self.change {
            Change::Prune { sparsity, scope } => {
                let mut opt = Optimizer::new(b, opt_config)?;
                sparse::prune(b, &model, &mut opt, *sparsity, *scope)?;
                (model, opt, Vec::new())
            }
            Change::Factorize { rank, layers } => {
                let (small, report) = sparse::factorize(b, &model, layers, *rank)?;
                (small, Optimizer::new(b, opt_config)?, report)
            }
        };
        let (after, speed_after) = measure(b, &mut model, &mut inference, &test_data)?;
        let mut train_config = cfg.train_config()?;
        train_config.epochs = self.fine_tune_epochs;
        train_config.early_stopping = None;
        let mut trainer = Trainer::new(b, train_config)?;
        let mut tuned = None;
        if self.fine_tune_epochs > 0 {
            let train_data = DeviceData::upload(b, &train)?;
            let val_data = val.as_ref().map(|v| DeviceData::upload(b, v)).transpose()?;
            let callbacks: &mut dyn crate::train::Callback = observer;
            trainer.fit(b, &mut model, &mut opt, &train_data, val_data.as_ref(), &mut [callbacks])?;
            if trainer.state().diverged {
                fail!("fine-tuning diverged; nothing was written (try fewer epochs or a smaller learning rate)");
            }
            tuned = Some(measure(b, &mut model, &mut inference, &test_data)?);
        }
        // The run config travels on, naming the new directory as the run's output, so
        // training the new model further (`--resume`) writes there and never over the original.
        let mut run_config = cfg.clone();
        run_config.output = staging.target().display().to_string();
        let extra = super::saved::metadata(&run_config, &transform)?;
        staging.writing("model.safetensors", |path| {
            checkpoint::save_with(path, b, &model, Some(&opt), Some(&trainer), extra)
        })?;
        let summary = Summary::of(&checkpoint::load(&staging.path("model.safetensors"))?);
        let speed = (speed_before, tuned.map_or(speed_after, |t| t.1));
        let report = json!({
            "checkpoint": self.checkpoint.display().to_string(),
            "change": self.change.tag(),
            "device": b.describe(),
            "dataset": cfg.dataset,
            "test_samples": test.rows,
            "params_before": params_before,
            "params_after": model.parameter_count(),
            "zero_weights_after": summary.zeros,
            "weights_after": summary.weights,
            "accuracy_before": before.accuracy,
            "accuracy_after": after.accuracy,
            "accuracy_after_fine_tuning": tuned.map(|t| t.0.accuracy),
            "fine_tune_epochs": self.fine_tune_epochs,
            "fine_tune_lr": opt.config.lr,
            "inference_samples_per_second_before": speed.0,
            "inference_samples_per_second_after": speed.1,
            "factorized": factorized,
            "layers": summary.layers,
        });
        staging.write("summary.json", serde_json::to_string_pretty(&report)?)?;
        let output = staging.commit()?;
        Ok(Compressed {
            output,
            summary,
            factorized,
            params_before,
            params_after: model.parameter_count(),
            accuracy: (before.accuracy, after.accuracy, tuned.map(|t| t.0.accuracy)),
            samples_per_second: speed,
            report,
        })
    }
}
