//! `GpuBackend`: the op set on a wgpu device, dispatching the WGSL kernels.

use std::path::PathBuf;
use std::sync::Arc;

use super::activation::ActivationKernels;
use super::batchnorm::BatchNormKernels;
use super::data::DataKernels;
use super::dropout::DropoutKernels;
use super::loss::LossKernels;
use super::matmul::{ClassTuning, MatmulKernels, MatmulTiling};
use super::tune;
use super::optim::{InputKernels, OptimKernels};
use super::random::{philox_blocks, RandomKernels};
use super::reduce::ReduceKernels;
use super::{BufferPool, Call, GpuBuffer, GpuContext, GpuStats, Recorder};
use crate::backend::{Backend, Matmul};
use crate::backend::{MatmulDims, StepCounters};
use crate::error::Result;
use crate::tensor::{Arena, DType, Tensor};

/// Every family's pipelines, built once per device (the context caches them).
pub(super) struct Kernels {
    pub(super) matmul: MatmulKernels,
    pub(super) activation: ActivationKernels,
    pub(super) dropout: DropoutKernels,
    pub(super) batchnorm: BatchNormKernels,
    pub(super) loss: LossKernels,
    pub(super) reduce: ReduceKernels,
    pub(super) optim: OptimKernels,
    /// Where the adapter's subgroups allow: updates that also form the input gradient.
    pub(super) optim_input: Option<InputKernels>,
    pub(super) data: DataKernels,
    pub(super) random: RandomKernels,
}

/// The GPU backend: tensors in device buffers, ops recorded into one encoder until `submit`.
pub struct GpuBackend {
    pub(super) ctx: Arc<GpuContext>,
    pub(super) rec: Recorder,
    pub(super) pool: BufferPool,
    pub(super) tensors: Arena<Arc<GpuBuffer>>,
    /// `StepCounters` on the device: [step, batch_offset, 0, 0].
    pub(super) counters: Arc<GpuBuffer>,
    pub(super) counters_host: StepCounters,
    pub(super) k: Kernels,
    /// The input gradient's partial sums (`update`), grown to the largest asked for and
    /// kept, so that a step's bind groups stay the same.
    pub(super) partials: Option<Arc<GpuBuffer>>,
}

/// The buffer behind `t`.
pub(super) fn buf<'a>(tensors: &'a Arena<Arc<GpuBuffer>>, op: &'static str, t: Tensor) -> Result<&'a GpuBuffer> {
    tensors.get(op, t).map(Arc::as_ref)
}

pub(super) fn buf_opt<'a>(
    tensors: &'a Arena<Arc<GpuBuffer>>,
    op: &'static str,
    t: Option<Tensor>,
) -> Result<Option<&'a GpuBuffer>> {
    t.map(|t| buf(tensors, op, t)).transpose()
}

impl GpuBackend {
    /// A backend on the adapter chosen from wgpu's environment variables.
    pub fn from_env() -> Result<Self> {
        Self::new(GpuContext::from_env()?)
    }

    /// A backend on `ctx`, with the matmul tiling tuned for its adapter (`gpu::tune`: measured
    /// at first use, then read from the cache).
    pub fn new(ctx: Arc<GpuContext>) -> Result<Self> {
        let tuned = tune::choose(&ctx, tune::Autotune::from_env()?)?;
        Self::with_tuning(ctx, &tuned, tune::cache_dir())
    }

    /// A backend on `ctx` with an explicit matmul tiling for every product.
    pub fn with_tiling(ctx: Arc<GpuContext>, tiling: MatmulTiling) -> Result<Self> {
        let matmul = MatmulKernels::fixed(&ctx, tiling)?;
        Self::build(ctx, matmul)
    }

