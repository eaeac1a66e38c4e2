//! Sparse models: magnitude pruning zeroes exactly ⌊s·n⌋ weights (global and per layer), the
//! masks keep them exactly zero through training on the GPU and the twin, and survive a
//! checkpoint; low-rank factorization reproduces a layer at full rank, counts r·(IN+OUT)+OUT
//! parameters, and its error is the discarded singular values' norm (Eckart–Young).

use crate::common;

use common::{assert_close, Both};
use wgtrain::data::sources;
use wgtrain::nn::{Mode, ModelSpec, Sequential};
use wgtrain::optim::{Optimizer, OptimizerConfig, OptimizerKind};
use wgtrain::sparse::{self, lowrank, Rank, Scope};
use wgtrain::train::{checkpoint, DeviceData, TrainConfig, Trainer};
use wgtrain::{Activation, Backend};

fn spec() -> ModelSpec {
    ModelSpec::mlp(20, &[48, 24], 4, Activation::Relu)
}

#[test]
fn magnitude_masks_prune_exactly_the_floor_of_s_times_n_smallest() {
    let a: Vec<f32> = common::uniform(1, 300);
    let mut b: Vec<f32> = common::uniform(2, 77);
    b[3] = 0.0; // ties at zero and equal magnitudes are still counted exactly
    b[4] = -0.0;
    b[5] = b[6];
    for s in [0.0, 0.1, 0.5, 0.9, 0.95, 0.98, 0.999] {
        let global = sparse::magnitude_masks(&[&a, &b], s, Scope::Global).unwrap();
        let zeros: usize = global.iter().map(|m| m.iter().filter(|v| **v == 0.0).count()).sum();
        assert_eq!(zeros, (s * 377.0).floor() as usize, "global at {s}");
        // Every pruned weight is no larger than every kept one.
        let largest_pruned = global.iter().zip([&a, &b]).flat_map(|(m, w)| m.iter().zip(w.iter()).filter(|(m, _)| **m == 0.0).map(|(_, w)| w.abs())).fold(0.0f32, f32::max);
        let smallest_kept = global.iter().zip([&a, &b]).flat_map(|(m, w)| m.iter().zip(w.iter()).filter(|(m, _)| **m != 0.0).map(|(_, w)| w.abs())).fold(f32::INFINITY, f32::min);
        assert!(largest_pruned <= smallest_kept, "at {s}: pruned {largest_pruned} > kept {smallest_kept}");
        let per_layer = sparse::magnitude_masks(&[&a, &b], s, Scope::PerLayer).unwrap();
        for (m, n) in per_layer.iter().zip([300usize, 77]) {
            assert_eq!(m.iter().filter(|v| **v == 0.0).count(), (s * n as f64).floor() as usize, "per layer at {s}");
        }
    }
    for bad in [-0.1, 1.0, f64::NAN] {
        let err = sparse::magnitude_masks(&[&a], bad, Scope::Global).unwrap_err().to_string();
        assert!(err.contains("is not in [0, 1)"), "{err}");
    }
}

#[test]
fn the_cubic_schedule_rises_from_zero_to_the_target() {
    assert_eq!(sparse::cubic(0.9, 3, 6, 2), 0.0);
    assert!((sparse::cubic(0.9, 3, 6, 3) - 0.9 * (1.0 - 0.75f64.powi(3))).abs() < 1e-12);
    assert_eq!(sparse::cubic(0.9, 3, 6, 6), 0.9);
    assert_eq!(sparse::cubic(0.9, 3, 6, 9), 0.9);
    let steps: Vec<f64> = (1..=8).map(|e| sparse::cubic(0.8, 2, 7, e)).collect();
    assert!(steps.windows(2).all(|w| w[0] <= w[1]), "{steps:?}");
}

