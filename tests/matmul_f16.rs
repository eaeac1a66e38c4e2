//! The matmul over operands stored in f16 (`DType::F16`): storage round trips, the product
//! against the CPU twin and against the f32 kernels over the same values, for every tiling,
//! transpose form and storage of A, B and C, and the ops that do not take f16 refusing it.

mod common;

use common::{assert_close, context, matmul_tilings, uniform};
use wgtrain::gpu::MatmulTiling;
use wgtrain::tensor::round_f16;
use wgtrain::{Activation, Backend, CpuBackend, DType, GpuBackend, Matmul, MatmulDims, Tensor};

/// Ragged and aligned shapes: the rows kernel (M < 8), the vec4 and subgroup kernels with
/// edge blocks, the strided kernels (K % 4 ≠ 0, an output layer's N = 10), the shallow kernel
/// (K ≤ 4, N % 4 = 0: vec4 stores of C), and a Dense layer.
const SHAPES: &[(usize, usize, usize)] =
    &[(1, 784, 300), (3, 17, 5), (7, 132, 260), (20, 36, 68), (63, 65, 129), (128, 784, 300), (40, 3, 10), (37, 3, 20)];

fn forms() -> [Matmul; 3] {
    [Matmul::nn(), Matmul::nt(), Matmul::tn()]
}

/// Every mix of f16 and f32 storage for A, B and C but all-f32 (each mix is a shader of its
/// own: building them all for every tiling, shape and form would take minutes on lavapipe).
fn storages() -> Vec<(DType, DType, DType)> {
    let t = |f16| if f16 { DType::F16 } else { DType::F32 };
    (1..8).map(|i| (t(i & 1 != 0), t(i & 2 != 0), t(i & 4 != 0))).collect()
}

/// The mixes a model in `Precision::F16` runs, per form: forward (nn) an input or hidden
/// layer's f16 output from f32 inputs or f16 activations and f16 weights, and f32 logits; the
/// input gradient (nt) f32 from an f32 gradient and f16 weights; the weight gradient (tn) f32
/// from f16 activations and an f32 gradient.
fn model_mixes(form: Matmul) -> Vec<(DType, DType, DType)> {
    use DType::{F16, F32};
    if form == Matmul::nt() {
        vec![(F32, F16, F32)]
    } else if form == Matmul::tn() {
        vec![(F16, F32, F32)]
    } else {
        vec![(F32, F16, F16), (F16, F16, F16), (F16, F16, F32)]
    }
}

fn upload(b: &mut dyn Backend, rows: usize, cols: usize, dtype: DType, values: &[f32]) -> Tensor {
    let t = b.alloc(rows, cols, dtype).unwrap();
    b.write(t, values).unwrap();
    t
}

/// One product with bias and a ReLU epilogue: C's values.
fn product(b: &mut dyn Backend, (m, k, n): (usize, usize, usize), form: Matmul, dtypes: (DType, DType, DType), seed: u64) -> Vec<f32> {
    let a_shape = if form.trans_a { (k, m) } else { (m, k) };
    let b_shape = if form.trans_b { (n, k) } else { (k, n) };
    let a = upload(b, a_shape.0, a_shape.1, dtypes.0, &uniform(seed, m * k));
    let w = upload(b, b_shape.0, b_shape.1, dtypes.1, &uniform(seed + 1, k * n));
    let bias = upload(b, 1, n, DType::F32, &uniform(seed + 2, n));
    let c = b.alloc(m, n, dtypes.2).unwrap();
    b.matmul(a, w, c, form.with_bias(bias).with_activation(Activation::Relu)).unwrap();
    let out = b.read(c).unwrap();
    for t in [a, w, bias, c] {
        b.free(t).unwrap();
    }
    out
}

