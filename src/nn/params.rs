//! A model's parameters with their gradients and optimizer state. Where the backend can, the
//! values, the gradients and each state slot are three packed allocations with one layout
//! (`Backend::zeros_packed`), so the optimizer updates every parameter in one dispatch: a
//! training step of the deep 20-layer MLP records 42 updates fewer.

use std::ops::Deref;

use crate::backend::Backend;
use crate::error::Result;
use crate::tensor::Tensor;

/// A trainable tensor with its gradient and optimizer state.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub value: Tensor,
    pub grad: Tensor,
    /// Filled by the optimizer with as many zero tensors as its rule keeps.
    pub state: [Option<Tensor>; 2],
    /// Whether ℓ1/ℓ2 penalties apply (Dense weights only, as in Keras' kernel_regularizer).
    pub penalized: bool,
    /// An f16 copy of `value` that the products read instead, in a model trained in
    /// `Precision::F16` (its weight matrices); refreshed from `value` by the model.
    pub half: Option<Tensor>,
}

impl Param {
    /// The tensor a product reads for this parameter: the f16 copy where there is one.
    pub fn operand(&self) -> Tensor {
        self.half.unwrap_or(self.value)
    }
}

/// What a parameter starts as.
#[derive(Debug, Clone)]
pub struct ParamInit {
    pub name: String,
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f32>,
    pub penalized: bool,
}

/// Weight matrices of at least this many entries are deferrable (`ParamSet::deferrable`): below
/// it the update's own dispatch (tens of µs on a CPU driver) costs more than the 8 bytes a
/// parameter that forming the gradient in the update saves (0.84 ns a parameter at 9.5 GB/s:
/// break-even near 36k).
pub const DEFERRABLE_MIN: usize = 1 << 16;

/// Steps of at most this many rows may defer weight gradients. Forming a gradient in the
/// update costs each lane K loads of x and K of dz per four parameters, work the product does
/// once. On lavapipe the wide net's two large updates from factors took 13-14 ms at K = 1
/// against 20.8 ms for the written products and the update, 17.5 against 18.6 at K = 2, and
/// 25.1 against 20.8 at K = 4.
pub const DEFERRABLE_ROWS: usize = 2;

/// A weight gradient a layer left as its factors, xᵀ·dz, for the update to form where it uses
/// it (`Gradient::Outer`) instead of writing it to the parameter's `grad`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Deferred {
    /// The parameter's index in the set.
    pub param: usize,
    pub x: Tensor,
    pub dz: Tensor,
    /// Its update was recorded during the backward pass, which it owed the layer's input
    /// gradient (`UpdateNow`): the update after the pass leaves it alone.
    pub applied: bool,
}

/// The parameters of a model, in the model's order (read them as a slice of `Param`).
#[derive(Debug, Clone, Default)]
pub struct ParamSet {
    params: Vec<Param>,
    packing: Option<Packing>,
    /// The gradients the last backward pass left as factors (`Deferred`).
    deferred: Vec<Deferred>,
}

/// What an update covers besides the deferred gradients (`ParamSet::undeferred`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Undeferred {
    /// Every other parameter, in one packed range.
    Packed(PackedParams),
    /// Nothing: every parameter's gradient was deferred.
    Nothing,
    /// The others one by one (the deferred ones are not the packing's leading parts).
    Apart,
}

/// The packed allocations behind a `ParamSet`, each one tensor over every parameter.
#[derive(Debug, Clone)]
struct Packing {
    /// The parameters' indices in packed order (the penalized ones first).
    order: Vec<usize>,
    /// Where each part starts (elements), in packed order.
    offsets: Vec<usize>,
    value: Tensor,
    grad: Tensor,
    state: [Option<Tensor>; 2],
    /// The leading elements that are penalized (the penalized parameters and the padding
    /// between them).
    penalized: usize,
    /// How many leading parts are deferrable weight matrices (the packing puts them first).
    deferrable: usize,
    /// The parts after the deferrable ones as views of the packed tensors (`Backend::tail`),
    /// where there are such parts and the backend shares storage: their update in one
    /// dispatch in a step whose deferrable gradients were deferred.
    rest: Option<PackedParams>,
}

