//! A training run as one library call: resolve the config against the data, build the model
//! (or continue a checkpoint), train under the run's policies — magnitude pruning on a
//! schedule, going back and cutting the rates on divergence, a resume checkpoint at every
//! epoch end — evaluate on the test set, and write the run directory all or nothing.
//!
//! ```no_run
//! use wgtrain::run::{Quiet, Run, RunConfig};
//! let config = RunConfig { dataset: "digits".into(), epochs: 5, output: "runs/digits".into(), ..Default::default() };
//! let mut backend = wgtrain::CpuBackend::new();
//! let outcome = Run::new(config).train(&mut backend, &mut Quiet)?;
//! println!("test accuracy {:.2}%", 100.0 * outcome.test.accuracy);
//! # Ok::<(), wgtrain::Error>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::config::{OnDivergence, RunConfig};
use super::dataset::{self, Splits};
use super::observe::{DataSummary, EarlyStop, Event, Observer, Outcome};
use super::output::Staging;
use super::resume::ResumeDir;
use super::write::{Ending, Parts};
use crate::backend::Backend;
use crate::data::DeviceData;
use crate::error::{Error, Result};
use crate::fail;
use crate::nn::Sequential;
use crate::optim::Optimizer;
use crate::train::{checkpoint, Replicas, Trainer};

/// Times `OnDivergence::ReduceLr` cuts the rates before the run gives up.
const MAX_LR_REDUCTIONS: usize = 3;
/// Each cut: a decade (halving rarely rescues a run whose last finite epoch already overshot).
const LR_CUT: f32 = 0.1;

/// A training run: a config, and optionally a checkpoint to continue and the other replicas
/// of a data-parallel run.
pub struct Run {
    config: RunConfig,
    resume: Option<PathBuf>,
    replicas: Option<Box<dyn Replicas>>,
}

/// The model, optimizer and loop of a run in progress, with the data they train on.
struct Loop {
    model: Sequential,
    opt: Optimizer,
    trainer: Trainer,
    train: DeviceData,
    val: Option<DeviceData>,
}

/// The run's record of divergence: the cuts made, and the epoch that ended it.
#[derive(Default)]
struct Divergence {
    cuts: Vec<serde_json::Value>,
    ended_in: Option<(usize, f32)>,
}

impl Run {
    pub fn new(config: RunConfig) -> Self {
        Self { config, resume: None, replicas: None }
    }

    /// Continue the run saved in `checkpoint` (a resume checkpoint, or a finished run's model
    /// to train further) up to the config's epochs. The checkpoint's architecture is the
    /// truth: a pruned or factorized model differs from the layers its config names.
    pub fn resuming(mut self, checkpoint: impl Into<PathBuf>) -> Self {
        self.resume = Some(checkpoint.into());
        self
    }

    /// Run as one replica of a data-parallel run (`train::Replicas`): every replica trains on
    /// its slice of each global batch; replica 0 alone writes the run directory and the resume
    /// checkpoints (which the others read back after a divergence: keep the output on a
    /// filesystem every replica sees). Replicas whose configs or data differ are refused
    /// before the first step, with the first difference named.
    pub fn replicated(mut self, replicas: Box<dyn Replicas>) -> Self {
        self.replicas = Some(replicas);
        self
    }

    /// Whether this process writes the run's files (the only one, or replica 0).
    fn writes(&self) -> bool {
        self.replicas.as_ref().is_none_or(|r| r.rank() == 0)
    }

    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// Train, evaluate on the test set and write the run directory: `prepare`, then
    /// `Prepared::train`.
    pub fn train(self, b: &mut dyn Backend, observer: &mut dyn Observer) -> Result<Outcome> {
        self.prepare(observer)?.train(b, observer)
    }

