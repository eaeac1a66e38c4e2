//! The answers of the experiment reports, generated from the measured numbers: each says
//! where the textbook answer holds, where it needs a nuance, and by how much. Fed the
//! opposite numbers, each says the opposite.

/// A percentage with one decimal.
fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// Accuracy and neuron diversity of one initialization.
#[derive(Debug, Clone, Copy)]
pub struct Symmetry {
    pub accuracy: f64,
    /// Distinct neurons per hidden layer, averaged over layers and seeds.
    pub distinct: f64,
    pub units: usize,
}

/// Question 1: all weights one He-drawn value.
pub fn init_symmetry(he: Symmetry, same: Symmetry, same_dropout: Symmetry) -> String {
    let stuck = same.distinct <= 1.5;
    let worse = he.accuracy - same.accuracy;
    let mut s = if stuck && worse > 0.02 {
        format!(
            "The textbook answer holds: with one value for every weight, each hidden layer kept {:.1} distinct neuron(s) \
             of {} and the net reached {} test accuracy, against {} with He initialization ({:.1} points lower).",
            same.distinct, same.units, pct(same.accuracy), pct(he.accuracy), 100.0 * worse
        )
    } else if stuck {
        format!(
            "The symmetry was never broken ({:.1} distinct neurons of {} per layer), yet accuracy was only {:.1} points \
             below He ({} against {}): this task is easy enough for one neuron per layer.",
            same.distinct, same.units, 100.0 * worse, pct(same.accuracy), pct(he.accuracy)
        )
    } else {
        format!(
            "The textbook answer does not hold here: the same-value start ended with {:.1} distinct neurons of {} per \
             layer and {} test accuracy (He: {}).",
            same.distinct, same.units, pct(same.accuracy), pct(he.accuracy)
        )
    };
    if same_dropout.distinct > same.distinct + 1.0 {
        let rescued = same_dropout.accuracy - same.accuracy;
        s += &format!(
            " The nuance: dropout breaks the symmetry, since each neuron is dropped on different samples; with it the \
             same-value start ends with {:.1} distinct neurons per layer and {} accuracy{}.",
            same_dropout.distinct,
            pct(same_dropout.accuracy),
            if rescued > 0.02 {
                format!(", {:.1} points better than without dropout", 100.0 * rescued)
            } else {
                ", which did not rescue accuracy: the layers' sums of equal weights are already far off scale".to_string()
            }
        );
    } else {
        s += &format!(
            " Dropout did not break the symmetry here ({:.1} distinct neurons per layer with it).",
            same_dropout.distinct
        );
    }
    s
}

/// One bias initialization: accuracy (mean, std over seeds) and dead-unit fraction.
#[derive(Debug, Clone)]
pub struct BiasOutcome {
    pub name: String,
    pub accuracy: (f64, f64),
    pub dead: f64,
}

/// Question 2: zero biases. `outcomes[0]` is the zero start.
pub fn bias_init(outcomes: &[BiasOutcome]) -> String {
    let zero = &outcomes[0];
    let best = outcomes.iter().max_by(|a, b| a.accuracy.0.total_cmp(&b.accuracy.0)).expect("outcomes");
    let gap = best.accuracy.0 - zero.accuracy.0;
    // Two standard deviations over seeds, and never less than a point (runs on a data subset
    // differ by about that from seed to seed).
    let noise = (2.0 * best.accuracy.1.max(zero.accuracy.1)).max(0.01);
    let mut s = if gap <= noise {
        format!(
            "The textbook answer holds: zero biases reached {} ± {} test accuracy, within noise of the best start ({}, \
             {} ± {}).",
            pct(zero.accuracy.0), pct(zero.accuracy.1), best.name, pct(best.accuracy.0), pct(best.accuracy.1)
        )
    } else {
        format!(
            "Zero biases cost accuracy here: {} against {} for {} ({:.1} points, beyond the noise margin of {:.1} points).",
            pct(zero.accuracy.0), pct(best.accuracy.0), best.name, 100.0 * gap, 100.0 * noise
        )
    };
    let fewest = outcomes.iter().min_by(|a, b| a.dead.total_cmp(&b.dead)).expect("outcomes");
    if zero.dead - fewest.dead <= 0.01 && fewest.name == zero.name {
        s += &format!(" No start had fewer dead units than zero biases ({}).", pct(zero.dead));
    } else if zero.dead - fewest.dead > 0.01 {
        s += &format!(
            " Positive biases do keep more ReLU units alive: {} of units were dead with zero biases, {} with {}.",
            pct(zero.dead), pct(fewest.dead), fewest.name
        );
    } else {
        s += &format!(
            " Small positive biases did not keep more units alive: {} dead with zero biases, {} at best ({}).",
            pct(zero.dead), pct(fewest.dead), fewest.name
        );
    }
    s
}

/// One activation in the deep net.
#[derive(Debug, Clone, Copy)]
pub struct DeepActivation {
    pub dead: f64,
    /// Mean activation over the hidden layers at the end.
    pub mean_activation: f64,
    pub epochs_to_target: Option<f64>,
    pub seconds_per_epoch: f64,
    pub accuracy: f64,
}

