//! A model as data: the layer list a Sequential model is built from, serializable so
//! checkpoints carry their architecture.

use serde::{Deserialize, Serialize};

use super::init::Initializer;
use super::layer::LayerKind;
use super::layers::{ActivationKind, BatchNormKind, DenseKind, DropoutKind};
use crate::backend::{Activation, BatchNorm, Loss};
use crate::error::Result;

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
    /// A kind registered by name (`nn::register_layer`), with its own settings.
    Custom {
        kind: String,
        #[serde(default)]
        settings: serde_json::Value,
    },
}

impl LayerSpec {
    /// What this layer is: its width, parameters, checks, summary line, and how it builds.
    pub fn kind(&self) -> Result<Box<dyn LayerKind>> {
        Ok(match self {
            Self::Dense { units, activation, init, bias } => {
                Box::new(DenseKind { units: *units, activation: *activation, init: *init, bias: Some(*bias) })
            }
            Self::Linear { units, init } => {
                Box::new(DenseKind { units: *units, activation: Activation::Identity, init: *init, bias: None })
            }
            Self::Activation { activation } => Box::new(ActivationKind { activation: *activation }),
            Self::Dropout { rate } => Box::new(DropoutKind { rate: *rate, alpha: false }),
            Self::AlphaDropout { rate } => Box::new(DropoutKind { rate: *rate, alpha: true }),
            Self::BatchNorm { eps, momentum } => Box::new(BatchNormKind { eps: *eps, momentum: *momentum }),
            Self::Custom { kind, settings } => super::layer::registered(kind, settings)?,
        })
    }

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

    /// Each layer's kind with its input width, in order (an unregistered custom kind is an
    /// error naming it).
    pub fn kinds(&self) -> Result<Vec<(Box<dyn LayerKind>, usize)>> {
        let mut width = self.inputs;
        let mut out = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            let kind = l.kind()?;
            let inputs = width;
            width = kind.units(inputs);
            out.push((kind, inputs));
        }
        Ok(out)
    }

    /// (layer number from 1, inputs, units) of every weight matrix, in order.
    pub fn weight_shapes(&self) -> Vec<(usize, usize, usize)> {
        let kinds = self.kinds().unwrap_or_default();
        let shapes = kinds.iter().enumerate().filter_map(|(i, (k, inputs))| k.weights(*inputs).map(|(r, c)| (i + 1, r, c)));
        shapes.collect()
    }

    /// Width of the model's output (the logits); the input width for a spec whose kinds are
    /// not all known (`validate` says which).
    pub fn outputs(&self) -> usize {
        self.kinds().ok().and_then(|k| k.last().map(|(k, inputs)| k.units(*inputs))).unwrap_or(self.inputs)
    }
}
