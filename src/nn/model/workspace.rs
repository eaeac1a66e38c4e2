//! The activations and gradients of one batch size, made on first use and kept for the
//! run: what a forward and backward pass write into.

use super::{Layer, Sequential};
use crate::backend::{Activation, Backend, Loss};
use crate::error::Result;
use crate::tensor::{DType, Tensor};

#[derive(Debug, Clone)]
pub(super) struct LayerBuffers {
    pub(super) y: Tensor,
    pub(super) dx: Tensor,
    /// Dense: dz before the fused activation; BatchNorm: the saved batch statistics.
    pub(super) scratch: Option<Tensor>,
    /// Dense with `keep_pre`: the pre-activation z, (rows, out).
    pub(super) pre: Option<Tensor>,
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
        for (i, layer) in self.layers.iter().enumerate() {
            let (in_w, out_w) = (if i == 0 { inputs } else { self.widths[i - 1] }, self.widths[i]);
            let scratch = match layer {
                Layer::Dense { act, .. } if *act != Activation::Identity => Some(b.zeros(rows, out_w)?),
                Layer::BatchNorm { .. } => Some(b.zeros(2, out_w)?),
                _ => None,
            };
            let pre = match layer {
                Layer::Dense { keep_pre: true, .. } => Some(b.zeros(rows, out_w)?),
                _ => None,
            };
            layers.push(LayerBuffers { y: b.zeros(rows, out_w)?, dx: b.zeros(rows, in_w)?, scratch, pre });
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
    /// An activation that is not fused into the product (PReLU, RReLU) is the layer after it.
    pub fn hidden_outputs(&self, ws: usize) -> Vec<Tensor> {
        let last = self.layers.iter().rposition(|l| matches!(l, Layer::Dense { .. }));
        let dense = self.layers.iter().enumerate().filter(|&(i, l)| matches!(l, Layer::Dense { .. }) && Some(i) != last);
        let after = |i: usize| match self.layers.get(i + 1) {
            Some(Layer::Activation { .. }) => i + 1,
            _ => i,
        };
        dense.map(|(i, _)| self.workspaces[ws].layers[after(i)].y).collect()
    }

}
