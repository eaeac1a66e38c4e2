//! Host side of `shaders/data.wgsl`.

use std::sync::Arc;

use super::{grid, to_u32};
use crate::backend::Gather;
use crate::error::Result;
use crate::gpu::{Call, GpuBuffer, GpuContext, Kernel};
use crate::shaders;
use crate::tensor::DType;

params_struct! {
    /// Mirror of the WGSL `Params` (layout checked against naga in `gpu::layout`).
    struct Params {
        n: u32,
        cols: u32,
        value: f32,
        shift: f32,
        chunk_rows: u32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

impl Params {
    fn new(n: u32, cols: u32, value: f32, shift: f32) -> Self {
        Self { n, cols, value, shift, chunk_rows: u32::MAX, _pad0: 0, _pad1: 0, _pad2: 0 }
    }
}

/// The gathers for one count of source chunks.
struct Gathers {
    f32: Arc<Kernel>,
    u8: Arc<Kernel>,
    /// Four columns per invocation, for widths that are multiples of 4.
    f32_4: Arc<Kernel>,
    u8_4: Arc<Kernel>,
    u32: Arc<Kernel>,
}

impl Gathers {
    fn new(ctx: &GpuContext, chunks: u32) -> Result<Self> {
        let k = |entry| ctx.kernel(shaders::DATA, entry, &[("CHUNKS", chunks as f64)]);
        Ok(Self {
            f32: k("gather_rows_f32")?,
            u8: k("gather_rows_u8")?,
            f32_4: k("gather_rows_f32_4")?,
            u8_4: k("gather_rows_u8_4")?,
            u32: k("gather_rows_u32")?,
        })
    }
}

pub struct DataKernels {
    /// For a source of one chunk, and of two to four.
    gather_one: Gathers,
    gather_chunked: Gathers,
    fill: Arc<Kernel>,
    scale: Arc<Kernel>,
    scale_in_place: Arc<Kernel>,
    apply_mask: Arc<Kernel>,
    copy_4: Arc<Kernel>,
    cast_f32_to_f16: Arc<Kernel>,
    cast_f16_to_f32: Arc<Kernel>,
}

impl DataKernels {
    pub fn new(ctx: &GpuContext) -> Result<Self> {
        let k = |entry| ctx.kernel(shaders::DATA, entry, &[]);
        Ok(Self {
            gather_one: Gathers::new(ctx, 1)?,
            gather_chunked: Gathers::new(ctx, 4)?,
            fill: k("fill")?,
            scale: k("scale")?,
            scale_in_place: k("scale_in_place")?,
            apply_mask: k("apply_mask")?,
            copy_4: k("copy_4")?,
            cast_f32_to_f16: k("cast_f32_to_f16")?,
            cast_f16_to_f32: k("cast_f16_to_f32")?,
        })
    }
}

/// The buffers of a gather: `src` holds 1..=4 chunks of `chunk_rows` rows each (the last may
/// be shorter), `index` the epoch's order, `counters` the step's batch offset.
pub struct GatherBuffers<'a> {
    pub src: &'a [&'a GpuBuffer],
    pub chunk_rows: usize,
    pub index: &'a GpuBuffer,
    pub dst: &'a GpuBuffer,
    pub counters: &'a GpuBuffer,
}

