//! `GpuBackend`: the op set on a wgpu device, dispatching the WGSL kernels.

use std::sync::Arc;

use super::{BufferPool, GpuBuffer, GpuContext, GpuStats, Recorder};
use crate::backend::{matmul_dims, Backend, Matmul, MatmulDims};
use crate::error::{Error, Result};
use crate::ops::matmul::{matmul_forward, MatmulKernels, MatmulTiling};
use crate::tensor::{check_len, check_shape, Arena, Tensor};

/// The GPU backend: tensors in device buffers, ops recorded into one encoder until `submit`.
pub struct GpuBackend {
    ctx: Arc<GpuContext>,
    rec: Recorder,
    pool: BufferPool,
    tensors: Arena<Arc<GpuBuffer>>,
    matmul: MatmulKernels,
}

impl GpuBackend {
    /// A backend on the adapter chosen from wgpu's environment variables.
    pub fn from_env() -> Result<Self> {
        Self::new(GpuContext::from_env()?)
    }

    /// A backend on `ctx`, with the matmul tiling chosen for its adapter.
    pub fn new(ctx: Arc<GpuContext>) -> Result<Self> {
        let tiling = MatmulTiling::for_device(ctx.kind())?;
        Self::with_tiling(ctx, tiling)
    }

    /// A backend on `ctx` with an explicit matmul tiling.
    pub fn with_tiling(ctx: Arc<GpuContext>, tiling: MatmulTiling) -> Result<Self> {
        let matmul = MatmulKernels::new(&ctx, tiling)?;
        Ok(Self {
            ctx,
            rec: Recorder::new(),
            pool: BufferPool::default(),
            tensors: Arena::new(),
            matmul,
        })
    }

    pub fn context(&self) -> &Arc<GpuContext> {
        &self.ctx
    }

    pub fn matmul_tiling(&self) -> MatmulTiling {
        self.matmul.tiling()
    }

    /// The label of the matmul kernel these sizes dispatch (for tests and benchmark reports).
    pub fn matmul_kernel(&self, dims: MatmulDims, spec: &Matmul) -> &str {
        self.matmul.kernel_for(dims, spec)
    }

    /// This backend's counters (buffers and bind groups created, readbacks, submits).
    pub fn stats(&self) -> GpuStats {
        let mut stats = self.rec.stats;
        stats.buffers_created += self.pool.created;
        stats
    }
}

impl Backend for GpuBackend {
    fn describe(&self) -> String {
        format!("gpu: {}", self.ctx.adapter())
    }

    fn zeros(&mut self, rows: usize, cols: usize) -> Result<Tensor> {
        check_shape("zeros", rows, cols)?;
        let bytes = (rows as u64) * (cols as u64) * 4;
        let buf = self.pool.acquire(&self.ctx, "zeros", bytes)?;
        self.rec.clear(&self.ctx, &buf);
        Ok(self.tensors.insert(rows, cols, buf))
    }

    fn write(&mut self, t: Tensor, data: &[f32]) -> Result<()> {
        check_len("write", t, data.len())?;
        let buf = Arc::clone(self.tensors.get("write", t)?);
        self.rec.write(&self.ctx, &buf, bytemuck::cast_slice(data))
    }

    fn read(&mut self, t: Tensor) -> Result<Vec<f32>> {
        let buf = Arc::clone(self.tensors.get("read", t)?);
        let bytes = self.rec.read(&self.ctx, &buf, t.len() as u64 * 4)?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    fn free(&mut self, t: Tensor) -> Result<()> {
        let buf = self.tensors.remove("free", t)?;
        self.pool.release(buf);
        Ok(())
    }

    fn copy(&mut self, src: Tensor, dst: Tensor) -> Result<()> {
        if src.len() != dst.len() {
            return Err(Error::ShapeMismatch {
                op: "copy",
                expected: format!("{} elements in dst", src.len()),
                got: format!("{}", dst.len()),
            });
        }
        let (s, d) = (
            self.tensors.get("copy", src)?,
            self.tensors.get("copy", dst)?,
        );
        self.rec.copy(&self.ctx, s, d);
        Ok(())
    }

    fn matmul(&mut self, a: Tensor, b: Tensor, c: Tensor, spec: Matmul) -> Result<()> {
        let dims = matmul_dims(a, b, c, &spec)?;
        let t = &self.tensors;
        let bias = spec
            .bias
            .map(|x| t.get("matmul", x).map(Arc::as_ref))
            .transpose()?;
        let (ab, bb, cb) = (
            t.get("matmul", a)?,
            t.get("matmul", b)?,
            t.get("matmul", c)?,
        );
        matmul_forward(
            &mut self.rec,
            &self.ctx,
            &self.matmul,
            ab,
            bb,
            bias,
            cb,
            dims,
            &spec,
        )
    }

    fn submit(&mut self) -> Result<()> {
        self.rec.submit(&self.ctx)
    }

    fn sync(&mut self) -> Result<()> {
        self.rec.submit(&self.ctx)?;
        self.ctx.wait()
    }
}
