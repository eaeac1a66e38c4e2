//! Host side of `shaders/matmul.wgsl`: tiling choice, params, and the dispatch.

use super::to_u32;
use crate::backend::{Activation, Matmul, MatmulDims};
use crate::error::{Error, Result};
use crate::gpu::{DeviceKind, GpuBuffer, GpuContext, Recorder, Specialized};
use crate::shaders;

/// Outputs per invocation of `matmul_forward` (rows, columns).
const REGISTER_BLOCK: (u32, u32) = (8, 8);
/// Outputs per invocation of `matmul_forward_vec4` (WGSL `V_ROWS`, `4·V_COLS`).
const VEC4_BLOCK: (u32, u32) = (8, 16);
/// Outputs per invocation of `matmul_forward_vec4_rows`, for products of fewer than
/// `VEC4_BLOCK.0` rows.
const VEC4_ROWS_BLOCK: (u32, u32) = (1, 16);
/// Outputs per invocation of `matmul_forward_tiled` (the WGSL `const TM`, `TN`).
const TILED_BLOCK: (u32, u32) = (4, 4);

/// How the product is tiled. Both are always available; `for_device` picks per adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatmulTiling {
    /// Per-invocation register blocks, no workgroup memory; `wg` = workgroup (x, y).
    Register { wg: (u32, u32) },
    /// Workgroup-memory tiles `TILE_K` deep; `wg` = workgroup (x, y).
    Tiled { wg: (u32, u32), tile_k: u32 },
}

impl MatmulTiling {
    /// Register blocks on CPU-backed drivers (on lavapipe, 8×16 blocks read with vec4 loads beat
    /// workgroup tiles several-fold), workgroup tiles on GPUs. `WGTRAIN_MATMUL=register|tiled`
    /// overrides.
    pub fn for_device(kind: DeviceKind) -> Result<Self> {
        match std::env::var("WGTRAIN_MATMUL").ok().as_deref() {
            Some("register") => return Ok(Self::register()),
            Some("tiled") => return Ok(Self::tiled()),
            Some(other) => {
                return Err(Error::BadEnv { var: "WGTRAIN_MATMUL", value: other.into(), expected: "register or tiled" })
            }
            None => {}
        }
        Ok(if kind == DeviceKind::Cpu { Self::register() } else { Self::tiled() })
    }

    pub fn register() -> Self {
        Self::Register { wg: (8, 4) }
    }

    pub fn tiled() -> Self {
        Self::Tiled { wg: (16, 16), tile_k: 16 }
    }

    /// The rows and columns of C one workgroup covers, with `block` outputs per invocation.
    fn workgroup_tile(&self, block: (u32, u32)) -> (u32, u32) {
        let (Self::Register { wg } | Self::Tiled { wg, .. }) = *self;
        (wg.1 * block.0, wg.0 * block.1)
    }
}

impl std::fmt::Display for MatmulTiling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::Register { wg } => write!(
                f,
                "register blocks, no workgroup memory: {}x{} per invocation with vec4 loads on \
                 4-aligned shapes, else {}x{}; workgroup {}x{}",
                VEC4_BLOCK.0, VEC4_BLOCK.1, REGISTER_BLOCK.0, REGISTER_BLOCK.1, wg.0, wg.1
            ),
            Self::Tiled { wg, tile_k } => {
                let (rm, rn) = self.workgroup_tile(TILED_BLOCK);
                write!(
                    f,
                    "workgroup-memory tiles {rm}x{rn}x{tile_k}, {}x{} per invocation, workgroup {}x{}",
                    TILED_BLOCK.0, TILED_BLOCK.1, wg.0, wg.1
                )
            }
        }
    }
}

params_struct! {
    /// Mirror of the WGSL `Params` (layout checked against naga in `gpu::layout`).
    struct Params {
        m: u32,
        n: u32,
        k: u32,
        a_rs: u32,
        a_ks: u32,
        b_ks: u32,
        b_cs: u32,
        has_bias: u32,
        alpha: f32,
        trans_a: u32,
        trans_b: u32,
        activation: u32,
        keep_pre: u32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
    }
}

/// The matmul pipelines for one tiling on one device: a kernel for any shape and, for
/// register tiling, the vec4 kernel for aligned shapes.
pub struct MatmulKernels {
    tiling: MatmulTiling,
    /// Each built for the epilogues a product uses (the WGSL `EPILOGUE` bits), on first use.
    general: Specialized<8>,
    vec4: Option<Specialized<8>>,
    vec4_rows: Option<Specialized<8>>,
}

impl MatmulKernels {
    pub fn new(ctx: &GpuContext, tiling: MatmulTiling) -> Result<Self> {
        let kernels = match tiling {
            MatmulTiling::Register { wg } => {
                let wg = [("WG_X", wg.0 as f64), ("WG_Y", wg.1 as f64)];
                Self {
                    tiling,
                    general: Specialized::new(shaders::MATMUL, "matmul_forward", &wg, "EPILOGUE"),
                    vec4: Some(Specialized::new(shaders::MATMUL, "matmul_forward_vec4", &wg, "EPILOGUE")),
                    vec4_rows: Some(Specialized::new(shaders::MATMUL, "matmul_forward_vec4_rows", &wg, "EPILOGUE")),
                }
            }
            MatmulTiling::Tiled { wg, tile_k } => {
                let constants = [("TW_X", wg.0 as f64), ("TW_Y", wg.1 as f64), ("TILE_K", tile_k as f64)];
                Self {
                    tiling,
                    general: Specialized::new(shaders::MATMUL, "matmul_forward_tiled", &constants, "EPILOGUE"),
                    vec4: None,
                    vec4_rows: None,
                }
            }
        };
        // Build the plain products now, so a kernel the driver rejects fails at startup.
        for k in std::iter::once(&kernels.general).chain(&kernels.vec4).chain(&kernels.vec4_rows) {
            k.get(ctx, 0)?;
        }
        Ok(kernels)
    }

