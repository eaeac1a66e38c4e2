//! The activation family: one enum owns every variant, its WGSL code and parameter. The maths
//! is in `shaders/lib/activations.wgsl` (GPU) and `src/cpu/activation.rs` (twin).

use super::specs::Noise;
use crate::tensor::Tensor;

/// SELU's λ and α (Klambauer et al. 2017), with the paper's digits.
#[allow(clippy::excessive_precision)]
pub const SELU_LAMBDA: f32 = 1.050_700_987_355_480_5;
#[allow(clippy::excessive_precision)]
pub const SELU_ALPHA: f32 = 1.673_263_242_354_377_2;

/// An elementwise nonlinearity.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Activation {
    Identity,
    /// max(x, 0).
    Relu,
    /// x for x > 0, else α·x.
    LeakyRelu {
        alpha: f32,
    },
    /// Leaky ReLU with a learned slope per feature, passed as `ActivationArgs::alpha`.
    Prelu,
    /// Randomized leaky ReLU (Xu et al. 2015): in training the slope of each element is drawn
    /// from U(lower, upper) (needs `ActivationArgs::noise`); in evaluation it is (lower+upper)/2.
    Rrelu {
        lower: f32,
        upper: f32,
    },
    /// x for x > 0, else α(eˣ − 1).
    Elu {
        alpha: f32,
    },
    /// λ·ELU with α fixed for self-normalization.
    Selu,
    /// x·Φ(x), the exact form.
    Gelu,
    /// x·σ(x) (swish).
    Silu,
    Tanh,
    /// σ(x) = 1/(1 + e⁻ˣ).
    Sigmoid,
    /// ½x(1 + tanh(√(2/π)(x + 0.044715x³))): GELU's tanh approximation (PyTorch's
    /// `approximate='tanh'`, GPT-2's `gelu_new`).
    GeluTanh,
}

impl Activation {
    /// PyTorch's default leaky slope.
    pub const fn leaky_relu() -> Self {
        Self::LeakyRelu { alpha: 0.01 }
    }

    /// PyTorch's defaults, 1/8 and 1/3.
    pub const fn rrelu() -> Self {
        Self::Rrelu { lower: 1.0 / 8.0, upper: 1.0 / 3.0 }
    }

    pub const fn elu() -> Self {
        Self::Elu { alpha: 1.0 }
    }

    /// Every variant with its default parameters (tests loop over this).
    pub const ALL: [Activation; 12] = [
        Self::Identity,
        Self::Relu,
        Self::leaky_relu(),
        Self::Prelu,
        Self::rrelu(),
        Self::elu(),
        Self::Selu,
        Self::Gelu,
        Self::Silu,
        Self::Tanh,
        Self::Sigmoid,
        Self::GeluTanh,
    ];

    /// The code `shaders/lib/activations.wgsl` switches on.
    pub const fn code(&self) -> u32 {
        match self {
            Self::Identity => 0,
            Self::Relu => 1,
            Self::LeakyRelu { .. } => 2,
            Self::Prelu => 3,
            Self::Rrelu { .. } => 4,
            Self::Elu { .. } => 5,
            Self::Selu => 6,
            Self::Gelu => 7,
            Self::Silu => 8,
            Self::Tanh => 9,
            Self::Sigmoid => 10,
            Self::GeluTanh => 11,
        }
    }

    /// The scalar parameter: the leaky slope, ELU's α, RReLU's evaluation slope.
    pub fn param(&self) -> f32 {
        match *self {
            Self::LeakyRelu { alpha } | Self::Elu { alpha } => alpha,
            Self::Rrelu { lower, upper } => (lower + upper) / 2.0,
            _ => 0.0,
        }
    }

    pub const fn name(&self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Relu => "relu",
            Self::LeakyRelu { .. } => "leaky_relu",
            Self::Prelu => "prelu",
            Self::Rrelu { .. } => "rrelu",
            Self::Elu { .. } => "elu",
            Self::Selu => "selu",
            Self::Gelu => "gelu",
            Self::Silu => "silu",
            Self::Tanh => "tanh",
            Self::Sigmoid => "sigmoid",
            Self::GeluTanh => "gelu_tanh",
        }
    }

    /// The variant named `name` (as `name()` spells it), with its default parameters.
    pub fn from_name(name: &str) -> crate::error::Result<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name).ok_or_else(|| {
            let valid: Vec<&str> = Self::ALL.iter().map(Self::name).collect();
            crate::error::Error::config(
                "activation",
                format!("unknown activation {name:?}; valid: {}", valid.join(", ")),
            )
        })
    }

    /// Whether the derivative can be computed from the output alone, so a fused matmul
    /// epilogue need keep only y. True for the piecewise-linear variants, whose derivative is
    /// a sign test. The saturating ones are not: 1 − y², y(1 − y) and y + α round to 0 (or
    /// lose all digits) where the true derivative is small but not 0 — the vanishing-gradient
    /// regime — so a Dense layer keeps their pre-activation, one more (B, OUT) buffer.
    pub fn output_suffices(&self) -> bool {
        match *self {
            Self::Identity | Self::Relu => true,
            Self::LeakyRelu { alpha } => alpha > 0.0,
            _ => false,
        }
    }

    /// Whether the activation can run as a matmul epilogue (needs no tensor or noise).
    pub fn fusable(&self) -> bool {
        !matches!(self, Self::Prelu | Self::Rrelu { .. })
    }
}

/// What some activations need beside x: PReLU's `(1, F)` slopes; RReLU's noise in training
/// (without it RReLU uses its evaluation slope).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ActivationArgs {
    pub alpha: Option<Tensor>,
    pub noise: Option<Noise>,
}
