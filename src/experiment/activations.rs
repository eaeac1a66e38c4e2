//! Questions 3 and 4: ELU against ReLU in a deep net, and every activation side by side
//! (with logistic against softmax outputs).

use crate::error::Result;
use serde_json::json;
use crate::experiment::{answer, measure};
use crate::nn::{Initializer, Mode, ModelSpec};
use crate::optim::{OptimizerConfig, OptimizerKind};
use crate::backend::{Activation, Backend, Loss};

use super::lab::{self, Data, Outcome, Run, Variant};
use super::smoothness;
use super::figure::{self, Bands, Group};
use super::report::{cell, Report, Table, OVER_SEEDS};
use super::stats::Unit;
use super::Ctx;

/// The steps over which smoothness is measured: the start of training, where the gradient
/// changes most.
const SMOOTH_STEPS: usize = 200;
/// Training steps per timing of the alternated cost measurement, and its rounds (samples).
const TIMED_STEPS: usize = 20;
const TIMED_ROUNDS: usize = 7;

/// The validation accuracy counted as "converged" for epochs-to-target.
/// Quick runs (5 epochs on 10,000 rows) of a 20-layer net hover around 75–80%.
pub fn target(quick: bool) -> f32 {
    if quick { 0.75 } else { 0.85 }
}

/// Mean epochs to `target` over runs; None when any run never got there.
pub fn epochs_to(runs: &[Run], target: f32) -> Option<f64> {
    let e: Option<Vec<f64>> = runs.iter().map(|o| measure::epochs_to_target(&o.val_accuracy(), target).map(|e| e as f64)).collect();
    e.map(|e| measure::mean_std(&e).0)
}

/// Epochs to `target` of each seed's run ("3, never"): the table shows them all, since the
/// mean (`epochs_to`) counts a variant as reaching the target only when every seed does.
pub fn per_seed(runs: &[Run], target: f32) -> String {
    let each: Vec<String> = runs
        .iter()
        .map(|o| measure::epochs_to_target(&o.val_accuracy(), target).map_or("never".into(), |e| e.to_string()))
        .collect();
    each.join(", ")
}

