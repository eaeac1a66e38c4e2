//! Early stopping's bookkeeping: the best validation loss so far, the epochs waited since,
//! and copies of the best epoch's tensors for restoring them at the end (Keras'
//! `restore_best_weights`).

use super::Trainer;
use crate::backend::Backend;
use crate::error::Result;
use crate::nn::Sequential;
use crate::tensor::Tensor;

impl Trainer {
    /// The best-epoch copies kept for early stopping's restore, as (live, copy) pairs.
    pub fn best_snapshot(&self) -> &[(Tensor, Tensor)] {
        &self.best
    }

    /// Put back best-epoch copies (from a checkpoint) for the tensors in `live`.
    pub fn restore_snapshot(&mut self, b: &mut dyn Backend, live: &[Tensor], values: &[Vec<f32>]) -> Result<()> {
        self.best.clear();
        for (t, v) in live.iter().zip(values) {
            let copy = b.upload(t.rows, t.cols, v)?;
            self.best.push((*t, copy));
        }
        Ok(())
    }

    pub(super) fn early_stopping(&mut self, b: &mut dyn Backend, model: &Sequential, val_loss: f32) -> Result<()> {
        let Some(es) = self.config.early_stopping.clone() else { return Ok(()) };
        if val_loss < self.state.best_val_loss - es.min_delta {
            self.state.best_val_loss = val_loss;
            self.state.best_epoch = self.state.epoch + 1;
            self.state.wait = 0;
            if es.restore_best {
                if self.best.is_empty() {
                    for (_, t) in model.named_tensors() {
                        self.best.push((t, b.zeros(t.rows, t.cols)?));
                    }
                }
                for &(live, best) in &self.best {
                    b.copy(live, best)?;
                }
            }
        } else {
            self.state.wait += 1;
            self.state.stopped = self.state.wait >= es.patience;
        }
        Ok(())
    }
}
