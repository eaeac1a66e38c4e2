//! The experiments' measurements on small constructed cases with known answers, and the
//! generated answers: fed the opposite numbers, each says the opposite.

use wgtrain::experiment::answer::{self, BiasOutcome, DeepActivation, DropoutCost, MomentumOutcome, Symmetry};
use wgtrain::experiment::measure::*;

#[test]
fn distinct_units_counts_equal_columns_once() {
    // 3 inputs × 4 units: columns 0 and 2 equal, 1 and 3 differ from everything.
    let w = [1.0, 2.0, 1.0, 5.0, 0.5, 0.1, 0.5, 0.2, -1.0, 3.0, -1.0, 3.0];
    assert_eq!(distinct_units(&w, None, 3, 4, 1e-5), 3);
    // A bias tells columns 0 and 2 apart.
    assert_eq!(distinct_units(&w, Some(&[0.0, 0.0, 1.0, 0.0]), 3, 4, 1e-5), 4);
    // Within tolerance (relative to the largest |w| = 5): equal.
    let mut near = w;
    near[2] += 1e-6;
    assert_eq!(distinct_units(&near, None, 3, 4, 1e-5), 3);
    assert_eq!(distinct_units(&[0.7; 12], None, 3, 4, 1e-5), 1, "one value everywhere: one neuron");
}

#[test]
fn dead_units_are_constant_over_the_probe_batch() {
    // 3 rows × 4 units: unit 0 always 0 (dead ReLU), unit 1 varies, unit 2 always −1 (saturated
    // ELU), unit 3 varies by less than the tolerance.
    let acts = [0.0, 1.0, -1.0, 0.5, 0.0, 2.0, -1.0, 0.5 + 1e-7, 0.0, 0.0, -1.0, 0.5];
    assert_eq!(dead_fraction(&acts, 3, 4), 0.75);
    assert_eq!(dead_fraction(&[1.0, 2.0], 2, 1), 0.0);
    assert!((mean(&[1.0, 2.0, 4.5]) - 2.5).abs() < 1e-12);
}

#[test]
fn epochs_to_target_overshoot_and_oscillation() {
    assert_eq!(epochs_to_target(&[0.5, 0.7, 0.81, 0.79, 0.9], 0.8), Some(3));
    assert_eq!(epochs_to_target(&[0.5, 0.7], 0.8), None);
    assert_eq!(overshoot(&[3.0, 2.0, 1.0, 0.5]), 0.0, "a falling curve never overshoots");
    assert!((overshoot(&[3.0, 1.0, 1.5, 0.8]) - 0.5).abs() < 1e-9, "1.0 → 1.5 is a 50% rise");
    assert_eq!(overshoot(&[1.0, f32::NAN]), f64::INFINITY);
    assert_eq!(oscillation(&[4.0, 3.0, 2.0, 1.0]), 0.0);
    assert_eq!(oscillation(&[1.0, 2.0, 1.0, 2.0, 1.0]), 1.0);
    assert!((oscillation(&[1.0, 2.0, 3.0, 2.0, 1.0]) - 1.0 / 3.0).abs() < 1e-9, "one reversal in three turns");
    let (m, s) = mean_std(&[1.0, 2.0, 3.0]);
    assert!((m - 2.0).abs() < 1e-12 && (s - 1.0).abs() < 1e-12, "sample std");
    assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), 2.5);
}

#[test]
fn init_symmetry_answers_follow_the_numbers() {
    let he = Symmetry { accuracy: 0.85, distinct: 100.0, units: 100 };
    let stuck = Symmetry { accuracy: 0.30, distinct: 1.0, units: 100 };
    let broken = Symmetry { accuracy: 0.80, distinct: 90.0, units: 100 };
    let a = answer::init_symmetry(he, stuck, broken);
    assert!(a.contains("The textbook answer holds") && a.contains("dropout breaks the symmetry"), "{a}");
    assert!(a.contains("50.0 points better"), "{a}");
    let b = answer::init_symmetry(he, broken, stuck);
    assert!(b.contains("does not hold") && b.contains("Dropout did not break the symmetry"), "{b}");
}

#[test]
fn bias_answers_follow_the_numbers() {
    let o = |name: &str, acc: f64, dead: f64| BiasOutcome { name: name.into(), accuracy: (acc, 0.002), dead };
    let holds = answer::bias_init(&[o("0", 0.85, 0.10), o("0.01", 0.851, 0.10), o("0.1", 0.849, 0.02)]);
    assert!(holds.contains("The textbook answer holds") && holds.contains("keep more ReLU units alive"), "{holds}");
    let fails = answer::bias_init(&[o("0", 0.80, 0.02), o("0.01", 0.85, 0.10), o("0.1", 0.86, 0.05)]);
    assert!(fails.contains("Zero biases cost accuracy") && fails.contains("No start had fewer dead units"), "{fails}");
    let alike = answer::bias_init(&[o("0", 0.85, 0.10), o("0.1", 0.85, 0.095)]);
    assert!(alike.contains("did not keep more units alive"), "{alike}");
}

#[test]
fn elu_answers_follow_the_numbers() {
    let good = DeepActivation { dead: 0.0, mean_activation: 0.05, epochs_to_target: Some(2.0), seconds_per_epoch: 1.1, accuracy: 0.85 };
    let bad = DeepActivation { dead: 0.3, mean_activation: 0.6, epochs_to_target: Some(4.0), seconds_per_epoch: 1.0, accuracy: 0.80 };
    let a = answer::elu_vs_relu(bad, good, 0.8);
    assert!(a.starts_with("All three advantages of ELU held") && a.contains("1.10×"), "{a}");
    let b = answer::elu_vs_relu(good, bad, 0.8);
    assert!(b.starts_with("None of ELU's advantages"), "{b}");
    let never = |d: DeepActivation| DeepActivation { epochs_to_target: None, ..d };
    let c = answer::elu_vs_relu(never(bad), never(good), 0.8);
    assert!(c.starts_with("Both measurable advantages") && c.contains("not compared"), "{c}");
}

#[test]
fn momentum_answers_follow_the_numbers() {
    let m = |beta: f64, l: Option<f64>| MomentumOutcome { beta, final_loss: l, overshoot: 0.4, oscillation: 0.6 };
    let diverged = answer::momentum(&[m(0.0, Some(0.6)), m(0.9, Some(0.4)), m(0.99999, None)]);
    assert!(diverged.contains("holds") && diverged.contains("diverged") && diverged.contains("β = 0.9 "), "{diverged}");
    let slow = answer::momentum(&[m(0.9, Some(0.4)), m(0.99999, Some(1.2))]);
    assert!(slow.contains("holds") && slow.contains("3.0×"), "{slow}");
    let fine = answer::momentum(&[m(0.9, Some(0.4)), m(0.99999, Some(0.41))]);
    assert!(fine.contains("did not show"), "{fine}");
}

#[test]
fn dropout_answers_follow_the_numbers() {
    let c = DropoutCost { step_ratio: 1.1, epochs_without: Some(3.0), epochs_with: Some(5.0), inference_ratio: 1.01, mc_pass_ratio: 1.0 };
    let a = answer::dropout_cost(c);
    assert!(a.starts_with("Training: yes") && a.contains("Inference: no"), "{a}");
    let b = answer::dropout_cost(DropoutCost { epochs_without: Some(5.0), epochs_with: Some(3.0), inference_ratio: 1.5, ..c });
    assert!(b.starts_with("Training: not here") && b.contains("cost 1.50× even in evaluation mode"), "{b}");
}
