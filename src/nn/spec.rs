//! A model as data: the layer list a Sequential model is built from, serializable so
//! checkpoints carry their architecture.

use serde::{Deserialize, Serialize};

use super::init::Initializer;
use crate::backend::{Activation, BatchNorm, Loss};

/// One layer of a Sequential model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LayerSpec {
    /// `y = act(x·w + b)`, w: (IN, units), b: (units).
    Dense {
        units: usize,
        activation: Activation,
        init: Initializer,
        bias: f32,
    },
    /// `y = x·w`, w: (IN, units): no bias, no activation. The first factor of a low-rank
    /// Dense layer (`sparse::factorize`).
    Linear {
        units: usize,
        init: Initializer,
    },
    /// A standalone activation (PReLU's slopes start at 0.25, as in PyTorch).
    Activation {
        activation: Activation,
    },
    /// Inverted dropout with drop rate `rate`.
    Dropout {
        rate: f32,
    },
    /// Alpha dropout (for SELU networks) with drop rate `rate`.
    AlphaDropout {
        rate: f32,
    },
    BatchNorm {
        eps: f32,
        momentum: f32,
    },
}

impl LayerSpec {
    /// A Dense layer with He-normal weights and zero bias.
    pub fn dense(units: usize, activation: Activation) -> Self {
        Self::Dense { units, activation, init: Initializer::HE_NORMAL, bias: 0.0 }
    }

    /// The layer's weight matrix width and whether it has a bias, for the layers that have
    /// weights (Dense and Linear).
    pub fn weights(&self) -> Option<(usize, bool)> {
        match *self {
            Self::Dense { units, .. } => Some((units, true)),
            Self::Linear { units, .. } => Some((units, false)),
            _ => None,
        }
    }

    pub fn batch_norm() -> Self {
        let d = BatchNorm::default();
        Self::BatchNorm { eps: d.eps, momentum: d.momentum }
    }
}

/// A Sequential model: input width, layers, loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub inputs: usize,
    pub layers: Vec<LayerSpec>,
    pub loss: Loss,
}

impl ModelSpec {
    /// An MLP classifier: Dense layers of `hidden` units with `activation`, then `classes`
    /// logits for softmax cross-entropy.
    pub fn mlp(inputs: usize, hidden: &[usize], classes: usize, activation: Activation) -> Self {
        let mut layers: Vec<LayerSpec> = hidden.iter().map(|&u| LayerSpec::dense(u, activation)).collect();
        layers.push(LayerSpec::Dense {
            units: classes,
            activation: Activation::Identity,
            init: Initializer::GLOROT_UNIFORM,
            bias: 0.0,
        });
        Self { inputs, layers, loss: Loss::SoftmaxCrossEntropy }
    }

    /// (layer number from 1, inputs, units) of every weight matrix, in order.
    pub fn weight_shapes(&self) -> Vec<(usize, usize, usize)> {
        let mut width = self.inputs;
        let mut out = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            if let Some((units, _)) = l.weights() {
                out.push((i + 1, width, units));
                width = units;
            }
        }
        out
    }

    /// Width of the model's output (the logits).
    pub fn outputs(&self) -> usize {
        self.layers.iter().fold(self.inputs, |width, l| match l {
            LayerSpec::Dense { units, .. } | LayerSpec::Linear { units, .. } => *units,
            _ => width,
        })
    }
}
