//! The activations and gradients of one batch size, made on first use and kept for the
//! run: what a forward and backward pass write into.

use super::Sequential;
use crate::backend::{Backend, Loss};
use crate::nn::spec::LayerSpec;
use crate::error::Result;
use crate::tensor::{DType, Tensor};

#[derive(Debug, Clone)]
pub(super) struct LayerBuffers {
    pub(super) y: Tensor,
    pub(super) dx: Tensor,
    /// The layer's own tensors (`Layer::workspace`).
    pub(super) extra: Vec<Tensor>,
}

/// The activations and gradients of one batch size.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub rows: usize,
    /// (rows, inputs): where the trainer gathers a batch.
    pub input: Tensor,
    /// (rows, 1) u32 class labels.
    pub labels: Tensor,
    /// (rows, outputs) f32 targets, for the losses that take them (sigmoid cross-entropy, MSE).
    pub targets: Option<Tensor>,
    /// (rows, outputs): the loss gradient fed to backward.
    pub dlogits: Tensor,
    pub(super) layers: Vec<LayerBuffers>,
}

impl Sequential {
    /// The workspace for batches of `rows`, made on first use (the only allocation a training
    /// run does after setup: one per distinct batch size).
    pub fn workspace(&mut self, b: &mut dyn Backend, rows: usize) -> Result<usize> {
        if let Some(i) = self.workspaces.iter().position(|w| w.rows == rows) {
            return Ok(i);
        }
        let (inputs, outputs) = (self.spec.inputs, self.spec.outputs());
        let mut layers = Vec::with_capacity(self.layers.len());
        let mut in_w = inputs;
        for (i, layer) in self.layers.iter().enumerate() {
            let out_w = layer.units();
            let extra = layer.workspace(b, rows)?;
            let y = if self.half_output(i) { b.alloc(rows, out_w, DType::F16)? } else { b.zeros(rows, out_w)? };
            layers.push(LayerBuffers { y, dx: b.zeros(rows, in_w)?, extra });
            in_w = out_w;
        }
        self.workspaces.push(Workspace {
            rows,
            input: b.zeros(rows, inputs)?,
            labels: b.alloc(rows, 1, DType::U32)?,
            targets: match self.spec.loss {
                Loss::SoftmaxCrossEntropy => None,
                _ => Some(b.zeros(rows, outputs)?),
            },
            dlogits: b.zeros(rows, outputs)?,
            layers,
        });
        Ok(self.workspaces.len() - 1)
    }

    pub fn ws(&self, index: usize) -> &Workspace {
        &self.workspaces[index]
    }

    /// The outputs (after the activation) of the hidden Dense layers in workspace `ws`, as
    /// written by its last forward pass: for measuring activations, dead units and the like.
    /// A standalone activation layer right after a Dense layer counts as its activation.
    pub fn hidden_outputs(&self, ws: usize) -> Vec<Tensor> {
        let layers = &self.spec.layers;
        let last = layers.iter().rposition(|l| l.weights().is_some());
        let dense = (0..layers.len()).filter(|&i| layers[i].weights().is_some() && Some(i) != last);
        let after = |i: usize| match layers.get(i + 1) {
            Some(LayerSpec::Activation { .. }) => i + 1,
            _ => i,
        };
        dense.map(|i| self.workspaces[ws].layers[after(i)].y).collect()
    }
}
