//! Mixed precision (`Precision::F16`): f16 weight copies and hidden activations for the
//! products, f32 for everything that accumulates. Training steps against the CPU twin and
//! against f32, the refresh of the f16 copies, and the models it refuses.

mod common;

use common::training::{blobs, read_params};
use common::{assert_close, Both};
use wgtrain::nn::{LayerSpec, Mode, ModelSpec, Precision, Sequential};
use wgtrain::optim::{Optimizer, OptimizerConfig, OptimizerKind};
use wgtrain::train::{DeviceData, TrainConfig, Trainer};
use wgtrain::{Activation, Backend, CpuBackend, DType};

/// Dense(32, GELU: its derivative reads the kept pre-activation) → Dense(16, ReLU: reads the
/// output) → Linear(8) → Dense(4): every f16 tensor a model keeps.
fn spec() -> ModelSpec {
    let mut spec = ModelSpec::mlp(20, &[32, 16], 4, Activation::Gelu);
    spec.layers[1] = LayerSpec::dense(16, Activation::Relu);
    spec.layers.insert(2, LayerSpec::Linear { units: 8, init: wgtrain::nn::Initializer::GLOROT_UNIFORM });
    spec
}

/// Ten momentum steps of batch 32 from seed 11: the running loss after each, and the weights.
fn ten_steps(b: &mut dyn Backend, precision: Precision) -> (Vec<f32>, Vec<Vec<f32>>) {
    let data = blobs();
    let mut model = Sequential::with_precision(b, &spec(), 11, precision).unwrap();
    let mut opt = Optimizer::new(b, OptimizerConfig::new(OptimizerKind::Momentum).with_lr(0.05)).unwrap();
    opt.attach(b, model.params_mut()).unwrap();
    let mut trainer = Trainer::new(b, TrainConfig { batch_size: 32, ..TrainConfig::default() }).unwrap();
    let data = DeviceData::upload(b, &data).unwrap();
    b.write_u32(data.order, &wgtrain::train::epoch_order(7, 0, data.rows)).unwrap();
    b.fill(trainer.running_metrics_tensor(), 0.0).unwrap();
    let mut losses = Vec::new();
    for step in 0..10 {
        trainer.step(b, &mut model, &mut opt, &data, (step * 32) % 224, 32).unwrap();
        losses.push(trainer.running_metrics(b).unwrap().loss);
    }
    (losses, read_params(b, &model))
}

#[test]
fn f16_training_steps_agree_on_gpu_and_cpu_twin_and_stay_near_f32() {
    let mut both = Both::new();
    let [(_, gpu), (_, cpu)] = both.named();
    let (gpu_loss, gpu_params) = ten_steps(gpu, Precision::F16);
    let (cpu_loss, cpu_params) = ten_steps(cpu, Precision::F16);
    let (f32_loss, f32_params) = ten_steps(cpu, Precision::F32);
    // GPU and twin store the same f16 values but for the products' f32 rounding, which can
    // put a stored activation on the neighbouring f16 value: a 2⁻¹¹ relative step in a few
    // of them, which ten steps at lr 0.05 carry into the loss and weights. Bound: 10⁻³
    // relative on the running loss, 10⁻³ + 10⁻³·|θ| on θ (ten times the f32 parity test's,
    // tests/train.rs, for an error source about 2¹² times f32's, in a few values).
    let worst =
        |x: &[Vec<f32>], y: &[Vec<f32>]| x.iter().zip(y).map(|(a, b)| common::max_abs_error(a, b)).fold(0.0, f32::max);
    eprintln!(
        "largest differences: gpu/cpu loss {:.2e}, θ {:.2e}; f16/f32 loss {:.2e}, θ {:.2e}",
        common::max_abs_error(&gpu_loss, &cpu_loss),
        worst(&gpu_params, &cpu_params),
        common::max_abs_error(&gpu_loss, &f32_loss),
        worst(&gpu_params, &f32_params)
    );
    assert_close("running loss per step, f16", &gpu_loss, &cpu_loss, 1e-4, 1e-3);
    for (i, (g, c)) in gpu_params.iter().zip(&cpu_params).enumerate() {
        assert_close(&format!("parameter {i}, f16"), g, c, 1e-3, 1e-3);
    }
    // Against f32: f16 storage is a change (the weights differ after ten steps) and a small
    // one (within 2% of the loss, 10⁻² on a weight: f16 keeps 11 significant bits).
    let moved = gpu_params.iter().zip(&f32_params).any(|(h, f)| h.iter().zip(f).any(|(a, b)| a != b));
    assert!(moved, "the f16 model trained exactly as the f32 one: were the f16 copies used?");
    assert_close("running loss per step, f16 against f32", &gpu_loss, &f32_loss, 1e-3, 2e-2);
    for (i, (h, f)) in gpu_params.iter().zip(&f32_params).enumerate() {
        assert_close(&format!("parameter {i}, f16 against f32"), h, f, 1e-2, 1e-2);
    }
}

