//! The training loop. Per epoch: one shuffled order written to the device; per step: the step
//! counters and optimizer scalars written, then gather → forward → loss → backward → update
//! recorded and submitted once. Loss and accuracy accumulate on the device and are read back
//! once per epoch.

use std::time::Instant;

use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::config::{TrainConfig, TrainerState};
use super::history::{EpochRecord, History, Sparsity};
use super::replicas::Replicas;
use crate::backend::{Backend, Loss};
use crate::data::DeviceData;
use crate::error::{Error, Result};
use crate::infer::{Inference, Metrics};
use crate::nn::Sequential;
use crate::optim::Optimizer;
use crate::tensor::Tensor;

/// Hooks for progress display; every method has a do-nothing default.
pub trait Callback {
    fn on_epoch_start(&mut self, _epoch: usize, _batches: usize) {}
    fn on_batch_end(&mut self, _batch: usize, _rows: usize) {}
    /// The running training metrics, every `TrainConfig::log_every` steps.
    fn on_progress(&mut self, _metrics: Metrics) {}
    fn on_epoch_end(&mut self, _record: &EpochRecord) {}
    /// Asked after every step: true ends the epoch there with `Error::Interrupted` (the
    /// model and optimizer are then part-way through the epoch; resume from the last
    /// checkpoint taken at an epoch end).
    fn stop_requested(&self) -> bool {
        false
    }
}

pub struct Trainer {
    config: TrainConfig,
    state: TrainerState,
    history: History,
    stats: Tensor,
    /// Validation runs through this (`config.eval_batch_size` rows a batch).
    inference: Inference,
    /// (live tensor, best-epoch copy) for early stopping's restore.
    best: Vec<(Tensor, Tensor)>,
    /// The other replicas of a data-parallel run (`parallel`).
    replicas: Option<Box<dyn Replicas>>,
    /// A callback asked this replica to stop; the next step tells the others.
    stop_wanted: bool,
    /// Some replica asked to stop: every replica stops after the same step.
    stop_agreed: bool,
    /// Time spent exchanging gradients (readback, all-reduce, upload), and bytes all-reduced.
    sync_seconds: f64,
    sync_bytes: u64,
    sync_steps: u64,
}

/// A global batch (rows `offset..offset + rows` of the epoch's order) and the slice of it one
/// replica takes (`first..first + count`; the whole batch in a run of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSlice {
    pub offset: usize,
    pub rows: usize,
    pub first: usize,
    pub count: usize,
}

/// The order of the training rows in `epoch`: a pure function of (seed, epoch).
pub fn epoch_order(seed: u64, epoch: usize, rows: usize) -> Vec<u32> {
    let mut order: Vec<u32> = (0..rows as u32).collect();
    let key = seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(key));
    order
}

mod early;
mod parallel;
mod step;

