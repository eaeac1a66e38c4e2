//! What a kind of layer is, in two halves: `LayerKind`, the spec side (width, parameters,
//! checks, summary line, checkpoint shapes; no device), and `Layer`, the built side (forward
//! and backward recorded against the op set, workspace needs). `Sequential` knows layers only
//! through these traits.
//!
//! The built-in kinds are `LayerSpec`'s variants (`nn::layers`). Other kinds are registered by
//! name (`register_layer`) and named in a spec by `LayerSpec::Custom`, so a checkpoint carries
//! them like any other layer.

use std::sync::{Arc, RwLock};

use super::params::{Deferred, ParamInit, ParamSet};
use super::Mode;
use crate::backend::{Activation, Backend, InputGradient, Noise};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// One line of a model summary.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSummary {
    /// "Dense (elu)", "Dropout (0.2)".
    pub kind: String,
    /// Trainable values.
    pub params: usize,
    /// Entries of the layer's weight matrix (the ones pruning counts), 0 where it has none.
    pub weights: usize,
    /// The rank of a factor of a factorized Dense layer.
    pub rank: Option<usize>,
}

/// A kind of layer as a spec names it.
pub trait LayerKind: Send + Sync {
    /// The output width for `inputs` input features.
    fn units(&self, inputs: usize) -> usize;
    /// The problem with the settings, in words that name the value; None where they are fine.
    fn problem(&self) -> Option<String> {
        None
    }
    /// The layer's line in a model summary, for `inputs` input features.
    fn summary(&self, inputs: usize) -> LayerSummary;
    /// The weight matrix (IN, OUT) that pruning, factorization and the size limits see.
    fn weights(&self, _inputs: usize) -> Option<(usize, usize)> {
        None
    }
    /// Build the layer on the device: parameters and buffers through `ctx`.
    fn build(&self, ctx: &mut Build, inputs: usize) -> Result<Box<dyn Layer>>;
}

/// What building a layer has at hand: its place in the model, the weights' random source,
/// and where parameters and non-trained buffers are declared.
pub struct Build<'a> {
    pub b: &'a mut dyn Backend,
    /// The layer's index in the spec, from 0 (parameter names are `layers.{index}.NAME`).
    pub index: usize,
    /// Philox key of the layer's masks (dropout, RReLU): one stream per layer.
    pub noise: Noise,
    pub rng: &'a mut rand::rngs::StdRng,
    /// Store the layer's output and kept pre-activation in f16 (a hidden layer of a model in
    /// `Precision::F16`; the model allocates the output, the layer its workspace).
    pub half: bool,
    pub(super) params: &'a mut Vec<ParamInit>,
    pub(super) buffers: &'a mut Vec<(String, Tensor)>,
}

impl Build<'_> {
    /// Declare parameter `layers.{index}.{name}` with initial `values` (rows × cols); its index
    /// in the model's `ParamSet`. `penalized`: ℓ1/ℓ2 apply (weight matrices).
    pub fn param(&mut self, name: &str, rows: usize, cols: usize, values: Vec<f32>, penalized: bool) -> usize {
        let name = format!("layers.{}.{name}", self.index);
        self.params.push(ParamInit { name, rows, cols, values, penalized });
        self.params.len() - 1
    }

    /// Declare non-trained state saved in checkpoints (`layers.{index}.{name}`).
    pub fn buffer(&mut self, name: &str, rows: usize, cols: usize, values: &[f32]) -> Result<Tensor> {
        let t = self.b.upload(rows, cols, values)?;
        self.buffers.push((format!("layers.{}.{name}", self.index), t));
        Ok(t)
    }
}

/// The other replicas of a data-parallel step, as a layer that computes statistics over the
/// whole batch sees them (synchronized batch norm): every replica holds a slice of the batch
/// and makes the same calls in the same order.
pub trait CrossReplica {
    /// Replace `data` by its sum over every replica.
    fn sum(&mut self, data: &mut [f32]) -> Result<()>;
    /// The whole batch's rows, over every replica.
    fn rows(&self) -> usize;
}

/// A forward pass through one layer.
pub struct Forward<'a> {
    pub x: Tensor,
    /// (rows, units): the layer's output buffer.
    pub y: Tensor,
    /// The layer's own workspace tensors (`Layer::workspace`).
    pub extra: &'a [Tensor],
    pub params: &'a ParamSet,
    pub mode: Mode,
    /// The replicas sharing the batch, where batch statistics are taken over all of them.
    pub across: Option<&'a mut dyn CrossReplica>,
}

