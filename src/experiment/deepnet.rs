//! The chapter's exercise: a deep net (20 hidden layers of 100), built up step by step.

use crate::error::Result;
use serde_json::json;
use crate::nn::{BatchNormAt, Initializer, ModelSpec};
use crate::nn::Sequential;
use crate::optim::{Optimizer, OptimizerConfig, OptimizerKind, Schedule};
use crate::train::lr_find::{self, Curve, Range};
use crate::train::EarlyStopping;
use crate::backend::{Activation, Backend};

use super::lab::{self, Data, Outcome, Run, Variant};
use super::figure::{self, Bands, Group};
use super::report::{cell, Report, Table, OVER_SEEDS};
use super::answer;
use super::stats::Unit;
use super::Ctx;

pub fn run(ctx: &mut Ctx) -> Result<Report> {
    let dataset = ctx.dataset.clone();
    let plain = Data::load(ctx.b, &dataset, &ctx.data_dir, ctx.scale.train_rows, false, &mut ctx.fetch)?;
    let standardized = Data::load(ctx.b, &dataset, &ctx.data_dir, ctx.scale.train_rows, true, &mut ctx.fetch)?;
    let inputs = plain.host[0].cols;
    let classes = plain.host[0].classes;
    let mut report = Report::new(
        "deep-net",
        "Train a deep net (20 hidden layers of 100 neurons, He initialization, ELU, Nadam, early stopping); then add \
         batch normalization; replace it with SELU (LeCun initialization, standardized inputs); add alpha dropout; \
         use MC dropout; retrain with 1cycle scheduling.",
        "Batch normalization converges in fewer epochs but each is slower; SELU self-normalizes without it; alpha \
         dropout regularizes a SELU net; MC dropout improves accuracy a little for free; 1cycle trains faster.",
    );
    report.setup = ctx.setup(&plain)?;
    let patience = if ctx.scale.quick { 2 } else { 5 };
    let mc = if ctx.scale.quick { 10 } else { 30 };
    let stop = EarlyStopping { patience, min_delta: 0.0, restore_best: true };
    let elu = ModelSpec::builder(inputs).repeat(20, |b| b.dense(100, Activation::elu())).classes(classes)?;
    let selu = |dropout: f32| {
        ModelSpec::builder(inputs).init(Initializer::LECUN_NORMAL).repeat(20, |b| b.dense(100, Activation::Selu)).alpha_dropout(dropout).classes(classes)
    };
    // The rates come from the range test on each net (seed 1, one epoch), as a practitioner
    // would set them, rather than from a guess that may not suit a 20-layer net.
    let probe = OptimizerConfig::new(OptimizerKind::Nadam).with_lr(0.001);
    let range = Range::over(plain.train.rows / 128);
    let tested = [("ELU", &elu, &plain, "lr_find_elu.svg"), ("SELU", &selu(0.0)?, &standardized, "lr_find_selu.svg")];
    let mut curves = Vec::new();
    for (name, spec, data, file) in tested {
        let detail = format!("{spec:?} | {probe:?} | {range:?} | {}", data.key());
        let curve: Curve = ctx.once(&format!("range test {name}"), &detail, |b, _| {
            let mut model = Sequential::new(b, spec, 1)?;
            let mut opt = Optimizer::new(b, probe.clone())?;
            lr_find::find(b, &mut model, &mut opt, &data.train, 128, 1, range)
        })?;
        crate::run::lr_find::draw(&curve, &ctx.out.join(file))?;
        curves.push(curve);
    }
    let found = |c: &Curve, fallback: f32| c.suggestion().unwrap_or(fallback);
    let (elu_lr, selu_lr) = (found(&curves[0], 0.001), found(&curves[1], 0.001));
    let peak = curves[1].min_over_ten.unwrap_or(0.005);
    report.setup.push(format!(
        "{inputs}-100×20-{classes}; Nadam, its rate from the range test (`wgtrain lr-find`, seed 1, {} steps from 1e-7 to 10): the steepest fall of the smoothed loss, {elu_lr:.2e} for the ELU nets (batch norm's too) and {selu_lr:.2e} for the SELU nets; 1cycle's peak the SELU test's minimum ÷ 10, {peak:.2e}, 25% warm-up; early stopping on validation loss, patience {patience}, best weights restored; up to {} epochs; MC dropout: {mc} passes",
        range.steps,
        ctx.scale.epochs
    ));
    let nadam = |lr: f32| OptimizerConfig::new(OptimizerKind::Nadam).with_lr(lr);
    let steps = (plain.host[0].rows.div_ceil(128) * ctx.scale.epochs) as u32;
    let mut one_cycle = nadam(peak / 25.0);
    one_cycle.schedule = Schedule::OneCycle { max_lr: peak, total_steps: steps, pct_start: 0.25, div_factor: 25.0, final_div_factor: 1e4, base_momentum: 0.85, max_momentum: 0.95 };
    let variants: Vec<(Variant, bool)> = vec![
        (Variant::new("ELU He Nadam", elu.clone(), nadam(elu_lr), ctx.scale.epochs), false),
        (Variant::new("+ batch norm", ModelSpec::builder(inputs).repeat(20, |b| b.dense_bn(100, Activation::elu(), BatchNormAt::BeforeActivation)).classes(classes)?, nadam(elu_lr), ctx.scale.epochs), false),
        (Variant::new("SELU LeCun standardized", selu(0.0)?, nadam(selu_lr), ctx.scale.epochs), true),
        (Variant::new("+ alpha dropout 0.1", selu(0.1)?, nadam(selu_lr), ctx.scale.epochs), true),
        (Variant::new("SELU, 1cycle", selu(0.0)?, one_cycle, ctx.scale.epochs), true),
    ];
    let seeds = ctx.seeds();
    let mut table = Table::new(&format!("The deep net, step by step ({OVER_SEEDS})"), &["model", "test accuracy", "epochs run", "best epoch", "s / epoch"]);
    let mut results = Vec::new();
    let mut val = Vec::new();
    let mut train_loss = Vec::new();
    let mut rows = Vec::new();
    let mut mc_row = None;
    // Runs stopped by the epoch cap while their validation loss was still falling.
    let mut at_cap = Vec::new();
    let variants: Vec<(Variant, bool)> = variants
        .into_iter()
        .map(|(mut v, standardize)| {
            // 1cycle runs its whole schedule: early stopping would cut the annealing short.
            if !matches!(v.opt.schedule, Schedule::OneCycle { .. }) {
                v.early_stopping = Some(stop.clone());
            }
            (v, standardize)
        })
        .collect();
    let units: Vec<(usize, u64)> = (0..variants.len()).flat_map(|v| seeds.iter().map(move |&s| (v, s))).collect();
    // Each run, with MC dropout's test accuracy for the alpha-dropout net (measured on the
    // trained model where it trained).
    let name = |&(i, seed): &(usize, u64)| {
        let (v, standardize) = &variants[i];
        let data = if *standardize { &standardized } else { &plain };
        (format!("{} seed {seed}", v.name), format!("deep-net | {v:?} | mc {mc} | {} | seed {seed}", data.key()))
    };
    let measured = ctx.map(&units, name, |b, &(i, seed), out| {
        let (v, standardize) = &variants[i];
        let data = if *standardize { &standardized } else { &plain };
        let mut o = lab::train(b, data, v, seed, out)?;
        let mc_accuracy = if v.name.contains("alpha dropout") { Some(mc_accuracy(b, &mut o, data, mc)?) } else { None };
        Ok((o.run, mc_accuracy))
    })?;
    // Batch norm's cost: training steps of the plain and the batch-normalized ELU nets timed
    // in alternation (the leader's, on one adapter).
    let mut timed_steps = vec![Vec::new(); variants.len()];
    if ctx.pool.leader() {
        let detail = format!("{TIMED_STEPS} steps × {TIMED_ROUNDS} rounds | {:?} | {:?} | {}", variants[0].0, variants[1].0, plain.key());
        let pair = [&variants[0].0, &variants[1].0];
        let timed = ctx.once("step timings", &detail, |b, _| lab::alternated_steps(b, &plain, &pair, TIMED_STEPS, TIMED_ROUNDS))?;
        timed_steps.splice(0..2, timed);
    }
    report.setup.push(format!("batch norm's cost: {TIMED_STEPS} training steps of the ELU net with and without it timed in alternation, {TIMED_ROUNDS} rounds (one sample per round); the s / epoch column is each run's own, taken in sequence"));
    for (((v, _), measured), step_seconds) in variants.iter().zip(measured.chunks(seeds.len())).zip(timed_steps) {
        let runs: Vec<&Run> = measured.iter().map(|m| &m.0).collect();
        let each = |f: &dyn Fn(&Run) -> f64| runs.iter().map(|o| f(o)).collect::<Vec<f64>>();
        let row = answer::Step {
            name: v.name.clone(),
            accuracy: each(&|o| o.test.accuracy as f64),
            best_epoch: each(&|o| best_epoch(o) as f64),
            seconds_per_epoch: each(&|o| o.seconds_per_epoch),
            step_seconds,
            failed: runs.iter().filter(|o| failed_to_learn(o, classes)).count(),
        };
        let run_epochs = each(&|o| o.history.epochs.len() as f64);
        // (1cycle's schedule is sized to the cap: ending there is its design.)
        let capped = if v.early_stopping.is_some() { runs.iter().filter(|o| still_improving_at_cap(o, ctx.scale.epochs)).count() } else { 0 };
        if capped > 0 {
            at_cap.push(format!("{} ({capped} of {})", v.name, runs.len()));
        }
        table.row(vec![
            v.name.clone(),
            cell(&row.accuracy, Unit::Percent),
            cell(&run_epochs, Unit::Decimals(1)),
            cell(&row.best_epoch, Unit::Decimals(1)),
            cell(&row.seconds_per_epoch, Unit::Decimals(2)),
        ]);
        rows.push(row);
        let mut group = Group::new(v.name.clone(), runs.iter().map(|o| o.val_accuracy()).collect());
        if v.early_stopping.is_some() {
            group.rings = runs.iter().map(|o| best_epoch(o).checked_sub(1)).collect();
        }
        val.push(group);
        train_loss.push(Group::new(v.name.clone(), runs.iter().map(|o| o.history.epochs.iter().map(|e| e.loss).collect()).collect()));
        results.extend(runs.iter().map(|o| json!({ "model": v.name, "seed": o.seed, "test_accuracy": o.test.accuracy, "epochs": o.history.epochs.len(), "seconds_per_epoch": o.seconds_per_epoch, "val_accuracy": o.val_accuracy(), "train_loss": o.history.epochs.iter().map(|e| e.loss).collect::<Vec<_>>(), "best_epoch": best_epoch(o), "failed_to_learn": failed_to_learn(o, classes), "diverged": o.history.epochs.iter().any(|e| !e.loss.is_finite()) })));
        let accs: Vec<f64> = measured.iter().filter_map(|m| m.1).collect();
        if !accs.is_empty() {
            table.row(vec![format!("  + MC dropout ({mc} passes)"), cell(&accs, Unit::Percent), "—".into(), "—".into(), "—".into()]);
            mc_row = Some((accs.clone(), rows.last().expect("this variant's row").accuracy.clone()));
            results.push(json!({ "model": "MC dropout", "passes": mc, "test_accuracy": accs }));
        }
    }
    report.tables.push(table);
    report.answer = answer::deep_net(&rows, mc_row);
    let ring = "ring: the epoch early stopping restored";
    let fig = Bands { title: "validation accuracy of each step", x_desc: "epoch", y_desc: "fraction classified correctly", groups: val, log_y: false, note: Some(ring) };
    figure::draw(&ctx.out, "val_accuracy.svg", &fig)?;
    let chance = format!("chance: ln {classes} = {:.2}", (classes as f32).ln());
    let fig = Bands { title: "training loss of each step (mean over the epoch)", x_desc: "epoch", y_desc: "cross-entropy (log scale)", groups: train_loss, log_y: true, note: Some(&chance) };
    figure::draw(&ctx.out, "train_loss.svg", &fig)?;
    report.plots = vec![
        ("val_accuracy.svg".into(), "validation accuracy per epoch of each model (rings: the restored epoch)".into()),
        ("train_loss.svg".into(), "training loss per epoch of each model".into()),
        ("lr_find_elu.svg".into(), "the range test that set the ELU nets' rate".into()),
        ("lr_find_selu.svg".into(), "the range test that set the SELU nets' rates and 1cycle's peak".into()),
    ];
    let cap = ctx.scale.epochs;
    let capped = if at_cap.is_empty() {
        format!("Every run with early stopping stopped before the cap of {cap} epochs.")
    } else {
        format!(
            "Runs still improving when the cap of {cap} epochs ended them (best validation loss in the last epoch): {}. Their accuracies are what {cap} epochs give at the rate the range test chose, not what the net can reach; longer training would raise them, so differences between steps here are partly differences in speed.",
            at_cap.join(", ")
        )
    };
    report.limits = vec![
        format!("Up to {cap} epochs with early stopping: nets this deep may be undertrained here. For scale, a plain 784-300-100-10 MLP reaches about 88% test accuracy on Fashion-MNIST in 10 epochs (README)."),
        capped,
        "The rates come from one range test per net (seed 1, one epoch), not from a search over rates with full training runs: a rate the test misjudges is used for every seed (the failed-to-learn flag says when a run did not learn).".into(),
        "Batch normalization's benefit is fewer epochs to a given training loss; at a small scale its per-epoch cost shows more than that benefit, and test accuracy at early stopping's restored epoch is noisy.".into(),
    ];
    report.results = json!({ "dataset": dataset, "runs": results });
    plain.free(ctx.b)?;
    standardized.free(ctx.b)?;
    Ok(report)
}

