//! Host side of `shaders/matmul.wgsl`: tiling choice, params, and the dispatch.

use std::sync::OnceLock;

use super::to_u32;
use crate::backend::{Activation, Matmul, MatmulDims};
use crate::error::{Error, Result};
use crate::gpu::{Call, DeviceKind, GpuBuffer, GpuContext, Specialized};
use crate::shaders;

mod class;
mod storage;
mod tiling;

pub use class::{ClassTuning, MatmulKernels, ShapeClass};
pub use storage::Storage;
pub use tiling::MatmulTiling;
use tiling::{
    FORMS, REGISTER_BLOCK, ROWS_SPLIT_K, SHALLOW_K, ROWS_SPLIT_LANES, SUBGROUP_BLOCK, SUBGROUP_LANES, SUBGROUP_TALL, TILED_MAX_BLOCK, TILED_MAX_LOADS, VEC4_BLOCK,
    VEC4_ROWS_BLOCK,
};

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
/// register tiling, the vec4 kernels for aligned shapes (and the subgroup kernel); a set of
/// them for each storage of the operands (f32, or f16 for some of A, B and C).
pub struct TilingKernels {
    tiling: MatmulTiling,
    /// By `Storage::index`; the f32 set is made with the tiling, the others at first use.
    sets: [OnceLock<Kernels>; Storage::COUNT],
    /// The rows kernel's workgroup (x, y).
    rows_wg: (u32, u32),
    /// Rows and columns of C one workgroup of the rows kernel covers.
    rows_tile: (u32, u32),
    /// The fewest 64-row blocks a product takes the tall subgroup kernel at (see `new`).
    tall_blocks: usize,
}

/// One tiling's kernels for one storage.
struct Kernels {
    /// Each built for the epilogues a product uses (the WGSL `FORM` bits), on first use.
    general: Specialized<FORMS>,
    vec4: Option<Specialized<FORMS>>,
    vec4_rows: Option<Specialized<FORMS>>,
    subgroup: Option<Specialized<FORMS>>,
    subgroup_strided: Option<Specialized<FORMS>>,
    /// The subgroup kernel over 64 rows, for products of many rows.
    subgroup_tall: Option<Specialized<FORMS>>,
    /// Products of K ≤ `SHALLOW_K` (register and subgroup tilings: their stores are the work).
    shallow: Option<Specialized<FORMS>>,
}

impl Kernels {
    fn new(tiling: MatmulTiling, storage: Storage, rows_wg: (u32, u32)) -> Self {
        let shader = |base| storage::variant(base, storage);
        let rows_constants = [("WG_X", rows_wg.0 as f64), ("WG_Y", rows_wg.1 as f64)];
        match tiling {
            MatmulTiling::Register { wg: size } | MatmulTiling::Subgroup { wg: size } => {
                let subgroup = matches!(tiling, MatmulTiling::Subgroup { .. });
                let wg = [("WG_X", size.0 as f64), ("WG_Y", size.1 as f64)];
                let (plain, shared) = (shader(shaders::MATMUL), shader(shaders::MATMUL_SUBGROUP));
                Self {
                    general: Specialized::new(plain, "matmul_forward", &wg, "FORM"),
                    // Under Subgroup, aligned products of 8 rows or more go to the subgroup kernel.
                    vec4: (!subgroup).then(|| Specialized::new(plain, "matmul_forward_vec4", &wg, "FORM")),
                    vec4_rows: Some(Specialized::new(plain, "matmul_forward_vec4_rows", &rows_constants, "FORM")),
                    subgroup: subgroup.then(|| Specialized::new(shared, "matmul_forward_subgroup", &[], "FORM")),
                    subgroup_tall: subgroup.then(|| Specialized::new(shared, "matmul_forward_subgroup64", &[], "FORM")),
                    subgroup_strided: subgroup
                        .then(|| Specialized::new(shared, "matmul_forward_subgroup_strided", &[], "FORM")),
                    shallow: Some(Specialized::new(plain, "matmul_forward_shallow", &wg, "FORM")),
                }
            }
            MatmulTiling::Tiled { wg, block, tile_k } => {
                let constants = [
                    ("TW_X", wg.0 as f64),
                    ("TW_Y", wg.1 as f64),
                    ("TILE_K", tile_k as f64),
                    ("RM", block.0 as f64),
                    ("RN", block.1 as f64),
                ];
                let tiled = shader(shaders::MATMUL_TILED);
                Self {
                    general: Specialized::new(tiled, "matmul_forward_tiled", &constants, "FORM"),
                    vec4: Some(Specialized::new(tiled, "matmul_forward_tiled_vec4", &constants, "FORM")),
                    vec4_rows: Some(Specialized::new(
                        tiled,
                        "matmul_forward_rows_split",
                        &[("RS_K", ROWS_SPLIT_K as f64)],
                        "FORM",
                    )),
                    subgroup: None,
                    subgroup_strided: None,
                    subgroup_tall: None,
                    shallow: None,
                }
            }
        }
    }

