//! Updates from factors that also form the layer's input gradient (`InputGradient`,
//! `Sequential::backward_updating`): the parameters and state end as the plain update's do, to
//! the bit; dx matches the product the backward pass would have recorded; a training step that
//! updates during the backward pass ends near one that writes every gradient.

use crate::common;

use crate::deferred::{bits, clipping_by_norm_after_forward, hyper_for, train, wide_spec};
use common::{gpu, uniform, Both};
use wgtrain::nn::{Precision, DEFERRABLE_ROWS};
use wgtrain::optim::OptimizerKind;
use wgtrain::{Activation, Backend, Derivative, Gradient, Hyper, InputGradient, Matmul, UpdateRule, UpdateTensors};

struct Ends {
    /// θ, then the rule's state.
    update: Vec<Vec<f32>>,
    dx: Vec<f32>,
    /// The kernels the update with the input gradient dispatched.
    kernels: Vec<String>,
}

/// One update of a (rows, cols) parameter from factors x (k, rows) and dz (k, cols): with the
/// input gradient formed in it (`with_input`), or plain with dx from the product recorded
/// before it, as the backward pass would.
fn update(
    b: &mut dyn Backend,
    rule: UpdateRule,
    h: Hyper,
    (k, rows, cols): (usize, usize, usize),
    derivative: Option<Activation>,
    with_input: bool,
) -> Ends {
    let n = rows * cols;
    let x = b.upload(k, rows, &uniform(1, k * rows)).unwrap();
    let dz = b.upload(k, cols, &uniform(2, k * cols)).unwrap();
    let at = b.upload(k, rows, &uniform(4, k * rows)).unwrap();
    let hyper = b.upload(1, Hyper::LEN, h.as_slice()).unwrap();
    let param = b.upload(rows, cols, &uniform(3, n)).unwrap();
    let state = [Some(b.upload(rows, cols, &uniform(5, n)).unwrap()), Some(b.zeros(rows, cols).unwrap())];
    let dx = b.zeros(k, rows).unwrap();
    let derivative = derivative.map(|activation| Derivative { activation, at });
    let input = with_input.then_some(InputGradient { dx, derivative });
    if !with_input {
        b.matmul(dz, param, dx, Matmul { derivative, ..Matmul::nt() }).unwrap();
    }
    b.set_profiling(true);
    let t = UpdateTensors { param, grad: Gradient::Outer { x, dz, input }, state, hyper, grad_norm: None, penalized: n };
    b.update(rule, t).unwrap();
    let kernels = b.take_profile().into_iter().map(|(label, _)| label).collect();
    b.set_profiling(false);
    let mut ends = vec![b.read(param).unwrap()];
    for s in state.iter().take(rule.state_count()).flatten() {
        ends.push(b.read(*s).unwrap());
    }
    Ends { update: ends, dx: b.read(dx).unwrap(), kernels }
}

/// Every rule, with and without the previous layer's derivative (ReLU at a point of either
/// sign, tanh), over shapes whose GPU update runs by rows (1024 and 2048 columns, K = 1 and 2,
/// and 1920, whose rows leave the last workgroup's last 32 lanes idle: they still take part in
/// the subgroup sums, adding nothing; the update forms dx in its own pass where the adapter's
/// subgroups are one size, as lavapipe's are) and along the grid (256 and 12 columns: the
/// product is recorded first).
/// θ and state end to the bit as in the plain update on both backends. dx: on the twin, to
/// the bit as the product's (the twin records that product); on the GPU, within 4ε·Σ_j|dz·θ|
/// of the product's and of the twin's, element by element: the same terms summed in other
/// associations (the product adds four k at a time in order, the update per lane, then per
/// subgroup, then per row) differ by a few ε of their absolute sum. The worst measured was
/// 0.23 of that bound; a lost partial sum or θ read after the update misses it by 10^4.
#[test]
fn an_update_forming_the_input_gradient_ends_as_the_plain_update_and_the_product() {
    use UpdateRule::*;
    let fused_here = gpu().context().fixed_subgroup_size().is_some();
    let shapes = [(1, 20, 1024), (2, 9, 2048), (2, 7, 1920), (1, 300, 256), (2, 33, 12)];
    let mut both = Both::new();
    let mut worst = 0.0f32;
    for rule in [Sgd, Momentum, Nesterov, Adagrad, Rmsprop, Adam, Nadam] {
        let hyper = hyper_for(rule);
        for shape in shapes {
            for derivative in [None, Some(Activation::Relu), Some(Activation::Tanh)] {
                let what = format!("{rule:?} {shape:?} {derivative:?}");
                let [gpu_ends, cpu_ends] = both.each().map(|b| {
                    [update(b, rule, hyper, shape, derivative, true), update(b, rule, hyper, shape, derivative, false)]
                });
                for (name, [with, plain]) in [("gpu", &gpu_ends), ("cpu", &cpu_ends)] {
                    for (i, (a, p)) in with.update.iter().zip(&plain.update).enumerate() {
                        assert_eq!(bits(a), bits(p), "{name} {what}: tensor {i} (θ, then state)");
                    }
                }
                assert_eq!(bits(&cpu_ends[0].dx), bits(&cpu_ends[1].dx), "cpu {what}: dx");
                let by_rows = shape.2 >= 1024;
                match by_rows && fused_here {
                    true => assert!(gpu_ends[0].kernels.iter().any(|k| k.starts_with("optim_dx::input_gradient")), "{what}: {:?}", gpu_ends[0].kernels),
                    false => assert!(gpu_ends[0].kernels.iter().any(|k| k.starts_with("matmul::")), "{what}: {:?}", gpu_ends[0].kernels),
                }
                let bound = sum_bounds(shape);
                for (against, want) in [("the product", &gpu_ends[1].dx), ("the twin", &cpu_ends[1].dx)] {
                    for (e, ((g, w), s)) in gpu_ends[0].dx.iter().zip(want).zip(&bound).enumerate() {
                        let (err, tol) = ((g - w).abs(), 4.0 * f32::EPSILON * s);
                        assert!(err <= tol, "gpu {what}: dx[{e}] = {g} against {against}'s {w}: off by {err} > {tol}");
                        worst = worst.max(err / tol);
                    }
                }
            }
        }
    }
    eprintln!("worst dx difference: {worst:.3} of its tolerance");
}

