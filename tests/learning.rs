//! Learning on real data, on the GPU path: the figures the training engine is held to.
//! Needs the datasets: run scripts/fetch-data.sh (CI does).

mod common;

use std::path::Path;
use std::time::Instant;

use common::gpu;
use wgtrain::data::{sources, Dataset, Standardizer};
use wgtrain::nn::{ModelSpec, Precision, Sequential};
use wgtrain::optim::{Optimizer, OptimizerConfig, OptimizerKind};
use wgtrain::train::{DeviceData, TrainConfig, Trainer};
use wgtrain::{Activation, Backend};

fn data_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/data"))
}

fn require<T>(r: wgtrain::Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}\n(the learning tests need the datasets: run scripts/fetch-data.sh)"))
}

/// Train `spec` in `precision` on `train` (10% held out for validation) and return test
/// accuracy and the mean epoch time.
fn train_and_test(
    precision: Precision,
    spec: &ModelSpec,
    train: &Dataset,
    test: &Dataset,
    opt: OptimizerConfig,
    config: TrainConfig,
) -> (f32, f64) {
    let mut g = gpu();
    let b: &mut dyn Backend = &mut g;
    let (train, val) = train.split(0.1, 99).unwrap();
    let mut model = Sequential::with_precision(b, spec, 1, precision).unwrap();
    let mut opt = Optimizer::new(b, opt).unwrap();
    let (dt, dv, dte) = (
        DeviceData::upload(b, &train).unwrap(),
        DeviceData::upload(b, &val).unwrap(),
        DeviceData::upload(b, test).unwrap(),
    );
    let mut trainer = Trainer::new(b, config).unwrap();
    trainer.fit(b, &mut model, &mut opt, &dt, Some(&dv), &mut []).unwrap();
    for r in &trainer.history().epochs {
        eprintln!(
            "epoch {:2}: loss {:.4} acc {:.4} val_loss {:.4} val_acc {:.4} {:.2}s ({:.0} samples/s)",
            r.epoch,
            r.loss,
            r.accuracy,
            r.val_loss.unwrap(),
            r.val_accuracy.unwrap(),
            r.seconds,
            r.samples_per_second
        );
    }
    let epochs = &trainer.history().epochs;
    let mean_epoch = epochs.iter().map(|r| r.seconds).sum::<f64>() / epochs.len() as f64;
    (trainer.inference().evaluate(b, &mut model, &dte).unwrap().accuracy, mean_epoch)
}

#[test]
fn digits_mlp_64_128_10_reaches_95_percent_test_accuracy() {
    let all = sources::digits();
    let (mut train, mut test) = all.split(0.2, 7).unwrap();
    let standardize = Standardizer::fit(&train);
    standardize.apply(&mut train);
    standardize.apply(&mut test);
    let spec = ModelSpec::mlp(64, &[128], 10, Activation::Relu);
    let opt = OptimizerConfig::new(OptimizerKind::Momentum).with_lr(0.05);
    let (accuracy, epoch) =
        train_and_test(Precision::F32, &spec, &train, &test, opt, TrainConfig { epochs: 20, batch_size: 32, ..TrainConfig::default() });
    eprintln!(
        "digits 64-128-10: test accuracy {:.2}% ({} test samples), {epoch:.3}s per epoch",
        100.0 * accuracy,
        test.rows
    );
    assert!(accuracy >= 0.95, "digits test accuracy {accuracy}");
}

#[test]
fn fashion_mnist_mlp_784_300_100_10_reaches_82_percent_in_one_epoch_in_f32_and_f16_alike() {
    // The library's loop on the real data, kept short: one epoch of this configuration gave
    // 84.1% test accuracy (seed 1, lavapipe), so 82% leaves 2 points for seeds and splits,
    // while a net that does not learn (10%) or learns markedly worse fails. The full claim
    // (87% within 10 epochs) is the default run's, checked through the command line in
    // tests/cli.rs; more epochs here cost a cold CI a minute each on a 2-core machine.
    let dir = data_dir().join("fashion-mnist");
    let train = require(sources::idx_dir("fashion-mnist", &dir, true));
    let test = require(sources::idx_dir("fashion-mnist", &dir, false));
    // ELU (the default run's net), He-normal init, momentum 0.9; pixels scaled to [0, 1] on
    // the device. Mixed precision (f16 weight copies and hidden activations, f32 accumulation
    // and master weights) from the same weights and batches is held within 0.3 points of f32
    // on the test set (both gave 84.12%).
    let spec = ModelSpec::mlp(784, &[300, 100], 10, Activation::elu());
    let opt = OptimizerConfig::new(OptimizerKind::Momentum).with_lr(0.05);
    let mut accuracy = Vec::new();
    for precision in [Precision::F32, Precision::F16] {
        let start = Instant::now();
        let config = TrainConfig { epochs: 1, batch_size: 128, ..TrainConfig::default() };
        let (acc, epoch) = train_and_test(precision, &spec, &train, &test, opt.clone(), config);
        eprintln!(
            "fashion-mnist 784-300-100-10 in {precision}: test accuracy {:.2}%, {epoch:.2}s per epoch, {:.0}s in all",
            100.0 * acc,
            start.elapsed().as_secs_f64()
        );
        accuracy.push(acc);
    }
    assert!(accuracy[0] >= 0.82, "fashion-mnist test accuracy {}", accuracy[0]);
    let gap = 100.0 * (accuracy[1] - accuracy[0]).abs();
    assert!(gap <= 0.3, "f16 {} against f32 {}: {gap:.2} points apart", accuracy[1], accuracy[0]);
}
