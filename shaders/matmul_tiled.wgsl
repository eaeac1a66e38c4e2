// matmul_tiled.wgsl — the workgroup-memory tilings for GPUs. Appended to matmul.wgsl (its
// bindings, Params and stores).
//
// A workgroup of TW_X × TW_Y invocations computes a BM × BN tile of C (BM = TW_Y·RM, BN =
// TW_X·RN), staging TILE_K-deep slices of op(A) and op(B) in workgroup memory; each
// invocation owns an RM × RN block of the tile in registers. The sizes are pipeline constants,
// so one source serves every tiling the tuner times (`MatmulTiling::Tiled`). Nothing here
// depends on the subgroup width: a workgroup of 256 is whole subgroups of 8, 16, 32 or 64.
//   matmul_forward_tiled       any shape; element loads and accumulators.
//   matmul_forward_tiled_vec4  the vec4 kernels' alignment (K % 4 = 0, M % 4 = 0 when A is
//                              transposed, N % 4 = 0 when B is not): vec4 loads from memory,
//                              vec4 tiles and accumulators, and two stages of tiles, so the
//                              next slice is loaded while this one is multiplied, with one
//                              barrier per slice.
// Both add k one at a time in increasing order, as the CPU twin does.
//   matmul_forward_rows_split  products of fewer than 8 rows (at the end): K split across a
//                              workgroup, the partial sums meeting in workgroup memory.

override TW_X: u32 = 16u;
override TW_Y: u32 = 16u;
override TILE_K: u32 = 16u;
// The register block: RM rows × RN columns per invocation. matmul_forward_tiled takes any
// RM, RN ≤ 8; matmul_forward_tiled_vec4 needs RM ∈ {4, 8} and RN ∈ {4, 8}.
override RM: u32 = 4u;
override RN: u32 = 4u;
// Bounds of the register arrays (function-scope arrays need constant sizes; the loops run
// to RM and RN, constants once the pipeline is built, so drivers unroll them).
const MAX_RM: u32 = 8u;
const MAX_RN: u32 = 8u;

// ---- element loads, any shape ----

var<workgroup> tile_a: array<f32, TW_Y * RM * TILE_K>; // (BM, TILE_K)
var<workgroup> tile_b: array<f32, TILE_K * TW_X * RN>; // (TILE_K, BN)

