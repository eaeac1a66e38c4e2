//! Host side of `shaders/dropout.wgsl`.

use std::sync::Arc;

use super::{grid, to_u32};
use crate::backend::{Dropout, DropoutKind};
use crate::error::Result;
use crate::gpu::{Call, GpuBuffer, GpuContext, Kernel};
use crate::shaders;

params_struct! {
    /// Mirror of the WGSL `Params` (layout checked against naga in `gpu::layout`).
    struct Params {
        n: u32,
        seed: u32,
        stream: u32,
        alpha_mode: u32,
        p: f32,
        keep_scale: f32,
        a: f32,
        b: f32,
        dropped: f32,
        cols: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

pub struct DropoutKernels {
    forward: Arc<Kernel>,
    backward: Arc<Kernel>,
}

impl DropoutKernels {
    pub fn new(ctx: &GpuContext) -> Result<Self> {
        Ok(Self {
            forward: ctx.kernel(shaders::DROPOUT, "dropout_forward", &[])?,
            backward: ctx.kernel(shaders::DROPOUT, "dropout_backward", &[])?,
        })
    }
}

fn params(spec: &Dropout, n: usize, cols: usize) -> Result<Params> {
    let k = spec.coefficients()?;
    Ok(Params {
        n: to_u32("dropout", "element count", n)?,
        seed: spec.noise.seed,
        stream: spec.noise.stream,
        alpha_mode: (spec.kind == DropoutKind::Alpha) as u32,
        p: spec.p,
        keep_scale: k.keep_scale,
        a: k.a,
        b: k.b,
        dropped: k.dropped,
        cols: to_u32("dropout", "columns", cols)?,
        _pad1: 0,
        _pad2: 0,
    })
}

/// Record `y = mask(x)`; x, y: (n).
pub fn dropout_forward(
    call: Call<DropoutKernels>,
    spec: &Dropout,
    x: &GpuBuffer,
    y: &GpuBuffer,
    counters: &GpuBuffer,
    n: usize,
    cols: usize,
) -> Result<()> {
    let Call { rec, ctx, k } = call;
    let p = params(spec, n, cols)?;
    // One invocation per Philox block of four elements.
    rec.dispatch(ctx, &k.forward, bytemuck::bytes_of(&p), &[(1, x), (2, counters), (3, y)], grid(n.div_ceil(4)))
}

/// Record `dx = mask'(dy)`; dy, dx: (n).
pub fn dropout_backward(
    call: Call<DropoutKernels>,
    spec: &Dropout,
    dy: &GpuBuffer,
    dx: &GpuBuffer,
    counters: &GpuBuffer,
    n: usize,
    cols: usize,
) -> Result<()> {
    let Call { rec, ctx, k } = call;
    let p = params(spec, n, cols)?;
    rec.dispatch(ctx, &k.backward, bytemuck::bytes_of(&p), &[(1, dy), (2, counters), (3, dx)], grid(n.div_ceil(4)))
}