    /// Everything a run can do before it needs a device: check the config, lock and check the
    /// output, and load the data (fetching it on first use). A run that cannot start fails
    /// here, before a device is opened or tuned.
    pub fn prepare(self, observer: &mut dyn Observer) -> Result<Prepared> {
        // Epoch lengths are only known with the data: a nominal 1,000 steps stands in for them.
        let train_config = self.config.train_config()?;
        self.config.model_spec(1, 2)?;
        self.config.optimizer(1_000)?;
        let staging = if self.writes() { Some(Staging::new(Path::new(&self.config.output))?) } else { None };
        let resume_dir = ResumeDir::beside(staging.as_ref().map_or(Path::new(&self.config.output), |s| s.target()));
        // An interrupted run on this output is continued or kept, never overwritten by another
        // (a fresh run, or one resumed from elsewhere).
        let same_file = |a: &Path, b: &Path| a.canonicalize().ok().is_some_and(|a| b.canonicalize().ok() == Some(a));
        let resuming_it = self.resume.as_deref().is_some_and(|r| same_file(r, &resume_dir.checkpoint()));
        if self.writes() && !resuming_it && resume_dir.checkpoint().exists() {
            fail!(
                "{} holds an interrupted run on this output; continue it with: wgtrain train --resume {} \
                 (or remove that directory to start over)",
                resume_dir.dir.display(),
                resume_dir.dir.display()
            );
        }
        let splits = dataset::load(&self.config, &mut |f| observer.event(Event::Fetching(f)))?;
        train_config.check_rows(splits.train.rows)?;
        // With the data known, the schedule must last the whole run.
        let steps_per_epoch = splits.train.rows.div_ceil(self.config.batch_size);
        let opt = self.config.optimizer(steps_per_epoch)?;
        let total = (steps_per_epoch as u64 * self.config.epochs as u64).min(u32::MAX as u64) as u32;
        opt.schedule.check_lasts(opt.lr, total)?;
        Ok(Prepared { run: self, train_config, staging, resume_dir, splits })
    }
}

/// A run whose config, output and data are ready: what remains needs a device.
pub struct Prepared {
    run: Run,
    train_config: crate::train::TrainConfig,
    /// The output, locked; None on replicas that do not write.
    staging: Option<Staging>,
    resume_dir: ResumeDir,
    splits: Splits,
}

impl Prepared {
    /// Train, evaluate on the test set and write the run directory. On divergence the run
    /// keeps (and writes) the last good epoch and returns `Error::Diverged`; asked to stop
    /// (`Callback::stop_requested`), it returns `Error::RunInterrupted` naming the resume
    /// directory that continues it.
    pub fn train(self, b: &mut dyn Backend, observer: &mut dyn Observer) -> Result<Outcome> {
        let Prepared { run: mut this, train_config, staging, resume_dir, splits } = self;
        let writes = this.writes();
        let mut run = this.start(b, &splits, train_config, observer)?;
        let extra = super::saved::metadata(&this.config, &splits.transform)?;
        let test = DeviceData::upload(b, &splits.test)?;
        let start = Instant::now();
        run.trainer.begin(b, &mut run.model, &mut run.opt, &run.train)?;
        // The last good state is on disk before the first step, and after every epoch.
        if writes {
            resume_dir.save(b, &run.model, &run.opt, &run.trainer, extra.clone())?;
        }
        let divergence = this.train_loop(b, &mut run, &resume_dir, &extra, observer)?;
        let advice = format!(
            "Lower the learning rate (now {}), clip gradients (--clip-norm 1), or pass --on-divergence reduce-lr",
            this.config.optimizer.settings.get("lr").unwrap_or_default()
        );
        if let Some((epoch, loss)) = divergence.ended_in.filter(|_| run.trainer.state().epoch == 0) {
            // No epoch of this run ever completed: there is nothing better than the initial
            // weights to keep, so an existing output stays as it is.
            if writes {
                resume_dir.remove();
            }
            return Err(Error::Diverged { epoch, loss, kept: None, advice });
        }
        run.trainer.finish(b)?;
        let wall = start.elapsed().as_secs_f64();
        let test_metrics = run.trainer.evaluate(b, &mut run.model, &test)?;
        // The trained loop is in the resume directory until the outputs are in place: if
        // writing them fails (a full disk), resuming writes them without training again.
        let ending =
            Ending { test: test_metrics, wall_seconds: wall, cuts: &divergence.cuts, diverged_in: divergence.ended_in };
        let parts = Parts { config: &this.config, model: &run.model, opt: &run.opt, trainer: &run.trainer };
        let outcome = super::write::outputs(b, parts, extra, staging, ending).map_err(|e| {
            Error::msg(format!(
                "{e}\n(the trained run is kept in {dir}: once that is fixed, `wgtrain train --resume {dir}` writes \
                 the outputs without training again)",
                dir = resume_dir.dir.display()
            ))
        })?;
        if writes {
            resume_dir.remove();
        }
        if let Some((epoch, loss)) = divergence.ended_in {
            let kept = Some((run.trainer.state().epoch, outcome.output.display().to_string()));
            return Err(Error::Diverged { epoch, loss, kept, advice });
        }
        Ok(outcome)
    }
}

