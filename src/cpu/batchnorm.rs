//! CPU twin of `shaders/batchnorm.wgsl`. affine = [γ; β], saved = [μ_B; 1/√(σ²_B+ε)],
//! running = [μ; σ²], each (2, cols).

use crate::backend::BatchNorm;

/// The slices of a training forward pass; x, y: (rows, cols); the rest (2, cols).
pub struct BatchNormSlices<'a> {
    pub x: &'a [f32],
    pub affine: &'a [f32],
    pub y: &'a mut [f32],
    pub saved: &'a mut [f32],
    pub running: &'a mut [f32],
}

/// The slices of a backward pass: the forward's input, affine and saved statistics, and the
/// gradients.
pub struct BatchNormGrads<'a> {
    pub x: &'a [f32],
    pub affine: &'a [f32],
    pub saved: &'a [f32],
    pub dy: &'a [f32],
    pub dx: &'a mut [f32],
    pub daffine: &'a mut [f32],
}

/// Training: normalize by batch statistics, save them, update the running statistics. The
/// stages of the synchronized form in one: the sum, the mean, the squared deviations, the
/// normalization (so one replica's synchronized pass is this one, float for float).
pub fn batchnorm_forward(spec: &BatchNorm, b: BatchNormSlices, rows: usize, cols: usize) {
    batchnorm_moment(b.x, b.saved, rows, cols, false);
    let n = rows as f32;
    b.saved[..cols].iter_mut().for_each(|s| *s /= n);
    batchnorm_moment(b.x, b.saved, rows, cols, true);
    batchnorm_normalize(spec, b, rows, cols, rows);
}

/// Per feature: `saved` row 0 ← Σ_rows x, or (`centered`) row 1 ← Σ_rows (x − saved row 0)².
pub fn batchnorm_moment(x: &[f32], saved: &mut [f32], rows: usize, cols: usize, centered: bool) {
    for j in 0..cols {
        let mut sum = 0.0f32;
        if centered {
            let mean = saved[j];
            for r in 0..rows {
                let d = x[r * cols + j] - mean;
                sum += d * d;
            }
            saved[cols + j] = sum;
        } else {
            for r in 0..rows {
                sum += x[r * cols + j];
            }
            saved[j] = sum;
        }
    }
}

/// From `saved` = [μ; Σ (x − μ)²] over `total` rows (every replica's): y = γ x̂ + β for these
/// `rows`, saved row 1 ← 1/√(σ² + ε) with the biased σ², the running statistics updated with
/// the unbiased one.
pub fn batchnorm_normalize(spec: &BatchNorm, b: BatchNormSlices, rows: usize, cols: usize, total: usize) {
    let BatchNormSlices { x, affine, y, saved, running } = b;
    let BatchNorm { eps, momentum } = *spec;
    let n = total as f32;
    for j in 0..cols {
        let (mean, sq) = (saved[j], saved[cols + j]);
        let var_b = sq / n;
        let inv_std = 1.0 / (var_b + eps).sqrt();
        for r in 0..rows {
            let i = r * cols + j;
            y[i] = affine[j] * (x[i] - mean) * inv_std + affine[cols + j];
        }
        saved[cols + j] = inv_std;
        let unbiased = if total > 1 { sq / (n - 1.0) } else { var_b };
        running[j] = (1.0 - momentum) * running[j] + momentum * mean;
        running[cols + j] = (1.0 - momentum) * running[cols + j] + momentum * unbiased;
    }
}

/// Evaluation: `y = γ (x − μ)/√(σ² + ε) + β` with the running statistics.
pub fn batchnorm_forward_eval(x: &[f32], affine: &[f32], y: &mut [f32], running: &[f32], cols: usize, eps: f32) {
    for (i, (y, x)) in y.iter_mut().zip(x).enumerate() {
        let j = i % cols;
        let inv_std = 1.0 / (running[cols + j] + eps).sqrt();
        *y = affine[j] * (x - running[j]) * inv_std + affine[cols + j];
    }
}

/// dγ = Σ dy·x̂, dβ = Σ dy, dx = γ/(B·σ) · (B·dy − Σ dy − x̂·Σ dy·x̂): the two stages of the
/// synchronized form with this batch's sums.
pub fn batchnorm_backward(g: BatchNormGrads, rows: usize, cols: usize) {
    let BatchNormGrads { x, affine, saved, dy, dx, daffine } = g;
    batchnorm_backward_sums(x, saved, dy, daffine, rows, cols);
    batchnorm_backward_input(BatchNormInput { x, affine, saved, dy, sums: daffine, dx }, rows, cols, rows);
}

/// daffine = [Σ dy·x̂; Σ dy] over these rows.
pub fn batchnorm_backward_sums(x: &[f32], saved: &[f32], dy: &[f32], daffine: &mut [f32], rows: usize, cols: usize) {
    for j in 0..cols {
        let (mean, inv_std) = (saved[j], saved[cols + j]);
        let (mut sum_dy, mut sum_dy_xhat) = (0.0f32, 0.0f32);
        for r in 0..rows {
            let i = r * cols + j;
            sum_dy += dy[i];
            sum_dy_xhat += dy[i] * (x[i] - mean) * inv_std;
        }
        daffine[j] = sum_dy_xhat;
        daffine[cols + j] = sum_dy;
    }
}

/// What the input gradient reads: the forward's input, affine and saved statistics, the output
/// gradient, and `sums` = [Σ dy·x̂; Σ dy] over every replica's rows.
pub struct BatchNormInput<'a> {
    pub x: &'a [f32],
    pub affine: &'a [f32],
    pub saved: &'a [f32],
    pub dy: &'a [f32],
    pub sums: &'a [f32],
    pub dx: &'a mut [f32],
}

/// dx for these `rows` of a batch of `total` rows whose sums are `sums`.
pub fn batchnorm_backward_input(g: BatchNormInput, rows: usize, cols: usize, total: usize) {
    let BatchNormInput { x, affine, saved, dy, sums, dx } = g;
    let n = total as f32;
    for j in 0..cols {
        let (mean, inv_std) = (saved[j], saved[cols + j]);
        let (sum_dy_xhat, sum_dy) = (sums[j], sums[cols + j]);
        let k = affine[j] * inv_std / n;
        for r in 0..rows {
            let i = r * cols + j;
            let xhat = (x[i] - mean) * inv_std;
            dx[i] = k * (n * dy[i] - sum_dy - xhat * sum_dy_xhat);
        }
    }
}
