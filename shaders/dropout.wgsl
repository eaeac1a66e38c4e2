// dropout.wgsl — inverted dropout and alpha dropout with masks from Philox
// (lib/philox.wgsl). Element i is kept when its uniform draw u(seed, stream, step, i) ≥ p.
// Backward draws the same mask again; nothing is stored.
//
// Inverted (Srivastava et al. 2014): y = keep ? x / (1 − p) : 0.
// Alpha (Klambauer et al. 2017): y = a·(keep ? x : α′) + b, α′ = −λα,
//   a = ((1 − p)(1 + p·α′²))^(−1/2), b = −a·α′·p, which keeps mean 0 and variance 1.
// The host folds p = 1 to "everything dropped, output 0" (PyTorch's convention).
//
// x, y, dy, dx: (n) = (rows, cols); counters[0] = step, counters[2] = the row of the whole
// batch that row 0 is (a data-parallel replica's slice starts inside it): element i is drawn
// as element counters[2]·cols + i, so a replica's masks are the ones a run of one draws.

struct Params {
    n: u32,
    seed: u32,
    stream: u32,
    alpha_mode: u32,
    p: f32,
    keep_scale: f32,
    a: f32,
    b: f32,
    dropped: f32,
    cols: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> counters: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

// WG and element(): lib/grid.wgsl.

// Each invocation owns the four elements of one Philox block (4q … 4q + 3): the block is
// computed once for all four instead of once per element (4× less generator work; the masks
// are the same draws, so GPU and twin still agree bit for bit).

// Whether each element of block q is kept. Drawn at global element g = base + 4q + j: one
// Philox block where base is a multiple of 4 (always in a run of one), else the two blocks
// the four straddle.
fn kept4(q: u32) -> vec4<bool> {
    let g = counters[2] * p.cols + 4u * q;
    let lo = philox_uniforms4(p.seed, p.stream, counters[0], g / 4u);
    let shift = g % 4u;
    if shift == 0u {
        return lo >= vec4(p.p);
    }
    let hi = philox_uniforms4(p.seed, p.stream, counters[0], g / 4u + 1u);
    var u: vec4<f32>;
    for (var j = 0u; j < 4u; j++) {
        let lane = shift + j;
        u[j] = select(hi[lane % 4u], lo[lane % 4u], lane < 4u);
    }
    return u >= vec4(p.p);
}

// src = x, dst = y.
@compute @workgroup_size(WG)
fn dropout_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let q = element(gid, groups);
    if 4u * q >= p.n {
        return;
    }
    let keep = kept4(q);
    for (var j = 0u; j < 4u; j++) {
        let i = 4u * q + j;
        if i < p.n {
            if p.alpha_mode != 0u {
                dst[i] = p.a * select(p.dropped, src[i], keep[j]) + p.b;
            } else {
                dst[i] = select(0.0, src[i] * p.keep_scale, keep[j]);
            }
        }
    }
}

// src = dy, dst = dx.
@compute @workgroup_size(WG)
fn dropout_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let q = element(gid, groups);
    if 4u * q >= p.n {
        return;
    }
    let keep = kept4(q);
    let scale = select(p.keep_scale, p.a, p.alpha_mode != 0u);
    for (var j = 0u; j < 4u; j++) {
        let i = 4u * q + j;
        if i < p.n {
            dst[i] = select(0.0, src[i] * scale, keep[j]);
        }
    }
}
