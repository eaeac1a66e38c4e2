//! Questions 1 and 2: how weights and biases start.

use crate::error::Result;
use serde_json::json;
use crate::experiment::{answer, measure};
use crate::nn::{Initializer, ModelSpec};
use crate::optim::{OptimizerConfig, OptimizerKind};
use crate::backend::{Activation, Backend};

use super::lab::{self, Bias, Outcome, Variant};
use super::figure::{self, Bands, Group};
use super::report::{bars, cell, half, Report, Table, OVER_SEEDS};
use super::stats::Unit;
use super::Ctx;

const UNITS: usize = 100;

/// Distinct neurons of each hidden Dense layer (all but the output layer).
fn distinct(b: &mut dyn Backend, o: &Outcome) -> Result<Vec<usize>> {
    let params = o.model.params();
    let weights: Vec<_> = params.iter().filter(|p| p.name.ends_with(".w")).collect();
    let mut out = Vec::new();
    for w in &weights[..weights.len() - 1] {
        let bias_name = w.name.replace(".w", ".b");
        let bias = params.iter().find(|p| p.name == bias_name).map(|p| b.read(p.value)).transpose()?;
        let values = b.read(w.value)?;
        out.push(measure::distinct_units(&values, bias.as_deref(), w.value.rows, w.value.cols, 1e-5));
    }
    Ok(out)
}

pub fn symmetry(ctx: &mut Ctx) -> Result<Report> {
    let data = ctx.fashion_mnist(false)?;
    let mut report = Report::new(
        "init-symmetry",
        "Is it OK to initialize all weights to one value, if that value is drawn with He initialization?",
        "No: every neuron of a layer gets the same gradient, so they stay identical (symmetry is never broken).",
    );
    report.setup = ctx.setup(&data)?;
    let build = |init: Initializer, dropout: f32| {
        ModelSpec::builder(784).init(init).repeat(2, |b| b.dense(UNITS, Activation::elu()).dropout(dropout)).classes(10)
    };
    let opt = OptimizerConfig::new(OptimizerKind::Momentum).with_lr(0.02);
    report.setup.push(format!("model: 784-{UNITS}-{UNITS}-10 ELU, momentum 0.9, lr 0.02; dropout variant: 0.2 after each hidden layer"));
    report.setup.push("distinct neurons: columns of W (with the bias) equal within 1e-5 × the layer's largest |w| count once".into());
    let variants = [
        ("He", build(Initializer::HE_NORMAL, 0.0)?),
        ("same value", build(Initializer::SameValue, 0.0)?),
        ("same value + dropout", build(Initializer::SameValue, 0.2)?),
    ];
    let mut table = Table::new(&format!("Distinct neurons per hidden layer and test accuracy ({OVER_SEEDS})"), &["init", "distinct (layer 1)", "distinct (layer 2)", "test accuracy"]);
    let mut summary = Vec::new();
    let mut results = Vec::new();
    let mut curves_val = Vec::new();
    let seeds = ctx.seeds();
    let units: Vec<(Variant, u64)> = variants
        .iter()
        .flat_map(|(name, spec)| seeds.iter().map(|&s| (Variant::new(name, spec.clone(), opt.clone(), ctx.scale.epochs), s)))
        .collect();
    // Each run with its distinct neurons per hidden layer, taken from the trained model.
    let name = |(v, seed): &(Variant, u64)| (format!("{} seed {seed}", v.name), format!("distinct | {v:?} | {} | seed {seed}", data.key()));
    let runs = ctx.map(&units, name, |b, (v, seed), out| {
        let o = lab::train(b, &data, v, *seed, out)?;
        let d = distinct(b, &o)?;
        Ok((o.run, d))
    })?;
    for ((name, _), runs) in variants.iter().zip(runs.chunks(seeds.len())) {
        let (mut acc, mut per_layer) = (Vec::new(), vec![Vec::new(); 2]);
        curves_val.push(Group::new(*name, runs.iter().map(|(o, _)| o.val_accuracy()).collect()));
        for (o, d) in runs {
            acc.push(o.test.accuracy as f64);
            d.iter().enumerate().for_each(|(i, &n)| per_layer[i].push(n as f64));
            results.push(json!({ "init": name, "seed": o.seed, "test_accuracy": o.test.accuracy, "distinct": d }));
        }
        table.row(vec![
            name.to_string(),
            cell(&per_layer[0], Unit::Decimals(1)),
            cell(&per_layer[1], Unit::Decimals(1)),
            cell(&acc, Unit::Percent),
        ]);
        let mean_distinct = (measure::mean_std(&per_layer[0]).0 + measure::mean_std(&per_layer[1]).0) / 2.0;
        summary.push(answer::Symmetry { accuracy: acc, distinct: mean_distinct, units: UNITS });
    }
    report.answer = answer::init_symmetry(&summary[0], &summary[1], &summary[2]);
    report.tables.push(table);
    let fig = Bands { title: "validation accuracy per epoch", x_desc: "epoch", y_desc: "fraction classified correctly", groups: curves_val, log_y: false, note: None };
    figure::draw(&ctx.out, "val_accuracy.svg", &fig)?;
    let bar_data: Vec<(String, f64, f64)> =
        ["He", "same value", "same + dropout"].iter().zip(&summary).map(|(n, s)| (n.to_string(), s.distinct, 0.0)).collect();
    bars(&ctx.out, "distinct.svg", "distinct neurons per hidden layer (mean of 2 layers)", "neurons (of 100)", &bar_data)?;
    report.plots = vec![
        ("val_accuracy.svg".into(), "validation accuracy per epoch".into()),
        ("distinct.svg".into(), "distinct neurons per hidden layer".into()),
    ];
    report.limits = vec![
        "Only momentum SGD, without dropout and with dropout 0.2, is tried: other sources of noise that could break the symmetry are not.".into(),
    ];
    report.results = json!({ "runs": results });
    data.free(ctx.b)?;
    Ok(report)
}

