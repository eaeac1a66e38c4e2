//! Batch normalization: the twin against f64 maths and central differences, the GPU against
//! the twin on ragged shapes for every buffer written, running statistics and evaluation.

use crate::common;

use common::{assert_close, uniform, Both};
use wgtrain::cpu::batchnorm::{batchnorm_backward, batchnorm_forward, BatchNormGrads, BatchNormSlices};
use wgtrain::{Backend, BatchNorm, BatchNormTensors, CpuBackend};

/// Σ dy·y for training-mode batch norm, in f64, as in Ioffe & Szegedy (2015).
fn reference_loss(x: &[f64], gamma: &[f64], beta: &[f64], dy: &[f64], rows: usize, cols: usize, eps: f64) -> f64 {
    let mut total = 0.0;
    for j in 0..cols {
        let col: Vec<f64> = (0..rows).map(|r| x[r * cols + j]).collect();
        let mean = col.iter().sum::<f64>() / rows as f64;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / rows as f64;
        for r in 0..rows {
            let y = gamma[j] * (col[r] - mean) / (var + eps).sqrt() + beta[j];
            total += dy[r * cols + j] * y;
        }
    }
    total
}

#[test]
fn twin_backward_matches_f64_central_differences() {
    let (rows, cols, eps) = (6, 3, 1e-5);
    let x: Vec<f32> = uniform(1, rows * cols).iter().map(|v| 2.0 * v).collect();
    let dy = uniform(2, rows * cols);
    let affine = [uniform(3, cols).iter().map(|v| 1.0 + 0.5 * v).collect::<Vec<_>>(), uniform(4, cols)].concat();
    let (mut y, mut saved, mut running) =
        (vec![0.0; rows * cols], vec![0.0; 2 * cols], vec![0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    let spec = wgtrain::BatchNorm { eps: eps as f32, momentum: 0.1 };
    let slices = BatchNormSlices { x: &x, affine: &affine, y: &mut y, saved: &mut saved, running: &mut running };
    batchnorm_forward(&spec, slices, rows, cols);
    let (mut dx, mut daffine) = (vec![0.0; rows * cols], vec![0.0; 2 * cols]);
    let grads = BatchNormGrads { x: &x, affine: &affine, saved: &saved, dy: &dy, dx: &mut dx, daffine: &mut daffine };
    batchnorm_backward(grads, rows, cols);

    let f = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<f64>>();
    let (x64, dy64, g64, b64) = (f(&x), f(&dy), f(&affine[..cols]), f(&affine[cols..]));
    let h = 1e-6;
    let central = |plus: f64, minus: f64| (plus - minus) / (2.0 * h);
    // Gradients are O(1) here, computed in f32: a few ulps of the sums they come from.
    let close = |got: f32, want: f64, what: String| {
        assert!((got as f64 - want).abs() < 2e-5 * want.abs().max(1.0), "{what}: {got} vs {want}")
    };
    for i in 0..rows * cols {
        let (mut up, mut down) = (x64.clone(), x64.clone());
        up[i] += h;
        down[i] -= h;
        let fd = central(
            reference_loss(&up, &g64, &b64, &dy64, rows, cols, eps),
            reference_loss(&down, &g64, &b64, &dy64, rows, cols, eps),
        );
        close(dx[i], fd, format!("dx[{i}]"));
    }
    for j in 0..cols {
        let (mut up, mut down) = (g64.clone(), g64.clone());
        up[j] += h;
        down[j] -= h;
        let fd = central(
            reference_loss(&x64, &up, &b64, &dy64, rows, cols, eps),
            reference_loss(&x64, &down, &b64, &dy64, rows, cols, eps),
        );
        close(daffine[j], fd, format!("dgamma[{j}]"));
        let (mut up, mut down) = (b64.clone(), b64.clone());
        up[j] += h;
        down[j] -= h;
        let fd = central(
            reference_loss(&x64, &g64, &up, &dy64, rows, cols, eps),
            reference_loss(&x64, &g64, &down, &dy64, rows, cols, eps),
        );
        close(daffine[cols + j], fd, format!("dbeta[{j}]"));
    }
}

#[test]
fn every_batchnorm_kernel_matches_the_twin_on_ragged_shapes() {
    let spec = BatchNorm::default();
    let mut both = Both::new();
    for (rows, cols) in [(2, 1), (3, 17), (128, 300), (1000, 7)] {
        let x: Vec<f32> = uniform(rows as u64, rows * cols).iter().map(|v| 3.0 * v + 1.0).collect();
        let dy = uniform(cols as u64, rows * cols);
        let affine = [uniform(5, cols).iter().map(|v| 1.0 + 0.5 * v).collect::<Vec<_>>(), uniform(6, cols)].concat();
        let running0 = [vec![0.1; cols], vec![2.0; cols]].concat();
        let mut outs = Vec::new();
        for b in both.each() {
            let t = BatchNormTensors {
                x: b.upload(rows, cols, &x).unwrap(),
                affine: b.upload(2, cols, &affine).unwrap(),
                saved: b.zeros(2, cols).unwrap(),
                running: b.upload(2, cols, &running0).unwrap(),
            };
            let (y, y_eval, dyt) =
                (b.zeros(rows, cols).unwrap(), b.zeros(rows, cols).unwrap(), b.upload(rows, cols, &dy).unwrap());
            let (dx, daffine) = (b.zeros(rows, cols).unwrap(), b.zeros(2, cols).unwrap());
            b.batchnorm_forward(spec, t, y, true).unwrap();
            b.batchnorm_backward(t, dyt, dx, daffine).unwrap();
            b.batchnorm_forward(spec, t, y_eval, false).unwrap();
            let read = |b: &mut dyn Backend, t| b.read(t).unwrap();
            outs.push([
                read(b, y),
                read(b, t.saved),
                read(b, t.running),
                read(b, dx),
                read(b, daffine),
                read(b, y_eval),
            ]);
        }
        // Same loops and f32 operations in the same order on both sides; sqrt and division
        // round per IEEE on both, so only the driver's fused operations can differ: ulps.
        for (k, name) in ["y", "saved", "running", "dx", "daffine", "y (eval)"].iter().enumerate() {
            assert_close(&format!("({rows}, {cols}) {name}"), &outs[0][k], &outs[1][k], 1e-5, 1e-5);
        }
    }
}

#[test]
fn running_statistics_move_by_the_momentum_towards_the_batch() {
    let mut c = CpuBackend::new();
    // One feature, values 1..=4: mean 2.5, biased variance 1.25, unbiased 5/3.
    let t = BatchNormTensors {
        x: c.upload(4, 1, &[1.0, 2.0, 3.0, 4.0]).unwrap(),
        affine: c.upload(2, 1, &[1.0, 0.0]).unwrap(),
        saved: c.zeros(2, 1).unwrap(),
        running: c.upload(2, 1, &[0.0, 1.0]).unwrap(),
    };
    let y = c.zeros(4, 1).unwrap();
    c.batchnorm_forward(BatchNorm { eps: 0.0, momentum: 0.1 }, t, y, true).unwrap();
    let running = c.read(t.running).unwrap();
    assert!((running[0] - 0.25).abs() < 1e-7, "mean {}", running[0]);
    assert!((running[1] - (0.9 + 0.1 * 5.0 / 3.0)).abs() < 1e-6, "var {}", running[1]);
    let y = c.read(y).unwrap();
    let s = 1.25f32.sqrt();
    assert_eq!(y, vec![-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s]);
}

/// One replica's slice of a batch on `b`, with its own saved and running statistics.
struct Slice {
    t: BatchNormTensors,
    y: wgtrain::Tensor,
    dy: wgtrain::Tensor,
    dx: wgtrain::Tensor,
    daffine: wgtrain::Tensor,
    sums: wgtrain::Tensor,
}

/// Sum `read(slice)` over the slices, element by element, as the all-reduce would.
fn summed(b: &mut dyn Backend, slices: &[Slice], read: impl Fn(&Slice) -> wgtrain::Tensor) -> Vec<f32> {
    let mut total: Vec<f32> = Vec::new();
    for s in slices {
        let v = b.read(read(s)).unwrap();
        total.resize(v.len(), 0.0);
        total.iter_mut().zip(v).for_each(|(t, v)| *t += v);
    }
    total
}

#[test]
fn synchronized_stages_over_slices_compute_the_whole_batch_pass() {
    // The batch cut into replicas' slices (uneven, one of a single row), each stage's sums
    // added over the slices as the all-reduce adds them: every slice's output, saved and
    // running statistics and input gradient equal one pass over the whole batch, and the
    // slices' dγ, dβ add up to its. The sums run in another order (slice by slice), so
    // ulps: the same bound as the GPU against the twin.
    let spec = BatchNorm::default();
    let (rows, cols, cuts) = (37, 19, [0, 16, 17, 37]);
    let x: Vec<f32> = uniform(11, rows * cols).iter().map(|v| 3.0 * v + 1.0).collect();
    let dy = uniform(12, rows * cols);
    let affine = [uniform(13, cols).iter().map(|v| 1.0 + 0.5 * v).collect::<Vec<_>>(), uniform(14, cols)].concat();
    let running0 = [vec![0.1; cols], vec![2.0; cols]].concat();
    let mut both = Both::new();
    for (name, b) in both.named() {
        // The whole batch in one pass.
        let whole = BatchNormTensors {
            x: b.upload(rows, cols, &x).unwrap(),
            affine: b.upload(2, cols, &affine).unwrap(),
            saved: b.zeros(2, cols).unwrap(),
            running: b.upload(2, cols, &running0).unwrap(),
        };
        let (y, dyt, dx, daffine) = (
            b.zeros(rows, cols).unwrap(),
            b.upload(rows, cols, &dy).unwrap(),
            b.zeros(rows, cols).unwrap(),
            b.zeros(2, cols).unwrap(),
        );
        b.batchnorm_forward(spec, whole, y, true).unwrap();
        b.batchnorm_backward(whole, dyt, dx, daffine).unwrap();

        let slices: Vec<Slice> = cuts
            .windows(2)
            .map(|w| {
                let n = w[1] - w[0];
                let part = |v: &[f32]| v[w[0] * cols..w[1] * cols].to_vec();
                Slice {
                    t: BatchNormTensors {
                        x: b.upload(n, cols, &part(&x)).unwrap(),
                        affine: b.upload(2, cols, &affine).unwrap(),
                        saved: b.zeros(2, cols).unwrap(),
                        running: b.upload(2, cols, &running0).unwrap(),
                    },
                    y: b.zeros(n, cols).unwrap(),
                    dy: b.upload(n, cols, &part(&dy)).unwrap(),
                    dx: b.zeros(n, cols).unwrap(),
                    daffine: b.zeros(2, cols).unwrap(),
                    sums: b.zeros(2, cols).unwrap(),
                }
            })
            .collect();
        for s in &slices {
            b.batchnorm_moment(s.t, false).unwrap();
        }
        let mut mean = summed(b, &slices, |s| s.t.saved);
        mean[..cols].iter_mut().for_each(|m| *m /= rows as f32);
        for s in &slices {
            b.write(s.t.saved, &mean).unwrap();
            b.batchnorm_moment(s.t, true).unwrap();
        }
        let sq = summed(b, &slices, |s| s.t.saved);
        let saved = [&mean[..cols], &sq[cols..]].concat();
        for s in &slices {
            b.write(s.t.saved, &saved).unwrap();
            b.batchnorm_normalize(spec, s.t, s.y, rows).unwrap();
            b.batchnorm_backward_sums(s.t, s.dy, s.daffine).unwrap();
        }
        let sums = summed(b, &slices, |s| s.daffine);
        for s in &slices {
            b.write(s.sums, &sums).unwrap();
            b.batchnorm_backward_input(s.t, s.dy, s.sums, s.dx, rows).unwrap();
        }

        let check =
            |what: &str, got: &[f32], want: &[f32]| assert_close(&format!("{name}: {what}"), got, want, 1e-5, 1e-5);
        let joined = |b: &mut dyn Backend, f: &dyn Fn(&Slice) -> wgtrain::Tensor| {
            slices.iter().flat_map(|s| b.read(f(s)).unwrap()).collect::<Vec<f32>>()
        };
        let (want_y, want_dx) = (b.read(y).unwrap(), b.read(dx).unwrap());
        check("y", &joined(b, &|s| s.y), &want_y);
        check("dx", &joined(b, &|s| s.dx), &want_dx);
        check("dγ, dβ added over the slices", &sums, &b.read(daffine).unwrap());
        let (want_saved, want_running) = (b.read(whole.saved).unwrap(), b.read(whole.running).unwrap());
        for (i, s) in slices.iter().enumerate() {
            check(&format!("slice {i} saved"), &b.read(s.t.saved).unwrap(), &want_saved);
            check(&format!("slice {i} running"), &b.read(s.t.running).unwrap(), &want_running);
        }
    }
}

#[test]
fn a_synchronized_stage_refuses_a_batch_smaller_than_its_slice() {
    let mut c = CpuBackend::new();
    let t = BatchNormTensors {
        x: c.upload(4, 1, &[1.0, 2.0, 3.0, 4.0]).unwrap(),
        affine: c.upload(2, 1, &[1.0, 0.0]).unwrap(),
        saved: c.zeros(2, 1).unwrap(),
        running: c.upload(2, 1, &[0.0, 1.0]).unwrap(),
    };
    let y = c.zeros(4, 1).unwrap();
    let e = c.batchnorm_normalize(BatchNorm::default(), t, y, 3).unwrap_err().to_string();
    assert!(e.contains("at least this replica's 4 rows") && e.contains("3 rows"), "{e}");
}
