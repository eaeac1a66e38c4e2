//! CPU twin of `shaders/matmul.wgsl`: `C = op(A)·op(B) (+ bias)`, naive and obviously right.
//! Products accumulate in f32 in increasing k, as each GPU thread does.

use crate::backend::MatmulDims;

/// `c[i,j] = Σ_k op(a)[i,k]·op(b)[k,j] + bias[j]`, with `op(a)`: (m, k), `op(b)`: (k, n), `c`: (m, n).
///
/// `a` is stored (m, k), or (k, m) when `trans_a`; `b` is stored (k, n), or (n, k) when `trans_b`.
pub fn matmul_forward(a: &[f32], b: &[f32], bias: Option<&[f32]>, c: &mut [f32], d: MatmulDims, trans_a: bool, trans_b: bool) {
    let MatmulDims { m, n, k } = d;
    let a_at = |i: usize, kk: usize| {
        if trans_a {
            a[kk * m + i]
        } else {
            a[i * k + kk]
        }
    };
    let b_at = |kk: usize, j: usize| {
        if trans_b {
            b[j * k + kk]
        } else {
            b[kk * n + j]
        }
    };
    for i in 0..m {
        for j in 0..n {
            let mut sum = 0.0f32;
            for kk in 0..k {
                sum += a_at(i, kk) * b_at(kk, j);
            }
            c[i * n + j] = sum + bias.map_or(0.0, |bias| bias[j]);
        }
    }
}
