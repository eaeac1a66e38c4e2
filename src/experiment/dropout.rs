//! Question 7: what dropout costs in training and in inference, and what MC dropout costs.

use crate::error::Result;
use serde_json::json;
use crate::data::DeviceData;
use crate::experiment::{answer, measure};
use crate::nn::{Mode, ModelSpec};
use crate::optim::{OptimizerConfig, OptimizerKind};
use crate::backend::Activation;
use crate::train::checkpoint;

use super::activations::per_seed;
use std::path::{Path, PathBuf};

use crate::backend::Backend;

use super::lab::{self, Data, Run, Variant};
use super::figure::{self, Bands};
use super::report::{bars, cell, Report, Table, OVER_SEEDS};
use super::stats::Unit;
use super::Ctx;

const MC_PASSES: [u32; 3] = [10, 30, 100];
/// Test rows the MC dropout timings run over.
const MC_ROWS: usize = 1000;

pub fn run(ctx: &mut Ctx) -> Result<Report> {
    let data = ctx.fashion_mnist(false)?;
    let mut report = Report::new(
        "dropout-cost",
        "Does dropout slow down training? Does it slow down inference (i.e., making predictions on new instances)? What about MC dropout?",
        "Training: yes, it usually needs more epochs to converge (and each step is a little dearer). Inference: no, \
         dropout is off at inference. MC dropout: one full forward pass per sample drawn.",
    );
    report.setup = ctx.setup(&data)?;
    report.setup.push("model: 784-300-100-10 ReLU, He init, momentum 0.9, lr 0.02; dropout 0.2 after each hidden layer; target: 98% of the best validation accuracy the net without dropout reached (mean over seeds), so it is reachable and near convergence".into());
    report.setup.push(format!("times: median epoch time after the first ÷ steps; inference: batches of 1024 after a warm-up, each timing at least 0.25 s, the setups compared timed in alternation (5 rounds with and without dropout layers, 3 for MC dropout), medians; MC dropout over the first {MC_ROWS} test rows"));
    let opt = OptimizerConfig::new(OptimizerKind::Momentum).with_lr(0.02);
    let mut table = Table::new("Training with and without dropout", &["model", "ms / step", "epochs to target (per seed)", "test accuracy", "inference µs / sample"]);
    let names = ["no dropout", "dropout 0.2"];
    let mut variants = Vec::new();
    for (name, rate) in names.into_iter().zip([0.0, 0.2]) {
        let spec = ModelSpec::builder(784).dense(300, Activation::Relu).dropout(rate).dense(100, Activation::Relu).dropout(rate).classes(10)?;
        variants.push(Variant::new(name, spec, opt.clone(), ctx.scale.epochs));
    }
    let seeds = ctx.seeds();
    let runs = ctx.train_all(&data, &variants, &seeds)?;
    let named: Vec<(String, &[Run])> = names.iter().zip(&runs).map(|(n, r)| (n.to_string(), &r[..])).collect();
    let val = figure::groups(&named, Run::val_accuracy);
    let loss = figure::groups(&named, Run::train_loss);
    if !ctx.pool.leader() {
        // The inference timings below are the leader's alone: one adapter, in alternation.
        data.free(ctx.b)?;
        return Ok(report);
    }
    let dirs: Vec<_> = runs.iter().map(|r| r[0].dir.clone()).collect();
    let detail = format!("{variants:?} | {} | mc {MC_PASSES:?} over {MC_ROWS} rows", data.key());
    let timed: Timings = ctx.once("inference timings", &detail, |b, out| timings(b, out, &dirs, &data))?;
    let inference = timed.inference;
    let best = |o: &Run| o.val_accuracy().into_iter().fold(0.0f32, f32::max) as f64;
    let target = (0.98 * measure::mean_std(&runs[0].iter().map(best).collect::<Vec<_>>()).0) as f32;
    for ((name, outs), infer) in names.iter().zip(&runs).zip(&inference) {
        let step_ms: Vec<f64> = outs.iter().map(|o| 1e3 * o.seconds_per_step).collect();
        let acc: Vec<f64> = outs.iter().map(|o| o.test.accuracy as f64).collect();
        table.row(vec![name.to_string(), cell(&step_ms, Unit::Decimals(2)), per_seed(outs, target), cell(&acc, Unit::Percent), format!("{:.2}", 1e6 * infer)]);
    }
    table.title = format!("Training with and without dropout ({OVER_SEEDS}; target {:.1}% validation accuracy)", 100.0 * target);
    // The step cost: both nets' training steps timed in alternation (the leader's alone).
    let detail = format!("{TIMED_STEPS} steps × {TIMED_ROUNDS} rounds | {variants:?} | {}", data.key());
    let refs: Vec<&Variant> = variants.iter().collect();
    let step = ctx.once("step timings", &detail, |b, _| lab::alternated_steps(b, &data, &refs, TIMED_STEPS, TIMED_ROUNDS))?;
    report.setup.push(format!("step cost: {TIMED_STEPS} training steps of each net timed in alternation, {TIMED_ROUNDS} rounds (one sample per round); the ms / step column is each run's own, taken in sequence"));
    let epochs: Vec<Vec<Option<f64>>> = runs
        .iter()
        .map(|r| r.iter().map(|o| measure::epochs_to_target(&o.val_accuracy(), target).map(|e| e as f64)).collect())
        .collect();
    report.tables.push(table);
    let times = timed.mc;
    let plain = times[0];
    let mut mc = Table::new("MC dropout on the dropout model", &["passes", "µs / sample", "× one plain pass", "per pass"]);
    mc.row(vec!["1 (plain, eval mode)".into(), format!("{:.2}", 1e6 * plain), "1.00×".into(), "1.00×".into()]);
    let mut mc_results = Vec::new();
    let mut per_pass = Vec::new();
    let mut mc_bars = vec![("plain".to_string(), 1e6 * plain, 0.0)];
    for (&n, &t) in MC_PASSES.iter().zip(&times[1..]) {
        mc.row(vec![n.to_string(), format!("{:.2}", 1e6 * t), format!("{:.1}×", t / plain), format!("{:.2}×", t / plain / n as f64)]);
        per_pass.push(t / plain / n as f64);
        mc_bars.push((format!("MC {n}"), 1e6 * t, 0.0));
        mc_results.push(json!({ "passes": n, "seconds_per_sample": t }));
    }
    report.tables.push(mc);
    let cost = answer::DropoutCost {
        step_without: step[0].clone(),
        step_with: step[1].clone(),
        epochs_without: epochs[0].clone(),
        epochs_with: epochs[1].clone(),
        epochs: ctx.scale.epochs,
        inference_ratio: inference[1] / inference[0],
        mc_pass_ratio: measure::median(&per_pass),
    };
    report.answer = answer::dropout_cost(&cost);
    let fig = Bands { title: "validation accuracy with and without dropout", x_desc: "epoch", y_desc: "fraction classified correctly", groups: val, log_y: false, note: None };
    figure::draw(&ctx.out, "val_accuracy.svg", &fig)?;
    // With dropout the training loss is taken with units dropped: higher by construction.
    let note = "with dropout the loss is the dropped-out net's";
    let fig = Bands { title: "training loss with and without dropout (mean over each epoch's steps)", x_desc: "epoch", y_desc: "cross-entropy (log scale)", groups: loss, log_y: true, note: Some(note) };
    figure::draw(&ctx.out, "train_loss.svg", &fig)?;
    bars(&ctx.out, "mc_cost.svg", "inference cost of MC dropout", "µs per sample", &mc_bars)?;
    report.plots = vec![
        ("val_accuracy.svg".into(), "validation accuracy per epoch".into()),
        ("train_loss.svg".into(), "training loss per epoch".into()),
        ("mc_cost.svg".into(), "time per sample by number of MC passes".into()),
    ];
    let per_run: Vec<_> = runs.iter().flatten().map(|o| json!({ "variant": o.name, "seed": o.seed, "seconds_per_step": o.seconds_per_step, "test_accuracy": o.test.accuracy, "val_accuracy": o.val_accuracy() })).collect();
    report.limits = vec![
        "Epochs to target depend on the target chosen (98% of the best validation accuracy the net without dropout reached); a higher one can change the count.".into(),
        "Inference timings are one adapter's, in alternation; the training step times are medians of epochs taken in sequence.".into(),
    ];
    report.results = json!({ "target": target, "runs": per_run, "inference_seconds_per_sample": inference, "mc": mc_results, "plain_seconds_per_sample_on_slice": plain });
    data.free(ctx.b)?;
    Ok(report)
}

