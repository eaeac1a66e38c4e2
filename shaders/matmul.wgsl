// matmul.wgsl — C = op(A)·op(B) (+ bias), op = identity or transpose per operand.
//
// op(A): (M, K), op(B): (K, N), C: (M, N), bias: (N). Transposes are strides, never copies:
//   op(A)[i, k] = a[i * a_rs + k * a_ks]      op(B)[k, j] = b[k * b_ks + j * b_cs]
// Three kernels for the same product here; two more in matmul_subgroup.wgsl (faster still on
// lavapipe, where subgroups are 8 wide) and the workgroup-memory tilings of GPUs in
// matmul_tiled.wgsl:
//   matmul_forward        each invocation owns an 8×8 block of C in registers and reads A
//                         and B straight from memory; any shape.
//   matmul_forward_vec4   8×16 blocks read with vec4 loads, when the dimensions read
//                         contiguously are multiples of 4. On CPU-backed drivers (lavapipe)
//                         workgroup memory is ordinary memory plus barriers, so this beats
//                         workgroup tiles several-fold.
//   matmul_forward_vec4_rows  the same with 1×16 blocks, for products of fewer than 8 rows.
//   matmul_forward_shallow  8×8 blocks stored as vec4, for products of K ≤ 4 (a batch-1
//                         step's weight gradients), whose work is C's stores.
// Accumulation is f32. matmul_forward (and the tiled kernels) add in increasing k, as the CPU
// twin does (src/cpu/matmul.rs); matmul_forward_vec4 adds four k at a time, so its results
// differ from the twin's in the last bits (the parity tests bound this by K). The transposes,
// bias and epilogues are pipeline constants (FORM, lib/matmul_epilogue.wgsl).

struct Params {
    m: u32,
    n: u32,
    k: u32,
    a_rs: u32,
    a_ks: u32,
    b_ks: u32,
    b_cs: u32,
    alpha: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    _pad3: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
// The pre-activation z = op(A)·op(B) + bias, stored in pipelines built KEEP_PRE (activations
// whose derivative the output alone cannot give accurately). With a derivative epilogue it
// is read instead: the point at which the activation's derivative multiplies C (the backward
// epilogue, in pipelines built WITH_DERIVATIVE). Otherwise bound to c, unused.
@group(0) @binding(5) var<storage, read_write> pre: array<f32>;
// Σ_k op(B)[k, j] for every column j, written by the invocations of the first row block in
// pipelines built WITH_COLUMN_SUMS (the bias gradient, when B is a Dense layer's dz); otherwise bound to
// c, unused.
@group(0) @binding(6) var<storage, read_write> colsum: array<f32>;
// C seen as vec4, for matmul_forward_shallow's stores (an entry point binds one view of it).
@group(0) @binding(4) var<storage, read_write> c4: array<vec4<f32>>;
// The same two operands seen as vec4 (only the vec4 kernels use these).
// Stores and epilogues: lib/matmul_epilogue.wgsl.
@group(0) @binding(1) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b4: array<vec4<f32>>;

// ---- register blocks, no workgroup memory ----
//
// On lavapipe each invocation is one SIMD lane and a per-invocation value is one vector
// register, so loads that differ per lane are gathers: the cost is in the loads, and bigger
// blocks (more multiply-adds per load) win. Measured at 512³ on a 2-core host: scalar loads
// 4×4 6 GFLOPS, 8×8 11.6, 16×16 18.6; vec4 loads into mat4x4 accumulators, 8×16: 22.

override WG_X: u32 = 8u;
override WG_Y: u32 = 4u;

// matmul_forward: any shape, scalar loads. Each invocation owns rows row0..row0+8 and
// columns col0..col0+8 of C, held as two vec4 per row.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn matmul_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row0 = gid.y * 8u;
    let col0 = gid.x * 8u;
    if row0 >= p.m || col0 >= p.n {
        return;
    }
    // Edge blocks clamp their reads to the last row/column so the k loop has no branches;
    // the clamped lanes' results are discarded at the store.
    var a_off: array<u32, 8>;
    var b_off: array<u32, 8>;
    for (var i = 0u; i < 8u; i++) {
        a_off[i] = min(row0 + i, p.m - 1u) * p.a_rs;
        b_off[i] = min(col0 + i, p.n - 1u) * p.b_cs;
    }
    var acc: array<vec4<f32>, 16>; // acc[2i], acc[2i+1]: row i, columns 0..3 and 4..7
    for (var kk = 0u; kk < p.k; kk++) {
        let ak = kk * p.a_ks;
        let bk = kk * p.b_ks;
        let lo = vec4(b[bk + b_off[0]], b[bk + b_off[1]], b[bk + b_off[2]], b[bk + b_off[3]]);
        let hi = vec4(b[bk + b_off[4]], b[bk + b_off[5]], b[bk + b_off[6]], b[bk + b_off[7]]);
        for (var i = 0u; i < 8u; i++) {
            let av = vec4(a[a_off[i] + ak]);
            acc[2u * i] = fma(av, lo, acc[2u * i]);
            acc[2u * i + 1u] = fma(av, hi, acc[2u * i + 1u]);
        }
    }
    for (var i = 0u; i < 8u; i++) {
        store4(row0 + i, col0, acc[2u * i]);
        store4(row0 + i, col0 + 4u, acc[2u * i + 1u]);
    }
    if (FORM & WITH_COLUMN_SUMS) != 0u && row0 == 0u {
        column_sums(col0, 8u, 1u);
    }
}

