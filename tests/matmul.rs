//! matmul: the GPU kernels against the CPU twin on ragged shapes, all three transpose forms
//! used by a Dense layer, with and without bias, for both tilings.

mod common;

use common::{assert_close, context, gpu, matmul_tilings, max_abs_error, uniform};
use wgtrain::cpu::matmul::matmul_forward;
use wgtrain::gpu::MatmulTiling;
use wgtrain::{Activation, Backend, CpuBackend, Error, GpuBackend, Matmul, MatmulDims};

/// (M, K, N): 1×1×1, a single input through a 784→300 layer (the rows kernels), small odd shapes, shapes
/// straddling the workgroup tiles, the Fashion-MNIST first layer at batch 128, and shapes
/// aligned to 4 but not to the 8×16 block (nor the subgroup kernel's 16×64 per workgroup), so
/// the vec4 and subgroup kernels' edge clamping runs in all transpose forms.
const SHAPES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (1, 784, 300),
    (3, 17, 5),
    (63, 65, 129),
    (128, 784, 300),
    (257, 129, 33),
    (12, 20, 36),
    (68, 132, 260),
    // Fewer than 8 rows, aligned: the 1×16 rows kernel, edge columns included.
    (1, 4, 4),
    (3, 20, 36),
    (7, 132, 260),
    // Fewer than 8 rows with K in more groups of four than the split kernel's 64 lanes (129),
    // and N = 20 (a partial group of lanes at the edge).
    (5, 516, 20),
    // Aligned, past one subgroup tile in both directions with ragged edges (20 = 16 + 4 rows,
    // 68 = 64 + 4 columns), and M = 8 (half a subgroup tile).
    (20, 36, 68),
    (8, 12, 100),
    // The subgroup tiling's 64-row kernel (K ≥ 256, up to 38 threads): 4 rows and 4 columns
    // past its blocks (M % 4 = 0 for a transposed A).
    (1028, 260, 516),
    // Unaligned from 8 rows (the strided subgroup kernel): K % 4 = 2 and 3 in the last step of
    // k, N below one lane's 8 columns, and a Dense output layer's N = 10.
    (17, 10, 10),
    (40, 3, 7),
    // K ≤ 4 with N % 4 = 0 (the shallow kernel, nn and tn): ragged rows, N = 20 and 12 end in
    // half a block of 8 columns, and K = 4 (aligned, still shallow).
    (37, 1, 20),
    (9, 2, 12),
    (70, 3, 4),
    (21, 4, 36),
];

/// Tolerance for a length-K f32 dot product of U(-1, 1) values. The GPU (fused multiply-add)
/// and the twin (multiply, then add) round differently at each of the K steps; partial sums
/// are O(√K) in size, so each rounding is ≤ 2⁻²⁴·O(√K) and K of them random-walk to
/// O(K·2⁻²⁴). atol = 4·K·2⁻²⁴ gives that with margin; rtol = 1e-5 covers large outputs.
fn tolerance(k: usize) -> (f32, f32) {
    (4.0 * k as f32 * f32::EPSILON / 2.0, 1e-5)
}

