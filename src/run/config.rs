//! The `train` configuration: TOML file and/or flags over built-in defaults, resolved into the
//! engine's types with an error that names every invalid value and lists the valid ones.

use crate::error::{Context, Result};
use crate::fail;
use serde::{Deserialize, Serialize};

use crate::nn::{Initializer, ModelSpec, Precision};
use super::settings::Given;
use crate::optim::{OptimizerConfig, OptimizerKind, Schedule, Setting, SETTINGS};
use crate::train::{EarlyStopping, TrainConfig};
use crate::backend::Activation;

/// Everything a training run needs. Every field has a default, so an empty file (or no file)
/// is the default run: Fashion-MNIST, 784-300-100-10, ELU, He init, momentum 0.9, 10 epochs,
/// batch 128, learning rate 0.05 decaying exponentially to 0.005 over the 10 epochs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// fashion-mnist | mnist | cifar10 | digits | spirals | csv:PATH | idx:DIR
    pub dataset: String,
    /// Where fetched datasets live (fetched into it on first use).
    pub data_dir: String,
    /// Fraction of the training set held out for validation (0 = none).
    pub validation_split: f64,
    /// Centre and scale inputs with statistics of the training set. Unset: yes for feature
    /// tables (digits, CSV, spirals), no for images (pixels are scaled to [0, 1]).
    pub standardize: Option<bool>,
    pub seed: u64,
    pub epochs: usize,
    pub batch_size: usize,
    pub output: String,
    pub model: ModelConfig,
    pub optimizer: OptimizerSection,
    pub early_stopping: Option<EarlyStoppingSection>,
    /// What to do when the training loss stops being finite.
    pub on_divergence: OnDivergence,
    /// The history's sparsity column counts weights with |w| below this.
    pub sparsity_threshold: f32,
    /// Magnitude pruning during training (present = on).
    pub prune: Option<PruneSection>,
    /// Under `mpirun`: batch norm's statistics over the whole global batch (summed across the
    /// ranks inside each step) rather than each rank's slice. No effect in one process.
    pub sync_batch_norm: bool,
    /// f32, or f16: mixed precision (`nn::Precision::F16`: f16 weights' copies and hidden
    /// activations for the products, f32 accumulation, gradients, weights and optimizer state).
    pub precision: Precision,
}

/// `[prune]`: prune to `target` by magnitude, once at `start` or along Zhu & Gupta's cubic
/// ramp over epochs `start..=end`; pruned weights stay zero to the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PruneSection {
    /// Fraction of weights set to zero, in [0, 1).
    pub target: f64,
    pub schedule: PruneSchedule,
    /// First epoch (from 1) that starts pruned.
    pub start: usize,
    /// Epoch from which the target holds (cubic); unset: the run's last epoch.
    pub end: Option<usize>,
    pub scope: crate::sparse::Scope,
}

