//! Activations: the twin against f64 maths and central differences, the GPU against the twin
//! on ragged shapes for every variant, RReLU's slopes bit for bit, the fused matmul epilogue.

mod common;

use common::{assert_close, context, gpu, matmul_tilings, uniform, Both};
use wgtrain::backend::activation::{SELU_ALPHA, SELU_LAMBDA};
use wgtrain::cpu::activation::{activation_backward, activation_forward, prelu_alpha_backward, Slopes};
use wgtrain::{Activation, ActivationArgs, Backend, CpuBackend, Error, GpuBackend, Matmul, Noise, StepCounters};

/// (rows, cols): sizes that are not multiples of the 256-wide workgroup.
const SHAPES: &[(usize, usize)] = &[(1, 1), (3, 17), (63, 65), (129, 300)];

/// erf by its Maclaurin series, accurate to ~1e-12 for |x| ≤ 3 in f64.
fn erf64(x: f64) -> f64 {
    let (mut term, mut sum) = (x, x);
    for n in 1..80 {
        term *= -x * x / n as f64;
        sum += term / (2 * n + 1) as f64;
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}

/// The activations as written in their papers, in f64, independent of the twin.
fn reference(act: Activation, x: f64, a: f64) -> f64 {
    let (lambda, alpha) = (SELU_LAMBDA as f64, SELU_ALPHA as f64);
    match act {
        Activation::Identity => x,
        Activation::Relu => x.max(0.0),
        Activation::LeakyRelu { .. } | Activation::Prelu | Activation::Rrelu { .. } => {
            if x > 0.0 {
                x
            } else {
                a * x
            }
        }
        Activation::Elu { .. } => {
            if x > 0.0 {
                x
            } else {
                a * x.exp_m1()
            }
        }
        Activation::Selu => lambda * if x > 0.0 { x } else { alpha * x.exp_m1() },
        Activation::Gelu => 0.5 * x * (1.0 + erf64(x / 2f64.sqrt())),
        Activation::Silu => x / (1.0 + (-x).exp()),
        Activation::Tanh => x.tanh(),
        Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        Activation::GeluTanh => {
            0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh())
        }
    }
}

#[test]
fn twin_forward_and_backward_match_f64_maths_and_central_differences() {
    // Points in [-3, 3] at least 0.05 from the kink at 0, where the derivative is one-sided.
    let xs: Vec<f32> = (0..121).map(|i| -3.0 + 0.05 * i as f32).filter(|x| x.abs() > 0.025).collect();
    let h = 1e-5f64;
    for act in Activation::ALL {
        let a = if act == Activation::Prelu { 0.2 } else { act.param() };
        for &x in &xs {
            let y = act.apply(x, a);
            let want = reference(act, x as f64, a as f64);
            // The twin rounds f64 maths once: half an ulp, relative (the tails are checked
            // to 1e-5 relative over [−30, 30] in tests/activation_tails.rs).
            let value_tol = 1e-7 * want.abs();
            assert!((y as f64 - want).abs() <= value_tol, "{} forward at {x}: {y} vs {want}", act.name());

            let fd = (reference(act, x as f64 + h, a as f64) - reference(act, x as f64 - h, a as f64)) / (2.0 * h);
            let d = act.derivative(x, a) as f64;
            // Central differences in f64 with h = 1e-5 carry ~1e-10 truncation and rounding
            // error; the twin's derivative is rounded once to f32 (6e-8 relative).
            let tol = 1e-9 + 1e-7 * fd.abs();
            assert!((d - fd).abs() <= tol, "{} derivative at {x}: {d} vs central difference {fd}", act.name());
        }
    }
}

#[test]
fn prelu_slope_gradient_matches_f64_central_differences() {
    let (rows, cols) = (7, 5);
    let (x, dy, alpha) = (uniform(1, rows * cols), uniform(2, rows * cols), uniform(3, cols));
    let mut dalpha = vec![0.0; cols];
    prelu_alpha_backward(&x, &dy, &mut dalpha, rows, cols);
    // L(α) = Σ dy·prelu(x; α): dL/dα_j by central differences in f64.
    let loss = |alpha: &[f64]| -> f64 {
        (0..rows * cols).map(|i| dy[i] as f64 * reference(Activation::Prelu, x[i] as f64, alpha[i % cols])).sum()
    };
    for j in 0..cols {
        let h = 1e-6;
        let mut up: Vec<f64> = alpha.iter().map(|&a| a as f64).collect();
        let mut down = up.clone();
        up[j] += h;
        down[j] -= h;
        let fd = (loss(&up) - loss(&down)) / (2.0 * h);
        assert!((dalpha[j] as f64 - fd).abs() < 1e-5, "dalpha[{j}] = {} vs {fd}", dalpha[j]);
    }
}

