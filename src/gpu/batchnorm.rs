//! Host side of `shaders/batchnorm.wgsl`.

use std::sync::Arc;

use super::backend::{buf, GpuBackend};
use super::to_u32;
use crate::backend::{checks, BatchNorm, BatchNormTensors};
use crate::error::Result;
use crate::gpu::{Call, GpuBuffer, GpuContext, Kernel};
use crate::shaders;
use crate::tensor::Tensor;

params_struct! {
    /// Mirror of the WGSL `Params` (layout checked against naga in `gpu::layout`).
    struct Params {
        rows: u32,
        cols: u32,
        eps: f32,
        momentum: f32,
        total: u32,
    }
}

/// Invocations per workgroup (WGSL `WG`).
const WG: u32 = 64;

pub struct BatchNormKernels {
    forward: Arc<Kernel>,
    forward_eval: Arc<Kernel>,
    backward: Arc<Kernel>,
    sum: Arc<Kernel>,
    sqdev: Arc<Kernel>,
    normalize: Arc<Kernel>,
    backward_sums: Arc<Kernel>,
    backward_input: Arc<Kernel>,
}

impl BatchNormKernels {
    pub fn new(ctx: &GpuContext) -> Result<Self> {
        Ok(Self {
            forward: ctx.kernel(shaders::BATCHNORM, "batchnorm_forward", &[])?,
            forward_eval: ctx.kernel(shaders::BATCHNORM, "batchnorm_forward_eval", &[])?,
            backward: ctx.kernel(shaders::BATCHNORM, "batchnorm_backward", &[])?,
            sum: ctx.kernel(shaders::BATCHNORM, "batchnorm_sum", &[])?,
            sqdev: ctx.kernel(shaders::BATCHNORM, "batchnorm_sqdev", &[])?,
            normalize: ctx.kernel(shaders::BATCHNORM, "batchnorm_normalize", &[])?,
            backward_sums: ctx.kernel(shaders::BATCHNORM, "batchnorm_backward_sums", &[])?,
            backward_input: ctx.kernel(shaders::BATCHNORM, "batchnorm_backward_input", &[])?,
        })
    }
}

