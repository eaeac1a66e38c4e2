//! CPU twin of `shaders/activation.wgsl` and `shaders/lib/activations.wgsl`.

use super::random::philox_uniform;
use crate::backend::activation::{SELU_ALPHA, SELU_LAMBDA};
use crate::backend::{Activation, Noise};

/// erf by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7), as the GPU computes it.
pub fn erf(x: f32) -> f32 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152 + t * 1.061_405_4))));
    x.signum() * (1.0 - poly * (-z * z).exp())
}

fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

impl Activation {
    /// `act(x)`, `a` being the negative-side parameter of this element.
    pub fn apply(&self, x: f32, a: f32) -> f32 {
        match self {
            Self::Identity => x,
            Self::Relu => x.max(0.0),
            Self::LeakyRelu { .. } | Self::Prelu | Self::Rrelu { .. } => {
                if x > 0.0 {
                    x
                } else {
                    a * x
                }
            }
            Self::Elu { .. } => {
                if x > 0.0 {
                    x
                } else {
                    a * x.exp_m1()
                }
            }
            Self::Selu => SELU_LAMBDA * if x > 0.0 { x } else { SELU_ALPHA * x.exp_m1() },
            Self::Gelu => 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2)),
            Self::Silu => x * sigmoid(x),
            Self::Tanh => x.tanh(),
            Self::Sigmoid => sigmoid(x),
        }
    }

    /// `act'(x)` given `y = act(x)`.
    pub fn derivative(&self, x: f32, y: f32, a: f32) -> f32 {
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
            Self::Elu { .. } => {
                if x > 0.0 {
                    1.0
                } else {
                    y + a
                }
            }
            Self::Selu => {
                if x > 0.0 {
                    SELU_LAMBDA
                } else {
                    y + SELU_LAMBDA * SELU_ALPHA
                }
            }
            Self::Gelu => {
                let pdf = (-0.5 * x * x).exp() / (2.0 * std::f32::consts::PI).sqrt();
                0.5 * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2)) + x * pdf
            }
            Self::Silu => {
                let s = sigmoid(x);
                s * (1.0 + x * (1.0 - s))
            }
            Self::Tanh => 1.0 - y * y,
            Self::Sigmoid => y * (1.0 - y),
        }
    }
}

/// The negative-side parameter of element `i` of a tensor with `cols` columns.
fn param_at(act: Activation, i: usize, cols: usize, alpha: Option<&[f32]>, noise: Option<Noise>, step: u32) -> f32 {
    match (act, alpha, noise) {
        (Activation::Prelu, Some(alpha), _) => alpha[i % cols],
        (Activation::Rrelu { lower, upper }, _, Some(n)) => {
            lower + (upper - lower) * philox_uniform(n.seed, n.stream, step, i as u32)
        }
        _ => act.param(),
    }
}

/// `y[i] = act(x[i])`; x, y: (rows, cols); alpha: (cols) for PReLU.
pub fn activation_forward(
    act: Activation,
    x: &[f32],
    y: &mut [f32],
    cols: usize,
    alpha: Option<&[f32]>,
    noise: Option<Noise>,
    step: u32,
) {
    for i in 0..x.len() {
        y[i] = act.apply(x[i], param_at(act, i, cols, alpha, noise, step));
    }
}

/// `dx[i] = dy[i]·act'(x[i])`.
#[allow(clippy::too_many_arguments)]
pub fn activation_backward(
    act: Activation,
    x: &[f32],
    y: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    cols: usize,
    alpha: Option<&[f32]>,
    noise: Option<Noise>,
    step: u32,
) {
    for i in 0..x.len() {
        dx[i] = dy[i] * act.derivative(x[i], y[i], param_at(act, i, cols, alpha, noise, step));
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
