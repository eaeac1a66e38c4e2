//! Host side of `shaders/random.wgsl`: raw Philox blocks, for checking the generator.

use std::sync::Arc;

use super::to_u32;
use crate::error::Result;
use crate::gpu::{Call, GpuBuffer, GpuContext, Kernel};
use crate::shaders;

params_struct! {
    /// Mirror of the WGSL `Params` (layout checked against naga in `gpu::layout`).
    struct Params {
        n: u32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

pub struct RandomKernels {
    blocks: Arc<Kernel>,
}

impl RandomKernels {
    pub fn new(ctx: &GpuContext) -> Result<Self> {
        Ok(Self { blocks: ctx.kernel(shaders::RANDOM, "philox_blocks", &[])? })
    }
}

/// Record `out[4i..4i+4] = philox4x32_10(input[6i..6i+4], input[6i+4..6i+6])` for `n` blocks.
pub fn philox_blocks(
    call: Call<RandomKernels>,
    input: &GpuBuffer,
    out: &GpuBuffer,
    n: usize,
) -> Result<()> {
    let Call { rec, ctx, k } = call;
    let p = Params { n: to_u32("philox_blocks", "block count", n)?, _pad0: 0, _pad1: 0, _pad2: 0 };
    rec.dispatch(ctx, &k.blocks, bytemuck::bytes_of(&p), &[(1, input), (2, out)], [p.n.div_ceil(64), 1, 1])
}