#[test]
fn prelu_slope_gradient_on_gpu_matches_the_twin_on_ragged_shapes() {
    let mut both = Both::new();
    for &(rows, cols) in SHAPES {
        let (x, dy) = (uniform(40 + rows as u64, rows * cols), uniform(50 + cols as u64, rows * cols));
        let mut outs = Vec::new();
        for b in both.each() {
            let (xt, dyt) = (b.upload(rows, cols, &x).unwrap(), b.upload(rows, cols, &dy).unwrap());
            let dalpha = b.zeros(1, cols).unwrap();
            b.prelu_alpha_backward(xt, dyt, dalpha).unwrap();
            outs.push(b.read(dalpha).unwrap());
        }
        // Both sum the rows of each column in order, with the same products: identical.
        assert_eq!(outs[0], outs[1], "({rows}, {cols})");
    }
}

#[test]
fn selu_elu_and_relu_known_values() {
    assert_eq!(Activation::Selu.apply(1.0, 0.0), SELU_LAMBDA);
    assert!((Activation::elu().apply(-1.0, 1.0) - (-0.632_120_56)).abs() < 1e-7);
    // ReLU maps −0 to +0 on both paths (max(−0, 0) may return either zero; the kernels
    // select instead). Compared as bits, since −0.0 == 0.0.
    for b in Both::new().each() {
        let x = b.upload(1, 2, &[-0.0, 0.0]).unwrap();
        let y = b.zeros(1, 2).unwrap();
        b.activation_forward(Activation::Relu, x, y, ActivationArgs::default()).unwrap();
        let bits: Vec<u32> = b.read(y).unwrap().iter().map(|v| v.to_bits()).collect();
        assert_eq!(bits, [0, 0], "relu(−0), relu(+0) on {}", b.describe());
    }
}

/// Tolerances for the GPU against the twin: identical formulas, but exp/erf/tanh differ by a
/// few ulps between the driver and Rust's libm (Vulkan allows exp 3 + 2|x| ulp).
fn tolerance(act: Activation) -> (f32, f32) {
    match act {
        Activation::Identity
        | Activation::Relu
        | Activation::LeakyRelu { .. }
        | Activation::Prelu
        | Activation::Rrelu { .. } => (0.0, 0.0),
        _ => (2e-6, 2e-5),
    }
}

fn run_both(act: Activation, rows: usize, cols: usize, training: bool, both: &mut Both) -> [(Vec<f32>, Vec<f32>); 2] {
    let x = uniform(10 + rows as u64, rows * cols).iter().map(|v| 4.0 * v).collect::<Vec<_>>();
    let dy = uniform(20 + cols as u64, rows * cols);
    let slopes = uniform(30, cols);
    let noise = (training && matches!(act, Activation::Rrelu { .. })).then_some(Noise { seed: 9, stream: 4 });
    let counters = StepCounters { step: 12, batch_offset: 0, row_base: 0 };
    let mut out = Vec::new();
    for b in both.each() {
        b.begin_step(counters).unwrap();
        let xt = b.upload(rows, cols, &x).unwrap();
        let dyt = b.upload(rows, cols, &dy).unwrap();
        let alpha = b.upload(1, cols, &slopes).unwrap();
        let (yt, dxt) = (b.zeros(rows, cols).unwrap(), b.zeros(rows, cols).unwrap());
        let args = ActivationArgs { alpha: (act == Activation::Prelu).then_some(alpha), noise };
        b.activation_forward(act, xt, yt, args).unwrap();
        b.activation_backward(act, Some(xt), yt, dyt, dxt, args).unwrap();
        out.push((b.read(yt).unwrap(), b.read(dxt).unwrap()));
        for t in [xt, dyt, alpha, yt, dxt] {
            b.free(t).unwrap();
        }
    }
    [out.remove(0), out.remove(0)]
}

