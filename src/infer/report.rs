//! A classification report as scikit-learn's `classification_report` gives it: precision,
//! recall and F1 per class with macro and support-weighted averages, from a confusion matrix.

use serde::Serialize;

/// The confusion matrix of softmax (or one-vs-rest) probabilities `probs` (`classes` a row)
/// against `labels`: rows are the true class, columns the predicted one (the arg max).
pub fn confusion(probs: &[f32], labels: &[u32], classes: usize) -> Vec<Vec<u64>> {
    let mut confusion = vec![vec![0u64; classes]; classes];
    for (row, &label) in probs.chunks(classes).zip(labels) {
        let predicted = (0..classes).fold(0, |best, c| if row[c] > row[best] { c } else { best });
        confusion[label as usize][predicted] += 1;
    }
    confusion
}

/// One row of a classification report.
#[derive(Debug, Clone, Serialize)]
pub struct ClassRow {
    pub class: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: u64,
}

/// Precision, recall and F1 per class with macro and support-weighted averages, as
/// scikit-learn's `classification_report` computes them (0 where undefined).
pub struct Report {
    pub rows: Vec<ClassRow>,
    pub macro_avg: ClassRow,
    pub weighted_avg: ClassRow,
}

impl Report {
    /// The report of `confusion` (rows: true class) with `names[c]` for class c.
    pub fn new(confusion: &[Vec<u64>], names: &[String]) -> Self {
        let n = confusion.len();
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let rows: Vec<ClassRow> = (0..n)
            .map(|c| {
                let tp = confusion[c][c];
                let support: u64 = confusion[c].iter().sum();
                let predicted: u64 = confusion.iter().map(|row| row[c]).sum();
                let (precision, recall) = (ratio(tp, predicted), ratio(tp, support));
                let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
                ClassRow { class: names[c].clone(), precision, recall, f1, support }
            })
            .collect();
        let total: u64 = rows.iter().map(|r| r.support).sum();
        let avg = |name: &str, weight: &dyn Fn(&ClassRow) -> f64| {
            let w: f64 = rows.iter().map(weight).sum::<f64>().max(f64::MIN_POSITIVE);
            let mean = |f: fn(&ClassRow) -> f64| rows.iter().map(|r| weight(r) * f(r)).sum::<f64>() / w;
            ClassRow { class: name.into(), precision: mean(|r| r.precision), recall: mean(|r| r.recall), f1: mean(|r| r.f1), support: total }
        };
        let macro_avg = avg("macro avg", &|_| 1.0);
        let weighted_avg = avg("weighted avg", &|r| r.support as f64);
        Self { rows, macro_avg, weighted_avg }
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let width = self.rows.iter().map(|r| r.class.chars().count()).max().unwrap_or(0).max(12);
        writeln!(f, "{:>width$}  {:>9}  {:>9}  {:>9}  {:>9}", "", "precision", "recall", "f1-score", "support")?;
        for r in self.rows.iter().chain([&self.macro_avg, &self.weighted_avg]) {
            if r.class == "macro avg" {
                writeln!(f)?;
            }
            writeln!(f, "{:>width$}  {:>9.4}  {:>9.4}  {:>9.4}  {:>9}", r.class, r.precision, r.recall, r.f1, r.support)?;
        }
        Ok(())
    }
}