impl Run {
    /// Resolve the config against the data, tell the observer, and build the loop: new, or
    /// from the checkpoint being resumed.
    fn start(
        &mut self,
        b: &mut dyn Backend,
        splits: &Splits,
        train_config: crate::train::TrainConfig,
        observer: &mut dyn Observer,
    ) -> Result<Loop> {
        let (train, test) = (&splits.train, &splits.test);
        let classes = train.classes.max(test.classes);
        let spec = self.config.model_spec(train.cols, classes)?;
        let opt_config = self.config.optimizer(train.rows.div_ceil(self.config.batch_size))?;
        // The config saved is the one that ran: defaults that depend on the data or the
        // optimizer are written out.
        self.config.standardize = Some(splits.standardized);
        self.config.optimizer.resolve(&opt_config);
        let data = DataSummary {
            train: train.rows,
            validation: splits.val.as_ref().map_or(0, |v| v.rows),
            test: test.rows,
            features: train.cols,
            classes,
        };
        observer.event(Event::Resolved { config: &self.config, data });
        if let Some(r) = self.replicas.as_mut() {
            super::agree::same_run(r.as_mut(), &self.config, splits)?;
        }
        let (mut model, opt, trainer) = match &self.resume {
            None => (
                Sequential::with_precision(b, &spec, self.config.seed, self.config.precision)?,
                Optimizer::new(b, opt_config)?,
                Trainer::new(b, train_config)?,
            ),
            Some(path) => {
                let loaded = checkpoint::load(path)?;
                let saved = &loaded.meta.model;
                if saved.inputs != spec.inputs || saved.outputs() < classes {
                    fail!(
                        "--resume {}: the model takes {} features to {} classes but the data has {} and {classes}",
                        path.display(),
                        saved.inputs,
                        saved.outputs(),
                        spec.inputs
                    );
                }
                let mut model = loaded.build_model_in(b, self.config.precision)?;
                let opt = loaded.restore_optimizer(b, &mut model)?;
                let mut trainer = loaded.restore_trainer(b, &model)?;
                let done = trainer.state().epoch;
                if train_config.epochs < done {
                    fail!(
                        "--epochs {}: {} has trained {done} epochs already, and --epochs is the total from the run's \
                         start: give more than {done} to train on (or leave --epochs out to write its outputs)",
                        train_config.epochs,
                        path.display()
                    );
                }
                trainer.set_epochs(train_config.epochs);
                trainer.set_sync_batch_norm(train_config.sync_batch_norm);
                observer.event(Event::Resuming { epoch: trainer.state().epoch, epochs: train_config.epochs });
                (model, opt, trainer)
            }
        };
        let mut trainer = trainer;
        if let Some(r) = self.replicas.take() {
            trainer.set_replicas(r);
        }
        observer.event(Event::Model(model.spec()));
        let train = DeviceData::upload(b, train)?;
        if let Some(path) = &self.resume {
            // A checkpoint whose model already gives a non-finite loss cannot be continued (the
            // run would diverge at once and keep it as the last good epoch): say so first.
            let rows = train.rows.min(crate::infer::DEFAULT_BATCH);
            let stats = trainer.inference().evaluate_rows(b, &mut model, &train, 0, rows)?;
            let loss = crate::infer::Metrics::from_stats(&stats).loss;
            if !loss.is_finite() {
                fail!(
                    "--resume {}: the model it holds gives a {loss} loss on the first {rows} training samples before \
                     any step (its weights are past f32's range or not numbers); it cannot be continued: resume from \
                     an earlier checkpoint, or train afresh",
                    path.display()
                );
            }
        }
        let val = splits.val.as_ref().map(|v| DeviceData::upload(b, v)).transpose()?;
        Ok(Loop { model, opt, trainer, train, val })
    }

