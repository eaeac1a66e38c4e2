//! `wgtrain train`: resolve the config, load the data, train, evaluate on the test set, and
//! write the checkpoint, history, curves and the exact config — all or nothing. The last
//! complete epoch is kept beside the output so an interrupted run can be resumed.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Result};
use serde_json::json;

use super::config::{OnDivergence, RunConfig};
use super::dataset;
use super::output::Staging;
use super::plot;
use super::progress::Progress;
use super::resume::{ResumeDir, Signals};
use wgtrain::nn::Sequential;
use wgtrain::optim::Optimizer;
use wgtrain::train::{checkpoint, Callback, DeviceData, Trainer};
use wgtrain::Backend;

/// Keys of the checkpoint metadata the command line reads back.
pub const RUN_CONFIG_KEY: &str = "run_config";
pub const INPUT_TRANSFORM_KEY: &str = "input_transform";

/// Times `--on-divergence reduce-lr` cuts the rates before it gives up.
const MAX_LR_REDUCTIONS: usize = 3;
/// Each cut: a decade (halving rarely rescues a run whose last finite epoch already overshot).
const LR_CUT: f32 = 0.1;

/// A run to continue: the checkpoint and the loop it holds.
pub struct Resume<'a> {
    pub checkpoint: &'a Path,
}