/// Question 3: ELU against ReLU in a deep net.
pub fn elu_vs_relu(relu: DeepActivation, elu: DeepActivation, target: f64) -> String {
    let mut held = Vec::new();
    let mut missed = Vec::new();
    let dead = format!("dead units {} (ELU) vs {} (ReLU)", pct(elu.dead), pct(relu.dead));
    if elu.dead < relu.dead { held.push(dead) } else { missed.push(dead) }
    let centred = format!("mean activation {:.3} vs {:.3}", elu.mean_activation, relu.mean_activation);
    if elu.mean_activation.abs() < relu.mean_activation.abs() { held.push(centred) } else { missed.push(centred) }
    let show = |e: Option<f64>| e.map_or("never".to_string(), |e| format!("{e:.1}"));
    let speed = format!("epochs to {} validation accuracy {} vs {}", pct(target), show(elu.epochs_to_target), show(relu.epochs_to_target));
    let faster = match (elu.epochs_to_target, relu.epochs_to_target) {
        (Some(e), Some(r)) => Some(e < r),
        (Some(_), None) => Some(true),
        (None, Some(_)) => Some(false),
        // Neither got there: the run says nothing about speed.
        (None, None) => None,
    };
    match faster {
        Some(true) => held.push(speed),
        Some(false) => missed.push(speed),
        None => {}
    }
    let mut s = match (held.len(), missed.len()) {
        (3, 0) => format!("All three advantages of ELU held: {}.", held.join("; ")),
        (_, 0) => format!("Both measurable advantages of ELU held: {}; neither net reached {} validation accuracy, so convergence speed is not compared.", held.join("; "), pct(target)),
        (0, _) => format!("None of ELU's advantages showed here: {}.", missed.join("; ")),
        _ => format!("ELU's advantages held in part: it won on {}, but not on {}.", held.join("; "), missed.join("; ")),
    };
    let cost = elu.seconds_per_epoch / relu.seconds_per_epoch;
    s += &if cost > 1.02 {
        format!(" The cost is real but small: an ELU epoch took {cost:.2}× a ReLU epoch.")
    } else {
        format!(" ELU's exponential cost nothing measurable: an epoch took {cost:.2}× a ReLU epoch (the step is matmul-bound).")
    };
    s
}

/// Question 5: momentum `beta` with its final loss, overshoot and oscillation (None: diverged).
#[derive(Debug, Clone, Copy)]
pub struct MomentumOutcome {
    pub beta: f64,
    pub final_loss: Option<f64>,
    pub overshoot: f64,
    pub oscillation: f64,
}

pub fn momentum(outcomes: &[MomentumOutcome]) -> String {
    let extreme = outcomes.iter().max_by(|a, b| a.beta.total_cmp(&b.beta)).expect("outcomes");
    let best = outcomes
        .iter()
        .filter(|o| o.final_loss.is_some())
        .min_by(|a, b| a.final_loss.unwrap().total_cmp(&b.final_loss.unwrap()));
    let Some(best) = best else {
        return "Every momentum setting diverged: the learning rate is too high for this comparison.".into();
    };
    match extreme.final_loss {
        None => format!(
            "The textbook answer holds: with β = {} the optimizer kept its speed and diverged, while β = {} ended at \
             loss {:.3}.",
            extreme.beta, best.beta, best.final_loss.unwrap()
        ),
        Some(l) if l > 1.5 * best.final_loss.unwrap() => format!(
            "The textbook answer holds: β = {} overshot (its loss rose {:.0}% above its best, oscillating in {} of \
             the traced windows) and ended at loss {l:.3}, {:.1}× the best final loss ({:.3}, β = {}).",
            extreme.beta,
            100.0 * extreme.overshoot,
            pct(extreme.oscillation),
            l / best.final_loss.unwrap(),
            best.final_loss.unwrap(),
            best.beta
        ),
        Some(l) => format!(
            "The textbook answer did not show here: β = {} ended at loss {l:.3}, close to the best ({:.3} at β = {}); \
             the run was too short or the rate too small for its speed to build up.",
            extreme.beta,
            best.final_loss.unwrap(),
            best.beta
        ),
    }
}

/// Question 7: what dropout costs.
#[derive(Debug, Clone, Copy)]
pub struct DropoutCost {
    pub step_ratio: f64,
    pub epochs_without: Option<f64>,
    pub epochs_with: Option<f64>,
    pub inference_ratio: f64,
    /// Seconds per sample of one MC pass, relative to one plain inference pass.
    pub mc_pass_ratio: f64,
}

pub fn dropout_cost(c: DropoutCost) -> String {
    let show = |e: Option<f64>| e.map_or("never".to_string(), |e| format!("{e:.1}"));
    let slower_to_converge = match (c.epochs_with, c.epochs_without) {
        (Some(w), Some(wo)) => w > wo,
        (None, Some(_)) => true,
        _ => false,
    };
    let mut s = if slower_to_converge {
        format!(
            "Training: yes. With dropout the net needed {} epochs to reach the target against {} without, and each step \
             took {:.2}× as long.",
            show(c.epochs_with), show(c.epochs_without), c.step_ratio
        )
    } else {
        format!(
            "Training: not here. With dropout the net reached the target in {} epochs against {} without; each step \
             took {:.2}× as long.",
            show(c.epochs_with), show(c.epochs_without), c.step_ratio
        )
    };
    s += &if (c.inference_ratio - 1.0).abs() <= 0.05 {
        format!(" Inference: no, dropout layers in evaluation mode cost {:.2}× (they are skipped).", c.inference_ratio)
    } else if c.inference_ratio > 1.0 {
        format!(" Inference: the dropout layers cost {:.2}× even in evaluation mode.", c.inference_ratio)
    } else {
        format!(" Inference: the model with dropout layers ran at {:.2}× the time (noise).", c.inference_ratio)
    };
    s += &format!(" MC dropout costs one full pass per sample: {:.2}× a plain pass each.", c.mc_pass_ratio);
    s
}