#[test]
fn every_activation_matches_the_twin_on_ragged_shapes() {
    let mut both = Both::new();
    for act in Activation::ALL {
        for &(rows, cols) in SHAPES {
            for training in [false, true] {
                let [(gy, gdx), (cy, cdx)] = run_both(act, rows, cols, training, &mut both);
                let (atol, rtol) = tolerance(act);
                let what = format!("{} ({rows}, {cols}) training={training}", act.name());
                assert_close(&format!("{what} y"), &gy, &cy, atol, rtol);
                // dx = dy·f'(x): f' may use y, so the error of y carries into it.
                assert_close(&format!("{what} dx"), &gdx, &cdx, 2.0 * atol, 2.0 * rtol);
            }
        }
    }
}

#[test]
fn rrelu_training_slopes_are_bit_identical_and_within_bounds() {
    let mut both = Both::new();
    let act = Activation::rrelu();
    let [(gy, gdx), (cy, cdx)] = run_both(act, 129, 300, true, &mut both);
    assert_eq!(gy, cy, "GPU and CPU RReLU outputs differ");
    assert_eq!(gdx, cdx, "GPU and CPU RReLU gradients differ");
    let [(eval_y, _), _] = run_both(act, 129, 300, false, &mut both);
    // On negative inputs the slope is y/x: in [1/8, 1/3] in training, their mean in evaluation.
    let x: Vec<f32> = uniform(10 + 129, 129 * 300).iter().map(|v| 4.0 * v).collect();
    let slopes: Vec<f32> = x.iter().zip(&gy).filter(|(x, _)| **x < -0.1).map(|(x, y)| y / x).collect();
    assert!(slopes.iter().all(|s| (0.125 - 1e-6..=1.0 / 3.0 + 1e-6).contains(s)));
    let mean = slopes.iter().sum::<f32>() / slopes.len() as f32;
    // Mean of ~19k U(1/8, 1/3) draws: s.e. = (5/24)/sqrt(12·19k) ≈ 4.4e-4; bound at 5 s.e.
    assert!((mean - 11.0 / 48.0).abs() < 2.2e-3, "mean slope {mean}");
    for (x, y) in x.iter().zip(&eval_y) {
        if *x < 0.0 {
            assert_eq!(*y, x * (11.0 / 48.0), "evaluation slope is (lower + upper)/2");
        }
    }
}

#[test]
fn backward_from_the_output_alone_equals_backward_with_the_input() {
    let mut g = gpu();
    let (rows, cols) = (33, 70);
    let x = g.upload(rows, cols, &uniform(5, rows * cols).iter().map(|v| 3.0 * v).collect::<Vec<_>>()).unwrap();
    let dy = g.upload(rows, cols, &uniform(6, rows * cols)).unwrap();
    let (y, dx1, dx2) = (g.zeros(rows, cols).unwrap(), g.zeros(rows, cols).unwrap(), g.zeros(rows, cols).unwrap());
    for act in Activation::ALL.into_iter().filter(Activation::output_suffices) {
        let args = ActivationArgs::default();
        g.activation_forward(act, x, y, args).unwrap();
        g.activation_backward(act, Some(x), y, dy, dx1, args).unwrap();
        g.activation_backward(act, None, y, dy, dx2, args).unwrap();
        // The ReLU family takes its sign test from y instead of x: identical, since they share signs.
        assert_eq!(g.read(dx1).unwrap(), g.read(dx2).unwrap(), "{}", act.name());
    }
}

#[test]
fn fused_epilogue_equals_matmul_then_activation() {
    // K = 64: the tilings' main kernels; K = 3, the shallow kernel's vec4 stores (the spot
    // activations only).
    for (m, k, n) in [(37, 64, 52), (37, 3, 52)] {
        fused_epilogue_at(m, k, n);
    }
}

