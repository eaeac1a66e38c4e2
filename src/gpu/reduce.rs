//! Host side of `shaders/reduce.wgsl`.

use std::sync::Arc;

use super::to_u32;
use crate::error::Result;
use crate::gpu::{Call, GpuBuffer, GpuContext, Kernel};
use crate::shaders;

params_struct! {
    /// Mirror of the WGSL `Params` (layout checked against naga in `gpu::layout`).
    #[derive(Default)]
    struct Params {
        rows: u32,
        cols: u32,
        n: u32,
        accumulate: u32,
    }
}

const THREADS: u32 = 256;

pub struct ReduceKernels {
    column_sum: Arc<Kernel>,
    argmax_correct: Arc<Kernel>,
    sum_squares: Arc<Kernel>,
}

impl ReduceKernels {
    pub fn new(ctx: &GpuContext) -> Result<Self> {
        Ok(Self {
            column_sum: ctx.kernel(shaders::REDUCE, "column_sum", &[])?,
            argmax_correct: ctx.kernel(shaders::REDUCE, "argmax_correct", &[])?,
            sum_squares: ctx.kernel(shaders::REDUCE, "sum_squares", &[])?,
        })
    }
}

/// Record `y[j] = Σ_r x[r, j]`; x: (rows, cols), y: (cols).
pub fn column_sum(
    call: Call<ReduceKernels>,
    x: &GpuBuffer,
    y: &GpuBuffer,
    rows: usize,
    cols: usize,
) -> Result<()> {
    let Call { rec, ctx, k } = call;
    let p = Params {
        rows: to_u32("column_sum", "rows", rows)?,
        cols: to_u32("column_sum", "columns", cols)?,
        ..Params::default()
    };
    rec.dispatch(ctx, &k.column_sum, bytemuck::bytes_of(&p), &[(1, x), (2, y)], [p.cols.div_ceil(THREADS), 1, 1])
}

/// Record the correct-count of row argmaxes against labels into stats.
pub fn argmax_correct(
    call: Call<ReduceKernels>,
    x: &GpuBuffer,
    labels: &GpuBuffer,
    stats: &GpuBuffer,
    rows: usize,
    cols: usize,
) -> Result<()> {
    let Call { rec, ctx, k } = call;
    let p = Params {
        rows: to_u32("argmax_correct", "rows", rows)?,
        cols: to_u32("argmax_correct", "columns", cols)?,
        ..Params::default()
    };
    rec.dispatch(ctx, &k.argmax_correct, bytemuck::bytes_of(&p), &[(1, x), (2, stats), (3, labels)], [1, 1, 1])
}

/// Record `out = [Σx, Σx², Σ|x|]` (added to `out` when `accumulate`).
pub fn sum_squares(
    call: Call<ReduceKernels>,
    x: &GpuBuffer,
    out: &GpuBuffer,
    n: usize,
    accumulate: bool,
) -> Result<()> {
    let Call { rec, ctx, k } = call;
    let p =
        Params { n: to_u32("sum_squares", "element count", n)?, accumulate: accumulate as u32, ..Params::default() };
    rec.dispatch(ctx, &k.sum_squares, bytemuck::bytes_of(&p), &[(1, x), (2, out)], [1, 1, 1])
}
