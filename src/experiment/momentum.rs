//! Question 5: momentum too close to 1. The training loss is traced every `WINDOW` steps (the
//! mean over those steps, read back and cleared), so overshoot and oscillation show within
//! an epoch, and a run that diverges is recorded as such and stopped.

use crate::error::{Error, Result};
use serde_json::json;
use crate::experiment::{answer, measure};
use crate::infer::Metrics;
use crate::nn::{ModelSpec, Sequential};
use crate::optim::{Optimizer, OptimizerConfig, OptimizerKind};
use crate::train::{epoch_order, TrainConfig, Trainer};
use crate::backend::{Activation, Backend};

use super::lab::Data;
use super::figure::{self, Bands, Group};
use super::report::{cell, Report, Table, OVER_SEEDS};
use super::stats::Unit;
use super::Ctx;

const WINDOW: usize = 10;
const BETAS: [f64; 5] = [0.0, 0.9, 0.99, 0.999, 0.99999];
const LR: f32 = 0.01;

/// Mean training loss of every `WINDOW` steps, until the end or the first non-finite window.
fn trace(b: &mut dyn Backend, epochs: usize, data: &Data, beta: f64, seed: u64) -> Result<Vec<f32>> {
    let spec = ModelSpec::builder(784).dense(300, Activation::Relu).dense(100, Activation::Relu).classes(10)?;
    let mut model = Sequential::new(b, &spec, seed)?;
    let kind = if beta == 0.0 { OptimizerKind::Sgd } else { OptimizerKind::Momentum };
    let mut opt = Optimizer::new(b, OptimizerConfig::new(kind).with_lr(LR).with_momentum(beta as f32))?;
    let batch = 128;
    let mut trainer = Trainer::new(b, TrainConfig { epochs, batch_size: batch, seed, ..TrainConfig::default() })?;
    trainer.begin(b, &mut model, &mut opt, &data.train)?;
    let rows = data.train.rows;
    let stats = trainer.running_metrics_tensor();
    let mut losses = Vec::new();
    for epoch in 0..epochs {
        b.write_u32(data.train.order, &epoch_order(seed, epoch, rows))?;
        let steps = rows.div_ceil(batch);
        for start in (0..steps).step_by(WINDOW) {
            b.fill(stats, 0.0)?;
            for k in start..(start + WINDOW).min(steps) {
                let offset = k * batch;
                trainer.step(b, &mut model, &mut opt, &data.train, offset, batch.min(rows - offset))?;
            }
            let m = Metrics::from_stats(&b.read(stats)?);
            losses.push(m.loss);
            if !m.loss.is_finite() {
                return Ok(losses);
            }
        }
    }
    Ok(losses)
}

pub fn run(ctx: &mut Ctx) -> Result<Report> {
    let data = ctx.fashion_mnist(false)?;
    let mut report = Report::new(
        "momentum",
        "What happens if you set the momentum hyperparameter too close to 1 (e.g. 0.99999) when using SGD?",
        "The optimizer keeps its speed: it overshoots, oscillates, and converges much more slowly (or diverges).",
    );
    report.setup = ctx.setup(&data)?;
    report.setup.push(format!("model: 784-300-100-10 ReLU, He init; SGD, lr {LR}, momentum β as listed (β = 0 is plain SGD)"));
    report.setup.push(format!("the training loss is traced as the mean over each window of {WINDOW} steps; final loss: the mean of the last 3 windows; overshoot: the largest rise above the best window so far, relative to it; oscillation: the fraction of windows where the direction reverses"));
    let mut table = Table::new(&format!("Momentum β ({OVER_SEEDS} that did not diverge)"), &["β", "final loss", "overshoot", "oscillation", "diverged"]);
    let mut outcomes = Vec::new();
    let mut plot = Vec::new();
    let mut results = Vec::new();
    let seeds = ctx.seeds();
    let units: Vec<(f64, u64)> = BETAS.iter().flat_map(|&beta| seeds.iter().map(move |&s| (beta, s))).collect();
    let epochs = ctx.scale.epochs;
    let name = |&(beta, seed): &(f64, u64)| {
        (format!("β = {beta} seed {seed}"), format!("trace | β {beta} lr {LR} window {WINDOW} epochs {epochs} | {} | seed {seed}", data.key()))
    };
    let traces = ctx.map(&units, name, |b, &(beta, seed), out| {
        let losses = trace(b, epochs, &data, beta, seed)?;
        let dir = out.join("runs").join(format!("beta{beta}-s{seed}"));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let csv: String = losses.iter().enumerate().map(|(i, l)| format!("{},{l}\n", (i + 1) * WINDOW)).collect();
        let path = dir.join("loss_trace.csv");
        std::fs::write(&path, format!("step,loss\n{csv}")).map_err(|e| Error::io(&path, e))?;
        Ok(losses)
    })?;
    for (beta, traces) in BETAS.into_iter().zip(traces.chunks(seeds.len())) {
        let (mut finals, mut overs, mut oscs, mut diverged) = (Vec::new(), Vec::new(), Vec::new(), 0);
        plot.push(Group::new(format!("β = {beta}"), traces.to_vec()));
        for (&seed, losses) in seeds.iter().zip(traces) {
            let finite = losses.last().is_some_and(|l| l.is_finite());
            if finite {
                let tail = &losses[losses.len().saturating_sub(3)..];
                finals.push(measure::mean(tail));
                overs.push(measure::overshoot(losses));
                oscs.push(measure::oscillation(losses));
            } else {
                diverged += 1;
            }
            results.push(json!({ "beta": beta, "seed": seed, "window": WINDOW, "losses": losses.iter().map(|l| if l.is_finite() { Some(*l) } else { None }).collect::<Vec<_>>(), "diverged": !finite }));
        }
        table.row(vec![
            format!("{beta}"),
            cell(&finals, Unit::Decimals(3)),
            cell(&overs, Unit::Percent),
            cell(&oscs, Unit::Percent),
            format!("{diverged} of {}", seeds.len()),
        ]);
        outcomes.push(answer::MomentumOutcome {
            beta,
            overshoot: measure::mean_std(&overs).0,
            oscillation: measure::mean_std(&oscs).0,
            final_loss: finals,
            diverged,
            seeds: seeds.len(),
        });
    }
    let steps = traces.iter().map(|t| t.len() * WINDOW).max().unwrap_or(0);
    report.answer = answer::momentum(&outcomes, steps);
    report.tables.push(table);
    let x_desc = format!("window of {WINDOW} steps");
    let fig = Bands { title: "training loss by momentum β", x_desc: &x_desc, y_desc: "mean cross-entropy over the window (log scale)", groups: plot, log_y: true, note: Some("a curve that stops: the run diverged") };
    figure::draw(&ctx.out, "loss.svg", &fig)?;
    report.plots = vec![("loss.svg".into(), "training loss per 10 steps for each β".into())];
    report.limits = vec![
        format!("Runs of {steps} steps: β = 0.99999's memory of 100,000 steps is beyond them, so only the start of its behaviour is seen; whether it diverges later is not tested."),
        format!("One learning rate ({LR}): with β the effective step is lr/(1 − β), so the same β misbehaves sooner at a higher rate."),
    ];
    report.results = json!({ "lr": LR, "runs": results });
    data.free(ctx.b)?;
    Ok(report)
}
