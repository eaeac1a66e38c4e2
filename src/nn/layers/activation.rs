//! A standalone activation: `y = act(x)`, with PReLU's learned slopes (one per feature,
//! starting at 0.25 as in PyTorch) and RReLU's random slopes (Philox, keyed by the model's
//! seed and the layer's stream, so backward recomputes the same ones).

use super::activation_problem;
use crate::backend::{Activation, ActivationArgs, Backend, Noise};
use crate::error::Result;
use crate::nn::layer::{Backward, Build, Forward, Layer, LayerKind, LayerSummary};
use crate::nn::Mode;
use crate::tensor::Tensor;

pub struct ActivationKind {
    pub activation: Activation,
}

impl LayerKind for ActivationKind {
    fn units(&self, inputs: usize) -> usize {
        inputs
    }

    fn problem(&self) -> Option<String> {
        activation_problem(self.activation)
    }

    fn summary(&self, inputs: usize) -> LayerSummary {
        let params = if matches!(self.activation, Activation::Prelu) { inputs } else { 0 };
        LayerSummary { kind: format!("Activation ({})", self.activation.name()), params, weights: 0, rank: None }
    }

    fn build(&self, ctx: &mut Build, inputs: usize) -> Result<Box<dyn Layer>> {
        let alpha = matches!(self.activation, Activation::Prelu)
            .then(|| ctx.param("alpha", 1, inputs, vec![0.25; inputs], false));
        Ok(Box::new(ActivationLayer { act: self.activation, alpha, noise: ctx.noise, units: inputs }))
    }
}

struct ActivationLayer {
    act: Activation,
    alpha: Option<usize>,
    noise: Noise,
    units: usize,
}

impl Layer for ActivationLayer {
    fn units(&self) -> usize {
        self.units
    }

    fn forward(&self, b: &mut dyn Backend, io: Forward) -> Result<Tensor> {
        let noise = (io.mode == Mode::Train).then_some(self.noise);
        let args = ActivationArgs { alpha: self.alpha.map(|a| io.params[a].value), noise };
        b.activation_forward(self.act, io.x, io.y, args)?;
        Ok(io.y)
    }

    fn backward(&self, b: &mut dyn Backend, io: Backward) -> Result<bool> {
        let args = ActivationArgs { alpha: self.alpha.map(|a| io.params[a].value), noise: Some(self.noise) };
        if let Some(a) = self.alpha {
            b.prelu_alpha_backward(io.x, io.dy, io.params[a].grad)?;
        }
        if !io.first {
            b.activation_backward(self.act, Some(io.x), io.y, io.dy, io.dx, args)?;
        }
        Ok(false)
    }
}
