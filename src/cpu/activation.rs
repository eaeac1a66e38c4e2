//! CPU twin of `shaders/activation.wgsl` and `shaders/lib/activations.wgsl`.
//!
//! The smooth variants are evaluated in f64 and rounded once to f32, so the twin is within
//! about an ulp of the exact value everywhere, tails included: it is the yardstick the GPU's
//! f32 formulas are held to. The piecewise-linear ones are computed in f32 exactly as the
//! GPU does (a product of two f32 is exact in f64, so rounding it once is the f32 product).

use super::random::philox_uniform;
use crate::backend::{Activation, Noise};

/// SELU's λ and α with the paper's digits (Klambauer et al. 2017).
const SELU_LAMBDA: f64 = 1.050_700_987_355_480_5;
const SELU_ALPHA: f64 = 1.673_263_242_354_377_2;
/// GELU-tanh: √(2/π) and the cubic coefficient.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const GELU_TANH_CUBIC: f64 = 0.044_715;

/// σ(x), from e^(−|x|) so neither side cancels.
fn sigmoid(x: f64) -> f64 {
    let t = (-x.abs()).exp();
    if x >= 0.0 {
        1.0 / (1.0 + t)
    } else {
        t / (1.0 + t)
    }
}

/// Φ(x), the standard normal CDF, from erfc (no cancellation for x < 0).
fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
}

/// φ(x), the standard normal density.
fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

impl Activation {
    /// `act(x)`, `a` being the negative-side parameter of this element.
    pub fn apply(&self, x: f32, a: f32) -> f32 {
        let (xd, ad) = (x as f64, a as f64);
        match self {
            Self::Identity => x,
            Self::Relu => {
                if x > 0.0 {
                    x
                } else {
                    0.0
                }
            }
            Self::LeakyRelu { .. } | Self::Prelu | Self::Rrelu { .. } => {
                if x > 0.0 {
                    x
                } else {
                    a * x
                }
            }
            Self::Elu { .. } => (if x > 0.0 { xd } else { ad * xd.exp_m1() }) as f32,
            Self::Selu => (SELU_LAMBDA * if x > 0.0 { xd } else { SELU_ALPHA * xd.exp_m1() }) as f32,
            Self::Gelu => (xd * normal_cdf(xd)) as f32,
            Self::Silu => (xd * sigmoid(xd)) as f32,
            Self::Tanh => xd.tanh() as f32,
            Self::Sigmoid => sigmoid(xd) as f32,
            Self::GeluTanh => {
                let u = SQRT_2_OVER_PI * (xd + GELU_TANH_CUBIC * xd * xd * xd);
                // ½x(1 + tanh u) = x·σ(2u), which does not cancel for x < 0.
                (xd * sigmoid(2.0 * u)) as f32
            }
        }
    }

    /// `act'(x)`, `a` being the negative-side parameter of this element.
    pub fn derivative(&self, x: f32, a: f32) -> f32 {
        let (xd, ad) = (x as f64, a as f64);
        match self {
            Self::Identity => 1.0,
            Self::Relu => (x > 0.0) as u8 as f32,
            Self::LeakyRelu { .. } | Self::Prelu | Self::Rrelu { .. } => {
                if x > 0.0 {
                    1.0
                } else {
                    a
                }
            }
            Self::Elu { .. } => (if x > 0.0 { 1.0 } else { ad * xd.exp() }) as f32,
            Self::Selu => (SELU_LAMBDA * if x > 0.0 { 1.0 } else { SELU_ALPHA * xd.exp() }) as f32,
            Self::Gelu => (normal_cdf(xd) + xd * normal_pdf(xd)) as f32,
            Self::Silu => (sigmoid(xd) * (1.0 + xd * sigmoid(-xd))) as f32,
            Self::Tanh => {
                let t = (-2.0 * xd.abs()).exp();
                (4.0 * t / ((1.0 + t) * (1.0 + t))) as f32
            }
            Self::Sigmoid => (sigmoid(xd) * sigmoid(-xd)) as f32,
            Self::GeluTanh => {
                let u = SQRT_2_OVER_PI * (xd + GELU_TANH_CUBIC * xd * xd * xd);
                let du = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_TANH_CUBIC * xd * xd);
                (sigmoid(2.0 * u) * (1.0 + 2.0 * xd * du * sigmoid(-2.0 * u))) as f32
            }
        }
    }
}

/// Where an activation's negative-side slope comes from, element by element: PReLU's learned
/// slopes `alpha` (cols), RReLU's random ones (Philox keyed by `noise`, counter `step`, element
/// `base + i`: `base` is `StepCounters::row_base` × cols, 0 in a run of one); neither: the
/// activation's own parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Slopes<'a> {
    pub alpha: Option<&'a [f32]>,
    pub noise: Option<Noise>,
    pub step: u32,
    pub base: u32,
}

/// The negative-side parameter of element `i` of a tensor with `cols` columns.
fn param_at(act: Activation, i: usize, cols: usize, slopes: Slopes) -> f32 {
    let Slopes { alpha, noise, step, base } = slopes;
    match (act, alpha, noise) {
        (Activation::Prelu, Some(alpha), _) => alpha[i % cols],
        (Activation::Rrelu { lower, upper }, _, Some(n)) => {
            lower + (upper - lower) * philox_uniform(n.seed, n.stream, step, base.wrapping_add(i as u32))
        }
        _ => act.param(),
    }
}

/// `y[i] = act(x[i])`; x, y: (rows, cols); alpha: (cols) for PReLU.
pub fn activation_forward(act: Activation, x: &[f32], y: &mut [f32], cols: usize, slopes: Slopes) {
    for i in 0..x.len() {
        y[i] = act.apply(x[i], param_at(act, i, cols, slopes));
    }
}

/// `dx[i] = dy[i]·act'(x[i])`.
pub fn activation_backward(act: Activation, x: &[f32], dy: &[f32], dx: &mut [f32], cols: usize, slopes: Slopes) {
    for i in 0..x.len() {
        dx[i] = dy[i] * act.derivative(x[i], param_at(act, i, cols, slopes));
    }
}

/// `dalpha[j] = Σ_r dy[r, j]·min(x[r, j], 0)`.
pub fn prelu_alpha_backward(x: &[f32], dy: &[f32], dalpha: &mut [f32], rows: usize, cols: usize) {
    for j in 0..cols {
        let mut sum = 0.0;
        for r in 0..rows {
            sum += dy[r * cols + j] * x[r * cols + j].min(0.0);
        }
        dalpha[j] = sum;
    }
}
