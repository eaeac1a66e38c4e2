//! `wgtrain lr-find`: the learning-rate range test on the model, data and update rule that
//! `train` would use with the same flags.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use wgtrain::Backend;

use super::train_args::TrainArgs;

#[derive(Args)]
pub struct LrFindArgs {
    #[command(flatten)]
    pub train: TrainArgs,
    /// The first rate of the sweep.
    #[arg(long, default_value_t = 1e-7)]
    pub start_lr: f32,
    /// The last rate of the sweep (it stops early once the loss passes 4× its minimum).
    #[arg(long, default_value_t = 10.0)]
    pub end_lr: f32,
    /// Steps, one rate each [default: one epoch of the training split].
    #[arg(long)]
    pub steps: Option<usize>,
}

/// Run the test for the resolved `config` and write its curve into the output directory
/// (`runs/lr-find` unless `--output` was given).
pub fn run(args: LrFindArgs, given: &[String], matches: &clap::ArgMatches, b: &mut dyn Backend, json: bool) -> Result<()> {
    if given.iter().any(|g| g == "resume") {
        bail!("lr-find starts from a run's initial weights; it does not take --resume");
    }
    let (start, end, steps) = (args.start_lr, args.end_lr, args.steps);
    let mut config = args.train.resolve(given, matches)?;
    if !given.iter().any(|g| g == "output") {
        config.output = "runs/lr-find".into();
    }
    let curve = wgtrain::run::lr_find::run(&config, b, start, end, steps, &mut super::data::reporter())?;
    let dir = PathBuf::from(&config.output);
    wgtrain::run::lr_find::write(&curve, &dir)?;
    if json {
        let summary = serde_json::json!({
            "suggested_lr": curve.suggestion(), "steepest": curve.steepest, "min_over_ten": curve.min_over_ten,
            "steps": curve.rates.len(), "stopped": curve.stopped, "output": dir,
        });
        outln!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    match curve.suggestion() {
        Some(lr) => outln!("suggested learning rate: {lr:.2e} (where the smoothed loss falls fastest)"),
        None => outln!("no suggestion: the loss never fell over the sweep; try a wider range (--start-lr, --end-lr)"),
    }
    if let Some(m) = curve.min_over_ten {
        outln!("the loss's minimum ÷ 10: {m:.2e} (a common choice for 1cycle's peak rate)");
    }
    if let Some(why) = &curve.stopped {
        outln!("stopped after {} of {} steps: {why}", curve.rates.len(), curve.range.steps);
    }
    outln!("wrote {}", dir.join("lr_find.svg").display());
    Ok(())
}
