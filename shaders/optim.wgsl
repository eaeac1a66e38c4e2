// optim.wgsl — one kernel per update rule over a flat parameter buffer and its state.
// Scalars that change with the step (learning rate, bias corrections) come from the `h`
// buffer the host writes at the start of each step, bound as a uniform (read through a
// storage binding, lavapipe loads such a scalar lane by lane); `p` holds only sizes and
// switches.
//
// The gradient each rule sees, in this order:
//   g ← grad · min(1, clip_norm / (‖grad‖ + 1e-6))   when clip_norm > 0 (‖·‖ over all
//                                                     parameters: sqrt(norm.x) from sum_squares)
//   g ← g + l2·θ + l1·sign(θ)                        (penalties folded into the gradient, on
//                                                     the first p.penalized elements)
//   g ← clamp(g, −clip_value, clip_value)            when clip_value > 0
// Rules (θ parameter, η = lr):
//   sgd:       θ ← θ − η g
//   momentum:  v ← β v − η g;  θ ← θ + v          (Keras/textbook form; PyTorch keeps
//              u ← β u + g, θ ← θ − η u, the same trajectory at constant η with v = −η u)
//   nesterov:  v ← β v − η g;  θ ← θ + β v − η g  (the look-ahead gradient, reformulated)
//   adagrad:   s ← s + g²;  θ ← θ − η g / (√s + ε)
//   rmsprop:   s ← ρ s + (1 − ρ) g²;  θ ← θ − η g / (√s + ε)
//   adam:      θ ← θ(1 − η·wd) (AdamW; wd = 0 is Adam);  m ← β1 m + (1 − β1) g;
//              v ← β2 v + (1 − β2) g²;  θ ← θ − η (m / c1) / (√(v / c2) + ε),
//              c1 = 1 − β1^t, c2 = 1 − β2^t
//   nadam:     m, v as adam;  θ ← θ − η (k_g g + k_m m) / (√(v / c2) + ε) with PyTorch's
//              momentum schedule μ_t = β1(1 − ½·0.96^(tψ)): k_g = (1 − μ_t)/(1 − Πμ_≤t),
//              k_m = μ_{t+1}/(1 − Πμ_≤t+1)

struct Params {
    n: u32,
    // The penalties apply to elements below this (a multiple of 4 unless it is n).
    penalized: u32,
    // A gradient formed from factors (FORM & OUTER): the parameter is (rows, cols), x (k, rows)
    // and dz (k, cols).
    rows: u32,
    cols: u32,
    k: u32,
    // optim_dx.wgsl: the input gradient's partial sums per row of the parameter, and the
    // activation parameter of the derivative that multiplies it.
    parts: u32,
    alpha: f32,
    _pad0: u32,
}

