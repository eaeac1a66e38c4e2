//! The Sequential model: layers built from a `ModelSpec`, parameters on the backend, and
//! per-batch-size workspaces so a training step allocates nothing. Forward and backward are
//! written once against `Backend`, so the same model trains on the GPU and on the CPU twin.
//!
//! Gradients are overwritten each step (dw = xᵀ·dz, db = Σ_rows dz, dx = dz·wᵀ).

use rand::SeedableRng;

use super::params::{ParamInit, ParamSet};
use super::spec::{LayerSpec, ModelSpec};
use crate::backend::{Activation, ActivationArgs, Backend, BatchNorm, BatchNormTensors, Dropout};
use crate::backend::{Matmul, Noise};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

mod workspace;
pub use workspace::Workspace;

/// How a forward pass treats dropout and batch norm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Dropout on, batch statistics (running statistics updated).
    Train,
    /// Dropout off, running statistics.
    Eval,
    /// Dropout on, running statistics: Monte Carlo dropout at inference (Gal & Ghahramani 2016).
    McDropout,
}

#[derive(Debug, Clone, Copy)]
enum Layer {
    /// `keep_pre`: the epilogue also stores the pre-activation, for activations whose
    /// derivative needs x (`!Activation::output_suffices`).
    Dense {
        w: usize,
        /// None for a Linear layer.
        b: Option<usize>,
        act: Activation,
        keep_pre: bool,
    },
    Activation {
        act: Activation,
        alpha: Option<usize>,
        stream: u32,
    },
    Dropout {
        spec: Dropout,
    },
    BatchNorm {
        affine: usize,
        running: Tensor,
        spec: BatchNorm,
    },
}

/// A feed-forward stack of layers.
pub struct Sequential {
    spec: ModelSpec,
    layers: Vec<Layer>,
    /// Output width of each layer.
    widths: Vec<usize>,
    params: ParamSet,
    /// The parameters while the model is being built (allocated together at the end).
    inits: Vec<ParamInit>,
    /// Non-trained state saved in checkpoints (batch-norm running statistics).
    buffers: Vec<(String, Tensor)>,
    workspaces: Vec<Workspace>,
    seed: u64,
}

/// An error about layer `index` (0-based) of `spec`, numbered from 1 for people.
fn invalid(spec: &ModelSpec, index: usize, problem: String) -> Error {
    Error::config(format!("layer {} of {}", index + 1, spec.layers.len()), problem)
}

/// Reject specs that cannot build a model, naming the layer and the value.
pub fn validate(spec: &ModelSpec) -> Result<()> {
    if spec.inputs == 0 {
        return Err(Error::config("model", "the input width is 0; it must be at least 1"));
    }
    for (i, l) in spec.layers.iter().enumerate() {
        match *l {
            LayerSpec::Dense { units: 0, .. } | LayerSpec::Linear { units: 0, .. } => {
                return Err(invalid(spec, i, "a Dense layer of 0 units; every layer needs at least 1".into()))
            }
            LayerSpec::Dropout { rate } | LayerSpec::AlphaDropout { rate } if !(0.0..1.0).contains(&rate) => {
                return Err(invalid(
                    spec,
                    i,
                    format!("dropout rate {rate} is not in [0, 1): 0 turns it off, 0.5 drops half the units"),
                ))
            }
            LayerSpec::BatchNorm { eps, momentum }
                if eps.is_nan() || eps <= 0.0 || !(0.0..=1.0).contains(&momentum) =>
            {
                return Err(invalid(
                    spec,
                    i,
                    format!("batch norm needs eps > 0 and momentum in [0, 1], got {eps}, {momentum}"),
                ))
            }
            LayerSpec::Dense { activation: Activation::Rrelu { lower, upper }, .. }
            | LayerSpec::Activation { activation: Activation::Rrelu { lower, upper } }
                if lower.is_nan() || upper.is_nan() || lower > upper =>
            {
                return Err(invalid(spec, i, format!("RReLU needs lower ≤ upper, got {lower} and {upper}")))
            }
            _ => {}
        }
    }
    Ok(())
}

