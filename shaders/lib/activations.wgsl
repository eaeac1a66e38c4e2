// activations.wgsl — the activation family's maths, shared by activation.wgsl and the matmul
// epilogue. Codes match `Activation::code` in src/backend/activation.rs; the CPU twin is
// src/cpu/activation.rs. `a` is the variant's parameter: the negative slope (leaky ReLU,
// PReLU's α_j, RReLU's drawn or mean slope) or ELU's α. Needs lib/precise.wgsl.
//
// Every forward and derivative keeps 1e-5 relative accuracy over x ∈ [−30, 30] (tested against
// f64 maths in tests/activation_tails.rs), which takes three precautions:
// - no 1 − (something near 1): tanh from e^(2x) − 1, Φ(x) for x < 0 from erfc, the saturating
//   derivatives from e^(−|x|) (tanh′ = 4t/(1+t)², σ′ = t/(1+t)², ELU′ = α·eˣ) rather than from
//   the output (1 − y², y(1 − y), y + α), which rounds to 0 long before the true derivative;
// - exponentials of large arguments through exp_parts, whose argument may be a hi + lo pair;
// - near the zero of a derivative (GELU, GELU-tanh, SiLU each have one, where two terms
//   cancel) a Taylor series about the zero, computed to 50 digits (mpmath), in h = x − x₀.
//
// SELU constants from Klambauer et al., "Self-Normalizing Neural Networks" (2017). GELU is
// x·Φ(x) (Hendrycks & Gimpel 2016; PyTorch's default), with erfc from Numerical Recipes' erfcc
// (Chebyshev fit, relative error below 1.2e-7 for all z ≥ 0). GELU-tanh is PyTorch's
// approximate='tanh': ½x(1 + tanh(√(2/π)(x + 0.044715x³))) = x·σ(2u).

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
const ACT_GELU_TANH: u32 = 11u;

const SELU_LAMBDA: f32 = 1.0507009873554805;
const SELU_ALPHA: f32 = 1.6732632423543772;
const SELU_LAMBDA_ALPHA: f32 = 1.7580993408473766;
const INV_SQRT_2: f32 = 0.7071067811865476;
const INV_SQRT_2PI: f32 = 0.3989422804014327;
// 2√(2/π) and 2√(2/π)·0.044715, each as hi + lo: 2u is needed to ~1e-7 absolute at |2u| ≈ 85.
const GT_A1_HI: f32 = 1.5957691669464111;
const GT_A1_LO: f32 = -4.534068054340423e-08;
const GT_A3_HI: f32 = 0.07135481387376785;
const GT_A3_LO: f32 = 2.3988324659995897e-09;

// c0 + h·(c1 + h·(c2 + … + h·c6)): the Taylor series of a derivative about the f32 nearest
// its zero, x₀, in h = x − x₀ (exact for |h| < |x₀|/2). The series is about that float, not
// the real zero, because x − (x₀_hi + x₀_lo) would be reassociated by drivers that fold
// constants (Mesa's NIR does), losing x₀_lo; c0 carries the difference instead.
fn series6(h: f32, c0: f32, c1: f32, c2: f32, c3: f32, c4: f32, c5: f32, c6: f32) -> f32 {
    return c0 + h * (c1 + h * (c2 + h * (c3 + h * (c4 + h * (c5 + h * c6)))));
}

// σ(x) = 1/(1 + e⁻ˣ), from e^(−|x|) so neither side cancels.
fn act_sigmoid(x: f32) -> f32 {
    let t = exp_precise(-abs(x));
    let s = 1.0 / (1.0 + t);
    return select(t * s, s, x >= 0.0);
}

// tanh x = −e/(2 + e) with e = e^(−2|x|) − 1; a driver's tanh may return NaN for large |x|.
fn act_tanh(x: f32) -> f32 {
    let e = expm1_precise(-2.0 * abs(x));
    return sign(x) * (-e / (2.0 + e));
}

// Φ(−|x|) as (m, n) = m·2ⁿ: ½·erfc(z) with z = |x|/√2, where erfc(z) = t·e^(Q(t))·e^(−z²).
fn normal_tail(x: f32) -> vec2<f32> {
    let z = abs(x) * INV_SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let q = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
        + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    let g = gauss_parts(x);
    return vec2(0.5 * t * exp(q) * g.x, g.y);
}

fn gelu(x: f32) -> f32 {
    let tail = normal_tail(x);
    if x < 0.0 {
        return ldexp(x * tail.x, i32(tail.y));
    }
    return x * (1.0 - ldexp2(tail));
}

// Φ(x) + x·φ(x); zero at x₀ = −0.75179152…
fn gelu_derivative(x: f32) -> f32 {
    let h = x + 0.7517915368080139;
    if abs(h) < 0.125 {
        return series6(h, -5.227312104575155e-09, 0.4314939829063293, 0.3882849836519891,
            -0.01819967087408319, -0.11400823240247737, -0.014771523559942077, 0.019421679453257287);
    }
    let tail = normal_tail(x);
    let g = gauss_parts(x);
    // φ(x) = INV_SQRT_2PI·g; both terms share the exponent g.y = tail.y.
    if x < 0.0 {
        return ldexp(tail.x + x * INV_SQRT_2PI * g.x, i32(g.y));
    }
    return 1.0 - ldexp2(tail) + x * INV_SQRT_2PI * ldexp2(g);
}

