//! The experiments' measurements on small constructed cases with known answers, and the
//! generated answers: fed the opposite numbers, each says the opposite.

use wgtrain::experiment::answer::{self, BiasOutcome, DeepActivation, DropoutCost, MomentumOutcome, Step, Symmetry};
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

/// Three seeds around `mean`, 0.002 apart.
fn seeds(mean: f64) -> Vec<f64> {
    vec![mean - 0.002, mean, mean + 0.002]
}

/// Three seeds spread so widely that no difference of a few points is settled.
fn noisy(mean: f64) -> Vec<f64> {
    vec![mean - 0.08, mean, mean + 0.08]
}

#[test]
fn init_symmetry_answers_give_each_verdict() {
    let he = Symmetry { accuracy: seeds(0.85), distinct: 100.0, units: 100 };
    let stuck = Symmetry { accuracy: seeds(0.30), distinct: 1.0, units: 100 };
    let broken = Symmetry { accuracy: seeds(0.80), distinct: 90.0, units: 100 };
    let a = answer::init_symmetry(&he, &stuck, &broken);
    assert!(a.starts_with("Holds:") && a.contains("+55.0 points (95% interval"), "{a}");
    assert!(a.contains("dropout breaks the symmetry") && a.contains("(that it helps: holds)"), "{a}");
    let b = answer::init_symmetry(&he, &broken, &stuck);
    assert!(b.starts_with("Contradicted:") && b.contains("Dropout did not break the symmetry"), "{b}");
    // Stuck, but the seeds too noisy to say it costs accuracy; or one seed only.
    let unsure = Symmetry { accuracy: noisy(0.84), ..stuck.clone() };
    let c = answer::init_symmetry(&Symmetry { accuracy: noisy(0.85), ..he.clone() }, &unsure, &broken);
    assert!(c.starts_with("Inconclusive at this scale:"), "{c}");
    let one = answer::init_symmetry(&Symmetry { accuracy: vec![0.85], ..he }, &Symmetry { accuracy: vec![0.30], ..stuck }, &broken);
    assert!(one.starts_with("Inconclusive at this scale:") && one.contains("no interval"), "{one}");
}

#[test]
fn bias_answers_give_each_verdict() {
    let o = |name: &str, acc: Vec<f64>, dead: f64| BiasOutcome {
        name: name.into(),
        accuracy: acc,
        dead_start: vec![0.1, 0.1, 0.1],
        dead_end: seeds(dead),
    };
    let holds = answer::bias_init(&[o("0", seeds(0.850), 0.10), o("0.01", seeds(0.851), 0.10), o("0.1", seeds(0.849), 0.02)]);
    assert!(holds.starts_with("Holds:") && holds.contains("inside the ±1-point margin"), "{holds}");
    assert!(holds.contains("keep more ReLU units alive: holds"), "{holds}");
    let fails = answer::bias_init(&[o("0", seeds(0.80), 0.02), o("0.01", seeds(0.85), 0.10), o("0.1", seeds(0.86), 0.05)]);
    assert!(fails.starts_with("Contradicted:") && fails.contains("−6.0 points"), "{fails}");
    assert!(fails.contains("No start had fewer dead units"), "{fails}");
    let unsure = answer::bias_init(&[o("0", noisy(0.85), 0.10), o("0.1", noisy(0.85), 0.095)]);
    assert!(unsure.starts_with("Inconclusive at this scale:"), "{unsure}");
    // Dead at the end as at the start: none died in training.
    assert!(unsure.contains("at the end (+0.0 points"), "{unsure}");
}

