//! What every experiment needs: the data on the device, one training run per variant and
//! seed (each written to its own run directory), and the probes taken during a run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::{Context, Result};
use rand::SeedableRng;
use rand_distr::Distribution;
use serde_json::json;
use crate::data::{Dataset, DeviceData, Standardizer};
use crate::experiment::measure;
use crate::infer::Metrics;
use crate::nn::{Mode, ModelSpec, Sequential};
use crate::optim::{Optimizer, OptimizerConfig};
use crate::train::{checkpoint, EarlyStopping, History, TrainConfig, Trainer};
use crate::backend::{Backend, StepCounters};

use crate::run::{dataset, plot, RunConfig};

/// Rows of the validation set the activation probes run on.
const PROBE_ROWS: usize = 512;

/// A dataset's splits on the host and on the device.
pub struct Data {
    pub name: String,
    pub host: [Dataset; 3],
    pub train: DeviceData,
    pub val: DeviceData,
    pub test: DeviceData,
    /// Whether the inputs were standardized.
    pub standardized: bool,
}

impl Data {
    /// `name` split as `train` splits it (10% validation), cut to `train_rows` training rows
    /// when given (the quick runs), standardized when asked (one mean and deviation for images).
    pub fn load(
        b: &mut dyn Backend,
        name: &str,
        data_dir: &str,
        train_rows: Option<usize>,
        standardize: bool,
        fetch: &mut dyn FnMut(crate::data::locate::Fetching),
    ) -> Result<Self> {
        let cfg = RunConfig { dataset: name.into(), data_dir: data_dir.into(), standardize: Some(false), ..RunConfig::default() };
        let splits = dataset::load(&cfg, fetch)?;
        let mut train = splits.train;
        let mut val = splits.val.context("the experiments hold out a validation split")?;
        let mut test = splits.test;
        if let Some(n) = train_rows.filter(|&n| n < train.rows) {
            train = train.select(&(0..n).collect::<Vec<_>>());
            val = val.select(&(0..(n / 5).min(val.rows)).collect::<Vec<_>>());
        }
        if standardize {
            let s = Standardizer::fit(&train);
            for d in [&mut train, &mut val, &mut test] {
                s.apply(d);
            }
        }
        let mut data = Self::upload(b, name, [train, val, test])?;
        data.standardized = standardize;
        Ok(data)
    }

    pub fn upload(b: &mut dyn Backend, name: &str, host: [Dataset; 3]) -> Result<Self> {
        let [train, val, test] = [&host[0], &host[1], &host[2]].map(|d| DeviceData::upload(b, d));
        Ok(Self { name: name.into(), train: train?, val: val?, test: test?, host, standardized: false })
    }

    /// The same splits with the targets a sigmoid cross-entropy model with `outputs` outputs takes.
    pub fn with_binary_targets(self, b: &mut dyn Backend, outputs: usize) -> Result<Self> {
        let Data { name, host, train, val, test, standardized } = self;
        Ok(Data {
            train: train.with_binary_targets(b, &host[0], outputs)?,
            val: val.with_binary_targets(b, &host[1], outputs)?,
            test: test.with_binary_targets(b, &host[2], outputs)?,
            name,
            host,
            standardized,
        })
    }

    pub fn free(self, b: &mut dyn Backend) -> Result<()> {
        self.train.free(b)?;
        self.val.free(b)?;
        self.test.free(b)
    }

    pub fn describe(&self) -> String {
        format!("{} ({} train, {} validation, {} test samples)", self.name, self.host[0].rows, self.host[1].rows, self.host[2].rows)
    }

    /// What a unit's result depends on in the data, for its ledger key.
    pub fn key(&self) -> String {
        format!("{} standardized {}", self.describe(), self.standardized)
    }
}

/// How the biases start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bias {
    /// As the spec says (a constant per layer).
    Spec,
    /// Drawn from N(0, σ²) per unit.
    Random(f32),
}

/// One training run.
#[derive(Debug, Clone)]
pub struct Variant {
    pub name: String,
    pub spec: ModelSpec,
    pub opt: OptimizerConfig,
    pub epochs: usize,
    pub batch_size: usize,
    pub early_stopping: Option<EarlyStopping>,
    pub bias: Bias,
    /// Probe the hidden layers' activations at the start and after every epoch.
    pub probe: bool,
}

impl Variant {
    pub fn new(name: &str, spec: ModelSpec, opt: OptimizerConfig, epochs: usize) -> Self {
        Self { name: name.into(), spec, opt, epochs, batch_size: 128, early_stopping: None, bias: Bias::Spec, probe: false }
    }
}

