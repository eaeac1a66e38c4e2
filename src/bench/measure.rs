//! Measuring one (model, backend, batch size). A training step is the trainer's own step
//! (gather, forward, loss, backward, update: one submission); an inference batch is the
//! input gather and the forward pass in evaluation mode, one submission, logits left on the
//! device. Warm-up is excluded from the rates and reported as first-step latency. Each repeat
//! runs enough steps to last about a quarter of a second, then waits for the device.

use std::time::Instant;

use serde::Serialize;

use super::report::{Rate, Row};
use super::BenchModel;
use crate::backend::{Backend, Counters, StepCounters};
use crate::data::{sources, DeviceData};
use crate::error::{Error, Result};
use crate::nn::{Mode, Sequential};
use crate::optim::{Optimizer, OptimizerConfig, OptimizerKind};
use crate::train::{TrainConfig, Trainer};

/// Batches of distinct data a run cycles through.
const DISTINCT_BATCHES: usize = 4;
/// Target length of one repeat.
const REPEAT_SECONDS: f64 = 0.25;
/// Isolated steps timed for the encode/device split.
const ISOLATED_STEPS: usize = 5;
/// Rounds of the profile, each a run of unprofiled steps (wall time) and one of profiled
/// steps (device time per kernel); the wall time reported is the rounds' median.
const PROFILE_ROUNDS: usize = 5;
/// Inference calls timed for latency percentiles (at least, at most).
const LATENCY_CALLS: (usize, usize) = (20, 200);

/// A model, its optimizer and trainer, and synthetic data on one backend.
pub(super) struct Setup {
    model: Sequential,
    opt: Optimizer,
    pub(super) trainer: Trainer,
    data: DeviceData,
    batch: usize,
}

impl Setup {
    pub(super) fn new(b: &mut dyn Backend, m: &BenchModel, batch: usize) -> Result<Self> {
        if batch == 0 {
            return Err(Error::config("bench batch size", "0; it must be at least 1"));
        }
        let (inputs, classes) = (m.layers[0], *m.layers.last().expect("validated widths"));
        // The step's cost does not depend on the values: Gaussian blobs, one per class.
        let per_class = (DISTINCT_BATCHES * batch).div_ceil(classes);
        let data = sources::blobs(per_class, classes, inputs, 1.0, 1);
        let mut model = Sequential::with_precision(b, &m.spec(), 1, m.precision)?;
        let opt = Optimizer::new(b, OptimizerConfig::new(OptimizerKind::Momentum).with_lr(0.01).with_momentum(0.9))?;
        opt.attach(b, model.params_mut())?;
        let config = TrainConfig { batch_size: batch, eval_batch_size: batch, ..TrainConfig::default() };
        let trainer = Trainer::new(b, config)?;
        let data = DeviceData::upload(b, &data)?;
        Ok(Self { model, opt, trainer, data, batch })
    }

    fn offset(&self, i: usize) -> usize {
        (i % (self.data.rows / self.batch)) * self.batch
    }

    pub(super) fn train_step(&mut self, b: &mut dyn Backend, i: usize) -> Result<()> {
        let offset = self.offset(i);
        self.trainer.step(b, &mut self.model, &mut self.opt, &self.data, offset, self.batch)
    }

    /// Record one inference batch (nothing submitted); returns the logits tensor.
    fn record_infer(&mut self, b: &mut dyn Backend, i: usize) -> Result<crate::tensor::Tensor> {
        let ws = self.model.workspace(b, self.batch)?;
        let input = self.model.ws(ws).input;
        b.begin_step(StepCounters { step: 0, batch_offset: self.offset(i) as u32, row_base: 0 })?;
        b.gather_rows(&self.data.x, self.data.order, input, self.data.gather)?;
        self.model.forward(b, ws, Mode::Eval)
    }

    /// Record and submit one inference batch; returns the logits tensor.
    fn infer_batch(&mut self, b: &mut dyn Backend, i: usize) -> Result<crate::tensor::Tensor> {
        let logits = self.record_infer(b, i)?;
        b.submit()?;
        Ok(logits)
    }
}

fn median(v: &mut [f64]) -> f64 {
    Rate::of(v).median
}

/// Steps per repeat so one repeat lasts about `REPEAT_SECONDS`, given one step's time.
fn steps_for(seconds_per_step: f64) -> usize {
    ((REPEAT_SECONDS / seconds_per_step.max(1e-6)).ceil() as usize).clamp(2, 2000)
}

