// matmul_epilogue.wgsl — how the matmul kernels (matmul.wgsl, whose bindings and Params
// these read) store C and run their epilogues: the bias, the activation or an activation's
// derivative, and the column sums of op(B). Prepended to matmul.wgsl only.

// What this pipeline is built for (bits below): its epilogues, its activation and its
// operands' transposes. A branch on a uniform value is no branch on lavapipe: both sides run
// under an execution mask, so code present but unused costs its full price. The four
// transpose forms behind uniform flags made the subgroup kernel run four copies of its
// stores (784×128×304 took 3.7 ms; specialized, 2.0), the bias branch loaded the bias on
// every store, the activation's switch evaluated all twelve activations on every output,
// and the column sums' loop, present but unused, cost the 8×16 kernel a quarter.
override FORM: u32 = 0u;
const WITH_ACTIVATION: u32 = 1u;
const WITH_DERIVATIVE: u32 = 2u;
const WITH_COLUMN_SUMS: u32 = 4u;
const WITH_BIAS: u32 = 8u;
// The activation epilogue also stores the pre-activation z in `pre`.
const KEEP_PRE: u32 = 16u;
// op(A) = Aᵀ, op(B) = Bᵀ (the vec4, rows and subgroup kernels; the others use strides).
const TRANS_A: u32 = 32u;
const TRANS_B: u32 = 64u;
// Bits 7..10: the activation (or whose derivative) the epilogue applies (`ACT_*`).
const ACTIVATION_SHIFT: u32 = 7u;
override EPILOGUE_ACT: u32 = (FORM >> ACTIVATION_SHIFT) & 15u;

// Output (row, col) = v after its epilogues: the bias, then the activation (keeping the
// pre-activation) or the activation's derivative at `pre`.
fn epilogue(v: f32, row: u32, col: u32) -> f32 {
    var r = v;
    if (FORM & WITH_BIAS) != 0u {
        r += bias[col];
    }
    if (FORM & WITH_DERIVATIVE) != 0u {
        r *= act_derivative(EPILOGUE_ACT, pre[row * p.n + col], p.alpha);
    }
    if (FORM & WITH_ACTIVATION) != 0u {
        if (FORM & KEEP_PRE) != 0u {
            pre[row * p.n + col] = r;
        }
        r = act_forward(EPILOGUE_ACT, r, p.alpha);
    }
    return r;
}

// The column sums of op(B) for `cols` columns from col0, `col_step` apart, adding k in
// increasing order as the twin does. A second pass over B's columns by one row block of
// invocations: about 1/(M/8) of the product's loads.
fn column_sums(col0: u32, cols: u32, col_step: u32) {
    for (var j = 0u; j < cols; j++) {
        let col = col0 + j * col_step;
        if col < p.n {
            var s = 0.0;
            for (var kk = 0u; kk < p.k; kk++) {
                s += b[kk * p.b_ks + col * p.b_cs];
            }
            colsum[col] = s;
        }
    }
}

// column_sums for the vec4 kernels, which bind B as vec4.
fn column_sums4(col0: u32, cols: u32) {
    for (var j = 0u; j < cols; j++) {
        let col = col0 + j;
        if col < p.n {
            var s = 0.0;
            for (var kk = 0u; kk < p.k; kk++) {
                let i = kk * p.b_ks + col * p.b_cs;
                s += b4[i / 4u][i % 4u];
            }
            colsum[col] = s;
        }
    }
}

fn store4(row: u32, col: u32, v: vec4<f32>) {
    if row >= p.m {
        return;
    }
    for (var j = 0u; j < 4u; j++) {
        if col + j < p.n {
            c[row * p.n + col + j] = epilogue(v[j], row, col + j);
        }
    }
}

// Store four outputs of one row of C, col.. (col % 4 = 0, N % 4 = 0), as one vec4 through
// the vec4 view of C (the kernels that use it bind no other).
fn store_row4(row: u32, col: u32, v: vec4<f32>) {
    if row >= p.m {
        return;
    }
    var r = v;
    if (FORM & (WITH_BIAS | WITH_DERIVATIVE | WITH_ACTIVATION)) != 0u {
        r = vec4(epilogue(v.x, row, col), epilogue(v.y, row, col + 1u), epilogue(v.z, row, col + 2u), epilogue(v.w, row, col + 3u));
    }
    c4[(row * p.n + col) / 4u] = r;
}

// Store a 4×4 block of C (matrix column j = output column col + j).
fn store_block(row: u32, col: u32, m: mat4x4<f32>) {
    let rows = transpose(m);
    for (var i = 0u; i < 4u; i++) {
        store4(row + i, col, rows[i]);
    }
}