#[test]
fn f16_tensors_hold_values_rounded_to_nearest_even_on_both_backends() {
    // Exact, halfway cases (1 + 2⁻¹¹ ties to 1, 1 + 3·2⁻¹¹ to 1 + 2⁻⁹), a subnormal, the
    // largest finite, overflow to infinity, an odd length (the last word half used).
    let values = [0.0, -1.5, 1.0 + 1.0 / 2048.0, 1.0 + 3.0 / 2048.0, 3e-6, 65504.0, 70000.0, -1e9, 0.1];
    let want: Vec<f32> = values.iter().map(|&v| round_f16(v)).collect();
    assert_eq!(&want[..6], &[0.0, -1.5, 1.0, 1.0 + 4.0 / 2048.0, want[4], 65504.0]);
    assert!(want[4] > 0.0 && want[4] != 3e-6, "a subnormal f16, not flushed");
    assert_eq!((want[6], want[7]), (f32::INFINITY, f32::NEG_INFINITY));
    let mut gpu = GpuBackend::new(context()).unwrap();
    let mut cpu = CpuBackend::new();
    for b in [&mut gpu as &mut dyn Backend, &mut cpu] {
        let t = upload(b, 1, values.len(), DType::F16, &values);
        let got = b.read(t).unwrap();
        assert_eq!(got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), "{}", b.describe());
    }
}

/// Against the twin, which computes in f32 over the stored (f16-rounded) values and rounds C
/// once at the end. An f32 C: the f32 parity tolerance (tests/matmul.rs: the two round each
/// of K multiply-adds differently, atol 4·K·2⁻²⁴, rtol 10⁻⁵). An f16 C: results that close
/// can still round to neighbouring f16 values, one f16 ulp apart: rtol 2⁻¹⁰ (an ulp over the
/// value, at most) plus 2⁻²⁴ (the subnormal ulp), on top.
#[test]
fn f16_products_match_the_twin_for_every_tiling_form_and_storage() {
    let mut cpu = CpuBackend::new();
    for (i, tiling) in matmul_tilings().into_iter().enumerate() {
        let mut gpu = GpuBackend::with_tiling(context(), tiling).unwrap();
        // Every mix in the forward form on the first tiling; a model's mixes in every form
        // and on every tiling (each mix is a module of its own, each form a pipeline: a compile
        // of ~0.5 s on lavapipe, a cold CI's).
        for (s, &shape) in SHAPES.iter().enumerate() {
            for form in forms() {
                // (A model's mixes into an f32 C on the other tilings: the bit test below.)
                let mixes = match (i, form == Matmul::nn()) {
                    (0, true) => storages(),
                    (0, false) => model_mixes(form),
                    _ => model_mixes(form).into_iter().filter(|m| m.2 == DType::F16).collect(),
                };
                for &dtypes in &mixes {
                    let seed = 100 * s as u64;
                    let got = product(&mut gpu, shape, form, dtypes, seed);
                    let want = product(&mut cpu, shape, form, dtypes, seed);
                    let k = shape.1 as f32;
                    let (mut atol, mut rtol) = (4.0 * k * f32::EPSILON / 2.0, 1e-5);
                    if dtypes.2 == DType::F16 {
                        atol += 2f32.powi(-24);
                        rtol += 2f32.powi(-10);
                    }
                    let what = format!("{shape:?} {form:?} {dtypes:?} ({tiling})");
                    assert_close(&what, &got, &want, atol, rtol);
                }
            }
        }
    }
}

