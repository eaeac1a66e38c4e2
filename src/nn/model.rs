//! The Sequential model: layers built from a `ModelSpec`, parameters on the backend, and
//! per-batch-size workspaces so a training step allocates nothing. Forward and backward are
//! written once against `Backend`, so the same model trains on the GPU and on the CPU twin.
//!
//! Gradients are overwritten each step (dw = xᵀ·dz, db = Σ_rows dz, dx = dz·wᵀ).

use rand::SeedableRng;

use super::layer::{Backward, Build, CrossReplica, Forward, Layer, UpdateNow};
use super::params::ParamSet;
use super::precision::Precision;
use super::spec::ModelSpec;
use crate::backend::{Backend, Noise};
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

/// A feed-forward stack of layers.
pub struct Sequential {
    spec: ModelSpec,
    layers: Vec<Box<dyn Layer>>,
    params: ParamSet,
    /// Non-trained state saved in checkpoints (batch-norm running statistics).
    buffers: Vec<(String, Tensor)>,
    workspaces: Vec<Workspace>,
    seed: u64,
    precision: Precision,
    /// The f16 weight copies may differ from the weights: refresh them before the next
    /// forward pass (a training pass refreshes them always: a step's update follows it).
    half_stale: bool,
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
        let kind = l.kind().map_err(|e| invalid(spec, i, e.to_string()))?;
        if let Some(problem) = kind.problem() {
            return Err(invalid(spec, i, problem));
        }
    }
    Ok(())
}

impl Sequential {
    /// Build `spec` on `b`, drawing initial weights from `seed`; dropout and RReLU masks are
    /// keyed by the same seed, with one stream per layer.
    pub fn new(b: &mut dyn Backend, spec: &ModelSpec, seed: u64) -> Result<Self> {
        Self::with_precision(b, spec, seed, Precision::F32)
    }

    /// `new`, training and inferring in `precision` (`Precision::F16`: the same weights drawn
    /// from the same seed, f16 copies of them and f16 hidden activations for the products).
    pub fn with_precision(b: &mut dyn Backend, spec: &ModelSpec, seed: u64, precision: Precision) -> Result<Self> {
        validate(spec)?;
        precision.check(spec)?;
        crate::limits::check_model(spec.weight_shapes(), b.max_tensor_bytes(), crate::limits::available_host_bytes())?;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let noise_seed = (seed ^ (seed >> 32)) as u32;
        let (mut inits, mut buffers, mut layers) = (Vec::new(), Vec::new(), Vec::new());
        let last = spec.layers.len().saturating_sub(1);
        for (index, (kind, inputs)) in spec.kinds()?.into_iter().enumerate() {
            let mut ctx = Build {
                b: &mut *b,
                index,
                noise: Noise { seed: noise_seed, stream: index as u32 + 1 },
                rng: &mut rng,
                half: precision == Precision::F16 && index < last,
                params: &mut inits,
                buffers: &mut buffers,
            };
            layers.push(kind.build(&mut ctx, inputs)?);
        }
        let mut params = ParamSet::build(b, inits)?;
        if precision == Precision::F16 {
            params.attach_half(b).map_err(|e| {
                Error::config("--precision f16", format!("{e}; or train in f32 (--precision f32, the default)"))
            })?;
        }
        Ok(Self { spec: spec.clone(), layers, params, buffers, workspaces: Vec::new(), seed, precision, half_stale: true })
    }

    /// The precision the model trains and infers in.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Say that the weights were written from outside a training step (`Backend::write` on a
    /// parameter's value): a model in `Precision::F16` refreshes its f16 copies of them before
    /// its next forward pass. Restoring a checkpoint through `Checkpoint::restore_model` says so.
    pub fn weights_changed(&mut self) {
        self.half_stale = true;
    }

    /// Whether layer `index`'s output is stored in f16.
    pub(super) fn half_output(&self, index: usize) -> bool {
        self.precision == Precision::F16 && index + 1 < self.layers.len()
    }

    /// Record the f16 weight copies' refresh from the weights, where a forward pass in `mode`
    /// needs it.
    fn refresh_half(&mut self, b: &mut dyn Backend, mode: Mode) -> Result<()> {
        if self.precision == Precision::F32 || !(self.half_stale || mode == Mode::Train) {
            return Ok(());
        }
        for p in self.params.iter() {
            if let Some(half) = p.half {
                b.copy(p.value, half)?;
            }
        }
        // A training pass is followed by the step's update: the next pass refreshes again.
        self.half_stale = mode == Mode::Train;
        Ok(())
    }

