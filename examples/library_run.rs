//! What `wgtrain train --dataset digits --layers 128 --epochs 20 --early-stopping 3` does, as a
//! library call: the same run policies (early stopping, divergence handling, a resume
//! checkpoint per epoch) and the same run directory, written all or nothing.
//!
//! Run: `cargo run --release --example library_run`

use wgtrain::run::{EarlyStoppingSection, Quiet, Run, RunConfig};

fn main() -> wgtrain::Result<()> {
    let mut config =
        RunConfig { dataset: "digits".into(), epochs: 20, output: "runs/library".into(), ..Default::default() };
    config.model.layers = vec![128];
    config.early_stopping = Some(EarlyStoppingSection { patience: 3, ..Default::default() });
    let mut backend = wgtrain::GpuBackend::from_env()?;
    let outcome = Run::new(config).train(&mut backend, &mut Quiet)?;
    println!(
        "test accuracy {:.2}% after {} epochs; wrote {}",
        100.0 * outcome.test.accuracy,
        outcome.history.epochs.len(),
        outcome.output.display()
    );
    Ok(())
}
