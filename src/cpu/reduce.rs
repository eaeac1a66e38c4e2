//! CPU twin of `shaders/reduce.wgsl`.

use crate::backend::stat;

/// `y[j] = Σ_r x[r, j]`.
pub fn column_sum(x: &[f32], y: &mut [f32], rows: usize, cols: usize) {
    for j in 0..cols {
        y[j] = (0..rows).map(|r| x[r * cols + j]).sum();
    }
}

/// Adds #{rows whose first argmax equals the label} and the row count to `stats`.
pub fn argmax_correct(x: &[f32], labels: &[u32], stats: &mut [f32], rows: usize, cols: usize) {
    let mut correct = 0.0;
    for r in 0..rows {
        let row = &x[r * cols..(r + 1) * cols];
        let mut best = 0;
        for c in 1..cols {
            if row[c] > row[best] {
                best = c;
            }
        }
        correct += (best == labels[r] as usize) as u8 as f32;
    }
    stats[stat::CORRECT] += correct;
    stats[stat::ACCURACY_COUNT] += rows as f32;
}

/// `out[0] = Σx²`, added to `out[0]` when `accumulate`. Sums in f64 and rounds
/// once: these sums run over whole parameter tensors, where a sequential f32 sum drifts.
pub fn sum_squares(x: &[f32], out: &mut [f32], accumulate: bool) {
    let sq: f64 = x.iter().map(|&v| v as f64 * v as f64).sum();
    let prev = if accumulate { out[0] as f64 } else { 0.0 };
    out[0] = (prev + sq) as f32;
}