/// The whole of a packed `ParamSet`, for updating every parameter at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PackedParams {
    pub value: Tensor,
    pub grad: Tensor,
    pub state: [Option<Tensor>; 2],
    /// ℓ1/ℓ2 apply to this many leading elements (`UpdateTensors::penalized`).
    pub penalized: usize,
}

impl ParamSet {
    /// Parameters kept apart, one tensor each (a custom loop's own tensors): the optimizer
    /// updates them one by one.
    pub fn new(params: Vec<Param>) -> Self {
        Self { params, packing: None, deferred: Vec::new() }
    }

    /// Allocate and initialize `inits` on `b`, values and gradients packed where `b` packs.
    pub fn build(b: &mut dyn Backend, inits: Vec<ParamInit>) -> Result<Self> {
        let mut order: Vec<usize> = (0..inits.len()).collect();
        let large = |i: &ParamInit| i.penalized && i.rows * i.cols >= DEFERRABLE_MIN;
        // Stable: the penalized first, the large weight matrices first among them, model order
        // kept within each.
        order.sort_by_key(|&i| (!inits[i].penalized, !large(&inits[i])));
        let deferrable = order.iter().take_while(|&&i| large(&inits[i])).count();
        let shapes: Vec<(usize, usize)> = order.iter().map(|&i| (inits[i].rows, inits[i].cols)).collect();
        let values = b.zeros_packed(&shapes)?;
        let grads = b.zeros_packed(&shapes)?;
        let mut slot_of = vec![0; inits.len()];
        for (slot, &i) in order.iter().enumerate() {
            slot_of[i] = slot;
        }
        let mut params = Vec::with_capacity(inits.len());
        for (i, init) in inits.into_iter().enumerate() {
            let (value, grad) = (values.parts[slot_of[i]], grads.parts[slot_of[i]]);
            b.write(value, &init.values)?;
            params.push(Param { name: init.name, value, grad, state: [None, None], penalized: init.penalized, half: None });
        }
        let packing = match (values.whole, grads.whole) {
            (Some(value), Some(grad)) if values.offsets == grads.offsets => {
                let first_plain = order.iter().position(|&i| !params[i].penalized);
                let penalized = first_plain.map_or(value.len(), |slot| values.offsets[slot]);
                let mut pk = Packing {
                    order,
                    offsets: values.offsets,
                    value,
                    grad,
                    state: [None, None],
                    penalized,
                    deferrable,
                    rest: None,
                };
                if let Some(&at) = pk.offsets.get(deferrable).filter(|_| deferrable > 0) {
                    pk.rest = match (b.tail(value, at)?, b.tail(grad, at)?) {
                        (Some(value), Some(grad)) => {
                            Some(PackedParams { value, grad, state: [None, None], penalized: penalized - at })
                        }
                        _ => None,
                    };
                }
                Some(pk)
            }
            _ => None,
        };
        Ok(Self { params, packing, deferred: Vec::new() })
    }

