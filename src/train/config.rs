//! What a training loop is configured with (`TrainConfig`, `EarlyStopping`) and where it
//! stands (`TrainerState`, saved in checkpoints so a resumed run continues exactly).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStopping {
    /// Epochs without improvement of the validation loss before stopping.
    pub patience: usize,
    /// The improvement that counts.
    pub min_delta: f32,
    /// Put back the weights of the best epoch when training ends.
    pub restore_best: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    /// Seeds the shuffling (per epoch) and nothing else: weights and masks have their own.
    pub seed: u64,
    pub early_stopping: Option<EarlyStopping>,
    /// Batch size for evaluation and prediction.
    pub eval_batch_size: usize,
    /// Read the running loss and accuracy back after the first step and every this many steps
    /// for `Callback::on_progress` (0: only at the end of each epoch). Each read waits for the
    /// device.
    #[serde(default)]
    pub log_every: usize,
    /// Record in the history, each epoch, the fraction of weights with |w| below this (reads
    /// the weights back once per epoch); `None` records nothing.
    #[serde(default)]
    pub sparsity_threshold: Option<f32>,
    /// In a data-parallel run, batch norm takes its statistics over the whole global batch
    /// (moments summed across the replicas inside forward and backward: PyTorch's
    /// SyncBatchNorm) instead of each replica's slice. No effect in a run of one.
    #[serde(default)]
    pub sync_batch_norm: bool,
    /// Write every weight gradient to its parameter's `grad` in each step, for code that reads
    /// them after `Trainer::step`. Off, a step of at most `DEFERRABLE_ROWS` rows leaves the
    /// large weight matrices' gradients as their factors and the update forms them where it
    /// uses them (`Sequential::backward_deferring`): their `grad` then holds an older step's.
    /// Steps that clip by the gradients' norm write them always.
    #[serde(default)]
    pub keep_gradients: bool,
}

impl TrainConfig {
    /// Reject settings no run can use, naming the value and the fix.
    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 {
            return Err(Error::config("batch size", "0; it must be at least 1"));
        }
        if self.eval_batch_size == 0 {
            return Err(Error::config("evaluation batch size", "0; it must be at least 1"));
        }
        if self.epochs > crate::limits::MAX_EPOCHS {
            return Err(Error::config(
                "epochs",
                format!(
                    "{}; at most {} (a mistyped count would run for years; split longer training into resumed runs)",
                    self.epochs,
                    crate::limits::MAX_EPOCHS
                ),
            ));
        }
        Ok(())
    }

    /// Check the batch size against a training set of `rows` samples.
    pub fn check_rows(&self, rows: usize) -> Result<()> {
        if self.batch_size > rows {
            return Err(Error::config(
                "batch size",
                format!("{} is larger than the {rows} training samples; use at most {rows}", self.batch_size),
            ));
        }
        Ok(())
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 32,
            seed: 42,
            early_stopping: None,
            eval_batch_size: crate::infer::DEFAULT_BATCH,
            log_every: 0,
            sparsity_threshold: None,
            sync_batch_norm: false,
            keep_gradients: false,
        }
    }
}

/// Where the loop is: saved in checkpoints so a resumed run continues exactly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    // "No best yet" is f32::MAX, not infinity: JSON (checkpoint metadata) has no infinity.
    /// Epochs completed.
    pub epoch: usize,
    /// Training steps completed (the Philox step counter).
    pub step: u32,
    pub best_val_loss: f32,
    pub best_epoch: usize,
    pub wait: usize,
    pub stopped: bool,
    /// The training or validation loss became NaN or infinite; training stopped at that epoch.
    #[serde(default)]
    pub diverged: bool,
}

impl Default for TrainerState {
    fn default() -> Self {
        Self { epoch: 0, step: 0, best_val_loss: f32::MAX, best_epoch: 0, wait: 0, stopped: false, diverged: false }
    }
}
