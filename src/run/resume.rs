//! Runs that can be continued: a checkpoint of the last complete epoch kept beside the output
//! (`NAME.resume/checkpoint.safetensors`, rewritten atomically at every epoch end, removed when
//! the run commits).
//!
//! Since the checkpoint is on disk at every epoch end, even `kill -9` leaves a run that
//! `wgtrain train --resume NAME.resume` continues; resumed runs are bit-identical to
//! uninterrupted ones on the same adapter (the loop's state is saved at epoch ends exactly).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result};
use crate::nn::Sequential;
use crate::optim::Optimizer;
use crate::train::{checkpoint, Trainer};
use crate::backend::Backend;

/// The file inside a resume directory.
pub const CHECKPOINT: &str = "checkpoint.safetensors";

/// Where the epoch-end checkpoints of a run writing to `target` live.
pub struct ResumeDir {
    pub dir: PathBuf,
}

impl ResumeDir {
    pub fn beside(target: &Path) -> Self {
        let name = target.file_name().map_or("output".into(), |n| n.to_string_lossy().into_owned());
        let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Self { dir: parent.join(format!("{name}.resume")) }
    }

    /// Save the loop as it stands (call at epoch ends only).
    pub fn save(
        &self,
        b: &mut dyn Backend,
        model: &Sequential,
        opt: &Optimizer,
        trainer: &Trainer,
        extra: BTreeMap<String, String>,
    ) -> Result<()> {
        std::fs::create_dir_all(&self.dir).with_context(|| format!("cannot create {}", self.dir.display()))?;
        checkpoint::save_with(&self.checkpoint(), b, model, Some(opt), Some(trainer), extra).map_err(|e| {
            Error::msg(format!("cannot save the epoch checkpoint {}: {}", self.checkpoint().display(), e.os_cause()))
        })
    }

    pub fn checkpoint(&self) -> PathBuf {
        self.dir.join(CHECKPOINT)
    }

    /// Remove the directory once the run's outputs are committed.
    pub fn remove(&self) {
        let _ = std::fs::remove_file(self.checkpoint());
        let _ = std::fs::remove_dir(&self.dir);
    }
}