pub fn elu_vs_relu(ctx: &mut Ctx) -> Result<Report> {
    let data = ctx.fashion_mnist(false)?;
    let mut report = Report::new(
        "elu-vs-relu",
        "What are three advantages of the ELU activation function over ReLU?",
        "Non-zero gradient for z < 0 (no dying units); mean activation closer to 0; smooth everywhere (α = 1), which \
         helps gradient descent. Cost: slower to compute.",
    );
    report.setup = ctx.setup(&data)?;
    let target = target(ctx.scale.quick);
    report.setup.push(format!(
        "model: 784, 20 hidden layers of 100, 10; He init; Nadam lr 0.001; target {:.0}% validation accuracy",
        100.0 * target
    ));
    report.setup.push("epochs to target: per seed; in the answer a net reaches it only when every seed does".into());
    report.setup.push("probes on 512 validation samples before training and after each epoch; dead unit: the same output (within 1e-6) on all of them".into());
    let opt = OptimizerConfig::new(OptimizerKind::Nadam).with_lr(0.001);
    let mut table = Table::new(&format!("ELU against ReLU ({OVER_SEEDS})"), &["activation", "dead units (start)", "dead units (end)", "mean activation (end)", "epochs to target (per seed)", "s / epoch", "test accuracy"]);
    let mut summary = Vec::new();
    let mut dead_curves = Vec::new();
    let mut mean_curves = Vec::new();
    let mut layer_curves = Vec::new();
    let mut results = Vec::new();
    let pair = [("ReLU", Activation::Relu), ("ELU", Activation::elu())];
    let mut variants = Vec::new();
    for (name, act) in pair {
        let spec = ModelSpec::builder(784).repeat(20, |b| b.dense(100, act)).classes(10)?;
        let mut v = Variant::new(name, spec, opt.clone(), ctx.scale.epochs);
        v.probe = true;
        variants.push(v);
    }
    let seeds = ctx.seeds();
    let all = ctx.train_all(&data, &variants, &seeds)?;
    // Smoothness: the first steps of each (activation, seed) again, reading the gradient norm
    // and the loss after every step (kept apart from the timed runs, which read nothing).
    let steps = SMOOTH_STEPS.min(data.train.rows / 128);
    report.setup.push(format!("smoothness: the first {steps} steps of each net and seed again, the global gradient norm and the mini-batch loss read after every step: the gradient norm's mean |Δ ln| between consecutive steps, the loss's mean |Δ² ln| (its roughness about its trend); the same batches for both nets"));
    let units: Vec<(usize, u64)> = (0..variants.len()).flat_map(|v| seeds.iter().map(move |&s| (v, s))).collect();
    let name = |&(v, seed): &(usize, u64)| (format!("{} smoothness seed {seed}", variants[v].name), format!("smoothness {steps} | {:?} | {} | seed {seed}", variants[v], data.key()));
    let smooth = ctx.map(&units, name, |b, &(v, seed), _| smoothness::trace(b, &data, &variants[v], seed, steps))?;
    let mut table_smooth = Table::new(&format!("Step-to-step change over the first {steps} steps ({OVER_SEEDS})"), &["activation", "gradient norm: mean |Δ ln ‖g‖|", "loss roughness: mean |Δ² ln L|"]);
    let mut norm_curves = Vec::new();
    for ((name, _), traces) in pair.iter().zip(smooth.chunks(seeds.len())) {
        let grad: Vec<f64> = traces.iter().map(|t| t.gradient_change).collect();
        let loss: Vec<f64> = traces.iter().map(|t| t.loss_change).collect();
        table_smooth.row(vec![name.to_string(), cell(&grad, Unit::Decimals(3)), cell(&loss, Unit::Decimals(3))]);
        norm_curves.push(Group::new(*name, traces.iter().map(|t| t.gradient_norms.clone()).collect()));
    }
    // The cost: training steps of both nets timed in alternation (the leader's, on one adapter).
    let timed_steps = step_timings(ctx, &data, &variants)?;
    report.setup.push(format!("cost: {TIMED_STEPS} training steps of each net timed in alternation, {TIMED_ROUNDS} rounds (one sample per round); the s / epoch column is each run's own, taken in sequence"));
    for (((name, _), runs), step_seconds) in pair.into_iter().zip(all).zip(timed_steps) {
        let each = |f: &dyn Fn(&Run) -> f64| runs.iter().map(f).collect::<Vec<_>>();
        let dead = each(&|o| o.probes.last().unwrap().dead_mean());
        let dead_start = each(&|o| o.probes[0].dead_mean());
        let mean_act = each(&|o| o.probes.last().unwrap().activation_mean());
        let secs = each(&|o| o.seconds_per_epoch);
        let acc = each(&|o| o.test.accuracy as f64);
        let e: Vec<Option<f64>> =
            runs.iter().map(|o| measure::epochs_to_target(&o.val_accuracy(), target).map(|e| e as f64)).collect();
        table.row(vec![
            name.into(),
            cell(&dead_start, Unit::Percent),
            cell(&dead, Unit::Percent),
            cell(&mean_act, Unit::Decimals(3)),
            per_seed(&runs, target),
            cell(&secs, Unit::Decimals(2)),
            cell(&acc, Unit::Percent),
        ]);
        let traces = &smooth[summary.len() * seeds.len()..(summary.len() + 1) * seeds.len()];
        summary.push(answer::DeepActivation {
            dead,
            dead_start,
            mean_activation: mean_act,
            epochs_to_target: e,
            seconds_per_epoch: secs,
            step_seconds,
            accuracy: acc,
            gradient_change: traces.iter().map(|t| t.gradient_change).collect(),
            loss_change: traces.iter().map(|t| t.loss_change).collect(),
            smooth_steps: steps,
        });
        let each = |f: &dyn Fn(&Run) -> Vec<f32>| runs.iter().map(f).collect::<Vec<_>>();
        dead_curves.push(Group::new(name, each(&|o| o.probes.iter().map(|p| p.dead_mean() as f32).collect())));
        mean_curves.push(Group::new(name, each(&|o| o.probes.iter().map(|p| p.activation_mean() as f32).collect())));
        layer_curves.push(Group::new(name, each(&|o| o.probes.last().unwrap().dead.iter().map(|&d| d as f32).collect())));
        for o in &runs {
            results.push(json!({ "activation": name, "seed": o.seed, "test_accuracy": o.test.accuracy, "seconds_per_epoch": o.seconds_per_epoch, "probes": o.probes, "val_accuracy": o.val_accuracy() }));
        }
    }
    report.answer = answer::elu_vs_relu(&summary[0], &summary[1], target as f64, ctx.scale.epochs);
    report.tables.push(table);
    report.tables.push(table_smooth);
    let probe = "probe (1 = initial, k+1 = after epoch k)";
    let figures = [
        ("dead_units.svg", "dead units over training", probe, "fraction of hidden units dead", dead_curves),
        ("mean_activation.svg", "mean activation over training", probe, "mean output of the hidden units", mean_curves),
        ("dead_per_layer.svg", "dead units per hidden layer at the end", "hidden layer", "fraction of the layer's units dead", layer_curves),
        ("gradient_norm.svg", "global gradient norm over the first steps", "step", "‖g‖ (log scale)", norm_curves),
    ];
    for (file, title, x_desc, y_desc, groups) in figures {
        let log_y = file == "gradient_norm.svg";
        figure::draw(&ctx.out, file, &Bands { title, x_desc, y_desc, groups, log_y, note: None })?;
    }
    report.plots = vec![
        ("dead_units.svg".into(), "dead units over training".into()),
        ("mean_activation.svg".into(), "mean activation over training".into()),
        ("dead_per_layer.svg".into(), "dead units per layer".into()),
        ("gradient_norm.svg".into(), "gradient norm over the first steps (smoothness)".into()),
    ];
    report.limits = vec![
        "Dead units are counted on 512 validation samples: a unit alive only on rarer inputs counts as dead.".into(),
        format!("Smoothness is measured by its proxy (step-to-step change of the gradient norm and of the loss) over the first {steps} steps only, at one learning rate; it does not measure whether the smoothness speeds convergence later on."),
        format!("The cost compares {TIMED_STEPS} steps of each net in {TIMED_ROUNDS} alternated rounds of one process: it says what an activation costs inside a whole training step on this adapter, where the matmuls dominate and dilute the activation's own cost, not what the activation kernel alone costs."),
        "One learning rate (Nadam 0.001): ReLU units die mostly at high rates, which are not tried.".into(),
    ];
    report.results = json!({ "target": target, "runs": results });
    data.free(ctx.b)?;
    Ok(report)
}

