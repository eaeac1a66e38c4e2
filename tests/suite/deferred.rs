//! Weight gradients left as their factors (`Gradient::Outer`, `Sequential::backward_deferring`):
//! an update from xᵀ·dz against the same update from the written product, on both backends and
//! through the GPU kernel's three layouts; training steps that defer against steps that write
//! every gradient, to the bit at batch 1; and where deferral is not taken.

use crate::common;

use common::{gpu, uniform, Both};
use wgtrain::data::sources;
use wgtrain::nn::{ModelSpec, Precision, Sequential, DEFERRABLE_MIN, DEFERRABLE_ROWS};
use wgtrain::optim::{Optimizer, OptimizerConfig, OptimizerKind};
use wgtrain::train::{DeviceData, TrainConfig, Trainer};
use wgtrain::{Activation, Backend, GpuBackend, Gradient, Hyper, Matmul, Tensor, UpdateRule, UpdateTensors};

/// A rule's scalars for the update tests, with ℓ1/ℓ2 and clipping by value.
pub(crate) fn hyper_for(rule: UpdateRule) -> Hyper {
    use UpdateRule::*;
    let h = match rule {
        Adam | Nadam => Hyper::adam(0.01, 0.9, 0.999, 1e-8, 0.0, 1),
        Adagrad => Hyper::adagrad(0.05, 1e-7),
        Rmsprop => Hyper::rmsprop(0.01, 0.9, 1e-7),
        Sgd => Hyper::sgd(0.05),
        _ => Hyper::momentum(0.05, 0.9),
    };
    h.with_penalties(1e-3, 1e-2).with_clipping(0.8, 0.0)
}

/// Zero at either sign reads as +0: the product's kernels and the update's sum start from a
/// different zero, which only the sign of an exact 0 can show.
pub(crate) fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| if *x == 0.0 { 0 } else { x.to_bits() }).collect()
}

/// θ and the rule's state after two updates of a (rows, cols) parameter from factors x (k, rows)
/// and dz (k, cols): from `Gradient::Outer`, and from the gradient the backend's own product
/// writes.
fn outer_and_written(
    b: &mut dyn Backend,
    rule: UpdateRule,
    h: Hyper,
    (k, rows, cols): (usize, usize, usize),
) -> [Vec<Vec<f32>>; 2] {
    let n = rows * cols;
    let x = b.upload(k, rows, &uniform(1, k * rows)).unwrap();
    let dz = b.upload(k, cols, &uniform(2, k * cols)).unwrap();
    let hyper = b.upload(1, Hyper::LEN, h.as_slice()).unwrap();
    let mut ends = [Vec::new(), Vec::new()];
    for (written, end) in ends.iter_mut().enumerate() {
        let param = b.upload(rows, cols, &uniform(3, n)).unwrap();
        let state = [Some(b.zeros(rows, cols).unwrap()), Some(b.zeros(rows, cols).unwrap())];
        let grad: Gradient = match written {
            0 => Gradient::Outer { x, dz, input: None },
            _ => {
                let g = b.zeros(rows, cols).unwrap();
                b.matmul(x, dz, g, Matmul::tn()).unwrap();
                g.into()
            }
        };
        for _ in 0..2 {
            let t = UpdateTensors { param, grad, state, hyper, grad_norm: None, penalized: n };
            b.update(rule, t).unwrap();
        }
        end.push(b.read(param).unwrap());
        for s in state.iter().take(rule.state_count()).flatten() {
            end.push(b.read(*s).unwrap());
        }
    }
    ends
}

/// Every rule, with ℓ1/ℓ2 and clipping by value, over shapes that take each of the GPU
/// kernel's layouts: by rows (1024 columns, K = 1 and 3, unrolled), along the grid with rows
/// found through f32 (256 and 12 columns), along the grid with a division per element (10
/// columns), and K = 6 (a loop over p.k). Up to 4 rows (the depth the products' shallow
/// kernel takes, past `DEFERRABLE_ROWS`) the GPU's update from factors ends where the one from
/// the written product does, to the bit: both sum x·dz in k's order from 0. The twin forms the gradient with its own
/// product, so it matches itself to the bit at any K; GPU against twin is the kernels' usual
/// f32 agreement.
#[test]
fn an_update_from_factors_ends_where_one_from_the_written_product_does() {
    use UpdateRule::*;
    let shapes = [(1, 20, 1024), (3, 9, 1024), (1, 300, 256), (3, 70, 12), (2, 33, 10), (6, 9, 8)];
    let mut both = Both::new();
    for rule in [Sgd, Momentum, Nesterov, Adagrad, Rmsprop, Adam, Nadam] {
        let hyper = hyper_for(rule);
        for shape in shapes {
            let [gpu_ends, cpu_ends] = both.each().map(|b| outer_and_written(b, rule, hyper, shape));
            for (name, [outer, written]) in [("gpu", &gpu_ends), ("cpu", &cpu_ends)] {
                for (i, (a, w)) in outer.iter().zip(written).enumerate() {
                    let what = format!("{name} {rule:?} {shape:?}: tensor {i} (θ, then state)");
                    match shape.0 <= 4 || name == "cpu" {
                        true => assert_eq!(bits(a), bits(w), "{what}"),
                        // Past 4 rows the GPU's product sums in another association (vec4
                        // steps): the gradients differ in their last bits (sums of 6 terms of
                        // magnitude < 1), which two updates carry through as relative errors
                        // of a few ulps.
                        false => common::assert_close(&what, a, w, 1e-6, 1e-5),
                    }
                }
            }
            for (i, (g, c)) in gpu_ends[0].iter().zip(&cpu_ends[0]).enumerate() {
                common::assert_close(&format!("{rule:?} {shape:?} tensor {i}, gpu vs cpu"), g, c, 2e-5, 2e-5);
            }
        }
    }
}