    fn all(&self) -> impl Iterator<Item = &Specialized<FORMS>> {
        std::iter::once(&self.general)
            .chain(&self.vec4)
            .chain(&self.vec4_rows)
            .chain(&self.subgroup)
            .chain(&self.subgroup_strided)
            .chain(&self.subgroup_tall)
            .chain(&self.shallow)
    }
}

impl TilingKernels {
    pub fn new(ctx: &GpuContext, tiling: MatmulTiling) -> Result<Self> {
        let rows_wg = match tiling {
            MatmulTiling::Subgroup { .. } if !MatmulTiling::subgroups_fit(ctx) => {
                return Err(Error::Config {
                    what: format!("the subgroup matmul tiling on {}", ctx.adapter()),
                    problem: format!(
                        "it needs subgroup operations with every subgroup {SUBGROUP_LANES} invocations wide \
                         (fixed subgroup size here: {:?}); use MatmulTiling::register()",
                        ctx.fixed_subgroup_size()
                    ),
                });
            }
            MatmulTiling::Register { wg } | MatmulTiling::Subgroup { wg } => wg,
            // Products of a few rows leave a tile's rows idle: the split-K rows kernel
            // (matmul_tiled.wgsl), 256 lanes a workgroup; its unaligned products take the
            // general tiled kernel.
            MatmulTiling::Tiled { .. } => {
                check_tiled(ctx, tiling)?;
                (ROWS_SPLIT_LANES, 1)
            }
        };
        let rows_tile = match tiling {
            // One row, and four columns for each of the 256 / RS_K groups of lanes.
            MatmulTiling::Tiled { .. } => (1, 4 * ROWS_SPLIT_LANES / ROWS_SPLIT_K),
            _ => (rows_wg.1 * VEC4_ROWS_BLOCK.0, rows_wg.0 * VEC4_ROWS_BLOCK.1),
        };
        // The tall subgroup kernel feeds each lane's op(B) slice to 64 rows instead of 16
        // (1024×784×300 43 -> 50 GFLOPS, 128×2048×2048 35 -> 52 on lavapipe, 2-core EPYC),
        // but makes a quarter of the workgroups: it takes products of at least 64 rows with
        // four of its blocks per thread of a CPU driver, which runs a workgroup per thread at
        // a time (32×784×300 ran at 21 against 37 in 16-row blocks; the deep net's
        // 128×100×100, four blocks for two threads, 15-25% slower), 128 on a GPU (unmeasured).
        let threads = match ctx.kind() {
            DeviceKind::Cpu => std::thread::available_parallelism().map_or(1, |n| n.get()),
            _ => 32,
        };
        let kernels = Self { tiling, sets: Default::default(), rows_wg, rows_tile, tall_blocks: 4 * threads };
        // Build the plain products now, so a kernel the driver rejects fails at startup.
        for k in kernels.set(Storage::F32).all() {
            k.get(ctx, 0)?;
        }
        Ok(kernels)
    }