/// Seconds per sample, each the median of timings taken in alternation.
#[derive(serde::Serialize, serde::Deserialize)]
struct Timings {
    /// Inference in evaluation mode without and with the dropout layers (the first seed's models).
    inference: Vec<f64>,
    /// On the first `MC_ROWS` test rows, the dropout model: one plain pass, then MC dropout
    /// with each of `MC_PASSES`.
    mc: Vec<f64>,
}

/// Time the first seed's trained models (run directories `dirs` under `out`), in alternation.
/// Training steps per timing of the alternated step cost, and its rounds (samples).
const TIMED_STEPS: usize = 20;
const TIMED_ROUNDS: usize = 7;

fn timings(b: &mut dyn Backend, out: &Path, dirs: &[PathBuf], data: &Data) -> Result<Timings> {
    let mut models = Vec::new();
    for dir in dirs {
        models.push(checkpoint::load(&out.join(dir).join("model.safetensors"))?.build_model(b)?);
    }
    let inference = {
        let (without, with) = models.split_at_mut(1);
        let (m0, m1) = (&mut without[0], &mut with[0]);
        lab::alternate(5, 2, |i| {
            let model = if i == 0 { &mut *m0 } else { &mut *m1 };
            lab::timed_inference(b, model, &data.test, Mode::Eval, 1)
        })?
    };
    // MC dropout on the dropout model, over a slice of the test set: a plain pass and MC
    // dropout of each size, in alternation.
    let slice = data.host[2].select(&(0..MC_ROWS.min(data.host[2].rows)).collect::<Vec<_>>());
    let small = DeviceData::upload(b, &slice)?;
    let model = &mut models[1];
    let setups = [(Mode::Eval, 1)].into_iter().chain(MC_PASSES.iter().map(|&n| (Mode::McDropout, n))).collect::<Vec<_>>();
    let mc = lab::alternate(3, setups.len(), |i| lab::timed_inference(b, model, &small, setups[i].0, setups[i].1))?;
    small.free(b)?;
    Ok(Timings { inference, mc })
}
