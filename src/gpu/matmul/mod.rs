//! Host side of `shaders/matmul.wgsl`: tiling choice, params, and the dispatch.

use super::to_u32;
use crate::backend::{Activation, Matmul, MatmulDims};
use crate::error::{Error, Result};
use crate::gpu::{Call, GpuBuffer, GpuContext, Specialized};
use crate::shaders;

mod class;
mod tiling;

pub use class::{ClassTuning, MatmulKernels, ShapeClass};
pub use tiling::MatmulTiling;
use tiling::{FORMS, REGISTER_BLOCK, SUBGROUP_BLOCK, SUBGROUP_LANES, TILED_BLOCK, VEC4_BLOCK, VEC4_ROWS_BLOCK};

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
        alpha: f32,
        _pad0: u32,
        _pad1: u32,
        _pad2: u32,
        _pad3: u32,
    }
}

/// The matmul pipelines for one tiling on one device: a kernel for any shape and, for
/// register tiling, the vec4 kernels for aligned shapes (and the subgroup kernel).
pub struct TilingKernels {
    tiling: MatmulTiling,
    /// Each built for the epilogues a product uses (the WGSL `FORM` bits), on first use.
    general: Specialized<FORMS>,
    vec4: Option<Specialized<FORMS>>,
    vec4_rows: Option<Specialized<FORMS>>,
    subgroup: Option<Specialized<FORMS>>,
    subgroup_strided: Option<Specialized<FORMS>>,
}

impl TilingKernels {
    pub fn new(ctx: &GpuContext, tiling: MatmulTiling) -> Result<Self> {
        let kernels = match tiling {
            MatmulTiling::Register { wg } | MatmulTiling::Subgroup { wg } => {
                let subgroup = matches!(tiling, MatmulTiling::Subgroup { .. });
                if subgroup && !MatmulTiling::subgroups_fit(ctx) {
                    return Err(Error::Config {
                        what: format!("the subgroup matmul tiling on {}", ctx.adapter()),
                        problem: format!(
                            "it needs subgroup operations with every subgroup {SUBGROUP_LANES} invocations wide \
                             (fixed subgroup size here: {:?}); use MatmulTiling::register()",
                            ctx.fixed_subgroup_size()
                        ),
                    });
                }
                let wg = [("WG_X", wg.0 as f64), ("WG_Y", wg.1 as f64)];
                Self {
                    tiling,
                    general: Specialized::new(shaders::MATMUL, "matmul_forward", &wg, "FORM"),
                    // Under Subgroup, aligned products of 8 rows or more go to the subgroup kernel.
                    vec4: (!subgroup).then(|| Specialized::new(shaders::MATMUL, "matmul_forward_vec4", &wg, "FORM")),
                    vec4_rows: Some(Specialized::new(shaders::MATMUL, "matmul_forward_vec4_rows", &wg, "FORM")),
                    subgroup: subgroup.then(|| {
                        Specialized::new(shaders::MATMUL_SUBGROUP, "matmul_forward_subgroup", &[], "FORM")
                    }),
                    subgroup_strided: subgroup.then(|| {
                        Specialized::new(shaders::MATMUL_SUBGROUP, "matmul_forward_subgroup_strided", &[], "FORM")
                    }),
                }
            }
            MatmulTiling::Tiled { wg, tile_k } => {
                let constants = [("TW_X", wg.0 as f64), ("TW_Y", wg.1 as f64), ("TILE_K", tile_k as f64)];
                Self {
                    tiling,
                    general: Specialized::new(shaders::MATMUL, "matmul_forward_tiled", &constants, "FORM"),
                    vec4: None,
                    vec4_rows: None,
                    subgroup: None,
                    subgroup_strided: None,
                }
            }
        };
        // Build the plain products now, so a kernel the driver rejects fails at startup.
        for k in std::iter::once(&kernels.general).chain(&kernels.vec4).chain(&kernels.vec4_rows).chain(&kernels.subgroup).chain(&kernels.subgroup_strided) {
            k.get(ctx, 0)?;
        }
        Ok(kernels)
    }

    /// The kernels `matmul_forward` will dispatch for these sizes.
    fn pick(&self, d: MatmulDims, spec: &Matmul) -> Pick<'_> {
        let Layout { aligned, rows_aligned, few_rows } = Layout::of(d, spec);
        let wg = self.tiling.wg();
        let per_workgroup = |block: (u32, u32)| (wg.1 * block.0, wg.0 * block.1);
        let vec4 = |kernels, tile| Pick { kernels, tile, reads_transposes: true };
        let strided = |kernels, tile| Pick { kernels, tile, reads_transposes: false };
        if let Some(rows) = self.vec4_rows.as_ref().filter(|_| rows_aligned && few_rows) {
            return vec4(rows, per_workgroup(VEC4_ROWS_BLOCK));
        }
        let subgroup_tile = (SUBGROUP_BLOCK.0, SUBGROUP_LANES * SUBGROUP_BLOCK.1);
        if let Some(subgroup) = self.subgroup.as_ref().filter(|_| aligned) {
            return vec4(subgroup, subgroup_tile);
        }
        // Unaligned, 8 rows or more: element loads still share op(A) (127×781×301 on
        // lavapipe: 23 GFLOPS, against 9 for matmul_forward).
        if let Some(subgroup) = self.subgroup_strided.as_ref().filter(|_| !few_rows) {
            return strided(subgroup, subgroup_tile);
        }
        match (&self.vec4, self.tiling) {
            (Some(kernels), _) if aligned => vec4(kernels, per_workgroup(VEC4_BLOCK)),
            (_, MatmulTiling::Tiled { .. }) => strided(&self.general, per_workgroup(TILED_BLOCK)),
            _ => strided(&self.general, per_workgroup(REGISTER_BLOCK)),
        }
    }

    /// The entry point used for these sizes, as `matmul::<entry>[<tiling>]` (for tests and
    /// benchmark reports).
    pub fn kernel_for(&self, d: MatmulDims, spec: &Matmul) -> String {
        format!("matmul::{}[{}]", self.pick(d, spec).kernels.entry(), self.tiling)
    }

    pub fn tiling(&self) -> MatmulTiling {
        self.tiling
    }
}

