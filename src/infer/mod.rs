//! Inference: evaluation (loss and accuracy), prediction, and Monte Carlo dropout
//! (Gal & Ghahramani 2016) over a device-resident dataset, in batches of a fixed size.
//! Needs no optimizer and no training configuration; the trainer holds one for validation.

pub mod report;

use crate::backend::{stat, Activation, ActivationArgs, Backend, Gather, Loss, StepCounters};
use crate::data::DeviceData;
use crate::error::{Error, Result};
use crate::nn::{Mode, Sequential, Workspace};
use crate::tensor::Tensor;

/// Loss and accuracy over a dataset (or the running values of a training epoch).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    pub loss: f32,
    pub accuracy: f32,
}

impl Metrics {
    /// From the `stat::*` accumulators the loss kernels add to.
    pub fn from_stats(s: &[f32]) -> Self {
        Self { loss: s[stat::LOSS_SUM] / s[stat::SAMPLES], accuracy: s[stat::CORRECT] / s[stat::ACCURACY_COUNT] }
    }
}

/// The default evaluation batch size (`TrainConfig::eval_batch_size`).
pub const DEFAULT_BATCH: usize = 1000;

/// Runs a model forward over datasets, `batch_size` rows at a time.
pub struct Inference {
    batch_size: usize,
    /// The loss and accuracy accumulators of `evaluate`.
    stats: Tensor,
}

impl Inference {
    pub fn new(b: &mut dyn Backend, batch_size: usize) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::config("evaluation batch size", "0; it must be at least 1"));
        }
        Ok(Self { batch_size, stats: b.zeros(1, 4)? })
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Loss and accuracy over `data` in evaluation mode (dropout off, running statistics).
    pub fn evaluate(&mut self, b: &mut dyn Backend, model: &mut Sequential, data: &DeviceData) -> Result<Metrics> {
        Ok(Metrics::from_stats(&self.evaluate_rows(b, model, data, 0, data.rows)?))
    }

    /// The `stat::*` sums (loss, correct, counts) over rows `first..first + count` of `data`
    /// in evaluation mode: a replica's shard, summed with the others' into `evaluate`'s value.
    pub fn evaluate_rows(
        &mut self,
        b: &mut dyn Backend,
        model: &mut Sequential,
        data: &DeviceData,
        first: usize,
        count: usize,
    ) -> Result<Vec<f32>> {
        b.fill(self.stats, 0.0)?;
        let stats = self.stats;
        self.batches_over(b, model, data, (first, count), Mode::Eval, 0, |b, model, ws, logits| {
            let w = model.ws(ws);
            b.loss(model.spec().loss, logits, w.targets.unwrap_or(w.labels), w.dlogits, stats, 1.0)
        })?;
        b.read(self.stats)
    }

    /// Class probabilities (rows × outputs, in data order) in `mode`; `pass` keys the dropout
    /// masks for `Mode::McDropout`.
    pub fn predict(
        &mut self,
        b: &mut dyn Backend,
        model: &mut Sequential,
        data: &DeviceData,
        mode: Mode,
        pass: u32,
    ) -> Result<Vec<f32>> {
        b.write_u32(data.order, &(0..data.rows as u32).collect::<Vec<_>>())?;
        let mut out = Vec::with_capacity(data.rows * model.spec().outputs());
        self.batches(b, model, data, mode, pass, |b, model, ws, logits| {
            let probs = model.ws(ws).dlogits;
            match model.spec().loss {
                Loss::SoftmaxCrossEntropy => b.softmax(logits, probs)?,
                // Independent outputs: each its own probability.
                Loss::SigmoidBinaryCrossEntropy => {
                    b.activation_forward(Activation::Sigmoid, logits, probs, ActivationArgs::default())?
                }
                Loss::MeanSquaredError => b.copy(logits, probs)?,
            }
            out.extend(b.read(probs)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Monte Carlo dropout: the mean and standard deviation of `passes` stochastic predictions.
    pub fn predict_mc(
        &mut self,
        b: &mut dyn Backend,
        model: &mut Sequential,
        data: &DeviceData,
        passes: u32,
    ) -> Result<(Vec<f32>, Vec<f32>)> {
        if passes == 0 {
            return Err(Error::config("MC dropout passes", "0; it must be at least 1"));
        }
        let mut mean: Vec<f64> = Vec::new();
        let mut sq: Vec<f64> = Vec::new();
        for pass in 0..passes {
            let p = self.predict(b, model, data, Mode::McDropout, pass)?;
            if mean.is_empty() {
                mean = vec![0.0; p.len()];
                sq = vec![0.0; p.len()];
            }
            for (i, &v) in p.iter().enumerate() {
                mean[i] += v as f64;
                sq[i] += (v as f64).powi(2);
            }
        }
        let n = passes as f64;
        let std = mean.iter().zip(&sq).map(|(m, s)| ((s / n - (m / n).powi(2)).max(0.0)).sqrt() as f32).collect();
        Ok((mean.iter().map(|m| (m / n) as f32).collect(), std))
    }

    /// Run the forward pass in `mode` over `data` in batches, calling `each` after each
    /// batch's forward (before its submit).
    fn batches(
        &self,
        b: &mut dyn Backend,
        model: &mut Sequential,
        data: &DeviceData,
        mode: Mode,
        pass: u32,
        each: impl FnMut(&mut dyn Backend, &mut Sequential, usize, Tensor) -> Result<()>,
    ) -> Result<()> {
        self.batches_over(b, model, data, (0, data.rows), mode, pass, each)
    }

    /// `batches` over rows `first..first + count` of `data` only.
    #[allow(clippy::too_many_arguments)]
    fn batches_over(
        &self,
        b: &mut dyn Backend,
        model: &mut Sequential,
        data: &DeviceData,
        (first, count): (usize, usize),
        mode: Mode,
        pass: u32,
        mut each: impl FnMut(&mut dyn Backend, &mut Sequential, usize, Tensor) -> Result<()>,
    ) -> Result<()> {
        let end = (first + count).min(data.rows);
        let batch = self.batch_size.min(count).max(1);
        for offset in (first..end).step_by(batch) {
            let rows = batch.min(end - offset);
            let ws = model.workspace(b, rows)?;
            b.begin_step(StepCounters { step: pass, batch_offset: offset as u32, row_base: 0 })?;
            gather_batch(b, data, model.ws(ws))?;
            let logits = model.forward(b, ws, mode)?;
            each(b, model, ws, logits)?;
            b.submit()?;
        }
        Ok(())
    }
}

/// Gather a batch's inputs and what its loss reads, the labels or (for losses that take
/// them) the f32 targets, from `data` through its row order into workspace `w`.
pub fn gather_batch(b: &mut dyn Backend, data: &DeviceData, w: &Workspace) -> Result<()> {
    b.gather_rows(&data.x, data.order, w.input, data.gather)?;
    match w.targets {
        None => b.gather_rows(&[data.labels], data.order, w.labels, Gather::default()),
        Some(t) => {
            let source = data.targets.ok_or_else(|| {
                Error::config(
                    "data",
                    "the model's loss takes f32 targets but the data has none; add them with DeviceData::with_binary_targets",
                )
            })?;
            b.gather_rows(&[source], data.order, t, Gather::default())
        }
    }
}