    /// Epochs until the run is done: pruning at each epoch's start where the schedule says,
    /// a resume checkpoint at each good epoch's end, and on divergence back to the last good
    /// epoch (then smaller steps, or the end).
    fn train_loop(
        &self,
        b: &mut dyn Backend,
        run: &mut Loop,
        resume_dir: &ResumeDir,
        extra: &BTreeMap<String, String>,
        observer: &mut dyn Observer,
    ) -> Result<Divergence> {
        let cfg = &self.config;
        let mut divergence = Divergence::default();
        // Cuts since the last good checkpoint, which holds the rates from before them.
        let mut cuts_from_here = 0;
        while !run.trainer.done() {
            if let Some(p) = &cfg.prune {
                let epoch = run.trainer.state().epoch + 1;
                if let Some(s) = p.target_at(epoch, cfg.epochs).filter(|s| *s > 0.0) {
                    let layers = crate::sparse::prune(b, &run.model, &mut run.opt, s, p.scope)?;
                    let zeros = crate::sparse::prune::total_zero_fraction(&layers);
                    observer.event(Event::Pruned { epoch, zeros, target: s });
                }
            }
            let callbacks: &mut dyn crate::train::Callback = observer;
            match run.trainer.run_epoch(b, &mut run.model, &mut run.opt, &run.train, run.val.as_ref(), &mut [callbacks])
            {
                Err(Error::Interrupted { epoch, step, steps }) => {
                    let resume = resume_dir.dir.display().to_string();
                    return Err(Error::RunInterrupted { epoch, step, steps, resume });
                }
                result => result?,
            };
            if !run.trainer.state().diverged {
                if run.trainer.replica().0 == 0 {
                    resume_dir.save(b, &run.model, &run.opt, &run.trainer, extra.clone())?;
                }
                cuts_from_here = 0;
                continue;
            }
            // Back to the last good epoch, then carry on with smaller steps or stop there.
            let epoch = run.trainer.state().epoch;
            let history = run.trainer.history();
            let loss =
                history
                    .last()
                    .map_or(f32::NAN, |r| if r.loss.is_finite() { r.val_loss.unwrap_or(r.loss) } else { r.loss });
            let diverged = history.last().cloned();
            let good = checkpoint::load(&resume_dir.checkpoint())?;
            good.restore_model(b, &mut run.model)?;
            run.opt = good.restore_optimizer(b, &mut run.model)?;
            let replicas = run.trainer.take_replicas();
            run.trainer = good.restore_trainer(b, &run.model)?;
            if let Some(r) = replicas {
                run.trainer.set_replicas(r);
            }
            run.trainer.set_epochs(cfg.epochs);
            if cfg.on_divergence == OnDivergence::ReduceLr && divergence.cuts.len() < MAX_LR_REDUCTIONS {
                cuts_from_here += 1;
                run.opt.scale_lr(LR_CUT.powi(cuts_from_here));
                run.trainer.begin(b, &mut run.model, &mut run.opt, &run.train)?;
                divergence
                    .cuts
                    .push(serde_json::json!({ "epoch": epoch, "loss": loss, "lr_after": run.opt.config.lr }));
                observer.event(Event::LrCut { epoch, loss });
                continue;
            }
            // The record of the epoch that diverged stays in the history; the weights,
            // optimizer and loop are those of the epoch before it.
            run.trainer.end_diverged(diverged);
            divergence.ended_in = Some((epoch, loss));
            break;
        }
        Ok(divergence)
    }
}

impl Outcome {
    /// How early stopping ended the run, from the trainer at its end.
    pub(super) fn early_stop(trainer: &Trainer) -> Option<EarlyStop> {
        let (es, s) = (trainer.config().early_stopping.as_ref()?, trainer.state());
        (s.stopped && !s.diverged).then_some(EarlyStop {
            patience: es.patience,
            best_epoch: s.best_epoch,
            best_val_loss: s.best_val_loss,
            epoch: s.epoch,
            restored: es.restore_best,
        })
    }
}
