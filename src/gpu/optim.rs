//! Host side of `shaders/optim.wgsl`.

use super::{grid, to_u32};
use crate::backend::UpdateRule;
use crate::error::{Error, Result};
use crate::gpu::{Call, GpuBuffer, GpuContext, Specialized};
use crate::shaders;

params_struct! {
    /// Mirror of the WGSL `Params` (layout checked against naga in `gpu::layout`).
    struct Params {
        n: u32,
        penalized: u32,
        rows: u32,
        cols: u32,
        k: u32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

/// One pipeline per rule and value of the WGSL `FORM` bits (1 norm clipping, 2 penalties,
/// 4 Nesterov, 8 a gradient formed from factors, 16 with rows a multiple of 4 wide, 32 by
/// rows; from bit 6 the factors' row count where it is 1 to 4), each built on first use.
pub struct OptimKernels {
    sgd: Specialized<{ 5 << 6 }>,
    momentum: Specialized<{ 5 << 6 }>,
    adagrad: Specialized<{ 5 << 6 }>,
    rmsprop: Specialized<{ 5 << 6 }>,
    adam: Specialized<{ 5 << 6 }>,
    nadam: Specialized<{ 5 << 6 }>,
}

impl OptimKernels {
    pub fn new(_ctx: &GpuContext) -> Result<Self> {
        let k = |entry| Specialized::new(shaders::OPTIM, entry, &[], "FORM");
        Ok(Self {
            sgd: k("sgd_update"),
            momentum: k("momentum_update"),
            adagrad: k("adagrad_update"),
            rmsprop: k("rmsprop_update"),
            adam: k("adam_update"),
            nadam: k("nadam_update"),
        })
    }
}

/// The buffers of one update; `state` holds as many as the rule keeps.
pub struct UpdateBuffers<'a> {
    pub param: &'a GpuBuffer,
    pub grad: GradBuffers<'a>,
    pub state: [Option<&'a GpuBuffer>; 2],
    pub hyper: &'a GpuBuffer,
    pub grad_norm: Option<&'a GpuBuffer>,
    pub penalized: usize,
}

/// Where the gradient comes from (`Gradient`).
pub enum GradBuffers<'a> {
    Stored(&'a GpuBuffer),
    /// x (k, rows) and dz (k, cols) of a (rows, cols) parameter.
    Outer { x: &'a GpuBuffer, dz: &'a GpuBuffer, rows: usize, cols: usize, k: usize },
}

/// Record one update of `n` parameters.
pub fn update(
    call: Call<OptimKernels>,
    rule: UpdateRule,
    b: UpdateBuffers,
    n: usize,
) -> Result<()> {
    let Call { rec, ctx, k } = call;
    // The hyper-parameters are bound as a uniform: every lane reads the same few scalars, and
    // through a storage binding lavapipe loads them lane by lane (3 such reads were a sixth
    // of a momentum update's time). Uniforms start aligned and are small.
    let limits = ctx.limits();
    if b.hyper.offset % u64::from(limits.min_uniform_buffer_offset_alignment) != 0 {
        return Err(Error::ShapeMismatch {
            op: "update",
            expected: format!(
                "a hyper tensor at a multiple of {} bytes into its buffer (a tensor of its own, not a view)",
                limits.min_uniform_buffer_offset_alignment
            ),
            got: format!("a view at byte {}", b.hyper.offset),
        });
    }
    if b.hyper.bytes > limits.max_uniform_buffer_binding_size {
        return Err(Error::LimitExceeded {
            op: "update",
            what: "the hyper tensor's size in bytes".into(),
            needed: b.hyper.bytes,
            limit_name: "max_uniform_buffer_binding_size",
            limit: limits.max_uniform_buffer_binding_size,
        });
    }
    let (grad, x, (rows, cols, depth)) = match b.grad {
        GradBuffers::Stored(g) => (g, None, (0, 0, 0)),
        GradBuffers::Outer { x, dz, rows, cols, k } => (dz, Some(x), (rows, cols, k)),
    };
    let p = Params {
        n: to_u32("update", "parameter count", n)?,
        penalized: to_u32("update", "penalized share", b.penalized)?,
        rows: to_u32("update", "rows", rows)?,
        cols: to_u32("update", "columns", cols)?,
        k: to_u32("update", "the factors' rows", depth)?,
        _pad0: 0,
        _pad1: 0,
        _pad2: 0,
    };
    let kernels = match rule {
        UpdateRule::Sgd => &k.sgd,
        UpdateRule::Momentum | UpdateRule::Nesterov => &k.momentum,
        UpdateRule::Adagrad => &k.adagrad,
        UpdateRule::Rmsprop => &k.rmsprop,
        UpdateRule::Adam => &k.adam,
        UpdateRule::Nadam => &k.nadam,
    };
    // By rows where the workgroups fill the rows (at most an eighth of their lanes idle): the
    // row is then the workgroup's, x one load per workgroup, and no lane divides. Otherwise
    // along the grid (784×300: by rows left 71% of the lanes idle and took 1.15 ms, against
    // 0.79 along the grid; 2048×2048: 13.0-14.4 ms by rows, 14.9-16.9 along the grid).
    let stride = cols / 4;
    let lanes = stride.next_multiple_of(super::WG as usize);
    let by_rows = x.is_some() && cols.is_multiple_of(4) && rows <= 65_535 && (lanes - stride) * 8 <= stride;
    // Along the grid a row is found through f32 (`row_of`), exact below 2^22 vec4s; past it
    // the per-element path divides integers.
    let aligned = x.is_some() && cols.is_multiple_of(4) && (by_rows || n < 1 << 24);
    let form = b.grad_norm.is_some() as usize
        | ((b.penalized > 0) as usize) << 1
        | ((rule == UpdateRule::Nesterov) as usize) << 2
        | (x.is_some() as usize) << 3
        | (aligned as usize) << 4
        | (by_rows as usize) << 5
        | if (1..=4).contains(&depth) { depth << 6 } else { 0 };
    let kernel = kernels.get(ctx, form)?;
    let groups = match by_rows {
        true => [(lanes / super::WG as usize) as u32, rows as u32, 1],
        false => grid(n.div_ceil(4)),
    };
    // Without norm clipping the kernel never reads `norm`, nor `outer_x` without factors; any
    // read-only buffer fills their slots.
    let norm = b.grad_norm.unwrap_or(b.hyper);
    let mut bind = vec![(1, b.param), (2, grad), (3, b.hyper), (4, norm), (7, x.unwrap_or(b.hyper))];
    for (i, s) in b.state.iter().take(rule.state_count()).enumerate() {
        bind.push((5 + i as u32, s.expect("state presence checked by checks::update")));
    }
    // Four parameters per invocation (vec4).
    rec.dispatch(ctx, kernel, bytemuck::bytes_of(&p), &bind, groups)
}