fn forms() -> [(&'static str, Matmul); 3] {
    [("x·w", Matmul::nn()), ("dy·wᵀ", Matmul::nt()), ("xᵀ·dy", Matmul::tn())]
}

fn check_parity(backend: &mut GpuBackend) {
    let mut worst_fraction = 0.0f32;
    for (s, &(m, k, n)) in SHAPES.iter().enumerate() {
        for (name, form) in forms() {
            for with_bias in [false, true] {
                let seed = 1000 * s as u64 + 10 * form.trans_a as u64 + form.trans_b as u64;
                let (a_vals, b_vals, bias_vals) =
                    (uniform(seed, m * k), uniform(seed + 1, k * n), uniform(seed + 2, n));
                let mut want = vec![0.0; m * n];
                let bias_ref = with_bias.then_some(bias_vals.as_slice());
                matmul_forward(&a_vals, &b_vals, bias_ref, &mut want, MatmulDims { m, n, k }, form.trans_a, form.trans_b);

                let a_shape = if form.trans_a { (k, m) } else { (m, k) };
                let b_shape = if form.trans_b { (n, k) } else { (k, n) };
                let a = backend.upload(a_shape.0, a_shape.1, &a_vals).unwrap();
                let b = backend.upload(b_shape.0, b_shape.1, &b_vals).unwrap();
                let bias = backend.upload(1, n, &bias_vals).unwrap();
                let c = backend.zeros(m, n).unwrap();
                let spec = if with_bias { form.with_bias(bias) } else { form };
                backend.matmul(a, b, c, spec).unwrap();
                let got = backend.read(c).unwrap();

                let (atol, rtol) = tolerance(k);
                let what = format!("{name} M={m} K={k} N={n} bias={with_bias} ({})", backend.matmul_tiling());
                assert_close(&what, &got, &want, atol, rtol);
                worst_fraction = worst_fraction.max(max_abs_error(&got, &want) / atol);
                for t in [a, b, bias, c] {
                    backend.free(t).unwrap();
                }
            }
        }
    }
    eprintln!("{}: worst error used {:.3e} of atol", backend.matmul_tiling(), worst_fraction);
}

#[test]
fn matmul_register_tiling_matches_cpu_on_ragged_shapes_and_all_transposes() {
    let mut backend = GpuBackend::with_tiling(context(), MatmulTiling::register()).unwrap();
    check_parity(&mut backend);
}

#[test]
fn matmul_workgroup_tiling_matches_cpu_on_ragged_shapes_and_all_transposes() {
    let mut backend = GpuBackend::with_tiling(context(), MatmulTiling::tiled()).unwrap();
    check_parity(&mut backend);
}

#[test]
fn matmul_workgroup_tiling_of_32x32_tiles_matches_cpu_on_ragged_shapes_and_all_transposes() {
    let mut backend = GpuBackend::with_tiling(context(), MatmulTiling::tiled_32()).unwrap();
    assert_eq!(MatmulTiling::tiled_32().name(), "tiled-32");
    check_parity(&mut backend);
}

#[test]
fn matmul_workgroup_tiling_with_8x8_blocks_matches_cpu_on_ragged_shapes_and_all_transposes() {
    let mut backend = GpuBackend::with_tiling(context(), MatmulTiling::tiled_8x8()).unwrap();
    check_parity(&mut backend);
}

/// Register blocks and tile depths are pipeline constants: shapes other than the presets
/// (4×8 and 8×4 blocks, a slice 4 deep, a 32×8 workgroup) give the same products.
#[test]
fn matmul_workgroup_tiling_of_other_block_shapes_matches_cpu() {
    for (wg, block, tile_k) in [((16, 16), (4, 8), 16), ((32, 8), (8, 4), 4)] {
        let tiling = MatmulTiling::Tiled { wg, block, tile_k };
        let mut backend = GpuBackend::with_tiling(context(), tiling).unwrap();
        assert_eq!(tiling.name(), "tiled-custom");
        check_parity(&mut backend);
    }
}

#[test]
fn workgroup_tilings_the_kernels_cannot_take_are_refused_with_the_reason() {
    let refused = |wg, block, tile_k| match GpuBackend::with_tiling(context(), MatmulTiling::Tiled { wg, block, tile_k }) {
        Ok(_) => panic!("{wg:?} {block:?} {tile_k} was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(refused((16, 16), (16, 4), 16).contains("each side must be 1 to 8"));
    assert!(refused((16, 16), (2, 4), 16).contains("4 or 8 on each side"));
    assert!(refused((16, 16), (4, 4), 6).contains("multiple of 4"));
    assert!(refused((4, 4), (8, 8), 32).contains("vec4 loads per invocation"));
    assert!(refused((64, 64), (4, 4), 4).contains("invocations"));
    // 128×128 tiles 32 deep: 64 KiB in two stages, past lavapipe's 32 KiB and a Vulkan
    // NVIDIA GPU's 48 KiB; an adapter that allows it must build it.
    let big = MatmulTiling::Tiled { wg: (16, 16), block: (8, 8), tile_k: 32 };
    assert_eq!(big.workgroup_bytes(), 65536);
    if context().limits().max_compute_workgroup_storage_size < big.workgroup_bytes() {
        assert!(refused((16, 16), (8, 8), 32).contains("65536 bytes of workgroup memory"));
    } else {
        GpuBackend::with_tiling(context(), big).unwrap();
    }
}

#[test]
fn workgroup_tiling_uses_vec4_loads_exactly_where_the_shape_allows() {
    for tiling in [MatmulTiling::tiled(), MatmulTiling::tiled_8x8(), MatmulTiling::tiled_32()] {
        let g = GpuBackend::with_tiling(context(), tiling).unwrap();
        let kernel = |m, k, n, spec: Matmul| g.matmul_kernel(MatmulDims { m, n, k }, &spec).to_string();
        let vec4 = "matmul::matmul_forward_tiled_vec4[";
        for (_, form) in forms() {
            assert!(kernel(128, 784, 300, form).starts_with(vec4), "{form:?}");
            assert!(kernel(8, 20, 36, form).starts_with(vec4), "{form:?}");
            assert!(kernel(63, 65, 129, form).starts_with("matmul::matmul_forward_tiled["), "K=65: {form:?}");
            // Fewer than 8 rows: K split across a workgroup where aligned, else the tiles.
            assert!(kernel(1, 784, 300, form).starts_with("matmul::matmul_forward_rows_split["), "{form:?}");
            assert!(kernel(7, 20, 36, form).starts_with("matmul::matmul_forward_rows_split["), "{form:?}");
            assert!(kernel(7, 65, 129, form).starts_with("matmul::matmul_forward_tiled["), "{form:?}");
        }
        assert!(kernel(12, 784, 302, Matmul::tn()).starts_with("matmul::matmul_forward_tiled["));
        assert!(kernel(1024, 100, 10, Matmul::nn()).starts_with("matmul::matmul_forward_tiled["), "N=10");
    }
}

#[test]
fn matmul_subgroup_tiling_matches_cpu_on_ragged_shapes_and_all_transposes() {
    for tiling in matmul_tilings().into_iter().filter(|t| matches!(t, MatmulTiling::Subgroup { .. })) {
        let mut backend = GpuBackend::with_tiling(context(), tiling).unwrap();
        check_parity(&mut backend);
    }
}

#[test]
fn subgroup_tiling_shares_op_a_exactly_where_the_shape_allows() {
    let Some(tiling) = matmul_tilings().into_iter().find(|t| matches!(t, MatmulTiling::Subgroup { .. })) else {
        return; // a GPU adapter without 8-wide subgroups: matmul_tilings() checked that it is not a CPU
    };
    let g = GpuBackend::with_tiling(context(), tiling).unwrap();
    let kernel = |m, k, n, spec: Matmul| g.matmul_kernel(MatmulDims { m, n, k }, &spec).to_string();
    let subgroup = "matmul::matmul_forward_subgroup[";
    let strided = "matmul::matmul_forward_subgroup_strided[";
    for (_, form) in forms() {
        assert!(kernel(48, 784, 300, form).starts_with(subgroup), "{form:?}");
        assert!(kernel(8, 20, 36, form).starts_with(subgroup), "{form:?}");
        assert!(kernel(7, 20, 36, form).starts_with("matmul::matmul_forward_vec4_rows["), "{form:?}");
        // Unaligned: the strided subgroup kernel from 8 rows, the general kernel below.
        assert!(kernel(63, 65, 129, form).starts_with(strided), "K=65: {form:?}");
        assert!(kernel(7, 65, 129, form).starts_with("matmul::matmul_forward["), "K=65, M=7: {form:?}");
    }
    assert!(kernel(12, 784, 302, Matmul::tn()).starts_with(strided));
    assert!(kernel(1024, 100, 10, Matmul::nn()).starts_with(strided), "N=10");
    shallow_products_store_vec4_on(&g);
    // 64 rows a subgroup where the product has at least 64 rows, K ≥ 256 and enough such
    // blocks to keep every thread of a CPU driver busy (four each; 2048 of them here): not
    // 32 rows, nor K = 100.
    let tall = "matmul::matmul_forward_subgroup64[";
    for (_, form) in forms() {
        assert!(kernel(4096, 784, 2048, form).starts_with(tall), "{form:?}");
        assert!(kernel(1028, 260, 516, form).starts_with(tall), "the parity shape: {form:?}");
        assert!(kernel(32, 784, 2048, form).starts_with(subgroup), "{form:?}");
        assert!(kernel(4096, 100, 2048, form).starts_with(subgroup), "{form:?}");
        assert!(kernel(4096, 65, 2048, form).starts_with(strided), "K=65: {form:?}");
    }
}

#[test]
fn register_tiling_uses_vec4_loads_exactly_where_the_shape_allows() {
    let g = GpuBackend::with_tiling(context(), MatmulTiling::register()).unwrap();
    let kernel = |m, k, n, spec: Matmul| g.matmul_kernel(MatmulDims { m, n, k }, &spec).to_string();
    let vec4 = "matmul::matmul_forward_vec4";
    for (_, form) in forms() {
        assert!(kernel(12, 20, 36, form).starts_with(&format!("{vec4}[")), "{form:?}");
        assert!(kernel(128, 784, 300, form).starts_with(&format!("{vec4}[")), "{form:?}");
        assert!(kernel(63, 65, 129, form).starts_with("matmul::matmul_forward["), "K=65 must fall back");
    }
    // A transposed A needs M % 4 = 0; an untransposed B needs N % 4 = 0.
    assert!(kernel(12, 784, 302, Matmul::tn()).starts_with("matmul::matmul_forward["));
    assert!(kernel(8, 8, 10, Matmul::nn()).starts_with("matmul::matmul_forward["));
    assert!(kernel(8, 8, 10, Matmul::nt()).starts_with(&format!("{vec4}[")));
    // Fewer than 8 rows: the rows kernel, for any M (it reads a transposed A by elements).
    let rows = "matmul::matmul_forward_vec4_rows[";
    for (_, form) in forms() {
        assert!(kernel(1, 784, 300, form).starts_with(rows), "{form:?}");
        assert!(kernel(7, 20, 36, form).starts_with(rows), "{form:?}");
        assert!(kernel(8, 20, 36, form).starts_with(&format!("{vec4}[")), "{form:?}");
    }
    shallow_products_store_vec4_on(&g);
}

/// K ≤ 4 with an untransposed B and N % 4 = 0: the shallow kernel, whatever M and A's
/// transpose; a transposed B or N % 4 ≠ 0 falls back.
fn shallow_products_store_vec4_on(g: &GpuBackend) {
    let kernel = |m, k, n, spec: Matmul| g.matmul_kernel(MatmulDims { m, n, k }, &spec).to_string();
    let shallow = "matmul::matmul_forward_shallow[";
    for form in [Matmul::nn(), Matmul::tn()] {
        for (m, k, n) in [(1, 1, 300), (2048, 1, 2048), (37, 3, 20), (128, 4, 36), (1, 4, 4)] {
            assert!(kernel(m, k, n, form).starts_with(shallow), "{m}×{k}×{n} {form:?}: {}", kernel(m, k, n, form));
        }
    }
    assert!(!kernel(128, 1, 300, Matmul::nt()).starts_with(shallow), "a transposed B");
    assert!(!kernel(128, 1, 10, Matmul::tn()).starts_with(shallow), "N = 10");
    assert!(!kernel(128, 5, 300, Matmul::tn()).starts_with(shallow), "K = 5");
}

#[test]
fn matmul_on_cpu_backend_equals_the_twin_bit_for_bit() {
    let (m, k, n) = (5, 7, 3);
    let (a_vals, b_vals) = (uniform(1, m * k), uniform(2, k * n));
    let mut want = vec![0.0; m * n];
    matmul_forward(&a_vals, &b_vals, None, &mut want, MatmulDims { m, n, k }, false, false);
    let mut cpu = CpuBackend::new();
    let (a, b, c) = (cpu.upload(m, k, &a_vals).unwrap(), cpu.upload(k, n, &b_vals).unwrap(), cpu.zeros(m, n).unwrap());
    cpu.matmul(a, b, c, Matmul::nn()).unwrap();
    assert_eq!(cpu.read(c).unwrap(), want);
}

#[test]
fn twin_computes_a_known_product() {
    // [[1,2],[3,4]]·[[5,6],[7,8]] = [[19,22],[43,50]]; with bias [1,-1].
    let (a, b) = ([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]);
    let mut c = [0.0; 4];
    matmul_forward(&a, &b, Some(&[1.0, -1.0]), &mut c, MatmulDims { m: 2, n: 2, k: 2 }, false, false);
    assert_eq!(c, [20.0, 21.0, 44.0, 49.0]);
    // Aᵀ·B with A stored transposed: Aᵀ = [[1,3],[2,4]].
    matmul_forward(&a, &b, None, &mut c, MatmulDims { m: 2, n: 2, k: 2 }, true, false);
    assert_eq!(c, [26.0, 30.0, 38.0, 44.0]);
    // A·Bᵀ: Bᵀ = [[5,7],[6,8]].
    matmul_forward(&a, &b, None, &mut c, MatmulDims { m: 2, n: 2, k: 2 }, false, true);
    assert_eq!(c, [17.0, 23.0, 39.0, 53.0]);
}

#[test]
fn chained_matmuls_in_one_submission_see_each_others_results() {
    // h = x·w1, y = h·w2 recorded back to back: the second must read what the first wrote.
    let mut g = gpu();
    let (b, i, h, o) = (33, 20, 17, 9);
    let (xv, w1v, w2v) = (uniform(7, b * i), uniform(8, i * h), uniform(9, h * o));
    let mut hv = vec![0.0; b * h];
    let mut want = vec![0.0; b * o];
    matmul_forward(&xv, &w1v, None, &mut hv, MatmulDims { m: b, n: h, k: i }, false, false);
    matmul_forward(&hv, &w2v, None, &mut want, MatmulDims { m: b, n: o, k: h }, false, false);
    let (x, w1, w2) = (g.upload(b, i, &xv).unwrap(), g.upload(i, h, &w1v).unwrap(), g.upload(h, o, &w2v).unwrap());
    let (hid, y) = (g.zeros(b, h).unwrap(), g.zeros(b, o).unwrap());
    // The first product of each shape class times the tilings (its own submissions); the
    // chain below is then what one training step records.
    g.matmul(x, w1, hid, Matmul::nn()).unwrap();
    g.matmul(hid, w2, y, Matmul::nn()).unwrap();
    g.fill(hid, f32::NAN).unwrap();
    g.fill(y, f32::NAN).unwrap();
    g.sync().unwrap();
    let before = g.stats();
    g.matmul(x, w1, hid, Matmul::nn()).unwrap();
    g.matmul(hid, w2, y, Matmul::nn()).unwrap();
    g.submit().unwrap();
    assert_eq!(g.stats().submits - before.submits, 1, "two ops, one submit");
    let got = g.read(y).unwrap();
    // Two chained products: the first's error (K=20) is scaled by w2's entries (|w| < 1) and summed over K=17.
    assert_close("x·w1·w2", &got, &want, 4.0 * (20.0 + 17.0) * f32::EPSILON, 1e-5);
}

#[test]
fn a_repeated_step_creates_no_buffers_or_bind_groups_and_reads_nothing_back() {
    let mut g = gpu();
    let x = g.upload(64, 30, &uniform(1, 64 * 30)).unwrap();
    let w = g.upload(30, 10, &uniform(2, 300)).unwrap();
    let bias = g.upload(1, 10, &uniform(3, 10)).unwrap();
    let y = g.zeros(64, 10).unwrap();
    let dw = g.zeros(30, 10).unwrap();
    let step = |g: &mut GpuBackend| {
        g.matmul(x, w, y, Matmul::nn().with_bias(bias)).unwrap();
        g.matmul(x, y, dw, Matmul::tn()).unwrap();
        g.submit().unwrap();
    };
    step(&mut g); // warm-up builds the bind groups
    let before = g.stats();
    for _ in 0..5 {
        step(&mut g);
    }
    let after = g.stats();
    assert_eq!(after.buffers_created, before.buffers_created, "buffers created during steps");
    assert_eq!(after.bind_groups_created, before.bind_groups_created, "bind groups created during steps");
    assert_eq!(after.readbacks, before.readbacks, "readbacks during steps");
    assert_eq!(after.submits - before.submits, 5, "one submit per step");
}

#[test]
fn freed_buffers_are_reused_and_come_back_zeroed() {
    let mut g = gpu();
    let t = g.upload(17, 3, &[1.0; 51]).unwrap();
    g.free(t).unwrap();
    let before = g.stats().buffers_created;
    let z = g.zeros(17, 3).unwrap();
    assert_eq!(g.stats().buffers_created, before, "a pooled buffer of the same size is reused");
    assert_eq!(g.read(z).unwrap(), vec![0.0; 51]);
}

#[test]
fn shape_errors_name_the_op_and_the_shapes() {
    for mut backend in [Box::new(gpu()) as Box<dyn Backend>, Box::new(CpuBackend::new())] {
        let a = backend.zeros(4, 3).unwrap();
        let b = backend.zeros(5, 2).unwrap();
        let c = backend.zeros(4, 2).unwrap();
        let err = backend.matmul(a, b, c, Matmul::nn()).unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch { op: "matmul", .. }), "{err}");
        assert!(err.to_string().contains("op(A) (4, 3) and op(B) (5, 2)"), "{err}");

        let bias = backend.zeros(1, 3).unwrap();
        let b_ok = backend.zeros(3, 2).unwrap();
        let err = backend.matmul(a, b_ok, c, Matmul::nn().with_bias(bias)).unwrap_err();
        assert!(err.to_string().contains("bias of 2 values"), "{err}");

        let err = backend.matmul(a, b_ok, a, Matmul::nn()).unwrap_err();
        assert!(err.to_string().contains("matmul"), "{err}");

        let err = backend.upload(2, 2, &[1.0; 3]).unwrap_err();
        assert!(err.to_string().contains("4 values for a (2, 2) tensor"), "{err}");

        let err = backend.zeros(0, 5).unwrap_err();
        assert!(err.to_string().contains("rows ≥ 1"), "{err}");

        backend.free(c).unwrap();
        let err = backend.read(c).unwrap_err();
        assert!(matches!(err, Error::UnknownTensor { op: "read", .. }), "{err}");
    }
}

#[test]
fn tensors_from_another_backend_are_rejected() {
    let mut one = CpuBackend::new();
    let mut other = CpuBackend::new();
    let t = one.zeros(2, 2).unwrap();
    let _ = other.zeros(2, 2).unwrap(); // same id, different owner
    assert!(matches!(other.read(t), Err(Error::UnknownTensor { .. })));
}

/// The derivative epilogue (`C = op(A)·op(B) ⊙ act'(at)`, the fused Dense backward) against
/// the twin's product followed by its activation backward, on every kernel (general, vec4,
/// rows, workgroup tiles) and ragged shapes, for activations read at the output (ReLU,
/// leaky ReLU) and at the pre-activation (ELU, tanh, GELU): all five on the first tiling, ReLU
/// and ELU on the others (each kernel reaches the derivative through the same store, and each
/// activation pipeline costs a compile of ~1 s on lavapipe, a cold CI's). Tolerance: the product's, times
/// the derivative's size (≤ 1.13 for GELU, 1 for the others), plus the derivative's own
/// rounding (a few ulps of a value ≤ 1.13, far inside atol).
#[test]
fn the_derivative_epilogue_matches_product_then_activation_backward() {
    use wgtrain::cpu::activation::{activation_backward, Slopes};
    let acts = [Activation::Relu, Activation::leaky_relu(), Activation::elu(), Activation::Tanh, Activation::Gelu];
    for (i, tiling) in matmul_tilings().into_iter().enumerate() {
        let mut g = GpuBackend::with_tiling(context(), tiling).unwrap();
        let acts = if i == 0 { acts.to_vec() } else { vec![Activation::Relu, Activation::elu()] };
        for (s, &(m, k, n)) in [(1, 20, 36), (7, 132, 260), (63, 65, 129), (68, 132, 260), (128, 784, 300)].iter().enumerate() {
            for (a_i, &act) in acts.iter().enumerate() {
                let seed = 7000 + 100 * s as u64 + a_i as u64;
                let (a_vals, b_vals, at_vals) = (uniform(seed, m * k), uniform(seed + 1, k * n), uniform(seed + 2, m * n));
                let mut product = vec![0.0; m * n];
                matmul_forward(&a_vals, &b_vals, None, &mut product, MatmulDims { m, n, k }, false, true);
                let mut want = vec![0.0; m * n];
                activation_backward(act, &at_vals, &product, &mut want, n, Slopes::default());
                let a = g.upload(m, k, &a_vals).unwrap();
                let b = g.upload(n, k, &b_vals).unwrap();
                let at = g.upload(m, n, &at_vals).unwrap();
                let c = g.zeros(m, n).unwrap();
                g.matmul(a, b, c, Matmul::nt().times_derivative(act, at)).unwrap();
                let got = g.read(c).unwrap();
                let (atol, rtol) = tolerance(k);
                assert_close(&format!("{} M={m} K={k} N={n} ({tiling})", act.name()), &got, &want, 1.2 * atol, rtol);
                for t in [a, b, at, c] {
                    g.free(t).unwrap();
                }
            }
        }
    }
    // The shallow kernel (K ≤ 4, nn) runs the same store: ReLU and ELU on every tiling.
    for tiling in matmul_tilings() {
        let mut g = GpuBackend::with_tiling(context(), tiling).unwrap();
        let (m, k, n) = (37, 3, 20);
        for (a_i, act) in [Activation::Relu, Activation::elu()].into_iter().enumerate() {
            let (a_vals, b_vals, at_vals) = (uniform(7900 + a_i as u64, m * k), uniform(7950, k * n), uniform(7960, m * n));
            let mut product = vec![0.0; m * n];
            matmul_forward(&a_vals, &b_vals, None, &mut product, MatmulDims { m, n, k }, false, false);
            let mut want = vec![0.0; m * n];
            activation_backward(act, &at_vals, &product, &mut want, n, Slopes::default());
            let (a, b, at) = (g.upload(m, k, &a_vals).unwrap(), g.upload(k, n, &b_vals).unwrap(), g.upload(m, n, &at_vals).unwrap());
            let c = g.zeros(m, n).unwrap();
            g.matmul(a, b, c, Matmul::nn().times_derivative(act, at)).unwrap();
            let (atol, rtol) = tolerance(k);
            let what = format!("{} M={m} K={k} N={n} nn ({tiling}) via {}", act.name(), g.matmul_kernel(MatmulDims { m, n, k }, &Matmul::nn()));
            assert_close(&what, &g.read(c).unwrap(), &want, 1.2 * atol, rtol);
        }
    }
    // The CPU backend gives the twin's composition bit for bit.
    let mut cpu = CpuBackend::new();
    let (m, k, n) = (5, 7, 3);
    let (a_vals, b_vals, at_vals) = (uniform(1, m * k), uniform(2, k * n), uniform(3, m * n));
    let mut product = vec![0.0; m * n];
    matmul_forward(&a_vals, &b_vals, None, &mut product, MatmulDims { m, n, k }, false, true);
    let mut want = vec![0.0; m * n];
    activation_backward(Activation::elu(), &at_vals, &product, &mut want, n, Slopes::default());
    let (a, b, at, c) = (cpu.upload(m, k, &a_vals).unwrap(), cpu.upload(n, k, &b_vals).unwrap(), cpu.upload(m, n, &at_vals).unwrap(), cpu.zeros(m, n).unwrap());
    cpu.matmul(a, b, c, Matmul::nt().times_derivative(Activation::elu(), at)).unwrap();
    assert_eq!(cpu.read(c).unwrap(), want);
    // Misuse is refused by name.
    let err = cpu.matmul(a, b, c, Matmul::nt().times_derivative(Activation::elu(), c)).unwrap_err().to_string();
    assert!(err.contains("derivative point distinct from C"), "{err}");
    let err = cpu.matmul(a, b, c, Matmul::nt().with_activation(Activation::Relu).times_derivative(Activation::elu(), at)).unwrap_err().to_string();
    assert!(err.contains("derivative epilogue alone"), "{err}");
    let err = cpu.matmul(a, b, c, Matmul::nt().times_derivative(Activation::Prelu, at)).unwrap_err().to_string();
    assert!(err.contains("needs no tensor or noise"), "{err}");
}

/// The fused column sums (`Σ_k op(B)[k, j]`, a Dense layer's bias gradient beside its weight
/// gradient) on every kernel, transpose form and ragged shape, against the twin's
/// `column_sum` of op(B). Both add k in increasing order in f32: the sums agree to rounding
/// of the same additions (the GPU kernels may contract nothing here: there are no products).
#[test]
fn fused_column_sums_match_the_twin_on_every_kernel() {
    use wgtrain::cpu::reduce::column_sum;
    for tiling in matmul_tilings() {
        let mut g = GpuBackend::with_tiling(context(), tiling).unwrap();
        for &(m, k, n) in SHAPES {
            for (name, form) in forms() {
                let (a_vals, b_vals) = (uniform(11, m * k), uniform(12, k * n));
                // op(B) as (k, n) row-major, summed over its rows.
                let op_b: Vec<f32> = (0..k * n)
                    .map(|i| { let (kk, j) = (i / n, i % n); if form.trans_b { b_vals[j * k + kk] } else { b_vals[kk * n + j] } })
                    .collect();
                let mut want = vec![0.0; n];
                column_sum(&op_b, &mut want, k, n);
                let a_shape = if form.trans_a { (k, m) } else { (m, k) };
                let b_shape = if form.trans_b { (n, k) } else { (k, n) };
                let a = g.upload(a_shape.0, a_shape.1, &a_vals).unwrap();
                let b = g.upload(b_shape.0, b_shape.1, &b_vals).unwrap();
                let (c, sums) = (g.zeros(m, n).unwrap(), g.zeros(1, n).unwrap());
                g.matmul(a, b, c, form.with_column_sum(sums)).unwrap();
                let what = format!("{name} M={m} K={k} N={n} ({tiling}) via {}", g.matmul_kernel(MatmulDims { m, n, k }, &form));
                assert_close(&what, &g.read(sums).unwrap(), &want, 1e-6 * k as f32, 0.0);
                for t in [a, b, c, sums] {
                    g.free(t).unwrap();
                }
            }
        }
    }
}
