//! `wgtrain prune` and `wgtrain factorize`: make a smaller model from a checkpoint, measure
//! accuracy and inference speed before and after (and after fine-tuning), and write it as a new
//! run directory — never over the input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::json;

use super::dataset::{self, InputTransform};
use super::output::Staging;
use super::summary::Summary;
use super::train::{INPUT_TRANSFORM_KEY, RUN_CONFIG_KEY};
use wgtrain::data::Dataset;
use wgtrain::infer::{Inference, Metrics};
use wgtrain::nn::{Mode, Sequential};
use wgtrain::optim::Optimizer;
use wgtrain::sparse::{self, Rank, Scope};
use wgtrain::train::{checkpoint, DeviceData, Trainer};
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

/// The compression to apply.
pub enum Change {
    Prune { sparsity: f64, scope: Scope },
    Factorize { rank: Rank, layers: Vec<usize> },
}

impl Change {
    fn tag(&self) -> String {
        match self {
            Change::Prune { sparsity, .. } => format!("pruned-{sparsity}"),
            Change::Factorize { rank: Rank::Fixed(r), .. } => format!("rank-{r}"),
            Change::Factorize { rank: Rank::Energy(e), .. } => format!("energy-{e}"),
        }
    }

    /// Check the values before anything is loaded.
    fn check(&self) -> Result<()> {
        match *self {
            Change::Prune { sparsity, .. } => sparse::prune::check_sparsity(sparsity)?,
            Change::Factorize { rank: Rank::Fixed(0), .. } => bail!("--rank 0: the rank must be at least 1"),
            Change::Factorize { rank: Rank::Energy(e), .. } if !(e > 0.0 && e <= 1.0) => {
                bail!("--energy {e} is not in (0, 1]: it is the fraction of Σσ² to keep, e.g. 0.95")
            }
            Change::Factorize { .. } => {}
        }
        Ok(())
    }
}

/// Accuracy on `data` and inference samples/s (median of three passes over it).
fn measure(b: &mut dyn Backend, model: &mut Sequential, inference: &mut Inference, data: &DeviceData) -> Result<(Metrics, f64)> {
    let metrics = inference.evaluate(b, model, data)?;
    let mut times: Vec<f64> = (0..3)
        .map(|_| {
            let start = Instant::now();
            inference.predict(b, model, data, Mode::Eval, 0).map(|_| start.elapsed().as_secs_f64())
        })
        .collect::<wgtrain::Result<_>>()?;
    times.sort_by(f64::total_cmp);
    Ok((metrics, data.rows as f64 / times[1]))
}