// matmul_forward_vec4: needs K % 4 = 0, and M % 4 = 0 when A is transposed, N % 4 = 0 when
// B is not (the host checks). Each invocation owns an 8×16 block of C as eight 4×4 matrices and
// walks k four at a time: C_ij += A_i·B_j, where A_i (4 rows × 4 k) and B_j (4 k × 4 columns)
// are each four vec4 loads. Accumulators are matrices rather than arrays because drivers keep
// matrices in registers but may keep arrays in memory (an array accumulator measured 5 GFLOPS).
@compute @workgroup_size(WG_X, WG_Y, 1)
fn matmul_forward_vec4(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row0 = gid.y * 8u;
    let col0 = gid.x * 16u;
    if row0 >= p.m || col0 >= p.n {
        return;
    }
    // The transposes are pipeline constants (FORM), so the driver compiles one form.
    vec4_block(row0, col0, (FORM & TRANS_A) != 0u, (FORM & TRANS_B) != 0u);
}

// The 4×4 block of op(A) at rows r.., k = 4·k4.. (r clamped so edge blocks read valid data).
fn load_a(r: u32, k4: u32, trans_a: bool) -> mat4x4<f32> {
    if trans_a {
        // a is (K, M): each vec4 is one k of four consecutive rows, i.e. a matrix column.
        let base = min(r, p.m - 4u) / 4u;
        let m4 = p.m / 4u;
        return mat4x4(a4[base + 4u * k4 * m4], a4[base + (4u * k4 + 1u) * m4],
                      a4[base + (4u * k4 + 2u) * m4], a4[base + (4u * k4 + 3u) * m4]);
    }
    // a is (M, K): each vec4 is four k of one row, i.e. a matrix row.
    let k_4 = p.k / 4u;
    return transpose(mat4x4(a4[min(r, p.m - 1u) * k_4 + k4], a4[min(r + 1u, p.m - 1u) * k_4 + k4],
                            a4[min(r + 2u, p.m - 1u) * k_4 + k4], a4[min(r + 3u, p.m - 1u) * k_4 + k4]));
}