// GELU-tanh's 2u = 2√(2/π)(x + 0.044715x³) as hi + lo.
fn gelu_tanh_arg(x: f32) -> vec2<f32> {
    let x2 = two_prod(x, x);
    var x3 = two_prod(x2.x, x);
    x3.y += x2.y * x;
    var p3 = two_prod(GT_A3_HI, x3.x);
    p3.y += GT_A3_HI * x3.y + GT_A3_LO * x3.x;
    var p1 = two_prod(GT_A1_HI, x);
    p1.y += GT_A1_LO * x;
    var s = two_sum(p1.x, p3.x);
    s.y += p1.y + p3.y;
    return s;
}

// (σ(s), σ(−s)) for s = 2u, with σ of the negative side as (m, n) to scale last: returns
// (σ_pos, m_neg, n_neg) where the smaller of σ(s), σ(−s) is m_neg·2^n_neg, the other σ_pos.
// Past |x| = 30, |2u| > 1900 and σ is 0 or 1 in f32: the clamp keeps x³ finite.
fn gelu_tanh_parts(x: f32) -> vec3<f32> {
    let s = gelu_tanh_arg(clamp(x, -30.0, 30.0));
    let e = exp_parts(-sign(s.x) * s);
    let ez = ldexp2(e);
    return vec3(1.0 / (1.0 + ez), e.x / (1.0 + ez), e.y);
}

fn gelu_tanh(x: f32) -> f32 {
    let p = gelu_tanh_parts(x);
    if x < 0.0 {
        return ldexp(x * p.y, i32(p.z));
    }
    return x * p.x;
}

// σ(2u)·(1 + x·2u′·σ(−2u)), 2u′ = 2√(2/π)(1 + 3·0.044715x²); zero at x₀ = −0.75246142…
fn gelu_tanh_derivative(x: f32) -> f32 {
    let h = x + 0.7524614334106445;
    if abs(h) < 0.125 {
        return series6(h, -4.880576990954944e-09, 0.4304000822362282, 0.3875184466727039,
            -0.01578284835349572, -0.11394448213867392, -0.016619329682192985, 0.019682309042223914);
    }
    let p = gelu_tanh_parts(x);
    // x·2u′ multiplies σ(−2u), which is 0 in f32 past |x| = 30; clamped, it cannot overflow.
    let xc = clamp(x, -30.0, 30.0);
    let du = GT_A1_HI + 3.0 * GT_A3_HI * xc * xc;
    if x < 0.0 {
        return ldexp(p.y * (1.0 + xc * du * p.x), i32(p.z));
    }
    return p.x * (1.0 + xc * du * ldexp(p.y, i32(p.z)));
}

// σ(x)·(1 + x·σ(−x)); zero at x₀ = −1.27846454…
fn silu_derivative(x: f32) -> f32 {
    let h = x + 1.2784645557403564;
    if abs(h) < 0.125 {
        return series6(h, -2.8270396683554365e-09, 0.21781170191300772, 0.14664879626200225,
            0.01887481501409888, -0.015222654794444093, -0.0066065891482178915, 0.00012662733753143442);
    }
    return act_sigmoid(x) * (1.0 + x * act_sigmoid(-x));
}

fn act_forward(code: u32, x: f32, a: f32) -> f32 {
    switch code {
        case ACT_RELU: {
            return select(0.0, x, x > 0.0); // +0 for −0, where max may return either
        }
        case ACT_LEAKY_RELU, ACT_PRELU, ACT_RRELU: {
            return select(a * x, x, x > 0.0);
        }
        case ACT_ELU: {
            return select(a * expm1_precise(x), x, x > 0.0);
        }
        case ACT_SELU: {
            return select(SELU_LAMBDA_ALPHA * expm1_precise(x), SELU_LAMBDA * x, x > 0.0);
        }
        case ACT_GELU: {
            return gelu(x);
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
        case ACT_GELU_TANH: {
            return gelu_tanh(x);
        }
        default: {
            return x;
        }
    }
}

// dy/dx at x. Only the ReLU family may be handed y for x (a fused epilogue that kept no
// pre-activation): their sign tests agree on x and y, and they read nothing else.
fn act_derivative(code: u32, x: f32, a: f32) -> f32 {
    switch code {
        case ACT_RELU: {
            return select(0.0, 1.0, x > 0.0);
        }
        case ACT_LEAKY_RELU, ACT_PRELU, ACT_RRELU: {
            return select(a, 1.0, x > 0.0);
        }
        case ACT_ELU: {
            return select(a * exp_precise(x), 1.0, x > 0.0);
        }
        case ACT_SELU: {
            return select(SELU_LAMBDA_ALPHA * exp_precise(x), SELU_LAMBDA, x > 0.0);
        }
        case ACT_GELU: {
            return gelu_derivative(x);
        }
        case ACT_SILU: {
            return silu_derivative(x);
        }
        case ACT_TANH: {
            let t = exp_precise(-2.0 * abs(x));
            return 4.0 * t / ((1.0 + t) * (1.0 + t));
        }
        case ACT_SIGMOID: {
            let t = exp_precise(-abs(x));
            return t / ((1.0 + t) * (1.0 + t));
        }
        case ACT_GELU_TANH: {
            return gelu_tanh_derivative(x);
        }
        default: {
            return 1.0;
        }
    }
}
