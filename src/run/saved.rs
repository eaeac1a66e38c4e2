//! What a run stores in its checkpoint beside the tensors, and reading it back: the resolved
//! run config (so `eval`, `predict`, `prune` and `--resume` find the data and settings the
//! run used) and the input transform (so inputs are prepared exactly as training prepared
//! them, never refitted on the data at hand).

use std::collections::BTreeMap;
use std::path::Path;

use super::config::RunConfig;
use super::dataset::InputTransform;
use crate::error::{Context, Result};
use crate::fail;
use crate::train::checkpoint::Loaded;

/// The checkpoint metadata key of the resolved run config (TOML).
pub const RUN_CONFIG_KEY: &str = "run_config";
/// The checkpoint metadata key of the input transform (JSON).
pub const INPUT_TRANSFORM_KEY: &str = "input_transform";

/// The metadata a run writes into its checkpoints.
pub fn metadata(cfg: &RunConfig, transform: &InputTransform) -> Result<BTreeMap<String, String>> {
    Ok(BTreeMap::from([
        (RUN_CONFIG_KEY.to_string(), cfg.to_toml()),
        (INPUT_TRANSFORM_KEY.to_string(), serde_json::to_string(transform)?),
    ]))
}

impl RunConfig {
    /// The run config stored in a checkpoint by a run (or the defaults, for checkpoints
    /// written through the lower layers, when `dataset` names the data), with `dataset` and
    /// `data_dir` overriding what it names.
    pub fn from_checkpoint(loaded: &Loaded, dataset: Option<String>, data_dir: Option<String>) -> Result<Self> {
        let mut cfg = match loaded.meta.extra.get(RUN_CONFIG_KEY) {
            Some(text) => toml::from_str(text).context("the checkpoint's run config does not parse")?,
            None if dataset.is_some() => RunConfig::default(),
            None => {
                fail!("the checkpoint holds no run config (not written by a wgtrain run); name the dataset (--dataset)")
            }
        };
        if let Some(d) = dataset {
            cfg.dataset = d;
        }
        if let Some(d) = data_dir {
            cfg.data_dir = d;
        }
        Ok(cfg)
    }
}

impl InputTransform {
    /// The transform stored in a checkpoint; the identity for checkpoints that stored none.
    pub fn from_checkpoint(loaded: &Loaded) -> Result<Self> {
        match loaded.meta.extra.get(INPUT_TRANSFORM_KEY) {
            Some(t) => serde_json::from_str(t).context("the checkpoint's input transform does not parse"),
            None => Ok(InputTransform::identity()),
        }
    }
}

/// The checkpoint a resume path names: a file, or a directory holding a resume checkpoint
/// (`checkpoint.safetensors`, an interrupted run) or `model.safetensors` (a finished run, to
/// train further).
/// Where a run continued from `path` (as `--resume` names it) writes unless told otherwise:
/// the run the user pointed at, never the output stored in the checkpoint, which may name
/// another run by now (the directory was moved, or copied). `NAME.resume` (or the checkpoint
/// in it) continues `NAME`; a run directory (or its `model.safetensors`) continues itself.
/// None for a checkpoint file outside any run directory: the caller must be told where.
pub fn resumed_output(path: &Path) -> Option<std::path::PathBuf> {
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        let name = path.file_name()?.to_str()?;
        if name != super::resume::CHECKPOINT && name != "model.safetensors" {
            return None;
        }
        path.parent().filter(|p| !p.as_os_str().is_empty())?.to_path_buf()
    };
    match dir.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".resume")) {
        Some(run) if !run.is_empty() => Some(dir.with_file_name(run)),
        _ => Some(dir),
    }
}

pub fn checkpoint_in(path: &Path) -> Result<std::path::PathBuf> {
    if !path.is_dir() {
        return Ok(path.to_path_buf());
    }
    [super::resume::CHECKPOINT, "model.safetensors"].iter().map(|f| path.join(f)).find(|p| p.is_file()).with_context(
        || {
            format!(
                "--resume {}: the directory holds neither {} nor model.safetensors",
                path.display(),
                super::resume::CHECKPOINT
            )
        },
    )
}
