//! The matmul op's description and its shape rules.

use super::activation::Activation;
use crate::error::{Error, Result};
use crate::tensor::{check_dtype, DType, Tensor};

/// How `matmul` reads its operands and what it adds: `C = op(A)·op(B) (+ bias)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Matmul {
    /// Use `Aᵀ`: `a` is stored `(K, M)`.
    pub trans_a: bool,
    /// Use `Bᵀ`: `b` is stored `(N, K)`.
    pub trans_b: bool,
    /// A `(1, N)` row added to every output row.
    pub bias: Option<Tensor>,
    /// Applied to each output after the bias (the fused epilogue); `Activation::fusable` only.
    pub activation: Activation,
    /// Where to keep the pre-activation `z = op(A)·op(B) + bias`, `(M, N)`, for activations
    /// whose derivative needs it (`!Activation::output_suffices`).
    pub pre: Option<Tensor>,
    /// Multiply each output by an activation's derivative instead (the backward epilogue):
    /// a Dense input gradient `dy·wᵀ` becomes the previous layer's `dz` in the same dispatch.
    pub derivative: Option<Derivative>,
    /// Also write `Σ_k op(B)[k, j]` into this `(1, N)` tensor: a Dense weight gradient
    /// `xᵀ·dz` gives its bias gradient in the same dispatch.
    pub column_sum: Option<Tensor>,
}

/// `C ← C ⊙ act'(at)`: `at` is `(M, N)`, the pre-activation, or for activations whose
/// output suffices (`Activation::output_suffices`) their output, as `activation_backward` takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Derivative {
    pub activation: Activation,
    pub at: Tensor,
}

impl Default for Matmul {
    fn default() -> Self {
        Self { trans_a: false, trans_b: false, bias: None, activation: Activation::Identity, pre: None, derivative: None, column_sum: None }
    }
}

impl Matmul {
    /// `A·B`, as in a Dense forward `x·w`.
    pub fn nn() -> Self {
        Self::default()
    }

    /// `A·Bᵀ`, as in a Dense input gradient `dy·wᵀ`.
    pub fn nt() -> Self {
        Self { trans_b: true, ..Self::default() }
    }

    /// `Aᵀ·B`, as in a Dense weight gradient `xᵀ·dy`.
    pub fn tn() -> Self {
        Self { trans_a: true, ..Self::default() }
    }

    pub fn with_bias(self, bias: Tensor) -> Self {
        Self { bias: Some(bias), ..self }
    }

    /// Fuse `activation` as the epilogue (must be `Activation::fusable`).
    pub fn with_activation(self, activation: Activation) -> Self {
        Self { activation, ..self }
    }

    /// Also store the pre-activation in `pre` (needs a non-identity activation).
    pub fn with_pre_activation(self, pre: Tensor) -> Self {
        Self { pre: Some(pre), ..self }
    }

    /// Also write the column sums of op(B) into `sums`, `(1, N)`.
    pub fn with_column_sum(self, sums: Tensor) -> Self {
        Self { column_sum: Some(sums), ..self }
    }

    /// Multiply the product by `activation`'s derivative at `at` (no bias or activation).
    pub fn times_derivative(self, activation: Activation, at: Tensor) -> Self {
        Self { derivative: Some(Derivative { activation, at }), ..self }
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
    let (m, k) = if spec.trans_a { (a.cols, a.rows) } else { (a.rows, a.cols) };
    let (kb, n) = if spec.trans_b { (b.cols, b.rows) } else { (b.rows, b.cols) };
    let mismatch = |expected: String, got: String| Error::ShapeMismatch { op: "matmul", expected, got };
    if k != kb {
        return Err(mismatch(
            format!("op(A) columns = op(B) rows (trans_a={}, trans_b={})", spec.trans_a, spec.trans_b),
            format!("op(A) ({m}, {k}) and op(B) ({kb}, {n})"),
        ));
    }
    if c.shape() != (m, n) {
        return Err(mismatch(format!("C of ({m}, {n})"), format!("C of ({}, {})", c.rows, c.cols)));
    }
    if let Some(bias) = spec.bias {
        if bias.len() != n {
            return Err(mismatch(format!("a bias of {n} values"), format!("{} values", bias.len())));
        }
    }
    if c == a || c == b || Some(c) == spec.bias {
        return Err(mismatch("C distinct from its inputs".into(), "C aliases an input".into()));
    }
    if let Some(pre) = spec.pre {
        if pre.shape() != (m, n) {
            return Err(mismatch(format!("a pre-activation of ({m}, {n})"), format!("({}, {})", pre.rows, pre.cols)));
        }
        if [Some(a), Some(b), Some(c), spec.bias].contains(&Some(pre)) {
            return Err(mismatch("a pre-activation distinct from A, B, C and the bias".into(), "an alias".into()));
        }
        if spec.activation == Activation::Identity {
            return Err(mismatch(
                "an activation epilogue when keeping the pre-activation".into(),
                "identity (C is the pre-activation already)".into(),
            ));
        }
    }
    if let Some(d) = spec.derivative {
        if d.at.shape() != (m, n) {
            return Err(mismatch(format!("a derivative point of ({m}, {n})"), format!("({}, {})", d.at.rows, d.at.cols)));
        }
        if d.at == c {
            return Err(mismatch("a derivative point distinct from C".into(), "C itself".into()));
        }
        if spec.bias.is_some() || spec.pre.is_some() || spec.activation != Activation::Identity {
            return Err(mismatch(
                "a derivative epilogue alone (no bias, activation or pre-activation)".into(),
                "both epilogues".into(),
            ));
        }
        if !d.activation.fusable() || d.activation == Activation::Identity {
            return Err(mismatch(
                "a derivative of a non-identity activation that needs no tensor or noise".into(),
                d.activation.name().into(),
            ));
        }
    }
    if let Some(sums) = spec.column_sum {
        if sums.len() != n {
            return Err(mismatch(format!("column sums of {n} values"), format!("{} values", sums.len())));
        }
        if [Some(a), Some(b), Some(c), spec.bias, spec.pre, spec.derivative.map(|d| d.at)].contains(&Some(sums)) {
            return Err(mismatch("column sums distinct from the other operands".into(), "an alias".into()));
        }
    }
    if !spec.activation.fusable() {
        return Err(mismatch(
            "an epilogue activation that needs no tensor or noise".into(),
            format!("{} (apply it with activation_forward)", spec.activation.name()),
        ));
    }
    // A, B, C and the pre-activation or derivative point may be stored in f16 (the product
    // and its epilogue run in f32); the bias and the column sums are f32.
    for t in [Some(a), Some(b), Some(c), spec.pre, spec.derivative.map(|d| d.at)].into_iter().flatten() {
        if t.dtype != DType::F16 {
            check_dtype("matmul", t, DType::F32)?;
        }
    }
    for t in spec.bias.into_iter().chain(spec.column_sum) {
        check_dtype("matmul", t, DType::F32)?;
    }
    Ok(MatmulDims { m, n, k })
}