/// `total`: the whole batch's rows over every replica (`rows` unsynchronized).
fn params(spec: &BatchNorm, rows: usize, cols: usize, total: usize) -> Result<Params> {
    Ok(Params {
        rows: to_u32("batchnorm", "rows", rows)?,
        cols: to_u32("batchnorm", "columns", cols)?,
        eps: spec.eps,
        momentum: spec.momentum,
        total: to_u32("batchnorm", "rows of the whole batch", total)?,
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
    let p = params(spec, rows, cols, rows)?;
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
    let p = params(&BatchNorm { eps: 0.0, momentum: 0.0 }, rows, cols, rows)?;
    let bind = [(1, x), (2, affine), (3, dy), (4, saved), (5, dx), (6, daffine)];
    rec.dispatch(ctx, &k.backward, bytemuck::bytes_of(&p), &bind, [p.cols.div_ceil(WG), 1, 1])
}

/// A stage of batch norm synchronized across replicas (`Backend::batchnorm_moment` and the
/// three after it), over these `rows` of a batch of `total`.
pub enum Stage<'a> {
    /// saved row 0 ← Σ x, or (`centered`) row 1 ← Σ (x − saved row 0)².
    Moment {
        x: &'a GpuBuffer,
        saved: &'a GpuBuffer,
        centered: bool,
    },
    Normalize(BatchNormBuffers<'a>),
    /// `daffine` ← [Σ dy·x̂; Σ dy] over these rows.
    GradientSums {
        x: &'a GpuBuffer,
        saved: &'a GpuBuffer,
        dy: &'a GpuBuffer,
        daffine: &'a GpuBuffer,
    },
    /// `daffine` holds the whole batch's sums.
    InputGradient(BatchNormGrads<'a>),
}

/// Record one stage (one invocation per feature).
pub fn batchnorm_stage(
    call: Call<BatchNormKernels>,
    spec: &BatchNorm,
    stage: Stage,
    rows: usize,
    cols: usize,
    total: usize,
) -> Result<()> {
    let Call { rec, ctx, k } = call;
    let p = params(spec, rows, cols, total)?;
    let groups = [p.cols.div_ceil(WG), 1, 1];
    let bytes = bytemuck::bytes_of(&p);
    match stage {
        Stage::Moment { x, saved, centered } => {
            let kernel = if centered { &k.sqdev } else { &k.sum };
            rec.dispatch(ctx, kernel, bytes, &[(1, x), (4, saved)], groups)
        }
        Stage::Normalize(b) => {
            let bind = [(1, b.x), (2, b.affine), (3, b.y), (4, b.saved), (5, b.running)];
            rec.dispatch(ctx, &k.normalize, bytes, &bind, groups)
        }
        Stage::GradientSums { x, saved, dy, daffine } => {
            let bind = [(1, x), (3, dy), (4, saved), (6, daffine)];
            rec.dispatch(ctx, &k.backward_sums, bytes, &bind, groups)
        }
        Stage::InputGradient(g) => {
            let bind = [(1, g.x), (2, g.affine), (3, g.dy), (4, g.saved), (5, g.dx), (6, g.daffine)];
            rec.dispatch(ctx, &k.backward_input, bytes, &bind, groups)
        }
    }
}

// The `Backend` ops (`op_set` delegates): checks, tensors to buffers, the recording above.

type Tensors = crate::tensor::Arena<std::sync::Arc<GpuBuffer>>;

/// The buffers of a forward pass writing `y`.
fn forward_buffers<'a>(ts: &'a Tensors, op: &'static str, t: &BatchNormTensors, y: Tensor) -> Result<BatchNormBuffers<'a>> {
    Ok(BatchNormBuffers {
        x: buf(ts, op, t.x)?,
        affine: buf(ts, op, t.affine)?,
        y: buf(ts, op, y)?,
        saved: buf(ts, op, t.saved)?,
        running: buf(ts, op, t.running)?,
    })
}

/// The buffers of a backward pass; `daffine` is the input stage's whole-batch sums.
fn grad_buffers<'a>(
    ts: &'a Tensors,
    op: &'static str,
    t: &BatchNormTensors,
    dy: Tensor,
    dx: Tensor,
    daffine: Tensor,
) -> Result<BatchNormGrads<'a>> {
    Ok(BatchNormGrads {
        x: buf(ts, op, t.x)?,
        affine: buf(ts, op, t.affine)?,
        saved: buf(ts, op, t.saved)?,
        dy: buf(ts, op, dy)?,
        dx: buf(ts, op, dx)?,
        daffine: buf(ts, op, daffine)?,
    })
}

pub(super) fn forward(
    g: &mut GpuBackend,
    spec: BatchNorm,
    t: BatchNormTensors,
    y: Tensor,
    training: bool,
) -> Result<()> {
    checks::batchnorm(&t, y, None)?;
    let (ts, op) = (&g.tensors, "batchnorm_forward");
    let b = forward_buffers(ts, op, &t, y)?;
    batchnorm_forward(Call { rec: &mut g.rec, ctx: &g.ctx, k: &g.k.batchnorm }, &spec, b, t.x.rows, t.x.cols, training)
}

pub(super) fn backward(g: &mut GpuBackend, t: BatchNormTensors, dy: Tensor, dx: Tensor, daffine: Tensor) -> Result<()> {
    checks::batchnorm(&t, dy, Some((dx, daffine)))?;
    let (ts, op) = (&g.tensors, "batchnorm_backward");
    let grads = grad_buffers(ts, op, &t, dy, dx, daffine)?;
    let (rows, cols) = t.x.shape();
    batchnorm_backward(Call { rec: &mut g.rec, ctx: &g.ctx, k: &g.k.batchnorm }, grads, rows, cols)
}

pub(super) fn moment(g: &mut GpuBackend, t: BatchNormTensors, centered: bool) -> Result<()> {
    let op = "batchnorm_moment";
    checks::batchnorm_stage(op, &t, &[t.saved], &[], t.x.rows)?;
    let ts = &g.tensors;
    let stage = Stage::Moment { x: buf(ts, op, t.x)?, saved: buf(ts, op, t.saved)?, centered };
    let (rows, cols) = t.x.shape();
    let call = Call { rec: &mut g.rec, ctx: &g.ctx, k: &g.k.batchnorm };
    batchnorm_stage(call, &BatchNorm::default(), stage, rows, cols, rows)
}

pub(super) fn normalize(
    g: &mut GpuBackend,
    spec: BatchNorm,
    t: BatchNormTensors,
    y: Tensor,
    total: usize,
) -> Result<()> {
    let op = "batchnorm_normalize";
    checks::batchnorm_stage(op, &t, &[y, t.saved, t.running], &[], total)?;
    let ts = &g.tensors;
    let b = forward_buffers(ts, op, &t, y)?;
    let (rows, cols) = t.x.shape();
    let call = Call { rec: &mut g.rec, ctx: &g.ctx, k: &g.k.batchnorm };
    batchnorm_stage(call, &spec, Stage::Normalize(b), rows, cols, total)
}

pub(super) fn backward_sums(g: &mut GpuBackend, t: BatchNormTensors, dy: Tensor, daffine: Tensor) -> Result<()> {
    let op = "batchnorm_backward_sums";
    checks::batchnorm_stage(op, &t, &[daffine], &[dy], t.x.rows)?;
    let ts = &g.tensors;
    let stage = Stage::GradientSums {
        x: buf(ts, op, t.x)?,
        saved: buf(ts, op, t.saved)?,
        dy: buf(ts, op, dy)?,
        daffine: buf(ts, op, daffine)?,
    };
    let (rows, cols) = t.x.shape();
    let call = Call { rec: &mut g.rec, ctx: &g.ctx, k: &g.k.batchnorm };
    batchnorm_stage(call, &BatchNorm::default(), stage, rows, cols, rows)
}

pub(super) fn backward_input(
    g: &mut GpuBackend,
    t: BatchNormTensors,
    dy: Tensor,
    sums: Tensor,
    dx: Tensor,
    total: usize,
) -> Result<()> {
    let op = "batchnorm_backward_input";
    checks::batchnorm_stage(op, &t, &[dx], &[dy, sums, t.saved], total)?;
    let ts = &g.tensors;
    let grads = grad_buffers(ts, op, &t, dy, dx, sums)?;
    let (rows, cols) = t.x.shape();
    let call = Call { rec: &mut g.rec, ctx: &g.ctx, k: &g.k.batchnorm };
    batchnorm_stage(call, &BatchNorm::default(), Stage::InputGradient(grads), rows, cols, total)
}
