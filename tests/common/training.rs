//! A small model with every layer kind, its data, and a model, optimizer and trainer set up
//! on a backend: what the training and checkpoint tests share.

use wgtrain::data::{sources, Dataset};
use wgtrain::nn::{Initializer, LayerSpec, ModelSpec, Sequential};
use wgtrain::optim::{Optimizer, OptimizerConfig, OptimizerKind};
use wgtrain::train::{DeviceData, TrainConfig, Trainer};
use wgtrain::{Activation, Backend, Loss};

pub fn blobs() -> Dataset {
    sources::blobs(60, 4, 20, 1.5, 3)
}

/// Dense(32, relu) → BatchNorm → Dropout(0.2) → Dense(16, tanh) → Dense(4).
pub fn mlp_with_everything() -> ModelSpec {
    ModelSpec {
        inputs: 20,
        layers: vec![
            LayerSpec::dense(32, Activation::Relu),
            LayerSpec::batch_norm(),
            LayerSpec::Dropout { rate: 0.2 },
            LayerSpec::dense(16, Activation::Tanh),
            LayerSpec::Dense {
                units: 4,
                activation: Activation::Identity,
                init: Initializer::GLOROT_UNIFORM,
                bias: 0.0,
            },
        ],
        loss: Loss::SoftmaxCrossEntropy,
    }
}

pub struct Run {
    pub model: Sequential,
    pub opt: Optimizer,
    pub trainer: Trainer,
    pub data: DeviceData,
}

pub fn setup(b: &mut dyn Backend, spec: &ModelSpec, data: &Dataset, config: TrainConfig) -> Run {
    let mut model = Sequential::new(b, spec, 11).unwrap();
    let opt = Optimizer::new(b, OptimizerConfig::new(OptimizerKind::Momentum).with_lr(0.05)).unwrap();
    opt.attach(b, model.params_mut()).unwrap();
    let trainer = Trainer::new(b, config).unwrap();
    let data = DeviceData::upload(b, data).unwrap();
    Run { model, opt, trainer, data }
}

pub fn read_params(b: &mut dyn Backend, model: &Sequential) -> Vec<Vec<f32>> {
    model.named_tensors().iter().map(|(_, t)| b.read(*t).unwrap()).collect()
}