/// What decides which kernel of a tiling takes a product.
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    /// Whether the vec4 kernels read it: K a multiple of 4, and M for a transposed A, N for an
    /// untransposed B.
    pub aligned: bool,
    /// Whether the rows kernel does (it reads a transposed A by elements: any M).
    pub rows_aligned: bool,
    /// Fewer rows than a vec4 register block.
    pub few_rows: bool,
}

impl Layout {
    pub fn of(d: MatmulDims, spec: &Matmul) -> Self {
        let aligned = d.k.is_multiple_of(4)
            && (!spec.trans_a || d.m.is_multiple_of(4))
            && (spec.trans_b || d.n.is_multiple_of(4));
        let rows_aligned = d.k.is_multiple_of(4) && (spec.trans_b || d.n.is_multiple_of(4));
        Self { aligned, rows_aligned, few_rows: d.m < VEC4_BLOCK.0 as usize }
    }
}

/// The kernels chosen for one product.
struct Pick<'a> {
    kernels: &'a Specialized<FORMS>,
    /// Rows and columns of C one workgroup covers.
    tile: (u32, u32),
    /// Whether the kernel takes the transposes from `FORM` (else from the strides).
    reads_transposes: bool,
}

/// The buffers of one product: the operands, the output, and the epilogue's optional ones.
#[derive(Clone)]
pub struct MatmulBuffers<'a> {
    pub a: &'a GpuBuffer,
    pub b: &'a GpuBuffer,
    pub c: &'a GpuBuffer,
    pub bias: Option<&'a GpuBuffer>,
    pub pre: Option<&'a GpuBuffer>,
    pub derivative_at: Option<&'a GpuBuffer>,
    pub col_sum: Option<&'a GpuBuffer>,
}

/// Record `C = act(op(A)·op(B) + bias)`, keeping the pre-activation in `pre` when given, or
/// `C = op(A)·op(B) ⊙ act'(derivative_at)` for a derivative epilogue; also `col_sum[j] =
/// Σ_k op(B)[k, j]` when given.
/// a: (M, K) or (K, M); b: (K, N) or (N, K); c, pre, derivative_at: (M, N).
pub fn matmul_forward(call: Call<TilingKernels>, m: MatmulBuffers, d: MatmulDims, spec: &Matmul) -> Result<()> {
    let Call { rec, ctx, k: kernels } = call;
    let MatmulBuffers { a, b, c, bias, pre, derivative_at, col_sum } = m;
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
        alpha: epilogue.param(),
        _pad0: 0,
        _pad1: 0,
        _pad2: 0,
        _pad3: 0,
    };
    let pick = kernels.pick(d, spec);
    let (tile_rows, tile_cols) = pick.tile;
    // The WGSL `FORM` bits: 1 activation, 2 derivative, 4 column sums, 8 bias, 16 keep the
    // pre-activation, 32 and 64 the transposes (read only by kernels with vec4 loads; the
    // others take strides, so one pipeline serves every form), 7..10 the activation.
    let act = (epilogue.code() as usize) << 7;
    let epilogue_bits = match (spec.derivative, epilogue) {
        (Some(_), _) => 2 | act,
        (None, Activation::Identity) => 0,
        (None, _) => 1 | act | if pre.is_some() { 16 } else { 0 },
    };
    let form = epilogue_bits
        | if col_sum.is_some() { 4 } else { 0 }
        | if bias.is_some() { 8 } else { 0 }
        | if pick.reads_transposes { (spec.trans_a as usize) << 5 | (spec.trans_b as usize) << 6 } else { 0 };
    let kernel = pick.kernels.get(ctx, form)?;
    let groups = [n.div_ceil(tile_cols), m.div_ceil(tile_rows), 1];
    // Without a bias the binding still needs a buffer; `a` is never read through it.
    let bias = bias.unwrap_or(a);
    let pre = pre.or(derivative_at).unwrap_or(c);
    let col_sum = col_sum.unwrap_or(c);
    let buffers = [(1, a), (2, b), (3, bias), (4, c), (5, pre), (6, col_sum)];
    rec.dispatch(ctx, kernel, bytemuck::bytes_of(&params), &buffers, groups)
}
