//! Question 6: three ways to a sparse (or smaller) model, measured on one trained MLP:
//! magnitude pruning once after training and along a cubic schedule during it, ℓ1
//! regularization, and low-rank factorization.

use crate::error::Result;
use serde_json::json;
use crate::nn::{Mode, ModelSpec, Sequential};
use crate::optim::{Optimizer, OptimizerConfig, OptimizerKind};
use crate::sparse::{self, Rank, Scope};
use crate::train::{checkpoint, TrainConfig, Trainer};
use crate::backend::{Activation, Backend};

use super::lab::{self, Data, Variant};
use super::report::{curves_over, Report, Table};
use super::Ctx;

const ONE_SHOT: [f64; 5] = [0.5, 0.8, 0.9, 0.95, 0.98];
const ITERATIVE: [f64; 2] = [0.9, 0.98];
const L1: [f32; 3] = [1e-5, 1e-4, 1e-3];
const RANKS: [usize; 5] = [4, 8, 16, 32, 64];
/// |w| below this counts as zero for ℓ1 (which shrinks weights towards 0 without reaching it).
const NEAR_ZERO: f32 = 1e-3;

/// The runs that train from scratch (spread over the pool); the rest starts from the dense one.
#[derive(Debug, Clone, Copy)]
enum Unit {
    Dense,
    Iterative(f64),
    L1(f32),
}

/// What a unit measured: the dense run, or (zero fraction, accuracy, accuracy before the
/// near-zero weights were set to 0).
#[derive(serde::Serialize, serde::Deserialize)]
enum Measured {
    Dense(lab::Run),
    Sparse { zeros: f64, accuracy: f64, trained: f64 },
}

fn spec() -> Result<ModelSpec> {
    ModelSpec::builder(784).dense(300, Activation::Relu).dense(100, Activation::Relu).classes(10)
}

fn opt() -> OptimizerConfig {
    OptimizerConfig::new(OptimizerKind::Momentum).with_lr(0.02)
}

/// Train `model` with `opt` for `epochs` on `data`, pruning each epoch to `schedule(epoch)`.
fn fit(b: &mut dyn Backend, data: &Data, model: &mut Sequential, opt: &mut Optimizer, epochs: usize, schedule: impl Fn(usize) -> f64) -> Result<()> {
    let mut trainer = Trainer::new(b, TrainConfig { epochs, batch_size: 128, seed: 1, ..TrainConfig::default() })?;
    trainer.begin(b, model, opt, &data.train)?;
    for epoch in 1..=epochs {
        let s = schedule(epoch);
        if s > 0.0 {
            sparse::prune(b, model, opt, s, Scope::Global)?;
        }
        trainer.run_epoch(b, model, opt, &data.train, Some(&data.val), &mut [])?;
    }
    Ok(())
}

fn accuracy(b: &mut dyn Backend, model: &mut Sequential, data: &Data) -> Result<f64> {
    let mut inference = crate::infer::Inference::new(b, 1024)?;
    Ok(inference.evaluate(b, model, &data.test)?.accuracy as f64)
}

fn zeros(b: &mut dyn Backend, model: &Sequential, threshold: f32) -> Result<f64> {
    let layers = sparse::measure(b, model, threshold)?;
    let (below, n) = layers.iter().fold((0, 0), |(z, n), l| (z + if threshold > 0.0 { l.below } else { l.zeros }, n + l.weights));
    Ok(below as f64 / n as f64)
}