pub fn run(args: CompressArgs, change: Change, b: &mut dyn Backend, json_out: bool) -> Result<()> {
    change.check()?;
    let loaded = checkpoint::load(&args.checkpoint)?;
    let run_dir = args.checkpoint.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let run_dir = run_dir.canonicalize().with_context(|| format!("cannot read {}", run_dir.display()))?;
    let output = match args.output {
        Some(o) => o,
        None => {
            let name = run_dir.file_name().map_or("run".into(), |n| n.to_string_lossy().into_owned());
            run_dir.with_file_name(format!("{name}-{}", change.tag()))
        }
    };
    if output.canonicalize().ok().as_ref() == Some(&run_dir) {
        bail!("--output {} is the checkpoint's own directory; write the new model elsewhere", output.display());
    }
    let staging = Staging::new(&output)?;
    let cfg = super::eval::run_config(&loaded, None, None)?;
    let transform: InputTransform = match loaded.meta.extra.get(INPUT_TRANSFORM_KEY) {
        Some(t) => serde_json::from_str(t).context("the checkpoint's input transform does not parse")?,
        None => InputTransform::identity(),
    };
    let (train, val, test) = dataset::load_raw(&cfg)
        .with_context(|| format!("dataset {} (named by the checkpoint's run config)", cfg.dataset))?;
    let prepare = |mut d: Dataset| -> Result<Dataset> {
        transform.apply(&mut d)?;
        Ok(d)
    };
    let (train, val, test) = (prepare(train)?, val.map(prepare).transpose()?, prepare(test)?);
    if !json_out {
        println!("# {} on {} (from the checkpoint's run config), {}", args.checkpoint.display(), cfg.dataset, b.describe());
    }
    let mut model = loaded.build_model(b)?;
    let mut inference = Inference::new(b, wgtrain::infer::DEFAULT_BATCH)?;
    let test_data = DeviceData::upload(b, &test)?;
    let (before, speed_before) = measure(b, &mut model, &mut inference, &test_data)?;
    let params_before = model.parameter_count();
    // Fine-tuning continues where training ended: the same rule at the rate the run finished
    // with, held constant (restarting the schedule at its peak undoes what pruning kept).
    let mut opt_config = loaded.meta.optimizer.clone().context("the checkpoint holds no optimizer settings to fine-tune with")?;
    let state = loaded.meta.optimizer_state.unwrap_or_default();
    opt_config.lr = match args.fine_tune_lr {
        Some(lr) => lr,
        None => opt_config.schedule.lr(opt_config.lr, state.step.saturating_sub(1), &state.plateau),
    };
    opt_config.schedule = wgtrain::optim::Schedule::Constant;
    opt_config.validate()?;

    let (mut model, mut opt, factorized) = match &change {
        Change::Prune { sparsity, scope } => {
            let mut opt = Optimizer::new(b, opt_config)?;
            sparse::prune(b, &model, &mut opt, *sparsity, *scope)?;
            (model, opt, Vec::new())
        }
        Change::Factorize { rank, layers } => {
            let (small, report) = sparse::factorize(b, &model, layers, *rank)?;
            (small, Optimizer::new(b, opt_config)?, report)
        }
    };
    let (after, speed_after) = measure(b, &mut model, &mut inference, &test_data)?;
    let mut tuned = None;
    let mut train_config = cfg.train_config()?;
    train_config.epochs = args.fine_tune_epochs;
    train_config.early_stopping = None;
    let mut trainer = Trainer::new(b, train_config)?;
    if args.fine_tune_epochs > 0 {
        let train_data = DeviceData::upload(b, &train)?;
        let val_data = val.as_ref().map(|v| DeviceData::upload(b, v)).transpose()?;
        trainer.fit(b, &mut model, &mut opt, &train_data, val_data.as_ref(), &mut [])?;
        if trainer.state.diverged {
            bail!("fine-tuning diverged; nothing was written (try fewer epochs or a smaller learning rate)");
        }
        tuned = Some(measure(b, &mut model, &mut inference, &test_data)?);
    }
    // The run config travels on, naming the new directory as the run's output, so training the
    // new model further (`train --resume`) writes there and never over the original run.
    let mut run_config = cfg.clone();
    run_config.output = staging.target().display().to_string();
    let extra = BTreeMap::from([
        (RUN_CONFIG_KEY.to_string(), run_config.to_toml()),
        (INPUT_TRANSFORM_KEY.to_string(), serde_json::to_string(&transform)?),
    ]);
    staging.writing("model.safetensors", |path| {
        Ok(checkpoint::save_with(path, b, &model, Some(&opt), Some(&trainer), extra)?)
    })?;
    let saved = checkpoint::load(&staging.path("model.safetensors"))?;
    let summary = Summary::of(&saved);
    let report = json!({
        "checkpoint": args.checkpoint.display().to_string(),
        "change": change.tag(),
        "device": b.describe(),
        "dataset": cfg.dataset,
        "test_samples": test.rows,
        "params_before": params_before,
        "params_after": model.parameter_count(),
        "zero_weights_after": summary.zeros,
        "weights_after": summary.weights,
        "accuracy_before": before.accuracy,
        "accuracy_after": after.accuracy,
        "accuracy_after_fine_tuning": tuned.map(|t| t.0.accuracy),
        "fine_tune_epochs": args.fine_tune_epochs,
        "fine_tune_lr": opt.config.lr,
        "inference_samples_per_second_before": speed_before,
        "inference_samples_per_second_after": tuned.map_or(speed_after, |t| t.1),
        "factorized": factorized,
        "layers": summary.layers,
    });
    staging.write("summary.json", serde_json::to_string_pretty(&report)?)?;
    let out = staging.commit()?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("\n{summary}");
    for f in &factorized {
        println!(
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
    println!("parameters: {params_before} → {}", model.parameter_count());
    let tuned_text = tuned.map_or(String::new(), |t| {
        format!(", {:.2}% after {} epochs of fine-tuning", 100.0 * t.0.accuracy, args.fine_tune_epochs)
    });
    println!("test accuracy: {:.2}% → {:.2}%{tuned_text}", 100.0 * before.accuracy, 100.0 * after.accuracy);
    println!(
        "inference: {speed_before:.0} → {:.0} samples/s (test set, median of 3 passes)",
        tuned.map_or(speed_after, |t| t.1)
    );
    println!("wrote {}/{{model.safetensors, summary.json}}", out.display());
    Ok(())
}