    /// Give every parameter `count` zeroed state tensors where it has none, packed like the
    /// values when the set is packed.
    pub fn attach_state(&mut self, b: &mut dyn Backend, count: usize) -> Result<()> {
        for slot in 0..count {
            if let Some(pk) = self.packing.as_mut().filter(|pk| pk.state[slot].is_none()) {
                if self.params.iter().all(|p| p.state[slot].is_none()) {
                    let shapes: Vec<(usize, usize)> =
                        pk.order.iter().map(|&i| (self.params[i].value.rows, self.params[i].value.cols)).collect();
                    let state = b.zeros_packed(&shapes)?;
                    for (part, &i) in state.parts.iter().zip(&pk.order) {
                        self.params[i].state[slot] = Some(*part);
                    }
                    if state.offsets == pk.offsets {
                        pk.state[slot] = state.whole;
                        let at = pk.offsets.get(pk.deferrable).copied();
                        if let (Some(rest), Some(whole), Some(at)) = (pk.rest.as_mut(), state.whole, at) {
                            rest.state[slot] = b.tail(whole, at)?;
                        }
                    }
                }
            }
            for p in &mut self.params {
                if p.state[slot].is_none() {
                    p.state[slot] = Some(b.zeros(p.value.rows, p.value.cols)?);
                }
            }
        }
        Ok(())
    }

    /// Give every penalized parameter (the weight matrices) an f16 copy for the products to
    /// read (`Param::half`); its values are written by the model's refresh.
    pub(super) fn attach_half(&mut self, b: &mut dyn Backend) -> Result<()> {
        for p in self.params.iter_mut().filter(|p| p.penalized && p.half.is_none()) {
            p.half = Some(b.alloc(p.value.rows, p.value.cols, crate::tensor::DType::F16)?);
        }
        Ok(())
    }

    /// The packed allocations, when every parameter and the first `state_count` state slots
    /// are packed: one update then covers them all.
    pub fn packed(&self, state_count: usize) -> Option<PackedParams> {
        let pk = self.packing.as_ref()?;
        if pk.state.iter().take(state_count).any(Option::is_none) {
            return None;
        }
        Some(PackedParams { value: pk.value, grad: pk.grad, state: pk.state, penalized: pk.penalized })
    }
}

impl ParamSet {
    /// Whether a layer may leave parameter `index`'s gradient as factors (`Deferred`): a
    /// weight matrix of at least `DEFERRABLE_MIN` entries in a packed set whose other parts
    /// the update then covers in one dispatch (`undeferred`). False on a backend that does not
    /// pack, where deferring would cost a dispatch per parameter.
    pub fn deferrable(&self, index: usize) -> bool {
        let Some(pk) = &self.packing else { return false };
        let rest_ready = pk.rest.is_some() || pk.deferrable == pk.order.len();
        rest_ready && pk.order[..pk.deferrable].contains(&index)
    }

    /// The gradients the last backward pass left as factors; empty after a pass that wrote
    /// every gradient. Valid until the next forward or backward pass.
    pub fn deferred(&self) -> &[Deferred] {
        &self.deferred
    }

    pub(super) fn set_deferred(&mut self, deferred: Vec<Deferred>) {
        self.deferred = deferred;
    }

    /// What an update must cover besides the deferred gradients, with the first
    /// `state_count` state slots.
    pub fn undeferred(&self, state_count: usize) -> Undeferred {
        let Some(pk) = &self.packing else { return Undeferred::Apart };
        let leading = &pk.order[..pk.deferrable];
        let matches = self.deferred.len() == leading.len() && self.deferred.iter().all(|d| leading.contains(&d.param));
        match (&pk.rest, matches) {
            (_, false) => Undeferred::Apart,
            (None, true) if pk.deferrable == pk.order.len() => Undeferred::Nothing,
            (Some(rest), true) if rest.state.iter().take(state_count).all(Option::is_some) => Undeferred::Packed(*rest),
            _ => Undeferred::Apart,
        }
    }
}

impl Deref for ParamSet {
    type Target = [Param];

    fn deref(&self) -> &[Param] {
        &self.params
    }
}

impl<'a> IntoIterator for &'a ParamSet {
    type Item = &'a Param;
    type IntoIter = std::slice::Iter<'a, Param>;

    fn into_iter(self) -> Self::IntoIter {
        self.params.iter()
    }
}

impl From<Vec<Param>> for ParamSet {
    fn from(params: Vec<Param>) -> Self {
        Self::new(params)
    }
}