pub fn run(ctx: &mut Ctx) -> Result<Report> {
    let data = ctx.fashion_mnist(false)?;
    let epochs = ctx.scale.epochs;
    let fine_tune = if ctx.scale.quick { 1 } else { 2 };
    let mut report = Report::new(
        "sparsity",
        "How can you produce a sparse model?",
        "Train normally then zero out tiny weights (magnitude pruning); ℓ1 regularization during training; dedicated \
         techniques (e.g. low-rank factorization, FTRL, TF-MOT's pruning).",
    );
    report.setup = ctx.setup(&data)?;
    report.setup.push(format!("model: 784-300-100-10 ReLU, He init, momentum 0.9, lr 0.02, {epochs} epochs, seed 1 (one seed: differences under half a point are noise)"));
    report.setup.push(format!("one-shot: the trained model pruned by global magnitude, then fine-tuned {fine_tune} epoch(s) with the pruned weights held at 0; iterative: pruned along Zhu & Gupta's cubic ramp over epochs 1..{} while training; ℓ1: λ·sign(w) added to the gradient, |w| < {NEAR_ZERO} counted (and then set) to zero", epochs.saturating_sub(1).max(1)));
    let v = Variant::new("dense", spec()?, opt(), epochs);
    let units: Vec<Unit> = [Unit::Dense].into_iter().chain(ITERATIVE.map(Unit::Iterative)).chain(L1.map(Unit::L1)).collect();
    let name = |u: &Unit| (format!("{u:?}"), format!("sparsity | {u:?} | {v:?} | near zero {NEAR_ZERO} | {}", data.key()));
    let measured = ctx.map(&units, name, |b, unit, out| match *unit {
        Unit::Dense => Ok(Measured::Dense(lab::train(b, &data, &v, 1, out)?.run)),
        Unit::Iterative(target) => {
            let mut model = Sequential::new(b, &spec()?, 1)?;
            let mut o = Optimizer::new(b, opt())?;
            let end = epochs.saturating_sub(1).max(1);
            fit(b, &data, &mut model, &mut o, epochs, |e| sparse::cubic(target, 1, end, e))?;
            let accuracy = accuracy(b, &mut model, &data)?;
            Ok(Measured::Sparse { zeros: zeros(b, &model, 0.0)?, accuracy, trained: accuracy })
        }
        Unit::L1(lambda) => {
            let mut model = Sequential::new(b, &spec()?, 1)?;
            let mut config = opt();
            config.l1 = lambda;
            let mut o = Optimizer::new(b, config)?;
            fit(b, &data, &mut model, &mut o, epochs, |_| 0.0)?;
            let trained = accuracy(b, &mut model, &data)?;
            let near = zeros(b, &model, NEAR_ZERO)?;
            sparse::prune(b, &model, &mut o, near, Scope::Global)?;
            Ok(Measured::Sparse { zeros: near, accuracy: accuracy(b, &mut model, &data)?, trained })
        }
    })?;
    if !ctx.pool.leader() {
        // One-shot pruning and factorization start from the dense model, on the leader.
        data.free(ctx.b)?;
        return Ok(report);
    }
    let Some(Measured::Dense(base)) = measured.first() else { unreachable!("the dense run is the first unit") };
    let dense_acc = base.test.accuracy as f64;
    let detail = format!("{v:?} | {} | one-shot {ONE_SHOT:?} fine-tuned {fine_tune} | ranks {RANKS:?}", data.key());
    let dir = base.dir.clone();
    let c: Compressed = ctx.once("pruned and factorized", &detail, |b, out| compress(b, &out.join(&dir).join("model.safetensors"), &data, fine_tune))?;
    let mut table = Table::new("Accuracy against the fraction of zero weights", &["method", "setting", "zero weights", "test accuracy", "vs dense"]);
    let row = |t: &mut Table, method: &str, setting: String, z: f64, acc: f64| {
        t.row(vec![method.into(), setting, format!("{:.1}%", 100.0 * z), format!("{:.2}%", 100.0 * acc), format!("{:+.2}", 100.0 * (acc - dense_acc))])
    };
    row(&mut table, "dense", "—".into(), 0.0, dense_acc);
    let mut results = Vec::new();
    let mut prune_curve = Vec::new();
    let mut tuned_curve = Vec::new();
    for (&s, &(before, after, z)) in ONE_SHOT.iter().zip(&c.one_shot) {
        row(&mut table, "one-shot", format!("{:.0}%, no fine-tuning", 100.0 * s), s, before);
        row(&mut table, "one-shot", format!("{:.0}%, fine-tuned", 100.0 * s), z, after);
        prune_curve.push(before as f32);
        tuned_curve.push(after as f32);
        results.push(json!({ "method": "one-shot", "sparsity": s, "zeros": z, "accuracy_before_fine_tuning": before, "accuracy": after }));
    }
    let mut iterative = Vec::new();
    let mut l1 = Vec::new();
    for (unit, m) in units.iter().zip(&measured).skip(1) {
        let Measured::Sparse { zeros: z, accuracy: acc, trained } = *m else { unreachable!("only the first unit is dense") };
        match *unit {
            Unit::Iterative(target) => {
                row(&mut table, "iterative (cubic)", format!("{:.0}%", 100.0 * target), z, acc);
                iterative.push((target, z, acc));
                results.push(json!({ "method": "iterative", "sparsity": target, "zeros": z, "accuracy": acc }));
            }
            Unit::L1(lambda) => {
                row(&mut table, "ℓ1", format!("λ = {lambda:e}, |w| < {NEAR_ZERO} set to 0"), z, acc);
                l1.push((lambda, z, trained, acc));
                results.push(json!({ "method": "l1", "lambda": lambda, "zeros": z, "accuracy_trained": trained, "accuracy": acc }));
            }
            Unit::Dense => unreachable!("the dense run is the first unit"),
        }
    }
    report.tables.push(table);
    let (dense_params, times) = (c.dense_params, &c.times);
    let dense_time = times[0];
    let mut ranks = Table::new("Low-rank factorization of both hidden layers (no fine-tuning)", &["rank", "parameters", "test accuracy", "µs / sample", "speed vs dense"]);
    ranks.row(vec!["dense".into(), dense_params.to_string(), format!("{:.2}%", 100.0 * dense_acc), format!("{:.2}", 1e6 * dense_time), "1.00×".into()]);
    let mut factor = Vec::new();
    for ((r, &(params, ref acc)), &t) in RANKS.iter().zip(&c.factorized).zip(&times[1..]) {
        ranks.row(vec![r.to_string(), params.to_string(), format!("{:.2}%", 100.0 * acc), format!("{:.2}", 1e6 * t), format!("{:.2}×", dense_time / t)]);
        factor.push((*r, params, *acc, dense_time / t));
        results.push(json!({ "method": "low-rank", "rank": r, "parameters": params, "accuracy": acc, "seconds_per_sample": t, "dense_seconds_per_sample": dense_time }));
    }
    report.tables.push(ranks);
    report.answer = answer(dense_acc, &tuned_curve, &iterative, &l1, &factor, dense_params);
    curves_over(&ctx.out, "pruning.svg", "test accuracy after one-shot pruning to 50, 80, 90, 95, 98% zeros", "sparsity level (1 = 50% … 5 = 98%)", "fraction classified correctly", vec![("no fine-tuning".into(), prune_curve), ("fine-tuned".into(), tuned_curve.clone())], false)?;
    report.plots = vec![("pruning.svg".into(), "accuracy against pruned fraction".into())];
    report.limits = vec![
        "One seed: differences under about half a point are noise.".into(),
        "The speed of pruned models is not measured: the kernels are dense, so zero weights save no work; only low-rank factorization changes the work, and its timings are in the second table.".into(),
    ];
    report.results = json!({ "dense_accuracy": dense_acc, "dense_parameters": dense_params, "runs": results });
    data.free(ctx.b)?;
    Ok(report)
}

