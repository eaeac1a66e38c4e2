//! Train the Fashion-MNIST MLP (784-300-100-10, ELU) on the GPU, evaluate it and save it.
//!
//! Run: `cargo run --release --example fashion_mlp` (the data in data/: scripts/fetch-data.sh).

use std::path::Path;

use wgtrain::data::sources;
use wgtrain::nn::{ModelSpec, Sequential};
use wgtrain::optim::{Optimizer, OptimizerConfig, OptimizerKind};
use wgtrain::train::{checkpoint, DeviceData, TrainConfig, Trainer};
use wgtrain::{Activation, Backend, GpuBackend};

fn main() -> wgtrain::Result<()> {
    let mut b = GpuBackend::from_env()?;
    let dir = Path::new("data/fashion-mnist");
    let (train, test) = (sources::idx_dir("fashion-mnist", dir, true)?, sources::idx_dir("fashion-mnist", dir, false)?);
    let (train, val) = train.split(0.1, 42)?;
    let spec = ModelSpec::builder(784).dense(300, Activation::elu()).dense(100, Activation::elu()).classes(10)?;
    let mut model = Sequential::new(&mut b, &spec, 42)?;
    let mut opt = Optimizer::new(&mut b, OptimizerConfig::new(OptimizerKind::Momentum).with_lr(0.05))?;
    let mut trainer = Trainer::new(&mut b, TrainConfig { epochs: 5, batch_size: 128, ..TrainConfig::default() })?;
    let (train, val, test) =
        (DeviceData::upload(&mut b, &train)?, DeviceData::upload(&mut b, &val)?, DeviceData::upload(&mut b, &test)?);
    trainer.fit(&mut b, &mut model, &mut opt, &train, Some(&val), &mut [])?;
    for r in &trainer.history().epochs {
        println!("epoch {}: loss {:.4}, validation accuracy {:.4}", r.epoch, r.loss, r.val_accuracy.unwrap_or(0.0));
    }
    let m = trainer.inference().evaluate(&mut b, &mut model, &test)?;
    println!("test accuracy {:.2}% on {}", 100.0 * m.accuracy, b.describe());
    checkpoint::save(Path::new("fashion_mlp.safetensors"), &mut b, &model, Some(&opt), Some(&trainer))
}
