//! The op set: everything a model may ask of a device. Implemented by `gpu::GpuBackend`
//! (WGSL kernels) and `cpu::CpuBackend` (the naive reference twin), so a model written once
//! against this trait runs, and is checked, on both.
//!
//! Ops *record* work: on the GPU nothing runs until `submit` (one command buffer per
//! training step). `read` submits and waits, so it is the only op that blocks. Outputs are
//! overwritten unless an op says it accumulates.

pub mod activation;
pub mod checks;
pub mod matmul;
pub mod specs;

pub use activation::{Activation, ActivationArgs};
pub use matmul::{matmul_dims, Derivative, Matmul, MatmulDims};
pub use specs::{
    stat, BatchNorm, BatchNormTensors, Dropout, DropoutKind, Gather, Gradient, Hyper, InputGradient, Loss, Noise,
    StepCounters,
    UpdateRule, UpdateTensors,
};

use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

/// Work a backend has done, counted as it records it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    pub dispatches: u64,
    pub submits: u64,
    /// Device-to-host copies (each one waits for the queue).
    pub readbacks: u64,
    /// Bytes copied back to the host.
    pub readback_bytes: u64,
    /// Storage, uniform and staging buffers created.
    pub buffers_created: u64,
    pub bind_groups_created: u64,
}

/// Tensors from `Backend::zeros_packed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// The whole allocation as a (1, len) tensor, where the backend packs.
    pub whole: Option<Tensor>,
    /// One tensor per requested shape, in order.
    pub parts: Vec<Tensor>,
    /// Where each part starts in `whole`, in elements (empty without `whole`).
    pub offsets: Vec<usize>,
}

/// What a model may ask of a device.
pub trait Backend {
    /// A one-line description: the device and, for the GPU, the adapter.
    fn describe(&self) -> String;

    // ---- memory ----

    /// A new `(rows, cols)` tensor of zeros.
    fn alloc(&mut self, rows: usize, cols: usize, dtype: DType) -> Result<Tensor>;

    /// Overwrite an f32 tensor with `data` (row-major, `t.len()` values).
    fn write(&mut self, t: Tensor, data: &[f32]) -> Result<()>;

    /// Overwrite a u32 tensor.
    fn write_u32(&mut self, t: Tensor, data: &[u32]) -> Result<()>;

    /// Overwrite a u8 tensor.
    fn write_u8(&mut self, t: Tensor, data: &[u8]) -> Result<()>;

    /// Submit pending work, wait, and return an f32 tensor's values.
    fn read(&mut self, t: Tensor) -> Result<Vec<f32>>;

    /// Submit pending work, wait, and return a u32 tensor's values.
    fn read_u32(&mut self, t: Tensor) -> Result<Vec<u32>>;

    /// Release `t`; its handle becomes invalid.
    fn free(&mut self, t: Tensor) -> Result<()>;

    /// Set the step counters random ops and gathers read. Call before recording the step.
    fn begin_step(&mut self, counters: StepCounters) -> Result<()>;

    /// Send everything recorded so far to the device as one submission.
    fn submit(&mut self) -> Result<()>;

    /// Submit and wait until the device is idle.
    fn sync(&mut self) -> Result<()>;

    // ---- data movement ----

    /// `dst ← src` (same number of elements): the same dtype, or between F32 and F16, rounding
    /// to the nearest f16 (ties to even, ±inf past its range) or widening exactly.
    fn copy(&mut self, src: Tensor, dst: Tensor) -> Result<()>;

    /// `t[i] ← value`.
    fn fill(&mut self, t: Tensor, value: f32) -> Result<()>;

    /// `y ← value·x` (`y` may be `x`).
    fn scale(&mut self, x: Tensor, y: Tensor, value: f32) -> Result<()>;

    /// `y[i] ← 0` where `mask[i]` is 0, else unchanged (exactly +0, whatever `y[i]` was: the
    /// pruning masks, which keep pruned weights exactly zero).
    fn apply_mask(&mut self, mask: Tensor, y: Tensor) -> Result<()>;

    /// `dst[r] ← src[index[offset + r]]·scale + shift` for each row r of `dst`, where offset is
    /// the step's `batch_offset`. `src` is f32 or u8 (normalized) or u32 (copied; `dst` u32),
    /// given as 1 to 4 chunks of equal row count (the last may be shorter) when it is larger
    /// than one tensor may be (`max_tensor_bytes`).
    fn gather_rows(&mut self, src: &[Tensor], index: Tensor, dst: Tensor, spec: Gather) -> Result<()>;

