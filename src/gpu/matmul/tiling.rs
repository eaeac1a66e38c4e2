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
/// Outputs per invocation of `matmul_forward_tiled` (the WGSL `const TM`, `TN`).
pub(super) const TILED_BLOCK: (u32, u32) = (4, 4);
/// Outputs per invocation of `matmul_forward_subgroup`, and its subgroup (= workgroup) size.
pub(super) const SUBGROUP_BLOCK: (u32, u32) = (16, 8);
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
    /// products of 8 rows or more; the `Register { wg }` kernels elsewhere. Needs an adapter
    /// whose subgroups are all 8 invocations (`GpuContext::fixed_subgroup_size`).
    Subgroup { wg: (u32, u32) },
    /// Workgroup-memory tiles `TILE_K` deep; `wg` = workgroup (x, y).
    Tiled { wg: (u32, u32), tile_k: u32 },
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
            "subgroup" if Self::subgroups_fit(ctx) => Ok(Some(Self::subgroup())),
            "subgroup" => Err(Error::BadEnv {
                var: "WGTRAIN_MATMUL",
                value,
                expected: "register or tiled: this adapter has no fixed subgroup size of 8",
            }),
            _ => Err(Error::BadEnv { var: "WGTRAIN_MATMUL", value, expected: "register, subgroup or tiled" }),
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

    /// The tiling's name, as `WGTRAIN_MATMUL` and the tuning cache spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Register { .. } => "register",
            Self::Subgroup { .. } => "subgroup",
            Self::Tiled { .. } => "tiled",
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

    pub fn tiled() -> Self {
        Self::Tiled { wg: (16, 16), tile_k: 16 }
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
                "{}x{} per invocation with vec4 loads on 4-aligned shapes, else {}x{}; workgroup {}x{}",
                VEC4_BLOCK.0, VEC4_BLOCK.1, REGISTER_BLOCK.0, REGISTER_BLOCK.1, wg.0, wg.1
            )
        };
        match *self {
            Self::Register { wg } => {
                write!(f, "register blocks, no workgroup memory: ")?;
                register(f, wg)
            }
            Self::Subgroup { wg } => write!(
                f,
                "subgroup register blocks: {}x{} per invocation sharing op(A) across a subgroup of {} for \
                 {} rows or more (vec4 loads on 4-aligned shapes); fewer rows {}x{} with vec4 loads where \
                 aligned, else {}x{}; workgroup {}x{}",
                SUBGROUP_BLOCK.0,
                SUBGROUP_BLOCK.1,
                SUBGROUP_LANES,
                VEC4_BLOCK.0,
                VEC4_ROWS_BLOCK.0,
                VEC4_ROWS_BLOCK.1,
                REGISTER_BLOCK.0,
                REGISTER_BLOCK.1,
                wg.0,
                wg.1
            ),
            Self::Tiled { wg, tile_k } => write!(
                f,
                "workgroup-memory tiles {}x{}x{tile_k}, {}x{} per invocation, workgroup {}x{}",
                wg.1 * TILED_BLOCK.0,
                wg.0 * TILED_BLOCK.1,
                TILED_BLOCK.0,
                TILED_BLOCK.1,
                wg.0,
                wg.1
            ),
        }
    }
}