/// The textbook's initializer for each activation: LeCun for SELU, Glorot for the saturating
/// ones, He for the ReLU family.
fn init_for(act: Activation) -> Initializer {
    match act {
        Activation::Selu => Initializer::LECUN_NORMAL,
        Activation::Tanh | Activation::Sigmoid | Activation::Identity => Initializer::GLOROT_NORMAL,
        _ => Initializer::HE_NORMAL,
    }
}

pub fn all(ctx: &mut Ctx) -> Result<Report> {
    let plain = ctx.fashion_mnist(false)?;
    let standardized = ctx.fashion_mnist(true)?;
    let mut report = Report::new(
        "activations",
        "When would you use ELU, leaky ReLU (and its variants), ReLU, tanh, logistic and softmax?",
        "ReLU is the fast default; leaky/PReLU/RReLU against dying units; ELU/SELU for deep nets; tanh for zero-centred \
         outputs; logistic for binary or multilabel outputs; softmax for mutually exclusive classes.",
    );
    report.setup = ctx.setup(&plain)?;
    let target = target(ctx.scale.quick);
    report.setup.push(format!("hidden activations: 784, 5 hidden layers of 100, 10; Nadam lr 0.001; He init (LeCun for SELU with standardized inputs, Glorot for tanh, logistic and identity); target {:.0}% validation accuracy", 100.0 * target));
    report.setup.push("outputs: 784-100-100 ReLU, then softmax (2 or 10 outputs) or logistic (1 output, or 10 one-vs-rest); binary task: Sandal vs Sneaker; accuracy from the argmax (or p > 0.5)".into());
    let opt = OptimizerConfig::new(OptimizerKind::Nadam).with_lr(0.001);
    let mut table = Table::new(&format!("Every activation in the hidden layers ({OVER_SEEDS}; ms / step over {TIMED_ROUNDS} alternated rounds)"), &["activation", "test accuracy", "epochs to target (per seed)", "ms / step", "s / epoch"]);
    let mut results = Vec::new();
    let mut val_curves = Vec::new();
    let mut loss_curves = Vec::new();
    let mut rows: Vec<(String, Vec<f64>, Option<f64>, Vec<f64>)> = Vec::new();
    let hidden: Vec<Activation> = Activation::ALL.into_iter().filter(|a| *a != Activation::Identity && *a != Activation::GeluTanh).collect();
    let mut variants = Vec::new();
    for &act in &hidden {
        let spec = ModelSpec::builder(784).init(init_for(act)).repeat(5, |b| b.dense(100, act)).classes(10)?;
        variants.push(Variant::new(act.name(), spec, opt.clone(), ctx.scale.epochs));
    }
    let with_data = hidden.iter().zip(&variants).map(|(&act, v)| (if act == Activation::Selu { &standardized } else { &plain }, v)).collect();
    let seeds = ctx.seeds();
    let all = ctx.train_each(with_data, &seeds)?;
    // The cost: every net's training steps timed in alternation (the leader's, on one adapter;
    // SELU's on the plain inputs, which its step costs the same on).
    let timed_steps = step_timings(ctx, &plain, &variants)?;
    report.setup.push(format!("cost: {TIMED_STEPS} training steps of each net timed in alternation, {TIMED_ROUNDS} rounds (one sample per round); the s / epoch column is each run's own, taken in sequence"));
    for ((act, runs), step_seconds) in hidden.into_iter().zip(all).zip(timed_steps) {
        let accs: Vec<f64> = runs.iter().map(|o| o.test.accuracy as f64).collect();
        let secs: Vec<f64> = runs.iter().map(|o| o.seconds_per_epoch).collect();
        let step_ms: Vec<f64> = step_seconds.iter().map(|s| 1e3 * s).collect();
        let e = epochs_to(&runs, target);
        table.row(vec![act.name().into(), cell(&accs, Unit::Percent), per_seed(&runs, target), cell(&step_ms, Unit::Decimals(2)), cell(&secs, Unit::Decimals(2))]);
        rows.push((act.name().into(), accs, e, step_ms));
        val_curves.push(Group::new(act.name(), runs.iter().map(Run::val_accuracy).collect()));
        loss_curves.push(Group::new(act.name(), runs.iter().map(Run::train_loss).collect()));
        results.extend(runs.iter().map(|o| json!({ "activation": act.name(), "seed": o.seed, "test_accuracy": o.test.accuracy, "seconds_per_epoch": o.seconds_per_epoch, "val_accuracy": o.val_accuracy() })));
    }
    report.tables.push(table);
    // Outputs: softmax against logistic on a binary and a ten-class task.
    let mut outputs = Table::new(&format!("Output layer: softmax against logistic ({OVER_SEEDS})"), &["task", "output", "test accuracy", "test loss"]);
    let binary = binary_task(ctx, &plain)?;
    let mut out_rows = Vec::new();
    let tasks = [("Sandal vs Sneaker", &binary, 2usize), ("10 classes", &plain, 10)];
    let setups: Vec<(usize, bool)> = (0..tasks.len()).flat_map(|t| [(t, false), (t, true)]).collect();
    let units: Vec<(usize, u64)> = (0..setups.len()).flat_map(|i| seeds.iter().map(move |&s| (i, s))).collect();
    // Each run gives (argmax accuracy, test loss); the model is measured where it trained.
    let epochs = ctx.scale.epochs;
    let name = |&(i, seed): &(usize, u64)| {
        let (task, data, classes) = tasks[setups[i].0];
        let label = format!("{task} {} seed {seed}", if setups[i].1 { "logistic" } else { "softmax" });
        (label.clone(), format!("output | {label} | {:?} | {} | seed {seed}", output_variant(task, classes, setups[i].1, &opt, epochs).ok(), data.key()))
    };
    let measured = ctx.map(&units, name, |b, &(i, seed), out| {
        let (task, data, classes) = tasks[setups[i].0];
        let (v, outputs_n) = output_variant(task, classes, setups[i].1, &opt, epochs)?;
        // Logistic outputs need f32 targets: a copy of the splits with them.
        let owned = if v.spec.loss == Loss::SigmoidBinaryCrossEntropy {
            Some(Data::upload(b, &data.name, data.host.clone())?.with_binary_targets(b, outputs_n)?)
        } else {
            None
        };
        let data = owned.as_ref().unwrap_or(data);
        let mut o = lab::train(b, data, &v, seed, out)?;
        let accuracy = argmax_accuracy(b, &mut o, data)?;
        if let Some(d) = owned {
            d.free(b)?;
        }
        Ok((accuracy, o.run.test.loss as f64))
    })?;
    for (&(t, logistic), runs) in setups.iter().zip(measured.chunks(seeds.len())) {
        let (task, _, classes) = tasks[t];
        let name = output_variant(task, classes, logistic, &opt, ctx.scale.epochs)?.0.name.trim_start_matches(task).trim().to_string();
        let accs: Vec<f64> = runs.iter().map(|r| r.0).collect();
        let losses: Vec<f64> = runs.iter().map(|r| r.1).collect();
        outputs.row(vec![task.into(), name.clone(), cell(&accs, Unit::Percent), cell(&losses, Unit::Decimals(4))]);
        out_rows.push((task, logistic, accs.clone()));
        results.push(json!({ "task": task, "output": name, "test_accuracy": accs, "test_loss": losses }));
    }
    report.tables.push(outputs);
    report.answer = answer::activations(&rows, &out_rows, target);
    let fig = Bands { title: "validation accuracy by hidden activation", x_desc: "epoch", y_desc: "fraction classified correctly", groups: val_curves, log_y: false, note: None };
    figure::draw(&ctx.out, "val_accuracy.svg", &fig)?;
    let fig = Bands { title: "training loss by hidden activation (mean over each epoch's steps)", x_desc: "epoch", y_desc: "cross-entropy (log scale)", groups: loss_curves, log_y: true, note: None };
    figure::draw(&ctx.out, "train_loss.svg", &fig)?;
    report.plots = vec![
        ("val_accuracy.svg".into(), "validation accuracy per epoch, every activation".into()),
        ("train_loss.svg".into(), "training loss per epoch, every activation".into()),
    ];
    report.limits = vec![
        format!("The cost compares {TIMED_STEPS} steps of each net in {TIMED_ROUNDS} alternated rounds of one process: it says what an activation costs inside a whole training step on this adapter, where the matmuls dominate and dilute the activation's own cost, not what the activation kernel alone costs."),
        "One learning rate (Nadam 0.001) for every activation: one that needs another rate is judged at the wrong one.".into(),
    ];
    report.results = json!({ "target": target, "runs": results });
    binary.free(ctx.b)?;
    plain.free(ctx.b)?;
    standardized.free(ctx.b)?;
    Ok(report)
}

