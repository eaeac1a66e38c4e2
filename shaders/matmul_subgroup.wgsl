// matmul_subgroup.wgsl — the matmul with op(A) shared across a subgroup of 8 by broadcasts.
// Appended to matmul.wgsl (its bindings, Params, load_b and stores): a module of its own
// because it needs wgpu's SUBGROUP feature, which adapters without it would reject for the
// whole module.
//
// Why: on a CPU-backed driver (lavapipe) each invocation is one SIMD lane and a buffer load
// whose address differs per lane is a loop over the lanes, a few cycles per lane and
// component; it dominates the register-blocked kernels. Here a workgroup is one subgroup of
// 8 lanes that own neighbouring column blocks of the same 16 rows. Every lane needs the same
// 16 × 4 slice of op(A) per step, so each lane loads 1/8 of it and the subgroup exchanges
// the rest with subgroupBroadcast, which is a register shuffle. Loads per 512 multiply-adds
// per lane: 8 components of A and 32 of B, against 96 in matmul_forward_vec4 (8×16 blocks).
// Measured at 512³ on a 2-core host: 38-42 GFLOPS against 16-17 (README, matmul section).
//
// Needs a subgroup of exactly 8 invocations (the host checks the adapter's subgroup sizes)
// and the vec4 kernel's alignment: K % 4 = 0, M % 4 = 0 when A is transposed, N % 4 = 0
// when B is not. k is added four at a time, as in matmul_forward_vec4.

// The lanes' vectors 0..3 and 4..7 of the subgroup, as the columns of a 4×4 matrix. The lane
// index of subgroupBroadcast must be a constant, hence two functions.
fn lanes_lo(v: vec4<f32>) -> mat4x4<f32> {
    return mat4x4(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u), subgroupBroadcast(v, 3u));
}

fn lanes_hi(v: vec4<f32>) -> mat4x4<f32> {
    return mat4x4(subgroupBroadcast(v, 4u), subgroupBroadcast(v, 5u), subgroupBroadcast(v, 6u), subgroupBroadcast(v, 7u));
}

// One workgroup = one subgroup: rows 16·wid.y.., and lane j owns columns 8·(8·wid.x + j)...
// No invocation returns early: subgroupBroadcast needs every lane, so lanes past N or M clamp
// their reads and skip their stores.
@compute @workgroup_size(8, 1, 1)
fn matmul_forward_subgroup(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let row0 = wid.y * 16u;
    let col0 = (wid.x * 8u + lane) * 8u;
    subgroup_block(row0, col0, lane, (FORM & TRANS_A) != 0u, (FORM & TRANS_B) != 0u);
}

// Where this lane's two vec4 of the 16 × 4 slice of op(A) at k4 = 0 sit in `a4`, and how far
// they move per k4. Untransposed A (M, K): lane j reads rows row0 + j and row0 + 8 + j, four
// k each. Transposed A (K, M): lane j reads k = j % 4 for rows row0 + 4·(j / 4).. and 8 rows
// further.
struct ASlice {
    first: u32,
    second: u32,
    step: u32,
}

fn a_slice(row0: u32, lane: u32, trans_a: bool) -> ASlice {
    if trans_a {
        let m4 = p.m / 4u;
        let kk = lane % 4u;
        let q = row0 / 4u + lane / 4u;
        return ASlice(kk * m4 + min(q, m4 - 1u), kk * m4 + min(q + 2u, m4 - 1u), 4u * m4);
    }
    let k4s = p.k / 4u;
    return ASlice(min(row0 + lane, p.m - 1u) * k4s, min(row0 + 8u + lane, p.m - 1u) * k4s, 1u);
}

