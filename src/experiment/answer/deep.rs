//! The answers about deep nets: ELU against ReLU, every activation, and the deep-net exercise.

use super::super::stats::{Difference, Estimate, Unit, Verdict};
use super::SAME_ACCURACY;

/// One activation in the deep net, per seed. `epochs_to_target` is None for a seed that never
/// reached the target.
#[derive(Debug, Clone)]
pub struct DeepActivation {
    /// Dead units at the end, and before training.
    pub dead: Vec<f64>,
    pub dead_start: Vec<f64>,
    /// Mean activation over the hidden layers at the end.
    pub mean_activation: Vec<f64>,
    pub epochs_to_target: Vec<Option<f64>>,
    pub seconds_per_epoch: Vec<f64>,
    /// Seconds per training step, one sample per round of timings taken in alternation with
    /// the other net (`lab::alternated_steps`); empty when not measured, and the cost then
    /// rests on the runs' epoch times, taken in sequence.
    pub step_seconds: Vec<f64>,
    pub accuracy: Vec<f64>,
    /// Per seed, over the first `smooth_steps` steps: the mean step-to-step change of the
    /// gradient norm and of the mini-batch loss (`smoothness`); empty when not measured.
    pub gradient_change: Vec<f64>,
    pub loss_change: Vec<f64>,
    pub smooth_steps: usize,
}

/// Question 3: ELU against ReLU in a deep net of `epochs` epochs at most.
pub fn elu_vs_relu(relu: &DeepActivation, elu: &DeepActivation, target: f64, epochs: usize) -> String {
    let dead = Difference::of(&elu.dead, &relu.dead);
    let abs = |v: &[f64]| v.iter().map(|x| x.abs()).collect::<Vec<_>>();
    let centred = Difference::of(&abs(&elu.mean_activation), &abs(&relu.mean_activation));
    // A seed that never got there counts as one epoch past the run: a lower bound.
    let censored = |v: &[Option<f64>]| v.iter().map(|e| e.unwrap_or(epochs as f64 + 1.0)).collect::<Vec<_>>();
    let reached = |v: &[Option<f64>]| v.iter().filter(|e| e.is_some()).count();
    let speed = Difference::of(&censored(&elu.epochs_to_target), &censored(&relu.epochs_to_target));
    let mut s = format!("Fewer dead units with ELU: {} (ELU minus ReLU {}). ", dead.verdict(-1.0).word(), dead.describe(Unit::Percent));
    if !relu.dead_start.is_empty() {
        // Units dead before any step are the initialization's doing, not training's.
        let died = Difference::of(&relu.dead, &relu.dead_start);
        s += &format!(
            "Dead before training: ReLU {}, ELU {}; that ReLU units died in training: {} (end minus start {}). ",
            Estimate::of(&relu.dead_start).cell(Unit::Percent),
            Estimate::of(&elu.dead_start).cell(Unit::Percent),
            died.verdict(1.0).word(),
            died.describe(Unit::Percent)
        );
    }
    s += &format!(
        "Mean activation nearer zero: {} (|mean| ELU minus ReLU {}). ",
        centred.verdict(-1.0).word(),
        centred.describe(Unit::Decimals(3))
    );
    if reached(&elu.epochs_to_target) + reached(&relu.epochs_to_target) == 0 {
        s += &format!(
            "Faster convergence: not measured, as no seed of either net reached {:.1}% validation accuracy. ",
            100.0 * target
        );
    } else {
        s += &format!(
            "Faster to {:.1}% validation accuracy: {} (epochs, ELU minus ReLU {}; {} of {} ELU and {} of {} ReLU seeds \
             got there, a seed that did not counting as {} epochs). ",
            100.0 * target,
            speed.verdict(-1.0).word(),
            speed.describe(Unit::Decimals(1)),
            reached(&elu.epochs_to_target),
            elu.epochs_to_target.len(),
            reached(&relu.epochs_to_target),
            relu.epochs_to_target.len(),
            epochs + 1
        );
    }
    if elu.gradient_change.is_empty() || relu.gradient_change.is_empty() {
        s += "Smoothness, the third advantage, is not measured by this experiment. ";
    } else {
        let grad = Difference::of(&elu.gradient_change, &relu.gradient_change);
        let loss = Difference::of(&elu.loss_change, &relu.loss_change);
        s += &format!(
            "Smoothness, measured by what it is said to buy (a steadier descent), over the first {} steps: the gradient \
             norm changes less from step to step with ELU: {} (mean |Δ ln ‖g‖|, ELU minus ReLU {}); the mini-batch loss \
             is less rough about its trend: {} (mean |Δ² ln L|, {}). ",
            elu.smooth_steps,
            grad.verdict(-1.0).word(),
            grad.describe(Unit::Decimals(3)),
            loss.verdict(-1.0).word(),
            loss.describe(Unit::Decimals(3))
        );
    }
    let alternated = !elu.step_seconds.is_empty() && !relu.step_seconds.is_empty();
    let (e, r, unit, how) = if alternated {
        (&elu.step_seconds, &relu.step_seconds, "step", "timed in alternation")
    } else {
        (&elu.seconds_per_epoch, &relu.seconds_per_epoch, "epoch", "taken in sequence")
    };
    let cost = Difference::of(&ms(e), &ms(r));
    let ratio = Estimate::of(e).mean / Estimate::of(r).mean;
    s += &match cost.verdict(1.0) {
        Verdict::Holds => format!(
            "Cost: an ELU {unit} took {ratio:.2}× a ReLU {unit} ({how}; ELU minus ReLU in ms: {}), beyond the spread \
             of the timings.",
            cost.describe(Unit::Decimals(2))
        ),
        Verdict::Contradicted => format!(
            "Cost: an ELU {unit} took {ratio:.2}× a ReLU {unit} ({how}; ELU minus ReLU in ms: {}): ELU was the cheaper.",
            cost.describe(Unit::Decimals(2))
        ),
        Verdict::Inconclusive => format!(
            "Cost: none measurable; an ELU {unit} took {ratio:.2}× a ReLU {unit}, within the spread of the timings \
             ({how}; ELU minus ReLU in ms: {}).",
            cost.describe(Unit::Decimals(2))
        ),
    };
    s
}

