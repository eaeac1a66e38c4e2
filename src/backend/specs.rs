//! What ops need beside their tensors: random-number keys, step counters, dropout, losses,
//! optimizer rules and their per-step scalars, gathers.

use crate::error::{Error, Result};
use crate::tensor::Tensor;

use super::activation::{SELU_ALPHA, SELU_LAMBDA};

/// The Philox key of a random op: (seed, stream). The counter is (element / 4, step), the
/// step coming from `StepCounters`; give each random layer its own stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Noise {
    pub seed: u32,
    pub stream: u32,
}

/// Per-step scalars that kernels read from a small device buffer (so bind groups stay cached):
/// the step (Philox counter), the first position in the index list a gather reads, and the
/// row of the whole batch this batch's first row is (nonzero for a replica's slice of a
/// data-parallel batch): masks are keyed by the row in the whole batch, so N replicas draw
/// the masks one process draws.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepCounters {
    pub step: u32,
    pub batch_offset: u32,
    pub row_base: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropoutKind {
    /// Kept units scaled by 1/(1 − p), dropped ones 0.
    Inverted,
    /// For SELU networks: keeps mean 0 and variance 1 of N(0, 1) inputs.
    Alpha,
}

/// A dropout op: drop rate `p` in [0, 1], its kind and mask key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropout {
    pub p: f32,
    pub kind: DropoutKind,
    pub noise: Noise,
}

/// The affine constants of one dropout op (see `shaders/dropout.wgsl`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DropoutCoefficients {
    /// Inverted: the factor on kept units.
    pub keep_scale: f32,
    /// Alpha: y = a·(kept ? x : dropped) + b.
    pub a: f32,
    pub b: f32,
    pub dropped: f32,
}

impl Dropout {
    pub fn inverted(p: f32, noise: Noise) -> Self {
        Self { p, kind: DropoutKind::Inverted, noise }
    }

    pub fn alpha(p: f32, noise: Noise) -> Self {
        Self { p, kind: DropoutKind::Alpha, noise }
    }

    pub(crate) fn coefficients(&self) -> Result<DropoutCoefficients> {
        if !(0.0..=1.0).contains(&self.p) {
            return Err(Error::ShapeMismatch {
                op: "dropout",
                expected: "a drop rate p in [0, 1]".into(),
                got: format!("p = {}", self.p),
            });
        }
        let p = self.p as f64;
        // α′ = −λα: where SELU saturates for large negative inputs.
        let dropped = -(SELU_LAMBDA as f64) * SELU_ALPHA as f64;
        if self.p >= 1.0 {
            // Everything dropped: the output is 0 (PyTorch's convention for both kinds).
            return Ok(DropoutCoefficients { keep_scale: 0.0, a: 0.0, b: 0.0, dropped: dropped as f32 });
        }
        let a = ((1.0 - p) * (1.0 + p * dropped * dropped)).powf(-0.5);
        Ok(DropoutCoefficients {
            keep_scale: (1.0 / (1.0 - p)) as f32,
            a: a as f32,
            b: (-a * dropped * p) as f32,
            dropped: dropped as f32,
        })
    }
}

/// Losses with a fused gradient; see `shaders/loss.wgsl` for the exact definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Mutually exclusive classes; targets are `(rows, 1)` u32 labels.
    SoftmaxCrossEntropy,
    /// Independent binary outputs; targets are `(rows, cols)` f32 in [0, 1].
    SigmoidBinaryCrossEntropy,
    /// Regression; targets are `(rows, cols)` f32.
    MeanSquaredError,
}

/// Slots of the `(1, 4)` accumulator tensor the loss and accuracy ops add to.
pub mod stat {
    pub const LOSS_SUM: usize = 0;
    pub const CORRECT: usize = 1;
    pub const ACCURACY_COUNT: usize = 2;
    pub const SAMPLES: usize = 3;
}