fn subgroup_block(row0: u32, col0: u32, lane: u32, trans_a: bool, trans_b: bool) {
    var c00 = mat4x4<f32>();
    var c01 = mat4x4<f32>();
    var c10 = mat4x4<f32>();
    var c11 = mat4x4<f32>();
    var c20 = mat4x4<f32>();
    var c21 = mat4x4<f32>();
    var c30 = mat4x4<f32>();
    var c31 = mat4x4<f32>();
    let s = a_slice(row0, lane, trans_a);
    for (var k4 = 0u; k4 < p.k / 4u; k4++) {
        let lo = a4[s.first + k4 * s.step];
        let hi = a4[s.second + k4 * s.step];
        // A_i: rows row0 + 4i.. as a 4×4 matrix whose column kk holds k = 4·k4 + kk. Lanes
        // holding rows (untransposed) give its transpose; lanes holding k give it directly.
        var a0 = lanes_lo(lo);
        var a1 = lanes_hi(lo);
        var a2 = lanes_lo(hi);
        var a3 = lanes_hi(hi);
        if !trans_a {
            a0 = transpose(a0);
            a1 = transpose(a1);
            a2 = transpose(a2);
            a3 = transpose(a3);
        }
        let b0 = load_b(col0, k4, trans_b);
        let b1 = load_b(col0 + 4u, k4, trans_b);
        c00 += a0 * b0;
        c01 += a0 * b1;
        c10 += a1 * b0;
        c11 += a1 * b1;
        c20 += a2 * b0;
        c21 += a2 * b1;
        c30 += a3 * b0;
        c31 += a3 * b1;
    }
    store_block(row0, col0, c00);
    store_block(row0, col0 + 4u, c01);
    store_block(row0 + 4u, col0, c10);
    store_block(row0 + 4u, col0 + 4u, c11);
    store_block(row0 + 8u, col0, c20);
    store_block(row0 + 8u, col0 + 4u, c21);
    store_block(row0 + 12u, col0, c30);
    store_block(row0 + 12u, col0 + 4u, c31);
    if (FORM & WITH_COLUMN_SUMS) != 0u && row0 == 0u {
        column_sums4(col0, 8u);
    }
}

// matmul_forward_subgroup_strided: the same blocks and sharing for any shape, reading both
// operands by element through the strides (no transposes in FORM, no alignment needs). The
// last step of k, when K % 4 ≠ 0, reads zeros past K.
@compute @workgroup_size(8, 1, 1)
fn matmul_forward_subgroup_strided(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let row0 = wid.y * 16u;
    let col0 = (wid.x * 8u + lane) * 8u;
    var c00 = mat4x4<f32>();
    var c01 = mat4x4<f32>();
    var c10 = mat4x4<f32>();
    var c11 = mat4x4<f32>();
    var c20 = mat4x4<f32>();
    var c21 = mat4x4<f32>();
    var c30 = mat4x4<f32>();
    var c31 = mat4x4<f32>();
    // This lane's rows of op(A) (row0 + lane and 8 further) and columns of op(B), clamped.
    let a_lo = min(row0 + lane, p.m - 1u) * p.a_rs;
    let a_hi = min(row0 + 8u + lane, p.m - 1u) * p.a_rs;
    var b_col: array<u32, 8>;
    for (var j = 0u; j < 8u; j++) {
        b_col[j] = min(col0 + j, p.n - 1u) * p.b_cs;
    }
    for (var k = 0u; k < p.k; k += 4u) {
        // k + i for i < 4, clamped, and whether it is inside K (the tail reads zeros).
        let kc = min(vec4(k) + vec4(0u, 1u, 2u, 3u), vec4(p.k - 1u));
        let live = vec4(k) + vec4(0u, 1u, 2u, 3u) < vec4(p.k);
        let ak = kc * p.a_ks;
        let bk = kc * p.b_ks;
        let lo = select(vec4<f32>(), vec4(a[a_lo + ak.x], a[a_lo + ak.y], a[a_lo + ak.z], a[a_lo + ak.w]), live);
        let hi = select(vec4<f32>(), vec4(a[a_hi + ak.x], a[a_hi + ak.y], a[a_hi + ak.z], a[a_hi + ak.w]), live);
        let a0 = transpose(lanes_lo(lo));
        let a1 = transpose(lanes_hi(lo));
        let a2 = transpose(lanes_lo(hi));
        let a3 = transpose(lanes_hi(hi));
        let b0 = mat4x4(b_column(b_col[0], bk, live), b_column(b_col[1], bk, live),
                        b_column(b_col[2], bk, live), b_column(b_col[3], bk, live));
        let b1 = mat4x4(b_column(b_col[4], bk, live), b_column(b_col[5], bk, live),
                        b_column(b_col[6], bk, live), b_column(b_col[7], bk, live));
        c00 += a0 * b0;
        c01 += a0 * b1;
        c10 += a1 * b0;
        c11 += a1 * b1;
        c20 += a2 * b0;
        c21 += a2 * b1;
        c30 += a3 * b0;
        c31 += a3 * b1;
    }
    store_block(row0, col0, c00);
    store_block(row0, col0 + 4u, c01);
    store_block(row0 + 4u, col0, c10);
    store_block(row0 + 4u, col0 + 4u, c11);
    store_block(row0 + 8u, col0, c20);
    store_block(row0 + 8u, col0 + 4u, c21);
    store_block(row0 + 12u, col0, c30);
    store_block(row0 + 12u, col0 + 4u, c31);
    if (FORM & WITH_COLUMN_SUMS) != 0u && row0 == 0u {
        column_sums(col0, 8u, 1u);
    }
}