    fn set(&self, storage: Storage) -> &Kernels {
        self.sets[storage.index()].get_or_init(|| Kernels::new(self.tiling, storage, self.rows_wg))
    }

    /// The kernels `matmul_forward` will dispatch for these sizes.
    fn pick(&self, d: MatmulDims, spec: &Matmul, storage: Storage) -> Pick<'_> {
        let Layout { aligned, rows_aligned, few_rows, shallow } = Layout::of(d, spec);
        let set = self.set(storage);
        let wg = self.tiling.wg();
        let per_workgroup = |block: (u32, u32)| (wg.1 * block.0, wg.0 * block.1);
        let vec4 = |kernels, tile| Pick { kernels, tile, reads_transposes: true };
        let strided = |kernels, tile| Pick { kernels, tile, reads_transposes: false };
        if let Some(kernels) = set.shallow.as_ref().filter(|_| shallow) {
            return strided(kernels, per_workgroup(REGISTER_BLOCK));
        }
        if let Some(rows) = set.vec4_rows.as_ref().filter(|_| rows_aligned && few_rows) {
            return vec4(rows, self.rows_tile);
        }
        let subgroup_tile = (SUBGROUP_BLOCK.0, SUBGROUP_LANES * SUBGROUP_BLOCK.1);
        let tall_blocks = d.m.div_ceil(SUBGROUP_TALL as usize) * d.n.div_ceil(subgroup_tile.1 as usize);
        let tall_fits = d.m >= SUBGROUP_TALL as usize && d.k >= TALL_MIN_K && tall_blocks >= self.tall_blocks;
        if let Some(tall) = set.subgroup_tall.as_ref().filter(|_| aligned && tall_fits) {
            return vec4(tall, (SUBGROUP_TALL, subgroup_tile.1));
        }
        if let Some(subgroup) = set.subgroup.as_ref().filter(|_| aligned) {
            return vec4(subgroup, subgroup_tile);
        }
        // Unaligned, 8 rows or more: element loads still share op(A) (127×781×301 on
        // lavapipe: 23 GFLOPS, against 9 for matmul_forward).
        if let Some(subgroup) = set.subgroup_strided.as_ref().filter(|_| !few_rows) {
            return strided(subgroup, subgroup_tile);
        }
        match (&set.vec4, self.tiling) {
            (Some(kernels), MatmulTiling::Tiled { block, .. }) if aligned => vec4(kernels, per_workgroup(block)),
            (_, MatmulTiling::Tiled { block, .. }) => strided(&set.general, per_workgroup(block)),
            (Some(kernels), _) if aligned => vec4(kernels, per_workgroup(VEC4_BLOCK)),
            _ => strided(&set.general, per_workgroup(REGISTER_BLOCK)),
        }
    }

    /// The entry point used for these sizes, as `matmul::<entry>[<tiling>]` (for tests and
    /// benchmark reports).
    pub fn kernel_for(&self, d: MatmulDims, spec: &Matmul) -> String {
        format!("matmul::{}[{}]", self.pick(d, spec, Storage::F32).kernels.entry(), self.tiling)
    }

    pub fn tiling(&self) -> MatmulTiling {
        self.tiling
    }

    /// Whether `other` dispatches the same pipeline over the same grid for these sizes, as
    /// `Register` and `Subgroup` do for products of fewer than 8 rows: timing one against the
    /// other measures only noise.
    pub fn dispatches_like(&self, other: &Self, d: MatmulDims, spec: &Matmul, storage: Storage) -> bool {
        let (a, b) = (self.pick(d, spec, storage), other.pick(d, spec, storage));
        a.kernels.same_pipelines(b.kernels) && a.tile == b.tile && a.reads_transposes == b.reads_transposes
    }
}