#[test]
fn elu_answers_give_each_verdict_and_claim_smoothness_only_when_measured() {
    let act = |dead: f64, mean: f64, epochs: [Option<f64>; 3], secs: f64| DeepActivation {
        dead: seeds(dead),
        dead_start: seeds(dead),
        mean_activation: seeds(mean),
        epochs_to_target: epochs.to_vec(),
        seconds_per_epoch: seeds(secs),
        step_seconds: Vec::new(),
        accuracy: seeds(0.8),
        gradient_change: Vec::new(),
        loss_change: Vec::new(),
        smooth_steps: 0,
    };
    let good = act(0.0, 0.05, [Some(2.0), Some(2.0), Some(3.0)], 1.1);
    let bad = act(0.3, 0.6, [Some(4.0), Some(5.0), Some(4.0)], 1.0);
    let a = answer::elu_vs_relu(&bad, &good, 0.8, 5);
    assert!(a.contains("Fewer dead units with ELU: holds") && a.contains("Mean activation nearer zero: holds"), "{a}");
    assert!(a.contains("Faster to 80.0% validation accuracy: holds") && a.contains("1.10×"), "{a}");
    assert!(a.contains("Smoothness, the third advantage, is not measured"), "{a}");
    let b = answer::elu_vs_relu(&good, &bad, 0.8, 5);
    assert!(b.contains("Fewer dead units with ELU: contradicted") && b.contains("ELU was the cheaper"), "{b}");
    // Without alternated step timings the cost rests on the epochs, and says so.
    assert!(a.contains("an ELU epoch took 1.10×") && a.contains("taken in sequence"), "{a}");
    // With them, the steps decide: equal within their spread is no cost, whatever the epochs say.
    let timed = |d: &DeepActivation, ms: Vec<f64>| DeepActivation { step_seconds: ms.iter().map(|x| x / 1e3).collect(), ..d.clone() };
    let t = answer::elu_vs_relu(&timed(&bad, vec![150.0, 160.0, 140.0, 155.0]), &timed(&good, vec![152.0, 149.0, 158.0, 147.0]), 0.8, 5);
    assert!(t.contains("Cost: none measurable; an ELU step took") && t.contains("timed in alternation"), "{t}");
    let t = answer::elu_vs_relu(&timed(&bad, vec![150.0, 151.0, 149.0]), &timed(&good, vec![165.0, 166.0, 164.0]), 0.8, 5);
    assert!(t.contains("an ELU step took 1.10× a ReLU step (timed in alternation; ELU minus ReLU in ms: +15.00 (95% interval +12.73 to +17.27"), "{t}");
    // ReLU reached the target in one seed of three: a lower bound, not "never".
    let partly = act(0.3, 0.6, [Some(4.0), None, None], 1.0);
    let c = answer::elu_vs_relu(&partly, &good, 0.8, 5);
    assert!(c.contains("1 of 3 ReLU seeds got there"), "{c}");
    // Dead at the start as at the end: the initialization killed them, training did not.
    assert!(c.contains("that ReLU units died in training: contradicted") || c.contains("that ReLU units died in training: inconclusive"), "{c}");
    let died = DeepActivation { dead_start: seeds(0.05), ..partly.clone() };
    let f = answer::elu_vs_relu(&died, &good, 0.8, 5);
    assert!(f.contains("Dead before training: ReLU 5.0 ± 0.5% (n=3)") && f.contains("that ReLU units died in training: holds (end minus start +25.0 points"), "{f}");
    let never = |d: &DeepActivation| DeepActivation { epochs_to_target: vec![None; 3], ..d.clone() };
    let d = answer::elu_vs_relu(&never(&bad), &never(&good), 0.8, 5);
    assert!(d.contains("Faster convergence: not measured"), "{d}");
    // Measured smoothness: a steadier gradient with ELU holds; the loss's change, noisy, does not settle.
    let smooth = |d: &DeepActivation, g: f64, l: Vec<f64>| DeepActivation { gradient_change: seeds(g), loss_change: l, smooth_steps: 200, ..d.clone() };
    let e = answer::elu_vs_relu(&smooth(&bad, 0.12, vec![0.10, 0.20, 0.05]), &smooth(&good, 0.08, vec![0.12, 0.06, 0.15]), 0.8, 5);
    assert!(e.contains("over the first 200 steps") && e.contains("changes less from step to step with ELU: holds"), "{e}");
    assert!(e.contains("the mini-batch loss is less rough about its trend: inconclusive at this scale"), "{e}");
    assert!(!e.contains("not measured by this experiment"), "{e}");
}

