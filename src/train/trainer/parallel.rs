//! The training step of a data-parallel run (PyTorch DDP's, without the buckets): every
//! replica gathers its slice of the global batch, records forward and backward with the loss
//! scaled by the global batch size, reads its gradients back once, sums them with every other
//! replica's (one all-reduce), writes the sum back and takes the same update. Parameters are
//! broadcast from replica 0 when the loop begins, so the replicas cannot drift.

use super::{BatchSlice, Trainer};
use crate::backend::Backend;
use crate::data::DeviceData;
use crate::error::Result;
use crate::nn::{CrossReplica, Sequential};
use crate::optim::Optimizer;
use crate::tensor::Tensor;
use crate::train::{shard, Replicas};

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
        let batch = BatchSlice { offset, rows, first, count };
        if count == 0 {
            // A batch smaller than the world: this replica adds nothing to the sum.
            for &g in &grads {
                b.fill(g, 0.0)?;
            }
        }
        if self.config.sync_batch_norm {
            self.record_gradients_synced(b, model, train, batch)?;
        } else if count > 0 {
            self.record_gradients(b, model, train, batch)?;
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

    /// `record_gradients` with batch norm's statistics taken over the whole batch: every
    /// replica meets the others at each batch-norm layer, a replica without rows (its
    /// gradients already zeroed) with zeros.
    fn record_gradients_synced(
        &mut self,
        b: &mut dyn Backend,
        model: &mut Sequential,
        train: &DeviceData,
        batch: BatchSlice,
    ) -> Result<()> {
        let mut replicas = self.replicas.take().expect("a data-parallel step has replicas");
        let mut sums = BatchSums { replicas: replicas.as_mut(), rows: batch.rows, seconds: 0.0, bytes: 0 };
        let result = if batch.count > 0 {
            self.record_gradients_across(b, model, train, batch, Some(&mut sums))
        } else {
            model.across_without_rows(&mut sums)
        };
        (self.sync_seconds, self.sync_bytes) = (self.sync_seconds + sums.seconds, self.sync_bytes + sums.bytes);
        self.replicas = Some(replicas);
        result
    }

    /// Give every replica replica 0's buffers (batch-norm running statistics).
    pub(super) fn broadcast_buffers(&mut self, b: &mut dyn Backend, model: &Sequential) -> Result<()> {
        let Some(r) = self.replicas.as_mut() else { return Ok(()) };
        for (_, t) in model.buffers() {
            let mut values = b.read(*t)?;
            r.broadcast(&mut values)?;
            b.write(*t, &values)?;
        }
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

/// The replicas as synchronized batch norm sees them: sums over the step's whole batch, timed
/// and counted with the gradient exchange.
struct BatchSums<'r> {
    replicas: &'r mut dyn Replicas,
    rows: usize,
    seconds: f64,
    bytes: u64,
}

impl CrossReplica for BatchSums<'_> {
    fn sum(&mut self, data: &mut [f32]) -> Result<()> {
        let start = std::time::Instant::now();
        let result = self.replicas.all_reduce_sum(data);
        self.seconds += start.elapsed().as_secs_f64();
        self.bytes += 4 * data.len() as u64;
        result
    }

    fn rows(&self) -> usize {
        self.rows
    }
}