impl Sequential {
    /// Build `spec` on `b`, drawing initial weights from `seed`; dropout and RReLU masks are
    /// keyed by the same seed, with one stream per layer.
    pub fn new(b: &mut dyn Backend, spec: &ModelSpec, seed: u64) -> Result<Self> {
        validate(spec)?;
        crate::limits::check_model(spec.weight_shapes(), b.max_tensor_bytes(), crate::limits::available_host_bytes())?;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut model = Self {
            spec: spec.clone(),
            layers: Vec::new(),
            widths: Vec::new(),
            params: ParamSet::default(),
            inits: Vec::new(),
            buffers: Vec::new(),
            workspaces: Vec::new(),
            seed,
        };
        let mut width = spec.inputs;
        for (i, l) in spec.layers.iter().enumerate() {
            let stream = i as u32 + 1;
            match *l {
                LayerSpec::Dense { units, activation, init, bias } => {
                    let w = init.sample(width, units, &mut rng);
                    let wi = model.add_param(format!("layers.{i}.w"), width, units, &w, true);
                    let bi = model.add_param(format!("layers.{i}.b"), 1, units, &vec![bias; units], false);
                    // Fuse the activation into the matmul when it needs no tensor or noise;
                    // keep the pre-activation when its derivative needs it.
                    let fused = activation.fusable();
                    let act = if fused { activation } else { Activation::Identity };
                    let keep_pre = fused && !activation.output_suffices();
                    model.push(Layer::Dense { w: wi, b: Some(bi), act, keep_pre }, units);
                    if !fused {
                        model.push_activation(i, activation, units, stream)?;
                    }
                    width = units;
                }
                LayerSpec::Linear { units, init } => {
                    let w = init.sample(width, units, &mut rng);
                    let wi = model.add_param(format!("layers.{i}.w"), width, units, &w, true);
                    model.push(Layer::Dense { w: wi, b: None, act: Activation::Identity, keep_pre: false }, units);
                    width = units;
                }
                LayerSpec::Activation { activation } => model.push_activation(i, activation, width, stream)?,
                LayerSpec::Dropout { rate } => model.push(
                    Layer::Dropout { spec: Dropout::inverted(rate, Noise { seed: model.noise_seed(), stream }) },
                    width,
                ),
                LayerSpec::AlphaDropout { rate } => model.push(
                    Layer::Dropout { spec: Dropout::alpha(rate, Noise { seed: model.noise_seed(), stream }) },
                    width,
                ),
                LayerSpec::BatchNorm { eps, momentum } => {
                    let affine = [vec![1.0; width], vec![0.0; width]].concat();
                    let ai = model.add_param(format!("layers.{i}.affine"), 2, width, &affine, false);
                    let running = b.upload(2, width, &[vec![0.0; width], vec![1.0; width]].concat())?;
                    model.buffers.push((format!("layers.{i}.running"), running));
                    model.push(Layer::BatchNorm { affine: ai, running, spec: BatchNorm { eps, momentum } }, width);
                }
            }
        }
        model.params = ParamSet::build(b, std::mem::take(&mut model.inits))?;
        Ok(model)
    }

    fn push(&mut self, layer: Layer, width: usize) {
        self.layers.push(layer);
        self.widths.push(width);
    }

    fn push_activation(
        &mut self,
        i: usize,
        act: Activation,
        width: usize,
        stream: u32,
    ) -> Result<()> {
        let alpha = match act {
            Activation::Prelu => {
                Some(self.add_param(format!("layers.{i}.alpha"), 1, width, &vec![0.25; width], false))
            }
            _ => None,
        };
        self.push(Layer::Activation { act, alpha, stream }, width);
        Ok(())
    }

    /// Record a parameter to allocate once the model is built; its index in `params`.
    fn add_param(&mut self, name: String, rows: usize, cols: usize, init: &[f32], penalized: bool) -> usize {
        self.inits.push(ParamInit { name, rows, cols, values: init.to_vec(), penalized });
        self.inits.len() - 1
    }

    /// The seed the weights were drawn from and the dropout/RReLU masks are keyed by.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The Philox seed of this model's dropout and RReLU masks (one stream per layer).
    fn noise_seed(&self) -> u32 {
        (self.seed ^ (self.seed >> 32)) as u32
    }

    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    pub fn params(&self) -> &ParamSet {
        &self.params
    }

    /// For the optimizer to attach its state (`Optimizer::attach`).
    pub fn params_mut(&mut self) -> &mut ParamSet {
        &mut self.params
    }

    /// Non-trained state (batch-norm running statistics), by name.
    pub fn buffers(&self) -> &[(String, Tensor)] {
        &self.buffers
    }

    /// Total number of trainable values.
    pub fn parameter_count(&self) -> usize {
        self.params.iter().map(|p| p.value.len()).sum()
    }