@compute @workgroup_size(TW_X, TW_Y, 1)
fn matmul_forward_tiled(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    // No early return: every invocation must reach the barriers. Out-of-range tile
    // elements load as 0 and out-of-range outputs are not stored.
    let bm = TW_Y * RM;
    let bn = TW_X * RN;
    let row_base = wid.y * bm;
    let col_base = wid.x * bn;
    let tid = lid.y * TW_X + lid.x;
    let threads = TW_X * TW_Y;
    var acc: array<f32, MAX_RM * MAX_RN>;
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
            var av: array<f32, MAX_RM>;
            var bv: array<f32, MAX_RN>;
            for (var i = 0u; i < RM; i++) {
                av[i] = tile_a[(lid.y + i * TW_Y) * TILE_K + kk];
            }
            for (var j = 0u; j < RN; j++) {
                bv[j] = tile_b[kk * bn + lid.x + j * TW_X];
            }
            for (var i = 0u; i < RM; i++) {
                for (var j = 0u; j < RN; j++) {
                    acc[i * MAX_RN + j] = fma(av[i], bv[j], acc[i * MAX_RN + j]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < RM; i++) {
        let row = row_base + lid.y + i * TW_Y;
        if row < p.m {
            for (var j = 0u; j < RN; j++) {
                let col = col_base + lid.x + j * TW_X;
                if col < p.n {
                    c[row * p.n + col] = epilogue(acc[i * MAX_RN + j], row, col);
                }
            }
        }
    }
    if (FORM & WITH_COLUMN_SUMS) != 0u && row_base == 0u && lid.y == 0u {
        column_sums(col_base + lid.x, RN, TW_X);
    }
}

// ---- vec4 loads, two stages ----
//
// Both tiles are k-major with four rows (columns) to a vec4, so an invocation reads its RM
// rows of op(A) as RM/4 vec4 and its RN columns of op(B) as RN/4 vec4 per k. Where memory
// holds four k of one row (an untransposed A, a transposed B) a loaded vec4 is scattered over
// four k of the tile, one component each.
// tile_a4[stage · TILE_K·BM/4 + kk · BM/4 + r/4][r % 4] = op(A)[row_base + r, k0 + kk]
// tile_b4[stage · TILE_K·BN/4 + kk · BN/4 + c/4][c % 4] = op(B)[k0 + kk, col_base + c]

var<workgroup> tile_a4: array<vec4<f32>, 2u * TILE_K * TW_Y * RM / 4u>;
var<workgroup> tile_b4: array<vec4<f32>, 2u * TILE_K * TW_X * RN / 4u>;
// vec4 loads per invocation per slice, at most (the tuner's tilings need 1).
const MAX_LOADS: u32 = 4u;

// Vec4 number e of op(A)'s slice from k0: where it is in memory (zero outside op(A)).
fn fetch_a4(e: u32, row_base: u32, k0: u32) -> vec4<f32> {
    let bm4 = TW_Y * RM / 4u;
    if (FORM & TRANS_A) != 0u {
        // a is (K, M): a vec4 is four rows of one k. M % 4 = 0: all four in or out.
        let kk = k0 + e / bm4;
        let row = row_base + 4u * (e % bm4);
        if kk < p.k && row < p.m {
            return a4[(kk * p.m + row) / 4u];
        }
    } else {
        // a is (M, K): a vec4 is four k of one row. K % 4 = 0 and k0 % 4 = 0: all in or out.
        let row = row_base + e / (TILE_K / 4u);
        let kk = k0 + 4u * (e % (TILE_K / 4u));
        if kk < p.k && row < p.m {
            return a4[(row * p.k + kk) / 4u];
        }
    }
    return vec4<f32>();
}

// Store fetch_a4's vec4 number e into stage s of tile_a4.
fn put_a4(e: u32, s: u32, v: vec4<f32>) {
    let bm4 = TW_Y * RM / 4u;
    let base = s * TILE_K * bm4;
    if (FORM & TRANS_A) != 0u {
        tile_a4[base + e] = v; // kk · bm4 + r/4 = e
    } else {
        let r = e / (TILE_K / 4u);
        let kk = 4u * (e % (TILE_K / 4u));
        for (var j = 0u; j < 4u; j++) {
            tile_a4[base + (kk + j) * bm4 + r / 4u][r % 4u] = v[j];
        }
    }
}

// Vec4 number e of op(B)'s slice from k0 (zero outside op(B)).
fn fetch_b4(e: u32, col_base: u32, k0: u32) -> vec4<f32> {
    let bn4 = TW_X * RN / 4u;
    if (FORM & TRANS_B) != 0u {
        // b is (N, K): a vec4 is four k of one column.
        let col = col_base + e / (TILE_K / 4u);
        let kk = k0 + 4u * (e % (TILE_K / 4u));
        if kk < p.k && col < p.n {
            return b4[(col * p.k + kk) / 4u];
        }
    } else {
        // b is (K, N): a vec4 is four columns of one k. N % 4 = 0.
        let kk = k0 + e / bn4;
        let col = col_base + 4u * (e % bn4);
        if kk < p.k && col < p.n {
            return b4[(kk * p.n + col) / 4u];
        }
    }
    return vec4<f32>();
}

fn put_b4(e: u32, s: u32, v: vec4<f32>) {
    let bn4 = TW_X * RN / 4u;
    let base = s * TILE_K * bn4;
    if (FORM & TRANS_B) != 0u {
        let col = e / (TILE_K / 4u);
        let kk = 4u * (e % (TILE_K / 4u));
        for (var j = 0u; j < 4u; j++) {
            tile_b4[base + (kk + j) * bn4 + col / 4u][col % 4u] = v[j];
        }
    } else {
        tile_b4[base + e] = v;
    }
}

@compute @workgroup_size(TW_X, TW_Y, 1)
fn matmul_forward_tiled_vec4(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    // As in matmul_forward_tiled, every invocation reaches every barrier.
    let bm4 = TW_Y * RM / 4u;
    let bn4 = TW_X * RN / 4u;
    let row_base = wid.y * TW_Y * RM;
    let col_base = wid.x * TW_X * RN;
    let tid = lid.y * TW_X + lid.x;
    let threads = TW_X * TW_Y;
    let loads_a = TILE_K * bm4; // vec4 per slice
    let loads_b = TILE_K * bn4;
    var next_a: array<vec4<f32>, MAX_LOADS>;
    var next_b: array<vec4<f32>, MAX_LOADS>;
    // Invocation (x, y) owns rows y·RM .. y·RM + RM of the tile (RM/4 vec4 of tile_a4 per k)
    // and the vec4 columns x + j·TW_X (neighbouring invocations read neighbouring vec4).
    var acc: array<vec4<f32>, MAX_RM * MAX_RN / 4u>;
    let slices = (p.k + TILE_K - 1u) / TILE_K;

    for (var l = 0u; l < MAX_LOADS; l++) {
        let e = tid + l * threads;
        if e < loads_a {
            put_a4(e, 0u, fetch_a4(e, row_base, 0u));
        }
        if e < loads_b {
            put_b4(e, 0u, fetch_b4(e, col_base, 0u));
        }
    }
    workgroupBarrier();
    for (var t = 0u; t < slices; t++) {
        let s = t % 2u;
        let more = t + 1u < slices;
        // The next slice into registers, its loads in flight while this one is multiplied.
        if more {
            let k_next = (t + 1u) * TILE_K;
            for (var l = 0u; l < MAX_LOADS; l++) {
                let e = tid + l * threads;
                if e < loads_a {
                    next_a[l] = fetch_a4(e, row_base, k_next);
                }
                if e < loads_b {
                    next_b[l] = fetch_b4(e, col_base, k_next);
                }
            }
        }
        let a_stage = s * TILE_K * bm4;
        let b_stage = s * TILE_K * bn4;
        for (var kk = 0u; kk < TILE_K; kk++) {
            var av: array<vec4<f32>, MAX_RM / 4u>;
            var bv: array<vec4<f32>, MAX_RN / 4u>;
            for (var i = 0u; i < RM / 4u; i++) {
                av[i] = tile_a4[a_stage + kk * bm4 + lid.y * (RM / 4u) + i];
            }
            for (var j = 0u; j < RN / 4u; j++) {
                bv[j] = tile_b4[b_stage + kk * bn4 + lid.x + j * TW_X];
            }
            for (var i = 0u; i < RM; i++) {
                let ai = vec4(av[i / 4u][i % 4u]);
                for (var j = 0u; j < RN / 4u; j++) {
                    acc[i * (MAX_RN / 4u) + j] = fma(ai, bv[j], acc[i * (MAX_RN / 4u) + j]);
                }
            }
        }
        // The other stage was last read before the previous barrier: free to fill.
        if more {
            for (var l = 0u; l < MAX_LOADS; l++) {
                let e = tid + l * threads;
                if e < loads_a {
                    put_a4(e, 1u - s, next_a[l]);
                }
                if e < loads_b {
                    put_b4(e, 1u - s, next_b[l]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < RM; i++) {
        for (var j = 0u; j < RN / 4u; j++) {
            store4(row_base + lid.y * RM + i, col_base + 4u * (lid.x + j * TW_X), acc[i * (MAX_RN / 4u) + j]);
        }
    }
    if (FORM & WITH_COLUMN_SUMS) != 0u && row_base == 0u && lid.y == 0u {
        for (var j = 0u; j < RN / 4u; j++) {
            column_sums4(col_base + 4u * (lid.x + j * TW_X), 4u);
        }
    }
}

// ---- products of few rows (M < 8: batch-1 training and inference), K split ----
//
// matmul_forward_vec4_rows gives each invocation one row and 16 columns and walks all of K:
// a 1×2048×2048 product is then 128 invocations, and an H200 ran it at 45 GB/s of its 4.3
// TB/s (0.36 ms). Here a workgroup of 256 owns one row and 4·RS_C columns of C; its lanes
// split K, RS_K ways, each summing every RS_K-th group of four k into a vec4 of four columns,
// and the partial sums meet in a tree in workgroup memory. Lanes that read neighbouring
// memory are neighbours: along the columns when B is (K, N), along k when it is (N, K).
// Same alignment needs as matmul_forward_vec4_rows (K % 4 = 0, N % 4 = 0 unless B is
// transposed). The sums are added in another order than the twin's (slices, then the tree),
// so results differ from it in the last bits, as the other vec4 kernels' do.

// Lanes splitting K: a power of two dividing 256; the workgroup covers 4·(256 / RS_K) columns.
override RS_K: u32 = 64u;
const RS_LANES: u32 = 256u;

var<workgroup> rows_partial: array<vec4<f32>, RS_LANES>;

@compute @workgroup_size(RS_LANES, 1, 1)
fn matmul_forward_rows_split(
    @builtin(local_invocation_index) lane: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let trans_a = (FORM & TRANS_A) != 0u;
    let trans_b = (FORM & TRANS_B) != 0u;
    let groups = RS_LANES / RS_K; // vec4 column groups per workgroup
    // (B is (N, K): consecutive lanes walk k; else consecutive lanes take consecutive columns.)
    let kk = select(lane / groups, lane % RS_K, trans_b);
    let g = select(lane % groups, lane / RS_K, trans_b);
    let row = wid.y;
    let col0 = (wid.x * groups + g) * 4u;
    var acc = vec4<f32>();
    // No early return: every lane reaches the barriers. Rows and columns past the edge add
    // nothing and are not stored.
    if row < p.m && col0 < p.n {
        for (var k4 = kk; k4 < p.k / 4u; k4 += RS_K) {
            acc += load_a_row(row, k4, trans_a) * load_b(col0, k4, trans_b);
        }
    }
    rows_partial[lane] = acc;
    // The tree over the RS_K lanes of each column group: the partner of lane `kk` at distance
    // s holds k-lane kk + s of the same group.
    let stride = select(groups, 1u, trans_b);
    for (var s = RS_K / 2u; s > 0u; s /= 2u) {
        workgroupBarrier();
        if kk < s {
            rows_partial[lane] += rows_partial[lane + s * stride];
        }
    }
    if kk == 0u && row < p.m && col0 < p.n {
        store4(row, col0, rows_partial[lane]);
        if (FORM & WITH_COLUMN_SUMS) != 0u && row == 0u {
            column_sums4(col0, 4u);
        }
    }
}