/// Seconds per training step of each variant, timed in alternation (`lab::alternated_steps`)
/// by the leader alone, on one adapter; empty samples on the other ranks.
fn step_timings(ctx: &mut Ctx, data: &Data, variants: &[Variant]) -> Result<Vec<Vec<f64>>> {
    if !ctx.pool.leader() {
        return Ok(vec![Vec::new(); variants.len()]);
    }
    let detail = format!("{TIMED_STEPS} steps × {TIMED_ROUNDS} rounds | {variants:?} | {}", data.key());
    let refs: Vec<&Variant> = variants.iter().collect();
    ctx.once("step timings", &detail, |b, _| lab::alternated_steps(b, data, &refs, TIMED_STEPS, TIMED_ROUNDS))
}

/// Sandal (5) against Sneaker (7), relabelled 0 and 1.
fn binary_task(ctx: &mut Ctx, data: &Data) -> Result<Data> {
    let pick = |d: &crate::data::Dataset| {
        let rows: Vec<usize> = (0..d.rows).filter(|&r| d.labels[r] == 5 || d.labels[r] == 7).collect();
        let mut s = d.select(&rows);
        s.labels.iter_mut().for_each(|l| *l = (*l == 7) as u32);
        s.classes = 2;
        s
    };
    let host = [pick(&data.host[0]), pick(&data.host[1]), pick(&data.host[2])];
    Data::upload(ctx.b, "Sandal vs Sneaker", host)
}

