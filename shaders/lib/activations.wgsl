// activations.wgsl — the activation family's maths, shared by activation.wgsl and the matmul
// epilogue. Codes match `Activation::code` in src/backend/activation.rs; the CPU twin is
// src/cpu/activation.rs. `a` is the variant's parameter: the negative slope (leaky ReLU,
// PReLU's α_j, RReLU's drawn or mean slope) or ELU's α.
//
// SELU constants from Klambauer et al., "Self-Normalizing Neural Networks" (2017).
// GELU is the exact x·Φ(x) (PyTorch's default), with erf from Abramowitz & Stegun 7.1.26
// (|error| ≤ 1.5e-7); the CPU twin uses the same formula.

const ACT_IDENTITY: u32 = 0u;
const ACT_RELU: u32 = 1u;
const ACT_LEAKY_RELU: u32 = 2u;
const ACT_PRELU: u32 = 3u;
const ACT_RRELU: u32 = 4u;
const ACT_ELU: u32 = 5u;
const ACT_SELU: u32 = 6u;
const ACT_GELU: u32 = 7u;
const ACT_SILU: u32 = 8u;
const ACT_TANH: u32 = 9u;
const ACT_SIGMOID: u32 = 10u;

const SELU_LAMBDA: f32 = 1.0507009873554805;
const SELU_ALPHA: f32 = 1.6732632423543772;
const INV_SQRT_2: f32 = 0.7071067811865476;
const INV_SQRT_2PI: f32 = 0.3989422804014327;

// e^x − 1 without the cancellation of exp(x) − 1 near 0 (WGSL has no expm1).
fn act_expm1(x: f32) -> f32 {
    if abs(x) < 1e-2 {
        return x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0))));
    }
    return exp(x) - 1.0;
}

fn act_sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
}

// tanh through e^(−2|x|), which cannot overflow (a driver's tanh may return NaN for large |x|).
fn act_tanh(x: f32) -> f32 {
    let t = exp(-2.0 * abs(x));
    return sign(x) * (1.0 - t) / (1.0 + t);
}

fn act_erf(x: f32) -> f32 {
    let z = abs(x);
    let t = 1.0 / (1.0 + 0.3275911 * z);
    let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    return sign(x) * (1.0 - poly * exp(-z * z));
}

fn act_forward(code: u32, x: f32, a: f32) -> f32 {
    switch code {
        case ACT_RELU: {
            return max(x, 0.0);
        }
        case ACT_LEAKY_RELU, ACT_PRELU, ACT_RRELU: {
            return select(a * x, x, x > 0.0);
        }
        case ACT_ELU: {
            return select(a * act_expm1(x), x, x > 0.0);
        }
        case ACT_SELU: {
            return SELU_LAMBDA * select(SELU_ALPHA * act_expm1(x), x, x > 0.0);
        }
        case ACT_GELU: {
            return 0.5 * x * (1.0 + act_erf(x * INV_SQRT_2));
        }
        case ACT_SILU: {
            return x * act_sigmoid(x);
        }
        case ACT_TANH: {
            return act_tanh(x);
        }
        case ACT_SIGMOID: {
            return act_sigmoid(x);
        }
        default: {
            return x;
        }
    }
}

// dy/dx at x, given y = act_forward(code, x, a). Uses y where that is cheaper (tanh 1−y²,
// sigmoid y(1−y), ELU/SELU y + α on the negative side); where the caller has no x it passes y,
// which is valid exactly for the variants whose sign tests agree on x and y.
fn act_derivative(code: u32, x: f32, y: f32, a: f32) -> f32 {
    switch code {
        case ACT_RELU: {
            return select(0.0, 1.0, x > 0.0);
        }
        case ACT_LEAKY_RELU, ACT_PRELU, ACT_RRELU: {
            return select(a, 1.0, x > 0.0);
        }
        case ACT_ELU: {
            return select(y + a, 1.0, x > 0.0);
        }
        case ACT_SELU: {
            return select(y + SELU_LAMBDA * SELU_ALPHA, SELU_LAMBDA, x > 0.0);
        }
        case ACT_GELU: {
            return 0.5 * (1.0 + act_erf(x * INV_SQRT_2)) + x * INV_SQRT_2PI * exp(-0.5 * x * x);
        }
        case ACT_SILU: {
            let s = act_sigmoid(x);
            return s * (1.0 + x * (1.0 - s));
        }
        case ACT_TANH: {
            return 1.0 - y * y;
        }
        case ACT_SIGMOID: {
            return y * (1.0 - y);
        }
        default: {
            return 1.0;
        }
    }
}