/// Whether this adapter can run `tiling` (a `Tiled` one) as `shaders/matmul_tiled.wgsl` is
/// written: register blocks within its arrays, slices within its loads per invocation, the
/// workgroup within the adapter's limits.
fn check_tiled(ctx: &GpuContext, tiling: MatmulTiling) -> Result<()> {
    let MatmulTiling::Tiled { wg, block, tile_k } = tiling else {
        return Ok(());
    };
    let limits = ctx.limits();
    let threads = wg.0 * wg.1;
    let vec4_block = |b: u32| b == 4 || b == 8;
    let problem = if block.0 == 0 || block.1 == 0 || block.0 > TILED_MAX_BLOCK.0 || block.1 > TILED_MAX_BLOCK.1 {
        format!("register block {}x{}: each side must be 1 to 8", block.0, block.1)
    } else if !vec4_block(block.0) || !vec4_block(block.1) {
        format!("register block {}x{}: the vec4 kernel takes 4 or 8 on each side", block.0, block.1)
    } else if tile_k == 0 || !tile_k.is_multiple_of(4) {
        format!("tile depth {tile_k}: it must be a positive multiple of 4")
    } else if tile_k * (wg.1 * block.0).max(wg.0 * block.1) / 4 > TILED_MAX_LOADS * threads {
        format!("a {tile_k}-deep slice needs more than {TILED_MAX_LOADS} vec4 loads per invocation")
    } else if threads > limits.max_compute_invocations_per_workgroup
        || wg.0 > limits.max_compute_workgroup_size_x
        || wg.1 > limits.max_compute_workgroup_size_y
    {
        format!(
            "workgroup {}x{}: the adapter allows {} invocations ({} x, {} y)",
            wg.0,
            wg.1,
            limits.max_compute_invocations_per_workgroup,
            limits.max_compute_workgroup_size_x,
            limits.max_compute_workgroup_size_y
        )
    } else if tiling.workgroup_bytes() > limits.max_compute_workgroup_storage_size {
        format!(
            "{} bytes of workgroup memory: the adapter allows {}",
            tiling.workgroup_bytes(),
            limits.max_compute_workgroup_storage_size
        )
    } else {
        return Ok(());
    };
    Err(Error::Config {
        what: format!("the matmul tiling {tiling} on {}", ctx.adapter()),
        problem: format!("{problem}; use MatmulTiling::tiled() or another preset"),
    })
}

/// The shallowest product the tall subgroup kernel takes: over fewer k its 32 inlined stores
/// outweigh the loads it saves (the deep net's 1024×100×100 forward with ELU went from 27 to
/// 35 ms for 20 layers; the same net's 100×1024×100 weight gradients from 24.5 to 22.4).
const TALL_MIN_K: usize = 256;

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
    /// Whether the shallow kernel takes it: K ≤ `SHALLOW_K`, B untransposed, N a multiple of 4.
    pub shallow: bool,
}

impl Layout {
    pub fn of(d: MatmulDims, spec: &Matmul) -> Self {
        let aligned = d.k.is_multiple_of(4)
            && (!spec.trans_a || d.m.is_multiple_of(4))
            && (spec.trans_b || d.n.is_multiple_of(4));
        let rows_aligned = d.k.is_multiple_of(4) && (spec.trans_b || d.n.is_multiple_of(4));
        let shallow = d.k <= SHALLOW_K && !spec.trans_b && d.n.is_multiple_of(4);
        Self { aligned, rows_aligned, few_rows: d.m < VEC4_BLOCK.0 as usize, shallow }
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
    /// Which of A, B and C are stored in f16.
    pub storage: Storage,
}

/// Record `C = act(op(A)·op(B) + bias)`, keeping the pre-activation in `pre` when given, or
/// `C = op(A)·op(B) ⊙ act'(derivative_at)` for a derivative epilogue; also `col_sum[j] =
/// Σ_k op(B)[k, j]` when given.
/// a: (M, K) or (K, M); b: (K, N) or (N, K); c, pre, derivative_at: (M, N).
pub fn matmul_forward(call: Call<TilingKernels>, m: MatmulBuffers, d: MatmulDims, spec: &Matmul) -> Result<()> {
    let Call { rec, ctx, k: kernels } = call;
    let MatmulBuffers { a, b, c, bias, pre, derivative_at, col_sum, storage } = m;
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
    let pick = kernels.pick(d, spec, storage);
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
