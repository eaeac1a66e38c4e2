// optim_dx.wgsl — the update of a (rows, cols) weight matrix from its factors x (K, rows) and
// dz (K, cols) (`Gradient::Outer`) that also forms the layer's input gradient
// dx = dz·θᵀ (K, rows) from θ as it was before the update. The backward pass's product over θ
// and the update each read all of θ, and at a step of one or two rows that read is most of
// their cost: here it happens once. Appended to optim.wgsl (its bindings, Params, factor
// rows and rule steps): a module of its own because it needs wgpu's SUBGROUP feature.
//
// The layout is optim.wgsl's by rows (the grid's y is θ's row, x the vec4 in it; FORM has
// OUTER, ALIGNED and BY_ROWS, and K = 1..4 in its factor-row bits). Each lane takes
// dot(θ[q], dz[k, its vec4]) before updating θ[q]; each subgroup adds its lanes' dots
// (subgroupAdd) and one lane stores the sum, one of the row's p.parts partial sums per k;
// `input_gradient` then adds a row's partial sums in order and applies the previous layer's
// activation derivative, as the product's epilogue would.

@group(0) @binding(8) var<storage, read_write> partial: array<f32>;
// input_gradient's: the derivative's point (K, rows), bound to `partial` when there is none,
// and dx (K, rows).
@group(0) @binding(9) var<storage, read> derivative_at: array<f32>;
@group(0) @binding(10) var<storage, read_write> dx: array<f32>;

// One lane's vec4 q of row `row`, θ there before the update, its raw gradient, and its
// share of dx: dot(θ, dz[k, its columns]) in component k. Lanes past the row (`live` false)
// read its last vec4, update nothing and add nothing, but take part in the subgroup's sums.
struct Factored {
    q: u32,
    live: bool,
    w: vec4<f32>,
    g: vec4<f32>,
    dots: vec4<f32>,
}

fn factored(gid: vec3<u32>, row: u32) -> Factored {
    var f: Factored;
    let stride = p.cols / 4u;
    let j4 = min(gid.x, stride - 1u);
    f.live = gid.x < stride;
    f.q = row * stride + j4;
    f.w = theta[f.q];
    // As outer_grad: summed in k's order from 0.
    for (var k = 0u; k < factor_rows(); k++) {
        let dz = grad[k * stride + j4];
        f.g += outer_x[k * p.rows + row] * dz;
        f.dots[k] = select(0.0, dot(f.w, dz), f.live);
    }
    return f;
}

// The subgroup's sums of the lanes' dots, stored by its first lane as partial sum
// wg.x·sgs + sg of row wg.y, for each k.
fn input_partials(dots: vec4<f32>, wg: vec3<u32>, sg: u32, sgs: u32, lane: u32) {
    let part = wg.x * sgs + sg;
    for (var k = 0u; k < factor_rows(); k++) {
        let sum = subgroupAdd(dots[k]);
        if lane == 0u {
            partial[(k * p.rows + wg.y) * p.parts + part] = sum;
        }
    }
}

@compute @workgroup_size(WG)
fn sgd_update_dx(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_id) sg: u32, @builtin(num_subgroups) sgs: u32, @builtin(subgroup_invocation_id) lane: u32) {
    let f = factored(gid, wg.y);
    if f.live {
        sgd_step(f.q, f.w, f.g);
    }
    input_partials(f.dots, wg, sg, sgs, lane);
}

@compute @workgroup_size(WG)
fn momentum_update_dx(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_id) sg: u32, @builtin(num_subgroups) sgs: u32, @builtin(subgroup_invocation_id) lane: u32) {
    let f = factored(gid, wg.y);
    if f.live {
        momentum_step(f.q, f.w, f.g);
    }
    input_partials(f.dots, wg, sg, sgs, lane);
}

@compute @workgroup_size(WG)
fn adagrad_update_dx(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_id) sg: u32, @builtin(num_subgroups) sgs: u32, @builtin(subgroup_invocation_id) lane: u32) {
    let f = factored(gid, wg.y);
    if f.live {
        adagrad_step(f.q, f.w, f.g);
    }
    input_partials(f.dots, wg, sg, sgs, lane);
}

@compute @workgroup_size(WG)
fn rmsprop_update_dx(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_id) sg: u32, @builtin(num_subgroups) sgs: u32, @builtin(subgroup_invocation_id) lane: u32) {
    let f = factored(gid, wg.y);
    if f.live {
        rmsprop_step(f.q, f.w, f.g);
    }
    input_partials(f.dots, wg, sg, sgs, lane);
}

@compute @workgroup_size(WG)
fn adam_update_dx(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_id) sg: u32, @builtin(num_subgroups) sgs: u32, @builtin(subgroup_invocation_id) lane: u32) {
    let f = factored(gid, wg.y);
    if f.live {
        adam_step(f.q, f.w, f.g);
    }
    input_partials(f.dots, wg, sg, sgs, lane);
}

@compute @workgroup_size(WG)
fn nadam_update_dx(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_id) sg: u32, @builtin(num_subgroups) sgs: u32, @builtin(subgroup_invocation_id) lane: u32) {
    let f = factored(gid, wg.y);
    if f.live {
        nadam_step(f.q, f.w, f.g);
    }
    input_partials(f.dots, wg, sg, sgs, lane);
}

// dx[e] for e over the K·rows elements: the row's partial sums added in order, times the
// derivative of activation FORM >> 1 at derivative_at[e] where FORM & 1 (here FORM holds only
// these, not optim.wgsl's bits).
@compute @workgroup_size(WG)
fn input_gradient(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let e = element(gid, groups);
    if e >= p.k * p.rows {
        return;
    }
    var sum = 0.0;
    for (var s = 0u; s < p.parts; s++) {
        sum += partial[e * p.parts + s];
    }
    if (FORM & 1u) != 0u {
        sum *= act_derivative(FORM >> 1u, derivative_at[e], p.alpha);
    }
    dx[e] = sum;
}
