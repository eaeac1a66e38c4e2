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

/// Training: normalize by batch statistics, save them, update the running statistics.
pub fn batchnorm_forward(spec: &BatchNorm, b: BatchNormSlices, rows: usize, cols: usize) {
    let BatchNormSlices { x, affine, y, saved, running } = b;
    let BatchNorm { eps, momentum } = *spec;
    let n = rows as f32;
    for j in 0..cols {
        let mut sum = 0.0f32;
        for r in 0..rows {
            sum += x[r * cols + j];
        }
        let mean = sum / n;
        let mut sq = 0.0f32;
        for r in 0..rows {
            let d = x[r * cols + j] - mean;
            sq += d * d;
        }
        let var_b = sq / n;
        let inv_std = 1.0 / (var_b + eps).sqrt();
        for r in 0..rows {
            let i = r * cols + j;
            y[i] = affine[j] * (x[i] - mean) * inv_std + affine[cols + j];
        }
        saved[j] = mean;
        saved[cols + j] = inv_std;
        let unbiased = if rows > 1 { sq / (n - 1.0) } else { var_b };
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

/// dγ = Σ dy·x̂, dβ = Σ dy, dx = γ/(B·σ) · (B·dy − Σ dy − x̂·Σ dy·x̂).
pub fn batchnorm_backward(g: BatchNormGrads, rows: usize, cols: usize) {
    let BatchNormGrads { x, affine, saved, dy, dx, daffine } = g;
    let n = rows as f32;
    for j in 0..cols {
        let (mean, inv_std) = (saved[j], saved[cols + j]);
        let (mut sum_dy, mut sum_dy_xhat) = (0.0f32, 0.0f32);
        for r in 0..rows {
            let i = r * cols + j;
            sum_dy += dy[i];
            sum_dy_xhat += dy[i] * (x[i] - mean) * inv_std;
        }
        let k = affine[j] * inv_std / n;
        for r in 0..rows {
            let i = r * cols + j;
            let xhat = (x[i] - mean) * inv_std;
            dx[i] = k * (n * dy[i] - sum_dy - xhat * sum_dy_xhat);
        }
        daffine[j] = sum_dy_xhat;
        daffine[cols + j] = sum_dy;
    }
}
