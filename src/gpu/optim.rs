//! Host side of `shaders/optim.wgsl`.

use super::{grid, to_u32};
use crate::backend::{Activation, UpdateRule};
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
        parts: u32,
        alpha: f32,
        _pad0: u32,
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

/// The same rules from factors that also form the input gradient (`shaders/optim_dx.wgsl`),
/// and the kernel that finishes it (`FORM` there: 1 with a derivative, the activation from
/// bit 1).
pub struct InputKernels {
    rules: OptimKernels,
    finish: Specialized<32>,
    /// Subgroups per workgroup.
    subgroups: usize,
}

impl OptimKernels {
    pub fn new(_ctx: &GpuContext) -> Result<Self> {
        let entries = ["sgd_update", "momentum_update", "adagrad_update", "rmsprop_update", "adam_update", "nadam_update"];
        Ok(Self::of(shaders::OPTIM, entries))
    }

    /// The rules' entry points in `shader`: sgd, momentum (and Nesterov), adagrad, rmsprop,
    /// adam, nadam.
    fn of(shader: shaders::Shader, entries: [&'static str; 6]) -> Self {
        let [sgd, momentum, adagrad, rmsprop, adam, nadam] = entries.map(|e| Specialized::new(shader, e, &[], "FORM"));
        Self { sgd, momentum, adagrad, rmsprop, adam, nadam }
    }

    fn rule(&self, rule: UpdateRule) -> &Specialized<{ 5 << 6 }> {
        match rule {
            UpdateRule::Sgd => &self.sgd,
            UpdateRule::Momentum | UpdateRule::Nesterov => &self.momentum,
            UpdateRule::Adagrad => &self.adagrad,
            UpdateRule::Rmsprop => &self.rmsprop,
            UpdateRule::Adam => &self.adam,
            UpdateRule::Nadam => &self.nadam,
        }
    }
}

impl InputKernels {
    /// Where the adapter's subgroups are all one size that divides the workgroup, and its
    /// driver builds the kernels (the subgroup's index in its workgroup is a newer built-in
    /// than the subgroup operations): the most common one, a batch-1 momentum update, is
    /// built here as the probe.
    pub fn new(ctx: &GpuContext) -> Option<Self> {
        let size = ctx.fixed_subgroup_size().filter(|s| super::WG.is_multiple_of(*s))?;
        let kernels = Self {
            rules: OptimKernels::of(
                shaders::OPTIM_DX,
                ["sgd_update_dx", "momentum_update_dx", "adagrad_update_dx", "rmsprop_update_dx", "adam_update_dx", "nadam_update_dx"],
            ),
            finish: Specialized::new(shaders::OPTIM_DX, "input_gradient", &[], "FORM"),
            subgroups: (super::WG / size) as usize,
        };
        let batch_one = UpdateForm { outer: true, aligned: true, by_rows: true, depth: 1, ..Default::default() };
        kernels.rules.momentum.get(ctx, form(batch_one)).is_ok().then_some(kernels)
    }