#[test]
fn momentum_answers_give_each_verdict_and_the_runs_length() {
    let m = |beta: f64, l: Vec<f64>, diverged: usize| MomentumOutcome {
        beta,
        seeds: l.len() + diverged,
        final_loss: l,
        diverged,
        overshoot: 0.4,
        oscillation: 0.6,
    };
    let diverged = answer::momentum(&[m(0.0, seeds(0.6), 0), m(0.9, seeds(0.4), 0), m(0.99999, vec![], 3)], 400);
    assert!(diverged.starts_with("Holds:") && diverged.contains("diverged in all 3 seeds"), "{diverged}");
    assert!(diverged.contains("memory of 1/(1 − β) = 100000 steps: too short"), "{diverged}");
    let slow = answer::momentum(&[m(0.9, seeds(0.4), 0), m(0.99999, seeds(1.2), 0)], 400);
    assert!(slow.starts_with("Holds:") && slow.contains("+0.800"), "{slow}");
    let fine = answer::momentum(&[m(0.9, noisy(0.4), 0), m(0.99999, noisy(0.41), 0)], 400);
    assert!(fine.starts_with("Inconclusive at this scale:"), "{fine}");
    let better = answer::momentum(&[m(0.9, seeds(0.5), 0), m(0.99, seeds(0.3), 0)], 4000);
    assert!(better.starts_with("Contradicted:") && better.contains("the momentum helped here"), "{better}");
    // The oscillation measure against plain SGD's, either way.
    let swings = |beta, o| MomentumOutcome { oscillation: o, ..m(beta, seeds(0.4), 0) };
    let more = answer::momentum(&[swings(0.0, 0.4), swings(0.99999, 0.7)], 400);
    assert!(more.contains("more often than β = 0 (40% of windows") && more.contains("the textbook's oscillation."), "{more}");
    let fewer = answer::momentum(&[swings(0.0, 0.6), swings(0.99999, 0.4)], 400);
    assert!(fewer.contains("no more often than β = 0 (60%") && fewer.contains("does not show in this measure"), "{fewer}");
    assert!(slow.contains("no more often than β = 0.9 (60%"), "the smallest β run stands for plain SGD: {slow}");
}

#[test]
fn dropout_answers_give_each_verdict() {
    let c = DropoutCost {
        step_without: seeds(0.010),
        step_with: seeds(0.011),
        epochs_without: vec![Some(3.0), Some(3.0), Some(4.0)],
        epochs_with: vec![Some(5.0), Some(6.0), Some(5.0)],
        epochs: 10,
        inference_ratio: 1.01,
        mc_pass_ratio: 1.0,
    };
    let a = answer::dropout_cost(&c);
    assert!(a.contains("more epochs with dropout: holds") && a.contains("Inference: no cost"), "{a}");
    let b = answer::dropout_cost(&DropoutCost {
        epochs_without: c.epochs_with.clone(),
        epochs_with: c.epochs_without.clone(),
        step_with: seeds(0.010),
        inference_ratio: 1.5,
        ..c.clone()
    });
    assert!(b.contains("more epochs with dropout: contradicted") && b.contains("cost 1.50× even in evaluation mode"), "{b}");
    assert!(b.contains("Each step costs more with dropout: inconclusive at this scale"), "{b}");
}

