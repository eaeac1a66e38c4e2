//! The answers of the experiment reports, generated from the per-seed measurements: each claim
//! of the textbook's answer gets a verdict from the 95% interval of the difference it is about
//! (`stats`): **holds**, **contradicted**, or **inconclusive at this scale** when the interval
//! reaches both sides (or one seed gives no interval). Fed the opposite numbers, each says the
//! opposite; fed noise, each says it cannot tell.

use super::stats::{Difference, Estimate, Unit, Verdict};

mod deep;
pub use deep::{activations, deep_net, elu_vs_relu, DeepActivation, Step};

/// The margin within which two accuracies count as the same (a claim of no effect holds only
/// when the whole interval of the difference lies inside ±1 point).
pub const SAME_ACCURACY: f64 = 0.01;

/// "Holds: …" with the verdict capitalized as a sentence opener.
fn opener(v: Verdict) -> &'static str {
    match v {
        Verdict::Holds => "Holds",
        Verdict::Contradicted => "Contradicted",
        Verdict::Inconclusive => "Inconclusive at this scale",
    }
}

fn acc(values: &[f64]) -> String {
    Estimate::of(values).cell(Unit::Percent)
}

/// Accuracy (per seed) and neuron diversity of one initialization.
#[derive(Debug, Clone)]
pub struct Symmetry {
    pub accuracy: Vec<f64>,
    /// Distinct neurons per hidden layer, averaged over layers and seeds.
    pub distinct: f64,
    pub units: usize,
}

/// Question 1: all weights one He-drawn value.
pub fn init_symmetry(he: &Symmetry, same: &Symmetry, same_dropout: &Symmetry) -> String {
    let stuck = same.distinct <= 1.5;
    let gap = Difference::of(&he.accuracy, &same.accuracy);
    let mut s = if stuck {
        let v = gap.verdict(1.0);
        format!(
            "{}: with one value for every weight each hidden layer kept {:.1} distinct neuron(s) of {} (the symmetry \
             was never broken); He initialization's test accuracy ({}) minus the same-value start's ({}) is {}{}.",
            opener(v),
            same.distinct,
            same.units,
            acc(&he.accuracy),
            acc(&same.accuracy),
            gap.describe(Unit::Percent),
            match v {
                Verdict::Holds => "",
                Verdict::Contradicted =>
                    ": the stuck net did better, so this task needs no more than one neuron a layer",
                Verdict::Inconclusive => ": the seeds cannot tell whether the stuck net is worse",
            }
        )
    } else {
        format!(
            "Contradicted: the same-value start ended with {:.1} distinct neurons of {} per layer (the symmetry broke) \
             and {} test accuracy (He: {}).",
            same.distinct,
            same.units,
            acc(&same.accuracy),
            acc(&he.accuracy)
        )
    };
    if same_dropout.distinct > same.distinct + 1.0 {
        let rescue = Difference::of(&same_dropout.accuracy, &same.accuracy);
        s += &format!(
            " The nuance: dropout breaks the symmetry, since each neuron is dropped on different samples; with it the \
             same-value start ends with {:.1} distinct neurons per layer and {} accuracy, {} against the same start \
             without dropout (that it helps: {}).",
            same_dropout.distinct,
            acc(&same_dropout.accuracy),
            rescue.describe(Unit::Percent),
            rescue.verdict(1.0).word()
        );
    } else {
        s += &format!(
            " Dropout did not break the symmetry here ({:.1} distinct neurons per layer with it).",
            same_dropout.distinct
        );
    }
    s
}

/// One bias initialization, per seed: test accuracy and the fraction of dead units at the
/// start and at the end of training.
#[derive(Debug, Clone)]
pub struct BiasOutcome {
    pub name: String,
    pub accuracy: Vec<f64>,
    pub dead_start: Vec<f64>,
    pub dead_end: Vec<f64>,
}

