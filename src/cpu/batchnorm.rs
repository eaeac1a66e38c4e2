//! CPU twin of `shaders/batchnorm.wgsl`. affine = [γ; β], saved = [μ_B; 1/√(σ²_B+ε)],
//! running = [μ; σ²], each (2, cols).

/// Training: normalize by batch statistics, save them, update the running statistics.
#[allow(clippy::too_many_arguments)]
pub fn batchnorm_forward(
    x: &[f32],
    affine: &[f32],
    y: &mut [f32],
    saved: &mut [f32],
    running: &mut [f32],
    rows: usize,
    cols: usize,
    eps: f32,
    momentum: f32,
) {
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
#[allow(clippy::too_many_arguments)]
pub fn batchnorm_backward(
    x: &[f32],
    affine: &[f32],
    saved: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    daffine: &mut [f32],
    rows: usize,
    cols: usize,
) {
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
