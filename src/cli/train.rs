//! `wgtrain train`: resolve the config, load the data, train, evaluate on the test set, and
//! write the checkpoint, history, curves and the exact config — all or nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Result};
use serde_json::json;

use super::config::RunConfig;
use super::dataset;
use super::output::Staging;
use super::plot;
use super::progress::Progress;
use wgtrain::nn::Sequential;
use wgtrain::optim::Optimizer;
use wgtrain::train::{checkpoint, Callback, DeviceData, Trainer};
use wgtrain::Backend;

/// Keys of the checkpoint metadata the command line reads back.
pub const RUN_CONFIG_KEY: &str = "run_config";
pub const INPUT_TRANSFORM_KEY: &str = "input_transform";

pub fn run(mut cfg: RunConfig, b: &mut dyn Backend, json_out: bool) -> Result<()> {
    // Everything that can be checked without data is checked before anything is loaded.
    // Epoch lengths are only known with the data: a nominal 1,000 steps stands in for them.
    let train_config = cfg.train_config()?;
    cfg.model_spec(1, 2)?;
    cfg.optimizer(1_000)?;
    let splits = dataset::load(&cfg)?;
    let (train, test) = (&splits.train, &splits.test);
    train_config.check_rows(train.rows)?;
    let classes = train.classes.max(test.classes);
    let spec = cfg.model_spec(train.cols, classes)?;
    let opt_config = cfg.optimizer(train.rows.div_ceil(cfg.batch_size))?;
    // The config printed and saved is the one that ran: defaults that depend on the data or
    // the optimizer are written out.
    cfg.standardize = Some(splits.standardized);
    let o = &mut cfg.optimizer;
    (o.lr, o.momentum, o.beta2, o.eps, o.weight_decay) = (
        Some(opt_config.lr),
        Some(opt_config.momentum),
        Some(opt_config.beta2),
        Some(opt_config.eps),
        Some(opt_config.weight_decay),
    );
    let staging = Staging::new(Path::new(&cfg.output))?;
    if !json_out {
        println!("# wgtrain train on {}\n{}", b.describe(), cfg.to_toml());
        println!(
            "# data: {} train, {} validation, {} test samples of {} features, {classes} classes",
            train.rows,
            splits.val.as_ref().map_or(0, |v| v.rows),
            test.rows,
            train.cols
        );
    }

    let mut model = Sequential::new(b, &spec, cfg.seed)?;
    if !json_out {
        println!("# model: {} parameters\n", model.parameter_count());
    }
    let mut opt = Optimizer::new(b, opt_config)?;
    let mut trainer = Trainer::new(b, train_config)?;
    let train_data = DeviceData::upload(b, train)?;
    let val_data = splits.val.as_ref().map(|v| DeviceData::upload(b, v)).transpose()?;
    let test_data = DeviceData::upload(b, test)?;
    let mut progress = Progress::new(cfg.epochs);
    let mut callbacks: Vec<&mut dyn Callback> = if json_out { Vec::new() } else { vec![&mut progress] };
    let start = Instant::now();
    trainer.fit(b, &mut model, &mut opt, &train_data, val_data.as_ref(), &mut callbacks)?;
    let wall = start.elapsed().as_secs_f64();
    if trainer.state.diverged {
        bail!(
            "training diverged: the loss became {} in epoch {}; lower the learning rate (now {}) or clip gradients \
             (--clip-norm 1); nothing was written",
            trainer.history.last().map_or(f32::NAN, |r| r.loss),
            trainer.state.epoch,
            cfg.optimizer.lr.unwrap_or_default()
        );
    }
    let test_metrics = trainer.inference.evaluate(b, &mut model, &test_data)?;

    let extra = BTreeMap::from([
        (RUN_CONFIG_KEY.to_string(), cfg.to_toml()),
        (INPUT_TRANSFORM_KEY.to_string(), serde_json::to_string(&splits.transform)?),
    ]);
    checkpoint::save_with(&staging.path("model.safetensors"), b, &model, Some(&opt), Some(&trainer), extra)?;
    let h = &trainer.history;
    staging.write("history.csv", h.to_csv())?;
    staging.write("history.json", serde_json::to_string_pretty(h)?)?;
    staging.write("config.toml", cfg.to_toml())?;
    plot::history(h, &staging.path("loss.svg"), &staging.path("accuracy.svg"))?;
    let epochs = h.epochs.len();
    let throughput = h.throughput();
    let samples_per_second = throughput.map_or(0.0, |t| t.samples_per_second);
    let summary = json!({
        "device": b.describe(),
        "dataset": cfg.dataset,
        "epochs": epochs,
        "stopped_early": trainer.state.stopped,
        "test_loss": test_metrics.loss,
        "test_accuracy": test_metrics.accuracy,
        "final": h.last(),
        "wall_seconds": wall,
        "samples_per_second": samples_per_second,
        "throughput": throughput,
        "parameters": model.parameter_count(),
        "output": cfg.output,
    });
    staging.write("metrics.json", serde_json::to_string_pretty(&summary)?)?;
    let out = staging.commit()?;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "\ntest: loss {:.4} accuracy {:.2}% · {epochs} epochs in {wall:.1}s",
            test_metrics.loss,
            100.0 * test_metrics.accuracy
        );
        if let Some(t) = throughput {
            let after = t.after_first_epoch_samples_per_second.map_or(String::new(), |r| format!(", {r:.0} after it"));
            println!(
                "training: {:.0} samples/s ({} samples in {:.1}s; first epoch {:.0} samples/s{after})",
                t.samples_per_second, t.samples, t.seconds, t.first_epoch_samples_per_second
            );
        }
        println!("wrote {}/{{model.safetensors, history.csv, history.json, loss.svg, accuracy.svg, config.toml, metrics.json}}", out.display());
    }
    Ok(())
}
