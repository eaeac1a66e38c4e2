//! Softmax and the fused losses: twin gradients against f64 central differences of the loss
//! as written down, GPU against twin on ragged shapes, device-side accumulation of the stats.

use crate::common;

use common::{assert_close, gpu, uniform, Both};
use wgtrain::backend::stat;
use wgtrain::cpu::loss::{
    mean_squared_error_forward, sigmoid_binary_cross_entropy_forward, softmax_cross_entropy_forward,
};
use wgtrain::{Backend, Loss};

/// (rows, cols): a single sample, odd sizes, more rows than the 256 invocations of a loss
/// workgroup, and binary/one-column outputs.
const SHAPES: &[(usize, usize)] = &[(1, 10), (3, 17), (129, 10), (1000, 7), (300, 1)];

fn labels(rows: usize, cols: usize) -> Vec<u32> {
    (0..rows).map(|r| ((r * 7919 + 13) % cols) as u32).collect()
}

/// The mean loss over the batch in f64, as written in the textbook.
fn reference_loss(loss: Loss, z: &[f64], labels: &[u32], targets: &[f64], rows: usize, cols: usize) -> f64 {
    let mut total = 0.0;
    for r in 0..rows {
        let row = &z[r * cols..(r + 1) * cols];
        total += match loss {
            Loss::SoftmaxCrossEntropy => {
                let lse = row.iter().map(|v| v.exp()).sum::<f64>().ln();
                lse - row[labels[r] as usize]
            }
            Loss::SigmoidBinaryCrossEntropy => {
                let t = &targets[r * cols..(r + 1) * cols];
                let p = |v: f64| 1.0 / (1.0 + (-v).exp());
                row.iter().zip(t).map(|(&v, &t)| -(t * p(v).ln() + (1.0 - t) * (1.0 - p(v)).ln())).sum::<f64>()
                    / cols as f64
            }
            Loss::MeanSquaredError => {
                let t = &targets[r * cols..(r + 1) * cols];
                row.iter().zip(t).map(|(v, t)| (v - t).powi(2)).sum::<f64>() / cols as f64
            }
        };
    }
    total / rows as f64
}

fn twin(loss: Loss, z: &[f32], labels: &[u32], targets: &[f32], rows: usize, cols: usize) -> (Vec<f32>, Vec<f32>) {
    let (mut dz, mut stats) = (vec![0.0; rows * cols], vec![0.0; 4]);
    let scale = 1.0 / rows as f32;
    match loss {
        Loss::SoftmaxCrossEntropy => softmax_cross_entropy_forward(z, labels, &mut dz, &mut stats, rows, cols, scale),
        Loss::SigmoidBinaryCrossEntropy => {
            sigmoid_binary_cross_entropy_forward(z, targets, &mut dz, &mut stats, rows, cols, scale)
        }
        Loss::MeanSquaredError => mean_squared_error_forward(z, targets, &mut dz, &mut stats, rows, cols, scale),
    }
    (dz, stats)
}

const LOSSES: [Loss; 3] = [Loss::SoftmaxCrossEntropy, Loss::SigmoidBinaryCrossEntropy, Loss::MeanSquaredError];

#[test]
fn twin_loss_and_gradient_match_f64_maths_and_central_differences() {
    let (rows, cols) = (6, 5);
    let z: Vec<f32> = uniform(1, rows * cols).iter().map(|v| 3.0 * v).collect();
    let targets: Vec<f32> = uniform(2, rows * cols).iter().map(|v| (v + 1.0) / 2.0).collect();
    let labels = labels(rows, cols);
    let (z64, t64): (Vec<f64>, Vec<f64>) =
        (z.iter().map(|&v| v as f64).collect(), targets.iter().map(|&v| v as f64).collect());
    for loss in LOSSES {
        let (dz, stats) = twin(loss, &z, &labels, &targets, rows, cols);
        let want = reference_loss(loss, &z64, &labels, &t64, rows, cols);
        let mean = stats[stat::LOSS_SUM] as f64 / stats[stat::SAMPLES] as f64;
        assert!((mean - want).abs() < 1e-6 * want.abs().max(1.0), "{loss:?} loss {mean} vs {want}");
        let h = 1e-6;
        for i in 0..rows * cols {
            let (mut up, mut down) = (z64.clone(), z64.clone());
            up[i] += h;
            down[i] -= h;
            let fd = (reference_loss(loss, &up, &labels, &t64, rows, cols)
                - reference_loss(loss, &down, &labels, &t64, rows, cols))
                / (2.0 * h);
            // f32 gradient of O(1/rows) size: a few ulps; central differences exact to ~1e-9.
            assert!((dz[i] as f64 - fd).abs() < 1e-7 + 1e-5 * fd.abs(), "{loss:?} dz[{i}] = {} vs {fd}", dz[i]);
        }
    }
}

#[test]
fn every_loss_matches_the_twin_on_ragged_shapes() {
    let mut both = Both::new();
    for loss in LOSSES {
        for &(rows, cols) in SHAPES {
            let z: Vec<f32> = uniform(rows as u64, rows * cols).iter().map(|v| 5.0 * v).collect();
            let targets: Vec<f32> = uniform(cols as u64, rows * cols).iter().map(|v| (v > &0.0) as u8 as f32).collect();
            let mut results = Vec::new();
            for b in both.each() {
                let zt = b.upload(rows, cols, &z).unwrap();
                let tt = match loss {
                    Loss::SoftmaxCrossEntropy => b.upload_u32(rows, 1, &labels(rows, cols)).unwrap(),
                    _ => b.upload(rows, cols, &targets).unwrap(),
                };
                let (dz, stats) = (b.zeros(rows, cols).unwrap(), b.zeros(1, 4).unwrap());
                b.loss(loss, zt, tt, dz, stats, 1.0 / rows as f32).unwrap();
                results.push((b.read(dz).unwrap(), b.read(stats).unwrap()));
                for t in [zt, tt, dz, stats] {
                    b.free(t).unwrap();
                }
            }
            let what = format!("{loss:?} ({rows}, {cols})");
            // exp/log differ by a few ulps between driver and libm; gradients are O(1/rows).
            assert_close(&format!("{what} dz"), &results[0].0, &results[1].0, 1e-7, 1e-5);
            // The loss sum adds `rows` terms in a different order (tree vs sequential).
            assert_close(&format!("{what} stats"), &results[0].1, &results[1].1, 1e-5, 1e-5 * (rows as f32).sqrt());
            assert_eq!(results[0].1[stat::CORRECT], results[1].1[stat::CORRECT], "{what}: correct counts are exact");
        }
    }
}