    /// The largest tensor this backend can hold, in bytes (the GPU's storage-binding limit).
    fn max_tensor_bytes(&self) -> u64;

    // ---- matmul ----

    /// `C = act(op(A)·op(B) + bias)`; `C` is overwritten.
    fn matmul(&mut self, a: Tensor, b: Tensor, c: Tensor, spec: Matmul) -> Result<()>;

    // ---- activations ----

    /// `y = act(x)`.
    fn activation_forward(&mut self, act: Activation, x: Tensor, y: Tensor, args: ActivationArgs) -> Result<()>;

    /// `dx = dy·act'(x)`. `x` may be `None` when `act.output_suffices()` (a fused epilogue).
    fn activation_backward(
        &mut self,
        act: Activation,
        x: Option<Tensor>,
        y: Tensor,
        dy: Tensor,
        dx: Tensor,
        args: ActivationArgs,
    ) -> Result<()>;

    /// PReLU's slope gradient: `dalpha[j] = Σ_r dy[r, j]·min(x[r, j], 0)`.
    fn prelu_alpha_backward(&mut self, x: Tensor, dy: Tensor, dalpha: Tensor) -> Result<()>;

    // ---- dropout ----

    /// `y = mask(x)` for the mask keyed by `spec.noise` and the step.
    fn dropout_forward(&mut self, spec: Dropout, x: Tensor, y: Tensor) -> Result<()>;

    /// `dx = mask'(dy)` with the same mask, recomputed.
    fn dropout_backward(&mut self, spec: Dropout, dy: Tensor, dx: Tensor) -> Result<()>;

    // ---- batch normalization ----

    /// `y = γ x̂ + β`: batch statistics (saved, running updated) when `training`, running
    /// statistics otherwise.
    fn batchnorm_forward(&mut self, spec: BatchNorm, t: BatchNormTensors, y: Tensor, training: bool) -> Result<()>;

    /// dx and daffine = [dγ; dβ] from dy, using the statistics saved by the training forward
    /// (which hold all that ε contributed).
    fn batchnorm_backward(&mut self, t: BatchNormTensors, dy: Tensor, dx: Tensor, daffine: Tensor) -> Result<()>;

    // Batch norm synchronized across replicas, in stages: the caller sums each stage's
    // per-feature sums over the replicas before the next (`nn`'s `CrossReplica`).

    /// Per feature, over these rows: `saved` row 0 ← Σ x, or (`centered`) row 1 ← Σ (x − μ)²
    /// with μ the whole batch's mean in row 0.
    fn batchnorm_moment(&mut self, t: BatchNormTensors, centered: bool) -> Result<()>;

    /// `y = γ x̂ + β` from `saved` = [μ; Σ (x − μ)²] over the whole batch of `total` rows;
    /// leaves `saved` = [μ; 1/√(σ² + ε)] for backward and updates the running statistics.
    fn batchnorm_normalize(&mut self, spec: BatchNorm, t: BatchNormTensors, y: Tensor, total: usize) -> Result<()>;

    /// daffine = [Σ dy·x̂; Σ dy] over these rows (this replica's dγ and dβ).
    fn batchnorm_backward_sums(&mut self, t: BatchNormTensors, dy: Tensor, daffine: Tensor) -> Result<()>;

    /// dx for these rows, from `sums` = [Σ dy·x̂; Σ dy] over the whole batch of `total` rows.
    fn batchnorm_backward_input(&mut self, t: BatchNormTensors, dy: Tensor, sums: Tensor, dx: Tensor, total: usize)
        -> Result<()>;

    // ---- outputs and losses ----

    /// Row-wise softmax, stable for large logits.
    fn softmax(&mut self, z: Tensor, probs: Tensor) -> Result<()>;

    /// Loss of logits/predictions `z` against `targets`: writes `dz` (gradient of the summed
    /// loss times `scale`) and adds to `stats` (see `specs::stat`).
    fn loss(&mut self, loss: Loss, z: Tensor, targets: Tensor, dz: Tensor, stats: Tensor, scale: f32) -> Result<()>;

    // ---- reductions ----

    /// `y[j] = Σ_r x[r, j]` (bias gradients); `y` is `(1, cols)`.
    fn column_sum(&mut self, x: Tensor, y: Tensor) -> Result<()>;

    /// Adds the number of rows whose first argmax equals the label to `stats[CORRECT]`, and
    /// the row count to `stats[ACCURACY_COUNT]`.
    fn argmax_correct(&mut self, x: Tensor, labels: Tensor, stats: Tensor) -> Result<()>;