    /// The kernels `matmul_forward` will dispatch for these sizes, and its outputs per invocation.
    fn pick(&self, d: MatmulDims, spec: &Matmul) -> (&Specialized<8>, (u32, u32)) {
        let aligned = d.k.is_multiple_of(4)
            && (!spec.trans_a || d.m.is_multiple_of(4))
            && (spec.trans_b || d.n.is_multiple_of(4));
        // The rows kernel reads a transposed A by elements: any M.
        let rows_aligned = d.k.is_multiple_of(4) && (spec.trans_b || d.n.is_multiple_of(4));
        if let Some(rows) = self.vec4_rows.as_ref().filter(|_| rows_aligned && d.m < VEC4_BLOCK.0 as usize) {
            return (rows, VEC4_ROWS_BLOCK);
        }
        match (&self.vec4, self.tiling) {
            (Some(vec4), _) if aligned => (vec4, VEC4_BLOCK),
            (_, MatmulTiling::Register { .. }) => (&self.general, REGISTER_BLOCK),
            (_, MatmulTiling::Tiled { .. }) => (&self.general, TILED_BLOCK),
        }
    }

    /// The entry point used for these sizes, as `matmul::<entry>[<tiling>]` (for tests and
    /// benchmark reports).
    pub fn kernel_for(&self, d: MatmulDims, spec: &Matmul) -> String {
        format!("matmul::{}[{}]", self.pick(d, spec).0.entry(), self.tiling)
    }

    pub fn tiling(&self) -> MatmulTiling {
        self.tiling
    }
}

/// Record `C = act(op(A)·op(B) + bias)`, keeping the pre-activation in `pre` when given, or
/// `C = op(A)·op(B) ⊙ act'(derivative_at)` for a derivative epilogue; also `col_sum[j] =
/// Σ_k op(B)[k, j]` when given.
/// a: (M, K) or (K, M); b: (K, N) or (N, K); c, pre, derivative_at: (M, N).
#[allow(clippy::too_many_arguments)]
pub fn matmul_forward(
    rec: &mut Recorder,
    ctx: &GpuContext,
    kernels: &MatmulKernels,
    a: &GpuBuffer,
    b: &GpuBuffer,
    bias: Option<&GpuBuffer>,
    c: &GpuBuffer,
    pre: Option<&GpuBuffer>,
    derivative_at: Option<&GpuBuffer>,
    col_sum: Option<&GpuBuffer>,
    d: MatmulDims,
    spec: &Matmul,
) -> Result<()> {
    let (m, n, k) = (to_u32("matmul", "M", d.m)?, to_u32("matmul", "N", d.n)?, to_u32("matmul", "K", d.k)?);
    let (a_rs, a_ks) = if spec.trans_a { (1, m) } else { (k, 1) };
    let (b_ks, b_cs) = if spec.trans_b { (1, k) } else { (n, 1) };
    // The epilogue's activation: the forward one, or the one whose derivative multiplies C.
    let epilogue = spec.derivative.map_or(spec.activation, |d| d.activation);
    let params = Params {
        m,
        n,
        k,
        a_rs,
        a_ks,
        b_ks,
        b_cs,
        has_bias: bias.is_some() as u32,
        alpha: epilogue.param(),
        trans_a: spec.trans_a as u32,
        trans_b: spec.trans_b as u32,
        activation: epilogue.code(),
        keep_pre: pre.is_some() as u32,
        _pad0: 0,
        _pad1: 0,
        _pad2: 0,
    };
    let (kernels_for_shape, block) = kernels.pick(d, spec);
    // The WGSL `EPILOGUE` bits: 1 activation, 2 derivative, 4 column sums.
    let bits = match (spec.derivative, epilogue) {
        (Some(_), _) => 2,
        (None, Activation::Identity) => 0,
        (None, _) => 1,
    } | if col_sum.is_some() { 4 } else { 0 };
    let kernel = kernels_for_shape.get(ctx, bits)?;
    let (tile_rows, tile_cols) = kernels.tiling.workgroup_tile(block);
    let groups = [n.div_ceil(tile_cols), m.div_ceil(tile_rows), 1];
    // Without a bias the binding still needs a buffer; `a` is never read through it.
    let bias = bias.unwrap_or(a);
    let pre = pre.or(derivative_at).unwrap_or(c);
    let col_sum = col_sum.unwrap_or(c);
    let buffers = [(1, a), (2, b), (3, bias), (4, c), (5, pre), (6, col_sum)];
    rec.dispatch(ctx, kernel, bytemuck::bytes_of(&params), &buffers, groups)
}
