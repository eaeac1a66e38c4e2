//! Activation tails: every variant's forward and derivative, on the GPU, through the fused
//! matmul epilogue and on the CPU twin, against independently written f64 maths over
//! x ∈ [−30, 30] on a dense grid, with ±1e-7…1e-3 and the f32 neighbours of each derivative's
//! zero added. Pass rule: |got − want| ≤ 1e-5·|want|, or ≤ 1e-37 where want is below the
//! normal f32 range (a GPU may flush subnormals to 0).
#![allow(clippy::excessive_precision)] // reference values keep the digits they were computed to

mod common;

use common::Both;
use wgtrain::{Activation, ActivationArgs, Backend, Matmul};

const RTOL: f64 = 1e-5;
const ATOL: f64 = 1e-37;

/// erfc by the Maclaurin series of erf for z < 2 and Laplace's continued fraction beyond,
/// both to ~1e-15 relative in f64.
fn erfc64(z: f64) -> f64 {
    if z < 0.0 {
        return 2.0 - erfc64(-z);
    }
    if z < 2.0 {
        let (mut term, mut sum) = (z, z);
        for n in 1..100 {
            term *= -z * z / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        return 1.0 - sum * 2.0 / std::f64::consts::PI.sqrt();
    }
    // erfc z = e^(−z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + …)))), evaluated bottom-up.
    let mut f = z;
    for k in (1..200).rev() {
        f = z + (k as f64 / 2.0) / f;
    }
    (-z * z).exp() / std::f64::consts::PI.sqrt() / f
}

fn phi(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

fn cdf(x: f64) -> f64 {
    0.5 * erfc64(-x / 2f64.sqrt())
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// (value, derivative) of each activation at x in f64, from its textbook definition.
fn reference(act: Activation, x: f64, a: f64) -> (f64, f64) {
    let (lambda, alpha) = (1.050_700_987_355_480_5, 1.673_263_242_354_377_2);
    let neg = x <= 0.0;
    match act {
        Activation::Identity => (x, 1.0),
        Activation::Relu => (x.max(0.0), if neg { 0.0 } else { 1.0 }),
        Activation::LeakyRelu { .. } | Activation::Prelu | Activation::Rrelu { .. } => {
            if neg {
                (a * x, a)
            } else {
                (x, 1.0)
            }
        }
        Activation::Elu { .. } => {
            if neg {
                (a * x.exp_m1(), a * x.exp())
            } else {
                (x, 1.0)
            }
        }
        Activation::Selu => {
            if neg {
                (lambda * alpha * x.exp_m1(), lambda * alpha * x.exp())
            } else {
                (lambda * x, lambda)
            }
        }
        Activation::Gelu => (x * cdf(x), cdf(x) + x * phi(x)),
        Activation::Silu => {
            let s = logistic(x);
            (x * s, s + x * s * logistic(-x))
        }
        Activation::Tanh => (x.tanh(), 1.0 / (x.cosh() * x.cosh())),
        Activation::Sigmoid => (logistic(x), logistic(x) * logistic(-x)),
        Activation::GeluTanh => {
            let k = (2.0 / std::f64::consts::PI).sqrt();
            let u2 = 2.0 * k * (x + 0.044715 * x * x * x);
            let du2 = 2.0 * k * (1.0 + 3.0 * 0.044715 * x * x);
            // ½x(1 + tanh u) written as x·σ(2u), the same function without f64's cancellation.
            (x * logistic(u2), logistic(u2) + x * du2 * logistic(u2) * logistic(-u2))
        }
    }
}

/// The derivative zeros of GELU, GELU-tanh and SiLU (to 20 digits, mpmath).
const DERIVATIVE_ZEROS: [f64; 3] = [-0.751_791_524_693_564_5, -0.752_461_422_071_016_3, -1.278_464_542_761_073_8];

fn grid() -> Vec<f32> {
    let mut xs: Vec<f32> = (-30_000..=30_000).map(|i| i as f32 * 1e-3).collect();
    for i in 0..=400 {
        let v = 10f32.powf(-7.0 + 4.0 * i as f32 / 400.0);
        xs.extend([v, -v]);
    }
    for zero in DERIVATIVE_ZEROS {
        let mut v = zero as f32;
        for _ in 0..64 {
            v = f32::from_bits(v.to_bits() - 1); // toward 0 for a negative float
        }
        for _ in 0..128 {
            xs.push(v);
            v = f32::from_bits(v.to_bits() + 1);
        }
    }
    xs
}

/// The negative-side parameter the test uses for each variant.
fn param(act: Activation) -> f32 {
    if act == Activation::Prelu {
        0.25
    } else {
        act.param()
    }
}

/// Check `got` against the reference; returns the worst relative error seen above ATOL.
fn check(what: &str, xs: &[f32], got: &[f32], want: impl Fn(f64) -> f64) -> f64 {
    let mut worst = (0.0f64, 0.0f32);
    let mut bad = Vec::new();
    for (&x, &g) in xs.iter().zip(got) {
        let w = want(x as f64);
        let err = (g as f64 - w).abs();
        let ok = err <= RTOL * w.abs() || err <= ATOL;
        if w.abs() > ATOL && err / w.abs() > worst.0 {
            worst = (err / w.abs(), x);
        }
        if !ok {
            bad.push(format!("x = {x:e}: got {g:e}, want {w:e}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{what}: {} of {} points beyond 1e-5 relative; first: {:?}",
        bad.len(),
        xs.len(),
        &bad[..bad.len().min(5)]
    );
    eprintln!("{what}: worst relative error {:.2e} at x = {:e}", worst.0, worst.1);
    worst.0
}

/// Forward and backward through the activation kernels of `b`; x is one column.
fn run_kernels(b: &mut dyn Backend, act: Activation, xs: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let n = xs.len();
    let x = b.upload(n, 1, xs).unwrap();
    let dy = b.upload(n, 1, &vec![1.0; n]).unwrap();
    let (y, dx) = (b.zeros(n, 1).unwrap(), b.zeros(n, 1).unwrap());
    let alpha = b.upload(1, 1, &[param(act)]).unwrap();
    let args = ActivationArgs { alpha: (act == Activation::Prelu).then_some(alpha), noise: None };
    b.activation_forward(act, x, y, args).unwrap();
    b.activation_backward(act, Some(x), y, dy, dx, args).unwrap();
    let out = (b.read(y).unwrap(), b.read(dx).unwrap());
    for t in [x, dy, y, dx, alpha] {
        b.free(t).unwrap();
    }
    out
}

#[test]
fn activation_kernels_are_accurate_in_the_tails_on_gpu_and_twin() {
    let xs = grid();
    let mut both = Both::new();
    for act in Activation::ALL {
        let a = param(act) as f64;
        for (path, b) in both.named() {
            let (y, d) = run_kernels(b, act, &xs);
            check(&format!("{path} {} forward", act.name()), &xs, &y, |x| reference(act, x, a).0);
            check(&format!("{path} {} derivative", act.name()), &xs, &d, |x| reference(act, x, a).1);
        }
    }
}

#[test]
fn fused_epilogue_and_kept_pre_activation_are_accurate_in_the_tails() {
    // z = x·[1] + 0 is exact, so the epilogue sees x itself; backward then runs from the kept
    // pre-activation as a Dense layer's does.
    let xs = grid();
    let n = xs.len();
    let mut both = Both::new();
    for act in Activation::ALL.into_iter().filter(|a| a.fusable() && *a != Activation::Identity) {
        let a = param(act) as f64;
        for (path, b) in both.named() {
            let x = b.upload(n, 1, &xs).unwrap();
            let one = b.upload(1, 1, &[1.0]).unwrap();
            let (y, pre, dx) = (b.zeros(n, 1).unwrap(), b.zeros(n, 1).unwrap(), b.zeros(n, 1).unwrap());
            let dy = b.upload(n, 1, &vec![1.0; n]).unwrap();
            let spec = Matmul::nn().with_activation(act).with_pre_activation(pre);
            b.matmul(x, one, y, spec).unwrap();
            b.activation_backward(act, Some(pre), y, dy, dx, ActivationArgs::default()).unwrap();
            assert_eq!(b.read(pre).unwrap(), xs, "{path} {}: the kept pre-activation is z", act.name());
            let (yv, dv) = (b.read(y).unwrap(), b.read(dx).unwrap());
            check(&format!("{path} {} fused forward", act.name()), &xs, &yv, |x| reference(act, x, a).0);
            check(&format!("{path} {} derivative from kept z", act.name()), &xs, &dv, |x| reference(act, x, a).1);
            for t in [x, one, y, pre, dx, dy] {
                b.free(t).unwrap();
            }
        }
    }
}

#[test]
fn the_reference_erfc_agrees_with_known_values() {
    // Abramowitz & Stegun table 7.1 and erfc(5) = 1.5374597944280349e-12 (A&S 7.1.23 check).
    for (z, want) in
        [(0.5, 0.479_500_122_186_953_5), (1.0, 0.157_299_207_050_285_13), (5.0, 1.537_459_794_428_034_9e-12)]
    {
        assert!((erfc64(z) - want).abs() <= 1e-14 * want, "erfc({z}) = {} vs {want}", erfc64(z));
    }
    // Continuity where the two methods meet.
    let (below, above) = (erfc64(2.0 - 1e-12), erfc64(2.0));
    assert!((below - above).abs() < 1e-13, "{below} vs {above}");
}

#[test]
fn extreme_inputs_give_the_twins_values_not_nan() {
    // Far past [−30, 30]: x² and x³ overflow f32 long before the activations stop being
    // defined. The GPU must give what the twin (f64 maths, rounded) gives, never NaN.
    let xs: Vec<f32> = [1e4f32, 1e19, 1e30, 3e38].iter().flat_map(|&v| [v, -v]).collect();
    let mut both = Both::new();
    for act in Activation::ALL {
        let [(gpu_y, gpu_d), (cpu_y, cpu_d)] = both.each().map(|b| run_kernels(b, act, &xs));
        for (what, g, c) in [("forward", &gpu_y, &cpu_y), ("derivative", &gpu_d, &cpu_d)] {
            for ((x, g), c) in xs.iter().zip(g).zip(c) {
                let close = g == c || (g - c).abs() as f64 <= RTOL * c.abs() as f64;
                assert!(!g.is_nan() && close, "{} {what} at {x:e}: gpu {g:e}, twin {c:e}", act.name());
            }
        }
    }
}