// The 4×4 block of op(B) at k = 4·k4.., columns c.. (c clamped likewise).
fn load_b(c: u32, k4: u32, trans_b: bool) -> mat4x4<f32> {
    if trans_b {
        // b is (N, K): each vec4 is four k of one column, i.e. a matrix column.
        let k_4 = p.k / 4u;
        return mat4x4(b4[min(c, p.n - 1u) * k_4 + k4], b4[min(c + 1u, p.n - 1u) * k_4 + k4],
                      b4[min(c + 2u, p.n - 1u) * k_4 + k4], b4[min(c + 3u, p.n - 1u) * k_4 + k4]);
    }
    // b is (K, N): each vec4 is one k of four consecutive columns, i.e. a matrix row.
    let base = min(c, p.n - 4u) / 4u;
    let n4 = p.n / 4u;
    return transpose(mat4x4(b4[base + 4u * k4 * n4], b4[base + (4u * k4 + 1u) * n4],
                            b4[base + (4u * k4 + 2u) * n4], b4[base + (4u * k4 + 3u) * n4]));
}

fn vec4_block(row0: u32, col0: u32, trans_a: bool, trans_b: bool) {
    var c00 = mat4x4<f32>();
    var c01 = mat4x4<f32>();
    var c02 = mat4x4<f32>();
    var c03 = mat4x4<f32>();
    var c10 = mat4x4<f32>();
    var c11 = mat4x4<f32>();
    var c12 = mat4x4<f32>();
    var c13 = mat4x4<f32>();
    for (var k4 = 0u; k4 < p.k / 4u; k4++) {
        let a0 = load_a(row0, k4, trans_a);
        let a1 = load_a(row0 + 4u, k4, trans_a);
        let b0 = load_b(col0, k4, trans_b);
        let b1 = load_b(col0 + 4u, k4, trans_b);
        let b2 = load_b(col0 + 8u, k4, trans_b);
        let b3 = load_b(col0 + 12u, k4, trans_b);
        c00 += a0 * b0;
        c01 += a0 * b1;
        c02 += a0 * b2;
        c03 += a0 * b3;
        c10 += a1 * b0;
        c11 += a1 * b1;
        c12 += a1 * b2;
        c13 += a1 * b3;
    }
    store_block(row0, col0, c00);
    store_block(row0, col0 + 4u, c01);
    store_block(row0, col0 + 8u, c02);
    store_block(row0, col0 + 12u, c03);
    store_block(row0 + 4u, col0, c10);
    store_block(row0 + 4u, col0 + 4u, c11);
    store_block(row0 + 4u, col0 + 8u, c12);
    store_block(row0 + 4u, col0 + 12u, c13);
    if (FORM & WITH_COLUMN_SUMS) != 0u && row0 == 0u {
        column_sums4(col0, 16u);
    }
}

// matmul_forward_vec4_rows: the vec4 kernel for products of few rows (M < 8: batch-1
// inference and training), where the 8-row blocks would leave most of their lanes' work
// unused. Each invocation owns one row and 16 columns of C as four vec4; same alignment
// needs as matmul_forward_vec4.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn matmul_forward_vec4_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row = gid.y;
    let col0 = gid.x * 16u;
    if row >= p.m || col0 >= p.n {
        return;
    }
    vec4_row(row, col0, (FORM & TRANS_A) != 0u, (FORM & TRANS_B) != 0u);
}

fn a_at(i: u32) -> f32 {
    return a4[i / 4u][i % 4u];
}

// Four k of row r of op(A).
fn load_a_row(r: u32, k4: u32, trans_a: bool) -> vec4<f32> {
    if trans_a {
        // Four elements a column apart, read through the vec4 view (an entry point binds
        // one view of each operand).
        let k = 4u * k4;
        return vec4(a_at((k * p.m) + r), a_at((k + 1u) * p.m + r), a_at((k + 2u) * p.m + r), a_at((k + 3u) * p.m + r));
    }
    return a4[r * (p.k / 4u) + k4];
}

fn vec4_row(row: u32, col0: u32, trans_a: bool, trans_b: bool) {
    var c0 = vec4<f32>();
    var c1 = vec4<f32>();
    var c2 = vec4<f32>();
    var c3 = vec4<f32>();
    for (var k4 = 0u; k4 < p.k / 4u; k4++) {
        let av = load_a_row(row, k4, trans_a);
        // Row vector × matrix: element j is the dot product with matrix column j (output
        // column col + j).
        c0 += av * load_b(col0, k4, trans_b);
        c1 += av * load_b(col0 + 4u, k4, trans_b);
        c2 += av * load_b(col0 + 8u, k4, trans_b);
        c3 += av * load_b(col0 + 12u, k4, trans_b);
    }
    store4(row, col0, c0);
    store4(row, col0 + 4u, c1);
    store4(row, col0 + 8u, c2);
    store4(row, col0 + 12u, c3);
    if (FORM & WITH_COLUMN_SUMS) != 0u && row == 0u {
        column_sums4(col0, 16u);
    }
}