// Four k of one column of op(B) at offsets `bk` from `col`, zero where not `live`.
fn b_column(col: u32, bk: vec4<u32>, live: vec4<bool>) -> vec4<f32> {
    return select(vec4<f32>(), vec4(b[col + bk.x], b[col + bk.y], b[col + bk.z], b[col + bk.w]), live);
}

// matmul_forward_subgroup64: the same sharing over 64 rows (eight groups of 8) instead of
// 16, for products of many rows. Every lane's op(B) slice (32 floats a step of k) then feeds
// 64 rows instead of 16: on lavapipe, where each lane's load is a loop over the lanes, that
// took 1024×784×300 from 43 to 50 GFLOPS and 128×2048×2048 from 35 to 52 (2-core EPYC).
// Fewer, larger workgroups leave cores idle on products of few rows (32×784×300: 21 against
// 37), so it is a tiling of its own (`subgroup-64`) that the tuner chooses per shape class.
// Accumulators are named matrices, as in subgroup_block (an array of them ran at 10 GFLOPS).
@compute @workgroup_size(8, 1, 1)
fn matmul_forward_subgroup64(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let row0 = wid.y * 64u;
    let col0 = (wid.x * 8u + lane) * 8u;
    let trans_a = (FORM & TRANS_A) != 0u;
    let trans_b = (FORM & TRANS_B) != 0u;
    // Rows row0 + 16h.. as subgroup_block reads them: `first` for groups 2h, `second` 2h + 1.
    let s0 = a_slice(row0, lane, trans_a);
    let s1 = a_slice(row0 + 16u, lane, trans_a);
    let s2 = a_slice(row0 + 32u, lane, trans_a);
    let s3 = a_slice(row0 + 48u, lane, trans_a);
    var c00 = mat4x4<f32>(); var c01 = mat4x4<f32>(); var c10 = mat4x4<f32>(); var c11 = mat4x4<f32>();
    var c20 = mat4x4<f32>(); var c21 = mat4x4<f32>(); var c30 = mat4x4<f32>(); var c31 = mat4x4<f32>();
    var c40 = mat4x4<f32>(); var c41 = mat4x4<f32>(); var c50 = mat4x4<f32>(); var c51 = mat4x4<f32>();
    var c60 = mat4x4<f32>(); var c61 = mat4x4<f32>(); var c70 = mat4x4<f32>(); var c71 = mat4x4<f32>();
    var c80 = mat4x4<f32>(); var c81 = mat4x4<f32>(); var c90 = mat4x4<f32>(); var c91 = mat4x4<f32>();
    var ca0 = mat4x4<f32>(); var ca1 = mat4x4<f32>(); var cb0 = mat4x4<f32>(); var cb1 = mat4x4<f32>();
    var cc0 = mat4x4<f32>(); var cc1 = mat4x4<f32>(); var cd0 = mat4x4<f32>(); var cd1 = mat4x4<f32>();
    var ce0 = mat4x4<f32>(); var ce1 = mat4x4<f32>(); var cf0 = mat4x4<f32>(); var cf1 = mat4x4<f32>();
    for (var k4 = 0u; k4 < p.k / 4u; k4++) {
        let b0 = load_b(col0, k4, trans_b);
        let b1 = load_b(col0 + 4u, k4, trans_b);
        eight_rows(&c00, &c01, &c10, &c11, a4[s0.first + k4 * s0.step], trans_a, b0, b1);
        eight_rows(&c20, &c21, &c30, &c31, a4[s0.second + k4 * s0.step], trans_a, b0, b1);
        eight_rows(&c40, &c41, &c50, &c51, a4[s1.first + k4 * s1.step], trans_a, b0, b1);
        eight_rows(&c60, &c61, &c70, &c71, a4[s1.second + k4 * s1.step], trans_a, b0, b1);
        eight_rows(&c80, &c81, &c90, &c91, a4[s2.first + k4 * s2.step], trans_a, b0, b1);
        eight_rows(&ca0, &ca1, &cb0, &cb1, a4[s2.second + k4 * s2.step], trans_a, b0, b1);
        eight_rows(&cc0, &cc1, &cd0, &cd1, a4[s3.first + k4 * s3.step], trans_a, b0, b1);
        eight_rows(&ce0, &ce1, &cf0, &cf1, a4[s3.second + k4 * s3.step], trans_a, b0, b1);
    }
    store_eight(row0, col0, c00, c01, c10, c11);
    store_eight(row0 + 8u, col0, c20, c21, c30, c31);
    store_eight(row0 + 16u, col0, c40, c41, c50, c51);
    store_eight(row0 + 24u, col0, c60, c61, c70, c71);
    store_eight(row0 + 32u, col0, c80, c81, c90, c91);
    store_eight(row0 + 40u, col0, ca0, ca1, cb0, cb1);
    store_eight(row0 + 48u, col0, cc0, cc1, cd0, cd1);
    store_eight(row0 + 56u, col0, ce0, ce1, cf0, cf1);
    if (FORM & WITH_COLUMN_SUMS) != 0u && row0 == 0u {
        column_sums4(col0, 8u);
    }
}