/// Question 2: zero biases. `outcomes[0]` is the zero start.
pub fn bias_init(outcomes: &[BiasOutcome]) -> String {
    let zero = &outcomes[0];
    let mean = |v: &[f64]| Estimate::of(v).mean;
    let best = outcomes[1..].iter().max_by(|a, b| mean(&a.accuracy).total_cmp(&mean(&b.accuracy))).unwrap_or(zero);
    let gap = Difference::of(&zero.accuracy, &best.accuracy);
    let v = gap.verdict_within(SAME_ACCURACY);
    let mut s = format!(
        "{}: zero biases reached {} test accuracy; minus the best other start's ({}, {}) that is {}, {}.",
        opener(v),
        acc(&zero.accuracy),
        best.name,
        acc(&best.accuracy),
        gap.describe(Unit::Percent),
        match v {
            Verdict::Holds => "inside the ±1-point margin of no difference",
            Verdict::Contradicted => "beyond the ±1-point margin: zero biases cost accuracy here",
            Verdict::Inconclusive => "an interval reaching past the ±1-point margin: the seeds cannot settle it",
        }
    );
    let fewest = outcomes.iter().min_by(|a, b| mean(&a.dead_end).total_cmp(&mean(&b.dead_end))).expect("outcomes");
    if fewest.name != zero.name {
        let more = Difference::of(&zero.dead_end, &fewest.dead_end);
        s += &format!(
            " That positive biases keep more ReLU units alive: {} (dead at the end {} with zero biases, {} with {}; \
             difference {}).",
            more.verdict(1.0).word(),
            Estimate::of(&zero.dead_end).cell(Unit::Percent),
            Estimate::of(&fewest.dead_end).cell(Unit::Percent),
            fewest.name,
            more.describe(Unit::Percent)
        );
    } else {
        s += &format!(
            " No start had fewer dead units at the end than zero biases ({}).",
            Estimate::of(&zero.dead_end).cell(Unit::Percent)
        );
    }
    // Units dead at the end that were dead from the start did not die in training.
    let died = Difference::of(&zero.dead_end, &zero.dead_start);
    s += &format!(
        " With zero biases {} of units were dead at initialization and {} at the end ({} in training).",
        Estimate::of(&zero.dead_start).cell(Unit::Percent),
        Estimate::of(&zero.dead_end).cell(Unit::Percent),
        died.describe(Unit::Percent)
    );
    s
}

/// Question 5: momentum `beta`, per seed: the final losses of the seeds that did not diverge.
#[derive(Debug, Clone)]
pub struct MomentumOutcome {
    pub beta: f64,
    pub final_loss: Vec<f64>,
    pub diverged: usize,
    pub seeds: usize,
    pub overshoot: f64,
    pub oscillation: f64,
}