/// Storage changes nothing but storage: the f16 kernels run the f32 kernels' arithmetic, so an
/// f32 C over f16 operands is the f32 product of the same values to the bit.
#[test]
fn an_f32_output_over_f16_operands_is_the_f32_product_of_the_same_values_to_the_bit() {
    for (i, tiling) in matmul_tilings().into_iter().enumerate() {
        let mut gpu = GpuBackend::with_tiling(context(), tiling).unwrap();
        // A alone and B alone in f16 in the forward form on the first tiling; a model's mixes
        // into an f32 C in every form on every tiling (logits, input and weight gradients).
        for &(m, k, n) in SHAPES {
            for form in forms() {
                let mixes: Vec<(DType, DType)> = if i == 0 && form == Matmul::nn() {
                    vec![(DType::F16, DType::F16), (DType::F16, DType::F32), (DType::F32, DType::F16)]
                } else {
                    model_mixes(form).into_iter().filter(|m| m.2 == DType::F32).map(|m| (m.0, m.1)).collect()
                };
                let (a_vals, b_vals) = (uniform(7, m * k), uniform(8, k * n));
                let rounded = |v: &[f32]| v.iter().map(|&x| round_f16(x)).collect::<Vec<_>>();
                let a_shape = if form.trans_a { (k, m) } else { (m, k) };
                let b_shape = if form.trans_b { (n, k) } else { (k, n) };
                let mut run = |da, db| {
                    let a = upload(&mut gpu, a_shape.0, a_shape.1, da, &rounded(&a_vals));
                    let b = upload(&mut gpu, b_shape.0, b_shape.1, db, &rounded(&b_vals));
                    let c = gpu.alloc(m, n, DType::F32).unwrap();
                    gpu.matmul(a, b, c, form).unwrap();
                    let out: Vec<u32> = gpu.read(c).unwrap().iter().map(|v| v.to_bits()).collect();
                    for t in [a, b, c] {
                        gpu.free(t).unwrap();
                    }
                    out
                };
                let f32s = run(DType::F32, DType::F32);
                for &(da, db) in &mixes {
                    assert!(run(da, db) == f32s, "{m}×{k}×{n} {form:?} A {da:?} B {db:?} ({tiling})");
                }
            }
        }
    }
}

/// The epilogue's tensor in f16, as a model in `Precision::F16` stores it: a hidden layer's
/// kept pre-activation (forward: C and `pre` both f16) and the point a derivative epilogue reads
/// (backward: `dz·wᵀ ⊙ act'(at)`, the f16 `at` a layer's output or pre-activation). Against
/// the twin, with `f16_products_match_the_twin…`'s tolerances: an f16 C or `pre` may round to
/// the neighbouring f16 value; an f32 C times a derivative read at the same f16 point on both
/// sides differs as the f32 products do, times |act'| ≤ 1.13 (GELU's largest): twice the f32
/// tolerance.
#[test]
fn f16_pre_activations_and_derivative_points_match_the_twin() {
    let mut cpu = CpuBackend::new();
    let tiling = matmul_tilings()[0];
    let mut gpu = GpuBackend::with_tiling(context(), tiling).unwrap();
    for (s, &(m, k, n)) in SHAPES.iter().enumerate() {
        let seed = 10 * s as u64;
        let k_tol = 4.0 * k as f32 * f32::EPSILON / 2.0;
        let f16_tol = (k_tol + 2f32.powi(-24), 1e-5 + 2f32.powi(-10));
        // Forward: x (f16)·w (f16) + bias → GELU, keeping z: both stored f16.
        let forward = |b: &mut dyn Backend| {
            let x = upload(b, m, k, DType::F16, &uniform(seed, m * k));
            let w = upload(b, k, n, DType::F16, &uniform(seed + 1, k * n));
            let bias = upload(b, 1, n, DType::F32, &uniform(seed + 2, n));
            let (y, z) = (b.alloc(m, n, DType::F16).unwrap(), b.alloc(m, n, DType::F16).unwrap());
            let spec = Matmul::nn().with_bias(bias).with_activation(Activation::Gelu).with_pre_activation(z);
            b.matmul(x, w, y, spec).unwrap();
            let out = (b.read(y).unwrap(), b.read(z).unwrap());
            for t in [x, w, bias, y, z] {
                b.free(t).unwrap();
            }
            out
        };
        let (got, want) = (forward(&mut gpu), forward(&mut cpu));
        assert_close(&format!("{m}×{k}×{n} GELU output"), &got.0, &want.0, f16_tol.0, f16_tol.1);
        assert_close(&format!("{m}×{k}×{n} kept pre-activation"), &got.1, &want.1, f16_tol.0, f16_tol.1);
        // Backward: dz (f32)·wᵀ (w f16, stored (n, k)) ⊙ act'(at), at f16; C f32.
        // ReLU reads a layer's output, GELU its kept pre-activation.
        for act in [Activation::Relu, Activation::Gelu] {
            let backward = |b: &mut dyn Backend| {
                let dz = upload(b, m, k, DType::F32, &uniform(seed + 3, m * k));
                let w = upload(b, n, k, DType::F16, &uniform(seed + 4, k * n));
                let at = upload(b, m, n, DType::F16, &uniform(seed + 5, m * n));
                let dx = b.alloc(m, n, DType::F32).unwrap();
                b.matmul(dz, w, dx, Matmul::nt().times_derivative(act, at)).unwrap();
                let out = b.read(dx).unwrap();
                for t in [dz, w, at, dx] {
                    b.free(t).unwrap();
                }
                out
            };
            let what = format!("{m}×{k}×{n} {} derivative at an f16 point", act.name());
            assert_close(&what, &backward(&mut gpu), &backward(&mut cpu), 2.0 * k_tol, 2e-5);
        }
    }
}

