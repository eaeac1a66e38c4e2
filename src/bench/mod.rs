//! The `bench` suite: training and inference speed of standard models over batch sizes, on
//! any backend, with the figures engines are compared by (samples/s with their spread, time
//! per step split into host encoding and device time, dispatches, submits and bytes read back
//! per step, achieved GFLOP/s, and first-step latency). `report` holds the JSON schema that
//! `bench --compare` and `scripts/bench-pytorch.py` share.

pub mod distributed;
mod measure;
pub mod report;

pub use measure::{measure, profile, KernelShare, MemorySpeed, Profile};
pub use report::{Machine, Rate, Report, Row, SCHEMA};

use crate::backend::Activation;
use crate::error::{Error, Result};
use crate::nn::{LayerSpec, ModelSpec, Precision};

/// A model of the suite: layer widths (inputs first, classes last), the hidden activation,
/// and the dropout rate after each hidden layer (0: none).
#[derive(Debug, Clone, PartialEq)]
pub struct BenchModel {
    pub name: String,
    pub layers: Vec<usize>,
    pub activation: Activation,
    pub dropout: f32,
    /// f32, or mixed f16 (`nn::Precision`); an f16 model's name ends in "-f16".
    pub precision: Precision,
}

/// The named models: `mlp` (the Fashion-MNIST MLP), `wide`, and `deep` (the textbook's
/// 20 hidden layers of 100 ELU units).
pub const MODEL_NAMES: [&str; 3] = ["mlp", "wide", "deep"];

impl BenchModel {
    /// One of `MODEL_NAMES`.
    pub fn named(name: &str) -> Result<Self> {
        let (layers, activation) = match name {
            "mlp" => (vec![784, 300, 100, 10], Activation::Relu),
            "wide" => (vec![784, 2048, 2048, 10], Activation::Relu),
            "deep" => ([784].into_iter().chain([100; 20]).chain([10]).collect(), Activation::elu()),
            _ => {
                return Err(Error::config(
                    "bench model",
                    format!("unknown model {name:?}; valid: {} (or give --layers)", MODEL_NAMES.join(", ")),
                ))
            }
        };
        Ok(Self { name: name.into(), layers, activation, dropout: 0.0, precision: Precision::F32 })
    }

    /// A model from a width list such as 784,300,100,10 (ReLU hidden layers).
    pub fn custom(layers: &[usize]) -> Result<Self> {
        if layers.len() < 2 {
            return Err(Error::config(
                "bench layers",
                format!("{layers:?} has fewer than two widths; give inputs, any hidden widths, and classes"),
            ));
        }
        if let Some(i) = layers.iter().position(|&w| w == 0) {
            return Err(Error::config("bench layers", format!("width 0 at position {} of {layers:?}", i + 1)));
        }
        let name = layers.iter().map(usize::to_string).collect::<Vec<_>>().join("-");
        Ok(Self { name, layers: layers.to_vec(), activation: Activation::Relu, dropout: 0.0, precision: Precision::F32 })
    }

    pub fn with_dropout(self, dropout: f32) -> Result<Self> {
        if !(0.0..1.0).contains(&dropout) {
            return Err(Error::config("bench dropout", format!("{dropout} is not in [0, 1)")));
        }
        Ok(Self { dropout, ..self })
    }

    /// The same model in `precision` (an f16 model's name ends in "-f16"); refused where the
    /// model cannot run in it (`Precision::check`: dropout, in f16).
    pub fn with_precision(self, precision: Precision) -> Result<Self> {
        let model = Self { precision, ..self };
        precision.check(&model.spec())?;
        Ok(match precision {
            Precision::F16 => Self { name: format!("{}-f16", model.name), ..model },
            Precision::F32 => model,
        })
    }

    pub fn spec(&self) -> ModelSpec {
        let (inputs, classes) = (self.layers[0], *self.layers.last().expect("two widths at least"));
        let hidden = &self.layers[1..self.layers.len() - 1];
        let mut spec = ModelSpec::mlp(inputs, hidden, classes, self.activation);
        if self.dropout > 0.0 {
            // After each hidden Dense layer: positions 1, 3, 5, … once inserted in order.
            for k in 0..hidden.len() {
                spec.layers.insert(2 * k + 1, LayerSpec::Dropout { rate: self.dropout });
            }
        }
        spec
    }

    /// Multiply-adds ×2 of one sample's forward pass: Σ 2·in·out over the Dense layers.
    pub fn forward_flops(&self) -> f64 {
        self.layers.windows(2).map(|w| 2.0 * (w[0] * w[1]) as f64).sum()
    }

    /// One sample's training step: forward, weight gradients, and input gradients of every
    /// layer but the first (the model does not compute the gradient of its inputs).
    pub fn train_flops(&self) -> f64 {
        let first = 2.0 * (self.layers[0] * self.layers[1]) as f64;
        3.0 * self.forward_flops() - first
    }

    /// Dispatches one training step should record: per Dense layer the fused forward, the
    /// weight gradient (with the bias gradient's column sums in the same dispatch) and the
    /// input gradient (all but the first), which also applies the previous layer's
    /// activation derivative when that layer is Dense right before it; with dropout between
    /// the layers, the dropout forward and backward and a separate activation backward per
    /// hidden layer; the gathers of inputs and labels; the loss (which also counts correct
    /// answers); one update of every parameter at once (the GPU packs a model's parameters,
    /// gradients and optimizer state, `nn::ParamSet`); in f16, the refresh of each weight
    /// matrix's f16 copy before the forward pass.
    pub fn train_dispatches(&self) -> u64 {
        let dense = (self.layers.len() - 1) as u64;
        let hidden = dense - 1;
        let dropout = if self.dropout > 0.0 { hidden } else { 0 };
        let forward = dense + dropout;
        let activation_backward = dropout;
        let backward = dense + (dense - 1) + activation_backward + dropout;
        let data_and_loss = 2 + 1;
        let update = 1;
        let refresh = if self.precision == Precision::F16 { dense } else { 0 };
        forward + backward + data_and_loss + update + refresh
    }

    /// `train_dispatches` at `batch` rows, where a step of at most `DEFERRABLE_ROWS` rows
    /// leaves the weight gradients of the large matrices (`DEFERRABLE_MIN`) as factors: per
    /// such layer its bias gradient's column sums and its own update instead of the weight
    /// gradient's product. In f16 only the first layer's input is f32, which the update reads;
    /// where some large matrices defer and others do not, the other parameters are updated one
    /// by one.
    pub fn train_dispatches_at(&self, batch: usize) -> u64 {
        use crate::nn::{DEFERRABLE_MIN, DEFERRABLE_ROWS};
        let base = self.train_dispatches();
        let large: Vec<usize> =
            (0..self.layers.len() - 1).filter(|&i| self.layers[i] * self.layers[i + 1] >= DEFERRABLE_MIN).collect();
        let deferred = match self.precision {
            Precision::F32 => large.len(),
            Precision::F16 => large.iter().filter(|&&i| i == 0).count(),
        } as u64;
        let params = 2 * (self.layers.len() - 1) as u64;
        match batch <= DEFERRABLE_ROWS && deferred > 0 {
            false => base,
            true if deferred == large.len() as u64 => base + deferred,
            true => base - 1 + params,
        }
    }

    /// Dispatches of one inference batch: the input gather and the forward pass (dropout is
    /// the identity in evaluation and records nothing; an f16 model refreshes its weights'
    /// copies only at the first batch after they changed).
    pub fn infer_dispatches(&self) -> u64 {
        1 + (self.layers.len() - 1) as u64
    }
}