impl Default for PruneSection {
    fn default() -> Self {
        Self { target: 0.9, schedule: PruneSchedule::Cubic, start: 1, end: None, scope: crate::sparse::Scope::Global }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum PruneSchedule {
    /// Zhu & Gupta's cubic ramp: fast at first, gentle near the target.
    Cubic,
    /// All at once at the start epoch.
    OneShot,
}

impl PruneSection {
    /// Check against a run of `epochs` epochs.
    pub fn check(&self, epochs: usize) -> Result<()> {
        crate::sparse::prune::check_sparsity(self.target)?;
        let end = self.end.unwrap_or(epochs);
        if self.start == 0 || self.start > end || end > epochs {
            fail!(
                "prune epochs: start {} and end {end} must satisfy 1 ≤ start ≤ end ≤ epochs ({epochs})",
                self.start
            );
        }
        Ok(())
    }

    /// The sparsity epoch `epoch` (from 1) starts with; None where it does not prune.
    pub fn target_at(&self, epoch: usize, epochs: usize) -> Option<f64> {
        let end = self.end.unwrap_or(epochs);
        match self.schedule {
            PruneSchedule::OneShot => (epoch == self.start).then_some(self.target),
            PruneSchedule::Cubic => (self.start..=end).contains(&epoch).then(|| {
                // The ramp reaches the target at the start of `end`.
                crate::sparse::cubic(self.target, self.start, end, epoch)
            }),
        }
    }
}

/// A run's learning rate for sgd, momentum and nesterov when none is given: tuned for the
/// default batch of 128 (PyTorch's 0.01 is slow there).
pub const SGD_FAMILY_LR: f32 = 0.05;

/// A run's default for setting `s` of rule `kind`: the rule's own, but `SGD_FAMILY_LR` for the
/// learning rate of sgd, momentum and nesterov.
pub fn run_default(s: &Setting, kind: OptimizerKind) -> Option<f32> {
    let sgd_family = matches!(kind, OptimizerKind::Sgd | OptimizerKind::Momentum | OptimizerKind::Nesterov);
    if s.name == "lr" && sgd_family {
        Some(SGD_FAMILY_LR)
    } else {
        s.default_for(kind)
    }
}

/// The learning-rate schedules `optimizer.schedule` names.
pub const SCHEDULES: &[&str] = &["constant", "exponential", "piecewise", "plateau", "1cycle"];

/// What a run does when its training loss becomes NaN or infinite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum OnDivergence {
    /// Stop, and write the model of the last good epoch to the output.
    Stop,
    /// Go back to the last good epoch, divide every learning rate by 10 and carry on (at most three
    /// times, then stop).
    ReduceLr,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Hidden layer sizes.
    pub layers: Vec<usize>,
    pub activation: String,
    pub init: String,
    /// Initial value of every bias.
    pub bias_init: f32,
    /// Inverted dropout after each hidden layer (0 = none).
    pub dropout: f32,
    /// Alpha dropout after each hidden layer (0 = none; for SELU).
    pub alpha_dropout: f32,
    /// Batch normalization after each hidden layer's activation.
    pub batch_norm: bool,
}

/// `[optimizer]`: the rule, its settings (`optim::SETTINGS`: lr, momentum, beta2, eps,
/// weight_decay, l1, l2, clip_value, clip_norm; unknown keys are refused by the settings' own
/// reader) and the learning-rate schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OptimizerSection {
    pub name: String,
    /// Settings not given take the optimizer's own defaults (PyTorch's), except the learning
    /// rate of sgd, momentum and nesterov: `SGD_FAMILY_LR`, tuned for the default batch of 128.
    #[serde(flatten)]
    pub settings: Given,
    /// constant | exponential | piecewise | plateau | 1cycle
    pub schedule: String,
    /// exponential: lr · decay_rate^(epoch / decay_epochs), applied every step
    pub decay_rate: f32,
    pub decay_epochs: f32,
    /// piecewise: `values[k]` from epoch `boundaries[k−1]` on
    pub boundaries: Vec<u32>,
    pub values: Vec<f32>,
    /// plateau: multiply by factor after `patience` epochs without improvement
    pub factor: f32,
    pub patience: u32,
    pub min_lr: f32,
    /// 1cycle: the peak rate (default 10 × lr)
    pub max_lr: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EarlyStoppingSection {
    pub patience: usize,
    pub min_delta: f32,
    pub restore_best: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            dataset: "fashion-mnist".into(),
            data_dir: "data".into(),
            validation_split: 0.1,
            standardize: None,
            seed: 42,
            epochs: 10,
            batch_size: 128,
            output: "runs/latest".into(),
            model: ModelConfig::default(),
            optimizer: OptimizerSection::default(),
            early_stopping: None,
            on_divergence: OnDivergence::Stop,
            sparsity_threshold: 1e-3,
            prune: None,
            sync_batch_norm: false,
            precision: Precision::F32,
        }
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            layers: vec![300, 100],
            activation: "elu".into(),
            init: "he_normal".into(),
            bias_init: 0.0,
            dropout: 0.0,
            alpha_dropout: 0.0,
            batch_norm: false,
        }
    }
}

impl Default for OptimizerSection {
    fn default() -> Self {
        Self {
            name: "momentum".into(),
            settings: Given::default(),
            schedule: "exponential".into(),
            decay_rate: 0.1,
            decay_epochs: 10.0,
            boundaries: Vec::new(),
            values: Vec::new(),
            factor: 0.5,
            patience: 2,
            min_lr: 0.0,
            max_lr: None,
        }
    }
}

impl Default for EarlyStoppingSection {
    fn default() -> Self {
        Self { patience: 5, min_delta: 0.0, restore_best: true }
    }
}

pub fn activation(name: &str) -> Result<Activation> {
    Activation::from_name(name)
}

pub fn initializer(name: &str) -> Result<Initializer> {
    Initializer::NAMES.iter().find(|(n, _)| *n == name).map(|(_, i)| *i).with_context(|| {
        let valid: Vec<&str> = Initializer::NAMES.iter().map(|(n, _)| *n).collect();
        format!("unknown initializer {name:?}; valid: {}", valid.join(", "))
    })
}

pub fn optimizer_kind(name: &str) -> Result<OptimizerKind> {
    OptimizerKind::NAMES.iter().find(|(n, _)| *n == name).map(|(_, k)| *k).with_context(|| {
        let valid: Vec<&str> = OptimizerKind::NAMES.iter().map(|(n, _)| *n).collect();
        format!("unknown optimizer {name:?}; valid: {}", valid.join(", "))
    })
}

impl OptimizerSection {
    /// Write out the settings `c` resolved to. Only those its optimizer uses are written, so a
    /// saved config re-run with another optimizer takes that optimizer's defaults for the rest
    /// (not Adam with β2 = ε = 0).
    pub fn resolve(&mut self, c: &OptimizerConfig) {
        self.settings = Given::resolved(c);
    }

    /// Forget the settings whose defaults depend on the rule: a run switching rule takes the
    /// new rule's defaults for them, unless given again.
    pub fn forget_rule_defaults(&mut self) {
        for s in SETTINGS.iter().filter(|s| s.per_rule()) {
            self.settings.remove(s.name);
        }
    }
}

