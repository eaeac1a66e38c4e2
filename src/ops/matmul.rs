//! Host side of `shaders/matmul.wgsl`: tiling choice, params, and the dispatch.

use std::sync::Arc;

use crate::backend::{Matmul, MatmulDims};
use crate::error::{Error, Result};
use crate::gpu::{DeviceKind, GpuBuffer, GpuContext, Kernel, Recorder};
use crate::shaders;

/// Outputs per invocation of `matmul_forward` (the WGSL `const RM`, `RN`).
const REGISTER_BLOCK: (u32, u32) = (8, 8);
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
    /// Register blocks on CPU-backed drivers (lavapipe: 8×8 outputs per invocation measured
    /// fastest), workgroup tiles on GPUs. `WGTRAIN_MATMUL=register|tiled` overrides.
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
        Self::Register { wg: (8, 8) }
    }

    pub fn tiled() -> Self {
        Self::Tiled { wg: (16, 16), tile_k: 16 }
    }

    /// The rows and columns of C one workgroup covers.
    fn workgroup_tile(&self) -> (u32, u32) {
        match *self {
            Self::Register { wg } => (wg.1 * REGISTER_BLOCK.0, wg.0 * REGISTER_BLOCK.1),
            Self::Tiled { wg, .. } => (wg.1 * TILED_BLOCK.0, wg.0 * TILED_BLOCK.1),
        }
    }
}

impl std::fmt::Display for MatmulTiling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (rm, rn) = self.workgroup_tile();
        match *self {
            Self::Register { wg } => write!(
                f,
                "register {}x{} per invocation, workgroup {}x{} ({rm}x{rn} of C)",
                REGISTER_BLOCK.0, REGISTER_BLOCK.1, wg.0, wg.1
            ),
            Self::Tiled { wg, tile_k } => write!(
                f,
                "workgroup-memory tiles {rm}x{rn}x{tile_k}, {}x{} per invocation, workgroup {}x{}",
                TILED_BLOCK.0, TILED_BLOCK.1, wg.0, wg.1
            ),
        }
    }
}

/// Mirror of the WGSL `Params` struct.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    m: u32,
    n: u32,
    k: u32,
    a_rs: u32,
    a_ks: u32,
    b_ks: u32,
    b_cs: u32,
    has_bias: u32,
    activation: u32,
    alpha: f32,
    _pad0: u32,
    _pad1: u32,
}

/// The matmul pipeline for one tiling on one device.
pub struct MatmulKernels {
    tiling: MatmulTiling,
    kernel: Arc<Kernel>,
}

impl MatmulKernels {
    pub fn new(ctx: &GpuContext, tiling: MatmulTiling) -> Result<Self> {
        let kernel = match tiling {
            MatmulTiling::Register { wg } => {
                ctx.kernel(shaders::MATMUL, "matmul_forward", &[("WG_X", wg.0 as f64), ("WG_Y", wg.1 as f64)])?
            }
            MatmulTiling::Tiled { wg, tile_k } => ctx.kernel(
                shaders::MATMUL,
                "matmul_forward_tiled",
                &[("TW_X", wg.0 as f64), ("TW_Y", wg.1 as f64), ("TILE_K", tile_k as f64)],
            )?,
        };
        Ok(Self { tiling, kernel })
    }

    pub fn tiling(&self) -> MatmulTiling {
        self.tiling
    }
}

fn to_u32(op: &'static str, what: &str, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::LimitExceeded {
        op,
        what: what.into(),
        needed: v as u64,
        limit_name: "u32 index range",
        limit: u32::MAX as u64,
    })
}

/// Record `C = op(A)·op(B) (+ bias)`. a: (M, K) or (K, M); b: (K, N) or (N, K); c: (M, N).
#[allow(clippy::too_many_arguments)]
pub fn matmul_forward(
    rec: &mut Recorder,
    ctx: &GpuContext,
    kernels: &MatmulKernels,
    a: &GpuBuffer,
    b: &GpuBuffer,
    bias: Option<&GpuBuffer>,
    c: &GpuBuffer,
    d: MatmulDims,
    spec: &Matmul,
) -> Result<()> {
    let (m, n, k) = (to_u32("matmul", "M", d.m)?, to_u32("matmul", "N", d.n)?, to_u32("matmul", "K", d.k)?);
    let (a_rs, a_ks) = if spec.trans_a { (1, m) } else { (k, 1) };
    let (b_ks, b_cs) = if spec.trans_b { (1, k) } else { (n, 1) };
    let params = Params {
        m,
        n,
        k,
        a_rs,
        a_ks,
        b_ks,
        b_cs,
        has_bias: bias.is_some() as u32,
        activation: 0,
        alpha: 0.0,
        _pad0: 0,
        _pad1: 0,
    };
    let (tile_rows, tile_cols) = kernels.tiling.workgroup_tile();
    let groups = [n.div_ceil(tile_cols), m.div_ceil(tile_rows), 1];
    // Without a bias the binding still needs a buffer; `a` is never read through it.
    let bias = bias.unwrap_or(a);
    rec.dispatch(ctx, &kernels.kernel, bytemuck::bytes_of(&params), &[a, b, bias, c], groups)
}
