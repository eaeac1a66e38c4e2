//! A layer kind added from outside the library, through the `LayerKind` and `Layer` traits
//! alone: `scale`, y = c·x (dx = c·dy), registered by name and named in a spec as
//! `LayerSpec::Custom`. It builds, trains, summarizes and round-trips a checkpoint like a
//! built-in kind, on the GPU and on the CPU twin.

mod common;

use wgtrain::data::{Dataset, DeviceData, Features};
use wgtrain::nn::{
    register_layer, Backward, Build, Forward, Layer, LayerKind, LayerSpec, LayerSummary, ModelSpec, Sequential,
};
use wgtrain::optim::{Optimizer, OptimizerConfig, OptimizerKind};
use wgtrain::tensor::Tensor;
use wgtrain::train::{checkpoint, TrainConfig, Trainer};
use wgtrain::{Activation, Backend};

struct ScaleKind {
    by: f32,
}

impl LayerKind for ScaleKind {
    fn units(&self, inputs: usize) -> usize {
        inputs
    }
    fn problem(&self) -> Option<String> {
        (!self.by.is_finite()).then(|| format!("scale factor {} is not finite", self.by))
    }
    fn summary(&self, _inputs: usize) -> LayerSummary {
        LayerSummary { kind: format!("Scale (×{})", self.by), params: 0, weights: 0, rank: None }
    }
    fn build(&self, _ctx: &mut Build, inputs: usize) -> wgtrain::Result<Box<dyn Layer>> {
        Ok(Box::new(Scale { by: self.by, units: inputs }))
    }
}

struct Scale {
    by: f32,
    units: usize,
}

impl Layer for Scale {
    fn units(&self) -> usize {
        self.units
    }
    fn forward(&self, b: &mut dyn Backend, io: Forward) -> wgtrain::Result<Tensor> {
        b.scale(io.x, io.y, self.by)?;
        Ok(io.y)
    }
    fn backward(&self, b: &mut dyn Backend, io: Backward) -> wgtrain::Result<bool> {
        if !io.first {
            b.scale(io.dy, io.dx, self.by)?;
        }
        Ok(false)
    }
}

fn register() {
    register_layer("scale", |settings| {
        let by = settings["by"].as_f64().ok_or_else(|| wgtrain::Error::config("scale", "needs a number `by`"))?;
        Ok(Box::new(ScaleKind { by: by as f32 }))
    });
}

fn dense(units: usize, activation: Activation) -> LayerSpec {
    LayerSpec::dense(units, activation)
}

/// 12 → tanh 8 → [×2] → 3 logits, or the same without the scale layer.
fn spec(with_scale: bool) -> ModelSpec {
    let mut layers = vec![dense(8, Activation::Tanh)];
    if with_scale {
        layers.push(LayerSpec::Custom { kind: "scale".into(), settings: serde_json::json!({ "by": 2.0 }) });
    }
    layers.push(LayerSpec::Dense {
        units: 3,
        activation: Activation::Identity,
        init: wgtrain::nn::Initializer::GLOROT_UNIFORM,
        bias: 0.0,
    });
    ModelSpec { inputs: 12, layers, loss: wgtrain::Loss::SoftmaxCrossEntropy }
}

fn data(rows: usize) -> Dataset {
    let x = common::uniform(5, rows * 12);
    let labels = (0..rows as u32).map(|r| r % 3).collect();
    Dataset::new("toy", Features::F32(x), labels, 12).unwrap()
}

/// One SGD step over all 20 rows; the model's tensors before and after, by name.
fn one_step(b: &mut dyn Backend, model: &mut Sequential) -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let read = |b: &mut dyn Backend, m: &Sequential| -> Vec<Vec<f32>> {
        m.params().iter().map(|p| b.read(p.value).unwrap()).collect()
    };
    let before = read(b, model);
    let device = DeviceData::upload(b, &data(20)).unwrap();
    let mut opt = Optimizer::new(b, OptimizerConfig::new(OptimizerKind::Sgd).with_lr(0.1)).unwrap();
    let config = TrainConfig { epochs: 1, batch_size: 20, ..TrainConfig::default() };
    let mut trainer = Trainer::new(b, config).unwrap();
    trainer.fit(b, model, &mut opt, &device, None, &mut []).unwrap();
    (before, read(b, model))
}