impl RunConfig {
    /// Read a TOML file; unknown keys are errors.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = crate::files::read_text(path, crate::files::bound::TEXT).with_context(|| format!("cannot read config {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("config {}", path.display()))
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("the config serializes")
    }

    /// The model: hidden Dense layers (each optionally followed by batch norm and dropout),
    /// then `classes` logits.
    pub fn model_spec(&self, inputs: usize, classes: usize) -> Result<ModelSpec> {
        let m = &self.model;
        let act = activation(&m.activation)?;
        let init = initializer(&m.init)?;
        if !m.bias_init.is_finite() {
            fail!("bias_init {} is not a finite number", m.bias_init);
        }
        if m.dropout > 0.0 && m.alpha_dropout > 0.0 {
            fail!("choose dropout or alpha_dropout, not both");
        }
        // The library's builder, so the command line and the library share the defaults.
        // Any dropout rate but 0 makes a layer, so the model's check judges it.
        let mut b = ModelSpec::builder(inputs).init(init).bias(m.bias_init);
        for &units in &m.layers {
            b = b.dense(units, act);
            if m.batch_norm {
                b = b.batch_norm();
            }
            b = b.dropout(m.dropout).alpha_dropout(m.alpha_dropout);
        }
        let spec = b.classes(classes)?;
        Ok(spec)
    }

    /// The optimizer, with `steps_per_epoch` to turn epoch-based settings into steps.
    pub fn optimizer(&self, steps_per_epoch: usize) -> Result<OptimizerConfig> {
        let o = &self.optimizer;
        let mut c = OptimizerConfig::new(optimizer_kind(&o.name)?);
        // A setting the rule does not use is not applied (the rule would ignore it).
        let kind = c.kind;
        for s in SETTINGS.iter().filter(|s| s.used_by(kind)) {
            if let Some(v) = o.settings.get(s.name).or(run_default(s, kind)) {
                (s.set)(&mut c, v);
            }
        }
        let steps = steps_per_epoch as u32;
        c.schedule = match o.schedule.as_str() {
            "constant" => Schedule::Constant,
            "exponential" => {
                if o.decay_epochs.is_nan() || o.decay_epochs <= 0.0 {
                    fail!("decay_epochs {} must be > 0", o.decay_epochs);
                }
                let decay_steps = ((o.decay_epochs * steps as f32).round() as u32).max(1);
                Schedule::Exponential { rate: o.decay_rate, decay_steps }
            }
            "piecewise" => Schedule::Piecewise {
                boundaries: o.boundaries.iter().map(|e| e * steps).collect(),
                values: o.values.clone(),
            },
            "plateau" if self.validation_split == 0.0 => {
                fail!("the plateau schedule watches the validation loss: set validation_split above 0 (e.g. 0.1)")
            }
            "plateau" => {
                Schedule::ReduceOnPlateau { factor: o.factor, patience: o.patience, min_delta: 0.0, min_lr: o.min_lr }
            }
            "1cycle" => Schedule::one_cycle(o.max_lr.unwrap_or(10.0 * c.lr), steps * self.epochs as u32),
            other => fail!("unknown schedule {other:?}; valid: constant, exponential, piecewise, plateau, 1cycle"),
        };
        c.validate()?;
        Ok(c)
    }

    pub fn train_config(&self) -> Result<TrainConfig> {
        if self.epochs == 0 {
            fail!("epochs is 0; train for at least 1");
        }
        if !(0.0..1.0).contains(&self.validation_split) {
            fail!("validation_split {} is not in [0, 1)", self.validation_split);
        }
        if let Some(e) = &self.early_stopping {
            if !(e.min_delta.is_finite() && e.min_delta >= 0.0) {
                fail!("early_stopping.min_delta {} must be a finite number ≥ 0 (the least fall in validation loss that counts)", e.min_delta);
            }
        }
        if self.early_stopping.is_some() && self.validation_split == 0.0 {
            fail!("early stopping watches the validation loss: set validation_split above 0 (e.g. 0.1)");
        }
        let config = TrainConfig {
            epochs: self.epochs,
            batch_size: self.batch_size,
            seed: self.seed,
            early_stopping: self.early_stopping.as_ref().map(|e| EarlyStopping {
                patience: e.patience,
                min_delta: e.min_delta,
                restore_best: e.restore_best,
            }),
            eval_batch_size: crate::infer::DEFAULT_BATCH,
            log_every: 20,
            sparsity_threshold: Some(self.sparsity_threshold),
            sync_batch_norm: self.sync_batch_norm,
            keep_gradients: false,
        };
        if !(self.sparsity_threshold >= 0.0 && self.sparsity_threshold.is_finite()) {
            fail!("sparsity_threshold {} must be a finite number ≥ 0", self.sparsity_threshold);
        }
        if let Some(p) = &self.prune {
            p.check(self.epochs)?;
        }
        config.validate()?;
        Ok(config)
    }
}