fn answer(dense: f64, tuned: &[f32], iterative: &[(f64, f64, f64)], l1: &[(f32, f64, f64, f64)], factor: &[(usize, usize, f64, f64)], dense_params: usize) -> String {
    let kept = ONE_SHOT.iter().zip(tuned).filter(|(_, &a)| dense - a as f64 <= 0.01).map(|(s, _)| *s).fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))));
    let mut s = match kept {
        Some(k) => format!("Magnitude pruning works as the textbook says, on this one seed: fine-tuned after pruning, the model stayed within one point of its dense accuracy ({:.1}%) up to {:.0}% zero weights. ", 100.0 * dense, 100.0 * k),
        None => format!("Magnitude pruning cost more than a point even at {:.0}% zeros here (dense {:.1}%). ", 100.0 * ONE_SHOT[0], 100.0 * dense),
    };
    if let (Some(last), Some(one)) = (iterative.last(), ONE_SHOT.iter().position(|&x| x == iterative.last().unwrap().0)) {
        let one_shot = tuned[one] as f64;
        s += &format!(
            "At {:.0}% zeros, pruning gradually during training gave {:.1}% against {:.1}% for one-shot pruning with fine-tuning ({}). ",
            100.0 * last.1, 100.0 * last.2, 100.0 * one_shot,
            if last.2 > one_shot + 0.005 { "the gradual ramp wins" } else if one_shot > last.2 + 0.005 { "one-shot wins here" } else { "a tie" }
        );
    }
    if let Some(best) = l1.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
        s += &format!(
            "ℓ1 alone makes weights small, not zero: with λ = {:e}, {:.1}% of the weights ended below {NEAR_ZERO}, and setting them to 0 gave {:.1}% accuracy. ",
            best.0, 100.0 * best.1, 100.0 * best.3
        );
    }
    if let Some(f) = factor.iter().filter(|f| dense - f.2 <= 0.01).min_by_key(|f| f.1) {
        s += &format!(
            "Low-rank factorization is the one that also saves time on this engine: rank {} keeps accuracy within a point with {:.0}% of the parameters and runs {:.2}× as fast.",
            f.0, 100.0 * f.1 as f64 / dense_params as f64, f.3
        );
    } else {
        s += "No rank tried kept accuracy within a point without fine-tuning.";
    }
    s += " Every figure here comes from one trained model (one seed), so no interval backs them: a difference of a \
          point or so, and the 'wins' above, could change with another seed.";
    s
}

