//! The matmul tilings: how a product is divided among invocations, and their names.

use crate::backend::Activation;
use crate::error::{Error, Result};
use crate::gpu::{DeviceKind, GpuContext};

/// Outputs per invocation of `matmul_forward` (rows, columns).
pub(super) const REGISTER_BLOCK: (u32, u32) = (8, 8);
/// Outputs per invocation of `matmul_forward_vec4` (WGSL `V_ROWS`, `4·V_COLS`).
pub(super) const VEC4_BLOCK: (u32, u32) = (8, 16);
/// Outputs per invocation of `matmul_forward_vec4_rows`, for products of fewer than
/// `VEC4_BLOCK.0` rows.
pub(super) const VEC4_ROWS_BLOCK: (u32, u32) = (1, 16);
/// The deepest product `matmul_forward_shallow` takes: up to 4 k, the kernels that read four
/// k at a time have a single step, and C's stores are the work.
pub(super) const SHALLOW_K: usize = 4;
/// The tiled tilings' kernel for few rows (`matmul_forward_rows_split`): its workgroup, and
/// how many of its lanes split K (the rest take groups of four columns). 64 ways: a
/// 1×2048×2048 product is 128 workgroups of 256, each lane summing 8 groups of four k.
pub(super) const ROWS_SPLIT_LANES: u32 = 256;
pub(super) const ROWS_SPLIT_K: u32 = 64;
/// The largest register block of the tiled kernels (the WGSL `MAX_RM`, `MAX_RN`), and the
/// most vec4 loads per invocation per slice (`MAX_LOADS`).
pub(super) const TILED_MAX_BLOCK: (u32, u32) = (8, 8);
pub(super) const TILED_MAX_LOADS: u32 = 4;
/// Outputs per invocation of `matmul_forward_subgroup`, and its subgroup (= workgroup) size;
/// `matmul_forward_subgroup64` has `SUBGROUP_TALL` rows instead.
pub(super) const SUBGROUP_BLOCK: (u32, u32) = (16, 8);
pub(super) const SUBGROUP_TALL: u32 = 64;
pub(super) const SUBGROUP_LANES: u32 = 8;
/// Pipelines per kernel: one per value of the WGSL `FORM` bits (see `matmul_forward`), each
/// built on first use.
pub(super) const FORMS: usize = 2048;
// Four bits hold the activation code.
const _: () = assert!(Activation::ALL.len() <= 16);

/// How the product is tiled. `gpu::tune` picks per adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatmulTiling {
    /// Per-invocation register blocks, no workgroup memory; `wg` = workgroup (x, y).
    Register { wg: (u32, u32) },
    /// Register blocks whose op(A) slice a subgroup of 8 shares by broadcasts, on aligned
    /// products of 8 rows or more (16 rows a subgroup, or `SUBGROUP_TALL` on products with
    /// enough of those blocks to fill the device); the `Register { wg }` kernels elsewhere.
    /// Needs an adapter whose subgroups are all 8 invocations (`GpuContext::fixed_subgroup_size`).
    Subgroup { wg: (u32, u32) },
    /// Workgroup-memory tiles `tile_k` deep; `wg` = workgroup (x, y), `block` = outputs per
    /// invocation (rows, columns), so a workgroup computes `wg.1·block.0 × wg.0·block.1` of C.
    /// All three are pipeline constants of one source (`shaders/matmul_tiled.wgsl`).
    Tiled { wg: (u32, u32), block: (u32, u32), tile_k: u32 },
}

impl MatmulTiling {
    /// The tiling `WGTRAIN_MATMUL=register|subgroup|tiled` names, if set.
    pub fn from_env(ctx: &GpuContext) -> Result<Option<Self>> {
        let Some(value) = std::env::var("WGTRAIN_MATMUL").ok() else {
            return Ok(None);
        };
        match value.as_str() {
            "register" => Ok(Some(Self::register())),
            "tiled" => Ok(Some(Self::tiled())),
            "tiled-8x8" => Ok(Some(Self::tiled_8x8())),
            "tiled-32" => Ok(Some(Self::tiled_32())),
            "subgroup" if Self::subgroups_fit(ctx) => Ok(Some(Self::subgroup())),
            "subgroup" => Err(Error::BadEnv {
                var: "WGTRAIN_MATMUL",
                value,
                expected: "register, tiled, tiled-8x8 or tiled-32: this adapter has no fixed subgroup size of 8",
            }),
            _ => Err(Error::BadEnv {
                var: "WGTRAIN_MATMUL",
                value,
                expected: "register, subgroup, tiled, tiled-8x8 or tiled-32",
            }),
        }
    }

    /// The tiling for this kind of adapter without measuring: on CPU-backed drivers register
    /// blocks (on lavapipe, 8×16 blocks read with vec4 loads beat workgroup tiles
    /// several-fold), sharing op(A) across the subgroup where subgroups are 8 wide (2× again);
    /// workgroup tiles on GPUs. `gpu::tune` measures instead.
    pub fn default_for(ctx: &GpuContext) -> Self {
        match ctx.kind() {
            DeviceKind::Cpu if Self::subgroups_fit(ctx) => Self::subgroup(),
            DeviceKind::Cpu => Self::register(),
            _ => Self::tiled(),
        }
    }

