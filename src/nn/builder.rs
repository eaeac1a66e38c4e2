//! A model builder: a Sequential classifier in a few readable lines.
//!
//! ```
//! use wgtrain::nn::{Initializer, ModelSpec};
//! use wgtrain::Activation;
//!
//! // The deep-net exercise: 20 hidden layers of 100 SELU units, LeCun init, alpha dropout.
//! let spec = ModelSpec::builder(784)
//!     .init(Initializer::LECUN_NORMAL)
//!     .repeat(20, |b| b.dense(100, Activation::Selu))
//!     .alpha_dropout(0.1)
//!     .classes(10)
//!     .unwrap();
//! assert_eq!(spec.layers.len(), 22);
//! ```

use super::init::Initializer;
use super::spec::{LayerSpec, ModelSpec};
use crate::backend::{Activation, Loss};
use crate::error::Result;

/// Where a Dense layer's batch normalization goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchNormAt {
    /// x·W + b → BN → activation (Ioffe & Szegedy's placement).
    BeforeActivation,
    /// x·W + b → activation → BN.
    AfterActivation,
}

/// Builds a `ModelSpec` layer by layer. Dense layers take the builder's current initializer
/// and bias (He-normal and 0 unless set), as the command line does.
#[derive(Debug, Clone)]
pub struct ModelBuilder {
    inputs: usize,
    layers: Vec<LayerSpec>,
    init: Initializer,
    bias: f32,
}

impl ModelSpec {
    /// Start a model taking `inputs` features.
    pub fn builder(inputs: usize) -> ModelBuilder {
        ModelBuilder { inputs, layers: Vec::new(), init: Initializer::HE_NORMAL, bias: 0.0 }
    }
}

impl ModelBuilder {
    /// The initializer of the Dense layers added from here on.
    pub fn init(mut self, init: Initializer) -> Self {
        self.init = init;
        self
    }

    /// The initial bias of the Dense layers added from here on.
    pub fn bias(mut self, bias: f32) -> Self {
        self.bias = bias;
        self
    }

    /// `units` units with `activation` fused into the product.
    pub fn dense(mut self, units: usize, activation: Activation) -> Self {
        self.layers.push(LayerSpec::Dense { units, activation, init: self.init, bias: self.bias });
        self
    }

    /// A Dense layer with batch normalization before or after its activation.
    pub fn dense_bn(self, units: usize, activation: Activation, at: BatchNormAt) -> Self {
        match at {
            BatchNormAt::AfterActivation => self.dense(units, activation).batch_norm(),
            BatchNormAt::BeforeActivation => self.dense(units, Activation::Identity).batch_norm().activation(activation),
        }
    }

    pub fn activation(mut self, activation: Activation) -> Self {
        self.layers.push(LayerSpec::Activation { activation });
        self
    }

    pub fn batch_norm(mut self) -> Self {
        self.layers.push(LayerSpec::batch_norm());
        self
    }

    /// Inverted dropout of `rate` (a rate of 0 adds nothing).
    pub fn dropout(mut self, rate: f32) -> Self {
        if rate != 0.0 {
            self.layers.push(LayerSpec::Dropout { rate });
        }
        self
    }

    /// Alpha dropout of `rate`, for SELU networks (a rate of 0 adds nothing).
    pub fn alpha_dropout(mut self, rate: f32) -> Self {
        if rate != 0.0 {
            self.layers.push(LayerSpec::AlphaDropout { rate });
        }
        self
    }

    /// Apply `block` `times` times: `repeat(20, |b| b.dense(100, Activation::elu()))`.
    pub fn repeat(self, times: usize, block: impl Fn(Self) -> Self) -> Self {
        (0..times).fold(self, |b, _| block(b))
    }

    /// Finish with `classes` logits for softmax cross-entropy (Glorot-uniform weights, or
    /// the same value everywhere when the builder's initializer is `SameValue`), checked.
    pub fn classes(mut self, classes: usize) -> Result<ModelSpec> {
        let init = if self.init == Initializer::SameValue { self.init } else { Initializer::GLOROT_UNIFORM };
        self.layers.push(LayerSpec::Dense { units: classes, activation: Activation::Identity, init, bias: self.bias });
        let spec = ModelSpec { inputs: self.inputs, layers: self.layers, loss: Loss::SoftmaxCrossEntropy };
        super::model::validate(&spec)?;
        Ok(spec)
    }
}