/// Prune to 80% (global), train ten steps, and return every weight matrix.
fn prune_and_train(b: &mut dyn Backend) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let data = sources::blobs(40, 4, 20, 1.5, 5);
    let mut model = Sequential::new(b, &spec(), 3).unwrap();
    let mut opt = Optimizer::new(b, OptimizerConfig::new(OptimizerKind::Adam).with_lr(0.01)).unwrap();
    let mut trainer = Trainer::new(b, TrainConfig { batch_size: 16, ..TrainConfig::default() }).unwrap();
    let train = DeviceData::upload(b, &data).unwrap();
    trainer.begin(b, &mut model, &mut opt, &train).unwrap();
    let report = sparse::prune(b, &model, &mut opt, 0.8, Scope::Global).unwrap();
    let total: usize = report.iter().map(|l| l.weights).sum();
    assert_eq!(report.iter().map(|l| l.zeros).sum::<usize>(), (0.8 * total as f64).floor() as usize);
    let weights = |b: &mut dyn Backend, m: &Sequential| -> Vec<Vec<f32>> {
        sparse::prune::prunable(m).iter().map(|&i| b.read(m.params()[i].value).unwrap()).collect()
    };
    let before = weights(b, &model);
    b.write_u32(train.order, &(0..data.rows as u32).collect::<Vec<_>>()).unwrap();
    for k in 0..10 {
        trainer.step(b, &mut model, &mut opt, &train, (k * 16) % 144, 16).unwrap();
    }
    b.sync().unwrap();
    (before, weights(b, &model))
}

#[test]
fn pruned_weights_stay_exactly_zero_through_training_on_gpu_and_twin() {
    let mut both = Both::new();
    let mut results = Vec::new();
    for (name, b) in both.named() {
        let (before, after) = prune_and_train(b);
        let (mut changed, mut kept) = (0, 0);
        for (w0, w1) in before.iter().zip(&after) {
            for (x0, x1) in w0.iter().zip(w1) {
                if *x0 == 0.0 {
                    assert_eq!(x1.to_bits(), 0.0f32.to_bits(), "{name}: a pruned weight moved to {x1}");
                } else {
                    kept += 1;
                    changed += (x0 != x1) as usize;
                }
            }
        }
        // ReLU units that never fire on these batches leave some kept weights unchanged.
        assert!(changed > kept / 2, "{name}: the kept weights did not train ({changed} of {kept} changed)");
        results.push((before, after));
    }
    // The same weights are pruned on both paths: the masks come from the same initial weights.
    let zeros = |w: &Vec<Vec<f32>>| -> Vec<Vec<bool>> { w.iter().map(|m| m.iter().map(|v| *v == 0.0).collect()).collect() };
    assert_eq!(zeros(&results[0].0), zeros(&results[1].0));
    assert_eq!(zeros(&results[0].1), zeros(&results[1].1));
}