    /// The tiling's name, as `WGTRAIN_MATMUL` and the tuning cache spell it: the presets'
    /// (`tiled()`, `tiled_8x8()` and `tiled_32()`; other tiled shapes are "tiled-custom").
    pub fn name(&self) -> &'static str {
        match *self {
            Self::Register { .. } => "register",
            Self::Subgroup { .. } => "subgroup",
            t if t == Self::tiled() => "tiled",
            t if t == Self::tiled_8x8() => "tiled-8x8",
            t if t == Self::tiled_32() => "tiled-32",
            Self::Tiled { .. } => "tiled-custom",
        }
    }

    /// Whether `Subgroup` runs on this device: subgroup operations, all subgroups 8 wide.
    pub fn subgroups_fit(ctx: &GpuContext) -> bool {
        ctx.fixed_subgroup_size() == Some(SUBGROUP_LANES)
    }

    pub fn register() -> Self {
        Self::Register { wg: (8, 4) }
    }

    pub fn subgroup() -> Self {
        Self::Subgroup { wg: (8, 4) }
    }

    /// 64×64 tiles 16 deep, 4×4 outputs per invocation: 16 KiB of workgroup memory in two
    /// stages, and enough workgroups to fill a large GPU from products of 128 rows.
    pub fn tiled() -> Self {
        Self::Tiled { wg: (16, 16), block: (4, 4), tile_k: 16 }
    }

    /// 32×32 tiles 16 deep, 4×4 outputs per invocation, 64 invocations: 16× the workgroups of
    /// `tiled_8x8()` on the same product, for products that leave a large GPU's cores idle
    /// under bigger tiles (an MLP's 1024×784×300 is 24 workgroups of 128×128 for an H200's 132
    /// multiprocessors; that product took 0.99 ms there).
    pub fn tiled_32() -> Self {
        Self::Tiled { wg: (8, 8), block: (4, 4), tile_k: 16 }
    }

    /// 128×128 tiles 8 deep, 8×8 outputs per invocation: twice the multiply-adds per load of
    /// `tiled()` in the same 16 KiB, for products large enough to fill a GPU with them.
    pub fn tiled_8x8() -> Self {
        Self::Tiled { wg: (16, 16), block: (8, 8), tile_k: 8 }
    }

    /// Bytes of workgroup memory the tiling's kernels declare (the vec4 kernel's two stages
    /// and the element kernel's one; a pipeline is charged for its own).
    pub fn workgroup_bytes(&self) -> u32 {
        match *self {
            Self::Tiled { wg, block, tile_k } => 2 * tile_k * (wg.1 * block.0 + wg.0 * block.1) * 4,
            _ => 0,
        }
    }

    pub(super) fn wg(&self) -> (u32, u32) {
        let (Self::Register { wg } | Self::Subgroup { wg } | Self::Tiled { wg, .. }) = *self;
        wg
    }
}

impl std::fmt::Display for MatmulTiling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let register = |f: &mut std::fmt::Formatter<'_>, wg: (u32, u32)| {
            write!(
                f,
                "{}x{} per invocation with vec4 loads on 4-aligned shapes, else {}x{}; K ≤ {SHALLOW_K} {}x{} \
                 stored as vec4; workgroup {}x{}",
                VEC4_BLOCK.0, VEC4_BLOCK.1, REGISTER_BLOCK.0, REGISTER_BLOCK.1, REGISTER_BLOCK.0, REGISTER_BLOCK.1, wg.0, wg.1
            )
        };
        match *self {
            Self::Register { wg } => {
                write!(f, "register blocks, no workgroup memory: ")?;
                register(f, wg)
            }
            Self::Subgroup { wg } => write!(
                f,
                "subgroup register blocks: {}x{} per invocation ({SUBGROUP_TALL}x{} on products of many \
                 rows) sharing op(A) across a subgroup of {} for {} rows or more (vec4 loads on 4-aligned \
                 shapes); fewer rows {}x{} with vec4 loads where aligned, else {}x{}; K ≤ {SHALLOW_K} {}x{} \
                 stored as vec4; workgroup {}x{}",
                SUBGROUP_BLOCK.0,
                SUBGROUP_BLOCK.1,
                SUBGROUP_BLOCK.1,
                SUBGROUP_LANES,
                VEC4_BLOCK.0,
                VEC4_ROWS_BLOCK.0,
                VEC4_ROWS_BLOCK.1,
                REGISTER_BLOCK.0,
                REGISTER_BLOCK.1,
                REGISTER_BLOCK.0,
                REGISTER_BLOCK.1,
                wg.0,
                wg.1
            ),
            Self::Tiled { wg, block, tile_k } => write!(
                f,
                "workgroup-memory tiles {}x{}x{tile_k}, {}x{} per invocation (vec4 loads, two stages, on \
                 4-aligned shapes), workgroup {}x{}; fewer rows K split {ROWS_SPLIT_K} ways across a \
                 workgroup of {ROWS_SPLIT_LANES} where aligned",
                wg.1 * block.0,
                wg.0 * block.1,
                block.0,
                block.1,
                wg.0,
                wg.1
            ),
        }
    }
}