/// What the leader measures on the trained dense model.
#[derive(serde::Serialize, serde::Deserialize)]
struct Compressed {
    /// Per `ONE_SHOT` level: test accuracy after pruning, after fine-tuning, zero fraction.
    one_shot: Vec<(f64, f64, f64)>,
    /// Per `RANKS` entry: parameters and test accuracy of the factorized model.
    factorized: Vec<(usize, f64)>,
    /// Seconds per sample of the dense model, then of each factorized one (in alternation).
    times: Vec<f64>,
    dense_params: usize,
}

/// One-shot pruning (with `fine_tune` epochs) and low-rank factorization of the checkpoint at `path`.
fn compress(b: &mut dyn Backend, path: &std::path::Path, data: &Data, fine_tune: usize) -> Result<Compressed> {
    let mut one_shot = Vec::new();
    for s in ONE_SHOT {
        let mut model = checkpoint::load(path)?.build_model(b)?;
        let mut o = Optimizer::new(b, opt())?;
        sparse::prune(b, &model, &mut o, s, Scope::Global)?;
        let before = accuracy(b, &mut model, data)?;
        fit(b, data, &mut model, &mut o, fine_tune, |_| 0.0)?;
        let after = accuracy(b, &mut model, data)?;
        one_shot.push((before, after, zeros(b, &model, 0.0)?));
    }
    // Low-rank factorization of the two hidden layers, no fine-tuning.
    let mut base = checkpoint::load(path)?.build_model(b)?;
    let dense_params = base.parameter_count();
    let mut models = Vec::new();
    let mut factorized = Vec::new();
    for r in RANKS {
        let (mut model, _) = sparse::factorize(b, &base, &[], Rank::Fixed(r))?;
        factorized.push((model.parameter_count(), accuracy(b, &mut model, data)?));
        models.push(model);
    }
    // Inference of the dense model and each factorized one, timed in alternation.
    let times = lab::alternate(3, RANKS.len() + 1, |i| {
        let model = if i == 0 { &mut base } else { &mut models[i - 1] };
        lab::timed_inference(b, model, &data.test, Mode::Eval, 1)
    })?;
    Ok(Compressed { one_shot, factorized, times, dense_params })
}