#[test]
fn deep_net_answers_flag_what_failed_to_learn_and_read_negative_gains() {
    let step = |name: &str, acc: Vec<f64>, best: f64, secs: f64, failed: usize| Step {
        name: name.into(),
        accuracy: acc,
        best_epoch: seeds(best),
        seconds_per_epoch: seeds(secs),
        step_seconds: Vec::new(),
        failed,
    };
    let rows = [
        step("ELU", seeds(0.77), 4.0, 1.0, 0),
        step("+ batch norm", seeds(0.71), 3.0, 1.15, 0),
        step("SELU", seeds(0.74), 4.0, 0.97, 0),
        step("+ alpha dropout", seeds(0.75), 4.0, 1.0, 0),
        step("SELU, 1cycle", seeds(0.63), 5.0, 1.0, 3),
    ];
    let a = answer::deep_net(&rows, Some((seeds(0.749), seeds(0.750))));
    assert!(a.contains("reaches its best epoch sooner: holds") && a.contains("slower with it: holds"), "{a}");
    assert!(a.contains("−6.0 points") && a.contains("(lower)"), "{a}");
    assert!(a.contains("Each epoch is slower with it: holds (1.15× the time, epochs taken in sequence; with minus without in ms: +150.00"), "{a}");
    // Alternated step timings decide where measured: equal within their spread, no cost shown.
    let mut timed = rows.clone();
    timed[0].step_seconds = vec![0.150, 0.160, 0.140, 0.155];
    timed[1].step_seconds = vec![0.152, 0.149, 0.158, 0.147];
    let t = answer::deep_net(&timed, None);
    assert!(t.contains("Each step is slower with it: inconclusive at this scale") && t.contains("steps timed in alternation"), "{t}");
    // The cost carries its interval, in ms; 1cycle is read against the constant-rate SELU net.
    assert!(t.contains("with minus without in ms: +0.25 (95% interval"), "{t}");
    assert!(a.contains("1cycle against the same SELU net at a constant rate: test accuracy −11.0 points") && a.contains("(lower)"), "{a}");
    assert!(a.contains("SELU without batch norm does as well as the batch-normalized net: holds"), "{a}");
    // MC dropout 0.1 points below, within the seeds' spread: a negative number read as such
    // and no conclusion (not "did not raise … by -0.10").
    assert!(
        a.contains("MC dropout raises the alpha-dropout net's accuracy: inconclusive at this scale (with minus without: −0.1 points"),
        "{a}"
    );
    assert!(a.contains("Failed to learn") && a.contains("SELU, 1cycle (3 of 3 seeds)"), "{a}");
    assert!(a.ends_with("Highest mean test accuracy: ELU (77.0 ± 0.5% (n=3))."), "{a}");
}

mod intervals {
    use wgtrain::experiment::stats::{t975, Difference, Estimate, Unit, Verdict};

    #[test]
    fn student_t_quantiles_are_the_tables() {
        // Two-sided 95%: t(1) = 12.706, t(2) = 4.303, t(10) = 2.228, t(30) = 2.042, t(∞) = 1.960.
        for (df, want) in [(1.0, 12.706), (2.0, 4.303), (10.0, 2.228), (30.0, 2.042), (1e7, 1.960)] {
            assert!((t975(df) - want).abs() < 5e-4, "t({df}) = {}", t975(df));
        }
    }

    #[test]
    fn a_mean_carries_its_interval_and_one_seed_none() {
        // 1, 2, 3: mean 2, s = 1, half = t(2)·1/√3 = 2.484.
        let e = Estimate::of(&[1.0, 2.0, 3.0]);
        assert!((e.mean - 2.0).abs() < 1e-12 && (e.half.unwrap() - 4.302_652_7 / 3f64.sqrt()).abs() < 1e-6, "{e:?}");
        assert_eq!(e.cell(Unit::Decimals(2)), "2.00 ± 2.48 (n=3)");
        let one = Estimate::of(&[0.77]);
        assert_eq!(one.cell(Unit::Percent), "77.0% (n=1)", "one seed prints the value alone");
        assert!(!one.cell(Unit::Percent).contains('±'));
        assert_eq!(Estimate::of(&[]).cell(Unit::Percent), "—");
    }

