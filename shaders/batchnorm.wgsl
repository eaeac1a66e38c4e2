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

// Synchronized across replicas, the same passes run in stages, the host summing each stage's
// per-feature sums over the replicas in between: batchnorm_sum (saved row 0 ← Σ x), then
// with the whole batch's mean in row 0 batchnorm_sqdev (row 1 ← Σ (x − μ)²), then
// batchnorm_normalize over p.total rows; backward batchnorm_backward_sums (daffine = this
// replica's [Σ dy·x̂; Σ dy]) and batchnorm_backward_input from the whole batch's sums.
// The one-replica kernels call the same functions, so one replica synchronized computes what
// they compute.

struct Params {
    rows: u32,
    cols: u32,
    eps: f32,
    momentum: f32,
    // The whole batch's rows, over every replica (p.rows in a one-replica pass).
    total: u32,
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
// The whole batch's [Σ dy·x̂; Σ dy] (synchronized backward).
@group(0) @binding(6) var<storage, read> sums: array<f32>;

override WG: u32 = 64u;

// Σ_rows x[·, j].
fn column_sum(j: u32) -> f32 {
    var sum = 0.0;
    for (var r = 0u; r < p.rows; r++) {
        sum += x[r * p.cols + j];
    }
    return sum;
}

// Σ_rows (x[·, j] − mean)².
fn column_sqdev(j: u32, mean: f32) -> f32 {
    var sq = 0.0;
    for (var r = 0u; r < p.rows; r++) {
        let d = x[r * p.cols + j] - mean;
        sq += d * d;
    }
    return sq;
}

// Normalize column j with the whole batch's mean and Σ (x − μ)² over p.total rows; save
// [μ; 1/σ] and update the running statistics.
fn normalize_column(j: u32, mean: f32, sq: f32) {
    let n = f32(p.total);
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
    let unbiased = select(var_b, sq / (n - 1.0), p.total > 1u);
    running[j] = (1.0 - p.momentum) * running[j] + p.momentum * mean;
    running[p.cols + j] = (1.0 - p.momentum) * running[p.cols + j] + p.momentum * unbiased;
}

@compute @workgroup_size(WG)
fn batchnorm_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    if j >= p.cols {
        return;
    }
    let mean = column_sum(j) / f32(p.rows);
    normalize_column(j, mean, column_sqdev(j, mean));
}

@compute @workgroup_size(WG)
fn batchnorm_sum(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    if j >= p.cols {
        return;
    }
    saved[j] = column_sum(j);
}

@compute @workgroup_size(WG)
fn batchnorm_sqdev(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    if j >= p.cols {
        return;
    }
    saved[p.cols + j] = column_sqdev(j, saved[j]);
}

@compute @workgroup_size(WG)
fn batchnorm_normalize(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    if j >= p.cols {
        return;
    }
    normalize_column(j, saved[j], saved[p.cols + j]);
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

// [Σ dy·x̂; Σ dy] of column j over this pass's rows.
fn gradient_sums(j: u32) -> vec2<f32> {
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
    return vec2(sum_dy_xhat, sum_dy);
}

// dx of column j from the whole batch's sums over p.total rows.
fn input_gradient(j: u32, s: vec2<f32>) {
    let mean = saved_in[j];
    let inv_std = saved_in[p.cols + j];
    let n = f32(p.total);
    let k = affine[j] * inv_std / n;
    for (var r = 0u; r < p.rows; r++) {
        let i = r * p.cols + j;
        let xhat = (x[i] - mean) * inv_std;
        dx[i] = k * (n * dy[i] - s.y - xhat * s.x);
    }
}

@compute @workgroup_size(WG)
fn batchnorm_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    if j >= p.cols {
        return;
    }
    let s = gradient_sums(j);
    input_gradient(j, s);
    daffine[j] = s.x;
    daffine[p.cols + j] = s.y;
}

@compute @workgroup_size(WG)
fn batchnorm_backward_sums(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    if j >= p.cols {
        return;
    }
    let s = gradient_sums(j);
    daffine[j] = s.x;
    daffine[p.cols + j] = s.y;
}

@compute @workgroup_size(WG)
fn batchnorm_backward_input(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    if j >= p.cols {
        return;
    }
    input_gradient(j, vec2(sums[j], sums[p.cols + j]));
}
