//! Packed parameters: tensors laid out in one allocation (`Backend::zeros_packed`), the
//! penalized share of an update, and a model's one packed update against one update per
//! parameter, to the bit.

use crate::common;

use common::{gpu, uniform, Both};
use wgtrain::nn::{ModelSpec, ParamSet, Sequential};
use wgtrain::optim::{Optimizer, OptimizerConfig, OptimizerKind};
use wgtrain::{Activation, Backend, Hyper, UpdateRule, UpdateTensors};

#[test]
fn packed_parts_are_separate_tensors_inside_one_zeroed_whole() {
    let mut g = gpu();
    let shapes = [(3, 5), (1, 7), (4, 4)];
    let packed = g.zeros_packed(&shapes).unwrap();
    let whole = packed.whole.expect("the GPU packs");
    assert_eq!(packed.parts.len(), 3);
    for (i, (&part, &(rows, cols))) in packed.parts.iter().zip(&shapes).enumerate() {
        assert_eq!((part.rows, part.cols), (rows, cols));
        g.write(part, &vec![i as f32 + 1.0; rows * cols]).unwrap();
    }
    let all = g.read(whole).unwrap();
    for (i, (&at, &(rows, cols))) in packed.offsets.iter().zip(&shapes).enumerate() {
        assert!(all[at..at + rows * cols].iter().all(|&v| v == i as f32 + 1.0), "part {i} at {at}");
        assert_eq!(g.read(packed.parts[i]).unwrap(), vec![i as f32 + 1.0; rows * cols], "part {i} reads back alone");
    }
    // Between the parts: zeros.
    let covered: usize = shapes.iter().map(|&(r, c)| r * c).sum();
    assert_eq!(all.iter().filter(|&&v| v == 0.0).count(), all.len() - covered);
    // Parts do not overlap and start where a range may be bound.
    for w in packed.offsets.windows(2) {
        assert!(w[1] > w[0] && w[1] % 4 == 0, "{:?}", packed.offsets);
    }
    // The CPU twin keeps them apart.
    let mut cpu = wgtrain::CpuBackend::new();
    let apart = cpu.zeros_packed(&shapes).unwrap();
    assert!(apart.whole.is_none() && apart.parts.len() == 3);
}

/// Adam with ℓ1, ℓ2 and norm clipping on 24 values, penalized on the first 8: the same as
/// updating the first 8 as a penalized tensor and the other 16 as a plain one, to the bit, on
/// either backend.
#[test]
fn penalties_apply_to_the_penalized_share_only() {
    let (theta0, grad) = (uniform(1, 24), uniform(2, 24));
    let h = Hyper::adam(0.01, 0.9, 0.999, 1e-8, 0.0, 1).with_penalties(0.1, 0.2).with_clipping(0.0, 0.5);
    for (name, b) in Both::new().named() {
        let run = |b: &mut dyn Backend, range: std::ops::Range<usize>, penalized: usize| -> Vec<f32> {
            let n = range.len();
            let param = b.upload(1, n, &theta0[range.clone()]).unwrap();
            let grad_t = b.upload(1, n, &grad[range]).unwrap();
            let state = [Some(b.zeros(1, n).unwrap()), Some(b.zeros(1, n).unwrap())];
            let hyper = b.upload(1, Hyper::LEN, h.as_slice()).unwrap();
            // The norm clipping reads Σg² of all 24 gradients.
            let norm = b.upload(1, 2, &[grad.iter().map(|g| g * g).sum::<f32>(), 0.0]).unwrap();
            let t = UpdateTensors { param, grad: grad_t.into(), state, hyper, grad_norm: Some(norm), penalized };
            b.update(UpdateRule::Adam, t).unwrap();
            b.read(param).unwrap()
        };
        let split = run(b, 0..24, 8);
        let mut apart = run(b, 0..8, 8);
        apart.extend(run(b, 8..24, 0));
        assert_eq!(split, apart, "{name}");
        // And the penalties did something: unpenalized throughout differs in the first 8.
        let none = run(b, 0..24, 0);
        assert_ne!(split[..8], none[..8], "{name}");
        assert_eq!(split[8..], none[8..], "{name}");
        let (p, q, h) = (b.zeros(1, 10).unwrap(), b.zeros(1, 10).unwrap(), b.zeros(1, Hyper::LEN).unwrap());
        let t =
            UpdateTensors { param: p, grad: q.into(), state: [None, None], hyper: h, grad_norm: None, penalized: 6 };
        let err = b.update(UpdateRule::Sgd, t).unwrap_err().to_string();
        assert!(err.contains("penalized share"), "{name}: {err}");
    }
}