    #[test]
    fn welch_differences_give_each_verdict() {
        let (a, b) = ([0.80, 0.81, 0.82], [0.70, 0.71, 0.72]);
        let d = Difference::of(&a, &b);
        // Equal spreads and sizes: df = 4, half = t(4)·√(2·0.0001/3).
        assert!((d.diff - 0.10).abs() < 1e-12 && (d.half.unwrap() - 2.776_445 * (2e-4f64 / 3.0).sqrt()).abs() < 1e-6);
        assert_eq!(d.verdict(1.0), Verdict::Holds);
        assert_eq!(d.verdict(-1.0), Verdict::Contradicted);
        assert_eq!(Difference::of(&b, &a).verdict(-1.0), Verdict::Holds);
        // Overlapping seeds: the interval spans zero.
        let spread = Difference::of(&[0.70, 0.80, 0.75], &[0.72, 0.78, 0.74]);
        assert_eq!(spread.verdict(1.0), Verdict::Inconclusive);
        assert_eq!(spread.verdict(-1.0), Verdict::Inconclusive);
        // One seed on a side: no interval, nothing concluded however large the gap.
        let single = Difference::of(&[0.9], &[0.1, 0.11]);
        assert_eq!((single.half, single.verdict(1.0)), (None, Verdict::Inconclusive));
        assert!(single.describe(Unit::Percent).contains("n=1 and 2: no interval"));
        // Unequal n and spreads: Welch's degrees of freedom follow the noisier side (two
        // seeds: df ≈ 1, t ≈ 12.7), so a gap of 0.18 with those two seeds 0.05 apart is not
        // settled, and with them 0.01 apart it is.
        assert_eq!(Difference::of(&[0.5, 0.52, 0.51, 0.5], &[0.3, 0.35]).verdict(1.0), Verdict::Inconclusive);
        assert_eq!(Difference::of(&[0.5, 0.52, 0.51, 0.5], &[0.3, 0.31]).verdict(1.0), Verdict::Holds);
    }

    #[test]
    fn a_claim_of_no_effect_needs_the_interval_inside_the_margin() {
        let same = Difference::of(&[0.850, 0.851, 0.852], &[0.851, 0.850, 0.852]);
        assert_eq!(same.verdict_within(0.01), Verdict::Holds);
        let worse = Difference::of(&[0.80, 0.801, 0.802], &[0.85, 0.851, 0.852]);
        assert_eq!(worse.verdict_within(0.01), Verdict::Contradicted);
        let noisy = Difference::of(&[0.80, 0.85, 0.90], &[0.85, 0.851, 0.852]);
        assert_eq!(noisy.verdict_within(0.01), Verdict::Inconclusive);
    }

    #[test]
    fn negative_differences_read_as_numbers_with_their_sign() {
        let d = Difference::of(&[0.70, 0.71, 0.72], &[0.76, 0.77, 0.78]);
        let text = d.describe(Unit::Percent);
        assert!(text.starts_with("−6.0 points (95% interval −"), "{text}");
        assert!(!text.contains("+-") && !text.contains("--"), "{text}");
    }
}

#[test]
fn activation_answers_compare_with_intervals() {
    let rows = vec![
        ("relu".to_string(), seeds(0.78), Some(3.0), seeds(1.0)),
        ("silu".to_string(), seeds(0.81), Some(2.0), seeds(1.2)),
        ("elu".to_string(), noisy(0.80), None, seeds(1.1)),
    ];
    let outputs = [
        ("Sandal vs Sneaker", false, seeds(0.952)),
        ("Sandal vs Sneaker", true, seeds(0.954)),
        ("10 classes", false, noisy(0.796)),
        ("10 classes", true, noisy(0.790)),
    ];
    let a = answer::activations(&rows, &outputs, 0.75);
    assert!(a.contains("that it beats ReLU (78.0 ± 0.5% (n=3)): holds (silu minus ReLU +3.0 points"), "{a}");
    assert!(a.contains("score the same: holds") && a.contains("softmax beats one-vs-rest logistic outputs: inconclusive at this scale"), "{a}");
    assert!(a.contains("That ReLU trains fastest per step: holds (ReLU 0.87×"), "{a}");
    // Timings as noisy as a shared machine's: no verdict on speed.
    let shared: Vec<_> = rows.iter().map(|r| (r.0.clone(), r.1.clone(), r.2, vec![r.3[1] - 0.5, r.3[1], r.3[1] + 0.5])).collect();
    let b = answer::activations(&shared, &outputs, 0.75);
    assert!(b.contains("That ReLU trains fastest per step: inconclusive at this scale"), "{b}");
}

