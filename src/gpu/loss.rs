//! Host side of `shaders/loss.wgsl`.

use std::sync::Arc;

use super::to_u32;
use crate::backend::Loss;
use crate::error::Result;
use crate::gpu::{Call, GpuBuffer, GpuContext, Kernel};
use crate::shaders;

params_struct! {
    /// Mirror of the WGSL `Params` (layout checked against naga in `gpu::layout`).
    struct Params {
        rows: u32,
        cols: u32,
        scale: f32,
        _pad0: u32,
    }
}

/// Invocations per workgroup of the loss kernels (WGSL `THREADS`).
const THREADS: u32 = 256;

pub struct LossKernels {
    softmax: Arc<Kernel>,
    cross_entropy: Arc<Kernel>,
    binary_cross_entropy: Arc<Kernel>,
    squared_error: Arc<Kernel>,
}

impl LossKernels {
    pub fn new(ctx: &GpuContext) -> Result<Self> {
        Ok(Self {
            softmax: ctx.kernel(shaders::LOSS, "softmax_forward", &[])?,
            cross_entropy: ctx.kernel(shaders::LOSS, "softmax_cross_entropy_forward", &[])?,
            binary_cross_entropy: ctx.kernel(shaders::LOSS, "sigmoid_binary_cross_entropy_forward", &[])?,
            squared_error: ctx.kernel(shaders::LOSS, "mean_squared_error_forward", &[])?,
        })
    }
}

fn params(rows: usize, cols: usize, scale: f32) -> Result<Params> {
    Ok(Params { rows: to_u32("loss", "rows", rows)?, cols: to_u32("loss", "columns", cols)?, scale, _pad0: 0 })
}

/// Record `probs = softmax(z)` row by row; z, probs: (rows, cols).
pub fn softmax_forward(
    call: Call<LossKernels>,
    z: &GpuBuffer,
    probs: &GpuBuffer,
    rows: usize,
    cols: usize,
) -> Result<()> {
    let Call { rec, ctx, k } = call;
    let p = params(rows, cols, 1.0)?;
    let groups = [p.rows.div_ceil(THREADS), 1, 1];
    rec.dispatch(ctx, &k.softmax, bytemuck::bytes_of(&p), &[(1, z), (3, probs)], groups)
}

/// The buffers of a loss: logits, targets, the logits' gradient and the stats accumulators.
pub struct LossBuffers<'a> {
    pub z: &'a GpuBuffer,
    pub targets: &'a GpuBuffer,
    pub dz: &'a GpuBuffer,
    pub stats: &'a GpuBuffer,
}

/// Record one loss: dz and the stats accumulators. z, dz: (rows, cols); targets: labels
/// (rows) or (rows, cols); stats: (4).
pub fn loss_forward(call: Call<LossKernels>, loss: Loss, b: LossBuffers, rows: usize, cols: usize, scale: f32) -> Result<()> {
    let Call { rec, ctx, k } = call;
    let LossBuffers { z, targets, dz, stats } = b;
    let p = params(rows, cols, scale)?;
    let kernel = match loss {
        Loss::SoftmaxCrossEntropy => &k.cross_entropy,
        Loss::SigmoidBinaryCrossEntropy => &k.binary_cross_entropy,
        Loss::MeanSquaredError => &k.squared_error,
    };
    let bind = [(1, z), (2, targets), (3, dz), (4, stats)];
    rec.dispatch(ctx, kernel, bytemuck::bytes_of(&p), &bind, [1, 1, 1])
}
