// batchnorm.wgsl — batch normalization (Ioffe & Szegedy 2015) over the rows of (rows, cols).
//
// Per feature j, packed two rows to a tensor so a dispatch binds at most 6 storage buffers:
//   affine  = [γ; β]                 (2, cols), the learned parameters
//   saved   = [μ_B; 1/√(σ²_B + ε)]   (2, cols), written in training for backward
//   running = [μ; σ²]                (2, cols), the evaluation statistics
// Training: x̂ = (x − μ_B)/√(σ²_B + ε) with the biased batch variance, y = γ x̂ + β, and
//   running ← (1 − m)·running + m·batch (PyTorch's momentum m; the variance unbiased).
// Evaluation: y = γ (x − μ)/√(σ² + ε) + β.
// Backward: dγ = Σ dy·x̂, dβ = Σ dy, dx = γ/(B·√(σ²_B + ε)) · (B·dy − Σ dy − x̂·Σ dy·x̂).
// The per-feature kernels run one invocation per column and walk the rows in order.

struct Params {
    rows: u32,
    cols: u32,
    eps: f32,
    momentum: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> affine: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> saved: array<f32>;
@group(0) @binding(5) var<storage, read_write> running: array<f32>;
// Evaluation reads the running statistics; backward reads saved, dy and writes dx, daffine.
@group(0) @binding(5) var<storage, read> running_in: array<f32>;
@group(0) @binding(4) var<storage, read> saved_in: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read_write> daffine: array<f32>;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn batchnorm_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    if j >= p.cols {
        return;
    }
    let n = f32(p.rows);
    var sum = 0.0;
    for (var r = 0u; r < p.rows; r++) {
        sum += x[r * p.cols + j];
    }
    let mean = sum / n;
    var sq = 0.0;
    for (var r = 0u; r < p.rows; r++) {
        let d = x[r * p.cols + j] - mean;
        sq += d * d;
    }
    let var_b = sq / n;
    let inv_std = 1.0 / sqrt(var_b + p.eps);
    let gamma = affine[j];
    let beta = affine[p.cols + j];
    for (var r = 0u; r < p.rows; r++) {
        let i = r * p.cols + j;
        y[i] = gamma * (x[i] - mean) * inv_std + beta;
    }
    saved[j] = mean;
    saved[p.cols + j] = inv_std;
    let unbiased = select(var_b, sq / (n - 1.0), p.rows > 1u);
    running[j] = (1.0 - p.momentum) * running[j] + p.momentum * mean;
    running[p.cols + j] = (1.0 - p.momentum) * running[p.cols + j] + p.momentum * unbiased;
}

@compute @workgroup_size(WG)
fn batchnorm_forward_eval(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * WG;
    if i >= p.rows * p.cols {
        return;
    }
    let j = i % p.cols;
    let inv_std = 1.0 / sqrt(running_in[p.cols + j] + p.eps);
    y[i] = affine[j] * (x[i] - running_in[j]) * inv_std + affine[p.cols + j];
}

@compute @workgroup_size(WG)
fn batchnorm_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    if j >= p.cols {
        return;
    }
    let mean = saved_in[j];
    let inv_std = saved_in[p.cols + j];
    var sum_dy = 0.0;
    var sum_dy_xhat = 0.0;
    for (var r = 0u; r < p.rows; r++) {
        let i = r * p.cols + j;
        let xhat = (x[i] - mean) * inv_std;
        sum_dy += dy[i];
        sum_dy_xhat += dy[i] * xhat;
    }
    let n = f32(p.rows);
    let k = affine[j] * inv_std / n;
    for (var r = 0u; r < p.rows; r++) {
        let i = r * p.cols + j;
        let xhat = (x[i] - mean) * inv_std;
        dx[i] = k * (n * dy[i] - sum_dy - xhat * sum_dy_xhat);
    }
    daffine[j] = sum_dy_xhat;
    daffine[p.cols + j] = sum_dy;
}