/// One step of the build-up, per seed.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub accuracy: Vec<f64>,
    /// The epoch whose weights early stopping restored.
    pub best_epoch: Vec<f64>,
    pub seconds_per_epoch: Vec<f64>,
    /// Seconds per training step, one sample per round of timings taken in alternation with
    /// the plain ELU net (batch norm's cost); empty when not measured.
    pub step_seconds: Vec<f64>,
    /// Seeds whose training loss was at or above chance (ln classes) for a whole epoch.
    pub failed: usize,
}

/// Seconds as milliseconds, for timings compared in ms.
fn ms(seconds: &[f64]) -> Vec<f64> {
    seconds.iter().map(|x| x * 1e3).collect()
}

/// Which way a difference went, as its verdict reads it.
fn direction(v: Verdict) -> &'static str {
    match v {
        Verdict::Holds => "higher",
        Verdict::Contradicted => "lower",
        Verdict::Inconclusive => "the seeds cannot tell",
    }
}

/// The chapter's exercise: each step of the deep net against the one before.
pub fn deep_net(rows: &[Step], mc: Option<(Vec<f64>, Vec<f64>)>) -> String {
    let (base, bn, selu) = (&rows[0], &rows[1], &rows[2]);
    let fewer = Difference::of(&bn.best_epoch, &base.best_epoch);
    // The cost from steps timed in alternation where measured, else from the runs' epochs.
    let alternated = !bn.step_seconds.is_empty() && !base.step_seconds.is_empty();
    let (with, without, unit, how) = if alternated {
        (&bn.step_seconds, &base.step_seconds, "step", "steps timed in alternation")
    } else {
        (&bn.seconds_per_epoch, &base.seconds_per_epoch, "epoch", "epochs taken in sequence")
    };
    let slower = Difference::of(&ms(with), &ms(without));
    let accuracy = Difference::of(&bn.accuracy, &base.accuracy);
    let ratio = Estimate::of(with).mean / Estimate::of(without).mean;
    let mut s = format!(
        "Batch normalization reaches its best epoch sooner: {} (best epoch, with minus without: {}). Each {unit} is \
         slower with it: {} ({ratio:.2}× the time, {how}; with minus without in ms: {}). Its test accuracy minus the \
         plain ELU net's: {} ({}). ",
        fewer.verdict(-1.0).word(),
        fewer.describe(Unit::Decimals(1)),
        slower.verdict(1.0).word(),
        slower.describe(Unit::Decimals(2)),
        accuracy.describe(Unit::Percent),
        direction(accuracy.verdict(1.0))
    );
    // "SELU self-normalizes without batch norm": no worse than the batch-normalized net.
    let selu_gap = Difference::of(&selu.accuracy, &bn.accuracy);
    let v = match selu_gap.verdict(1.0) {
        Verdict::Holds => Verdict::Holds,
        _ => selu_gap.verdict_within(SAME_ACCURACY),
    };
    s += &format!(
        "SELU without batch norm does as well as the batch-normalized net: {} (SELU minus batch norm: {}). ",
        v.word(),
        selu_gap.describe(Unit::Percent)
    );
    if let Some((with_mc, without)) = mc {
        let gain = Difference::of(&with_mc, &without);
        s += &format!(
            "MC dropout raises the alpha-dropout net's accuracy: {} (with minus without: {}). ",
            gain.verdict(1.0).word(),
            gain.describe(Unit::Percent)
        );
    }
    // "1cycle trains faster": its whole schedule against the constant-rate SELU net.
    if let Some(cycle) = rows.get(4) {
        let gain = Difference::of(&cycle.accuracy, &selu.accuracy);
        s += &format!(
            "1cycle against the same SELU net at a constant rate: test accuracy {} ({}); 1cycle ran its whole \
             schedule, the constant rate stopped early (best epoch {}). ",
            gain.describe(Unit::Percent),
            direction(gain.verdict(1.0)),
            Estimate::of(&selu.best_epoch).cell(Unit::Decimals(1)),
        );
    }
    let failed: Vec<String> = rows
        .iter()
        .filter(|r| r.failed > 0)
        .map(|r| format!("{} ({} of {} seeds)", r.name, r.failed, r.accuracy.len()))
        .collect();
    if !failed.is_empty() {
        s += &format!(
            "Failed to learn (an epoch's training loss at or above chance, ln classes): {}; their accuracy \
             says that the run's settings were wrong for the net, not what the method can do. ",
            failed.join(", ")
        );
    }
    let best = rows
        .iter()
        .max_by(|a, b| Estimate::of(&a.accuracy).mean.total_cmp(&Estimate::of(&b.accuracy).mean))
        .expect("rows");
    s += &format!("Highest mean test accuracy: {} ({}).", best.name, Estimate::of(&best.accuracy).cell(Unit::Percent));
    s
}