/// Training steps per timing of batch norm's alternated cost, and its rounds (samples).
const TIMED_STEPS: usize = 20;
const TIMED_ROUNDS: usize = 7;

/// Test accuracy of the mean of `passes` MC-dropout predictions.
fn mc_accuracy(b: &mut dyn Backend, o: &mut Outcome, data: &Data, passes: u32) -> Result<f64> {
    let mut inference = crate::infer::Inference::new(b, 1024)?;
    let (mean, _) = inference.predict_mc(b, &mut o.model, &data.test, passes)?;
    let labels = &data.host[2].labels;
    let classes = mean.len() / labels.len().max(1);
    let correct = labels
        .iter()
        .enumerate()
        .filter(|&(r, &l)| {
            let p = &mean[r * classes..(r + 1) * classes];
            p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0 as u32 == l
        })
        .count();
    Ok(correct as f64 / labels.len() as f64)
}

/// The epoch with the lowest validation loss (whose weights early stopping restored).
fn best_epoch(o: &Run) -> usize {
    o.history.epochs.iter().min_by(|a, b| a.val_loss.unwrap_or(f32::MAX).total_cmp(&b.val_loss.unwrap_or(f32::MAX))).map_or(0, |r| r.epoch)
}

/// A run that used every epoch it was allowed and had its lowest validation loss in the last:
/// the cap, not early stopping, ended it.
fn still_improving_at_cap(o: &Run, cap: usize) -> bool {
    o.history.epochs.len() >= cap && best_epoch(o) == o.history.epochs.len()
}

/// A run whose mean training loss over an epoch was at or above chance level, ln(classes)
/// (what predicting every class alike scores): it did not learn then (a 1cycle peak too
/// high for the net, say).
fn failed_to_learn(o: &Run, classes: usize) -> bool {
    o.history.epochs.iter().any(|e| !(e.loss < (classes as f32).ln()))
}
