//! Host side of `shaders/activation.wgsl`.

use std::sync::Arc;

use super::{grid, to_u32};
use crate::backend::{Activation, Noise};
use crate::error::Result;
use crate::gpu::{Call, GpuBuffer, GpuContext, Kernel, Specialized};
use crate::shaders;

params_struct! {
    /// Mirror of the WGSL `Params` (layout checked against naga in `gpu::layout`).
    struct Params {
        n: u32,
        cols: u32,
        a: f32,
        lower: f32,
        upper: f32,
        seed: u32,
        stream: u32,
        training: u32,
        rows: u32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

pub struct ActivationKernels {
    /// One pipeline per activation (the WGSL override `ACT` = `Activation::code`).
    forward: Specialized<{ Activation::ALL.len() }>,
    backward: Specialized<{ Activation::ALL.len() }>,
    prelu_alpha: Arc<Kernel>,
}

impl ActivationKernels {
    pub fn new(ctx: &GpuContext) -> Result<Self> {
        Ok(Self {
            forward: Specialized::new(shaders::ACTIVATION, "activation_forward", &[], "ACT"),
            backward: Specialized::new(shaders::ACTIVATION, "activation_backward", &[], "ACT"),
            prelu_alpha: ctx.kernel(shaders::ACTIVATION, "prelu_alpha_backward", &[])?,
        })
    }
}

fn params(act: Activation, noise: Option<Noise>, rows: usize, cols: usize) -> Result<Params> {
    let (lower, upper) = match act {
        Activation::Rrelu { lower, upper } => (lower, upper),
        _ => (0.0, 0.0),
    };
    let training = noise.is_some() as u32;
    let noise = noise.unwrap_or_default();
    Ok(Params {
        n: to_u32("activation", "element count", rows * cols)?,
        cols: to_u32("activation", "columns", cols)?,
        a: act.param(),
        lower,
        upper,
        seed: noise.seed,
        stream: noise.stream,
        training,
        rows: to_u32("activation", "rows", rows)?,
        _pad0: 0,
        _pad1: 0,
        _pad2: 0,
    })
}

/// The activation tensors of one call, as buffers. x, y, dy, dx: (rows, cols); alpha: (cols).
pub struct ActivationBuffers<'a> {
    pub x: &'a GpuBuffer,
    pub y: &'a GpuBuffer,
    pub alpha: Option<&'a GpuBuffer>,
    pub counters: &'a GpuBuffer,
}

/// The gradients of a backward pass, (rows, cols) each.
pub struct ActivationGrads<'a> {
    pub dy: &'a GpuBuffer,
    pub dx: &'a GpuBuffer,
}

/// Record `y = act(x)`.
pub fn activation_forward(
    call: Call<ActivationKernels>,
    act: Activation,
    b: ActivationBuffers,
    noise: Option<Noise>,
    rows: usize,
    cols: usize,
) -> Result<()> {
    let Call { rec, ctx, k } = call;
    let p = params(act, noise, rows, cols)?;
    // Unused bindings still need a buffer; x is never read through `alpha`.
    let alpha = b.alpha.unwrap_or(b.x);
    let bind = [(1, b.x), (2, alpha), (3, b.counters), (4, b.y)];
    rec.dispatch(ctx, k.forward.get(ctx, act.code() as usize)?, bytemuck::bytes_of(&p), &bind, grid(rows * cols))
}

/// Record `dx = dy·act'(x)` (x may be y itself when the activation allows).
pub fn activation_backward(
    call: Call<ActivationKernels>,
    act: Activation,
    b: ActivationBuffers,
    g: ActivationGrads,
    noise: Option<Noise>,
    rows: usize,
    cols: usize,
) -> Result<()> {
    let Call { rec, ctx, k } = call;
    let ActivationGrads { dy, dx } = g;
    let p = params(act, noise, rows, cols)?;
    let alpha = b.alpha.unwrap_or(b.x);
    let bind = [(1, b.x), (2, alpha), (3, b.counters), (5, dy), (6, dx)];
    rec.dispatch(ctx, k.backward.get(ctx, act.code() as usize)?, bytemuck::bytes_of(&p), &bind, grid(rows * cols))
}

/// Record `dalpha[j] = Σ_r dy[r, j]·min(x[r, j], 0)`.
pub fn prelu_alpha_backward(
    call: Call<ActivationKernels>,
    x: &GpuBuffer,
    dy: &GpuBuffer,
    dalpha: &GpuBuffer,
    rows: usize,
    cols: usize,
) -> Result<()> {
    let Call { rec, ctx, k } = call;
    let p = params(Activation::Prelu, None, rows, cols)?;
    let groups = [to_u32("prelu_alpha_backward", "columns", cols)?.div_ceil(super::WG), 1, 1];
    rec.dispatch(ctx, &k.prelu_alpha, bytemuck::bytes_of(&p), &[(1, x), (4, dalpha), (5, dy)], groups)
}