/// Question 4, from each hidden activation's (name, test accuracy per seed, mean epochs to
/// `target` where every seed got there, ms per training step per alternated round) and each output's (task,
/// logistic rather than softmax, test accuracy per seed).
pub fn activations(
    rows: &[(String, Vec<f64>, Option<f64>, Vec<f64>)],
    outputs: &[(&str, bool, Vec<f64>)],
    target: f32,
) -> String {
    let mean = |v: &[f64]| Estimate::of(v).mean;
    let best = rows.iter().max_by(|a, b| mean(&a.1).total_cmp(&mean(&b.1))).unwrap();
    let relu = rows.iter().find(|r| r.0 == "relu").unwrap();
    let fastest = rows.iter().filter(|r| r.2.is_some()).min_by(|a, b| a.2.unwrap().total_cmp(&b.2.unwrap()));
    let cheapest = rows.iter().min_by(|a, b| mean(&a.3).total_cmp(&mean(&b.3))).unwrap();
    let dearest = rows.iter().max_by(|a, b| mean(&a.3).total_cmp(&mean(&b.3))).unwrap();
    let gap = Difference::of(&best.1, &relu.1);
    let mut s = if best.0 == relu.0 {
        format!("Highest mean test accuracy: ReLU ({}). ", Estimate::of(&relu.1).cell(Unit::Percent))
    } else {
        format!(
            "Highest mean test accuracy: {} ({}); that it beats ReLU ({}): {} ({} minus ReLU {}). ",
            best.0,
            Estimate::of(&best.1).cell(Unit::Percent),
            Estimate::of(&relu.1).cell(Unit::Percent),
            gap.verdict(1.0).word(),
            best.0,
            gap.describe(Unit::Percent)
        )
    };
    if let Some(f) = fastest {
        s += &format!(
            "First to {:.0}% validation accuracy on average: {} ({:.1} epochs). ",
            100.0 * target,
            f.0,
            f.2.unwrap()
        );
    }
    let others: Vec<f64> = rows.iter().filter(|r| r.0 != relu.0).flat_map(|r| r.3.iter().copied()).collect();
    let speed = Difference::of(&relu.3, &others);
    s += &format!(
        "That ReLU trains fastest per step: {} (ReLU {:.2}× the other activations' mean; ms per step, ReLU minus the \
         others, {}; cheapest {} at {:.2} ms, dearest {} at {:.2} ms; steps timed in alternation). ",
        speed.verdict(-1.0).word(),
        mean(&relu.3) / mean(&others),
        speed.describe(Unit::Decimals(2)),
        cheapest.0,
        mean(&cheapest.3),
        dearest.0,
        mean(&dearest.3)
    );
    let find = |task: &str, logistic: bool| {
        outputs.iter().find(|o| o.0 == task && o.1 == logistic).map_or(Vec::new(), |o| o.2.clone())
    };
    let (bs, bl) = (find("Sandal vs Sneaker", false), find("Sandal vs Sneaker", true));
    let (ms, ml) = (find("10 classes", false), find("10 classes", true));
    let binary = Difference::of(&bl, &bs);
    let ten = Difference::of(&ms, &ml);
    s += &format!(
        "Outputs: on the binary task one logistic unit and two softmax units are the same model, and score the same: \
         {} (logistic minus softmax {}); on ten exclusive classes softmax beats one-vs-rest logistic outputs: {} \
         (softmax minus logistic {}).",
        binary.verdict_within(SAME_ACCURACY).word(),
        binary.describe(Unit::Percent),
        ten.verdict(1.0).word(),
        ten.describe(Unit::Percent)
    );
    s
}