    /// The partial sums per row that the update of a (rows, cols) parameter from K factor
    /// rows leaves for its input gradient, or None where it cannot form it (the by-rows
    /// layout, and K of 1 to 4).
    pub fn parts(&self, rows: usize, cols: usize, k: usize) -> Option<usize> {
        (by_rows(rows, cols) && (1..=4).contains(&k)).then(|| lanes(cols) / super::WG as usize * self.subgroups)
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
    /// With factors in the by-rows layout (`InputKernels::parts`): the input gradient to form.
    pub input: Option<InputBuffers<'a>>,
}

/// vec4 lanes a row of `cols` columns takes in the by-rows layout (whole workgroups).
fn lanes(cols: usize) -> usize {
    (cols / 4).next_multiple_of(super::WG as usize)
}

/// By rows where the workgroups fill the rows (at most an eighth of their lanes idle): the
/// row is then the workgroup's, x one load per workgroup, and no lane divides. Otherwise
/// along the grid (784×300: by rows left 71% of the lanes idle and took 1.15 ms, against
/// 0.79 along the grid; 2048×2048: 13.0-14.4 ms by rows, 14.9-16.9 along the grid).
fn by_rows(rows: usize, cols: usize) -> bool {
    let stride = cols / 4;
    cols.is_multiple_of(4) && rows <= 65_535 && (lanes(cols) - stride) * 8 <= stride
}

/// The input gradient an update from factors forms: dx, the derivative and its point, and
/// the partial sums' scratch buffer, `parts` (`InputKernels::parts`) per row and factor row.
pub struct InputBuffers<'a> {
    pub dx: &'a GpuBuffer,
    pub derivative: Option<(Activation, &'a GpuBuffer)>,
    pub partial: &'a GpuBuffer,
    pub parts: usize,
    pub kernels: &'a InputKernels,
}

/// Where the gradient comes from (`Gradient`).
pub enum GradBuffers<'a> {
    Stored(&'a GpuBuffer),
    /// x (k, rows) and dz (k, cols) of a (rows, cols) parameter.
    Outer { x: &'a GpuBuffer, dz: &'a GpuBuffer, rows: usize, cols: usize, k: usize },
}

/// Whether `buf` can be bound as a uniform of `least` bytes: uniforms start aligned (a tensor
/// of its own does) and are small.
fn uniform_fits(ctx: &GpuContext, buf: &GpuBuffer, what: &str, least: u64) -> Result<()> {
    let limits = ctx.limits();
    let align = u64::from(limits.min_uniform_buffer_offset_alignment);
    if buf.offset % align != 0 || buf.bytes < least {
        return Err(Error::ShapeMismatch {
            op: "update",
            expected: format!("{what} in a tensor of its own (a view starting at a multiple of {align} bytes, {least} bytes or more)"),
            got: format!("{} bytes at byte {} of its buffer", buf.bytes, buf.offset),
        });
    }
    if buf.bytes > limits.max_uniform_buffer_binding_size {
        return Err(Error::LimitExceeded {
            op: "update",
            what: format!("{what}'s size in bytes"),
            needed: buf.bytes,
            limit_name: "max_uniform_buffer_binding_size",
            limit: limits.max_uniform_buffer_binding_size,
        });
    }
    Ok(())
}

/// What a pipeline of the update is built for (the WGSL `FORM`).
#[derive(Default)]
struct UpdateForm {
    clip_norm: bool,
    penalties: bool,
    nesterov: bool,
    outer: bool,
    aligned: bool,
    by_rows: bool,
    /// The factors' rows: unrolled where 1 to 4.
    depth: usize,
}

fn form(f: UpdateForm) -> usize {
    f.clip_norm as usize
        | (f.penalties as usize) << 1
        | (f.nesterov as usize) << 2
        | (f.outer as usize) << 3
        | (f.aligned as usize) << 4
        | (f.by_rows as usize) << 5
        | if (1..=4).contains(&f.depth) { f.depth << 6 } else { 0 }
}

/// Record one update of `n` parameters.
pub fn update(
    call: Call<OptimKernels>,
    rule: UpdateRule,
    b: UpdateBuffers,
    n: usize,
) -> Result<()> {
    let Call { rec, ctx, k } = call;
    // The hyper-parameters and the gradients' norm are bound as uniforms: every lane reads the
    // same few scalars, and through a storage binding lavapipe loads them lane by lane (3 such
    // reads were a sixth of a momentum update's time).
    uniform_fits(ctx, b.hyper, "the hyper tensor", 64)?;
    if let Some(norm) = b.grad_norm {
        uniform_fits(ctx, norm, "the gradients' norm", 16)?;
    }
    let (grad, x, (rows, cols, depth)) = match b.grad {
        GradBuffers::Stored(g) => (g, None, (0, 0, 0)),
        GradBuffers::Outer { x, dz, rows, cols, k } => (dz, Some(x), (rows, cols, k)),
    };
    let alpha = b.input.as_ref().and_then(|i| i.derivative).map_or(0.0, |(act, _)| act.param());
    let p = Params {
        n: to_u32("update", "parameter count", n)?,
        penalized: to_u32("update", "penalized share", b.penalized)?,
        rows: to_u32("update", "rows", rows)?,
        cols: to_u32("update", "columns", cols)?,
        k: to_u32("update", "the factors' rows", depth)?,
        parts: to_u32("update", "partial sums per row", b.input.as_ref().map_or(0, |i| i.parts))?,
        alpha,
        _pad0: 0,
    };
    let kernels = match &b.input {
        Some(i) => i.kernels.rules.rule(rule),
        None => k.rule(rule),
    };
    let by_rows = x.is_some() && by_rows(rows, cols);
    // Along the grid a row is found through f32 (`row_of`), exact below 2^22 vec4s; past it
    // the per-element path divides integers.
    let aligned = x.is_some() && cols.is_multiple_of(4) && (by_rows || n < 1 << 24);
    let form = form(UpdateForm {
        clip_norm: b.grad_norm.is_some(),
        penalties: b.penalized > 0,
        nesterov: rule == UpdateRule::Nesterov,
        outer: x.is_some(),
        aligned,
        by_rows,
        depth,
    });
    let kernel = kernels.get(ctx, form)?;
    let groups = match by_rows {
        true => [(lanes(cols) / super::WG as usize) as u32, rows as u32, 1],
        false => grid(n.div_ceil(4)),
    };
    // Without norm clipping the kernel never reads `norm`, nor `outer_x` without factors; any
    // read-only buffer fills their slots.
    let norm = b.grad_norm.unwrap_or(b.hyper);
    let mut bind = vec![(1, b.param), (2, grad), (3, b.hyper), (4, norm), (7, x.unwrap_or(b.hyper))];
    for (i, s) in b.state.iter().take(rule.state_count()).enumerate() {
        bind.push((5 + i as u32, s.expect("state presence checked by checks::update")));
    }
    if let Some(i) = &b.input {
        bind.push((8, i.partial));
    }
    // Four parameters per invocation (vec4).
    rec.dispatch(ctx, kernel, bytemuck::bytes_of(&p), &bind, groups)?;
    let Some(i) = &b.input else { return Ok(()) };
    let form = i.derivative.map_or(0, |(act, _)| 1 | (act.code() as usize) << 1);
    // Without a derivative the kernel never reads its point: a read-only buffer fills the slot.
    let at = i.derivative.map_or(b.hyper, |(_, at)| at);
    let bind = [(8, i.partial), (9, at), (10, i.dx)];
    rec.dispatch(ctx, i.kernels.finish.get(ctx, form)?, bytemuck::bytes_of(&p), &bind, grid(depth * rows))
}