#[test]
fn a_registered_layer_kind_trains_through_the_traits_alone() {
    register();
    let mut both = common::Both::new();
    for (name, b) in both.named() {
        // Same seed, same draws (the scale layer draws nothing): the plain model's last weights
        // doubled make it the same function, exactly (doubling is exact in floating point).
        let mut scaled = Sequential::new(b, &spec(true), 3).unwrap();
        let mut plain = Sequential::new(b, &spec(false), 3).unwrap();
        let w2 = plain.params()[2].value;
        let doubled: Vec<f32> = b.read(w2).unwrap().iter().map(|v| 2.0 * v).collect();
        b.write(w2, &doubled).unwrap();
        let (scaled_before, scaled_after) = one_step(b, &mut scaled);
        let (plain_before, plain_after) = one_step(b, &mut plain);
        // The first layer saw the same gradient through the scale layer's backward, so its
        // weights and bias moved alike. Not bit for bit: the plain model folds tanh's
        // derivative into the product's epilogue, the scaled one runs it as its own kernel
        // (the same formula, which a compiler may contract into an FMA in one and not the
        // other): a few ulps of a step of 0.1 × O(1) gradients, so 1e-6 absolute.
        for k in 0..2 {
            assert_eq!(scaled_before[k], plain_before[k], "{name}: tensor {k} before the step");
            common::assert_close(
                &format!("{name}: tensor {k} after the step"),
                &scaled_after[k],
                &plain_after[k],
                1e-6,
                1e-5,
            );
        }
        // The last layer's weight gradient is xᵀ·dz with x twice as large: twice the step.
        let step = |b: &[f32], a: &[f32]| b.iter().zip(a).map(|(b, a)| b - a).collect::<Vec<f32>>();
        let scaled_step = step(&scaled_before[2], &scaled_after[2]);
        let plain_step: Vec<f32> = step(&plain_before[2], &plain_after[2]).iter().map(|s| 2.0 * s).collect();
        // Differences of weights near 1 lose the low bits of a 1e-2 step: 1e-5 absolute.
        common::assert_close(&format!("{name}: last layer's step"), &scaled_step, &plain_step, 1e-5, 1e-3);
        assert!(scaled_step.iter().any(|s| s.abs() > 1e-4), "{name}: the last layer did not train");
    }
}

#[test]
fn a_registered_layer_kind_is_summarized_checked_and_saved_like_a_built_in_one() {
    register();
    let summary = wgtrain::run::Summary::of_spec(&spec(true));
    assert_eq!(summary.layers[1].kind, "Scale (×2)");
    assert_eq!(summary.layers[1].units, 8);
    assert_eq!(summary.params, 12 * 8 + 8 + 8 * 3 + 3);

    let mut bad = spec(true);
    bad.layers[1] = LayerSpec::Custom { kind: "scale".into(), settings: serde_json::json!({ "by": f64::NAN }) };
    let err = wgtrain::nn::validate(&bad).unwrap_err().to_string();
    assert!(err.contains("layer 2 of 3") && err.contains("needs a number"), "{err}");
    let mut unknown = spec(true);
    unknown.layers[1] = LayerSpec::Custom { kind: "shear".into(), settings: serde_json::Value::Null };
    let err = wgtrain::nn::validate(&unknown).unwrap_err().to_string();
    assert!(err.contains("no layer kind \"shear\" is registered") && err.contains("scale"), "{err}");

    let mut b = wgtrain::CpuBackend::new();
    let model = Sequential::new(&mut b, &spec(true), 9).unwrap();
    let dir = std::env::temp_dir().join(format!("wgtrain-custom-layer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    checkpoint::save(&path, &mut b, &model, None, None).unwrap();
    let loaded = checkpoint::load(&path).unwrap();
    assert_eq!(loaded.meta.model, spec(true), "the custom layer's spec round-trips");
    let back = loaded.build_model(&mut b).unwrap();
    for (p, q) in model.params().iter().zip(back.params().iter()) {
        assert_eq!(b.read(p.value).unwrap(), b.read(q.value).unwrap(), "{}", p.name);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
