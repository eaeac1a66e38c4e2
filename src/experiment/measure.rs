//! What the experiments measure, as plain functions of numbers read back from a run: each
//! tested on small constructed cases with known answers.

/// The number of distinct neurons among a Dense layer's `units` (columns of the `inputs ×
/// units` weight matrix `w`, with their bias). Two neurons are the same when every weight and
/// the bias differ by at most `rel_tol` times the layer's largest absolute weight: neurons
/// that started equal and got equal gradients stay equal to rounding.
pub fn distinct_units(w: &[f32], bias: Option<&[f32]>, inputs: usize, units: usize, rel_tol: f32) -> usize {
    assert_eq!(w.len(), inputs * units, "w is inputs × units");
    let scale = w.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(f32::MIN_POSITIVE);
    let tol = rel_tol * scale;
    let same = |a: usize, c: usize| {
        (0..inputs).all(|i| (w[i * units + a] - w[i * units + c]).abs() <= tol)
            && bias.is_none_or(|b| (b[a] - b[c]).abs() <= tol)
    };
    let mut representatives: Vec<usize> = Vec::new();
    for u in 0..units {
        if !representatives.iter().any(|&r| same(r, u)) {
            representatives.push(u);
        }
    }
    representatives.len()
}

/// The fraction of `units` that are dead on a probe batch (`rows × units` activations): a
/// dead unit gives the same output, to within 1e-6, for every sample. It carries no
/// information forward and, for ReLU (output 0) or a saturated ELU (output ≈ −α), passes
/// (almost) no gradient back.
pub fn dead_fraction(acts: &[f32], rows: usize, units: usize) -> f64 {
    assert_eq!(acts.len(), rows * units, "acts is rows × units");
    if units == 0 || rows == 0 {
        return 0.0;
    }
    let dead = (0..units)
        .filter(|&u| {
            let (lo, hi) = (0..rows).map(|r| acts[r * units + u]).fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
            hi - lo <= 1e-6
        })
        .count();
    dead as f64 / units as f64
}

/// The mean of all activations.
pub fn mean(values: &[f32]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().map(|&v| v as f64).sum::<f64>() / values.len() as f64
}

/// The first epoch (counted from 1) whose value reaches `target`, if any.
pub fn epochs_to_target(per_epoch: &[f32], target: f32) -> Option<usize> {
    per_epoch.iter().position(|&v| v >= target).map(|i| i + 1)
}

/// The largest rise of a loss curve above its lowest value so far, relative to that lowest
/// value: 0 for a curve that never goes back up, 0.5 for one that climbs half again above
/// its best. Infinite for a curve that becomes non-finite (diverges).
pub fn overshoot(losses: &[f32]) -> f64 {
    let mut best = f64::INFINITY;
    let mut worst_rise = 0.0f64;
    for &l in losses {
        let l = l as f64;
        if !l.is_finite() {
            return f64::INFINITY;
        }
        if best.is_finite() && best > 0.0 {
            worst_rise = worst_rise.max((l - best) / best);
        }
        best = best.min(l);
    }
    worst_rise
}

/// How much a curve zigzags: the fraction of consecutive steps whose direction reverses
/// (0 for a monotone curve, 1 for one that alternates up and down at every point).
pub fn oscillation(values: &[f32]) -> f64 {
    let signs: Vec<f32> = values.windows(2).map(|w| w[1] - w[0]).filter(|d| *d != 0.0).map(f32::signum).collect();
    if signs.len() < 2 {
        return 0.0;
    }
    signs.windows(2).filter(|s| s[0] != s[1]).count() as f64 / (signs.len() - 1) as f64
}

/// Mean and sample standard deviation (0 for fewer than two values).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (f64::NAN, 0.0);
    }
    let m = values.iter().sum::<f64>() / n;
    let var = if values.len() < 2 { 0.0 } else { values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0) };
    (m, var.sqrt())
}

/// The median of `values` (NaN when empty).
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}