    /// Record the forward pass over workspace `ws`'s input; returns the logits tensor.
    pub fn forward(&mut self, b: &mut dyn Backend, ws: usize, mode: Mode) -> Result<Tensor> {
        let w = &self.workspaces[ws];
        let mut x = w.input;
        for (i, layer) in self.layers.iter().enumerate() {
            let buf = &w.layers[i];
            match *layer {
                Layer::Dense { w: wi, b: bi, act, .. } => {
                    let mut spec = Matmul::nn().with_activation(act);
                    spec.bias = bi.map(|bi| self.params[bi].value);
                    // Only backward reads the pre-activation: inference skips the extra store.
                    spec.pre = if mode == Mode::Train { buf.pre } else { None };
                    b.matmul(x, self.params[wi].value, buf.y, spec)?;
                }
                Layer::Activation { act, alpha, stream } => {
                    let training = mode == Mode::Train;
                    let noise = training.then_some(Noise { seed: self.noise_seed(), stream });
                    let args = ActivationArgs { alpha: alpha.map(|a| self.params[a].value), noise };
                    b.activation_forward(act, x, buf.y, args)?;
                }
                // In evaluation dropout is the identity: pass x on, no copy.
                Layer::Dropout { .. } if mode == Mode::Eval => continue,
                Layer::Dropout { spec } => b.dropout_forward(spec, x, buf.y)?,
                Layer::BatchNorm { affine, running, spec } => {
                    let saved = buf.scratch.expect("batch norm workspaces have saved statistics");
                    let t = BatchNormTensors { x, affine: self.params[affine].value, saved, running };
                    b.batchnorm_forward(spec, t, buf.y, mode == Mode::Train)?;
                }
            }
            x = buf.y;
        }
        Ok(x)
    }

    /// Record the backward pass from `dlogits` of workspace `ws` (after a `Mode::Train`
    /// forward), writing every parameter's gradient.
    pub fn backward(&mut self, b: &mut dyn Backend, ws: usize) -> Result<()> {
        let w = &self.workspaces[ws];
        let mut dy = w.dlogits;
        // Whether `dy` is already the next Dense layer's dz: its activation's derivative was
        // fused into the input-gradient product that wrote it (one dispatch, one pass fewer).
        let mut dy_is_dz = false;
        for i in (0..self.layers.len()).rev() {
            let x = if i == 0 { w.input } else { w.layers[i - 1].y };
            let buf = &w.layers[i];
            let given_dz = std::mem::take(&mut dy_is_dz);
            match self.layers[i] {
                Layer::Dense { w: wi, b: bi, act, .. } => {
                    let dz = match buf.scratch {
                        Some(dz) if !given_dz => {
                            b.activation_backward(act, buf.pre, buf.y, dy, dz, ActivationArgs::default())?;
                            dz
                        }
                        _ => dy,
                    };
                    // The weight gradient, with the bias gradient (dz's column sums) in the same dispatch.
                    let spec = match bi {
                        Some(bi) => Matmul::tn().with_column_sum(self.params[bi].grad),
                        None => Matmul::tn(),
                    };
                    b.matmul(x, dz, self.params[wi].grad, spec)?;
                    if i > 0 {
                        let mut spec = Matmul::nt();
                        if let Layer::Dense { act: prev, .. } = self.layers[i - 1] {
                            if prev != Activation::Identity {
                                let at = &w.layers[i - 1];
                                spec = spec.times_derivative(prev, at.pre.unwrap_or(at.y));
                                dy_is_dz = true;
                            }
                        }
                        b.matmul(dz, self.params[wi].value, buf.dx, spec)?;
                    }
                }
                Layer::Activation { act, alpha, stream } => {
                    let args = ActivationArgs {
                        alpha: alpha.map(|a| self.params[a].value),
                        noise: Some(Noise { seed: self.noise_seed(), stream }),
                    };
                    if let Some(a) = alpha {
                        b.prelu_alpha_backward(x, dy, self.params[a].grad)?;
                    }
                    if i > 0 {
                        b.activation_backward(act, Some(x), buf.y, dy, buf.dx, args)?;
                    }
                }
                Layer::Dropout { spec } => {
                    if i > 0 {
                        b.dropout_backward(spec, dy, buf.dx)?;
                    }
                }
                Layer::BatchNorm { affine, running, .. } => {
                    let saved = buf.scratch.expect("batch norm workspaces have saved statistics");
                    let t = BatchNormTensors { x, affine: self.params[affine].value, saved, running };
                    b.batchnorm_backward(t, dy, buf.dx, self.params[affine].grad)?;
                }
            }
            dy = buf.dx;
        }
        Ok(())
    }

    /// Every named tensor a checkpoint holds: parameters, then buffers.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let params = self.params.iter().map(|p| (p.name.clone(), p.value));
        params.chain(self.buffers.iter().cloned()).collect()
    }
}
