//! The op set: everything a model may ask of a device. Implemented by `gpu::GpuBackend`
//! (WGSL kernels) and `cpu::CpuBackend` (the naive reference twin), so a model written once
//! against this trait runs, and is checked, on both.
//!
//! Ops *record* work: on the GPU nothing runs until `submit` (one command buffer per
//! training step). `read` submits and waits, so it is the only op that blocks.

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// How `matmul` reads its operands and what it adds: `C = op(A)·op(B) (+ bias)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Matmul {
    /// Use `Aᵀ`: `a` is stored `(K, M)`.
    pub trans_a: bool,
    /// Use `Bᵀ`: `b` is stored `(N, K)`.
    pub trans_b: bool,
    /// A `(1, N)` row added to every output row.
    pub bias: Option<Tensor>,
}

impl Matmul {
    /// `A·B`, as in a Dense forward `x·w`.
    pub fn nn() -> Self {
        Self::default()
    }

    /// `A·Bᵀ`, as in a Dense input gradient `dy·wᵀ`.
    pub fn nt() -> Self {
        Self {
            trans_b: true,
            ..Self::default()
        }
    }

    /// `Aᵀ·B`, as in a Dense weight gradient `xᵀ·dy`.
    pub fn tn() -> Self {
        Self {
            trans_a: true,
            ..Self::default()
        }
    }

    pub fn with_bias(self, bias: Tensor) -> Self {
        Self {
            bias: Some(bias),
            ..self
        }
    }
}

/// The sizes of one product: `op(A)` is `(m, k)`, `op(B)` is `(k, n)`, `C` is `(m, n)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatmulDims {
    pub m: usize,
    pub n: usize,
    pub k: usize,
}

/// Check operand shapes, bias length and aliasing; return the product's sizes.
pub fn matmul_dims(a: Tensor, b: Tensor, c: Tensor, spec: &Matmul) -> Result<MatmulDims> {
    let (m, k) = if spec.trans_a {
        (a.cols, a.rows)
    } else {
        (a.rows, a.cols)
    };
    let (kb, n) = if spec.trans_b {
        (b.cols, b.rows)
    } else {
        (b.rows, b.cols)
    };
    let mismatch = |expected: String, got: String| Error::ShapeMismatch {
        op: "matmul",
        expected,
        got,
    };
    if k != kb {
        return Err(mismatch(
            format!(
                "op(A) columns = op(B) rows (trans_a={}, trans_b={})",
                spec.trans_a, spec.trans_b
            ),
            format!("op(A) ({m}, {k}) and op(B) ({kb}, {n})"),
        ));
    }
    if c.shape() != (m, n) {
        return Err(mismatch(
            format!("C of ({m}, {n})"),
            format!("C of ({}, {})", c.rows, c.cols),
        ));
    }
    if let Some(bias) = spec.bias {
        if bias.len() != n {
            return Err(mismatch(
                format!("a bias of {n} values"),
                format!("{} values", bias.len()),
            ));
        }
    }
    if c == a || c == b || Some(c) == spec.bias {
        return Err(mismatch(
            "C distinct from its inputs".into(),
            "C aliases an input".into(),
        ));
    }
    Ok(MatmulDims { m, n, k })
}

/// What a model may ask of a device.
pub trait Backend {
    /// A one-line description: the device and, for the GPU, the adapter.
    fn describe(&self) -> String;

    /// A new `(rows, cols)` tensor of zeros.
    fn zeros(&mut self, rows: usize, cols: usize) -> Result<Tensor>;

    /// Overwrite `t` with `data` (row-major, `t.len()` values).
    fn write(&mut self, t: Tensor, data: &[f32]) -> Result<()>;

    /// Submit pending work, wait, and return `t`'s values.
    fn read(&mut self, t: Tensor) -> Result<Vec<f32>>;

    /// Release `t`; its handle becomes invalid.
    fn free(&mut self, t: Tensor) -> Result<()>;

    /// `dst ← src` (same number of elements).
    fn copy(&mut self, src: Tensor, dst: Tensor) -> Result<()>;

    /// `C = op(A)·op(B) (+ bias)`; `C` is overwritten.
    fn matmul(&mut self, a: Tensor, b: Tensor, c: Tensor, spec: Matmul) -> Result<()>;

    /// Send everything recorded so far to the device as one submission.
    fn submit(&mut self) -> Result<()>;

    /// Submit and wait until the device is idle.
    fn sync(&mut self) -> Result<()>;

    /// A new tensor holding `data`.
    fn upload(&mut self, rows: usize, cols: usize, data: &[f32]) -> Result<Tensor> {
        if data.len() != rows * cols {
            return Err(Error::ShapeMismatch {
                op: "upload",
                expected: format!("{} values for a ({rows}, {cols}) tensor", rows * cols),
                got: format!("{} values", data.len()),
            });
        }
        let t = self.zeros(rows, cols)?;
        self.write(t, data)?;
        Ok(t)
    }
}
