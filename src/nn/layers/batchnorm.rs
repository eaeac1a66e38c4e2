//! Batch normalization (Ioffe & Szegedy 2015) over the batch's rows, with a learned scale and
//! shift (`affine`: row 0 γ, row 1 β) and running statistics for evaluation (`running`: row 0
//! the mean, row 1 the variance), kept in checkpoints.

use crate::backend::{Backend, BatchNorm, BatchNormTensors};
use crate::error::Result;
use crate::nn::layer::{Backward, Build, CrossReplica, Forward, Layer, LayerKind, LayerSummary};
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

impl BatchNormLayer {
    fn tensors(&self, io_x: Tensor, params: &crate::nn::ParamSet, saved: Tensor) -> BatchNormTensors {
        BatchNormTensors { x: io_x, affine: params[self.affine].value, saved, running: self.running }
    }

    /// The training forward over every replica's rows: the per-feature sum, then the squared
    /// deviations from the whole batch's mean, each summed across the replicas.
    fn forward_across(
        &self,
        b: &mut dyn Backend,
        t: BatchNormTensors,
        y: Tensor,
        across: &mut dyn CrossReplica,
    ) -> Result<()> {
        let (f, total) = (self.units, across.rows());
        b.batchnorm_moment(t, false)?;
        let mut saved = b.read(t.saved)?;
        across.sum(&mut saved[..f])?;
        saved[..f].iter_mut().for_each(|s| *s /= total as f32);
        b.write(t.saved, &saved)?;
        b.batchnorm_moment(t, true)?;
        let mut saved = b.read(t.saved)?;
        across.sum(&mut saved[f..])?;
        b.write(t.saved, &saved)?;
        b.batchnorm_normalize(self.spec, t, y, total)
    }
}

impl Layer for BatchNormLayer {
    fn units(&self) -> usize {
        self.units
    }

    /// The batch's mean and 1/σ, saved for backward: (2, F); the whole batch's gradient sums
    /// when synchronized across replicas: (2, F).
    fn workspace(&self, b: &mut dyn Backend, _rows: usize) -> Result<Vec<Tensor>> {
        Ok(vec![b.zeros(2, self.units)?, b.zeros(2, self.units)?])
    }

    fn forward(&self, b: &mut dyn Backend, io: Forward) -> Result<Tensor> {
        let t = self.tensors(io.x, io.params, io.extra[0]);
        match (io.mode, io.across) {
            (Mode::Train, Some(across)) => self.forward_across(b, t, io.y, across)?,
            (mode, _) => b.batchnorm_forward(self.spec, t, io.y, mode == Mode::Train)?,
        }
        Ok(io.y)
    }

    fn backward(&self, b: &mut dyn Backend, io: Backward) -> Result<bool> {
        let t = self.tensors(io.x, io.params, io.extra[0]);
        let daffine = io.params[self.affine].grad;
        let Some(across) = io.across else {
            b.batchnorm_backward(t, io.dy, io.dx, daffine)?;
            return Ok(false);
        };
        // dγ and dβ stay this replica's (the gradient exchange adds them up); dx needs the
        // whole batch's sums.
        b.batchnorm_backward_sums(t, io.dy, daffine)?;
        let mut sums = b.read(daffine)?;
        across.sum(&mut sums)?;
        b.write(io.extra[1], &sums)?;
        b.batchnorm_backward_input(t, io.dy, io.extra[1], io.dx, across.rows())?;
        Ok(false)
    }

    fn across_without_rows(&self, across: &mut dyn CrossReplica, backward: bool) -> Result<()> {
        if backward {
            across.sum(&mut vec![0.0; 2 * self.units])
        } else {
            across.sum(&mut vec![0.0; self.units])?;
            across.sum(&mut vec![0.0; self.units])
        }
    }
}
