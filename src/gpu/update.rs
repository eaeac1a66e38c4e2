//! The update op on the GPU: its tensors resolved to buffers, and where the update of a
//! weight matrix from its factors also owes the layer's input gradient, either formed in the
//! update's own pass (`optim::InputKernels`) or by the product before it.

use super::backend::{buf, buf_opt, GpuBackend};
use super::optim::{self as optim_ops, GradBuffers, InputBuffers, UpdateBuffers};
use super::Call;
use crate::backend::{Backend, Gradient, Matmul, UpdateRule, UpdateTensors};
use crate::error::Result;

impl GpuBackend {
    /// Record an update whose tensors `checks::update` passed.
    pub(super) fn record_update(&mut self, rule: UpdateRule, u: UpdateTensors) -> Result<()> {
        let op = "update";
        let mut parts = None;
        if let Gradient::Outer { x, dz, input: Some(i) } = u.grad {
            match self.k.optim_input.as_ref().and_then(|k| k.parts(x.cols, dz.cols, x.rows)) {
                Some(p) => {
                    self.size_partials((4 * p * x.rows * x.cols) as u64)?;
                    parts = Some(p);
                }
                None => {
                    // The product the backward pass would have recorded, from θ before the
                    // update.
                    let spec = Matmul { derivative: i.derivative, ..Matmul::nt() };
                    self.matmul(dz, u.param, i.dx, spec)?;
                }
            }
        }
        let t = &self.tensors;
        let (grad, input) = match u.grad {
            Gradient::Stored(g) => (GradBuffers::Stored(buf(t, op, g)?), None),
            Gradient::Outer { x, dz, input } => {
                let grad = GradBuffers::Outer { x: buf(t, op, x)?, dz: buf(t, op, dz)?, rows: x.cols, cols: dz.cols, k: x.rows };
                let input = match (input, parts, self.k.optim_input.as_ref()) {
                    (Some(i), Some(parts), Some(kernels)) => Some(InputBuffers {
                        dx: buf(t, op, i.dx)?,
                        derivative: match i.derivative {
                            Some(d) => Some((d.activation, buf(t, op, d.at)?)),
                            None => None,
                        },
                        partial: self.partials.as_deref().expect("sized above"),
                        parts,
                        kernels,
                    }),
                    _ => None,
                };
                (grad, input)
            }
        };
        let b = UpdateBuffers {
            param: buf(t, op, u.param)?,
            grad,
            state: [buf_opt(t, op, u.state[0])?, buf_opt(t, op, u.state[1])?],
            hyper: buf(t, op, u.hyper)?,
            grad_norm: buf_opt(t, op, u.grad_norm)?,
            penalized: u.penalized,
            input,
        };
        let call = Call { rec: &mut self.rec, ctx: &self.ctx, k: &self.k.optim };
        optim_ops::update(call, rule, b, u.param.len())
    }

    /// Make the partial sums' buffer at least `bytes` long.
    fn size_partials(&mut self, bytes: u64) -> Result<()> {
        if self.partials.as_ref().is_none_or(|p| p.bytes < bytes) {
            if let Some(old) = self.partials.take() {
                self.pool.release(old);
            }
            self.partials = Some(self.pool.acquire(&self.ctx, "update", bytes)?);
        }
        Ok(())
    }
}
