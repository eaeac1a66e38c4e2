//! Host side of `shaders/batchnorm.wgsl`.

use std::sync::Arc;

use super::to_u32;
use crate::backend::BatchNorm;
use crate::error::Result;
use crate::gpu::{Call, GpuBuffer, GpuContext, Kernel};
use crate::shaders;

params_struct! {
    /// Mirror of the WGSL `Params` (layout checked against naga in `gpu::layout`).
    struct Params {
        rows: u32,
        cols: u32,
        eps: f32,
        momentum: f32,
    }
}

/// Invocations per workgroup (WGSL `WG`).
const WG: u32 = 64;

pub struct BatchNormKernels {
    forward: Arc<Kernel>,
    forward_eval: Arc<Kernel>,
    backward: Arc<Kernel>,
}

impl BatchNormKernels {
    pub fn new(ctx: &GpuContext) -> Result<Self> {
        Ok(Self {
            forward: ctx.kernel(shaders::BATCHNORM, "batchnorm_forward", &[])?,
            forward_eval: ctx.kernel(shaders::BATCHNORM, "batchnorm_forward_eval", &[])?,
            backward: ctx.kernel(shaders::BATCHNORM, "batchnorm_backward", &[])?,
        })
    }
}

fn params(spec: &BatchNorm, rows: usize, cols: usize) -> Result<Params> {
    Ok(Params {
        rows: to_u32("batchnorm", "rows", rows)?,
        cols: to_u32("batchnorm", "columns", cols)?,
        eps: spec.eps,
        momentum: spec.momentum,
    })
}

/// The buffers of a forward pass; x, y: (rows, cols); the rest (2, cols).
pub struct BatchNormBuffers<'a> {
    pub x: &'a GpuBuffer,
    pub affine: &'a GpuBuffer,
    pub y: &'a GpuBuffer,
    pub saved: &'a GpuBuffer,
    pub running: &'a GpuBuffer,
}

/// Record a forward pass: batch statistics when `training`, running statistics otherwise.
pub fn batchnorm_forward(
    call: Call<BatchNormKernels>,
    spec: &BatchNorm,
    b: BatchNormBuffers,
    rows: usize,
    cols: usize,
    training: bool,
) -> Result<()> {
    let Call { rec, ctx, k } = call;
    let p = params(spec, rows, cols)?;
    if training {
        let bind = [(1, b.x), (2, b.affine), (3, b.y), (4, b.saved), (5, b.running)];
        rec.dispatch(ctx, &k.forward, bytemuck::bytes_of(&p), &bind, [p.cols.div_ceil(WG), 1, 1])
    } else {
        let bind = [(1, b.x), (2, b.affine), (3, b.y), (5, b.running)];
        // Elements are numbered gid.x + gid.y·groups.x·WG, as `grid` lays out for WG = 64.
        let groups = (rows * cols).div_ceil(WG as usize).max(1);
        let gx = groups.min(65_535);
        rec.dispatch(ctx, &k.forward_eval, bytemuck::bytes_of(&p), &bind, [gx as u32, groups.div_ceil(gx) as u32, 1])
    }
}

/// The buffers of a backward pass: the forward's input, affine and saved statistics, and the
/// gradients; x, dy, dx: (rows, cols); the rest (2, cols).
pub struct BatchNormGrads<'a> {
    pub x: &'a GpuBuffer,
    pub affine: &'a GpuBuffer,
    pub saved: &'a GpuBuffer,
    pub dy: &'a GpuBuffer,
    pub dx: &'a GpuBuffer,
    pub daffine: &'a GpuBuffer,
}

/// Record the backward pass: dx (rows, cols) and daffine = [dγ; dβ].
pub fn batchnorm_backward(call: Call<BatchNormKernels>, g: BatchNormGrads, rows: usize, cols: usize) -> Result<()> {
    let Call { rec, ctx, k } = call;
    let BatchNormGrads { x, affine, saved, dy, dx, daffine } = g;
    // ε and the momentum only matter forward; the saved statistics carry ε.
    let p = params(&BatchNorm { eps: 0.0, momentum: 0.0 }, rows, cols)?;
    let bind = [(1, x), (2, affine), (3, dy), (4, saved), (5, dx), (6, daffine)];
    rec.dispatch(ctx, &k.backward, bytemuck::bytes_of(&p), &bind, [p.cols.div_ceil(WG), 1, 1])
}
