// loss.wgsl — output layers and losses. Each loss writes the gradient of
// (Σ over the batch of per-sample losses)·scale into dz (scale = 1/B gives the batch mean)
// and adds to the device-side accumulators stats = [loss sum, correct, accuracy count,
// samples], read back once per epoch. One workgroup per call walks the rows and reduces
// in workgroup memory, so the sums are deterministic.
//
//   softmax_cross_entropy: z (rows, cols) logits, labels (rows) class ids;
//     loss_r = logsumexp(z_r) − z_r[label], dz = (softmax(z_r) − onehot)·scale,
//     correct when the first maximum of z_r is the label.
//   sigmoid_binary_cross_entropy: z, targets (rows, cols) in [0, 1];
//     per sample mean_c [max(z,0) − z·t + log(1 + e^−|z|)], dz = (σ(z) − t)·scale/cols,
//     correct per element when (z > 0) = (t > 0.5).
//   mean_squared_error: z predictions, targets (rows, cols);
//     per sample mean_c (z − t)², dz = 2(z − t)·scale/cols.

struct Params {
    rows: u32,
    cols: u32,
    scale: f32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read> targets: array<f32>;
@group(0) @binding(3) var<storage, read_write> dz: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
// softmax_forward writes probabilities here.
@group(0) @binding(3) var<storage, read_write> probs: array<f32>;

const THREADS: u32 = 256u;
var<workgroup> part_loss: array<f32, THREADS>;
var<workgroup> part_correct: array<f32, THREADS>;

// Tree-reduce the per-invocation partials and add them to stats (invocation 0 only).
fn accumulate(t: u32, loss: f32, correct: f32, accuracy_count: f32) {
    part_loss[t] = loss;
    part_correct[t] = correct;
    workgroupBarrier();
    for (var stride = THREADS / 2u; stride > 0u; stride /= 2u) {
        if t < stride {
            part_loss[t] += part_loss[t + stride];
            part_correct[t] += part_correct[t + stride];
        }
        workgroupBarrier();
    }
    if t == 0u {
        stats[0] += part_loss[0];
        stats[1] += part_correct[0];
        stats[2] += accuracy_count;
        stats[3] += f32(p.rows);
    }
}

// probs_r = softmax(z_r), one invocation per row.
@compute @workgroup_size(THREADS)
fn softmax_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    if r >= p.rows {
        return;
    }
    let base = r * p.cols;
    var m = z[base];
    for (var c = 1u; c < p.cols; c++) {
        m = max(m, z[base + c]);
    }
    var s = 0.0;
    for (var c = 0u; c < p.cols; c++) {
        s += exp(z[base + c] - m);
    }
    for (var c = 0u; c < p.cols; c++) {
        probs[base + c] = exp(z[base + c] - m) / s;
    }
}

@compute @workgroup_size(THREADS)
fn softmax_cross_entropy_forward(@builtin(local_invocation_index) t: u32) {
    // No early return: every invocation reaches the barriers in accumulate().
    var loss = 0.0;
    var correct = 0.0;
    for (var r = t; r < p.rows; r += THREADS) {
        let base = r * p.cols;
        let label = labels[r];
        var m = z[base];
        var best = 0u;
        for (var c = 1u; c < p.cols; c++) {
            if z[base + c] > m {
                m = z[base + c];
                best = c;
            }
        }
        var s = 0.0;
        for (var c = 0u; c < p.cols; c++) {
            s += exp(z[base + c] - m);
        }
        if label >= p.cols {
            // A label outside the classes poisons the loss rather than reading out of bounds.
            loss += bitcast<f32>(0x7fc00000u);
            continue;
        }
        loss += log(s) + m - z[base + label];
        correct += select(0.0, 1.0, best == label);
        for (var c = 0u; c < p.cols; c++) {
            let onehot = select(0.0, 1.0, c == label);
            dz[base + c] = (exp(z[base + c] - m) / s - onehot) * p.scale;
        }
    }
    accumulate(t, loss, correct, f32(p.rows));
}

@compute @workgroup_size(THREADS)
fn sigmoid_binary_cross_entropy_forward(@builtin(local_invocation_index) t: u32) {
    var loss = 0.0;
    var correct = 0.0;
    let n = p.rows * p.cols;
    let per_col = 1.0 / f32(p.cols);
    for (var i = t; i < n; i += THREADS) {
        let zi = z[i];
        let ti = targets[i];
        loss += (max(zi, 0.0) - zi * ti + log(1.0 + exp(-abs(zi)))) * per_col;
        correct += select(0.0, 1.0, (zi > 0.0) == (ti > 0.5));
        let sig = select(exp(zi) / (1.0 + exp(zi)), 1.0 / (1.0 + exp(-zi)), zi >= 0.0);
        dz[i] = (sig - ti) * p.scale * per_col;
    }
    accumulate(t, loss, correct, f32(n));
}

@compute @workgroup_size(THREADS)
fn mean_squared_error_forward(@builtin(local_invocation_index) t: u32) {
    var loss = 0.0;
    let n = p.rows * p.cols;
    let per_col = 1.0 / f32(p.cols);
    for (var i = t; i < n; i += THREADS) {
        let d = z[i] - targets[i];
        loss += d * d * per_col;
        dz[i] = 2.0 * d * p.scale * per_col;
    }
    accumulate(t, loss, 0.0, 0.0);
}
