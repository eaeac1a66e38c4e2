//! Dropout: masks bit-identical on GPU and CPU, keep rate within a binomial bound, p = 0 and
//! p = 1, alpha dropout's mean-0/variance-1 invariant, and backward recomputing the mask.

use crate::common;

use common::{gpu, Both};
use rand::{Rng, SeedableRng};
use wgtrain::{Backend, Dropout, Noise, StepCounters};

const NOISE: Noise = Noise { seed: 1234, stream: 2 };

/// Standard normal samples (Box–Muller) from a seeded generator.
fn normal(seed: u64, n: usize) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let (u1, u2): (f64, f64) = (rng.random_range(f64::EPSILON..1.0), rng.random());
            ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
        })
        .collect()
}

/// Forward and backward of `spec` at `step` on one backend: (y, dx) for dy = 1.
fn run(b: &mut dyn Backend, spec: Dropout, x: &[f32], step: u32) -> (Vec<f32>, Vec<f32>) {
    b.begin_step(StepCounters { step, batch_offset: 0, row_base: 0 }).unwrap();
    let n = x.len();
    let xt = b.upload(1, n, x).unwrap();
    let dy = b.upload(1, n, &vec![1.0; n]).unwrap();
    let (y, dx) = (b.zeros(1, n).unwrap(), b.zeros(1, n).unwrap());
    b.dropout_forward(spec, xt, y).unwrap();
    b.dropout_backward(spec, dy, dx).unwrap();
    let out = (b.read(y).unwrap(), b.read(dx).unwrap());
    for t in [xt, dy, y, dx] {
        b.free(t).unwrap();
    }
    out
}

#[test]
fn masks_and_outputs_are_bit_identical_on_gpu_and_cpu() {
    let mut both = Both::new();
    for n in [1, 3, 255, 257, 1000, 65_537] {
        let x = normal(n as u64, n);
        for spec in [Dropout::inverted(0.3, NOISE), Dropout::alpha(0.2, NOISE)] {
            let gpu_out = run(&mut both.gpu, spec, &x, 5);
            let cpu_out = run(&mut both.cpu, spec, &x, 5);
            assert_eq!(gpu_out.0, cpu_out.0, "{:?} forward, n = {n}", spec.kind);
            assert_eq!(gpu_out.1, cpu_out.1, "{:?} backward, n = {n}", spec.kind);
        }
    }
}

#[test]
fn keep_rate_is_within_five_standard_errors_of_one_minus_p() {
    let mut g = gpu();
    let n = 100_000;
    let x = vec![1.0; n];
    for p in [0.1f32, 0.5, 0.9] {
        let (y, _) = run(&mut g, Dropout::inverted(p, NOISE), &x, 1);
        let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / n as f64;
        // Kept count ~ Binomial(n, 1 − p): standard error sqrt(p(1 − p)/n) ≤ 1.6e-3.
        let se = ((p * (1.0 - p)) as f64 / n as f64).sqrt();
        assert!((kept - (1.0 - p as f64)).abs() < 5.0 * se, "p = {p}: kept {kept}");
        // Kept units are scaled by 1/(1 − p), so the mean is preserved in expectation.
        let mean = y.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        assert!((mean - 1.0).abs() < 5.0 * se / (1.0 - p as f64), "p = {p}: mean {mean}");
    }
}

#[test]
fn p_zero_is_the_identity_and_p_one_drops_everything() {
    for b in Both::new().each() {
        let x = normal(3, 999);
        for spec in [Dropout::inverted(0.0, NOISE), Dropout::alpha(0.0, NOISE)] {
            let (y, dx) = run(b, spec, &x, 2);
            assert_eq!(y, x, "{:?} p = 0", spec.kind);
            assert_eq!(dx, vec![1.0; 999], "{:?} p = 0", spec.kind);
        }
        for spec in [Dropout::inverted(1.0, NOISE), Dropout::alpha(1.0, NOISE)] {
            let (y, dx) = run(b, spec, &x, 2);
            assert!(y.iter().all(|&v| v == 0.0), "{:?} p = 1 keeps something", spec.kind);
            assert!(dx.iter().all(|&v| v == 0.0), "{:?} p = 1 passes gradient", spec.kind);
        }
    }
}

#[test]
fn alpha_dropout_keeps_mean_zero_and_variance_one_on_standard_normal_inputs() {
    let mut g = gpu();
    let n = 200_000;
    let x = normal(11, n);
    for p in [0.05f32, 0.1, 0.2, 0.5] {
        let (y, _) = run(&mut g, Dropout::alpha(p, NOISE), &x, 3);
        let mean = y.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        let var = y.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
        // The output has variance 1, so the sample mean's s.e. is 1/sqrt(n) ≈ 2.2e-3 (bound:
        // 5 s.e.). The sample variance's s.e. is sqrt((κ − 1)/n) with kurtosis κ ≤ 10 for these
        // p (a two-point mixture with a normal), ≤ 6.7e-3; bound 0.035.
        assert!(mean.abs() < 0.011, "p = {p}: mean {mean}");
        assert!((var - 1.0).abs() < 0.035, "p = {p}: variance {var}");
    }
}