pub fn bias(ctx: &mut Ctx) -> Result<Report> {
    let data = ctx.fashion_mnist(false)?;
    let mut report = Report::new(
        "bias-init",
        "Is it OK to initialize the biases to 0?",
        "Yes: random weights already break symmetry; small positive biases (0.01–0.1) sometimes help ReLU units start alive.",
    );
    report.setup = ctx.setup(&data)?;
    report.setup.push("model: 784-100-100-100-10 ReLU, He weights, momentum 0.9, lr 0.05; random biases: N(0, 0.1²)".into());
    report.setup.push("dead unit: the same output (within 1e-6) on all of 512 validation samples, after training".into());
    let opt = OptimizerConfig::new(OptimizerKind::Momentum).with_lr(0.05);
    let starts: [(&str, f32, Bias); 4] =
        [("0", 0.0, Bias::Spec), ("0.01", 0.01, Bias::Spec), ("0.1", 0.1, Bias::Spec), ("random", 0.0, Bias::Random(0.1))];
    let mut table = Table::new(&format!("Test accuracy and dead ReLU units ({OVER_SEEDS})"), &["bias", "test accuracy", "dead units (end)", "dead units (start)"]);
    let mut outcomes = Vec::new();
    let mut results = Vec::new();
    let mut bar_data = Vec::new();
    let mut variants = Vec::new();
    for (name, value, how) in starts {
        let spec = ModelSpec::builder(784).bias(value).repeat(3, |b| b.dense(100, Activation::Relu)).classes(10)?;
        let mut v = Variant::new(&format!("bias {name}"), spec, opt.clone(), ctx.scale.epochs);
        (v.bias, v.probe) = (how, true);
        variants.push(v);
    }
    let seeds = ctx.seeds();
    let runs = ctx.train_all(&data, &variants, &seeds)?;
    for ((name, _, _), runs) in starts.iter().zip(&runs) {
        let name = *name;
        let (mut acc, mut dead, mut dead0) = (Vec::new(), Vec::new(), Vec::new());
        for o in runs {
            acc.push(o.test.accuracy as f64);
            dead.push(o.probes.last().map_or(0.0, |p| p.dead_mean()));
            dead0.push(o.probes[0].dead_mean());
            results.push(json!({ "bias": name, "seed": o.seed, "test_accuracy": o.test.accuracy, "probes": o.probes }));
        }
        table.row(vec![name.into(), cell(&acc, Unit::Percent), cell(&dead, Unit::Percent), cell(&dead0, Unit::Percent)]);
        bar_data.push((name.to_string(), measure::mean_std(&acc).0, half(&acc)));
        outcomes.push(answer::BiasOutcome { name: name.into(), accuracy: acc, dead_start: dead0, dead_end: dead });
    }
    report.answer = answer::bias_init(&outcomes);
    report.tables.push(table);
    bars(&ctx.out, "accuracy.svg", "test accuracy by initial bias (bars: 95% interval over seeds)", "fraction classified correctly", &bar_data)?;
    report.plots = vec![("accuracy.svg".into(), "test accuracy by initial bias".into())];
    report.limits = vec![
        "One architecture (3 × 100 ReLU) and one learning rate (momentum, 0.05): dying ReLUs, where a positive bias could help, are rare here, so a benefit that shows only in deeper nets or at higher rates is not tested.".into(),
    ];
    report.results = json!({ "runs": results });
    data.free(ctx.b)?;
    Ok(report)
}