    /// `out[0] = Σx²` (for the global gradient norm), or added to `out[0]` when `accumulate`.
    fn sum_squares(&mut self, x: Tensor, out: Tensor, accumulate: bool) -> Result<()>;

    // ---- optimizers ----

    /// One update of `t.param` by `rule` (see `shaders/optim.wgsl` for the formulas).
    fn update(&mut self, rule: UpdateRule, t: UpdateTensors) -> Result<()>;

    // ---- measurement (provided: a backend that keeps no counters reports none) ----

    /// Work counters since the backend was made, where the backend keeps them.
    fn counters(&self) -> Option<Counters> {
        None
    }

    /// Start (or stop) timing each op on its own: on the GPU each dispatch then runs in its own
    /// submission and is waited for. Returns how the times are taken, or `None` where this
    /// backend cannot time ops.
    fn set_profiling(&mut self, _on: bool) -> Option<String> {
        None
    }

    /// Record a plain copy kernel between two scratch buffers of `n` floats (rounded up to a
    /// multiple of 4): the memory-speed ceiling a profile measures the elementwise kernels
    /// against (`bench --profile`). False where this backend has no kernels to measure.
    fn copy_kernel(&mut self, _n: usize) -> Result<bool> {
        Ok(false)
    }

    /// The (kernel, seconds) pairs timed since profiling began, in order; clears them.
    fn take_profile(&mut self) -> Vec<(String, f64)> {
        Vec::new()
    }

    // ---- provided ----

    /// Zeroed f32 tensors of these shapes. A backend that can lays them out in one
    /// allocation and also returns the whole of it as one tensor, so that an elementwise op
    /// (the optimizer's update) covers every part in one dispatch; the space between parts
    /// holds zeros, which every update rule leaves at zero. This default keeps them apart.
    fn zeros_packed(&mut self, shapes: &[(usize, usize)]) -> Result<Packed> {
        zeros_apart(self, shapes)
    }

    /// The elements of `t` from element `offset` on, as a (1, len − offset) tensor sharing its
    /// storage (a write to either shows in both), where the backend can share storage at that
    /// offset: the GPU, where a part of `zeros_packed` starts. None where it cannot (this
    /// default). Release it with `free`; `t` lives on.
    fn tail(&mut self, _t: Tensor, _offset: usize) -> Result<Option<Tensor>> {
        Ok(None)
    }

    /// A new f32 tensor of zeros.
    fn zeros(&mut self, rows: usize, cols: usize) -> Result<Tensor> {
        self.alloc(rows, cols, DType::F32)
    }

    /// A new f32 tensor holding `data`.
    fn upload(&mut self, rows: usize, cols: usize, data: &[f32]) -> Result<Tensor> {
        check_upload("upload", rows, cols, data.len())?;
        let t = self.alloc(rows, cols, DType::F32)?;
        self.write(t, data)?;
        Ok(t)
    }

    /// A new u32 tensor holding `data`.
    fn upload_u32(&mut self, rows: usize, cols: usize, data: &[u32]) -> Result<Tensor> {
        check_upload("upload_u32", rows, cols, data.len())?;
        let t = self.alloc(rows, cols, DType::U32)?;
        self.write_u32(t, data)?;
        Ok(t)
    }

    /// A new u8 tensor holding `data`.
    fn upload_u8(&mut self, rows: usize, cols: usize, data: &[u8]) -> Result<Tensor> {
        check_upload("upload_u8", rows, cols, data.len())?;
        let t = self.alloc(rows, cols, DType::U8)?;
        self.write_u8(t, data)?;
        Ok(t)
    }
}

/// `zeros_packed` without packing: one zeroed tensor per shape and no whole.
pub fn zeros_apart<B: Backend + ?Sized>(b: &mut B, shapes: &[(usize, usize)]) -> Result<Packed> {
    let parts = shapes.iter().map(|&(rows, cols)| b.zeros(rows, cols)).collect::<Result<Vec<_>>>()?;
    Ok(Packed { whole: None, parts, offsets: Vec::new() })
}

fn check_upload(op: &'static str, rows: usize, cols: usize, len: usize) -> Result<()> {
    if len != rows * cols {
        return Err(Error::ShapeMismatch {
            op,
            expected: format!("{} values for a ({rows}, {cols}) tensor", rows * cols),
            got: format!("{len} values"),
        });
    }
    Ok(())
}
