//! Optimizers as configuration over the update kernels. Each step the host computes the
//! step's scalars (schedule, bias corrections, Nadam's momentum product) and writes them to
//! two small `Hyper` tensors, penalized (Dense weights) and plain; the updates are recorded
//! into the same submission as the forward and backward passes.

use serde::{Deserialize, Serialize};

use super::schedule::{PlateauState, Schedule};
use super::settings::{Range, SETTINGS};
use crate::backend::{Backend, Gradient, Hyper, InputGradient, UpdateRule, UpdateTensors};
use crate::error::{Error, Result};
use crate::nn::{Deferred, PackedParams, Param, ParamSet, Undeferred, UpdateNow};
use crate::tensor::Tensor;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    Sgd,
    Momentum,
    Nesterov,
    Adagrad,
    Rmsprop,
    Adam,
    Adamw,
    Nadam,
}

impl OptimizerKind {
    pub const NAMES: &'static [(&'static str, OptimizerKind)] = &[
        ("sgd", Self::Sgd),
        ("momentum", Self::Momentum),
        ("nesterov", Self::Nesterov),
        ("adagrad", Self::Adagrad),
        ("rmsprop", Self::Rmsprop),
        ("adam", Self::Adam),
        ("adamw", Self::Adamw),
        ("nadam", Self::Nadam),
    ];

    /// The position in `NAMES`.
    pub fn index(self) -> usize {
        Self::NAMES.iter().position(|(_, k)| *k == self).expect("every kind is named")
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self.index()].0
    }

    pub fn rule(&self) -> UpdateRule {
        match self {
            Self::Sgd => UpdateRule::Sgd,
            Self::Momentum => UpdateRule::Momentum,
            Self::Nesterov => UpdateRule::Nesterov,
            Self::Adagrad => UpdateRule::Adagrad,
            Self::Rmsprop => UpdateRule::Rmsprop,
            Self::Adam | Self::Adamw => UpdateRule::Adam,
            Self::Nadam => UpdateRule::Nadam,
        }
    }
}

/// An optimizer's hyper-parameters. `momentum` is β for momentum/Nesterov and β1 for the
/// Adam family; `beta2` is Adam's β2 and RMSProp's ρ; `weight_decay` is AdamW's decoupled
/// decay; ℓ1/ℓ2 apply to Dense weights; clipping is off at 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    pub kind: OptimizerKind,
    pub lr: f32,
    pub momentum: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    pub l1: f32,
    pub l2: f32,
    pub clip_value: f32,
    pub clip_norm: f32,
    pub schedule: Schedule,
}

impl OptimizerConfig {
    /// `kind` with its defaults (`settings::SETTINGS`: PyTorch's; 0 where it does not use a
    /// setting) and a constant rate.
    pub fn new(kind: OptimizerKind) -> Self {
        let mut c = Self {
            kind,
            lr: 0.0,
            momentum: 0.0,
            beta2: 0.0,
            eps: 0.0,
            weight_decay: 0.0,
            l1: 0.0,
            l2: 0.0,
            clip_value: 0.0,
            clip_norm: 0.0,
            schedule: Schedule::Constant,
        };
        for s in SETTINGS {
            (s.set)(&mut c, s.default_for(kind).unwrap_or(0.0));
        }
        c
    }

    pub fn with_lr(self, lr: f32) -> Self {
        Self { lr, ..self }
    }

    pub fn with_momentum(self, momentum: f32) -> Self {
        Self { momentum, ..self }
    }

    /// Reject values outside what the update rule can run with, naming the setting.
    pub fn validate(&self) -> Result<()> {
        for s in SETTINGS {
            let v = (s.get)(self);
            if s.used_by(self.kind) {
                s.check(v)?;
            } else if !Range::NonNegative.contains(v) {
                // Unused by this rule, but still a number (a config read back must be sane).
                return Err(Error::config(
                    format!("optimizer {}", s.name),
                    format!("{v} {}", Range::NonNegative.describe()),
                ));
            }
        }
        self.schedule.validate()
    }
}

/// Everything a resumed run needs to continue the optimizer exactly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState {
    /// Updates done so far.
    pub step: u32,
    /// Nadam's Π μ_i over the updates done.
    pub mu_product: f64,
    pub plateau: PlateauState,
}

impl Default for OptimizerState {
    fn default() -> Self {
        Self { step: 0, mu_product: 1.0, plateau: PlateauState::default() }
    }
}

pub struct Optimizer {
    pub config: OptimizerConfig,
    pub state: OptimizerState,
    /// The next update's scalars, penalties included (they apply to the penalized share).
    hyper: Tensor,
    /// Σg² over all gradients, for clipping by global norm.
    norm: Tensor,
    /// Pruning masks as (parameter value, mask) with 1 keeping and 0 pruning, applied right
    /// after each update in the same submission, so pruned weights stay exactly 0 while the
    /// rest train.
    masks: Vec<(Tensor, Tensor)>,
    /// Nadam's Π μ after the update `prepare` wrote the scalars of, for `record` to keep.
    prepared_mu_product: Option<f64>,
}

