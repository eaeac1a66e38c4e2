//! `copy` between f32 and f16 storage: the GPU's casts (the end of shaders/data.wgsl, integer
//! arithmetic) store the same bits as the CPU twin (the `half` crate: nearest, ties to even,
//! ±inf past the range, subnormals kept), over every f16 value, every midpoint between
//! neighbours and the f32 values either side of each midpoint; widening is exact.

use crate::common;

use common::context;
use wgtrain::tensor::round_f16;
use wgtrain::{Backend, CpuBackend, DType, Error, GpuBackend, Tensor};

/// Every finite f16 value, the midpoint to its upper neighbour (a tie, even in f32 since f32
/// keeps 13 more bits) and the f32 values one ulp either side of it; then what lies outside:
/// past the largest finite (65504, midpoint 65520), infinities, f32 subnormals, ±0.
fn rounding_cases() -> Vec<f32> {
    let mut v = Vec::new();
    for h in 0u16..=0xffff {
        let x = half::f16::from_bits(h);
        if !x.is_finite() {
            continue;
        }
        let x = x.to_f32();
        v.push(x);
        let up = half::f16::from_bits(if x >= 0.0 && h != 0x8000 { h + 1 } else { h.wrapping_sub(1) });
        if up.is_finite() && h != 0x8000 {
            let mid = (x + up.to_f32()) / 2.0;
            v.extend([mid, f32::from_bits(mid.to_bits() + 1), f32::from_bits(mid.to_bits() - 1)]);
        }
    }
    v.extend([65519.0, 65520.0, 65521.0, 1e9, -1e9, f32::INFINITY, f32::NEG_INFINITY, f32::MAX]);
    v.extend([1e-40, -1e-40, f32::MIN_POSITIVE, 2f32.powi(-25), 2f32.powi(-25) * 1.5, 2f32.powi(-26), 0.0, -0.0]);
    v
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// `values` uploaded as f32, copied into an F16 tensor, read back (f16 widened on the host).
fn narrowed(b: &mut dyn Backend, values: &[f32]) -> Vec<f32> {
    let src = b.upload(1, values.len(), values).unwrap();
    let dst = b.alloc(1, values.len(), DType::F16).unwrap();
    b.copy(src, dst).unwrap();
    let out = b.read(dst).unwrap();
    b.free(src).unwrap();
    b.free(dst).unwrap();
    out
}

#[test]
fn f32_to_f16_copies_round_to_nearest_even_alike_on_both_backends() {
    let values = rounding_cases();
    let want: Vec<f32> = values.iter().map(|&v| round_f16(v)).collect();
    // The reference itself: ties to even, overflow to infinity, the smallest subnormal's half
    // (2⁻²⁵) a tie that rounds to zero, 1.5 of it rounding up to the subnormal.
    assert_eq!(round_f16(65520.0), f32::INFINITY);
    assert_eq!(round_f16(65519.0), 65504.0);
    assert_eq!(round_f16(2f32.powi(-25)), 0.0);
    assert_eq!(round_f16(2f32.powi(-25) * 1.5), 2f32.powi(-24));
    let mut gpu = GpuBackend::new(context()).unwrap();
    let mut cpu = CpuBackend::new();
    for b in [&mut gpu as &mut dyn Backend, &mut cpu] {
        let got = narrowed(b, &values);
        let wrong: Vec<_> = (0..values.len()).filter(|&i| got[i].to_bits() != want[i].to_bits()).take(5).collect();
        let shown: Vec<_> = wrong.iter().map(|&i| (values[i], got[i], want[i])).collect();
        assert!(wrong.is_empty(), "{}: (value, got, want) {shown:?}", b.describe());
    }
}

#[test]
fn nan_stays_nan_through_f16() {
    let values = [f32::NAN, -f32::NAN, f32::from_bits(0x7f80_0001), 1.0];
    let mut gpu = GpuBackend::new(context()).unwrap();
    let mut cpu = CpuBackend::new();
    for b in [&mut gpu as &mut dyn Backend, &mut cpu] {
        let got = narrowed(b, &values);
        assert!(got[..3].iter().all(|v| v.is_nan()) && got[3] == 1.0, "{}: {got:?}", b.describe());
    }
}

#[test]
fn f16_to_f32_copies_widen_exactly_and_odd_lengths_keep_their_last_element() {
    // Every f16 value (infinities included), an odd count in all: the last word half used.
    let values: Vec<f32> =
        (0u16..=0xffff).map(half::f16::from_bits).filter(|h| !h.is_nan()).map(|h| h.to_f32()).collect();
    assert_eq!(values.len() % 2, 0);
    let values = &values[..values.len() - 1];
    let mut gpu = GpuBackend::new(context()).unwrap();
    let mut cpu = CpuBackend::new();
    for b in [&mut gpu as &mut dyn Backend, &mut cpu] {
        let half_t = b.alloc(1, values.len(), DType::F16).unwrap();
        b.write(half_t, values).unwrap();
        let wide = b.zeros(1, values.len()).unwrap();
        b.copy(half_t, wide).unwrap();
        assert_eq!(bits(&b.read(wide).unwrap()), bits(values), "{}", b.describe());
        // And back: narrowing what was widened changes nothing; seven elements, odd.
        let small = narrowed(b, &values[1000..1007]);
        assert_eq!(bits(&small), bits(&values[1000..1007]), "{}", b.describe());
    }
}

#[test]
fn copies_between_other_types_are_refused_alike() {
    let mut gpu = GpuBackend::new(context()).unwrap();
    let mut cpu = CpuBackend::new();
    for b in [&mut gpu as &mut dyn Backend, &mut cpu] {
        let f: Tensor = b.zeros(2, 3).unwrap();
        let u = b.alloc(2, 3, DType::U32).unwrap();
        let h = b.alloc(3, 2, DType::F16).unwrap();
        let err = b.copy(f, u).unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch { op: "copy", .. }), "{err}");
        assert!(err.to_string().contains("U32 destination for a F32 source"), "{}: {err}", b.describe());
        assert!(b.copy(u, h).is_err(), "U32 into F16");
        // Same element count, another shape: allowed, as for same-type copies.
        b.copy(f, h).unwrap();
        let short = b.alloc(1, 5, DType::F16).unwrap();
        assert!(b.copy(f, short).unwrap_err().to_string().contains("6 elements"), "{}", b.describe());
    }
}