/// 300 → 256 (relu) → 1024 (tanh) → 4 on 12 points: two weight matrices past
/// `DEFERRABLE_MIN`, whose updates from factors run along the grid and by rows. The second owes
/// the first layer's input gradient, which its update forms in the same pass on the GPU
/// (tests/suite/input_in_update.rs).
pub(crate) fn wide_spec() -> ModelSpec {
    ModelSpec::builder(300).dense(256, Activation::Relu).dense(1024, Activation::Tanh).classes(4).unwrap()
}

/// 300 → `first` (relu) → 32 (tanh) → 4: only the first weight matrix is past
/// `DEFERRABLE_MIN`, and it owes no input gradient.
fn first_wide_spec(first: usize) -> ModelSpec {
    ModelSpec::builder(300).dense(first, Activation::Relu).dense(32, Activation::Tanh).classes(4).unwrap()
}

pub(crate) struct Trained {
    /// Every parameter and state tensor after the epoch.
    pub ends: Vec<Vec<f32>>,
    /// The gradients the last step left as factors, and which of them it updated during the
    /// backward pass.
    pub deferred: Vec<usize>,
    pub applied: Vec<usize>,
    /// The first weight matrix's `grad` after the epoch.
    pub first_grad: Vec<f32>,
}

pub(crate) fn train(
    b: &mut dyn Backend,
    spec: &ModelSpec,
    kind: OptimizerKind,
    batch: usize,
    keep_gradients: bool,
    precision: Precision,
) -> Trained {
    let data = DeviceData::upload(b, &sources::blobs(3, 4, 300, 1.5, 3)).unwrap();
    let mut model = Sequential::with_precision(b, spec, 7, precision).unwrap();
    let mut opt = Optimizer::new(b, OptimizerConfig::new(kind).with_lr(0.01)).unwrap();
    opt.attach(b, model.params_mut()).unwrap();
    let config = TrainConfig { epochs: 1, batch_size: batch, seed: 5, keep_gradients, ..TrainConfig::default() };
    let mut trainer = Trainer::new(b, config).unwrap();
    trainer.begin(b, &mut model, &mut opt, &data).unwrap();
    trainer.run_epoch(b, &mut model, &mut opt, &data, None, &mut []).unwrap();
    let mut ends = Vec::new();
    for p in model.params().iter() {
        ends.push(b.read(p.value).unwrap());
        for s in p.state.iter().flatten() {
            ends.push(b.read(*s).unwrap());
        }
    }
    let mut deferred: Vec<usize> = model.params().deferred().iter().map(|d| d.param).collect();
    deferred.sort();
    let mut applied: Vec<usize> = model.params().deferred().iter().filter(|d| d.applied).map(|d| d.param).collect();
    applied.sort();
    let first_grad = b.read(model.params()[0].grad).unwrap();
    Trained { ends, deferred, applied, first_grad }
}

/// A batch-1 epoch of momentum and of Adam: the steps that defer the large first weight
/// matrix's gradient (by rows at 1024 columns, along the grid at 256) end with the same
/// parameters and state, to the bit, as steps that write every gradient (`keep_gradients`),
/// and they did defer exactly it and left its `grad` unwritten. At batch 2
/// (`DEFERRABLE_ROWS`) likewise. At batch 3 nothing is deferred.
#[test]
fn steps_that_defer_end_where_steps_that_write_every_gradient_do() {
    let mut g = gpu();
    for (kind, first) in [(OptimizerKind::Momentum, 1024), (OptimizerKind::Adam, 256)] {
        let spec = first_wide_spec(first);
        for batch in [1, DEFERRABLE_ROWS] {
            let deferring = train(&mut g, &spec, kind, batch, false, Precision::F32);
            let writing = train(&mut g, &spec, kind, batch, true, Precision::F32);
            assert_eq!(deferring.deferred, [0], "{kind:?} batch {batch}");
            assert!(deferring.applied.is_empty(), "the first layer owes no input gradient");
            assert!(writing.deferred.is_empty());
            for (i, (a, w)) in deferring.ends.iter().zip(&writing.ends).enumerate() {
                assert_eq!(bits(a), bits(w), "{kind:?} batch {batch}: tensor {i}");
            }
            assert!(deferring.first_grad.iter().all(|&v| v == 0.0), "a deferred gradient is not written");
            assert!(writing.first_grad.iter().any(|&v| v != 0.0));
        }
    }
    let spec = wide_spec();
    assert!(train(&mut g, &spec, OptimizerKind::Momentum, DEFERRABLE_ROWS + 1, false, Precision::F32).deferred.is_empty());
}