pub fn run(mut cfg: RunConfig, b: &mut dyn Backend, json_out: bool, resume: Option<Resume>) -> Result<()> {
    // Everything that can be checked without data is checked before anything is loaded.
    // Epoch lengths are only known with the data: a nominal 1,000 steps stands in for them.
    let train_config = cfg.train_config()?;
    cfg.model_spec(1, 2)?;
    cfg.optimizer(1_000)?;
    let staging = Staging::new(Path::new(&cfg.output))?;
    let resume_dir = ResumeDir::beside(staging.target());
    if resume.is_none() && resume_dir.checkpoint().exists() {
        bail!(
            "{} holds an interrupted run on this output; continue it with: wgtrain train --resume {} \
             (or remove that directory to start over)",
            resume_dir.dir.display(),
            resume_dir.dir.display()
        );
    }
    let splits = dataset::load(&cfg)?;
    let (train, test) = (&splits.train, &splits.test);
    train_config.check_rows(train.rows)?;
    let classes = train.classes.max(test.classes);
    let spec = cfg.model_spec(train.cols, classes)?;
    let opt_config = cfg.optimizer(train.rows.div_ceil(cfg.batch_size))?;
    // The config printed and saved is the one that ran: defaults that depend on the data or
    // the optimizer are written out.
    cfg.standardize = Some(splits.standardized);
    // Only the settings this optimizer uses are written, so a saved config re-run with another
    // --optimizer takes that optimizer's defaults for the rest (not Adam with β2 = ε = 0).
    use wgtrain::optim::OptimizerKind::*;
    let kind = opt_config.kind;
    let o = &mut cfg.optimizer;
    let uses = |kinds: &[wgtrain::optim::OptimizerKind]| kinds.contains(&kind);
    o.lr = Some(opt_config.lr);
    o.momentum = uses(&[Momentum, Nesterov, Adam, Adamw, Nadam]).then_some(opt_config.momentum);
    o.beta2 = uses(&[Rmsprop, Adam, Adamw, Nadam]).then_some(opt_config.beta2);
    o.eps = uses(&[Adagrad, Rmsprop, Adam, Adamw, Nadam]).then_some(opt_config.eps);
    o.weight_decay = uses(&[Adamw]).then_some(opt_config.weight_decay);
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
    let (mut model, mut opt, mut trainer) = match &resume {
        None => {
            let model = Sequential::new(b, &spec, cfg.seed)?;
            let opt = Optimizer::new(b, opt_config)?;
            (model, opt, Trainer::new(b, train_config)?)
        }
        Some(r) => {
            // The checkpoint's architecture is the truth (a pruned or factorized model differs
            // from the layers its run config names); it must still fit the data.
            let loaded = checkpoint::load(r.checkpoint)?;
            let saved = &loaded.meta.model;
            if saved.inputs != spec.inputs || saved.outputs() < classes {
                bail!(
                    "--resume {}: the model takes {} features to {} classes but the data has {} and {classes}",
                    r.checkpoint.display(),
                    saved.inputs,
                    saved.outputs(),
                    spec.inputs
                );
            }
            let mut model = loaded.build_model(b)?;
            let opt = loaded.restore_optimizer(b, &mut model)?;
            let mut trainer = loaded.restore_trainer(b, &model)?;
            trainer.config.epochs = train_config.epochs;
            if !json_out {
                println!("# resuming after epoch {} of {}", trainer.state.epoch, train_config.epochs);
            }
            (model, opt, trainer)
        }
    };
    if !json_out {
        println!("# model\n{}", super::summary::Summary::of_spec(model.spec()));
    }
    let train_data = DeviceData::upload(b, train)?;
    let val_data = splits.val.as_ref().map(|v| DeviceData::upload(b, v)).transpose()?;
    let test_data = DeviceData::upload(b, test)?;
    let extra = BTreeMap::from([
        (RUN_CONFIG_KEY.to_string(), cfg.to_toml()),
        (INPUT_TRANSFORM_KEY.to_string(), serde_json::to_string(&splits.transform)?),
    ]);
    let mut progress = Progress::new(cfg.epochs);
    let mut signals = Signals::install()?;
    let mut callbacks: Vec<&mut dyn Callback> =
        if json_out { vec![&mut signals] } else { vec![&mut progress, &mut signals] };
    let start = Instant::now();
    trainer.begin(b, &mut model, &mut opt, &train_data)?;
    // The last good state is on disk before the first step, and after every epoch.
    resume_dir.save(b, &model, &opt, &trainer, extra.clone())?;
    let mut reductions = Vec::new();
    // Halvings since the last good checkpoint, which holds the rates from before them.
    let mut retries_from_here = 0;
    let mut diverged_in = None;
    while !trainer.done() {
        if let Some(p) = &cfg.prune {
            let epoch = trainer.state.epoch + 1;
            if let Some(s) = p.target_at(epoch, cfg.epochs).filter(|s| *s > 0.0) {
                let layers = wgtrain::sparse::prune(b, &model, &mut opt, s, p.scope)?;
                if !json_out {
                    let zeros = wgtrain::sparse::prune::total_zero_fraction(&layers);
                    println!("# epoch {epoch} starts pruned to {:.1}% zero weights (target {:.1}%)", 100.0 * zeros, 100.0 * s);
                }
            }
        }
        match trainer.run_epoch(b, &mut model, &mut opt, &train_data, val_data.as_ref(), &mut callbacks) {
            Err(wgtrain::Error::Interrupted { epoch, step, steps }) => bail!(
                "interrupted in epoch {epoch} (step {step} of {steps}); the run up to the end of epoch {} is saved \
                 in {}; continue it with: wgtrain train --resume {}",
                epoch - 1,
                resume_dir.dir.display(),
                resume_dir.dir.display()
            ),
            result => result?,
        };
        if !trainer.state.diverged {
            resume_dir.save(b, &model, &opt, &trainer, extra.clone())?;
            retries_from_here = 0;
            continue;
        }
        // Back to the last good epoch, then carry on with smaller steps or stop there.
        let epoch = trainer.state.epoch;
        let loss = trainer.history.last().map_or(f32::NAN, |r| if r.loss.is_finite() { r.val_loss.unwrap_or(r.loss) } else { r.loss });
        let good = checkpoint::load(&resume_dir.checkpoint())?;
        good.restore_model(b, &mut model)?;
        let diverged = trainer.history.last().cloned();
        opt = good.restore_optimizer(b, &mut model)?;
        trainer = good.restore_trainer(b, &model)?;
        trainer.config.epochs = cfg.epochs;
        if cfg.on_divergence == OnDivergence::ReduceLr && reductions.len() < MAX_LR_REDUCTIONS {
            retries_from_here += 1;
            opt.scale_lr(LR_CUT.powi(retries_from_here));
            trainer.begin(b, &mut model, &mut opt, &train_data)?;
            reductions.push(json!({ "epoch": epoch, "loss": loss, "lr_after": opt.config.lr }));
            if !json_out {
                println!("# epoch {epoch} diverged (loss {loss:.4e}); back to epoch {}, learning rates ÷10", epoch - 1);
            }
            continue;
        }
        // The record of the epoch that diverged stays in the history; the weights, optimizer
        // and loop are those of the epoch before it.
        trainer.history.epochs.extend(diverged);
        (trainer.state.diverged, trainer.state.stopped) = (true, true);
        diverged_in = Some((epoch, loss));
        break;
    }
    let advice = format!(
        "Lower the learning rate (now {}), clip gradients (--clip-norm 1), or pass --on-divergence reduce-lr",
        cfg.optimizer.lr.unwrap_or_default()
    );
    if let Some((epoch, loss)) = diverged_in.filter(|_| trainer.state.epoch == 0) {
        // No epoch of this run ever completed: there is nothing better than the initial
        // weights to keep, so an existing output stays as it is.
        resume_dir.remove();
        bail!("training diverged: the loss became {loss:.4e} in epoch {epoch}, before any epoch completed; nothing was written. {advice}");
    }
    trainer.finish(b)?;
    let wall = start.elapsed().as_secs_f64();
    let test_metrics = trainer.inference.evaluate(b, &mut model, &test_data)?;

    // The trained loop is in the resume directory until the outputs are in place: if writing
    // them fails (a full disk), resuming writes them without training again.
    let h = &trainer.history;
    let epochs = h.epochs.len();
    let throughput = h.throughput();
    let written = (|| -> Result<(std::path::PathBuf, serde_json::Value)> {
        staging.writing("model.safetensors", |path| {
            Ok(checkpoint::save_with(path, b, &model, Some(&opt), Some(&trainer), extra)?)
        })?;
        staging.write("history.csv", h.to_csv())?;
        staging.write("history.json", serde_json::to_string_pretty(h)?)?;
        staging.write("config.toml", cfg.to_toml())?;
        let restore = trainer.config.early_stopping.as_ref().is_some_and(|e| e.restore_best);
        let best = (restore && trainer.state.best_epoch > 0).then_some(trainer.state.best_epoch);
        staging.writing("loss.svg", |_| plot::history(h, staging.dir(), best))?;
        let samples_per_second = throughput.map_or(0.0, |t| t.samples_per_second);
        let summary = json!({
            "device": b.describe(),
            "dataset": cfg.dataset,
            "epochs": epochs,
            "stopped_early": trainer.state.stopped && diverged_in.is_none(),
        "best_epoch": trainer.config.early_stopping.as_ref().map(|_| trainer.state.best_epoch),
            "diverged_in_epoch": diverged_in.map(|(e, _)| e),
            "lr_reductions": reductions,
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
        Ok((staging.commit()?, summary))
    })();
    let (out, summary) = written.map_err(|e| {
        anyhow::anyhow!(
            "{e:#}\n(the trained run is kept in {dir}: once that is fixed, `wgtrain train --resume {dir}` writes \
             the outputs without training again)",
            dir = resume_dir.dir.display()
        )
    })?;
    resume_dir.remove();
    if let Some((epoch, loss)) = diverged_in {
        bail!(
            "training diverged: the loss became {loss:.4e} in epoch {epoch}; the model of epoch {} (the last good \
             one) is in {}. {advice}",
            trainer.state.epoch,
            out.display()
        );
    }
    if json_out {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        if let (Some(es), true) = (&trainer.config.early_stopping, trainer.state.stopped) {
            let s = &trainer.state;
            let restored = if es.restore_best {
                format!("; restored the weights of epoch {} (val_loss {:.4})", s.best_epoch, s.best_val_loss)
            } else {
                String::new()
            };
            println!(
                "\nearly stopping: no better validation loss for {} epochs after epoch {}; stopped after epoch {}{restored}",
                es.patience, s.best_epoch, s.epoch
            );
        }
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
        println!(
            "wrote {}/{{model.safetensors, history.csv, history.json, loss.svg, accuracy.svg, lr.svg, config.toml, metrics.json}}",
            out.display()
        );
    }
    Ok(())
}