impl Optimizer {
    pub fn new(b: &mut dyn Backend, config: OptimizerConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            state: OptimizerState::default(),
            hyper: b.zeros(1, Hyper::LEN)?,
            norm: b.zeros(1, 1)?,
            masks: Vec::new(),
            prepared_mu_product: None,
        })
    }

    /// Keep the entries of `param` where `mask` is 0 at exactly 0 from now on (and zero them
    /// now). Replaces an earlier mask of the same parameter.
    pub fn set_mask(&mut self, b: &mut dyn Backend, param: &Param, mask: &[f32]) -> Result<()> {
        let t = match self.mask_of(param) {
            Some(t) => {
                b.write(t, mask)?;
                t
            }
            None => {
                let t = b.upload(param.value.rows, param.value.cols, mask)?;
                self.masks.push((param.value, t));
                t
            }
        };
        b.apply_mask(t, param.value)
    }

    /// The pruning mask of `param`, if it has one.
    pub fn mask_of(&self, param: &Param) -> Option<Tensor> {
        self.masks.iter().find(|(value, _)| *value == param.value).map(|&(_, m)| m)
    }

    /// The pruning masks, as (parameter value, mask).
    pub fn masks(&self) -> &[(Tensor, Tensor)] {
        &self.masks
    }

    /// Give each parameter the zeroed state tensors the rule keeps (once, before training),
    /// packed like the values where they are.
    pub fn attach(&self, b: &mut dyn Backend, params: &mut ParamSet) -> Result<()> {
        params.attach_state(b, self.config.kind.rule().state_count())
    }

    /// Multiply every learning rate the optimizer can use by `factor`: the base rate and the
    /// schedule's own rates (piecewise values, 1cycle's peak, plateau's floor).
    pub fn scale_lr(&mut self, factor: f32) {
        self.config.lr *= factor;
        match &mut self.config.schedule {
            Schedule::Piecewise { values, .. } => values.iter_mut().for_each(|v| *v *= factor),
            Schedule::OneCycle { max_lr, .. } => *max_lr *= factor,
            Schedule::ReduceOnPlateau { min_lr, .. } => *min_lr *= factor,
            Schedule::Constant | Schedule::Exponential { .. } => {}
        }
    }

    /// The learning rate the last update of a saved optimizer used (the first one's when it
    /// made none): where a run that continues at a constant rate should start.
    pub fn scheduled_lr(config: &OptimizerConfig, state: Option<&OptimizerState>) -> f32 {
        let state = state.copied().unwrap_or_default();
        config.schedule.lr(config.lr, state.step.saturating_sub(1), &state.plateau)
    }

    /// The learning rate the next update uses.
    pub fn lr(&self) -> f32 {
        self.config.schedule.lr(self.config.lr, self.state.step, &self.state.plateau)
    }

    /// The scalars of the next update (t = step + 1), without penalties.
    fn hyper(&self) -> (Hyper, f64) {
        let c = &self.config;
        let t = self.state.step + 1;
        let lr = self.lr();
        let beta1 = c.schedule.momentum(self.state.step).unwrap_or(c.momentum);
        let (h, mu_product) = match c.kind {
            OptimizerKind::Sgd => (Hyper::sgd(lr), self.state.mu_product),
            OptimizerKind::Momentum | OptimizerKind::Nesterov => (Hyper::momentum(lr, beta1), self.state.mu_product),
            OptimizerKind::Adagrad => (Hyper::adagrad(lr, c.eps), self.state.mu_product),
            OptimizerKind::Rmsprop => (Hyper::rmsprop(lr, c.beta2, c.eps), self.state.mu_product),
            OptimizerKind::Adam => (Hyper::adam(lr, beta1, c.beta2, c.eps, 0.0, t), self.state.mu_product),
            OptimizerKind::Adamw => (Hyper::adam(lr, beta1, c.beta2, c.eps, c.weight_decay, t), self.state.mu_product),
            OptimizerKind::Nadam => Hyper::nadam(lr, beta1, c.beta2, c.eps, 0.004, t, self.state.mu_product),
        };
        (h.with_clipping(c.clip_value, c.clip_norm), mu_product)
    }

    /// Write the next update's scalars to the device. Call at the start of a step, before
    /// recording anything (a write submits pending work first).
    pub fn prepare(&mut self, b: &mut dyn Backend) -> Result<()> {
        let lr = self.lr();
        if !(lr.is_finite() && lr > 0.0) {
            // Not divergence: the schedule itself ran out of range (an exponential rate above
            // 1 over many steps overflows).
            return Err(Error::config(
                "schedule",
                format!("it gave the learning rate {lr} at step {}; check its rate and values", self.state.step),
            ));
        }
        let (h, mu_product) = self.hyper();
        self.prepared_mu_product = Some(mu_product);
        b.write(self.hyper, h.with_penalties(self.config.l1, self.config.l2).as_slice())
    }

    /// Record the update of every parameter from its gradient, then advance the step: one
    /// update over the packed allocations when `params` is packed, else one per parameter.
    /// Gradients the last backward pass deferred (`Sequential::backward_deferring`) are formed
    /// from their factors in their parameters' updates.
    pub fn record(&mut self, b: &mut dyn Backend, params: &ParamSet) -> Result<()> {
        let rule = self.config.kind.rule();
        if params.deferred().is_empty() {
            self.record_written(b, params, rule)?;
        } else {
            self.record_deferred(b, params, rule)?;
        }
        for &(value, mask) in &self.masks {
            b.apply_mask(mask, value)?;
        }
        self.state.mu_product = match self.prepared_mu_product.take() {
            Some(mu_product) => mu_product,
            None => self.hyper().1,
        };
        self.state.step += 1;
        Ok(())
    }

    /// Whether the penalties apply: without them the update need not read them (a lighter
    /// kernel).
    fn penalties(&self) -> bool {
        self.config.l1 != 0.0 || self.config.l2 != 0.0
    }

    /// The update of every parameter from its written gradient.
    fn record_written(&self, b: &mut dyn Backend, params: &ParamSet, rule: UpdateRule) -> Result<()> {
        let packed = params.packed(rule.state_count());
        let grad_norm = (self.config.clip_norm > 0.0).then_some(self.norm);
        if grad_norm.is_some() {
            match packed {
                Some(all) => b.sum_squares(all.grad, self.norm, false)?,
                None => {
                    for (i, p) in params.iter().enumerate() {
                        b.sum_squares(p.grad, self.norm, i > 0)?;
                    }
                }
            }
        }
        match packed {
            Some(all) => b.update(rule, self.packed(all, grad_norm)),
            None => params.iter().try_for_each(|p| b.update(rule, self.one(p, p.grad.into(), grad_norm))),
        }
    }

    /// The updates of the deferred gradients' parameters from their factors, and of the rest
    /// (in one packed range where the deferred ones lead the packing).
    fn record_deferred(&self, b: &mut dyn Backend, params: &ParamSet, rule: UpdateRule) -> Result<()> {
        if self.config.clip_norm > 0.0 {
            return Err(Error::config(
                "clip_norm",
                "clipping by the norm of all gradients needs them written, and the last backward pass \
                 deferred some; record it with Sequential::backward",
            ));
        }
        let deferred = params.deferred();
        match params.undeferred(rule.state_count()) {
            Undeferred::Packed(rest) => b.update(rule, self.packed(rest, None))?,
            Undeferred::Nothing => {}
            Undeferred::Apart => {
                for (i, p) in params.iter().enumerate() {
                    if deferred.iter().all(|d| d.param != i) {
                        b.update(rule, self.one(p, p.grad.into(), None))?;
                    }
                }
            }
        }
        deferred.iter().filter(|d| !d.applied).try_for_each(|d| {
            let grad = Gradient::Outer { x: d.x, dz: d.dz, input: None };
            b.update(rule, self.one(&params[d.param], grad, None))
        })
    }

    /// The update of the packed parameters `p` (all of them, or the rest after the deferred).
    fn packed(&self, p: PackedParams, grad_norm: Option<Tensor>) -> UpdateTensors {
        let penalized = if self.penalties() { p.penalized } else { 0 };
        UpdateTensors { param: p.value, grad: p.grad.into(), state: p.state, hyper: self.hyper, grad_norm, penalized }
    }

    /// The update of parameter `p` alone.
    fn one(&self, p: &Param, grad: Gradient, grad_norm: Option<Tensor>) -> UpdateTensors {
        let penalized = if p.penalized && self.penalties() { p.value.len() } else { 0 };
        UpdateTensors { param: p.value, grad, state: p.state, hyper: self.hyper, grad_norm, penalized }
    }

    /// End of an epoch: reduce-on-plateau sees the validation loss.
    pub fn end_epoch(&mut self, val_loss: f32) {
        self.config.schedule.observe(val_loss, &mut self.state.plateau);
    }
}

/// During a backward pass that defers (`Sequential::backward_updating`), after `prepare`: the
/// update of a deferred parameter recorded at once, with the layer's input gradient. `record`
/// then leaves it alone and records the rest.
impl UpdateNow for Optimizer {
    fn update_now(&mut self, b: &mut dyn Backend, params: &ParamSet, d: Deferred, input: InputGradient) -> Result<()> {
        if self.config.clip_norm > 0.0 {
            return Err(Error::config(
                "clip_norm",
                "clipping by the norm of all gradients needs them all before any update; record the \
                 backward pass with Sequential::backward",
            ));
        }
        let grad = Gradient::Outer { x: d.x, dz: d.dz, input: Some(input) };
        b.update(self.config.kind.rule(), self.one(&params[d.param], grad, None))
    }
}