/// Optimizer update rules; each is one kernel in `shaders/optim.wgsl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateRule {
    Sgd,
    /// `v ← βv − ηg; θ ← θ + v`.
    Momentum,
    /// Momentum with the gradient taken at the look-ahead point.
    Nesterov,
    Adagrad,
    Rmsprop,
    /// Adam; with `Hyper::weight_decay` > 0 it is AdamW (decoupled decay).
    Adam,
    Nadam,
}

impl UpdateRule {
    /// How many state tensors (each shaped like the parameter) the rule keeps.
    pub fn state_count(&self) -> usize {
        match self {
            Self::Sgd => 0,
            Self::Momentum | Self::Nesterov | Self::Adagrad | Self::Rmsprop => 1,
            Self::Adam | Self::Nadam => 2,
        }
    }
}

/// The scalars of one update step, as the `(1, 16)` f32 tensor `optim.wgsl` reads. Written by
/// the host at the start of each step, so schedules change nothing on the device side.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Hyper {
    pub lr: f32,
    /// Momentum β, or Adam's β1.
    pub beta1: f32,
    /// RMSProp's ρ, or Adam's β2.
    pub beta2: f32,
    pub eps: f32,
    /// Decoupled weight decay (AdamW).
    pub weight_decay: f32,
    pub l1: f32,
    pub l2: f32,
    /// Clip each gradient component to ±clip_value (0 = off).
    pub clip_value: f32,
    /// Scale gradients so their global norm is at most clip_norm (0 = off).
    pub clip_norm: f32,
    /// Adam bias corrections 1 − β1ᵗ and 1 − β2ᵗ.
    pub c1: f32,
    pub c2: f32,
    /// Nadam's coefficients on g and m.
    pub k_g: f32,
    pub k_m: f32,
    pub _pad: [f32; 3],
}

impl Hyper {
    pub const LEN: usize = 16;

    pub fn sgd(lr: f32) -> Self {
        Self { lr, ..Self::default() }
    }

    pub fn momentum(lr: f32, beta: f32) -> Self {
        Self { lr, beta1: beta, ..Self::default() }
    }

    pub fn adagrad(lr: f32, eps: f32) -> Self {
        Self { lr, eps, ..Self::default() }
    }

    pub fn rmsprop(lr: f32, rho: f32, eps: f32) -> Self {
        Self { lr, beta2: rho, eps, ..Self::default() }
    }

    /// Adam (or AdamW with `weight_decay` > 0) at step `t` ≥ 1.
    pub fn adam(lr: f32, beta1: f32, beta2: f32, eps: f32, weight_decay: f32, t: u32) -> Self {
        let (b1, b2) = (beta1 as f64, beta2 as f64);
        Self {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            c1: (1.0 - b1.powi(t as i32)) as f32,
            c2: (1.0 - b2.powi(t as i32)) as f32,
            ..Self::default()
        }
    }

    /// Nadam at step `t` ≥ 1 with momentum decay ψ (PyTorch: 0.004). `mu_product` is
    /// Π μ_i for i < t (1 at t = 1); the product through t is returned beside the scalars.
    pub fn nadam(lr: f32, beta1: f32, beta2: f32, eps: f32, psi: f64, t: u32, mu_product: f64) -> (Self, f64) {
        let b1 = beta1 as f64;
        let mu = |step: u32| b1 * (1.0 - 0.5 * 0.96f64.powf(step as f64 * psi));
        let (mu_t, mu_next) = (mu(t), mu(t + 1));
        let product = mu_product * mu_t;
        let hyper = Self {
            lr,
            beta1,
            beta2,
            eps,
            c2: (1.0 - (beta2 as f64).powi(t as i32)) as f32,
            k_g: ((1.0 - mu_t) / (1.0 - product)) as f32,
            k_m: (mu_next / (1.0 - product * mu_next)) as f32,
            ..Self::default()
        };
        (hyper, product)
    }

    /// Fold ℓ1 and ℓ2 penalties into the gradient.
    pub fn with_penalties(self, l1: f32, l2: f32) -> Self {
        Self { l1, l2, ..self }
    }

