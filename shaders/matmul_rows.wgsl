// matmul_rows.wgsl — products of few rows (M < 8: batch-1 training and inference) on GPUs,
// K split across a workgroup. Appended to matmul.wgsl (its bindings, loads and stores) in the
// tiled module.
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