fn model_and_optimizer(b: &mut dyn Backend, kind: OptimizerKind, clip_norm: f32) -> (Sequential, Optimizer) {
    let spec = ModelSpec::builder(13).dense(9, Activation::Relu).dense(6, Activation::Tanh).classes(3).unwrap();
    let mut model = Sequential::new(b, &spec, 5).unwrap();
    let mut config = OptimizerConfig::new(kind).with_lr(0.05);
    (config.l1, config.l2, config.clip_norm) = (1e-3, 1e-2, clip_norm);
    let opt = Optimizer::new(b, config).unwrap();
    opt.attach(b, model.params_mut()).unwrap();
    (model, opt)
}

fn snapshot(b: &mut dyn Backend, params: &[wgtrain::nn::Param]) -> Vec<Vec<f32>> {
    let mut all = Vec::new();
    for p in params {
        all.push(b.read(p.value).unwrap());
        for s in p.state.iter().flatten() {
            all.push(b.read(*s).unwrap());
        }
    }
    all
}

/// Two copies of a model, the same gradients: one packed update against one update per
/// parameter (`ParamSet::new` over the same tensors), for a rule with two state slots and one
/// with one, with ℓ1/ℓ2 (Dense weights only). Equal to the bit, and the packed copy records
/// one dispatch where the other records one per parameter. With norm clipping as well, Σg²
/// is one sum instead of partial sums added per tensor: the clipping factor differs in its
/// last bits, so there the copies agree to 1e-6 (|θ| < 2, a few f32 ulps).
#[test]
fn one_packed_update_equals_one_update_per_parameter() {
    let mut g = gpu();
    for (kind, clip_norm) in [(OptimizerKind::Adam, 0.0), (OptimizerKind::Momentum, 0.0), (OptimizerKind::Adam, 1.0)] {
        let (packed_model, mut packed_opt) = model_and_optimizer(&mut g, kind, clip_norm);
        let (loose_model, mut loose_opt) = model_and_optimizer(&mut g, kind, clip_norm);
        let count = kind.rule().state_count();
        assert!(packed_model.params().packed(count).is_some(), "{kind:?}: the GPU packs a model's parameters");
        let loose = ParamSet::new(loose_model.params().to_vec());
        assert!(loose.packed(count).is_none());
        for step in 0..3u64 {
            for (i, (p, q)) in packed_model.params().iter().zip(loose_model.params().iter()).enumerate() {
                let grad = uniform(100 * step + i as u64, p.value.len());
                g.write(p.grad, &grad).unwrap();
                g.write(q.grad, &grad).unwrap();
            }
            packed_opt.prepare(&mut g).unwrap();
            let before = g.stats().dispatches;
            packed_opt.record(&mut g, packed_model.params()).unwrap();
            let packed_dispatches = g.stats().dispatches - before;
            loose_opt.prepare(&mut g).unwrap();
            let before = g.stats().dispatches;
            loose_opt.record(&mut g, &loose).unwrap();
            let loose_dispatches = g.stats().dispatches - before;
            // One update (and with norm clipping one Σg²), against one of each per parameter.
            let per_update = if clip_norm > 0.0 { 2 } else { 1 };
            assert_eq!(packed_dispatches, per_update, "{kind:?}");
            assert_eq!(loose_dispatches, per_update * loose.len() as u64, "{kind:?}");
        }
        let (a, b) = (snapshot(&mut g, packed_model.params()), snapshot(&mut g, loose_model.params()));
        if clip_norm == 0.0 {
            assert_eq!(a, b, "{kind:?}: values and state after 3 steps");
        } else {
            for (x, y) in a.iter().zip(&b) {
                common::assert_close(&format!("{kind:?} with norm clipping"), x, y, 1e-6, 0.0);
            }
        }
    }
}

/// The twin has no packing: the same model updates there one parameter at a time (with
/// norm clipping, whose Σg² tensor the update checks).
#[test]
fn the_cpu_twin_keeps_parameters_apart() {
    let mut cpu = wgtrain::CpuBackend::new();
    let (model, mut opt) = model_and_optimizer(&mut cpu, OptimizerKind::Adam, 1.0);
    assert!(model.params().packed(2).is_none());
    for (i, p) in model.params().iter().enumerate() {
        cpu.write(p.grad, &uniform(i as u64, p.value.len())).unwrap();
    }
    let before = snapshot(&mut cpu, model.params());
    opt.prepare(&mut cpu).unwrap();
    opt.record(&mut cpu, model.params()).unwrap();
    assert_ne!(snapshot(&mut cpu, model.params()), before);
}