    /// A backend whose products take `tuned.tiling` until their shape class has a choice of
    /// its own. Where `tuned` was measured (not named by `WGTRAIN_MATMUL` nor skipped), the
    /// first product of each class times the tilings that came within `tune::SCREEN`× of the
    /// best on the screening products, and the choice is kept in the tuning cache in `cache`.
    pub fn with_tuning(ctx: Arc<GpuContext>, tuned: &tune::Tuned, cache: Option<PathBuf>) -> Result<Self> {
        let matmul = match tuned.source {
            tune::TuneSource::Override | tune::TuneSource::Skipped => MatmulKernels::fixed(&ctx, tuned.tiling)?,
            tune::TuneSource::Cached(_) | tune::TuneSource::Measured { .. } => {
                let tuning = ClassTuning { key: tune::cache_key(&ctx), cache };
                MatmulKernels::per_class(&ctx, &tune::class_candidates(&ctx, tuned), tuned.tiling, tuning)?
            }
        };
        Self::build(ctx, matmul)
    }

    fn build(ctx: Arc<GpuContext>, matmul: MatmulKernels) -> Result<Self> {
        let k = Kernels {
            matmul,
            activation: ActivationKernels::new(&ctx)?,
            dropout: DropoutKernels::new(&ctx)?,
            batchnorm: BatchNormKernels::new(&ctx)?,
            loss: LossKernels::new(&ctx)?,
            reduce: ReduceKernels::new(&ctx)?,
            optim: OptimKernels::new(&ctx)?,
            optim_input: InputKernels::new(&ctx),
            data: DataKernels::new(&ctx)?,
            random: RandomKernels::new(&ctx)?,
        };
        let mut pool = BufferPool::default();
        let counters = pool.acquire(&ctx, "step counters", 16)?;
        let mut rec = Recorder::new();
        rec.clear(&ctx, &counters);
        Ok(Self {
            ctx,
            rec,
            pool,
            tensors: Arena::new(),
            counters,
            counters_host: StepCounters::default(),
            k,
            partials: None,
        })
    }

    pub fn context(&self) -> &Arc<GpuContext> {
        &self.ctx
    }

    /// The adapter's tiling: what a product takes whose shape class has no choice of its own.
    pub fn matmul_tiling(&self) -> MatmulTiling {
        self.k.matmul.tiling()
    }

    /// The tiling products of these sizes take now (their class's choice, once made).
    pub fn matmul_tiling_for(&self, dims: MatmulDims, spec: &Matmul) -> MatmulTiling {
        self.k.matmul.tiling_for(dims, spec)
    }

    /// Whether candidates `a` and `b` dispatch the same pipeline over the same grid for these
    /// sizes (so any difference in their timings is noise).
    pub fn matmul_tilings_alike(&self, a: MatmulTiling, b: MatmulTiling, dims: MatmulDims, spec: &Matmul) -> bool {
        self.k.matmul.alike(a, b, dims, spec)
    }

    /// The tilings this backend can dispatch: the adapter's first, then those a shape class
    /// may choose.
    pub fn matmul_candidates(&self) -> Vec<MatmulTiling> {
        self.k.matmul.candidates().map(|s| s.tiling()).collect()
    }

    /// The label of the matmul kernel these sizes dispatch (for tests and benchmark reports).
    pub fn matmul_kernel(&self, dims: MatmulDims, spec: &Matmul) -> String {
        self.k.matmul.kernel_for(dims, spec)
    }

    /// This backend's counters (buffers and bind groups created, readbacks, submits).
    pub fn stats(&self) -> GpuStats {
        let mut stats = self.rec.stats;
        stats.buffers_created += self.pool.created;
        stats
    }

    /// Philox4x32-10 of each (counter, key) on the device, for checking the generator.
    pub fn philox_blocks(&mut self, inputs: &[([u32; 4], [u32; 2])]) -> Result<Vec<[u32; 4]>> {
        let flat: Vec<u32> = inputs.iter().flat_map(|(c, k)| c.iter().chain(k).copied()).collect();
        let input = self.upload_u32(1, flat.len().max(1), &flat)?;
        let out = self.alloc(1, (4 * inputs.len()).max(1), DType::U32)?;
        let (ib, ob) = (buf(&self.tensors, "philox_blocks", input)?, buf(&self.tensors, "philox_blocks", out)?);
        philox_blocks(Call { rec: &mut self.rec, ctx: &self.ctx, k: &self.k.random }, ib, ob, inputs.len())?;
        let words = self.read_u32(out)?;
        self.free(input)?;
        self.free(out)?;
        Ok(words.chunks(4).take(inputs.len()).map(|w| [w[0], w[1], w[2], w[3]]).collect())
    }
}