fn per_step(before: Option<Counters>, after: Option<Counters>, steps: usize) -> [Option<f64>; 3] {
    match (before, after) {
        (Some(a), Some(z)) => {
            let n = steps as f64;
            [
                Some((z.dispatches - a.dispatches) as f64 / n),
                Some((z.submits - a.submits) as f64 / n),
                Some((z.readback_bytes - a.readback_bytes) as f64 / n),
            ]
        }
        _ => [None; 3],
    }
}

/// Run `body` `repeats` times, each `steps` calls then a sync; samples/s of each repeat.
fn repeats(
    b: &mut dyn Backend,
    s: &mut Setup,
    repeats: usize,
    steps: usize,
    mut body: impl FnMut(&mut dyn Backend, &mut Setup, usize) -> Result<()>,
) -> Result<Vec<f64>> {
    let mut rates = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let start = Instant::now();
        for i in 0..steps {
            body(b, s, i)?;
        }
        b.sync()?;
        rates.push((s.batch * steps) as f64 / start.elapsed().as_secs_f64());
    }
    Ok(rates)
}

/// Measure `model` at `batch` on `b` over `repeat_count` repeats; `path` names the backend in
/// the report ("gpu", "cpu").
pub fn measure(b: &mut dyn Backend, path: &str, model: &BenchModel, batch: usize, repeat_count: usize) -> Result<Row> {
    if repeat_count == 0 {
        return Err(Error::config("bench repeats", "0; it must be at least 1"));
    }
    let mut s = Setup::new(b, model, batch)?;

    // First step: workspace allocation, pipeline compilation, first bind groups.
    let start = Instant::now();
    s.train_step(b, 0)?;
    b.sync()?;
    let first_step_ms = start.elapsed().as_secs_f64() * 1e3;
    for i in 1..3 {
        s.train_step(b, i)?;
    }
    b.sync()?;

    // Isolated steps: host encoding (record + submit), then the device (submit → done).
    let (mut encode, mut device) = (Vec::new(), Vec::new());
    for i in 0..ISOLATED_STEPS {
        let t0 = Instant::now();
        s.train_step(b, i)?;
        let t1 = Instant::now();
        b.sync()?;
        encode.push((t1 - t0).as_secs_f64());
        device.push(t1.elapsed().as_secs_f64());
    }
    let (encode, device) = (median(&mut encode), median(&mut device));

    let steps = steps_for(encode + device);
    let before = b.counters();
    let train = repeats(b, &mut s, repeat_count, steps, |b, s, i| s.train_step(b, i))?;
    let [dispatches, submits, readback] = per_step(before, b.counters(), repeat_count * steps);

    // Inference: warm the evaluation pipelines, time one batch, then the repeats.
    s.infer_batch(b, 0)?;
    b.sync()?;
    let t0 = Instant::now();
    s.infer_batch(b, 1)?;
    b.sync()?;
    let one_batch = t0.elapsed().as_secs_f64();
    let infer_steps = steps_for(one_batch);
    let before = b.counters();
    let infer = repeats(b, &mut s, repeat_count, infer_steps, |b, s, i| s.infer_batch(b, i).map(drop))?;
    let [infer_dispatches, _, _] = per_step(before, b.counters(), repeat_count * infer_steps);

    // Latency: one batch from recording to its logits on the host, call after call; the
    // read submits the batch and the copy of its logits together (one submit, one readback).
    let calls = steps_for(one_batch).clamp(LATENCY_CALLS.0, LATENCY_CALLS.1);
    let mut latency = Vec::with_capacity(calls);
    for i in 0..calls {
        let start = Instant::now();
        let logits = s.record_infer(b, i)?;
        b.read(logits)?;
        latency.push(start.elapsed().as_secs_f64() * 1e3);
    }
    latency.sort_by(f64::total_cmp);
    let quantile = |q: f64| latency[((q * calls as f64).ceil() as usize).clamp(1, calls) - 1];

    let (train, infer) = (Rate::of(&train), Rate::of(&infer));
    Ok(Row {
        model: model.name.clone(),
        layers: model.layers.clone(),
        dropout: model.dropout,
        path: path.into(),
        batch,
        train,
        infer,
        first_step_ms: Some(first_step_ms),
        step_ms: batch as f64 / train.median * 1e3,
        encode_ms: Some(encode * 1e3),
        device_ms: Some(device * 1e3),
        dispatches_per_step: dispatches,
        submits_per_step: submits,
        readback_bytes_per_step: readback,
        infer_dispatches,
        latency_p50_ms: Some(quantile(0.5)),
        latency_p99_ms: Some(quantile(0.99)),
        train_gflops: train.median * model.train_flops() / 1e9,
        infer_gflops: infer.median * model.forward_flops() / 1e9,
    })
}