/// Record `dst[r] = src[index[offset + r]]·scale + shift`; dst: (rows, cols).
pub fn gather_rows(
    call: Call<DataKernels>,
    src_dtype: DType,
    b: GatherBuffers,
    rows: usize,
    cols: usize,
    spec: Gather,
) -> Result<()> {
    let Call { rec, ctx, k } = call;
    let GatherBuffers { src, chunk_rows, index, dst, counters } = b;
    let (scale, shift) = (spec.scale, spec.shift);
    let n = rows * cols;
    let mut p =
        Params::new(to_u32("gather_rows", "element count", n)?, to_u32("gather_rows", "columns", cols)?, scale, shift);
    p.chunk_rows = to_u32("gather_rows", "rows per chunk", chunk_rows)?;
    let by4 = cols.is_multiple_of(4);
    // Unused chunk slots repeat the first chunk: read-only bindings may share a buffer.
    let chunk = |c: usize| *src.get(c).unwrap_or(&src[0]);
    let bind = [(1, chunk(0)), (2, index), (3, counters), (4, dst), (5, chunk(1)), (6, chunk(2)), (7, chunk(3))];
    let g = if src.len() == 1 { &k.gather_one } else { &k.gather_chunked };
    let kernel = match (src_dtype, by4) {
        (DType::F32, true) => &g.f32_4,
        (DType::U8, true) => &g.u8_4,
        (DType::F32, false) => &g.f32,
        (DType::U8, false) => &g.u8,
        (DType::U32, _) => &g.u32,
        (DType::F16, _) => unreachable!("checks::gather refuses F16 sources"),
    };
    let invocations = if by4 && src_dtype != DType::U32 { n / 4 } else { n };
    rec.dispatch(ctx, kernel, bytemuck::bytes_of(&p), &bind, grid(invocations))
}

/// Record `y[i] = value`.
pub fn fill(call: Call<DataKernels>, y: &GpuBuffer, n: usize, value: f32) -> Result<()> {
    let Call { rec, ctx, k } = call;
    let p = Params::new(to_u32("fill", "element count", n)?, 1, value, 0.0);
    rec.dispatch(ctx, &k.fill, bytemuck::bytes_of(&p), &[(4, y)], grid(n))
}

/// Record `y[i] = value·x[i]`, in place when `x` is `None`.
pub fn scale(
    call: Call<DataKernels>,
    x: Option<&GpuBuffer>,
    y: &GpuBuffer,
    n: usize,
    value: f32,
) -> Result<()> {
    let Call { rec, ctx, k } = call;
    let p = Params::new(to_u32("scale", "element count", n)?, 1, value, 0.0);
    match x {
        Some(x) => rec.dispatch(ctx, &k.scale, bytemuck::bytes_of(&p), &[(1, x), (4, y)], grid(n)),
        None => rec.dispatch(ctx, &k.scale_in_place, bytemuck::bytes_of(&p), &[(4, y)], grid(n)),
    }
}

/// Record `y = x` through the `copy_4` kernel, four floats per invocation (`n` a multiple of 4).
pub fn copy_4(call: Call<DataKernels>, x: &GpuBuffer, y: &GpuBuffer, n: usize) -> Result<()> {
    let Call { rec, ctx, k } = call;
    debug_assert_eq!(n % 4, 0, "copy_4 copies whole vec4s");
    let p = Params::new(to_u32("copy_4", "element count", n)?, 1, 0.0, 0.0);
    rec.dispatch(ctx, &k.copy_4, bytemuck::bytes_of(&p), &[(1, x), (4, y)], grid(n / 4))
}

/// Record `y = x` converted between f32 and f16 storage (`to_f16`: x is f32, y f16; else the
/// other way), `n` elements, one 32-bit word of f16 (two elements) per invocation.
pub fn cast(call: Call<DataKernels>, x: &GpuBuffer, y: &GpuBuffer, n: usize, to_f16: bool) -> Result<()> {
    let Call { rec, ctx, k } = call;
    let p = Params::new(to_u32("copy", "element count", n)?, 1, 0.0, 0.0);
    let kernel = if to_f16 { &k.cast_f32_to_f16 } else { &k.cast_f16_to_f32 };
    rec.dispatch(ctx, kernel, bytemuck::bytes_of(&p), &[(1, x), (4, y)], grid(n.div_ceil(2)))
}

/// Record `y[i] = 0` where `mask[i]` is 0.
pub fn apply_mask(call: Call<DataKernels>, mask: &GpuBuffer, y: &GpuBuffer, n: usize) -> Result<()> {
    let Call { rec, ctx, k } = call;
    let p = Params::new(to_u32("apply_mask", "element count", n)?, 1, 0.0, 0.0);
    rec.dispatch(ctx, &k.apply_mask, bytemuck::bytes_of(&p), &[(1, mask), (4, y)], grid(n))
}
