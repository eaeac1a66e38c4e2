// activation.wgsl — y = act(x) and dx = dy·act'(x) over a (rows, cols) tensor, plus PReLU's
// slope gradient. Maths in lib/activations.wgsl; RReLU's training slopes come from Philox
// (lib/philox.wgsl), drawn again in backward from (seed, stream, step, element).
//
// x, y, dy, dx: (rows, cols); alpha: (cols) PReLU slopes; counters[0] = step, counters[2] = the
// row of the whole batch that row 0 is (RReLU's slopes are drawn by the row in the whole batch,
// as dropout's masks).

struct Params {
    n: u32,
    cols: u32,
    a: f32,
    lower: f32,
    upper: f32,
    seed: u32,
    stream: u32,
    training: u32,
    rows: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// The activation this pipeline is built for (`Activation::code`). An override rather than a
// uniform, so the driver compiles only that activation's maths: with every variant in one
// switch, even ReLU's kernel carried GELU-tanh's compensated arithmetic and ran about 30%
// slower on lavapipe.
override ACT: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> alpha: array<f32>;
@group(0) @binding(3) var<storage, read> counters: array<u32>;
// activation_forward writes y. activation_backward differentiates at x (which is y itself
// for the ReLU family after a fused epilogue that kept no pre-activation).
@group(0) @binding(4) var<storage, read_write> y_out: array<f32>;
@group(0) @binding(5) var<storage, read> dy: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
// prelu_alpha_backward writes the slope gradient here.
@group(0) @binding(4) var<storage, read_write> dalpha: array<f32>;

// WG and element(): lib/grid.wgsl.

// The negative-side parameter of element i.
fn param_at(i: u32) -> f32 {
    if ACT == ACT_PRELU {
        return alpha[i % p.cols];
    }
    if ACT == ACT_RRELU && p.training != 0u {
        return p.lower + (p.upper - p.lower) * philox_uniform(p.seed, p.stream, counters[0], counters[2] * p.cols + i);
    }
    return p.a;
}

@compute @workgroup_size(WG)
fn activation_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element(gid, groups);
    if i >= p.n {
        return;
    }
    y_out[i] = act_forward(ACT, x[i], param_at(i));
}

@compute @workgroup_size(WG)
fn activation_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element(gid, groups);
    if i >= p.n {
        return;
    }
    dx[i] = dy[i] * act_derivative(ACT, x[i], param_at(i));
}

// dalpha[j] = Σ_rows dy[r, j]·min(x[r, j], 0): one invocation per feature.
@compute @workgroup_size(WG)
fn prelu_alpha_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let j = gid.x;
    if j >= p.cols {
        return;
    }
    var sum = 0.0;
    for (var r = 0u; r < p.rows; r++) {
        let i = r * p.cols + j;
        sum += dy[i] * min(x[i], 0.0);
    }
    dalpha[j] = sum;
}