/// One kernel's time in a profiled step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KernelShare {
    pub kernel: String,
    pub calls: usize,
    pub ms: f64,
    /// Of the profiled step's summed kernel time.
    pub share: f64,
}

/// Device time per kernel of one training step and one inference batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    /// How the times were taken.
    pub method: String,
    pub train: Vec<KernelShare>,
    pub infer: Vec<KernelShare>,
    /// Wall time per training step and per inference batch with profiling off, ms: steps
    /// recorded back to back as the trainer records them, median over the rounds.
    pub train_wall_ms: f64,
    pub infer_wall_ms: f64,
    /// Wall time over device time, each round's own ratio (its unprofiled steps over its
    /// profiled ones, taken one after the other), median over the rounds.
    pub train_wall_over_device: f64,
    pub infer_wall_over_device: f64,
    /// The parameter update against a plain copy kernel over as many floats.
    pub memory: Option<MemorySpeed>,
}

/// How close the step's parameter update comes to memory speed: its bytes moved per second
/// against those of a plain copy kernel (four floats per invocation) over the same number of
/// floats, timed the same way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemorySpeed {
    /// The model's parameters (the update's length; the copy's too).
    pub floats: usize,
    pub copy_ms: f64,
    pub copy_gb_per_s: f64,
    /// The update's kernels, joined by " + " (a step that deferred gradients records one for
    /// them and one for the rest).
    pub update_kernel: String,
    /// Bytes the update reads and writes per parameter, on average: θ, the gradient and the
    /// optimizer's state read, θ and the state written; no gradient where the update formed
    /// it from its factors (`Gradient::Outer`).
    pub update_bytes_per_param: f64,
    pub update_ms: f64,
    pub update_gb_per_s: f64,
    /// update_gb_per_s / copy_gb_per_s.
    pub of_copy: f64,
}

/// Per-kernel totals of `timed`, averaged over `steps` steps.
fn shares(timed: Vec<(String, f64)>, steps: usize) -> Vec<KernelShare> {
    let total: f64 = timed.iter().map(|(_, s)| s).sum();
    let mut out: Vec<KernelShare> = Vec::new();
    for (kernel, seconds) in timed {
        match out.iter_mut().find(|k| k.kernel == kernel) {
            Some(k) => {
                k.calls += 1;
                k.ms += seconds * 1e3;
            }
            None => out.push(KernelShare { kernel, calls: 1, ms: seconds * 1e3, share: 0.0 }),
        }
    }
    for k in &mut out {
        k.share = k.ms / (total * 1e3).max(1e-12);
        k.ms /= steps as f64;
        k.calls /= steps;
    }
    out.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    out
}

