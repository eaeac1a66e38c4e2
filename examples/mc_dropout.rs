//! Monte Carlo dropout (Gal & Ghahramani 2016): keep dropout on at inference and average many
//! stochastic passes; the spread across passes says how sure the model is.
//!
//! Run: `cargo run --release --example mc_dropout` (the digits in data/: scripts/fetch-data.sh).


use wgtrain::data::{sources, Standardizer};
use wgtrain::infer::Inference;
use wgtrain::nn::{ModelSpec, Sequential};
use wgtrain::optim::{Optimizer, OptimizerConfig, OptimizerKind};
use wgtrain::train::{DeviceData, TrainConfig, Trainer};
use wgtrain::{Activation, GpuBackend};

fn main() -> wgtrain::Result<()> {
    let mut b = GpuBackend::from_env()?;
    let all = sources::digits();
    let (mut train, mut test) = all.split(0.2, 1)?;
    let s = Standardizer::fit(&train);
    s.apply(&mut train);
    s.apply(&mut test);
    let spec = ModelSpec::builder(64).dense(128, Activation::Relu).dropout(0.3).dense(64, Activation::Relu).dropout(0.3).classes(10)?;
    let mut model = Sequential::new(&mut b, &spec, 5)?;
    let mut opt = Optimizer::new(&mut b, OptimizerConfig::new(OptimizerKind::Adam).with_lr(0.003))?;
    let mut trainer = Trainer::new(&mut b, TrainConfig { epochs: 20, batch_size: 32, ..TrainConfig::default() })?;
    let (train, test_data) = (DeviceData::upload(&mut b, &train)?, DeviceData::upload(&mut b, &test)?);
    trainer.fit(&mut b, &mut model, &mut opt, &train, None, &mut [])?;
    let mut inference = Inference::new(&mut b, 256)?;
    let (mean, std) = inference.predict_mc(&mut b, &mut model, &test_data, 100)?;
    let (mut right, mut unsure) = (0, Vec::new());
    for r in 0..test.rows {
        let p = &mean[r * 10..(r + 1) * 10];
        let class = (0..10).fold(0, |best, c| if p[c] > p[best] { c } else { best });
        right += (class == test.labels[r] as usize) as usize;
        unsure.push((std[r * 10 + class], r, class));
    }
    println!("MC dropout (100 passes): accuracy {:.2}%", 100.0 * right as f64 / test.rows as f64);
    unsure.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("least certain predictions (std of the chosen class's probability):");
    for &(sd, r, class) in unsure.iter().take(5) {
        println!("  row {r}: class {class} (p = {:.3} ± {sd:.3}), true class {}", mean[r * 10 + class], test.labels[r]);
    }
    Ok(())
}
