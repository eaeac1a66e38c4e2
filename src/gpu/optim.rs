//! Host side of `shaders/optim.wgsl`.

use super::{grid, to_u32};
use crate::backend::UpdateRule;
use crate::error::Result;
use crate::gpu::{Call, GpuBuffer, GpuContext, Specialized};
use crate::shaders;

params_struct! {
    /// Mirror of the WGSL `Params` (layout checked against naga in `gpu::layout`).
    struct Params {
        n: u32,
        _pad0: u32,
        penalized: u32,
        _pad1: u32,
    }
}

/// One pipeline per rule and value of the WGSL `FORM` bits (1 norm clipping, 2 penalties,
/// 4 Nesterov), each built on first use.
pub struct OptimKernels {
    sgd: Specialized<8>,
    momentum: Specialized<8>,
    adagrad: Specialized<8>,
    rmsprop: Specialized<8>,
    adam: Specialized<8>,
    nadam: Specialized<8>,
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
    pub grad: &'a GpuBuffer,
    pub state: [Option<&'a GpuBuffer>; 2],
    pub hyper: &'a GpuBuffer,
    pub grad_norm: Option<&'a GpuBuffer>,
    pub penalized: usize,
}

/// Record one update of `n` parameters.
pub fn update(
    call: Call<OptimKernels>,
    rule: UpdateRule,
    b: UpdateBuffers,
    n: usize,
) -> Result<()> {
    let Call { rec, ctx, k } = call;
    let p = Params {
        n: to_u32("update", "parameter count", n)?,
        _pad0: 0,
        penalized: to_u32("update", "penalized share", b.penalized)?,
        _pad1: 0,
    };
    let kernels = match rule {
        UpdateRule::Sgd => &k.sgd,
        UpdateRule::Momentum | UpdateRule::Nesterov => &k.momentum,
        UpdateRule::Adagrad => &k.adagrad,
        UpdateRule::Rmsprop => &k.rmsprop,
        UpdateRule::Adam => &k.adam,
        UpdateRule::Nadam => &k.nadam,
    };
    let form = b.grad_norm.is_some() as usize
        | ((b.penalized > 0) as usize) << 1
        | ((rule == UpdateRule::Nesterov) as usize) << 2;
    let kernel = kernels.get(ctx, form)?;
    // Without norm clipping the kernel never reads `norm`; any read-only buffer fills the slot.
    let norm = b.grad_norm.unwrap_or(b.hyper);
    let mut bind = vec![(1, b.param), (2, b.grad), (3, b.hyper), (4, norm)];
    for (i, s) in b.state.iter().take(rule.state_count()).enumerate() {
        bind.push((5 + i as u32, s.expect("state presence checked by checks::update")));
    }
    // Four parameters per invocation (vec4).
    rec.dispatch(ctx, kernel, bytemuck::bytes_of(&p), &bind, grid(n.div_ceil(4)))
}
