//! Runs that can be continued: a checkpoint of the last complete epoch kept beside the output
//! (`NAME.resume/checkpoint.safetensors`, rewritten atomically at every epoch end, removed when
//! the run commits), and stopping on Ctrl-C or SIGTERM after the current step.
//!
//! Since the checkpoint is on disk at every epoch end, even `kill -9` leaves a run that
//! `wgtrain train --resume NAME.resume` continues; resumed runs are bit-identical to
//! uninterrupted ones on the same adapter (the loop's state is saved at epoch ends exactly).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use wgtrain::nn::Sequential;
use wgtrain::optim::Optimizer;
use wgtrain::train::{checkpoint, Callback, Trainer};
use wgtrain::Backend;

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
            let cause = super::output::os_cause(&e.into());
            anyhow::anyhow!("cannot save the epoch checkpoint {}: {cause}", self.checkpoint().display())
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

/// The checkpoint `--resume PATH` names: a file, or a directory holding `checkpoint.safetensors`
/// (a resume directory) or `model.safetensors` (a finished run, to train further).
pub fn checkpoint_in(path: &Path) -> Result<PathBuf> {
    if !path.is_dir() {
        return Ok(path.to_path_buf());
    }
    [CHECKPOINT, "model.safetensors"].iter().map(|f| path.join(f)).find(|p| p.is_file()).with_context(|| {
        format!("--resume {}: the directory holds neither {CHECKPOINT} nor model.safetensors", path.display())
    })
}

/// Ctrl-C and SIGTERM: the first asks the training loop to stop after its current step; a
/// second exits at once.
#[derive(Clone)]
pub struct Signals {
    count: Arc<AtomicUsize>,
}

impl Signals {
    /// Install the handler (once per process).
    pub fn install() -> Result<Self> {
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        ctrlc::set_handler(move || {
            if seen.fetch_add(1, Ordering::SeqCst) >= 1 {
                eprintln!("\nsecond interrupt: exiting now");
                std::process::exit(130);
            }
            eprintln!("\ninterrupt: finishing the current step (press Ctrl-C again to exit at once)");
        })
        .context("cannot install the Ctrl-C handler")?;
        Ok(Self { count })
    }
}

impl Callback for Signals {
    fn stop_requested(&self) -> bool {
        self.count.load(Ordering::SeqCst) > 0
    }
}