    /// Clip by value and/or global norm (0 turns either off).
    pub fn with_clipping(self, clip_value: f32, clip_norm: f32) -> Self {
        Self { clip_value, clip_norm, ..self }
    }

    pub fn as_slice(&self) -> &[f32] {
        bytemuck::cast_slice(std::slice::from_ref(self))
    }
}

/// The gradient an update applies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Gradient {
    /// Stored in a tensor shaped like the parameter.
    Stored(Tensor),
    /// The product xᵀ·dz of a Dense layer's input x (K, IN) and pre-activation gradient dz
    /// (K, OUT), for a (IN, OUT) weight matrix: formed where the update uses it, never
    /// stored. For a step of few rows this saves writing and re-reading a gradient as large
    /// as the weights (the update of a K = 1 step's weights moves 16 bytes a parameter
    /// instead of 20, and the product's 4-byte store goes).
    ///
    /// With `input`, the update also writes the layer's input gradient dx = dz·θᵀ from θ as it
    /// was before the update, the product the backward pass would otherwise record before it:
    /// both read all of θ, and at few rows that read is their cost.
    Outer { x: Tensor, dz: Tensor, input: Option<InputGradient> },
}

/// The input gradient an update from factors writes (`Gradient::Outer`): dx (K, IN) = dz·θᵀ,
/// times an activation's derivative where given, as `Matmul::nt()` with `times_derivative`
/// would write it (on the GPU its sums may run in another order: within 4ε of the sum of
/// the terms' magnitudes of the product's, in the tests).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputGradient {
    pub dx: Tensor,
    pub derivative: Option<super::matmul::Derivative>,
}

impl From<Tensor> for Gradient {
    fn from(t: Tensor) -> Self {
        Gradient::Stored(t)
    }
}

impl Gradient {
    /// The tensors the gradient is read from.
    pub fn reads(&self) -> Vec<Tensor> {
        match *self {
            Gradient::Stored(t) => vec![t],
            Gradient::Outer { x, dz, input } => {
                let at = input.and_then(|i| i.derivative).map(|d| d.at);
                [x, dz].into_iter().chain(at).collect()
            }
        }
    }
}

/// The tensors of one update: the parameter, its gradient, the rule's state (zeros at the
/// start), the `(1, 16)` `Hyper` tensor, and — for clipping by norm — the `sum_squares`
/// output holding Σg² over all parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpdateTensors {
    pub param: Tensor,
    pub grad: Gradient,
    pub state: [Option<Tensor>; 2],
    pub hyper: Tensor,
    pub grad_norm: Option<Tensor>,
    /// The ℓ1/ℓ2 penalties in `hyper` apply to the first `penalized` elements only: the
    /// parameter's length for a Dense weight, 0 for a bias, and in a packed update of a whole
    /// model the weights' share, which the packing puts first. A multiple of 4 (the GPU
    /// updates four elements at a time) unless it is the whole length.
    pub penalized: usize,
}

/// Normalization applied by a gather: `x·scale + shift` (e.g. 1/255 and 0 for images).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gather {
    pub scale: f32,
    pub shift: f32,
}

impl Default for Gather {
    fn default() -> Self {
        Self { scale: 1.0, shift: 0.0 }
    }
}

/// Batch normalization constants: ε, and the running-average momentum m in PyTorch's
/// convention (running ← (1 − m)·running + m·batch; Keras' momentum is 1 − m).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BatchNorm {
    pub eps: f32,
    pub momentum: f32,
}

impl Default for BatchNorm {
    fn default() -> Self {
        Self { eps: 1e-5, momentum: 0.1 }
    }
}

/// The tensors of a batch-norm layer: x and y (rows, cols); affine = [γ; β], saved =
/// [μ_B; 1/σ_B], running = [μ; σ²], each (2, cols).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNormTensors {
    pub x: Tensor,
    pub affine: Tensor,
    pub saved: Tensor,
    pub running: Tensor,
}