/// Time each kernel of a training step and an inference batch of `model` at `batch` (timestamp
/// queries, else each kernel in its own submission, whose cost is then in its time), averaged
/// over `steps` steps a round, and the wall time of unprofiled steps in alternated rounds.
pub fn profile(b: &mut dyn Backend, model: &BenchModel, batch: usize, steps: usize) -> Result<Profile> {
    if steps == 0 {
        return Err(Error::config("bench repeats", "0; it must be at least 1"));
    }
    let mut s = Setup::new(b, model, batch)?;
    for i in 0..3 {
        s.train_step(b, i)?;
        s.infer_batch(b, i)?;
    }
    b.sync()?;
    // Rounds alternate wall time (profiling off: timestamp queries add work to every dispatch)
    // with the profiled steps, so that a machine whose speed drifts (a shared host, a CPU
    // driver's threads) moves both alike and their ratio stays the step's own.
    let (mut train_rates, mut infer_rates) = (Vec::new(), Vec::new());
    let (mut train_timed, mut infer_timed) = (Vec::new(), Vec::new());
    // Per round: its wall time over its device time.
    let (mut train_ratios, mut infer_ratios) = (Vec::new(), Vec::new());
    let device_ms = |timed: &[(String, f64)], from: usize| 1e3 * timed[from..].iter().map(|(_, t)| t).sum::<f64>() / steps as f64;
    let mut method = String::new();
    for _ in 0..PROFILE_ROUNDS {
        train_rates.extend(repeats(b, &mut s, 1, steps.max(2), |b, s, i| s.train_step(b, i))?);
        infer_rates.extend(repeats(b, &mut s, 1, steps.max(2), |b, s, i| s.infer_batch(b, i).map(drop))?);
        let (train_from, infer_from) = (train_timed.len(), infer_timed.len());
        let Some(how) = b.set_profiling(true) else {
            return Err(Error::config("bench --profile", format!("{} cannot time single kernels", b.describe())));
        };
        method = how;
        let timed: Result<()> = (|| {
            for i in 0..steps {
                s.train_step(b, i)?;
            }
            b.sync()?;
            train_timed.extend(b.take_profile());
            for i in 0..steps {
                s.infer_batch(b, i)?;
            }
            b.sync()?;
            infer_timed.extend(b.take_profile());
            Ok(())
        })();
        b.set_profiling(false);
        timed?;
        let wall = |rates: &[f64]| batch as f64 / rates[rates.len() - 1] * 1e3;
        train_ratios.push(wall(&train_rates) / device_ms(&train_timed, train_from).max(1e-9));
        infer_ratios.push(wall(&infer_rates) / device_ms(&infer_timed, infer_from).max(1e-9));
    }
    let wall_ms = |rates: &mut [f64]| batch as f64 / median(rates) * 1e3;
    let (train_wall_ms, infer_wall_ms) = (wall_ms(&mut train_rates), wall_ms(&mut infer_rates));
    let timed_steps = steps * PROFILE_ROUNDS;
    let (train, infer) = (shares(train_timed, timed_steps), shares(infer_timed, timed_steps));
    b.set_profiling(true);
    let memory = memory_speed(b, &mut s, &train, steps);
    b.set_profiling(false);
    Ok(Profile {
        method: format!("{method}; mean of {timed_steps} steps in {PROFILE_ROUNDS} rounds alternated with as many unprofiled"),
        train,
        infer,
        train_wall_ms,
        infer_wall_ms,
        train_wall_over_device: median(&mut train_ratios),
        infer_wall_over_device: median(&mut infer_ratios),
        memory: memory?,
    })
}

/// The update's speed against a copy kernel over the model's parameter count (profiling on).
fn memory_speed(
    b: &mut dyn Backend,
    s: &mut Setup,
    train: &[KernelShare],
    steps: usize,
) -> Result<Option<MemorySpeed>> {
    // An update that also formed an input gradient (optim_dx) counts whole: the dot it adds
    // reads no byte the update does not.
    let is_update = |k: &str| k.starts_with("optim::") || (k.starts_with("optim_dx::") && k.contains("_update_dx"));
    let updates: Vec<&KernelShare> = train.iter().filter(|k| is_update(&k.kernel)).collect();
    if updates.is_empty() {
        return Ok(None);
    }
    let update_ms: f64 = updates.iter().map(|k| k.ms).sum();
    let floats = s.model.parameter_count();
    // A step last, for the gradients it defers (an inference batch forgets them); its timings
    // go with the warm-up's.
    s.train_step(b, 0)?;
    // A warm-up copy first: fresh scratch memory would charge its first touch to the copy.
    if !b.copy_kernel(floats)? {
        return Ok(None);
    }
    b.sync()?;
    b.take_profile();
    for _ in 0..steps {
        if !b.copy_kernel(floats)? {
            return Ok(None);
        }
    }
    b.sync()?;
    let copies: Vec<f64> = b.take_profile().into_iter().filter(|(k, _)| k.contains("copy")).map(|(_, t)| t).collect();
    if copies.is_empty() {
        return Ok(None);
    }
    let copy_ms = 1e3 * copies.iter().sum::<f64>() / copies.len() as f64;
    // That step's deferred gradients (every step at this batch size takes the same path).
    let params = s.model.params();
    let deferred: usize = params.deferred().iter().map(|d| params[d.param].value.len()).sum();
    let state = s.opt.config.kind.rule().state_count();
    let bytes = 4 * ((3 + 2 * state) * (floats - deferred) + (2 + 2 * state) * deferred);
    let gb_per_s = |bytes: f64, ms: f64| bytes / (ms * 1e-3) / 1e9;
    let copy_gb_per_s = gb_per_s(8.0 * floats as f64, copy_ms);
    let update_gb_per_s = gb_per_s(bytes as f64, update_ms);
    Ok(Some(MemorySpeed {
        floats,
        copy_ms,
        copy_gb_per_s,
        update_kernel: updates.iter().map(|k| k.kernel.as_str()).collect::<Vec<_>>().join(" + "),
        update_bytes_per_param: bytes as f64 / floats as f64,
        update_ms,
        update_gb_per_s,
        of_copy: update_gb_per_s / copy_gb_per_s,
    }))
}