    /// The seed the weights were drawn from and the dropout/RReLU masks are keyed by.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    pub fn params(&self) -> &ParamSet {
        &self.params
    }

    /// For the optimizer to attach its state (`Optimizer::attach`).
    pub fn params_mut(&mut self) -> &mut ParamSet {
        self.half_stale = true;
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
        self.forward_across(b, ws, mode, None)
    }

    /// `forward`, with batch statistics taken over every replica of `across` (synchronized
    /// batch norm) where given.
    pub fn forward_across(
        &mut self,
        b: &mut dyn Backend,
        ws: usize,
        mode: Mode,
        mut across: Option<&mut dyn CrossReplica>,
    ) -> Result<Tensor> {
        self.refresh_half(b, mode)?;
        // The pass overwrites what deferred gradients' factors were read from.
        self.params.set_deferred(Vec::new());
        let w = &self.workspaces[ws];
        let mut x = w.input;
        for (layer, buf) in self.layers.iter().zip(&w.layers) {
            let across = across.as_mut().map(|a| &mut **a as &mut dyn CrossReplica);
            x = layer.forward(b, Forward { x, y: buf.y, extra: &buf.extra, params: &self.params, mode, across })?;
        }
        Ok(x)
    }

    /// Meet the other replicas of `across` in every call a training step's forward and
    /// backward would make, for a replica without rows in the step (the batch had fewer rows
    /// than there are replicas).
    pub fn across_without_rows(&self, across: &mut dyn CrossReplica) -> Result<()> {
        for layer in &self.layers {
            layer.across_without_rows(across, false)?;
        }
        for layer in self.layers.iter().rev() {
            layer.across_without_rows(across, true)?;
        }
        Ok(())
    }

    /// Record the backward pass from `dlogits` of workspace `ws` (after a `Mode::Train`
    /// forward), writing every parameter's gradient.
    pub fn backward(&mut self, b: &mut dyn Backend, ws: usize) -> Result<()> {
        self.backward_across(b, ws, None)
    }

    /// `backward` after a `forward_across` with the same `across`.
    pub fn backward_across(
        &mut self,
        b: &mut dyn Backend,
        ws: usize,
        across: Option<&mut dyn CrossReplica>,
    ) -> Result<()> {
        self.backward_with(b, ws, across, false, None)
    }

    /// `backward`, leaving the weight gradients of deferrable parameters as their factors
    /// where the layers can (`ParamSet::deferred`): for an update recorded right after, which
    /// forms them where it uses them. The other gradients are written.
    pub fn backward_deferring(&mut self, b: &mut dyn Backend, ws: usize) -> Result<()> {
        self.backward_with(b, ws, None, true, None)
    }

    /// `backward_deferring`, where a layer that defers a parameter's gradient and owes its
    /// input gradient has `now` record that parameter's update at once, forming the input
    /// gradient from the parameter before it changes (`UpdateNow`; the parameter is then
    /// `Deferred::applied`). For the optimizer's update right after the pass, which records
    /// the others.
    pub fn backward_updating(&mut self, b: &mut dyn Backend, ws: usize, now: &mut dyn UpdateNow) -> Result<()> {
        self.backward_with(b, ws, None, true, Some(now))
    }

    fn backward_with(
        &mut self,
        b: &mut dyn Backend,
        ws: usize,
        mut across: Option<&mut dyn CrossReplica>,
        defer: bool,
        mut now: Option<&mut dyn UpdateNow>,
    ) -> Result<()> {
        let mut deferred = Vec::new();
        let w = &self.workspaces[ws];
        let mut dy = w.dlogits;
        // Whether `dy` is already the layer's pre-activation gradient: the layer after it
        // folded its activation's derivative into the product that wrote it.
        let mut dy_is_dz = false;
        for i in (0..self.layers.len()).rev() {
            let (buf, before) = (&w.layers[i], i.checked_sub(1).map(|p| &w.layers[p]));
            let x = before.map_or(w.input, |p| p.y);
            let previous = before.and_then(|p| self.layers[i - 1].fusable_derivative(p.y, &p.extra));
            let io = Backward {
                x,
                y: buf.y,
                dy,
                dy_is_dz,
                dx: buf.dx,
                first: i == 0,
                previous,
                extra: &buf.extra,
                params: &self.params,
                across: across.as_mut().map(|a| &mut **a as &mut dyn CrossReplica),
                deferred: defer.then_some(&mut deferred),
                update_now: now.as_mut().map(|n| &mut **n as &mut dyn UpdateNow),
            };
            dy_is_dz = self.layers[i].backward(b, io)?;
            dy = buf.dx;
        }
        self.params.set_deferred(deferred);
        Ok(())
    }

    /// Every named tensor a checkpoint holds: parameters, then buffers.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let params = self.params.iter().map(|p| (p.name.clone(), p.value));
        params.chain(self.buffers.iter().cloned()).collect()
    }
}