impl Trainer {
    pub fn new(b: &mut dyn Backend, config: TrainConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            inference: Inference::new(b, config.eval_batch_size)?,
            config,
            state: TrainerState::default(),
            history: History::default(),
            stats: b.zeros(1, 4)?,
            best: Vec::new(),
            replicas: None,
            stop_wanted: false,
            stop_agreed: false,
            sync_seconds: 0.0,
            sync_bytes: 0,
            sync_steps: 0,
        })
    }

    /// A trainer continuing a saved loop: its config, state, history and best-epoch copies.
    pub fn restored(b: &mut dyn Backend, config: TrainConfig, state: TrainerState, history: History) -> Result<Self> {
        let mut t = Self::new(b, config)?;
        (t.state, t.history) = (state, history);
        Ok(t)
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Where the loop is.
    pub fn state(&self) -> &TrainerState {
        &self.state
    }

    /// One record per completed epoch.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Train as one replica of a data-parallel run: each step takes this replica's slice of
    /// the global batch (`train::shard`) and sums gradients with the others before the
    /// update; the training metrics are summed over the replicas at each epoch's end.
    pub fn set_replicas(&mut self, replicas: Box<dyn Replicas>) {
        self.replicas = Some(replicas);
    }

    /// (rank, size) of this replica; (0, 1) for a run of one.
    pub fn replica(&self) -> (usize, usize) {
        self.replicas.as_ref().map_or((0, 1), |r| (r.rank(), r.size()))
    }

    /// Seconds this replica spent exchanging gradients since it was made (from gradients
    /// ready to the sum uploaded: readback, all-reduce, upload), the bytes it all-reduced, and
    /// the steps.
    pub fn gradient_sync(&self) -> (f64, u64, u64) {
        (self.sync_seconds, self.sync_bytes, self.sync_steps)
    }

    /// Batch norm over the whole global batch (`TrainConfig::sync_batch_norm`): a resumed run
    /// may choose afresh, as it may choose its rank count.
    pub fn set_sync_batch_norm(&mut self, on: bool) {
        self.config.sync_batch_norm = on;
    }

    /// Take back the replicas (to hand them to a restored trainer).
    pub fn take_replicas(&mut self) -> Option<Box<dyn Replicas>> {
        self.replicas.take()
    }

    /// Run until `epochs` epochs in all (a resumed run given a new length).
    pub fn set_epochs(&mut self, epochs: usize) {
        self.config.epochs = epochs;
    }

    /// End the loop as diverged, keeping `record` (the epoch that diverged, whose weights were
    /// put back to the epoch before) in the history.
    pub fn end_diverged(&mut self, record: Option<EpochRecord>) {
        self.history.epochs.extend(record);
        (self.state.diverged, self.state.stopped) = (true, true);
    }

    /// Loss and accuracy of `model` on `data` (inference mode, `config.eval_batch_size` rows
    /// a batch).
    /// In a data-parallel run each replica evaluates its shard of the rows (`shard`) and the
    /// sums are all-reduced: every replica returns the whole set's metrics.
    pub fn evaluate(&mut self, b: &mut dyn Backend, model: &mut Sequential, data: &DeviceData) -> Result<Metrics> {
        if self.replicas.is_none() {
            return self.inference.evaluate(b, model, data);
        }
        // Evaluate with replica 0's running statistics, the ones its checkpoints hold (PyTorch
        // DDP's buffer broadcast): each replica's came from its own slices, or, synchronized,
        // missed the steps where it had no rows.
        self.broadcast_buffers(b, model)?;
        let Some(r) = self.replicas.as_mut() else { unreachable!("checked above") };
        let (first, count) = super::shard(0, data.rows, r.rank(), r.size());
        let mut stats = self.inference.evaluate_rows(b, model, data, first, count)?;
        r.all_reduce_sum(&mut stats)?;
        Ok(Metrics::from_stats(&stats))
    }

    /// The evaluation and prediction runner the trainer validates with.
    pub fn inference(&mut self) -> &mut Inference {
        &mut self.inference
    }

    fn check_fit(&self, model: &Sequential, train: &DeviceData) -> Result<()> {
        let outputs = model.spec().outputs();
        match model.spec().loss {
            Loss::SoftmaxCrossEntropy => {}
            Loss::SigmoidBinaryCrossEntropy => {
                match train.targets {
                    None => return Err(Error::config(
                        "data",
                        "the model's loss is sigmoid cross-entropy, which takes f32 targets, and the data has none; \
                         add them with DeviceData::with_binary_targets",
                    )),
                    Some(t) if t.cols != outputs => {
                        return Err(Error::config("data", format!("{} targets per row for {outputs} outputs", t.cols)))
                    }
                    Some(_) => {}
                }
            }
            Loss::MeanSquaredError => {
                return Err(Error::config("loss", "the trainer fits classifiers (softmax or sigmoid cross-entropy)"))
            }
        }
        self.config.check_rows(train.rows)?;
        if train.cols != model.spec().inputs {
            return Err(Error::config(
                "data",
                format!("{} features but the model takes {}", train.cols, model.spec().inputs),
            ));
        }
        if train.classes > outputs && !(outputs == 1 && train.targets.is_some()) {
            return Err(Error::config(
                "data",
                format!("{} classes but the model has {} outputs", train.classes, model.spec().outputs()),
            ));
        }
        Ok(())
    }

    /// Train until `config.epochs` epochs are done (counting any already done), early
    /// stopping ends the run, or the training loss stops being finite (`state.diverged`).
    pub fn fit(
        &mut self,
        b: &mut dyn Backend,
        model: &mut Sequential,
        opt: &mut Optimizer,
        train: &DeviceData,
        val: Option<&DeviceData>,
        callbacks: &mut [&mut dyn Callback],
    ) -> Result<()> {
        self.begin(b, model, opt, train)?;
        while !self.done() {
            self.run_epoch(b, model, opt, train, val, callbacks)?;
        }
        self.finish(b)
    }

    /// Check the model fits the data and attach the optimizer: what `fit` does before its
    /// first epoch, for loops that call `run_epoch` themselves.
    pub fn begin(
        &mut self,
        b: &mut dyn Backend,
        model: &mut Sequential,
        opt: &mut Optimizer,
        train: &DeviceData,
    ) -> Result<()> {
        self.check_fit(model, train)?;
        opt.attach(b, model.params_mut())?;
        self.broadcast_model(b, model)
    }

    /// Whether the loop is over: every epoch run, or stopped (early, or on divergence).
    pub fn done(&self) -> bool {
        self.state.epoch >= self.config.epochs || self.state.stopped
    }

    /// What `fit` does after its last epoch: put back the best epoch's weights when early
    /// stopping asks for it.
    pub fn finish(&mut self, b: &mut dyn Backend) -> Result<()> {
        if self.config.early_stopping.as_ref().is_some_and(|e| e.restore_best) {
            for &(live, best) in &self.best {
                b.copy(best, live)?;
            }
            b.sync()?;
        }
        Ok(())
    }

    /// One epoch: shuffle, every batch, metrics, validation, early stopping.
    pub fn run_epoch(
        &mut self,
        b: &mut dyn Backend,
        model: &mut Sequential,
        opt: &mut Optimizer,
        train: &DeviceData,
        val: Option<&DeviceData>,
        callbacks: &mut [&mut dyn Callback],
    ) -> Result<EpochRecord> {
        let (rows, batch) = (train.rows, self.config.batch_size);
        b.write_u32(train.order, &epoch_order(self.config.seed, self.state.epoch, rows))?;
        b.fill(self.stats, 0.0)?;
        let batches = rows.div_ceil(batch);
        callbacks.iter_mut().for_each(|c| c.on_epoch_start(self.state.epoch + 1, batches));
        let start = Instant::now();
        // The history's rate is the mean of the rates the epoch's steps used.
        let mut lr_sum = 0.0f64;
        for k in 0..batches {
            lr_sum += opt.lr() as f64;
            let offset = k * batch;
            let n = batch.min(rows - offset);
            self.step(b, model, opt, train, offset, n)?;
            callbacks.iter_mut().for_each(|c| c.on_batch_end(k + 1, n));
            let wanted = callbacks.iter().any(|c| c.stop_requested());
            let stop = match self.replicas {
                None => wanted,
                Some(_) => {
                    self.stop_wanted |= wanted;
                    self.stop_agreed
                }
            };
            if stop {
                b.sync()?;
                return Err(Error::Interrupted { epoch: self.state.epoch + 1, step: k + 1, steps: batches });
            }
            // The first step too, so progress shows a loss from the start.
            let log = self.config.log_every > 0 && (k == 0 || (k + 1) % self.config.log_every == 0);
            if log && !callbacks.is_empty() {
                let m = self.running_metrics(b)?;
                callbacks.iter_mut().for_each(|c| c.on_progress(m));
            }
        }
        b.sync()?;
        let seconds = start.elapsed().as_secs_f64();
        let mut stats = b.read(self.stats)?;
        if let Some(r) = self.replicas.as_mut() {
            r.all_reduce_sum(&mut stats)?;
        }
        let train_metrics = Metrics::from_stats(&stats);
        let val_metrics = val.map(|v| self.evaluate(b, model, v)).transpose()?;
        // Only non-finite values count: cross-entropy is unbounded, and runs with large steps
        // reach losses in the thousands on confident mistakes and still recover.
        if !train_metrics.loss.is_finite() || val_metrics.is_some_and(|v| !v.loss.is_finite()) {
            // Nothing more can be learned from weights that overflow: stop, and say so in the
            // state. (A finite training loss with a NaN validation loss means the weights
            // overflowed during the epoch's last steps.)
            self.state.diverged = true;
            self.state.stopped = true;
        }
        if let Some(v) = val_metrics.filter(|_| !self.state.diverged) {
            opt.end_epoch(v.loss);
            self.early_stopping(b, model, v.loss)?;
        }
        self.state.epoch += 1;
        let sparsity = match self.config.sparsity_threshold {
            Some(threshold) => {
                let layers = crate::sparse::measure(b, model, threshold)?;
                let (below, weights) = layers.iter().fold((0, 0), |(z, n), l| (z + l.below, n + l.weights));
                Some(Sparsity {
                    threshold,
                    total: below as f32 / weights.max(1) as f32,
                    layers: layers.iter().map(|l| l.below_fraction() as f32).collect(),
                })
            }
            None => None,
        };
        let record = EpochRecord {
            epoch: self.state.epoch,
            loss: train_metrics.loss,
            accuracy: train_metrics.accuracy,
            val_loss: val_metrics.map(|m| m.loss),
            val_accuracy: val_metrics.map(|m| m.accuracy),
            lr: (lr_sum / batches as f64) as f32,
            seconds,
            samples_per_second: rows as f64 / seconds,
            samples: rows,
            sparsity,
        };
        callbacks.iter_mut().for_each(|c| c.on_epoch_end(&record));
        self.history.epochs.push(record.clone());
        Ok(record)
    }
}
