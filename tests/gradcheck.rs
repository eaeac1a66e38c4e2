//! The model's backward pass against central differences of its loss: every parameter
//! tensor of a Sequential model with Dense, ELU, BatchNorm, Dropout and PReLU layers, on the
//! CPU twin. Each op's backward is checked on its own elsewhere; this checks how the model
//! wires them (transposes, which tensor feeds which gradient).

use wgtrain::backend::stat;
use wgtrain::nn::{Initializer, LayerSpec, Mode, ModelSpec, Sequential};
use wgtrain::{Activation, Backend, CpuBackend, Loss, StepCounters};

#[test]
fn every_parameter_gradient_matches_central_differences_of_the_loss() {
    let (rows, inputs) = (7, 4);
    let spec = ModelSpec {
        inputs,
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
    let mut b = CpuBackend::new();
    let mut model = Sequential::new(&mut b, &spec, 3).unwrap();
    let ws = model.workspace(&mut b, rows).unwrap();
    let (input, labels, dlogits) = (model.ws(ws).input, model.ws(ws).labels, model.ws(ws).dlogits);
    let x: Vec<f32> = (0..rows * inputs).map(|i| ((i * 37 % 17) as f32 / 8.0) - 1.0).collect();
    b.write(input, &x).unwrap();
    b.write_u32(labels, &(0..rows as u32).map(|r| r % 3).collect::<Vec<_>>()).unwrap();
    // A fixed step fixes the dropout mask, so the loss is a smooth function of the weights.
    b.begin_step(StepCounters { step: 5, batch_offset: 0 }).unwrap();
    let stats = b.zeros(1, 4).unwrap();
    let loss = |b: &mut CpuBackend, model: &mut Sequential| -> f64 {
        let logits = model.forward(b, ws, Mode::Train).unwrap();
        b.fill(stats, 0.0).unwrap();
        b.loss(Loss::SoftmaxCrossEntropy, logits, labels, dlogits, stats, 1.0 / rows as f32).unwrap();
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
    assert!(checked >= 6 * params.len() - 6, "checked {checked} entries");
}