fn fused_epilogue_at(m: usize, k: usize, n: usize) {
    for act in Activation::ALL.into_iter().filter(Activation::fusable) {
        let mut results = Vec::new();
        // Every activation on the first tiling; ReLU, ELU and GELU on the others: the
        // activation code is one function every kernel's store calls, and each activation's
        // pipeline is a compile of ~1 s on lavapipe (a cold CI's).
        let spot = matches!(act, Activation::Relu | Activation::Gelu) || act == Activation::elu();
        if k < 8 && !spot {
            continue;
        }
        let tilings: Vec<_> = matmul_tilings().into_iter().enumerate().filter(|&(i, _)| i == 0 || spot).map(|(_, t)| t).collect();
        let mut backends: Vec<Box<dyn Backend>> = vec![Box::new(CpuBackend::new())];
        backends.extend(tilings.iter().map(|&t| Box::new(GpuBackend::with_tiling(context(), t).unwrap()) as Box<dyn Backend>));
        for b in backends.iter_mut() {
            let a = b.upload(m, k, &uniform(1, m * k)).unwrap();
            let w = b.upload(k, n, &uniform(2, k * n)).unwrap();
            let bias = b.upload(1, n, &uniform(3, n)).unwrap();
            let (z, y, fused) = (b.zeros(m, n).unwrap(), b.zeros(m, n).unwrap(), b.zeros(m, n).unwrap());
            b.matmul(a, w, z, Matmul::nn().with_bias(bias)).unwrap();
            b.activation_forward(act, z, y, ActivationArgs::default()).unwrap();
            b.matmul(a, w, fused, Matmul::nn().with_bias(bias).with_activation(act)).unwrap();
            let (y, fused) = (b.read(y).unwrap(), b.read(fused).unwrap());
            // Same z, same function: equal to the bit on either backend.
            assert_eq!(y, fused, "{} on {}", act.name(), b.describe());
            results.push(fused);
        }
        let (atol, rtol) = tolerance(act);
        // GPU (every tiling) vs twin: the matmul's K rounding (see tests/matmul.rs) plus the
        // activation's.
        for (gpu_result, tiling) in results[1..].iter().zip(&tilings) {
            let what = format!("{} K={k} ({tiling})", act.name());
            assert_close(&what, gpu_result, &results[0], atol + 4.0 * k as f32 * f32::EPSILON, rtol + 1e-5);
        }
    }
}

#[test]
fn activation_misuse_is_a_clear_error() {
    for b in Both::new().each() {
        let x = b.zeros(4, 3).unwrap();
        let y = b.zeros(4, 3).unwrap();
        let err = b.activation_forward(Activation::Prelu, x, y, ActivationArgs::default()).unwrap_err();
        assert!(err.to_string().contains("PReLU slopes"), "{err}");
        let wrong = b.zeros(1, 2).unwrap();
        let err = b
            .activation_forward(Activation::Prelu, x, y, ActivationArgs { alpha: Some(wrong), noise: None })
            .unwrap_err();
        assert!(err.to_string().contains("3 PReLU slopes"), "{err}");
        let err = b.activation_backward(Activation::Gelu, None, y, x, y, ActivationArgs::default()).unwrap_err();
        assert!(err.to_string().contains("gelu needs it"), "{err}");
        let err = b.activation_forward(Activation::Relu, x, x, ActivationArgs::default()).unwrap_err();
        assert!(err.to_string().contains("distinct"), "{err}");
        let w = b.zeros(3, 3).unwrap();
        let err = b.matmul(x, w, y, Matmul::nn().with_activation(Activation::Prelu)).unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch { op: "matmul", .. }) && err.to_string().contains("prelu"), "{err}");
    }
}

#[test]
fn cpu_twin_functions_and_backend_agree() {
    // The free functions are what the CPU backend runs: a direct call equals its result.
    let (rows, cols) = (3, 4);
    let (x, dy) = (uniform(1, rows * cols), uniform(2, rows * cols));
    let mut c = CpuBackend::new();
    for act in Activation::ALL.into_iter().filter(|a| *a != Activation::Prelu) {
        let mut y = vec![0.0; rows * cols];
        activation_forward(act, &x, &mut y, cols, Slopes::default());
        let mut dx = vec![0.0; rows * cols];
        activation_backward(act, &x, &dy, &mut dx, cols, Slopes::default());
        let (xt, dyt) = (c.upload(rows, cols, &x).unwrap(), c.upload(rows, cols, &dy).unwrap());
        let (yt, dxt) = (c.zeros(rows, cols).unwrap(), c.zeros(rows, cols).unwrap());
        c.activation_forward(act, xt, yt, ActivationArgs::default()).unwrap();
        c.activation_backward(act, Some(xt), yt, dyt, dxt, ActivationArgs::default()).unwrap();
        assert_eq!(c.read(yt).unwrap(), y, "{} forward", act.name());
        assert_eq!(c.read(dxt).unwrap(), dx, "{} backward", act.name());
        for (i, (&xi, &dyi)) in x.iter().zip(&dy).enumerate() {
            assert_eq!(dx[i], dyi * act.derivative(xi, act.param()), "{} element {i}", act.name());
        }
    }
}