/// A backward pass through one layer.
pub struct Backward<'a> {
    /// The layer's input and output in the forward pass.
    pub x: Tensor,
    pub y: Tensor,
    /// The gradient of the loss with respect to the output: or, where `dy_is_dz`, with
    /// respect to the pre-activation (the next layer fused this layer's derivative in).
    pub dy: Tensor,
    pub dy_is_dz: bool,
    /// Where the input gradient goes.
    pub dx: Tensor,
    /// The first layer: nothing reads its input gradient, so layers may skip writing it.
    pub first: bool,
    /// The previous layer's activation derivative, which this layer may fold into the
    /// product that writes `dx` (`Layer::fusable_derivative`).
    pub previous: Option<(Activation, Tensor)>,
    pub extra: &'a [Tensor],
    pub params: &'a ParamSet,
    /// As in `Forward`.
    pub across: Option<&'a mut dyn CrossReplica>,
    /// Where the update comes right after this pass (`Trainer::step`): a layer may leave the
    /// gradient of a parameter the set calls deferrable (`ParamSet::deferrable`) as its factors
    /// here instead of writing it, in a batch of at most `DEFERRABLE_ROWS` rows.
    pub deferred: Option<&'a mut Vec<Deferred>>,
    /// With `deferred`: what records a deferred parameter's update at once, forming the
    /// layer's input gradient from the parameter before it changes, so that the two passes
    /// over it are one (`Sequential::backward_updating`).
    pub update_now: Option<&'a mut dyn UpdateNow>,
}

/// Records the update of a parameter whose gradient a layer left as factors during the
/// backward pass, writing the layer's input gradient on the way (`Gradient::Outer` with an
/// `InputGradient`). The optimizer implements it.
pub trait UpdateNow {
    fn update_now(&mut self, b: &mut dyn Backend, params: &ParamSet, d: Deferred, input: InputGradient) -> Result<()>;
}

/// A layer built on a backend.
pub trait Layer: Send + Sync {
    /// The output width.
    fn units(&self) -> usize;
    /// The extra tensors a batch of `rows` needs besides the output and the input gradient.
    fn workspace(&self, _b: &mut dyn Backend, _rows: usize) -> Result<Vec<Tensor>> {
        Ok(Vec::new())
    }
    /// Record the forward pass; the tensor holding the output (`y`, or `x` passed on).
    fn forward(&self, b: &mut dyn Backend, io: Forward) -> Result<Tensor>;
    /// Record the backward pass: parameter gradients, and `dx` unless `first`. True when `dx`
    /// holds the previous layer's pre-activation gradient (its derivative fused in).
    fn backward(&self, b: &mut dyn Backend, io: Backward) -> Result<bool>;
    /// The activation whose derivative the next layer may apply while it writes this layer's
    /// output gradient, and the tensor it reads (`extra` is this layer's workspace).
    fn fusable_derivative(&self, _y: Tensor, _extra: &[Tensor]) -> Option<(Activation, Tensor)> {
        None
    }
    /// Make the `across` calls a training forward (or, `backward`, backward) pass makes, with
    /// zeros: for a replica that has no rows of the step's batch but must still meet the others.
    fn across_without_rows(&self, _across: &mut dyn CrossReplica, _backward: bool) -> Result<()> {
        Ok(())
    }
}

/// Makes a registered kind from its spec's settings.
pub type Factory = Arc<dyn Fn(&serde_json::Value) -> Result<Box<dyn LayerKind>> + Send + Sync>;

static REGISTRY: RwLock<Vec<(String, Factory)>> = RwLock::new(Vec::new());

/// Register layer kind `name`, made from its settings by `factory`; `LayerSpec::Custom { kind:
/// name, settings }` then builds it. A later registration of the same name replaces it.
pub fn register_layer(
    name: &str,
    factory: impl Fn(&serde_json::Value) -> Result<Box<dyn LayerKind>> + Send + Sync + 'static,
) {
    let mut r = REGISTRY.write().unwrap_or_else(|p| p.into_inner());
    r.retain(|(n, _)| n != name);
    r.push((name.to_string(), Arc::new(factory)));
}

/// The registered kind `name` with `settings`.
pub(super) fn registered(name: &str, settings: &serde_json::Value) -> Result<Box<dyn LayerKind>> {
    let r = REGISTRY.read().unwrap_or_else(|p| p.into_inner());
    let Some((_, factory)) = r.iter().find(|(n, _)| n == name) else {
        let known: Vec<&str> = r.iter().map(|(n, _)| n.as_str()).collect();
        return Err(Error::config(
            "layer",
            format!(
                "no layer kind {name:?} is registered (registered: {}); register it with nn::register_layer before \
                 building or loading the model",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            ),
        ));
    };
    let factory = factory.clone();
    drop(r);
    factory(settings)
}
