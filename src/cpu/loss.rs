//! CPU twin of `shaders/loss.wgsl`. stats = [loss sum, correct, accuracy count, samples].

use crate::backend::stat;

/// `probs_r = softmax(z_r)`, stable: exponents are taken of z − max.
pub fn softmax_forward(z: &[f32], probs: &mut [f32], rows: usize, cols: usize) {
    for r in 0..rows {
        let row = &z[r * cols..(r + 1) * cols];
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let s: f32 = row.iter().map(|&v| (v - m).exp()).sum();
        for c in 0..cols {
            probs[r * cols + c] = (row[c] - m).exp() / s;
        }
    }
}

fn first_argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for c in 1..row.len() {
        if row[c] > row[best] {
            best = c;
        }
    }
    best
}

/// loss_r = logsumexp(z_r) − z_r[label]; dz = (softmax(z_r) − onehot)·scale.
pub fn softmax_cross_entropy_forward(
    z: &[f32],
    labels: &[u32],
    dz: &mut [f32],
    stats: &mut [f32],
    rows: usize,
    cols: usize,
    scale: f32,
) {
    let (mut loss, mut correct) = (0.0f32, 0.0f32);
    for r in 0..rows {
        let row = &z[r * cols..(r + 1) * cols];
        let label = labels[r] as usize;
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let s: f32 = row.iter().map(|&v| (v - m).exp()).sum();
        if label >= cols {
            loss += f32::NAN;
            continue;
        }
        loss += s.ln() + m - row[label];
        correct += (first_argmax(row) == label) as u8 as f32;
        for c in 0..cols {
            let onehot = (c == label) as u8 as f32;
            dz[r * cols + c] = ((row[c] - m).exp() / s - onehot) * scale;
        }
    }
    add_stats(stats, loss, correct, rows as f32, rows);
}

/// Per sample mean_c [max(z,0) − z·t + ln(1 + e^−|z|)]; dz = (σ(z) − t)·scale/cols.
pub fn sigmoid_binary_cross_entropy_forward(
    z: &[f32],
    targets: &[f32],
    dz: &mut [f32],
    stats: &mut [f32],
    rows: usize,
    cols: usize,
    scale: f32,
) {
    let (mut loss, mut correct) = (0.0f32, 0.0f32);
    let per_col = 1.0 / cols as f32;
    for i in 0..rows * cols {
        let (zi, ti) = (z[i], targets[i]);
        loss += (zi.max(0.0) - zi * ti + (1.0 + (-zi.abs()).exp()).ln()) * per_col;
        correct += ((zi > 0.0) == (ti > 0.5)) as u8 as f32;
        let sig = if zi >= 0.0 { 1.0 / (1.0 + (-zi).exp()) } else { zi.exp() / (1.0 + zi.exp()) };
        dz[i] = (sig - ti) * scale * per_col;
    }
    add_stats(stats, loss, correct, (rows * cols) as f32, rows);
}

/// Per sample mean_c (z − t)²; dz = 2(z − t)·scale/cols.
pub fn mean_squared_error_forward(
    z: &[f32],
    targets: &[f32],
    dz: &mut [f32],
    stats: &mut [f32],
    rows: usize,
    cols: usize,
    scale: f32,
) {
    let mut loss = 0.0f32;
    let per_col = 1.0 / cols as f32;
    for i in 0..rows * cols {
        let d = z[i] - targets[i];
        loss += d * d * per_col;
        dz[i] = 2.0 * d * scale * per_col;
    }
    add_stats(stats, loss, 0.0, 0.0, rows);
}

fn add_stats(stats: &mut [f32], loss: f32, correct: f32, accuracy_count: f32, rows: usize) {
    stats[stat::LOSS_SUM] += loss;
    stats[stat::CORRECT] += correct;
    stats[stat::ACCURACY_COUNT] += accuracy_count;
    stats[stat::SAMPLES] += rows as f32;
}