/// Dead-unit fraction and mean activation of each hidden layer.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Probe {
    pub dead: Vec<f64>,
    pub mean: Vec<f64>,
}

impl Probe {
    /// The dead-unit fraction, averaged over the hidden layers.
    pub fn dead_mean(&self) -> f64 {
        measure::mean_std(&self.dead).0
    }

    /// The mean activation, averaged over the hidden layers.
    pub fn activation_mean(&self) -> f64 {
        measure::mean_std(&self.mean).0
    }
}

/// A finished run, with its model still on the device.
pub struct Outcome {
    /// What it measured (what travels between ranks).
    pub run: Run,
    pub model: Sequential,
}

/// A finished run's measurements.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Run {
    pub name: String,
    pub seed: u64,
    pub history: History,
    pub test: Metrics,
    /// Median seconds per epoch after the first (which compiles pipelines).
    pub seconds_per_epoch: f64,
    /// Median seconds per training step, likewise.
    pub seconds_per_step: f64,
    /// Before training, then after each epoch (when probed).
    pub probes: Vec<Probe>,
    /// The run directory, relative to the experiment's output.
    pub dir: PathBuf,
}

impl Run {
    pub fn val_accuracy(&self) -> Vec<f32> {
        self.history.epochs.iter().map(|r| r.val_accuracy.unwrap_or(f32::NAN)).collect()
    }

    /// The mean training loss of each epoch's steps.
    pub fn train_loss(&self) -> Vec<f32> {
        self.history.epochs.iter().map(|r| r.loss).collect()
    }
}

/// Train `v` with `seed` on `data`, writing the run to `runs/NAME-sSEED` under `out`.
pub fn train(b: &mut dyn Backend, data: &Data, v: &Variant, seed: u64, out: &Path) -> Result<Outcome> {
    let mut model = Sequential::new(b, &v.spec, seed)?;
    if let Bias::Random(std) = v.bias {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0xB1A5);
        let normal = rand_distr::Normal::new(0.0f32, std).expect("a positive deviation");
        for p in model.params().iter().filter(|p| p.name.ends_with(".b")) {
            let values: Vec<f32> = (0..p.value.len()).map(|_| normal.sample(&mut rng)).collect();
            b.write(p.value, &values)?;
        }
    }
    let mut opt = Optimizer::new(b, v.opt.clone())?;
    let config = TrainConfig {
        epochs: v.epochs,
        batch_size: v.batch_size,
        seed,
        early_stopping: v.early_stopping.clone(),
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(b, config)?;
    trainer.begin(b, &mut model, &mut opt, &data.train)?;
    let mut probes = Vec::new();
    if v.probe {
        probes.push(probe(b, &mut model, &data.val)?);
    }
    while !trainer.done() {
        trainer.run_epoch(b, &mut model, &mut opt, &data.train, Some(&data.val), &mut [])?;
        if v.probe && !trainer.state().diverged {
            probes.push(probe(b, &mut model, &data.val)?);
        }
    }
    trainer.finish(b)?;
    let test = trainer.evaluate(b, &mut model, &data.test)?;
    let h = trainer.history().clone();
    let later: Vec<f64> = h.epochs.iter().skip(1).map(|r| r.seconds).collect();
    let seconds_per_epoch = if later.is_empty() { h.epochs[0].seconds } else { measure::median(&later) };
    let steps = data.train.rows.div_ceil(v.batch_size) as f64;
    let dir = out.join("runs").join(format!("{}-s{seed}", v.name.replace([' ', '/', '='], "_")));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    checkpoint::save_with(&dir.join("model.safetensors"), b, &model, None, Some(&trainer), Default::default())?;
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    write("history.json", serde_json::to_string_pretty(&h)?)?;
    write("history.csv", h.to_csv())?;
    plot::history(&h, &dir, None)?;
    let metrics = json!({
        "variant": v.name, "seed": seed, "test_loss": test.loss, "test_accuracy": test.accuracy,
        "seconds_per_epoch": seconds_per_epoch, "diverged": trainer.state().diverged,
        "model": v.spec, "optimizer": format!("{:?}", v.opt), "epochs": h.epochs.len(), "probes": probes,
    });
    write("metrics.json", serde_json::to_string_pretty(&metrics)?)?;
    let run = Run {
        name: v.name.clone(),
        seed,
        history: h,
        test,
        seconds_per_epoch,
        seconds_per_step: seconds_per_epoch / steps,
        probes,
        dir: dir.strip_prefix(out).unwrap_or(&dir).to_path_buf(),
    };
    Ok(Outcome { run, model })
}

