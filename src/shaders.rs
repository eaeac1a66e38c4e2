//! The WGSL registry: every kernel source in `shaders/`, embedded at compile time.
//!
//! Shaders are plain WGSL; shared helpers in `shaders/lib/` (the element grid, the Philox
//! generator, precise f32 building blocks, the activation maths) are prepended with `concat!`, so each entry is a complete module that
//! naga validates on its own (see `tests/suite/shaders.rs`).

/// One embedded shader module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shader {
    /// The op family, also the file stem under `shaders/`.
    pub family: &'static str,
    /// The full WGSL text of the module, helpers included.
    pub source: &'static str,
    /// Every index the module computes is clamped or guarded against the sizes the host
    /// validated, so wgpu's per-access bounds checks (which halved matmul throughput on
    /// lavapipe) are left out. Only set for modules whose tests cover ragged shapes.
    pub guards_own_indices: bool,
}

macro_rules! lib {
    (grid) => {
        include_str!("../shaders/lib/grid.wgsl")
    };
    (philox) => {
        include_str!("../shaders/lib/philox.wgsl")
    };
    (activations) => {
        concat!(include_str!("../shaders/lib/precise.wgsl"), include_str!("../shaders/lib/activations.wgsl"))
    };
}

/// `C = act(op(A)·op(B) + bias)`: register-blocked and vec4 kernels.
pub const MATMUL: Shader = Shader {
    family: "matmul",
    source: concat!(
        lib!(activations),
        include_str!("../shaders/lib/matmul_epilogue.wgsl"),
        include_str!("../shaders/matmul.wgsl")
    ),
    guards_own_indices: true,
};

/// The matmul with op(A) shared across a subgroup of 8 (needs wgpu's SUBGROUP feature):
/// `matmul.wgsl` with `matmul_subgroup.wgsl` appended.
pub const MATMUL_SUBGROUP: Shader = Shader {
    family: "matmul_subgroup",
    source: concat!(
        lib!(activations),
        include_str!("../shaders/lib/matmul_epilogue.wgsl"),
        include_str!("../shaders/matmul.wgsl"),
        include_str!("../shaders/matmul_subgroup.wgsl")
    ),
    guards_own_indices: true,
};

/// The workgroup-memory tilings (any shape, and vec4 with two stages), with the split-K kernel
/// for products of fewer than 8 rows and `MATMUL`'s for the ones it cannot take.
pub const MATMUL_TILED: Shader = Shader {
    family: "matmul_tiled",
    source: concat!(
        lib!(activations),
        include_str!("../shaders/lib/matmul_epilogue.wgsl"),
        include_str!("../shaders/matmul.wgsl"),
        include_str!("../shaders/matmul_tiled.wgsl")
    ),
    guards_own_indices: true,
};

/// Activations forward and backward, PReLU's slope gradient.
pub const ACTIVATION: Shader = Shader {
    family: "activation",
    source: concat!(lib!(grid), lib!(philox), lib!(activations), include_str!("../shaders/activation.wgsl")),
    guards_own_indices: false,
};

/// Inverted and alpha dropout.
pub const DROPOUT: Shader = Shader {
    family: "dropout",
    source: concat!(lib!(grid), lib!(philox), include_str!("../shaders/dropout.wgsl")),
    guards_own_indices: false,
};

/// Softmax and the fused losses.
pub const LOSS: Shader =
    Shader { family: "loss", source: include_str!("../shaders/loss.wgsl"), guards_own_indices: false };

/// Column sums, argmax-correct counts, sums of squares.
pub const REDUCE: Shader =
    Shader { family: "reduce", source: include_str!("../shaders/reduce.wgsl"), guards_own_indices: false };

/// Optimizer updates.
pub const OPTIM: Shader = Shader {
    family: "optim",
    source: concat!(lib!(grid), include_str!("../shaders/optim.wgsl")),
    guards_own_indices: false,
};

/// Updates from factors that also form the input gradient (needs wgpu's SUBGROUP feature):
/// `optim.wgsl` with `optim_dx.wgsl` appended.
pub const OPTIM_DX: Shader = Shader {
    family: "optim_dx",
    source: concat!(lib!(grid), lib!(activations), include_str!("../shaders/optim.wgsl"), include_str!("../shaders/optim_dx.wgsl")),
    guards_own_indices: false,
};

/// Gathers, fill, scale, and the casts between f32 and f16 storage.
pub const DATA: Shader = Shader {
    family: "data",
    source: concat!(lib!(grid), include_str!("../shaders/data.wgsl")),
    guards_own_indices: false,
};

/// Raw Philox blocks.
pub const RANDOM: Shader = Shader {
    family: "random",
    source: concat!(lib!(philox), include_str!("../shaders/random.wgsl")),
    guards_own_indices: false,
};

/// Batch normalization forward (training and evaluation) and backward.
pub const BATCHNORM: Shader =
    Shader { family: "batchnorm", source: include_str!("../shaders/batchnorm.wgsl"), guards_own_indices: false };

/// Every module in the registry; a test checks this matches the files in `shaders/`.
pub const ALL: &[Shader] = &[MATMUL, MATMUL_SUBGROUP, MATMUL_TILED, ACTIVATION, DROPOUT, BATCHNORM, LOSS, REDUCE, OPTIM, OPTIM_DX, DATA, RANDOM];