#[test]
fn stats_accumulate_across_calls_until_cleared() {
    let mut g = gpu();
    let (rows, cols) = (50, 4);
    let z = g.upload(rows, cols, &uniform(3, rows * cols)).unwrap();
    let labels = g.upload_u32(rows, 1, &labels(rows, cols)).unwrap();
    let (dz, stats) = (g.zeros(rows, cols).unwrap(), g.zeros(1, 4).unwrap());
    g.loss(Loss::SoftmaxCrossEntropy, z, labels, dz, stats, 1.0).unwrap();
    let once = g.read(stats).unwrap();
    g.loss(Loss::SoftmaxCrossEntropy, z, labels, dz, stats, 1.0).unwrap();
    let twice = g.read(stats).unwrap();
    for s in 0..4 {
        assert_eq!(twice[s], 2.0 * once[s], "slot {s}");
    }
    assert_eq!(once[stat::SAMPLES], rows as f32);
    assert_eq!(once[stat::ACCURACY_COUNT], rows as f32);
    g.fill(stats, 0.0).unwrap();
    assert_eq!(g.read(stats).unwrap(), vec![0.0; 4]);
}

#[test]
fn correct_counts_use_the_first_maximum_like_argmax() {
    for b in Both::new().each() {
        // Row 0 ties classes 1 and 2 (first wins: label 1 correct); row 1 label 0 wrong.
        let z = b.upload(2, 3, &[0.0, 5.0, 5.0, 1.0, 2.0, 0.0]).unwrap();
        let labels = b.upload_u32(2, 1, &[1, 0]).unwrap();
        let (dz, stats) = (b.zeros(2, 3).unwrap(), b.zeros(1, 4).unwrap());
        b.loss(Loss::SoftmaxCrossEntropy, z, labels, dz, stats, 1.0).unwrap();
        let stats2 = b.zeros(1, 4).unwrap();
        b.argmax_correct(z, labels, stats2).unwrap();
        assert_eq!(b.read(stats).unwrap()[stat::CORRECT], 1.0, "{}", b.describe());
        assert_eq!(b.read(stats2).unwrap()[stat::CORRECT], 1.0, "{}", b.describe());
    }
}

#[test]
fn softmax_is_stable_and_rows_sum_to_one() {
    let mut both = Both::new();
    let (rows, cols) = (257, 10);
    // Logits up to ±1000: a naive exp overflows to inf.
    let z: Vec<f32> = uniform(8, rows * cols).iter().map(|v| 1000.0 * v).collect();
    let mut outs = Vec::new();
    for b in both.each() {
        let (zt, p) = (b.upload(rows, cols, &z).unwrap(), b.zeros(rows, cols).unwrap());
        b.softmax(zt, p).unwrap();
        outs.push(b.read(p).unwrap());
    }
    for r in 0..rows {
        let s: f32 = outs[0][r * cols..(r + 1) * cols].iter().sum();
        assert!((s - 1.0).abs() < 1e-5, "row {r} sums to {s}");
    }
    assert!(outs[0].iter().all(|v| v.is_finite()));
    assert_close("softmax", &outs[0], &outs[1], 1e-7, 1e-5);
}

#[test]
fn a_label_outside_the_classes_makes_the_loss_nan_not_a_wild_read() {
    for b in Both::new().each() {
        let z = b.upload(2, 3, &[0.0; 6]).unwrap();
        let labels = b.upload_u32(2, 1, &[1, 7]).unwrap();
        let (dz, stats) = (b.zeros(2, 3).unwrap(), b.zeros(1, 4).unwrap());
        b.loss(Loss::SoftmaxCrossEntropy, z, labels, dz, stats, 1.0).unwrap();
        assert!(b.read(stats).unwrap()[stat::LOSS_SUM].is_nan(), "{}", b.describe());
    }
}

#[test]
fn loss_argument_errors_name_the_problem() {
    for b in Both::new().each() {
        let z = b.zeros(4, 3).unwrap();
        let dz = b.zeros(4, 3).unwrap();
        let stats = b.zeros(1, 4).unwrap();
        let f32_labels = b.zeros(4, 1).unwrap();
        let err = b.loss(Loss::SoftmaxCrossEntropy, z, f32_labels, dz, stats, 1.0).unwrap_err();
        assert!(err.to_string().contains("U32"), "{err}");
        let short = b.alloc(3, 1, wgtrain::DType::U32).unwrap();
        let err = b.loss(Loss::SoftmaxCrossEntropy, z, short, dz, stats, 1.0).unwrap_err();
        assert!(err.to_string().contains("4 labels"), "{err}");
        let small_stats = b.zeros(1, 2).unwrap();
        let targets = b.zeros(4, 3).unwrap();
        let err = b.loss(Loss::MeanSquaredError, z, targets, dz, small_stats, 1.0).unwrap_err();
        assert!(err.to_string().contains("at least 4"), "{err}");
    }
}