#[test]
fn backward_recomputes_the_forward_mask() {
    let mut g = gpu();
    let x: Vec<f32> = (0..5000).map(|i| 1.0 + i as f32 * 1e-3).collect();
    let spec = Dropout::inverted(0.4, NOISE);
    let (y, dx) = run(&mut g, spec, &x, 9);
    for i in 0..x.len() {
        let kept = y[i] != 0.0;
        assert_eq!(dx[i] != 0.0, kept, "element {i}");
        if kept {
            assert_eq!(dx[i], 1.0 / 0.6f32, "kept gradient is scaled by 1/(1 − p)");
        }
    }
}

#[test]
fn masks_change_with_step_and_stream_and_repeat_for_the_same_key() {
    let mut g = gpu();
    let x = vec![1.0; 4096];
    let spec = Dropout::inverted(0.5, NOISE);
    let (a, _) = run(&mut g, spec, &x, 1);
    let (b, _) = run(&mut g, spec, &x, 2);
    let (c, _) = run(&mut g, Dropout::inverted(0.5, Noise { stream: 3, ..NOISE }), &x, 1);
    let (again, _) = run(&mut g, spec, &x, 1);
    assert_ne!(a, b, "a new step draws a new mask");
    assert_ne!(a, c, "another stream draws another mask");
    assert_eq!(a, again, "the same (seed, stream, step) gives the same mask");
}

#[test]
fn a_drop_rate_outside_zero_one_is_rejected() {
    for b in Both::new().each() {
        let x = b.zeros(1, 4).unwrap();
        let y = b.zeros(1, 4).unwrap();
        for p in [-0.1, 1.5, f32::NAN] {
            let err = b.dropout_forward(Dropout::inverted(p, NOISE), x, y).unwrap_err();
            assert!(err.to_string().contains("drop rate p in [0, 1]"), "{err}");
        }
    }
}

/// Dropout and RReLU over rows `first..` of a (rows, cols) batch given as a slice of its own,
/// starting at `row_base = first`: (dropout y, dropout dx for dy = 1, RReLU y).
fn slice_masks(b: &mut dyn Backend, x: &[f32], rows: usize, cols: usize, first: usize) -> [Vec<f32>; 3] {
    b.begin_step(StepCounters { step: 9, batch_offset: 0, row_base: first as u32 }).unwrap();
    let n = rows - first;
    let xt = b.upload(n, cols, &x[first * cols..]).unwrap();
    let dy = b.upload(n, cols, &vec![1.0; n * cols]).unwrap();
    let (y, dx, r) = (b.zeros(n, cols).unwrap(), b.zeros(n, cols).unwrap(), b.zeros(n, cols).unwrap());
    let spec = Dropout::inverted(0.4, NOISE);
    b.dropout_forward(spec, xt, y).unwrap();
    b.dropout_backward(spec, dy, dx).unwrap();
    let rrelu = wgtrain::Activation::Rrelu { lower: 0.1, upper: 0.4 };
    let args = wgtrain::ActivationArgs { alpha: None, noise: Some(NOISE) };
    b.activation_forward(rrelu, xt, r, args).unwrap();
    [b.read(y).unwrap(), b.read(dx).unwrap(), b.read(r).unwrap()]
}

#[test]
fn a_replicas_slice_of_a_batch_draws_the_masks_of_those_rows_in_the_whole_batch() {
    // 7 rows of 5: row 3 starts at element 15, inside a Philox block of four, so the GPU
    // kernel reads the two blocks the slice straddles.
    let (rows, cols) = (7, 5);
    let x: Vec<f32> = normal(3, rows * cols).iter().map(|v| v - 0.2).collect();
    let mut both = Both::new();
    for (name, b) in both.named() {
        let whole = slice_masks(b, &x, rows, cols, 0);
        for first in [1, 3, 4, 6] {
            let part = slice_masks(b, &x, rows, cols, first);
            for (k, what) in ["dropout forward", "dropout backward", "RReLU"].iter().enumerate() {
                assert_eq!(part[k], whole[k][first * cols..], "{name}: {what} of rows {first}.. as a slice");
            }
        }
    }
    // And the twin agrees with the GPU bit for bit on a slice.
    let gpu_part = slice_masks(&mut both.gpu, &x, rows, cols, 3);
    let cpu_part = slice_masks(&mut both.cpu, &x, rows, cols, 3);
    assert_eq!(gpu_part, cpu_part);
}