// matmul_forward_shallow: products of K ≤ 4, such as a batch-1 step's weight gradients xᵀ·dz
// (K = 1), whose loads are few and whose work is storing C. On lavapipe a store is a loop
// over the lanes per store, not per byte (the optimizer's vec4 stores took momentum on 1M
// parameters from 10.9 to 4.7 ms), so each invocation owns 8 rows × 8 columns of C and
// stores each row's halves as vec4: a quarter of matmul_forward's stores. Needs N % 4 = 0
// and B untransposed (a row of B is read as vec4s); A is read by element through its
// strides, so either transpose of A, and any K, is right. Adds in increasing k with fma, as
// matmul_forward does.
@compute @workgroup_size(WG_X, WG_Y, 1)
fn matmul_forward_shallow(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row0 = gid.y * 8u;
    let col0 = gid.x * 8u;
    if row0 >= p.m || col0 >= p.n {
        return;
    }
    // Matrix column i of lo0/hi0 is row row0 + i, columns col0.. and col0 + 4..; lo1/hi1 the
    // next four rows. Past N the second half reads (and stores nothing for) the first.
    let col1 = select(col0 + 4u, col0, col0 + 4u >= p.n);
    var a_off: array<u32, 8>;
    for (var i = 0u; i < 8u; i++) {
        a_off[i] = min(row0 + i, p.m - 1u) * p.a_rs;
    }
    var lo0 = mat4x4<f32>();
    var hi0 = mat4x4<f32>();
    var lo1 = mat4x4<f32>();
    var hi1 = mat4x4<f32>();
    for (var kk = 0u; kk < p.k; kk++) {
        let b0 = b4[(kk * p.n + col0) / 4u];
        let b1 = b4[(kk * p.n + col1) / 4u];
        let ak = kk * p.a_ks;
        let a0 = vec4(a[a_off[0] + ak], a[a_off[1] + ak], a[a_off[2] + ak], a[a_off[3] + ak]);
        let a1 = vec4(a[a_off[4] + ak], a[a_off[5] + ak], a[a_off[6] + ak], a[a_off[7] + ak]);
        lo0 = mat4x4(fma(vec4(a0.x), b0, lo0[0]), fma(vec4(a0.y), b0, lo0[1]), fma(vec4(a0.z), b0, lo0[2]), fma(vec4(a0.w), b0, lo0[3]));
        hi0 = mat4x4(fma(vec4(a0.x), b1, hi0[0]), fma(vec4(a0.y), b1, hi0[1]), fma(vec4(a0.z), b1, hi0[2]), fma(vec4(a0.w), b1, hi0[3]));
        lo1 = mat4x4(fma(vec4(a1.x), b0, lo1[0]), fma(vec4(a1.y), b0, lo1[1]), fma(vec4(a1.z), b0, lo1[2]), fma(vec4(a1.w), b0, lo1[3]));
        hi1 = mat4x4(fma(vec4(a1.x), b1, hi1[0]), fma(vec4(a1.y), b1, hi1[1]), fma(vec4(a1.z), b1, hi1[2]), fma(vec4(a1.w), b1, hi1[3]));
    }
    for (var i = 0u; i < 4u; i++) {
        store_row4(row0 + i, col0, lo0[i]);
        store_row4(row0 + 4u + i, col0, lo1[i]);
        if col1 != col0 {
            store_row4(row0 + i, col1, hi0[i]);
            store_row4(row0 + 4u + i, col1, hi1[i]);
        }
    }
    if (FORM & WITH_COLUMN_SUMS) != 0u && row0 == 0u {
        column_sums4(col0, 8u);
    }
}
