//! The model's backward pass against central differences of its loss: every parameter
//! tensor of a Sequential model with Dense, ELU, BatchNorm, Dropout and PReLU layers, on the
//! CPU twin. Each op's backward is checked on its own elsewhere; this checks how the model
//! wires them (transposes, which tensor feeds which gradient). A second model chains Dense
//! layers directly, so the backward fuses each activation's derivative into the next
//! layer's input-gradient product, read at the output (tanh) and at the pre-activation
//! (GELU); a third trains one-vs-rest sigmoid outputs against f32 targets.

use wgtrain::backend::stat;
use wgtrain::nn::{Initializer, LayerSpec, Mode, ModelSpec, Sequential};
use wgtrain::{Activation, Backend, CpuBackend, Loss, StepCounters};

#[test]
fn every_parameter_gradient_matches_central_differences_of_the_loss() {
    let spec = ModelSpec {
        inputs: 4,
        layers: vec![
            LayerSpec::Dense { units: 6, activation: Activation::elu(), init: Initializer::GLOROT_NORMAL, bias: 0.1 },
            LayerSpec::batch_norm(),
            LayerSpec::Dropout { rate: 0.3 },
            LayerSpec::Dense { units: 5, activation: Activation::Prelu, init: Initializer::GLOROT_NORMAL, bias: 0.0 },
            LayerSpec::Dense {
                units: 3,
                activation: Activation::Identity,
                init: Initializer::GLOROT_NORMAL,
                bias: 0.0,
            },
        ],
        loss: Loss::SoftmaxCrossEntropy,
    };
    check(&spec, Loss::SoftmaxCrossEntropy);
}

#[test]
fn fused_activation_derivatives_match_central_differences() {
    let dense = |units, activation| LayerSpec::Dense { units, activation, init: Initializer::GLOROT_NORMAL, bias: 0.1 };
    let spec = ModelSpec {
        inputs: 4,
        layers: vec![dense(6, Activation::Tanh), dense(5, Activation::Gelu), dense(5, Activation::elu()), dense(3, Activation::Identity)],
        loss: Loss::SoftmaxCrossEntropy,
    };
    check(&spec, Loss::SoftmaxCrossEntropy);
}

#[test]
fn sigmoid_cross_entropy_gradients_match_central_differences() {
    let dense = |units, activation| LayerSpec::Dense { units, activation, init: Initializer::GLOROT_NORMAL, bias: 0.0 };
    let spec = ModelSpec {
        inputs: 4,
        layers: vec![dense(6, Activation::Tanh), dense(3, Activation::Identity)],
        loss: Loss::SigmoidBinaryCrossEntropy,
    };
    check(&spec, Loss::SigmoidBinaryCrossEntropy);
}

/// Every parameter's backward gradient against central differences of the loss, on 7 rows of
/// 4 inputs with labels r mod 3 (one-hot targets for sigmoid cross-entropy).
fn check(spec: &ModelSpec, kind: Loss) {
    let (rows, inputs) = (7, 4);

    let mut b = CpuBackend::new();
    let mut model = Sequential::new(&mut b, spec, 3).unwrap();
    let ws = model.workspace(&mut b, rows).unwrap();
    let (input, labels, dlogits) = (model.ws(ws).input, model.ws(ws).labels, model.ws(ws).dlogits);
    let classes = spec.outputs();
    let label = |r: usize| r % 3;
    let targets = model.ws(ws).targets;
    if let Some(t) = targets {
        let one_hot: Vec<f32> = (0..rows * classes).map(|i| (i % classes == label(i / classes)) as u8 as f32).collect();
        b.write(t, &one_hot).unwrap();
    }
    let x: Vec<f32> = (0..rows * inputs).map(|i| ((i * 37 % 17) as f32 / 8.0) - 1.0).collect();
    b.write(input, &x).unwrap();
    b.write_u32(labels, &(0..rows).map(|r| label(r) as u32).collect::<Vec<_>>()).unwrap();
    // A fixed step fixes the dropout mask, so the loss is a smooth function of the weights.
    b.begin_step(StepCounters { step: 5, batch_offset: 0, row_base: 0 }).unwrap();
    let stats = b.zeros(1, 4).unwrap();
    let loss = |b: &mut CpuBackend, model: &mut Sequential| -> f64 {
        let logits = model.forward(b, ws, Mode::Train).unwrap();
        b.fill(stats, 0.0).unwrap();
        b.loss(kind, logits, targets.unwrap_or(labels), dlogits, stats, 1.0 / rows as f32).unwrap();
        let s = b.read(stats).unwrap();
        s[stat::LOSS_SUM] as f64 / rows as f64
    };
    loss(&mut b, &mut model);
    model.backward(&mut b, ws).unwrap();
    let params: Vec<_> = model.params().to_vec();
    let mut checked = 0;
    for p in &params {
        let grad = b.read(p.grad).unwrap();
        let value = b.read(p.value).unwrap();
        for j in (0..value.len()).step_by(value.len().div_ceil(6)) {
            let h = 1e-2f32;
            let mut v = value.clone();
            v[j] = value[j] + h;
            b.write(p.value, &v).unwrap();
            let up = loss(&mut b, &mut model);
            v[j] = value[j] - h;
            b.write(p.value, &v).unwrap();
            let down = loss(&mut b, &mut model);
            b.write(p.value, &value).unwrap();
            let fd = (up - down) / (2.0 * h as f64);
            // The loss is evaluated in f32 (error ~1e-7 of ~1.1, over 2h = 0.02: ~1e-5) and the
            // central difference truncates at O(h²·f''') ~1e-4; a wiring error is O(gradient).
            let tol = 5e-4 + 2e-2 * fd.abs();
            assert!(
                (grad[j] as f64 - fd).abs() <= tol,
                "{}[{j}]: backward {} vs central difference {fd}",
                p.name,
                grad[j]
            );
            checked += 1;
        }
    }
    // Up to six entries of every tensor (all of the smaller ones).
    let expected: usize = params.iter().map(|p| p.value.len().div_ceil(p.value.len().div_ceil(6))).sum();
    assert!(checked == expected && checked >= 3 * params.len(), "checked {checked} entries of {expected}");
}