/// The question about momentum, for runs of `steps` steps.
pub fn momentum(outcomes: &[MomentumOutcome], steps: usize) -> String {
    let extreme = outcomes.iter().max_by(|a, b| a.beta.total_cmp(&b.beta)).expect("outcomes");
    let mean = |o: &MomentumOutcome| Estimate::of(&o.final_loss).mean;
    // The best of the other settings: the one the extreme is measured against.
    let best = outcomes
        .iter()
        .filter(|o| o.beta != extreme.beta && !o.final_loss.is_empty())
        .min_by(|a, b| mean(a).total_cmp(&mean(b)));
    let memory = 1.0 / (1.0 - extreme.beta);
    let length = if memory > steps as f64 {
        format!(
            " The run took {steps} steps against β = {}'s memory of 1/(1 − β) = {memory:.0} steps: too short for its \
             speed to build up fully.",
            extreme.beta
        )
    } else {
        format!(" The run took {steps} steps, against β = {}'s memory of {memory:.0} steps.", extreme.beta)
    };
    let Some(best) = best else {
        return format!(
            "Inconclusive at this scale: every setting but β = {} diverged, so there is nothing to compare it \
             with: the learning rate is too high for this comparison.{length}",
            extreme.beta
        );
    };
    if extreme.diverged == extreme.seeds {
        return format!(
            "Holds: with β = {} the optimizer kept its speed and diverged in all {} seeds, while β = {} ended at loss \
             {}.{length}",
            extreme.beta,
            extreme.seeds,
            best.beta,
            Estimate::of(&best.final_loss).cell(Unit::Decimals(3))
        );
    }
    let gap = Difference::of(&extreme.final_loss, &best.final_loss);
    let v = gap.verdict(1.0);
    // The oscillation measure against the smallest β (plain SGD where it ran): the textbook's
    // oscillation is a claim too, and the measure can fail to show it.
    let base = outcomes.iter().min_by(|a, b| a.beta.total_cmp(&b.beta)).filter(|o| o.beta != extreme.beta);
    let oscillation = match base {
        Some(base) if extreme.oscillation > base.oscillation => format!(
            " It reversed direction more often than β = {} ({:.0}% of windows; means over seeds, no interval): the \
             textbook's oscillation.",
            base.beta,
            100.0 * base.oscillation
        ),
        Some(base) => format!(
            " Yet it reversed direction no more often than β = {} ({:.0}% of windows; means over seeds, no \
             interval): the textbook's oscillation does not show in this measure, which counts reversals between \
             windows, so swings slower than a window or faster than one are not seen.",
            base.beta,
            100.0 * base.oscillation
        ),
        None => String::new(),
    };
    format!(
        "{}: β = {} ended at loss {} ({} of {} seeds diverged), against {} for β = {}: a difference of {}{}; its \
         loss rose {:.0}% above its best and reversed direction in {:.0}% of the traced windows.{oscillation}{length}",
        opener(v),
        extreme.beta,
        Estimate::of(&extreme.final_loss).cell(Unit::Decimals(3)),
        extreme.diverged,
        extreme.seeds,
        Estimate::of(&best.final_loss).cell(Unit::Decimals(3)),
        best.beta,
        gap.describe(Unit::Decimals(3)),
        if v == Verdict::Contradicted { ", lower than the best: the momentum helped here" } else { "" },
        100.0 * extreme.overshoot,
        100.0 * extreme.oscillation
    )
}

/// Question 7: what dropout costs, per seed where there are seeds.
#[derive(Debug, Clone)]
pub struct DropoutCost {
    /// Seconds per training step, one sample per round of timings taken in alternation.
    pub step_without: Vec<f64>,
    pub step_with: Vec<f64>,
    pub epochs_without: Vec<Option<f64>>,
    pub epochs_with: Vec<Option<f64>>,
    /// Epochs each run had at most (a seed that never reached the target counts as one more).
    pub epochs: usize,
    pub inference_ratio: f64,
    /// Seconds per sample of one MC pass, relative to one plain inference pass.
    pub mc_pass_ratio: f64,
}

pub fn dropout_cost(c: &DropoutCost) -> String {
    let censored = |v: &[Option<f64>]| v.iter().map(|e| e.unwrap_or(c.epochs as f64 + 1.0)).collect::<Vec<_>>();
    let epochs = Difference::of(&censored(&c.epochs_with), &censored(&c.epochs_without));
    let step = Difference::of(&c.step_with, &c.step_without);
    let ratio = Estimate::of(&c.step_with).mean / Estimate::of(&c.step_without).mean;
    let mut s = format!(
        "Training needs more epochs with dropout: {} (epochs to the target, with minus without: {}). Each step costs \
         more with dropout: {} ({ratio:.2}× the time, steps timed in alternation; with minus without {} ms).",
        epochs.verdict(1.0).word(),
        epochs.describe(Unit::Decimals(1)),
        step.verdict(1.0).word(),
        Difference { diff: 1e3 * step.diff, half: step.half.map(|h| 1e3 * h), n: step.n }.describe(Unit::Decimals(2))
    );
    s += &if (c.inference_ratio - 1.0).abs() <= 0.05 {
        format!(
            " Inference: no cost, dropout layers in evaluation mode took {:.2}× (they are skipped).",
            c.inference_ratio
        )
    } else if c.inference_ratio > 1.0 {
        format!(" Inference: the dropout layers cost {:.2}× even in evaluation mode.", c.inference_ratio)
    } else {
        format!(" Inference: the model with dropout layers ran at {:.2}× the time (noise).", c.inference_ratio)
    };
    s += &format!(" MC dropout costs one full pass per sample: {:.2}× a plain pass each.", c.mc_pass_ratio);
    s
}
