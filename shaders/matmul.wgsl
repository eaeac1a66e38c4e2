// matmul.wgsl — C = op(A)·op(B) (+ bias), op = identity or transpose per operand.
//
// op(A): (M, K), op(B): (K, N), C: (M, N), bias: (N). Transposes are strides, never copies:
//   op(A)[i, k] = a[i * a_rs + k * a_ks]      op(B)[k, j] = b[k * b_ks + j * b_cs]
// Two tilings of the same product:
//   matmul_forward        each invocation owns an RM×RN block of C in registers and reads
//                         A and B straight from memory. Fastest on CPU-backed drivers
//                         (lavapipe), where workgroup memory is ordinary memory plus barriers.
//   matmul_forward_tiled  a workgroup stages TILE_K-deep slices of A and B in workgroup memory
//                         and each invocation owns TM×TN outputs; the classic GPU kernel.
// Accumulation is f32 in increasing k, as in the CPU twin (src/cpu/matmul.rs).

struct Params {
    m: u32,
    n: u32,
    k: u32,
    a_rs: u32,
    a_ks: u32,
    b_ks: u32,
    b_cs: u32,
    has_bias: u32,
    activation: u32,
    alpha: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

// Bias and the activation epilogue (only identity so far; `p.activation` selects it).
fn epilogue(v: f32, col: u32) -> f32 {
    var r = v;
    if p.has_bias != 0u {
        r += bias[col];
    }
    return r;
}

// ---- register-blocked: no workgroup memory ----

const RM: u32 = 8u;
const RN: u32 = 8u;
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

@compute @workgroup_size(WG_X, WG_Y, 1)
fn matmul_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row0 = gid.y * RM;
    let col0 = gid.x * RN;
    if row0 >= p.m || col0 >= p.n {
        return;
    }
    // Edge blocks clamp their reads to the last row/column, so the k loop has no branches;
    // the clamped lanes' results are discarded at the store.
    var a_off: array<u32, RM>;
    var b_off: array<u32, RN>;
    for (var i = 0u; i < RM; i++) {
        a_off[i] = min(row0 + i, p.m - 1u) * p.a_rs;
    }
    for (var j = 0u; j < RN; j++) {
        b_off[j] = min(col0 + j, p.n - 1u) * p.b_cs;
    }
    var acc: array<f32, RM * RN>;
    for (var kk = 0u; kk < p.k; kk++) {
        let ak = kk * p.a_ks;
        let bk = kk * p.b_ks;
        var av: array<f32, RM>;
        var bv: array<f32, RN>;
        for (var i = 0u; i < RM; i++) {
            av[i] = a[a_off[i] + ak];
        }
        for (var j = 0u; j < RN; j++) {
            bv[j] = b[bk + b_off[j]];
        }
        for (var i = 0u; i < RM; i++) {
            for (var j = 0u; j < RN; j++) {
                acc[i * RN + j] = fma(av[i], bv[j], acc[i * RN + j]);
            }
        }
    }
    for (var i = 0u; i < RM; i++) {
        let row = row0 + i;
        if row < p.m {
            for (var j = 0u; j < RN; j++) {
                let col = col0 + j;
                if col < p.n {
                    c[row * p.n + col] = epilogue(acc[i * RN + j], col);
                }
            }
        }
    }
}

// ---- workgroup-memory tiles ----

const TM: u32 = 4u;
const TN: u32 = 4u;
override TW_X: u32 = 16u;
override TW_Y: u32 = 16u;
override TILE_K: u32 = 16u;

var<workgroup> tile_a: array<f32, TW_Y * TM * TILE_K>; // (BM, TILE_K), BM = TW_Y·TM
var<workgroup> tile_b: array<f32, TILE_K * TW_X * TN>; // (TILE_K, BN), BN = TW_X·TN

@compute @workgroup_size(TW_X, TW_Y, 1)
fn matmul_forward_tiled(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    // No early return: every invocation must reach the barriers. Out-of-range tile
    // elements load as 0 and out-of-range outputs are not stored.
    let bm = TW_Y * TM;
    let bn = TW_X * TN;
    let row_base = wid.y * bm;
    let col_base = wid.x * bn;
    let tid = lid.y * TW_X + lid.x;
    let threads = TW_X * TW_Y;
    var acc: array<f32, TM * TN>;
    for (var k0 = 0u; k0 < p.k; k0 += TILE_K) {
        for (var e = tid; e < bm * TILE_K; e += threads) {
            let r = row_base + e / TILE_K;
            let kk = k0 + e % TILE_K;
            var v = 0.0;
            if r < p.m && kk < p.k {
                v = a[r * p.a_rs + kk * p.a_ks];
            }
            tile_a[e] = v;
        }
        for (var e = tid; e < TILE_K * bn; e += threads) {
            let kk = k0 + e / bn;
            let col = col_base + e % bn;
            var v = 0.0;
            if kk < p.k && col < p.n {
                v = b[kk * p.b_ks + col * p.b_cs];
            }
            tile_b[e] = v;
        }
        workgroupBarrier();
        // Invocation (x, y) owns rows y + i·TW_Y and columns x + j·TW_X: neighbouring
        // invocations read neighbouring words of the tiles and store neighbouring words of C.
        for (var kk = 0u; kk < TILE_K; kk++) {
            var av: array<f32, TM>;
            var bv: array<f32, TN>;
            for (var i = 0u; i < TM; i++) {
                av[i] = tile_a[(lid.y + i * TW_Y) * TILE_K + kk];
            }
            for (var j = 0u; j < TN; j++) {
                bv[j] = tile_b[kk * bn + lid.x + j * TW_X];
            }
            for (var i = 0u; i < TM; i++) {
                for (var j = 0u; j < TN; j++) {
                    acc[i * TN + j] = fma(av[i], bv[j], acc[i * TN + j]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < TM; i++) {
        let row = row_base + lid.y + i * TW_Y;
        if row < p.m {
            for (var j = 0u; j < TN; j++) {
                let col = col_base + lid.x + j * TW_X;
                if col < p.n {
                    c[row * p.n + col] = epilogue(acc[i * TN + j], col);
                }
            }
        }
    }
}
