//! `wgtrain prune` and `wgtrain factorize`: the library's `Compression`, printed.

use std::path::PathBuf;

use anyhow::Result;
use wgtrain::run::{Change, Compression, Quiet};
use wgtrain::Backend;

/// What both commands share.
#[derive(clap::Args)]
pub struct CompressArgs {
    /// A checkpoint written by `wgtrain train` (its dataset and preprocessing are used).
    pub checkpoint: PathBuf,
    /// Fine-tune this many epochs afterwards (pruned weights stay zero).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub fine_tune_epochs: usize,
    /// The fine-tuning learning rate (constant) [default: the rate the run ended with].
    #[arg(long, value_name = "LR")]
    pub fine_tune_lr: Option<f32>,
    /// The new run directory [default: beside the checkpoint's, named for what was done].
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

pub fn run(args: CompressArgs, change: Change, b: &mut dyn Backend, json_out: bool) -> Result<()> {
    super::signals::install_immediate("the compression")?;
    let (checkpoint, device) = (args.checkpoint.display().to_string(), b.describe());
    let epochs = args.fine_tune_epochs;
    let job = Compression {
        checkpoint: args.checkpoint,
        change,
        fine_tune_epochs: epochs,
        fine_tune_lr: args.fine_tune_lr,
        output: args.output,
    };
    let c = job.run(b, &mut Quiet)?;
    if json_out {
        outln!("{}", serde_json::to_string_pretty(&c.report)?);
        return Ok(());
    }
    let dataset = c.report["dataset"].as_str().unwrap_or_default();
    outln!("# {checkpoint} on {dataset} (from the checkpoint's run config), {device}");
    outln!("\n{}", c.summary);
    for f in &c.factorized {
        outln!(
            "layer {} ({}→{}): {} → {} parameters at rank {} (keeps {:.1}% of Σσ², ‖W − AB‖_F = {:.4})",
            f.layer,
            f.inputs,
            f.units,
            f.params_before,
            f.params_after,
            f.rank,
            100.0 * f.kept_energy,
            f.error
        );
    }
    outln!("parameters: {} → {}", c.params_before, c.params_after);
    let (before, after, tuned) = c.accuracy;
    let tuned = tuned.map_or(String::new(), |t| format!(", {:.2}% after {epochs} epochs of fine-tuning", 100.0 * t));
    outln!("test accuracy: {:.2}% → {:.2}%{tuned}", 100.0 * before, 100.0 * after);
    outln!(
        "inference: {:.0} → {:.0} samples/s (test set, median of 3 passes)",
        c.samples_per_second.0, c.samples_per_second.1
    );
    outln!("wrote {}/{{model.safetensors, summary.json}}", c.output.display());
    Ok(())
}