/// Dead units and mean activation of every hidden Dense layer on the first rows of `val`.
pub fn probe(b: &mut dyn Backend, model: &mut Sequential, val: &DeviceData) -> Result<Probe> {
    let rows = PROBE_ROWS.min(val.rows);
    let ws = model.workspace(b, rows)?;
    b.write_u32(val.order, &(0..val.rows as u32).collect::<Vec<_>>())?;
    b.begin_step(StepCounters { step: 0, batch_offset: 0, row_base: 0 })?;
    crate::infer::gather_batch(b, val, model.ws(ws))?;
    model.forward(b, ws, Mode::Eval)?;
    b.submit()?;
    let mut probe = Probe { dead: Vec::new(), mean: Vec::new() };
    for t in model.hidden_outputs(ws) {
        let acts = b.read(t)?;
        probe.dead.push(measure::dead_fraction(&acts, t.rows, t.cols));
        probe.mean.push(measure::mean(&acts));
    }
    Ok(probe)
}

/// One timing of `passes` inference passes over `data` in seconds per sample, repeating the
/// passes for at least a quarter of a second so that short passes are not lost in the
/// timer's and the driver's noise (after a warm-up pass: pipelines, workspaces).
pub fn timed_inference(b: &mut dyn Backend, model: &mut Sequential, data: &DeviceData, mode: Mode, passes: u32) -> Result<f64> {
    let mut inference = crate::infer::Inference::new(b, 1024)?;
    inference.predict(b, model, data, mode, 0)?;
    let start = Instant::now();
    let mut rounds = 0;
    while rounds == 0 || start.elapsed().as_secs_f64() < 0.25 {
        for pass in 0..passes {
            inference.predict(b, model, data, mode, pass)?;
        }
        rounds += 1;
    }
    Ok(start.elapsed().as_secs_f64() / (rounds as f64 * data.rows as f64))
}

/// Seconds per training step of each variant, timed in alternation: every round trains one
/// pass over the same first `steps` batches of `data`'s training split with each variant in
/// turn (each model built from seed 1 and continuing its own training, after one untimed
/// pass that builds pipelines and workspaces). One sample per round and variant, so that a
/// difference has an interval and a shared machine's drift hits every variant alike.
pub fn alternated_steps(b: &mut dyn Backend, data: &Data, variants: &[&Variant], steps: usize, rounds: usize) -> Result<Vec<Vec<f64>>> {
    let batch = variants.first().map_or(128, |v| v.batch_size);
    let rows = (steps * batch).min(data.host[0].rows);
    let slice = DeviceData::upload(b, &data.host[0].select(&(0..rows).collect::<Vec<_>>()))?;
    let mut setups = Vec::new();
    for v in variants {
        let mut model = Sequential::new(b, &v.spec, 1)?;
        let mut opt = Optimizer::new(b, v.opt.clone())?;
        let config = TrainConfig { epochs: rounds + 1, batch_size: v.batch_size, seed: 1, ..TrainConfig::default() };
        let mut trainer = Trainer::new(b, config)?;
        trainer.begin(b, &mut model, &mut opt, &slice)?;
        trainer.run_epoch(b, &mut model, &mut opt, &slice, None, &mut [])?;
        setups.push((model, opt, trainer, rows.div_ceil(v.batch_size)));
    }
    let mut samples = vec![Vec::new(); setups.len()];
    for _ in 0..rounds {
        for (i, (model, opt, trainer, batches)) in setups.iter_mut().enumerate() {
            b.sync()?;
            let start = Instant::now();
            trainer.run_epoch(b, model, opt, &slice, None, &mut [])?;
            b.sync()?;
            samples[i].push(start.elapsed().as_secs_f64() / *batches as f64);
        }
    }
    for (_, _, mut trainer, _) in setups {
        trainer.finish(b)?;
    }
    slice.free(b)?;
    Ok(samples)
}

/// The median of `rounds` measurements of each of `n` setups, taken in alternation (setup
/// 0, 1, …, n − 1, then again), so that the drift of a shared machine hits all of them alike.
pub fn alternate(rounds: usize, n: usize, mut measure: impl FnMut(usize) -> Result<f64>) -> Result<Vec<f64>> {
    let mut all = vec![Vec::new(); n];
    for _ in 0..rounds {
        for (i, times) in all.iter_mut().enumerate() {
            times.push(measure(i)?);
        }
    }
    Ok(all.iter().map(|t| measure::median(t)).collect())
}