/// In f16 the second layer's input is stored in f16, which the update does not read: only
/// the first layer defers, so the other parameters are updated one by one instead of in one
/// packed range, and the run still ends where writing every gradient does.
#[test]
fn a_partial_deferral_updates_the_rest_one_by_one_and_ends_alike() {
    let mut g = gpu();
    if !g.context().supports_f16() {
        panic!("this test needs an adapter with f16 shaders (lavapipe has them)");
    }
    let deferring = train(&mut g, &wide_spec(), OptimizerKind::Momentum, 1, false, Precision::F16);
    let writing = train(&mut g, &wide_spec(), OptimizerKind::Momentum, 1, true, Precision::F16);
    assert_eq!(deferring.deferred, [0]);
    for (i, (a, w)) in deferring.ends.iter().zip(&writing.ends).enumerate() {
        assert_eq!(bits(a), bits(w), "tensor {i}");
    }
}

/// Deferral needs a packed set and a large weight matrix: the twin never packs, and on the
/// GPU only the Dense weights of at least `DEFERRABLE_MIN` entries are deferrable.
#[test]
fn only_large_weight_matrices_in_a_packed_set_are_deferrable() {
    let spec = wide_spec();
    for (name, b) in Both::new().named() {
        let model = Sequential::new(b, &spec, 1).unwrap();
        let deferrable: Vec<usize> = (0..model.params().len()).filter(|&i| model.params().deferrable(i)).collect();
        let large: Vec<usize> = (0..model.params().len())
            .filter(|&i| i % 2 == 0 && model.params()[i].value.len() >= DEFERRABLE_MIN)
            .collect();
        assert_eq!(large, [0, 2]);
        match name {
            "gpu" => assert_eq!(deferrable, large),
            _ => assert!(deferrable.is_empty(), "{name}: {deferrable:?}"),
        }
    }
}

/// `wide_spec` with a momentum optimizer that clips by norm, after a batch-1 forward pass:
/// the backend, model, optimizer and workspace.
pub(crate) fn clipping_by_norm_after_forward() -> (GpuBackend, Sequential, Optimizer, usize) {
    let mut g = gpu();
    let mut model = Sequential::new(&mut g, &wide_spec(), 1).unwrap();
    let mut config = OptimizerConfig::new(OptimizerKind::Momentum);
    config.clip_norm = 1.0;
    let opt = Optimizer::new(&mut g, config).unwrap();
    opt.attach(&mut g, model.params_mut()).unwrap();
    let ws = model.workspace(&mut g, 1).unwrap();
    model.forward(&mut g, ws, wgtrain::nn::Mode::Train).unwrap();
    (g, model, opt, ws)
}

/// Clipping by the norm of all gradients needs them written: an update after a pass that
/// deferred some is refused, naming the setting; the trainer writes them in such runs.
#[test]
fn clipping_by_norm_refuses_deferred_gradients() {
    let (mut g, mut model, mut opt, ws) = clipping_by_norm_after_forward();
    model.backward_deferring(&mut g, ws).unwrap();
    assert_eq!(model.params().deferred().len(), 2);
    opt.prepare(&mut g).unwrap();
    let err = opt.record(&mut g, model.params()).unwrap_err().to_string();
    assert!(err.contains("clip_norm") && err.contains("backward"), "{err}");
    // A plain backward pass writes them, and the update takes it.
    model.backward(&mut g, ws).unwrap();
    assert!(model.params().deferred().is_empty());
    opt.record(&mut g, model.params()).unwrap();
}

/// `tail`: on the GPU a view of a packed whole from a part's start, sharing its storage; None
/// where a range cannot start (off the storage alignment) and on the twin.
#[test]
fn a_tail_shares_the_storage_of_its_whole() {
    let mut g = gpu();
    let packed = g.zeros_packed(&[(3, 5), (2, 7)]).unwrap();
    let (whole, at) = (packed.whole.unwrap(), packed.offsets[1]);
    let tail: Tensor = g.tail(whole, at).unwrap().expect("a part's start takes a view");
    assert_eq!(tail.shape(), (1, whole.len() - at));
    g.write(tail, &vec![2.0; tail.len()]).unwrap();
    assert_eq!(g.read(packed.parts[1]).unwrap(), vec![2.0; 14]);
    assert_eq!(g.read(packed.parts[0]).unwrap(), vec![0.0; 15], "the part before is untouched");
    assert!(g.tail(whole, 1).unwrap().is_none(), "off the alignment");
    let mut cpu = wgtrain::CpuBackend::new();
    let t = cpu.zeros(1, 8).unwrap();
    assert!(cpu.tail(t, 4).unwrap().is_none());
}