// Eight rows' step of k: the subgroup's vec4s `v` of op(A) (one per lane, as a_slice places
// them) against this lane's op(B) slice, into the accumulators of rows 0..3 (lo*) and 4..7
// (hi*), columns 0..3 (*0) and 4..7 (*1).
fn eight_rows(
    lo0: ptr<function, mat4x4<f32>>, lo1: ptr<function, mat4x4<f32>>,
    hi0: ptr<function, mat4x4<f32>>, hi1: ptr<function, mat4x4<f32>>,
    v: vec4<f32>, trans_a: bool, b0: mat4x4<f32>, b1: mat4x4<f32>,
) {
    var lo = lanes_lo(v);
    var hi = lanes_hi(v);
    if !trans_a {
        lo = transpose(lo);
        hi = transpose(hi);
    }
    *lo0 += lo * b0;
    *lo1 += lo * b1;
    *hi0 += hi * b0;
    *hi1 += hi * b1;
}

fn store_eight(row0: u32, col0: u32, lo0: mat4x4<f32>, lo1: mat4x4<f32>, hi0: mat4x4<f32>, hi1: mat4x4<f32>) {
    store_block(row0, col0, lo0);
    store_block(row0, col0 + 4u, lo1);
    store_block(row0 + 4u, col0, hi0);
    store_block(row0 + 4u, col0 + 4u, hi1);
}