#[test]
fn the_f16_kernels_are_the_tilings_own_and_their_shape_classes_apart() {
    let mut gpu = GpuBackend::new(context()).unwrap();
    let (m, k, n) = (128, 784, 300);
    let a = upload(&mut gpu, m, k, DType::F16, &uniform(1, m * k));
    let b = upload(&mut gpu, k, n, DType::F16, &uniform(2, k * n));
    let c = gpu.alloc(m, n, DType::F32).unwrap();
    gpu.matmul(a, b, c, Matmul::nn()).unwrap();
    let tiling = gpu.matmul_tiling_for(MatmulDims { m, n, k }, &Matmul::nn());
    assert!(matches!(tiling, MatmulTiling::Register { .. } | MatmulTiling::Subgroup { .. } | MatmulTiling::Tiled { .. }));
    let label = wgtrain::gpu::ShapeClass::of(MatmulDims { m, n, k }, &Matmul::nn())
        .stored(wgtrain::gpu::Storage::of(DType::F16, DType::F16, DType::F32))
        .label();
    assert_eq!(label, "nn vec4 M≤256 K≤1024 N≤1024 f16·f16→f32");
}

#[test]
fn ops_other_than_the_matmul_refuse_f16_tensors_alike_on_both_backends() {
    let mut gpu = GpuBackend::new(context()).unwrap();
    let mut cpu = CpuBackend::new();
    for b in [&mut gpu as &mut dyn Backend, &mut cpu] {
        let x = upload(b, 2, 4, DType::F16, &[0.5; 8]);
        let y = b.alloc(2, 4, DType::F32).unwrap();
        let err = b.activation_forward(Activation::Relu, x, y, Default::default()).unwrap_err().to_string();
        assert!(err.contains("a F32 tensor") && err.contains("F16"), "{}: {err}", b.describe());
        let bias16 = upload(b, 1, 4, DType::F16, &[0.0; 4]);
        let w = upload(b, 4, 4, DType::F32, &[0.25; 16]);
        let c = b.alloc(2, 4, DType::F32).unwrap();
        let err = b.matmul(x, w, c, Matmul::nn().with_bias(bias16)).unwrap_err().to_string();
        assert!(err.contains("a F32 tensor"), "the bias stays f32 ({}): {err}", b.describe());
        let u = b.alloc(2, 4, DType::U32).unwrap();
        let err = b.matmul(x, w, u, Matmul::nn()).unwrap_err().to_string();
        assert!(err.contains("a F32 tensor") && err.contains("U32"), "{}: {err}", b.describe());
    }
}
