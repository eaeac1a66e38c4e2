//! The precision a model trains and infers in: all f32, or mixed f16 (f16 storage for what the
//! products read, f32 for everything that accumulates).

use serde::{Deserialize, Serialize};

use super::spec::{LayerSpec, ModelSpec};
use crate::error::{Error, Result};

/// How a model stores the tensors its products read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in f32.
    #[default]
    F32,
    /// Mixed precision: the weights the products read are an f16 copy of the f32 weights
    /// (refreshed from them before each training forward pass), and the hidden layers'
    /// outputs and kept pre-activations are stored in f16; the products accumulate in f32,
    /// and the logits, the loss, the gradients, the f32 weights and the optimizer's state stay
    /// f32, as in PyTorch's autocast with f32 master weights. Needs an adapter with f16 shaders
    /// (wgpu's `SHADER_F16`) and a model of Dense and Linear layers whose activations run in
    /// the product's epilogue.
    F16,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
        }
    }

    /// Whether `spec` can run in this precision; an error naming the first layer that cannot.
    pub fn check(self, spec: &ModelSpec) -> Result<()> {
        if self == Self::F32 {
            return Ok(());
        }
        for (i, layer) in spec.layers.iter().enumerate() {
            let problem = match layer {
                LayerSpec::Dense { activation, .. } if !activation.fusable() => {
                    format!("a Dense layer with {} (an activation that runs after the product)", activation.name())
                }
                LayerSpec::Dense { .. } | LayerSpec::Linear { .. } => continue,
                LayerSpec::Activation { activation } => format!("a standalone {} activation layer", activation.name()),
                LayerSpec::Dropout { .. } => "a Dropout layer".into(),
                LayerSpec::AlphaDropout { .. } => "an AlphaDropout layer".into(),
                LayerSpec::BatchNorm { .. } => "a BatchNorm layer".into(),
                LayerSpec::Custom { kind, .. } => format!("a {kind} layer (a registered kind)"),
            };
            return Err(Error::config(
                format!("layer {} of {}", i + 1, spec.layers.len()),
                format!(
                    "{problem}: --precision f16 trains Dense and Linear layers whose activation runs in the \
                     product's epilogue (identity, ReLU, leaky ReLU, ELU, SELU, GELU, sigmoid, tanh, ...); train this \
                     model with --precision f32"
                ),
            ));
        }
        Ok(())
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
