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

/// The parameters of a model, in the model's order (read them as a slice of `Param`).
#[derive(Debug, Clone, Default)]
pub struct ParamSet {
    params: Vec<Param>,
    packing: Option<Packing>,
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
        Self { params, packing: None }
    }

    /// Allocate and initialize `inits` on `b`, values and gradients packed where `b` packs.
    pub fn build(b: &mut dyn Backend, inits: Vec<ParamInit>) -> Result<Self> {
        let mut order: Vec<usize> = (0..inits.len()).collect();
        order.sort_by_key(|&i| !inits[i].penalized); // stable: penalized first, model order kept
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
                Some(Packing { order, offsets: values.offsets, value, grad, state: [None, None], penalized })
            }
            _ => None,
        };
        Ok(Self { params, packing })
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
