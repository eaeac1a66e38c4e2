// reduce.wgsl — reductions.
//   column_sum:     y[j] = Σ_r x[r, j]            x: (rows, cols), y: (cols); bias gradients
//   argmax_correct: stats[1] += #{r : first argmax of x_r = labels[r]}, stats[2] += rows
//   sum_squares:    out[0] = Σx² (added to out[0] when accumulate = 1); global gradient norms
// argmax_correct and sum_squares run as one workgroup reducing in workgroup memory, so their
// sums are deterministic.

struct Params {
    rows: u32,
    cols: u32,
    n: u32,
    accumulate: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<storage, read> labels: array<u32>;

const THREADS: u32 = 256u;
var<workgroup> part: array<f32, THREADS>;

@compute @workgroup_size(THREADS)
fn column_sum(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    if j >= p.cols {
        return;
    }
    var s = 0.0;
    for (var r = 0u; r < p.rows; r++) {
        s += x[r * p.cols + j];
    }
    y[j] = s;
}

fn reduce_parts(t: u32) {
    workgroupBarrier();
    for (var stride = THREADS / 2u; stride > 0u; stride /= 2u) {
        if t < stride {
            part[t] += part[t + stride];
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(THREADS)
fn argmax_correct(@builtin(local_invocation_index) t: u32) {
    var correct = 0.0;
    for (var r = t; r < p.rows; r += THREADS) {
        let base = r * p.cols;
        var best = 0u;
        for (var c = 1u; c < p.cols; c++) {
            if x[base + c] > x[base + best] {
                best = c;
            }
        }
        correct += select(0.0, 1.0, best == labels[r]);
    }
    part[t] = correct;
    reduce_parts(t);
    if t == 0u {
        stats[1] += part[0];
        stats[2] += f32(p.rows);
    }
}

@compute @workgroup_size(THREADS)
fn sum_squares(@builtin(local_invocation_index) t: u32) {
    var acc = 0.0;
    for (var i = t; i < p.n; i += THREADS) {
        let v = x[i];
        acc += v * v;
    }
    part[t] = acc;
    reduce_parts(t);
    if t == 0u {
        out[0] = select(0.0, out[0], p.accumulate != 0u) + part[0];
    }
}