// Mirrors `Hyper` in src/backend/specs.rs.
struct Hyper {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    l1: f32,
    l2: f32,
    clip_value: f32,
    clip_norm: f32,
    c1: f32,
    c2: f32,
    k_g: f32,
    k_m: f32,
    _pad0: f32,
    _pad1: f32,
    _pad2: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
// Parameters, gradients and state four floats at a time: on CPU-backed drivers an invocation
// is a SIMD lane, and vec4 loads and stores move more bytes per lane (momentum on 1M
// parameters went from 10.9 to 4.7 ms on lavapipe). The last vec4 may reach past n into the
// buffer's padding (the pool sizes buffers to multiples of 16 bytes), which belongs to no
// other tensor: updating it is harmless, and it is never read back.
@group(0) @binding(1) var<storage, read_write> theta: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> h: Hyper;
// Σg² over all parameters (`sum_squares`) in its first component, a uniform for the same reason
// as `h`.
@group(0) @binding(4) var<uniform> norm: vec4<f32>;
@group(0) @binding(5) var<storage, read_write> s1: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> s2: array<vec4<f32>>;
// With FORM & OUTER, `grad` holds dz and this x: the gradient is xᵀ·dz (`Gradient::Outer`).
@group(0) @binding(7) var<storage, read> outer_x: array<f32>;

// WG and element(): lib/grid.wgsl. Each invocation owns the vec4 `q`.

fn in_range(q: u32) -> bool {
    return q < (p.n + 3u) / 4u;
}

// What this pipeline is built for. On lavapipe a branch on a uniform runs both sides under a
// mask, so plain momentum also paid Nesterov's read-modify-write of θ, and every rule the
// clipping and penalties it did not use. θ is read once. (Momentum on the 266k parameters of
// the 784-300-100-10 MLP stays at 1.3-1.5 ms: that is its five vec4 loads and stores per
// four parameters, a loop over the lanes each on lavapipe.)
override FORM: u32 = 0u;
const CLIP_NORM: u32 = 1u;
const PENALTIES: u32 = 2u;
const NESTEROV: u32 = 4u;
const OUTER: u32 = 8u;
// cols % 4 == 0: a vec4 of parameters lies in one row, and dz's rows start on a vec4.
const ALIGNED: u32 = 16u;
// With ALIGNED: the grid's y is the parameter's row, x the vec4 in it (`owned`).
const BY_ROWS: u32 = 32u;

// The vec4 an invocation owns, or none (past the end): numbered along the grid, or with
// BY_ROWS as the vec4 gid.x of row gid.y.
fn owned(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    if (FORM & BY_ROWS) != 0u {
        let stride = p.cols / 4u;
        return select(0xffffffffu, gid.y * stride + gid.x, gid.x < stride);
    }
    return element(gid, groups);
}

// FORM's bits from 6 on: the factors' row count where it is 1 to 4, so that their loops unroll
// (the update of a K = 1 step's 4M-parameter matrix ran 15-20% faster on lavapipe); 0: p.k.
const FACTOR_ROWS_AT: u32 = 6u;

fn factor_rows() -> u32 {
    let k = FORM >> FACTOR_ROWS_AT;
    return select(p.k, k, k != 0u);
}

// ⌊q / stride⌋ for q < 2^22 (the host's bound): through f32, where the quotient is within one
// of it (2.5 ULP, WGSL's bound), then corrected. An integer division of a non-constant is a
// loop over the lanes on CPU drivers; this is a few vector instructions.
fn row_of(q: u32, stride: u32) -> u32 {
    var i = u32(f32(q) / f32(stride));
    if i * stride > q {
        i -= 1u;
    } else if (i + 1u) * stride <= q {
        i += 1u;
    }
    return i;
}

// Σ_k x[k, i]·dz[k, j] for the vec4 q of a (rows, cols) parameter, summed in k's order from 0
// as the products' kernels do (the same bits as the stored gradient where K = 1). A lane reads
// K values of x and K vec4s of dz, which its neighbours share, instead of a stored vec4.
fn outer_grad(q: u32, row: u32) -> vec4<f32> {
    var g = vec4(0.0);
    if (FORM & ALIGNED) != 0u {
        let stride = p.cols / 4u;
        var i = row;
        if (FORM & BY_ROWS) == 0u {
            i = row_of(q, stride);
        }
        let j4 = q - i * stride;
        for (var k = 0u; k < factor_rows(); k++) {
            g += outer_x[k * p.rows + i] * grad[k * stride + j4];
        }
        return g;
    }
    for (var c = 0u; c < 4u; c++) {
        // The last vec4 may reach past n: its extra lanes compute the last element again.
        let e = min(4u * q + c, p.n - 1u);
        let i = e / p.cols;
        let j = e - i * p.cols;
        var sum = 0.0;
        for (var k = 0u; k < factor_rows(); k++) {
            let f = k * p.cols + j;
            sum += outer_x[k * p.rows + i] * grad[f / 4u][f % 4u];
        }
        g[c] = sum;
    }
    return g;
}

// The gradient of the vec4 q, before clipping and penalties: stored, or formed from factors.
fn raw_grad(q: u32, row: u32) -> vec4<f32> {
    if (FORM & OUTER) != 0u {
        return outer_grad(q, row);
    }
    return grad[q];
}

// The gradient each rule sees, from the raw one g of the vec4 q, whose parameters are w.
fn effective_grad(q: u32, w: vec4<f32>, raw: vec4<f32>) -> vec4<f32> {
    var g = raw;
    if (FORM & CLIP_NORM) != 0u {
        g *= min(1.0, h.clip_norm / (sqrt(norm.x) + 1e-6));
    }
    if (FORM & PENALTIES) != 0u && 4u * q < p.penalized {
        g += h.l2 * w + h.l1 * sign(w);
    }
    if h.clip_value > 0.0 {
        g = clamp(g, vec4(-h.clip_value), vec4(h.clip_value));
    }
    return g;
}

// Each rule's step for the vec4 q, whose parameters are w (read by the caller) and whose raw
// gradient is g; the entry points below find q, and optim_dx.wgsl's also form the input
// gradient from w.

fn sgd_step(q: u32, w: vec4<f32>, g: vec4<f32>) {
    theta[q] = w - h.lr * effective_grad(q, w, g);
}

fn momentum_step(q: u32, w: vec4<f32>, raw: vec4<f32>) {
    let g = effective_grad(q, w, raw);
    let v = h.beta1 * s1[q] - h.lr * g;
    s1[q] = v;
    if (FORM & NESTEROV) != 0u {
        theta[q] = w + (h.beta1 * v - h.lr * g);
    } else {
        theta[q] = w + v;
    }
}

fn adagrad_step(q: u32, w: vec4<f32>, raw: vec4<f32>) {
    let g = effective_grad(q, w, raw);
    let s = s1[q] + g * g;
    s1[q] = s;
    theta[q] = w - h.lr * g / (sqrt(s) + h.eps);
}

fn rmsprop_step(q: u32, w: vec4<f32>, raw: vec4<f32>) {
    let g = effective_grad(q, w, raw);
    let s = h.beta2 * s1[q] + (1.0 - h.beta2) * g * g;
    s1[q] = s;
    theta[q] = w - h.lr * g / (sqrt(s) + h.eps);
}

// m ← β1 m + (1 − β1) g and v ← β2 v + (1 − β2) g², stored and returned.
fn adam_moments(q: u32, g: vec4<f32>) -> mat2x4<f32> {
    let m = h.beta1 * s1[q] + (1.0 - h.beta1) * g;
    let v = h.beta2 * s2[q] + (1.0 - h.beta2) * g * g;
    s1[q] = m;
    s2[q] = v;
    return mat2x4(m, v);
}

fn adam_step(q: u32, w: vec4<f32>, raw: vec4<f32>) {
    let g = effective_grad(q, w, raw);
    let mv = adam_moments(q, g);
    let decayed = w * (1.0 - h.lr * h.weight_decay);
    theta[q] = decayed - h.lr * (mv[0] / h.c1) / (sqrt(mv[1] / h.c2) + h.eps);
}

fn nadam_step(q: u32, w: vec4<f32>, raw: vec4<f32>) {
    let g = effective_grad(q, w, raw);
    let mv = adam_moments(q, g);
    theta[q] = w - h.lr * (h.k_g * g + h.k_m * mv[0]) / (sqrt(mv[1] / h.c2) + h.eps);
}

@compute @workgroup_size(WG)
fn sgd_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
    let q = owned(gid, groups);
    if in_range(q) {
        sgd_step(q, theta[q], raw_grad(q, wg.y));
    }
}

@compute @workgroup_size(WG)
fn momentum_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
    let q = owned(gid, groups);
    if in_range(q) {
        momentum_step(q, theta[q], raw_grad(q, wg.y));
    }
}

@compute @workgroup_size(WG)
fn adagrad_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
    let q = owned(gid, groups);
    if in_range(q) {
        adagrad_step(q, theta[q], raw_grad(q, wg.y));
    }
}

@compute @workgroup_size(WG)
fn rmsprop_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
    let q = owned(gid, groups);
    if in_range(q) {
        rmsprop_step(q, theta[q], raw_grad(q, wg.y));
    }
}

@compute @workgroup_size(WG)
fn adam_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
    let q = owned(gid, groups);
    if in_range(q) {
        adam_step(q, theta[q], raw_grad(q, wg.y));
    }
}

@compute @workgroup_size(WG)
fn nadam_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
    let q = owned(gid, groups);
    if in_range(q) {
        nadam_step(q, theta[q], raw_grad(q, wg.y));
    }
}