#[test]
fn each_experiment_has_its_own_scale_and_says_what_a_quick_one_cannot_settle() {
    use wgtrain::experiment::{Scale, EXPERIMENTS};
    for (name, _) in EXPERIMENTS {
        let own = Scale::given(name, false, None, None, None).unwrap();
        assert!(!own.quick && !own.custom, "{name}");
        assert!(own.describe(name).starts_with("this experiment's own scale") && own.describe(name).contains("why: "), "{name}");
        // Its command reproduces it: every count spelled out.
        assert!(own.command(name, "fashion-mnist").contains(&format!("--seeds {} --epochs {}", own.seeds, own.epochs)));
        // Asking for its own counts is not a custom scale; another count is.
        assert_eq!(Scale::given(name, false, Some(own.seeds), Some(own.epochs), own.train_rows).unwrap(), own);
        assert!(Scale::given(name, false, Some(own.seeds + 1), None, None).unwrap().custom);
    }
    // The cheap, small-effect experiments take more seeds than the 20-layer ones.
    let seeds = |n| Scale::given(n, false, None, None, None).unwrap().seeds;
    assert!(seeds("bias-init") >= 10 && seeds("momentum") >= 5 && seeds("activations") >= 5);
    assert!(seeds("bias-init") > seeds("deep-net"));
    // Quick: a smoke run that says so; deep-net's quick run is one seed and says that.
    let quick = Scale::given("momentum", true, None, None, None).unwrap();
    assert!(quick.limits()[0].contains("smoke run") && quick.limits()[0].contains("cannot settle"));
    let deep = Scale::given("deep-net", true, None, None, None).unwrap();
    assert_eq!(deep.seeds, 1);
    assert!(deep.limits().iter().any(|l| l.starts_with("One seed: no interval")));
    // Out-of-range counts are refused by name.
    let e = Scale::given("momentum", false, Some(0), None, None).unwrap_err().to_string();
    assert!(e.contains("--seeds"), "{e}");
}

#[test]
fn smoothness_measures_change_and_roughness_on_a_log_scale() {
    use wgtrain::experiment::smoothness::{mean_log_change, mean_log_curvature};
    // A steady geometric fall: each step ×0.5, so |Δ ln| = ln 2 and no curvature at all.
    let fall = [8.0, 4.0, 2.0, 1.0, 0.5];
    assert!((mean_log_change(&fall) - 2f64.ln()).abs() < 1e-9);
    assert!(mean_log_curvature(&fall).abs() < 1e-9);
    // Alternating ×2, ×½: the same |Δ ln|, and curvature 2 ln 2 at every point.
    let zigzag = [1.0, 2.0, 1.0, 2.0, 1.0];
    assert!((mean_log_change(&zigzag) - 2f64.ln()).abs() < 1e-9);
    assert!((mean_log_curvature(&zigzag) - 2.0 * 2f64.ln()).abs() < 1e-9);
    // Non-positive or non-finite values are skipped; too few values give NaN.
    assert!(mean_log_change(&[1.0]).is_nan() && mean_log_curvature(&[1.0, 2.0]).is_nan());
    assert!((mean_log_change(&[1.0, f32::NAN, 1.0, 2.0]) - 2f64.ln()).abs() < 1e-9);
}