#[test]
fn an_f16_model_stores_its_hidden_activations_and_weight_copies_in_f16() {
    let mut both = Both::new();
    for (name, b) in both.named() {
        let mut model = Sequential::with_precision(b, &spec(), 3, Precision::F16).unwrap();
        assert_eq!(model.precision(), Precision::F16);
        let ws = model.workspace(b, 5).unwrap();
        let hidden = model.hidden_outputs(ws);
        assert_eq!(hidden.len(), 3, "{name}");
        assert!(hidden.iter().all(|t| t.dtype == DType::F16), "{name}: {hidden:?}");
        let logits = model.forward(b, ws, Mode::Eval).unwrap();
        assert_eq!(logits.dtype, DType::F32, "{name}: the logits stay f32");
        // Every weight matrix has an f16 copy holding its values rounded; biases have none.
        for p in model.params().iter() {
            match p.half {
                Some(h) => {
                    assert!(p.penalized && h.dtype == DType::F16, "{name}: {}", p.name);
                    let want: Vec<f32> =
                        b.read(p.value).unwrap().iter().map(|&v| wgtrain::tensor::round_f16(v)).collect();
                    assert_eq!(b.read(h).unwrap(), want, "{name}: {}", p.name);
                }
                None => assert!(!p.penalized, "{name}: {} has no f16 copy", p.name),
            }
        }
    }
}

/// Weights written from outside a step reach the f16 copies at the next forward pass once the
/// model is told (`weights_changed`, as restoring a checkpoint does): the logits are then those
/// of an f32 model with the same weights, to f16's precision.
#[test]
fn written_weights_reach_the_f16_copies_before_the_next_forward_pass() {
    let mut both = Both::new();
    for (name, b) in both.named() {
        let mut half = Sequential::with_precision(b, &spec(), 3, Precision::F16).unwrap();
        let mut full = Sequential::new(b, &spec(), 4).unwrap();
        let ws_half = half.workspace(b, 6).unwrap();
        let ws_full = full.workspace(b, 6).unwrap();
        let x = common::uniform(9, 6 * 20);
        b.write(half.ws(ws_half).input, &x).unwrap();
        b.write(full.ws(ws_full).input, &x).unwrap();
        let before = half.forward(b, ws_half, Mode::Eval).unwrap();
        let before = b.read(before).unwrap();
        // The f32 model's (other) weights into the f16 one.
        for (p, q) in half.params().iter().zip(full.params().iter()) {
            let values = b.read(q.value).unwrap();
            b.write(p.value, &values).unwrap();
        }
        half.weights_changed();
        let got = half.forward(b, ws_half, Mode::Eval).unwrap();
        let got = b.read(got).unwrap();
        let want = full.forward(b, ws_full, Mode::Eval).unwrap();
        let want = b.read(want).unwrap();
        assert!(got != before, "{name}: the logits did not change with the weights");
        // Weights and activations rounded to f16 (2⁻¹¹ relative each) through four layers of
        // at most 32 inputs: within 1% and 10⁻² of the f32 logits (which are O(1)).
        assert_close(&format!("{name}: logits after new weights"), &got, &want, 1e-2, 1e-2);
    }
}

#[test]
fn f16_refuses_layers_it_cannot_store_naming_the_layer_and_the_way_out() {
    let mut cpu = CpuBackend::new();
    let refused = [
        (LayerSpec::Dropout { rate: 0.2 }, "a Dropout layer"),
        (LayerSpec::batch_norm(), "a BatchNorm layer"),
        (LayerSpec::dense(16, Activation::Prelu), "prelu"),
        (LayerSpec::Activation { activation: Activation::Relu }, "standalone"),
    ];
    for (layer, what) in refused {
        let mut spec = spec();
        spec.layers.insert(1, layer);
        let err = Sequential::with_precision(&mut cpu, &spec, 1, Precision::F16).err().expect("refused").to_string();
        assert!(err.contains("layer 2 of 5") && err.contains(what) && err.contains("--precision f32"), "{err}");
        assert!(Sequential::with_precision(&mut cpu, &spec, 1, Precision::F32).is_ok());
    }
}

/// Through the command line: `--precision f16` is saved with the run and kept by `--resume`,
/// which continues a mixed-precision run to the weights an uninterrupted one reaches, bit for
/// bit; a model it cannot store is refused before any data is read.
#[test]
fn train_precision_f16_is_saved_resumed_exactly_and_refused_for_dropout() {
    use common::cli::{tempdir, text, wgtrain};
    let root = tempdir("precision");
    let run = |out: &std::path::Path, epochs: &str, resume: bool| {
        let out = out.to_str().unwrap();
        let args: Vec<&str> = if resume {
            vec!["train", "--resume", out, "--epochs", epochs]
        } else {
            vec![
                "train",
                "--dataset",
                "spirals",
                "--layers",
                "32,32",
                "--precision",
                "f16",
                "--epochs",
                epochs,
                "--output",
                out,
            ]
        };
        let ran = wgtrain(&args);
        assert!(ran.status.success(), "{args:?}: {}", text(&ran).1);
    };
    let (whole, parts) = (root.join("whole"), root.join("parts"));
    run(&whole, "3", false);
    run(&parts, "2", false);
    run(&parts, "3", true);
    let config = std::fs::read_to_string(parts.join("config.toml")).unwrap();
    assert!(config.contains("precision = \"f16\""), "{config}");
    // The tensors, not the file: its metadata holds each run's own history.
    let weights = |dir: &std::path::Path| {
        let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
        let parsed = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut out: Vec<(String, Vec<u8>)> = parsed.iter().map(|(n, v)| (n.to_string(), v.data().to_vec())).collect();
        out.sort();
        out
    };
    assert!(weights(&whole) == weights(&parts), "2 epochs + 1 resumed differ from 3 in f16");
    let refused = wgtrain(&[
        "train",
        "--dataset",
        "spirals",
        "--precision",
        "f16",
        "--dropout",
        "0.2",
        "--output",
        root.join("no").to_str().unwrap(),
    ]);
    let err = text(&refused).1;
    assert!(!refused.status.success() && err.contains("Dropout") && err.contains("--precision f32"), "{err}");
}