/// The 784-100-100 ReLU net with a softmax or a logistic output for `task` (`classes`
/// classes), and its number of outputs.
fn output_variant(task: &str, classes: usize, logistic: bool, opt: &OptimizerConfig, epochs: usize) -> Result<(Variant, usize)> {
    let outputs_n = if logistic && classes == 2 { 1 } else { classes };
    let mut spec = ModelSpec::builder(784).repeat(2, |b| b.dense(100, Activation::Relu)).classes(outputs_n)?;
    let name = if logistic { format!("logistic ×{outputs_n}") } else { format!("softmax ×{outputs_n}") };
    if logistic {
        spec.loss = Loss::SigmoidBinaryCrossEntropy;
    }
    Ok((Variant::new(&format!("{task} {name}"), spec, opt.clone(), epochs), outputs_n))
}

/// Test accuracy from the predictions: the argmax, or p > 0.5 for one logistic output.
fn argmax_accuracy(b: &mut dyn Backend, o: &mut Outcome, data: &Data) -> Result<f64> {
    let mut inference = crate::infer::Inference::new(b, 1024)?;
    let probs = inference.predict(b, &mut o.model, &data.test, Mode::Eval, 0)?;
    let labels = &data.host[2].labels;
    let width = probs.len() / labels.len();
    let correct = labels
        .iter()
        .enumerate()
        .filter(|&(r, &l)| {
            let p = &probs[r * width..(r + 1) * width];
            let class = if width == 1 { (p[0] > 0.5) as u32 } else { p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0 as u32 };
            class == l
        })
        .count();
    Ok(correct as f64 / labels.len() as f64)
}

