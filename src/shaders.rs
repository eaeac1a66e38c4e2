//! The WGSL registry: every kernel source in `shaders/`, embedded at compile time.
//!
//! Shaders are plain WGSL; shared helpers are prepended with `concat!` so each entry is a
//! complete module that naga can validate on its own (see `tests/shaders.rs`).

/// One embedded shader module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shader {
    /// The op family, also the file stem under `shaders/`.
    pub family: &'static str,
    /// The full WGSL text of the module.
    pub source: &'static str,
    /// Every index the module computes is clamped or guarded against the sizes the host
    /// validated, so wgpu's per-access bounds checks (which halved matmul throughput on
    /// lavapipe) are left out. Only set for modules whose tests cover ragged shapes.
    pub guards_own_indices: bool,
}

/// `C = op(A)·op(B) (+ bias)`: register-blocked and shared-memory tiled variants.
pub const MATMUL: Shader = Shader {
    family: "matmul",
    source: include_str!("../shaders/matmul.wgsl"),
    guards_own_indices: true,
};

/// Every module in the registry; a test checks this matches the files in `shaders/`.
pub const ALL: &[Shader] = &[MATMUL];