/// For each element of dx = dz·θᵀ in `update`, Σ_j |dz[k, j]·θ[i, j]|: two f32 sums of the
/// same terms in different orders differ by a few ε of it (the derivatives here are at most 1).
fn sum_bounds((k, rows, cols): (usize, usize, usize)) -> Vec<f32> {
    let (dz, theta) = (uniform(2, k * cols), uniform(3, rows * cols));
    let mut out = Vec::with_capacity(k * rows);
    for kk in 0..k {
        for i in 0..rows {
            out.push((0..cols).map(|j| (dz[kk * cols + j] * theta[i * cols + j]).abs()).sum());
        }
    }
    out
}

/// A batch-1 and batch-2 epoch of momentum and of Adam on 300 → 256 → 1024 → 4: the second
/// weight matrix's update runs during the backward pass and forms the first layer's input
/// gradient (on lavapipe in its own pass), and the epoch ends near one that writes every
/// gradient: the two differ only in the order of dx's sums, a few ε of them, carried through
/// twelve steps at learning rate 0.01. Momentum is linear in the gradients: within 1e-6 plus
/// 1e-5 relative. Adam divides each gradient by its running magnitude, so where a gradient is
/// a near-cancelling sum its few-ε difference moves the step by a larger share: within 1e-4,
/// a hundredth of one step (Adam's steps are about the learning rate). Measured worst: 0.13
/// of the tolerance for momentum, 0.38 for Adam; a lost partial sum of dx moves weights by
/// orders more.
#[test]
fn steps_that_update_during_the_backward_pass_end_near_steps_that_write_every_gradient() {
    let mut g = gpu();
    let spec = wide_spec();
    for kind in [OptimizerKind::Momentum, OptimizerKind::Adam] {
        let mut worst = 0.0f32;
        for batch in [1, DEFERRABLE_ROWS] {
            let updating = train(&mut g, &spec, kind, batch, false, Precision::F32);
            let writing = train(&mut g, &spec, kind, batch, true, Precision::F32);
            assert_eq!(updating.deferred, [0, 2], "{kind:?} batch {batch}");
            assert_eq!(updating.applied, [2], "{kind:?} batch {batch}: the second matrix owes dx");
            for (i, (a, w)) in updating.ends.iter().zip(&writing.ends).enumerate() {
                let (atol, rtol) = match kind {
                    OptimizerKind::Adam => (1e-4, 0.0),
                    _ => (1e-6, 1e-5),
                };
                common::assert_close(&format!("{kind:?} batch {batch}: tensor {i}"), a, w, atol, rtol);
                let err = a.iter().zip(w).map(|(a, w)| (a - w).abs() / (atol + rtol * w.abs())).fold(0.0, f32::max);
                worst = worst.max(err);
            }
        }
        eprintln!("{kind:?}: worst {worst:.3} of the tolerance");
    }
}

/// Clipping by the norm of all gradients needs every gradient before any update: a backward
/// pass that would update during it is refused, naming the setting.
#[test]
fn clipping_by_norm_refuses_an_update_during_the_backward_pass() {
    let (mut g, mut model, mut opt, ws) = clipping_by_norm_after_forward();
    opt.prepare(&mut g).unwrap();
    let err = model.backward_updating(&mut g, ws, &mut opt).unwrap_err().to_string();
    assert!(err.contains("clip_norm") && err.contains("backward"), "{err}");
}