#[test]
fn masks_survive_a_checkpoint_and_keep_working_after_resume() {
    let mut g = common::gpu();
    let b: &mut dyn Backend = &mut g;
    let data = sources::blobs(40, 4, 20, 1.5, 5);
    let mut model = Sequential::new(b, &spec(), 3).unwrap();
    let mut opt = Optimizer::new(b, OptimizerConfig::new(OptimizerKind::Momentum).with_lr(0.05)).unwrap();
    let mut trainer = Trainer::new(b, TrainConfig { batch_size: 16, epochs: 2, ..TrainConfig::default() }).unwrap();
    let train = DeviceData::upload(b, &data).unwrap();
    trainer.begin(b, &mut model, &mut opt, &train).unwrap();
    sparse::prune(b, &model, &mut opt, 0.9, Scope::PerLayer).unwrap();
    trainer.run_epoch(b, &mut model, &mut opt, &train, None, &mut []).unwrap();
    let dir = std::env::temp_dir().join(format!("wgtrain-sparse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pruned.safetensors");
    checkpoint::save(&path, b, &model, Some(&opt), Some(&trainer)).unwrap();
    let loaded = checkpoint::load(&path).unwrap();
    let mut resumed = loaded.build_model(b).unwrap();
    let mut opt2 = loaded.restore_optimizer(b, &mut resumed).unwrap();
    assert_eq!(opt2.masks().len(), 3, "one mask per weight matrix");
    let mut trainer2 = loaded.restore_trainer(b, &resumed).unwrap();
    trainer2.begin(b, &mut resumed, &mut opt2, &train).unwrap();
    trainer2.run_epoch(b, &mut resumed, &mut opt2, &train, None, &mut []).unwrap();
    for layer in sparse::measure(b, &resumed, 0.0).unwrap() {
        assert_eq!(layer.zeros, (0.9 * layer.weights as f64).floor() as usize, "{}", layer.name);
    }
}

#[test]
fn factorization_at_full_rank_reproduces_the_model_and_counts_parameters() {
    let mut both = Both::new();
    for (name, b) in both.named() {
        let data = sources::blobs(8, 4, 20, 1.5, 9);
        let mut model = Sequential::new(b, &spec(), 4).unwrap();
        let inputs = DeviceData::upload(b, &data).unwrap();
        let mut inference = wgtrain::infer::Inference::new(b, 32).unwrap();
        let want = inference.predict(b, &mut model, &inputs, Mode::Eval, 0).unwrap();
        // Full rank of each hidden layer: min(20, 48) = 20 and min(48, 24) = 24.
        let (mut full, report) = sparse::factorize(b, &model, &[1, 2], Rank::Energy(1.0)).unwrap();
        assert_eq!(report.iter().map(|f| f.rank).collect::<Vec<_>>(), vec![20, 24]);
        let got = inference.predict(b, &mut full, &inputs, Mode::Eval, 0).unwrap();
        // Probabilities after two factorized layers in f32 (factors rounded from f64): the
        // products differ from the original's by a few ulps of each sum of 20–48 terms.
        assert_close(&format!("{name}: full-rank factorization"), &got, &want, 1e-5, 1e-4);
        // At rank r a layer has r·(IN + OUT) + OUT parameters.
        let (low, report) = sparse::factorize(b, &model, &[], Rank::Fixed(8)).unwrap();
        assert_eq!(report.len(), 2, "every Dense layer but the output by default");
        for f in &report {
            assert_eq!(f.params_after, 8 * (f.inputs + f.units) + f.units);
        }
        let expected = (20 * 8 + 8 * 48 + 48) + (48 * 8 + 8 * 24 + 24) + (24 * 4 + 4);
        assert_eq!(low.parameter_count(), expected);
    }
}

#[test]
fn the_truncation_error_is_the_discarded_singular_values_norm() {
    let (rows, cols) = (40, 25);
    let w = common::uniform(7, rows * cols);
    for r in [1, 5, 12, 25] {
        let t = lowrank::truncate(&w, rows, cols, r);
        let mut err2 = 0.0f64;
        for i in 0..rows {
            for j in 0..cols {
                let approx: f64 = (0..r).map(|k| t.a[i * r + k] as f64 * t.b[k * cols + j] as f64).sum();
                err2 += (w[i * cols + j] as f64 - approx).powi(2);
            }
        }
        let discarded: f64 = t.singular_values[r..].iter().map(|s| s * s).sum::<f64>().sqrt();
        // The factors are stored in f32: each product carries ~1e-7 relative error, summed
        // over 1,000 entries of size ~0.5, so the norms agree to ~1e-5 absolute.
        assert!((err2.sqrt() - discarded).abs() < 1e-4, "rank {r}: ‖W − AB‖ = {} but discarded σ norm = {discarded}", err2.sqrt());
        assert!((t.error - discarded).abs() < 1e-12);
    }
    let s = lowrank::singular_values(&w, rows, cols);
    assert!(s.windows(2).all(|p| p[0] >= p[1]));
    for (rank, message) in [(Rank::Fixed(0), "between 1 and min(IN, OUT) = 25"), (Rank::Fixed(26), "between 1 and"), (Rank::Energy(0.0), "is not in (0, 1]"), (Rank::Energy(1.5), "is not in (0, 1]")] {
        let err = lowrank::choose_rank(rank, &s, 1, rows, cols).unwrap_err().to_string();
        assert!(err.contains(message), "{rank:?}: {err}");
    }
    let energy: f64 = s.iter().map(|v| v * v).sum();
    let r95 = lowrank::choose_rank(Rank::Energy(0.95), &s, 1, rows, cols).unwrap();
    let kept: f64 = s[..r95].iter().map(|v| v * v).sum();
    let kept_less: f64 = s[..r95 - 1].iter().map(|v| v * v).sum();
    assert!(kept >= 0.95 * energy * (1.0 - 1e-12) && kept_less < 0.95 * energy, "rank {r95}");
}
