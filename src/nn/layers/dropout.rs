//! Dropout: inverted (kept units scaled by 1/(1−p)) or alpha (Klambauer et al. 2017: dropped
//! units set to SELU's saturation value, then an affine map that keeps mean and variance). The
//! mask is recomputed from (seed, step, index) in backward, never stored.

use crate::backend::{Backend, Dropout};
use crate::error::Result;
use crate::nn::layer::{Backward, Build, Forward, Layer, LayerKind, LayerSummary};
use crate::nn::Mode;
use crate::tensor::Tensor;

pub struct DropoutKind {
    pub rate: f32,
    /// Alpha dropout (for SELU nets) rather than inverted dropout.
    pub alpha: bool,
}

impl LayerKind for DropoutKind {
    fn units(&self, inputs: usize) -> usize {
        inputs
    }

    fn problem(&self) -> Option<String> {
        let rate = self.rate;
        (!(0.0..1.0).contains(&rate))
            .then(|| format!("dropout rate {rate} is not in [0, 1): 0 turns it off, 0.5 drops half the units"))
    }

    fn summary(&self, _inputs: usize) -> LayerSummary {
        let name = if self.alpha { "AlphaDropout" } else { "Dropout" };
        LayerSummary { kind: format!("{name} ({})", self.rate), params: 0, weights: 0, rank: None }
    }

    fn build(&self, ctx: &mut Build, inputs: usize) -> Result<Box<dyn Layer>> {
        let spec =
            if self.alpha { Dropout::alpha(self.rate, ctx.noise) } else { Dropout::inverted(self.rate, ctx.noise) };
        Ok(Box::new(DropoutLayer { spec, units: inputs }))
    }
}

struct DropoutLayer {
    spec: Dropout,
    units: usize,
}

impl Layer for DropoutLayer {
    fn units(&self) -> usize {
        self.units
    }

    fn forward(&self, b: &mut dyn Backend, io: Forward) -> Result<Tensor> {
        // In evaluation dropout is the identity: pass x on, no copy.
        if io.mode == Mode::Eval {
            return Ok(io.x);
        }
        b.dropout_forward(self.spec, io.x, io.y)?;
        Ok(io.y)
    }

    fn backward(&self, b: &mut dyn Backend, io: Backward) -> Result<bool> {
        if !io.first {
            b.dropout_backward(self.spec, io.dy, io.dx)?;
        }
        Ok(false)
    }
}
