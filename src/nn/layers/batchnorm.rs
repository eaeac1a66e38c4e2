//! Batch normalization (Ioffe & Szegedy 2015) over the batch's rows, with a learned scale and
//! shift (`affine`: row 0 γ, row 1 β) and running statistics for evaluation (`running`: row 0
//! the mean, row 1 the variance), kept in checkpoints.

use crate::backend::{Backend, BatchNorm, BatchNormTensors};
use crate::error::Result;
use crate::nn::layer::{Backward, Build, Forward, Layer, LayerKind, LayerSummary};
use crate::nn::Mode;
use crate::tensor::Tensor;

pub struct BatchNormKind {
    pub eps: f32,
    pub momentum: f32,
}

impl LayerKind for BatchNormKind {
    fn units(&self, inputs: usize) -> usize {
        inputs
    }

    fn problem(&self) -> Option<String> {
        let (eps, momentum) = (self.eps, self.momentum);
        (eps.is_nan() || eps <= 0.0 || !(0.0..=1.0).contains(&momentum))
            .then(|| format!("batch norm needs eps > 0 and momentum in [0, 1], got {eps}, {momentum}"))
    }

    fn summary(&self, inputs: usize) -> LayerSummary {
        LayerSummary { kind: "BatchNorm".into(), params: 2 * inputs, weights: 0, rank: None }
    }

    fn build(&self, ctx: &mut Build, inputs: usize) -> Result<Box<dyn Layer>> {
        let affine = ctx.param("affine", 2, inputs, [vec![1.0; inputs], vec![0.0; inputs]].concat(), false);
        let running = ctx.buffer("running", 2, inputs, &[vec![0.0; inputs], vec![1.0; inputs]].concat())?;
        let spec = BatchNorm { eps: self.eps, momentum: self.momentum };
        Ok(Box::new(BatchNormLayer { affine, running, spec, units: inputs }))
    }
}

struct BatchNormLayer {
    affine: usize,
    running: Tensor,
    spec: BatchNorm,
    units: usize,
}

impl Layer for BatchNormLayer {
    fn units(&self) -> usize {
        self.units
    }

    /// The batch's mean and variance, saved for backward: (2, F).
    fn workspace(&self, b: &mut dyn Backend, _rows: usize) -> Result<Vec<Tensor>> {
        Ok(vec![b.zeros(2, self.units)?])
    }

    fn forward(&self, b: &mut dyn Backend, io: Forward) -> Result<Tensor> {
        let t = BatchNormTensors {
            x: io.x,
            affine: io.params[self.affine].value,
            saved: io.extra[0],
            running: self.running,
        };
        b.batchnorm_forward(self.spec, t, io.y, io.mode == Mode::Train)?;
        Ok(io.y)
    }

    fn backward(&self, b: &mut dyn Backend, io: Backward) -> Result<bool> {
        let t = BatchNormTensors {
            x: io.x,
            affine: io.params[self.affine].value,
            saved: io.extra[0],
            running: self.running,
        };
        b.batchnorm_backward(t, io.dy, io.dx, io.params[self.affine].grad)?;
        Ok(false)
    }
}
