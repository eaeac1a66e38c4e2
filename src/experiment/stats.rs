//! What the seeds of an experiment allow one to say: a mean with its 95% interval (Student's
//! t over the seeds), a difference between two variants with its 95% interval (Welch's t,
//! which does not assume equal spreads), and the verdict the interval supports. One seed has
//! no interval, and nothing is concluded from it.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// The two-sided 95% quantile of Student's t with `df` degrees of freedom (> 0). Beyond 10⁵
/// degrees t is the normal quantile to 1e-5 (and statrs's inversion loses accuracy there).
pub fn t975(df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df.min(1e5)).expect("degrees of freedom above 0").inverse_cdf(0.975)
}

fn mean_var(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() < 2 { 0.0 } else { values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0) };
    (mean, var)
}

/// How a number is shown in a table or an answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unit {
    /// A fraction shown as a percentage with one decimal (differences in points).
    Percent,
    /// A number with this many decimals.
    Decimals(usize),
}

impl Unit {
    fn show(self, x: f64) -> String {
        match self {
            Unit::Percent => format!("{:.1}", 100.0 * x),
            Unit::Decimals(d) => format!("{x:.d$}"),
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Unit::Percent => "%",
            Unit::Decimals(_) => "",
        }
    }
}

/// A mean over seeds and its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    pub mean: f64,
    /// Half the interval's width; None for fewer than two values.
    pub half: Option<f64>,
    pub n: usize,
}

impl Estimate {
    pub fn of(values: &[f64]) -> Self {
        if values.is_empty() {
            return Self { mean: f64::NAN, half: None, n: 0 };
        }
        let (mean, var) = mean_var(values);
        let n = values.len();
        let half = (n >= 2).then(|| t975((n - 1) as f64) * (var / n as f64).sqrt());
        Self { mean, half, n }
    }

    /// A table cell: "84.2 ± 1.3% (n=3)", "84.2% (n=1)", "—" for no values.
    pub fn cell(&self, unit: Unit) -> String {
        match (self.n, self.half) {
            (0, _) => "—".into(),
            (n, Some(h)) => format!("{} ± {}{} (n={n})", unit.show(self.mean), unit.show(h), unit.suffix()),
            (n, None) => format!("{}{} (n={n})", unit.show(self.mean), unit.suffix()),
        }
    }
}

/// What an interval lets one conclude about a claimed direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// The whole interval lies on the claimed side of zero (or, for a claim of no effect,
    /// inside the margin).
    Holds,
    /// The whole interval lies on the other side (or beyond the margin).
    Contradicted,
    /// The interval reaches both sides, or there is no interval (a single seed).
    Inconclusive,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Contradicted => "contradicted",
            Verdict::Inconclusive => "inconclusive at this scale",
        }
    }
}

/// The difference a − b of two variants' means over their seeds, with Welch's 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Difference {
    pub diff: f64,
    /// Half the interval's width; None when either side has fewer than two values.
    pub half: Option<f64>,
    pub n: (usize, usize),
}

impl Difference {
    /// Welch's interval for mean(a) − mean(b).
    pub fn of(a: &[f64], b: &[f64]) -> Self {
        let n = (a.len(), b.len());
        if a.is_empty() || b.is_empty() {
            return Self { diff: f64::NAN, half: None, n };
        }
        let ((ma, va), (mb, vb)) = (mean_var(a), mean_var(b));
        let diff = ma - mb;
        if a.len() < 2 || b.len() < 2 {
            return Self { diff, half: None, n };
        }
        let (sa, sb) = (va / a.len() as f64, vb / b.len() as f64);
        let se2 = sa + sb;
        // Welch–Satterthwaite; with no spread on either side, the pooled count.
        let df = if se2 > 0.0 {
            se2 * se2 / (sa * sa / (a.len() - 1) as f64 + sb * sb / (b.len() - 1) as f64)
        } else {
            (a.len() + b.len() - 2) as f64
        };
        Self { diff, half: Some(t975(df) * se2.sqrt()), n }
    }

    /// The interval (low, high), if there is one.
    pub fn interval(&self) -> Option<(f64, f64)> {
        self.half.map(|h| (self.diff - h, self.diff + h))
    }

    /// Whether the data support a claimed `direction` of a − b (+1: a above b, −1: below).
    pub fn verdict(&self, direction: f64) -> Verdict {
        match self.interval() {
            Some((lo, hi)) if direction * lo > 0.0 && direction * hi > 0.0 => Verdict::Holds,
            Some((lo, hi)) if direction * lo < 0.0 && direction * hi < 0.0 => Verdict::Contradicted,
            _ => Verdict::Inconclusive,
        }
    }

    /// Whether the data support "no difference that matters": the whole interval within
    /// ±`margin`. Contradicted when the whole interval lies beyond it on one side.
    pub fn verdict_within(&self, margin: f64) -> Verdict {
        match self.interval() {
            Some((lo, hi)) if lo > -margin && hi < margin => Verdict::Holds,
            Some((lo, hi)) if lo >= margin || hi <= -margin => Verdict::Contradicted,
            _ => Verdict::Inconclusive,
        }
    }

    /// "+1.2 points (95% interval −0.3 to +2.7, n=3 and 3)", or "(one seed: no interval)".
    pub fn describe(&self, unit: Unit) -> String {
        let signed = |x: f64| {
            let s = unit.show(x.abs());
            if x < 0.0 {
                format!("−{s}")
            } else {
                format!("+{s}")
            }
        };
        let what = match unit {
            Unit::Percent => " points",
            Unit::Decimals(_) => "",
        };
        match self.interval() {
            Some((lo, hi)) => format!(
                "{}{what} (95% interval {} to {}, n={} and {})",
                signed(self.diff),
                signed(lo),
                signed(hi),
                self.n.0,
                self.n.1
            ),
            None => format!("{}{what} (n={} and {}: no interval)", signed(self.diff), self.n.0, self.n.1),
        }
    }
}
