//! One step of a run of one: gather → forward → loss → backward → update, recorded and
//! submitted once; and the step's recorded halves, which the data-parallel step
//! (`parallel`) puts around its all-reduce.

use super::{BatchSlice, Trainer};
use crate::backend::{Backend, StepCounters};
use crate::data::DeviceData;
use crate::error::Result;
use crate::infer::Metrics;
use crate::nn::{CrossReplica, Mode, Sequential};
use crate::optim::Optimizer;
use crate::tensor::Tensor;

impl Trainer {
    /// One training step on rows `offset..offset + rows` of the epoch's order, recorded and
    /// submitted once: the gradients (`record_gradients`), then the update. Unless the config
    /// keeps gradients or the optimizer clips by their norm, a step of at most
    /// `DEFERRABLE_ROWS` rows leaves the large weight matrices' gradients as factors, which
    /// the update forms where it uses them; a layer that also owes its input gradient has its
    /// update recorded during the backward pass, forming that gradient from the weights on
    /// the way (`Sequential::backward_updating`).
    pub fn step(
        &mut self,
        b: &mut dyn Backend,
        model: &mut Sequential,
        opt: &mut Optimizer,
        train: &DeviceData,
        offset: usize,
        rows: usize,
    ) -> Result<()> {
        if self.replicas.is_some() {
            return self.parallel_step(b, model, opt, train, offset, rows);
        }
        // Writes first: a write submits whatever is recorded before it.
        opt.prepare(b)?;
        // The update follows at once: large weight gradients may stay factored for it to form.
        let defer = !self.config.keep_gradients && opt.config.clip_norm == 0.0;
        let batch = BatchSlice { offset, rows, first: offset, count: rows };
        self.record_pass(b, model, train, batch, None, defer.then_some(&mut *opt))?;
        // The seam where gradients are ready and the update is not yet recorded: a
        // data-parallel step all-reduces the packed gradient buffer here.
        opt.record(b, model.params())?;
        b.submit()?;
        self.state.step += 1;
        Ok(())
    }

    /// Record gather → forward → loss → backward for the rows of `batch` this replica takes,
    /// leaving the gradients in the model's gradient buffer (nothing submitted). The loss is
    /// the mean over the whole batch (more rows than the slice when replicas share it), so
    /// the replicas' gradients add up to the batch's.
    pub fn record_gradients(
        &mut self,
        b: &mut dyn Backend,
        model: &mut Sequential,
        train: &DeviceData,
        batch: BatchSlice,
    ) -> Result<()> {
        self.record_gradients_across(b, model, train, batch, None)
    }

    /// `record_gradients`, with batch statistics taken over every replica of `across`.
    pub fn record_gradients_across(
        &mut self,
        b: &mut dyn Backend,
        model: &mut Sequential,
        train: &DeviceData,
        batch: BatchSlice,
        across: Option<&mut dyn CrossReplica>,
    ) -> Result<()> {
        self.record_pass(b, model, train, batch, across, None)
    }

    /// `record_gradients_across`; with `defer`, the optimizer whose update follows, the
    /// backward pass may leave large weight gradients as factors and record the update of
    /// those that owe an input gradient at once (`Sequential::backward_updating`; no
    /// replicas).
    fn record_pass(
        &mut self,
        b: &mut dyn Backend,
        model: &mut Sequential,
        train: &DeviceData,
        batch: BatchSlice,
        mut across: Option<&mut dyn CrossReplica>,
        defer: Option<&mut Optimizer>,
    ) -> Result<()> {
        let BatchSlice { offset: batch_offset, rows: batch_rows, first: offset, count: rows } = batch;
        let ws = model.workspace(b, rows)?;
        let w = model.ws(ws);
        let (targets, dlogits) = (w.targets.unwrap_or(w.labels), w.dlogits);
        // Masks (dropout, RReLU) are keyed by the step and the row in the whole batch, so a
        // replica's slice draws the masks those rows draw in a run of one.
        let row_base = (offset - batch_offset) as u32;
        b.begin_step(StepCounters { step: self.state.step, batch_offset: offset as u32, row_base })?;
        crate::infer::gather_batch(b, train, model.ws(ws))?;
        let logits =
            model.forward_across(b, ws, Mode::Train, across.as_mut().map(|a| &mut **a as &mut dyn CrossReplica))?;
        b.loss(model.spec().loss, logits, targets, dlogits, self.stats, 1.0 / batch_rows as f32)?;
        match defer {
            Some(opt) => model.backward_updating(b, ws, opt)?,
            None => model.backward_across(b, ws, across)?,
        }
        Ok(())
    }

    /// The device tensor the training metrics accumulate in (cleared at each epoch start).
    pub fn running_metrics_tensor(&self) -> Tensor {
        self.stats
    }

    /// The training loss and accuracy accumulated since the epoch began (reads the device).
    pub fn running_metrics(&self, b: &mut dyn Backend) -> Result<Metrics> {
        Ok(Metrics::from_stats(&b.read(self.stats)?))
    }
}
