//! The training step of a data-parallel run (PyTorch DDP's, without the buckets): every
//! replica gathers its slice of the global batch, records forward and backward with the loss
//! scaled by the global batch size, reads its gradients back once, sums them with every other
//! replica's (one all-reduce), writes the sum back and takes the same update. Parameters are
//! broadcast from replica 0 when the loop begins, so the replicas cannot drift.

use super::{BatchSlice, Trainer};
use crate::backend::Backend;
use crate::data::DeviceData;
use crate::error::Result;
use crate::nn::Sequential;
use crate::optim::Optimizer;
use crate::tensor::Tensor;
use crate::train::shard;

impl Trainer {
    /// One data-parallel step on rows `offset..offset + rows` of the epoch's order.
    pub(super) fn parallel_step(
        &mut self,
        b: &mut dyn Backend,
        model: &mut Sequential,
        opt: &mut Optimizer,
        train: &DeviceData,
        offset: usize,
        rows: usize,
    ) -> Result<()> {
        let (rank, size) = self.replicas.as_ref().map_or((0, 1), |r| (r.rank(), r.size()));
        let (first, count) = shard(offset, rows, rank, size);
        // Writes first: a write submits whatever is recorded before it.
        opt.prepare(b)?;
        let grads = gradient_tensors(model, opt);
        if count > 0 {
            self.record_gradients(b, model, train, BatchSlice { offset, rows, first, count })?;
        } else {
            // A batch smaller than the world: this replica adds nothing to the sum.
            for &g in &grads {
                b.fill(g, 0.0)?;
            }
        }
        // One buffer out, one all-reduce, one buffer back; the stop flag rides along, so every
        // replica stops after the same step. Timed from the moment the gradients are ready.
        b.sync()?;
        let start = std::time::Instant::now();
        let mut flat = Vec::new();
        for &g in &grads {
            flat.extend(b.read(g)?);
        }
        flat.push(if self.stop_wanted { 1.0 } else { 0.0 });
        if let Some(r) = self.replicas.as_mut() {
            r.all_reduce_sum(&mut flat)?;
        }
        self.stop_agreed |= flat.pop().is_some_and(|s| s > 0.0);
        let mut at = 0;
        for &g in &grads {
            b.write(g, &flat[at..at + g.len()])?;
            at += g.len();
        }
        self.sync_seconds += start.elapsed().as_secs_f64();
        self.sync_bytes += 4 * flat.len() as u64;
        self.sync_steps += 1;
        opt.record(b, model.params())?;
        b.submit()?;
        self.state.step += 1;
        Ok(())
    }

    /// Give every replica replica 0's parameters and buffers (batch-norm statistics).
    pub(super) fn broadcast_model(&mut self, b: &mut dyn Backend, model: &Sequential) -> Result<()> {
        let Some(r) = self.replicas.as_mut() else { return Ok(()) };
        for (_, t) in model.named_tensors() {
            let mut values = b.read(t)?;
            r.broadcast(&mut values)?;
            b.write(t, &values)?;
        }
        Ok(())
    }
}

/// The tensors the gradients live in: the one packed buffer where the model has one.
fn gradient_tensors(model: &Sequential, opt: &Optimizer) -> Vec<Tensor> {
    match model.params().packed(opt.config.kind.rule().state_count()) {
        Some(all) => vec![all.grad],
        None => model.params().iter().map(|p| p.grad).collect(),
    }
}
