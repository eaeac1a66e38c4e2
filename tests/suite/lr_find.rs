//! The learning-rate range test: its suggestion on constructed curves, its sweep, and the
//! `lr-find` command on digits.

use crate::common;

use common::cli::{tempdir, text, wgtrain};
use wgtrain::train::lr_find::{suggest, Range};

#[test]
fn the_rates_grow_exponentially_between_the_ends_and_bad_ranges_are_refused() {
    let r = Range::over(101);
    assert!((r.rate(0) - 1e-7).abs() < 1e-12 && (r.rate(100) - 10.0).abs() < 1e-4);
    // Eight decades over 100 steps: the midpoint is the geometric mean, 1e-3.
    assert!((r.rate(50) / 1e-3 - 1.0).abs() < 1e-4, "{}", r.rate(50));
    for bad in [Range { start: 0.0, end: 1.0, steps: 100 }, Range { start: 1.0, end: 0.1, steps: 100 }, Range::over(5)] {
        let e = bad.check().unwrap_err().to_string();
        assert!(e.contains("rate range") || e.contains("at least 20 steps"), "{e}");
    }
}

#[test]
fn the_suggestion_is_the_steepest_fall_before_the_minimum() {
    // A loss flat at 2.3 for tiny rates, falling fastest around 1e-3 (a logistic in ln rate),
    // bottoming out near 1e-2, and blowing up beyond.
    let r = Range::over(200);
    let rates: Vec<f32> = (0..200).map(|t| r.rate(t)).collect();
    let loss: Vec<f32> = rates
        .iter()
        .map(|&lr| {
            let x = (lr as f64 / 1e-3).ln();
            let fall = 2.3 - 2.0 / (1.0 + (-2.0 * x).exp());
            let blow = if lr > 1e-2 { ((lr as f64 / 1e-2).ln()).powi(2) } else { 0.0 };
            (fall + blow) as f32
        })
        .collect();
    let (steepest, min_over_ten) = suggest(&rates, &loss);
    let steepest = steepest.expect("a falling curve has a steepest point");
    assert!((steepest as f64 / 1e-3).ln().abs() < 0.1, "steepest fall at {steepest:e}, not near 1e-3");
    let min = rates[(0..200).min_by(|&a, &b| loss[a].total_cmp(&loss[b])).unwrap()];
    assert_eq!(min_over_ten, Some(min / 10.0));
    // A loss that only rises has no fall to suggest; its minimum is its first point.
    let rising: Vec<f32> = (0..200).map(|i| 1.0 + i as f32).collect();
    assert_eq!(suggest(&rates, &rising), (None, Some(rates[0] / 10.0)));
}

#[test]
fn lr_find_sweeps_a_run_and_writes_its_curve() {
    let dir = tempdir("lr-find");
    let out = dir.join("lr");
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/data");
    let args = ["lr-find", "--dataset", "digits", "--data-dir", data, "--layers", "64", "--batch-size", "32", "--optimizer", "momentum", "-o", out.to_str().unwrap()];
    let ran = wgtrain(&args);
    let (stdout, stderr) = text(&ran);
    assert!(ran.status.success(), "{stderr}");
    assert!(stdout.contains("suggested learning rate: ") && stdout.contains("lr_find.svg"), "{stdout}");
    let curve: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("lr_find.json")).unwrap()).unwrap();
    let rates: Vec<f64> = curve["rates"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    // Each step's rate is the last one's times the same factor, from 1e-7 on.
    assert!((rates[0] - 1e-7).abs() < 1e-12 && rates.len() >= 20, "{} steps", rates.len());
    let growth = rates[1] / rates[0];
    assert!(rates.windows(2).all(|w| (w[1] / w[0] / growth - 1.0).abs() < 1e-4));
    // Momentum SGD on digits learns between the ends: the loss falls below its start, and
    // the suggestion lies where it fell.
    let smoothed: Vec<f64> = curve["smoothed"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let lowest = smoothed.iter().cloned().fold(f64::MAX, f64::min);
    assert!(lowest < 0.8 * smoothed[0], "the loss never fell: {smoothed:?}");
    let suggested = curve["steepest"].as_f64().expect("a suggestion");
    assert!((1e-5..1.0).contains(&suggested), "{suggested}");
    assert_eq!(std::fs::read_to_string(out.join("lr_find.csv")).unwrap().lines().count(), rates.len() + 1);
    assert!(std::fs::read_to_string(out.join("lr_find.svg")).unwrap().contains("<svg"));
    // It starts from initial weights: --resume is refused by name.
    let resumed = wgtrain(&["lr-find", "--resume", out.to_str().unwrap()]);
    assert!(!resumed.status.success() && text(&resumed).1.contains("does not take --resume"), "{}", text(&resumed).1);
}
